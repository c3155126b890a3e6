//! A simulated store: shoppers walking between shelves with phones that
//! advertise, anchors that hear them, and the ground truth of where everyone
//! was.
//!
//! [`Simulator`] yields [`Event`]s in time order: the sightings the anchors
//! report and, once a second for each shopper in the store, a
//! [`TruthSample`]. It streams: a run of any length holds only the shoppers'
//! planned trips and the state of their radio links. `aisle demo` feeds the
//! pipeline from it as the wall clock goes ([`Simulator::next_until`]);
//! `aisle simulate` writes recordings from it.
//!
//! Everything is drawn from generators seeded from [`SimConfig::seed`], one
//! stream per shopper, so a seed gives the same store on every machine.
//!
//! ```
//! use aisle_gateway::sim::{Event, SimConfig, Simulator, store::FloorPlan};
//!
//! let config = SimConfig { shoppers: 3, minutes: 1.0, ..SimConfig::default() };
//! let mut sim = Simulator::new(FloorPlan::demo(), config)?;
//! let start = sim.config().start_ts;
//! // What the anchors heard in the first ten seconds, as a live feed takes it.
//! while let Some(event) = sim.next_until(start + 10.0) {
//!     match event {
//!         Event::Sighting(s) => assert!(s.rssi >= -95.0),
//!         Event::Truth(t) => assert!(t.ts <= start + 10.0),
//!     }
//! }
//! // Where everyone is, at any time.
//! for truth in sim.truth_at(start + 30.0) {
//!     println!("{} at ({}, {}) in {:?}", truth.device, truth.x, truth.y, truth.zone);
//! }
//! # Ok::<(), aisle_gateway::sim::SimError>(())
//! ```

pub mod cli;
mod event;
pub mod floor;
pub mod floor_file;
pub mod obstruction;
pub mod phones;
pub mod radio;
pub mod site;
pub mod store;
pub mod walk;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::layout::Point;
pub use event::{Event, Sighting, TruthSample};
use radio::{RadioConfig, RadioModel};
use store::FloorPlan;
use walk::{PlanError, Planner, Trip};

/// 2026-01-01T00:00:00Z: where simulated time starts unless told otherwise.
pub const DEFAULT_START_TS: f64 = 1_767_225_600.0;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// How many shoppers visit.
    pub shoppers: usize,
    /// Length of the run, minutes.
    pub minutes: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Advertisements each phone sends a second.
    pub adv_rate_hz: f64,
    /// Unix time of the start of the run, seconds (to the millisecond).
    pub start_ts: f64,
    /// Share of the run over which shoppers arrive, evenly at random; the
    /// default, 0.6, lets most finish their trip before the run ends.
    pub arrival_share: f64,
    /// The radio model.
    pub radio: RadioConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            shoppers: 20,
            minutes: 10.0,
            seed: 1,
            adv_rate_hz: 10.0,
            start_ts: DEFAULT_START_TS,
            arrival_share: 0.6,
            radio: RadioConfig::default(),
        }
    }
}

impl SimConfig {
    /// Checks every setting, the radio's too; the error names the setting.
    pub fn check(&self) -> Result<(), SimError> {
        if !(self.minutes.is_finite() && self.minutes > 0.0 && self.minutes <= 7.0 * 24.0 * 60.0) {
            return Err(SimError::Config(format!(
                "minutes: {} is not above 0 and at most 10080 (a week)",
                self.minutes
            )));
        }
        if !(self.adv_rate_hz.is_finite() && (0.1..=100.0).contains(&self.adv_rate_hz)) {
            return Err(SimError::Config(format!(
                "adv_rate_hz: {} is not in 0.1..=100",
                self.adv_rate_hz
            )));
        }
        if !(0.0..=1.0).contains(&self.arrival_share) {
            return Err(SimError::Config(format!(
                "arrival_share: {} is not in 0..=1",
                self.arrival_share
            )));
        }
        if !(self.start_ts.is_finite() && self.start_ts >= 0.0) {
            return Err(SimError::Config(format!(
                "start_ts: {} is not a time",
                self.start_ts
            )));
        }
        self.radio.check().map_err(SimError::Config)
    }
}

/// Why a simulation cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The store cannot be walked.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A setting out of range: which, and why.
    #[error("{0}")]
    Config(String),
}

