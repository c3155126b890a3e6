//! The MQTT topic scheme: building, parsing, validation, filters.

use aisle_protocol::Error;
use aisle_protocol::topic::{
    MAX_SEGMENT_LEN, MAX_TOPIC_LEN, QoS, Segment, Topic, TopicKind, filter,
};
use proptest::prelude::*;

/// One topic of each kind, with its text.
fn examples() -> Vec<(Topic<'static>, &'static str)> {
    vec![
        (
            Topic::sightings("reference-room", "sensor22").unwrap(),
            "aisle/v1/reference-room/sightings/sensor22",
        ),
        (
            Topic::positions("reference-room", "beacon1").unwrap(),
            "aisle/v1/reference-room/positions/beacon1",
        ),
        (
            Topic::zone_events("reference-room", "B2", "beacon1").unwrap(),
            "aisle/v1/reference-room/zones/B2/events/beacon1",
        ),
        (
            Topic::zone_occupancy("reference-room", "B2").unwrap(),
            "aisle/v1/reference-room/zones/B2/occupancy",
        ),
        (
            Topic::offers("reference-room", "shopper-7f3a").unwrap(),
            "aisle/v1/reference-room/offers/shopper-7f3a",
        ),
        (
            Topic::node_status("reference-room", "node-04").unwrap(),
            "aisle/v1/reference-room/nodes/node-04/status",
        ),
        (
            Topic::gateway_status("reference-room").unwrap(),
            "aisle/v1/reference-room/gateway/status",
        ),
        (
            Topic::campaign("reference-room", "coffee-rush").unwrap(),
            "aisle/v1/reference-room/campaigns/coffee-rush",
        ),
    ]
}

#[test]
fn builds_and_parses_every_kind() {
    let examples = examples();
    let kinds: Vec<_> = examples.iter().map(|(t, _)| t.kind()).collect();
    assert_eq!(kinds, TopicKind::ALL);
    for (topic, text) in examples {
        assert_eq!(topic.to_string(), text);
        assert_eq!(Topic::parse(text), Ok(topic));
        assert_eq!(Topic::try_from(text), Ok(topic));
        assert_eq!(topic.store(), "reference-room");
        assert_eq!(topic.encoded_len(), text.len());
    }
}

#[test]
fn parse_borrows_segments() {
    let text = String::from("aisle/v1/s1/zones/A1/events/dev-9");
    let Ok(Topic::ZoneEvents {
        store,
        zone,
        device,
    }) = Topic::parse(&text)
    else {
        panic!("not a zone event topic");
    };
    assert_eq!(
        (store.as_str(), zone.as_str(), device.as_str()),
        ("s1", "A1", "dev-9")
    );
    assert_eq!(zone.as_str().as_ptr(), text[18..].as_ptr());
}

#[test]
fn encodes_into_a_buffer() {
    for (topic, text) in examples() {
        let mut buf = [0u8; MAX_TOPIC_LEN];
        let n = topic.encode(&mut buf).unwrap();
        assert_eq!(&buf[..n], text.as_bytes());

        let mut short = vec![0u8; text.len() - 1];
        assert_eq!(
            topic.encode(&mut short),
            Err(Error::BufferTooSmall {
                what: "topic",
                need: text.len(),
                got: text.len() - 1
            })
        );
    }
}

#[test]
fn longest_topic_fits_max_topic_len() {
    // The README gives the figure.
    assert_eq!(MAX_TOPIC_LEN, 216);
    let long = "x".repeat(MAX_SEGMENT_LEN);
    let topic = Topic::zone_events(&long, &long, &long).unwrap();
    assert_eq!(topic.encoded_len(), MAX_TOPIC_LEN);
    let mut buf = [0u8; MAX_TOPIC_LEN];
    assert_eq!(topic.encode(&mut buf), Ok(MAX_TOPIC_LEN));
}

