//! Advertising data: the AD structures of a BLE advertisement or scan response
//! (Core Specification Supplement, part A; Core spec Vol 3 Part C 11).
//!
//! An advertisement's payload is a run of structures, each `length | type | value`,
//! where `length` counts the type byte and the value. [`AdvertisingData`] reads
//! them without copying; [`AdIter`] yields every structure and reports one that
//! runs past the end instead of stopping silently. [`AdWriter`] builds a payload
//! into a caller's buffer.

use core::fmt;

use crate::Error;

/// AD type codes (Bluetooth Assigned Numbers, "Common Data Types").
pub mod ad_type {
    /// Flags.
    pub const FLAGS: u8 = 0x01;
    /// Incomplete list of 16-bit service UUIDs.
    pub const INCOMPLETE_UUID16: u8 = 0x02;
    /// Complete list of 16-bit service UUIDs.
    pub const COMPLETE_UUID16: u8 = 0x03;
    /// Incomplete list of 32-bit service UUIDs.
    pub const INCOMPLETE_UUID32: u8 = 0x04;
    /// Complete list of 32-bit service UUIDs.
    pub const COMPLETE_UUID32: u8 = 0x05;
    /// Incomplete list of 128-bit service UUIDs.
    pub const INCOMPLETE_UUID128: u8 = 0x06;
    /// Complete list of 128-bit service UUIDs.
    pub const COMPLETE_UUID128: u8 = 0x07;
    /// Shortened local name.
    pub const SHORTENED_LOCAL_NAME: u8 = 0x08;
    /// Complete local name.
    pub const COMPLETE_LOCAL_NAME: u8 = 0x09;
    /// Transmit power level in dBm.
    pub const TX_POWER_LEVEL: u8 = 0x0A;
    /// Service data with a 16-bit UUID.
    pub const SERVICE_DATA_UUID16: u8 = 0x16;
    /// Service data with a 32-bit UUID.
    pub const SERVICE_DATA_UUID32: u8 = 0x20;
    /// Service data with a 128-bit UUID.
    pub const SERVICE_DATA_UUID128: u8 = 0x21;
    /// Manufacturer specific data (company identifier first, little-endian).
    pub const MANUFACTURER_DATA: u8 = 0xFF;
}

/// A 128-bit UUID, held in the usual big-endian reading order
/// (`426c7565-4368-...` is `[0x42, 0x6c, ...]`).
///
/// On air, 128-bit service UUIDs are little-endian; beacon formats such as
/// iBeacon carry theirs big-endian. Each decoder converts to this one order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Reads a UUID stored little-endian, as in AD service UUID lists.
    #[must_use]
    pub fn from_le_bytes(mut bytes: [u8; 16]) -> Self {
        bytes.reverse();
        Uuid(bytes)
    }

    /// The UUID in little-endian (on-air AD) order.
    #[must_use]
    pub fn to_le_bytes(self) -> [u8; 16] {
        let mut b = self.0;
        b.reverse();
        b
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl core::str::FromStr for Uuid {
    type Err = Error;

    /// Parses the hyphenated form (`426c7565-4368-6172-6d42-6561636f6e73`)
    /// or 32 bare hex digits.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut hi: Option<u8> = None;
        for (i, c) in s.bytes().enumerate() {
            if c == b'-' && matches!(i, 8 | 13 | 18 | 23) && s.len() == 36 {
                continue;
            }
            let bad = Error::InvalidValue {
                what: "UUID hex digit",
                offset: i,
                value: c.into(),
            };
            let v = char::from(c).to_digit(16).ok_or(bad)?;
            #[allow(clippy::cast_possible_truncation)] // a hex digit
            let v = v as u8;
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    *out.get_mut(n).ok_or(Error::TooLong {
                        what: "UUID",
                        max: 16,
                        got: n + 1,
                    })? = h << 4 | v;
                    n += 1;
                }
            }
        }
        if n != 16 || hi.is_some() {
            return Err(Error::TooShort {
                what: "UUID",
                need: 16,
                got: n,
            });
        }
        Ok(Uuid(out))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Uuid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Uuid;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UUID such as 426c7565-4368-6172-6d42-6561636f6e73")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Uuid, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// One AD structure: its type, its value, and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdStructure<'a> {
    /// Offset of the structure's length byte in the advertisement.
    pub offset: usize,
    /// The AD type code (see [`ad_type`]).
    pub ad_type: u8,
    /// The value, without length and type.
    pub data: &'a [u8],
}

