//! Eddystone-EID: the rotating identifier a shopper's phone advertises.
//!
//! A phone and the gateway share a 16-byte [`IdentityKey`] and a clock, the
//! *time counter* (seconds; Aisle counts from the store's epoch, and both
//! sides must agree on it). Every 2^K seconds, K being the store's
//! [`RotationExponent`], the phone advertises a new 8-byte [`Eid`] that only a
//! holder of the identity key can link to the previous one.
//!
//! The computation follows google/eddystone `eddystone-eid/eid-computation.md`,
//! every integer big-endian and AES-128 used as a single-block cipher (ECB):
//!
//! ```text
//! temporary key = AES(identity key,  00 x11 | FF | 00 00 | time counter bits 31..16)
//! EID           = AES(temporary key, 00 x11 | K  | time counter with bits K-1..0 cleared)[0..8]
//! ```
//!
//! The temporary key changes once every 65,536 s (an *epoch*); because K is at
//! most 15, a rotation period never straddles two epochs.
//!
//! Generating an EID ([`eid_for`]) needs neither `alloc` nor `std`, so the node
//! firmware can do it too. Resolving observed EIDs back to shoppers is the job
//! of [`EidResolver`] (feature `alloc`).

use core::fmt;

use aes::Aes128Enc;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

use crate::Error;

#[cfg(feature = "alloc")]
mod resolver;
#[cfg(feature = "alloc")]
mod table;

#[cfg(feature = "alloc")]
pub use resolver::{EidResolver, PeriodOffset, Resolution};

/// The 128-bit secret a phone shares with the gateway, from which every EID
/// it will ever advertise is derived.
///
/// `Debug` (and `defmt::Format`) print `IdentityKey(..)`, never the key bytes,
/// so a key cannot leak into a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKey([u8; 16]);

impl IdentityKey {
    /// Wraps the key bytes, in the order the Eddystone specification prints
    /// them (the first byte is the first byte AES sees).
    #[must_use]
    pub const fn new(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The key bytes, for storing the enrolment. Handle them as a secret.
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    pub(crate) fn cipher(&self) -> Aes128Enc {
        cipher(&self.0)
    }
}

impl From<[u8; 16]> for IdentityKey {
    fn from(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(..)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for IdentityKey {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "IdentityKey(..)");
    }
}

/// An ephemeral identifier: the 8 bytes an Eddystone-EID frame carries.
///
/// `Display` and `Debug` print it as 16 lowercase hex digits, the form the
/// specification and its test vectors use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Eid([u8; 8]);

impl Eid {
    /// Length of an EID on the air.
    pub const LEN: usize = 8;

    /// Wraps the 8 bytes in the order they appear on the air.
    #[must_use]
    pub const fn new(bytes: [u8; 8]) -> Self {
        Self(bytes)
    }

    /// The 8 bytes in the order they appear on the air.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// The EID as one number, its first byte most significant.
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
}

impl From<[u8; 8]> for Eid {
    fn from(bytes: [u8; 8]) -> Self {
        Self(bytes)
    }
}

/// Reads an EID from a slice of exactly [`Eid::LEN`] bytes.
impl TryFrom<&[u8]> for Eid {
    type Error = Error;

    fn try_from(buf: &[u8]) -> Result<Self, Error> {
        match <[u8; 8]>::try_from(buf) {
            Ok(bytes) => Ok(Self(bytes)),
            Err(_) if buf.len() < Self::LEN => Err(Error::TooShort {
                what: "EID",
                need: Self::LEN,
                got: buf.len(),
            }),
            Err(_) => Err(Error::TooLong {
                what: "EID",
                max: Self::LEN,
                got: buf.len(),
            }),
        }
    }
}

impl fmt::Display for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Eid({self})")
    }
}

/// K: an EID rotates every 2^K seconds. Always in `0..=15`.
///
/// Deserialises from a plain number, refusing values above 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "u8", into = "u8")
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RotationExponent(u8);

impl RotationExponent {
    /// The largest exponent the specification allows: a period of about 9 hours.
    pub const MAX: u8 = 15;

