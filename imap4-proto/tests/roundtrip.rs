//! Round trips: every value the types can hold encodes to bytes that parse back to the same
//! value, and those bytes frame as exactly one message, however they are split.

use std::num::NonZeroU32;

use imap4_proto::encode::{self, Fragment, LiteralPolicy};
use imap4_proto::framing::{Frame, Framer, FramerOptions, Role};
use imap4_proto::parse::{self, ResponseOptions};
use imap4_proto::types::*;
use proptest::prelude::*;
use proptest::strategy::Union;

const MAX63: u64 = i64::MAX as u64;

fn nz() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![1u32..100, 1u32..=u32::MAX].prop_map(|n| NonZeroU32::new(n).unwrap())
}

fn atom() -> impl Strategy<Value = Atom> {
    "[A-Za-z0-9$._-]{1,10}".prop_map(|s| Atom::try_from(s.as_str()).unwrap())
}

/// Atoms that are no keyword this crate knows (for `Other` variants).
fn extension_atom() -> impl Strategy<Value = Atom> {
    "X[A-Za-z0-9-]{0,8}".prop_map(|s| Atom::try_from(s.as_str()).unwrap())
}

fn tag() -> impl Strategy<Value = Tag> {
    "[A-Za-z0-9.]{1,8}".prop_map(|s| Tag::try_from(s.as_str()).unwrap())
}

/// Any string without NUL: plain atoms, quotable text, 8-bit and CR LF (literals).
fn istring() -> impl Strategy<Value = IString> {
    prop_oneof![
        "[A-Za-z0-9]{1,8}".prop_map(String::into_bytes),
        "[ -~]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(1u8..=255, 0..20),
        Just(b"NIL".to_vec()),
    ]
    .prop_map(|bytes| IString::try_from(bytes).unwrap())
}

fn nstring() -> impl Strategy<Value = NString> {
    proptest::option::of(istring())
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    prop_oneof![
        Just(Mailbox::Inbox),
        "[A-Za-z0-9/ .&-]{0,12}".prop_map(|s| Mailbox::try_from(s.as_str()).unwrap()),
        "\\PC{1,6}".prop_map(|s| Mailbox::from_unicode(&s).unwrap()),
        proptest::collection::vec(1u8..=255, 1..12)
            .prop_filter_map("no CR LF", |b| Mailbox::try_from(b.as_slice()).ok()),
    ]
}

fn sequence_set() -> impl Strategy<Value = SequenceSet> {
    let number = prop_oneof![
        4 => nz().prop_map(SeqNumber::Value),
        1 => Just(SeqNumber::Largest),
    ];
    let item = prop_oneof![
        number.clone().prop_map(Sequence::Single),
        (number.clone(), number).prop_map(|(a, b)| Sequence::Range(a, b)),
    ];
    proptest::collection::vec(item, 1..4).prop_map(|items| SequenceSet::try_from(items).unwrap())
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Seen),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        extension_atom().prop_map(Flag::Extension),
    ]
}

fn fetched_flag() -> impl Strategy<Value = Flag> {
    prop_oneof![flag(), Just(Flag::Recent)]
}

fn date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..61, -5999i16..=5999)
        .prop_map(|(d, h, m, s, z)| DateTime::new(d, h, m, s, z).unwrap())
}

fn part() -> impl Strategy<Value = Vec<NonZeroU32>> {
    proptest::collection::vec(nz(), 0..4)
}

fn section() -> impl Strategy<Value = Section> {
    let text = prop_oneof![
        Just(SectionText::Header),
        Just(SectionText::Text),
        (any::<bool>(), proptest::collection::vec(istring(), 1..3))
            .prop_map(|(not, fields)| SectionText::HeaderFields { not, fields }),
    ];
    (part(), proptest::option::of(text), any::<bool>()).prop_map(|(part, text, mime)| {
        let text = if mime && !part.is_empty() {
            Some(SectionText::Mime)
        } else {
            text
        };
        Section { part, text }
    })
}

