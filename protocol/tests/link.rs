//! Node link: CMAC vectors, frame layout, message and frame round trips,
//! and the receiver's defences against noise, forgery and replay.

use aisle_protocol::Error;
use aisle_protocol::link::Feed;
use aisle_protocol::link::{
    BatchWriter, BeaconIdentity, Configure, Deframer, Direction, FACTORY_KEY, FRAME_OVERHEAD,
    FirmwareVersion, FrameKind, Header, Hello, LinkDeframer, MAX_BATCH_ENTRIES_LEN, MAX_BODY_LEN,
    MAX_FRAME_LEN, MAX_IDENTITY_LEN, MAX_WIRE_LEN, Message, MessageKind, NodeKey, PROTOCOL_VERSION,
    Provision, ReplayGuard, Role, Rssi, Sealer, Sighting, SightingBatch, Status,
    UNPROVISIONED_NODE_ID, UnverifiedFrame, address_identity, cmac_tag, encode_frame, open_frame,
    seal, unstuff,
};
use aisle_protocol::ll::{AddressType, Channel, DeviceAddress};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// RFC 4493 section 4: AES-CMAC test vectors (via /work/shared/vectors/README.md).
const RFC4493_KEY: NodeKey = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
];
const RFC4493_MESSAGE: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const RFC4493_TAG_LEN_0: &str = "bb1d6929e95937287fa37d129b756746";
const RFC4493_TAG_LEN_16: &str = "070a16b46b4d4144f79bdd9dd04a287c";
const RFC4493_TAG_LEN_40: &str = "dfa66747de9ae63030ca32611497c827";
const RFC4493_TAG_LEN_64: &str = "51f0bebf7e3b9d92fc49741779363cfe";

fn rfc4493(len: usize, tag: &str) {
    let message = hex(RFC4493_MESSAGE);
    let message = &message[..len];
    assert_eq!(cmac_tag(&RFC4493_KEY, &[message]).to_vec(), hex(tag));
    // Parts are concatenated, wherever they are cut.
    for cut in 0..=len {
        let (a, b) = message.split_at(cut);
        assert_eq!(
            cmac_tag(&RFC4493_KEY, &[a, b]).to_vec(),
            hex(tag),
            "cut {cut}"
        );
    }
}

#[test]
fn rfc4493_aes_cmac_empty() {
    rfc4493(0, RFC4493_TAG_LEN_0);
}

#[test]
fn rfc4493_aes_cmac_16() {
    rfc4493(16, RFC4493_TAG_LEN_16);
}

#[test]
fn rfc4493_aes_cmac_40() {
    rfc4493(40, RFC4493_TAG_LEN_40);
}

#[test]
fn rfc4493_aes_cmac_64() {
    rfc4493(64, RFC4493_TAG_LEN_64);
}

const KEY: NodeKey = RFC4493_KEY;
const NODE: u32 = 0x0A15_1E01;

/// CRC-32/ISO-HDLC bit by bit (reflected polynomial 0xEDB88320), independent
/// of the crc crate's tables.
fn bitwise_crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn hello() -> Message<'static> {
    Message::Hello(Hello {
        node_id: NODE,
        firmware: FirmwareVersion {
            major: 1,
            minor: 4,
            patch: 2,
        },
        role: Role::Scanner,
        downlink_last: Some(3),
    })
}

fn node_header(counter: u32) -> Header {
    Header {
        direction: Direction::NodeToGateway,
        node_id: NODE,
        counter,
    }
}

fn sealed(header: &Header, message: &Message<'_>) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = seal(&KEY, header, message, &mut out).unwrap();
    out[..n].to_vec()
}

