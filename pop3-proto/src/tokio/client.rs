//! The tokio POP3 client: connect (implicit TLS, STLS, or plain), log in, and the commands of
//! RFC 1939, with messages streamed to a writer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_session::driver::{StartTls, TlsUpgrade, Transport};
use mail_session::sasl::{Credentials, Mechanism, Secret};
use mail_session::{Progress, Session};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::client::{ClientOptions, ClientSession, Event};
use crate::parse::ResponseError;
use crate::types::{Capability, Command, MessageNumber, StatusLine};

/// How the connection is protected. Port 995 means [`Security::ImplicitTls`]; port 110 means
/// [`Security::StartTls`]; there is no guessing from the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (pop3s, RFC 8314).
    ImplicitTls,
    /// Plain, then STLS before anything else; fails if the server does not offer STLS.
    StartTls,
    /// No TLS at all. Passwords cross the network in the clear: for tests on loopback only.
    Plain,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's address.
    pub address: SocketAddr,
    /// The name its certificate must carry.
    pub server_name: String,
    /// How the connection is protected.
    pub security: Security,
    /// The rustls configuration (trust roots); required unless `security` is `Plain`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Deadlines of the session.
    pub options: ClientOptions,
    /// How long the TCP connect and the TLS handshake may take.
    pub connect_timeout: Duration,
}

/// Why a client operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The network failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A deadline passed.
    #[error("timed out waiting for the server")]
    TimedOut,
    /// The server does not speak POP3 as expected.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered `-ERR`.
    #[error("server refused {command}: {status:?}")]
    Refused {
        /// The command.
        command: &'static str,
        /// Its answer.
        status: StatusLine,
    },
    /// The server closed the connection.
    #[error("server closed the connection")]
    Closed,
    /// The configuration cannot work (TLS asked for without a TLS configuration, STLS not
    /// offered by the server).
    #[error("configuration: {0}")]
    Config(&'static str),
}

impl From<ResponseError> for ClientError {
    fn from(error: ResponseError) -> Self {
        ClientError::Protocol(error.to_string())
    }
}

/// A connected POP3 client.
#[derive(Debug)]
pub struct Client {
    session: ClientSession,
    /// `None` only while a TLS handshake has the stream.
    io: Option<Transport>,
    upgrade: TlsUpgrade,
    capabilities: Vec<Capability>,
    buffer: Vec<u8>,
}

fn refused(command: &'static str, status: StatusLine) -> ClientError {
    ClientError::Refused { command, status }
}

