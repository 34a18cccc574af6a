//! An in-process mail server for tests: what GreenMail is to Java and mailpit to web
//! developers, for Rust.
//!
//! [`TestMailServer::start`] serves SMTP submission and POP3 on ephemeral loopback ports over
//! an in-memory store ([`mailstore::MemoryStore`]), with accounts made in one call. Every
//! message the server takes is kept: [`TestMailServer::received`] returns them, and
//! [`TestMailServer::wait_for`] waits until enough have arrived. Mail for an account of a local
//! domain also lands in that account's INBOX, so the code under test can read it back over
//! POP3. No TLS and no password hashing by default: it is for loopback tests, and passwords
//! are accepted in plain text.
//!
//! ```no_run
//! use std::time::Duration;
//! use mail_test_server::TestMailServer;
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let server = TestMailServer::start().await?;
//! server.add_user("alice", "secret");
//! // ... point the code under test at server.smtp_address() and let it send ...
//! let messages = server.wait_for(1, Duration::from_secs(5)).await.expect("a message");
//! assert_eq!(messages[0].recipients(), ["alice@localhost"]);
//! # Ok(()) }
//! ```
//!
//! Things a test may want to change are on [`TestMailServer::builder`]: refuse recipients that
//! are not accounts, require AUTH before MAIL, leave out the `Received:` field, or serve TLS.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_session::listener::Shutdown;
use mailstore::{AccessPolicy, AccountName, MailStore, MailboxName, MemoryDirectory, MemoryStore};
use smtp_submit::server::Envelope;
use smtp_submit::tokio::{
    RecipientRoute, Router, SpooledMessage, SubmissionServer, SubmissionServerConfig,
};
use smtp_submit::types::{ForwardPath, Reply};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One message the server took, as the client sent it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// Its envelope: sender, recipients, the authenticated account, TLS, EHLO name.
    pub envelope: Envelope,
    /// Its octets, with the `Received:` field the server added unless that was turned off.
    pub raw: Vec<u8>,
}

impl ReceivedMessage {
    /// The envelope sender, as text (`""` for the null sender `<>`).
    pub fn sender(&self) -> String {
        match &self.envelope.from {
            smtp_submit::types::ReversePath::Null => String::new(),
            path => path.to_string().trim_matches(['<', '>']).to_string(),
        }
    }

    /// The envelope recipients, as text.
    pub fn recipients(&self) -> Vec<String> {
        self.envelope
            .recipients
            .iter()
            .map(|recipient| {
                recipient
                    .to
                    .to_string()
                    .trim_matches(['<', '>'])
                    .to_string()
            })
            .collect()
    }

    /// The value of the first header field called `name` (case-insensitive), unfolded and
    /// decoded (RFC 2047 encoded words), as text, if the message has one.
    pub fn header(&self, name: &str) -> Option<String> {
        let message = mail_parser::MessageParser::new().parse_headers(&self.raw[..])?;
        message
            .header(name)
            .and_then(|value| match value {
                mail_parser::HeaderValue::Text(text) => Some(text.to_string()),
                mail_parser::HeaderValue::TextList(list) => Some(list.join(", ")),
                _ => None,
            })
            .or_else(|| message.header_raw(name).map(|raw| raw.trim().to_string()))
    }

    /// The message body (after the blank line that ends the header), as sent.
    pub fn body(&self) -> &[u8] {
        mail_parser::MessageParser::new()
            .parse(&self.raw[..])
            .and_then(|message| {
                self.raw
                    .get(message.root_part().raw_body_offset() as usize..)
            })
            .unwrap_or(&[])
    }
}

/// What the test server keeps, and the router its submission server hands messages to.
struct Sink {
    store: Arc<MemoryStore>,
    directory: Arc<MemoryDirectory>,
    domains: Vec<String>,
    accept_any_recipient: bool,
    received: Mutex<Vec<ReceivedMessage>>,
    count: watch::Sender<usize>,
    max_message_size: u64,
}

impl Sink {
    fn local_account(&self, recipient: &ForwardPath) -> Option<AccountName> {
        let ForwardPath::Mailbox(mailbox) = recipient else {
            return AccountName::try_from("postmaster").ok();
        };
        let domain = mailbox.domain.to_string();
        if !self
            .domains
            .iter()
            .any(|local| local.eq_ignore_ascii_case(&domain))
        {
            return None;
        }
        AccountName::try_from(mailbox.local_part.as_str())
            .ok()
            .filter(|account| mailstore::Directory::exists(&*self.directory, account))
    }
}

impl Router for Sink {
    fn route(&self, recipient: &ForwardPath) -> RecipientRoute {
        match self.local_account(recipient) {
            Some(account) => RecipientRoute::Local(account),
            None if self.accept_any_recipient => RecipientRoute::Accept,
            None => RecipientRoute::Refuse(Reply::new(550, Some((5, 1, 1)), "no such user here")),
        }
    }