/// Rewrites a frame's CRC after tampering, so that only the tag can catch it.
fn fix_crc(frame: &mut [u8]) {
    let n = frame.len() - 4;
    let crc = bitwise_crc32(&frame[..n]);
    frame[n..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn frame_layout() {
    let frame = sealed(&node_header(7), &hello());
    let body = [0x01, 0x1E, 0x15, 0x0A, 1, 4, 2, 1, 3, 0, 0, 0];
    assert_eq!(frame.len(), FRAME_OVERHEAD + body.len());
    assert_eq!(frame[0], PROTOCOL_VERSION);
    assert_eq!(frame[1], 0, "node to gateway");
    assert_eq!(frame[2..6], NODE.to_le_bytes());
    assert_eq!(frame[6..10], 7u32.to_le_bytes());
    assert_eq!(frame[10], MessageKind::Hello.code());
    assert_eq!(frame[11..23], body);
    let tag = cmac_tag(&KEY, &[&frame[..23]]);
    assert_eq!(frame[23..31], tag[..8]);
    assert_eq!(frame[31..], bitwise_crc32(&frame[..31]).to_le_bytes());
}

#[test]
fn wire_form_is_delimited_cobs() {
    let mut wire = [0u8; MAX_WIRE_LEN];
    let n = encode_frame(&KEY, &node_header(1), &hello(), &mut wire).unwrap();
    let wire = &mut wire[..n];
    assert_eq!(wire[0], 0);
    assert_eq!(wire[n - 1], 0);
    assert!(!wire[1..n - 1].contains(&0));
    let frame = unstuff(&mut wire[1..n - 1]).unwrap().to_vec();
    assert_eq!(frame, sealed(&node_header(1), &hello()));
}

#[test]
fn open_accepts_then_rejects_replay_without_moving_counter() {
    let frame = sealed(&node_header(5), &hello());
    let mut guard = ReplayGuard::new();
    let (header, message) = open_frame(&KEY, Direction::NodeToGateway, &mut guard, &frame).unwrap();
    assert_eq!(header, node_header(5));
    assert_eq!(message, hello());
    assert_eq!(guard.last(), 5);

    assert_eq!(
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, &frame),
        Err(Error::Replay {
            node: NODE,
            counter: 5,
            last: 5
        })
    );
    let older = sealed(&node_header(4), &hello());
    assert!(matches!(
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, &older),
        Err(Error::Replay { counter: 4, .. })
    ));
    assert_eq!(guard.last(), 5);

    let newer = sealed(&node_header(9), &hello());
    assert!(open_frame(&KEY, Direction::NodeToGateway, &mut guard, &newer).is_ok());
    assert_eq!(guard.last(), 9);
}

#[test]
fn every_flipped_bit_fails_the_crc() {
    let frame = sealed(&node_header(1), &hello());
    for bit in 0..frame.len() * 8 {
        let mut bad = frame.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let mut guard = ReplayGuard::new();
        assert!(
            matches!(
                open_frame(&KEY, Direction::NodeToGateway, &mut guard, &bad),
                Err(Error::Checksum { .. })
            ),
            "bit {bit}"
        );
        assert_eq!(guard.last(), 0);
    }
}

#[test]
fn forged_frame_with_good_crc_fails_the_tag() {
    let frame = sealed(&node_header(1), &hello());
    let mut guard = ReplayGuard::new();
    // Tampered header, body and tag, each with a recomputed CRC.
    for at in [2, 6, 12, 20] {
        let mut forged = frame.clone();
        forged[at] ^= 0x01;
        fix_crc(&mut forged);
        assert_eq!(
            open_frame(&KEY, Direction::NodeToGateway, &mut guard, &forged)
                .map(|_| ())
                .unwrap_err(),
            Error::BadTag {
                node: u32::from_le_bytes(forged[2..6].try_into().unwrap())
            },
            "byte {at}"
        );
    }
    // Another node's key.
    let mut other_key = KEY;
    other_key[0] ^= 0x80;
    assert_eq!(
        open_frame(&other_key, Direction::NodeToGateway, &mut guard, &frame),
        Err(Error::BadTag { node: NODE })
    );
    // A forged frame does not move the counter, so the real one still opens.
    assert_eq!(guard.last(), 0);
    assert!(open_frame(&KEY, Direction::NodeToGateway, &mut guard, &frame).is_ok());
}

#[test]
fn gateway_frame_cannot_be_reflected_as_node_frame() {
    let configure = Message::Configure(configure());
    let down = Header {
        direction: Direction::GatewayToNode,
        node_id: NODE,
        counter: 3,
    };
    let frame = sealed(&down, &configure);
    let mut guard = ReplayGuard::new();
    // Played back to the gateway as is: authentic, but the wrong way.
    assert!(matches!(
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, &frame),
        Err(Error::WrongKind { .. })
    ));
    // With the direction bit flipped: the tag no longer matches.
    let mut flipped = frame.clone();
    flipped[1] = 0;
    fix_crc(&mut flipped);
    assert_eq!(
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, &flipped),
        Err(Error::BadTag { node: NODE })
    );
    assert_eq!(guard.last(), 0);
    // The node it was meant for opens it.
    let mut node_guard = ReplayGuard::new();
    let (_, message) = open_frame(&KEY, Direction::GatewayToNode, &mut node_guard, &frame).unwrap();
    assert_eq!(message, configure);
}

