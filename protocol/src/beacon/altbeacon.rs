//! AltBeacon (AltBeacon/spec): manufacturer data
//! `mfg id (LE) | be ac | beacon id (20) | reference rssi | reserved`.

use crate::Error;
use crate::ad::Uuid;

/// The beacon code that marks an AltBeacon, as it appears on air.
const CODE: [u8; 2] = [0xBE, 0xAC];
/// Manufacturer data length, company identifier included.
pub const LEN: usize = 26;

/// An AltBeacon advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AltBeacon {
    /// The advertiser's company identifier.
    pub manufacturer: u16,
    /// The 20-byte beacon identifier; by convention a UUID then two 16-bit numbers.
    #[cfg_attr(feature = "serde", serde(with = "crate::hex_serde"))]
    pub id: [u8; 20],
    /// Average RSSI at 1 m in dBm.
    pub reference_rssi: i8,
    /// The manufacturer-reserved byte.
    pub reserved: u8,
}

impl AltBeacon {
    /// The first 16 bytes of the identifier read as a UUID (`id1` by convention).
    #[must_use]
    pub fn id1(&self) -> Uuid {
        let mut u = [0; 16];
        u.copy_from_slice(&self.id[..16]);
        Uuid(u)
    }

    /// Bytes 16..18 of the identifier, big-endian (`id2` by convention).
    #[must_use]
    pub fn id2(&self) -> u16 {
        u16::from_be_bytes([self.id[16], self.id[17]])
    }

    /// Bytes 18..20 of the identifier, big-endian (`id3` by convention).
    #[must_use]
    pub fn id3(&self) -> u16 {
        u16::from_be_bytes([self.id[18], self.id[19]])
    }

    /// Decodes the value of a manufacturer-data structure (company identifier first).
    pub fn decode(mfg: &[u8]) -> Result<Self, Error> {
        match mfg.get(2..4) {
            Some(c) if c == CODE => {}
            _ => {
                return Err(Error::WrongKind {
                    expected: "AltBeacon",
                });
            }
        }
        let body: &[u8; LEN] =
            mfg.get(..LEN)
                .and_then(|b| b.try_into().ok())
                .ok_or(Error::TooShort {
                    what: "AltBeacon",
                    need: LEN,
                    got: mfg.len(),
                })?;
        let mut id = [0; 20];
        id.copy_from_slice(&body[4..24]);
        Ok(AltBeacon {
            manufacturer: u16::from_le_bytes([body[0], body[1]]),
            id,
            reference_rssi: body[24].cast_signed(),
            reserved: body[25],
        })
    }

    /// Encodes the manufacturer-data value (company identifier first); returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let got = out.len();
        let dst = out.get_mut(..LEN).ok_or(Error::BufferTooSmall {
            what: "AltBeacon",
            need: LEN,
            got,
        })?;
        dst[..2].copy_from_slice(&self.manufacturer.to_le_bytes());
        dst[2..4].copy_from_slice(&CODE);
        dst[4..24].copy_from_slice(&self.id);
        dst[24] = self.reference_rssi.cast_unsigned();
        dst[25] = self.reserved;
        Ok(LEN)
    }

    /// Writes a whole advertisement payload: flags, then the AltBeacon structure.
    pub fn write_advertisement(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut value = [0u8; LEN];
        self.encode(&mut value)?;
        super::write_manufacturer_advertisement(&value, out)
    }
}
