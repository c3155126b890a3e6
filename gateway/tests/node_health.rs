//! Shelf nodes' health on MQTT: a retained status per node when it reports
//! and when it goes silent. The decisions on the gateway's own clock, then
//! the live service with a scripted node on a real pty, read back from a
//! real (embedded) broker by a plain subscriber.

mod support;

use std::time::Duration;

use aisle_gateway::config::SourceSection;
use aisle_gateway::mqtt::EmbeddedBroker;
use aisle_gateway::nodelink::health::node_name;
use aisle_gateway::nodelink::link::ONLINE_WITHIN_S;
use aisle_gateway::nodelink::{NodeHealth, NodeLinks, PortReceiver};
use aisle_gateway::service;
use aisle_protocol::event::{EventId, NodeStatus};
use aisle_protocol::link::{Direction, MAX_WIRE_LEN, Message, Role, Sealer, Status};
use aisle_protocol::topic::Topic;
use rumqttc::QoS;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use support::subscriber::subscribe;
use support::{KEY, NODE, registry_with_node};

const T0: f64 = 1_767_225_600.0;

fn report(uptime_s: u32) -> Status {
    Status {
        uptime_s,
        battery_mv: 2950,
        temperature_centi_c: 2345,
        adverts_seen: 1200 + uptime_s,
        queue_drops: 3,
        frames_rejected: 2,
        crc_failures: Some(17),
    }
}

fn sealed(sealer: &mut Sealer, message: &Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = sealer.seal(message, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
#[allow(clippy::float_cmp)] // times passed in exactly, compared exactly
fn a_status_is_due_per_report_and_once_offline_when_the_node_goes_silent() {
    let dir = tempfile::tempdir().unwrap();
    let mut links = NodeLinks::new(registry_with_node(dir.path(), KEY));
    let mut port = PortReceiver::new("/dev/ttyTEST");
    let mut node = Sealer::new(KEY, NODE, Direction::NodeToGateway);
    let mut forger = Sealer::new([0x11; 16], NODE, Direction::NodeToGateway);
    let mut health = NodeHealth::new();
    let mut n = 0u128;
    let mut due = |health: &mut NodeHealth, links: &NodeLinks, now: f64| {
        health.due(links, now, || {
            n += 1;
            EventId::from_u128(n)
        })
    };
    let mut sightings = Vec::new();
    let mut hear = |links: &mut NodeLinks, bytes: &[u8], now: f64| {
        port.receive(links, bytes, now, &mut sightings);
    };

    // Nothing heard, nothing due.
    assert!(due(&mut health, &links, T0).is_empty());
    hear(
        &mut links,
        &sealed(&mut node, &Message::Status(report(10))),
        T0,
    );
    let first = due(&mut health, &links, T0 + 0.2);
    assert_eq!(first.len(), 1, "{first:?}");
    let (id, status) = &first[0];
    assert_eq!(*id, NODE);
    assert_eq!(
        (
            status.node.as_str(),
            status.online,
            status.firmware.as_str()
        ),
        ("node-07", true, "unknown"),
        "no Hello yet: firmware unknown"
    );
    assert_eq!(status.last_seen, Some(T0));
    assert_eq!(
        (status.uptime_s, status.battery_mv, status.temperature_c),
        (Some(10), Some(2950), Some(23.45))
    );
    assert_eq!(
        (status.adverts_seen, status.queue_drops),
        (Some(1210), Some(3))
    );
    assert_eq!(
        (
            status.frames_rejected_by_node,
            status.frames_rejected_by_gateway
        ),
        (Some(2), Some(0))
    );
    assert_eq!(status.crc_failures, Some(17));
    // The same report is not published twice.
    assert!(due(&mut health, &links, T0 + 1.0).is_empty());

    // A forged frame naming the node is counted against it.
    hear(
        &mut links,
        &sealed(&mut forger, &Message::Status(report(99))),
        T0 + 5.0,
    );
    assert!(
        due(&mut health, &links, T0 + 5.1).is_empty(),
        "not a report"
    );
    hear(
        &mut links,
        &sealed(&mut node, &Message::Status(report(20))),
        T0 + 10.0,
    );
    let second = due(&mut health, &links, T0 + 10.1);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].1.uptime_s, Some(20));
    assert_eq!(second[0].1.frames_rejected_by_gateway, Some(1));

    // Silent: still online within the timeout, then offline once, keeping
    // its last figures and when it was last heard.
    assert!(due(&mut health, &links, T0 + 10.0 + ONLINE_WITHIN_S).is_empty());
    let silent = due(&mut health, &links, T0 + 10.5 + ONLINE_WITHIN_S);
    assert_eq!(silent.len(), 1);
    let offline = &silent[0].1;
    assert!(!offline.online);
    assert_eq!(offline.last_seen, Some(T0 + 10.0));
    assert_eq!(offline.uptime_s, Some(20));
    assert_eq!(offline.ts, T0 + 10.5 + ONLINE_WITHIN_S);
    assert!(due(&mut health, &links, T0 + 200.0).is_empty(), "once");

    // Back: online with its next report.
    hear(
        &mut links,
        &sealed(&mut node, &Message::Status(report(5))),
        T0 + 300.0,
    );
    let back = due(&mut health, &links, T0 + 300.1);
    assert_eq!(back.len(), 1);
    assert!(back[0].1.online);
    assert_eq!(back[0].1.uptime_s, Some(5));
    // Every payload is publishable on the node's own topic.
    for (_, s) in first.iter().chain(&second).chain(&silent).chain(&back) {
        serde_json::to_vec(s).unwrap();
        Topic::node_status("demo-store", &s.node).unwrap();
    }
    assert_eq!(node_name(123), "node-123");
}

