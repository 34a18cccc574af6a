//! The response grammar (client side): `response` of RFC 3501 and RFC 9051 section 9 with
//! the extensions in scope, and the tolerance switches of [`ResponseOptions`].

use nom::bytes::complete::take_while1;
use nom::Parser;

use super::body::{body, envelope};
use super::command::id_params;
use super::core::{
    astring, atom, atom_bytes, date_time, nstring_payload, number, number64, nz_number, paren_list,
    paren_list0, quoted, sequence_set, sp, string, tag_rule,
};
use super::error::{Failure, PResult};
use super::items::{
    flag_list, flag_perm, keyword, mailbox, mailbox_attribute, section, section_binary,
    status_attribute,
};
use super::ResponseOptions;
use crate::types::{
    Continuation, Data, ExtendedValue, ListItem, MessageDataItem, NamespaceDescription, Response,
    ResponseCode, Rfc822Kind, SearchReturnData, StatusItem, StatusKind, StatusResponse, Text,
};

fn fail<'a, T>(input: &'a [u8], expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(Failure::expected(input, expected)))
}

fn is(name: &[u8], word: &str) -> bool {
    name.eq_ignore_ascii_case(word.as_bytes())
}

/// `base64 = *(4base64-char) [base64-terminal]`, borrowed.
pub(crate) fn base64_text(input: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        .parse(input)
}

/// `response = *(continue-req / response-data) response-done`: one of them.
pub(crate) fn response<'a>(input: &'a [u8], options: &ResponseOptions) -> PResult<'a, Response> {
    if let Some(rest) = input.strip_prefix(b"+") {
        return continuation(rest, options);
    }
    if let Some(rest) = input.strip_prefix(b"* ") {
        return untagged(rest, options);
    }
    let (rest, tag) = tag_rule(input)?;
    let (rest, _) = sp(rest)?;
    let (rest, name) = atom_bytes(rest)?;
    let kind = match () {
        _ if is(name, "OK") => StatusKind::Ok,
        _ if is(name, "NO") => StatusKind::No,
        _ if is(name, "BAD") => StatusKind::Bad,
        _ => {
            return fail(
                input
                    .get(input.len() - rest.len() - name.len()..)
                    .unwrap_or(rest),
                "OK, NO or BAD",
            )
        }
    };
    let (rest, (code, text)) = resp_text(rest, options)?;
    Ok((
        rest,
        Response::Status(StatusResponse {
            tag: Some(tag),
            kind,
            code,
            text,
        }),
    ))
}

/// `continue-req = "+" SP (resp-text / base64)`; a bare `+` is accepted with
/// [`ResponseOptions::missing_text`].
fn continuation<'a>(input: &'a [u8], options: &ResponseOptions) -> PResult<'a, Response> {
    if input.is_empty() && options.missing_text {
        return Ok((
            input,
            Response::Continuation(Continuation {
                code: None,
                text: Text::default(),
            }),
        ));
    }
    let (rest, _) = sp(input)?;
    let (rest, (code, text)) = text_with_code(rest, options)?;
    Ok((rest, Response::Continuation(Continuation { code, text })))
}

/// `SP resp-text` after a status keyword; with [`ResponseOptions::missing_text`] the whole
/// of it may be missing.
fn resp_text<'a>(
    input: &'a [u8],
    options: &ResponseOptions,
) -> PResult<'a, (Option<ResponseCode>, Text)> {
    if input.is_empty() && options.missing_text {
        return Ok((input, (None, Text::default())));
    }
    let (rest, _) = sp(input)?;
    text_with_code(rest, options)
}

/// `resp-text = ["[" resp-text-code "]" SP] [text]` (RFC 9051 makes the text optional).
fn text_with_code<'a>(
    input: &'a [u8],
    options: &ResponseOptions,
) -> PResult<'a, (Option<ResponseCode>, Text)> {
    let (rest, code) = if input.starts_with(b"[") {
        match resp_text_code(input.get(1..).unwrap_or_default()) {
            Ok((rest, code)) => match rest.strip_prefix(b"]") {
                Some(rest) => {
                    let rest = match rest.strip_prefix(b" ") {
                        Some(rest) => rest,
                        None if rest.is_empty() && options.missing_text => rest,
                        None if rest.is_empty() => return fail(rest, "SP after ]"),
                        None => rest,
                    };
                    (rest, Some(code))
                }
                None => (input, None),
            },
            // An unparsable code is kept as text, which is what a human would read.
            Err(_) => (input, None),
        }
    } else {
        (input, None)
    };
    match Text::try_from(rest) {
        Ok(text) => Ok((&[], (code, text))),
        Err(_) => fail(rest, "text"),
    }
}

