//! Lexical rules shared by commands and responses (RFC 3501 section 9).

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{map, value};
use nom::Parser;

use super::error::{Failure, PResult, ParseErrorKind};
use crate::types::{
    is_astring_char, is_atom_char, Atom, Date, DateTime, IString, NString, NonZero, Payload,
    SeqNumber, Sequence, SequenceSet, Tag, MONTHS,
};

/// A literal's value in a message: inline, or streamed past the parser.
pub(crate) enum LiteralValue<'a> {
    Inline(&'a [u8]),
    Streamed(u64),
}

fn fail<'a, T>(input: &'a [u8], expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(Failure::expected(input, expected)))
}

/// `SP`.
pub(crate) fn sp(input: &[u8]) -> PResult<'_, ()> {
    match input.split_first() {
        Some((b' ', rest)) => Ok((rest, ())),
        _ => fail(input, "SP"),
    }
}

/// `nil = "NIL"`.
pub(crate) fn nil(input: &[u8]) -> PResult<'_, ()> {
    match input.get(..3) {
        Some(word) if word.eq_ignore_ascii_case(b"NIL") => {
            Ok((input.get(3..).unwrap_or_default(), ()))
        }
        _ => fail(input, "NIL"),
    }
}

/// `number = 1*DIGIT` (32 bits).
pub(crate) fn number(input: &[u8]) -> PResult<'_, u32> {
    let (rest, digits) = digit1(input)?;
    match parse_decimal(digits).and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok((rest, n)),
        None => fail(input, "number (32 bits)"),
    }
}

/// `number64 = 1*DIGIT` (63 bits, RFC 9051).
pub(crate) fn number64(input: &[u8]) -> PResult<'_, u64> {
    let (rest, digits) = digit1(input)?;
    match parse_decimal(digits).filter(|&n| n <= i64::MAX as u64) {
        Some(n) => Ok((rest, n)),
        None => fail(input, "number64"),
    }
}

/// `nz-number = digit-nz *DIGIT`.
pub(crate) fn nz_number(input: &[u8]) -> PResult<'_, NonZero> {
    let (rest, n) = number(input)?;
    match NonZero::new(n) {
        Some(n) => Ok((rest, n)),
        None => fail(input, "nz-number"),
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// `atom = 1*ATOM-CHAR`, borrowed.
pub(crate) fn atom_bytes(input: &[u8]) -> PResult<'_, &[u8]> {
    match take_while1::<_, _, Failure>(is_atom_char).parse(input) {
        Ok(done) => Ok(done),
        Err(_) => fail(input, "atom"),
    }
}

/// `atom = 1*ATOM-CHAR`.
pub(crate) fn atom(input: &[u8]) -> PResult<'_, Atom> {
    let (rest, bytes) = atom_bytes(input)?;
    match Atom::try_from(bytes) {
        Ok(atom) => Ok((rest, atom)),
        Err(_) => fail(input, "atom"),
    }
}

/// `tag = 1*<any ASTRING-CHAR except "+">`.
pub(crate) fn tag_rule(input: &[u8]) -> PResult<'_, Tag> {
    let (rest, bytes) = take_while(|b| is_astring_char(b) && b != b'+').parse(input)?;
    match Tag::try_from(bytes) {
        Ok(tag) => Ok((rest, tag)),
        Err(_) => fail(input, "tag"),
    }
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`; `QUOTED-CHAR = <any TEXT-CHAR except
/// quoted-specials> / "\" quoted-specials` (UTF-8 allowed, RFC 9051). CR, LF and NUL are
/// refused: they allowed forged responses elsewhere.
pub(crate) fn quoted(input: &[u8]) -> PResult<'_, Vec<u8>> {
    let Some(body) = input.strip_prefix(b"\"") else {
        return fail(input, "quoted string");
    };
    // Fast path: no escapes, one exact allocation. Quoted strings are short, so a plain
    // loop beats setting up a vectorised search.
    let stop = body
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | b'\r' | b'\n' | 0));
    match stop.map(|at| (at, body.get(at))) {
        Some((at, Some(b'"'))) => {
            let value = body.get(..at).unwrap_or_default().to_vec();
            Ok((body.get(at + 1..).unwrap_or_default(), value))
        }
        Some((at, Some(b'\\'))) => quoted_escaped(body, at),
        Some((at, _)) => fail(body.get(at..).unwrap_or_default(), "QUOTED-CHAR"),
        None => fail(body.get(body.len()..).unwrap_or_default(), "closing DQUOTE"),
    }
}

