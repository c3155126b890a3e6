//! Device numbers are recycled as the engine forgets devices: over a long
//! run of phones whose random addresses rotate, and of shoppers whose
//! recorded identifiers rotate, the device table and the engine stay as
//! small as the crowd, and no event is ever named after another device.

use std::collections::BTreeMap;
use std::sync::Arc;

use aisle_gateway::engine::{EngineConfig, Output, PresenceKind};
use aisle_gateway::identify::IdentifyConfig;
use aisle_gateway::layout::Layout;
use aisle_gateway::pipeline::{Pipeline, SourceSighting, Subject};
use aisle_protocol::beacon::FrameKind;

const LAYOUT: &str = r#"
[store]
id = "s1"
timezone = "UTC"
[[anchor]]
id = "a"
x = 0.0
y = 0.0
[[anchor]]
id = "b"
x = 8.0
y = 0.0
[[anchor]]
id = "c"
x = 4.0
y = 6.0
[[zone]]
id = "floor"
polygon = [[0.0, 0.0], [8.0, 0.0], [8.0, 6.0], [0.0, 6.0]]
"#;

const START: f64 = 1_767_225_600.0;
/// Six hours, a sighting round every 2 s, a tick every second.
const HOURS: u32 = 6;
const ROUND_S: u32 = 2;
/// Phones advertising from a random address that rotates every 10 min.
const PHONES: u32 = 8;
const PHONE_ROTATION_S: u32 = 600;
/// Shoppers recorded under an identifier that rotates every 20 min.
const SHOPPERS: u32 = 4;
const SHOPPER_ROTATION_S: u32 = 1200;

/// Everyone in the store at second `t` of the run, and whom each is.
fn crowd(t: u32) -> impl Iterator<Item = Subject> {
    let phones = (0..PHONES).map(move |k| {
        // Staggered, as real phones' rotations are.
        let epoch = (t + k * 73) / PHONE_ROTATION_S;
        let mut address = [0xc0, 0, 0, 0, 0, 0];
        address[1..5].copy_from_slice(&epoch.to_be_bytes());
        address[5] = u8::try_from(k).unwrap();
        Subject::Heard {
            kind: FrameKind::Apple,
            identity: None,
            address: Some(address),
        }
    });
    let shoppers = (0..SHOPPERS).map(move |k| {
        let epoch = (t + k * 311) / SHOPPER_ROTATION_S;
        Subject::Device(Arc::from(format!("shopper-{k}-{epoch}")))
    });
    phones.chain(shoppers)
}

/// When shopper name `name` was last in the store (the end of its epoch).
fn last_heard(name: &str) -> f64 {
    let mut parts = name.split('-').skip(1);
    let k: u32 = parts.next().unwrap().parse().unwrap();
    let epoch: u32 = parts.next().unwrap().parse().unwrap();
    // The name is used from second epoch*R - k*311 to (epoch+1)*R - k*311.
    let end = (epoch + 1) * SHOPPER_ROTATION_S;
    START + f64::from(end.saturating_sub(k * 311))
}

