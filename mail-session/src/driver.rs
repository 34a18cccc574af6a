//! The one generic tokio driver that runs any [`Session`] over a transport.
//!
//! [`drive`] loops: it asks the session for its next [`Progress`] step, writes output (reading
//! ahead at the same time, so that a peer that pipelines while we write can never deadlock us),
//! hands events to a [`Handler`], reads when the session needs input, fires the session's timers,
//! and swaps the transport for TLS when the session says [`Progress::StartTls`]. It never parses
//! a byte or decides what to send: everything it writes came from the session.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::TlsMode;
use crate::{OutOfTurn, Progress, Session};

/// Answers a session's events. Implemented by each protocol's service layer (for example the
/// POP3 server over a mailstore); the handler answers through the session's typed methods.
pub trait Handler<S: Session> {
    /// Handles one event, answering it through the session's methods. The driver calls
    /// [`Session::next`] again once this returns. An [`OutOfTurn`] from one of those methods
    /// (return it with `?`) is a bug in the handler: the driver ends the connection with it.
    fn handle(
        &mut self,
        session: &mut S,
        event: S::Event,
    ) -> impl Future<Output = Result<(), OutOfTurn>> + Send;

    /// News from outside the connection that the session waits for next to the peer: new
    /// mail for a session in IDLE, a change another session made. The driver awaits this
    /// future only while the session needs input, together with the socket and the timers,
    /// and drops it when something else comes first, so it must be cancel-safe (a
    /// `tokio::sync::broadcast` or `watch` receive is). When it completes the driver calls
    /// [`Handler::on_news`]. The default never completes.
    fn news(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Tells the session about the news [`Handler::news`] announced (for example by queuing
    /// the untagged responses it must send); the driver then asks the session for its next
    /// step. The default does nothing.
    fn on_news(&mut self, session: &mut S) -> impl Future<Output = Result<(), OutOfTurn>> + Send {
        let _ = session;
        async { Ok(()) }
    }
}

/// Size of the one read buffer each runtime thread lends to the connections it drives.
const READ_BUFFER: usize = 16 * 1024;

thread_local! {
    /// Lent for the length of one `poll_read`, never across an await: a connection that waits
    /// for its peer holds no read buffer of its own.
    static THREAD_READ_BUFFER: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0u8; READ_BUFFER].into_boxed_slice());
}

/// Polls one read of `io` into this thread's buffer and hands what arrived to `received`
/// before the buffer is given back. `Ready(Ok(0))` is end of stream.
fn poll_read_lent<T: AsyncRead + Unpin>(
    io: &mut T,
    cx: &mut Context<'_>,
    received: &mut dyn FnMut(&[u8]),
) -> Poll<io::Result<usize>> {
    THREAD_READ_BUFFER.with(|buffer| {
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            // Only one poll runs on a thread at a time; should that ever not hold, read into a
            // small buffer of the stack instead of failing.
            let mut small = [0u8; 512];
            let mut read = ReadBuf::new(&mut small);
            return Pin::new(&mut *io).poll_read(cx, &mut read).map_ok(|()| {
                received(read.filled());
                read.filled().len()
            });
        };
        let mut read = ReadBuf::new(&mut buffer[..]);
        Pin::new(&mut *io).poll_read(cx, &mut read).map_ok(|()| {
            received(read.filled());
            read.filled().len()
        })
    })
}