#[test]
fn qos_retain_and_will_per_kind() {
    use TopicKind::*;
    let table = [
        (Sightings, QoS::AtMostOnce, false, false),
        (Positions, QoS::AtMostOnce, false, false),
        (ZoneEvents, QoS::AtLeastOnce, false, false),
        (ZoneOccupancy, QoS::AtMostOnce, true, false),
        (Offers, QoS::AtLeastOnce, true, false),
        (NodeStatus, QoS::AtLeastOnce, true, true),
        (GatewayStatus, QoS::AtLeastOnce, true, true),
        (Campaign, QoS::AtLeastOnce, true, false),
    ];
    for (kind, qos, retain, will) in table {
        assert_eq!(
            (kind.qos(), kind.retain(), kind.last_will()),
            (qos, retain, will),
            "{kind:?}"
        );
    }
    assert_eq!(QoS::AtMostOnce.level(), 0);
    assert_eq!(QoS::AtLeastOnce.level(), 1);
    assert_eq!(QoS::ExactlyOnce.level(), 2);
    let topic = Topic::positions("s", "d").unwrap();
    assert_eq!((topic.qos(), topic.retain()), (QoS::AtMostOnce, false));
    let topic = Topic::zone_occupancy("s", "z").unwrap();
    assert_eq!((topic.qos(), topic.retain()), (QoS::AtMostOnce, true));
}

fn topic_error(level: usize, reason: &'static str) -> Result<Topic<'static>, Error> {
    Err(Error::Topic { reason, level })
}

#[test]
fn parse_rejects_with_the_level() {
    let long = format!("aisle/v1/s/positions/{}", "d".repeat(MAX_SEGMENT_LEN + 1));
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "expected `aisle`"),
        ("aisle", 1, "missing level"),
        ("Aisle/v1/s/gateway/status", 0, "expected `aisle`"),
        (
            "aisle/v2/s/gateway/status",
            1,
            "unsupported topic scheme version",
        ),
        ("aisle/v1", 2, "missing level"),
        ("aisle/v1//gateway/status", 2, "empty level"),
        ("aisle/v1/+/gateway/status", 2, "contains the wildcard `+`"),
        ("aisle/v1/#", 2, "contains the wildcard `#`"),
        ("aisle/v1/s\0/gateway/status", 2, "contains NUL"),
        (
            "aisle/v1/s\n/gateway/status",
            2,
            "contains a control character",
        ),
        ("aisle/v1/s", 3, "missing level"),
        ("aisle/v1/s/lights/l1", 3, "unknown topic kind"),
        ("aisle/v1/s/sightings", 4, "missing level"),
        ("aisle/v1/s/sightings/", 4, "empty level"),
        ("aisle/v1/s/positions/d/", 5, "unexpected level"),
        (&long, 4, "level longer than 64 bytes"),
        (
            "aisle/v1/s/zones/+/events/d",
            4,
            "contains the wildcard `+`",
        ),
        ("aisle/v1/s/zones/A1", 5, "missing level"),
        (
            "aisle/v1/s/zones/A1/evnts/d",
            5,
            "expected `events` or `occupancy`",
        ),
        (
            "aisle/v1/s/zones/A1/",
            5,
            "expected `events` or `occupancy`",
        ),
        ("aisle/v1/s/zones//occupancy", 4, "empty level"),
        (
            "aisle/v1/s/zones/+/occupancy",
            4,
            "contains the wildcard `+`",
        ),
        ("aisle/v1/s/zones/A1/occupancy/x", 6, "unexpected level"),
        ("aisle/v1/s/zones/A1/occupancy/", 6, "unexpected level"),
        ("aisle/v1/s/zones/A1/events", 6, "missing level"),
        (
            "aisle/v1/s/zones/A1/events/#",
            6,
            "contains the wildcard `#`",
        ),
        ("aisle/v1/s/zones/A1/events/d/x", 7, "unexpected level"),
        ("aisle/v1/s/nodes/n1", 5, "missing level"),
        ("aisle/v1/s/nodes/n1/state", 5, "expected `status`"),
        ("aisle/v1/s/gateway", 4, "missing level"),
        ("aisle/v1/s/gateway/health", 4, "expected `status`"),
        ("aisle/v1/s/gateway/status/x", 5, "unexpected level"),
        ("aisle/v1/s/offers/sh/x", 5, "unexpected level"),
        ("aisle/v1/s/campaigns", 4, "missing level"),
    ];
    for &(text, level, reason) in cases {
        assert_eq!(Topic::parse(text), topic_error(level, reason), "{text:?}");
    }
}

