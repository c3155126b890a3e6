//! Node link: a noisy byte stream through the deframer and frame checks, and
//! message bodies decoded, re-encoded, decoded again and compared.
#![no_main]

use aisle_protocol::link::{
    Direction, Feed, LinkDeframer, MAX_BODY_LEN, Message, ReplayGuard, UnverifiedFrame,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The whole input as a byte stream: nothing may panic, and no frame is
    // accepted without the key.
    let mut deframer = LinkDeframer::new();
    let mut guard = ReplayGuard::new();
    let mut input = data;
    loop {
        match deframer.feed(input) {
            Feed::Pending => break,
            Feed::Frame { frame, rest } => {
                if let Ok(f) = UnverifiedFrame::parse(frame) {
                    let _ = f.claimed_header();
                    assert!(f.open(&[7; 16], Direction::NodeToGateway, &mut guard).is_err());
                }
                input = rest;
            }
            Feed::Dropped { rest, .. } => input = rest,
        }
    }

    // The first byte as a message type, the rest as its body.
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let Ok(message) = Message::decode(kind, body) else {
        return;
    };
    let mut out = [0u8; MAX_BODY_LEN];
    let n = message.encode(&mut out).expect("a decoded message re-encodes");
    let again = Message::decode(kind, &out[..n]).expect("a re-encoded message decodes");
    assert_eq!(again, message);
});
