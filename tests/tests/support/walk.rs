//! A scripted shopper walking through a store, heard by its anchors: the
//! recording a test plays into the gateway.
//!
//! The radio is the log-distance model the gateway's localiser assumes
//! (-59 dBm at 1 m, exponent 2.0, phone at 1.2 m, anchors at their height)
//! plus a small deterministic ripple, so the walk is the same on every run
//! and every machine, and a failure is the gateway's, not the dice's.

use std::io::Write as _;
use std::path::Path;

use aisle_gateway::layout::{Layout, Point, Zone};
use aisle_gateway::record::RecordedSighting;

/// Phones advertise about every 100 ms; each anchor in range hears each advert.
pub const ADVERT_EVERY_S: f64 = 0.1;
/// A relaxed walking pace in a shop, metres per second.
const WALKING_MPS: f64 = 1.2;
const RSSI_AT_1M: f64 = -59.0;
const PATH_LOSS_EXPONENT: f64 = 2.0;
const PHONE_HEIGHT_M: f64 = 1.2;
/// Weaker than this, an anchor does not hear the advert.
const SENSITIVITY_DBM: f64 = -90.0;
/// Half the width of the ripple added to every reading, dB.
const RIPPLE_DB: f64 = 2.0;

/// One step of a walk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Walk in a straight line to this point.
    To(Point),
    /// Stand still for this many seconds.
    Stand(f64),
}

/// A walk from `start` through `steps`.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    pub start: Point,
    pub steps: Vec<Step>,
}

impl Walk {
    /// Where the shopper is every [`ADVERT_EVERY_S`], from 0 s.
    #[must_use]
    pub fn track(&self) -> Vec<Point> {
        let mut track = vec![self.start];
        let mut at = self.start;
        for step in &self.steps {
            match *step {
                Step::To(to) => {
                    let seconds = at.distance(to) / WALKING_MPS;
                    let samples = samples_in(seconds).max(1);
                    for i in 1..=samples {
                        let f = f64::from(i) / f64::from(samples);
                        track.push(Point::new(
                            at.x + (to.x - at.x) * f,
                            at.y + (to.y - at.y) * f,
                        ));
                    }
                    at = to;
                }
                Step::Stand(seconds) => {
                    track.extend(std::iter::repeat_n(at, samples_in(seconds) as usize));
                }
            }
        }
        track
    }

    /// The points the walk passes through, corners included: its path.
    #[must_use]
    pub fn corners(&self) -> Vec<Point> {
        std::iter::once(self.start)
            .chain(self.steps.iter().filter_map(|s| match s {
                Step::To(p) => Some(*p),
                Step::Stand(_) => None,
            }))
            .collect()
    }

    /// How close the path comes to `zone`, metres (0 inside).
    #[must_use]
    pub fn distance_to(&self, zone: &Zone) -> f64 {
        let corners = self.corners();
        if corners.iter().any(|p| zone.contains(*p)) {
            return 0.0;
        }
        let polygon = &zone.polygon;
        let edges: Vec<_> = polygon
            .iter()
            .zip(polygon.iter().cycle().skip(1))
            .map(|(a, b)| (Point::new(a[0], a[1]), Point::new(b[0], b[1])))
            .collect();
        corners
            .windows(2)
            .flat_map(|leg| {
                edges
                    .iter()
                    .map(move |&(c, d)| segment_distance(leg[0], leg[1], c, d))
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The recording of `device` walking this walk from `start_ts`: one
    /// sighting per anchor in range per advert, as recording lines.
    #[must_use]
    pub fn sightings(&self, layout: &Layout, device: &str, start_ts: f64) -> Vec<RecordedSighting> {
        let mut out = Vec::new();
        for (i, p) in self.track().into_iter().enumerate() {
            #[allow(clippy::cast_precision_loss)] // a walk has far fewer than 2^52 samples
            let ts = start_ts + i as f64 * ADVERT_EVERY_S;
            for (a, anchor) in layout.anchors.iter().enumerate() {
                let dz = anchor.z.unwrap_or(2.3) - PHONE_HEIGHT_M;
                let d = anchor.position().distance(p).hypot(dz).max(0.1);
                let rssi = RSSI_AT_1M - 10.0 * PATH_LOSS_EXPONENT * d.log10() + ripple(i, a);
                if rssi < SENSITIVITY_DBM {
                    continue;
                }
                out.push(RecordedSighting {
                    ts: (ts * 1000.0).round() / 1000.0,
                    anchor: anchor.id.clone(),
                    device: Some(device.to_owned()),
                    adv: None,
                    rssi: rssi.round(),
                    x: Some(p.x),
                    y: Some(p.y),
                });
            }
        }
        out
    }
}

/// Writes sightings as a JSONL recording.
pub fn write_recording(path: &Path, sightings: &[RecordedSighting]) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for s in sightings {
        serde_json::to_writer(&mut file, s).unwrap();
        file.write_all(b"\n").unwrap();
    }
    file.flush().unwrap();
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // seconds of a walk
fn samples_in(seconds: f64) -> u32 {
    (seconds / ADVERT_EVERY_S).round() as u32
}

/// A deterministic ripple in `-RIPPLE_DB..RIPPLE_DB`, different for every
/// advert and anchor.
fn ripple(sample: usize, anchor: usize) -> f64 {
    let mut x = (sample as u64) << 16 ^ anchor as u64;
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    #[allow(clippy::cast_precision_loss)] // 53 bits are plenty
    let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
    (unit * 2.0 - 1.0) * RIPPLE_DB
}

fn point_segment(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    };
    p.distance(Point::new(a.x + t * dx, a.y + t * dy))
}

/// Distance between two segments: 0 when they cross.
fn segment_distance(a: Point, b: Point, c: Point, d: Point) -> f64 {
    let side = |p: Point, q: Point, r: Point| (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    let crosses = side(a, b, c) * side(a, b, d) < 0.0 && side(c, d, a) * side(c, d, b) < 0.0;
    if crosses {
        return 0.0;
    }
    point_segment(a, c, d)
        .min(point_segment(b, c, d))
        .min(point_segment(c, a, b))
        .min(point_segment(d, a, b))
}
