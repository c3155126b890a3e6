//! Motion model: a constant-velocity Kalman filter per device, so positions
//! move like a walking shopper rather than jump with each fix.
//!
//! The two axes are independent (white-noise acceleration on each), so the
//! 4-state filter is two 2-state filters sharing a gate. A fix whose
//! innovation lies beyond the gate is dropped, up to [`MAX_REJECTED`] in a
//! row; after that the track takes fixes again, down-weighted so their
//! innovation sits on the gate. One wild fix moves nothing, while a device
//! that really moved pulls the track over within a few fixes.

use serde::{Deserialize, Serialize};

use crate::layout::Point;

/// Fixes in a row dropped by the gate before the track follows them: two
/// at the default 0.5 s locate interval is a second of disagreement.
pub const MAX_REJECTED: u8 = 2;

/// Parameters of the motion model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionConfig {
    /// Spectral density of the acceleration noise, m²/s³. Default 0.5:
    /// shoppers start, stop and turn at well under 1 m/s².
    pub accel_noise: f64,
    /// Fastest plausible speed, m/s; the velocity estimate is capped to it.
    /// Default 1.4 (a brisk walk).
    pub max_speed_mps: f64,
    /// Innovation gate in standard deviations. Default 3.
    pub gate_sigma: f64,
    /// Seconds without a fix after which the track starts afresh from the
    /// next one. Default 10: after that long the old velocity says nothing.
    pub restart_after_s: f64,
    /// Seconds a track is held at a shelf that the fixes lie beyond before
    /// it may jump across. Shoppers walk round shelves, not through them:
    /// a track that would pass through one stops short of it, its velocity
    /// zeroed, and follows the fixes over only once they have lain beyond
    /// it this long. Default 1 (two fixes): on the simulated demo store
    /// the share of settled samples in the right zone, mean of five runs,
    /// is 88.2% against 85.0% without the hold (58-65 zone changes a run
    /// with it, 61-66 without); 0.5 s gives 88.0%, 2 s 88.8%, 3 s 87.0% and
    /// 10 s 65.9%, as a track pulled to the wrong side then stays there.
    pub cross_shelf_after_s: f64,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            accel_noise: 0.5,
            max_speed_mps: 1.4,
            gate_sigma: 3.0,
            restart_after_s: 10.0,
            cross_shelf_after_s: 1.0,
        }
    }
}

/// Position and velocity along one axis with their covariance.
#[derive(Debug, Clone, Copy, Default)]
struct Axis {
    pos: f64,
    vel: f64,
    pp: f64,
    pv: f64,
    vv: f64,
}

impl Axis {
    fn predict(&mut self, dt: f64, q: f64) {
        self.pos += self.vel * dt;
        self.pp += dt * (2.0 * self.pv + dt * self.vv) + q * dt * dt * dt / 3.0;
        self.pv += dt * self.vv + q * dt * dt / 2.0;
        self.vv += q * dt;
    }

    fn update(&mut self, z: f64, r: f64) {
        let s = self.pp + r;
        let (kp, kv) = (self.pp / s, self.pv / s);
        let e = z - self.pos;
        self.pos += kp * e;
        self.vel += kv * e;
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = pp - kp * pp;
        self.pv = pv - kp * pv;
        self.vv = vv - kv * pv;
    }
}

/// A device's motion track.
#[derive(Debug, Clone, Copy, Default)]
pub struct Motion {
    t: f64,
    x: Axis,
    y: Axis,
    started: bool,
    rejected: u8,
}

