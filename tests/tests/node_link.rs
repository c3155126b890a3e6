//! From a shopper walking past shelf nodes to a subscriber's zone events,
//! with the nodes' own firmware in the loop: four scanner nodes run the
//! firmware core (as `aisle-node-emulator` does) on real pseudo-terminals,
//! hear the shopper's phone on the simulated air, are provisioned by
//! `aisle node provision`'s code over their lines, and report to the
//! gateway's node-link source; the gateway publishes on a real broker.
//! One line is tampered with mid-walk (noise, a truncated frame, a replayed
//! frame, a forged one): the zone events still arrive, and every bad frame
//! is counted and refused. Each node's health reaches the broker, retained.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aisle_gateway::config::{
    BrokerAddress, Config, Loaded, LogSection, MqttSection, SourceSection, StoreSection,
};
use aisle_gateway::identify::IdentifyConfig;
use aisle_gateway::layout::{Layout, Point};
use aisle_gateway::nodelink::command;
use aisle_gateway::nodelink::{NodeSettings, Registry};
use aisle_gateway::nodesim::emulator::{LinkPort, run_node};
use aisle_gateway::nodesim::medium::{Air, MediumRadio, random_address};
use aisle_gateway::sim::phones::Phones;
use aisle_protocol::eid::RotationExponent;
use aisle_protocol::event::{NodeStatus, ZoneEvent, ZoneEventKind};
use aisle_protocol::link::{
    BatchWriter, Direction, MAX_BATCH_ENTRIES_LEN, MAX_WIRE_LEN, Message, Rssi, Sealer, Sighting,
};
use aisle_protocol::ll::Channel;
use tokio_util::sync::CancellationToken;

use support::broker::{Subscriber, WAIT};
use support::gateway::Gateway;
use support::wire::{Tamper, Wire};

/// A 12 x 6 m shop: the meat counter's half and the tills' half, a node in
/// each corner, radio model as the nodes' simulated air gives it.
const LAYOUT: &str = r#"
[store]
id = "corner-shop"
name = "Corner shop"
timezone = "Europe/London"

[[anchor]]
id = "N1"
x = 0.5
y = 0.5
rssi_at_1m = -59.0
path_loss_exponent = 2.0

[[anchor]]
id = "N2"
x = 0.5
y = 5.5
rssi_at_1m = -59.0
path_loss_exponent = 2.0

[[anchor]]
id = "N3"
x = 11.5
y = 0.5
rssi_at_1m = -59.0
path_loss_exponent = 2.0

[[anchor]]
id = "N4"
x = 11.5
y = 5.5
rssi_at_1m = -59.0
path_loss_exponent = 2.0

[[zone]]
id = "meat"
polygon = [[0.0, 0.0], [6.0, 0.0], [6.0, 6.0], [0.0, 6.0]]

[[zone]]
id = "tills"
polygon = [[6.0, 0.0], [12.0, 0.0], [12.0, 6.0], [6.0, 6.0]]
"#;
const SHOPPER: &str = "shopper-0042";
const TAMPERED: usize = 0;
/// Phones advertise about ten times a second.
const ADVERT_EVERY: Duration = Duration::from_millis(100);

fn phones() -> Phones {
    Phones::new(7, 1.0, RotationExponent::new(10).unwrap())
}

/// Where the shopper is `t` seconds into the walk: 14 s at the meat
/// counter, 5 s across, 14 s at the tills, then gone.
fn position(t: f64) -> Option<Point> {
    let (meat, tills) = (Point::new(2.5, 3.0), Point::new(9.5, 3.0));
    match t {
        t if t < 14.0 => Some(meat),
        t if t < 19.0 => {
            let f = (t - 14.0) / 5.0;
            Some(Point::new(meat.x + (tills.x - meat.x) * f, 3.0))
        }
        t if t < 33.0 => Some(tills),
        _ => None,
    }
}

/// The nodes, each on its own line, all on one thread: the firmware's
/// futures are not `Send`.
fn start_nodes(
    radios: Vec<(String, MediumRadio)>,
    wires: &[Wire],
    dir: &Path,
    stop: &CancellationToken,
) -> std::thread::JoinHandle<()> {
    let jobs: Vec<(String, MediumRadio, PathBuf, PathBuf)> = radios
        .into_iter()
        .zip(wires)
        .map(|((anchor, radio), wire)| {
            let flash = dir.join(format!("{anchor}.flash"));
            (anchor, radio, wire.node_path.clone(), flash)
        })
        .collect();
    let stop = stop.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        for (anchor, radio, port, flash) in jobs {
            let stop = stop.clone();
            local.spawn_local(async move {
                run_node(&LinkPort::Device(port), &flash, &anchor, radio, stop)
                    .await
                    .expect("node runs");
            });
        }
        runtime.block_on(local);
    })
}

