//! The air of the simulated store, as the firmware's [`Radio`] sees it.
//!
//! The simulator decides which anchor hears which phone at what strength
//! ([`crate::sim`]); [`Air::deliver`] turns each such sighting into the
//! advertising PDU the phone sent and queues it at the node that is that
//! anchor. The node's radio, [`MediumRadio`], hands it over on whatever
//! advertising channel the node is listening on (a phone sends each
//! advertising event on all three), with the link-layer CRC and the
//! channel's whitening applied, exactly the bytes a real radio in raw mode
//! would return. So the node's own code checks the CRC, de-whitens and
//! decodes, as it does on the board.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aisle_firmware::hw::{MAX_AIR_PACKET_LEN, Radio, Reception, air_time_us};
use aisle_protocol::ll::{
    ADV_CRC_INIT, AddressType, AdvPdu, Channel, DeviceAddress, append_crc24, whiten,
};
use tokio::sync::mpsc;

/// Packets a node's radio holds while the node is busy elsewhere. A real
/// radio holds none; a few cover the host scheduler's jitter, and past
/// them packets are lost as they would be on the air.
const RADIO_QUEUE: usize = 32;

/// An advertising PDU on its way to one node.
#[derive(Debug, Clone)]
struct Airborne {
    /// Header and payload, before CRC and whitening.
    pdu: Vec<u8>,
    rssi_dbm: i8,
}

/// The sending side of the simulated air: one queue per node.
#[derive(Debug, Clone, Default)]
pub struct Air {
    nodes: HashMap<Arc<str>, mpsc::Sender<Airborne>>,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued at the node's radio.
    Queued,
    /// The node's radio was not listening and its queue was full.
    Lost,
    /// No node is that anchor.
    NoSuchNode,
}

impl Air {
    /// Empty air.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A radio for the node that is `anchor`.
    pub fn radio(&mut self, anchor: Arc<str>) -> MediumRadio {
        let (tx, rx) = mpsc::channel(RADIO_QUEUE);
        self.nodes.insert(anchor, tx);
        MediumRadio { rx }
    }

    /// `anchor` hears `advertiser` send `adv_data` at `rssi_dbm`, as a
    /// non-connectable advertisement (what phones running a beacon SDK and
    /// the store's own beacons send).
    #[must_use = "a lost packet is how the air behaves; count it if it matters"]
    pub fn deliver(
        &self,
        anchor: &str,
        advertiser: DeviceAddress,
        adv_data: &[u8],
        rssi_dbm: f64,
    ) -> Delivery {
        let Some(node) = self.nodes.get(anchor) else {
            return Delivery::NoSuchNode;
        };
        let mut pdu = [0u8; MAX_AIR_PACKET_LEN];
        let Ok(len) = (AdvPdu::AdvNonconnInd {
            adv_a: advertiser,
            data: adv_data,
        })
        .encode(&mut pdu) else {
            // Longer than a legacy advertisement: the node could never hear it.
            return Delivery::Lost;
        };
        #[allow(clippy::cast_possible_truncation)] // clamped to i8's range first
        let rssi_dbm = rssi_dbm.round().clamp(-127.0, 20.0) as i8;
        match node.try_send(Airborne {
            pdu: pdu[..len].to_vec(),
            rssi_dbm,
        }) {
            Ok(()) => Delivery::Queued,
            Err(_) => Delivery::Lost,
        }
    }
}

/// A random (resolvable private) advertiser address from its six bytes as
/// the simulator's phones give them, least significant first.
#[must_use]
pub fn random_address(le: [u8; 6]) -> DeviceAddress {
    DeviceAddress::from_le_bytes(AddressType::Random, le)
}

/// One node's radio in the simulated air.
#[derive(Debug)]
pub struct MediumRadio {
    rx: mpsc::Receiver<Airborne>,
}

/// The simulated air was torn down (the store stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AirClosed;

impl Radio for MediumRadio {
    type Error = AirClosed;

    async fn transmit(
        &mut self,
        _channel: Channel,
        _tx_power_dbm: i8,
        air: &[u8],
    ) -> Result<(), Self::Error> {
        tokio::time::sleep(Duration::from_micros(air_time_us(air.len()))).await;
        Ok(())
    }

    async fn receive(
        &mut self,
        channel: Channel,
        timeout_us: u32,
        buf: &mut [u8],
    ) -> Result<Option<Reception>, Self::Error> {
        let wait = Duration::from_micros(u64::from(timeout_us));
        let packet = match tokio::time::timeout(wait, self.rx.recv()).await {
            Err(_elapsed) => return Ok(None),
            Ok(None) => return Err(AirClosed),
            Ok(Some(packet)) => packet,
        };
        let mut air = [0u8; MAX_AIR_PACKET_LEN];
        air[..packet.pdu.len()].copy_from_slice(&packet.pdu);
        let Ok(len) = append_crc24(ADV_CRC_INIT, &mut air, packet.pdu.len()) else {
            return Ok(None);
        };
        whiten(channel, &mut air[..len]);
        let len = len.min(buf.len());
        buf[..len].copy_from_slice(&air[..len]);
        Ok(Some(Reception {
            len,
            rssi_dbm: packet.rssi_dbm,
        }))
    }
}
