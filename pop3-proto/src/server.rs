//! The Sans-IO POP3 server session: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939), with CAPA,
//! STLS, AUTH (SASL PLAIN/LOGIN), UTF8, TOP, UIDL and pipelining.
//!
//! The session answers everything it can from what it was given at login (message sizes and
//! unique ids, the deletion marks): STAT, LIST, UIDL, DELE, RSET, NOOP, CAPA. It hands the
//! application only what needs the store, as [`Event`]s:
//!
//! ```text
//! C: USER alice / PASS ...      ─► Event::Login        ─► accept_login(listing) | reject_login(..)
//! C: RETR 1 / TOP 1 5           ─► Event::Retrieve     ─► start_message(..) | refuse_message(..)
//!                                  Event::MessageData  ─► push_message_data(chunk) ... end_message()
//! C: QUIT (in TRANSACTION)      ─► Event::Update       ─► finish_update(Ok | Err)
//! ```
//!
//! A message streams through in chunks: the session asks for the next one
//! ([`Event::MessageData`]) only when what it had is written, dot-stuffs it and normalises its
//! line ends, so no message is ever held whole. Deletion happens only at QUIT: a dropped
//! connection or an inactivity timeout deletes nothing.
//!
//! The application must answer each event (with the methods named in its doc) before it calls
//! [`Session::next`] again; until it does, `next` returns [`Progress::AwaitingAnswer`] (or
//! hands out the same `MessageData` again). An answer given at the wrong time returns
//! [`OutOfTurn`] and changes nothing. These are the rules of
//! [`mail_session::session`], the same in every protocol of this family.
//!
//! # Example
//!
//! A session driven by hand, logging in and retrieving one message:
//!
//! ```
//! use std::time::Instant;
//! use mail_session::{Progress, Session};
//! use pop3_proto::server::{Event, MaildropEntry, MessageShape, Options, ServerSession};
//!
//! let mut options = Options::default();
//! options.allow_plaintext_auth = true;
//! let mut session = ServerSession::new(options);
//! let now = Instant::now();
//! let mut wire = Vec::new();
//! session.enqueue_input(b"USER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n");
//! loop {
//!     match session.next(now) {
//!         Progress::Output(bytes) => wire.extend_from_slice(bytes),
//!         Progress::Event(Event::Login { credentials }) => {
//!             assert!(credentials.password.matches("secret"));
//!             let listing = vec![MaildropEntry { size: 12, unique_id: "a1".into() }];
//!             session.accept_login(listing)?;
//!         }
//!         Progress::Event(Event::Retrieve { .. }) => {
//!             session.start_message(MessageShape { crlf_line_ends: true, ..Default::default() })?;
//!         }
//!         Progress::Event(Event::MessageData { .. }) => {
//!             session.push_message_data(b"Hi\r\n\r\nthere\r\n")?;
//!             session.end_message()?;
//!         }
//!         Progress::Event(Event::Update { .. }) => session.finish_update(Ok(()))?,
//!         Progress::Event(_) => unreachable!(),
//!         Progress::Close | Progress::NeedMoreInput => break,
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert!(wire.ends_with(b"there\r\n.\r\n+OK POP3 server signing off\r\n"));
//! # Ok::<(), mail_session::OutOfTurn>(())
//! ```

use std::time::{Duration, Instant};

use mail_session::dot::DotStuffer;
use mail_session::line::{LineReader, LineStatus};
use mail_session::sasl::{Credentials, Mechanism, ServerExchange, ServerStep};
use mail_session::{Limits, OutOfTurn, OutputBuffer, Progress, Session};

use crate::encode;
use crate::parse::{self, CommandError};
use crate::types::{Capability, Command, MessageNumber, ResponseCode, StatusLine};

pub use mail_session::{LoginRejection, TlsMode};

