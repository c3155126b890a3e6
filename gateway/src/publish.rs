//! Publish: the engine's decisions as the JSON payloads Aisle publishes
//! ([`aisle_protocol::event::Position`] and [`ZoneEvent`]).
//!
//! Pure mapping, shared by `aisle replay` and the live service: names come
//! from the [`DeviceTable`] and the layout's zones, ids from [`EventIds`].
//! Every payload is validated here, so a caller never writes one a consumer
//! would reject.
//!
//! ```
//! use aisle_gateway::engine::{DeviceTable, Output, Position};
//! use aisle_gateway::publish::{EventIds, Payload, ZoneNames, to_payload};
//!
//! let mut devices = DeviceTable::new();
//! let phone = devices.intern("shopper-0001");
//! let zones = ZoneNames::new(["entrance"]);
//! let mut ids = EventIds::new(7);
//! let fix = Output::Position(Position {
//!     ts: 1767225600.5, device: phone, x: 1.0, y: 2.0, zone: None, confidence: 0.8,
//! });
//! let Payload::Position(p) = to_payload(&fix, &devices, &zones, &mut ids)? else {
//!     unreachable!()
//! };
//! assert_eq!(p.id.to_string(), "00000000000000070000000000000000");
//! assert_eq!(p.device, "shopper-0001");
//! # Ok::<(), aisle_gateway::publish::PublishError>(())
//! ```

use aisle_protocol::event::{self, EventId, SchemaVersion, ZoneEvent, ZoneEventKind};
use aisle_protocol::topic::Topic;

use crate::engine::{DeviceId, DeviceTable, Output, PresenceKind, ZoneIdx};
use crate::layout::Layout;

/// Zone ids by [`ZoneIdx`], in layout order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneNames {
    names: Vec<String>,
}

impl ZoneNames {
    /// Names in layout order: the n-th is `ZoneIdx(n)`.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        ZoneNames {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// The zones of `layout`, numbered as the engine numbers them.
    #[must_use]
    pub fn of(layout: &Layout) -> Self {
        Self::new(layout.zones.iter().map(|z| z.id.as_str()))
    }

    /// The id of a zone.
    #[must_use]
    pub fn name(&self, zone: ZoneIdx) -> Option<&str> {
        self.names.get(usize::from(zone.0)).map(String::as_str)
    }
}

/// Hands out [`EventId`]s: a 64-bit run id in the high half, a counter from
/// 0 in the low half. A run with the same run id gives the same ids in the
/// same order, which is what makes a replay byte-identical; distinct runs
/// (one per gateway start) never collide while their run ids differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventIds {
    run: u64,
    next: u64,
}

impl EventIds {
    /// Ids under `run`, counting from 0.
    #[must_use]
    pub fn new(run: u64) -> Self {
        EventIds { run, next: 0 }
    }

    /// Ids under a run id drawn from the clock and the process id, for a
    /// live run: two gateway starts get different run ids.
    #[must_use]
    pub fn for_live_run() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        #[allow(clippy::cast_possible_truncation)] // folding 128 bits into 64
        let seed = (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id()) << 32;
        Self::new(crate::splitmix64(seed))
    }

    /// A run id derived from a name (a store id, a file): the same name
    /// gives the same ids.
    #[must_use]
    pub fn named(name: &str) -> Self {
        Self::new(crate::splitmix64(crate::fnv1a(name)))
    }

    /// The run id.
    #[must_use]
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The next id.
    pub fn next_id(&mut self) -> EventId {
        let id = EventId::from_u128(u128::from(self.run) << 64 | u128::from(self.next));
        self.next = self.next.wrapping_add(1);
        id
    }
}

/// A payload ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// For `aisle/v1/{store}/positions/{device}`.
    Position(event::Position),
    /// For `aisle/v1/{store}/zones/{zone}/events/{device}`.
    Zone(ZoneEvent),
}

