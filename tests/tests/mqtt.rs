//! The publisher against real brokers: the embedded rumqttd and Mosquitto.
//! Mosquitto comes from Debian's `mosquitto` package; scripts/test installs it.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use aisle_gateway::mqtt::publisher::RetainedStatus;
use aisle_gateway::mqtt::{EmbeddedBroker, Outgoing, Spool};
use support::broker::{
    Mosquitto, Subscriber, WAIT, first_appearances, free_port, publisher_config,
};
use support::publisher::Running;

const EVENTS: &str = "aisle/test/events";

fn event(id: usize) -> Outgoing {
    Outgoing::at_least_once(EVENTS, id.to_string())
}

/// Polls `condition` every few milliseconds until it holds or `WAIT` passes.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

async fn delivers_in_order(port: u16, spool: &std::path::Path) {
    const COUNT: usize = 300;
    let mut subscriber = Subscriber::connect(port, "test-sub", "aisle/test/#").await;
    let running = Running::start(publisher_config(port, spool, "gateway-a"));
    let started = tokio::time::Instant::now();
    for id in 0..COUNT {
        running.send(event(id)).await;
    }
    let arrived = subscriber.until_all(COUNT).await;
    assert_eq!(first_appearances(&arrived), (0..COUNT).collect::<Vec<_>>());
    assert!(
        arrived
            .iter()
            .all(|message| message.topic == EVENTS && !message.retain)
    );
    // Arrival times are what a latency measurement builds on.
    let last = arrived.last().unwrap().at;
    println!("{COUNT} events delivered in {:?}", last - started);
    let stats = running.stats();
    eventually("every message acknowledged", || {
        stats.acked.load(Ordering::Relaxed) == COUNT as u64
    })
    .await;
    running.stop().await;
    assert!(Spool::open(spool, 1 << 20).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_delivers_in_order() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let spool = tempfile::tempdir().unwrap();
    delivers_in_order(broker.addr().port(), spool.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_delivers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start(free_port(), dir.path());
    let spool = tempfile::tempdir().unwrap();
    delivers_in_order(mosquitto.port, spool.path()).await;
}

/// Mosquitto is killed with `SIGKILL` while QoS 1 events are in flight and
/// restarted on the same port while events keep coming; the subscriber still
/// gets every event, in order of first appearance.
///
/// The broker is frozen (`SIGSTOP`) before the kill, once the subscriber has
/// everything so far: events a broker acknowledged but had not forwarded when
/// it died are lost inside that broker, which no publisher can prevent. Frozen,
/// it acknowledges nothing more, so every event sent from then on is in flight
/// at the kill and must be re-sent from the spool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_mid_stream_loses_nothing() {
    const COUNT: usize = 600;
    const FROZEN_AT: usize = 200;
    const RESTARTED_AT: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mosquitto = Mosquitto::start(port, dir.path());
    let mut subscriber = Subscriber::connect(port, "test-sub-kill", "aisle/test/#").await;
    let spool = tempfile::tempdir().unwrap();
    let config = publisher_config(port, spool.path(), "gateway-kill");
    let config_inflight = config.inflight;
    let inflight = u64::from(config_inflight);
    let running = Running::start(config);
    let stats = running.stats();

    // Tens of events per second in a store; faster here to keep the test short.
    let pace = Duration::from_millis(1);
    for id in 0..FROZEN_AT {
        running.send(event(id)).await;
        tokio::time::sleep(pace).await;
    }
    subscriber.until_all(FROZEN_AT).await;
    mosquitto.freeze();
    // A window's worth and a few more: the publisher keeps the rest spooled.
    let frozen_until = FROZEN_AT + usize::from(config_inflight) + 8;
    for id in FROZEN_AT..frozen_until {
        running.send(event(id)).await;
        tokio::time::sleep(pace).await;
    }
    // The frozen broker acknowledges nothing, so the window fills up; with
    // nothing re-sent before the kill, every write past the first
    // `FROZEN_AT` carried an event the frozen broker never saw.
    eventually("a full window in flight", || {
        let published = stats.published.load(Ordering::Relaxed);
        published - stats.acked.load(Ordering::Relaxed) >= inflight
    })
    .await;
    let acked_at_kill = stats.acked.load(Ordering::Relaxed);
    let unseen_in_flight = stats.published.load(Ordering::Relaxed) - FROZEN_AT as u64;
    assert!(unseen_in_flight > 0);
    mosquitto.kill();
    for id in frozen_until..RESTARTED_AT {
        running.send(event(id)).await;
        tokio::time::sleep(pace).await;
    }
    let _mosquitto = Mosquitto::start(port, dir.path());
    for id in RESTARTED_AT..COUNT {
        running.send(event(id)).await;
        tokio::time::sleep(pace).await;
    }

    let arrived = subscriber.until_all(COUNT).await;
    assert_eq!(first_appearances(&arrived), (0..COUNT).collect::<Vec<_>>());
    eventually("every message acknowledged", || {
        stats.acked.load(Ordering::Relaxed) >= COUNT as u64
    })
    .await;
    assert!(
        acked_at_kill <= FROZEN_AT as u64,
        "the frozen broker acknowledged nothing"
    );
    // What was in flight at the kill was published again.
    assert!(stats.published.load(Ordering::Relaxed) >= COUNT as u64 + unseen_in_flight);
    assert!(stats.reconnects.load(Ordering::Relaxed) >= 1);
    running.stop().await;
}

/// Messages accepted while no broker is reachable stay in the spool across a
/// publisher restart and are delivered by the next publisher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_survives_publisher_restart() {
    const COUNT: usize = 50;
    let port = free_port();
    let spool = tempfile::tempdir().unwrap();

    let first = Running::start(publisher_config(port, spool.path(), "gateway-restart"));
    for id in 0..COUNT {
        first.send(event(id)).await;
        first
            .send(Outgoing::at_most_once("aisle/test/positions", "dropped"))
            .await;
    }
    let stats = first.stats();
    eventually("everything spooled", || {
        stats.spooled.load(Ordering::Relaxed) == COUNT as u64
            && stats.dropped_qos0.load(Ordering::Relaxed) == COUNT as u64
    })
    .await;
    assert_eq!(stats.published.load(Ordering::Relaxed), 0);
    first.stop().await;
    assert_eq!(Spool::open(spool.path(), 1 << 20).unwrap().len(), COUNT);

    let dir = tempfile::tempdir().unwrap();
    let _mosquitto = Mosquitto::start(port, dir.path());
    let mut subscriber = Subscriber::connect(port, "test-sub-restart", "aisle/test/#").await;
    let second = Running::start(publisher_config(port, spool.path(), "gateway-restart"));
    let arrived = subscriber.until_all(COUNT).await;
    assert_eq!(first_appearances(&arrived), (0..COUNT).collect::<Vec<_>>());
    let stats = second.stats();
    eventually("every message acknowledged", || {
        stats.acked.load(Ordering::Relaxed) == COUNT as u64
    })
    .await;
    second.stop().await;
    assert!(Spool::open(spool.path(), 1 << 20).unwrap().is_empty());
}

