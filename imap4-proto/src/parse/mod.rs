//! Parsers for complete messages, named after the ABNF rules of RFC 3501 and RFC 9051
//! section 9 they implement.
//!
//! They take one message as [`crate::framing::Framer::message`] holds it: line parts joined by
//! literals, without the final CRLF. Every nesting of parentheses that can recurse (body
//! structures, search keys, extension data) is bounded by a depth limit, so no input can
//! overflow the stack. Errors say what was expected and at which octet.

mod body;
mod command;
mod core;
mod error;
mod items;
mod response;

use base64::Engine as _;

pub use error::{ParseError, ParseErrorKind};

use crate::types::{Command, Response};

/// Limits of the command parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandOptions {
    /// Deepest nesting of search keys (`NOT`, `OR`, parentheses); 64 by default, as
    /// [`mail_session::Limits::imap`].
    pub max_nesting_depth: usize,
}

impl Default for CommandOptions {
    fn default() -> Self {
        CommandOptions {
            max_nesting_depth: mail_session::Limits::imap().max_nesting_depth,
        }
    }
}

impl CommandOptions {
    /// With another nesting limit.
    ///
    /// ```
    /// let options = imap4_proto::parse::CommandOptions::default().with_max_nesting_depth(8);
    /// assert_eq!(options.max_nesting_depth, 8);
    /// ```
    pub const fn with_max_nesting_depth(mut self, depth: usize) -> Self {
        self.max_nesting_depth = depth;
        self
    }
}

/// How the response parser treats malformed responses that real servers send. Everything is
/// off by default ([`ResponseOptions::strict`]); [`ResponseOptions::tolerant`] turns every
/// workaround on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseOptions {
    /// Deepest nesting of body structures and extension data; 64 by default.
    pub max_nesting_depth: usize,
    /// Accept a status response or continuation without its text or the space before it:
    /// iCloud's `* BYE` (djc/imap-proto#131, ruby/net-imap#230), Gmail's
    /// `* OK [HIGHESTMODSEQ 13637]` (modern-email/defects#28), a bare `+`.
    pub missing_text: bool,
    /// Ignore spaces at the end of data lines and before a FETCH list's `)`: Yahoo's
    /// `* SEARCH 61 62 63 ` (mxk/go-imap#9, djc/imap-proto#108), GreenMail's `* SEARCH `
    /// (greenmail#264), QQ's `* CAPABILITY IMAP4rev1 ` (modern-email/defects#21),
    /// `* STATUS INBOX (MESSAGES 0) ` (defects#9), QQ's `* 11487 FETCH (UID 19436 )`
    /// (jakartaee/mail-api#209).
    pub trailing_space: bool,
    /// Read `NIL` as `""` where BODYSTRUCTURE requires a string (media type, subtype,
    /// parameter values, encoding), and accept an empty parameter list `()`: Mail.ru's
    /// `("boundary" NIL)` and similar (imap-codec#291 and #650).
    pub nil_as_empty_string: bool,
    /// Accept INTERNALDATE with a one-digit day and no padding, `"8-Mar-2023 12:16:47
    /// +0800"` (apple/swift-nio-imap#735), and keep any other malformed one, such as
    /// Domino's `"00-Jan-0000 00:00:00 +0000"` (jstedfast/MailKit#1236), as
    /// [`crate::types::MessageDataItem::InternalDateUnparsed`] instead of failing the FETCH.
    pub lenient_dates: bool,
}

impl ResponseOptions {
    /// The grammar as written.
    pub const fn strict() -> Self {
        ResponseOptions {
            max_nesting_depth: 64,
            missing_text: false,
            trailing_space: false,
            nil_as_empty_string: false,
            lenient_dates: false,
        }
    }

    /// With another nesting limit.
    pub const fn with_max_nesting_depth(mut self, depth: usize) -> Self {
        self.max_nesting_depth = depth;
        self
    }

    /// With [`ResponseOptions::missing_text`] on or off.
    ///
    /// ```
    /// use imap4_proto::parse::{self, ResponseOptions};
    /// let icloud = ResponseOptions::strict().with_missing_text(true);
    /// assert!(parse::response(b"* BYE", &icloud).is_ok());
    /// assert!(parse::response(b"* BYE", &ResponseOptions::strict()).is_err());
    /// ```
    pub const fn with_missing_text(mut self, on: bool) -> Self {
        self.missing_text = on;
        self
    }

    /// With [`ResponseOptions::trailing_space`] on or off.
    pub const fn with_trailing_space(mut self, on: bool) -> Self {
        self.trailing_space = on;
        self
    }

    /// With [`ResponseOptions::nil_as_empty_string`] on or off.
    pub const fn with_nil_as_empty_string(mut self, on: bool) -> Self {
        self.nil_as_empty_string = on;
        self
    }

