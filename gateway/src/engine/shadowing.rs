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

use crate::layout::{Layout, Point};
pub use crate::layout::{ShadowingMap, ShadowingSample};

impl ShadowingMap {
    /// No residuals: the plain model everywhere.
    #[must_use]
    pub fn none() -> Self {
        ShadowingMap {
            bandwidth_m: 3.0,
            prior_weight: 0.5,
            samples: Vec::new(),
        }
    }

    /// Whether the map changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Per anchor of `layout` (in its order), the samples of that anchor;
    /// samples naming other anchors are left out.
    pub(super) fn per_anchor(&self, layout: &Layout) -> Vec<Vec<(Point, f64)>> {
        layout
            .anchors
            .iter()
            .map(|a| {
                self.samples
                    .iter()
                    .filter(|s| s.anchor == a.id)
                    .map(|s| (Point::new(s.x, s.y), s.offset_db))
                    .collect()
            })
            .collect()
    }

    /// The map's value at `p` from one anchor's samples, dB.
    pub(super) fn offset_at(&self, samples: &[(Point, f64)], p: Point) -> f64 {
        let scale = -0.5 / (self.bandwidth_m * self.bandwidth_m);
        // Beyond four kernel widths a sample weighs under 0.04%.
        let reach2 = (4.0 * self.bandwidth_m).powi(2);
        let (mut weight, mut sum) = (0.0, 0.0);
        for &(q, offset) in samples {
            let (dx, dy) = (p.x - q.x, p.y - q.y);
            let d2 = dx * dx + dy * dy;
            if d2 < reach2 {
                let w = (scale * d2).exp();
                weight += w;
                sum += w * offset;
            }
        }
        sum / (weight + self.prior_weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(samples: &[(f64, f64, f64)]) -> ShadowingMap {
        ShadowingMap {
            samples: samples
                .iter()
                .map(|&(x, y, offset_db)| ShadowingSample {
                    anchor: "a".into(),
                    x,
                    y,
                    offset_db,
                })
                .collect(),
            ..ShadowingMap::none()
        }
    }

    #[test]
    fn follows_dense_samples_and_fades_far_from_them() {
        let samples: Vec<_> = (0..5)
            .flat_map(|i| (0..5).map(move |j| (f64::from(i), f64::from(j), -6.0)))
            .collect();
        let m = map(&samples);
        let per: Vec<_> = m
            .samples
            .iter()
            .map(|s| (Point::new(s.x, s.y), s.offset_db))
            .collect();
        let inside = m.offset_at(&per, Point::new(2.0, 2.0));
        assert!((inside + 6.0).abs() < 0.5, "{inside}");
        let far = m.offset_at(&per, Point::new(30.0, 30.0));
        assert!(far.abs() < 1e-9, "{far}");
        assert!(ShadowingMap::none().is_empty());
    }
}
