//! What the firmware core needs from a board, as small traits.
//!
//! The LED is an embedded-hal [`OutputPin`](embedded_hal::digital::OutputPin),
//! waits go through embedded-hal-async's
//! [`DelayNs`](embedded_hal_async::delay::DelayNs), the link to the gateway
//! is an `embedded-io-async` byte stream and settings live in an
//! `embedded-storage-async` `NorFlash`. What no standard trait covers is
//! here: the radio, the clock and the node's sensors.

use aisle_protocol::ll::Channel;

/// The longest packet on an advertising channel, as the radio carries it
/// after the access address: 2 header bytes, 37 payload bytes, 3 CRC bytes.
pub const MAX_AIR_PACKET_LEN: usize = 2 + 37 + 3;

/// Microseconds a packet of `len` air bytes (as [`Radio::transmit`] takes
/// them) occupies the air at 1 Mbit/s, with its 1-byte preamble and 4-byte
/// access address.
#[must_use]
pub const fn air_time_us(len: usize) -> u64 {
    (1 + 4 + len as u64) * 8
}

/// A packet the radio received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reception {
    /// Bytes written at the start of the caller's buffer.
    pub len: usize,
    /// Received signal strength, dBm.
    pub rssi_dbm: i8,
}

/// A BLE 1 Mbit radio on the advertising channels.
///
/// It moves **air packets**: the bytes that follow the access address
/// (0x8E89BED6) on the air, that is the PDU and its 3-byte CRC, whitened
/// for the channel. The core computes CRC and whitening itself with
/// [`aisle_protocol::ll`], so the same code is checked on the host, in QEMU
/// and on the board; a radio with hardware CRC and whitening runs with both
/// turned off.
#[allow(async_fn_in_trait)] // Driven by one executor on one core: no `Send` bound wanted.
pub trait Radio {
    /// What the radio can fail with.
    type Error: core::fmt::Debug;

    /// Sends one air packet on `channel` at `tx_power_dbm` (the radio picks
    /// its nearest supported level) and returns once it is on the air.
    async fn transmit(
        &mut self,
        channel: Channel,
        tx_power_dbm: i8,
        air: &[u8],
    ) -> Result<(), Self::Error>;

    /// Listens on `channel` for at most `timeout_us` microseconds. Returns
    /// the first packet heard, its bytes at the start of `buf` (at most
    /// `buf.len()`; a longer packet is cut), or `None` when the time ran out.
    /// A packet whose access address arrived in time is received whole, even
    /// if it ends after the timeout. The core reads the PDU's length from
    /// the de-whitened header, so a radio may also deliver a fixed length.
    async fn receive(
        &mut self,
        channel: Channel,
        timeout_us: u32,
        buf: &mut [u8],
    ) -> Result<Option<Reception>, Self::Error>;
}

/// A monotonic clock, milliseconds since the node started.
pub trait Clock {
    /// Milliseconds since start; never goes back.
    fn now_ms(&self) -> u64;
}

/// The node's own health readings, reported in `Status`.
pub trait Sensors {
    /// Supply voltage, millivolts.
    fn battery_mv(&mut self) -> u16;
    /// Die temperature, hundredths of a degree Celsius.
    fn temperature_centi_c(&mut self) -> i16;
}

/// A borrowed radio is a radio, so a host can reboot a node (run it again)
/// on the radio it already has.
impl<R: Radio + ?Sized> Radio for &mut R {
    type Error = R::Error;

    async fn transmit(
        &mut self,
        channel: Channel,
        tx_power_dbm: i8,
        air: &[u8],
    ) -> Result<(), Self::Error> {
        R::transmit(self, channel, tx_power_dbm, air).await
    }

    async fn receive(
        &mut self,
        channel: Channel,
        timeout_us: u32,
        buf: &mut [u8],
    ) -> Result<Option<Reception>, Self::Error> {
        R::receive(self, channel, timeout_us, buf).await
    }
}
