//! `aisle scan`: what the gateway's own Bluetooth adapter hears, printed as
//! recording lines (`{"ts", "anchor", "adv", "rssi"}`), the format
//! `aisle replay` and `aisle calibrate` read. For checking an adapter where
//! it is installed, and for recording a store.
//!
//! ```text
//! aisle scan --anchor gateway --seconds 60 > heard.jsonl
//! ```

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bluetooth::AdapterSource;
use crate::pipeline::Subject;
use crate::record::RecordedSighting;

/// Arguments of `aisle scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// The anchor the adapter is, written into every line.
    #[arg(long, default_value = "gateway")]
    pub anchor: String,
    /// The adapter, such as hci0; the first one when not given.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Stop after this many seconds; otherwise Ctrl-C stops it.
    #[arg(long)]
    pub seconds: Option<f64>,
}

/// `aisle scan`.
#[must_use]
pub fn main(args: &ScanArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aisle scan: {e}");
            return ExitCode::FAILURE;
        }
    };
    let limit = match args.seconds.map(Duration::try_from_secs_f64).transpose() {
        Ok(limit) => limit,
        Err(e) => {
            eprintln!("aisle scan: --seconds: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(scan(args, limit))
}

async fn scan(args: &ScanArgs, limit: Option<Duration>) -> ExitCode {
    let source = AdapterSource {
        anchor: args.anchor.as_str().into(),
        adapter: args.adapter.clone(),
    };
    // A second of sightings from a busy store.
    let (tx, mut rx) = mpsc::channel(1024);
    let stop = CancellationToken::new();
    let task = tokio::spawn(source.run(tx, stop.clone()));
    let deadline = async {
        match limit {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut out = io::stdout().lock();
    let mut heard = 0u64;
    loop {
        let sighting = tokio::select! {
            () = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => break,
            sighting = rx.recv() => match sighting {
                Some(s) => s,
                None => break,
            },
        };
        let Subject::Advert { adv, .. } = sighting.subject else {
            continue;
        };
        let line = RecordedSighting {
            ts: sighting.ts,
            anchor: sighting.anchor.to_string(),
            device: None,
            adv: Some(hex::encode(adv)),
            rssi: sighting.rssi,
            x: None,
            y: None,
        };
        let written = serde_json::to_writer(&mut out, &line)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out));
        if let Err(e) = written {
            eprintln!("aisle scan: {e}");
            break;
        }
        heard += 1;
    }
    stop.cancel();
    let _ = task.await;
    eprintln!("aisle scan: {heard} sightings");
    ExitCode::SUCCESS
}
