//! Splitting a byte stream into IMAP messages: line parts and literals, under limits.
//!
//! An IMAP command or response is one "logical line": line parts joined by literals
//! (`{n}`, `{n+}` for LITERAL+/LITERAL-, `~{n}` for BINARY's `literal8`). The [`Framer`] finds
//! them in the caller's buffer without re-scanning bytes it has seen (cost linear in the input
//! however it is split), and:
//!
//! - reports each literal's announcement **before** its bytes ([`Frame::LiteralAnnounced`]),
//!   so a server can send the `+` continuation for a synchronizing literal, or refuse it
//!   without reading it;
//! - gathers small literals (mailbox names, passwords, search strings) into the message, and
//!   streams large ones (APPEND's message, FETCH's `BODY[]`, `BINARY[]`, `RFC822`) to the
//!   caller as borrowed chunks ([`Frame::LiteralData`]), never holding them whole;
//! - checks every limit before it allocates; an over-long line, an over-sized literal or an
//!   over-long message is reported once ([`Frame::Error`]) and the rest of that message is
//!   consumed and dropped, never re-read as commands.
//!
//! In the completed message ([`Framer::message`]) an inline literal appears as on the wire,
//! `{n}` CRLF and its octets; a streamed one as `{n}` followed by a NUL octet (which cannot
//! occur there on the wire), so the parsers know it was streamed and how long it was.

use memchr::{memchr, memrchr};
use thiserror::Error;

use crate::types::Tag;

/// Which side the framer reads for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A server reading commands: synchronizing literals wait for the server's `+`.
    Server,
    /// A client reading responses: literals follow their announcement at once.
    Client,
}

/// Whether the peer waits for a continuation before sending a literal's octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: a client waits for `+` (RFC 3501 section 7.5).
    Sync,
    /// `{n+}`: the octets follow at once (LITERAL+ / LITERAL-, RFC 7888).
    NonSync,
}

/// A literal's announcement, reported before any of its octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiteralAnnouncement {
    /// Its size in octets.
    pub size: u64,
    /// Synchronizing or not.
    pub mode: LiteralMode,
    /// `~{n}`: a `literal8`, which may hold NUL (RFC 3516, RFC 9051).
    pub binary: bool,
    /// Whether its octets come as [`Frame::LiteralData`] chunks (true) or are gathered into
    /// the message (false).
    pub streamed: bool,
}

/// Limits of the framer. [`FramerOptions::default`] follows [`mail_session::Limits::imap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FramerOptions {
    /// Longest line part, CRLF included (64 KiB: Dovecot's `imap_max_line_length`).
    pub max_line_length: usize,
    /// Largest literal (50 MiB).
    pub max_literal_size: u64,
    /// Largest literal gathered into the message rather than streamed, wherever it is
    /// (64 KiB: enough for any mailbox name, password or search string).
    pub max_inline_literal: u64,
    /// Longest message held for parsing: line parts plus inline literals (1 MiB).
    pub max_message_length: usize,
}

impl FramerOptions {
    /// With another [`FramerOptions::max_line_length`].
    ///
    /// ```
    /// use imap4_proto::framing::FramerOptions;
    /// let options = FramerOptions::default()
    ///     .with_max_line_length(8 * 1024)
    ///     .with_max_literal_size(10 << 20);
    /// assert_eq!(options.max_line_length, 8 * 1024);
    /// ```
    pub const fn with_max_line_length(mut self, octets: usize) -> Self {
        self.max_line_length = octets;
        self
    }

    /// With another [`FramerOptions::max_literal_size`].
    pub const fn with_max_literal_size(mut self, octets: u64) -> Self {
        self.max_literal_size = octets;
        self
    }

    /// With another [`FramerOptions::max_inline_literal`].
    pub const fn with_max_inline_literal(mut self, octets: u64) -> Self {
        self.max_inline_literal = octets;
        self
    }

    /// With another [`FramerOptions::max_message_length`].
    pub const fn with_max_message_length(mut self, octets: usize) -> Self {
        self.max_message_length = octets;
        self
    }
}

impl Default for FramerOptions {
    fn default() -> Self {
        let limits = mail_session::Limits::imap();
        FramerOptions {
            max_line_length: limits.max_line_length,
            max_literal_size: limits.max_message_size,
            max_inline_literal: 64 * 1024,
            max_message_length: 1024 * 1024,
        }
    }
}

