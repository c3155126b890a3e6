//! Beacon frames: decoding, encoding, and the classification of every
//! advertisement Aisle may hear.
//!
//! [`Frame::classify`] reads an advertisement's payload once and says what it
//! is. Beacons (iBeacon, AltBeacon, Eddystone) carry an identity that the
//! gateway may track when the store lists it, and rotating shopper
//! identifiers (Eddystone-EID) that only the resolver can map to a shopper.
//! Other people's phones (Exposure Notification, Apple and Microsoft vendor
//! frames) are recognised so they can be counted, never identified: their
//! variants carry no identifier at all.

mod altbeacon;
pub mod eddystone;
mod ibeacon;

use core::fmt;

pub use altbeacon::AltBeacon;
pub use eddystone::{EddystoneEid, EddystoneTlm, EddystoneUid, EddystoneUrl};
pub use ibeacon::{APPLE, IBeacon};

use crate::Error;
use crate::ad::{AdIter, ad_type};

/// Microsoft's company identifier.
pub const MICROSOFT: u16 = 0x0006;
/// The Exposure Notification service UUID (Google/Apple, 2020).
pub const EXPOSURE_NOTIFICATION: u16 = 0xFD6F;

/// What an advertisement is, with the decoded frame where Aisle reads one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// An iBeacon.
    IBeacon(IBeacon),
    /// An AltBeacon.
    AltBeacon(AltBeacon),
    /// An Eddystone-UID beacon.
    EddystoneUid(EddystoneUid),
    /// An Eddystone-URL beacon.
    EddystoneUrl(EddystoneUrl<'a>),
    /// Eddystone-TLM telemetry (unencrypted).
    EddystoneTlm(EddystoneTlm),
    /// Eddystone-TLM telemetry, encrypted (version 1): recognised, not read.
    EddystoneEncryptedTlm,
    /// An Eddystone-EID rotating identifier.
    EddystoneEid(EddystoneEid),
    /// An Exposure Notification phone; its rolling identifier is deliberately not kept.
    ExposureNotification,
    /// An Apple vendor frame (Continuity); `kind` is the message type byte.
    Apple {
        /// The first Continuity message type (0x10 Nearby Info, 0x07 proximity pairing, ...).
        kind: u8,
    },
    /// A Microsoft vendor frame; `scenario` is its first byte (0x01 CDP beacon, 0x03 Swift Pair).
    Microsoft {
        /// The scenario type byte.
        scenario: u8,
    },
    /// A well-formed advertisement of no kind Aisle reads.
    Unknown,
}

/// A frame's kind as a one-byte code, for counting and for the node link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
#[non_exhaustive]
pub enum FrameKind {
    /// No kind Aisle reads.
    #[cfg_attr(feature = "serde", serde(rename = "unknown"))]
    Unknown = 0,
    /// iBeacon.
    #[cfg_attr(feature = "serde", serde(rename = "ibeacon"))]
    IBeacon = 1,
    /// AltBeacon.
    #[cfg_attr(feature = "serde", serde(rename = "altbeacon"))]
    AltBeacon = 2,
    /// Eddystone-UID.
    #[cfg_attr(feature = "serde", serde(rename = "eddystone_uid"))]
    EddystoneUid = 3,
    /// Eddystone-URL.
    #[cfg_attr(feature = "serde", serde(rename = "eddystone_url"))]
    EddystoneUrl = 4,
    /// Eddystone-TLM.
    #[cfg_attr(feature = "serde", serde(rename = "eddystone_tlm"))]
    EddystoneTlm = 5,
    /// Eddystone-TLM, encrypted.
    #[cfg_attr(feature = "serde", serde(rename = "eddystone_etlm"))]
    EddystoneEncryptedTlm = 6,
    /// Eddystone-EID.
    #[cfg_attr(feature = "serde", serde(rename = "eddystone_eid"))]
    EddystoneEid = 7,
    /// Exposure Notification.
    #[cfg_attr(feature = "serde", serde(rename = "exposure_notification"))]
    ExposureNotification = 8,
    /// Apple vendor frame.
    #[cfg_attr(feature = "serde", serde(rename = "apple"))]
    Apple = 9,
    /// Microsoft vendor frame.
    #[cfg_attr(feature = "serde", serde(rename = "microsoft"))]
    Microsoft = 10,
}

impl FrameKind {
    /// Every kind, in code order.
    pub const ALL: [FrameKind; 11] = [
        FrameKind::Unknown,
        FrameKind::IBeacon,
        FrameKind::AltBeacon,
        FrameKind::EddystoneUid,
        FrameKind::EddystoneUrl,
        FrameKind::EddystoneTlm,
        FrameKind::EddystoneEncryptedTlm,
        FrameKind::EddystoneEid,
        FrameKind::ExposureNotification,
        FrameKind::Apple,
        FrameKind::Microsoft,
    ];

