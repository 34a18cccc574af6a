//! The command grammar (server side): `command` of RFC 3501 and RFC 9051 section 9 with the
//! extensions in scope.

use base64::Engine as _;

use super::core::{
    astring, atom, atom_bytes, charset, date, date_time, literal, nil, nstring, number, number64,
    nz_number, opt_sp, paren_list, paren_list0, sequence_set, sp, string, tag_rule, LiteralValue,
};
use super::error::{Failure, PResult, ParseErrorKind};
use super::items::{
    flag, flag_list, keyword, mailbox, mailbox_attribute, section, section_binary, status_attribute,
};
use crate::types::{
    Command, CommandBody, FetchAttribute, FetchItems, FetchModifier, Flag, IString,
    ListReturnOption, ListSelectOption, Password, Payload, SearchKey, SearchReturnOption,
    SelectParameter, StoreMode,
};

fn fail<'a, T>(input: &'a [u8], expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(Failure::expected(input, expected)))
}

/// The command name: letters (and `-`), as many as there are.
fn command_name(input: &[u8]) -> PResult<'_, &[u8]> {
    let end = input
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(input.len());
    if end == 0 {
        return fail(input, "command name");
    }
    Ok((
        input.get(end..).unwrap_or_default(),
        input.get(..end).unwrap_or_default(),
    ))
}

fn is(name: &[u8], word: &str) -> bool {
    name.eq_ignore_ascii_case(word.as_bytes())
}

/// `command = tag SP (command-any / command-auth / command-nonauth / command-select)`,
/// without CRLF, with `depth_limit` bounding the nesting of search keys.
pub(crate) fn command(input: &[u8], depth_limit: usize) -> PResult<'_, Command> {
    let (rest, tag) = tag_rule(input)?;
    let (rest, _) = sp(rest)?;
    let (rest, body) = command_body(rest, depth_limit)?;
    Ok((rest, Command { tag, body }))
}

