//! The beacon role on the air: every packet de-whitens on its channel,
//! passes its CRC and decodes; frames rotate; intervals carry the spec's
//! advDelay.

mod support;

use aisle_firmware::protocol::beacon::Frame;
use aisle_firmware::protocol::link::{BeaconIdentity, Role};
use aisle_firmware::protocol::ll::{
    ADV_CRC_INIT, AddressType, AdvPdu, Channel, DeviceAddress, check_crc24, whiten,
};
use aisle_firmware::settings::{self, Settings};
use aisle_firmware::{EDDYSTONE_0M_ABOVE_1M_DB, LOSS_AT_1M_DB, MAX_ADV_DELAY_MS};
use support::{BATTERY_MV, FLASH_RANGE, Flash, Medium, Sim, TEMPERATURE_CENTI_C};

const RUN_MS: u64 = 10_000;
const INTERVAL_MS: u16 = 200;
const TX_DBM: i8 = -4;

/// One decoded packet: when, where, from whom, what.
struct Sent {
    at_us: u64,
    channel: Channel,
    tx_power: i8,
    address: DeviceAddress,
    data: Vec<u8>,
}

fn beacon_run(identity: BeaconIdentity, seed: u64) -> Vec<Sent> {
    let sim = Sim::new(Medium::new(1));
    let mut flash = Flash::new();
    let settings = Settings {
        node_id: 5,
        key: [5; 16],
        role: Role::Beacon,
        tx_power_dbm: TX_DBM,
        adv_interval_ms: INTERVAL_MS,
        identity,
        ..Settings::FACTORY
    };
    sim.block_on(settings::store(&mut flash, FLASH_RANGE, &settings), 1)
        .unwrap();
    let node = sim.node(&mut flash, (0.0, 0.0), seed);
    sim.run_node(node, sim.sleep_ms(RUN_MS), RUN_MS + 1)
        .unwrap();
    let w = sim.0.borrow();
    w.transmitted
        .iter()
        .map(|(at_us, channel, tx_power, air)| {
            let mut air = air.clone();
            whiten(*channel, &mut air);
            let pdu = check_crc24(ADV_CRC_INIT, &air).expect("CRC after de-whitening");
            let AdvPdu::AdvNonconnInd { adv_a, data } = AdvPdu::decode(pdu).unwrap() else {
                panic!("not ADV_NONCONN_IND");
            };
            Sent {
                at_us: *at_us,
                channel: *channel,
                tx_power: *tx_power,
                address: adv_a,
                data: data.to_vec(),
            }
        })
        .collect()
}

const UUID: [u8; 16] = *b"Aisle beacon 001";

