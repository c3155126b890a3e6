//! Replay: a recording through the same pipeline the live gateway runs
//! ([`Pipeline`]: identify -> engine; then [`crate::publish`]), on the
//! recording's own clock.
//!
//! [`Replayer`] takes recording lines in file order and queues the payloads
//! they lead to; [`Replayer::finish`] flushes what the end of the input
//! decides. Everything depends on the lines alone (no wall clock, no hash
//! order, event ids from a fixed run id), so the same input gives the same
//! payloads, byte for byte.
//!
//! - `device` lines carry an identity the recorder resolved: tracked as a
//!   known device under that name.
//! - `adv` lines are identified as the live gateway does, with the line's
//!   `ts` as the EID clock; anonymous ones are counted, not tracked (a
//!   recording line has no address to tell two strangers apart).
//! - Time: the engine ticks on a grid of [`ReplayConfig::tick_every_s`] of
//!   recording time, before the first sighting past each grid point. At the
//!   end the ticks run on until every track is dropped, so open visits exit.
//! - Order: lines are taken in file order. A line older than the newest
//!   time seen by more than [`ReplayConfig::reorder_tolerance_s`] is skipped
//!   ([`Skip::OutOfOrder`]): the engine has already moved past it. A line
//!   more than [`ReplayConfig::max_jump_s`] ahead of the newest time is
//!   taken as a damaged timestamp ([`Skip::TimeJump`]) until
//!   [`JUMP_CONFIRM_LINES`] lines in a row agree on the new time: one bad
//!   `ts` then costs its own line, not the rest of the recording, and a
//!   real gap (the gateway off overnight) costs the lines before it was
//!   confirmed, each reported.
//! - Coverage: see [`coverage`].

pub mod coverage;

use std::sync::Arc;

use crate::engine::{EngineConfig, ObserveError, Output};
use crate::identify::{EnrolledShopper, IdentifyConfig};
use crate::layout::Layout;
use crate::pipeline::{Pipeline, PipelineError, SkipReason, SourceSighting, Subject};
use crate::publish::{EventIds, Payload, PublishError, ZoneNames, to_payload};
use crate::record::{LineError, RecordedSighting};
use coverage::Coverage;

/// How a replay runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayConfig {
    /// The engine.
    pub engine: EngineConfig,
    /// Identification of `adv` lines.
    pub identify: IdentifyConfig,
    /// Seconds of recording time between engine ticks. Default 0.25: enters,
    /// dwells and exits are then stamped within a quarter second of when
    /// the live gateway (which ticks as often) would decide them.
    pub tick_every_s: f64,
    /// How far a line may lag the newest time seen and still be used,
    /// seconds. Default 1.0: anchors batch their reports for up to half a
    /// second, so merged recordings interleave by that much.
    pub reorder_tolerance_s: f64,
    /// How far a line may jump ahead of the newest time seen before it
    /// needs the lines after it to agree, seconds. Default 3600: a store's
    /// recording has gaps of minutes when it is empty, hours only when it
    /// is shut.
    pub max_jump_s: f64,
}

/// Lines in a row that must agree on a jump in time before the replay
/// moves its clock there.
pub const JUMP_CONFIRM_LINES: u32 = 3;

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            engine: EngineConfig::default(),
            identify: IdentifyConfig::default(),
            tick_every_s: 0.25,
            reorder_tolerance_s: 1.0,
            max_jump_s: 3600.0,
        }
    }
}

/// Why a replay cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The engine's or identification's settings, or the layout.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A replay setting.
    #[error("replay config: {key}: {reason}")]
    Config {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Why a line was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Skip {
    /// Not a sighting (bad JSON, bad time or RSSI, no identity).
    #[error(transparent)]
    Line(#[from] LineError),
    /// The `adv` is not hex, or not an advertisement.
    #[error("advertisement: {0}")]
    Advert(String),
    /// An advertisement from no one the store tracks. Not a problem.
    #[error("anonymous advertisement")]
    Anonymous,
    /// The anchor is not in the layout.
    #[error("anchor {0:?} is not in the layout")]
    UnknownAnchor(String),
    /// Older than the reorder tolerance allows.
    #[error("ts {ts} is {behind_s:.3} s behind the newest line")]
    OutOfOrder {
        /// The line's time.
        ts: f64,
        /// How far behind.
        behind_s: f64,
    },
    /// Far ahead of the newest line, and not (yet) confirmed by the lines
    /// after it.
    #[error(
        "ts {ts} is {ahead_s:.0} s ahead of the newest line: taken as a damaged timestamp unless the next lines agree"
    )]
    TimeJump {
        /// The line's time.
        ts: f64,
        /// How far ahead.
        ahead_s: f64,
    },
    /// The engine refused the sighting.
    #[error(transparent)]
    Engine(ObserveError),
}