fn command_body(input: &[u8], depth_limit: usize) -> PResult<'_, CommandBody> {
    let (rest, name) = command_name(input)?;
    let bare = |body: CommandBody| Ok((rest, body));
    match name.len() {
        _ if is(name, "CAPABILITY") => bare(CommandBody::Capability),
        _ if is(name, "NOOP") => bare(CommandBody::Noop),
        _ if is(name, "LOGOUT") => bare(CommandBody::Logout),
        _ if is(name, "STARTTLS") => bare(CommandBody::StartTls),
        _ if is(name, "NAMESPACE") => bare(CommandBody::Namespace),
        _ if is(name, "IDLE") => bare(CommandBody::Idle),
        _ if is(name, "CHECK") => bare(CommandBody::Check),
        _ if is(name, "CLOSE") => bare(CommandBody::Close),
        _ if is(name, "UNSELECT") => bare(CommandBody::Unselect),
        _ if is(name, "EXPUNGE") => bare(CommandBody::Expunge),
        _ if is(name, "ID") => {
            let (rest, _) = sp(rest)?;
            let (rest, list) = id_params(rest)?;
            Ok((rest, CommandBody::Id(list)))
        }
        _ if is(name, "AUTHENTICATE") => authenticate(rest),
        _ if is(name, "LOGIN") => {
            let (rest, _) = sp(rest)?;
            let (rest, username) = astring(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, password) = astring(rest)?;
            Ok((
                rest,
                CommandBody::Login {
                    username,
                    password: Password(password),
                },
            ))
        }
        _ if is(name, "ENABLE") => {
            let mut capabilities = Vec::new();
            let mut rest = rest;
            while let Ok((after, _)) = sp(rest) {
                let (after, capability) = atom(after)?;
                capabilities.push(capability);
                rest = after;
            }
            if capabilities.is_empty() {
                return fail(rest, "SP capability");
            }
            Ok((rest, CommandBody::Enable(capabilities)))
        }
        _ if is(name, "SELECT") || is(name, "EXAMINE") => {
            let (rest, _) = sp(rest)?;
            let (rest, mailbox) = mailbox(rest)?;
            let (rest, parameters) = opt_sp(rest, |i| paren_list(i, select_parameter))?;
            let parameters = parameters.unwrap_or_default();
            Ok((
                rest,
                if is(name, "SELECT") {
                    CommandBody::Select {
                        mailbox,
                        parameters,
                    }
                } else {
                    CommandBody::Examine {
                        mailbox,
                        parameters,
                    }
                },
            ))
        }
        _ if is(name, "CREATE") => {
            let (rest, _) = sp(rest)?;
            let (rest, mailbox) = mailbox(rest)?;
            let (rest, special_use) = match keyword(rest, " (USE ") {
                Ok((rest, _)) => {
                    let (rest, uses) = paren_list0(rest, mailbox_attribute)?;
                    let Some(rest) = rest.strip_prefix(b")") else {
                        return fail(rest, ")");
                    };
                    (rest, Some(uses))
                }
                Err(_) => (rest, None),
            };
            Ok((
                rest,
                CommandBody::Create {
                    mailbox,
                    special_use,
                },
            ))
        }
        _ if is(name, "DELETE") => one_mailbox(rest, CommandBody::Delete),
        _ if is(name, "SUBSCRIBE") => one_mailbox(rest, CommandBody::Subscribe),
        _ if is(name, "UNSUBSCRIBE") => one_mailbox(rest, CommandBody::Unsubscribe),
        _ if is(name, "RENAME") => {
            let (rest, _) = sp(rest)?;
            let (rest, from) = mailbox(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, to) = mailbox(rest)?;
            Ok((rest, CommandBody::Rename { from, to }))
        }
        _ if is(name, "LIST") => list(rest),
        _ if is(name, "LSUB") => {
            let (rest, _) = sp(rest)?;
            let (rest, reference) = mailbox(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, pattern) = list_mailbox(rest)?;
            Ok((rest, CommandBody::Lsub { reference, pattern }))
        }
        _ if is(name, "STATUS") => {
            let (rest, _) = sp(rest)?;
            let (rest, mailbox) = mailbox(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, attributes) = paren_list(rest, status_attribute)?;
            Ok((
                rest,
                CommandBody::Status {
                    mailbox,
                    attributes,
                },
            ))
        }
        _ if is(name, "APPEND") => append(rest),
        _ if is(name, "COMPRESS") => {
            let (rest, _) = sp(rest)?;
            let (rest, mechanism) = atom(rest)?;
            Ok((rest, CommandBody::Compress(mechanism)))
        }
        _ if is(name, "UID") => {
            let (rest, _) = sp(rest)?;
            let (after, sub) = command_name(rest)?;
            if is(sub, "EXPUNGE") {
                let (after, _) = sp(after)?;
                let (after, set) = sequence_set(after)?;
                return Ok((after, CommandBody::UidExpunge(set)));
            }
            selected_command(sub, after, true, depth_limit)
        }
        _ => selected_command(name, rest, false, depth_limit),
    }
}

fn one_mailbox(
    input: &[u8],
    make: fn(crate::types::Mailbox) -> CommandBody,
) -> PResult<'_, CommandBody> {
    let (rest, _) = sp(input)?;
    let (rest, mailbox) = mailbox(rest)?;
    Ok((rest, make(mailbox)))
}

/// FETCH, STORE, COPY, MOVE and SEARCH, with or without UID.
fn selected_command<'a>(
    name: &[u8],
    rest: &'a [u8],
    uid: bool,
    depth_limit: usize,
) -> PResult<'a, CommandBody> {
    match () {
        _ if is(name, "FETCH") => fetch(rest, uid),
        _ if is(name, "STORE") => store(rest, uid),
        _ if is(name, "COPY") || is(name, "MOVE") => {
            let (rest, _) = sp(rest)?;
            let (rest, set) = sequence_set(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, mailbox) = mailbox(rest)?;
            Ok((
                rest,
                if is(name, "COPY") {
                    CommandBody::Copy { uid, set, mailbox }
                } else {
                    CommandBody::Move { uid, set, mailbox }
                },
            ))
        }
        _ if is(name, "SEARCH") => search(rest, uid, depth_limit),
        _ => fail(rest, "a known command"),
    }
}

