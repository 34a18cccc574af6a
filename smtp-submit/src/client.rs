//! The Sans-IO SMTP client session.
//!
//! The application queues commands with [`ClientSession::send`] (or
//! [`ClientSession::authenticate`] for SASL) and receives one [`Event`] per reply, in order.
//! Commands are written at once: when the server announced `PIPELINING` the application may
//! queue a whole group (MAIL, RCPT..., DATA, RFC 2920 section 3.1); otherwise it waits for each
//! reply. After `354` the body goes through [`ClientSession::message_data`] (dot-stuffed, bare
//! line ends made CR LF) and [`ClientSession::message_end`]; with CHUNKING, through
//! [`ClientSession::bdat_chunk`]. Every wait has the deadline RFC 5321 section 4.5.3.2 gives
//! it; when one passes the session reports [`Event::TimedOut`] and closes.
//!
//! ```
//! use std::time::Instant;
//! use mail_session::{OutputBuffer, Progress, Session};
//! use smtp_submit::client::{ClientOptions, ClientSession, Event};
//! use smtp_submit::types::{Command, Domain};
//!
//! let mut client = ClientSession::new(ClientOptions::default());
//! let now = Instant::now();
//! client.enqueue_input(b"220 mx.example.org ESMTP\r\n");
//! assert!(matches!(client.next(now), Progress::Event(Event::Greeting(_))));
//! client.send(Command::Ehlo(Domain::name("client.example").unwrap()));
//! assert!(matches!(client.next(now), Progress::Output(bytes) if bytes == b"EHLO client.example\r\n"));
//! client.enqueue_input(b"250-mx.example.org\r\n250 PIPELINING\r\n");
//! let Progress::Event(Event::Ehlo { extensions, .. }) = client.next(now) else { panic!() };
//! assert_eq!(extensions.len(), 1);
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mail_session::dot::DotStuffer;
use mail_session::line::{LineReader, LineStatus};
use mail_session::sasl::{ClientExchange, Credentials, Mechanism};
use mail_session::{OutputBuffer, Progress, Session};

use crate::encode;
use crate::parse::{ReplyAssembler, ReplyError};
use crate::types::{Command, Extension, Reply};

/// Deadlines and limits of a client session (RFC 5321 section 4.5.3.2).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Initial 220 message: 5 minutes.
    pub greeting_timeout: Duration,
    /// MAIL, RCPT and the other commands: 5 minutes.
    pub command_timeout: Duration,
    /// DATA initiation (waiting for 354): 2 minutes.
    pub data_initiation_timeout: Duration,
    /// DATA termination (waiting for the reply to the final dot) and BDAT LAST: 10 minutes.
    pub data_termination_timeout: Duration,
    /// Longest reply line accepted (RFC 5321 section 4.5.3.1.5: 512 octets; longer is
    /// accepted, up to this).
    pub max_line_length: usize,
    /// Most lines in one reply.
    pub max_reply_lines: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            greeting_timeout: Duration::from_secs(300),
            command_timeout: Duration::from_secs(300),
            data_initiation_timeout: Duration::from_secs(120),
            data_termination_timeout: Duration::from_secs(600),
            max_line_length: 4096,
            max_reply_lines: 100,
        }
    }
}

/// What the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The greeting (`220`, or `554` from a server that refuses service).
    Greeting(Reply),
    /// The reply to EHLO, with the extensions announced when it is positive.
    Ehlo {
        /// The reply.
        reply: Reply,
        /// Its keywords (empty for a refusal).
        extensions: Vec<Extension>,
    },
    /// The reply to `command` (the verb; `"."` for the end of DATA).
    Reply {
        /// The command answered.
        command: &'static str,
        /// The reply.
        reply: Reply,
    },
    /// A SASL exchange ended: `ok` says whether the server accepted the credentials.
    Authenticated {
        /// `235`.
        ok: bool,
        /// The final reply.
        reply: Reply,
    },
    /// The server sent something that is not SMTP; the session is closed.
    ProtocolError(ReplyError),
    /// A deadline passed; the session is closed.
    TimedOut,
    /// The server closed the connection.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Command(&'static str),
    StartTls,
    Data,
    DataEnd,
    Bdat { last: bool },
    Auth,
}

/// An SMTP client session. See the module docs.
#[derive(Debug)]
pub struct ClientSession {
    options: ClientOptions,
    input: Vec<u8>,
    lines: LineReader,
    replies: ReplyAssembler,
    out: OutputBuffer,
    expected: VecDeque<Expect>,
    sasl: Option<ClientExchange>,
    stuffer: DotStuffer,
    bdat_line_ends: DotStuffer,
    deadline: Option<Instant>,
    start_tls: bool,
    closing: bool,
    closed_event_sent: bool,
    peer_closed: bool,
    timed_out: bool,
}