/// Why a message was dropped. Each is reported once; the rest of the message is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameErrorKind {
    /// A line part longer than [`FramerOptions::max_line_length`].
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A literal larger than [`FramerOptions::max_literal_size`]. A synchronizing literal's
    /// octets will not be sent (answer `NO [TOOBIG]` or `BAD`); a non-synchronizing one's are
    /// skipped as they arrive (or close the connection).
    #[error("literal of {size} octets is over the limit of {limit}")]
    LiteralTooLarge {
        /// The announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A literal announcement whose size is not a number that fits in 63 bits.
    #[error("literal size is not a valid number")]
    LiteralSize,
    /// The message grew past [`FramerOptions::max_message_length`].
    #[error("message longer than {limit} octets")]
    MessageTooLong {
        /// The limit.
        limit: usize,
    },
}

/// A dropped message: what went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} at octet {offset} of the message")]
pub struct FrameError {
    /// What went wrong.
    pub kind: FrameErrorKind,
    /// Octet offset within the message (line parts and inline literals) where it was noticed.
    pub offset: usize,
    /// The message's tag, if it started with a valid one (so a server can answer it).
    pub tag: Option<Tag>,
}

/// What [`Framer::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Frame<'a> {
    /// Nothing complete yet: call again with the unconsumed bytes followed by new ones.
    Incomplete,
    /// A literal was announced. On the server side, answer a [`LiteralMode::Sync`] one with a
    /// `+` continuation before expecting its octets, or call [`Framer::reject_literal`] (and
    /// answer the command's tag). Then call [`Framer::next`] again.
    LiteralAnnounced(LiteralAnnouncement),
    /// A chunk of a streamed literal, borrowed from the input. Chunks follow one another
    /// until the announced size is reached; then the message continues.
    LiteralData(&'a [u8]),
    /// A complete message: read it with [`Framer::message`] (parse it with
    /// [`crate::parse::command`] or [`crate::parse::response`]) before calling `next` again.
    Message,
    /// A message was dropped; what follows of it is consumed silently.
    Error(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a line part; `scanned` octets of the input were searched for LF already.
    Line { scanned: usize },
    /// Inside a literal.
    Literal { remaining: u64, streamed: bool },
    /// Dropping an over-long line up to its LF; `tail` keeps its last octets to spot a
    /// literal announcement at its end.
    DiscardLine,
    /// Dropping a literal of the dropped message.
    DiscardLiteral { remaining: u64 },
}

/// Longest literal announcement kept while discarding: `~{` 20 digits `+}` CR.
const TAIL: usize = 26;

/// Splits a byte stream into messages and literals; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Framer {
    role: Role,
    options: FramerOptions,
    state: State,
    /// The message being gathered.
    message: Vec<u8>,
    /// Whether `message` holds a complete message that the caller has been told about.
    complete: bool,
    /// Whether the current message is being dropped.
    dropping: bool,
    /// The last octets of a line being discarded.
    tail: Vec<u8>,
    /// An announcement not yet followed by its octets.
    announced: Option<LiteralAnnouncement>,
    /// Octets searched for a line end so far.
    examined: u64,
}

impl Framer {
    /// A framer for `role` with the given limits.
    pub fn new(role: Role, options: FramerOptions) -> Self {
        Framer {
            role,
            options,
            state: State::Line { scanned: 0 },
            message: Vec::new(),
            complete: false,
            dropping: false,
            tail: Vec::new(),
            announced: None,
            examined: 0,
        }
    }

    /// How many octets the framer has searched for line ends so far. Resuming on more input
    /// never searches the same octets again, so this stays at most the length of the input
    /// however it is split (the quadratic re-scan of imap-next#129 cannot happen); tests and
    /// monitoring can check that.
    pub fn octets_examined(&self) -> u64 {
        self.examined
    }

    /// The limits in force.
    pub fn options(&self) -> &FramerOptions {
        &self.options
    }

    /// The message reported by the last [`Frame::Message`], or what has been gathered of
    /// the current one so far (for example to read the tag after [`Frame::LiteralAnnounced`]).
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// Refuses the literal just announced. A synchronizing literal on the server side ends
    /// the message (the client sends nothing more of it); otherwise the literal's octets and
    /// the rest of the message are consumed and dropped. Does nothing if no literal is
    /// waiting.
    pub fn reject_literal(&mut self) {
        if let Some(announcement) = self.announced.take() {
            self.drop_after_literal(announcement);
        }
    }

