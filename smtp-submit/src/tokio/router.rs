//! Where a submitted message goes: [`Router`] is the embedder's hook; [`StoreRouter`] delivers
//! to local accounts of a [`MailStore`] and relays everything else through a smarthost.

use std::future::Future;
use std::io::{Seek, SeekFrom};
use std::sync::Arc;

use mailstore::{AccountName, Directory, MailStore, StoreError};

use crate::server::{Envelope, Recipient};
use crate::types::{BodyType, Extension, ForwardPath, Reply, ReversePath, XText};

use super::client::{Client, ClientConfig, ClientError, Envelope as ClientEnvelope};
use super::spool::SpooledMessage;

/// What to do with one recipient, decided at RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientRoute {
    /// Accepted; the router's [`Router::deliver`] decides what becomes of it (a test sink, a
    /// queue, a web hook).
    Accept,
    /// Deliver to this account's INBOX ([`StoreRouter`]).
    Local(AccountName),
    /// Relay through the smarthost ([`StoreRouter`]).
    Remote,
    /// Refuse the recipient with this reply.
    Refuse(Reply),
}

/// Decides where mail goes and takes it there. Implement it to collect, queue, filter or
/// route mail your way; the submission server calls it and answers the client with its
/// results. Only [`Router::deliver`] is required: by default any sender may be used and every
/// recipient is accepted.
///
/// A sink that keeps every message in memory:
///
/// ```
/// use std::sync::Mutex;
/// use smtp_submit::server::Envelope;
/// use smtp_submit::tokio::{RecipientRoute, Router, SpooledMessage};
/// use smtp_submit::types::Reply;
///
/// #[derive(Default)]
/// struct Sink(Mutex<Vec<(Envelope, Vec<u8>)>>);
///
/// impl Router for Sink {
///     async fn deliver(
///         &self,
///         envelope: &Envelope,
///         _routes: &[RecipientRoute],
///         message: SpooledMessage,
///     ) -> Result<String, Reply> {
///         let octets = message
///             .to_vec(25 << 20)
///             .await
///             .map_err(|_| Reply::new(552, Some((5, 3, 4)), "message too large"))?;
///         self.0.lock().unwrap().push((envelope.clone(), octets));
///         Ok("kept".into())
///     }
/// }
/// ```
pub trait Router: Send + Sync + 'static {
    /// Whether `sender` may be used by the client authenticated as `account` (`None`: not
    /// authenticated, only when the server does not require AUTH). The default allows every
    /// sender.
    fn check_sender(&self, account: Option<&str>, sender: &ReversePath) -> Result<(), Reply> {
        let _ = (account, sender);
        Ok(())
    }

    /// Where `recipient` goes, decided at RCPT. The default accepts every recipient
    /// ([`RecipientRoute::Accept`]).
    fn route(&self, recipient: &ForwardPath) -> RecipientRoute {
        let _ = recipient;
        RecipientRoute::Accept
    }

    /// Takes a complete message; `routes` holds the route of each of the envelope's
    /// recipients, in order. `Ok` (with the text for `250`) only once it is safe: durable in
    /// the store, or accepted by the next hop. `Err` is sent to the client as it is.
    fn deliver(
        &self,
        envelope: &Envelope,
        routes: &[RecipientRoute],
        message: SpooledMessage,
    ) -> impl Future<Output = Result<String, Reply>> + Send;
}

/// The smarthost that takes non-local mail.
#[derive(Debug, Clone)]
pub struct Smarthost {
    /// How to reach it.
    pub client: ClientConfig,
    /// Its login, if it wants one.
    pub credentials: Option<(String, String)>,
}

/// Local delivery into a [`MailStore`] for the recipients whose domain is local and whose
/// account exists; relay through a [`Smarthost`] for the others (with none configured, they
/// are refused with `550 5.7.1`).
///
/// A message for both kinds goes to the smarthost first (the step that can refuse), then into
/// the local mailboxes. Should local storage fail after the smarthost took the message, the
/// client gets `451` and its retry may give the remote recipients a second copy: a duplicate,
/// never a loss.
pub struct StoreRouter {
    store: Arc<dyn MailStore>,
    directory: Arc<dyn Directory>,
    local_domains: Vec<String>,
    smarthost: Option<Smarthost>,
    require_own_sender: bool,
    hostname: String,
}

