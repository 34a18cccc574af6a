//! Commands, as a client sends them.

use super::core::{Atom, IString, NString, Password, Tag};
use super::datetime::DateTime;
use super::fetch::{FetchItems, FetchModifier, Payload};
use super::flag::{Flag, MailboxAttribute, StoreMode};
use super::mailbox::Mailbox;
use super::search::{SearchKey, SearchReturnOption};
use super::sequence::SequenceSet;
use super::status::StatusAttribute;

/// A tagged command: `command = tag SP (command-any / command-auth / command-nonauth /
/// command-select) CRLF` (RFC 3501 section 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag the server's completion repeats.
    pub tag: Tag,
    /// What the client asks for.
    pub body: CommandBody,
}

/// SELECT and EXAMINE parameters (RFC 7162 section 3.1.2.1 and 3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectParameter {
    /// `CONDSTORE`.
    CondStore,
    /// `QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])`.
    QResync {
        /// Last known UIDVALIDITY.
        uid_validity: std::num::NonZeroU32,
        /// Last known modification sequence.
        modseq: u64,
        /// Known UIDs.
        known_uids: Option<SequenceSet>,
        /// `(known-sequence-set known-uid-set)`.
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

/// LIST selection options (RFC 5258 section 6, RFC 6154 `SPECIAL-USE`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListSelectOption {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `REMOTE`.
    Remote,
    /// `RECURSIVEMATCH`.
    RecursiveMatch,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// Any other option.
    Other(Atom),
}

/// LIST return options (RFC 5258, RFC 5819 `STATUS`, RFC 6154 `SPECIAL-USE`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListReturnOption {
    /// `SUBSCRIBED`.
    Subscribed,
    /// `CHILDREN`.
    Children,
    /// `SPECIAL-USE`.
    SpecialUse,
    /// `STATUS (status-att ...)`.
    Status(Vec<StatusAttribute>),
    /// Any other option.
    Other(Atom),
}

/// `list-mailbox = 1*list-char / string` (RFC 3501 section 9): a pattern with `%` and `*`.
pub type ListPattern = IString;

