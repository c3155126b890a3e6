//! Settings across a power cut at any byte of a flash write: after the cut
//! and a reboot the node holds the old settings or the new, never anything
//! else, and it starts.

mod support;

use aisle_firmware::Error;
use aisle_firmware::protocol::link::{BeaconIdentity, Configure, Message, Role};
use aisle_firmware::ram_flash::RamFlashError;
use aisle_firmware::settings::{self, Settings, StorageError};
use std::sync::OnceLock;

use proptest::prelude::*;
use support::{FLASH_RANGE, Flash, Gateway, Heard, Medium, Sim};

const KEY: [u8; 16] = [0x77; 16];
const NODE: u32 = 40;

fn old_settings(prior_writes: u16) -> Settings {
    Settings {
        node_id: NODE,
        key: KEY,
        scan_window_ms: 100 + prior_writes,
        ..Settings::FACTORY
    }
}

fn new_configure() -> Configure {
    Configure {
        role: Role::Beacon,
        tx_power_dbm: 4,
        adv_interval_ms: 1000,
        scan_window_ms: 0,
        identity: BeaconIdentity::EddystoneUid {
            namespace: [1; 10],
            instance: [2; 6],
        },
    }
}

/// Most settings writes a flash has seen before the write under test.
const MAX_WEAR: u16 = 300;

/// A flash that has seen `prior_writes` settings writes, the last one
/// `old_settings(prior_writes)`: enough of them fill pages and make the
/// store move items and erase pages during the write under test.
fn worn_flash(prior_writes: u16) -> Flash {
    static WORN: OnceLock<Vec<Flash>> = OnceLock::new();
    let worn = WORN.get_or_init(|| {
        let sim = Sim::new(Medium::new(1));
        let mut flash = Flash::new();
        (0..MAX_WEAR)
            .map(|i| {
                sim.block_on(
                    settings::store(&mut flash, FLASH_RANGE, &old_settings(i)),
                    1,
                )
                .unwrap();
                flash.clone()
            })
            .collect()
    });
    worn[usize::from(prior_writes)].clone()
}

/// Boots a node on `flash`, sends it the new settings and runs until it has
/// acknowledged them or lost power. Returns whether the power was cut.
fn boot_and_configure(sim: &Sim, flash: &mut Flash) -> bool {
    let mut gateway = Gateway::new(sim, KEY, NODE);
    let node = sim.node(flash, (0.0, 0.0), 1);
    let script = async {
        sim.sleep_ms(10).await;
        gateway.receive();
        gateway.send(&Message::Configure(new_configure()));
        // Until the acknowledgement: the node has written all it will.
        while !gateway
            .receive()
            .iter()
            .any(|h| matches!(h, Heard::Hello(..)))
        {
            sim.sleep_ms(5).await;
        }
    };
    match sim.run_node(node, script, 10_000) {
        Ok(()) => false,
        Err(Error::Storage(StorageError::Flash(RamFlashError::PowerCut))) => true,
        Err(other) => panic!("the node failed otherwise: {other:?}"),
    }
}

/// Flash bytes a boot and a Configure take with steady power.
fn bytes_per_session(prior_writes: u16) -> u64 {
    let sim = Sim::new(Medium::new(1));
    let mut flash = worn_flash(prior_writes);
    let before = flash.bytes_changed();
    assert!(!boot_and_configure(&sim, &mut flash));
    flash.bytes_changed() - before
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn settings_are_old_or_new_after_a_cut_anywhere(
        prior_writes in prop_oneof![0..MAX_WEAR, proptest::sample::select(erasing_wear())],
        cut_per_10k in 0u64..10_000,
    ) {
        let total = bytes_per_session(prior_writes);
        let cut = usize::try_from(total * cut_per_10k / 10_000).unwrap();
        let sim = Sim::new(Medium::new(1));
        let mut flash = worn_flash(prior_writes);
        flash.cut_power_after(cut);
        prop_assert!(boot_and_configure(&sim, &mut flash), "cut at {cut} of {total}");
        flash.restore_power();

        // Reboot: old or new, nothing else.
        let old = old_settings(prior_writes);
        let mut new = old;
        new.apply(&new_configure());
        let kept = sim.block_on(settings::load(&mut flash, FLASH_RANGE), 1).unwrap();
        prop_assert!(kept == old || kept == new, "cut at {cut} of {total}: {kept:?}");

        // And the node starts with what it kept.
        let mut gateway = Gateway::new(&sim, KEY, NODE);
        let node = sim.node(&mut flash, (0.0, 0.0), 1);
        let script = async {
            sim.sleep_ms(5).await;
            gateway.receive()
        };
        let heard = sim.run_node(node, script, 100_000).unwrap();
        let hello = heard.iter().find_map(|h| match h {
            Heard::Hello(_, hello) => Some(*hello),
            _ => None,
        });
        prop_assert_eq!(hello.map(|h| h.role), Some(kept.role));
    }
}

/// Worn states whose boot and Configure
/// make the store erase a page: the riskiest moments for a cut.
fn erasing_wear() -> &'static [u16] {
    static WEAR: OnceLock<Vec<u16>> = OnceLock::new();
    WEAR.get_or_init(|| {
        let page = aisle_firmware::ram_flash::PAGE_SIZE as u64;
        (0..MAX_WEAR)
            .filter(|&w| bytes_per_session(w) > page)
            .collect()
    })
}

#[test]
fn the_cuts_tried_include_page_erases() {
    // The property above is only as good as the cuts it tries: a boot and a
    // Configure write the counter mark and the record (76 bytes), and on a
    // worn flash the store also erases a page to make room.
    assert!(bytes_per_session(0) >= 64);
    assert!(!erasing_wear().is_empty());
}