impl std::fmt::Debug for StoreRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreRouter")
            .field("local_domains", &self.local_domains)
            .field(
                "smarthost",
                &self.smarthost.as_ref().map(|s| s.client.address),
            )
            .field("require_own_sender", &self.require_own_sender)
            .finish_non_exhaustive()
    }
}

impl StoreRouter {
    /// A router for `local_domains` (compared without regard to case). With
    /// `require_own_sender`, the envelope sender must be `<account>@<a local domain>` of the
    /// authenticated account (RFC 6409 section 6.1 lets an MSA enforce this).
    pub fn new(
        store: Arc<dyn MailStore>,
        directory: Arc<dyn Directory>,
        local_domains: Vec<String>,
        smarthost: Option<Smarthost>,
        require_own_sender: bool,
        hostname: String,
    ) -> Self {
        StoreRouter {
            store,
            directory,
            local_domains,
            smarthost,
            require_own_sender,
            hostname,
        }
    }

    /// The address the server vouches for as a message's submitter: the account at the first
    /// local domain (or the host name).
    fn submitter(&self, account: &str) -> String {
        let domain = self.local_domains.first().unwrap_or(&self.hostname);
        format!("{account}@{domain}")
    }

    fn is_local(&self, domain: &crate::types::Domain) -> bool {
        match domain {
            crate::types::Domain::Name(name) => self
                .local_domains
                .iter()
                .any(|local| local.eq_ignore_ascii_case(name)),
            crate::types::Domain::Literal(_) => false,
        }
    }

    async fn relay(
        &self,
        envelope: &Envelope,
        remote: Vec<Recipient>,
        message: &SpooledMessage,
    ) -> Result<(), Reply> {
        let Some(smarthost) = &self.smarthost else {
            return Err(Reply::new(550, Some((5, 7, 1)), "relay not permitted"));
        };
        let temporary = |error: ClientError| {
            if error.is_transient() {
                Reply::new(
                    451,
                    Some((4, 4, 1)),
                    format!("smarthost unavailable, try again later: {error}"),
                )
            } else {
                Reply::new(
                    554,
                    Some((5, 0, 0)),
                    format!("smarthost refused the message: {error}"),
                )
            }
        };
        let mut client = Client::connect(&smarthost.client)
            .await
            .map_err(temporary)?;
        if let Some((user, password)) = &smarthost.credentials {
            client.login(user, password).await.map_err(temporary)?;
        }
        if envelope.parameters.body == Some(BodyType::BinaryMime)
            && !(client.extensions().contains(&Extension::BinaryMime)
                && client.extensions().contains(&Extension::Chunking))
        {
            // RFC 3030 section 3: never altered on the way; conversion is not offered here
            // (RFC 3463 5.6.3: conversion required but not supported).
            let _ = client.quit().await;
            return Err(Reply::new(
                554,
                Some((5, 6, 3)),
                "the smarthost cannot take a BINARYMIME message unaltered",
            ));
        }
        let mut reader = message.reader().await.map_err(|error| {
            Reply::new(451, Some((4, 3, 0)), format!("spool unreadable: {error}"))
        })?;
        // RFC 4954 section 5: the client's own AUTH= is not trusted; what is sent on is the
        // identity this server vouches for (the authenticated account), or `<>`.
        let mut parameters = envelope.parameters.clone();
        parameters.auth = Some(
            envelope
                .authenticated_as
                .as_deref()
                .and_then(|account| XText::encode(self.submitter(account).as_bytes()).ok()),
        );
        let client_envelope = ClientEnvelope {
            from: envelope.from.clone(),
            parameters,
            recipients: remote,
        };
        let submitted = client
            .send_message(&client_envelope, Some(message.size()), &mut reader)
            .await
            .map_err(temporary)?;
        let _ = client.quit().await;
        if let Some((to, reply)) = submitted.refused.first() {
            // Partial acceptance cannot be reported through one DATA reply: refuse the whole
            // message rather than lose mail silently.
            return Err(Reply::new(
                if reply.code.is_transient() { 451 } else { 554 },
                Some(if reply.code.is_transient() {
                    (4, 4, 0)
                } else {
                    (5, 1, 1)
                }),
                format!("smarthost refused {to}: {reply}"),
            ));
        }
        Ok(())
    }
}