async fn status(port: u16, client_id: &str) -> (String, bool) {
    let mut subscriber = Subscriber::connect(port, client_id, "aisle/test/status").await;
    let message = subscriber.next().await;
    (String::from_utf8(message.payload).unwrap(), message.retain)
}

/// The birth message is retained; the last will marks the gateway offline
/// when its connection dies, and an orderly stop publishes the same status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn birth_and_last_will_are_retained() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _mosquitto = Mosquitto::start(port, dir.path());
    let spool = tempfile::tempdir().unwrap();
    let mut config = publisher_config(port, spool.path(), "gateway-will");
    config.broker.birth = Some(RetainedStatus::new("aisle/test/status", "online"));
    config.broker.last_will = Some(RetainedStatus::new("aisle/test/status", "offline"));

    // A publisher in a runtime of its own, so that it can die without a DISCONNECT.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let doomed = {
        let _context = runtime.enter();
        Running::start(config.clone())
    };
    let stats = doomed.stats();
    eventually("the first publisher connected", || {
        stats.connected.load(Ordering::Relaxed)
    })
    .await;
    // The watcher may subscribe before or after the birth reaches the
    // broker, so it gets it either retained or live.
    let mut watcher = Subscriber::connect(port, "test-status-watch", "aisle/test/status").await;
    assert_eq!(watcher.next().await.payload, b"online");
    assert_eq!(
        status(port, "test-status-0").await,
        ("online".to_owned(), true)
    );

    // Dropping the runtime closes the socket without a DISCONNECT.
    runtime.shutdown_background();
    drop(doomed);
    let will = watcher.next().await;
    assert_eq!(will.payload, b"offline");
    assert_eq!(
        status(port, "test-status-1").await,
        ("offline".to_owned(), true)
    );

    let running = Running::start(config);
    let online = watcher.next().await;
    assert_eq!(online.payload, b"online");
    assert_eq!(
        status(port, "test-status-2").await,
        ("online".to_owned(), true)
    );
    running.stop().await;
    let offline = watcher.next().await;
    assert_eq!(offline.payload, b"offline");
    assert_eq!(
        status(port, "test-status-3").await,
        ("offline".to_owned(), true)
    );
}

/// A full spool refuses QoS 1 messages and counts them; it never drops one
/// it accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_spool_refuses_and_counts() {
    const COUNT: usize = 20;
    let spool = tempfile::tempdir().unwrap();
    // Nothing listens on this port, so nothing is ever acknowledged.
    let mut config = publisher_config(free_port(), spool.path(), "gateway-full");
    config.spool_max_bytes = 300;
    let running = Running::start(config);
    for id in 0..COUNT {
        running.send(event(id)).await;
    }
    let stats = running.stats();
    eventually("every message spooled or refused", || {
        stats.spooled.load(Ordering::Relaxed) + stats.refused_full.load(Ordering::Relaxed)
            == COUNT as u64
    })
    .await;
    let spooled = stats.spooled.load(Ordering::Relaxed);
    assert!(spooled > 0 && spooled < COUNT as u64);
    running.stop().await;
    let kept = Spool::open(spool.path(), 300).unwrap();
    let ids: Vec<_> = kept
        .iter_from(aisle_gateway::mqtt::SeqNo(0))
        .map(|entry| String::from_utf8(entry.unwrap().1.payload).unwrap())
        .collect();
    let expected: Vec<_> = (0..spooled).map(|id| id.to_string()).collect();
    assert_eq!(ids, expected);
}
