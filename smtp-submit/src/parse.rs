//! Parsers for SMTP command lines (server side) and reply lines (client side), named after the
//! ABNF rules of RFC 5321 section 4.1.2 and the extensions. They take one line without its
//! CRLF: line framing and its length limit are [`mail_session::line::LineReader`]'s job, DATA
//! bodies are [`crate::data::DataReceiver`]'s, and multi-line replies are put together by
//! [`ReplyAssembler`]. Input split at any byte gives the same result, because nothing here
//! sees a line before it is whole.

use mail_session::sasl::Secret;
use thiserror::Error;

use crate::types::{
    BodyType, Command, Domain, DsnNotify, DsnReturn, EnhancedCode, ForwardPath, LocalPart,
    MailParameters, Mailbox, OriginalRecipient, RcptParameters, Reply, ReplyCode, ReversePath,
    XText,
};

/// Why a command line was refused; [`CommandError::reply`] is the answer RFC 5321 and RFC 3463
/// give for it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An empty line or an unknown verb.
    #[error("command not recognized")]
    Unknown,
    /// A known verb with arguments of the wrong form.
    #[error("syntax error in {verb} arguments: {expected}")]
    Arguments {
        /// The command.
        verb: &'static str,
        /// What the arguments should look like.
        expected: &'static str,
    },
    /// The sender address is malformed or too long.
    #[error("bad sender address syntax")]
    SenderAddress,
    /// The recipient address is malformed or too long.
    #[error("bad recipient address syntax")]
    RecipientAddress,
    /// A MAIL or RCPT parameter that is unknown or has a bad value (RFC 5321 section 4.1.1.11).
    #[error("{verb} parameter not recognized or not implemented: {parameter}")]
    Parameter {
        /// MAIL or RCPT.
        verb: &'static str,
        /// The parameter's keyword (at most 64 characters).
        parameter: String,
    },
}

impl CommandError {
    /// The reply to send: 500 5.5.1, 501 5.5.4, 501 5.1.7, 501 5.1.3 or 555 5.5.4.
    pub fn reply(&self) -> Reply {
        let (code, enhanced) = match self {
            CommandError::Unknown => (500, (5, 5, 1)),
            CommandError::Arguments { .. } => (501, (5, 5, 4)),
            CommandError::SenderAddress => (501, (5, 1, 7)),
            CommandError::RecipientAddress => (501, (5, 1, 3)),
            CommandError::Parameter { .. } => (555, (5, 5, 4)),
        };
        Reply::new(code, Some(enhanced), self.to_string())
    }
}

/// Why a reply line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The line does not start with a reply code and a space, a hyphen or its end.
    #[error("malformed reply line: {line:?}")]
    Malformed {
        /// The line (lossily decoded, at most 100 characters).
        line: String,
    },
    /// A continuation line carries a code other than the first line's.
    #[error("reply code changed within a multi-line reply: {line:?}")]
    CodeChanged {
        /// The line (lossily decoded, at most 100 characters).
        line: String,
    },
    /// More lines than [`ReplyAssembler`] allows.
    #[error("multi-line reply longer than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
}

fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(100)]).into_owned()
}

// ----- byte classes -----
//
// The rarer tokens (quoted strings, address literals, SASL arguments, ORCPT's address type)
// are read with one table of the rules each octet may appear in; the common ones (atoms,
// domain names, parameter keywords and values) eight octets at a time, further down. No
// combinator chain, no backtracking, no allocation before a value is known to be valid.

/// `atext` (RFC 5322 section 3.2.3), and any octet from 0x80 (RFC 6531 `UTF8-non-ascii`).
const ATEXT: u8 = 1;
/// `dcontent`: %d33-90 / %d94-126.
const DCONTENT: u8 = 2;
/// `qtextSMTP`: %d32-33 / %d35-91 / %d93-126, and octets from 0x80.
const QTEXT: u8 = 4;
/// A SASL mechanism name as taken here: letters, digits, `-`, `_`.
const MECHANISM: u8 = 8;
/// A base64 initial response: letters, digits, `+`, `/`, `=`.
const BASE64: u8 = 16;

const fn classes_of(byte: u8) -> u8 {
    let alphanumeric = byte.is_ascii_alphanumeric();
    let high = byte >= 0x80;
    let mut classes = 0;
    if alphanumeric
        || high
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
    {
        classes |= ATEXT;
    }
    if matches!(byte, 33..=90 | 94..=126) {
        classes |= DCONTENT;
    }
    if matches!(byte, 32..=33 | 35..=91 | 93..=126) || high {
        classes |= QTEXT;
    }
    if alphanumeric || byte == b'-' || byte == b'_' {
        classes |= MECHANISM;
    }
    if alphanumeric || matches!(byte, b'+' | b'/' | b'=') {
        classes |= BASE64;
    }
    classes
}

static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut index = 0;
    while index < 256 {
        table[index] = classes_of(index as u8);
        index += 1;
    }
    table
};

#[inline(always)]
fn is(byte: u8, class: u8) -> bool {
    CLASSES[usize::from(byte)] & class != 0
}

/// How many octets at the start of `input` are of `class`.
#[inline(always)]
fn run(input: &[u8], class: u8) -> usize {
    input
        .iter()
        .position(|&byte| !is(byte, class))
        .unwrap_or(input.len())
}

/// How many spaces `input` starts with.
#[inline(always)]
fn spaces(input: &[u8]) -> usize {
    input
        .iter()
        .position(|&byte| byte != b' ')
        .unwrap_or(input.len())
}

/// Whether `word` is `upper` in any ASCII case.
#[inline(always)]
fn keyword_is(word: &[u8], upper: &[u8]) -> bool {
    word.len() == upper.len() && word.eq_ignore_ascii_case(upper)
}

// ----- eight octets at a time -----
//
// Tokens are found by classifying eight octets at once in a `u64` (SWAR): each test below
// sets the high bit of every octet that passes it, exactly (no carry crosses octets), so masks
// combine with `&` and `|`, and `trailing_zeros` finds the first octet that ends a token.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const LOWS: u64 = !HIGHS;

/// The eight octets at `at`, little-endian; past the end of `bytes`, NUL octets (which are in
/// no class, so they end every token).
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let load = |eight: &[u8]| u64::from_le_bytes(eight.try_into().expect("eight octets"));
    if let Some(eight) = bytes.get(at..at + 8) {
        return load(eight);
    }
    let length = bytes.len();
    if at >= length {
        0
    } else if length >= 8 {
        // The last eight octets, shifted so that the ones before `at` fall off the bottom.
        load(&bytes[length - 8..]) >> (8 * (at + 8 - length))
    } else {
        bytes[at..]
            .iter()
            .rev()
            .fold(0, |word, &byte| word << 8 | u64::from(byte))
    }
}

