//! Sealing messages into authenticated frames and opening them again.

use aes::Aes128;
use cmac::{Cmac, KeyInit, Mac};
use crc::{CRC_32_ISO_HDLC, Crc};

use super::message::{Message, MessageKind};
use super::wire::{Reader, Writer};
use super::{
    FRAME_CRC_LEN, FRAME_HEADER_LEN, FRAME_OVERHEAD, MAX_BODY_LEN, MAX_FRAME_LEN, PROTOCOL_VERSION,
    TAG_LEN,
};
use crate::Error;

/// A node's 128-bit AES key, shared only with the gateway.
pub type NodeKey = [u8; 16];

/// CRC-32/ISO-HDLC, the zlib and Ethernet CRC: good at the burst errors a
/// serial line makes, and what every tool can recompute.
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The flags byte's direction bit; the other bits are reserved and zero.
const DIRECTION_BIT: u8 = 0x01;

/// Which way a frame travels. Authenticated with the rest of the header, so
/// a frame the gateway sent cannot be played back to the gateway as if the
/// node had sent it, even though both directions share the node's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Direction {
    /// From a shelf node to the gateway.
    NodeToGateway,
    /// From the gateway to a shelf node.
    GatewayToNode,
}

/// The authenticated header of a frame (the version is implied: only
/// [`PROTOCOL_VERSION`] frames open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Header {
    /// Which way the frame travels.
    pub direction: Direction,
    /// The node it comes from or goes to; selects the key.
    pub node_id: u32,
    /// The sender's frame counter for this direction, from 1, strictly increasing.
    pub counter: u32,
}

/// The full AES-128-CMAC (RFC 4493) of the concatenation of `parts`.
///
/// This is the code path frames are sealed and opened with; frames carry its
/// first [`TAG_LEN`] bytes.
#[must_use]
pub fn cmac_tag(key: &NodeKey, parts: &[&[u8]]) -> [u8; 16] {
    mac(key, parts).finalize().into_bytes().into()
}

