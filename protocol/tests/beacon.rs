//! Advertising data and beacon frames: spec vectors, round trips, and
//! "never panics" properties.

use aisle_protocol::Error;
use aisle_protocol::ad::{AdIter, AdWriter, AdvertisingData, Flags, Uuid, ad_type};
use aisle_protocol::beacon::{
    AltBeacon, EddystoneEid, EddystoneTlm, EddystoneUid, EddystoneUrl, Frame, FrameKind, IBeacon,
    Identity, eddystone,
};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// iBeacon manufacturer data; source: theengs/decoder tests (shared/vectors).
const IBEACON_MFG: &str = "4c000215426c7565436861726d426561636f6e730efe1355c5";
/// AltBeacon advertisement; source: AltBeacon android-beacon-library tests.
const ALTBEACON_AD: &str = "02011a1bff1801beac2f234454cf6d4a0fadf2f4911ba9ffa600010002c509";
/// Eddystone-TLM service data after UUID 0xFEAA; source: citruz/beacontools tests.
const TLM_FRAME: &str = "20000b18130000001467";
const TLM_FRAME_TAIL: &str = "00002ac4";
/// A real iPhone advertisement's AD bytes (Scapy bluetooth4LE tests): Apple Nearby Info.
const IPHONE_AD: &str = "02011a0aff4c0010050b1c0ea836";
/// Exposure Notification: RPI and AEM from beacontools tests, framed as a phone sends them.
const EN_RPI_AEM: &str = "0d3b4f65584c582160571dd19010d41c2660ee34";

#[test]
fn ibeacon_vector() {
    let b = IBeacon::decode(&hex(IBEACON_MFG)).unwrap();
    assert_eq!(b.uuid.to_string(), "426c7565-4368-6172-6d42-6561636f6e73");
    assert_eq!((b.major, b.minor, b.measured_power), (3838, 4949, -59));
    let mut out = [0u8; 25];
    assert_eq!(b.encode(&mut out), Ok(25));
    assert_eq!(out.to_vec(), hex(IBEACON_MFG));
}

#[test]
fn ibeacon_classified_from_a_whole_advertisement() {
    let mut ad = hex("020106");
    ad.push(26);
    ad.push(ad_type::MANUFACTURER_DATA);
    ad.extend(hex(IBEACON_MFG));
    let frame = Frame::classify(&ad).unwrap();
    assert_eq!(frame.kind(), FrameKind::IBeacon);
    let id = frame.identity().unwrap();
    assert_eq!(
        id.to_string(),
        "ibeacon:426c7565436861726d426561636f6e730efe1355"
    );
}

#[test]
fn altbeacon_vector() {
    let ad = hex(ALTBEACON_AD);
    let Frame::AltBeacon(a) = Frame::classify(&ad).unwrap() else {
        panic!("not classified as AltBeacon");
    };
    assert_eq!(a.manufacturer, 0x0118);
    assert_eq!(a.id1().to_string(), "2f234454-cf6d-4a0f-adf2-f4911ba9ffa6");
    assert_eq!((a.id2(), a.id3()), (1, 2));
    assert_eq!(a.reference_rssi, -59);
    assert_eq!(a.reserved, 0x09);
    assert_eq!(AdvertisingData(&ad).flags(), Some(Flags(0x1a)));
    let mut out = [0u8; 31];
    let n = a.write_advertisement(&mut out).unwrap();
    // Only the flags byte differs: beacons we build advertise LE-only general discovery.
    assert_eq!(&out[3..n], &ad[3..]);
}

#[test]
fn eddystone_tlm_vector() {
    let frame = hex(&format!("{TLM_FRAME}{TLM_FRAME_TAIL}"));
    let t = EddystoneTlm::decode(&frame).unwrap();
    assert_eq!(t.battery_mv, 2840);
    assert_eq!(t.temperature_c(), Some(19.0));
    assert_eq!(t.adv_count, 5223);
    assert_eq!(t.uptime_deciseconds, 10948);
    let mut out = [0u8; 14];
    assert_eq!(t.encode(&mut out), Ok(14));
    assert_eq!(out.to_vec(), frame);
}

