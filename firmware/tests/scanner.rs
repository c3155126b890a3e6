//! The scanner role on a simulated floor: what its batches say, opened with
//! the gateway-side protocol API, against what its radio heard and against
//! the ground truth of who was there.

mod support;

use std::collections::BTreeMap;

use aisle_firmware::SIGHTING_CAPACITY;
use aisle_firmware::hw::air_time_us;
use aisle_firmware::protocol::beacon::Frame;
use aisle_firmware::protocol::link::{FrameKind, Status, address_identity};
use aisle_firmware::protocol::ll::{ADV_CRC_INIT, AdvPdu, Channel, check_crc24, whiten};
use aisle_firmware::settings::{self, Settings};
use support::air::random_address;
use support::{Emitter, FLASH_RANGE, Flash, Gateway, Heard, Medium, OwnedSighting, Sim};

const KEY: [u8; 16] = [0x33; 16];
const NODE: u32 = 12;
/// Advertisers stop here; the node runs on so its last Status covers all.
const QUIET_FROM_MS: u64 = 9_500;
const RUN_MS: u64 = 20_500;

type Key = (FrameKind, u8, Vec<u8>);

/// What the radio delivered, aggregated per (kind, channel, identity) for
/// each window, decoded independently of the node with the protocol crate.
/// A packet belongs to the window its transmission started in.
fn oracle(sim: &Sim, start_ms: u64, len_ms: u16) -> BTreeMap<Key, (i8, i8, i64, u16)> {
    let mut out: BTreeMap<Key, (i8, i8, i64, u16)> = BTreeMap::new();
    let w = sim.0.borrow();
    for (end_us, channel, rssi, bytes) in &w.received {
        let sent_us = end_us - air_time_us(bytes.len());
        if sent_us < start_ms * 1000 || sent_us >= (start_ms + u64::from(len_ms)) * 1000 {
            continue;
        }
        let Some((kind, identity)) = decode(*channel, bytes) else {
            continue;
        };
        let e = out
            .entry((kind, channel.index(), identity))
            .or_insert((*rssi, *rssi, 0, 0));
        e.0 = e.0.min(*rssi);
        e.1 = e.1.max(*rssi);
        e.2 += i64::from(*rssi);
        e.3 += 1;
    }
    out
}

fn decode(channel: Channel, air: &[u8]) -> Option<(FrameKind, Vec<u8>)> {
    let mut air = air.to_vec();
    whiten(channel, &mut air);
    let len = 2 + usize::from(*air.get(1)?) + 3;
    let pdu = check_crc24(ADV_CRC_INIT, air.get(..len)?).ok()?;
    let pdu = AdvPdu::decode(pdu).ok()?;
    let frame = Frame::classify(pdu.adv_data()).unwrap_or(Frame::Unknown);
    let identity = match frame.identity() {
        Some(id) => id.as_bytes().to_vec(),
        None => address_identity(pdu.advertiser()).to_vec(),
    };
    Some((frame.kind(), identity))
}

/// Whether an air packet's CRC-24 holds on `channel` (de-whitened, cut at
/// the length its header gives).
fn crc_holds(channel: Channel, air: &[u8]) -> bool {
    let mut air = air.to_vec();
    whiten(channel, &mut air);
    let Some(&length) = air.get(1) else {
        return false;
    };
    air.get(..2 + usize::from(length) + 3)
        .is_some_and(|packet| check_crc24(ADV_CRC_INIT, packet).is_ok())
}

/// Each window's sightings, from however many batch frames it took.
fn batches(heard: &[Heard]) -> Vec<(u64, u16, Vec<OwnedSighting>)> {
    let mut windows: Vec<(u64, u16, Vec<OwnedSighting>)> = Vec::new();
    for h in heard {
        if let Heard::Batch {
            window_start_ms,
            window_len_ms,
            sightings,
            ..
        } = h
        {
            match windows.last_mut() {
                Some(w) if w.0 == *window_start_ms => {
                    assert_eq!(w.1, *window_len_ms);
                    w.2.extend(sightings.iter().cloned());
                }
                _ => windows.push((*window_start_ms, *window_len_ms, sightings.clone())),
            }
        }
    }
    windows
}

