//! Responses (server side). Literals never wait: servers send them at once.

use super::command::id_params;
use super::items::{
    date_time, flag_list, flag_perm, mailbox, mailbox_attribute, part, section, sequence_set,
    status_attribute,
};
use super::writer::Writer;
use super::Encoded;
use crate::types::{
    Address, BodyExtension, BodyFields, BodyParameters, BodyStructure, Data, DispositionExtension,
    Envelope, ExtendedValue, Language, ListItem, MessageDataItem, NamespaceDescription, Payload,
    Response, ResponseCode, Rfc822Kind, SearchReturnData, SinglePartKind, StatusKind, Text,
};

/// Encodes a response.
pub fn response(response: &Response) -> Encoded {
    let mut w = Writer::server();
    match response {
        Response::Status(status) => {
            match &status.tag {
                Some(tag) => w.raw(tag.as_str().as_bytes()),
                None => w.raw(b"*"),
            }
            w.raw(match status.kind {
                StatusKind::Ok => b" OK ".as_slice(),
                StatusKind::No => b" NO ",
                StatusKind::Bad => b" BAD ",
                StatusKind::PreAuth => b" PREAUTH ",
                StatusKind::Bye => b" BYE ",
            });
            resp_text(&mut w, &status.code, &status.text);
        }
        Response::Continuation(continuation) => {
            w.raw(b"+ ");
            resp_text(&mut w, &continuation.code, &continuation.text);
        }
        Response::Data(data) => {
            w.raw(b"* ");
            data_body(&mut w, data);
        }
    }
    w.finish()
}

fn resp_text(w: &mut Writer, code: &Option<ResponseCode>, text: &Text) {
    if let Some(code) = code {
        w.raw(b"[");
        response_code(w, code);
        w.raw(b"] ");
    }
    w.raw(text.as_bytes());
}

fn response_code(w: &mut Writer, code: &ResponseCode) {
    match code {
        ResponseCode::Alert => w.raw(b"ALERT"),
        ResponseCode::Parse => w.raw(b"PARSE"),
        ResponseCode::ReadOnly => w.raw(b"READ-ONLY"),
        ResponseCode::ReadWrite => w.raw(b"READ-WRITE"),
        ResponseCode::TryCreate => w.raw(b"TRYCREATE"),
        ResponseCode::UidNotSticky => w.raw(b"UIDNOTSTICKY"),
        ResponseCode::NoModSeq => w.raw(b"NOMODSEQ"),
        ResponseCode::Closed => w.raw(b"CLOSED"),
        ResponseCode::CompressionActive => w.raw(b"COMPRESSIONACTIVE"),
        ResponseCode::BadCharset(charsets) => {
            w.raw(b"BADCHARSET");
            if !charsets.is_empty() {
                w.sp();
                w.list(charsets, |w, c| w.astring(c.as_bytes()));
            }
        }
        ResponseCode::Capability(capabilities) => {
            w.raw(b"CAPABILITY");
            for capability in capabilities {
                w.sp();
                w.raw(capability.as_str().as_bytes());
            }
        }
        ResponseCode::PermanentFlags(flags) => {
            w.raw(b"PERMANENTFLAGS ");
            w.list(flags, flag_perm);
        }
        ResponseCode::UidNext(n) => {
            w.raw(b"UIDNEXT ");
            w.number(n.get());
        }
        ResponseCode::UidValidity(n) => {
            w.raw(b"UIDVALIDITY ");
            w.number(n.get());
        }
        ResponseCode::Unseen(n) => {
            w.raw(b"UNSEEN ");
            w.number(n.get());
        }
        ResponseCode::AppendUid { validity, uids } => {
            w.raw(b"APPENDUID ");
            w.number(validity.get());
            w.sp();
            sequence_set(w, uids);
        }
        ResponseCode::CopyUid {
            validity,
            source,
            destination,
        } => {
            w.raw(b"COPYUID ");
            w.number(validity.get());
            w.sp();
            sequence_set(w, source);
            w.sp();
            sequence_set(w, destination);
        }
        ResponseCode::HighestModSeq(n) => {
            w.raw(b"HIGHESTMODSEQ ");
            w.number(*n);
        }
        ResponseCode::Modified(set) => {
            w.raw(b"MODIFIED ");
            sequence_set(w, set);
        }
        ResponseCode::Other { name, argument } => {
            w.raw(name.as_str().as_bytes());
            if let Some(argument) = argument {
                w.sp();
                w.raw(argument.as_bytes());
            }
        }
    }
}

