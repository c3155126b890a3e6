//! Advertisements: classify, re-encode what was decoded, classify again, compare.
#![no_main]

use aisle_protocol::beacon::{Frame, eddystone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::classify(data) else {
        return;
    };
    let _ = frame.identity();
    let mut ad = [0u8; 64];
    let mut service = [0u8; 32];
    let len = match frame {
        Frame::IBeacon(b) => b.write_advertisement(&mut ad),
        Frame::AltBeacon(b) => b.write_advertisement(&mut ad),
        Frame::EddystoneUid(f) => f
            .encode(&mut service)
            .and_then(|n| eddystone::write_advertisement(&service[..n], &mut ad)),
        Frame::EddystoneUrl(f) => f
            .encode(&mut service)
            .and_then(|n| eddystone::write_advertisement(&service[..n], &mut ad)),
        Frame::EddystoneTlm(f) => f
            .encode(&mut service)
            .and_then(|n| eddystone::write_advertisement(&service[..n], &mut ad)),
        Frame::EddystoneEid(f) => f
            .encode(&mut service)
            .and_then(|n| eddystone::write_advertisement(&service[..n], &mut ad)),
        _ => return,
    }
    .expect("a decoded frame re-encodes");
    let again = Frame::classify(&ad[..len]).expect("a re-encoded frame decodes");
    assert_eq!(again, frame);
});
