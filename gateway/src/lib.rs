//! Aisle's store gateway.
//!
//! Radio bytes flow one way: advertisements are decoded by `aisle-protocol`,
//! then identified, located, turned into presence events and offers, and
//! published. This crate holds the stages that run on the gateway; its
//! binary, `aisle`, is a thin command line over them.

pub mod cli;
pub mod config;
pub mod engine;
pub mod identify;
pub mod inspect;
pub mod layout;
pub mod mqtt;
pub mod pipeline;
pub mod publish;
pub mod record;
pub mod replay;
pub mod sim;
pub mod source;
