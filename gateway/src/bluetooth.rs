//! The gateway's own Bluetooth adapter as an anchor: BlueZ scanning through
//! btleplug, each advertisement turned back into the AD structures the
//! identify stage decodes, and sent on as a sighting from the adapter's
//! anchor.
//!
//! BlueZ does not hand over raw advertising PDUs on its D-Bus API: it keeps
//! each device's latest manufacturer data, service data, service UUIDs,
//! transmit power and RSSI as properties and signals their changes. With
//! duplicate data on (btleplug's discovery filter sets `DuplicateData`), it
//! signals manufacturer or service data on every advertisement heard, so each
//! such signal is one sighting; the AD structures are rebuilt from the
//! device's properties, which is all `identify` reads (flags and names are
//! not kept). btleplug scans actively: BlueZ's passive scanning goes through
//! its advertisement-monitor API, which btleplug does not use.
//!
//! When the adapter goes away (unplugged, BlueZ restarted, D-Bus gone), the
//! source notices within [`HEALTH_EVERY`], and sets the scan up again with
//! a back-off until the adapter is back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aisle_protocol::ad::{AdWriter, ad_type};
use btleplug::api::{Central, CentralEvent, CentralState, Manager as _, Peripheral as _};
use btleplug::api::{PeripheralProperties, ScanFilter};
use btleplug::platform::{Adapter, Manager, PeripheralId};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{SourceSighting, Subject};
use crate::source::wall_clock;

/// How often the adapter is asked whether it is still there: BlueZ says
/// nothing on the adapter's event stream when the adapter is removed.
pub const HEALTH_EVERY: Duration = Duration::from_secs(2);
/// Reports of one device closer together than this are one advertisement:
/// BlueZ signals its RSSI, manufacturer data and service data separately,
/// and the Bluetooth Core Specification (Vol 6, Part B, 4.4.2.2) puts
/// advertising events at least 20 ms apart.
const SAME_ADVERT: Duration = Duration::from_millis(20);
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Room for the rebuilt AD structures: BlueZ merges advertising data and
/// scan responses, and extended advertising carries up to 254 bytes each.
const AD_CAPACITY: usize = 1024;

/// Why scanning stopped.
#[derive(Debug, thiserror::Error)]
pub enum BluetoothError {
    /// BlueZ, D-Bus or the adapter failed.
    #[error("bluetooth: {0}")]
    Btle(#[from] btleplug::Error),
    /// No adapter, or not the one named.
    #[error("no Bluetooth adapter{}", .0.as_deref().map_or_else(String::new, |a| format!(" named {a}")))]
    NoAdapter(Option<String>),
    /// The adapter's event stream ended.
    #[error("the adapter's event stream ended")]
    EventsEnded,
}

/// The gateway's adapter, scanning as an anchor.
#[derive(Debug, Clone)]
pub struct AdapterSource {
    /// The anchor the adapter is in the layout.
    pub anchor: Arc<str>,
    /// The adapter's name (`hci0`); the first adapter when `None`.
    pub adapter: Option<String>,
}

impl AdapterSource {
    /// Scans until `shutdown`, setting the scan up again whenever the
    /// adapter goes away.
    pub async fn run(self, out: mpsc::Sender<SourceSighting>, shutdown: CancellationToken) {
        let mut retry = RETRY_MIN;
        loop {
            let started = Instant::now();
            match self.scan(&out, &shutdown).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(anchor = %self.anchor, %error, ?retry, "Bluetooth scan stopped; retrying");
                }
            }
            // A scan that ran a while was healthy: start the back-off over.
            if started.elapsed() > RETRY_MAX {
                retry = RETRY_MIN;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(RETRY_MAX);
        }
    }

