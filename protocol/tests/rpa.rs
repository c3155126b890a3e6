//! Resolvable private address hashing against the Core specification.

use aisle_protocol::rpa::{AddressType, DeviceAddress, Irk, ah, is_resolvable, resolve};

const RANDOM: AddressType = AddressType::Random;
use proptest::prelude::*;

// Core spec v5.4, Vol 3 Part H, Appendix D.7 "ah random address hash
// function": IRK ec0234a3 57c8ad05 341010a6 0a397d9b, prand 00708194,
// AES-128 output 159d5fb7 2ebe2311 a48c1bdc c40dfbaa, ah 0dfbaa. The
// specification prints every value most significant byte first.
const SPEC_IRK: [u8; 16] = [
    0xec, 0x02, 0x34, 0xa3, 0x57, 0xc8, 0xad, 0x05, 0x34, 0x10, 0x10, 0xa6, 0x0a, 0x39, 0x7d, 0x9b,
];
const SPEC_PRAND: [u8; 3] = [0x70, 0x81, 0x94];
const SPEC_HASH: [u8; 3] = [0x0d, 0xfb, 0xaa];
/// The address those values make, as it travels in `AdvA`: least significant
/// byte first, so the hash comes first.
const SPEC_ADDRESS_ON_AIR: [u8; 6] = [0xaa, 0xfb, 0x0d, 0x94, 0x81, 0x70];

#[test]
fn core_spec_vol3_part_h_appendix_d_ah() {
    assert_eq!(ah(&Irk::from_be_bytes(SPEC_IRK), SPEC_PRAND), SPEC_HASH);
}

#[test]
fn core_spec_vol3_part_h_appendix_d_address_resolves() {
    let irk = Irk::from_be_bytes(SPEC_IRK);
    let addr = DeviceAddress::decode_le(RANDOM, &SPEC_ADDRESS_ON_AIR).unwrap();
    assert_eq!(addr.to_string(), "70:81:94:0D:FB:AA");
    assert_eq!(addr.prand(), SPEC_PRAND);
    assert_eq!(addr.hash(), SPEC_HASH);
    assert!(is_resolvable(addr));
    assert!(resolve(&irk, addr));
}

#[test]
fn irk_byte_orders_agree() {
    let mut le = SPEC_IRK;
    le.reverse();
    let irk = Irk::from_le_bytes(le);
    assert_eq!(irk, Irk::from_be_bytes(SPEC_IRK));
    assert_eq!(irk.to_le_bytes(), le);
    assert_eq!(irk.to_be_bytes(), SPEC_IRK);
    assert_eq!(ah(&irk, SPEC_PRAND), SPEC_HASH);
}

#[test]
fn irk_debug_hides_the_key() {
    let shown = format!("{:?}", Irk::from_be_bytes(SPEC_IRK));
    assert_eq!(shown, "Irk(..)");
}

#[test]
fn other_irk_does_not_resolve() {
    let mut other = SPEC_IRK;
    other[15] ^= 1;
    let addr = DeviceAddress::from_le_bytes(RANDOM, SPEC_ADDRESS_ON_AIR);
    assert!(!resolve(&Irk::from_be_bytes(other), addr));
}

#[test]
fn address_types_other_than_resolvable_are_refused() {
    let irk = Irk::from_be_bytes(SPEC_IRK);
    let be = DeviceAddress::from_le_bytes(RANDOM, SPEC_ADDRESS_ON_AIR).to_be_bytes();
    // Static random (0b11), non-resolvable private (0b00) and the reserved 0b10.
    for top in [0b11u8, 0b00, 0b10] {
        let mut other = be;
        other[0] = (other[0] & 0x3f) | (top << 6);
        let addr = DeviceAddress::from_be_bytes(RANDOM, other);
        assert!(!is_resolvable(addr));
        assert!(!resolve(&irk, addr));
    }
}

#[test]
fn a_public_address_is_never_resolvable() {
    let irk = Irk::from_be_bytes(SPEC_IRK);
    let addr = DeviceAddress::from_le_bytes(AddressType::Public, SPEC_ADDRESS_ON_AIR);
    assert!(!is_resolvable(addr));
    assert!(!resolve(&irk, addr));
}

#[test]
fn short_address_is_refused() {
    let err = DeviceAddress::decode_le(RANDOM, &SPEC_ADDRESS_ON_AIR[..5]).unwrap_err();
    assert_eq!(
        err,
        aisle_protocol::Error::TooShort {
            what: "device address",
            need: 6,
            got: 5
        }
    );
}

proptest! {
    #[test]
    fn generated_addresses_resolve(irk in any::<[u8; 16]>(), random in any::<[u8; 3]>()) {
        let irk = Irk::from_be_bytes(irk);
        let prand = [(random[0] & 0x3f) | 0x40, random[1], random[2]];
        let [h0, h1, h2] = ah(&irk, prand);
        let addr = DeviceAddress::from_be_bytes(RANDOM, [prand[0], prand[1], prand[2], h0, h1, h2]);
        prop_assert!(resolve(&irk, addr));
        prop_assert_eq!(DeviceAddress::from_le_bytes(RANDOM, addr.bytes), addr);
    }

    #[test]
    fn a_changed_hash_bit_does_not_resolve(
        irk in any::<[u8; 16]>(),
        random in any::<[u8; 3]>(),
        bit in 0usize..24,
    ) {
        let irk = Irk::from_be_bytes(irk);
        let prand = [(random[0] & 0x3f) | 0x40, random[1], random[2]];
        let mut hash = ah(&irk, prand);
        hash[bit / 8] ^= 1 << (bit % 8);
        let addr = DeviceAddress::from_be_bytes(RANDOM, [prand[0], prand[1], prand[2], hash[0], hash[1], hash[2]]);
        prop_assert!(!resolve(&irk, addr));
    }

    #[test]
    fn decoding_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..12)) {
        let decoded = DeviceAddress::decode_le(RANDOM, &buf);
        prop_assert_eq!(decoded.is_ok(), buf.len() >= 6);
    }
}
