//! `aisle replay` on simulated recordings: what it writes, that it repeats
//! itself byte for byte, that every heard second has a position, and how it
//! treats lines it cannot use.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aisle_gateway::record::RecordedSighting;
use aisle_protocol::event::{Position, ZoneEvent, ZoneEventKind};

fn aisle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
}

fn ok(run: &Output) -> String {
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    stderr
}

/// The demo store's layout and a few minutes of a few shoppers in it.
fn simulate(dir: &Path, shoppers: u32, minutes: u32) -> (PathBuf, PathBuf) {
    let layout = dir.join("demo.toml");
    let run = aisle()
        .args(["simulate", "--print-layout"])
        .output()
        .unwrap();
    ok(&run);
    std::fs::write(&layout, &run.stdout).unwrap();
    let sightings = dir.join("sightings.jsonl");
    let run = aisle()
        .args(["simulate", "--seed", "5", "--shoppers"])
        .arg(shoppers.to_string())
        .arg("--minutes")
        .arg(minutes.to_string())
        .arg("--out")
        .arg(&sightings)
        .output()
        .unwrap();
    ok(&run);
    (layout, sightings)
}

struct Replayed {
    run: Output,
    positions: String,
    events: String,
}

fn replay(layout: &Path, input: &Path, out_dir: &Path) -> Replayed {
    std::fs::create_dir_all(out_dir).unwrap();
    let (p, e) = (
        out_dir.join("positions.jsonl"),
        out_dir.join("events.jsonl"),
    );
    let run = aisle()
        .arg("replay")
        .arg("--layout")
        .arg(layout)
        .arg("--input")
        .arg(input)
        .arg("--positions-out")
        .arg(&p)
        .arg("--events-out")
        .arg(&e)
        .output()
        .unwrap();
    Replayed {
        positions: std::fs::read_to_string(&p).unwrap_or_default(),
        events: std::fs::read_to_string(&e).unwrap_or_default(),
        run,
    }
}

#[allow(clippy::cast_possible_truncation)] // Unix seconds
fn second(ts: f64) -> i64 {
    ts.floor() as i64
}

#[test]
fn writes_payloads_repeatably_covering_every_heard_second() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, input) = simulate(dir.path(), 5, 3);
    let first = replay(&layout, &input, &dir.path().join("a"));
    let stderr = ok(&first.run);
    // Quiet in scripts: the summary line only.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("replayed "), "{stderr}");
    assert!(stderr.contains(" 0 skipped;"), "{stderr}");
    assert!(stderr.contains("lines/s"), "{stderr}");

    // Every line is a published payload.
    let positions: Vec<Position> = first
        .positions
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<ZoneEvent> = first
        .events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(positions.len() > 500, "{}", positions.len());
    assert!(
        events.iter().any(|e| e.kind == ZoneEventKind::Enter),
        "{events:?}"
    );
    // Every visit entered is exited by the end of the replay.
    let mut open: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for e in &events {
        let n = open.entry((&e.device, &e.zone)).or_default();
        match e.kind {
            ZoneEventKind::Enter => *n += 1,
            ZoneEventKind::Exit { .. } => *n -= 1,
            ZoneEventKind::Dwell { .. } => assert_eq!(*n, 1, "{e:?}"),
        }
    }
    assert!(open.values().all(|&n| n == 0), "{open:?}");
    // Ids are never reused.
    let ids: BTreeSet<_> = positions
        .iter()
        .map(|p| p.id)
        .chain(events.iter().map(|e| e.id))
        .collect();
    assert_eq!(ids.len(), positions.len() + events.len());

    // At least one position per device for each second it was heard.
    let mut heard = BTreeSet::new();
    for line in std::fs::read_to_string(&input).unwrap().lines() {
        let s = RecordedSighting::parse(line).unwrap();
        heard.insert((s.device.unwrap(), second(s.ts)));
    }
    let placed: BTreeSet<_> = positions
        .iter()
        .map(|p| (p.device.clone(), second(p.ts)))
        .collect();
    let missing: Vec<_> = heard.difference(&placed).collect();
    assert!(missing.is_empty(), "{} missing: {missing:?}", missing.len());

    // Byte-identical a second time, into other files, and through gzip.
    let second_run = replay(&layout, &input, &dir.path().join("b"));
    ok(&second_run.run);
    assert!(first.positions == second_run.positions, "positions differ");
    assert!(first.events == second_run.events, "events differ");
    let gz = dir.path().join("sightings.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::Write::write_all(&mut encoder, &std::fs::read(&input).unwrap()).unwrap();
    encoder.finish().unwrap();
    let zipped = replay(&layout, &gz, &dir.path().join("c"));
    ok(&zipped.run);
    assert!(
        first.positions == zipped.positions,
        "positions differ via gzip"
    );
}