impl Motion {
    /// Folds in a fix at time `t` with standard deviation `std_m`; returns
    /// the filtered position.
    pub fn update(&mut self, t: f64, fix: Point, std_m: f64, config: &MotionConfig) -> Point {
        let r = std_m.max(0.1).powi(2);
        if !self.started || t - self.t > config.restart_after_s {
            let start = |pos| Axis {
                pos,
                vel: 0.0,
                pp: r,
                pv: 0.0,
                vv: config.max_speed_mps.powi(2),
            };
            *self = Motion {
                t,
                x: start(fix.x),
                y: start(fix.y),
                started: true,
                rejected: 0,
            };
            return fix;
        }
        let dt = (t - self.t).max(0.0);
        self.t = self.t.max(t);
        self.x.predict(dt, config.accel_noise);
        self.y.predict(dt, config.accel_noise);
        let (ex, ey) = (fix.x - self.x.pos, fix.y - self.y.pos);
        let d2 = ex * ex / (self.x.pp + r) + ey * ey / (self.y.pp + r);
        let gate = config.gate_sigma.powi(2);
        if d2 > gate && self.rejected < MAX_REJECTED {
            self.rejected += 1;
            return self.position();
        }
        self.rejected = 0;
        // Beyond the gate, inflate the fix's variance until its innovation
        // sits on the gate: its pull is bounded however far it lies.
        let r = if d2 > gate {
            let s = self.x.pp.max(self.y.pp) + r;
            s * d2 / gate
        } else {
            r
        };
        self.x.update(fix.x, r);
        self.y.update(fix.y, r);
        let speed = self.x.vel.hypot(self.y.vel);
        if speed > config.max_speed_mps {
            let k = config.max_speed_mps / speed;
            self.x.vel *= k;
            self.y.vel *= k;
        }
        self.position()
    }

    /// Whether the track has taken a fix.
    #[must_use]
    pub fn started(&self) -> bool {
        self.started
    }

    /// The filtered position.
    #[must_use]
    pub fn position(&self) -> Point {
        Point::new(self.x.pos, self.y.pos)
    }

    /// Moves the filtered position (to clamp it into the store).
    pub fn set_position(&mut self, p: Point) {
        self.x.pos = p.x;
        self.y.pos = p.y;
    }

    /// Stops the track at `p`: it walked into an obstacle.
    pub fn stop_at(&mut self, p: Point) {
        self.set_position(p);
        self.x.vel = 0.0;
        self.y.vel = 0.0;
    }

    /// Standard deviation of the filtered position, metres.
    #[must_use]
    pub fn std_m(&self) -> f64 {
        f64::midpoint(self.x.pp, self.y.pp).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outlier_does_not_make_the_track_jump() {
        let config = MotionConfig::default();
        let mut m = Motion::default();
        for i in 0..20 {
            m.update(f64::from(i) * 0.5, Point::new(5.0, 5.0), 1.5, &config);
        }
        let p = m.update(10.0, Point::new(15.0, 5.0), 1.5, &config);
        assert!(p.distance(Point::new(5.0, 5.0)) < 1.0, "{p:?}");
        // And a real move is followed within a few seconds.
        let mut p = p;
        for i in 1..=16 {
            p = m.update(
                10.0 + f64::from(i) * 0.5,
                Point::new(9.0, 5.0),
                1.5,
                &config,
            );
        }
        assert!(p.distance(Point::new(9.0, 5.0)) < 1.0, "{p:?}");
    }

    #[test]
    fn a_track_silent_for_long_starts_afresh() {
        let config = MotionConfig::default();
        let mut m = Motion::default();
        for i in 0..10 {
            m.update(
                f64::from(i) * 0.5,
                Point::new(f64::from(i) * 0.6, 2.0),
                0.5,
                &config,
            );
        }
        // Walking at 1.2 m/s when last seen; back a minute later elsewhere.
        let p = m.update(65.0, Point::new(3.0, 8.0), 2.0, &config);
        assert_eq!(p, Point::new(3.0, 8.0));
    }

    #[test]
    fn follows_a_walk_at_walking_pace() {
        let config = MotionConfig::default();
        let mut m = Motion::default();
        let mut p = Point::new(0.0, 0.0);
        for i in 0..40 {
            let t = f64::from(i) * 0.5;
            p = m.update(t, Point::new(t, 2.0), 1.0, &config);
        }
        assert!(p.distance(Point::new(19.5, 2.0)) < 1.0, "{p:?}");
        assert!(m.std_m() < 1.0);
    }
}