#[test]
fn message_for_the_other_direction_is_not_sealed() {
    let mut out = [0u8; MAX_FRAME_LEN];
    let down = Header {
        direction: Direction::GatewayToNode,
        node_id: NODE,
        counter: 1,
    };
    assert!(matches!(
        seal(&KEY, &down, &hello(), &mut out),
        Err(Error::WrongKind { .. })
    ));
}

#[test]
fn unknown_version_is_refused_before_the_tag() {
    let mut frame = sealed(&node_header(1), &hello());
    frame[0] = 2;
    fix_crc(&mut frame);
    let mut guard = ReplayGuard::new();
    assert_eq!(
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, &frame),
        Err(Error::UnsupportedVersion {
            got: 2,
            supported: PROTOCOL_VERSION
        })
    );
}

#[test]
fn hello_must_name_the_frames_node() {
    let lying = Message::Hello(Hello {
        node_id: NODE + 1,
        firmware: FirmwareVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
        role: Role::Beacon,
        downlink_last: Some(0),
    });
    let frame = sealed(&node_header(1), &lying);
    let mut guard = ReplayGuard::new();
    assert!(matches!(
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, &frame),
        Err(Error::InvalidValue { .. })
    ));
    assert_eq!(guard.last(), 0);
}

#[test]
fn gateway_looks_up_the_key_by_claimed_node() {
    let frame = sealed(&node_header(1), &hello());
    let unverified = UnverifiedFrame::parse(&frame).unwrap();
    assert_eq!(unverified.claimed_header().node_id, NODE);
    let mut guard = ReplayGuard::new();
    let (header, _) = unverified
        .open(&KEY, Direction::NodeToGateway, &mut guard)
        .unwrap();
    assert_eq!(header.counter, 1);
}

#[test]
fn sealer_counts_and_stops_before_wrapping() {
    let mut sealer = Sealer::new(KEY, NODE, Direction::NodeToGateway);
    let mut out = [0u8; MAX_WIRE_LEN];
    let mut guard = ReplayGuard::new();
    for expected in 1..=3 {
        let n = sealer.seal(&hello(), &mut out).unwrap();
        let frame = unstuff(&mut out[1..n - 1]).unwrap();
        let (header, _) = open_frame(&KEY, Direction::NodeToGateway, &mut guard, frame).unwrap();
        assert_eq!(header.counter, expected);
    }
    // A failed seal leaves the counter alone.
    assert!(sealer.seal(&hello(), &mut [0u8; 8]).is_err());
    assert_eq!(sealer.next_counter(), 4);

    let mut last = Sealer::resume(KEY, NODE, Direction::NodeToGateway, u32::MAX);
    assert!(last.seal(&hello(), &mut out).is_ok());
    assert!(matches!(
        last.seal(&hello(), &mut out),
        Err(Error::InvalidValue { .. })
    ));
}

#[test]
fn hello_layout_with_and_without_the_downlink_counter() {
    let Message::Hello(hello) = hello() else {
        unreachable!()
    };
    let hello = Hello {
        downlink_last: Some(0x0a0b_0c0d),
        ..hello
    };
    let mut body = [0u8; 16];
    let n = hello.encode(&mut body).unwrap();
    assert_eq!(n, 12);
    assert_eq!(Message::Hello(hello).encoded_len(), 12);
    assert_eq!(body[..4], NODE.to_le_bytes(), "node id first");
    assert_eq!(body[4..8], [1, 4, 2, Role::Scanner as u8]);
    assert_eq!(
        body[8..12],
        [0x0d, 0x0c, 0x0b, 0x0a],
        "downlink counter last"
    );
    // Firmware before the field sends 8 bytes: read, the counter unknown.
    appended_u32(
        &body,
        12,
        &hello,
        &Hello {
            downlink_last: None,
            ..hello
        },
        Hello::decode,
        Hello::encode,
        "hello downlink counter",
    );
}

