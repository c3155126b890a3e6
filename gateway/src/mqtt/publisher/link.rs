//! One connection to the broker: a fresh rumqttc client and event loop, the
//! task that polls that event loop, and the bookkeeping that matches the
//! broker's PUBACKs to spool entries.
//!
//! Each attempt gets a new client and event loop because rumqttc clears its
//! own queue of unacknowledged publishes when the broker grants a clean
//! session; our spool is the only source of truth, and a fresh event loop
//! guarantees that nothing from an old connection is sent or counted twice.

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::window::Window;

/// Events from the poller; a few dozen absorb a burst of acknowledgements
/// while the publisher is busy with an fsync.
const EVENT_CAPACITY: usize = 64;

pub(super) struct Link {
    pub(super) client: AsyncClient,
    pub(super) events: mpsc::Receiver<Result<Event, ConnectionError>>,
    poller: JoinHandle<()>,
    stop: CancellationToken,
    pub(super) connected: bool,
    pub(super) window: Window,
}

impl Link {
    pub(super) fn start(options: MqttOptions, request_capacity: usize) -> Self {
        let (client, mut event_loop) = AsyncClient::new(options, request_capacity);
        // Zone events are small and must leave at once: without TCP_NODELAY,
        // Nagle's algorithm holds a publish back behind an unacknowledged
        // one, and Linux's delayed ACK makes that about 40 ms.
        let mut network = event_loop.network_options();
        network.set_tcp_nodelay(true);
        event_loop.set_network_options(network);
        let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
        let stop = CancellationToken::new();
        let poller = tokio::spawn(poll(event_loop, events_tx, stop.clone()));
        Self {
            client,
            events,
            poller,
            stop,
            connected: false,
            window: Window::default(),
        }
    }

    /// Stops the poller and waits for it, dropping the connection without a
    /// DISCONNECT if one is still open.
    pub(super) async fn close(self) {
        self.stop.cancel();
        if let Err(error) = self.poller.await {
            tracing::error!(%error, "MQTT poller task failed");
        }
    }
}

/// Polls the event loop and forwards every event. This task does nothing
/// else, so keep-alive pings and acknowledgements flow even while the
/// publisher waits on the disk. It ends at the first error: the publisher
/// decides when and how to reconnect.
async fn poll(
    mut event_loop: EventLoop,
    events: mpsc::Sender<Result<Event, ConnectionError>>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = event_loop.poll() => event,
        };
        let failed = event.is_err();
        tokio::select! {
            () = stop.cancelled() => return,
            sent = events.send(event) => if sent.is_err() { return },
        }
        if failed {
            return;
        }
    }
}
