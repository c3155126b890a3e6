//! The node link against a scripted node on the other end of a real
//! pseudo-terminal: frames sealed with the protocol's `Sealer`, read by the
//! gateway's source through the serial port code it runs in a store.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use aisle_gateway::nodelink::command::{self, NodeCommandError};
use aisle_gateway::nodelink::port::PortError;
use aisle_gateway::nodelink::{
    LinkCounts, NodeLinkSource, NodeSettings, Registry, RegistryError, RoleName,
};
use aisle_gateway::pipeline::{SourceSighting, Subject};
use aisle_protocol::beacon::{FrameKind, Identity};
use aisle_protocol::link::{
    Direction, FACTORY_KEY, Hello, MAX_WIRE_LEN, Message, Role, Sealer, Status,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use support::scripted_node::{Downlink, FIRMWARE, ScriptedNode};
use support::{ANCHOR, CART, KEY, NODE, batch, phone_address, registry_with_node};

struct RunningSource {
    source: NodeLinkSource,
    sightings: mpsc::Receiver<SourceSighting>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(state_dir: &Path, device: &Path) -> RunningSource {
    let source = NodeLinkSource::open(state_dir).unwrap();
    let (tx, sightings) = mpsc::channel(256);
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (source, device, stop) = (source.clone(), device.to_owned(), stop.clone());
        async move { source.run(device, tx, stop).await }
    });
    RunningSource {
        source,
        sightings,
        stop,
        task,
    }
}

impl RunningSource {
    async fn next(&mut self) -> SourceSighting {
        tokio::time::timeout(Duration::from_secs(10), self.sightings.recv())
            .await
            .expect("a sighting within 10 s")
            .expect("the source is running")
    }

