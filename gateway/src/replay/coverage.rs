//! Coverage: at least one published position per device for every second
//! of recording time in which it was heard.
//!
//! The engine fixes a device every `locate_interval_s` of its sighting time,
//! and waits one interval before the first fix of a track (one anchor's
//! word would put the device at that anchor). So a second can pass with
//! sightings but no fix: a device first heard late in a second, or one heard
//! only once or twice in it. When such a second closes, the device's last
//! position is carried into it (stamped at its last sighting in that
//! second) if that fix is recent; otherwise the second is owed and filled
//! from the device's next fix, if that comes within [`BACKFILL_MAX_S`].
//!
//! A second closes when its device is heard in a later one, or when the
//! recording's clock has left it behind ([`Coverage::sweep`]).

use crate::engine::{DeviceId, Position};

/// Longest a fix may follow an owed second and still stand for it, seconds.
/// Two locate intervals at the default 0.5 s, with room for a missed advert:
/// a fix later than that describes another moment.
pub const BACKFILL_MAX_S: f64 = 2.0;

/// How old the last fix may be, relative to the start of the second being
/// closed, and still be carried into it, seconds.
pub const CARRY_MAX_S: f64 = 1.0;

#[derive(Debug, Clone, Default)]
struct DeviceSeconds {
    /// The open second, and the last sighting time in it.
    open: Option<(i64, f64)>,
    covered: bool,
    last_fix: Option<Position>,
    /// Seconds closed without a fix, by their last sighting time.
    owed: Vec<f64>,
}

/// Per-device second bookkeeping. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    devices: Vec<DeviceSeconds>,
    /// Devices with an open second, for the sweep.
    open: Vec<DeviceId>,
    /// Owed seconds that no fix came for.
    pub uncovered: u64,
    /// Positions carried into a second from an earlier fix.
    pub carried: u64,
    /// Positions filled into an owed second from a later fix.
    pub backfilled: u64,
}

#[allow(clippy::cast_possible_truncation)] // Unix seconds fit i64
fn second(ts: f64) -> i64 {
    ts.floor() as i64
}

impl Coverage {
    fn slot(&mut self, device: DeviceId) -> &mut DeviceSeconds {
        let i = device.0 as usize;
        if i >= self.devices.len() {
            self.devices.resize_with(i + 1, DeviceSeconds::default);
        }
        &mut self.devices[i]
    }

    /// `device` was heard at `ts`; positions for closed seconds go to `fill`.
    pub fn heard(&mut self, device: DeviceId, ts: f64, fill: &mut impl FnMut(Position)) {
        let sec = second(ts);
        match self.slot(device).open {
            Some((open, last)) if open == sec => self.slot(device).open = Some((sec, last.max(ts))),
            // A late line for a second already closed: nothing to do.
            Some((open, _)) if open > sec => {}
            Some(_) => {
                self.close(device, fill);
                self.open_second(device, sec, ts);
            }
            None => self.open_second(device, sec, ts),
        }
    }

    fn open_second(&mut self, device: DeviceId, sec: i64, ts: f64) {
        let slot = self.slot(device);
        slot.open = Some((sec, ts));
        slot.covered = false;
        self.open.push(device);
    }

    /// The engine fixed `fix.device`: it covers its second, and fills the
    /// device's owed seconds (through `fill`) when close enough.
    pub fn fixed(&mut self, fix: Position, fill: &mut impl FnMut(Position)) {
        let slot = self.slot(fix.device);
        if slot.open.is_some_and(|(sec, _)| sec == second(fix.ts)) {
            slot.covered = true;
        }
        slot.last_fix = Some(fix);
        let owed = std::mem::take(&mut slot.owed);
        for ts in owed {
            if fix.ts - ts <= BACKFILL_MAX_S {
                self.backfilled += 1;
                fill(Position { ts, ..fix });
            } else {
                self.uncovered += 1;
            }
        }
    }

    /// Closes every open second before `now`'s.
    pub fn sweep(&mut self, now: f64, fill: &mut impl FnMut(Position)) {
        let sec = second(now);
        let mut open = std::mem::take(&mut self.open);
        open.retain(|&d| {
            let due = self.devices[d.0 as usize]
                .open
                .is_some_and(|(s, _)| s < sec);
            if due {
                self.close(d, fill);
            }
            !due
        });
        // `close` does not reopen, so nothing was pushed meanwhile.
        self.open = open;
    }