impl Skip {
    /// Whether the line is worth a message: everything but anonymous
    /// advertisements, which are the normal lot of a store.
    #[must_use]
    pub fn is_problem(&self) -> bool {
        !matches!(self, Skip::Anonymous)
    }

    /// A short name for the summary's counts.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Skip::Line(LineError::Json(_)) => "malformed",
            Skip::Line(LineError::Identity) => "no identity",
            Skip::Line(LineError::Time(_)) => "bad time",
            Skip::Line(LineError::Rssi(_)) => "bad rssi",
            Skip::Advert(_) => "bad advertisement",
            Skip::Anonymous => "anonymous",
            Skip::UnknownAnchor(_) => "unknown anchor",
            Skip::OutOfOrder { .. } => "out of order",
            Skip::TimeJump { .. } => "time jump",
            Skip::Engine(_) => "refused by engine",
        }
    }
}

/// What a replay has produced so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayCounts {
    /// Sightings given to the engine.
    pub sightings: u64,
    /// Position payloads queued, carried and backfilled ones included.
    pub positions: u64,
    /// Positions carried into a second from an earlier fix.
    pub carried: u64,
    /// Positions filled into a second from a later fix.
    pub backfilled: u64,
    /// Device-seconds heard but left without a position.
    pub uncovered_seconds: u64,
    /// Zone event payloads queued.
    pub events: u64,
    /// Outputs that could not become a payload (a name that is not a topic
    /// segment, say).
    pub unpublishable: u64,
}

/// A replay in progress. See the module docs.
pub struct Replayer {
    config: ReplayConfig,
    pipeline: Pipeline,
    zones: ZoneNames,
    ids: EventIds,
    coverage: Coverage,
    outputs: Vec<Output>,
    fills: Vec<crate::engine::Position>,
    payloads: Vec<Payload>,
    /// Index of the next tick on the grid; none before the first sighting.
    next_tick: Option<i64>,
    newest: f64,
    /// A jump ahead seen but not yet confirmed: its time, and how many
    /// lines in a row have agreed with it.
    jump: Option<(f64, u32)>,
    counts: ReplayCounts,
    last_error: Option<PublishError>,
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayer")
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Replayer {
    /// A replay of recordings made in `layout`, with ids under `ids`.
    pub fn new(
        layout: &Layout,
        config: ReplayConfig,
        shoppers: &[EnrolledShopper],
        ids: EventIds,
    ) -> Result<Self, ReplayError> {
        for (key, v) in [
            ("tick_every_s", config.tick_every_s),
            ("reorder_tolerance_s", config.reorder_tolerance_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ReplayError::Config {
                    key,
                    reason: "must be a finite number, 0 or above",
                });
            }
        }
        if config.tick_every_s < 0.01 {
            return Err(ReplayError::Config {
                key: "tick_every_s",
                reason: "must be at least 0.01",
            });
        }
        // EIDs are resolved for time 0 until the first advertisement moves
        // the window to its line's time.
        let pipeline = Pipeline::new(layout, &config.identify, shoppers, config.engine, 0.0)?;
        Ok(Replayer {
            config,
            pipeline,
            zones: ZoneNames::of(layout),
            ids,
            coverage: Coverage::default(),
            outputs: Vec::new(),
            fills: Vec::new(),
            payloads: Vec::new(),
            next_tick: None,
            newest: f64::NEG_INFINITY,
            jump: None,
            counts: ReplayCounts::default(),
            last_error: None,
        })
    }

    /// Takes one recording line (blank lines are the caller's to skip).
    pub fn line(&mut self, text: &str) -> Result<(), Skip> {
        let sighting = RecordedSighting::parse(text)?;
        self.sighting(&sighting)
    }

    /// Lets `ts` through unless it jumps far ahead of the newest time
    /// without [`JUMP_CONFIRM_LINES`] lines in a row agreeing.
    fn check_jump(&mut self, ts: f64) -> Result<(), Skip> {
        let ahead_s = ts - self.newest;
        if !self.newest.is_finite() || ahead_s <= self.config.max_jump_s {
            self.jump = None;
            return Ok(());
        }
        let agreeing = match self.jump {
            Some((at, n)) if (ts - at).abs() <= self.config.max_jump_s => n + 1,
            _ => 1,
        };
        if agreeing >= JUMP_CONFIRM_LINES {
            self.jump = None;
            return Ok(());
        }
        self.jump = Some((ts, agreeing));
        Err(Skip::TimeJump { ts, ahead_s })
    }