#[test]
fn encrypted_tlm_is_recognised_not_read() {
    let mut out = [0u8; 31];
    let frame = hex("2001aabbccddeeff00112233445566778899");
    let n = eddystone::write_advertisement(&frame, &mut out).unwrap();
    assert_eq!(
        Frame::classify(&out[..n]).unwrap(),
        Frame::EddystoneEncryptedTlm
    );
    assert!(matches!(
        EddystoneTlm::decode(&frame),
        Err(Error::InvalidValue {
            offset: 1,
            value: 1,
            ..
        })
    ));
}

#[test]
fn iphone_nearby_info_is_apple_without_identity() {
    let ad = hex(IPHONE_AD);
    let f = Frame::classify(&ad).unwrap();
    assert_eq!(f, Frame::Apple { kind: 0x10 });
    assert_eq!(f.identity(), None);
}

#[test]
fn exposure_notification_is_counted_never_identified() {
    let mut buf = [0u8; 31];
    let mut w = AdWriter::new(&mut buf);
    w.flags(Flags(0x1a)).unwrap();
    w.service_uuid16(0xFD6F).unwrap();
    w.service_data16(0xFD6F, &hex(EN_RPI_AEM)).unwrap();
    let n = w.len();
    let f = Frame::classify(&buf[..n]).unwrap();
    assert_eq!(f, Frame::ExposureNotification);
    assert_eq!(f.identity(), None);
    // The rolling identifier must appear in no form the frame exposes.
    assert!(!format!("{f:?}").contains("0d3b"));
}

#[test]
fn microsoft_swift_pair_is_recognised() {
    let mut buf = [0u8; 31];
    let mut w = AdWriter::new(&mut buf);
    w.manufacturer_data(0x0006, &[0x03, 0x00, 0x80]).unwrap();
    let n = w.len();
    assert_eq!(
        Frame::classify(&buf[..n]).unwrap(),
        Frame::Microsoft { scenario: 3 }
    );
}

#[test]
fn eddystone_url_expands_and_compresses() {
    let mut frame = [0u8; 20];
    let n = EddystoneUrl::encode_url("https://www.meatpack.com/hijack", -20, &mut frame).unwrap();
    // https://www. is scheme 1; ".com/" is expansion 0x00.
    assert_eq!(&frame[..4], &[0x10, 0xEC, 0x01, b'm']);
    assert!(frame[..n].contains(&0x00));
    let url = EddystoneUrl::decode(&frame[..n]).unwrap();
    assert_eq!(url.to_string(), "https://www.meatpack.com/hijack");
    assert_eq!(url.tx_power, -20);
}