    /// Waits until the counters satisfy `done`, then returns them.
    async fn counts_until(&self, done: impl Fn(&LinkCounts) -> bool) -> LinkCounts {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let counts = self.source.stats().snapshot();
            if done(&counts) || Instant::now() > deadline {
                return counts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

/// The node's blocking reads run beside the gateway's tasks.
async fn downlink(node: ScriptedNode) -> (ScriptedNode, Option<Downlink>) {
    tokio::task::spawn_blocking(move || {
        let mut node = node;
        let d = node.downlink(Duration::from_secs(10));
        (node, d)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_become_sightings_from_the_nodes_anchor_and_hello_gets_its_configure() {
    let dir = tempfile::tempdir().unwrap();
    registry_with_node(dir.path(), KEY);
    let mut node = ScriptedNode::new(KEY, NODE);
    let mut gateway = start(dir.path(), &node.slave_path);

    node.hello(Role::Beacon);
    // The desired settings were never acknowledged, and the node says it
    // is a beacon: it gets the registry's scanner settings.
    let (mut node, configure) = downlink(node).await;
    let Some(Downlink::Configure(c)) = configure else {
        panic!("a Configure after Hello, got {configure:?}");
    };
    assert_eq!(c, NodeSettings::default().to_configure().unwrap());
    node.hello(Role::Scanner);

    let before = aisle_gateway::source::wall_clock();
    let frame = batch(&mut node, 60_000);
    node.write(&frame);
    let phone = gateway.next().await;
    let cart = gateway.next().await;
    let after = aisle_gateway::source::wall_clock();
    assert_eq!(&*phone.anchor, ANCHOR);
    assert_eq!(&*cart.anchor, ANCHOR);
    assert!(
        (phone.rssi - -61.0).abs() < f64::EPSILON,
        "the entry's mean"
    );
    assert!((cart.rssi - -75.0).abs() < f64::EPSILON);
    assert_eq!(
        phone.subject,
        Subject::Heard {
            kind: FrameKind::Apple,
            identity: None,
            address: Some(phone_address(1).bytes),
        }
    );
    assert_eq!(
        cart.subject,
        Subject::Heard {
            kind: FrameKind::IBeacon,
            identity: Some(Identity::new(FrameKind::IBeacon, &CART).unwrap()),
            address: None,
        }
    );
    // The window's middle, mapped to the gateway clock: half its second
    // before the batch arrived.
    assert!(
        phone.ts <= after - 0.5 + 1e-6 && phone.ts >= before - 0.5 - 1.0,
        "{phone:?}"
    );

    let counts = gateway.counts_until(|c| c.accepted >= 3).await;
    assert_eq!(
        (counts.accepted, counts.sightings, counts.rejected()),
        (3, 2, 0)
    );
    assert_eq!(counts.configures_sent, 1);

    // `aisle node configure` without a port: the running gateway notices the
    // registry changed and configures the node, which is online.
    let mut registry = Registry::open(dir.path()).unwrap();
    let change = aisle_gateway::cli::node::SettingsChange {
        tx_power: Some(-4),
        ..Default::default()
    };
    aisle_gateway::cli::node::configure(&mut registry, NODE, &change, None, Duration::ZERO)
        .unwrap();
    let (mut node, configure) = downlink(node).await;
    let Some(Downlink::Configure(c)) = configure else {
        panic!("a Configure after the registry changed, got {configure:?}");
    };
    assert_eq!(c.tx_power_dbm, -4);
    node.hello(Role::Scanner);
    gateway.counts_until(|c| c.accepted >= 4).await;
    gateway.stop().await;

    // The acknowledgement and the last uplink counter are in the registry.
    let registry = Registry::open(dir.path()).unwrap();
    let entry = registry.nodes().get(NODE).unwrap();
    assert_eq!(entry.acknowledged.as_ref(), Some(&entry.desired));
    assert_eq!(entry.desired.tx_power_dbm, -4);
    assert_eq!(entry.uplink_last, 4);
    assert_eq!(
        entry.last.as_ref().unwrap().firmware.as_deref(),
        Some("0.1.0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_a_node_is_taken_again_only_once_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = registry_with_node(dir.path(), KEY);
    let mut node = ScriptedNode::new(KEY, NODE);
    // The gateway before took frames 1 to 3 and acknowledged the node's
    // settings, but died before it wrote past counter 1: the registry still
    // says it is serving.
    let sent: Vec<Vec<u8>> = (1..=3u64).map(|i| batch(&mut node, i * 1_000)).collect();
    registry
        .update(|nodes| {
            nodes.gateway_running = true;
            let entry = nodes.get_mut(NODE)?;
            entry.uplink_last = 1;
            entry.acknowledged = Some(entry.desired.clone());
            Ok(())
        })
        .unwrap();
    let mut gateway = start(dir.path(), &node.slave_path);

    // Frame 2 played back, and the node's own next frame: neither can be
    // told from the other, so both wait.
    node.write(&sent[1]);
    let fresh = batch(&mut node, 4_000);
    node.write(&fresh);
    let counts = gateway.counts_until(|c| c.awaiting_hello >= 2).await;
    assert_eq!(
        (counts.awaiting_hello, counts.accepted, counts.sightings),
        (2, 0, 0),
        "{counts:?}"
    );
    // Hearing it, the gateway asks the node to answer, though its settings
    // are acknowledged; the answer names that Configure's counter.
    let (mut node, configure) = downlink(node).await;
    assert!(
        matches!(configure, Some(Downlink::Configure(_))),
        "{configure:?}"
    );
    node.hello(Role::Scanner);
    let frame = batch(&mut node, 6_000);
    node.write(&frame);
    assert_eq!(&*gateway.next().await.anchor, ANCHOR);
    // Frame 3 played back now is older than the answer: refused.
    node.write(&sent[2]);
    let counts = gateway.counts_until(|c| c.replayed >= 1).await;
    assert_eq!(
        (counts.replayed, counts.awaiting_hello, counts.accepted),
        (1, 2, 2),
        "{counts:?}"
    );
    // Held-back frames are not the node's fault.
    let live = gateway.source.lock().live(NODE).cloned().unwrap();
    assert_eq!(live.rejected_by_gateway, 1, "only the replay");
    gateway.stop().await;

    // A clean stop says so: the next start takes the node's frames at once.
    let registry = Registry::open(dir.path()).unwrap();
    assert!(!registry.nodes().gateway_running);
    assert_eq!(registry.nodes().get(NODE).unwrap().uplink_last, 6);
    let mut gateway = start(dir.path(), &node.slave_path);
    let frame = batch(&mut node, 7_000);
    node.write(&frame);
    assert_eq!(&*gateway.next().await.anchor, ANCHOR);
    let counts = gateway.counts_until(|c| c.accepted >= 1).await;
    assert_eq!((counts.awaiting_hello, counts.configures_sent), (0, 0));
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_old_firmware_is_taken_again_at_its_hello() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = registry_with_node(dir.path(), KEY);
    registry
        .update(|nodes| {
            nodes.gateway_running = true;
            Ok(())
        })
        .unwrap();
    let mut node = ScriptedNode::new(KEY, NODE);
    let mut gateway = start(dir.path(), &node.slave_path);
    let early = batch(&mut node, 1_000);
    node.write(&early);
    gateway.counts_until(|c| c.awaiting_hello >= 1).await;
    // A Hello without the downlink counter, as firmware before it sends.
    node.send(&Message::Hello(Hello {
        node_id: NODE,
        firmware: FIRMWARE,
        role: Role::Scanner,
        downlink_last: None,
    }));
    let frame = batch(&mut node, 2_000);
    node.write(&frame);
    assert_eq!(&*gateway.next().await.anchor, ANCHOR);
    let counts = gateway.counts_until(|c| c.accepted >= 2).await;
    assert_eq!(
        (counts.awaiting_hello, counts.accepted),
        (1, 2),
        "{counts:?}"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_truncation_replay_forgery_and_strangers_are_counted_and_never_accepted() {
    let dir = tempfile::tempdir().unwrap();
    registry_with_node(dir.path(), KEY);
    let mut node = ScriptedNode::new(KEY, NODE);
    let mut gateway = start(dir.path(), &node.slave_path);

    let first = batch(&mut node, 1_000);
    node.write(&first);
    gateway.next().await;
    gateway.next().await;

    // Line noise with no delimiter runs into the next frame's leading 0x00.
    node.write(&[0x13, 0x37, 0xff, 0x42]);
    // A frame cut short: its end never comes, the next frame's 0x00 ends it.
    let cut = batch(&mut node, 2_000);
    node.write(&cut[..cut.len() / 2]);
    // The first batch again, byte for byte.
    node.write(&first);
    // Sealed with another key.
    let mut forger = ScriptedNode::new([0x66; 16], NODE);
    let forgery = batch(&mut forger, 3_000);
    node.write(&forgery);
    // A node the registry does not know, and a factory-fresh one.
    let mut stranger = ScriptedNode::new(KEY, 99);
    let strange = batch(&mut stranger, 3_000);
    node.write(&strange);
    let mut fresh = ScriptedNode::new(FACTORY_KEY, 0);
    let hello = fresh.seal(&Message::Hello(Hello {
        node_id: 0,
        firmware: FIRMWARE,
        role: Role::Scanner,
        downlink_last: Some(0),
    }));
    node.write(&hello);
    // A frame with the node's key travelling the other way.
    let mut reflector = Sealer::new(KEY, NODE, Direction::GatewayToNode);
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = reflector
        .seal(
            &Message::Configure(NodeSettings::default().to_configure().unwrap()),
            &mut buf,
        )
        .unwrap();
    node.write(&buf[..n]);
    // And a good frame after all of it.
    let good = batch(&mut node, 4_000);
    node.write(&good);

    let s = gateway.next().await;
    assert_eq!(&*s.anchor, ANCHOR);
    gateway.next().await;
    let counts = gateway.counts_until(|c| c.rejected() >= 7).await;
    assert_eq!(counts.accepted, 2, "{counts:?}");
    assert_eq!(counts.sightings, 4, "{counts:?}");
    // The noise ends at the cut frame's leading delimiter, the cut frame at
    // the replayed frame's: two pieces that are not frames.
    assert_eq!(counts.noise + counts.corrupt, 2, "{counts:?}");
    assert_eq!(counts.replayed, 1, "{counts:?}");
    assert_eq!(counts.forged, 1, "{counts:?}");
    assert_eq!(counts.unknown_node, 1, "{counts:?}");
    assert_eq!(counts.unprovisioned, 1, "{counts:?}");
    assert_eq!(counts.wrong_direction, 1, "{counts:?}");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_disappears_and_comes_back_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    registry_with_node(dir.path(), KEY);
    let link = dir.path().join("ttyNODE");
    let mut node = ScriptedNode::new(KEY, NODE);
    std::os::unix::fs::symlink(&node.slave_path, &link).unwrap();
    let mut gateway = start(dir.path(), &link);
    let frame = batch(&mut node, 1_000);
    node.write(&frame);
    gateway.next().await;
    gateway.next().await;

    // Unplugged: the device goes away, and so does its path.
    let uplink = node.uplink.clone();
    drop(node);
    std::fs::remove_file(&link).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Plugged in again, as a new tty under the same path; the node's
    // counter carries on from flash.
    let mut node = ScriptedNode::new(KEY, NODE);
    node.uplink = uplink;
    std::os::unix::fs::symlink(&node.slave_path, &link).unwrap();
    let counts = gateway.counts_until(|c| c.reconnects >= 1).await;
    assert_eq!(counts.reconnects, 1, "{counts:?}");
    let frame = batch(&mut node, 2_000);
    node.write(&frame);
    let s = gateway.next().await;
    assert_eq!(&*s.anchor, ANCHOR);
    gateway.next().await;
    assert_eq!(gateway.source.stats().snapshot().accepted, 2);
    gateway.stop().await;
}

#[test]
fn provisioning_gives_a_fresh_node_an_id_and_key_and_rekeying_restarts_its_counter() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::open(dir.path()).unwrap();
    let node = ScriptedNode::new(FACTORY_KEY, 0);
    let port = node.slave_path.clone();
    let firmware = std::thread::spawn(move || {
        let mut node = node;
        let Some(Downlink::Provision(p)) = node.downlink(Duration::from_secs(10)) else {
            panic!("no Provision under the factory key");
        };
        node.apply(p);
        node
    });
    let p = command::provision(
        &mut registry,
        &port,
        Some(ANCHOR),
        None,
        &NodeSettings::default(),
        Duration::from_secs(10),
    )
    .unwrap();
    let mut node = firmware.join().unwrap();
    assert_eq!((p.node_id, node.id), (1, 1));
    assert_eq!(node.key, p.key);
    assert_ne!(p.key, FACTORY_KEY);
    let entry = Registry::open(dir.path())
        .unwrap()
        .nodes()
        .get(1)
        .unwrap()
        .clone();
    assert_eq!(entry.key(), node.key);
    assert_eq!((entry.anchor.as_str(), entry.uplink_last), (ANCHOR, 1));

    // Sightings under the new key count from 2; re-keying opens under the
    // current key and the counter starts again at 1.
    node.send(&Message::Status(Status {
        uptime_s: 5,
        battery_mv: 3000,
        temperature_centi_c: 2150,
        adverts_seen: 0,
        queue_drops: 0,
        frames_rejected: 0,
        crc_failures: Some(0),
    }));
    let firmware = std::thread::spawn(move || {
        let mut node = node;
        let Some(Downlink::Provision(p)) = node.downlink(Duration::from_secs(10)) else {
            panic!("no Provision under the node's key");
        };
        node.apply(p);
        node
    });
    let again = command::provision(
        &mut registry,
        &port,
        None,
        Some(1),
        &NodeSettings::default(),
        Duration::from_secs(10),
    )
    .unwrap();
    let node = firmware.join().unwrap();
    assert_eq!((again.node_id, node.id), (1, 1));
    assert_ne!(again.key, p.key);
    let entry = registry.nodes().get(1).unwrap();
    assert_eq!(entry.key(), node.key);
    assert_eq!(
        entry.uplink_last, 1,
        "the counter restarted under the new key"
    );
    assert_eq!(node.uplink.next_counter(), 2);
}

#[test]
fn configure_on_a_port_is_opened_by_the_node_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = registry_with_node(dir.path(), KEY);
    registry
        .update(|nodes| {
            let d = &mut nodes.get_mut(NODE)?.desired;
            d.role = RoleName::Beacon;
            d.tx_power_dbm = -8;
            d.adv_interval_ms = 250;
            d.identity = Some(format!("ibeacon:{}", hex::encode(CART)));
            Ok(())
        })
        .unwrap();
    let node = ScriptedNode::new(KEY, NODE);
    let port = node.slave_path.clone();
    let firmware = std::thread::spawn(move || {
        let mut node = node;
        let got = node.downlink(Duration::from_secs(10));
        node.hello(Role::Beacon);
        (node, got)
    });
    command::configure(&mut registry, NODE, &port, Duration::from_secs(10)).unwrap();
    let (node, got) = firmware.join().unwrap();
    let Some(Downlink::Configure(c)) = got else {
        panic!("no Configure: {got:?}");
    };
    assert_eq!(
        (c.role, c.tx_power_dbm, c.adv_interval_ms),
        (Role::Beacon, -8, 250)
    );
    assert!(matches!(
        c.identity,
        aisle_protocol::link::BeaconIdentity::IBeacon {
            major: 0x0efe,
            minor: 0x1355,
            ..
        }
    ));
    let entry = registry.nodes().get(NODE).unwrap();
    assert_eq!(entry.acknowledged.as_ref(), Some(&entry.desired));

    // A silent node: the error names the port and the node.
    let e = command::configure(&mut registry, NODE, &port, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(e, NodeCommandError::Timeout { .. }), "{e}");
    assert!(e.to_string().contains(&port.display().to_string()), "{e}");
    assert!(e.to_string().contains("node 7"), "{e}");
    drop(node);

    let e = command::configure(&mut registry, 42, &port, Duration::from_secs(1)).unwrap_err();
    assert!(
        matches!(
            e,
            NodeCommandError::Registry(RegistryError::UnknownNode(42))
        ),
        "{e}"
    );
    let e = command::configure(
        &mut registry,
        NODE,
        Path::new("/dev/no-such-tty"),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(
        matches!(e, NodeCommandError::Port(PortError::Missing { .. })),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_the_gateway_holds_is_busy_for_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = registry_with_node(dir.path(), KEY);
    let mut node = ScriptedNode::new(KEY, NODE);
    let mut gateway = start(dir.path(), &node.slave_path);
    let frame = batch(&mut node, 1_000);
    node.write(&frame);
    gateway.next().await;
    let port = node.slave_path.clone();
    let e = tokio::task::spawn_blocking(move || {
        command::configure(&mut registry, NODE, &port, Duration::from_secs(1)).unwrap_err()
    })
    .await
    .unwrap();
    assert!(
        matches!(e, NodeCommandError::Port(PortError::Busy { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("busy"), "{e}");
    gateway.stop().await;
}
