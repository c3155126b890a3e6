//! Starting the sources a configuration names: the node link's serial
//! ports (one registry shared between them), the simulated store (with its
//! shelf nodes running the firmware core, or straight), the gateway's
//! Bluetooth adapter and recordings.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{SIGHTING_QUEUE, ServiceError};
use crate::config::{Loaded, SourceSection};
use crate::nodelink::NodeLinkSource;
use crate::pipeline::SourceSighting;
use crate::source::{SimulatedStore, play_recording};

/// Starts every source of `loaded`'s configuration, each sending into
/// `sightings_tx`; returns the node link, real or simulated, if there is
/// one.
pub(super) fn spawn_sources(
    loaded: &Loaded,
    sightings_tx: &mpsc::Sender<SourceSighting>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Option<NodeLinkSource>, ServiceError> {
    let mut node_link = None;
    for source in &loaded.config.sources {
        if let SourceSection::NodeLink {
            devices,
            state_dir,
            offline_after_s,
        } = source
        {
            let link = NodeLinkSource::open(state_dir)?.offline_after(*offline_after_s);
            for device in devices {
                let (link, device, out, stop) = (
                    link.clone(),
                    device.clone(),
                    sightings_tx.clone(),
                    shutdown.clone(),
                );
                tracker.spawn(async move { link.run(device, out, stop).await });
            }
            node_link = Some(link);
        } else if let SourceSection::Simulator {
            shoppers,
            seed,
            opted_in_share,
            firmware_nodes: true,
        } = source
        {
            let store = (*shoppers, *seed, *opted_in_share);
            let link = simulated_nodes(store, loaded, sightings_tx, tracker, shutdown)?;
            node_link.get_or_insert(link);
        } else {
            spawn_source(source, loaded, sightings_tx.clone(), tracker, shutdown);
        }
    }
    Ok(node_link)
}

fn spawn_source(
    source: &SourceSection,
    loaded: &Loaded,
    out: mpsc::Sender<SourceSighting>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let stop = shutdown.clone();
    match source.clone() {
        SourceSection::Simulator {
            shoppers,
            seed,
            opted_in_share,
            ..
        } => {
            let rotation = aisle_protocol::eid::RotationExponent::new(
                loaded.config.identify.rotation_exponent,
            );
            let Ok(rotation) = rotation else { return };
            let store = (shoppers, seed, opted_in_share);
            spawn_simulated_store(loaded, store, rotation, out, tracker, stop);
        }
        SourceSection::Bluetooth { anchor, adapter } => {
            let source = crate::bluetooth::AdapterSource {
                anchor: anchor.into(),
                adapter,
            };
            tracker.spawn(source.run(out, stop));
        }
        SourceSection::Recording { path, speed } => {
            tracker.spawn(async move {
                match play_recording(path, speed, out, stop).await {
                    Ok(()) => tracing::info!("recording played to its end"),
                    Err(error) => tracing::error!(%error, "recording stopped"),
                }
            });
        }
        // Started by `spawn_sources`, which shares one registry between its
        // ports.
        SourceSection::NodeLink { .. } => {}
    }
}

/// Runs the simulated store of `loaded`'s layout with `(shoppers, seed,
/// opted_in_share)`, its sightings into `out`, until `stop`.
fn spawn_simulated_store(
    loaded: &Loaded,
    (shoppers, seed, opted_in_share): (usize, u64, f64),
    rotation: aisle_protocol::eid::RotationExponent,
    out: mpsc::Sender<SourceSighting>,
    tracker: &TaskTracker,
    stop: CancellationToken,
) {
    let store = SimulatedStore::new(
        loaded.layout.clone(),
        shoppers,
        seed,
        opted_in_share,
        rotation,
    );
    tracker.spawn(async move {
        if let Err(error) = store.run(out, stop).await {
            tracing::error!(%error, "simulated store stopped");
        }
    });
}

/// Scan window of the simulated store's shelf nodes: a batch a second per
/// node keeps a dozen nodes' links as quiet as a real store's UARTs need
/// (about 1 KiB a second each with 30 phones in range), and the engine's
/// filter works on the batches' per-window means.
const SIMULATED_SCAN_WINDOW_MS: u16 = 1000;

/// Starts a simulated store whose anchors are shelf nodes running the
/// firmware core: the store's sightings go on the air, each node hears its
/// own, and what the nodes report comes in through a node link as from
/// serial ports. The nodes' registry (fresh keys) lives in a temporary
/// directory of its own.
fn simulated_nodes(
    (shoppers, seed, opted_in_share): (usize, u64, f64),
    loaded: &Loaded,
    out: &mpsc::Sender<SourceSighting>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<NodeLinkSource, ServiceError> {
    use crate::nodelink::{NodeEntry, NodeSettings, Registry};
    use crate::nodesim::fleet::{self, FleetError, NodePlan};
    use crate::nodesim::{emulator::carry, medium::Air};

    let rotation =
        aisle_protocol::eid::RotationExponent::new(loaded.config.identify.rotation_exponent)
            .map_err(|e| FleetError::Start(std::io::Error::other(e.to_string())))?;
    let state_dir = std::env::temp_dir().join(format!(
        "aisle-simulated-nodes-{}-{seed}",
        std::process::id()
    ));
    let mut registry = Registry::open(&state_dir)?;
    let mut air = Air::new();
    let mut plans = Vec::new();
    let desired = NodeSettings {
        scan_window_ms: SIMULATED_SCAN_WINDOW_MS,
        ..NodeSettings::default()
    };
    let mut keys = vec![[0u8; 16]; loaded.layout.anchors.len()];
    for key in &mut keys {
        getrandom::fill(key)
            .map_err(|e| FleetError::Start(std::io::Error::other(e.to_string())))?;
    }
    registry.update(|nodes| {
        nodes.nodes.clear();
        for ((i, anchor), key) in loaded.layout.anchors.iter().enumerate().zip(keys) {
            let node_id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let anchor_id: Arc<str> = Arc::from(anchor.id.as_str());
            nodes.nodes.push(NodeEntry::new(
                node_id,
                anchor.id.clone(),
                key,
                desired.clone(),
            ));
            plans.push(NodePlan {
                radio: air.radio(anchor_id.clone()),
                anchor: anchor_id,
                node_id,
                key,
                seed: seed.wrapping_add(u64::from(node_id)),
            });
        }
        Ok(())
    })?;
    let link = NodeLinkSource::open(&state_dir)?;
    let (ends, fleet_thread) = fleet::start(plans, SIMULATED_SCAN_WINDOW_MS, shutdown.clone())?;
    let mut links = Vec::with_capacity(ends.len());
    for end in ends {
        let (link, out, stop) = (link.clone(), out.clone(), shutdown.clone());
        let name = format!("simulated node {} ({})", end.node_id, end.anchor);
        links.push(
            tracker.spawn(async move { link.run_stream(&name, end.stream, out, stop).await }),
        );
    }
    // The registry goes once nothing writes to it any more.
    tracker.spawn(async move {
        for task in links {
            let _ = task.await;
        }
        let _ = tokio::task::spawn_blocking(move || {
            let _ = fleet_thread.join();
            let _ = std::fs::remove_dir_all(state_dir);
        })
        .await;
    });
    let (air_tx, air_rx) = mpsc::channel(SIGHTING_QUEUE);
    let store = (shoppers, seed, opted_in_share);
    spawn_simulated_store(loaded, store, rotation, air_tx, tracker, shutdown.clone());
    tracker.spawn(async move {
        let counts = carry(air_rx, air).await;
        tracing::info!(?counts, "simulated air closed");
    });
    Ok(link)
}

/// The enrolment a configuration's simulated stores imply: the opted-in
/// shoppers of each, so that the demo's phones resolve without a shoppers file.
#[must_use]
pub fn simulated_enrolment(loaded: &Loaded) -> Vec<crate::identify::EnrolledShopper> {
    let Ok(rotation) =
        aisle_protocol::eid::RotationExponent::new(loaded.config.identify.rotation_exponent)
    else {
        return Vec::new();
    };
    loaded
        .config
        .sources
        .iter()
        .filter_map(|s| match s {
            SourceSection::Simulator {
                shoppers,
                seed,
                opted_in_share,
                ..
            } => {
                let store = SimulatedStore::new(
                    loaded.layout.clone(),
                    *shoppers,
                    *seed,
                    *opted_in_share,
                    rotation,
                );
                let names = store.device_names();
                Some(store.phones.enrolment(names.iter().map(String::as_str)))
            }
            SourceSection::Recording { .. }
            | SourceSection::NodeLink { .. }
            | SourceSection::Bluetooth { .. } => None,
        })
        .flatten()
        .collect()
}