#[test]
fn crc_failures_reach_the_node_list_and_the_status_when_the_firmware_sends_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut links = NodeLinks::new(registry_with_node(dir.path(), KEY));
    let mut port = PortReceiver::new("/dev/ttyTEST");
    let mut node = Sealer::new(KEY, NODE, Direction::NodeToGateway);
    let mut health = NodeHealth::new();
    let mut sightings = Vec::new();
    // `aisle node list`'s last column, after the link state is written.
    let crc_column = |links: &mut NodeLinks, now: f64| {
        links.persist(now, true).unwrap();
        let listed = aisle_gateway::cli::node::list(dir.path()).unwrap();
        assert!(
            listed.lines().next().unwrap().ends_with("crc fails"),
            "{listed}"
        );
        let row = listed.lines().nth(1).unwrap().to_owned();
        row.split_whitespace().last().unwrap().to_owned()
    };
    let frame = sealed(&mut node, &Message::Status(report(10)));
    port.receive(&mut links, &frame, T0, &mut sightings);
    assert_eq!(crc_column(&mut links, T0 + 1.0), "17");
    let due = health.due(&links, T0 + 1.0, || EventId::from_u128(1));
    assert_eq!(due[0].1.crc_failures, Some(17));

    // Firmware from before the field: "-" and no figure, rather than 0.
    let old_firmware = Status {
        crc_failures: None,
        ..report(20)
    };
    let frame = sealed(&mut node, &Message::Status(old_firmware));
    let mut longer = Sealer::new(KEY, NODE, Direction::NodeToGateway);
    assert_eq!(
        frame.len() + 4,
        sealed(&mut longer, &Message::Status(report(20))).len()
    );
    port.receive(&mut links, &frame, T0 + 10.0, &mut sightings);
    assert_eq!(crc_column(&mut links, T0 + 11.0), "-");
    let due = health.due(&links, T0 + 11.0, || EventId::from_u128(2));
    assert_eq!(due[0].1.uptime_s, Some(20));
    assert_eq!(due[0].1.crc_failures, None);
}

