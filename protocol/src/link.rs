//! The node link: the authenticated messages between shelf nodes and the
//! gateway, over a serial or USB byte stream.
//!
//! A node sends [`Hello`] when it starts, [`Status`] periodically and a
//! [`SightingBatch`] per scan window; the gateway answers with [`Configure`]
//! and gives a node its id and key with [`Provision`].
//! Each message travels in one frame, sealed with the node's AES-128 key:
//!
//! ```text
//! wire:  0x00 | COBS(frame) | 0x00
//! frame: version | flags | node id | counter | type | body | tag | CRC-32
//! ```
//!
//! # Frame layout (before stuffing; integers little-endian)
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | version, [`PROTOCOL_VERSION`] |
//! | 1 | 1 | flags: bit 0 direction (0 node to gateway, 1 gateway to node); bits 1-7 zero |
//! | 2 | 4 | node id |
//! | 6 | 4 | counter: the sender's, per direction, from 1, strictly increasing |
//! | 10 | 1 | message type ([`MessageKind`]) |
//! | 11 | n | body, 0 to [`MAX_BODY_LEN`] bytes |
//! | 11 + n | 8 | tag: the first 8 bytes of AES-128-CMAC (RFC 4493) over bytes 0 to 10 + n |
//! | 19 + n | 4 | CRC-32/ISO-HDLC over bytes 0 to 18 + n |
//!
//! The tag covers the flags, so a frame cannot be reflected back to its
//! sender as if it came the other way, and the version, so it cannot be
//! downgraded. The CRC covers the tag, so line noise is told apart from
//! forgery before any AES work. A receiver checks, in this order: length,
//! CRC, version and flags, tag, direction, counter, message; its
//! [`ReplayGuard`] only moves on a frame that passed everything.
//!
//! The tag is truncated to 8 bytes, as NIST SP 800-38B allows. A forger must
//! guess 64 bits per attempt, and a serial link carries at most a few
//! thousand frames a second: at 5000 a second, some 60 million years to an
//! even chance. (LoRaWAN trusts a 4-byte CMAC.) The 8 bytes saved are 8 more bytes of sightings in
//! every frame.
//!
//! # Message bodies
//!
//! | type | message | direction | body |
//! |---|---|---|---|
//! | 0x01 | [`Hello`] | node to gateway | node id u32, firmware major, minor, patch u8, role u8 (0 beacon, 1 scanner), last downlink counter accepted u32: 12 bytes (8 without the counter, from firmware before it, still read) |
//! | 0x02 | [`Status`] | node to gateway | uptime s u32, battery mV u16, temperature 0.01 °C i16, adverts seen u32, queue drops u32, frames rejected u32, CRC failures u32: 24 bytes (20 without CRC failures, from firmware before them, still read) |
//! | 0x03 | [`SightingBatch`] | node to gateway | window start ms of uptime u64, window length ms u16, then entries to the end |
//! | 0x81 | [`Configure`] | gateway to node | role u8, tx power dBm i8, advertising interval ms u16, scan window ms u16, identity kind u8, identity: 7 + 0, 20 or 16 bytes in all |
//! | 0x82 | [`Provision`] | gateway to node | new node id u32, new AES-128 key (16 bytes): 20 bytes |
//!
//! The top bit of the type is the direction; a frame whose type disagrees
//! with its flags is refused. `Configure` identity kinds: 0 none; 1 iBeacon,
//! UUID (16 bytes as written) then major u16, minor u16; 2 Eddystone-UID,
//! namespace (10) then instance (6).
//!
//! A node answers every `Configure` it applies with a `Hello`: that is the
//! gateway's acknowledgement. The `Hello` names the counter of the last
//! gateway-to-node frame the node accepted, that `Configure`'s: a gateway
//! that lost its record of the node's uplink counter takes the node's frames
//! again from such a `Hello` on, since no frame sealed before the
//! `Configure` can name it.
//!
//! # Provisioning
//!
//! A node fresh from the factory holds [`FACTORY_KEY`] (all zero) and node
//! id [`UNPROVISIONED_NODE_ID`] (0), seals its `Hello` and `Status` under
//! them and does nothing else until provisioned. A `Provision` frame is
//! sealed under the key the node holds now, with its current id in the
//! header, so the factory key opens only unprovisioned nodes and a
//! provisioned node is re-keyed only by whoever knows its key. Once it has
//! applied one, the node seals under the new key and id, restarts its uplink
//! counter at 1 (no counter repeats under one key) and sends `Hello`. A
//! `Provision` carrying the key the node already holds changes only its id:
//! both counters go on, as restarting them would repeat them under that key.
//!
//! A sighting entry (8 + L bytes):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 1 | kind ([`FrameKind`]) |
//! | 1 | 1 | channel, 37 to 39 |
//! | 2 | 3 | RSSI min, max, mean, i8 dBm, min <= mean <= max |
//! | 5 | 2 | count of advertisements, u16, at least 1 |
//! | 7 | 1 | identity length L, 1 to [`MAX_IDENTITY_LEN`] |
//! | 8 | L | identity |
//!
//! The identity is what tells devices apart for the kind: for iBeacon the
//! UUID, major and minor (20 bytes, as in the advertisement); for AltBeacon
//! the 20-byte beacon id; for Eddystone-UID namespace and instance (16); for
//! Eddystone-EID the 8-byte EID; for Eddystone-URL the encoded URL; for every
//! other kind the sender's address in the 7-byte form of
//! [`address_identity`].
//!
//! # Counters across restarts
//!
//! A receiver refuses any counter it has already passed, so a sender must
//! never reuse one: a node persists a high-water mark in flash, reserving a
//! block of counters per write, and resumes above it with
//! [`Sealer::resume`]; the gateway does the same for each node's downlink.

