//! Eddystone-EID generation against published vectors.

use aisle_protocol::Error;
use aisle_protocol::eid::{Eid, IdentityKey, RotationExponent, eid_for, period};
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

proptest! {
    /// An EID is constant across its period.
    #[test]
    fn eid_is_constant_within_a_period(key in any::<[u8; 16]>(), kk in 0u8..=15, t in any::<u32>()) {
        let kk = k(kk);
        let key = IdentityKey::new(key);
        prop_assert_eq!(eid_for(&key, kk, t), eid_for(&key, kk, kk.period_start(t)));
    }
}