/// `id-params-list = "(" *(string SP nstring) ")" / nil` (RFC 2971).
pub(crate) fn id_params(
    input: &[u8],
) -> PResult<'_, Option<Vec<(IString, crate::types::NString)>>> {
    if let Ok((rest, _)) = nil(input) {
        return Ok((rest, None));
    }
    let (rest, list) = paren_list0(input, |i| {
        let (i, name) = string(i)?;
        let (i, _) = sp(i)?;
        let (i, value) = nstring(i)?;
        Ok((i, (name, value)))
    })?;
    Ok((rest, Some(list)))
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959).
fn authenticate(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, _) = sp(input)?;
    let (rest, mechanism) = atom(rest)?;
    let (rest, initial_response) = match sp(rest) {
        Ok((after, _)) => {
            if let Some(after_eq) = after.strip_prefix(b"=") {
                (after_eq, Some(Vec::new()))
            } else {
                let (after_b64, encoded) = super::response::base64_text(after)?;
                match base64::engine::general_purpose::STANDARD.decode(encoded) {
                    Ok(decoded) => (after_b64, Some(decoded)),
                    Err(_) => return fail(after, "base64"),
                }
            }
        }
        Err(_) => (rest, None),
    };
    Ok((
        rest,
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        },
    ))
}

/// `select-param = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP
/// known-uids] [SP seq-match-data] ")"` (RFC 7162).
fn select_parameter(input: &[u8]) -> PResult<'_, SelectParameter> {
    if let Ok((rest, _)) = keyword(input, "CONDSTORE") {
        return Ok((rest, SelectParameter::CondStore));
    }
    let (rest, _) = keyword(input, "QRESYNC")?;
    let (rest, _) = sp(rest)?;
    let Some(rest) = rest.strip_prefix(b"(") else {
        return fail(rest, "(");
    };
    let (rest, uid_validity) = nz_number(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, modseq) = number64(rest)?;
    let (rest, known_uids) = match rest {
        [b' ', b'(', ..] => (rest, None),
        _ => opt_sp(rest, sequence_set)?,
    };
    let (rest, seq_match) = opt_sp(rest, |i| {
        let Some(i) = i.strip_prefix(b"(") else {
            return fail(i, "(");
        };
        let (i, known) = sequence_set(i)?;
        let (i, _) = sp(i)?;
        let (i, uids) = sequence_set(i)?;
        match i.strip_prefix(b")") {
            Some(i) => Ok((i, (known, uids))),
            None => fail(i, ")"),
        }
    })?;
    let Some(rest) = rest.strip_prefix(b")") else {
        return fail(rest, ")");
    };
    Ok((
        rest,
        SelectParameter::QResync {
            uid_validity,
            modseq,
            known_uids,
            seq_match,
        },
    ))
}

/// `list-mailbox = 1*list-char / string`, `list-char = ATOM-CHAR / list-wildcards /
/// resp-specials`.
fn list_mailbox(input: &[u8]) -> PResult<'_, IString> {
    match input.first() {
        Some(b'"' | b'{') => string(input),
        _ => {
            let end = input
                .iter()
                .position(|&b| !(crate::types::is_astring_char(b) || b == b'%' || b == b'*'))
                .unwrap_or(input.len());
            if end == 0 {
                return fail(input, "list-mailbox");
            }
            Ok((
                input.get(end..).unwrap_or_default(),
                IString::from_trusted(input.get(..end).unwrap_or_default().to_vec()),
            ))
        }
    }
}

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
/// (RFC 5258).
fn list(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, _) = sp(input)?;
    let (rest, select) = if rest.starts_with(b"(") {
        let (rest, options) = paren_list0(rest, |i| {
            let (i, name) = atom(i)?;
            let option = match () {
                _ if name.eq_ignore_case("SUBSCRIBED") => ListSelectOption::Subscribed,
                _ if name.eq_ignore_case("REMOTE") => ListSelectOption::Remote,
                _ if name.eq_ignore_case("RECURSIVEMATCH") => ListSelectOption::RecursiveMatch,
                _ if name.eq_ignore_case("SPECIAL-USE") => ListSelectOption::SpecialUse,
                _ => ListSelectOption::Other(name),
            };
            Ok((i, option))
        })?;
        let (rest, _) = sp(rest)?;
        (rest, options)
    } else {
        (rest, Vec::new())
    };
    let (rest, reference) = mailbox(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, patterns) = if rest.starts_with(b"(") {
        paren_list(rest, list_mailbox)?
    } else {
        let (rest, pattern) = list_mailbox(rest)?;
        (rest, vec![pattern])
    };
    let (rest, return_options) = opt_sp(rest, |i| {
        let (i, _) = keyword(i, "RETURN")?;
        let (i, _) = sp(i)?;
        paren_list0(i, list_return_option)
    })?;
    Ok((
        rest,
        CommandBody::List {
            select,
            reference,
            patterns,
            return_options,
        },
    ))
}

