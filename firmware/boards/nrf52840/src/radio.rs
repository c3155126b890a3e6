//! The nRF52840 RADIO in BLE 1 Mbit mode as the core's [`Radio`].
//!
//! embassy-nrf 0.11 has no BLE radio driver, so this drives the peripheral
//! through its PAC. The core whitens and computes the CRC itself, so the
//! radio runs raw: no length field, no S0/S1, hardware CRC and whitening off.
//! Without a length field the radio sends exactly `STATLEN` bytes, which is
//! set to the packet's length before each transmission, and always receives
//! `MAX_AIR_PACKET_LEN` bytes; the core reads the true length from the
//! de-whitened header and ignores what follows the CRC.

use core::future::poll_fn;
use core::task::Poll;

use aisle_firmware::hw::{MAX_AIR_PACKET_LEN, Radio, Reception};
use aisle_firmware::protocol::ll::Channel;
use embassy_futures::select::{Either, select};
use embassy_nrf::interrupt::typelevel::{Binding, Handler, Interrupt, RADIO as RadioIrq};
use embassy_nrf::pac::radio::vals::{Endian, Len, Mode, Plen, Txpower};
use embassy_nrf::pac::{self, radio::vals::State};
use embassy_nrf::{Peri, peripherals::RADIO};
use embassy_sync::waitqueue::AtomicWaker;
use embassy_time::Timer;

/// The advertising access address (Core spec Vol 6 Part B 2.1.2).
const ADVERTISING_ACCESS_ADDRESS: u32 = 0x8E89_BED6;

/// Longest air packet in microseconds at 1 Mbit/s: once its access address
/// is heard, a reception this close to the deadline is let finish.
const MAX_AIR_PACKET_US: u64 = MAX_AIR_PACKET_LEN as u64 * 8;

/// `MAX_AIR_PACKET_LEN` for the 8-bit MAXLEN and STATLEN fields.
#[allow(clippy::cast_possible_truncation)] // 42: checked below.
const AIR_LEN: u8 = MAX_AIR_PACKET_LEN as u8;
const _: () = assert!(MAX_AIR_PACKET_LEN <= u8::MAX as usize);

/// Transmit levels the nRF52840 supports, strongest first (its product
/// specification, RADIO register TXPOWER; -30 dBm is listed there as a
/// deprecated alias of -40 dBm, so it is left out).
const TX_LEVELS_DBM: [i8; 14] = [8, 7, 6, 5, 4, 3, 2, 0, -4, -8, -12, -16, -20, -40];

static DISABLED: AtomicWaker = AtomicWaker::new();

/// Wakes the task waiting for the end of a packet (the DISABLED event).
pub struct InterruptHandler;

impl Handler<RadioIrq> for InterruptHandler {
    unsafe fn on_interrupt() {
        pac::RADIO.intenclr().write(|w| w.set_disabled(true));
        DISABLED.wake();
    }
}

/// The radio never fails on its own: a missed packet is a timeout.
#[derive(Debug)]
pub enum Infallible {}

/// The RADIO peripheral, configured for raw BLE 1 Mbit air packets.
pub struct BleRadio<'d> {
    _radio: Peri<'d, RADIO>,
    /// `EasyDMA` reads and writes RAM only, and the caller's packet may be in
    /// flash: every packet passes through this buffer.
    packet: [u8; MAX_AIR_PACKET_LEN],
}

impl<'d> BleRadio<'d> {
    /// Configures the radio. HFCLK must run from the external crystal
    /// (`HfclkSource::ExternalXtal`): the RC oscillator is too far off for BLE.
    pub fn new(
        radio: Peri<'d, RADIO>,
        _irq: impl Binding<RadioIrq, InterruptHandler> + 'd,
    ) -> Self {
        let r = pac::RADIO;
        // Power-cycling the peripheral returns every register to its reset value.
        r.power().write(|w| w.set_power(false));
        r.power().write(|w| w.set_power(true));
        r.mode().write(|w| w.set_mode(Mode::Ble1mbit));
        r.pcnf0().write(|w| {
            w.set_lflen(0);
            w.set_s0len(false);
            w.set_s1len(0);
            w.set_plen(Plen::_8bit);
        });
        r.pcnf1().write(|w| {
            w.set_maxlen(AIR_LEN);
            w.set_statlen(AIR_LEN);
            // Three base bytes plus the prefix byte make the 4-byte access address.
            w.set_balen(3);
            w.set_endian(Endian::Little);
            w.set_whiteen(false);
        });
        r.crccnf().write(|w| w.set_len(Len::Disabled));
        r.base0().write_value(ADVERTISING_ACCESS_ADDRESS << 8);
        r.prefix0()
            .write(|w| w.set_ap0((ADVERTISING_ACCESS_ADDRESS >> 24) as u8));
        r.txaddress().write(|w| w.set_txaddress(0));
        r.rxaddresses().write(|w| w.set_addr0(true));
        r.shorts().write(|w| {
            w.set_ready_start(true);
            w.set_end_disable(true);
            w.set_address_rssistart(true);
            w.set_disabled_rssistop(true);
        });
        RadioIrq::unpend();
        // SAFETY: the handler above only clears an interrupt enable and wakes
        // a waker; nothing it touches is assumed unchanged by other code.
        unsafe { RadioIrq::enable() };
        Self {
            _radio: radio,
            packet: [0; MAX_AIR_PACKET_LEN],
        }
    }

