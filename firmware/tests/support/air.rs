//! The radio medium: advertisers on a floor plan, log-distance path loss
//! with Gaussian shadowing, damaged packets and pure noise.

use aisle_firmware::protocol::ad::Uuid;
use aisle_firmware::protocol::beacon::{EddystoneEid, IBeacon, eddystone};
use aisle_firmware::protocol::ll::{
    ADV_CRC_INIT, AddressType, AdvPdu, Channel, DeviceAddress, append_crc24, whiten,
};

/// Weakest signal the node's radio decodes, dBm (nRF52840 at 1 Mbit: -95).
pub const SENSITIVITY_DBM: f64 = -95.0;

/// Time between an advertising event's packets on 37, 38 and 39, µs.
pub const CHANNEL_GAP_US: u64 = 400;

/// Something that advertises.
#[derive(Clone, Debug)]
pub struct Emitter {
    pub address: DeviceAddress,
    /// `AdvData`.
    pub data: Vec<u8>,
    pub position: (f64, f64),
    pub interval_ms: u64,
    /// RSSI at 1 m, dBm.
    pub rssi_1m: f64,
    /// First event, ms.
    pub first_ms: u64,
}

impl Emitter {
    pub fn ibeacon(uuid: [u8; 16], major: u16, minor: u16, position: (f64, f64)) -> Self {
        let mut data = [0u8; 31];
        let n = IBeacon {
            uuid: Uuid(uuid),
            major,
            minor,
            measured_power: -59,
        }
        .write_advertisement(&mut data)
        .unwrap();
        Self::new(
            random_address(u64::from(major) << 16 | u64::from(minor)),
            data[..n].to_vec(),
            position,
            100,
        )
    }

    pub fn eddystone_eid(eid: [u8; 8], position: (f64, f64)) -> Self {
        let mut frame = [0u8; EddystoneEid::LEN];
        EddystoneEid { tx_power: -20, eid }
            .encode(&mut frame)
            .unwrap();
        let mut data = [0u8; 31];
        let n = eddystone::write_advertisement(&frame, &mut data).unwrap();
        Self::new(
            random_address(u64::from_le_bytes(eid)),
            data[..n].to_vec(),
            position,
            250,
        )
    }

    /// A phone that is not ours: Apple Nearby Info from a random address.
    pub fn phone(seed: u64, position: (f64, f64)) -> Self {
        let data = vec![
            0x02, 0x01, 0x1A, // flags
            0x0A, 0xFF, 0x4C, 0x00, 0x10, 0x05, 0x01, 0x18, 0x44, 0x33, 0x22, // Nearby Info
        ];
        Self::new(random_address(seed), data, position, 300)
    }

    pub fn new(
        address: DeviceAddress,
        data: Vec<u8>,
        position: (f64, f64),
        interval_ms: u64,
    ) -> Self {
        Self {
            address,
            data,
            position,
            interval_ms,
            rssi_1m: -59.0,
            first_ms: 0,
        }
    }
}

/// A resolvable-looking random address from a seed.
pub fn random_address(seed: u64) -> DeviceAddress {
    let mut r = Rng(seed ^ 0xA15E);
    let b = r.next().to_le_bytes();
    let mut bytes = [b[0], b[1], b[2], b[3], b[4], b[5]];
    bytes[5] = (bytes[5] & 0x3F) | 0x40;
    DeviceAddress {
        kind: AddressType::Random,
        bytes,
    }
}

/// One packet on the air.
#[derive(Clone, Debug)]
pub struct AirPacket {
    pub start_us: u64,
    pub channel: Channel,
    /// Whitened PDU and CRC, as the radio hands them over.
    pub bytes: Vec<u8>,
    pub position: (f64, f64),
    pub rssi_1m: f64,
    /// Heard at this RSSI wherever the radio is (noise).
    pub fixed_rssi: Option<f64>,
}

/// Every packet of a simulation, scheduled up front.
pub struct Medium {
    packets: Vec<AirPacket>,
    rng: Rng,
    pub path_loss_exponent: f64,
    pub shadowing_sigma_db: f64,
}

