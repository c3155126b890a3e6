//! Zone accuracy on the simulator's demo store, against its ground truth,
//! with the engine's default settings. In process (no files) for speed.
//!
//! Definitions:
//! - A truth sample counts once the shopper's true zone has held for at
//!   least `presence.confirm_s + zone.confirm_s` (the enter confirmation
//!   plus the zone hysteresis; 5 s by default) at the sample's time. The
//!   engine's zone for the shopper is its latest published position's zone
//!   at or before the sample; none yet counts as wrong. The score is the
//!   share of counted samples where the two agree (no zone agreeing with no
//!   zone included).
//! - Flapping: per shopper, changes of the engine's zone over its
//!   positions against changes of the true zone over its samples.

use std::collections::HashMap;
use std::sync::Arc;

use aisle_gateway::engine::calibrate::{CalibrateConfig, calibrate};
use aisle_gateway::engine::{DeviceTable, Engine, EngineConfig, Output, ZoneIdx};
use aisle_gateway::layout::{Layout, Point};
use aisle_gateway::record::RecordedSighting;
use aisle_gateway::sim::radio::RadioConfig;
use aisle_gateway::sim::store::FloorPlan;
use aisle_gateway::sim::{Event, SimConfig, Simulator};

// Outer `None`: nothing seen yet; inner: outside every zone.
#[allow(clippy::option_option)]
#[derive(Default)]
struct Shopper {
    /// The engine's zone as of its latest position.
    engine_zone: Option<Option<ZoneIdx>>,
    /// The engine's latest position.
    engine_at: Option<(f64, f64)>,
    engine_changes: u32,
    truth_zone: Option<Option<Arc<str>>>,
    truth_since: f64,
    truth_changes: u32,
    /// The true zone before the current one.
    truth_before: Option<Option<Arc<str>>>,
}

#[derive(Default)]
struct Score {
    counted: u32,
    correct: u32,
    /// Wrong because the engine had the shopper in no zone.
    engine_none: u32,
    engine_changes: u32,
    truth_changes: u32,
    /// Distance from the engine's latest position to the truth, metres, at
    /// every truth sample with a position (settled or not).
    errors: Vec<f64>,
    /// Positions published, and those lying in no zone of the layout.
    positions: u32,
    positions_outside: u32,
    /// The shopper whose engine zone changed most often beyond the truth's:
    /// (name, engine changes, true changes).
    worst_excess: (String, u32, u32),
    /// Wrong samples where the engine still had the shopper's previous
    /// true zone: lag after a move rather than a wrong position.
    lagging: u32,
    /// Per true zone (None: outside all): (counted, correct).
    by_zone: std::collections::BTreeMap<String, (u32, u32)>,
    /// Wrong samples by seconds since the true zone settled: 0-5, 5-15, 15+.
    wrong_by_age: [u32; 3],
    /// Wrong samples by (true zone, engine zone).
    confusion: std::collections::BTreeMap<(String, String), u32>,
}

impl Score {
    /// Counts one settled sample: the true zone, the engine's (outer `None`:
    /// not placed yet), the true zone before this one, and how long the
    /// true zone has been settled, seconds.
    #[allow(clippy::option_option)]
    fn judge(
        &mut self,
        truth: Option<&str>,
        engine: Option<Option<&str>>,
        before: Option<Option<&str>>,
        settled_for: f64,
    ) {
        let named = |z: Option<&str>| z.unwrap_or("-").to_owned();
        self.counted += 1;
        let tally = self.by_zone.entry(named(truth)).or_default();
        tally.0 += 1;
        if engine == Some(truth) {
            self.correct += 1;
            tally.1 += 1;
            return;
        }
        if engine == Some(None) {
            self.engine_none += 1;
        }
        let age = usize::from(settled_for >= 5.0) + usize::from(settled_for >= 15.0);
        self.wrong_by_age[age] += 1;
        let key = (named(truth), engine.map_or("?".to_owned(), named));
        *self.confusion.entry(key).or_default() += 1;
        if engine.is_some() && engine == before {
            self.lagging += 1;
        }
    }
}

