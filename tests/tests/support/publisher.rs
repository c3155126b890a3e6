//! The gateway's MQTT publisher running on its own, as the publisher tests
//! drive it.

use std::sync::Arc;
use std::time::Duration;

use aisle_gateway::mqtt::publisher::PublisherStats;
use aisle_gateway::mqtt::{Outgoing, Publisher, PublisherConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::broker::WAIT;

/// A publisher with its tasks, stopped by [`Running::stop`].
pub struct Running {
    publisher: Publisher,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Running {
    /// Spawns a publisher on `config`.
    pub fn start(config: PublisherConfig) -> Self {
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let publisher = Publisher::spawn(config, &tracker, shutdown.clone()).unwrap();
        Self {
            publisher,
            tracker,
            shutdown,
        }
    }

    /// The publisher's counters.
    pub fn stats(&self) -> Arc<PublisherStats> {
        self.publisher.stats()
    }

    /// Hands the publisher a message.
    pub async fn send(&self, message: Outgoing) {
        self.publisher.sender().send(message).await.unwrap();
    }

    /// Waits for the publisher's last connection error to satisfy `what`.
    pub async fn error_until(&self, what: impl Fn(&str) -> bool) -> String {
        let stats = self.publisher.stats();
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(error) = stats.last_error().filter(|e| what(e)) {
                    return error;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("last error: {:?}", stats.last_error()))
    }

    /// Stops the publisher and waits for its tasks.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(WAIT, self.tracker.wait())
            .await
            .expect("publisher stops in time");
    }
}
