//! The one error type of the crate.

use core::fmt;

/// What went wrong while decoding or encoding, and where.
///
/// Offsets count bytes from the start of the buffer handed to the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The input ended before `what` was complete.
    TooShort {
        /// The field or structure being read.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes there were.
        got: usize,
    },
    /// The caller's output buffer cannot hold what is being encoded.
    BufferTooSmall {
        /// What was being encoded.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// A value is longer than its format allows.
    TooLong {
        /// The field.
        what: &'static str,
        /// Largest length allowed.
        max: usize,
        /// Length given.
        got: usize,
    },
    /// An AD structure claims more bytes than remain in the advertisement.
    AdOverrun {
        /// Offset of the structure's length byte.
        offset: usize,
        /// The length the structure claims (type byte included).
        len: usize,
        /// Bytes that remain after the length byte.
        remaining: usize,
    },
    /// A field holds a value its format does not allow.
    InvalidValue {
        /// The field.
        what: &'static str,
        /// Offset of the field.
        offset: usize,
        /// The value found.
        value: u32,
    },
    /// The data is a valid something, but not what this decoder reads.
    WrongKind {
        /// What the decoder expected.
        expected: &'static str,
    },
    /// A checksum did not match.
    Checksum {
        /// Which checksum.
        what: &'static str,
        /// The value carried by the data.
        carried: u32,
        /// The value computed over the data.
        computed: u32,
    },
    /// A frame's byte stuffing is broken.
    Cobs {
        /// Offset in the stuffed frame where decoding failed.
        offset: usize,
    },
    /// A frame was written by a protocol version this code does not speak.
    UnsupportedVersion {
        /// The version carried by the frame.
        got: u8,
        /// The version this code speaks.
        supported: u8,
    },
    /// A frame's authentication tag is wrong: forged, corrupted or keyed for another node.
    BadTag {
        /// The node the frame claims to come from.
        node: u32,
    },
    /// A frame's counter is not newer than the last one accepted: a replay.
    Replay {
        /// The node the frame claims to come from.
        node: u32,
        /// The frame's counter.
        counter: u32,
        /// The last counter accepted from that node.
        last: u32,
    },
    /// An MQTT topic does not follow Aisle's scheme.
    Topic {
        /// What is wrong.
        reason: &'static str,
        /// Index of the offending `/`-separated level.
        level: usize,
    },
    /// A JSON payload field holds a value its schema does not allow.
    Payload {
        /// The field, as named in the JSON.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort { what, need, got } => {
                write!(f, "{what}: needs {need} bytes, input has {got}")
            }
            Error::BufferTooSmall { what, need, got } => {
                write!(f, "{what}: needs {need} bytes of output, buffer has {got}")
            }
            Error::TooLong { what, max, got } => {
                write!(f, "{what}: {got} bytes long, at most {max} allowed")
            }
            Error::AdOverrun {
                offset,
                len,
                remaining,
            } => write!(
                f,
                "AD structure at byte {offset} claims {len} bytes but only {remaining} remain"
            ),
            Error::InvalidValue {
                what,
                offset,
                value,
            } => write!(f, "{what} at byte {offset}: value {value:#x} not allowed"),
            Error::WrongKind { expected } => write!(f, "not {expected}"),
            Error::Checksum {
                what,
                carried,
                computed,
            } => write!(
                f,
                "{what} mismatch: carried {carried:#x}, computed {computed:#x}"
            ),
            Error::Cobs { offset } => write!(f, "broken byte stuffing at byte {offset}"),
            Error::UnsupportedVersion { got, supported } => write!(
                f,
                "protocol version {got} not supported (this build speaks {supported})"
            ),
            Error::BadTag { node } => {
                write!(f, "frame claiming node {node:#010x} failed authentication")
            }
            Error::Replay {
                node,
                counter,
                last,
            } => write!(
                f,
                "frame from node {node:#010x} replayed: counter {counter}, last accepted {last}"
            ),
            Error::Topic { reason, level } => write!(f, "topic level {level}: {reason}"),
            Error::Payload { field, reason } => write!(f, "payload field `{field}`: {reason}"),
        }
    }
}

impl core::error::Error for Error {}
