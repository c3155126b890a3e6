//! Eddystone frames (google/eddystone protocol specification): service data
//! under UUID 0xFEAA whose first byte is the frame type.

use core::fmt;

use crate::Error;
use crate::ad::{AdWriter, Flags};

/// Eddystone's 16-bit service UUID.
pub const SERVICE_UUID: u16 = 0xFEAA;

/// Frame type bytes.
pub mod frame_type {
    /// Eddystone-UID.
    pub const UID: u8 = 0x00;
    /// Eddystone-URL.
    pub const URL: u8 = 0x10;
    /// Eddystone-TLM.
    pub const TLM: u8 = 0x20;
    /// Eddystone-EID.
    pub const EID: u8 = 0x30;
}

fn short(what: &'static str, need: usize, got: usize) -> Error {
    Error::TooShort { what, need, got }
}

fn out_of_room(what: &'static str, need: usize, out: &[u8]) -> Error {
    Error::BufferTooSmall {
        what,
        need,
        got: out.len(),
    }
}

/// Writes a whole advertisement: flags, the 0xFEAA service UUID list, then
/// the service data `frame` (as returned by a frame's `encode`).
pub fn write_advertisement(frame: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let mut w = AdWriter::new(out);
    w.flags(Flags::BEACON)?;
    w.service_uuid16(SERVICE_UUID)?;
    w.service_data16(SERVICE_UUID, frame)?;
    Ok(w.len())
}

/// Eddystone-UID: a fixed 10-byte namespace and 6-byte instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EddystoneUid {
    /// Calibrated transmit power at 0 m, dBm.
    pub tx_power: i8,
    /// Namespace identifier.
    #[cfg_attr(feature = "serde", serde(with = "crate::hex_serde"))]
    pub namespace: [u8; 10],
    /// Instance identifier.
    #[cfg_attr(feature = "serde", serde(with = "crate::hex_serde"))]
    pub instance: [u8; 6],
}

impl EddystoneUid {
    /// Frame length with the two reserved bytes the spec appends.
    pub const LEN: usize = 20;
    /// Shortest frame accepted: many beacons omit the reserved bytes.
    const MIN_LEN: usize = 18;

    /// Decodes Eddystone service data (frame type byte first).
    pub fn decode(frame: &[u8]) -> Result<Self, Error> {
        expect_type(frame, frame_type::UID, "Eddystone-UID")?;
        let b: &[u8; Self::MIN_LEN] = frame
            .get(..Self::MIN_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(short("Eddystone-UID", Self::MIN_LEN, frame.len()))?;
        let mut namespace = [0; 10];
        namespace.copy_from_slice(&b[2..12]);
        let mut instance = [0; 6];
        instance.copy_from_slice(&b[12..18]);
        Ok(EddystoneUid {
            tx_power: b[1].cast_signed(),
            namespace,
            instance,
        })
    }

    /// Encodes the service data, reserved bytes zero; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let need = Self::LEN;
        let room = out_of_room("Eddystone-UID", need, out);
        let dst = out.get_mut(..need).ok_or(room)?;
        dst[0] = frame_type::UID;
        dst[1] = self.tx_power.cast_unsigned();
        dst[2..12].copy_from_slice(&self.namespace);
        dst[12..18].copy_from_slice(&self.instance);
        dst[18..20].fill(0);
        Ok(need)
    }
}

/// Eddystone-EID: an 8-byte rotating identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EddystoneEid {
    /// Calibrated transmit power at 0 m, dBm.
    pub tx_power: i8,
    /// The ephemeral identifier.
    #[cfg_attr(feature = "serde", serde(with = "crate::hex_serde"))]
    pub eid: [u8; 8],
}

impl EddystoneEid {
    /// Frame length.
    pub const LEN: usize = 10;

    /// Decodes Eddystone service data (frame type byte first).
    pub fn decode(frame: &[u8]) -> Result<Self, Error> {
        expect_type(frame, frame_type::EID, "Eddystone-EID")?;
        let b: &[u8; Self::LEN] = frame
            .get(..Self::LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(short("Eddystone-EID", Self::LEN, frame.len()))?;
        let mut eid = [0; 8];
        eid.copy_from_slice(&b[2..]);
        Ok(EddystoneEid {
            tx_power: b[1].cast_signed(),
            eid,
        })
    }

    /// Encodes the service data; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let room = out_of_room("Eddystone-EID", Self::LEN, out);
        let dst = out.get_mut(..Self::LEN).ok_or(room)?;
        dst[0] = frame_type::EID;
        dst[1] = self.tx_power.cast_unsigned();
        dst[2..].copy_from_slice(&self.eid);
        Ok(Self::LEN)
    }
}

