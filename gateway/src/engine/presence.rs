//! Presence per (device, zone): when a shopper has entered a zone, how long
//! they have dwelt there, and when they left.
//!
//! Zone assignment already filters border flapping; presence adds the
//! business rules on top: a visit counts (`enter`) once the device has been
//! in the zone for `confirm_s`; while it stays, `dwell` reports every
//! `dwell_every_s`; it ends (`exit`) on a confirmed move to another zone, or
//! when the device has not been heard for `absence_s`. Silence is noticed by
//! [`Presence::tick`], so exits fire even when no sighting arrives.

use serde::{Deserialize, Serialize};

use super::ids::{DeviceId, ZoneIdx};

/// Presence timings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// Seconds in a zone before the visit counts. Default 2: passing
    /// through a corner of a zone is not a visit.
    pub confirm_s: f64,
    /// Seconds between dwell reports. Default 10.
    pub dwell_every_s: f64,
    /// Seconds without a sighting after which the device has left. Default
    /// 8: phones in a pocket skip adverts for a few seconds at a time.
    pub absence_s: f64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            confirm_s: 2.0,
            dwell_every_s: 10.0,
            absence_s: 8.0,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceKind {
    /// The device's visit to the zone is confirmed.
    Enter,
    /// The device is still in the zone.
    Dwell,
    /// The device left the zone, or went silent.
    Exit,
}

/// A presence event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresenceEvent {
    /// What happened.
    pub kind: PresenceKind,
    /// Who.
    pub device: DeviceId,
    /// Where.
    pub zone: ZoneIdx,
    /// When it was decided, seconds.
    pub ts: f64,
    /// When the device arrived in the zone, seconds.
    pub entered_at: f64,
    /// Seconds in the zone so far; on an exit for silence, up to the last
    /// sighting.
    pub dwell_s: f64,
}

#[derive(Debug, Clone, Copy)]
struct Visit {
    zone: ZoneIdx,
    arrived_at: f64,
    entered: bool,
    next_dwell: f64,
}

/// One device's presence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presence {
    visit: Option<Visit>,
    last_heard: f64,
}

impl Presence {
    /// The device was heard at `ts`.
    pub fn heard(&mut self, ts: f64) {
        self.last_heard = self.last_heard.max(ts);
    }

    /// The zone the device is in, and whether the visit is confirmed.
    #[must_use]
    pub fn visit(&self) -> Option<(ZoneIdx, bool)> {
        self.visit.map(|v| (v.zone, v.entered))
    }

    /// The device was placed in `zone` (or none) at `ts`.
    pub fn in_zone(
        &mut self,
        device: DeviceId,
        zone: Option<ZoneIdx>,
        ts: f64,
        config: &PresenceConfig,
        emit: &mut impl FnMut(PresenceEvent),
    ) {
        self.heard(ts);
        if self.visit.map(|v| v.zone) != zone {
            if let Some(v) = self.visit.take()
                && v.entered
            {
                emit(event(PresenceKind::Exit, device, &v, ts, ts));
            }
            self.visit = zone.map(|zone| Visit {
                zone,
                arrived_at: ts,
                entered: false,
                next_dwell: f64::INFINITY,
            });
        }
        self.advance(device, ts, config, emit);
    }

    /// Time passes to `now`: fires a pending enter or dwell, or the exit of
    /// a device silent for `absence_s`. Returns whether the device went
    /// silent (its visit, if any, is over).
    pub fn tick(
        &mut self,
        device: DeviceId,
        now: f64,
        config: &PresenceConfig,
        emit: &mut impl FnMut(PresenceEvent),
    ) -> bool {
        if now - self.last_heard < config.absence_s {
            self.advance(device, now, config, emit);
            return false;
        }
        if let Some(v) = self.visit.take()
            && v.entered
        {
            emit(event(PresenceKind::Exit, device, &v, now, self.last_heard));
        }
        true
    }

