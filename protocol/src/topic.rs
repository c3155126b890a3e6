//! Aisle's MQTT topic scheme: `aisle/v1/{store}/...`, as typed builders and a
//! parser.
//!
//! | Topic | [`TopicKind`] |
//! |---|---|
//! | `aisle/v1/{store}/sightings/{anchor}` | [`Sightings`](TopicKind::Sightings) |
//! | `aisle/v1/{store}/positions/{device}` | [`Positions`](TopicKind::Positions) |
//! | `aisle/v1/{store}/zones/{zone}/events/{device}` | [`ZoneEvents`](TopicKind::ZoneEvents) |
//! | `aisle/v1/{store}/zones/{zone}/occupancy` | [`ZoneOccupancy`](TopicKind::ZoneOccupancy) |
//! | `aisle/v1/{store}/offers/{shopper}` | [`Offers`](TopicKind::Offers) |
//! | `aisle/v1/{store}/nodes/{node}/status` | [`NodeStatus`](TopicKind::NodeStatus) |
//! | `aisle/v1/{store}/gateway/status` | [`GatewayStatus`](TopicKind::GatewayStatus) |
//! | `aisle/v1/{store}/campaigns/{campaign}` | [`Campaign`](TopicKind::Campaign) |
//!
//! Zone events name the device in a last level rather than in a topic of their
//! own: one publication then serves a subscriber to a zone
//! (`zones/A1/events/+`), to a device (`zones/+/events/{device}`) and to
//! everything (`zones/+/events/+`), where a separate per-device topic would
//! double the QoS 1 traffic.
//!
//! [`Topic::parse`] borrows its segments from the input and needs neither
//! `std` nor `alloc`; [`Topic::encode`] writes into a caller's buffer and
//! [`Display`](fmt::Display) into any formatter. Each kind recommends its QoS
//! and retain flag ([`TopicKind::qos`], [`TopicKind::retain`]) so publishers
//! do not hard-code them. The `filter` functions (with `alloc`) build
//! subscription filters.
//!
//! ```
//! use aisle_protocol::topic::{MAX_TOPIC_LEN, QoS, Topic};
//!
//! let topic = Topic::zone_events("reference-room", "B2", "beacon1")?;
//! assert_eq!(topic.to_string(), "aisle/v1/reference-room/zones/B2/events/beacon1");
//! assert_eq!((topic.qos(), topic.retain()), (QoS::AtLeastOnce, false));
//!
//! // On the firmware, without allocating:
//! let mut buf = [0u8; MAX_TOPIC_LEN];
//! let n = topic.encode(&mut buf)?;
//! let text = core::str::from_utf8(&buf[..n]).unwrap();
//! if let Topic::ZoneEvents { zone, device, .. } = Topic::parse(text)? {
//!     assert_eq!((zone.as_str(), device.as_str()), ("B2", "beacon1"));
//! }
//! # Ok::<(), aisle_protocol::Error>(())
//! ```

use core::fmt;

use crate::Error;

#[cfg(feature = "alloc")]
pub mod filter;

/// The first level of every topic.
pub const ROOT: &str = "aisle";

/// The second level: the version of the topic scheme. A scheme that moves
/// levels around gets a new version, so old and new gateways can share a
/// broker while consumers migrate.
pub const SCHEME_VERSION: &str = "v1";

/// Longest segment (store, anchor, device, zone, ...) in bytes.
///
/// Identifiers in Aisle are short: UUIDs are 36 characters, hex EIDs 32. A cap
/// bounds every topic (see [`MAX_TOPIC_LEN`]), so the firmware can build one
/// in a stack buffer, and keeps a misbehaving client from making the broker
/// hold arbitrarily long topic names.
pub const MAX_SEGMENT_LEN: usize = 64;

/// Longest topic the scheme produces, in bytes: a zone event
/// (`aisle/v1/{store}/zones/{zone}/events/{device}`) with three segments of
/// [`MAX_SEGMENT_LEN`] bytes. A buffer of this size holds any [`Topic`].
pub const MAX_TOPIC_LEN: usize = "aisle/v1/".len()
    + MAX_SEGMENT_LEN
    + "/zones/".len()
    + MAX_SEGMENT_LEN
    + "/events/".len()
    + MAX_SEGMENT_LEN;