    async fn deliver(
        &self,
        envelope: &Envelope,
        routes: &[RecipientRoute],
        message: SpooledMessage,
    ) -> Result<String, Reply> {
        let raw = message
            .to_vec(self.max_message_size)
            .await
            .map_err(|_| Reply::new(552, Some((5, 3, 4)), "message too large"))?;
        for route in routes {
            if let RecipientRoute::Local(account) = route {
                self.store
                    .deliver(account, &mut raw.as_slice())
                    .map_err(|_| Reply::new(451, Some((4, 3, 0)), "delivery failed"))?;
            }
        }
        let mut received = self.received.lock().unwrap_or_else(|p| p.into_inner());
        received.push(ReceivedMessage {
            envelope: envelope.clone(),
            raw,
        });
        self.count.send_replace(received.len());
        Ok("message kept".into())
    }
}

/// Builds a [`TestMailServer`]; start with [`TestMailServer::builder`].
#[derive(Debug)]
#[must_use = "call start() to run the server"]
pub struct TestMailServerBuilder {
    domains: Vec<String>,
    users: Vec<(String, String)>,
    accept_any_recipient: bool,
    require_auth: bool,
    received_field: bool,
    max_message_size: u64,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl TestMailServerBuilder {
    /// The local domains: mail to `account@domain` lands in the account's INBOX. The default
    /// is `localhost`.
    pub fn domains<S: Into<String>>(mut self, domains: impl IntoIterator<Item = S>) -> Self {
        self.domains = domains.into_iter().map(Into::into).collect();
        self
    }

    /// An account to create at start (more can be added later with
    /// [`TestMailServer::add_user`]).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Whether recipients that are not local accounts are accepted (and only kept in
    /// [`TestMailServer::received`]); on by default. Off, they get `550 5.1.1`.
    pub fn accept_any_recipient(mut self, accept: bool) -> Self {
        self.accept_any_recipient = accept;
        self
    }

    /// Whether clients must authenticate before MAIL; off by default.
    pub fn require_auth(mut self, require: bool) -> Self {
        self.require_auth = require;
        self
    }

    /// Whether the server puts a `Received:` field in front of each message; off by default,
    /// so [`ReceivedMessage::raw`] holds exactly what the client sent.
    pub fn received_field(mut self, add: bool) -> Self {
        self.received_field = add;
        self
    }

    /// The largest message taken (`SIZE`); 25 MiB by default.
    pub fn max_message_size(mut self, octets: u64) -> Self {
        self.max_message_size = octets;
        self
    }

    /// Serves TLS too: STARTTLS/STLS on the plain ports, and implicit-TLS ports
    /// ([`TestMailServer::smtps_address`], [`TestMailServer::pop3s_address`]).
    pub fn tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Binds ephemeral loopback ports and starts serving. Call it inside a tokio runtime.
    pub async fn start(self) -> std::io::Result<TestMailServer> {
        let store = Arc::new(MemoryStore::new());
        let directory = Arc::new(MemoryDirectory::new());
        for (name, password) in &self.users {
            directory
                .add_user(name, password, AccessPolicy::default())
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        }
        let (count, _) = watch::channel(0);
        let sink = Sink {
            store: store.clone(),
            directory: directory.clone(),
            domains: self.domains.clone(),
            accept_any_recipient: self.accept_any_recipient,
            received: Mutex::new(Vec::new()),
            count,
            max_message_size: self.max_message_size,
        };
        let mut submission_config = SubmissionServerConfig::default();
        submission_config.session.allow_plaintext_auth = true;
        submission_config.session.require_auth = self.require_auth;
        submission_config.session.hostname = "localhost".into();
        submission_config.session.limits.max_message_size = self.max_message_size;
        submission_config.add_received_field = self.received_field;
        submission_config.listener.shutdown_grace = Duration::from_millis(100);
        // Mail programs log in with the full address: take `alice@localhost` for `alice`.
        let logins: Arc<dyn mailstore::Directory> = Arc::new(mailstore::AddressLogins::new(
            directory.clone(),
            self.domains.clone(),
        ));
        let mut submission = SubmissionServer::builder(sink)
            .directory(logins.clone())
            .config(submission_config);
        let mut pop3_config = pop3_proto::tokio::Pop3ServerConfig::default();
        pop3_config.session.allow_plaintext_auth = true;
        pop3_config.listener.shutdown_grace = Duration::from_millis(100);
        let mut pop3 =
            pop3_proto::tokio::Pop3Server::builder(store.clone(), logins).config(pop3_config);
        if let Some(tls) = &self.tls {
            submission = submission.tls(tls.clone());
            pop3 = pop3.tls(tls.clone());
        }
        let (submission, pop3) = (submission.build(), pop3.build());
        let shutdown = Shutdown::new();
        let loopback = || TcpListener::bind("127.0.0.1:0");
        let smtp_listener = loopback().await?;
        let pop3_listener = loopback().await?;
        let mut addresses = Addresses {
            smtp: smtp_listener.local_addr()?,
            pop3: pop3_listener.local_addr()?,
            smtps: None,
            pop3s: None,
        };
        tokio::spawn(
            submission
                .clone()
                .serve_plain(smtp_listener, shutdown.subscribe()),
        );
        tokio::spawn(
            pop3.clone()
                .serve_plain(pop3_listener, shutdown.subscribe()),
        );
        if self.tls.is_some() {
            let smtps = loopback().await?;
            let pop3s = loopback().await?;
            addresses.smtps = Some(smtps.local_addr()?);
            addresses.pop3s = Some(pop3s.local_addr()?);
            tokio::spawn(submission.clone().serve_tls(smtps, shutdown.subscribe()));
            tokio::spawn(pop3.serve_tls(pop3s, shutdown.subscribe()));
        }
        Ok(TestMailServer {
            submission,
            store,
            directory,
            addresses,
            shutdown,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Addresses {
    smtp: SocketAddr,
    pop3: SocketAddr,
    smtps: Option<SocketAddr>,
    pop3s: Option<SocketAddr>,
}

/// A running test mail server. Dropping it stops it.
pub struct TestMailServer {
    submission: Arc<SubmissionServer<Sink>>,
    store: Arc<MemoryStore>,
    directory: Arc<MemoryDirectory>,
    addresses: Addresses,
    shutdown: Shutdown,
}

impl std::fmt::Debug for TestMailServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestMailServer")
            .field("smtp", &self.addresses.smtp)
            .field("pop3", &self.addresses.pop3)
            .field("received", &self.received().len())
            .finish_non_exhaustive()
    }
}

/// [`TestMailServer::wait_for`] gave up: fewer messages arrived in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimedOut {
    /// How many had arrived.
    pub received: usize,
    /// How many were awaited.
    pub wanted: usize,
}

impl std::error::Error for WaitTimedOut {}

impl std::fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out with {} of {} messages received",
            self.received, self.wanted
        )
    }
}

