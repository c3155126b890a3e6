//! MQTT topics: parse, print, parse again, compare.
#![no_main]

use aisle_protocol::topic::Topic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(topic) = Topic::parse(text) else {
        return;
    };
    let printed = topic.to_string();
    assert_eq!(printed, text);
    assert_eq!(Topic::parse(&printed).expect("a printed topic parses"), topic);
});
