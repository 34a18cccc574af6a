//! SMTP commands, paths, parameters and replies (RFC 5321 with the extensions of RFC 6409
//! submission). Values that could break the line framing cannot be built: every constructor
//! that takes text checks it against the ABNF rule quoted in its doc.

use std::fmt;

use mail_session::sasl::Secret;
use thiserror::Error;

/// A value that does not match its ABNF rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {rule}: {reason}")]
pub struct InvalidValue {
    /// The ABNF rule the value had to match.
    pub rule: &'static str,
    /// What was wrong.
    pub reason: &'static str,
}

fn invalid(rule: &'static str, reason: &'static str) -> InvalidValue {
    InvalidValue { rule, reason }
}

/// RFC 5321 `atext` (RFC 5322 section 3.2.3), extended to any non-ASCII octet for SMTPUTF8
/// (RFC 6531 `atext =/ UTF8-non-ascii`).
pub(crate) fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte) || byte >= 0x80
}

/// A mailbox's local part, as its text (for a quoted string: without the quotes and
/// backslashes).
///
/// ```text
/// Local-part = Dot-string / Quoted-string       ; RFC 5321 section 4.1.2
/// ```
/// Any printable text (and UTF-8, RFC 6531) up to 64 octets (section 4.5.3.1.1) can be
/// represented; [`LocalPart::needs_quoting`] says whether it goes out as a `Quoted-string`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalPart(String);

impl LocalPart {
    /// The longest local part a server must accept (RFC 5321 section 4.5.3.1.1).
    pub const MAX_LENGTH: usize = 64;

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text is not a `Dot-string` and so must be sent as a `Quoted-string`.
    pub fn needs_quoting(&self) -> bool {
        let bytes = self.0.as_bytes();
        bytes.is_empty()
            || bytes.first() == Some(&b'.')
            || bytes.last() == Some(&b'.')
            || bytes.windows(2).any(|pair| pair == b"..")
            || !bytes.iter().all(|&byte| is_atext(byte) || byte == b'.')
    }
}

impl LocalPart {
    /// Takes an owned text, with the checks of [`LocalPart::try_from`].
    pub fn from_text(text: String) -> Result<LocalPart, InvalidValue> {
        Self::check(&text)?;
        Ok(LocalPart(text))
    }

    /// A text the command parser has already checked: a `Dot-string`, or a `Quoted-string`'s
    /// content, of at most [`LocalPart::MAX_LENGTH`] octets.
    pub(crate) fn from_parsed(text: String) -> LocalPart {
        debug_assert!(Self::check(&text).is_ok());
        LocalPart(text)
    }

    fn check(text: &str) -> Result<(), InvalidValue> {
        if text.len() > 1000 {
            return Err(invalid("Local-part", "longer than a command line"));
        }
        // qtextSMTP / quoted-pairSMTP cover %d32-126; UTF-8 beyond ASCII for SMTPUTF8.
        if text.bytes().any(|byte| byte < b' ' || byte == 0x7f) {
            return Err(invalid("Local-part", "control character"));
        }
        Ok(())
    }
}

impl TryFrom<&str> for LocalPart {
    type Error = InvalidValue;

    fn try_from(text: &str) -> Result<Self, InvalidValue> {
        Self::check(text)?;
        Ok(LocalPart(text.to_string()))
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.needs_quoting() {
            return f.write_str(&self.0);
        }
        f.write_str("\"")?;
        for character in self.0.chars() {
            if character == '"' || character == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{character}")?;
        }
        f.write_str("\"")
    }
}

/// The part of a mailbox after `@`, or the argument of EHLO/HELO.
///
/// ```text
/// Domain          = sub-domain *("." sub-domain)           ; RFC 5321 section 4.1.2
/// sub-domain      = Let-dig [Ldh-str]                      ; (U-label allowed, RFC 6531)
/// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
///                         General-address-literal ) "]"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name, as sent (case kept; compare with [`Domain::eq_ignore_case`]).
    Name(String),
    /// An address literal, without its brackets (`192.0.2.1`, `IPv6:2001:db8::1`).
    Literal(String),
}

impl Domain {
    /// The longest domain (RFC 5321 section 4.5.3.1.2).
    pub const MAX_LENGTH: usize = 255;

