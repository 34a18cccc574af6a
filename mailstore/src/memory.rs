//! The in-memory backend, for tests and embedding: everything a [`MailStore`] does, nothing
//! kept after the process ends.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Cursor, Read};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::changes::{Change, ChangeHub, ChangeSubscription};
use crate::message::{
    status_of, Flag, FlagOperation, Flags, MailboxInfo, MailboxSnapshot, MailboxStatus,
    MessageMeta, ModSeq, SpecialUse, Uid, UidValidity,
};
use crate::names::{AccountName, MailboxName};
use crate::store::{
    read_limited, rename_inbox_or_check, AppendOptions, Appended, Copied, Expunge, FlagsStored,
    MailStore, MaildropLock, MaildropLocks, MessageContent, StoreError,
};

#[derive(Debug)]
struct StoredMessage {
    meta: MessageMeta,
    data: Arc<[u8]>,
}

#[derive(Debug)]
struct Mailbox {
    uid_validity: UidValidity,
    uid_next: u32,
    highest_modseq: u64,
    special_use: Option<SpecialUse>,
    messages: BTreeMap<Uid, StoredMessage>,
}

impl Mailbox {
    fn status(&self) -> MailboxStatus {
        let metas: Vec<MessageMeta> = self.messages.values().map(|m| m.meta.clone()).collect();
        status_of(
            self.uid_validity,
            Uid::new(self.uid_next).unwrap_or(Uid(std::num::NonZeroU32::MAX)),
            ModSeq(self.highest_modseq),
            &metas,
        )
    }

    fn next_modseq(&mut self) -> ModSeq {
        self.highest_modseq += 1;
        ModSeq(self.highest_modseq)
    }

    fn insert(
        &mut self,
        data: Arc<[u8]>,
        flags: Flags,
        internal_date: SystemTime,
    ) -> Result<Appended, StoreError> {
        let uid = Uid::new(self.uid_next).ok_or(StoreError::Limit("UID space exhausted"))?;
        self.uid_next = self
            .uid_next
            .checked_add(1)
            .ok_or(StoreError::Limit("UID space exhausted"))?;
        let modseq = self.next_modseq();
        let size = data.len() as u64;
        let wire_size = crate::message::wire_size_of(&data);
        self.messages.insert(
            uid,
            StoredMessage {
                meta: MessageMeta {
                    uid,
                    size,
                    wire_size,
                    flags,
                    internal_date,
                    modseq,
                },
                data,
            },
        );
        Ok(Appended {
            uid_validity: self.uid_validity,
            uid,
            modseq,
            size,
        })
    }
}

#[derive(Debug, Default)]
struct Account {
    mailboxes: BTreeMap<MailboxName, Mailbox>,
    subscriptions: BTreeSet<MailboxName>,
}

/// A [`MailStore`] held in memory.
#[derive(Debug)]
pub struct MemoryStore {
    accounts: Mutex<HashMap<AccountName, Account>>,
    next_uid_validity: Mutex<u32>,
    hub: ChangeHub,
    locks: MaildropLocks,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Internal dates are kept to the second, as IMAP's date-time and Maildir mtimes show them.
pub(crate) fn whole_seconds(time: SystemTime) -> SystemTime {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + std::time::Duration::from_secs(seconds)
}

impl MemoryStore {
    /// An empty store. Accounts come into being, with an INBOX, when first used.
    pub fn new() -> Self {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs() as u32)
            .unwrap_or(1)
            .max(1);
        MemoryStore {
            accounts: Mutex::new(HashMap::new()),
            next_uid_validity: Mutex::new(seconds),
            hub: ChangeHub::new(),
            locks: MaildropLocks::default(),
        }
    }

    fn new_mailbox(&self, special_use: Option<SpecialUse>) -> Mailbox {
        let mut next = self
            .next_uid_validity
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let validity = *next;
        *next = next.wrapping_add(1).max(1);
        Mailbox {
            uid_validity: UidValidity(
                std::num::NonZeroU32::new(validity).unwrap_or(std::num::NonZeroU32::MIN),
            ),
            uid_next: 1,
            highest_modseq: 1,
            special_use,
            messages: BTreeMap::new(),
        }
    }

    /// Creates the missing ancestors of `name` (RFC 3501 6.3.3: CREATE makes the hierarchy).
    fn create_parents(&self, entry: &mut Account, name: &MailboxName) {
        let mut parent = name.parent();
        while let Some(level) = parent {
            if !entry.mailboxes.contains_key(&level) {
                entry
                    .mailboxes
                    .insert(level.clone(), self.new_mailbox(None));
            }
            parent = level.parent();
        }
    }