/// Provisions each node over its line as `aisle node provision` does.
async fn provision(state: &Path, wires: &[Wire], anchors: &[&str]) -> Vec<u32> {
    let paths: Vec<PathBuf> = wires.iter().map(|w| w.gateway_path.clone()).collect();
    let anchors: Vec<String> = anchors.iter().map(|a| (*a).to_owned()).collect();
    let state = state.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut registry = Registry::open(&state).unwrap();
        paths
            .iter()
            .zip(&anchors)
            .map(|(port, anchor)| {
                command::provision(
                    &mut registry,
                    port,
                    Some(anchor),
                    None,
                    &NodeSettings::default(),
                    Duration::from_secs(10),
                )
                .unwrap_or_else(|e| panic!("provisioning {anchor}: {e}"))
                .node_id
            })
            .collect()
    })
    .await
    .unwrap()
}

fn gateway_config(layout: &Layout, wires: &[Wire], state: &Path, port: u16) -> Loaded {
    let config = Config {
        store: StoreSection {
            layout: "corner-shop.toml".into(),
            shoppers: None,
        },
        mqtt: MqttSection {
            broker: format!("mqtt://127.0.0.1:{port}"),
            client_id: "e2e-nodes".into(),
            spool_dir: state.join("spool"),
            ..MqttSection::default()
        },
        sources: vec![SourceSection::NodeLink {
            devices: wires.iter().map(|w| w.gateway_path.clone()).collect(),
            state_dir: state.to_owned(),
            offline_after_s: aisle_gateway::nodelink::link::ONLINE_WITHIN_S,
        }],
        identify: IdentifyConfig::default(),
        engine: aisle_gateway::engine::EngineConfig::default(),
        log: LogSection::default(),
    };
    Loaded {
        config,
        layout: layout.clone(),
        shoppers: phones().enrolment([SHOPPER]),
        broker: BrokerAddress::Remote {
            host: "127.0.0.1".into(),
            port,
        },
        password: None,
        tls: None,
    }
}

/// A sighting batch in node `node`'s name under a key that is not its own:
/// the shopper, loud, at the wrong end of the shop.
fn forged_batch(node: u32) -> Vec<u8> {
    let eid = [0xEE; 8];
    let mut entries = [0u8; MAX_BATCH_ENTRIES_LEN];
    let mut batch = BatchWriter::new(&mut entries, 1);
    batch
        .push(&Sighting {
            kind: aisle_protocol::beacon::FrameKind::EddystoneEid,
            channel: Channel::ADV_37,
            rssi: Rssi {
                min: -30,
                max: -30,
                mean: -30,
            },
            count: 10,
            identity: &eid,
        })
        .unwrap();
    let batch = batch.finish(100);
    let mut sealer = Sealer::resume(
        *b"not the node key",
        node,
        Direction::NodeToGateway,
        1 << 30,
    );
    let mut wire = [0u8; MAX_WIRE_LEN];
    let n = sealer
        .seal(&Message::SightingBatch(batch), &mut wire)
        .unwrap();
    wire[..n].to_vec()
}

/// Walks the shopper through the shop on the wall clock, arming the
/// tampered line a few seconds in.
async fn walk(air: &Air, anchors: &[(&str, Point)], wire: &Wire, forged: Vec<u8>) {
    let phones = phones();
    let start = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(ADVERT_EVERY);
    let mut armed = false;
    loop {
        ticks.tick().await;
        let t = start.elapsed().as_secs_f64();
        if !armed && t > 5.0 {
            wire.arm(vec![
                Tamper::Noise(vec![0, 0x13, 0x37, 0xff, 0x55, 0]),
                Tamper::Truncated,
                Tamper::Replayed,
                Tamper::Raw(forged.clone()),
            ]);
            armed = true;
        }
        let Some(at) = position(t) else { break };
        let ts = aisle_gateway::source::wall_clock();
        let advert = phones.advert(SHOPPER, ts);
        let address = random_address(phones.address(SHOPPER, ts));
        for (i, (anchor, spot)) in anchors.iter().enumerate() {
            let d = at.distance(*spot).max(0.5);
            // A deterministic ripple of +-2 dB keeps the filters honest.
            #[allow(clippy::cast_precision_loss)]
            let ripple = 2.0 * ((t * 7.0 + i as f64).sin());
            let rssi = -59.0 - 20.0 * d.log10() + ripple;
            let _ = air.deliver(anchor, address, &advert, rssi);
        }
    }
}

