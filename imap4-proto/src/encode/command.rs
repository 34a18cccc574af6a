//! Commands (client side).

use base64::Engine as _;

use super::items::{
    date, date_time, flag, flag_list, mailbox, part, section, sequence_set, status_attribute,
};
use super::writer::Writer;
use super::{Encoded, LiteralPolicy};
use crate::types::{
    Command, CommandBody, FetchAttribute, FetchItems, FetchModifier, IString, ListReturnOption,
    ListSelectOption, NString, Payload, SearchKey, SearchReturnOption, SelectParameter, StoreMode,
};

/// Encodes a command; literals follow `policy`.
pub fn command(command: &Command, policy: LiteralPolicy) -> Encoded {
    let mut w = Writer::client(policy);
    w.raw(command.tag.as_str().as_bytes());
    w.sp();
    body(&mut w, &command.body);
    w.finish()
}

pub(crate) fn id_params(w: &mut Writer, params: &Option<Vec<(IString, NString)>>) {
    match params {
        None => w.raw(b"NIL"),
        Some(params) => w.list(params, |w, (name, value)| {
            w.string(name.as_bytes());
            w.sp();
            w.nstring(value);
        }),
    }
}

fn select_parameters(w: &mut Writer, parameters: &[SelectParameter]) {
    if parameters.is_empty() {
        return;
    }
    w.sp();
    w.list(parameters, |w, parameter| match parameter {
        SelectParameter::CondStore => w.raw(b"CONDSTORE"),
        SelectParameter::QResync {
            uid_validity,
            modseq,
            known_uids,
            seq_match,
        } => {
            w.raw(b"QRESYNC (");
            w.number(uid_validity.get());
            w.sp();
            w.number(*modseq);
            if let Some(known) = known_uids {
                w.sp();
                sequence_set(w, known);
            }
            if let Some((known, uids)) = seq_match {
                w.raw(b" (");
                sequence_set(w, known);
                w.sp();
                sequence_set(w, uids);
                w.raw(b")");
            }
            w.raw(b")");
        }
    });
}

