//! Health of shelf nodes and the gateway: retained, with an offline form that
//! serves as the MQTT last will.

use alloc::string::String;

use super::{EventId, SchemaVersion, check_id, check_non_negative, check_text, check_ts};
use crate::Error;

/// The status of one shelf node, published retained on
/// `aisle/v1/{store}/nodes/{node}/status`.
///
/// The gateway publishes it for each node it hears over the node link: when
/// the node reports its health, and once, offline, when the node has gone
/// silent (with the last figures it sent and when it was last heard). A
/// node with its own MQTT connection publishes it itself and registers
/// [`NodeStatus::offline`] as the last will, so the broker marks the node
/// offline when the connection drops. The metrics are absent from that form.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id.
    pub id: EventId,
    /// When the status was taken, Unix seconds. In a last will, the broker
    /// publishes the payload unchanged, so `ts` is when the will was
    /// registered: the node has been offline since some time after it.
    pub ts: f64,
    /// The node.
    pub node: String,
    /// Whether the node is running and reporting.
    pub online: bool,
    /// When the node was last heard, Unix seconds.
    pub last_seen: Option<f64>,
    /// The node's firmware version.
    pub firmware: String,
    /// Seconds since the node booted.
    pub uptime_s: Option<u64>,
    /// Battery voltage in millivolts, for battery-powered nodes.
    pub battery_mv: Option<u16>,
    /// Temperature of the node's chip in degrees Celsius.
    pub temperature_c: Option<f64>,
    /// Advertisements the node's radio has received since boot.
    pub adverts_seen: Option<u64>,
    /// Sightings dropped since boot because the node's queue was full.
    pub queue_drops: Option<u64>,
    /// Packets the node heard that failed their CRC since boot: a noisy
    /// spot or a failing antenna shows here.
    pub crc_failures: Option<u64>,
    /// Node link frames the node rejected since boot (bad tag, replay,
    /// corruption).
    pub frames_rejected_by_node: Option<u64>,
    /// Node link frames naming this node that the gateway rejected (forged,
    /// replayed, malformed) since the gateway started.
    pub frames_rejected_by_gateway: Option<u64>,
}

impl NodeStatus {
    /// The offline status without metrics: the node's last will.
    #[must_use]
    pub fn offline(id: EventId, ts: f64, node: String, firmware: String) -> Self {
        NodeStatus {
            v: SchemaVersion,
            id,
            ts,
            node,
            online: false,
            firmware,
            last_seen: None,
            uptime_s: None,
            battery_mv: None,
            temperature_c: None,
            adverts_seen: None,
            queue_drops: None,
            crc_failures: None,
            frames_rejected_by_node: None,
            frames_rejected_by_gateway: None,
        }
    }

    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("node", &self.node)?;
        check_text("firmware", &self.firmware)?;
        if let Some(seen) = self.last_seen {
            check_ts("last_seen", seen)?;
        }
        if let Some(t) = self.temperature_c
            && !(-60.0..=150.0).contains(&t)
        {
            // Beyond any silicon's rated range: a broken sensor, not a reading.
            return Err(Error::Payload {
                field: "temperature_c",
                reason: "outside -60..=150 degrees Celsius",
            });
        }
        Ok(())
    }
}

/// The status of the store's gateway, published retained on
/// `aisle/v1/{store}/gateway/status`, with [`GatewayStatus::offline`] as the
/// gateway's last will. While the gateway is offline, node statuses are stale.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayStatus {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id.
    pub id: EventId,
    /// When the status was taken, Unix seconds (in a last will: when the
    /// will was registered).
    pub ts: f64,
    /// Whether the gateway is running.
    pub online: bool,
    /// The gateway's software version.
    pub version: String,
    /// Seconds since the gateway started.
    pub uptime_s: Option<u64>,
    /// Nodes heard from recently.
    pub nodes_online: Option<u32>,
    /// Sightings per second over the last reporting interval.
    pub sightings_per_s: Option<f64>,
}

impl GatewayStatus {
    /// The offline status without metrics: the gateway's last will.
    #[must_use]
    pub fn offline(id: EventId, ts: f64, version: String) -> Self {
        GatewayStatus {
            v: SchemaVersion,
            id,
            ts,
            online: false,
            version,
            uptime_s: None,
            nodes_online: None,
            sightings_per_s: None,
        }
    }

    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_text("version", &self.version)?;
        if let Some(rate) = self.sightings_per_s {
            check_non_negative("sightings_per_s", rate)?;
        }
        Ok(())
    }
}
