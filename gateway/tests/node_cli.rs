//! `aisle node` and the registry it keeps: the binary against a scripted
//! node on a real pseudo-terminal, counters across restarts, damaged files.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use aisle_gateway::nodelink::Registry;
use aisle_gateway::nodelink::command;
use aisle_protocol::link::{FACTORY_KEY, Role};

use support::scripted_node::{Downlink, ScriptedNode};
use support::{KEY, NODE, aisle, registry_with_node};

/// Held by the tests that open serial ports or start processes. `serialport`
/// takes an exclusive `flock` on each port it opens, and a child forked by
/// one test while another test's thread holds a port inherits that lock
/// until it execs: the other test's next open would then find its own port
/// busy. One at a time, they cannot meet.
static PORTS_AND_PROCESSES: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn downlink_counters_are_never_reused_across_gateway_restarts() {
    let _one_at_a_time = PORTS_AND_PROCESSES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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

#[test]
fn the_command_line_provisions_prints_the_key_once_and_lists_without_it() {
    let _one_at_a_time = PORTS_AND_PROCESSES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let node = ScriptedNode::new(FACTORY_KEY, 0);
    let port = node.slave_path.display().to_string();
    let firmware = std::thread::spawn(move || {
        let mut node = node;
        let Some(Downlink::Provision(p)) = node.downlink(Duration::from_secs(20)) else {
            panic!("no Provision");
        };
        node.apply(p);
        node
    });
    let (ok, out, err) = aisle(&[
        "node",
        "provision",
        "--state-dir",
        state,
        "--port",
        &port,
        "--anchor",
        "shelf-a",
    ]);
    let node = firmware.join().unwrap();
    assert!(ok, "{err}");
    let key = hex::encode(node.key);
    assert!(out.contains("node 1 provisioned"), "{out}");
    assert_eq!(out.matches(&key).count(), 1, "{out}");

    let (ok, out, err) = aisle(&["node", "list", "--state-dir", state]);
    assert!(ok, "{err}");
    assert!(out.contains("shelf-a") && out.contains("scanner"), "{out}");
    assert!(!out.contains(&key), "list never shows keys: {out}");

    let (ok, out, err) = aisle(&[
        "node",
        "configure",
        "--state-dir",
        state,
        "--node",
        "1",
        "--role",
        "beacon",
        "--tx-power",
        "-8",
        "--interval-ms",
        "250",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("beacon at -8 dBm, interval 250 ms"), "{out}");
    let desired = Registry::open(dir.path())
        .unwrap()
        .nodes()
        .get(1)
        .unwrap()
        .desired
        .clone();
    assert_eq!((desired.tx_power_dbm, desired.adv_interval_ms), (-8, 250));

    let (ok, _, err) = aisle(&["node", "configure", "--state-dir", state, "--node", "9"]);
    assert!(!ok);
    assert!(err.contains("node 9 is not in the registry"), "{err}");
    let (ok, _, err) = aisle(&[
        "node",
        "configure",
        "--state-dir",
        state,
        "--node",
        "1",
        "--tx-power",
        "40",
    ]);
    assert!(!ok);
    assert!(err.contains("node[0].desired: tx_power_dbm 40"), "{err}");
    let (ok, _, err) = aisle(&[
        "node",
        "provision",
        "--state-dir",
        state,
        "--port",
        "/dev/no-such-tty",
        "--anchor",
        "x",
    ]);
    assert!(!ok);
    assert!(
        err.contains("/dev/no-such-tty: no such serial port"),
        "{err}"
    );
    drop(node);
}
