//! Group commit: deliveries to one folder that arrive while another is being made durable
//! wait in a queue, and the next one to hold the folder commits them all with one fsync of
//! `cur/` and one of the UID records, instead of two fsyncs each one after another.
//!
//! Every caller still returns only once its own message is durable, with its own result.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, MutexGuard};

use super::folder::{Folder, Staged};
use super::lock;
use crate::message::{ModSeq, Uid, UidValidity};
use crate::store::StoreError;

/// What one commit gives its caller: the folder's UIDVALIDITY and the message's UID and
/// MODSEQ.
pub(crate) type Committed = Result<(UidValidity, Uid, ModSeq), StoreError>;

struct Waiting {
    staged: Staged,
    reply: SyncSender<Committed>,
}

/// One folder's state and the deliveries waiting to be committed to it.
pub(crate) struct FolderSlot {
    state: Mutex<Folder>,
    waiting: Mutex<Vec<Waiting>>,
}

impl std::fmt::Debug for FolderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderSlot").finish_non_exhaustive()
    }
}

impl FolderSlot {
    pub(crate) fn new(folder: Folder) -> Self {
        FolderSlot {
            state: Mutex::new(folder),
            waiting: Mutex::new(Vec::new()),
        }
    }

    /// The folder, locked.
    pub(crate) fn folder(&self) -> MutexGuard<'_, Folder> {
        lock(&self.state)
    }

    /// Commits `staged`, together with whatever else is waiting when this caller gets the
    /// folder. `prepare` runs first on the locked folder (picking up outside changes); if it
    /// fails, this caller's message is withdrawn and the error returned.
    pub(crate) fn commit(
        &self,
        staged: Staged,
        prepare: impl FnOnce(&mut Folder) -> Result<(), StoreError>,
    ) -> Committed {
        let temporary = staged.temporary.clone();
        let (reply, result) = mpsc::sync_channel(1);
        lock(&self.waiting).push(Waiting { staged, reply });
        let mut folder = self.folder();
        // A caller that held the folder while this one waited may have committed it already.
        if let Some(committed) = answered(&result) {
            return committed;
        }
        if let Err(error) = prepare(&mut folder) {
            if self.withdraw(&temporary) {
                return Err(error);
            }
            // Taken by a commit that has run meanwhile (not possible while this caller holds
            // the folder, but the answer is there if it ever is).
            return answered(&result).unwrap_or(Err(error));
        }
        let batch = std::mem::take(&mut *lock(&self.waiting));
        let (staged, replies): (Vec<Staged>, Vec<SyncSender<Committed>>) = batch
            .into_iter()
            .map(|waiting| (waiting.staged, waiting.reply))
            .unzip();
        let validity = folder.validity();
        for (committed, reply) in folder.commit_batch(staged).into_iter().zip(replies) {
            // Every caller waits for its answer; the channel has room for it.
            let _ = reply.send(committed.map(|(uid, modseq)| (validity, uid, modseq)));
        }
        drop(folder);
        answered(&result).unwrap_or(Err(StoreError::Limit("commit lost its answer")))
    }

    /// Takes this caller's message out of the queue; false if it is no longer there.
    fn withdraw(&self, temporary: &Path) -> bool {
        let mut waiting = lock(&self.waiting);
        match waiting
            .iter()
            .position(|entry| entry.staged.temporary == temporary)
        {
            Some(index) => {
                waiting.remove(index);
                true
            }
            None => false,
        }
    }
}

fn answered(result: &Receiver<Committed>) -> Option<Committed> {
    result.try_recv().ok()
}
