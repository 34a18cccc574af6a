//! ENVELOPE and BODYSTRUCTURE (RFC 3501 section 9, RFC 9051 section 9).

use super::core::{nil, nstring, number, paren_list, sp, string};
use super::error::{Failure, PResult, ParseErrorKind};
use super::ResponseOptions;
use crate::types::{
    Address, BodyExtension, BodyFields, BodyStructure, Disposition, DispositionExtension, Envelope,
    IString, Language, LanguageExtension, MultipartExtension, SinglePartExtension, SinglePartKind,
};

fn fail<'a, T>(input: &'a [u8], expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(Failure::expected(input, expected)))
}

fn too_deep(input: &[u8], limit: usize) -> nom::Err<Failure<'_>> {
    nom::Err::Failure(Failure::new(
        input,
        ParseErrorKind::NestingTooDeep { limit },
    ))
}

fn open(input: &[u8]) -> PResult<'_, ()> {
    match input.strip_prefix(b"(") {
        Some(rest) => Ok((rest, ())),
        None => fail(input, "("),
    }
}

fn close(input: &[u8]) -> PResult<'_, ()> {
    match input.strip_prefix(b")") {
        Some(rest) => Ok((rest, ())),
        None => fail(input, ")"),
    }
}

/// A `string`, or with [`ResponseOptions::nil_as_empty_string`] `NIL` read as `""`.
fn string_or_nil<'a>(input: &'a [u8], options: &ResponseOptions) -> PResult<'a, IString> {
    if options.nil_as_empty_string {
        if let Ok((rest, ())) = nil(input) {
            return Ok((rest, IString::default()));
        }
    }
    string(input)
}

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`.
fn address(input: &[u8]) -> PResult<'_, Address> {
    let (rest, _) = open(input)?;
    let (rest, name) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, adl) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, mailbox) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, host) = nstring(rest)?;
    let (rest, _) = close(rest)?;
    Ok((
        rest,
        Address {
            name,
            adl,
            mailbox,
            host,
        },
    ))
}

/// `"(" 1*address ")" / nil`; addresses follow each other without SP (RFC 3501), though
/// some servers put one in between, which is accepted.
fn address_list(input: &[u8]) -> PResult<'_, Vec<Address>> {
    if let Ok((rest, ())) = nil(input) {
        return Ok((rest, Vec::new()));
    }
    let (mut rest, _) = open(input)?;
    let mut addresses = Vec::with_capacity(2);
    loop {
        let (after, one) = address(rest)?;
        addresses.push(one);
        rest = after.strip_prefix(b" ").unwrap_or(after);
        if let Some(after) = rest.strip_prefix(b")") {
            return Ok((after, addresses));
        }
    }
}

/// `envelope`.
pub(crate) fn envelope(input: &[u8]) -> PResult<'_, Envelope> {
    let (rest, _) = open(input)?;
    let (rest, date) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, subject) = nstring(rest)?;
    let mut lists: [Vec<Address>; 6] = Default::default();
    let mut rest = rest;
    for list in lists.iter_mut() {
        let (after, _) = sp(rest)?;
        let (after, found) = address_list(after)?;
        *list = found;
        rest = after;
    }
    let (rest, _) = sp(rest)?;
    let (rest, in_reply_to) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, message_id) = nstring(rest)?;
    let (rest, _) = close(rest)?;
    let [from, sender, reply_to, to, cc, bcc] = lists;
    Ok((
        rest,
        Envelope {
            date,
            subject,
            from,
            sender,
            reply_to,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        },
    ))
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`.
fn body_fld_param<'a>(
    input: &'a [u8],
    options: &ResponseOptions,
) -> PResult<'a, Vec<(IString, IString)>> {
    if let Ok((rest, ())) = nil(input) {
        return Ok((rest, Vec::new()));
    }
    if options.nil_as_empty_string {
        if let Some(rest) = input.strip_prefix(b"()") {
            return Ok((rest, Vec::new()));
        }
    }
    paren_list(input, |i| {
        let (i, name) = string_or_nil(i, options)?;
        let (i, _) = sp(i)?;
        let (i, value) = string_or_nil(i, options)?;
        Ok((i, (name, value)))
    })
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
fn body_fld_dsp<'a>(
    input: &'a [u8],
    options: &ResponseOptions,
) -> PResult<'a, Option<Disposition>> {
    if let Ok((rest, ())) = nil(input) {
        return Ok((rest, None));
    }
    let (rest, _) = open(input)?;
    let (rest, kind) = string_or_nil(rest, options)?;
    let (rest, _) = sp(rest)?;
    let (rest, params) = body_fld_param(rest, options)?;
    let (rest, _) = close(rest)?;
    Ok((rest, Some((kind, params))))
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn body_fld_lang(input: &[u8]) -> PResult<'_, Language> {
    if input.starts_with(b"(") {
        let (rest, list) = paren_list(input, string)?;
        return Ok((rest, Language::List(list)));
    }
    let (rest, one) = nstring(input)?;
    Ok((rest, Language::Single(one)))
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
fn body_extension(input: &[u8], depth: usize, limit: usize) -> PResult<'_, BodyExtension> {
    if depth > limit {
        return Err(too_deep(input, limit));
    }
    match input.first() {
        Some(b'(') => {
            let (rest, list) = paren_list(input, |i| body_extension(i, depth + 1, limit))?;
            Ok((rest, BodyExtension::List(list)))
        }
        Some(b) if b.is_ascii_digit() => {
            let (rest, n) = number(input)?;
            Ok((rest, BodyExtension::Number(n)))
        }
        _ => {
            let (rest, s) = nstring(input)?;
            Ok((rest, BodyExtension::String(s)))
        }
    }
}

