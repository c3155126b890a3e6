//! Shadowing maps: where on the floor each anchor reads stronger or weaker
//! than its log-distance model says.
//!
//! Indoors the model's error is not noise that averages out: a column, a
//! wall or a metal shelf between an anchor and a spot weakens every reading
//! there, and a reflecting wall strengthens them. On the reference room the
//! per-point residuals of a fitted model are 4-5 dB RMS, and they are
//! correlated over metres. Calibration already measures them at every
//! reference point; a map keeps them, and the locator adds the map's value
//! at a candidate position to the model's expected RSSI.
//!
//! Between reference points the map is a Gaussian-kernel average of the
//! residuals near by (Nadaraya-Watson), shrunk towards zero where few
//! points are near: far from every reference point the plain model holds.
//!
//! The kernel follows rays from the anchor: distances are measured across
//! the ray (the arc between bearings, at the mean range) and along it
//! (the difference in range) with widths of their own. An obstacle shades
//! the whole cone behind it, and an antenna's gain varies with bearing,
//! so residuals stay alike further along a ray than across it. On the
//! reference room the calibration residuals bear that out: left out one
//! at a time, each reference point's residual is predicted from the others
//! to 3.4-3.6 dB RMS with 1.5-2 m across and 4-6 m along, 3.5-3.7 dB with
//! a round kernel of 2-4 m, and 3.8-4.0 dB with no map. Fixes follow: per
//! point, 5-fold by point, the median error fell from 1.74 to 1.27 m (on
//! four other random 5-fold splits, 1.7-1.9 m to 1.4-1.6 m) and the mean
//! from 2.1 to 1.9 m; the 90th percentile stayed at 3.7-4.3 m.

use super::locate::RadioModel;
use crate::layout::{Layout, Point};
pub use crate::layout::{ShadowingMap, ShadowingSample};

/// One anchor's samples, placed about the anchor: `(range, bearing,
/// offset)`, range in metres (3-D, as the model's distance), bearing in
/// radians.
#[derive(Debug, Clone)]
pub(super) struct AnchorSamples {
    model: RadioModel,
    samples: Vec<(f64, f64, f64)>,
}

impl AnchorSamples {
    fn polar(model: &RadioModel, p: Point) -> (f64, f64) {
        (model.distance(p), (p.y - model.y).atan2(p.x - model.x))
    }
}

impl ShadowingMap {
    /// No residuals: the plain model everywhere.
    #[must_use]
    pub fn none() -> Self {
        ShadowingMap {
            bandwidth_m: 2.0,
            along_ray_m: 6.0,
            prior_weight: 0.5,
            samples: Vec::new(),
        }
    }

    /// Whether the map changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Per anchor of `layout` (in its order, `models` its radio models),
    /// the samples of that anchor; samples naming other anchors are left
    /// out.
    pub(super) fn per_anchor(&self, layout: &Layout, models: &[RadioModel]) -> Vec<AnchorSamples> {
        layout
            .anchors
            .iter()
            .zip(models)
            .map(|(a, model)| AnchorSamples {
                model: *model,
                samples: self
                    .samples
                    .iter()
                    .filter(|s| s.anchor == a.id)
                    .map(|s| {
                        let (range, bearing) = AnchorSamples::polar(model, Point::new(s.x, s.y));
                        (range, bearing, s.offset_db)
                    })
                    .collect(),
            })
            .collect()
    }

    /// The map's value at `p` from one anchor's samples, dB.
    pub(super) fn offset_at(&self, anchor: &AnchorSamples, p: Point) -> f64 {
        let (range, bearing) = AnchorSamples::polar(&anchor.model, p);
        let (weight, sum) = self.kernel_sums(anchor, range, bearing);
        sum / (weight + self.prior_weight)
    }

    /// The kernel's total weight and weighted sum of offsets over one
    /// anchor's samples, at `range` and `bearing` from the anchor.
    fn kernel_sums(&self, anchor: &AnchorSamples, range: f64, bearing: f64) -> (f64, f64) {
        use std::f64::consts::{PI, TAU};
        let (across, along) = (self.bandwidth_m, self.along_ray_m);
        let (mut weight, mut sum) = (0.0, 0.0);
        for &(r, b, offset) in &anchor.samples {
            let mut turn = (bearing - b).abs();
            if turn > PI {
                turn = TAU - turn;
            }
            let u = turn * 0.5 * (range + r) / across;
            let v = (range - r) / along;
            let d2 = u * u + v * v;
            // Beyond four kernel widths a sample weighs under 0.04%.
            if d2 < 16.0 {
                let w = (-0.5 * d2).exp();
                weight += w;
                sum += w * offset;
            }
        }
        (weight, sum)
    }