/// Eddystone-TLM, unencrypted (version 0): the beacon's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EddystoneTlm {
    /// Battery voltage in mV; 0 when the beacon is mains powered or cannot tell.
    pub battery_mv: u16,
    /// Temperature in degrees Celsius, signed 8.8 fixed point; `-128.0` (0x8000) when unsupported.
    pub temperature_8_8: i16,
    /// Advertising PDUs sent since power-up or reboot.
    pub adv_count: u32,
    /// Time since power-up or reboot, in units of 0.1 s.
    pub uptime_deciseconds: u32,
}

impl EddystoneTlm {
    /// Frame length.
    pub const LEN: usize = 14;
    /// The temperature value that means "not supported".
    pub const NO_TEMPERATURE: i16 = i16::MIN;

    /// Temperature in degrees Celsius, when the beacon measures it.
    #[must_use]
    pub fn temperature_c(&self) -> Option<f32> {
        (self.temperature_8_8 != Self::NO_TEMPERATURE)
            .then(|| f32::from(self.temperature_8_8) / 256.0)
    }

    /// Decodes Eddystone service data (frame type byte first). Encrypted TLM
    /// (version 1) is reported as [`Error::InvalidValue`] on the version byte.
    pub fn decode(frame: &[u8]) -> Result<Self, Error> {
        expect_type(frame, frame_type::TLM, "Eddystone-TLM")?;
        let b: &[u8; Self::LEN] = frame
            .get(..Self::LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(short("Eddystone-TLM", Self::LEN, frame.len()))?;
        if b[1] != 0 {
            return Err(Error::InvalidValue {
                what: "Eddystone-TLM version",
                offset: 1,
                value: b[1].into(),
            });
        }
        Ok(EddystoneTlm {
            battery_mv: u16::from_be_bytes([b[2], b[3]]),
            temperature_8_8: i16::from_be_bytes([b[4], b[5]]),
            adv_count: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
            uptime_deciseconds: u32::from_be_bytes([b[10], b[11], b[12], b[13]]),
        })
    }

    /// Encodes the service data; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let room = out_of_room("Eddystone-TLM", Self::LEN, out);
        let dst = out.get_mut(..Self::LEN).ok_or(room)?;
        dst[0] = frame_type::TLM;
        dst[1] = 0;
        dst[2..4].copy_from_slice(&self.battery_mv.to_be_bytes());
        dst[4..6].copy_from_slice(&self.temperature_8_8.to_be_bytes());
        dst[6..10].copy_from_slice(&self.adv_count.to_be_bytes());
        dst[10..14].copy_from_slice(&self.uptime_deciseconds.to_be_bytes());
        Ok(Self::LEN)
    }
}

/// The URL scheme prefixes (Eddystone-URL spec, "URL Scheme Prefix").
pub const URL_SCHEMES: [&str; 4] = ["http://www.", "https://www.", "http://", "https://"];

/// The expansion codes 0x00..=0x0D (Eddystone-URL spec, "HTTP URL encoding").
pub const URL_EXPANSIONS: [&str; 14] = [
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/", ".com", ".org", ".edu", ".net",
    ".info", ".biz", ".gov",
];

/// The encoded URL after the scheme byte holds at most 17 bytes (a 31-byte
/// advertisement less flags, UUID list and service data headers).
pub const URL_MAX_ENCODED: usize = 17;

/// Eddystone-URL: a compressed URL, kept encoded until expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EddystoneUrl<'a> {
    /// Calibrated transmit power at 0 m, dBm.
    pub tx_power: i8,
    /// Index into [`URL_SCHEMES`].
    pub scheme: u8,
    /// The encoded bytes after the scheme: printable ASCII and expansion codes.
    pub encoded: &'a [u8],
}