    /// Scans until shutdown (`Ok`) or until the adapter fails.
    async fn scan(
        &self,
        out: &mpsc::Sender<SourceSighting>,
        shutdown: &CancellationToken,
    ) -> Result<(), BluetoothError> {
        let manager = Manager::new().await?;
        let adapter = self.find_adapter(&manager).await?;
        let mut events = adapter.events().await?;
        adapter.start_scan(ScanFilter::default()).await?;
        let info = adapter.adapter_info().await?;
        tracing::info!(anchor = %self.anchor, adapter = %info, "Bluetooth scan started");
        let mut last_heard: HashMap<PeripheralId, Instant> = HashMap::new();
        let mut powered_off = false;
        let mut health = tokio::time::interval(HEALTH_EVERY);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = adapter.stop_scan().await;
                    return Ok(());
                }
                _ = health.tick() => {
                    adapter.adapter_info().await?;
                    // Forget devices not heard for a while, so the map
                    // holds only what is around.
                    let now = Instant::now();
                    last_heard.retain(|_, t| now.duration_since(*t) < HEALTH_EVERY);
                    continue;
                }
                event = events.next() => event.ok_or(BluetoothError::EventsEnded)?,
            };
            let id = match event {
                CentralEvent::DeviceDiscovered(id)
                | CentralEvent::DeviceUpdated(id)
                | CentralEvent::ManufacturerDataAdvertisement { id, .. }
                | CentralEvent::ServiceDataAdvertisement { id, .. } => id,
                // BlueZ stops discovery when the adapter powers off, so start
                // it again when power comes back. Only then: starting a scan
                // sets `Powered` itself, which may signal a power-on again.
                CentralEvent::StateUpdate(CentralState::PoweredOff) => {
                    powered_off = true;
                    continue;
                }
                CentralEvent::StateUpdate(CentralState::PoweredOn) if powered_off => {
                    powered_off = false;
                    adapter.start_scan(ScanFilter::default()).await?;
                    tracing::info!(anchor = %self.anchor, "Bluetooth scan started again after power-on");
                    continue;
                }
                _ => continue,
            };
            let now = Instant::now();
            if last_heard
                .insert(id.clone(), now)
                .is_some_and(|t| now.duration_since(t) < SAME_ADVERT)
            {
                continue;
            }
            let Some(sighting) = self.sighting_of(&adapter, &id).await else {
                continue;
            };
            if out.send(sighting).await.is_err() {
                return Ok(());
            }
        }
    }

    async fn find_adapter(&self, manager: &Manager) -> Result<Adapter, BluetoothError> {
        for adapter in manager.adapters().await? {
            let Some(wanted) = &self.adapter else {
                return Ok(adapter);
            };
            // BlueZ adapters describe themselves as `hci0 (usb:v1D6Bp0246d0537)`.
            let info = adapter.adapter_info().await?;
            if info.split_whitespace().next() == Some(wanted.as_str()) {
                return Ok(adapter);
            }
        }
        Err(BluetoothError::NoAdapter(self.adapter.clone()))
    }

    /// The device's latest advertisement as a sighting, if it has an RSSI
    /// (BlueZ drops the RSSI of a device it has not heard in this scan). A
    /// device that went away in between is skipped. With btleplug's own look
    /// up, an advertisement costs three D-Bus calls to BlueZ.
    async fn sighting_of(&self, adapter: &Adapter, id: &PeripheralId) -> Option<SourceSighting> {
        let peripheral = adapter.peripheral(id).await.ok()?;
        let properties = match peripheral.properties().await {
            Ok(p) => p?,
            Err(error) => {
                tracing::debug!(%error, "device properties not read");
                return None;
            }
        };
        sighting(&self.anchor, &properties, wall_clock())
    }
}

/// A sighting of the device `properties` describe, heard by `anchor` at
/// `ts`; none without an RSSI.
#[must_use]
pub fn sighting(
    anchor: &Arc<str>,
    properties: &PeripheralProperties,
    ts: f64,
) -> Option<SourceSighting> {
    let rssi = properties.rssi?;
    let address = <[u8; 6]>::try_from(properties.address.as_ref()).ok();
    Some(SourceSighting {
        ts,
        anchor: Arc::clone(anchor),
        subject: Subject::Advert {
            adv: advertisement(properties),
            address,
        },
        rssi: f64::from(rssi),
    })
}

