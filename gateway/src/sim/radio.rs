//! How a phone's advertisements reach the anchors.
//!
//! Received power, dBm, for one packet at one anchor:
//!
//! ```text
//! rssi = p0 - 10 n log10(d)      log-distance path loss, d in 3-D, >= 0.1 m
//!      - body                    the shopper's body between phone and anchor
//!      + shadow                  slow, correlated log-normal shadowing
//!      + fade                    fast Rician fading, new every packet
//!      + phone                   the phone model's transmit power, fixed per phone
//!      - shelves                 goods between phone and anchor, per shelf crossed
//! ```
//!
//! The shadowing of each (shopper, anchor) link is an AR(1) process: it
//! decorrelates over `shadowing_distance_m` walked and, standing still, over
//! `shadowing_time_s` (people and trolleys moving around). Fading is
//! normalised to a mean of 0 dB so the mean RSSI at a distance is what the
//! path-loss model says, which is what calibration fits.
//!
//! A packet is heard when its power clears the sensitivity floor, and then
//! only with probability `capture * (1 - exp(-margin / fade_margin_db))`:
//! scanners miss packets while they hop channels, and more so as the signal
//! nears the floor, so losses grow with distance.

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::StandardNormal;

use super::obstruction::ObstructionMap;
use super::store::FloorPlan;
use super::walk::Pose;
use crate::layout::{Layout, Point};

/// Parameters of the radio model. The default is a phone in a shop hand or
/// trolley, heard by anchors on shelves.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioConfig {
    /// Mean RSSI at 1 m, dBm, for anchors that do not give their own
    /// (`rssi_at_1m` in the layout).
    pub rssi_at_1m: f64,
    /// Path-loss exponent for anchors that do not give their own.
    pub path_loss_exponent: f64,
    /// Standard deviation of the shadowing, dB.
    pub shadowing_sigma_db: f64,
    /// Metres walked over which shadowing decorrelates (to 1/e).
    pub shadowing_distance_m: f64,
    /// Seconds over which the shadowing of a standing shopper decorrelates.
    pub shadowing_time_s: f64,
    /// Rician K factor (linear): power of the direct path over the scattered.
    pub rician_k: f64,
    /// Extra loss when the anchor is straight behind the shopper, dB; it falls
    /// to 0 as the anchor comes level with the shopper's shoulders.
    pub body_loss_db: f64,
    /// Weakest packet a receiver reports, dBm.
    pub sensitivity_dbm: f64,
    /// Share of packets heard well above the floor.
    pub capture: f64,
    /// How fast the chance of hearing a packet rises above the floor, dB.
    pub fade_margin_db: f64,
    /// Height of the phone, metres.
    pub phone_height_m: f64,
    /// Standard deviation of phones' transmit power about the nominal, dB:
    /// phone models differ by several dB, and a localiser has to live with it.
    pub phone_offset_sigma_db: f64,
    /// Height of anchors that do not give theirs, metres.
    pub anchor_height_m: f64,
    /// Loss through each shelf between phone and anchor, dB: goods and metal
    /// shelving at 2.4 GHz, a few dB to well over ten; see
    /// [`super::obstruction`].
    pub shelf_loss_db: f64,
}

impl Default for RadioConfig {
    fn default() -> Self {
        RadioConfig {
            // A phone advertising at 0 dBm, as the reference room's fits.
            rssi_at_1m: -59.0,
            path_loss_exponent: 2.2,
            shadowing_sigma_db: 4.0,
            shadowing_distance_m: 2.0,
            shadowing_time_s: 30.0,
            rician_k: 3.0,
            body_loss_db: 8.0,
            sensitivity_dbm: -95.0,
            capture: 0.7,
            fade_margin_db: 3.0,
            phone_height_m: 1.2,
            phone_offset_sigma_db: 2.0,
            anchor_height_m: 2.0,
            shelf_loss_db: 5.0,
        }
    }
}