/// Index of the store level in every topic.
const STORE_LEVEL: usize = 2;

/// Most levels a topic has (a zone event's seven).
const MAX_LEVELS: usize = 7;

/// One validated topic level holding an identifier: a store, anchor, device,
/// zone, shopper, node or campaign id.
///
/// A segment is non-empty, at most [`MAX_SEGMENT_LEN`] bytes, and contains
/// none of:
/// - `/`, which would split it into two levels;
/// - `+` and `#`, MQTT's wildcards: a topic name holding them cannot be
///   published (MQTT 3.1.1 section 4.7.1, MQTT 5 section 4.7.1), and in a
///   filter they would widen the subscription;
/// - NUL, which MQTT forbids in any string (MQTT 3.1.1 section 1.5.3);
/// - other control characters, which MQTT says should not appear and which
///   make logs and dashboards ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Segment<'a>(&'a str);

impl<'a> Segment<'a> {
    /// Validates `s` as a segment.
    ///
    /// A segment on its own has no place in a topic, so the error's `level`
    /// is 0; the [`Topic`] constructors and [`Topic::parse`] report the level
    /// the segment occupies.
    pub fn new(s: &'a str) -> Result<Self, Error> {
        Self::at(s, 0)
    }

    /// Validates `s` as the segment at `level`.
    fn at(s: &'a str, level: usize) -> Result<Self, Error> {
        let reason = if s.is_empty() {
            Some("empty level")
        } else if s.len() > MAX_SEGMENT_LEN {
            Some("level longer than 64 bytes")
        } else {
            s.chars().find_map(|c| match c {
                '/' => Some("contains `/`"),
                '+' => Some("contains the wildcard `+`"),
                '#' => Some("contains the wildcard `#`"),
                '\0' => Some("contains NUL"),
                c if c.is_control() => Some("contains a control character"),
                _ => None,
            })
        };
        match reason {
            Some(reason) => Err(Error::Topic { reason, level }),
            None => Ok(Segment(s)),
        }
    }

    /// The segment's text.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl AsRef<str> for Segment<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq<str> for Segment<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Segment<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// MQTT quality of service.
///
/// Aisle never asks for QoS 2: its four-packet handshake costs more than
/// dropping duplicates by event id (every payload carries one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QoS {
    /// QoS 0: fire and forget.
    AtMostOnce = 0,
    /// QoS 1: acknowledged, possibly delivered twice.
    AtLeastOnce = 1,
    /// QoS 2: four-way handshake.
    ExactlyOnce = 2,
}

impl QoS {
    /// The level as MQTT writes it (0, 1 or 2).
    #[must_use]
    pub fn level(self) -> u8 {
        self as u8
    }
}

/// What a topic carries, without its identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TopicKind {
    /// Raw sightings heard by one anchor.
    Sightings,
    /// Position fixes of one device.
    Positions,
    /// Presence events (enter, dwell, exit) of one device in one zone.
    ZoneEvents,
    /// How many devices are in one zone, known and anonymous.
    ZoneOccupancy,
    /// Offer updates for one shopper.
    Offers,
    /// Health of one shelf node.
    NodeStatus,
    /// Health of the store's gateway.
    GatewayStatus,
    /// A campaign definition.
    Campaign,
}

impl TopicKind {
    /// Every kind, in the order of the scheme's table.
    pub const ALL: [TopicKind; 8] = [
        TopicKind::Sightings,
        TopicKind::Positions,
        TopicKind::ZoneEvents,
        TopicKind::ZoneOccupancy,
        TopicKind::Offers,
        TopicKind::NodeStatus,
        TopicKind::GatewayStatus,
        TopicKind::Campaign,
    ];

    /// The QoS to publish and subscribe with.
    ///
    /// - Sightings and positions: QoS 0. They stream many times a second per
    ///   device; the localiser averages over many sightings and a lost fix is
    ///   replaced by the next, so acknowledging each is wasted traffic.
    /// - Zone occupancy: QoS 0. It is a figure republished every few seconds
    ///   per zone, not a fact anyone acts on once: a lost one is superseded
    ///   by the next.
    /// - Everything else: QoS 1. A zone event or an offer is a fact someone
    ///   acts on; statuses and campaigns are rare. Consumers drop duplicates
    ///   by event id.
    #[must_use]
    pub fn qos(self) -> QoS {
        match self {
            TopicKind::Sightings | TopicKind::Positions | TopicKind::ZoneOccupancy => {
                QoS::AtMostOnce
            }
            TopicKind::ZoneEvents
            | TopicKind::Offers
            | TopicKind::NodeStatus
            | TopicKind::GatewayStatus
            | TopicKind::Campaign => QoS::AtLeastOnce,
        }
    }

