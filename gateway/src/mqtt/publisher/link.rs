//! One connection to the broker: a fresh rumqttc client and event loop, the
//! task that polls that event loop, and the bookkeeping that matches the
//! broker's PUBACKs to spool entries.
//!
//! Each attempt gets a new client and event loop because rumqttc clears its
//! own queue of unacknowledged publishes when the broker grants a clean
//! session; our spool is the only source of truth, and a fresh event loop
//! guarantees that nothing from an old connection is sent or counted twice.

use std::collections::{HashMap, VecDeque};

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::mqtt::spool::SeqNo;

/// Events from the poller; a few dozen absorb a burst of acknowledgements
/// while the publisher is busy with an fsync.
const EVENT_CAPACITY: usize = 64;

/// What a request handed to the rumqttc client was, in the order handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    Spooled(SeqNo),
    /// Birth or offline status (QoS 1, not from the spool).
    Status,
    AtMostOnce,
}

/// A spool entry sent on this connection and not yet acknowledged.
#[derive(Debug)]
struct Unacked {
    seq: SeqNo,
    acked: bool,
}

pub(super) struct Link {
    pub(super) client: AsyncClient,
    pub(super) events: mpsc::Receiver<Result<Event, ConnectionError>>,
    poller: JoinHandle<()>,
    stop: CancellationToken,
    pub(super) connected: bool,
    /// Requests handed to the client whose `Outgoing::Publish` event has not
    /// come yet; rumqttc emits those in request order.
    handed_over: VecDeque<Sent>,
    /// Packet id to what it carries, until the PUBACK.
    awaiting_ack: HashMap<u16, Sent>,
    /// Spool entries sent on this connection, oldest first.
    window: VecDeque<Unacked>,
    /// The last spool entry sent on this connection.
    pub(super) last_sent: Option<SeqNo>,
    pub(super) statuses_unacked: usize,
}

impl Link {
    pub(super) fn start(options: MqttOptions, request_capacity: usize) -> Self {
        let (client, event_loop) = AsyncClient::new(options, request_capacity);
        let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
        let stop = CancellationToken::new();
        let poller = tokio::spawn(poll(event_loop, events_tx, stop.clone()));
        Self {
            client,
            events,
            poller,
            stop,
            connected: false,
            handed_over: VecDeque::new(),
            awaiting_ack: HashMap::new(),
            window: VecDeque::new(),
            last_sent: None,
            statuses_unacked: 0,
        }
    }

    /// Records a request accepted by the client.
    pub(super) fn handed_over(&mut self, sent: Sent) {
        match sent {
            Sent::Spooled(seq) => {
                self.window.push_back(Unacked { seq, acked: false });
                self.last_sent = Some(seq);
            }
            Sent::Status => self.statuses_unacked += 1,
            Sent::AtMostOnce => {}
        }
        self.handed_over.push_back(sent);
    }

    /// Spool entries sent and not yet acknowledged on this connection.
    pub(super) fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// Handles `Outgoing::Publish(pkid)`: the oldest handed-over request was written.
    pub(super) fn written(&mut self, pkid: u16) -> Option<Sent> {
        let sent = self.handed_over.pop_front()?;
        match sent {
            Sent::AtMostOnce => {}
            Sent::Spooled(_) | Sent::Status => {
                self.awaiting_ack.insert(pkid, sent);
            }
        }
        Some(sent)
    }

    /// Handles a PUBACK; returns the newest spool entry up to which
    /// everything sent is acknowledged, if that moved.
    pub(super) fn acknowledged(&mut self, pkid: u16) -> (Option<Sent>, Option<SeqNo>) {
        let Some(sent) = self.awaiting_ack.remove(&pkid) else {
            tracing::warn!(pkid, "PUBACK for a packet id not in flight");
            return (None, None);
        };
        match sent {
            Sent::Spooled(seq) => {
                if let Some(entry) = self.window.iter_mut().find(|entry| entry.seq == seq) {
                    entry.acked = true;
                }
                let mut through = None;
                while self.window.front().is_some_and(|entry| entry.acked) {
                    through = self.window.pop_front().map(|entry| entry.seq);
                }
                (Some(sent), through)
            }
            Sent::Status => {
                self.statuses_unacked -= 1;
                (Some(sent), None)
            }
            Sent::AtMostOnce => (Some(sent), None),
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
