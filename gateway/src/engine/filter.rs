//! RSSI filtering per (device, anchor).
//!
//! Indoor BLE RSSI does not scatter evenly around the radio model: a body or
//! a shelf between phone and anchor, or two reflections cancelling, drop
//! single readings by 10-20 dB (multipath dips), and reflections adding in
//! phase lift a few. Two stages handle that:
//!
//! 1. a short window (default 2.5 s, at most [`WINDOW_CAP`] readings) reduced
//!    by its interquartile mean: the lowest and highest quarter are dropped,
//!    so one dip and one spike in eight readings move nothing;
//! 2. a 1-D Kalman filter on that level, so the estimate moves only as fast
//!    as a walking shopper changes it, and carries a variance the locator
//!    uses as a weight.
//!
//! A sighting only writes its reading into the window (find the anchor's
//! slot, store 8 bytes). Windows are reduced when the device is located, at
//! most once per locate interval, which keeps the per-sighting path cheap.
//! An anchor not heard for `stale_after_s` drops out.

use serde::{Deserialize, Serialize};

use super::ids::AnchorIdx;

/// Readings kept per (device, anchor). Phones advertise every 100 ms to 1 s
/// and an anchor hears a fraction of those, so 2.5 s rarely holds more than
/// eight; when it does, the newest eight are the ones that matter.
pub const WINDOW_CAP: usize = 8;

/// Anchors tracked per device. A device in a store with 50 anchors is heard
/// by the dozen nearest; beyond 16 the stalest slot is reused, which bounds
/// memory per device (16 x 84 bytes).
pub const MAX_ANCHORS_PER_DEVICE: usize = 16;

/// The most a device's filter holds on the heap: its anchor slots grow by
/// doubling (4, 8, 16) and never past [`MAX_ANCHORS_PER_DEVICE`].
pub const MAX_HEAP_BYTES: usize = MAX_ANCHORS_PER_DEVICE * size_of::<AnchorFilter>();

/// Parameters of the RSSI filter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Seconds of readings reduced into one level. Default 2.5 s: long
    /// enough to hold several readings at common advertising rates, short
    /// enough that a walking shopper (1.4 m/s) moves under 4 m within it.
    pub window_s: f64,
    /// Seconds after which an anchor that has not heard the device drops
    /// out of its position fix. Default 5 s.
    pub stale_after_s: f64,
    /// How fast the true level may drift, dB² per second (Kalman process
    /// noise). Default 9: walking past an anchor moves RSSI by a few dB a
    /// second.
    pub level_noise_db2_per_s: f64,
    /// Variance of one window's interquartile mean, dB², before dividing by
    /// the readings in it (up to four: fading decorrelates over about half
    /// a second, so more readings in one window are not independent).
    /// Default 16 (4 dB standard deviation, typical indoor BLE).
    pub window_noise_db2: f64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            window_s: 2.5,
            stale_after_s: 5.0,
            level_noise_db2_per_s: 9.0,
            window_noise_db2: 16.0,
        }
    }
}

/// A filtered level for one anchor, as the locator takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// The anchor.
    pub anchor: AnchorIdx,
    /// Filtered RSSI, dBm.
    pub rssi: f64,
    /// Variance of `rssi`, dB².
    pub variance_db2: f64,
}

/// A wrapping millisecond clock. Filter times are compared only over
/// seconds, so 32 bits (49 days before wrapping) are plenty and halve the
/// memory of a reading.
#[must_use]
pub fn millis(ts: f64) -> u32 {
    // Truncating to the low 32 bits is the point: differences wrap.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (ts * 1000.0) as u64 as u32;
    ms
}

/// Milliseconds from `then` to `now`, negative when `then` is later (a
/// sighting that arrived out of order).
fn age_ms(now: u32, then: u32) -> i64 {
    i64::from(now.wrapping_sub(then).cast_signed())
}

#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    at_ms: u32,
    rssi: f32,
}

