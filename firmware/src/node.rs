//! The node's main loop: the role's radio steps, each run to its end with
//! the link read beside it, and `Status`, batches, commands and the LED
//! handled between steps.

use core::pin::pin;

use aisle_protocol::link::{
    BatchWriter, FirmwareVersion, Hello, MAX_BATCH_ENTRIES_LEN, Message, Role, Status,
};
use embassy_futures::select::{Either, select};
use embedded_hal::digital::OutputPin;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};
use embedded_storage_async::nor_flash::NorFlash;

use crate::beacon::ms_u32;
use crate::hw::{Clock, Radio, Sensors};
use crate::settings::Store;
use crate::state::{State, boot};
use crate::table::{SIGHTING_CAPACITY, Slots};
use crate::uplink::{Command, Uplink};
use crate::{Error, Node};

/// Time between two `Status` frames. A gateway that waits for three missed
/// ones before it calls a node offline knows within half a minute, for a
/// 45-byte frame every 10 s on the link.
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

/// Runs a shelf node until a fatal error, which it returns. Build the
/// future where it stays (see the crate's docs).
pub async fn run<R, Led, D, L, F, C, S>(node: Node<R, Led, D, L, F, C, S>) -> NodeError<R, L, F>
where
    R: Radio,
    Led: OutputPin,
    D: DelayNs,
    L: Read + Write,
    F: NorFlash,
    C: Clock,
    S: Sensors,
{
    // The loop lives in this future itself: awaiting an inner future that
    // owned the node's state made the first poll move all of it (4,775
    // bytes, twice, in the board image) from where it was built into this
    // one.
    let Node {
        radio,
        led,
        delay,
        link,
        flash,
        flash_range,
        clock,
        sensors,
        seed,
    } = node;
    let store = match Store::open(flash, flash_range) {
        Ok(store) => store,
        Err(e) => return Error::Storage(e),
    };
    let mut io = Io {
        radio,
        led,
        delay,
        link,
        store,
        clock,
        sensors,
    };
    // The node's state lives here, in the task's future, and is only ever
    // lent out. Returned from an async fn, its 4.8 KB went through two stack
    // temporaries (a 16,128-byte poll frame); its 3 KiB sighting table,
    // built inside it, through one more. Written in place, the table's
    // slots never touch the stack.
    let mut slots: Slots = [None; SIGHTING_CAPACITY];
    let mut st = State::new(&mut slots, io.clock.now_ms(), seed);
    if let Err(e) = start(&mut st, &mut io).await {
        return e;
    }
    let mut rx = [0u8; READ_CHUNK];
    loop {
        if let Err(e) = step(&mut st, &mut io, &mut rx).await {
            return e;
        }
    }
}

/// The node's peripherals, its settings store among them.
struct Io<R, Led, D, L, F: NorFlash, C, S> {
    radio: R,
    led: Led,
    delay: D,
    link: L,
    store: Store<F>,
    clock: C,
    sensors: S,
}

/// Loads what flash keeps and says `Hello`.
async fn start<R, Led, D, L, F, C, S>(
    st: &mut State<'_>,
    io: &mut Io<R, Led, D, L, F, C, S>,
) -> Result<(), NodeError<R, L, F>>
where
    R: Radio,
    L: Write,
    F: NorFlash,
{
    boot(st, &mut io.store).await?;
    send_hello(st, &mut io.link, &mut io.store).await
}

/// One turn of the node's loop: what is due, then the radio's step or a
/// wait for the link.
async fn step<R, Led, D, L, F, C, S>(
    st: &mut State<'_>,
    io: &mut Io<R, Led, D, L, F, C, S>,
    rx: &mut [u8; READ_CHUNK],
) -> Result<(), NodeError<R, L, F>>
where
    R: Radio,
    Led: OutputPin,
    D: DelayNs,
    L: Read + Write,
    F: NorFlash,
    C: Clock,
    S: Sensors,
{
    let Io {
        radio,
        led,
        delay,
        link,
        store,
        clock,
        sensors,
    } = io;
    let until = duties(st, link, store, led, clock, sensors).await?;
    let now = clock.now_ms();
    let settings = st.record.settings;
    let provisioned = settings.is_provisioned();
    let radio_due = provisioned
        && match settings.role {
            Role::Beacon => now >= st.beacon.next_event_ms(),
            Role::Scanner => settings.scan_window_ms > 0,
        };
    if radio_due {
        // The radio's step runs to its end: a packet is never cut
        // half-way by link traffic. Link bytes are taken meanwhile; a
        // command among them waits for the step.
        let (active, held) = radio_step(st, radio, sensors, clock, link, rx, (now, until)).await?;
        if active.map_err(Error::Radio)? {
            blink(st, led, clock.now_ms());
        }
        if let Some((command, from, to)) = held {
            blink(st, led, clock.now_ms());
            obey(st, link, store, clock, command).await?;
            let rest = rx.get(from..to).unwrap_or_default();
            take_input(st, link, store, led, clock, rest).await?;
        }
        return Ok(());
    }

    // Nothing for the radio until `wake`: wait for it or for the link.
    let wake = if provisioned && settings.role == Role::Beacon {
        until.min(st.beacon.next_event_ms())
    } else {
        until
    };
    let wait = delay.delay_ms(ms_u32(wake.saturating_sub(now)));
    if now < st.link_quiet_until_ms {
        wait.await;
        return Ok(());
    }
    match select(wait, link.read(rx)).await {
        Either::First(()) => {}
        Either::Second(Ok(0)) => return Err(Error::LinkClosed),
        Either::Second(Ok(n)) => {
            let input = rx.get(..n).unwrap_or_default();
            take_input(st, link, store, led, clock, input).await?;
        }
        Either::Second(Err(_)) => {
            link_trouble(&mut st.uplink, &mut st.link_quiet_until_ms, clock.now_ms());
        }
    }
    Ok(())
}