fn last_status(heard: &[Heard]) -> Status {
    heard
        .iter()
        .rev()
        .find_map(|h| match h {
            Heard::Status(_, s) => Some(*s),
            _ => None,
        })
        .unwrap()
}

fn run_scanner(medium: Medium, seed: u64) -> (Sim, Vec<Heard>) {
    let sim = Sim::new(medium);
    let mut flash = Flash::new();
    let settings = Settings {
        node_id: NODE,
        key: KEY,
        scan_window_ms: 1000,
        ..Settings::FACTORY
    };
    sim.block_on(settings::store(&mut flash, FLASH_RANGE, &settings), 1)
        .unwrap();
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let node = sim.node(&mut flash, (0.0, 0.0), seed);
    let script = async {
        sim.sleep_ms(RUN_MS).await;
        gateway.receive()
    };
    let heard = sim.run_node(node, script, RUN_MS + 1000).unwrap();
    assert!(gateway.refused.is_empty(), "{:?}", gateway.refused);
    (sim, heard)
}

#[test]
fn batches_carry_exactly_what_the_radio_heard_per_device_and_channel() {
    let mut medium = Medium::new(21);
    let eid_near = [0xE1; 8];
    let eid_far = [0xE2; 8];
    let uuid = *b"Aisle store 0042";
    let emitters = [
        Emitter::eddystone_eid(eid_near, (1.0, 0.0)),
        Emitter::eddystone_eid(eid_far, (12.0, 5.0)),
        Emitter::ibeacon(uuid, 7, 300, (3.0, -2.0)),
        Emitter::phone(100, (0.5, 0.5)),
        Emitter::phone(101, (6.0, 0.0)),
        Emitter::phone(102, (-4.0, 4.0)),
    ];
    for e in &emitters {
        // Every 9th packet damaged on air.
        medium.add(e, QUIET_FROM_MS, Some(9));
    }
    medium.add_noise(30, QUIET_FROM_MS);
    let (sim, heard) = run_scanner(medium, 5);

    let batches = batches(&heard);
    assert!(batches.len() >= 9, "{}", batches.len());
    let mut reported_total = 0u64;
    for (start, len, sightings) in &batches {
        let expected = oracle(&sim, *start, *len);
        let got: BTreeMap<Key, (i8, i8, i8, u16)> = sightings
            .iter()
            .map(|s| {
                (
                    (s.kind, s.channel.index(), s.identity.clone()),
                    (s.rssi.min, s.rssi.max, s.rssi.mean, s.count),
                )
            })
            .collect();
        assert_eq!(
            got.len(),
            sightings.len(),
            "one entry per device and channel"
        );
        let expected: BTreeMap<Key, (i8, i8, i8, u16)> = expected
            .into_iter()
            .map(|(k, (min, max, sum, count))| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
                // a mean of i8 values, from a few thousand of them
                let mean = (sum as f64 / f64::from(count)).round() as i8;
                (k, (min, max, mean, count))
            })
            .collect();
        assert_eq!(got, expected, "window at {start} ms");
        reported_total += sightings.iter().map(|s| u64::from(s.count)).sum::<u64>();
    }

    // Ground truth: every identity is one of the emitters', in its own form.
    let mut known: Vec<Vec<u8>> = vec![eid_near.to_vec(), eid_far.to_vec()];
    let mut ibeacon = uuid.to_vec();
    ibeacon.extend_from_slice(&7u16.to_be_bytes());
    ibeacon.extend_from_slice(&300u16.to_be_bytes());
    known.push(ibeacon);
    for seed in 100..103 {
        known.push(address_identity(random_address(seed)).to_vec());
    }
    let all: Vec<&OwnedSighting> = batches.iter().flat_map(|b| &b.2).collect();
    for s in &all {
        assert!(known.contains(&s.identity), "unknown identity {s:?}");
        match s.kind {
            FrameKind::EddystoneEid | FrameKind::IBeacon => {}
            // Other people's phones: only what the radio saw, never more.
            FrameKind::Apple => assert_eq!(s.identity.len(), 7),
            other => panic!("unexpected kind {other:?}"),
        }
    }
    for id in &known {
        assert!(all.iter().any(|s| &s.identity == id), "never heard {id:?}");
    }
    // Nearer is louder.
    let mean_of = |id: &[u8]| {
        let s: Vec<_> = all.iter().filter(|s| s.identity == id).collect();
        s.iter().map(|s| f64::from(s.rssi.mean)).sum::<f64>()
            / f64::from(u32::try_from(s.len()).unwrap())
    };
    assert!(mean_of(&eid_near) > mean_of(&eid_far) + 10.0);

    // Status counts only intact advertisements; nothing was dropped.
    let status = last_status(&heard);
    let intact = sim
        .0
        .borrow()
        .received
        .iter()
        .filter(|r| decode(r.1, &r.3).is_some())
        .count();
    let damaged = sim.0.borrow().received.len() - intact;
    assert!(damaged > 20, "{damaged} damaged packets heard");
    // Every packet heard that fails its CRC (bit flips, noise) is counted.
    let crc_failed = sim
        .0
        .borrow()
        .received
        .iter()
        .filter(|r| !crc_holds(r.1, &r.3))
        .count();
    assert!(crc_failed > 20, "{crc_failed} packets failed their CRC");
    assert_eq!(
        status.crc_failures.map(u64::from),
        Some(crc_failed as u64),
        "{status:?}"
    );
    assert_eq!(u64::from(status.adverts_seen), intact as u64);
    assert_eq!(reported_total, intact as u64);
    assert_eq!(status.queue_drops, 0);
}

