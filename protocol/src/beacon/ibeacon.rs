//! iBeacon: Apple manufacturer data `4c 00 | 02 15 | uuid(16) | major | minor | power`.

use crate::Error;
use crate::ad::Uuid;

/// Apple's company identifier.
pub const APPLE: u16 = 0x004C;
/// iBeacon's type and length bytes after the company identifier.
const PREFIX: [u8; 2] = [0x02, 0x15];
/// Manufacturer data length, company identifier included.
pub const LEN: usize = 25;

/// An iBeacon advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IBeacon {
    /// Proximity UUID (carried big-endian).
    pub uuid: Uuid,
    /// Major number (big-endian on air).
    pub major: u16,
    /// Minor number (big-endian on air).
    pub minor: u16,
    /// RSSI at 1 m in dBm, as calibrated by the maker.
    pub measured_power: i8,
}

impl IBeacon {
    /// Decodes the value of a manufacturer-data structure (company identifier first).
    pub fn decode(mfg: &[u8]) -> Result<Self, Error> {
        let (company, rest) = mfg.split_first_chunk::<2>().ok_or(Error::TooShort {
            what: "iBeacon company identifier",
            need: 2,
            got: mfg.len(),
        })?;
        if u16::from_le_bytes(*company) != APPLE {
            return Err(Error::WrongKind {
                expected: "iBeacon (Apple company identifier)",
            });
        }
        Self::decode_apple(rest)
    }

    /// Decodes Apple manufacturer data after the company identifier.
    pub(crate) fn decode_apple(rest: &[u8]) -> Result<Self, Error> {
        match rest.split_first_chunk::<2>() {
            Some((p, _)) if *p == PREFIX => {}
            _ => {
                return Err(Error::WrongKind {
                    expected: "iBeacon",
                });
            }
        }
        let body: &[u8; 23] =
            rest.get(..23)
                .and_then(|b| b.try_into().ok())
                .ok_or(Error::TooShort {
                    what: "iBeacon",
                    need: LEN,
                    got: rest.len() + 2,
                })?;
        let mut uuid = [0; 16];
        uuid.copy_from_slice(&body[2..18]);
        Ok(IBeacon {
            uuid: Uuid(uuid),
            major: u16::from_be_bytes([body[18], body[19]]),
            minor: u16::from_be_bytes([body[20], body[21]]),
            measured_power: body[22].cast_signed(),
        })
    }

    /// Encodes the manufacturer-data value (company identifier first); returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let got = out.len();
        let dst = out.get_mut(..LEN).ok_or(Error::BufferTooSmall {
            what: "iBeacon",
            need: LEN,
            got,
        })?;
        dst[..2].copy_from_slice(&APPLE.to_le_bytes());
        dst[2..4].copy_from_slice(&PREFIX);
        dst[4..20].copy_from_slice(&self.uuid.0);
        dst[20..22].copy_from_slice(&self.major.to_be_bytes());
        dst[22..24].copy_from_slice(&self.minor.to_be_bytes());
        dst[24] = self.measured_power.cast_unsigned();
        Ok(LEN)
    }

    /// Writes a whole advertisement payload: flags, then the iBeacon structure.
    pub fn write_advertisement(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut value = [0u8; LEN];
        self.encode(&mut value)?;
        super::write_manufacturer_advertisement(&value, out)
    }
}
