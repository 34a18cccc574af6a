//! The Maildir backend: the embedded default, readable by Dovecot and mutt, durable.
//!
//! # Layout
//! ```text
//! <root>/<account>/              the account's Maildir, which is its INBOX
//!     new/                       delivered messages nobody has flagged yet
//!     cur/                       messages with flags, in the names after ":2,"
//!     tmp/                       messages being written (left over after 36 hours: removed
//!                                by MaildirStore::clean_tmp)
//!     dovecot-uidlist            UIDVALIDITY, UIDNEXT, one UID record per message
//!     dovecot-keywords           keyword letters
//!     mailstore-modseq           MODSEQ log
//!     subscriptions              subscribed names, one a line
//!     .Sent/ .Archive.2024/      other mailboxes (Maildir++: levels joined by ".",
//!                                each level in modified UTF-7), each with the same files
//!                                and a `maildirfolder` marker
//! ```
//! Dovecot pointed at `<root>/%u` with `maildir:` sees the same folders, messages, flags and
//! UIDs.
//!
//! # New mail
//! A message appended without flags (a delivery) goes to `new/` under its base name, as
//! Postfix and Dovecot's LDA deliver: mail programs that read the Maildir, and Dovecot's
//! `\Recent`, see it as new. One appended with flags goes to `cur/` with its flags after
//! `:2,`. A message moves from `new/` to `cur/` (gaining `:2,` and its flags) when its flags
//! are first changed, marking it seen included; its UID stays, since the UID records key on
//! the base name, which the move keeps.
//!
//! # Durability
//! An append writes the message to `tmp/` (mode 0600), fsyncs it, renames it into `new/` or
//! `cur/`, fsyncs that directory, and fsyncs its UID record, all before it returns. Appends to
//! one folder that arrive while another is committing share the fsyncs of the directories
//! and of the UID records (a group commit); each still returns only once its own message is
//! durable. A crash at any point leaves either no
//! visible message or a complete one (given a UID on the next start if its record was lost).
//! A failed write (a full disk) removes the temporary file and returns the error.
//!
//! # What it does not do
//! Changes made by other programs are noticed when the folder is next used (by comparing the
//! directories' modification times), not pushed as they happen. A change another program makes
//! in the few milliseconds while this store itself renames or fsyncs in the same folder can go
//! unnoticed until the folder's next change. Keywords are limited to 26 per
//! folder, as in Dovecot's Maildir.

mod commit_queue;
mod filename;
mod folder;
mod fsio;
mod metadata;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use commit_queue::FolderSlot;
use folder::{Folder, Staged};
use mail_session::mutf7;

use crate::changes::{Change, ChangeHub, ChangeSubscription};
use crate::memory::whole_seconds;
use crate::message::{
    FlagOperation, Flags, MailboxInfo, MailboxSnapshot, MailboxStatus, ModSeq, SpecialUse, Uid,
};
use crate::names::{AccountName, MailboxName};
use crate::store::{
    rename_inbox_or_check, AppendOptions, Appended, Copied, Expunge, FlagsStored, MailStore,
    MaildropLock, MaildropLocks, MessageContent, StoreError,
};

const SPECIAL_USE_FILE: &str = "mailstore-special-use";
const SUBSCRIPTIONS_FILE: &str = "subscriptions";
const TRASH_PREFIX: &str = "..mailstore-trash-";

type FolderKey = (AccountName, MailboxName);

