//! The JSON payloads: round trips, validation, versioning and the README's
//! examples.

use aisle_protocol::Error;
use aisle_protocol::event::{
    Campaign, Channel, Countdown, EventId, GatewayStatus, HexBytes, NodeStatus, Offer, OfferState,
    Percent, Position, Rssi, SchemaVersion, Sighting, ZoneEvent, ZoneEventKind, ZoneOccupancy,
};
use aisle_protocol::topic::{Topic, TopicKind};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

const ID: EventId = EventId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);

fn pct(p: u8) -> Percent {
    Percent::new(p).unwrap()
}

fn sighting() -> Sighting {
    Sighting {
        v: SchemaVersion,
        id: ID,
        ts: 1_567_783_106.707,
        anchor: "sensor22".into(),
        device: Some("beacon1".into()),
        rssi: Rssi::new(-78).unwrap(),
        channel: None,
        raw: None,
    }
}

fn zone_event(kind: ZoneEventKind) -> ZoneEvent {
    ZoneEvent {
        v: SchemaVersion,
        id: ID,
        kind,
        ts: 1_567_783_230.0,
        device: "beacon1".into(),
        zone: "A1".into(),
        entered_at: 1_567_783_200.0,
    }
}

fn occupancy() -> ZoneOccupancy {
    ZoneOccupancy {
        v: SchemaVersion,
        id: ID,
        ts: 1_567_783_260.0,
        zone: "B2".into(),
        known: 2,
        anonymous: 7,
    }
}

fn countdown() -> Countdown {
    Countdown {
        start_pct: pct(99),
        decay_per_s: 1.0,
        floor_pct: pct(10),
    }
}

fn offer(state: OfferState) -> Offer {
    Offer {
        v: SchemaVersion,
        id: ID,
        ts: 1_567_783_237.4,
        offer: "of-0192".into(),
        campaign: "coffee-rush".into(),
        shopper: "shopper-7f3a".into(),
        trigger_zone: "A1".into(),
        target_zone: "C3".into(),
        start_ts: 1_567_783_200.0,
        expires_ts: 1_567_783_800.0,
        countdown: countdown(),
        state,
    }
}

/// Serialises, deserialises and compares.
fn round_trip<T>(value: &T) -> String
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
    json
}

/// The message of a failed deserialisation.
fn de_error<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    serde_json::from_str::<T>(json).unwrap_err().to_string()
}

