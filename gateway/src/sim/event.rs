//! What the simulator yields.

use std::sync::Arc;

use serde::Serialize;

use crate::record::RecordedSighting;

/// A sighting as an anchor reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// Unix time, seconds (whole milliseconds).
    pub ts: f64,
    /// The anchor that heard the packet.
    pub anchor: Arc<str>,
    /// The phone that sent it.
    pub device: Arc<str>,
    /// Received signal strength, whole dBm.
    pub rssi: f64,
}

impl Sighting {
    /// The sighting as a recording line.
    #[must_use]
    pub fn to_record(&self) -> RecordedSighting {
        RecordedSighting {
            ts: self.ts,
            anchor: self.anchor.to_string(),
            device: Some(self.device.to_string()),
            adv: None,
            rssi: self.rssi,
            x: None,
            y: None,
        }
    }
}

/// Where a shopper truly is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthSample {
    /// Unix time, seconds.
    pub ts: f64,
    /// The shopper's phone.
    pub device: Arc<str>,
    /// Metres, to the centimetre.
    pub x: f64,
    /// Metres, to the centimetre.
    pub y: f64,
    /// The first zone of the layout holding the position, if any.
    pub zone: Option<Arc<str>>,
}

/// What the simulator yields, in time order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An anchor heard a phone.
    Sighting(Sighting),
    /// Where a shopper is, once a second while in the store.
    Truth(TruthSample),
}

impl Event {
    /// When it happened, Unix seconds.
    #[must_use]
    pub fn ts(&self) -> f64 {
        match self {
            Event::Sighting(s) => s.ts,
            Event::Truth(t) => t.ts,
        }
    }
}
