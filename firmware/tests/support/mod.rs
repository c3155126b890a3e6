//! A simulated shop floor for the node core: virtual time, a radio medium
//! with path loss and noise, a link to a gateway that uses the protocol's
//! gateway-side API, and a plain executor that jumps time forward whenever
//! every future waits.
#![allow(dead_code, unused_imports)] // Each test file uses part of it.

pub mod air;
pub mod gateway;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use aisle_firmware::hw::{Clock, Radio, Reception, Sensors, air_time_us};
use aisle_firmware::protocol::ll::Channel;
use aisle_firmware::ram_flash::RamFlash;
use aisle_firmware::{Error, Node};

pub use air::{AirPacket, Emitter, Medium};
pub use gateway::{Gateway, Heard, OwnedSighting};

/// Time one byte takes on the link: 10 bits at 115200 baud.
pub const UART_BYTE_US: u64 = 87;

/// Flash for a node: 16 KiB, four pages.
pub type Flash = RamFlash<16384>;
/// The range of it the node uses.
pub const FLASH_RANGE: core::ops::Range<u32> = 0..16384;

/// Everything shared between the node's peripherals and the test script.
pub struct World {
    /// Virtual time, µs.
    pub now_us: u64,
    /// Deadlines futures are waiting for, gathered during one poll.
    wakeups: Vec<u64>,
    pub medium: Medium,
    /// Bytes the gateway sent, not yet read by the node, each with the
    /// time it has arrived in full at the node's UART.
    pub to_node: VecDeque<(u64, u8)>,
    /// Bytes the node wrote.
    pub from_node: Vec<u8>,
    /// Read errors still to deliver to the node, one per read.
    pub link_read_errors: u32,
    /// Ends the link: the node's next read returns 0 bytes.
    pub link_closed: bool,
    /// What the node's radio sent in full: (start µs, channel, tx power, air bytes).
    pub transmitted: Vec<(u64, Channel, i8, Vec<u8>)>,
    /// What the node's radio received: (µs, channel, RSSI, air bytes).
    pub received: Vec<(u64, Channel, i8, Vec<u8>)>,
    /// Receive calls the node made.
    pub receive_calls: u32,
    /// LED changes: (µs, lit).
    pub led: Vec<(u64, bool)>,
    /// Bumped by everything that can unblock another future without time
    /// passing (link bytes moving), so the executor polls again before it
    /// moves the clock.
    pub activity: u64,
}

/// A handle to the world.
#[derive(Clone)]
pub struct Sim(pub Rc<RefCell<World>>);

impl Sim {
    pub fn new(medium: Medium) -> Self {
        Self(Rc::new(RefCell::new(World {
            now_us: 0,
            wakeups: Vec::new(),
            medium,
            to_node: VecDeque::new(),
            from_node: Vec::new(),
            link_read_errors: 0,
            link_closed: false,
            transmitted: Vec::new(),
            received: Vec::new(),
            receive_calls: 0,
            led: Vec::new(),
            activity: 0,
        })))
    }

    pub fn now_us(&self) -> u64 {
        self.0.borrow().now_us
    }

    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    /// Resolves once virtual time reaches `at_us`.
    pub fn sleep_until(&self, at_us: u64) -> Sleep {
        Sleep {
            sim: self.clone(),
            at_us,
        }
    }

    pub fn sleep_ms(&self, ms: u64) -> Sleep {
        self.sleep_until(self.now_us() + ms * 1000)
    }

    /// Drives `future` to completion on virtual time, at most until `limit_ms`.
    pub fn block_on<T>(&self, future: impl Future<Output = T>, limit_ms: u64) -> T {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            let before = {
                let mut w = self.0.borrow_mut();
                w.wakeups.clear();
                w.activity
            };
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            let mut w = self.0.borrow_mut();
            if w.activity != before {
                continue;
            }
            let next = w.wakeups.iter().copied().min();
            let next = next.expect("simulation stalled: nothing waits on time");
            assert!(
                next / 1000 <= limit_ms,
                "simulation passed its limit of {limit_ms} ms"
            );
            w.now_us = w.now_us.max(next);
        }
    }

    /// Runs `node` beside `script` until the script ends; returns the
    /// script's output, or the node's error if it stopped first.
    pub fn run_node<T>(
        &self,
        node: SimNode<'_>,
        script: impl Future<Output = T>,
        limit_ms: u64,
    ) -> Result<T, NodeError> {
        use embassy_futures::select::{Either, select};
        let out = self.block_on(select(aisle_firmware::run(node), script), limit_ms);
        match out {
            Either::First(e) => Err(e),
            Either::Second(t) => Ok(t),
        }
    }

    /// A node on this world at `position` (metres), using `flash`.
    pub fn node<'f>(&self, flash: &'f mut Flash, position: (f64, f64), seed: u64) -> SimNode<'f> {
        Node {
            radio: SimRadio {
                sim: self.clone(),
                position,
            },
            led: SimLed { sim: self.clone() },
            delay: SimDelay { sim: self.clone() },
            link: SimLink { sim: self.clone() },
            flash,
            flash_range: FLASH_RANGE,
            clock: SimClock { sim: self.clone() },
            sensors: SimSensors,
            seed,
        }
    }
}

