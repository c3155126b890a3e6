//! Zone assignment with hysteresis.
//!
//! Fixes scatter by a metre or more, so a shopper standing at a shelf on a
//! zone border would flap between zones with a plain point-in-polygon test.
//! Here the current zone is kept while the position is anywhere inside it.
//! A move is considered only once the position is inside another zone by
//! more than `margin_m` from that zone's edge (or, for leaving all zones,
//! that far outside every zone); it is taken when the position stays that
//! deep for `confirm_samples` fixes in a row spanning `confirm_s` seconds.
//! Depth is measured from the zone's borders with the rest of the floor,
//! not from the store's outer walls: nobody crosses a wall into another
//! zone, and fixes clamped to the store pile up along it.
//! A device in no zone has no zone to defend: it takes the zone it is in
//! (at any depth) once that holds for the same count and time.
//!
//! A position outside every zone but within `nearest_within_m` of one
//! counts as in the nearest such zone: a shopper in a store stands in some
//! zone, and a fix a metre or two off it (on the shelving between two
//! aisles, beyond a wall) says more about that zone than about none.

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
    /// A position outside every zone but within this distance of one,
    /// metres, counts as in the nearest such zone; leaving all zones then
    /// takes a position this far plus `margin_m` from every zone. 0 turns it
    /// off. Default 2.0: fixes scatter by 2-3 m (median error on the
    /// simulated demo store) and land on the 1.2 m shelving between aisles
    /// or beyond the walls, while the zones of a store cover most of its
    /// floor. Set it below the width of any walkway that lies in no zone
    /// and should count as none.
    pub nearest_within_m: f64,
    /// Caps `margin_m` in a narrow zone so that the part of it deep enough
    /// to move into is at least this wide, metres: the margin there is at
    /// most `(width - core_width_m) / 2` (0 in zones narrower than this),
    /// with a zone's width twice the distance from its deepest point to its
    /// edge. Default 4.0: zones 6 m wide and more keep the full margin (the
    /// engine's border test); in the 2.4 m aisles of the simulated demo
    /// store a metre deep left a strip of 0.4 m down the middle that fixes
    /// scattering by 1.5 m rarely held for 3 s, so shoppers stayed in the
    /// zone they came from. There the zone is now right 81% of the time
    /// against 58% with the full margin everywhere, with the engine still
    /// changing zone less often than the shoppers do (the confirmation
    /// time and the rule of keeping a zone while inside it hold).
    pub core_width_m: f64,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        ZoneConfig {
            margin_m: 1.0,
            confirm_samples: 3,
            confirm_s: 3.0,
            nearest_within_m: 2.0,
            core_width_m: 4.0,
        }
    }
}

/// The zones of a layout, in layout order.
#[derive(Debug, Clone)]
pub struct ZoneMap {
    zones: Vec<Zone>,
    /// Per zone, its width: twice the largest distance from a point inside
    /// to the edge.
    widths: Vec<f64>,
    /// Corners of the rectangle bounding every zone: the outer walls, as
    /// far as the zones tell.
    walls: (Point, Point),
}

