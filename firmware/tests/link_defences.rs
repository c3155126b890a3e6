//! The node's end of the link under attack and noise: forged, replayed,
//! misaddressed and damaged frames are counted and ignored, the deframer
//! finds the next good frame, and the uplink counter never repeats across
//! restarts.

mod support;

use aisle_firmware::protocol::link::{
    BeaconIdentity, Configure, Direction, Header, MAX_FRAME_LEN, Message, Role, Sealer,
    encode_frame,
};
use aisle_firmware::settings::{self, Settings};
use aisle_firmware::{COUNTER_BLOCK, Error, SCAN_SLICE_MS, STATUS_INTERVAL_MS};
use support::{Emitter, FLASH_RANGE, Flash, Gateway, Heard, Medium, Sim, UART_BYTE_US};

const KEY: [u8; 16] = *b"aisle-3 node key";
const NODE: u32 = 31;

fn provisioned(flash: &mut Flash, sim: &Sim, scan_window_ms: u16) {
    let settings = Settings {
        node_id: NODE,
        key: KEY,
        scan_window_ms,
        ..Settings::FACTORY
    };
    sim.block_on(settings::store(flash, FLASH_RANGE, &settings), 1)
        .unwrap();
}

fn window(ms: u16) -> Configure {
    Configure {
        role: Role::Scanner,
        tx_power_dbm: 0,
        adv_interval_ms: 100,
        scan_window_ms: ms,
        identity: BeaconIdentity::None,
    }
}

fn hello_count(heard: &[Heard]) -> usize {
    heard
        .iter()
        .filter(|h| matches!(h, Heard::Hello(..)))
        .count()
}

/// The downlink counter each `Hello` names, in order.
fn hello_downlinks(heard: &[Heard]) -> Vec<Option<u32>> {
    heard
        .iter()
        .filter_map(|h| match h {
            Heard::Hello(_, hello) => Some(hello.downlink_last),
            _ => None,
        })
        .collect()
}

fn last_status(heard: &[Heard]) -> aisle_firmware::protocol::link::Status {
    heard
        .iter()
        .rev()
        .find_map(|h| match h {
            Heard::Status(_, s) => Some(*s),
            _ => None,
        })
        .expect("a Status")
}

#[test]
fn bad_frames_are_counted_and_ignored_and_good_ones_still_pass() {
    let sim = Sim::new(Medium::new(3));
    let mut flash = Flash::new();
    provisioned(&mut flash, &sim, 1000);
    let node = sim.node(&mut flash, (0.0, 0.0), 9);
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let script = async {
        sim.sleep_ms(50).await;
        gateway.send(&Message::Configure(window(700)));
        sim.sleep_ms(50).await;
        let applied = gateway.receive();

        // 1. The same frame again: a replay.
        let replay = gateway.sent[0].clone();
        gateway.inject(&replay);
        // 2. Forged: sealed under another key with a good CRC.
        let mut forged = [0u8; MAX_FRAME_LEN + 8];
        let header = Header {
            direction: Direction::GatewayToNode,
            node_id: NODE,
            counter: 1000,
        };
        let n = encode_frame(
            &[0xEE; 16],
            &header,
            &Message::Configure(window(200)),
            &mut forged,
        )
        .unwrap();
        gateway.inject(&forged[..n]);
        // 3. Sealed with the right key but for another node on the same bus.
        let mut other = Sealer::resume(KEY, NODE + 1, Direction::GatewayToNode, 2000);
        let mut buf = [0u8; MAX_FRAME_LEN + 8];
        let n = other
            .seal(&Message::Configure(window(300)), &mut buf)
            .unwrap();
        gateway.inject(&buf[..n]);
        // 4. Line noise with no delimiter inside, then a delimiter.
        gateway.inject(&[0x13, 0x37, 0xC0, 0xFF, 0xEE, 0x00]);
        sim.sleep_ms(20).await;
        // 5. A read error from the UART.
        sim.0.borrow_mut().link_read_errors = 1;
        sim.sleep_ms(200).await;
        // 6. A good frame cut short, then a good frame: the cut one is lost,
        //    the next one is whole again.
        let mut cut = [0u8; MAX_FRAME_LEN + 8];
        let n = gateway
            .downlink
            .seal(&Message::Configure(window(400)), &mut cut)
            .unwrap();
        gateway.inject(&cut[..n / 2]);
        sim.sleep_ms(20).await;
        gateway.send(&Message::Configure(window(900)));
        sim.sleep_ms(STATUS_INTERVAL_MS).await;
        (applied, gateway.receive())
    };
    let (applied, later) = sim.run_node(node, script, 60_000).unwrap();
    assert_eq!(hello_count(&applied), 2, "start and acknowledgement");
    // Fresh from provisioning it has accepted no downlink frame; then it
    // names the Configure it answers (the first the gateway sealed).
    assert_eq!(hello_downlinks(&applied), [Some(0), Some(1)]);
    assert_eq!(hello_count(&later), 1, "only the last Configure: {later:?}");
    // The last Configure was the third frame the gateway sealed (the cut
    // one the second; the others were not its own).
    assert_eq!(hello_downlinks(&later), [Some(3)]);
    // Replay, forgery, another node's, noise, the read error and the cut
    // frame (ended by the next frame's leading delimiter, it fails its CRC).
    assert_eq!(last_status(&later).frames_rejected, 6, "{later:?}");
    let kept = sim
        .block_on(settings::load(&mut flash, FLASH_RANGE), 1)
        .unwrap();
    assert_eq!(kept.scan_window_ms, 900);
    assert!(gateway.refused.is_empty(), "{:?}", gateway.refused);
}