    /// Whether two domains are the same, ignoring ASCII case (RFC 5321 section 2.4).
    pub fn eq_ignore_case(&self, other: &Domain) -> bool {
        match (self, other) {
            (Domain::Name(a), Domain::Name(b)) => a.eq_ignore_ascii_case(b),
            (Domain::Literal(a), Domain::Literal(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// A domain name; checked against `Domain` (UTF-8 labels allowed).
    pub fn name(text: &str) -> Result<Domain, InvalidValue> {
        if text.is_empty() || text.len() > Self::MAX_LENGTH {
            return Err(invalid("Domain", "empty or longer than 255 octets"));
        }
        for label in text.split('.') {
            let bytes = label.as_bytes();
            let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
                return Err(invalid("sub-domain", "empty label"));
            };
            let let_dig = |byte: u8| byte.is_ascii_alphanumeric() || byte >= 0x80;
            if !let_dig(first) || !let_dig(last) {
                return Err(invalid(
                    "sub-domain",
                    "must start and end with a letter or digit",
                ));
            }
            if !bytes.iter().all(|&byte| let_dig(byte) || byte == b'-') {
                return Err(invalid("Ldh-str", "only letters, digits and hyphens"));
            }
        }
        Ok(Domain::Name(text.to_string()))
    }

    /// An address literal's content (between the brackets).
    pub fn literal(text: &str) -> Result<Domain, InvalidValue> {
        // dcontent = %d33-90 / %d94-126 (printable US-ASCII, excluding "[", "\", "]")
        if text.is_empty()
            || text.len() > Self::MAX_LENGTH
            || !text.bytes().all(|byte| matches!(byte, 33..=90 | 94..=126))
        {
            return Err(invalid(
                "address-literal",
                "not printable ASCII without [ \\ ]",
            ));
        }
        if let Some(v6) = text.strip_prefix("IPv6:") {
            v6.parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid("IPv6-address-literal", "not an IPv6 address"))?;
        } else if !text.contains(':') {
            text.parse::<std::net::Ipv4Addr>()
                .map_err(|_| invalid("IPv4-address-literal", "not an IPv4 address"))?;
        }
        Ok(Domain::Literal(text.to_string()))
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(name) => f.write_str(name),
            Domain::Literal(literal) => write!(f, "[{literal}]"),
        }
    }
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )` (RFC 5321 section 4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// Before the `@`.
    pub local_part: LocalPart,
    /// After the `@`.
    pub domain: Domain,
}

impl Mailbox {
    /// Whether the address needs SMTPUTF8 (RFC 6531): non-ASCII in either part.
    pub fn needs_smtputf8(&self) -> bool {
        !self.local_part.as_str().is_ascii()
            || match &self.domain {
                Domain::Name(name) => !name.is_ascii(),
                Domain::Literal(_) => false,
            }
    }
}

impl TryFrom<&str> for Mailbox {
    type Error = InvalidValue;

    /// Parses `local@domain` (the path syntax without angle brackets).
    fn try_from(text: &str) -> Result<Self, InvalidValue> {
        crate::parse::mailbox_text(text.as_bytes())
            .ok_or(invalid("Mailbox", "not local-part@domain"))
    }
}

impl std::str::FromStr for Mailbox {
    type Err = InvalidValue;

    /// Parses `local@domain`, as [`TryFrom<&str>`](Mailbox::try_from) does.
    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        Mailbox::try_from(text)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

/// `Reverse-path = Path / "<>"` (RFC 5321 section 4.1.2): MAIL FROM's argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null sender of bounces and notifications.
    Null,
    /// A sender.
    Mailbox(Mailbox),
}

impl std::str::FromStr for ReversePath {
    type Err = InvalidValue;

    /// `""` or `<>` is the null sender; otherwise `local@domain`, with or without angle
    /// brackets.
    ///
    /// ```
    /// use smtp_submit::types::ReversePath;
    /// assert_eq!("<>".parse::<ReversePath>().unwrap(), ReversePath::Null);
    /// assert_eq!("alice@example.org".parse::<ReversePath>().unwrap().to_string(), "<alice@example.org>");
    /// ```
    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        match strip_brackets(text) {
            "" => Ok(ReversePath::Null),
            address => Mailbox::try_from(address).map(ReversePath::Mailbox),
        }
    }
}

