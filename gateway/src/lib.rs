//! Aisle's store gateway.
//!
//! Radio bytes flow one way: advertisements are decoded by `aisle-protocol`,
//! then identified, located, turned into presence events and offers, and
//! published. This crate holds the stages that run on the gateway; its
//! binary, `aisle`, is a thin command line over them.

pub mod bluetooth;
pub mod cli;
pub mod config;
pub mod engine;
pub mod identify;
pub mod inspect;
pub mod layout;
pub mod mqtt;
pub mod nodelink;
pub mod nodesim;
pub mod pipeline;
pub mod publish;
pub mod raster;
pub mod record;
pub mod replay;
pub mod service;
pub mod sim;
pub mod source;

/// splitmix64's finaliser: spreads a seed over all 64 bits. Cheap and
/// deterministic, for ids and simulated values, never for secrets.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a over a name: the same name always gives the same 64 bits.
pub(crate) fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