#[test]
fn eddystone_url_rejects_reserved_bytes_with_their_place() {
    let frame = [0x10, 0x00, 0x02, b'a', 0x20, b'b'];
    assert_eq!(
        EddystoneUrl::decode(&frame),
        Err(Error::InvalidValue {
            what: "Eddystone-URL character",
            offset: 4,
            value: 0x20
        })
    );
    assert!(matches!(
        EddystoneUrl::decode(&[0x10, 0x00, 0x04, b'a']),
        Err(Error::InvalidValue { offset: 2, .. })
    ));
    assert!(matches!(
        EddystoneUrl::encode_url("ftp://x", 0, &mut [0; 20]),
        Err(Error::WrongKind { .. })
    ));
    assert!(matches!(
        EddystoneUrl::encode_url("https://aaaaaaaaaaaaaaaaaaaaaaaaa", 0, &mut [0; 20]),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn overrunning_structure_is_reported_with_its_offset() {
    // Flags, then a structure claiming 9 bytes with only 3 left.
    let ad = [0x02, 0x01, 0x06, 0x09, 0xff, 0x4c, 0x00];
    let items: Vec<_> = AdIter::new(&ad).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(
        items[1],
        Err(Error::AdOverrun {
            offset: 3,
            len: 9,
            remaining: 3
        })
    );
    assert_eq!(
        Frame::classify(&ad),
        Err(Error::AdOverrun {
            offset: 3,
            len: 9,
            remaining: 3
        })
    );
    // Accessors still see what came before the damage.
    assert_eq!(AdvertisingData(&ad).flags(), Some(Flags(6)));
}

#[test]
fn zero_length_ends_the_data() {
    let ad = [0x02, 0x01, 0x06, 0x00, 0xde, 0xad];
    assert_eq!(AdIter::new(&ad).count(), 1);
    assert_eq!(AdvertisingData(&ad).validate(), Ok(()));
}

#[test]
fn truncated_beacon_frames_are_errors_not_unknown() {
    let mut buf = [0u8; 31];
    let mut w = AdWriter::new(&mut buf);
    w.service_data16(0xFEAA, &[0x00, 0xEE, 1, 2, 3]).unwrap();
    let n = w.len();
    assert_eq!(
        Frame::classify(&buf[..n]),
        Err(Error::TooShort {
            what: "Eddystone-UID",
            need: 18,
            got: 5
        })
    );
}

#[test]
fn accessors_read_every_common_type() {
    let mut buf = [0u8; 120];
    let mut w = AdWriter::new(&mut buf);
    w.flags(Flags::BEACON).unwrap();
    w.local_name("shelf-7", false).unwrap();
    w.tx_power(-4).unwrap();
    w.push(ad_type::INCOMPLETE_UUID16, &[0x0f, 0x18, 0x0a, 0x18])
        .unwrap();
    w.push(ad_type::COMPLETE_UUID32, &0x1234_5678u32.to_le_bytes())
        .unwrap();
    let u = Uuid(
        [0x11; 8]
            .into_iter()
            .chain([0x22; 8])
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    w.push(ad_type::COMPLETE_UUID128, &u.to_le_bytes()).unwrap();
    w.push_parts(ad_type::SERVICE_DATA_UUID32, &[&7u32.to_le_bytes(), b"x"])
        .unwrap();
    w.push_parts(ad_type::SERVICE_DATA_UUID128, &[&u.to_le_bytes(), b"yz"])
        .unwrap();
    w.manufacturer_data(0x0059, b"nordic").unwrap();
    let n = w.len();
    let ad = AdvertisingData(&buf[..n]);
    assert_eq!(ad.validate(), Ok(()));
    assert!(ad.flags().unwrap().contains(Flags::BR_EDR_NOT_SUPPORTED));
    let name = ad.local_name().unwrap();
    assert_eq!((name.as_str(), name.complete), (Some("shelf-7"), false));
    assert_eq!(ad.tx_power(), Some(-4));
    assert_eq!(ad.service_uuids16().collect::<Vec<_>>(), [0x180f, 0x180a]);
    assert_eq!(ad.service_uuids32().collect::<Vec<_>>(), [0x1234_5678]);
    assert_eq!(ad.service_uuids128().collect::<Vec<_>>(), [u]);
    assert_eq!(ad.service_data32().collect::<Vec<_>>(), [(7, &b"x"[..])]);
    assert_eq!(ad.service_data128().collect::<Vec<_>>(), [(u, &b"yz"[..])]);
    assert_eq!(
        ad.manufacturer_data().collect::<Vec<_>>(),
        [(0x0059, &b"nordic"[..])]
    );
    assert_eq!(Frame::classify(ad.0), Ok(Frame::Unknown));
}

#[test]
fn writer_reports_a_full_buffer() {
    let mut buf = [0u8; 5];
    let mut w = AdWriter::new(&mut buf);
    w.flags(Flags::BEACON).unwrap();
    assert_eq!(
        w.local_name("toolong", true),
        Err(Error::BufferTooSmall {
            what: "advertising data",
            need: 12,
            got: 5
        })
    );
    assert_eq!(w.len(), 3);
}

#[test]
fn identity_keeps_kind_and_bytes() {
    let id = Identity::new(FrameKind::EddystoneEid, &[1, 2, 3]).unwrap();
    assert_eq!(id.as_bytes(), &[1, 2, 3]);
    assert_eq!(id.to_string(), "eddystone_eid:010203");
    assert!(matches!(
        Identity::new(FrameKind::IBeacon, &[0; 21]),
        Err(Error::TooLong {
            max: 20,
            got: 21,
            ..
        })
    ));
    for k in FrameKind::ALL {
        assert_eq!(FrameKind::try_from(k as u8), Ok(k));
    }
    assert!(FrameKind::try_from(u8::try_from(FrameKind::ALL.len()).unwrap()).is_err());
}

fn arb_uuid() -> impl Strategy<Value = Uuid> {
    any::<[u8; 16]>().prop_map(Uuid)
}

/// URLs made of a scheme, plain URL characters and expansion strings.
fn arb_url() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z0-9_~-]{1,3}",
        prop::sample::select(eddystone::URL_EXPANSIONS.to_vec()).prop_map(str::to_owned),
    ];
    (
        prop::sample::select(eddystone::URL_SCHEMES.to_vec()),
        prop::collection::vec(piece, 0..5),
    )
        .prop_map(|(s, parts)| format!("{s}{}", parts.concat()))
}

proptest! {
    #[test]
    fn ibeacon_round_trip(uuid in arb_uuid(), major: u16, minor: u16, power: i8) {
        let b = IBeacon { uuid, major, minor, measured_power: power };
        let mut out = [0u8; 31];
        let n = b.write_advertisement(&mut out).unwrap();
        prop_assert_eq!(Frame::classify(&out[..n]), Ok(Frame::IBeacon(b)));
    }

    #[test]
    fn altbeacon_round_trip(manufacturer: u16, id: [u8; 20], rssi: i8, reserved: u8) {
        let a = AltBeacon { manufacturer, id, reference_rssi: rssi, reserved };
        let mut out = [0u8; 26];
        a.encode(&mut out).unwrap();
        prop_assert_eq!(AltBeacon::decode(&out), Ok(a));
    }

    #[test]
    fn eddystone_uid_round_trip(tx: i8, namespace: [u8; 10], instance: [u8; 6]) {
        let u = EddystoneUid { tx_power: tx, namespace, instance };
        let (mut frame, mut out) = ([0u8; 20], [0u8; 31]);
        let n = u.encode(&mut frame).unwrap();
        let m = eddystone::write_advertisement(&frame[..n], &mut out).unwrap();
        prop_assert_eq!(Frame::classify(&out[..m]), Ok(Frame::EddystoneUid(u)));
    }

    #[test]
    fn eddystone_eid_round_trip(tx: i8, eid: [u8; 8]) {
        let e = EddystoneEid { tx_power: tx, eid };
        let mut frame = [0u8; 10];
        e.encode(&mut frame).unwrap();
        prop_assert_eq!(EddystoneEid::decode(&frame), Ok(e));
    }

    #[test]
    fn eddystone_tlm_round_trip(battery_mv: u16, temperature_8_8: i16, adv_count: u32, uptime_deciseconds: u32) {
        let t = EddystoneTlm { battery_mv, temperature_8_8, adv_count, uptime_deciseconds };
        let mut frame = [0u8; 14];
        t.encode(&mut frame).unwrap();
        prop_assert_eq!(EddystoneTlm::decode(&frame), Ok(t));
    }

    #[test]
    fn eddystone_url_round_trip(url in arb_url(), tx: i8) {
        let mut frame = [0u8; 20];
        match EddystoneUrl::encode_url(&url, tx, &mut frame) {
            Ok(n) => {
                let decoded = EddystoneUrl::decode(&frame[..n]).unwrap();
                prop_assert_eq!(decoded.to_string(), url);
                let mut again = [0u8; 20];
                let m = decoded.encode(&mut again).unwrap();
                prop_assert_eq!(&again[..m], &frame[..n]);
            }
            Err(e) => prop_assert!(matches!(e, Error::TooLong { .. }), "{e}"),
        }
    }

    #[test]
    fn ad_writer_round_trip(structs in prop::collection::vec((1u8..=255, prop::collection::vec(any::<u8>(), 0..20)), 0..8)) {
        let mut buf = [0u8; 255];
        let mut w = AdWriter::new(&mut buf);
        for (t, v) in &structs {
            w.push(*t, v).unwrap();
        }
        let n = w.len();
        let back: Vec<_> = AdIter::new(&buf[..n]).map(|s| s.map(|s| (s.ad_type, s.data.to_vec()))).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(back, structs);
    }

    #[test]
    fn classify_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Frame::classify(&bytes).map(|f| (f.kind(), f.identity()));
        let ad = AdvertisingData(&bytes);
        let _ = (ad.validate(), ad.flags(), ad.local_name(), ad.tx_power());
        let _ = (ad.service_uuids16().count(), ad.service_uuids32().count(), ad.service_uuids128().count());
        let _ = (ad.service_data16().count(), ad.service_data32().count(), ad.service_data128().count(), ad.manufacturer_data().count());
    }

    #[test]
    fn frame_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..32)) {
        let _ = IBeacon::decode(&bytes);
        let _ = AltBeacon::decode(&bytes);
        let _ = EddystoneUid::decode(&bytes);
        let _ = EddystoneEid::decode(&bytes);
        let _ = EddystoneTlm::decode(&bytes);
        if let Ok(u) = EddystoneUrl::decode(&bytes) {
            let _ = u.to_string();
        }
    }

    /// A structured advertisement with one beacon frame is classified as that frame
    /// whatever unrelated structures surround it.
    #[test]
    fn classification_ignores_surrounding_structures(pre in prop::collection::vec(any::<u8>(), 0..6), major: u16) {
        let b = IBeacon { uuid: Uuid([7; 16]), major, minor: 1, measured_power: -60 };
        let mut mfg = [0u8; 25];
        b.encode(&mut mfg).unwrap();
        let mut buf = [0u8; 64];
        let mut w = AdWriter::new(&mut buf);
        w.local_name("x", true).unwrap();
        w.push(0x2a, &pre).unwrap();
        w.manufacturer_data(0x004C, &mfg[2..]).unwrap();
        w.tx_power(0).unwrap();
        let n = w.len();
        prop_assert_eq!(Frame::classify(&buf[..n]), Ok(Frame::IBeacon(b)));
    }
}

