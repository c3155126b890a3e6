//! The firmware core's board traits on a host: time from tokio, the link
//! over any tokio byte stream, steady health readings.
//!
//! With these, [`aisle_firmware::run`] runs unchanged inside the gateway
//! (the demo's scanner nodes) and in `aisle-node-emulator`.

use std::time::{Duration, Instant};

use aisle_firmware::hw::{Clock, Sensors};

/// Waits on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioDelay;

impl embedded_hal_async::delay::DelayNs for TokioDelay {
    async fn delay_ns(&mut self, ns: u32) {
        tokio::time::sleep(Duration::from_nanos(u64::from(ns))).await;
    }
}

/// Milliseconds since the node was made, from the host's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    start: Instant,
}

impl HostClock {
    /// A clock whose zero is now.
    #[must_use]
    pub fn new() -> Self {
        HostClock {
            start: Instant::now(),
        }
    }
}

impl Default for HostClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for HostClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A mains-powered node at room temperature: what a host-built node
/// reports, since it has no battery or die sensor.
#[derive(Debug, Clone, Copy)]
pub struct SteadySensors {
    /// Reported supply, millivolts.
    pub battery_mv: u16,
    /// Reported temperature, hundredths of a degree Celsius.
    pub temperature_centi_c: i16,
}

impl Default for SteadySensors {
    fn default() -> Self {
        SteadySensors {
            battery_mv: 3000,
            temperature_centi_c: 2150,
        }
    }
}

impl Sensors for SteadySensors {
    fn battery_mv(&mut self) -> u16 {
        self.battery_mv
    }

    fn temperature_centi_c(&mut self) -> i16 {
        self.temperature_centi_c
    }
}

/// A status LED nobody sees: counts how often it was lit, which tests read.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingLed {
    /// Times it went from off to on.
    pub flashes: u64,
    on: bool,
}

impl embedded_hal::digital::ErrorType for CountingLed {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for CountingLed {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.on = false;
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        if !self.on {
            self.flashes += 1;
        }
        self.on = true;
        Ok(())
    }
}
