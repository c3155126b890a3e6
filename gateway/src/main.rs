//! `aisle`: the gateway's command line.

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Aisle's store gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode advertisements given as hex (the AD structures of the payload)
    /// and print what each one is as a JSON line. Reads standard input, one
    /// advertisement a line, when none are given.
    Inspect {
        /// Advertisements as hex, e.g. 02011a1bff1801beac...
        adverts: Vec<String>,
    },
    /// Simulate shoppers in a store and write what the anchors hear, with
    /// the ground truth, as recordings for `aisle replay`.
    Simulate(aisle_gateway::sim::cli::SimulateArgs),
    /// Run a recording through the pipeline as fast as it goes and write
    /// the positions and zone events it publishes.
    Replay(aisle_gateway::cli::replay::ReplayArgs),
    /// Run a simulated store end to end: embedded MQTT broker, shoppers
    /// walking past the anchors, the whole pipeline, and a live view of the
    /// zone events. Needs nothing installed; Ctrl-C stops it.
    Demo(aisle_gateway::cli::serve::DemoArgs),
    /// Run the gateway as configured (see `generate-config`).
    Run(aisle_gateway::cli::serve::RunArgs),
    /// Print a commented default configuration for `run`.
    GenerateConfig,
    /// Print what the gateway's own Bluetooth adapter hears, as recording
    /// lines for `aisle replay`; until Ctrl-C or `--seconds`.
    Scan(aisle_gateway::cli::scan::ScanArgs),
    /// Fit each anchor's radio model from sightings at known positions and
    /// write the calibrated layout.
    Calibrate(aisle_gateway::cli::calibrate::CalibrateArgs),
    /// Shelf nodes: provision one on a serial port, change what it runs,
    /// list them.
    Node(aisle_gateway::cli::node::NodeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { adverts } => {
            let stdin = io::stdin();
            if adverts.is_empty() && stdin.is_terminal() {
                eprintln!("reading advertisements as hex from standard input, one a line");
            }
            let summary = if adverts.is_empty() {
                aisle_gateway::inspect::inspect_lines(stdin.lock(), io::stdout(), io::stderr())
            } else {
                let joined = adverts.join("\n");
                aisle_gateway::inspect::inspect_lines(joined.as_bytes(), io::stdout(), io::stderr())
            };
            match summary {
                Ok(s) if s.rejected == 0 => ExitCode::SUCCESS,
                Ok(s) => {
                    eprintln!("{} described, {} rejected", s.described, s.rejected);
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("aisle inspect: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo(args) => aisle_gateway::cli::serve::demo(&args),
        Command::Run(args) => aisle_gateway::cli::serve::run(&args),
        Command::GenerateConfig => aisle_gateway::cli::serve::generate_config(),
        Command::Scan(args) => aisle_gateway::cli::scan::main(&args),
        Command::Simulate(args) => aisle_gateway::sim::cli::main(&args),
        Command::Replay(args) => aisle_gateway::cli::replay::main(&args),
        Command::Calibrate(args) => aisle_gateway::cli::calibrate::main(&args),
        Command::Node(args) => aisle_gateway::cli::node::main(&args),
    }
}
