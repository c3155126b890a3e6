//! The engine's configuration, as the gateway's TOML holds it, and the
//! check that runs before the engine starts.

use serde::{Deserialize, Serialize};

use super::device_radio::DeviceRadioConfig;
use super::filter::FilterConfig;
use super::locate::LocateConfig;
use super::motion::MotionConfig;
use super::presence::PresenceConfig;
use super::zone::ZoneConfig;

/// Everything the engine can be tuned by, as the gateway's TOML holds it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Seconds of sighting time between two fixes of one device. Default
    /// 0.5: zone and presence decisions need a few fixes per second, and
    /// the RSSI window (2.5 s) changes little faster than that.
    pub locate_interval_s: f64,
    /// Seconds of silence after which a device's state is dropped. Default
    /// 120; well after its presence exit.
    pub forget_after_s: f64,
    /// RSSI filter.
    pub filter: FilterConfig,
    /// Radio model and solver.
    pub locate: LocateConfig,
    /// Motion model.
    pub motion: MotionConfig,
    /// Zone hysteresis.
    pub zone: ZoneConfig,
    /// Presence timings.
    pub presence: PresenceConfig,
    /// Per-device corrections: the phone's transmit offset.
    pub device: DeviceRadioConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            locate_interval_s: 0.5,
            forget_after_s: 120.0,
            filter: FilterConfig::default(),
            locate: LocateConfig::default(),
            motion: MotionConfig::default(),
            zone: ZoneConfig::default(),
            presence: PresenceConfig::default(),
            device: DeviceRadioConfig::default(),
        }
    }
}

impl EngineConfig {
    /// Checks every value; the error names the key and the reason.
    pub fn check(&self) -> Result<(), EngineError> {
        let positive = [
            ("locate_interval_s", self.locate_interval_s),
            ("forget_after_s", self.forget_after_s),
            ("filter.window_s", self.filter.window_s),
            ("filter.stale_after_s", self.filter.stale_after_s),
            ("filter.window_noise_db2", self.filter.window_noise_db2),
            ("locate.model_sigma_db", self.locate.model_sigma_db),
            ("locate.grid_step_m", self.locate.grid_step_m),
            ("locate.weak_scale_db", self.locate.weak_scale_db),
            (
                "locate.default_path_loss_exponent",
                self.locate.default_path_loss_exponent,
            ),
            ("motion.max_speed_mps", self.motion.max_speed_mps),
            ("motion.gate_sigma", self.motion.gate_sigma),
            ("motion.restart_after_s", self.motion.restart_after_s),
            (
                "motion.cross_shelf_after_s",
                self.motion.cross_shelf_after_s,
            ),
            ("presence.dwell_every_s", self.presence.dwell_every_s),
            ("presence.absence_s", self.presence.absence_s),
        ];
        let non_negative = [
            (
                "filter.level_noise_db2_per_s",
                self.filter.level_noise_db2_per_s,
            ),
            ("locate.device_height_m", self.locate.device_height_m),
            ("locate.search_margin_m", self.locate.search_margin_m),
            ("locate.bounds_margin_m", self.locate.bounds_margin_m),
            ("locate.shelf_loss_db", self.locate.shelf_loss_db),
            ("motion.accel_noise", self.motion.accel_noise),
            ("zone.margin_m", self.zone.margin_m),
            ("zone.confirm_s", self.zone.confirm_s),
            ("zone.nearest_within_m", self.zone.nearest_within_m),
            ("zone.core_width_m", self.zone.core_width_m),
            ("presence.confirm_s", self.presence.confirm_s),
            ("device.offset_prior_fixes", self.device.offset_prior_fixes),
            ("device.max_offset_db", self.device.max_offset_db),
        ];
        let bad = |key: &str, reason: &str| {
            Err(EngineError::Config {
                key: key.to_owned(),
                reason: reason.to_owned(),
            })
        };
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(key, "must be a finite number above 0");
            }
        }
        for (key, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return bad(key, "must be a finite number, 0 or above");
            }
        }
        if !self.locate.weak_below_dbm.is_finite() {
            return bad("locate.weak_below_dbm", "must be a finite number");
        }
        if !(self.locate.weaker_weight > 0.0 && self.locate.weaker_weight <= 1.0) {
            return bad("locate.weaker_weight", "must be above 0 and at most 1");
        }
        if self.locate.grid_step_m < 0.1 {
            return bad(
                "locate.grid_step_m",
                "below 0.1 m the grid costs more than it gains",
            );
        }
        Ok(())
    }
}

/// Why the engine could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// A configuration value that cannot be used.
    #[error("engine config: {key}: {reason}")]
    Config {
        /// The key, such as `presence.absence_s`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The layout has more anchors than an [`AnchorIdx`] numbers.
    #[error("layout has {0} anchors; the engine handles up to 65,536")]
    TooManyAnchors(usize),
}