/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`.
fn disposition_tail<'a>(
    input: &'a [u8],
    depth: usize,
    options: &ResponseOptions,
) -> PResult<'a, Option<DispositionExtension>> {
    let Ok((rest, _)) = sp(input) else {
        return Ok((input, None));
    };
    let (rest, disposition) = body_fld_dsp(rest, options)?;
    let (rest, tail) = match sp(rest) {
        Ok((after, _)) => {
            let (after, language) = body_fld_lang(after)?;
            let (after, tail) = match sp(after) {
                Ok((after, _)) => {
                    let (mut after, location) = nstring(after)?;
                    let mut extensions = Vec::new();
                    while let Ok((more, _)) = sp(after) {
                        let (more, extension) =
                            body_extension(more, depth + 1, options.max_nesting_depth)?;
                        extensions.push(extension);
                        after = more;
                    }
                    (after, Some((location, extensions)))
                }
                Err(_) => (after, None),
            };
            (after, Some(LanguageExtension { language, tail }))
        }
        Err(_) => (rest, None),
    };
    Ok((rest, Some(DispositionExtension { disposition, tail })))
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`, at nesting `depth`.
pub(crate) fn body<'a>(
    input: &'a [u8],
    depth: usize,
    options: &ResponseOptions,
) -> PResult<'a, BodyStructure> {
    let limit = options.max_nesting_depth;
    if depth > limit {
        return Err(too_deep(input, limit));
    }
    let (rest, _) = open(input)?;
    if rest.starts_with(b"(") {
        // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
        let mut parts = Vec::with_capacity(2);
        let mut rest = rest;
        while rest.starts_with(b"(") {
            let (after, part) = body(rest, depth + 1, options)?;
            parts.push(part);
            rest = after
                .strip_prefix(b" ")
                .filter(|a| a.starts_with(b"("))
                .unwrap_or(after);
        }
        let (rest, _) = sp(rest)?;
        let (rest, subtype) = string_or_nil(rest, options)?;
        let (rest, extension) = match sp(rest) {
            Ok((after, _)) => {
                let (after, params) = body_fld_param(after, options)?;
                let (after, tail) = disposition_tail(after, depth, options)?;
                (after, Some(MultipartExtension { params, tail }))
            }
            Err(_) => (rest, None),
        };
        let (rest, _) = close(rest)?;
        return Ok((
            rest,
            BodyStructure::Multipart {
                parts,
                subtype,
                extension,
            },
        ));
    }
    let (rest, media_type) = string_or_nil(rest, options)?;
    let (rest, _) = sp(rest)?;
    let (rest, subtype) = string_or_nil(rest, options)?;
    let (rest, _) = sp(rest)?;
    let (rest, params) = body_fld_param(rest, options)?;
    let (rest, _) = sp(rest)?;
    let (rest, id) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, description) = nstring(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, encoding) = string_or_nil(rest, options)?;
    let (rest, _) = sp(rest)?;
    let (rest, octets) = number(rest)?;
    let is_message = media_type.as_bytes().eq_ignore_ascii_case(b"MESSAGE")
        && (subtype.as_bytes().eq_ignore_ascii_case(b"RFC822")
            || subtype.as_bytes().eq_ignore_ascii_case(b"GLOBAL"));
    let is_text = media_type.as_bytes().eq_ignore_ascii_case(b"TEXT");
    let (rest, specific) = if is_message && rest.starts_with(b" (") {
        let (rest, _) = sp(rest)?;
        let (rest, envelope) = envelope(rest)?;
        let (rest, _) = sp(rest)?;
        let (rest, inner) = body(rest, depth + 1, options)?;
        let (rest, _) = sp(rest)?;
        let (rest, lines) = number(rest)?;
        (
            rest,
            SinglePartKind::Message {
                envelope: Box::new(envelope),
                body: Box::new(inner),
                lines,
            },
        )
    } else if is_text {
        let (rest, _) = sp(rest)?;
        let (rest, lines) = number(rest)?;
        (rest, SinglePartKind::Text { lines })
    } else {
        (rest, SinglePartKind::Basic)
    };
    let (rest, extension) = match sp(rest) {
        Ok((after, _)) => {
            let (after, md5) = nstring(after)?;
            let (after, tail) = disposition_tail(after, depth, options)?;
            (after, Some(SinglePartExtension { md5, tail }))
        }
        Err(_) => (rest, None),
    };
    let (rest, _) = close(rest)?;
    Ok((
        rest,
        BodyStructure::Single {
            fields: BodyFields {
                media_type,
                subtype,
                params,
                id,
                description,
                encoding,
                octets,
            },
            specific,
            extension,
        },
    ))
}
