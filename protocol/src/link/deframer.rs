//! Cutting a noisy byte stream into frames.

use super::MAX_STUFFED_LEN;
use crate::Error;

/// Reassembles frames from a byte stream delivered in arbitrary chunks.
///
/// Frames are COBS-stuffed and end at a `0x00`, which never occurs inside
/// one. The deframer keeps the bytes since the last `0x00` in a fixed
/// buffer of `N` bytes; at the next `0x00` it undoes the stuffing in place
/// and yields the frame. Whatever the input, memory stays at `N` bytes and
/// nothing panics:
///
/// - noise between frames becomes a junk frame that fails to unstuff or
///   fails its CRC later, and the next frame after a `0x00` is whole again;
/// - more than `N` bytes without a `0x00` are dropped up to the next `0x00`
///   and counted in [`DeframerStats::oversized`];
/// - empty frames (`0x00 0x00`) are skipped silently: senders put a `0x00`
///   before each frame as well as after.
///
/// Use `Deframer<MAX_STUFFED_LEN>` ([`LinkDeframer`]) for this link.
///
/// ```
/// use aisle_protocol::link::{Feed, LinkDeframer};
///
/// let mut deframer = LinkDeframer::new();
/// // A frame, noise, a frame: 0x11 0x22 and 0x05 after unstuffing.
/// let mut input: &[u8] = &[0x00, 0x03, 0x11, 0x22, 0x00, 0x13, 0x37, 0x00, 0x02, 0x05, 0x00];
/// let mut frames = Vec::new();
/// loop {
///     match deframer.feed(input) {
///         Feed::Pending => break,
///         Feed::Frame { frame, rest } => {
///             // open_frame(&key, Direction::NodeToGateway, &mut guard, frame)
///             frames.push(frame.to_vec());
///             input = rest;
///         }
///         Feed::Dropped { rest, .. } => input = rest,
///     }
/// }
/// assert_eq!(frames, [vec![0x11, 0x22], vec![0x05]]);
/// assert_eq!(deframer.stats().malformed, 1);
/// ```
#[derive(Debug, Clone)]
pub struct Deframer<const N: usize> {
    buf: [u8; N],
    /// Stuffed bytes held since the last delimiter.
    len: usize,
    /// Bytes seen since the last delimiter when more than `N`: the frame is
    /// being dropped.
    overflow: Option<usize>,
    stats: DeframerStats,
}

/// A deframer sized for the longest frame of this link.
pub type LinkDeframer = Deframer<MAX_STUFFED_LEN>;

/// What a deframer has done since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeframerStats {
    /// Frames yielded.
    pub frames: u32,
    /// Frames dropped for being longer than the buffer.
    pub oversized: u32,
    /// Frames dropped because their stuffing was broken.
    pub malformed: u32,
}

/// What [`Deframer::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'d, 'i> {
    /// The input is used up and no frame was completed.
    Pending,
    /// A frame, unstuffed, ready for [`open_frame`](super::open_frame).
    /// `rest` is the input after its delimiter; feed it next.
    Frame {
        /// The frame, borrowed from the deframer until the next feed.
        frame: &'d [u8],
        /// Input not consumed yet.
        rest: &'i [u8],
    },
    /// A delimiter ended bytes that were not a frame; they were dropped.
    Dropped {
        /// Why: `TooLong` (oversized) or `Cobs` (broken stuffing).
        error: Error,
        /// Input not consumed yet.
        rest: &'i [u8],
    },
}

impl<const N: usize> Default for Deframer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Deframer<N> {
    /// An empty deframer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflow: None,
            stats: DeframerStats {
                frames: 0,
                oversized: 0,
                malformed: 0,
            },
        }
    }

    /// Counters since the deframer was made.
    #[must_use]
    pub fn stats(&self) -> DeframerStats {
        self.stats
    }

    /// Forgets a partial frame, e.g. after the port was reopened.
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflow = None;
    }

    /// Consumes `input` up to the end of the first frame it completes, if
    /// any. Call again with `rest` until it answers [`Feed::Pending`].
    pub fn feed<'d, 'i>(&'d mut self, input: &'i [u8]) -> Feed<'d, 'i> {
        let mut input = input;
        loop {
            let Some(end) = input.iter().position(|&b| b == 0) else {
                self.hold(input);
                return Feed::Pending;
            };
            let (chunk, after) = input.split_at(end);
            let rest = after.get(1..).unwrap_or_default();
            self.hold(chunk);

            if let Some(seen) = self.overflow.take() {
                self.len = 0;
                self.stats.oversized = self.stats.oversized.wrapping_add(1);
                return Feed::Dropped {
                    error: Error::TooLong {
                        what: "stuffed frame",
                        max: N,
                        got: seen,
                    },
                    rest,
                };
            }
            let len = core::mem::take(&mut self.len);
            if len == 0 {
                // An empty frame: the delimiter before a frame, or two in a row.
                input = rest;
                continue;
            }
            let held = self.buf.get_mut(..len).unwrap_or_default();
            let Ok(n) = cobs::decode_in_place(held) else {
                self.stats.malformed = self.stats.malformed.wrapping_add(1);
                // The only way stuffing breaks is a block running past the
                // frame's end, so that is where it failed.
                return Feed::Dropped {
                    error: Error::Cobs { offset: len },
                    rest,
                };
            };
            self.stats.frames = self.stats.frames.wrapping_add(1);
            return Feed::Frame {
                frame: self.buf.get(..n).unwrap_or_default(),
                rest,
            };
        }
    }

    /// Appends bytes of the current frame, or counts them if it is already
    /// too long for the buffer.
    fn hold(&mut self, bytes: &[u8]) {
        if let Some(seen) = &mut self.overflow {
            *seen = seen.saturating_add(bytes.len());
            return;
        }
        let end = self.len.saturating_add(bytes.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflow = Some(end),
        }
    }
}

/// Undoes the stuffing of one frame in place (without its delimiters) and
/// returns the frame, for callers that cut the stream themselves.
pub fn unstuff(stuffed: &mut [u8]) -> Result<&[u8], Error> {
    if stuffed.contains(&0) {
        return Err(Error::Cobs {
            offset: stuffed.iter().position(|&b| b == 0).unwrap_or_default(),
        });
    }
    let len = stuffed.len();
    let n = cobs::decode_in_place(stuffed).map_err(|_| Error::Cobs { offset: len })?;
    Ok(stuffed.get(..n).unwrap_or_default())
}