impl ClientSession {
    /// A session waiting for the server's greeting.
    pub fn new(options: ClientOptions) -> Self {
        let mut expected = VecDeque::new();
        expected.push_back(Expect::Greeting);
        ClientSession {
            lines: LineReader::new(options.max_line_length),
            replies: ReplyAssembler::new(options.max_reply_lines),
            options,
            input: Vec::new(),
            out: OutputBuffer::new(),
            expected,
            sasl: None,
            stuffer: DotStuffer::new(),
            bdat_line_ends: DotStuffer::line_ends_only(),
            deadline: None,
            start_tls: false,
            closing: false,
            closed_event_sent: false,
            peer_closed: false,
            timed_out: false,
        }
    }

    /// A session on a connection whose greeting was already read (after STARTTLS nothing is
    /// greeted again): it waits for nothing.
    pub fn after_greeting(options: ClientOptions) -> Self {
        let mut session = ClientSession::new(options);
        session.expected.clear();
        session
    }

    /// How many replies are still awaited.
    pub fn awaiting(&self) -> usize {
        self.expected.len()
    }

    fn timeout_for(&self, expect: Expect) -> Duration {
        match expect {
            Expect::Greeting => self.options.greeting_timeout,
            Expect::Data => self.options.data_initiation_timeout,
            Expect::DataEnd | Expect::Bdat { last: true } => self.options.data_termination_timeout,
            _ => self.options.command_timeout,
        }
    }

    /// Writes a command and awaits its reply.
    pub fn send(&mut self, command: Command) {
        let expect = match &command {
            Command::Ehlo(_) => Expect::Ehlo,
            Command::StartTls => Expect::StartTls,
            Command::Data => Expect::Data,
            Command::Bdat { last, .. } => Expect::Bdat { last: *last },
            other => Expect::Command(other.verb()),
        };
        encode::command(&command, self.out.writer());
        self.expected.push_back(expect);
    }

    /// Starts a SASL exchange (with the initial response when the mechanism has one, RFC 4954
    /// section 4); the session answers the `334` challenges itself and reports
    /// [`Event::Authenticated`].
    pub fn authenticate(&mut self, mechanism: Mechanism, credentials: Credentials) {
        let mut exchange = ClientExchange::new(mechanism, credentials);
        let initial = exchange.initial_response();
        let mut line = format!("AUTH {}", mechanism.name());
        if let Some(initial) = initial {
            line.push(' ');
            line.push_str(if initial.is_empty() { "=" } else { &initial });
        }
        line.push_str("\r\n");
        self.out.writer().extend_from_slice(line.as_bytes());
        self.sasl = Some(exchange);
        self.expected.push_back(Expect::Auth);
    }

    /// After a `354`: the next part of the message, as stored (any line ends). It is
    /// dot-stuffed and its line ends made CR LF.
    pub fn message_data(&mut self, chunk: &[u8]) {
        self.stuffer.encode(chunk, self.out.writer());
    }

    /// After the message's last [`ClientSession::message_data`]: ends it with `.` and awaits
    /// the reply (reported as the command `"."`).
    pub fn message_end(&mut self) {
        self.stuffer.finish(self.out.writer());
        self.expected.push_back(Expect::DataEnd);
    }

    /// Sends one BDAT chunk (RFC 3030) of a text message, as stored (any line ends): bare
    /// line ends are made CR LF as for DATA (the chunk's size counts them), and the last chunk
    /// ends its last line. No dot-stuffing: BDAT has no end marker.
    pub fn bdat_chunk(&mut self, chunk: &[u8], last: bool) {
        let mut normalized = Vec::with_capacity(chunk.len() + 64);
        self.bdat_line_ends.encode(chunk, &mut normalized);
        if last {
            self.bdat_line_ends.finish(&mut normalized);
        }
        self.bdat_binary_chunk(&normalized, last);
    }

    /// Sends one BDAT chunk exactly as given (`BODY=BINARYMIME`, or a message known to be
    /// CR LF throughout).
    pub fn bdat_binary_chunk(&mut self, chunk: &[u8], last: bool) {
        self.send(Command::Bdat {
            size: chunk.len() as u64,
            last,
        });
        self.out.writer().extend_from_slice(chunk);
    }

    /// How many octets are waiting to be written (so a caller can stop adding message data
    /// until they are).
    pub fn pending_output(&self) -> usize {
        self.out.pending()
    }

    fn arm_deadline(&mut self, now: Instant) {
        self.deadline = self
            .expected
            .front()
            .map(|&expect| now + self.timeout_for(expect));
    }

