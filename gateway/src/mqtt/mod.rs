//! MQTT output: an embedded broker for stores without one, and the publisher
//! that carries positions, presence events and offer triggers to a broker.
//!
//! Positions are published at QoS 0: a stale position is worthless, so they
//! are dropped while the broker is unreachable. Presence events and offer
//! triggers are QoS 1 and go through an on-disk [`spool::Spool`] first, so
//! they are delivered at least once across broker outages and gateway restarts.

pub mod broker;
pub mod publisher;
pub mod spool;
pub mod tls;

pub use broker::{BrokerError, EmbeddedBroker};
pub use publisher::{
    BrokerOptions, Publisher, PublisherConfig, PublisherError, PublisherStats, RetainedStatus,
};
pub use spool::{SeqNo, Spool, SpoolError};
pub use tls::{TlsError, TlsFiles};

/// Delivery guarantee of an outgoing message. QoS 2 is not offered: the
/// subscribers dedupe presence events by id, so at-least-once is enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QoS {
    /// Published while connected, dropped (and counted) otherwise.
    AtMostOnce,
    /// Spooled on disk, then published until the broker acknowledges it.
    AtLeastOnce,
}

/// A message for the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

impl Outgoing {
    /// A QoS 1, not retained message.
    #[must_use]
    pub fn at_least_once(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtLeastOnce,
            retain: false,
        }
    }

    /// A QoS 0, not retained message.
    #[must_use]
    pub fn at_most_once(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
        }
    }
}
