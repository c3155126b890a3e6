//! A fleet of shelf nodes running the firmware core on the host, one per
//! anchor of a simulated store, each linked to the gateway by an in-memory
//! byte stream as a UART would link it.
//!
//! The firmware's futures are not `Send` (its traits are written for one
//! core), so the fleet runs on a thread of its own with a single-threaded
//! runtime; the gateway's ends of the links are ordinary tokio streams.

use std::sync::Arc;
use std::thread::JoinHandle;

use aisle_firmware::protocol::link::{NodeKey, Role};
use aisle_firmware::ram_flash::RamFlash;
use aisle_firmware::{Node, Settings, settings};
use embedded_io_adapters::tokio_1::FromTokio;
use tokio::io::DuplexStream;
use tokio_util::sync::CancellationToken;

use super::host::{CountingLed, HostClock, SteadySensors, TokioDelay};
use super::medium::MediumRadio;

/// Settings flash of a host-run node: two 4 KiB pages, the least the
/// settings store works with.
pub const FLASH_SIZE: usize = 8192;
/// Bytes in flight on each node's link; a 1 Mbaud UART's FIFO and driver
/// buffers hold about this much.
const LINK_BUFFER: usize = 4096;

/// One node to start: its radio in the simulated air and what it is
/// provisioned with.
pub struct NodePlan {
    /// The anchor it is.
    pub anchor: Arc<str>,
    /// Its node id.
    pub node_id: u32,
    /// Its link key.
    pub key: NodeKey,
    /// Its radio.
    pub radio: MediumRadio,
    /// Seeds its advDelay generator and beacon address.
    pub seed: u64,
}

/// The gateway's end of one node's link.
pub struct NodeLinkEnd {
    /// The anchor the node is.
    pub anchor: Arc<str>,
    /// Its node id.
    pub node_id: u32,
    /// Bytes from and to the node.
    pub stream: DuplexStream,
}

/// Why the fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The host could not start the fleet's thread or runtime.
    #[error("starting the node fleet: {0}")]
    Start(#[from] std::io::Error),
    /// A node's settings did not fit its flash.
    #[error("provisioning node {node_id}: {reason}")]
    Provision {
        /// The node.
        node_id: u32,
        /// What the settings store said.
        reason: String,
    },
}

/// Starts `plans` as scanner nodes, provisioned, on a thread of their own
/// until `shutdown`. Returns the gateway's ends of their links and the
/// thread, which ends soon after `shutdown`.
pub fn start(
    plans: Vec<NodePlan>,
    scan_window_ms: u16,
    shutdown: CancellationToken,
) -> Result<(Vec<NodeLinkEnd>, JoinHandle<()>), FleetError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let mut ends = Vec::with_capacity(plans.len());
    let mut nodes = Vec::with_capacity(plans.len());
    for plan in plans {
        let (gateway_end, node_end) = tokio::io::duplex(LINK_BUFFER);
        let mut flash = RamFlash::<FLASH_SIZE>::new();
        let provisioned = Settings {
            node_id: plan.node_id,
            key: plan.key,
            role: Role::Scanner,
            scan_window_ms,
            ..Settings::FACTORY
        };
        // RAM flash never waits, so a bare poll loop runs it to the end
        // (a tokio `block_on` here would refuse inside a caller's runtime).
        embassy_futures::block_on(settings::store(&mut flash, flash_range(), &provisioned))
            .map_err(|e| FleetError::Provision {
                node_id: plan.node_id,
                reason: format!("{e:?}"),
            })?;
        ends.push(NodeLinkEnd {
            anchor: plan.anchor.clone(),
            node_id: plan.node_id,
            stream: gateway_end,
        });
        nodes.push((plan, node_end, flash));
    }
    let thread = std::thread::Builder::new()
        .name("aisle-nodes".into())
        .spawn(move || {
            let local = tokio::task::LocalSet::new();
            for (plan, node_end, flash) in nodes {
                let shutdown = shutdown.clone();
                local.spawn_local(async move {
                    let node = Node {
                        radio: plan.radio,
                        led: CountingLed::default(),
                        delay: TokioDelay,
                        link: FromTokio::new(node_end),
                        flash,
                        flash_range: flash_range(),
                        clock: HostClock::new(),
                        sensors: SteadySensors::default(),
                        seed: plan.seed,
                    };
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        error = aisle_firmware::run(node) => {
                            tracing::warn!(anchor = %plan.anchor, node = plan.node_id, ?error, "node stopped");
                        }
                    }
                });
            }
            runtime.block_on(local);
        })?;
    Ok((ends, thread))
}

fn flash_range() -> core::ops::Range<u32> {
    #[allow(clippy::cast_possible_truncation)] // 8 KiB
    let end = FLASH_SIZE as u32;
    0..end
}