/// `resp-text-code`, up to (not including) its `]`.
fn resp_text_code(input: &[u8]) -> PResult<'_, ResponseCode> {
    let (rest, name) = atom_bytes(input)?;
    let code = match () {
        _ if is(name, "ALERT") => ResponseCode::Alert,
        _ if is(name, "PARSE") => ResponseCode::Parse,
        _ if is(name, "READ-ONLY") => ResponseCode::ReadOnly,
        _ if is(name, "READ-WRITE") => ResponseCode::ReadWrite,
        _ if is(name, "TRYCREATE") => ResponseCode::TryCreate,
        _ if is(name, "UIDNOTSTICKY") => ResponseCode::UidNotSticky,
        _ if is(name, "NOMODSEQ") => ResponseCode::NoModSeq,
        _ if is(name, "CLOSED") => ResponseCode::Closed,
        _ if is(name, "COMPRESSIONACTIVE") => ResponseCode::CompressionActive,
        _ if is(name, "BADCHARSET") => {
            let (rest, charsets) = match rest.strip_prefix(b" ") {
                Some(after) => paren_list(after, astring)?,
                None => (rest, Vec::new()),
            };
            return Ok((rest, ResponseCode::BadCharset(charsets)));
        }
        _ if is(name, "CAPABILITY") => {
            let mut capabilities = Vec::new();
            let mut rest = rest;
            while let Ok((after, _)) = sp(rest) {
                let (after, capability) = atom(after)?;
                capabilities.push(capability);
                rest = after;
            }
            return Ok((rest, ResponseCode::Capability(capabilities)));
        }
        _ if is(name, "PERMANENTFLAGS") => {
            let (rest, _) = sp(rest)?;
            let (rest, flags) = paren_list0(rest, flag_perm)?;
            return Ok((rest, ResponseCode::PermanentFlags(flags)));
        }
        _ if is(name, "UIDNEXT") || is(name, "UIDVALIDITY") || is(name, "UNSEEN") => {
            let (rest, _) = sp(rest)?;
            let (rest, n) = nz_number(rest)?;
            return Ok((
                rest,
                match () {
                    _ if is(name, "UIDNEXT") => ResponseCode::UidNext(n),
                    _ if is(name, "UIDVALIDITY") => ResponseCode::UidValidity(n),
                    _ => ResponseCode::Unseen(n),
                },
            ));
        }
        _ if is(name, "APPENDUID") => {
            let (rest, _) = sp(rest)?;
            let (rest, validity) = nz_number(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, uids) = sequence_set(rest)?;
            return Ok((rest, ResponseCode::AppendUid { validity, uids }));
        }
        _ if is(name, "COPYUID") => {
            let (rest, _) = sp(rest)?;
            let (rest, validity) = nz_number(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, source) = sequence_set(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, destination) = sequence_set(rest)?;
            return Ok((
                rest,
                ResponseCode::CopyUid {
                    validity,
                    source,
                    destination,
                },
            ));
        }
        _ if is(name, "HIGHESTMODSEQ") => {
            let (rest, _) = sp(rest)?;
            let (rest, n) = number64(rest)?;
            return Ok((rest, ResponseCode::HighestModSeq(n)));
        }
        _ if is(name, "MODIFIED") => {
            let (rest, _) = sp(rest)?;
            let (rest, set) = sequence_set(rest)?;
            return Ok((rest, ResponseCode::Modified(set)));
        }
        _ => {
            let Ok(name) = crate::types::Atom::try_from(name) else {
                return fail(input, "resp-text-code");
            };
            let (rest, argument) = match rest.strip_prefix(b" ") {
                Some(after) => {
                    let end = after
                        .iter()
                        .position(|&b| b == b']' || !crate::types::is_text_char(b))
                        .unwrap_or(after.len());
                    let text = after.get(..end).unwrap_or_default();
                    match Text::try_from(text) {
                        Ok(text) if !text.as_bytes().is_empty() => {
                            (after.get(end..).unwrap_or_default(), Some(text))
                        }
                        _ => return fail(after, "resp-text-code argument"),
                    }
                }
                None => (rest, None),
            };
            return Ok((rest, ResponseCode::Other { name, argument }));
        }
    };
    Ok((rest, code))
}

