//! tokio adapters (feature `tokio`): the submission server over a [`mailstore`] store and
//! directory, with local delivery and smarthost relay ([`StoreRouter`]) or an embedder's
//! [`Router`]; and the client.

mod client;
mod router;
mod service;
mod spool;

pub use client::{Client, ClientConfig, ClientError, Envelope, Security, Submitted};
pub use router::{BoxFuture, RecipientRoute, Router, Smarthost, StoreRouter};
pub use service::{SubmissionServer, SubmissionServerConfig};
pub use spool::{
    received_field, rfc5322_date, BlockingSpoolReader, SpoolReader, SpoolWriter, SpooledMessage,
    WRITE_BATCH,
};
