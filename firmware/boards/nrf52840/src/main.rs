//! Aisle's shelf node on an nRF52840 board: peripheral set-up, then the
//! portable core (`aisle_firmware::run`). Nothing else lives here.
#![no_std]
#![no_main]

mod board;
mod radio;

use core::pin::pin;

use aisle_firmware::Node;
use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_executor::Spawner;
use embassy_nrf::buffered_uarte::{self, BufferedUarte};
use embassy_nrf::config::{Config, HfclkSource};
use embassy_nrf::gpio::{Level, Output, OutputDrive};
use embassy_nrf::nvmc::Nvmc;
use embassy_nrf::saadc::{self, ChannelConfig, Saadc, VddInput};
use embassy_nrf::temp::{self, Temp};
use embassy_nrf::{bind_interrupts, peripherals, uarte};
use embassy_time::Delay;

use crate::board::{ActiveLowLed, DieSensors, Uptime};
use crate::radio::BleRadio;

/// Settings live in the last flash pages before whatever owns the end of
/// flash; memory.x keeps the image out of them. Four 4 KiB pages give
/// sequential-storage room to spread its erases.
#[cfg(not(feature = "dongle"))]
const SETTINGS: core::ops::Range<u32> = 0x000F_C000..0x0010_0000;
/// On the dongle Nordic's bootloader starts at 0xE0000.
#[cfg(feature = "dongle")]
const SETTINGS: core::ops::Range<u32> = 0x000D_C000..0x000E_0000;

/// Frames are at most a few hundred bytes; the receive buffer holds two so
/// the core can be busy with the radio while the next one arrives.
const LINK_RX_BUFFER: usize = 512;
const LINK_TX_BUFFER: usize = 256;

bind_interrupts!(struct Irqs {
    RADIO => radio::InterruptHandler;
    UARTE0 => buffered_uarte::InterruptHandler<peripherals::UARTE0>;
    TEMP => temp::InterruptHandler;
    SAADC => saadc::InterruptHandler;
});

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    // One task: the node's loop runs in this one.
    let _ = spawner;
    let mut config = Config::default();
    config.hfclk_source = HfclkSource::ExternalXtal;
    let p = embassy_nrf::init(config);

    // The factory-programmed device id: the beacon's static random address
    // is drawn from the seed, and must stay the same across restarts.
    let ficr = embassy_nrf::pac::FICR;
    let seed = u64::from(ficr.deviceid(0).read()) | u64::from(ficr.deviceid(1).read()) << 32;
    let radio = BleRadio::new(p.RADIO, Irqs);

    // The DK's LED1 is P0.13 and its J-Link serial port is P0.06 (TX),
    // P0.08 (RX). The dongle's green LED is P0.06; its link runs on P0.20
    // (TX) and P0.24 (RX) to a USB-serial adapter.
    #[cfg(not(feature = "dongle"))]
    let (led_pin, txd, rxd) = (p.P0_13, p.P0_06, p.P0_08);
    #[cfg(feature = "dongle")]
    let (led_pin, txd, rxd) = (p.P0_06, p.P0_20, p.P0_24);
    let led = ActiveLowLed(Output::new(led_pin, Level::High, OutputDrive::Standard));

    let mut rx_buffer = [0_u8; LINK_RX_BUFFER];
    let mut tx_buffer = [0_u8; LINK_TX_BUFFER];
    let link = BufferedUarte::new(
        p.UARTE0,
        p.TIMER1,
        p.PPI_CH0,
        p.PPI_CH1,
        p.PPI_GROUP0,
        rxd,
        txd,
        Irqs,
        uarte::Config::default(),
        &mut rx_buffer,
        &mut tx_buffer,
    );

    let saadc = Saadc::new(
        p.SAADC,
        Irqs,
        saadc::Config::default(),
        [ChannelConfig::single_ended(VddInput)],
    );
    saadc.calibrate().await;
    let sensors = DieSensors {
        temp: Temp::new(p.TEMP, Irqs),
        saadc,
    };

    let node = Node {
        radio,
        led,
        delay: Delay,
        link,
        flash: BlockingAsync::new(Nvmc::new(p.NVMC)),
        flash_range: SETTINGS,
        clock: Uptime,
        sensors,
        seed,
    };
    // The core returns only on a fault it cannot recover from; a node in a
    // store has no one to read an error, so it starts again.
    //
    // `pin!` builds the core's future (4.7 KB) where it stays; awaited as a
    // value it was moved twice through this poll's stack frame (9,664 bytes
    // where it is now 1,396).
    let _fault = pin!(aisle_firmware::run(node)).await;
    cortex_m::peripheral::SCB::sys_reset();
}

/// A panic restarts the node: it is unattended, and panic messages would
/// pull `core::fmt` into the image (the size budget is 64 KiB).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}