#[test]
fn serde_names_match_display_names() {
    for k in FrameKind::ALL {
        assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        assert_eq!(
            serde_json::from_str::<FrameKind>(&format!("\"{k}\"")).unwrap(),
            k
        );
    }
}

#[test]
fn uuid_text_forms() {
    let u: Uuid = "426c7565-4368-6172-6d42-6561636f6e73".parse().unwrap();
    assert_eq!(u, "426c7565436861726d426561636f6e73".parse().unwrap());
    assert_eq!(
        serde_json::to_string(&u).unwrap(),
        "\"426c7565-4368-6172-6d42-6561636f6e73\""
    );
    assert_eq!(
        serde_json::from_str::<Uuid>("\"426c7565-4368-6172-6d42-6561636f6e73\"").unwrap(),
        u
    );
    assert_eq!(
        "426c7565-4368-6172-6d42-6561636f6e7g".parse::<Uuid>(),
        Err(Error::InvalidValue {
            what: "UUID hex digit",
            offset: 35,
            value: u32::from(b'g')
        })
    );
    assert!(matches!(
        "426c".parse::<Uuid>(),
        Err(Error::TooShort { got: 2, .. })
    ));
    assert!(matches!(
        "426c7565436861726d426561636f6e7300".parse::<Uuid>(),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn beacon_payloads_carry_ids_as_hex() {
    let u = EddystoneUid {
        tx_power: -3,
        namespace: [0xab; 10],
        instance: [1, 2, 3, 4, 5, 6],
    };
    let j = serde_json::to_value(u).unwrap();
    assert_eq!(j["namespace"], "abababababababababab");
    assert_eq!(j["instance"], "010203040506");
    assert_eq!(serde_json::from_value::<EddystoneUid>(j).unwrap(), u);
    let bad = serde_json::json!({"tx_power": 0, "namespace": "abab", "instance": "010203040506"});
    assert!(serde_json::from_value::<EddystoneUid>(bad).is_err());
}

#[test]
fn identity_parses_its_display_form() {
    let id: Identity = "ibeacon:426c7565436861726d426561636f6e730efe1355"
        .parse()
        .unwrap();
    assert_eq!(id.kind(), FrameKind::IBeacon);
    assert_eq!(id.as_bytes().len(), 20);
    assert!(matches!(
        "nope:00".parse::<Identity>(),
        Err(Error::WrongKind { .. })
    ));
    assert_eq!(
        "eddystone_eid:0g".parse::<Identity>(),
        Err(Error::InvalidValue {
            what: "identity hex digit",
            offset: 15,
            value: u32::from(b'g')
        })
    );
    assert!(matches!(
        "ibeacon:abc".parse::<Identity>(),
        Err(Error::TooLong { .. })
    ));
}

proptest! {
    #[test]
    fn identity_display_parse_round_trip(kind in 0u8..11, bytes in prop::collection::vec(any::<u8>(), 0..=20)) {
        let id = Identity::new(FrameKind::from_code(kind).unwrap(), &bytes).unwrap();
        prop_assert_eq!(id.to_string().parse::<Identity>(), Ok(id));
    }

    #[test]
    fn identity_parse_never_panics(s in "\\PC{0,50}") {
        let _ = s.parse::<Identity>();
    }

    #[test]
    fn uuid_parse_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<Uuid>();
    }

    #[test]
    fn uuid_display_parse_round_trip(u in arb_uuid()) {
        prop_assert_eq!(u.to_string().parse::<Uuid>(), Ok(u));
    }
}