/// The contract of a `u32` that later firmware appended to a body: the
/// `full` bytes of `body` decode as `new`; the bytes before the field as
/// `old`, the field unknown, which encodes back to those same bytes; a body
/// cut inside the field is too short for `what`, and one a byte longer than
/// `full` too long.
fn appended_u32<T: PartialEq + std::fmt::Debug>(
    body: &[u8],
    full: usize,
    new: &T,
    old: &T,
    decode: impl Fn(&[u8]) -> Result<T, Error>,
    encode: impl Fn(&T, &mut [u8]) -> Result<usize, Error>,
    what: &str,
) {
    let short = full - 4;
    assert_eq!(decode(&body[..full]).as_ref(), Ok(new));
    assert_eq!(decode(&body[..short]).as_ref(), Ok(old));
    let mut again = vec![0u8; full];
    assert_eq!(encode(old, &mut again).unwrap(), short);
    assert_eq!(again[..short], body[..short]);
    assert!(
        matches!(decode(&body[..short + 2]), Err(Error::TooShort { what: w, .. }) if w == what),
        "{what}"
    );
    assert!(matches!(decode(&body[..=full]), Err(Error::TooLong { .. })));
}

#[test]
fn status_layout_with_and_without_crc_failures() {
    let status = Status {
        uptime_s: 0x0102_0304,
        battery_mv: 2950,
        temperature_centi_c: -125,
        adverts_seen: 7,
        queue_drops: 8,
        frames_rejected: 9,
        crc_failures: Some(0x0a0b_0c0d),
    };
    let mut body = [0u8; 32];
    let n = status.encode(&mut body).unwrap();
    assert_eq!(n, 24);
    assert_eq!(Message::Status(status).encoded_len(), 24);
    assert_eq!(body[..4], [4, 3, 2, 1]);
    assert_eq!(body[16..20], 9u32.to_le_bytes(), "frames rejected");
    assert_eq!(body[20..24], [0x0d, 0x0c, 0x0b, 0x0a], "CRC failures last");
    // Firmware before the field sends 20 bytes: read, the count unknown.
    appended_u32(
        &body,
        24,
        &status,
        &Status {
            crc_failures: None,
            ..status
        },
        Status::decode,
        Status::encode,
        "status crc failures",
    );
    assert!(matches!(
        Status::decode(&body[..19]),
        Err(Error::TooShort { .. })
    ));
}

#[test]
fn provision_layout_and_factory_key() {
    let provision = Message::Provision(Provision {
        node_id: NODE,
        key: KEY,
    });
    // Sealed under the factory key, to the unprovisioned node id.
    let down = Header {
        direction: Direction::GatewayToNode,
        node_id: UNPROVISIONED_NODE_ID,
        counter: 1,
    };
    let mut out = [0u8; MAX_FRAME_LEN];
    let n = seal(&FACTORY_KEY, &down, &provision, &mut out).unwrap();
    let frame = &out[..n];
    assert_eq!(frame.len(), FRAME_OVERHEAD + 20);
    assert_eq!(frame[1], 1, "gateway to node");
    assert_eq!(frame[2..6], [0; 4]);
    assert_eq!(frame[10], 0x82);
    assert_eq!(frame[11..15], NODE.to_le_bytes());
    assert_eq!(frame[15..31], KEY);
    assert_eq!(FACTORY_KEY, [0; 16]);

    let mut guard = ReplayGuard::new();
    let (header, message) =
        open_frame(&FACTORY_KEY, Direction::GatewayToNode, &mut guard, frame).unwrap();
    assert_eq!(header.node_id, UNPROVISIONED_NODE_ID);
    assert_eq!(message, provision);
    // A node already holding its own key does not take it.
    let mut guard = ReplayGuard::new();
    assert_eq!(
        open_frame(&KEY, Direction::GatewayToNode, &mut guard, frame),
        Err(Error::BadTag { node: 0 })
    );
    // Nor does the gateway, should it come back.
    assert!(matches!(
        open_frame(
            &FACTORY_KEY,
            Direction::NodeToGateway,
            &mut ReplayGuard::new(),
            frame
        ),
        Err(Error::WrongKind { .. })
    ));
    // Trailing or missing bytes are refused.
    assert!(Provision::decode(&frame[11..30]).is_err());
    let mut long = frame[11..31].to_vec();
    long.push(0);
    assert!(matches!(
        Provision::decode(&long),
        Err(Error::TooLong { .. })
    ));
}

#[test]
fn provision_debug_hides_the_key() {
    let provision = Provision {
        node_id: 77,
        key: [0xAB; 16],
    };
    let shown = format!("{:?}", Message::Provision(provision));
    assert!(shown.contains("77"), "{shown}");
    assert!(
        !shown.contains("171") && !shown.to_lowercase().contains("ab, "),
        "{shown}"
    );
}

