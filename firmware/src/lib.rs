//! Aisle's shelf-node firmware core.
//!
//! A node runs in one of two roles: a **beacon** advertises the store's
//! identity so shoppers' phones can range it; a **scanner** listens on the
//! advertising channels and reports what it hears to the gateway over the
//! node link. Both roles are generic over the hardware ([`hw`]), on the
//! formats of [`aisle_protocol`] (beacon frames, link-layer PDUs, CRC-24 and
//! whitening, the authenticated node link), which this crate re-exports.
#![no_std]
#![warn(missing_docs)]

pub use aisle_protocol as protocol;

pub mod hw;