/// A [`MailStore`] on Maildir folders under one root directory.
#[derive(Debug)]
pub struct MaildirStore {
    root: PathBuf,
    hostname: String,
    counter: AtomicU64,
    last_validity: AtomicU32,
    folders: Mutex<HashMap<FolderKey, Arc<FolderSlot>>>,
    accounts: Mutex<HashMap<AccountName, Arc<Mutex<()>>>>,
    hub: ChangeHub,
    locks: MaildropLocks,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The directory name of a non-INBOX mailbox: `.` and its levels in modified UTF-7, joined
/// by `.`.
fn folder_dir_name(name: &MailboxName) -> String {
    let levels: Vec<String> = name.levels().map(mutf7::encode).collect();
    format!(".{}", levels.join("."))
}

fn mailbox_from_dir_name(dir_name: &str) -> Option<MailboxName> {
    let rest = dir_name.strip_prefix('.')?;
    if rest.is_empty() || rest.starts_with('.') {
        return None;
    }
    let levels: Option<Vec<String>> = rest
        .split('.')
        .map(|level| mutf7::decode(level).ok())
        .collect();
    MailboxName::try_from(levels?.join("/").as_str()).ok()
}

/// How long a file may stay unchanged in a Maildir's `tmp/` before
/// [`MaildirStore::clean_tmp`] removes it: 36 hours, as Dovecot's `maildir` does.
pub const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 60 * 60);

/// When a file last changed: its data or, on Unix, its status (a rename, a new date), so that
/// a file whose modification time was set to an old internal date does not look old.
fn last_change(metadata: &fs::Metadata) -> Option<SystemTime> {
    let modified = metadata.modified().ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let changed = u64::try_from(metadata.ctime())
            .ok()
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        modified.max(changed)
    }
    #[cfg(not(unix))]
    modified
}

/// Removes the files of one `tmp/` that are older than [`TMP_MAX_AGE`] at `now`.
fn clean_tmp_folder(tmp: &Path, now: SystemTime) -> usize {
    let entries = match fs::read_dir(tmp) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return 0,
        Err(error) => {
            tracing::warn!(folder = %tmp.display(), %error, "cannot read a Maildir tmp/");
            return 0;
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let stale = metadata.is_file()
            && last_change(&metadata)
                .and_then(|changed| now.duration_since(changed).ok())
                .is_some_and(|age| age > TMP_MAX_AGE);
        if !stale {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(file = %entry.path().display(), %error, "cannot remove a stale file in tmp/");
            }
        }
    }
    removed
}

fn hostname() -> String {
    let raw = fs::read_to_string("/etc/hostname").unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '-' || *ch == '.')
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

impl MaildirStore {
    /// A store rooted at `root` (created if missing). Each account's Maildir is
    /// `root/<account>`.
    pub fn open(root: impl Into<PathBuf>) -> Result<MaildirStore, StoreError> {
        let root = root.into();
        fsio::ensure_dir_all(&root)?;
        Ok(MaildirStore {
            root,
            hostname: hostname(),
            counter: AtomicU64::new(0),
            last_validity: AtomicU32::new(0),
            folders: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
            hub: ChangeHub::new(),
            locks: MaildropLocks::default(),
        })
    }

    /// Removes every file in the `tmp/` of every folder of every account that has not
    /// changed for [`TMP_MAX_AGE`] before `now`: the partial files of deliveries killed
    /// half-way, which nothing else would ever remove (Dovecot does the same). A delivery in
    /// progress is never touched: its file changes (written, dated, fsynced) within seconds
    /// of its creation, and the age counts from the file's last change of data or status,
    /// whatever date its modification time was set to. Returns how many files it removed.
    /// Call it at start and about once a day; a file it cannot remove is logged and skipped.
    pub fn clean_tmp(&self, now: SystemTime) -> Result<usize, StoreError> {
        let mut removed = 0;
        let accounts = match fs::read_dir(&self.root) {
            Ok(accounts) => accounts,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error.into()),
        };
        for account in accounts {
            let account = account?;
            if !account.file_type()?.is_dir() {
                continue;
            }
            let account_dir = account.path();
            let mut folders = vec![account_dir.clone()];
            for item in fs::read_dir(&account_dir)? {
                let item = item?;
                let name = item.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.')
                    && !name.starts_with(TRASH_PREFIX)
                    && item.file_type()?.is_dir()
                {
                    folders.push(item.path());
                }
            }
            for folder in folders {
                removed += clean_tmp_folder(&folder.join("tmp"), now);
            }
        }
        Ok(removed)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Maildir of an account (its INBOX).
    pub fn account_dir(&self, account: &AccountName) -> PathBuf {
        self.root.join(account.as_str())
    }