#[test]
fn full_table_keeps_the_strongest_and_counts_what_it_drops() {
    let mut medium = Medium::new(22);
    // No shadowing: each device is heard at one RSSI, so "weakest" is exact.
    medium.shadowing_sigma_db = 0.0;
    medium.path_loss_exponent = 2.0;
    let devices = SIGHTING_CAPACITY / 3 + 12;
    for i in 0..devices {
        let d = 0.5 + 0.6 * f64::from(u32::try_from(i).unwrap());
        let mut phone = Emitter::phone(1000 + i as u64, (d, 0.0));
        phone.interval_ms = 100;
        medium.add(&phone, QUIET_FROM_MS, None);
    }
    let (sim, heard) = run_scanner(medium, 6);
    let batches = batches(&heard);
    let mut heard_total = 0u64;
    let mut reported_total = 0u64;
    let mut full_windows = 0;
    for (start, len, sightings) in &batches {
        let expected = oracle(&sim, *start, *len);
        heard_total += expected.values().map(|e| u64::from(e.3)).sum::<u64>();
        reported_total += sightings.iter().map(|s| u64::from(s.count)).sum::<u64>();
        assert!(sightings.len() <= SIGHTING_CAPACITY);
        if expected.len() <= SIGHTING_CAPACITY {
            continue;
        }
        full_windows += 1;
        assert_eq!(sightings.len(), SIGHTING_CAPACITY, "window at {start} ms");
        let reported_weakest = sightings.iter().map(|s| s.rssi.mean).min().unwrap();
        let left_out_strongest = expected
            .iter()
            .filter(|(k, _)| {
                !sightings
                    .iter()
                    .any(|s| (s.kind, s.channel.index(), &s.identity) == (k.0, k.1, &k.2))
            })
            .map(|(_, e)| e.1)
            .max()
            .unwrap();
        assert!(
            reported_weakest >= left_out_strongest,
            "window at {start} ms kept {reported_weakest} dBm but dropped {left_out_strongest} dBm"
        );
    }
    assert!(full_windows >= 8, "{full_windows} full windows");
    // Every advertisement heard is either reported or counted as dropped.
    let status = last_status(&heard);
    assert_eq!(u64::from(status.adverts_seen), heard_total);
    assert!(status.queue_drops > 0);
    assert_eq!(u64::from(status.queue_drops), heard_total - reported_total);
}
