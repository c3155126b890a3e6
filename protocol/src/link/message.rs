//! The messages of the node link and their bodies. Layouts are in the
//! [module documentation](super).

use super::frame::{Direction, NodeKey};
use super::sighting::SightingBatch;
use super::wire::{Reader, Writer};
use crate::Error;

/// What a node does on the shop floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
pub enum Role {
    /// Advertises a beacon identity for shoppers' phones to range on.
    Beacon = 0,
    /// Listens to advertisements and reports sightings.
    Scanner = 1,
}

impl Role {
    fn decode(code: u8, offset: usize) -> Result<Self, Error> {
        match code {
            0 => Ok(Self::Beacon),
            1 => Ok(Self::Scanner),
            _ => Err(Error::InvalidValue {
                what: "role",
                offset,
                value: u32::from(code),
            }),
        }
    }
}

/// A firmware release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FirmwareVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch version.
    pub patch: u8,
}

/// Sent by a node when it starts, after it applied a [`Configure`] (the
/// gateway's acknowledgement) and after it applied a [`Provision`] (its first
/// frame under the new key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hello {
    /// The node's id; must equal the frame header's, which
    /// [`open_frame`](super::open_frame) checks.
    pub node_id: u32,
    /// The firmware it runs.
    pub firmware: FirmwareVersion,
    /// The role it currently has (its last configuration, or its default).
    pub role: Role,
    /// The counter of the last gateway-to-node frame the node accepted (0
    /// before any): after a `Configure`, that `Configure`'s. A gateway
    /// that lost track of the node's uplink counter (it stopped without
    /// writing it down) takes the node's frames again from the first
    /// `Hello` naming a downlink counter it sealed since: no frame sealed
    /// before that can. `None` from firmware that predates the field,
    /// whose `Hello` body ends before it.
    pub downlink_last: Option<u32>,
}

/// Bytes of a [`Hello`] body.
const HELLO_LEN: usize = 12;
/// Bytes of a [`Hello`] body without `downlink_last`, as firmware before
/// the field sends it: still read, as `downlink_last: None`.
const HELLO_LEN_WITHOUT_DOWNLINK: usize = 8;

impl Hello {
    /// Reads a `Hello` body: 12 bytes, or the 8 of firmware before
    /// `downlink_last`.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let node_id = r.u32("hello node id")?;
        let firmware = FirmwareVersion {
            major: r.u8("hello firmware version")?,
            minor: r.u8("hello firmware version")?,
            patch: r.u8("hello firmware version")?,
        };
        let role = Role::decode(r.u8("hello role")?, 7)?;
        let downlink_last = r.trailing_u32("hello downlink counter")?;
        r.finish("hello")?;
        Ok(Self {
            node_id,
            firmware,
            role,
            downlink_last,
        })
    }

    /// Bytes the body takes: without `downlink_last` when it is `None`.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        if self.downlink_last.is_some() {
            HELLO_LEN
        } else {
            HELLO_LEN_WITHOUT_DOWNLINK
        }
    }

    /// Writes the body into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        w.u32(self.node_id, "hello")?;
        w.put(
            &[
                self.firmware.major,
                self.firmware.minor,
                self.firmware.patch,
            ],
            "hello",
        )?;
        w.u8(self.role as u8, "hello")?;
        w.trailing_u32(self.downlink_last, "hello")?;
        Ok(w.len())
    }
}

/// A node's health, sent periodically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Status {
    /// Seconds since the node started.
    pub uptime_s: u32,
    /// Battery voltage in mV.
    pub battery_mv: u16,
    /// Chip temperature in hundredths of a degree Celsius.
    pub temperature_centi_c: i16,
    /// Advertisements received since start.
    pub adverts_seen: u32,
    /// Advertisements heard but never reported: refused by, or evicted from,
    /// a scanner's full sighting table.
    pub queue_drops: u32,
    /// Link frames rejected (checksum, tag, replay) since start.
    pub frames_rejected: u32,
    /// Packets heard on the air that failed their CRC-24 (or were cut
    /// short) since start. `None` from firmware that predates the field,
    /// whose `Status` body ends before it.
    pub crc_failures: Option<u32>,
}

/// Bytes of a [`Status`] body.
const STATUS_LEN: usize = 24;
/// Bytes of a [`Status`] body without `crc_failures`, as firmware before
/// the field sends it: still read, as `crc_failures: None`.
const STATUS_LEN_WITHOUT_CRC: usize = 20;

impl Status {
    /// Reads a `Status` body: 24 bytes, or the 20 of firmware before
    /// `crc_failures`.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let status = Self {
            uptime_s: r.u32("status uptime")?,
            battery_mv: r.u16("status battery")?,
            temperature_centi_c: r.i16("status temperature")?,
            adverts_seen: r.u32("status adverts seen")?,
            queue_drops: r.u32("status queue drops")?,
            frames_rejected: r.u32("status frames rejected")?,
            crc_failures: r.trailing_u32("status crc failures")?,
        };
        r.finish("status")?;
        Ok(status)
    }

    /// Bytes the body takes: without `crc_failures` when it is `None`.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        if self.crc_failures.is_some() {
            STATUS_LEN
        } else {
            STATUS_LEN_WITHOUT_CRC
        }
    }

    /// Writes the body into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        w.u32(self.uptime_s, "status")?;
        w.u16(self.battery_mv, "status")?;
        w.i16(self.temperature_centi_c, "status")?;
        w.u32(self.adverts_seen, "status")?;
        w.u32(self.queue_drops, "status")?;
        w.u32(self.frames_rejected, "status")?;
        w.trailing_u32(self.crc_failures, "status")?;
        Ok(w.len())
    }
}

