//! The gateway's end of the node link, without I/O: bytes from a port in,
//! sightings and frames to send out. One [`NodeLinks`] serves every port;
//! each port has its own [`PortReceiver`] (its deframer).

use std::collections::HashMap;
use std::sync::Arc;

use aisle_protocol::link::{
    Direction, Feed, Hello, LinkDeframer, MAX_WIRE_LEN, Message, NodeKey, ReplayGuard, Role,
    Sealer, Status, UnverifiedFrame,
};

use super::registry::{LastState, NodeSettings, Registry, RegistryError, RoleName};
use super::sightings::{NodeClock, subject};
use super::stats::{LinkStats, Rejection};
use crate::pipeline::SourceSighting;

/// By default, a node not heard for this long is offline: no `Configure` is
/// sent to it and it does not count in `nodes_online` (the node link
/// source's `offline_after_s`). Nodes send `Status` every 10 s, so a
/// minute is many missed reports.
pub const ONLINE_WITHIN_S: f64 = 60.0;
/// Seconds between attempts to configure a node that has not acknowledged.
const CONFIGURE_RETRY_S: f64 = 5.0;
/// Attempts per change of settings before the gateway stops and warns: a
/// node that refuses three times will refuse a fourth.
const CONFIGURE_ATTEMPTS: u8 = 3;
/// Uplink counters and node states are written to the registry at most this
/// often (acknowledgements and a clean stop at once). Writing on every frame
/// would wear a Pi's SD card; after a crash the counters may be behind, so
/// each node's frames wait for a fresh `Hello` (see
/// [`NodeLinks::start_serving`]).
pub const PERSIST_EVERY_S: f64 = 10.0;

/// What the gateway knows of a node's uplink counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// The registry's counter is the last accepted (the last run stopped
    /// cleanly, or this run has heard the node answer): newer frames are
    /// taken.
    Known,
    /// The last run stopped without writing its counters, so frames it
    /// accepted in its last seconds could be played back: the node's frames
    /// wait for a `Hello` naming a downlink counter sealed in this run.
    AwaitingHello,
}

/// One node as this run of the gateway knows it.
#[derive(Debug, Clone)]
struct NodeRuntime {
    key: NodeKey,
    guard: ReplayGuard,
    floor: Floor,
    /// The first downlink counter this run sealed for the node.
    first_downlink: Option<u32>,
    clock: NodeClock,
    /// The next downlink counter and the last one reserved.
    downlink: Option<(u32, u32)>,
    live: NodeLive,
    attempt: Option<(NodeSettings, u8, f64)>,
    dirty: bool,
}

/// What the gateway heard from a node this run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeLive {
    /// The port it was last heard on.
    pub port: Option<Arc<str>>,
    /// When, Unix seconds.
    pub last_seen: Option<f64>,
    /// Its last `Hello`.
    pub hello: Option<Hello>,
    /// Its last `Status`.
    pub status: Option<Status>,
    /// When that `Status` came, Unix seconds.
    pub status_at: Option<f64>,
    /// Frames naming it that the gateway refused (forged, replayed,
    /// corrupt, malformed) this run.
    pub rejected_by_gateway: u64,
}

/// Every node's link state, shared by the ports.
#[derive(Debug)]
pub struct NodeLinks {
    registry: Registry,
    nodes: HashMap<u32, NodeRuntime>,
    stats: Arc<LinkStats>,
    last_persist: f64,
    /// Whether the registry's uplink counters are the last accepted (see
    /// [`NodeLinks::start_serving`]).
    counters_exact: bool,
    /// Ports being served.
    ports: usize,
    /// Seconds of silence after which a node is offline.
    offline_after_s: f64,
}

