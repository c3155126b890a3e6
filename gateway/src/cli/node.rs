//! `aisle node`: the shelf nodes in the registry.
//!
//! ```text
//! aisle node provision --port /dev/ttyACM0 --anchor shelf-3   # a fresh node: id and key
//! aisle node configure --node 3 --role beacon --tx-power -8    # desired settings
//! aisle node configure --node 3 --port /dev/ttyACM0            # ... sent now, acknowledged
//! aisle node list
//! ```
//!
//! Without `--port`, `configure` only changes the registry; a running
//! gateway notices within a second and configures the node if it is online.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::nodelink::command::{self, NodeCommandError};
use crate::nodelink::{NodeEntry, NodeSettings, Registry, RoleName};
use crate::source::wall_clock;

/// Arguments of `aisle node`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The state directory holding the node registry (the node link
    /// source's `state_dir`).
    #[arg(long, value_name = "DIR", default_value = "aisle-state", global = true)]
    pub state_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: NodeCommand,
}

/// `aisle node` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NodeCommand {
    /// List the nodes: anchor, role, desired settings and, if heard, their
    /// last state. Keys are never shown.
    List,
    /// Give the node on a port an id and a fresh key, wait for its Hello
    /// under them, and store it. The key is printed once, here.
    Provision {
        /// The node's serial port; the gateway must not be using it.
        #[arg(long, value_name = "DEV")]
        port: PathBuf,
        /// The layout anchor the node is.
        #[arg(long, value_name = "ANCHOR")]
        anchor: Option<String>,
        /// Re-key this provisioned node instead of a fresh one.
        #[arg(long, value_name = "ID")]
        node: Option<u32>,
        /// Seconds to wait for the node's Hello.
        #[arg(long, default_value_t = 5)]
        timeout_s: u64,
    },
    /// Change a node's desired settings; with --port, send them now and
    /// wait for the node's acknowledgement.
    Configure {
        /// The node.
        #[arg(long, value_name = "ID")]
        node: u32,
        /// Its role.
        #[arg(long)]
        role: Option<RoleName>,
        /// Transmit power, dBm (-127 to 20).
        #[arg(long, allow_hyphen_values = true)]
        tx_power: Option<i8>,
        /// Advertising interval, ms (20 to 10240).
        #[arg(long)]
        interval_ms: Option<u16>,
        /// Scan window per channel, ms (0 to 10240).
        #[arg(long)]
        scan_window_ms: Option<u16>,
        /// What a beacon advertises: `ibeacon:<40 hex>` or
        /// `eddystone_uid:<32 hex>`; `none` for nothing.
        #[arg(long)]
        identity: Option<String>,
        /// Send the settings over this port now (the gateway must not be
        /// using it).
        #[arg(long, value_name = "DEV")]
        port: Option<PathBuf>,
        /// Seconds to wait for the node's Hello.
        #[arg(long, default_value_t = 5)]
        timeout_s: u64,
    },
}

