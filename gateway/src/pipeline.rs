//! The gateway's pipeline as one synchronous value: a sighting in, engine
//! outputs out. Sources feed it, the live service and `aisle replay` drive
//! it, and it knows nothing of where sightings come from or where decisions
//! go.
//!
//! identify (who is this?) -> engine (filter, locate, zone, presence).

use std::sync::Arc;

use aisle_protocol::beacon::{FrameKind, Identity};

use crate::engine::{
    DeviceId, DeviceTable, Engine, EngineConfig, EngineError, ObserveError, Output,
};
use crate::identify::{EnrolledShopper, Identified, Identifier, IdentifyConfig, IdentifyError};
use crate::layout::Layout;

/// Who a sighting is of, as its source knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// An identity already resolved by the source (a recording's `device`).
    Device(Arc<str>),
    /// The advertisement the anchor heard, for the pipeline to identify,
    /// with the sender's link-layer address when the source has it.
    Advert {
        /// The AD structures.
        adv: Vec<u8>,
        /// The advertiser's address (random and rotating on phones): used
        /// only to count an anonymous device once, never published.
        address: Option<[u8; 6]>,
    },
    /// What a shelf node heard, already decoded on the node: the frame's
    /// kind, its identity for the kinds that carry one (iBeacon, AltBeacon,
    /// Eddystone-UID and -EID), and the sender's address when the node
    /// reported the device by address.
    Heard {
        /// The kind of frame.
        kind: FrameKind,
        /// Its identity, for the identify stage to match.
        identity: Option<Identity>,
        /// The advertiser's address, as for [`Subject::Advert`].
        address: Option<[u8; 6]>,
    },
}

/// One sighting from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSighting {
    /// Unix time, seconds.
    pub ts: f64,
    /// The anchor that heard it.
    pub anchor: Arc<str>,
    /// Of whom.
    pub subject: Subject,
    /// dBm.
    pub rssi: f64,
}