    /// Whether to publish with the retain flag.
    ///
    /// State is retained, so a subscriber learns it on connecting: statuses,
    /// campaigns, each shopper's current offer (a phone that reconnects
    /// sees its countdown) and each zone's latest occupancy (a dashboard
    /// shows every zone's figure on connecting instead of waiting for the
    /// next publication; the figure is counts only, naming no device).
    /// Streams of facts are not: a retained position would keep a shopper's
    /// last whereabouts on the broker after they left.
    /// A retained topic is cleared by publishing an empty retained payload.
    #[must_use]
    pub fn retain(self) -> bool {
        match self {
            TopicKind::Offers
            | TopicKind::ZoneOccupancy
            | TopicKind::NodeStatus
            | TopicKind::GatewayStatus
            | TopicKind::Campaign => true,
            TopicKind::Sightings | TopicKind::Positions | TopicKind::ZoneEvents => false,
        }
    }

    /// Whether the publisher registers this topic's offline payload as its
    /// MQTT last will, so the broker reports it when the connection drops.
    #[must_use]
    pub fn last_will(self) -> bool {
        matches!(self, TopicKind::NodeStatus | TopicKind::GatewayStatus)
    }
}

/// A topic of Aisle's scheme, borrowing its segments.
///
/// Build one with the constructors ([`Topic::zone_events`], ...), which
/// validate each segment, or read one with [`Topic::parse`]. A `Topic` holds
/// only [`Segment`]s, so it always writes a valid topic name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[allow(missing_docs)] // the fields are the identifiers the variant's topic names
pub enum Topic<'a> {
    /// `aisle/v1/{store}/sightings/{anchor}`
    Sightings {
        store: Segment<'a>,
        anchor: Segment<'a>,
    },
    /// `aisle/v1/{store}/positions/{device}`
    Positions {
        store: Segment<'a>,
        device: Segment<'a>,
    },
    /// `aisle/v1/{store}/zones/{zone}/events/{device}`
    ZoneEvents {
        store: Segment<'a>,
        zone: Segment<'a>,
        device: Segment<'a>,
    },
    /// `aisle/v1/{store}/zones/{zone}/occupancy`
    ZoneOccupancy {
        store: Segment<'a>,
        zone: Segment<'a>,
    },
    /// `aisle/v1/{store}/offers/{shopper}`
    Offers {
        store: Segment<'a>,
        shopper: Segment<'a>,
    },
    /// `aisle/v1/{store}/nodes/{node}/status`
    NodeStatus {
        store: Segment<'a>,
        node: Segment<'a>,
    },
    /// `aisle/v1/{store}/gateway/status`
    GatewayStatus { store: Segment<'a> },
    /// `aisle/v1/{store}/campaigns/{campaign}`
    Campaign {
        store: Segment<'a>,
        campaign: Segment<'a>,
    },
}

impl<'a> Topic<'a> {
    /// `aisle/v1/{store}/sightings/{anchor}`
    pub fn sightings(store: &'a str, anchor: &'a str) -> Result<Self, Error> {
        Ok(Topic::Sightings {
            store: Segment::at(store, STORE_LEVEL)?,
            anchor: Segment::at(anchor, 4)?,
        })
    }

    /// `aisle/v1/{store}/positions/{device}`
    pub fn positions(store: &'a str, device: &'a str) -> Result<Self, Error> {
        Ok(Topic::Positions {
            store: Segment::at(store, STORE_LEVEL)?,
            device: Segment::at(device, 4)?,
        })
    }

    /// `aisle/v1/{store}/zones/{zone}/events/{device}`
    pub fn zone_events(store: &'a str, zone: &'a str, device: &'a str) -> Result<Self, Error> {
        Ok(Topic::ZoneEvents {
            store: Segment::at(store, STORE_LEVEL)?,
            zone: Segment::at(zone, 4)?,
            device: Segment::at(device, 6)?,
        })
    }

