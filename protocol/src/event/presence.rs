//! Where devices are: position fixes and zone presence events.

use alloc::string::String;

use super::{
    EventId, SchemaVersion, check_finite, check_id, check_non_negative, check_opt_id, check_ts,
};
use crate::Error;

/// A position fix of one device, published on
/// `aisle/v1/{store}/positions/{device}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id.
    pub id: EventId,
    /// Time of the fix, Unix seconds.
    pub ts: f64,
    /// The device located.
    pub device: String,
    /// Metres east along the store's floor plan (its layout's x axis).
    pub x: f64,
    /// Metres along the floor plan's y axis.
    pub y: f64,
    /// The zone containing the fix, or `None` (`null`) outside every zone.
    pub zone: Option<String>,
    /// How much the localiser trusts the fix, 0 (a guess) to 1.
    pub confidence: f64,
}

impl Position {
    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("device", &self.device)?;
        check_finite("x", self.x)?;
        check_finite("y", self.y)?;
        check_opt_id("zone", self.zone.as_ref())?;
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(Error::Payload {
                field: "confidence",
                reason: "outside 0..=1",
            });
        }
        Ok(())
    }
}

/// What happened between a device and a zone. In JSON, `"kind"` with
/// `"dwell_s"` beside it for `dwell` and `exit`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ZoneEventKind {
    /// The device entered the zone.
    Enter,
    /// The device is still in the zone: sent every dwell interval of the
    /// gateway's presence settings (10 s by default) while it stays.
    Dwell {
        /// Seconds in the zone so far.
        dwell_s: f64,
    },
    /// The device left the zone.
    Exit {
        /// Seconds the visit lasted.
        dwell_s: f64,
    },
}

/// A presence event, published on
/// `aisle/v1/{store}/zones/{zone}/events/{device}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneEvent {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id.
    pub id: EventId,
    /// Enter, dwell or exit.
    pub kind: ZoneEventKind,
    /// When it happened, Unix seconds.
    pub ts: f64,
    /// The device.
    pub device: String,
    /// The zone.
    pub zone: String,
    /// When this visit to the zone began, Unix seconds (`ts` for `enter`).
    pub entered_at: f64,
}

impl ZoneEvent {
    /// Seconds in the zone, for `dwell` and `exit`.
    #[must_use]
    pub fn dwell_s(&self) -> Option<f64> {
        match self.kind {
            ZoneEventKind::Enter => None,
            ZoneEventKind::Dwell { dwell_s } | ZoneEventKind::Exit { dwell_s } => Some(dwell_s),
        }
    }

    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("device", &self.device)?;
        check_id("zone", &self.zone)?;
        check_ts("entered_at", self.entered_at)?;
        if self.entered_at > self.ts {
            return Err(Error::Payload {
                field: "entered_at",
                reason: "later than ts",
            });
        }
        if let Some(dwell_s) = self.dwell_s() {
            check_non_negative("dwell_s", dwell_s)?;
        }
        Ok(())
    }
}
