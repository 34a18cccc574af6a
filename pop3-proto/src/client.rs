//! The Sans-IO POP3 client session.
//!
//! The application queues commands with [`ClientSession::send`] (or
//! [`ClientSession::authenticate`] for SASL) and receives one [`Event`] per answer, in order.
//! Multi-line answers to RETR and TOP stream as [`Event::MessageData`] chunks, already
//! un-stuffed, between [`Event::MessageStart`] and [`Event::MessageEnd`]; listings arrive
//! parsed. Commands are pipelined when the server announced `PIPELINING` (after
//! [`ClientSession::set_pipelining`]); otherwise each waits for the previous answer.
//! Every wait has a deadline ([`ClientOptions`]), exposed through
//! [`Session::poll_timeout`]; when one passes the session reports [`Event::TimedOut`] and
//! closes.
//!
//! ```
//! use std::time::Instant;
//! use mail_session::{OutputBuffer, Progress, Session};
//! use pop3_proto::client::{ClientOptions, ClientSession, Event};
//! use pop3_proto::types::Command;
//!
//! let mut client = ClientSession::new(ClientOptions::default());
//! let now = Instant::now();
//! client.enqueue_input(b"+OK ready\r\n");
//! assert!(matches!(client.next(now), Progress::Event(Event::Greeting(_))));
//! client.send(Command::Stat);
//! assert!(matches!(client.next(now), Progress::Output(bytes) if bytes == b"STAT\r\n"));
//! client.enqueue_input(b"+OK 2 320\r\n");
//! assert!(matches!(client.next(now), Progress::Event(Event::Status { ok: true, .. })));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mail_session::dot::{DotUnstuffer, EndMarker};
use mail_session::line::{LineReader, LineStatus};
use mail_session::sasl::{ClientExchange, Credentials, Mechanism};
use mail_session::{OutputBuffer, Progress, Session};

use crate::encode;
use crate::parse::{self, ResponseError};
use crate::types::{Capability, Command, MessageNumber, ResponseCode, StatusLine};

/// Deadlines and limits of a client session.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for the greeting.
    pub greeting_timeout: Duration,
    /// How long to wait for any answer, or for the next part of a message.
    pub response_timeout: Duration,
    /// Longest status or listing line accepted (RFC 2449: 512 octets; some servers send
    /// longer, so the default allows 8 KiB).
    pub max_line_length: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            greeting_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(120),
            max_line_length: 8 * 1024,
        }
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The greeting.
    Greeting(StatusLine),
    /// A single-line answer (or a refused multi-line command) to `command`.
    Status {
        /// The command's keyword.
        command: &'static str,
        /// `+OK` or `-ERR`.
        ok: bool,
        /// The whole status line.
        status: StatusLine,
    },
    /// The answer to CAPA.
    Capabilities(Vec<Capability>),
    /// The answer to LIST.
    ScanListing(Vec<(MessageNumber, u64)>),
    /// The answer to UIDL.
    UniqueIds(Vec<(MessageNumber, String)>),
    /// The answer to `AUTH` without a mechanism.
    Mechanisms(Vec<String>),
    /// RETR or TOP succeeded; the message follows as [`Event::MessageData`].
    MessageStart {
        /// The message.
        message: MessageNumber,
        /// The status line.
        status: StatusLine,
    },
    /// The next part of the message, un-stuffed.
    MessageData(Vec<u8>),
    /// The message is complete.
    MessageEnd,
    /// A SASL exchange ended: `ok` says whether the server accepted the credentials.
    Authenticated {
        /// Accepted.
        ok: bool,
        /// The final status line.
        status: StatusLine,
    },
    /// The server sent something that is not POP3; the session is closed.
    ProtocolError(ResponseError),
    /// A deadline passed; the session is closed.
    TimedOut,
    /// The server closed the connection.
    Closed,
}