    /// Tunes to `channel` and starts receiving (`rx`) or sending `len` bytes
    /// of the packet buffer; the shorts run the rest up to DISABLED.
    fn start(&mut self, channel: Channel, len: u8, rx: bool) {
        let r = pac::RADIO;
        // FREQUENCY counts MHz above 2400: 2, 26 and 80 for channels 37, 38, 39.
        let above_2400 = channel.frequency_mhz().saturating_sub(2400);
        r.frequency()
            .write(|w| w.set_frequency(u8::try_from(above_2400).unwrap_or(u8::MAX)));
        r.pcnf1().modify(|w| w.set_statlen(len));
        r.packetptr().write_value(self.packet.as_mut_ptr() as u32);
        r.events_address().write_value(0);
        r.events_disabled().write_value(0);
        if rx {
            r.tasks_rxen().write_value(1);
        } else {
            r.tasks_txen().write_value(1);
        }
    }
}

/// Waits for the DISABLED event that ends every packet.
async fn disabled() {
    poll_fn(|cx| {
        DISABLED.register(cx.waker());
        if pac::RADIO.events_disabled().read() != 0 {
            return Poll::Ready(());
        }
        pac::RADIO.intenset().write(|w| w.set_disabled(true));
        Poll::Pending
    })
    .await;
}

/// Stops the radio however its operation ends, so a dropped future never
/// leaves `EasyDMA` writing into the packet buffer.
struct StopOnDrop;

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let r = pac::RADIO;
        r.intenclr().write(|w| w.set_disabled(true));
        if r.state().read().state() != State::Disabled {
            r.tasks_disable().write_value(1);
            // Disabling takes a few microseconds (tDISABLE in the product
            // specification).
            while r.state().read().state() != State::Disabled {}
        }
    }
}

impl Radio for BleRadio<'_> {
    type Error = Infallible;

    async fn transmit(
        &mut self,
        channel: Channel,
        tx_power_dbm: i8,
        air: &[u8],
    ) -> Result<(), Infallible> {
        let len = air.len().min(MAX_AIR_PACKET_LEN);
        self.packet[..len].copy_from_slice(&air[..len]);
        let len = u8::try_from(len).unwrap_or(AIR_LEN);
        let level = TX_LEVELS_DBM
            .iter()
            .copied()
            .min_by_key(|level| level.abs_diff(tx_power_dbm));
        // TXPOWER takes the level in dBm as a two's-complement byte.
        let level = level.unwrap_or(0);
        pac::RADIO
            .txpower()
            .write(|w| w.set_txpower(Txpower::from_bits(level.cast_unsigned())));
        let _stop = StopOnDrop;
        self.start(channel, len, false);
        disabled().await;
        Ok(())
    }

    async fn receive(
        &mut self,
        channel: Channel,
        timeout_us: u32,
        buf: &mut [u8],
    ) -> Result<Option<Reception>, Infallible> {
        let stop = StopOnDrop;
        self.start(channel, AIR_LEN, true);
        let heard = match select(disabled(), Timer::after_micros(timeout_us.into())).await {
            Either::First(()) => true,
            Either::Second(()) if pac::RADIO.events_address().read() != 0 => {
                matches!(
                    select(disabled(), Timer::after_micros(MAX_AIR_PACKET_US)).await,
                    Either::First(())
                )
            }
            Either::Second(()) => false,
        };
        drop(stop);
        if !heard {
            return Ok(None);
        }
        let len = buf.len().min(MAX_AIR_PACKET_LEN);
        buf[..len].copy_from_slice(&self.packet[..len]);
        // RSSISAMPLE holds the magnitude of a negative level, 0 to 127.
        let rssi_dbm = -pac::RADIO.rssisample().read().rssisample().cast_signed();
        Ok(Some(Reception { len, rssi_dbm }))
    }
}