    /// How well the map predicts each of its samples from the others
    /// (leave one out): the root-mean-square error, dB, over at most
    /// `targets` samples of each anchor, spread evenly through them.
    pub(super) fn leave_one_out_rms(&self, anchors: &[AnchorSamples], targets: usize) -> f64 {
        let (mut sq, mut n) = (0.0, 0_u32);
        for anchor in anchors {
            let step = anchor.samples.len().div_ceil(targets.max(1)).max(1);
            for &(r, b, offset) in anchor.samples.iter().step_by(step) {
                let (weight, sum) = self.kernel_sums(anchor, r, b);
                // The sample itself weighs 1 at distance 0.
                let predicted = (sum - offset) / (weight - 1.0 + self.prior_weight);
                sq += (predicted - offset).powi(2);
                n += 1;
            }
        }
        if n == 0 {
            0.0
        } else {
            (sq / f64::from(n)).sqrt()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::locate::LocateConfig;
    use crate::engine::locate::tests::square_room;

    /// The samples of a map for "sw", the square room's anchor at (0, 0),
    /// placed about it.
    fn sw_samples(samples: &[(f64, f64, f64)]) -> (ShadowingMap, AnchorSamples) {
        let map = ShadowingMap {
            samples: samples
                .iter()
                .map(|&(x, y, offset_db)| ShadowingSample {
                    anchor: "sw".into(),
                    x,
                    y,
                    offset_db,
                })
                .collect(),
            ..ShadowingMap::none()
        };
        let room = square_room();
        let models: Vec<_> = room
            .anchors
            .iter()
            .map(|a| RadioModel::of(a, &LocateConfig::default()))
            .collect();
        let sw = map.per_anchor(&room, &models).swap_remove(0);
        (map, sw)
    }

    #[test]
    fn follows_dense_samples_and_fades_far_from_them() {
        let samples: Vec<_> = (0..5)
            .flat_map(|i| (0..5).map(move |j| (f64::from(i) + 3.0, f64::from(j), -6.0)))
            .collect();
        let (map, sw) = sw_samples(&samples);
        let inside = map.offset_at(&sw, Point::new(5.0, 2.0));
        assert!((inside + 6.0).abs() < 0.5, "{inside}");
        let far = map.offset_at(&sw, Point::new(-30.0, -30.0));
        assert!(far.abs() < 1e-9, "{far}");
        assert!(ShadowingMap::none().is_empty());
    }

    #[test]
    fn a_shadow_reaches_further_along_the_ray_than_across_it() {
        // One reference point 6 m east of the anchor, 8 dB weak: a spot
        // 6 m further east lies in the same shadow, one 6 m north of the
        // point looks past the obstacle.
        let (map, sw) = sw_samples(&[(6.0, 0.0, -8.0)]);
        let behind = map.offset_at(&sw, Point::new(12.0, 0.0));
        let beside = map.offset_at(&sw, Point::new(6.0, 6.0));
        assert!(behind < -3.0 && beside > -0.5, "{behind} {beside}");
        // Bearings wrap: just above and just below west are neighbours.
        let (map, sw) = sw_samples(&[(-6.0, 0.01, -8.0)]);
        let across_the_wrap = map.offset_at(&sw, Point::new(-6.0, -0.01));
        assert!(across_the_wrap < -5.0, "{across_the_wrap}");
    }

    #[test]
    fn older_layouts_load_and_bad_widths_are_named() {
        let layout = |map: &str| {
            format!(
                "[store]\nid = \"s\"\ntimezone = \"UTC\"\n\
                 [[anchor]]\nid = \"a\"\nx = 0.0\ny = 0.0\n\
                 [shadowing]\n{map}\n\
                 [[shadowing.samples]]\nanchor = \"a\"\nx = 1.0\ny = 1.0\noffset_db = -3.0\n"
            )
        };
        // Written before the kernel followed rays: no `along_ray_m`.
        let old = Layout::parse(&layout("bandwidth_m = 3.0\nprior_weight = 0.5"), "old").unwrap();
        let map = old.shadowing.unwrap();
        assert_eq!((map.bandwidth_m, map.along_ray_m), (3.0, 6.0));
        let zero = "bandwidth_m = 2.0\nalong_ray_m = 0.0\nprior_weight = 0.5";
        let e = Layout::parse(&layout(zero), "zero").unwrap_err();
        assert_eq!(e.key, "shadowing.along_ray_m", "{e}");
        let negative = "bandwidth_m = 2.0\nprior_weight = -1.0";
        let e = Layout::parse(&layout(negative), "negative").unwrap_err();
        assert_eq!(e.key, "shadowing.prior_weight", "{e}");
    }
}
