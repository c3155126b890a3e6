//! Node health on MQTT: which shelf nodes' statuses are due, as the
//! retained [`NodeStatus`] payloads of `aisle/v1/{store}/nodes/{node}/status`.
//!
//! A node reports its health (`Status`) every 10 s. The gateway publishes a
//! status each time one arrives, and once, offline, when the node has not
//! been heard for the node link's `offline_after_s` (default
//! [`ONLINE_WITHIN_S`](super::link::ONLINE_WITHIN_S)): that offline status keeps the last
//! figures the node sent (a flat battery shows there) and when it was last
//! heard. A node heard again publishes online with its next report. Nodes
//! this run has not heard publish nothing: their retained status, if any,
//! is whatever the last run left, and the gateway's own status tells how
//! fresh that is.

use std::collections::HashMap;

use aisle_protocol::event::{EventId, NodeStatus, SchemaVersion};

use super::link::{NodeLinks, NodeLive};

/// The name a node goes by on MQTT: `node-07` for node id 7.
#[must_use]
pub fn node_name(id: u32) -> String {
    format!("node-{id:02}")
}

/// What was last published for a node.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reported {
    status_at: Option<f64>,
    online: bool,
}

/// Remembers what was published for each node, to tell what is due.
#[derive(Debug, Clone, Default)]
pub struct NodeHealth {
    reported: HashMap<u32, Reported>,
}

impl NodeHealth {
    /// Nothing published yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The statuses due at `now` (Unix seconds), by node id; `next_id`
    /// numbers each payload.
    pub fn due(
        &mut self,
        links: &NodeLinks,
        now: f64,
        mut next_id: impl FnMut() -> EventId,
    ) -> Vec<(u32, NodeStatus)> {
        let mut due = Vec::new();
        for (id, live) in links.each_live() {
            if live.last_seen.is_none() {
                continue;
            }
            let online = links.is_online(live, now);
            let before = self.reported.get(&id).copied();
            let fresh_report =
                live.status_at.is_some() && before.is_none_or(|r| r.status_at != live.status_at);
            let went_silent = !online && before.is_some_and(|r| r.online);
            if !(online && fresh_report || went_silent) {
                continue;
            }
            let firmware = firmware(links, id, live);
            due.push((id, status(next_id(), now, id, online, firmware, live)));
            self.reported.insert(
                id,
                Reported {
                    status_at: live.status_at,
                    online,
                },
            );
        }
        due.sort_by_key(|(id, _)| *id);
        due
    }
}

/// The node's firmware version: from its `Hello` this run, else as the
/// registry last recorded it.
fn firmware(links: &NodeLinks, id: u32, live: &NodeLive) -> String {
    if let Some(hello) = live.hello {
        let v = hello.firmware;
        return format!("{}.{}.{}", v.major, v.minor, v.patch);
    }
    links
        .registry()
        .nodes()
        .get(id)
        .and_then(|n| n.last.as_ref())
        .and_then(|l| l.firmware.clone())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn status(
    event: EventId,
    now: f64,
    id: u32,
    online: bool,
    firmware: String,
    live: &NodeLive,
) -> NodeStatus {
    let report = live.status.as_ref();
    NodeStatus {
        v: SchemaVersion,
        id: event,
        ts: now,
        node: node_name(id),
        online,
        firmware,
        last_seen: live.last_seen,
        uptime_s: report.map(|s| u64::from(s.uptime_s)),
        battery_mv: report.map(|s| s.battery_mv),
        // A reading beyond any chip's range is a broken sensor: left out,
        // as the payload refuses it.
        temperature_c: report
            .map(|s| f64::from(s.temperature_centi_c) / 100.0)
            .filter(|t| (-60.0..=150.0).contains(t)),
        adverts_seen: report.map(|s| u64::from(s.adverts_seen)),
        queue_drops: report.map(|s| u64::from(s.queue_drops)),
        crc_failures: report.and_then(|s| s.crc_failures).map(u64::from),
        frames_rejected_by_node: report.map(|s| u64::from(s.frames_rejected)),
        frames_rejected_by_gateway: Some(live.rejected_by_gateway),
    }
}