fn partial() -> impl Strategy<Value = Option<(u32, NonZeroU32)>> {
    proptest::option::of((any::<u32>(), nz()))
}

fn fetch_attribute() -> impl Strategy<Value = FetchAttribute> {
    prop_oneof![
        Just(FetchAttribute::Envelope),
        Just(FetchAttribute::Flags),
        Just(FetchAttribute::InternalDate),
        Just(FetchAttribute::Rfc822),
        Just(FetchAttribute::Rfc822Header),
        Just(FetchAttribute::Rfc822Size),
        Just(FetchAttribute::Rfc822Text),
        Just(FetchAttribute::Body),
        Just(FetchAttribute::BodyStructure),
        Just(FetchAttribute::Uid),
        Just(FetchAttribute::ModSeq),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            FetchAttribute::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), part(), partial()).prop_map(|(peek, part, partial)| {
            FetchAttribute::Binary {
                peek,
                part,
                partial,
            }
        }),
        part().prop_map(|part| FetchAttribute::BinarySize { part }),
    ]
}

fn status_attribute() -> impl Strategy<Value = StatusAttribute> {
    prop_oneof![
        Just(StatusAttribute::Messages),
        Just(StatusAttribute::Recent),
        Just(StatusAttribute::UidNext),
        Just(StatusAttribute::UidValidity),
        Just(StatusAttribute::Unseen),
        Just(StatusAttribute::Deleted),
        Just(StatusAttribute::Size),
        Just(StatusAttribute::HighestModSeq),
    ]
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Answered),
        Just(SearchKey::Deleted),
        Just(SearchKey::Draft),
        Just(SearchKey::Flagged),
        Just(SearchKey::New),
        Just(SearchKey::Old),
        Just(SearchKey::Recent),
        Just(SearchKey::Seen),
        Just(SearchKey::Unanswered),
        Just(SearchKey::Undeleted),
        Just(SearchKey::Undraft),
        Just(SearchKey::Unflagged),
        Just(SearchKey::Unseen),
        istring().prop_map(SearchKey::Bcc),
        istring().prop_map(SearchKey::Body),
        istring().prop_map(SearchKey::Cc),
        istring().prop_map(SearchKey::From),
        istring().prop_map(SearchKey::Subject),
        istring().prop_map(SearchKey::Text),
        istring().prop_map(SearchKey::To),
        (istring(), istring()).prop_map(|(f, v)| SearchKey::Header(f, v)),
        date().prop_map(SearchKey::Before),
        date().prop_map(SearchKey::On),
        date().prop_map(SearchKey::Since),
        date().prop_map(SearchKey::SentBefore),
        date().prop_map(SearchKey::SentOn),
        date().prop_map(SearchKey::SentSince),
        atom().prop_map(SearchKey::Keyword),
        atom().prop_map(SearchKey::Unkeyword),
        (0..=MAX63).prop_map(SearchKey::Larger),
        (0..=MAX63).prop_map(SearchKey::Smaller),
        sequence_set().prop_map(SearchKey::Uid),
        sequence_set().prop_map(SearchKey::SequenceSet),
        (
            proptest::option::of((
                flag(),
                prop_oneof![Just("priv"), Just("shared"), Just("all")]
                    .prop_map(|k| Atom::try_from(k).unwrap())
            )),
            0..=MAX63
        )
            .prop_map(|(entry, modseq)| SearchKey::ModSeq { entry, modseq }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            proptest::collection::vec(inner, 1..4).prop_map(SearchKey::And),
        ]
    })
}

fn payload(binary: bool) -> impl Strategy<Value = Payload> {
    let low = if binary { 0u8 } else { 1u8 };
    proptest::collection::vec(low..=255, 0..40).prop_map(Payload::Inline)
}

