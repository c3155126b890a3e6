//! Event identifiers, for dropping duplicates of at-least-once delivery.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// Identifies one published fact: 128 bits, written as 32 lowercase hex
/// digits (`"0f8e4d2c..."`), most significant first.
///
/// The publisher picks ids (random, or a counter under a random prefix); a
/// retransmission reuses the id, so a consumer that remembers recent ids
/// drops duplicates. Only lowercase is accepted, so that consumers which
/// compare the text, not the number, agree. There is deliberately no
/// `Default`: an id everyone defaults to would make distinct facts look like
/// duplicates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(u128);

/// Digits of an id's text.
const HEX_LEN: usize = 32;

impl EventId {
    /// The id with this numeric value.
    #[must_use]
    pub const fn from_u128(value: u128) -> Self {
        EventId(value)
    }

    /// The id's numeric value.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// The id whose text reads these bytes in order.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        EventId(u128::from_be_bytes(bytes))
    }

    /// The id's bytes, in the order its text reads them.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Reads 32 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let what = "event id";
        let got = text.len();
        if got < HEX_LEN {
            return Err(Error::TooShort {
                what,
                need: HEX_LEN,
                got,
            });
        }
        if got > HEX_LEN {
            return Err(Error::TooLong {
                what,
                max: HEX_LEN,
                got,
            });
        }
        let mut value = 0u128;
        for (offset, &c) in text.as_bytes().iter().enumerate() {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                _ => {
                    return Err(Error::InvalidValue {
                        what,
                        offset,
                        value: u32::from(c),
                    });
                }
            };
            value = value << 4 | u128::from(digit);
        }
        Ok(EventId(value))
    }

    /// The id's text, as ASCII.
    fn to_hex(self) -> [u8; HEX_LEN] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0; HEX_LEN];
        for (i, byte) in self.to_bytes().iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(byte >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
        out
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        // Only ASCII hex digits were written.
        f.write_str(core::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl FromStr for EventId {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        EventId::parse(text)
    }
}

impl From<u128> for EventId {
    fn from(value: u128) -> Self {
        EventId(value)
    }
}

impl From<[u8; 16]> for EventId {
    fn from(bytes: [u8; 16]) -> Self {
        EventId::from_bytes(bytes)
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hex = self.to_hex();
        let text = core::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = EventId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event id of 32 lowercase hex digits")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<EventId, E> {
                EventId::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}
