//! Eddystone-EID generation against published vectors, and the resolver.

use aisle_protocol::Error;
use aisle_protocol::eid::{
    Eid, EidResolver, IdentityKey, PeriodOffset, Resolution, RotationExponent, ShopperId, eid_for,
    period,
};
use proptest::prelude::*;

// RadiusNetworks/ephemeral_calc, spec/encryptor_spec.rb: identity key
// 0102030405060708090A111213141516, rotation exponent 10.
const EPHEMERAL_CALC_KEY: [u8; 16] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
];
const EPHEMERAL_CALC_K: u8 = 10;
/// At time counter 0 (the spec's first case).
const EPHEMERAL_CALC_EID_T0: [u8; 8] = [0xa9, 0xb7, 0x6a, 0x71, 0xc5, 0xf8, 0x92, 0x90];
/// At any time counter in 1024..=2047 (the spec's second case, registered
/// 2000 s earlier).
const EPHEMERAL_CALC_EID_PERIOD_1: [u8; 8] = [0x41, 0x44, 0x41, 0x3e, 0x45, 0xfe, 0xfa, 0x58];

fn k(k: u8) -> RotationExponent {
    RotationExponent::new(k).unwrap()
}

fn vector_key() -> IdentityKey {
    IdentityKey::new(EPHEMERAL_CALC_KEY)
}

#[test]
fn ephemeral_calc_encryptor_spec_time_0() {
    let eid = eid_for(&vector_key(), k(EPHEMERAL_CALC_K), 0);
    assert_eq!(eid, Eid::new(EPHEMERAL_CALC_EID_T0));
    assert_eq!(eid.to_string(), "a9b76a71c5f89290");
}

#[test]
fn ephemeral_calc_encryptor_spec_period_1024_to_2047() {
    for t in [1024, 1025, 1500, 2000, 2046, 2047] {
        let eid = eid_for(&vector_key(), k(EPHEMERAL_CALC_K), t);
        assert_eq!(eid, Eid::new(EPHEMERAL_CALC_EID_PERIOD_1), "t = {t}");
    }
    let after = eid_for(&vector_key(), k(EPHEMERAL_CALC_K), 2048);
    assert_ne!(after, Eid::new(EPHEMERAL_CALC_EID_PERIOD_1));
}

#[test]
fn rotation_exponent_is_validated() {
    assert_eq!(k(15).period_secs(), 32_768);
    assert_eq!(
        RotationExponent::new(16),
        Err(Error::InvalidValue {
            what: "EID rotation exponent",
            offset: 0,
            value: 16
        })
    );
    assert!(RotationExponent::try_from(255).is_err());
    assert_eq!(u8::from(k(10)), 10);
}

#[test]
fn rotation_exponent_deserialises_only_valid_values() {
    assert_eq!(
        serde_json::from_str::<RotationExponent>("10").unwrap(),
        k(10)
    );
    assert!(serde_json::from_str::<RotationExponent>("16").is_err());
    assert_eq!(serde_json::to_string(&k(7)).unwrap(), "7");
}

#[test]
fn periods() {
    assert_eq!(period(k(10), 1023), 0);
    assert_eq!(period(k(10), 1024), 1);
    assert_eq!(k(10).period_start(2047), 1024);
    assert_eq!(k(0).period_start(7), 7);
    assert_eq!(k(15).start_of(u32::MAX >> 15), Some(u32::MAX - 32_767));
    assert_eq!(k(15).start_of((u32::MAX >> 15) + 1), None);
}

#[test]
fn identity_key_debug_hides_the_key() {
    assert_eq!(format!("{:?}", vector_key()), "IdentityKey(..)");
}

#[test]
fn eid_from_slice() {
    assert_eq!(
        Eid::try_from(&EPHEMERAL_CALC_EID_T0[..]),
        Ok(Eid::new(EPHEMERAL_CALC_EID_T0))
    );
    assert_eq!(
        Eid::try_from(&EPHEMERAL_CALC_EID_T0[..7]),
        Err(Error::TooShort {
            what: "EID",
            need: 8,
            got: 7
        })
    );
    assert_eq!(
        Eid::try_from(&[0; 9][..]),
        Err(Error::TooLong {
            what: "EID",
            max: 8,
            got: 9
        })
    );
}

/// Shopper `i` holds a key derived from `seed` and `i`.
fn keys(seed: u64, n: u32) -> Vec<(IdentityKey, ShopperId)> {
    (0..n)
        .map(|i| {
            let mut key = [0; 16];
            key[..8].copy_from_slice(&seed.to_le_bytes());
            key[8..12].copy_from_slice(&i.to_le_bytes());
            (IdentityKey::new(key), ShopperId(i))
        })
        .collect()
}

fn unique(shopper: u32, offset: PeriodOffset) -> Resolution {
    let shopper = ShopperId(shopper);
    Resolution::Unique { shopper, offset }
}