/// `response-data = "*" SP (resp-cond-state / resp-cond-bye / mailbox-data / message-data /
/// capability-data / enable-data / ...)`, after `* `.
fn untagged<'a>(input: &'a [u8], options: &ResponseOptions) -> PResult<'a, Response> {
    if input.first().is_some_and(u8::is_ascii_digit) {
        return numbered(input, options).map(|(rest, data)| (rest, Response::Data(data)));
    }
    let (rest, name) = atom_bytes(input)?;
    let status = match () {
        _ if is(name, "OK") => Some(StatusKind::Ok),
        _ if is(name, "NO") => Some(StatusKind::No),
        _ if is(name, "BAD") => Some(StatusKind::Bad),
        _ if is(name, "BYE") => Some(StatusKind::Bye),
        _ if is(name, "PREAUTH") => Some(StatusKind::PreAuth),
        _ => None,
    };
    if let Some(kind) = status {
        let (rest, (code, text)) = resp_text(rest, options)?;
        return Ok((
            rest,
            Response::Status(StatusResponse {
                tag: None,
                kind,
                code,
                text,
            }),
        ));
    }
    let data = |(rest, data)| Ok((rest, Response::Data(data)));
    match () {
        _ if is(name, "CAPABILITY") || is(name, "ENABLED") => {
            let mut atoms = Vec::new();
            let mut rest = rest;
            while let Ok((after, _)) = sp(rest) {
                let (after, one) = atom(after)?;
                atoms.push(one);
                rest = after;
            }
            data((
                rest,
                if is(name, "CAPABILITY") {
                    Data::Capability(atoms)
                } else {
                    Data::Enabled(atoms)
                },
            ))
        }
        _ if is(name, "FLAGS") => {
            let (rest, _) = sp(rest)?;
            let (rest, flags) = flag_list(rest)?;
            data((rest, Data::Flags(flags)))
        }
        _ if is(name, "LIST") || is(name, "LSUB") => {
            let (rest, _) = sp(rest)?;
            let (rest, item) = mailbox_list(rest, options)?;
            data((
                rest,
                if is(name, "LIST") {
                    Data::List(item)
                } else {
                    Data::Lsub(item)
                },
            ))
        }
        _ if is(name, "SEARCH") => {
            let mut numbers = Vec::new();
            let mut modseq = None;
            let mut rest = rest;
            while let Ok((after, _)) = sp(rest) {
                if let Ok((after, _)) = keyword(after, "(MODSEQ ") {
                    let (after, n) = number64(after)?;
                    let Some(after) = after.strip_prefix(b")") else {
                        return fail(after, ")");
                    };
                    modseq = Some(n);
                    rest = after;
                    break;
                }
                let (after, n) = nz_number(after)?;
                numbers.push(n);
                rest = after;
            }
            data((rest, Data::Search { numbers, modseq }))
        }
        _ if is(name, "ESEARCH") => esearch(rest),
        _ if is(name, "STATUS") => {
            let (rest, _) = sp(rest)?;
            let (rest, mailbox) = mailbox(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, items) = paren_list0(rest, |i| {
                let (i, attribute) = status_attribute(i)?;
                let (i, _) = sp(i)?;
                let (i, value) = number64(i)?;
                Ok((i, StatusItem { attribute, value }))
            })?;
            data((rest, Data::Status { mailbox, items }))
        }
        _ if is(name, "ID") => {
            let (rest, _) = sp(rest)?;
            let (rest, list) = id_params(rest)?;
            data((rest, Data::Id(list)))
        }
        _ if is(name, "NAMESPACE") => {
            let (rest, _) = sp(rest)?;
            let (rest, personal) = namespace(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, other) = namespace(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, shared) = namespace(rest)?;
            data((
                rest,
                Data::Namespace {
                    personal,
                    other,
                    shared,
                },
            ))
        }
        _ if is(name, "VANISHED") => {
            let (rest, _) = sp(rest)?;
            let (rest, earlier) = match keyword(rest, "(EARLIER) ") {
                Ok((rest, _)) => (rest, true),
                Err(_) => (rest, false),
            };
            let (rest, uids) = sequence_set(rest)?;
            data((rest, Data::Vanished { earlier, uids }))
        }
        _ => fail(input, "response data"),
    }
}

