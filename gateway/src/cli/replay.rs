//! `aisle replay`: a recording through the gateway's pipeline, as fast as
//! the machine goes, writing the positions and zone events it publishes.
//!
//! ```text
//! aisle replay --layout store.toml --input sightings.jsonl.gz \
//!     --positions-out positions.jsonl --events-out events.jsonl \
//!     [--config gateway.toml] [--shoppers shoppers.toml] [--run-id N]
//! ```
//!
//! Output lines are the published payloads: [`aisle_protocol::event::Position`]
//! and [`aisle_protocol::event::ZoneEvent`], one JSON object a line, in the
//! order they were decided. The same input gives byte-identical output: ids
//! come from the run id (by default derived from the store id and the
//! recording's first line) and a counter. See [`crate::replay`] for time,
//! order and coverage.
//!
//! Problem lines (malformed, unknown anchor, out of order) are named on
//! standard error with their line number, the first [`MAX_LINES_SHOWN`] of
//! them, then counted in the summary.
//!
//! Exit status: 0 when the run completed and either some sighting was used
//! or no line was a problem (an empty recording is not an error); 1 when an
//! input could not be read or an output written, a setting is wrong, or
//! every line of a non-empty recording was a problem.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::engine::EngineConfig;
use crate::identify::{IdentifyConfig, load_shoppers};
use crate::layout::Layout;
use crate::publish::{EventIds, Payload};
use crate::replay::{ReplayConfig, Replayer};

/// Problem lines named one by one before only counting them.
pub const MAX_LINES_SHOWN: usize = 20;

/// Arguments of `aisle replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Store layout (TOML).
    #[arg(long, value_name = "FILE")]
    pub layout: PathBuf,
    /// Recording: sightings as JSON lines (`.gz` is read through gzip).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write position payloads (JSON lines).
    #[arg(long, value_name = "FILE")]
    pub positions_out: PathBuf,
    /// Where to write zone event payloads (JSON lines).
    #[arg(long, value_name = "FILE")]
    pub events_out: PathBuf,
    /// Gateway configuration (TOML): its `[engine]` and `[identify]` tables
    /// are used, other tables ignored. Default: built-in settings.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Enrolled shoppers (TOML), to resolve `adv` lines' EIDs.
    #[arg(long, value_name = "FILE")]
    pub shoppers: Option<PathBuf>,
    /// Run id for event ids (high 64 bits). Default: derived from the
    /// store id and the recording's first line, so a replay of the same
    /// recording repeats its ids and one of another recording does not.
    #[arg(long, value_name = "N")]
    pub run_id: Option<u64>,
}

/// The parts of the gateway's configuration a replay uses.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    engine: EngineConfig,
    #[serde(default)]
    identify: IdentifyConfig,
}

/// What a run did, for the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Non-blank lines read.
    pub lines: u64,
    /// Sightings given to the engine.
    pub sightings: u64,
    /// Lines skipped, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Lines skipped that were problems (not anonymous advertisements).
    pub problems: u64,
    /// Device tracks started: known identities and anonymous addresses, a
    /// device heard again after the engine forgot it (silent for
    /// `engine.forget_after_s`) counting again.
    pub devices: u64,
    /// The replayer's counts.
    pub counts: crate::replay::ReplayCounts,
    /// Seconds the run took.
    pub wall_s: f64,
}

impl Summary {
    /// Exit status by the policy in the module docs.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        if self.sightings > 0 || self.problems == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skipped: u64 = self.skipped.values().sum();
        write!(
            f,
            "replayed {} lines: {} sightings used, {} skipped",
            self.lines, self.sightings, skipped
        )?;
        if skipped > 0 {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        let c = &self.counts;
        write!(
            f,
            "; {} device tracks, {} positions ({} carried, {} backfilled, {} device-seconds uncovered), {} events",
            self.devices, c.positions, c.carried, c.backfilled, c.uncovered_seconds, c.events
        )?;
        if c.unpublishable > 0 {
            write!(f, ", {} outputs unpublishable", c.unpublishable)?;
        }
        #[allow(clippy::cast_precision_loss)] // a rate for people
        let rate = self.lines as f64 / self.wall_s.max(1e-9);
        write!(f, "; {:.2} s, {rate:.0} lines/s", self.wall_s)
    }
}

/// Runs `aisle replay`, printing errors and the summary, as `main` does.
#[must_use]
pub fn main(args: &ReplayArgs) -> ExitCode {
    let stderr = io::stderr();
    let progress = stderr.is_terminal();
    match run(args, &mut stderr.lock(), progress) {
        Ok(summary) => {
            eprintln!("{summary}");
            summary.exit_code()
        }
        Err(e) => {
            eprintln!("aisle replay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Counts bytes read, for the progress bar: the compressed size is the one
/// known before reading.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn open_input(path: &Path, bar: &ProgressBar) -> io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    bar.set_length(file.metadata()?.len());
    let counted = Counting {
        inner: file,
        bar: bar.clone(),
    };
    let inner: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, inner)))
}

