//! Recordings: sightings one JSON object a line, as `aisle simulate` writes
//! them, as `aisle replay` and `aisle calibrate` read them, and as the
//! reference-room data set ships.
//!
//! ```json
//! {"ts": 1567783106.707, "anchor": "sensor22", "device": "beacon1", "rssi": -78}
//! {"ts": 1567783106.9, "anchor": "sensor22", "adv": "0201060303aafe0d16aafe30f6a9b76a71c5f89290", "rssi": -71}
//! {"ts": 1567783107.1, "anchor": "sensor10", "device": "beacon1", "rssi": -71, "x": 5.17, "y": 4.39}
//! ```
//!
//! `device` is an identity already resolved by whoever made the recording;
//! `adv` is the raw advertisement (its AD structures, as hex) for the
//! pipeline to identify. `x` and `y`, when present, are the true position
//! (calibration and test data). Files ending `.gz` are read through gzip.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One recorded sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedSighting {
    /// Unix time, seconds.
    pub ts: f64,
    /// The anchor that heard it.
    pub anchor: String,
    /// An identity resolved by the recorder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The advertisement's AD structures, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adv: Option<String>,
    /// Received signal strength, dBm.
    pub rssi: f64,
    /// True x position, metres, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    /// True y position, metres, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
}

/// Strongest and weakest RSSI a BLE receiver reports; anything outside is a
/// broken reading, not a signal.
pub const RSSI_RANGE: std::ops::RangeInclusive<f64> = -127.0..=20.0;

/// Why a line of a recording was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Not JSON, or not a sighting.
    #[error("not a sighting: {0}")]
    Json(String),
    /// Neither `device` nor `adv`, or both.
    #[error("needs exactly one of \"device\" and \"adv\"")]
    Identity,
    /// A timestamp that is not a finite, non-negative number.
    #[error("ts {0} is not a time")]
    Time(f64),
    /// An RSSI no receiver reports.
    #[error("rssi {0} is outside -127..=20 dBm")]
    Rssi(f64),
}

impl RecordedSighting {
    /// Parses and checks one line.
    pub fn parse(line: &str) -> Result<Self, LineError> {
        let s: RecordedSighting =
            serde_json::from_str(line).map_err(|e| LineError::Json(e.to_string()))?;
        if s.device.is_some() == s.adv.is_some() {
            return Err(LineError::Identity);
        }
        if !s.ts.is_finite() || s.ts < 0.0 {
            return Err(LineError::Time(s.ts));
        }
        if !RSSI_RANGE.contains(&s.rssi) {
            return Err(LineError::Rssi(s.rssi));
        }
        Ok(s)
    }

    /// The true position, when the line carries one.
    #[must_use]
    pub fn truth(&self) -> Option<crate::layout::Point> {
        Some(crate::layout::Point::new(self.x?, self.y?))
    }
}

/// Opens a recording, through gzip when the name ends `.gz`.
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)?;
    let inner: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, inner)))
}

/// A line that was skipped, with its 1-based number.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// Line number, from 1.
    pub line: usize,
    /// Why.
    pub error: LineError,
}

/// Reads every line of a recording, handing good sightings to `each` and
/// returning the skipped lines (blank lines are neither).
pub fn read_all(
    input: impl BufRead,
    mut each: impl FnMut(RecordedSighting),
) -> std::io::Result<Vec<Skipped>> {
    let mut skipped = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match RecordedSighting::parse(&line) {
            Ok(s) => each(s),
            Err(error) => skipped.push(Skipped { line: i + 1, error }),
        }
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_good_lines_and_names_bad_ones() {
        let input = "\
{\"ts\": 1.5, \"anchor\": \"a\", \"device\": \"d\", \"rssi\": -70}

{\"ts\": 2.0, \"anchor\": \"a\", \"rssi\": -70}
not json
{\"ts\": 2.0, \"anchor\": \"a\", \"device\": \"d\", \"rssi\": 99}
{\"ts\": -1, \"anchor\": \"a\", \"device\": \"d\", \"rssi\": -50}
{\"ts\": 3.0, \"anchor\": \"b\", \"adv\": \"020106\", \"rssi\": -60, \"x\": 1.0, \"y\": 2.0}
";
        let mut good = Vec::new();
        let skipped = read_all(input.as_bytes(), |s| good.push(s)).unwrap();
        assert_eq!(good.len(), 2);
        assert_eq!(good[1].truth(), Some(crate::layout::Point::new(1.0, 2.0)));
        let lines: Vec<_> = skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert_eq!(skipped[0].error, LineError::Identity);
        assert!(matches!(skipped[1].error, LineError::Json(_)));
        assert_eq!(skipped[2].error, LineError::Rssi(99.0));
        assert_eq!(skipped[3].error, LineError::Time(-1.0));
    }

    #[test]
    fn reads_the_reference_room_through_gzip() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/reference-room/calibration.jsonl.gz");
        if !path.exists() {
            eprintln!(
                "skipped: {} is absent (the shared data sits beside the checkout in CI)",
                path.display()
            );
            return;
        }
        let mut n = 0;
        let skipped = read_all(open(&path).unwrap(), |s| {
            assert!(s.truth().is_some());
            n += 1;
        })
        .unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert!(n > 50_000, "{n}");
    }
}
