//! The beacon role: iBeacon, Eddystone-UID and Eddystone-TLM in rotation,
//! one advertising event per interval on channels 37, 38 and 39.

use aisle_protocol::ad::Uuid;
use aisle_protocol::beacon::{EddystoneTlm, EddystoneUid, IBeacon, eddystone};
use aisle_protocol::link::BeaconIdentity;
use aisle_protocol::ll::{
    ADV_CRC_INIT, AdvPdu, Channel, DeviceAddress, MAX_ADV_DATA_LEN, append_crc24, whiten,
};

use crate::hw::{MAX_AIR_PACKET_LEN, Radio, Sensors};
use crate::rng::Prng;
use crate::settings::Settings;

/// Longest advDelay, ms: each advertising event starts a pseudo-random
/// 0 to 10 ms after the interval (Core spec v5.4, Vol 6 Part B 4.4.2.2.1),
/// so two beacons on the same interval do not collide forever.
pub const MAX_ADV_DELAY_MS: u64 = 10;

/// Path loss from the antenna to 1 m, dB: what iBeacon's "measured power"
/// (RSSI at 1 m) is below the transmit power. 59 dB is what an nRF52 at
/// 0 dBm typically reads at 1 m, the common factory calibration.
pub const LOSS_AT_1M_DB: i8 = 59;

/// Eddystone's calibrated power is at 0 m: the spec says to add 41 dB to
/// the RSSI measured at 1 m.
pub const EDDYSTONE_0M_ABOVE_1M_DB: i8 = 41;

// One buffer holds either Eddystone frame.
const _: () = assert!(EddystoneTlm::LEN <= EddystoneUid::LEN);

/// The frames in one rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    IBeacon,
    EddystoneUid,
    EddystoneTlm,
}

/// A beacon's state between advertising events.
pub(crate) struct Beacon {
    address: DeviceAddress,
    /// When the next event is due, ms of uptime.
    next_event_ms: u64,
    /// Index into the rotation of the next event's frame.
    rotation: usize,
    /// The current event's packet, CRC included, not whitened.
    packet: [u8; MAX_AIR_PACKET_LEN],
    packet_len: usize,
    /// Advertising PDUs sent since start (Eddystone-TLM's `ADV_CNT`).
    pdus_sent: u32,
    jitter: Prng,
}

impl Beacon {
    pub(crate) fn new(address: DeviceAddress, seed: u64, now_ms: u64) -> Self {
        Self {
            address,
            next_event_ms: now_ms,
            rotation: 0,
            packet: [0; MAX_AIR_PACKET_LEN],
            packet_len: 0,
            pdus_sent: 0,
            jitter: Prng::new(seed),
        }
    }

    /// Starts advertising again now, e.g. after the role changed.
    pub(crate) fn restart(&mut self, now_ms: u64) {
        self.next_event_ms = now_ms;
    }

    /// When the next advertising event is due, ms of uptime.
    pub(crate) fn next_event_ms(&self) -> u64 {
        self.next_event_ms
    }

    /// Sends one advertising event (the rotation's next frame on 37, 38 and
    /// 39) and schedules the next one an interval plus advDelay after this
    /// one was due.
    pub(crate) async fn send_event<R: Radio, S: Sensors>(
        &mut self,
        radio: &mut R,
        sensors: &mut S,
        settings: &Settings,
        now: u64,
    ) -> Result<(), R::Error> {
        self.build(settings, sensors, now);
        let mut air = [0u8; MAX_AIR_PACKET_LEN];
        let len = self.packet_len;
        for channel in Channel::ADVERTISING {
            let (Some(dst), Some(src)) = (air.get_mut(..len), self.packet.get(..len)) else {
                break;
            };
            dst.copy_from_slice(src);
            whiten(channel, dst);
            radio.transmit(channel, settings.tx_power_dbm, dst).await?;
            self.pdus_sent = self.pdus_sent.wrapping_add(1);
        }
        self.rotation = self.rotation.wrapping_add(1);
        let adv_delay = self.jitter.below(MAX_ADV_DELAY_MS + 1);
        // From the event's schedule, not from now, so the interval does not
        // drift by however long the event took.
        let interval = u64::from(settings.adv_interval_ms) + adv_delay;
        self.next_event_ms = self.next_event_ms.saturating_add(interval).max(now);
        Ok(())
    }