impl Client {
    /// Connects, reads the greeting and the capabilities, and with [`Security::StartTls`]
    /// switches to TLS before returning.
    pub async fn connect(config: &ClientConfig) -> Result<Client, ClientError> {
        let tcp = tokio::time::timeout(config.connect_timeout, TcpStream::connect(config.address))
            .await
            .map_err(|_| ClientError::TimedOut)??;
        let _ = tcp.set_nodelay(true);
        let upgrade = match (&config.tls, config.security) {
            (_, Security::Plain) => TlsUpgrade::Unavailable,
            (None, _) => {
                return Err(ClientError::Config(
                    "TLS requested without a TLS configuration",
                ))
            }
            (Some(tls), _) => TlsUpgrade::Client {
                connector: TlsConnector::from(tls.clone()),
                server_name: ServerName::try_from(config.server_name.clone())
                    .map_err(|_| ClientError::Config("invalid server name"))?,
            },
        };
        let mut client = Client {
            session: ClientSession::new(config.options.clone()),
            io: Some(Transport::Plain(tcp)),
            upgrade,
            capabilities: Vec::new(),
            buffer: vec![0u8; 64 * 1024],
        };
        if config.security == Security::ImplicitTls {
            let handshake = client.upgrade_transport();
            tokio::time::timeout(config.connect_timeout, handshake)
                .await
                .map_err(|_| ClientError::TimedOut)??;
        }
        match client.next_event().await? {
            Event::Greeting(status) if status.ok => {}
            Event::Greeting(status) => return Err(refused("(greeting)", status)),
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected a greeting, got {other:?}"
                )))
            }
        }
        client.refresh_capabilities().await?;
        if config.security == Security::StartTls {
            if !client.capabilities.contains(&Capability::Stls) {
                return Err(ClientError::Config("the server does not offer STLS"));
            }
            client.session.send(Command::Stls);
            client.expect_ok("STLS").await?;
            // The session asks for the switch; `next_event` performs it.
            client.refresh_capabilities().await?;
        }
        let pipelining = client.capabilities.contains(&Capability::Pipelining);
        client.session.set_pipelining(pipelining);
        Ok(client)
    }

    /// What the server announced (after TLS, if any).
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.io.as_ref().is_some_and(Transport::is_tls)
    }

    fn io(&mut self) -> Result<&mut Transport, ClientError> {
        self.io.as_mut().ok_or(ClientError::Closed)
    }

    async fn upgrade_transport(&mut self) -> Result<(), ClientError> {
        let plain = self.io.take().ok_or(ClientError::Closed)?;
        self.io = Some(self.upgrade.start_tls(plain).await?);
        self.session.tls_established();
        Ok(())
    }

    async fn refresh_capabilities(&mut self) -> Result<(), ClientError> {
        self.session.send(Command::Capa);
        match self.next_event().await? {
            Event::Capabilities(capabilities) => self.capabilities = capabilities,
            // A server without CAPA (RFC 1939 only) has no extensions.
            Event::Status { ok: false, .. } => self.capabilities.clear(),
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected answer to CAPA: {other:?}"
                )))
            }
        }
        Ok(())
    }

    /// The next event, moving bytes and switching to TLS as the session says.
    async fn next_event(&mut self) -> Result<Event, ClientError> {
        loop {
            let now = Instant::now();
            if self
                .session
                .poll_timeout()
                .is_some_and(|deadline| deadline <= now)
            {
                self.session.handle_timeout(now);
            }
            match self.session.next(now) {
                Progress::Event(Event::TimedOut) => return Err(ClientError::TimedOut),
                Progress::Event(Event::Closed) => return Err(ClientError::Closed),
                Progress::Event(Event::ProtocolError(error)) => return Err(error.into()),
                Progress::Event(event) => return Ok(event),
                Progress::Output(bytes) => self.io()?.write_all(&bytes).await?,
                Progress::StartTls => {
                    self.io()?.flush().await?;
                    self.upgrade_transport().await?;
                }
                Progress::Close => return Err(ClientError::Closed),
                Progress::NeedMoreInput => {
                    let deadline = self.session.poll_timeout();
                    let Client { io, buffer, .. } = self;
                    let io = io.as_mut().ok_or(ClientError::Closed)?;
                    io.flush().await?;
                    let read = match deadline {
                        Some(deadline) => {
                            match tokio::time::timeout_at(deadline.into(), io.read(buffer)).await {
                                Ok(read) => read?,
                                Err(_) => continue,
                            }
                        }
                        None => io.read(buffer).await?,
                    };
                    if read == 0 {
                        self.session.input_closed();
                    } else {
                        self.session.enqueue_input(&self.buffer[..read]);
                    }
                }
            }
        }
    }

    async fn expect_ok(&mut self, command: &'static str) -> Result<StatusLine, ClientError> {
        match self.next_event().await? {
            Event::Status {
                ok: true, status, ..
            } => Ok(status),
            Event::Status {
                ok: false, status, ..
            } => Err(refused(command, status)),
            other => Err(ClientError::Protocol(format!(
                "unexpected answer to {command}: {other:?}"
            ))),
        }
    }

    /// Logs in: SASL PLAIN when the server offers it, USER/PASS otherwise.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<(), ClientError> {
        let credentials = Credentials::new(username, password);
        let sasl_plain = self.capabilities.iter().any(|capability| {
            matches!(capability, Capability::Sasl(mechanisms) if mechanisms.iter().any(|m| m.eq_ignore_ascii_case("PLAIN")))
        });
        if sasl_plain {
            self.session.authenticate(Mechanism::Plain, credentials);
            return match self.next_event().await? {
                Event::Authenticated { ok: true, .. } => Ok(()),
                Event::Authenticated { ok: false, status } => Err(refused("AUTH", status)),
                other => Err(ClientError::Protocol(format!(
                    "unexpected answer to AUTH: {other:?}"
                ))),
            };
        }
        self.session.send(Command::User(username.to_string()));
        self.session.send(Command::Pass(Secret::new(password)));
        let user = self.expect_ok("USER").await;
        let pass = self.expect_ok("PASS").await;
        user?;
        pass.map(|_| ())
    }

    /// STAT: the number of messages and their total size.
    pub async fn stat(&mut self) -> Result<(u32, u64), ClientError> {
        self.session.send(Command::Stat);
        let status = self.expect_ok("STAT").await?;
        crate::parse::drop_listing(status.text.as_bytes()).map_err(Into::into)
    }

    /// LIST: each message's number and size.
    pub async fn list(&mut self) -> Result<Vec<(MessageNumber, u64)>, ClientError> {
        self.session.send(Command::List(None));
        match self.next_event().await? {
            Event::ScanListing(listing) => Ok(listing),
            Event::Status { status, .. } => Err(refused("LIST", status)),
            other => Err(ClientError::Protocol(format!(
                "unexpected answer to LIST: {other:?}"
            ))),
        }
    }

    /// UIDL: each message's number and unique id.
    pub async fn uidl(&mut self) -> Result<Vec<(MessageNumber, String)>, ClientError> {
        self.session.send(Command::Uidl(None));
        match self.next_event().await? {
            Event::UniqueIds(listing) => Ok(listing),
            Event::Status { status, .. } => Err(refused("UIDL", status)),
            other => Err(ClientError::Protocol(format!(
                "unexpected answer to UIDL: {other:?}"
            ))),
        }
    }

    async fn fetch(
        &mut self,
        command: Command,
        keyword: &'static str,
        sink: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, ClientError> {
        self.session.send(command);
        match self.next_event().await? {
            Event::MessageStart { .. } => {}
            Event::Status { status, .. } => return Err(refused(keyword, status)),
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected answer to {keyword}: {other:?}"
                )))
            }
        }
        let mut written = 0u64;
        loop {
            match self.next_event().await? {
                Event::MessageData(data) => {
                    sink.write_all(&data).await?;
                    written += data.len() as u64;
                }
                Event::MessageEnd => return Ok(written),
                other => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected event in a message: {other:?}"
                    )))
                }
            }
        }
    }

    /// RETR: streams the message, un-stuffed, into `sink`; returns its size.
    pub async fn retr(
        &mut self,
        message: MessageNumber,
        sink: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, ClientError> {
        self.fetch(Command::Retr(message), "RETR", sink).await
    }

    /// TOP: the header and the first `lines` body lines.
    pub async fn top(
        &mut self,
        message: MessageNumber,
        lines: u32,
    ) -> Result<Vec<u8>, ClientError> {
        let mut top = Vec::new();
        self.fetch(Command::Top { message, lines }, "TOP", &mut top)
            .await?;
        Ok(top)
    }

    /// DELE: marks a message for deletion at QUIT.
    pub async fn dele(&mut self, message: MessageNumber) -> Result<(), ClientError> {
        self.session.send(Command::Dele(message));
        self.expect_ok("DELE").await.map(|_| ())
    }

    /// RSET: unmarks every message.
    pub async fn rset(&mut self) -> Result<(), ClientError> {
        self.session.send(Command::Rset);
        self.expect_ok("RSET").await.map(|_| ())
    }

    /// NOOP.
    pub async fn noop(&mut self) -> Result<(), ClientError> {
        self.session.send(Command::Noop);
        self.expect_ok("NOOP").await.map(|_| ())
    }

    /// QUIT: ends the session; the server removes the marked messages. An `-ERR` means some
    /// were not removed.
    pub async fn quit(mut self) -> Result<(), ClientError> {
        self.session.send(Command::Quit);
        self.expect_ok("QUIT").await?;
        if let Some(io) = self.io.as_mut() {
            let _ = io.shutdown().await;
        }
        Ok(())
    }
}