#[test]
fn replayed_configure_is_refused_after_a_restart_too() {
    let sim = Sim::new(Medium::new(4));
    let mut flash = Flash::new();
    provisioned(&mut flash, &sim, 1000);
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let node = sim.node(&mut flash, (0.0, 0.0), 9);
    let script = async {
        gateway.send(&Message::Configure(window(700)));
        gateway.send(&Message::Configure(window(800)));
        // Each waits for the listen in progress: at most 100 ms.
        sim.sleep_ms(2 * SCAN_SLICE_MS + 50).await;
        gateway.receive();
    };
    sim.run_node(node, script, 10_000).unwrap();
    let node = sim.node(&mut flash, (0.0, 0.0), 9);
    let script = async {
        let first = gateway.sent[0].clone();
        gateway.inject(&first);
        sim.sleep_ms(STATUS_INTERVAL_MS + 10).await;
        gateway.receive()
    };
    let heard = sim.run_node(node, script, 100_000).unwrap();
    assert_eq!(hello_count(&heard), 1, "start only");
    // At start it names the last downlink counter it kept in flash.
    assert_eq!(hello_downlinks(&heard), [Some(2)]);
    assert_eq!(last_status(&heard).frames_rejected, 1);
    let kept = sim
        .block_on(settings::load(&mut flash, FLASH_RANGE), 1)
        .unwrap();
    assert_eq!(kept.scan_window_ms, 800);
}

#[test]
fn uplink_counter_is_never_reused_across_restarts() {
    let until_ms = 400_000;
    let mut medium = Medium::new(5);
    // Phones advertising every 20 ms, so nearly every window has something.
    for seed in 0..3 {
        let mut phone = Emitter::phone(seed, (1.0, 1.0));
        phone.interval_ms = 20;
        medium.add(&phone, until_ms, None);
    }
    let sim = Sim::new(medium);
    let mut flash = Flash::new();
    // 60 ms windows: about 17 batches a second, so a block of counters is
    // used up within a run.
    provisioned(&mut flash, &sim, 60);
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let mut firsts = Vec::new();
    let mut total = 0;
    for run_ms in [90_000, 1_000, 75_000, 5] {
        let node = sim.node(&mut flash, (0.0, 0.0), 1);
        let script = async {
            sim.sleep_ms(run_ms).await;
            gateway.receive()
        };
        let heard = sim.run_node(node, script, until_ms).unwrap();
        firsts.push(heard.first().map(|h| h.header().counter));
        total += heard.len();
    }
    // The gateway's replay guard refuses any counter it has passed, so a
    // reused one would show up here.
    assert!(gateway.refused.is_empty(), "{:?}", gateway.refused);
    assert!(total > 2 * COUNTER_BLOCK as usize, "{total} frames");
    let firsts: Vec<u32> = firsts.into_iter().map(Option::unwrap).collect();
    // Each restart resumes at the next reserved block, above all it sent.
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
    assert!(
        firsts.iter().skip(1).all(|c| (c - 1) % COUNTER_BLOCK == 0),
        "{firsts:?}"
    );
}

