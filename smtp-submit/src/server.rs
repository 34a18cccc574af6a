//! The Sans-IO submission server session (RFC 6409 over RFC 5321), with STARTTLS, AUTH,
//! PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING, BINARYMIME, DSN parameters and enhanced
//! status codes.
//!
//! The session answers everything that needs no decision: order of commands, syntax, limits,
//! EHLO, NOOP, RSET, HELP, VRFY, QUIT. It hands the application what needs the directory, the
//! store or the router, as [`Event`]s:
//!
//! ```text
//! C: AUTH PLAIN ...        ─► Event::Login        ─► accept_login(identity) | reject_login(why)
//! C: MAIL FROM:<..>        ─► Event::Mail         ─► accept_mail() | reject_mail(reply)
//! C: RCPT TO:<..>          ─► Event::Rcpt         ─► accept_rcpt() | reject_rcpt(reply)
//! C: DATA / first BDAT     ─► Event::MessageStart ─► start_message() | refuse_message(reply)
//!    body octets           ─► Event::MessageData  ─► take_message_data(|part| ...)
//!    end of body           ─► Event::MessageEnd   ─► accept_message(text) | reject_message(reply)
//!    body refused          ─► Event::MessageAborted (drop what was kept; the session answers)
//! ```
//!
//! The body is never held whole: [`ServerSession::take_message_data`] hands it on as slices of
//! the session's input buffer, un-stuffed and checked. The answer to the end of the body comes
//! only from the application, so `250` can wait until the message is durable or the smarthost
//! has taken it.

use std::time::{Duration, Instant};

use mail_session::line::{LineReader, LineStatus};
use mail_session::sasl::{Credentials, Mechanism, ServerExchange, ServerStep};
use mail_session::{Limits, OutOfTurn, OutputBuffer, Progress, Session};

use crate::data::{BdatReceiver, ContentProblem, ContentRules, DataReceiver};
use crate::encode;
use crate::parse;
pub use crate::types::Recipient;
use crate::types::{
    BodyType, Command, Domain, Extension, ForwardPath, MailParameters, RcptParameters, Reply,
    ReversePath,
};

pub use mail_session::{LoginRejection, TlsMode};

/// How a session behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Size limits: `max_line_length` is the command line limit, `max_message_size` the
    /// largest message (announced as `SIZE`), `max_buffered_input` what a pipelining client
    /// may send ahead.
    pub limits: Limits,
    /// TLS on this connection.
    pub tls: TlsMode,
    /// Accept AUTH without TLS. For tests only.
    pub allow_plaintext_auth: bool,
    /// Require AUTH before MAIL (RFC 6409 section 4.3: on by default for submission).
    pub require_auth: bool,
    /// The server's name, in the greeting and the EHLO reply.
    pub hostname: String,
    /// How long the server waits for a command or for more of a message (RFC 5321 section
    /// 4.5.3.2.7: at least 5 minutes).
    pub idle_timeout: Duration,
    /// How long the server waits for a command before the client has logged in. The default
    /// is the RFC 5321 minimum, 5 minutes, the same as `idle_timeout`; a shorter one frees
    /// the slots of clients that connect and never log in sooner, below what RFC 5321 asks
    /// for.
    pub pre_auth_timeout: Duration,
    /// The longest one message body may take to arrive, from its first octet to its end
    /// (DATA, all BDAT chunks of a message, and a refused BDAT chunk read to be dropped). Over
    /// it the session answers `421 4.4.2` and closes: a body trickled in one block at a time
    /// does not hold a connection for ever however often it resets `idle_timeout`.
    pub max_message_duration: Duration,
    /// Most recipients of one message (RFC 5321 section 4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Most erroneous commands before the session ends with `421` (Postfix's
    /// `smtpd_hard_error_limit` is 20).
    pub max_errors: u32,
    /// SASL mechanisms offered once passwords may be sent.
    pub mechanisms: Vec<Mechanism>,
    /// Announce `DSN` (only if whoever receives the envelope honours the DSN parameters).
    pub announce_dsn: bool,
    /// Refuse bare CR and LF in DATA (RFC 5321 section 2.3.8); on by default.
    pub reject_bare_line_ends: bool,
    /// Accept 8-bit octets without `BODY=8BITMIME`. On by default: msmtp, curl and swaks
    /// send 8-bit text without declaring it, and Postfix and Dovecot accept it (RFC 6152 puts
    /// the duty on the client and leaves the server free). Turn it off for strict RFC 6152.
    pub accept_undeclared_eight_bit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::smtp(),
            tls: TlsMode::StartTls,
            allow_plaintext_auth: false,
            require_auth: true,
            hostname: "localhost".into(),
            idle_timeout: Duration::from_secs(300),
            pre_auth_timeout: Duration::from_secs(300),
            max_message_duration: Duration::from_secs(10 * 60),
            max_recipients: 100,
            max_errors: 20,
            mechanisms: Mechanism::ALL.to_vec(),
            announce_dsn: false,
            reject_bare_line_ends: true,
            accept_undeclared_eight_bit: true,
        }
    }
}

