//! Provisioning and configuration over the node link: an unprovisioned
//! node's limits, `Provision`, `Configure` applied, acknowledged, persisted
//! and kept across a restart.

mod support;

use aisle_firmware::protocol::link::{
    BeaconIdentity, Configure, FACTORY_KEY, Message, Provision, Role, UNPROVISIONED_NODE_ID,
};
use aisle_firmware::settings::{self, Settings};
use aisle_firmware::{FIRMWARE, LED_BLINK_MS, STATUS_INTERVAL_MS};
use support::{Emitter, FLASH_RANGE, Flash, Gateway, Heard, Medium, Sim};

const KEY: [u8; 16] = *b"shelf node key 7";
const NODE: u32 = 7;

fn floor(until_ms: u64) -> Medium {
    let mut medium = Medium::new(11);
    medium.add(&Emitter::phone(1, (1.0, 0.5)), until_ms, None);
    medium.add(&Emitter::eddystone_eid([9; 8], (2.0, 1.0)), until_ms, None);
    medium
}

fn hellos(heard: &[Heard]) -> Vec<(u32, u32, Role)> {
    heard
        .iter()
        .filter_map(|h| match h {
            Heard::Hello(header, hello) => Some((header.node_id, header.counter, hello.role)),
            _ => None,
        })
        .collect()
}

fn batches(heard: &[Heard]) -> usize {
    heard
        .iter()
        .filter(|h| matches!(h, Heard::Batch { .. }))
        .count()
}

