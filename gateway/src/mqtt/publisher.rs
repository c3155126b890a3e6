//! Publishes the gateway's output to an MQTT broker.
//!
//! QoS 1 messages are written to the [`Spool`] before anything else; a
//! message is accepted once it is durable there. They are then published in
//! spool order with at most [`PublisherConfig::inflight`] unacknowledged at a
//! time, and the spool's cursor advances over the contiguous prefix the broker
//! acknowledged. After every (re)connect the publisher re-sends from that
//! cursor, so a message is delivered at least once, in order of first
//! appearance, across broker restarts and gateway restarts alike.
//!
//! QoS 0 messages (positions) are published while connected and dropped,
//! counted, otherwise.

mod link;
mod window;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    Event, LastWill, MqttOptions, Outgoing as Written, Packet, TlsConfiguration, Transport,
};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::link::Link;
use self::window::Sent;
use super::spool::{SeqNo, Spool, SpoolError};
use super::{Outgoing, QoS};

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub credentials: Option<(String, String)>,
    pub keep_alive: Duration,
    /// TLS settings for an `mqtts://` broker (see [`super::tls`]); plain
    /// TCP when `None`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Retained QoS 1 status the broker publishes if the connection drops
    /// without a DISCONNECT. A clean DISCONNECT does not fire the will, so
    /// the publisher publishes this same status itself before disconnecting.
    pub last_will: Option<RetainedStatus>,
    /// Retained QoS 1 status published on every connect.
    pub birth: Option<RetainedStatus>,
}

/// A retained status message such as `online`/`offline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedStatus {
    pub topic: String,
    pub payload: Vec<u8>,
}

impl RetainedStatus {
    #[must_use]
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
        }
    }
}

/// Everything the publisher needs.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    pub broker: BrokerOptions,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    /// Capacity of the input channel.
    pub input_capacity: usize,
    /// QoS 1 messages sent and not yet acknowledged, at most.
    pub inflight: u16,
    /// Largest topic plus payload accepted; larger messages are refused
    /// because the broker would drop the connection on them, forever.
    pub max_message_bytes: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long shutdown waits for in-flight acknowledgements.
    pub shutdown_grace: Duration,
}

