//! What a node keeps between the steps of its loop, and how it starts.

use aisle_protocol::ll::{AddressType, DeviceAddress};
use embedded_storage_async::nor_flash::NorFlash;

use crate::Error;
use crate::beacon::Beacon;
use crate::node::STATUS_INTERVAL_MS;
use crate::rng::Prng;
use crate::scanner::Scanner;
use crate::settings::{Record, Settings, StorageError, Store};
use crate::table::Slots;
use crate::uplink::Uplink;

/// Everything the loop keeps between steps.
pub(crate) struct State<'s> {
    pub(crate) record: Record,
    pub(crate) uplink: Uplink,
    pub(crate) scanner: Scanner<'s>,
    pub(crate) beacon: Beacon,
    pub(crate) status_due_ms: u64,
    pub(crate) led_off_ms: Option<u64>,
    pub(crate) link_quiet_until_ms: u64,
}

impl<'s> State<'s> {
    /// A node as it starts, before flash has been read: factory settings,
    /// an empty window from `now` in `slots`, the beacon's address drawn
    /// from `seed`.
    pub(crate) fn new(slots: &'s mut Slots, now: u64, seed: u64) -> Self {
        let mut rng = Prng::new(seed);
        let record = FACTORY_RECORD;
        Self {
            uplink: Uplink::new(&record, 0),
            record,
            scanner: Scanner::new(slots, now),
            beacon: Beacon::new(static_random_address(rng.next_u64()), rng.next_u64(), now),
            status_due_ms: now.saturating_add(STATUS_INTERVAL_MS),
            led_off_ms: None,
            link_quiet_until_ms: 0,
        }
    }
}

const FACTORY_RECORD: Record = Record {
    settings: Settings::FACTORY,
    downlink_last: 0,
};

/// Loads what flash keeps (settings and the counter mark) into `st`.
pub(crate) async fn boot<F: NorFlash, RE, LE>(
    st: &mut State<'_>,
    store: &mut Store<F>,
) -> Result<(), Error<RE, LE, F::Error>> {
    let record = match store.record().await {
        Ok(record) => record.unwrap_or(FACTORY_RECORD),
        // Not ours, or damaged beyond the store's own repair: a node that
        // starts unprovisioned can be provisioned again; one that refuses
        // to start cannot.
        Err(StorageError::Corrupted) => {
            store.erase().await.map_err(Error::Storage)?;
            FACTORY_RECORD
        }
        Err(e) => return Err(Error::Storage(e)),
    };
    let counter_mark = store.counter_mark().await.map_err(Error::Storage)?;
    st.record = record;
    st.uplink.resume(&record, counter_mark);
    Ok(())
}

/// A static random device address (Core spec v5.4, Vol 6 Part B 1.3.2.1):
/// the two most significant bits set, the rest from `bits`.
fn static_random_address(bits: u64) -> DeviceAddress {
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(bits.to_le_bytes().get(..6).unwrap_or(&[0; 6]));
    // Air order: the last byte is the most significant.
    if let Some(top) = bytes.last_mut() {
        *top |= 0xC0;
    }
    DeviceAddress {
        kind: AddressType::Random,
        bytes,
    }
}
