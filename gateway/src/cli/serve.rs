//! The live gateway from the command line: `aisle run`, `aisle demo` and
//! `aisle generate-config`.
//!
//! ```text
//! aisle demo                            # embedded broker, simulated store, live view
//! aisle generate-config > gateway.toml  # a commented default configuration
//! aisle run --config gateway.toml       # the real service
//! ```

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::console::{OCCUPANCY_LEGEND, OccupancyLine, view_line};
use crate::config::{BrokerAddress, Config, Loaded, SourceSection};
use crate::service::{Shown, simulated_enrolment, start};
use crate::sim::store::demo_configuration;

/// How long shutdown waits for tasks (the publisher flushing its window).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Arguments of `aisle run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The gateway configuration (see `aisle generate-config`).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Arguments of `aisle demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Shoppers arriving every ten minutes.
    #[arg(long, default_value_t = 12)]
    pub shoppers: usize,
    /// Seed: the same seed sends the same shoppers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of shoppers who use the store's app; the others are only counted.
    #[arg(long, default_value_t = 0.8)]
    pub opted_in: f64,
    /// Also print every position, not only zone events.
    #[arg(long)]
    pub positions: bool,
    /// Feed what the anchors hear straight to the pipeline instead of
    /// running each anchor as a shelf node (the node firmware's scanner
    /// role on the simulated air, reporting over the node link).
    #[arg(long)]
    pub direct: bool,
}

/// `aisle generate-config`.
#[must_use]
pub fn generate_config() -> ExitCode {
    print!("{}", crate::config::default_toml());
    ExitCode::SUCCESS
}

/// `aisle run`.
#[must_use]
pub fn run(args: &RunArgs) -> ExitCode {
    let loaded = match Config::load(&args.config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("aisle run: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&loaded.config.log.level) {
        eprintln!("aisle run: {}: log.level: {e}", args.config.display());
        return ExitCode::from(2);
    }
    serve(&loaded, None)
}

/// `aisle demo`.
#[must_use]
pub fn demo(args: &DemoArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.opted_in) {
        eprintln!("aisle demo: --opted-in {} is not in 0..=1", args.opted_in);
        return ExitCode::from(2);
    }
    let spool = std::env::temp_dir().join(format!("aisle-demo-{}", std::process::id()));
    let mut loaded = demo_configuration(
        vec![SourceSection::Simulator {
            shoppers: args.shoppers,
            seed: args.seed,
            opted_in_share: args.opted_in,
            firmware_nodes: !args.direct,
        }],
        &spool,
        BrokerAddress::Embedded,
    );
    // rumqttd reports every client that hangs up as an error, the broker's
    // own readiness probe included; the demo keeps it quiet.
    loaded.config.log.level = "warn,rumqttd=off".into();
    loaded.shoppers = simulated_enrolment(&loaded);
    if let Err(e) = init_logging(&loaded.config.log.level) {
        eprintln!("aisle demo: {e}");
        return ExitCode::FAILURE;
    }
    let layout = &loaded.layout;
    println!(
        "Aisle demo: {} ({} zones, {} anchors); {} shoppers every 10 minutes, {:.0}% with the app.",
        layout.store.name.as_deref().unwrap_or(&layout.store.id),
        layout.zones.len(),
        layout.anchors.len(),
        args.shoppers,
        args.opted_in * 100.0
    );
    let code = serve_with_view(&loaded, args.positions);
    let _ = std::fs::remove_dir_all(&spool);
    code
}

/// Runs the gateway until Ctrl-C or SIGTERM. With `view`, every decision is
/// also sent there and the broker's address is printed for the person watching.
fn serve(loaded: &Loaded, view: Option<mpsc::UnboundedSender<Shown>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aisle: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let announce = view.is_some();
    runtime.block_on(async {
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let running = match start(loaded, view, &tracker, &shutdown) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("aisle: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (host, port) = &running.broker;
        tracing::info!(%host, port, "gateway running");
        if announce {
            println!("MQTT broker (embedded) on {host}:{port}; watch it with:");
            println!("  mosquitto_sub -h {host} -p {port} -t 'aisle/v1/#' -v");
            println!("Zone events as they are published (times UTC); Ctrl-C stops.");
            println!("{OCCUPANCY_LEGEND}");
        }
        wait_for_signal().await;
        shutdown.cancel();
        tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
            .await
            .is_err()
        {
            eprintln!("aisle: some tasks did not stop within {SHUTDOWN_GRACE:?}");
        }
        ExitCode::SUCCESS
    })
}

/// Serves with a live view printed to standard output, a line per event
/// and one for the zones' occupancy when it changes.
fn serve_with_view(loaded: &Loaded, positions: bool) -> ExitCode {
    let (tx, mut rx) = mpsc::unbounded_channel::<Shown>();
    let printer = std::thread::spawn(move || {
        let mut occupancy = OccupancyLine::new();
        while let Some(shown) = rx.blocking_recv() {
            let line = match &shown {
                Shown::Decision(p) => view_line(p, positions),
                Shown::Occupancy(round) => occupancy.line(round),
            };
            if let Some(line) = line {
                // Locked a line at a time: the gateway prints too.
                let mut out = io::stdout().lock();
                // A closed stdout (the demo piped into `head`) ends the view, not the gateway.
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
        }
    });
    let code = serve(loaded, Some(tx));
    let _ = printer.join();
    code
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Logs to standard error through `tracing`, filtered by `level` (a level
/// or a full filter such as `aisle_gateway=debug,rumqttc=warn`).
fn init_logging(level: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| format!("{level:?} is not a log filter: {e}"))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
    Ok(())
}