fn list_return_option(input: &[u8]) -> PResult<'_, ListReturnOption> {
    let (rest, name) = atom(input)?;
    let option = match () {
        _ if name.eq_ignore_case("SUBSCRIBED") => ListReturnOption::Subscribed,
        _ if name.eq_ignore_case("CHILDREN") => ListReturnOption::Children,
        _ if name.eq_ignore_case("SPECIAL-USE") => ListReturnOption::SpecialUse,
        _ if name.eq_ignore_case("STATUS") => {
            let (rest, _) = sp(rest)?;
            let (rest, attributes) = paren_list(rest, status_attribute)?;
            return Ok((rest, ListReturnOption::Status(attributes)));
        }
        _ => ListReturnOption::Other(name),
    };
    Ok((rest, option))
}

/// `append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal` (and `literal8`),
/// `append-data =/ "UTF8" SP "(" literal8 ")"` (RFC 6855).
fn append(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, (mailbox, flags, date)) = append_head(input)?;
    let (rest, _) = sp(rest)?;
    let (rest, utf8) = match keyword(rest, "UTF8 (") {
        Ok((rest, _)) => (rest, true),
        Err(_) => (rest, false),
    };
    let (rest, (value, binary)) = literal(rest)?;
    if utf8 && !binary {
        return fail(rest, "literal8 in UTF8 (...)");
    }
    let rest = if utf8 {
        match rest.strip_prefix(b")") {
            Some(rest) => rest,
            None => return fail(rest, ")"),
        }
    } else {
        rest
    };
    let message = match value {
        LiteralValue::Inline(data) => Payload::Inline(data.to_vec()),
        LiteralValue::Streamed(size) => Payload::Streamed(size),
    };
    Ok((
        rest,
        CommandBody::Append {
            mailbox,
            flags,
            date,
            message,
            binary,
            utf8,
        },
    ))
}

type AppendHead = (
    crate::types::Mailbox,
    Option<Vec<Flag>>,
    Option<crate::types::DateTime>,
);

fn append_head(input: &[u8]) -> PResult<'_, AppendHead> {
    let (rest, _) = sp(input)?;
    let (rest, mailbox) = mailbox(rest)?;
    let (rest, flags) = match rest {
        [b' ', b'(', ..] => opt_sp(rest, flag_list)?,
        _ => (rest, None),
    };
    let (rest, date) = match rest {
        [b' ', b'"', ..] => opt_sp(rest, |i| date_time(i, false))?,
        _ => (rest, None),
    };
    Ok((rest, (mailbox, flags, date)))
}

/// The start of an APPEND whose message literal was just announced: `tag SP "APPEND" SP
/// mailbox [SP flag-list] [SP date-time] SP` and the announcement.
pub(crate) fn append_start(message: &[u8]) -> PResult<'_, crate::parse::AppendStart> {
    let (rest, tag) = tag_rule(message)?;
    let (rest, _) = sp(rest)?;
    let (rest, _) = keyword(rest, "APPEND")?;
    let (rest, (mailbox, flags, date)) = append_head(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, utf8) = match keyword(rest, "UTF8 (") {
        Ok((rest, _)) => (rest, true),
        Err(_) => (rest, false),
    };
    let (rest, binary) = match rest.strip_prefix(b"~") {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let Some(rest) = rest.strip_prefix(b"{") else {
        return fail(rest, "literal");
    };
    let (rest, size) = number64(rest)?;
    let rest = rest.strip_prefix(b"+").unwrap_or(rest);
    let Some(rest) = rest.strip_prefix(b"}") else {
        return fail(rest, "}");
    };
    // What the framer appended after the announcement: NUL (streamed) or CRLF (inline).
    let rest = rest
        .strip_prefix(b"\0")
        .or_else(|| rest.strip_prefix(b"\r\n"))
        .unwrap_or(rest);
    Ok((
        rest,
        crate::parse::AppendStart {
            tag,
            mailbox,
            flags,
            date,
            size,
            binary,
            utf8,
        },
    ))
}

