use std::collections::{HashMap, HashSet};

use super::*;

fn run(shoppers: usize, minutes: f64, seed: u64) -> Simulator {
    let config = SimConfig {
        shoppers,
        minutes,
        seed,
        ..SimConfig::default()
    };
    Simulator::new(FloorPlan::demo(), config).unwrap()
}

#[test]
fn a_seed_gives_the_same_run_and_another_seed_another() {
    let a: Vec<Event> = run(10, 3.0, 42).take(5_000).collect();
    let b: Vec<Event> = run(10, 3.0, 42).take(5_000).collect();
    let c: Vec<Event> = run(10, 3.0, 43).take(5_000).collect();
    assert_eq!(a.len(), 5_000);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn events_come_in_time_order_inside_the_run() {
    let sim = run(15, 4.0, 5);
    let (start, end) = (sim.config().start_ts, sim.end_ts());
    let mut last = start;
    for e in sim {
        let ts = e.ts();
        assert!(ts >= last, "{ts} after {last}");
        assert!(ts < end);
        last = ts;
    }
}

#[test]
fn sightings_are_whole_dbm_above_the_floor_from_known_anchors() {
    let sim = run(10, 3.0, 6);
    let anchors: HashSet<String> = sim
        .plan()
        .layout
        .anchors
        .iter()
        .map(|a| a.id.clone())
        .collect();
    let mut n = 0;
    for e in sim {
        if let Event::Sighting(s) = e {
            assert!(anchors.contains(&*s.anchor));
            assert!(
                s.rssi >= -95.0 && s.rssi <= 0.0 && (s.rssi - s.rssi.round()).abs() < 1e-9,
                "{s:?}"
            );
            crate::record::RecordedSighting::parse(&serde_json::to_string(&s.to_record()).unwrap())
                .unwrap();
            n += 1;
        }
    }
    assert!(n > 10_000, "{n}");
}

#[test]
fn each_shopper_is_heard_about_as_often_as_they_advertise() {
    // 10 Hz, about 70% captured near an anchor: the nearest anchor hears
    // several packets a second from every shopper in the store.
    let sim = run(10, 5.0, 7);
    let mut per_second: HashMap<(Arc<str>, i64), HashMap<Arc<str>, u32>> = HashMap::new();
    #[allow(clippy::cast_possible_truncation)]
    for e in sim {
        if let Event::Sighting(s) = e {
            *per_second
                .entry((s.device.clone(), s.ts.floor() as i64))
                .or_default()
                .entry(s.anchor.clone())
                .or_default() += 1;
        }
    }
    let best: Vec<u32> = per_second
        .values()
        .map(|by_anchor| by_anchor.values().copied().max().unwrap_or(0))
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let mean = f64::from(best.iter().sum::<u32>()) / best.len() as f64;
    assert!((5.0..=10.5).contains(&mean), "{mean}");
}

#[test]
fn truth_covers_every_shopper_every_second_and_ends_at_checkout() {
    // Arrivals within the first 10% of a 20 minute run: everyone finishes.
    let config = SimConfig {
        shoppers: 12,
        minutes: 20.0,
        seed: 8,
        arrival_share: 0.1,
        ..SimConfig::default()
    };
    let sim = Simulator::new(FloorPlan::demo(), config).unwrap();
    let start = sim.config().start_ts;
    let trips: HashMap<String, (f64, f64)> = sim
        .trips()
        .map(|t| (t.device.clone(), (t.arrival(), t.departure())))
        .collect();
    let mut seen: HashMap<Arc<str>, Vec<TruthSample>> = HashMap::new();
    for e in sim {
        if let Event::Truth(t) = e {
            seen.entry(t.device.clone()).or_default().push(t);
        }
    }
    assert_eq!(seen.len(), 12);
    for (device, samples) in &seen {
        let (arrival, departure) = trips[&**device];
        assert!(departure < 20.0 * 60.0, "{device} still in the store");
        // One sample each whole second from arrival to departure.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let want = (departure.floor() - arrival.ceil()) as usize + 1;
        assert_eq!(samples.len(), want, "{device}");
        for w in samples.windows(2) {
            assert!((w[1].ts - w[0].ts - 1.0).abs() < 1e-6);
            let step = (w[1].x - w[0].x).hypot(w[1].y - w[0].y);
            assert!(step < 2.0, "{device} jumped {step} m at {}", w[1].ts);
        }
        assert!((samples[0].ts - start - arrival.ceil()).abs() < 1e-6);
        let zones: Vec<&str> = samples.iter().filter_map(|s| s.zone.as_deref()).collect();
        assert_eq!(zones.first(), Some(&"entrance"), "{device}");
        let last_checkout = zones.iter().rposition(|&z| z == "checkout");
        assert!(last_checkout.is_some(), "{device} never paid");
    }
}

#[test]
fn truth_keeps_off_the_shelves() {
    let sim = run(30, 10.0, 9);
    let shelves = sim.plan().shelves.clone();
    for e in sim {
        if let Event::Truth(t) = e {
            let p = Point::new(t.x, t.y);
            assert!(shelves.iter().all(|s| !s.contains(p)), "{t:?}");
        }
    }
}

#[test]
fn a_live_feed_stops_at_the_clock() {
    let mut sim = run(5, 2.0, 10);
    let t0 = sim.config().start_ts + 60.0;
    let mut n = 0;
    while let Some(e) = sim.next_until(t0) {
        assert!(e.ts() <= t0);
        n += 1;
    }
    assert!(n > 0);
    assert!(sim.peek_ts().unwrap() > t0);
    let inside: Vec<_> = sim.truth_at(t0 + 0.5).collect();
    assert!(inside.iter().all(|t| (t.ts - t0 - 0.5).abs() < 1e-9));
}

#[test]
fn rejects_settings_out_of_range() {
    let bad = |f: fn(&mut SimConfig)| {
        let mut c = SimConfig::default();
        f(&mut c);
        match Simulator::new(FloorPlan::demo(), c) {
            Err(SimError::Config(why)) => why,
            other => panic!("{:?}", other.err()),
        }
    };
    assert!(bad(|c| c.minutes = 0.0).starts_with("minutes"));
    assert!(bad(|c| c.adv_rate_hz = f64::NAN).starts_with("adv_rate_hz"));
    assert!(bad(|c| c.arrival_share = 2.0).starts_with("arrival_share"));
    assert_eq!(
        bad(|c| c.radio.capture = 1.5),
        "radio.capture: 1.5 is not in 0..=1"
    );
    assert!(bad(|c| c.radio.shadowing_time_s = 0.0).starts_with("radio.shadowing_time_s"));
    assert_eq!(
        bad(|c| c.radio.site_shadowing_distance_m = 0.0),
        "radio.site_shadowing_distance_m: 0 is not in 0.1..=1000"
    );
    assert!(
        bad(|c| c.radio.site_shadowing_sigma_db = -1.0)
            .starts_with("radio.site_shadowing_sigma_db")
    );
}

#[test]
fn an_open_layout_simulates_too() {
    let layout = crate::layout::Layout::parse(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/reference-room/layout.toml"
        ))
        .unwrap_or_else(|_| store::demo_layout().to_toml()),
        "room",
    )
    .unwrap();
    let sim = Simulator::new(
        layout,
        SimConfig {
            shoppers: 3,
            minutes: 2.0,
            ..SimConfig::default()
        },
    )
    .unwrap();
    assert!(sim.filter(|e| matches!(e, Event::Sighting(_))).count() > 1_000);
}