    /// The directory of a mailbox about to be created, refused when its encoded name would be
    /// longer than a file name may be (modified UTF-7 can make a level 2.5 times longer).
    fn new_folder_dir(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<PathBuf, StoreError> {
        const MAX_FILE_NAME: usize = 255;
        if folder_dir_name(name).len() > MAX_FILE_NAME {
            return Err(StoreError::InvalidName(crate::names::NameError::TooLong {
                limit: MAX_FILE_NAME,
            }));
        }
        Ok(self.folder_dir(account, name))
    }

    fn folder_dir(&self, account: &AccountName, name: &MailboxName) -> PathBuf {
        let base = self.account_dir(account);
        if name.is_inbox() {
            base
        } else {
            base.join(folder_dir_name(name))
        }
    }

    /// A UIDVALIDITY from the clock, distinct from any this process handed out before.
    fn new_validity(&self) -> u32 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs() as u32)
            .unwrap_or(1)
            .max(1);
        let mut previous = self.last_validity.load(Ordering::Relaxed);
        loop {
            let next = now.max(previous.wrapping_add(1)).max(1);
            match self.last_validity.compare_exchange(
                previous,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => previous = actual,
            }
        }
    }

    fn account_lock(&self, account: &AccountName) -> Arc<Mutex<()>> {
        lock(&self.accounts)
            .entry(account.clone())
            .or_default()
            .clone()
    }

    /// Makes `cur/new/tmp` in `dir`; `marker` adds the Maildir++ `maildirfolder` file.
    fn make_maildir(dir: &Path, marker: bool) -> io::Result<()> {
        let made = fsio::ensure_dir(dir)?;
        for sub in ["cur", "new", "tmp"] {
            fsio::ensure_dir(&dir.join(sub))?;
        }
        if marker {
            fsio::private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.join("maildirfolder"))?;
        }
        if made {
            fsio::sync_dir(dir)?;
            if let Some(parent) = dir.parent() {
                fsio::sync_dir(parent)?;
            }
        }
        Ok(())
    }

    fn ensure_account(&self, account: &AccountName) -> Result<(), StoreError> {
        let dir = self.account_dir(account);
        if !dir.join("cur").is_dir() {
            Self::make_maildir(&dir, false)?;
        }
        Ok(())
    }

    /// The folder index of a mailbox, loaded on first use and refreshed from disk.
    fn folder(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<Arc<FolderSlot>, StoreError> {
        let key = (account.clone(), name.clone());
        // Loading happens under the map's lock, so that two first users of a folder cannot
        // both initialise its metadata.
        let mut folders = lock(&self.folders);
        if let Some(folder) = folders.get(&key) {
            return Ok(folder.clone());
        }
        self.ensure_account(account)?;
        let dir = self.folder_dir(account, name);
        if !dir.join("cur").is_dir() {
            return Err(StoreError::NoSuchMailbox(name.clone()));
        }
        let loaded = Arc::new(FolderSlot::new(Folder::open(name.clone(), dir, || {
            self.new_validity()
        })?));
        folders.insert(key, loaded.clone());
        Ok(loaded)
    }

    fn with_folder<T>(
        &self,
        account: &AccountName,
        name: &MailboxName,
        action: impl FnOnce(&mut Folder) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let folder = self.folder(account, name)?;
        let mut changes = Vec::new();
        let result = {
            let mut folder = folder.folder();
            folder.refresh(&mut changes)?;
            action(&mut folder)
        };
        for change in changes {
            self.hub.publish(account, change);
        }
        result
    }

    fn forget_folders(&self, account: &AccountName, names: &[MailboxName]) {
        let mut folders = lock(&self.folders);
        for name in names {
            folders.remove(&(account.clone(), name.clone()));
        }
    }

    fn unique_base(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            counter,
            self.hostname
        )
    }

    /// Writes `message` to a new file in `dir/tmp`, fsynced, with its modification time set to
    /// `date`. Returns the path, the final base name (with `,S=` and `,W=`) and the size.
    fn write_temporary(
        &self,
        dir: &Path,
        message: &mut dyn Read,
        max_size: Option<u64>,
        date: SystemTime,
    ) -> Result<(PathBuf, String, (u64, u64)), StoreError> {
        let unique = self.unique_base();
        let path = dir.join("tmp").join(&unique);
        let mut file = fsio::private_file()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let written = (|| -> Result<(u64, u64, Option<u8>), StoreError> {
            let mut buffer = vec![0u8; 64 * 1024];
            let (mut size, mut bare_lf) = (0u64, 0u64);
            let mut last: Option<u8> = None;
            loop {
                let read = match message.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error.into()),
                };
                let chunk = &buffer[..read];
                size += read as u64;
                if max_size.is_some_and(|limit| size > limit) {
                    return Err(StoreError::TooLarge);
                }
                bare_lf += crate::message::bare_line_feeds(chunk, last == Some(b'\r'));
                last = Some(chunk[read - 1]);
                file.write_all(chunk)?;
            }
            // The date first, so the fsync makes it durable with the data.
            file.set_modified(date)?;
            file.sync_all()?;
            Ok((size, size + bare_lf, last))
        })();
        match written {
            Ok((size, virtual_size, last)) => {
                // W= is Dovecot's virtual size (no final CR LF counted), so Dovecot reads it right.
                let base = format!("{unique},S={size},W={virtual_size}");
                let wire_size = virtual_size + crate::message::unterminated_extra(last);
                Ok((path, base, (size, wire_size)))
            }
            Err(error) => {
                drop(file);
                let _ = fs::remove_file(&path);
                Err(error)
            }
        }
    }

    fn read_special_use(dir: &Path) -> Option<SpecialUse> {
        let text = fs::read_to_string(dir.join(SPECIAL_USE_FILE)).ok()?;
        SpecialUse::from_imap(text.trim())
    }

    fn read_subscriptions(&self, account: &AccountName) -> Result<Subscriptions, StoreError> {
        match fs::read_to_string(self.account_dir(account).join(SUBSCRIPTIONS_FILE)) {
            Ok(text) => Ok(Subscriptions::parse(&text)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Subscriptions::default()),
            Err(error) => Err(error.into()),
        }
    }

    fn mailbox_names(&self, account: &AccountName) -> Result<Vec<MailboxName>, StoreError> {
        self.ensure_account(account)?;
        let mut names = vec![MailboxName::inbox()];
        for item in fs::read_dir(self.account_dir(account))? {
            let item = item?;
            let Ok(dir_name) = item.file_name().into_string() else {
                continue;
            };
            if let Some(name) = mailbox_from_dir_name(&dir_name) {
                if item.path().join("cur").is_dir() && !name.is_inbox() {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Dovecot's `subscriptions` file. Version 2 (what Dovecot 2.3 writes, and what is written
/// here): a `V<TAB>2` line, an empty line, then one name a line with its hierarchy levels
/// separated by TAB, each level in modified UTF-7. The older form (no header, Maildir++ names
/// with `.` between levels) is read too. Lines that name nothing valid here are kept as they
/// are, so rewriting the file never loses another program's entries.
#[derive(Debug, Default)]
struct Subscriptions {
    names: BTreeSet<MailboxName>,
    foreign: Vec<String>,
}

impl Subscriptions {
    fn parse(text: &str) -> Subscriptions {
        let mut subscriptions = Subscriptions::default();
        let (separator, body) = match text.strip_prefix("V\t2\n") {
            Some(rest) => ('\t', rest),
            None => ('.', text),
        };
        for line in body.lines().filter(|line| !line.is_empty()) {
            let levels: Option<Vec<String>> = line
                .split(separator)
                .map(|level| mutf7::decode(level).ok())
                .collect();
            match levels.and_then(|levels| MailboxName::try_from(levels.join("/").as_str()).ok()) {
                Some(name) => {
                    subscriptions.names.insert(name);
                }
                None => subscriptions.foreign.push(line.to_string()),
            }
        }
        subscriptions
    }

    fn render(&self) -> String {
        let mut text = String::from("V\t2\n\n");
        for name in &self.names {
            let levels: Vec<String> = name.levels().map(mutf7::encode).collect();
            text.push_str(&levels.join("\t"));
            text.push('\n');
        }
        for line in &self.foreign {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

impl MailStore for MaildirStore {
    fn list_mailboxes(&self, account: &AccountName) -> Result<Vec<MailboxInfo>, StoreError> {
        let subscriptions = self.read_subscriptions(account)?;
        Ok(self
            .mailbox_names(account)?
            .into_iter()
            .map(|name| MailboxInfo {
                special_use: Self::read_special_use(&self.folder_dir(account, &name)),
                subscribed: subscriptions.names.contains(&name),
                name,
            })
            .collect())
    }

    fn create_mailbox(
        &self,
        account: &AccountName,
        name: &MailboxName,
        special_use: Option<SpecialUse>,
    ) -> Result<(), StoreError> {
        self.ensure_account(account)?;
        let account_lock = self.account_lock(account);
        let _held = lock(&account_lock);
        let dir = self.new_folder_dir(account, name)?;
        if name.is_inbox() || dir.join("cur").is_dir() {
            return Err(StoreError::MailboxExists(name.clone()));
        }
        let mut ancestors = Vec::new();
        let mut parent = name.parent();
        while let Some(level) = parent {
            parent = level.parent();
            ancestors.push(level);
        }
        for ancestor in ancestors.iter().rev() {
            if !ancestor.is_inbox() {
                Self::make_maildir(&self.folder_dir(account, ancestor), true)?;
            }
        }
        if let Some(special_use) = special_use {
            // Written before the folder becomes visible under its name.
            let staging = self
                .account_dir(account)
                .join(format!("{TRASH_PREFIX}new-{}", self.unique_base()));
            Self::make_maildir(&staging, true)?;
            fsio::replace_file(
                &staging.join(SPECIAL_USE_FILE),
                special_use.as_imap().as_bytes(),
            )?;
            fs::rename(&staging, &dir)?;
            fsio::sync_dir(&self.account_dir(account))?;
        } else {
            Self::make_maildir(&dir, true)?;
        }
        drop(_held);
        self.hub.publish(account, Change::MailboxesChanged);
        Ok(())
    }

    fn delete_mailbox(&self, account: &AccountName, name: &MailboxName) -> Result<(), StoreError> {
        if name.is_inbox() {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted"));
        }
        self.ensure_account(account)?;
        let account_lock = self.account_lock(account);
        let held = lock(&account_lock);
        let dir = self.folder_dir(account, name);
        if !dir.join("cur").is_dir() {
            return Err(StoreError::NoSuchMailbox(name.clone()));
        }
        // Out of sight in one rename, then removed.
        let trash = self
            .account_dir(account)
            .join(format!("{TRASH_PREFIX}{}", self.unique_base()));
        fs::rename(&dir, &trash)?;
        fsio::sync_dir(&self.account_dir(account))?;
        self.forget_folders(account, std::slice::from_ref(name));
        drop(held);
        fs::remove_dir_all(&trash)?;
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
        self.ensure_account(account)?;
        let account_lock = self.account_lock(account);
        let held = lock(&account_lock);
        if !self.folder_dir(account, from).join("cur").is_dir() {
            return Err(StoreError::NoSuchMailbox(from.clone()));
        }
        if self.new_folder_dir(account, to)?.join("cur").is_dir() {
            return Err(StoreError::MailboxExists(to.clone()));
        }
        let moving: Vec<MailboxName> = self
            .mailbox_names(account)?
            .into_iter()
            .filter(|name| name == from || name.is_below(from))
            .collect();
        let mut parent = to.parent();
        while let Some(level) = parent {
            parent = level.parent();
            if !level.is_inbox() && !moving.contains(&level) {
                Self::make_maildir(&self.folder_dir(account, &level), true)?;
            }
        }
        for old in &moving {
            if let Some(new) = old.with_prefix_replaced(from, to) {
                self.new_folder_dir(account, &new)?;
            }
        }
        for old in &moving {
            if let Some(new) = old.with_prefix_replaced(from, to) {
                fs::rename(
                    self.folder_dir(account, old),
                    self.folder_dir(account, &new),
                )?;
            }
        }
        fsio::sync_dir(&self.account_dir(account))?;
        self.forget_folders(account, &moving);
        drop(held);
        self.hub.publish(account, Change::MailboxesChanged);
        Ok(())
    }

    fn set_subscribed(
        &self,
        account: &AccountName,
        name: &MailboxName,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        self.ensure_account(account)?;
        let account_lock = self.account_lock(account);
        let _held = lock(&account_lock);
        let mut subscriptions = self.read_subscriptions(account)?;
        let changed = if subscribed {
            subscriptions.names.insert(name.clone())
        } else {
            subscriptions.names.remove(name)
        };
        if changed {
            fsio::replace_file(
                &self.account_dir(account).join(SUBSCRIPTIONS_FILE),
                subscriptions.render().as_bytes(),
            )?;
        }
        Ok(())
    }

    fn status(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxStatus, StoreError> {
        Ok(self.snapshot(account, name)?.status)
    }

    fn snapshot(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxSnapshot, StoreError> {
        self.with_folder(account, name, |folder| Ok(folder.snapshot()))
    }

    fn append(
        &self,
        account: &AccountName,
        name: &MailboxName,
        message: &mut dyn Read,
        options: AppendOptions,
    ) -> Result<Appended, StoreError> {
        let folder = self.folder(account, name)?;
        let dir = folder.folder().dir().to_path_buf();
        let date = whole_seconds(options.internal_date.unwrap_or_else(SystemTime::now));
        // The slow part, writing and fsyncing the data, happens outside the folder lock.
        let (temporary, base, size) =
            self.write_temporary(&dir, message, options.max_size, date)?;
        let staged = Staged {
            temporary: temporary.clone(),
            base,
            flags: options.flags,
            size,
            date,
        };
        // Appends that arrive together share the fsyncs of the commit (see commit_queue).
        let mut changes = Vec::new();
        let committed = folder.commit(staged, |folder| folder.refresh(&mut changes));
        for change in changes {
            self.hub.publish(account, change);
        }
        match committed {
            Ok((uid_validity, uid, modseq)) => {
                self.hub.publish_appended(account, name, uid, modseq);
                Ok(Appended {
                    uid_validity,
                    uid,
                    modseq,
                    size: size.0,
                })
            }
            Err(error) => {
                let _ = fs::remove_file(&temporary);
                Err(error)
            }
        }
    }

    fn open_message(
        &self,
        account: &AccountName,
        name: &MailboxName,
        uid: Uid,
    ) -> Result<MessageContent, StoreError> {
        self.with_folder(account, name, |folder| {
            let (path, size) = folder.path_of(uid).ok_or(StoreError::NoSuchMessage(uid))?;
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::NoSuchMessage(uid))
                }
                Err(error) => return Err(error.into()),
            };
            // A Maildir file's content never changes under its name: the indexed size holds.
            Ok(MessageContent {
                size,
                reader: Box::new(file),
            })
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
        let stored = self.with_folder(account, name, |folder| {
            folder.store_flags(uids, operation, flags, unchanged_since)
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
        let removed = self.with_folder(account, name, |folder| folder.expunge(&which))?;
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
        let sources = self.with_folder(account, from, |folder| {
            Ok(uids
                .iter()
                .filter_map(|uid| folder.copy_source(*uid).map(|source| (*uid, source)))
                .collect::<Vec<_>>())
        })?;
        let target = self.folder(account, to)?;
        let target_dir = target.folder().dir().to_path_buf();
        let mut copied = Copied {
            uid_validity: target.folder().validity(),
            uids: Vec::new(),
        };
        for (uid, (path, flags, date)) in sources {
            let mut file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            let (temporary, base, size) =
                self.write_temporary(&target_dir, &mut file, None, date)?;
            let committed = self.with_folder(account, to, |folder| {
                folder.commit(Staged {
                    temporary: temporary.clone(),
                    base,
                    flags,
                    size,
                    date,
                })
            });
            match committed {
                Ok((new_uid, modseq)) => {
                    copied.uids.push((uid, new_uid));
                    self.hub.publish_appended(account, to, new_uid, modseq);
                }
                Err(error) => {
                    let _ = fs::remove_file(&temporary);
                    return Err(error);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_use_dovecots_version_2_format_and_keep_unknown_lines() {
        let dovecot = "V\t2\n\nEntw&APw-rfe\nProjekte\t&ANw-berblick\nINBOX\nbad\t&\n";
        let parsed = Subscriptions::parse(dovecot);
        let names: Vec<&str> = parsed.names.iter().map(MailboxName::as_str).collect();
        assert_eq!(names, ["Entwürfe", "INBOX", "Projekte/Überblick"]);
        assert_eq!(parsed.foreign, ["bad\t&"]);
        assert_eq!(
            parsed.render(),
            "V\t2\n\nEntw&APw-rfe\nINBOX\nProjekte\t&ANw-berblick\nbad\t&\n"
        );
        let old = Subscriptions::parse("Archive.2024\nA&-B\n");
        let names: Vec<&str> = old.names.iter().map(MailboxName::as_str).collect();
        assert_eq!(names, ["A&B", "Archive/2024"]);
    }

    #[test]
    fn folder_names_map_to_maildir_plus_plus_directories() {
        let name = MailboxName::try_from("Archiv/2024/Entwürfe").unwrap();
        assert_eq!(folder_dir_name(&name), ".Archiv.2024.Entw&APw-rfe");
        assert_eq!(
            mailbox_from_dir_name(".Archiv.2024.Entw&APw-rfe"),
            Some(name)
        );
        assert_eq!(mailbox_from_dir_name(".."), None);
        assert_eq!(mailbox_from_dir_name("..mailstore-trash-1"), None);
        assert_eq!(mailbox_from_dir_name(".a..b"), None);
    }

    #[test]
    fn concurrent_deliveries_each_get_their_own_durable_uid() {
        let root = tempfile::tempdir().unwrap();
        let store = Arc::new(MaildirStore::open(root.path()).unwrap());
        let account = AccountName::try_from("alice").unwrap();
        let (threads, each) = (12usize, 8usize);
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (store, account) = (store.clone(), account.clone());
                std::thread::spawn(move || {
                    (0..each)
                        .map(|index| {
                            let body = format!("Subject: {thread}-{index}\r\n\r\nbody\r\n");
                            let appended = store.deliver(&account, &mut body.as_bytes()).unwrap();
                            (appended.uid, body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut delivered: Vec<(Uid, String)> = workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect();
        delivered.sort();
        let uids: Vec<u32> = delivered.iter().map(|(uid, _)| uid.get()).collect();
        assert_eq!(uids, (1..=(threads * each) as u32).collect::<Vec<_>>());
        // After a restart (the UID records read back from disk) every message is where its
        // caller was told, byte for byte.
        drop(store);
        let reopened = MaildirStore::open(root.path()).unwrap();
        let snapshot = reopened.snapshot(&account, &MailboxName::inbox()).unwrap();
        assert_eq!(snapshot.messages.len(), threads * each);
        for (uid, body) in delivered {
            let mut content = reopened
                .open_message(&account, &MailboxName::inbox(), uid)
                .unwrap();
            let mut stored = String::new();
            content.reader.read_to_string(&mut stored).unwrap();
            assert_eq!(stored, body, "UID {uid:?}");
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_delivery_lands_in_new_and_moves_to_cur_when_first_flagged() {
        let root = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(root.path()).unwrap();
        let account = AccountName::try_from("alice").unwrap();
        let inbox = MailboxName::inbox();
        let body = b"Subject: new\r\n\r\nhello\r\n";
        let delivered = store.deliver(&account, &mut &body[..]).unwrap();
        let maildir = store.account_dir(&account);
        let new = files_in(&maildir.join("new"));
        assert_eq!(new.len(), 1, "a delivery goes to new/");
        assert!(!new[0].contains(':'), "no info suffix in new/: {new:?}");
        assert!(files_in(&maildir.join("cur")).is_empty());
        // Its UID record names the file's base name, as Dovecot's does.
        let uidlist = fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
        assert!(uidlist.contains(&format!(":{}\n", new[0])), "{uidlist}");
        // Readable where it is, by this store and by a fresh one.
        let read = |store: &MaildirStore| {
            let mut text = Vec::new();
            store
                .open_message(&account, &inbox, delivered.uid)
                .unwrap()
                .reader
                .read_to_end(&mut text)
                .unwrap();
            text
        };
        assert_eq!(read(&store), body);
        assert_eq!(read(&MaildirStore::open(root.path()).unwrap()), body);

        // An append with flags goes to cur/ with them.
        let flagged = store
            .append(
                &account,
                &inbox,
                &mut &body[..],
                AppendOptions {
                    flags: [crate::message::Flag::Flagged].into(),
                    ..AppendOptions::default()
                },
            )
            .unwrap();
        let cur = files_in(&maildir.join("cur"));
        assert_eq!(cur.len(), 1);
        assert!(cur[0].ends_with(":2,F"), "{cur:?}");

        // Marking the delivery seen moves it to cur/ under the same base name and UID.
        let seen: Flags = [crate::message::Flag::Seen].into();
        store
            .store_flags(
                &account,
                &inbox,
                &[delivered.uid],
                FlagOperation::Add,
                &seen,
                None,
            )
            .unwrap();
        assert!(files_in(&maildir.join("new")).is_empty());
        assert!(files_in(&maildir.join("cur")).contains(&format!("{}:2,S", new[0])));
        let reopened = MaildirStore::open(root.path()).unwrap();
        let snapshot = reopened.snapshot(&account, &inbox).unwrap();
        let uids: Vec<(Uid, Flags)> = snapshot
            .messages
            .iter()
            .map(|meta| (meta.uid, meta.flags.clone()))
            .collect();
        assert_eq!(
            uids,
            [
                (delivered.uid, seen),
                (flagged.uid, [crate::message::Flag::Flagged].into())
            ]
        );
        assert_eq!(read(&reopened), body);
    }

    #[test]
    fn stale_files_in_tmp_are_removed_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(root.path()).unwrap();
        let account = AccountName::try_from("alice").unwrap();
        let archive = MailboxName::try_from("Archive").unwrap();
        store.create_mailbox(&account, &archive, None).unwrap();
        store
            .deliver(&account, &mut &b"Subject: kept\r\n\r\n"[..])
            .unwrap();
        let maildir = store.account_dir(&account);
        let leftovers = [
            maildir.join("tmp/1.M1P1Q1.host"),
            maildir.join(".Archive/tmp/2.M1P1Q1.host"),
        ];
        for leftover in &leftovers {
            fs::write(leftover, b"partial").unwrap();
        }
        // A file whose modification time is old but that was just written (an append with
        // an old internal date, between dating and renaming) is not stale.
        let dated = maildir.join("tmp/3.M1P1Q1.host");
        let old = SystemTime::now() - Duration::from_secs(400 * 24 * 3600);
        File::create(&dated).unwrap().set_modified(old).unwrap();
        let now = SystemTime::now();
        assert_eq!(store.clean_tmp(now).unwrap(), 0);
        assert_eq!(
            store
                .clean_tmp(now + Duration::from_secs(35 * 3600))
                .unwrap(),
            0
        );
        assert!(leftovers.iter().all(|leftover| leftover.exists()));
        assert_eq!(
            store
                .clean_tmp(now + TMP_MAX_AGE + Duration::from_secs(3600))
                .unwrap(),
            3
        );
        assert!(leftovers.iter().all(|leftover| !leftover.exists()));
        assert!(!dated.exists());
        // The messages and the folders stay.
        assert_eq!(files_in(&maildir.join("new")).len(), 1);
        assert!(maildir.join("tmp").is_dir() && maildir.join(".Archive/tmp").is_dir());
        let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
        assert_eq!(snapshot.messages.len(), 1);
    }
}