#[test]
fn bad_lines_are_named_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, input) = simulate(dir.path(), 2, 1);
    let good: Vec<String> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let sample = RecordedSighting::parse(&good[0]).unwrap();
    let at = |anchor: &str, rssi: &str| {
        format!(
            r#"{{"ts": {}, "anchor": "{anchor}", "device": "shopper-0000", "rssi": {rssi}}}"#,
            sample.ts
        )
    };
    let bad = [
        "this is not json".to_owned(),
        at(&sample.anchor, "NaN"),
        at(&sample.anchor, "-300"),
        at("no-such-anchor", "-60"),
        r#"{"ts": 1, "anchor": "x"}"#.to_owned(),
    ];
    // The bad lines land at lines 3, 5, 7, 9 and 11, with a blank line too.
    let mut lines: Vec<String> = Vec::new();
    let mut expected = Vec::new();
    for (i, g) in good.iter().enumerate() {
        lines.push(g.clone());
        if i < bad.len() {
            lines.push(bad[i].clone());
            expected.push(lines.len());
        }
    }
    lines.insert(20, String::new());
    // The first sighting again at the end: long past the reorder tolerance.
    lines.push(good[0].clone());
    let late = lines.len();
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n")).unwrap();

    let r = replay(&layout, &mixed, &dir.path().join("out"));
    let stderr = ok(&r.run);
    for n in expected {
        let tag = format!("mixed.jsonl:{n}: skipped: ");
        assert!(stderr.contains(&tag), "{tag} not in {stderr}");
    }
    assert!(
        stderr.contains(&format!("mixed.jsonl:{late}: skipped: ts ")),
        "{stderr}"
    );
    assert!(stderr.contains("1 out of order"), "{stderr}");
    assert!(stderr.contains("unknown anchor"), "{stderr}");
    assert!(stderr.contains("bad rssi"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "replayed {} lines: {} sightings used, 6 skipped (",
            good.len() + 6,
            good.len()
        )),
        "{stderr}"
    );
    assert!(r.positions.lines().count() > 10);
}

#[test]
fn many_bad_lines_are_capped_and_all_bad_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _) = simulate(dir.path(), 1, 1);
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\n".repeat(50)).unwrap();
    let r = replay(&layout, &junk, &dir.path().join("out"));
    let stderr = String::from_utf8_lossy(&r.run.stderr);
    assert!(!r.run.status.success(), "{stderr}");
    assert_eq!(stderr.matches("skipped: ").count(), 20, "{stderr}");
    assert!(
        stderr.contains("30 more problem lines not shown"),
        "{stderr}"
    );
    assert!(stderr.contains("50 malformed"), "{stderr}");

    // An empty recording is no failure; a missing one is.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    ok(&replay(&layout, &empty, &dir.path().join("out")).run);
    let missing = replay(
        &layout,
        &dir.path().join("nope.jsonl"),
        &dir.path().join("out"),
    );
    assert!(!missing.run.status.success());
}

