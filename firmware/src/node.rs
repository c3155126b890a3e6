//! The node's main loop: one role's radio work raced against the link, with
//! `Status`, batches and the LED handled between steps.

use core::convert::Infallible;

use aisle_protocol::link::{
    BatchWriter, FirmwareVersion, Hello, MAX_BATCH_ENTRIES_LEN, Message, Role, Status,
};
use aisle_protocol::ll::{AddressType, DeviceAddress};
use embassy_futures::select::{Either, select};
use embedded_hal::digital::OutputPin;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};
use embedded_storage_async::nor_flash::NorFlash;

use crate::beacon::{Beacon, ms_u32};
use crate::hw::{Clock, Radio, Sensors};
use crate::rng::Prng;
use crate::scanner::Scanner;
use crate::settings::{Record, Settings, StorageError, Store};
use crate::uplink::{Command, Uplink};
use crate::{Error, Node};

/// Seconds between two `Status` frames. The gateway calls a node offline
/// after three missed ones, so 10 s finds a dead node within half a minute
/// for 24 bytes every 10 s on the link.
pub const STATUS_INTERVAL_MS: u64 = 10_000;

/// How long the LED stays lit for one burst of activity.
pub const LED_BLINK_MS: u64 = 20;

/// How long the node leaves the link alone after a read error (a framing
/// or overrun error on a UART), so a link that keeps failing cannot starve
/// the radio.
pub const LINK_ERROR_PAUSE_MS: u64 = 100;

/// Bytes taken from the link per read: a UART's receive buffer's worth.
const READ_CHUNK: usize = 64;

/// This firmware's release, as `Hello` reports it.
pub const FIRMWARE: FirmwareVersion = FirmwareVersion {
    major: parse_u8(env!("CARGO_PKG_VERSION_MAJOR")),
    minor: parse_u8(env!("CARGO_PKG_VERSION_MINOR")),
    patch: parse_u8(env!("CARGO_PKG_VERSION_PATCH")),
};

const fn parse_u8(digits: &str) -> u8 {
    let bytes = digits.as_bytes();
    let mut value: u8 = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value
            .saturating_mul(10)
            .saturating_add(bytes[i].saturating_sub(b'0'));
        i += 1;
    }
    value
}

type NodeError<R, L, F> = Error<
    <R as Radio>::Error,
    <L as embedded_io_async::ErrorType>::Error,
    <F as embedded_storage_async::nor_flash::ErrorType>::Error,
>;

/// Everything the loop keeps between steps.
struct State {
    record: Record,
    uplink: Uplink,
    scanner: Scanner,
    beacon: Beacon,
    status_due_ms: u64,
    led_off_ms: Option<u64>,
    link_quiet_until_ms: u64,
}

pub(crate) async fn serve<R, Led, D, L, F, C, S>(
    node: Node<R, Led, D, L, F, C, S>,
) -> Result<Infallible, NodeError<R, L, F>>
where
    R: Radio,
    Led: OutputPin,
    D: DelayNs,
    L: Read + Write,
    F: NorFlash,
    C: Clock,
    S: Sensors,
{
    let Node {
        mut radio,
        mut led,
        mut delay,
        mut link,
        flash,
        flash_range,
        clock,
        mut sensors,
        seed,
    } = node;
    let mut store = Store::open(flash, flash_range).map_err(Error::Storage)?;
    let mut st = boot(&mut store, clock.now_ms(), seed).await?;
    send_hello(&mut st, &mut link, &mut store).await?;

    let mut rx = [0u8; READ_CHUNK];
    loop {
        let until = duties(
            &mut st,
            &mut link,
            &mut store,
            &mut led,
            &clock,
            &mut sensors,
        )
        .await?;
        let now = clock.now_ms();
        let settings = st.record.settings;
        let role_step = async {
            if !settings.is_provisioned() {
                delay.delay_ms(ms_u32(until.saturating_sub(now))).await;
                return Ok(false);
            }
            match settings.role {
                Role::Beacon => {
                    st.beacon
                        .step(
                            &mut radio,
                            &mut delay,
                            &clock,
                            &mut sensors,
                            &settings,
                            until,
                        )
                        .await
                }
                Role::Scanner => {
                    st.scanner
                        .step(
                            &mut radio,
                            &mut delay,
                            &clock,
                            settings.scan_window_ms,
                            until,
                        )
                        .await
                }
            }
        };
        let outcome = if now < st.link_quiet_until_ms {
            Either::First(role_step.await)
        } else {
            select(role_step, link.read(&mut rx)).await
        };
        match outcome {
            Either::First(active) => {
                if active.map_err(Error::Radio)? {
                    blink(&mut st, &mut led, clock.now_ms());
                }
            }
            Either::Second(Ok(0)) => return Err(Error::LinkClosed),
            Either::Second(Ok(n)) => {
                let mut input = rx.get(..n).unwrap_or_default();
                while !input.is_empty() {
                    let key = st.record.settings.key;
                    let id = st.record.settings.node_id;
                    let (command, rest) = st.uplink.receive(&key, id, input);
                    input = rest;
                    if let Some(command) = command {
                        blink(&mut st, &mut led, clock.now_ms());
                        obey(&mut st, &mut link, &mut store, &clock, command).await?;
                    }
                }
            }
            Either::Second(Err(_)) => {
                // Whatever was in flight is damaged: drop it and count it.
                st.uplink.deframer.reset();
                st.uplink.reject();
                st.link_quiet_until_ms = clock.now_ms() + LINK_ERROR_PAUSE_MS;
            }
        }
    }
}

