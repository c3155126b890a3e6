//! The store's own shadowing: how much stronger or weaker than the
//! path-loss model each spot of the floor reads at each anchor, because of
//! the shelving, walls, fridges and fittings in between.
//!
//! Indoors most of the slow variation of a link is a property of the place,
//! not of the person: stand on the same spot twice and the same fittings
//! are in the way. Gudmundson's model describes it as a Gaussian field in
//! dB whose correlation falls off exponentially with distance,
//! `exp(-d / d_c)`, with a decorrelation distance `d_c` of a few metres
//! indoors. Because it belongs to the store, the field here is drawn from
//! the store and anchor ids (and [`super::radio::RadioConfig::site_seed`]),
//! never from a run's seed: a calibration walk and a later run in the same
//! simulated store meet the same field, as they would in a real one.
//!
//! Each anchor's field is a sum of random Fourier features, which has the
//! exponential correlation exactly in the limit of many features: for
//! `exp(-|r| / d_c)` in two dimensions the spectral density is a bivariate
//! Cauchy, drawn as `z / (d_c |u|)` with `z` and `u` standard normal. The
//! field is evaluated once on a grid and read bilinearly, so a packet costs
//! four lookups.

use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;

use crate::layout::{Layout, Point};
use crate::raster::Raster;

/// Fourier features per anchor: the field's one-point distribution is a
/// sum of this many cosines, close to normal well before 200.
const FEATURES: usize = 200;

/// Finest grid step, metres: well under any decorrelation distance worth
/// simulating.
const FINEST_STEP_M: f64 = 0.25;

/// Grid nodes per anchor at most; a large floor takes a coarser step.
const MAX_NODES: f64 = 40_000.0;

/// How far beyond the layout's bounds the field reaches, metres: shoppers
/// walk up to the walls, which may lie beyond the outermost zone.
const MARGIN_M: f64 = 2.0;

/// The shadowing field of every anchor of one store, dB.
#[derive(Debug, Clone)]
pub struct SiteShadowing {
    raster: Raster,
    /// `[anchor][node]`, nodes row by row.
    values: Vec<f32>,
}

