//! The firmware core run as a scanner node inside the gateway's simulated
//! air: what it reports over its link is what was put on the air.

use std::sync::Arc;
use std::time::Duration;

use aisle_gateway::nodesim::fleet::{self, NodePlan};
use aisle_gateway::nodesim::medium::{Air, Delivery, random_address};
use aisle_gateway::sim::phones::Phones;
use aisle_protocol::beacon::FrameKind;
use aisle_protocol::eid::RotationExponent;
use aisle_protocol::link::{Deframer, Direction, Feed, Message, ReplayGuard, Rssi, open_frame};
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;

const KEY: [u8; 16] = *b"aisle-node-key-7";

#[tokio::test]
async fn a_scanner_node_reports_each_phone_it_heard_with_its_signal_range() {
    let mut air = Air::new();
    let anchor: Arc<str> = Arc::from("A1");
    let plan = NodePlan {
        anchor: anchor.clone(),
        node_id: 7,
        key: KEY,
        radio: air.radio(anchor.clone()),
        seed: 1,
    };
    let shutdown = CancellationToken::new();
    let (mut ends, thread) = fleet::start(vec![plan], 500, shutdown.clone()).unwrap();
    let mut link = ends.pop().unwrap().stream;

    let phones = Phones::new(3, 1.0, RotationExponent::new(10).unwrap());
    let (opted, anonymous) = ("shopper-0001", "shopper-0002");
    let anonymous_phones = Phones::new(3, 0.0, RotationExponent::new(10).unwrap());
    let ts = 1_767_225_600.0;
    let expected_eid = &phones.advert(opted, ts);
    let rssi = [-61.0, -64.0, -70.0, -58.0, -66.0, -63.0];
    for (i, dbm) in rssi.iter().enumerate() {
        let sent = air.deliver(
            "A1",
            random_address(phones.address(opted, ts)),
            &phones.advert(opted, ts),
            *dbm,
        );
        assert_eq!(sent, Delivery::Queued);
        let sent = air.deliver(
            "A1",
            random_address(anonymous_phones.address(anonymous, ts)),
            &anonymous_phones.advert(anonymous, ts),
            -80.0,
        );
        assert_eq!(sent, Delivery::Queued, "packet {i}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        air.deliver("A9", random_address([1; 6]), &[2, 1, 6], -50.0),
        Delivery::NoSuchNode
    );

    let (hello, seen) = read_until_sightings(&mut link).await;
    shutdown.cancel();
    thread.join().unwrap();

    assert!(hello, "the node says Hello before its first batch");
    let eid: Vec<_> = seen
        .iter()
        .filter(|s| s.0 == FrameKind::EddystoneEid)
        .collect();
    // All six may fall in one window or straddle two; on one channel each.
    let total: u16 = eid.iter().map(|s| s.1).sum();
    assert_eq!(total, 6, "{seen:?}");
    let strongest = eid.iter().map(|s| s.2.max).max().unwrap();
    let weakest = eid.iter().map(|s| s.2.min).min().unwrap();
    assert_eq!((weakest, strongest), (-70, -58));
    assert!(
        expected_eid.windows(8).any(|w| w == eid[0].3.as_slice()),
        "the EID reported is the one in the advertisement"
    );
    let others: u16 = seen
        .iter()
        .filter(|s| s.0 != FrameKind::EddystoneEid)
        .map(|s| s.1)
        .sum();
    assert_eq!(others, 6, "the anonymous phone is counted too: {seen:?}");
}

type Seen = (FrameKind, u16, Rssi, Vec<u8>);

/// Reads the node's frames until a batch with sightings arrives; says
/// whether a `Hello` came first.
async fn read_until_sightings(link: &mut tokio::io::DuplexStream) -> (bool, Vec<Seen>) {
    let mut deframer = Deframer::<600>::new();
    let mut guard = ReplayGuard::new();
    let mut buf = [0u8; 512];
    let mut seen = Vec::new();
    let mut hello = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.is_empty() {
        let n = tokio::time::timeout_at(deadline, link.read(&mut buf))
            .await
            .expect("a batch within 5 s")
            .unwrap();
        let mut input = &buf[..n];
        loop {
            match deframer.feed(input) {
                Feed::Pending => break,
                Feed::Dropped { error, .. } => panic!("node sent a broken frame: {error}"),
                Feed::Frame { frame, rest } => {
                    let (header, message) =
                        open_frame(&KEY, Direction::NodeToGateway, &mut guard, frame).unwrap();
                    assert_eq!(header.node_id, 7);
                    match message {
                        Message::Hello(_) => hello = true,
                        Message::SightingBatch(batch) => {
                            for entry in &batch {
                                let entry = entry.unwrap();
                                seen.push((
                                    entry.kind,
                                    entry.count,
                                    entry.rssi,
                                    entry.identity.to_vec(),
                                ));
                            }
                        }
                        _ => {}
                    }
                    input = rest;
                }
            }
        }
    }
    (hello, seen)
}
