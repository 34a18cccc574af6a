//! ENVELOPE and BODYSTRUCTURE.

use super::core::{IString, NString};

/// `body-fld-param`: attribute/value pairs; an empty list is written `NIL`.
pub type BodyParameters = Vec<(IString, IString)>;

/// `body-fld-dsp` when not `NIL`: the disposition type and its parameters.
pub type Disposition = (IString, BodyParameters);

/// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"` (RFC 3501
/// section 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address {
    /// `addr-name`.
    pub name: NString,
    /// `addr-adl`: the source route.
    pub adl: NString,
    /// `addr-mailbox`.
    pub mailbox: NString,
    /// `addr-host`.
    pub host: NString,
}

/// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to
/// SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"` (RFC 3501 section 9).
/// Address lists are `NIL` when empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Envelope {
    /// `env-date`.
    pub date: NString,
    /// `env-subject`.
    pub subject: NString,
    /// `env-from`.
    pub from: Vec<Address>,
    /// `env-sender`.
    pub sender: Vec<Address>,
    /// `env-reply-to`.
    pub reply_to: Vec<Address>,
    /// `env-to`.
    pub to: Vec<Address>,
    /// `env-cc`.
    pub cc: Vec<Address>,
    /// `env-bcc`.
    pub bcc: Vec<Address>,
    /// `env-in-reply-to`.
    pub in_reply_to: NString,
    /// `env-message-id`.
    pub message_id: NString,
}

/// A body structure: `body = "(" (body-type-1part / body-type-mpart) ")"` (RFC 3501
/// section 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyStructure {
    /// `body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]`.
    Single {
        /// `body-fields` with the media type.
        fields: BodyFields,
        /// What follows the fields for text and message parts.
        specific: SinglePartKind,
        /// `body-ext-1part`.
        extension: Option<SinglePartExtension>,
    },
    /// `body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]`.
    Multipart {
        /// The parts, never empty.
        parts: Vec<BodyStructure>,
        /// `media-subtype`.
        subtype: IString,
        /// `body-ext-mpart`.
        extension: Option<MultipartExtension>,
    },
}

/// `media-basic SP body-fields` with `body-fields = body-fld-param SP body-fld-id SP
/// body-fld-desc SP body-fld-enc SP body-fld-octets`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BodyFields {
    /// Media type, e.g. `TEXT`.
    pub media_type: IString,
    /// Media subtype, e.g. `PLAIN`.
    pub subtype: IString,
    /// `body-fld-param`: attribute/value pairs; empty is `NIL`.
    pub params: Vec<(IString, IString)>,
    /// `body-fld-id`.
    pub id: NString,
    /// `body-fld-desc`.
    pub description: NString,
    /// `body-fld-enc`.
    pub encoding: IString,
    /// `body-fld-octets`.
    pub octets: u32,
}

/// What follows the fields of a single part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SinglePartKind {
    /// `body-type-basic`: nothing.
    Basic,
    /// `body-type-text`: `SP body-fld-lines`.
    Text {
        /// Lines.
        lines: u32,
    },
    /// `body-type-msg`: `SP envelope SP body SP body-fld-lines` (MESSAGE/RFC822, GLOBAL).
    Message {
        /// The inner message's envelope.
        envelope: Box<Envelope>,
        /// The inner message's structure.
        body: Box<BodyStructure>,
        /// Lines.
        lines: u32,
    },
}

/// `body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc
/// *(SP body-extension)]]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePartExtension {
    /// `body-fld-md5`.
    pub md5: NString,
    /// The rest, if present.
    pub tail: Option<DispositionExtension>,
}

/// `body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc
/// *(SP body-extension)]]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartExtension {
    /// `body-fld-param`; empty is `NIL`.
    pub params: Vec<(IString, IString)>,
    /// The rest, if present.
    pub tail: Option<DispositionExtension>,
}

/// `body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DispositionExtension {
    /// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
    pub disposition: Option<Disposition>,
    /// The rest, if present.
    pub tail: Option<LanguageExtension>,
}

/// `body-fld-lang [SP body-fld-loc *(SP body-extension)]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageExtension {
    /// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
    pub language: Language,
    /// `body-fld-loc` and the extensions, if present.
    pub tail: Option<(NString, Vec<BodyExtension>)>,
}

/// `body-fld-lang`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Language {
    /// One language or `NIL`.
    Single(NString),
    /// A parenthesised list, never empty.
    List(Vec<IString>),
}

/// `body-extension = nstring / number / "(" body-extension *(SP body-extension) ")"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyExtension {
    /// A string or `NIL`.
    String(NString),
    /// A number.
    Number(u32),
    /// A list, never empty.
    List(Vec<BodyExtension>),
}
