//! The BLE link layer as a raw radio sees it (Core spec v5.4, Vol 6 Part B).
//!
//! The nRF52840's radio does CRC and whitening in hardware, so the node only
//! needs [`AdvPdu`]; the rest serves the gateway's software radios, capture
//! replay and the simulator, which see packets as bytes on air.
//!
//! A legacy advertising packet, in air order (every field least significant
//! byte first, every byte least significant bit first):
//!
//! | field | bytes | notes |
//! |---|---|---|
//! | preamble | 1 | not seen by software |
//! | access address | 4 | `0x8E89BED6` on advertising channels |
//! | PDU header | 2 | type, `ChSel`, `TxAdd`, `RxAdd`; payload length ([`AdvPduHeader`]) |
//! | PDU payload | 0..=37 | `AdvA` and `AdvData`, or addresses ([`AdvPdu`]) |
//! | CRC | 3 | CRC-24 over header and payload ([`crc24`]) |
//!
//! Whitening ([`whiten`]) covers the PDU and the CRC; it is applied last when
//! sending and undone first when receiving.

mod address;
mod pdu;
mod radio;

pub use address::{ADDRESS_LEN, AddressType, DeviceAddress};
pub use pdu::{
    AdvPdu, AdvPduHeader, CONNECT_LL_DATA_LEN, MAX_ADV_DATA_LEN, MAX_LEGACY_PAYLOAD_LEN,
    PDU_HEADER_LEN, PduType,
};
pub use radio::{ADV_CRC_INIT, CRC_LEN, Channel, append_crc24, check_crc24, crc24, whiten};