impl TestMailServer {
    /// A server with the defaults: SMTP and POP3 on loopback, local domain `localhost`, every
    /// recipient accepted, no AUTH required, no TLS.
    pub async fn start() -> std::io::Result<TestMailServer> {
        Self::builder().start().await
    }

    /// Starts building a server with other settings.
    pub fn builder() -> TestMailServerBuilder {
        TestMailServerBuilder {
            domains: vec!["localhost".into()],
            users: Vec::new(),
            accept_any_recipient: true,
            require_auth: false,
            received_field: false,
            max_message_size: 25 * 1024 * 1024,
            tls: None,
        }
    }

    /// Creates (or replaces) an account with every protocol on: it can log in over SMTP and
    /// POP3 (as `name` or as `name@<a local domain>`), and mail to `name@<a local domain>`
    /// lands in its INBOX.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid account name or is reserved (`anonymous`, `guest`): a
    /// mistake in the test itself.
    pub fn add_user(&self, name: &str, password: &str) -> AccountName {
        match self
            .directory
            .add_user(name, password, AccessPolicy::default())
        {
            Ok(account) => account,
            Err(error) => panic!("add_user({name:?}): {error}"),
        }
    }

    /// Where SMTP submission listens (plain, STARTTLS offered when TLS is configured).
    pub fn smtp_address(&self) -> SocketAddr {
        self.addresses.smtp
    }

    /// Where POP3 listens (plain, STLS offered when TLS is configured).
    pub fn pop3_address(&self) -> SocketAddr {
        self.addresses.pop3
    }

    /// Where implicit-TLS submission listens, when TLS is configured.
    pub fn smtps_address(&self) -> Option<SocketAddr> {
        self.addresses.smtps
    }

    /// Where implicit-TLS POP3 listens, when TLS is configured.
    pub fn pop3s_address(&self) -> Option<SocketAddr> {
        self.addresses.pop3s
    }

    /// Every message taken so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.submission
            .router()
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until at least `count` messages have been taken, then returns all of them; gives
    /// up after `timeout`.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, WaitTimedOut> {
        let mut arrivals = self.submission.router().count.subscribe();
        let arrived = tokio::time::timeout(timeout, arrivals.wait_for(|&n| n >= count)).await;
        match arrived {
            Ok(Ok(_)) => Ok(self.received()),
            _ => Err(WaitTimedOut {
                received: self.received().len(),
                wanted: count,
            }),
        }
    }

    /// The messages in an account's INBOX, as stored.
    pub fn inbox(&self, account: &str) -> Vec<Vec<u8>> {
        let Ok(account) = AccountName::try_from(account) else {
            return Vec::new();
        };
        let Ok(snapshot) = self.store.snapshot(&account, &MailboxName::inbox()) else {
            return Vec::new();
        };
        snapshot
            .messages
            .iter()
            .filter_map(|message| {
                let mut content = self
                    .store
                    .open_message(&account, &MailboxName::inbox(), message.uid)
                    .ok()?;
                let mut octets = Vec::new();
                std::io::Read::read_to_end(&mut content.reader, &mut octets).ok()?;
                Some(octets)
            })
            .collect()
    }

    /// The store behind the server, for tests that put mail in place or look at flags.
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// Forgets every message kept so far (the INBOXes are left as they are).
    pub fn clear_received(&self) {
        self.submission
            .router()
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.submission.router().count.send_replace(0);
    }

    /// Stops the server: listeners close, open connections are told goodbye.
    pub fn stop(&self) {
        self.shutdown.trigger();
    }
}

impl Drop for TestMailServer {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
