//! `aisle-node-emulator`: one scanner node running the firmware core on the
//! host, on a serial device, hearing the shoppers of a simulated store who
//! walk past its anchor.
//!
//! Its settings flash is a file, so it keeps its node id, key and frame
//! counter across restarts as a board does: a fresh file is a node fresh
//! from the factory, which `aisle node provision --port` provisions. When
//! its serial device goes away it reboots and waits for the device.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aisle_protocol::eid::RotationExponent;
use serialport::SerialPort as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::file_flash::{FileFlash, PAGE};
use super::host::{CountingLed, HostClock, SteadySensors, TokioDelay};
use super::medium::{Air, Delivery, MediumRadio, random_address};
use super::serial_link::SerialLink;
use crate::layout::Layout;
use crate::pipeline::{SourceSighting, Subject};
use crate::sim::store::demo_layout;
use crate::source::SimulatedStore;

/// Pages of settings flash: the two the settings store needs.
const FLASH_PAGES: usize = 2;
/// Wait before reopening a lost serial device.
const REOPEN_AFTER: Duration = Duration::from_millis(500);

/// What the emulator runs.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// The serial device the node's link is on (a USB-serial adapter
    /// wired to the gateway's port, or a pty's path).
    #[arg(long, required_unless_present = "pty", conflicts_with = "pty")]
    pub port: Option<PathBuf>,
    /// Make a pseudo-terminal for the link and print the device the gateway
    /// should open (`aisle node provision --port ...`, a `node_link`
    /// source's `devices`).
    #[arg(long)]
    pub pty: bool,
    /// The node's settings flash, a file (created erased when missing).
    #[arg(long)]
    pub flash: PathBuf,
    /// The store layout; the demo store when left out.
    #[arg(long)]
    pub layout: Option<PathBuf>,
    /// The anchor of the layout this node is.
    #[arg(long)]
    pub anchor: String,
    /// Shoppers arriving in each ten minutes of the simulated store.
    #[arg(long, default_value_t = 30)]
    pub shoppers: usize,
    /// Share of them whose phones advertise the store app's EID.
    #[arg(long, default_value_t = 0.8)]
    pub opted_in_share: f64,
    /// Seed of the simulated store; the gateway's simulator with the same
    /// seed enrols the same shoppers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// EID rotation exponent of the shoppers' phones.
    #[arg(long, default_value_t = 10)]
    pub rotation_exponent: u8,
}

/// Where a host-run node's link is.
#[derive(Debug)]
pub enum LinkPort {
    /// A serial device, opened (again) by path at each boot.
    Device(PathBuf),
    /// The master side of a pseudo-terminal the node made; the gateway
    /// opens the slave. The slave is held open too, so the master reads no
    /// hang-up while the gateway is between opens.
    Pty {
        /// The node's side.
        master: serialport::TTYPort,
        /// Held, never read.
        slave: serialport::TTYPort,
    },
}

impl LinkPort {
    /// A new pseudo-terminal pair: the node's side, and the device path
    /// the gateway opens.
    pub fn pty() -> Result<(LinkPort, PathBuf), serialport::Error> {
        let (master, slave) = serialport::TTYPort::pair()?;
        let path = slave.name().map(PathBuf::from).ok_or_else(|| {
            serialport::Error::new(serialport::ErrorKind::NoDevice, "pty has no path")
        })?;
        Ok((LinkPort::Pty { master, slave }, path))
    }

    fn open(&self) -> Result<SerialLink, serialport::Error> {
        match self {
            LinkPort::Device(path) => SerialLink::open(path),
            LinkPort::Pty { master, .. } => SerialLink::over(master.try_clone_native()?),
        }
    }

