//! Inspecting advertisements by hand: what a store owner runs to see what a
//! shelf node or a phone is sending.

use std::io::{BufRead, Write};

use aisle_protocol::beacon::Frame;
use serde_json::{Value, json};

/// Why one input line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The line is not hexadecimal.
    #[error("not hex: {0}")]
    Hex(#[from] hex::FromHexError),
    /// The bytes are not a sound advertisement.
    #[error("{0}")]
    Advertisement(#[from] aisle_protocol::Error),
}

/// Describes one advertisement payload (its AD structures) as JSON.
///
/// Phones that are not ours come out as their kind alone, with no identifier.
pub fn describe(adv: &[u8]) -> Result<Value, aisle_protocol::Error> {
    let frame = Frame::classify(adv)?;
    let details = match frame {
        Frame::IBeacon(b) => json!(b),
        Frame::AltBeacon(b) => json!(b),
        Frame::EddystoneUid(b) => json!(b),
        Frame::EddystoneTlm(b) => json!(b),
        Frame::EddystoneEid(b) => json!(b),
        Frame::EddystoneUrl(u) => json!({ "tx_power": u.tx_power, "url": u.to_string() }),
        Frame::Apple { kind } => json!({ "kind": kind }),
        Frame::Microsoft { scenario } => json!({ "scenario": scenario }),
        _ => Value::Null,
    };
    Ok(json!({
        "kind": frame.kind(),
        "identity": frame.identity().map(|i| i.to_string()),
        "frame": details,
    }))
}

/// Parses one line of hex (spaces and colons between bytes allowed) and describes it.
pub fn describe_hex(line: &str) -> Result<Value, InspectError> {
    let digits: String = line
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let bytes = hex::decode(digits)?;
    Ok(describe(&bytes)?)
}

/// What [`inspect_lines`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Lines described.
    pub described: usize,
    /// Lines reported as bad and skipped.
    pub rejected: usize,
}

/// Describes each non-empty line of `input` as one JSON line on `out`; a bad
/// line is reported on `errors` with its line number and skipped.
pub fn inspect_lines(
    input: impl BufRead,
    mut out: impl Write,
    mut errors: impl Write,
) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match describe_hex(&line) {
            Ok(v) => {
                writeln!(out, "{v}")?;
                summary.described += 1;
            }
            Err(e) => {
                writeln!(errors, "line {}: {e}", i + 1)?;
                summary.rejected += 1;
            }
        }
    }
    Ok(summary)
}
