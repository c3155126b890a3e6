//! Subcommands of `aisle` that run the pipeline offline, each with its
//! arguments (clap) and a `main` that prints as the binary does, so
//! `main.rs` stays a list of commands.

pub mod calibrate;
pub mod replay;