    fn accounts(&self) -> MutexGuard<'_, HashMap<AccountName, Account>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_account<T>(
        &self,
        account: &AccountName,
        action: impl FnOnce(&mut Account) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut accounts = self.accounts();
        let entry = match accounts.get_mut(account) {
            Some(entry) => entry,
            None => {
                let mut fresh = Account::default();
                fresh
                    .mailboxes
                    .insert(MailboxName::inbox(), self.new_mailbox(None));
                accounts.entry(account.clone()).or_insert(fresh)
            }
        };
        action(entry)
    }

    fn with_mailbox<T>(
        &self,
        account: &AccountName,
        name: &MailboxName,
        action: impl FnOnce(&mut Mailbox) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_account(account, |entry| {
            let mailbox = entry
                .mailboxes
                .get_mut(name)
                .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))?;
            action(mailbox)
        })
    }
}

impl MailStore for MemoryStore {
    fn list_mailboxes(&self, account: &AccountName) -> Result<Vec<MailboxInfo>, StoreError> {
        self.with_account(account, |entry| {
            Ok(entry
                .mailboxes
                .iter()
                .map(|(name, mailbox)| MailboxInfo {
                    name: name.clone(),
                    special_use: mailbox.special_use,
                    subscribed: entry.subscriptions.contains(name),
                })
                .collect())
        })
    }

    fn create_mailbox(
        &self,
        account: &AccountName,
        name: &MailboxName,
        special_use: Option<SpecialUse>,
    ) -> Result<(), StoreError> {
        self.with_account(account, |entry| {
            if entry.mailboxes.contains_key(name) {
                return Err(StoreError::MailboxExists(name.clone()));
            }
            self.create_parents(entry, name);
            entry
                .mailboxes
                .insert(name.clone(), self.new_mailbox(special_use));
            Ok(())
        })?;
        self.hub.publish(account, Change::MailboxesChanged);
        Ok(())
    }

