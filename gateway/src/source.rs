//! Live sources of sightings: each runs as a task and sends
//! [`SourceSighting`]s into the pipeline's channel until shutdown.
//!
//! - the simulated store, paced by the wall clock, its shoppers carrying
//!   phones that advertise what real ones do (see [`crate::sim::phones`]);
//! - a recording, played back at its own pace or faster.
//!
//! Radio sources (the gateway's own adapter, see [`crate::bluetooth`]; the
//! shelf nodes' serial link) produce the same [`SourceSighting`]s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aisle_protocol::eid::RotationExponent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::layout::Layout;
use crate::pipeline::{SourceSighting, Subject};
use crate::record::RecordedSighting;
use crate::sim::phones::Phones;
use crate::sim::store::{FloorPlan, demo_layout};
use crate::sim::{Event, SimConfig, Simulator};

/// Unix time now, seconds.
#[must_use]
pub fn wall_clock() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How a simulated store runs.
#[derive(Debug, Clone)]
pub struct SimulatedStore {
    /// The store.
    pub layout: Layout,
    /// Shoppers arriving in each ten-minute stretch.
    pub shoppers: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// The phones they carry.
    pub phones: Phones,
}

/// Length of one simulated stretch; shoppers arrive over its first 60%.
const STRETCH_MINUTES: f64 = 10.0;
/// How far into its first stretch the simulated store starts: four minutes
/// in, most of that stretch's shoppers are inside.
const WARM_START_S: f64 = 240.0;

impl SimulatedStore {
    /// A simulated `layout`: the demo store's floor plan when the layout is
    /// the demo store; otherwise open floor with the shelves the layout
    /// lists ([`FloorPlan::open`]).
    #[must_use]
    pub fn new(
        layout: Layout,
        shoppers: usize,
        seed: u64,
        opted_in_share: f64,
        rotation: RotationExponent,
    ) -> Self {
        SimulatedStore {
            layout,
            shoppers,
            seed,
            phones: Phones::new(seed, opted_in_share, rotation),
        }
    }

    /// The shoppers' device names, for enrolling the opted-in.
    #[must_use]
    pub fn device_names(&self) -> Vec<String> {
        (0..self.shoppers)
            .map(|i| format!("shopper-{i:04}"))
            .collect()
    }

    fn stretch(&self, index: u64, start_ts: f64) -> Result<Simulator, crate::sim::SimError> {
        let plan = if self.layout == demo_layout() {
            FloorPlan::demo()
        } else {
            FloorPlan::open(self.layout.clone())
        };
        Simulator::new(
            plan,
            SimConfig {
                shoppers: self.shoppers,
                minutes: STRETCH_MINUTES,
                seed: self.seed.wrapping_add(index),
                start_ts,
                ..SimConfig::default()
            },
        )
    }

    /// Runs the store on the wall clock until `shutdown`, one ten-minute
    /// stretch after another.
    pub async fn run(
        self,
        out: mpsc::Sender<SourceSighting>,
        shutdown: CancellationToken,
    ) -> Result<(), crate::sim::SimError> {
        // The first stretch starts in the past, so the store is already busy
        // when the gateway comes up; what happened before now is skipped.
        let now = wall_clock();
        let mut start = now - WARM_START_S;
        for index in 0.. {
            let mut sim = self.stretch(index, start)?;
            while sim.next_until(now).is_some() {}
            let end = sim.end_ts();
            loop {
                let now = wall_clock();
                while let Some(event) = sim.next_until(now) {
                    let Event::Sighting(s) = event else { continue };
                    let sighting = SourceSighting {
                        ts: s.ts,
                        anchor: s.anchor,
                        subject: Subject::Advert {
                            adv: self.phones.advert(&s.device, s.ts),
                            address: Some(self.phones.address(&s.device, s.ts)),
                        },
                        rssi: s.rssi,
                    };
                    if out.send(sighting).await.is_err() {
                        return Ok(());
                    }
                }
                if now >= end {
                    break;
                }
                // Phones advertise every 100 ms; 20 ms keeps the added delay small.
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
            start = end;
        }
        Ok(())
    }
}

/// Why a recording stopped playing.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct RecordingError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub source: std::io::Error,
}