#[derive(Debug, Clone)]
struct AnchorFilter {
    window: [Reading; WINDOW_CAP],
    last_ms: u32,
    estimated_ms: u32,
    level: f32,
    /// Variance of `level`; zero until the first estimate.
    variance: f32,
    anchor: u16,
    len: u8,
    next: u8,
}

impl AnchorFilter {
    fn new(anchor: AnchorIdx, at_ms: u32) -> Self {
        AnchorFilter {
            window: [Reading::default(); WINDOW_CAP],
            last_ms: at_ms,
            estimated_ms: at_ms,
            level: 0.0,
            variance: 0.0,
            anchor: anchor.0,
            len: 0,
            next: 0,
        }
    }

    // WINDOW_CAP is 8: it fits the u8 counters.
    #[allow(clippy::cast_possible_truncation)]
    fn push(&mut self, at_ms: u32, rssi: f32) {
        self.window[usize::from(self.next)] = Reading { at_ms, rssi };
        self.next = (self.next + 1) % WINDOW_CAP as u8;
        self.len = (self.len + 1).min(WINDOW_CAP as u8);
        if age_ms(at_ms, self.last_ms) > 0 {
            self.last_ms = at_ms;
        }
    }

    /// Reduces the window and steps the Kalman filter to `now_ms`.
    fn estimate(&mut self, now_ms: u32, config: &FilterConfig) {
        let window_ms = config.window_s * 1000.0;
        let mut recent = [0f32; WINDOW_CAP];
        let mut n = 0;
        for r in &self.window[..usize::from(self.len)] {
            #[allow(clippy::cast_precision_loss)] // ages are seconds, in ms
            let age = age_ms(now_ms, r.at_ms).max(0) as f64;
            if age <= window_ms {
                recent[n] = r.rssi;
                n += 1;
            }
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let dt = (age_ms(now_ms, self.estimated_ms).max(0) as f64 / 1000.0) as f32;
        self.estimated_ms = now_ms;
        if self.variance > 0.0 {
            #[allow(clippy::cast_possible_truncation)] // dB² fit f32
            let q = config.level_noise_db2_per_s as f32;
            self.variance += q * dt;
        }
        if n == 0 {
            return;
        }
        let z = interquartile_mean(&mut recent[..n]);
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let r = (config.window_noise_db2 / n.min(4) as f64) as f32;
        if self.variance > 0.0 {
            let k = self.variance / (self.variance + r);
            self.level += k * (z - self.level);
            self.variance *= 1.0 - k;
        } else {
            self.level = z;
            self.variance = r;
        }
    }
}

/// The mean of the middle half of `v` (sorted in place): drops the lowest
/// and highest quarter.
fn interquartile_mean(v: &mut [f32]) -> f32 {
    // Insertion sort: at most eight values, no allocation.
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    let k = v.len() / 4;
    let mid = &v[k..v.len() - k];
    #[allow(clippy::cast_precision_loss)]
    let n = mid.len() as f32;
    mid.iter().sum::<f32>() / n
}

/// The RSSI filters of one device, one slot per anchor that hears it.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    anchors: Vec<AnchorFilter>,
}

impl DeviceFilter {
    /// Records one reading.
    pub fn push(&mut self, at_ms: u32, anchor: AnchorIdx, rssi: f32) {
        if let Some(slot) = self.anchors.iter_mut().find(|s| s.anchor == anchor.0) {
            slot.push(at_ms, rssi);
            return;
        }
        let mut slot = AnchorFilter::new(anchor, at_ms);
        slot.push(at_ms, rssi);
        if self.anchors.len() < MAX_ANCHORS_PER_DEVICE {
            self.anchors.push(slot);
        } else if let Some(stalest) = self
            .anchors
            .iter_mut()
            .max_by_key(|s| age_ms(at_ms, s.last_ms))
        {
            *stalest = slot;
        }
    }

