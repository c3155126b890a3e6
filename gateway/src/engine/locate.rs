//! Position fixes from filtered RSSI levels.
//!
//! Each anchor follows the log-distance model `rssi = p0 - 10 n log10(d)`,
//! with `d` the 3-D distance between the anchor (at its height) and a phone
//! held at `device_height_m`. Shadowing makes the model's error roughly
//! constant in dB, so the maximum-likelihood position minimises the weighted
//! squared RSSI residuals. With a [`ShadowingMap`] from calibration, the
//! expected RSSI at each position also carries the anchor's measured
//! shadowing there.
//!
//! With three or more anchors, a grid search over the floor (cost of every
//! cell, from a table of `10 log10(d)` per anchor and cell built once) finds
//! the basin of the best fit, and Levenberg-Marquardt refines it off the
//! grid and yields a covariance. With fewer anchors there is no fix to
//! solve; the device is placed near its one anchor, or on the line between
//! its two, with a large uncertainty the motion filter weighs accordingly.

use serde::{Deserialize, Serialize};

use super::filter::Level;
use super::grid::{Grid, Term};
use super::shadowing::ShadowingMap;
use crate::layout::{Anchor, Layout, Point};

/// Parameters of the radio model and the solver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocateConfig {
    /// Height of a phone above the floor, metres: held in a hand or a
    /// trolley. Default 1.2.
    pub device_height_m: f64,
    /// Anchor height when the layout gives none, metres. Default 2.3.
    pub default_anchor_height_m: f64,
    /// RSSI at 1 m for anchors without a fitted value, dBm. Default -59.
    pub default_rssi_at_1m: f64,
    /// Path-loss exponent for anchors without a fitted value. Default 3.0:
    /// indoors, with shelving and people in the way, levels fall faster
    /// than in free space (2.0); published indoor values run 2 to 3 and
    /// more. Fits on the simulated demo store (2.2 plus 5 dB per shelf
    /// crossed) give 2.0 to 3.1. Too low an exponent reads each dB lost as
    /// too much distance: with 2.0 the store's uncalibrated fixes were
    /// pushed away from the anchors and out to the walls (median error
    /// 3.2 m); with 3.0 the median is 1.6 m (2.7 and 3.3 do as well). A
    /// calibrated anchor carries its own exponent and ignores this.
    pub default_path_loss_exponent: f64,
    /// Standard deviation of the radio model itself (shadowing), dB. Added
    /// to each level's own variance to weight it. Default 6: the residual
    /// RMS of models fitted on the reference room is 5-7 dB.
    pub model_sigma_db: f64,
    /// Levels weaker than this, dBm, are trusted less: fading is deeper
    /// near the noise floor and far readings cross more shelves. Default
    /// -70.
    pub weak_below_dbm: f64,
    /// dB below `weak_below_dbm` that add one more model variance to a
    /// level's weight: at the defaults a -80 dBm level counts a third of a
    /// -70 dBm one. Default 5; on the reference room (cross-validated)
    /// this raised fixes in the right zone from 60% to 66% and cut the 90th
    /// percentile error of per-point fixes from 6.0 to 5.7 m, for a median
    /// 0.1 m worse.
    pub weak_scale_db: f64,
    /// How much a level weaker than the model expects counts against a
    /// position, as a share of what one stronger by as much counts. A
    /// body, another shopper, a trolley or goods only ever take power
    /// away, so a level well below the model is often an obstruction the
    /// model does not know of, while one well above it says the phone is
    /// nearer than supposed. 1 weighs both alike. Default 0.8: on the
    /// simulated demo store (calibrated, ten runs) the share of settled
    /// samples in the right zone is 92.6% against 92.1% with 1 (0.85
    /// 92.3%, 0.7 92.9%, 0.5 and 0.3 lower still before the zone change
    /// of the same release); on the reference room (cross-validated) the
    /// median error of per-point fixes is 1.32 m against 1.44 m, of the
    /// engine's 1.48 m against 1.49 m, and the engine is in the right zone
    /// 73% of the time against 71%. 0.7 gives 1.38 m, 1.51 m and 75%: the
    /// engine's median over the 1.5 m aim.
    pub weaker_weight: f64,
    /// Grid step of the coarse search, metres. Default 1.0: finer than the
    /// model's accuracy; refinement takes the fix off the grid.
    pub grid_step_m: f64,
    /// How far beyond the anchors that hear a device the search reaches,
    /// metres. Default 4.
    pub search_margin_m: f64,
    /// How far outside the layout's bounds a fix may lie, metres. Default 1.
    /// (0 cut the share of demo-store fixes in no zone with the old default
    /// exponent of 2.0, but with 3.0 and nearest-zone assignment it no
    /// longer changes the right zone there, and it widened the 90th
    /// percentile per-point error on the reference room from 3.7 to 4.1 m.)
    pub bounds_margin_m: f64,
    /// Loss through each shelf of the layout between a phone and an anchor,
    /// dB: the expected RSSI of a position behind shelving drops by this
    /// much per shelf crossed below its top. Goods and metal shelving at
    /// 2.4 GHz take a few dB to well over ten, but an uncalibrated anchor's
    /// steep default exponent (3.0) already charges distance for part of
    /// it. Default 2: on the simulated demo store (5 dB a shelf, exponent
    /// 2.2) the share of settled samples in the right zone, mean of five
    /// runs, is 85.0% with no shelf loss, 88.2% with 2 dB, 85.5% with 3,
    /// 84.9% with 4, 82.5% with 5 and 77.2% with 8. Layouts without shelves
    /// ignore it.
    pub shelf_loss_db: f64,
}