impl Medium {
    pub fn new(seed: u64) -> Self {
        Self {
            packets: Vec::new(),
            rng: Rng(seed),
            path_loss_exponent: 2.5,
            shadowing_sigma_db: 3.0,
        }
    }

    /// Schedules `emitter`'s advertising events until `until_ms`: every
    /// interval plus 0-10 ms advDelay, on 37, 38 and 39 in turn. Every
    /// `corrupt_every`-th packet (if any) gets one bit flipped on air.
    pub fn add(&mut self, emitter: &Emitter, until_ms: u64, corrupt_every: Option<usize>) {
        let mut pdu = [0u8; 42];
        let n = AdvPdu::AdvNonconnInd {
            adv_a: emitter.address,
            data: &emitter.data,
        }
        .encode(&mut pdu)
        .unwrap();
        let len = append_crc24(ADV_CRC_INIT, &mut pdu, n).unwrap();
        let mut t = emitter.first_ms * 1000 + self.rng.below(emitter.interval_ms * 1000);
        let mut count = 0usize;
        while t < until_ms * 1000 {
            for (i, channel) in Channel::ADVERTISING.into_iter().enumerate() {
                let mut bytes = pdu[..len].to_vec();
                count += 1;
                if corrupt_every.is_some_and(|k| count.is_multiple_of(k)) {
                    let bit = self.rng.index(len * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                whiten(channel, &mut bytes);
                self.packets.push(AirPacket {
                    start_us: t + i as u64 * CHANNEL_GAP_US,
                    channel,
                    bytes,
                    position: emitter.position,
                    rssi_1m: emitter.rssi_1m,
                    fixed_rssi: None,
                });
            }
            t += emitter.interval_ms * 1000 + self.rng.below(10_001);
        }
        self.packets.sort_by_key(|p| p.start_us);
    }

    /// Adds `per_second` bursts of random bytes a second on random
    /// advertising channels, heard at about -70 dBm.
    pub fn add_noise(&mut self, per_second: u64, until_ms: u64) {
        let count = per_second * until_ms / 1000;
        for _ in 0..count {
            let start_us = self.rng.below(until_ms * 1000);
            let channel = Channel::ADVERTISING[self.rng.index(3)];
            let len = 8 + self.rng.index(34);
            let bytes = (0..len).map(|_| self.rng.next().to_le_bytes()[0]).collect();
            self.packets.push(AirPacket {
                start_us,
                channel,
                bytes,
                position: (0.0, 0.0),
                rssi_1m: 0.0,
                fixed_rssi: Some(-70.0),
            });
        }
        self.packets.sort_by_key(|p| p.start_us);
    }

    /// The first packet on `channel` starting in `from..to` that a radio at
    /// `at` hears, with the RSSI it hears it at.
    pub fn first_heard(
        &mut self,
        channel: Channel,
        from: u64,
        to: u64,
        at: (f64, f64),
    ) -> Option<(u64, Vec<u8>, i8)> {
        let first = self.packets.partition_point(|p| p.start_us < from);
        for i in first..self.packets.len() {
            let p = &self.packets[i];
            if p.start_us >= to {
                return None;
            }
            if p.channel != channel {
                continue;
            }
            let d = ((p.position.0 - at.0).powi(2) + (p.position.1 - at.1).powi(2))
                .sqrt()
                .max(0.1);
            let mean = p
                .fixed_rssi
                .unwrap_or((p.rssi_1m - 10.0 * self.path_loss_exponent * d.log10()).min(-20.0));
            let rssi = mean + self.shadowing_sigma_db * self.rng.gaussian();
            if rssi < SENSITIVITY_DBM {
                continue;
            }
            #[allow(clippy::cast_possible_truncation)] // clamped to i8's range
            let rssi = rssi.round().clamp(-127.0, 20.0) as i8;
            return Some((p.start_us, p.bytes.clone(), rssi));
        }
        None
    }
}

/// `SplitMix64`, for a deterministic world.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// An index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap()
    }

    /// Standard normal, Box-Muller.
    #[allow(clippy::cast_precision_loss)] // 53-bit values, exact in an f64
    pub fn gaussian(&mut self) -> f64 {
        let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