/// A message's envelope, as the session has accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What the client called itself in EHLO/HELO.
    pub client_domain: Domain,
    /// Whether it used EHLO (ESMTP) rather than HELO.
    pub esmtp: bool,
    /// The authenticated identity, if any.
    pub authenticated_as: Option<String>,
    /// Whether the connection was encrypted.
    pub tls: bool,
    /// The sender.
    pub from: ReversePath,
    /// MAIL's parameters.
    pub parameters: MailParameters,
    /// The accepted recipients, in order.
    pub recipients: Vec<Recipient>,
}

/// What the application must act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Verify these credentials (AUTH). Answer with [`ServerSession::accept_login`] or
    /// [`ServerSession::reject_login`].
    Login {
        /// What the client sent.
        credentials: Credentials,
    },
    /// May this sender send (for instance: does it belong to the authenticated account)?
    /// Answer with [`ServerSession::accept_mail`] or [`ServerSession::reject_mail`].
    Mail {
        /// The sender.
        from: ReversePath,
        /// Its parameters.
        parameters: MailParameters,
    },
    /// Can this recipient be reached? Answer with [`ServerSession::accept_rcpt`] or
    /// [`ServerSession::reject_rcpt`].
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// Its parameters.
        parameters: RcptParameters,
    },
    /// A message is about to arrive (DATA, or the first BDAT chunk). Answer with
    /// [`ServerSession::start_message`] or [`ServerSession::refuse_message`].
    MessageStart {
        /// Its envelope.
        envelope: Envelope,
    },
    /// Body octets are waiting: call [`ServerSession::take_message_data`]. Until they are
    /// taken, the session hands out this event again.
    MessageData,
    /// The body is complete and passed every check. Deliver it, then answer with
    /// [`ServerSession::accept_message`] or [`ServerSession::reject_message`].
    MessageEnd {
        /// Its envelope.
        envelope: Envelope,
        /// Its size in octets (after un-stuffing).
        size: u64,
    },
    /// The body was refused (too large, bare line ends, ...) or the client sent RSET between
    /// BDAT chunks: drop whatever was kept of it. The session has answered; nothing to do.
    MessageAborted {
        /// Why, when the content was at fault.
        problem: Option<ContentProblem>,
    },
}