    /// `aisle/v1/{store}/zones/{zone}/occupancy`
    pub fn zone_occupancy(store: &'a str, zone: &'a str) -> Result<Self, Error> {
        Ok(Topic::ZoneOccupancy {
            store: Segment::at(store, STORE_LEVEL)?,
            zone: Segment::at(zone, 4)?,
        })
    }

    /// `aisle/v1/{store}/offers/{shopper}`
    pub fn offers(store: &'a str, shopper: &'a str) -> Result<Self, Error> {
        Ok(Topic::Offers {
            store: Segment::at(store, STORE_LEVEL)?,
            shopper: Segment::at(shopper, 4)?,
        })
    }

    /// `aisle/v1/{store}/nodes/{node}/status`
    pub fn node_status(store: &'a str, node: &'a str) -> Result<Self, Error> {
        Ok(Topic::NodeStatus {
            store: Segment::at(store, STORE_LEVEL)?,
            node: Segment::at(node, 4)?,
        })
    }

    /// `aisle/v1/{store}/gateway/status`
    pub fn gateway_status(store: &'a str) -> Result<Self, Error> {
        Ok(Topic::GatewayStatus {
            store: Segment::at(store, STORE_LEVEL)?,
        })
    }

    /// `aisle/v1/{store}/campaigns/{campaign}`
    pub fn campaign(store: &'a str, campaign: &'a str) -> Result<Self, Error> {
        Ok(Topic::Campaign {
            store: Segment::at(store, STORE_LEVEL)?,
            campaign: Segment::at(campaign, 4)?,
        })
    }

    /// Reads a topic name, borrowing its segments from `topic`.
    ///
    /// Errors name the offending level, counting from 0 (`aisle`). Filters
    /// are not topic names: a wildcard is rejected like any bad segment.
    pub fn parse(topic: &'a str) -> Result<Self, Error> {
        let mut levels = Levels {
            inner: topic.split('/'),
            index: 0,
        };
        levels.expect(ROOT, "expected `aisle`")?;
        levels.expect(SCHEME_VERSION, "unsupported topic scheme version")?;
        let store = levels.segment()?;
        let parsed = match levels.next()? {
            "sightings" => Topic::Sightings {
                store,
                anchor: levels.segment()?,
            },
            "positions" => Topic::Positions {
                store,
                device: levels.segment()?,
            },
            "zones" => {
                let zone = levels.segment()?;
                let level = levels.index;
                match levels.next()? {
                    "events" => Topic::ZoneEvents {
                        store,
                        zone,
                        device: levels.segment()?,
                    },
                    "occupancy" => Topic::ZoneOccupancy { store, zone },
                    _ => {
                        return Err(Error::Topic {
                            reason: "expected `events` or `occupancy`",
                            level,
                        });
                    }
                }
            }
            "offers" => Topic::Offers {
                store,
                shopper: levels.segment()?,
            },
            "nodes" => {
                let node = levels.segment()?;
                levels.expect("status", "expected `status`")?;
                Topic::NodeStatus { store, node }
            }
            "gateway" => {
                levels.expect("status", "expected `status`")?;
                Topic::GatewayStatus { store }
            }
            "campaigns" => Topic::Campaign {
                store,
                campaign: levels.segment()?,
            },
            _ => {
                return Err(Error::Topic {
                    reason: "unknown topic kind",
                    level: 3,
                });
            }
        };
        levels.end()?;
        Ok(parsed)
    }

    /// What the topic carries.
    #[must_use]
    pub fn kind(&self) -> TopicKind {
        match self {
            Topic::Sightings { .. } => TopicKind::Sightings,
            Topic::Positions { .. } => TopicKind::Positions,
            Topic::ZoneEvents { .. } => TopicKind::ZoneEvents,
            Topic::ZoneOccupancy { .. } => TopicKind::ZoneOccupancy,
            Topic::Offers { .. } => TopicKind::Offers,
            Topic::NodeStatus { .. } => TopicKind::NodeStatus,
            Topic::GatewayStatus { .. } => TopicKind::GatewayStatus,
            Topic::Campaign { .. } => TopicKind::Campaign,
        }
    }

