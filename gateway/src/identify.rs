//! Identify: who a sighting is about, if it is anyone Aisle may track.
//!
//! A device is tracked only when it is known: a shopper whose rotating
//! identifier (Eddystone-EID) resolves against the enrolled identity keys, or
//! a beacon the store lists by its identity. Everything else (random
//! addresses, other people's phones, unlisted beacons) is anonymous: it is
//! counted by kind and never given an identifier.
//!
//! Enrolled shoppers come from a TOML file the store's app back end writes:
//!
//! ```toml
//! [[shopper]]
//! id = "shopper-0001"
//! identity_key = "0102030405060708090a111213141516"
//! ```

use std::collections::HashMap;
use std::path::Path;

use aisle_protocol::beacon::{Frame, FrameKind, Identity};
use aisle_protocol::eid::{Eid, EidResolver, IdentityKey, Resolution, RotationExponent, ShopperId};
use serde::{Deserialize, Serialize};

/// How identification is set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyConfig {
    /// The store app's EID rotation exponent K: identifiers rotate every 2^K
    /// seconds. 10 (about 17 minutes) by default.
    #[serde(default = "default_rotation_exponent")]
    pub rotation_exponent: u8,
    /// Beacons the store tracks by name (carts, staff badges, demo tags).
    #[serde(default, rename = "beacon")]
    pub beacons: Vec<KnownBeacon>,
}

fn default_rotation_exponent() -> u8 {
    10
}

impl Default for IdentifyConfig {
    fn default() -> Self {
        IdentifyConfig {
            rotation_exponent: default_rotation_exponent(),
            beacons: Vec::new(),
        }
    }
}

/// A beacon the store tracks, by the identity its frames carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownBeacon {
    /// The name it is published under.
    pub id: String,
    /// Its identity, `kind:hex` as `aisle inspect` prints it.
    pub identity: String,
}

/// One enrolled shopper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolledShopper {
    /// The pseudonymous id the shopper's app was given; published in topics.
    pub id: String,
    /// The 16-byte EID identity key, hex.
    pub identity_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShoppersFile {
    #[serde(default)]
    shopper: Vec<EnrolledShopper>,
}

/// Why identification could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is wrong; `key` says which.
    #[error("{origin}: {key}: {reason}")]
    Invalid {
        /// The file or section.
        origin: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the enrolled shoppers from a TOML file.
pub fn load_shoppers(path: &Path) -> Result<Vec<EnrolledShopper>, IdentifyError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| IdentifyError::Read {
        path: origin.clone(),
        source,
    })?;
    let file: ShoppersFile = toml::from_str(&text).map_err(|e| IdentifyError::Invalid {
        origin: origin.clone(),
        key: "shopper".into(),
        reason: e.message().to_owned(),
    })?;
    Ok(file.shopper)
}

/// What a sighting is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified<'a> {
    /// A device the store may track, by the name it is published under.
    Known(&'a str),
    /// Someone or something not known: counted by kind, never identified.
    Anonymous(FrameKind),
}

/// Counts of what identification saw, for status pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdentifyCounts {
    /// Sightings of known devices.
    pub known: u64,
    /// Anonymous sightings, by frame kind code.
    pub anonymous: [u64; FrameKind::ALL.len()],
    /// EIDs that two enrolments share (left unresolved).
    pub ambiguous: u64,
    /// Advertisements that did not decode.
    pub malformed: u64,
}

/// Maps advertisements to known devices.
pub struct Identifier {
    resolver: EidResolver,
    shoppers: Vec<String>,
    beacons: HashMap<Identity, String>,
    counts: IdentifyCounts,
}