impl Default for LocateConfig {
    fn default() -> Self {
        LocateConfig {
            device_height_m: 1.2,
            default_anchor_height_m: 2.3,
            default_rssi_at_1m: -59.0,
            default_path_loss_exponent: 3.0,
            model_sigma_db: 6.0,
            weak_below_dbm: -70.0,
            weak_scale_db: 5.0,
            weaker_weight: 0.8,
            grid_step_m: 1.0,
            search_margin_m: 4.0,
            bounds_margin_m: 1.0,
            shelf_loss_db: 2.0,
        }
    }
}

impl LocateConfig {
    /// How much a level counts in a fix: the inverse of its variance, the
    /// model's spread widened for weak levels plus the level's own.
    #[must_use]
    pub fn weight(&self, level: &Level) -> f64 {
        let weakness = 1.0 + (self.weak_below_dbm - level.rssi).max(0.0) / self.weak_scale_db;
        1.0 / (self.model_sigma_db.powi(2) * weakness + level.variance_db2)
    }
}

/// One anchor's radio model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadioModel {
    /// Anchor position, metres.
    pub x: f64,
    /// Anchor position, metres.
    pub y: f64,
    /// Height of the anchor above the phone, metres.
    pub dz: f64,
    /// RSSI at 1 m, dBm.
    pub rssi_at_1m: f64,
    /// Path-loss exponent.
    pub path_loss_exponent: f64,
}

/// Shortest distance the model is evaluated at: closer, the log blows up
/// and the model no longer holds anyway (near field, antenna pattern).
const MIN_DISTANCE_M: f64 = 0.3;

impl RadioModel {
    /// The model of a layout anchor, with defaults for what it lacks.
    #[must_use]
    pub fn of(anchor: &Anchor, config: &LocateConfig) -> Self {
        RadioModel {
            x: anchor.x,
            y: anchor.y,
            dz: anchor.z.unwrap_or(config.default_anchor_height_m) - config.device_height_m,
            rssi_at_1m: anchor.rssi_at_1m.unwrap_or(config.default_rssi_at_1m),
            path_loss_exponent: anchor
                .path_loss_exponent
                .unwrap_or(config.default_path_loss_exponent),
        }
    }

    /// 3-D distance to a phone at `p`, metres.
    #[must_use]
    pub fn distance(&self, p: Point) -> f64 {
        let (dx, dy) = (p.x - self.x, p.y - self.y);
        (dx * dx + dy * dy + self.dz * self.dz)
            .sqrt()
            .max(MIN_DISTANCE_M)
    }

    /// The RSSI the model expects from a phone at `p`.
    #[must_use]
    pub fn expected_rssi(&self, p: Point) -> f64 {
        self.rssi_at_1m - 10.0 * self.path_loss_exponent * self.distance(p).log10()
    }

    /// The horizontal distance the model assigns to `rssi`, metres.
    #[must_use]
    pub fn horizontal_range(&self, rssi: f64) -> f64 {
        let d = 10f64.powf((self.rssi_at_1m - rssi) / (10.0 * self.path_loss_exponent));
        (d * d - self.dz * self.dz).max(0.0).sqrt()
    }
}