fn select_parameter() -> impl Strategy<Value = SelectParameter> {
    prop_oneof![
        Just(SelectParameter::CondStore),
        (
            nz(),
            0..=MAX63,
            proptest::option::of(sequence_set()),
            proptest::option::of((sequence_set(), sequence_set()))
        )
            .prop_map(|(uid_validity, modseq, known_uids, seq_match)| {
                SelectParameter::QResync {
                    uid_validity,
                    modseq,
                    known_uids,
                    seq_match,
                }
            }),
    ]
}

fn command_body() -> impl Strategy<Value = CommandBody> {
    let simple = prop_oneof![
        Just(CommandBody::Capability),
        Just(CommandBody::Noop),
        Just(CommandBody::Logout),
        Just(CommandBody::StartTls),
        Just(CommandBody::Namespace),
        Just(CommandBody::Idle),
        Just(CommandBody::Check),
        Just(CommandBody::Close),
        Just(CommandBody::Unselect),
        Just(CommandBody::Expunge),
        proptest::option::of(proptest::collection::vec((istring(), nstring()), 0..3))
            .prop_map(CommandBody::Id),
        (
            atom(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20))
        )
            .prop_map(|(mechanism, initial_response)| CommandBody::Authenticate {
                mechanism,
                initial_response
            }),
        (istring(), istring()).prop_map(|(u, p)| CommandBody::Login {
            username: u,
            password: Password(p)
        }),
        proptest::collection::vec(atom(), 1..4).prop_map(CommandBody::Enable),
        (
            mailbox(),
            proptest::collection::vec(select_parameter(), 0..2),
            any::<bool>()
        )
            .prop_map(|(mailbox, parameters, select)| if select {
                CommandBody::Select {
                    mailbox,
                    parameters,
                }
            } else {
                CommandBody::Examine {
                    mailbox,
                    parameters,
                }
            }),
        (
            mailbox(),
            proptest::option::of(proptest::collection::vec(mailbox_attribute(), 0..3))
        )
            .prop_map(|(mailbox, special_use)| CommandBody::Create {
                mailbox,
                special_use
            }),
        mailbox().prop_map(CommandBody::Delete),
        mailbox().prop_map(CommandBody::Subscribe),
        mailbox().prop_map(CommandBody::Unsubscribe),
        (mailbox(), mailbox()).prop_map(|(from, to)| CommandBody::Rename { from, to }),
        atom().prop_map(CommandBody::Compress),
        sequence_set().prop_map(CommandBody::UidExpunge),
    ];
    let list_select = prop_oneof![
        Just(ListSelectOption::Subscribed),
        Just(ListSelectOption::Remote),
        Just(ListSelectOption::RecursiveMatch),
        Just(ListSelectOption::SpecialUse),
        extension_atom().prop_map(ListSelectOption::Other),
    ];
    let list_return = prop_oneof![
        Just(ListReturnOption::Subscribed),
        Just(ListReturnOption::Children),
        Just(ListReturnOption::SpecialUse),
        proptest::collection::vec(status_attribute(), 1..3).prop_map(ListReturnOption::Status),
        extension_atom().prop_map(ListReturnOption::Other),
    ];
    let search_return = prop_oneof![
        Just(SearchReturnOption::Min),
        Just(SearchReturnOption::Max),
        Just(SearchReturnOption::All),
        Just(SearchReturnOption::Count),
        Just(SearchReturnOption::Save),
    ];
    let fetch_items = prop_oneof![
        Just(FetchItems::All),
        Just(FetchItems::Fast),
        Just(FetchItems::Full),
        (
            proptest::collection::vec(fetch_attribute(), 1..4),
            any::<bool>()
        )
            .prop_map(|(attributes, parenthesised)| FetchItems::Attributes {
                parenthesised: parenthesised || attributes.len() > 1,
                attributes,
            }),
    ];
    let modifier = prop_oneof![
        (0..=MAX63).prop_map(FetchModifier::ChangedSince),
        Just(FetchModifier::Vanished),
    ];
    let store_mode = prop_oneof![
        Just(StoreMode::Replace),
        Just(StoreMode::Add),
        Just(StoreMode::Remove)
    ];
    let selected = prop_oneof![
        (
            proptest::collection::vec(list_select, 0..3),
            mailbox(),
            proptest::collection::vec(istring(), 1..3),
            proptest::option::of(proptest::collection::vec(list_return, 0..3))
        )
            .prop_map(
                |(select, reference, patterns, return_options)| CommandBody::List {
                    select,
                    reference,
                    patterns,
                    return_options
                }
            ),
        (mailbox(), istring())
            .prop_map(|(reference, pattern)| CommandBody::Lsub { reference, pattern }),
        (
            mailbox(),
            proptest::collection::vec(status_attribute(), 1..4)
        )
            .prop_map(|(mailbox, attributes)| CommandBody::Status {
                mailbox,
                attributes
            }),
        (
            mailbox(),
            proptest::option::of(proptest::collection::vec(flag(), 0..3)),
            proptest::option::of(date_time()),
            any::<bool>(),
            any::<bool>()
        )
            .prop_flat_map(|(mailbox, flags, date, binary, utf8)| payload(binary)
                .prop_map(move |message| CommandBody::Append {
                    mailbox: mailbox.clone(),
                    flags: flags.clone(),
                    date,
                    message,
                    binary: binary || utf8,
                    utf8,
                })),
        (
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(search_return, 0..3)),
            proptest::option::of(istring()),
            proptest::collection::vec(search_key(), 1..3)
        )
            .prop_map(
                |(uid, return_options, charset, criteria)| CommandBody::Search {
                    uid,
                    return_options,
                    charset,
                    criteria
                }
            ),
        (
            any::<bool>(),
            sequence_set(),
            fetch_items,
            proptest::collection::vec(modifier, 0..2)
        )
            .prop_map(|(uid, set, items, modifiers)| CommandBody::Fetch {
                uid,
                set,
                items,
                modifiers
            }),
        (
            any::<bool>(),
            sequence_set(),
            proptest::option::of(0..=MAX63),
            store_mode,
            any::<bool>(),
            proptest::collection::vec(flag(), 0..3)
        )
            .prop_map(|(uid, set, unchanged_since, mode, silent, flags)| {
                CommandBody::Store {
                    uid,
                    set,
                    unchanged_since,
                    mode,
                    silent,
                    flags,
                }
            }),
        (any::<bool>(), sequence_set(), mailbox(), any::<bool>()).prop_map(
            |(uid, set, mailbox, copy)| if copy {
                CommandBody::Copy { uid, set, mailbox }
            } else {
                CommandBody::Move { uid, set, mailbox }
            }
        ),
    ];
    prop_oneof![simple, selected]
}

