//! The gateway's configuration file, as `aisle run --config gateway.toml`
//! reads it and `aisle generate-config` prints it.
//!
//! The whole file is read and checked before anything starts: the store
//! layout and the shoppers file are loaded, the broker address is parsed,
//! every engine value is range-checked. An error names the key and the
//! reason, such as `gateway.toml: mqtt.broker: "tcp:/x" is not embedded or
//! mqtt://host:port`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
use crate::identify::{EnrolledShopper, IdentifyConfig, load_shoppers};
use crate::layout::Layout;
use crate::mqtt::TlsFiles;

/// The `[store]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// The store layout file, relative to the configuration file.
    pub layout: PathBuf,
    /// The enrolled shoppers file, relative to the configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shoppers: Option<PathBuf>,
}

/// The `[mqtt]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSection {
    /// `embedded`, `mqtt://host:port`, or `mqtts://host:port` for TLS.
    pub broker: String,
    /// Client id on the broker; one gateway per id.
    pub client_id: String,
    /// User name, when the broker asks for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A file holding the password (kept out of this file so it can be shared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// With `mqtts://`: PEM certificates of the CA to trust instead of the
    /// platform's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// With `mqtts://`: the gateway's PEM certificate, for brokers that
    /// authenticate clients by certificate (mutual TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// The PEM private key of `client_cert_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
    /// Seconds between keep-alive pings.
    pub keep_alive_s: u16,
    /// Where QoS 1 events wait while the broker is unreachable.
    pub spool_dir: PathBuf,
    /// The most the spool may hold, MiB.
    pub spool_max_mib: u64,
    /// Whether to publish positions (QoS 0) as well as zone events.
    pub publish_positions: bool,
}