#[derive(Debug)]
enum Phase {
    Commands,
    Sasl(ServerExchange),
    /// Receiving DATA.
    Data(Box<DataReceiver>),
    /// Receiving a BDAT chunk for an accepted message.
    Bdat {
        receiver: BdatReceiver,
        last: bool,
    },
    /// Reading a BDAT chunk that is refused, to keep the octets from being read as commands.
    BdatDiscard {
        remaining: u64,
        reply: Reply,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Login,
    Mail,
    Rcpt,
    /// DATA or first BDAT, waiting for the application's go-ahead.
    MessageStart {
        bdat: Option<(u64, bool)>,
    },
    MessageEnd,
}

#[derive(Debug, Clone)]
struct Transaction {
    from: ReversePath,
    parameters: MailParameters,
    recipients: Vec<Recipient>,
    /// A BDAT message is under way: its chunks were accepted so far.
    bdat_started: bool,
}

/// An SMTP submission server session. See the module docs.
#[derive(Debug)]
pub struct ServerSession {
    options: Options,
    input: Vec<u8>,
    lines: LineReader,
    out: OutputBuffer,
    phase: Phase,
    pending: Pending,
    greeted: Option<(Domain, bool)>,
    authenticated: Option<String>,
    transaction: Option<Transaction>,
    /// MAIL or RCPT waiting for the application's answer.
    proposed_mail: Option<(ReversePath, MailParameters)>,
    proposed_rcpt: Option<Recipient>,
    tls_active: bool,
    start_tls: bool,
    closing: bool,
    shutdown: bool,
    errors: u32,
    deadline: Option<Instant>,
    /// When the message body under way must be complete.
    body_deadline: Option<Instant>,
    /// A BDAT message between chunks.
    bdat_receiver: Option<BdatReceiver>,
    /// An event to hand out at the next step.
    queued: Option<Event>,
}

/// Longest client line inside a SASL exchange (base64 of RFC 4616's 3 × 255 octets).
const SASL_LINE_LIMIT: usize = 2048;

fn reply(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Reply {
    Reply::new(code, Some(enhanced), text)
}

impl ServerSession {
    /// A new session; its first output is the `220` greeting.
    pub fn new(options: Options) -> Self {
        let mut out = OutputBuffer::new();
        encode::reply(
            &Reply::new(
                220,
                None,
                format!("{} ESMTP submission service ready", options.hostname),
            ),
            out.writer(),
        );
        ServerSession {
            lines: LineReader::new(options.limits.max_line_length),
            tls_active: options.tls == TlsMode::Implicit,
            options,
            input: Vec::new(),
            out,
            phase: Phase::Commands,
            pending: Pending::Nothing,
            greeted: None,
            authenticated: None,
            transaction: None,
            proposed_mail: None,
            proposed_rcpt: None,
            start_tls: false,
            closing: false,
            shutdown: false,
            errors: 0,
            deadline: None,
            body_deadline: None,
            bdat_receiver: None,
            queued: None,
        }
    }

    /// Whether the transport is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls_active
    }

    /// The identity the client authenticated as.
    pub fn authenticated_as(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    fn send(&mut self, reply: &Reply) {
        encode::reply(reply, self.out.writer());
    }

    fn error(&mut self, reply: &Reply) {
        self.send(reply);
        self.errors += 1;
        if self.errors >= self.options.max_errors {
            self.send(&self::reply(
                421,
                (4, 7, 0),
                format!(
                    "{} too many errors, closing connection",
                    self.options.hostname
                ),
            ));
            self.closing = true;
        }
    }

    fn bad_sequence(&mut self, text: &str) {
        self.error(&reply(503, (5, 5, 1), text.to_string()));
    }

    fn passwords_allowed(&self) -> bool {
        self.tls_active || self.options.allow_plaintext_auth
    }

    /// The EHLO keywords in the current state.
    pub fn extensions(&self) -> Vec<Extension> {
        let mut extensions = vec![
            Extension::Pipelining,
            Extension::Size(Some(self.options.limits.max_message_size)),
            Extension::EightBitMime,
            Extension::EnhancedStatusCodes,
            Extension::SmtpUtf8,
            Extension::Chunking,
            Extension::BinaryMime,
        ];
        if self.options.announce_dsn {
            extensions.push(Extension::Dsn);
        }
        if self.options.tls == TlsMode::StartTls && !self.tls_active {
            extensions.push(Extension::StartTls);
        }
        if self.passwords_allowed()
            && self.authenticated.is_none()
            && !self.options.mechanisms.is_empty()
        {
            extensions.push(Extension::Auth(
                self.options
                    .mechanisms
                    .iter()
                    .map(|mechanism| mechanism.name().to_string())
                    .collect(),
            ));
        }
        extensions
    }

    fn envelope(&self) -> Option<Envelope> {
        let transaction = self.transaction.as_ref()?;
        let (client_domain, esmtp) = self.greeted.clone()?;
        Some(Envelope {
            client_domain,
            esmtp,
            authenticated_as: self.authenticated.clone(),
            tls: self.tls_active,
            from: transaction.from.clone(),
            parameters: transaction.parameters.clone(),
            recipients: transaction.recipients.clone(),
        })
    }

    fn content_rules(&self) -> ContentRules {
        let body = self
            .transaction
            .as_ref()
            .and_then(|transaction| transaction.parameters.body)
            .unwrap_or(BodyType::SevenBit);
        ContentRules {
            max_size: self.options.limits.max_message_size,
            body,
            reject_bare_line_ends: self.options.reject_bare_line_ends,
            accept_undeclared_eight_bit: self.options.accept_undeclared_eight_bit,
        }
    }

    // ----- the application's answers -----

    fn out_of_turn(&self, answer: &'static str) -> OutOfTurn {
        OutOfTurn::new(
            answer,
            match self.pending {
                Pending::Nothing => "no answer",
                Pending::Login => "an answer to Event::Login",
                Pending::Mail => "an answer to Event::Mail",
                Pending::Rcpt => "an answer to Event::Rcpt",
                Pending::MessageStart { .. } => "an answer to Event::MessageStart",
                Pending::MessageEnd => "an answer to Event::MessageEnd",
            },
        )
    }

    /// Answers [`Event::Login`]: the client is authenticated as `identity` (`235 2.7.0`).
    pub fn accept_login(&mut self, identity: impl Into<String>) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Login {
            return Err(self.out_of_turn("accept_login"));
        }
        self.pending = Pending::Nothing;
        self.authenticated = Some(identity.into());
        // The post-login timeout starts now.
        self.deadline = None;
        self.send(&reply(235, (2, 7, 0), "Authentication successful"));
        Ok(())
    }

    /// Answers [`Event::Login`] with a refusal: [`LoginRejection::Credentials`] is
    /// `535 5.7.8` (RFC 4954), [`LoginRejection::NotPermitted`] `525 5.7.13` (account
    /// disabled for submission, RFC 5248), [`LoginRejection::Temporary`] and
    /// [`LoginRejection::InUse`] `454 4.7.0`.
    pub fn reject_login(&mut self, rejection: LoginRejection) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Login {
            return Err(self.out_of_turn("reject_login"));
        }
        self.pending = Pending::Nothing;
        match rejection {
            LoginRejection::Temporary | LoginRejection::InUse => {
                self.send(&reply(454, (4, 7, 0), "Temporary authentication failure"))
            }
            LoginRejection::NotPermitted => self.error(&reply(
                525,
                (5, 7, 13),
                "This account may not submit mail, contact your administrator",
            )),
            _ => self.error(&reply(535, (5, 7, 8), "Authentication credentials invalid")),
        }
        Ok(())
    }