#[test]
fn resolver_resolves_the_vector_key() {
    let resolver = EidResolver::build(k(EPHEMERAL_CALC_K), [(vector_key(), ShopperId(7))], 1500);
    assert_eq!(
        resolver.lookup(Eid::new(EPHEMERAL_CALC_EID_T0)),
        Some(unique(7, PeriodOffset::Previous))
    );
    assert_eq!(
        resolver.lookup(Eid::new(EPHEMERAL_CALC_EID_PERIOD_1)),
        Some(unique(7, PeriodOffset::Current))
    );
    assert_eq!(resolver.eids(), 3);
    assert_eq!(resolver.current_period(), Some(1));
}

#[test]
fn a_key_enrolled_under_two_ids_is_ambiguous() {
    let mut resolver = EidResolver::new(k(10));
    resolver.enrol(vector_key(), ShopperId(1));
    resolver.enrol(vector_key(), ShopperId(2));
    resolver.rebuild(1500);
    assert_eq!(
        resolver.lookup(Eid::new(EPHEMERAL_CALC_EID_PERIOD_1)),
        Some(Resolution::Ambiguous)
    );
    assert_eq!(resolver.ambiguous_eids(), 3);
}

#[test]
fn a_key_enrolled_twice_under_one_id_stays_unique() {
    let mut resolver = EidResolver::new(k(10));
    resolver.enrol(vector_key(), ShopperId(1));
    resolver.enrol(vector_key(), ShopperId(1));
    resolver.rebuild(1500);
    assert_eq!(
        resolver.lookup(Eid::new(EPHEMERAL_CALC_EID_PERIOD_1)),
        Some(unique(1, PeriodOffset::Current))
    );
    assert_eq!(resolver.ambiguous_eids(), 0);
}

#[test]
fn enrolments_take_effect_at_the_next_rebuild() {
    let now = 5_000_000;
    let mut resolver = EidResolver::build(k(12), keys(1, 10), now);
    assert!(!resolver.needs_rebuild(now));
    let (key, _) = keys(2, 1).pop().unwrap();
    let eid = eid_for(&key, k(12), now);
    resolver.enrol(key, ShopperId(99));
    assert!(resolver.needs_rebuild(now));
    assert_eq!(resolver.lookup(eid), None);
    resolver.rebuild(now);
    assert_eq!(
        resolver.lookup(eid),
        Some(unique(99, PeriodOffset::Current))
    );

    assert_eq!(resolver.withdraw(ShopperId(99)), 1);
    assert_eq!(resolver.withdraw(ShopperId(99)), 0);
    assert!(resolver.needs_rebuild(now));
    resolver.rebuild(now);
    assert_eq!(resolver.lookup(eid), None);
    assert_eq!(resolver.len(), 10);
}

#[test]
fn an_unbuilt_resolver_resolves_nothing() {
    let resolver = EidResolver::new(k(10));
    assert!(resolver.needs_rebuild(0));
    assert_eq!(resolver.lookup(Eid::new(EPHEMERAL_CALC_EID_T0)), None);
    assert!(format!("{resolver:?}").contains("enrolled: 0"));
}

#[test]
fn debug_hides_every_key() {
    let resolver = EidResolver::build(k(10), [(vector_key(), ShopperId(7))], 1500);
    let shown = format!("{resolver:?}");
    assert!(!shown.contains("IdentityKey"), "{shown}");
    assert!(!shown.contains("temporary"), "{shown}");
}

/// The edges of the 32-bit time counter: no previous period at the start, no
/// next one at the end.
#[test]
fn window_is_clipped_at_the_ends_of_time() {
    let shoppers = keys(3, 4);
    for (kk, now) in [
        (0, 0),
        (15, 0),
        (10, u32::MAX),
        (15, u32::MAX),
        (0, u32::MAX),
    ] {
        let resolver = EidResolver::build(k(kk), shoppers.clone(), now);
        assert_eq!(resolver.eids(), 4 * 2, "K = {kk}, now = {now}");
        for (key, shopper) in &shoppers {
            let eid = eid_for(key, k(kk), now);
            assert_eq!(
                resolver.lookup(eid),
                Some(unique(shopper.0, PeriodOffset::Current))
            );
        }
    }
}

/// Rebuilding period by period across temporary-key epochs, so the cached
/// temporary keys are reused, replaced and swapped, must always give what
/// `eid_for` gives.
#[test]
fn rebuilds_across_epochs_match_eid_for() {
    let shoppers = keys(4, 20);
    for kk in [0, 13, 14, 15] {
        let kk = k(kk);
        let start = 3 * 65_536 - 3 * kk.period_secs();
        let mut resolver = EidResolver::build(kk, shoppers.iter().cloned(), start);
        let mut now = start;
        for _ in 0..12 {
            if resolver.needs_rebuild(now) {
                resolver.rebuild(now);
            }
            for (key, shopper) in &shoppers {
                for (offset, t) in [
                    (PeriodOffset::Previous, now - kk.period_secs()),
                    (PeriodOffset::Current, now),
                    (PeriodOffset::Next, now + kk.period_secs()),
                ] {
                    let found = resolver.lookup(eid_for(key, kk, t));
                    assert_eq!(
                        found,
                        Some(unique(shopper.0, offset)),
                        "K = {kk:?}, now = {now}"
                    );
                }
            }
            now += kk.period_secs();
        }
        // A jump back in time swaps the cached epochs back.
        resolver.rebuild(start);
        let (key, shopper) = &shoppers[0];
        let found = resolver.lookup(eid_for(key, kk, start));
        assert_eq!(found, Some(unique(shopper.0, PeriodOffset::Current)));
    }
}