/// The demo store's layout with each anchor fitted, as `aisle calibrate`
/// does, from a separate simulated run whose sightings carry the shopper's
/// true position.
fn calibrated_demo(seed: u64) -> Layout {
    let plan = FloorPlan::demo();
    let layout = plan.layout.clone();
    let config = SimConfig {
        shoppers: 10,
        minutes: 6.0,
        seed,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(plan, config).unwrap();
    let mut reference = Vec::new();
    while let Some(event) = sim.next() {
        if let Event::Sighting(s) = event {
            let truth = sim.truth_at(s.ts).find(|t| t.device == s.device);
            if let Some(t) = truth {
                reference.push(RecordedSighting {
                    x: Some(t.x),
                    y: Some(t.y),
                    ..s.to_record()
                });
            }
        }
    }
    let fit = calibrate(
        &layout,
        &reference,
        &EngineConfig::default().locate,
        &CalibrateConfig::default(),
    );
    assert!(fit.fits.iter().all(|f| f.fitted), "{:?}", fit.fits);
    fit.layout
}

fn run(
    shoppers: usize,
    minutes: f64,
    seed: u64,
    engine_layout: Option<&Layout>,
    config: EngineConfig,
) -> Score {
    run_radio(
        shoppers,
        minutes,
        seed,
        engine_layout,
        config,
        RadioConfig::default(),
    )
}

fn run_radio(
    shoppers: usize,
    minutes: f64,
    seed: u64,
    engine_layout: Option<&Layout>,
    config: EngineConfig,
    radio: RadioConfig,
) -> Score {
    let plan = FloorPlan::demo();
    let settle = config.presence.confirm_s + config.zone.confirm_s;
    let mut engine = Engine::new(engine_layout.unwrap_or(&plan.layout), config).unwrap();
    let zone_ids: Vec<String> = plan.layout.zones.iter().map(|z| z.id.clone()).collect();
    let zones = plan.layout.zones.clone();
    let sim = Simulator::new(
        plan,
        SimConfig {
            shoppers,
            minutes,
            seed,
            radio,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let mut devices = DeviceTable::new();
    let mut state: HashMap<String, Shopper> = HashMap::new();
    let mut out = Vec::new();
    let mut next_tick = f64::NEG_INFINITY;
    let mut score = Score::default();
    for event in sim {
        let ts = event.ts();
        if next_tick == f64::NEG_INFINITY {
            next_tick = ts;
        }
        while next_tick <= ts {
            engine.tick(next_tick, &mut out);
            next_tick += 0.25;
        }
        match event {
            Event::Sighting(s) => {
                let device = devices.intern(&s.device);
                engine
                    .observe_named(s.ts, &s.anchor, device, s.rssi, &mut out)
                    .unwrap();
            }
            Event::Truth(t) => {
                let zone = t.zone.clone();
                let entry = state.entry(t.device.to_string()).or_default();
                if let Some((x, y)) = entry.engine_at {
                    score.errors.push((x - t.x).hypot(y - t.y));
                }
                if entry.truth_zone.as_ref() != Some(&zone) {
                    if entry.truth_zone.is_some() {
                        entry.truth_changes += 1;
                    }
                    entry.truth_before = entry.truth_zone.take();
                    entry.truth_zone = Some(zone.clone());
                    entry.truth_since = t.ts;
                }
                if t.ts - entry.truth_since >= settle {
                    let engine_zone = entry
                        .engine_zone
                        .map(|z| z.map(|z| zone_ids[usize::from(z.0)].as_str()));
                    let before = entry.truth_before.as_ref().map(|b| b.as_deref());
                    let settled_for = t.ts - entry.truth_since - settle;
                    score.judge(zone.as_deref(), engine_zone, before, settled_for);
                }
            }
        }
        for o in out.drain(..) {
            if let Output::Position(p) = o {
                score.positions += 1;
                if !zones.iter().any(|z| z.contains(Point::new(p.x, p.y))) {
                    score.positions_outside += 1;
                }
                let name = devices.name(p.device).unwrap().to_owned();
                let entry = state.entry(name).or_default();
                if entry.engine_zone.is_some_and(|z| z != p.zone) {
                    entry.engine_changes += 1;
                }
                entry.engine_zone = Some(p.zone);
                entry.engine_at = Some((p.x, p.y));
            }
        }
    }
    for (name, s) in &state {
        score.engine_changes += s.engine_changes;
        score.truth_changes += s.truth_changes;
        let excess = s.engine_changes.saturating_sub(s.truth_changes);
        let worst = &score.worst_excess;
        if excess > worst.1.saturating_sub(worst.2) || worst.0.is_empty() {
            score.worst_excess = (name.clone(), s.engine_changes, s.truth_changes);
        }
    }
    score
}

/// The target is 95%. Measured with the default settings on this run
/// (10 shoppers, 6 minutes, seed 21): 87.5% of 1483 settled samples, with a
/// median position error of 1.46 m (p90 3.49 m) in a store whose aisles are
/// 2.4 m wide; the engine changes zone 65 times for the shoppers' 88. What
/// is left is mostly the next aisle over for 15 s and more: the radio's
/// slow shadowing (4 dB a link, decorrelating over 30 s standing still)
/// holds a standing shopper's fixes a metre or two off for that long (see
/// `the_radio_s_shadowing_is_what_is_left`).
///
/// Steps that got here from 81.5% (1.57 m), on this run: the layout's
/// shelves in the locator (their loss in the expected levels, no fix or
/// track inside one) 80.9%; tracks that walk round shelves rather than
/// through them 86.2%; a track parked outside every zone taking the nearest
/// within reach 88.2%; the solver following the shelves' loss off the grid
/// (it had stalled on the grid cell it started from) with 2 dB a shelf
/// rather than 3, 87.5%, and 88.2% against 88.0% over five runs.
///
/// The demo layout carries no radio model: its anchors have positions and
/// heights only, no `rssi_at_1m` or `path_loss_exponent`, so the engine
/// runs on its own defaults, as in a store not yet calibrated, and not on
/// the simulator's parameters (its shelf loss is 2 dB against the
/// simulator's 5, its exponent 3.0 against 2.2). This test holds what is
/// achieved with a margin, so a regression shows.
const ACHIEVED: f64 = 0.84;

/// Median position error held, metres (measured 1.46).
const ACHIEVED_MEDIAN_M: f64 = 1.65;

fn report(s: &mut Score) -> f64 {
    let share = f64::from(s.correct) / f64::from(s.counted);
    s.errors.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let percentile = |q: f64| s.errors[((s.errors.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "zone correct {:.1}% of {} settled samples (wrong: {} in no zone, {} in \
         another or not yet placed); zone changes: engine {}, truth {}; worst shopper {:?}; \
         position error median {:.2} m, p90 {:.2} m; positions in no zone {:.1}%",
        share * 100.0,
        s.counted,
        s.engine_none,
        s.counted - s.correct - s.engine_none,
        s.engine_changes,
        s.truth_changes,
        s.worst_excess,
        percentile(0.5),
        percentile(0.9),
        f64::from(s.positions_outside) * 100.0 / f64::from(s.positions),
    );
    eprintln!(
        "wrong: {} still in the previous true zone; by seconds settled 0-5 / 5-15 / 15+: {:?}; \
         per true zone (counted, right): {:?}",
        s.lagging, s.wrong_by_age, s.by_zone
    );
    eprintln!("wrong (true, engine): {:?}", s.confusion);
    share
}

#[test]
fn zones_are_right_after_settling_and_do_not_flap() {
    let mut s = run(10, 6.0, 21, None, EngineConfig::default());
    let share = report(&mut s);
    assert!(s.counted > 1000, "{}", s.counted);
    assert!(share >= ACHIEVED, "zone correct {:.1}%", share * 100.0);
    let median = s.errors[s.errors.len() / 2];
    assert!(median <= ACHIEVED_MEDIAN_M, "median error {median:.2} m");
    // No flapping: the engine changes zone no more often than the shoppers
    // do (measured: 65 changes against 88; 48 before the changes above),
    // overall and for every shopper but by two.
    assert!(
        s.engine_changes <= s.truth_changes,
        "engine {} zone changes for {} true ones",
        s.engine_changes,
        s.truth_changes
    );
    let (who, engine, truth) = &s.worst_excess;
    assert!(
        engine <= &(truth + 2),
        "{who}: {engine} changes for {truth}"
    );
}

/// Anchors fitted from a simulated reference walk (another seed): the
/// simulated shelves make the path loss steeper than free space (fitted
/// exponents 2.0 to 3.1). Measured: 88.4% of settled samples in the right
/// zone, median error 1.51 m (73.6% and 1.74 m before the locator knew the
/// shelves; 39.6% with the old zone settings).
#[test]
fn calibrated_anchors_place_shoppers_better() {
    let calibrated = calibrated_demo(99);
    let mut s = run(10, 6.0, 21, Some(&calibrated), EngineConfig::default());
    let share = report(&mut s);
    assert!(share >= ACHIEVED, "zone correct {:.1}%", share * 100.0);
    assert!(s.engine_changes <= s.truth_changes + s.truth_changes / 10);
}

/// Other seeds, other shoppers: measured 88.6%, 89.4%, 88.6% and 87.0%
/// (seeds 7, 3, 11, 5; the engine changing zone 58 to 64 times for 85 to
/// 92 true changes).
#[test]
fn other_runs_do_as_well() {
    for seed in [7, 3, 11, 5] {
        let mut s = run(10, 6.0, seed, None, EngineConfig::default());
        let share = report(&mut s);
        assert!(
            share >= ACHIEVED - 0.02,
            "seed {seed}: {:.1}%",
            share * 100.0
        );
        assert!(s.engine_changes <= s.truth_changes, "seed {seed}");
    }
}

/// What keeps the store short of 95%: the same runs with the simulator's
/// shadowing turned off reach 92.4% (mean of five), and with a clean radio
/// (no shadowing, fading, body or phone differences, no sensitivity floor)
/// 96.5%, where what is left is the lag of the filters and the
/// zone confirmation behind a shopper who has just moved.
#[test]
fn the_radio_s_shadowing_is_what_is_left() {
    let quiet = RadioConfig {
        shadowing_sigma_db: 0.0,
        ..RadioConfig::default()
    };
    let clean = RadioConfig {
        shadowing_sigma_db: 0.0,
        rician_k: 1000.0,
        body_loss_db: 0.0,
        phone_offset_sigma_db: 0.0,
        sensitivity_dbm: -127.0,
        ..RadioConfig::default()
    };
    let mut shares = Vec::new();
    for radio in [quiet, clean] {
        let mut sum = 0.0;
        for seed in [21, 7, 3, 11, 5] {
            let mut s = run_radio(10, 6.0, seed, None, EngineConfig::default(), radio.clone());
            sum += report(&mut s);
            assert!(s.engine_changes <= s.truth_changes, "seed {seed}");
        }
        shares.push(sum / 5.0);
    }
    eprintln!(
        "mean of five runs: no shadowing {:.1}%, clean radio {:.1}%",
        shares[0] * 100.0,
        shares[1] * 100.0
    );
    assert!(shares[0] >= NO_SHADOWING, "{shares:?}");
    assert!(shares[1] >= CLEAN, "{shares:?}");
}

/// Measured 92.4% (each run 86.0% to 95.0%).
const NO_SHADOWING: f64 = 0.89;
/// Measured 96.5% (94.8% to 98.7%).
const CLEAN: f64 = 0.94;