pub type SimNode<'f> =
    Node<SimRadio, SimLed, SimDelay, SimLink, &'f mut Flash, SimClock, SimSensors>;
pub type NodeError =
    Error<Infallible, embedded_io_async::ErrorKind, aisle_firmware::ram_flash::RamFlashError>;

/// A future that waits for virtual time.
pub struct Sleep {
    sim: Sim,
    at_us: u64,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let mut w = self.sim.0.borrow_mut();
        if w.now_us >= self.at_us {
            Poll::Ready(())
        } else {
            w.wakeups.push(self.at_us);
            Poll::Pending
        }
    }
}

/// A future that waits until `ready` says so, re-checked at every poll.
struct Until<F: FnMut() -> bool>(F);

impl<F: FnMut() -> bool + Unpin> Future for Until<F> {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if (self.0)() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

pub struct SimClock {
    sim: Sim,
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.sim.now_ms()
    }
}

pub struct SimDelay {
    sim: Sim,
}

impl embedded_hal_async::delay::DelayNs for SimDelay {
    async fn delay_ns(&mut self, ns: u32) {
        let at = self.sim.now_us() + u64::from(ns).div_ceil(1000);
        self.sim.sleep_until(at).await;
    }
}

pub struct SimLed {
    sim: Sim,
}

impl embedded_hal::digital::ErrorType for SimLed {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for SimLed {
    fn set_low(&mut self) -> Result<(), Infallible> {
        let mut w = self.sim.0.borrow_mut();
        let now = w.now_us;
        w.led.push((now, false));
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        let mut w = self.sim.0.borrow_mut();
        let now = w.now_us;
        w.led.push((now, true));
        Ok(())
    }
}

/// Fixed health readings: 2.95 V, 21.50 °C.
pub struct SimSensors;

pub const BATTERY_MV: u16 = 2950;
pub const TEMPERATURE_CENTI_C: i16 = 2150;

impl Sensors for SimSensors {
    fn battery_mv(&mut self) -> u16 {
        BATTERY_MV
    }

    fn temperature_centi_c(&mut self) -> i16 {
        TEMPERATURE_CENTI_C
    }
}

/// The node's end of the link.
pub struct SimLink {
    sim: Sim,
}

impl embedded_io_async::ErrorType for SimLink {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for SimLink {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        loop {
            let next_arrival = {
                let mut w = self.sim.0.borrow_mut();
                if w.link_read_errors > 0 {
                    w.link_read_errors -= 1;
                    return Err(embedded_io_async::ErrorKind::InvalidData);
                }
                let now = w.now_us;
                let arrived = w.to_node.iter().take_while(|(t, _)| *t <= now).count();
                if arrived > 0 || (w.link_closed && w.to_node.is_empty()) {
                    w.activity += 1;
                    let n = arrived.min(buf.len());
                    for (slot, (_, b)) in buf.iter_mut().zip(w.to_node.drain(..n)) {
                        *slot = b;
                    }
                    return Ok(n);
                }
                w.to_node.front().map(|(t, _)| *t)
            };
            if let Some(at) = next_arrival {
                self.sim.sleep_until(at).await;
            } else {
                let sim = self.sim.clone();
                Until(move || {
                    let w = sim.0.borrow();
                    !w.to_node.is_empty() || w.link_read_errors > 0 || w.link_closed
                })
                .await;
            }
        }
    }
}

impl embedded_io_async::Write for SimLink {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut w = self.sim.0.borrow_mut();
        w.from_node.extend_from_slice(buf);
        w.activity += 1;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The node's radio on the medium.
pub struct SimRadio {
    sim: Sim,
    position: (f64, f64),
}

impl Radio for SimRadio {
    type Error = Infallible;

    async fn transmit(
        &mut self,
        channel: Channel,
        tx_power_dbm: i8,
        air: &[u8],
    ) -> Result<(), Infallible> {
        // A packet counts once it is on the air in full: a transmission
        // dropped half-way (its future cancelled) never reaches anyone.
        let start = self.sim.now_us();
        self.sim.sleep_until(start + air_time_us(air.len())).await;
        let mut w = self.sim.0.borrow_mut();
        w.transmitted
            .push((start, channel, tx_power_dbm, air.to_vec()));
        Ok(())
    }

    async fn receive(
        &mut self,
        channel: Channel,
        timeout_us: u32,
        buf: &mut [u8],
    ) -> Result<Option<Reception>, Infallible> {
        let (start, deadline) = {
            let mut w = self.sim.0.borrow_mut();
            w.receive_calls += 1;
            (w.now_us, w.now_us + u64::from(timeout_us))
        };
        let heard =
            self.sim
                .0
                .borrow_mut()
                .medium
                .first_heard(channel, start, deadline, self.position);
        let Some((packet_start, bytes, rssi)) = heard else {
            self.sim.sleep_until(deadline).await;
            return Ok(None);
        };
        self.sim
            .sleep_until(packet_start + air_time_us(bytes.len()))
            .await;
        let len = bytes.len().min(buf.len());
        buf[..len].copy_from_slice(&bytes[..len]);
        let mut w = self.sim.0.borrow_mut();
        let now = w.now_us;
        w.received.push((now, channel, rssi, bytes[..len].to_vec()));
        Ok(Some(Reception {
            len,
            rssi_dbm: rssi,
        }))
    }
}