#[test]
fn builders_reject_with_the_level() {
    assert_eq!(Topic::sightings("a/b", "x"), topic_error(2, "contains `/`"));
    assert_eq!(Topic::sightings("s", ""), topic_error(4, "empty level"));
    assert_eq!(
        Topic::positions("s", "d+"),
        topic_error(4, "contains the wildcard `+`")
    );
    assert_eq!(
        Topic::zone_events("s", "#", "d"),
        topic_error(4, "contains the wildcard `#`")
    );
    assert_eq!(
        Topic::zone_events("s", "z", "d/e"),
        topic_error(6, "contains `/`")
    );
    assert_eq!(
        Topic::zone_occupancy("s", "A/1"),
        topic_error(4, "contains `/`")
    );
    assert_eq!(
        Topic::zone_occupancy("+", "A1"),
        topic_error(2, "contains the wildcard `+`")
    );
    assert_eq!(Topic::offers("s", "\0"), topic_error(4, "contains NUL"));
    assert_eq!(
        Topic::node_status("s", "\u{7f}"),
        topic_error(4, "contains a control character")
    );
    assert_eq!(Topic::gateway_status(""), topic_error(2, "empty level"));
    let long = "c".repeat(MAX_SEGMENT_LEN + 1);
    assert_eq!(
        Topic::campaign("s", &long),
        topic_error(4, "level longer than 64 bytes")
    );
    assert!(Topic::campaign("s", &long[1..]).is_ok());
    assert_eq!(
        Segment::new("a+b"),
        Err(Error::Topic {
            reason: "contains the wildcard `+`",
            level: 0
        })
    );
    assert_eq!(Segment::new("größe").unwrap().as_str(), "größe");
}

#[test]
fn filters() {
    let s = "reference-room";
    let cases = [
        (filter::everything(s), "aisle/v1/reference-room/#"),
        (
            filter::all_sightings(s),
            "aisle/v1/reference-room/sightings/+",
        ),
        (
            filter::all_positions(s),
            "aisle/v1/reference-room/positions/+",
        ),
        (
            filter::all_zone_events(s),
            "aisle/v1/reference-room/zones/+/events/+",
        ),
        (
            filter::zone_events(s, "B2"),
            "aisle/v1/reference-room/zones/B2/events/+",
        ),
        (
            filter::device_zone_events(s, "beacon1"),
            "aisle/v1/reference-room/zones/+/events/beacon1",
        ),
        (
            filter::all_occupancy(s),
            "aisle/v1/reference-room/zones/+/occupancy",
        ),
        (filter::all_offers(s), "aisle/v1/reference-room/offers/+"),
        (
            filter::all_node_status(s),
            "aisle/v1/reference-room/nodes/+/status",
        ),
        (
            filter::all_campaigns(s),
            "aisle/v1/reference-room/campaigns/+",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.as_deref(), Ok(want));
    }
    assert_eq!(
        filter::all_zone_events("+"),
        Err(Error::Topic {
            reason: "contains the wildcard `+`",
            level: 2
        })
    );
    assert_eq!(
        filter::all_occupancy("a/b"),
        Err(Error::Topic {
            reason: "contains `/`",
            level: 2
        })
    );
    assert_eq!(
        filter::zone_events("s", ""),
        Err(Error::Topic {
            reason: "empty level",
            level: 4
        })
    );
    assert_eq!(
        filter::device_zone_events("s", "#"),
        Err(Error::Topic {
            reason: "contains the wildcard `#`",
            level: 6
        })
    );
}

/// MQTT topic filter matching (MQTT 3.1.1 section 4.7), enough for the tests.
fn matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) | (None, None) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

#[test]
fn each_filter_selects_its_topics() {
    let s = "reference-room";
    for (topic, text) in examples() {
        let kind = topic.kind();
        let wanted = [
            (filter::everything(s).unwrap(), true),
            (
                filter::all_sightings(s).unwrap(),
                kind == TopicKind::Sightings,
            ),
            (
                filter::all_positions(s).unwrap(),
                kind == TopicKind::Positions,
            ),
            (
                filter::all_zone_events(s).unwrap(),
                kind == TopicKind::ZoneEvents,
            ),
            (
                filter::zone_events(s, "B2").unwrap(),
                kind == TopicKind::ZoneEvents,
            ),
            (filter::zone_events(s, "C3").unwrap(), false),
            (
                filter::device_zone_events(s, "beacon1").unwrap(),
                kind == TopicKind::ZoneEvents,
            ),
            (filter::device_zone_events(s, "beacon2").unwrap(), false),
            (
                filter::all_occupancy(s).unwrap(),
                kind == TopicKind::ZoneOccupancy,
            ),
            (filter::all_offers(s).unwrap(), kind == TopicKind::Offers),
            (
                filter::all_node_status(s).unwrap(),
                kind == TopicKind::NodeStatus,
            ),
            (
                filter::all_campaigns(s).unwrap(),
                kind == TopicKind::Campaign,
            ),
            (filter::everything("other-store").unwrap(), false),
        ];
        for (filter, want) in wanted {
            assert_eq!(matches(&filter, text), want, "{filter} on {text}");
        }
    }
}