/// Iterator over the AD structures of an advertisement.
///
/// Yields `Err` once for a structure that runs past the end (or lacks its type
/// byte), then stops. A zero length byte ends the data early, as the spec
/// allows for padding; nothing after it is read.
#[derive(Debug, Clone)]
pub struct AdIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> AdIter<'a> {
    /// Iterates over the structures of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        AdIter { buf, pos: 0 }
    }
}

impl<'a> Iterator for AdIter<'a> {
    type Item = Result<AdStructure<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.pos;
        let rest = self.buf.get(offset..)?;
        let (&len, after) = rest.split_first()?;
        let len = usize::from(len);
        if len == 0 {
            self.pos = self.buf.len();
            return None;
        }
        let Some((&ad_type, _)) = after.split_first().filter(|_| after.len() >= len) else {
            self.pos = self.buf.len();
            return Some(Err(Error::AdOverrun {
                offset,
                len,
                remaining: after.len(),
            }));
        };
        let data = after.get(1..len).unwrap_or_default();
        self.pos = offset + 1 + len;
        Some(Ok(AdStructure {
            offset,
            ad_type,
            data,
        }))
    }
}

impl core::iter::FusedIterator for AdIter<'_> {}

/// The Flags AD structure's bits (Core spec Supplement A 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags(pub u8);

impl Flags {
    /// LE Limited Discoverable Mode.
    pub const LE_LIMITED_DISCOVERABLE: u8 = 0x01;
    /// LE General Discoverable Mode.
    pub const LE_GENERAL_DISCOVERABLE: u8 = 0x02;
    /// BR/EDR not supported.
    pub const BR_EDR_NOT_SUPPORTED: u8 = 0x04;
    /// The flags beacons normally send: general discoverable, LE only.
    pub const BEACON: Flags = Flags(Self::LE_GENERAL_DISCOVERABLE | Self::BR_EDR_NOT_SUPPORTED);

    /// Whether every bit of `mask` is set.
    #[must_use]
    pub fn contains(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// A local name as advertised: possibly shortened, possibly not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LocalName<'a> {
    /// The name's bytes.
    pub bytes: &'a [u8],
    /// Whether the advertiser marked the name complete.
    pub complete: bool,
}

impl<'a> LocalName<'a> {
    /// The name as text, when it is valid UTF-8.
    #[must_use]
    pub fn as_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.bytes).ok()
    }
}

/// A view over advertising data (an advertisement's or a scan response's payload).
///
/// Accessors read the well-formed structures before any malformed one; call
/// [`AdvertisingData::validate`] to learn whether the whole payload is sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdvertisingData<'a>(pub &'a [u8]);

