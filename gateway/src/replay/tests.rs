use super::*;

const LAYOUT: &str = r#"
[store]
id = "s1"
timezone = "UTC"
[[anchor]]
id = "a"
x = 0.0
y = 0.0
[[anchor]]
id = "b"
x = 8.0
y = 0.0
[[anchor]]
id = "c"
x = 4.0
y = 6.0
[[zone]]
id = "left"
polygon = [[0.0, 0.0], [4.0, 0.0], [4.0, 6.0], [0.0, 6.0]]
[[zone]]
id = "right"
polygon = [[4.0, 0.0], [8.0, 0.0], [8.0, 6.0], [4.0, 6.0]]
"#;

fn replayer() -> Replayer {
    let layout = Layout::parse(LAYOUT, "test").unwrap();
    Replayer::new(&layout, ReplayConfig::default(), &[], EventIds::new(3)).unwrap()
}

fn line(ts: f64, anchor: &str, rssi: i32) -> String {
    format!(r#"{{"ts": {ts}, "anchor": "{anchor}", "device": "p1", "rssi": {rssi}}}"#)
}

/// A phone standing near anchor `a` for `seconds`, heard by all three at 5 Hz.
fn stand(r: &mut Replayer, from: f64, seconds: u32) -> Vec<Payload> {
    let mut out = Vec::new();
    for i in 0..seconds * 5 {
        let ts = from + f64::from(i) * 0.2;
        for (anchor, rssi) in [("a", -55), ("b", -75), ("c", -72)] {
            r.line(&line(ts, anchor, rssi)).unwrap();
        }
        out.extend(r.drain());
    }
    out
}

#[test]
fn a_visit_enters_dwells_and_exits_after_the_input_ends() {
    let mut r = replayer();
    let mut out = stand(&mut r, 1000.7, 30);
    r.finish();
    out.extend(r.drain());
    let kinds: Vec<_> = out
        .iter()
        .filter_map(|p| match p {
            Payload::Zone(e) => Some((e.zone.as_str(), e.kind)),
            Payload::Position(_) => None,
        })
        .collect();
    assert_eq!(kinds.first().map(|k| k.0), Some("left"), "{kinds:?}");
    assert!(
        matches!(
            kinds.last(),
            Some((_, aisle_protocol::event::ZoneEventKind::Exit { .. }))
        ),
        "{kinds:?}"
    );
    // Every second from 1000 to 1030 has a position; the first fix, at
    // 1001.2, is backfilled into second 1000.
    let seconds: std::collections::BTreeSet<i64> = out
        .iter()
        .filter_map(|p| match p {
            #[allow(clippy::cast_possible_truncation)]
            Payload::Position(p) => Some(p.ts.floor() as i64),
            Payload::Zone(_) => None,
        })
        .collect();
    assert_eq!(seconds, (1000..=1030).collect());
    assert_eq!(r.counts().uncovered_seconds, 0);
    assert!(r.counts().backfilled >= 1, "{:?}", r.counts());
    // Ids count up under the run id.
    let ids: Vec<u128> = out
        .iter()
        .map(|p| match p {
            Payload::Position(p) => p.id.as_u128(),
            Payload::Zone(e) => e.id.as_u128(),
        })
        .collect();
    assert!(
        ids.iter()
            .enumerate()
            .all(|(i, &id)| id == (3 << 64) + i as u128)
    );
}

#[test]
fn skips_say_why() {
    let mut r = replayer();
    stand(&mut r, 1000.0, 3);
    assert!(matches!(
        r.line("{nope"),
        Err(Skip::Line(LineError::Json(_)))
    ));
    assert_eq!(
        r.line(&line(1003.0, "zz", -60)),
        Err(Skip::UnknownAnchor("zz".into()))
    );
    assert!(matches!(
        r.line(&line(1000.5, "a", -60)),
        Err(Skip::OutOfOrder { .. })
    ));
    // Within the tolerance: used.
    r.line(&line(1002.5, "a", -60)).unwrap();
    let adv = r#"{"ts": 1003.0, "anchor": "a", "adv": "zz", "rssi": -60}"#;
    assert!(matches!(r.line(adv), Err(Skip::Advert(_))));
    let apple =
        r#"{"ts": 1003.0, "anchor": "a", "adv": "02011a0aff4c001005010203040a", "rssi": -60}"#;
    let skip = r.line(apple).unwrap_err();
    assert!(!skip.is_problem(), "{skip:?}");
    assert_eq!(r.devices(), 1);
}

#[test]
fn one_damaged_timestamp_costs_its_own_line_and_a_real_gap_is_taken_once_confirmed() {
    let mut r = replayer();
    stand(&mut r, 1000.0, 3);
    // A line from the year 2100 among ordinary ones.
    let damaged = r.line(&line(4_102_444_800.0, "a", -60)).unwrap_err();
    assert!(matches!(damaged, Skip::TimeJump { .. }), "{damaged:?}");
    assert_eq!(damaged.reason(), "time jump");
    // The lines after it are not out of order: the clock did not move.
    stand(&mut r, 1003.0, 2);

    // The store shut for the night: the first lines after the gap wait for
    // the ones after them, then the clock moves on.
    let morning = 1000.0 + 12.0 * 3600.0;
    for i in 0..JUMP_CONFIRM_LINES - 1 {
        let skip = r
            .line(&line(morning + f64::from(i) * 0.2, "a", -60))
            .unwrap_err();
        assert!(matches!(skip, Skip::TimeJump { .. }), "{skip:?}");
    }
    stand(&mut r, morning + 1.0, 2);
    assert!(matches!(
        r.line(&line(1010.0, "a", -60)),
        Err(Skip::OutOfOrder { .. })
    ));
}