    /// Writes this event's packet: `ADV_NONCONN_IND` with the rotation's
    /// next frame, then its CRC.
    fn build<S: Sensors>(&mut self, settings: &Settings, sensors: &mut S, now_ms: u64) {
        let slots = rotation(&settings.identity);
        let slot = slots
            .get(self.rotation % slots.len().max(1))
            .copied()
            .unwrap_or(Slot::EddystoneTlm);
        let mut data = [0u8; MAX_ADV_DATA_LEN];
        let measured_1m = settings.tx_power_dbm.saturating_sub(LOSS_AT_1M_DB);
        let (ibeacon, uid) = identities(&settings.identity, measured_1m);
        let mut frame = [0u8; EddystoneUid::LEN];
        let written = match slot {
            Slot::IBeacon => ibeacon.write_advertisement(&mut data),
            Slot::EddystoneUid => uid.encode(&mut frame).and_then(|n| {
                eddystone::write_advertisement(frame.get(..n).unwrap_or_default(), &mut data)
            }),
            Slot::EddystoneTlm => {
                let tlm = EddystoneTlm {
                    battery_mv: sensors.battery_mv(),
                    temperature_8_8: centi_to_8_8(sensors.temperature_centi_c()),
                    adv_count: self.pdus_sent,
                    uptime_deciseconds: u32::try_from(now_ms / 100).unwrap_or(u32::MAX),
                };
                tlm.encode(&mut frame).and_then(|n| {
                    eddystone::write_advertisement(frame.get(..n).unwrap_or_default(), &mut data)
                })
            }
        };
        let data = data.get(..written.unwrap_or(0)).unwrap_or_default();
        let pdu = AdvPdu::AdvNonconnInd {
            adv_a: self.address,
            data,
        };
        self.packet_len = pdu
            .encode(&mut self.packet)
            .and_then(|n| append_crc24(ADV_CRC_INIT, &mut self.packet, n))
            .unwrap_or(0);
    }
}

/// The frames a beacon rotates through: with an identity, iBeacon and
/// Eddystone-UID (one derived from the other) and TLM; without, TLM alone.
fn rotation(identity: &BeaconIdentity) -> &'static [Slot] {
    match identity {
        BeaconIdentity::None => &[Slot::EddystoneTlm],
        _ => &[Slot::IBeacon, Slot::EddystoneUid, Slot::EddystoneTlm],
    }
}

/// Both identities from whichever was configured.
///
/// From an iBeacon, the Eddystone-UID namespace is the UUID elided as the
/// Eddystone spec suggests (its first 4 and last 6 bytes) and the instance
/// is `00 00 | major | minor`. From an Eddystone-UID, the iBeacon is the
/// inverse: UUID `namespace[..4] | 00 * 6 | namespace[4..]`, major and minor
/// from the instance's last 4 bytes. So a phone ranging either sees one beacon.
fn identities(identity: &BeaconIdentity, measured_1m: i8) -> (IBeacon, EddystoneUid) {
    let tx_power = measured_1m.saturating_add(EDDYSTONE_0M_ABOVE_1M_DB);
    let (uuid, major, minor, namespace, instance) = match *identity {
        BeaconIdentity::IBeacon { uuid, major, minor } => {
            let mut namespace = [0u8; 10];
            let (head, tail) = namespace.split_at_mut(4);
            head.copy_from_slice(uuid.get(..4).unwrap_or(&[0; 4]));
            tail.copy_from_slice(uuid.get(10..).unwrap_or(&[0; 6]));
            let [a, b] = major.to_be_bytes();
            let [c, d] = minor.to_be_bytes();
            (uuid, major, minor, namespace, [0, 0, a, b, c, d])
        }
        BeaconIdentity::EddystoneUid {
            namespace,
            instance,
        } => {
            let mut uuid = [0u8; 16];
            let (head, rest) = uuid.split_at_mut(4);
            head.copy_from_slice(namespace.get(..4).unwrap_or(&[0; 4]));
            let (_, tail) = rest.split_at_mut(6);
            tail.copy_from_slice(namespace.get(4..).unwrap_or(&[0; 6]));
            let [_, _, a, b, c, d] = instance;
            (
                uuid,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
                namespace,
                instance,
            )
        }
        BeaconIdentity::None => ([0; 16], 0, 0, [0; 10], [0; 6]),
    };
    (
        IBeacon {
            uuid: Uuid(uuid),
            major,
            minor,
            measured_power: measured_1m,
        },
        EddystoneUid {
            tx_power,
            namespace,
            instance,
        },
    )
}

/// Hundredths of a degree to Eddystone-TLM's signed 8.8 fixed point.
fn centi_to_8_8(centi: i16) -> i16 {
    let fixed = i32::from(centi) * 256 / 100;
    i16::try_from(fixed).unwrap_or(EddystoneTlm::NO_TEMPERATURE)
}

/// Milliseconds as the `u32` a delay takes, saturating.
pub(crate) fn ms_u32(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}
