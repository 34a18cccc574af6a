//! SEARCH criteria and ESEARCH return options.

use super::core::{Atom, IString, NonZero};
use super::datetime::Date;
use super::flag::Flag;
use super::sequence::SequenceSet;

/// A search criterion.
///
/// `search-key` (RFC 3501 section 9, RFC 9051 section 9; `MODSEQ` from RFC 7162). Keys are
/// matched without regard to case. Nesting through `NOT`, `OR` and parentheses is bounded by
/// the parser's depth limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchKey {
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(IString),
    /// `BEFORE date`.
    Before(Date),
    /// `BODY string`.
    Body(IString),
    /// `CC string`.
    Cc(IString),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(IString),
    /// `HEADER header-fld-name string`.
    Header(IString, IString),
    /// `KEYWORD flag-keyword`.
    Keyword(Atom),
    /// `LARGER number`.
    Larger(u64),
    /// `NEW` (IMAP4rev1).
    New,
    /// `NOT search-key`.
    Not(Box<SearchKey>),
    /// `OLD` (IMAP4rev1).
    Old,
    /// `ON date`.
    On(Date),
    /// `OR search-key search-key`.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER number`.
    Smaller(u64),
    /// `SUBJECT string`.
    Subject(IString),
    /// `TEXT string`.
    Text(IString),
    /// `TO string`.
    To(IString),
    /// `UID sequence-set`.
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(Atom),
    /// `UNSEEN`.
    Unseen,
    /// `sequence-set`.
    SequenceSet(SequenceSet),
    /// `"(" search-key *(SP search-key) ")"`, never empty.
    And(Vec<SearchKey>),
    /// `MODSEQ [search-modseq-ext] mod-sequence-valzer` (RFC 7162).
    ModSeq {
        /// `entry-name SP entry-type-req`: a flag's metadata entry and `priv`/`shared`/`all`.
        entry: Option<(Flag, Atom)>,
        /// The modification sequence.
        modseq: u64,
    },
}

/// `search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"` (RFC 4731, RFC 9051).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturnOption {
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `ALL`.
    All,
    /// `COUNT`.
    Count,
    /// `SAVE` (RFC 5182, listed in RFC 9051).
    Save,
}

/// `search-return-data` of an ESEARCH response (RFC 4731, RFC 7162 for MODSEQ).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturnData {
    /// `MIN nz-number`.
    Min(NonZero),
    /// `MAX nz-number`.
    Max(NonZero),
    /// `ALL sequence-set`.
    All(SequenceSet),
    /// `COUNT number`.
    Count(u32),
    /// `MODSEQ mod-sequence-value`.
    ModSeq(u64),
}