/// The command itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `ID ("name" "value" ...)` or `ID NIL` (RFC 2971).
    Id(Option<Vec<(IString, NString)>>),
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mechanism [SP initial-response]` (RFC 4959: `=` is an empty response).
    Authenticate {
        /// The SASL mechanism.
        mechanism: Atom,
        /// The initial response, base64-decoded.
        initial_response: Option<Vec<u8>>,
    },
    /// `LOGIN userid password`.
    Login {
        /// The user name.
        username: IString,
        /// The password.
        password: Password,
    },
    /// `ENABLE capability ...` (RFC 5161).
    Enable(Vec<Atom>),
    /// `SELECT mailbox [(params)]`.
    Select {
        /// The mailbox.
        mailbox: Mailbox,
        /// CONDSTORE/QRESYNC parameters.
        parameters: Vec<SelectParameter>,
    },
    /// `EXAMINE mailbox [(params)]`.
    Examine {
        /// The mailbox.
        mailbox: Mailbox,
        /// CONDSTORE/QRESYNC parameters.
        parameters: Vec<SelectParameter>,
    },
    /// `CREATE mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"]` (RFC 6154
    /// section 5.2, CREATE-SPECIAL-USE).
    Create {
        /// The new mailbox.
        mailbox: Mailbox,
        /// The special uses to give it; `None` when `USE` is absent.
        special_use: Option<Vec<MailboxAttribute>>,
    },
    /// `DELETE mailbox`.
    Delete(Mailbox),
    /// `RENAME from to`.
    Rename {
        /// Existing name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe(Mailbox),
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe(Mailbox),
    /// `LIST [(select-opts)] reference patterns [RETURN (return-opts)]` (RFC 5258).
    List {
        /// Selection options; empty when absent.
        select: Vec<ListSelectOption>,
        /// The reference name.
        reference: Mailbox,
        /// One pattern, or several in parentheses (RFC 5258).
        patterns: Vec<ListPattern>,
        /// Return options; `None` when `RETURN` is absent.
        return_options: Option<Vec<ListReturnOption>>,
    },
    /// `LSUB reference pattern` (IMAP4rev1).
    Lsub {
        /// The reference name.
        reference: Mailbox,
        /// The pattern.
        pattern: ListPattern,
    },
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `STATUS mailbox (items)`.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// What to report, never empty.
        attributes: Vec<StatusAttribute>,
    },
    /// `APPEND mailbox [flags] [date-time] literal`; the message literal is usually
    /// [`Payload::Streamed`].
    Append {
        /// The target mailbox.
        mailbox: Mailbox,
        /// Flags to set.
        flags: Option<Vec<Flag>>,
        /// INTERNALDATE to set.
        date: Option<DateTime>,
        /// The message.
        message: Payload,
        /// `~{n}`: a `literal8` (RFC 3516 / RFC 9051 BINARY APPEND).
        binary: bool,
        /// `UTF8 (~{n})`: a UTF-8 message under UTF8=ACCEPT (RFC 6855 section 4); always a
        /// `literal8`, so the encoder writes `~` whatever `binary` says.
        utf8: bool,
    },
    /// `IDLE` (RFC 2177); the client ends it with `DONE`.
    Idle,
    /// `COMPRESS mechanism` (RFC 4978; only `DEFLATE` is defined).
    Compress(Atom),
    /// `CHECK` (IMAP4rev1).
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `EXPUNGE`.
    Expunge,
    /// `UID EXPUNGE sequence-set` (RFC 4315).
    UidExpunge(SequenceSet),
    /// `[UID] SEARCH [RETURN (...)] [CHARSET charset] criteria` (RFC 4731 for RETURN).
    Search {
        /// `UID SEARCH`.
        uid: bool,
        /// `RETURN (...)`; `Some(vec![])` is `RETURN ()`.
        return_options: Option<Vec<SearchReturnOption>>,
        /// `CHARSET`.
        charset: Option<IString>,
        /// The criteria, never empty; several are ANDed.
        criteria: Vec<SearchKey>,
    },
    /// `[UID] FETCH set items [(modifiers)]`.
    Fetch {
        /// `UID FETCH`.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// What to fetch.
        items: FetchItems,
        /// CONDSTORE/QRESYNC modifiers.
        modifiers: Vec<FetchModifier>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags`.
    Store {
        /// `UID STORE`.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// `UNCHANGEDSINCE` (RFC 7162).
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        mode: StoreMode,
        /// `.SILENT`.
        silent: bool,
        /// The flags; written in parentheses.
        flags: Vec<Flag>,
    },
    /// `[UID] COPY set mailbox`.
    Copy {
        /// `UID COPY`.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// The target.
        mailbox: Mailbox,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851).
    Move {
        /// `UID MOVE`.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// The target.
        mailbox: Mailbox,
    },
}

impl CommandBody {
    /// The command's name as written on the wire (for logs and errors).
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::Id(_) => "ID",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Enable(_) => "ENABLE",
            CommandBody::Select { .. } => "SELECT",
            CommandBody::Examine { .. } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete(_) => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe(_) => "SUBSCRIBE",
            CommandBody::Unsubscribe(_) => "UNSUBSCRIBE",
            CommandBody::List { .. } => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Append { .. } => "APPEND",
            CommandBody::Idle => "IDLE",
            CommandBody::Compress(_) => "COMPRESS",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Expunge => "EXPUNGE",
            CommandBody::UidExpunge(_) => "UID EXPUNGE",
            CommandBody::Search { .. } => "SEARCH",
            CommandBody::Fetch { .. } => "FETCH",
            CommandBody::Store { .. } => "STORE",
            CommandBody::Copy { .. } => "COPY",
            CommandBody::Move { .. } => "MOVE",
        }
    }
}