/// Subscribes to every node status of `store`: each status and its retain
/// flag, its topic checked against the node it names.
async fn statuses(
    port: u16,
    client_id: &str,
    store: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<(NodeStatus, bool)> {
    let filter = format!("aisle/v1/{store}/nodes/+/status");
    let mut received = subscribe(port, client_id, &filter, QoS::AtLeastOnce).await;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let store = store.to_owned();
    tokio::spawn(async move {
        while let Some(p) = received.recv().await {
            let status: NodeStatus = serde_json::from_slice(&p.payload).unwrap();
            assert_eq!(
                p.topic,
                format!("aisle/v1/{store}/nodes/{}/status", status.node)
            );
            if tx.send((status, p.retain)).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_publishes_each_nodes_status_retained() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = broker.addr().port();
    let dir = tempfile::tempdir().unwrap();
    let (mut loaded, node) = support::demo_store_with_node(dir.path(), "node-health-test", port);
    // Offline after 4 s of silence rather than a minute, to see it here.
    let SourceSection::NodeLink {
        offline_after_s, ..
    } = &mut loaded.config.sources[0]
    else {
        panic!("the node link source");
    };
    *offline_after_s = 4.0;
    let store = loaded.layout.store.id.clone();
    let mut live = statuses(port, "node-health-live", &store).await;
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    service::start(&loaded, None, &tracker, &shutdown).unwrap();

    let node = tokio::task::spawn_blocking(move || {
        let mut node = node;
        node.hello(Role::Scanner);
        // A frame forged under another key, naming this node.
        let mut forger = Sealer::new([0x11; 16], NODE, Direction::NodeToGateway);
        node.write(&sealed(&mut forger, &Message::Status(report(99))));
        node.send(&Message::Status(report(42)));
        node
    })
    .await
    .unwrap();
    let (status, _) = tokio::time::timeout(Duration::from_secs(20), live.recv())
        .await
        .expect("a node status within 20 s")
        .unwrap();
    assert_eq!(status.node, node_name(NODE));
    assert!(status.online);
    assert_eq!(status.firmware, "0.1.0");
    assert_eq!(status.uptime_s, Some(42));
    assert_eq!(status.battery_mv, Some(2950));
    assert_eq!(status.temperature_c, Some(23.45));
    assert_eq!(status.adverts_seen, Some(1242));
    assert_eq!(status.queue_drops, Some(3));
    assert_eq!(status.crc_failures, Some(17));
    assert_eq!(status.frames_rejected_by_node, Some(2));
    assert_eq!(status.frames_rejected_by_gateway, Some(1));
    assert!(
        status
            .last_seen
            .is_some_and(|t| (status.ts - t).abs() < 5.0)
    );

    // Retained: a dashboard connecting now gets it at once.
    let mut late = statuses(port, "node-health-late", &store).await;
    let (retained, flag) = tokio::time::timeout(Duration::from_secs(10), late.recv())
        .await
        .expect("the retained status on subscribing")
        .unwrap();
    assert!(flag, "retained");
    assert_eq!(retained, status);

    // The node falls silent: 4 s later it is published offline, retained,
    // with the last figures it sent.
    let (offline, _) = tokio::time::timeout(Duration::from_secs(15), live.recv())
        .await
        .expect("an offline status within 15 s")
        .unwrap();
    assert!(!offline.online, "{offline:?}");
    assert_eq!(offline.uptime_s, Some(42));
    assert_eq!(offline.last_seen, status.last_seen);
    let silent_for = offline.ts - status.last_seen.unwrap();
    assert!((4.0..8.0).contains(&silent_for), "{silent_for} s");
    let mut later = statuses(port, "node-health-later", &store).await;
    let (retained, flag) = tokio::time::timeout(Duration::from_secs(10), later.recv())
        .await
        .expect("the retained offline status")
        .unwrap();
    assert!(flag && !retained.online, "{retained:?}");
    drop(node);

    shutdown.cancel();
    tracker.close();
    tokio::time::timeout(Duration::from_secs(20), tracker.wait())
        .await
        .expect("the service stops");
    drop(broker);
}
