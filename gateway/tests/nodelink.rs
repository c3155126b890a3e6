//! The node link against a scripted node on the other end of a real
//! pseudo-terminal: frames sealed with the protocol's `Sealer`, read by the
//! gateway's source through the serial port code it runs in a store.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisle_gateway::nodelink::command::{self, NodeCommandError};
use aisle_gateway::nodelink::port::PortError;
use aisle_gateway::nodelink::{
    LinkCounts, NodeEntry, NodeLinkSource, NodeSettings, Registry, RegistryError, RoleName,
};
use aisle_gateway::pipeline::{SourceSighting, Subject};
use aisle_protocol::beacon::{FrameKind, Identity};
use aisle_protocol::link::{
    BatchWriter, Configure, Direction, FACTORY_KEY, Feed, FirmwareVersion, Hello, LinkDeframer,
    MAX_BODY_LEN, MAX_WIRE_LEN, Message, NodeKey, Provision, ReplayGuard, Role, Rssi, Sealer,
    Sighting, Status, UnverifiedFrame, address_identity,
};
use aisle_protocol::ll::{AddressType, Channel, DeviceAddress};
use serialport::{SerialPort as _, TTYPort};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const KEY: NodeKey = [0x5a; 16];
const NODE: u32 = 7;
const ANCHOR: &str = "shelf-a";
const FIRMWARE: FirmwareVersion = FirmwareVersion {
    major: 0,
    minor: 1,
    patch: 0,
};

/// A node as the firmware behaves on the link, scripted by the test: it
/// holds the master side of a pty, the gateway the slave.
struct ScriptedNode {
    master: TTYPort,
    /// The slave as `TTYPort::pair` opened it; kept so the pty stays up
    /// until the gateway opens the slave itself.
    _slave: TTYPort,
    slave_path: PathBuf,
    key: NodeKey,
    id: u32,
    uplink: Sealer,
    downlink_guard: ReplayGuard,
    deframer: LinkDeframer,
}

/// A message from the gateway, as the node opened it.
#[derive(Debug, Clone, Copy)]
enum Downlink {
    Configure(Configure),
    Provision(Provision),
}

impl ScriptedNode {
    fn new(key: NodeKey, id: u32) -> Self {
        let (master, slave) = TTYPort::pair().expect("a pty pair");
        let slave_path = PathBuf::from(slave.name().expect("the slave's path"));
        ScriptedNode {
            master,
            _slave: slave,
            slave_path,
            key,
            id,
            uplink: Sealer::new(key, id, Direction::NodeToGateway),
            downlink_guard: ReplayGuard::new(),
            deframer: LinkDeframer::new(),
        }
    }

    /// Seals `message` and returns the wire bytes, without sending them.
    fn seal(&mut self, message: &Message<'_>) -> Vec<u8> {
        let mut buf = [0u8; MAX_WIRE_LEN];
        let n = self.uplink.seal(message, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    fn write(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    fn send(&mut self, message: &Message<'_>) -> Vec<u8> {
        let bytes = self.seal(message);
        self.write(&bytes);
        bytes
    }

    fn hello(&mut self, role: Role) -> Vec<u8> {
        self.send(&Message::Hello(Hello {
            node_id: self.id,
            firmware: FIRMWARE,
            role,
        }))
    }

    /// The next frame from the gateway that opens under the node's key,
    /// within `timeout`.
    fn downlink(&mut self, timeout: Duration) -> Option<Downlink> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1024];
        while Instant::now() < deadline {
            let n = match self.master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) => panic!("node read: {e}"),
            };
            let mut input = &buf[..n];
            loop {
                match self.deframer.feed(input) {
                    Feed::Pending => break,
                    Feed::Dropped { rest, .. } => input = rest,
                    Feed::Frame { frame, rest } => {
                        input = rest;
                        let opened = UnverifiedFrame::parse(frame).and_then(|f| {
                            f.open(
                                &self.key,
                                Direction::GatewayToNode,
                                &mut self.downlink_guard,
                            )
                        });
                        match opened {
                            Ok((_, Message::Configure(c))) => return Some(Downlink::Configure(c)),
                            Ok((_, Message::Provision(p))) => return Some(Downlink::Provision(p)),
                            Ok(_) | Err(_) => {}
                        }
                    }
                }
            }
        }
        None
    }

    /// Takes a `Provision` as the firmware does: new id and key, uplink
    /// counter from 1, then `Hello`.
    fn apply(&mut self, p: Provision) {
        self.key = p.key;
        self.id = p.node_id;
        self.uplink = Sealer::new(p.key, p.node_id, Direction::NodeToGateway);
        self.downlink_guard = ReplayGuard::new();
        self.hello(Role::Scanner);
    }
}

