//! What `aisle node provision` and `aisle node configure --port` do on a
//! port of their own: send one frame to a node and wait for its `Hello`.
//! Blocking; the running gateway must not hold the port.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use aisle_protocol::link::{
    Direction, FACTORY_KEY, Feed, Hello, LinkDeframer, MAX_WIRE_LEN, Message, NodeKey, Provision,
    ReplayGuard, Sealer, UNPROVISIONED_NODE_ID, UnverifiedFrame,
};
use serialport::TTYPort;

use super::port::{PortError, open};
use super::registry::{NodeEntry, NodeSettings, Registry, RegistryError, RoleName};

/// How long a read waits before the deadline is checked again.
const READ_SLICE: Duration = Duration::from_millis(50);

/// Why an `aisle node` command failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeCommandError {
    /// The registry.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The port.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The node did not answer.
    #[error(
        "{port}: no Hello from node {node} within {seconds} s (is the node on this port and powered?)"
    )]
    Timeout {
        /// The port.
        port: String,
        /// The node id waited for.
        node: u32,
        /// How long.
        seconds: u64,
    },
    /// Sending failed.
    #[error("{port}: {reason}")]
    Link {
        /// The port.
        port: String,
        /// What failed.
        reason: String,
    },
    /// The command cannot be carried out as asked.
    #[error("{0}")]
    Refused(String),
}

/// A node provisioned: its id and the key it now holds.
#[derive(Debug)]
pub struct Provisioned {
    /// The node's id.
    pub node_id: u32,
    /// Its new key, for the operator's records; `aisle node` prints it once.
    pub key: NodeKey,
    /// The `Hello` it sent under the new key.
    pub hello: Hello,
}

/// Gives the node on `port` a fresh id and key from the OS's random
/// generator, waits for its `Hello` under them and stores the node.
///
/// Without `rekey`, the node must be unprovisioned: the `Provision` is
/// sealed under the factory key to node 0, and the node gets the next free
/// id and `anchor`. With `rekey`, node `rekey` (known to the registry) gets
/// a new key under its current one and keeps its id (and its anchor, unless
/// `anchor` names another).
pub fn provision(
    registry: &mut Registry,
    port: &Path,
    anchor: Option<&str>,
    rekey: Option<u32>,
    desired: &NodeSettings,
    timeout: Duration,
) -> Result<Provisioned, NodeCommandError> {
    let (current_key, current_id, node_id, anchor) = if let Some(id) = rekey {
        let entry = registry
            .nodes()
            .get(id)
            .ok_or(RegistryError::UnknownNode(id))?;
        let anchor = anchor.map_or_else(|| entry.anchor.clone(), str::to_owned);
        (entry.key(), id, id, anchor)
    } else {
        let anchor =
            anchor.ok_or_else(|| NodeCommandError::Refused("a new node needs --anchor".into()))?;
        (
            FACTORY_KEY,
            UNPROVISIONED_NODE_ID,
            registry.nodes().next_id(),
            anchor.to_owned(),
        )
    };
    if let Some(other) = registry
        .nodes()
        .nodes
        .iter()
        .find(|n| n.anchor == anchor && n.id != node_id)
    {
        return Err(NodeCommandError::Refused(format!(
            "anchor {anchor:?} is node {} already",
            other.id
        )));
    }
    desired
        .to_configure()
        .map_err(|r| NodeCommandError::Refused(format!("settings: {r}")))?;
    let mut tty = open(port, READ_SLICE)?;
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(|e| NodeCommandError::Refused(format!("random key: {e}")))?;
    let (counter, _) = registry.reserve_downlink(rekey)?;
    let message = Message::Provision(Provision { node_id, key });
    send(&mut tty, port, current_key, current_id, counter, &message)?;
    let mut guard = ReplayGuard::new();
    let hello = wait_for_hello(&mut tty, port, node_id, &key, &mut guard, timeout)?;
    registry.update(|nodes| {
        if let Some(id) = rekey {
            let entry = nodes.get_mut(id)?;
            entry.set_key(key);
            entry.anchor.clone_from(&anchor);
            entry.uplink_last = guard.last();
        } else {
            let mut entry = NodeEntry::new(node_id, anchor.clone(), key, desired.clone());
            entry.uplink_last = guard.last();
            nodes.nodes.push(entry);
        }
        Ok(())
    })?;
    Ok(Provisioned {
        node_id,
        key,
        hello,
    })
}

