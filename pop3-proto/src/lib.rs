//! POP3 for the mail crate family: types, codec and Sans-IO sessions.
//!
//! This crate is a placeholder laid down by the foundation: the POP3 issue fills it with the
//! command and response types, the streaming parsers and encoders, and the server and client
//! sessions built on [`mail_session::Session`]. What it already re-uses is shared with the other
//! protocols: dot-stuffing ([`mail_session::dot`]), line framing ([`mail_session::line`]) and
//! SASL ([`mail_session::sasl`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mail_session::Limits;

/// The default POP3 limits: a 255-octet command line (RFC 2449, section 4).
pub fn default_limits() -> Limits {
    Limits::pop3()
}
