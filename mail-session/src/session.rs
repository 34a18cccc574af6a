//! The Sans-IO session contract that every POP3, IMAP4 and SMTP session implements.
//!
//! A session is a protocol state machine that never touches a socket or a clock. The loop that
//! runs it, whether the generic tokio [`driver`](crate::driver) or a test that moves bytes by hand,
//! always looks the same:
//!
//! ```text
//! loop {
//!     match session.next(now) {
//!         Progress::Output(bytes)   => write all of `bytes` to the peer,
//!         Progress::Event(event)    => answer it through the session's typed methods
//!                                      (accept_login, reject_login, start_message, ...),
//!         Progress::AwaitingAnswer  => an event is still unanswered: answer it (a caller bug
//!                                      if the caller thought it had),
//!         Progress::NeedMoreInput   => read, then session.enqueue_input(&received)
//!                                      (or session.input_closed() at end of stream),
//!         Progress::StartTls        => swap the transport for TLS, then session.tls_established(),
//!         Progress::Close           => close the connection; the session is done,
//!     }
//!     if the deadline session.poll_timeout() has passed: session.handle_timeout(now)
//! }
//! ```
//!
//! # The rules every session follows
//!
//! | the caller got | it must | before it calls `next` again |
//! | --- | --- | --- |
//! | [`Progress::Output`] | write every octet of the slice, in order | yes (the slice is only valid until then) |
//! | [`Progress::Event`] | answer it with exactly one of the methods the event's doc names | yes |
//! | [`Progress::AwaitingAnswer`] | answer the event it was given earlier | yes |
//! | [`Progress::NeedMoreInput`] | read and [`Session::enqueue_input`], or [`Session::input_closed`]; wait no longer than [`Session::poll_timeout`] | yes |
//! | [`Progress::StartTls`] | write nothing more in plain text, switch the transport, then [`Session::tls_established`] | yes |
//! | [`Progress::Close`] | close the connection | every later call returns `Close` again |
//!
//! 1. **Wire order.** `next` returns every octet of pending output before it returns anything
//!    else. So when an event comes out, the replies to every earlier command have already been
//!    handed out, also when the client pipelines: events and output leave in the order the
//!    peer's commands came in.
//! 2. **One answer per event.** Each event names the methods that answer it. An answer given
//!    when the session is not waiting for that answer changes nothing and returns
//!    [`OutOfTurn`]; the session's state is untouched, so the caller can still give the right
//!    answer. Answers are `#[must_use]`.
//! 3. **Never a silent stall.** While an event is unanswered `next` returns
//!    [`Progress::AwaitingAnswer`], never [`Progress::NeedMoreInput`], so a driver that forgot
//!    an answer finds out at once instead of blocking on a read. (Events that ask for the next
//!    piece of a body, like POP3's `MessageData`, are simply handed out again.)
//! 4. **No allocation per step.** Output is written into one buffer the session keeps and
//!    reuses ([`OutputBuffer`]); [`Progress::Output`] lends a slice of it until the next call.
//! 5. **Bodies stream, in the same shape everywhere.** What the application *sends* (a POP3
//!    RETR, an IMAP FETCH body) it pushes in chunks when the session asks
//!    (`push_message_data`, then `end_message`); what the application *receives* (an SMTP
//!    DATA/BDAT body, an IMAP APPEND literal) it takes when the session says octets are
//!    waiting (`take_message_data`), as slices of the session's input, with no copy.
//! 6. **The same names for the same act.** Logins are answered with `accept_login` or
//!    `reject_login(`[`LoginRejection`]`)`; a message about to be sent or received is answered
//!    with `start_message` or `refuse_message(reply)`, where `reply` is the protocol's own reply
//!    value.
//! 7. **Time is an argument.** Nothing reads a clock; `now` comes in through [`Session::next`]
//!    and [`Session::handle_timeout`].
//!
//! # Example
//!
//! A minimal session that answers every line with its length, driven by hand:
//!
//! ```
//! use std::time::Instant;
//! use mail_session::line::{LineReader, LineStatus};
//! use mail_session::{OutputBuffer, Progress, Session};
//!
//! struct LineLength { input: Vec<u8>, lines: LineReader, out: OutputBuffer, closed: bool }
//!
//! impl Session for LineLength {
//!     type Event = std::convert::Infallible;
//!     fn enqueue_input(&mut self, bytes: &[u8]) { self.input.extend_from_slice(bytes) }
//!     fn next(&mut self, _now: Instant) -> Progress<'_, Self::Event> {
//!         loop {
//!             if self.out.has_pending() { return Progress::Output(self.out.hand_out()); }
//!             if self.closed { return Progress::Close; }
//!             let (used, status) = self.lines.next_line(&self.input);
//!             let answer = match status {
//!                 LineStatus::Line(line) => format!("{}\r\n", line.content.len()),
//!                 LineStatus::TooLong => "too long\r\n".to_string(),
//!                 LineStatus::Incomplete => return Progress::NeedMoreInput,
//!             };
//!             self.input.drain(..used);
//!             self.out.writer().extend_from_slice(answer.as_bytes());
//!         }
//!     }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn tls_established(&mut self) {}
//!     fn input_closed(&mut self) { self.closed = true }
//! }
//!
//! let mut session = LineLength {
//!     input: Vec::new(), lines: LineReader::new(10), out: OutputBuffer::new(), closed: false,
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
pub enum Progress<'a, E> {
    /// Something happened that the application must answer, through the session's own typed
    /// methods, before it calls [`Session::next`] again.
    Event(E),
    /// Bytes to send, lent from the session's output buffer. Write all of them to the peer, in
    /// order, then call [`Session::next`] again.
    Output(&'a [u8]),
    /// An event handed out earlier is still waiting for its answer. Nothing moves until the
    /// application answers it; reading more input would not help.
    AwaitingAnswer,
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

/// An answer given when the session was not waiting for it (rule 2 of the
/// [module docs](self)). The session's state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`{answer}` is not an answer the session is waiting for (it is waiting for {waiting_for})")]
pub struct OutOfTurn {
    answer: &'static str,
    waiting_for: &'static str,
}

impl OutOfTurn {
    /// The refusal of `answer` (a method name) while the session waits for `waiting_for` (what
    /// it would take, in words: "no answer", "an answer to Event::Login", ...).
    pub const fn new(answer: &'static str, waiting_for: &'static str) -> Self {
        OutOfTurn {
            answer,
            waiting_for,
        }
    }

    /// The answer that was refused.
    pub fn answer(&self) -> &'static str {
        self.answer
    }

    /// What the session was waiting for instead.
    pub fn waiting_for(&self) -> &'static str {
        self.waiting_for
    }
}

