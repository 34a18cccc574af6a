//! The POP3 service: what USER/PASS, RETR, TOP and QUIT do to a maildrop.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mail_session::driver::Handler;
use mail_session::escape::Escaped;
use mail_session::listener::{serve_service, ConnectionService, ListenerOptions, LoginThrottle};
use mail_session::workers::WorkerPool;
use mail_session::{OutOfTurn, TlsMode};
use mailstore::{
    AccountName, AuthError, Directory, Expunge, FlagOperation, MailStore, MailboxName,
    MaildropLock, Protocol, StoreError, Uid,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::server::{
    Event, LoginRejection, MaildropEntry, MessageProgress, MessageShape, Options, ServerSession,
};
use crate::types::{ResponseCode, StatusLine};

/// How the server behaves; the session options of every connection start from `session`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pop3ServerConfig {
    /// Session options (limits, plaintext policy, inactivity timeout, greeting). Their `tls`
    /// is not read: each connection's TLS mode follows from its listener and the server's
    /// TLS configuration.
    pub session: Options,
    /// Connection limit, shutdown grace and TCP keepalive of each listener.
    pub listener: ListenerOptions,
    /// The longest a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// Messages no larger than this many octets (as stored) are opened and read on the
    /// async thread instead of on tokio's blocking pool. Reading a small file the kernel has
    /// cached takes microseconds, while the trip to the blocking pool and back costs two
    /// thread switches per RETR; on a slow or remote disk the read would hold up the other
    /// connections of that thread, so the default, 0, never reads on the async threads.
    pub inline_read_limit: u64,
}

impl Default for Pop3ServerConfig {
    fn default() -> Self {
        Pop3ServerConfig {
            session: Options::default(),
            listener: ListenerOptions::default(),
            tls_handshake_timeout: Duration::from_secs(30),
            inline_read_limit: 0,
        }
    }
}

/// A POP3 server: serves the INBOX of each account of a [`Directory`] from a [`MailStore`].
///
/// ```no_run
/// use std::sync::Arc;
/// use mailstore::{MemoryDirectory, MemoryStore};
/// use pop3_proto::tokio::Pop3Server;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let directory = Arc::new(MemoryDirectory::new().with_user("alice", "secret")?);
/// let server = Pop3Server::builder(Arc::new(MemoryStore::new()), directory).build();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:1100").await?;
/// let shutdown = mail_session::listener::Shutdown::new();
/// server.serve_plain(listener, shutdown.subscribe()).await;
/// # Ok(()) }
/// ```
pub struct Pop3Server {
    store: Arc<dyn MailStore>,
    directory: Arc<dyn Directory>,
    throttle: LoginThrottle,
    /// Password checks run here, one per core at a time (argon2 is CPU- and memory-heavy).
    /// (`None` only if its threads could not be started: then tokio's blocking pool is used.)
    password_checks: Option<WorkerPool>,
    tls: Option<TlsAcceptor>,
    config: Pop3ServerConfig,
}

