//! The scanner role: listens on channels 37, 38 and 39 in turn within each
//! scan window, checks and decodes what it hears and aggregates it per
//! device identity and channel until the window closes.

use aisle_protocol::beacon::Frame;
use aisle_protocol::link::{FrameKind, MAX_IDENTITY_LEN, address_identity};
use aisle_protocol::ll::{
    ADV_CRC_INIT, AdvPdu, AdvPduHeader, CRC_LEN, Channel, PDU_HEADER_LEN, check_crc24, whiten,
};

use crate::beacon::ms_u32;
use crate::hw::{Clock, MAX_AIR_PACKET_LEN, Radio};
use crate::table::{Admission, SightingTable, Slots};

/// Longest single listen, ms. Link bytes that arrive meanwhile are
/// deframed at once, but a command they carry waits for the listen to end,
/// so this bounds how late a `Configure` takes effect; re-arming the
/// receiver costs the nRF52840 40 µs, 0.04% of a slice.
pub const SCAN_SLICE_MS: u64 = 100;

/// What the scanner has counted since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScanCounters {
    /// Advertising PDUs received intact and decoded.
    pub(crate) adverts_seen: u32,
    /// Packets that failed their CRC-24 (or were cut short).
    pub(crate) crc_errors: u32,
    /// Advertisements that will never be reported: refused or evicted from
    /// a full table.
    pub(crate) drops: u32,
}

/// A scanner's window in progress.
pub(crate) struct Scanner<'s> {
    pub(crate) table: SightingTable<'s>,
    /// When the current window opened, ms of uptime.
    pub(crate) window_start_ms: u64,
    pub(crate) counters: ScanCounters,
}

impl<'s> Scanner<'s> {
    /// A scanner whose window opens at `now_ms`, aggregating into `slots`.
    pub(crate) fn new(slots: &'s mut Slots, now_ms: u64) -> Self {
        Self {
            table: SightingTable::new(slots),
            window_start_ms: now_ms,
            counters: ScanCounters {
                adverts_seen: 0,
                crc_errors: 0,
                drops: 0,
            },
        }
    }

    /// Forgets the window and opens a new one at `now_ms`.
    pub(crate) fn start_window(&mut self, now_ms: u64) {
        self.table.clear();
        self.window_start_ms = now_ms;
    }

    /// When the window of `window_ms` closes.
    pub(crate) fn window_end_ms(&self, window_ms: u16) -> u64 {
        self.window_start_ms.saturating_add(u64::from(window_ms))
    }

    /// Listens until the next packet, the end of this channel's share of the
    /// window, [`SCAN_SLICE_MS`] or `until_ms`, whichever comes first, and
    /// counts what it heard. Returns whether a packet was heard. Call only
    /// with a window longer than 0.
    pub(crate) async fn listen<R: Radio, C: Clock>(
        &mut self,
        radio: &mut R,
        clock: &C,
        window_ms: u16,
        until_ms: u64,
    ) -> Result<bool, R::Error> {
        let now = clock.now_ms();
        // A third of the window on each channel, 37 first.
        let share = u64::from(window_ms).div_ceil(3).max(1);
        let into = now.saturating_sub(self.window_start_ms);
        let index = usize::try_from(into / share).unwrap_or(2).min(2);
        let channel = Channel::ADVERTISING
            .get(index)
            .copied()
            .unwrap_or(Channel::ADV_39);
        let share_end = self
            .window_start_ms
            .saturating_add(share * (u64::try_from(index).unwrap_or(2) + 1));
        let stop = share_end
            .min(self.window_end_ms(window_ms))
            .min(until_ms)
            .min(now.saturating_add(SCAN_SLICE_MS))
            .max(now.saturating_add(1));
        let timeout_us = ms_u32(stop.saturating_sub(now)).saturating_mul(1000);
        let mut buf = [0u8; MAX_AIR_PACKET_LEN];
        let Some(reception) = radio.receive(channel, timeout_us, &mut buf).await? else {
            return Ok(false);
        };
        let len = reception.len.min(buf.len());
        self.hear(
            channel,
            buf.get_mut(..len).unwrap_or_default(),
            reception.rssi_dbm,
        );
        Ok(true)
    }

    /// De-whitens, checks and decodes one air packet and counts it.
    fn hear(&mut self, channel: Channel, air: &mut [u8], rssi: i8) {
        whiten(channel, air);
        // The radio may deliver a fixed length (its length field is
        // whitened on air); the PDU header says where the CRC is.
        let packet_len = AdvPduHeader::decode(air)
            .map(|h| PDU_HEADER_LEN + usize::from(h.length) + CRC_LEN)
            .ok();
        let Some(packet) = packet_len.and_then(|n| air.get(..n)) else {
            self.counters.crc_errors = self.counters.crc_errors.wrapping_add(1);
            return;
        };
        let Ok(pdu) = check_crc24(ADV_CRC_INIT, packet) else {
            self.counters.crc_errors = self.counters.crc_errors.wrapping_add(1);
            return;
        };
        let Ok(pdu) = AdvPdu::decode(pdu) else {
            return;
        };
        // Scan responses answer someone else's request and the other PDUs
        // carry no advertisement.
        let (AdvPdu::AdvInd { data, .. }
        | AdvPdu::AdvNonconnInd { data, .. }
        | AdvPdu::AdvScanInd { data, .. }) = pdu
        else {
            return;
        };
        self.counters.adverts_seen = self.counters.adverts_seen.wrapping_add(1);
        let (kind, identity, identity_len) = identify(&pdu, data);
        let identity = identity.get(..identity_len).unwrap_or_default();
        match self.table.record(kind, channel, identity, rssi) {
            Admission::Counted => {}
            Admission::Evicted { lost } => {
                self.counters.drops = self.counters.drops.wrapping_add(u32::from(lost));
            }
            Admission::Refused => self.counters.drops = self.counters.drops.wrapping_add(1),
        }
    }
}

/// The kind of an advertisement and the identity it is reported under:
/// the beacon's own identity where the frame carries one, the encoded URL
/// (scheme byte first) for Eddystone-URL, otherwise (phones, telemetry,
/// unknown or malformed data) only the address the radio saw.
fn identify(pdu: &AdvPdu<'_>, data: &[u8]) -> (FrameKind, [u8; MAX_IDENTITY_LEN], usize) {
    let mut out = [0u8; MAX_IDENTITY_LEN];
    let frame = Frame::classify(data).unwrap_or(Frame::Unknown);
    if let Some(identity) = frame.identity() {
        let bytes = identity.as_bytes();
        if let Some(dst) = out.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
            return (frame.kind(), out, bytes.len());
        }
    }
    if let Frame::EddystoneUrl(url) = frame {
        let len = 1 + url.encoded.len();
        if let Some((scheme, rest)) = out.get_mut(..len).and_then(|d| d.split_first_mut()) {
            *scheme = url.scheme;
            rest.copy_from_slice(url.encoded);
            return (frame.kind(), out, len);
        }
    }
    let address = address_identity(pdu.advertiser());
    let len = address.len();
    if let Some(dst) = out.get_mut(..len) {
        dst.copy_from_slice(&address);
    }
    (frame.kind(), out, len)
}