fn command() -> impl Strategy<Value = Command> {
    (tag(), command_body()).prop_map(|(tag, body)| Command { tag, body })
}

/// Text that does not start with `[` (which would read as a response code).
fn text() -> impl Strategy<Value = Text> {
    prop_oneof!["[ -Z\\\\-~][ -~]{0,20}", Just(String::new()), "\\PC{0,8}"]
        .prop_filter("no leading [", |s| !s.starts_with('['))
        .prop_map(|s| Text::try_from(s.as_str()).unwrap())
}

fn response_code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        Just(ResponseCode::Alert),
        Just(ResponseCode::Parse),
        Just(ResponseCode::ReadOnly),
        Just(ResponseCode::ReadWrite),
        Just(ResponseCode::TryCreate),
        Just(ResponseCode::UidNotSticky),
        Just(ResponseCode::NoModSeq),
        Just(ResponseCode::Closed),
        Just(ResponseCode::CompressionActive),
        // Charset names are ASCII (IANA); a status line carries no literal.
        proptest::collection::vec(
            "[ -~]{1,10}".prop_map(|s| IString::try_from(s.as_str()).unwrap()),
            0..3
        )
        .prop_map(ResponseCode::BadCharset),
        proptest::collection::vec(atom(), 0..4).prop_map(ResponseCode::Capability),
        proptest::collection::vec(
            prop_oneof![fetched_flag().prop_map(FlagPerm::Flag), Just(FlagPerm::Any)],
            0..4
        )
        .prop_map(ResponseCode::PermanentFlags),
        nz().prop_map(ResponseCode::UidNext),
        nz().prop_map(ResponseCode::UidValidity),
        nz().prop_map(ResponseCode::Unseen),
        (nz(), sequence_set())
            .prop_map(|(validity, uids)| ResponseCode::AppendUid { validity, uids }),
        (nz(), sequence_set(), sequence_set()).prop_map(|(validity, source, destination)| {
            ResponseCode::CopyUid {
                validity,
                source,
                destination,
            }
        }),
        (0..=MAX63).prop_map(ResponseCode::HighestModSeq),
        sequence_set().prop_map(ResponseCode::Modified),
        (
            extension_atom(),
            proptest::option::of("[!-\\\\^-~][ -\\\\^-~]{0,10}")
        )
            .prop_map(|(name, argument)| ResponseCode::Other {
                name,
                argument: argument.map(|a| Text::try_from(a.as_str()).unwrap()),
            }),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    (nstring(), nstring(), nstring(), nstring()).prop_map(|(name, adl, mailbox, host)| Address {
        name,
        adl,
        mailbox,
        host,
    })
}

