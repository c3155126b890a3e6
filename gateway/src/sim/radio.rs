//! How a phone's advertisements reach the anchors.
//!
//! Received power, dBm, for one packet at one anchor:
//!
//! ```text
//! rssi = p0 - 10 n log10(d)      log-distance path loss, d in 3-D, >= 0.1 m
//!      - body                    the shopper's body between phone and anchor
//!      + site                    the store's shadowing at the phone's spot
//!      + shadow                  slow shadowing of this shopper's link
//!      + fade                    fast Rician fading, new every packet
//!      + phone                   the phone model's transmit power, fixed per phone
//!      - shelves                 goods between phone and anchor, per shelf crossed
//! ```
//!
//! Slow shadowing has two parts. Most of it belongs to the place: the
//! fittings between a spot and an anchor weaken or strengthen every phone
//! there alike, a field over the floor per anchor that decorrelates over a
//! few metres ([`super::site`], Gudmundson's model), the same in every run
//! in the store, so a calibration walk can measure it. The rest belongs to
//! the person: their own body's posture, the people and trolleys round
//! them. That part is drawn per (shopper, anchor) link as an AR(1) process
//! that decorrelates over `shadowing_distance_m` walked and, standing
//! still, over `shadowing_time_s`; no calibration can learn it.
//!
//! The default split is 3.5 dB for the place and 2 dB for the person, 4.03
//! dB together: no less than the 4 dB a link had when all of it was drawn
//! per link, so the radio is no easier; published indoor shadowing at 2.4
//! GHz runs 3-6 dB, with the static environment the larger share. Fading is
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
use super::site::SiteShadowing;
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
    /// Standard deviation of the store's shadowing field, dB: the part
    /// that belongs to the place (see [`super::site`]).
    pub site_shadowing_sigma_db: f64,
    /// Distance over which the store's field decorrelates (to 1/e), metres.
    pub site_shadowing_distance_m: f64,
    /// Which store's fittings: the field is drawn from the store and anchor
    /// ids and this seed, never from the run's seed.
    pub site_seed: u64,
    /// Standard deviation of each shopper's own slow shadowing per link, dB:
    /// the part no calibration can learn.
    pub shadowing_sigma_db: f64,
    /// Metres walked over which a link's own shadowing decorrelates (to 1/e).
    pub shadowing_distance_m: f64,
    /// Seconds over which a standing shopper's own shadowing decorrelates.
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
            site_shadowing_sigma_db: 3.5,
            site_shadowing_distance_m: 3.0,
            site_seed: 0,
            shadowing_sigma_db: 2.0,
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
        let ranges: [(&str, f64, std::ops::RangeInclusive<f64>); 16] = [
            ("shelf_loss_db", self.shelf_loss_db, 0.0..=40.0),
            ("rssi_at_1m", self.rssi_at_1m, -120.0..=20.0),
            ("path_loss_exponent", self.path_loss_exponent, 1.0..=6.0),
            (
                "site_shadowing_sigma_db",
                self.site_shadowing_sigma_db,
                0.0..=20.0,
            ),
            (
                "site_shadowing_distance_m",
                self.site_shadowing_distance_m,
                0.1..=1e3,
            ),
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
    /// The store's shadowing field; none when its sigma is 0.
    site: Option<SiteShadowing>,
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
        let site = (config.site_shadowing_sigma_db > 0.0).then(|| {
            SiteShadowing::new(
                layout,
                config.site_shadowing_sigma_db,
                config.site_shadowing_distance_m,
                config.site_seed,
            )
        });
        RadioModel {
            config,
            anchors,
            fade_bias_db,
            obstruction: None,
            site,
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

    /// The store's shadowing at an anchor from a phone at `p`, dB.
    #[must_use]
    pub fn site_shadowing(&self, anchor: usize, p: Point) -> f64 {
        self.site.as_ref().map_or(0.0, |site| site.at(anchor, p))
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
            + self.site_shadowing(anchor, pose.position)
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
mod tests;