#[test]
fn closed_link_ends_the_run() {
    let sim = Sim::new(Medium::new(6));
    let mut flash = Flash::new();
    provisioned(&mut flash, &sim, 1000);
    let node = sim.node(&mut flash, (0.0, 0.0), 1);
    let script = async {
        sim.sleep_ms(100).await;
        sim.0.borrow_mut().link_closed = true;
        sim.sleep_ms(1_000_000).await;
    };
    assert_eq!(
        sim.run_node(node, script, 2_000_000),
        Err(Error::LinkClosed)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever arrives on the link or the air, the node neither panics nor
    /// stops nor takes it for a command, and it still obeys the gateway.
    #[test]
    fn garbage_on_link_and_air_changes_nothing(
        chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..12),
        air_seed in proptest::prelude::any::<u64>(),
    ) {
        let mut medium = Medium::new(air_seed);
        medium.add_noise(3000, 3_000);
        let sim = Sim::new(medium);
        let mut flash = Flash::new();
        provisioned(&mut flash, &sim, 250);
        let mut gateway = Gateway::new(&sim, KEY, NODE);
        let node = sim.node(&mut flash, (0.0, 0.0), air_seed);
        let script = async {
            for chunk in &chunks {
                gateway.inject(chunk);
                sim.sleep_ms(97).await;
            }
            let before = gateway.receive();
            // A delimiter ends whatever junk is pending; then a real command.
            gateway.inject(&[0]);
            gateway.send(&Message::Configure(window(600)));
            sim.sleep_ms(2_000).await;
            (before, gateway.receive())
        };
        let (before, after) = sim.run_node(node, script, 60_000).unwrap();
        proptest::prop_assert_eq!(hello_count(&before), 1);
        proptest::prop_assert_eq!(hello_count(&after), 1);
        let kept = sim.block_on(settings::load(&mut flash, FLASH_RANGE), 1).unwrap();
        proptest::prop_assert_eq!(kept.scan_window_ms, 600);
        proptest::prop_assert!(gateway.refused.is_empty());
    }
}

#[test]
fn a_flooded_link_does_not_silence_the_radio() {
    let sim = Sim::new(Medium::new(8));
    let mut flash = Flash::new();
    let settings = Settings {
        node_id: NODE,
        key: KEY,
        role: Role::Beacon,
        adv_interval_ms: 100,
        identity: BeaconIdentity::IBeacon {
            uuid: [1; 16],
            major: 1,
            minor: 2,
        },
        ..Settings::FACTORY
    };
    sim.block_on(settings::store(&mut flash, FLASH_RANGE, &settings), 1)
        .unwrap();
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let node = sim.node(&mut flash, (0.0, 0.0), 1);
    // 3 s of bytes back to back: the link always has something to read
    // before a packet is on the air (328 µs).
    let flood: Vec<u8> = (0..3_000_000 / UART_BYTE_US)
        .map(|i| u8::try_from(i % 251).unwrap() | 1)
        .collect();
    let script = async {
        gateway.inject(&flood);
        gateway.inject(&[0]);
        gateway.send(&Message::Configure(window(600)));
        sim.sleep_ms(3_100).await;
        gateway.receive()
    };
    let heard = sim.run_node(node, script, 10_000).unwrap();
    // 3 s at 100 ms plus advDelay: about 28 events of 3 packets, each
    // event late by at most the streak of reads before it.
    let packets = sim.0.borrow().transmitted.len();
    assert!(packets >= 3 * 25, "{packets} packets");
    // And the gateway still gets through afterwards.
    assert_eq!(hello_count(&heard), 2);
}

#[test]
fn a_flooded_link_does_not_deafen_the_scanner() {
    let heard = |flood: bool| {
        let mut medium = Medium::new(9);
        for seed in 0..4 {
            medium.add(&Emitter::phone(seed, (1.0, 2.0)), 4_000, None);
        }
        let sim = Sim::new(medium);
        let mut flash = Flash::new();
        provisioned(&mut flash, &sim, 300);
        let gateway = Gateway::new(&sim, KEY, NODE);
        let node = sim.node(&mut flash, (0.0, 0.0), 1);
        let bytes: Vec<u8> = (0..3_000_000 / UART_BYTE_US)
            .map(|i| u8::try_from(i % 251).unwrap() | 1)
            .collect();
        let script = async {
            if flood {
                gateway.inject(&bytes);
            }
            sim.sleep_ms(3_000).await;
        };
        sim.run_node(node, script, 10_000).unwrap();
        sim.0.borrow().received.len()
    };
    let quiet = heard(false);
    let flooded = heard(true);
    assert!(quiet > 30, "{quiet}");
    // Listening is never cut short by link traffic, so the same packets are heard.
    assert_eq!(flooded, quiet);
}
