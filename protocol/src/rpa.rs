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
//! significant byte first unless its name says `le`; [`DeviceAddress`] (the
//! link layer's) and [`Irk`] convert from and to both orders explicitly.

use core::fmt;

use aes::Aes128Enc;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

use crate::ll::ADDRESS_LEN;
pub use crate::ll::{AddressType, DeviceAddress};

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

/// Whether `addr` has the form of a resolvable private address: a random
/// address (`TxAdd` set in the PDU header) whose top two bits are `0b01`.
/// A public address may carry any bits there.
#[must_use]
pub const fn is_resolvable(addr: DeviceAddress) -> bool {
    matches!(addr.kind, AddressType::Random) && addr.bytes[ADDRESS_LEN - 1] >> 6 == 0b01
}

/// Whether `addr` is a resolvable private address generated with `irk`.
#[must_use]
pub fn resolve(irk: &Irk, addr: DeviceAddress) -> bool {
    is_resolvable(addr) && ah(irk, addr.prand()) == addr.hash()
}