#[test]
fn rebuild_moves_the_window() {
    let kk = k(10);
    let shoppers = keys(5, 50);
    let t0 = 1_000_000;
    let mut resolver = EidResolver::build(kk, shoppers.iter().cloned(), t0);
    let (key, shopper) = &shoppers[17];
    let old_previous = eid_for(key, kk, t0 - 1024);
    let new_next = eid_for(key, kk, t0 + 3 * 1024);
    assert_eq!(
        resolver.lookup(old_previous),
        Some(unique(shopper.0, PeriodOffset::Previous))
    );
    assert_eq!(resolver.lookup(new_next), None);

    let t1 = t0 + 2 * 1024;
    assert!(!resolver.needs_rebuild(t0 + 1024 - t0 % 1024 - 1));
    assert!(resolver.needs_rebuild(t1));
    resolver.rebuild(t1);
    assert!(!resolver.needs_rebuild(t1));
    assert_eq!(resolver.lookup(old_previous), None);
    assert_eq!(
        resolver.lookup(new_next),
        Some(unique(shopper.0, PeriodOffset::Next))
    );
    assert_eq!(resolver.current_period(), Some(period(kk, t1)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any EID a shopper advertises from one period before the build time's
    /// period to one period after it resolves to that shopper, with the
    /// period it came from.
    #[test]
    fn enrolled_eids_resolve_across_the_window(
        seed in any::<u64>(),
        n in 1u32..40,
        kk in 0u8..=15,
        now in any::<u32>(),
        pick in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
    ) {
        let kk = k(kk);
        let shoppers = keys(seed, n);
        let resolver = EidResolver::build(kk, shoppers.iter().cloned(), now);
        let (key, shopper) = &shoppers[pick.index(shoppers.len())];

        // A time in [period start - 1 period, period end + 1 period], less
        // what falls outside the time counter.
        let period_secs = u64::from(kk.period_secs());
        let start = u64::from(kk.period_start(now));
        let lowest = start.saturating_sub(period_secs);
        let highest = (start + 2 * period_secs - 1).min(u64::from(u32::MAX));
        let span = usize::try_from(highest - lowest + 1).unwrap();
        let t = u32::try_from(lowest + position.index(span) as u64).unwrap();

        let offset = match i64::from(kk.period(t)) - i64::from(kk.period(now)) {
            -1 => PeriodOffset::Previous,
            0 => PeriodOffset::Current,
            1 => PeriodOffset::Next,
            other => panic!("time outside the window: {other} periods"),
        };
        prop_assert_eq!(
            resolver.lookup(eid_for(key, kk, t)),
            Some(unique(shopper.0, offset))
        );
    }

    /// Random bytes resolve to nothing. A table of at most 3 * 40 EIDs,
    /// each uniformly random to anyone without the keys, holds a given 8
    /// bytes with probability at most 120 / 2^64 (about 7e-18); over every
    /// case proptest runs, a false match is far below one in 10^14.
    #[test]
    fn random_eids_resolve_to_nothing(
        seed in any::<u64>(),
        n in 1u32..40,
        kk in 0u8..=15,
        now in any::<u32>(),
        eid in any::<[u8; 8]>(),
    ) {
        let resolver = EidResolver::build(k(kk), keys(seed, n), now);
        prop_assert_eq!(resolver.lookup(Eid::new(eid)), None);
    }

    /// Lookups never panic, whatever the table and the bytes, including
    /// EIDs chosen to share a home slot with real ones.
    #[test]
    fn lookups_never_panic(
        n in 0u32..64,
        kk in 0u8..=15,
        now in any::<u32>(),
        eids in proptest::collection::vec(any::<u64>(), 1..64),
    ) {
        let resolver = EidResolver::build(k(kk), keys(6, n), now);
        for eid in eids {
            let _ = resolver.lookup(Eid::new(eid.to_be_bytes()));
            for near in [eid ^ 1, eid.wrapping_add(1 << 40), !eid, 0, u64::MAX] {
                let _ = resolver.lookup(Eid::new(near.to_be_bytes()));
            }
        }
        prop_assert!(resolver.longest_probe() < resolver.table_slots());
    }

    /// An EID is constant across its period.
    #[test]
    fn eid_is_constant_within_a_period(key in any::<[u8; 16]>(), kk in 0u8..=15, t in any::<u32>()) {
        let kk = k(kk);
        let key = IdentityKey::new(key);
        prop_assert_eq!(eid_for(&key, kk, t), eid_for(&key, kk, kk.period_start(t)));
    }
}
