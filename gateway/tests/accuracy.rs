//! Zone accuracy on the simulator's demo store, against its ground truth,
//! with the engine's default settings. In process (no files) for speed.
//!
//! The simulated store's shadowing is mostly a field over its floor that
//! every run in the store shares (see `sim::site`), as a real store's
//! fittings are; the rest belongs to each shopper and their phone. So the
//! deployment scored first is the realistic one: the store calibrated from
//! one simulated walk with known positions, then other runs scored.
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
    /// Samples in a zone by how far the truth lies from that zone's edge:
    /// under 0.5 m, 0.5-1 m, 1-1.5 m, beyond; (counted, wrong).
    by_edge: [(u32, u32); 4],
}

impl Score {
    /// Counts one settled sample: the true zone, the engine's (outer `None`:
    /// not placed yet), the true zone before this one, and how long the
    /// true zone has been settled, seconds.
    #[allow(clippy::option_option)]
    /// `edge_m`: how far the truth lies inside its zone, none outside all.
    fn judge(
        &mut self,
        truth: Option<&str>,
        engine: Option<Option<&str>>,
        before: Option<Option<&str>>,
        settled_for: f64,
        edge_m: Option<f64>,
    ) {
        let named = |z: Option<&str>| z.unwrap_or("-").to_owned();
        self.counted += 1;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let band = edge_m.map(|d| ((d / 0.5) as usize).min(3));
        if let Some(band) = band {
            self.by_edge[band].0 += 1;
            self.by_edge[band].1 += u32::from(engine != Some(truth));
        }
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

/// The demo store's layout as `aisle calibrate` writes it (each anchor's
/// model fitted, the shadowing map measured) from a separate simulated
/// walk through the same store, `shoppers` for `minutes`, whose sightings
/// carry each shopper's true position: the store's shadowing is the same
/// in every run there; the shoppers, their phones and their own shadowing
/// are not.
fn calibrated_demo(seed: u64, shoppers: usize, minutes: f64, radio: &RadioConfig) -> Layout {
    let plan = FloorPlan::demo();
    let layout = plan.layout.clone();
    let config = SimConfig {
        shoppers,
        minutes,
        seed,
        radio: radio.clone(),
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
    let mut layout = fit.layout;
    layout.shadowing = Some(fit.shadowing);
    layout
}

fn run_radio(
    shoppers: usize,
    minutes: f64,
    seed: u64,
    engine_layout: Option<&Layout>,
    config: &EngineConfig,
    radio: RadioConfig,
) -> Score {
    let plan = FloorPlan::demo();
    let settle = config.presence.confirm_s + config.zone.confirm_s;
    let mut engine = Engine::new(engine_layout.unwrap_or(&plan.layout), *config).unwrap();
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
                    let edge_m = zone
                        .as_deref()
                        .and_then(|id| zones.iter().find(|z| z.id == id))
                        .map(|z| z.distance_to_edge(Point::new(t.x, t.y)));
                    score.judge(zone.as_deref(), engine_zone, before, settled_for, edge_m);
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
    eprintln!(
        "in a zone, by the truth's distance from its edge <0.5 / 0.5-1 / 1-1.5 / 1.5+ m \
         (counted, wrong): {:?}",
        s.by_edge
    );
    share
}

/// Runs seeds `seeds` (10 shoppers, 6 minutes each) against `layout`
/// (the bare demo layout when none) and reports each; returns the mean
/// share, the lowest, and the share wrong of all samples lying more than
/// 1 m inside a zone; checks no run flaps.
fn runs(seeds: &[u64], layout: Option<&Layout>, radio: &RadioConfig) -> (f64, f64, f64) {
    let (mut sum, mut lowest) = (0.0, 1.0f64);
    let (mut deep, mut deep_wrong) = (0, 0);
    for &seed in seeds {
        let mut s = run_radio(
            10,
            6.0,
            seed,
            layout,
            &EngineConfig::default(),
            radio.clone(),
        );
        let share = report(&mut s);
        assert!(s.counted > 1000, "seed {seed}: {}", s.counted);
        // No flapping: the engine changes zone no more often than the
        // shoppers do, overall and for every shopper but by two.
        assert!(
            s.engine_changes <= s.truth_changes,
            "seed {seed}: engine {} zone changes for {} true ones",
            s.engine_changes,
            s.truth_changes
        );
        let (who, engine, truth) = &s.worst_excess;
        assert!(
            engine <= &(truth + 2),
            "seed {seed}: {who}: {engine} changes for {truth}"
        );
        sum += share;
        lowest = lowest.min(share);
        for (counted, wrong) in &s.by_edge[2..] {
            deep += counted;
            deep_wrong += wrong;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let mean = sum / seeds.len() as f64;
    (mean, lowest, f64::from(deep_wrong) / f64::from(deep.max(1)))
}

/// Ten runs: the variance between runs is large, as a shopper standing a
/// minute on the wrong side of a shelf is 4% of a run's samples.
const SEEDS: [u64; 10] = [21, 7, 3, 11, 5, 31, 32, 33, 34, 35];

/// The realistic deployment: the store calibrated from a walk of 20
/// shoppers for 10 minutes (another seed), then ten other runs scored.
/// The target is 95%; measured 92.6% (mean of ten runs, each 86.5% to
/// 96.6%), the engine changing zone 53 to 62 times a run where the
/// shoppers change 84 to 95 times.
///
/// Where the errors lie. Shoppers stand at shelves, facing them, so half
/// of the samples in a zone lie 0.5-1 m from its edge and a quarter within
/// 0.5 m. Summed over the ten runs (counted, wrong): within 0.5 m of the
/// edge 3,633 and 421 (12%); 0.5-1 m 7,027 and 403 (5.7%); 1-1.5 m 2,772
/// and 13; beyond 1.5 m 539 and 5. A shopper more than a metre inside a
/// zone is placed in it 99.5% of the time; the rest of the errors are at
/// the edges, where the fixes' own error (median 1.1 m) decides, and in
/// the walkways that belong to no zone (213 samples, 1.5%: the engine
/// counts a position within `zone.nearest_within_m` of a zone as in it,
/// and the front walkway is 1 m wide). The test holds the first part.
///
/// Steps, each measured on these runs. A zone's depth counted from its
/// borders with the rest of the floor, not from the outer walls, where
/// fixes clamped to the store pile up: 91.7% to 92.1%. Levels weaker than
/// the model expects weighted 0.8 (`locate.weaker_weight`): 92.6% (0.7
/// 92.9%, chosen against for the reference room's median). Earlier:
/// before calibration chose the map's kernel shape (its widths along and
/// across rays from the anchor, by leave-one-out prediction of the walk's
/// own residuals: it picks a round kernel here), a kernel fixed at three
/// times longer along rays than across gave 89.9%, and the round 1 m
/// kernel of the steps below 92.2%. A shorter calibration walk (10
/// shoppers, 6 minutes) gave 89.7%, a longer one (30 shoppers, 10
/// minutes) 91.7%.
///
/// Steps before those. Five runs, calibrated from a 10-shopper, 6-minute
/// walk: the fitted models alone (the map left out) 87.0%; with the map
/// from the walk's readings pooled into 0.5 m cells, its kernel 3 m wide as
/// for surveyed points, 87.6%, 2 m 87.8%, 4 m 89.1%. Ten runs, calibrated
/// from a 30-shopper, 10-minute walk: a 1 m kernel 91.9%; each phone's
/// transmit offset learnt online 92.7%; then each calibration phone's
/// offset taken off its readings before the fit and the kernel set from
/// the points' spacing (1.0 m here) 91.7% (the map's error against the
/// simulator's own field 2.64 dB RMS, 2.70 before), 92.2% from the
/// 20-shopper walk.
///
/// Tried and left out (ten runs). Against 91.7%, with a 30-shopper walk:
/// the body loss a walking track's heading implies (89.3%: a filtered
/// track's heading is too uncertain), trying a standing shopper's facing
/// among four headings (92.0%), a 20 s confirmation for a zone reached by
/// jumping a shelf (90.9%), a 0.5 m locator grid (91.9%), and other
/// filter, motion and weighting settings (89.7% to 92.6%). Against 91.7%,
/// with the 20-shopper walk: the body loss of a shopper facing the nearest
/// shelf within 1.5 m, charged when the track moves under 0.3 m/s (6 dB
/// 92.9%, 8 dB 91.7%; always charged 88.4%; taken off the calibration's
/// readings too 91.5%; the better of charged and not, cell by cell,
/// 92.2%); a grid Bayes filter over the floor whose belief moves only
/// between open cells, so that it cannot cross a shelf (90.2% to 90.8%);
/// counting positions up to 0.5 or 1 m off a zone as in it rather than 2 m
/// (90.0%, 91.8%). Against 92.9%, with the two steps above (weaker levels
/// at 0.7): none rather than the nearest zone for a track moving faster
/// than 0.8 m/s (92.1%; from 0.5 m/s the engine flaps); a second, nearly
/// still motion model chosen while it explains the fixes better (88.5% to
/// 92.9%, never above the single model); more smoothing (accel noise 0.1
/// m²/s³ instead of 0.5: 93.9%, but a shopper more than a metre inside a
/// zone is then placed elsewhere 2.3% of the time, as tracks lag after
/// each move); the phone's offset learnt with weaker levels weighted as
/// the locator weighs them (92.2%).
///
/// Against 92.6% (the defaults here): the zone taken from a forward
/// filter over the zones (each fix weighs a zone by the chance that a
/// position that far inside or outside it is in it, the zone kept at a
/// chance of leaving it per second) rather than from the hysteresis above
/// (90.6% to 92.8% over spreads of 0.5 to 2.5 m, stays of 10 to 100 s and
/// switching odds of 1 to 10; under 1.5 m it flaps); the body loss of a
/// standing shopper facing the nearest shelf, on top of the weighting of
/// weaker levels (3 dB 92.9%, 5 dB 92.6%, 8 dB 91.7%); the engine's
/// shelf loss at the simulator's 5 dB (91.4%). Measured alongside, with
/// the simulator changed: the store's own shadowing field off 91.3% (the
/// map of it is not what limits), and the body's loss off 95.1% (see
/// `knowing_every_shopper_s_facing_would_only_reach_the_aim`). Taking
/// each sample's zone from either the engine or the plain point-in-zone
/// test of its position, whichever is right, would give 95.1%: the
/// hysteresis loses as many samples as it saves, but neither rule alone
/// knows which.
///
/// The store's own shadowing field is one draw (`RadioConfig::site_seed`
/// 0). Four other draws give 90.0%, 92.7%, 86.9% and 90.2%: over five
/// stores like this one the mean is 90.5%, and the share wrong more than a
/// metre inside a zone runs 0.5% to 2.5%. This test holds the first draw.
///
/// More anchors do not buy it back. Six more, one hung at 2.5 m in the
/// middle of each aisle, the produce, the meat counter and the checkout,
/// give 91.3%, 91.8%, 94.0% and 92.5% as the four draws of their fields
/// fall (94.2% in an earlier draw), against 92.6% without them; one in
/// aisle 2 alone puts that aisle right 99.7% of the time, but aisle 3,
/// beyond the gondola, 72% (89.4% without). The body's loss is not noise
/// that more anchors average away: every anchor behind a shopper loses
/// alike, and the fix slides forward whatever their number.
///
/// Radio alone, against 92.6%: the body's loss off 95.1%; each shopper's
/// own shadowing off 94.1%; both 97.1%; phone offsets off 92.6% (they are
/// learnt online). Earlier, against 91.7%: the body's loss at 4 dB
/// instead of 8 95.6%. What is left is the part of the radio that
/// belongs to the shopper (see `what_is_left_is_the_shopper_s_own_radio`).
#[test]
fn a_calibrated_store_places_shoppers_in_the_right_zone() {
    let radio = RadioConfig::default();
    let calibrated = calibrated_demo(99, 20, 10.0, &radio);
    let (mean, lowest, deep_wrong) = runs(&SEEDS, Some(&calibrated), &radio);
    eprintln!(
        "calibrated store: zone correct {:.1}% (mean of ten runs), lowest {:.1}%; \
         more than 1 m inside a zone, wrong {:.2}%",
        mean * 100.0,
        lowest * 100.0,
        deep_wrong * 100.0
    );
    assert!(mean >= CALIBRATED, "{:.1}%", mean * 100.0);
    assert!(lowest >= CALIBRATED_LOWEST, "{:.1}%", lowest * 100.0);
    assert!(deep_wrong <= DEEP_WRONG, "{:.2}% wrong", deep_wrong * 100.0);
}

/// Held with a margin below what is measured, so a regression shows.
const CALIBRATED: f64 = 0.91;
const CALIBRATED_LOWEST: f64 = 0.85;
/// Share of samples more than 1 m inside a zone placed elsewhere, all ten
/// runs together: measured 0.54%.
const DEEP_WRONG: f64 = 0.02;

/// The store as installed, before any calibration: the demo layout
/// carries anchor positions and heights only, no `rssi_at_1m` or
/// `path_loss_exponent`, so the engine runs on its own defaults (shelf
/// loss 2 dB against the simulator's 5, exponent 3.0 against 2.2).
/// Measured: 88.0% (mean of ten runs, each 80.4% to 97.7%). The engine
/// learns no phone offsets here: against uncalibrated anchors the
/// residuals measure the defaults, not the phones.
#[test]
fn an_uncalibrated_store_does_as_measured() {
    let (mean, lowest, _) = runs(&SEEDS, None, &RadioConfig::default());
    eprintln!(
        "uncalibrated store: zone correct {:.1}% (mean of ten runs), lowest {:.1}%",
        mean * 100.0,
        lowest * 100.0
    );
    assert!(mean >= UNCALIBRATED, "{:.1}%", mean * 100.0);
    assert!(lowest >= UNCALIBRATED_LOWEST, "{:.1}%", lowest * 100.0);
}

const UNCALIBRATED: f64 = 0.84;
const UNCALIBRATED_LOWEST: f64 = 0.77;

/// What keeps the calibrated store short of 95%: the same deployment with
/// the radio's personal part turned off (each shopper's own slow
/// shadowing, their body, their phone's transmit offset; the store's
/// shadowing, fading and the sensitivity floor kept) reaches 96.6% (mean
/// of ten runs; 95.4% with the round 1 m kernel fixed, before the weighting
/// of weaker levels and the zone depth from inner borders). Each alone
/// costs 1-2%: a shopper standing at a shelf faces it, their body takes up
/// to 8 dB off every anchor behind them, and the fix slides towards the
/// shelf, sometimes through it into the next aisle.
#[test]
fn what_is_left_is_the_shopper_s_own_radio() {
    let impersonal = RadioConfig {
        shadowing_sigma_db: 0.0,
        body_loss_db: 0.0,
        phone_offset_sigma_db: 0.0,
        ..RadioConfig::default()
    };
    calibrated_with(&impersonal, "no personal radio", IMPERSONAL);
}

/// The realistic deployment over `SEEDS` on a simulated radio other than
/// the default, calibrated from a walk on that same radio; the mean share
/// must reach `least`.
fn calibrated_with(radio: &RadioConfig, what: &str, least: f64) {
    let calibrated = calibrated_demo(99, 20, 10.0, radio);
    let (mean, _, _) = runs(&SEEDS, Some(&calibrated), radio);
    eprintln!(
        "calibrated store, {what}: zone correct {:.1}% (mean of ten runs)",
        mean * 100.0
    );
    assert!(mean >= least, "{what}: {:.1}%", mean * 100.0);
}

const IMPERSONAL: f64 = 0.94;

/// How far modelling the shopper's body could go. The body's loss is the
/// one personal part with a structure a locator might learn (one unknown
/// per shopper: which way they face); their own shadowing is drawn per
/// link and their phone's offset is already learnt online. A locator that
/// knew every shopper's facing at every moment could take the body's loss
/// off each reading exactly, which is this run: the same deployment with
/// only the body's loss turned off, everything else personal kept. It
/// reaches 95.1% (mean of ten runs; 95.0% with weaker levels weighed alike,
/// 95.2% at 0.9): at the aim, not beyond it. Over five draws of the
/// store's shadowing field (see above) it gives 94.5% to 95.4%, mean
/// 94.9%, where the full radio gives 86.9% to 92.7%. A locator that has
/// to guess the facing from the levels themselves does worse than one
/// that knows it, so no model of the body closes the gap on this
/// deployment; the attempts (four headings per fix, the nearest shelf's
/// facing, a grid filter) are listed with
/// `a_calibrated_store_places_shoppers_in_the_right_zone`.
#[test]
fn knowing_every_shopper_s_facing_would_only_reach_the_aim() {
    let no_body = RadioConfig {
        body_loss_db: 0.0,
        ..RadioConfig::default()
    };
    calibrated_with(&no_body, "no body loss", NO_BODY);
}

/// Held with a margin below the 95.1% measured.
const NO_BODY: f64 = 0.935;