#[test]
fn a_layout_without_zones_still_has_shoppers_walking_about() {
    let mut layout = store::demo_layout();
    layout.zones.clear();
    let sim = Simulator::new(
        layout,
        SimConfig {
            shoppers: 5,
            minutes: 5.0,
            arrival_share: 0.0,
            ..SimConfig::default()
        },
    )
    .unwrap();
    for trip in sim.trips() {
        assert!(trip.visits.is_empty());
        assert!(trip.departure() - trip.arrival() > 10.0, "{trip:?}");
    }
    let mut seen = HashSet::new();
    for e in sim {
        if let Event::Truth(t) = e {
            assert_eq!(t.zone, None);
            // Half-metre squares of a 20 x 14 m floor.
            #[allow(clippy::cast_possible_truncation)]
            seen.insert(((t.x * 2.0).round() as i64, (t.y * 2.0).round() as i64));
        }
    }
    assert!(seen.len() > 50, "{}", seen.len());
}

#[test]
fn a_simulator_can_move_to_another_task() {
    fn send<T: Send + 'static>(_: &T) {}
    send(&run(1, 1.0, 1));
}

#[test]
fn times_are_whole_milliseconds_from_any_start() {
    let config = SimConfig {
        shoppers: 3,
        minutes: 1.0,
        start_ts: 1_700_000_000.123_4,
        ..SimConfig::default()
    };
    for e in Simulator::new(FloorPlan::demo(), config)
        .unwrap()
        .take(2_000)
    {
        let json = match &e {
            Event::Sighting(s) => serde_json::to_string(&s.to_record()).unwrap(),
            Event::Truth(t) => serde_json::to_string(t).unwrap(),
        };
        let ts = json
            .split("\"ts\":")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let decimals = ts.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3, "{json}");
        assert!(e.ts() >= 1_700_000_000.123);
    }
}
