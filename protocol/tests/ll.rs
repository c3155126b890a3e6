//! Link layer: spec vectors, independent bit-level models of the CRC and the
//! whitening, and round-trip and robustness properties.

use aisle_protocol::Error;
use aisle_protocol::ll::{
    ADV_CRC_INIT, AddressType, AdvPdu, AdvPduHeader, CONNECT_LL_DATA_LEN, Channel, DeviceAddress,
    MAX_ADV_DATA_LEN, PduType, append_crc24, check_crc24, crc24, whiten,
};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// CRC-24 vectors: PDUs and the 3 CRC bytes that follow them in a
// LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR capture, from Scapy's bluetooth4LE tests
// (via /work/shared/vectors/README.md).
const CRC_VECTOR_EMPTY_ADV_IND: (&str, [u8; 3]) = ("0006000000000000", [0x5a, 0x39, 0x60]);
const CRC_VECTOR_IPHONE_ADV_IND: (&str, [u8; 3]) = (
    "40144d955016fe7602011a0aff4c0010050b1c0ea836",
    [0x5a, 0xf0, 0x04],
);

// The first 8 whitening bytes (the whitening of zeros) for channels 0, 37
// and 38: rows 0, 37 and 38 of the `whitening_word` table in
// kgat96/ubermini, firmware/v2pro3_ble/ble.c, read as little-endian u32
// words. A third-party precomputed table, not a spec vector; it agrees with
// the spec model below.
const WHITENING_CH0: [u8; 8] = [0x40, 0xb2, 0xbc, 0xc3, 0x1f, 0x37, 0x4a, 0x5f];
const WHITENING_CH37: [u8; 8] = [0x8d, 0xd2, 0x57, 0xa1, 0x3d, 0xa7, 0x66, 0xb0];
const WHITENING_CH38: [u8; 8] = [0xd6, 0xc5, 0x44, 0x20, 0x59, 0xde, 0xe1, 0x8f];

/// The CRC exactly as Vol 6 Part B 3.1.1 draws it: a 24-position register,
/// preset with position 0 = the preset's LSB, data bits in LSB first, the
/// feedback (data bit xor position 23) entering position 0 and added into
/// positions 1, 3, 4, 6, 9, 10; sent from position 23 down to position 0.
fn spec_crc24(init: u32, pdu: &[u8]) -> [u8; 3] {
    let mut pos = [false; 24];
    for (i, p) in pos.iter_mut().enumerate() {
        *p = init >> i & 1 == 1;
    }
    for byte in pdu {
        for bit in 0..8 {
            let feedback = (byte >> bit & 1 == 1) ^ pos[23];
            for i in (1..24).rev() {
                pos[i] = pos[i - 1];
            }
            pos[0] = feedback;
            for tap in [1, 3, 4, 6, 9, 10] {
                pos[tap] ^= feedback;
            }
        }
    }
    // On air, bit n of the CRC field is position 23 - n; bytes go LSB first.
    let mut out = [0u8; 3];
    for n in 0..24 {
        if pos[23 - n] {
            out[n / 8] |= 1 << (n % 8);
        }
    }
    out
}

/// Whitening exactly as Vol 6 Part B 3.2 draws it: 7 positions, position 0
/// preset to 1 and positions 1..=6 to the channel index MSB first; each bit,
/// position 6 is the output, added (xor) to the data; every position shifts
/// up one, position 6 feeds position 0 and is added into position 4.
fn spec_whitening(channel: u8, len: usize) -> Vec<u8> {
    let mut pos = [false; 7];
    pos[0] = true;
    for (i, p) in pos.iter_mut().enumerate().skip(1) {
        *p = channel >> (6 - i) & 1 == 1;
    }
    let mut out = vec![0u8; len];
    for byte in &mut out {
        for bit in 0..8 {
            let x7 = pos[6];
            if x7 {
                *byte |= 1 << bit;
            }
            let next = [x7, pos[0], pos[1], pos[2], pos[3] ^ x7, pos[4], pos[5]];
            pos = next;
        }
    }
    out
}

#[test]
fn crc24_vector_empty_adv_ind() {
    let (pdu, crc) = CRC_VECTOR_EMPTY_ADV_IND;
    assert_eq!(crc24(ADV_CRC_INIT, &hex(pdu)), crc);
    assert_eq!(spec_crc24(ADV_CRC_INIT, &hex(pdu)), crc);
}