fn configure() -> Configure {
    Configure {
        role: Role::Beacon,
        tx_power_dbm: -4,
        adv_interval_ms: 100,
        scan_window_ms: 0,
        identity: BeaconIdentity::IBeacon {
            uuid: hex("426c7565436861726d426561636f6e73").try_into().unwrap(),
            major: 3838,
            minor: 4949,
        },
    }
}

#[test]
fn configure_out_of_range_is_refused_both_ways() {
    let mut bad = configure();
    bad.adv_interval_ms = 10;
    let mut out = [0u8; 64];
    assert!(matches!(
        bad.encode(&mut out),
        Err(Error::InvalidValue { .. })
    ));
    let n = configure().encode(&mut out).unwrap();
    out[2..4].copy_from_slice(&10u16.to_le_bytes());
    assert!(matches!(
        Configure::decode(&out[..n]),
        Err(Error::InvalidValue { offset: 2, .. })
    ));
}

fn sighting(identity: &[u8]) -> Sighting<'_> {
    Sighting {
        kind: FrameKind::IBeacon,
        channel: Channel::ADV_38,
        rssi: Rssi {
            min: -90,
            max: -60,
            mean: -71,
        },
        count: 12,
        identity,
    }
}

#[test]
fn batch_writer_fills_a_frame_to_capacity() {
    let identity = [0x42; MAX_IDENTITY_LEN];
    let entry = sighting(&identity);
    let mut buf = [0u8; 1024];
    let mut writer = BatchWriter::new(&mut buf, 1_000);
    assert!(writer.is_empty());
    while writer.fits(&entry) {
        writer.push(&entry).unwrap();
    }
    let pushed = writer.len();
    assert_eq!(pushed, MAX_BATCH_ENTRIES_LEN / entry.encoded_len());
    assert!(matches!(
        writer.push(&entry),
        Err(Error::BufferTooSmall { .. })
    ));
    assert_eq!(writer.len(), pushed, "a refused push changes nothing");
    // Smaller entries still fit in what is left.
    let small = sighting(&[1]);
    while writer.push(&small).is_ok() {}
    assert!(writer.remaining() < small.encoded_len());

    let batch = writer.finish(1_000);
    let message = Message::SightingBatch(batch);
    assert!(message.encoded_len() <= MAX_BODY_LEN);
    let mut wire = [0u8; MAX_WIRE_LEN];
    let n = encode_frame(&KEY, &node_header(1), &message, &mut wire).unwrap();
    let frame = unstuff(&mut wire[1..n - 1]).unwrap();
    let mut guard = ReplayGuard::new();
    let (_, Message::SightingBatch(received)) =
        open_frame(&KEY, Direction::NodeToGateway, &mut guard, frame).unwrap()
    else {
        panic!("not a batch");
    };
    assert_eq!(received.window_start_ms(), 1_000);
    let entries: Vec<_> = received.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(entries.len(), batch.iter().count());
    assert!(entries[..pushed].iter().all(|s| *s == entry));
    assert!(entries[pushed..].iter().all(|s| *s == small));
}

#[test]
fn bad_entries_are_reported_then_iteration_stops() {
    let mut buf = [0u8; 64];
    let mut writer = BatchWriter::new(&mut buf, 0);
    writer.push(&sighting(&[7; 7])).unwrap();
    writer.push(&sighting(&[8; 7])).unwrap();
    let mut body = [0u8; 64];
    let n = Message::SightingBatch(writer.finish(10))
        .encode(&mut body)
        .unwrap();
    // Second entry starts at 10 + 15; put an impossible channel in it.
    body[10 + 15 + 1] = 12;
    let batch = SightingBatch::decode(&body[..n]).unwrap();
    let results: Vec<_> = batch.iter().collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1],
        Err(Error::InvalidValue {
            what: "sighting channel",
            offset: 16,
            value: 12
        })
    );
    // A truncated entry is an error too, not a panic or a short read.
    let batch = SightingBatch::decode(&body[..n - 3]).unwrap();
    assert!(batch.iter().nth(1).unwrap().is_err());
}

#[test]
fn address_identity_round_trips() {
    let address = DeviceAddress {
        kind: AddressType::Random,
        bytes: [1, 2, 3, 4, 5, 0xC6],
    };
    let id = address_identity(address);
    let mut s = sighting(&id);
    s.kind = FrameKind::Apple;
    assert_eq!(s.address(), Some(address));
    assert_eq!(sighting(&[0x42; 20]).address(), None);
}