    /// Forgets any partial message, for example when the transport changes at STARTTLS or
    /// COMPRESS.
    pub fn reset(&mut self) {
        self.state = State::Line { scanned: 0 };
        self.message.clear();
        self.complete = false;
        self.dropping = false;
        self.tail.clear();
        self.announced = None;
    }

    fn drop_after_literal(&mut self, announcement: LiteralAnnouncement) {
        self.dropping = true;
        if self.role == Role::Server && announcement.mode == LiteralMode::Sync {
            self.end_message_silently();
        } else {
            self.state = State::DiscardLiteral {
                remaining: announcement.size,
            };
        }
    }

    fn end_message_silently(&mut self) {
        self.message.clear();
        self.dropping = false;
        self.state = State::Line { scanned: 0 };
    }

    fn error(&self, kind: FrameErrorKind, offset: usize) -> FrameError {
        FrameError {
            kind,
            offset,
            tag: leading_tag(&self.message),
        }
    }

    /// Looks for the next event at the start of `input`, the caller's unconsumed bytes.
    ///
    /// Returns how many octets of `input` are consumed (drop them before the next call) and
    /// what was found. After [`Frame::Incomplete`] call again with the same unconsumed bytes
    /// followed by new ones.
    pub fn next<'a>(&mut self, input: &'a [u8]) -> (usize, Frame<'a>) {
        if self.complete {
            self.complete = false;
            self.message.clear();
        }
        if let Some(announcement) = self.announced.take() {
            self.state = State::Literal {
                remaining: announcement.size,
                streamed: announcement.streamed,
            };
        }
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or_default();
            match self.state {
                State::Literal {
                    remaining,
                    streamed,
                } => {
                    if remaining == 0 {
                        self.state = State::Line { scanned: 0 };
                        continue;
                    }
                    if rest.is_empty() {
                        return (used, Frame::Incomplete);
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    let chunk = rest.get(..take).unwrap_or_default();
                    let remaining = remaining - take as u64;
                    self.state = State::Literal {
                        remaining,
                        streamed,
                    };
                    used += take;
                    if streamed {
                        return (used, Frame::LiteralData(chunk));
                    }
                    self.message.extend_from_slice(chunk);
                }
                State::DiscardLiteral { remaining } => {
                    if remaining == 0 {
                        self.state = State::Line { scanned: 0 };
                        continue;
                    }
                    if rest.is_empty() {
                        return (used, Frame::Incomplete);
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    used += take;
                    self.state = State::DiscardLiteral {
                        remaining: remaining - take as u64,
                    };
                }
                State::DiscardLine => match memchr(b'\n', rest) {
                    Some(end) => {
                        let line = rest.get(..end).unwrap_or_default();
                        keep_tail(&mut self.tail, line);
                        used += end + 1;
                        let tail = std::mem::take(&mut self.tail);
                        let content = tail.strip_suffix(b"\r").unwrap_or(&tail);
                        match announcement_at_end(content) {
                            Some(Ok((size, mode, _))) => {
                                if self.role == Role::Server && mode == LiteralMode::Sync {
                                    self.end_message_silently();
                                } else {
                                    self.state = State::DiscardLiteral { remaining: size };
                                }
                            }
                            _ => self.end_message_silently(),
                        }
                    }
                    None => {
                        keep_tail(&mut self.tail, rest);
                        return (input.len(), Frame::Incomplete);
                    }
                },
                State::Line { scanned } => {
                    let start = scanned.min(rest.len());
                    let unsearched = rest.get(start..).unwrap_or_default();
                    let found = memchr(b'\n', unsearched);
                    self.examined += found.map_or(unsearched.len(), |at| at + 1) as u64;
                    let Some(found) = found else {
                        if rest.len() >= self.options.max_line_length {
                            let offset = self.message.len() + self.options.max_line_length;
                            let error = self.error(
                                FrameErrorKind::LineTooLong {
                                    limit: self.options.max_line_length,
                                },
                                offset,
                            );
                            self.tail.clear();
                            keep_tail(&mut self.tail, rest);
                            self.state = State::DiscardLine;
                            return (input.len(), self.report_drop(error));
                        }
                        self.state = State::Line {
                            scanned: rest.len(),
                        };
                        return (used, Frame::Incomplete);
                    };
                    let end = start + found;
                    let line = rest.get(..end).unwrap_or_default();
                    used += end + 1;
                    if end + 1 > self.options.max_line_length {
                        let error = self.error(
                            FrameErrorKind::LineTooLong {
                                limit: self.options.max_line_length,
                            },
                            self.message.len() + self.options.max_line_length,
                        );
                        self.tail.clear();
                        keep_tail(&mut self.tail, line);
                        // Reuse the discard logic: the line has ended, so look at its tail.
                        let tail = std::mem::take(&mut self.tail);
                        let content = tail.strip_suffix(b"\r").unwrap_or(&tail);
                        let frame = self.report_drop(error);
                        match announcement_at_end(content) {
                            Some(Ok((size, mode, _)))
                                if !(self.role == Role::Server && mode == LiteralMode::Sync) =>
                            {
                                self.state = State::DiscardLiteral { remaining: size };
                            }
                            _ => self.end_message_silently(),
                        }
                        return (used, frame);
                    }
                    let content = line.strip_suffix(b"\r").unwrap_or(line);
                    self.state = State::Line { scanned: 0 };
                    if let Some(frame) = self.line_part(content) {
                        return (used, frame);
                    }
                }
            }
        }
    }

    /// Reports a dropped message, unless it was already reported.
    fn report_drop<'a>(&mut self, error: FrameError) -> Frame<'a> {
        self.dropping = true;
        self.message.clear();
        Frame::Error(error)
    }

    /// Handles one complete line part; returns the event it causes, if any.
    fn line_part<'a>(&mut self, content: &[u8]) -> Option<Frame<'a>> {
        if self.dropping {
            match announcement_at_end(content) {
                Some(Ok((size, mode, _)))
                    if !(self.role == Role::Server && mode == LiteralMode::Sync) =>
                {
                    self.state = State::DiscardLiteral { remaining: size };
                }
                _ => self.end_message_silently(),
            }
            return None;
        }
        let first_part = self.message.is_empty();
        if self.message.len() + content.len() > self.options.max_message_length {
            let error = self.error(
                FrameErrorKind::MessageTooLong {
                    limit: self.options.max_message_length,
                },
                self.options.max_message_length,
            );
            self.dropping = true;
            // The part has been read; decide as for any dropped part whether a literal follows.
            let frame = self.report_drop(error);
            self.dropping = true;
            match announcement_at_end(content) {
                Some(Ok((size, mode, _)))
                    if !(self.role == Role::Server && mode == LiteralMode::Sync) =>
                {
                    self.state = State::DiscardLiteral { remaining: size };
                }
                _ => self.end_message_silently(),
            }
            return Some(frame);
        }
        let announcement = if first_part && self.role == Role::Client && is_status_line(content) {
            None
        } else {
            announcement_at_end(content)
        };
        self.message.extend_from_slice(content);
        match announcement {
            None => {
                self.complete = true;
                Some(Frame::Message)
            }
            Some(Err(())) => {
                let offset = self.message.len();
                let error = self.error(FrameErrorKind::LiteralSize, offset);
                let frame = self.report_drop(error);
                // The peer's intent is unknowable; treat the line as the message's end.
                self.end_message_silently();
                Some(frame)
            }
            Some(Ok((size, mode, binary))) => {
                if size > self.options.max_literal_size {
                    let offset = self.message.len();
                    let error = self.error(
                        FrameErrorKind::LiteralTooLarge {
                            size,
                            limit: self.options.max_literal_size,
                        },
                        offset,
                    );
                    let frame = self.report_drop(error);
                    self.drop_after_literal(LiteralAnnouncement {
                        size,
                        mode,
                        binary,
                        streamed: false,
                    });
                    return Some(frame);
                }
                let before = self
                    .message
                    .len()
                    .saturating_sub(announcement_length(content));
                let prefix = self.message.get(..before).unwrap_or_default();
                let streamed = size > self.options.max_inline_literal || self.streams_here(prefix);
                if streamed {
                    self.message.push(0);
                } else {
                    if self.message.len() as u64 + 2 + size > self.options.max_message_length as u64
                    {
                        let offset = self.message.len();
                        let error = self.error(
                            FrameErrorKind::MessageTooLong {
                                limit: self.options.max_message_length,
                            },
                            offset,
                        );
                        let frame = self.report_drop(error);
                        self.drop_after_literal(LiteralAnnouncement {
                            size,
                            mode,
                            binary,
                            streamed,
                        });
                        return Some(frame);
                    }
                    self.message.extend_from_slice(b"\r\n");
                }
                let announcement = LiteralAnnouncement {
                    size,
                    mode,
                    binary,
                    streamed,
                };
                self.announced = Some(announcement);
                Some(Frame::LiteralAnnounced(announcement))
            }
        }
    }

    /// Whether a literal announced after `prefix` (the message so far, up to the literal's
    /// `{` or `~`) is a message body: APPEND's message on the server side; `BODY[...]`,
    /// `BINARY[...]`, `RFC822` and `RFC822.TEXT` in a FETCH response on the client side.
    fn streams_here(&self, prefix: &[u8]) -> bool {
        match self.role {
            Role::Server => crate::parse::is_append_message_position(prefix),
            Role::Client => is_fetch_body_position(prefix),
        }
    }
}

