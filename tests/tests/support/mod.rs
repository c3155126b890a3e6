//! What the end-to-end tests share: brokers, a subscriber, a scripted walk,
//! and the gateway running in this process.

#![allow(dead_code)] // each test binary uses its own part

pub mod broker;
pub mod gateway;
pub mod publisher;
pub mod walk;
pub mod wire;
