//! The engine against synthetic sightings and the reference room's real
//! ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aisle_gateway::engine::calibrate::{
    CalibrateConfig, Calibration, calibrate, interquartile_mean,
};
use aisle_gateway::engine::filter::Level;
use aisle_gateway::engine::locate::{LocateConfig, Locator, RadioModel};
use aisle_gateway::engine::{AnchorIdx, DeviceTable, Engine, EngineConfig, Output};
use aisle_gateway::layout::{Layout, Point};
use aisle_gateway::record::{self, RecordedSighting};

/// Where the reference room's `file` lies when `../shared` is beside the
/// clone.
fn reference_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/reference-room")
        .join(file)
}

/// The reference room's `file`, or `None` (saying the test is skipped)
/// when it is absent.
fn reference_room(file: &str) -> Option<PathBuf> {
    let path = reference_path(file);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} absent (the shared data sits beside the checkout in CI)",
            path.display()
        );
        None
    }
}

/// xorshift64: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        #[allow(clippy::cast_precision_loss)]
        let u = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        u
    }

    /// Roughly normal, standard deviation 1 (Irwin-Hall of 12).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

#[test]
fn synthetic_sightings_with_fading_and_dips_locate_within_a_metre() {
    let path = reference_path("layout.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        println!(
            "{} not found (../shared is not beside this clone): a 20 x 17 m stand-in room \
             with twelve anchors instead",
            path.display()
        );
        small_room()
    });
    let mut layout = Layout::parse(&text, "room").unwrap();
    for a in &mut layout.anchors {
        a.rssi_at_1m = Some(-62.0);
        a.path_loss_exponent = Some(2.4);
    }
    let models: Vec<_> = layout
        .anchors
        .iter()
        .map(|a| RadioModel::of(a, &LocateConfig::default()))
        .collect();
    let mut devices = DeviceTable::new();
    let mut engine = Engine::new(&layout, EngineConfig::default()).unwrap();
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (k, truth) in [
        (2.0, 3.0),
        (5.5, 9.0),
        (10.0, 8.8),
        (15.0, 4.0),
        (17.0, 15.0),
        (9.0, 14.0),
    ]
    .into_iter()
    .enumerate()
    {
        let truth = Point::new(truth.0, truth.1);
        let device = devices.intern(&format!("phone-{k}"));
        out.clear();
        // 20 s, each anchor every 0.3 s: 3 dB of fast fading and one
        // reading in eight a deep multipath dip.
        for step in 0..67 {
            let t = 1000.0 + f64::from(step) * 0.3;
            for (i, m) in models.iter().enumerate() {
                let dip = if noise.uniform() < 0.125 { -15.0 } else { 0.0 };
                let rssi = (m.expected_rssi(truth) + 3.0 * noise.normal() + dip).round();
                let anchor = AnchorIdx(u16::try_from(i).unwrap());
                engine
                    .observe(t, anchor, device, rssi.max(-127.0), &mut out)
                    .unwrap();
            }
        }
        // Every fix after a 5 s warm-up.
        errors.extend(out.iter().filter_map(|o| match o {
            Output::Position(p) if p.ts >= 1005.0 => Some(Point::new(p.x, p.y).distance(truth)),
            _ => None,
        }));
    }
    errors.sort_by(f64::total_cmp);
    let (median, p90) = (percentile(&errors, 0.5), percentile(&errors, 0.9));
    println!(
        "synthetic, 6 points, {} fixes: median {median:.2} m, p90 {p90:.2} m",
        errors.len()
    );
    // 3 dB of fading per reading leaves the filtered levels about 1.5 dB
    // off, which near a wall, with most anchors far, is a metre or two.
    assert!(median < 0.8 && p90 < 2.0, "median {median}, p90 {p90}");
}

/// Used when the reference room is absent: a room of its size (20 x 17 m)
/// with as many anchors (twelve, on a 4 x 3 grid at 2.3 m), so that the
/// same bounds hold; its own layout is not copied here.
fn small_room() -> String {
    use std::fmt::Write as _;
    let mut text = String::from("[store]\nid = \"room\"\ntimezone = \"UTC\"\n");
    for (i, x) in [1.0, 7.0, 13.0, 19.0].into_iter().enumerate() {
        for (j, y) in [1.0, 8.5, 16.0].into_iter().enumerate() {
            let _ = write!(
                text,
                "[[anchor]]\nid = \"a{i}{j}\"\nx = {x:.1}\ny = {y:.1}\nz = 2.3\n"
            );
        }
    }
    text
}

