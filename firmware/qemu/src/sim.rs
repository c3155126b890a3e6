//! A simulated world for the node: virtual time, and a radio medium of
//! advertising phones with path loss, fading and bit errors.
//!
//! Time is virtual: it moves only when the node waits (a delay, a radio
//! timeout, a packet on the air), so a session of many simulated seconds runs
//! in a moment and every run is the same.

use core::cell::{Cell, RefCell};

use aisle_firmware::hw::{Clock, MAX_AIR_PACKET_LEN, Radio, Reception, air_time_us};
use aisle_firmware::protocol::ll::{
    ADV_CRC_INIT, AdvPdu, Channel, DeviceAddress, append_crc24, whiten,
};
use embassy_futures::yield_now;

use crate::gateway::Wire;

/// Gap between the starts of an advertising event's packets on 37, 38 and
/// 39: a controller sends them back to back, well under 10 ms apart.
const PACKET_SPACING_US: u64 = 600;

/// Advertising delay, 0 to 10 ms, added to every event (Core spec Vol 6
/// Part B 4.4.2.2.1).
const MAX_ADV_DELAY_US: u64 = 10_000;

/// Below this a packet is not heard: the nRF52840's typical sensitivity in
/// BLE 1 Mbit mode is -95 dBm (its product specification, radio electrical
/// specification).
const SENSITIVITY_DBM: i16 = -95;

/// Packets lost to fading, in 256ths: a shelf in a store is a poor place.
const LOSS_PER_256: u64 = 20;

/// Packets received with a flipped bit, in 256ths: the core's CRC check must
/// throw them away.
const CORRUPT_PER_256: u64 = 12;

/// Spread of the received level around a phone's mean, dBm either side.
const RSSI_SPREAD_DB: i16 = 4;

/// A deterministic generator: splitmix64 (Steele, Lea, Flood 2014).
pub struct SplitMix(u64);

impl SplitMix {
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// Uniform in `0..bound`, as an index.
    fn index(&mut self, bound: usize) -> usize {
        usize::try_from(self.below(bound as u64)).unwrap_or(0)
    }

    /// Uniform in `-spread..=spread`.
    fn offset(&mut self, spread: i16) -> i16 {
        let span = 2 * u64::from(spread.unsigned_abs()) + 1;
        i16::try_from(self.below(span)).unwrap_or(0) - spread
    }
}

/// Virtual time in microseconds since the node started.
pub struct SimTime {
    now_us: Cell<u64>,
}

impl SimTime {
    pub const fn new() -> Self {
        Self {
            now_us: Cell::new(0),
        }
    }

    pub fn now_us(&self) -> u64 {
        self.now_us.get()
    }

    pub fn now_ms(&self) -> u64 {
        self.now_us.get() / 1000
    }

    fn advance_to(&self, us: u64) {
        self.now_us.set(self.now_us.get().max(us));
    }
}

/// The node's clock: virtual time since the node last started.
pub struct SimClock<'w> {
    time: &'w SimTime,
    boot_us: u64,
}

impl<'w> SimClock<'w> {
    /// A clock that reads 0 now, as a node's does at power-up.
    pub fn starting_now(time: &'w SimTime) -> Self {
        Self {
            time,
            boot_us: time.now_us(),
        }
    }
}

impl Clock for SimClock<'_> {
    fn now_ms(&self) -> u64 {
        (self.time.now_us() - self.boot_us) / 1000
    }
}

/// The node's delays, on virtual time. Each one also yields, so the gateway
/// side of the session runs while the node waits.
pub struct SimDelay<'w>(pub &'w SimTime);

impl embedded_hal_async::delay::DelayNs for SimDelay<'_> {
    async fn delay_ns(&mut self, ns: u32) {
        self.0
            .advance_to(self.0.now_us() + u64::from(ns).div_ceil(1000));
        yield_now().await;
    }
}

/// A device advertising near the node.
pub struct Phone {
    pub address: DeviceAddress,
    /// `AdvData` of its `ADV_IND`.
    pub adv_data: &'static [u8],
    pub interval_us: u64,
    /// Mean received level at the node: its transmit power less the path loss
    /// to the shelf.
    pub rssi_dbm: i8,
    /// Start of its current advertising event.
    event_us: u64,
    event_no: u64,
    seed: u64,
}

impl Phone {
    pub const fn new(
        address: DeviceAddress,
        adv_data: &'static [u8],
        interval_ms: u64,
        rssi_dbm: i8,
        seed: u64,
    ) -> Self {
        Self {
            address,
            adv_data,
            interval_us: interval_ms * 1000,
            rssi_dbm,
            event_us: seed % 100_000,
            event_no: 0,
            seed,
        }
    }

