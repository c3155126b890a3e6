//! Sighting batches: what a scanning node heard during one window.
//!
//! Entries are decoded lazily from the frame's bytes, one `Result` each, and
//! written by a [`BatchWriter`] that fills a caller's buffer to capacity.

use core::iter::FusedIterator;

use super::MAX_BODY_LEN;
use super::wire::{Reader, Writer};
use crate::Error;
pub use crate::beacon::FrameKind;
use crate::ll::{ADDRESS_LEN, AddressType, Channel, DeviceAddress};

/// Longest identity an entry carries. The longest identities Aisle decodes
/// are 20 bytes: iBeacon (16-byte UUID, major, minor) and AltBeacon (20-byte
/// beacon id).
pub const MAX_IDENTITY_LEN: usize = 20;

/// Fixed part of an entry: kind, channel, RSSI min/max/mean, count (2),
/// identity length.
const ENTRY_FIXED_LEN: usize = 8;

/// Largest entry: the fixed part and the longest identity.
pub const MAX_ENTRY_LEN: usize = ENTRY_FIXED_LEN + MAX_IDENTITY_LEN;

/// Bytes before the entries: window start (u64) and window length (u16).
const BATCH_HEADER_LEN: usize = 10;

/// Most entry bytes one batch can carry: what a frame body leaves after the
/// batch header. A [`BatchWriter`] never fills beyond this, so a full batch
/// always fits a frame.
pub const MAX_BATCH_ENTRIES_LEN: usize = MAX_BODY_LEN - BATCH_HEADER_LEN;

/// Signal strength over a window, in dBm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Rssi {
    /// Weakest.
    pub min: i8,
    /// Strongest.
    pub max: i8,
    /// Mean, rounded; between `min` and `max`.
    pub mean: i8,
}

/// One device heard during a batch's window, on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sighting<'a> {
    /// What the advertisement was.
    pub kind: FrameKind,
    /// The advertising channel it was heard on (37, 38 or 39).
    pub channel: Channel,
    /// Signal strength over the window.
    pub rssi: Rssi,
    /// Advertisements heard, at least 1.
    pub count: u16,
    /// Who was heard, 1 to [`MAX_IDENTITY_LEN`] bytes; its form depends on `kind`.
    pub identity: &'a [u8],
}

/// The 7-byte identity of a device known only by its address: the address
/// type (0 public, 1 random) and the address in air order.
#[must_use]
pub fn address_identity(address: DeviceAddress) -> [u8; 1 + ADDRESS_LEN] {
    let mut id = [0; 1 + ADDRESS_LEN];
    let (kind, bytes) = id.split_at_mut(1);
    kind.copy_from_slice(&[u8::from(address.kind == AddressType::Random)]);
    bytes.copy_from_slice(&address.bytes);
    id
}

impl<'a> Sighting<'a> {
    /// The address, if the identity is in the address form of
    /// [`address_identity`].
    #[must_use]
    pub fn address(&self) -> Option<DeviceAddress> {
        let (&kind, bytes) = self.identity.split_first()?;
        let kind = match kind {
            0 => AddressType::Public,
            1 => AddressType::Random,
            _ => return None,
        };
        Some(DeviceAddress {
            kind,
            bytes: bytes.try_into().ok()?,
        })
    }