/// How a session behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Size limits; `max_line_length` is the command line limit (RFC 2449: 255).
    pub limits: Limits,
    /// TLS on this connection.
    pub tls: TlsMode,
    /// Accept passwords (USER/PASS, AUTH) without TLS. For tests only.
    pub allow_plaintext_auth: bool,
    /// The inactivity autologout (RFC 1939 section 3: at least 10 minutes).
    pub inactivity_timeout: Duration,
    /// The inactivity timeout before login (AUTHORIZATION state). The default is the RFC 1939
    /// minimum, 10 minutes, the same as `inactivity_timeout`; a shorter one frees the slots
    /// of clients that connect and never log in sooner, below what RFC 1939 asks for.
    pub pre_auth_timeout: Duration,
    /// The greeting's text after `+OK`.
    pub greeting: String,
    /// Sent as the IMPLEMENTATION capability, if any.
    pub implementation: Option<String>,
    /// SASL mechanisms offered once passwords may be sent.
    pub mechanisms: Vec<Mechanism>,
    /// Most erroneous commands (unknown, malformed, or not valid in the state) in one session
    /// before it ends with `-ERR`: a client that sends nothing but garbage is not served for
    /// ever. SMTP servers do the same (Postfix's `smtpd_hard_error_limit`, 20).
    pub max_errors: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::pop3(),
            tls: TlsMode::StartTls,
            allow_plaintext_auth: false,
            inactivity_timeout: Duration::from_secs(600),
            pre_auth_timeout: Duration::from_secs(600),
            greeting: "POP3 server ready".into(),
            implementation: None,
            mechanisms: Mechanism::ALL.to_vec(),
            max_errors: 20,
        }
    }
}

/// What the application must act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Verify these credentials and lock the maildrop. Answer with
    /// [`ServerSession::accept_login`] or [`ServerSession::reject_login`].
    Login {
        /// What the client sent (USER/PASS or SASL).
        credentials: Credentials,
    },
    /// Send a message: whole (`top_lines: None`, RETR) or its header and that many body lines
    /// (TOP). Answer with [`ServerSession::start_message`] or
    /// [`ServerSession::refuse_message`].
    Retrieve {
        /// The message.
        message: MessageNumber,
        /// TOP's line count.
        top_lines: Option<u32>,
    },
    /// The session has written everything and wants the next chunk of the message. Answer
    /// with [`ServerSession::push_message_data`], [`ServerSession::end_message`] at the end of
    /// the message, or [`ServerSession::abort_message`] if it cannot be read. Until it is
    /// answered, the session hands out this event again.
    MessageData {
        /// The message being sent.
        message: MessageNumber,
    },
    /// QUIT in TRANSACTION: remove these messages, release the maildrop, then answer with
    /// [`ServerSession::finish_update`].
    Update {
        /// The messages marked deleted, ascending.
        deleted: Vec<MessageNumber>,
    },
}

/// One message of the maildrop as the session numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildropEntry {
    /// Its size in octets as it will be sent (CRLF line ends, before dot-stuffing).
    pub size: u64,
    /// Its unique id for UIDL: 1 to 70 characters from `!` to `~`, stable across sessions.
    pub unique_id: String,
}

/// What the application knows about a message it is about to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageShape {
    /// Its header holds non-ASCII text (RFC 6532): only sent in UTF-8 mode (RFC 6856).
    pub needs_utf8: bool,
    /// Every line ends in CR LF already (its stored size equals its wire size), so the fast
    /// stuffer that only looks for line-leading dots can be used.
    pub crlf_line_ends: bool,
}

/// Whether [`ServerSession::push_message_data`] wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageProgress {
    /// Send the next chunk when asked.
    More,
    /// TOP has all the lines it needs: stop reading, the session has ended the answer.
    Done,
}

