//! `aisle calibrate`: fit each anchor's radio model from sightings taken at
//! known positions and write the layout with the fitted values.
//!
//! ```text
//! aisle calibrate --layout room.toml --input reference.jsonl.gz --out calibrated.toml
//! ```
//!
//! The fit report (one row per anchor) goes to standard output; problem
//! lines (named by line number, the first [`super::replay::MAX_LINES_SHOWN`])
//! and the counts of sightings without a true position or with an unknown
//! anchor go to standard error. Exit status 1 when an input cannot be read,
//! the output cannot be written, or no anchor could be fitted.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Deserialize;

use super::replay::MAX_LINES_SHOWN;
use crate::engine::EngineConfig;
use crate::engine::calibrate::{AnchorFit, CalibrateConfig, calibrate};
use crate::layout::Layout;
use crate::record::{open, read_all};

/// Arguments of `aisle calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Store layout (TOML) whose anchors are fitted.
    #[arg(long, value_name = "FILE")]
    pub layout: PathBuf,
    /// Reference recording: sightings with `x` and `y` (`.gz` is read
    /// through gzip).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the calibrated layout (TOML).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Gateway configuration (TOML): `[engine.locate]` gives the device
    /// and default anchor heights the distances use.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Reference points an anchor needs to be fitted.
    #[arg(long, default_value_t = CalibrateConfig::default().min_points)]
    pub min_points: usize,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    engine: EngineConfig,
}

/// The fit report: one row per anchor.
#[must_use]
pub fn report(fits: &[AnchorFit]) -> String {
    let width = fits
        .iter()
        .map(|f| f.anchor.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = format!(
        "{:<width$}  {:>8}  {:>5}  {:>15}  {:>6}\n",
        "anchor", "p0 dBm", "n", "residual RMS dB", "points"
    );
    for f in fits {
        let _ = if f.fitted {
            writeln!(
                out,
                "{:<width$}  {:>8.1}  {:>5.2}  {:>15.2}  {:>6}",
                f.anchor, f.rssi_at_1m, f.path_loss_exponent, f.residual_rms_db, f.points
            )
        } else {
            writeln!(
                out,
                "{:<width$}  {:>8.1}  {:>5.2}  {:>15}  {:>6}  not fitted: too few points, kept",
                f.anchor, f.rssi_at_1m, f.path_loss_exponent, "-", f.points
            )
        };
    }
    out
}

/// Runs `aisle calibrate`, printing as described in the module docs.
#[must_use]
pub fn main(args: &CalibrateArgs) -> ExitCode {
    match run(args, &mut io::stdout().lock(), &mut io::stderr().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aisle calibrate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why `aisle calibrate` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
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
    /// Reading the recording or writing the report or the layout.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// No anchor had `--min-points` reference points.
    #[error("no anchor had enough reference points; nothing written")]
    NothingFitted,
}

fn io_error(path: &std::path::Path, source: io::Error) -> CalibrateError {
    CalibrateError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Runs `aisle calibrate`: the report to `stdout`, problems and counts to
/// `log`.
pub fn run(
    args: &CalibrateArgs,
    stdout: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CalibrateError> {
    let layout = Layout::load(&args.layout)?;
    let engine = match &args.config {
        Some(path) => {
            let bad = |reason: String| CalibrateError::Config {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
            toml::from_str::<ConfigFile>(&text)
                .map_err(|e| bad(e.message().to_owned()))?
                .engine
        }
        None => EngineConfig::default(),
    };
    let input = args.input.display();
    let mut sightings = Vec::new();
    let skipped = open(&args.input)
        .and_then(|r| read_all(r, |s| sightings.push(s)))
        .map_err(|e| io_error(&args.input, e))?;
    for s in skipped.iter().take(MAX_LINES_SHOWN) {
        let _ = writeln!(log, "{input}:{}: skipped: {}", s.line, s.error);
    }
    if skipped.len() > MAX_LINES_SHOWN {
        let _ = writeln!(
            log,
            "{input}: {} more bad lines not shown",
            skipped.len() - MAX_LINES_SHOWN
        );
    }
    let config = CalibrateConfig {
        min_points: args.min_points,
        ..CalibrateConfig::default()
    };
    let mut result = calibrate(&layout, &sightings, &engine.locate, &config);
    // Hundredths of a dB and thousandths of the exponent are below what the
    // fit can tell; rounded, the file reads and diffs well.
    for a in &mut result.layout.anchors {
        a.rssi_at_1m = a.rssi_at_1m.map(|p0| (p0 * 100.0).round() / 100.0);
        a.path_loss_exponent = a.path_loss_exponent.map(|n| (n * 1000.0).round() / 1000.0);
    }
    stdout
        .write_all(report(&result.fits).as_bytes())
        .map_err(|e| io_error(std::path::Path::new("-"), e))?;
    let fitted = result.fits.iter().filter(|f| f.fitted).count();
    let _ = writeln!(
        log,
        "{} lines read: {} sightings used, {} without x/y, {} for anchors not in the layout, \
         {} bad lines; {fitted} of {} anchors fitted",
        sightings.len() + skipped.len(),
        sightings.len() - result.no_position - result.unknown_anchor,
        result.no_position,
        result.unknown_anchor,
        skipped.len(),
        result.fits.len(),
    );
    if fitted == 0 {
        return Err(CalibrateError::NothingFitted);
    }
    let map = &result.shadowing;
    if !map.is_empty() {
        let _ = writeln!(
            log,
            "shadowing map: {} residuals, kernel {:.2} m across rays from the anchor and {:.2} m \
             along them (the shape that best predicts each residual from the others)",
            map.samples.len(),
            map.bandwidth_m,
            map.along_ray_m,
        );
    }
    let mut layout = result.layout;
    // The map goes with the models it was measured against.
    layout.shadowing = (!result.shadowing.is_empty()).then_some(result.shadowing);
    std::fs::write(&args.out, layout.to_toml()).map_err(|e| io_error(&args.out, e))?;
    Ok(())
}
