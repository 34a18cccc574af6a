//! One Maildir folder (`cur/`, `new/`, `tmp/` and the metadata files), kept in step with what
//! is on disk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::filename::{self, cur_name, flags_from_letters, letters_for};
use super::fsio::sync_dir;
use super::metadata::{self, UidRecord, Uidlist};
use crate::changes::Change;
use crate::memory::expunge_selects;
use crate::message::{
    status_of, Flag, FlagOperation, Flags, MailboxSnapshot, MessageMeta, ModSeq, Uid, UidValidity,
};
use crate::names::MailboxName;
use crate::store::{Expunge, FlagsStored, StoreError};

/// A message written and fsynced in `tmp/`, waiting to be moved into `new/` or `cur/` with a
/// UID.
#[derive(Debug)]
pub(crate) struct Staged {
    /// The file in `tmp/`.
    pub(crate) temporary: PathBuf,
    /// Its base name: its whole name in `new/`, the part before `:2,` in `cur/`.
    pub(crate) base: String,
    /// The flags it is stored with.
    pub(crate) flags: Flags,
    /// Its size on disk and on the wire.
    pub(crate) size: (u64, u64),
    /// Its internal date.
    pub(crate) date: SystemTime,
}

#[derive(Debug, Clone)]
struct Entry {
    base: String,
    in_new: bool,
    letters: String,
    flags: Flags,
    size: u64,
    wire_size: u64,
    date: SystemTime,
    modseq: u64,
}

impl Entry {
    fn file_name(&self) -> String {
        if self.in_new {
            self.base.clone()
        } else {
            cur_name(&self.base, &self.letters)
        }
    }
}

/// A message file found on disk without a UID yet: date, file name, in `new/`, flags, and
/// (size, wire size).
type Unassigned = (SystemTime, String, bool, Flags, (u64, u64));

/// The in-memory index of one folder.
#[derive(Debug)]
pub(crate) struct Folder {
    name: MailboxName,
    dir: PathBuf,
    uid_validity: u32,
    guid: String,
    uid_next: u32,
    highest_modseq: u64,
    entries: BTreeMap<u32, Entry>,
    by_base: HashMap<String, u32>,
    keywords: Vec<String>,
    seen_mtimes: Option<(SystemTime, SystemTime)>,
    uidlist_records: usize,
}

/// The wire size of a file whose name does not carry Dovecot's `W=` (written by another
/// program): read once.
fn wire_size_of(path: &Path) -> io::Result<u64> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut buffer = vec![0u8; 64 * 1024];
    let (mut size, mut last) = (0u64, None);
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(size + crate::message::unterminated_extra(last));
        }
        size += read as u64 + crate::message::bare_line_feeds(&buffer[..read], last == Some(b'\r'));
        last = Some(buffer[read - 1]);
    }
}

/// The wire size from Dovecot's `W=` (which counts no final CR LF) and the file's last byte.
fn wire_size_from_virtual(path: &Path, virtual_size: u64, size: u64) -> io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    if size == 0 {
        return Ok(virtual_size);
    }
    let mut file = fs::File::open(path)?;
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(virtual_size + crate::message::unterminated_extra(Some(last[0])))
}

fn mtime(path: &Path) -> io::Result<SystemTime> {
    fs::metadata(path)?.modified()
}