fn delimiter(w: &mut Writer, delimiter: Option<u8>) {
    match delimiter {
        Some(d) => w.string(&[d]),
        None => w.raw(b"NIL"),
    }
}

fn list_item(w: &mut Writer, item: &ListItem) {
    w.list(&item.attributes, mailbox_attribute);
    w.sp();
    delimiter(w, item.delimiter);
    w.sp();
    mailbox(w, &item.mailbox);
    if !item.extended.is_empty() {
        w.sp();
        w.list(&item.extended, |w, (name, value)| {
            w.string(name.as_bytes());
            w.sp();
            extended_value(w, value);
        });
    }
}

fn extended_value(w: &mut Writer, value: &ExtendedValue) {
    match value {
        ExtendedValue::String(s) => {
            // A string that looks like a number must not read back as one.
            if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                w.string(s.as_bytes());
            } else {
                w.astring(s.as_bytes());
            }
        }
        ExtendedValue::Number(n) => w.number(*n),
        ExtendedValue::List(list) => w.list(list, extended_value),
    }
}

fn namespace(w: &mut Writer, namespace: &Option<Vec<NamespaceDescription>>) {
    match namespace {
        None => w.raw(b"NIL"),
        Some(descriptions) => {
            w.raw(b"(");
            for description in descriptions {
                w.raw(b"(");
                w.string(description.prefix.as_bytes());
                w.sp();
                delimiter(w, description.delimiter);
                for (name, values) in &description.extensions {
                    w.sp();
                    w.string(name.as_bytes());
                    w.sp();
                    w.list(values, |w, v| w.string(v.as_bytes()));
                }
                w.raw(b")");
            }
            w.raw(b")");
        }
    }
}

fn data_body(w: &mut Writer, data: &Data) {
    match data {
        Data::Capability(atoms) | Data::Enabled(atoms) => {
            w.raw(if matches!(data, Data::Capability(_)) {
                b"CAPABILITY".as_slice()
            } else {
                b"ENABLED"
            });
            for atom in atoms {
                w.sp();
                w.raw(atom.as_str().as_bytes());
            }
        }
        Data::List(item) => {
            w.raw(b"LIST ");
            list_item(w, item);
        }
        Data::Lsub(item) => {
            w.raw(b"LSUB ");
            list_item(w, item);
        }
        Data::Status { mailbox: m, items } => {
            w.raw(b"STATUS ");
            mailbox(w, m);
            w.sp();
            w.list(items, |w, item| {
                status_attribute(w, item.attribute);
                w.sp();
                w.number(item.value);
            });
        }
        Data::Search { numbers, modseq } => {
            w.raw(b"SEARCH");
            for n in numbers {
                w.sp();
                w.number(n.get());
            }
            if let Some(modseq) = modseq {
                w.raw(b" (MODSEQ ");
                w.number(*modseq);
                w.raw(b")");
            }
        }
        Data::ESearch { tag, uid, data } => {
            w.raw(b"ESEARCH");
            if let Some(tag) = tag {
                w.raw(b" (TAG ");
                w.string(tag.as_str().as_bytes());
                w.raw(b")");
            }
            if *uid {
                w.raw(b" UID");
            }
            for item in data {
                w.sp();
                match item {
                    SearchReturnData::Min(n) => {
                        w.raw(b"MIN ");
                        w.number(n.get());
                    }
                    SearchReturnData::Max(n) => {
                        w.raw(b"MAX ");
                        w.number(n.get());
                    }
                    SearchReturnData::All(set) => {
                        w.raw(b"ALL ");
                        sequence_set(w, set);
                    }
                    SearchReturnData::Count(n) => {
                        w.raw(b"COUNT ");
                        w.number(*n);
                    }
                    SearchReturnData::ModSeq(n) => {
                        w.raw(b"MODSEQ ");
                        w.number(*n);
                    }
                }
            }
        }
        Data::Flags(flags) => {
            w.raw(b"FLAGS ");
            flag_list(w, flags);
        }
        Data::Exists(n) => {
            w.number(*n);
            w.raw(b" EXISTS");
        }
        Data::Recent(n) => {
            w.number(*n);
            w.raw(b" RECENT");
        }
        Data::Expunge(n) => {
            w.number(n.get());
            w.raw(b" EXPUNGE");
        }
        Data::Fetch { seq, items } => {
            w.number(seq.get());
            w.raw(b" FETCH ");
            w.list(items, message_data_item);
        }
        Data::Id(params) => {
            w.raw(b"ID ");
            id_params(w, params);
        }
        Data::Namespace {
            personal,
            other,
            shared,
        } => {
            w.raw(b"NAMESPACE ");
            namespace(w, personal);
            w.sp();
            namespace(w, other);
            w.sp();
            namespace(w, shared);
        }
        Data::Vanished { earlier, uids } => {
            w.raw(if *earlier {
                b"VANISHED (EARLIER) ".as_slice()
            } else {
                b"VANISHED "
            });
            sequence_set(w, uids);
        }
    }
}

