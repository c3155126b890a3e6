//! `aisle simulate` as a developer runs it to make recordings.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use aisle_gateway::layout::Layout;
use aisle_gateway::record::RecordedSighting;

fn aisle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
}

#[test]
fn writes_sightings_and_truth_that_cover_every_shopper_each_second() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sightings.jsonl");
    let truth = dir.path().join("truth.jsonl");
    let run = aisle()
        .args([
            "simulate",
            "--shoppers",
            "6",
            "--minutes",
            "3",
            "--seed",
            "11",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // Quiet in scripts: no progress bar, only the summary line.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("simulated 180 s: 6 shoppers, "),
        "{stderr}"
    );

    let text = std::fs::read_to_string(&out).unwrap();
    let mut heard: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut last_ts = 0.0;
    for line in text.lines() {
        let s = RecordedSighting::parse(line).unwrap();
        assert!(s.x.is_none() && s.adv.is_none());
        assert!(s.ts >= last_ts);
        last_ts = s.ts;
        #[allow(clippy::cast_possible_truncation)]
        heard
            .entry(s.device.unwrap())
            .or_default()
            .insert(s.ts.floor() as i64);
    }
    assert_eq!(heard.len(), 6, "{:?}", heard.keys());

    let mut seconds: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in std::fs::read_to_string(&truth).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let device = v["device"].as_str().unwrap().to_owned();
        assert!(v["x"].is_f64() && v["y"].is_f64(), "{line}");
        assert!(v["zone"].is_string() || v["zone"].is_null(), "{line}");
        let ts = v["ts"].as_f64().unwrap();
        assert!(
            (ts - ts.round()).abs() < 1e-9,
            "truth lands on whole seconds: {line}"
        );
        #[allow(clippy::cast_possible_truncation)]
        seconds.entry(device).or_default().push(ts as i64);
    }
    assert_eq!(
        seconds.keys().collect::<Vec<_>>(),
        heard.keys().collect::<Vec<_>>()
    );
    for (device, secs) in &seconds {
        // Every second from the first to the last, none missing.
        let want: Vec<i64> = (secs[0]..=secs[secs.len() - 1]).collect();
        assert_eq!(secs, &want, "{device}");
        // The phone is heard in (nearly) every second it is in the store.
        let heard_in = secs.iter().filter(|s| heard[device].contains(s)).count();
        assert!(
            heard_in + 2 >= secs.len(),
            "{device}: {heard_in} of {}",
            secs.len()
        );
    }
}

#[test]
fn the_same_seed_writes_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        let run = aisle()
            .args([
                "simulate",
                "--shoppers",
                "4",
                "--minutes",
                "1",
                "--seed",
                seed,
            ])
            .arg("--out")
            .arg(&path)
            .output()
            .unwrap();
        assert!(run.status.success());
        std::fs::read_to_string(path).unwrap()
    };
    let a = write("a.jsonl", "3");
    assert!(a.lines().count() > 100);
    assert_eq!(a, write("b.jsonl", "3"));
    assert_ne!(a, write("c.jsonl", "4"));
}

#[test]
fn prints_the_demo_layout_and_reads_it_back() {
    let run = aisle()
        .args(["simulate", "--print-layout"])
        .output()
        .unwrap();
    assert!(run.status.success());
    let text = String::from_utf8(run.stdout).unwrap();
    let layout = Layout::parse(&text, "stdout").unwrap();
    assert!(layout.zone("meat-counter").is_some());
    assert!(layout.zone("checkout").is_some());

    // And a layout file drives a run of its own (walked as open floor).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.toml");
    std::fs::write(&path, &text).unwrap();
    let run = aisle()
        .args([
            "simulate",
            "--shoppers",
            "2",
            "--minutes",
            "1",
            "--out",
            "-",
        ])
        .arg("--layout")
        .arg(&path)
        .output()
        .unwrap();
    assert!(run.status.success());
    let lines = String::from_utf8(run.stdout).unwrap();
    assert!(lines.lines().all(|l| RecordedSighting::parse(l).is_ok()));
}

#[test]
fn bad_settings_name_themselves() {
    let run = aisle()
        .args(["simulate", "--minutes", "0", "--out", "-"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("aisle simulate: minutes"), "{stderr}");
    let run = aisle().args(["simulate"]).output().unwrap();
    assert!(!run.status.success(), "--out is required");
}

#[test]
fn writes_gzip_that_recordings_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("s.jsonl.gz");
    let plain = dir.path().join("s.jsonl");
    for path in [&gz, &plain] {
        let run = aisle()
            .args([
                "simulate",
                "--shoppers",
                "3",
                "--minutes",
                "1",
                "--seed",
                "5",
            ])
            .arg("--out")
            .arg(path)
            .output()
            .unwrap();
        assert!(run.status.success());
    }
    let mut n = 0;
    let skipped =
        aisle_gateway::record::read_all(aisle_gateway::record::open(&gz).unwrap(), |_| n += 1)
            .unwrap();
    assert!(skipped.is_empty());
    assert_eq!(n, std::fs::read_to_string(&plain).unwrap().lines().count());
    assert!(std::fs::metadata(&gz).unwrap().len() < std::fs::metadata(&plain).unwrap().len() / 4);
}

#[test]
fn the_demo_store_printed_and_read_back_simulates_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let print = |flag: &str, name: &str| {
        let run = aisle().args(["simulate", flag]).output().unwrap();
        assert!(run.status.success());
        let path = dir.path().join(name);
        std::fs::write(&path, run.stdout).unwrap();
        path
    };
    let layout = print("--print-layout", "store.toml");
    let floor = print("--print-floor", "floor.toml");
    let simulate = |extra: &[&std::path::Path]| {
        let mut cmd = aisle();
        cmd.args([
            "simulate",
            "--shoppers",
            "3",
            "--minutes",
            "1",
            "--out",
            "-",
        ]);
        if let [layout, floor] = extra {
            cmd.arg("--layout").arg(layout).arg("--floor").arg(floor);
        }
        let run = cmd.output().unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        run.stdout
    };
    let default = simulate(&[]);
    assert!(!default.is_empty());
    assert!(default == simulate(&[&layout, &floor]));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "entrance = [2.0, 0.4]\ncheckout = \"tills\"\n").unwrap();
    let run = aisle()
        .args(["simulate", "--out", "-", "--floor"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("bad.toml: checkout: the layout has no zone"),
        "{stderr}"
    );
}
