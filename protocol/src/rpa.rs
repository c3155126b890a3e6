//! Resolvable private addresses: recognising a phone that hides behind a
//! changing random Bluetooth address, given its identity resolving key (IRK).
//!
//! Core spec Vol 6 Part B 1.3.2.2: a resolvable private address is 48 bits,
//! `prand` in the upper 24 (its top two bits `0b01`) and
//! `hash = ah(IRK, prand)` in the lower 24. The hash function `ah` is
//! Vol 3 Part H 2.2.2: the low 24 bits of `AES-128(IRK, 0^104 || prand)`.
//!
//! # Byte order
//!
//! The specification writes keys, addresses and hashes as numbers, most
//! significant byte first (`70:81:94:0D:FB:AA`), and its function `e` feeds
//! AES the most significant byte first. The air interface and HCI carry the
//! same values least significant byte first. Here every `[u8; N]` is most
//! significant byte first unless its name says `le`; [`DeviceAddress`] and
//! [`Irk`] convert from and to both orders explicitly.

use core::fmt;

use aes::Aes128Enc;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

use crate::Error;

/// A 48-bit Bluetooth device address.
///
/// `Display` prints the usual `70:81:94:0D:FB:AA`, most significant byte
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceAddress {
    /// Most significant byte first.
    be: [u8; 6],
}

impl DeviceAddress {
    /// Length of an address on the air.
    pub const LEN: usize = 6;

    /// From bytes most significant first, as the address is printed.
    #[must_use]
    pub const fn from_be_bytes(be: [u8; 6]) -> Self {
        Self { be }
    }

    /// From bytes least significant first, as the address travels in an
    /// advertising PDU (`AdvA`) and over HCI.
    #[must_use]
    pub const fn from_le_bytes(le: [u8; 6]) -> Self {
        let [b0, b1, b2, b3, b4, b5] = le;
        Self {
            be: [b5, b4, b3, b2, b1, b0],
        }
    }

    /// Reads the address from the first six bytes of `buf`, least
    /// significant byte first, as the `AdvA` field of an advertising PDU
    /// carries it.
    pub fn decode_le(buf: &[u8]) -> Result<Self, Error> {
        match buf.first_chunk::<6>() {
            Some(le) => Ok(Self::from_le_bytes(*le)),
            None => Err(Error::TooShort {
                what: "device address",
                need: Self::LEN,
                got: buf.len(),
            }),
        }
    }

    /// The bytes most significant first.
    #[must_use]
    pub const fn to_be_bytes(self) -> [u8; 6] {
        self.be
    }

    /// The bytes least significant first, as on the air.
    #[must_use]
    pub const fn to_le_bytes(self) -> [u8; 6] {
        let [b0, b1, b2, b3, b4, b5] = self.be;
        [b5, b4, b3, b2, b1, b0]
    }

    /// The upper 24 bits, most significant byte first: `prand` in a
    /// resolvable private address.
    #[must_use]
    pub const fn prand(self) -> [u8; 3] {
        let [a, b, c, ..] = self.be;
        [a, b, c]
    }

    /// The lower 24 bits, most significant byte first: `hash` in a
    /// resolvable private address.
    #[must_use]
    pub const fn hash(self) -> [u8; 3] {
        let [.., d, e, f] = self.be;
        [d, e, f]
    }
}

impl fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [b0, b1, b2, b3, b4, b5] = self.be;
        write!(f, "{b0:02X}:{b1:02X}:{b2:02X}:{b3:02X}:{b4:02X}:{b5:02X}")
    }
}

/// An identity resolving key, distributed by a phone when it bonds.
///
/// `Debug` (and `defmt::Format`) print `Irk(..)`, never the key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Irk {
    /// Most significant byte first: AES's first key byte.
    be: [u8; 16],
}

impl Irk {
    /// From bytes most significant first, as the specification prints keys
    /// (Vol 3 Part H Appendix D: `ec0234a3 57c8ad05 ...`).
    #[must_use]
    pub const fn from_be_bytes(be: [u8; 16]) -> Self {
        Self { be }
    }

    /// From bytes least significant first, as SMP's Identity Information
    /// and HCI commands carry the key.
    #[must_use]
    pub const fn from_le_bytes(le: [u8; 16]) -> Self {
        Self { be: reversed(le) }
    }

    /// The key bytes most significant first. Handle them as a secret.
    #[must_use]
    pub const fn to_be_bytes(&self) -> [u8; 16] {
        self.be
    }

    /// The key bytes least significant first. Handle them as a secret.
    #[must_use]
    pub const fn to_le_bytes(&self) -> [u8; 16] {
        reversed(self.be)
    }
}

const fn reversed(bytes: [u8; 16]) -> [u8; 16] {
    let mut out = [0; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = bytes[15 - i];
        i += 1;
    }
    out
}

impl fmt::Debug for Irk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Irk(..)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Irk {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Irk(..)");
    }
}

/// The random address hash function `ah` (Vol 3 Part H 2.2.2): the low 24
/// bits of AES-128 under `irk` of `prand` padded with 104 zero bits.
///
/// `prand` and the result are most significant byte first.
#[must_use]
pub fn ah(irk: &Irk, prand: [u8; 3]) -> [u8; 3] {
    let mut block = Array::from([0; 16]);
    block[13..].copy_from_slice(&prand);
    Aes128Enc::new(&Array::from(irk.be)).encrypt_block(&mut block);
    let [.., a, b, c] = <[u8; 16]>::from(block);
    [a, b, c]
}

/// Whether `addr` has the form of a resolvable private address: the top two
/// bits of its most significant byte are `0b01`.
///
/// Only meaningful for a random address (`TxAdd` set in the PDU header); a
/// public address may carry any bits.
#[must_use]
pub const fn is_resolvable(addr: DeviceAddress) -> bool {
    addr.be[0] >> 6 == 0b01
}

/// Whether `addr` is a resolvable private address generated with `irk`.
#[must_use]
pub fn resolve(irk: &Irk, addr: DeviceAddress) -> bool {
    is_resolvable(addr) && ah(irk, addr.prand()) == addr.hash()
}
