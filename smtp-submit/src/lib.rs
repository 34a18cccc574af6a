//! SMTP message submission for the mail crate family: types, a streaming codec, Sans-IO server
//! and client sessions, and (feature `tokio`) a submission server over a
//! [`mailstore`](https://docs.rs/mailstore) store with smarthost relay, and a client.
//!
//! Features: `tokio-client` (the client: no mailstore, no password hashing), `tokio-server`
//! (the submission server, its routers and the spool; it relays with the client), `tokio`
//! (both). Without them the crate is the codec and the Sans-IO sessions only.
//!
//! ```text
//!  types ── parse ── encode ── data (DATA/BDAT receivers)          no IO, no clock, no tokio
//!    │
//!  server::ServerSession          client::ClientSession       mail_session::Session: bytes in,
//!    │                               │                         one Progress step out
//!  tokio::SubmissionServer         tokio::Client
//!    (local delivery into the store, relay through a smarthost, or an embedder's Router)
//! ```
//!
//! # Standards
//! RFC 6409 (submission) over RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY,
//! HELP), RFC 3207 (STARTTLS), RFC 4954 (AUTH PLAIN and LOGIN, initial response, `*` cancel),
//! RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2034 and RFC 3463
//! (enhanced status codes on every reply), RFC 6531 (SMTPUTF8), RFC 3030 (CHUNKING/BDAT and
//! BINARYMIME), RFC 3461 (DSN parameters parsed and carried), RFC 8314 (implicit TLS).
//!
//! The server session enforces the order of commands (503 5.5.1), authentication before MAIL
//! (530 5.7.0), AUTH only after STARTTLS unless the options allow plaintext (it is then not
//! even announced), the declared and the received SIZE (552 5.3.4), the line limits of RFC 5321
//! section 4.5.3.1, and `CR LF . CR LF` as the only end of DATA. Anything a client pipelined
//! behind STARTTLS is discarded before the handshake.
//!
//! # Speed and `unsafe`
//! DATA and BDAT bodies are checked (line-leading dots, bare CR/LF, NUL, undeclared 8-bit) in
//! one pass of SSE2/AVX2 compares on x86_64; that module, `data::scan`, holds the only
//! `unsafe` blocks but one, and is fuzzed and property-tested against the portable receivers
//! ([`data::DataReceiver::portable`], [`data::BdatReceiver::portable`]), which use none and
//! give the same results. Other targets use the portable path. What bounds the DATA receiver
//! is written in [`data`].
//!
//! Command lines are parsed by hand ([`parse::command`]): each token is classified eight
//! octets at a time in a `u64` (no `unsafe` there), no value is allocated before the whole
//! path is known to be valid, and keywords are compared as fixed bytes. It gives the verdicts
//! of the nom parser it replaced on any input (a property test holds them together). What is
//! left of its cost is mostly the typed values themselves: each address is two `String`s
//! (`LocalPart`, `Domain`), and the system allocator's `malloc` and `free` for them cost more
//! instructions than the parsing. The other `unsafe` block is there: an ASCII value becomes a
//! `String` without a second UTF-8 check (`parse::owned_text`, after `is_ascii`).
//!
//! # Not implemented, and why
//! - **VRFY** answers `252 2.5.0` (RFC 5321 section 3.5.3 allows it; confirming addresses to
//!   anyone helps address harvesting), and **EXPN** is unknown (500), as on most MSAs.
//! - **DSN generation**: the DSN parameters are parsed and carried to the router (and passed
//!   on to the smarthost); this crate queues nothing, so it never sends delivery reports.
//!   `DSN` is announced only when the embedder says its router honours them.
//! - **Text line length** (RFC 5321 section 4.5.3.1.6, 1000 octets) is not enforced inside
//!   a message: section 4.5.3.1 asks receivers to avoid such limits where they can, and
//!   Postfix does not enforce it either. Command lines are limited
//!   ([`Limits::max_line_length`]).
//! - **8-bit text without `BODY=8BITMIME`** is accepted by default
//!   ([`server::Options::accept_undeclared_eight_bit`]): msmtp, curl and swaks send it, and
//!   RFC 6152 binds the client, not the server. Turn the option off to refuse it with
//!   `554 5.6.0`.
//! - **Postmaster** (RFC 5321 section 4.5.1 requires it to be reachable): `StoreRouter`
//!   delivers `<Postmaster>` and `postmaster@<local domain>` to the account named
//!   `postmaster`, and refuses them (550 5.1.1) while no such account exists. Operators must
//!   create it; the `mail-server` README says so.
//! - **Message fixing** (RFC 6409 section 8: adding `Date:`/`Message-ID:`, rewriting
//!   addresses) is not done: the message is delivered as the client sent it, with a
//!   `Received:` trace field in front.
//!
//! # Semver
//! Option and configuration structs ([`server::Options`], `tokio::SubmissionServerConfig`)
//! are `#[non_exhaustive]`: start from `Default` and assign fields. So are the enums a later
//! RFC or extension can grow ([`types::Command`], [`types::Extension`], [`types::BodyType`],
//! [`data::ContentProblem`], the events and errors). Closed on purpose, because RFC 5321 and
//! RFC 3461 fix their shape: [`types::Domain`], [`types::ReversePath`], [`types::ForwardPath`]
//! and [`types::DsnReturn`] (`FULL` or `HDRS`).
// Unsafe code only in data::scan (SIMD intrinsics), which allows it with its safety argument.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod data;
pub mod encode;
pub mod parse;
pub mod server;
pub mod types;

pub use mail_session::Limits;

/// The default SMTP limits: the 1000-octet text line of RFC 5321 section 4.5.3.1.6.
pub fn default_limits() -> Limits {
    Limits::smtp()
}

#[cfg(any(feature = "tokio-client", feature = "tokio-server"))]
pub mod tokio;

/// The README's examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "tokio"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
