//! Engine-level tests: the stages wired together.
#![allow(clippy::float_cmp)] // values set exactly, compared exactly

use super::*;
use crate::layout::Zone;
use PresenceKind::{Dwell, Enter, Exit};
use locate::{LocateConfig, RadioModel};
use presence::PresenceConfig;

/// A 12 x 10 m room, five anchors (the locator tests' room), two zones
/// split at x = 6.
fn room() -> Layout {
    let zone = |id: &str, x0: f64, x1: f64| Zone {
        id: id.into(),
        name: None,
        polygon: vec![[x0, 0.0], [x1, 0.0], [x1, 10.0], [x0, 10.0]],
    };
    Layout {
        zones: vec![zone("left", 0.0, 6.0), zone("right", 6.0, 12.0)],
        ..locate::tests::square_room()
    }
}

/// Feeds sightings of `device` standing at `at(t)` from `t0` to `t1`, each
/// anchor every 0.2 s, exactly on the model.
fn walk(
    engine: &mut Engine,
    layout: &Layout,
    device: DeviceId,
    (t0, t1): (f64, f64),
    at: impl Fn(f64) -> Point,
    out: &mut Vec<Output>,
) {
    let models: Vec<_> = layout
        .anchors
        .iter()
        .map(|a| RadioModel::of(a, &LocateConfig::default()))
        .collect();
    let mut t = t0;
    while t < t1 {
        for (i, m) in models.iter().enumerate() {
            let rssi = m.expected_rssi(at(t)).round();
            let anchor = AnchorIdx(u16::try_from(i).unwrap());
            engine.observe(t, anchor, device, rssi, out).unwrap();
        }
        t += 0.2;
    }
}

fn presence(out: &[Output]) -> Vec<(PresenceKind, u16)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Presence(e) => Some((e.kind, e.zone.0)),
            Output::Position(_) => None,
        })
        .collect()
}

#[test]
fn a_shopper_walks_from_one_zone_to_the_other_and_leaves() {
    let layout = room();
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let mut out = Vec::new();
    let d = DeviceId(3);
    walk(
        &mut engine,
        &layout,
        d,
        (100.0, 115.0),
        |_| Point::new(3.0, 5.0),
        &mut out,
    );
    let last = out.iter().rev().find_map(|o| match o {
        Output::Position(p) => Some(*p),
        Output::Presence(_) => None,
    });
    let last = last.unwrap();
    assert!(
        Point::new(last.x, last.y).distance(Point::new(3.0, 5.0)) < 0.5,
        "{last:?}"
    );
    assert_eq!(last.zone, Some(ZoneIdx(0)));
    assert!(last.confidence > 0.5, "{last:?}");
    walk(
        &mut engine,
        &layout,
        d,
        (115.0, 130.0),
        |_| Point::new(9.0, 5.0),
        &mut out,
    );
    assert_eq!(
        presence(&out),
        [(Enter, 0), (Dwell, 0), (Exit, 0), (Enter, 1)]
    );
    out.clear();
    engine.tick(135.0, &mut out);
    assert!(presence(&out).iter().all(|&(k, _)| k == Dwell), "{out:?}");
    engine.tick(f64::NAN, &mut out);
    engine.tick(138.5, &mut out);
    assert_eq!(presence(&out).last(), Some(&(Exit, 1)));
    assert_eq!(engine.tracked(), 1);
    // Back a minute later on the other side: a fresh visit, and the first
    // position is already near the device, not at the first anchor heard.
    out.clear();
    walk(
        &mut engine,
        &layout,
        d,
        (200.0, 210.0),
        |_| Point::new(3.0, 5.0),
        &mut out,
    );
    let Some(Output::Position(first)) = out.first() else {
        panic!("{out:?}")
    };
    assert!(
        Point::new(first.x, first.y).distance(Point::new(3.0, 5.0)) < 1.0,
        "{first:?}"
    );
    assert_eq!(presence(&out), [(Enter, 0)]);
    engine.tick(400.0, &mut out);
    assert_eq!(engine.tracked(), 0);
}