impl RadioConfig {
    /// Checks every parameter is in a range the model makes sense for; the
    /// error names the parameter.
    pub fn check(&self) -> Result<(), String> {
        let ranges: [(&str, f64, std::ops::RangeInclusive<f64>); 14] = [
            ("shelf_loss_db", self.shelf_loss_db, 0.0..=40.0),
            ("rssi_at_1m", self.rssi_at_1m, -120.0..=20.0),
            ("path_loss_exponent", self.path_loss_exponent, 1.0..=6.0),
            ("shadowing_sigma_db", self.shadowing_sigma_db, 0.0..=20.0),
            (
                "shadowing_distance_m",
                self.shadowing_distance_m,
                0.01..=1e3,
            ),
            ("shadowing_time_s", self.shadowing_time_s, 0.01..=1e6),
            ("rician_k", self.rician_k, 0.0..=1e3),
            ("body_loss_db", self.body_loss_db, 0.0..=40.0),
            ("sensitivity_dbm", self.sensitivity_dbm, -127.0..=0.0),
            ("capture", self.capture, 0.0..=1.0),
            ("fade_margin_db", self.fade_margin_db, 0.01..=40.0),
            ("phone_height_m", self.phone_height_m, 0.0..=10.0),
            ("anchor_height_m", self.anchor_height_m, 0.0..=20.0),
            (
                "phone_offset_sigma_db",
                self.phone_offset_sigma_db,
                0.0..=20.0,
            ),
        ];
        match ranges.iter().find(|(_, v, r)| !r.contains(v)) {
            Some((name, v, r)) => Err(format!(
                "radio.{name}: {v} is not in {}..={}",
                r.start(),
                r.end()
            )),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
struct AnchorRadio {
    x: f64,
    y: f64,
    z: f64,
    p0: f64,
    n: f64,
}

/// The radio model of one store.
#[derive(Debug, Clone)]
pub struct RadioModel {
    config: RadioConfig,
    anchors: Vec<AnchorRadio>,
    /// Mean of the Rician fading in dB, subtracted so fading averages 0 dB.
    fade_bias_db: f64,
    obstruction: Option<ObstructionMap>,
}

/// How much of a link's shadowing carries over from one packet to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Carry {
    rho: f64,
    fresh: f64,
}

impl Carry {
    /// Shadowing drawn anew: for tests and the first packet.
    pub const NONE: Carry = Carry {
        rho: 0.0,
        fresh: 1.0,
    };
}

impl RadioModel {
    /// A model for a layout's anchors; anchors' own `rssi_at_1m`,
    /// `path_loss_exponent` and `z` win over the config's defaults.
    #[must_use]
    pub fn new(layout: &Layout, config: RadioConfig) -> Self {
        let anchors = layout
            .anchors
            .iter()
            .map(|a| AnchorRadio {
                x: a.x,
                y: a.y,
                z: a.z.unwrap_or(config.anchor_height_m),
                p0: a.rssi_at_1m.unwrap_or(config.rssi_at_1m),
                n: a.path_loss_exponent.unwrap_or(config.path_loss_exponent),
            })
            .collect();
        let fade_bias_db = rician_mean_db(config.rician_k);
        RadioModel {
            config,
            anchors,
            fade_bias_db,
            obstruction: None,
        }
    }

    /// The model with shelves in the way: see [`super::obstruction`].
    #[must_use]
    pub fn with_shelves(mut self, plan: &FloorPlan) -> Self {
        self.obstruction =
            (!plan.shelves.is_empty() && self.config.shelf_loss_db > 0.0).then(|| {
                ObstructionMap::new(
                    plan,
                    self.config.phone_height_m,
                    self.config.anchor_height_m,
                )
            });
        self
    }

    /// Loss through shelves between a phone at `p` and an anchor, dB.
    #[must_use]
    pub fn shelf_loss(&self, anchor: usize, p: Point) -> f64 {
        self.obstruction.as_ref().map_or(0.0, |map| {
            f64::from(map.crossed(anchor, p)) * self.config.shelf_loss_db
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RadioConfig {
        &self.config
    }

    /// Number of anchors, in layout order.
    #[must_use]
    pub fn anchors(&self) -> usize {
        self.anchors.len()
    }

    /// 3-D distance from a phone at `p` to an anchor, metres (at least 0.1).
    #[must_use]
    pub fn distance(&self, anchor: usize, p: Point) -> f64 {
        let a = &self.anchors[anchor];
        let dz = a.z - self.config.phone_height_m;
        ((a.x - p.x).powi(2) + (a.y - p.y).powi(2) + dz * dz)
            .sqrt()
            .max(0.1)
    }

    /// Mean RSSI at an anchor from a phone at `p`, dBm: path loss alone.
    #[must_use]
    pub fn mean_rssi(&self, anchor: usize, p: Point) -> f64 {
        let a = &self.anchors[anchor];
        a.p0 - 10.0 * a.n * self.distance(anchor, p).log10()
    }

    /// Loss through the shopper's body, dB: full when the anchor is straight
    /// behind the way the shopper faces, none when it is level or ahead.
    #[must_use]
    pub fn body_loss(&self, anchor: usize, pose: &Pose) -> f64 {
        let a = &self.anchors[anchor];
        let (dx, dy) = (a.x - pose.position.x, a.y - pose.position.y);
        let d = dx.hypot(dy);
        if d < 1e-9 {
            return 0.0;
        }
        let cos = (dx * pose.heading.0 + dy * pose.heading.1) / d;
        self.config.body_loss_db * (-cos).max(0.0)
    }

    /// A phone's transmit power over the nominal, dB.
    pub fn phone_offset(&self, rng: &mut impl Rng) -> f64 {
        self.config.phone_offset_sigma_db * rng.sample::<f64, _>(StandardNormal)
    }

    /// A link's first shadowing value, dB.
    pub fn initial_shadow(&self, rng: &mut impl Rng) -> f64 {
        self.config.shadowing_sigma_db * rng.sample::<f64, _>(StandardNormal)
    }

    /// How much shadowing carries over after walking `moved` metres in `dt`
    /// seconds.
    #[must_use]
    pub fn carry(&self, moved: f64, dt: f64) -> Carry {
        let c = &self.config;
        let rho = (-moved / c.shadowing_distance_m - dt / c.shadowing_time_s).exp();
        Carry {
            rho,
            fresh: (1.0 - rho * rho).max(0.0).sqrt(),
        }
    }

    /// One packet from a phone at `pose`, sending `phone_offset` dB over the
    /// nominal, to an anchor: the RSSI the anchor reports (whole dBm), or none
    /// when the packet is not heard. Steps the link's shadowing `shadow` on.
    pub fn receive(
        &self,
        anchor: usize,
        pose: &Pose,
        phone_offset: f64,
        shadow: &mut f64,
        carry: Carry,
        rng: &mut impl Rng,
    ) -> Option<f64> {
        let c = &self.config;
        let n: f64 = rng.sample(StandardNormal);
        *shadow = carry.rho * *shadow + carry.fresh * c.shadowing_sigma_db * n;
        let slow = self.mean_rssi(anchor, pose.position)
            - self.body_loss(anchor, pose)
            - self.shelf_loss(anchor, pose.position)
            + phone_offset
            + *shadow;
        // A Rician fade rarely adds more than 10 dB: skip the draws for
        // packets that could not reach the floor anyway.
        if slow < c.sensitivity_dbm - 20.0 {
            return None;
        }
        let rssi = slow + self.fade(rng);
        let margin = rssi - c.sensitivity_dbm;
        if margin < 0.0 {
            return None;
        }
        let heard = c.capture * (1.0 - (-margin / c.fade_margin_db).exp());
        if rng.random::<f64>() >= heard {
            return None;
        }
        let rssi = rssi.round().min(*crate::record::RSSI_RANGE.end());
        (rssi >= c.sensitivity_dbm).then_some(rssi)
    }

    /// A Rician fade, dB, with mean 0 dB.
    fn fade(&self, rng: &mut impl Rng) -> f64 {
        rician_db(self.config.rician_k, rng) - self.fade_bias_db
    }
}

/// The power of a Rician channel of unit mean power, dB.
fn rician_db(k: f64, rng: &mut impl Rng) -> f64 {
    let los = (k / (k + 1.0)).sqrt();
    let scatter = (0.5 / (k + 1.0)).sqrt();
    let i = los + scatter * rng.sample::<f64, _>(StandardNormal);
    let q = scatter * rng.sample::<f64, _>(StandardNormal);
    10.0 * (i * i + q * q).max(1e-12).log10()
}

/// The mean of [`rician_db`] (about -2.5 dB for Rayleigh, K = 0, and nearer
/// 0 as K grows), estimated once per model from a fixed stream so every run
/// agrees.
fn rician_mean_db(k: f64) -> f64 {
    const SAMPLES: u32 = 100_000;
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0x5eed_fade);
    (0..SAMPLES).map(|_| rician_db(k, &mut rng)).sum::<f64>() / f64::from(SAMPLES)
}

#[cfg(test)]
mod tests {
    use rand_pcg::Pcg64Mcg;

    use super::*;
    use crate::layout::Anchor;

    fn one_anchor(rssi_at_1m: Option<f64>, n: Option<f64>) -> Layout {
        let mut layout = super::super::store::demo_layout();
        layout.anchors = vec![Anchor {
            id: "a".into(),
            x: 0.0,
            y: 0.0,
            z: Some(1.2),
            rssi_at_1m,
            path_loss_exponent: n,
        }];
        layout
    }

    /// A shopper `d` m east of the anchor, facing it.
    fn facing(d: f64) -> Pose {
        Pose {
            position: Point::new(d, 0.0),
            heading: (-1.0, 0.0),
            walking: true,
        }
    }

    fn mean_heard(model: &RadioModel, pose: &Pose, packets: u32, seed: u64) -> (f64, u32) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let (mut sum, mut heard) = (0.0, 0);
        for _ in 0..packets {
            let mut shadow = 0.0;
            if let Some(r) = model.receive(0, pose, 0.0, &mut shadow, Carry::NONE, &mut rng) {
                sum += r;
                heard += 1;
            }
        }
        (sum / f64::from(heard.max(1)), heard)
    }

    #[test]
    fn mean_rssi_follows_the_path_loss_model() {
        let model = RadioModel::new(&one_anchor(Some(-61.0), Some(2.4)), RadioConfig::default());
        let mut points = Vec::new();
        // Within 5 m the floor is over 3 sigma away; farther out the packets
        // that are still heard are the lucky ones and the mean drifts up.
        for d in [1.0, 2.0, 3.0, 5.0] {
            let (mean, heard) = mean_heard(&model, &facing(d), 40_000, 1);
            let want = -61.0 - 24.0 * f64::log10(d);
            assert!((mean - want).abs() < 0.5, "at {d} m: {mean} vs {want}");
            // Near the anchor about `capture` of packets are heard.
            if d <= 2.0 {
                assert!(
                    (0.66..0.72).contains(&(f64::from(heard) / 40_000.0)),
                    "{heard}"
                );
            }
            points.push((d.log10(), mean));
        }
        // Least-squares slope over log distance gives back the exponent.
        let n = 4.0;
        let (sx, sy) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let sxx: f64 = points.iter().map(|(x, _)| x * x).sum();
        let sxy: f64 = points.iter().map(|(x, y)| x * y).sum();
        let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        assert!(
            (slope / -10.0 - 2.4).abs() < 0.1,
            "exponent {}",
            slope / -10.0
        );
    }

    #[test]
    fn nothing_below_the_sensitivity_floor_is_reported() {
        let model = RadioModel::new(&one_anchor(None, None), RadioConfig::default());
        // At 40 m the mean is about -94 dBm: half the packets fall short.
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let mut heard = 0;
        let mut shadow = 0.0;
        for i in 0..20_000 {
            let pose = facing(30.0 + f64::from(i % 20));
            if let Some(r) = model.receive(0, &pose, 0.0, &mut shadow, Carry::NONE, &mut rng) {
                assert!(r >= -95.0, "{r}");
                assert!((r - r.round()).abs() < 1e-9, "{r}");
                heard += 1;
            }
        }
        assert!((1_000..10_000).contains(&heard), "{heard}");
    }

    #[test]
    fn the_body_costs_signal_from_behind_only() {
        let model = RadioModel::new(&one_anchor(None, None), RadioConfig::default());
        let ahead = facing(5.0);
        let behind = Pose {
            heading: (1.0, 0.0),
            ..ahead
        };
        let side = Pose {
            heading: (0.0, 1.0),
            ..ahead
        };
        assert!(model.body_loss(0, &ahead).abs() < 1e-9);
        assert!(model.body_loss(0, &side).abs() < 1e-9);
        assert!((model.body_loss(0, &behind) - 8.0).abs() < 1e-9);
        let (front, _) = mean_heard(&model, &ahead, 20_000, 3);
        let (back, _) = mean_heard(&model, &behind, 20_000, 3);
        assert!((front - back - 8.0).abs() < 0.7, "{front} {back}");
    }

    #[test]
    fn shelves_in_the_way_cost_their_loss() {
        let plan = FloorPlan::demo();
        let model = RadioModel::new(&plan.layout, RadioConfig::default()).with_shelves(&plan);
        let middle = plan
            .layout
            .anchors
            .iter()
            .position(|a| a.id == "gondola-2-middle")
            .unwrap();
        // Two points 5.4 m from the anchor: behind gondola 3, and in the back aisle.
        let (behind, open) = (Point::new(12.6, 7.75), Point::new(7.2, 13.15));
        assert!((model.mean_rssi(middle, behind) - model.mean_rssi(middle, open)).abs() < 1e-9);
        assert!((model.shelf_loss(middle, behind) - 5.0).abs() < 1e-9);
        assert!(model.shelf_loss(middle, open).abs() < 1e-9);
        let bare = RadioModel::new(&plan.layout, RadioConfig::default());
        assert!(bare.shelf_loss(middle, behind).abs() < 1e-9);
    }

    #[test]
    fn shadowing_is_correlated_over_short_walks() {
        let model = RadioModel::new(&one_anchor(None, None), RadioConfig::default());
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        // Packets 0.1 s apart while walking at 1.2 m/s.
        let carry = model.carry(0.12, 0.1);
        let mut shadow = model.initial_shadow(&mut rng);
        let mut prev = shadow;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for _ in 0..50_000 {
            let _ = model.receive(0, &facing(3.0), 0.0, &mut shadow, carry, &mut rng);
            sxy += prev * shadow;
            sxx += prev * prev;
            prev = shadow;
        }
        let lag1 = sxy / sxx;
        assert!((lag1 - carry.rho).abs() < 0.02, "{lag1} vs {}", carry.rho);
        assert!(lag1 > 0.9);
        let sigma = (sxx / 50_000.0).sqrt();
        assert!((sigma - 4.0).abs() < 0.5, "{sigma}");
    }
}