fn body(w: &mut Writer, body: &CommandBody) {
    let keyword = |w: &mut Writer, word: &str| w.raw(word.as_bytes());
    match body {
        CommandBody::Capability
        | CommandBody::Noop
        | CommandBody::Logout
        | CommandBody::StartTls
        | CommandBody::Namespace
        | CommandBody::Idle
        | CommandBody::Check
        | CommandBody::Close
        | CommandBody::Unselect
        | CommandBody::Expunge => keyword(w, body.name()),
        CommandBody::Id(params) => {
            keyword(w, "ID ");
            id_params(w, params);
        }
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        } => {
            keyword(w, "AUTHENTICATE ");
            w.raw(mechanism.as_str().as_bytes());
            if let Some(initial) = initial_response {
                w.sp();
                if initial.is_empty() {
                    w.raw(b"=");
                } else {
                    w.raw(
                        base64::engine::general_purpose::STANDARD
                            .encode(initial)
                            .as_bytes(),
                    );
                }
            }
        }
        CommandBody::Login { username, password } => {
            keyword(w, "LOGIN ");
            w.astring(username.as_bytes());
            w.sp();
            w.astring(password.0.as_bytes());
        }
        CommandBody::Enable(capabilities) => {
            keyword(w, "ENABLE");
            for capability in capabilities {
                w.sp();
                w.raw(capability.as_str().as_bytes());
            }
        }
        CommandBody::Select {
            mailbox: m,
            parameters,
        }
        | CommandBody::Examine {
            mailbox: m,
            parameters,
        } => {
            keyword(w, body.name());
            w.sp();
            mailbox(w, m);
            select_parameters(w, parameters);
        }
        CommandBody::Create {
            mailbox: m,
            special_use,
        } => {
            keyword(w, "CREATE ");
            mailbox(w, m);
            if let Some(uses) = special_use {
                w.raw(b" (USE ");
                w.list(uses, super::items::mailbox_attribute);
                w.raw(b")");
            }
        }
        CommandBody::Delete(m) | CommandBody::Subscribe(m) | CommandBody::Unsubscribe(m) => {
            keyword(w, body.name());
            w.sp();
            mailbox(w, m);
        }
        CommandBody::Rename { from, to } => {
            keyword(w, "RENAME ");
            mailbox(w, from);
            w.sp();
            mailbox(w, to);
        }
        CommandBody::List {
            select,
            reference,
            patterns,
            return_options,
        } => {
            keyword(w, "LIST ");
            if !select.is_empty() {
                w.list(select, |w, option| match option {
                    ListSelectOption::Subscribed => w.raw(b"SUBSCRIBED"),
                    ListSelectOption::Remote => w.raw(b"REMOTE"),
                    ListSelectOption::RecursiveMatch => w.raw(b"RECURSIVEMATCH"),
                    ListSelectOption::SpecialUse => w.raw(b"SPECIAL-USE"),
                    ListSelectOption::Other(atom) => w.raw(atom.as_str().as_bytes()),
                });
                w.sp();
            }
            mailbox(w, reference);
            w.sp();
            match patterns.as_slice() {
                [one] => w.list_mailbox(one.as_bytes()),
                several => w.list(several, |w, p| w.list_mailbox(p.as_bytes())),
            }
            if let Some(options) = return_options {
                w.raw(b" RETURN ");
                w.list(options, |w, option| match option {
                    ListReturnOption::Subscribed => w.raw(b"SUBSCRIBED"),
                    ListReturnOption::Children => w.raw(b"CHILDREN"),
                    ListReturnOption::SpecialUse => w.raw(b"SPECIAL-USE"),
                    ListReturnOption::Status(attributes) => {
                        w.raw(b"STATUS ");
                        w.list(attributes, |w, a| status_attribute(w, *a));
                    }
                    ListReturnOption::Other(atom) => w.raw(atom.as_str().as_bytes()),
                });
            }
        }
        CommandBody::Lsub { reference, pattern } => {
            keyword(w, "LSUB ");
            mailbox(w, reference);
            w.sp();
            w.list_mailbox(pattern.as_bytes());
        }
        CommandBody::Status {
            mailbox: m,
            attributes,
        } => {
            keyword(w, "STATUS ");
            mailbox(w, m);
            w.sp();
            w.list(attributes, |w, a| status_attribute(w, *a));
        }
        CommandBody::Append {
            mailbox: m,
            flags,
            date,
            message,
            binary,
            utf8,
        } => {
            keyword(w, "APPEND ");
            mailbox(w, m);
            if let Some(flags) = flags {
                w.sp();
                flag_list(w, flags);
            }
            if let Some(date) = date {
                w.sp();
                date_time(w, date);
            }
            w.sp();
            if *utf8 {
                w.raw(b"UTF8 (");
            }
            let binary = *binary || *utf8;
            match message {
                Payload::Inline(data) => w.literal(data, binary),
                Payload::Streamed(size) => w.streamed_literal(*size, binary),
            }
            if *utf8 {
                w.raw(b")");
            }
        }
        CommandBody::Compress(mechanism) => {
            keyword(w, "COMPRESS ");
            w.raw(mechanism.as_str().as_bytes());
        }
        CommandBody::UidExpunge(set) => {
            keyword(w, "UID EXPUNGE ");
            sequence_set(w, set);
        }
        CommandBody::Search {
            uid,
            return_options,
            charset,
            criteria,
        } => {
            keyword(w, if *uid { "UID SEARCH" } else { "SEARCH" });
            if let Some(options) = return_options {
                w.raw(b" RETURN ");
                w.list(options, |w, option| {
                    w.raw(match option {
                        SearchReturnOption::Min => b"MIN".as_slice(),
                        SearchReturnOption::Max => b"MAX",
                        SearchReturnOption::All => b"ALL",
                        SearchReturnOption::Count => b"COUNT",
                        SearchReturnOption::Save => b"SAVE",
                    })
                });
            }
            if let Some(charset) = charset {
                w.raw(b" CHARSET ");
                w.charset(charset.as_bytes());
            }
            for key in criteria {
                w.sp();
                search_key(w, key);
            }
        }
        CommandBody::Fetch {
            uid,
            set,
            items,
            modifiers,
        } => {
            keyword(w, if *uid { "UID FETCH " } else { "FETCH " });
            sequence_set(w, set);
            w.sp();
            match items {
                FetchItems::All => w.raw(b"ALL"),
                FetchItems::Fast => w.raw(b"FAST"),
                FetchItems::Full => w.raw(b"FULL"),
                FetchItems::Attributes {
                    attributes,
                    parenthesised,
                } => match attributes.as_slice() {
                    [one] if !parenthesised => fetch_attribute(w, one),
                    several => w.list(several, fetch_attribute),
                },
            }
            if !modifiers.is_empty() {
                w.sp();
                w.list(modifiers, |w, modifier| match modifier {
                    FetchModifier::ChangedSince(modseq) => {
                        w.raw(b"CHANGEDSINCE ");
                        w.number(*modseq);
                    }
                    FetchModifier::Vanished => w.raw(b"VANISHED"),
                });
            }
        }
        CommandBody::Store {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        } => {
            keyword(w, if *uid { "UID STORE " } else { "STORE " });
            sequence_set(w, set);
            if let Some(modseq) = unchanged_since {
                w.raw(b" (UNCHANGEDSINCE ");
                w.number(*modseq);
                w.raw(b")");
            }
            w.sp();
            w.raw(match mode {
                StoreMode::Replace => b"".as_slice(),
                StoreMode::Add => b"+",
                StoreMode::Remove => b"-",
            });
            w.raw(if *silent { b"FLAGS.SILENT " } else { b"FLAGS " });
            flag_list(w, flags);
        }
        CommandBody::Copy {
            uid,
            set,
            mailbox: m,
        }
        | CommandBody::Move {
            uid,
            set,
            mailbox: m,
        } => {
            if *uid {
                keyword(w, "UID ");
            }
            keyword(w, body.name());
            w.sp();
            sequence_set(w, set);
            w.sp();
            mailbox(w, m);
        }
    }
}

