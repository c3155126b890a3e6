//! The node registry: which shelf nodes the gateway knows, their keys, the
//! anchor each one is, what configuration it should run, and the counters
//! that keep the link safe from replays across restarts.
//!
//! It lives in `nodes.toml` in the state directory. Both the running
//! service and `aisle node` change it, so every change is a
//! read-modify-write under an exclusive lock on `nodes.lock`: re-read the
//! file, apply, write a temporary file (mode 0600: it holds keys), fsync,
//! rename over the old one. A reader never sees half a file, and neither
//! writer loses the other's change.
//!
//! ```toml
//! factory_downlink_reserved = 64
//!
//! [[node]]
//! id = 1
//! anchor = "shelf-3"
//! key = "000102030405060708090a0b0c0d0e0f"
//! downlink_reserved = 128
//! uplink_last = 4711
//! [node.desired]
//! role = "scanner"
//! tx_power_dbm = 0
//! adv_interval_ms = 100
//! scan_window_ms = 100
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aisle_protocol::link::NodeKey;
use serde::{Deserialize, Serialize};

pub use super::settings::{NodeSettings, RoleName};

/// The registry's file name in the state directory.
pub const REGISTRY_FILE: &str = "nodes.toml";
/// The lock file next to it.
const LOCK_FILE: &str = "nodes.lock";

/// Downlink counters reserved per write of the registry. A gateway sends a
/// node a `Configure` when it starts or is reconfigured, a handful a day, so
/// 64 costs one write per 64 frames and, at one reservation per gateway
/// start, lasts 67 million restarts of the 32-bit counter.
pub const DOWNLINK_BLOCK: u32 = 64;

/// Why the registry cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file or the state directory cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a registry: where and why.
    #[error("{path}: {key}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The key (`node[2].key`) or a line and column.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// No node has this id.
    #[error("node {0} is not in the registry (see `aisle node list`)")]
    UnknownNode(u32),
}

/// What a node last told the gateway about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LastState {
    /// When the node was last heard, Unix seconds.
    pub seen: f64,
    /// Firmware, `major.minor.patch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// The role it said it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleName>,
    /// Seconds since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u32>,
    /// Battery, mV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_mv: Option<u16>,
    /// Chip temperature, degrees Celsius.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// Sightings the node dropped since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_drops: Option<u32>,
    /// Frames the node rejected since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_rejected: Option<u32>,
    /// Packets it heard that failed their CRC since it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc_failures: Option<u32>,
}

/// One provisioned node.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Its id on the link, from 1.
    pub id: u32,
    /// The layout anchor it is.
    pub anchor: String,
    /// Its AES-128 key, 32 hex digits.
    key: String,
    /// Downlink counters up to this one may have been used.
    #[serde(default)]
    pub downlink_reserved: u32,
    /// The last uplink counter accepted from it.
    #[serde(default)]
    pub uplink_last: u32,
    /// What it should run.
    #[serde(default)]
    pub desired: NodeSettings,
    /// What it last acknowledged running (with a `Hello` after a `Configure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<NodeSettings>,
    /// What it last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastState>,
}

/// Everything but the key, so an entry can be logged.
impl std::fmt::Debug for NodeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeEntry")
            .field("id", &self.id)
            .field("anchor", &self.anchor)
            .field("downlink_reserved", &self.downlink_reserved)
            .field("uplink_last", &self.uplink_last)
            .field("desired", &self.desired)
            .field("acknowledged", &self.acknowledged)
            .finish_non_exhaustive()
    }
}

impl NodeEntry {
    /// A newly provisioned node.
    #[must_use]
    pub fn new(id: u32, anchor: String, key: NodeKey, desired: NodeSettings) -> Self {
        NodeEntry {
            id,
            anchor,
            key: hex::encode(key),
            downlink_reserved: 0,
            uplink_last: 0,
            desired,
            acknowledged: None,
            last: None,
        }
    }

    /// Its key (checked when the file was read).
    #[must_use]
    pub fn key(&self) -> NodeKey {
        parse_key(&self.key).unwrap_or_default()
    }

    /// Gives it a new key; its uplink counter starts again.
    pub fn set_key(&mut self, key: NodeKey) {
        self.key = hex::encode(key);
        self.uplink_last = 0;
        self.acknowledged = None;
    }
}

fn parse_key(hex_key: &str) -> Option<NodeKey> {
    hex::decode(hex_key).ok()?.try_into().ok()
}

/// The registry file's contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nodes {
    /// Downlink counters up to this one may have been used under the factory
    /// key, for nodes not provisioned yet.
    #[serde(default)]
    pub factory_downlink_reserved: u32,
    /// Set while a gateway serves the node link, cleared when it stops
    /// cleanly after writing every node's last uplink counter. Found set
    /// when a gateway starts, the counters may be behind (a crash, a power
    /// cut): the gateway then takes each node's frames again only after a
    /// fresh `Hello`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gateway_running: bool,
    /// The nodes, by id.
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeEntry>,
}

impl Nodes {
    /// The node with this id.
    #[must_use]
    pub fn get(&self, id: u32) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node with this id, to change.
    pub fn get_mut(&mut self, id: u32) -> Result<&mut NodeEntry, RegistryError> {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or(RegistryError::UnknownNode(id))
    }

    /// The id the next provisioned node gets: one above the highest.
    #[must_use]
    pub fn next_id(&self) -> u32 {
        self.nodes.iter().map(|n| n.id).max().unwrap_or(0) + 1
    }