fn phone_address(last: u8) -> DeviceAddress {
    DeviceAddress {
        kind: AddressType::Random,
        bytes: [last, 0x11, 0x22, 0x33, 0x44, 0xc5],
    }
}

const CART: [u8; 20] = [
    0x42, 0x6c, 0x75, 0x65, 0x43, 0x68, 0x61, 0x72, 0x6d, 0x42, 0x65, 0x61, 0x63, 0x6f, 0x6e, 0x73,
    0x0e, 0xfe, 0x13, 0x55,
];

/// A batch body: a phone by address at -61 dBm mean and a cart iBeacon.
fn batch(node: &mut ScriptedNode, window_start_ms: u64) -> Vec<u8> {
    let mut buf = [0u8; MAX_BODY_LEN];
    let mut w = BatchWriter::new(&mut buf, window_start_ms);
    let address = address_identity(phone_address(1));
    w.push(&Sighting {
        kind: FrameKind::Apple,
        channel: Channel::new(37).unwrap(),
        rssi: Rssi {
            min: -70,
            max: -55,
            mean: -61,
        },
        count: 9,
        identity: &address,
    })
    .unwrap();
    w.push(&Sighting {
        kind: FrameKind::IBeacon,
        channel: Channel::new(38).unwrap(),
        rssi: Rssi {
            min: -80,
            max: -72,
            mean: -75,
        },
        count: 4,
        identity: &CART,
    })
    .unwrap();
    let batch = w.finish(1000);
    node.seal(&Message::SightingBatch(batch))
}

fn registry_with_node(dir: &Path, key: NodeKey) -> Registry {
    let mut registry = Registry::open(dir).unwrap();
    registry
        .update(|nodes| {
            nodes.nodes.push(NodeEntry::new(
                NODE,
                ANCHOR.into(),
                key,
                NodeSettings::default(),
            ));
            Ok(())
        })
        .unwrap();
    registry
}

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
    gateway.stop().await;

    // The acknowledgement and the last uplink counter are in the registry.
    let registry = Registry::open(dir.path()).unwrap();
    let entry = registry.nodes().get(NODE).unwrap();
    assert_eq!(entry.acknowledged, Some(NodeSettings::default()));
    assert_eq!(entry.uplink_last, 3);
    assert_eq!(
        entry.last.as_ref().unwrap().firmware.as_deref(),
        Some("0.1.0")
    );
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
    let forged = batch(&mut forger, 3_000);
    node.write(&forged);
    // A node the registry does not know, and a factory-fresh one.
    let mut stranger = ScriptedNode::new(KEY, 99);
    let strange = batch(&mut stranger, 3_000);
    node.write(&strange);
    let mut fresh = ScriptedNode::new(FACTORY_KEY, 0);
    let hello = fresh.seal(&Message::Hello(Hello {
        node_id: 0,
        firmware: FIRMWARE,
        role: Role::Scanner,
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

#[test]
fn downlink_counters_are_never_reused_across_gateway_restarts() {
    let dir = tempfile::tempdir().unwrap();
    registry_with_node(dir.path(), KEY);
    let mut node = ScriptedNode::new(KEY, NODE);
    let port = node.slave_path.clone();
    let mut seen = Vec::new();
    // Each run is a new gateway process reading the registry afresh; none
    // writes anything at exit, as after a crash.
    for _ in 0..3 {
        let mut registry = Registry::open(dir.path()).unwrap();
        let firmware = std::thread::spawn(move || {
            let mut node = node;
            let got = node.downlink(Duration::from_secs(10));
            node.hello(Role::Scanner);
            let counter = node.downlink_guard.last();
            (node, got, counter)
        });
        command::configure(&mut registry, NODE, &port, Duration::from_secs(10)).unwrap();
        let (n, got, counter) = firmware.join().unwrap();
        assert!(
            got.is_some(),
            "the node opened the Configure: its counter was new"
        );
        seen.push(counter);
        node = n;
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[test]
fn a_damaged_registry_is_a_clear_error_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    registry_with_node(dir.path(), KEY);
    let path = dir.path().join("nodes.toml");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("uplink_last = 0\nuplink"), "one entry");

    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let e = Registry::open(dir.path()).unwrap_err().to_string();
    assert!(e.starts_with(&path.display().to_string()), "{e}");
    assert!(e.contains("line "), "{e}");

    let bad_key = text.replace(&hex::encode(KEY), "5a5a");
    std::fs::write(&path, bad_key).unwrap();
    let e = Registry::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("node[0].key: must be 32 hex digits"), "{e}");

    let twice = format!("{text}\n{}", &text[text.find("[[node]]").unwrap()..]);
    std::fs::write(&path, twice).unwrap();
    let e = Registry::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("node[1].id: 7 listed twice"), "{e}");
}