fn partial(w: &mut Writer, partial: &Option<(u32, crate::types::NonZero)>) {
    if let Some((first, count)) = partial {
        w.raw(b"<");
        w.number(*first);
        w.raw(b".");
        w.number(count.get());
        w.raw(b">");
    }
}

fn fetch_attribute(w: &mut Writer, attribute: &FetchAttribute) {
    match attribute {
        FetchAttribute::Envelope => w.raw(b"ENVELOPE"),
        FetchAttribute::Flags => w.raw(b"FLAGS"),
        FetchAttribute::InternalDate => w.raw(b"INTERNALDATE"),
        FetchAttribute::Rfc822 => w.raw(b"RFC822"),
        FetchAttribute::Rfc822Header => w.raw(b"RFC822.HEADER"),
        FetchAttribute::Rfc822Size => w.raw(b"RFC822.SIZE"),
        FetchAttribute::Rfc822Text => w.raw(b"RFC822.TEXT"),
        FetchAttribute::Body => w.raw(b"BODY"),
        FetchAttribute::BodyStructure => w.raw(b"BODYSTRUCTURE"),
        FetchAttribute::Uid => w.raw(b"UID"),
        FetchAttribute::ModSeq => w.raw(b"MODSEQ"),
        FetchAttribute::BodySection {
            peek,
            section: s,
            partial: p,
        } => {
            w.raw(if *peek { b"BODY.PEEK" } else { b"BODY" });
            section(w, s);
            partial(w, p);
        }
        FetchAttribute::Binary {
            peek,
            part: p,
            partial: range,
        } => {
            w.raw(if *peek { b"BINARY.PEEK[" } else { b"BINARY[" });
            part(w, p);
            w.raw(b"]");
            partial(w, range);
        }
        FetchAttribute::BinarySize { part: p } => {
            w.raw(b"BINARY.SIZE[");
            part(w, p);
            w.raw(b"]");
        }
    }
}

