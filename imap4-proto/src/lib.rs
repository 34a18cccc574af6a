//! IMAP4 for the mail crate family: types and a streaming codec for both directions.
//! No IO, no clock, no tokio.
//!
//! ```text
//!   bytes ──► framing::Framer ──► Frame::LiteralAnnounced ─► (server: send "+", or reject)
//!               (lines, literals,    Frame::LiteralData(&[u8])  big literals, streamed
//!                limits)             Frame::Message ─► parse::command / parse::response
//!                                                         │
//!   types (validated values) ◄──────────────────────────────┘
//!     │
//!     └──► encode::command / encode::response ──► fragments: data, and waits for "+"
//!                                                  before synchronizing literals (client)
//! ```
//!
//! # Streaming design
//! The [`framing::Framer`] splits input into line parts and literals. It reports each
//! literal's announcement before any of its octets, so a server answers `+` (or refuses over
//! its limit) without reading it. Small literals (up to 64 KiB by default: passwords, mailbox
//! names, search strings) are gathered into the message; the designated "body" positions —
//! APPEND's message on the server side, FETCH's `BODY[...]`, `BINARY[...]`, `RFC822` and
//! `RFC822.TEXT` on the client side — and any literal over the inline limit are streamed to
//! the caller as chunks borrowed from the input, never held whole. The structured parser then
//! runs with nom on the complete buffered message, in which a streamed literal is only a
//! size ([`types::Payload::Streamed`]). Bytes are scanned once, so the cost is linear however
//! the input is split, and one byte at a time gives the same events as all at once.
//!
//! # Standards
//! IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) with IDLE (2177), LITERAL+/LITERAL- (7888),
//! UIDPLUS (4315), MOVE (6851), ENABLE (5161), ID (2971), NAMESPACE (2342), UNSELECT (3691),
//! SPECIAL-USE (6154, with CREATE ... USE), CHILDREN (3348), CONDSTORE/QRESYNC (7162), ESEARCH (4731), SASL-IR
//! (4959), LIST-EXTENDED (5258), LIST-STATUS (5819), COMPRESS=DEFLATE (4978) (the command and
//! response code; after `OK` the caller runs the deflate stream and calls
//! [`framing::Framer::reset`] only if it discards buffered input), STARTTLS and LOGINDISABLED
//! (capabilities are atoms), UTF8=ACCEPT (UTF-8 in quoted strings and names, `APPEND ... UTF8
//! (~{n})` of RFC 6855) and modified UTF-7 mailbox names
//! ([`types::Mailbox`] keeps the wire form, so names round-trip exactly).
//!
//! A server learns an APPEND's mailbox, flags and date when its message literal is announced,
//! before any of the message's octets, with [`parse::append_start`].
//!
//! # Errors
//! The framer drops a message over a limit ([`framing::FrameError`]: what, where, and the tag
//! to answer) and consumes the rest of it, literals included, so it is never re-read as
//! commands. The parsers return [`parse::ParseError`]: the expected rule, the octet offset and
//! the octets found there. Nesting is bounded (64 by default), so no input overflows the stack.
//!
//! # Not implemented, and why
//! - SEARCHRES's `$` (RFC 5182, only listed by RFC 9051) as a sequence set: not in the scope.
//! - The encoder writes 8-bit strings as literals even where UTF8=ACCEPT would allow them
//!   quoted: always valid, one extra round trip on the client side under synchronizing
//!   literals.
//! - FETCH body-section literals are streamed, but the caller learns the message number and
//!   section from [`framing::Framer::message`] (the response so far) rather than a typed
//!   event.
//!
//! # Example: a server reading an APPEND
//! ```
//! use imap4_proto::framing::{Frame, Framer, FramerOptions, LiteralMode, Role};
//! use imap4_proto::parse;
//! use imap4_proto::types::{CommandBody, Payload};
//!
//! let mut framer = Framer::new(Role::Server, FramerOptions::default());
//! let mut input = &b"A003 APPEND saved-messages (\\Seen) {11}\r\nHello World\r\n"[..];
//! let mut body = Vec::new();
//! loop {
//!     let (used, frame) = framer.next(input);
//!     input = &input[used..];
//!     match frame {
//!         Frame::LiteralAnnounced(literal) => {
//!             assert_eq!(literal.mode, LiteralMode::Sync); // send "+ go ahead" here
//!             assert!(literal.streamed);
//!         }
//!         Frame::LiteralData(chunk) => body.extend_from_slice(chunk),
//!         Frame::Message => {
//!             let command = parse::command(framer.message()).unwrap();
//!             assert!(matches!(
//!                 command.body,
//!                 CommandBody::Append { message: Payload::Streamed(11), .. }
//!             ));
//!             break;
//!         }
//!         Frame::Incomplete | Frame::Error(_) => unreachable!(),
//!     }
//! }
//! assert_eq!(body, b"Hello World");
//! ```
//!
//! # Stability
//! Every enum that an extension RFC can grow is `#[non_exhaustive]`: commands and response
//! data ([`types::CommandBody`], [`types::Data`]), response codes, FETCH attributes and data
//! items, section texts and FETCH modifiers, search keys and ESEARCH options and data, flags
//! and mailbox attributes, STATUS attributes, SELECT parameters, LIST selection and return
//! options, the encoder's fragments and literal policies, and the error kinds. Match them with
//! a `_` arm. Enums that the grammar closes are not: the status kinds, a response's three
//! forms, sequence numbers and ranges, `+FLAGS`/`-FLAGS`, the framer's frames. The option
//! structs ([`parse::CommandOptions`], [`parse::ResponseOptions`],
//! [`framing::FramerOptions`]) are `#[non_exhaustive]` too: start from `default()` (or
//! `strict()` / `tolerant()`) and change fields or chain the `with_` methods.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod encode;
pub mod framing;
pub mod parse;
pub mod types;

pub use mail_session::Limits;

/// The default IMAP4 limits: a 64 KiB command line (Dovecot's `imap_max_line_length`) and
/// 50 MiB literals.
pub fn default_limits() -> Limits {
    Limits::imap()
}
