//! Sightings per second through `Engine::observe`: 10,000 devices walking a
//! 70 x 35 m store with 50 anchors. Run with
//! `cargo bench -p aisle-gateway --bench engine`.
//!
//! Each device advertises twice a second and every anchor within 12 m hears
//! four adverts in five: about 6 anchors an advert, 12 sightings a second
//! per device, 118,500 a second for the store. With the default 0.5 s
//! locate interval that is one position fix per ~6 sightings. The engine
//! is warmed with 3 s of sightings (every device tracked, its filters full)
//! and each iteration runs the next 2 s (237,073 sightings) on a copy of it.
//! A third run puts a gondola between each two aisles. A fourth runs the
//! whole pipeline (`Pipeline::push`): the same sightings, each carrying
//! the Eddystone-EID advertisement of one of 10,000 enrolled shoppers and
//! the anchor's name, so identification (decode, EID resolution, the
//! device's name interned) comes before the engine, which then takes the
//! anchor by name.
//! The bytes of state per device are printed from the engine's own count
//! (`Engine::state_bytes`: slot vector, boxed tracks, filter capacities),
//! and those of the device table's names beside it, before and after ten
//! rotations of every address.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisle_gateway::engine::locate::{LocateConfig, RadioModel};
use aisle_gateway::engine::{AnchorIdx, DeviceId, Engine, EngineConfig};
use aisle_gateway::identify::{EnrolledShopper, IdentifyConfig};
use aisle_gateway::layout::{Anchor, Layout, Point, Store, Zone};
use aisle_gateway::pipeline::{Pipeline, SourceSighting, Subject};
use aisle_gateway::sim::phones::Phones;
use aisle_protocol::eid::RotationExponent;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const DEVICES: u32 = 10_000;
const STEP_S: f64 = 0.1;
/// Store time of the first sighting, seconds.
const START: f64 = 1000.0;

fn store() -> Layout {
    let mut anchors = Vec::new();
    for i in 0..10 {
        for j in 0..5 {
            anchors.push(Anchor {
                id: format!("a{i}-{j}"),
                x: 3.5 + 7.0 * f64::from(i),
                y: 3.5 + 7.0 * f64::from(j),
                z: Some(2.5),
                rssi_at_1m: Some(-59.0),
                path_loss_exponent: Some(2.2),
            });
        }
    }
    // One zone per aisle, 7 m wide.
    let zones = (0..10)
        .map(|i| {
            let (x0, x1) = (7.0 * f64::from(i), 7.0 * f64::from(i + 1));
            Zone {
                id: format!("aisle-{i}"),
                name: None,
                polygon: vec![[x0, 0.0], [x1, 0.0], [x1, 35.0], [x0, 35.0]],
            }
        })
        .collect();
    Layout {
        store: Store {
            id: "bench".into(),
            name: None,
            timezone: "UTC".into(),
        },
        anchors,
        zones,
        shadowing: None,
        shelves: Vec::new(),
    }
}

struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        #[allow(clippy::cast_precision_loss)]
        let u = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        u
    }
}