    /// Checks that `k` is at most [`RotationExponent::MAX`].
    ///
    /// A larger value is reported as [`Error::InvalidValue`] with offset 0,
    /// since it does not come from a buffer.
    pub const fn new(k: u8) -> Result<Self, Error> {
        if k <= Self::MAX {
            Ok(Self(k))
        } else {
            Err(Error::InvalidValue {
                what: "EID rotation exponent",
                offset: 0,
                value: k as u32,
            })
        }
    }

    /// K itself.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The length of one rotation period, 2^K seconds.
    #[must_use]
    pub const fn period_secs(self) -> u32 {
        1 << self.0
    }

    /// The number of the period holding `time_counter` (counted from 0).
    #[must_use]
    pub const fn period(self, time_counter: u32) -> u32 {
        time_counter >> self.0
    }

    /// The first second of the period holding `time_counter`: the time
    /// counter with its K lowest bits cleared.
    #[must_use]
    pub const fn period_start(self, time_counter: u32) -> u32 {
        time_counter & (u32::MAX << self.0)
    }

    /// The first second of period number `period`, or `None` if it lies
    /// beyond the end of the 32-bit time counter.
    #[must_use]
    pub const fn start_of(self, period: u32) -> Option<u32> {
        if period <= u32::MAX >> self.0 {
            Some(period << self.0)
        } else {
            None
        }
    }
}

impl TryFrom<u8> for RotationExponent {
    type Error = Error;

    fn try_from(k: u8) -> Result<Self, Error> {
        Self::new(k)
    }
}

impl From<RotationExponent> for u8 {
    fn from(k: RotationExponent) -> u8 {
        k.0
    }
}

/// An enrolled shopper, as the gateway's store of enrolments numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ShopperId(pub u32);

/// The number of the rotation period holding `time_counter`: `time_counter >> K`.
///
/// Two times share an EID exactly when they share a period.
#[must_use]
pub const fn period(k: RotationExponent, time_counter: u32) -> u32 {
    k.period(time_counter)
}

/// The EID a phone holding `key` advertises at `time_counter` seconds.
///
/// Costs two AES key expansions and two block encryptions; nothing is
/// allocated.
#[must_use]
pub fn eid_for(key: &IdentityKey, k: RotationExponent, time_counter: u32) -> Eid {
    let temporary = temporary_key(&key.cipher(), epoch(time_counter));
    eid_with(&cipher(&temporary), k, time_counter)
}

/// The temporary-key epoch of a time: the time counter's upper 16 bits.
pub(crate) fn epoch(time_counter: u32) -> u16 {
    let [hi, lo, _, _] = time_counter.to_be_bytes();
    u16::from_be_bytes([hi, lo])
}

/// The block AES encrypts under the identity key to get the temporary key.
pub(crate) fn temporary_key_input(epoch: u16) -> [u8; 16] {
    let mut block = [0; 16];
    block[11] = 0xFF;
    block[14..].copy_from_slice(&epoch.to_be_bytes());
    block
}

/// The block AES encrypts under the temporary key to get the EID.
pub(crate) fn eid_input(k: RotationExponent, time_counter: u32) -> [u8; 16] {
    let mut block = [0; 16];
    block[11] = k.get();
    block[12..].copy_from_slice(&k.period_start(time_counter).to_be_bytes());
    block
}

pub(crate) fn cipher(key: &[u8; 16]) -> Aes128Enc {
    Aes128Enc::new(&Array::from(*key))
}

/// The temporary key of `epoch`, from the identity key's cipher.
pub(crate) fn temporary_key(identity: &Aes128Enc, epoch: u16) -> [u8; 16] {
    let mut block = Array::from(temporary_key_input(epoch));
    identity.encrypt_block(&mut block);
    block.into()
}

/// The EID of `time_counter`, from its epoch's temporary-key cipher.
pub(crate) fn eid_with(temporary: &Aes128Enc, k: RotationExponent, time_counter: u32) -> Eid {
    let mut block = Array::from(eid_input(k, time_counter));
    temporary.encrypt_block(&mut block);
    eid_of_block(&block.into())
}

/// The EID is the first half of the encrypted block.
pub(crate) fn eid_of_block(block: &[u8; 16]) -> Eid {
    let [b0, b1, b2, b3, b4, b5, b6, b7, ..] = *block;
    Eid([b0, b1, b2, b3, b4, b5, b6, b7])
}
