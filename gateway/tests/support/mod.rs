//! What the node link tests share: a scripted node and its fixtures.
#![allow(dead_code)] // each test file uses a part

pub mod scripted_node;
pub mod subscriber;

use std::path::Path;
use std::process::Command;

use aisle_gateway::nodelink::{NodeEntry, NodeSettings, Registry};
use aisle_protocol::beacon::FrameKind;
use aisle_protocol::link::{
    BatchWriter, MAX_BODY_LEN, Message, NodeKey, Rssi, Sighting, address_identity,
};
use aisle_protocol::ll::{AddressType, Channel, DeviceAddress};

use scripted_node::ScriptedNode;

pub const KEY: NodeKey = [0x5a; 16];
pub const NODE: u32 = 7;
pub const ANCHOR: &str = "shelf-a";

pub fn phone_address(last: u8) -> DeviceAddress {
    DeviceAddress {
        kind: AddressType::Random,
        bytes: [last, 0x11, 0x22, 0x33, 0x44, 0xc5],
    }
}

pub const CART: [u8; 20] = [
    0x42, 0x6c, 0x75, 0x65, 0x43, 0x68, 0x61, 0x72, 0x6d, 0x42, 0x65, 0x61, 0x63, 0x6f, 0x6e, 0x73,
    0x0e, 0xfe, 0x13, 0x55,
];

/// A batch body: a phone by address at -61 dBm mean and a cart iBeacon.
pub fn batch(node: &mut ScriptedNode, window_start_ms: u64) -> Vec<u8> {
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

/// A registry in `dir` holding node `NODE` with `key` at `ANCHOR`.
pub fn registry_with_node(dir: &Path, key: NodeKey) -> Registry {
    registry_with_node_at(dir, key, ANCHOR)
}

/// A registry in `dir` holding node `NODE` with `key` at `anchor`.
pub fn registry_with_node_at(dir: &Path, key: NodeKey, anchor: &str) -> Registry {
    let mut registry = Registry::open(dir).unwrap();
    registry
        .update(|nodes| {
            nodes.nodes.push(NodeEntry::new(
                NODE,
                anchor.into(),
                key,
                NodeSettings::default(),
            ));
            Ok(())
        })
        .unwrap();
    registry
}

/// Runs the `aisle` binary: whether it succeeded, its stdout, its stderr.
pub fn aisle(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(args)
        .output()
        .expect("aisle runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The demo store's configuration as `aisle run` would load it: `sources`,
/// default identification and engine, a spool in `spool`, publishing as
/// `client_id` to the broker on 127.0.0.1:`port`.
pub fn demo_store(
    sources: Vec<aisle_gateway::config::SourceSection>,
    spool: &Path,
    client_id: &str,
    port: u16,
) -> aisle_gateway::config::Loaded {
    let mut loaded = aisle_gateway::sim::store::demo_configuration(
        sources,
        spool,
        aisle_gateway::config::BrokerAddress::Remote {
            host: "127.0.0.1".into(),
            port,
        },
    );
    client_id.clone_into(&mut loaded.config.mqtt.client_id);
    loaded
}

/// The demo store served by one scripted node on a pty, registered with
/// `KEY` at the layout's first anchor: its configuration (publishing as
/// `client_id` to 127.0.0.1:`port`, state and spool under `dir`) and the
/// node.
pub fn demo_store_with_node(
    dir: &Path,
    client_id: &str,
    port: u16,
) -> (aisle_gateway::config::Loaded, ScriptedNode) {
    let layout = aisle_gateway::sim::store::demo_layout();
    let state_dir = dir.join("state");
    registry_with_node_at(&state_dir, KEY, &layout.anchors[0].id);
    let node = ScriptedNode::new(KEY, NODE);
    let loaded = demo_store(
        vec![aisle_gateway::config::SourceSection::NodeLink {
            devices: vec![node.slave_path.clone()],
            state_dir,
            offline_after_s: aisle_gateway::nodelink::link::ONLINE_WITHIN_S,
        }],
        &dir.join("spool"),
        client_id,
        port,
    );
    (loaded, node)
}
