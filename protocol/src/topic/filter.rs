//! Subscription filters over the topic scheme.
//!
//! Each function validates its identifiers as [`Segment`]s (errors name the
//! level the identifier would occupy) and returns the filter to subscribe to.
//! Subscribe with the QoS of the kind ([`TopicKind::qos`]).
//!
//! [`TopicKind::qos`]: super::TopicKind::qos

use alloc::format;
use alloc::string::String;

use super::{ROOT, SCHEME_VERSION, STORE_LEVEL, Segment};
use crate::Error;

/// `aisle/v1/{store}`, checked.
fn prefix(store: &str) -> Result<String, Error> {
    let store = Segment::at(store, STORE_LEVEL)?;
    Ok(format!("{ROOT}/{SCHEME_VERSION}/{store}"))
}

/// `aisle/v1/{store}/#`: everything in a store.
pub fn everything(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/#")
}

/// `aisle/v1/{store}/sightings/+`: the sightings of every anchor.
pub fn all_sightings(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/sightings/+")
}

/// `aisle/v1/{store}/positions/+`: the positions of every device.
pub fn all_positions(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/positions/+")
}

/// `aisle/v1/{store}/zones/+/events/+`: every zone event.
pub fn all_zone_events(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/zones/+/events/+")
}

/// `aisle/v1/{store}/zones/{zone}/events/+`: the events of one zone.
pub fn zone_events(store: &str, zone: &str) -> Result<String, Error> {
    let zone = Segment::at(zone, 4)?;
    Ok(format!("{}/zones/{zone}/events/+", prefix(store)?))
}

/// `aisle/v1/{store}/zones/+/events/{device}`: the zone events of one device.
pub fn device_zone_events(store: &str, device: &str) -> Result<String, Error> {
    let device = Segment::at(device, 6)?;
    Ok(format!("{}/zones/+/events/{device}", prefix(store)?))
}

/// `aisle/v1/{store}/zones/+/occupancy`: the occupancy of every zone.
pub fn all_occupancy(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/zones/+/occupancy")
}

/// `aisle/v1/{store}/offers/+`: the offers of every shopper.
pub fn all_offers(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/offers/+")
}

/// `aisle/v1/{store}/nodes/+/status`: the status of every node.
pub fn all_node_status(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/nodes/+/status")
}

/// `aisle/v1/{store}/campaigns/+`: every campaign.
pub fn all_campaigns(store: &str) -> Result<String, Error> {
    Ok(prefix(store)? + "/campaigns/+")
}