/// Loss through `shelves` between a phone at `p` and the anchor of `model`,
/// dB: `config.shelf_loss_db` for each shelf the path crosses below its
/// top. The locator expects it, and calibration gives it back before
/// fitting the line.
#[must_use]
pub fn shelf_loss_db(
    shelves: &[crate::layout::Shelf],
    model: &RadioModel,
    config: &LocateConfig,
    p: Point,
) -> f64 {
    if config.shelf_loss_db <= 0.0 {
        return 0.0;
    }
    let (phone_z, anchor_z) = (config.device_height_m, config.device_height_m + model.dz);
    let anchor = Point::new(model.x, model.y);
    let crossed = shelves
        .iter()
        .filter(|s| s.blocks(p, phone_z, anchor, anchor_z))
        .count();
    #[allow(clippy::cast_precision_loss)] // a few shelves
    let crossed = crossed as f64;
    config.shelf_loss_db * crossed
}

/// A position fix from one set of levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Where the device is, metres.
    pub position: Point,
    /// Standard deviation of the position, metres (per axis).
    pub std_m: f64,
    /// 0..=1: how much to trust the fix (see [`confidence`]).
    pub confidence: f64,
    /// Anchors that contributed.
    pub anchors: usize,
    /// Weighted RMS of the RSSI residuals, dB (0 with fewer than 3 anchors).
    pub residual_db: f64,
}

/// How much to trust a fix: coverage (more anchors, better geometry and
/// less ambiguity) times precision (`1 / (1 + (std / 4 m)²)`: one half at a
/// 4 m standard deviation; a well-covered fix with a 6 dB model error has
/// 2-3 m).
#[must_use]
pub fn confidence(anchors: usize, std_m: f64) -> f64 {
    let coverage = match anchors {
        0 => 0.0,
        1 => 0.2,
        2 => 0.4,
        3 => 0.7,
        _ => 1.0,
    };
    let precision = 1.0 / (1.0 + (std_m / 4.0).powi(2));
    (coverage * precision).clamp(0.0, 1.0)
}

/// Solves positions for one layout.
#[derive(Debug, Clone)]
pub struct Locator {
    models: Vec<RadioModel>,
    config: LocateConfig,
    lo: Point,
    hi: Point,
    grid: Grid,
    shelves: Vec<crate::layout::Shelf>,
    terms: Vec<Term>,
    cost: Vec<f32>,
}

impl Locator {
    /// A locator for `layout`'s anchors, with the plain model.
    #[must_use]
    pub fn new(layout: &Layout, config: LocateConfig) -> Self {
        Self::with_shadowing(layout, config, &ShadowingMap::none())
    }

    /// A locator for `layout`'s anchors whose expected levels follow
    /// `shadowing` (from a calibration of the same layout).
    #[must_use]
    pub fn with_shadowing(layout: &Layout, config: LocateConfig, shadowing: &ShadowingMap) -> Self {
        let models: Vec<_> = layout
            .anchors
            .iter()
            .map(|a| RadioModel::of(a, &config))
            .collect();
        let (lo, hi) = layout.bounds();
        let m = config.bounds_margin_m;
        let (lo, hi) = (
            Point::new(lo.x - m, lo.y - m),
            Point::new(hi.x + m, hi.y + m),
        );
        let mut grid = Grid::new(&models, lo, hi, config.grid_step_m);
        let shelves = layout.shelves.clone();
        let with_shelves = !shelves.is_empty() && config.shelf_loss_db > 0.0;
        if !shadowing.is_empty() || with_shelves {
            let samples = shadowing.per_anchor(layout, &models);
            grid.set_offsets(models.len(), |a, p| {
                let shadow = if shadowing.is_empty() {
                    0.0
                } else {
                    shadowing.offset_at(&samples[a], p)
                };
                // 0 without shelves or without a loss per shelf.
                shadow - shelf_loss_db(&shelves, &models[a], &config, p)
            });
        }
        grid.block(|p| shelves.iter().any(|s| s.contains(p)));
        Locator {
            models,
            config,
            lo,
            hi,
            grid,
            shelves,
            terms: Vec::new(),
            cost: Vec::new(),
        }
    }

    /// The radio models, in layout order.
    #[must_use]
    pub fn models(&self) -> &[RadioModel] {
        &self.models
    }

    /// The level the locator expects at `anchor` from a phone at `p`, dBm:
    /// the anchor's model with the shelves' loss and the shadowing map.
    #[must_use]
    pub fn expected_rssi(&self, anchor: usize, p: Point) -> f64 {
        self.models[anchor].expected_rssi(p) + self.grid.offset(anchor, p).0
    }