/// Counts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Sightings yielded.
    pub sightings: u64,
    /// Truth samples yielded.
    pub truths: u64,
    /// Shoppers who have come in.
    pub shoppers_arrived: usize,
}

/// What is due next: times are whole milliseconds since the start, so order
/// is exact and the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    ms: u64,
    /// Truth before packets at the same millisecond.
    kind: DueKind,
    shopper: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DueKind {
    Truth,
    Packet,
}

struct Shopper {
    trip: Trip,
    device: Arc<str>,
    rng: Pcg64Mcg,
    /// The phone's transmit power over the nominal, dB.
    phone_offset: f64,
    /// Shadowing of the link to each anchor, dB.
    shadows: Vec<f64>,
    /// Position and time (ms) of the last packet.
    last: Option<(Point, u64)>,
    arrived: bool,
}

/// The store simulator. See the module docs.
pub struct Simulator {
    plan: FloorPlan,
    radio: RadioModel,
    config: SimConfig,
    anchors: Vec<Arc<str>>,
    zones: Vec<Arc<str>>,
    shoppers: Vec<Shopper>,
    queue: BinaryHeap<Reverse<Due>>,
    pending: VecDeque<Event>,
    end_ms: u64,
    interval_ms: f64,
    stats: SimStats,
}

/// `SplitMix64`: spreads (seed, stream) into unrelated generator seeds.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seconds to whole milliseconds; simulated times are short and positive.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn to_ms(s: f64) -> u64 {
    (s * 1000.0).round().max(0.0) as u64
}

