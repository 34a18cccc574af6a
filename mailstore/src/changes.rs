//! The change feed: every new message, expunge and flag change is published, so that an IDLE
//! session sees another session's change at once, without polling.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::message::{Flags, ModSeq, Uid};
use crate::names::{AccountName, MailboxName};
use crate::store::FlagsStored;

/// One change to an account's mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A message arrived.
    Appended {
        /// The mailbox.
        mailbox: MailboxName,
        /// Its UID.
        uid: Uid,
        /// Its MODSEQ.
        modseq: ModSeq,
    },
    /// Messages were removed.
    Expunged {
        /// The mailbox.
        mailbox: MailboxName,
        /// Their UIDs, ascending.
        uids: Vec<Uid>,
    },
    /// A message's flags changed.
    FlagsChanged {
        /// The mailbox.
        mailbox: MailboxName,
        /// The message.
        uid: Uid,
        /// Its flags now.
        flags: Flags,
        /// Its MODSEQ now.
        modseq: ModSeq,
    },
    /// Mailboxes were created, deleted or renamed.
    MailboxesChanged,
    /// This subscriber fell too far behind and missed changes: re-read what it watches.
    Resync,
}

impl Change {
    /// The mailbox the change is about, if it is about one.
    pub fn mailbox(&self) -> Option<&MailboxName> {
        match self {
            Change::Appended { mailbox, .. }
            | Change::Expunged { mailbox, .. }
            | Change::FlagsChanged { mailbox, .. } => Some(mailbox),
            Change::MailboxesChanged | Change::Resync => None,
        }
    }
}

/// How many changes a subscriber may fall behind before it gets [`Change::Resync`].
const FEED_CAPACITY: usize = 1024;

/// The per-account broadcast channels of one store.
#[derive(Debug, Default)]
pub struct ChangeHub {
    channels: Mutex<HashMap<AccountName, broadcast::Sender<Change>>>,
}

impl ChangeHub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new subscription to `account`'s changes.
    pub fn subscribe(&self, account: &AccountName) -> ChangeSubscription {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let sender = channels
            .entry(account.clone())
            .or_insert_with(|| broadcast::channel(FEED_CAPACITY).0);
        ChangeSubscription {
            receiver: sender.subscribe(),
        }
    }

    /// Publishes a new message.
    pub fn publish_appended(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        uid: Uid,
        modseq: ModSeq,
    ) {
        self.publish(
            account,
            Change::Appended {
                mailbox: mailbox.clone(),
                uid,
                modseq,
            },
        );
    }

    /// Publishes the flag changes of one [`MailStore::store_flags`](crate::MailStore::store_flags).
    pub fn publish_flags(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        stored: &FlagsStored,
    ) {
        for (uid, flags, modseq) in &stored.changed {
            self.publish(
                account,
                Change::FlagsChanged {
                    mailbox: mailbox.clone(),
                    uid: *uid,
                    flags: flags.clone(),
                    modseq: *modseq,
                },
            );
        }
    }

    /// Publishes an expunge, unless nothing was removed.
    pub fn publish_expunged(&self, account: &AccountName, mailbox: &MailboxName, removed: &[Uid]) {
        if !removed.is_empty() {
            self.publish(
                account,
                Change::Expunged {
                    mailbox: mailbox.clone(),
                    uids: removed.to_vec(),
                },
            );
        }
    }

    /// Publishes a change to `account`'s subscribers, if any.
    pub fn publish(&self, account: &AccountName, change: Change) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(account) {
            if sender.send(change).is_err() {
                // Nobody listens any more.
                channels.remove(account);
            }
        }
    }
}

/// A subscriber's end of the change feed.
#[derive(Debug)]
pub struct ChangeSubscription {
    receiver: broadcast::Receiver<Change>,
}

impl ChangeSubscription {
    /// Waits for the next change. Works on any async runtime. Returns `None` when the store is
    /// gone.
    pub async fn next(&mut self) -> Option<Change> {
        match self.receiver.recv().await {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Resync),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next change if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<Change> {
        match self.receiver.try_recv() {
            Ok(change) => Some(change),
            Err(broadcast::error::TryRecvError::Lagged(_)) => Some(Change::Resync),
            Err(_) => None,
        }
    }
}