/// The octets of `word` equal to `byte`.
#[inline(always)]
fn equal(word: u64, byte: u8) -> u64 {
    let zero_where_equal = word ^ (ONES * u64::from(byte));
    !(((zero_where_equal & LOWS) + LOWS) | zero_where_equal | LOWS)
}

/// The ASCII octets of `word` in `low..=high` (both below 0x80).
#[inline(always)]
fn within(word: u64, low: u8, high: u8) -> u64 {
    let seven = word & LOWS;
    let at_least_low = seven + ONES * u64::from(0x80 - low);
    let above_high = seven + ONES * u64::from(0x7f - high);
    at_least_low & !above_high & !word & HIGHS
}

/// The ASCII letters and digits of `word`.
#[inline(always)]
fn alphanumeric(word: u64) -> u64 {
    // Setting bit 5 folds case, and moves no other ASCII octet into `a..=z`.
    within(word, b'0', b'9') | within(word | (ONES * 0x20), b'a', b'z')
}

/// Octets from 0x80 (UTF-8, allowed wherever RFC 6531 allows `UTF8-non-ascii`).
#[inline(always)]
fn non_ascii(word: u64) -> u64 {
    word & HIGHS
}

/// How many octets from `at` are flagged by `class`.
#[inline(always)]
fn run_of(bytes: &[u8], at: usize, class: impl Fn(u64) -> u64) -> usize {
    let mut end = at;
    loop {
        let count = before_first(!class(word_at(bytes, end)) & HIGHS);
        end += count;
        if count < 8 || end >= bytes.len() {
            return end.min(bytes.len()) - at;
        }
    }
}

/// How many of the eight octets come before the first flagged in `stops` (8 if none).
#[inline(always)]
fn before_first(stops: u64) -> usize {
    (stops.trailing_zeros() / 8) as usize
}

/// The flags of the first `count` octets (0 to 8).
#[inline(always)]
fn first_octets(count: usize) -> u64 {
    if count >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * count)) - 1
    }
}

/// The octets as an owned text, if they are UTF-8.
///
/// Most values are ASCII, and for them the general UTF-8 check costs as much as the
/// allocation: they are checked with `is_ascii` (eight octets at a time) instead.
#[allow(unsafe_code)]
#[inline]
fn owned_text(bytes: &[u8]) -> Option<String> {
    if bytes.is_ascii() {
        // SAFETY: every octet is ASCII (checked just above), and ASCII is UTF-8.
        Some(unsafe { String::from_utf8_unchecked(bytes.to_vec()) })
    } else {
        std::str::from_utf8(bytes).ok().map(str::to_owned)
    }
}

// ----- paths (RFC 5321 section 4.1.2) -----
//
// The scanners below take the whole argument and a position, and return where their rule ends;
// text is taken out (one UTF-8 check, one allocation per value) only once a whole mailbox is
// known to be valid.

/// `Dot-string = Atom *("."  Atom)`: where the `Dot-string` at `at` ends, if the longest run of
/// `atext` and `.` there is one. Eight octets at a time; a dot must not start the run, follow
/// another dot, or end the run (each `Atom` has at least one character).
#[inline]
fn dot_string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    // The octet before the block was a dot (or the run starts there), at the high bit.
    let mut after_dot = 0x80;
    let mut bad = 0;
    loop {
        let word = word_at(bytes, end);
        let dots = equal(word, b'.');
        let atext = dot_string_ascii(word) | non_ascii(word);
        let count = before_first(!(atext | dots) & HIGHS);
        let keep = first_octets(count);
        bad |= dots & ((dots << 8) | after_dot) & keep;
        end += count;
        if count < 8 {
            let last_dot = if count == 0 {
                after_dot != 0
            } else {
                dots >> (8 * count - 1) & 1 != 0
            };
            return (bad == 0 && !last_dot).then_some(end);
        }
        after_dot = (dots >> 56) & 0x80;
    }
}

/// The ASCII octets of `word` that are `atext` (RFC 5322 section 3.2.3), or `.`:
/// `! #-' *-+ --9 = ? A-Z ^-~`.
#[inline(always)]
fn dot_string_ascii(word: u64) -> u64 {
    equal(word, b'!')
        | within(word, b'#', b'\'')
        | within(word, b'*', b'+')
        | within(word, b'-', b'9')
        | equal(word, b'=')
        | equal(word, b'?')
        | within(word, b'A', b'Z')
        | within(word, b'^', b'~')
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE` at `at`: its content without quotes and
/// escapes, and where it ends.
fn quoted_string(bytes: &[u8], at: usize) -> Option<(String, usize)> {
    let mut content = Vec::new();
    let mut at = at + 1;
    loop {
        match *bytes.get(at)? {
            b'"' => return Some((String::from_utf8(content).ok()?, at + 1)),
            // quoted-pairSMTP = %d92 %d32-126
            b'\\' => match *bytes.get(at + 1)? {
                escaped @ 32..=126 => {
                    content.push(escaped);
                    at += 2;
                }
                _ => return None,
            },
            byte if is(byte, QTEXT) => {
                content.push(byte);
                at += 1;
            }
            _ => return None,
        }
    }
}

/// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]`: where the
/// `Domain` at `at` ends, if the longest run of domain characters there is one (what
/// [`Domain::name`] checks). Eight octets at a time: a dot must follow a `Let-dig`, a hyphen
/// must not start a label, and the run must end with a `Let-dig`.
#[inline]
fn domain_name_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    // Whether the octet before the block was a `Let-dig`, and whether it was a dot or the
    // start (so that the next octet starts a label), at the high bit.
    let mut let_dig_before = 0;
    let mut label_start = 0x80;
    let mut bad = 0;
    loop {
        let word = word_at(bytes, end);
        let let_dig = alphanumeric(word) | non_ascii(word);
        let dots = equal(word, b'.');
        let hyphens = equal(word, b'-');
        let count = before_first(!(let_dig | dots | hyphens) & HIGHS);
        let keep = first_octets(count);
        let previous_let_dig = (let_dig << 8) | let_dig_before;
        let previous_dot = (dots << 8) | label_start;
        bad |= ((dots & !previous_let_dig) | (hyphens & previous_dot)) & keep;
        end += count;
        if count < 8 {
            let last_let_dig = if count == 0 {
                let_dig_before != 0
            } else {
                let_dig >> (8 * count - 1) & 1 != 0
            };
            let fits = end - at <= Domain::MAX_LENGTH;
            return (bad == 0 && last_let_dig && fits).then_some(end);
        }
        let_dig_before = (let_dig >> 56) & 0x80;
        label_start = (dots >> 56) & 0x80;
    }
}

