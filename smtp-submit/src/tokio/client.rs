//! The tokio SMTP client: connect (implicit TLS, STARTTLS, or plain), EHLO, AUTH, and submit
//! messages streamed from a reader, with PIPELINING and CHUNKING where the server offers them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_session::client_io::{ClientConnection, ConnectOptions, ConnectionError};
use mail_session::sasl::{Credentials, Mechanism};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::client::{ClientOptions, ClientSession, Event};
use crate::parse::ReplyError;
use crate::types::{
    BodyType, Command, Domain, Extension, ForwardPath, MailParameters, RcptParameters, Recipient,
    Reply, ReversePath,
};

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
    /// What this client calls itself in EHLO.
    pub helo_name: Domain,
    /// Deadlines of the session.
    pub options: ClientOptions,
    /// How long the TCP connect and the TLS handshake may take.
    pub connect_timeout: Duration,
}

impl ClientConfig {
    /// A configuration for the connection `connect`, with the default session options.
    pub fn new(connect: ConnectOptions) -> Self {
        ClientConfig {
            address: connect.address,
            server_name: connect.server_name,
            security: connect.security,
            tls: connect.tls,
            helo_name: Domain::Name("localhost".into()),
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
    /// # async fn send(tls: std::sync::Arc<rustls::ClientConfig>) -> Result<(), smtp_submit::tokio::ClientError> {
    /// use smtp_submit::tokio::{Client, ClientConfig, Envelope};
    ///
    /// let config = ClientConfig::starttls("192.0.2.1:587".parse().unwrap(), "mail.example.org", tls);
    /// let mut client = Client::connect(&config).await?;
    /// client.login("alice", "secret").await?;
    /// let envelope = Envelope::new("alice@example.org".parse().unwrap(), ["bob@example.net".parse().unwrap()]);
    /// client.send(&envelope, b"Subject: hi\r\n\r\nHello Bob\r\n").await?;
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
    /// The server's reply could not be read as SMTP.
    #[error("malformed reply: {0}")]
    Malformed(ReplyError),
    /// The server answered something that does not fit what was asked.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server refused a command.
    #[error("server refused {command}: {reply}")]
    Refused {
        /// The command.
        command: &'static str,
        /// Its reply.
        reply: Reply,
    },
    /// The server refused every recipient.
    #[error("no recipient accepted: {}", .0.iter().map(|(to, reply)| format!("{to}: {reply}")).collect::<Vec<_>>().join("; "))]
    NoRecipients(Vec<(String, Reply)>),
    /// The server closed the connection.
    #[error("server closed the connection")]
    Closed,
    /// The configuration cannot work (TLS asked for without a configuration, STARTTLS or AUTH
    /// not offered).
    #[error("configuration: {0}")]
    Config(&'static str),
}

impl ClientError {
    /// Whether trying again later may succeed (a `4yz` reply, a timeout, a network error).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Refused { reply, .. } => reply.code.is_transient(),
            ClientError::NoRecipients(replies) => {
                replies.iter().all(|(_, reply)| reply.code.is_transient())
            }
            ClientError::Io(_) | ClientError::TimedOut | ClientError::Closed => true,
            ClientError::Protocol(_) | ClientError::Malformed(_) | ClientError::Config(_) => false,
        }
    }
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

/// What the server said about a submitted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The final reply (`250`).
    pub reply: Reply,
    /// Recipients the server refused at RCPT, with its reply; the others got the message.
    pub refused: Vec<(String, Reply)>,
}

/// A message's envelope for [`Client::send_message`].
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The sender.
    pub from: ReversePath,
    /// MAIL's parameters (BODY, SMTPUTF8, DSN ...); `SIZE` is added when known.
    pub parameters: MailParameters,
    /// The recipients and their parameters.
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    /// An envelope from `from` to `to`, without parameters (the client adds `SIZE`, and
    /// `BODY`/`SMTPUTF8` are yours to set in `parameters` when the message needs them).
    ///
    /// ```
    /// use smtp_submit::tokio::Envelope;
    /// let envelope = Envelope::new(
    ///     "alice@example.org".parse().unwrap(),
    ///     ["bob@example.net".parse().unwrap(), "carol@example.net".parse().unwrap()],
    /// );
    /// assert_eq!(envelope.recipients.len(), 2);
    /// ```
    pub fn new(from: ReversePath, to: impl IntoIterator<Item = ForwardPath>) -> Self {
        Envelope {
            from,
            parameters: MailParameters::default(),
            recipients: to.into_iter().map(Recipient::new).collect(),
        }
    }
}

/// The size of BDAT chunks and of reads from the message.
const CHUNK: usize = 256 * 1024;

/// A connected SMTP client.
#[derive(Debug)]
pub struct Client {
    session: ClientSession,
    connection: ClientConnection,
    extensions: Vec<Extension>,
    helo_name: Domain,
}

fn refused(command: &'static str, reply: Reply) -> ClientError {
    ClientError::Refused { command, reply }
}

