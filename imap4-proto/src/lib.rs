//! IMAP4 for the mail crate family: types, codec and Sans-IO sessions.
//!
//! This crate is a placeholder laid down by the foundation: the IMAP4 codec issue fills it with
//! the grammar of RFC 3501 and RFC 9051 and their extensions, and later issues with the server and
//! client sessions built on [`mail_session::Session`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mail_session::Limits;

/// The default IMAP4 limits: a 64 KiB command line (Dovecot's `imap_max_line_length`) and
/// 50 MiB literals.
pub fn default_limits() -> Limits {
    Limits::imap()
}