    /// Bytes this entry takes in a batch.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        ENTRY_FIXED_LEN + self.identity.len()
    }

    /// Reads one entry from the start of `buf`, returning it and the bytes it took.
    pub fn decode(buf: &'a [u8]) -> Result<(Self, usize), Error> {
        let mut r = Reader::new(buf);
        let code = r.u8("sighting kind")?;
        let kind = FrameKind::from_code(code).ok_or(Error::InvalidValue {
            what: "sighting kind",
            offset: 0,
            value: u32::from(code),
        })?;
        let index = r.u8("sighting channel")?;
        let channel = Channel::new(index).map_err(|_| Error::InvalidValue {
            what: "sighting channel",
            offset: 1,
            value: u32::from(index),
        })?;
        let rssi = Rssi {
            min: r.i8("sighting RSSI")?,
            max: r.i8("sighting RSSI")?,
            mean: r.i8("sighting RSSI")?,
        };
        let count = r.u16("sighting count")?;
        let id_len = r.u8("sighting identity length")?;
        let identity = r.take(usize::from(id_len), "sighting identity")?;
        let sighting = Self {
            kind,
            channel,
            rssi,
            count,
            identity,
        };
        check_entry(&sighting)?;
        Ok((sighting, r.offset()))
    }

    /// Writes the entry into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        check_entry(self)?;
        let need = self.encoded_len();
        if out.len() < need {
            return Err(Error::BufferTooSmall {
                what: "sighting",
                need,
                got: out.len(),
            });
        }
        let mut w = Writer::new(out);
        w.u8(self.kind.code(), "sighting")?;
        w.u8(self.channel.index(), "sighting")?;
        w.i8(self.rssi.min, "sighting")?;
        w.i8(self.rssi.max, "sighting")?;
        w.i8(self.rssi.mean, "sighting")?;
        w.u16(self.count, "sighting")?;
        // `check` bounded the identity to MAX_IDENTITY_LEN.
        w.u8(
            u8::try_from(self.identity.len()).unwrap_or(u8::MAX),
            "sighting",
        )?;
        w.put(self.identity, "sighting")?;
        Ok(w.len())
    }
}

/// The rules an entry keeps. Offsets in errors count from the entry's start.
fn check_entry(s: &Sighting<'_>) -> Result<(), Error> {
    let invalid = |what, offset, value| Error::InvalidValue {
        what,
        offset,
        value,
    };
    if !s.channel.is_advertising() {
        return Err(invalid("sighting channel", 1, u32::from(s.channel.index())));
    }
    let Rssi { min, max, mean } = s.rssi;
    if !(min <= mean && mean <= max) {
        // Report the mean: it is the field that cannot sit where it does.
        return Err(invalid(
            "sighting RSSI mean",
            4,
            u32::from(mean.cast_unsigned()),
        ));
    }
    if s.count == 0 {
        return Err(invalid("sighting count", 5, 0));
    }
    if s.identity.is_empty() || s.identity.len() > MAX_IDENTITY_LEN {
        let len = u32::try_from(s.identity.len()).unwrap_or(u32::MAX);
        return Err(invalid("sighting identity length", 7, len));
    }
    Ok(())
}

/// A batch of sightings, borrowing its entries from the frame it came in.
///
/// Built by [`BatchWriter::finish`] or decoded from a frame; entries are
/// decoded one at a time by [`iter`](Self::iter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SightingBatch<'a> {
    window_start_ms: u64,
    window_len_ms: u16,
    entries: &'a [u8],
}

impl<'a> SightingBatch<'a> {
    /// Start of the window, in the node's uptime (ms). 64 bits, so it never
    /// wraps in a node's lifetime.
    #[must_use]
    pub fn window_start_ms(&self) -> u64 {
        self.window_start_ms
    }

    /// Length of the window in ms.
    #[must_use]
    pub fn window_len_ms(&self) -> u16 {
        self.window_len_ms
    }

    /// The entries' raw bytes.
    #[must_use]
    pub fn entries_bytes(&self) -> &'a [u8] {
        self.entries
    }

    /// The entries, each decoded as it is reached. After the first error the
    /// iterator ends: a bad entry's length cannot be trusted to find the next.
    #[must_use]
    pub fn iter(&self) -> Sightings<'a> {
        Sightings {
            rest: self.entries,
            offset: 0,
        }
    }

    /// Reads a batch body. Only the window is checked here; entries are
    /// checked as they are iterated.
    pub fn decode(body: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let window_start_ms = r.u64("batch window start")?;
        let window_len_ms = r.u16("batch window length")?;
        let entries = r.rest();
        if entries.len() > MAX_BATCH_ENTRIES_LEN {
            return Err(Error::TooLong {
                what: "batch entries",
                max: MAX_BATCH_ENTRIES_LEN,
                got: entries.len(),
            });
        }
        Ok(Self {
            window_start_ms,
            window_len_ms,
            entries,
        })
    }

    /// Bytes the body takes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        BATCH_HEADER_LEN + self.entries.len()
    }

    /// Writes the batch body into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        w.u64(self.window_start_ms, "sighting batch")?;
        w.u16(self.window_len_ms, "sighting batch")?;
        w.put(self.entries, "sighting batch")?;
        Ok(w.len())
    }
}