/// Sends node `node` its desired settings over `port` and waits for the
/// `Hello` that acknowledges them; records them as acknowledged.
pub fn configure(
    registry: &mut Registry,
    node: u32,
    port: &Path,
    timeout: Duration,
) -> Result<Hello, NodeCommandError> {
    let entry = registry
        .nodes()
        .get(node)
        .ok_or(RegistryError::UnknownNode(node))?
        .clone();
    let configure = entry
        .desired
        .to_configure()
        .map_err(|r| NodeCommandError::Refused(format!("node {node}: {r}")))?;
    let mut tty = open(port, READ_SLICE)?;
    let (counter, _) = registry.reserve_downlink(Some(node))?;
    let key = entry.key();
    send(
        &mut tty,
        port,
        key,
        node,
        counter,
        &Message::Configure(configure),
    )?;
    let mut guard = ReplayGuard::resume(entry.uplink_last);
    let hello = wait_for_hello(&mut tty, port, node, &key, &mut guard, timeout)?;
    let role = match hello.role {
        aisle_protocol::link::Role::Beacon => RoleName::Beacon,
        aisle_protocol::link::Role::Scanner => RoleName::Scanner,
    };
    registry.update(|nodes| {
        let e = nodes.get_mut(node)?;
        e.uplink_last = e.uplink_last.max(guard.last());
        if role == entry.desired.role {
            e.acknowledged = Some(entry.desired.clone());
        }
        Ok(())
    })?;
    if role != entry.desired.role {
        return Err(NodeCommandError::Refused(format!(
            "node {node} answered as a {role:?}, not the {:?} asked for",
            entry.desired.role
        )));
    }
    Ok(hello)
}

fn send(
    tty: &mut TTYPort,
    port: &Path,
    key: NodeKey,
    node: u32,
    counter: u32,
    message: &Message<'_>,
) -> Result<(), NodeCommandError> {
    let link = |reason: String| NodeCommandError::Link {
        port: port.display().to_string(),
        reason,
    };
    let mut sealer = Sealer::resume(key, node, Direction::GatewayToNode, counter);
    let mut buf = [0u8; MAX_WIRE_LEN];
    let n = sealer
        .seal(message, &mut buf)
        .map_err(|e| link(e.to_string()))?;
    tty.write_all(&buf[..n])
        .and_then(|()| tty.flush())
        .map_err(|e| link(format!("write: {e}")))
}

/// Reads `tty` until node `node` says `Hello` under `key`, newer than
/// `guard`; anything else heard meanwhile is ignored.
fn wait_for_hello(
    tty: &mut TTYPort,
    port: &Path,
    node: u32,
    key: &NodeKey,
    guard: &mut ReplayGuard,
    timeout: Duration,
) -> Result<Hello, NodeCommandError> {
    let deadline = Instant::now() + timeout;
    let mut deframer = LinkDeframer::new();
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        let n = match tty.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => {
                return Err(NodeCommandError::Link {
                    port: port.display().to_string(),
                    reason: format!("read: {e}"),
                });
            }
        };
        let mut input = &buf[..n];
        loop {
            match deframer.feed(input) {
                Feed::Pending => break,
                Feed::Dropped { rest, .. } => input = rest,
                Feed::Frame { frame, rest } => {
                    input = rest;
                    let Ok(frame) = UnverifiedFrame::parse(frame) else {
                        continue;
                    };
                    if frame.claimed_header().node_id != node {
                        continue;
                    }
                    if let Ok((_, Message::Hello(hello))) =
                        frame.open(key, Direction::NodeToGateway, guard)
                    {
                        return Ok(hello);
                    }
                }
            }
        }
    }
    Err(NodeCommandError::Timeout {
        port: port.display().to_string(),
        node,
        seconds: timeout.as_secs(),
    })
}