/// Valid segments: any text without `/`, wildcards or control characters, up
/// to 16 characters (at most 64 bytes), plus ASCII identifiers up to the cap.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof!["[^/+#\\p{Cc}]{1,16}", "[A-Za-z0-9_.:-]{1,64}",]
}

/// Builds a topic of kind `k` (0..8) from three segments.
fn build<'a>(k: u8, a: &'a str, b: &'a str, c: &'a str) -> Result<Topic<'a>, Error> {
    match k {
        0 => Topic::sightings(a, b),
        1 => Topic::positions(a, b),
        2 => Topic::zone_events(a, b, c),
        3 => Topic::offers(a, b),
        4 => Topic::node_status(a, b),
        5 => Topic::gateway_status(a),
        6 => Topic::campaign(a, b),
        _ => Topic::zone_occupancy(a, b),
    }
}

#[test]
fn build_covers_every_kind() {
    let built: Vec<_> = (0..8)
        .map(|k| build(k, "s", "a", "b").unwrap().kind())
        .collect();
    for kind in TopicKind::ALL {
        assert!(built.contains(&kind), "{kind:?} not generated");
    }
}

/// The level of the segment built from the `i`th argument of [`build`].
fn level_of(k: u8, i: usize) -> usize {
    match (k, i) {
        (_, 0) => 2,
        (2, 2) => 6,
        _ => 4,
    }
}

/// Text that looks like topics, to get past the first levels.
fn topicish() -> impl Strategy<Value = String> {
    let level = prop_oneof![
        Just("aisle".to_owned()),
        Just("v1".to_owned()),
        Just("zones".to_owned()),
        Just("events".to_owned()),
        Just("occupancy".to_owned()),
        Just("nodes".to_owned()),
        Just("status".to_owned()),
        Just("gateway".to_owned()),
        Just("sightings".to_owned()),
        Just(String::new()),
        Just("+".to_owned()),
        Just("#".to_owned()),
        ".{0,70}",
    ];
    prop::collection::vec(level, 0..10).prop_map(|levels| {
        let mut text = "aisle/v1/".to_owned();
        text.push_str(&levels.join("/"));
        text
    })
}

proptest! {
    #[test]
    fn round_trips(k in 0u8..8, a in segment(), b in segment(), c in segment()) {
        let topic = build(k, &a, &b, &c).unwrap();
        let text = topic.to_string();
        prop_assert_eq!(Topic::parse(&text), Ok(topic));
        prop_assert_eq!(topic.encoded_len(), text.len());
        prop_assert!(text.len() <= MAX_TOPIC_LEN);
        let mut buf = [0u8; MAX_TOPIC_LEN];
        let n = topic.encode(&mut buf).unwrap();
        prop_assert_eq!(&buf[..n], text.as_bytes());
    }

    #[test]
    fn rejects_a_bad_segment_at_its_level(
        k in 0u8..8,
        segs in [segment(), segment(), segment()],
        which in 0usize..3,
        bad in prop_oneof![Just('/'), Just('+'), Just('#'), Just('\0'), Just('\u{1b}')],
        at in any::<prop::sample::Index>(),
    ) {
        // Only arguments the kind uses can be wrong.
        let used = match k { 2 => 3, 5 => 1, _ => 2 };
        let which = which % used;
        let mut segs = segs;
        let chars: Vec<char> = segs[which].chars().collect();
        let pos = at.index(chars.len() + 1);
        let mut broken: String = chars[..pos].iter().collect();
        broken.push(bad);
        broken.extend(&chars[pos..]);
        segs[which] = broken;
        let got = build(k, &segs[0], &segs[1], &segs[2]);
        let level = level_of(k, which);
        prop_assert!(
            matches!(got, Err(Error::Topic { level: l, .. }) if l == level),
            "{:?} for level {}", got, level
        );
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        if let Ok(topic) = Topic::parse(&text) {
            prop_assert_eq!(topic.to_string(), text);
        }
    }

    #[test]
    fn parse_never_panics_on_near_topics(text in topicish()) {
        // A topic parses only if writing it back gives the same text.
        if let Ok(topic) = Topic::parse(&text) {
            prop_assert_eq!(topic.to_string(), text);
        }
    }
}
