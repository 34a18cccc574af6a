//! The tokio POP3 client: connect (implicit TLS, STLS, or plain), log in, and the commands of
//! RFC 1939, with messages streamed to a writer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_session::client_io::{ClientConnection, ConnectOptions, ConnectionError};
use mail_session::sasl::{Credentials, Mechanism, Secret};
use thiserror::Error;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::{ClientOptions, ClientSession, Event};
use crate::parse::ResponseError;
use crate::types::{Capability, Command, MessageNumber, StatusLine};

pub use mail_session::client_io::Security;

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
    /// The server's answer could not be read as POP3.
    #[error("malformed answer: {0}")]
    Malformed(ResponseError),
    /// The server answered something that does not fit what was asked.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered `-ERR`.
    #[error("server refused {command}: {status}")]
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

impl From<ConnectionError> for ClientError {
    fn from(error: ConnectionError) -> Self {
        match error {
            ConnectionError::Io(error) => ClientError::Io(error),
            ConnectionError::TimedOut => ClientError::TimedOut,
            ConnectionError::Config(reason) => ClientError::Config(reason),
            _ => ClientError::Protocol(error.to_string()),
        }
    }
}

impl From<ResponseError> for ClientError {
    fn from(error: ResponseError) -> Self {
        ClientError::Malformed(error)
    }
}

impl ClientConfig {
    /// A configuration for the connection `connect`, with the default session options.
    pub fn new(connect: ConnectOptions) -> Self {
        ClientConfig {
            address: connect.address,
            server_name: connect.server_name,
            security: connect.security,
            tls: connect.tls,
            options: ClientOptions::default(),
            connect_timeout: connect.connect_timeout,
        }
    }

    /// No TLS at all: passwords cross the network in the clear. For tests on loopback.
    pub fn plain(address: SocketAddr) -> Self {
        Self::new(ConnectOptions::plain(address))
    }

    /// Plain, then the upgrade command before anything else; see
    /// [`ConnectOptions::starttls`].
    ///
    /// ```no_run
    /// # async fn fetch(tls: std::sync::Arc<rustls::ClientConfig>) -> Result<(), pop3_proto::tokio::ClientError> {
    /// use pop3_proto::tokio::{Client, ClientConfig};
    ///
    /// let config = ClientConfig::starttls("192.0.2.1:110".parse().unwrap(), "mail.example.org", tls);
    /// let mut client = Client::connect(&config).await?;
    /// client.login("alice", "secret").await?;
    /// let (count, octets) = client.stat().await?;
    /// println!("{count} messages, {octets} octets");
    /// client.quit().await
    /// # }
    /// ```
    pub fn starttls(
        address: SocketAddr,
        server_name: impl Into<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        Self::new(ConnectOptions::starttls(address, server_name, tls))
    }

    /// TLS from the first byte (RFC 8314).
    pub fn implicit_tls(
        address: SocketAddr,
        server_name: impl Into<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        Self::new(ConnectOptions::implicit_tls(address, server_name, tls))
    }
}

/// A connected POP3 client.
#[derive(Debug)]
pub struct Client {
    session: ClientSession,
    connection: ClientConnection,
    capabilities: Vec<Capability>,
}

fn refused(command: &'static str, status: StatusLine) -> ClientError {
    ClientError::Refused { command, status }
}

impl Client {
    /// Connects, reads the greeting and the capabilities, and with [`Security::StartTls`]
    /// switches to TLS before returning.
    pub async fn connect(config: &ClientConfig) -> Result<Client, ClientError> {
        let connection = ClientConnection::connect(&ConnectOptions {
            address: config.address,
            server_name: config.server_name.clone(),
            security: config.security,
            tls: config.tls.clone(),
            connect_timeout: config.connect_timeout,
        })
        .await?;
        let mut client = Client {
            session: ClientSession::new(config.options.clone()),
            connection,
            capabilities: Vec::new(),
        };
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
        self.connection.is_tls()
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
        match self.connection.next_event(&mut self.session).await? {
            Some(Event::TimedOut) => Err(ClientError::TimedOut),
            Some(Event::Closed) | None => Err(ClientError::Closed),
            Some(Event::ProtocolError(error)) => Err(error.into()),
            Some(event) => Ok(event),
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
        self.connection.shutdown().await;
        Ok(())
    }
}
