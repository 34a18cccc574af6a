//! What FETCH asks for and what it returns.

use super::body::{BodyStructure, Envelope};
use super::core::{IString, NonZero};
use super::datetime::DateTime;
use super::flag::Flag;

/// The text part of a section specifier.
///
/// `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"`,
/// `section-text = section-msgtext / "MIME"` (RFC 3501 section 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (...)` or, with `not`, `HEADER.FIELDS.NOT (...)`; never empty.
    HeaderFields {
        /// `.NOT`: every field but these.
        not: bool,
        /// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`.
        fields: Vec<IString>,
    },
    /// `TEXT`.
    Text,
    /// `MIME`: only after a part number.
    Mime,
}

/// A section of a message: `section = "[" [section-spec] "]"`, `section-spec =
/// section-msgtext / (section-part ["." section-text])`, `section-part = nz-number *("."
/// nz-number)` (RFC 3501 section 9). `part` empty and `text` `None` is `[]`, the whole message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section {
    /// The part numbers, outermost first.
    pub part: Vec<NonZero>,
    /// The text specifier.
    pub text: Option<SectionText>,
}

/// A fetch attribute of the FETCH command.
///
/// `fetch-att` (RFC 3501 section 9; BINARY from RFC 9051, MODSEQ from RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchAttribute {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822`.
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT`.
    Rfc822Text,
    /// `BODY`.
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `BODY[...]<o.n>` or `BODY.PEEK[...]<o.n>`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section,
        /// `partial = "<" number "." nz-number ">"`: first octet and count.
        partial: Option<(u32, NonZero)>,
    },
    /// `BINARY[...]<o.n>` or `BINARY.PEEK[...]<o.n>` (`section-binary = "[" [section-part] "]"`).
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// The part numbers.
        part: Vec<NonZero>,
        /// First octet and count.
        partial: Option<(u32, NonZero)>,
    },
    /// `BINARY.SIZE[...]`.
    BinarySize {
        /// The part numbers.
        part: Vec<NonZero>,
    },
    /// `MODSEQ` (RFC 7162).
    ModSeq,
}

/// The macros `ALL`, `FAST` and `FULL`, or a list of attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItems {
    /// `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`.
    All,
    /// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`.
    Fast,
    /// `FULL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`.
    Full,
    /// One attribute or a parenthesised list; a list of one is written with parentheses only
    /// when `parenthesised` is set, so that the form round-trips.
    Attributes {
        /// The attributes, never empty.
        attributes: Vec<FetchAttribute>,
        /// Whether they were written in parentheses.
        parenthesised: bool,
    },
}

/// FETCH modifiers: `fetch-modifier = chgsince-fetch-mod / vanished-fetch-mod` (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchModifier {
    /// `CHANGEDSINCE mod-sequence-value`.
    ChangedSince(u64),
    /// `VANISHED`.
    Vanished,
}

/// The content of a streamed or inline literal or string in a response or command.
///
/// Small literals are delivered inline; large ones (APPEND's message, FETCH body sections)
/// are streamed as [`crate::framing::Frame::LiteralData`] chunks before the message that holds
/// them is complete, and the message then holds only their size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Payload {
    /// The bytes, held whole.
    Inline(Vec<u8>),
    /// Passed to the caller as chunks; this many octets.
    Streamed(u64),
}

/// A data item of a FETCH response.
///
/// `msg-att` (RFC 3501 section 9; BINARY from RFC 9051, MODSEQ from RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageDataItem {
    /// `ENVELOPE`.
    Envelope(Box<Envelope>),
    /// `FLAGS`.
    Flags(Vec<Flag>),
    /// `INTERNALDATE`.
    InternalDate(DateTime),
    /// `INTERNALDATE` in a form the grammar does not allow, kept as sent (only with
    /// [`crate::parse::ResponseOptions::lenient_dates`]).
    InternalDateUnparsed(IString),
    /// `RFC822.SIZE`.
    Rfc822Size(u64),
    /// `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`: which one and the content (`None` is NIL).
    Rfc822 {
        /// The attribute.
        kind: Rfc822Kind,
        /// The content.
        data: Option<Payload>,
    },
    /// `BODY` (without extension data).
    Body(Box<BodyStructure>),
    /// `BODYSTRUCTURE`.
    BodyStructure(Box<BodyStructure>),
    /// `BODY[section]<origin> nstring`.
    BodySection {
        /// The section.
        section: Section,
        /// The first octet, if partial.
        origin: Option<u32>,
        /// The content (`None` is NIL).
        data: Option<Payload>,
    },
    /// `BINARY[part]<origin> (nstring / literal8)`.
    Binary {
        /// The part numbers.
        part: Vec<NonZero>,
        /// The first octet, if partial.
        origin: Option<u32>,
        /// The content (`None` is NIL).
        data: Option<Payload>,
    },
    /// `BINARY.SIZE[part] number`.
    BinarySize {
        /// The part numbers.
        part: Vec<NonZero>,
        /// Decoded size.
        size: u32,
    },
    /// `UID`.
    Uid(NonZero),
    /// `MODSEQ (n)` (RFC 7162).
    ModSeq(u64),
}

/// Which of the RFC 822 items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rfc822Kind {
    /// `RFC822`.
    Whole,
    /// `RFC822.HEADER`.
    Header,
    /// `RFC822.TEXT`.
    Text,
}