/// One step of the radio's work, run to its end while link bytes are taken
/// and deframed. Returns whether the radio was active and the first command
/// found with the range of `rx` still to read after it.
async fn radio_step<R: Radio, S: Sensors, C: Clock, L: Read, FE>(
    st: &mut State<'_>,
    radio: &mut R,
    sensors: &mut S,
    clock: &C,
    link: &mut L,
    rx: &mut [u8; READ_CHUNK],
    (now, until): (u64, u64),
) -> Result<(Result<bool, R::Error>, Option<(Command, usize, usize)>), Error<R::Error, L::Error, FE>>
{
    let settings = st.record.settings;
    let State {
        beacon,
        scanner,
        uplink,
        link_quiet_until_ms,
        ..
    } = st;
    let mut step = pin!(async {
        match settings.role {
            Role::Beacon => beacon
                .send_event(radio, sensors, &settings, now)
                .await
                .map(|()| true),
            Role::Scanner => {
                scanner
                    .listen(radio, clock, settings.scan_window_ms, until)
                    .await
            }
        }
    });
    let mut held = None;
    let mut link_open = now >= *link_quiet_until_ms;
    let active = loop {
        if held.is_some() || !link_open {
            break step.as_mut().await;
        }
        match select(step.as_mut(), link.read(rx)).await {
            Either::First(active) => break active,
            Either::Second(Ok(0)) => return Err(Error::LinkClosed),
            Either::Second(Ok(n)) => {
                let input = rx.get(..n).unwrap_or_default();
                let (command, rest) = uplink.receive(&settings.key, settings.node_id, input);
                if let Some(command) = command {
                    held = Some((command, n - rest.len(), n));
                }
            }
            Either::Second(Err(_)) => {
                link_trouble(uplink, link_quiet_until_ms, clock.now_ms());
                link_open = false;
            }
        }
    };
    Ok((active, held))
}

/// After a link read error (a UART framing or overrun error): whatever was
/// in flight is damaged, so it is dropped and counted, and the link is left
/// alone for a moment so a link that keeps failing cannot starve the radio.
fn link_trouble(uplink: &mut Uplink, quiet_until_ms: &mut u64, now: u64) {
    uplink.deframer.reset();
    uplink.reject();
    *quiet_until_ms = now.saturating_add(LINK_ERROR_PAUSE_MS);
}

/// Deframes and opens `input` and carries out every command in it.
async fn take_input<L: Write, F: NorFlash, Led: OutputPin, C: Clock, RE>(
    st: &mut State<'_>,
    link: &mut L,
    store: &mut Store<F>,
    led: &mut Led,
    clock: &C,
    mut input: &[u8],
) -> Result<(), Error<RE, L::Error, F::Error>> {
    while !input.is_empty() {
        let key = st.record.settings.key;
        let id = st.record.settings.node_id;
        let (command, rest) = st.uplink.receive(&key, id, input);
        input = rest;
        if let Some(command) = command {
            blink(st, led, clock.now_ms());
            obey(st, link, store, clock, command).await?;
        }
    }
    Ok(())
}

/// What is due between two radio steps: `Status`, the closing window's
/// batches, the LED going dark. Returns when the next of them is due.
async fn duties<L: Write, F: NorFlash, Led: OutputPin, C: Clock, S: Sensors, RE>(
    st: &mut State<'_>,
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
        st.status_due_ms = st
            .status_due_ms
            .saturating_add(STATUS_INTERVAL_MS)
            .max(now.saturating_add(1));
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
    st: &mut State<'_>,
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
            // Under a new key both counters start over. Under the key it
            // already holds (a gateway repeating itself) they go on: starting
            // over would reuse counters under one key.
            let same_key = provision.key == st.record.settings.key;
            st.record.settings.node_id = provision.node_id;
            st.record.settings.key = provision.key;
            if !same_key {
                st.record.downlink_last = 0;
            }
            store.set_record(&st.record).await.map_err(Error::Storage)?;
            if same_key {
                st.uplink.rename(provision.key, provision.node_id);
            } else {
                st.uplink.rekey(store, &st.record).await?;
            }
            st.scanner.start_window(now);
            st.beacon.restart(now);
        }
    }
    send_hello(st, link, store).await
}

async fn send_hello<L: Write, F: NorFlash, RE>(
    st: &mut State<'_>,
    link: &mut L,
    store: &mut Store<F>,
) -> Result<(), Error<RE, L::Error, F::Error>> {
    let settings = &st.record.settings;
    let hello = Message::Hello(Hello {
        node_id: settings.node_id,
        firmware: FIRMWARE,
        role: settings.role,
        downlink_last: Some(st.record.downlink_last),
    });
    st.uplink.send(link, store, &hello).await
}

async fn send_status<L: Write, F: NorFlash, C: Clock, S: Sensors, RE>(
    st: &mut State<'_>,
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
        crc_failures: Some(counters.crc_errors),
    });
    st.uplink.send(link, store, &status).await
}

/// Sends the closing window's aggregates in as many batches as they need.
async fn send_batches<L: Write, F: NorFlash, RE>(
    st: &mut State<'_>,
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

fn blink<Led: OutputPin>(st: &mut State<'_>, led: &mut Led, now: u64) {
    let _ = led.set_high();
    st.led_off_ms = Some(now.saturating_add(LED_BLINK_MS));
}