impl NodeLinks {
    /// The link state for the nodes in `registry`.
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        NodeLinks {
            registry,
            nodes: HashMap::new(),
            stats: Arc::new(LinkStats::default()),
            last_persist: 0.0,
            counters_exact: true,
            ports: 0,
            offline_after_s: ONLINE_WITHIN_S,
        }
    }

    /// Counts a node offline after `seconds` of silence instead of
    /// [`ONLINE_WITHIN_S`].
    pub fn set_offline_after(&mut self, seconds: f64) {
        self.offline_after_s = seconds;
    }

    /// Whether a node with `live` state counts as online at `now`: heard
    /// within the last `offline_after_s`.
    #[must_use]
    pub fn is_online(&self, live: &NodeLive, now: f64) -> bool {
        live.last_seen
            .is_some_and(|t| now - t <= self.offline_after_s)
    }

    /// Marks the registry as in use by a serving gateway, until
    /// [`NodeLinks::port_stopped`] has seen every port stop. If it was
    /// marked already, the gateway before stopped without writing its last
    /// uplink counters (it writes them every [`PERSIST_EVERY_S`]), and a
    /// frame it accepted in its last seconds could be played back once. So
    /// each node's frames are then held back until the node says `Hello`
    /// naming a downlink counter sealed in this run (the answer to the
    /// `Configure` the gateway sends it on hearing it), which no frame from
    /// before can; its counter is the new floor. Firmware whose `Hello`
    /// does not carry that counter is taken at its `Hello` as before, with
    /// a warning.
    pub fn start_serving(&mut self) -> Result<(), RegistryError> {
        let mut was_running = false;
        self.registry.update(|nodes| {
            was_running = nodes.gateway_running;
            nodes.gateway_running = true;
            Ok(())
        })?;
        self.counters_exact = !was_running;
        if was_running {
            tracing::warn!(
                "the gateway did not stop cleanly last time: each node's frames are taken \
                 again once it answers a Configure"
            );
        }
        Ok(())
    }

    /// A port's task began serving.
    pub fn port_started(&mut self) {
        self.ports += 1;
    }

    /// A port's task stopped at `now`: the counters are written, and once
    /// the last port stops, the registry is marked as stopped cleanly.
    pub fn port_stopped(&mut self, now: f64) -> Result<(), RegistryError> {
        self.ports = self.ports.saturating_sub(1);
        let last = self.ports == 0;
        self.write_counters(now, last)
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Arc<LinkStats> {
        Arc::clone(&self.stats)
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What this run heard from node `id`.
    #[must_use]
    pub fn live(&self, id: u32) -> Option<&NodeLive> {
        self.nodes.get(&id).map(|n| &n.live)
    }

    /// What this run heard from each node, by id.
    pub fn each_live(&self) -> impl Iterator<Item = (u32, &NodeLive)> {
        self.nodes.iter().map(|(id, n)| (*id, &n.live))
    }

    /// Counts a refused frame against the node it names, if this run knows
    /// that node (a forged frame may name any number).
    fn refused_naming(&mut self, id: u32) {
        if let Some(runtime) = self.nodes.get_mut(&id) {
            runtime.live.rejected_by_gateway += 1;
        }
    }

    /// Nodes online at `now` (see [`NodeLinks::is_online`]).
    #[must_use]
    pub fn online(&self, now: f64) -> usize {
        self.nodes
            .values()
            .filter(|n| self.is_online(&n.live, now))
            .count()
    }

    /// The runtime of node `id` under its current key, or why there is none.
    fn runtime(&mut self, id: u32) -> Result<&mut NodeRuntime, Rejection> {
        if id == 0 {
            return Err(Rejection::Unprovisioned);
        }
        let entry = self
            .registry
            .nodes()
            .get(id)
            .ok_or(Rejection::UnknownNode)?;
        let key = entry.key();
        let uplink_last = entry.uplink_last;
        let floor = if self.counters_exact {
            Floor::Known
        } else {
            Floor::AwaitingHello
        };
        let runtime = self.nodes.entry(id).or_insert_with(|| NodeRuntime {
            key,
            guard: ReplayGuard::resume(uplink_last),
            floor,
            first_downlink: None,
            clock: NodeClock::default(),
            downlink: None,
            live: NodeLive::default(),
            attempt: None,
            dirty: false,
        });
        if runtime.key != key {
            // Provisioned again since: a new key, and counters from 1, none
            // of which this run has accepted.
            runtime.key = key;
            runtime.guard = ReplayGuard::resume(uplink_last);
            runtime.floor = Floor::Known;
            runtime.attempt = None;
        }
        Ok(runtime)
    }

    /// Takes one frame (unstuffed) heard on `port` at `now`.
    fn receive_frame(
        &mut self,
        port: &Arc<str>,
        frame: &[u8],
        now: f64,
        out: &mut Vec<SourceSighting>,
    ) -> Result<(), Rejection> {
        let frame = UnverifiedFrame::parse(frame).map_err(|_| Rejection::Corrupt)?;
        let claimed = frame.claimed_header().node_id;
        let runtime = self.runtime(claimed)?;
        let mut guard = runtime.guard;
        let (_, message) = frame
            .open(&runtime.key, Direction::NodeToGateway, &mut guard)
            .map_err(|e| Rejection::from_open(&e))?;
        // An authentic frame, taken or held back: the node is here, and a
        // `Configure` for it goes to this port.
        runtime.live.port = Some(Arc::clone(port));
        runtime.live.last_seen = Some(now);
        if runtime.floor == Floor::AwaitingHello {
            let answered = match message {
                // Firmware before the field: nothing to tell old from new.
                Message::Hello(Hello {
                    downlink_last: None,
                    ..
                }) => {
                    tracing::warn!(
                        node = claimed,
                        "node firmware does not name the last downlink counter in its Hello: \
                         its frames are taken again without proof they are new"
                    );
                    true
                }
                Message::Hello(Hello {
                    downlink_last: Some(d),
                    ..
                }) => runtime.first_downlink.is_some_and(|first| d >= first),
                _ => false,
            };
            if !answered {
                return Err(Rejection::AwaitingHello);
            }
            tracing::info!(
                node = claimed,
                counter = guard.last(),
                "node answered; its frames are taken again"
            );
            runtime.floor = Floor::Known;
        }
        runtime.guard = guard;
        runtime.dirty = true;
        match message {
            Message::Hello(hello) => {
                tracing::info!(node = claimed, port = %port, firmware = ?hello.firmware, role = ?hello.role, "node hello");
                // A Hello is sent at start: the node's uptime begins again.
                runtime.clock = NodeClock::default();
                runtime.live.hello = Some(hello);
                self.acknowledge(claimed, hello.role, now);
            }
            Message::Status(status) => {
                tracing::debug!(
                    node = claimed,
                    uptime_s = status.uptime_s,
                    battery_mv = status.battery_mv,
                    queue_drops = status.queue_drops,
                    crc_failures = ?status.crc_failures,
                    "node status"
                );
                runtime.live.status = Some(status);
                runtime.live.status_at = Some(now);
            }
            Message::SightingBatch(batch) => {
                let anchor: Arc<str> = self
                    .registry
                    .nodes()
                    .get(claimed)
                    .map(|n| Arc::from(n.anchor.as_str()))
                    .ok_or(Rejection::UnknownNode)?;
                let runtime = self.runtime(claimed)?;
                let mid = runtime
                    .clock
                    .map(batch.window_start_ms(), batch.window_len_ms(), now);
                for entry in &batch {
                    let Ok(entry) = entry else {
                        // Authentic but unreadable: the node's bug, counted.
                        return Err(Rejection::Malformed);
                    };
                    out.push(SourceSighting {
                        ts: mid,
                        anchor: Arc::clone(&anchor),
                        subject: subject(&entry),
                        rssi: f64::from(entry.rssi.mean),
                    });
                    self.stats.sighting();
                }
            }
            // `open` refuses gateway-to-node messages in a node-to-gateway frame.
            Message::Configure(_) | Message::Provision(_) => return Err(Rejection::WrongDirection),
        }
        Ok(())
    }

    /// A `Hello` after a `Configure` is its acknowledgement: the settings
    /// sent are now what the node runs.
    fn acknowledge(&mut self, id: u32, role: Role, now: f64) {
        let Some(runtime) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some((sent, _, _)) = runtime.attempt.take() else {
            return;
        };
        if Role::from(sent.role) != role {
            tracing::warn!(node = id, ?role, wanted = ?sent.role, "node answered a Configure with another role");
            return;
        }
        tracing::info!(node = id, "node acknowledged its configuration");
        let result = self.registry.update(|nodes| {
            nodes.get_mut(id)?.acknowledged = Some(sent);
            Ok(())
        });
        if let Err(error) = result {
            tracing::error!(%error, "registry not updated");
        }
        let _ = self.persist(now, true);
    }

    /// The `Configure` frames due to nodes last heard on `port`: nodes
    /// online whose desired settings they have not acknowledged, or whose
    /// `Hello` names another role.
    pub fn configures_due(&mut self, port: &str, now: f64) -> Vec<Vec<u8>> {
        let mut due = Vec::new();
        let ids: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.live.port.as_deref() == Some(port) && self.is_online(&n.live, now))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(entry) = self.registry.nodes().get(id) else {
                continue;
            };
            let desired = entry.desired.clone();
            let Some(runtime) = self.nodes.get_mut(&id) else {
                continue;
            };
            let role_differs = runtime
                .live
                .hello
                .is_some_and(|h| h.role != Role::from(desired.role));
            // A node waiting to be taken again is asked to answer, however
            // many times it takes.
            let awaiting = runtime.floor == Floor::AwaitingHello;
            if entry.acknowledged.as_ref() == Some(&desired) && !role_differs && !awaiting {
                continue;
            }
            let attempts = match &runtime.attempt {
                Some((sent, n, at)) if *sent == desired => {
                    if now - at < CONFIGURE_RETRY_S || (*n >= CONFIGURE_ATTEMPTS && !awaiting) {
                        continue;
                    }
                    n.saturating_add(1)
                }
                _ => 1,
            };
            match self.seal_configure(id, &desired) {
                Ok(frame) => {
                    tracing::info!(node = id, port, attempt = attempts, settings = ?desired, "configure sent");
                    if attempts == CONFIGURE_ATTEMPTS && !awaiting {
                        tracing::warn!(
                            node = id,
                            "last configure attempt until its settings change"
                        );
                    } else if attempts == CONFIGURE_ATTEMPTS {
                        tracing::warn!(
                            node = id,
                            "node has not answered three configures; its frames stay held back"
                        );
                    }
                    self.stats.configure_sent();
                    if let Some(runtime) = self.nodes.get_mut(&id) {
                        runtime.attempt = Some((desired, attempts, now));
                    }
                    due.push(frame);
                }
                Err(error) => tracing::error!(node = id, %error, "configure not sent"),
            }
        }
        due
    }

    fn seal_configure(&mut self, id: u32, desired: &NodeSettings) -> Result<Vec<u8>, String> {
        let configure = desired.to_configure()?;
        let counter = self.next_downlink(id).map_err(|e| e.to_string())?;
        let runtime = self.nodes.get(&id).ok_or("node not heard")?;
        let mut sealer = Sealer::resume(runtime.key, id, Direction::GatewayToNode, counter);
        let mut buf = [0u8; MAX_WIRE_LEN];
        let n = sealer
            .seal(&Message::Configure(configure), &mut buf)
            .map_err(|e| e.to_string())?;
        Ok(buf[..n].to_vec())
    }

    /// The next downlink counter for node `id`, reserving a block in the
    /// registry when the last is used up.
    fn next_downlink(&mut self, id: u32) -> Result<u32, RegistryError> {
        let current = self.nodes.get(&id).and_then(|n| n.downlink);
        let (next, last) = match current {
            Some((next, last)) if next <= last => (next, last),
            _ => self.registry.reserve_downlink(Some(id))?,
        };
        if let Some(runtime) = self.nodes.get_mut(&id) {
            runtime.downlink = Some((next + 1, last));
            runtime.first_downlink.get_or_insert(next);
        }
        Ok(next)
    }

    /// Re-reads the registry if another process changed it (new nodes, new
    /// keys, new desired settings); true if it did.
    pub fn reload(&mut self) -> Result<bool, RegistryError> {
        self.registry.reload_if_changed()
    }

    /// Writes uplink counters and node states to the registry, if
    /// [`PERSIST_EVERY_S`] has passed since the last write or `force`.
    pub fn persist(&mut self, now: f64, force: bool) -> Result<(), RegistryError> {
        if !force && now - self.last_persist < PERSIST_EVERY_S {
            return Ok(());
        }
        self.write_counters(now, false)
    }

    /// Writes the counters and states that changed; with `stopped`, in the
    /// same write, marks the registry as left by a gateway that stopped
    /// cleanly (after its last counters, never before them).
    fn write_counters(&mut self, now: f64, stopped: bool) -> Result<(), RegistryError> {
        let dirty: Vec<(u32, u32, LastState)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.dirty)
            .map(|(id, n)| (*id, n.guard.last(), last_state(&n.live)))
            .collect();
        self.last_persist = now;
        if dirty.is_empty() && !stopped {
            return Ok(());
        }
        let keys: HashMap<u32, NodeKey> = self.nodes.iter().map(|(id, n)| (*id, n.key)).collect();
        self.registry.update(|nodes| {
            for (id, uplink_last, last) in dirty {
                let Ok(entry) = nodes.get_mut(id) else {
                    continue;
                };
                // Re-keyed by another process meanwhile: these counters are
                // the old key's.
                if keys.get(&id) != Some(&entry.key()) {
                    continue;
                }
                entry.uplink_last = entry.uplink_last.max(uplink_last);
                entry.last = Some(last);
            }
            if stopped {
                nodes.gateway_running = false;
            }
            Ok(())
        })?;
        for n in self.nodes.values_mut() {
            n.dirty = false;
        }
        Ok(())
    }
}

