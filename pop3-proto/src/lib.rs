//! POP3 for the mail crate family.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod encode;
pub mod parse;
pub mod server;
pub mod types;

pub use mail_session::Limits;

#[cfg(feature = "tokio")]
pub mod tokio;
