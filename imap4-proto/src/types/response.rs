//! Responses, as a server sends them.

use super::code::ResponseCode;
use super::core::{Atom, IString, NString, NonZero, Tag, Text};
use super::fetch::MessageDataItem;
use super::flag::{Flag, MailboxAttribute};
use super::mailbox::Mailbox;
use super::search::SearchReturnData;
use super::sequence::SequenceSet;
use super::status::StatusItem;

/// `resp-cond-state`, `resp-cond-bye` and `greeting` keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (greeting only).
    PreAuth,
    /// `BYE`.
    Bye,
}

/// A status response, tagged or not: `response-tagged = tag SP resp-cond-state CRLF`,
/// `resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text`, `resp-text = ["[" resp-text-code
/// "]" SP] text` (RFC 3501 section 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// The command's tag; `None` for `*`.
    pub tag: Option<Tag>,
    /// OK, NO, BAD, PREAUTH or BYE (the last two only untagged).
    pub kind: StatusKind,
    /// The response code.
    pub code: Option<ResponseCode>,
    /// The human-readable text.
    pub text: Text,
}

/// `mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
/// [SP mbox-list-extended]` (RFC 3501, RFC 5258).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// Attributes.
    pub attributes: Vec<MailboxAttribute>,
    /// The hierarchy delimiter, or `None` for NIL (flat).
    pub delimiter: Option<u8>,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// `mbox-list-extended`: `CHILDINFO`, `OLDNAME` and others, tag and value.
    pub extended: Vec<(IString, ExtendedValue)>,
}

/// A value in `mbox-list-extended` or a tagged extension: `tagged-ext-val =
/// tagged-ext-simple / "(" [tagged-ext-comp] ")"` (RFC 4466), kept generically.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtendedValue {
    /// An astring.
    String(IString),
    /// A number.
    Number(u64),
    /// A parenthesised list.
    List(Vec<ExtendedValue>),
}

/// One namespace: `"(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil) *(Namespace-Response-Extension) ")"`
/// (RFC 2342, RFC 9051).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDescription {
    /// The prefix.
    pub prefix: IString,
    /// The delimiter, or `None` for NIL.
    pub delimiter: Option<u8>,
    /// Extensions: name and values.
    pub extensions: Vec<(IString, Vec<IString>)>,
}

/// Untagged data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Data {
    /// `CAPABILITY ...`.
    Capability(Vec<Atom>),
    /// `LIST ...`.
    List(ListItem),
    /// `LSUB ...` (IMAP4rev1).
    Lsub(ListItem),
    /// `STATUS mailbox (items)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// The values.
        items: Vec<StatusItem>,
    },
    /// `SEARCH [numbers] [(MODSEQ n)]` (IMAP4rev1; MODSEQ from RFC 7162).
    Search {
        /// The matching numbers.
        numbers: Vec<NonZero>,
        /// The highest mod-sequence of the matches.
        modseq: Option<u64>,
    },
    /// `ESEARCH [(TAG tag)] [UID] data...` (RFC 4731).
    ESearch {
        /// The correlating tag.
        tag: Option<Tag>,
        /// Numbers are UIDs.
        uid: bool,
        /// The results.
        data: Vec<SearchReturnData>,
    },
    /// `FLAGS (...)`.
    Flags(Vec<Flag>),
    /// `n EXISTS`.
    Exists(u32),
    /// `n RECENT` (IMAP4rev1).
    Recent(u32),
    /// `n EXPUNGE`.
    Expunge(NonZero),
    /// `n FETCH (...)`.
    Fetch {
        /// The message sequence number.
        seq: NonZero,
        /// The items, never empty.
        items: Vec<MessageDataItem>,
    },
    /// `ENABLED ...` (RFC 5161).
    Enabled(Vec<Atom>),
    /// `ID (...)` or `ID NIL` (RFC 2971).
    Id(Option<Vec<(IString, NString)>>),
    /// `NAMESPACE personal other shared` (RFC 2342); `None` is NIL.
    Namespace {
        /// Personal namespaces.
        personal: Option<Vec<NamespaceDescription>>,
        /// Other users' namespaces.
        other: Option<Vec<NamespaceDescription>>,
        /// Shared namespaces.
        shared: Option<Vec<NamespaceDescription>>,
    },
    /// `VANISHED [(EARLIER)] known-uids` (RFC 7162).
    Vanished {
        /// `(EARLIER)`.
        earlier: bool,
        /// The UIDs.
        uids: SequenceSet,
    },
}

/// `continue-req = "+" SP (resp-text / base64) CRLF` (RFC 3501 section 9). Whether the text
/// is base64 (during AUTHENTICATE) is the session's to decide; the text is kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// A response code, if the text started with one.
    pub code: Option<ResponseCode>,
    /// The text (possibly base64).
    pub text: Text,
}

/// Anything a server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A tagged or untagged status response (includes the greeting and BYE).
    Status(StatusResponse),
    /// Untagged data.
    Data(Data),
    /// A continuation request.
    Continuation(Continuation),
}
