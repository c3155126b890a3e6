//! The settings a node runs, as the registry keeps them and `Configure`
//! carries them.

use aisle_protocol::beacon::{FrameKind, Identity};
use aisle_protocol::link::{BeaconIdentity, Configure, Role};
use serde::{Deserialize, Serialize};

/// The settings the gateway wants a node to run, as `Configure` carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// `beacon` or `scanner`.
    pub role: RoleName,
    /// Transmit power, dBm.
    pub tx_power_dbm: i8,
    /// Advertising interval, ms (beacons).
    pub adv_interval_ms: u16,
    /// Scan window per channel, ms (scanners).
    pub scan_window_ms: u16,
    /// What a beacon advertises, `ibeacon:<hex>` or `eddystone_uid:<hex>` as
    /// `aisle inspect` prints identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// A node's role, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Advertises a beacon identity.
    Beacon,
    /// Reports what it hears.
    Scanner,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Role {
        match r {
            RoleName::Beacon => Role::Beacon,
            RoleName::Scanner => Role::Scanner,
        }
    }
}

impl Default for NodeSettings {
    /// A scanner at 0 dBm: the nodes' first job is hearing shoppers. 100 ms
    /// windows hop the three channels ten times a second, as often as a
    /// phone advertises.
    fn default() -> Self {
        NodeSettings {
            role: RoleName::Scanner,
            tx_power_dbm: 0,
            adv_interval_ms: 100,
            scan_window_ms: 100,
            identity: None,
        }
    }
}

impl NodeSettings {
    /// The `Configure` message for these settings, checked as the node
    /// would check it.
    pub fn to_configure(&self) -> Result<Configure, String> {
        let identity = match &self.identity {
            None => BeaconIdentity::None,
            Some(text) => beacon_identity(text)?,
        };
        let configure = Configure {
            role: self.role.into(),
            tx_power_dbm: self.tx_power_dbm,
            adv_interval_ms: self.adv_interval_ms,
            scan_window_ms: self.scan_window_ms,
            identity,
        };
        if !Configure::TX_POWER_DBM.contains(&self.tx_power_dbm) {
            return Err(format!(
                "tx_power_dbm {} is not in -127..=20",
                self.tx_power_dbm
            ));
        }
        if !Configure::ADV_INTERVAL_MS.contains(&self.adv_interval_ms) {
            return Err(format!(
                "adv_interval_ms {} is not in 20..=10240",
                self.adv_interval_ms
            ));
        }
        if !Configure::SCAN_WINDOW_MS.contains(&self.scan_window_ms) {
            return Err(format!(
                "scan_window_ms {} is not in 0..=10240",
                self.scan_window_ms
            ));
        }
        Ok(configure)
    }
}

fn beacon_identity(text: &str) -> Result<BeaconIdentity, String> {
    let id: Identity = text
        .parse()
        .map_err(|e: aisle_protocol::Error| format!("identity {text:?}: {e}"))?;
    let b = id.as_bytes();
    match (id.kind(), b.len()) {
        (FrameKind::IBeacon, 20) => {
            let mut uuid = [0; 16];
            uuid.copy_from_slice(&b[..16]);
            Ok(BeaconIdentity::IBeacon {
                uuid,
                major: u16::from_be_bytes([b[16], b[17]]),
                minor: u16::from_be_bytes([b[18], b[19]]),
            })
        }
        (FrameKind::EddystoneUid, 16) => {
            let (mut namespace, mut instance) = ([0; 10], [0; 6]);
            namespace.copy_from_slice(&b[..10]);
            instance.copy_from_slice(&b[10..]);
            Ok(BeaconIdentity::EddystoneUid {
                namespace,
                instance,
            })
        }
        _ => Err(format!(
            "identity {text:?}: a node advertises ibeacon (20 bytes) or eddystone_uid (16 bytes)"
        )),
    }
}
