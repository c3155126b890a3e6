//! Aisle's shelf-node firmware core.
//!
//! A node runs in one of two roles: a **beacon** advertises the store's
//! identity so shoppers' phones can range it; a **scanner** listens on the
//! advertising channels and reports what it hears to the gateway over the
//! node link. Both roles are generic over the hardware ([`hw`]), on the
//! formats of [`aisle_protocol`] (beacon frames, link-layer PDUs, CRC-24 and
//! whitening, the authenticated node link), which this crate re-exports.
//!
//! # Running a node
//!
//! A board (or a host emulator, or a test) fills a [`Node`] with its
//! peripherals and awaits [`run`]:
//!
//! ```text
//! let node = Node { radio, led, delay, link, flash, flash_range: 0..16384,
//!                   clock, sensors, seed };
//! // Only on a fatal error.
//! let error = core::pin::pin!(aisle_firmware::run(node)).await;
//! ```
//!
//! The future holds the node's whole state (4.7 KB on the nRF52840); build
//! it where it stays, with `pin!` or as a task's own future. Awaited as a
//! value it is moved, through the stack, on its first poll (9,664 bytes of
//! stack frame in the board image, 1,396 with `pin!`).
//!
//! `run` returns only on a fatal [`Error`]; to stop a node, drop its future
//! (e.g. `embassy_futures::select(pin!(run(node)), script)`). What it does:
//!
//! - **Start**: loads [`settings`] from `flash_range` (factory settings when
//!   there are none; erased and factory when they are not this crate's),
//!   resumes its uplink frame counter above the high-water mark kept there,
//!   and sends `Hello`.
//! - **Unprovisioned** (node id 0, the all-zero factory key): says `Hello`
//!   and `Status` only and accepts nothing but `Provision`.
//! - **Beacon** ([`Role::Beacon`](protocol::link::Role)): an advertising event every interval
//!   plus advDelay (0 to 10 ms from a PRNG seeded with `seed`), rotating
//!   iBeacon, Eddystone-UID and Eddystone-TLM as `ADV_NONCONN_IND` on
//!   channels 37, 38 and 39, from a static random address drawn from `seed`.
//! - **Scanner**: each scan window is split in three, one third listening on
//!   each of channels 37, 38, 39; packets are de-whitened, CRC-checked and
//!   decoded; aggregates per (identity, channel) go out as `SightingBatch`
//!   frames when the window closes.
//!   A window holds at most [`SIGHTING_CAPACITY`] aggregates; when it is
//!   full a stronger newcomer evicts the weakest (by mean RSSI) and a weaker
//!   one is refused. `Status.queue_drops` counts the advertisements lost so,
//!   `Status.adverts_seen` the intact ones heard.
//! - **Link**: `Status` every [`STATUS_INTERVAL_MS`]; `Configure` and
//!   `Provision` are persisted, applied and answered with `Hello` (the
//!   gateway's acknowledgement). `Hello` is sent at start and after each
//!   applied command; the gateway also learns a node from its `Status`,
//!   whose header names it. Refused frames (noise, forgery, replay, another
//!   node's) are counted in `Status`.
//! - **Errors**: radio, flash and link *write* errors end `run`. A link
//!   *read* error (a UART framing or overrun error) drops the partial frame,
//!   counts as a refused frame and pauses reading for
//!   [`LINK_ERROR_PAUSE_MS`]; end of stream (a read of 0 bytes) ends `run`
//!   with [`Error::LinkClosed`]. A board whose link can come and go (USB)
//!   resets on error; settings and counters are in flash.
//!
//! # The radio and the link together
//!
//! The radio's work is never cut short by the link: an advertising event
//! sends all three packets, and a listen (at most [`SCAN_SLICE_MS`]) runs to
//! its end, while link bytes are read and deframed beside it. A command
//! found among them is carried out when the radio's step ends, so a
//! `Configure` takes effect at most [`SCAN_SLICE_MS`] after it arrived; the
//! link's receive buffer should hold that long's bytes (1.2 KiB at 115200
//! baud; a gateway sends one command and waits for its `Hello`, so far less
//! in practice). While the radio has nothing to do, the node waits on the
//! link and its next deadline together.
//!
//! The link's `read` must therefore be cancel-safe (embassy's buffered
//! UARTs and USB CDC are): a read still waiting when the radio finishes is
//! dropped, and the bytes must stay for the next one.
//!
//! [`ram_flash::RamFlash`] is a `NorFlash` in RAM for hosts and emulators
//! that can simulate a power cut; [`settings::store`] writes settings into
//! a flash before a node starts (e.g. an already provisioned node).
#![no_std]
#![warn(missing_docs)]

pub use aisle_protocol as protocol;

mod beacon;
pub mod hw;
mod node;
pub mod ram_flash;
mod rng;
mod scanner;
pub mod settings;
mod state;
mod table;
mod uplink;

use core::ops::Range;

pub use beacon::{EDDYSTONE_0M_ABOVE_1M_DB, LOSS_AT_1M_DB, MAX_ADV_DELAY_MS};
pub use node::{FIRMWARE, LED_BLINK_MS, LINK_ERROR_PAUSE_MS, STATUS_INTERVAL_MS, run};
pub use scanner::SCAN_SLICE_MS;
pub use settings::{COUNTER_BLOCK, Settings, StorageError};
pub use table::SIGHTING_CAPACITY;

/// A node's peripherals and what it needs to start.
pub struct Node<R, Led, D, L, F, C, S> {
    /// The BLE radio.
    pub radio: R,
    /// The status LED, lit briefly on activity.
    pub led: Led,
    /// Waits.
    pub delay: D,
    /// The byte stream to the gateway (UART, USB CDC, a pty on a host).
    pub link: L,
    /// Where settings and the frame counter are kept.
    pub flash: F,
    /// The part of `flash` the node may use: at least two whole erase pages.
    pub flash_range: Range<u32>,
    /// Milliseconds since start.
    pub clock: C,
    /// Battery and temperature.
    pub sensors: S,
    /// Seeds the advDelay generator and the beacon's static random address;
    /// a per-device value (e.g. the nRF's FICR device id) keeps the address
    /// stable across restarts.
    pub seed: u64,
}

/// Why [`run`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<RE, LE, FE> {
    /// The radio failed.
    Radio(RE),
    /// Writing to the link failed.
    Link(LE),
    /// The link ended: a read returned no bytes.
    LinkClosed,
    /// The settings flash failed or is unusable.
    Storage(StorageError<FE>),
    /// A frame could not be sealed (its counter is exhausted: the node
    /// needs a new key).
    Protocol(protocol::Error),
}