#[derive(Debug)]
enum State {
    Authorization {
        user: Option<String>,
    },
    Sasl {
        exchange: ServerExchange,
    },
    Transaction {
        entries: Vec<MaildropEntry>,
        deleted: Vec<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Login,
    Retrieve {
        message: MessageNumber,
        top_lines: Option<u32>,
    },
    Body {
        message: MessageNumber,
    },
    Update,
}

/// TOP: where the header ends and how many body lines are left.
#[derive(Debug, Clone, Copy)]
struct TopCounter {
    in_header: bool,
    lines_left: u32,
    /// Octets of the current line seen so far (in earlier chunks).
    line_length: usize,
    /// Whether those octets are exactly one CR.
    only_cr: bool,
}

impl TopCounter {
    fn new(lines: u32) -> Self {
        TopCounter {
            in_header: true,
            lines_left: lines,
            line_length: 0,
            only_cr: false,
        }
    }

    /// How much of `chunk` belongs to the answer; `Some` when the answer ends within it.
    fn cut(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', chunk) {
            let segment = &chunk[start..newline];
            let blank = match (self.line_length, segment) {
                (0, []) | (0, [b'\r']) => true,
                (1, []) => self.only_cr,
                _ => false,
            };
            self.line_length = 0;
            self.only_cr = false;
            start = newline + 1;
            if self.in_header {
                if blank {
                    self.in_header = false;
                    if self.lines_left == 0 {
                        return Some(start);
                    }
                }
            } else {
                self.lines_left -= 1;
                if self.lines_left == 0 {
                    return Some(start);
                }
            }
        }
        let tail = &chunk[start..];
        self.only_cr = match (self.line_length, tail) {
            (0, [b'\r']) => true,
            (_, []) => self.only_cr,
            _ => false,
        };
        self.line_length += tail.len();
        None
    }
}

#[derive(Debug)]
struct Body {
    stuffer: DotStuffer,
    top: Option<TopCounter>,
}

/// A POP3 server session. See the module docs.
#[derive(Debug)]
pub struct ServerSession {
    options: Options,
    input: Vec<u8>,
    lines: LineReader,
    out: OutputBuffer,
    state: State,
    pending: Pending,
    body: Option<Body>,
    tls_active: bool,
    utf8: bool,
    start_tls: bool,
    closing: bool,
    shutdown: bool,
    deadline: Option<Instant>,
    /// Erroneous commands so far.
    errors: u32,
}

/// Longest client line inside a SASL exchange (base64 of RFC 4616's 3 × 255 octets).
const SASL_LINE_LIMIT: usize = 2048;

impl ServerSession {
    /// A new session; its first output is the greeting.
    pub fn new(options: Options) -> Self {
        let mut out = OutputBuffer::new();
        encode::status_line(&StatusLine::ok(options.greeting.clone()), out.writer());
        ServerSession {
            lines: LineReader::new(options.limits.max_line_length),
            tls_active: options.tls == TlsMode::Implicit,
            options,
            input: Vec::new(),
            out,
            state: State::Authorization { user: None },
            pending: Pending::Nothing,
            body: None,
            utf8: false,
            start_tls: false,
            closing: false,
            shutdown: false,
            deadline: None,
            errors: 0,
        }
    }

    /// The inactivity timeout in force: `pre_auth_timeout` before login.
    fn current_timeout(&self) -> Duration {
        if self.is_authenticated() {
            self.options.inactivity_timeout
        } else {
            self.options.pre_auth_timeout
        }
    }

