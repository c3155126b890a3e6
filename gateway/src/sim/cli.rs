//! `aisle simulate`: write a recording of a simulated store, with its ground
//! truth, for `aisle replay` to score.
//!
//! ```text
//! aisle simulate --shoppers 50 --minutes 10 --seed 7 --out s.jsonl --truth t.jsonl
//! aisle simulate --print-layout > demo.toml
//! aisle simulate --print-floor > demo-floor.toml
//! aisle simulate --layout store.toml --floor store-floor.toml --out s.jsonl
//! ```
//!
//! Sightings are recording lines with `device` and no position; truth lines
//! are `{"ts", "device", "x", "y", "zone"}`, once a second for each shopper in
//! the store. Files named `.gz` are written through gzip; `-` is standard
//! output.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::store::{FloorPlan, demo_layout};
use super::{DEFAULT_START_TS, Event, SimConfig, SimError, Simulator};
use crate::layout::{Layout, LayoutError};

/// Arguments of `aisle simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Store layout (TOML). Default: the demo store.
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,
    /// The store's shelves and doors (TOML, see --print-floor). Without it a
    /// --layout is walked as open floor.
    #[arg(long, value_name = "FILE")]
    pub floor: Option<PathBuf>,
    /// How many shoppers visit.
    #[arg(long, default_value_t = 20)]
    pub shoppers: usize,
    /// Length of the run, minutes of simulated time.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Seed: the same seed gives the same recording.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Advertisements each phone sends a second.
    #[arg(long, default_value_t = 10.0, value_name = "HZ")]
    pub adv_rate: f64,
    /// Unix time the run starts at, seconds.
    #[arg(long, default_value_t = DEFAULT_START_TS, value_name = "TS")]
    pub start: f64,
    /// Where to write sightings (JSON lines; `.gz` compresses; `-` is stdout).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present_any = ["print_layout", "print_floor"]
    )]
    pub out: Option<PathBuf>,
    /// Where to write the ground truth (JSON lines), if anywhere.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Print the layout (the demo store unless --layout) as TOML and stop.
    #[arg(long, conflicts_with = "print_floor")]
    pub print_layout: bool,
    /// Print the shelves and doors (the demo store's unless --layout or
    /// --floor) as TOML and stop.
    #[arg(long)]
    pub print_floor: bool,
}

/// Why `aisle simulate` stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The layout file.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The simulation's settings or store.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// Writing an output.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Sighting lines written.
    pub sightings: u64,
    /// Truth lines written.
    pub truths: u64,
    /// Shoppers who came in during the run.
    pub shoppers: usize,
    /// Simulated seconds.
    pub seconds: u64,
}

/// A sighting line as [`crate::record::RecordedSighting`] reads it, written
/// without copying the ids.
#[derive(Serialize)]
struct Line<'a> {
    ts: f64,
    anchor: &'a str,
    device: &'a str,
    rssi: i32,
}

/// Runs `aisle simulate`, printing errors, as `main` does.
#[must_use]
pub fn main(args: &SimulateArgs) -> ExitCode {
    match run(args, &mut io::stdout().lock(), io::stderr().is_terminal()) {
        Ok(Some(s)) => {
            eprintln!(
                "simulated {} s: {} shoppers, {} sightings, {} truth samples",
                s.seconds, s.shoppers, s.sightings, s.truths
            );
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aisle simulate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `aisle simulate`: the layout or floor to `stdout` with
/// `--print-layout` or `--print-floor` (returning none), else the recording to the files named. A progress bar
/// goes to standard error when `progress`.
pub fn run(
    args: &SimulateArgs,
    stdout: &mut dyn Write,
    progress: bool,
) -> Result<Option<Summary>, SimulateError> {
    let plan = match (&args.layout, &args.floor) {
        (None, None) => FloorPlan::demo(),
        (Some(layout), None) => FloorPlan::open(Layout::load(layout)?),
        (layout, Some(floor)) => {
            let layout = match layout {
                Some(path) => Layout::load(path)?,
                None => demo_layout(),
            };
            FloorPlan::load_floor(layout, floor)?
        }
    };
    if args.print_layout || args.print_floor {
        let text = if args.print_layout {
            plan.layout.to_toml()
        } else {
            plan.floor_toml()
        };
        stdout
            .write_all(text.as_bytes())
            .map_err(|source| io_error(Path::new("-"), source))?;
        return Ok(None);
    }
    let config = SimConfig {
        shoppers: args.shoppers,
        minutes: args.minutes,
        seed: args.seed,
        adv_rate_hz: args.adv_rate,
        start_ts: args.start,
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(plan, config)?;
    let out_path = args.out.clone().unwrap_or_else(|| PathBuf::from("-"));
    let mut out = create(&out_path, stdout)?;
    let mut truth = match &args.truth {
        Some(path) => Some((path, create_file(path)?)),
        None => None,
    };

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked minutes
    let seconds = (args.minutes * 60.0).round() as u64;
    let bar = if progress {
        let bar = ProgressBar::new(seconds).with_message("simulated seconds");
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed}, eta {eta})")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = args.start;
    let mut shown = 0;
    for event in sim.by_ref() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let at = (event.ts() - start) as u64;
        if at > shown {
            shown = at;
            bar.set_position(at);
        }
        match event {
            Event::Sighting(s) => {
                // RSSI is whole dBm between -127 and 20.
                #[allow(clippy::cast_possible_truncation)]
                let line = Line {
                    ts: s.ts,
                    anchor: &s.anchor,
                    device: &s.device,
                    rssi: s.rssi as i32,
                };
                write_line(&mut out, &line).map_err(|e| io_error(&out_path, e))?;
            }
            Event::Truth(t) => {
                if let Some((path, w)) = &mut truth {
                    write_line(w, &t).map_err(|e| io_error(path, e))?;
                }
            }
        }
    }
    bar.finish_and_clear();
    finish(out).map_err(|e| io_error(&out_path, e))?;
    if let Some((path, w)) = truth {
        finish(w).map_err(|e| io_error(path, e))?;
    }
    let stats = sim.stats();
    Ok(Some(Summary {
        sightings: stats.sightings,
        truths: stats.truths,
        shoppers: stats.shoppers_arrived,
        seconds,
    }))
}

fn io_error(path: &Path, source: io::Error) -> SimulateError {
    SimulateError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_line(w: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}

/// An output file: plain or gzip by its name.
enum Sink<'a> {
    Stdout(BufWriter<&'a mut dyn Write>),
    Plain(BufWriter<File>),
    /// Buffered in front of the encoder: it pays a price per write call, and
    /// JSON is written a token at a time.
    Gzip(BufWriter<flate2::write::GzEncoder<File>>),
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

fn create<'a>(path: &Path, stdout: &'a mut dyn Write) -> Result<Sink<'a>, SimulateError> {
    if path == Path::new("-") {
        Ok(Sink::Stdout(BufWriter::with_capacity(1 << 16, stdout)))
    } else {
        create_file(path)
    }
}

fn create_file<'a>(path: &Path) -> Result<Sink<'a>, SimulateError> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Sink::Gzip(BufWriter::with_capacity(
            1 << 16,
            flate2::write::GzEncoder::new(file, flate2::Compression::fast()),
        ))
    } else {
        Sink::Plain(BufWriter::with_capacity(1 << 16, file))
    })
}

fn finish(sink: Sink<'_>) -> io::Result<()> {
    match sink {
        Sink::Stdout(mut w) => w.flush(),
        Sink::Plain(mut w) => w.flush(),
        Sink::Gzip(w) => w
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .finish()?
            .flush(),
    }
}
