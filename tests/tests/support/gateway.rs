//! The gateway running in the test's process, as `aisle run` runs it, on a
//! configuration built in code: the demo store, a recording as its only
//! source, a broker given by address, a spool in a temporary folder.

use std::path::Path;
use std::sync::Arc;

use aisle_gateway::config::{BrokerAddress, Loaded, SourceSection};
use aisle_gateway::mqtt::PublisherStats;
use aisle_gateway::nodelink::NodeLinkSource;
use aisle_gateway::publish::Payload;
use aisle_gateway::service::{self, Published, Shown};
use aisle_gateway::sim::store::demo_configuration;
use aisle_protocol::event::ZoneEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::broker::WAIT;

/// A running gateway and the decisions it has published so far.
pub struct Gateway {
    /// The broker's host and port, as the gateway connects to it.
    pub broker: (String, u16),
    pub stats: Arc<PublisherStats>,
    /// The node link, when a source is one.
    pub node_link: Option<NodeLinkSource>,
    view: mpsc::UnboundedReceiver<Shown>,
    /// Every zone event the gateway decided, in order.
    pub decided: Vec<ZoneEvent>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Gateway {
    /// Starts the gateway on the demo store, playing `recording` at `speed`
    /// and publishing to the broker on `port` as `client_id`.
    pub fn start(recording: &Path, speed: f64, port: u16, client_id: &str, spool: &Path) -> Self {
        let mut loaded = demo_configuration(
            vec![SourceSection::Recording {
                path: recording.to_owned(),
                speed,
            }],
            spool,
            BrokerAddress::Remote {
                host: "127.0.0.1".into(),
                port,
            },
        );
        client_id.clone_into(&mut loaded.config.mqtt.client_id);
        let gateway = Self::run(&loaded);
        assert_eq!(gateway.broker, ("127.0.0.1".to_owned(), port));
        gateway
    }

    /// Starts the gateway on a loaded configuration.
    pub fn run(loaded: &Loaded) -> Self {
        let (view_tx, view) = mpsc::unbounded_channel();
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let running =
            service::start(loaded, Some(view_tx), &tracker, &shutdown).expect("gateway starts");
        Self {
            broker: running.broker,
            stats: running.stats,
            node_link: running.node_link,
            view,
            decided: Vec::new(),
            tracker,
            shutdown,
        }
    }

    /// Waits until the zone events decided so far satisfy `done`.
    pub async fn until(&mut self, what: &str, done: impl Fn(&[ZoneEvent]) -> bool) {
        let wait = async {
            while !done(&self.decided) {
                let Some(published) = self.view.recv().await else {
                    panic!("the gateway stopped before deciding {what}");
                };
                if let Shown::Decision(Published {
                    payload: Payload::Zone(event),
                    ..
                }) = published
                {
                    self.decided.push(event);
                }
            }
        };
        let in_time = tokio::time::timeout(WAIT, wait).await.is_ok();
        assert!(
            in_time,
            "the gateway did not decide {what} within {WAIT:?}; decided: {:#?}",
            self.decided
        );
    }

    /// Stops the gateway and waits for its tasks.
    pub async fn stop(mut self) -> Vec<ZoneEvent> {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(WAIT, self.tracker.wait())
            .await
            .expect("the gateway stops in time");
        while let Ok(published) = self.view.try_recv() {
            if let Shown::Decision(Published {
                payload: Payload::Zone(event),
                ..
            }) = published
            {
                self.decided.push(event);
            }
        }
        self.decided
    }
}
