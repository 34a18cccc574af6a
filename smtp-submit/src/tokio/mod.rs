//! tokio adapters (feature `tokio`): the submission server over a [`mailstore`] store and
//! directory, with local delivery and smarthost relay ([`StoreRouter`]) or an embedder's
//! [`Router`]; and the client.

mod client;
#[cfg(feature = "tokio-server")]
mod router;
#[cfg(feature = "tokio-server")]
mod service;
#[cfg(feature = "tokio-server")]
mod spool;

pub use client::{Client, ClientConfig, ClientError, Envelope, Security, Submitted};
#[cfg(feature = "tokio-server")]
pub use router::{RecipientRoute, Router, Smarthost, StoreRouter};
#[cfg(feature = "tokio-server")]
pub use service::{SubmissionServer, SubmissionServerBuilder, SubmissionServerConfig};
#[cfg(feature = "tokio-server")]
pub use spool::{BlockingSpoolReader, SpoolReader, SpooledMessage};

/// The rustls this crate is built with, for the `ServerConfig` and `ClientConfig` its servers
/// and clients take (or build them from PEM files with `mail_session::tls`).
pub use rustls;
