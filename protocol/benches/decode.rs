//! Decode and identify one advertisement: AD iteration, beacon frame decode,
//! identity extraction. Run with `cargo bench -p aisle-protocol --bench decode`.

use std::hint::black_box;

use aisle_protocol::ad::{AdvertisingData, Uuid};
use aisle_protocol::beacon::{EddystoneEid, EddystoneUid, Frame, IBeacon, eddystone};
use aisle_protocol::eid::{Eid, EidResolver, IdentityKey, RotationExponent, ShopperId, eid_for};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A mix of what a shelf hears: beacons of every kind Aisle reads, and phones
/// it only counts.
fn advertisements() -> Vec<(&'static str, Vec<u8>)> {
    let mut ads = Vec::new();
    let mut buf = [0u8; 31];
    let n = IBeacon {
        uuid: Uuid([0x42; 16]),
        major: 3838,
        minor: 4949,
        measured_power: -59,
    }
    .write_advertisement(&mut buf)
    .unwrap();
    ads.push(("ibeacon", buf[..n].to_vec()));

    let mut frame = [0u8; 20];
    let f = EddystoneEid {
        tx_power: -10,
        eid: [0xa9, 0xb7, 0x6a, 0x71, 0xc5, 0xf8, 0x92, 0x90],
    }
    .encode(&mut frame)
    .unwrap();
    let n = eddystone::write_advertisement(&frame[..f], &mut buf).unwrap();
    ads.push(("eddystone_eid", buf[..n].to_vec()));

    let f = EddystoneUid {
        tx_power: -10,
        namespace: [1; 10],
        instance: [2; 6],
    }
    .encode(&mut frame)
    .unwrap();
    let n = eddystone::write_advertisement(&frame[..f], &mut buf).unwrap();
    ads.push(("eddystone_uid", buf[..n].to_vec()));

    // A real iPhone's Nearby Info advertisement.
    ads.push((
        "apple",
        vec![
            0x02, 0x01, 0x1a, 0x0a, 0xff, 0x4c, 0x00, 0x10, 0x05, 0x0b, 0x1c, 0x0e, 0xa8, 0x36,
        ],
    ));
    ads
}

fn decode(c: &mut Criterion) {
    let ads = advertisements();
    let mut g = c.benchmark_group("decode_identify");
    g.throughput(Throughput::Elements(1));
    for (name, ad) in &ads {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let frame = Frame::classify(black_box(ad)).ok()?;
                Some((frame.kind(), frame.identity()))
            });
        });
    }
    g.finish();

    let ad = &ads[0].1;
    c.bench_function("ad_iterate_ibeacon", |b| {
        b.iter(|| AdvertisingData(black_box(ad)).structures().count());
    });
}

/// What the gateway does for a shopper's phone: classify its advertisement and
/// resolve the EID among 10^6 enrolled shoppers. Adverts cycle through 64 Ki
/// distinct shoppers so the table lookups miss the cache as they would live.
fn decode_resolve(c: &mut Criterion) {
    const SHOPPERS: u32 = 1_000_000;
    const ADVERTS: u32 = 1 << 16;
    const NOW: u32 = 0x6553_4000;
    let rotation = RotationExponent::new(10).expect("K is at most 15");
    let key = |i: u32| {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&i.to_le_bytes());
        b[4..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9).to_le_bytes());
        IdentityKey::new(b)
    };
    let resolver = EidResolver::build(rotation, (0..SHOPPERS).map(|i| (key(i), ShopperId(i))), NOW);
    // Stored inline, as a receive buffer holds them, not one heap block each.
    let adverts: Vec<([u8; 31], usize)> = (0..ADVERTS)
        .map(|j| {
            let i = j.wrapping_mul(15_259) % SHOPPERS;
            let eid: Eid = eid_for(&key(i), rotation, NOW);
            let (mut frame, mut ad) = ([0u8; 10], [0u8; 31]);
            let len = EddystoneEid {
                tx_power: -10,
                eid: eid.to_bytes(),
            }
            .encode(&mut frame)
            .unwrap();
            let n = eddystone::write_advertisement(&frame[..len], &mut ad).unwrap();
            (ad, n)
        })
        .collect();
    let hits = adverts
        .iter()
        .filter(|(ad, len)| match Frame::classify(&ad[..*len]) {
            Ok(Frame::EddystoneEid(e)) => resolver.lookup(Eid::new(e.eid)).is_some(),
            _ => false,
        })
        .count();
    assert_eq!(hits, adverts.len(), "every advert is an enrolled shopper's");
    let mut g = c.benchmark_group("decode_identify");
    g.throughput(Throughput::Elements(1));
    let mut next = 0usize;
    g.bench_function("eddystone_eid_resolved_1e6", |b| {
        b.iter(|| {
            next = (next + 1) & (adverts.len() - 1);
            let (ad, len) = &adverts[next];
            let Ok(Frame::EddystoneEid(e)) = Frame::classify(black_box(&ad[..*len])) else {
                return None;
            };
            resolver.lookup(Eid::new(e.eid))
        });
    });
    g.finish();
}

criterion_group!(benches, decode, decode_resolve);
criterion_main!(benches);
