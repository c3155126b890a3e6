//! The node's settings and its frame-counter high-water mark, kept in flash
//! with `sequential-storage`'s map.
//!
//! Two items live in the map:
//!
//! | key | value | written |
//! |---|---|---|
//! | 1 | settings record: format 1 u8, node id u32, key (16), last accepted downlink counter u32, then a `Configure` body (role, tx power, interval, window, identity) | on each `Configure` or `Provision` |
//! | 2 | uplink counter high-water mark u32: no frame was sealed at or above it | every [`COUNTER_BLOCK`] frames |
//!
//! `sequential-storage` writes each item whole, after the old one, and only
//! then lets the old one go, so a power cut during a write leaves either the
//! old value or the new one (the crate's own claim, and this crate's property
//! test over every cut point). The record holds the downlink counter beside
//! the key because both change together on `Provision` and must not be seen
//! apart.

use core::ops::Range;

use aisle_protocol::link::{
    BeaconIdentity, Configure, FACTORY_KEY, NodeKey, Role, UNPROVISIONED_NODE_ID,
};
use embedded_storage_async::nor_flash::NorFlash;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage, SerializationError, Value};

/// Frames sealed per flash write of the counter high-water mark.
///
/// A scanner with a 1 s window sends about three frames a second (batches
/// and `Status`), so a block of 1024 lasts some six minutes: about 250 writes
/// a day of 16 bytes each, one 4 KiB page erase a day over a 4-page range,
/// decades within the nRF52840's 10,000 erase cycles. A reboot skips at most
/// one block of counters, which costs nothing.
pub const COUNTER_BLOCK: u32 = 1024;

/// Format byte of the settings record.
const RECORD_FORMAT: u8 = 1;
/// Map key of the settings record.
const RECORD_KEY: u8 = 1;
/// Map key of the uplink counter high-water mark.
const COUNTER_KEY: u8 = 2;
/// Longest record: format, id, key, downlink counter, longest `Configure` body (27).
const MAX_RECORD_LEN: usize = 1 + 4 + 16 + 4 + 27;
/// Scratch for one item: its key and value, rounded up to whole words.
const DATA_BUFFER_LEN: usize = 64;

/// What a node is and does, as kept across power cuts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The node's id on the link; [`UNPROVISIONED_NODE_ID`] until provisioned.
    pub node_id: u32,
    /// The key its frames are sealed with; [`FACTORY_KEY`] until provisioned.
    pub key: NodeKey,
    /// Beacon or scanner.
    pub role: Role,
    /// Radio transmit power, dBm.
    pub tx_power_dbm: i8,
    /// Advertising interval of the beacon role, ms (before advDelay).
    pub adv_interval_ms: u16,
    /// Scan window of the scanner role, ms; one batch per window; 0 stops scanning.
    pub scan_window_ms: u16,
    /// What the beacon role advertises.
    pub identity: BeaconIdentity,
}

/// Everything but the key.
impl core::fmt::Debug for Settings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Settings")
            .field("node_id", &self.node_id)
            .field("role", &self.role)
            .field("tx_power_dbm", &self.tx_power_dbm)
            .field("adv_interval_ms", &self.adv_interval_ms)
            .field("scan_window_ms", &self.scan_window_ms)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::FACTORY
    }
}

impl Settings {
    /// A node as it leaves the factory (or after its settings were lost):
    /// unprovisioned, a scanner with a 1 s window, 0 dBm, a 100 ms
    /// advertising interval (Apple's iBeacon recommendation) and no identity.
    pub const FACTORY: Self = Self {
        node_id: UNPROVISIONED_NODE_ID,
        key: FACTORY_KEY,
        role: Role::Scanner,
        tx_power_dbm: 0,
        adv_interval_ms: 100,
        scan_window_ms: 1000,
        identity: BeaconIdentity::None,
    };

    /// Whether the node has its own id (and so its own key).
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        self.node_id != UNPROVISIONED_NODE_ID
    }

    /// The role-related settings as the gateway sends them.
    #[must_use]
    pub fn configuration(&self) -> Configure {
        Configure {
            role: self.role,
            tx_power_dbm: self.tx_power_dbm,
            adv_interval_ms: self.adv_interval_ms,
            scan_window_ms: self.scan_window_ms,
            identity: self.identity,
        }
    }

    /// Takes the gateway's settings.
    pub fn apply(&mut self, configure: &Configure) {
        self.role = configure.role;
        self.tx_power_dbm = configure.tx_power_dbm;
        self.adv_interval_ms = configure.adv_interval_ms;
        self.scan_window_ms = configure.scan_window_ms;
        self.identity = configure.identity;
    }
}

/// Why settings could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StorageError<FE> {
    /// The flash failed.
    Flash(FE),
    /// The range is not at least two whole erase pages inside the flash.
    Range,
    /// The range is full even after reclaiming space: it is too small.
    Full,
    /// The range holds something that is not this crate's settings.
    Corrupted,
    /// The settings are outside the ranges `Configure` allows (e.g. an
    /// advertising interval under 20 ms), so they were not written.
    Invalid,
}

impl<FE> StorageError<FE> {
    fn from_map(e: sequential_storage::Error<FE>) -> Self {
        match e {
            sequential_storage::Error::Storage { value, .. } => Self::Flash(value),
            sequential_storage::Error::FullStorage | sequential_storage::Error::ItemTooBig => {
                Self::Full
            }
            sequential_storage::Error::SerializationError(SerializationError::InvalidData) => {
                Self::Invalid
            }
            _ => Self::Corrupted,
        }
    }
}

