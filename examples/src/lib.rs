//! The example servers and clients of the mail crate family.
//!
//! The `mail-server` binary is the operator's entry point; this library holds its parts so
//! that tests can drive them: [`config`] (the TOML configuration, every key documented in
//! `mail-server.example.toml`) and [`server`] (start-up: data folder, users file, certificate,
//! demo account, listeners, shutdown), and [`remote`] (reaching another server: trust store,
//! address, password).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod remote;
pub mod server;
