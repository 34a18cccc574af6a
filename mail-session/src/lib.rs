//! What POP3, IMAP4 and SMTP sessions share, written once.
//!
//! ```text
//!            bytes in                       events out                 typed answers
//!  socket ──────────────► Session::enqueue_input   Session::next() ──► Progress::Event ──► application
//!    ▲                                     │                                                  │
//!    └──────── Progress::Output ◄──────────┴──────────── respond(...) / accept / reject ◄─────┘
//! ```
//!
//! The protocol crates (`pop3-proto`, `imap4-proto`, `smtp-submit`) each implement [`Session`]
//! for their server and client state machines. Those state machines do **no IO and read no
//! clock**: the caller hands received bytes in, asks for the next [`Progress`] step, writes what
//! it is given, and passes the current time in. This crate holds the pieces all of them need:
//!
//! - [`session`]: the [`Session`] contract and its rules, the [`Progress`] steps it yields, the
//!   reused [`OutputBuffer`], [`OutOfTurn`] for answers given at the wrong time, and the
//!   [`LoginRejection`] reasons every protocol shares;
//! - [`Limits`]: one value per session with every size limit, checked before allocating;
//! - [`line`](mod@line): a line reader with a length limit that discards an over-long line to its end;
//! - [`dot`]: streaming dot-stuffing and dot-unstuffing (POP3 RETR/TOP, SMTP DATA);
//! - [`escape`]: peer text made safe for log lines;
//! - [`sasl`]: SASL PLAIN and LOGIN, server and client side, with `*` cancel;
//! - [`login_delay`]: a growing, per-address delay after failed logins (time passed in);
//! - [`mutf7`]: modified UTF-7 mailbox names (RFC 3501 5.1.3), used by IMAP4 and the Maildir store;
//! - with the `tokio` feature, [`driver`] (the one generic adapter loop), [`tls`] (rustls set-up;
//!   with the `self-signed` feature, rcgen and a first-start self-signed certificate), [`listener`] (the accept loop with a
//!   connection limit and graceful shutdown).
//!
//! The module `workers` (the thread pool the protocol crates' servers check passwords on) is
//! public only so that those crates can use it: it is not part of the public API, is hidden
//! from the documentation, and may change in any release.
//!
//! Without the `tokio` feature this crate depends only on `base64`, `memchr` and `thiserror`.
//!
//! # Semver
//! [`Limits`], `listener::ListenerOptions` and [`login_delay::LoginDelayPolicy`] are
//! `#[non_exhaustive]`: start from `Default` (or [`Limits::smtp`]) and assign fields. So are
//! the errors, [`LoginRejection`] and [`sasl::Mechanism`]. Closed on purpose: [`TlsMode`]
//! (none, STARTTLS, implicit: the ways RFC 8314 allows), [`Progress`] (the steps of the
//! session contract: a new step must break a driver that does not handle it), and the small
//! state enums of the line reader, dot framing, SASL steps and the driver.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dot;
pub mod escape;
pub mod limits;
pub mod line;
pub mod login_delay;
pub mod mutf7;
pub mod sasl;
pub mod session;

#[cfg(feature = "tokio")]
pub mod client_io;
#[cfg(feature = "tokio")]
pub mod driver;
#[cfg(feature = "tokio")]
pub mod listener;
#[cfg(feature = "tokio")]
pub mod tls;
// Shared with pop3-proto and smtp-submit only: not part of the public API.
#[cfg(feature = "tokio")]
#[doc(hidden)]
pub mod workers;

pub use limits::{LimitExceeded, Limits};
pub use session::{LoginRejection, OutOfTurn, OutputBuffer, Progress, Session, TlsMode};

/// The rustls this crate is built with (its `ServerConfig` and `ClientConfig` are what
/// [`tls`] builds and the servers and clients of the family take).
#[cfg(feature = "tokio")]
pub use rustls;