impl Client {
    /// Connects, reads the greeting, says EHLO, and with [`Security::StartTls`] switches to
    /// TLS (and says EHLO again) before returning.
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
            extensions: Vec::new(),
            helo_name: config.helo_name.clone(),
        };
        match client.next_event().await? {
            Event::Greeting(reply) if reply.code.get() == 220 => {}
            Event::Greeting(reply) => return Err(refused("(greeting)", reply)),
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected a greeting, got {other:?}"
                )))
            }
        }
        client.ehlo().await?;
        if config.security == Security::StartTls {
            if !client.extensions.contains(&Extension::StartTls) {
                return Err(ClientError::Config("the server does not offer STARTTLS"));
            }
            client.session.send(Command::StartTls);
            client.expect("STARTTLS", 220).await?;
            // The session asked for the switch; `next_event` performed it. RFC 3207 section
            // 4.2: everything learned before is forgotten.
            client.ehlo().await?;
        }
        Ok(client)
    }

    /// What the server announced (after TLS, if any).
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.connection.is_tls()
    }

    fn has(&self, extension: &Extension) -> bool {
        self.extensions.contains(extension)
    }

    async fn next_event(&mut self) -> Result<Event, ClientError> {
        match self.connection.next_event(&mut self.session).await? {
            Some(Event::TimedOut) => Err(ClientError::TimedOut),
            Some(Event::Closed) | None => Err(ClientError::Closed),
            Some(Event::ProtocolError(error)) => Err(ClientError::Malformed(error)),
            Some(event) => Ok(event),
        }
    }

    async fn reply(&mut self) -> Result<(&'static str, Reply), ClientError> {
        match self.next_event().await? {
            Event::Reply { command, reply } => Ok((command, reply)),
            other => Err(ClientError::Protocol(format!("unexpected event {other:?}"))),
        }
    }

    async fn expect(&mut self, command: &'static str, code: u16) -> Result<Reply, ClientError> {
        let (_, reply) = self.reply().await?;
        if reply.code.get() == code {
            Ok(reply)
        } else {
            Err(refused(command, reply))
        }
    }

    async fn ehlo(&mut self) -> Result<(), ClientError> {
        self.session.send(Command::Ehlo(self.helo_name.clone()));
        match self.next_event().await? {
            Event::Ehlo { reply, extensions } if reply.code.is_positive() => {
                self.extensions = extensions;
                Ok(())
            }
            Event::Ehlo { reply, .. } => Err(refused("EHLO", reply)),
            other => Err(ClientError::Protocol(format!(
                "unexpected answer to EHLO: {other:?}"
            ))),
        }
    }

    /// Authenticates with PLAIN, or LOGIN when PLAIN is not offered.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<(), ClientError> {
        let offered = self
            .extensions
            .iter()
            .find_map(|extension| match extension {
                Extension::Auth(mechanisms) => Some(mechanisms.clone()),
                _ => None,
            })
            .ok_or(ClientError::Config("the server offers no AUTH here"))?;
        let mechanism = [Mechanism::Plain, Mechanism::Login]
            .into_iter()
            .find(|mechanism| offered.iter().any(|name| name == mechanism.name()))
            .ok_or(ClientError::Config(
                "the server offers neither PLAIN nor LOGIN",
            ))?;
        self.session
            .authenticate(mechanism, Credentials::new(username, password));
        match self.next_event().await? {
            Event::Authenticated { ok: true, .. } => Ok(()),
            Event::Authenticated { reply, .. } => Err(refused("AUTH", reply)),
            other => Err(ClientError::Protocol(format!(
                "unexpected answer to AUTH: {other:?}"
            ))),
        }
    }

    /// Submits one message held in memory (see [`Client::send_message`]); its size is
    /// declared when the server takes `SIZE`.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Submitted, ClientError> {
        let mut reader = message;
        self.send_message(envelope, Some(message.len() as u64), &mut reader)
            .await
    }

    /// Submits one message read from `message`: MAIL, RCPT for each recipient and DATA (or
    /// BDAT with CHUNKING), pipelined when the server allows it. `size`, when known, is
    /// declared with `SIZE=`. Succeeds when the server accepted the message for at least one
    /// recipient.
    pub async fn send_message(
        &mut self,
        envelope: &Envelope,
        size: Option<u64>,
        message: &mut (impl AsyncRead + Unpin),
    ) -> Result<Submitted, ClientError> {
        let mut parameters = envelope.parameters.clone();
        if self
            .extensions
            .iter()
            .any(|e| matches!(e, Extension::Size(_)))
        {
            parameters.size = size;
        } else {
            parameters.size = None;
        }
        if parameters.body == Some(BodyType::EightBitMime) && !self.has(&Extension::EightBitMime) {
            return Err(ClientError::Config("the server does not accept 8BITMIME"));
        }
        if parameters.smtputf8 && !self.has(&Extension::SmtpUtf8) {
            return Err(ClientError::Config("the server does not accept SMTPUTF8"));
        }
        // RFC 3030 section 3: a BINARYMIME body can only go by BDAT to a server that takes it;
        // sent over DATA it would be altered.
        if parameters.body == Some(BodyType::BinaryMime)
            && !(self.has(&Extension::BinaryMime) && self.has(&Extension::Chunking))
        {
            return Err(ClientError::Config(
                "the server does not accept BINARYMIME with CHUNKING",
            ));
        }
        // Parameters of extensions the server did not announce would be refused (555):
        // DSN's are dropped (the server then uses its default notifications), AUTH= too.
        let dsn = self.has(&Extension::Dsn);
        if !dsn {
            parameters.ret = None;
            parameters.envid = None;
        }
        if !self
            .extensions
            .iter()
            .any(|e| matches!(e, Extension::Auth(_)))
        {
            parameters.auth = None;
        }
        let pipelining = self.has(&Extension::Pipelining);
        let chunking = self.has(&Extension::Chunking);
        self.session.send(Command::Mail {
            from: envelope.from.clone(),
            parameters,
        });
        let mut mail_reply = None;
        if !pipelining {
            mail_reply = Some(self.reply().await?.1);
        }
        let mut refused_recipients = Vec::new();
        let mut accepted = 0;
        let mut rcpt_replies = Vec::new();
        for recipient in &envelope.recipients {
            self.session.send(Command::Rcpt {
                to: recipient.to.clone(),
                parameters: if dsn {
                    recipient.parameters.clone()
                } else {
                    RcptParameters::default()
                },
            });
            if !pipelining {
                rcpt_replies.push(self.reply().await?.1);
            }
        }
        if pipelining && !chunking {
            // RFC 2920: DATA may end the group; its reply says whether the body is wanted.
            self.session.send(Command::Data);
        }
        if pipelining {
            mail_reply = Some(self.reply().await?.1);
            for _ in &envelope.recipients {
                rcpt_replies.push(self.reply().await?.1);
            }
        }
        for (recipient, reply) in envelope.recipients.iter().zip(rcpt_replies) {
            if reply.code.is_positive() {
                accepted += 1;
            } else {
                refused_recipients.push((recipient.to.to_string(), reply));
            }
        }
        let mail_reply = mail_reply.ok_or(ClientError::Closed)?;
        if !mail_reply.code.is_positive() || accepted == 0 {
            if pipelining && !chunking {
                // The DATA sent with the group is answered too (503/554); read it.
                let (_, data_reply) = self.reply().await?;
                if data_reply.code.get() == 354 {
                    self.session.message_end();
                    self.reply().await?;
                }
            }
            self.session.send(Command::Rset);
            self.reply().await?;
            if !mail_reply.code.is_positive() {
                return Err(refused("MAIL", mail_reply));
            }
            return Err(ClientError::NoRecipients(refused_recipients));
        }
        let reply = if chunking {
            let binary = envelope.parameters.body == Some(BodyType::BinaryMime);
            self.send_chunks(message, binary).await?
        } else {
            if !pipelining {
                self.session.send(Command::Data);
            }
            let (_, data_reply) = self.reply().await?;
            if data_reply.code.get() != 354 {
                return Err(refused("DATA", data_reply));
            }
            self.send_data(message).await?
        };
        if !reply.code.is_positive() {
            return Err(refused("DATA", reply));
        }
        Ok(Submitted {
            reply,
            refused: refused_recipients,
        })
    }

    async fn send_data(
        &mut self,
        message: &mut (impl AsyncRead + Unpin),
    ) -> Result<Reply, ClientError> {
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = message.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            self.session.message_data(&buffer[..read]);
            if let Some(event) = self.connection.write_output(&mut self.session).await? {
                return Err(ClientError::Protocol(format!(
                    "reply while sending the message: {event:?}"
                )));
            }
        }
        self.session.message_end();
        Ok(self.reply().await?.1)
    }

    async fn send_chunks(
        &mut self,
        message: &mut (impl AsyncRead + Unpin),
        binary: bool,
    ) -> Result<Reply, ClientError> {
        let mut current = vec![0u8; CHUNK];
        let mut filled = fill(message, &mut current).await?;
        loop {
            let mut next = vec![0u8; CHUNK];
            let next_filled = if filled == CHUNK {
                fill(message, &mut next).await?
            } else {
                0
            };
            let last = next_filled == 0;
            if binary {
                self.session.bdat_binary_chunk(&current[..filled], last);
            } else {
                self.session.bdat_chunk(&current[..filled], last);
            }
            let (_, reply) = self.reply().await?;
            if last || !reply.code.is_positive() {
                return Ok(reply);
            }
            current = next;
            filled = next_filled;
        }
    }

    /// QUIT, then closes the connection.
    pub async fn quit(mut self) -> Result<(), ClientError> {
        self.session.send(Command::Quit);
        let result = self.expect("QUIT", 221).await.map(|_| ());
        self.connection.shutdown().await;
        result
    }
}

/// Reads until `buffer` is full or the message ends; returns how much was read.
async fn fill(
    message: &mut (impl AsyncRead + Unpin),
    buffer: &mut [u8],
) -> Result<usize, ClientError> {
    let mut filled = 0;
    while filled < buffer.len() {
        match message.read(&mut buffer[filled..]).await? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}