    /// `device` is forgotten (long silent): no fix will come for its owed
    /// seconds, and its number may next stand for another device, which
    /// must inherit none of this one's seconds or fixes.
    pub fn forget(&mut self, device: DeviceId) {
        let Some(slot) = self.devices.get_mut(device.0 as usize) else {
            return;
        };
        let slot = std::mem::take(slot);
        self.uncovered += slot.owed.len() as u64;
        if slot.open.is_some() {
            // Sweeps close seconds long before a device is forgotten; one
            // still open will get no fix either.
            self.uncovered += u64::from(!slot.covered);
            self.open.retain(|&d| d != device);
        }
    }

    /// Closes every open second and gives up on owed ones.
    pub fn finish(&mut self, fill: &mut impl FnMut(Position)) {
        for d in std::mem::take(&mut self.open) {
            self.close(d, fill);
        }
        for slot in &mut self.devices {
            self.uncovered += slot.owed.len() as u64;
            slot.owed.clear();
        }
    }

    /// Closes `device`'s open second, filling it if no fix covered it.
    fn close(&mut self, device: DeviceId, fill: &mut impl FnMut(Position)) {
        let slot = &mut self.devices[device.0 as usize];
        let Some((sec, last_ts)) = slot.open.take() else {
            return;
        };
        if slot.covered {
            return;
        }
        #[allow(clippy::cast_precision_loss)] // Unix seconds fit 2^53
        let start = sec as f64;
        match slot.last_fix {
            Some(fix) if fix.ts >= start - CARRY_MAX_S => {
                self.carried += 1;
                fill(Position { ts: last_ts, ..fix });
            }
            _ => slot.owed.push(last_ts),
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // times set exactly, compared exactly
mod tests {
    use super::*;

    const D: DeviceId = DeviceId(0);

    fn fix(ts: f64) -> Position {
        Position {
            ts,
            device: D,
            x: 1.0,
            y: 2.0,
            zone: None,
            confidence: 0.5,
        }
    }

    #[test]
    fn owed_first_second_is_backfilled_and_gaps_are_carried() {
        let mut c = Coverage::default();
        let mut filled = Vec::new();
        let mut fill = |p: Position| filled.push(p.ts);
        // Heard at 10.7 and 10.9, first fix at 11.2: second 10 is owed.
        c.heard(D, 10.7, &mut fill);
        c.heard(D, 10.9, &mut fill);
        c.heard(D, 11.2, &mut fill);
        c.fixed(fix(11.2), &mut fill);
        // Second 11 covered; second 12 heard once with no fix: carried.
        c.heard(D, 12.1, &mut fill);
        c.sweep(13.0, &mut fill);
        c.finish(&mut fill);
        assert_eq!(filled, [10.9, 12.1]);
        assert_eq!((c.backfilled, c.carried, c.uncovered), (1, 1, 0));
    }

    #[test]
    fn a_fix_long_after_an_owed_second_does_not_stand_for_it() {
        let mut c = Coverage::default();
        let mut filled = Vec::new();
        let mut fill = |p: Position| filled.push(p.ts);
        c.heard(D, 10.5, &mut fill);
        c.sweep(12.0, &mut fill);
        c.heard(D, 40.0, &mut fill);
        c.fixed(fix(40.6), &mut fill);
        c.finish(&mut fill);
        assert!(filled.is_empty());
        assert_eq!(c.uncovered, 1);
    }

    #[test]
    fn a_forgotten_number_passes_on_no_seconds_or_fixes() {
        let mut c = Coverage::default();
        let mut filled = Vec::new();
        let mut fill = |p: Position| filled.push(p.ts);
        // The first device: fixed at 5.2, then heard in second 10.
        c.heard(D, 5.1, &mut fill);
        c.fixed(fix(5.2), &mut fill);
        c.heard(D, 10.5, &mut fill);
        c.forget(D);
        assert_eq!(c.uncovered, 1, "its open second is given up");
        // A new device under the same number: its fix at 11.8 would have
        // stood for the old device's second 10 (within BACKFILL_MAX_S).
        c.heard(D, 11.7, &mut fill);
        c.fixed(fix(11.8), &mut fill);
        c.finish(&mut fill);
        assert!(filled.is_empty(), "{filled:?}");
        assert_eq!(c.uncovered, 1);
    }
}
