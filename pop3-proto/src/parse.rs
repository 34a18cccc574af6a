//! Parsers for POP3 command lines (server side) and response lines (client side), named after
//! the ABNF rules of RFC 2449 section 3 and RFC 1939. They take one line without its CRLF;
//! line framing (with its length limit) is [`mail_session::line::LineReader`]'s job, and
//! multi-line bodies are [`mail_session::dot::DotUnstuffer`]'s.

use mail_session::sasl::Secret;
use nom::bytes::complete::{take_while1, take_while_m_n};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map_res, opt, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use thiserror::Error;

use crate::types::{Capability, Command, MessageNumber, ResponseCode, StatusLine};

/// Why a command line was refused. The messages are what the server sends after `-ERR`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An empty line.
    #[error("empty command")]
    Empty,
    /// A keyword this server does not know.
    #[error("unknown command")]
    Unknown,
    /// A known command with arguments of the wrong form.
    #[error("invalid arguments to {keyword}: {expected}")]
    Arguments {
        /// The command.
        keyword: &'static str,
        /// What the arguments should look like.
        expected: &'static str,
    },
}

/// Why a response line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The line starts with neither `+OK` nor `-ERR`.
    #[error("response is neither +OK nor -ERR: {line:?}")]
    Status {
        /// The line (lossily decoded, at most 100 characters).
        line: String,
    },
    /// A listing line of a multi-line answer is malformed.
    #[error("malformed listing line: {line:?}")]
    Listing {
        /// The line (lossily decoded, at most 100 characters).
        line: String,
    },
}

fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(100)]).into_owned()
}

/// `keyword = 3*4VCHAR` (letters and digits in practice).
fn keyword(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while_m_n(3, 4, |byte: u8| byte.is_ascii_alphanumeric()).parse(input)
}

/// `param = 1*VCHAR`; octets above 127 are let through so UTF-8 names reach the UTF8 check.
fn param(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|byte: u8| byte > b' ' && byte != 0x7f).parse(input)
}

/// A message number: `1*DIGIT`, not zero.
fn msg_number(input: &[u8]) -> IResult<&[u8], MessageNumber> {
    map_res(digit1, |digits: &[u8]| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse::<u32>().ok())
            .filter(|&number| number > 0)
            .ok_or(())
    })
    .parse(input)
}