/// `address-literal` at `at` (a `[`): its content, and where it ends.
fn address_literal(bytes: &[u8], at: usize) -> Option<(Domain, usize)> {
    let start = at + 1;
    let end = start + run(&bytes[start..], DCONTENT);
    if end == start || bytes.get(end) != Some(&b']') {
        return None;
    }
    let text = std::str::from_utf8(&bytes[start..end]).ok()?;
    Some((Domain::literal(text).ok()?, end + 1))
}

/// Where the `Domain / address-literal` at `at` ends, checked but not kept (a source route's).
fn domain_checked_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) == Some(&b'[') {
        Some(address_literal(bytes, at)?.1)
    } else {
        let end = domain_name_end(bytes, at)?;
        std::str::from_utf8(&bytes[at..end]).ok()?;
        Some(end)
    }
}

/// `Domain / address-literal` at `at`, and where it ends (EHLO and HELO's argument).
#[inline(always)]
fn domain(bytes: &[u8], at: usize) -> Option<(Domain, usize)> {
    if bytes.get(at) == Some(&b'[') {
        address_literal(bytes, at)
    } else {
        let end = domain_name_end(bytes, at)?;
        Some((Domain::Name(owned_text(&bytes[at..end])?), end))
    }
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )` at `at`, and where it ends. Nothing
/// is allocated until the whole mailbox is known to be valid; the common form (a `Dot-string`
/// and a domain name) is checked as UTF-8 in one piece.
#[inline(always)]
fn mailbox(bytes: &[u8], at: usize) -> Option<(Mailbox, usize)> {
    if bytes.get(at) == Some(&b'"') {
        let (content, local_end) = quoted_string(bytes, at)?;
        if content.len() > LocalPart::MAX_LENGTH || bytes.get(local_end) != Some(&b'@') {
            return None;
        }
        let (domain, end) = domain(bytes, local_end + 1)?;
        let local_part = LocalPart::from_parsed(content);
        return Some((Mailbox { local_part, domain }, end));
    }
    let local_end = dot_string_end(bytes, at)?;
    if local_end - at > LocalPart::MAX_LENGTH || bytes.get(local_end) != Some(&b'@') {
        return None;
    }
    if bytes.get(local_end + 1) == Some(&b'[') {
        let (domain, end) = address_literal(bytes, local_end + 1)?;
        let local_part = LocalPart::from_parsed(owned_text(&bytes[at..local_end])?);
        return Some((Mailbox { local_part, domain }, end));
    }
    let end = domain_name_end(bytes, local_end + 1)?;
    let local = owned_text(&bytes[at..local_end])?;
    let domain = owned_text(&bytes[local_end + 1..end])?;
    Some((
        Mailbox {
            local_part: LocalPart::from_parsed(local),
            domain: Domain::Name(domain),
        },
        end,
    ))
}

/// Parses a whole `local@domain` text.
pub(crate) fn mailbox_text(input: &[u8]) -> Option<Mailbox> {
    mailbox(input, 0).and_then(|(mailbox, end)| (end == input.len()).then_some(mailbox))
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"` at the start of `bytes`, and its length. A source
/// route (`A-d-l = At-domain *( "," At-domain )`) is checked and dropped.
#[inline(always)]
fn path(bytes: &[u8]) -> Option<(Mailbox, usize)> {
    if bytes.first() != Some(&b'<') {
        return None;
    }
    let mut at = 1;
    if bytes.get(at) == Some(&b'@') {
        loop {
            at = domain_checked_end(bytes, at + 1)?;
            match bytes.get(at) {
                Some(b',') if bytes.get(at + 1) == Some(&b'@') => at += 1,
                Some(b':') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    let (mailbox, end) = mailbox(bytes, at)?;
    (bytes.get(end) == Some(&b'>')).then_some((mailbox, end + 1))
}

/// The longest path (RFC 5321 section 4.5.3.1.3), angle brackets included.
const MAX_PATH_LENGTH: usize = 256;

/// Whether a path that took `length` octets at the start of `input` is within the limit,
/// counted to its first `>` (a `>` quoted in the local part ends the count, as it always has
/// here).
fn path_within_limit(input: &[u8], length: usize) -> bool {
    length <= MAX_PATH_LENGTH
        || memchr::memchr(b'>', &input[..length]).is_some_and(|end| end < MAX_PATH_LENGTH)
}

/// `Reverse-path = Path / "<>"` at the start of `bytes`, and its length.
#[inline(always)]
fn reverse_path(bytes: &[u8]) -> Option<(ReversePath, usize)> {
    if bytes.starts_with(b"<>") {
        return Some((ReversePath::Null, 2));
    }
    let (mailbox, length) = path(bytes)?;
    Some((ReversePath::Mailbox(mailbox), length))
}

/// `"<Postmaster>" / Forward-path` at the start of `bytes`, and its length.
#[inline(always)]
fn forward_path(bytes: &[u8]) -> Option<(ForwardPath, usize)> {
    const POSTMASTER: &[u8] = b"<Postmaster>";
    if bytes
        .get(..POSTMASTER.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(POSTMASTER))
    {
        return Some((ForwardPath::Postmaster, POSTMASTER.len()));
    }
    let (mailbox, length) = path(bytes)?;
    Some((ForwardPath::Mailbox(mailbox), length))
}

// ----- parameters -----

/// Walks `*( 1*SP esmtp-param ) *SP` (what follows a path), with
/// `esmtp-param = esmtp-keyword ["=" esmtp-value]`, handing each keyword and value to `each`.
///
/// Syntax is checked first: a malformed parameter anywhere is an `Arguments` error even after
/// `each` refused an earlier one; otherwise the first refusal is returned.
fn esmtp_parameters<'a>(
    text: &'a [u8],
    verb: &'static str,
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), CommandError>,
) -> Result<(), CommandError> {
    let malformed = CommandError::Arguments {
        verb,
        expected: "parameters of the form KEYWORD[=value]",
    };
    match text.first() {
        None => return Ok(()),
        Some(b' ') => {}
        Some(_) => return Err(malformed),
    }
    let mut refused = None;
    let mut at = 0;
    loop {
        at += spaces(&text[at..]);
        if at == text.len() {
            break;
        }
        let keyword_length = run_of(text, at, |word| alphanumeric(word) | equal(word, b'-'));
        if keyword_length == 0 {
            return Err(malformed);
        }
        let keyword = &text[at..at + keyword_length];
        at += keyword_length;
        let value = if text.get(at) == Some(&b'=') {
            at += 1;
            // esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8.
            let value_length = run_of(text, at, |word| {
                !(within(word, 0, b' ') | equal(word, b'=') | equal(word, 0x7f))
            });
            if value_length == 0 {
                return Err(malformed);
            }
            at += value_length;
            Some(&text[at - value_length..at])
        } else {
            None
        };
        if !matches!(text.get(at), None | Some(b' ')) {
            return Err(malformed);
        }
        if refused.is_none() {
            refused = each(keyword, value).err();
        }
    }
    refused.map_or(Ok(()), Err)
}

fn parameter_refused(verb: &'static str, keyword: &[u8]) -> CommandError {
    CommandError::Parameter {
        verb,
        parameter: excerpt(&keyword[..keyword.len().min(64)]),
    }
}

fn ascii(value: &[u8]) -> Option<&str> {
    if value.is_ascii() {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// A decimal number of at most 20 digits that fits in a `u64`.
fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    value.iter().try_fold(0u64, |total, &byte| {
        if !byte.is_ascii_digit() {
            return None;
        }
        total.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
    })
}

fn mail_parameter(
    parameters: &mut MailParameters,
    keyword: &[u8],
    value: Option<&[u8]>,
) -> Result<(), CommandError> {
    let refuse = || parameter_refused("MAIL", keyword);
    match value {
        Some(value) if keyword_is(keyword, b"SIZE") && parameters.size.is_none() => {
            parameters.size = Some(number(value).ok_or_else(refuse)?);
        }
        Some(value) if keyword_is(keyword, b"BODY") && parameters.body.is_none() => {
            parameters.body = Some(if keyword_is(value, b"8BITMIME") {
                BodyType::EightBitMime
            } else if keyword_is(value, b"7BIT") {
                BodyType::SevenBit
            } else if keyword_is(value, b"BINARYMIME") {
                BodyType::BinaryMime
            } else {
                return Err(refuse());
            });
        }
        None if keyword_is(keyword, b"SMTPUTF8") && !parameters.smtputf8 => {
            parameters.smtputf8 = true;
        }
        Some(value) if keyword_is(keyword, b"RET") && parameters.ret.is_none() => {
            parameters.ret = Some(if keyword_is(value, b"FULL") {
                DsnReturn::Full
            } else if keyword_is(value, b"HDRS") {
                DsnReturn::Headers
            } else {
                return Err(refuse());
            });
        }
        Some(value)
            if keyword_is(keyword, b"ENVID")
                && parameters.envid.is_none()
                && value.len() <= 100 =>
        {
            let text = ascii(value).ok_or_else(refuse)?;
            parameters.envid = Some(XText::try_from(text).map_err(|_| refuse())?);
        }
        Some(value) if keyword_is(keyword, b"AUTH") && parameters.auth.is_none() => {
            parameters.auth = Some(if value == b"<>" {
                None
            } else {
                let text = ascii(value).ok_or_else(refuse)?;
                Some(XText::try_from(text).map_err(|_| refuse())?)
            });
        }
        _ => return Err(refuse()),
    }
    Ok(())
}

fn rcpt_parameter(
    parameters: &mut RcptParameters,
    keyword: &[u8],
    value: Option<&[u8]>,
) -> Result<(), CommandError> {
    let refuse = || parameter_refused("RCPT", keyword);
    match value {
        Some(value) if keyword_is(keyword, b"NOTIFY") && parameters.notify.is_none() => {
            if !value.is_ascii() {
                return Err(refuse());
            }
            let mut notify = DsnNotify::default();
            if !keyword_is(value, b"NEVER") {
                for part in value.split(|&byte| byte == b',') {
                    let slot = if keyword_is(part, b"SUCCESS") {
                        &mut notify.success
                    } else if keyword_is(part, b"FAILURE") {
                        &mut notify.failure
                    } else if keyword_is(part, b"DELAY") {
                        &mut notify.delay
                    } else {
                        return Err(refuse());
                    };
                    if std::mem::replace(slot, true) {
                        return Err(refuse());
                    }
                }
            }
            parameters.notify = Some(notify);
        }
        Some(value)
            if keyword_is(keyword, b"ORCPT")
                && parameters.orcpt.is_none()
                && value.len() <= 500 =>
        {
            let text = ascii(value).ok_or_else(refuse)?;
            let (address_type, address) = text.split_once(';').ok_or_else(refuse)?;
            if address_type.is_empty() || !address_type.bytes().all(|byte| is(byte, ATEXT)) {
                return Err(refuse());
            }
            parameters.orcpt = Some(OriginalRecipient {
                address: XText::try_from(address).map_err(|_| refuse())?,
                address_type: address_type.to_owned(),
            });
        }
        _ => return Err(refuse()),
    }
    Ok(())
}

// ----- commands -----

fn text_argument(rest: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(rest).ok()?.trim_matches(' ');
    (!text.is_empty() && !text.bytes().any(|byte| byte < b' ' && byte != b'\t'))
        .then(|| text.to_string())
}

/// A verb of four letters in lower case, as a number to compare a folded verb with.
const fn verb4(verb: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*verb)
}

/// Parses one command line (without CRLF).
///
/// Tolerated, as Postfix and Dovecot tolerate it: lower-case verbs and keywords, spaces after
/// `FROM:`/`TO:`, and several spaces between parameters.
///
/// The parser reads each token once with a table of byte classes and allocates only for the
/// values it returns (see the crate docs, "Speed", for how it compares with its peers).
///
/// ```
/// use smtp_submit::parse::command;
/// use smtp_submit::types::{Command, ReversePath};
/// let parsed = command(b"MAIL FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME").unwrap();
/// let Command::Mail { from: ReversePath::Mailbox(from), parameters } = parsed else { panic!() };
/// assert_eq!(from.to_string(), "alice@example.org");
/// assert_eq!(parameters.size, Some(1000));
/// ```
pub fn command(line: &[u8]) -> Result<Command, CommandError> {
    // The verb runs to the first space. Every verb has four letters but STARTTLS.
    match line {
        [a, b, c, d, rest @ ..] if matches!(rest.first(), None | Some(b' ')) => {
            // Letters only, so setting bit 5 of each octet folds case exactly: an octet folds
            // to a lower-case letter only from that letter or its upper case.
            match u32::from_le_bytes([*a, *b, *c, *d]) | 0x2020_2020 {
                RCPT => rcpt(rest),
                MAIL => mail(rest),
                EHLO => hello(rest, "EHLO").map(Command::Ehlo),
                HELO => hello(rest, "HELO").map(Command::Helo),
                DATA => no_arguments(rest, "DATA", Command::Data),
                RSET => no_arguments(rest, "RSET", Command::Rset),
                QUIT => no_arguments(rest, "QUIT", Command::Quit),
                // NOOP may carry a string, which is ignored (RFC 5321 section 4.1.1.9).
                NOOP => Ok(Command::Noop),
                BDAT => bdat(rest),
                AUTH => auth(rest),
                VRFY => text_argument(rest)
                    .map(Command::Vrfy)
                    .ok_or(CommandError::Arguments {
                        verb: "VRFY",
                        expected: "a name or address",
                    }),
                HELP => Ok(Command::Help(text_argument(rest))),
                _ => Err(CommandError::Unknown),
            }
        }
        _ if line.len() >= 8
            && matches!(line.get(8), None | Some(b' '))
            && line[..8].eq_ignore_ascii_case(b"STARTTLS") =>
        {
            no_arguments(&line[8..], "STARTTLS", Command::StartTls)
        }
        _ => Err(CommandError::Unknown),
    }
}

const RCPT: u32 = verb4(b"rcpt");
const MAIL: u32 = verb4(b"mail");
const EHLO: u32 = verb4(b"ehlo");
const HELO: u32 = verb4(b"helo");
const DATA: u32 = verb4(b"data");
const RSET: u32 = verb4(b"rset");
const QUIT: u32 = verb4(b"quit");
const NOOP: u32 = verb4(b"noop");
const BDAT: u32 = verb4(b"bdat");
const AUTH: u32 = verb4(b"auth");
const VRFY: u32 = verb4(b"vrfy");
const HELP: u32 = verb4(b"help");

fn no_arguments(
    rest: &[u8],
    verb: &'static str,
    command: Command,
) -> Result<Command, CommandError> {
    if spaces(rest) == rest.len() {
        Ok(command)
    } else {
        Err(CommandError::Arguments {
            verb,
            expected: "no arguments",
        })
    }
}

/// `"EHLO" SP ( Domain / address-literal )` and HELO's, after the verb; trailing spaces
/// tolerated.
#[inline(always)]
fn hello(rest: &[u8], verb: &'static str) -> Result<Domain, CommandError> {
    let leading = spaces(rest);
    (leading > 0)
        .then(|| domain(rest, leading))
        .flatten()
        .filter(|&(_, end)| spaces(&rest[end..]) == rest.len() - end)
        .map(|(domain, _)| domain)
        .ok_or(CommandError::Arguments {
            verb,
            expected: "a domain name or address literal",
        })
}

/// What follows `SP keyword` (`FROM:` or `TO:`, in any case) and any spaces.
#[inline]
fn after_keyword<'a>(rest: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let end = keyword.len() + 1;
    if rest.len() < end || rest[0] != b' ' || !rest[1..end].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let after = &rest[end..];
    Some(&after[spaces(after)..])
}