#[test]
fn beacon_rotates_ibeacon_uid_and_tlm_on_all_three_channels() {
    let sent = beacon_run(
        BeaconIdentity::IBeacon {
            uuid: UUID,
            major: 0x0102,
            minor: 0x0304,
        },
        77,
    );
    assert_eq!(sent.len() % 3, 0);
    let events: Vec<&[Sent]> = sent.chunks(3).collect();
    // 10 s at 200 ms plus 0-10 ms: 48 to 50 events.
    assert!((47..=50).contains(&events.len()), "{}", events.len());
    let address = sent[0].address;
    assert_eq!(address.kind, AddressType::Random);
    assert_eq!(address.bytes[5] & 0xC0, 0xC0, "static random address");

    let measured_1m = TX_DBM - LOSS_AT_1M_DB;
    for (k, event) in events.iter().enumerate() {
        let channels: Vec<u8> = event.iter().map(|p| p.channel.index()).collect();
        assert_eq!(channels, [37, 38, 39], "event {k}");
        assert!(
            event
                .iter()
                .all(|p| p.tx_power == TX_DBM && p.address == address)
        );
        assert!(
            event.iter().all(|p| p.data == event[0].data),
            "one event, one frame"
        );
        let frame = Frame::classify(&event[0].data).unwrap();
        match (k % 3, frame) {
            (0, Frame::IBeacon(b)) => {
                assert_eq!(b.uuid.0, UUID);
                assert_eq!((b.major, b.minor), (0x0102, 0x0304));
                assert_eq!(b.measured_power, measured_1m);
            }
            (1, Frame::EddystoneUid(u)) => {
                // The UUID elided (first 4, last 6 bytes); major and minor.
                assert_eq!(u.namespace[..4], UUID[..4]);
                assert_eq!(u.namespace[4..], UUID[10..]);
                assert_eq!(u.instance, [0, 0, 1, 2, 3, 4]);
                assert_eq!(u.tx_power, measured_1m + EDDYSTONE_0M_ABOVE_1M_DB);
            }
            (2, Frame::EddystoneTlm(t)) => {
                assert_eq!(t.battery_mv, BATTERY_MV);
                assert_eq!(
                    t.temperature_8_8,
                    i16::try_from(i32::from(TEMPERATURE_CENTI_C) * 256 / 100).unwrap()
                );
                assert_eq!(t.adv_count as usize, 3 * k, "PDUs sent before this event");
                assert_eq!(u64::from(t.uptime_deciseconds), event[0].at_us / 100_000);
            }
            (slot, frame) => panic!("event {k}: slot {slot} carried {frame:?}"),
        }
    }

    // Each event starts an interval plus 0 to 10 ms after the last. The
    // node's clock counts whole milliseconds, so an event starts up to 1 ms
    // after its schedule (and the schedule does not drift).
    let gaps: Vec<u64> = events
        .windows(2)
        .map(|w| w[1][0].at_us - w[0][0].at_us)
        .collect();
    let interval = u64::from(INTERVAL_MS) * 1000;
    let spec = interval - 1000..interval + MAX_ADV_DELAY_MS * 1000 + 1000;
    assert!(gaps.iter().all(|g| spec.contains(g)), "{gaps:?}");
    let span = events.last().unwrap()[0].at_us - events[0][0].at_us;
    let mean_gap = span / (events.len() as u64 - 1);
    assert!(
        (interval + 3_000..interval + 7_000).contains(&mean_gap),
        "mean advDelay off its 5 ms: {mean_gap} µs"
    );
    let gaps: Vec<u64> = gaps.iter().map(|g| g / 1000).collect();
    let mut distinct = gaps.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() >= 6, "advDelay hardly varies: {gaps:?}");

    // Another node's seed: another address and other delays.
    let other = beacon_run(
        BeaconIdentity::IBeacon {
            uuid: UUID,
            major: 0x0102,
            minor: 0x0304,
        },
        78,
    );
    assert_ne!(other[0].address, address);
    let other_gaps: Vec<u64> = other
        .chunks(3)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| (w[1][0].at_us - w[0][0].at_us) / 1000)
        .collect();
    assert_ne!(other_gaps[..20], gaps[..20]);
}

#[test]
fn eddystone_identity_gives_the_matching_ibeacon_and_none_gives_telemetry_only() {
    let namespace = *b"aisle-ns-1";
    let sent = beacon_run(
        BeaconIdentity::EddystoneUid {
            namespace,
            instance: [0, 0, 0, 9, 0, 10],
        },
        3,
    );
    match Frame::classify(&sent[0].data).unwrap() {
        Frame::IBeacon(b) => {
            assert_eq!(b.uuid.0[..4], namespace[..4]);
            assert_eq!(b.uuid.0[4..10], [0; 6]);
            assert_eq!(b.uuid.0[10..], namespace[4..]);
            assert_eq!((b.major, b.minor), (9, 10));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Frame::classify(&sent[3].data).unwrap(),
        Frame::EddystoneUid(u) if u.namespace == namespace
    ));

    let sent = beacon_run(BeaconIdentity::None, 3);
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|p| matches!(Frame::classify(&p.data), Ok(Frame::EddystoneTlm(_))))
    );
}