#[test]
fn noise_between_frames_is_skipped() {
    let mut sealer = Sealer::new(KEY, NODE, Direction::NodeToGateway);
    let noises: [&[u8]; 5] = [
        b"\x13\x37\xFF",
        b"\x00\x00\x00",
        b"garbage \x00 with \x00 zeros",
        &[0x05, 0x01, 0x02],
        &[0xFF; 700],
    ];
    let mut stream = Vec::new();
    let mut wire = [0u8; MAX_WIRE_LEN];
    for noise in noises {
        stream.extend_from_slice(noise);
        let n = sealer.seal(&hello(), &mut wire).unwrap();
        stream.extend_from_slice(&wire[..n]);
    }
    let (opened, stats) = receive(&stream, 1);
    assert_eq!(opened, vec![1, 2, 3, 4, 5]);
    assert_eq!(stats.oversized, 1, "the 700-byte run");
}

#[test]
fn oversized_frame_is_dropped_and_counted() {
    let mut deframer: Deframer<16> = Deframer::new();
    let mut input: &[u8] = &[0x11; 40];
    assert_eq!(deframer.feed(input), Feed::Pending);
    input = &[0x11, 0x00, 0x02, 0x05, 0x00];
    let Feed::Dropped { error, rest } = deframer.feed(input) else {
        panic!("not dropped");
    };
    assert_eq!(
        error,
        Error::TooLong {
            what: "stuffed frame",
            max: 16,
            got: 41
        }
    );
    let Feed::Frame { frame, rest } = deframer.feed(rest) else {
        panic!("next frame lost");
    };
    assert_eq!(frame, [0x05]);
    assert!(rest.is_empty());
    assert_eq!(deframer.stats().oversized, 1);
    assert_eq!(deframer.stats().frames, 1);
}

/// Feeds `stream` to a deframer in chunks of `chunk` bytes and opens every
/// frame; returns the counters of the frames that opened.
fn receive(stream: &[u8], chunk: usize) -> (Vec<u32>, aisle_protocol::link::DeframerStats) {
    let mut deframer = LinkDeframer::new();
    let mut guard = ReplayGuard::new();
    let mut opened = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        let mut input = piece;
        loop {
            match deframer.feed(input) {
                Feed::Pending => break,
                Feed::Frame { frame, rest } => {
                    if let Ok((header, _)) =
                        open_frame(&KEY, Direction::NodeToGateway, &mut guard, frame)
                    {
                        opened.push(header.counter);
                    }
                    input = rest;
                }
                Feed::Dropped { rest, .. } => input = rest,
            }
        }
    }
    (opened, deframer.stats())
}

fn sighting_parts() -> impl Strategy<Value = (u8, u8, [i8; 3], u16, Vec<u8>)> {
    (
        0u8..=10,
        37u8..=39,
        any::<[i8; 3]>(),
        1u16..,
        proptest::collection::vec(any::<u8>(), 1..=MAX_IDENTITY_LEN),
    )
}

fn make_sighting(parts: &(u8, u8, [i8; 3], u16, Vec<u8>)) -> Sighting<'_> {
    let (kind, channel, rssi, count, identity) = parts;
    let mut rssi = *rssi;
    rssi.sort_unstable();
    Sighting {
        kind: FrameKind::from_code(*kind).unwrap(),
        channel: Channel::new(*channel).unwrap(),
        rssi: Rssi {
            min: rssi[0],
            mean: rssi[1],
            max: rssi[2],
        },
        count: *count,
        identity,
    }
}

fn identity() -> impl Strategy<Value = BeaconIdentity> {
    prop_oneof![
        Just(BeaconIdentity::None),
        (any::<[u8; 16]>(), any::<u16>(), any::<u16>())
            .prop_map(|(uuid, major, minor)| BeaconIdentity::IBeacon { uuid, major, minor }),
        (any::<[u8; 10]>(), any::<[u8; 6]>()).prop_map(|(namespace, instance)| {
            BeaconIdentity::EddystoneUid {
                namespace,
                instance,
            }
        }),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Beacon), Just(Role::Scanner)]
}