/// Loads what flash keeps and sets the node up from it.
async fn boot<F: NorFlash, RE, LE>(
    store: &mut Store<F>,
    now: u64,
    seed: u64,
) -> Result<State, Error<RE, LE, F::Error>> {
    let factory = Record {
        settings: Settings::FACTORY,
        downlink_last: 0,
    };
    let record = match store.record().await {
        Ok(record) => record.unwrap_or(factory),
        // Not ours, or damaged beyond the store's own repair: a node that
        // starts unprovisioned can be provisioned again; one that refuses
        // to start cannot.
        Err(StorageError::Corrupted) => {
            store.erase().await.map_err(Error::Storage)?;
            factory
        }
        Err(e) => return Err(Error::Storage(e)),
    };
    let counter_mark = store.counter_mark().await.map_err(Error::Storage)?;
    let mut rng = Prng::new(seed);
    Ok(State {
        uplink: Uplink::new(&record, counter_mark),
        record,
        scanner: Scanner::new(now),
        beacon: Beacon::new(static_random_address(rng.next_u64()), rng.next_u64(), now),
        status_due_ms: now + STATUS_INTERVAL_MS,
        led_off_ms: None,
        link_quiet_until_ms: 0,
    })
}

/// What is due between two radio steps: `Status`, the closing window's
/// batches, the LED going dark. Returns when the next of them is due.
async fn duties<L: Write, F: NorFlash, Led: OutputPin, C: Clock, S: Sensors, RE>(
    st: &mut State,
    link: &mut L,
    store: &mut Store<F>,
    led: &mut Led,
    clock: &C,
    sensors: &mut S,
) -> Result<u64, Error<RE, L::Error, F::Error>> {
    let now = clock.now_ms();
    let settings = st.record.settings;
    let scanning = settings.is_provisioned() && settings.role == Role::Scanner;
    if now >= st.status_due_ms {
        send_status(st, link, store, clock, sensors).await?;
        st.status_due_ms = (st.status_due_ms + STATUS_INTERVAL_MS).max(now + 1);
    }
    if scanning && now >= st.scanner.window_end_ms(settings.scan_window_ms) {
        if settings.scan_window_ms > 0 {
            send_batches(st, link, store, settings.scan_window_ms).await?;
        }
        st.scanner.start_window(now);
    }
    if let Some(off) = st.led_off_ms
        && now >= off
    {
        // A failing LED is no reason to stop: the node works without it.
        let _ = led.set_low();
        st.led_off_ms = None;
    }
    let mut until = st.status_due_ms;
    if scanning && settings.scan_window_ms > 0 {
        until = until.min(st.scanner.window_end_ms(settings.scan_window_ms));
    }
    if let Some(off) = st.led_off_ms {
        until = until.min(off);
    }
    Ok(until)
}