impl<'a> EddystoneUrl<'a> {
    /// Decodes Eddystone service data (frame type byte first), checking that
    /// the scheme and every byte of the URL are ones the spec allows.
    pub fn decode(frame: &'a [u8]) -> Result<Self, Error> {
        expect_type(frame, frame_type::URL, "Eddystone-URL")?;
        let (head, encoded) =
            frame
                .split_first_chunk::<3>()
                .ok_or(short("Eddystone-URL", 3, frame.len()))?;
        if usize::from(head[2]) >= URL_SCHEMES.len() {
            return Err(Error::InvalidValue {
                what: "Eddystone-URL scheme",
                offset: 2,
                value: head[2].into(),
            });
        }
        if encoded.len() > URL_MAX_ENCODED {
            return Err(Error::TooLong {
                what: "Eddystone-URL",
                max: URL_MAX_ENCODED,
                got: encoded.len(),
            });
        }
        if let Some(i) = encoded.iter().position(|&b| !is_url_byte(b)) {
            return Err(Error::InvalidValue {
                what: "Eddystone-URL character",
                offset: 3 + i,
                value: encoded[i].into(),
            });
        }
        Ok(EddystoneUrl {
            tx_power: head[1].cast_signed(),
            scheme: head[2],
            encoded,
        })
    }

    /// Compresses `url` into an Eddystone-URL frame in `out`; returns its length.
    ///
    /// The longest expansion wins at each position, so `.com/` is one byte.
    pub fn encode_url(url: &str, tx_power: i8, out: &mut [u8]) -> Result<usize, Error> {
        // The longest matching prefix: "https://www." before "https://".
        let (scheme, rest) = URL_SCHEMES
            .iter()
            .enumerate()
            .filter_map(|(i, s)| url.strip_prefix(s).map(|r| (i, r)))
            .max_by_key(|(i, _)| URL_SCHEMES[*i].len())
            .ok_or(Error::WrongKind {
                expected: "a URL starting http:// or https://",
            })?;
        let mut buf = [0u8; URL_MAX_ENCODED];
        let mut n = 0;
        let mut rest = rest.as_bytes();
        while !rest.is_empty() {
            let expansion = URL_EXPANSIONS
                .iter()
                .enumerate()
                .filter(|(_, e)| rest.starts_with(e.as_bytes()))
                .max_by_key(|(_, e)| e.len());
            let (byte, used) = match expansion {
                #[allow(clippy::cast_possible_truncation)] // 14 expansions
                Some((code, e)) => (code as u8, e.len()),
                None => (rest[0], 1),
            };
            if !is_url_byte(byte) {
                return Err(Error::InvalidValue {
                    what: "URL character",
                    offset: url.len() - rest.len(),
                    value: byte.into(),
                });
            }
            *buf.get_mut(n).ok_or(Error::TooLong {
                what: "Eddystone-URL encoded URL",
                max: URL_MAX_ENCODED,
                got: n + 1,
            })? = byte;
            n += 1;
            rest = &rest[used..];
        }
        let need = 3 + n;
        let room = out_of_room("Eddystone-URL", need, out);
        let dst = out.get_mut(..need).ok_or(room)?;
        dst[0] = frame_type::URL;
        dst[1] = tx_power.cast_unsigned();
        #[allow(clippy::cast_possible_truncation)] // 4 schemes
        {
            dst[2] = scheme as u8;
        }
        dst[3..].copy_from_slice(&buf[..n]);
        Ok(need)
    }

    /// Re-encodes this frame; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let need = 3 + self.encoded.len();
        let room = out_of_room("Eddystone-URL", need, out);
        let dst = out.get_mut(..need).ok_or(room)?;
        dst[0] = frame_type::URL;
        dst[1] = self.tx_power.cast_unsigned();
        dst[2] = self.scheme;
        dst[3..].copy_from_slice(self.encoded);
        Ok(need)
    }
}

/// Expands the URL: `format!("{url}")` under `alloc`, or write it anywhere.
impl fmt::Display for EddystoneUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(URL_SCHEMES.get(usize::from(self.scheme)).unwrap_or(&""))?;
        for &b in self.encoded {
            match URL_EXPANSIONS.get(usize::from(b)) {
                Some(e) => f.write_str(e)?,
                None => f.write_char(char::from(b))?,
            }
        }
        Ok(())
    }
}

use core::fmt::Write as _;

/// Bytes 0x00..=0x0D are expansions; 0x0E..=0x20 and 0x7F..=0xFF are reserved.
fn is_url_byte(b: u8) -> bool {
    usize::from(b) < URL_EXPANSIONS.len() || (0x21..0x7F).contains(&b)
}

fn expect_type(frame: &[u8], t: u8, expected: &'static str) -> Result<(), Error> {
    match frame.first() {
        Some(&b) if b == t => Ok(()),
        Some(_) => Err(Error::WrongKind { expected }),
        None => Err(short(expected, 1, 0)),
    }
}