/// Why `aisle replay` stopped before the end of its input.
#[derive(Debug, thiserror::Error)]
pub enum ReplayRunError {
    /// The layout file.
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
    /// The configuration file: which, and why.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The shoppers file.
    #[error(transparent)]
    Shoppers(#[from] crate::identify::IdentifyError),
    /// Settings the pipeline refused.
    #[error(transparent)]
    Setup(#[from] crate::replay::ReplayError),
    /// Reading the recording or writing an output.
    #[error("{path}: {source}")]
    Io {
        /// The file, with the line number when reading.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
}

fn io_error(path: &Path, source: io::Error) -> ReplayRunError {
    ReplayRunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The replayer the arguments describe: layout, configuration, shoppers.
fn replayer(args: &ReplayArgs, first_line: &str) -> Result<Replayer, ReplayRunError> {
    let layout = Layout::load(&args.layout)?;
    let file_config = match &args.config {
        Some(path) => {
            let bad = |reason: String| ReplayRunError::Config {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
            toml::from_str::<ConfigFile>(&text).map_err(|e| bad(e.message().to_owned()))?
        }
        None => ConfigFile::default(),
    };
    let shoppers = match &args.shoppers {
        Some(path) => load_shoppers(path)?,
        None => Vec::new(),
    };
    let ids = args.run_id.map_or_else(
        || EventIds::named(&format!("{}\n{first_line}", layout.store.id)),
        EventIds::new,
    );
    let config = ReplayConfig {
        engine: file_config.engine,
        identify: file_config.identify,
        ..ReplayConfig::default()
    };
    Ok(Replayer::new(&layout, config, &shoppers, ids)?)
}

/// Runs `aisle replay`; problem lines go to `log`, a progress bar to
/// standard error when `progress`. Errors are whole-run failures.
pub fn run(
    args: &ReplayArgs,
    log: &mut dyn Write,
    progress: bool,
) -> Result<Summary, ReplayRunError> {
    let started = Instant::now();
    let bar = progress_bar(progress);
    let input = open_input(&args.input, &bar).map_err(|e| io_error(&args.input, e))?;
    let mut lines = input.lines().enumerate().peekable();
    let first_line = match lines.peek() {
        Some((_, Ok(line))) => line.clone(),
        _ => String::new(),
    };
    let mut replayer = replayer(args, &first_line)?;
    let create = |path: &PathBuf| {
        File::create(path)
            .map(|f| BufWriter::with_capacity(1 << 16, f))
            .map_err(|e| io_error(path, e))
    };
    let mut positions = create(&args.positions_out)?;
    let mut events = create(&args.events_out)?;
    let mut write = |replayer: &mut Replayer| -> Result<(), ReplayRunError> {
        for payload in replayer.drain() {
            let (w, path) = match &payload {
                Payload::Position(_) => (&mut positions, &args.positions_out),
                Payload::Zone(_) => (&mut events, &args.events_out),
            };
            payload
                .write_json(&mut *w)
                .map_err(io::Error::from)
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| io_error(path, e))?;
        }
        Ok(())
    };

    let mut summary = Summary::default();
    let mut shown = 0;
    for (i, line) in lines {
        let line = line.map_err(|source| ReplayRunError::Io {
            path: format!("{}:{}", args.input.display(), i + 1),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        if let Err(skip) = replayer.line(&line) {
            *summary.skipped.entry(skip.reason()).or_default() += 1;
            if skip.is_problem() {
                summary.problems += 1;
                if shown < MAX_LINES_SHOWN {
                    shown += 1;
                    // The log is standard error; a failed write there has
                    // nowhere better to go.
                    let _ = bar.suspend(|| {
                        writeln!(log, "{}:{}: skipped: {skip}", args.input.display(), i + 1)
                    });
                }
            }
        }
        write(&mut replayer)?;
    }
    replayer.finish();
    write(&mut replayer)?;
    bar.finish_and_clear();
    for (w, path) in [(positions, &args.positions_out), (events, &args.events_out)] {
        w.into_inner()
            .map_err(io::IntoInnerError::into_error)
            .map_err(|e| io_error(path, e))?;
    }
    if summary.problems > MAX_LINES_SHOWN as u64 {
        let _ = writeln!(
            log,
            "{}: {} more problem lines not shown",
            args.input.display(),
            summary.problems - MAX_LINES_SHOWN as u64
        );
    }
    if let Some(e) = replayer.last_publish_error() {
        let _ = writeln!(log, "last unpublishable output: {e}");
    }
    summary.sightings = replayer.counts().sightings;
    summary.devices = replayer.devices();
    summary.counts = replayer.counts();
    summary.wall_s = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn progress_bar(shown: bool) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0).with_message("of the recording read");
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}