/// A plain or TLS-wrapped TCP connection, swappable in place at STARTTLS.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// The server side of a TLS connection.
    ServerTls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// The client side of a TLS connection.
    ClientTls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Transport {
    /// Whether the transport is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// The underlying TCP stream.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::ServerTls(tls) => tls.get_ref().0,
            Transport::ClientTls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Transport::ServerTls(io) => Pin::new(io).poll_read(cx, buf),
            Transport::ClientTls(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Transport::ServerTls(io) => Pin::new(io).poll_write(cx, buf),
            Transport::ClientTls(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(io) => Pin::new(io).poll_flush(cx),
            Transport::ServerTls(io) => Pin::new(io).poll_flush(cx),
            Transport::ClientTls(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Transport::ServerTls(io) => Pin::new(io).poll_shutdown(cx),
            Transport::ClientTls(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

/// Switches a transport to TLS at the point a session says [`Progress::StartTls`].
pub trait StartTls<T> {
    /// Performs the handshake over `io` and returns the encrypted transport.
    fn start_tls(&mut self, io: T) -> impl Future<Output = io::Result<T>> + Send;
}

/// How a [`Transport`] is upgraded at STARTTLS/STLS.
#[derive(Clone)]
pub enum TlsUpgrade {
    /// This side cannot start TLS; a session that asks for it gets an error.
    Unavailable,
    /// Accept a TLS handshake (server side).
    Server(TlsAcceptor),
    /// Start a TLS handshake to `server_name` (client side).
    Client {
        /// The connector, with the client's trust roots.
        connector: TlsConnector,
        /// The name the server's certificate must carry.
        server_name: ServerName<'static>,
    },
}

impl std::fmt::Debug for TlsUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsUpgrade::Unavailable => f.write_str("TlsUpgrade::Unavailable"),
            TlsUpgrade::Server(_) => f.write_str("TlsUpgrade::Server"),
            TlsUpgrade::Client { server_name, .. } => {
                write!(f, "TlsUpgrade::Client({server_name:?})")
            }
        }
    }
}

impl StartTls<Transport> for TlsUpgrade {
    async fn start_tls(&mut self, io: Transport) -> io::Result<Transport> {
        let tcp = match io {
            Transport::Plain(tcp) => tcp,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the transport is already TLS",
                ))
            }
        };
        match self {
            TlsUpgrade::Unavailable => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS is not configured",
            )),
            TlsUpgrade::Server(acceptor) => {
                Ok(Transport::ServerTls(Box::new(acceptor.accept(tcp).await?)))
            }
            TlsUpgrade::Client {
                connector,
                server_name,
            } => Ok(Transport::ClientTls(Box::new(
                connector.connect(server_name.clone(), tcp).await?,
            ))),
        }
    }
}

/// Starts a server connection: with `implicit_tls` the TLS handshake (bounded by
/// `handshake_timeout`) happens here; otherwise the connection stays plain and can be upgraded
/// later when `tls` is configured. Returns the transport, its upgrader, and the [`TlsMode`]
/// the protocol session starts in.
pub async fn accept_connection(
    tls: Option<&TlsAcceptor>,
    tcp: TcpStream,
    implicit_tls: bool,
    handshake_timeout: std::time::Duration,
) -> io::Result<(Transport, TlsUpgrade, TlsMode)> {
    match (tls, implicit_tls) {
        (Some(acceptor), true) => {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
            let tls = handshake.await.map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
            })??;
            Ok((
                Transport::ServerTls(Box::new(tls)),
                TlsUpgrade::Unavailable,
                TlsMode::Implicit,
            ))
        }
        (None, true) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "implicit TLS listener without a certificate",
        )),
        (Some(acceptor), false) => Ok((
            Transport::Plain(tcp),
            TlsUpgrade::Server(acceptor.clone()),
            TlsMode::StartTls,
        )),
        (None, false) => Ok((
            Transport::Plain(tcp),
            TlsUpgrade::Unavailable,
            TlsMode::Unavailable,
        )),
    }
}

/// An upgrader for transports that never become TLS (in-memory pipes in tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTls;

impl<T: Send> StartTls<T> for NoTls {
    async fn start_tls(&mut self, _io: T) -> io::Result<T> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TLS is not available on this transport",
        ))
    }
}

/// How the driver ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The session said [`Progress::Close`].
    Closed,
    /// The peer closed the connection and the session asked for nothing more.
    PeerClosed,
}

/// Most octets read ahead while output is being written.
const READ_AHEAD_LIMIT: usize = 64 * 1024;