/// Keeps the last [`TAIL`] octets of what was seen of a discarded line.
fn keep_tail(tail: &mut Vec<u8>, more: &[u8]) {
    tail.extend_from_slice(more);
    if tail.len() > TAIL {
        let cut = tail.len() - TAIL;
        tail.drain(..cut);
    }
}

/// The tag at the start of a message, if any.
fn leading_tag(message: &[u8]) -> Option<Tag> {
    let end = memchr(b' ', message).unwrap_or(message.len());
    Tag::try_from(message.get(..end)?).ok()
}

/// A status response line (`* OK`, `tag NO`, `+ ...`): its text may end in `{n}` without
/// announcing a literal.
fn is_status_line(line: &[u8]) -> bool {
    if line.starts_with(b"+") {
        return true;
    }
    let mut words = line.splitn(3, |&b| b == b' ');
    let _tag = words.next();
    let Some(word) = words.next() else {
        return false;
    };
    ["OK", "NO", "BAD", "BYE", "PREAUTH"]
        .iter()
        .any(|status| word.eq_ignore_ascii_case(status.as_bytes()))
}

/// How many octets the announcement at the end of `line` takes (`{5}`, `~{5+}`).
fn announcement_length(line: &[u8]) -> usize {
    match memrchr(b'{', line) {
        Some(open) if open > 0 && line.get(open - 1) == Some(&b'~') => line.len() - open + 1,
        Some(open) => line.len() - open,
        None => 0,
    }
}

