//! Parse errors: what was expected and where.

use nom::error::{ContextError, ErrorKind, FromExternalError};
use thiserror::Error;

/// What was wrong with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The grammar expected something else here.
    #[error("expected {expected}")]
    Syntax {
        /// The ABNF rule (or keyword) that was expected.
        expected: &'static str,
    },
    /// Parentheses nested deeper than the limit (body structure, search keys, lists).
    #[error("nesting deeper than {limit}")]
    NestingTooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// A literal that was streamed (too large to hold) where the grammar needs its value.
    #[error("literal too large for this position")]
    StreamedLiteral,
    /// Octets after the end of the message.
    #[error("unexpected octets after the end")]
    Trailing,
}

/// A message that does not match the grammar: what and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} at octet {offset}: {found:?}")]
pub struct ParseError {
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// Octet offset in the message (as [`crate::framing::Framer::message`] holds it).
    pub offset: usize,
    /// Up to 32 octets from `offset`, lossily decoded, for logs.
    pub found: String,
}

impl ParseError {
    pub(crate) fn at(message: &[u8], rest: &[u8], kind: ParseErrorKind) -> Self {
        let offset = message.len().saturating_sub(rest.len());
        let found = rest.get(..rest.len().min(32)).unwrap_or_default();
        ParseError {
            kind,
            offset,
            found: String::from_utf8_lossy(found).into_owned(),
        }
    }
}

/// The nom error type of this crate's parsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) kind: ParseErrorKind,
}

const GENERIC: ParseErrorKind = ParseErrorKind::Syntax {
    expected: "valid syntax",
};

impl<'a> Failure<'a> {
    pub(crate) fn new(input: &'a [u8], kind: ParseErrorKind) -> Self {
        Failure { input, kind }
    }

    pub(crate) fn expected(input: &'a [u8], expected: &'static str) -> Self {
        Failure {
            input,
            kind: ParseErrorKind::Syntax { expected },
        }
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for Failure<'a> {
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        Failure {
            input,
            kind: GENERIC,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Keep the alternative that got furthest: its complaint is the most precise.
        if other.input.len() <= self.input.len() {
            other
        } else {
            self
        }
    }
}

impl<'a> ContextError<&'a [u8]> for Failure<'a> {
    fn add_context(_input: &'a [u8], context: &'static str, mut other: Self) -> Self {
        if other.kind == GENERIC {
            other.kind = ParseErrorKind::Syntax { expected: context };
        }
        other
    }
}

impl<'a, E> FromExternalError<&'a [u8], E> for Failure<'a> {
    fn from_external_error(input: &'a [u8], _kind: ErrorKind, _error: E) -> Self {
        Failure {
            input,
            kind: GENERIC,
        }
    }
}

/// The result of this crate's parsers.
pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, Failure<'a>>;

/// Turns a nom outcome on a complete message into a [`ParseError`].
pub(crate) fn finish<'a, T>(message: &'a [u8], result: PResult<'a, T>) -> Result<T, ParseError> {
    match result {
        Ok((b"", value)) => Ok(value),
        Ok((rest, _)) => Err(ParseError::at(message, rest, ParseErrorKind::Trailing)),
        Err(nom::Err::Error(failure) | nom::Err::Failure(failure)) => {
            Err(ParseError::at(message, failure.input, failure.kind))
        }
        Err(nom::Err::Incomplete(_)) => Err(ParseError::at(
            message,
            &[],
            ParseErrorKind::Syntax {
                expected: "more input",
            },
        )),
    }
}
