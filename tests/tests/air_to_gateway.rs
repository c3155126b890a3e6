//! From a shopper's phone to the gateway's answer, through every format the
//! bytes cross: the phone's EID advertisement as a raw radio packet (PDU,
//! CRC-24, whitening on its channel), a shelf node's authenticated sighting
//! batch over a noisy serial line, and the gateway's decoding of what it
//! receives. Only the radio and the wire are missing: the bytes are real.

use aisle_protocol::beacon::{EddystoneEid, Frame, FrameKind, eddystone};
use aisle_protocol::eid::{
    Eid, EidResolver, IdentityKey, PeriodOffset, Resolution, RotationExponent, ShopperId, eid_for,
};
use aisle_protocol::link::{
    BatchWriter, Direction, Feed, LinkDeframer, MAX_BATCH_ENTRIES_LEN, MAX_WIRE_LEN, Message,
    ReplayGuard, Rssi, Sealer, Sighting, open_frame,
};
use aisle_protocol::ll::{
    ADV_CRC_INIT, AddressType, AdvPdu, Channel, DeviceAddress, append_crc24, check_crc24, whiten,
};

const NOW: u32 = 1_767_225_600;
const NODE_KEY: [u8; 16] = *b"shelf-7 node key";

fn rotation() -> RotationExponent {
    RotationExponent::new(10).unwrap()
}

fn shopper_key(i: u32) -> IdentityKey {
    let mut k = [0x5a; 16];
    k[..4].copy_from_slice(&i.to_be_bytes());
    IdentityKey::new(k)
}

/// The phone's advertisement as it leaves the antenna on `channel`.
fn phone_packet(eid: Eid, channel: Channel) -> Vec<u8> {
    let (mut frame, mut adv) = ([0u8; 10], [0u8; 31]);
    let f = EddystoneEid {
        tx_power: -12,
        eid: eid.to_bytes(),
    }
    .encode(&mut frame)
    .unwrap();
    let adv_len = eddystone::write_advertisement(&frame[..f], &mut adv).unwrap();
    let pdu = AdvPdu::AdvNonconnInd {
        adv_a: DeviceAddress::from_be_bytes(AddressType::Random, [0x5d, 1, 2, 3, 4, 5]),
        data: &adv[..adv_len],
    };
    let mut packet = [0u8; 64];
    let n = pdu.encode(&mut packet).unwrap();
    let n = append_crc24(ADV_CRC_INIT, &mut packet, n).unwrap();
    whiten(channel, &mut packet[..n]);
    packet[..n].to_vec()
}

#[test]
fn a_phone_advert_is_heard_batched_sent_and_resolved_to_its_shopper() {
    let resolver = EidResolver::build(
        rotation(),
        (0..1000).map(|i| (shopper_key(i), ShopperId(i))),
        NOW,
    );
    // Shopper 417's phone runs a little fast: it already shows the next period's EID.
    let eid = eid_for(&shopper_key(417), rotation(), NOW + 1024);

    // The scanner node hears the packet on channel 38, removes the whitening,
    // checks the CRC and reads the advertisement.
    let mut packet = phone_packet(eid, Channel::ADV_38);
    whiten(Channel::ADV_38, &mut packet);
    let pdu_bytes = check_crc24(ADV_CRC_INIT, &packet).unwrap();
    let pdu = AdvPdu::decode(pdu_bytes).unwrap();
    let frame = Frame::classify(pdu.adv_data()).unwrap();
    assert_eq!(frame.kind(), FrameKind::EddystoneEid);
    let identity = frame.identity().unwrap();

    // It batches the sighting and seals the batch for the gateway.
    let mut entries = [0u8; MAX_BATCH_ENTRIES_LEN];
    let mut batch = BatchWriter::new(&mut entries, 60_000);
    batch
        .push(&Sighting {
            kind: frame.kind(),
            channel: Channel::ADV_38,
            rssi: Rssi {
                min: -80,
                max: -66,
                mean: -71,
            },
            count: 9,
            identity: identity.as_bytes(),
        })
        .unwrap();
    let batch = batch.finish(1000);
    let mut sealer = Sealer::new(NODE_KEY, 7, Direction::NodeToGateway);
    let mut wire = [0u8; MAX_WIRE_LEN];
    let n = sealer
        .seal(&Message::SightingBatch(batch), &mut wire)
        .unwrap();

    // The serial line adds noise before the frame; the gateway resynchronises.
    let mut stream = vec![0x13, 0x37, 0xff, 0x00, 0x42];
    stream.extend_from_slice(&wire[..n]);
    let mut deframer = LinkDeframer::new();
    let mut guard = ReplayGuard::new();
    let mut input = &stream[..];
    let mut opened = Vec::new();
    loop {
        match deframer.feed(input) {
            Feed::Pending => break,
            Feed::Dropped { rest, .. } => input = rest,
            Feed::Frame { frame, rest } => {
                if let Ok((header, Message::SightingBatch(b))) =
                    open_frame(&NODE_KEY, Direction::NodeToGateway, &mut guard, frame)
                {
                    assert_eq!(header.node_id, 7);
                    for s in &b {
                        let s = s.unwrap();
                        opened.push((s.kind, s.identity.to_vec(), s.rssi.mean));
                    }
                }
                input = rest;
            }
        }
    }
    assert_eq!(
        opened,
        [(FrameKind::EddystoneEid, eid.to_bytes().to_vec(), -71)]
    );

    // The gateway maps the EID to its shopper and sees the phone's clock skew.
    let seen = Eid::try_from(&opened[0].1[..]).unwrap();
    assert_eq!(
        resolver.lookup(seen),
        Some(Resolution::Unique {
            shopper: ShopperId(417),
            offset: PeriodOffset::Next,
        })
    );
}

#[test]
fn the_gateway_describes_what_the_radio_heard() {
    let eid = eid_for(&shopper_key(3), rotation(), NOW);
    let mut packet = phone_packet(eid, Channel::ADV_39);
    whiten(Channel::ADV_39, &mut packet);
    let pdu = AdvPdu::decode(check_crc24(ADV_CRC_INIT, &packet).unwrap()).unwrap();
    let described = aisle_gateway::inspect::describe(pdu.adv_data()).unwrap();
    assert_eq!(described["kind"], "eddystone_eid");
    assert_eq!(described["frame"]["eid"], eid.to_string());
    assert_eq!(described["frame"]["tx_power"], -12);
}

#[test]
fn a_packet_dewhitened_on_the_wrong_channel_fails_its_crc() {
    let eid = eid_for(&shopper_key(3), rotation(), NOW);
    let mut packet = phone_packet(eid, Channel::ADV_37);
    whiten(Channel::ADV_38, &mut packet);
    assert!(check_crc24(ADV_CRC_INIT, &packet).is_err());
}