    /// Start of event `n + 1` given event `n` starts at `start`: the
    /// interval plus this event's own advertising delay.
    fn following(&self, start: u64, n: u64) -> u64 {
        let delay = SplitMix::new(self.seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D))
            .below(MAX_ADV_DELAY_US + 1);
        start + self.interval_us + delay
    }

    /// When this phone's next packet on `channel` starts, at or after `now`.
    fn next_on(&mut self, channel: Channel, now: u64) -> u64 {
        let offset = u64::from(channel.index() - 37) * PACKET_SPACING_US;
        // Events whose every packet is over are history.
        while self.event_us + 2 * PACKET_SPACING_US + air_time_us(MAX_AIR_PACKET_LEN) < now {
            self.event_us = self.following(self.event_us, self.event_no);
            self.event_no += 1;
        }
        let here = self.event_us + offset;
        if here >= now {
            here
        } else {
            self.following(self.event_us, self.event_no) + offset
        }
    }

    /// The air packet this phone sends on `channel`: PDU, CRC, whitened.
    fn air_packet(&self, channel: Channel, out: &mut [u8; MAX_AIR_PACKET_LEN]) -> usize {
        let pdu = AdvPdu::AdvInd {
            adv_a: self.address,
            data: self.adv_data,
            ch_sel: false,
        };
        let pdu_len = pdu
            .encode(out)
            .expect("a legacy advertisement fits an air packet");
        let len = append_crc24(ADV_CRC_INIT, out, pdu_len).expect("room for the CRC");
        whiten(channel, &mut out[..len]);
        len
    }
}

/// What one packet the node heard was, for checking its batches.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// Deliveries before this one since the session began.
    pub seq: u32,
    pub phone: usize,
    pub channel: u8,
    pub rssi_dbm: i8,
    /// Whether a bit was flipped (the core must drop it).
    pub corrupted: bool,
}

/// Packets the medium keeps a record of: a scanner hears about 17 a second
/// from the simulated phones, and a batch window is checked as it arrives.
pub const DELIVERY_LOG_LEN: usize = 1024;

/// A packet the node sent, for checking the beacon role.
#[derive(Clone, Copy)]
pub struct Transmission {
    pub channel: Channel,
    pub tx_power_dbm: i8,
    pub at_us: u64,
    pub len: usize,
    pub air: [u8; MAX_AIR_PACKET_LEN],
}

/// Transmissions kept, the latest ones.
pub const TRANSMISSION_LOG_LEN: usize = 64;

/// The space around the node: phones, fading, and a record of what passed.
pub struct Medium<const P: usize> {
    pub phones: RefCell<[Phone; P]>,
    rng: RefCell<SplitMix>,
    pub deliveries: RefCell<Log<Delivery, DELIVERY_LOG_LEN>>,
    pub transmissions: RefCell<Log<Transmission, TRANSMISSION_LOG_LEN>>,
    /// Packets sent to the node but lost to fading.
    pub faded: Cell<u32>,
    /// Packets delivered to the node whole, and with a flipped bit.
    pub intact: Cell<u32>,
    pub corrupted: Cell<u32>,
}

impl<const P: usize> Medium<P> {
    pub const fn new(phones: [Phone; P], seed: u64) -> Self {
        Self {
            phones: RefCell::new(phones),
            rng: RefCell::new(SplitMix::new(seed)),
            deliveries: RefCell::new(Log::new()),
            transmissions: RefCell::new(Log::new()),
            faded: Cell::new(0),
            intact: Cell::new(0),
            corrupted: Cell::new(0),
        }
    }

    /// Packets delivered to the node so far, whole or not.
    pub fn delivered(&self) -> u32 {
        self.intact.get() + self.corrupted.get()
    }

    /// The node's radio in this medium. It lets the gateway read all that
    /// is on `uplink` before it hears anything new (see [`SimRadio`]).
    pub fn radio<'m>(&'m self, time: &'m SimTime, uplink: &'m Wire) -> SimRadio<'m, P> {
        SimRadio {
            medium: self,
            time,
            uplink,
        }
    }

    /// The first audible packet on `channel` that ends by `deadline`, with
    /// the index of its phone.
    fn next_packet(&self, channel: Channel, now: u64, deadline: u64) -> Option<(usize, u64)> {
        let mut phones = self.phones.borrow_mut();
        phones
            .iter_mut()
            .enumerate()
            .filter(|(_, phone)| i16::from(phone.rssi_dbm) + RSSI_SPREAD_DB >= SENSITIVITY_DBM)
            .map(|(i, phone)| (i, phone.next_on(channel, now)))
            .filter(|&(_, start)| start + air_time_us(MAX_AIR_PACKET_LEN) <= deadline)
            .min_by_key(|&(_, start)| start)
    }
}