#[test]
fn a_long_run_of_rotating_names_keeps_the_table_as_small_as_the_crowd() {
    let layout = Layout::parse(LAYOUT, "test").unwrap();
    let config = EngineConfig::default();
    let mut pipeline =
        Pipeline::new(&layout, &IdentifyConfig::default(), &[], config, START).unwrap();
    let mut out = Vec::new();
    let (mut most_slots, mut most_tracked) = (0, 0);
    // Each shopper name's events, as named when they were decided.
    let mut events: BTreeMap<String, Vec<(PresenceKind, f64)>> = BTreeMap::new();
    let mut positions = 0u64;
    let mut name_outputs = |pipeline: &Pipeline, out: &mut Vec<Output>| {
        for o in out.drain(..) {
            match o {
                Output::Presence(e) => {
                    let name = pipeline.device_name(e.device).unwrap().to_owned();
                    events.entry(name).or_default().push((e.kind, e.ts));
                }
                Output::Position(p) => {
                    // Every fix names a device, never a freed number.
                    assert!(pipeline.device_name(p.device).is_some());
                    positions += 1;
                }
            }
        }
    };
    for t in 0..HOURS * 3600 {
        let ts = START + f64::from(t);
        if t % ROUND_S == 0 {
            for (i, subject) in (0u32..).zip(crowd(t)) {
                for (anchor, rssi) in [("a", -60.0), ("b", -68.0), ("c", -66.0)] {
                    let s = SourceSighting {
                        ts: ts + 0.01 * f64::from(i),
                        anchor: anchor.into(),
                        subject: subject.clone(),
                        rssi,
                    };
                    pipeline.push(&s, &mut out).unwrap();
                }
            }
            name_outputs(&pipeline, &mut out);
        }
        pipeline.tick(ts + 0.5, &mut out);
        name_outputs(&pipeline, &mut out);
        most_slots = most_slots.max(pipeline.devices().slots());
        most_tracked = most_tracked.max(pipeline.engine().tracked());
    }
    // Everyone leaves: the last names exit and are forgotten too.
    let end = START + f64::from(HOURS * 3600);
    for t in 0..=125 {
        pipeline.tick(end + f64::from(t), &mut out);
        name_outputs(&pipeline, &mut out);
    }
    assert_eq!(pipeline.engine().tracked(), 0);
    assert!(pipeline.devices().is_empty());

    let names = u64::from(PHONES * HOURS * 3600 / PHONE_ROTATION_S)
        + u64::from(SHOPPERS * HOURS * 3600 / SHOPPER_ROTATION_S);
    let handed_out = pipeline.devices().handed_out();
    println!(
        "{handed_out} names over {HOURS} h; at most {most_slots} numbers, {most_tracked} \
         tracks; table {} bytes; {positions} positions",
        pipeline.devices().heap_bytes()
    );
    // Every rotation brought a new name (plus the first, staggered epochs).
    assert!(handed_out >= names, "{handed_out} < {names}");
    // A name stays `forget_after_s` (120 s) after its last sighting, and
    // its number one tick more: at most two names per person at a time.
    let crowd = (PHONES + SHOPPERS) as usize;
    assert!(most_slots <= 2 * crowd, "{most_slots} numbers for {crowd}");
    assert!(most_tracked <= 2 * crowd, "{most_tracked} tracks");
    assert!(pipeline.devices().len() <= 2 * crowd);

    // Each shopper name entered once and exited once, while it was about:
    // an event named after the wrong device would fall outside its time.
    let absence = config.presence.absence_s;
    let mut shoppers_named = 0u64;
    for (name, kinds) in &events {
        let entered: Vec<_> = kinds
            .iter()
            .filter(|(k, _)| *k == PresenceKind::Enter)
            .collect();
        let exited: Vec<_> = kinds
            .iter()
            .filter(|(k, _)| *k == PresenceKind::Exit)
            .collect();
        assert!(name.starts_with("shopper-"), "{name} published");
        assert_eq!((entered.len(), exited.len()), (1, 1), "{name}: {kinds:?}");
        let end = last_heard(name);
        for &(kind, ts) in kinds {
            assert!(
                ts <= end + absence + 3.0,
                "{name} {kind:?} at {ts}, gone at {end}"
            );
        }
        shoppers_named += 1;
    }
    assert!(shoppers_named >= u64::from(SHOPPERS * HOURS * 3600 / SHOPPER_ROTATION_S));
}

#[test]
fn a_device_first_heard_in_a_refused_sighting_leaves_nothing_behind() {
    let layout = Layout::parse(LAYOUT, "test").unwrap();
    let mut pipeline = Pipeline::new(
        &layout,
        &IdentifyConfig::default(),
        &[],
        EngineConfig::default(),
        START,
    )
    .unwrap();
    let mut out = Vec::new();
    for (k, anchor) in ["nowhere", "a"].into_iter().enumerate() {
        let phone = SourceSighting {
            ts: START,
            anchor: anchor.into(),
            subject: Subject::Heard {
                kind: FrameKind::Apple,
                identity: None,
                address: Some([0xc0, 1, 2, 3, 4, u8::try_from(k).unwrap()]),
            },
            // Refused on the known anchor for its reading.
            rssi: if k == 0 { -60.0 } else { f64::NAN },
        };
        let shopper = SourceSighting {
            subject: Subject::Device(Arc::from(format!("shopper-{k}"))),
            ..phone.clone()
        };
        assert!(pipeline.push(&phone, &mut out).is_err());
        assert!(pipeline.push(&shopper, &mut out).is_err());
    }
    // Neither a name nor a track stays; the next tick frees the numbers.
    assert!(pipeline.devices().is_empty());
    assert_eq!(pipeline.engine().tracked(), 0);
    pipeline.tick(START + 1.0, &mut out);
    let s = SourceSighting {
        ts: START + 1.0,
        anchor: "a".into(),
        subject: Subject::Device(Arc::from("shopper-9")),
        rssi: -60.0,
    };
    pipeline.push(&s, &mut out).unwrap();
    // Four numbers were handed out and freed: the fifth device reuses one.
    assert_eq!(pipeline.devices().slots(), 4, "a freed number is reused");
    assert_eq!(pipeline.devices().len(), 1);
}