/// `"MAIL FROM:" Reverse-path [SP Mail-parameters]`, after the verb.
#[inline(always)]
fn mail(rest: &[u8]) -> Result<Command, CommandError> {
    let after = after_keyword(rest, b"FROM:").ok_or(CommandError::Arguments {
        verb: "MAIL",
        expected: "FROM:<address> [parameters]",
    })?;
    let (from, length) = reverse_path(after)
        .filter(|&(_, length)| path_within_limit(after, length))
        .ok_or(CommandError::SenderAddress)?;
    let mut parameters = MailParameters::default();
    esmtp_parameters(&after[length..], "MAIL", |keyword, value| {
        mail_parameter(&mut parameters, keyword, value)
    })?;
    Ok(Command::Mail { from, parameters })
}

/// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
/// [SP Rcpt-parameters]`, after the verb.
#[inline(always)]
fn rcpt(rest: &[u8]) -> Result<Command, CommandError> {
    let after = after_keyword(rest, b"TO:").ok_or(CommandError::Arguments {
        verb: "RCPT",
        expected: "TO:<address> [parameters]",
    })?;
    let (to, length) = forward_path(after)
        .filter(|&(_, length)| path_within_limit(after, length))
        .ok_or(CommandError::RecipientAddress)?;
    let mut parameters = RcptParameters::default();
    esmtp_parameters(&after[length..], "RCPT", |keyword, value| {
        rcpt_parameter(&mut parameters, keyword, value)
    })?;
    Ok(Command::Rcpt { to, parameters })
}