/// Whether `prefix` is `tag SP "APPEND" SP mailbox [SP flag-list] [SP date-time] SP`: the
/// place of APPEND's message literal, which the framer streams.
pub(crate) fn is_append_message_position(prefix: &[u8]) -> bool {
    let parsed = (|| -> PResult<'_, ()> {
        let (rest, _) = tag_rule(prefix)?;
        let (rest, _) = sp(rest)?;
        let (rest, _) = keyword(rest, "APPEND")?;
        let (rest, _) = append_head(rest)?;
        let (rest, _) = sp(rest)?;
        let rest = match keyword(rest, "UTF8 (") {
            Ok((rest, _)) => rest,
            Err(_) => rest,
        };
        Ok((rest, ()))
    })();
    matches!(parsed, Ok((rest, ())) if rest.is_empty())
}

/// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att
/// *(SP fetch-att) ")") [fetch-modifiers]`.
fn fetch(input: &[u8], uid: bool) -> PResult<'_, CommandBody> {
    let (rest, _) = sp(input)?;
    let (rest, set) = sequence_set(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, items) = if rest.starts_with(b"(") {
        let (rest, attributes) = paren_list(rest, fetch_attribute)?;
        (
            rest,
            FetchItems::Attributes {
                attributes,
                parenthesised: true,
            },
        )
    } else if let Ok((rest, _)) = keyword_alone(rest, "ALL") {
        (rest, FetchItems::All)
    } else if let Ok((rest, _)) = keyword_alone(rest, "FAST") {
        (rest, FetchItems::Fast)
    } else if let Ok((rest, _)) = keyword_alone(rest, "FULL") {
        (rest, FetchItems::Full)
    } else {
        let (rest, attribute) = fetch_attribute(rest)?;
        (
            rest,
            FetchItems::Attributes {
                attributes: vec![attribute],
                parenthesised: false,
            },
        )
    };
    let (rest, modifiers) = opt_sp(rest, |i| paren_list(i, fetch_modifier))?;
    Ok((
        rest,
        CommandBody::Fetch {
            uid,
            set,
            items,
            modifiers: modifiers.unwrap_or_default(),
        },
    ))
}

/// A keyword that must not continue as a longer atom.
fn keyword_alone<'a>(input: &'a [u8], word: &'static str) -> PResult<'a, ()> {
    let (rest, _) = keyword(input, word)?;
    match rest.first() {
        Some(&b) if crate::types::is_atom_char(b) => fail(input, word),
        _ => Ok((rest, ())),
    }
}

fn fetch_modifier(input: &[u8]) -> PResult<'_, FetchModifier> {
    if let Ok((rest, _)) = keyword(input, "CHANGEDSINCE") {
        let (rest, _) = sp(rest)?;
        let (rest, modseq) = number64(rest)?;
        return Ok((rest, FetchModifier::ChangedSince(modseq)));
    }
    let (rest, _) = keyword_alone(input, "VANISHED")?;
    Ok((rest, FetchModifier::Vanished))
}

/// `partial = "<" number "." nz-number ">"`.
fn partial(input: &[u8]) -> PResult<'_, Option<(u32, crate::types::NonZero)>> {
    let Some(rest) = input.strip_prefix(b"<") else {
        return Ok((input, None));
    };
    let (rest, first) = number(rest)?;
    let Some(rest) = rest.strip_prefix(b".") else {
        return fail(rest, ".");
    };
    let (rest, count) = nz_number(rest)?;
    match rest.strip_prefix(b">") {
        Some(rest) => Ok((rest, Some((first, count)))),
        None => fail(rest, ">"),
    }
}

