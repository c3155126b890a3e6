//! A plain MQTT subscriber for the service tests.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// One publication as the subscriber saw it.
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// Subscribes to `filter` on the broker at 127.0.0.1:`port` at `qos` and
/// forwards every publication; returns once the broker has acknowledged the
/// subscription, so nothing published after it is missed.
pub async fn subscribe(
    port: u16,
    client_id: &str,
    filter: &str,
    qos: QoS,
) -> mpsc::UnboundedReceiver<Received> {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut event_loop) = AsyncClient::new(options, 16);
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let filter = filter.to_owned();
    tokio::spawn(async move {
        let mut subscribed_tx = Some(subscribed_tx);
        loop {
            match event_loop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client.try_subscribe(&filter, qos).unwrap();
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let received = Received {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                    };
                    if tx.send(received).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    // Generous: a loaded machine running debug builds of every test.
    tokio::time::timeout(Duration::from_secs(20), subscribed)
        .await
        .expect("subscribed within 20 s")
        .unwrap();
    rx
}
