//! The JSON shape of each payload: field order, names and optional fields.
//!
//! Each struct mirrors a payload type field for field (serde's "remote"
//! derive checks that at compile time) and carries only serde attributes;
//! the payload types carry the documentation. The public `Serialize` and
//! `Deserialize` impls go through these and validate (see `validated_serde!`
//! in the parent module), so no unvalidated path is public.

// The field names are the JSON's; `Offer::offer` names the offer.
#![allow(clippy::struct_field_names)]

use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::{
    Channel, Countdown as CountdownT, EventId, HexBytes, OfferState, Percent, Rssi, SchemaVersion,
    ZoneEventKind,
};

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::Sighting")]
pub(super) struct Sighting {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    anchor: String,
    #[serde(default)]
    device: Option<String>,
    rssi: Rssi,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<HexBytes>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::Position")]
pub(super) struct Position {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    device: String,
    x: f64,
    y: f64,
    #[serde(default)]
    zone: Option<String>,
    confidence: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::ZoneEvent")]
pub(super) struct ZoneEvent {
    v: SchemaVersion,
    id: EventId,
    #[serde(flatten)]
    kind: ZoneEventKind,
    ts: f64,
    device: String,
    zone: String,
    entered_at: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::ZoneOccupancy")]
pub(super) struct ZoneOccupancy {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    zone: String,
    known: u32,
    anonymous: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::NodeStatus")]
pub(super) struct NodeStatus {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    node: String,
    online: bool,
    firmware: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uptime_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    battery_mv: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adverts_seen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queue_drops: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crc_failures: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frames_rejected_by_node: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frames_rejected_by_gateway: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::GatewayStatus")]
pub(super) struct GatewayStatus {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    online: bool,
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uptime_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nodes_online: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sightings_per_s: Option<f64>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::Countdown")]
pub(super) struct Countdown {
    start_pct: Percent,
    decay_per_s: f64,
    floor_pct: Percent,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::Offer")]
pub(super) struct Offer {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    offer: String,
    campaign: String,
    shopper: String,
    #[serde(flatten)]
    state: OfferState,
    trigger_zone: String,
    target_zone: String,
    start_ts: f64,
    expires_ts: f64,
    #[serde(flatten)]
    countdown: CountdownT,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "super::Campaign")]
pub(super) struct Campaign {
    v: SchemaVersion,
    id: EventId,
    ts: f64,
    campaign: String,
    name: String,
    active: bool,
    trigger_zone: String,
    target_zone: String,
    #[serde(flatten)]
    countdown: CountdownT,
    offer_ttl_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    starts_ts: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ends_ts: Option<f64>,
}
