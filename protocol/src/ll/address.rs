//! Device addresses (Core spec v5.4, Vol 6 Part B 1.3).

use core::fmt;

/// Bytes in a device address (Vol 6 Part B 1.3).
pub const ADDRESS_LEN: usize = 6;

/// Whether a device address is the public (IEEE-assigned) one or a random one.
///
/// Carried by the `TxAdd` and `RxAdd` header bits: 0 public, 1 random.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AddressType {
    /// A public address.
    Public,
    /// A random address: static, resolvable private or non-resolvable private.
    Random,
}

impl AddressType {
    pub(super) fn from_bit(set: bool) -> Self {
        if set { Self::Random } else { Self::Public }
    }

    pub(super) fn is_random(self) -> bool {
        self == Self::Random
    }
}

/// A device address and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeviceAddress {
    /// Public or random.
    pub kind: AddressType,
    /// The address in air order: least significant byte first, so
    /// `AA:BB:CC:DD:EE:FF` is `[0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA]`.
    pub bytes: [u8; ADDRESS_LEN],
}

impl DeviceAddress {
    pub(super) fn read(kind: AddressType, buf: &[u8]) -> Option<Self> {
        let bytes = buf.get(..ADDRESS_LEN)?.try_into().ok()?;
        Some(Self { kind, bytes })
    }

    /// From bytes least significant first, as the address travels in an
    /// advertising PDU (`AdvA`) and over HCI.
    #[must_use]
    pub const fn from_le_bytes(kind: AddressType, bytes: [u8; ADDRESS_LEN]) -> Self {
        Self { kind, bytes }
    }

    /// From bytes most significant first, as the address is printed.
    #[must_use]
    pub const fn from_be_bytes(kind: AddressType, be: [u8; ADDRESS_LEN]) -> Self {
        let [b0, b1, b2, b3, b4, b5] = be;
        Self {
            kind,
            bytes: [b5, b4, b3, b2, b1, b0],
        }
    }

    /// Reads the address from the first six bytes of `buf`, least
    /// significant byte first.
    pub fn decode_le(kind: AddressType, buf: &[u8]) -> Result<Self, crate::Error> {
        Self::read(kind, buf).ok_or(crate::Error::TooShort {
            what: "device address",
            need: ADDRESS_LEN,
            got: buf.len(),
        })
    }

    /// The bytes most significant first.
    #[must_use]
    pub const fn to_be_bytes(self) -> [u8; ADDRESS_LEN] {
        let [b0, b1, b2, b3, b4, b5] = self.bytes;
        [b5, b4, b3, b2, b1, b0]
    }

    /// The upper 24 bits, most significant byte first: `prand` in a
    /// resolvable private address.
    #[must_use]
    pub const fn prand(self) -> [u8; 3] {
        let [.., d, e, f] = self.bytes;
        [f, e, d]
    }

    /// The lower 24 bits, most significant byte first: `hash` in a
    /// resolvable private address.
    #[must_use]
    pub const fn hash(self) -> [u8; 3] {
        let [a, b, c, ..] = self.bytes;
        [c, b, a]
    }
}

impl fmt::Display for DeviceAddress {
    /// The usual notation, most significant byte first: `AA:BB:CC:DD:EE:FF`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [b0, b1, b2, b3, b4, b5] = self.bytes;
        write!(f, "{b5:02X}:{b4:02X}:{b3:02X}:{b2:02X}:{b1:02X}:{b0:02X}")
    }
}