/// The rest of a quoted string from its first `\`, at `at` in `body`.
fn quoted_escaped(body: &[u8], at: usize) -> PResult<'_, Vec<u8>> {
    let mut out = Vec::with_capacity(body.len().min(at + 64));
    out.extend_from_slice(body.get(..at).unwrap_or_default());
    let mut rest = body.get(at..).unwrap_or_default();
    loop {
        match rest {
            [b'"', after @ ..] => return Ok((after, out)),
            [b'\\', escaped @ (b'"' | b'\\'), after @ ..] => {
                out.push(*escaped);
                rest = after;
            }
            [b'\\', ..] => return fail(rest, "quoted-specials after \\"),
            [0 | b'\r' | b'\n', ..] => return fail(rest, "QUOTED-CHAR"),
            [byte, after @ ..] => {
                out.push(*byte);
                rest = after;
            }
            [] => return fail(rest, "closing DQUOTE"),
        }
    }
}

/// `literal = "{" number64 ["+"] "}" CRLF *CHAR8`, and `literal8 = "~{" number64 "}" CRLF
/// *OCTET`, as the framer lays them out (a streamed literal is `{n}` NUL).
pub(crate) fn literal(input: &[u8]) -> PResult<'_, (LiteralValue<'_>, bool)> {
    let (after_tilde, binary) = match input.strip_prefix(b"~") {
        Some(rest) => (rest, true),
        None => (input, false),
    };
    let Some(rest) = after_tilde.strip_prefix(b"{") else {
        return fail(input, "literal");
    };
    let (rest, size) = number64(rest)?;
    let rest = rest.strip_prefix(b"+").unwrap_or(rest);
    let Some(rest) = rest.strip_prefix(b"}") else {
        return fail(rest, "} of a literal");
    };
    if let Some(rest) = rest.strip_prefix(b"\0") {
        return Ok((rest, (LiteralValue::Streamed(size), binary)));
    }
    let Some(rest) = rest.strip_prefix(b"\r\n") else {
        return fail(rest, "CRLF after a literal's announcement");
    };
    let Some(len) = usize::try_from(size).ok().filter(|&len| len <= rest.len()) else {
        return fail(rest, "the literal's announced octets");
    };
    let (data, rest) = rest.split_at(len);
    if !binary && memchr::memchr(0, data).is_some() {
        return Err(nom::Err::Failure(Failure::expected(
            data,
            "CHAR8 (NUL only in literal8)",
        )));
    }
    Ok((rest, (LiteralValue::Inline(data), binary)))
}

/// `string = quoted / literal`, whose value must be held.
pub(crate) fn string(input: &[u8]) -> PResult<'_, IString> {
    match input.first() {
        Some(b'"') => map(quoted, IString::from_trusted).parse(input),
        Some(b'{') => {
            let (rest, (value, _)) = literal(input)?;
            match value {
                LiteralValue::Inline(data) => Ok((rest, IString::from_trusted(data.to_vec()))),
                LiteralValue::Streamed(_) => Err(nom::Err::Failure(Failure::new(
                    input,
                    ParseErrorKind::StreamedLiteral,
                ))),
            }
        }
        _ => fail(input, "string"),
    }
}

/// `astring = 1*ASTRING-CHAR / string`.
pub(crate) fn astring(input: &[u8]) -> PResult<'_, IString> {
    match input.first() {
        Some(b'"' | b'{') => string(input),
        _ => {
            let (rest, bytes) = take_while(is_astring_char).parse(input)?;
            if bytes.is_empty() {
                return fail(input, "astring");
            }
            Ok((rest, IString::from_trusted(bytes.to_vec())))
        }
    }
}

