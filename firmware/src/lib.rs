//! Aisle's shelf-node firmware core.
//!
//! A node runs in one of two roles: a **beacon** advertises the store's
//! identity so shoppers' phones can range it; a **scanner** listens on the
//! advertising channels and reports what it hears to the gateway over the
//! node link. Both roles are to be written generic over the hardware, on
//! the formats of [`aisle_protocol`] (beacon frames, link-layer PDUs, CRC-24
//! and whitening, the authenticated node link), which this crate re-exports
//! and which already build for `thumbv7em-none-eabihf` without `std` or
//! `alloc`. The roles themselves are not written yet.
#![no_std]
#![warn(missing_docs)]

pub use aisle_protocol as protocol;
