//! The node link as a source of the live gateway: one task per serial
//! port, all sharing one [`NodeLinks`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::link::{NodeLinks, PortReceiver};
use super::port::{PortEvent, run_port_thread};
use super::registry::{Registry, RegistryError};
use super::stats::LinkStats;
use crate::pipeline::SourceSighting;
use crate::source::wall_clock;

/// Byte chunks waiting between a port's reading thread and its task. A
/// chunk is one read, up to 4 KiB; 64 of them are seconds of a busy link.
const PORT_QUEUE: usize = 64;
/// Frames waiting to be written to a port.
const OUTGOING_QUEUE: usize = 16;
/// How often each port's task re-reads the registry if it changed, sends
/// the `Configure` frames due and writes counters: once a second makes
/// `aisle node configure` take effect within a second.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// The node link of a gateway: the registry and every node's link state,
/// shared by the tasks of its ports.
#[derive(Debug, Clone)]
pub struct NodeLinkSource {
    links: Arc<Mutex<NodeLinks>>,
    stats: Arc<LinkStats>,
}

impl NodeLinkSource {
    /// The node link for the registry in `state_dir`, marked as served
    /// (see [`NodeLinks::start_serving`]).
    pub fn open(state_dir: &Path) -> Result<Self, RegistryError> {
        let mut links = NodeLinks::new(Registry::open(state_dir)?);
        links.start_serving()?;
        let stats = links.stats();
        Ok(NodeLinkSource {
            links: Arc::new(Mutex::new(links)),
            stats,
        })
    }

    /// Counts a node offline after `seconds` of silence (see
    /// [`NodeLinks::set_offline_after`]).
    #[must_use]
    pub fn offline_after(self, seconds: f64) -> Self {
        self.lock().set_offline_after(seconds);
        self
    }

    /// Counters of every port.
    #[must_use]
    pub fn stats(&self) -> Arc<LinkStats> {
        Arc::clone(&self.stats)
    }

    /// The shared link state, to read nodes' live state.
    pub fn lock(&self) -> MutexGuard<'_, NodeLinks> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves the port at `device` until `shutdown`: sightings from its
    /// nodes go to `out`, `Configure` frames go to its nodes. A port that
    /// is missing or lost is opened again with backoff.
    pub async fn run(
        &self,
        device: PathBuf,
        out: mpsc::Sender<SourceSighting>,
        shutdown: CancellationToken,
    ) {
        let name = device.display().to_string();
        let (events_tx, events) = mpsc::channel(PORT_QUEUE);
        let (frames_tx, mut frames_rx) = mpsc::channel::<Vec<u8>>(OUTGOING_QUEUE);
        let stop = shutdown.child_token();
        let thread_stop = stop.clone();
        let thread = tokio::task::spawn_blocking(move || {
            run_port_thread(&device, &events_tx, &mut frames_rx, &thread_stop);
        });
        self.serve(&name, events, &frames_tx, &out, &shutdown).await;
        stop.cancel();
        let _ = thread.await;
    }

    /// Serves a node linked by an in-process byte stream (a host-run node's
    /// end of a pipe) as [`run`](Self::run) serves a port; `name` stands for
    /// the port in logs. Ends at `shutdown` or when the stream ends.
    pub async fn run_stream<S>(
        &self,
        name: &str,
        stream: S,
        out: mpsc::Sender<SourceSighting>,
        shutdown: CancellationToken,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (events_tx, events) = mpsc::channel(PORT_QUEUE);
        let (frames_tx, mut frames_rx) = mpsc::channel::<Vec<u8>>(OUTGOING_QUEUE);
        let stop = shutdown.child_token();
        let reading = tokio::spawn({
            let stop = stop.clone();
            async move {
                if events_tx.send(PortEvent::Opened).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = tokio::select! {
                        () = stop.cancelled() => return,
                        read = reader.read(&mut buf) => read,
                    };
                    let event = match n {
                        // The node stopping with the gateway is no loss.
                        Ok(0) if stop.is_cancelled() => return,
                        Ok(0) => PortEvent::Lost("end of stream".into()),
                        Ok(n) => PortEvent::Bytes(buf[..n].to_vec()),
                        Err(e) => PortEvent::Lost(e.to_string()),
                    };
                    let last = matches!(event, PortEvent::Lost(_));
                    if events_tx.send(event).await.is_err() || last {
                        return;
                    }
                }
            }
        });
        let writing = tokio::spawn(async move {
            while let Some(frame) = frames_rx.recv().await {
                if writer.write_all(&frame).await.is_err() {
                    return;
                }
            }
        });
        self.serve(name, events, &frames_tx, &out, &shutdown).await;
        stop.cancel();
        drop(frames_tx);
        let _ = reading.await;
        let _ = writing.await;
    }

    /// The loop both kinds of link share: frames in, sightings and
    /// `Configure`s out, the registry kept, until `shutdown`, the end of
    /// `events` or the pipeline's.
    async fn serve(
        &self,
        name: &str,
        mut events: mpsc::Receiver<PortEvent>,
        frames_tx: &mpsc::Sender<Vec<u8>>,
        out: &mpsc::Sender<SourceSighting>,
        shutdown: &CancellationToken,
    ) {
        let mut receiver = PortReceiver::new(name);
        self.lock().port_started();
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut opened_before = false;
        let mut sightings = Vec::new();
        loop {
            let frames = tokio::select! {
                () = shutdown.cancelled() => break,
                event = events.recv() => match event {
                    None => break,
                    Some(PortEvent::Opened) => {
                        receiver.reset();
                        if opened_before {
                            self.stats.reconnect();
                        }
                        opened_before = true;
                        tracing::info!(port = %name, "node link port open");
                        continue;
                    }
                    Some(PortEvent::Lost(reason)) => {
                        tracing::warn!(port = %name, %reason, "node link port lost; reopening");
                        continue;
                    }
                    Some(PortEvent::Bytes(bytes)) => {
                        let now = wall_clock();
                        let mut links = self.lock();
                        receiver.receive(&mut links, &bytes, now, &mut sightings);
                        links.configures_due(name, now)
                    }
                },
                _ = housekeeping.tick() => {
                    let now = wall_clock();
                    let mut links = self.lock();
                    if let Err(error) = links.reload() {
                        tracing::error!(%error, "node registry not re-read");
                    }
                    if let Err(error) = links.persist(now, false) {
                        tracing::error!(%error, "node registry not written");
                    }
                    links.configures_due(name, now)
                }
            };
            for frame in frames {
                if frames_tx.try_send(frame).is_err() {
                    tracing::warn!(port = %name, "configure dropped: port queue full");
                }
            }
            let mut pipeline_gone = false;
            for s in sightings.drain(..) {
                pipeline_gone |= out.send(s).await.is_err();
            }
            if pipeline_gone {
                break;
            }
        }
        // The reader may be waiting for room in the queue: closing it lets
        // the reader see that no one listens, and end.
        drop(events);
        if let Err(error) = self.lock().port_stopped(wall_clock()) {
            tracing::error!(%error, "node registry not written at shutdown");
        }
    }
}
