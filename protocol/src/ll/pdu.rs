//! Advertising-channel PDUs (Core spec v5.4, Vol 6 Part B 2.3).

use super::address::{ADDRESS_LEN, AddressType, DeviceAddress};
use crate::Error;

/// Bytes in the advertising-channel PDU header: flags and type, then length
/// (Vol 6 Part B 2.3, figure 2.5).
pub const PDU_HEADER_LEN: usize = 2;

/// Largest payload of a legacy advertising PDU: `AdvA` plus 31 bytes of
/// `AdvData` (Vol 6 Part B 2.3.1).
pub const MAX_LEGACY_PAYLOAD_LEN: usize = ADDRESS_LEN + MAX_ADV_DATA_LEN;

/// Largest `AdvData` (or `ScanRspData`) a legacy PDU carries (Vol 6 Part B 2.3.1).
pub const MAX_ADV_DATA_LEN: usize = 31;

/// Bytes of `LLData` in `CONNECT_IND` (Vol 6 Part B 2.3.3.1): access address 4,
/// `CRCInit` 3, `WinSize` 1, `WinOffset` 2, interval 2, latency 2, timeout 2,
/// channel map 5, hop and sleep clock accuracy 1.
pub const CONNECT_LL_DATA_LEN: usize = 22;

// Header bits (Vol 6 Part B 2.3, figure 2.5). Bit 4 is reserved: ignored on
// receipt, sent as zero.
const TYPE_MASK: u8 = 0x0F;
const CH_SEL: u8 = 1 << 5;
const TX_ADD: u8 = 1 << 6;
const RX_ADD: u8 = 1 << 7;

/// The PDU types of the primary advertising channels (Vol 6 Part B 2.3, table 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
pub enum PduType {
    /// `ADV_IND`: connectable, scannable, undirected.
    AdvInd = 0b0000,
    /// `ADV_DIRECT_IND`: connectable, directed at one initiator.
    AdvDirectInd = 0b0001,
    /// `ADV_NONCONN_IND`: neither connectable nor scannable; most beacons.
    AdvNonconnInd = 0b0010,
    /// `SCAN_REQ`: a scanner asking for the scan response.
    ScanReq = 0b0011,
    /// `SCAN_RSP`: the advertiser's answer to `SCAN_REQ`.
    ScanRsp = 0b0100,
    /// `CONNECT_IND`: an initiator opening a connection.
    ConnectInd = 0b0101,
    /// `ADV_SCAN_IND`: scannable, not connectable.
    AdvScanInd = 0b0110,
    /// `ADV_EXT_IND`: points at an extended advertisement on a secondary
    /// channel. Its header decodes; its payload is not read here.
    AdvExtInd = 0b0111,
    /// `AUX_CONNECT_RSP`: secondary channels only. Its header decodes; its
    /// payload is not read here.
    AuxConnectRsp = 0b1000,
}

impl PduType {
    /// The 4-bit code carried in the header.
    #[must_use]
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The type a 4-bit code stands for, if any (codes 9 to 15 are reserved).
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0b0000 => Self::AdvInd,
            0b0001 => Self::AdvDirectInd,
            0b0010 => Self::AdvNonconnInd,
            0b0011 => Self::ScanReq,
            0b0100 => Self::ScanRsp,
            0b0101 => Self::ConnectInd,
            0b0110 => Self::AdvScanInd,
            0b0111 => Self::AdvExtInd,
            0b1000 => Self::AuxConnectRsp,
            _ => return None,
        })
    }
}

/// The 2-byte header of an advertising-channel PDU (Vol 6 Part B 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdvPduHeader {
    /// The PDU type.
    pub pdu_type: PduType,
    /// `ChSel`: the sender supports channel selection algorithm #2. Meaningful
    /// on `ADV_IND`, `ADV_DIRECT_IND` and `CONNECT_IND`; reserved on the others.
    pub ch_sel: bool,
    /// `TxAdd`: the type of the sender's address (`AdvA`, `ScanA` or `InitA`).
    pub tx_add: AddressType,
    /// `RxAdd`: the type of the addressed device's address, on PDUs that carry one.
    pub rx_add: AddressType,
    /// Payload length in bytes.
    pub length: u8,
}