/// The identity a beacon node advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BeaconIdentity {
    /// Nothing to advertise (a scanner).
    None,
    /// An iBeacon. Major and minor travel little-endian here like every link
    /// field; the firmware writes them big-endian into the advertisement.
    IBeacon {
        /// Proximity UUID, in the order it is written (`426c7565-...` is
        /// `[0x42, 0x6c, ...]`).
        uuid: [u8; 16],
        /// Major.
        major: u16,
        /// Minor.
        minor: u16,
    },
    /// An Eddystone-UID.
    EddystoneUid {
        /// 10-byte namespace.
        namespace: [u8; 10],
        /// 6-byte instance.
        instance: [u8; 6],
    },
}

/// The gateway's settings for a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Configure {
    /// The role to take.
    pub role: Role,
    /// Radio transmit power in dBm; the node rounds to what its radio supports.
    pub tx_power_dbm: i8,
    /// Advertising interval in ms.
    pub adv_interval_ms: u16,
    /// Scan window in ms; the node scans continuously, one window per channel.
    pub scan_window_ms: u16,
    /// What to advertise.
    pub identity: BeaconIdentity,
}

impl Configure {
    /// Transmit powers a BLE controller may be asked for (Core spec v5.4,
    /// Vol 4 Part E 7.8.53: -127 to +20 dBm).
    pub const TX_POWER_DBM: core::ops::RangeInclusive<i8> = -127..=20;
    /// Legacy advertising intervals (Vol 6 Part B 4.4.2.2: 20 ms to 10.24 s).
    pub const ADV_INTERVAL_MS: core::ops::RangeInclusive<u16> = 20..=10_240;
    /// Scan windows (Vol 4 Part E 7.8.10: up to 10.24 s); 0 means do not scan.
    pub const SCAN_WINDOW_MS: core::ops::RangeInclusive<u16> = 0..=10_240;

    fn check(&self) -> Result<(), Error> {
        let invalid = |what, offset, value| {
            Err(Error::InvalidValue {
                what,
                offset,
                value,
            })
        };
        if !Self::TX_POWER_DBM.contains(&self.tx_power_dbm) {
            return invalid(
                "configure tx power",
                1,
                u32::from(self.tx_power_dbm.cast_unsigned()),
            );
        }
        if !Self::ADV_INTERVAL_MS.contains(&self.adv_interval_ms) {
            return invalid(
                "configure advertising interval",
                2,
                u32::from(self.adv_interval_ms),
            );
        }
        if !Self::SCAN_WINDOW_MS.contains(&self.scan_window_ms) {
            return invalid("configure scan window", 4, u32::from(self.scan_window_ms));
        }
        Ok(())
    }

    /// Reads a `Configure` body.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let role = Role::decode(r.u8("configure role")?, 0)?;
        let tx_power_dbm = r.i8("configure tx power")?;
        let adv_interval_ms = r.u16("configure advertising interval")?;
        let scan_window_ms = r.u16("configure scan window")?;
        let kind = r.u8("configure identity kind")?;
        let identity = match kind {
            0 => BeaconIdentity::None,
            1 => BeaconIdentity::IBeacon {
                uuid: r.array("configure iBeacon UUID")?,
                major: r.u16("configure iBeacon major")?,
                minor: r.u16("configure iBeacon minor")?,
            },
            2 => BeaconIdentity::EddystoneUid {
                namespace: r.array("configure Eddystone namespace")?,
                instance: r.array("configure Eddystone instance")?,
            },
            _ => {
                return Err(Error::InvalidValue {
                    what: "configure identity kind",
                    offset: 6,
                    value: u32::from(kind),
                });
            }
        };
        r.finish("configure")?;
        let configure = Self {
            role,
            tx_power_dbm,
            adv_interval_ms,
            scan_window_ms,
            identity,
        };
        configure.check()?;
        Ok(configure)
    }

    /// Writes the body into `out`, returning the bytes written. Values
    /// outside the ranges above are refused, as the node would refuse them.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u8(self.role as u8, "configure")?;
        w.i8(self.tx_power_dbm, "configure")?;
        w.u16(self.adv_interval_ms, "configure")?;
        w.u16(self.scan_window_ms, "configure")?;
        match &self.identity {
            BeaconIdentity::None => w.u8(0, "configure")?,
            BeaconIdentity::IBeacon { uuid, major, minor } => {
                w.u8(1, "configure")?;
                w.put(uuid, "configure")?;
                w.u16(*major, "configure")?;
                w.u16(*minor, "configure")?;
            }
            BeaconIdentity::EddystoneUid {
                namespace,
                instance,
            } => {
                w.u8(2, "configure")?;
                w.put(namespace, "configure")?;
                w.put(instance, "configure")?;
            }
        }
        Ok(w.len())
    }

    fn encoded_len(&self) -> usize {
        7 + match self.identity {
            BeaconIdentity::None => 0,
            BeaconIdentity::IBeacon { .. } => 20,
            BeaconIdentity::EddystoneUid { .. } => 16,
        }
    }
}

