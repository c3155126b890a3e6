//! The node link: shelf nodes on serial ports (USB CDC or UART), speaking
//! `aisle_protocol::link`'s authenticated frames.
//!
//! - [`registry`]: the nodes the gateway knows (id, anchor, key, desired
//!   settings, counters), in `nodes.toml` in the state directory;
//! - [`link`]: frames in, sightings and `Configure` frames out, no I/O;
//! - [`port`]: opening ports, and the blocking thread that keeps one open;
//! - [`source`]: the live gateway's source, one task per port;
//! - [`command`]: `aisle node provision` and `configure` on a port.
//!
//! A frame is accepted only if it passes, in order: the deframer (line
//! noise is dropped, and the frame after the next delimiter is whole), the
//! CRC, the registry (the node is known), the node's key (the tag), the
//! direction, and the node's replay guard. Each refusal is counted in
//! [`LinkStats`] by its reason and logged with the port and node.
//!
//! Each entry of a `SightingBatch` becomes one sighting from the node's
//! anchor: its time is the middle of the batch window on the gateway's
//! clock (see [`link`]), its RSSI the entry's mean over the window (the
//! engine filters per sighting; one value per device, channel and window
//! is what the node reports, and the mean is its least noisy summary), its
//! subject the entry's kind and identity, identified by the same stage as
//! the gateway's own advertisements.
//!
//! A running gateway picks up `aisle node configure` within a second: each
//! port's task re-reads the registry when the file changes and sends
//! `Configure` to each online node whose desired settings it has not yet
//! acknowledged (a `Hello` after a `Configure`), up to three attempts five
//! seconds apart.
//!
//! Uplink counters are written to the registry every 10 s, not on every
//! frame (a Pi's SD card would wear), so after a crash or a power cut the
//! registry's counter may be behind the last frame accepted, and a frame
//! from those seconds could be played back. The registry says whether the
//! last gateway stopped cleanly (`gateway_running`); if it did not, each
//! node's frames are held back (counted as `awaiting_hello`) until the
//! node answers a `Configure` sealed in this run with a `Hello` naming its
//! counter: that frame cannot be old, and its counter is the new floor. A
//! node is sent that `Configure` as soon as it is heard, so only the frames
//! of one exchange are lost. Firmware whose `Hello` predates the counter is
//! taken at its `Hello`, with a warning.

pub mod command;
pub mod health;
pub mod link;
pub mod port;
pub mod registry;
pub mod settings;
pub mod sightings;
pub mod source;
pub mod stats;

pub use health::NodeHealth;
pub use link::{NodeLinks, NodeLive, PortReceiver};
pub use registry::{NodeEntry, NodeSettings, Registry, RegistryError, RoleName};
pub use source::NodeLinkSource;

use std::path::{Path, PathBuf};

use crate::layout::Layout;
pub use stats::{LinkCounts, LinkStats, Rejection};

/// Checks the configuration's `node_link` source `source[i]`: ports listed
/// once, an offline time that is a time, and a registry (if there is one
/// yet) that reads and names only anchors of the layout.
pub fn check_source(
    i: usize,
    devices: &[PathBuf],
    state_dir: &Path,
    offline_after_s: f64,
    layout: &Layout,
) -> Result<(), (String, String)> {
    if !(offline_after_s.is_finite() && offline_after_s > 0.0) {
        return Err((
            format!("source[{i}].offline_after_s"),
            "must be a finite number of seconds above 0".into(),
        ));
    }
    if devices.is_empty() {
        return Err((
            format!("source[{i}].devices"),
            "list at least one port".into(),
        ));
    }
    for (j, d) in devices.iter().enumerate() {
        if devices[..j].contains(d) {
            return Err((
                format!("source[{i}].devices[{j}]"),
                format!("{} listed twice", d.display()),
            ));
        }
    }
    if !state_dir.join(registry::REGISTRY_FILE).exists() {
        return Ok(());
    }
    let key = format!("source[{i}].state_dir");
    let registry = Registry::open(state_dir).map_err(|e| (key.clone(), e.to_string()))?;
    for node in &registry.nodes().nodes {
        if !layout.anchors.iter().any(|a| a.id == node.anchor) {
            return Err((
                key,
                format!(
                    "node {} is anchor {:?}, which the store layout does not have",
                    node.id, node.anchor
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, default_toml};

    const NODE_LINK: &str = "# [[source]]\n# kind = \"node_link\"\n# devices = [\"/dev/ttyACM0\"]\n# state_dir = \"aisle-state\"\n# Seconds of silence after which a node is offline (nodes report every 10 s).\n# offline_after_s = 60.0\n";

    fn load(dir: &std::path::Path, sources: &str) -> Result<crate::config::Loaded, ConfigError> {
        std::fs::write(
            dir.join("layout.toml"),
            crate::sim::store::demo_layout().to_toml(),
        )
        .unwrap();
        let text = default_toml();
        assert!(text.contains(NODE_LINK), "the default documents the source");
        let path = dir.join("gateway.toml");
        std::fs::write(&path, text.replace(NODE_LINK, sources)).unwrap();
        Config::load(&path)
    }

    #[test]
    fn the_documented_node_link_source_loads_and_bad_ones_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        // The settings uncommented, the prose left out.
        let uncommented: String = NODE_LINK
            .lines()
            .filter_map(|l| {
                let l = l.strip_prefix("# ")?;
                (l.starts_with('[') || l.contains(" = ")).then(|| format!("{l}\n"))
            })
            .collect();
        let loaded = load(dir.path(), &uncommented).unwrap();
        assert!(
            loaded
                .config
                .sources
                .contains(&crate::config::SourceSection::NodeLink {
                    devices: vec!["/dev/ttyACM0".into()],
                    state_dir: dir.path().join("aisle-state"),
                    offline_after_s: 60.0,
                })
        );
        let e = load(
            dir.path(),
            "[[source]]\nkind = \"node_link\"\ndevices = [\"/dev/a\"]\noffline_after_s = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "source[1].offline_after_s");

        let e = load(
            dir.path(),
            "[[source]]\nkind = \"node_link\"\ndevices = []\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "source[1].devices");
        let e = load(
            dir.path(),
            "[[source]]\nkind = \"node_link\"\ndevices = [\"/dev/a\", \"/dev/a\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "source[1].devices[1]");
        let e = load(dir.path(), &format!("{uncommented}{uncommented}")).unwrap_err();
        assert_eq!(e.key, "source[2]");

        // A registry naming an anchor the layout lacks.
        let mut registry = super::Registry::open(&dir.path().join("aisle-state")).unwrap();
        registry
            .update(|nodes| {
                nodes.nodes.push(super::NodeEntry::new(
                    4,
                    "nowhere".into(),
                    [1; 16],
                    super::NodeSettings::default(),
                ));
                Ok(())
            })
            .unwrap();
        let e = load(dir.path(), &uncommented).unwrap_err();
        assert_eq!(e.key, "source[1].state_dir");
        assert!(e.reason.contains("node 4 is anchor \"nowhere\""), "{e}");
    }
}
