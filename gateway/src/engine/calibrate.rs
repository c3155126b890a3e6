//! Calibration: fitting each anchor's radio model, `rssi = p0 - 10 n
//! log10(d)`, from sightings at known positions.
//!
//! Readings are pooled per anchor into cells (`cell_m`): a surveyed
//! reference point keeps a cell of its own, a calibration walk's readings
//! (each at its own position) one per cell walked through. Each cell is
//! reduced to the interquartile mean of its readings, as the RSSI filter
//! reduces its window, so a point heard 60 times weighs as much as one
//! heard 10 times and multipath dips do not drag the fit. The shelves of
//! the layout cost what the locator charges for them
//! (`locate.shelf_loss_db`), so the line is fitted to the levels with that
//! loss given back. A least-squares line through `(10 log10(d), reduced
//! rssi)` gives `p0` and `n`; points further than `outlier_k` residual RMS
//! from it (a wall, a column in the way) are dropped and the line fitted
//! once more. `n` is held to 1.0..=6.0, the range the layout accepts. With
//! several phones in the data, each one's mean residual (its transmit
//! offset) is taken off its readings and the lines fitted again.
//!
//! What the fitted line leaves in each cell, the anchor's shadowing there,
//! is kept as a [`ShadowingMap`] for the locator.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::locate::{LocateConfig, RadioModel, shelf_loss_db};
use super::shadowing::{ShadowingMap, ShadowingSample};
use crate::layout::{Layout, Point};
use crate::record::RecordedSighting;

/// Parameters of the fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrateConfig {
    /// Reference points an anchor needs for a fit. Default 4.
    pub min_points: usize,
    /// Points further than this many residual RMS from the first fit are
    /// dropped before the second. Default 2.5.
    pub outlier_k: f64,
    /// Widest kernel of the shadowing map across rays from the anchor,
    /// metres (see [`ShadowingMap::bandwidth_m`]). Default 2. The map's
    /// widths are chosen by how well they predict each reference point's
    /// residual from the others: see [`KERNEL_CHOICES`].
    pub shadowing_bandwidth_m: f64,
    /// Weight of the map's pull towards the plain model (see
    /// [`ShadowingMap::prior_weight`]). Default 0.5.
    pub shadowing_prior_weight: f64,
    /// Readings are pooled per anchor into square cells this wide, metres,
    /// each reduced to one reference point at the readings' mean position.
    /// Surveyed reference points (the reference room's lie 1.3 m apart and
    /// more) keep a cell each; a calibration walk, whose every reading has
    /// its own position, becomes one point per cell walked through, which
    /// keeps the map small and the locator quick to build. Default 0.5.
    pub cell_m: f64,
}

impl Default for CalibrateConfig {
    fn default() -> Self {
        CalibrateConfig {
            min_points: 4,
            outlier_k: 2.5,
            shadowing_bandwidth_m: 2.0,
            shadowing_prior_weight: 0.5,
            cell_m: 0.5,
        }
    }
}

/// The path-loss exponents the layout accepts.
const EXPONENT_RANGE: std::ops::RangeInclusive<f64> = 1.0..=6.0;

/// One anchor's fit.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorFit {
    /// The anchor's id.
    pub anchor: String,
    /// Fitted RSSI at 1 m, dBm (the layout's previous value if not fitted).
    pub rssi_at_1m: f64,
    /// Fitted path-loss exponent (the previous value if not fitted).
    pub path_loss_exponent: f64,
    /// RMS of the residuals over the points used, dB.
    pub residual_rms_db: f64,
    /// Reference points used in the final fit.
    pub points: usize,
    /// Whether the anchor had enough points to be fitted.
    pub fitted: bool,
}

/// The result of a calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The input layout with the fitted values.
    pub layout: Layout,
    /// One fit per anchor, in layout order.
    pub fits: Vec<AnchorFit>,
    /// Sightings skipped for naming an anchor not in the layout.
    pub unknown_anchor: usize,
    /// Sightings skipped for carrying no true position.
    pub no_position: usize,
    /// What the fitted models leave at each reference point.
    pub shadowing: ShadowingMap,
}