impl Default for MqttSection {
    fn default() -> Self {
        MqttSection {
            broker: "embedded".into(),
            client_id: "aisle-gateway".into(),
            username: None,
            password_file: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            keep_alive_s: 15,
            spool_dir: PathBuf::from("aisle-spool"),
            spool_max_mib: 256,
            publish_positions: true,
        }
    }
}

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerAddress {
    /// Run one inside the gateway.
    Embedded,
    /// Connect to this one.
    Remote {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl MqttSection {
    /// The broker address, parsed.
    pub fn address(&self) -> Result<BrokerAddress, String> {
        if self.broker == "embedded" {
            return Ok(BrokerAddress::Embedded);
        }
        let bad = || {
            format!(
                "{:?} is not embedded, mqtt://host:port or mqtts://host:port",
                self.broker
            )
        };
        let (rest, default_port) = match self.broker.strip_prefix("mqtts://") {
            Some(rest) => (rest, 8883),
            None => (self.broker.strip_prefix("mqtt://").ok_or_else(bad)?, 1883),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (rest, default_port),
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        Ok(BrokerAddress::Remote {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }

    /// Whether the broker is reached over TLS (`mqtts://`).
    #[must_use]
    pub fn uses_tls(&self) -> bool {
        self.broker.starts_with("mqtts://")
    }

    /// The TLS settings, read and checked, when the broker is `mqtts://`.
    fn tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>, (String, String)> {
        let files = [
            ("ca_file", &self.ca_file),
            ("client_cert_file", &self.client_cert_file),
            ("client_key_file", &self.client_key_file),
        ];
        if !self.uses_tls() {
            return match files.iter().find(|(_, f)| f.is_some()) {
                Some((key, _)) => Err((
                    format!("mqtt.{key}"),
                    "is used only with an mqtts:// broker".into(),
                )),
                None => Ok(None),
            };
        }
        crate::mqtt::tls::client_config(&TlsFiles {
            ca_file: self.ca_file.as_deref(),
            client_cert_file: self.client_cert_file.as_deref(),
            client_key_file: self.client_key_file.as_deref(),
        })
        .map(Some)
        .map_err(|e| (format!("mqtt.{}", e.key), e.reason))
    }
}

/// One `[[source]]`: where sightings come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSection {
    /// A simulated store: shoppers walking past the layout's anchors. For
    /// trying Aisle out where there is no radio.
    Simulator {
        /// Shoppers in the store at a time, about.
        #[serde(default = "default_sim_shoppers")]
        shoppers: usize,
        /// Seed of every random draw.
        #[serde(default = "default_seed")]
        seed: u64,
        /// Share of shoppers who use the store's app (the others are only counted).
        #[serde(default = "default_opted_in")]
        opted_in_share: f64,
        /// Run each anchor as a shelf node: the node firmware's scanner
        /// role, built for this machine, hearing the simulated air and
        /// reporting over an in-memory node link as a node on a serial port
        /// does (what `aisle demo` does). Off, what the anchors hear goes
        /// straight to the pipeline.
        #[serde(default)]
        firmware_nodes: bool,
    },
    /// A recording played back at its own pace (or faster).
    Recording {
        /// The JSONL file, optionally gzipped.
        path: PathBuf,
        /// Playback speed: 1.0 is real time.
        #[serde(default = "default_speed")]
        speed: f64,
    },
    /// Shelf nodes on serial ports (USB CDC or UART), each node the anchor
    /// the node registry names. At most one such source: list every port in it.
    NodeLink {
        /// The ports, such as `/dev/ttyACM0`. A port that is missing at
        /// start or unplugged later is opened when it (re)appears.
        devices: Vec<PathBuf>,
        /// The directory holding the node registry (`nodes.toml`, written
        /// by `aisle node provision`), relative to the configuration file.
        #[serde(default = "default_state_dir")]
        state_dir: PathBuf,
        /// Seconds of silence after which a node counts as offline: its
        /// status is published offline and it is sent no `Configure`.
        /// Nodes report every 10 s. Default 60.
        #[serde(default = "default_offline_after_s")]
        offline_after_s: f64,
    },
    /// The gateway's own Bluetooth adapter, scanning as one of the layout's
    /// anchors (BlueZ on Linux).
    Bluetooth {
        /// The layout anchor the adapter is.
        anchor: String,
        /// The adapter's name, such as `hci0`; the first adapter when not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        adapter: Option<String>,
    },
}

impl SourceSection {
    /// Checks the values of one source: `Err((key, reason))`.
    fn check(&self, layout: &Layout) -> Result<(), (&'static str, String)> {
        match self {
            SourceSection::Simulator {
                shoppers,
                opted_in_share,
                ..
            } => {
                if *shoppers == 0 || *shoppers > 10_000 {
                    return Err(("shoppers", format!("{shoppers} is not in 1..=10000")));
                }
                if !(0.0..=1.0).contains(opted_in_share) {
                    return Err((
                        "opted_in_share",
                        format!("{opted_in_share} is not in 0..=1"),
                    ));
                }
            }
            SourceSection::Recording { path, speed } => {
                if !path.exists() {
                    return Err(("path", format!("{} does not exist", path.display())));
                }
                if !(speed.is_finite() && *speed > 0.0) {
                    return Err(("speed", format!("{speed} is not above 0")));
                }
            }
            // Checked against its registry by `nodelink::check_source`.
            SourceSection::NodeLink { .. } => {}
            SourceSection::Bluetooth { anchor, adapter } => {
                if !layout.anchors.iter().any(|a| &a.id == anchor) {
                    return Err((
                        "anchor",
                        format!("{anchor:?} is not an anchor of the layout"),
                    ));
                }
                if adapter
                    .as_ref()
                    .is_some_and(|a| a.is_empty() || a.contains(char::is_whitespace))
                {
                    return Err(("adapter", "must be an adapter name such as hci0".into()));
                }
            }
        }
        Ok(())
    }
}

fn default_sim_shoppers() -> usize {
    12
}
fn default_seed() -> u64 {
    1
}
fn default_opted_in() -> f64 {
    0.8
}
fn default_speed() -> f64 {
    1.0
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("aisle-state")
}
fn default_offline_after_s() -> f64 {
    crate::nodelink::link::ONLINE_WITHIN_S
}

/// The `[log]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a full filter such as
    /// `aisle_gateway=debug,rumqttc=warn`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[store]`.
    pub store: StoreSection,
    /// `[mqtt]`.
    #[serde(default)]
    pub mqtt: MqttSection,
    /// `[[source]]`: at least one.
    #[serde(rename = "source")]
    pub sources: Vec<SourceSection>,
    /// `[identify]`.
    #[serde(default)]
    pub identify: IdentifyConfig,
    /// `[engine]`.
    #[serde(default)]
    pub engine: EngineConfig,
    /// `[log]`.
    #[serde(default)]
    pub log: LogSection,
}

/// A configuration that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {key}: {reason}")]
pub struct ConfigError {
    /// The file.
    pub origin: String,
    /// The key, such as `mqtt.broker`, or a line and column for syntax errors.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

/// A configuration with everything it names loaded and checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The settings.
    pub config: Config,
    /// The store layout.
    pub layout: Layout,
    /// The enrolled shoppers.
    pub shoppers: Vec<EnrolledShopper>,
    /// The broker.
    pub broker: BrokerAddress,
    /// The MQTT password, read from its file.
    pub password: Option<String>,
    /// TLS to the broker, set up from its files, for `mqtts://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Config {
    /// Parses a configuration; `origin` names it in errors. Paths stay as written.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError {
            origin: origin.to_owned(),
            key: e
                .span()
                .map_or_else(String::new, |s| crate::layout::line_col(text, s.start)),
            reason: e.message().to_owned(),
        })
    }

    /// Reads a configuration file and everything it names, checking it all.
    /// Relative paths are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        let mut config = Config::parse(&text, &origin)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.check(&origin)
    }

    /// Makes the file's relative paths relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        at(&mut self.store.layout);
        if let Some(p) = &mut self.store.shoppers {
            at(p);
        }
        for p in [
            &mut self.mqtt.password_file,
            &mut self.mqtt.ca_file,
            &mut self.mqtt.client_cert_file,
            &mut self.mqtt.client_key_file,
        ]
        .into_iter()
        .flatten()
        {
            at(p);
        }
        at(&mut self.mqtt.spool_dir);
        for s in &mut self.sources {
            match s {
                SourceSection::Recording { path, .. } => at(path),
                SourceSection::NodeLink { state_dir, .. } => at(state_dir),
                SourceSection::Simulator { .. } | SourceSection::Bluetooth { .. } => {}
            }
        }
    }

    /// Checks every value and loads the files the configuration names.
    pub fn check(self, origin: &str) -> Result<Loaded, ConfigError> {
        let err = |key: &str, reason: String| ConfigError {
            origin: origin.to_owned(),
            key: key.to_owned(),
            reason,
        };
        let layout =
            Layout::load(&self.store.layout).map_err(|e| err("store.layout", e.to_string()))?;
        let shoppers = match &self.store.shoppers {
            Some(p) => load_shoppers(p).map_err(|e| err("store.shoppers", e.to_string()))?,
            None => Vec::new(),
        };
        let broker = self.mqtt.address().map_err(|r| err("mqtt.broker", r))?;
        let tls = self.mqtt.tls().map_err(|(key, reason)| err(&key, reason))?;
        if self.mqtt.client_id.is_empty() || self.mqtt.client_id.len() > 64 {
            return Err(err("mqtt.client_id", "must be 1 to 64 characters".into()));
        }
        if self.mqtt.keep_alive_s < 5 {
            return Err(err(
                "mqtt.keep_alive_s",
                format!("{} s is too short: at least 5", self.mqtt.keep_alive_s),
            ));
        }
        if self.mqtt.spool_max_mib == 0 {
            return Err(err("mqtt.spool_max_mib", "must be at least 1".into()));
        }
        let password = match &self.mqtt.password_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| err("mqtt.password_file", format!("{}: {e}", p.display())))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            None => None,
        };
        if password.is_some() && self.mqtt.username.is_none() {
            return Err(err("mqtt.password_file", "needs mqtt.username too".into()));
        }
        if self.sources.is_empty() {
            return Err(err("source", "at least one [[source]] is needed".into()));
        }
        for (i, s) in self.sources.iter().enumerate() {
            if let SourceSection::NodeLink {
                devices,
                state_dir,
                offline_after_s,
            } = s
            {
                crate::nodelink::check_source(i, devices, state_dir, *offline_after_s, &layout)
                    .map_err(|(key, r)| err(&key, r))?;
            } else {
                s.check(&layout)
                    .map_err(|(key, reason)| err(&format!("source[{i}].{key}"), reason))?;
            }
        }
        one_node_link(&self.sources).map_err(|(key, r)| err(&key, r))?;
        crate::identify::Identifier::new(&self.identify, &shoppers, 0)
            .map_err(|e| err("identify", e.to_string()))?;
        self.engine
            .check()
            .map_err(|e| err("engine", e.to_string()))?;
        tracing_level_check(&self.log.level).map_err(|r| err("log.level", r))?;
        Ok(Loaded {
            config: self,
            layout,
            shoppers,
            broker,
            password,
            tls,
        })
    }
}