/// The Bluetooth base UUID's bits outside a 16- or 32-bit alias.
const BASE_UUID_LOW: u128 = 0x0000_0000_0000_1000_8000_0080_5F9B_34FB;
const ALIAS_MASK: u128 = 0xFFFF_FFFF << 96;

/// A UUID's 16- or 32-bit alias when it is one of the Bluetooth base UUIDs.
fn alias(uuid: u128) -> Option<u32> {
    if uuid & !ALIAS_MASK != BASE_UUID_LOW {
        return None;
    }
    u32::try_from(uuid >> 96).ok()
}

/// Rebuilds the AD structures of a device's advertisement from what BlueZ
/// keeps of it: service UUID lists, service data, manufacturer data and
/// transmit power, in a stable order. A structure too long to encode is
/// left out; the rest still decodes.
#[must_use]
pub fn advertisement(properties: &PeripheralProperties) -> Vec<u8> {
    let mut buf = [0u8; AD_CAPACITY];
    let mut w = AdWriter::new(&mut buf);
    let (mut uuids16, mut uuids32, mut uuids128) = (Vec::new(), Vec::new(), Vec::new());
    for uuid in &properties.services {
        match alias(uuid.as_u128()) {
            Some(a) => match u16::try_from(a) {
                Ok(short) => uuids16.extend_from_slice(&short.to_le_bytes()),
                Err(_) => uuids32.extend_from_slice(&a.to_le_bytes()),
            },
            None => uuids128.extend_from_slice(&uuid.as_u128().to_le_bytes()),
        }
    }
    for (kind, list) in [
        (ad_type::COMPLETE_UUID16, &uuids16),
        (ad_type::COMPLETE_UUID32, &uuids32),
        (ad_type::COMPLETE_UUID128, &uuids128),
    ] {
        if !list.is_empty() {
            let _ = w.push(kind, list);
        }
    }
    let mut service_data: Vec<_> = properties.service_data.iter().collect();
    service_data.sort();
    for (uuid, data) in service_data {
        let uuid = uuid.as_u128();
        let _ = match alias(uuid) {
            Some(a) => match u16::try_from(a) {
                Ok(short) => {
                    w.push_parts(ad_type::SERVICE_DATA_UUID16, &[&short.to_le_bytes(), data])
                }
                Err(_) => w.push_parts(ad_type::SERVICE_DATA_UUID32, &[&a.to_le_bytes(), data]),
            },
            None => w.push_parts(ad_type::SERVICE_DATA_UUID128, &[&uuid.to_le_bytes(), data]),
        };
    }
    let mut manufacturer_data: Vec<_> = properties.manufacturer_data.iter().collect();
    manufacturer_data.sort();
    for (company, data) in manufacturer_data {
        let _ = w.manufacturer_data(*company, data);
    }
    if let Some(dbm) = properties.tx_power_level.and_then(|p| i8::try_from(p).ok()) {
        let _ = w.tx_power(dbm);
    }
    let len = w.len();
    buf[..len].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_protocol::ad::AdvertisingData;
    use aisle_protocol::beacon::{EXPOSURE_NOTIFICATION, EddystoneEid, Frame, IBeacon, eddystone};
    use btleplug::api::BDAddr;
    use btleplug::api::bleuuid::{uuid_from_u16, uuid_from_u32};

    fn ibeacon() -> (IBeacon, Vec<u8>) {
        let beacon = IBeacon {
            uuid: aisle_protocol::ad::Uuid([7; 16]),
            major: 3,
            minor: 17,
            measured_power: -59,
        };
        // The manufacturer-data value starts with the company identifier,
        // which BlueZ keeps as the key.
        let mut value = [0u8; 25];
        let n = beacon.encode(&mut value).unwrap();
        (beacon, value[2..n].to_vec())
    }

    #[test]
    fn manufacturer_data_comes_back_as_the_beacon_it_was() {
        let (beacon, mfg) = ibeacon();
        let mut props = PeripheralProperties {
            address: BDAddr::from([0xC0, 0x11, 0x22, 0x33, 0x44, 0x55]),
            rssi: Some(-61),
            tx_power_level: Some(-4),
            ..PeripheralProperties::default()
        };
        props.manufacturer_data.insert(0x004C, mfg);
        let s = sighting(&Arc::from("gateway"), &props, 12.5).unwrap();
        assert_eq!((s.ts, s.rssi, &*s.anchor), (12.5, -61.0, "gateway"));
        let Subject::Advert { adv, address } = s.subject else {
            panic!("not an advertisement: {:?}", s.subject);
        };
        assert_eq!(address, Some([0xC0, 0x11, 0x22, 0x33, 0x44, 0x55]));
        assert_eq!(Frame::classify(&adv), Ok(Frame::IBeacon(beacon)));
        assert_eq!(AdvertisingData(&adv).tx_power(), Some(-4));
    }

    #[test]
    fn service_data_and_uuid_lists_keep_their_uuid_sizes() {
        let eid = EddystoneEid {
            tx_power: -20,
            eid: [1, 2, 3, 4, 5, 6, 7, 8],
        };
        let mut frame = [0u8; 10];
        let n = eid.encode(&mut frame).unwrap();
        let custom = uuid::Uuid::parse_str("6e400001-b5a3-f393-e0a9-e50e24dcca9e").unwrap();
        let mut props = PeripheralProperties {
            services: vec![
                uuid_from_u16(EXPOSURE_NOTIFICATION),
                uuid_from_u32(0x1122_3344),
                custom,
            ],
            ..PeripheralProperties::default()
        };
        props
            .service_data
            .insert(uuid_from_u16(eddystone::SERVICE_UUID), frame[..n].to_vec());
        props.service_data.insert(custom, vec![9, 9]);
        let adv = advertisement(&props);
        let ad = AdvertisingData(&adv);
        assert_eq!(
            ad.service_uuids16().collect::<Vec<_>>(),
            [EXPOSURE_NOTIFICATION]
        );
        assert_eq!(ad.service_uuids32().collect::<Vec<_>>(), [0x1122_3344]);
        assert_eq!(
            ad.service_uuids128().collect::<Vec<_>>(),
            [aisle_protocol::ad::Uuid::from_le_bytes(
                custom.as_u128().to_le_bytes()
            )]
        );
        assert_eq!(ad.of_type(ad_type::SERVICE_DATA_UUID128).count(), 1);
        // The beacon frame outranks the Exposure Notification UUID.
        assert_eq!(Frame::classify(&adv), Ok(Frame::EddystoneEid(eid)));
        // And the same properties give the same bytes, whatever the map order.
        assert_eq!(advertisement(&props.clone()), adv);
    }

    #[test]
    fn no_rssi_no_sighting_and_oversized_data_is_left_out() {
        let mut props = PeripheralProperties::default();
        assert!(sighting(&Arc::from("gateway"), &props, 0.0).is_none());
        props.rssi = Some(-90);
        props.manufacturer_data.insert(0x0001, vec![0; 300]);
        props.manufacturer_data.insert(0x0002, vec![1, 2]);
        let s = sighting(&Arc::from("gateway"), &props, 0.0).unwrap();
        let Subject::Advert { adv, .. } = s.subject else {
            panic!("not an advertisement");
        };
        assert_eq!(
            AdvertisingData(&adv)
                .manufacturer_data()
                .collect::<Vec<_>>(),
            [(0x0002, &[1u8, 2][..])]
        );
        assert_eq!(Frame::classify(&adv), Ok(Frame::Unknown));
    }
}