fn mac(key: &NodeKey, parts: &[&[u8]]) -> Cmac<Aes128> {
    let mut mac = Cmac::<Aes128>::new(key.into());
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Seals `message` into a frame in `out`, before byte stuffing: header, body,
/// tag, CRC. Returns the bytes written. See [`encode_frame`] for the form
/// that goes on the wire.
pub fn seal(
    key: &NodeKey,
    header: &Header,
    message: &Message<'_>,
    out: &mut [u8],
) -> Result<usize, Error> {
    if message.kind().direction() != header.direction {
        return Err(Error::WrongKind {
            expected: "message for the frame's direction",
        });
    }
    let body_len = message.encoded_len();
    if body_len > MAX_BODY_LEN {
        return Err(Error::TooLong {
            what: "message body",
            max: MAX_BODY_LEN,
            got: body_len,
        });
    }
    let total = FRAME_OVERHEAD + body_len;
    let got = out.len();
    let frame = out.get_mut(..total).ok_or(Error::BufferTooSmall {
        what: "frame",
        need: total,
        got,
    })?;

    let mut w = Writer::new(frame);
    w.u8(PROTOCOL_VERSION, "frame")?;
    w.u8(flags(header.direction), "frame")?;
    w.u32(header.node_id, "frame")?;
    w.u32(header.counter, "frame")?;
    w.u8(message.kind().code(), "frame")?;
    let (head, after) = frame.split_at_mut(FRAME_HEADER_LEN);
    let written = message.encode(after)?;
    if written != body_len {
        // A body that disagrees with its own length would be cut or padded.
        return Err(Error::InvalidValue {
            what: "message body length",
            offset: FRAME_HEADER_LEN,
            value: u32::try_from(written).unwrap_or(u32::MAX),
        });
    }
    let (body, trailer) = after.split_at_mut(body_len);
    let tag = cmac_tag(key, &[head, body]);
    if let Some(tag_dst) = trailer.get_mut(..TAG_LEN) {
        tag_dst.copy_from_slice(&tag[..TAG_LEN]);
    }
    // `frame` is exactly `total` long, so the CRC gets its 4 bytes.
    let (protected, crc_dst) = frame.split_at_mut(total - FRAME_CRC_LEN);
    crc_dst.copy_from_slice(&CRC32.checksum(protected).to_le_bytes());
    Ok(total)
}

fn flags(direction: Direction) -> u8 {
    match direction {
        Direction::NodeToGateway => 0,
        Direction::GatewayToNode => DIRECTION_BIT,
    }
}

/// Seals `message` and byte-stuffs it for the wire: `0x00`, COBS of the
/// frame, `0x00`. Returns the bytes written.
///
/// The leading delimiter costs a byte and means that line noise before a
/// frame ends in a junk frame of its own instead of corrupting this one.
pub fn encode_frame(
    key: &NodeKey,
    header: &Header,
    message: &Message<'_>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut frame = [0u8; MAX_FRAME_LEN];
    let len = seal(key, header, message, &mut frame)?;
    let frame = frame.get(..len).unwrap_or_default();
    let need = cobs::max_encoding_length(len) + 2;
    let too_small = Error::BufferTooSmall {
        what: "stuffed frame",
        need,
        got: out.len(),
    };
    let (first, rest) = out.split_first_mut().ok_or(too_small)?;
    *first = 0;
    let stuffed = cobs::try_encode(frame, rest).map_err(|_| too_small)?;
    let last = rest.get_mut(stuffed).ok_or(too_small)?;
    *last = 0;
    Ok(stuffed + 2)
}

/// The sending side of one direction of a node's link: its key, its
/// identity and its frame counter.
///
/// The counter must survive restarts, or the receiver rejects every frame
/// until the counter passes the last one it accepted. Persist
/// [`next_counter`](Self::next_counter) (or a reserved block ahead of it)
/// and resume with [`Sealer::resume`].
#[derive(Clone)]
pub struct Sealer {
    key: NodeKey,
    node_id: u32,
    direction: Direction,
    next_counter: u32,
}

/// Everything but the key, so a sealer can be logged.
impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer")
            .field("node_id", &self.node_id)
            .field("direction", &self.direction)
            .field("next_counter", &self.next_counter)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer whose first frame carries counter 1.
    #[must_use]
    pub fn new(key: NodeKey, node_id: u32, direction: Direction) -> Self {
        Self::resume(key, node_id, direction, 1)
    }

    /// A sealer whose next frame carries `next_counter`. Counter 0 is never
    /// sent, since a fresh receiver has "accepted" it.
    #[must_use]
    pub fn resume(key: NodeKey, node_id: u32, direction: Direction, next_counter: u32) -> Self {
        Self {
            key,
            node_id,
            direction,
            next_counter: next_counter.max(1),
        }
    }

    /// The counter the next frame will carry.
    #[must_use]
    pub fn next_counter(&self) -> u32 {
        self.next_counter
    }

    /// Seals and stuffs `message` into `out` as [`encode_frame`] does, then
    /// moves the counter on. On error the counter is unchanged.
    ///
    /// After counter `u32::MAX` (13 years at 10 frames a second) the sealer
    /// refuses: a counter must never repeat under one key, so the node needs
    /// a new key.
    pub fn seal(&mut self, message: &Message<'_>, out: &mut [u8]) -> Result<usize, Error> {
        let header = Header {
            direction: self.direction,
            node_id: self.node_id,
            counter: self.next_counter,
        };
        if self.next_counter == 0 {
            return Err(Error::InvalidValue {
                what: "frame counter exhausted",
                offset: 6,
                value: u32::MAX,
            });
        }
        let len = encode_frame(&self.key, &header, message, out)?;
        // Wrapping to 0 marks the counter exhausted.
        self.next_counter = self.next_counter.wrapping_add(1);
        Ok(len)
    }
}

/// The last counter accepted from one sender in one direction.
///
/// Frames on a serial line arrive in order, so anything not strictly newer
/// is a replay; lost frames merely leave gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReplayGuard {
    last: u32,
}

impl ReplayGuard {
    /// A guard that has accepted nothing yet.
    #[must_use]
    pub const fn new() -> Self {
        Self { last: 0 }
    }

    /// A guard that has accepted counters up to `last` (restored from storage).
    #[must_use]
    pub const fn resume(last: u32) -> Self {
        Self { last }
    }

    /// The last counter accepted, 0 if none.
    #[must_use]
    pub const fn last(&self) -> u32 {
        self.last
    }

    fn check(self, node: u32, counter: u32) -> Result<(), Error> {
        if counter > self.last {
            Ok(())
        } else {
            Err(Error::Replay {
                node,
                counter,
                last: self.last,
            })
        }
    }
}

/// A frame whose CRC and version have been checked but whose tag has not:
/// enough to read which node it claims to be from and look up its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnverifiedFrame<'f> {
    header: Header,
    kind: u8,
    /// Header and body: what the tag covers.
    authenticated: &'f [u8],
    body: &'f [u8],
    tag: &'f [u8],
}