fn payload(w: &mut Writer, data: &Option<Payload>, binary: bool) {
    match data {
        None => w.raw(b"NIL"),
        Some(Payload::Inline(bytes)) => {
            if binary && bytes.contains(&0) {
                w.literal(bytes, true);
            } else {
                w.string(bytes);
            }
        }
        Some(Payload::Streamed(size)) => w.streamed_literal(*size, binary),
    }
}

fn origin(w: &mut Writer, origin: &Option<u32>) {
    if let Some(n) = origin {
        w.raw(b"<");
        w.number(*n);
        w.raw(b">");
    }
}

fn message_data_item(w: &mut Writer, item: &MessageDataItem) {
    match item {
        MessageDataItem::Envelope(e) => {
            w.raw(b"ENVELOPE ");
            envelope(w, e);
        }
        MessageDataItem::Flags(flags) => {
            w.raw(b"FLAGS ");
            flag_list(w, flags);
        }
        MessageDataItem::InternalDate(date) => {
            w.raw(b"INTERNALDATE ");
            date_time(w, date);
        }
        MessageDataItem::InternalDateUnparsed(raw) => {
            w.raw(b"INTERNALDATE ");
            w.string(raw.as_bytes());
        }
        MessageDataItem::Rfc822Size(n) => {
            w.raw(b"RFC822.SIZE ");
            w.number(*n);
        }
        MessageDataItem::Rfc822 { kind, data } => {
            w.raw(match kind {
                Rfc822Kind::Whole => b"RFC822 ".as_slice(),
                Rfc822Kind::Header => b"RFC822.HEADER ",
                Rfc822Kind::Text => b"RFC822.TEXT ",
            });
            payload(w, data, false);
        }
        MessageDataItem::Body(structure) => {
            w.raw(b"BODY ");
            body(w, structure);
        }
        MessageDataItem::BodyStructure(structure) => {
            w.raw(b"BODYSTRUCTURE ");
            body(w, structure);
        }
        MessageDataItem::BodySection {
            section: s,
            origin: o,
            data,
        } => {
            w.raw(b"BODY");
            section(w, s);
            origin(w, o);
            w.sp();
            payload(w, data, false);
        }
        MessageDataItem::Binary {
            part: p,
            origin: o,
            data,
        } => {
            w.raw(b"BINARY[");
            part(w, p);
            w.raw(b"]");
            origin(w, o);
            w.sp();
            payload(w, data, true);
        }
        MessageDataItem::BinarySize { part: p, size } => {
            w.raw(b"BINARY.SIZE[");
            part(w, p);
            w.raw(b"] ");
            w.number(*size);
        }
        MessageDataItem::Uid(uid) => {
            w.raw(b"UID ");
            w.number(uid.get());
        }
        MessageDataItem::ModSeq(n) => {
            w.raw(b"MODSEQ (");
            w.number(*n);
            w.raw(b")");
        }
    }
}