/// Sightings of the reference room grouped by reference point (in file
/// order of first appearance).
fn reference_points(path: &Path) -> Vec<(Point, Vec<RecordedSighting>)> {
    let mut points: BTreeMap<(i64, i64), (usize, Point, Vec<RecordedSighting>)> = BTreeMap::new();
    let skipped = record::read_all(record::open(path).unwrap(), |s| {
        let p = s.truth().unwrap();
        #[allow(clippy::cast_possible_truncation)]
        let key = ((p.x * 1000.0).round() as i64, (p.y * 1000.0).round() as i64);
        let n = points.len();
        points
            .entry(key)
            .or_insert_with(|| (n, p, Vec::new()))
            .2
            .push(s);
    })
    .unwrap();
    assert!(skipped.is_empty());
    let mut v: Vec<_> = points.into_values().collect();
    v.sort_by_key(|(i, _, _)| *i);
    v.into_iter().map(|(_, p, s)| (p, s)).collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Per-anchor interquartile means of a point's sightings (the reduction
/// of the RSSI filter and of calibration), as levels.
fn point_levels(layout: &Layout, sightings: &[RecordedSighting]) -> Vec<Level> {
    let mut per: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for s in sightings {
        let i = layout
            .anchors
            .iter()
            .position(|a| a.id == s.anchor)
            .unwrap();
        per.entry(i).or_default().push(s.rssi);
    }
    per.into_iter()
        .map(|(i, mut v)| Level {
            anchor: AnchorIdx(u16::try_from(i).unwrap()),
            rssi: interquartile_mean(&mut v),
            variance_db2: 1.0,
        })
        .collect()
}

/// The time of the last sighting of the receiver that finishes first.
fn complete_until(sightings: &[RecordedSighting]) -> f64 {
    let mut last: BTreeMap<&str, f64> = BTreeMap::new();
    for s in sightings {
        last.insert(&s.anchor, s.ts);
    }
    last.into_values().fold(f64::INFINITY, f64::min)
}

/// Folds of the cross-validation, by reference point.
const FOLDS: usize = 5;

/// The whole pipeline on one reference point's sightings in time order:
/// every position after a 5 s warm-up, as on a walk that paused there,
/// until the first receiver has given its 60 readings (after that the data
/// set thins out to a few receivers, which a walk past live anchors never
/// does).
fn engine_positions(
    fitted: &Calibration,
    config: &EngineConfig,
    sightings: &[RecordedSighting],
) -> Vec<Point> {
    let mut engine = Engine::with_shadowing(&fitted.layout, *config, &fitted.shadowing).unwrap();
    let mut devices = DeviceTable::new();
    let mut out = Vec::new();
    for s in sightings {
        let device = devices.intern(s.device.as_deref().unwrap());
        engine
            .observe_named(s.ts, &s.anchor, device, s.rssi, &mut out)
            .unwrap();
    }
    let (start, end) = (sightings[0].ts + 5.0, complete_until(sightings));
    out.iter()
        .filter_map(|o| match o {
            Output::Position(p) if (start..=end).contains(&p.ts) => Some(Point::new(p.x, p.y)),
            _ => None,
        })
        .collect()
}

#[test]
fn reference_room_cross_validated_by_point() {
    let (Some(layout_path), Some(data)) = (
        reference_room("layout.toml"),
        reference_room("calibration.jsonl.gz"),
    ) else {
        return;
    };
    let layout = Layout::load(&layout_path).unwrap();
    let points = reference_points(&data);
    assert_eq!(points.len(), 81);
    let config = EngineConfig::default();
    let (mut fix_errors, mut engine_errors, mut plain_errors) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut zone_hits, mut engine_fixes) = (0, 0);
    let zone = |q: Point| layout.zones.iter().position(|z| z.contains(q));
    for fold in 0..FOLDS {
        let training = points
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .flat_map(|(_, (_, s))| s);
        let fitted = calibrate(
            &layout,
            training,
            &config.locate,
            &CalibrateConfig::default(),
        );
        let kernel = (fitted.shadowing.bandwidth_m, fitted.shadowing.along_ray_m);
        println!("fold {fold}: shadowing kernel across, along (m): {kernel:?}");
        let mut locator = Locator::with_shadowing(&fitted.layout, config.locate, &fitted.shadowing);
        let mut plain = Locator::new(&fitted.layout, config.locate);
        for (i, (truth, sightings)) in points.iter().enumerate() {
            if i % FOLDS != fold {
                continue;
            }
            let fix = locator
                .locate(&point_levels(&fitted.layout, sightings))
                .unwrap();
            fix_errors.push(fix.position.distance(*truth));
            let fix = plain
                .locate(&point_levels(&fitted.layout, sightings))
                .unwrap();
            plain_errors.push(fix.position.distance(*truth));
            for q in engine_positions(&fitted, &config, sightings) {
                engine_errors.push(q.distance(*truth));
                engine_fixes += 1;
                if zone(q) == zone(*truth) {
                    zone_hits += 1;
                }
            }
        }
    }
    fix_errors.sort_by(f64::total_cmp);
    plain_errors.sort_by(f64::total_cmp);
    println!(
        "reference room, plain model (no shadowing map), per-point fix from interquartile means: \
         median {:.2} m, p90 {:.2} m",
        percentile(&plain_errors, 0.5),
        percentile(&plain_errors, 0.9)
    );
    engine_errors.sort_by(f64::total_cmp);
    let (fix_median, fix_p90) = (percentile(&fix_errors, 0.5), percentile(&fix_errors, 0.9));
    let (engine_median, engine_p90) = (
        percentile(&engine_errors, 0.5),
        percentile(&engine_errors, 0.9),
    );
    println!(
        "reference room, {FOLDS}-fold by point, 81 points: \
         per-point fix from interquartile means: median {fix_median:.2} m, p90 {fix_p90:.2} m; \
         engine (filter+motion), {engine_fixes} fixes after 5 s: median {engine_median:.2} m, \
         p90 {engine_p90:.2} m, right zone {zone_hits}/{engine_fixes}"
    );
    // Measured: 1.32 m / 4.02 m per point, 1.48 m / 4.44 m through the
    // engine, 73% in the right zone, with calibration choosing each fold's
    // kernel by how well it predicts the training points' residuals left
    // out one at a time (`calibrate::KERNEL_CHOICES`; widths printed
    // above), and levels weaker than expected weighted 0.8
    // (`locate.weaker_weight`; with 1, as for the figures that follow:
    // 1.44 m / 4.13 m, 1.49 m / 4.47 m, 71%). With the widths fixed by hand at 2 m across and 6 m along,
    // the best on these very folds: 1.27 m / 3.81 m per point, 1.46 m /
    // 4.42 m through the engine, 70% in the right zone. The same
    // folds with a round 3 m kernel gave 1.74 / 3.65 and 1.81 / 4.62, 69%;
    // the plain model (no map) gives 2.07 / 4.92 per point. Across 1.5-2 m
    // and along 6-20 m all give 1.27-1.40 per point and 1.44-1.53 through
    // the engine; 3 m across (an old layout's width) 1.52-1.67 and
    // 1.68-1.72. These folds are at the lucky end: on four other random
    // 5-fold splits (prototyped outside the engine) the ray map gives
    // 1.36-1.59 m per point where the round one gives 1.67-1.85, and
    // leaving one point out at a time 1.44 against 1.66.
    //
    // Tried on the same folds, prototyped outside the engine (per-point
    // medians / p90s; there the round map gives 1.67 / 3.73 and the ray
    // map 1.31 / 3.81), and left out. Against the round map: a
    // Gaussian-process map per anchor (log-distance mean, residual GP with
    // length, signal and noise fitted by marginal likelihood on the
    // training folds: about 2.5 m, 2-3 dB, 3 dB) matches the kernel average
    // with its mean (1.67 / 3.87), and its predictive variance as
    // per-position noise makes fixes worse (1.98 / 4.83): the variance
    // shrinks at the training points and pulls fixes onto them. WKNN over
    // the training points' level vectors is 2.7-3.0 m for k = 1..8 (a
    // held-out point lies 2.2 m from the nearest training point), and
    // averaging its fix with the model's 2.02 m. A free per-fix offset
    // (unknown transmit power) 2.27; the posterior mean instead of the best
    // cell 1.76 or worse; a shadowing field shared by all anchors
    // (attenuation integrated along each anchor-to-point path, fitted by
    // regularised least squares) 1.70-1.87. Against the ray map: a GP with
    // a ray-shaped kernel 1.49 / 3.80 with its mean, 1.59 with its
    // variance; other reductions than the interquartile mean (mean 1.36 /
    // 4.14, upper quartile 1.50 / 3.47, mean of the upper half 1.36 /
    // 3.82); per receiver kind, the built-in radios at 1.22 m weighted half
    // or double, 1.55 and 1.37; a device height of 0.9 or 1.5 m, 1.32 and
    // 1.33; weighting each level by its readings' spread 1.45-1.55 (1.42
    // without, on that run's weights); a per-metre loss on top of the
    // log-distance model (attenuation factor) 1.38 / 4.61, and 1.35-1.56
    // against 1.36-1.59 on the other splits; only the 6 or 8 strongest
    // levels 1.89 and 1.68. Earlier, with the round kernel:
    // finer grids, other kernel widths, per-anchor sigmas, robust costs,
    // directional terms in the model and filter tuning all moved the median
    // by under 0.1 m. What is left is mostly at the walls beyond the last
    // receivers (the east wall lies 2.5 m past them): the worst tenth of
    // the points land 4-8 m off.
    //
    // The bounds leave about 10% for changes in tuning and catch a broken
    // fit, map or solver, which lands at 1.7 m or more.
    assert!(fix_median < 1.6 && fix_p90 < 4.6, "{fix_median} {fix_p90}");
    assert!(
        engine_median < 1.65 && engine_p90 < 4.95,
        "{engine_median} {engine_p90}"
    );
    assert!(
        zone_hits * 100 >= engine_fixes * 64,
        "{zone_hits}/{engine_fixes}"
    );
    let plain_median = percentile(&plain_errors, 0.5);
    assert!(
        fix_median < plain_median - 0.4,
        "{fix_median} {plain_median}"
    );
}
