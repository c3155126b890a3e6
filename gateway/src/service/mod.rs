//! The live gateway: sources -> pipeline -> MQTT, until shutdown.
//!
//! Tasks are joined by bounded channels and stopped by one
//! [`CancellationToken`]; a [`TaskTracker`] waits for them all.
//!
//! - each source sends sightings into one channel;
//! - the pipeline task identifies and locates, ticks the engine every
//!   [`TICK`], and turns decisions into MQTT messages: zone events at QoS 1
//!   (spooled on disk before they count as accepted), positions at QoS 0,
//!   and every [`OCCUPANCY_EVERY`] each zone's occupancy, QoS 0 retained;
//! - with a node link, it publishes each shelf node's status, retained, as
//!   the node reports and when it goes silent;
//! - the publisher task (see [`crate::mqtt`]) owns the broker connection;
//! - with `broker = "embedded"`, rumqttd runs on its own thread.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisle_protocol::event::{EventId, GatewayStatus, SchemaVersion, ZoneOccupancy};
use aisle_protocol::topic::Topic;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{BrokerAddress, Loaded};
use crate::engine::{Output, ZoneIdx};
use crate::mqtt::{
    BrokerError, BrokerOptions, EmbeddedBroker, Outgoing, Publisher, PublisherConfig,
    PublisherError, PublisherStats, RetainedStatus,
};
use crate::nodelink::{NodeHealth, NodeLinkSource, RegistryError};
use crate::pipeline::{Pipeline, PipelineError, SourceSighting};
use crate::publish::{EventIds, Payload, ZoneNames, to_payload};
use crate::source::wall_clock;

mod sources;

pub use sources::simulated_enrolment;
use sources::spawn_sources;