    fn reply_event(&mut self, reply: Reply) -> Option<Event> {
        let expect = self.expected.pop_front()?;
        Some(match expect {
            Expect::Greeting => Event::Greeting(reply),
            Expect::Ehlo => {
                let extensions = if reply.code.is_positive() {
                    reply
                        .lines
                        .iter()
                        .skip(1)
                        .map(|line| Extension::from_line(line))
                        .collect()
                } else {
                    Vec::new()
                };
                Event::Ehlo { reply, extensions }
            }
            Expect::StartTls => {
                if reply.code.get() == 220 {
                    self.start_tls = true;
                }
                Event::Reply {
                    command: "STARTTLS",
                    reply,
                }
            }
            Expect::Data => Event::Reply {
                command: "DATA",
                reply,
            },
            Expect::DataEnd => Event::Reply {
                command: ".",
                reply,
            },
            Expect::Bdat { .. } => Event::Reply {
                command: "BDAT",
                reply,
            },
            Expect::Command(verb) => Event::Reply {
                command: verb,
                reply,
            },
            Expect::Auth => {
                if reply.code.get() == 334 {
                    // A challenge: answer it and keep waiting.
                    let challenge = reply.lines.first().cloned().unwrap_or_default();
                    let answer = self
                        .sasl
                        .as_mut()
                        .map(|exchange| exchange.respond(challenge.trim().as_bytes()));
                    match answer {
                        Some(Ok(answer)) => {
                            self.out.writer().extend_from_slice(answer.as_bytes());
                        }
                        _ => self.out.writer().extend_from_slice(b"*"),
                    }
                    self.out.writer().extend_from_slice(b"\r\n");
                    self.expected.push_front(Expect::Auth);
                    return None;
                }
                self.sasl = None;
                Event::Authenticated {
                    ok: reply.code.get() == 235,
                    reply,
                }
            }
        })
    }

    fn fail(&mut self, event: Event) -> Progress<'_, Event> {
        self.closing = true;
        self.expected.clear();
        self.closed_event_sent = true;
        Progress::Event(event)
    }
}

impl Session for ClientSession {
    type Event = Event;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    fn next(&mut self, now: Instant) -> Progress<'_, Event> {
        loop {
            if self.start_tls {
                // Before any output: commands queued after the 220 (the new EHLO) must go
                // over TLS.
                self.start_tls = false;
                // Whatever arrived after the 220 came in the clear: never read it as a reply
                // over TLS (the STARTTLS response injection of CVE-2011-1431 and kin).
                self.input.clear();
                self.lines.reset();
                return Progress::StartTls;
            }
            if self.out.has_pending() {
                if self.deadline.is_none() {
                    self.arm_deadline(now);
                }
                return Progress::Output(self.out.hand_out());
            }
            if self.timed_out {
                self.timed_out = false;
                return Progress::Event(Event::TimedOut);
            }
            if self.closing {
                return Progress::Close;
            }
            if self.expected.is_empty() {
                self.deadline = None;
                if self.peer_closed {
                    self.closing = true;
                    if !self.closed_event_sent {
                        self.closed_event_sent = true;
                        return Progress::Event(Event::Closed);
                    }
                    continue;
                }
                return Progress::NeedMoreInput;
            }
            if self.deadline.is_none() {
                self.arm_deadline(now);
            }
            let (used, status) = self.lines.next_line(&self.input);
            match status {
                LineStatus::Incomplete => {
                    self.input.drain(..used);
                    if self.peer_closed {
                        return self.fail(Event::Closed);
                    }
                    return Progress::NeedMoreInput;
                }
                LineStatus::TooLong => {
                    self.input.drain(..used);
                    return self.fail(Event::ProtocolError(ReplyError::Malformed {
                        line: "reply line too long".into(),
                    }));
                }
                LineStatus::Line(line) => {
                    let pushed = self.replies.push(line.content);
                    self.input.drain(..used);
                    match pushed {
                        Err(error) => return self.fail(Event::ProtocolError(error)),
                        Ok(None) => continue,
                        Ok(Some(reply)) => {
                            self.deadline = None;
                            if let Some(event) = self.reply_event(reply) {
                                if !self.expected.is_empty() {
                                    self.arm_deadline(now);
                                }
                                return Progress::Event(event);
                            }
                        }
                    }
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.closing || self.expected.is_empty() {
            None
        } else {
            self.deadline
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|deadline| deadline <= now) && !self.expected.is_empty() {
            self.expected.clear();
            self.closing = true;
            self.closed_event_sent = true;
            self.out.clear();
            self.timed_out = true;
        }
    }

    fn tls_established(&mut self) {}

    fn input_closed(&mut self) {
        self.peer_closed = true;
    }
}