fn strip_brackets(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(text)
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// `Forward-path = Path` or `"<Postmaster>"` (RFC 5321 section 4.1.1.3): RCPT TO's argument.
/// A source route (`<@a,@b:user@c>`) is accepted and dropped, as section 4.1.1.3 says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` with no domain: the local postmaster.
    Postmaster,
    /// A recipient.
    Mailbox(Mailbox),
}

impl std::str::FromStr for ForwardPath {
    type Err = InvalidValue;

    /// `local@domain`, with or without angle brackets; `Postmaster` alone is
    /// [`ForwardPath::Postmaster`].
    ///
    /// ```
    /// use smtp_submit::types::ForwardPath;
    /// assert_eq!("<Postmaster>".parse::<ForwardPath>().unwrap(), ForwardPath::Postmaster);
    /// assert!("bob@example.org".parse::<ForwardPath>().is_ok());
    /// assert!("not an address".parse::<ForwardPath>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        match strip_brackets(text) {
            postmaster if postmaster.eq_ignore_ascii_case("postmaster") => {
                Ok(ForwardPath::Postmaster)
            }
            address => Mailbox::try_from(address).map(ForwardPath::Mailbox),
        }
    }
}

/// One recipient of a message: its address and its RCPT parameters (DSN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address.
    pub to: ForwardPath,
    /// Its parameters (DSN).
    pub parameters: RcptParameters,
}

impl Recipient {
    /// A recipient without parameters.
    pub fn new(to: ForwardPath) -> Self {
        Recipient {
            to,
            parameters: RcptParameters::default(),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// `xtext` (RFC 3461 section 4): printable ASCII with `+XX` hex escapes, kept in its encoded
/// form (the DSN parameters are carried, not interpreted).
///
/// ```text
/// xtext = *( xchar / hexchar )
/// xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except for "+" and "="
/// hexchar = "+" HEXDIG HEXDIG    ; upper-case hex in the RFC; lower case accepted
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XText(String);

impl XText {
    /// Encodes arbitrary octets; an empty value cannot be sent (`esmtp-value` has at least
    /// one character).
    pub fn encode(value: &[u8]) -> Result<XText, InvalidValue> {
        if value.is_empty() {
            return Err(invalid("esmtp-value", "empty"));
        }
        let mut text = String::with_capacity(value.len());
        for &byte in value {
            if (33..=126).contains(&byte) && byte != b'+' && byte != b'=' {
                text.push(byte as char);
            } else {
                text.push_str(&format!("+{byte:02X}"));
            }
        }
        Ok(XText(text))
    }

    /// The encoded form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The decoded octets.
    pub fn decode(&self) -> Vec<u8> {
        let bytes = self.0.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            let escaped = (byte == b'+')
                .then(|| bytes.get(index + 1..index + 3))
                .flatten()
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match escaped {
                Some(value) => {
                    out.push(value);
                    index += 3;
                }
                None => {
                    out.push(byte);
                    index += 1;
                }
            }
        }
        out
    }
}

impl TryFrom<&str> for XText {
    type Error = InvalidValue;

    fn try_from(text: &str) -> Result<Self, InvalidValue> {
        if text.is_empty() {
            return Err(invalid("esmtp-value", "empty"));
        }
        let bytes = text.as_bytes();
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            match byte {
                b'+' => {
                    let hex = bytes.get(index + 1..index + 3).unwrap_or_default();
                    if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(invalid("hexchar", "'+' must be followed by two hex digits"));
                    }
                    index += 3;
                }
                33..=126 if byte != b'=' => index += 1,
                _ => return Err(invalid("xchar", "not printable ASCII, or '='")),
            }
        }
        Ok(XText(text.to_string()))
    }
}

impl fmt::Display for XText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// MAIL's `BODY=` (RFC 6152 8BITMIME, RFC 3030 BINARYMIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyType {
    /// `7BIT`: US-ASCII lines only.
    SevenBit,
    /// `8BITMIME`: octets above 127 allowed in lines.
    EightBitMime,
    /// `BINARYMIME`: any octets; only with BDAT (RFC 3030 section 3).
    BinaryMime,
}