fn addresses() -> impl Strategy<Value = Vec<Address>> {
    proptest::collection::vec(address(), 0..3)
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        (nstring(), nstring(), addresses(), addresses(), addresses()),
        (addresses(), addresses(), addresses(), nstring(), nstring()),
    )
        .prop_map(
            |((date, subject, from, sender, reply_to), (to, cc, bcc, in_reply_to, message_id))| {
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
                }
            },
        )
}

fn params() -> impl Strategy<Value = BodyParameters> {
    proptest::collection::vec((istring(), istring()), 0..3)
}

fn body_extension() -> impl Strategy<Value = BodyExtension> {
    let leaf = prop_oneof![
        nstring().prop_map(BodyExtension::String),
        any::<u32>().prop_map(BodyExtension::Number),
    ];
    leaf.prop_recursive(3, 10, 3, |inner| {
        proptest::collection::vec(inner, 1..3).prop_map(BodyExtension::List)
    })
}

fn disposition_tail() -> impl Strategy<Value = Option<DispositionExtension>> {
    let language = prop_oneof![
        nstring().prop_map(Language::Single),
        proptest::collection::vec(istring(), 1..3).prop_map(Language::List),
    ];
    let language_tail = (
        language,
        proptest::option::of((nstring(), proptest::collection::vec(body_extension(), 0..3))),
    )
        .prop_map(|(language, tail)| LanguageExtension { language, tail });
    proptest::option::of(
        (
            proptest::option::of((istring(), params())),
            proptest::option::of(language_tail),
        )
            .prop_map(|(disposition, tail)| DispositionExtension { disposition, tail }),
    )
}

fn fields(media_type: &'static str) -> impl Strategy<Value = BodyFields> {
    (
        istring(),
        params(),
        nstring(),
        nstring(),
        istring(),
        any::<u32>(),
    )
        .prop_map(
            move |(subtype, params, id, description, encoding, octets)| BodyFields {
                media_type: IString::try_from(media_type).unwrap(),
                subtype: if media_type == "MESSAGE" {
                    IString::try_from("RFC822").unwrap()
                } else {
                    subtype
                },
                params,
                id,
                description,
                encoding,
                octets,
            },
        )
}

