//! Aisle's node firmware core on a Cortex-M4, under QEMU's mps2-an386.
//!
//! The same `aisle_firmware::run` that the nRF52840 board runs, built for
//! thumbv7em-none-eabihf with the board's release profile, meets a simulated
//! store: phones advertising with path loss, fading and bit errors, a flash
//! in RAM and a gateway at the other end of an in-memory link. A scripted
//! session provisions the node, configures it as a scanner, checks what it
//! reports, attacks its link, makes it a beacon, cuts its power and checks
//! what it kept. It prints `N passed, N failed`, the stack high-water mark,
//! and exits through semihosting with 0 when every check passed.
#![no_std]
#![no_main]

mod gateway;
mod observe;
mod script;
mod sim;

use cortex_m as _; // The critical-section implementation comes from here.
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;
use panic_semihosting as _;

/// Counts the session's checks and prints each one.
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    const fn new() -> Self {
        Self {
            passed: 0,
            failed: 0,
        }
    }

    /// Records one check; `what` says what was expected.
    pub fn check(&mut self, what: &str, ok: bool) {
        if ok {
            self.passed += 1;
            hprintln!("ok   {}", what);
        } else {
            self.failed += 1;
            hprintln!("FAIL {}", what);
        }
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut checks = Checks::new();
    script::session(spawner, &mut checks).await;
    let stack = stack_use();
    hprintln!(
        "stack high-water mark: {} of {} bytes",
        stack.deepest,
        stack.size
    );
    checks.check(
        "the stack never reached its end",
        stack.deepest < stack.size,
    );
    hprintln!("{} passed, {} failed", checks.passed, checks.failed);
    debug::exit(if checks.failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
}

struct StackUse {
    size: usize,
    deepest: usize,
}

unsafe extern "C" {
    /// Top of the stack (its first word is just below), from cortex-m-rt's `link.x`.
    static _stack_start: u32;
    /// Bottom of the stack: the end of `.bss` and `.uninit`.
    static _stack_end: u32;
}

/// How deep the stack went: cortex-m-rt painted it with `STACK_PAINT_VALUE`
/// before `main`; the lowest word that no longer holds it is the deepest the
/// run reached.
fn stack_use() -> StackUse {
    let top = (&raw const _stack_start) as usize;
    let bottom = (&raw const _stack_end) as usize;
    let mut word = bottom;
    while word < top {
        // SAFETY: `bottom..top` is the stack region the linker laid out,
        // word-aligned (cortex-m-rt asserts it), and reading a word of it
        // races with nothing on this single core.
        let value = unsafe { core::ptr::read_volatile(word as *const u32) };
        if value != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        word += 4;
    }
    StackUse {
        size: top - bottom,
        deepest: top - word,
    }
}