impl BodyType {
    /// The keyword's value.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
            BodyType::BinaryMime => "BINARYMIME",
        }
    }
}

/// MAIL's `RET=` (RFC 3461 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsnReturn {
    /// `FULL`: the whole message in a failure report.
    Full,
    /// `HDRS`: the header only.
    Headers,
}

/// The parameters of MAIL FROM (`Mail-parameters`, RFC 5321 section 4.1.2, with the keywords
/// of the extensions in scope). Parameters the server does not know are refused with 555.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MailParameters {
    /// `SIZE=` (RFC 1870): the client's estimate of the message size.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030).
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<DsnReturn>,
    /// `ENVID=` (RFC 3461), xtext.
    pub envid: Option<XText>,
    /// `AUTH=` (RFC 4954 section 5): the original submitter as xtext, `<>` as `None` inside.
    pub auth: Option<Option<XText>>,
}

/// RCPT's `NOTIFY=` (RFC 3461 section 4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DsnNotify {
    /// `SUCCESS`.
    pub success: bool,
    /// `FAILURE`.
    pub failure: bool,
    /// `DELAY`.
    pub delay: bool,
}

impl DsnNotify {
    /// `NEVER`: all three off.
    pub fn is_never(&self) -> bool {
        !(self.success || self.failure || self.delay)
    }
}

/// RCPT's `ORCPT=addr-type;xtext` (RFC 3461 section 4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginalRecipient {
    /// The address type (`rfc822`, `utf-8`), an atom.
    pub address_type: String,
    /// The address, xtext.
    pub address: XText,
}

/// The parameters of RCPT TO (`Rcpt-parameters`, RFC 5321 section 4.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RcptParameters {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<DsnNotify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<OriginalRecipient>,
}

/// A client's command (RFC 5321 section 4.1.1 and the extensions in scope).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `EHLO domain / address-literal`.
    Ehlo(Domain),
    /// `HELO domain` (no extensions in the session that follows).
    Helo(Domain),
    /// `MAIL FROM:<reverse-path> [params]`.
    Mail {
        /// The sender.
        from: ReversePath,
        /// Its parameters.
        parameters: MailParameters,
    },
    /// `RCPT TO:<forward-path> [params]`.
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// Its parameters.
        parameters: RcptParameters,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030); `size` octets follow the line.
    Bdat {
        /// The chunk's size.
        size: u64,
        /// Whether it is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(String),
    /// `HELP [string]`.
    Help(Option<String>),
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954); `=` is an empty initial response.
    Auth {
        /// The SASL mechanism name, upper-cased.
        mechanism: String,
        /// The base64 initial response, if any.
        initial_response: Option<Secret>,
    },
}

impl Command {
    /// The command's verb, for messages and logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Help(_) => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463, sent per RFC 2034).
///
/// ```text
/// status-code = class "." subject "." detail
/// class = "2"/"4"/"5";  subject = 1*3digit;  detail = 1*3digit
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// The subject (0 to 999).
    pub subject: u16,
    /// The detail (0 to 999).
    pub detail: u16,
}