#[test]
fn crc24_vector_iphone_adv_ind() {
    let (pdu, crc) = CRC_VECTOR_IPHONE_ADV_IND;
    assert_eq!(crc24(ADV_CRC_INIT, &hex(pdu)), crc);
    assert_eq!(spec_crc24(ADV_CRC_INIT, &hex(pdu)), crc);
}

#[test]
fn crc24_append_and_check() {
    let (pdu, crc) = CRC_VECTOR_IPHONE_ADV_IND;
    let pdu = hex(pdu);
    let mut buf = [0u8; 64];
    buf[..pdu.len()].copy_from_slice(&pdu);
    let n = append_crc24(ADV_CRC_INIT, &mut buf, pdu.len()).unwrap();
    assert_eq!(n, pdu.len() + 3);
    assert_eq!(buf[pdu.len()..n], crc);
    assert_eq!(check_crc24(ADV_CRC_INIT, &buf[..n]).unwrap(), &pdu[..]);

    let mut small = [0u8; 4];
    assert!(matches!(
        append_crc24(ADV_CRC_INIT, &mut small, 2),
        Err(Error::BufferTooSmall { need: 5, .. })
    ));
    assert!(matches!(
        check_crc24(ADV_CRC_INIT, &[1, 2]),
        Err(Error::TooShort { .. })
    ));
}

#[test]
fn crc24_flipped_bit_is_caught() {
    let (pdu, crc) = CRC_VECTOR_IPHONE_ADV_IND;
    let mut packet = hex(pdu);
    packet.extend_from_slice(&crc);
    for bit in 0..packet.len() * 8 {
        let mut bad = packet.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            matches!(check_crc24(ADV_CRC_INIT, &bad), Err(Error::Checksum { .. })),
            "bit {bit}"
        );
    }
}

#[test]
fn whitening_matches_spec_model_and_published_table() {
    for (channel, table) in [
        (0, WHITENING_CH0),
        (37, WHITENING_CH37),
        (38, WHITENING_CH38),
    ] {
        let mut zeros = [0u8; 8];
        whiten(Channel::new(channel).unwrap(), &mut zeros);
        assert_eq!(zeros, table, "channel {channel}");
        assert_eq!(
            spec_whitening(channel, 8),
            table,
            "model, channel {channel}"
        );
    }
}

#[test]
fn whitening_of_zeros_on_channel_37_is_the_lfsr_sequence() {
    // 40 bytes: the longest legacy PDU (39) and more, so the 127-bit period
    // of the LFSR wraps and is checked too.
    let mut buf = [0u8; 40];
    whiten(Channel::ADV_37, &mut buf);
    assert_eq!(buf.to_vec(), spec_whitening(37, 40));
}

#[test]
fn whitening_every_channel_matches_model() {
    for index in 0..=39 {
        let mut buf = [0u8; 48];
        whiten(Channel::new(index).unwrap(), &mut buf);
        assert_eq!(buf.to_vec(), spec_whitening(index, 48), "channel {index}");
    }
}

#[test]
fn whitened_capture_dewhitens_and_passes_crc() {
    let (pdu, crc) = CRC_VECTOR_IPHONE_ADV_IND;
    let mut packet = hex(pdu);
    packet.extend_from_slice(&crc);
    let clear = packet.clone();
    whiten(Channel::ADV_37, &mut packet);
    assert_ne!(packet, clear);
    whiten(Channel::ADV_37, &mut packet);
    let pdu = check_crc24(ADV_CRC_INIT, &packet).unwrap();
    assert_eq!(AdvPdu::decode(pdu).unwrap().pdu_type(), PduType::AdvInd);
}

#[test]
fn channel_frequencies() {
    let cases = [
        (37, 2402),
        (0, 2404),
        (10, 2424),
        (38, 2426),
        (11, 2428),
        (36, 2478),
        (39, 2480),
    ];
    for (index, mhz) in cases {
        let channel = Channel::new(index).unwrap();
        assert_eq!(channel.frequency_mhz(), mhz, "channel {index}");
        assert_eq!(Channel::from_frequency_mhz(mhz).unwrap(), channel);
    }
    let mut seen = std::collections::BTreeSet::new();
    for index in 0..=39 {
        let channel = Channel::new(index).unwrap();
        let mhz = channel.frequency_mhz();
        assert!(seen.insert(mhz), "{mhz} MHz used twice");
        assert_eq!(Channel::from_frequency_mhz(mhz).unwrap(), channel);
        assert_eq!(channel.is_advertising(), index >= 37);
    }
    for mhz in [0, 2400, 2401, 2403, 2482, u16::MAX] {
        assert!(Channel::from_frequency_mhz(mhz).is_err(), "{mhz}");
    }
    assert!(Channel::new(40).is_err());
}

