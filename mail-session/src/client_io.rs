//! The client side's connection: TCP connect, implicit TLS or a later STARTTLS/STLS, and the
//! loop that moves a client session's bytes and hands back its events.
//!
//! Every protocol client (POP3, SMTP, IMAP) runs its Sans-IO session through a
//! [`ClientConnection`]: the protocol crate decides which command to send next and what an event
//! means; this module does the IO, the deadlines and the TLS switch.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::driver::{StartTls, TlsUpgrade, Transport};
use crate::{Progress, Session};

/// How the connection is protected. The implicit-TLS ports (995, 993, 465) mean
/// [`Security::ImplicitTls`]; the others mean [`Security::StartTls`]; there is no guessing from
/// the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (RFC 8314).
    ImplicitTls,
    /// Plain, then STARTTLS/STLS before anything else; the protocol client fails if the server
    /// does not offer it.
    StartTls,
    /// No TLS at all. Passwords cross the network in the clear: for tests on loopback only.
    Plain,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The server's address.
    pub address: SocketAddr,
    /// The name its certificate must carry.
    pub server_name: String,
    /// How the connection is protected.
    pub security: Security,
    /// The rustls configuration (trust roots); required unless `security` is `Plain`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// How long the TCP connect and each TLS handshake may take.
    pub connect_timeout: Duration,
}

impl ConnectOptions {
    /// No TLS at all: passwords cross the network in the clear. For tests on loopback.
    pub fn plain(address: SocketAddr) -> Self {
        ConnectOptions {
            address,
            server_name: address.ip().to_string(),
            security: Security::Plain,
            tls: None,
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// Plain, then the protocol's upgrade command (STARTTLS, STLS) before anything else; the
    /// server's certificate must carry `server_name` and be trusted by `tls`.
    pub fn starttls(
        address: SocketAddr,
        server_name: impl Into<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        ConnectOptions {
            server_name: server_name.into(),
            security: Security::StartTls,
            tls: Some(tls),
            ..ConnectOptions::plain(address)
        }
    }

    /// TLS from the first byte (RFC 8314).
    pub fn implicit_tls(
        address: SocketAddr,
        server_name: impl Into<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        ConnectOptions {
            security: Security::ImplicitTls,
            ..ConnectOptions::starttls(address, server_name, tls)
        }
    }
}

/// Why the connection failed (protocol clients wrap this in their own error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The network failed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The connect or a handshake took too long.
    #[error("timed out connecting")]
    TimedOut,
    /// TLS asked for without a TLS configuration, or an invalid server name.
    #[error("configuration: {0}")]
    Config(&'static str),
    /// The client left an event of its session unanswered (a bug in the protocol client).
    #[error("an event of the session was left unanswered")]
    Unanswered,
}

/// A client's connection. See the module docs.
#[derive(Debug)]
pub struct ClientConnection {
    /// `None` only while a TLS handshake has the stream.
    io: Option<Transport>,
    upgrade: TlsUpgrade,
    handshake_timeout: Duration,
    buffer: Vec<u8>,
}

impl ClientConnection {
    /// Connects over TCP; with [`Security::ImplicitTls`] the handshake is done before this
    /// returns. A STARTTLS upgrade happens later, when the session says
    /// [`Progress::StartTls`].
    pub async fn connect(options: &ConnectOptions) -> Result<ClientConnection, ConnectionError> {
        let tcp =
            tokio::time::timeout(options.connect_timeout, TcpStream::connect(options.address))
                .await
                .map_err(|_| ConnectionError::TimedOut)??;
        let _ = tcp.set_nodelay(true);
        let upgrade = match (&options.tls, options.security) {
            (_, Security::Plain) => TlsUpgrade::Unavailable,
            (None, _) => {
                return Err(ConnectionError::Config(
                    "TLS requested without a TLS configuration",
                ))
            }
            (Some(tls), _) => TlsUpgrade::Client {
                connector: TlsConnector::from(tls.clone()),
                server_name: ServerName::try_from(options.server_name.clone())
                    .map_err(|_| ConnectionError::Config("invalid server name"))?,
            },
        };
        let mut connection = ClientConnection {
            io: Some(Transport::Plain(tcp)),
            upgrade,
            handshake_timeout: options.connect_timeout,
            buffer: vec![0u8; 64 * 1024],
        };
        if options.security == Security::ImplicitTls {
            connection.upgrade_transport().await?;
        }
        Ok(connection)
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.io.as_ref().is_some_and(Transport::is_tls)
    }

    async fn upgrade_transport(&mut self) -> Result<(), ConnectionError> {
        let plain = self
            .io
            .take()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        let handshake = self.upgrade.start_tls(plain);
        let upgraded = tokio::time::timeout(self.handshake_timeout, handshake)
            .await
            .map_err(|_| ConnectionError::TimedOut)??;
        self.io = Some(upgraded);
        Ok(())
    }

    fn io(&mut self) -> io::Result<&mut Transport> {
        self.io
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Runs `session` until it has an event (`Some`) or closes (`None`): writes its output,
    /// reads when it needs input (no longer than its deadline), fires its timers, and switches
    /// to TLS when it says so (then tells it [`Session::tls_established`]).
    pub async fn next_event<S: Session>(
        &mut self,
        session: &mut S,
    ) -> Result<Option<S::Event>, ConnectionError> {
        loop {
            let now = Instant::now();
            if session
                .poll_timeout()
                .is_some_and(|deadline| deadline <= now)
            {
                session.handle_timeout(now);
            }
            match session.next(now) {
                Progress::Event(event) => return Ok(Some(event)),
                Progress::AwaitingAnswer => return Err(ConnectionError::Unanswered),
                Progress::Output(bytes) => self.io()?.write_all(bytes).await?,
                Progress::StartTls => {
                    self.io()?.flush().await?;
                    self.upgrade_transport().await?;
                    session.tls_established();
                }
                Progress::Close => return Ok(None),
                Progress::NeedMoreInput => {
                    let deadline = session.poll_timeout();
                    let ClientConnection { io, buffer, .. } = self;
                    let io = io
                        .as_mut()
                        .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
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
                        session.input_closed();
                    } else {
                        session.enqueue_input(&self.buffer[..read]);
                    }
                }
            }
        }
    }

    /// Writes what the session has to send, without reading: for a client that streams a
    /// message body while no reply is due. Returns an event if the session has one first (a
    /// reply that arrived earlier), `Ok(None)` once everything is written.
    pub async fn write_output<S: Session>(
        &mut self,
        session: &mut S,
    ) -> Result<Option<S::Event>, ConnectionError> {
        loop {
            match session.next(Instant::now()) {
                Progress::Output(bytes) => self.io()?.write_all(bytes).await?,
                Progress::Event(event) => return Ok(Some(event)),
                Progress::AwaitingAnswer => return Err(ConnectionError::Unanswered),
                Progress::StartTls => {
                    self.io()?.flush().await?;
                    self.upgrade_transport().await?;
                    session.tls_established();
                }
                Progress::Close => return Err(io::Error::from(io::ErrorKind::NotConnected).into()),
                Progress::NeedMoreInput => {
                    self.io()?.flush().await?;
                    return Ok(None);
                }
            }
        }
    }

    /// Shuts the connection down (TLS close_notify, then TCP FIN).
    pub async fn shutdown(&mut self) {
        if let Some(io) = self.io.as_mut() {
            let _ = io.shutdown().await;
        }
    }
}