/// `fetch-att`.
pub(crate) fn fetch_attribute(input: &[u8]) -> PResult<'_, FetchAttribute> {
    let end = input
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.'))
        .unwrap_or(input.len());
    let name = input.get(..end).unwrap_or_default();
    let rest = input.get(end..).unwrap_or_default();
    let simple = |attribute| Ok((rest, attribute));
    match () {
        _ if is(name, "ENVELOPE") => simple(FetchAttribute::Envelope),
        _ if is(name, "FLAGS") => simple(FetchAttribute::Flags),
        _ if is(name, "INTERNALDATE") => simple(FetchAttribute::InternalDate),
        _ if is(name, "RFC822") => simple(FetchAttribute::Rfc822),
        _ if is(name, "RFC822.HEADER") => simple(FetchAttribute::Rfc822Header),
        _ if is(name, "RFC822.SIZE") => simple(FetchAttribute::Rfc822Size),
        _ if is(name, "RFC822.TEXT") => simple(FetchAttribute::Rfc822Text),
        _ if is(name, "BODYSTRUCTURE") => simple(FetchAttribute::BodyStructure),
        _ if is(name, "UID") => simple(FetchAttribute::Uid),
        _ if is(name, "MODSEQ") => simple(FetchAttribute::ModSeq),
        _ if is(name, "BODY") || is(name, "BODY.PEEK") => {
            if !rest.starts_with(b"[") {
                return if is(name, "BODY") {
                    simple(FetchAttribute::Body)
                } else {
                    fail(rest, "[")
                };
            }
            let (rest, section) = section(rest)?;
            let (rest, partial) = partial(rest)?;
            Ok((
                rest,
                FetchAttribute::BodySection {
                    peek: is(name, "BODY.PEEK"),
                    section,
                    partial,
                },
            ))
        }
        _ if is(name, "BINARY") || is(name, "BINARY.PEEK") => {
            let (rest, part) = section_binary(rest)?;
            let (rest, partial) = partial(rest)?;
            Ok((
                rest,
                FetchAttribute::Binary {
                    peek: is(name, "BINARY.PEEK"),
                    part,
                    partial,
                },
            ))
        }
        _ if is(name, "BINARY.SIZE") => {
            let (rest, part) = section_binary(rest)?;
            Ok((rest, FetchAttribute::BinarySize { part }))
        }
        _ => fail(input, "fetch-att"),
    }
}

/// `store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags`,
/// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))`.
fn store(input: &[u8], uid: bool) -> PResult<'_, CommandBody> {
    let (rest, _) = sp(input)?;
    let (rest, set) = sequence_set(rest)?;
    let (rest, unchanged_since) = match rest {
        [b' ', b'(', ..] => {
            let (rest, _) = sp(rest)?;
            let Some(rest) = rest.strip_prefix(b"(") else {
                return fail(rest, "(");
            };
            let (rest, _) = keyword(rest, "UNCHANGEDSINCE")?;
            let (rest, _) = sp(rest)?;
            let (rest, modseq) = number64(rest)?;
            let Some(rest) = rest.strip_prefix(b")") else {
                return fail(rest, ")");
            };
            (rest, Some(modseq))
        }
        _ => (rest, None),
    };
    let (rest, _) = sp(rest)?;
    let (rest, mode) = match rest.split_first() {
        Some((b'+', rest)) => (rest, StoreMode::Add),
        Some((b'-', rest)) => (rest, StoreMode::Remove),
        _ => (rest, StoreMode::Replace),
    };
    let (rest, _) = keyword(rest, "FLAGS")?;
    let (rest, silent) = match keyword(rest, ".SILENT") {
        Ok((rest, _)) => (rest, true),
        Err(_) => (rest, false),
    };
    let (rest, _) = sp(rest)?;
    let (rest, flags) = if rest.starts_with(b"(") {
        flag_list(rest)?
    } else {
        let mut flags = Vec::new();
        let (mut rest, first) = flag(rest)?;
        flags.push(first);
        while let Ok((after, one)) = opt_sp(rest, flag) {
            match one {
                Some(one) => {
                    flags.push(one);
                    rest = after;
                }
                None => break,
            }
        }
        (rest, flags)
    };
    Ok((
        rest,
        CommandBody::Store {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        },
    ))
}