#[test]
fn iphone_adv_ind_decodes() {
    let pdu = hex(CRC_VECTOR_IPHONE_ADV_IND.0);
    let adv = AdvPdu::decode(&pdu).unwrap();
    let AdvPdu::AdvInd {
        adv_a,
        data,
        ch_sel,
    } = adv
    else {
        panic!("{adv:?}");
    };
    assert!(!ch_sel);
    assert_eq!(adv_a.kind, AddressType::Random);
    assert_eq!(adv_a.to_string(), "76:FE:16:50:95:4D");
    assert_eq!(data, &hex("02011a0aff4c0010050b1c0ea836")[..]);
    assert_eq!(adv.advertiser(), adv_a);
    assert_eq!(adv.adv_data(), data);

    let mut out = [0u8; 39];
    let n = adv.encode(&mut out).unwrap();
    assert_eq!(&out[..n], &pdu[..]);
}

#[test]
fn decode_ignores_trailing_crc_but_not_missing_bytes() {
    let (pdu, crc) = CRC_VECTOR_EMPTY_ADV_IND;
    let mut packet = hex(pdu);
    packet.extend_from_slice(&crc);
    assert!(AdvPdu::decode(&packet).is_ok());
    assert!(matches!(
        AdvPdu::decode(&packet[..5]),
        Err(Error::TooShort { need: 8, .. })
    ));
}

#[test]
fn decode_rejects_bad_pdus() {
    // Reserved PDU type.
    assert!(matches!(
        AdvPduHeader::decode(&[0x0F, 0]),
        Err(Error::InvalidValue { .. })
    ));
    // SCAN_REQ that is not two addresses.
    assert!(matches!(
        AdvPdu::decode(&[0x03, 6, 1, 2, 3, 4, 5, 6]),
        Err(Error::InvalidValue { .. })
    ));
    // ADV_IND shorter than its address.
    assert!(matches!(
        AdvPdu::decode(&[0x00, 3, 1, 2, 3]),
        Err(Error::TooShort { .. })
    ));
    // AdvData of 32 bytes.
    let mut long = vec![0x02, 38];
    long.extend_from_slice(&[0; 38]);
    assert!(matches!(
        AdvPdu::decode(&long),
        Err(Error::TooLong {
            max: 31,
            got: 32,
            ..
        })
    ));
    // Extended advertising is not read here.
    assert!(matches!(
        AdvPdu::decode(&[0x07, 1, 0]),
        Err(Error::WrongKind { .. })
    ));
}

#[test]
fn encode_refuses_long_adv_data_and_small_buffers() {
    let adv_a = DeviceAddress {
        kind: AddressType::Public,
        bytes: [1, 2, 3, 4, 5, 6],
    };
    let long = [0u8; MAX_ADV_DATA_LEN + 1];
    let pdu = AdvPdu::AdvNonconnInd { adv_a, data: &long };
    assert!(matches!(
        pdu.encode(&mut [0; 64]),
        Err(Error::TooLong { .. })
    ));
    let pdu = AdvPdu::ScanReq {
        scan_a: adv_a,
        adv_a,
    };
    assert!(matches!(
        pdu.encode(&mut [0; 13]),
        Err(Error::BufferTooSmall { need: 14, .. })
    ));
    let mut out = [0u8; 14];
    assert_eq!(pdu.encode(&mut out), Ok(14));
    assert_eq!(out[..2], [0x03, 12]);
}

fn address() -> impl Strategy<Value = DeviceAddress> {
    (any::<bool>(), any::<[u8; 6]>()).prop_map(|(random, bytes)| DeviceAddress {
        kind: if random {
            AddressType::Random
        } else {
            AddressType::Public
        },
        bytes,
    })
}

/// Owned inputs for every legacy PDU variant.
#[derive(Debug, Clone)]
struct PduCase {
    variant: u8,
    a: DeviceAddress,
    b: DeviceAddress,
    data: Vec<u8>,
    ll_data: [u8; CONNECT_LL_DATA_LEN],
    ch_sel: bool,
}

