//! POP3 for the mail crate family: types, a streaming codec, Sans-IO server and client
//! sessions, and (feature `tokio`) a server over a [`mailstore`](https://docs.rs/mailstore)
//! store, a client, and a polling helper.
//!
//! Features: `tokio-client` (the client and the polling helper: no mailstore, no password
//! hashing), `tokio-server` (the server over a mailstore), `tokio` (both). Without them the
//! crate is the codec and the Sans-IO sessions only.
//!
//! ```text
//!  types ── parse (nom) ── encode          no IO, no clock, no tokio
//!    │
//!  server::ServerSession   client::ClientSession      mail_session::Session: bytes in,
//!    │                        │                        one Progress step out, time passed in
//!  tokio::Pop3Server        tokio::Client ── tokio::poll_once (UIDL memory, sinks)
//!    (service over MailStore + Directory; STLS and implicit TLS; login throttle)
//! ```
//!
//! # Standards
//! RFC 1939 (every command), RFC 2449 (CAPA, response codes, 255-octet commands, PIPELINING),
//! RFC 2595 (STLS), RFC 5034 (AUTH with SASL PLAIN and LOGIN, initial response, `*` cancel),
//! RFC 3206 (`[SYS/TEMP]`, `[SYS/PERM]`, `[AUTH]`), RFC 6856 (UTF8, `[UTF8]`), RFC 8314
//! (implicit TLS).
//!
//! The server session enforces the RFC 1939 state machine: deletions only at QUIT in
//! TRANSACTION (a dropped connection or the inactivity timer deletes nothing); message numbers
//! and sizes fixed for the session; passwords refused before TLS unless the options allow it
//! (`USER` and SASL are then not even announced, RFC 2595 section 4); anything read after STLS
//! is discarded before the handshake. Bodies stream in both directions with dot-stuffing and
//! un-stuffing; no message is held whole.
//!
//! # Not implemented, and why
//! - **APOP on the server** (RFC 1939 section 7, optional): it needs the clear-text password
//!   on the server, and the directory keeps only argon2 hashes. The greeting therefore carries
//!   no timestamp and `APOP` is answered `-ERR`. The codec parses and encodes `APOP`.
//! - **UTF8 USER** (RFC 6856 section 2.2): it requires SASLprep, which no well-kept crate
//!   provides; `UTF8` is announced without `USER`, and non-ASCII user names are refused, as the
//!   RFC requires of a server that does not announce it.
//! - **LANG** (RFC 6856 section 3) and **LOGIN-DELAY** enforcement: optional; responses carry
//!   English text, and logins are throttled per address instead (failed logins only).
//! - **Surrogate messages** (RFC 6856 section 2.1): a message with UTF-8 header fields is
//!   refused with `-ERR [UTF8]` outside UTF-8 mode, the other alternative the RFC allows.
//!
//! Sizes are exact, as RFC 1939 asks: [`server::MaildropEntry::size`] is the wire size, and
//! the tokio server takes the mailstore's `wire_size` (bare LF counted as CR LF, plus the CR LF
//! added after an unterminated last line).
//!
//! # Semver
//! Option and configuration structs ([`server::Options`], `tokio::Pop3ServerConfig`,
//! `tokio::PollConfig`) are `#[non_exhaustive]`: start from `Default` (or `PollConfig::new`)
//! and assign fields. So are the enums a later RFC can grow ([`types::Command`],
//! [`types::ResponseCode`], [`types::Capability`], the events and errors). One enum is closed
//! on purpose: [`server::MessageProgress`] (more or done).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod encode;
pub mod parse;
pub mod server;
pub mod types;

pub use mail_session::Limits;

#[cfg(any(feature = "tokio-client", feature = "tokio-server"))]
pub mod tokio;

/// The README's examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
