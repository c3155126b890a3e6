//! The localisation and presence engine: sightings in; positions, zones and
//! presence events out.
//!
//! Plain synchronous code, time passed in as a value: [`Engine::observe`]
//! takes one sighting, [`Engine::tick`] lets time pass, and both push what
//! they decide into a vector the caller drains. Per sighting the engine only
//! records the reading in the device's RSSI filter; the costlier steps
//! (filter reduction, position fix, motion, zone, presence) run at most once
//! per device per `locate_interval_s` of sighting time.
//!
//! Stages, each in its own module: [`filter`] -> [`locate`] -> [`motion`] ->
//! [`zone`] -> [`presence`]; [`calibrate`] fits the radio models the
//! locator uses.
//!
//! ```
//! use aisle_gateway::engine::{DeviceTable, Engine, EngineConfig, Output};
//! use aisle_gateway::layout::Layout;
//!
//! let layout = Layout::parse(
//!     r#"
//! [store]
//! id = "s1"
//! timezone = "UTC"
//! [[anchor]]
//! id = "door"
//! x = 0.0
//! y = 0.0
//! [[zone]]
//! id = "entrance"
//! polygon = [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]]
//! "#,
//!     "example",
//! )?;
//! let mut engine = Engine::new(&layout, EngineConfig::default())?;
//! let mut devices = DeviceTable::new();
//! let mut out = Vec::new();
//! let phone = devices.intern("phone-1");
//! let door = engine.anchor("door").unwrap();
//! for i in 0..40 {
//!     engine.observe(100.0 + f64::from(i) * 0.25, door, phone, -62.0, &mut out)?;
//! }
//! engine.tick(130.0, &mut out);
//! for output in out.drain(..) {
//!     match output {
//!         Output::Position(p) => assert!(p.confidence < 0.5, "one anchor"),
//!         Output::Presence(e) => println!("{:?} {:?}", e.kind, e.zone),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod calibrate;
mod config;
pub mod device_radio;
pub mod filter;
mod grid;
pub mod ids;
pub mod locate;
pub mod motion;
pub mod presence;
pub mod shadowing;
pub mod zone;

use std::collections::HashMap;

pub use config::{EngineConfig, EngineError};
pub use ids::{AnchorIdx, DeviceId, DeviceTable, ZoneIdx};
pub use presence::{PresenceEvent, PresenceKind};

use crate::layout::{Layout, Point};
use crate::record::RSSI_RANGE;
use device_radio::DeviceRadio;
use filter::{DeviceFilter, Level, millis};
use locate::Locator;
use motion::Motion;
use presence::Presence;
use shadowing::ShadowingMap;
use zone::{ZoneMap, ZoneTracker};

/// Devices the engine tracks by id: ids index a vector of 8-byte slots, so
/// this bounds it at 32 MiB whatever id a caller passes. Ids come from a
/// [`DeviceTable`], dense from 0 and recycled as the engine forgets
/// devices, so they stay below the most devices tracked at once.
pub const MAX_DEVICE_ID: u32 = (1 << 22) - 1;

/// How far a track held at a shelf stays from it, metres.
const SHELF_CLEARANCE_M: f64 = 0.3;

/// Why a sighting was skipped. Each is also counted in [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ObserveError {
    /// An anchor index beyond the layout's anchors.
    #[error("anchor {0:?} is not in the layout")]
    UnknownAnchor(AnchorIdx),
    /// An anchor id not in the layout.
    #[error("anchor id is not in the layout")]
    UnknownAnchorId,
    /// NaN, infinite, or outside what a receiver reports.
    #[error("rssi {0} is not a reading (outside -127..=20 dBm)")]
    Rssi(f64),
    /// A timestamp that is not a finite, non-negative number.
    #[error("ts {0} is not a time")]
    Time(f64),
    /// A device id above [`MAX_DEVICE_ID`].
    #[error("device id {} is above the engine's limit", .0.0)]
    DeviceId(DeviceId),
}

/// Sightings seen and skipped since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Sightings taken in.
    pub sightings: u64,
    /// Skipped: the anchor is not in the layout.
    pub unknown_anchor: u64,
    /// Skipped: the RSSI is not a reading.
    pub bad_rssi: u64,
    /// Skipped: the time is not a time.
    pub bad_time: u64,
    /// Skipped: the device id is above [`MAX_DEVICE_ID`].
    pub bad_device: u64,
    /// Position fixes made.
    pub fixes: u64,
}