/// Why a login is refused: the same reasons in every protocol, each written in the protocol's
/// own words (POP3 `-ERR [AUTH]`, SMTP `535 5.7.8`, IMAP `NO [AUTHENTICATIONFAILED]`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginRejection {
    /// Wrong name or password, or an authorization identity the account may not act as. Say
    /// nothing more: which of them it was is the attacker's business.
    Credentials,
    /// Right credentials, but this account may not use this service (switched off for the
    /// protocol, an administrator or guest account): the user should contact the
    /// administrator.
    NotPermitted,
    /// The mailbox is in use by another session that holds it exclusively (POP3 `[IN-USE]`).
    InUse,
    /// The directory or the store failed; try again later.
    Temporary,
}

/// The pending output of a session, in one buffer that is reused from step to step.
///
/// A session writes through [`OutputBuffer::writer`] and hands everything pending out with
/// [`OutputBuffer::hand_out`] (the slice in [`Progress::Output`]). Handed-out octets are
/// dropped the next time the session writes or hands out, so the buffer's allocation is kept
/// rather than made anew for every reply; a buffer that grew past 64 KiB for a large reply is
/// shrunk again once it is empty, so an idle session holds little.
#[derive(Debug, Default, Clone)]
pub struct OutputBuffer {
    bytes: Vec<u8>,
    handed_out: usize,
}

/// Capacity an empty output buffer may keep.
const KEPT_CAPACITY: usize = 64 * 1024;

impl OutputBuffer {
    /// An empty buffer (no allocation until the first write).
    pub const fn new() -> Self {
        OutputBuffer {
            bytes: Vec::new(),
            handed_out: 0,
        }
    }

    fn reclaim(&mut self) {
        if self.handed_out > 0 {
            self.bytes.drain(..self.handed_out);
            self.handed_out = 0;
        }
        if self.bytes.is_empty() && self.bytes.capacity() > KEPT_CAPACITY {
            self.bytes = Vec::new();
        }
    }

    /// The vector to append output to.
    pub fn writer(&mut self) -> &mut Vec<u8> {
        self.reclaim();
        &mut self.bytes
    }

    /// Whether any output waits to be handed out.
    pub fn has_pending(&self) -> bool {
        self.bytes.len() > self.handed_out
    }

    /// How many octets wait to be handed out.
    pub fn pending(&self) -> usize {
        self.bytes.len() - self.handed_out
    }

    /// Hands out every pending octet (empty if there are none). They count as written from now
    /// on.
    pub fn hand_out(&mut self) -> &[u8] {
        let start = self.handed_out;
        self.handed_out = self.bytes.len();
        &self.bytes[start..]
    }

    /// Drops all pending output (a session that must say nothing more).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.handed_out = 0;
    }
}

/// The contract every protocol session in this crate family implements: bytes in, one
/// [`Progress`] step at a time out, time passed in as an argument. The [module docs](self) give
/// the rules.
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
    fn next(&mut self, now: Instant) -> Progress<'_, Self::Event>;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_handed_out_once_and_its_buffer_reused() {
        let mut out = OutputBuffer::new();
        out.writer().extend_from_slice(b"+OK one\r\n");
        assert_eq!(out.pending(), 9);
        let first = out.hand_out();
        assert_eq!(first, b"+OK one\r\n");
        let first_address = first.as_ptr();
        assert!(!out.has_pending());
        assert_eq!(out.hand_out(), b"", "nothing is handed out twice");
        out.writer().extend_from_slice(b"+OK two\r\n");
        let second = out.hand_out();
        assert_eq!(second, b"+OK two\r\n");
        assert_eq!(second.as_ptr(), first_address, "the allocation is reused");
    }

    #[test]
    fn a_buffer_grown_for_a_large_reply_is_given_back_once_empty() {
        let mut out = OutputBuffer::new();
        out.writer().resize(1 << 20, b'x');
        assert_eq!(out.hand_out().len(), 1 << 20);
        out.writer().extend_from_slice(b"small");
        assert_eq!(out.hand_out(), b"small");
        assert!(out.writer().capacity() <= KEPT_CAPACITY);
    }

    #[test]
    fn out_of_turn_says_what_was_refused_and_what_is_awaited() {
        let error = OutOfTurn::new("accept_login", "no answer");
        assert_eq!(error.answer(), "accept_login");
        assert_eq!(error.waiting_for(), "no answer");
        assert_eq!(
            error.to_string(),
            "`accept_login` is not an answer the session is waiting for (it is waiting for no answer)"
        );
    }
}
