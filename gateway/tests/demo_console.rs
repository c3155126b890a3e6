//! `aisle demo`'s console, from the binary's own output: zone events a line
//! each, and the zones' occupancy on a line of its own when it changes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The most the test waits for a crowded zone. The simulated store starts
/// busy and visits are confirmed within seconds, so a count comes one or
/// two rounds (5 s each) in; the rest is slack for a loaded machine.
const WAIT: Duration = Duration::from_secs(90);

/// The counts of an occupancy line, `zone known/anonymous` each.
fn counts(line: &str) -> Vec<(String, u32, u32)> {
    let rest = line.split_once("  occupancy  ").unwrap().1;
    let rest = rest.split("  (").next().unwrap();
    if rest == "every zone empty" {
        return Vec::new();
    }
    rest.split("  ")
        .map(|zone| {
            let (name, figures) = zone.split_once(' ').unwrap();
            let (known, anonymous) = figures.split_once('/').unwrap();
            (
                name.to_owned(),
                known.parse().unwrap(),
                anonymous.parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_demo_prints_occupancy_when_it_changes_beside_the_events() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(["demo", "--direct", "--shoppers", "40", "--seed", "7"])
        .args(["--opted-in", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("aisle demo starts");
    let stdout = demo.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let started = Instant::now();
    let (mut occupancy, mut events, mut legend) = (Vec::new(), 0, false);
    while started.elapsed() < WAIT {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        if line.starts_with("Occupancy as known/anonymous") {
            legend = true;
        } else if line.contains("  occupancy  ") {
            occupancy.push(line);
        } else if line.contains("  enter  ") || line.contains("  exit   ") {
            events += 1;
        }
        let crowded = occupancy
            .iter()
            .filter(|l| counts(l).iter().any(|&(_, k, a)| k + a > 0))
            .count();
        if crowded >= 2 && events >= 1 {
            break;
        }
    }
    // Stopped as Ctrl-C would: it shuts down cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = demo.wait().unwrap();
    reader.join().unwrap();

    println!(
        "{events} events; occupancy lines:\n{}",
        occupancy.join("\n")
    );
    assert!(legend, "the legend is printed");
    assert!(events >= 1, "zone events are still printed a line each");
    assert!(occupancy.len() >= 3, "{occupancy:?}");
    // The first round is shown as it is (the store opens empty).
    assert!(counts(&occupancy[0]).is_empty(), "{}", occupancy[0]);
    // A line only when a count moved: no two in a row are the same.
    for pair in occupancy.windows(2) {
        assert_ne!(counts(&pair[0]), counts(&pair[1]), "{pair:?}");
    }
    let zones: Vec<String> = aisle_gateway::sim::store::demo_layout()
        .zones
        .iter()
        .map(|z| z.id.clone())
        .collect();
    for line in &occupancy {
        for (zone, _, _) in counts(line) {
            assert!(zones.contains(&zone), "{zone} in {line}");
        }
    }
    assert!(status.success(), "{status:?}");
}
