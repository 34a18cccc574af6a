//! Rules both directions use: flags, mailboxes, sections, status attributes.

use nom::bytes::complete::tag_no_case;
use nom::Parser;

use super::core::{astring, atom, atom_bytes, nz_number, paren_list, sp};
use super::error::{Failure, PResult};
use crate::types::{
    Flag, FlagPerm, Mailbox, MailboxAttribute, NonZero, Section, SectionText, StatusAttribute,
};

fn fail<'a, T>(input: &'a [u8], expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(Failure::expected(input, expected)))
}

/// `mailbox = "INBOX" / astring`.
pub(crate) fn mailbox(input: &[u8]) -> PResult<'_, Mailbox> {
    let (rest, name) = astring(input)?;
    match Mailbox::try_from(name.as_bytes()) {
        Ok(mailbox) => Ok((rest, mailbox)),
        Err(_) => fail(input, "mailbox name without NUL, CR or LF"),
    }
}

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword /
/// flag-extension`, plus `\Recent` (`flag-fetch`).
pub(crate) fn flag(input: &[u8]) -> PResult<'_, Flag> {
    let (rest, system) = match input.strip_prefix(b"\\") {
        Some(rest) => (rest, true),
        None => (input, false),
    };
    let (rest, atom) = atom(rest)?;
    let flag = if !system {
        Flag::Keyword(atom)
    } else {
        match () {
            _ if atom.eq_ignore_case("Answered") => Flag::Answered,
            _ if atom.eq_ignore_case("Flagged") => Flag::Flagged,
            _ if atom.eq_ignore_case("Deleted") => Flag::Deleted,
            _ if atom.eq_ignore_case("Seen") => Flag::Seen,
            _ if atom.eq_ignore_case("Draft") => Flag::Draft,
            _ if atom.eq_ignore_case("Recent") => Flag::Recent,
            _ => Flag::Extension(atom),
        }
    };
    Ok((rest, flag))
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub(crate) fn flag_list(input: &[u8]) -> PResult<'_, Vec<Flag>> {
    super::core::paren_list0(input, flag)
}

/// `flag-perm = flag / "\*"`.
pub(crate) fn flag_perm(input: &[u8]) -> PResult<'_, FlagPerm> {
    match input.strip_prefix(b"\\*") {
        Some(rest) => Ok((rest, FlagPerm::Any)),
        None => flag(input).map(|(rest, flag)| (rest, FlagPerm::Flag(flag))),
    }
}

/// `mbx-list-flags` entries: `"\" atom` (and, tolerated, plain atoms as extensions).
pub(crate) fn mailbox_attribute(input: &[u8]) -> PResult<'_, MailboxAttribute> {
    let Some(rest) = input.strip_prefix(b"\\") else {
        return fail(input, "\\ of a mailbox attribute");
    };
    let (rest, name) = atom(rest)?;
    let known = MailboxAttribute::KNOWN
        .iter()
        .find(|(known, _)| name.eq_ignore_case(known))
        .map(|(_, attribute)| attribute.clone());
    Ok((rest, known.unwrap_or(MailboxAttribute::Extension(name))))
}

/// `section-part = nz-number *("." nz-number)`.
fn section_part(input: &[u8]) -> PResult<'_, Vec<NonZero>> {
    let mut parts = Vec::new();
    let mut rest = input;
    loop {
        let (after, n) = nz_number(rest)?;
        parts.push(n);
        match after {
            [b'.', digit, ..] if digit.is_ascii_digit() => {
                rest = after.get(1..).unwrap_or_default();
            }
            _ => return Ok((after, parts)),
        }
    }
}

/// `section-msgtext` and `MIME`.
fn section_text(input: &[u8], allow_mime: bool) -> PResult<'_, SectionText> {
    if let Ok((rest, _)) = tag_no_case::<_, _, Failure>("HEADER.FIELDS").parse(input) {
        let (rest, not) = match tag_no_case::<_, _, Failure>(".NOT").parse(rest) {
            Ok((rest, _)) => (rest, true),
            Err(_) => (rest, false),
        };
        let (rest, _) = sp(rest)?;
        let (rest, fields) = paren_list(rest, astring)?;
        return Ok((rest, SectionText::HeaderFields { not, fields }));
    }
    if let Ok((rest, _)) = tag_no_case::<_, _, Failure>("HEADER").parse(input) {
        return Ok((rest, SectionText::Header));
    }
    if let Ok((rest, _)) = tag_no_case::<_, _, Failure>("TEXT").parse(input) {
        return Ok((rest, SectionText::Text));
    }
    if allow_mime {
        if let Ok((rest, _)) = tag_no_case::<_, _, Failure>("MIME").parse(input) {
            return Ok((rest, SectionText::Mime));
        }
    }
    fail(input, "section-text")
}

/// `section = "[" [section-spec] "]"`.
pub(crate) fn section(input: &[u8]) -> PResult<'_, Section> {
    let Some(rest) = input.strip_prefix(b"[") else {
        return fail(input, "[");
    };
    if let Some(rest) = rest.strip_prefix(b"]") {
        return Ok((rest, Section::default()));
    }
    let (rest, section) = if rest.first().is_some_and(u8::is_ascii_digit) {
        let (rest, part) = section_part(rest)?;
        match rest.strip_prefix(b".") {
            Some(more) => {
                let (rest, text) = section_text(more, true)?;
                (
                    rest,
                    Section {
                        part,
                        text: Some(text),
                    },
                )
            }
            None => (rest, Section { part, text: None }),
        }
    } else {
        let (rest, text) = section_text(rest, false)?;
        (
            rest,
            Section {
                part: Vec::new(),
                text: Some(text),
            },
        )
    };
    match rest.strip_prefix(b"]") {
        Some(rest) => Ok((rest, section)),
        None => fail(rest, "]"),
    }
}

/// `section-binary = "[" [section-part] "]"`.
pub(crate) fn section_binary(input: &[u8]) -> PResult<'_, Vec<NonZero>> {
    let Some(rest) = input.strip_prefix(b"[") else {
        return fail(input, "[");
    };
    if let Some(rest) = rest.strip_prefix(b"]") {
        return Ok((rest, Vec::new()));
    }
    let (rest, part) = section_part(rest)?;
    match rest.strip_prefix(b"]") {
        Some(rest) => Ok((rest, part)),
        None => fail(rest, "]"),
    }
}

/// `status-att`.
pub(crate) fn status_attribute(input: &[u8]) -> PResult<'_, StatusAttribute> {
    let (rest, name) = atom_bytes(input)?;
    match StatusAttribute::ALL
        .iter()
        .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(name))
    {
        Some((_, attribute)) => Ok((rest, *attribute)),
        None => fail(input, "status-att"),
    }
}

/// A keyword, matched without regard to case, followed by the end or a non-atom octet.
pub(crate) fn keyword<'a>(input: &'a [u8], word: &'static str) -> PResult<'a, ()> {
    match input.get(..word.len()) {
        Some(found) if found.eq_ignore_ascii_case(word.as_bytes()) => {
            let rest = input.get(word.len()..).unwrap_or_default();
            Ok((rest, ()))
        }
        _ => fail(input, word),
    }
}