    /// Answers [`Event::Mail`]: the transaction starts (`250 2.1.0`).
    pub fn accept_mail(&mut self) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Mail {
            return Err(self.out_of_turn("accept_mail"));
        }
        self.pending = Pending::Nothing;
        if let Some((from, parameters)) = self.proposed_mail.take() {
            self.transaction = Some(Transaction {
                from,
                parameters,
                recipients: Vec::new(),
                bdat_started: false,
            });
            self.send(&reply(250, (2, 1, 0), "Sender OK"));
        }
        Ok(())
    }

    /// Answers [`Event::Mail`] with a refusal (for instance `553 5.7.1` for a sender that
    /// does not belong to the authenticated account).
    pub fn reject_mail(&mut self, refusal: Reply) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Mail {
            return Err(self.out_of_turn("reject_mail"));
        }
        self.pending = Pending::Nothing;
        self.proposed_mail = None;
        self.error(&refusal);
        Ok(())
    }

    /// Answers [`Event::Rcpt`]: the recipient is added (`250 2.1.5`).
    pub fn accept_rcpt(&mut self) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Rcpt {
            return Err(self.out_of_turn("accept_rcpt"));
        }
        self.pending = Pending::Nothing;
        if let (Some(recipient), Some(transaction)) =
            (self.proposed_rcpt.take(), self.transaction.as_mut())
        {
            transaction.recipients.push(recipient);
            self.send(&reply(250, (2, 1, 5), "Recipient OK"));
        }
        Ok(())
    }

    /// Answers [`Event::Rcpt`] with a refusal (`550 5.1.1`, `550 5.7.1` relay denied, ...).
    pub fn reject_rcpt(&mut self, refusal: Reply) -> Result<(), OutOfTurn> {
        if self.pending != Pending::Rcpt {
            return Err(self.out_of_turn("reject_rcpt"));
        }
        self.pending = Pending::Nothing;
        self.proposed_rcpt = None;
        self.send(&refusal);
        Ok(())
    }

    /// Answers [`Event::MessageStart`]: the body may come (`354` for DATA).
    pub fn start_message(&mut self) -> Result<(), OutOfTurn> {
        let Pending::MessageStart { bdat } = self.pending else {
            return Err(self.out_of_turn("start_message"));
        };
        self.pending = Pending::Nothing;
        let rules = self.content_rules();
        match bdat {
            None => {
                self.send(&Reply::new(354, None, "End data with <CR><LF>.<CR><LF>"));
                self.phase = Phase::Data(Box::new(DataReceiver::new(rules)));
            }
            Some((size, last)) => {
                if let Some(transaction) = self.transaction.as_mut() {
                    transaction.bdat_started = true;
                }
                let mut receiver = BdatReceiver::new(rules);
                receiver.start_chunk(size);
                self.phase = Phase::Bdat { receiver, last };
                self.settle_empty_chunk();
            }
        }
        Ok(())
    }

    /// Answers [`Event::MessageStart`] with a refusal; the transaction ends. A BDAT chunk
    /// that was announced is still read (and dropped).
    pub fn refuse_message(&mut self, refusal: Reply) -> Result<(), OutOfTurn> {
        let Pending::MessageStart { bdat } = self.pending else {
            return Err(self.out_of_turn("refuse_message"));
        };
        self.pending = Pending::Nothing;
        self.transaction = None;
        match bdat {
            None => self.send(&refusal),
            Some((size, _)) => {
                self.phase = Phase::BdatDiscard {
                    remaining: size,
                    reply: refusal,
                }
            }
        }
        Ok(())
    }

    /// Answers [`Event::MessageData`]: hands the waiting body octets to `sink`, as slices of
    /// the session's buffer (no copy). Returns how many octets were handed on, or
    /// [`OutOfTurn`] when no body is being received.
    pub fn take_message_data(&mut self, mut sink: impl FnMut(&[u8])) -> Result<usize, OutOfTurn> {
        let mut handed = 0;
        let (consumed, finished) = match &mut self.phase {
            Phase::Data(receiver) => {
                let received = receiver.receive(&self.input, |part| {
                    handed += part.len();
                    sink(part)
                });
                (received.consumed, received.finished)
            }
            Phase::Bdat { receiver, .. } => {
                let received = receiver.receive(&self.input, |part| {
                    handed += part.len();
                    sink(part)
                });
                (received.consumed, received.finished)
            }
            _ => return Err(self.out_of_turn("take_message_data")),
        };
        self.input.drain(..consumed);
        if finished {
            self.body_part_finished();
        }
        Ok(handed)
    }

    /// The DATA body or a BDAT chunk has all its octets.
    fn body_part_finished(&mut self) {
        let outcome = match std::mem::replace(&mut self.phase, Phase::Commands) {
            Phase::Data(mut receiver) => receiver.finish(),
            Phase::Bdat {
                mut receiver,
                last: true,
            } => receiver.finish(),
            Phase::Bdat {
                receiver,
                last: false,
            } => {
                let received = receiver.received();
                if received > self.options.limits.max_message_size {
                    let mut receiver = receiver;
                    receiver.finish()
                } else {
                    self.send(&reply(
                        250,
                        (2, 0, 0),
                        format!("{received} octets received"),
                    ));
                    self.bdat_receiver = Some(receiver);
                    return;
                }
            }
            other => {
                self.phase = other;
                return;
            }
        };
        match outcome {
            Ok(size) => match self.envelope() {
                Some(envelope) => {
                    self.pending = Pending::MessageEnd;
                    self.queued = Some(Event::MessageEnd { envelope, size });
                }
                None => self.send(&reply(503, (5, 5, 1), "no transaction")),
            },
            Err(problem) => {
                self.transaction = None;
                self.bdat_receiver = None;
                self.error(&problem.reply());
                self.queued = Some(Event::MessageAborted {
                    problem: Some(problem),
                });
            }
        }
    }

    /// Answers [`Event::MessageEnd`]: the message is delivered or queued (`250 2.0.0`).
    pub fn accept_message(&mut self, text: impl Into<String>) -> Result<(), OutOfTurn> {
        if self.pending != Pending::MessageEnd {
            return Err(self.out_of_turn("accept_message"));
        }
        self.pending = Pending::Nothing;
        self.transaction = None;
        self.send(&reply(250, (2, 0, 0), text));
        Ok(())
    }

    /// Answers [`Event::MessageEnd`] with a failure (`451 4.3.0` when storage failed, `554`
    /// when the smarthost refused, ...). The transaction ends either way.
    pub fn reject_message(&mut self, refusal: Reply) -> Result<(), OutOfTurn> {
        if self.pending != Pending::MessageEnd {
            return Err(self.out_of_turn("reject_message"));
        }
        self.pending = Pending::Nothing;
        self.transaction = None;
        self.send(&refusal);
        Ok(())
    }
}