    fn delete_mailbox(&self, account: &AccountName, name: &MailboxName) -> Result<(), StoreError> {
        if name.is_inbox() {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted"));
        }
        self.with_account(account, |entry| {
            entry
                .mailboxes
                .remove(name)
                .map(|_| ())
                .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))
        })?;
        self.hub.publish(account, Change::MailboxesChanged);
        Ok(())
    }

    fn rename_mailbox(
        &self,
        account: &AccountName,
        from: &MailboxName,
        to: &MailboxName,
    ) -> Result<(), StoreError> {
        if rename_inbox_or_check(self, account, from, to)? {
            return Ok(());
        }
        self.with_account(account, |entry| {
            if !entry.mailboxes.contains_key(from) {
                return Err(StoreError::NoSuchMailbox(from.clone()));
            }
            if entry.mailboxes.contains_key(to) {
                return Err(StoreError::MailboxExists(to.clone()));
            }
            let moving: Vec<MailboxName> = entry
                .mailboxes
                .keys()
                .filter(|name| *name == from || name.is_below(from))
                .cloned()
                .collect();
            for old in moving {
                if let (Some(mailbox), Some(new)) = (
                    entry.mailboxes.remove(&old),
                    old.with_prefix_replaced(from, to),
                ) {
                    entry.mailboxes.insert(new, mailbox);
                }
            }
            self.create_parents(entry, to);
            Ok(())
        })?;
        self.hub.publish(account, Change::MailboxesChanged);
        Ok(())
    }

    fn set_subscribed(
        &self,
        account: &AccountName,
        name: &MailboxName,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        self.with_account(account, |entry| {
            if subscribed {
                entry.subscriptions.insert(name.clone());
            } else {
                entry.subscriptions.remove(name);
            }
            Ok(())
        })
    }

    fn status(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxStatus, StoreError> {
        self.with_mailbox(account, name, |mailbox| Ok(mailbox.status()))
    }

    fn snapshot(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxSnapshot, StoreError> {
        self.with_mailbox(account, name, |mailbox| {
            Ok(MailboxSnapshot {
                status: mailbox.status(),
                messages: mailbox.messages.values().map(|m| m.meta.clone()).collect(),
            })
        })
    }

    fn append(
        &self,
        account: &AccountName,
        name: &MailboxName,
        message: &mut dyn Read,
        options: AppendOptions,
    ) -> Result<Appended, StoreError> {
        self.with_mailbox(account, name, |_| Ok(()))?;
        let data: Arc<[u8]> = read_limited(message, options.max_size)?.into();
        let date = whole_seconds(options.internal_date.unwrap_or_else(SystemTime::now));
        let appended = self.with_mailbox(account, name, |mailbox| {
            mailbox.insert(data, options.flags.clone(), date)
        })?;
        self.hub
            .publish_appended(account, name, appended.uid, appended.modseq);
        Ok(appended)
    }

    fn open_message(
        &self,
        account: &AccountName,
        name: &MailboxName,
        uid: Uid,
    ) -> Result<MessageContent, StoreError> {
        let data = self.with_mailbox(account, name, |mailbox| {
            mailbox
                .messages
                .get(&uid)
                .map(|message| message.data.clone())
                .ok_or(StoreError::NoSuchMessage(uid))
        })?;
        Ok(MessageContent {
            size: data.len() as u64,
            reader: Box::new(Cursor::new(data)),
        })
    }

    fn store_flags(
        &self,
        account: &AccountName,
        name: &MailboxName,
        uids: &[Uid],
        operation: FlagOperation,
        flags: &Flags,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagsStored, StoreError> {
        let stored = self.with_mailbox(account, name, |mailbox| {
            let mut stored = FlagsStored::default();
            for uid in uids {
                let Some(message) = mailbox.messages.get(uid) else {
                    continue;
                };
                if unchanged_since.is_some_and(|since| message.meta.modseq > since) {
                    stored.modified.push(*uid);
                    continue;
                }
                let new_flags = operation.apply(&message.meta.flags, flags);
                if new_flags == message.meta.flags {
                    continue;
                }
                let modseq = mailbox.next_modseq();
                if let Some(message) = mailbox.messages.get_mut(uid) {
                    message.meta.flags = new_flags.clone();
                    message.meta.modseq = modseq;
                }
                stored.changed.push((*uid, new_flags, modseq));
            }
            Ok(stored)
        })?;
        self.hub.publish_flags(account, name, &stored);
        Ok(stored)
    }

    fn expunge(
        &self,
        account: &AccountName,
        name: &MailboxName,
        which: Expunge,
    ) -> Result<Vec<Uid>, StoreError> {
        let removed = self.with_mailbox(account, name, |mailbox| {
            let doomed: Vec<Uid> = mailbox
                .messages
                .values()
                .filter(|message| expunge_selects(&which, &message.meta))
                .map(|message| message.meta.uid)
                .collect();
            for uid in &doomed {
                mailbox.messages.remove(uid);
            }
            if !doomed.is_empty() {
                mailbox.next_modseq();
            }
            Ok(doomed)
        })?;
        self.hub.publish_expunged(account, name, &removed);
        Ok(removed)
    }

    fn copy_messages(
        &self,
        account: &AccountName,
        from: &MailboxName,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        let (copied, appended) = self.with_account(account, |entry| {
            let source = entry
                .mailboxes
                .get(from)
                .ok_or_else(|| StoreError::NoSuchMailbox(from.clone()))?;
            let picked: Vec<(Uid, Arc<[u8]>, Flags, SystemTime)> = uids
                .iter()
                .filter_map(|uid| source.messages.get(uid))
                .map(|m| {
                    (
                        m.meta.uid,
                        m.data.clone(),
                        m.meta.flags.clone(),
                        m.meta.internal_date,
                    )
                })
                .collect();
            let target = entry
                .mailboxes
                .get_mut(to)
                .ok_or_else(|| StoreError::NoSuchMailbox(to.clone()))?;
            let mut copied = Copied {
                uid_validity: target.uid_validity,
                uids: Vec::new(),
            };
            let mut appended = Vec::new();
            for (uid, data, flags, date) in picked {
                let new = target.insert(data, flags, date)?;
                copied.uids.push((uid, new.uid));
                appended.push(new);
            }
            Ok((copied, appended))
        })?;
        for new in appended {
            self.hub.publish_appended(account, to, new.uid, new.modseq);
        }
        Ok(copied)
    }

    fn lock_maildrop(&self, account: &AccountName) -> Result<MaildropLock, StoreError> {
        self.locks.lock(account)
    }

    fn subscribe(&self, account: &AccountName) -> ChangeSubscription {
        self.hub.subscribe(account)
    }
}

/// Whether an expunge of kind `which` removes `message`.
pub(crate) fn expunge_selects(which: &Expunge, message: &MessageMeta) -> bool {
    match which {
        Expunge::AllDeleted => message.flags.contains(&Flag::Deleted),
        Expunge::DeletedAmong(uids) => {
            message.flags.contains(&Flag::Deleted) && uids.contains(&message.uid)
        }
        Expunge::Uids(uids) => uids.contains(&message.uid),
    }
}