impl PublisherConfig {
    /// Defaults sized for a store: events arrive at tens per second.
    #[must_use]
    pub fn new(broker: BrokerOptions, spool_dir: impl Into<PathBuf>) -> Self {
        Self {
            broker,
            spool_dir: spool_dir.into(),
            // About a day of presence events at 10/s of 300 bytes.
            spool_max_bytes: 256 * 1024 * 1024,
            input_capacity: 1024,
            // Enough to cover a store-LAN round trip at event rates; small
            // enough that a reconnect re-sends little.
            inflight: 32,
            max_message_bytes: 128 * 1024,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Why the publisher could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum PublisherError {
    #[error("spool: {0}")]
    Spool(#[from] SpoolError),
}

/// Counters for status pages, updated as the publisher runs.
#[derive(Debug, Default)]
pub struct PublisherStats {
    /// Messages written to the broker connection, re-sends included.
    pub published: AtomicU64,
    /// QoS 1 messages accepted into the spool.
    pub spooled: AtomicU64,
    /// QoS 1 messages the broker acknowledged.
    pub acked: AtomicU64,
    /// QoS 0 messages dropped while disconnected or congested.
    pub dropped_qos0: AtomicU64,
    /// QoS 1 messages refused because the spool was full.
    pub refused_full: AtomicU64,
    /// Messages refused as too large or unstorable.
    pub refused_invalid: AtomicU64,
    /// Connections established after the first.
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
    /// Why the last connection attempt failed or the last connection was
    /// lost; cleared once the broker accepts a connection.
    pub last_error: Mutex<Option<String>>,
}

impl PublisherStats {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Why the publisher is not connected, if it tried and failed.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn set_last_error(&self, error: Option<String>) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = error;
        }
    }
}

/// A running publisher: where to send messages and how it is doing.
#[derive(Debug, Clone)]
pub struct Publisher {
    input: mpsc::Sender<Outgoing>,
    stats: Arc<PublisherStats>,
}

impl Publisher {
    /// Opens the spool and spawns the publisher on `tracker`; it stops when
    /// `shutdown` is cancelled.
    pub fn spawn(
        config: PublisherConfig,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Self, PublisherError> {
        let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
        let (input, receiver) = mpsc::channel(config.input_capacity);
        let stats = Arc::new(PublisherStats::default());
        let task_stats = Arc::clone(&stats);
        tracker.spawn(async move {
            let run = run_with_spool(config, spool, receiver, task_stats, shutdown.cancelled());
            if let Err(error) = run.await {
                tracing::error!(%error, "MQTT publisher stopped");
            }
        });
        Ok(Self { input, stats })
    }

    /// Where to send messages; a QoS 1 message is durable once the
    /// publisher took it from this channel.
    #[must_use]
    pub fn sender(&self) -> mpsc::Sender<Outgoing> {
        self.input.clone()
    }

    #[must_use]
    pub fn stats(&self) -> Arc<PublisherStats> {
        Arc::clone(&self.stats)
    }
}

/// Runs the publisher until `shutdown` completes.
pub async fn run(
    config: PublisherConfig,
    input: mpsc::Receiver<Outgoing>,
    stats: Arc<PublisherStats>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), PublisherError> {
    let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
    run_with_spool(config, spool, input, stats, shutdown).await
}

async fn run_with_spool(
    config: PublisherConfig,
    spool: Spool,
    input: mpsc::Receiver<Outgoing>,
    stats: Arc<PublisherStats>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), PublisherError> {
    tracing::info!(
        host = %config.broker.host,
        port = config.broker.port,
        spooled = spool.len(),
        "MQTT publisher starting"
    );
    let mut publisher = Task {
        config,
        spool,
        input,
        stats,
        ever_connected: false,
    };
    // Zero would never send; rumqttc is allowed two more, for the statuses.
    publisher.config.inflight = publisher.config.inflight.clamp(1, u16::MAX - 2);
    tokio::pin!(shutdown);
    let mut backoff = publisher.config.backoff_min;
    loop {
        let mut link = Link::start(publisher.options(), publisher.request_capacity());
        let lost = tokio::select! {
            () = &mut shutdown => None,
            lost = publisher.serve(&mut link) => Some(lost),
        };
        match lost {
            None => {
                publisher.shut_down(link).await;
                return Ok(());
            }
            Some(Err(error)) => {
                link.close().await;
                publisher.stats.connected.store(false, Ordering::Relaxed);
                return Err(error);
            }
            Some(Ok(was_connected)) => {
                link.close().await;
                publisher.stats.connected.store(false, Ordering::Relaxed);
                if was_connected {
                    backoff = publisher.config.backoff_min;
                }
                let retry_at = Instant::now() + backoff;
                tracing::debug!(?backoff, "reconnecting to the MQTT broker after a pause");
                backoff = (backoff * 2).min(publisher.config.backoff_max);
                tokio::select! {
                    () = &mut shutdown => {
                        publisher.drain_input();
                        return Ok(());
                    }
                    () = publisher.wait_offline(retry_at) => {}
                }
            }
        }
    }
}

struct Task {
    config: PublisherConfig,
    spool: Spool,
    input: mpsc::Receiver<Outgoing>,
    stats: Arc<PublisherStats>,
    ever_connected: bool,
}

impl Task {
    fn options(&self) -> MqttOptions {
        let broker = &self.config.broker;
        let mut options = MqttOptions::new(&broker.client_id, &broker.host, broker.port);
        options
            .set_keep_alive(broker.keep_alive)
            // The spool, not the broker's session, remembers what is unacknowledged.
            .set_clean_session(true)
            // Birth and offline statuses can be in flight next to a full window;
            // with room for both, rumqttc never reuses a packet id still in flight.
            .set_inflight(self.config.inflight + 2);
        let packet_limit = self.config.max_message_bytes + 1024;
        options.set_max_packet_size(packet_limit, packet_limit);
        if let Some(tls) = &broker.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::clone(tls),
            )));
        }
        if let Some((user, password)) = &broker.credentials {
            options.set_credentials(user, password);
        }
        if let Some(will) = &broker.last_will {
            options.set_last_will(LastWill::new(
                &will.topic,
                will.payload.clone(),
                rumqttc::QoS::AtLeastOnce,
                true,
            ));
        }
        options
    }

    /// The client's request queue: the window, statuses, and a burst of
    /// positions; positions beyond it are dropped rather than queued.
    fn request_capacity(&self) -> usize {
        usize::from(self.config.inflight) + 64
    }

    /// Serves one connection until it is lost; returns whether it had connected.
    async fn serve(&mut self, link: &mut Link) -> Result<bool, PublisherError> {
        loop {
            tokio::select! {
                event = link.events.recv() => match event {
                    Some(Ok(event)) => self.handle_event(link, event),
                    Some(Err(error)) => {
                        let error = super::tls::describe(&error);
                        if link.connected {
                            tracing::warn!(%error, "MQTT connection lost");
                        } else {
                            tracing::warn!(%error, "MQTT broker not reached");
                        }
                        self.stats.set_last_error(Some(error));
                        return Ok(link.connected);
                    }
                    None => return Ok(link.connected),
                },
                // Once every sender is gone nothing more will come, but the
                // spool may still hold messages, so keep serving.
                message = self.input.recv(), if !self.input.is_closed() || !self.input.is_empty() => {
                    if let Some(message) = message {
                        self.accept(Some(link), message);
                    }
                }
            }
            if link.connected {
                self.fill_window(link)?;
            }
        }
    }

    fn handle_event(&mut self, link: &mut Link, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                link.connected = true;
                self.stats.connected.store(true, Ordering::Relaxed);
                self.stats.set_last_error(None);
                if self.ever_connected {
                    PublisherStats::add(&self.stats.reconnects);
                }
                self.ever_connected = true;
                tracing::info!(spooled = self.spool.len(), "connected to the MQTT broker");
                if let Some(birth) = self.config.broker.birth.clone() {
                    Self::publish_status(link, &birth);
                }
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                let (sent, through) = link.window.acknowledged(ack.pkid);
                match sent {
                    Some(Sent::Spooled(_)) => PublisherStats::add(&self.stats.acked),
                    Some(_) => {}
                    None => tracing::warn!(pkid = ack.pkid, "PUBACK for a packet id not in flight"),
                }
                if let Some(through) = through {
                    let spool = &mut self.spool;
                    if let Err(error) = blocking(|| spool.ack_through(through)) {
                        // Not fatal: the messages are re-sent after a restart.
                        tracing::error!(%error, "could not record acknowledgement in the spool");
                    }
                }
            }
            Event::Outgoing(Written::Publish(pkid)) => {
                if link.window.written(pkid).is_none() {
                    tracing::warn!(pkid, "publish written that was never handed over");
                }
                PublisherStats::add(&self.stats.published);
            }
            _ => {}
        }
    }

    /// Takes one message from the input: QoS 1 into the spool, QoS 0 to the
    /// broker if connected.
    fn accept(&mut self, link: Option<&mut Link>, message: Outgoing) {
        if message.topic.len() + message.payload.len() > self.config.max_message_bytes {
            tracing::warn!(topic = %message.topic, bytes = message.payload.len(), "message too large, refused");
            PublisherStats::add(&self.stats.refused_invalid);
            return;
        }
        match message.qos {
            QoS::AtLeastOnce => {
                let spool = &mut self.spool;
                match blocking(|| spool.push(&message)) {
                    Ok(_) => PublisherStats::add(&self.stats.spooled),
                    Err(SpoolError::Full { used, max, .. }) => {
                        tracing::warn!(topic = %message.topic, used, max, "spool full, message refused");
                        PublisherStats::add(&self.stats.refused_full);
                    }
                    Err(error) => {
                        tracing::error!(topic = %message.topic, %error, "could not spool message, refused");
                        PublisherStats::add(&self.stats.refused_invalid);
                    }
                }
            }
            QoS::AtMostOnce => {
                let sent = link.filter(|link| link.connected).is_some_and(|link| {
                    let sent = link
                        .client
                        .try_publish(
                            message.topic,
                            rumqttc::QoS::AtMostOnce,
                            message.retain,
                            message.payload,
                        )
                        .is_ok();
                    if sent {
                        link.window.handed_over(Sent::AtMostOnce);
                    }
                    sent
                });
                if !sent {
                    PublisherStats::add(&self.stats.dropped_qos0);
                }
            }
        }
    }

    /// Hands spooled messages to the client until the window is full.
    fn fill_window(&mut self, link: &mut Link) -> Result<(), PublisherError> {
        let room = usize::from(self.config.inflight).saturating_sub(link.window.in_flight());
        if room == 0 {
            return Ok(());
        }
        let next: Vec<(SeqNo, Outgoing)> = match link.window.last_sent() {
            Some(last) => self
                .spool
                .iter_after(last)
                .take(room)
                .collect::<Result<_, _>>()?,
            None => self
                .spool
                .iter_from(SeqNo(0))
                .take(room)
                .collect::<Result<_, _>>()?,
        };
        for (seq, message) in next {
            let handed = link.client.try_publish(
                message.topic,
                rumqttc::QoS::AtLeastOnce,
                message.retain,
                message.payload,
            );
            if handed.is_err() {
                // The request queue is full of positions; retry on the next event.
                break;
            }
            link.window.handed_over(Sent::Spooled(seq));
        }
        Ok(())
    }

    fn publish_status(link: &mut Link, status: &RetainedStatus) {
        let handed = link.client.try_publish(
            status.topic.clone(),
            rumqttc::QoS::AtLeastOnce,
            true,
            status.payload.clone(),
        );
        match handed {
            Ok(()) => link.window.handed_over(Sent::Status),
            Err(error) => tracing::warn!(topic = %status.topic, %error, "status not published"),
        }
    }

    /// While disconnected: spool QoS 1 input, drop QoS 0, until `until`.
    async fn wait_offline(&mut self, until: Instant) {
        let pause = tokio::time::sleep_until(until);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => return,
                message = self.input.recv(), if !self.input.is_closed() || !self.input.is_empty() => {
                    if let Some(message) = message {
                        self.accept(None, message);
                    }
                }
            }
        }
    }

    /// Spools whatever is still queued in the input so nothing sent to the
    /// publisher is lost on shutdown.
    fn drain_input(&mut self) {
        self.input.close();
        while let Ok(message) = self.input.try_recv() {
            self.accept(None, message);
        }
    }

    /// Orderly shutdown: take no new input, publish the offline status, wait
    /// up to the grace period for in-flight acknowledgements, then DISCONNECT.
    async fn shut_down(&mut self, mut link: Link) {
        self.drain_input();
        if link.connected {
            if let Some(offline) = self.config.broker.last_will.clone() {
                Self::publish_status(&mut link, &offline);
            }
            let deadline = Instant::now() + self.config.shutdown_grace;
            while link.window.in_flight() > 0 || link.window.statuses_unacked() > 0 {
                match tokio::time::timeout_at(deadline, link.events.recv()).await {
                    Ok(Some(Ok(event))) => self.handle_event(&mut link, event),
                    Ok(Some(Err(_)) | None) => break,
                    Err(_) => {
                        tracing::warn!(
                            in_flight = link.window.in_flight(),
                            "shutdown grace period over"
                        );
                        break;
                    }
                }
            }
            if link.client.try_disconnect().is_ok() {
                let deadline = Instant::now() + Duration::from_secs(1);
                while let Ok(Some(Ok(event))) =
                    tokio::time::timeout_at(deadline, link.events.recv()).await
                {
                    if event == Event::Outgoing(Written::Disconnect) {
                        break;
                    }
                }
            }
        }
        link.close().await;
        self.stats.connected.store(false, Ordering::Relaxed);
        tracing::info!(spooled = self.spool.len(), "MQTT publisher stopped");
    }
}

/// Runs spool I/O (an fsync costs milliseconds on an SD card) without
/// stalling other tasks on a multi-threaded runtime.
fn blocking<R>(work: impl FnOnce() -> R) -> R {
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}