/// Fits every anchor of `layout` from `sightings`; distances use the
/// anchor heights and device height of `locate`, and shelves in the layout
/// cost `locate.shelf_loss_db` each, as the locator expects.
#[must_use]
pub fn calibrate<'a>(
    layout: &Layout,
    sightings: impl IntoIterator<Item = &'a RecordedSighting>,
    locate: &LocateConfig,
    config: &CalibrateConfig,
) -> Calibration {
    let index: HashMap<&str, usize> = layout
        .anchors
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let models: Vec<RadioModel> = layout
        .anchors
        .iter()
        .map(|a| RadioModel::of(a, locate))
        .collect();
    let mut devices: HashMap<&str, usize> = HashMap::new();
    let mut readings = Vec::new();
    let (mut unknown_anchor, mut no_position) = (0, 0);
    for s in sightings {
        let Some(&a) = index.get(s.anchor.as_str()) else {
            unknown_anchor += 1;
            continue;
        };
        let Some(p) = s.truth() else {
            no_position += 1;
            continue;
        };
        let next = devices.len();
        let device = s
            .device
            .as_deref()
            .map_or(NO_DEVICE, |d| *devices.entry(d).or_insert(next));
        readings.push(Reading {
            anchor: a,
            device,
            p,
            loss: 10.0 * models[a].distance(p).log10(),
            shelves_db: shelf_loss_db(&layout.shelves, &models[a], locate, p),
            rssi: s.rssi,
        });
    }
    let fit_all = |cells: &[Vec<Cell>]| -> Vec<Option<Line>> {
        cells
            .iter()
            .zip(&models)
            .map(|(at, m)| fit_anchor(at, m.path_loss_exponent, config))
            .collect()
    };
    let mut cells = cells_of(&readings, models.len(), config.cell_m);
    let mut lines = fit_all(&cells);
    // Phones differ by several dB, and every reading of one phone carries
    // its offset: with several phones in the reference data, each one's
    // mean residual against the first fit is taken off its readings and the
    // anchors fitted again, so the map keeps the place and not the phones.
    if devices.len() >= 2 {
        take_off_phone_offsets(&mut readings, &lines, devices.len());
        cells = cells_of(&readings, models.len(), config.cell_m);
        lines = fit_all(&cells);
    }
    let mut out = layout.clone();
    // A map measured against the old models does not fit the new ones.
    out.shadowing = None;
    let mut fits = Vec::with_capacity(layout.anchors.len());
    let mut shadowing = ShadowingMap {
        bandwidth_m: config
            .shadowing_bandwidth_m
            .min(DENSE_BANDWIDTH_SPACINGS * median_spacing(&cells, config.cell_m)),
        prior_weight: config.shadowing_prior_weight,
        samples: Vec::new(),
        ..ShadowingMap::none()
    };
    for (((anchor, at), line), model) in out.anchors.iter_mut().zip(&cells).zip(lines).zip(&models)
    {
        let Some(line) = line else {
            fits.push(AnchorFit {
                anchor: anchor.id.clone(),
                rssi_at_1m: model.rssi_at_1m,
                path_loss_exponent: model.path_loss_exponent,
                residual_rms_db: 0.0,
                points: at.len(),
                fitted: false,
            });
            continue;
        };
        anchor.rssi_at_1m = Some(line.p0);
        anchor.path_loss_exponent = Some(line.n);
        // Every cell, outliers too: a wall's shadow is what the map is for.
        shadowing.samples.extend(at.iter().map(|c| ShadowingSample {
            anchor: anchor.id.clone(),
            x: c.at.x,
            y: c.at.y,
            offset_db: c.offset(&line),
        }));
        fits.push(AnchorFit {
            anchor: anchor.id.clone(),
            rssi_at_1m: line.p0,
            path_loss_exponent: line.n,
            residual_rms_db: line.rms,
            points: line.points,
            fitted: true,
        });
    }
    choose_kernel(&mut shadowing, &out, locate);
    Calibration {
        layout: out,
        fits,
        unknown_anchor,
        no_position,
        shadowing,
    }
}

/// The kernel shapes calibration chooses among: (width across rays as a
/// share of the widest, width along rays over width across). Each is
/// scored by predicting every reference point's residual from the other
/// points (leave one out) and the best kept. Where shadowing comes from
/// obstacles casting shadows away from the anchor, long kernels along the
/// rays predict best (the reference room: 2 m across, 6 m along, 3.4-3.6
/// dB against 3.5-3.7 dB for a round kernel); where it is a field over the
/// floor, round ones do (the simulated demo store, whose calibrated zone
/// accuracy fell from 91.7% with a round kernel to 89.9% with one three
/// times longer along the rays).
pub const KERNEL_CHOICES: [(f64, f64); 9] = [
    (0.5, 1.0),
    (0.5, 2.0),
    (0.5, 3.0),
    (0.75, 1.0),
    (0.75, 2.0),
    (0.75, 3.0),
    (1.0, 1.0),
    (1.0, 2.0),
    (1.0, 3.0),
];

/// Residuals predicted per anchor when scoring a kernel: enough for a
/// stable figure, few enough that a dense walk's thousand cells per anchor
/// score in well under a second.
const KERNEL_SCORE_TARGETS: usize = 200;

