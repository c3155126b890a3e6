//! The node's RAM: its whole state lives in the future `run` returns, which
//! a board keeps in a static task. The smallest target chip (nRF52810) has
//! 24 KiB of RAM for that, the stack and the board's own buffers.

mod support;

use support::{Flash, Medium, Sim};

/// Half the smallest chip's RAM: the other half is stack and board.
const BUDGET: usize = 12 * 1024;

#[test]
fn a_running_node_fits_half_the_smallest_chips_ram() {
    let sim = Sim::new(Medium::new(1));
    let mut flash = Flash::new();
    let node = sim.node(&mut flash, (0.0, 0.0), 1);
    let future = aisle_firmware::run(node);
    let bytes = size_of_val(&future);
    println!("node future: {bytes} bytes (host build)");
    assert!(bytes < BUDGET, "{bytes} bytes");
}