#[test]
fn calibrates_the_reference_room() {
    let room = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/reference-room");
    let (layout, input) = (room.join("layout.toml"), room.join("calibration.jsonl.gz"));
    if !input.exists() || !layout.exists() {
        eprintln!(
            "skipped: {} is absent (the shared data sits beside the checkout in CI)",
            room.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("calibrated.toml");
    let run = aisle()
        .arg("calibrate")
        .arg("--layout")
        .arg(&layout)
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = ok(&run);
    assert!(stderr.contains("0 without x/y"), "{stderr}");
    assert!(stderr.contains("12 of 12 anchors fitted"), "{stderr}");
    let report = String::from_utf8_lossy(&run.stdout);
    assert_eq!(report.lines().count(), 13, "{report}");
    let calibrated = aisle_gateway::layout::Layout::load(&out).unwrap();
    assert_eq!(calibrated.anchors.len(), 12);
    for a in &calibrated.anchors {
        let (p0, n) = (a.rssi_at_1m.unwrap(), a.path_loss_exponent.unwrap());
        assert!((-90.0..-30.0).contains(&p0), "{}: p0 {p0}", a.id);
        assert!((1.0..=6.0).contains(&n), "{}: n {n}", a.id);
        assert!(report.contains(&a.id), "{report}");
    }
    // The shadowing map goes with the layout: 81 points for each of 12 anchors.
    let map = calibrated.shadowing.as_ref().expect("a shadowing map");
    assert_eq!(map.samples.len(), 81 * 12);
    // The kernel calibration chose is the one written and the one reported.
    let kernel = format!(
        "kernel {:.2} m across rays from the anchor and {:.2} m along them",
        map.bandwidth_m, map.along_ray_m
    );
    assert!(stderr.contains(&kernel), "{stderr}");
    assert!(map.along_ray_m > map.bandwidth_m, "{kernel}");
    assert!(
        calibrated
            .anchors
            .iter()
            .all(|a| map.samples.iter().any(|s| s.anchor == a.id))
    );
    // The engine takes the calibrated layout, map and all.
    let engine = aisle_gateway::engine::Engine::new(
        &calibrated,
        aisle_gateway::engine::EngineConfig::default(),
    );
    assert!(engine.is_ok());
}

#[test]
fn calibrate_counts_lines_without_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, input) = simulate(dir.path(), 1, 1);
    let out = dir.path().join("calibrated.toml");
    let run = aisle()
        .arg("calibrate")
        .arg("--layout")
        .arg(&layout)
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    // Simulated sightings carry no x/y: nothing to fit, and it says why.
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    let lines = std::fs::read_to_string(&input).unwrap().lines().count();
    assert!(stderr.contains(&format!("{lines} without x/y")), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn advertisements_are_identified_on_the_recording_clock() {
    use aisle_gateway::sim::phones::Phones;
    use aisle_protocol::eid::RotationExponent;

    let dir = tempfile::tempdir().unwrap();
    let (layout, input) = simulate(dir.path(), 6, 2);
    // Half the shoppers use the store's app; the recording carries what
    // their phones advertise, not their names. EIDs rotate every 1024 s, so
    // the run crosses no rotation but the identifier is built for time 0.
    let phones = Phones::new(9, 0.5, RotationExponent::new(10).unwrap());
    let text = std::fs::read_to_string(&input).unwrap();
    let sightings: Vec<RecordedSighting> = text
        .lines()
        .map(|l| RecordedSighting::parse(l).unwrap())
        .collect();
    let names: BTreeSet<String> = sightings.iter().filter_map(|s| s.device.clone()).collect();
    let enrolled = phones.enrolment(names.iter().map(String::as_str));
    assert!(!enrolled.is_empty() && enrolled.len() < names.len());
    let mut shoppers = String::new();
    for e in &enrolled {
        writeln!(
            shoppers,
            "[[shopper]]\nid = \"{}\"\nidentity_key = \"{}\"",
            e.id, e.identity_key
        )
        .unwrap();
    }
    let shoppers_path = dir.path().join("shoppers.toml");
    std::fs::write(&shoppers_path, shoppers).unwrap();
    let mut anonymous = 0;
    let mut adverts = String::new();
    for mut s in sightings {
        let device = s.device.take().unwrap();
        if !phones.opted_in(&device) {
            anonymous += 1;
        }
        s.adv = Some(hex::encode(phones.advert(&device, s.ts)));
        adverts += &serde_json::to_string(&s).unwrap();
        adverts.push('\n');
    }
    let adv_input = dir.path().join("adverts.jsonl");
    std::fs::write(&adv_input, adverts).unwrap();

    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let run = aisle()
        .arg("replay")
        .arg("--layout")
        .arg(&layout)
        .arg("--input")
        .arg(&adv_input)
        .arg("--shoppers")
        .arg(&shoppers_path)
        .arg("--positions-out")
        .arg(out.join("p.jsonl"))
        .arg("--events-out")
        .arg(out.join("e.jsonl"))
        .output()
        .unwrap();
    let stderr = ok(&run);
    // Anonymous advertisements are counted, never named line by line.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("({anonymous} anonymous)")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("; {} device tracks, ", enrolled.len())),
        "{stderr}"
    );
    let placed: BTreeSet<String> = std::fs::read_to_string(out.join("p.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Position>(l).unwrap().device)
        .collect();
    let opted: BTreeSet<String> = enrolled.into_iter().map(|e| e.id).collect();
    assert_eq!(placed, opted);
}

#[test]
fn takes_engine_and_identify_settings_from_the_gateway_config() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, input) = simulate(dir.path(), 2, 1);
    let run_with = |config: &str| {
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, config).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        aisle()
            .arg("replay")
            .arg("--layout")
            .arg(&layout)
            .arg("--input")
            .arg(&input)
            .arg("--config")
            .arg(&path)
            .arg("--positions-out")
            .arg(out.join("p.jsonl"))
            .arg("--events-out")
            .arg(out.join("e.jsonl"))
            .output()
            .unwrap()
    };
    // The gateway's own default file: its other tables are ignored.
    ok(&run_with(&aisle_gateway::config::default_toml()));
    let run = run_with("[engine]\nlocate_interval_s = -1.0\n");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("locate_interval_s"), "{stderr}");
}