fn count(input: &[u8]) -> IResult<&[u8], u32> {
    map_res(digit1, |digits: &[u8]| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse::<u32>().ok())
            .ok_or(())
    })
    .parse(input)
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// Parses one command line (without CRLF). Keywords are matched without regard to case;
/// trailing spaces are ignored except in `PASS`, whose argument is the rest of the line.
pub fn command(line: &[u8]) -> Result<Command, CommandError> {
    if line.is_empty() {
        return Err(CommandError::Empty);
    }
    let (arguments, word) = keyword(line).map_err(|_| CommandError::Unknown)?;
    if !(arguments.is_empty() || arguments[0] == b' ') {
        return Err(CommandError::Unknown);
    }
    let upper = word.to_ascii_uppercase();
    if upper == b"PASS" {
        return match arguments.strip_prefix(b" ") {
            // Spaces belong to the password (RFC 1939 section 7); control characters never do.
            Some(password) if password.iter().any(|&b| b < b' ' || b == 0x7f) => {
                Err(CommandError::Arguments {
                    keyword: "PASS",
                    expected: "a password without control characters",
                })
            }
            Some(password) if !password.is_empty() => text(password)
                .map(|password| Command::Pass(Secret::new(password)))
                .ok_or(CommandError::Arguments {
                    keyword: "PASS",
                    expected: "a UTF-8 password",
                }),
            _ => Err(CommandError::Arguments {
                keyword: "PASS",
                expected: "PASS password",
            }),
        };
    }
    let arguments = arguments.trim_ascii_end();
    let bad = |keyword, expected| CommandError::Arguments { keyword, expected };
    let none = |keyword, command: Command| {
        if arguments.is_empty() {
            Ok(command)
        } else {
            Err(bad(keyword, "no arguments"))
        }
    };
    let optional_number = |keyword| {
        all_consuming(opt(preceded(char(' '), msg_number)))
            .parse(arguments)
            .map(|(_, number)| number)
            .map_err(|_| bad(keyword, "an optional message number"))
    };
    let one_number = |keyword| {
        all_consuming(preceded(char(' '), msg_number))
            .parse(arguments)
            .map(|(_, number)| number)
            .map_err(|_| bad(keyword, "a message number"))
    };
    match upper.as_slice() {
        b"USER" => all_consuming(preceded(char(' '), param))
            .parse(arguments)
            .ok()
            .and_then(|(_, name)| text(name))
            .map(Command::User)
            .ok_or(bad("USER", "USER name")),
        b"APOP" => all_consuming((preceded(char(' '), param), preceded(char(' '), param)))
            .parse(arguments)
            .ok()
            .and_then(|(_, (name, digest))| {
                let digest_ok = digest.len() == 32 && digest.iter().all(u8::is_ascii_hexdigit);
                Some(Command::Apop {
                    name: text(name)?,
                    digest: digest_ok.then(|| String::from_utf8_lossy(digest).to_lowercase())?,
                })
            })
            .ok_or(bad("APOP", "APOP name digest (32 hex digits)")),
        b"AUTH" => all_consuming(opt((
            preceded(char(' '), param),
            opt(preceded(char(' '), param)),
        )))
        .parse(arguments)
        .ok()
        .and_then(|(_, parts)| match parts {
            None => Some(Command::Auth {
                mechanism: None,
                initial_response: None,
            }),
            Some((mechanism, response)) => Some(Command::Auth {
                mechanism: Some(text(mechanism)?),
                initial_response: match response {
                    Some(response) => Some(Secret::new(text(response)?)),
                    None => None,
                },
            }),
        })
        .ok_or(bad("AUTH", "AUTH [mechanism [initial-response]]")),
        b"STLS" => none("STLS", Command::Stls),
        b"CAPA" => none("CAPA", Command::Capa),
        b"UTF8" => none("UTF8", Command::Utf8),
        b"STAT" => none("STAT", Command::Stat),
        b"NOOP" => none("NOOP", Command::Noop),
        b"RSET" => none("RSET", Command::Rset),
        b"QUIT" => none("QUIT", Command::Quit),
        b"LIST" => optional_number("LIST").map(Command::List),
        b"UIDL" => optional_number("UIDL").map(Command::Uidl),
        b"RETR" => one_number("RETR").map(Command::Retr),
        b"DELE" => one_number("DELE").map(Command::Dele),
        b"TOP" => all_consuming((preceded(char(' '), msg_number), preceded(char(' '), count)))
            .parse(arguments)
            .map(|(_, (message, lines))| Command::Top { message, lines })
            .map_err(|_| bad("TOP", "TOP message lines")),
        _ => Err(CommandError::Unknown),
    }
}

/// `resp-code = "[" resp-level *("/" resp-level) "]"`, at the start of `text`.
fn resp_code(text: &str) -> Option<(ResponseCode, &str)> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    let code = &inner[..end];
    let valid = !code.is_empty()
        && code.split('/').all(|level| {
            !level.is_empty() && level.bytes().all(|b| b > b' ' && b < 0x7f && b != b']')
        });
    valid.then(|| (ResponseCode::from_text(code), inner[end + 1..].trim_start()))
}

/// `single-line = status [SP text]` (also the greeting). Tolerates a missing space and a bare
/// `+OK`/`-ERR`, as servers send them.
pub fn status_line(line: &[u8]) -> Result<StatusLine, ResponseError> {
    let (ok, after) = if let Some(after) = strip_prefix_ignore_case(line, b"+OK") {
        (true, after)
    } else if let Some(after) = strip_prefix_ignore_case(line, b"-ERR") {
        (false, after)
    } else {
        return Err(ResponseError::Status {
            line: excerpt(line),
        });
    };
    let text_part = String::from_utf8_lossy(after.strip_prefix(b" ").unwrap_or(after)).into_owned();
    Ok(match resp_code(&text_part) {
        Some((code, rest)) => StatusLine {
            ok,
            code: Some(code),
            text: rest.to_string(),
        },
        None => StatusLine {
            ok,
            code: None,
            text: text_part,
        },
    })
}

fn strip_prefix_ignore_case<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &line[prefix.len()..])
}

