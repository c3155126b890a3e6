//! The phones simulated shoppers carry: what each one actually advertises.
//!
//! A shopper who opted in through the store's app carries a phone that
//! advertises a rotating Eddystone-EID under an identity key the store
//! enrolled; the rest carry ordinary phones whose advertisements (Apple
//! Nearby Info here) the gateway may count but never identify. Turning the
//! simulator's sightings into these advertisement bytes lets the demo run
//! the gateway's real identification stage rather than trusting the
//! simulator's device names.

use aisle_protocol::beacon::{EddystoneEid, eddystone};
use aisle_protocol::eid::{IdentityKey, RotationExponent, eid_for};

use crate::identify::EnrolledShopper;
use crate::{fnv1a, splitmix64};

/// Who carries which phone.
#[derive(Debug, Clone, PartialEq)]
pub struct Phones {
    seed: u64,
    opted_in_share: f64,
    rotation: RotationExponent,
}

/// How often a phone changes its random address, seconds.
const ADDRESS_ROTATION_S: f64 = 900.0;

impl Phones {
    /// Phones for a run with `seed`; `opted_in_share` of the shoppers use the
    /// store's app. EIDs rotate every 2^`rotation` seconds.
    #[must_use]
    pub fn new(seed: u64, opted_in_share: f64, rotation: RotationExponent) -> Self {
        Phones {
            seed,
            opted_in_share: opted_in_share.clamp(0.0, 1.0),
            rotation,
        }
    }

    fn draw(&self, device: &str, salt: u64) -> u64 {
        splitmix64(fnv1a(device) ^ splitmix64(self.seed ^ salt))
    }

    /// Whether this shopper opted in through the app.
    #[must_use]
    pub fn opted_in(&self, device: &str) -> bool {
        #[allow(clippy::cast_precision_loss)] // 53 bits of a uniform draw are plenty
        let u = (self.draw(device, 1) >> 11) as f64 / (1u64 << 53) as f64;
        u < self.opted_in_share
    }

    /// The EID identity key an opted-in shopper's app was given.
    #[must_use]
    pub fn identity_key(&self, device: &str) -> [u8; 16] {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&self.draw(device, 2).to_le_bytes());
        key[8..].copy_from_slice(&self.draw(device, 3).to_le_bytes());
        key
    }

    /// The enrolment the store's back end holds for the opted-in among `devices`.
    pub fn enrolment<'a>(
        &self,
        devices: impl IntoIterator<Item = &'a str>,
    ) -> Vec<EnrolledShopper> {
        devices
            .into_iter()
            .filter(|d| self.opted_in(d))
            .map(|d| EnrolledShopper {
                id: d.to_owned(),
                identity_key: hex::encode(self.identity_key(d)),
            })
            .collect()
    }

    /// The phone's random Bluetooth address at Unix time `ts`. Phones change
    /// it every 15 minutes or so, which is why an anonymous phone can only
    /// ever be counted, not followed.
    #[must_use]
    pub fn address(&self, device: &str, ts: f64) -> [u8; 6] {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let epoch = (ts.max(0.0) / ADDRESS_ROTATION_S) as u64;
        let bytes = self.draw(device, 5 ^ epoch.rotate_left(8)).to_le_bytes();
        // Top two bits 0b01: a resolvable private address, as phones use.
        [
            bytes[0],
            bytes[1],
            bytes[2],
            bytes[3],
            bytes[4],
            (bytes[5] & 0x3f) | 0x40,
        ]
    }

    /// The advertisement (AD structures) the phone sends at Unix time `ts`.
    #[must_use]
    pub fn advert(&self, device: &str, ts: f64) -> Vec<u8> {
        if self.opted_in(device) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            // Unix seconds fit u32 until 2106; the EID time counter is 32-bit.
            let t = ts.max(0.0) as u32;
            let eid = eid_for(
                &IdentityKey::new(self.identity_key(device)),
                self.rotation,
                t,
            );
            let (mut frame, mut ad) = ([0u8; EddystoneEid::LEN], [0u8; 31]);
            let written = EddystoneEid {
                tx_power: -12,
                eid: eid.to_bytes(),
            }
            .encode(&mut frame)
            .and_then(|n| eddystone::write_advertisement(&frame[..n], &mut ad));
            // Ten bytes of frame always fit a 31-byte advertisement.
            ad[..written.unwrap_or(0)].to_vec()
        } else {
            // Flags, then Apple Nearby Info with a random-looking status: no
            // identity an observer could keep.
            let noise = self.draw(device, 4).to_le_bytes();
            vec![
                0x02, 0x01, 0x1a, 0x0a, 0xff, 0x4c, 0x00, 0x10, 0x05, noise[0], noise[1], noise[2],
                noise[3], noise[4],
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identify::{Identified, Identifier, IdentifyConfig};
    use aisle_protocol::beacon::FrameKind;

    #[test]
    fn opted_in_phones_resolve_to_their_shopper_and_others_stay_anonymous() {
        let phones = Phones::new(7, 0.5, RotationExponent::new(10).unwrap());
        let devices: Vec<String> = (0..200).map(|i| format!("shopper-{i:04}")).collect();
        let enrolled = phones.enrolment(devices.iter().map(String::as_str));
        // About half opt in.
        assert!((70..130).contains(&enrolled.len()), "{}", enrolled.len());
        let now = 1_767_225_600;
        let mut identifier = Identifier::new(&IdentifyConfig::default(), &enrolled, now).unwrap();
        for d in &devices {
            let got = identifier
                .identify(&phones.advert(d, f64::from(now) + 30.0))
                .unwrap();
            if phones.opted_in(d) {
                assert_eq!(got, Identified::Known(d));
            } else {
                assert_eq!(got, Identified::Anonymous(FrameKind::Apple));
            }
        }
    }

    #[test]
    fn addresses_rotate_and_look_resolvable() {
        let phones = Phones::new(1, 0.5, RotationExponent::new(10).unwrap());
        let a = phones.address("shopper-0001", 1000.0);
        assert_eq!(a, phones.address("shopper-0001", 1500.0));
        assert_ne!(a, phones.address("shopper-0001", 2000.0));
        assert_ne!(a, phones.address("shopper-0002", 1000.0));
        assert_eq!(a[5] >> 6, 0b01);
    }

    #[test]
    fn the_same_seed_gives_the_same_phones() {
        let k = RotationExponent::new(10).unwrap();
        let (a, b) = (Phones::new(1, 0.8, k), Phones::new(1, 0.8, k));
        assert_eq!(a.identity_key("x"), b.identity_key("x"));
        assert_ne!(
            a.identity_key("x"),
            Phones::new(2, 0.8, k).identity_key("x")
        );
        assert_ne!(a.identity_key("x"), a.identity_key("y"));
    }
}
