//! How many devices are in each zone: counts, never identities.

use alloc::string::String;

use super::{EventId, SchemaVersion, check_id, check_ts};
use crate::Error;

/// The occupancy of one zone, published retained on
/// `aisle/v1/{store}/zones/{zone}/occupancy` every few seconds.
///
/// `known` counts devices the gateway tracks by identity (opted-in shoppers,
/// listed beacons) whose current visit is in the zone; `anonymous` counts
/// every other phone there. The payload carries no identifier of any device:
/// anonymous phones are counted, never named.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneOccupancy {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id.
    pub id: EventId,
    /// When the devices were counted, Unix seconds.
    pub ts: f64,
    /// The zone.
    pub zone: String,
    /// Known devices in the zone.
    pub known: u32,
    /// Anonymous devices in the zone.
    pub anonymous: u32,
}

impl ZoneOccupancy {
    /// Devices in the zone, known and anonymous.
    #[must_use]
    pub fn total(&self) -> u64 {
        u64::from(self.known) + u64::from(self.anonymous)
    }

    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("zone", &self.zone)
    }
}