/// Why a sighting was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkipReason {
    /// The advertisement does not decode.
    #[error("advertisement: {0}")]
    Advert(#[from] aisle_protocol::Error),
    /// The engine refused it (unknown anchor, absurd RSSI or time).
    #[error("{0}")]
    Engine(#[from] ObserveError),
}

/// Why the pipeline cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Identification settings.
    #[error(transparent)]
    Identify(#[from] IdentifyError),
    /// Engine settings.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The pipeline for one store.
#[derive(Debug)]
pub struct Pipeline {
    identifier: Identifier,
    engine: Engine,
    devices: DeviceTable,
    /// Devices the last tick forgot: their numbers still name them until
    /// the next tick recycles them.
    forgotten: Vec<DeviceId>,
    zone_ids: Vec<String>,
    anonymous_sightings: u64,
}

impl Pipeline {
    /// Sets the pipeline up for `layout`, with EIDs resolved around `now`.
    pub fn new(
        layout: &Layout,
        identify: &IdentifyConfig,
        shoppers: &[EnrolledShopper],
        engine: EngineConfig,
        now: f64,
    ) -> Result<Self, PipelineError> {
        Ok(Pipeline {
            identifier: Identifier::new(identify, shoppers, eid_time(now))?,
            engine: Engine::new(layout, engine)?,
            devices: DeviceTable::new(),
            forgotten: Vec::new(),
            zone_ids: layout.zones.iter().map(|z| z.id.clone()).collect(),
            anonymous_sightings: 0,
        })
    }

    /// Takes one sighting; decisions go into `out`.
    pub fn push(&mut self, s: &SourceSighting, out: &mut Vec<Output>) -> Result<(), SkipReason> {
        self.observe(s, out).map(|_| ())
    }

    /// [`Pipeline::push`], saying which device the sighting was of: none
    /// for an anonymous advertisement without an address (only counted).
    pub fn observe(
        &mut self,
        s: &SourceSighting,
        out: &mut Vec<Output>,
    ) -> Result<Option<DeviceId>, SkipReason> {
        let device = match &s.subject {
            Subject::Device(name) => Some(self.devices.intern_new(name)),
            Subject::Advert { adv, address } => {
                self.identifier.advance(eid_time(s.ts));
                let identified = self.identifier.identify(adv)?;
                intern(
                    &mut Sink {
                        devices: &mut self.devices,
                        engine: &mut self.engine,
                        anonymous_sightings: &mut self.anonymous_sightings,
                    },
                    identified,
                    *address,
                )?
            }
            Subject::Heard {
                kind,
                identity,
                address,
            } => {
                self.identifier.advance(eid_time(s.ts));
                let identified = self.identifier.identify_heard(*kind, *identity);
                intern(
                    &mut Sink {
                        devices: &mut self.devices,
                        engine: &mut self.engine,
                        anonymous_sightings: &mut self.anonymous_sightings,
                    },
                    identified,
                    *address,
                )?
            }
        };
        let Some((device, new)) = device else {
            return Ok(None);
        };
        if let Err(e) = self
            .engine
            .observe_named(s.ts, &s.anchor, device, s.rssi, out)
        {
            // A device first heard in a sighting the engine refused: it
            // has no state to expire, so its number goes back now.
            if new {
                self.engine.forget(device);
                self.devices.forget(device);
            }
            return Err(e.into());
        }
        Ok(Some(device))
    }

    /// Lets time pass to `now`: enters, dwells and exits that are due fire,
    /// and devices silent for `forget_after_s` are forgotten.
    ///
    /// A forgotten device's number still names it in this tick's outputs
    /// (its exit, say); the next tick hands it back to the device table for
    /// reuse. So take each tick's outputs, and name them through
    /// [`Pipeline::devices`], before the next tick: the live service and the
    /// replay do so right after every call.
    pub fn tick(&mut self, now: f64, out: &mut Vec<Output>) {
        self.devices.recycle();
        self.forgotten.clear();
        self.engine.tick_forgetting(now, out, &mut self.forgotten);
        for &device in &self.forgotten {
            self.devices.forget(device);
        }
    }

    /// The devices the last [`Pipeline::tick`] forgot, for anything kept per
    /// device beside the pipeline to drop them before their numbers return.
    #[must_use]
    pub fn forgotten(&self) -> &[DeviceId] {
        &self.forgotten
    }

    /// The devices held, to name a [`DeviceId`].
    #[must_use]
    pub fn devices(&self) -> &DeviceTable {
        &self.devices
    }

    /// The name a device is published under.
    #[must_use]
    pub fn device_name(&self, id: DeviceId) -> Option<&str> {
        self.devices.name(id)
    }

    /// The zone ids, by the engine's zone index.
    #[must_use]
    pub fn zone_ids(&self) -> &[String] {
        &self.zone_ids
    }

    /// The engine, for its counters and occupancy figures.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Identification counts.
    #[must_use]
    pub fn identify_counts(&self) -> crate::identify::IdentifyCounts {
        self.identifier.counts()
    }

    /// Anonymous sightings taken in.
    #[must_use]
    pub fn anonymous_sightings(&self) -> u64 {
        self.anonymous_sightings
    }
}

/// The parts of the pipeline an identified sighting goes into, borrowed
/// apart from the identifier that named it.
struct Sink<'p> {
    devices: &'p mut DeviceTable,
    engine: &'p mut Engine,
    anonymous_sightings: &'p mut u64,
}

/// The device an identified sighting is of, and whether it was numbered
/// just now; none for an anonymous one without an address.
fn intern(
    sink: &mut Sink<'_>,
    identified: Identified<'_>,
    address: Option<[u8; 6]>,
) -> Result<Option<(DeviceId, bool)>, SkipReason> {
    Ok(Some(match identified {
        Identified::Known(name) => sink.devices.intern_new(name),
        Identified::Anonymous(_) => {
            *sink.anonymous_sightings += 1;
            // Without an address there is nothing to tell one
            // anonymous phone from another: it is only counted.
            let Some(address) = address else {
                return Ok(None);
            };
            let (id, new) = sink.devices.intern_new(&anonymous_name(address));
            if let Err(e) = sink.engine.mark_anonymous(id) {
                if new {
                    sink.devices.forget(id);
                }
                return Err(e.into());
            }
            (id, new)
        }
    }))
}

/// An internal name for an anonymous device. It starts with a character no
/// published id may hold, so it can never collide with or pass for one.
fn anonymous_name(address: [u8; 6]) -> String {
    format!("#anon:{}", hex::encode(address))
}

/// EID time counter for a Unix time: whole seconds, clamped to `u32`.
#[must_use]
pub fn eid_time(ts: f64) -> u32 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let t = ts.clamp(0.0, f64::from(u32::MAX)) as u32;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Output;
    use crate::sim::phones::Phones;
    use crate::sim::store::demo_layout;
    use aisle_protocol::eid::RotationExponent;

    const NOW: f64 = 1_767_225_600.0;

    #[test]
    fn adverts_are_identified_then_tracked_and_strangers_never_named() {
        let layout = demo_layout();
        let phones = Phones::new(3, 0.5, RotationExponent::new(10).unwrap());
        let names: Vec<String> = (0..40).map(|i| format!("shopper-{i:04}")).collect();
        let enrolled = phones.enrolment(names.iter().map(String::as_str));
        let mut p = Pipeline::new(
            &layout,
            &IdentifyConfig::default(),
            &enrolled,
            EngineConfig::default(),
            NOW,
        )
        .unwrap();
        let mut out = Vec::new();
        // Every phone stands 1 m from every anchor for ten seconds.
        for step in 0..100 {
            let ts = NOW + f64::from(step) * 0.1;
            for (i, name) in names.iter().enumerate() {
                for a in &layout.anchors {
                    let s = SourceSighting {
                        ts,
                        anchor: a.id.as_str().into(),
                        subject: Subject::Advert {
                            adv: phones.advert(name, ts),
                            address: Some([0xc0, 0, 0, 0, 0, u8::try_from(i).unwrap()]),
                        },
                        rssi: -60.0,
                    };
                    p.push(&s, &mut out).unwrap();
                }
            }
        }
        p.tick(NOW + 10.0, &mut out);
        let published: std::collections::BTreeSet<&str> = out
            .iter()
            .filter_map(|o| match o {
                Output::Position(pos) => p.device_name(pos.device),
                Output::Presence(e) => p.device_name(e.device),
            })
            .collect();
        let opted: std::collections::BTreeSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| phones.opted_in(n))
            .collect();
        assert!(!opted.is_empty());
        // Presence is published for the opted-in only; strangers are located
        // for counting, under internal names no publisher may use.
        let presence: std::collections::BTreeSet<&str> = out
            .iter()
            .filter_map(|o| match o {
                Output::Presence(e) => p.device_name(e.device),
                Output::Position(_) => None,
            })
            .collect();
        assert!(presence.is_subset(&opted), "{presence:?}");
        assert!(
            published
                .iter()
                .all(|n| opted.contains(n) || n.starts_with("#anon:"))
        );
        assert!(p.anonymous_sightings() > 0);
    }

    #[test]
    fn what_a_node_heard_is_identified_like_an_advertisement() {
        let layout = demo_layout();
        let cart = [7u8; 20];
        let identify = IdentifyConfig {
            beacons: vec![crate::identify::KnownBeacon {
                id: "cart-7".into(),
                identity: format!("ibeacon:{}", hex::encode(cart)),
            }],
            ..IdentifyConfig::default()
        };
        let mut p = Pipeline::new(&layout, &identify, &[], EngineConfig::default(), NOW).unwrap();
        let mut out = Vec::new();
        let heard = |identity: Option<Identity>, address: Option<[u8; 6]>| SourceSighting {
            ts: NOW,
            anchor: layout.anchors[0].id.as_str().into(),
            subject: Subject::Heard {
                kind: identity.map_or(FrameKind::Apple, |i| i.kind()),
                identity,
                address,
            },
            rssi: -60.0,
        };
        let known = Identity::new(FrameKind::IBeacon, &cart).unwrap();
        let id = p.observe(&heard(Some(known), None), &mut out).unwrap();
        assert_eq!(id.and_then(|d| p.device_name(d)), Some("cart-7"));
        // Another iBeacon, unlisted and without an address: only counted.
        let other = Identity::new(FrameKind::IBeacon, &[8; 20]).unwrap();
        assert_eq!(p.observe(&heard(Some(other), None), &mut out), Ok(None));
        // A phone by its address: tracked under an internal name only.
        let id = p
            .observe(&heard(None, Some([1, 2, 3, 4, 5, 6])), &mut out)
            .unwrap();
        assert!(
            id.and_then(|d| p.device_name(d))
                .unwrap()
                .starts_with("#anon:")
        );
        assert_eq!(p.anonymous_sightings(), 2);
        assert_eq!(p.identify_counts().known, 1);
    }

    #[test]
    fn bad_sightings_are_refused_with_their_reason() {
        let layout = demo_layout();
        let mut p = Pipeline::new(
            &layout,
            &IdentifyConfig::default(),
            &[],
            EngineConfig::default(),
            NOW,
        )
        .unwrap();
        let mut out = Vec::new();
        let mut s = SourceSighting {
            ts: NOW,
            anchor: "no-such-anchor".into(),
            subject: Subject::Device("cart-1".into()),
            rssi: -60.0,
        };
        assert!(matches!(p.push(&s, &mut out), Err(SkipReason::Engine(_))));
        s.anchor = layout.anchors[0].id.as_str().into();
        s.rssi = f64::NAN;
        assert!(matches!(p.push(&s, &mut out), Err(SkipReason::Engine(_))));
        s.rssi = -60.0;
        s.subject = Subject::Advert {
            adv: vec![0x09, 0xff],
            address: None,
        };
        assert!(matches!(p.push(&s, &mut out), Err(SkipReason::Advert(_))));
        assert_eq!(p.engine().counters().unknown_anchor, 1);
    }
}
