//! The live service publishes each zone's occupancy: the demo store's
//! simulator through `service::start` to a real (embedded) broker, read back
//! by a plain MQTT subscriber.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use aisle_gateway::config::SourceSection;
use aisle_gateway::mqtt::EmbeddedBroker;
use aisle_gateway::service::{self, OCCUPANCY_EVERY};
use aisle_gateway::sim::store::demo_layout;
use aisle_protocol::event::ZoneOccupancy;
use aisle_protocol::topic::{Topic, filter};
use rumqttc::QoS;
use support::subscriber::{Received, subscribe};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The most the test waits for an anonymous count. The simulated store starts
/// busy and a visit is confirmed within seconds, so the first non-zero count
/// comes one or two publications in; the rest is slack for a loaded machine
/// running a debug build.
const WAIT: Duration = Duration::from_secs(60);

/// Reads an occupancy publication, checking it names only a layout zone and
/// carries counts, nothing else.
fn read(message: &Received, store: &str, zones: &HashSet<String>) -> ZoneOccupancy {
    let Ok(Topic::ZoneOccupancy { store: s, zone }) = Topic::parse(&message.topic) else {
        panic!("not an occupancy topic: {}", message.topic);
    };
    assert_eq!(s.as_str(), store);
    assert!(
        zones.contains(zone.as_str()),
        "zone {zone} not in the layout"
    );
    let occupancy: ZoneOccupancy = serde_json::from_slice(&message.payload)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&message.payload)));
    assert_eq!(occupancy.zone, zone.as_str());
    // No device identifier of any kind: exactly the payload's own fields.
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&message.payload).unwrap();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    // In the map's (sorted) order.
    assert_eq!(keys, ["anonymous", "id", "known", "ts", "v", "zone"]);
    occupancy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_publishes_zone_occupancy_retained() {
    let broker = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = broker.addr().port();
    let spool = tempfile::tempdir().unwrap();
    let layout = demo_layout();
    let store = layout.store.id.clone();
    let zones: HashSet<String> = layout.zones.iter().map(|z| z.id.clone()).collect();
    let mut loaded = support::demo_store(
        vec![SourceSection::Simulator {
            shoppers: 40,
            seed: 7,
            opted_in_share: 0.5,
            firmware_nodes: false,
        }],
        spool.path(),
        "occupancy-test-gateway",
        port,
    );
    loaded.shoppers = service::simulated_enrolment(&loaded);

    let mut messages = subscribe(
        port,
        "occupancy-test-live",
        "aisle/v1/+/zones/+/occupancy",
        QoS::AtMostOnce,
    )
    .await;

    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    service::start(&loaded, None, &tracker, &shutdown).unwrap();

    let started = tokio::time::Instant::now();
    let mut seen_zones = HashSet::new();
    let mut publications = 0usize;
    let crowded = tokio::time::timeout(WAIT, async {
        loop {
            let message = messages.recv().await.expect("subscriber running");
            let occupancy = read(&message, &store, &zones);
            publications += 1;
            seen_zones.insert(occupancy.zone.clone());
            if occupancy.anonymous > 0 {
                return occupancy;
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no anonymous count within {WAIT:?}: {publications} publications, zones {seen_zones:?}"
        )
    });
    println!(
        "first anonymous count after {:?}: {} in {} (known {})",
        started.elapsed(),
        crowded.anonymous,
        crowded.zone,
        crowded.known
    );

    // Every zone is published each round, empty ones included; one more
    // round (a few intervals of slack) fills in any zone not seen yet.
    let every_zone = tokio::time::timeout(OCCUPANCY_EVERY * 4, async {
        while seen_zones.len() < zones.len() {
            let message = messages.recv().await.expect("subscriber running");
            seen_zones.insert(read(&message, &store, &zones).zone);
        }
    })
    .await;
    assert!(every_zone.is_ok(), "zones published: {seen_zones:?}");

    // Retained: a dashboard connecting now gets each zone's latest figure at once.
    let mut late = subscribe(
        port,
        "occupancy-test-late",
        &filter::all_occupancy(&store).unwrap(),
        QoS::AtMostOnce,
    )
    .await;
    // A live publication may race the retained ones in; the retained arrive
    // on subscribing, well before a few intervals pass.
    let retained = tokio::time::timeout(OCCUPANCY_EVERY * 2, async {
        loop {
            let message = late.recv().await.expect("subscriber running");
            if message.retain {
                return message;
            }
        }
    })
    .await
    .expect("a retained figure on subscribing");
    read(&retained, &store, &zones);

    shutdown.cancel();
    tracker.close();
    tokio::time::timeout(Duration::from_secs(20), tracker.wait())
        .await
        .expect("the service stops");
    drop(broker);
}
