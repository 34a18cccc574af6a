//! Test and bench support of the mail crate family, and nothing else.
//!
//! This crate is a dev-dependency of the library crates and a dependency of `mail-benches`
//! only; it never takes part in a library crate's normal build, and it depends on none of the
//! mail crates (so that every one of them can use it without a cycle).
//!
//! Each module owns one thing:
//!
//! - [`programs`]: finding a program, and the rule for a missing one (skip locally, fail when
//!   `CI=true`).
//! - [`ports`]: a free loopback port, and waiting for a listener.
//! - [`process`]: signals, stopping a child (SIGTERM, then SIGKILL), a process tree from /proc.
//! - [`memory`]: sampling the RSS (and PSS) of a process or a process tree.
//! - [`dovecot`]: a private Dovecot instance (its configuration, start, logs, stop on drop).
//! - [`postfix`]: a private Postfix instance (its configuration, start, logs, stop on drop).
#![warn(missing_docs)]

pub mod dovecot;
pub mod memory;
pub mod ports;
pub mod postfix;
pub mod process;
pub mod programs;