    /// Whether the session is in the TRANSACTION state.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Transaction { .. })
    }

    /// Whether the transport is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls_active
    }

    fn reply(&mut self, status: StatusLine) {
        encode::status_line(&status, self.out.writer());
    }

    fn ok(&mut self, text: impl Into<String>) {
        self.reply(StatusLine::ok(text));
    }

    fn err(&mut self, text: impl Into<String>) {
        self.reply(StatusLine::err(text));
    }

    fn passwords_allowed(&self) -> bool {
        self.tls_active || self.options.allow_plaintext_auth
    }

    fn refuse_plaintext(&mut self) {
        let text = if self.options.tls == TlsMode::StartTls {
            "Plaintext authentication disallowed on non-secure connections: use STLS first"
        } else {
            // No STLS to point to: say so rather than send the client looking for it.
            "Plaintext authentication disallowed on non-secure connections, and TLS is not available here"
        };
        self.reply(StatusLine::err_with(ResponseCode::Auth, text));
    }

    /// Answers an erroneous command; after `max_errors` of them, ends the session.
    fn bad_command(&mut self, text: impl Into<String>) {
        self.err(text);
        self.errors += 1;
        if self.errors >= self.options.max_errors {
            self.err("too many errors, closing connection");
            self.closing = true;
        }
    }

    fn out_of_turn(&self, answer: &'static str) -> OutOfTurn {
        OutOfTurn::new(
            answer,
            match self.pending {
                Pending::Nothing => "no answer",
                Pending::Login => "an answer to Event::Login",
                Pending::Retrieve { .. } => "an answer to Event::Retrieve",
                Pending::Body { .. } => "an answer to Event::MessageData",
                Pending::Update => "an answer to Event::Update",
            },
        )
    }

    /// The capabilities in the current state (RFC 2449 section 5).
    pub fn capabilities(&self) -> Vec<Capability> {
        let mut capabilities = vec![Capability::Top, Capability::Uidl];
        let authorization = !self.is_authenticated();
        if authorization && self.passwords_allowed() {
            capabilities.push(Capability::User);
            capabilities.push(Capability::sasl(&self.options.mechanisms));
        }
        capabilities.extend([
            Capability::RespCodes,
            Capability::AuthRespCode,
            Capability::Pipelining,
            Capability::Expire("NEVER".into()),
            Capability::Utf8 { user: false },
        ]);
        if authorization && self.options.tls == TlsMode::StartTls && !self.tls_active {
            capabilities.push(Capability::Stls);
        }
        if let Some(implementation) = &self.options.implementation {
            capabilities.push(Capability::Implementation(implementation.clone()));
        }
        capabilities
    }

    // ----- the application's answers -----

    /// Answers [`Event::Login`]: the maildrop is locked; `listing` numbers its messages from 1
    /// for the rest of the session.
    pub fn accept_login(&mut self, listing: Vec<MaildropEntry>) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Login {
            return Err(self.out_of_turn("accept_login"));
        }
        self.pending = Pending::Nothing;
        let total: u64 = listing.iter().map(|entry| entry.size).sum();
        let count = listing.len();
        self.state = State::Transaction {
            deleted: vec![false; count],
            entries: listing,
        };
        // The post-login timeout starts now.
        self.deadline = None;
        self.ok(format!(
            "maildrop locked and ready ({count} messages, {total} octets)"
        ));
        Ok(())
    }

    /// Answers [`Event::Login`] with a refusal; the session returns to AUTHORIZATION.
    /// [`LoginRejection::Credentials`] and [`LoginRejection::NotPermitted`] are `-ERR [AUTH]`
    /// (RFC 3206), [`LoginRejection::InUse`] `-ERR [IN-USE]` and
    /// [`LoginRejection::Temporary`] `-ERR [SYS/TEMP]`.
    pub fn reject_login(&mut self, rejection: LoginRejection) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Login {
            return Err(self.out_of_turn("reject_login"));
        }
        self.pending = Pending::Nothing;
        self.state = State::Authorization { user: None };
        self.reply(match rejection {
            LoginRejection::InUse => StatusLine::err_with(
                ResponseCode::InUse,
                "maildrop is locked by another POP3 session",
            ),
            LoginRejection::Temporary => StatusLine::err_with(
                ResponseCode::SysTemp,
                "maildrop temporarily unavailable, try again later",
            ),
            LoginRejection::NotPermitted => StatusLine::err_with(
                ResponseCode::Auth,
                "this account may not use POP3, contact your administrator",
            ),
            _ => StatusLine::err_with(ResponseCode::Auth, "authentication failed"),
        });
        Ok(())
    }

    /// Answers [`Event::Retrieve`]: the message can be sent. A message whose header holds
    /// non-ASCII text ([`MessageShape::needs_utf8`]) is refused with `-ERR [UTF8]` unless the
    /// client sent UTF8, as RFC 6856 section 2.1 requires.
    pub fn start_message(&mut self, shape: MessageShape) -> Result<(), OutOfTurn> {
        let needs_utf8 = shape.needs_utf8;
        let Pending::Retrieve { message, top_lines } = self.pending else {
            return Err(self.out_of_turn("start_message"));
        };
        if needs_utf8 && !self.utf8 {
            self.pending = Pending::Nothing;
            self.reply(StatusLine::err_with(
                ResponseCode::Utf8,
                "message has UTF-8 header fields: send UTF8 first",
            ));
            return Ok(());
        }
        let size = self.entry(message).map_or(0, |entry| entry.size);
        self.ok(match top_lines {
            None => format!("{size} octets"),
            Some(_) => "top of message follows".to_string(),
        });
        self.body = Some(Body {
            stuffer: if shape.crlf_line_ends {
                DotStuffer::for_crlf_input()
            } else {
                DotStuffer::new()
            },
            top: top_lines.map(TopCounter::new),
        });
        self.pending = Pending::Body { message };
        Ok(())
    }

    /// Answers [`Event::Retrieve`] with a refusal (the message vanished, the store failed):
    /// `refusal` is sent as an `-ERR` line, whatever its `ok` says.
    pub fn refuse_message(&mut self, mut refusal: StatusLine) -> Result<(), OutOfTurn> {
        if !matches!(self.pending, Pending::Retrieve { .. }) {
            return Err(self.out_of_turn("refuse_message"));
        }
        self.pending = Pending::Nothing;
        refusal.ok = false;
        self.reply(refusal);
        Ok(())
    }

    /// Answers [`Event::MessageData`] with the next chunk of the message, as stored. Returns
    /// [`MessageProgress::Done`] when TOP has all the lines it needs (the session has ended
    /// the answer; read no further).
    pub fn push_message_data(&mut self, chunk: &[u8]) -> Result<MessageProgress, OutOfTurn> {
        let (Pending::Body { .. }, Some(body)) = (self.pending, self.body.as_mut()) else {
            return Err(self.out_of_turn("push_message_data"));
        };
        let (part, done) = match body.top.as_mut().and_then(|top| top.cut(chunk)) {
            Some(end) => (&chunk[..end], true),
            None => (chunk, false),
        };
        body.stuffer.encode(part, self.out.writer());
        if done {
            self.end_message()?;
            return Ok(MessageProgress::Done);
        }
        Ok(MessageProgress::More)
    }

    /// Answers [`Event::MessageData`]: the message has no more data.
    pub fn end_message(&mut self) -> Result<(), OutOfTurn> {
        let (Pending::Body { .. }, Some(mut body)) = (self.pending, self.body.take()) else {
            return Err(self.out_of_turn("end_message"));
        };
        body.stuffer.finish(self.out.writer());
        self.pending = Pending::Nothing;
        Ok(())
    }

    /// Answers [`Event::MessageData`]: the message cannot be read further. After `+OK` and
    /// part of a message there is no way to signal an error, so the connection is closed
    /// (the client sees no final `.` and knows the message is incomplete).
    pub fn abort_message(&mut self) -> Result<(), OutOfTurn> {
        let Pending::Body { .. } = self.pending else {
            return Err(self.out_of_turn("abort_message"));
        };
        self.body = None;
        self.pending = Pending::Nothing;
        self.closing = true;
        Ok(())
    }

    /// Answers [`Event::Update`]: `Ok` when every marked message was removed, `Err` with
    /// what went wrong otherwise (`-ERR [SYS/TEMP]`, RFC 1939 QUIT). The session then ends.
    pub fn finish_update(&mut self, result: Result<(), String>) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Update {
            return Err(self.out_of_turn("finish_update"));
        }
        self.pending = Pending::Nothing;
        match result {
            Ok(()) => self.ok("POP3 server signing off"),
            Err(error) => self.reply(StatusLine::err_with(
                ResponseCode::SysTemp,
                format!("some deleted messages were not removed: {error}"),
            )),
        }
        self.closing = true;
        Ok(())
    }

    // ----- commands -----

    fn entry(&self, message: MessageNumber) -> Option<&MaildropEntry> {
        match &self.state {
            State::Transaction { entries, deleted } => {
                let index = usize::try_from(message).ok()?.checked_sub(1)?;
                (!*deleted.get(index)?).then(|| &entries[index])
            }
            _ => None,
        }
    }

    fn no_such_message(&mut self, message: MessageNumber) {
        let text = match &self.state {
            State::Transaction { deleted, .. }
                if usize::try_from(message)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|index| deleted.get(index))
                    == Some(&true) =>
            {
                format!("message {message} already deleted")
            }
            _ => format!("no such message: {message}"),
        };
        self.err(text);
    }

    fn handle_line(&mut self, line: &[u8]) -> Option<Event> {
        if let State::Sasl { exchange } = &mut self.state {
            let step = exchange.step(line);
            return self.sasl_step(step);
        }
        let command = match parse::command(line) {
            Ok(command) => command,
            Err(CommandError::Empty) => {
                self.bad_command("empty command");
                return None;
            }
            Err(error) => {
                self.bad_command(error.to_string());
                return None;
            }
        };
        if self.is_authenticated() {
            self.transaction_command(command)
        } else {
            self.authorization_command(command)
        }
    }

    fn authorization_command(&mut self, command: Command) -> Option<Event> {
        match command {
            Command::Capa => {
                let capabilities = self.capabilities();
                encode::capabilities(&capabilities, self.out.writer());
            }
            Command::Stls => {
                if self.tls_active || self.options.tls != TlsMode::StartTls {
                    self.err("TLS is already active or not available here");
                } else if self.utf8 {
                    self.err("STLS is not allowed after UTF8 (RFC 6856)");
                } else {
                    self.ok("Begin TLS negotiation now");
                    self.start_tls = true;
                }
            }
            Command::Utf8 => {
                self.utf8 = true;
                self.ok("UTF8 enabled");
            }
            Command::User(name) => {
                if !self.passwords_allowed() {
                    self.refuse_plaintext();
                } else if mail_session::escape::has_control(&name) {
                    self.err("control characters are not allowed in user names");
                } else if !name.is_ascii() {
                    self.err("UTF-8 user names are not accepted (no UTF8 USER capability)");
                } else {
                    self.state = State::Authorization { user: Some(name) };
                    self.ok("send PASS");
                }
            }
            Command::Pass(password) => {
                let user = match &mut self.state {
                    State::Authorization { user } => user.take(),
                    _ => None,
                };
                match user {
                    _ if !self.passwords_allowed() => self.refuse_plaintext(),
                    None => self.err("send USER first"),
                    Some(username) => {
                        self.pending = Pending::Login;
                        return Some(Event::Login {
                            credentials: Credentials {
                                authzid: None,
                                username,
                                password,
                            },
                        });
                    }
                }
            }
            Command::Apop { .. } => {
                self.err("APOP is not supported: passwords are stored hashed; use USER/PASS or AUTH over TLS");
            }
            Command::Auth {
                mechanism: None, ..
            } => {
                self.ok("supported SASL mechanisms follow");
                if self.passwords_allowed() {
                    for mechanism in &self.options.mechanisms {
                        self.out
                            .writer()
                            .extend_from_slice(mechanism.name().as_bytes());
                        self.out.writer().extend_from_slice(b"\r\n");
                    }
                }
                self.out.writer().extend_from_slice(b".\r\n");
            }
            Command::Auth {
                mechanism: Some(name),
                initial_response,
            } => {
                if !self.passwords_allowed() {
                    self.refuse_plaintext();
                    return None;
                }
                let mechanism = Mechanism::from_name(name.as_bytes())
                    .filter(|mechanism| self.options.mechanisms.contains(mechanism));
                let Some(mechanism) = mechanism else {
                    self.err(format!("unsupported SASL mechanism {name}"));
                    return None;
                };
                let response = initial_response.as_ref().map(|r| r.expose().as_bytes());
                let Some((exchange, step)) = ServerExchange::start(mechanism, response) else {
                    self.err(format!("unsupported SASL mechanism {name}"));
                    return None;
                };
                self.state = State::Sasl { exchange };
                self.lines.set_max_line_length(SASL_LINE_LIMIT);
                return self.sasl_step(step);
            }
            Command::Quit => {
                self.ok("POP3 server signing off");
                self.closing = true;
            }
            _ => self.bad_command(format!("{} is not valid before login", command.keyword())),
        }
        None
    }

    fn sasl_step(&mut self, step: ServerStep) -> Option<Event> {
        match step {
            ServerStep::Challenge(challenge) => {
                self.out.writer().extend_from_slice(b"+ ");
                self.out.writer().extend_from_slice(challenge.as_bytes());
                self.out.writer().extend_from_slice(b"\r\n");
                None
            }
            ServerStep::Done(credentials) => {
                self.end_sasl();
                self.pending = Pending::Login;
                Some(Event::Login { credentials })
            }
            ServerStep::Failed(error) => {
                self.end_sasl();
                self.reply(StatusLine::err_with(ResponseCode::Auth, error.to_string()));
                None
            }
        }
    }

    fn end_sasl(&mut self) {
        self.state = State::Authorization { user: None };
        self.lines
            .set_max_line_length(self.options.limits.max_line_length);
    }

    fn transaction_command(&mut self, command: Command) -> Option<Event> {
        let State::Transaction { entries, deleted } = &mut self.state else {
            return None;
        };
        match command {
            Command::Stat => {
                let (count, size) = live(entries, deleted);
                self.ok(format!("{count} {size}"));
            }
            Command::List(None) | Command::Uidl(None) => {
                let uidl = matches!(command, Command::Uidl(None));
                let mut listing = Vec::new();
                for (index, entry) in entries.iter().enumerate() {
                    if !deleted[index] {
                        let value = if uidl {
                            entry.unique_id.clone()
                        } else {
                            entry.size.to_string()
                        };
                        listing.extend_from_slice(format!("{} {value}\r\n", index + 1).as_bytes());
                    }
                }
                let (count, size) = live(entries, deleted);
                self.ok(if uidl {
                    "unique-id listing follows".to_string()
                } else {
                    format!("{count} messages ({size} octets)")
                });
                self.out.writer().extend_from_slice(&listing);
                self.out.writer().extend_from_slice(b".\r\n");
            }
            Command::List(Some(message)) => match self.entry(message) {
                Some(entry) => {
                    let text = format!("{message} {}", entry.size);
                    self.ok(text);
                }
                None => self.no_such_message(message),
            },
            Command::Uidl(Some(message)) => match self.entry(message) {
                Some(entry) => {
                    let text = format!("{message} {}", entry.unique_id);
                    self.ok(text);
                }
                None => self.no_such_message(message),
            },
            Command::Retr(message) | Command::Top { message, .. } => {
                let top_lines = match command {
                    Command::Top { lines, .. } => Some(lines),
                    _ => None,
                };
                if self.entry(message).is_none() {
                    self.no_such_message(message);
                } else {
                    self.pending = Pending::Retrieve { message, top_lines };
                    return Some(Event::Retrieve { message, top_lines });
                }
            }
            Command::Dele(message) => {
                if self.entry(message).is_none() {
                    self.no_such_message(message);
                } else {
                    if let State::Transaction { deleted, .. } = &mut self.state {
                        deleted[message as usize - 1] = true;
                    }
                    self.ok(format!("message {message} deleted"));
                }
            }
            Command::Rset => {
                deleted.iter_mut().for_each(|mark| *mark = false);
                let (count, size) = live(entries, deleted);
                self.ok(format!("maildrop has {count} messages ({size} octets)"));
            }
            Command::Noop => self.ok(""),
            Command::Capa => {
                let capabilities = self.capabilities();
                encode::capabilities(&capabilities, self.out.writer());
            }
            Command::Quit => {
                let marked: Vec<MessageNumber> = deleted
                    .iter()
                    .enumerate()
                    .filter(|(_, &mark)| mark)
                    .map(|(index, _)| index as MessageNumber + 1)
                    .collect();
                self.pending = Pending::Update;
                return Some(Event::Update { deleted: marked });
            }
            other => self.bad_command(format!("{} is not valid after login", other.keyword())),
        }
        None
    }
}

