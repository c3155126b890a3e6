//! Decode and identify one advertisement: AD iteration, beacon frame decode,
//! identity extraction. Run with `cargo bench -p aisle-protocol --bench decode`.

use std::hint::black_box;

use aisle_protocol::ad::{AdvertisingData, Uuid};
use aisle_protocol::beacon::{EddystoneEid, EddystoneUid, Frame, IBeacon, eddystone};
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

criterion_group!(benches, decode);
criterion_main!(benches);
