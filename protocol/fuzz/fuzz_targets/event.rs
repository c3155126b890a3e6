//! JSON payloads: deserialise, serialise, deserialise again, compare.
#![no_main]

use aisle_protocol::event::{
    Campaign, GatewayStatus, NodeStatus, Offer, Position, Sighting, ZoneEvent, ZoneOccupancy,
};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let text = serde_json::to_vec(&value).expect("a decoded payload serialises");
    let again: T = serde_json::from_slice(&text).expect("a serialised payload decodes");
    assert_eq!(again, value);
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Sighting>(data);
    round_trip::<Position>(data);
    round_trip::<ZoneEvent>(data);
    round_trip::<ZoneOccupancy>(data);
    round_trip::<NodeStatus>(data);
    round_trip::<GatewayStatus>(data);
    round_trip::<Offer>(data);
    round_trip::<Campaign>(data);
});
