//! The simulated store with its anchors run as shelf nodes (what `aisle
//! demo` runs): every anchor is the node firmware's scanner role on the
//! simulated air, reporting over the node link, and the gateway decides
//! zone events from what the nodes report.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use aisle_gateway::config::SourceSection;
use aisle_gateway::publish::Payload;
use aisle_gateway::service::{self, Published, Shown};
use aisle_gateway::sim::store::demo_layout;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_stores_anchors_run_the_node_firmware_and_their_reports_become_zone_events() {
    let broker = aisle_gateway::mqtt::EmbeddedBroker::start("127.0.0.1:0".parse().unwrap())
        .expect("embedded broker starts");
    let spool = tempfile::tempdir().unwrap();
    let layout = demo_layout();
    let anchors = layout.anchors.len();
    let mut loaded = support::demo_store(
        vec![SourceSection::Simulator {
            shoppers: 20,
            seed: 3,
            opted_in_share: 1.0,
            firmware_nodes: true,
        }],
        spool.path(),
        "demo-nodes-test",
        broker.addr().port(),
    );
    loaded.shoppers = service::simulated_enrolment(&loaded);
    let (view_tx, mut view) = mpsc::unbounded_channel();
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let running = service::start(&loaded, Some(view_tx), &tracker, &shutdown).unwrap();
    let link = running
        .node_link
        .expect("the simulated nodes are a node link");

    // Zone entries for several shoppers, decided from the nodes' batches.
    let mut entered = HashSet::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while entered.len() < 3 {
            let published = view.recv().await.expect("gateway running");
            if let Shown::Decision(Published {
                payload: Payload::Zone(event),
                ..
            }) = published
            {
                entered.insert(event.device);
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("zone events for 3 shoppers within 60 s, got {entered:?}"));

    let counts = link.stats().snapshot();
    let (online, acknowledged) = {
        let links = link.lock();
        let now = aisle_gateway::source::wall_clock();
        let acknowledged = links
            .registry()
            .nodes()
            .nodes
            .iter()
            .filter(|n| n.acknowledged.as_ref() == Some(&n.desired))
            .count();
        (links.online(now), acknowledged)
    };
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;

    assert_eq!(online, anchors, "every node is online: {counts:?}");
    assert_eq!(acknowledged, anchors, "every node took its Configure");
    assert!(counts.sightings > 0 && counts.accepted > 0, "{counts:?}");
    assert_eq!(
        counts.rejected(),
        0,
        "nothing on a clean link is refused: {counts:?}"
    );
}
