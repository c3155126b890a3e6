//! Byte arrays as lowercase hex strings in serde formats, so JSON payloads
//! read `"namespace": "0102..."` rather than arrays of numbers.

use core::fmt;

use serde::de::{Error as _, Visitor};
use serde::{Deserializer, Serializer};

struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Serialises a byte array as hex.
pub fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Hex(bytes))
}

/// Deserialises a byte array from exactly `2 * N` hex digits.
pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    struct V<const N: usize>;
    impl<const N: usize> Visitor<'_> for V<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} hex digits", 2 * N)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<[u8; N], E> {
            let mut out = [0u8; N];
            if v.len() != 2 * N {
                return Err(E::invalid_length(v.len(), &self));
            }
            for (i, pair) in v.as_bytes().chunks_exact(2).enumerate() {
                let digit = |c: u8| {
                    char::from(c)
                        .to_digit(16)
                        .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
                };
                #[allow(clippy::cast_possible_truncation)] // two hex digits
                let byte = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
                out[i] = byte;
            }
            Ok(out)
        }
    }
    d.deserialize_str(V::<N>).map_err(D::Error::custom)
}