/// `"BDAT" SP chunk-size [ SP end-marker ]` (RFC 3030), after the verb.
fn bdat(rest: &[u8]) -> Result<Command, CommandError> {
    let parsed = || {
        let mut at = spaces(rest);
        if at == 0 {
            return None;
        }
        let digits = rest[at..]
            .iter()
            .position(|byte| !byte.is_ascii_digit())
            .unwrap_or(rest.len() - at);
        if digits == 0 {
            return None;
        }
        let size = number(&rest[at..at + digits]);
        at += digits;
        let gap = spaces(&rest[at..]);
        at += gap;
        let mut last = false;
        if gap > 0 && rest.len() - at >= 4 && rest[at..at + 4].eq_ignore_ascii_case(b"LAST") {
            last = true;
            at += 4;
            at += spaces(&rest[at..]);
        }
        (at == rest.len()).then_some((size?, last))
    };
    let (size, last) = parsed().ok_or(CommandError::Arguments {
        verb: "BDAT",
        expected: "chunk-size [LAST]",
    })?;
    Ok(Command::Bdat { size, last })
}

/// `"AUTH" SP sasl-mech [SP initial-response]` (RFC 4954), after the verb.
fn auth(rest: &[u8]) -> Result<Command, CommandError> {
    let parsed = || {
        let mut at = spaces(rest);
        let mechanism_length = run(&rest[at..], MECHANISM);
        if at == 0 || mechanism_length == 0 {
            return None;
        }
        let mechanism = &rest[at..at + mechanism_length];
        at += mechanism_length;
        let gap = spaces(&rest[at..]);
        at += gap;
        let response_length = if gap > 0 { run(&rest[at..], BASE64) } else { 0 };
        let response = (response_length > 0).then(|| &rest[at..at + response_length]);
        at += response_length;
        at += spaces(&rest[at..]);
        (at == rest.len()).then_some((mechanism, response))
    };
    let (mechanism, response) = parsed().ok_or(CommandError::Arguments {
        verb: "AUTH",
        expected: "mechanism [initial-response]",
    })?;
    Ok(Command::Auth {
        mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial_response: response
            .map(|response| Secret::new(String::from_utf8_lossy(response).into_owned())),
    })
}