#[allow(clippy::cast_precision_loss)] // milliseconds of a run fit 2^53
fn to_s(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Simulator {
    /// Plans every shopper's trip; nothing is drawn for the radio yet. A
    /// [`store::FloorPlan`] gives shelves and doors; a bare
    /// [`crate::layout::Layout`] is walked as open floor.
    pub fn new(plan: impl Into<FloorPlan>, config: SimConfig) -> Result<Self, SimError> {
        let plan = plan.into();
        config.check()?;
        let planner = Planner::new(&plan)?;
        let radio = RadioModel::new(&plan.layout, config.radio.clone()).with_shelves(&plan);
        let end_ms = to_ms(config.minutes * 60.0);
        let interval_ms = 1000.0 / config.adv_rate_hz;
        let mut queue = BinaryHeap::new();
        let shoppers = (0..config.shoppers)
            .map(|i| {
                let mut rng = Pcg64Mcg::seed_from_u64(mix(config.seed, i as u64));
                // Whole milliseconds, as every time in the run.
                let arrival = to_s(to_ms(
                    rng.random_range(0.0..=config.arrival_share) * to_s(end_ms),
                ));
                let device = format!("shopper-{i:04}");
                let trip = planner.trip(device.clone(), arrival, &mut rng);
                let first_packet =
                    to_ms(arrival) + to_ms(rng.random_range(0.0..interval_ms) / 1000.0);
                queue.push(Reverse(Due {
                    ms: first_packet,
                    kind: DueKind::Packet,
                    shopper: i,
                }));
                queue.push(Reverse(Due {
                    ms: to_ms(arrival.ceil()),
                    kind: DueKind::Truth,
                    shopper: i,
                }));
                let phone_offset = radio.phone_offset(&mut rng);
                let shadows = (0..radio.anchors())
                    .map(|_| radio.initial_shadow(&mut rng))
                    .collect();
                Shopper {
                    trip,
                    device: device.into(),
                    rng,
                    phone_offset,
                    shadows,
                    last: None,
                    arrived: false,
                }
            })
            .collect();
        Ok(Simulator {
            anchors: plan
                .layout
                .anchors
                .iter()
                .map(|a| a.id.as_str().into())
                .collect(),
            zones: plan
                .layout
                .zones
                .iter()
                .map(|z| z.id.as_str().into())
                .collect(),
            plan,
            radio,
            config,
            shoppers,
            queue,
            pending: VecDeque::new(),
            end_ms,
            interval_ms,
            stats: SimStats::default(),
        })
    }

    /// The store being simulated.
    #[must_use]
    pub fn plan(&self) -> &FloorPlan {
        &self.plan
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Unix time at which the run ends.
    #[must_use]
    pub fn end_ts(&self) -> f64 {
        self.unix(self.end_ms)
    }

    /// Unix time, seconds, `ms` into the run: whole milliseconds, which
    /// JSON writes as they are (`1767225600.321`) for any start.
    #[allow(clippy::cast_precision_loss)] // Unix milliseconds fit 2^53 for ages
    fn unix(&self, ms: u64) -> f64 {
        (to_ms(self.config.start_ts) + ms) as f64 / 1000.0
    }

    /// Counts of what has been yielded so far.
    #[must_use]
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// The shoppers' planned trips, times in seconds since the start.
    pub fn trips(&self) -> impl Iterator<Item = &Trip> {
        self.shoppers.iter().map(|s| &s.trip)
    }

    /// Where every shopper in the store is at Unix time `ts`.
    pub fn truth_at(&self, ts: f64) -> impl Iterator<Item = TruthSample> + '_ {
        self.shoppers.iter().filter_map(move |s| self.truth(s, ts))
    }

    fn truth(&self, shopper: &Shopper, ts: f64) -> Option<TruthSample> {
        let p = shopper.trip.pose_at(ts - self.config.start_ts)?.position;
        let zone = self
            .plan
            .layout
            .zones
            .iter()
            .position(|z| z.contains(p))
            .map(|i| self.zones[i].clone());
        Some(TruthSample {
            ts,
            device: shopper.device.clone(),
            x: (p.x * 100.0).round() / 100.0,
            y: (p.y * 100.0).round() / 100.0,
            zone,
        })
    }

    /// Unix time of the next event, if the run has one.
    pub fn peek_ts(&mut self) -> Option<f64> {
        self.fill();
        self.pending.front().map(Event::ts)
    }

    /// The next event if it happens at or before Unix time `ts`: for feeding
    /// a live pipeline as a clock goes.
    pub fn next_until(&mut self, ts: f64) -> Option<Event> {
        if self.peek_ts()? <= ts {
            self.next()
        } else {
            None
        }
    }

    /// Works through due items until an event is pending or the run is over.
    fn fill(&mut self) {
        while self.pending.is_empty() {
            let Some(Reverse(due)) = self.queue.pop() else {
                return;
            };
            if due.ms >= self.end_ms {
                self.queue.clear();
                return;
            }
            match due.kind {
                DueKind::Truth => self.truth_tick(due),
                DueKind::Packet => self.packet(due),
            }
        }
    }

    fn truth_tick(&mut self, due: Due) {
        let ts = self.unix(due.ms);
        let shopper = &self.shoppers[due.shopper];
        if let Some(sample) = self.truth(shopper, ts) {
            self.pending.push_back(Event::Truth(sample));
            self.stats.truths += 1;
            self.queue.push(Reverse(Due {
                ms: due.ms + 1000,
                ..due
            }));
        }
    }

    fn packet(&mut self, due: Due) {
        let ts = self.unix(due.ms);
        let shopper = &mut self.shoppers[due.shopper];
        let Some(pose) = shopper.trip.pose_at(to_s(due.ms)) else {
            return; // gone: no more packets
        };
        if !shopper.arrived {
            shopper.arrived = true;
            self.stats.shoppers_arrived += 1;
        }
        let carry = match shopper.last {
            Some((p, ms)) => self
                .radio
                .carry(p.distance(pose.position), to_s(due.ms - ms)),
            // The links' shadowing was drawn when the trip was planned.
            None => self.radio.carry(0.0, 0.0),
        };
        shopper.last = Some((pose.position, due.ms));
        for (anchor, shadow) in shopper.shadows.iter_mut().enumerate() {
            if let Some(rssi) = self.radio.receive(
                anchor,
                &pose,
                shopper.phone_offset,
                shadow,
                carry,
                &mut shopper.rng,
            ) {
                self.pending.push_back(Event::Sighting(Sighting {
                    ts,
                    anchor: self.anchors[anchor].clone(),
                    device: shopper.device.clone(),
                    rssi,
                }));
                self.stats.sightings += 1;
            }
        }
        // BLE adds a random 0-10 ms to every advertising interval so that
        // phones on the same interval do not collide forever.
        let next = self.interval_ms + shopper.rng.random_range(0.0..10.0);
        self.queue.push(Reverse(Due {
            ms: due.ms + to_ms(next / 1000.0).max(1),
            ..due
        }));
    }
}

impl Iterator for Simulator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.fill();
        self.pending.pop_front()
    }
}

#[cfg(test)]
mod tests;
