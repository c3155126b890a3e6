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

/// Starts the emulator on `flash` and provisions it by `aisle node
/// provision` as the `meat-counter` anchor, into the registry in `state`;
/// returns it and what the command printed.
fn start_provisioned(flash: &Path, state: &Path) -> (Emulator, String) {
    let node = Emulator::start(flash);
    let (ok, out, err) = aisle_node(
        state,
        &[
            "provision",
            "--port",
            &node.port,
            "--anchor",
            "meat-counter",
        ],
    );
    assert!(ok, "provision: {out}{err}");
    (node, out)
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

    let (node, out) = start_provisioned(&flash, &state);
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

/// `aisle run` on the demo store, served by the node on `port` with the
/// registry in `state`, logging to `log`.
fn run_gateway(dir: &Path, state: &Path, port: &str, log: &Path) -> Child {
    let layout = dir.join("layout.toml");
    std::fs::write(&layout, aisle_gateway::sim::store::demo_layout().to_toml()).unwrap();
    let config = dir.join("gateway.toml");
    // Temporary paths hold no quote or backslash to escape.
    std::fs::write(
        &config,
        format!(
            "[store]\nlayout = \"{}\"\n[mqtt]\nbroker = \"embedded\"\nspool_dir = \"{}\"\n\
             [[source]]\nkind = \"node_link\"\ndevices = [\"{port}\"]\nstate_dir = \"{}\"\n",
            layout.display(),
            dir.join("spool").display(),
            state.display(),
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("the gateway starts")
}

/// Waits up to 30 s for `log` to hold `text`.
fn wait_for_log(log: &Path, text: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let seen = std::fs::read_to_string(log).unwrap_or_default();
        if seen.contains(text) || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn after_the_gateway_is_killed_it_takes_the_node_again_once_the_node_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (flash, state) = (dir.path().join("node.flash"), dir.path().join("state"));
    let (node, _) = start_provisioned(&flash, &state);

    let first_log = dir.path().join("first.log");
    let mut gateway = run_gateway(dir.path(), &state, &node.port, &first_log);
    let seen = wait_for_log(&first_log, "node acknowledged its configuration");
    assert!(seen.contains("node acknowledged"), "{seen}");
    // Killed: no last write of the counters.
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    let registry = aisle_gateway::nodelink::Registry::open(&state).unwrap();
    assert!(registry.nodes().gateway_running);

    let second_log = dir.path().join("second.log");
    let mut gateway = run_gateway(dir.path(), &state, &node.port, &second_log);
    let seen = wait_for_log(&second_log, "node answered; its frames are taken again");
    assert!(seen.contains("did not stop cleanly"), "{seen}");
    assert!(seen.contains("node answered"), "{seen}");
    // Stopped as a service manager stops it: the registry says so.
    let term = Command::new("kill")
        .args(["-TERM", &gateway.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(gateway.wait().unwrap().success());
    let registry = aisle_gateway::nodelink::Registry::open(&state).unwrap();
    assert!(!registry.nodes().gateway_running);
    assert!(registry.nodes().get(1).unwrap().uplink_last > 0);
}
