//! Checked values used by the payloads: each rejects an out-of-range value
//! when built and when deserialised.

use alloc::vec::Vec;
use core::fmt;

use super::SCHEMA_VERSION;
use crate::Error;

/// The schema version field `"v"`: writes [`SCHEMA_VERSION`] and reads
/// nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SchemaVersion;

impl serde::Serialize for SchemaVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(SCHEMA_VERSION)
    }
}

impl<'de> serde::Deserialize<'de> for SchemaVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let got = u64::deserialize(deserializer)?;
        if got == SCHEMA_VERSION {
            Ok(SchemaVersion)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported schema version {got} (this build reads version {SCHEMA_VERSION})"
            )))
        }
    }
}

/// Defines a checked integer newtype serialised as its number.
macro_rules! checked_int {
    (
        $(#[$doc:meta])*
        $name:ident($int:ty), $range:expr, $field:literal, $reason:literal, $get:ident
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($int);

        impl $name {
            /// Checks the value's range.
            pub fn new(value: $int) -> Result<Self, Error> {
                if ($range).contains(&value) {
                    Ok($name(value))
                } else {
                    Err(Error::Payload {
                        field: $field,
                        reason: $reason,
                    })
                }
            }

            /// The value.
            #[must_use]
            pub fn $get(self) -> $int {
                self.0
            }
        }

        impl TryFrom<$int> for $name {
            type Error = Error;

            fn try_from(value: $int) -> Result<Self, Error> {
                $name::new(value)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $name::new(<$int>::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_int! {
    /// Received signal strength in dBm, -127..=20: the range the Bluetooth
    /// Core specification gives the HCI RSSI parameter (Vol 4 Part E 7.7.65.2;
    /// 127, "not available", is not a reading).
    Rssi(i8), -127..=20, "rssi", "outside -127..=20 dBm", dbm
}

checked_int! {
    /// A discount in whole percent, 0..=100.
    Percent(u8), 0..=100, "percent", "above 100", get
}

checked_int! {
    /// The BLE radio channel index an advertisement was heard on, 0..=39
    /// (37, 38 and 39 are the primary advertising channels; extended
    /// advertising also uses 0..=36).
    Channel(u8), 0..=39, "channel", "outside 0..=39", index
}

/// Bytes written as a hex string (`"0201061aff4c00..."`): lowercase when
/// written, either case when read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HexBytes(pub Vec<u8>);

impl HexBytes {
    /// Reads an even number of hex digits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let what = "hex bytes";
        let digits = text.as_bytes();
        if let [.., last] = digits
            && !digits.len().is_multiple_of(2)
        {
            return Err(Error::InvalidValue {
                what: "unpaired hex digit",
                offset: digits.len() - 1,
                value: u32::from(*last),
            });
        }
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or(Error::InvalidValue {
                what,
                offset: 2 * i,
                value: u32::from(pair[0]),
            })?;
            let lo = hex_digit(pair[1]).ok_or(Error::InvalidValue {
                what,
                offset: 2 * i + 1,
                value: u32::from(pair[1]),
            })?;
            bytes.push(hi << 4 | lo);
        }
        Ok(HexBytes(bytes))
    }
}

/// The value of one hex digit, either case.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl From<Vec<u8>> for HexBytes {
    fn from(bytes: Vec<u8>) -> Self {
        HexBytes(bytes)
    }
}

impl serde::Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = HexBytes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string of hex digit pairs")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<HexBytes, E> {
                HexBytes::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}