/// `nz-number SP ("EXPUNGE" / "FETCH" SP msg-att)` and `number SP ("EXISTS" / "RECENT")`.
fn numbered<'a>(input: &'a [u8], options: &ResponseOptions) -> PResult<'a, Data> {
    let (rest, n) = number(input)?;
    let (rest, _) = sp(rest)?;
    let (after, name) = atom_bytes(rest)?;
    match () {
        _ if is(name, "EXISTS") => Ok((after, Data::Exists(n))),
        _ if is(name, "RECENT") => Ok((after, Data::Recent(n))),
        _ if is(name, "EXPUNGE") => match crate::types::NonZero::new(n) {
            Some(n) => Ok((after, Data::Expunge(n))),
            None => fail(input, "nz-number"),
        },
        _ if is(name, "FETCH") => {
            let Some(seq) = crate::types::NonZero::new(n) else {
                return fail(input, "nz-number");
            };
            let (after, _) = sp(after)?;
            let (after, items) = fetch_items(after, options)?;
            Ok((after, Data::Fetch { seq, items }))
        }
        _ => fail(rest, "EXISTS, RECENT, EXPUNGE or FETCH"),
    }
}

/// `msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic /
/// msg-att-static)) ")"`; with [`ResponseOptions::trailing_space`] a space before `)` is
/// accepted.
fn fetch_items<'a>(
    input: &'a [u8],
    options: &ResponseOptions,
) -> PResult<'a, Vec<MessageDataItem>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return fail(input, "(");
    };
    let mut items = Vec::with_capacity(8);
    loop {
        let (after, item) = message_data_item(rest, options)?;
        items.push(item);
        match after {
            [b')', more @ ..] => return Ok((more, items)),
            [b' ', b')', more @ ..] if options.trailing_space => return Ok((more, items)),
            [b' ', more @ ..] => rest = more,
            _ => return fail(after, "SP or )"),
        }
    }
}

