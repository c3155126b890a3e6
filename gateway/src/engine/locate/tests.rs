//! The locator against exact and shadowed levels.

use super::*;
use crate::engine::ids::AnchorIdx;
use crate::layout::Store;

pub(crate) fn square_room() -> Layout {
    let anchor = |id: &str, x, y| Anchor {
        id: id.into(),
        x,
        y,
        z: Some(2.5),
        rssi_at_1m: Some(-60.0),
        path_loss_exponent: Some(2.2),
    };
    Layout {
        store: Store {
            id: "room".into(),
            name: None,
            timezone: "UTC".into(),
        },
        anchors: vec![
            anchor("sw", 0.0, 0.0),
            anchor("se", 12.0, 0.0),
            anchor("ne", 12.0, 10.0),
            anchor("nw", 0.0, 10.0),
            anchor("mid", 6.0, 5.0),
        ],
        zones: vec![],
        shadowing: None,
        shelves: Vec::new(),
    }
}

fn levels_at(locator: &Locator, p: Point, anchors: &[u16]) -> Vec<Level> {
    anchors
        .iter()
        .map(|&a| Level {
            anchor: AnchorIdx(a),
            rssi: locator.models()[usize::from(a)].expected_rssi(p),
            variance_db2: 4.0,
        })
        .collect()
}

#[test]
fn exact_levels_locate_exactly() {
    let mut locator = Locator::new(&square_room(), LocateConfig::default());
    for p in [
        Point::new(3.3, 2.7),
        Point::new(10.5, 8.2),
        Point::new(6.0, 5.0),
    ] {
        let levels = levels_at(&locator, p, &[0, 1, 2, 3, 4]);
        let fix = locator.locate(&levels).unwrap();
        assert!(fix.position.distance(p) < 0.05, "{p:?} -> {fix:?}");
        assert!(fix.residual_db < 0.1);
        assert!(fix.confidence > 0.25, "{fix:?}");
    }
}

#[test]
fn a_level_weaker_than_expected_pulls_less_than_a_stronger_one() {
    let room = square_room();
    let even = LocateConfig {
        weaker_weight: 1.0,
        ..LocateConfig::default()
    };
    let mut plain = Locator::new(&room, even);
    let mut lopsided = Locator::new(&room, LocateConfig::default());
    let p = Point::new(4.0, 6.0);
    // The shopper faces west: their body takes 8 dB off "se" and "ne".
    let mut levels = levels_at(&plain, p, &[0, 1, 2, 3, 4]);
    levels[1].rssi -= 8.0;
    levels[2].rssi -= 8.0;
    let even_off = plain.locate(&levels).unwrap().position.distance(p);
    let off = lopsided.locate(&levels).unwrap().position.distance(p);
    assert!(
        off < 0.95 * even_off,
        "weighed alike {even_off}, less {off}"
    );
    // Exact levels still locate exactly.
    let exact = levels_at(&plain, p, &[0, 1, 2, 3, 4]);
    let fix = lopsided.locate(&exact).unwrap();
    assert!(fix.position.distance(p) < 0.05, "{fix:?}");
}

#[test]
fn a_shadowing_map_takes_a_shadowed_anchor_into_account() {
    use crate::engine::shadowing::ShadowingSample;
    // A wall weakens everything "sw" hears by 8 dB.
    let samples = (0..=12)
        .flat_map(|i| (0..=10).map(move |j| (f64::from(i), f64::from(j))))
        .map(|(x, y)| ShadowingSample {
            anchor: "sw".into(),
            x,
            y,
            offset_db: -8.0,
        })
        .collect();
    let map = ShadowingMap {
        samples,
        ..ShadowingMap::none()
    };
    let room = square_room();
    let mut plain = Locator::new(&room, LocateConfig::default());
    let mut mapped = Locator::with_shadowing(&room, LocateConfig::default(), &map);
    let p = Point::new(4.0, 6.0);
    let mut levels = levels_at(&plain, p, &[0, 1, 2, 3, 4]);
    levels[0].rssi -= 8.0;
    let off = plain.locate(&levels).unwrap().position.distance(p);
    let on = mapped.locate(&levels).unwrap().position.distance(p);
    assert!(off > 1.0 && on < 0.3, "without {off}, with {on}");
}