    /// The kind's lowercase name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Unknown => "unknown",
            FrameKind::IBeacon => "ibeacon",
            FrameKind::AltBeacon => "altbeacon",
            FrameKind::EddystoneUid => "eddystone_uid",
            FrameKind::EddystoneUrl => "eddystone_url",
            FrameKind::EddystoneTlm => "eddystone_tlm",
            FrameKind::EddystoneEncryptedTlm => "eddystone_etlm",
            FrameKind::EddystoneEid => "eddystone_eid",
            FrameKind::ExposureNotification => "exposure_notification",
            FrameKind::Apple => "apple",
            FrameKind::Microsoft => "microsoft",
        }
    }
}

impl FrameKind {
    /// The kind a one-byte code stands for, if any.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        if (code as usize) < FrameKind::ALL.len() {
            Some(FrameKind::ALL[code as usize])
        } else {
            None
        }
    }

    /// The one-byte code.
    #[must_use]
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for FrameKind {
    type Error = Error;

    fn try_from(code: u8) -> Result<Self, Error> {
        FrameKind::from_code(code).ok_or(Error::InvalidValue {
            what: "frame kind",
            offset: 0,
            value: u32::from(code),
        })
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A beacon's stable identity (or an EID, which a resolver maps to a shopper),
/// as compact bytes: the form the node link carries and the gateway matches.
///
/// | kind | bytes |
/// |---|---|
/// | iBeacon | uuid (16) · major (2, BE) · minor (2, BE) |
/// | AltBeacon | the 20-byte beacon id |
/// | Eddystone-UID | namespace (10) · instance (6) |
/// | Eddystone-EID | the 8-byte EID |
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Identity {
    kind: FrameKind,
    len: u8,
    bytes: [u8; Identity::MAX_LEN],
}

impl Identity {
    /// The longest identity (iBeacon, AltBeacon).
    pub const MAX_LEN: usize = 20;

    /// An identity of `kind` from its bytes.
    pub fn new(kind: FrameKind, id: &[u8]) -> Result<Self, Error> {
        let len = u8::try_from(id.len())
            .ok()
            .filter(|&l| usize::from(l) <= Self::MAX_LEN)
            .ok_or(Error::TooLong {
                what: "identity",
                max: Self::MAX_LEN,
                got: id.len(),
            })?;
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..id.len()].copy_from_slice(id);
        Ok(Identity { kind, len, bytes })
    }

    /// The kind of frame the identity came from.
    #[must_use]
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// The identity bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// `kind:hex`, for example `eddystone_eid:a9b76a71c5f89290`.
impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.kind)?;
        self.as_bytes()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Parses the `kind:hex` form [`Identity`] displays as.
impl core::str::FromStr for Identity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (kind, hex) = s.split_once(':').ok_or(Error::WrongKind {
            expected: "an identity written kind:hex",
        })?;
        let kind = FrameKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or(Error::WrongKind {
                expected: "a frame kind name such as ibeacon or eddystone_uid",
            })?;
        let digits = hex.as_bytes();
        if digits.len() % 2 != 0 || digits.len() / 2 > Self::MAX_LEN {
            return Err(Error::TooLong {
                what: "identity hex",
                max: 2 * Self::MAX_LEN,
                got: digits.len(),
            });
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let digit = |at: usize| {
                let c = pair[at];
                char::from(c).to_digit(16).ok_or(Error::InvalidValue {
                    what: "identity hex digit",
                    offset: kind.name().len() + 1 + 2 * i + at,
                    value: c.into(),
                })
            };
            #[allow(clippy::cast_possible_truncation)] // two hex digits
            let byte = (digit(0)? << 4 | digit(1)?) as u8;
            bytes[i] = byte;
        }
        Identity::new(kind, &bytes[..digits.len() / 2])
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({self})")
    }
}

impl<'a> Frame<'a> {
    /// Classifies an advertisement's payload (its AD structures).
    ///
    /// The first beacon frame found wins; vendor and Exposure Notification
    /// frames count only when no beacon frame is present. The whole payload
    /// is checked: a malformed AD structure anywhere, or a beacon frame that
    /// is cut short, is an error rather than a silent partial answer.
    pub fn classify(adv: &'a [u8]) -> Result<Self, Error> {
        let mut found = Frame::Unknown;
        for s in AdIter::new(adv) {
            let s = s?;
            let frame = match s.ad_type {
                ad_type::MANUFACTURER_DATA => classify_manufacturer(s.data)?,
                ad_type::SERVICE_DATA_UUID16 => classify_service(s.data)?,
                ad_type::COMPLETE_UUID16 | ad_type::INCOMPLETE_UUID16
                    if s.data
                        .chunks_exact(2)
                        .any(|u| u == EXPOSURE_NOTIFICATION.to_le_bytes()) =>
                {
                    Frame::ExposureNotification
                }
                _ => Frame::Unknown,
            };
            if frame.rank() > found.rank() {
                found = frame;
            }
        }
        Ok(found)
    }