impl Payload {
    /// The payload as the JSON published, without a trailing newline.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        match self {
            Payload::Position(p) => serde_json::to_vec(p),
            Payload::Zone(e) => serde_json::to_vec(e),
        }
    }

    /// Writes the payload as JSON to `w`.
    pub fn write_json(&self, w: impl std::io::Write) -> serde_json::Result<()> {
        match self {
            Payload::Position(p) => serde_json::to_writer(w, p),
            Payload::Zone(e) => serde_json::to_writer(w, e),
        }
    }

    /// The topic this payload is published on in `store`.
    pub fn topic<'a>(&'a self, store: &'a str) -> Result<Topic<'a>, aisle_protocol::Error> {
        match self {
            Payload::Position(p) => Topic::positions(store, &p.device),
            Payload::Zone(e) => Topic::zone_events(store, &e.zone, &e.device),
        }
    }
}

/// Why an output could not become a payload. Each is a bug or a name that
/// cannot be published; the caller counts them and goes on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    /// The device id is not in the table.
    #[error("device {} has no name", .0.0)]
    UnknownDevice(DeviceId),
    /// An anonymous device (its internal name starts with `#`, which no
    /// published id may hold): located and counted, never published.
    #[error("device {} is anonymous", .0.0)]
    Anonymous(DeviceId),
    /// The zone index is not in the layout.
    #[error("zone {} has no name", .0.0)]
    UnknownZone(ZoneIdx),
    /// The payload does not validate (a name that is not a topic segment, a
    /// confidence out of range).
    #[error("payload: {0}")]
    Invalid(#[from] aisle_protocol::Error),
}

