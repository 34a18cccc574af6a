//! The tokio adapter (feature `tokio`): a POP3 server over a [`mailstore::MailStore`] and a
//! [`mailstore::Directory`], with plain (STLS) and implicit-TLS listeners.
//!
//! The adapter owns sockets, TLS and timers; every protocol decision is the
//! [`ServerSession`](crate::server::ServerSession)'s, and every storage decision the
//! [`Pop3Server`]'s.

mod client;
mod poll;
#[cfg(feature = "tokio-server")]
mod service;

pub use client::{Client, ClientConfig, ClientError, Security};
pub use poll::{poll_once, DirectorySink, MessageSink, PollConfig, PollReport, UidlMemory};
#[cfg(feature = "tokio-server")]
pub use service::{Pop3Server, Pop3ServerBuilder, Pop3ServerConfig};

/// The rustls this crate is built with, for the `ServerConfig` and `ClientConfig` its servers
/// and clients take (or build them from PEM files with `mail_session::tls`).
pub use rustls;