/// Sets `map`'s kernel widths to the [`KERNEL_CHOICES`] entry that best
/// predicts its own samples left out one at a time.
fn choose_kernel(map: &mut ShadowingMap, layout: &Layout, locate: &LocateConfig) {
    if map.samples.is_empty() {
        return;
    }
    let models: Vec<RadioModel> = layout
        .anchors
        .iter()
        .map(|a| RadioModel::of(a, locate))
        .collect();
    // Where the samples lie about each anchor does not depend on the shape.
    let anchors = map.per_anchor(layout, &models);
    let widest = map.bandwidth_m;
    let mut best = (f64::INFINITY, widest, map.along_ray_m);
    for (share, ratio) in KERNEL_CHOICES {
        map.bandwidth_m = widest * share;
        map.along_ray_m = map.bandwidth_m * ratio;
        let rms = map.leave_one_out_rms(&anchors, KERNEL_SCORE_TARGETS);
        if rms < best.0 {
            best = (rms, map.bandwidth_m, map.along_ray_m);
        }
    }
    (map.bandwidth_m, map.along_ray_m) = (best.1, best.2);
}

/// The device of readings that name none.
const NO_DEVICE: usize = usize::MAX;

/// The map's kernel spans at most this many median spacings of the
/// reference points. Surveyed points (the reference room's lie a median
/// 2.1 m apart) keep the configured width; a calibration walk's 0.5 m cells
/// get a 1 m kernel, which on the simulated demo store followed its
/// shadowing best (zone right 92.7% of settled samples, mean of ten runs,
/// against 91.4% at 2 m and 89.7% at 4 m, in a store whose shadowing
/// decorrelates over 3 m).
const DENSE_BANDWIDTH_SPACINGS: f64 = 3.0;

/// One reading at a known position.
#[derive(Debug, Clone, Copy)]
struct Reading {
    anchor: usize,
    /// Index of the device that sent it, or [`NO_DEVICE`].
    device: usize,
    p: Point,
    /// `10 log10(d)` to the anchor.
    loss: f64,
    /// Loss the locator expects from shelves in the way, dB.
    shelves_db: f64,
    rssi: f64,
}

/// The readings of one anchor in one cell, reduced.
#[derive(Debug, Clone)]
struct Cell {
    /// Mean position of the readings: a reference point's own position
    /// when they were all taken there.
    at: Point,
    /// Mean `10 log10(d)`.
    loss: f64,
    /// Interquartile mean of the readings with the shelves' loss given
    /// back, dBm.
    unshelved: f64,
    readings: Vec<Reading>,
}

impl Cell {
    fn of(readings: Vec<Reading>) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let k = readings.len() as f64;
        let at = Point::new(
            readings.iter().map(|r| r.p.x).sum::<f64>() / k,
            readings.iter().map(|r| r.p.y).sum::<f64>() / k,
        );
        let loss = readings.iter().map(|r| r.loss).sum::<f64>() / k;
        let mut levels: Vec<f64> = readings.iter().map(|r| r.rssi + r.shelves_db).collect();
        Cell {
            at,
            loss,
            unshelved: interquartile_mean(&mut levels),
            readings,
        }
    }

    /// What the locator's model (`line` and the shelves) leaves in this
    /// cell: the interquartile mean of each reading's residual, dB.
    fn offset(&self, line: &Line) -> f64 {
        let mut residuals: Vec<f64> = self
            .readings
            .iter()
            .map(|r| r.rssi - line.expected(r))
            .collect();
        interquartile_mean(&mut residuals)
    }
}

/// Takes each phone's mean residual against `lines` off its readings.
fn take_off_phone_offsets(readings: &mut [Reading], lines: &[Option<Line>], devices: usize) {
    let mut sums = vec![(0.0, 0.0); devices];
    for r in readings.iter() {
        if let (Some(line), Some(sum)) = (&lines[r.anchor], sums.get_mut(r.device)) {
            sum.0 += r.rssi - line.expected(r);
            sum.1 += 1.0;
        }
    }
    for r in readings {
        if let Some(&(sum, k)) = sums.get(r.device) {
            r.rssi -= sum / f64::max(k, 1.0);
        }
    }
}

/// An anchor's fitted line.
#[derive(Debug, Clone, Copy)]
struct Line {
    p0: f64,
    n: f64,
    rms: f64,
    points: usize,
}

impl Line {
    /// The level the line (and the shelves) expects for a reading, dBm.
    fn expected(&self, r: &Reading) -> f64 {
        self.p0 - self.n * r.loss - r.shelves_db
    }
}