    /// Drops anchors not heard for `stale_after_s`, steps every filter to
    /// `now_ms` and writes their levels into `out` (cleared first).
    pub fn levels(&mut self, now_ms: u32, config: &FilterConfig, out: &mut Vec<Level>) {
        out.clear();
        #[allow(clippy::cast_possible_truncation)] // seconds of staleness
        let stale_ms = (config.stale_after_s * 1000.0) as i64;
        self.anchors
            .retain(|s| age_ms(now_ms, s.last_ms) <= stale_ms);
        for slot in &mut self.anchors {
            slot.estimate(now_ms, config);
            if slot.variance > 0.0 {
                out.push(Level {
                    anchor: AnchorIdx(slot.anchor),
                    rssi: f64::from(slot.level),
                    variance_db2: f64::from(slot.variance),
                });
            }
        }
    }

    /// Anchors currently tracked.
    #[must_use]
    pub fn anchors(&self) -> usize {
        self.anchors.len()
    }

    /// Bytes this filter holds on the heap.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.anchors.capacity() * std::mem::size_of::<AnchorFilter>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_after(readings: &[(f64, f32)], now: f64) -> f64 {
        let mut f = DeviceFilter::default();
        for &(t, r) in readings {
            f.push(millis(t), AnchorIdx(3), r);
        }
        let mut out = Vec::new();
        f.levels(millis(now), &FilterConfig::default(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].anchor, AnchorIdx(3));
        out[0].rssi
    }

    #[test]
    fn one_multipath_dip_in_a_window_moves_nothing() {
        let steady: Vec<_> = (0..8)
            .map(|i| (100.0 + f64::from(i) * 0.25, -70.0))
            .collect();
        let mut dipped = steady.clone();
        dipped[4].1 = -92.0;
        dipped[6].1 = -55.0;
        assert!((level_after(&steady, 102.0) + 70.0).abs() < 1e-6);
        assert!((level_after(&dipped, 102.0) + 70.0).abs() < 1e-6);
    }

    #[test]
    fn smooths_over_time_and_drops_stale_anchors() {
        let mut f = DeviceFilter::default();
        let config = FilterConfig::default();
        let mut out = Vec::new();
        for i in 0..20 {
            let t = 10.0 + f64::from(i) * 0.25;
            f.push(millis(t), AnchorIdx(0), -60.0);
            f.push(millis(t), AnchorIdx(1), -80.0);
        }
        f.levels(millis(15.0), &config, &mut out);
        assert_eq!(out.len(), 2);
        // A sudden 20 dB step moves the smoothed level part of the way only.
        for i in 0..4 {
            f.push(millis(15.0 + f64::from(i) * 0.1), AnchorIdx(0), -40.0);
        }
        f.levels(millis(15.5), &config, &mut out);
        let a0 = out.iter().find(|l| l.anchor == AnchorIdx(0)).unwrap();
        assert!(a0.rssi > -60.0 && a0.rssi < -45.0, "{a0:?}");
        // Anchor 1 has not been heard since 14.75 s: gone by 20 s.
        f.push(millis(20.0), AnchorIdx(0), -40.0);
        f.levels(millis(20.0), &config, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(f.anchors(), 1);
    }

    #[test]
    fn out_of_order_readings_and_the_millisecond_wrap_are_harmless() {
        let base = f64::from(u32::MAX) / 1000.0 - 1.0; // wraps one second in
        let readings: Vec<_> = (0..8)
            .map(|i| (base + f64::from(i) * 0.25, -65.0))
            .rev()
            .collect();
        assert!((level_after(&readings, base + 2.0) + 65.0).abs() < 1e-6);
    }

    #[test]
    fn a_device_heard_by_many_anchors_keeps_at_most_the_cap() {
        let mut f = DeviceFilter::default();
        for a in 0..40u16 {
            f.push(millis(1.0 + f64::from(a) * 0.01), AnchorIdx(a), -70.0);
        }
        assert_eq!(f.anchors(), MAX_ANCHORS_PER_DEVICE);
        let mut out = Vec::new();
        f.levels(millis(1.5), &FilterConfig::default(), &mut out);
        // The newest anchors are the ones kept.
        assert!(out.iter().all(|l| l.anchor.0 >= 24), "{out:?}");
    }
}