#[derive(Debug)]
enum Expect {
    Single(&'static str),
    Capa,
    List,
    Uidl,
    Mechanisms,
    Message(MessageNumber),
    Stls,
    Sasl(Box<ClientExchange>),
}

#[derive(Debug)]
enum Reading {
    Status,
    Lines(Expect, Vec<Vec<u8>>),
    Body,
}

/// A POP3 client session. See the module docs.
#[derive(Debug)]
pub struct ClientSession {
    options: ClientOptions,
    input: Vec<u8>,
    lines: LineReader,
    out: OutputBuffer,
    queued: VecDeque<(Vec<u8>, Expect)>,
    waiting: VecDeque<Expect>,
    reading: Reading,
    unstuffer: DotUnstuffer,
    greeted: bool,
    pipelining: bool,
    start_tls: bool,
    closed: bool,
    eof: bool,
    /// The greeting was just read: release commands before reading further.
    stop_processing: bool,
    /// Message data was taken in `enqueue_input`: the deadline moves on at the next `next`.
    body_progress: bool,
    events: VecDeque<Event>,
    deadline: Option<Instant>,
}

impl ClientSession {
    /// A session waiting for the greeting.
    pub fn new(options: ClientOptions) -> Self {
        ClientSession {
            lines: LineReader::new(options.max_line_length),
            options,
            input: Vec::new(),
            out: OutputBuffer::new(),
            queued: VecDeque::new(),
            waiting: VecDeque::new(),
            reading: Reading::Status,
            unstuffer: DotUnstuffer::new(EndMarker::AnyLineEnd),
            greeted: false,
            pipelining: false,
            start_tls: false,
            closed: false,
            eof: false,
            body_progress: false,
            stop_processing: false,
            events: VecDeque::new(),
            deadline: None,
        }
    }

    /// Allows sending commands before earlier ones are answered (when CAPA listed PIPELINING).
    pub fn set_pipelining(&mut self, pipelining: bool) {
        self.pipelining = pipelining;
    }

    /// Whether commands are waiting for answers.
    pub fn is_busy(&self) -> bool {
        !self.waiting.is_empty() || !self.queued.is_empty()
    }

    /// Queues a command. Its answer arrives as one event (or a message's events).
    pub fn send(&mut self, command: Command) {
        let expect = match &command {
            Command::Capa => Expect::Capa,
            Command::List(None) => Expect::List,
            Command::Uidl(None) => Expect::Uidl,
            Command::Retr(message) | Command::Top { message, .. } => Expect::Message(*message),
            Command::Stls => Expect::Stls,
            Command::Auth {
                mechanism: None, ..
            } => Expect::Mechanisms,
            other => Expect::Single(other.keyword()),
        };
        let mut bytes = Vec::new();
        encode::command(&command, &mut bytes);
        self.queued.push_back((bytes, expect));
    }

    /// Starts a SASL exchange with `mechanism`; PLAIN sends its initial response with the
    /// command (RFC 5034). The outcome arrives as [`Event::Authenticated`].
    pub fn authenticate(&mut self, mechanism: Mechanism, credentials: Credentials) {
        let mut exchange = ClientExchange::new(mechanism, credentials);
        let command = Command::Auth {
            mechanism: Some(mechanism.name().to_string()),
            initial_response: exchange.initial_response().map(|response| {
                mail_session::sasl::Secret::new(if response.is_empty() {
                    "=".into()
                } else {
                    response
                })
            }),
        };
        let mut bytes = Vec::new();
        encode::command(&command, &mut bytes);
        self.queued
            .push_back((bytes, Expect::Sasl(Box::new(exchange))));
    }

    fn release_commands(&mut self, now: Instant) {
        if !self.greeted || self.start_tls {
            return;
        }
        while let Some((_, expect)) = self.queued.front() {
            let barrier = matches!(expect, Expect::Stls | Expect::Sasl(_));
            if !self.waiting.is_empty() && (!self.pipelining || barrier) {
                break;
            }
            let Some((bytes, expect)) = self.queued.pop_front() else {
                break;
            };
            self.out.writer().extend_from_slice(&bytes);
            self.waiting.push_back(expect);
            self.deadline = Some(now + self.options.response_timeout);
            if barrier {
                break;
            }
        }
    }

    fn fail(&mut self, event: Event) {
        self.events.push_back(event);
        self.closed = true;
    }