#[test]
fn sighting_json_shape() {
    let json = round_trip(&sighting());
    assert_eq!(
        json,
        r#"{"v":1,"id":"0123456789abcdef0011223344556677","ts":1567783106.707,"anchor":"sensor22","device":"beacon1","rssi":-78}"#
    );
    let anonymous = Sighting {
        device: None,
        channel: Some(Channel::new(38).unwrap()),
        raw: Some(HexBytes(vec![0x02, 0x01, 0x06])),
        ..sighting()
    };
    let json = round_trip(&anonymous);
    assert!(json.contains(r#""device":null"#), "{json}");
    assert!(json.contains(r#""channel":38,"raw":"020106""#), "{json}");
}

#[test]
fn enum_payloads_are_tagged_in_snake_case() {
    let json = round_trip(&zone_event(ZoneEventKind::Enter));
    assert!(json.contains(r#""kind":"enter""#), "{json}");
    assert!(!json.contains("dwell_s"), "{json}");
    let json = round_trip(&zone_event(ZoneEventKind::Dwell { dwell_s: 30.0 }));
    assert!(json.contains(r#""kind":"dwell","dwell_s":30.0"#), "{json}");
    round_trip(&zone_event(ZoneEventKind::Exit { dwell_s: 30.0 }));

    for (state, text) in [
        (OfferState::Live, r#""state":"live""#),
        (
            OfferState::Locked { pct: pct(62) },
            r#""state":"locked","locked_pct":62"#,
        ),
        (OfferState::Expired, r#""state":"expired""#),
        (
            OfferState::Redeemed { pct: pct(62) },
            r#""state":"redeemed","redeemed_pct":62"#,
        ),
    ] {
        let json = round_trip(&offer(state));
        assert!(json.contains(text), "{json}");
        assert!(
            json.contains(r#""start_pct":99,"decay_per_s":1.0,"floor_pct":10"#),
            "{json}"
        );
    }
}

#[test]
fn statuses_offline_form_has_no_metrics() {
    let will = NodeStatus::offline(ID, 1_567_696_860.0, "node-04".into(), "0.1.0".into());
    assert_eq!(
        round_trip(&will),
        r#"{"v":1,"id":"0123456789abcdef0011223344556677","ts":1567696860.0,"node":"node-04","online":false,"firmware":"0.1.0"}"#
    );
    let will = GatewayStatus::offline(ID, 1_567_779_660.0, "0.1.0".into());
    assert_eq!(
        round_trip(&will),
        r#"{"v":1,"id":"0123456789abcdef0011223344556677","ts":1567779660.0,"online":false,"version":"0.1.0"}"#
    );
}

#[test]
fn occupancy_json_shape() {
    let json = round_trip(&occupancy());
    assert_eq!(
        json,
        r#"{"v":1,"id":"0123456789abcdef0011223344556677","ts":1567783260.0,"zone":"B2","known":2,"anonymous":7}"#
    );
    assert_eq!(occupancy().total(), 9);
    let full = ZoneOccupancy {
        known: u32::MAX,
        anonymous: u32::MAX,
        ..occupancy()
    };
    assert_eq!(full.total(), 2 * u64::from(u32::MAX));
    round_trip(&full);
}

#[test]
fn invalid_occupancy_is_rejected() {
    let json = serde_json::to_string(&occupancy()).unwrap();
    let message = de_error::<ZoneOccupancy>(&json.replacen(r#""v":1"#, r#""v":2"#, 1));
    assert!(
        message.starts_with("unsupported schema version 2"),
        "{message}"
    );
    let message = de_error::<ZoneOccupancy>(&json.replacen(r#""zone":"B2""#, r#""zone":"B/2""#, 1));
    assert!(message.contains("payload field `zone`"), "{message}");
    let message =
        de_error::<ZoneOccupancy>(&json.replacen(r#""anonymous":7"#, r#""anonymous":-1"#, 1));
    assert!(message.contains("invalid value"), "{message}");
    let message = de_error::<ZoneOccupancy>(&json.replacen(r#""known":2"#, r#""known":2.5"#, 1));
    assert!(message.contains("invalid type"), "{message}");
    let message = de_error::<ZoneOccupancy>(&json.replacen(r#","known":2"#, "", 1));
    assert!(message.contains("missing field `known`"), "{message}");
    let bad_ts = ZoneOccupancy {
        ts: f64::NAN,
        ..occupancy()
    };
    assert!(serde_json::to_string(&bad_ts).is_err());
    assert!(bad_ts.validate().is_err());
}

#[test]
fn event_id_text_and_bytes() {
    let bytes: [u8; 16] = core::array::from_fn(|i| u8::try_from(i).unwrap() * 17);
    let id = EventId::from_bytes(bytes);
    assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
    assert_eq!(id.to_bytes(), bytes);
    assert_eq!(id.as_u128(), 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
    assert_eq!(EventId::parse("00112233445566778899aabbccddeeff"), Ok(id));
    assert_eq!(
        "00112233445566778899aabbccddeeff".parse::<EventId>(),
        Ok(id)
    );
    assert_eq!(EventId::from_u128(0).to_string(), "0".repeat(32));
    assert_eq!(
        format!("{id:?}"),
        "EventId(00112233445566778899aabbccddeeff)"
    );
    assert_eq!(
        serde_json::to_string(&id).unwrap(),
        r#""00112233445566778899aabbccddeeff""#
    );

    assert_eq!(
        EventId::parse("0011"),
        Err(Error::TooShort {
            what: "event id",
            need: 32,
            got: 4
        })
    );
    assert_eq!(
        EventId::parse(&"0".repeat(33)),
        Err(Error::TooLong {
            what: "event id",
            max: 32,
            got: 33
        })
    );
    assert_eq!(
        EventId::parse("00112233445566778899AABBCCDDEEFF"),
        Err(Error::InvalidValue {
            what: "event id",
            offset: 20,
            value: u32::from(b'A')
        })
    );
    assert!(EventId::parse("0011223344556677889é9aabbccddee").is_err());
    assert!(serde_json::from_str::<EventId>("12").is_err());
}

#[test]
fn checked_values() {
    assert!(Rssi::new(-127).is_ok() && Rssi::new(20).is_ok());
    assert!(Rssi::new(-128).is_err() && Rssi::new(21).is_err());
    assert_eq!(Rssi::try_from(-60).map(Rssi::dbm), Ok(-60));
    assert_eq!(Percent::new(100).map(Percent::get), Ok(100));
    assert_eq!(
        Percent::new(101),
        Err(Error::Payload {
            field: "percent",
            reason: "above 100"
        })
    );
    assert!(Channel::new(39).is_ok() && Channel::new(40).is_err());
    assert_eq!(HexBytes::parse("0aFf"), Ok(HexBytes(vec![0x0a, 0xff])));
    assert!(HexBytes::parse("0a0").is_err());
    assert!(HexBytes::parse("0g").is_err());
    assert_eq!(HexBytes(vec![0xab, 0x01]).to_string(), "ab01");
}

#[test]
fn other_schema_versions_are_rejected() {
    let json = serde_json::to_string(&sighting()).unwrap();
    let v2 = json.replacen(r#""v":1"#, r#""v":2"#, 1);
    let message = de_error::<Sighting>(&v2);
    assert!(
        message.starts_with("unsupported schema version 2 (this build reads version 1)"),
        "{message}"
    );
    // A version 2 payload whose other fields no longer fit still reports the version.
    let message = de_error::<ZoneEvent>(r#"{"v":2,"event":"entered","at":1}"#);
    assert!(
        message.starts_with("unsupported schema version 2"),
        "{message}"
    );
    let message = de_error::<Offer>(r#"{"v":0}"#);
    assert!(
        message.starts_with("unsupported schema version 0"),
        "{message}"
    );

    let missing = json.replacen(r#""v":1,"#, "", 1);
    assert!(de_error::<Sighting>(&missing).contains("missing field `v`"));
    let text = json.replacen(r#""v":1"#, r#""v":"1""#, 1);
    assert!(de_error::<Sighting>(&text).contains("invalid type"));
}

#[test]
fn unknown_fields_are_ignored() {
    let json = serde_json::to_string(&offer(OfferState::Live)).unwrap();
    let extended = json.replacen('{', r#"{"colour":"red","extra":{"a":[1,2]},"#, 1);
    let back: Offer = serde_json::from_str(&extended).unwrap();
    assert_eq!(back, offer(OfferState::Live));
}

#[test]
fn invalid_sightings_are_rejected_on_read() {
    let base = serde_json::to_string(&sighting()).unwrap();
    let cases = [
        (r#""rssi":-78"#, r#""rssi":-200"#, "invalid value"),
        (
            r#""rssi":-78"#,
            r#""rssi":-128"#,
            "`rssi`: outside -127..=20 dBm",
        ),
        (
            r#""rssi":-78"#,
            r#""rssi":21"#,
            "`rssi`: outside -127..=20 dBm",
        ),
        (
            r#""anchor":"sensor22""#,
            r#""anchor":"a/b""#,
            "`anchor`: contains `/`",
        ),
        (
            r#""device":"beacon1""#,
            r#""device":"""#,
            "`device`: empty level",
        ),
        (
            r#""ts":1567783106.707"#,
            r#""ts":-1.0"#,
            "`ts`: not a finite",
        ),
        (r#""rssi":-78"#, r#""rssi":-78,"channel":40"#, "`channel`"),
        (
            r#""rssi":-78"#,
            r#""rssi":-78,"raw":"abc""#,
            "unpaired hex digit",
        ),
        (r#""id":"0123"#, r#""id":"0X23"#, "event id"),
    ];
    for (from, to, want) in cases {
        let json = base.replacen(from, to, 1);
        assert_ne!(json, base);
        let message = de_error::<Sighting>(&json);
        assert!(message.contains(want), "{json}: {message}");
    }
    let long = format!(r#""rssi":-78,"raw":"{}""#, "00".repeat(1651));
    let message = de_error::<Sighting>(&base.replacen(r#""rssi":-78"#, &long, 1));
    assert!(
        message.contains("`raw`: longer than 1650 bytes"),
        "{message}"
    );
}

#[test]
fn invalid_zone_events_are_rejected_on_read() {
    let zone = serde_json::to_string(&zone_event(ZoneEventKind::Dwell { dwell_s: 30.0 })).unwrap();
    for (from, to, want) in [
        (
            r#""kind":"dwell","dwell_s":30.0"#,
            r#""kind":"dwell""#,
            "missing field `dwell_s`",
        ),
        (
            r#""kind":"dwell""#,
            r#""kind":"linger""#,
            "unknown variant `linger`",
        ),
        (r#""dwell_s":30.0"#, r#""dwell_s":-3.0"#, "`dwell_s`"),
        (
            r#""entered_at":1567783200.0"#,
            r#""entered_at":1567783231.0"#,
            "`entered_at`: later than ts",
        ),
        (
            r#""zone":"A1""#,
            r#""zone":"A+""#,
            "`zone`: contains the wildcard `+`",
        ),
    ] {
        let json = zone.replacen(from, to, 1);
        assert_ne!(json, zone);
        let message = de_error::<ZoneEvent>(&json);
        assert!(message.contains(want), "{json}: {message}");
    }
}

#[test]
fn invalid_offers_are_rejected_on_read() {
    let live = serde_json::to_string(&offer(OfferState::Live)).unwrap();
    for (from, to, want) in [
        (
            r#""floor_pct":10"#,
            r#""floor_pct":100"#,
            "`floor_pct`: above start_pct",
        ),
        (
            r#""start_pct":99"#,
            r#""start_pct":101"#,
            "`percent`: above 100",
        ),
        (
            r#""decay_per_s":1.0"#,
            r#""decay_per_s":-1.0"#,
            "`decay_per_s`",
        ),
        (
            r#""state":"live""#,
            r#""state":"locked","locked_pct":5"#,
            "`locked_pct`: outside",
        ),
        (
            r#""state":"live""#,
            r#""state":"redeemed","redeemed_pct":100"#,
            "`redeemed_pct`",
        ),
        (
            r#""state":"live""#,
            r#""state":"locked""#,
            "missing field `locked_pct`",
        ),
        (
            r#""expires_ts":1567783800.0"#,
            r#""expires_ts":1567783200.0"#,
            "`expires_ts`: not after start_ts",
        ),
        (
            r#""ts":1567783237.4"#,
            r#""ts":1567783000.0"#,
            "`ts`: before start_ts",
        ),
        (
            r#""shopper":"shopper-7f3a""#,
            r#""shopper":"x\u0000""#,
            "`shopper`: contains NUL",
        ),
    ] {
        let json = live.replacen(from, to, 1);
        assert_ne!(json, live);
        let message = de_error::<Offer>(&json);
        assert!(message.contains(want), "{json}: {message}");
    }
}

#[test]
fn invalid_payloads_are_not_written() {
    let nan = Sighting {
        ts: f64::NAN,
        ..sighting()
    };
    assert!(serde_json::to_string(&nan).is_err());
    let position = Position {
        v: SchemaVersion,
        id: ID,
        ts: 1.0,
        device: "d".into(),
        x: 0.0,
        y: 0.0,
        zone: None,
        confidence: 1.5,
    };
    let message = serde_json::to_string(&position).unwrap_err().to_string();
    assert!(message.contains("`confidence`: outside 0..=1"), "{message}");
    assert_eq!(
        position.validate(),
        Err(Error::Payload {
            field: "confidence",
            reason: "outside 0..=1"
        })
    );
    let mut status = NodeStatus::offline(ID, 1.0, "n".into(), String::new());
    assert!(serde_json::to_string(&status).is_err());
    status.firmware = "1.0".into();
    status.temperature_c = Some(400.0);
    assert!(serde_json::to_string(&status).is_err());
    status.temperature_c = None;
    status.last_seen = Some(f64::NAN);
    let message = serde_json::to_string(&status).unwrap_err().to_string();
    assert!(message.contains("last_seen"), "{message}");
}

#[test]
fn invalid_statuses_and_campaigns_are_rejected() {
    let gateway = GatewayStatus {
        sightings_per_s: Some(-1.0),
        ..GatewayStatus::offline(ID, 1.0, "0.1.0".into())
    };
    assert!(serde_json::to_string(&gateway).is_err());

    let campaign = Campaign {
        v: SchemaVersion,
        id: ID,
        ts: 1_567_780_000.0,
        campaign: "coffee-rush".into(),
        name: "Coffee rush".into(),
        active: true,
        trigger_zone: "A1".into(),
        target_zone: "C3".into(),
        countdown: countdown(),
        offer_ttl_s: 600.0,
        starts_ts: Some(1_567_753_200.0),
        ends_ts: Some(1_567_796_400.0),
    };
    let json = round_trip(&campaign);
    for (from, to, want) in [
        (
            r#""offer_ttl_s":600.0"#,
            r#""offer_ttl_s":0.0"#,
            "`offer_ttl_s`",
        ),
        (
            r#""ends_ts":1567796400.0"#,
            r#""ends_ts":1567753200.0"#,
            "`ends_ts`: not after starts_ts",
        ),
        (r#""name":"Coffee rush""#, r#""name":"""#, "`name`: empty"),
        (
            r#""name":"Coffee rush""#,
            r#""name":"a\nb""#,
            "`name`: contains a control character",
        ),
        (
            r#""floor_pct":10"#,
            r#""floor_pct":100"#,
            "`floor_pct`: above start_pct",
        ),
    ] {
        let bad = json.replacen(from, to, 1);
        assert_ne!(bad, json);
        let message = de_error::<Campaign>(&bad);
        assert!(message.contains(want), "{bad}: {message}");
    }
}

#[test]
fn countdown_loses_whole_points() {
    let c = countdown();
    let at = |s: f64| c.discount_after(s).get();
    assert_eq!(at(0.0), 99);
    assert_eq!(at(0.999), 99);
    assert_eq!(at(1.0), 98);
    assert_eq!(at(37.4), 62);
    assert_eq!(at(88.9), 11);
    assert_eq!(at(89.0), 10);
    assert_eq!(at(1e9), 10);
    assert_eq!(at(f64::INFINITY), 10);
    assert_eq!(at(-5.0), 99);
    assert_eq!(at(f64::NAN), 99);
    let frozen = Countdown {
        decay_per_s: 0.0,
        ..c
    };
    assert_eq!(frozen.discount_after(1e6).get(), 99);
    let slow = Countdown {
        decay_per_s: 0.5,
        ..c
    };
    assert_eq!(slow.discount_after(3.0).get(), 98);
}

#[test]
fn offer_discount_by_state() {
    let live = offer(OfferState::Live);
    assert_eq!(live.discount_at(1_567_783_200.0), Some(pct(99)));
    assert_eq!(live.discount_at(1_567_783_237.4), Some(pct(62)));
    assert_eq!(live.discount_at(1_567_783_799.0), Some(pct(10)));
    assert_eq!(live.discount_at(1_567_783_800.0), None);
    let locked = offer(OfferState::Locked { pct: pct(62) });
    assert_eq!(locked.discount_at(1_567_783_700.0), Some(pct(62)));
    assert_eq!(locked.discount_at(1_567_783_900.0), None);
    assert_eq!(
        offer(OfferState::Expired).discount_at(1_567_783_300.0),
        None
    );
    let redeemed = offer(OfferState::Redeemed { pct: pct(62) });
    assert_eq!(redeemed.discount_at(1_567_783_300.0), None);
}

/// The README's examples: every JSON block, each read as the payload of the
/// topic written above it.
#[test]
fn readme_examples_parse() {
    let readme = include_str!("../README.md");
    let mut topic: Option<&str> = None;
    let mut block: Option<String> = None;
    let mut seen = Vec::new();
    for line in readme.lines() {
        if let Some(json) = block.as_mut() {
            if line.starts_with("```") {
                let topic = topic.expect("a JSON example without a topic above it");
                check_example(topic, json);
                seen.push(Topic::parse(topic).unwrap().kind());
                block = None;
            } else {
                json.push_str(line);
                json.push('\n');
            }
        } else if line.starts_with("```json") {
            block = Some(String::new());
        } else if let Some(t) = line
            .strip_prefix('`')
            .and_then(|t| t.strip_suffix('`'))
            .filter(|t| t.starts_with("aisle/"))
        {
            topic = Some(t);
        }
    }
    assert!(block.is_none(), "unterminated JSON block");
    for kind in TopicKind::ALL {
        assert!(seen.contains(&kind), "no README example for {kind:?}");
    }
    assert_eq!(seen.len(), readme.matches("```json").count());
}

/// Reads `json` as the payload of `topic`, checks that the identifiers in the
/// topic match the payload's, and that it round-trips.
fn check_example(topic: &str, json: &str) {
    fn read<T>(json: &str) -> T
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let value: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        round_trip(&value);
        value
    }
    let parsed = Topic::parse(topic).unwrap_or_else(|e| panic!("{topic}: {e}"));
    assert_eq!(parsed.store(), "reference-room");
    match parsed {
        Topic::Sightings { anchor, .. } => {
            assert_eq!(read::<Sighting>(json).anchor, anchor.as_str());
        }
        Topic::Positions { device, .. } => {
            assert_eq!(read::<Position>(json).device, device.as_str());
        }
        Topic::ZoneEvents { zone, device, .. } => {
            let event = read::<ZoneEvent>(json);
            assert_eq!(
                (event.zone.as_str(), event.device.as_str()),
                (zone.as_str(), device.as_str())
            );
        }
        Topic::ZoneOccupancy { zone, .. } => {
            assert_eq!(read::<ZoneOccupancy>(json).zone, zone.as_str());
        }
        Topic::Offers { shopper, .. } => {
            let offer = read::<Offer>(json);
            assert_eq!(offer.shopper, shopper.as_str());
            if let OfferState::Locked { pct } = offer.state {
                let elapsed = offer.ts - offer.start_ts;
                assert_eq!(offer.countdown.discount_after(elapsed), pct, "{json}");
            }
        }
        Topic::NodeStatus { node, .. } => {
            assert_eq!(read::<NodeStatus>(json).node, node.as_str());
        }
        Topic::GatewayStatus { .. } => {
            read::<GatewayStatus>(json);
        }
        Topic::Campaign { campaign, .. } => {
            assert_eq!(read::<Campaign>(json).campaign, campaign.as_str());
        }
    }
}

// Property tests. Times and coordinates are decimal fractions built from
// integers (milliseconds, centimetres), like real readings, so JSON's decimal
// text reads back to the same f64.

fn ts() -> impl Strategy<Value = f64> {
    (1_500_000_000_000u64..2_000_000_000_000).prop_map(ms_to_s)
}

#[allow(clippy::cast_precision_loss)] // below 2^53
fn ms_to_s(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn ident() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9_.:-]{1,64}", "[^/+#\\p{Cc}]{1,16}"]
}

fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,32}"
}

fn event_id() -> impl Strategy<Value = EventId> {
    any::<u128>().prop_map(EventId::from_u128)
}

fn countdowns() -> impl Strategy<Value = Countdown> {
    (0u8..=100, 0u8..=100, 0u32..10_000).prop_map(|(a, b, decay)| Countdown {
        start_pct: pct(a.max(b)),
        decay_per_s: f64::from(decay) / 100.0,
        floor_pct: pct(a.min(b)),
    })
}

fn sightings() -> impl Strategy<Value = Sighting> {
    (
        event_id(),
        ts(),
        ident(),
        proptest::option::of(ident()),
        -127i8..=20,
        proptest::option::of(0u8..=39),
        proptest::option::of(prop::collection::vec(any::<u8>(), 0..64)),
    )
        .prop_map(|(id, ts, anchor, device, rssi, channel, raw)| Sighting {
            v: SchemaVersion,
            id,
            ts,
            anchor,
            device,
            rssi: Rssi::new(rssi).unwrap(),
            channel: channel.map(|c| Channel::new(c).unwrap()),
            raw: raw.map(HexBytes),
        })
}

fn positions() -> impl Strategy<Value = Position> {
    (
        event_id(),
        ts(),
        ident(),
        -1_000_000i32..1_000_000,
        -1_000_000i32..1_000_000,
        proptest::option::of(ident()),
        0u16..=1000,
    )
        .prop_map(|(id, ts, device, x, y, zone, confidence)| Position {
            v: SchemaVersion,
            id,
            ts,
            device,
            x: f64::from(x) / 100.0,
            y: f64::from(y) / 100.0,
            zone,
            confidence: f64::from(confidence) / 1000.0,
        })
}

fn zone_events() -> impl Strategy<Value = ZoneEvent> {
    (
        event_id(),
        1_500_000_000_000u64..2_000_000_000_000,
        0u64..10_000_000,
        0u8..3,
        ident(),
        ident(),
    )
        .prop_map(|(id, ts_ms, dwell_ms, kind, device, zone)| {
            let dwell_s = ms_to_s(dwell_ms);
            ZoneEvent {
                v: SchemaVersion,
                id,
                kind: match kind {
                    0 => ZoneEventKind::Enter,
                    1 => ZoneEventKind::Dwell { dwell_s },
                    _ => ZoneEventKind::Exit { dwell_s },
                },
                ts: ms_to_s(ts_ms),
                device,
                zone,
                entered_at: ms_to_s(ts_ms - dwell_ms),
            }
        })
}

fn occupancies() -> impl Strategy<Value = ZoneOccupancy> {
    (event_id(), ts(), ident(), any::<u32>(), any::<u32>()).prop_map(
        |(id, ts, zone, known, anonymous)| ZoneOccupancy {
            v: SchemaVersion,
            id,
            ts,
            zone,
            known,
            anonymous,
        },
    )
}

fn node_statuses() -> impl Strategy<Value = NodeStatus> {
    (
        (event_id(), ts(), ident(), any::<bool>(), text()),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(-400i16..=1500),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
        ),
        (
            proptest::option::of(ts()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u64>()),
        ),
    )
        .prop_map(|((id, ts, node, online, firmware), metrics, link)| {
            let (uptime_s, battery_mv, temp, adverts_seen, queue_drops, by_node) = metrics;
            let (last_seen, by_gateway, crc_failures) = link;
            NodeStatus {
                v: SchemaVersion,
                id,
                ts,
                node,
                online,
                firmware,
                last_seen,
                uptime_s,
                battery_mv,
                temperature_c: temp.map(|t| f64::from(t) / 10.0),
                adverts_seen,
                queue_drops,
                crc_failures,
                frames_rejected_by_node: by_node,
                frames_rejected_by_gateway: by_gateway,
            }
        })
}

fn gateway_statuses() -> impl Strategy<Value = GatewayStatus> {
    (
        event_id(),
        ts(),
        any::<bool>(),
        text(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0u32..1_000_000),
    )
        .prop_map(
            |(id, ts, online, version, uptime_s, nodes_online, rate)| GatewayStatus {
                v: SchemaVersion,
                id,
                ts,
                online,
                version,
                uptime_s,
                nodes_online,
                sightings_per_s: rate.map(|r| f64::from(r) / 10.0),
            },
        )
}

fn offers() -> impl Strategy<Value = Offer> {
    (
        (event_id(), ident(), ident(), ident(), ident(), ident()),
        (
            1_500_000_000_000u64..2_000_000_000_000,
            0u64..1_000_000,
            1u64..10_000_000,
        ),
        countdowns(),
        (0u8..4, any::<prop::sample::Index>()),
    )
        .prop_map(|(ids, times, countdown, (state, at))| {
            let (id, offer, campaign, shopper, trigger_zone, target_zone) = ids;
            let (start_ms, since_ms, ttl_ms) = times;
            let lo = countdown.floor_pct.get();
            let span = usize::from(countdown.start_pct.get() - lo) + 1;
            let p = pct(lo + u8::try_from(at.index(span)).unwrap());
            Offer {
                v: SchemaVersion,
                id,
                ts: ms_to_s(start_ms + since_ms),
                offer,
                campaign,
                shopper,
                trigger_zone,
                target_zone,
                start_ts: ms_to_s(start_ms),
                expires_ts: ms_to_s(start_ms + ttl_ms),
                countdown,
                state: match state {
                    0 => OfferState::Live,
                    1 => OfferState::Locked { pct: p },
                    2 => OfferState::Expired,
                    _ => OfferState::Redeemed { pct: p },
                },
            }
        })
}

fn campaigns() -> impl Strategy<Value = Campaign> {
    (
        (
            event_id(),
            ts(),
            ident(),
            text(),
            any::<bool>(),
            ident(),
            ident(),
        ),
        countdowns(),
        1u32..1_000_000,
        proptest::option::of((1_500_000_000u32..2_000_000_000, 1u32..1_000_000)),
        any::<bool>(),
    )
        .prop_map(|(head, countdown, ttl, window, open_ended)| {
            let (id, ts, campaign, name, active, trigger_zone, target_zone) = head;
            let starts_ts = window.map(|(s, _)| f64::from(s));
            let ends_ts = window
                .filter(|_| !open_ended)
                .map(|(s, len)| f64::from(s) + f64::from(len));
            Campaign {
                v: SchemaVersion,
                id,
                ts,
                campaign,
                name,
                active,
                trigger_zone,
                target_zone,
                countdown,
                offer_ttl_s: f64::from(ttl) / 10.0,
                starts_ts,
                ends_ts,
            }
        })
}

proptest! {
    #[test]
    fn event_ids_round_trip(id in event_id()) {
        prop_assert_eq!(EventId::parse(&id.to_string()), Ok(id));
        prop_assert_eq!(EventId::from_bytes(id.to_bytes()), id);
    }

    #[test]
    fn event_id_parse_never_panics(text in any::<String>()) {
        if let Ok(id) = EventId::parse(&text) {
            prop_assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn sightings_round_trip(s in sightings()) { round_trip(&s); }

    #[test]
    fn positions_round_trip(p in positions()) { round_trip(&p); }

    #[test]
    fn zone_events_round_trip(e in zone_events()) { round_trip(&e); }

    #[test]
    fn occupancies_round_trip(o in occupancies()) { round_trip(&o); }

    #[test]
    fn node_statuses_round_trip(s in node_statuses()) { round_trip(&s); }

    #[test]
    fn gateway_statuses_round_trip(s in gateway_statuses()) { round_trip(&s); }

    #[test]
    fn offers_round_trip(o in offers()) { round_trip(&o); }

    #[test]
    fn campaigns_round_trip(c in campaigns()) { round_trip(&c); }

    #[test]
    fn countdown_stays_between_floor_and_start(c in countdowns(), elapsed in any::<f64>()) {
        let d = c.discount_after(elapsed);
        prop_assert!(c.floor_pct <= d && d <= c.start_pct);
    }

    #[test]
    fn reading_arbitrary_json_never_panics(json in "\\{[ -~]{0,200}\\}") {
        let _ = serde_json::from_str::<Sighting>(&json);
        let _ = serde_json::from_str::<ZoneEvent>(&json);
        let _ = serde_json::from_str::<ZoneOccupancy>(&json);
        let _ = serde_json::from_str::<Offer>(&json);
        let _ = serde_json::from_str::<Campaign>(&json);
    }
}
