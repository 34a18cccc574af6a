//! The command parser as it was before the hand-written one in [`super`]: nom combinators
//! following the ABNF rules one by one. Kept for tests only, as the reference whose verdicts the
//! fast parser must reproduce on any input (`parse::tests::agrees_with_reference`).

use mail_session::sasl::Secret;
use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map, map_res, opt};
use nom::multi::{separated_list0, separated_list1};
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

use super::CommandError;
use crate::types::{
    is_atext, BodyType, Command, Domain, DsnNotify, DsnReturn, ForwardPath, LocalPart,
    MailParameters, Mailbox, OriginalRecipient, RcptParameters, ReversePath, XText,
};

/// A short keyword upper-cased on the stack (verbs, parameter keywords and values): matching
/// without an allocation per command. Longer words become empty, which matches nothing.
struct Upper {
    bytes: [u8; 16],
    len: usize,
}

impl Upper {
    fn of(word: &[u8]) -> Upper {
        let mut bytes = [0u8; 16];
        if word.len() > bytes.len() {
            return Upper { bytes, len: 0 };
        }
        for (slot, byte) in bytes.iter_mut().zip(word) {
            *slot = byte.to_ascii_uppercase();
        }
        Upper {
            bytes,
            len: word.len(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(100)]).into_owned()
}

// ----- paths (RFC 5321 section 4.1.2) -----

/// `Dot-string = Atom *("."  Atom)`: one scan, then the dots checked.
fn dot_string(input: &[u8]) -> IResult<&[u8], String> {
    let end = input
        .iter()
        .position(|&byte| !(is_atext(byte) || byte == b'.'))
        .unwrap_or(input.len());
    let text = &input[..end];
    let well_formed = !text.is_empty()
        && text.first() != Some(&b'.')
        && text.last() != Some(&b'.')
        && memchr::memmem::find(text, b"..").is_none();
    match std::str::from_utf8(text) {
        Ok(text) if well_formed => Ok((&input[end..], text.to_string())),
        _ => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`, returned without quotes and escapes.
fn quoted_string(input: &[u8]) -> IResult<&[u8], String> {
    let (mut rest, _) = char('"').parse(input)?;
    let mut content = Vec::new();
    loop {
        match rest {
            [b'"', after @ ..] => {
                let text = String::from_utf8(content).map_err(|_| {
                    nom::Err::Error(nom::error::Error::new(rest, nom::error::ErrorKind::Char))
                })?;
                return Ok((after, text));
            }
            // quoted-pairSMTP = %d92 %d32-126
            [b'\\', escaped @ 32..=126, after @ ..] => {
                content.push(*escaped);
                rest = after;
            }
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126, and UTF-8 (RFC 6531)
            [byte @ (32..=33 | 35..=91 | 93..=126 | 0x80..), after @ ..] => {
                content.push(*byte);
                rest = after;
            }
            _ => {
                return Err(nom::Err::Error(nom::error::Error::new(
                    rest,
                    nom::error::ErrorKind::Char,
                )))
            }
        }
    }
}

fn local_part(input: &[u8]) -> IResult<&[u8], LocalPart> {
    map_res(alt((dot_string, quoted_string)), |text: String| {
        if text.len() > LocalPart::MAX_LENGTH {
            return Err(());
        }
        LocalPart::from_text(text).map_err(|_| ())
    })
    .parse(input)
}

/// `Domain = sub-domain *("." sub-domain)`
fn domain_name(input: &[u8]) -> IResult<&[u8], Domain> {
    map_res(
        take_while1(|byte: u8| {
            byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.' || byte >= 0x80
        }),
        |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map_err(|_| ())
                .and_then(|text| Domain::name(text).map_err(|_| ()))
        },
    )
    .parse(input)
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"`
fn address_literal(input: &[u8]) -> IResult<&[u8], Domain> {
    map_res(
        delimited(
            char('['),
            take_while1(|byte: u8| matches!(byte, 33..=90 | 94..=126)),
            char(']'),
        ),
        |bytes: &[u8]| {
            std::str::from_utf8(bytes)
                .map_err(|_| ())
                .and_then(|text| Domain::literal(text).map_err(|_| ()))
        },
    )
    .parse(input)
}

fn domain(input: &[u8]) -> IResult<&[u8], Domain> {
    alt((address_literal, domain_name)).parse(input)
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
fn mailbox(input: &[u8]) -> IResult<&[u8], Mailbox> {
    map(
        (local_part, char('@'), domain),
        |(local_part, _, domain)| Mailbox { local_part, domain },
    )
    .parse(input)
}

/// Parses a whole `local@domain` text.
pub(crate) fn mailbox_text(input: &[u8]) -> Option<Mailbox> {
    all_consuming(mailbox)
        .parse(input)
        .ok()
        .map(|(_, mailbox)| mailbox)
}

/// `A-d-l = At-domain *( "," At-domain )` followed by `":"`: a source route, dropped.
fn source_route(input: &[u8]) -> IResult<&[u8], ()> {
    map(
        terminated(
            separated_list1(char(','), preceded(char('@'), domain)),
            char(':'),
        ),
        |_| (),
    )
    .parse(input)
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`
fn path(input: &[u8]) -> IResult<&[u8], Mailbox> {
    delimited(char('<'), preceded(opt(source_route), mailbox), char('>')).parse(input)
}

/// The longest path (RFC 5321 section 4.5.3.1.3), angle brackets included.
const MAX_PATH_LENGTH: usize = 256;

fn path_within_limit(input: &[u8]) -> bool {
    let end = memchr::memchr(b'>', input).map_or(input.len(), |end| end + 1);
    end <= MAX_PATH_LENGTH
}

/// `Reverse-path = Path / "<>"`
fn reverse_path(input: &[u8]) -> IResult<&[u8], ReversePath> {
    alt((
        map(tag("<>"), |_| ReversePath::Null),
        map(path, ReversePath::Mailbox),
    ))
    .parse(input)
}

/// `"<Postmaster>" / Forward-path`
fn forward_path(input: &[u8]) -> IResult<&[u8], ForwardPath> {
    alt((
        map(tag_no_case("<Postmaster>"), |_| ForwardPath::Postmaster),
        map(path, ForwardPath::Mailbox),
    ))
    .parse(input)
}

// ----- parameters -----

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]`; `esmtp-value = 1*(%d33-60 / %d62-126)`
/// (and UTF-8 under SMTPUTF8, RFC 6531 section 3.3).
/// An `esmtp-keyword` and its value, if any, as received.
type EsmtpParam<'a> = (&'a [u8], Option<&'a [u8]>);

fn esmtp_param(input: &[u8]) -> IResult<&[u8], EsmtpParam<'_>> {
    (
        take_while1(|byte: u8| byte.is_ascii_alphanumeric() || byte == b'-'),
        opt(preceded(
            char('='),
            take_while1(|byte: u8| matches!(byte, 33..=60 | 62..=126) || byte >= 0x80),
        )),
    )
        .parse(input)
}

fn esmtp_params(input: &[u8]) -> IResult<&[u8], Vec<EsmtpParam<'_>>> {
    map(
        opt(preceded(
            take_while1(|byte| byte == b' '),
            separated_list0(take_while1(|byte| byte == b' '), esmtp_param),
        )),
        Option::unwrap_or_default,
    )
    .parse(input)
}

fn ascii(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value)
        .ok()
        .filter(|text| text.is_ascii())
}

fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    ascii(value)?.parse().ok()
}

fn mail_parameters(params: Vec<EsmtpParam<'_>>) -> Result<MailParameters, CommandError> {
    let mut parameters = MailParameters::default();
    for (keyword, value) in params {
        let refuse = || CommandError::Parameter {
            verb: "MAIL",
            parameter: excerpt(&keyword[..keyword.len().min(64)]),
        };
        let upper = Upper::of(keyword);
        match (upper.as_slice(), value) {
            (b"SIZE", Some(value)) if parameters.size.is_none() => {
                parameters.size = Some(number(value).ok_or_else(refuse)?);
            }
            (b"BODY", Some(value)) if parameters.body.is_none() => {
                parameters.body = Some(match Upper::of(value).as_slice() {
                    b"7BIT" => BodyType::SevenBit,
                    b"8BITMIME" => BodyType::EightBitMime,
                    b"BINARYMIME" => BodyType::BinaryMime,
                    _ => return Err(refuse()),
                });
            }
            (b"SMTPUTF8", None) if !parameters.smtputf8 => parameters.smtputf8 = true,
            (b"RET", Some(value)) if parameters.ret.is_none() => {
                parameters.ret = Some(match Upper::of(value).as_slice() {
                    b"FULL" => DsnReturn::Full,
                    b"HDRS" => DsnReturn::Headers,
                    _ => return Err(refuse()),
                });
            }
            (b"ENVID", Some(value)) if parameters.envid.is_none() && value.len() <= 100 => {
                let text = ascii(value).ok_or_else(refuse)?;
                parameters.envid = Some(XText::try_from(text).map_err(|_| refuse())?);
            }
            (b"AUTH", Some(value)) if parameters.auth.is_none() => {
                parameters.auth = Some(if value == b"<>" {
                    None
                } else {
                    let text = ascii(value).ok_or_else(refuse)?;
                    Some(XText::try_from(text).map_err(|_| refuse())?)
                });
            }
            _ => return Err(refuse()),
        }
    }
    Ok(parameters)
}

fn rcpt_parameters(params: Vec<EsmtpParam<'_>>) -> Result<RcptParameters, CommandError> {
    let mut parameters = RcptParameters::default();
    for (keyword, value) in params {
        let refuse = || CommandError::Parameter {
            verb: "RCPT",
            parameter: excerpt(&keyword[..keyword.len().min(64)]),
        };
        let upper = Upper::of(keyword);
        match (upper.as_slice(), value) {
            (b"NOTIFY", Some(value)) if parameters.notify.is_none() => {
                let text = ascii(value).ok_or_else(refuse)?.to_ascii_uppercase();
                let mut notify = DsnNotify::default();
                if text != "NEVER" {
                    for part in text.split(',') {
                        match part {
                            "SUCCESS" if !notify.success => notify.success = true,
                            "FAILURE" if !notify.failure => notify.failure = true,
                            "DELAY" if !notify.delay => notify.delay = true,
                            _ => return Err(refuse()),
                        }
                    }
                }
                parameters.notify = Some(notify);
            }
            (b"ORCPT", Some(value)) if parameters.orcpt.is_none() && value.len() <= 500 => {
                let text = ascii(value).ok_or_else(refuse)?;
                let (address_type, address) = text.split_once(';').ok_or_else(refuse)?;
                if address_type.is_empty()
                    || !address_type
                        .bytes()
                        .all(|byte| is_atext(byte) && byte < 0x80)
                {
                    return Err(refuse());
                }
                parameters.orcpt = Some(OriginalRecipient {
                    address_type: address_type.to_string(),
                    address: XText::try_from(address).map_err(|_| refuse())?,
                });
            }
            _ => return Err(refuse()),
        }
    }
    Ok(parameters)
}

// ----- commands -----

fn spaces(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|byte| byte == b' ').parse(input)
}