    /// Processes buffered input into events.
    fn process(&mut self, now: Instant) {
        loop {
            if self.closed || self.start_tls {
                return;
            }
            if matches!(self.reading, Reading::Body) {
                let input = std::mem::take(&mut self.input);
                let (consumed, finished) = self.decode_body(&input);
                self.input = input;
                self.input.drain(..consumed);
                if finished {
                    self.deadline =
                        (!self.waiting.is_empty()).then(|| now + self.options.response_timeout);
                    continue;
                }
                self.deadline = Some(now + self.options.response_timeout);
                return;
            }
            if self.body_progress {
                self.body_progress = false;
                self.deadline =
                    (!self.waiting.is_empty()).then(|| now + self.options.response_timeout);
            }
            if std::mem::take(&mut self.stop_processing) {
                return;
            }
            let (used, status) = self.lines.next_line(&self.input);
            let line = match status {
                LineStatus::Incomplete => {
                    self.input.drain(..used);
                    return;
                }
                LineStatus::TooLong => {
                    self.input.drain(..used);
                    self.fail(Event::ProtocolError(ResponseError::Status {
                        line: "(line over the length limit)".into(),
                    }));
                    return;
                }
                LineStatus::Line(line) => line.content.to_vec(),
            };
            self.input.drain(..used);
            self.handle_line(&line, now);
        }
    }

    /// Un-stuffs message data from `bytes`, queueing its events; returns how much was used and
    /// whether the message ended.
    fn decode_body(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut data = Vec::new();
        let done = self
            .unstuffer
            .decode(bytes, |part| data.extend_from_slice(part));
        if !data.is_empty() {
            self.events.push_back(Event::MessageData(data));
        }
        if done.finished {
            self.events.push_back(Event::MessageEnd);
            self.reading = Reading::Status;
            self.waiting.pop_front();
        }
        self.body_progress = true;
        (done.consumed, done.finished)
    }

    fn handle_line(&mut self, line: &[u8], now: Instant) {
        if let Reading::Lines(_, collected) = &mut self.reading {
            if line == b"." {
                let Reading::Lines(expect, collected) =
                    std::mem::replace(&mut self.reading, Reading::Status)
                else {
                    return;
                };
                self.waiting.pop_front();
                self.finish_listing(expect, collected);
                self.deadline =
                    (!self.waiting.is_empty()).then(|| now + self.options.response_timeout);
            } else {
                let unstuffed = line.strip_prefix(b".").unwrap_or(line);
                collected.push(unstuffed.to_vec());
            }
            return;
        }
        if !self.greeted {
            match parse::status_line(line) {
                Ok(status) if status.ok => {
                    self.greeted = true;
                    self.deadline = None;
                    self.events.push_back(Event::Greeting(status));
                    // Nothing after the greeting can be an answer before commands are sent.
                    self.stop_processing = true;
                }
                Ok(status) => {
                    self.events.push_back(Event::Greeting(status));
                    self.closed = true;
                }
                Err(error) => self.fail(Event::ProtocolError(error)),
            }
            return;
        }
        // A SASL continuation.
        if let Some(Expect::Sasl(exchange)) = self.waiting.front_mut() {
            if let Some(challenge) =
                line.strip_prefix(b"+ ")
                    .or(if line == b"+" { Some(&b""[..]) } else { None })
            {
                let answer = exchange
                    .respond(challenge)
                    .unwrap_or_else(|_| "*".to_string());
                self.out.writer().extend_from_slice(answer.as_bytes());
                self.out.writer().extend_from_slice(b"\r\n");
                self.deadline = Some(now + self.options.response_timeout);
                return;
            }
        }
        let status = match parse::status_line(line) {
            Ok(status) => status,
            Err(error) => {
                self.fail(Event::ProtocolError(error));
                return;
            }
        };
        let Some(expect) = self.waiting.pop_front() else {
            // An unsolicited line (a server about to close says -ERR): report it.
            let ok = status.ok;
            self.events.push_back(Event::Status {
                command: "",
                ok,
                status,
            });
            return;
        };
        self.deadline = (!self.waiting.is_empty()).then(|| now + self.options.response_timeout);
        if !status.ok {
            let command = match &expect {
                Expect::Single(keyword) => keyword,
                Expect::Capa => "CAPA",
                Expect::List => "LIST",
                Expect::Uidl => "UIDL",
                Expect::Mechanisms => "AUTH",
                Expect::Message(_) => "RETR",
                Expect::Stls => "STLS",
                Expect::Sasl(_) => {
                    self.events
                        .push_back(Event::Authenticated { ok: false, status });
                    return;
                }
            };
            self.events.push_back(Event::Status {
                command,
                ok: false,
                status,
            });
            return;
        }
        match expect {
            Expect::Single(command) => self.events.push_back(Event::Status {
                command,
                ok: true,
                status,
            }),
            Expect::Stls => {
                self.events.push_back(Event::Status {
                    command: "STLS",
                    ok: true,
                    status,
                });
                self.start_tls = true;
            }
            Expect::Sasl(_) => self
                .events
                .push_back(Event::Authenticated { ok: true, status }),
            Expect::Message(message) => {
                self.events
                    .push_back(Event::MessageStart { message, status });
                self.unstuffer.reset();
                self.reading = Reading::Body;
                self.waiting.push_front(Expect::Message(message));
                self.deadline = Some(now + self.options.response_timeout);
            }
            multi => {
                self.reading = Reading::Lines(multi, Vec::new());
                self.waiting.push_front(Expect::Single("(listing)"));
                self.deadline = Some(now + self.options.response_timeout);
            }
        }
    }

