//! Response codes.

use super::core::{Atom, IString, NonZero, Text};
use super::flag::FlagPerm;
use super::sequence::SequenceSet;

/// `resp-text-code` (RFC 3501 section 9, RFC 9051 section 9; UIDPLUS RFC 4315, CONDSTORE and
/// QRESYNC RFC 7162, COMPRESS RFC 4978, LITERAL- RFC 7888 via `TOOBIG`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `ALERT`.
    Alert,
    /// `BADCHARSET [SP "(" charset *(SP charset) ")"]`.
    BadCharset(Vec<IString>),
    /// `CAPABILITY ...`.
    Capability(Vec<Atom>),
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (...)`.
    PermanentFlags(Vec<FlagPerm>),
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT nz-number`.
    UidNext(NonZero),
    /// `UIDVALIDITY nz-number`.
    UidValidity(NonZero),
    /// `UNSEEN nz-number` (IMAP4rev1).
    Unseen(NonZero),
    /// `APPENDUID nz-number SP append-uid` (RFC 4315).
    AppendUid {
        /// UIDVALIDITY of the target.
        validity: NonZero,
        /// The new UIDs (a set under MULTIAPPEND).
        uids: SequenceSet,
    },
    /// `COPYUID nz-number SP uid-set SP uid-set` (RFC 4315).
    CopyUid {
        /// UIDVALIDITY of the target.
        validity: NonZero,
        /// Source UIDs.
        source: SequenceSet,
        /// Destination UIDs.
        destination: SequenceSet,
    },
    /// `UIDNOTSTICKY` (RFC 4315).
    UidNotSticky,
    /// `HIGHESTMODSEQ mod-sequence-value` (RFC 7162).
    HighestModSeq(u64),
    /// `NOMODSEQ` (RFC 7162).
    NoModSeq,
    /// `MODIFIED sequence-set` (RFC 7162).
    Modified(SequenceSet),
    /// `CLOSED` (RFC 7162).
    Closed,
    /// `COMPRESSIONACTIVE` (RFC 4978).
    CompressionActive,
    /// An atom-only code of RFC 9051 (`ALREADYEXISTS`, `NONEXISTENT`, `TOOBIG`, ...) or any
    /// other code, with its optional argument text.
    Other {
        /// The code.
        name: Atom,
        /// `1*<any TEXT-CHAR except "]">`, if present.
        argument: Option<Text>,
    },
}
