//! The Sans-IO session contract that every POP3, IMAP4 and SMTP session implements.
//!
//! A session is a protocol state machine that never touches a socket or a clock. The loop that
//! runs it, whether the generic tokio [`driver`](crate::driver) or a test that moves bytes by hand,
//! always looks the same:
//!
//! ```text
//! loop {
//!     match session.next(now) {
//!         Progress::Output(bytes) => write all of `bytes` to the peer,
//!         Progress::Event(event)  => let the application answer it through the session's
//!                                    typed methods (respond, accept_literal, reject_literal, ...),
//!         Progress::NeedMoreInput => read, then session.enqueue_input(&received)
//!                                    (or session.input_closed() at end of stream),
//!         Progress::StartTls      => swap the transport for TLS, then session.tls_established(),
//!         Progress::Close         => close the connection; the session is done,
//!     }
//!     if the deadline session.poll_timeout() has passed: session.handle_timeout(now)
//! }
//! ```
//!
//! # Example
//!
//! A minimal session that answers every line with its length, driven by hand:
//!
//! ```
//! use std::time::Instant;
//! use mail_session::{line::{LineReader, LineStatus}, Progress, Session};
//!
//! struct LineLength { input: Vec<u8>, lines: LineReader, out: Vec<u8>, closed: bool }
//!
//! impl Session for LineLength {
//!     type Event = std::convert::Infallible;
//!     fn enqueue_input(&mut self, bytes: &[u8]) { self.input.extend_from_slice(bytes) }
//!     fn next(&mut self, _now: Instant) -> Progress<Self::Event> {
//!         if !self.out.is_empty() { return Progress::Output(std::mem::take(&mut self.out)); }
//!         if self.closed { return Progress::Close; }
//!         let (used, status) = self.lines.next_line(&self.input);
//!         let answer = match status {
//!             LineStatus::Line(line) => format!("{}\r\n", line.content.len()),
//!             LineStatus::TooLong => "too long\r\n".to_string(),
//!             LineStatus::Incomplete => return Progress::NeedMoreInput,
//!         };
//!         self.input.drain(..used);
//!         self.out.extend_from_slice(answer.as_bytes());
//!         Progress::Output(std::mem::take(&mut self.out))
//!     }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn tls_established(&mut self) {}
//!     fn input_closed(&mut self) { self.closed = true }
//! }
//!
//! let mut session = LineLength {
//!     input: Vec::new(), lines: LineReader::new(10), out: Vec::new(), closed: false,
//! };
//! session.enqueue_input(b"hello\r\n");
//! match session.next(Instant::now()) {
//!     Progress::Output(bytes) => assert_eq!(bytes, b"5\r\n"),
//!     _ => unreachable!(),
//! }
//! assert!(matches!(session.next(Instant::now()), Progress::NeedMoreInput));
//! ```

use std::time::Instant;

/// Whether and how a server connection is encrypted, as the session sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain, and no TLS can be started (tests, or a plain-only listener).
    Unavailable,
    /// Plain now; the protocol's upgrade command (`STLS`, `STARTTLS`) is offered (RFC 2595,
    /// RFC 3207).
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

/// What a session asks of its caller next. Returned by [`Session::next`].
#[must_use = "a session makes progress only when its caller acts on each step"]
#[derive(Debug, PartialEq, Eq)]
pub enum Progress<E> {
    /// Something happened that the application must answer, through the session's own typed
    /// methods, before it calls [`Session::next`] again.
    Event(E),
    /// Bytes to send. Write all of them to the peer, in order, then call [`Session::next`] again.
    Output(Vec<u8>),
    /// The session has processed everything it was given. Read from the peer, hand the bytes to
    /// [`Session::enqueue_input`] (or call [`Session::input_closed`] at end of stream), and call
    /// [`Session::next`] again. Wait no longer than [`Session::poll_timeout`].
    NeedMoreInput,
    /// All output up to this point has been returned; once it is written, switch the transport
    /// to TLS (server: accept a handshake; client: start one) and then call
    /// [`Session::tls_established`]. Anything read before the switch is discarded: it was sent
    /// in plain text and must never be read as if it came over TLS.
    StartTls,
    /// The session is over. Write any output already returned, then close the connection.
    Close,
}

/// The contract every protocol session in this crate family implements: bytes in, one
/// [`Progress`] step at a time out, time passed in as an argument.
///
/// Implementations do no IO and never read a clock. Methods are cheap to call; calling
/// [`Session::next`] after [`Progress::Close`] keeps returning [`Progress::Close`].
pub trait Session {
    /// The protocol's events, answered by the application (for example `pop3_proto::server::Event`).
    type Event;

    /// Hands bytes received from the peer to the session. The session buffers at most
    /// [`Limits::max_buffered_input`](crate::Limits::max_buffered_input) octets beyond what it
    /// has processed; see [`Session::wants_input`].
    fn enqueue_input(&mut self, bytes: &[u8]);

    /// The next step the caller must take. `now` is the current time, used for the session's
    /// timers.
    fn next(&mut self, now: Instant) -> Progress<Self::Event>;

    /// The earliest moment at which [`Session::handle_timeout`] must be called, if any timer runs.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;

    /// Tells the session that `now` is at or past [`Session::poll_timeout`]. Afterwards
    /// [`Session::next`] yields what the protocol says to do (an autologout `BYE`, a `421`, a
    /// keepalive, ...).
    fn handle_timeout(&mut self, now: Instant);

    /// Tells the session that the transport is now TLS, after [`Progress::StartTls`] or at the
    /// start of an implicit-TLS connection.
    fn tls_established(&mut self);

    /// Tells the session that the peer closed its side of the connection.
    fn input_closed(&mut self);

    /// Tells the session that the server is shutting down. The session ends at its next safe
    /// point, saying so in its protocol's way (`* BYE`, `421`, `-ERR`). The default does
    /// nothing, and the caller closes the connection when its grace period ends.
    fn shutdown_requested(&mut self) {}

    /// Whether the session will take more input now. A caller that reads ahead (while it writes,
    /// for instance) stops reading while this is false, which bounds what a pipelining peer can
    /// make the session buffer. The default is always `true`.
    fn wants_input(&self) -> bool {
        true
    }
}
