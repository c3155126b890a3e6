//! The live console of `aisle demo`: a line per zone event (and position,
//! when asked), and a compact line of every zone's occupancy whenever it
//! changes.
//!
//! ```text
//! 12:04:05  enter  shopper-0003   meat-counter
//! 12:04:10  occupancy  aisle-1 2/1  produce 0/3  meat-counter 1/0  (6 zones empty)
//! 12:04:41  exit   shopper-0003   meat-counter  after 36 s
//! ```

use std::fmt::Write as _;

use aisle_protocol::event::{ZoneEventKind, ZoneOccupancy};

use crate::publish::Payload;
use crate::service::Published;

/// What the console says about occupancy figures, told once at the start.
pub const OCCUPANCY_LEGEND: &str =
    "Occupancy as known/anonymous devices per zone, when it changes (at most every 5 s).";

/// One line of the live view, or none for what it does not show.
#[must_use]
pub fn view_line(p: &Published, positions: bool) -> Option<String> {
    match &p.payload {
        Payload::Zone(e) => {
            let (kind, dwell) = match e.kind {
                ZoneEventKind::Enter => ("enter", String::new()),
                ZoneEventKind::Dwell { dwell_s } => ("dwell", format!("  {dwell_s:.0} s")),
                ZoneEventKind::Exit { dwell_s } => ("exit", format!("  after {dwell_s:.0} s")),
            };
            Some(format!(
                "{}  {kind:<5}  {:<14} {}{dwell}",
                clock(e.ts),
                e.device,
                e.zone
            ))
        }
        Payload::Position(pos) if positions => Some(format!(
            "{}  at     {:<14} ({:5.1}, {:5.1}) {} {:.0}%",
            clock(pos.ts),
            pos.device,
            pos.x,
            pos.y,
            pos.zone.as_deref().unwrap_or("-"),
            pos.confidence * 100.0
        )),
        Payload::Position(_) => None,
    }
}

/// The occupancy line: remembers the figures last shown, so that a round
/// of figures is shown only when a count moved. The gateway sends a round
/// every `OCCUPANCY_EVERY` (5 s), which bounds how often a line comes.
#[derive(Debug, Clone, Default)]
pub struct OccupancyLine {
    shown: Option<Vec<(String, u32, u32)>>,
}

impl OccupancyLine {
    /// A console that has shown no figures yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The line for a round of figures (one per zone, in layout order), or
    /// none when every count is as last shown. The first round is always
    /// shown, empty zones and all.
    pub fn line(&mut self, round: &[ZoneOccupancy]) -> Option<String> {
        let counts: Vec<(String, u32, u32)> = round
            .iter()
            .map(|z| (z.zone.clone(), z.known, z.anonymous))
            .collect();
        if self.shown.as_ref() == Some(&counts) {
            return None;
        }
        let ts = round.iter().map(|z| z.ts).fold(f64::NEG_INFINITY, f64::max);
        let mut line = format!("{}  occupancy ", clock(ts));
        let mut empty = 0;
        for (zone, known, anonymous) in &counts {
            if known + anonymous == 0 {
                empty += 1;
            } else {
                let _ = write!(line, " {zone} {known}/{anonymous} ");
            }
        }
        match empty {
            0 => {}
            _ if empty == counts.len() => line.push_str(" every zone empty"),
            1 => line.push_str(" (1 zone empty)"),
            n => {
                let _ = write!(line, " ({n} zones empty)");
            }
        }
        self.shown = Some(counts);
        Some(line.trim_end().to_owned())
    }
}

/// `HH:MM:SS` of a Unix time, UTC.
fn clock(ts: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = ts.max(0.0) as u64 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_protocol::event::{EventId, SchemaVersion, ZoneEvent};

    #[test]
    fn the_view_shows_zone_events_one_line_each() {
        let p = Published {
            topic: "t".into(),
            payload: Payload::Zone(ZoneEvent {
                v: SchemaVersion,
                id: EventId::from_u128(1),
                kind: ZoneEventKind::Exit { dwell_s: 36.4 },
                ts: 1_767_269_045.0,
                device: "shopper-0003".into(),
                zone: "meat-counter".into(),
                entered_at: 1_767_269_009.0,
            }),
        };
        assert_eq!(
            view_line(&p, false).unwrap(),
            "12:04:05  exit   shopper-0003   meat-counter  after 36 s"
        );
    }

    fn round(ts: f64, counts: &[(&str, u32, u32)]) -> Vec<ZoneOccupancy> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &(zone, known, anonymous))| ZoneOccupancy {
                v: SchemaVersion,
                id: EventId::from_u128(i as u128),
                ts,
                zone: zone.into(),
                known,
                anonymous,
            })
            .collect()
    }

    #[test]
    fn occupancy_is_one_line_when_a_count_moves_and_none_otherwise() {
        let mut console = OccupancyLine::new();
        let empty = [("entrance", 0, 0), ("aisle-1", 0, 0), ("produce", 0, 0)];
        assert_eq!(
            console.line(&round(1_767_268_800.0, &empty)).unwrap(),
            "12:00:00  occupancy  every zone empty"
        );
        assert_eq!(console.line(&round(1_767_268_805.0, &empty)), None);
        let busy = [("entrance", 1, 2), ("aisle-1", 0, 0), ("produce", 0, 3)];
        assert_eq!(
            console.line(&round(1_767_268_810.0, &busy)).unwrap(),
            "12:00:10  occupancy  entrance 1/2  produce 0/3  (1 zone empty)"
        );
        assert_eq!(console.line(&round(1_767_268_815.0, &busy)), None);
        // One anonymous device moves on: a new line.
        let moved = [("entrance", 1, 1), ("aisle-1", 0, 1), ("produce", 0, 3)];
        assert_eq!(
            console.line(&round(1_767_268_820.0, &moved)).unwrap(),
            "12:00:20  occupancy  entrance 1/1  aisle-1 0/1  produce 0/3"
        );
    }
}