/// A device's filtered position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Sighting time of the fix, seconds.
    pub ts: f64,
    /// Who.
    pub device: DeviceId,
    /// Metres.
    pub x: f64,
    /// Metres.
    pub y: f64,
    /// The zone after hysteresis.
    pub zone: Option<ZoneIdx>,
    /// 0..=1: how much to trust the position.
    pub confidence: f64,
}

/// How many devices are in one zone, by whether they are known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Occupancy {
    /// Devices tracked by identity (opted-in shoppers, listed beacons).
    pub known: usize,
    /// Devices marked anonymous: counted here, never named.
    pub anonymous: usize,
}

/// What the engine decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output {
    /// A device's position.
    Position(Position),
    /// A presence event.
    Presence(PresenceEvent),
}

/// All the engine keeps about one device.
#[derive(Debug, Clone, Default)]
struct Track {
    filter: DeviceFilter,
    motion: Motion,
    radio: DeviceRadio,
    zone: ZoneTracker,
    presence: Presence,
    last_fix: Option<f64>,
    last_heard: f64,
    /// Since when the track has been held at a shelf, if it is.
    held_since: Option<f64>,
    /// Counted per zone, never reported by identity.
    anonymous: bool,
}

/// The engine for one store layout.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    locator: Locator,
    zones: ZoneMap,
    anchor_ids: HashMap<String, AnchorIdx>,
    tracks: Vec<Option<Box<Track>>>,
    levels: Vec<Level>,
    /// Per anchor, whether the layout gives it a fitted `rssi_at_1m`.
    fitted: Vec<bool>,
    counters: Counters,
}

impl Engine {
    /// An engine for `layout`, once `config` checks out; the layout's
    /// calibrated shadowing map is followed when it has one.
    pub fn new(layout: &Layout, config: EngineConfig) -> Result<Self, EngineError> {
        match &layout.shadowing {
            Some(map) => Self::with_shadowing(layout, config, map),
            None => Self::with_shadowing(layout, config, &ShadowingMap::none()),
        }
    }