    /// Keeps `p` within the layout's bounds plus the margin.
    #[must_use]
    pub fn clamp(&self, p: Point) -> Point {
        Point::new(
            p.x.clamp(self.lo.x, self.hi.x),
            p.y.clamp(self.lo.y, self.hi.y),
        )
    }

    /// Keeps `p` within the bounds and out of the shelves: nobody stands
    /// inside one, so a position there moves to just beyond its nearest
    /// edge.
    #[must_use]
    pub fn place(&self, p: Point) -> Point {
        // A shopper's centre keeps about half a body width from the goods.
        const CLEARANCE_M: f64 = 0.3;
        let p = self.clamp(p);
        match self.shelves.iter().find(|s| s.contains(p)) {
            Some(s) => self.clamp(s.push_out(p, CLEARANCE_M)),
            None => p,
        }
    }

    /// Where a walk from `from` to `to` must stop short of the first shelf
    /// in its way, `clearance_m` before it; `None` when nothing is in the
    /// way.
    #[must_use]
    pub fn walk_stop(&self, from: Point, to: Point, clearance_m: f64) -> Option<Point> {
        let t = self
            .shelves
            .iter()
            .filter_map(|s| s.entered(from, to))
            .fold(f64::INFINITY, f64::min);
        if !t.is_finite() {
            return None;
        }
        let len = from.distance(to);
        let k = if len > 0.0 {
            ((t * len - clearance_m) / len).max(0.0)
        } else {
            0.0
        };
        Some(Point::new(
            from.x + k * (to.x - from.x),
            from.y + k * (to.y - from.y),
        ))
    }

    /// A fix from `levels`, or `None` when there are none (or they name
    /// anchors this locator does not know).
    pub fn locate(&mut self, levels: &[Level]) -> Option<Fix> {
        self.terms.clear();
        for l in levels {
            let anchor = usize::from(l.anchor.0);
            let model = self.models.get(anchor)?;
            self.terms.push(Term {
                anchor,
                excess: l.rssi - model.rssi_at_1m,
                slope: model.path_loss_exponent,
                weight: self.config.weight(l),
            });
        }
        match self.terms.len() {
            0 => None,
            1 => Some(self.near_one()),
            2 => Some(self.between_two()),
            k => {
                let start = self.grid_search();
                let (position, std_m, residual_db) = self.refine(start);
                let position = self.place(position);
                Some(Fix {
                    position,
                    std_m,
                    confidence: confidence(k, std_m),
                    anchors: k,
                    residual_db,
                })
            }
        }
    }

    /// One anchor: the device is somewhere around it, within the range its
    /// level suggests.
    fn near_one(&self) -> Fix {
        let t = self.terms[0];
        let model = &self.models[t.anchor];
        let range = model.horizontal_range(t.excess + model.rssi_at_1m);
        let std_m = range.max(1.0) + 1.0;
        Fix {
            position: Point::new(model.x, model.y),
            std_m,
            confidence: confidence(1, std_m),
            anchors: 1,
            residual_db: 0.0,
        }
    }

