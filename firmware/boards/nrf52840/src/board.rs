//! The small board pieces the core asks for: the clock, the sensors and the
//! status LED.

use aisle_firmware::hw::{Clock, Sensors};
use embassy_futures::block_on;
use embassy_nrf::gpio::Output;
use embassy_nrf::saadc::Saadc;
use embassy_nrf::temp::Temp;
use embassy_time::Instant;

/// Milliseconds since boot, from embassy-time's RTC1 driver.
pub struct Uptime;

impl Clock for Uptime {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }
}

/// Die temperature (TEMP) and supply voltage (SAADC on VDD).
pub struct DieSensors<'d> {
    pub temp: Temp<'d>,
    pub saadc: Saadc<'d, 1>,
}

impl Sensors for DieSensors<'_> {
    fn battery_mv(&mut self) -> u16 {
        let mut sample = [0_i16; 1];
        // A conversion takes about 40 µs: waiting in place costs less than a
        // task switch, and the core calls this once per Status.
        block_on(self.saadc.sample(&mut sample));
        // Gain 1/6 against the 0.6 V internal reference: 3.6 V full scale over 12 bits.
        let millivolts = u32::from(sample[0].max(0).unsigned_abs()) * 3600 / 4096;
        u16::try_from(millivolts).unwrap_or(u16::MAX)
    }

    fn temperature_centi_c(&mut self) -> i16 {
        // TEMP counts quarter degrees; a measurement takes 36 µs.
        let quarter_degrees = block_on(self.temp.read()).to_bits();
        i16::try_from(quarter_degrees.saturating_mul(25)).unwrap_or(i16::MAX)
    }
}

/// The boards' LEDs light when their pin is low; the core says "on" with
/// `set_high`.
pub struct ActiveLowLed<'d>(pub Output<'d>);

impl embedded_hal::digital::ErrorType for ActiveLowLed<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for ActiveLowLed<'_> {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.set_high();
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.set_low();
        Ok(())
    }
}