    /// With [`ResponseOptions::lenient_dates`] on or off.
    pub const fn with_lenient_dates(mut self, on: bool) -> Self {
        self.lenient_dates = on;
        self
    }

    /// Every workaround on.
    pub const fn tolerant() -> Self {
        ResponseOptions {
            max_nesting_depth: 64,
            missing_text: true,
            trailing_space: true,
            nil_as_empty_string: true,
            lenient_dates: true,
        }
    }
}

impl Default for ResponseOptions {
    fn default() -> Self {
        ResponseOptions::strict()
    }
}

/// Parses one command (server side), with the default [`CommandOptions`].
///
/// ```
/// use imap4_proto::parse;
/// use imap4_proto::types::CommandBody;
/// let command = parse::command(b"a1 LOGIN alice {6}\r\nsecret").unwrap();
/// assert_eq!(command.tag.as_str(), "a1");
/// assert!(matches!(command.body, CommandBody::Login { .. }));
/// ```
pub fn command(message: &[u8]) -> Result<Command, ParseError> {
    command_with(message, &CommandOptions::default())
}

/// Parses one command (server side).
pub fn command_with(message: &[u8], options: &CommandOptions) -> Result<Command, ParseError> {
    error::finish(
        message,
        command::command(message, options.max_nesting_depth),
    )
}

/// Parses one response (client side).
///
/// ```
/// use imap4_proto::parse::{self, ResponseOptions};
/// use imap4_proto::types::{Data, Response};
/// let response = parse::response(b"* 23 EXISTS", &ResponseOptions::strict()).unwrap();
/// assert_eq!(response, Response::Data(Data::Exists(23)));
/// ```
pub fn response(message: &[u8], options: &ResponseOptions) -> Result<Response, ParseError> {
    let parsed = error::finish(message, response::response(message, options));
    match parsed {
        Err(error) if options.trailing_space && message.starts_with(b"* ") => {
            // Only data lines end in spaces by mistake; a status text keeps its spaces.
            let end = message
                .iter()
                .rposition(|&b| b != b' ')
                .map_or(0, |last| last + 1);
            let trimmed = message.get(..end).unwrap_or_default();
            if trimmed.len() == message.len() {
                return Err(error);
            }
            error::finish(trimmed, response::response(trimmed, options)).map_err(|_| error)
        }
        parsed => parsed,
    }
}

/// Whether a line is the `DONE` that ends IDLE (RFC 2177: `idle = "IDLE" CRLF "DONE"`).
pub fn is_idle_done(line: &[u8]) -> bool {
    command::idle_done(line)
}

/// A client's line during AUTHENTICATE: `Ok(None)` for `*` (cancel), else the decoded
/// response (`authenticate = ... *(CRLF base64)`; an empty line is an empty response).
pub fn authenticate_data(line: &[u8]) -> Result<Option<Vec<u8>>, ParseError> {
    if line == b"*" {
        return Ok(None);
    }
    base64::engine::general_purpose::STANDARD
        .decode(line)
        .map(Some)
        .map_err(|_| ParseError::at(line, line, ParseErrorKind::Syntax { expected: "base64" }))
}

pub(crate) use command::is_append_message_position;

/// What a server knows of an APPEND when its message literal is announced, before any of
/// the message's octets: enough to check the mailbox and quota, and answer `NO` or `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendStart {
    /// The command's tag.
    pub tag: crate::types::Tag,
    /// The target mailbox.
    pub mailbox: crate::types::Mailbox,
    /// Flags to set.
    pub flags: Option<Vec<crate::types::Flag>>,
    /// INTERNALDATE to set.
    pub date: Option<crate::types::DateTime>,
    /// The message's size.
    pub size: u64,
    /// `~{n}`: a `literal8`.
    pub binary: bool,
    /// `UTF8 (~{n})` (RFC 6855).
    pub utf8: bool,
}

/// Reads the start of an APPEND from [`crate::framing::Framer::message`] right after
/// [`crate::framing::Frame::LiteralAnnounced`] for its message literal.
///
/// ```
/// use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
/// use imap4_proto::parse;
/// use imap4_proto::types::Mailbox;
///
/// let mut framer = Framer::new(Role::Server, FramerOptions::default());
/// let (_, frame) = framer.next(b"A1 APPEND Drafts (\\Draft) {310}\r\n");
/// assert!(matches!(frame, Frame::LiteralAnnounced(_)));
/// let start = parse::append_start(framer.message()).unwrap();
/// assert_eq!(start.mailbox, Mailbox::try_from("Drafts").unwrap());
/// assert_eq!(start.size, 310);
/// ```
pub fn append_start(message: &[u8]) -> Result<AppendStart, ParseError> {
    error::finish(message, command::append_start(message))
}