impl AdvPduHeader {
    /// Reads the header from the first two bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, Error> {
        let &[flags, length, ..] = buf else {
            return Err(Error::TooShort {
                what: "advertising PDU header",
                need: PDU_HEADER_LEN,
                got: buf.len(),
            });
        };
        let pdu_type = PduType::from_code(flags & TYPE_MASK).ok_or(Error::InvalidValue {
            what: "PDU type",
            offset: 0,
            value: u32::from(flags & TYPE_MASK),
        })?;
        Ok(Self {
            pdu_type,
            ch_sel: flags & CH_SEL != 0,
            tx_add: AddressType::from_bit(flags & TX_ADD != 0),
            rx_add: AddressType::from_bit(flags & RX_ADD != 0),
            length,
        })
    }

    /// The header as it goes on air.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; PDU_HEADER_LEN] {
        let mut flags = self.pdu_type.code();
        if self.ch_sel {
            flags |= CH_SEL;
        }
        if self.tx_add.is_random() {
            flags |= TX_ADD;
        }
        if self.rx_add.is_random() {
            flags |= RX_ADD;
        }
        [flags, self.length]
    }

    /// Writes the header into the first two bytes of `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let got = out.len();
        let dst = out.get_mut(..PDU_HEADER_LEN).ok_or(Error::BufferTooSmall {
            what: "advertising PDU header",
            need: PDU_HEADER_LEN,
            got,
        })?;
        dst.copy_from_slice(&self.to_bytes());
        Ok(PDU_HEADER_LEN)
    }
}

/// A legacy advertising-channel PDU, borrowing its variable parts from the
/// buffer it was decoded from.
///
/// Each variant carries exactly what its payload holds (Vol 6 Part B 2.3.1 to
/// 2.3.3); the header is derived from it when encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AdvPdu<'a> {
    /// `ADV_IND`: connectable and scannable.
    AdvInd {
        /// The advertiser.
        adv_a: DeviceAddress,
        /// `AdvData`, at most [`MAX_ADV_DATA_LEN`] bytes.
        data: &'a [u8],
        /// `ChSel` from the header.
        ch_sel: bool,
    },
    /// `ADV_NONCONN_IND`: neither connectable nor scannable.
    AdvNonconnInd {
        /// The advertiser.
        adv_a: DeviceAddress,
        /// `AdvData`, at most [`MAX_ADV_DATA_LEN`] bytes.
        data: &'a [u8],
    },
    /// `ADV_SCAN_IND`: scannable, not connectable.
    AdvScanInd {
        /// The advertiser.
        adv_a: DeviceAddress,
        /// `AdvData`, at most [`MAX_ADV_DATA_LEN`] bytes.
        data: &'a [u8],
    },
    /// `SCAN_RSP`: more advertising data, sent in answer to `SCAN_REQ`.
    ScanRsp {
        /// The advertiser.
        adv_a: DeviceAddress,
        /// `ScanRspData`, at most [`MAX_ADV_DATA_LEN`] bytes.
        data: &'a [u8],
    },
    /// `ADV_DIRECT_IND`: connectable, for one initiator.
    AdvDirectInd {
        /// The advertiser.
        adv_a: DeviceAddress,
        /// The initiator it invites.
        target_a: DeviceAddress,
        /// `ChSel` from the header.
        ch_sel: bool,
    },
    /// `SCAN_REQ`.
    ScanReq {
        /// The scanner asking.
        scan_a: DeviceAddress,
        /// The advertiser asked.
        adv_a: DeviceAddress,
    },
    /// `CONNECT_IND`.
    ConnectInd {
        /// The initiator.
        init_a: DeviceAddress,
        /// The advertiser it connects to.
        adv_a: DeviceAddress,
        /// Connection parameters, not interpreted here.
        ll_data: &'a [u8; CONNECT_LL_DATA_LEN],
        /// `ChSel` from the header.
        ch_sel: bool,
    },
}