impl std::fmt::Debug for Pop3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Server")
            .field("tls", &self.tls.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How much of a message is read from the store at a time.
const CHUNK: usize = 64 * 1024;

/// Builds a [`Pop3Server`]; start with [`Pop3Server::builder`].
#[must_use = "call build() to get the server"]
pub struct Pop3ServerBuilder {
    store: Arc<dyn MailStore>,
    directory: Arc<dyn Directory>,
    throttle: Option<LoginThrottle>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Pop3ServerConfig,
}

impl std::fmt::Debug for Pop3ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3ServerBuilder")
            .field("tls", &self.tls.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Pop3ServerBuilder {
    /// The TLS configuration: STLS is offered on plain listeners and implicit-TLS (pop3s)
    /// listeners can be served. Without it, neither, and passwords are refused unless
    /// `config.session.allow_plaintext_auth` says otherwise.
    pub fn tls(mut self, tls: impl Into<Option<Arc<rustls::ServerConfig>>>) -> Self {
        self.tls = tls.into();
        self
    }

    /// Session options, listener limits and timeouts.
    pub fn config(mut self, config: Pop3ServerConfig) -> Self {
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
    pub fn build(self) -> Arc<Pop3Server> {
        if self.tls.is_none() && !self.config.session.allow_plaintext_auth {
            tracing::warn!(
                "POP3 server without TLS and with plaintext authentication off: no client can log in"
            );
        }
        Arc::new(Pop3Server {
            store: self.store,
            directory: self.directory,
            throttle: self.throttle.unwrap_or_default(),
            password_checks: WorkerPool::per_core("pop3-auth").ok(),
            tls: self.tls.map(TlsAcceptor::from),
            config: self.config,
        })
    }
}

impl Pop3Server {
    /// Starts building a server over `store` whose accounts `directory` checks.
    pub fn builder(store: Arc<dyn MailStore>, directory: Arc<dyn Directory>) -> Pop3ServerBuilder {
        Pop3ServerBuilder {
            store,
            directory,
            throttle: None,
            tls: None,
            config: Pop3ServerConfig::default(),
        }
    }

    /// Serves a plain listener (STLS offered when TLS is configured) until `shutdown`.
    pub async fn serve_plain(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        serve_service(self, listener, false, shutdown).await;
    }

    /// Serves an implicit-TLS listener (pop3s) until `shutdown`.
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        serve_service(self, listener, true, shutdown).await;
    }
}

/// One connection's service state.
#[doc(hidden)]
pub struct Pop3Connection {
    server: Arc<Pop3Server>,
    peer: IpAddr,
    account: Option<AccountName>,
    lock: Option<MaildropLock>,
    /// Each message's UID, whether its line ends are all CR LF, and its size as stored.
    uids: Vec<(Uid, bool, u64)>,
    reader: Option<Box<dyn Read + Send>>,
    first_chunk: Option<Vec<u8>>,
    /// Messages sent whole (RETR), marked \Seen at QUIT.
    retrieved: Vec<u32>,
}

impl ConnectionService for Pop3Server {
    const PROTOCOL: &'static str = "POP3";
    type Session = ServerSession;
    type Handler = Pop3Connection;

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

    fn handler(self: &Arc<Self>, peer: SocketAddr) -> Pop3Connection {
        Pop3Connection {
            server: self.clone(),
            peer: peer.ip(),
            account: None,
            lock: None,
            uids: Vec::new(),
            reader: None,
            first_chunk: None,
            retrieved: Vec::new(),
        }
    }
}

/// A message opened for RETR/TOP: the reader for the rest (none if the first chunk held the
/// whole message) and the first chunk.
type OpenedMessage = (Option<Box<dyn Read + Send>>, Vec<u8>);

/// Opens a message and reads its first chunk: all of it, and the end found, when its stored
/// `size` fits in one chunk (the buffer is one octet larger than the size, so the end is seen
/// without a second read).
fn open_message(
    store: &dyn MailStore,
    account: &AccountName,
    uid: Uid,
    size: u64,
) -> Result<OpenedMessage, StoreError> {
    let content = store.open_message(account, &MailboxName::inbox(), uid)?;
    let mut reader: Box<dyn Read + Send> = Box::new(content.reader);
    let first_length = usize::try_from(size.saturating_add(1)).map_or(CHUNK, |n| n.min(CHUNK));
    let mut first = vec![0u8; first_length];
    let mut filled = 0;
    let mut at_end = false;
    while filled < first.len() {
        match reader.read(&mut first[filled..])? {
            0 => {
                at_end = true;
                break;
            }
            read => filled += read,
        }
    }
    first.truncate(filled);
    // A message that fit in the first chunk needs no second trip just to find its end.
    Ok((if at_end { None } else { Some(reader) }, first))
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

/// Whether the header section of a message's start holds non-ASCII octets (RFC 6532
/// internationalised header fields), which RFC 6856 keeps from clients not in UTF-8 mode.
fn header_needs_utf8(start: &[u8]) -> bool {
    let header_end = memchr::memmem::find(start, b"\n\r\n")
        .or_else(|| memchr::memmem::find(start, b"\n\n"))
        .unwrap_or(start.len());
    start[..header_end].iter().any(|&byte| byte >= 0x80)
}

/// POP3's unique id, the way Dovecot's default `pop3_uidl_format` (`%08Xu%08Xv`) writes it
/// (Dovecot's `X` is lower-case hex), so a maildrop moved between the two keeps its ids and
/// clients download nothing twice.
fn unique_id(uid: Uid, validity: mailstore::UidValidity) -> String {
    format!("{:08x}{:08x}", uid.get(), validity.get())
}

impl Pop3Connection {
    async fn login(
        &mut self,
        session: &mut ServerSession,
        credentials: mail_session::sasl::Credentials,
    ) -> Result<(), OutOfTurn> {
        let Some(attempt) = self.server.throttle.begin(self.peer).await else {
            tracing::info!(peer = %self.peer, "POP3 login refused: another attempt from this address is in progress");
            return session.reject_login(LoginRejection::Temporary);
        };
        let directory = self.server.directory.clone();
        let offered = credentials.clone();
        let check = move || directory.login(&offered, Protocol::Pop3);
        let verdict = match &self.server.password_checks {
            Some(pool) => pool.run(check).await,
            None => blocking(check).await,
        }
        .unwrap_or(Err(AuthError::Unavailable(
            "authentication task failed".into(),
        )));
        let account = match verdict {
            Ok(account) => account,
            Err(AuthError::Unavailable(reason)) => {
                tracing::warn!(%reason, "directory unavailable");
                return session.reject_login(LoginRejection::Temporary);
            }
            Err(error) => {
                tracing::info!(peer = %self.peer, user = %Escaped(credentials.username.as_str()), %error, "POP3 login refused");
                attempt.failed(credentials.username.as_str()).await;
                return session.reject_login(error.rejection());
            }
        };
        attempt.succeeded(credentials.username.as_str());
        let lock = match self.server.store.lock_maildrop(&account) {
            Ok(lock) => lock,
            Err(StoreError::InUse) => {
                return session.reject_login(LoginRejection::InUse);
            }
            Err(error) => {
                tracing::warn!(%account, %error, "cannot lock maildrop");
                return session.reject_login(LoginRejection::Temporary);
            }
        };
        let store = self.server.store.clone();
        let inbox_of = account.clone();
        let snapshot = blocking(move || store.snapshot(&inbox_of, &MailboxName::inbox())).await;
        match snapshot {
            Some(Ok(snapshot)) => {
                let validity = snapshot.status.uid_validity;
                self.uids = snapshot
                    .messages
                    .iter()
                    .map(|message| (message.uid, message.size == message.wire_size, message.size))
                    .collect();
                let listing = snapshot
                    .messages
                    .iter()
                    .map(|message| MaildropEntry {
                        size: message.wire_size,
                        unique_id: unique_id(message.uid, validity),
                    })
                    .collect();
                tracing::info!(peer = %self.peer, %account, "POP3 login");
                self.account = Some(account);
                self.lock = Some(lock);
                session.accept_login(listing)
            }
            other => {
                if let Some(Err(error)) = other {
                    tracing::warn!(%account, %error, "cannot read maildrop");
                }
                session.reject_login(LoginRejection::Temporary)
            }
        }
    }

    async fn retrieve(
        &mut self,
        session: &mut ServerSession,
        message: u32,
    ) -> Result<(), OutOfTurn> {
        let (Some(account), Some(&(uid, crlf_line_ends, size))) =
            (self.account.clone(), self.uids.get(message as usize - 1))
        else {
            return session.refuse_message(StatusLine::err_with(
                ResponseCode::SysTemp,
                "message unavailable",
            ));
        };
        let store = self.server.store.clone();
        let opened = if size <= self.server.config.inline_read_limit {
            Some(open_message(store.as_ref(), &account, uid, size))
        } else {
            blocking(move || open_message(store.as_ref(), &account, uid, size)).await
        };
        match opened {
            Some(Ok((reader, first))) => {
                let shape = MessageShape {
                    needs_utf8: header_needs_utf8(&first),
                    crlf_line_ends,
                };
                self.reader = reader;
                self.first_chunk = Some(first);
                session.start_message(shape)
            }
            Some(Err(StoreError::NoSuchMessage(_))) => {
                session.refuse_message(StatusLine::err_with(
                    ResponseCode::SysPerm,
                    "message was removed by another session",
                ))
            }
            _ => session.refuse_message(StatusLine::err_with(
                ResponseCode::SysTemp,
                "cannot read the message now",
            )),
        }
    }

    async fn message_data(&mut self, session: &mut ServerSession) -> Result<(), OutOfTurn> {
        if let Some(first) = self.first_chunk.take() {
            if !first.is_empty() {
                let progress = session.push_message_data(&first)?;
                if progress == MessageProgress::Done {
                    self.reader = None;
                } else if self.reader.is_none() {
                    // The whole message was in the first chunk.
                    session.end_message()?;
                }
                return Ok(());
            }
        }
        let Some(mut reader) = self.reader.take() else {
            return session.end_message();
        };
        let read = blocking(move || {
            let mut chunk = vec![0u8; CHUNK];
            let result = reader.read(&mut chunk).map(|read| {
                chunk.truncate(read);
                chunk
            });
            (reader, result)
        })
        .await;
        match read {
            Some((_, Ok(chunk))) if chunk.is_empty() => session.end_message(),
            Some((reader, Ok(chunk))) => {
                if session.push_message_data(&chunk)? == MessageProgress::More {
                    self.reader = Some(reader);
                }
                Ok(())
            }
            _ => session.abort_message(),
        }
    }

    async fn update(
        &mut self,
        session: &mut ServerSession,
        deleted: Vec<u32>,
    ) -> Result<(), OutOfTurn> {
        let doomed: Vec<Uid> = deleted
            .iter()
            .filter_map(|&message| self.uids.get(message as usize - 1).map(|(uid, _, _)| *uid))
            .collect();
        // Messages read whole (RETR, not TOP) and kept are marked \Seen, as Dovecot does, so a
        // mail program reading the Maildir or IMAP later sees them as read (and they leave new/).
        let mut seen: Vec<Uid> = self
            .retrieved
            .iter()
            .filter(|message| !deleted.contains(message))
            .filter_map(|&message| self.uids.get(message as usize - 1).map(|(uid, _, _)| *uid))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        let result = match (self.account.clone(), doomed.is_empty() && seen.is_empty()) {
            (_, true) | (None, _) => Ok(()),
            (Some(account), false) => {
                let store = self.server.store.clone();
                blocking(move || {
                    if !seen.is_empty() {
                        let flags = [mailstore::Flag::Seen].into_iter().collect();
                        let inbox = MailboxName::inbox();
                        store.store_flags(
                            &account,
                            &inbox,
                            &seen,
                            FlagOperation::Add,
                            &flags,
                            None,
                        )?;
                    }
                    if doomed.is_empty() {
                        return Ok(Vec::new());
                    }
                    store.expunge(&account, &MailboxName::inbox(), Expunge::Uids(doomed))
                })
                .await
                .unwrap_or_else(|| Err(StoreError::Io(std::io::Error::other("task failed"))))
                .map(|_| ())
                .map_err(|error| error.to_string())
            }
        };
        self.lock = None;
        session.finish_update(result)
    }
}

impl Handler<ServerSession> for Pop3Connection {
    async fn handle(&mut self, session: &mut ServerSession, event: Event) -> Result<(), OutOfTurn> {
        match event {
            Event::Login { credentials } => self.login(session, credentials).await,
            Event::Retrieve { message, top_lines } => {
                if top_lines.is_none() {
                    self.retrieved.push(message);
                }
                self.retrieve(session, message).await
            }
            Event::MessageData { .. } => self.message_data(session).await,
            Event::Update { deleted } => self.update(session, deleted).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_detection_looks_only_at_the_header() {
        assert!(!header_needs_utf8(
            b"Subject: plain\r\n\r\nbody \xc3\xa4\r\n"
        ));
        assert!(header_needs_utf8(b"Subject: \xc3\xa4\r\n\r\nbody\r\n"));
        assert!(!header_needs_utf8(b"Subject: x\n\n\xff"));
    }

    #[test]
    fn unique_ids_follow_dovecots_default_format() {
        let uid = Uid::new(0x1a).unwrap();
        let validity = mailstore::UidValidity(std::num::NonZeroU32::new(0x5f00_0001).unwrap());
        assert_eq!(unique_id(uid, validity), "0000001a5f000001");
    }
}
