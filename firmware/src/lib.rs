//! Aisle's shelf-node firmware core.
//!
//! A node runs in one of two roles: a **beacon** advertises the store's
//! identity so shoppers' phones can range it; a **scanner** listens on the
//! advertising channels and reports what it hears to the gateway over the
//! node link. The logic is generic over the hardware so the same code runs
//! on the nRF52840 board, on a Cortex-M4 under QEMU, and on the host in tests.
#![no_std]
#![warn(missing_docs)]

pub use aisle_protocol as protocol;
