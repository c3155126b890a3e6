//! What the node link accepted and refused, counted for logs and status.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a frame was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Bytes between delimiters that were not a stuffed frame: line noise,
    /// or a frame too long for any node to send.
    Noise,
    /// A frame that fails its length, CRC or version check: cut short or
    /// hit by noise.
    Corrupt,
    /// A frame from node 0: a node not provisioned yet.
    Unprovisioned,
    /// A frame from a node id not in the registry.
    UnknownNode,
    /// A frame whose tag does not verify under the node's key: forged, or
    /// sealed with another key.
    Forged,
    /// An authentic frame whose counter is not newer than the last
    /// accepted: a replay.
    Replayed,
    /// An authentic frame travelling gateway to node.
    WrongDirection,
    /// An authentic frame whose message does not decode.
    Malformed,
    /// An authentic frame from a node whose uplink counter the gateway
    /// lost track of (it stopped without writing it down): dropped until
    /// the node's `Hello` answers a frame sealed since, as an old frame
    /// played back could not (see `NodeLinks`).
    AwaitingHello,
}

impl Rejection {
    /// The rejection an error from `UnverifiedFrame::open` stands for.
    #[must_use]
    pub fn from_open(error: &aisle_protocol::Error) -> Self {
        match error {
            aisle_protocol::Error::BadTag { .. } => Rejection::Forged,
            aisle_protocol::Error::Replay { .. } => Rejection::Replayed,
            aisle_protocol::Error::WrongKind { .. } => Rejection::WrongDirection,
            _ => Rejection::Malformed,
        }
    }

    /// Logs the rejection: noise at debug level (a noisy line makes a lot),
    /// anything that may be an attack at warn.
    pub fn log(self, port: &str, node: Option<u32>) {
        match self {
            Rejection::Noise | Rejection::Corrupt => {
                tracing::debug!(port, ?node, rejection = ?self, "node link frame dropped");
            }
            Rejection::AwaitingHello => {
                tracing::debug!(port, ?node, "node frame held back until the node answers");
            }
            Rejection::Unprovisioned => {
                tracing::info!(
                    port,
                    "unprovisioned node on the port: run `aisle node provision`"
                );
            }
            _ => tracing::warn!(port, ?node, rejection = ?self, "node link frame refused"),
        }
    }
}

/// Counters shared by every port of the node link.
#[derive(Debug, Default)]
pub struct LinkStats {
    accepted: AtomicU64,
    sightings: AtomicU64,
    configures_sent: AtomicU64,
    reconnects: AtomicU64,
    rejected: [AtomicU64; 9],
}

/// A snapshot of [`LinkStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Frames accepted.
    pub accepted: u64,
    /// Sightings passed to the pipeline.
    pub sightings: u64,
    /// `Configure` frames sent.
    pub configures_sent: u64,
    /// Times a port was opened again after it was lost.
    pub reconnects: u64,
    /// See [`Rejection::Noise`].
    pub noise: u64,
    /// See [`Rejection::Corrupt`].
    pub corrupt: u64,
    /// See [`Rejection::Unprovisioned`].
    pub unprovisioned: u64,
    /// See [`Rejection::UnknownNode`].
    pub unknown_node: u64,
    /// See [`Rejection::Forged`].
    pub forged: u64,
    /// See [`Rejection::Replayed`].
    pub replayed: u64,
    /// See [`Rejection::WrongDirection`].
    pub wrong_direction: u64,
    /// See [`Rejection::Malformed`].
    pub malformed: u64,
    /// See [`Rejection::AwaitingHello`].
    pub awaiting_hello: u64,
}

impl LinkCounts {
    /// Frames refused for any reason.
    #[must_use]
    pub fn rejected(&self) -> u64 {
        self.noise
            + self.corrupt
            + self.unprovisioned
            + self.unknown_node
            + self.forged
            + self.replayed
            + self.wrong_direction
            + self.malformed
            + self.awaiting_hello
    }
}

impl LinkStats {
    pub(super) fn accept(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn sighting(&self) {
        self.sightings.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn configure_sent(&self) {
        self.configures_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn reject(&self, why: Rejection) {
        self.rejected[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> LinkCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let r = |why: Rejection| get(&self.rejected[why as usize]);
        LinkCounts {
            accepted: get(&self.accepted),
            sightings: get(&self.sightings),
            configures_sent: get(&self.configures_sent),
            reconnects: get(&self.reconnects),
            noise: r(Rejection::Noise),
            corrupt: r(Rejection::Corrupt),
            unprovisioned: r(Rejection::Unprovisioned),
            unknown_node: r(Rejection::UnknownNode),
            forged: r(Rejection::Forged),
            replayed: r(Rejection::Replayed),
            wrong_direction: r(Rejection::WrongDirection),
            malformed: r(Rejection::Malformed),
            awaiting_hello: r(Rejection::AwaitingHello),
        }
    }
}