/// `msg-att-dynamic / msg-att-static`.
fn message_data_item<'a>(
    input: &'a [u8],
    options: &ResponseOptions,
) -> PResult<'a, MessageDataItem> {
    let end = input
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.'))
        .unwrap_or(input.len());
    let name = input.get(..end).unwrap_or_default();
    let rest = input.get(end..).unwrap_or_default();
    let after_sp = |rest| sp(rest).map(|(rest, _)| rest);
    match () {
        _ if is(name, "FLAGS") => {
            let rest = after_sp(rest)?;
            let (rest, flags) = flag_list(rest)?;
            Ok((rest, MessageDataItem::Flags(flags)))
        }
        _ if is(name, "ENVELOPE") => {
            let rest = after_sp(rest)?;
            let (rest, envelope) = envelope(rest)?;
            Ok((rest, MessageDataItem::Envelope(Box::new(envelope))))
        }
        _ if is(name, "INTERNALDATE") => {
            let rest = after_sp(rest)?;
            match date_time(rest, options.lenient_dates) {
                Ok((rest, date)) => Ok((rest, MessageDataItem::InternalDate(date))),
                Err(error) if options.lenient_dates => match string(rest) {
                    Ok((rest, raw)) => Ok((rest, MessageDataItem::InternalDateUnparsed(raw))),
                    Err(_) => Err(error),
                },
                Err(error) => Err(error),
            }
        }
        _ if is(name, "RFC822.SIZE") => {
            let rest = after_sp(rest)?;
            let (rest, size) = number64(rest)?;
            Ok((rest, MessageDataItem::Rfc822Size(size)))
        }
        _ if is(name, "RFC822") || is(name, "RFC822.HEADER") || is(name, "RFC822.TEXT") => {
            let kind = match () {
                _ if is(name, "RFC822") => Rfc822Kind::Whole,
                _ if is(name, "RFC822.HEADER") => Rfc822Kind::Header,
                _ => Rfc822Kind::Text,
            };
            let rest = after_sp(rest)?;
            let (rest, data) = nstring_payload(rest)?;
            Ok((rest, MessageDataItem::Rfc822 { kind, data }))
        }
        _ if is(name, "BODYSTRUCTURE") => {
            let rest = after_sp(rest)?;
            let (rest, structure) = body(rest, 1, options)?;
            Ok((rest, MessageDataItem::BodyStructure(Box::new(structure))))
        }
        _ if is(name, "BODY") && rest.starts_with(b"[") => {
            let (rest, section) = section(rest)?;
            let (rest, origin) = origin(rest)?;
            let rest = after_sp(rest)?;
            let (rest, data) = nstring_payload(rest)?;
            Ok((
                rest,
                MessageDataItem::BodySection {
                    section,
                    origin,
                    data,
                },
            ))
        }
        _ if is(name, "BODY") => {
            let rest = after_sp(rest)?;
            let (rest, structure) = body(rest, 1, options)?;
            Ok((rest, MessageDataItem::Body(Box::new(structure))))
        }
        _ if is(name, "BINARY") => {
            let (rest, part) = section_binary(rest)?;
            let (rest, origin) = origin(rest)?;
            let rest = after_sp(rest)?;
            let (rest, data) = nstring_payload(rest)?;
            Ok((rest, MessageDataItem::Binary { part, origin, data }))
        }
        _ if is(name, "BINARY.SIZE") => {
            let (rest, part) = section_binary(rest)?;
            let rest = after_sp(rest)?;
            let (rest, size) = number(rest)?;
            Ok((rest, MessageDataItem::BinarySize { part, size }))
        }
        _ if is(name, "UID") => {
            let rest = after_sp(rest)?;
            let (rest, uid) = nz_number(rest)?;
            Ok((rest, MessageDataItem::Uid(uid)))
        }
        _ if is(name, "MODSEQ") => {
            let rest = after_sp(rest)?;
            let Some(rest) = rest.strip_prefix(b"(") else {
                return fail(rest, "(");
            };
            let (rest, modseq) = number64(rest)?;
            let Some(rest) = rest.strip_prefix(b")") else {
                return fail(rest, ")");
            };
            Ok((rest, MessageDataItem::ModSeq(modseq)))
        }
        _ => fail(input, "msg-att"),
    }
}

/// `["<" number ">"]` after a section in a response.
fn origin(input: &[u8]) -> PResult<'_, Option<u32>> {
    let Some(rest) = input.strip_prefix(b"<") else {
        return Ok((input, None));
    };
    let (rest, n) = number(rest)?;
    match rest.strip_prefix(b">") {
        Some(rest) => Ok((rest, Some(n))),
        None => fail(rest, ">"),
    }
}

/// `DQUOTE QUOTED-CHAR DQUOTE / nil`: a hierarchy delimiter.
fn delimiter(input: &[u8]) -> PResult<'_, Option<u8>> {
    if let Ok((rest, ())) = super::core::nil(input) {
        return Ok((rest, None));
    }
    let (rest, text) = quoted(input)?;
    match text.as_slice() {
        [one] => Ok((rest, Some(*one))),
        _ => fail(input, "one QUOTED-CHAR"),
    }
}

/// `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
/// [SP mbox-list-extended]`.
fn mailbox_list<'a>(input: &'a [u8], options: &ResponseOptions) -> PResult<'a, ListItem> {
    let (rest, attributes) = paren_list0(input, mailbox_attribute)?;
    let (rest, _) = sp(rest)?;
    let (rest, delimiter) = delimiter(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, mailbox) = mailbox(rest)?;
    let (rest, extended) = match rest.strip_prefix(b" ") {
        Some(after) => paren_list0(after, |i| {
            let (i, name) = astring(i)?;
            let (i, _) = sp(i)?;
            let (i, value) = extended_value(i, 1, options.max_nesting_depth)?;
            Ok((i, (name, value)))
        })?,
        None => (rest, Vec::new()),
    };
    Ok((
        rest,
        ListItem {
            attributes,
            delimiter,
            mailbox,
            extended,
        },
    ))
}