fn last_state(live: &NodeLive) -> LastState {
    let status = live.status.as_ref();
    LastState {
        seen: live.last_seen.unwrap_or_default(),
        firmware: live.hello.map(|h| {
            format!(
                "{}.{}.{}",
                h.firmware.major, h.firmware.minor, h.firmware.patch
            )
        }),
        role: live.hello.map(|h| match h.role {
            Role::Beacon => RoleName::Beacon,
            Role::Scanner => RoleName::Scanner,
        }),
        uptime_s: status.map(|s| s.uptime_s),
        battery_mv: status.map(|s| s.battery_mv),
        temperature_c: status.map(|s| f64::from(s.temperature_centi_c) / 100.0),
        queue_drops: status.map(|s| s.queue_drops),
        frames_rejected: status.map(|s| s.frames_rejected),
        crc_failures: status.and_then(|s| s.crc_failures),
    }
}

/// The receiving end of one port: cuts its bytes into frames.
#[derive(Debug)]
pub struct PortReceiver {
    port: Arc<str>,
    deframer: LinkDeframer,
}

impl PortReceiver {
    /// A receiver for the port named `port` (its device path, for logs).
    #[must_use]
    pub fn new(port: &str) -> Self {
        PortReceiver {
            port: Arc::from(port),
            deframer: LinkDeframer::new(),
        }
    }