fn search_key(w: &mut Writer, key: &SearchKey) {
    let with_string = |w: &mut Writer, word: &[u8], value: &IString| {
        w.raw(word);
        w.sp();
        w.astring(value.as_bytes());
    };
    let with_date = |w: &mut Writer, word: &[u8], value: &crate::types::Date| {
        w.raw(word);
        w.sp();
        date(w, value);
    };
    match key {
        SearchKey::All => w.raw(b"ALL"),
        SearchKey::Answered => w.raw(b"ANSWERED"),
        SearchKey::Deleted => w.raw(b"DELETED"),
        SearchKey::Draft => w.raw(b"DRAFT"),
        SearchKey::Flagged => w.raw(b"FLAGGED"),
        SearchKey::New => w.raw(b"NEW"),
        SearchKey::Old => w.raw(b"OLD"),
        SearchKey::Recent => w.raw(b"RECENT"),
        SearchKey::Seen => w.raw(b"SEEN"),
        SearchKey::Unanswered => w.raw(b"UNANSWERED"),
        SearchKey::Undeleted => w.raw(b"UNDELETED"),
        SearchKey::Undraft => w.raw(b"UNDRAFT"),
        SearchKey::Unflagged => w.raw(b"UNFLAGGED"),
        SearchKey::Unseen => w.raw(b"UNSEEN"),
        SearchKey::Bcc(v) => with_string(w, b"BCC", v),
        SearchKey::Body(v) => with_string(w, b"BODY", v),
        SearchKey::Cc(v) => with_string(w, b"CC", v),
        SearchKey::From(v) => with_string(w, b"FROM", v),
        SearchKey::Subject(v) => with_string(w, b"SUBJECT", v),
        SearchKey::Text(v) => with_string(w, b"TEXT", v),
        SearchKey::To(v) => with_string(w, b"TO", v),
        SearchKey::Before(d) => with_date(w, b"BEFORE", d),
        SearchKey::On(d) => with_date(w, b"ON", d),
        SearchKey::Since(d) => with_date(w, b"SINCE", d),
        SearchKey::SentBefore(d) => with_date(w, b"SENTBEFORE", d),
        SearchKey::SentOn(d) => with_date(w, b"SENTON", d),
        SearchKey::SentSince(d) => with_date(w, b"SENTSINCE", d),
        SearchKey::Header(field, value) => {
            w.raw(b"HEADER ");
            w.astring(field.as_bytes());
            w.sp();
            w.astring(value.as_bytes());
        }
        SearchKey::Keyword(k) => {
            w.raw(b"KEYWORD ");
            w.raw(k.as_str().as_bytes());
        }
        SearchKey::Unkeyword(k) => {
            w.raw(b"UNKEYWORD ");
            w.raw(k.as_str().as_bytes());
        }
        SearchKey::Larger(n) => {
            w.raw(b"LARGER ");
            w.number(*n);
        }
        SearchKey::Smaller(n) => {
            w.raw(b"SMALLER ");
            w.number(*n);
        }
        SearchKey::Not(inner) => {
            w.raw(b"NOT ");
            search_key(w, inner);
        }
        SearchKey::Or(left, right) => {
            w.raw(b"OR ");
            search_key(w, left);
            w.sp();
            search_key(w, right);
        }
        SearchKey::Uid(set) => {
            w.raw(b"UID ");
            sequence_set(w, set);
        }
        SearchKey::SequenceSet(set) => sequence_set(w, set),
        SearchKey::And(keys) => w.list(keys, search_key),
        SearchKey::ModSeq { entry, modseq } => {
            w.raw(b"MODSEQ ");
            if let Some((entry_flag, kind)) = entry {
                let mut name = Writer::server();
                name.raw(b"/flags/");
                flag(&mut name, entry_flag);
                let name = name.finish().to_bytes().unwrap_or_default();
                w.string(name.strip_suffix(b"\r\n").unwrap_or(&name));
                w.sp();
                w.raw(kind.as_str().as_bytes());
                w.sp();
            }
            w.number(*modseq);
        }
    }
}