/// Sightings `(ts, anchor, device, rssi)` in time order for `steps` steps.
fn sightings(layout: &Layout, from_step: u32, steps: u32) -> Vec<(f64, AnchorIdx, DeviceId, f64)> {
    let models: Vec<_> = layout
        .anchors
        .iter()
        .map(|a| RadioModel::of(a, &LocateConfig::default()))
        .collect();
    let mut noise = Noise(0x2545_f491_4f6c_dd1d);
    // Each device walks a straight line at 0.5-1.2 m/s, bouncing off walls.
    let walks: Vec<(Point, Point)> = (0..DEVICES)
        .map(|_| {
            let start = Point::new(noise.uniform() * 70.0, noise.uniform() * 35.0);
            let heading = noise.uniform() * std::f64::consts::TAU;
            let speed = 0.5 + 0.7 * noise.uniform();
            (
                start,
                Point::new(speed * heading.cos(), speed * heading.sin()),
            )
        })
        .collect();
    let bounce = |v: f64, len: f64| {
        let v = v.rem_euclid(2.0 * len);
        if v > len { 2.0 * len - v } else { v }
    };
    let mut out = Vec::new();
    for step in from_step..from_step + steps {
        let t = START + f64::from(step) * STEP_S;
        for (d, (start, v)) in (0..DEVICES).zip(&walks) {
            // Two adverts a second: each device speaks on 2 of 10 steps.
            if (step + d) % 5 != 0 {
                continue;
            }
            let p = Point::new(
                bounce(start.x + v.x * (t - START), 70.0),
                bounce(start.y + v.y * (t - START), 35.0),
            );
            for (a, m) in models.iter().enumerate() {
                if Point::new(m.x, m.y).distance(p) > 12.0 || noise.uniform() > 0.8 {
                    continue;
                }
                let fading = 8.0 * (noise.uniform() - 0.5);
                let rssi = (m.expected_rssi(p) + fading).round().max(-127.0);
                let anchor = AnchorIdx(u16::try_from(a).unwrap());
                out.push((t, anchor, DeviceId(d), rssi));
            }
        }
    }
    out
}

/// A warmed engine and the sightings to time, for `config`.
fn setup(layout: &Layout, config: &EngineConfig) -> (Engine, Vec<(f64, AnchorIdx, DeviceId, f64)>) {
    let mut warm = Engine::new(layout, *config).unwrap();
    let mut out = Vec::with_capacity(1 << 16);
    for (ts, a, d, rssi) in sightings(layout, 0, 30) {
        warm.observe(ts, a, d, rssi, &mut out).unwrap();
        out.clear();
    }
    (warm, sightings(layout, 30, 20))
}

/// Time `stream` through copies of `warm`.
fn run(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    warm: &Engine,
    stream: &[(f64, AnchorIdx, DeviceId, f64)],
) {
    let mut out = Vec::with_capacity(1 << 16);
    group.throughput(Throughput::Elements(stream.len() as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut engine = warm.clone();
                let start = Instant::now();
                for &(ts, a, d, rssi) in stream {
                    let _ = black_box(engine.observe(ts, a, d, rssi, &mut out));
                    if out.len() > 1 << 15 {
                        out.clear();
                    }
                }
                total += start.elapsed();
                out.clear();
            }
            total
        });
    });
}

fn observe(c: &mut Criterion) {
    let layout = store();
    let (warm, stream) = setup(&layout, &EngineConfig::default());
    let tracked = warm.tracked();
    eprintln!(
        "{} sightings in 2 s of store time; {tracked} devices tracked, state {} bytes \
         ({} bytes a device: slots, boxed tracks and filter capacity)",
        stream.len(),
        warm.state_bytes(),
        warm.state_bytes() / tracked.max(1)
    );
    eprintln!("{}", device_table_bytes());
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    run(&mut group, "observe_10k_devices_50_anchors", &warm, &stream);
    // The per-sighting path alone: no fixes within the timed stream.
    let config = EngineConfig {
        locate_interval_s: 1e6,
        ..EngineConfig::default()
    };
    let (warm, stream) = setup(&layout, &config);
    run(
        &mut group,
        "record_only_10k_devices_50_anchors",
        &warm,
        &stream,
    );
    // The same store with a gondola between each two aisles: the locator
    // then carries the shelves' loss per cell, keeps fixes out of them and
    // stops tracks at them. (The walks ignore them: the cost is the same.)
    let mut shelved = layout.clone();
    shelved.shelves = (1..10)
        .map(|i| {
            let x = 7.0 * f64::from(i);
            aisle_gateway::layout::Shelf {
                min: [x - 0.6, 2.0],
                max: [x + 0.6, 33.0],
                height: None,
            }
        })
        .collect();
    let (warm, stream) = setup(&shelved, &EngineConfig::default());
    run(
        &mut group,
        "observe_10k_devices_50_anchors_shelves",
        &warm,
        &stream,
    );
    pipeline(&mut group, &layout);
    group.finish();
}