fn owned_message() -> impl Strategy<Value = Message<'static>> {
    prop_oneof![
        (
            any::<u32>(),
            any::<[u8; 3]>(),
            role(),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(node_id, [major, minor, patch], role, downlink_last)| {
                Message::Hello(Hello {
                    node_id,
                    firmware: FirmwareVersion {
                        major,
                        minor,
                        patch,
                    },
                    role,
                    downlink_last,
                })
            }),
        (
            any::<(u32, u16, i16, u32, u32, u32)>(),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|((a, b, c, d, e, f), crc_failures)| {
                Message::Status(Status {
                    uptime_s: a,
                    battery_mv: b,
                    temperature_centi_c: c,
                    adverts_seen: d,
                    queue_drops: e,
                    frames_rejected: f,
                    crc_failures,
                })
            }),
        (
            role(),
            -127i8..=20,
            20u16..=10_240,
            0u16..=10_240,
            identity()
        )
            .prop_map(
                |(role, tx_power_dbm, adv_interval_ms, scan_window_ms, identity)| {
                    Message::Configure(Configure {
                        role,
                        tx_power_dbm,
                        adv_interval_ms,
                        scan_window_ms,
                        identity,
                    })
                }
            ),
        (any::<u32>(), any::<[u8; 16]>())
            .prop_map(|(node_id, key)| Message::Provision(Provision { node_id, key })),
    ]
}

fn body_round_trip(message: &Message<'_>) -> Result<(), TestCaseError> {
    let mut out = [0u8; MAX_BODY_LEN];
    let n = message.encode(&mut out).unwrap();
    prop_assert_eq!(n, message.encoded_len());
    prop_assert_eq!(
        &Message::decode(message.kind().code(), &out[..n]).unwrap(),
        message
    );
    // One byte short is refused, never misread.
    if n > 0 && !matches!(message, Message::SightingBatch(_)) {
        prop_assert!(Message::decode(message.kind().code(), &out[..n - 1]).is_err());
    }
    Ok(())
}