/// `nstring = string / nil`.
pub(crate) fn nstring(input: &[u8]) -> PResult<'_, NString> {
    match input.first() {
        Some(b'N' | b'n') => value(None, nil).parse(input),
        _ => map(string, Some).parse(input),
    }
}

/// `nstring` or `literal8` whose value may have been streamed (message bodies).
pub(crate) fn nstring_payload(input: &[u8]) -> PResult<'_, Option<Payload>> {
    match input.first() {
        Some(b'N' | b'n') => value(None, nil).parse(input),
        Some(b'"') => map(quoted, |q| Some(Payload::Inline(q))).parse(input),
        _ => {
            let (rest, (value, _)) = literal(input)?;
            Ok((
                rest,
                Some(match value {
                    LiteralValue::Inline(data) => Payload::Inline(data.to_vec()),
                    LiteralValue::Streamed(size) => Payload::Streamed(size),
                }),
            ))
        }
    }
}

/// `seq-number = nz-number / "*"`.
fn seq_number(input: &[u8]) -> PResult<'_, SeqNumber> {
    match input.first() {
        Some(b'*') => Ok((input.get(1..).unwrap_or_default(), SeqNumber::Largest)),
        _ => map(nz_number, SeqNumber::Value).parse(input),
    }
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`.
pub(crate) fn sequence_set(input: &[u8]) -> PResult<'_, SequenceSet> {
    let mut items = Vec::new();
    let mut rest = input;
    loop {
        let (after, first) = seq_number(rest)?;
        let (after, item) = match after.strip_prefix(b":") {
            Some(more) => {
                let (after, second) = seq_number(more)?;
                (after, Sequence::Range(first, second))
            }
            None => (after, Sequence::Single(first)),
        };
        items.push(item);
        match after.strip_prefix(b",") {
            Some(more) => rest = more,
            None => {
                return match SequenceSet::try_from(items) {
                    Ok(set) => Ok((after, set)),
                    Err(_) => fail(input, "sequence-set"),
                }
            }
        }
    }
}

/// `"(" x *(SP x) ")"`, never empty.
pub(crate) fn paren_list<'a, T>(
    input: &'a [u8],
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return fail(input, "(");
    };
    let mut items = Vec::with_capacity(4);
    loop {
        let (after, one) = item(rest)?;
        items.push(one);
        match after.split_first() {
            Some((b' ', more)) => rest = more,
            Some((b')', more)) => return Ok((more, items)),
            _ => return fail(after, "SP or )"),
        }
    }
}

/// `"(" [x *(SP x)] ")"`, possibly empty.
pub(crate) fn paren_list0<'a, T>(
    input: &'a [u8],
    item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    if let Some(rest) = input.strip_prefix(b"()") {
        return Ok((rest, Vec::new()));
    }
    paren_list(input, item)
}

/// `date-month`.
fn date_month(input: &[u8]) -> PResult<'_, u8> {
    let name = input.get(..3).unwrap_or_default();
    match MONTHS
        .iter()
        .position(|month| month.as_bytes().eq_ignore_ascii_case(name))
    {
        Some(index) => Ok((input.get(3..).unwrap_or_default(), index as u8 + 1)),
        None => fail(input, "date-month"),
    }
}

fn digits_n(input: &[u8], n: usize) -> PResult<'_, u32> {
    match input.get(..n) {
        Some(digits) if digits.iter().all(u8::is_ascii_digit) => Ok((
            input.get(n..).unwrap_or_default(),
            digits
                .iter()
                .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')),
        )),
        _ => fail(input, "digits"),
    }
}

/// `date-text = date-day "-" date-month "-" date-year`, `date-day = 1*2DIGIT`.
fn date_text(input: &[u8]) -> PResult<'_, Date> {
    let (rest, day) = take_while1(|b: u8| b.is_ascii_digit()).parse(input)?;
    if day.len() > 2 {
        return fail(input, "date-day");
    }
    let (rest, _) = tag("-").parse(rest)?;
    let (rest, month) = date_month(rest)?;
    let (rest, _) = tag("-").parse(rest)?;
    let (rest, year) = digits_n(rest, 4)?;
    let day = day.iter().fold(0u8, |acc, &d| acc * 10 + (d - b'0'));
    match Date::new(year as u16, month, day) {
        Ok(date) => Ok((rest, date)),
        Err(_) => fail(input, "an existing date"),
    }
}

/// `date = date-text / DQUOTE date-text DQUOTE`.
pub(crate) fn date(input: &[u8]) -> PResult<'_, Date> {
    match input.strip_prefix(b"\"") {
        Some(rest) => {
            let (rest, date) = date_text(rest)?;
            let (rest, _) = tag("\"").parse(rest)?;
            Ok((rest, date))
        }
        None => date_text(input),
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`,
/// `date-day-fixed = (SP DIGIT) / 2DIGIT`. With `lenient`, a one-digit day without its space
/// is accepted too.
pub(crate) fn date_time(input: &[u8], lenient: bool) -> PResult<'_, DateTime> {
    let Some(rest) = input.strip_prefix(b"\"") else {
        return fail(input, "date-time");
    };
    let (rest, day) = match rest {
        [b' ', d, rest @ ..] if d.is_ascii_digit() => (rest, u32::from(d - b'0')),
        [d, b'-', ..] if lenient && d.is_ascii_digit() => {
            (rest.get(1..).unwrap_or_default(), u32::from(d - b'0'))
        }
        _ => digits_n(rest, 2)?,
    };
    let (rest, _) = tag("-").parse(rest)?;
    let (rest, month) = date_month(rest)?;
    let (rest, _) = tag("-").parse(rest)?;
    let (rest, year) = digits_n(rest, 4)?;
    let (rest, _) = sp(rest)?;
    let (rest, hour) = digits_n(rest, 2)?;
    let (rest, _) = tag(":").parse(rest)?;
    let (rest, minute) = digits_n(rest, 2)?;
    let (rest, _) = tag(":").parse(rest)?;
    let (rest, second) = digits_n(rest, 2)?;
    let (rest, _) = sp(rest)?;
    let (rest, sign) = match rest.split_first() {
        Some((b'+', rest)) => (rest, 1i16),
        Some((b'-', rest)) => (rest, -1i16),
        _ => return fail(rest, "zone"),
    };
    let (rest, zone) = digits_n(rest, 4)?;
    let (rest, _) = tag("\"").parse(rest)?;
    if zone % 100 >= 60 {
        return fail(input, "zone minutes below 60");
    }
    let zone = sign * ((zone / 100) as i16 * 60 + (zone % 100) as i16);
    let built = Date::new(year as u16, month, day as u8)
        .and_then(|date| DateTime::new(date, hour as u8, minute as u8, second as u8, zone));
    match built {
        Ok(date_time) => Ok((rest, date_time)),
        _ => fail(input, "a valid date-time"),
    }
}

/// `charset = atom / quoted`; a literal is accepted too (an astring, as RFC 9051's
/// `SEARCH` takes it).
pub(crate) fn charset(input: &[u8]) -> PResult<'_, IString> {
    match input.first() {
        Some(b'"' | b'{') => string(input),
        _ => map(atom_bytes, |a| IString::from_trusted(a.to_vec())).parse(input),
    }
}

/// Optional `SP x`: absent when the input does not start with SP or `x` does not follow.
pub(crate) fn opt_sp<'a, T>(
    input: &'a [u8],
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<T>> {
    let Some(rest) = input.strip_prefix(b" ") else {
        return Ok((input, None));
    };
    match item(rest) {
        Ok((rest, value)) => Ok((rest, Some(value))),
        Err(nom::Err::Error(_)) => Ok((input, None)),
        Err(other) => Err(other),
    }
}