#[test]
fn bad_sightings_are_errors_and_counted() {
    let layout = room();
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let mut out = Vec::new();
    let d = DeviceId(0);
    assert_eq!(
        engine.observe(1.0, AnchorIdx(5), d, -60.0, &mut out),
        Err(ObserveError::UnknownAnchor(AnchorIdx(5)))
    );
    assert_eq!(
        engine.observe_named(1.0, "roof", d, -60.0, &mut out),
        Err(ObserveError::UnknownAnchorId)
    );
    assert!(matches!(
        engine.observe(1.0, AnchorIdx(0), d, f64::NAN, &mut out),
        Err(ObserveError::Rssi(r)) if r.is_nan()
    ));
    assert_eq!(
        engine.observe(1.0, AnchorIdx(0), d, 127.0, &mut out),
        Err(ObserveError::Rssi(127.0))
    );
    assert_eq!(
        engine.observe(f64::INFINITY, AnchorIdx(0), d, -60.0, &mut out),
        Err(ObserveError::Time(f64::INFINITY))
    );
    let huge = DeviceId(u32::MAX);
    assert_eq!(
        engine.observe(1.0, AnchorIdx(0), huge, -60.0, &mut out),
        Err(ObserveError::DeviceId(huge))
    );
    assert!(engine.mark_anonymous(huge).is_err());
    assert!(engine.observe_named(1.0, "mid", d, -60.0, &mut out).is_ok());
    let c = engine.counters();
    assert_eq!(
        (c.unknown_anchor, c.bad_rssi, c.bad_time, c.sightings),
        (2, 2, 1, 1)
    );
}

#[test]
fn bad_config_names_its_key() {
    let mut config = EngineConfig::default();
    config.presence.absence_s = f64::NAN;
    let e = Engine::new(&room(), config).unwrap_err();
    assert_eq!(
        e.to_string(),
        "engine config: presence.absence_s: must be a finite number above 0"
    );
    for weaker in [0.0, 1.5, f64::NAN] {
        let mut config = EngineConfig::default();
        config.locate.weaker_weight = weaker;
        let e = Engine::new(&room(), config).unwrap_err();
        assert_eq!(
            e.to_string(),
            "engine config: locate.weaker_weight: must be above 0 and at most 1"
        );
    }
    let parsed: EngineConfig =
        toml::from_str("locate_interval_s = 1.0\n[zone]\nmargin_m = 1.0\n").unwrap();
    assert_eq!(parsed.zone.margin_m, 1.0);
    assert_eq!(parsed.presence, PresenceConfig::default());
}

#[test]
fn anonymous_devices_are_counted_not_reported() {
    let layout = room();
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let mut out = Vec::new();
    for i in 0..3 {
        engine.mark_anonymous(DeviceId(i)).unwrap();
        walk(
            &mut engine,
            &layout,
            DeviceId(i),
            (0.0, 8.0),
            |_| Point::new(9.0, 5.0),
            &mut out,
        );
    }
    assert!(presence(&out).is_empty());
    assert_eq!(engine.count_anonymous(ZoneIdx(1)), 3);
    assert_eq!(engine.count_anonymous(ZoneIdx(0)), 0);
}

#[test]
fn occupancy_counts_known_and_anonymous_devices_per_zone() {
    let layout = room();
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let mut out = Vec::new();
    assert_eq!(engine.occupancy(), vec![Occupancy::default(); 2]);
    // Devices 0..2 known in the left zone, 2 known in the right; 3..6
    // anonymous in the right, 6 anonymous in the left.
    let places = [
        (false, 3.0),
        (false, 3.0),
        (false, 9.0),
        (true, 9.0),
        (true, 9.0),
        (true, 9.0),
        (true, 3.0),
    ];
    for (i, &(anonymous, x)) in places.iter().enumerate() {
        let device = DeviceId(u32::try_from(i).unwrap());
        if anonymous {
            engine.mark_anonymous(device).unwrap();
        }
        walk(
            &mut engine,
            &layout,
            device,
            (0.0, 8.0),
            |_| Point::new(x, 5.0),
            &mut out,
        );
    }
    let left = Occupancy {
        known: 2,
        anonymous: 1,
    };
    let right = Occupancy {
        known: 1,
        anonymous: 3,
    };
    assert_eq!(engine.occupancy(), vec![left, right]);
    // The same figures as the single-zone count.
    assert_eq!(engine.count_anonymous(ZoneIdx(0)), 1);
    assert_eq!(engine.count_anonymous(ZoneIdx(1)), 3);

    // Silent devices exit and stop counting.
    engine.tick(8.0 + engine.config.forget_after_s + 1.0, &mut out);
    assert_eq!(engine.occupancy(), vec![Occupancy::default(); 2]);
}

#[test]
fn a_tracked_device_costs_under_two_kibibytes() {
    // Worst case: a full filter (16 anchors) plus the boxed track and its
    // slot in the engine's vector.
    let worst = filter::MAX_HEAP_BYTES + size_of::<Track>() + size_of::<Option<Box<Track>>>();
    println!(
        "track {} B, filter at most {} B: {worst} B a device at most",
        size_of::<Track>(),
        filter::MAX_HEAP_BYTES
    );
    assert!(worst < 2048, "{worst}");
}