#[test]
fn shelves_cost_their_loss_and_hold_no_one() {
    // A gondola across the room's middle, "mid" standing on it.
    let mut room = square_room();
    room.shelves = vec![crate::layout::Shelf {
        min: [5.4, 1.0],
        max: [6.6, 9.0],
        height: Some(1.8),
    }];
    // Levels weaker than expected weigh as much as stronger ones, so the
    // plain model has only its fit to blame the shelf's loss on.
    let config = LocateConfig {
        shelf_loss_db: 8.0,
        weaker_weight: 1.0,
        ..LocateConfig::default()
    };
    let mut plain = Locator::new(&square_room(), config);
    let mut shelved = Locator::new(&room, config);
    // Levels as they come through the gondola: anchors on the far side
    // read the shelf's loss weaker.
    let p = Point::new(3.5, 5.0);
    let mut levels = levels_at(&plain, p, &[0, 1, 2, 3, 4]);
    for l in &mut levels {
        if matches!(l.anchor.0, 1 | 2) {
            l.rssi -= config.shelf_loss_db;
        }
    }
    let off = plain.locate(&levels).unwrap().position.distance(p);
    let on = shelved.locate(&levels).unwrap().position.distance(p);
    assert!(on < 0.3 && off > on + 0.3, "without {off}, with {on}");
    // A position inside the gondola moves out by its nearer side.
    let placed = shelved.place(Point::new(5.8, 5.0));
    assert!((placed.x - 5.1).abs() < 1e-9, "{placed:?}");
    // Walking across it stops short; round its end does not.
    let stop = shelved.walk_stop(Point::new(3.0, 5.0), Point::new(8.0, 5.0), 0.3);
    assert!(stop.is_some_and(|s| (s.x - 5.1).abs() < 1e-9), "{stop:?}");
    assert!(
        shelved
            .walk_stop(Point::new(3.0, 9.5), Point::new(8.0, 9.5), 0.3)
            .is_none()
    );
}

#[test]
fn fewer_than_three_anchors_fall_back_with_low_confidence() {
    let mut locator = Locator::new(&square_room(), LocateConfig::default());
    let p = Point::new(3.0, 0.5);
    let one = locator.locate(&levels_at(&locator, p, &[0])).unwrap();
    assert_eq!(one.position, Point::new(0.0, 0.0));
    assert!(one.confidence < 0.2, "{one:?}");
    let two = locator.locate(&levels_at(&locator, p, &[0, 1])).unwrap();
    assert!(
        (two.position.x - 3.0).abs() < 1.5 && two.position.y.abs() < 1e-9,
        "{two:?}"
    );
    assert!(two.confidence < 0.4 && two.confidence > one.confidence);
    assert_eq!(locator.locate(&[]), None);
    let unknown = [Level {
        anchor: AnchorIdx(99),
        rssi: -60.0,
        variance_db2: 1.0,
    }];
    assert_eq!(locator.locate(&unknown), None);
}

#[test]
fn fixes_stay_inside_the_bounds() {
    let mut locator = Locator::new(&square_room(), LocateConfig::default());
    // Everything very weak: the model would put the device far away.
    let levels: Vec<_> = (0..5)
        .map(|a| Level {
            anchor: AnchorIdx(a),
            rssi: -120.0,
            variance_db2: 1.0,
        })
        .collect();
    let fix = locator.locate(&levels).unwrap();
    let p = fix.position;
    assert!(
        (-1.0..=13.0).contains(&p.x) && (-1.0..=11.0).contains(&p.y),
        "{p:?}"
    );
}
