//! The live service with a `node_link` source: a scripted node on a real
//! pseudo-terminal, the service configured as `aisle run` would be.

mod support;

use std::time::{Duration, Instant};

use aisle_gateway::mqtt::EmbeddedBroker;
use aisle_gateway::service;
use aisle_protocol::link::Role;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use support::batch;
use support::scripted_node::Downlink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_the_node_link_source_configures_nodes_and_counts_them_online() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = broker.addr().port();
    let dir = tempfile::tempdir().unwrap();
    let (loaded, node) = support::demo_store_with_node(dir.path(), "nodelink-service-test", port);
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let running = service::start(&loaded, None, &tracker, &shutdown).unwrap();
    let link = running.node_link.expect("the service runs the node link");

    let configured = tokio::task::spawn_blocking(move || {
        let mut node = node;
        node.hello(Role::Scanner);
        let got = node.downlink(Duration::from_secs(20));
        node.hello(Role::Scanner);
        let frame = batch(&mut node, 1_000);
        node.write(&frame);
        (node, got)
    });
    let (_node, got) = configured.await.unwrap();
    assert!(matches!(got, Some(Downlink::Configure(_))), "{got:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while link.stats().snapshot().sightings < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counts = link.stats().snapshot();
    assert_eq!((counts.accepted, counts.sightings), (3, 2), "{counts:?}");
    assert_eq!(link.lock().online(aisle_gateway::source::wall_clock()), 1);
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}