impl PduCase {
    fn pdu(&self) -> AdvPdu<'_> {
        let (adv_a, data, ch_sel) = (self.a, &self.data[..], self.ch_sel);
        match self.variant {
            0 => AdvPdu::AdvInd {
                adv_a,
                data,
                ch_sel,
            },
            1 => AdvPdu::AdvNonconnInd { adv_a, data },
            2 => AdvPdu::AdvScanInd { adv_a, data },
            3 => AdvPdu::ScanRsp { adv_a, data },
            4 => AdvPdu::AdvDirectInd {
                adv_a,
                target_a: self.b,
                ch_sel,
            },
            5 => AdvPdu::ScanReq {
                scan_a: self.a,
                adv_a: self.b,
            },
            _ => AdvPdu::ConnectInd {
                init_a: self.a,
                adv_a: self.b,
                ll_data: &self.ll_data,
                ch_sel,
            },
        }
    }
}

fn pdu_case() -> impl Strategy<Value = PduCase> {
    (
        0u8..7,
        address(),
        address(),
        proptest::collection::vec(any::<u8>(), 0..=MAX_ADV_DATA_LEN),
        any::<[u8; CONNECT_LL_DATA_LEN]>(),
        any::<bool>(),
    )
        .prop_map(|(variant, a, b, data, ll_data, ch_sel)| PduCase {
            variant,
            a,
            b,
            data,
            ll_data,
            ch_sel,
        })
}

proptest! {
    #[test]
    fn header_round_trips(
        code in 0u8..=8,
        ch_sel: bool,
        tx: bool,
        rx: bool,
        length: u8,
    ) {
        let kind = |random| if random { AddressType::Random } else { AddressType::Public };
        let header = AdvPduHeader {
            pdu_type: PduType::from_code(code).unwrap(),
            ch_sel,
            tx_add: kind(tx),
            rx_add: kind(rx),
            length,
        };
        let mut out = [0u8; 2];
        prop_assert_eq!(header.encode(&mut out), Ok(2));
        prop_assert_eq!(AdvPduHeader::decode(&out), Ok(header));
        prop_assert_eq!(out[0] & 0x10, 0, "reserved bit set");
    }

    #[test]
    fn pdu_round_trips(case in pdu_case()) {
        let pdu = case.pdu();
        let mut out = [0u8; 64];
        let n = pdu.encode(&mut out).unwrap();
        prop_assert_eq!(n, 2 + usize::from(out[1]));
        prop_assert_eq!(AdvPdu::decode(&out[..n]), Ok(pdu));
        prop_assert_eq!(AdvPdu::decode(&out[..n]).unwrap().advertiser(), pdu.advertiser());
    }

    #[test]
    fn pdu_decode_never_panics_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(pdu) = AdvPdu::decode(&bytes) {
            let mut out = [0u8; 64];
            let n = pdu.encode(&mut out).unwrap();
            // Equal up to the reserved header bit, and ChSel where it is reserved.
            prop_assert_eq!(&out[1..n], &bytes[1..n]);
            prop_assert_eq!(AdvPdu::decode(&out[..n]), Ok(pdu));
        }
        let _ = AdvPduHeader::decode(&bytes);
    }

    #[test]
    fn crc24_matches_spec_model_for_any_init(
        init in 0u32..0x100_0000,
        pdu in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        prop_assert_eq!(crc24(init, &pdu), spec_crc24(init, &pdu));
    }

    #[test]
    fn crc24_append_check_round_trips(
        init in 0u32..0x100_0000,
        pdu in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut buf = pdu.clone();
        buf.extend_from_slice(&[0; 3]);
        let n = append_crc24(init, &mut buf, pdu.len()).unwrap();
        prop_assert_eq!(check_crc24(init, &buf[..n]), Ok(&pdu[..]));
    }

    #[test]
    fn check_crc24_never_panics(init: u32, bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let _ = check_crc24(init, &bytes);
    }

    #[test]
    fn whitening_round_trips_on_every_channel(
        index in 0u8..=39,
        data in proptest::collection::vec(any::<u8>(), 1..42),
    ) {
        let channel = Channel::new(index).unwrap();
        let mut buf = data.clone();
        whiten(channel, &mut buf);
        // The whitening sequence never has 8 zero bits in a row (the LFSR's
        // longest run of zeros is 6), so no byte survives unchanged.
        prop_assert!(buf.iter().zip(&data).all(|(w, d)| w != d));
        whiten(channel, &mut buf);
        prop_assert_eq!(buf, data);
    }
}

#[test]
fn whitening_twice_is_identity_on_every_channel() {
    let data: Vec<u8> = (0..=255).collect();
    for index in 0..=39 {
        let channel = Channel::new(index).unwrap();
        let mut buf = data.clone();
        whiten(channel, &mut buf);
        whiten(channel, &mut buf);
        assert_eq!(buf, data, "channel {index}");
    }
}