    fn finish_listing(&mut self, expect: Expect, lines: Vec<Vec<u8>>) {
        let event = match expect {
            Expect::Capa => {
                Event::Capabilities(lines.iter().map(|line| parse::capability(line)).collect())
            }
            Expect::List => match lines.iter().map(|line| parse::scan_listing(line)).collect() {
                Ok(listing) => Event::ScanListing(listing),
                Err(error) => Event::ProtocolError(error),
            },
            Expect::Uidl => match lines
                .iter()
                .map(|line| parse::unique_id_listing(line))
                .collect()
            {
                Ok(listing) => Event::UniqueIds(listing),
                Err(error) => Event::ProtocolError(error),
            },
            Expect::Mechanisms => Event::Mechanisms(
                lines
                    .iter()
                    .map(|line| String::from_utf8_lossy(line).trim().to_string())
                    .filter(|name| !name.is_empty())
                    .collect(),
            ),
            _ => return,
        };
        if matches!(event, Event::ProtocolError(_)) {
            self.fail(event);
        } else {
            self.events.push_back(event);
        }
    }
}

impl Session for ClientSession {
    type Event = Event;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        // In the middle of a message with nothing buffered, un-stuff straight from the caller's
        // bytes: one copy fewer for the bulk of every RETR.
        if self.input.is_empty() && matches!(self.reading, Reading::Body) && !self.closed {
            let (consumed, _) = self.decode_body(bytes);
            self.input.extend_from_slice(&bytes[consumed..]);
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    fn next(&mut self, now: Instant) -> Progress<'_, Event> {
        if self.deadline.is_none() && !self.greeted && !self.closed {
            self.deadline = Some(now + self.options.greeting_timeout);
        }
        self.release_commands(now);
        self.process(now);
        if self.eof && !self.closed {
            // Everything the server sent before it closed has been read.
            self.fail(Event::Closed);
        }
        if let Some(event) = self.events.pop_front() {
            return Progress::Event(event);
        }
        self.release_commands(now);
        if self.out.has_pending() {
            return Progress::Output(self.out.hand_out());
        }
        if self.closed {
            return Progress::Close;
        }
        if self.start_tls {
            self.start_tls = false;
            self.input.clear();
            self.lines.reset();
            return Progress::StartTls;
        }
        Progress::NeedMoreInput
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            None
        } else {
            self.deadline
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|deadline| deadline <= now) {
            self.deadline = None;
            self.fail(Event::TimedOut);
        }
    }

    fn tls_established(&mut self) {
        self.input.clear();
        self.lines.reset();
    }

    fn input_closed(&mut self) {
        self.eof = true;
    }
}

/// Whether a status line says the maildrop is busy or the failure is temporary, so the
/// caller should try again later rather than give up.
pub fn is_temporary(status: &StatusLine) -> bool {
    matches!(
        status.code,
        Some(ResponseCode::InUse) | Some(ResponseCode::LoginDelay) | Some(ResponseCode::SysTemp)
    )
}
