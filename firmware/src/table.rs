//! The scanner's per-window table of devices heard.

use aisle_protocol::link::{FrameKind, MAX_IDENTITY_LEN, Rssi, Sighting};
use aisle_protocol::ll::Channel;

/// Devices (per channel) one window can hold.
///
/// Each entry takes 32 bytes, so 96 take 3 KiB of the 24 KiB the smallest
/// target chip has. 96 is 32 devices heard on all three channels in one
/// window: a shelf node's range in a busy aisle holds a few beacons and a
/// dozen or two phones. Past that the weakest (farthest) are dropped first,
/// as they matter least for locating anyone.
pub const SIGHTING_CAPACITY: usize = 96;

/// One device on one channel during the current window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    kind: FrameKind,
    channel: Channel,
    identity_len: u8,
    identity: [u8; MAX_IDENTITY_LEN],
    min: i8,
    max: i8,
    count: u16,
    /// Sum of the RSSI of the `count` advertisements, for the mean.
    sum: i32,
}

impl Entry {
    fn identity(&self) -> &[u8] {
        self.identity
            .get(..usize::from(self.identity_len))
            .unwrap_or_default()
    }

    fn mean(&self) -> i8 {
        let count = i32::from(self.count.max(1));
        // Rounded to nearest; the mean of i8 values is an i8 between min and max.
        let mean = (2 * self.sum + count * self.sum.signum()) / (2 * count);
        i8::try_from(mean)
            .unwrap_or(self.min)
            .clamp(self.min, self.max)
    }

    fn is(&self, kind: FrameKind, channel: Channel, identity: &[u8]) -> bool {
        self.kind == kind && self.channel == channel && self.identity() == identity
    }
}

/// What the table did with an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Counted into an entry, new or existing.
    Counted,
    /// Counted in a new entry that took the place of the weakest; that
    /// entry's advertisements are lost.
    Evicted {
        /// Advertisements the evicted entry held.
        lost: u16,
    },
    /// The table is full of stronger devices: the advertisement is lost.
    Refused,
}

/// Room for one window's aggregates. A node keeps it in its task's future
/// and lends it to the table: built anywhere else and moved there, its
/// 3 KiB went through the stack on the way.
pub(crate) type Slots = [Option<Entry>; SIGHTING_CAPACITY];

/// Devices heard during one window, aggregated per device identity and
/// channel, at most [`SIGHTING_CAPACITY`] of them, in borrowed [`Slots`].
pub(crate) struct SightingTable<'s> {
    entries: &'s mut Slots,
}

impl<'s> SightingTable<'s> {
    /// An empty table in `entries`.
    pub(crate) fn new(entries: &'s mut Slots) -> Self {
        entries.fill(None);
        Self { entries }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.fill(None);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// Counts one advertisement of `identity` (at most [`MAX_IDENTITY_LEN`]
    /// bytes; longer ones are refused) heard on `channel` at `rssi` dBm.
    pub(crate) fn record(
        &mut self,
        kind: FrameKind,
        channel: Channel,
        identity: &[u8],
        rssi: i8,
    ) -> Admission {
        if identity.is_empty() || identity.len() > MAX_IDENTITY_LEN {
            return Admission::Refused;
        }
        if let Some(entry) = self
            .entries
            .iter_mut()
            .flatten()
            .find(|e| e.is(kind, channel, identity))
        {
            // Past u16::MAX advertisements in one window the aggregate stops
            // moving rather than wrapping.
            if entry.count < u16::MAX {
                entry.count += 1;
                entry.sum += i32::from(rssi);
                entry.min = entry.min.min(rssi);
                entry.max = entry.max.max(rssi);
            }
            return Admission::Counted;
        }
        let mut fresh = Entry {
            kind,
            channel,
            identity_len: 0,
            identity: [0; MAX_IDENTITY_LEN],
            min: rssi,
            max: rssi,
            count: 1,
            sum: i32::from(rssi),
        };
        if let Some(dst) = fresh.identity.get_mut(..identity.len()) {
            dst.copy_from_slice(identity);
            fresh.identity_len = u8::try_from(identity.len()).unwrap_or(0);
        }
        if let Some(slot) = self.entries.iter_mut().find(|e| e.is_none()) {
            *slot = Some(fresh);
            return Admission::Counted;
        }
        // Full: the weakest by mean RSSI goes, unless the newcomer is weaker still.
        let weakest = self.entries.iter_mut().flatten().min_by_key(|e| e.mean());
        match weakest {
            Some(weakest) if weakest.mean() < rssi => {
                let lost = weakest.count;
                *weakest = fresh;
                Admission::Evicted { lost }
            }
            _ => Admission::Refused,
        }
    }

    /// The aggregates, as link sightings borrowing the table.
    pub(crate) fn sightings(&self) -> impl Iterator<Item = Sighting<'_>> {
        self.entries.iter().flatten().map(|e| Sighting {
            kind: e.kind,
            channel: e.channel,
            rssi: Rssi {
                min: e.min,
                max: e.max,
                mean: e.mean(),
            },
            count: e.count,
            identity: e.identity(),
        })
    }
}
