//! The storage trait that the POP3, IMAP4 and submission servers are written against.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use thiserror::Error;

use crate::changes::ChangeSubscription;
use crate::message::{
    FlagOperation, Flags, MailboxInfo, MailboxSnapshot, MailboxStatus, ModSeq, SpecialUse, Uid,
    UidValidity,
};
use crate::names::{AccountName, MailboxName, NameError};

/// Why a store operation failed. Nothing is half-done when one of these is returned: a message
/// whose append failed is not visible, a failed flag change changed nothing.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A name from the peer was refused before it reached storage.
    #[error("invalid name: {0}")]
    InvalidName(#[from] NameError),
    /// The mailbox does not exist.
    #[error("no such mailbox: {0}")]
    NoSuchMailbox(MailboxName),
    /// The mailbox exists already.
    #[error("mailbox exists already: {0}")]
    MailboxExists(MailboxName),
    /// No message has that UID (it may have been expunged).
    #[error("no message with UID {0}")]
    NoSuchMessage(Uid),
    /// The operation is not allowed on this mailbox (deleting INBOX, for instance).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// The POP3 maildrop is locked by another session (`-ERR [IN-USE]`).
    #[error("maildrop in use by another session")]
    InUse,
    /// The message is larger than the store takes.
    #[error("message too large")]
    TooLarge,
    /// A limit of the storage format was reached (too many keywords in a Maildir, say).
    #[error("storage limit: {0}")]
    Limit(&'static str),
    /// Stored data is damaged.
    #[error("corrupt store data in {what}: {detail}")]
    Corrupt {
        /// Which file or structure.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The file system failed (disk full, permissions, ...). Temporary from the client's
    /// point of view (`[SYS/TEMP]`, `4xx`).
    #[error("storage failure: {0}")]
    Io(#[from] io::Error),
}

/// How a message is appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendOptions {
    /// Its flags.
    pub flags: Flags,
    /// Its internal date; `None` means now.
    pub internal_date: Option<SystemTime>,
    /// The most octets accepted; a longer message fails with [`StoreError::TooLarge`] and
    /// leaves nothing behind.
    pub max_size: Option<u64>,
}

/// Where an appended message went (the UIDPLUS `APPENDUID` data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The mailbox's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The new message's UID.
    pub uid: Uid,
    /// Its MODSEQ.
    pub modseq: ModSeq,
    /// Its size in octets.
    pub size: u64,
}

/// Which messages an expunge removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expunge {
    /// Every message flagged `\Deleted` (IMAP EXPUNGE, CLOSE).
    AllDeleted,
    /// Those of these UIDs that are flagged `\Deleted` now (UID EXPUNGE, RFC 4315).
    DeletedAmong(Vec<Uid>),
    /// Exactly these UIDs, whatever their flags (POP3 UPDATE state).
    Uids(Vec<Uid>),
}

/// The outcome of a flag change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagsStored {
    /// Messages whose flags changed: UID, new flags, new MODSEQ.
    pub changed: Vec<(Uid, Flags, ModSeq)>,
    /// Messages left alone because their MODSEQ was above `unchanged_since` (RFC 7162
    /// `[MODIFIED]`).
    pub modified: Vec<Uid>,
}

/// Where copied or moved messages went (the UIDPLUS `COPYUID` data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The target mailbox's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Source UID and new UID in the target, in source order.
    pub uids: Vec<(Uid, Uid)>,
}

/// A message's bytes: readable and seekable, so byte ranges are served without reading what
/// comes before them.
pub trait MessageRead: Read + Seek + Send {}

impl<T: Read + Seek + Send> MessageRead for T {}

/// An open message.
pub struct MessageContent {
    /// Its size in octets.
    pub size: u64,
    /// Its bytes.
    pub reader: Box<dyn MessageRead>,
}

impl std::fmt::Debug for MessageContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageContent")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl MessageContent {
    /// A reader of `length` octets from `offset` (clipped to the message), for IMAP
    /// `BODY[]<offset.length>` and POP3 TOP.
    pub fn range(mut self, offset: u64, length: u64) -> io::Result<impl Read + Send> {
        let start = offset.min(self.size);
        self.reader.seek(SeekFrom::Start(start))?;
        Ok(self.reader.take(length.min(self.size - start)))
    }
}

/// Storage for many accounts' mailboxes.
///
/// Every method takes the account it acts for: a server passes the account its session
/// authenticated as, and no method can reach another account's data. Names are validated types,
/// so nothing from the network is used as a path. Methods block (they may do file IO and fsync);
/// async servers call them from a blocking-capable thread (`tokio::task::spawn_blocking`).
/// Every change is published to [`MailStore::subscribe`] subscribers of the account.
pub trait MailStore: Send + Sync {
    /// Every mailbox of the account, INBOX included (it exists for every account).
    fn list_mailboxes(&self, account: &AccountName) -> Result<Vec<MailboxInfo>, StoreError>;

    /// Creates a mailbox. Missing parents are created too (RFC 3501 6.3.3).
    fn create_mailbox(
        &self,
        account: &AccountName,
        name: &MailboxName,
        special_use: Option<SpecialUse>,
    ) -> Result<(), StoreError>;

    /// Deletes a mailbox and its messages; its children stay. INBOX cannot be deleted.
    fn delete_mailbox(&self, account: &AccountName, name: &MailboxName) -> Result<(), StoreError>;

