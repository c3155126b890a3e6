//! Advertising-channel PDUs: decode, re-encode, decode again, compare; and
//! CRC-24 checking never panics.
#![no_main]

use aisle_protocol::ll::{ADV_CRC_INIT, AdvPdu, check_crc24};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_crc24(ADV_CRC_INIT, data);
    let Ok(pdu) = AdvPdu::decode(data) else {
        return;
    };
    let mut out = [0u8; 64];
    let n = pdu.encode(&mut out).expect("a decoded PDU re-encodes");
    let again = AdvPdu::decode(&out[..n]).expect("a re-encoded PDU decodes");
    assert_eq!(again, pdu);
});