    /// An engine for `layout` whose locator follows `shadowing`, the map a
    /// calibration of this layout measured.
    pub fn with_shadowing(
        layout: &Layout,
        config: EngineConfig,
        shadowing: &ShadowingMap,
    ) -> Result<Self, EngineError> {
        config.check()?;
        let too_many = || EngineError::TooManyAnchors(layout.anchors.len());
        let anchor_ids = layout
            .anchors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                Ok((
                    a.id.clone(),
                    AnchorIdx(u16::try_from(i).map_err(|_| too_many())?),
                ))
            })
            .collect::<Result<_, _>>()?;
        Ok(Engine {
            config,
            locator: Locator::with_shadowing(layout, config.locate, shadowing),
            zones: ZoneMap::new(&layout.zones),
            anchor_ids,
            tracks: Vec::new(),
            levels: Vec::new(),
            fitted: layout
                .anchors
                .iter()
                .map(|a| a.rssi_at_1m.is_some())
                .collect(),
            counters: Counters::default(),
        })
    }

    /// The index of the anchor with this id.
    #[must_use]
    pub fn anchor(&self, id: &str) -> Option<AnchorIdx> {
        self.anchor_ids.get(id).copied()
    }

    /// The zones, to name a [`ZoneIdx`].
    #[must_use]
    pub fn zones(&self) -> &ZoneMap {
        &self.zones
    }

    /// What has been seen and skipped.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Takes one sighting: `device` heard by `anchor` at `rssi` dBm, at
    /// `ts` seconds. Positions and presence events decided go into `out`.
    pub fn observe(
        &mut self,
        ts: f64,
        anchor: AnchorIdx,
        device: DeviceId,
        rssi: f64,
        out: &mut Vec<Output>,
    ) -> Result<(), ObserveError> {
        if usize::from(anchor.0) >= self.locator.models().len() {
            self.counters.unknown_anchor += 1;
            return Err(ObserveError::UnknownAnchor(anchor));
        }
        if !RSSI_RANGE.contains(&rssi) {
            self.counters.bad_rssi += 1;
            return Err(ObserveError::Rssi(rssi));
        }
        if !(ts.is_finite() && ts >= 0.0) {
            self.counters.bad_time += 1;
            return Err(ObserveError::Time(ts));
        }
        if device.0 > MAX_DEVICE_ID {
            self.counters.bad_device += 1;
            return Err(ObserveError::DeviceId(device));
        }
        self.counters.sightings += 1;
        let stale_s = self.config.filter.stale_after_s;
        let track = self.track(device);
        // The first fix, and the first after a silence, waits one interval:
        // on the first sighting only one anchor has spoken, and a fix from
        // it would put the device at that anchor, however far it is.
        if track.last_fix.is_none() || ts - track.last_heard > stale_s {
            track.last_fix = Some(ts);
        }
        let last_fix = track.last_fix.unwrap_or(ts);
        #[allow(clippy::cast_possible_truncation)] // dBm fit f32
        track.filter.push(millis(ts), anchor, rssi as f32);
        track.presence.heard(ts);
        track.last_heard = track.last_heard.max(ts);
        let due = ts - last_fix >= self.config.locate_interval_s;
        if due {
            self.fix(device, ts, out);
        }
        Ok(())
    }

    /// [`Engine::observe`] with the anchor named by its id.
    pub fn observe_named(
        &mut self,
        ts: f64,
        anchor: &str,
        device: DeviceId,
        rssi: f64,
        out: &mut Vec<Output>,
    ) -> Result<(), ObserveError> {
        let Some(idx) = self.anchor(anchor) else {
            self.counters.unknown_anchor += 1;
            return Err(ObserveError::UnknownAnchorId);
        };
        self.observe(ts, idx, device, rssi, out)
    }

    /// Lets time pass to `now`: pending enters and dwells fire, devices
    /// silent for the absence time exit, long-silent devices are dropped.
    /// A `now` that is not a finite number is ignored.
    pub fn tick(&mut self, now: f64, out: &mut Vec<Output>) {
        self.tick_forgetting(now, out, &mut Vec::new());
    }

    /// [`Engine::tick`], also saying which devices it dropped (into
    /// `forgotten`): the engine holds nothing of them any more, so whoever
    /// numbered them may reuse the numbers once this tick's outputs, which
    /// may still name them, are taken.
    pub fn tick_forgetting(
        &mut self,
        now: f64,
        out: &mut Vec<Output>,
        forgotten: &mut Vec<DeviceId>,
    ) {
        if !now.is_finite() {
            return;
        }
        let config = &self.config;
        for (i, slot) in self.tracks.iter_mut().enumerate() {
            let Some(track) = slot else { continue };
            // Slots are indexed by device id, so the index fits a u32.
            #[allow(clippy::cast_possible_truncation)]
            let device = DeviceId(i as u32);
            let anonymous = track.anonymous;
            let mut emit = |e| {
                if !anonymous {
                    out.push(Output::Presence(e));
                }
            };
            if track
                .presence
                .tick(device, now, &config.presence, &mut emit)
            {
                track.zone.reset();
            }
            // A track marked before its first sighting has nothing to forget.
            if track.last_fix.is_some() && now - track.last_heard > config.forget_after_s {
                *slot = None;
                forgotten.push(device);
            }
        }
    }

    /// Drops everything the engine holds of `device` at once, without the
    /// events a tick would emit: for a device numbered for a sighting the
    /// engine then refused.
    pub fn forget(&mut self, device: DeviceId) {
        if let Some(slot) = self.tracks.get_mut(device.0 as usize) {
            *slot = None;
        }
    }

    /// Marks a device as anonymous: it is located and counted per zone by
    /// [`Engine::count_anonymous`], but emits no presence events.
    pub fn mark_anonymous(&mut self, device: DeviceId) -> Result<(), ObserveError> {
        if device.0 > MAX_DEVICE_ID {
            return Err(ObserveError::DeviceId(device));
        }
        self.track(device).anonymous = true;
        Ok(())
    }

    /// Anonymous devices whose visit to `zone` is confirmed. This is the
    /// hook for the per-zone occupancy count; it walks every track, so call
    /// it at publishing rate, not per sighting.
    #[must_use]
    pub fn count_anonymous(&self, zone: ZoneIdx) -> usize {
        self.tracks
            .iter()
            .flatten()
            .filter(|t| t.anonymous && t.presence.visit() == Some((zone, true)))
            .count()
    }

    /// Devices in each zone, by [`ZoneIdx`] (the n-th entry is `ZoneIdx(n)`;
    /// one entry per zone of the layout). A device counts in the zone of its
    /// confirmed visit, as for [`Engine::count_anonymous`]: a device on its
    /// way in, or heard in no zone, counts nowhere. One pass over every
    /// track, so call it at publishing rate, not per sighting.
    #[must_use]
    pub fn occupancy(&self) -> Vec<Occupancy> {
        let mut zones = vec![Occupancy::default(); self.zones.len()];
        for track in self.tracks.iter().flatten() {
            let Some((zone, true)) = track.presence.visit() else {
                continue;
            };
            let Some(count) = zones.get_mut(usize::from(zone.0)) else {
                continue;
            };
            if track.anonymous {
                count.anonymous += 1;
            } else {
                count.known += 1;
            }
        }
        zones
    }

    /// Devices with state in the engine.
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.tracks.iter().flatten().count()
    }

    /// Bytes of state for tracked devices: slots, boxed tracks and their
    /// filters' heap, as allocated (capacities, not lengths).
    #[must_use]
    pub fn state_bytes(&self) -> usize {
        self.tracks.capacity() * size_of::<Option<Box<Track>>>()
            + self
                .tracks
                .iter()
                .flatten()
                .map(|t| size_of::<Track>() + t.filter.heap_bytes())
                .sum::<usize>()
    }

    fn track(&mut self, device: DeviceId) -> &mut Track {
        let i = device.0 as usize;
        if i >= self.tracks.len() {
            self.tracks.resize_with(i + 1, || None);
        }
        self.tracks[i].get_or_insert_with(Box::default)
    }

    /// Locates `device` at `ts` and carries the fix through motion, zone
    /// and presence.
    fn fix(&mut self, device: DeviceId, ts: f64, out: &mut Vec<Output>) {
        let Some(Some(track)) = self.tracks.get_mut(device.0 as usize) else {
            return;
        };
        let config = &self.config;
        track.last_fix = Some(ts);
        track
            .filter
            .levels(millis(ts), &config.filter, &mut self.levels);
        let offset = track.radio.offset_db();
        for l in &mut self.levels {
            l.rssi -= offset;
        }
        let Some(fix) = self.locator.locate(&self.levels) else {
            return;
        };
        self.counters.fixes += 1;
        if fix.anchors >= 3
            && let Some(residual) = device_radio::mean_residual(
                &self.locator,
                &self.fitted,
                &config.locate,
                &self.levels,
                fix.position,
            )
        {
            track.radio.learn(residual, &config.device);
        }
        // One or two anchors only say the device is within reach of them.
        // When the track already lies within that reach, such a fix adds
        // nothing but a pull towards the anchor; many in a row (a phone
        // heard by few anchors for a while) would drag the track there.
        let started = track.motion.started();
        let before = track.motion.position();
        let weak_agrees = fix.anchors < 3 && started && before.distance(fix.position) <= fix.std_m;
        let p = if weak_agrees {
            before
        } else {
            track
                .motion
                .update(ts, fix.position, fix.std_m, &config.motion)
        };
        // The track walks round shelves: one that would pass through a
        // shelf stops before it, until the fixes have lain beyond it for
        // `cross_shelf_after_s`.
        let stop = if started {
            self.locator.walk_stop(before, p, SHELF_CLEARANCE_M)
        } else {
            None
        };
        let p = match stop {
            Some(stop)
                if ts - *track.held_since.get_or_insert(ts) < config.motion.cross_shelf_after_s =>
            {
                track.motion.stop_at(stop);
                stop
            }
            _ => {
                track.held_since = None;
                p
            }
        };
        let p: Point = self.locator.place(p);
        track.motion.set_position(p);
        let zone = track.zone.update(&self.zones, p, ts, &config.zone);
        out.push(Output::Position(Position {
            ts,
            device,
            x: p.x,
            y: p.y,
            zone,
            confidence: fix.confidence,
        }));
        let anonymous = track.anonymous;
        track
            .presence
            .in_zone(device, zone, ts, &config.presence, &mut |e| {
                if !anonymous {
                    out.push(Output::Presence(e));
                }
            });
    }
}

#[cfg(test)]
mod tests;