impl<'a> AdvertisingData<'a> {
    /// Every structure, with errors.
    #[must_use]
    pub fn structures(&self) -> AdIter<'a> {
        AdIter::new(self.0)
    }

    /// The first malformed structure, if any.
    pub fn validate(&self) -> Result<(), Error> {
        self.structures().try_for_each(|s| s.map(|_| ()))
    }

    /// Well-formed structures of one type, in order.
    pub fn of_type(&self, ad_type: u8) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.structures()
            .map_while(Result::ok)
            .filter(move |s| s.ad_type == ad_type)
            .map(|s| s.data)
    }

    fn first(&self, ad_type: u8) -> Option<&'a [u8]> {
        self.of_type(ad_type).next()
    }

    /// The Flags structure, if present and one byte or longer.
    #[must_use]
    pub fn flags(&self) -> Option<Flags> {
        self.first(ad_type::FLAGS)
            .and_then(|d| d.first().copied().map(Flags))
    }

    /// The complete local name, or else the shortened one.
    #[must_use]
    pub fn local_name(&self) -> Option<LocalName<'a>> {
        let complete = self
            .first(ad_type::COMPLETE_LOCAL_NAME)
            .map(|bytes| LocalName {
                bytes,
                complete: true,
            });
        complete.or_else(|| {
            self.first(ad_type::SHORTENED_LOCAL_NAME)
                .map(|bytes| LocalName {
                    bytes,
                    complete: false,
                })
        })
    }

    /// The advertised transmit power level in dBm.
    #[must_use]
    pub fn tx_power(&self) -> Option<i8> {
        self.first(ad_type::TX_POWER_LEVEL)
            .and_then(|d| d.first().map(|&b| b.cast_signed()))
    }

    fn uuid_lists<const N: usize>(
        &self,
        incomplete: u8,
        complete: u8,
    ) -> impl Iterator<Item = [u8; N]> + use<'a, N> {
        self.structures()
            .map_while(Result::ok)
            .filter(move |s| s.ad_type == incomplete || s.ad_type == complete)
            .flat_map(|s| s.data.chunks_exact(N))
            .filter_map(|c| <[u8; N]>::try_from(c).ok())
    }

    /// 16-bit service UUIDs from the complete and incomplete lists.
    pub fn service_uuids16(&self) -> impl Iterator<Item = u16> + use<'a> {
        self.uuid_lists::<2>(ad_type::INCOMPLETE_UUID16, ad_type::COMPLETE_UUID16)
            .map(u16::from_le_bytes)
    }

    /// 32-bit service UUIDs from the complete and incomplete lists.
    pub fn service_uuids32(&self) -> impl Iterator<Item = u32> + use<'a> {
        self.uuid_lists::<4>(ad_type::INCOMPLETE_UUID32, ad_type::COMPLETE_UUID32)
            .map(u32::from_le_bytes)
    }

    /// 128-bit service UUIDs from the complete and incomplete lists.
    pub fn service_uuids128(&self) -> impl Iterator<Item = Uuid> + use<'a> {
        self.uuid_lists::<16>(ad_type::INCOMPLETE_UUID128, ad_type::COMPLETE_UUID128)
            .map(Uuid::from_le_bytes)
    }

    /// Service data with 16-bit UUIDs: `(uuid, data after the uuid)`.
    pub fn service_data16(&self) -> impl Iterator<Item = (u16, &'a [u8])> + use<'a> {
        self.of_type(ad_type::SERVICE_DATA_UUID16)
            .filter_map(|d| d.split_first_chunk::<2>())
            .map(|(u, rest)| (u16::from_le_bytes(*u), rest))
    }

    /// Service data with 32-bit UUIDs.
    pub fn service_data32(&self) -> impl Iterator<Item = (u32, &'a [u8])> + use<'a> {
        self.of_type(ad_type::SERVICE_DATA_UUID32)
            .filter_map(|d| d.split_first_chunk::<4>())
            .map(|(u, rest)| (u32::from_le_bytes(*u), rest))
    }

    /// Service data with 128-bit UUIDs.
    pub fn service_data128(&self) -> impl Iterator<Item = (Uuid, &'a [u8])> + use<'a> {
        self.of_type(ad_type::SERVICE_DATA_UUID128)
            .filter_map(|d| d.split_first_chunk::<16>())
            .map(|(u, rest)| (Uuid::from_le_bytes(*u), rest))
    }

    /// The first service data for one 16-bit UUID.
    #[must_use]
    pub fn service_data_for(&self, uuid: u16) -> Option<&'a [u8]> {
        self.service_data16()
            .find(|&(u, _)| u == uuid)
            .map(|(_, d)| d)
    }

    /// Manufacturer-specific data: `(company identifier, data after it)`.
    pub fn manufacturer_data(&self) -> impl Iterator<Item = (u16, &'a [u8])> + use<'a> {
        self.of_type(ad_type::MANUFACTURER_DATA)
            .filter_map(|d| d.split_first_chunk::<2>())
            .map(|(c, rest)| (u16::from_le_bytes(*c), rest))
    }
}

/// Builds advertising data into a caller's buffer.
///
/// ```
/// use aisle_protocol::ad::{AdWriter, AdvertisingData, Flags};
/// let mut buf = [0u8; 31];
/// let mut w = AdWriter::new(&mut buf);
/// w.flags(Flags::BEACON)?;
/// w.local_name("aisle", true)?;
/// let len = w.len();
/// let ad = AdvertisingData(&buf[..len]);
/// assert_eq!(ad.local_name().and_then(|n| n.as_str()), Some("aisle"));
/// # Ok::<(), aisle_protocol::Error>(())
/// ```
#[derive(Debug)]
pub struct AdWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> AdWriter<'a> {
    /// Writes into `out`, from its start.
    pub fn new(out: &'a mut [u8]) -> Self {
        AdWriter { out, len: 0 }
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one structure whose value is the concatenation of `parts`.
    pub fn push_parts(&mut self, ad_type: u8, parts: &[&[u8]]) -> Result<(), Error> {
        let value_len: usize = parts.iter().map(|p| p.len()).sum();
        // The length byte counts the type byte too, so a value may be 254 bytes at most.
        let len_byte = u8::try_from(value_len + 1).map_err(|_| Error::TooLong {
            what: "AD structure",
            max: 254,
            got: value_len,
        })?;
        let need = self.len + 2 + value_len;
        let room = self.out.len();
        let dst = self
            .out
            .get_mut(self.len..need)
            .ok_or(Error::BufferTooSmall {
                what: "advertising data",
                need,
                got: room,
            })?;
        let (head, mut value) = dst.split_at_mut(2);
        head.copy_from_slice(&[len_byte, ad_type]);
        for p in parts {
            let (d, rest) = value.split_at_mut(p.len());
            d.copy_from_slice(p);
            value = rest;
        }
        self.len = need;
        Ok(())
    }

    /// Appends one structure.
    pub fn push(&mut self, ad_type: u8, value: &[u8]) -> Result<(), Error> {
        self.push_parts(ad_type, &[value])
    }

    /// Appends the Flags structure.
    pub fn flags(&mut self, flags: Flags) -> Result<(), Error> {
        self.push(ad_type::FLAGS, &[flags.0])
    }

    /// Appends a local name, complete or shortened.
    pub fn local_name(&mut self, name: &str, complete: bool) -> Result<(), Error> {
        let t = if complete {
            ad_type::COMPLETE_LOCAL_NAME
        } else {
            ad_type::SHORTENED_LOCAL_NAME
        };
        self.push(t, name.as_bytes())
    }

    /// Appends the transmit power level.
    pub fn tx_power(&mut self, dbm: i8) -> Result<(), Error> {
        self.push(ad_type::TX_POWER_LEVEL, &[dbm.cast_unsigned()])
    }

    /// Appends a complete list holding one 16-bit service UUID.
    pub fn service_uuid16(&mut self, uuid: u16) -> Result<(), Error> {
        self.push(ad_type::COMPLETE_UUID16, &uuid.to_le_bytes())
    }

    /// Appends service data for a 16-bit UUID.
    pub fn service_data16(&mut self, uuid: u16, data: &[u8]) -> Result<(), Error> {
        self.push_parts(ad_type::SERVICE_DATA_UUID16, &[&uuid.to_le_bytes(), data])
    }

    /// Appends manufacturer-specific data under a company identifier.
    pub fn manufacturer_data(&mut self, company: u16, data: &[u8]) -> Result<(), Error> {
        self.push_parts(ad_type::MANUFACTURER_DATA, &[&company.to_le_bytes(), data])
    }
}