impl Folder {
    /// Loads the folder at `dir` (which has `cur/new/tmp`), assigning UIDs to messages that
    /// have none yet. `new_validity` gives a UIDVALIDITY for a folder without a uidlist.
    pub(crate) fn open(
        name: MailboxName,
        dir: PathBuf,
        new_validity: impl FnOnce() -> u32,
    ) -> Result<Folder, StoreError> {
        let mut folder = Folder {
            name,
            dir,
            uid_validity: 0,
            guid: String::new(),
            uid_next: 1,
            highest_modseq: 1,
            entries: BTreeMap::new(),
            by_base: HashMap::new(),
            keywords: Vec::new(),
            seen_mtimes: None,
            uidlist_records: 0,
        };
        let log = metadata::read_modseq_log(&folder.dir)?;
        folder.highest_modseq = folder.highest_modseq.max(log.highest);
        let mut ignored = Vec::new();
        folder.sync(Some((new_validity, log)), &mut ignored)?;
        Ok(folder)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn dir_mtimes(&self) -> io::Result<(SystemTime, SystemTime)> {
        Ok((mtime(&self.dir.join("cur"))?, mtime(&self.dir.join("new"))?))
    }

    /// Picks up changes other programs made on disk since the last look.
    pub(crate) fn refresh(&mut self, changes: &mut Vec<Change>) -> Result<(), StoreError> {
        if self.seen_mtimes.is_none() || self.seen_mtimes != self.dir_mtimes().ok() {
            self.sync::<fn() -> u32>(None, changes)?;
        }
        Ok(())
    }

    fn note_mtimes(&mut self) {
        self.seen_mtimes = self.dir_mtimes().ok();
    }

    fn bump(&mut self) -> u64 {
        self.highest_modseq += 1;
        self.highest_modseq
    }

    fn sync<F: FnOnce() -> u32>(
        &mut self,
        initial: Option<(F, metadata::ModseqLog)>,
        changes: &mut Vec<Change>,
    ) -> Result<(), StoreError> {
        let is_initial = initial.is_some();
        let mut rewrite = false;
        let mut log_by_uid = HashMap::new();
        let uidlist = metadata::read_uidlist(&self.dir)?;
        let records: Vec<UidRecord> = match (uidlist, initial) {
            (Some(list), Some((new_validity, log))) => {
                log_by_uid = log.by_uid;
                self.uid_validity = list.uid_validity;
                if self.uid_validity == 0 {
                    self.uid_validity = new_validity();
                    rewrite = true;
                }
                self.guid = list.guid.clone();
                self.adopt_counters(&list);
                rewrite |= !list.complete || !log.complete;
                list.records
            }
            (None, Some((new_validity, log))) => {
                log_by_uid = log.by_uid;
                self.uid_validity = new_validity();
                self.guid = new_guid(self.uid_validity);
                rewrite = true;
                Vec::new()
            }
            (Some(list), None) => {
                if list.uid_validity != self.uid_validity {
                    // Another program reset the folder's UIDs: start over from its list.
                    self.entries.clear();
                    self.by_base.clear();
                    self.uid_validity = list.uid_validity;
                    changes.push(Change::Resync);
                }
                self.adopt_counters(&list);
                rewrite |= !list.complete;
                list.records
            }
            (None, None) => {
                rewrite = true;
                Vec::new()
            }
        };
        self.keywords = metadata::read_keywords(&self.dir)?;
        let record_by_base: HashMap<&str, &UidRecord> = records
            .iter()
            .map(|record| (record.base.as_str(), record))
            .collect();
        self.uidlist_records = records.len();

        let mut seen: HashSet<u32> = HashSet::new();
        let mut unassigned: Vec<Unassigned> = Vec::new();
        let mut flag_changes: Vec<u32> = Vec::new();
        for (sub, in_new) in [("cur", false), ("new", true)] {
            let read = match fs::read_dir(self.dir.join(sub)) {
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            for item in read {
                let item = item?;
                let Ok(file_name) = item.file_name().into_string() else {
                    continue;
                };
                let parsed = filename::parse(&file_name);
                // Not a message file: hidden, or a name no uidlist record could hold.
                if file_name.starts_with('.') || parsed.base.is_empty() || file_name.contains('\n')
                {
                    continue;
                }
                let letters = if in_new { "" } else { parsed.flag_letters };
                let flags = flags_from_letters(letters, &self.keywords);
                if let Some(&uid) = self.by_base.get(parsed.base) {
                    if !seen.insert(uid) {
                        continue;
                    }
                    if let Some(entry) = self.entries.get_mut(&uid) {
                        entry.in_new = in_new;
                        entry.letters = letters.to_string();
                        if entry.flags != flags {
                            entry.flags = flags;
                            flag_changes.push(uid);
                        }
                    }
                    continue;
                }
                let metadata = item.metadata()?;
                let size = parsed.size.unwrap_or(metadata.len());
                let date = metadata.modified()?;
                let wire_size = match parsed.wire_size {
                    Some(virtual_size) => wire_size_from_virtual(&item.path(), virtual_size, size)?,
                    None => wire_size_of(&item.path())?,
                };
                let size = (size, wire_size);
                match record_by_base.get(parsed.base) {
                    Some(record) if !self.entries.contains_key(&record.uid) => {
                        let modseq = match log_by_uid.get(&record.uid).copied().or(record.modseq) {
                            Some(modseq) => {
                                self.highest_modseq = self.highest_modseq.max(modseq);
                                modseq
                            }
                            None => self.bump(),
                        };
                        self.uid_next = self.uid_next.max(record.uid.saturating_add(1));
                        self.insert(
                            record.uid,
                            parsed.base,
                            in_new,
                            letters,
                            flags,
                            size,
                            date,
                            modseq,
                        );
                        seen.insert(record.uid);
                        if !is_initial {
                            changes.push(self.appended_change(record.uid));
                        }
                    }
                    _ => unassigned.push((date, file_name.clone(), in_new, flags, size)),
                }
            }
        }
        for uid in flag_changes {
            let modseq = self.bump();
            if let Some(entry) = self.entries.get_mut(&uid) {
                entry.modseq = modseq;
                if let Some(uid) = Uid::new(uid) {
                    changes.push(Change::FlagsChanged {
                        mailbox: self.name.clone(),
                        uid,
                        flags: entry.flags.clone(),
                        modseq: ModSeq(modseq),
                    });
                }
            }
        }
        let gone: Vec<u32> = self
            .entries
            .keys()
            .filter(|uid| !seen.contains(uid))
            .copied()
            .collect();
        if !gone.is_empty() {
            for uid in &gone {
                if let Some(entry) = self.entries.remove(uid) {
                    self.by_base.remove(&entry.base);
                }
            }
            self.bump();
            changes.push(Change::Expunged {
                mailbox: self.name.clone(),
                uids: gone.iter().filter_map(|&uid| Uid::new(uid)).collect(),
            });
        }
        unassigned.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut new_records = Vec::new();
        for (date, file_name, in_new, flags, size) in unassigned {
            let parsed = filename::parse(&file_name);
            if self.by_base.contains_key(parsed.base) {
                continue;
            }
            let uid = self.take_uid()?;
            let modseq = self.bump();
            let letters = if in_new { "" } else { parsed.flag_letters };
            self.insert(uid, parsed.base, in_new, letters, flags, size, date, modseq);
            new_records.push(UidRecord {
                uid,
                base: parsed.base.to_string(),
                modseq: Some(modseq),
            });
            changes.push(self.appended_change(uid));
        }
        if rewrite || self.uidlist_records > 2 * self.entries.len() + 100 {
            self.rewrite_uidlist()?;
            self.rewrite_modseq_log()?;
        } else if !new_records.is_empty() {
            metadata::append_uid_records(&self.dir, &new_records)?;
            self.uidlist_records += new_records.len();
        }
        self.note_mtimes();
        Ok(())
    }

    fn adopt_counters(&mut self, list: &Uidlist) {
        let highest_record = list
            .records
            .iter()
            .map(|record| record.uid)
            .max()
            .unwrap_or(0);
        self.uid_next = self
            .uid_next
            .max(list.uid_next)
            .max(highest_record.saturating_add(1));
        for record in &list.records {
            if let Some(modseq) = record.modseq {
                self.highest_modseq = self.highest_modseq.max(modseq);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        uid: u32,
        base: &str,
        in_new: bool,
        letters: &str,
        flags: Flags,
        (size, wire_size): (u64, u64),
        date: SystemTime,
        modseq: u64,
    ) {
        self.by_base.insert(base.to_string(), uid);
        self.entries.insert(
            uid,
            Entry {
                base: base.to_string(),
                in_new,
                letters: letters.to_string(),
                flags,
                size,
                wire_size,
                date,
                modseq,
            },
        );
    }

    fn appended_change(&self, uid: u32) -> Change {
        Change::Appended {
            mailbox: self.name.clone(),
            uid: Uid(NonZeroU32::new(uid).unwrap_or(NonZeroU32::MIN)),
            modseq: ModSeq(self.entries.get(&uid).map_or(0, |entry| entry.modseq)),
        }
    }

    fn take_uid(&mut self) -> Result<u32, StoreError> {
        let uid = self.uid_next;
        if uid == 0 || uid == u32::MAX {
            return Err(StoreError::Limit("UID space exhausted"));
        }
        self.uid_next += 1;
        Ok(uid)
    }

    fn rewrite_uidlist(&mut self) -> Result<(), StoreError> {
        let list = Uidlist {
            uid_validity: self.uid_validity,
            uid_next: self.uid_next,
            guid: self.guid.clone(),
            records: self
                .entries
                .iter()
                .map(|(&uid, entry)| UidRecord {
                    uid,
                    base: entry.base.clone(),
                    modseq: Some(entry.modseq),
                })
                .collect(),
            complete: true,
        };
        metadata::rewrite_uidlist(&self.dir, &list)?;
        self.uidlist_records = list.records.len();
        Ok(())
    }

    fn rewrite_modseq_log(&self) -> Result<(), StoreError> {
        let by_uid: Vec<(u32, u64)> = self
            .entries
            .iter()
            .map(|(&uid, entry)| (uid, entry.modseq))
            .collect();
        metadata::rewrite_modseq_log(&self.dir, self.highest_modseq, &by_uid)?;
        Ok(())
    }

    fn uid_validity(&self) -> UidValidity {
        UidValidity(NonZeroU32::new(self.uid_validity).unwrap_or(NonZeroU32::MIN))
    }

    pub(crate) fn validity(&self) -> UidValidity {
        self.uid_validity()
    }

    fn meta(&self, uid: u32, entry: &Entry) -> Option<MessageMeta> {
        Some(MessageMeta {
            uid: Uid::new(uid)?,
            size: entry.size,
            wire_size: entry.wire_size,
            flags: entry.flags.clone(),
            internal_date: entry.date,
            modseq: ModSeq(entry.modseq),
        })
    }

    pub(crate) fn snapshot(&self) -> MailboxSnapshot {
        let messages: Vec<MessageMeta> = self
            .entries
            .iter()
            .filter_map(|(&uid, entry)| self.meta(uid, entry))
            .collect();
        MailboxSnapshot {
            status: status_of(
                self.uid_validity(),
                Uid::new(self.uid_next).unwrap_or(Uid(NonZeroU32::MAX)),
                ModSeq(self.highest_modseq),
                &messages,
            ),
            messages,
        }
    }

    /// The path of a message's file now.
    pub(crate) fn path_of(&self, uid: Uid) -> Option<(PathBuf, u64)> {
        let entry = self.entries.get(&uid.get())?;
        let sub = if entry.in_new { "new" } else { "cur" };
        Some((self.dir.join(sub).join(entry.file_name()), entry.size))
    }

    /// What a copy needs of a message: its path, flags and date.
    pub(crate) fn copy_source(&self, uid: Uid) -> Option<(PathBuf, Flags, SystemTime)> {
        let entry = self.entries.get(&uid.get())?;
        let (path, _) = self.path_of(uid)?;
        Some((path, entry.flags.clone(), entry.date))
    }

    /// Info letters for `flags`, registering new keywords in `dovecot-keywords`.
    pub(crate) fn letters_allocating(&mut self, flags: &Flags) -> Result<String, StoreError> {
        let mut added = false;
        for flag in flags {
            if let Flag::Keyword(keyword) = flag {
                if !self.keywords.contains(keyword) {
                    match self.keywords.iter().position(String::is_empty) {
                        Some(free) => self.keywords[free] = keyword.clone(),
                        None if self.keywords.len() < 26 => self.keywords.push(keyword.clone()),
                        None => {
                            return Err(StoreError::Limit(
                                "a Maildir folder holds at most 26 keywords",
                            ))
                        }
                    }
                    added = true;
                }
            }
        }
        if added {
            metadata::write_keywords(&self.dir, &self.keywords)?;
        }
        letters_for(flags, &self.keywords).ok_or(StoreError::Limit("keyword has no letter"))
    }

    /// Moves a fully written and fsynced file from `tmp/` into `new/` (no flags: a delivery)
    /// or `cur/` (with its flags after `:2,`) and gives it a UID. Durable when it returns: the
    /// rename is flushed and the UID record fsynced.
    pub(crate) fn commit(&mut self, staged: Staged) -> Result<(Uid, ModSeq), StoreError> {
        self.commit_batch(vec![staged])
            .pop()
            .unwrap_or(Err(StoreError::Limit("empty commit batch")))
    }

    /// Commits several staged files at once, with one fsync of each directory they went to
    /// (`new/`, `cur/`) and one of the UID records for all of them: what concurrent
    /// deliveries to one folder share. A message without flags goes to `new/` under its base
    /// name, as Postfix and Dovecot's LDA deliver new mail; one with flags goes to `cur/`.
    /// Each gets its own result, in order; a file whose result is an error is not visible
    /// (the caller removes its temporary file) and a batch whose records cannot be made
    /// durable fails as a whole, with every renamed file taken back.
    pub(crate) fn commit_batch(
        &mut self,
        batch: Vec<Staged>,
    ) -> Vec<Result<(Uid, ModSeq), StoreError>> {
        let (cur, new) = (self.dir.join("cur"), self.dir.join("new"));
        let mut results: Vec<Result<(Uid, ModSeq), StoreError>> = Vec::with_capacity(batch.len());
        let (mut into_cur, mut into_new) = (false, false);
        // (index in results, uid, target, letters, in new/, staged)
        let mut renamed = Vec::new();
        for (index, staged) in batch.into_iter().enumerate() {
            let in_new = staged.flags.is_empty();
            let prepared = self.letters_allocating(&staged.flags).and_then(|letters| {
                let uid = self.take_uid()?;
                let target = if in_new {
                    new.join(&staged.base)
                } else {
                    cur.join(cur_name(&staged.base, &letters))
                };
                fs::rename(&staged.temporary, &target)?;
                Ok((uid, target, letters))
            });
            match prepared {
                Ok((uid, target, letters)) => {
                    into_new |= in_new;
                    into_cur |= !in_new;
                    results.push(Err(StoreError::Limit("not committed")));
                    renamed.push((index, uid, target, letters, in_new, staged));
                }
                Err(error) => results.push(Err(error)),
            }
        }
        if renamed.is_empty() {
            return results;
        }
        let first_modseq = self.highest_modseq + 1;
        let records: Vec<UidRecord> = renamed
            .iter()
            .zip(first_modseq..)
            .map(|((_, uid, _, _, _, staged), modseq)| UidRecord {
                uid: *uid,
                base: staged.base.clone(),
                modseq: Some(modseq),
            })
            .collect();
        let sync_targets = || -> io::Result<()> {
            if into_new {
                sync_dir(&new)?;
            }
            if into_cur {
                sync_dir(&cur)?;
            }
            Ok(())
        };
        let recorded =
            sync_targets().and_then(|()| metadata::append_uid_records(&self.dir, &records));
        if let Err(error) = recorded {
            // The callers hear of a failure, so none of these messages may turn up later.
            for (index, _, target, _, _, _) in &renamed {
                let _ = fs::remove_file(target);
                results[*index] = Err(io::Error::new(error.kind(), error.to_string()).into());
            }
            let _ = sync_targets();
            return results;
        }
        for ((index, uid, _, letters, in_new, staged), modseq) in
            renamed.into_iter().zip(first_modseq..)
        {
            self.highest_modseq = modseq;
            self.uidlist_records += 1;
            let letters = if in_new { String::new() } else { letters };
            self.insert(
                uid,
                &staged.base,
                in_new,
                &letters,
                staged.flags,
                staged.size,
                staged.date,
                modseq,
            );
            results[index] = Uid::new(uid)
                .map(|uid| (uid, ModSeq(modseq)))
                .ok_or(StoreError::Limit("UID space exhausted"));
        }
        self.note_mtimes();
        results
    }

    pub(crate) fn store_flags(
        &mut self,
        uids: &[Uid],
        operation: FlagOperation,
        flags: &Flags,
        unchanged_since: Option<ModSeq>,
    ) -> Result<FlagsStored, StoreError> {
        let mut stored = FlagsStored::default();
        let mut log = Vec::new();
        let mut touched_new = false;
        for uid in uids {
            let Some(entry) = self.entries.get(&uid.get()) else {
                continue;
            };
            if unchanged_since.is_some_and(|since| entry.modseq > since.0) {
                stored.modified.push(*uid);
                continue;
            }
            let new_flags = operation.apply(&entry.flags, flags);
            if new_flags == entry.flags {
                continue;
            }
            let letters = self.letters_allocating(&new_flags)?;
            let Some(entry) = self.entries.get(&uid.get()) else {
                continue;
            };
            let from_dir = if entry.in_new { "new" } else { "cur" };
            touched_new |= entry.in_new;
            let from = self.dir.join(from_dir).join(entry.file_name());
            let to = self.dir.join("cur").join(cur_name(&entry.base, &letters));
            fs::rename(&from, &to)?;
            let modseq = self.bump();
            if let Some(entry) = self.entries.get_mut(&uid.get()) {
                entry.in_new = false;
                entry.letters = letters;
                entry.flags = new_flags.clone();
                entry.modseq = modseq;
            }
            log.push((Some(uid.get()), modseq));
            stored.changed.push((*uid, new_flags, ModSeq(modseq)));
        }
        if !log.is_empty() {
            sync_dir(&self.dir.join("cur"))?;
            if touched_new {
                sync_dir(&self.dir.join("new"))?;
            }
            metadata::append_modseq_records(&self.dir, &log)?;
        }
        self.note_mtimes();
        Ok(stored)
    }

    pub(crate) fn expunge(&mut self, which: &Expunge) -> Result<Vec<Uid>, StoreError> {
        let doomed: Vec<Uid> = self
            .entries
            .iter()
            .filter_map(|(&uid, entry)| self.meta(uid, entry))
            .filter(|meta| expunge_selects(which, meta))
            .map(|meta| meta.uid)
            .collect();
        if doomed.is_empty() {
            return Ok(doomed);
        }
        for uid in &doomed {
            if let Some((path, _)) = self.path_of(*uid) {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error.into()),
                }
            }
            if let Some(entry) = self.entries.remove(&uid.get()) {
                self.by_base.remove(&entry.base);
            }
        }
        sync_dir(&self.dir.join("cur"))?;
        sync_dir(&self.dir.join("new"))?;
        let modseq = self.bump();
        metadata::append_modseq_records(&self.dir, &[(None, modseq)])?;
        if self.uidlist_records > 2 * self.entries.len() + 100 {
            self.rewrite_uidlist()?;
        }
        self.note_mtimes();
        Ok(doomed)
    }
}

fn new_guid(seed: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(seed);
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or(0),
    );
    let high = hasher.finish();
    hasher.write_u64(high);
    format!("{high:016x}{:016x}", hasher.finish())
}