impl<'f> UnverifiedFrame<'f> {
    /// Checks, in order and cheapest first: length, CRC (line noise),
    /// version, reserved flag bits.
    pub fn parse(frame: &'f [u8]) -> Result<Self, Error> {
        if frame.len() < FRAME_OVERHEAD {
            return Err(Error::TooShort {
                what: "frame",
                need: FRAME_OVERHEAD,
                got: frame.len(),
            });
        }
        if frame.len() > MAX_FRAME_LEN {
            return Err(Error::TooLong {
                what: "frame",
                max: MAX_FRAME_LEN,
                got: frame.len(),
            });
        }
        let (protected, crc) = frame.split_at(frame.len() - FRAME_CRC_LEN);
        let carried = Reader::new(crc).u32("frame CRC")?;
        let computed = CRC32.checksum(protected);
        if carried != computed {
            return Err(Error::Checksum {
                what: "frame CRC-32",
                carried,
                computed,
            });
        }
        let (authenticated, tag) = protected.split_at(protected.len() - TAG_LEN);

        let mut r = Reader::new(authenticated);
        let version = r.u8("frame version")?;
        if version != PROTOCOL_VERSION {
            return Err(Error::UnsupportedVersion {
                got: version,
                supported: PROTOCOL_VERSION,
            });
        }
        let flags = r.u8("frame flags")?;
        if flags & !DIRECTION_BIT != 0 {
            return Err(Error::InvalidValue {
                what: "frame flags",
                offset: 1,
                value: u32::from(flags),
            });
        }
        let direction = if flags & DIRECTION_BIT == 0 {
            Direction::NodeToGateway
        } else {
            Direction::GatewayToNode
        };
        let node_id = r.u32("frame node id")?;
        let counter = r.u32("frame counter")?;
        let kind = r.u8("frame message type")?;
        let body = r.rest();
        Ok(Self {
            header: Header {
                direction,
                node_id,
                counter,
            },
            kind,
            authenticated,
            body,
            tag,
        })
    }

    /// The header as the frame claims it; not yet authenticated.
    #[must_use]
    pub fn claimed_header(&self) -> Header {
        self.header
    }

    /// Authenticates the frame with `key`, then checks it travels in the
    /// direction `expected`, is newer than `guard` has seen and carries a
    /// well-formed message. Only then does `guard` move on to its counter.
    pub fn open(
        self,
        key: &NodeKey,
        expected: Direction,
        guard: &mut ReplayGuard,
    ) -> Result<(Header, Message<'f>), Error> {
        let header = self.header;
        let node = header.node_id;
        // Constant-time comparison of the truncated tag.
        mac(key, &[self.authenticated])
            .verify_truncated_left(self.tag)
            .map_err(|_| Error::BadTag { node })?;
        if header.direction != expected {
            return Err(Error::WrongKind {
                expected: match expected {
                    Direction::NodeToGateway => "node-to-gateway frame",
                    Direction::GatewayToNode => "gateway-to-node frame",
                },
            });
        }
        guard.check(node, header.counter)?;
        let bad_kind = Error::InvalidValue {
            what: "frame message type",
            offset: FRAME_HEADER_LEN - 1,
            value: u32::from(self.kind),
        };
        let kind = MessageKind::from_code(self.kind).ok_or(bad_kind)?;
        if kind.direction() != header.direction {
            return Err(bad_kind);
        }
        let message = Message::decode(self.kind, self.body)?;
        if let Message::Hello(hello) = message
            && hello.node_id != node
        {
            return Err(Error::InvalidValue {
                what: "hello node id (differs from the frame's)",
                offset: FRAME_HEADER_LEN,
                value: hello.node_id,
            });
        }
        guard.last = header.counter;
        Ok((header, message))
    }
}

/// Opens a frame (COBS already undone, as [`Deframer`](super::Deframer)
/// yields it) from a peer whose key is known: checks length, CRC, version,
/// tag, direction, replay and message, in that order. `guard` advances only
/// when everything passed.
///
/// A gateway with many nodes uses [`UnverifiedFrame::parse`] to learn the
/// claimed node id first, then [`UnverifiedFrame::open`] with that node's key.
pub fn open_frame<'f>(
    key: &NodeKey,
    expected: Direction,
    guard: &mut ReplayGuard,
    frame: &'f [u8],
) -> Result<(Header, Message<'f>), Error> {
    UnverifiedFrame::parse(frame)?.open(key, expected, guard)
}