    fn advance(
        &mut self,
        device: DeviceId,
        now: f64,
        config: &PresenceConfig,
        emit: &mut impl FnMut(PresenceEvent),
    ) {
        let Some(v) = self.visit.as_mut() else {
            return;
        };
        if !v.entered && now - v.arrived_at >= config.confirm_s {
            v.entered = true;
            v.next_dwell = now + config.dwell_every_s;
            emit(event(PresenceKind::Enter, device, v, now, now));
        }
        if v.entered && now >= v.next_dwell {
            // One report for however many periods passed: a late tick
            // should not burst stale dwells.
            while v.next_dwell <= now {
                v.next_dwell += config.dwell_every_s;
            }
            emit(event(PresenceKind::Dwell, device, v, now, now));
        }
    }
}

fn event(kind: PresenceKind, device: DeviceId, v: &Visit, ts: f64, until: f64) -> PresenceEvent {
    PresenceEvent {
        kind,
        device,
        zone: v.zone,
        ts,
        entered_at: v.arrived_at,
        dwell_s: (until - v.arrived_at).max(0.0),
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // values set exactly, compared exactly
mod tests {
    use super::*;
    use PresenceKind::{Dwell, Enter, Exit};

    const D: DeviceId = DeviceId(7);
    const A: ZoneIdx = ZoneIdx(0);
    const B: ZoneIdx = ZoneIdx(1);

    fn kinds(events: &[PresenceEvent]) -> Vec<(PresenceKind, u16, f64)> {
        events.iter().map(|e| (e.kind, e.zone.0, e.ts)).collect()
    }

    #[test]
    fn enter_after_confirm_dwell_periodically_exit_on_silence() {
        let config = PresenceConfig::default();
        let mut p = Presence::default();
        let mut events = Vec::new();
        let mut emit = |e| events.push(e);
        for i in 0..=50 {
            p.in_zone(D, Some(A), 100.0 + f64::from(i) * 0.5, &config, &mut emit);
        }
        // Silent from 125 s: nothing until 133 s.
        assert!(!p.tick(D, 132.0, &config, &mut emit));
        assert!(p.tick(D, 133.5, &config, &mut emit));
        assert_eq!(
            kinds(&events),
            [
                (Enter, 0, 102.0),
                (Dwell, 0, 112.0),
                (Dwell, 0, 122.0),
                (Dwell, 0, 132.0),
                (Exit, 0, 133.5)
            ]
        );
        assert!(events.iter().all(|e| e.entered_at == 100.0));
        assert_eq!(events[1].dwell_s, 12.0);
        assert_eq!(events[4].dwell_s, 25.0);
        assert_eq!(p.visit(), None);
    }

    #[test]
    fn a_move_exits_the_old_zone_and_enters_the_new() {
        let config = PresenceConfig::default();
        let mut p = Presence::default();
        let mut events = Vec::new();
        let mut emit = |e| events.push(e);
        for i in 0..10 {
            p.in_zone(D, Some(A), f64::from(i) * 0.5, &config, &mut emit);
        }
        for i in 10..20 {
            p.in_zone(D, Some(B), f64::from(i) * 0.5, &config, &mut emit);
        }
        assert_eq!(
            kinds(&events),
            [(Enter, 0, 2.0), (Exit, 0, 5.0), (Enter, 1, 7.0)]
        );
        assert_eq!(p.visit(), Some((B, true)));
    }

    #[test]
    fn passing_through_is_not_a_visit() {
        let config = PresenceConfig::default();
        let mut p = Presence::default();
        let mut events = Vec::new();
        let mut emit = |e| events.push(e);
        p.in_zone(D, Some(A), 0.0, &config, &mut emit);
        p.in_zone(D, Some(A), 1.5, &config, &mut emit);
        p.in_zone(D, None, 2.5, &config, &mut emit);
        assert!(p.tick(D, 20.0, &config, &mut emit));
        assert!(events.is_empty(), "{events:?}");
    }
}