fn text_argument(rest: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(rest).ok()?.trim_matches(' ');
    (!text.is_empty() && !text.bytes().any(|byte| byte < b' ' && byte != b'\t'))
        .then(|| text.to_string())
}

/// Parses one command line (without CRLF), as `super::command` did before.
pub(crate) fn command(line: &[u8]) -> Result<Command, CommandError> {
    let verb_end = memchr::memchr(b' ', line).unwrap_or(line.len());
    let (verb, rest) = line.split_at(verb_end);
    let verb = Upper::of(verb);
    match verb.as_slice() {
        b"EHLO" | b"HELO" => {
            let name = if verb.as_slice() == b"EHLO" {
                "EHLO"
            } else {
                "HELO"
            };
            let parsed = all_consuming(delimited(spaces, domain, take_while(|byte| byte == b' ')))
                .parse(rest)
                .map(|(_, domain)| domain)
                .map_err(|_| CommandError::Arguments {
                    verb: name,
                    expected: "a domain name or address literal",
                })?;
            Ok(if name == "EHLO" {
                Command::Ehlo(parsed)
            } else {
                Command::Helo(parsed)
            })
        }
        b"MAIL" => {
            let mut arguments = preceded(
                (
                    tag(" "),
                    tag_no_case("FROM:"),
                    take_while(|byte| byte == b' '),
                ),
                rest_of_line,
            );
            let (_, after) = arguments.parse(rest).map_err(|_| CommandError::Arguments {
                verb: "MAIL",
                expected: "FROM:<address> [parameters]",
            })?;
            if !path_within_limit(after) {
                return Err(CommandError::SenderAddress);
            }
            let (params_text, from) =
                reverse_path(after).map_err(|_| CommandError::SenderAddress)?;
            let (_, params) = all_consuming(terminated(esmtp_params, take_while(|b| b == b' ')))
                .parse(params_text)
                .map_err(|_| CommandError::Arguments {
                    verb: "MAIL",
                    expected: "parameters of the form KEYWORD[=value]",
                })?;
            Ok(Command::Mail {
                from,
                parameters: mail_parameters(params)?,
            })
        }
        b"RCPT" => {
            let mut arguments = preceded(
                (
                    tag(" "),
                    tag_no_case("TO:"),
                    take_while(|byte| byte == b' '),
                ),
                rest_of_line,
            );
            let (_, after) = arguments.parse(rest).map_err(|_| CommandError::Arguments {
                verb: "RCPT",
                expected: "TO:<address> [parameters]",
            })?;
            if !path_within_limit(after) {
                return Err(CommandError::RecipientAddress);
            }
            let (params_text, to) =
                forward_path(after).map_err(|_| CommandError::RecipientAddress)?;
            let (_, params) = all_consuming(terminated(esmtp_params, take_while(|b| b == b' ')))
                .parse(params_text)
                .map_err(|_| CommandError::Arguments {
                    verb: "RCPT",
                    expected: "parameters of the form KEYWORD[=value]",
                })?;
            Ok(Command::Rcpt {
                to,
                parameters: rcpt_parameters(params)?,
            })
        }
        b"BDAT" => {
            let parsed = all_consuming((
                spaces,
                digit1,
                opt(preceded(spaces, tag_no_case("LAST"))),
                take_while(|byte| byte == b' '),
            ))
            .parse(rest)
            .ok()
            .and_then(|(_, (_, digits, last, _))| Some((number(digits)?, last.is_some())));
            let (size, last) = parsed.ok_or(CommandError::Arguments {
                verb: "BDAT",
                expected: "chunk-size [LAST]",
            })?;
            Ok(Command::Bdat { size, last })
        }
        b"AUTH" => {
            let parsed = all_consuming((
                spaces,
                take_while1(|byte: u8| {
                    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
                }),
                opt(preceded(
                    spaces,
                    take_while1(|byte: u8| {
                        byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
                    }),
                )),
                take_while(|byte| byte == b' '),
            ))
            .parse(rest)
            .ok();
            let Some((_, (_, mechanism, response, _))) = parsed else {
                return Err(CommandError::Arguments {
                    verb: "AUTH",
                    expected: "mechanism [initial-response]",
                });
            };
            Ok(Command::Auth {
                mechanism: String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
                initial_response: response
                    .map(|response| Secret::new(String::from_utf8_lossy(response).into_owned())),
            })
        }
        b"VRFY" => text_argument(rest)
            .map(Command::Vrfy)
            .ok_or(CommandError::Arguments {
                verb: "VRFY",
                expected: "a name or address",
            }),
        b"HELP" => Ok(Command::Help(text_argument(rest))),
        // NOOP may carry a string, which is ignored (RFC 5321 section 4.1.1.9).
        b"NOOP" => Ok(Command::Noop),
        b"DATA" | b"RSET" | b"QUIT" | b"STARTTLS" => {
            if !rest.iter().all(|&byte| byte == b' ') {
                let verb = match verb.as_slice() {
                    b"DATA" => "DATA",
                    b"RSET" => "RSET",
                    b"QUIT" => "QUIT",
                    _ => "STARTTLS",
                };
                return Err(CommandError::Arguments {
                    verb,
                    expected: "no arguments",
                });
            }
            Ok(match verb.as_slice() {
                b"DATA" => Command::Data,
                b"RSET" => Command::Rset,
                b"QUIT" => Command::Quit,
                _ => Command::StartTls,
            })
        }
        _ => Err(CommandError::Unknown),
    }
}

fn rest_of_line(input: &[u8]) -> IResult<&[u8], &[u8]> {
    Ok((&input[input.len()..], input))
}