/// Readings pooled per anchor into cells `cell_m` wide, in a deterministic
/// order.
fn cells_of(readings: &[Reading], anchors: usize, cell_m: f64) -> Vec<Vec<Cell>> {
    let mut in_cells: HashMap<(usize, i64, i64), Vec<Reading>> = HashMap::new();
    for r in readings {
        #[allow(clippy::cast_possible_truncation)] // cells of a floor plan
        let key = (
            r.anchor,
            (r.p.x / cell_m).floor() as i64,
            (r.p.y / cell_m).floor() as i64,
        );
        in_cells.entry(key).or_default().push(*r);
    }
    let mut per_anchor: Vec<Vec<Cell>> = vec![Vec::new(); anchors];
    for ((a, _, _), readings) in in_cells {
        per_anchor[a].push(Cell::of(readings));
    }
    for at in &mut per_anchor {
        at.sort_by(|a, b| a.at.x.total_cmp(&b.at.x).then(a.at.y.total_cmp(&b.at.y)));
    }
    per_anchor
}

/// The line through one anchor's cells, or none with too few of them.
fn fit_anchor(at: &[Cell], fallback_n: f64, config: &CalibrateConfig) -> Option<Line> {
    // What a shelf-free log-distance line must explain: the level with the
    // shelves' expected loss given back.
    let points: Vec<(f64, f64)> = at.iter().map(|c| (c.loss, c.unshelved)).collect();
    if points.len() < config.min_points {
        return None;
    }
    let (mut p0, mut n) = fit_line(&points, fallback_n);
    let mut rms = rms_residual(&points, p0, n);
    let mut used = points.len();
    let kept: Vec<_> = points
        .iter()
        .copied()
        .filter(|&(l, r)| (r - (p0 - n * l)).abs() <= config.outlier_k * rms)
        .collect();
    if kept.len() >= config.min_points && kept.len() < points.len() {
        (p0, n) = fit_line(&kept, fallback_n);
        rms = rms_residual(&kept, p0, n);
        used = kept.len();
    }
    Some(Line {
        p0,
        n,
        rms,
        points: used,
    })
}

/// The median distance from a reference point (a cell of any anchor) to
/// its nearest neighbour, metres; infinite with fewer than two. Over at
/// most 1,000 of them, spread evenly, so a large walk stays quick.
fn median_spacing(cells: &[Vec<Cell>], cell_m: f64) -> f64 {
    // One point per cell: the anchors' cells there lie a few centimetres
    // apart (each the mean of what that anchor heard).
    let mut seen = std::collections::HashSet::new();
    let points: Vec<Point> = cells
        .iter()
        .flatten()
        .filter(|c| {
            #[allow(clippy::cast_possible_truncation)] // cells of a floor plan
            let key = (
                (c.at.x / cell_m).floor() as i64,
                (c.at.y / cell_m).floor() as i64,
            );
            seen.insert(key)
        })
        .map(|c| c.at)
        .collect();
    if points.len() < 2 {
        return f64::INFINITY;
    }
    let stride = points.len().div_ceil(1000);
    let mut nearest: Vec<f64> = points
        .iter()
        .step_by(stride)
        .map(|p| {
            points
                .iter()
                .map(|q| p.distance(*q))
                .filter(|&d| d > 1e-6)
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    nearest.sort_by(f64::total_cmp);
    nearest[nearest.len() / 2]
}

/// Least squares `rssi = p0 - n * loss` over `(loss, rssi)`, `n` held to
/// [`EXPONENT_RANGE`]; `fallback_n` when the losses do not spread.
fn fit_line(points: &[(f64, f64)], fallback_n: f64) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss)]
    let k = points.len() as f64;
    let mean_l = points.iter().map(|p| p.0).sum::<f64>() / k;
    let mean_r = points.iter().map(|p| p.1).sum::<f64>() / k;
    let (mut sll, mut slr) = (0.0, 0.0);
    for &(l, r) in points {
        sll += (l - mean_l) * (l - mean_l);
        slr += (l - mean_l) * (r - mean_r);
    }
    let n = if sll > 1e-9 { -slr / sll } else { fallback_n };
    let n = n.clamp(*EXPONENT_RANGE.start(), *EXPONENT_RANGE.end());
    // With n fixed (clamped or not) the best p0 is the mean of rssi + n l.
    (mean_r + n * mean_l, n)
}

fn rms_residual(points: &[(f64, f64)], p0: f64, n: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let k = points.len() as f64;
    (points
        .iter()
        .map(|&(l, r)| (r - (p0 - n * l)).powi(2))
        .sum::<f64>()
        / k)
        .sqrt()
}

/// The mean of the middle half of `v` (reordered): the lowest and highest
/// quarter dropped, as the RSSI filter reduces its window, so a fitted
/// model expects the level the filter reports. 0 for an empty slice.
///
/// Against the median this keeps the resolution that whole-dB readings
/// lose: on the reference room (5-fold by point) per-point fixes from
/// interquartile means are 1.8 m median against 1.9 m from medians.
#[must_use]
pub fn interquartile_mean(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len() / 4;
    let mid = &v[k..v.len() - k];
    #[allow(clippy::cast_precision_loss)]
    let n = mid.len() as f64;
    mid.iter().sum::<f64>() / n
}

#[cfg(test)]
mod tests;