    fn check(&self, path: &str) -> Result<(), RegistryError> {
        let invalid = |key: String, reason: String| RegistryError::Invalid {
            path: path.to_owned(),
            key,
            reason,
        };
        for (i, n) in self.nodes.iter().enumerate() {
            if n.id == 0 {
                return Err(invalid(
                    format!("node[{i}].id"),
                    "0 is the unprovisioned node".into(),
                ));
            }
            if self.nodes[..i].iter().any(|m| m.id == n.id) {
                return Err(invalid(
                    format!("node[{i}].id"),
                    format!("{} listed twice", n.id),
                ));
            }
            if n.anchor.is_empty() {
                return Err(invalid(format!("node[{i}].anchor"), "is empty".into()));
            }
            if let Some(m) = self.nodes[..i].iter().find(|m| m.anchor == n.anchor) {
                return Err(invalid(
                    format!("node[{i}].anchor"),
                    format!("{:?} is node {} already", n.anchor, m.id),
                ));
            }
            if parse_key(&n.key).is_none() {
                return Err(invalid(
                    format!("node[{i}].key"),
                    "must be 32 hex digits".into(),
                ));
            }
            n.desired
                .to_configure()
                .map_err(|r| invalid(format!("node[{i}].desired"), r))?;
        }
        Ok(())
    }
}

/// The registry in a state directory.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    nodes: Nodes,
    /// The file's inode and modification time when last read or written,
    /// to notice changes made by another process (each write renames a new
    /// file into place, so the inode changes even within one mtime tick).
    stamp: Option<(u64, SystemTime)>,
}

impl Registry {
    /// Opens the registry in `state_dir`, creating the directory (mode 0700)
    /// if needed. A missing file is an empty registry.
    pub fn open(state_dir: &Path) -> Result<Registry, RegistryError> {
        if !state_dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(state_dir)
                .map_err(|source| io_error(state_dir, source))?;
        }
        let mut registry = Registry {
            dir: state_dir.to_owned(),
            nodes: Nodes::default(),
            stamp: None,
        };
        registry.reload()?;
        Ok(registry)
    }

    /// The registry file.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.dir.join(REGISTRY_FILE)
    }

    /// The nodes as last read or written.
    #[must_use]
    pub fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    /// Re-reads the file if another process changed it since; true if it did.
    pub fn reload_if_changed(&mut self) -> Result<bool, RegistryError> {
        if modified(&self.path()) == self.stamp {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    fn reload(&mut self) -> Result<(), RegistryError> {
        let path = self.path();
        let (nodes, stamp) = read(&path)?;
        self.nodes = nodes;
        self.stamp = stamp;
        Ok(())
    }

    /// Changes the registry: under the lock, re-reads the file, applies
    /// `change` and writes the result atomically. Nothing is written when
    /// `change` fails.
    pub fn update<R>(
        &mut self,
        change: impl FnOnce(&mut Nodes) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let lock_path = self.dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| io_error(&lock_path, source))?;
        lock.lock().map_err(|source| io_error(&lock_path, source))?;
        self.reload()?;
        let mut nodes = self.nodes.clone();
        let result = change(&mut nodes)?;
        let path = self.path();
        nodes.check(&path.display().to_string())?;
        write_atomically(&path, &nodes)?;
        self.nodes = nodes;
        self.stamp = modified(&path);
        drop(lock);
        Ok(result)
    }

    /// Reserves the next block of downlink counters for `node` (or, for
    /// `None`, for the factory key) and returns the first counter of it and
    /// the last. Counters before the first may have been used by an earlier
    /// run, so a gateway that crashed never sends one twice.
    pub fn reserve_downlink(&mut self, node: Option<u32>) -> Result<(u32, u32), RegistryError> {
        self.update(|nodes| {
            let reserved = match node {
                Some(id) => &mut nodes.get_mut(id)?.downlink_reserved,
                None => &mut nodes.factory_downlink_reserved,
            };
            let first = reserved.saturating_add(1);
            *reserved = reserved.saturating_add(DOWNLINK_BLOCK);
            Ok((first, *reserved))
        })
    }
}

fn io_error(path: &Path, source: std::io::Error) -> RegistryError {
    RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn modified(path: &Path) -> Option<(u64, SystemTime)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.modified().ok()?))
}

fn read(path: &Path) -> Result<(Nodes, Option<(u64, SystemTime)>), RegistryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Nodes::default(), None)),
        Err(source) => return Err(io_error(path, source)),
    };
    let origin = path.display().to_string();
    let nodes: Nodes = toml::from_str(&text).map_err(|e| RegistryError::Invalid {
        path: origin.clone(),
        key: e
            .span()
            .map_or_else(String::new, |s| crate::layout::line_col(&text, s.start)),
        reason: e.message().to_owned(),
    })?;
    nodes.check(&origin)?;
    Ok((nodes, modified(path)))
}

fn write_atomically(path: &Path, nodes: &Nodes) -> Result<(), RegistryError> {
    let text = toml::to_string(nodes).map_err(|e| RegistryError::Invalid {
        path: path.display().to_string(),
        key: String::new(),
        reason: e.to_string(),
    })?;
    let tmp = path.with_extension("toml.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        // An existing temporary file keeps its mode through `open`.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(b"# Aisle node registry: node keys. Keep private (mode 0600).\n")?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is.
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|source| io_error(path, source))
}