    /// Renames a mailbox and everything below it. Renaming INBOX moves its messages to a new
    /// mailbox and leaves INBOX empty (RFC 3501 6.3.5).
    fn rename_mailbox(
        &self,
        account: &AccountName,
        from: &MailboxName,
        to: &MailboxName,
    ) -> Result<(), StoreError>;

    /// Subscribes to or unsubscribes from a mailbox name.
    fn set_subscribed(
        &self,
        account: &AccountName,
        name: &MailboxName,
        subscribed: bool,
    ) -> Result<(), StoreError>;

    /// The mailbox's counters.
    fn status(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxStatus, StoreError>;

    /// The mailbox's counters and every message, consistently.
    fn snapshot(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxSnapshot, StoreError>;

    /// Appends a message read from `message`. It is durable (on stable storage, where the
    /// backend has any) before this returns `Ok`; on any error nothing is visible.
    fn append(
        &self,
        account: &AccountName,
        name: &MailboxName,
        message: &mut dyn Read,
        options: AppendOptions,
    ) -> Result<Appended, StoreError>;

    /// Opens a message for reading.
    fn open_message(
        &self,
        account: &AccountName,
        name: &MailboxName,
        uid: Uid,
    ) -> Result<MessageContent, StoreError>;

    /// Changes the flags of the messages with `uids`; UIDs that no longer exist are skipped.
    /// With `unchanged_since` (CONDSTORE), messages changed after that MODSEQ are left alone
    /// and reported in [`FlagsStored::modified`].
    fn store_flags(
        &self,
        account: &AccountName,
        name: &MailboxName,
        uids: &[Uid],
        operation: FlagOperation,
        flags: &Flags,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagsStored, StoreError>;

    /// Removes messages; returns the UIDs removed, ascending.
    fn expunge(
        &self,
        account: &AccountName,
        name: &MailboxName,
        which: Expunge,
    ) -> Result<Vec<Uid>, StoreError>;

    /// Copies messages to another mailbox of the account, keeping flags and internal dates.
    fn copy_messages(
        &self,
        account: &AccountName,
        from: &MailboxName,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError>;

    /// Moves messages (RFC 6851): copies them, then expunges them from the source.
    fn move_messages(
        &self,
        account: &AccountName,
        from: &MailboxName,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        let copied = self.copy_messages(account, from, uids, to)?;
        let moved = copied.uids.iter().map(|(source, _)| *source).collect();
        self.expunge(account, from, Expunge::Uids(moved))?;
        Ok(copied)
    }

    /// Takes the account's POP3 maildrop lock (RFC 1939 section 8); a second taker gets
    /// [`StoreError::InUse`] until the returned guard is dropped.
    fn lock_maildrop(&self, account: &AccountName) -> Result<MaildropLock, StoreError>;

    /// A feed of every change to the account's mailboxes, from now on.
    fn subscribe(&self, account: &AccountName) -> ChangeSubscription;

    /// Delivers a message to the account's INBOX (submission to a local recipient).
    fn deliver(
        &self,
        account: &AccountName,
        message: &mut dyn Read,
    ) -> Result<Appended, StoreError> {
        self.append(
            account,
            &MailboxName::inbox(),
            message,
            AppendOptions::default(),
        )
    }
}

/// The POP3 maildrop locks of one store.
#[derive(Debug, Clone, Default)]
pub struct MaildropLocks {
    held: Arc<Mutex<HashSet<AccountName>>>,
}

impl MaildropLocks {
    /// Takes the lock of `account`, or fails with [`StoreError::InUse`].
    pub fn lock(&self, account: &AccountName) -> Result<MaildropLock, StoreError> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !held.insert(account.clone()) {
            return Err(StoreError::InUse);
        }
        Ok(MaildropLock {
            locks: self.clone(),
            account: account.clone(),
        })
    }
}

/// A held maildrop lock; dropping it releases the lock.
#[derive(Debug)]
pub struct MaildropLock {
    locks: MaildropLocks,
    account: AccountName,
}

impl MaildropLock {
    /// The account whose maildrop is locked.
    pub fn account(&self) -> &AccountName {
        &self.account
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(&self.account);
    }
}

/// The common part of renaming: renaming INBOX moves its messages to a new mailbox (RFC 3501
/// 6.3.5) and is done here; otherwise checks that the target is allowed and returns `false`
/// so the backend renames the subtree itself.
pub(crate) fn rename_inbox_or_check<S: MailStore + ?Sized>(
    store: &S,
    account: &AccountName,
    from: &MailboxName,
    to: &MailboxName,
) -> Result<bool, StoreError> {
    if from.is_inbox() {
        store.create_mailbox(account, to, None)?;
        let uids: Vec<Uid> = store
            .snapshot(account, from)?
            .messages
            .iter()
            .map(|message| message.uid)
            .collect();
        store.move_messages(account, from, &uids, to)?;
        return Ok(true);
    }
    if to.is_inbox() || to.is_below(from) {
        return Err(StoreError::NotAllowed(
            "cannot rename onto INBOX or below itself",
        ));
    }
    Ok(false)
}

/// Reads `message` fully into memory, refusing more than `max_size` octets.
pub(crate) fn read_limited(
    message: &mut dyn Read,
    max_size: Option<u64>,
) -> Result<Vec<u8>, StoreError> {
    let mut data = Vec::new();
    match max_size {
        Some(limit) => {
            message
                .take(limit.saturating_add(1))
                .read_to_end(&mut data)?;
            if data.len() as u64 > limit {
                return Err(StoreError::TooLarge);
            }
        }
        None => {
            message.read_to_end(&mut data)?;
        }
    }
    Ok(data)
}
