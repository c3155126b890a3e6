//! The JSON payloads published on Aisle's MQTT topics (see [`crate::topic`]).
//!
//! | Topic kind | Payload |
//! |---|---|
//! | sightings | [`Sighting`] |
//! | positions | [`Position`] |
//! | zone events | [`ZoneEvent`] |
//! | zone occupancy | [`ZoneOccupancy`] |
//! | offers | [`Offer`] |
//! | node status | [`NodeStatus`] |
//! | gateway status | [`GatewayStatus`] |
//! | campaigns | [`Campaign`] |
//!
//! Conventions shared by every payload:
//! - `"v"`: the schema version, [`SCHEMA_VERSION`]. Producers write it first;
//!   a payload of another version is rejected with an error that says so.
//!   Adding an optional field does not change the version; renaming,
//!   removing or retyping a field, or adding an enum value, does.
//! - `"id"`: an [`EventId`], 128 bits as 32 lowercase hex digits. MQTT QoS 1
//!   delivers at least once; consumers drop a payload whose id they have
//!   seen. A retransmission carries the same id, a new fact a new one.
//! - `"ts"` and every other `*_ts` field: Unix time in seconds as a JSON
//!   number with a fraction (`1567783106.707`), the same as the replay files.
//!   Durations are seconds too (`*_s`).
//! - Names are `snake_case`; identifiers (store, anchor, device, zone,
//!   shopper, node, campaign, offer) follow the topic segment rules
//!   ([`crate::topic::Segment`]), so every payload can be routed to
//!   its topic.
//! - Unknown fields are ignored, not rejected: a consumer built against this
//!   version keeps working while producers roll out an optional field, and
//!   gateway and consumers need not be upgraded in lockstep.
//!
//! Every payload is validated when serialised and when deserialised: numbers
//! in range (RSSI, percentages, channel), identifiers valid, times finite and
//! in order. A payload that does not validate is not written, and is not
//! read: deserialising it fails with the [`Error`] as message.
//!
//! ```
//! use aisle_protocol::event::{ZoneEvent, ZoneEventKind};
//!
//! let json = r#"{"v": 1, "id": "53845343a5dff87fb4ebfbfe1b2d7a76", "kind": "exit",
//!     "dwell_s": 95.5, "ts": 1567783335.5, "device": "beacon1", "zone": "B2",
//!     "entered_at": 1567783240.0}"#;
//! let event: ZoneEvent = serde_json::from_str(json)?;
//! assert_eq!(event.kind, ZoneEventKind::Exit { dwell_s: 95.5 });
//!
//! let newer = json.replace(r#""v": 1"#, r#""v": 2"#);
//! let err = serde_json::from_str::<ZoneEvent>(&newer).unwrap_err();
//! assert!(err.to_string().starts_with("unsupported schema version 2"));
//! # Ok::<(), serde_json::Error>(())
//! ```

use alloc::string::String;

use crate::Error;
use crate::topic::Segment;

mod id;
mod occupancy;
mod offer;
mod presence;
mod sighting;
mod status;
mod value;
mod wire;

pub use id::EventId;
pub use occupancy::ZoneOccupancy;
pub use offer::{Campaign, Countdown, Offer, OfferState};
pub use presence::{Position, ZoneEvent, ZoneEventKind};
pub use sighting::Sighting;
pub use status::{GatewayStatus, NodeStatus};
pub use value::{Channel, HexBytes, Percent, Rssi, SchemaVersion};

/// The schema version this build writes and reads, carried as `"v"`.
pub const SCHEMA_VERSION: u64 = 1;

/// Longest free text (names, firmware versions) in bytes; keeps payloads
/// small enough for a node's MQTT buffer.
pub const MAX_TEXT_LEN: usize = 128;

/// Checks an identifier against the topic segment rules.
fn check_id(field: &'static str, id: &str) -> Result<(), Error> {
    match Segment::new(id) {
        Ok(_) => Ok(()),
        Err(Error::Topic { reason, .. }) => Err(Error::Payload { field, reason }),
        Err(e) => Err(e),
    }
}

/// Checks an optional identifier.
fn check_opt_id(field: &'static str, id: Option<&String>) -> Result<(), Error> {
    id.map_or(Ok(()), |id| check_id(field, id))
}

/// Checks free text: non-empty, at most [`MAX_TEXT_LEN`] bytes, no control
/// characters.
fn check_text(field: &'static str, text: &str) -> Result<(), Error> {
    let reason = if text.is_empty() {
        "empty"
    } else if text.len() > MAX_TEXT_LEN {
        "longer than 128 bytes"
    } else if text.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::Payload { field, reason })
}

/// Checks a Unix time: finite and not before 1970.
fn check_ts(field: &'static str, ts: f64) -> Result<(), Error> {
    if ts.is_finite() && ts >= 0.0 {
        Ok(())
    } else {
        Err(Error::Payload {
            field,
            reason: "not a finite, non-negative Unix time",
        })
    }
}

/// Checks a duration or other quantity that must be finite and not negative.
fn check_non_negative(field: &'static str, x: f64) -> Result<(), Error> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::Payload {
            field,
            reason: "not a finite, non-negative number",
        })
    }
}

/// Checks a quantity that must be finite.
fn check_finite(field: &'static str, x: f64) -> Result<(), Error> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::Payload {
            field,
            reason: "not a finite number",
        })
    }
}

/// Implements `Serialize` and `Deserialize` for a payload through its serde
/// shape in [`wire`], running the payload's `validate` both ways.
macro_rules! validated_serde {
    ($($ty:ident => $wire:path),* $(,)?) => {$(
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.validate().map_err(serde::ser::Error::custom)?;
                <$wire>::serialize(self, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <$wire>::deserialize(deserializer)?;
                value.validate().map_err(serde::de::Error::custom)?;
                Ok(value)
            }
        }
    )*};
}

validated_serde! {
    Sighting => wire::Sighting,
    Position => wire::Position,
    ZoneEvent => wire::ZoneEvent,
    ZoneOccupancy => wire::ZoneOccupancy,
    NodeStatus => wire::NodeStatus,
    GatewayStatus => wire::GatewayStatus,
    Countdown => wire::Countdown,
    Offer => wire::Offer,
    Campaign => wire::Campaign,
}