    fn name(&self) -> String {
        match self {
            LinkPort::Device(path) => path.display().to_string(),
            LinkPort::Pty { slave, .. } => slave.name().unwrap_or_default(),
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The layout did not load.
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
    /// The anchor is not in the layout.
    #[error("anchor {0:?} is not in the layout")]
    UnknownAnchor(String),
    /// A bad argument.
    #[error("{0}")]
    Argument(String),
    /// The pseudo-terminal could not be made.
    #[error("making a pseudo-terminal: {0}")]
    Pty(#[from] serialport::Error),
    /// The flash file could not be used.
    #[error("{path}: {source}")]
    Flash {
        /// The file.
        path: String,
        /// What went wrong.
        source: super::file_flash::FileFlashError,
    },
}

/// Runs the node until `shutdown`.
pub async fn run(args: EmulatorArgs, shutdown: CancellationToken) -> Result<(), EmulatorError> {
    let layout = match &args.layout {
        Some(path) => Layout::load(path)?,
        None => demo_layout(),
    };
    let Some(anchor) = layout.anchors.iter().find(|a| a.id == args.anchor) else {
        return Err(EmulatorError::UnknownAnchor(args.anchor));
    };
    let anchor: Arc<str> = Arc::from(anchor.id.as_str());
    let rotation = RotationExponent::new(args.rotation_exponent)
        .map_err(|e| EmulatorError::Argument(format!("--rotation-exponent: {e}")))?;
    if !(0.0..=1.0).contains(&args.opted_in_share) {
        return Err(EmulatorError::Argument(format!(
            "--opted-in-share: {} is not in 0..=1",
            args.opted_in_share
        )));
    }
    let flash_err = |source| EmulatorError::Flash {
        path: args.flash.display().to_string(),
        source,
    };
    // Checked before anything starts, so a bad file is reported at once.
    drop(FileFlash::open(&args.flash, FLASH_PAGES).map_err(flash_err)?);

    let store = SimulatedStore::new(
        layout,
        args.shoppers,
        args.seed,
        args.opted_in_share,
        rotation,
    );
    let mut air = Air::new();
    let radio = air.radio(anchor.clone());
    let (tx, rx) = mpsc::channel(1024);
    let store_stop = shutdown.clone();
    let store_task = tokio::spawn(async move {
        if let Err(error) = store.run(tx, store_stop).await {
            tracing::error!(%error, "simulated store stopped");
        }
    });
    let air_task = tokio::spawn(carry(rx, air));

    let port = if let Some(path) = &args.port {
        LinkPort::Device(path.clone())
    } else {
        let (port, path) = LinkPort::pty()?;
        // The one line a script waits for.
        println!("{}", path.display());
        port
    };
    let local = tokio::task::LocalSet::new();
    local
        .run_until(run_node(
            &port,
            &args.flash,
            &anchor,
            radio,
            shutdown.clone(),
        ))
        .await?;
    shutdown.cancel();
    let _ = store_task.await;
    let _ = air_task.await;
    Ok(())
}

/// Puts what the simulated store's anchors hear on the air, where the
/// nodes that are those anchors pick it up; what no node is, is dropped.
pub async fn carry(mut sightings: mpsc::Receiver<SourceSighting>, air: Air) -> AirCounts {
    let mut counts = AirCounts::default();
    while let Some(s) = sightings.recv().await {
        let Subject::Advert {
            adv,
            address: Some(address),
        } = &s.subject
        else {
            continue;
        };
        match air.deliver(&s.anchor, random_address(*address), adv, s.rssi) {
            Delivery::Queued => counts.queued += 1,
            Delivery::Lost => counts.lost += 1,
            Delivery::NoSuchNode => counts.unheard += 1,
        }
    }
    counts
}

/// What [`carry`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AirCounts {
    /// Packets queued at a node's radio.
    pub queued: u64,
    /// Packets lost because the node's radio was busy.
    pub lost: u64,
    /// Packets at anchors that are not nodes.
    pub unheard: u64,
}

/// Runs the node that is `anchor` on the link `port`, with its
/// settings in the file `flash`, hearing what `radio` hears: boots it, and
/// boots it again after its link is lost, until `shutdown`. Its future is
/// not `Send`: run it on a `LocalSet`.
pub async fn run_node(
    port: &LinkPort,
    flash: &Path,
    anchor: &str,
    mut radio: MediumRadio,
    shutdown: CancellationToken,
) -> Result<(), EmulatorError> {
    let seed = crate::fnv1a(anchor);
    loop {
        let link = loop {
            match port.open() {
                Ok(link) => break link,
                Err(error) => {
                    tracing::warn!(port = %port.name(), %error, "waiting for the serial device");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(REOPEN_AFTER) => {}
                    }
                }
            }
        };
        let flash_file =
            FileFlash::open(flash, FLASH_PAGES).map_err(|source| EmulatorError::Flash {
                path: flash.display().to_string(),
                source,
            })?;
        tracing::info!(port = %port.name(), anchor, "node booted");
        let node = aisle_firmware::Node {
            radio: &mut radio,
            led: CountingLed::default(),
            delay: TokioDelay,
            link,
            flash: flash_file,
            #[allow(clippy::cast_possible_truncation)] // two pages
            flash_range: 0..(FLASH_PAGES * PAGE) as u32,
            clock: HostClock::new(),
            sensors: SteadySensors::default(),
            seed,
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            error = aisle_firmware::run(node) => {
                tracing::warn!(?error, "node stopped; rebooting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(REOPEN_AFTER) => {}
        }
    }
}