fn storage_failure(error: &StoreError) -> Reply {
    match error {
        StoreError::Io(error) if error.kind() == std::io::ErrorKind::StorageFull => {
            Reply::new(452, Some((4, 3, 1)), "mail system full")
        }
        StoreError::TooLarge => {
            Reply::new(552, Some((5, 3, 4)), "message too large for the mailbox")
        }
        _ => Reply::new(
            451,
            Some((4, 3, 0)),
            "local delivery failed, try again later",
        ),
    }
}

impl Router for StoreRouter {
    fn check_sender(&self, account: Option<&str>, sender: &ReversePath) -> Result<(), Reply> {
        if !self.require_own_sender {
            return Ok(());
        }
        let owned = match (account, sender) {
            (Some(account), ReversePath::Mailbox(mailbox)) => {
                mailbox.local_part.as_str().eq_ignore_ascii_case(account)
                    && self.is_local(&mailbox.domain)
            }
            _ => false,
        };
        if owned {
            Ok(())
        } else {
            Err(Reply::new(
                553,
                Some((5, 7, 1)),
                "sender address does not belong to the authenticated account",
            ))
        }
    }

    fn route(&self, recipient: &ForwardPath) -> RecipientRoute {
        let local_account = match recipient {
            // RFC 5321 section 4.5.1: Postmaster goes to the account named "postmaster"; the
            // crate docs say an operator must create it.
            ForwardPath::Postmaster => Some("postmaster".to_string()),
            ForwardPath::Mailbox(mailbox) if self.is_local(&mailbox.domain) => {
                Some(mailbox.local_part.as_str().to_ascii_lowercase())
            }
            ForwardPath::Mailbox(_) => None,
        };
        match local_account {
            Some(name) => match AccountName::try_from(name.as_str()) {
                Ok(account) if self.directory.exists(&account) => RecipientRoute::Local(account),
                _ => RecipientRoute::Refuse(Reply::new(550, Some((5, 1, 1)), "no such user here")),
            },
            None if self.smarthost.is_some() => RecipientRoute::Remote,
            None => RecipientRoute::Refuse(Reply::new(550, Some((5, 7, 1)), "relay not permitted")),
        }
    }

    async fn deliver(
        &self,
        envelope: &Envelope,
        routes: &[RecipientRoute],
        message: SpooledMessage,
    ) -> Result<String, Reply> {
        let remote: Vec<Recipient> = envelope
            .recipients
            .iter()
            .zip(routes)
            .filter(|(_, route)| **route == RecipientRoute::Remote)
            .map(|(recipient, _)| recipient.clone())
            .collect();
        if !remote.is_empty() {
            self.relay(envelope, remote, &message).await?;
        }
        let mut accounts: Vec<AccountName> = routes
            .iter()
            .filter_map(|route| match route {
                RecipientRoute::Local(account) => Some(account.clone()),
                _ => None,
            })
            .collect();
        accounts.sort();
        accounts.dedup();
        if !accounts.is_empty() {
            let store = self.store.clone();
            let file = message.into_blocking_reader();
            let delivered = tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
                let mut file = file?;
                for account in &accounts {
                    file.seek(SeekFrom::Start(0))?;
                    store.deliver(account, &mut file)?;
                }
                Ok(accounts.len())
            })
            .await;
            match delivered {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "local delivery failed");
                    return Err(storage_failure(&error));
                }
                Err(_) => {
                    return Err(storage_failure(&StoreError::Io(std::io::Error::other(
                        "task failed",
                    ))))
                }
            }
        }
        Ok(format!("{} message accepted", self.hostname))
    }
}
