//! A node's sighting entries as the pipeline takes them: the time of the
//! batch on the gateway's clock, and who each entry is of.

use aisle_protocol::beacon::{FrameKind, Identity};
use aisle_protocol::link::Sighting;

use crate::pipeline::Subject;

/// How fast a node's clock may run slow against the gateway's: 100 ppm,
/// twice the worst crystal tolerance of the boards' 32 MHz and 32.768 kHz
/// crystals (±50 ppm with temperature and ageing).
const CLOCK_SLEW: f64 = 1e-4;

/// Maps a node's uptime to the gateway's clock.
///
/// The offset between the clocks is the smallest seen (arrival time minus
/// window end), since the link only ever adds delay: a batch held up in a
/// queue does not move later batches. The offset may grow by
/// [`CLOCK_SLEW`] a second, so a node clock running slow is followed. A new
/// clock (after the node's `Hello`: it restarted) knows nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeClock {
    /// Gateway time minus node uptime, seconds, and when it was last set.
    offset: Option<(f64, f64)>,
}

impl NodeClock {
    /// The gateway time of a batch that arrived at `now`: the middle of its
    /// window, which starts `window_start_ms` into the node's uptime.
    pub fn map(&mut self, window_start_ms: u64, window_len_ms: u16, now: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // exact below 2^53 ms, 285,000 years
        let start_s = window_start_ms as f64 / 1000.0;
        let len_s = f64::from(window_len_ms) / 1000.0;
        let estimate = now - (start_s + len_s);
        let offset = match self.offset {
            Some((offset, at)) if offset + CLOCK_SLEW * (now - at) < estimate => {
                offset + CLOCK_SLEW * (now - at)
            }
            _ => estimate,
        };
        self.offset = Some((offset, now));
        offset + start_s + len_s / 2.0
    }
}

/// Who a node's sighting entry is of. Beacon kinds and EIDs carry an
/// identity for the identify stage; everything else was reported by its
/// address, which stays anonymous.
#[must_use]
pub fn subject(entry: &Sighting<'_>) -> Subject {
    let identity = match entry.kind {
        FrameKind::IBeacon
        | FrameKind::AltBeacon
        | FrameKind::EddystoneUid
        | FrameKind::EddystoneEid => Identity::new(entry.kind, entry.identity).ok(),
        _ => None,
    };
    Subject::Heard {
        kind: entry.kind,
        identity,
        address: identity
            .is_none()
            .then(|| entry.address().map(|a| a.bytes))
            .flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_767_225_600.0;

    #[test]
    fn a_late_batch_keeps_its_own_time_and_a_slow_clock_is_followed() {
        let mut clock = NodeClock::default();
        // Window 10.0 to 11.0 s of uptime, arriving 20 ms after it closed.
        let first = clock.map(10_000, 1000, T0 + 0.02);
        assert!((first - (T0 + 0.02 - 0.5)).abs() < 1e-9, "{first}");
        // The next window arrives 300 ms late (queued behind a burst): its
        // time comes from the first batch's offset, not its arrival.
        let late = clock.map(11_000, 1000, T0 + 1.02 + 0.3);
        assert!((late - (first + 1.0)).abs() < 1e-3, "{late}");
        // A node clock running 50 ppm slow: after 10,000 s its windows end
        // 0.5 s after the gateway expects; the mapping follows within the
        // slew allowed, so times stay in order and near arrival.
        let mut ts = late;
        for k in 1..=100u32 {
            let uptime_ms = 11_000 + u64::from(k) * 100_000;
            #[allow(clippy::cast_precision_loss)]
            let arrives = T0 + 0.02 + (uptime_ms as f64 / 1000.0 - 10.0) * (1.0 + 50e-6);
            let t = clock.map(uptime_ms, 1000, arrives);
            assert!(t > ts, "in order");
            assert!(
                arrives - t >= 0.5 && arrives - t < 0.5 + 0.03,
                "{}",
                arrives - t
            );
            ts = t;
        }
    }
}
