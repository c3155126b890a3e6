//! Zone assignment with hysteresis.
//!
//! Fixes scatter by a metre or more, so a shopper standing at a shelf on a
//! zone border would flap between zones with a plain point-in-polygon test.
//! Here the current zone is kept while the position is anywhere inside it.
//! A move is considered only once the position is inside another zone by
//! more than `margin_m` from that zone's edge (or, for leaving all zones,
//! that far outside every zone); it is taken when the position stays that
//! deep for `confirm_samples` fixes in a row spanning `confirm_s` seconds.
//! A device in no zone has no zone to defend: it takes the zone it is in
//! (at any depth) once that holds for the same count and time.

use serde::{Deserialize, Serialize};

use super::ids::ZoneIdx;
use crate::layout::{Point, Zone};

/// Parameters of zone assignment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneConfig {
    /// How deep inside another zone (or how far outside all zones) a
    /// position must be to start a move, metres. Default 1.0: with a few dB
    /// of noise per reading, filtered positions of a shopper standing still
    /// wander about a metre for seconds at a time (the engine's border
    /// test); half a metre let such a shopper flap five times in two
    /// minutes.
    pub margin_m: f64,
    /// Fixes in a row that must agree on the move. Default 3.
    pub confirm_samples: u8,
    /// Seconds the agreeing fixes must span. Default 3.0: longer than the
    /// metre-wide excursions above last, shorter than the 2 s presence
    /// confirmation plus a walk across a zone.
    pub confirm_s: f64,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        ZoneConfig {
            margin_m: 1.0,
            confirm_samples: 3,
            confirm_s: 3.0,
        }
    }
}

/// The zones of a layout, in layout order.
#[derive(Debug, Clone)]
pub struct ZoneMap {
    zones: Vec<Zone>,
}

impl ZoneMap {
    /// The map of `zones`; at most 65,536 are used.
    #[must_use]
    pub fn new(zones: &[Zone]) -> Self {
        let mut zones = zones.to_vec();
        zones.truncate(usize::from(u16::MAX) + 1);
        ZoneMap { zones }
    }

    /// How many zones there are; indices run from 0 below this.
    #[must_use]
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether the layout has no zones.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The zone behind an index.
    #[must_use]
    pub fn zone(&self, idx: ZoneIdx) -> Option<&Zone> {
        self.zones.get(usize::from(idx.0))
    }

    /// The index of the zone with this id.
    #[must_use]
    pub fn index(&self, id: &str) -> Option<ZoneIdx> {
        self.indexed().find(|(_, z)| z.id == id).map(|(i, _)| i)
    }

    fn indexed(&self) -> impl Iterator<Item = (ZoneIdx, &Zone)> {
        // `new` keeps at most u16::MAX + 1 zones.
        #[allow(clippy::cast_possible_truncation)]
        self.zones
            .iter()
            .enumerate()
            .map(|(i, z)| (ZoneIdx(i as u16), z))
    }

    /// The first zone containing `p`, at any depth.
    fn containing(&self, p: Point) -> Option<Place> {
        self.indexed()
            .find(|(_, z)| z.contains(p))
            .map(|(i, _)| Place::In(i))
    }

    fn contains(&self, idx: Option<ZoneIdx>, p: Point) -> bool {
        match idx {
            Some(z) => self.zone(z).is_some_and(|z| z.contains(p)),
            None => !self.zones.iter().any(|z| z.contains(p)),
        }
    }

    /// Where `p` clearly lies: deep inside a zone, or that far outside every
    /// zone; `None` near an edge.
    fn clearly_in(&self, p: Point, margin: f64) -> Option<Place> {
        let mut near_edge = false;
        for (i, z) in self.indexed() {
            let inside = z.contains(p);
            let deep = z.distance_to_edge(p) >= margin;
            if inside && deep {
                return Some(Place::In(i));
            }
            near_edge |= inside || !deep;
        }
        (!near_edge).then_some(Place::Outside)
    }
}

/// Where a position clearly lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    In(ZoneIdx),
    Outside,
}

impl Place {
    fn zone(self) -> Option<ZoneIdx> {
        match self {
            Place::In(z) => Some(z),
            Place::Outside => None,
        }
    }
}

/// A device's zone, with the move it may be making.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZoneTracker {
    current: Option<ZoneIdx>,
    candidate: Option<Place>,
    since: f64,
    agreeing: u8,
}

impl ZoneTracker {
    /// The zone the device is in.
    #[must_use]
    pub fn current(&self) -> Option<ZoneIdx> {
        self.current
    }