/// The enrolled shoppers, one per device, and what an anchor hears of
/// each (advertisement and address) at the benchmark's time: the
/// simulator's phones, every one opted in. EIDs rotate every 1,024 s; the
/// stream spans 5 s of one period.
fn enrolled() -> (Vec<EnrolledShopper>, Vec<Subject>) {
    let k = RotationExponent::new(IdentifyConfig::default().rotation_exponent).unwrap();
    let phones = Phones::new(1, 1.0, k);
    let names: Vec<String> = (0..DEVICES).map(|d| format!("shopper-{d:05}")).collect();
    let shoppers = phones.enrolment(names.iter().map(String::as_str));
    assert_eq!(shoppers.len(), names.len(), "every shopper enrolled");
    let subjects = names
        .iter()
        .map(|n| Subject::Advert {
            adv: phones.advert(n, START),
            address: Some(phones.address(n, START)),
        })
        .collect();
    (shoppers, subjects)
}

/// The whole pipeline, from advertisements and anchor names, each
/// iteration on a pipeline built afresh and warmed as the engine is.
fn pipeline(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    layout: &Layout,
) {
    let (shoppers, subjects) = enrolled();
    let names: Vec<Arc<str>> = layout
        .anchors
        .iter()
        .map(|a| a.id.as_str().into())
        .collect();
    let as_source = |steps: Vec<(f64, AnchorIdx, DeviceId, f64)>| -> Vec<SourceSighting> {
        steps
            .into_iter()
            .map(|(ts, a, d, rssi)| SourceSighting {
                ts,
                anchor: Arc::clone(&names[usize::from(a.0)]),
                subject: subjects[d.0 as usize].clone(),
                rssi,
            })
            .collect()
    };
    let warming = as_source(sightings(layout, 0, 30));
    let stream = as_source(sightings(layout, 30, 20));
    let mut out = Vec::with_capacity(1 << 16);
    group.throughput(Throughput::Elements(stream.len() as u64));
    group.bench_function("pipeline_eid_adverts_10k_shoppers_50_anchors", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut pipeline = Pipeline::new(
                    layout,
                    &IdentifyConfig::default(),
                    &shoppers,
                    EngineConfig::default(),
                    START,
                )
                .unwrap();
                for s in &warming {
                    pipeline.push(s, &mut out).unwrap();
                    out.clear();
                }
                assert_eq!(pipeline.devices().len(), DEVICES as usize, "all resolved");
                let mut skipped = 0u32;
                let start = Instant::now();
                for s in &stream {
                    skipped += u32::from(black_box(pipeline.push(s, &mut out)).is_err());
                    if out.len() > 1 << 15 {
                        out.clear();
                    }
                }
                total += start.elapsed();
                assert_eq!(skipped, 0, "every sighting taken");
                out.clear();
            }
            total
        });
    });
}

/// The names beside the engine: a device table holding 10,000 anonymous
/// addresses, then after the whole crowd has rotated its addresses ten
/// times (each forgotten, its number recycled for the next).
fn device_table_bytes() -> String {
    let mut table = aisle_gateway::engine::DeviceTable::new();
    let name = |round: u32, d: u32| format!("#anon:{round:04x}{d:08x}");
    for d in 0..DEVICES {
        table.intern(&name(0, d));
    }
    let full = table.heap_bytes();
    for round in 1..=10 {
        for d in 0..DEVICES {
            let old = table.get(&name(round - 1, d)).unwrap();
            table.forget(old);
            table.recycle();
            table.intern(&name(round, d));
        }
    }
    format!(
        "device table: {full} bytes for {DEVICES} names ({} a name); after {} names, \
         {} numbers, {} bytes",
        full / DEVICES as usize,
        table.handed_out(),
        table.slots(),
        table.heap_bytes()
    )
}

criterion_group!(benches, observe);
criterion_main!(benches);