// ----- commands -----

enum CommandKind {
    Ehlo,
    Other,
}

impl ServerSession {
    fn handle_line(&mut self, line: &[u8]) -> Option<Event> {
        if let Phase::Sasl(exchange) = &mut self.phase {
            let step = exchange.step(line);
            return self.sasl_step(step);
        }
        let command = match parse::command(line) {
            Ok(command) => command,
            Err(error) => {
                self.error(&error.reply());
                return None;
            }
        };
        let command_kind = if matches!(command, Command::Ehlo(_)) {
            CommandKind::Ehlo
        } else {
            CommandKind::Other
        };
        match command {
            Command::Ehlo(domain) | Command::Helo(domain) => {
                let esmtp = matches!(command_kind, CommandKind::Ehlo);
                let aborted = self.reset_transaction();
                let greeting = format!("{} Hello {domain}", self.options.hostname);
                self.greeted = Some((domain, esmtp));
                let mut answer = Reply::new(250, None, greeting);
                if esmtp {
                    for extension in self.extensions() {
                        answer = answer.with_line(extension.to_string());
                    }
                }
                self.send(&answer);
                return aborted;
            }
            Command::StartTls => {
                if self.tls_active {
                    self.bad_sequence("TLS already active");
                } else if self.options.tls != TlsMode::StartTls {
                    self.send(&reply(454, (4, 7, 0), "TLS not available"));
                } else {
                    self.send(&reply(220, (2, 0, 0), "Ready to start TLS"));
                    self.start_tls = true;
                }
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => return self.auth(&mechanism, initial_response),
            Command::Mail { from, parameters } => return self.mail(from, parameters),
            Command::Rcpt { to, parameters } => return self.rcpt(to, parameters),
            Command::Data => return self.data(),
            Command::Bdat { size, last } => return self.bdat(size, last),
            Command::Rset => {
                let aborted = self.reset_transaction();
                self.send(&reply(250, (2, 0, 0), "OK"));
                return aborted;
            }
            Command::Noop => self.send(&reply(250, (2, 0, 0), "OK")),
            Command::Vrfy(_) => self.send(&reply(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Help(_) => self.send(&reply(
                214,
                (2, 0, 0),
                "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
            )),
            Command::Quit => {
                let aborted = self.reset_transaction();
                self.send(&reply(
                    221,
                    (2, 0, 0),
                    format!("{} closing connection", self.options.hostname),
                ));
                self.closing = true;
                return aborted;
            }
        }
        None
    }

    /// Ends any transaction (RSET, EHLO, QUIT); a BDAT message under way is aborted.
    fn reset_transaction(&mut self) -> Option<Event> {
        let had_bdat = self.bdat_receiver.take().is_some();
        self.transaction = None;
        had_bdat.then_some(Event::MessageAborted { problem: None })
    }

    fn auth(
        &mut self,
        name: &str,
        initial_response: Option<mail_session::sasl::Secret>,
    ) -> Option<Event> {
        if !self.esmtp() {
            // AUTH is an extension: only after EHLO (RFC 4954 section 4).
            self.bad_sequence("send EHLO first");
        } else if self.authenticated.is_some() {
            self.bad_sequence("already authenticated");
        } else if self.transaction.is_some() {
            self.bad_sequence("AUTH not allowed during a mail transaction");
        } else if !self.passwords_allowed() {
            if self.options.tls == TlsMode::StartTls {
                self.error(&reply(
                    530,
                    (5, 7, 0),
                    "Must issue a STARTTLS command first",
                ));
            } else {
                // No STARTTLS to point to (RFC 4954 section 6: 538 5.7.11).
                self.error(&reply(
                    538,
                    (5, 7, 11),
                    "Encryption required for authentication, and TLS is not available here",
                ));
            }
        } else {
            let mechanism = Mechanism::from_name(name.as_bytes())
                .filter(|mechanism| self.options.mechanisms.contains(mechanism));
            let Some(mechanism) = mechanism else {
                self.error(&reply(504, (5, 5, 4), "Unrecognized authentication type"));
                return None;
            };
            let response = initial_response.as_ref().map(|r| r.expose().as_bytes());
            let Some((exchange, step)) = ServerExchange::start(mechanism, response) else {
                self.error(&reply(504, (5, 5, 4), "Unrecognized authentication type"));
                return None;
            };
            self.phase = Phase::Sasl(exchange);
            self.lines.set_max_line_length(SASL_LINE_LIMIT);
            return self.sasl_step(step);
        }
        None
    }

    fn sasl_step(&mut self, step: ServerStep) -> Option<Event> {
        match step {
            ServerStep::Challenge(challenge) => {
                self.out.writer().extend_from_slice(b"334 ");
                self.out.writer().extend_from_slice(challenge.as_bytes());
                self.out.writer().extend_from_slice(b"\r\n");
                None
            }
            ServerStep::Done(credentials) => {
                self.end_sasl();
                self.pending = Pending::Login;
                Some(Event::Login { credentials })
            }
            ServerStep::Failed(mail_session::sasl::SaslError::Cancelled) => {
                self.end_sasl();
                self.error(&reply(501, (5, 0, 0), "Authentication cancelled"));
                None
            }
            ServerStep::Failed(error) => {
                self.end_sasl();
                self.error(&reply(501, (5, 5, 2), error.to_string()));
                None
            }
        }
    }

    fn end_sasl(&mut self) {
        self.phase = Phase::Commands;
        self.lines
            .set_max_line_length(self.options.limits.max_line_length);
    }

    fn mail(&mut self, from: ReversePath, parameters: MailParameters) -> Option<Event> {
        if self.greeted.is_none() {
            self.bad_sequence("send EHLO or HELO first");
        } else if self.transaction.is_some() {
            self.bad_sequence("nested MAIL command");
        } else if self.options.require_auth && self.authenticated.is_none() {
            self.error(&reply(530, (5, 7, 0), "Authentication required"));
        } else if let Some(parameter) = self.unannounced_mail_parameter(&parameters) {
            self.error(&reply(
                555,
                (5, 5, 4),
                format!("MAIL parameter not announced here: {parameter}"),
            ));
        } else if parameters
            .size
            .is_some_and(|size| size > self.options.limits.max_message_size)
        {
            self.error(&reply(
                552,
                (5, 3, 4),
                format!(
                    "message size exceeds fixed maximum message size of {} octets",
                    self.options.limits.max_message_size
                ),
            ));
        } else if matches!(&from, ReversePath::Mailbox(mailbox) if mailbox.needs_smtputf8())
            && !parameters.smtputf8
        {
            self.error(&reply(
                553,
                (5, 6, 7),
                "non-ASCII sender address requires SMTPUTF8",
            ));
        } else {
            self.pending = Pending::Mail;
            self.proposed_mail = Some((from.clone(), parameters.clone()));
            return Some(Event::Mail { from, parameters });
        }
        None
    }

    /// Whether the client said EHLO (after HELO no extension may be used, RFC 5321 4.1.1.1).
    fn esmtp(&self) -> bool {
        self.greeted.as_ref().is_some_and(|(_, esmtp)| *esmtp)
    }

    /// A MAIL parameter of an extension this session did not announce (RFC 5321 4.1.1.11:
    /// 555).
    fn unannounced_mail_parameter(&self, parameters: &MailParameters) -> Option<&'static str> {
        let esmtp = self.esmtp();
        let dsn = esmtp && self.options.announce_dsn;
        let auth_announced = esmtp && self.passwords_allowed();
        if !esmtp && (parameters.size.is_some() || parameters.body.is_some()) {
            Some("SIZE/BODY after HELO")
        } else if !esmtp && parameters.smtputf8 {
            Some("SMTPUTF8 after HELO")
        } else if !dsn && (parameters.ret.is_some() || parameters.envid.is_some()) {
            Some("RET/ENVID (no DSN)")
        } else if !auth_announced && parameters.auth.is_some() {
            Some("AUTH")
        } else {
            None
        }
    }

    fn rcpt(&mut self, to: ForwardPath, parameters: RcptParameters) -> Option<Event> {
        let Some(transaction) = &self.transaction else {
            self.bad_sequence("need MAIL command first");
            return None;
        };
        let smtputf8 = transaction.parameters.smtputf8;
        if transaction.bdat_started {
            self.bad_sequence("RCPT not allowed during BDAT");
        } else if (parameters.notify.is_some() || parameters.orcpt.is_some())
            && !(self.options.announce_dsn && self.esmtp())
        {
            self.error(&reply(
                555,
                (5, 5, 4),
                "RCPT parameter not announced here: NOTIFY/ORCPT (no DSN)",
            ));
        } else if transaction.recipients.len() >= self.options.max_recipients {
            self.send(&reply(452, (4, 5, 3), "Too many recipients"));
        } else if matches!(&to, ForwardPath::Mailbox(mailbox) if mailbox.needs_smtputf8())
            && !smtputf8
        {
            self.error(&reply(
                553,
                (5, 6, 7),
                "non-ASCII recipient address requires SMTPUTF8",
            ));
        } else {
            self.pending = Pending::Rcpt;
            self.proposed_rcpt = Some(Recipient {
                to: to.clone(),
                parameters: parameters.clone(),
            });
            return Some(Event::Rcpt { to, parameters });
        }
        None
    }

    fn data(&mut self) -> Option<Event> {
        match &self.transaction {
            None => self.bad_sequence("need MAIL command first"),
            Some(transaction) if transaction.bdat_started => {
                self.bad_sequence("DATA not allowed after BDAT")
            }
            Some(transaction) if transaction.recipients.is_empty() => {
                // RFC 2920 section 3.1: 554 when no recipient was accepted.
                self.error(&reply(554, (5, 5, 1), "No valid recipients"))
            }
            Some(transaction) if transaction.parameters.body == Some(BodyType::BinaryMime) => {
                self.bad_sequence("BODY=BINARYMIME requires BDAT, not DATA")
            }
            Some(_) => {
                let envelope = self.envelope()?;
                self.pending = Pending::MessageStart { bdat: None };
                return Some(Event::MessageStart { envelope });
            }
        }
        None
    }

    fn bdat(&mut self, size: u64, last: bool) -> Option<Event> {
        let refusal = match &self.transaction {
            None => Some(reply(503, (5, 5, 1), "need MAIL command first")),
            Some(transaction) if transaction.recipients.is_empty() => {
                Some(reply(554, (5, 5, 1), "No valid recipients"))
            }
            Some(_) => None,
        };
        if let Some(refusal) = refusal {
            // The chunk's octets follow the command whatever happens: read and drop them.
            self.errors += 1;
            self.phase = Phase::BdatDiscard {
                remaining: size,
                reply: refusal,
            };
            self.settle_empty_chunk();
            return None;
        }
        if let Some(mut receiver) = self.bdat_receiver.take() {
            receiver.start_chunk(size);
            self.phase = Phase::Bdat { receiver, last };
            self.settle_empty_chunk();
            return None;
        }
        let envelope = self.envelope()?;
        self.pending = Pending::MessageStart {
            bdat: Some((size, last)),
        };
        Some(Event::MessageStart { envelope })
    }

    /// A chunk of size 0 is complete at once (`BDAT 0 LAST` ends a message).
    fn settle_empty_chunk(&mut self) {
        let empty = match &self.phase {
            Phase::Bdat { receiver, .. } => receiver.remaining() == 0,
            Phase::BdatDiscard { remaining, .. } => *remaining == 0,
            _ => false,
        };
        if empty {
            self.finish_discard_or_body();
        }
    }

    fn finish_discard_or_body(&mut self) {
        if let Phase::BdatDiscard { remaining: 0, .. } = &self.phase {
            if let Phase::BdatDiscard { reply, .. } =
                std::mem::replace(&mut self.phase, Phase::Commands)
            {
                self.transaction = None;
                self.bdat_receiver = None;
                self.send(&reply);
            }
        } else {
            self.body_part_finished();
        }
    }

    /// The idle timeout in force: `pre_auth_timeout` before login.
    fn current_timeout(&self) -> Duration {
        if self.authenticated.is_some() {
            self.options.idle_timeout
        } else {
            self.options.pre_auth_timeout
        }
    }

    /// Whether a message body (or a refused chunk) is being received.
    fn in_body(&self) -> bool {
        !matches!(self.phase, Phase::Commands | Phase::Sasl(_)) || self.bdat_receiver.is_some()
    }

    /// Ends the session: the message body took longer than `max_message_duration`.
    fn body_took_too_long(&mut self) {
        if matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. }) || self.bdat_receiver.is_some()
        {
            self.queued = Some(Event::MessageAborted { problem: None });
        }
        self.phase = Phase::Commands;
        self.transaction = None;
        self.bdat_receiver = None;
        self.body_deadline = None;
        self.send(&reply(
            421,
            (4, 4, 2),
            format!(
                "{} message took too long to arrive, closing connection",
                self.options.hostname
            ),
        ));
        self.closing = true;
    }

