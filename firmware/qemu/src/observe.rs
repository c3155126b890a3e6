//! What the gateway hears and what the air carries, held against what the
//! simulation actually did.

use aisle_firmware::protocol::beacon::Frame;
use aisle_firmware::protocol::link::{
    BeaconIdentity, Configure, Sighting, SightingBatch, Status, address_identity,
};
use aisle_firmware::protocol::ll::{ADV_CRC_INIT, AdvPdu, check_crc24, whiten};
use cortex_m_semihosting::hprintln;

use crate::Checks;
use crate::gateway::{Gateway, Heard, Silence};
use crate::sim::{Medium, Phone};

/// The node's clock counts whole milliseconds.
const CLOCK_TICK_US: u64 = 1000;

/// Mismatches printed in full; the rest are only counted.
const MISMATCHES_SHOWN: u32 = 3;

/// What the gateway heard while listening, and how it compared.
pub struct Report<const P: usize> {
    pub batches: u32,
    pub hellos: u32,
    pub statuses: u32,
    pub last_status: Option<Status>,
    /// Advertisements the batches accounted for.
    pub reported: u32,
    /// Per phone: reported at least once.
    pub seen: [bool; P],
    /// Entries that are no simulated device.
    pub foreign: u32,
    /// Entries whose count or RSSI disagree with the packets delivered.
    pub mismatched: u32,
    /// Batches or entries that did not decode, or entries out of shape.
    pub malformed: u32,
    /// Batches whose window is not the configured length.
    pub wrong_window: u32,
    /// `Status` frames whose advert count is not the intact packets
    /// delivered so far.
    pub miscounted: u32,
    /// Intact packets delivered during the stretch, and corrupted ones.
    pub delivered: u32,
    pub corrupted: u32,
    pub stalled: bool,
    /// The window whose batches are arriving: its start in node time and
    /// the deliveries (by sequence number) that fell in it.
    window: Option<(u64, core::ops::Range<u32>)>,
    /// Deliveries before this one belong to windows already reported.
    pub mark: u32,
}

impl<const P: usize> Report<P> {
    /// Records the checks every scanning stretch must pass.
    pub fn check(&self, out_of_range: usize, checks: &mut Checks, phase: &str) {
        hprintln!(
            "{}: {} batches, {} statuses, {} adverts reported of {} intact and {} corrupted delivered",
            phase,
            self.batches,
            self.statuses,
            self.reported,
            self.delivered,
            self.corrupted
        );
        checks.check(
            "sighting batches keep arriving",
            self.batches > 1 && !self.stalled,
        );
        checks.check("Status keeps arriving", self.statuses > 0);
        checks.check(
            "every batch decodes, every entry is well formed",
            self.batches > 0 && self.malformed == 0,
        );
        checks.check(
            "every batch covers the configured scan window",
            self.batches > 0 && self.wrong_window == 0,
        );
        checks.check(
            "every sighting is a simulated device: corrupted packets never pass the CRC check",
            self.batches > 0 && self.foreign == 0 && self.corrupted > 0,
        );
        checks.check(
            "every sighting's count, channel and RSSI range match the packets delivered in its window",
            self.batches > 0 && self.mismatched == 0,
        );
        checks.check(
            "Status counts every intact advertisement delivered, no corrupted one",
            self.statuses > 0 && self.miscounted == 0,
        );
        checks.check(
            "every device in range is reported",
            self.seen
                .iter()
                .enumerate()
                .all(|(i, seen)| *seen || i == out_of_range),
        );
        checks.check(
            "the device below the radio's sensitivity never is",
            !self.seen[out_of_range],
        );
    }
}

/// Listens until virtual `deadline_ms`, checking each batch against the
/// packets the medium delivered in its window.
///
/// Windows are told apart by order, not by clock: the node sends a window's
/// batches the moment it closes, before its radio listens again, and the
/// simulated radio lets the gateway run before it delivers anything. So the
/// deliveries between two windows' batches are exactly the later window's.
/// `mark` is the first delivery of the window in progress (the delivery
/// count when the node last started a window, e.g. on applying Configure).
pub async fn listen<const P: usize>(
    gateway: &mut Gateway<'_, '_>,
    medium: &Medium<P>,
    window_ms: u16,
    mark: u32,
    deadline_ms: u64,
) -> Report<P> {
    let (intact_before, corrupted_before) = (medium.intact.get(), medium.corrupted.get());
    let mut report = Report {
        batches: 0,
        hellos: 0,
        statuses: 0,
        last_status: None,
        reported: 0,
        seen: [false; P],
        foreign: 0,
        mismatched: 0,
        malformed: 0,
        wrong_window: 0,
        miscounted: 0,
        delivered: 0,
        corrupted: 0,
        stalled: false,
        window: None,
        mark,
    };
    loop {
        match gateway.next(deadline_ms).await {
            Ok(Heard::Hello(_)) => report.hellos += 1,
            Ok(Heard::Status(status)) => {
                // Sent between radio steps, read before the next delivery.
                if status.adverts_seen != medium.intact.get() {
                    report.miscounted += 1;
                }
                report.statuses += 1;
                report.last_status = Some(status);
            }
            Ok(Heard::Batch { body, len }) => {
                report.batches += 1;
                match SightingBatch::decode(&body[..len]) {
                    Ok(batch) => {
                        if batch.window_len_ms() != window_ms {
                            report.wrong_window += 1;
                        }
                        compare_batch(&batch, medium, &mut report);
                    }
                    Err(_) => report.malformed += 1,
                }
            }
            Err(Silence::Deadline) => break,
            Err(Silence::Stalled) => {
                report.stalled = true;
                break;
            }
        }
    }
    report.delivered = medium.intact.get() - intact_before;
    report.corrupted = medium.corrupted.get() - corrupted_before;
    report
}

