//! `aisle-node-emulator`: a shelf node's firmware core run on this machine,
//! on a serial device, in a simulated store. See
//! [`aisle_gateway::nodesim::emulator`].

use std::process::ExitCode;

use aisle_gateway::nodesim::emulator::{self, EmulatorArgs};
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// A scanner node running the firmware core on the host.
#[derive(Debug, Parser)]
#[command(name = "aisle-node-emulator", version)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aisle-node-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    match runtime.block_on(emulator::run(cli.args, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("aisle-node-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}
