//! Countdown offers and the campaigns that define them.

use alloc::string::String;

use super::{EventId, Percent, SchemaVersion, check_id, check_non_negative, check_text, check_ts};
use crate::Error;

/// A discount that starts high and loses points by the second down to a
/// floor. In JSON its three fields sit in the enclosing payload.
///
/// [`Countdown::discount_after`] is the one definition of the discount at a
/// moment: the offer engine locks with it and the shopper's phone draws its
/// countdown with it, so the two agree to the point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Countdown {
    /// Discount at the start, in percent.
    pub start_pct: Percent,
    /// Points lost per second.
    pub decay_per_s: f64,
    /// Lowest the discount goes, in percent.
    pub floor_pct: Percent,
}

impl Countdown {
    /// The discount `elapsed_s` seconds after the start.
    ///
    /// Only whole points are lost: at 1 point a second from 99 %, the
    /// discount reads 99 for the first second, 98 for the next. Before the
    /// start (or given NaN) it is the start discount.
    #[must_use]
    pub fn discount_after(&self, elapsed_s: f64) -> Percent {
        let start = self.start_pct.get();
        let span = start.saturating_sub(self.floor_pct.get());
        let lost = self.decay_per_s * elapsed_s;
        if lost.is_nan() || lost < 1.0 {
            return self.start_pct;
        }
        if lost >= f64::from(span) {
            return self.floor_pct;
        }
        // 1 <= lost < span <= 100, so truncating yields the whole points lost.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let lost = lost as u8;
        Percent::new(start - lost).unwrap_or(self.floor_pct)
    }

    /// Checks the countdown's invariants.
    pub fn validate(&self) -> Result<(), Error> {
        check_non_negative("decay_per_s", self.decay_per_s)?;
        if self.floor_pct > self.start_pct {
            return Err(Error::Payload {
                field: "floor_pct",
                reason: "above start_pct",
            });
        }
        Ok(())
    }
}

/// Where an offer stands. In JSON, `"state"`, with `"locked_pct"` or
/// `"redeemed_pct"` beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OfferState {
    /// Counting down; the shopper has not reached the target zone yet.
    Live,
    /// The shopper reached the target zone: the discount stays at `pct` until
    /// the offer is redeemed or expires.
    Locked {
        /// The locked discount.
        #[serde(rename = "locked_pct")]
        pct: Percent,
    },
    /// Not redeemed before `expires_ts`.
    Expired,
    /// Used at the till.
    Redeemed {
        /// The discount applied.
        #[serde(rename = "redeemed_pct")]
        pct: Percent,
    },
}

/// An offer made to one shopper, published retained on
/// `aisle/v1/{store}/offers/{shopper}` when it starts and whenever its state
/// changes. The publisher clears the retained message (an empty payload) once
/// the offer has ended.
///
/// The offer carries its countdown rather than a stream of per-second
/// updates: a phone computes the discount at any moment with
/// [`Offer::discount_at`].
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id: new for each update of the offer.
    pub id: EventId,
    /// When this update was made, Unix seconds.
    pub ts: f64,
    /// The offer, the same in all its updates.
    pub offer: String,
    /// The campaign that made it.
    pub campaign: String,
    /// The shopper it is for.
    pub shopper: String,
    /// The zone whose entry started it.
    pub trigger_zone: String,
    /// The zone where the discount locks.
    pub target_zone: String,
    /// When the countdown started, Unix seconds.
    pub start_ts: f64,
    /// When a live or locked offer lapses, Unix seconds.
    pub expires_ts: f64,
    /// The discount over time.
    pub countdown: Countdown,
    /// Where the offer stands.
    pub state: OfferState,
}

impl Offer {
    /// The discount the shopper would get at `ts`, or `None` once the offer
    /// has expired, lapsed or been redeemed.
    #[must_use]
    pub fn discount_at(&self, ts: f64) -> Option<Percent> {
        if ts >= self.expires_ts {
            return None;
        }
        match self.state {
            OfferState::Live => Some(self.countdown.discount_after(ts - self.start_ts)),
            OfferState::Locked { pct } => Some(pct),
            OfferState::Expired | OfferState::Redeemed { .. } => None,
        }
    }

    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("offer", &self.offer)?;
        check_id("campaign", &self.campaign)?;
        check_id("shopper", &self.shopper)?;
        check_id("trigger_zone", &self.trigger_zone)?;
        check_id("target_zone", &self.target_zone)?;
        check_ts("start_ts", self.start_ts)?;
        check_ts("expires_ts", self.expires_ts)?;
        if self.expires_ts <= self.start_ts {
            return Err(Error::Payload {
                field: "expires_ts",
                reason: "not after start_ts",
            });
        }
        if self.ts < self.start_ts {
            return Err(Error::Payload {
                field: "ts",
                reason: "before start_ts",
            });
        }
        self.countdown.validate()?;
        let range = self.countdown.floor_pct..=self.countdown.start_pct;
        match self.state {
            OfferState::Locked { pct } if !range.contains(&pct) => Err(Error::Payload {
                field: "locked_pct",
                reason: "outside floor_pct..=start_pct",
            }),
            OfferState::Redeemed { pct } if !range.contains(&pct) => Err(Error::Payload {
                field: "redeemed_pct",
                reason: "outside floor_pct..=start_pct",
            }),
            _ => Ok(()),
        }
    }
}

/// A campaign, published retained on `aisle/v1/{store}/campaigns/{campaign}`
/// by whoever manages campaigns; an empty retained payload withdraws it.
/// The offer engine makes an [`Offer`] to a shopper entering `trigger_zone`
/// while the campaign is active.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// Schema version.
    pub v: SchemaVersion,
    /// Event id: new for each revision of the campaign.
    pub id: EventId,
    /// When this revision was made, Unix seconds.
    pub ts: f64,
    /// The campaign.
    pub campaign: String,
    /// Its name as shoppers see it.
    pub name: String,
    /// Whether it makes offers now (a paused campaign stays published).
    pub active: bool,
    /// Entering this zone starts an offer.
    pub trigger_zone: String,
    /// Reaching this zone locks the offer's discount.
    pub target_zone: String,
    /// The discount over time.
    pub countdown: Countdown,
    /// Seconds from an offer's start to its expiry.
    pub offer_ttl_s: f64,
    /// No offers before this time, Unix seconds.
    pub starts_ts: Option<f64>,
    /// No offers from this time, Unix seconds.
    pub ends_ts: Option<f64>,
}

impl Campaign {
    /// Checks the payload's invariants (see the [module](super) docs).
    pub fn validate(&self) -> Result<(), Error> {
        check_ts("ts", self.ts)?;
        check_id("campaign", &self.campaign)?;
        check_text("name", &self.name)?;
        check_id("trigger_zone", &self.trigger_zone)?;
        check_id("target_zone", &self.target_zone)?;
        self.countdown.validate()?;
        if !(self.offer_ttl_s.is_finite() && self.offer_ttl_s > 0.0) {
            return Err(Error::Payload {
                field: "offer_ttl_s",
                reason: "not a finite, positive number of seconds",
            });
        }
        if let Some(starts) = self.starts_ts {
            check_ts("starts_ts", starts)?;
        }
        if let Some(ends) = self.ends_ts {
            check_ts("ends_ts", ends)?;
        }
        if let (Some(starts), Some(ends)) = (self.starts_ts, self.ends_ts)
            && ends <= starts
        {
            return Err(Error::Payload {
                field: "ends_ts",
                reason: "not after starts_ts",
            });
        }
        Ok(())
    }
}
