//! Shelf nodes run on the host: the firmware core ([`aisle_firmware`])
//! with host implementations of its board traits ([`host`]) and the
//! simulated store's air as its radio ([`medium`]).

pub mod emulator;
pub mod file_flash;
pub mod fleet;
pub mod host;
pub mod medium;
pub mod serial_link;
