//! STATUS items.

/// `status-att` (RFC 3501 section 9, RFC 9051 adds `SIZE` and `DELETED`, RFC 7162
/// `HIGHESTMODSEQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusAttribute {
    /// `MESSAGES`.
    Messages,
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `DELETED`.
    Deleted,
    /// `SIZE`.
    Size,
    /// `HIGHESTMODSEQ`.
    HighestModSeq,
}

impl StatusAttribute {
    /// Every attribute with its keyword.
    pub(crate) const ALL: [(&'static str, StatusAttribute); 8] = [
        ("MESSAGES", StatusAttribute::Messages),
        ("RECENT", StatusAttribute::Recent),
        ("UIDNEXT", StatusAttribute::UidNext),
        ("UIDVALIDITY", StatusAttribute::UidValidity),
        ("UNSEEN", StatusAttribute::Unseen),
        ("DELETED", StatusAttribute::Deleted),
        ("SIZE", StatusAttribute::Size),
        ("HIGHESTMODSEQ", StatusAttribute::HighestModSeq),
    ];
}

/// `status-att-val`: an attribute and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusItem {
    /// Which attribute.
    pub attribute: StatusAttribute,
    /// Its value (`number64` for SIZE and HIGHESTMODSEQ).
    pub value: u64,
}
