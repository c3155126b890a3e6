//! Aisle's wire formats, shared by the node firmware and the gateway.
//!
//! Everything here decodes without copying or allocating and never panics,
//! whatever bytes it is given; encoders write into a buffer the caller owns.
//!
//! - [`ad`]: advertising data (the AD structures of a BLE advertisement).
//! - [`beacon`]: beacon frames (iBeacon, AltBeacon, Eddystone) and the
//!   classification of every advertisement Aisle may hear.
//! - [`eid`]: rotating shopper identifiers (Eddystone-EID) and their resolver.
//! - [`rpa`]: resolvable private address hashing.
//! - [`ll`]: the BLE link layer as a raw radio sees it (PDU headers, CRC-24,
//!   whitening).
//! - [`link`]: the authenticated node link between shelf nodes and the gateway.
//! - [`topic`] and `event` (with `alloc` and `serde`): the MQTT topic scheme and its
//!   JSON payloads.
//!
//! Features: `alloc` (the EID resolver, topic builders), `std`, `serde`
//! (payload types and serde derives), `defmt` (formatting on the firmware).
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod ad;
pub mod beacon;
pub mod eid;
mod error;
#[cfg(all(feature = "alloc", feature = "serde"))]
pub mod event;
pub mod link;
pub mod ll;
pub mod rpa;
pub mod topic;

pub use error::Error;
#[cfg(feature = "serde")]
mod hex_serde;
