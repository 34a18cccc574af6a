//! Message flags and mailbox attributes.

use super::core::Atom;

/// A message flag.
///
/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword /
/// flag-extension`, `flag-keyword = atom`, `flag-extension = "\" atom` (RFC 3501 section 9).
/// System flags are matched without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flag {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `\Recent`: only in `FETCH FLAGS` and `FLAGS` responses (`flag-fetch`, IMAP4rev1).
    Recent,
    /// A keyword such as `$Forwarded` or `$Junk`.
    Keyword(Atom),
    /// Any other `\`-flag, without its backslash.
    Extension(Atom),
}

/// An entry of `PERMANENTFLAGS`.
///
/// `flag-perm = flag / "\*"` (RFC 3501 section 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagPerm {
    /// A flag that is kept.
    Flag(Flag),
    /// `\*`: new keywords can be created.
    Any,
}

/// How STORE changes flags: `["+" / "-"] "FLAGS" [".SILENT"]` (RFC 3501 section 6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// A mailbox attribute in a LIST response.
///
/// `mbx-list-flags` (RFC 3501 section 9, RFC 9051 section 9), `\HasChildren` and
/// `\HasNoChildren` (RFC 3348), `\NonExistent`, `\Subscribed`, `\Remote` (RFC 5258), and the
/// special-use attributes of RFC 6154. Matched without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailboxAttribute {
    /// `\Noinferiors`.
    NoInferiors,
    /// `\Noselect`.
    NoSelect,
    /// `\Marked`.
    Marked,
    /// `\Unmarked`.
    Unmarked,
    /// `\HasChildren`.
    HasChildren,
    /// `\HasNoChildren`.
    HasNoChildren,
    /// `\NonExistent`.
    NonExistent,
    /// `\Subscribed`.
    Subscribed,
    /// `\Remote`.
    Remote,
    /// `\All` (special use).
    All,
    /// `\Archive` (special use).
    Archive,
    /// `\Drafts` (special use).
    Drafts,
    /// `\Flagged` (special use).
    Flagged,
    /// `\Junk` (special use).
    Junk,
    /// `\Sent` (special use).
    Sent,
    /// `\Trash` (special use).
    Trash,
    /// Any other `\`-attribute, without its backslash.
    Extension(Atom),
}

impl MailboxAttribute {
    /// The known attributes and their names.
    pub(crate) const KNOWN: [(&'static str, MailboxAttribute); 16] = [
        ("Noinferiors", MailboxAttribute::NoInferiors),
        ("Noselect", MailboxAttribute::NoSelect),
        ("Marked", MailboxAttribute::Marked),
        ("Unmarked", MailboxAttribute::Unmarked),
        ("HasChildren", MailboxAttribute::HasChildren),
        ("HasNoChildren", MailboxAttribute::HasNoChildren),
        ("NonExistent", MailboxAttribute::NonExistent),
        ("Subscribed", MailboxAttribute::Subscribed),
        ("Remote", MailboxAttribute::Remote),
        ("All", MailboxAttribute::All),
        ("Archive", MailboxAttribute::Archive),
        ("Drafts", MailboxAttribute::Drafts),
        ("Flagged", MailboxAttribute::Flagged),
        ("Junk", MailboxAttribute::Junk),
        ("Sent", MailboxAttribute::Sent),
        ("Trash", MailboxAttribute::Trash),
    ];
}
