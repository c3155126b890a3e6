//! What a device's own radio adds to every level: the phone's transmit
//! power.
//!
//! Phone models advertise at powers several dB apart, and a calibration
//! fits one `rssi_at_1m` per anchor for whichever phones walked it. A phone
//! 3 dB louder than that reads 3 dB strong at every anchor, which the
//! solver can only explain by moving the fix towards the anchors (or away
//! from them). The offset is common to the device's levels, so the mean of
//! its fixes' residuals measures it: [`DeviceRadio`] keeps a running mean,
//! shrunk towards 0 until a device has given enough fixes, and the engine
//! takes it off each level before the next fix. Only anchors with a fitted
//! model measure it: against the defaults of an uncalibrated anchor the
//! residuals measure the defaults.

use serde::{Deserialize, Serialize};

use super::filter::Level;
use super::locate::{LocateConfig, Locator};
use crate::layout::Point;

/// Parameters of the per-device corrections.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceRadioConfig {
    /// Fixes' worth of weight the transmit offset's prior of 0 dB carries:
    /// single fixes' residuals swing by several dB with the shadowing at
    /// hand. 0 turns the offset estimate off. Default 20 (10 s at the
    /// default locate interval): on the simulated demo store, calibrated
    /// (phones 2 dB apart), zones were right 92.7% of settled samples (mean
    /// of ten runs) against 91.9% with the estimate off, 91.9% with a prior
    /// of 60, 92.3% with 200 and 91.3% with 600 (differences within the
    /// runs' noise).
    pub offset_prior_fixes: f64,
    /// Largest transmit offset believed, dB. Default 10.
    pub max_offset_db: f64,
}

impl Default for DeviceRadioConfig {
    fn default() -> Self {
        DeviceRadioConfig {
            offset_prior_fixes: 20.0,
            max_offset_db: 10.0,
        }
    }
}

/// A device's transmit offset, as learnt from its fixes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceRadio {
    offset_db: f32,
    fixes: f32,
}

impl DeviceRadio {
    /// The device's levels over what the anchors' models expect, dB.
    #[must_use]
    pub fn offset_db(&self) -> f64 {
        f64::from(self.offset_db)
    }

    /// Folds in one fix's weighted mean residual, dB (levels, already
    /// corrected by the current offset, less the model at the fix).
    pub fn learn(&mut self, residual_db: f64, config: &DeviceRadioConfig) {
        if config.offset_prior_fixes <= 0.0 || !residual_db.is_finite() {
            return;
        }
        self.fixes += 1.0;
        // A running mean shrunk towards 0 by the prior's weight: each fix's
        // residual is what the current offset still misses.
        let gain = 1.0 / (f64::from(self.fixes) + config.offset_prior_fixes);
        let next = f64::from(self.offset_db) + gain * residual_db;
        #[allow(clippy::cast_possible_truncation)] // dB fit f32
        {
            self.offset_db = next.clamp(-config.max_offset_db, config.max_offset_db) as f32;
        }
    }
}

/// The weighted mean of `levels` less what the locator expects at `p`, dB,
/// weighted as the locator weighs them: what the device's transmit offset
/// still misses. Only anchors with a fitted model (`fitted`) count, and
/// none with fewer than three of them: against an anchor on the defaults
/// the residual measures the defaults, not the phone (a recording made
/// with exponent 2.0 read against the default 3.0 pulled every phone's
/// offset several dB and its fixes with it).
pub(super) fn mean_residual(
    locator: &Locator,
    fitted: &[bool],
    config: &LocateConfig,
    levels: &[Level],
    p: Point,
) -> Option<f64> {
    let (mut sum, mut weight, mut used) = (0.0, 0.0, 0);
    for l in levels {
        let anchor = usize::from(l.anchor.0);
        if !fitted.get(anchor).copied().unwrap_or(false) {
            continue;
        }
        used += 1;
        let w = config.weight(l);
        sum += w * (l.rssi - locator.expected_rssi(anchor, p));
        weight += w;
    }
    (used >= 3 && weight > 0.0).then(|| sum / weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_converges_on_a_steady_residual_and_stays_bounded() {
        let config = DeviceRadioConfig::default();
        let mut radio = DeviceRadio::default();
        // A phone 4 dB loud: the residual is what the offset still misses.
        for _ in 0..2000 {
            let residual = 4.0 - radio.offset_db();
            radio.learn(residual, &config);
        }
        assert!((radio.offset_db() - 4.0).abs() < 0.3, "{radio:?}");
        let mut wild = DeviceRadio::default();
        for _ in 0..10_000 {
            wild.learn(500.0, &config);
        }
        assert!((wild.offset_db() - 10.0).abs() < 1e-6);
        wild.learn(f64::NAN, &config);
        assert!(wild.offset_db().is_finite());
        let off = DeviceRadioConfig {
            offset_prior_fixes: 0.0,
            ..config
        };
        let mut none = DeviceRadio::default();
        none.learn(5.0, &off);
        assert!(none.offset_db().abs() < 1e-9);
    }
}