    /// Drops the octets of a refused BDAT chunk.
    fn discard_chunk(&mut self) {
        if let Phase::BdatDiscard { remaining, .. } = &mut self.phase {
            let take = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(self.input.len());
            self.input.drain(..take);
            *remaining -= take as u64;
            if *remaining == 0 {
                self.finish_discard_or_body();
            }
        }
    }
}

impl Session for ServerSession {
    type Event = Event;

    fn enqueue_input(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    fn next(&mut self, now: Instant) -> Progress<'_, Event> {
        loop {
            // Rule 1 of the contract: every reply already made leaves before anything else.
            if self.out.has_pending() {
                return Progress::Output(self.out.hand_out());
            }
            if let Some(event) = self.queued.take() {
                return Progress::Event(event);
            }
            if self.closing {
                return Progress::Close;
            }
            if self.start_tls {
                self.start_tls = false;
                // RFC 3207 section 4.2: forget everything, and never read what came in the
                // clear after STARTTLS as if it came over TLS.
                self.input.clear();
                self.lines.reset();
                self.greeted = None;
                self.transaction = None;
                self.bdat_receiver = None;
                return Progress::StartTls;
            }
            if self.pending != Pending::Nothing {
                return Progress::AwaitingAnswer;
            }
            if self.deadline.is_none() {
                self.deadline = Some(now + self.current_timeout());
            }
            if self.in_body() {
                let limit = *self
                    .body_deadline
                    .get_or_insert_with(|| now + self.options.max_message_duration);
                if limit <= now {
                    self.body_took_too_long();
                    continue;
                }
            } else {
                self.body_deadline = None;
            }
            match self.phase {
                Phase::Data(_) | Phase::Bdat { .. } => {
                    if self.input.is_empty() {
                        return Progress::NeedMoreInput;
                    }
                    self.deadline = Some(now + self.current_timeout());
                    return Progress::Event(Event::MessageData);
                }
                Phase::BdatDiscard { .. } => {
                    if self.input.is_empty() {
                        return Progress::NeedMoreInput;
                    }
                    self.deadline = Some(now + self.current_timeout());
                    self.discard_chunk();
                    continue;
                }
                Phase::Commands | Phase::Sasl(_) => {}
            }
            if self.shutdown && self.transaction.is_none() {
                self.send(&reply(
                    421,
                    (4, 3, 2),
                    format!("{} service shutting down", self.options.hostname),
                ));
                self.closing = true;
                continue;
            }
            let (used, status) = self.lines.next_line(&self.input);
            let event = match status {
                LineStatus::Incomplete => {
                    self.input.drain(..used);
                    return Progress::NeedMoreInput;
                }
                LineStatus::TooLong => {
                    if matches!(self.phase, Phase::Sasl(_)) {
                        self.end_sasl();
                    }
                    self.error(&reply(500, (5, 5, 2), "line too long"));
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
            match (self.deadline, self.body_deadline) {
                (Some(idle), Some(body)) => Some(idle.min(body)),
                (idle, body) => idle.or(body),
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.closing || self.pending != Pending::Nothing {
            return;
        }
        if self.body_deadline.is_some_and(|deadline| deadline <= now) {
            self.body_took_too_long();
            return;
        }
        if self.deadline.is_some_and(|deadline| deadline <= now) {
            // RFC 5321 section 4.5.3.2.7; a message under way is dropped.
            if matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. })
                || self.bdat_receiver.is_some()
            {
                self.queued = Some(Event::MessageAborted { problem: None });
            }
            self.phase = Phase::Commands;
            self.transaction = None;
            self.bdat_receiver = None;
            self.send(&reply(
                421,
                (4, 4, 2),
                format!(
                    "{} timeout exceeded, closing connection",
                    self.options.hostname
                ),
            ));
            self.closing = true;
        }
    }

    fn tls_established(&mut self) {
        self.tls_active = true;
        self.greeted = None;
        self.authenticated = None;
        self.transaction = None;
    }

    fn input_closed(&mut self) {
        if matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. })
            || self.bdat_receiver.is_some()
            || self.pending != Pending::Nothing
        {
            self.queued = Some(Event::MessageAborted { problem: None });
        }
        self.pending = Pending::Nothing;
        self.phase = Phase::Commands;
        self.transaction = None;
        self.bdat_receiver = None;
        self.closing = true;
    }

    fn shutdown_requested(&mut self) {
        self.shutdown = true;
    }

    fn wants_input(&self) -> bool {
        self.input.len() < self.options.limits.max_buffered_input
    }
}