impl EnhancedCode {
    /// A code; `None` unless `class` is 2, 4 or 5 and both numbers are at most 999.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<EnhancedCode> {
        if (class == 2 || class == 4 || class == 5) && subject <= 999 && detail <= 999 {
            Some(EnhancedCode {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A reply code, `2yz` to `5yz` (RFC 5321 section 4.2).
///
/// ```text
/// Reply-code = %x32-35 %x30-35 %x30-39
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// `2yz`.
    pub fn is_positive(self) -> bool {
        self.0 / 100 == 2
    }

    /// `3yz`: go on (354 for DATA, 334 for AUTH).
    pub fn is_intermediate(self) -> bool {
        self.0 / 100 == 3
    }

    /// `4yz`: try again later.
    pub fn is_transient(self) -> bool {
        self.0 / 100 == 4
    }

    /// `5yz`: do not retry as is.
    pub fn is_permanent(self) -> bool {
        self.0 / 100 == 5
    }
}

impl TryFrom<u16> for ReplyCode {
    type Error = InvalidValue;

    fn try_from(code: u16) -> Result<Self, InvalidValue> {
        let (first, second) = (code / 100, code / 10 % 10);
        if (2..=5).contains(&first) && second <= 5 {
            Ok(ReplyCode(code))
        } else {
            Err(invalid("Reply-code", "not %x32-35 %x30-35 %x30-39"))
        }
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A reply: a code, an optional enhanced code (on every line), and one or more lines of text.
///
/// ```text
/// Reply-line = *( Reply-code "-" [ textstring ] CRLF )
///              Reply-code [ SP textstring ] CRLF          ; RFC 5321 section 4.2
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// The code.
    pub code: ReplyCode,
    /// The enhanced code, when the server sent one (ENHANCEDSTATUSCODES).
    pub enhanced: Option<EnhancedCode>,
    /// The text lines (at least one; may be empty strings). Never holds CR or LF.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply. CR, LF and NUL in `text` become spaces; a `code` that is not a
    /// `Reply-code` becomes 451, and an impossible enhanced code is left out.
    pub fn new(code: u16, enhanced: Option<(u8, u16, u16)>, text: impl Into<String>) -> Reply {
        Reply {
            code: ReplyCode::try_from(code).unwrap_or(ReplyCode(451)),
            enhanced: enhanced
                .and_then(|(class, subject, detail)| EnhancedCode::new(class, subject, detail)),
            lines: vec![clean_text(text.into())],
        }
    }

    /// Adds a line of text (EHLO's keywords, HELP's lines).
    pub fn with_line(mut self, text: impl Into<String>) -> Reply {
        self.lines.push(clean_text(text.into()));
        self
    }

    /// All lines joined with a space, for messages and logs.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        write!(f, " {}", self.text())
    }
}

fn clean_text(text: String) -> String {
    if text.bytes().any(|byte| matches!(byte, b'\r' | b'\n' | 0)) {
        text.replace(['\r', '\n', '\0'], " ")
    } else {
        text
    }
}

/// An EHLO keyword the server announces (RFC 5321 section 4.1.1.1 and the extensions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Extension {
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `SIZE [n]` (RFC 1870); 0 or absent means no fixed limit.
    Size(Option<u64>),
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `CHUNKING` (RFC 3030).
    Chunking,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mech...` (RFC 4954).
    Auth(Vec<String>),
    /// `HELP`.
    Help,
    /// Any other keyword and its parameters, as sent.
    Other(String),
}

impl Extension {
    /// Reads one line of an EHLO reply (after the first, which is the greeting).
    pub fn from_line(line: &str) -> Extension {
        let mut words = line.split_ascii_whitespace();
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        match keyword.as_str() {
            "PIPELINING" => Extension::Pipelining,
            "SIZE" => Extension::Size(words.next().and_then(|size| size.parse().ok())),
            "8BITMIME" => Extension::EightBitMime,
            "ENHANCEDSTATUSCODES" => Extension::EnhancedStatusCodes,
            "SMTPUTF8" => Extension::SmtpUtf8,
            "CHUNKING" => Extension::Chunking,
            "BINARYMIME" => Extension::BinaryMime,
            "DSN" => Extension::Dsn,
            "STARTTLS" => Extension::StartTls,
            "AUTH" => Extension::Auth(words.map(str::to_ascii_uppercase).collect()),
            "HELP" => Extension::Help,
            _ => Extension::Other(line.to_string()),
        }
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extension::Pipelining => f.write_str("PIPELINING"),
            Extension::Size(Some(size)) => write!(f, "SIZE {size}"),
            Extension::Size(None) => f.write_str("SIZE"),
            Extension::EightBitMime => f.write_str("8BITMIME"),
            Extension::EnhancedStatusCodes => f.write_str("ENHANCEDSTATUSCODES"),
            Extension::SmtpUtf8 => f.write_str("SMTPUTF8"),
            Extension::Chunking => f.write_str("CHUNKING"),
            Extension::BinaryMime => f.write_str("BINARYMIME"),
            Extension::Dsn => f.write_str("DSN"),
            Extension::StartTls => f.write_str("STARTTLS"),
            Extension::Auth(mechanisms) => write!(f, "AUTH {}", mechanisms.join(" ")),
            Extension::Help => f.write_str("HELP"),
            Extension::Other(line) => f.write_str(line),
        }
    }
}