impl std::fmt::Debug for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identifier")
            .field("shoppers", &self.shoppers.len())
            .field("beacons", &self.beacons.len())
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Identifier {
    /// Sets up identification for `now` (Unix seconds), checking every key.
    pub fn new(
        config: &IdentifyConfig,
        shoppers: &[EnrolledShopper],
        now: u32,
    ) -> Result<Identifier, IdentifyError> {
        let invalid = |key: String, reason: String| IdentifyError::Invalid {
            origin: "identify".into(),
            key,
            reason,
        };
        let k = RotationExponent::new(config.rotation_exponent)
            .map_err(|e| invalid("identify.rotation_exponent".into(), e.to_string()))?;
        let mut keys = Vec::with_capacity(shoppers.len());
        for (i, s) in shoppers.iter().enumerate() {
            let bytes: [u8; 16] = hex::decode(&s.identity_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    invalid(
                        format!("shopper[{i}].identity_key"),
                        "must be 32 hex digits".into(),
                    )
                })?;
            let index = u32::try_from(i)
                .map_err(|_| invalid("shopper".into(), "more than 2^32 shoppers".into()))?;
            keys.push((IdentityKey::new(bytes), ShopperId(index)));
        }
        let mut beacons = HashMap::new();
        for (i, b) in config.beacons.iter().enumerate() {
            let identity: Identity = b.identity.parse().map_err(|e: aisle_protocol::Error| {
                invalid(format!("identify.beacon[{i}].identity"), e.to_string())
            })?;
            if beacons.insert(identity, b.id.clone()).is_some() {
                return Err(invalid(
                    format!("identify.beacon[{i}].identity"),
                    "listed twice".into(),
                ));
            }
        }
        Ok(Identifier {
            resolver: EidResolver::build(k, keys, now),
            shoppers: shoppers.iter().map(|s| s.id.clone()).collect(),
            beacons,
            counts: IdentifyCounts::default(),
        })
    }

    /// Moves the EID window on when `now` has entered a new rotation period.
    /// Call at least once a period; building takes about 0.5 s per million
    /// shoppers.
    pub fn advance(&mut self, now: u32) {
        if self.resolver.needs_rebuild(now) {
            self.resolver.rebuild(now);
        }
    }

    /// Identifies one advertisement (its AD structures).
    pub fn identify(&mut self, adv: &[u8]) -> Result<Identified<'_>, aisle_protocol::Error> {
        let frame = Frame::classify(adv).inspect_err(|_| self.counts.malformed += 1)?;
        Ok(self.identify_heard(frame.kind(), frame.identity()))
    }

    /// Identifies what a shelf node heard: the frame's kind and, for the
    /// kinds that carry one, its identity, in the form the node link carries.
    pub fn identify_heard(
        &mut self,
        kind: FrameKind,
        identity: Option<Identity>,
    ) -> Identified<'_> {
        let known = match identity {
            Some(id) if kind == FrameKind::EddystoneEid => {
                match Eid::try_from(id.as_bytes())
                    .ok()
                    .and_then(|e| self.resolver.lookup(e))
                {
                    Some(Resolution::Unique { shopper, .. }) => usize::try_from(shopper.0)
                        .ok()
                        .and_then(|i| self.shoppers.get(i)),
                    Some(Resolution::Ambiguous) => {
                        self.counts.ambiguous += 1;
                        None
                    }
                    None => None,
                }
            }
            Some(id) => self.beacons.get(&id),
            None => None,
        };
        if let Some(name) = known {
            self.counts.known += 1;
            Identified::Known(name)
        } else {
            self.counts.anonymous[usize::from(kind.code())] += 1;
            Identified::Anonymous(kind)
        }
    }

    /// What identification has seen so far.
    #[must_use]
    pub fn counts(&self) -> IdentifyCounts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_protocol::beacon::{EddystoneEid, IBeacon, eddystone};
    use aisle_protocol::eid::eid_for;

    const NOW: u32 = 1_767_225_600;

    fn shopper(i: u8) -> EnrolledShopper {
        EnrolledShopper {
            id: format!("shopper-{i:04}"),
            identity_key: hex::encode([i; 16]),
        }
    }

    fn eid_advert(key: [u8; 16], t: u32) -> Vec<u8> {
        let k = RotationExponent::new(10).unwrap();
        let eid = eid_for(&IdentityKey::new(key), k, t);
        let (mut frame, mut ad) = ([0u8; 10], [0u8; 31]);
        let f = EddystoneEid {
            tx_power: 0,
            eid: eid.to_bytes(),
        }
        .encode(&mut frame)
        .unwrap();
        let n = eddystone::write_advertisement(&frame[..f], &mut ad).unwrap();
        ad[..n].to_vec()
    }

    #[test]
    fn enrolled_shoppers_and_listed_beacons_are_known_others_anonymous() {
        let cart = IBeacon {
            uuid: aisle_protocol::ad::Uuid([9; 16]),
            major: 1,
            minor: 17,
            measured_power: -59,
        };
        let mut cart_ad = [0u8; 31];
        let n = cart.write_advertisement(&mut cart_ad).unwrap();
        let config = IdentifyConfig {
            beacons: vec![KnownBeacon {
                id: "cart-17".into(),
                identity: format!(
                    "{}",
                    aisle_protocol::beacon::Frame::IBeacon(cart)
                        .identity()
                        .unwrap()
                ),
            }],
            ..IdentifyConfig::default()
        };
        let mut id = Identifier::new(&config, &[shopper(1), shopper(2)], NOW).unwrap();
        assert_eq!(
            id.identify(&eid_advert([2; 16], NOW)),
            Ok(Identified::Known("shopper-0002"))
        );
        assert_eq!(id.identify(&cart_ad[..n]), Ok(Identified::Known("cart-17")));
        // A stranger's EID and another iBeacon: anonymous, by kind.
        assert_eq!(
            id.identify(&eid_advert([3; 16], NOW)),
            Ok(Identified::Anonymous(FrameKind::EddystoneEid))
        );
        let other = IBeacon { minor: 18, ..cart };
        let n = other.write_advertisement(&mut cart_ad).unwrap();
        assert_eq!(
            id.identify(&cart_ad[..n]),
            Ok(Identified::Anonymous(FrameKind::IBeacon))
        );
        assert!(id.identify(&[0x09, 0xff]).is_err());
        let c = id.counts();
        assert_eq!((c.known, c.malformed), (2, 1));
        assert_eq!(c.anonymous[usize::from(FrameKind::EddystoneEid.code())], 1);
    }

    #[test]
    fn the_window_follows_the_clock() {
        let mut id = Identifier::new(&IdentifyConfig::default(), &[shopper(5)], NOW).unwrap();
        let later = NOW + 3 * 1024;
        let advert = eid_advert([5; 16], later);
        assert_eq!(
            id.identify(&advert),
            Ok(Identified::Anonymous(FrameKind::EddystoneEid))
        );
        id.advance(later);
        assert_eq!(id.identify(&advert), Ok(Identified::Known("shopper-0005")));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let bad_key = EnrolledShopper {
            id: "s".into(),
            identity_key: "abc".into(),
        };
        let e =
            Identifier::new(&IdentifyConfig::default(), &[shopper(1), bad_key], NOW).unwrap_err();
        assert_eq!(
            e.to_string(),
            "identify: shopper[1].identity_key: must be 32 hex digits"
        );
        let config = IdentifyConfig {
            rotation_exponent: 16,
            ..IdentifyConfig::default()
        };
        let e = Identifier::new(&config, &[], NOW).unwrap_err();
        assert!(e.to_string().contains("identify.rotation_exponent"), "{e}");
        let config = IdentifyConfig {
            beacons: vec![KnownBeacon {
                id: "x".into(),
                identity: "ibeacon:zz".into(),
            }],
            ..IdentifyConfig::default()
        };
        let e = Identifier::new(&config, &[], NOW).unwrap_err();
        assert!(e.to_string().contains("identify.beacon[0].identity"), "{e}");
    }

    #[test]
    fn reads_a_shoppers_file() {
        let dir = std::env::temp_dir().join(format!("aisle-identify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shoppers.toml");
        std::fs::write(
            &path,
            "[[shopper]]\nid = \"a\"\nidentity_key = \"0102030405060708090a111213141516\"\n",
        )
        .unwrap();
        let s = load_shoppers(&path).unwrap();
        assert_eq!(s.len(), 1);
        std::fs::write(&path, "[[shopper]]\nid = 3\n").unwrap();
        assert!(load_shoppers(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