proptest! {
    #[test]
    fn messages_round_trip(message in owned_message()) {
        body_round_trip(&message)?;
    }

    #[test]
    fn sighting_batches_round_trip(
        start: u64,
        len: u16,
        parts in proptest::collection::vec(sighting_parts(), 0..40),
    ) {
        let sightings: Vec<_> = parts.iter().map(make_sighting).collect();
        let mut buf = [0u8; MAX_BATCH_ENTRIES_LEN];
        let mut writer = BatchWriter::new(&mut buf, start);
        let mut kept = Vec::new();
        for s in &sightings {
            if writer.push(s).is_ok() {
                kept.push(*s);
            } else {
                prop_assert!(!writer.fits(s));
            }
        }
        let batch = writer.finish(len);
        let message = Message::SightingBatch(batch);
        body_round_trip(&message)?;
        let decoded: Vec<_> = batch.iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded, kept);
        prop_assert_eq!(batch.window_start_ms(), start);
        prop_assert_eq!(batch.window_len_ms(), len);
    }

    #[test]
    fn sighting_round_trips(parts in sighting_parts()) {
        let s = make_sighting(&parts);
        let mut out = [0u8; 64];
        let n = s.encode(&mut out).unwrap();
        prop_assert_eq!(Sighting::decode(&out[..n]), Ok((s, n)));
    }

    #[test]
    fn sealed_frames_survive_any_chunking(
        messages in proptest::collection::vec(owned_message(), 0..6),
        chunk in 1usize..700,
    ) {
        let mut up = Sealer::new(KEY, NODE, Direction::NodeToGateway);
        let mut down = Sealer::new(KEY, NODE, Direction::GatewayToNode);
        let mut stream = Vec::new();
        let mut wire = [0u8; MAX_WIRE_LEN];
        let mut expected = Vec::new();
        // A full sighting batch first: the longest frames there are.
        let identity = [0u8; MAX_IDENTITY_LEN];
        let mut entries = [0u8; MAX_BATCH_ENTRIES_LEN];
        let mut writer = BatchWriter::new(&mut entries, 5);
        while writer.push(&sighting(&identity)).is_ok() {}
        let batch = Message::SightingBatch(writer.finish(1_000));
        let n = up.seal(&batch, &mut wire).unwrap();
        stream.extend_from_slice(&wire[..n]);
        expected.push(batch);
        for message in &messages {
            // Hello must carry the node's own id to open.
            let message = match message {
                Message::Hello(h) => Message::Hello(Hello { node_id: NODE, ..*h }),
                other => *other,
            };
            let sealer = if message.kind().direction() == Direction::NodeToGateway {
                &mut up
            } else {
                &mut down
            };
            let n = sealer.seal(&message, &mut wire).unwrap();
            stream.extend_from_slice(&wire[..n]);
            expected.push(message);
        }
        let mut deframer = LinkDeframer::new();
        let mut guards = [ReplayGuard::new(), ReplayGuard::new()];
        let mut received = 0;
        for piece in stream.chunks(chunk) {
            let mut input = piece;
            loop {
                match deframer.feed(input) {
                    Feed::Pending => break,
                    Feed::Frame { frame, rest } => {
                        let claimed = UnverifiedFrame::parse(frame).unwrap().claimed_header();
                        let guard = &mut guards[usize::from(claimed.direction == Direction::GatewayToNode)];
                        let (header, message) = open_frame(&KEY, claimed.direction, guard, frame).unwrap();
                        prop_assert_eq!(header, claimed);
                        prop_assert_eq!(message, expected[received]);
                        received += 1;
                        input = rest;
                    }
                    Feed::Dropped { error, .. } => prop_assert!(false, "dropped: {}", error),
                }
            }
        }
        prop_assert_eq!(received, expected.len());
        prop_assert_eq!(deframer.stats().frames as usize, expected.len());
    }

    #[test]
    fn message_decode_never_panics(kind: u8, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(message) = Message::decode(kind, &body) {
            // Decode, re-encode, compare.
            let mut out = [0u8; MAX_BODY_LEN];
            let n = message.encode(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &body[..]);
            if let Message::SightingBatch(batch) = message {
                for s in batch.iter().flatten() {
                    let mut out = [0u8; 64];
                    let n = s.encode(&mut out).unwrap();
                    prop_assert_eq!(Sighting::decode(&out[..n]), Ok((s, n)));
                }
            }
        }
        let _ = Sighting::decode(&body);
    }

    #[test]
    fn mutated_bodies_never_panic(
        message in owned_message(),
        at: usize,
        byte: u8,
        cut: usize,
    ) {
        let mut out = [0u8; MAX_BODY_LEN];
        let n = message.encode(&mut out).unwrap();
        out[at % n] = byte;
        // Every message body is at least 7 bytes; try each length up to it.
        let body = &out[..=cut % n];
        if let Ok(decoded) = Message::decode(message.kind().code(), body) {
            let mut again = [0u8; MAX_BODY_LEN];
            let m = decoded.encode(&mut again).unwrap();
            prop_assert_eq!(&again[..m], body);
        }
    }

    #[test]
    fn deframer_and_open_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..12),
    ) {
        let mut deframer: Deframer<64> = Deframer::new();
        let mut guard = ReplayGuard::new();
        for chunk in &chunks {
            let mut input = &chunk[..];
            loop {
                match deframer.feed(input) {
                    Feed::Pending => break,
                    Feed::Frame { frame, rest } => {
                        prop_assert!(frame.len() <= 64);
                        let _ = UnverifiedFrame::parse(frame);
                        let _ = open_frame(&KEY, Direction::NodeToGateway, &mut guard, frame);
                        input = rest;
                    }
                    Feed::Dropped { rest, .. } => input = rest,
                }
            }
        }
        // Raw bytes straight to open_frame and unstuff as well.
        for chunk in &chunks {
            let _ = open_frame(&KEY, Direction::GatewayToNode, &mut guard, chunk);
            let _ = unstuff(&mut chunk.clone());
        }
    }

    #[test]
    fn corrupted_wire_bytes_never_open(bit in 0usize..(8 * 64), noise in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut wire = [0u8; MAX_WIRE_LEN];
        let n = encode_frame(&KEY, &node_header(1), &hello(), &mut wire).unwrap();
        let mut stream = noise.clone();
        let start = stream.len();
        stream.extend_from_slice(&wire[..n]);
        // Flip one bit inside the stuffed frame (not a delimiter).
        let inner = n - 2;
        let at = start + 1 + (bit / 8) % inner;
        stream[at] ^= 1 << (bit % 8);
        let (opened, _) = receive(&stream, 7);
        prop_assert!(opened.is_empty());
    }
}

#[test]
fn sealer_debug_does_not_show_the_key() {
    let sealer = Sealer::new([0xAB; 16], NODE, Direction::NodeToGateway);
    let shown = format!("{sealer:?}");
    assert!(shown.contains("next_counter: 1"), "{shown}");
    assert!(!shown.contains("171"), "{shown}");
}
