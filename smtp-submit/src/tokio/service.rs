//! The submission service: what AUTH, MAIL, RCPT and the end of a message do, over a
//! [`Directory`] and a [`Router`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mail_session::driver::Handler;
use mail_session::escape::Escaped;
use mail_session::listener::{serve_service, ConnectionService, ListenerOptions, LoginThrottle};
use mail_session::workers::WorkerPool;
use mail_session::{LoginRejection, OutOfTurn, TlsMode};
use mailstore::{AuthError, Directory, Protocol};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::server::{Envelope, Event, Options, ServerSession};
use crate::types::Reply;

use super::router::{RecipientRoute, Router};
use super::spool::{received_field, SpoolWriter};

/// How the server behaves; the session options of every connection start from `session`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SubmissionServerConfig {
    /// Session options (limits, plaintext policy, hostname, timeouts). Their `tls` is not
    /// read: each connection's TLS mode follows from its listener and the server's TLS
    /// configuration.
    pub session: Options,
    /// Connection limit, shutdown grace and TCP keepalive of each listener.
    pub listener: ListenerOptions,
    /// The longest a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// Where messages are spooled while they arrive (unnamed files; the system's temporary
    /// directory by default).
    pub spool_directory: PathBuf,
    /// Whether a `Received:` trace field (RFC 5321 section 4.4, naming `session.hostname`)
    /// is put in front of each message before the router gets it. On by default; a test sink
    /// that wants the client's exact bytes turns it off.
    pub add_received_field: bool,
}

impl Default for SubmissionServerConfig {
    fn default() -> Self {
        SubmissionServerConfig {
            session: Options::default(),
            listener: ListenerOptions::default(),
            tls_handshake_timeout: Duration::from_secs(30),
            spool_directory: std::env::temp_dir(),
            add_received_field: true,
        }
    }
}

/// A submission server (RFC 6409): authenticates against a [`Directory`] and hands messages
/// to a [`Router`] ([`StoreRouter`](super::StoreRouter) delivers into a mail store and relays
/// through a smarthost; a router of your own can do anything else).
///
/// ```no_run
/// use std::sync::Arc;
/// use mailstore::{MemoryDirectory, MemoryStore};
/// use smtp_submit::tokio::{StoreRouter, SubmissionServer};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(MemoryStore::new());
/// let directory = Arc::new(MemoryDirectory::new().with_user("alice", "secret")?);
/// let router = StoreRouter::new(store, directory.clone(), vec!["example.org".into()], None, true, "mx.example.org".into());
/// let server = SubmissionServer::builder(router).directory(directory).build();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:5870").await?;
/// let shutdown = mail_session::listener::Shutdown::new();
/// server.serve_plain(listener, shutdown.subscribe()).await;
/// # Ok(()) }
/// ```
pub struct SubmissionServer<R> {
    directory: Option<Arc<dyn Directory>>,
    router: Arc<R>,
    throttle: LoginThrottle,
    password_checks: Option<WorkerPool>,
    tls: Option<TlsAcceptor>,
    config: SubmissionServerConfig,
    next_id: AtomicU64,
}