// ----- replies -----

/// One line of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine {
    /// The code.
    pub code: ReplyCode,
    /// Whether more lines follow (`-` after the code).
    pub more: bool,
    /// The text after the separator (lossily decoded as UTF-8).
    pub text: String,
}

/// Parses one reply line (without CRLF): `Reply-code ( "-" / SP / end ) [ textstring ]`.
pub fn reply_line(line: &[u8]) -> Result<ReplyLine, ReplyError> {
    let malformed = || ReplyError::Malformed {
        line: excerpt(line),
    };
    let (code, rest) = match line {
        [a @ b'2'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..] => {
            let value = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            (ReplyCode::try_from(value).map_err(|_| malformed())?, rest)
        }
        _ => return Err(malformed()),
    };
    let (more, text) = match rest {
        [] => (false, &rest[..0]),
        [b'-', text @ ..] => (true, text),
        [b' ', text @ ..] => (false, text),
        _ => return Err(malformed()),
    };
    Ok(ReplyLine {
        code,
        more,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// `status-code SP` at the start of a reply text (RFC 2034 section 4).
pub fn enhanced_code(text: &str) -> Option<(EnhancedCode, &str)> {
    let (code, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = code.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject = parts.next().filter(|part| (1..=3).contains(&part.len()))?;
    let detail = parts.next().filter(|part| (1..=3).contains(&part.len()))?;
    if parts.next().is_some() {
        return None;
    }
    let code = EnhancedCode::new(class, subject.parse().ok()?, detail.parse().ok()?)?;
    Some((code, rest))
}

/// Puts reply lines together into [`Reply`] values, bounding the number of lines.
#[derive(Debug, Clone)]
pub struct ReplyAssembler {
    max_lines: usize,
    enhanced_codes: bool,
    pending: Option<Reply>,
}

impl ReplyAssembler {
    /// An assembler that refuses replies of more than `max_lines` lines. With
    /// `enhanced_codes` (the server announced ENHANCEDSTATUSCODES, or the reply is the
    /// greeting of one that might), a leading `x.y.z` is taken off each line into
    /// [`Reply::enhanced`].
    pub fn new(max_lines: usize) -> Self {
        ReplyAssembler {
            max_lines,
            enhanced_codes: true,
            pending: None,
        }
    }

    /// Whether to read enhanced status codes from the text.
    pub fn set_enhanced_codes(&mut self, enabled: bool) {
        self.enhanced_codes = enabled;
    }

    /// Adds a line; returns the reply when it is complete.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let parsed = reply_line(line)?;
        let matching_class = |code: EnhancedCode| u16::from(code.class) == parsed.code.get() / 100;
        let (enhanced, text) = match enhanced_code(&parsed.text) {
            Some((code, rest)) if self.enhanced_codes && matching_class(code) => {
                (Some(code), rest.to_string())
            }
            _ => (None, parsed.text),
        };
        match &mut self.pending {
            Some(reply) => {
                if reply.code != parsed.code {
                    self.pending = None;
                    return Err(ReplyError::CodeChanged {
                        line: excerpt(line),
                    });
                }
                if reply.lines.len() >= self.max_lines {
                    self.pending = None;
                    return Err(ReplyError::TooManyLines {
                        limit: self.max_lines,
                    });
                }
                reply.lines.push(text);
            }
            None => {
                self.pending = Some(Reply {
                    code: parsed.code,
                    enhanced,
                    lines: vec![text],
                });
            }
        }
        if parsed.more {
            Ok(None)
        } else {
            Ok(self.pending.take())
        }
    }
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_rfc_5321() {
        let Command::Rcpt { to, .. } =
            command(b"RCPT TO:<@a.example,@b.example:bob@c.example>").unwrap()
        else {
            panic!()
        };
        assert_eq!(to.to_string(), "<bob@c.example>", "source route dropped");
        let Command::Mail { from, .. } = command(b"mail from:<\"a b\\\"c\"@[192.0.2.1]>").unwrap()
        else {
            panic!()
        };
        assert_eq!(from.to_string(), "<\"a b\\\"c\"@[192.0.2.1]>");
        assert_eq!(
            command(b"RCPT TO:<postmaster>").unwrap(),
            Command::Rcpt {
                to: ForwardPath::Postmaster,
                parameters: RcptParameters::default()
            }
        );
        assert_eq!(command(b"MAIL FROM:<>").unwrap().verb(), "MAIL");
        assert_eq!(command(b"MAIL FROM: <a@b.example>").unwrap().verb(), "MAIL");
        assert_eq!(
            command(b"MAIL FROM:<a..b@example.org>"),
            Err(CommandError::SenderAddress)
        );
        assert_eq!(
            command(b"RCPT TO:<bob@-bad.example>"),
            Err(CommandError::RecipientAddress)
        );
        assert_eq!(
            command(b"RCPT TO:<bob@[999.1.1.1]>"),
            Err(CommandError::RecipientAddress)
        );
        let long = format!("RCPT TO:<{}@example.org>", "a".repeat(65));
        assert_eq!(
            command(long.as_bytes()),
            Err(CommandError::RecipientAddress)
        );
    }

    #[test]
    fn parameters_are_checked() {
        let Command::Mail { parameters, .. } = command(
            b"MAIL FROM:<a@b.example> SIZE=12 BODY=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(parameters.size, Some(12));
        assert_eq!(parameters.body, Some(BodyType::EightBitMime));
        assert!(parameters.smtputf8);
        assert_eq!(parameters.ret, Some(DsnReturn::Headers));
        assert_eq!(parameters.envid.unwrap().decode(), b"QQ+1");
        assert_eq!(parameters.auth, Some(None));
        for bad in [
            &b"MAIL FROM:<a@b.example> SIZE=x"[..],
            b"MAIL FROM:<a@b.example> SIZE=1 SIZE=2",
            b"MAIL FROM:<a@b.example> FOO=1",
            b"MAIL FROM:<a@b.example> BODY=9BIT",
            b"MAIL FROM:<a@b.example> ENVID=a+zz",
            b"RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS",
            b"RCPT TO:<a@b.example> ORCPT=rfc822",
        ] {
            let error = command(bad).unwrap_err();
            assert_eq!(
                error.reply().code.get(),
                555,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let Command::Rcpt { parameters, .. } =
            command(b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+40b").unwrap()
        else {
            panic!()
        };
        let notify = parameters.notify.unwrap();
        assert!(notify.success && notify.delay && !notify.failure);
        assert_eq!(parameters.orcpt.unwrap().address.decode(), b"a@b");
    }

    #[test]
    fn other_commands() {
        assert_eq!(
            command(b"BDAT 1000 LAST").unwrap(),
            Command::Bdat {
                size: 1000,
                last: true
            }
        );
        assert!(command(b"BDAT 99999999999999999999999").is_err());
        assert!(command(b"BDAT").is_err());
        assert_eq!(command(b"data").unwrap(), Command::Data);
        assert!(command(b"DATA now").is_err());
        assert_eq!(command(b"").unwrap_err(), CommandError::Unknown);
        assert_eq!(command(b"XYZZY").unwrap_err().reply().code.get(), 500);
        let Command::Auth {
            mechanism,
            initial_response,
        } = command(b"AUTH plain AGFsaWNlAHNlY3JldA==").unwrap()
        else {
            panic!()
        };
        assert_eq!(mechanism, "PLAIN");
        assert_eq!(initial_response.unwrap().expose(), "AGFsaWNlAHNlY3JldA==");
        assert_eq!(
            command(b"EHLO [IPv6:2001:db8::1]").unwrap(),
            Command::Ehlo(Domain::Literal("IPv6:2001:db8::1".into()))
        );
        assert!(command(b"EHLO").is_err());
        assert!(command(b"HELO a b").is_err());
    }

    /// Pieces that command lines are made of, valid and not, so that random concatenations
    /// reach every branch of both parsers.
    const PIECES: &[&str] = &[
        "MAIL",
        "mail",
        "RCPT",
        "rcpt",
        "EHLO",
        "helo",
        "DATA",
        "RSET",
        "QUIT",
        "NOOP",
        "BDAT",
        "AUTH",
        "VRFY",
        "HELP",
        "STARTTLS",
        "starttls",
        "XYZZY",
        " ",
        " ",
        " ",
        "  ",
        "\t",
        "FROM:",
        "from:",
        "TO:",
        "To:",
        "<",
        ">",
        "<>",
        "<Postmaster>",
        "<postMASTER>",
        "postmaster",
        "@",
        "@",
        ".",
        "..",
        ",",
        ":",
        ";",
        "\"",
        "\\",
        "\\\"",
        "[",
        "]",
        "IPv6:",
        "2001:db8::1",
        "192.0.2.1",
        "999.1.1.1",
        "x:y",
        "a",
        "bob",
        "alice.smith",
        "-",
        "-x",
        "x-",
        "example",
        ".org",
        "example.net",
        "ex-am-ple.com",
        "é",
        "中",
        "\u{80}",
        "=",
        "SIZE=",
        "size=",
        "123456",
        "99999999999999999999999",
        "BODY=",
        "8bitmime",
        "7BIT",
        "BINARYMIME",
        "9BIT",
        "SMTPUTF8",
        "RET=",
        "FULL",
        "hdrs",
        "ENVID=",
        "AUTH=",
        "QQ+2B1",
        "+",
        "+zz",
        "+4",
        "NOTIFY=",
        "NEVER",
        "SUCCESS",
        "failure",
        "DELAY",
        "ORCPT=",
        "rfc822;",
        "utf-8;",
        "a+40b",
        "FOO",
        "LAST",
        "last",
        "PLAIN",
        "AGFsaWNl==",
        "_",
        "/",
        "0",
        "10",
        "\r",
        "\0",
        "\x7f",
    ];

    const VERBS: &[&str] = &[
        "MAIL", "mail", "RCPT", "rcpt", "EHLO", "helo", "DATA", "RSET", "QUIT", "NOOP", "BDAT",
        "bdat", "AUTH", "VRFY", "HELP", "STARTTLS", "starttls", "XYZZY", "MAIL:", "",
    ];

    fn line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            6 => proptest::sample::select(PIECES).prop_map(|piece| piece.as_bytes().to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 1..4),
            1 => "[a-z0-9]{1,70}".prop_map(String::into_bytes),
        ];
        (
            proptest::sample::select(VERBS),
            proptest::option::weighted(0.9, Just(" ")),
            proptest::collection::vec(piece, 0..16),
        )
            .prop_map(|(verb, space, pieces)| {
                let mut line = verb.as_bytes().to_vec();
                line.extend_from_slice(space.unwrap_or_default().as_bytes());
                line.extend(pieces.concat());
                line
            })
    }

    fn local_part() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            12 => "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9_é-]{1,10}){0,2}",
            1 => "[a-z]{60,66}",
            1 => "\"([ !#-\\[\\]-~é]|\\\\[ -~]){0,12}\"",
            1 => "\"[a-z]{60,66}\"",
            1 => "[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\"\\\\ @<>:,-]{0,12}",
            1 => "postmaster|Postmaster",
        ]
    }

    fn domain_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            12 => "[a-z0-9é]([a-z0-9-]{0,5}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,5}[a-z0-9])?){0,3}",
            1 => "\\[[0-9.]{1,16}\\]",
            1 => "\\[IPv6:[0-9a-f:.]{2,24}\\]",
            1 => "\\[[a-z]{1,5}:[ -~]{0,8}\\]",
            1 => "[a-z]{60,63}\\.[a-z]{60,63}\\.[a-z]{60,63}\\.[a-z]{60,63}",
            1 => "[a-zA-Z0-9.\\[\\]:_-]{0,16}",
        ]
    }

    fn parameters() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let keyword = proptest::sample::select(
            &[
                "SIZE",
                "size",
                "BODY",
                "SMTPUTF8",
                "RET",
                "ENVID",
                "AUTH",
                "NOTIFY",
                "notify",
                "ORCPT",
                "FOO",
                "X-LONG-KEYWORD-OF-MANY-LETTERS",
                "",
            ][..],
        );
        let value = prop_oneof![
            6 => proptest::sample::select(&[
                "", "=123456", "=0", "=99999999999999999999", "=184467440737095516150", "=x",
                "=8BITMIME", "=7bit", "=BINARYMIME", "=9BIT", "=FULL", "=HDRS", "=QQ+2B1",
                "=a+zz", "=<>", "=SUCCESS,FAILURE", "=NEVER", "=delay", "=SUCCESS,,DELAY",
                "=FAILURE,FAILURE", "=rfc822;bob+40example.com", "=utf-8;x", "=;x", "=rfc822;",
                "=", "==", "=a=b", "=é",
            ][..]).prop_map(str::to_string),
            1 => "=[!-~]{1,8}",
        ];
        proptest::collection::vec(
            (
                prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("")],
                keyword,
                value,
            ),
            0..4,
        )
        .prop_map(|parameters| {
            parameters
                .into_iter()
                .map(|(gap, keyword, value)| format!("{gap}{keyword}{value}"))
                .collect()
        })
    }

    fn envelope_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        (
            proptest::sample::select(&["MAIL FROM:", "RCPT TO:", "mail from: ", "EHLO "][..]),
            prop_oneof![
                8 => Just("<"),
                1 => Just(""),
                1 => Just("<@a.example:"),
                1 => Just("<@a,@[192.0.2.1]:"),
                1 => Just("<@a,b:"),
            ],
            local_part(),
            prop_oneof![12 => Just("@"), 1 => Just("")],
            domain_text(),
            prop_oneof![12 => Just(">"), 1 => Just(""), 1 => Just("> ")],
            parameters(),
            proptest::option::weighted(0.1, (any::<proptest::sample::Index>(), any::<u8>())),
        )
            .prop_map(
                |(verb, open, local, at, domain, close, parameters, noise)| {
                    let mut line = if verb == "EHLO " {
                        format!("{verb}{domain}{parameters}")
                    } else {
                        format!("{verb}{open}{local}{at}{domain}{close}{parameters}")
                    }
                    .into_bytes();
                    if let Some((index, byte)) = noise {
                        line.insert(index.index(line.len() + 1), byte);
                    }
                    line
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4_000))]

        /// The hand-written parser gives the nom parser's verdict, value or error, on any line.
        #[test]
        fn agrees_with_reference(line in line()) {
            proptest::prop_assert_eq!(
                command(&line),
                reference::command(&line),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }

        #[test]
        fn agrees_with_reference_on_envelopes(line in envelope_line()) {
            proptest::prop_assert_eq!(
                command(&line),
                reference::command(&line),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
            let address = line.get(9..).unwrap_or_default();
            proptest::prop_assert_eq!(mailbox_text(address), reference::mailbox_text(address));
        }
    }

    #[test]
    fn agrees_with_reference_on_known_lines() {
        let long_local = "a".repeat(64);
        let long_domain = format!("{}.example", "d".repeat(240));
        let lines = [
            "RCPT TO:<\"a>b\"@example.org>".to_string(),
            format!("RCPT TO:<\"{}>\"@{}>", "q".repeat(40), long_domain),
            format!("RCPT TO:<{long_local}@{long_domain}>"),
            format!("MAIL FROM:<{long_local}@[IPv6:2001:db8::1]> SIZE=1"),
            format!("EHLO {long_domain}"),
            format!("EHLO {}.{long_domain}", "e".repeat(20)),
            "MAIL FROM:<a@b> SIZE=1 SIZE=x".into(),
            "MAIL FROM:<a@b> FOO=1 =bad".into(),
            "MAIL FROM:<a@b> SIZE=18446744073709551615".into(),
            "MAIL FROM:<a@b> SIZE=18446744073709551616".into(),
            "MAIL FROM:<a@b> AUTH=<>".into(),
            "MAIL FROM:<a@b>SIZE=1".into(),
            "MAIL  FROM:<a@b>".into(),
            "RCPT TO:<a@b> NOTIFY=success,,delay".into(),
            "RCPT TO:<a@b> NOTIFY=DELAY,DELAY".into(),
            "RCPT TO:<a@b> ORCPT=;x".into(),
            "RCPT TO:<a@b> ORCPT=rfc822;".into(),
            "RCPT TO:<@a,@[192.0.2.1]:b@c>".into(),
            "RCPT TO:<@a,b:c@d>".into(),
            "RCPT TO:<@a:@b:c@d>".into(),
            "BDAT 10LAST".into(),
            "BDAT 10 LAST ".into(),
            "BDAT 10 LASTX".into(),
            "AUTH PLAIN=".into(),
            "AUTH PLAIN  = ".into(),
            "VRFY  \t ".into(),
            "HELP".into(),
            "HELP \u{1}".into(),
        ];
        for line in lines {
            assert_eq!(
                command(line.as_bytes()),
                reference::command(line.as_bytes()),
                "{line}"
            );
        }
    }

    #[test]
    fn multi_line_replies_are_assembled() {
        let mut assembler = ReplyAssembler::new(10);
        assert_eq!(assembler.push(b"250-mail.example Hello").unwrap(), None);
        assert_eq!(assembler.push(b"250-PIPELINING").unwrap(), None);
        let reply = assembler.push(b"250 SIZE 1000").unwrap().unwrap();
        assert_eq!(
            reply.lines,
            ["mail.example Hello", "PIPELINING", "SIZE 1000"]
        );
        let reply = assembler.push(b"550 5.1.1 No such user").unwrap().unwrap();
        assert_eq!(reply.enhanced, EnhancedCode::new(5, 1, 1));
        assert_eq!(reply.lines, ["No such user"]);
        assert!(assembler.push(b"250-a").unwrap().is_none());
        assert!(matches!(
            assembler.push(b"251 b"),
            Err(ReplyError::CodeChanged { .. })
        ));
        assert!(reply_line(b"25").is_err());
        assert!(reply_line(b"600 x").is_err());
        assert_eq!(reply_line(b"220").unwrap().text, "");
        let mut short = ReplyAssembler::new(2);
        short.push(b"250-a").unwrap();
        short.push(b"250-b").unwrap();
        assert!(matches!(
            short.push(b"250 c"),
            Err(ReplyError::TooManyLines { limit: 2 })
        ));
    }
}