fn single_extension() -> impl Strategy<Value = Option<SinglePartExtension>> {
    proptest::option::of(
        (nstring(), disposition_tail()).prop_map(|(md5, tail)| SinglePartExtension { md5, tail }),
    )
}

fn body_structure() -> impl Strategy<Value = BodyStructure> {
    let leaf = Union::new(vec![
        (fields("APPLICATION"), single_extension())
            .prop_map(|(fields, extension)| BodyStructure::Single {
                fields,
                specific: SinglePartKind::Basic,
                extension,
            })
            .boxed(),
        (fields("TEXT"), any::<u32>(), single_extension())
            .prop_map(|(fields, lines, extension)| BodyStructure::Single {
                fields,
                specific: SinglePartKind::Text { lines },
                extension,
            })
            .boxed(),
    ]);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (
                proptest::collection::vec(inner.clone(), 1..3),
                istring(),
                proptest::option::of(
                    (params(), disposition_tail())
                        .prop_map(|(params, tail)| MultipartExtension { params, tail })
                )
            )
                .prop_map(|(parts, subtype, extension)| BodyStructure::Multipart {
                    parts,
                    subtype,
                    extension
                }),
            (
                fields("MESSAGE"),
                envelope(),
                inner,
                any::<u32>(),
                single_extension()
            )
                .prop_map(|(fields, envelope, body, lines, extension)| {
                    BodyStructure::Single {
                        fields,
                        specific: SinglePartKind::Message {
                            envelope: Box::new(envelope),
                            body: Box::new(body),
                            lines,
                        },
                        extension,
                    }
                }),
        ]
    })
}