impl<R> std::fmt::Debug for SubmissionServer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmissionServer")
            .field("tls", &self.tls.is_some())
            .field("directory", &self.directory.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SubmissionServer`]; start with [`SubmissionServer::builder`].
#[must_use = "call build() to get the server"]
pub struct SubmissionServerBuilder<R> {
    router: R,
    directory: Option<Arc<dyn Directory>>,
    throttle: Option<LoginThrottle>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: SubmissionServerConfig,
}

impl<R> std::fmt::Debug for SubmissionServerBuilder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmissionServerBuilder")
            .field("tls", &self.tls.is_some())
            .field("directory", &self.directory.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<R: Router> SubmissionServerBuilder<R> {
    /// Who may log in (AUTH). Without a directory AUTH is not offered and mail is taken
    /// without it, whatever [`Options::require_auth`] says: a test sink or a server behind
    /// your own access control. With one, AUTH is required before MAIL unless the options
    /// say otherwise (RFC 6409 section 4.3).
    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The TLS configuration: STARTTLS is offered on plain listeners and implicit-TLS
    /// listeners can be served. Without it, neither.
    pub fn tls(mut self, tls: impl Into<Option<Arc<rustls::ServerConfig>>>) -> Self {
        self.tls = tls.into();
        self
    }

    /// Session options, limits, timeouts and the spool folder.
    pub fn config(mut self, config: SubmissionServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The failed-login delay, to share one between servers (each server has its own
    /// otherwise).
    pub fn throttle(mut self, throttle: LoginThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The server, ready to serve listeners.
    pub fn build(self) -> Arc<SubmissionServer<R>> {
        let mut config = self.config;
        if self.directory.is_some() && self.tls.is_none() && !config.session.allow_plaintext_auth {
            tracing::warn!(
                "submission server without TLS and with plaintext authentication off: no client can log in"
            );
        }
        if self.directory.is_none() {
            config.session.require_auth = false;
            config.session.mechanisms.clear();
        }
        Arc::new(SubmissionServer {
            directory: self.directory,
            router: Arc::new(self.router),
            throttle: self.throttle.unwrap_or_default(),
            password_checks: WorkerPool::per_core("smtp-auth").ok(),
            tls: self.tls.map(TlsAcceptor::from),
            config,
            next_id: AtomicU64::new(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_secs() << 20)
                    .unwrap_or(0),
            ),
        })
    }
}

impl<R: Router> SubmissionServer<R> {
    /// Starts building a server that hands messages to `router`.
    pub fn builder(router: R) -> SubmissionServerBuilder<R> {
        SubmissionServerBuilder {
            router,
            directory: None,
            throttle: None,
            tls: None,
            config: SubmissionServerConfig::default(),
        }
    }

    /// The router messages go to.
    pub fn router(&self) -> &R {
        &self.router
    }

    /// Serves a plain listener (port 587 style: STARTTLS offered when TLS is configured)
    /// until `shutdown`.
    pub async fn serve_plain(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        serve_service(self, listener, false, shutdown).await;
    }

    /// Serves an implicit-TLS listener (port 465 style, RFC 8314) until `shutdown`.
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        serve_service(self, listener, true, shutdown).await;
    }

    fn message_id(&self) -> String {
        format!("{:x}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

impl<R: Router> ConnectionService for SubmissionServer<R> {
    const PROTOCOL: &'static str = "submission";
    type Session = ServerSession;
    type Handler = SubmissionConnection<R>;

    fn listener_options(&self) -> ListenerOptions {
        self.config.listener
    }

    fn tls(&self) -> Option<&TlsAcceptor> {
        self.tls.as_ref()
    }

    fn tls_handshake_timeout(&self) -> Duration {
        self.config.tls_handshake_timeout
    }

    fn session(&self, tls: TlsMode) -> ServerSession {
        let mut options = self.config.session.clone();
        options.tls = tls;
        ServerSession::new(options)
    }

    fn handler(self: &Arc<Self>, peer: SocketAddr) -> SubmissionConnection<R> {
        SubmissionConnection {
            server: self.clone(),
            peer: peer.ip(),
            routes: Vec::new(),
            spool: None,
        }
    }
}

/// One connection's service state.
#[doc(hidden)]
pub struct SubmissionConnection<R> {
    server: Arc<SubmissionServer<R>>,
    peer: IpAddr,
    /// The route of each accepted recipient, in order.
    routes: Vec<RecipientRoute>,
    spool: Option<SpoolWriter>,
}

impl<R: Router> SubmissionConnection<R> {
    async fn login(
        &mut self,
        session: &mut ServerSession,
        credentials: mail_session::sasl::Credentials,
    ) -> Result<(), OutOfTurn> {
        let Some(directory) = self.server.directory.clone() else {
            // AUTH is not offered without a directory; a client that sends it anyway is told
            // it cannot log in here.
            return session.reject_login(LoginRejection::NotPermitted);
        };
        let Some(attempt) = self.server.throttle.begin(self.peer).await else {
            tracing::info!(peer = %self.peer, "submission login refused: another attempt from this address is in progress");
            return session.reject_login(LoginRejection::Temporary);
        };
        let offered = credentials.clone();
        let check = move || directory.login(&offered, Protocol::Submission);
        let verdict = match &self.server.password_checks {
            Some(pool) => pool.run(check).await,
            None => tokio::task::spawn_blocking(check).await.ok(),
        }
        .unwrap_or(Err(AuthError::Unavailable(
            "authentication task failed".into(),
        )));
        match verdict {
            Ok(account) => {
                attempt.succeeded(credentials.username.as_str());
                tracing::info!(peer = %self.peer, %account, "submission login");
                session.accept_login(account.to_string())
            }
            Err(AuthError::Unavailable(reason)) => {
                tracing::warn!(%reason, "directory unavailable");
                session.reject_login(LoginRejection::Temporary)
            }
            Err(error) => {
                tracing::info!(peer = %self.peer, user = %Escaped(credentials.username.as_str()), %error, "submission login refused");
                attempt.failed(credentials.username.as_str()).await;
                session.reject_login(error.rejection())
            }
        }
    }

    async fn message_start(
        &mut self,
        session: &mut ServerSession,
        envelope: Envelope,
    ) -> Result<(), OutOfTurn> {
        let id = self.server.message_id();
        match SpoolWriter::create(&self.server.config.spool_directory) {
            Ok(mut spool) => {
                if self.server.config.add_received_field {
                    let trace = received_field(
                        &envelope,
                        self.peer,
                        &self.server.config.session.hostname,
                        &id,
                        SystemTime::now(),
                    );
                    spool.push(trace.as_bytes());
                }
                self.spool = Some(spool);
                session.start_message()
            }
            Err(error) => {
                tracing::warn!(%error, "cannot create a spool file");
                self.routes.clear();
                session.refuse_message(Reply::new(
                    451,
                    Some((4, 3, 0)),
                    "cannot accept the message now, try again later",
                ))
            }
        }
    }

    async fn message_end(
        &mut self,
        session: &mut ServerSession,
        envelope: Envelope,
    ) -> Result<(), OutOfTurn> {
        let routes = std::mem::take(&mut self.routes);
        let Some(spool) = self.spool.take() else {
            return session.reject_message(Reply::new(451, Some((4, 3, 0)), "message lost"));
        };
        let message = match spool.finish().await {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "spool write failed");
                return session.reject_message(Reply::new(
                    451,
                    Some((4, 3, 0)),
                    "cannot store the message now, try again later",
                ));
            }
        };
        match self
            .server
            .router
            .deliver(&envelope, &routes, message)
            .await
        {
            Ok(text) => {
                tracing::info!(peer = %self.peer, from = %Escaped(envelope.from.to_string().as_str()), recipients = routes.len(), "message accepted");
                session.accept_message(text)
            }
            Err(reply) => {
                tracing::info!(peer = %self.peer, reply = %Escaped(reply.to_string().as_str()), "message not accepted");
                session.reject_message(reply)
            }
        }
    }
}

impl<R: Router> Handler<ServerSession> for SubmissionConnection<R> {
    async fn handle(&mut self, session: &mut ServerSession, event: Event) -> Result<(), OutOfTurn> {
        match event {
            Event::Login { credentials } => self.login(session, credentials).await,
            Event::Mail { from, .. } => {
                self.routes.clear();
                match self
                    .server
                    .router
                    .check_sender(session.authenticated_as(), &from)
                {
                    Ok(()) => session.accept_mail(),
                    Err(reply) => session.reject_mail(reply),
                }
            }
            Event::Rcpt { to, .. } => match self.server.router.route(&to) {
                RecipientRoute::Refuse(reply) => session.reject_rcpt(reply),
                route => {
                    self.routes.push(route);
                    session.accept_rcpt()
                }
            },
            Event::MessageStart { envelope } => self.message_start(session, envelope).await,
            Event::MessageData => {
                if let Some(spool) = self.spool.as_mut() {
                    session.take_message_data(|part| spool.push(part))?;
                    spool.write_if_full().await;
                } else {
                    session.take_message_data(|_| {})?;
                }
                Ok(())
            }
            Event::MessageEnd { envelope, .. } => self.message_end(session, envelope).await,
            Event::MessageAborted { .. } => {
                self.spool = None;
                self.routes.clear();
                Ok(())
            }
        }
    }
}