impl ZoneMap {
    /// The map of `zones`; at most 65,536 are used.
    #[must_use]
    pub fn new(zones: &[Zone]) -> Self {
        let mut zones = zones.to_vec();
        zones.truncate(usize::from(u16::MAX) + 1);
        let widths = zones.iter().map(width).collect();
        let (mut lo, mut hi) = (
            Point::new(f64::INFINITY, f64::INFINITY),
            Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
        );
        for &[x, y] in zones.iter().flat_map(|z| &z.polygon) {
            lo = Point::new(lo.x.min(x), lo.y.min(y));
            hi = Point::new(hi.x.max(x), hi.y.max(y));
        }
        ZoneMap {
            zones,
            widths,
            walls: (lo, hi),
        }
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

    /// The first zone containing `p`, at any depth; outside every zone, the
    /// nearest within `within` metres.
    fn containing(&self, p: Point, within: f64) -> Option<Place> {
        if let Some((i, _)) = self.indexed().find(|(_, z)| z.contains(p)) {
            return Some(Place::In(i));
        }
        self.nearest(p)
            .filter(|&(_, d)| d <= within)
            .map(|(i, _)| Place::In(i))
    }

    /// The zone whose edge is nearest `p`, and how far it is.
    fn nearest(&self, p: Point) -> Option<(ZoneIdx, f64)> {
        self.indexed()
            .map(|(i, z)| (i, z.distance_to_edge(p)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Whether `p` still counts as in `idx`: inside it, or outside every
    /// zone and within `within` of it; for `None`, outside every zone by
    /// more than `within`.
    fn contains(&self, idx: Option<ZoneIdx>, p: Point, within: f64) -> bool {
        if self.zones.iter().any(|z| z.contains(p)) {
            return idx
                .and_then(|i| self.zone(i))
                .is_some_and(|z| z.contains(p));
        }
        match idx {
            Some(i) => self
                .zone(i)
                .is_some_and(|z| z.distance_to_edge(p) <= within),
            None => self.zones.iter().all(|z| z.distance_to_edge(p) > within),
        }
    }

    /// Where `p` clearly lies: deep inside a zone; outside every zone but
    /// within `within` of one, the nearest; `within + margin` outside every
    /// zone, outside; `None` near an edge.
    fn clearly_in(&self, p: Point, config: &ZoneConfig) -> Option<Place> {
        let (margin, within) = (config.margin_m, config.nearest_within_m);
        let mut inside_any = false;
        for (i, z) in self.indexed() {
            if !z.contains(p) {
                continue;
            }
            let narrow = (self.widths[usize::from(i.0)] - config.core_width_m) / 2.0;
            let deep = margin.min(narrow.max(0.0));
            // Depth counts from the borders with the rest of the floor: a
            // position at the outer wall (where fixes pile up, clamped to
            // the store) is as deep in its zone as any.
            if z.distance_to_inner_edge(p, self.walls.0, self.walls.1) >= deep {
                return Some(Place::In(i));
            }
            inside_any = true;
        }
        if inside_any {
            return None;
        }
        // Outside every zone. The caller has found `p` farther than `within`
        // from the current zone, so a zone within that reach has the better
        // claim: without this a track parked a metre off the checkout stayed
        // in the aisle it came from for as long as it stood there.
        match self.nearest(p) {
            Some((i, d)) if d <= within => Some(Place::In(i)),
            Some((_, d)) if d < within + margin => None,
            _ => Some(Place::Outside),
        }
    }
}

/// A zone's width: twice the largest distance from a point inside it to its
/// edge, found on a 64 x 64 grid over its bounding box (exact for an
/// axis-aligned rectangle up to the grid step).
fn width(zone: &Zone) -> f64 {
    const STEPS: u32 = 64;
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for [x, y] in &zone.polygon {
        lo = [lo[0].min(*x), lo[1].min(*y)];
        hi = [hi[0].max(*x), hi[1].max(*y)];
    }
    let mut deepest: f64 = 0.0;
    for i in 0..=STEPS {
        for j in 0..=STEPS {
            let (u, v) = (
                f64::from(i) / f64::from(STEPS),
                f64::from(j) / f64::from(STEPS),
            );
            let p = Point::new(lo[0] + u * (hi[0] - lo[0]), lo[1] + v * (hi[1] - lo[1]));
            if zone.contains(p) {
                deepest = deepest.max(zone.distance_to_edge(p));
            }
        }
    }
    2.0 * deepest
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
        let within = config.nearest_within_m;
        if self.current.is_some() && map.contains(self.current, p, within) {
            self.candidate = None;
            return self.current;
        }
        let place = if self.current.is_some() {
            map.clearly_in(p, config)
        } else {
            map.containing(p, within)
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

    /// Feeds `t` the position `p` once a second through `seconds`; the
    /// zone it is in after.
    fn stand(
        t: &mut ZoneTracker,
        map: &ZoneMap,
        p: Point,
        seconds: std::ops::Range<u32>,
        config: &ZoneConfig,
    ) -> Option<ZoneIdx> {
        for i in seconds {
            t.update(map, p, f64::from(i), config);
        }
        t.current()
    }

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
        // x passes 7 (1 m into "right", 6 m wide) at 24 s; confirmed 3 s
        // later.
        assert_eq!(changes[1], (27.0, Some(ZoneIdx(1))));
        assert_eq!(map.index("right"), Some(ZoneIdx(1)));
    }

    #[test]
    fn a_position_at_the_outer_wall_is_deep_in_its_zone() {
        let map = two_zones();
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        assert_eq!(
            stand(&mut t, &map, Point::new(3.0, 3.0), 0..4, &config),
            Some(ZoneIdx(0))
        );
        // In the far corner of "right", 0.1 m from two outer walls and
        // 5.9 m from the border with "left": taken once confirmed.
        assert_eq!(
            stand(&mut t, &map, Point::new(11.9, 5.9), 4..8, &config),
            Some(ZoneIdx(1))
        );
        // Near the border with "left", the margin still holds the move.
        let mut near = ZoneTracker::default();
        stand(&mut near, &map, Point::new(3.0, 3.0), 0..4, &config);
        assert_eq!(
            stand(&mut near, &map, Point::new(6.5, 5.9), 4..20, &config),
            Some(ZoneIdx(0))
        );
    }

    #[test]
    fn leaving_all_zones_needs_the_same_margin() {
        let map = two_zones();
        let config = ZoneConfig {
            nearest_within_m: 0.0,
            ..ZoneConfig::default()
        };
        let mut t = ZoneTracker::default();
        assert_eq!(
            stand(&mut t, &map, Point::new(3.0, 3.0), 0..4, &config),
            Some(ZoneIdx(0))
        );
        // Just outside the edge: kept.
        assert_eq!(
            stand(&mut t, &map, Point::new(3.0, 6.3), 4..10, &config),
            Some(ZoneIdx(0))
        );
        assert_eq!(
            stand(&mut t, &map, Point::new(3.0, 7.0), 10..13, &config),
            Some(ZoneIdx(0)),
            "not for 3 s yet"
        );
        t.update(&map, Point::new(3.0, 7.0), 13.0, &config);
        assert_eq!(t.current(), None);
    }

    #[test]
    fn a_position_just_outside_every_zone_counts_as_in_the_nearest() {
        let map = two_zones();
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        // 1.5 m beyond the top edge of "right": taken as "right" once
        // confirmed, as a position inside it would be.
        assert_eq!(
            stand(&mut t, &map, Point::new(9.0, 7.5), 0..4, &config),
            Some(ZoneIdx(1))
        );
        // Wandering 2 m off the edge, still nearest "right": kept.
        assert_eq!(
            stand(&mut t, &map, Point::new(7.0, 8.0), 4..10, &config),
            Some(ZoneIdx(1))
        );
        // Leaving every zone takes `nearest_within_m + margin_m`.
        assert_eq!(
            stand(&mut t, &map, Point::new(9.0, 8.5), 10..20, &config),
            Some(ZoneIdx(1)),
            "2.5 m off is near"
        );
        assert_eq!(
            stand(&mut t, &map, Point::new(9.0, 9.2), 20..24, &config),
            None
        );
        // Far from every zone, a new device takes none.
        let mut far = ZoneTracker::default();
        assert_eq!(
            stand(&mut far, &map, Point::new(3.0, 8.5), 0..4, &config),
            None
        );
    }

    #[test]
    fn a_track_parked_beyond_reach_of_its_zone_takes_the_one_near_it() {
        let rect = |id: &str, x0: f64, x1: f64| Zone {
            id: id.into(),
            name: None,
            polygon: vec![[x0, 0.0], [x1, 0.0], [x1, 4.0], [x0, 4.0]],
        };
        // Two zones with 5 m of floor in no zone between them.
        let map = ZoneMap::new(&[rect("aisle", 0.0, 4.0), rect("checkout", 9.0, 14.0)]);
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        assert_eq!(
            stand(&mut t, &map, Point::new(2.0, 2.0), 0..4, &config),
            Some(ZoneIdx(0))
        );
        // Parked a metre off the checkout, 4 m from the aisle: neither
        // inside a zone nor far from every zone, yet the checkout's.
        assert_eq!(
            stand(&mut t, &map, Point::new(8.0, 2.0), 4..12, &config),
            Some(ZoneIdx(1))
        );
    }

    #[test]
    fn a_narrow_zone_is_entered_without_the_full_margin() {
        let rect = |id: &str, x0: f64, x1: f64| Zone {
            id: id.into(),
            name: None,
            polygon: vec![[x0, 0.0], [x1, 0.0], [x1, 6.5], [x0, 6.5]],
        };
        // Two aisles 2.4 m wide side by side.
        let map = ZoneMap::new(&[rect("a-1", 0.0, 2.4), rect("a-2", 2.4, 4.8)]);
        assert!((map.widths[0] - 2.4).abs() < 0.05, "{:?}", map.widths);
        let config = ZoneConfig::default();
        let mut t = ZoneTracker::default();
        assert_eq!(
            stand(&mut t, &map, Point::new(1.2, 3.0), 0..4, &config),
            Some(ZoneIdx(0))
        );
        // 0.4 m into "a-2": never 1 m deep there, but the move is taken.
        assert_eq!(
            stand(&mut t, &map, Point::new(2.8, 3.0), 4..8, &config),
            Some(ZoneIdx(1))
        );
    }
}