    /// Beacon frames outrank phones' frames, which outrank nothing.
    fn rank(&self) -> u8 {
        match self {
            Frame::Unknown => 0,
            Frame::Apple { .. } | Frame::Microsoft { .. } => 1,
            Frame::ExposureNotification => 2,
            Frame::EddystoneTlm(_) | Frame::EddystoneEncryptedTlm | Frame::EddystoneUrl(_) => 3,
            _ => 4,
        }
    }

    /// The frame's kind.
    #[must_use]
    pub fn kind(&self) -> FrameKind {
        match self {
            Frame::IBeacon(_) => FrameKind::IBeacon,
            Frame::AltBeacon(_) => FrameKind::AltBeacon,
            Frame::EddystoneUid(_) => FrameKind::EddystoneUid,
            Frame::EddystoneUrl(_) => FrameKind::EddystoneUrl,
            Frame::EddystoneTlm(_) => FrameKind::EddystoneTlm,
            Frame::EddystoneEncryptedTlm => FrameKind::EddystoneEncryptedTlm,
            Frame::EddystoneEid(_) => FrameKind::EddystoneEid,
            Frame::ExposureNotification => FrameKind::ExposureNotification,
            Frame::Apple { .. } => FrameKind::Apple,
            Frame::Microsoft { .. } => FrameKind::Microsoft,
            Frame::Unknown => FrameKind::Unknown,
        }
    }

    /// The identity a gateway may match against its lists, for frames that carry one.
    ///
    /// Phones that are not ours, telemetry and URLs have none.
    #[must_use]
    pub fn identity(&self) -> Option<Identity> {
        let mut b = [0u8; Identity::MAX_LEN];
        let len = match self {
            Frame::IBeacon(i) => {
                b[..16].copy_from_slice(&i.uuid.0);
                b[16..18].copy_from_slice(&i.major.to_be_bytes());
                b[18..20].copy_from_slice(&i.minor.to_be_bytes());
                20
            }
            Frame::AltBeacon(a) => {
                b.copy_from_slice(&a.id);
                20
            }
            Frame::EddystoneUid(u) => {
                b[..10].copy_from_slice(&u.namespace);
                b[10..16].copy_from_slice(&u.instance);
                16
            }
            Frame::EddystoneEid(e) => {
                b[..8].copy_from_slice(&e.eid);
                8
            }
            _ => return None,
        };
        Some(Identity {
            kind: self.kind(),
            len,
            bytes: b,
        })
    }
}

/// Writes a whole advertisement: the flags beacons send, then one
/// manufacturer-data structure holding `value` (company identifier first).
fn write_manufacturer_advertisement(value: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let mut w = crate::ad::AdWriter::new(out);
    w.flags(crate::ad::Flags::BEACON)?;
    w.push(ad_type::MANUFACTURER_DATA, value)?;
    Ok(w.len())
}

fn classify_manufacturer(data: &[u8]) -> Result<Frame<'_>, Error> {
    let Some((company, rest)) = data.split_first_chunk::<2>() else {
        return Ok(Frame::Unknown);
    };
    let company = u16::from_le_bytes(*company);
    if rest.get(..2) == Some(&[0xBE, 0xAC]) {
        return AltBeacon::decode(data).map(Frame::AltBeacon);
    }
    Ok(match (company, rest.first()) {
        (APPLE, Some(0x02)) => Frame::IBeacon(IBeacon::decode_apple(rest)?),
        (APPLE, Some(&kind)) => Frame::Apple { kind },
        (MICROSOFT, Some(&scenario)) => Frame::Microsoft { scenario },
        _ => Frame::Unknown,
    })
}

fn classify_service(data: &[u8]) -> Result<Frame<'_>, Error> {
    let Some((uuid, frame)) = data.split_first_chunk::<2>() else {
        return Ok(Frame::Unknown);
    };
    match u16::from_le_bytes(*uuid) {
        EXPOSURE_NOTIFICATION => Ok(Frame::ExposureNotification),
        eddystone::SERVICE_UUID => match frame.first() {
            Some(&eddystone::frame_type::UID) => {
                EddystoneUid::decode(frame).map(Frame::EddystoneUid)
            }
            Some(&eddystone::frame_type::URL) => {
                EddystoneUrl::decode(frame).map(Frame::EddystoneUrl)
            }
            Some(&eddystone::frame_type::TLM) if frame.get(1) == Some(&1) => {
                Ok(Frame::EddystoneEncryptedTlm)
            }
            Some(&eddystone::frame_type::TLM) => {
                EddystoneTlm::decode(frame).map(Frame::EddystoneTlm)
            }
            Some(&eddystone::frame_type::EID) => {
                EddystoneEid::decode(frame).map(Frame::EddystoneEid)
            }
            // A frame type defined after this code was written.
            _ => Ok(Frame::Unknown),
        },
        _ => Ok(Frame::Unknown),
    }
}