/// Settings as stored, with the downlink counter they go with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) settings: Settings,
    /// The last downlink counter accepted under `settings.key`.
    pub(crate) downlink_last: u32,
}

impl Record {
    fn encode(&self, out: &mut [u8]) -> Result<usize, SerializationError> {
        let head_len = 1 + 4 + 16 + 4;
        let (head, body) = out
            .split_at_mut_checked(head_len)
            .ok_or(SerializationError::BufferTooSmall)?;
        let s = &self.settings;
        let fields: [&[u8]; 4] = [
            &[RECORD_FORMAT],
            &s.node_id.to_le_bytes(),
            &s.key,
            &self.downlink_last.to_le_bytes(),
        ];
        let mut at = 0;
        for field in fields {
            let dst = head
                .get_mut(at..at + field.len())
                .ok_or(SerializationError::BufferTooSmall)?;
            dst.copy_from_slice(field);
            at += field.len();
        }
        let n = s
            .configuration()
            .encode(body)
            .map_err(|_| SerializationError::InvalidData)?;
        Ok(head_len + n)
    }

    fn decode(buf: &[u8]) -> Result<Self, SerializationError> {
        let bad = || SerializationError::InvalidFormat;
        let (&format, rest) = buf.split_first().ok_or_else(bad)?;
        if format != RECORD_FORMAT {
            return Err(bad());
        }
        let (id, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
        let (key, rest) = rest.split_first_chunk::<16>().ok_or_else(bad)?;
        let (downlink, body) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
        let configure = Configure::decode(body).map_err(|_| bad())?;
        let mut settings = Settings {
            node_id: u32::from_le_bytes(*id),
            key: *key,
            ..Settings::FACTORY
        };
        settings.apply(&configure);
        Ok(Self {
            settings,
            downlink_last: u32::from_le_bytes(*downlink),
        })
    }
}

impl Value<'_> for Record {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        self.encode(buffer)
    }

    fn deserialize_from(buffer: &[u8]) -> Result<(Self, usize), SerializationError> {
        if buffer.len() > MAX_RECORD_LEN {
            return Err(SerializationError::InvalidFormat);
        }
        Self::decode(buffer).map(|r| (r, buffer.len()))
    }
}

/// The settings map over a flash range.
pub(crate) struct Store<S: NorFlash> {
    map: MapStorage<u8, S, Cache<Uncached, Uncached, Uncached, u8>>,
    buf: [u8; DATA_BUFFER_LEN],
}

impl<S: NorFlash> Store<S> {
    pub(crate) fn open(flash: S, range: Range<u32>) -> Result<Self, StorageError<S::Error>> {
        let capacity = u32::try_from(flash.capacity()).unwrap_or(u32::MAX);
        if range.end > capacity {
            return Err(StorageError::Range);
        }
        let config = MapConfig::try_new(range).map_err(|_| StorageError::Range)?;
        Ok(Self {
            map: MapStorage::new(flash, config, Cache::new_uncached()),
            buf: [0; DATA_BUFFER_LEN],
        })
    }

    /// The stored record, if any.
    pub(crate) async fn record(&mut self) -> Result<Option<Record>, StorageError<S::Error>> {
        self.map
            .fetch_item::<Record>(&mut self.buf, &RECORD_KEY)
            .await
            .map_err(StorageError::from_map)
    }

    pub(crate) async fn set_record(
        &mut self,
        record: &Record,
    ) -> Result<(), StorageError<S::Error>> {
        self.map
            .store_item(&mut self.buf, &RECORD_KEY, record)
            .await
            .map_err(StorageError::from_map)
    }

    /// The uplink counter high-water mark, 1 if none was stored.
    pub(crate) async fn counter_mark(&mut self) -> Result<u32, StorageError<S::Error>> {
        let mark = self
            .map
            .fetch_item::<u32>(&mut self.buf, &COUNTER_KEY)
            .await
            .map_err(StorageError::from_map)?;
        Ok(mark.unwrap_or(1).max(1))
    }

    pub(crate) async fn set_counter_mark(
        &mut self,
        mark: u32,
    ) -> Result<(), StorageError<S::Error>> {
        self.map
            .store_item(&mut self.buf, &COUNTER_KEY, &mark)
            .await
            .map_err(StorageError::from_map)
    }

    /// Forgets everything in the range.
    pub(crate) async fn erase(&mut self) -> Result<(), StorageError<S::Error>> {
        self.map.erase_all().await.map_err(StorageError::from_map)
    }
}

/// Reads the settings kept in `range` of `flash`: [`Settings::FACTORY`] when
/// none were ever stored.
pub async fn load<F: NorFlash>(
    flash: &mut F,
    range: Range<u32>,
) -> Result<Settings, StorageError<F::Error>> {
    let mut store = Store::open(flash, range)?;
    Ok(store
        .record()
        .await?
        .map_or(Settings::FACTORY, |r| r.settings))
}

/// Writes `settings` into `range` of `flash`, e.g. to start a node already
/// provisioned. The node accepts any downlink counter from the gateway
/// afterwards, as after a `Provision`.
pub async fn store<F: NorFlash>(
    flash: &mut F,
    range: Range<u32>,
    settings: &Settings,
) -> Result<(), StorageError<F::Error>> {
    let mut store = Store::open(flash, range)?;
    store
        .set_record(&Record {
            settings: *settings,
            downlink_last: 0,
        })
        .await
}
