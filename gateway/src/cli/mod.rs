//! Subcommands of `aisle`, each with its
//! arguments (clap) and a `main` that prints as the binary does, so
//! `main.rs` stays a list of commands.

pub mod calibrate;
pub mod console;
pub mod node;
pub mod replay;
pub mod scan;
pub mod serve;
