//! What the store knows about mailboxes and messages: UIDs, flags, MODSEQ, sizes, dates.

use std::collections::BTreeSet;
use std::fmt;
use std::num::NonZeroU32;
use std::time::SystemTime;

use crate::names::MailboxName;

/// A message's unique identifier within one mailbox (RFC 3501 2.3.1.1): strictly ascending,
/// never reused while the mailbox's [`UidValidity`] stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(pub NonZeroU32);

impl Uid {
    /// The UID with value `value`, if not zero.
    pub fn new(value: u32) -> Option<Uid> {
        NonZeroU32::new(value).map(Uid)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A mailbox's UIDVALIDITY (RFC 3501 2.3.1.1). When it changes, clients drop every UID they
/// remembered for the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UidValidity(pub NonZeroU32);

impl UidValidity {
    /// The number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

/// A modification sequence number (RFC 7162): every change to a message's flags, and every
/// new message, gets a larger one than any before it in the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ModSeq(pub u64);

/// A message flag: a system flag or a keyword. `\Recent` is not here: it belongs to a session,
/// not to the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// A keyword such as `$Forwarded` or `$Junk` (an IMAP atom; see [`Flag::keyword`]).
    Keyword(String),
}

impl Flag {
    /// A keyword flag, if `name` is a valid IMAP atom without `\` (RFC 3501 `flag-keyword`).
    pub fn keyword(name: &str) -> Option<Flag> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|byte| byte.is_ascii_graphic() && !b"(){%*\"\\]".contains(&byte));
        valid.then(|| Flag::Keyword(name.to_string()))
    }

    /// The flag as IMAP writes it.
    pub fn as_imap(&self) -> &str {
        match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Deleted => "\\Deleted",
            Flag::Draft => "\\Draft",
            Flag::Keyword(keyword) => keyword,
        }
    }
}

/// A set of flags.
pub type Flags = BTreeSet<Flag>;

/// How [`MailStore::store_flags`](crate::MailStore::store_flags) changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOperation {
    /// Replace the flags (`FLAGS`).
    Replace,
    /// Add to the flags (`+FLAGS`).
    Add,
    /// Remove from the flags (`-FLAGS`).
    Remove,
}

impl FlagOperation {
    /// The flags after applying this operation with `flags` to `current`.
    pub fn apply(self, current: &Flags, flags: &Flags) -> Flags {
        match self {
            FlagOperation::Replace => flags.clone(),
            FlagOperation::Add => current.union(flags).cloned().collect(),
            FlagOperation::Remove => current.difference(flags).cloned().collect(),
        }
    }
}

/// What the store knows about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// Its UID.
    pub uid: Uid,
    /// Its size in octets, exactly as [`MailStore::open_message`](crate::MailStore::open_message)
    /// reads it.
    pub size: u64,
    /// Its size as a line-oriented transfer sends it: every bare LF as CR LF, and a CR LF
    /// added after a last line that has none (a multi-line POP3 answer must end its last line
    /// before the final `.`). What POP3 LIST reports. Equal to `size` for a message stored
    /// with CR LF line ends that ends with one.
    pub wire_size: u64,
    /// Its flags.
    pub flags: Flags,
    /// The internal date (RFC 3501 2.3.3): when it arrived, or what APPEND said.
    pub internal_date: SystemTime,
    /// The MODSEQ of its last change.
    pub modseq: ModSeq,
}

/// Special-use attributes of a mailbox (RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SpecialUse {
    /// `\All`
    All,
    /// `\Archive`
    Archive,
    /// `\Drafts`
    Drafts,
    /// `\Flagged`
    Flagged,
    /// `\Junk`
    Junk,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
}

impl SpecialUse {
    /// Every attribute.
    pub const ALL: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    /// The attribute as IMAP writes it, for example `\Sent`.
    pub fn as_imap(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// Parses `\Sent` and the like, ignoring case.
    pub fn from_imap(text: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|special| special.as_imap().eq_ignore_ascii_case(text))
    }
}

/// A mailbox as LIST sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Its name.
    pub name: MailboxName,
    /// Its special use, if any.
    pub special_use: Option<SpecialUse>,
    /// Whether the account subscribed to it.
    pub subscribed: bool,
}

/// A mailbox's counters, as STATUS and SELECT report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStatus {
    /// UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The UID the next message will get at the least.
    pub uid_next: Uid,
    /// The highest MODSEQ in the mailbox (RFC 7162).
    pub highest_modseq: ModSeq,
    /// How many messages it holds.
    pub messages: u32,
    /// How many of them lack `\Seen`.
    pub unseen: u32,
    /// Their total size in octets.
    pub size: u64,
}

/// A consistent view of a mailbox at one moment: its counters and every message, by UID.
/// IMAP sessions keep one as their per-session view and move it forward with the change feed;
/// POP3 takes one at login and numbers its messages from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSnapshot {
    /// The counters.
    pub status: MailboxStatus,
    /// The messages in ascending UID order.
    pub messages: Vec<MessageMeta>,
}

/// Counts the bare LFs of `bytes` (LFs not preceded by CR), given whether the byte before
/// `bytes` was a CR. Streaming callers carry `previous_cr` from chunk to chunk.
pub fn bare_line_feeds(bytes: &[u8], previous_cr: bool) -> u64 {
    memchr::memchr_iter(b'\n', bytes)
        .filter(|&at| {
            if at == 0 {
                !previous_cr
            } else {
                bytes[at - 1] != b'\r'
            }
        })
        .count() as u64
}

/// The octets a transfer adds after a message whose last byte is `last` (`None` for an
/// empty message): a CR LF unless it already ends with a line feed.
pub fn unterminated_extra(last: Option<u8>) -> u64 {
    match last {
        Some(b'\n') | None => 0,
        Some(_) => 2,
    }
}

/// The wire size of a message held in memory (see [`MessageMeta::wire_size`]).
pub fn wire_size_of(message: &[u8]) -> u64 {
    message.len() as u64
        + bare_line_feeds(message, false)
        + unterminated_extra(message.last().copied())
}

/// Counts a status from a list of messages.
pub(crate) fn status_of(
    uid_validity: UidValidity,
    uid_next: Uid,
    highest_modseq: ModSeq,
    messages: &[MessageMeta],
) -> MailboxStatus {
    MailboxStatus {
        uid_validity,
        uid_next,
        highest_modseq,
        messages: u32::try_from(messages.len()).unwrap_or(u32::MAX),
        unseen: u32::try_from(
            messages
                .iter()
                .filter(|message| !message.flags.contains(&Flag::Seen))
                .count(),
        )
        .unwrap_or(u32::MAX),
        size: messages.iter().map(|message| message.size).sum(),
    }
}
