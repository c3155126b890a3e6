//! `aisle-node-emulator` and `aisle node` as a store owner runs them: an
//! emulated shelf node on a pseudo-terminal it makes, provisioned by
//! `aisle node provision`, keeps its id and key in its flash file across a
//! restart and takes `aisle node configure` under that key.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Emulator {
    child: Child,
    port: String,
}

impl Emulator {
    /// Starts the emulator as the demo store's `meat-counter` anchor, its
    /// settings in `flash`; returns once it has printed its device.
    fn start(flash: &Path) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aisle-node-emulator"))
            .args([
                "--pty",
                "--anchor",
                "meat-counter",
                "--shoppers",
                "5",
                "--flash",
            ])
            .arg(flash)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().to_owned();
        assert!(port.starts_with("/dev/pts/"), "printed {line:?}");
        Emulator { child, port }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `aisle node --state-dir STATE ARGS...`.
fn aisle_node(state: &Path, args: &[&str]) -> (bool, String, String) {
    let state = state.to_str().unwrap();
    support::aisle(&[&["node", "--state-dir", state], args].concat())
}

#[test]
fn an_emulated_node_is_provisioned_keeps_its_key_across_a_restart_and_takes_a_configure() {
    let dir = tempfile::tempdir().unwrap();
    let (flash, state) = (dir.path().join("node.flash"), dir.path().join("state"));

    let node = Emulator::start(&flash);
    let (ok, out, err) = aisle_node(
        &state,
        &[
            "provision",
            "--port",
            &node.port,
            "--anchor",
            "meat-counter",
        ],
    );
    assert!(ok, "provision: {out}{err}");
    assert!(out.contains("node 1 provisioned"), "{out}");
    drop(node);

    // A new process on the same flash file: a node after a power cycle.
    let node = Emulator::start(&flash);
    let (ok, out, err) = aisle_node(
        &state,
        &[
            "configure",
            "--node",
            "1",
            "--scan-window-ms",
            "250",
            "--port",
            &node.port,
        ],
    );
    assert!(ok, "configure after the restart: {out}{err}");
    let (ok, list, _) = aisle_node(&state, &["list"]);
    assert!(ok);
    assert!(
        list.contains("meat-counter") && list.contains("250"),
        "{list}"
    );

    // Provisioning it again as a fresh node fails: it no longer holds the
    // factory key, so it cannot be taken over.
    let (ok, out, err) = aisle_node(
        &state,
        &[
            "provision",
            "--port",
            &node.port,
            "--anchor",
            "bakery-wall",
            "--timeout-s",
            "2",
        ],
    );
    assert!(!ok, "a provisioned node refuses a factory Provision: {out}");
    assert!(err.contains(&node.port), "the error names the port: {err}");
}