/// `capability = capa-tag *(SP param)`, one line of a CAPA answer.
pub fn capability(line: &[u8]) -> Capability {
    let text = String::from_utf8_lossy(line).trim().to_string();
    let mut words = text.split_ascii_whitespace();
    let tag = words.next().unwrap_or("").to_ascii_uppercase();
    let rest: Vec<&str> = words.collect();
    match (tag.as_str(), rest.as_slice()) {
        ("TOP", []) => Capability::Top,
        ("USER", []) => Capability::User,
        ("SASL", mechanisms) => {
            Capability::Sasl(mechanisms.iter().map(|m| m.to_string()).collect())
        }
        ("RESP-CODES", []) => Capability::RespCodes,
        ("AUTH-RESP-CODE", []) => Capability::AuthRespCode,
        ("LOGIN-DELAY", [seconds]) => match seconds.parse() {
            Ok(seconds) => Capability::LoginDelay(seconds),
            Err(_) => Capability::Other(text.clone()),
        },
        ("PIPELINING", []) => Capability::Pipelining,
        ("EXPIRE", [policy, ..]) => Capability::Expire(policy.to_string()),
        ("UIDL", []) => Capability::Uidl,
        ("IMPLEMENTATION", _) => {
            Capability::Implementation(text["IMPLEMENTATION".len()..].trim().to_string())
        }
        ("STLS", []) => Capability::Stls,
        ("UTF8", []) => Capability::Utf8 { user: false },
        ("UTF8", [user]) if user.eq_ignore_ascii_case("USER") => Capability::Utf8 { user: true },
        _ => Capability::Other(text.clone()),
    }
}

/// `scan-listing = msg SP size` (a LIST line, or the text of `+OK` to `LIST n`).
pub fn scan_listing(line: &[u8]) -> Result<(MessageNumber, u64), ResponseError> {
    let parsed: IResult<&[u8], (MessageNumber, &[u8])> =
        (msg_number, preceded(char(' '), digit1)).parse(line.trim_ascii());
    parsed
        .ok()
        .and_then(|(_, (number, size))| {
            Some((number, std::str::from_utf8(size).ok()?.parse().ok()?))
        })
        .ok_or_else(|| ResponseError::Listing {
            line: excerpt(line),
        })
}

/// `drop-listing = count SP size` (the text of `+OK` to STAT; the count may be 0).
pub fn drop_listing(text: &[u8]) -> Result<(u32, u64), ResponseError> {
    let parsed: IResult<&[u8], (u32, &[u8])> =
        (count, preceded(char(' '), digit1)).parse(text.trim_ascii());
    parsed
        .ok()
        .and_then(|(_, (messages, size))| {
            Some((messages, std::str::from_utf8(size).ok()?.parse().ok()?))
        })
        .ok_or_else(|| ResponseError::Listing {
            line: excerpt(text),
        })
}