fn address_list(w: &mut Writer, addresses: &[Address]) {
    if addresses.is_empty() {
        w.raw(b"NIL");
        return;
    }
    w.raw(b"(");
    for address in addresses {
        w.raw(b"(");
        w.nstring(&address.name);
        w.sp();
        w.nstring(&address.adl);
        w.sp();
        w.nstring(&address.mailbox);
        w.sp();
        w.nstring(&address.host);
        w.raw(b")");
    }
    w.raw(b")");
}

/// `envelope`.
pub(crate) fn envelope(w: &mut Writer, e: &Envelope) {
    w.raw(b"(");
    w.nstring(&e.date);
    w.sp();
    w.nstring(&e.subject);
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        w.sp();
        address_list(w, list);
    }
    w.sp();
    w.nstring(&e.in_reply_to);
    w.sp();
    w.nstring(&e.message_id);
    w.raw(b")");
}

fn parameters(w: &mut Writer, params: &BodyParameters) {
    if params.is_empty() {
        w.raw(b"NIL");
    } else {
        w.list(params, |w, (name, value)| {
            w.string(name.as_bytes());
            w.sp();
            w.string(value.as_bytes());
        });
    }
}

fn body_extension(w: &mut Writer, extension: &BodyExtension) {
    match extension {
        BodyExtension::String(s) => w.nstring(s),
        BodyExtension::Number(n) => w.number(*n),
        BodyExtension::List(list) => w.list(list, body_extension),
    }
}

fn disposition_tail(w: &mut Writer, tail: &Option<DispositionExtension>) {
    let Some(tail) = tail else { return };
    w.sp();
    match &tail.disposition {
        None => w.raw(b"NIL"),
        Some((kind, params)) => {
            w.raw(b"(");
            w.string(kind.as_bytes());
            w.sp();
            parameters(w, params);
            w.raw(b")");
        }
    }
    let Some(language) = &tail.tail else { return };
    w.sp();
    match &language.language {
        Language::Single(one) => w.nstring(one),
        Language::List(list) => w.list(list, |w, l| w.string(l.as_bytes())),
    }
    let Some((location, extensions)) = &language.tail else {
        return;
    };
    w.sp();
    w.nstring(location);
    for extension in extensions {
        w.sp();
        body_extension(w, extension);
    }
}

fn fields(w: &mut Writer, f: &BodyFields) {
    w.string(f.media_type.as_bytes());
    w.sp();
    w.string(f.subtype.as_bytes());
    w.sp();
    parameters(w, &f.params);
    w.sp();
    w.nstring(&f.id);
    w.sp();
    w.nstring(&f.description);
    w.sp();
    w.string(f.encoding.as_bytes());
    w.sp();
    w.number(f.octets);
}

/// `body`.
pub(crate) fn body(w: &mut Writer, structure: &BodyStructure) {
    w.raw(b"(");
    match structure {
        BodyStructure::Single {
            fields: f,
            specific,
            extension,
        } => {
            fields(w, f);
            match specific {
                SinglePartKind::Basic => {}
                SinglePartKind::Text { lines } => {
                    w.sp();
                    w.number(*lines);
                }
                SinglePartKind::Message {
                    envelope: e,
                    body: inner,
                    lines,
                } => {
                    w.sp();
                    envelope(w, e);
                    w.sp();
                    body(w, inner);
                    w.sp();
                    w.number(*lines);
                }
            }
            if let Some(extension) = extension {
                w.sp();
                w.nstring(&extension.md5);
                disposition_tail(w, &extension.tail);
            }
        }
        BodyStructure::Multipart {
            parts,
            subtype,
            extension,
        } => {
            for part in parts {
                body(w, part);
            }
            w.sp();
            w.string(subtype.as_bytes());
            if let Some(extension) = extension {
                w.sp();
                parameters(w, &extension.params);
                disposition_tail(w, &extension.tail);
            }
        }
    }
    w.raw(b")");
}