impl<'a> IntoIterator for &SightingBatch<'a> {
    type Item = Result<Sighting<'a>, Error>;
    type IntoIter = Sightings<'a>;

    fn into_iter(self) -> Sightings<'a> {
        self.iter()
    }
}

/// Iterator over a batch's entries; see [`SightingBatch::iter`].
#[derive(Debug, Clone)]
pub struct Sightings<'a> {
    rest: &'a [u8],
    /// Offset of `rest` within the entries, for error reports.
    offset: usize,
}

impl<'a> Iterator for Sightings<'a> {
    type Item = Result<Sighting<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Sighting::decode(self.rest) {
            Ok((sighting, used)) => {
                self.rest = self.rest.get(used..).unwrap_or_default();
                self.offset = self.offset.saturating_add(used);
                Some(Ok(sighting))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(shift(e, self.offset)))
            }
        }
    }
}

impl FusedIterator for Sightings<'_> {}

/// Moves an entry-relative error to an offset within the entries.
fn shift(e: Error, by: usize) -> Error {
    match e {
        Error::InvalidValue {
            what,
            offset,
            value,
        } => Error::InvalidValue {
            what,
            offset: offset.saturating_add(by),
            value,
        },
        Error::TooShort { what, need, got } => Error::TooShort {
            what,
            need: need.saturating_add(by),
            got: got.saturating_add(by),
        },
        other => other,
    }
}

/// Appends sightings into a caller's buffer until it is full, then hands
/// over the [`SightingBatch`] to send. Nothing is allocated.
///
/// ```
/// use aisle_protocol::ll::Channel;
/// use aisle_protocol::link::{BatchWriter, FrameKind, Rssi, Sighting, MAX_BATCH_ENTRIES_LEN};
///
/// let mut buf = [0u8; MAX_BATCH_ENTRIES_LEN];
/// let mut writer = BatchWriter::new(&mut buf, 120_000);
/// let heard = Sighting {
///     kind: FrameKind::IBeacon,
///     channel: Channel::ADV_37,
///     rssi: Rssi { min: -80, max: -61, mean: -70 },
///     count: 9,
///     identity: &[0x42; 20],
/// };
/// while writer.push(&heard).is_ok() {}
/// let batch = writer.finish(1_000);
/// assert_eq!(batch.iter().count(), MAX_BATCH_ENTRIES_LEN / heard.encoded_len());
/// ```
#[derive(Debug)]
pub struct BatchWriter<'b> {
    buf: &'b mut [u8],
    /// Bytes written.
    used: usize,
    count: usize,
    window_start_ms: u64,
}

impl<'b> BatchWriter<'b> {
    /// A writer for a window starting at `window_start_ms` of node uptime.
    ///
    /// Uses at most [`MAX_BATCH_ENTRIES_LEN`] bytes of `buf`, so the batch
    /// always fits one frame; a smaller buffer makes smaller batches.
    pub fn new(buf: &'b mut [u8], window_start_ms: u64) -> Self {
        let cap = buf.len().min(MAX_BATCH_ENTRIES_LEN);
        let (buf, _) = buf.split_at_mut(cap);
        Self {
            buf,
            used: 0,
            count: 0,
            window_start_ms,
        }
    }

    /// Appends a sighting. When it does not fit, returns `BufferTooSmall`
    /// and leaves the batch as it was: time to finish and send it.
    pub fn push(&mut self, sighting: &Sighting<'_>) -> Result<(), Error> {
        let free = self.buf.get_mut(self.used..).unwrap_or_default();
        let used = sighting.encode(free)?;
        self.used = self.used.saturating_add(used);
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Whether `sighting` would fit.
    #[must_use]
    pub fn fits(&self, sighting: &Sighting<'_>) -> bool {
        sighting.encoded_len() <= self.remaining()
    }

    /// Bytes still free.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.used)
    }

    /// Sightings written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing was written yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Closes the window after `window_len_ms` and returns the batch, which
    /// borrows the entries from the writer's buffer.
    #[must_use]
    pub fn finish(self, window_len_ms: u16) -> SightingBatch<'b> {
        let buf: &'b [u8] = self.buf;
        SightingBatch {
            window_start_ms: self.window_start_ms,
            window_len_ms,
            entries: buf.get(..self.used).unwrap_or_default(),
        }
    }
}
