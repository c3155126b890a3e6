//! The scripted session: what the gateway does, and what it checks.

use aisle_firmware::Node;
use aisle_firmware::hw::Sensors;
use aisle_firmware::protocol::link::{
    BeaconIdentity, Configure, Direction, FACTORY_KEY, Hello, MAX_WIRE_LEN, Message, NodeKey, Role,
    Sealer, UNPROVISIONED_NODE_ID,
};
use aisle_firmware::protocol::ll::{AddressType, DeviceAddress};
use aisle_firmware::ram_flash::RamFlash;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use cortex_m_semihosting::hprintln;
use embassy_futures::select::{Either, select};

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use static_cell::ConstStaticCell;

use crate::Checks;
use crate::gateway::{Gateway, Heard, NodeLink, Wire};
use crate::observe::{check_beacon, listen};
use crate::probe::StackProbe;
use crate::sim::{Medium, Phone, SimClock, SimDelay, SimTime};

/// The id and key the gateway provisions the node with.
const NODE_ID: u32 = 0x0000_0107;
const NODE_KEY: NodeKey = *b"shelf-7 meat cnt";

/// The settings area: four 4 KiB pages, as on the board.
const SETTINGS_END: u32 = 4 * 4096;
const SETTINGS_LEN: usize = SETTINGS_END as usize;

/// What the simulated sensors read, so `Status` can be checked end to end.
const BATTERY_MV: u16 = 2950;
const TEMPERATURE_CENTI_C: i16 = 2175;

/// The iBeacon a beacon-role node is told to advertise.
const STORE_UUID: [u8; 16] = *b"aisle-store-0001";
const STORE_MAJOR: u16 = 12;
const STORE_MINOR: u16 = 7;

// Advertising data of the simulated devices. Levels at the node follow the
// log-distance model with exponent 2 from -59 dBm at 1 m (a phone's usual
// calibrated power): -59 - 20 log10(d).
/// An iPhone's Continuity Nearby Info.
const APPLE_NEARBY: &[u8] = &[
    0x02, 0x01, 0x1A, 0x0A, 0xFF, 0x4C, 0x00, 0x10, 0x05, 0x0B, 0x1C, 0x7A, 0x3E, 0x11,
];
/// An Android phone's Fast Pair service data.
const ANDROID_FAST_PAIR: &[u8] = &[0x02, 0x01, 0x06, 0x06, 0x16, 0x2C, 0xFE, 0x00, 0x0C, 0xE7];
/// Another store's iBeacon on the next shelf.
const SHELF_IBEACON: &[u8] = &[
    0x02, 0x01, 0x06, 0x1A, 0xFF, 0x4C, 0x00, 0x02, 0x15, 0xE2, 0xC5, 0x6D, 0xB5, 0xDF, 0xFB, 0x48,
    0xD2, 0xB0, 0x60, 0xD0, 0xF5, 0xA7, 0x10, 0x96, 0xE0, 0x00, 0x01, 0x00, 0x02, 0xC5,
];

const fn random_static(low: u8) -> DeviceAddress {
    DeviceAddress::from_be_bytes(AddressType::Random, [0xC4, 0x11, 0x22, 0x33, 0x44, low])
}

const PHONES: usize = 4;
/// Index of the phone across the store, too far to hear.
const OUT_OF_RANGE: usize = 3;

/// What the node and the gateway share: time, the air and the link.
pub struct World {
    time: SimTime,
    medium: Medium<PHONES>,
    to_gateway: Wire,
    from_gateway: Wire,
}

static WORLD: ConstStaticCell<World> = ConstStaticCell::new(World {
    time: SimTime::new(),
    medium: Medium::new(
        [
            // 3 m from the shelf.
            Phone::new(random_static(0x01), APPLE_NEARBY, 180, -69, 0x0A),
            // 1.5 m.
            Phone::new(random_static(0x02), ANDROID_FAST_PAIR, 250, -63, 0x0B),
            // 6 m.
            Phone::new(random_static(0x03), SHELF_IBEACON, 100, -75, 0x0C),
            // 120 m: -101 dBm, under the radio's sensitivity.
            Phone::new(random_static(0x04), APPLE_NEARBY, 180, -101, 0x0D),
        ],
        0x5EED_F00D,
    ),
    to_gateway: Wire::new(),
    from_gateway: Wire::new(),
});
static FLASH: ConstStaticCell<RamFlash<SETTINGS_LEN>> = ConstStaticCell::new(RamFlash::new());

/// Cuts the node's power: its task drops the node's future.
static POWER_CUT: Signal<CriticalSectionRawMutex, ()> = Signal::new();
/// The flash, handed back once the node is off.
static POWERED_OFF: Signal<CriticalSectionRawMutex, &'static mut RamFlash<SETTINGS_LEN>> =
    Signal::new();