/// The visits the events describe, in order of entry: (zone, exited).
fn visits(events: &[ZoneEvent]) -> Vec<(String, bool)> {
    let mut visits: Vec<(String, bool)> = Vec::new();
    for e in events {
        match e.kind {
            ZoneEventKind::Enter => visits.push((e.zone.clone(), false)),
            ZoneEventKind::Exit { .. } => {
                if let Some(v) = visits.iter_mut().rev().find(|v| v.0 == e.zone) {
                    v.1 = true;
                }
            }
            ZoneEventKind::Dwell { .. } => {}
        }
    }
    visits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shelf_nodes_running_the_firmware_report_a_walk_that_reaches_a_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::parse(LAYOUT, "corner-shop.toml").unwrap();
    let anchors: Vec<(&str, Point)> = layout
        .anchors
        .iter()
        .map(|a| (a.id.as_str(), a.position()))
        .collect();
    let wires: Vec<Wire> = anchors.iter().map(|_| Wire::new()).collect();
    let mut air = Air::new();
    let radios = anchors
        .iter()
        .map(|(id, _)| ((*id).to_owned(), air.radio(Arc::from(*id))))
        .collect();
    let stop = CancellationToken::new();
    let nodes = start_nodes(radios, &wires, dir.path(), &stop);
    let ids: Vec<&str> = anchors.iter().map(|a| a.0).collect();
    let node_ids = provision(dir.path(), &wires, &ids).await;

    let broker = aisle_gateway::mqtt::EmbeddedBroker::start("127.0.0.1:0".parse().unwrap())
        .expect("embedded broker starts");
    let port = broker.addr().port();
    let mut subscriber = Subscriber::connect(
        port,
        "e2e-nodes-sub",
        "aisle/v1/corner-shop/zones/+/events/+",
    )
    .await;
    let mut gateway = Gateway::run(&gateway_config(&layout, &wires, dir.path(), port));

    walk(
        &air,
        &anchors,
        &wires[TAMPERED],
        forged_batch(node_ids[TAMPERED]),
    )
    .await;
    gateway
        .until("both visits, closed", |events| {
            visits(events) == [("meat".into(), true), ("tills".into(), true)]
        })
        .await;
    let mut received = Vec::new();
    let want: std::collections::HashSet<_> = gateway.decided.iter().map(|e| e.id).collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    while received.len() < want.len() {
        let Ok(Some(message)) = tokio::time::timeout_at(deadline, subscriber.messages.recv()).await
        else {
            panic!("received {received:?} of {want:?}");
        };
        let event: ZoneEvent = serde_json::from_slice(&message.payload).unwrap();
        if want.contains(&event.id) && !received.contains(&event.id) {
            received.push(event.id);
        }
    }
    assert_eq!(received.len(), want.len(), "every decided event arrives");
    let health = node_statuses(port, node_ids.len()).await;
    let counts = gateway.node_link.as_ref().unwrap().stats().snapshot();
    let decided = gateway.stop().await;
    stop.cancel();
    nodes.join().unwrap();

    assert!(decided.iter().all(|e| e.device == SHOPPER), "{decided:#?}");
    assert_eq!(wires[TAMPERED].injected().len(), 4, "every tamper went in");
    assert_eq!(counts.forged, 1, "{counts:?}");
    assert_eq!(counts.replayed, 1, "{counts:?}");
    assert!(counts.noise + counts.corrupt >= 2, "{counts:?}");
    assert_eq!(counts.unknown_node + counts.malformed, 0, "{counts:?}");
    assert!(counts.sightings > 100, "{counts:?}");

    // Each node's health, retained, from the reports its firmware sent;
    // the frames refused on the tampered line are counted against its node.
    for (i, id) in node_ids.iter().enumerate() {
        let name = aisle_gateway::nodelink::health::node_name(*id);
        let status = health
            .iter()
            .find(|s| s.node == name)
            .unwrap_or_else(|| panic!("no status for {name}: {health:#?}"));
        assert!(status.online, "{status:?}");
        assert_ne!(status.firmware, "unknown", "{status:?}");
        assert!(status.uptime_s.is_some_and(|u| u >= 10), "{status:?}");
        assert!(status.adverts_seen.is_some_and(|n| n > 0), "{status:?}");
        assert!(
            status.crc_failures.is_some(),
            "the firmware counts them: {status:?}"
        );
        let refused = status.frames_rejected_by_gateway.unwrap();
        if i == TAMPERED {
            assert!(refused >= 2, "forged and replayed at least: {status:?}");
        } else {
            assert_eq!(refused, 0, "{status:?}");
        }
    }
}

/// The retained status of each of `nodes` nodes, as a dashboard connecting
/// now gets them.
async fn node_statuses(port: u16, nodes: usize) -> Vec<NodeStatus> {
    let mut subscriber = Subscriber::connect(
        port,
        "e2e-nodes-health",
        "aisle/v1/corner-shop/nodes/+/status",
    )
    .await;
    let mut statuses: Vec<NodeStatus> = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while statuses.len() < nodes {
        let Ok(Some(message)) = tokio::time::timeout_at(deadline, subscriber.messages.recv()).await
        else {
            panic!("{} of {nodes} node statuses: {statuses:#?}", statuses.len());
        };
        assert!(message.retain, "{}", message.topic);
        let status: NodeStatus = serde_json::from_slice(&message.payload).unwrap();
        assert!(
            message
                .topic
                .ends_with(&format!("/nodes/{}/status", status.node))
        );
        statuses.retain(|s| s.node != status.node);
        statuses.push(status);
    }
    statuses
}