/// A record of fixed capacity: past it the newest entries replace the
/// oldest. Checks look only at recent entries.
pub struct Log<T: Copy, const N: usize> {
    entries: [Option<T>; N],
    next: usize,
}

impl<T: Copy, const N: usize> Log<T, N> {
    const fn new() -> Self {
        Self {
            entries: [None; N],
            next: 0,
        }
    }

    fn push(&mut self, entry: T) {
        self.entries[self.next] = Some(entry);
        self.next = (self.next + 1) % N;
    }

    /// The entries still held, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        let (newer, older) = self.entries.split_at(self.next);
        older.iter().chain(newer).flatten()
    }
}

/// The node's radio: hears the medium's phones, records what it sends.
///
/// Before it hears a packet it waits (in real time, not simulated) until
/// the gateway has read everything the node sent: then the gateway checks
/// each batch and `Status` against exactly the packets delivered before it.
pub struct SimRadio<'m, const P: usize> {
    medium: &'m Medium<P>,
    time: &'m SimTime,
    uplink: &'m Wire,
}

/// The simulated radio has no failure of its own.
#[derive(Debug)]
pub enum Never {}

impl<const P: usize> Radio for SimRadio<'_, P> {
    type Error = Never;

    async fn transmit(
        &mut self,
        channel: Channel,
        tx_power_dbm: i8,
        air: &[u8],
    ) -> Result<(), Never> {
        let time = self.time;
        let len = air.len().min(MAX_AIR_PACKET_LEN);
        let mut copy = [0; MAX_AIR_PACKET_LEN];
        copy[..len].copy_from_slice(&air[..len]);
        self.medium.transmissions.borrow_mut().push(Transmission {
            channel,
            tx_power_dbm,
            at_us: time.now_us(),
            len,
            air: copy,
        });
        time.advance_to(time.now_us() + air_time_us(len));
        yield_now().await;
        Ok(())
    }

    async fn receive(
        &mut self,
        channel: Channel,
        timeout_us: u32,
        buf: &mut [u8],
    ) -> Result<Option<Reception>, Never> {
        let medium = self.medium;
        let time = self.time;
        let deadline = time.now_us() + u64::from(timeout_us);
        // Every receive lets the gateway run until it has read the link dry.
        yield_now().await;
        while !self.uplink.is_empty() {
            yield_now().await;
        }
        loop {
            let Some((index, start)) = medium.next_packet(channel, time.now_us(), deadline) else {
                time.advance_to(deadline);
                return Ok(None);
            };
            let mut air = [0; MAX_AIR_PACKET_LEN];
            let (packet_len, phone_rssi) = {
                let phones = medium.phones.borrow();
                (
                    phones[index].air_packet(channel, &mut air),
                    phones[index].rssi_dbm,
                )
            };
            time.advance_to(start + air_time_us(MAX_AIR_PACKET_LEN));
            let mut rng = medium.rng.borrow_mut();
            let spread = rng.offset(RSSI_SPREAD_DB);
            let rssi = i16::from(phone_rssi) + spread;
            if rssi < SENSITIVITY_DBM || rng.below(256) < LOSS_PER_256 {
                medium.faded.set(medium.faded.get() + 1);
                continue;
            }
            let corrupted = rng.below(256) < CORRUPT_PER_256;
            if corrupted {
                let bit = rng.index(8 * packet_len);
                air[bit / 8] ^= 1 << (bit % 8);
            }
            // The nRF radio in raw mode always fills MAX_AIR_PACKET_LEN bytes:
            // what follows the packet is whatever the air held.
            for byte in &mut air[packet_len..] {
                *byte = rng.next_u64().to_le_bytes()[0];
            }
            let rssi_dbm = i8::try_from(rssi).unwrap_or(i8::MIN);
            medium.deliveries.borrow_mut().push(Delivery {
                seq: medium.delivered(),
                phone: index,
                channel: channel.index(),
                rssi_dbm,
                corrupted,
            });
            let tally = if corrupted {
                &medium.corrupted
            } else {
                &medium.intact
            };
            tally.set(tally.get() + 1);
            let len = buf.len().min(MAX_AIR_PACKET_LEN);
            buf[..len].copy_from_slice(&air[..len]);
            return Ok(Some(Reception { len, rssi_dbm }));
        }
    }
}