mod deframer;
mod frame;
mod message;
mod sighting;
mod wire;

pub use deframer::{Deframer, DeframerStats, Feed, LinkDeframer, unstuff};
pub use frame::{
    Direction, Header, NodeKey, ReplayGuard, Sealer, UnverifiedFrame, cmac_tag, encode_frame,
    open_frame, seal,
};
pub use message::{
    BeaconIdentity, Configure, FirmwareVersion, Hello, Message, MessageKind, Provision, Role,
    Status,
};
pub use sighting::{
    BatchWriter, FrameKind, MAX_BATCH_ENTRIES_LEN, MAX_ENTRY_LEN, MAX_IDENTITY_LEN, Rssi, Sighting,
    SightingBatch, Sightings, address_identity,
};

/// The key of a node that has not been provisioned: all zero. Anyone can
/// open and forge frames under it; it only lets a fresh node say `Hello`
/// and take its real key in a [`Provision`].
pub const FACTORY_KEY: NodeKey = [0; 16];

/// The node id of a node that has not been provisioned.
pub const UNPROVISIONED_NODE_ID: u32 = 0;

/// The version byte every frame starts with.
pub const PROTOCOL_VERSION: u8 = 1;

/// Bytes before the body: version, flags, node id, counter, type.
pub const FRAME_HEADER_LEN: usize = 11;

/// Bytes of the truncated CMAC tag (see the module documentation for why 8).
pub const TAG_LEN: usize = 8;

/// Bytes of the CRC-32 that ends a frame.
pub const FRAME_CRC_LEN: usize = 4;

/// Bytes every frame spends around its body.
pub const FRAME_OVERHEAD: usize = FRAME_HEADER_LEN + TAG_LEN + FRAME_CRC_LEN;

/// Longest frame before stuffing.
///
/// 512 bytes carry about 30 sightings of devices known by address (15
/// bytes each). At 115200 baud such a frame takes 45 ms, so a `Configure`
/// never waits long behind a batch, and one corrupted byte costs at most one
/// frame's sightings. A node's buffers for it (deframer, sealing scratch,
/// batch) come to about 1.5 KiB of the nRF52840's 256 KiB.
pub const MAX_FRAME_LEN: usize = 512;

/// Longest body a frame carries.
pub const MAX_BODY_LEN: usize = MAX_FRAME_LEN - FRAME_OVERHEAD;

/// Longest frame after COBS stuffing, without delimiters: the size of a
/// [`LinkDeframer`]'s buffer.
pub const MAX_STUFFED_LEN: usize = cobs::max_encoding_length(MAX_FRAME_LEN);

/// Longest frame on the wire, both delimiters included: the output buffer
/// [`encode_frame`] and [`Sealer::seal`] need at most.
pub const MAX_WIRE_LEN: usize = MAX_STUFFED_LEN + 2;