    /// Forgets the zone (the device went silent).
    pub fn reset(&mut self) {
        *self = ZoneTracker::default();
    }

    /// Folds in a position at `ts`; returns the zone the device is in.
    pub fn update(
        &mut self,
        map: &ZoneMap,
        p: Point,
        ts: f64,
        config: &ZoneConfig,
    ) -> Option<ZoneIdx> {
        if self.current.is_some() && map.contains(self.current, p) {
            self.candidate = None;
            return self.current;
        }
        let place = if self.current.is_some() {
            map.clearly_in(p, config.margin_m)
        } else {
            map.containing(p)
        };
        match place {
            Some(target) if Some(target) == self.candidate => {
                self.agreeing = self.agreeing.saturating_add(1);
            }
            Some(target) if target.zone() != self.current => {
                self.candidate = Some(target);
                self.since = ts;
                self.agreeing = 1;
            }
            _ => self.candidate = None,
        }
        if let Some(target) = self.candidate
            && self.agreeing >= config.confirm_samples
            && ts - self.since >= config.confirm_s
        {
            self.current = target.zone();
            self.candidate = None;
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_zones() -> ZoneMap {
        let rect = |id: &str, x0: f64, x1: f64| Zone {
            id: id.into(),
            name: None,
            polygon: vec![[x0, 0.0], [x1, 0.0], [x1, 6.0], [x0, 6.0]],
        };
        ZoneMap::new(&[rect("left", 0.0, 6.0), rect("right", 6.0, 12.0)])
    }

    /// A small deterministic generator for jitter: xorshift, mapped to a
    /// roughly normal value by summing uniforms.
    fn jitter(state: &mut u64) -> f64 {
        let mut sum = 0.0;
        for _ in 0..4 {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            #[allow(clippy::cast_precision_loss)]
            let u = (*state >> 11) as f64 / (1u64 << 53) as f64;
            sum += u - 0.5;
        }
        sum
    }

    #[test]
    fn a_shopper_on_a_border_stays_in_one_zone() {
        let map = two_zones();
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let (mut changes, mut last) = (0, None);
        let mut in_raw = [0; 2];
        for i in 0..600 {
            let ts = f64::from(i) * 0.5;
            // Standing on the border at x = 6 with ~0.3 m of jitter.
            let p = Point::new(6.0 + 0.5 * jitter(&mut seed), 3.0 + 0.5 * jitter(&mut seed));
            in_raw[usize::from(p.x >= 6.0)] += 1;
            let z = t.update(&map, p, ts, &config);
            if z != last {
                changes += 1;
                last = z;
            }
        }
        // The raw positions fall on both sides often ...
        assert!(in_raw[0] > 200 && in_raw[1] > 200, "{in_raw:?}");
        // ... yet the zone is taken once, or never (never deep enough).
        assert!(changes <= 1, "{changes} zone changes");
    }

    #[test]
    fn a_walk_across_changes_zone_once_after_confirmation() {
        let map = two_zones();
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        let mut changes = Vec::new();
        let mut last = None;
        for i in 0..80 {
            let ts = f64::from(i) * 0.5;
            let p = Point::new(1.0 + ts * 0.25, 3.0);
            let z = t.update(&map, p, ts, &config);
            if z != last {
                changes.push((ts, z));
                last = z;
            }
        }
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0], (3.0, Some(ZoneIdx(0))));
        // x passes 7 (1 m into "right") at 24 s; confirmed 3 s later.
        assert_eq!(changes[1], (27.0, Some(ZoneIdx(1))));
        assert_eq!(map.index("right"), Some(ZoneIdx(1)));
    }

    #[test]
    fn leaving_all_zones_needs_the_same_margin() {
        let map = two_zones();
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        for i in 0..4 {
            t.update(&map, Point::new(3.0, 3.0), f64::from(i), &config);
        }
        assert_eq!(t.current(), Some(ZoneIdx(0)));
        // Just outside the edge: kept.
        for i in 4..10 {
            t.update(&map, Point::new(3.0, 6.3), f64::from(i), &config);
        }
        assert_eq!(t.current(), Some(ZoneIdx(0)));
        for i in 10..13 {
            t.update(&map, Point::new(3.0, 7.0), f64::from(i), &config);
        }
        assert_eq!(t.current(), Some(ZoneIdx(0)), "not for 3 s yet");
        t.update(&map, Point::new(3.0, 7.0), 13.0, &config);
        assert_eq!(t.current(), None);
    }
}