    /// Two anchors: on the segment between them, split by their ranges.
    fn between_two(&self) -> Fix {
        let (ta, tb) = (self.terms[0], self.terms[1]);
        let (a, b) = (&self.models[ta.anchor], &self.models[tb.anchor]);
        let ra = a.horizontal_range(ta.excess + a.rssi_at_1m).max(0.1);
        let rb = b.horizontal_range(tb.excess + b.rssi_at_1m).max(0.1);
        let t = ra / (ra + rb);
        let position = Point::new(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y));
        let gap = Point::new(a.x, a.y).distance(Point::new(b.x, b.y));
        // Along the line the two ranges place the device; across it, nothing
        // does, beyond being within reach of both.
        let std_m = 0.25 * gap.max(2.0) + 1.0;
        Fix {
            position: self.place(position),
            std_m,
            confidence: confidence(2, std_m),
            anchors: 2,
            residual_db: 0.0,
        }
    }

    /// The best grid cell within reach of the anchors that hear the device.
    fn grid_search(&mut self) -> Point {
        let reach = self.config.search_margin_m;
        let (mut lo, mut hi) = (
            Point::new(f64::INFINITY, f64::INFINITY),
            Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
        );
        for t in &self.terms {
            let m = &self.models[t.anchor];
            lo = Point::new(lo.x.min(m.x - reach), lo.y.min(m.y - reach));
            hi = Point::new(hi.x.max(m.x + reach), hi.y.max(m.y + reach));
        }
        #[allow(clippy::cast_possible_truncation)] // a share in 0..=1
        let weaker = self.config.weaker_weight as f32;
        self.grid
            .best_cell(&self.terms, lo, hi, weaker, &mut self.cost)
    }

    /// Weighted cost, gradient-normal equations at `p`: `(cost, H, g)`.
    /// `lopsided`: levels weaker than expected weigh `weaker_weight` (for
    /// the search); otherwise all weigh alike (for the covariance, which
    /// would otherwise hang on the signs of residuals near 0).
    #[allow(clippy::many_single_char_names)] // the algebra's own names
    fn normal_equations(&self, p: Point, lopsided: bool) -> (f64, [f64; 3], [f64; 2]) {
        const DB_PER_LN: f64 = 10.0 / std::f64::consts::LN_10;
        let (mut cost, mut h, mut g) = (0.0, [0.0; 3], [0.0; 2]);
        for t in &self.terms {
            let m = &self.models[t.anchor];
            let d = m.distance(p);
            // The offsets (shadowing map, shelves) enter the Jacobian too:
            // a shelf's loss steps by several dB within a grid cell, and
            // without its gradient the solver stalled on the cell it started
            // from (noise-free simulated fixes sat on whole metres).
            let (offset, ox, oy) = self.grid.offset(t.anchor, p);
            let e = t.excess + 10.0 * t.slope * d.log10() - offset;
            let k = t.slope * DB_PER_LN / (d * d);
            let (jx, jy) = (k * (p.x - m.x) - ox, k * (p.y - m.y) - oy);
            let w = if lopsided && e < 0.0 {
                t.weight * self.config.weaker_weight
            } else {
                t.weight
            };
            cost += w * e * e;
            h[0] += w * jx * jx;
            h[1] += w * jx * jy;
            h[2] += w * jy * jy;
            g[0] += w * jx * e;
            g[1] += w * jy * e;
        }
        (cost, h, g)
    }

    /// Levenberg-Marquardt from `start`: `(position, std_m, residual_db)`.
    #[allow(clippy::many_single_char_names)] // the algebra's own names
    fn refine(&self, start: Point) -> (Point, f64, f64) {
        let mut p = start;
        let (mut cost, mut h, mut g) = self.normal_equations(p, true);
        let mut lambda = 1e-2;
        for _ in 0..20 {
            let a = [h[0] * (1.0 + lambda), h[1], h[2] * (1.0 + lambda)];
            let det = a[0] * a[2] - a[1] * a[1];
            if det.abs() < 1e-12 {
                break;
            }
            let dx = -(a[2] * g[0] - a[1] * g[1]) / det;
            let dy = -(a[0] * g[1] - a[1] * g[0]) / det;
            let next = self.clamp(Point::new(p.x + dx, p.y + dy));
            // Nobody stands inside a shelf: a step into one is a step that
            // failed, so the fix stays on the side the grid search chose.
            let (c, hn, gn) = if self.shelves.iter().any(|s| s.contains(next)) {
                (f64::INFINITY, h, g)
            } else {
                self.normal_equations(next, true)
            };
            if c < cost {
                let moved = p.distance(next);
                (p, cost, h, g) = (next, c, hn, gn);
                lambda = (lambda / 10.0).max(1e-6);
                if moved < 1e-3 {
                    break;
                }
            } else {
                lambda *= 10.0;
                if lambda > 1e6 {
                    break;
                }
            }
        }
        let (cost, h, _) = self.normal_equations(p, false);
        let k = self.terms.len();
        #[allow(clippy::cast_precision_loss)]
        let dof = (k - 2).max(1) as f64;
        // Residuals larger than the weights allow mean the model fits
        // poorly here: widen the covariance by the excess.
        let scale = (cost / dof).max(1.0);
        let det = h[0] * h[2] - h[1] * h[1];
        let std_m = if det > 1e-12 {
            (scale * (h[0] + h[2]) / det / 2.0).sqrt()
        } else {
            10.0
        };
        let weight: f64 = self.terms.iter().map(|t| t.weight).sum();
        (p, std_m.min(10.0), (cost / weight).sqrt())
    }
}

#[cfg(test)]
pub(crate) mod tests;