/// A new identity for a node: its node id and its AES key from now on.
///
/// Sealed under the key the node holds now (the all-zero
/// [`FACTORY_KEY`](super::FACTORY_KEY) while it is unprovisioned) with its
/// current id in the header, so only someone who knows a node's key can
/// re-key it. Once applied, the node seals under the new key and id, starts
/// its uplink counter again at 1 (a new key, so no counter is reused under
/// one key) and sends [`Hello`]. With the key it already holds, only the
/// id changes and the counters go on.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Provision {
    /// The node id to take.
    pub node_id: u32,
    /// The AES-128 key to seal and open frames with.
    pub key: NodeKey,
}

/// The node id, never the key, so a provisioning can be logged.
impl core::fmt::Debug for Provision {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Provision")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Provision {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Provision {{ node_id: {=u32}, .. }}", self.node_id);
    }
}

/// Bytes of a [`Provision`] body.
const PROVISION_LEN: usize = 20;

impl Provision {
    /// Reads a `Provision` body.
    pub fn decode(body: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(body);
        let node_id = r.u32("provision node id")?;
        let key = r.array("provision key")?;
        r.finish("provision")?;
        Ok(Self { node_id, key })
    }

    /// Writes the body into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        w.u32(self.node_id, "provision")?;
        w.put(&self.key, "provision")?;
        Ok(w.len())
    }
}

/// The message type byte of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
pub enum MessageKind {
    /// [`Hello`], node to gateway.
    Hello = 0x01,
    /// [`Status`], node to gateway.
    Status = 0x02,
    /// [`SightingBatch`], node to gateway.
    SightingBatch = 0x03,
    /// [`Configure`], gateway to node.
    Configure = 0x81,
    /// [`Provision`], gateway to node.
    Provision = 0x82,
}

impl MessageKind {
    /// The kind a type byte stands for, if any.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => Self::Hello,
            0x02 => Self::Status,
            0x03 => Self::SightingBatch,
            0x81 => Self::Configure,
            0x82 => Self::Provision,
            _ => return None,
        })
    }

    /// The type byte.
    #[must_use]
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The only direction this message travels in. The type byte's top bit
    /// says it: set for gateway to node.
    #[must_use]
    pub const fn direction(self) -> Direction {
        match self {
            Self::Hello | Self::Status | Self::SightingBatch => Direction::NodeToGateway,
            Self::Configure | Self::Provision => Direction::GatewayToNode,
        }
    }
}

/// Any message of the node link, borrowing from the frame it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message<'a> {
    /// A node announcing itself.
    Hello(Hello),
    /// A node's health.
    Status(Status),
    /// What a scanner heard in one window.
    SightingBatch(SightingBatch<'a>),
    /// Settings for a node.
    Configure(Configure),
    /// A new node id and key for a node.
    Provision(Provision),
}

impl<'a> Message<'a> {
    /// Its type.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Hello(_) => MessageKind::Hello,
            Self::Status(_) => MessageKind::Status,
            Self::SightingBatch(_) => MessageKind::SightingBatch,
            Self::Configure(_) => MessageKind::Configure,
            Self::Provision(_) => MessageKind::Provision,
        }
    }

    /// Reads a body of the type `kind` (the frame's type byte).
    pub fn decode(kind: u8, body: &'a [u8]) -> Result<Self, Error> {
        match MessageKind::from_code(kind) {
            Some(MessageKind::Hello) => Hello::decode(body).map(Self::Hello),
            Some(MessageKind::Status) => Status::decode(body).map(Self::Status),
            Some(MessageKind::SightingBatch) => {
                SightingBatch::decode(body).map(Self::SightingBatch)
            }
            Some(MessageKind::Configure) => Configure::decode(body).map(Self::Configure),
            Some(MessageKind::Provision) => Provision::decode(body).map(Self::Provision),
            None => Err(Error::InvalidValue {
                what: "message type",
                offset: 0,
                value: u32::from(kind),
            }),
        }
    }

    /// Bytes the body takes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Hello(hello) => hello.encoded_len(),
            Self::Status(status) => status.encoded_len(),
            Self::SightingBatch(batch) => batch.encoded_len(),
            Self::Configure(configure) => configure.encoded_len(),
            Self::Provision(_) => PROVISION_LEN,
        }
    }

    /// Writes the body into `out`, returning the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        match self {
            Self::Hello(m) => m.encode(out),
            Self::Status(m) => m.encode(out),
            Self::SightingBatch(m) => m.encode(out),
            Self::Configure(m) => m.encode(out),
            Self::Provision(m) => m.encode(out),
        }
    }
}
