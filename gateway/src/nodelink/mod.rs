//! The node link: shelf nodes on serial ports (USB CDC or UART), speaking
//! `aisle_protocol::link`'s authenticated frames.
//!
//! - [`registry`]: the nodes the gateway knows (id, anchor, key, desired
//!   settings, counters), in `nodes.toml` in the state directory;
//! - [`link`]: frames in, sightings and `Configure` frames out, no I/O;
//! - [`port`]: opening ports, and the blocking thread that keeps one open;
//! - [`source`]: the live gateway's source, one task per port;
//! - [`command`]: `aisle node provision` and `configure` on a port.
//!
//! A frame is accepted only if it passes, in order: the deframer (line
//! noise is dropped, and the frame after the next delimiter is whole), the
//! CRC, the registry (the node is known), the node's key (the tag), the
//! direction, and the node's replay guard. Each refusal is counted in
//! [`LinkStats`] by its reason and logged with the port and node.
//!
//! Each entry of a `SightingBatch` becomes one sighting from the node's
//! anchor: its time is the middle of the batch window on the gateway's
//! clock (see [`link`]), its RSSI the entry's mean over the window (the
//! engine filters per sighting; one value per device, channel and window
//! is what the node reports, and the mean is its least noisy summary), its
//! subject the entry's kind and identity, identified by the same stage as
//! the gateway's own advertisements.
//!
//! A running gateway picks up `aisle node configure` within a second: each
//! port's task re-reads the registry when the file changes and sends
//! `Configure` to each online node whose desired settings it has not yet
//! acknowledged (a `Hello` after a `Configure`), up to three attempts five
//! seconds apart.

pub mod command;
pub mod link;
pub mod port;
pub mod registry;
pub mod source;
pub mod stats;

pub use link::{NodeLinks, NodeLive, PortReceiver};
pub use registry::{NodeEntry, NodeSettings, Registry, RegistryError, RoleName};
pub use source::NodeLinkSource;
pub use stats::{LinkCounts, LinkStats, Rejection};