/// `aisle node`.
#[must_use]
pub fn main(args: &NodeArgs) -> ExitCode {
    let (name, result) = match &args.command {
        NodeCommand::List => ("list", list(&args.state_dir)),
        NodeCommand::Provision {
            port,
            anchor,
            node,
            timeout_s,
        } => (
            "provision",
            provision(
                &args.state_dir,
                port,
                anchor.as_deref(),
                *node,
                Duration::from_secs(*timeout_s),
            ),
        ),
        NodeCommand::Configure {
            node,
            role,
            tx_power,
            interval_ms,
            scan_window_ms,
            identity,
            port,
            timeout_s,
        } => (
            "configure",
            Registry::open(&args.state_dir)
                .map_err(NodeCommandError::from)
                .and_then(|mut registry| {
                    let change = SettingsChange {
                        role: *role,
                        tx_power: *tx_power,
                        interval_ms: *interval_ms,
                        scan_window_ms: *scan_window_ms,
                        identity: identity.clone(),
                    };
                    configure(
                        &mut registry,
                        *node,
                        &change,
                        port.as_deref(),
                        Duration::from_secs(*timeout_s),
                    )
                }),
        ),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aisle node {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The nodes as `aisle node list` prints them.
pub fn list(state_dir: &Path) -> Result<String, NodeCommandError> {
    if !state_dir.exists() {
        return Ok(format!(
            "no nodes: {} does not exist (add one with `aisle node provision`)\n",
            state_dir.display()
        ));
    }
    let registry = Registry::open(state_dir)?;
    let nodes = &registry.nodes().nodes;
    if nodes.is_empty() {
        return Ok(format!(
            "no nodes in {} (add one with `aisle node provision`)\n",
            registry.path().display()
        ));
    }
    let mut out = format!(
        "{:>4}  {:<16} {:<8} {:>5} {:>9} {:>9}  {:<8} {:<10} {:<8} {:>8} {:>8} {:>9}\n",
        "id",
        "anchor",
        "role",
        "tx",
        "interval",
        "window",
        "applied",
        "last seen",
        "firmware",
        "battery",
        "temp",
        "crc fails"
    );
    let now = wall_clock();
    for n in nodes {
        let _ = writeln!(out, "{}", row(n, now));
    }
    Ok(out)
}

fn row(n: &NodeEntry, now: f64) -> String {
    let d = &n.desired;
    let applied = if n.acknowledged.as_ref() == Some(d) {
        "yes"
    } else {
        "pending"
    };
    let last = n.last.as_ref();
    let seen = last.map_or_else(|| "never".to_owned(), |l| ago(now - l.seen));
    let firmware = last
        .and_then(|l| l.firmware.clone())
        .unwrap_or_else(|| "-".into());
    let battery = last
        .and_then(|l| l.battery_mv)
        .map_or_else(|| "-".into(), |mv| format!("{mv} mV"));
    let temp = last
        .and_then(|l| l.temperature_c)
        .map_or_else(|| "-".into(), |c| format!("{c:.1} C"));
    // Packets heard with a bad CRC since the node started; "-" from
    // firmware that does not report them.
    let crc = last
        .and_then(|l| l.crc_failures)
        .map_or_else(|| "-".into(), |n| n.to_string());
    let mut line = format!(
        "{:>4}  {:<16} {:<8} {:>5} {:>9} {:>9}  {:<8} {:<10} {:<8} {:>8} {:>8} {:>9}",
        n.id,
        n.anchor,
        role_name(d.role),
        format!("{}dBm", d.tx_power_dbm),
        format!("{}ms", d.adv_interval_ms),
        format!("{}ms", d.scan_window_ms),
        applied,
        seen,
        firmware,
        battery,
        temp,
        crc
    );
    if let Some(identity) = &d.identity {
        let _ = write!(line, "  advertises {identity}");
    }
    line
}

fn role_name(role: RoleName) -> &'static str {
    match role {
        RoleName::Beacon => "beacon",
        RoleName::Scanner => "scanner",
    }
}

fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 120.0 {
        format!("{s:.0} s ago")
    } else if s < 7200.0 {
        format!("{:.0} min ago", s / 60.0)
    } else {
        format!("{:.0} h ago", s / 3600.0)
    }
}

/// `aisle node provision`: the text printed on success, with the key.
pub fn provision(
    state_dir: &Path,
    port: &Path,
    anchor: Option<&str>,
    rekey: Option<u32>,
    timeout: Duration,
) -> Result<String, NodeCommandError> {
    let mut registry = Registry::open(state_dir)?;
    let p = command::provision(
        &mut registry,
        port,
        anchor,
        rekey,
        &NodeSettings::default(),
        timeout,
    )?;
    let anchor = registry
        .nodes()
        .get(p.node_id)
        .map(|n| n.anchor.clone())
        .unwrap_or_default();
    let f = p.hello.firmware;
    Ok(format!(
        "node {} provisioned on {} as anchor {anchor:?} (firmware {}.{}.{})\n\
         key {} (shown this once; the registry {} keeps it)\n",
        p.node_id,
        port.display(),
        f.major,
        f.minor,
        f.patch,
        hex::encode(p.key),
        registry.path().display()
    ))
}

/// Settings given on the command line; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// `--role`.
    pub role: Option<RoleName>,
    /// `--tx-power`.
    pub tx_power: Option<i8>,
    /// `--interval-ms`.
    pub interval_ms: Option<u16>,
    /// `--scan-window-ms`.
    pub scan_window_ms: Option<u16>,
    /// `--identity`, `none` to clear.
    pub identity: Option<String>,
}

/// `aisle node configure`: changes the desired settings and, with a port,
/// sends them. Returns the text printed on success.
pub fn configure(
    registry: &mut Registry,
    node: u32,
    change: &SettingsChange,
    port: Option<&Path>,
    timeout: Duration,
) -> Result<String, NodeCommandError> {
    let settings = registry.update(|nodes| {
        let entry = nodes.get_mut(node)?;
        let d = &mut entry.desired;
        if let Some(role) = change.role {
            d.role = role;
        }
        if let Some(tx) = change.tx_power {
            d.tx_power_dbm = tx;
        }
        if let Some(ms) = change.interval_ms {
            d.adv_interval_ms = ms;
        }
        if let Some(ms) = change.scan_window_ms {
            d.scan_window_ms = ms;
        }
        match change.identity.as_deref() {
            Some("none") => d.identity = None,
            Some(identity) => d.identity = Some(identity.to_owned()),
            None => {}
        }
        Ok(d.clone())
    })?;
    let Some(port) = port else {
        return Ok(format!(
            "node {node} will run {}; a running gateway sends it when the node is online\n",
            describe(&settings)
        ));
    };
    command::configure(registry, node, port, timeout)?;
    Ok(format!(
        "node {node} on {} acknowledged {}\n",
        port.display(),
        describe(&settings)
    ))
}

fn describe(s: &NodeSettings) -> String {
    format!(
        "{} at {} dBm, interval {} ms, scan window {} ms",
        role_name(s.role),
        s.tx_power_dbm,
        s.adv_interval_ms,
        s.scan_window_ms
    )
}