fn message_data_item() -> impl Strategy<Value = MessageDataItem> {
    let kind = prop_oneof![
        Just(Rfc822Kind::Whole),
        Just(Rfc822Kind::Header),
        Just(Rfc822Kind::Text)
    ];
    prop_oneof![
        envelope().prop_map(|e| MessageDataItem::Envelope(Box::new(e))),
        proptest::collection::vec(fetched_flag(), 0..4).prop_map(MessageDataItem::Flags),
        date_time().prop_map(MessageDataItem::InternalDate),
        (0..=MAX63).prop_map(MessageDataItem::Rfc822Size),
        (kind, proptest::option::of(payload(false)))
            .prop_map(|(kind, data)| MessageDataItem::Rfc822 { kind, data }),
        body_structure().prop_map(|b| MessageDataItem::Body(Box::new(b))),
        body_structure().prop_map(|b| MessageDataItem::BodyStructure(Box::new(b))),
        (
            section(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(payload(false))
        )
            .prop_map(|(section, origin, data)| MessageDataItem::BodySection {
                section,
                origin,
                data
            }),
        (
            part(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(payload(true))
        )
            .prop_map(|(part, origin, data)| MessageDataItem::Binary {
                part,
                origin,
                data
            }),
        (part(), any::<u32>()).prop_map(|(part, size)| MessageDataItem::BinarySize { part, size }),
        nz().prop_map(MessageDataItem::Uid),
        (0..=MAX63).prop_map(MessageDataItem::ModSeq),
    ]
}

fn mailbox_attribute() -> impl Strategy<Value = MailboxAttribute> {
    prop_oneof![
        Just(MailboxAttribute::NoInferiors),
        Just(MailboxAttribute::NoSelect),
        Just(MailboxAttribute::HasChildren),
        Just(MailboxAttribute::HasNoChildren),
        Just(MailboxAttribute::NonExistent),
        Just(MailboxAttribute::Subscribed),
        Just(MailboxAttribute::Sent),
        Just(MailboxAttribute::Junk),
        Just(MailboxAttribute::Trash),
        Just(MailboxAttribute::Drafts),
        Just(MailboxAttribute::Archive),
        Just(MailboxAttribute::All),
        Just(MailboxAttribute::Flagged),
        Just(MailboxAttribute::Marked),
        Just(MailboxAttribute::Unmarked),
        Just(MailboxAttribute::Remote),
        extension_atom().prop_map(MailboxAttribute::Extension),
    ]
}

fn extended_value() -> impl Strategy<Value = ExtendedValue> {
    let leaf = prop_oneof![
        istring().prop_map(ExtendedValue::String),
        (0..=MAX63).prop_map(ExtendedValue::Number),
    ];
    leaf.prop_recursive(3, 8, 3, |inner| {
        proptest::collection::vec(inner, 0..3).prop_map(ExtendedValue::List)
    })
}

fn list_item() -> impl Strategy<Value = ListItem> {
    (
        proptest::collection::vec(mailbox_attribute(), 0..3),
        proptest::option::of(b' '..=b'~'),
        mailbox(),
        proptest::collection::vec((istring(), extended_value()), 0..2),
    )
        .prop_map(|(attributes, delimiter, mailbox, extended)| ListItem {
            attributes,
            delimiter,
            mailbox,
            extended,
        })
}

fn namespace() -> impl Strategy<Value = Option<Vec<NamespaceDescription>>> {
    proptest::option::of(proptest::collection::vec(
        (
            istring(),
            proptest::option::of(b' '..=b'~'),
            proptest::collection::vec(
                (istring(), proptest::collection::vec(istring(), 1..3)),
                0..2,
            ),
        )
            .prop_map(|(prefix, delimiter, extensions)| NamespaceDescription {
                prefix,
                delimiter,
                extensions,
            }),
        1..3,
    ))
}

fn data() -> impl Strategy<Value = Data> {
    let search_data = prop_oneof![
        nz().prop_map(SearchReturnData::Min),
        nz().prop_map(SearchReturnData::Max),
        sequence_set().prop_map(SearchReturnData::All),
        any::<u32>().prop_map(SearchReturnData::Count),
        (0..=MAX63).prop_map(SearchReturnData::ModSeq),
    ];
    prop_oneof![
        proptest::collection::vec(atom(), 0..4).prop_map(Data::Capability),
        proptest::collection::vec(atom(), 0..4).prop_map(Data::Enabled),
        list_item().prop_map(Data::List),
        list_item().prop_map(Data::Lsub),
        (
            mailbox(),
            proptest::collection::vec(
                (status_attribute(), 0..=MAX63)
                    .prop_map(|(attribute, value)| StatusItem { attribute, value }),
                0..4
            )
        )
            .prop_map(|(mailbox, items)| Data::Status { mailbox, items }),
        (
            proptest::collection::vec(nz(), 0..5),
            proptest::option::of(0..=MAX63)
        )
            .prop_map(|(numbers, modseq)| Data::Search { numbers, modseq }),
        (
            proptest::option::of(tag()),
            any::<bool>(),
            proptest::collection::vec(search_data, 0..3)
        )
            .prop_map(|(tag, uid, data)| Data::ESearch { tag, uid, data }),
        proptest::collection::vec(fetched_flag(), 0..4).prop_map(Data::Flags),
        any::<u32>().prop_map(Data::Exists),
        any::<u32>().prop_map(Data::Recent),
        nz().prop_map(Data::Expunge),
        (nz(), proptest::collection::vec(message_data_item(), 1..4))
            .prop_map(|(seq, items)| Data::Fetch { seq, items }),
        proptest::option::of(proptest::collection::vec((istring(), nstring()), 0..3))
            .prop_map(Data::Id),
        (namespace(), namespace(), namespace()).prop_map(|(personal, other, shared)| {
            Data::Namespace {
                personal,
                other,
                shared,
            }
        }),
        (any::<bool>(), sequence_set())
            .prop_map(|(earlier, uids)| Data::Vanished { earlier, uids }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let tagged_kind = prop_oneof![
        Just(StatusKind::Ok),
        Just(StatusKind::No),
        Just(StatusKind::Bad)
    ];
    let untagged_kind = prop_oneof![
        Just(StatusKind::Ok),
        Just(StatusKind::No),
        Just(StatusKind::Bad),
        Just(StatusKind::PreAuth),
        Just(StatusKind::Bye)
    ];
    prop_oneof![
        (
            tag(),
            tagged_kind,
            proptest::option::of(response_code()),
            text()
        )
            .prop_map(|(tag, kind, code, text)| Response::Status(StatusResponse {
                tag: Some(tag),
                kind,
                code,
                text
            })),
        (untagged_kind, proptest::option::of(response_code()), text()).prop_map(
            |(kind, code, text)| Response::Status(StatusResponse {
                tag: None,
                kind,
                code,
                text
            })
        ),
        (proptest::option::of(response_code()), text())
            .prop_map(|(code, text)| Response::Continuation(Continuation { code, text })),
        data().prop_map(Response::Data),
    ]
}

/// The encoded bytes without their final CRLF.
fn without_crlf(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r\n").expect("ends in CRLF")
}

/// Frames `bytes` one octet at a time and checks that they form exactly one message.
fn frames_as_one_message(role: Role, bytes: &[u8]) {
    let mut framer = Framer::new(role, FramerOptions::default());
    let mut buffer = Vec::new();
    let mut messages = 0;
    for &byte in bytes {
        buffer.push(byte);
        loop {
            let (used, frame) = framer.next(&buffer);
            let done = match frame {
                Frame::Incomplete => true,
                Frame::Message => {
                    messages += 1;
                    false
                }
                Frame::Error(error) => panic!("{error}"),
                _ => false,
            };
            buffer.drain(..used);
            if done {
                break;
            }
        }
    }
    assert_eq!(messages, 1);
    assert!(buffer.is_empty());
}

/// Runs a property on a thread with a large stack: generating and shrinking the recursive
/// strategies (not the parser, see `framing.rs`) needs more than a test thread's 2 MiB when
/// unoptimised.
fn check<S: Strategy + 'static>(
    strategy: fn() -> S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) where
    S::Value: std::fmt::Debug,
{
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(move || {
            let mut runner =
                proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
            runner.run(&strategy(), test).map_err(|e| e.to_string())
        })
        .unwrap();
    if let Err(failure) = handle.join().unwrap() {
        panic!("{failure}");
    }
}

#[test]
fn commands_round_trip() {
    let strategy = || {
        let policy = prop_oneof![
            Just(LiteralPolicy::Sync),
            Just(LiteralPolicy::NonSync),
            Just(LiteralPolicy::NonSyncUpTo4096)
        ];
        (command(), policy)
    };
    check(strategy, |(command, policy)| {
        let encoded = encode::command(&command, policy);
        let bytes = encoded.to_bytes().unwrap();
        let parsed = parse::command(without_crlf(&bytes));
        prop_assert_eq!(
            parsed.as_ref(),
            Ok(&command),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        if policy == LiteralPolicy::NonSync {
            prop_assert!(!encoded.fragments().contains(&Fragment::AwaitContinuation));
        }
        frames_as_one_message(Role::Server, &bytes);
        Ok(())
    });
}

#[test]
fn responses_round_trip() {
    check(response, |response| {
        let encoded = encode::response(&response);
        prop_assert!(!encoded.fragments().contains(&Fragment::AwaitContinuation));
        let bytes = encoded.to_bytes().unwrap();
        let parsed = parse::response(without_crlf(&bytes), &ResponseOptions::strict());
        prop_assert_eq!(
            parsed.as_ref(),
            Ok(&response),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        // The tolerant options never change how a well-formed response reads.
        let tolerant = parse::response(without_crlf(&bytes), &ResponseOptions::tolerant());
        prop_assert_eq!(tolerant.as_ref(), Ok(&response));
        frames_as_one_message(Role::Client, &bytes);
        Ok(())
    });
}
