//! SMTP message submission (RFC 6409) for the mail crate family: types, codec and Sans-IO
//! sessions.
//!
//! This crate is a placeholder laid down by the foundation: the submission issue fills it with
//! the command and reply types, the streaming parsers, the DATA/BDAT receivers and the server and
//! client sessions built on [`mail_session::Session`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mail_session::Limits;

/// The default SMTP limits: the 1000-octet text line of RFC 5321 section 4.5.3.1.6.
pub fn default_limits() -> Limits {
    Limits::smtp()
}