fn statuses(heard: &[Heard]) -> Vec<aisle_firmware::protocol::link::Status> {
    heard
        .iter()
        .filter_map(|h| match h {
            Heard::Status(_, s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn beacon_configure() -> Configure {
    Configure {
        role: Role::Beacon,
        tx_power_dbm: -8,
        adv_interval_ms: 250,
        scan_window_ms: 0,
        identity: BeaconIdentity::IBeacon {
            uuid: [0x42; 16],
            major: 3,
            minor: 9,
        },
    }
}

#[test]
fn unprovisioned_node_only_greets_until_provisioned() {
    let sim = Sim::new(floor(60_000));
    let mut flash = Flash::new();
    let node = sim.node(&mut flash, (0.0, 0.0), 1);
    let mut gateway = Gateway::new(&sim, FACTORY_KEY, UNPROVISIONED_NODE_ID);
    let script = async {
        sim.sleep_ms(2 * STATUS_INTERVAL_MS + 500).await;
        let before = gateway.receive();
        let listened_before = sim.0.borrow().receive_calls;

        // Anyone can seal under the factory key, so Configure is refused;
        // node id 0 is no id to provision.
        gateway.send(&Message::Configure(beacon_configure()));
        gateway.send(&Message::Provision(Provision {
            node_id: 0,
            key: KEY,
        }));
        sim.sleep_ms(STATUS_INTERVAL_MS).await;
        let after_configure = gateway.receive();

        gateway.send(&Message::Provision(Provision {
            node_id: NODE,
            key: KEY,
        }));
        gateway.rekey(KEY, NODE);
        sim.sleep_ms(5_000).await;
        let provisioned = gateway.receive();
        (before, listened_before, after_configure, provisioned)
    };
    let (before, listened_before, after_configure, provisioned) =
        sim.run_node(node, script, 120_000).unwrap();

    assert_eq!(
        hellos(&before),
        [(UNPROVISIONED_NODE_ID, 1, Role::Scanner)],
        "{before:?}"
    );
    assert!(matches!(before[0], Heard::Hello(_, h) if h.firmware == FIRMWARE));
    assert_eq!(statuses(&before).len(), 2);
    assert_eq!(batches(&before), 0);
    assert_eq!(listened_before, 0, "an unprovisioned node does not scan");

    assert!(hellos(&after_configure).is_empty(), "{after_configure:?}");
    let status = statuses(&after_configure);
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].frames_rejected, 2);
    assert_eq!(load(&sim, &mut flash).role, Role::Scanner);

    // Under the new key from counter 1, scanning.
    assert_eq!(hellos(&provisioned), [(NODE, 1, Role::Scanner)]);
    assert!(batches(&provisioned) >= 3, "{provisioned:?}");
    assert!(gateway.refused.is_empty(), "{:?}", gateway.refused);
    let kept = load(&sim, &mut flash);
    assert_eq!((kept.node_id, kept.key), (NODE, KEY));
}

#[test]
fn provisioned_node_is_rekeyed_only_under_its_own_key() {
    let sim = Sim::new(floor(60_000));
    let mut flash = Flash::new();
    store(&sim, &mut flash, &provisioned());
    let node = sim.node(&mut flash, (0.0, 0.0), 2);
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let new_key = [0x5A; 16];
    let script = async {
        sim.sleep_ms(100).await;
        gateway.receive();
        // A stranger with the factory key.
        let mut stranger = Gateway::new(&sim, FACTORY_KEY, NODE);
        stranger.send(&Message::Provision(Provision {
            node_id: 99,
            key: [1; 16],
        }));
        sim.sleep_ms(100).await;
        let ignored = gateway.receive();
        gateway.send(&Message::Provision(Provision {
            node_id: 8,
            key: new_key,
        }));
        gateway.rekey(new_key, 8);
        sim.sleep_ms(100).await;
        (ignored, gateway.receive())
    };
    let (ignored, rekeyed) = sim.run_node(node, script, 10_000).unwrap();
    assert!(hellos(&ignored).is_empty());
    assert_eq!(hellos(&rekeyed), [(8, 1, Role::Scanner)]);
    let kept = load(&sim, &mut flash);
    assert_eq!((kept.node_id, kept.key), (8, new_key));

    // The same key again (a gateway repeating itself): the counter goes on,
    // since starting over would reuse counters under that key.
    let node = sim.node(&mut flash, (0.0, 0.0), 2);
    let script = async {
        sim.sleep_ms(100).await;
        let before = gateway.receive();
        gateway.send(&Message::Provision(Provision {
            node_id: 9,
            key: new_key,
        }));
        gateway.rekey(new_key, 9);
        sim.sleep_ms(100).await;
        (before, gateway.receive())
    };
    let (before, repeated) = sim.run_node(node, script, 10_000).unwrap();
    let last = before.last().unwrap().header().counter;
    assert_eq!(hellos(&repeated), [(9, last + 1, Role::Scanner)]);
    assert_eq!(load(&sim, &mut flash).node_id, 9);
}

#[test]
fn configure_is_acknowledged_applied_persisted_and_kept_across_restart() {
    let sim = Sim::new(floor(60_000));
    let mut flash = Flash::new();
    store(&sim, &mut flash, &provisioned());
    let node = sim.node(&mut flash, (0.0, 0.0), 3);
    let mut gateway = Gateway::new(&sim, KEY, NODE);
    let script = async {
        sim.sleep_ms(1_500).await;
        let first = gateway.receive();
        gateway.send(&Message::Configure(beacon_configure()));
        let sent_at = sim.now_us();
        sim.sleep_ms(1_000).await;
        (first, sent_at, gateway.receive())
    };
    let (first, sent_at, after) = sim.run_node(node, script, 10_000).unwrap();
    assert_eq!(hellos(&first), [(NODE, 1, Role::Scanner)]);
    assert!(batches(&first) >= 1);
    assert_eq!(hellos(&after), [(NODE, hellos(&after)[0].1, Role::Beacon)]);
    assert!(
        after.iter().all(|h| !matches!(h, Heard::Batch { window_start_ms, .. } if *window_start_ms * 1000 >= sent_at)),
        "a beacon does not report: {after:?}"
    );
    {
        let w = sim.0.borrow();
        let tx: Vec<_> = w.transmitted.iter().filter(|t| t.0 >= sent_at).collect();
        // 1 s at 250 ms + advDelay: 4 events of 3 packets, at -8 dBm.
        assert!((9..=12).contains(&tx.len()), "{}", tx.len());
        assert!(tx.iter().all(|t| t.2 == -8));
        assert!(
            w.transmitted.iter().all(|t| t.0 >= sent_at),
            "no beaconing before"
        );
    }
    let kept = load(&sim, &mut flash);
    assert_eq!(kept.configuration(), beacon_configure());
    {
        // The LED blinks on activity: dark again LED_BLINK_MS after it was
        // last lit (to the clock's millisecond).
        let w = sim.0.borrow();
        assert!(w.led.iter().any(|&(t, on)| on && t >= sent_at));
        let mut last_lit = None;
        for &(t, on) in &w.led {
            if on {
                last_lit = Some(t);
            } else {
                let since = t - last_lit.unwrap();
                let blink = LED_BLINK_MS * 1000;
                assert!((blink - 1000..=blink + 1000).contains(&since), "{since} µs");
            }
        }
    }

    // After a restart: the same settings, and the counter moves on.
    let last_counter = gateway_last(&gateway);
    sim.0.borrow_mut().transmitted.clear();
    let node = sim.node(&mut flash, (0.0, 0.0), 3);
    let script = async {
        sim.sleep_ms(600).await;
        gateway.receive()
    };
    let again = sim.run_node(node, script, 100_000).unwrap();
    let hello = hellos(&again);
    assert_eq!(hello.len(), 1);
    assert_eq!(hello[0].2, Role::Beacon);
    assert!(hello[0].1 > last_counter);
    assert!(!sim.0.borrow().transmitted.is_empty());
    assert!(gateway.refused.is_empty(), "{:?}", gateway.refused);
}

fn gateway_last(gateway: &Gateway) -> u32 {
    gateway.uplink_guard.last()
}

fn provisioned() -> Settings {
    Settings {
        node_id: NODE,
        key: KEY,
        scan_window_ms: 500,
        ..Settings::FACTORY
    }
}

fn store(sim: &Sim, flash: &mut Flash, settings: &Settings) {
    sim.block_on(settings::store(flash, FLASH_RANGE, settings), 1)
        .unwrap();
}

fn load(sim: &Sim, flash: &mut Flash) -> Settings {
    sim.block_on(settings::load(flash, FLASH_RANGE), 1).unwrap()
}

#[test]
fn settings_outside_configure_ranges_are_not_stored() {
    let sim = Sim::new(Medium::new(1));
    let mut flash = Flash::new();
    let bad = Settings {
        adv_interval_ms: 5,
        ..provisioned()
    };
    assert_eq!(
        sim.block_on(settings::store(&mut flash, FLASH_RANGE, &bad), 1),
        Err(settings::StorageError::Invalid)
    );
    assert_eq!(load(&sim, &mut flash), Settings::FACTORY);
    let too_small = 0..4096;
    assert_eq!(
        sim.block_on(settings::load(&mut flash, too_small), 1),
        Err(settings::StorageError::Range)
    );
}