/// The phone a sighting names, by the identity its advertisement carries.
fn phone_of(sighting: &Sighting<'_>, phones: &[Phone]) -> Option<usize> {
    phones.iter().position(|phone| {
        let frame = Frame::classify(phone.adv_data).unwrap_or(Frame::Unknown);
        let address = address_identity(phone.address);
        let identity = frame.identity();
        let expected = identity.as_ref().map_or(&address[..], |id| id.as_bytes());
        sighting.kind == frame.kind() && sighting.identity == expected
    })
}

fn compare_batch<const P: usize>(
    batch: &SightingBatch<'_>,
    medium: &Medium<P>,
    report: &mut Report<P>,
) {
    let start = batch.window_start_ms();
    let window = match &report.window {
        // More of the same window's sightings.
        Some((current, deliveries)) if *current == start => deliveries.clone(),
        _ => {
            let deliveries = report.mark..medium.delivered();
            report.mark = deliveries.end;
            report.window = Some((start, deliveries.clone()));
            deliveries
        }
    };
    let phones = medium.phones.borrow();
    let deliveries = medium.deliveries.borrow();
    for entry in batch {
        let Ok(sighting) = entry else {
            report.malformed += 1;
            continue;
        };
        let rssi = sighting.rssi;
        if !(rssi.min <= rssi.mean && rssi.mean <= rssi.max) || sighting.count == 0 {
            report.malformed += 1;
        }
        report.reported += u32::from(sighting.count);
        let Some(phone) = phone_of(&sighting, &*phones) else {
            report.foreign += 1;
            continue;
        };
        report.seen[phone] = true;
        let heard = deliveries.iter().filter(|d| {
            d.phone == phone
                && d.channel == sighting.channel.index()
                && !d.corrupted
                && window.contains(&d.seq)
        });
        let (count, min, max) = heard.fold((0_u16, i8::MAX, i8::MIN), |(n, lo, hi), d| {
            (n + 1, lo.min(d.rssi_dbm), hi.max(d.rssi_dbm))
        });
        if (count, min, max) != (sighting.count, rssi.min, rssi.max) {
            report.mismatched += 1;
            if report.mismatched <= MISMATCHES_SHOWN {
                hprintln!(
                    "  window from {} ms, deliveries {:?}, phone {} ch {}: node says {} [{}, {}], air says {} [{}, {}]",
                    start,
                    window,
                    phone,
                    sighting.channel.index(),
                    sighting.count,
                    rssi.min,
                    rssi.max,
                    count,
                    min,
                    max
                );
            }
        }
    }
}

/// Checks what the node sent since `from_us` as the beacon `configure` says:
/// each packet de-whitens on its channel, passes CRC and decodes; events go
/// 37, 38, 39 at the configured interval plus the advertising delay; the
/// configured iBeacon is among the frames.
pub fn check_beacon<const P: usize>(
    medium: &Medium<P>,
    from_us: u64,
    configure: &Configure,
    checks: &mut Checks,
) {
    let log = medium.transmissions.borrow();
    let mut packets = 0;
    let mut valid = 0;
    let mut ours = 0;
    let mut wrong_power = 0;
    let mut out_of_order = 0;
    let mut intervals_ok = true;
    let mut previous: Option<(u8, u64)> = None;
    let mut last_event_us: Option<u64> = None;
    let interval_us = u64::from(configure.adv_interval_ms) * 1000;
    for sent in log.iter().filter(|t| t.at_us >= from_us) {
        packets += 1;
        let mut air = sent.air;
        whiten(sent.channel, &mut air[..sent.len]);
        let frame = check_crc24(ADV_CRC_INIT, &air[..sent.len])
            .ok()
            .and_then(|pdu| AdvPdu::decode(pdu).ok())
            .and_then(|pdu| Frame::classify(pdu.adv_data()).ok());
        if let Some(frame) = frame {
            valid += 1;
            if let (Frame::IBeacon(ibeacon), BeaconIdentity::IBeacon { uuid, major, minor }) =
                (frame, configure.identity)
                && ibeacon.uuid.0 == uuid
                && ibeacon.major == major
                && ibeacon.minor == minor
            {
                ours += 1;
            }
        }
        if sent.tx_power_dbm != configure.tx_power_dbm {
            wrong_power += 1;
        }
        let channel = sent.channel.index();
        if let Some((before, _)) = previous {
            let expected = if before == 39 { 37 } else { before + 1 };
            if channel != expected {
                out_of_order += 1;
            }
        }
        if channel == 37 {
            if let Some(last) = last_event_us {
                // Interval plus up to 10 ms of advertising delay (Core spec
                // Vol 6 Part B 4.4.2.2.1), give or take a tick of the node's
                // millisecond clock, plus the event's own air time.
                let gap = sent.at_us - last;
                intervals_ok &=
                    gap + CLOCK_TICK_US >= interval_us && gap <= interval_us + 10_000 + 2_000;
            }
            last_event_us = Some(sent.at_us);
        }
        previous = Some((channel, sent.at_us));
    }
    hprintln!(
        "beacon: {} packets, {} decoded, {} of them the configured iBeacon",
        packets,
        valid,
        ours
    );
    checks.check("the beacon transmits", packets >= 6);
    checks.check(
        "every packet de-whitens, passes its CRC and decodes as an advertisement",
        packets > 0 && valid == packets,
    );
    checks.check("the configured iBeacon is on the air", ours > 0);
    checks.check("at the configured power", packets > 0 && wrong_power == 0);
    checks.check("on 37, 38, 39 in turn", packets > 0 && out_of_order == 0);
    checks.check(
        "events follow the interval plus the advertising delay",
        packets > 0 && intervals_ok,
    );
}