/// `search = "SEARCH" [search-return-opts] [SP "CHARSET" SP charset] 1*(SP search-key)`
/// (RFC 4731 for RETURN).
fn search(input: &[u8], uid: bool, depth_limit: usize) -> PResult<'_, CommandBody> {
    let (rest, return_options) = match keyword(input, " RETURN") {
        Ok((rest, _)) => {
            let (rest, _) = sp(rest)?;
            let (rest, options) = paren_list0(rest, search_return_option)?;
            (rest, Some(options))
        }
        Err(_) => (input, None),
    };
    let (rest, charset) = match keyword(rest, " CHARSET ") {
        Ok((rest, _)) => {
            let (rest, charset) = charset(rest)?;
            (rest, Some(charset))
        }
        Err(_) => (rest, None),
    };
    let mut criteria = Vec::new();
    let mut rest = rest;
    while let Ok((after, _)) = sp(rest) {
        let (after, key) = search_key(after, 1, depth_limit)?;
        criteria.push(key);
        rest = after;
    }
    if criteria.is_empty() {
        return fail(rest, "SP search-key");
    }
    Ok((
        rest,
        CommandBody::Search {
            uid,
            return_options,
            charset,
            criteria,
        },
    ))
}

fn search_return_option(input: &[u8]) -> PResult<'_, SearchReturnOption> {
    let (rest, name) = atom_bytes(input)?;
    let option = match () {
        _ if is(name, "MIN") => SearchReturnOption::Min,
        _ if is(name, "MAX") => SearchReturnOption::Max,
        _ if is(name, "ALL") => SearchReturnOption::All,
        _ if is(name, "COUNT") => SearchReturnOption::Count,
        _ if is(name, "SAVE") => SearchReturnOption::Save,
        _ => return fail(input, "search-return-opt"),
    };
    Ok((rest, option))
}