fn live(entries: &[MaildropEntry], deleted: &[bool]) -> (usize, u64) {
    entries
        .iter()
        .zip(deleted)
        .filter(|(_, &mark)| !mark)
        .fold((0, 0), |(count, size), (entry, _)| {
            (count + 1, size + entry.size)
        })
}

impl Session for ServerSession {
    type Event = Event;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    fn next(&mut self, now: Instant) -> Progress<'_, Event> {
        loop {
            if self.out.has_pending() {
                return Progress::Output(self.out.hand_out());
            }
            if self.closing {
                return Progress::Close;
            }
            if self.start_tls {
                self.start_tls = false;
                // Anything after STLS was sent in the clear: never read it as a command.
                self.input.clear();
                self.lines.reset();
                return Progress::StartTls;
            }
            match self.pending {
                Pending::Body { message } => {
                    return Progress::Event(Event::MessageData { message })
                }
                Pending::Nothing => {}
                _ => return Progress::AwaitingAnswer,
            }
            if self.shutdown {
                self.reply(StatusLine::err_with(
                    ResponseCode::SysTemp,
                    "server shutting down",
                ));
                self.closing = true;
                continue;
            }
            if self.deadline.is_none() {
                self.deadline = Some(now + self.current_timeout());
            }
            let (used, status) = self.lines.next_line(&self.input);
            let event = match status {
                LineStatus::Incomplete => {
                    self.input.drain(..used);
                    return Progress::NeedMoreInput;
                }
                LineStatus::TooLong => {
                    self.bad_command("line too long");
                    None
                }
                LineStatus::Line(line) => {
                    let line = line.content.to_vec();
                    self.deadline = Some(now + self.current_timeout());
                    self.handle_line(&line)
                }
            };
            self.input.drain(..used);
            if let Some(event) = event {
                return Progress::Event(event);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.closing {
            None
        } else {
            self.deadline
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|deadline| deadline <= now) && self.pending == Pending::Nothing
        {
            // RFC 1939 section 3: close without a response and without entering UPDATE.
            self.closing = true;
            self.out.clear();
        }
    }

    fn tls_established(&mut self) {
        self.tls_active = true;
        // RFC 2595 section 4: the client forgets what it learned; so does the server.
        self.state = State::Authorization { user: None };
    }

    fn input_closed(&mut self) {
        self.body = None;
        self.pending = Pending::Nothing;
        self.closing = true;
    }

    fn shutdown_requested(&mut self) {
        self.shutdown = true;
    }

    fn wants_input(&self) -> bool {
        self.input.len() < self.options.limits.max_buffered_input
    }
}
