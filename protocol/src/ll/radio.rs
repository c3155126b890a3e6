//! What happens to a PDU between the link layer and the antenna: the RF
//! channel it goes out on, its CRC-24 and its whitening (Core spec v5.4,
//! Vol 6 Part A 2 and Part B 3.1).

use core::fmt;

use crc::{CRC_24_BLE, Crc};

use crate::Error;

/// Bytes of CRC after every PDU (Vol 6 Part B 2.1).
pub const CRC_LEN: usize = 3;

/// The CRC-24 preset on the primary advertising channels (Vol 6 Part B
/// 3.1.1). Data channels use the `CRCInit` the initiator sent in `CONNECT_IND`.
pub const ADV_CRC_INIT: u32 = 0x55_5555;

// The catalog's CRC-24/BLE is the spec's LFSR (polynomial 0x00065B) in its
// reflected form: data bits go in least significant first, and the
// register's position 23, which the spec sends first, ends up in bit 0 of the
// result. The result's little-endian bytes are therefore the air order.
// `digest_with_initial` reflects a custom preset the same way as the
// catalog's 0x555555, so a data channel's `CRCInit` is passed as the spec
// writes it. Both facts are checked against a bit-by-bit LFSR in tests/ll.rs.
const CRC24: Crc<u32> = Crc::<u32>::new(&CRC_24_BLE);

/// Only 24 bits of a preset exist.
const CRC24_MASK: u32 = 0xFF_FFFF;

/// The CRC-24 of `pdu` (header and payload) with the given preset, as the
/// three bytes that follow the PDU on air.
///
/// Use [`ADV_CRC_INIT`] on advertising channels and the connection's
/// `CRCInit` on data channels; bits above the 24th are ignored.
#[must_use]
pub fn crc24(init: u32, pdu: &[u8]) -> [u8; CRC_LEN] {
    let mut digest = CRC24.digest_with_initial(init & CRC24_MASK);
    digest.update(pdu);
    let [b0, b1, b2, _] = digest.finalize().to_le_bytes();
    [b0, b1, b2]
}

/// Writes the CRC-24 of `buf[..pdu_len]` right after it and returns the length
/// of PDU and CRC together.
pub fn append_crc24(init: u32, buf: &mut [u8], pdu_len: usize) -> Result<usize, Error> {
    let total = pdu_len.saturating_add(CRC_LEN);
    let got = buf.len();
    let packet = buf.get_mut(..total).ok_or(Error::BufferTooSmall {
        what: "PDU and CRC",
        need: total,
        got,
    })?;
    let (pdu, crc) = packet.split_at_mut(pdu_len);
    crc.copy_from_slice(&crc24(init, pdu));
    Ok(total)
}

/// Checks the CRC-24 that ends `packet` and returns the PDU before it.
pub fn check_crc24(init: u32, packet: &[u8]) -> Result<&[u8], Error> {
    let split = packet.len().checked_sub(CRC_LEN).ok_or(Error::TooShort {
        what: "PDU and CRC",
        need: CRC_LEN,
        got: packet.len(),
    })?;
    let (pdu, carried) = packet.split_at(split);
    let computed = crc24(init, pdu);
    if carried == computed {
        Ok(pdu)
    } else {
        let as_u32 = |b: &[u8]| {
            b.iter()
                .rev()
                .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte))
        };
        Err(Error::Checksum {
            what: "CRC-24",
            carried: as_u32(carried),
            computed: as_u32(&computed),
        })
    }
}

/// A BLE channel index, 0 to 39 (Vol 6 Part B 1.4.1): 0 to 36 are data
/// channels, 37 to 39 the primary advertising channels.
///
/// Indices are not in frequency order: the advertising channels sit at both
/// ends and in a gap in the middle of the band, away from the Wi-Fi channels
/// 1, 6 and 11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "u8", into = "u8")
)]
pub struct Channel(u8);

impl Channel {
    /// Advertising channel 37, 2402 MHz.
    pub const ADV_37: Self = Self(37);
    /// Advertising channel 38, 2426 MHz.
    pub const ADV_38: Self = Self(38);
    /// Advertising channel 39, 2480 MHz.
    pub const ADV_39: Self = Self(39);
    /// The three primary advertising channels, in the order advertisers use them.
    pub const ADVERTISING: [Self; 3] = [Self::ADV_37, Self::ADV_38, Self::ADV_39];

    /// The channel with this index.
    pub const fn new(index: u8) -> Result<Self, Error> {
        if index <= 39 {
            Ok(Self(index))
        } else {
            Err(Error::InvalidValue {
                what: "channel index",
                offset: 0,
                value: index as u32,
            })
        }
    }

    /// The channel index, 0 to 39.
    #[must_use]
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Whether this is one of the primary advertising channels 37, 38, 39.
    #[must_use]
    pub const fn is_advertising(self) -> bool {
        self.0 >= 37
    }

    /// Centre frequency in MHz (Vol 6 Part B 1.4.1, table 1.2): RF channel
    /// `k` is at 2402 + 2k MHz, and advertising channels take RF channels 0,
    /// 12 and 39.
    #[must_use]
    pub const fn frequency_mhz(self) -> u16 {
        let rf = match self.0 {
            37 => 0,
            38 => 12,
            39 => 39,
            data @ 0..=10 => data + 1,
            data => data + 2,
        };
        2402 + 2 * rf as u16
    }

    /// The channel centred on `mhz`, if any.
    pub fn from_frequency_mhz(mhz: u16) -> Result<Self, Error> {
        let invalid = Error::InvalidValue {
            what: "BLE channel frequency (MHz)",
            offset: 0,
            value: u32::from(mhz),
        };
        let offset = mhz.checked_sub(2402).ok_or(invalid)?;
        if offset % 2 != 0 || offset > 78 {
            return Err(invalid);
        }
        let rf = u8::try_from(offset / 2).map_err(|_| invalid)?;
        Ok(Self(match rf {
            0 => 37,
            12 => 38,
            39 => 39,
            1..=11 => rf - 1,
            _ => rf - 2,
        }))
    }
}

impl TryFrom<u8> for Channel {
    type Error = Error;

    fn try_from(index: u8) -> Result<Self, Error> {
        Self::new(index)
    }
}

impl From<Channel> for u8 {
    fn from(channel: Channel) -> u8 {
        channel.0
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {} ({} MHz)", self.0, self.frequency_mhz())
    }
}

/// Whitens or de-whitens `buf` in place for `channel` (Vol 6 Part B 3.2):
/// XORs it with the output of the 7-bit LFSR x^7 + x^4 + 1, preset to 1 in
/// position 0 and the channel index in positions 1 (most significant bit) to
/// 6. The operation is its own inverse.
///
/// `buf` is the PDU followed by its CRC, in air order; bits are taken least
/// significant first, as they go on air.
pub fn whiten(channel: Channel, buf: &mut [u8]) {
    // Bit `6 - p` of `lfsr` holds position `p`, so the channel index (MSB in
    // position 1) drops in unreversed and position 6, the output, is bit 0.
    let mut lfsr: u8 = 0x40 | channel.0;
    for byte in buf {
        for bit in 0..8 {
            let out = lfsr & 1;
            // Shift every position up by one (a right shift here). The output
            // feeds back into position 0 (bit 6) and into position 4 (bit 2)
            // by way of the x^4 tap.
            lfsr >>= 1;
            if out == 1 {
                lfsr ^= 0x44;
                *byte ^= 1 << bit;
            }
        }
    }
}