#[test]
fn a_shopper_on_a_zone_border_with_noisy_radio_does_not_flap() {
    let layout = room();
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let models: Vec<_> = layout
        .anchors
        .iter()
        .map(|a| RadioModel::of(a, &LocateConfig::default()))
        .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut uniform = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        #[allow(clippy::cast_precision_loss)]
        let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
        u
    };
    let mut out = Vec::new();
    // Standing on the border (x = 6) for two minutes; each reading off the
    // model by up to +-4 dB.
    let at = Point::new(6.0, 3.0);
    let mut t = 0.0;
    while t < 120.0 {
        for (i, m) in models.iter().enumerate() {
            let rssi = (m.expected_rssi(at) + 8.0 * (uniform() - 0.5)).round();
            let anchor = AnchorIdx(u16::try_from(i).unwrap());
            engine
                .observe(t, anchor, DeviceId(0), rssi, &mut out)
                .unwrap();
        }
        t += 0.25;
    }
    let (mut changes, mut last, mut sides) = (0, None, [0; 2]);
    for o in &out {
        if let Output::Position(p) = o {
            sides[usize::from(p.x >= 6.0)] += 1;
            if p.zone != last {
                changes += 1;
                last = p.zone;
            }
        }
    }
    // The filtered positions do fall on both sides of the border ...
    assert!(sides[0] > 10 && sides[1] > 10, "{sides:?}");
    // ... but the zone is taken once and kept, and so is the visit.
    assert!(changes <= 1, "{changes} zone changes");
    let enters = presence(&out).iter().filter(|(k, _)| *k == Enter).count();
    assert!(enters <= 1, "{:?}", presence(&out));
}

#[test]
fn a_track_stops_at_a_shelf_before_following_the_fixes_over_it() {
    // A gondola down the room's middle, between the zones.
    let mut layout = room();
    layout.shelves = vec![crate::layout::Shelf {
        min: [5.4, 2.0],
        max: [6.6, 8.0],
        height: None,
    }];
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let mut out = Vec::new();
    let d = DeviceId(1);
    walk(
        &mut engine,
        &layout,
        d,
        (100.0, 110.0),
        |_| Point::new(3.0, 5.0),
        &mut out,
    );
    // The fixes jump across the gondola at once.
    walk(
        &mut engine,
        &layout,
        d,
        (110.0, 125.0),
        |_| Point::new(9.0, 5.0),
        &mut out,
    );
    let positions: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Position(p) => Some(*p),
            Output::Presence(_) => None,
        })
        .collect();
    let shelf = layout.shelves[0];
    assert!(
        positions
            .iter()
            .all(|p| !shelf.contains(Point::new(p.x, p.y))),
        "{positions:?}"
    );
    // Held 0.3 m short of it first ...
    let held = positions.iter().position(|p| (p.x - 5.1).abs() < 0.05);
    let over = positions.iter().position(|p| p.x > 6.6);
    assert!(held.is_some() && held < over, "{positions:?}");
    // ... then over, into the other zone.
    let last = positions.last().unwrap();
    assert!(last.x > 8.0 && last.zone == Some(ZoneIdx(1)), "{last:?}");
}

/// A phone 5 dB louder than the anchors' models standing at (3, 4) for a
/// minute: its offset is learnt when the anchors are fitted, and left at 0
/// against anchors on the defaults.
#[test]
fn a_loud_phone_s_offset_is_learnt_against_fitted_anchors_only() {
    let offset_after = |layout: &Layout| {
        let mut engine = Engine::new(layout, EngineConfig::default()).unwrap();
        let models: Vec<_> = layout
            .anchors
            .iter()
            .map(|a| RadioModel::of(a, &LocateConfig::default()))
            .collect();
        let (device, at) = (DeviceId(0), Point::new(3.0, 4.0));
        let mut out = Vec::new();
        for step in 0..300 {
            let t = 100.0 + f64::from(step) * 0.2;
            for (i, m) in models.iter().enumerate() {
                let rssi = (m.expected_rssi(at) + 5.0).round();
                let anchor = AnchorIdx(u16::try_from(i).unwrap());
                engine.observe(t, anchor, device, rssi, &mut out).unwrap();
            }
        }
        engine.tracks[0].as_ref().unwrap().radio.offset_db()
    };
    let fitted = room();
    let learnt = offset_after(&fitted);
    // Part of the 5 dB is explained by the fix moving towards the anchors.
    assert!((2.5..6.0).contains(&learnt), "{learnt}");
    let mut defaults = room();
    for a in &mut defaults.anchors {
        a.rssi_at_1m = None;
        a.path_loss_exponent = None;
    }
    assert!(offset_after(&defaults).abs() < 1e-9);
}