/// `unique-id-listing = msg SP unique-id`, `unique-id = 1*70 %x21-7E` (RFC 1939 UIDL).
pub fn unique_id_listing(line: &[u8]) -> Result<(MessageNumber, String), ResponseError> {
    let parsed: IResult<&[u8], (MessageNumber, &[u8])> =
        (msg_number, preceded(char(' '), rest)).parse(line.trim_ascii());
    parsed
        .ok()
        .and_then(|(_, (number, id))| {
            let valid =
                !id.is_empty() && id.len() <= 70 && id.iter().all(|b| (0x21..=0x7e).contains(b));
            valid.then(|| (number, String::from_utf8_lossy(id).into_owned()))
        })
        .ok_or_else(|| ResponseError::Listing {
            line: excerpt(line),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_commands_parse() {
        let cases: Vec<(&[u8], Command)> = vec![
            (b"USER mrose", Command::User("mrose".into())),
            (
                b"pass secret with spaces ",
                Command::Pass(Secret::new("secret with spaces ")),
            ),
            (
                b"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
                Command::Apop {
                    name: "mrose".into(),
                    digest: "c4c9334bac560ecc979e58001b3e22fb".into(),
                },
            ),
            (b"STAT", Command::Stat),
            (b"LIST", Command::List(None)),
            (b"list 2", Command::List(Some(2))),
            (b"RETR 1", Command::Retr(1)),
            (b"DELE 1", Command::Dele(1)),
            (b"NOOP", Command::Noop),
            (b"RSET", Command::Rset),
            (b"QUIT", Command::Quit),
            (
                b"TOP 1 10",
                Command::Top {
                    message: 1,
                    lines: 10,
                },
            ),
            (
                b"TOP 1 0",
                Command::Top {
                    message: 1,
                    lines: 0,
                },
            ),
            (b"UIDL", Command::Uidl(None)),
            (b"UIDL 3", Command::Uidl(Some(3))),
            (b"CAPA", Command::Capa),
            (b"STLS", Command::Stls),
            (b"UTF8", Command::Utf8),
            (b"STAT  ", Command::Stat),
            (
                b"AUTH",
                Command::Auth {
                    mechanism: None,
                    initial_response: None,
                },
            ),
            (
                b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=",
                Command::Auth {
                    mechanism: Some("PLAIN".into()),
                    initial_response: Some(Secret::new("dGVzdAB0ZXN0AHRlc3Q=")),
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(
                command(line),
                Ok(expected),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn malformed_commands_are_refused_with_a_reason() {
        for (line, error) in [
            (&b""[..], CommandError::Empty),
            (b"XYZZY", CommandError::Unknown),
            (b"RETRX 1", CommandError::Unknown),
            (b"\0\0\0\0", CommandError::Unknown),
        ] {
            assert_eq!(command(line), Err(error));
        }
        for line in [
            &b"RETR"[..],
            b"RETR 0",
            b"RETR -1",
            b"RETR 1 2",
            b"RETR 99999999999",
            b"LIST a",
            b"TOP 1",
            b"STAT 1",
            b"USER",
            b"PASS",
            b"PASS a\rb",
            b"PASS \0",
            b"APOP name nothex",
            b"DELE 1x",
        ] {
            assert!(
                matches!(command(line), Err(CommandError::Arguments { .. })),
                "{} was accepted",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn status_lines_with_codes_and_timestamps() {
        let greeting =
            status_line(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>").unwrap();
        assert!(greeting.ok);
        assert_eq!(
            greeting.timestamp(),
            Some("<1896.697170952@dbc.mtview.ca.us>")
        );
        let in_use =
            status_line(b"-ERR [IN-USE] Do you have another POP session running?").unwrap();
        assert_eq!(in_use.code, Some(ResponseCode::InUse));
        assert_eq!(in_use.text, "Do you have another POP session running?");
        let temp = status_line(b"-ERR [SYS/TEMP] try later").unwrap();
        assert_eq!(temp.code, Some(ResponseCode::SysTemp));
        assert_eq!(status_line(b"+OK").unwrap(), StatusLine::ok(""));
        assert!(status_line(b"* OK imap").is_err());
        let not_code = status_line(b"-ERR [not a code").unwrap();
        assert_eq!(not_code.code, None);
    }

    #[test]
    fn listings_and_capabilities() {
        assert_eq!(scan_listing(b"2 200"), Ok((2, 200)));
        assert!(scan_listing(b"0 0").is_err(), "message numbers start at 1");
        assert_eq!(drop_listing(b"0 0"), Ok((0, 0)), "an empty maildrop");
        assert_eq!(
            drop_listing(b"2 320 octets"),
            Ok((2, 320)),
            "text after the numbers is allowed"
        );
        assert!(drop_listing(b"two 320").is_err());
        assert!(scan_listing(b"2").is_err());
        assert_eq!(
            unique_id_listing(b"1 whqtswO00WBw418f9t5JxYwZ"),
            Ok((1, "whqtswO00WBw418f9t5JxYwZ".into()))
        );
        assert!(unique_id_listing(b"1 has space").is_err());
        assert_eq!(
            capability(b"SASL PLAIN LOGIN"),
            Capability::Sasl(vec!["PLAIN".into(), "LOGIN".into()])
        );
        assert_eq!(capability(b"LOGIN-DELAY 900"), Capability::LoginDelay(900));
        assert_eq!(capability(b"UTF8 USER"), Capability::Utf8 { user: true });
        assert_eq!(
            capability(b"X-FOO bar"),
            Capability::Other("X-FOO bar".into())
        );
    }
}