    /// Takes one parsed sighting.
    pub fn sighting(&mut self, s: &RecordedSighting) -> Result<(), Skip> {
        if s.ts < self.newest - self.config.reorder_tolerance_s {
            return Err(Skip::OutOfOrder {
                ts: s.ts,
                behind_s: self.newest - s.ts,
            });
        }
        self.check_jump(s.ts)?;
        let subject = match (&s.device, &s.adv) {
            (Some(name), _) => Subject::Device(Arc::from(name.as_str())),
            (None, Some(adv)) => Subject::Advert {
                adv: hex::decode(adv).map_err(|e| Skip::Advert(e.to_string()))?,
                address: None,
            },
            (None, None) => return Err(Skip::Line(LineError::Identity)),
        };
        let sighting = SourceSighting {
            ts: s.ts,
            anchor: Arc::from(s.anchor.as_str()),
            subject,
            rssi: s.rssi,
        };
        self.advance(s.ts);
        let device = match self.pipeline.observe(&sighting, &mut self.outputs) {
            Ok(Some(device)) => device,
            Ok(None) => return Err(Skip::Anonymous),
            Err(SkipReason::Engine(ObserveError::UnknownAnchorId)) => {
                return Err(Skip::UnknownAnchor(s.anchor.clone()));
            }
            Err(SkipReason::Engine(e)) => return Err(Skip::Engine(e)),
            Err(SkipReason::Advert(e)) => return Err(Skip::Advert(e.to_string())),
        };
        self.counts.sightings += 1;
        self.newest = self.newest.max(s.ts);
        self.coverage
            .heard(device, s.ts, &mut |p| self.fills.push(p));
        self.publish();
        Ok(())
    }

    /// Ticks the engine on the grid up to `ts`.
    fn advance(&mut self, ts: f64) {
        let step = self.config.tick_every_s;
        #[allow(clippy::cast_possible_truncation)] // Unix seconds over a step fit i64
        let after = |t: f64| (t / step).floor() as i64 + 1;
        let mut k = *self.next_tick.get_or_insert_with(|| after(ts));
        loop {
            #[allow(clippy::cast_precision_loss)]
            let t = k as f64 * step;
            if t > ts {
                break;
            }
            if self.pipeline.engine().tracked() == 0 {
                // Nothing to tick: jump over the silence.
                k = after(ts);
                break;
            }
            self.pipeline.tick(t, &mut self.outputs);
            self.coverage.sweep(t, &mut |p| self.fills.push(p));
            self.publish();
            for &device in self.pipeline.forgotten() {
                self.coverage.forget(device);
            }
            k += 1;
        }
        self.next_tick = Some(k);
    }

    /// Ends the input: closes open seconds, then lets recording time run on
    /// until every track is dropped, so open visits exit.
    pub fn finish(&mut self) {
        self.coverage.finish(&mut |p| self.fills.push(p));
        self.publish();
        if self.newest.is_finite() {
            let until = self.newest + self.config.engine.forget_after_s + self.config.tick_every_s;
            self.advance(until);
        }
    }

    /// Turns queued engine outputs and coverage fills into payloads.
    fn publish(&mut self) {
        let mut outputs = std::mem::take(&mut self.outputs);
        for output in outputs.drain(..) {
            if let Output::Position(p) = output {
                self.coverage.fixed(p, &mut |f| self.fills.push(f));
                // Filled seconds come before the fix that filled them.
                for f in std::mem::take(&mut self.fills) {
                    self.emit(&Output::Position(f));
                }
            }
            self.emit(&output);
        }
        self.outputs = outputs;
        for f in std::mem::take(&mut self.fills) {
            self.emit(&Output::Position(f));
        }
        self.counts.carried = self.coverage.carried;
        self.counts.backfilled = self.coverage.backfilled;
        self.counts.uncovered_seconds = self.coverage.uncovered;
    }

    fn emit(&mut self, output: &Output) {
        match to_payload(output, self.pipeline.devices(), &self.zones, &mut self.ids) {
            Ok(p) => {
                match p {
                    Payload::Position(_) => self.counts.positions += 1,
                    Payload::Zone(_) => self.counts.events += 1,
                }
                self.payloads.push(p);
            }
            Err(e) => {
                self.counts.unpublishable += 1;
                self.last_error = Some(e);
            }
        }
    }

    /// Takes the payloads queued so far, in the order they were decided.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Payload> {
        self.payloads.drain(..)
    }

    /// What has been produced so far.
    #[must_use]
    pub fn counts(&self) -> ReplayCounts {
        self.counts
    }

    /// Devices tracked so far: known identities and anonymous addresses
    /// (one heard again after being forgotten counts again).
    #[must_use]
    pub fn devices(&self) -> u64 {
        self.pipeline.devices().handed_out()
    }

    /// The last reason an output could not be published, for the summary.
    #[must_use]
    pub fn last_publish_error(&self) -> Option<&PublishError> {
        self.last_error.as_ref()
    }
}

#[cfg(test)]
mod tests;