/// FNV-1a: a hash that stays the same across machines and compiler
/// versions, so a store's field does too.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl SiteShadowing {
    /// The field of `layout`'s store, with standard deviation `sigma_db`
    /// and decorrelation distance `distance_m`; `site_seed` picks another
    /// store with the same ids.
    #[must_use]
    pub fn new(layout: &Layout, sigma_db: f64, distance_m: f64, site_seed: u64) -> Self {
        let (lo, hi) = layout.bounds();
        let origin = Point::new(lo.x - MARGIN_M, lo.y - MARGIN_M);
        let (w, h) = (hi.x - lo.x + 2.0 * MARGIN_M, hi.y - lo.y + 2.0 * MARGIN_M);
        let step = FINEST_STEP_M.max((w * h / MAX_NODES).sqrt());
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let nodes = |span: f64| (span / step).ceil() as usize + 1;
        let (nx, ny) = (nodes(w), nodes(h));
        let store = fnv1a(&layout.store.id) ^ site_seed;
        let mut values = Vec::with_capacity(layout.anchors.len() * nx * ny);
        #[allow(clippy::cast_precision_loss)]
        let amplitude = sigma_db * (2.0 / FEATURES as f64).sqrt();
        let mut column = vec![(0.0, 0.0); nx];
        for anchor in &layout.anchors {
            let mut rng = Pcg64Mcg::seed_from_u64(super::mix(store, fnv1a(&anchor.id)));
            let mut field = vec![0.0f64; nx * ny];
            for _ in 0..FEATURES {
                let u: f64 = rng.sample(StandardNormal);
                let scale = 1.0 / (distance_m * u.abs().max(1e-9));
                let wx = scale * rng.sample::<f64, _>(StandardNormal);
                let wy = scale * rng.sample::<f64, _>(StandardNormal);
                let phase = rng.random_range(0.0..std::f64::consts::TAU);
                // cos(a + b) = cos a cos b - sin a sin b, with a along x and
                // b along y: two trigonometric calls per column and row,
                // not per node.
                for (ix, c) in column.iter_mut().enumerate() {
                    #[allow(clippy::cast_precision_loss)]
                    let a = wx * (origin.x + ix as f64 * step) + phase;
                    *c = (a.cos(), a.sin());
                }
                for iy in 0..ny {
                    #[allow(clippy::cast_precision_loss)]
                    let b = wy * (origin.y + iy as f64 * step);
                    let (cb, sb) = (b.cos(), b.sin());
                    let row = &mut field[iy * nx..(iy + 1) * nx];
                    for (v, &(ca, sa)) in row.iter_mut().zip(&column) {
                        *v += ca * cb - sa * sb;
                    }
                }
            }
            #[allow(clippy::cast_possible_truncation)] // dB fit f32
            values.extend(field.iter().map(|v| (amplitude * v) as f32));
        }
        SiteShadowing {
            raster: Raster {
                origin,
                step,
                nx,
                ny,
            },
            values,
        }
    }

    /// The field of `anchor` at `p`, dB: bilinear between the grid nodes
    /// around it; beyond the grid, its edge.
    #[must_use]
    pub fn at(&self, anchor: usize, p: Point) -> f64 {
        let nodes = self.raster.nodes();
        let table = &self.values[anchor * nodes..(anchor + 1) * nodes];
        self.raster.bilinear(table, p).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::store::demo_layout;

    /// Pairs of points `d` apart over the demo floor: the field's variance
    /// and its correlation at that distance, for anchor 0.
    fn moments(field: &SiteShadowing, anchor: usize, apart: f64) -> (f64, f64) {
        let (mut power, mut cross, mut count) = (0.0, 0.0, 0.0);
        for i in 0..80 {
            for j in 0..56 {
                let here = Point::new(f64::from(i) * 0.25, f64::from(j) * 0.25);
                let there = Point::new(here.x + apart * 0.6, here.y + apart * 0.8);
                let (v, w) = (field.at(anchor, here), field.at(anchor, there));
                power += 0.5 * (v * v + w * w);
                cross += v * w;
                count += 1.0;
            }
        }
        (power / count, cross / power)
    }

    #[test]
    fn has_its_sigma_and_decorrelates_over_its_distance() {
        let layout = demo_layout();
        let field = SiteShadowing::new(&layout, 3.5, 3.0, 0);
        // One floor is a small sample of a field correlated over metres:
        // pool the anchors.
        let anchors = layout.anchors.len();
        let (mut var, mut near, mut at_d, mut far) = (0.0, 0.0, 0.0, 0.0);
        for a in 0..anchors {
            var += moments(&field, a, 0.0).0;
            near += moments(&field, a, 0.5).1;
            at_d += moments(&field, a, 3.0).1;
            far += moments(&field, a, 10.0).1;
        }
        #[allow(clippy::cast_precision_loss)]
        let k = anchors as f64;
        let (sigma, near, at_d, far) = ((var / k).sqrt(), near / k, at_d / k, far / k);
        assert!((sigma - 3.5).abs() < 0.6, "sigma {sigma}");
        // exp(-0.5 / 3) = 0.85, exp(-1) = 0.37, exp(-10 / 3) = 0.04.
        assert!(near > 0.75, "{near}");
        assert!((0.2..0.55).contains(&at_d), "{at_d}");
        assert!(far.abs() < 0.2, "{far}");
    }

    #[test]
    fn belongs_to_the_store_not_to_a_run() {
        let layout = demo_layout();
        let a = SiteShadowing::new(&layout, 3.5, 3.0, 0);
        let b = SiteShadowing::new(&layout, 3.5, 3.0, 0);
        let other = SiteShadowing::new(&layout, 3.5, 3.0, 1);
        let p = Point::new(5.4, 7.0);
        assert!((a.at(3, p) - b.at(3, p)).abs() < 1e-12);
        // Other anchors, other stores: other fields.
        assert!((a.at(3, p) - a.at(4, p)).abs() > 1e-6);
        assert!((a.at(3, p) - other.at(3, p)).abs() > 1e-6);
        // Far outside the floor the edge value holds, finite.
        assert!(a.at(0, Point::new(-100.0, 500.0)).is_finite());
    }
}