/// `search-key`, at nesting `depth` (1 for a top-level key).
pub(crate) fn search_key(input: &[u8], depth: usize, limit: usize) -> PResult<'_, SearchKey> {
    if depth > limit {
        return Err(nom::Err::Failure(Failure::new(
            input,
            ParseErrorKind::NestingTooDeep { limit },
        )));
    }
    if input.starts_with(b"(") {
        let (rest, keys) = paren_list(input, |i| search_key(i, depth + 1, limit))?;
        return Ok((rest, SearchKey::And(keys)));
    }
    if input
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'*')
    {
        let (rest, set) = sequence_set(input)?;
        return Ok((rest, SearchKey::SequenceSet(set)));
    }
    let (rest, name) = atom_bytes(input)?;
    let with_string = |make: fn(IString) -> SearchKey| -> PResult<'_, SearchKey> {
        let (rest, _) = sp(rest)?;
        let (rest, value) = astring(rest)?;
        Ok((rest, make(value)))
    };
    let with_date = |make: fn(crate::types::Date) -> SearchKey| -> PResult<'_, SearchKey> {
        let (rest, _) = sp(rest)?;
        let (rest, value) = date(rest)?;
        Ok((rest, make(value)))
    };
    let simple = |key: SearchKey| -> PResult<'_, SearchKey> { Ok((rest, key)) };
    match () {
        _ if is(name, "ALL") => simple(SearchKey::All),
        _ if is(name, "ANSWERED") => simple(SearchKey::Answered),
        _ if is(name, "DELETED") => simple(SearchKey::Deleted),
        _ if is(name, "DRAFT") => simple(SearchKey::Draft),
        _ if is(name, "FLAGGED") => simple(SearchKey::Flagged),
        _ if is(name, "NEW") => simple(SearchKey::New),
        _ if is(name, "OLD") => simple(SearchKey::Old),
        _ if is(name, "RECENT") => simple(SearchKey::Recent),
        _ if is(name, "SEEN") => simple(SearchKey::Seen),
        _ if is(name, "UNANSWERED") => simple(SearchKey::Unanswered),
        _ if is(name, "UNDELETED") => simple(SearchKey::Undeleted),
        _ if is(name, "UNDRAFT") => simple(SearchKey::Undraft),
        _ if is(name, "UNFLAGGED") => simple(SearchKey::Unflagged),
        _ if is(name, "UNSEEN") => simple(SearchKey::Unseen),
        _ if is(name, "BCC") => with_string(SearchKey::Bcc),
        _ if is(name, "BODY") => with_string(SearchKey::Body),
        _ if is(name, "CC") => with_string(SearchKey::Cc),
        _ if is(name, "FROM") => with_string(SearchKey::From),
        _ if is(name, "SUBJECT") => with_string(SearchKey::Subject),
        _ if is(name, "TEXT") => with_string(SearchKey::Text),
        _ if is(name, "TO") => with_string(SearchKey::To),
        _ if is(name, "BEFORE") => with_date(SearchKey::Before),
        _ if is(name, "ON") => with_date(SearchKey::On),
        _ if is(name, "SINCE") => with_date(SearchKey::Since),
        _ if is(name, "SENTBEFORE") => with_date(SearchKey::SentBefore),
        _ if is(name, "SENTON") => with_date(SearchKey::SentOn),
        _ if is(name, "SENTSINCE") => with_date(SearchKey::SentSince),
        _ if is(name, "HEADER") => {
            let (rest, _) = sp(rest)?;
            let (rest, field) = astring(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, value) = astring(rest)?;
            Ok((rest, SearchKey::Header(field, value)))
        }
        _ if is(name, "KEYWORD") || is(name, "UNKEYWORD") => {
            let (rest, _) = sp(rest)?;
            let (rest, keyword) = atom(rest)?;
            Ok((
                rest,
                if is(name, "KEYWORD") {
                    SearchKey::Keyword(keyword)
                } else {
                    SearchKey::Unkeyword(keyword)
                },
            ))
        }
        _ if is(name, "LARGER") || is(name, "SMALLER") => {
            let (rest, _) = sp(rest)?;
            let (rest, size) = number64(rest)?;
            Ok((
                rest,
                if is(name, "LARGER") {
                    SearchKey::Larger(size)
                } else {
                    SearchKey::Smaller(size)
                },
            ))
        }
        _ if is(name, "NOT") => {
            let (rest, _) = sp(rest)?;
            let (rest, key) = search_key(rest, depth + 1, limit)?;
            Ok((rest, SearchKey::Not(Box::new(key))))
        }
        _ if is(name, "OR") => {
            let (rest, _) = sp(rest)?;
            let (rest, left) = search_key(rest, depth + 1, limit)?;
            let (rest, _) = sp(rest)?;
            let (rest, right) = search_key(rest, depth + 1, limit)?;
            Ok((rest, SearchKey::Or(Box::new(left), Box::new(right))))
        }
        _ if is(name, "UID") => {
            let (rest, _) = sp(rest)?;
            let (rest, set) = sequence_set(rest)?;
            Ok((rest, SearchKey::Uid(set)))
        }
        _ if is(name, "MODSEQ") => {
            let (rest, _) = sp(rest)?;
            let (rest, entry) = if rest.starts_with(b"\"") {
                // `entry-name = entry-flag-name`, `"/flags/" attr-flag` in quotes.
                let (rest, entry) = super::core::quoted(rest)?;
                let Some(flag_name) = entry.strip_prefix(b"/flags/") else {
                    return fail(rest, "/flags/ entry name");
                };
                let Ok((_, entry_flag)) = flag(flag_name) else {
                    return fail(rest, "a flag in the entry name");
                };
                let (rest, _) = sp(rest)?;
                let (rest, kind) = atom(rest)?;
                if !["priv", "shared", "all"]
                    .iter()
                    .any(|known| kind.eq_ignore_case(known))
                {
                    return fail(rest, "entry-type-req");
                }
                let (rest, _) = sp(rest)?;
                (rest, Some((entry_flag, kind)))
            } else {
                (rest, None)
            };
            let (rest, modseq) = number64(rest)?;
            Ok((rest, SearchKey::ModSeq { entry, modseq }))
        }
        _ => fail(input, "search-key"),
    }
}

/// `idle = "IDLE" CRLF "DONE"`: whether a line is the `DONE` that ends IDLE.
pub(crate) fn idle_done(line: &[u8]) -> bool {
    line.eq_ignore_ascii_case(b"DONE")
}