/// Plays a recording back: the first line now, each next one after the
/// time between them divided by `speed`. Bad lines are logged and skipped.
pub async fn play_recording(
    path: PathBuf,
    speed: f64,
    out: mpsc::Sender<SourceSighting>,
    shutdown: CancellationToken,
) -> Result<(), RecordingError> {
    let err = |source| RecordingError {
        path: path.display().to_string(),
        source,
    };
    let (lines_tx, mut lines_rx) =
        mpsc::channel::<Result<(usize, RecordedSighting), (usize, String)>>(1024);
    let reader_path = path.clone();
    // File reading and JSON parsing block, so they run on a blocking thread.
    let reader = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::BufRead as _;
        let input = crate::record::open(&reader_path)?;
        for (i, line) in input.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let item = RecordedSighting::parse(&line)
                .map(|s| (i + 1, s))
                .map_err(|e| (i + 1, e.to_string()));
            if lines_tx.blocking_send(item).is_err() {
                break;
            }
        }
        Ok(())
    });
    let origin = tokio::time::Instant::now();
    let mut first_ts = None;
    while let Some(item) = lines_rx.recv().await {
        let (line, s) = match item {
            Ok(x) => x,
            Err((line, error)) => {
                tracing::warn!(path = %path.display(), line, %error, "recording line skipped");
                continue;
            }
        };
        let t0 = *first_ts.get_or_insert(s.ts);
        let due = origin + Duration::from_secs_f64(((s.ts - t0) / speed).max(0.0));
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep_until(due) => {}
        }
        let subject = match (s.device, s.adv) {
            (Some(device), _) => Subject::Device(device.into()),
            (None, Some(adv)) => match hex::decode(&adv) {
                Ok(adv) => Subject::Advert { adv, address: None },
                Err(error) => {
                    tracing::warn!(path = %path.display(), line, %error, "recording line skipped: adv is not hex");
                    continue;
                }
            },
            (None, None) => continue,
        };
        let sighting = SourceSighting {
            ts: s.ts,
            anchor: Arc::from(s.anchor),
            subject,
            rssi: s.rssi,
        };
        if out.send(sighting).await.is_err() {
            break;
        }
    }
    drop(lines_rx);
    reader
        .await
        .map_err(|e| err(std::io::Error::other(e)))?
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[tokio::test]
    async fn the_simulated_store_runs_on_the_wall_clock() {
        let store = SimulatedStore::new(
            demo_layout(),
            30,
            4,
            1.0,
            RotationExponent::new(10).unwrap(),
        );
        let (tx, mut rx) = mpsc::channel(10_000);
        let stop = CancellationToken::new();
        let task = tokio::spawn(store.run(tx, stop.clone()));
        let started = wall_clock();
        // Shoppers arrive over the first six minutes: wait for the first sightings.
        let first = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("a sighting within a minute")
            .unwrap();
        assert!(
            (first.ts - started).abs() < 60.0,
            "sighting time follows the wall clock"
        );
        assert!(matches!(
            first.subject,
            Subject::Advert {
                address: Some(_),
                ..
            }
        ));
        stop.cancel();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_recording_plays_in_order_at_its_speed_and_skips_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(
            f,
            r#"{{"ts": 100.0, "anchor": "a", "device": "d", "rssi": -60}}"#
        )
        .unwrap();
        writeln!(f, "garbage").unwrap();
        writeln!(
            f,
            r#"{{"ts": 101.0, "anchor": "b", "adv": "020106", "rssi": -61}}"#
        )
        .unwrap();
        writeln!(
            f,
            r#"{{"ts": 103.0, "anchor": "c", "adv": "zz", "rssi": -62}}"#
        )
        .unwrap();
        drop(f);
        let (tx, mut rx) = mpsc::channel(16);
        let started = tokio::time::Instant::now();
        play_recording(path, 10.0, tx, CancellationToken::new())
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Ok(s) = rx.try_recv() {
            got.push((s.ts, s.anchor.to_string()));
        }
        assert_eq!(got, [(100.0, "a".to_owned()), (101.0, "b".to_owned())]);
        // Three seconds of recording at ten times speed: at least 0.3 s.
        assert!(started.elapsed() >= Duration::from_millis(290));
    }

    #[tokio::test]
    async fn a_missing_recording_is_an_error_naming_it() {
        let (tx, _rx) = mpsc::channel(1);
        let e = play_recording(
            "/nonexistent/r.jsonl".into(),
            1.0,
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/r.jsonl"), "{e}");
    }
}