    /// The port's name.
    #[must_use]
    pub fn port(&self) -> &str {
        &self.port
    }

    /// Forgets a partial frame: the port was reopened.
    pub fn reset(&mut self) {
        self.deframer.reset();
    }

    /// Takes bytes read from the port at `now`; sightings go to `out`.
    /// Every frame is accepted or counted as a [`Rejection`].
    pub fn receive(
        &mut self,
        links: &mut NodeLinks,
        bytes: &[u8],
        now: f64,
        out: &mut Vec<SourceSighting>,
    ) {
        let mut input = bytes;
        loop {
            match self.deframer.feed(input) {
                Feed::Pending => break,
                Feed::Dropped { error, rest } => {
                    links.stats.reject(Rejection::Noise);
                    tracing::debug!(port = %self.port, %error, "line noise dropped");
                    input = rest;
                }
                Feed::Frame { frame, rest } => {
                    match links.receive_frame(&self.port, frame, now, out) {
                        Ok(()) => links.stats.accept(),
                        Err(rejection) => {
                            links.stats.reject(rejection);
                            let node = frame
                                .get(2..6)
                                .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
                            rejection.log(&self.port, node);
                            // Held back is not refused: the node did nothing wrong.
                            if let Some(node) = node
                                && rejection != Rejection::AwaitingHello
                            {
                                links.refused_naming(node);
                            }
                        }
                    }
                    input = rest;
                }
            }
        }
    }
}
