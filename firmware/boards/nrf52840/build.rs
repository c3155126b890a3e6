//! Puts the memory layout of the chosen board where cortex-m-rt's `link.x`
//! looks for `memory.x`.
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let layout = if env::var_os("CARGO_FEATURE_DONGLE").is_some() {
        "memory-dongle.x"
    } else {
        "memory-dk.x"
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(layout, out.join("memory.x")).expect("the memory layout is beside Cargo.toml");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-dk.x");
    println!("cargo:rerun-if-changed=memory-dongle.x");
}