/// `tagged-ext-val` (RFC 4466), depth-bounded.
fn extended_value(input: &[u8], depth: usize, limit: usize) -> PResult<'_, ExtendedValue> {
    if depth > limit {
        return Err(nom::Err::Failure(Failure::new(
            input,
            super::error::ParseErrorKind::NestingTooDeep { limit },
        )));
    }
    match input.first() {
        Some(b'(') => {
            let (rest, list) = paren_list0(input, |i| extended_value(i, depth + 1, limit))?;
            Ok((rest, ExtendedValue::List(list)))
        }
        Some(b) if b.is_ascii_digit() => {
            let (rest, n) = number64(input)?;
            Ok((rest, ExtendedValue::Number(n)))
        }
        _ => {
            let (rest, s) = astring(input)?;
            Ok((rest, ExtendedValue::String(s)))
        }
    }
}

/// `Namespace = nil / "(" 1*Namespace-Descr ")"` (RFC 2342; descriptions follow each other
/// without SP).
fn namespace(input: &[u8]) -> PResult<'_, Option<Vec<NamespaceDescription>>> {
    if let Ok((rest, ())) = super::core::nil(input) {
        return Ok((rest, None));
    }
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return fail(input, "( or NIL");
    };
    let mut descriptions = Vec::new();
    loop {
        let Some(after) = rest.strip_prefix(b"(") else {
            return fail(rest, "(");
        };
        let (after, prefix) = string(after)?;
        let (after, _) = sp(after)?;
        let (mut after, delimiter) = delimiter(after)?;
        let mut extensions = Vec::new();
        while let Ok((more, _)) = sp(after) {
            let (more, name) = string(more)?;
            let (more, _) = sp(more)?;
            let (more, values) = paren_list(more, string)?;
            extensions.push((name, values));
            after = more;
        }
        let Some(after) = after.strip_prefix(b")") else {
            return fail(after, ")");
        };
        descriptions.push(NamespaceDescription {
            prefix,
            delimiter,
            extensions,
        });
        rest = after;
        if let Some(after) = rest.strip_prefix(b")") {
            return Ok((after, Some(descriptions)));
        }
    }
}

/// `esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)`.
fn esearch(input: &[u8]) -> PResult<'_, Response> {
    let (rest, tag) = match keyword(input, " (TAG ") {
        Ok((rest, _)) => {
            let (rest, tag) = string(rest)?;
            let Ok(tag) = crate::types::Tag::try_from(tag.as_bytes()) else {
                return fail(rest, "tag");
            };
            let Some(rest) = rest.strip_prefix(b")") else {
                return fail(rest, ")");
            };
            (rest, Some(tag))
        }
        Err(_) => (input, None),
    };
    let (rest, uid) = match keyword(rest, " UID") {
        Ok((after, _))
            if !after
                .first()
                .is_some_and(|&b| crate::types::is_atom_char(b)) =>
        {
            (after, true)
        }
        _ => (rest, false),
    };
    let mut data = Vec::new();
    let mut rest = rest;
    while let Ok((after, _)) = sp(rest) {
        let (after, name) = atom_bytes(after)?;
        let (after, _) = sp(after)?;
        let (after, item) = match () {
            _ if is(name, "MIN") => nz_number(after).map(|(r, n)| (r, SearchReturnData::Min(n)))?,
            _ if is(name, "MAX") => nz_number(after).map(|(r, n)| (r, SearchReturnData::Max(n)))?,
            _ if is(name, "ALL") => {
                sequence_set(after).map(|(r, s)| (r, SearchReturnData::All(s)))?
            }
            _ if is(name, "COUNT") => {
                number(after).map(|(r, n)| (r, SearchReturnData::Count(n)))?
            }
            _ if is(name, "MODSEQ") => {
                number64(after).map(|(r, n)| (r, SearchReturnData::ModSeq(n)))?
            }
            _ => return fail(after, "search-return-data"),
        };
        data.push(item);
        rest = after;
    }
    Ok((rest, Response::Data(Data::ESearch { tag, uid, data })))
}