/// Set when `run` returned by itself, which it does only on a fatal error.
static NODE_FAILED: AtomicBool = AtomicBool::new(false);

/// Fixed readings in place of TEMP and SAADC.
struct FixedSensors;

impl Sensors for FixedSensors {
    fn battery_mv(&mut self) -> u16 {
        BATTERY_MV
    }

    fn temperature_centi_c(&mut self) -> i16 {
        TEMPERATURE_CENTI_C
    }
}

/// The status LED: nothing to see under QEMU.
struct Led;

impl embedded_hal::digital::ErrorType for Led {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for Led {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The scanner settings the gateway sends.
const SCANNER: Configure = Configure {
    role: Role::Scanner,
    tx_power_dbm: 0,
    adv_interval_ms: 100,
    // Not the factory 1 s, so batches show the setting was applied.
    scan_window_ms: 1500,
    identity: BeaconIdentity::None,
};

/// The beacon settings the gateway sends later.
const BEACON: Configure = Configure {
    role: Role::Beacon,
    tx_power_dbm: -4,
    adv_interval_ms: 200,
    scan_window_ms: 1000,
    identity: BeaconIdentity::IBeacon {
        uuid: STORE_UUID,
        major: STORE_MAJOR,
        minor: STORE_MINOR,
    },
};

/// Simulated time the node scans for: two `Status` intervals.
const SCAN_MS: u64 = 2 * aisle_firmware::STATUS_INTERVAL_MS + 500;
/// Simulated time after the attack frames, for a `Status` to report them.
const AFTER_ATTACK_MS: u64 = aisle_firmware::STATUS_INTERVAL_MS + 500;
/// Simulated time the beacon is watched.
const BEACON_MS: u64 = 3_000;
/// How long the gateway waits for an answer to what it sent.
const ANSWER_MS: u64 = 2_000;

/// One life of the node, from power-up to power cut, in a task of its own
/// as on the board: its future lives in the task's static storage, so the
/// stack holds only what its polls need.
#[embassy_executor::task]
async fn shelf_node(world: &'static World, flash: &'static mut RamFlash<SETTINGS_LEN>, seed: u64) {
    let node = Node {
        radio: world.medium.radio(&world.time, &world.to_gateway),
        led: Led,
        delay: SimDelay(&world.time),
        link: NodeLink {
            from_gateway: &world.from_gateway,
            to_gateway: &world.to_gateway,
        },
        flash: &mut *flash,
        flash_range: 0..SETTINGS_END,
        clock: SimClock::starting_now(&world.time),
        sensors: FixedSensors,
        seed,
    };
    // Built in place (`pin!`), as the board does: moved as a value, the
    // future (5,968 bytes here) would go through the stack on the way.
    {
        let run = pin!(aisle_firmware::run(node));
        hprintln!("node future: {} bytes", core::mem::size_of_val(&*run));
        if let Either::First(error) = select(StackProbe(run), POWER_CUT.wait()).await {
            hprintln!("node stopped: {:?}", error);
            NODE_FAILED.store(true, Ordering::Relaxed);
        }
    }
    POWERED_OFF.signal(flash);
}

/// Cuts the node's power and takes its flash back.
async fn power_cut(checks: &mut Checks) -> &'static mut RamFlash<SETTINGS_LEN> {
    POWER_CUT.signal(());
    let flash = POWERED_OFF.wait().await;
    POWER_CUT.reset();
    // A task woken during its last poll stays queued until the executor
    // has passed it once more; only then can it be spawned again.
    embassy_futures::yield_now().await;
    checks.check(
        "the node ran until its power was cut",
        !NODE_FAILED.swap(false, Ordering::Relaxed),
    );
    flash
}

/// Runs the whole session, recording its checks.
pub async fn session(spawner: Spawner, checks: &mut Checks) {
    let world: &'static World = WORLD.take();
    let flash = FLASH.take();
    let time = &world.time;
    let medium = &world.medium;
    let mut gateway = Gateway::new(
        FACTORY_KEY,
        UNPROVISIONED_NODE_ID,
        &world.to_gateway,
        &world.from_gateway,
        time,
    );

    hprintln!("-- first boot, factory-fresh flash");
    spawner.spawn(shelf_node(world, flash, 0x0001_0107).expect("one node at a time"));
    first_boot(&mut gateway, medium, time, checks).await;
    let flash = power_cut(checks).await;

    hprintln!("-- power cut; second boot on the same flash");
    spawner.spawn(shelf_node(world, flash, 0x0002_0107).expect("the first node is off"));
    second_boot(&mut gateway, medium, time, checks).await;
    power_cut(checks).await;
}

/// Waits for the node's next `Hello`, passing over anything else.
async fn hello(gateway: &mut Gateway<'_, '_>, time: &SimTime) -> Option<Hello> {
    let deadline = time.now_ms() + ANSWER_MS;
    loop {
        match gateway.next(deadline).await {
            Ok(Heard::Hello(hello)) => return Some(hello),
            Ok(_) => {}
            Err(silence) => {
                hprintln!("no Hello: {:?}", silence);
                return None;
            }
        }
    }
}

async fn first_boot(
    gateway: &mut Gateway<'_, '_>,
    medium: &Medium<PHONES>,
    time: &SimTime,
    checks: &mut Checks,
) {
    let first = hello(gateway, time).await;
    checks.check(
        "a factory-fresh node says Hello, node id 0, under the factory key",
        first.is_some_and(|h| h.node_id == UNPROVISIONED_NODE_ID),
    );

    gateway.provision(NODE_ID, NODE_KEY).await;
    let provisioned = hello(gateway, time).await;
    checks.check(
        "after Provision it says Hello under its new id and key",
        provisioned.is_some_and(|h| h.node_id == NODE_ID),
    );

    let (configure_wire, configure_len) = gateway.configure(SCANNER).await;
    let acknowledged = hello(gateway, time).await;
    checks.check(
        "it acknowledges Configure with a Hello in the scanner role",
        acknowledged.is_some_and(|h| h.role == Role::Scanner),
    );
    checks.check(
        "the Hello names the Configure's downlink counter",
        acknowledged.is_some_and(|h| h.downlink_last == Some(gateway.last_configure)),
    );

    // The node opened a new window as it applied the Configure.
    let window_opened = medium.delivered();
    let scan = listen(
        gateway,
        medium,
        SCANNER.scan_window_ms,
        window_opened,
        time.now_ms() + SCAN_MS,
    )
    .await;
    scan.check(OUT_OF_RANGE, checks, "scanning");
    checks.check(
        "Status reports the battery and die temperature the board reads",
        scan.last_status.is_some_and(|s| {
            s.battery_mv == BATTERY_MV && s.temperature_centi_c == TEMPERATURE_CENTI_C
        }),
    );
    checks.check(
        "no frame was rejected yet",
        scan.last_status.is_some_and(|s| s.frames_rejected == 0),
    );

    // A Configure sealed under the wrong key, then a replay of the real one.
    let mut forger = Sealer::new([0x55; 16], NODE_ID, Direction::GatewayToNode);
    let mut wire = [0; MAX_WIRE_LEN];
    let forged_len = forger
        .seal(&Message::Configure(BEACON), &mut wire)
        .expect("a Configure fits");
    gateway.send_raw(&wire[..forged_len]).await;
    gateway.send_raw(&configure_wire[..configure_len]).await;
    let deadline = time.now_ms() + AFTER_ATTACK_MS;
    let attacked = listen(gateway, medium, SCANNER.scan_window_ms, scan.mark, deadline).await;
    attacked.check(
        OUT_OF_RANGE,
        checks,
        "after a forged and a replayed Configure",
    );
    checks.check(
        "a forged and a replayed Configure are not applied",
        attacked.hellos == 0 && attacked.batches > 0,
    );
    checks.check(
        "Status counts both as rejected",
        attacked.last_status.is_some_and(|s| s.frames_rejected >= 2),
    );

    gateway.configure(BEACON).await;
    let beacon = hello(gateway, time).await;
    checks.check(
        "Configure turns it into a beacon",
        beacon.is_some_and(|h| h.role == Role::Beacon),
    );
    watch_beacon(gateway, medium, time, checks).await;
}

/// Watches the beacon for [`BEACON_MS`] and checks what it sent.
async fn watch_beacon(
    gateway: &mut Gateway<'_, '_>,
    medium: &Medium<PHONES>,
    time: &SimTime,
    checks: &mut Checks,
) {
    let from_us = time.now_us();
    let _ = listen(
        gateway,
        medium,
        0,
        medium.delivered(),
        time.now_ms() + BEACON_MS,
    )
    .await;
    check_beacon(medium, from_us, &BEACON, checks);
}

async fn second_boot(
    gateway: &mut Gateway<'_, '_>,
    medium: &Medium<PHONES>,
    time: &SimTime,
    checks: &mut Checks,
) {
    let last_counter = gateway.guard.last();
    let hello = hello(gateway, time).await;
    checks.check(
        "after the power cut it says Hello under the key it was given, its counter past every one it used",
        hello.is_some_and(|h| h.node_id == NODE_ID) && gateway.guard.last() > last_counter,
    );
    checks.check(
        "it kept its configuration: still a beacon",
        hello.is_some_and(|h| h.role == Role::Beacon),
    );
    watch_beacon(gateway, medium, time, checks).await;
}