impl<'a> AdvPdu<'a> {
    /// Decodes a PDU (header and payload) from the start of `buf`.
    ///
    /// Bytes after the length the header gives are ignored, so a buffer that
    /// still holds the CRC, or a radio's fixed-size receive buffer, decodes as is.
    pub fn decode(buf: &'a [u8]) -> Result<Self, Error> {
        let header = AdvPduHeader::decode(buf)?;
        let len = usize::from(header.length);
        let payload = buf
            .get(PDU_HEADER_LEN..PDU_HEADER_LEN + len)
            .ok_or(Error::TooShort {
                what: "advertising PDU",
                need: PDU_HEADER_LEN + len,
                got: buf.len(),
            })?;
        let tx = header.tx_add;
        let rx = header.rx_add;
        match header.pdu_type {
            PduType::AdvInd | PduType::AdvNonconnInd | PduType::AdvScanInd | PduType::ScanRsp => {
                let adv_a = DeviceAddress::read(tx, payload).ok_or(Error::TooShort {
                    what: "AdvA",
                    need: PDU_HEADER_LEN + ADDRESS_LEN,
                    got: PDU_HEADER_LEN + len,
                })?;
                let data = payload.get(ADDRESS_LEN..).unwrap_or_default();
                if data.len() > MAX_ADV_DATA_LEN {
                    return Err(Error::TooLong {
                        what: "AdvData",
                        max: MAX_ADV_DATA_LEN,
                        got: data.len(),
                    });
                }
                Ok(match header.pdu_type {
                    PduType::AdvInd => Self::AdvInd {
                        adv_a,
                        data,
                        ch_sel: header.ch_sel,
                    },
                    PduType::AdvNonconnInd => Self::AdvNonconnInd { adv_a, data },
                    PduType::AdvScanInd => Self::AdvScanInd { adv_a, data },
                    _ => Self::ScanRsp { adv_a, data },
                })
            }
            PduType::AdvDirectInd => {
                let (adv_a, target_a) = two_addresses(payload, tx, rx, "ADV_DIRECT_IND length")?;
                Ok(Self::AdvDirectInd {
                    adv_a,
                    target_a,
                    ch_sel: header.ch_sel,
                })
            }
            PduType::ScanReq => {
                let (scan_a, adv_a) = two_addresses(payload, tx, rx, "SCAN_REQ length")?;
                Ok(Self::ScanReq { scan_a, adv_a })
            }
            PduType::ConnectInd => {
                let bad_len = Error::InvalidValue {
                    what: "CONNECT_IND length",
                    offset: 1,
                    value: u32::from(header.length),
                };
                let (addresses, rest) = payload.split_at_checked(2 * ADDRESS_LEN).ok_or(bad_len)?;
                let (init_a, adv_a) = two_addresses(addresses, tx, rx, "CONNECT_IND length")?;
                let ll_data = rest.try_into().map_err(|_| bad_len)?;
                Ok(Self::ConnectInd {
                    init_a,
                    adv_a,
                    ll_data,
                    ch_sel: header.ch_sel,
                })
            }
            PduType::AdvExtInd | PduType::AuxConnectRsp => Err(Error::WrongKind {
                expected: "legacy advertising PDU",
            }),
        }
    }

    /// The PDU type this value encodes as.
    #[must_use]
    pub fn pdu_type(&self) -> PduType {
        match self {
            Self::AdvInd { .. } => PduType::AdvInd,
            Self::AdvNonconnInd { .. } => PduType::AdvNonconnInd,
            Self::AdvScanInd { .. } => PduType::AdvScanInd,
            Self::ScanRsp { .. } => PduType::ScanRsp,
            Self::AdvDirectInd { .. } => PduType::AdvDirectInd,
            Self::ScanReq { .. } => PduType::ScanReq,
            Self::ConnectInd { .. } => PduType::ConnectInd,
        }
    }

    /// The advertiser: the device that sent the PDU, or for `SCAN_REQ` and
    /// `CONNECT_IND` the device being addressed.
    #[must_use]
    pub fn advertiser(&self) -> DeviceAddress {
        match *self {
            Self::AdvInd { adv_a, .. }
            | Self::AdvNonconnInd { adv_a, .. }
            | Self::AdvScanInd { adv_a, .. }
            | Self::ScanRsp { adv_a, .. }
            | Self::AdvDirectInd { adv_a, .. }
            | Self::ScanReq { adv_a, .. }
            | Self::ConnectInd { adv_a, .. } => adv_a,
        }
    }