/// Maps one engine output to its payload, taking the next id from `ids`.
/// An id is taken only for a payload that validates.
pub fn to_payload(
    output: &Output,
    devices: &DeviceTable,
    zones: &ZoneNames,
    ids: &mut EventIds,
) -> Result<Payload, PublishError> {
    let device_name = |d: DeviceId| match devices.name(d) {
        None => Err(PublishError::UnknownDevice(d)),
        Some(name) if name.starts_with('#') => Err(PublishError::Anonymous(d)),
        Some(name) => Ok(name.to_owned()),
    };
    let zone_name = |z: ZoneIdx| {
        zones
            .name(z)
            .map(str::to_owned)
            .ok_or(PublishError::UnknownZone(z))
    };
    // Millimetres, thousandths and milliseconds: below what the engine can
    // tell, and the digits beyond (`12.059000015258789` s of dwell, from
    // subtracting Unix times) only make payloads longer.
    let milli = |v: f64| (v * 1000.0).round() / 1000.0;
    // The id is filled in once the payload validates.
    let placeholder = EventId::from_u128(0);
    let mut payload = match *output {
        Output::Position(p) => Payload::Position(event::Position {
            v: SchemaVersion,
            id: placeholder,
            ts: p.ts,
            device: device_name(p.device)?,
            x: milli(p.x),
            y: milli(p.y),
            zone: p.zone.map(zone_name).transpose()?,
            confidence: milli(p.confidence),
        }),
        Output::Presence(e) => Payload::Zone(ZoneEvent {
            v: SchemaVersion,
            id: placeholder,
            kind: match e.kind {
                PresenceKind::Enter => ZoneEventKind::Enter,
                PresenceKind::Dwell => ZoneEventKind::Dwell {
                    dwell_s: milli(e.dwell_s),
                },
                PresenceKind::Exit => ZoneEventKind::Exit {
                    dwell_s: milli(e.dwell_s),
                },
            },
            ts: e.ts,
            device: device_name(e.device)?,
            zone: zone_name(e.zone)?,
            entered_at: e.entered_at,
        }),
    };
    match &mut payload {
        Payload::Position(p) => {
            p.validate()?;
            p.id = ids.next_id();
        }
        Payload::Zone(e) => {
            e.validate()?;
            e.id = ids.next_id();
        }
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Position, PresenceEvent};

    fn table() -> (DeviceTable, DeviceId) {
        let mut t = DeviceTable::new();
        let d = t.intern("shopper-0003");
        (t, d)
    }

    #[test]
    fn maps_presence_kinds_and_names() {
        let (devices, d) = table();
        let zones = ZoneNames::new(["entrance", "dairy"]);
        let mut ids = EventIds::new(1);
        let event = |kind, dwell_s| {
            Output::Presence(PresenceEvent {
                kind,
                device: d,
                zone: ZoneIdx(1),
                ts: 110.0,
                entered_at: 100.0,
                dwell_s,
            })
        };
        let got: Vec<_> = [
            event(PresenceKind::Enter, 0.0),
            event(PresenceKind::Dwell, 10.000_000_015),
            event(PresenceKind::Exit, 12.5),
        ]
        .iter()
        .map(
            |o| match to_payload(o, &devices, &zones, &mut ids).unwrap() {
                Payload::Zone(e) => (e.kind, e.zone, e.device, e.id.as_u128()),
                Payload::Position(_) => panic!("a presence event became a position"),
            },
        )
        .collect();
        let base = 1u128 << 64;
        assert_eq!(
            got,
            [
                (
                    ZoneEventKind::Enter,
                    "dairy".into(),
                    "shopper-0003".into(),
                    base
                ),
                (
                    ZoneEventKind::Dwell { dwell_s: 10.0 },
                    "dairy".into(),
                    "shopper-0003".into(),
                    base + 1
                ),
                (
                    ZoneEventKind::Exit { dwell_s: 12.5 },
                    "dairy".into(),
                    "shopper-0003".into(),
                    base + 2
                ),
            ]
        );
    }

    #[test]
    fn invalid_payloads_are_errors_and_take_no_id() {
        let (mut devices, d) = table();
        let zones = ZoneNames::new(["entrance"]);
        let mut ids = EventIds::new(0);
        let fix = |device, zone, confidence| {
            Output::Position(Position {
                ts: 5.0,
                device,
                x: 0.0,
                y: 0.0,
                zone,
                confidence,
            })
        };
        assert_eq!(
            to_payload(&fix(DeviceId(9), None, 0.5), &devices, &zones, &mut ids),
            Err(PublishError::UnknownDevice(DeviceId(9)))
        );
        assert_eq!(
            to_payload(&fix(d, Some(ZoneIdx(4)), 0.5), &devices, &zones, &mut ids),
            Err(PublishError::UnknownZone(ZoneIdx(4)))
        );
        assert!(matches!(
            to_payload(&fix(d, None, 1.5), &devices, &zones, &mut ids),
            Err(PublishError::Invalid(_))
        ));
        let anonymous = devices.intern("#anon:0a0b0c0d0e0f");
        assert_eq!(
            to_payload(&fix(anonymous, None, 0.5), &devices, &zones, &mut ids),
            Err(PublishError::Anonymous(anonymous))
        );
        let slash = devices.intern("a/b");
        assert!(matches!(
            to_payload(&fix(slash, None, 0.5), &devices, &zones, &mut ids),
            Err(PublishError::Invalid(_))
        ));
        let ok = to_payload(&fix(d, Some(ZoneIdx(0)), 0.5), &devices, &zones, &mut ids).unwrap();
        let Payload::Position(p) = &ok else {
            panic!("{ok:?}")
        };
        assert_eq!((p.id.as_u128(), p.zone.as_deref()), (0, Some("entrance")));
        assert_eq!(
            ok.topic("store-1").unwrap(),
            Topic::positions("store-1", "shopper-0003").unwrap()
        );
        let json = String::from_utf8(ok.to_json().unwrap()).unwrap();
        assert!(
            json.starts_with(r#"{"v":1,"id":"00000000000000000000000000000000","ts":5.0,"#),
            "{json}"
        );
    }

    #[test]
    fn named_runs_repeat_and_live_runs_differ() {
        let (mut a, mut b) = (EventIds::named("store-1"), EventIds::named("store-1"));
        assert_eq!(a.next_id(), b.next_id());
        assert_ne!(EventIds::named("store-2").run(), a.run());
        assert_ne!(EventIds::for_live_run().run(), a.run());
    }
}