/// Only one `node_link` source: its ports share one registry.
fn one_node_link(sources: &[SourceSection]) -> Result<(), (String, String)> {
    match sources
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, SourceSection::NodeLink { .. }))
        .nth(1)
    {
        Some((i, _)) => Err((
            format!("source[{i}]"),
            "only one node_link source: list every port in its devices".into(),
        )),
        None => Ok(()),
    }
}

fn tracing_level_check(level: &str) -> Result<(), String> {
    if level.trim().is_empty() {
        return Err("is empty".into());
    }
    Ok(())
}

/// The commented default configuration `aisle generate-config` prints.
#[must_use]
pub fn default_toml() -> String {
    let engine = toml::to_string(&EngineConfig::default()).unwrap_or_default();
    let engine: String = engine
        .lines()
        .map(|l| match l.strip_prefix('[') {
            Some(table) => format!("[engine.{table}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    format!(
        "{TEMPLATE}\n# Localisation and presence. Each value is documented in the engine's\n\
         # configuration reference (`cargo doc -p aisle-gateway`, engine::EngineConfig).\n\
         [engine]\n{engine}"
    )
}

const TEMPLATE: &str = r#"# Aisle gateway configuration, read by `aisle run --config <this file>`.
# Relative paths are taken from this file's folder.

[store]
# The store layout: anchors and zones (see `aisle simulate --print-layout`).
layout = "layout.toml"
# Shoppers enrolled through the store's app, with their EID identity keys.
# shoppers = "shoppers.toml"

[mqtt]
# "embedded" runs a broker inside the gateway on 127.0.0.1:1883, or the next
# free port; otherwise the address of any MQTT 3.1.1 broker, mqtts:// for TLS.
broker = "embedded"
# broker = "mqtt://192.0.2.10:1883"
# broker = "mqtts://broker.example:8883"
client_id = "aisle-gateway"
# username = "aisle"
# password_file = "mqtt-password"
# With mqtts://: the PEM CA certificate(s) to trust; the system's trusted
# roots when not set.
# ca_file = "broker-ca.pem"
# With mqtts://, for brokers that want a client certificate (mutual TLS):
# client_cert_file = "gateway.pem"
# client_key_file = "gateway.key"
keep_alive_s = 15
# Zone events (QoS 1) wait here while the broker is unreachable, and are
# delivered in order when it returns.
spool_dir = "aisle-spool"
spool_max_mib = 256
publish_positions = true

# Where sightings come from; more than one source may be listed.
[[source]]
# A simulated store, for trying Aisle where there is no radio.
kind = "simulator"
shoppers = 12
seed = 1
opted_in_share = 0.8
# Run each anchor as a shelf node: the node firmware's scanner role on the
# simulated air, reporting over the node link, as `aisle demo` does.
firmware_nodes = false

# [[source]]
# kind = "recording"
# path = "sightings.jsonl.gz"
# speed = 1.0

# Shelf nodes on serial ports; provision each with `aisle node provision`
# first. Ports missing at start, or unplugged later, are opened when they
# appear. The state directory holds the node registry (node keys: mode 0600).
# [[source]]
# kind = "node_link"
# devices = ["/dev/ttyACM0"]
# state_dir = "aisle-state"
# Seconds of silence after which a node is offline (nodes report every 10 s).
# offline_after_s = 60.0

# The gateway's own Bluetooth adapter (BlueZ), as one of the layout's anchors.
# [[source]]
# kind = "bluetooth"
# anchor = "gateway"
# adapter = "hci0"

[identify]
# The store app's EID rotation exponent: identifiers rotate every 2^K s.
rotation_exponent = 10
# Beacons tracked by name, by the identity `aisle inspect` prints.
# [[identify.beacon]]
# id = "cart-17"
# identity = "ibeacon:426c7565436861726d426561636f6e730efe1355"

[log]
# error, warn, info, debug or trace; or a filter such as "aisle_gateway=debug".
level = "info"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn store_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "layout.toml",
            &crate::sim::store::demo_layout().to_toml(),
        );
        dir
    }

    #[test]
    fn the_generated_default_loads_and_equals_the_defaults() {
        let dir = store_dir();
        let path = write(dir.path(), "gateway.toml", &default_toml());
        let loaded = Config::load(&path).unwrap();
        assert_eq!(loaded.broker, BrokerAddress::Embedded);
        assert_eq!(loaded.config.engine, EngineConfig::default());
        assert_eq!(loaded.config.mqtt.spool_dir, dir.path().join("aisle-spool"));
        assert_eq!(loaded.config.identify, IdentifyConfig::default());
        assert_eq!(loaded.config.sources.len(), 1);
        assert!(loaded.layout.zone("meat-counter").is_some());
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = store_dir();
        let check = |edit: &dyn Fn(String) -> String| {
            let path = write(dir.path(), "gateway.toml", &edit(default_toml()));
            Config::load(&path).unwrap_err()
        };
        let e = check(&|t| t.replace("broker = \"embedded\"", "broker = \"tcp:/x\""));
        assert_eq!(e.key, "mqtt.broker");
        assert!(e.reason.contains("tcp:/x"), "{e}");
        let e = check(&|t| t.replace("layout = \"layout.toml\"", "layout = \"nope.toml\""));
        assert_eq!(e.key, "store.layout");
        assert!(e.reason.contains("cannot read"), "{e}");
        let e = check(&|t| t.replace("shoppers = 12", "shoppers = 0"));
        assert_eq!(e.key, "source[0].shoppers");
        let e = check(&|t| t.replace("rotation_exponent = 10", "rotation_exponent = 99"));
        assert_eq!(e.key, "identify");
        let e = check(&|t| t.replace("keep_alive_s = 15", "keep_alive_s = 1"));
        assert_eq!(e.key, "mqtt.keep_alive_s");
        let e = check(&|t| {
            t.replace(
                "client_id = \"aisle-gateway\"",
                "client_id = \"aisle\"\ncolour = 3",
            )
        });
        assert!(e.reason.contains("colour"), "{e}");
        assert!(e.key.starts_with("line "), "{e}");
        let e = check(&|t| t.replace("locate_interval_s = 0.5", "locate_interval_s = -1.0"));
        assert!(e.to_string().contains("locate_interval_s"), "{e}");
        let e = check(&|t| {
            t.replace(
                "# [[source]]\n# kind = \"recording\"\n# path = \"sightings.jsonl.gz\"",
                "[[source]]\nkind = \"recording\"\npath = \"missing.jsonl\"",
            )
        });
        assert_eq!(e.key, "source[1].path");
        let bluetooth = |anchor: String| {
            move |t: String| {
                t.replace(
                    "# [[source]]\n# kind = \"bluetooth\"\n# anchor = \"gateway\"",
                    &format!("[[source]]\nkind = \"bluetooth\"\nanchor = \"{anchor}\""),
                )
            }
        };
        let e = check(&bluetooth("nowhere".into()));
        assert_eq!(e.key, "source[1].anchor");
        assert!(e.reason.contains("nowhere"), "{e}");
        let anchor = crate::sim::store::demo_layout().anchors[0].id.clone();
        let path = write(
            dir.path(),
            "gateway.toml",
            &bluetooth(anchor)(default_toml()),
        );
        let loaded = Config::load(&path).unwrap();
        assert!(matches!(
            &loaded.config.sources[1],
            SourceSection::Bluetooth { adapter: None, .. }
        ));
    }

    #[test]
    fn tls_files_are_checked_with_the_configuration() {
        let dir = store_dir();
        let check = |mqtt: &str| {
            let text = default_toml().replace(
                "broker = \"embedded\"\n",
                &format!("broker = \"embedded\"\n{mqtt}\n"),
            );
            let path = write(dir.path(), "gateway.toml", &text);
            Config::load(&path)
        };
        let e = check("ca_file = \"ca.pem\"").unwrap_err();
        assert_eq!(e.key, "mqtt.ca_file");
        assert!(e.reason.contains("mqtts://"), "{e}");
        let text = default_toml().replace(
            "broker = \"embedded\"\n",
            "broker = \"mqtts://127.0.0.1:8883\"\nca_file = \"missing-ca.pem\"\n",
        );
        let path = write(dir.path(), "gateway.toml", &text);
        let e = Config::load(&path).unwrap_err();
        assert_eq!(e.key, "mqtt.ca_file");
        assert!(
            e.reason
                .contains(&dir.path().join("missing-ca.pem").display().to_string()),
            "the file is named, relative to the configuration: {e}"
        );
    }

    #[test]
    fn broker_addresses() {
        let parse = |b: &str| {
            MqttSection {
                broker: b.into(),
                ..MqttSection::default()
            }
            .address()
        };
        assert_eq!(
            parse("mqtt://broker.local:1884"),
            Ok(BrokerAddress::Remote {
                host: "broker.local".into(),
                port: 1884
            })
        );
        assert_eq!(
            parse("mqtt://10.0.0.2"),
            Ok(BrokerAddress::Remote {
                host: "10.0.0.2".into(),
                port: 1883
            })
        );
        assert_eq!(
            parse("mqtts://broker.local"),
            Ok(BrokerAddress::Remote {
                host: "broker.local".into(),
                port: 8883
            })
        );
        assert!(parse("mqtts://").is_err());
        assert!(parse("mqtt://:1883").is_err());
        assert!(parse("mqtt://h:99999").is_err());
        assert!(parse("http://h").is_err());
    }
}
