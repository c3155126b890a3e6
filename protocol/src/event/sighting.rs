//! What one anchor heard.

use alloc::string::String;

use super::{Channel, EventId, HexBytes, Rssi, SchemaVersion, check_id, check_opt_id, check_ts};
use crate::Error;

/// Longest raw advertisement in bytes: the most advertising data an extended
/// advertisement can carry (Core specification Vol 6 Part B 2.3.4.9).
pub const MAX_RAW_LEN: usize = 1650;

/// One advertisement heard by one anchor, published on
/// `aisle/v1/{store}/sightings/{anchor}`.
///
/// The fields `ts`, `anchor`, `device` and `rssi` mean what they mean in the
/// replay files.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id.
    pub id: EventId,
    /// When the anchor heard it, Unix seconds.
    pub ts: f64,
    /// The anchor (shelf node or gateway radio) that heard it.
    pub anchor: String,
    /// The resolved device, or `None` (`null`) for an advertiser that is not
    /// an opted-in shopper: counted, never identified.
    pub device: Option<String>,
    /// Signal strength.
    pub rssi: Rssi,
    /// Radio channel, if the receiver reports it (host BLE stacks do not).
    pub channel: Option<Channel>,
    /// The advertisement's bytes, when the publisher forwards them (for
    /// debugging and re-decoding; off by default to keep traffic down).
    pub raw: Option<HexBytes>,
}

impl Sighting {
    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("anchor", &self.anchor)?;
        check_opt_id("device", self.device.as_ref())?;
        if self
            .raw
            .as_ref()
            .is_some_and(|raw| raw.0.len() > MAX_RAW_LEN)
        {
            return Err(Error::Payload {
                field: "raw",
                reason: "longer than 1650 bytes",
            });
        }
        Ok(())
    }
}