    /// The advertising (or scan response) data; empty for PDUs that carry none.
    #[must_use]
    pub fn adv_data(&self) -> &'a [u8] {
        match *self {
            Self::AdvInd { data, .. }
            | Self::AdvNonconnInd { data, .. }
            | Self::AdvScanInd { data, .. }
            | Self::ScanRsp { data, .. } => data,
            Self::AdvDirectInd { .. } | Self::ScanReq { .. } | Self::ConnectInd { .. } => &[],
        }
    }

    /// The header this PDU encodes with.
    pub fn header(&self) -> Result<AdvPduHeader, Error> {
        let data = self.adv_data();
        if data.len() > MAX_ADV_DATA_LEN {
            return Err(Error::TooLong {
                what: "AdvData",
                max: MAX_ADV_DATA_LEN,
                got: data.len(),
            });
        }
        // What follows the first address: the data, a second address, or a
        // second address and `LLData`.
        let (tx_add, rx_add, ch_sel, after_first) = match *self {
            Self::AdvInd { adv_a, ch_sel, .. } => {
                (adv_a.kind, AddressType::Public, ch_sel, data.len())
            }
            Self::AdvNonconnInd { adv_a, .. }
            | Self::AdvScanInd { adv_a, .. }
            | Self::ScanRsp { adv_a, .. } => (adv_a.kind, AddressType::Public, false, data.len()),
            Self::AdvDirectInd {
                adv_a,
                target_a,
                ch_sel,
            } => (adv_a.kind, target_a.kind, ch_sel, ADDRESS_LEN),
            Self::ScanReq { scan_a, adv_a } => (scan_a.kind, adv_a.kind, false, ADDRESS_LEN),
            Self::ConnectInd {
                init_a,
                adv_a,
                ch_sel,
                ..
            } => (
                init_a.kind,
                adv_a.kind,
                ch_sel,
                ADDRESS_LEN + CONNECT_LL_DATA_LEN,
            ),
        };
        // At most 6 + 31 bytes, so the length always fits its byte.
        let payload_len = ADDRESS_LEN + after_first;
        let length = u8::try_from(payload_len).map_err(|_| Error::TooLong {
            what: "advertising PDU payload",
            max: MAX_LEGACY_PAYLOAD_LEN,
            got: payload_len,
        })?;
        Ok(AdvPduHeader {
            pdu_type: self.pdu_type(),
            ch_sel,
            tx_add,
            rx_add,
            length,
        })
    }

    /// Encodes header and payload into `out`, returning the bytes written.
    /// The CRC is not included; see [`append_crc24`](super::append_crc24).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let header = self.header()?;
        let total = PDU_HEADER_LEN + usize::from(header.length);
        let got = out.len();
        let dst = out.get_mut(..total).ok_or(Error::BufferTooSmall {
            what: "advertising PDU",
            need: total,
            got,
        })?;
        let (first, second, rest): (&DeviceAddress, Option<&DeviceAddress>, &[u8]) = match self {
            Self::AdvInd { adv_a, data, .. }
            | Self::AdvNonconnInd { adv_a, data }
            | Self::AdvScanInd { adv_a, data }
            | Self::ScanRsp { adv_a, data } => (adv_a, None, data),
            Self::AdvDirectInd {
                adv_a, target_a, ..
            } => (adv_a, Some(target_a), &[]),
            Self::ScanReq { scan_a, adv_a } => (scan_a, Some(adv_a), &[]),
            Self::ConnectInd {
                init_a,
                adv_a,
                ll_data,
                ..
            } => (init_a, Some(adv_a), ll_data.as_slice()),
        };
        let second = second.map_or(&[][..], |a| &a.bytes[..]);
        let parts: [&[u8]; 4] = [&header.to_bytes(), &first.bytes, second, rest];
        let mut at = 0;
        for part in parts {
            // `total` was computed from these same parts, so each fits.
            if let Some(slot) = dst.get_mut(at..at + part.len()) {
                slot.copy_from_slice(part);
            }
            at += part.len();
        }
        Ok(total)
    }
}

/// Reads a payload of exactly two addresses: the sender's (typed by `TxAdd`)
/// then the addressed device's (typed by `RxAdd`).
fn two_addresses(
    payload: &[u8],
    tx: AddressType,
    rx: AddressType,
    what: &'static str,
) -> Result<(DeviceAddress, DeviceAddress), Error> {
    let bad_len = Error::InvalidValue {
        what,
        offset: 1,
        value: u32::try_from(payload.len()).unwrap_or(u32::MAX),
    };
    if payload.len() != 2 * ADDRESS_LEN {
        return Err(bad_len);
    }
    let (first, second) = payload.split_at(ADDRESS_LEN);
    match (
        DeviceAddress::read(tx, first),
        DeviceAddress::read(rx, second),
    ) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(bad_len),
    }
}