    /// The store the topic belongs to.
    #[must_use]
    pub fn store(&self) -> Segment<'a> {
        match *self {
            Topic::Sightings { store, .. }
            | Topic::Positions { store, .. }
            | Topic::ZoneEvents { store, .. }
            | Topic::ZoneOccupancy { store, .. }
            | Topic::Offers { store, .. }
            | Topic::NodeStatus { store, .. }
            | Topic::GatewayStatus { store }
            | Topic::Campaign { store, .. } => store,
        }
    }

    /// The recommended QoS, see [`TopicKind::qos`].
    #[must_use]
    pub fn qos(&self) -> QoS {
        self.kind().qos()
    }

    /// The recommended retain flag, see [`TopicKind::retain`].
    #[must_use]
    pub fn retain(&self) -> bool {
        self.kind().retain()
    }

    /// Length of the topic name in bytes; at most [`MAX_TOPIC_LEN`].
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let (levels, n) = self.levels();
        levels[..n].iter().map(|l| l.len()).sum::<usize>() + (n - 1)
    }

    /// Writes the topic name into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let need = self.encoded_len();
        let Some(out) = out.get_mut(..need) else {
            return Err(Error::BufferTooSmall {
                what: "topic",
                need,
                got: out.len(),
            });
        };
        let (levels, n) = self.levels();
        let mut at = 0;
        for (i, level) in levels[..n].iter().enumerate() {
            if i > 0 {
                out[at] = b'/';
                at += 1;
            }
            out[at..at + level.len()].copy_from_slice(level.as_bytes());
            at += level.len();
        }
        Ok(at)
    }

    /// The topic's levels, in order, and how many there are.
    fn levels(&self) -> ([&'a str; MAX_LEVELS], usize) {
        let mut out = [""; MAX_LEVELS];
        let tail: &[&'a str] = match *self {
            Topic::Sightings { store, anchor } => &[store.0, "sightings", anchor.0],
            Topic::Positions { store, device } => &[store.0, "positions", device.0],
            Topic::ZoneEvents {
                store,
                zone,
                device,
            } => &[store.0, "zones", zone.0, "events", device.0],
            Topic::ZoneOccupancy { store, zone } => &[store.0, "zones", zone.0, "occupancy"],
            Topic::Offers { store, shopper } => &[store.0, "offers", shopper.0],
            Topic::NodeStatus { store, node } => &[store.0, "nodes", node.0, "status"],
            Topic::GatewayStatus { store } => &[store.0, "gateway", "status"],
            Topic::Campaign { store, campaign } => &[store.0, "campaigns", campaign.0],
        };
        out[0] = ROOT;
        out[1] = SCHEME_VERSION;
        out[2..2 + tail.len()].copy_from_slice(tail);
        (out, 2 + tail.len())
    }
}

impl<'a> TryFrom<&'a str> for Topic<'a> {
    type Error = Error;

    fn try_from(topic: &'a str) -> Result<Self, Error> {
        Topic::parse(topic)
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (levels, n) = self.levels();
        for (i, level) in levels[..n].iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(level)?;
        }
        Ok(())
    }
}

/// The levels of a topic being parsed, with the index of the next one.
struct Levels<'a> {
    inner: core::str::Split<'a, char>,
    index: usize,
}

impl<'a> Levels<'a> {
    /// The next level, or an error naming it as missing.
    fn next(&mut self) -> Result<&'a str, Error> {
        let level = self.index;
        self.index += 1;
        self.inner.next().ok_or(Error::Topic {
            reason: "missing level",
            level,
        })
    }

    /// The next level, which must be `literal`.
    fn expect(&mut self, literal: &str, reason: &'static str) -> Result<(), Error> {
        let level = self.index;
        if self.next()? == literal {
            Ok(())
        } else {
            Err(Error::Topic { reason, level })
        }
    }

    /// The next level, validated as a segment.
    fn segment(&mut self) -> Result<Segment<'a>, Error> {
        let level = self.index;
        Segment::at(self.next()?, level)
    }

    /// Succeeds if no level is left.
    fn end(&mut self) -> Result<(), Error> {
        match self.inner.next() {
            None => Ok(()),
            Some(_) => Err(Error::Topic {
                reason: "unexpected level",
                level: self.index,
            }),
        }
    }
}
