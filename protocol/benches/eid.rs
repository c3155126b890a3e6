//! EID resolution at store scale: lookups in a table of 10^6 shoppers, and
//! the cost of building that table.
//!
//! `cargo bench -p aisle-protocol --bench eid` (add `-- --quick` for a short
//! run). Everything runs on one thread, as on the gateway.

use std::hint::black_box;
use std::time::Duration;

use aisle_protocol::eid::{Eid, EidResolver, IdentityKey, RotationExponent, ShopperId, eid_for};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A typical store setting: EIDs rotate every 1024 s (about 17 minutes).
const K: u8 = 10;
/// November 2023 in Unix seconds, 16,384 s into temporary-key epoch 0x6553:
/// well inside it, so rebuilding for the next period reuses every cached
/// temporary key.
const NOW: u32 = 0x6553_4000;
/// Lookups cycle through this many EIDs: 64 Ki is far more than the cache
/// holds table lines for, so each lookup pays the memory latency it would
/// on the gateway.
const QUERIES: usize = 1 << 16;

fn k() -> RotationExponent {
    RotationExponent::new(K).expect("K is at most 15")
}

/// splitmix64: cheap, deterministic, well-spread bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn shoppers(n: u32) -> Vec<(IdentityKey, ShopperId)> {
    (0..n)
        .map(|i| {
            let seed = u64::from(i) << 1;
            let mut key = [0; 16];
            key[..8].copy_from_slice(&mix(seed).to_le_bytes());
            key[8..].copy_from_slice(&mix(seed | 1).to_le_bytes());
            (IdentityKey::new(key), ShopperId(i))
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let n = 1_000_000;
    let enrolled = shoppers(n);
    let resolver = EidResolver::build(k(), enrolled.iter().cloned(), NOW);
    println!(
        "resolver for {n} shoppers: {} slots, {} EIDs, longest probe {}, {:.1} heap bytes per shopper",
        resolver.table_slots(),
        resolver.eids(),
        resolver.longest_probe(),
        f64::from(u32::try_from(resolver.heap_bytes()).unwrap_or(u32::MAX)) / f64::from(n),
    );

    // EIDs of random shoppers in random periods of the window.
    let hits: Vec<Eid> = (0..QUERIES as u64)
        .map(|i| {
            let r = mix(i ^ 0xA5A5);
            let (key, _) = &enrolled[usize::try_from(r % u64::from(n)).unwrap()];
            let period = [NOW - 1024, NOW, NOW + 1024][usize::try_from(r >> 60).unwrap() % 3];
            eid_for(key, k(), period)
        })
        .collect();
    let misses: Vec<Eid> = (0..QUERIES as u64)
        .map(|i| Eid::new(mix(i ^ 0x5A5A_0000).to_be_bytes()))
        .collect();
    assert!(hits.iter().all(|&eid| resolver.lookup(eid).is_some()));
    assert!(misses.iter().all(|&eid| resolver.lookup(eid).is_none()));

    let mut group = c.benchmark_group("eid_lookup_1e6");
    group.throughput(Throughput::Elements(1));
    for (name, queries) in [("hit", &hits), ("miss", &misses)] {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % QUERIES;
                black_box(resolver.lookup(black_box(queries[i])))
            });
        });
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("eid_build");
    group.sample_size(10);
    for n in [10_000, 100_000, 1_000_000] {
        let enrolled = shoppers(n);
        group.throughput(Throughput::Elements(u64::from(n)));
        if n >= 1_000_000 {
            group.measurement_time(Duration::from_secs(20));
        }
        // From nothing: enrol every key (its temporary keys included) and
        // fill the table, as at gateway start-up.
        group.bench_with_input(BenchmarkId::new("from_scratch", n), &enrolled, |b, e| {
            b.iter_batched(
                || e.clone(),
                |e| EidResolver::build(k(), e, NOW),
                BatchSize::LargeInput,
            );
        });
        // The per-period rebuild: temporary keys cached, table refilled.
        let mut resolver = EidResolver::build(k(), enrolled.iter().cloned(), NOW);
        group.bench_function(BenchmarkId::new("next_period", n), |b| {
            let mut now = NOW;
            b.iter(|| {
                now = if now == NOW { NOW + 1024 } else { NOW };
                resolver.rebuild(black_box(now));
            });
        });
    }
    group.finish();
}

criterion_group!(benches, lookup, build);
criterion_main!(benches);