/// How often the engine is ticked, so enters, dwells and exits fire on time
/// even when no sighting arrives. A quarter second keeps their lateness well
/// under the one second a shopper notices.
pub const TICK: Duration = Duration::from_millis(250);
/// How often the gateway's retained status is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(30);
/// How often each zone's occupancy is published. A device counts in a zone
/// only once its visit is confirmed (zone hysteresis, then the presence
/// settings' `confirm_s`, 2 s by default) and stops counting after
/// `absence_s` (8 s) of silence, so the figure moves on a scale of seconds
/// and a faster rate would mostly repeat it. 5 s keeps a dashboard within a
/// few seconds of the floor at one small message per zone.
pub const OCCUPANCY_EVERY: Duration = Duration::from_secs(5);
/// Sightings waiting for the pipeline, at most. A dozen anchors hearing 200
/// phones at 10 Hz make 24,000 a second; this is a few hundred milliseconds
/// of that, enough to ride out a slow tick without hiding a stalled pipeline.
const SIGHTING_QUEUE: usize = 8192;
/// The port the embedded broker tries first, as any MQTT client expects.
pub const EMBEDDED_PORT: u16 = 1883;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The embedded broker.
    #[error("embedded broker: {0}")]
    Broker(#[from] BrokerError),
    /// The publisher (its spool, usually).
    #[error("MQTT publisher: {0}")]
    Publisher(#[from] PublisherError),
    /// The pipeline's settings.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The node registry of the node link.
    #[error("node link: {0}")]
    NodeLink(#[from] RegistryError),
    /// The simulated store's shelf nodes.
    #[error(transparent)]
    SimulatedNodes(#[from] crate::nodesim::fleet::FleetError),
}

/// One decision as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The MQTT topic.
    pub topic: String,
    /// What was decided.
    pub payload: Payload,
}

/// What the console of `aisle demo` is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A decision, as it is published.
    Decision(Published),
    /// Every zone's occupancy, in layout order, as published each
    /// [`OCCUPANCY_EVERY`].
    Occupancy(Vec<ZoneOccupancy>),
}

/// What the running gateway tells its caller.
#[derive(Debug, Clone)]
pub struct Running {
    /// Where the broker is, host and port (the embedded one's port may not
    /// be 1883).
    pub broker: (String, u16),
    /// Publisher counters.
    pub stats: Arc<PublisherStats>,
    /// The node link, when a source is one: its counters and nodes.
    pub node_link: Option<NodeLinkSource>,
}

/// Starts the gateway; returns once everything runs. The tasks stop when
/// `shutdown` is cancelled; wait on `tracker` for them to finish.
///
/// `view`, when given, receives every decision as it is published, and
/// the occupancy figures: the console of `aisle demo`.
pub fn start(
    loaded: &Loaded,
    view: Option<mpsc::UnboundedSender<Shown>>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Running, ServiceError> {
    let config = &loaded.config;
    let store = loaded.layout.store.id.clone();
    let (host, port) = match &loaded.broker {
        BrokerAddress::Embedded => {
            let broker =
                EmbeddedBroker::start(SocketAddr::from((Ipv4Addr::LOCALHOST, EMBEDDED_PORT)))?;
            let addr = broker.addr();
            tracing::info!(%addr, "embedded MQTT broker listening");
            // rumqttd has no way to stop; the broker lives as long as the process.
            std::mem::forget(broker);
            (addr.ip().to_string(), addr.port())
        }
        BrokerAddress::Remote { host, port } => (host.clone(), *port),
    };
    let broker = (host.clone(), port);

    let status_topic = Topic::gateway_status(&store)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mut ids = EventIds::for_live_run();
    let started_at = wall_clock();
    let offline = GatewayStatus::offline(ids.next_id(), started_at, version());
    let online = gateway_status(ids.next_id(), started_at, 0, None, None);
    let mut publisher_config = PublisherConfig::new(
        BrokerOptions {
            host,
            port,
            client_id: config.mqtt.client_id.clone(),
            credentials: config
                .mqtt
                .username
                .clone()
                .map(|u| (u, loaded.password.clone().unwrap_or_default())),
            keep_alive: Duration::from_secs(u64::from(config.mqtt.keep_alive_s)),
            tls: loaded.tls.clone(),
            last_will: Some(RetainedStatus::new(status_topic.clone(), json(&offline))),
            birth: Some(RetainedStatus::new(status_topic.clone(), json(&online))),
        },
        config.mqtt.spool_dir.clone(),
    );
    publisher_config.spool_max_bytes = config.mqtt.spool_max_mib.saturating_mul(1 << 20);
    let publisher = Publisher::spawn(publisher_config, tracker, shutdown.clone())?;

    let pipeline = Pipeline::new(
        &loaded.layout,
        &config.identify,
        &loaded.shoppers,
        config.engine,
        started_at,
    )?;
    let (sightings_tx, sightings_rx) = mpsc::channel(SIGHTING_QUEUE);
    let node_link = spawn_sources(loaded, &sightings_tx, tracker, shutdown)?;
    drop(sightings_tx);

    let task = PipelineTask {
        pipeline,
        zones: ZoneNames::of(&loaded.layout),
        ids,
        store,
        status_topic,
        publish_positions: config.mqtt.publish_positions,
        out: publisher.sender(),
        view,
        started_at,
        node_link: node_link.clone(),
        node_health: NodeHealth::new(),
    };
    tracker.spawn(task.run(sightings_rx, shutdown.clone()));
    Ok(Running {
        broker,
        stats: publisher.stats(),
        node_link,
    })
}

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

fn gateway_status(
    id: EventId,
    ts: f64,
    uptime_s: u64,
    rate: Option<f64>,
    nodes_online: Option<u32>,
) -> GatewayStatus {
    GatewayStatus {
        v: SchemaVersion,
        id,
        ts,
        online: true,
        version: version(),
        uptime_s: Some(uptime_s),
        nodes_online,
        sightings_per_s: rate,
    }
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // The payload types serialise without fail: plain fields, validated values.
    serde_json::to_vec(value).unwrap_or_default()
}

struct PipelineTask {
    pipeline: Pipeline,
    zones: ZoneNames,
    ids: EventIds,
    store: String,
    status_topic: String,
    publish_positions: bool,
    out: mpsc::Sender<Outgoing>,
    view: Option<mpsc::UnboundedSender<Shown>>,
    started_at: f64,
    node_link: Option<NodeLinkSource>,
    node_health: NodeHealth,
}

impl PipelineTask {
    async fn run(mut self, mut sightings: mpsc::Receiver<SourceSighting>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut status = tokio::time::interval(STATUS_EVERY);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut occupancy = tokio::time::interval(OCCUPANCY_EVERY);
        occupancy.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outputs = Vec::new();
        let (mut taken, mut skipped) = (0u64, 0u64);
        let mut rate_from = (Instant::now(), 0u64);
        // The clock the engine runs on: the sources' time, moved on by the
        // wall clock between sightings.
        let mut clock = (wall_clock(), Instant::now());
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                received = sightings.recv() => {
                    let Some(s) = received else { break };
                    clock = (s.ts, Instant::now());
                    match self.pipeline.push(&s, &mut outputs) {
                        Ok(()) => taken += 1,
                        Err(reason) => {
                            skipped += 1;
                            tracing::debug!(anchor = %s.anchor, %reason, "sighting skipped");
                        }
                    }
                }
                _ = tick.tick() => {
                    let now = clock.0 + clock.1.elapsed().as_secs_f64();
                    self.pipeline.tick(now, &mut outputs);
                    if !self.publish_node_health().await {
                        break;
                    }
                }
                _ = occupancy.tick() => {
                    let now = clock.0 + clock.1.elapsed().as_secs_f64();
                    self.publish_occupancy(now);
                }
                _ = status.tick() => {
                    let elapsed = rate_from.0.elapsed().as_secs_f64();
                    #[allow(clippy::cast_precision_loss)]
                    let rate = (taken - rate_from.1) as f64 / elapsed.max(1e-3);
                    rate_from = (Instant::now(), taken);
                    let now = wall_clock();
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let uptime = (now - self.started_at).max(0.0) as u64;
                    let nodes_online = self.node_link.as_ref().map(|link| {
                        let counts = link.stats().snapshot();
                        tracing::info!(
                            accepted = counts.accepted,
                            sightings = counts.sightings,
                            noise = counts.noise,
                            corrupt = counts.corrupt,
                            forged = counts.forged,
                            replayed = counts.replayed,
                            unknown_node = counts.unknown_node,
                            unprovisioned = counts.unprovisioned,
                            wrong_direction = counts.wrong_direction,
                            malformed = counts.malformed,
                            awaiting_hello = counts.awaiting_hello,
                            reconnects = counts.reconnects,
                            "node link"
                        );
                        u32::try_from(link.lock().online(now)).unwrap_or(u32::MAX)
                    });
                    let s = gateway_status(self.ids.next_id(), now, uptime, Some(rate), nodes_online);
                    let mut message = Outgoing::at_least_once(self.status_topic.clone(), json(&s));
                    message.retain = true;
                    if self.out.send(message).await.is_err() {
                        break;
                    }
                    tracing::info!(taken, skipped, rate, "pipeline");
                }
            }
            if !self.publish(&mut outputs).await {
                break;
            }
        }
        tracing::info!(taken, skipped, "pipeline stopped");
    }

    /// Publishes every zone's occupancy as of `now`, QoS 0 retained. Zones
    /// with no one in them are published too, so the retained figure drops
    /// to zero rather than keeping the last crowd.
    ///
    /// Only counts leave here: the anonymous devices' internal names never
    /// reach a topic or a payload.
    fn publish_occupancy(&mut self, now: f64) {
        let counts = self.pipeline.engine().occupancy();
        let mut round = Vec::with_capacity(counts.len());
        for (i, count) in counts.into_iter().enumerate() {
            let Some(zone) = u16::try_from(i)
                .ok()
                .and_then(|i| self.zones.name(ZoneIdx(i)))
            else {
                continue;
            };
            let Ok(topic) = Topic::zone_occupancy(&self.store, zone).map(|t| t.to_string()) else {
                continue;
            };
            let payload = ZoneOccupancy {
                v: SchemaVersion,
                id: self.ids.next_id(),
                ts: now,
                zone: zone.to_owned(),
                known: u32::try_from(count.known).unwrap_or(u32::MAX),
                anonymous: u32::try_from(count.anonymous).unwrap_or(u32::MAX),
            };
            let Ok(body) = serde_json::to_vec(&payload) else {
                continue;
            };
            let mut message = Outgoing::at_most_once(topic, body);
            message.retain = true;
            // Like a position, a figure is worth nothing late: the next one
            // replaces it, so drop it rather than wait for room.
            let _ = self.out.try_send(message);
            if self.view.is_some() {
                round.push(payload);
            }
        }
        if let Some(view) = &self.view {
            let _ = view.send(Shown::Occupancy(round));
        }
    }

    /// Publishes the shelf nodes' statuses that are due (see
    /// [`crate::nodelink::health`]), QoS 1 retained; false once the
    /// publisher is gone. QoS 1 and spooled like events: an offline status
    /// lost would leave a dead node retained as online.
    async fn publish_node_health(&mut self) -> bool {
        let Some(link) = &self.node_link else {
            return true;
        };
        let now = wall_clock();
        let due = {
            let ids = &mut self.ids;
            self.node_health.due(&link.lock(), now, || ids.next_id())
        };
        for (node, status) in due {
            if !status.online {
                tracing::warn!(node, last_seen = ?status.last_seen, "node went silent");
            }
            let Ok(topic) = Topic::node_status(&self.store, &status.node).map(|t| t.to_string())
            else {
                continue;
            };
            // An empty retained payload would clear the node's status.
            let body = match serde_json::to_vec(&status) {
                Ok(body) => body,
                Err(error) => {
                    tracing::error!(node, %error, "node status not published");
                    continue;
                }
            };
            let mut message = Outgoing::at_least_once(topic, body);
            message.retain = true;
            if self.out.send(message).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Publishes what the pipeline decided; false once the publisher is gone.
    async fn publish(&mut self, outputs: &mut Vec<Output>) -> bool {
        for output in outputs.drain(..) {
            if matches!(output, Output::Position(_)) && !self.publish_positions {
                continue;
            }
            let payload =
                match to_payload(&output, self.pipeline.devices(), &self.zones, &mut self.ids) {
                    Ok(p) => p,
                    Err(error) => {
                        // Anonymous devices have internal names no topic may
                        // carry: they are counted, never published.
                        tracing::trace!(%error, "output not published");
                        continue;
                    }
                };
            let Ok(topic) = payload.topic(&self.store).map(|t| t.to_string()) else {
                continue;
            };
            let message = match &payload {
                Payload::Position(p) => Outgoing::at_most_once(topic.clone(), json(p)),
                Payload::Zone(e) => Outgoing::at_least_once(topic.clone(), json(e)),
            };
            match message.qos {
                // A position is worth nothing late: drop it rather than wait.
                crate::mqtt::QoS::AtMostOnce => {
                    let _ = self.out.try_send(message);
                }
                // An event waits for room: it must not be lost.
                crate::mqtt::QoS::AtLeastOnce => {
                    if self.out.send(message).await.is_err() {
                        return false;
                    }
                }
            }
            if let Some(view) = &self.view {
                let _ = view.send(Shown::Decision(Published { topic, payload }));
            }
        }
        true
    }
}