/// Carries out a command from the gateway, persisting it before it takes
/// effect, and answers with `Hello`.
async fn obey<L: Write, F: NorFlash, C: Clock, RE>(
    st: &mut State,
    link: &mut L,
    store: &mut Store<F>,
    clock: &C,
    command: Command,
) -> Result<(), Error<RE, L::Error, F::Error>> {
    let now = clock.now_ms();
    match command {
        Command::Configure { configure, counter } => {
            if !st.record.settings.is_provisioned() {
                // Anyone can seal under the factory key.
                st.uplink.reject();
                return Ok(());
            }
            let before = st.record.settings;
            st.record.settings.apply(&configure);
            st.record.downlink_last = counter;
            store.set_record(&st.record).await.map_err(Error::Storage)?;
            if before.role != st.record.settings.role
                || before.scan_window_ms != st.record.settings.scan_window_ms
            {
                st.scanner.start_window(now);
                st.beacon.restart(now);
            }
        }
        Command::Provision(provision) => {
            if provision.node_id == aisle_protocol::link::UNPROVISIONED_NODE_ID {
                st.uplink.reject();
                return Ok(());
            }
            st.record.settings.node_id = provision.node_id;
            st.record.settings.key = provision.key;
            st.record.downlink_last = 0;
            store.set_record(&st.record).await.map_err(Error::Storage)?;
            st.uplink.rekey(store, &st.record).await?;
            st.scanner.start_window(now);
            st.beacon.restart(now);
        }
    }
    send_hello(st, link, store).await
}

async fn send_hello<L: Write, F: NorFlash, RE>(
    st: &mut State,
    link: &mut L,
    store: &mut Store<F>,
) -> Result<(), Error<RE, L::Error, F::Error>> {
    let settings = &st.record.settings;
    let hello = Message::Hello(Hello {
        node_id: settings.node_id,
        firmware: FIRMWARE,
        role: settings.role,
    });
    st.uplink.send(link, store, &hello).await
}

async fn send_status<L: Write, F: NorFlash, C: Clock, S: Sensors, RE>(
    st: &mut State,
    link: &mut L,
    store: &mut Store<F>,
    clock: &C,
    sensors: &mut S,
) -> Result<(), Error<RE, L::Error, F::Error>> {
    let counters = st.scanner.counters;
    let status = Message::Status(Status {
        uptime_s: u32::try_from(clock.now_ms() / 1000).unwrap_or(u32::MAX),
        battery_mv: sensors.battery_mv(),
        temperature_centi_c: sensors.temperature_centi_c(),
        adverts_seen: counters.adverts_seen,
        queue_drops: counters.drops,
        frames_rejected: st.uplink.frames_rejected,
    });
    st.uplink.send(link, store, &status).await
}

/// Sends the closing window's aggregates in as many batches as they need.
async fn send_batches<L: Write, F: NorFlash, RE>(
    st: &mut State,
    link: &mut L,
    store: &mut Store<F>,
    window_ms: u16,
) -> Result<(), Error<RE, L::Error, F::Error>> {
    let start = st.scanner.window_start_ms;
    let total = st.scanner.table.len();
    let mut sent = 0;
    while sent < total {
        let mut buf = [0u8; MAX_BATCH_ENTRIES_LEN];
        let mut writer = BatchWriter::new(&mut buf, start);
        for sighting in st.scanner.table.sightings().skip(sent) {
            if writer.push(&sighting).is_err() {
                break;
            }
        }
        if writer.is_empty() {
            // An entry that fits no batch cannot exist (entries are at most
            // MAX_ENTRY_LEN); stop rather than loop.
            break;
        }
        sent += writer.len();
        let batch = writer.finish(window_ms);
        st.uplink
            .send(link, store, &Message::SightingBatch(batch))
            .await?;
    }
    Ok(())
}

fn blink<Led: OutputPin>(st: &mut State, led: &mut Led, now: u64) {
    let _ = led.set_high();
    st.led_off_ms = Some(now + LED_BLINK_MS);
}

/// A static random device address (Core spec v5.4, Vol 6 Part B 1.3.2.1):
/// the two most significant bits set, the rest from `bits`.
fn static_random_address(bits: u64) -> DeviceAddress {
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(bits.to_le_bytes().get(..6).unwrap_or(&[0; 6]));
    // Air order: the last byte is the most significant.
    if let Some(top) = bytes.last_mut() {
        *top |= 0xC0;
    }
    DeviceAddress {
        kind: AddressType::Random,
        bytes,
    }
}