/// Runs `session` over `io` until it closes, handing its events to `handler`.
///
/// `shutdown` turning `true` is passed on once through [`Session::shutdown_requested`]; the
/// session decides how to finish. Returns the transport (possibly upgraded to TLS) so the
/// caller can close it or reuse it.
pub async fn drive<S, H, T, U>(
    session: &mut S,
    handler: &mut H,
    mut io: T,
    upgrader: &mut U,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<(T, Ended)>
where
    S: Session + Send,
    S::Event: Send,
    H: Handler<S> + Send,
    T: AsyncRead + AsyncWrite + Unpin + Send,
    U: StartTls<T> + Send,
{
    let mut read_ahead: Vec<u8> = Vec::new();
    let mut peer_closed = false;
    let mut told_closed = false;
    let mut told_shutdown = false;
    loop {
        if !read_ahead.is_empty() && session.wants_input() {
            session.enqueue_input(&read_ahead);
            read_ahead.clear();
        }
        if !told_shutdown && *shutdown.borrow() {
            told_shutdown = true;
            session.shutdown_requested();
        }
        let now = Instant::now();
        if session
            .poll_timeout()
            .is_some_and(|deadline| deadline <= now)
        {
            session.handle_timeout(now);
        }
        let may_read_ahead = session.wants_input();
        match session.next(now) {
            Progress::Output(bytes) => {
                write_while_reading(
                    &mut io,
                    bytes,
                    &mut read_ahead,
                    may_read_ahead,
                    &mut peer_closed,
                )
                .await?;
                io.flush().await?;
            }
            Progress::Event(event) => handler
                .handle(session, event)
                .await
                .map_err(io::Error::other)?,
            Progress::AwaitingAnswer => {
                return Err(io::Error::other(
                    "the handler returned without answering the session's event",
                ))
            }
            Progress::StartTls => {
                // Whatever arrived before the handshake was sent in plain text: drop it.
                read_ahead.clear();
                io.flush().await?;
                io = upgrader.start_tls(io).await?;
                session.tls_established();
            }
            Progress::Close => {
                io.flush().await?;
                let _ = io.shutdown().await;
                return Ok((io, Ended::Closed));
            }
            Progress::NeedMoreInput => {
                if !read_ahead.is_empty() {
                    session.enqueue_input(&read_ahead);
                    read_ahead.clear();
                    continue;
                }
                if peer_closed {
                    if told_closed {
                        return Ok((io, Ended::PeerClosed));
                    }
                    told_closed = true;
                    session.input_closed();
                    continue;
                }
                let deadline = session.poll_timeout().map(tokio::time::Instant::from_std);
                let sleep = async {
                    match deadline {
                        Some(deadline) => tokio::time::sleep_until(deadline).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                let read = poll_fn(|cx| {
                    poll_read_lent(&mut io, cx, &mut |bytes| session.enqueue_input(bytes))
                });
                tokio::select! {
                    read = read => match read {
                        Ok(0) => peer_closed = true,
                        Ok(_) => {}
                        Err(error) if is_disconnect(&error) => peer_closed = true,
                        Err(error) => return Err(error),
                    },
                    () = sleep => session.handle_timeout(Instant::now()),
                    () = handler.news() => handler
                        .on_news(session)
                        .await
                        .map_err(io::Error::other)?,
                    changed = shutdown.changed(), if !told_shutdown => {
                        if changed.is_err() {
                            // The sender is gone: nobody can ask for shutdown any more.
                            told_shutdown = true;
                        }
                    }
                }
            }
        }
    }
}

fn is_disconnect(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// Writes all of `output`, reading into `read_ahead` whenever the write would block, so that a
/// peer that writes before it reads cannot deadlock the connection.
async fn write_while_reading<T: AsyncRead + AsyncWrite + Unpin>(
    io: &mut T,
    mut output: &[u8],
    read_ahead: &mut Vec<u8>,
    may_read: bool,
    peer_closed: &mut bool,
) -> io::Result<()> {
    poll_fn(|cx| loop {
        while !output.is_empty() {
            match Pin::new(&mut *io).poll_write(cx, output) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => output = &output[written..],
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => break,
            }
        }
        if output.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if may_read && !*peer_closed && read_ahead.len() < READ_AHEAD_LIMIT {
            match poll_read_lent(io, cx, &mut |bytes| read_ahead.extend_from_slice(bytes)) {
                Poll::Ready(Ok(0)) => *peer_closed = true,
                Poll::Ready(Ok(_)) => continue,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {}
            }
        }
        return Poll::Pending;
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{LineReader, LineStatus};
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// Echoes each line upper-cased; `BIG` answers with a megabyte; `QUIT` closes.
    struct Shout {
        input: Vec<u8>,
        lines: LineReader,
        out: crate::OutputBuffer,
        closing: bool,
        timer: Option<Instant>,
        starttls_pending: bool,
        seen: Vec<Vec<u8>>,
    }

    enum ShoutEvent {
        Line(Vec<u8>),
    }

    impl Session for Shout {
        type Event = ShoutEvent;
        fn enqueue_input(&mut self, bytes: &[u8]) {
            self.input.extend_from_slice(bytes);
        }
        fn next(&mut self, _now: Instant) -> Progress<'_, ShoutEvent> {
            loop {
                if self.out.has_pending() {
                    return Progress::Output(self.out.hand_out());
                }
                if self.closing {
                    return Progress::Close;
                }
                if self.starttls_pending {
                    self.starttls_pending = false;
                    // Whatever the client sent after STARTTLS came in plain text: drop it.
                    self.input.clear();
                    self.lines.reset();
                    return Progress::StartTls;
                }
                let (used, status) = self.lines.next_line(&self.input);
                let event = match status {
                    LineStatus::Line(line) => Some(line.content.to_vec()),
                    LineStatus::TooLong => None,
                    LineStatus::Incomplete => return Progress::NeedMoreInput,
                };
                self.input.drain(..used);
                match event {
                    Some(line) => return Progress::Event(ShoutEvent::Line(line)),
                    None => self.out.writer().extend_from_slice(b"TOO LONG\r\n"),
                }
            }
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.timer
        }
        fn handle_timeout(&mut self, _now: Instant) {
            self.timer = None;
            self.out.writer().extend_from_slice(b"TIMEOUT\r\n");
            self.closing = true;
        }
        fn tls_established(&mut self) {
            self.out.writer().extend_from_slice(b"SECURE\r\n");
        }
        fn input_closed(&mut self) {
            self.closing = true;
        }
    }

    struct ShoutHandler;

    impl Handler<Shout> for ShoutHandler {
        async fn handle(
            &mut self,
            session: &mut Shout,
            event: ShoutEvent,
        ) -> Result<(), OutOfTurn> {
            let ShoutEvent::Line(line) = event;
            session.seen.push(line.clone());
            match &line[..] {
                b"QUIT" => session.closing = true,
                b"STARTTLS" => {
                    session.out.writer().extend_from_slice(b"GO\r\n");
                    session.starttls_pending = true;
                }
                b"BIG" => session
                    .out
                    .writer()
                    .extend(std::iter::repeat_n(b'x', 1 << 20)),
                _ => {
                    session.out.writer().extend(line.to_ascii_uppercase());
                    session.out.writer().extend_from_slice(b"\r\n");
                }
            }
            Ok(())
        }
    }

    fn shout(timer: Option<Instant>) -> Shout {
        Shout {
            input: Vec::new(),
            lines: LineReader::new(64),
            out: crate::OutputBuffer::new(),
            closing: false,
            timer,
            starttls_pending: false,
            seen: Vec::new(),
        }
    }

    /// Tells the session "NEWS n" whenever its watch channel changes, while it waits.
    struct NewsHandler {
        news: watch::Receiver<u32>,
    }

    impl Handler<Shout> for NewsHandler {
        async fn handle(
            &mut self,
            session: &mut Shout,
            event: ShoutEvent,
        ) -> Result<(), OutOfTurn> {
            ShoutHandler.handle(session, event).await
        }

        async fn news(&mut self) {
            if self.news.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }

        async fn on_news(&mut self, session: &mut Shout) -> Result<(), OutOfTurn> {
            let news = *self.news.borrow_and_update();
            session
                .out
                .writer()
                .extend_from_slice(format!("NEWS {news}\r\n").as_bytes());
            Ok(())
        }
    }

    #[tokio::test]
    async fn news_from_outside_reaches_a_waiting_session_at_once() {
        let (client, server) = tokio::io::duplex(1024);
        let (_stop, shutdown) = watch::channel(false);
        let (publish, news) = watch::channel(0u32);
        let task = tokio::spawn(async move {
            let mut session = shout(None);
            let mut handler = NewsHandler { news };
            drive(&mut session, &mut handler, server, &mut NoTls, shutdown)
                .await
                .map(|(_, ended)| ended)
        });
        let (read, mut write) = tokio::io::split(client);
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"hello\r\n").await.unwrap();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "HELLO");
        // The session now waits for its peer; news must not wait for the peer to speak.
        publish.send_replace(7);
        let pushed = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .expect("the news was pushed without input from the peer");
        assert_eq!(pushed.unwrap().unwrap(), "NEWS 7");
        write.write_all(b"QUIT\r\n").await.unwrap();
        assert_eq!(task.await.unwrap().unwrap(), Ended::Closed);
    }

    #[tokio::test]
    async fn a_waiting_connection_holds_no_read_buffer_of_its_own() {
        let (_client, server) = tokio::io::duplex(1024);
        let (_stop, shutdown) = watch::channel(false);
        let mut session = shout(None);
        let mut handler = ShoutHandler;
        let mut upgrade = NoTls;
        let future = drive(&mut session, &mut handler, server, &mut upgrade, shutdown);
        // What a connection keeps while it waits is this future's state (the session and
        // the transport apart): it holds no read or scratch buffer.
        assert!(
            std::mem::size_of_val(&future) < 2048,
            "{} octets",
            std::mem::size_of_val(&future)
        );
    }

    #[tokio::test]
    async fn pipelined_commands_are_answered_in_order() {
        let (client, server) = tokio::io::duplex(64);
        let (_stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut session = shout(None);
            drive(
                &mut session,
                &mut ShoutHandler,
                server,
                &mut NoTls,
                shutdown,
            )
            .await
            .map(|(_, ended)| ended)
        });
        let (read, mut write) = tokio::io::split(client);
        write
            .write_all(b"one\r\ntwo\r\nthree\r\nQUIT\r\n")
            .await
            .unwrap();
        let mut lines = BufReader::new(read).lines();
        let mut seen = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line);
        }
        assert_eq!(seen, ["ONE", "TWO", "THREE"]);
        assert_eq!(task.await.unwrap().unwrap(), Ended::Closed);
    }

    #[tokio::test]
    async fn a_peer_that_writes_before_reading_does_not_deadlock() {
        // The pipe holds 1 KiB; the server writes 1 MiB answers while the client keeps
        // sending commands without reading. Only concurrent read and write gets through.
        let (client, server) = tokio::io::duplex(1024);
        let (_stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut session = shout(None);
            drive(
                &mut session,
                &mut ShoutHandler,
                server,
                &mut NoTls,
                shutdown,
            )
            .await
        });
        let (mut read, mut write) = tokio::io::split(client);
        let writer = tokio::spawn(async move {
            for _ in 0..4 {
                write.write_all(b"BIG\r\n").await.unwrap();
            }
            write.write_all(b"QUIT\r\n").await.unwrap();
            write
        });
        let mut received = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut read, &mut received)
            .await
            .unwrap();
        assert_eq!(received.len(), 4 << 20);
        let _ = writer.await.unwrap();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn session_timers_fire_without_input() {
        let (client, server) = tokio::io::duplex(64);
        let (_stop, shutdown) = watch::channel(false);
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let task = tokio::spawn(async move {
            let mut session = shout(Some(deadline));
            drive(
                &mut session,
                &mut ShoutHandler,
                server,
                &mut NoTls,
                shutdown,
            )
            .await
        });
        let mut received = String::new();
        let mut client = client;
        tokio::io::AsyncReadExt::read_to_string(&mut client, &mut received)
            .await
            .unwrap();
        assert_eq!(received, "TIMEOUT\r\n");
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_peer_close_is_reported_to_the_session() {
        let (client, server) = tokio::io::duplex(64);
        let (_stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut session = shout(None);
            drive(
                &mut session,
                &mut ShoutHandler,
                server,
                &mut NoTls,
                shutdown,
            )
            .await
            .map(|(_, ended)| ended)
        });
        drop(client);
        assert_eq!(task.await.unwrap().unwrap(), Ended::Closed);
    }

    #[tokio::test]
    async fn starttls_swaps_the_transport_and_drops_plaintext_sent_after_it() {
        use tokio::io::AsyncReadExt;
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        crate::tls::ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
        let acceptor = TlsAcceptor::from(crate::tls::server_config(&cert, &key).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (_stop, shutdown) = watch::channel(false);
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut session = shout(None);
            let mut upgrade = TlsUpgrade::Server(acceptor);
            let (transport, _) = drive(
                &mut session,
                &mut ShoutHandler,
                Transport::Plain(tcp),
                &mut upgrade,
                shutdown,
            )
            .await
            .unwrap();
            (session.seen, transport.is_tls())
        });
        let mut tcp = TcpStream::connect(address).await.unwrap();
        // The injected line arrives in the same segment as STARTTLS.
        tcp.write_all(b"STARTTLS\r\nINJECTED\r\n").await.unwrap();
        let mut go = [0u8; 4];
        tcp.read_exact(&mut go).await.unwrap();
        assert_eq!(&go, b"GO\r\n");
        let connector = TlsConnector::from(crate::tls::client_config_trusting(&cert).unwrap());
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"hello\r\nQUIT\r\n").await.unwrap();
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, "SECURE\r\nHELLO\r\n");
        let (seen, is_tls) = server.await.unwrap();
        assert!(is_tls);
        assert_eq!(
            seen,
            [b"STARTTLS".to_vec(), b"hello".to_vec(), b"QUIT".to_vec()],
            "the plaintext sent after STARTTLS was never read as a command"
        );
    }
}