/// A literal announcement at the end of a line part: `Some(Ok((size, mode, binary)))`,
/// `Some(Err(()))` for `{...}` whose size is not a number that fits, `None` for no `{...}`.
pub(crate) fn announcement_at_end(line: &[u8]) -> Option<Result<(u64, LiteralMode, bool), ()>> {
    let inner = line.strip_suffix(b"}")?;
    let window_start = inner.len().saturating_sub(TAIL);
    let open = window_start + memrchr(b'{', inner.get(window_start..)?)?;
    let binary = open > 0 && line.get(open - 1) == Some(&b'~');
    let body = inner.get(open + 1..)?;
    let (digits, mode) = match body.strip_suffix(b"+") {
        Some(digits) => (digits, LiteralMode::NonSync),
        None => (body, LiteralMode::Sync),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        // `{` ... `}` that is not a literal (for example inside a quoted text).
        return if digits.len() <= 20 && digits.iter().all(|b| b.is_ascii_digit() || *b == b'-') {
            Some(Err(()))
        } else {
            None
        };
    }
    let size = std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|&size| size <= i64::MAX as u64);
    Some(size.map(|size| (size, mode, binary)).ok_or(()))
}

/// Whether the response so far ends where a FETCH body section's value starts.
fn is_fetch_body_position(prefix: &[u8]) -> bool {
    let Some(rest) = prefix.strip_suffix(b" ") else {
        return false;
    };
    let mut rest = rest;
    if let Some(before) = rest.strip_suffix(b">") {
        match memrchr(b'<', before) {
            Some(open) => rest = before.get(..open).unwrap_or_default(),
            None => return false,
        }
    }
    if let Some(before) = rest.strip_suffix(b"]") {
        return match memrchr(b'[', before) {
            Some(open) => {
                let word = before.get(..open).unwrap_or_default();
                ends_with_ignore_case(word, b"BODY") || ends_with_ignore_case(word, b"BINARY")
            }
            None => false,
        };
    }
    ends_with_ignore_case(rest, b"RFC822") || ends_with_ignore_case(rest, b"RFC822.TEXT")
}

fn ends_with_ignore_case(text: &[u8], suffix: &[u8]) -> bool {
    text.len() >= suffix.len()
        && text
            .get(text.len() - suffix.len()..)
            .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
}
