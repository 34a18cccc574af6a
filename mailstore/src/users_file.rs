//! The users file (feature `users-file`): [`UsersFile`] keeps accounts in a text file, one a line:
//!
//! ```text
//! # name:password-hash:access
//! alice:$argon2id$v=19$m=19456,t=2,p=1$...:pop3,imap,submission
//! bob:$argon2id$v=19$m=19456,t=2,p=1$...:imap
//! root:$argon2id$v=19$m=19456,t=2,p=1$...:submission,admin
//! ```
//!
//! - `name` is an [`AccountName`]; the hash is an argon2 PHC string (argon2id by default);
//! - `access` lists the protocols the account may use (`pop3`, `imap`, `submission`) and
//!   `admin` for an administrator. A protocol not listed is off.
//!
//! Many accounts are added at once, with one rewrite of the file, by [`UsersFile::import`],
//! from lines of the [import format](UsersFile::import): `name:password` or
//! `name:$argon2id$...`.
//!
//! Rules that hold whatever the file says: `anonymous` and `guest` never log in; an
//! administrator is refused by POP3 and IMAP4 (administrators do not read mail through the
//! mail protocols). The password is always checked first, against a dummy hash for unknown
//! names, so neither timing nor the answer tells whether an account exists. The file is
//! re-read when it changes on disk, so `mail-server user ...` takes effect on a running server.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use argon2::password_hash::PasswordHash;
use thiserror::Error;

use crate::directory::{is_reserved, AccessPolicy, AuthError, Directory, Protocol};
use crate::login_cache::LoginCache;
use crate::names::{AccountName, NameError};
use crate::password;
pub use crate::password::generate_password;

/// Why the users file could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum UsersFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A line is malformed.
    #[error("{path} line {line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The name is not a valid account name.
    #[error("invalid account name: {0}")]
    InvalidName(#[from] NameError),
    /// The name is reserved (`anonymous`, `guest`).
    #[error("the name {0:?} is reserved and can never log in")]
    Reserved(String),
    /// The account exists already.
    #[error("account {0} exists already")]
    Exists(AccountName),
    /// No such account.
    #[error("no account {0}")]
    NoSuchAccount(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// A line of an import is unusable; nothing was imported.
    #[error("line {line}: {reason} (nothing imported)")]
    Import {
        /// The line number in the import, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct UserRecord {
    hash: String,
    policy: AccessPolicy,
}

#[derive(Debug, Default)]
struct Loaded {
    users: BTreeMap<AccountName, UserRecord>,
    modified: Option<SystemTime>,
}

/// A [`Directory`] kept in a users file (see the module docs for the format).
#[derive(Debug)]
pub struct UsersFile {
    path: PathBuf,
    loaded: Mutex<Loaded>,
    dummy_hash: String,
    login_cache: LoginCache,
}

fn hash_password(password: &str) -> Result<String, UsersFileError> {
    password::hash(password).map_err(UsersFileError::Hash)
}

impl UsersFile {
    /// Opens the users file at `path`; a missing file is an empty directory.
    pub fn open(path: impl Into<PathBuf>) -> Result<UsersFile, UsersFileError> {
        let users = UsersFile {
            path: path.into(),
            loaded: Mutex::new(Loaded::default()),
            dummy_hash: hash_password("not a password of anyone")?,
            login_cache: LoginCache::new(Duration::ZERO),
        };
        users.reload_if_changed()?;
        Ok(users)
    }

    /// Remembers each successful password check for `ttl`, so that repeated logins of the
    /// same account with the same password skip the argon2 check (off by default; zero turns
    /// it off). What is kept is a keyed digest, forgotten when the users file changes; wrong
    /// passwords always take the full check. See the module docs of the cache for the
    /// trade-off.
    pub fn with_login_cache(mut self, ttl: Duration) -> Self {
        self.login_cache = LoginCache::new(ttl);
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn modified(&self) -> Option<SystemTime> {
        fs::metadata(&self.path)
            .and_then(|meta| meta.modified())
            .ok()
    }

    fn reload_if_changed(&self) -> Result<(), UsersFileError> {
        let modified = self.modified();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if modified.is_some() && loaded.modified == modified {
            return Ok(());
        }
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(UsersFileError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        loaded.users = self.parse(&text)?;
        loaded.modified = modified;
        self.login_cache.forget_all();
        Ok(())
    }

    fn parse(&self, text: &str) -> Result<BTreeMap<AccountName, UserRecord>, UsersFileError> {
        let mut users = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |reason: String| UsersFileError::Malformed {
                path: self.path.clone(),
                line: index + 1,
                reason,
            };
            let mut fields = line.splitn(3, ':');
            let (Some(name), Some(hash), access) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(malformed("expected name:hash:access".into()));
            };
            let name = AccountName::try_from(name).map_err(|error| malformed(error.to_string()))?;
            if PasswordHash::new(hash).is_err() {
                return Err(malformed("password hash is not a PHC string".into()));
            }
            let policy = AccessPolicy::from_field(access.unwrap_or("")).map_err(malformed)?;
            users.insert(
                name,
                UserRecord {
                    hash: hash.to_string(),
                    policy,
                },
            );
        }
        Ok(users)
    }

    fn save(&self, users: &BTreeMap<AccountName, UserRecord>) -> Result<(), UsersFileError> {
        let mut text = String::from("# mail-server users file: name:argon2-hash:access\n");
        text.push_str("# access: any of pop3,imap,submission,admin (comma-separated)\n");
        for (name, record) in users {
            text.push_str(&format!(
                "{}:{}:{}\n",
                name,
                record.hash,
                record.policy.to_field()
            ));
        }
        let io_error = |source| UsersFileError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_error)?;
        }
        let temporary = self.path.with_extension("tmp");
        {
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary).map_err(io_error)?;
            io::Write::write_all(&mut file, text.as_bytes()).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
        }
        fs::rename(&temporary, &self.path).map_err(io_error)?;
        Ok(())
    }

    fn modify<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<AccountName, UserRecord>) -> Result<T, UsersFileError>,
    ) -> Result<T, UsersFileError> {
        self.reload_if_changed()?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let mut users = loaded.users.clone();
        let result = change(&mut users)?;
        self.save(&users)?;
        loaded.users = users;
        loaded.modified = self.modified();
        self.login_cache.forget_all();
        Ok(result)
    }

    /// Adds an account.
    pub fn add_user(
        &self,
        name: &str,
        password: &str,
        policy: AccessPolicy,
    ) -> Result<AccountName, UsersFileError> {
        if is_reserved(name) {
            return Err(UsersFileError::Reserved(name.to_string()));
        }
        let account = AccountName::try_from(name)?;
        let hash = hash_password(password)?;
        self.modify(|users| {
            if users.contains_key(&account) {
                return Err(UsersFileError::Exists(account.clone()));
            }
            users.insert(account.clone(), UserRecord { hash, policy });
            Ok(account.clone())
        })
    }

    /// Adds every account of `text`, in the import format, with `policy`, in one rewrite of
    /// the file; returns the names added, in the order of the lines. Each line is
    ///
    /// ```text
    /// name:password                        a password, hashed here (argon2id)
    /// name:$argon2id$v=19$m=...$salt$hash  a hash, kept as it is (argon2id, argon2i, argon2d)
    /// # comment                            (and empty lines) ignored
    /// ```
    ///
    /// The name ends at the first `:`; everything after it, to the end of the line (a final
    /// CR aside), is the password, colons and spaces included, unless it begins with
    /// `$argon2`, in which case it must be an argon2 PHC string. A line with an invalid or
    /// reserved name, an empty password, a malformed hash, a name given twice or an account
    /// that exists already fails the whole import ([`UsersFileError::Import`], with the line
    /// number): nothing is added.
    pub fn import(
        &self,
        text: &str,
        policy: AccessPolicy,
    ) -> Result<Vec<AccountName>, UsersFileError> {
        enum Secret<'a> {
            Password(&'a str),
            Hash(&'a str),
        }
        let mut lines: Vec<(usize, AccountName, Secret<'_>)> = Vec::new();
        for (index, line) in text.split('\n').enumerate() {
            let number = index + 1;
            let bad = |reason: String| UsersFileError::Import {
                line: number,
                reason,
            };
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((name, secret)) = line.split_once(':') else {
                return Err(bad(
                    "expected name:password or name:$argon2id$... hash".into()
                ));
            };
            let name = name.trim();
            if is_reserved(name) {
                return Err(bad(format!(
                    "the name {name:?} is reserved and can never log in"
                )));
            }
            let account = AccountName::try_from(name)
                .map_err(|error| bad(format!("invalid account name {name:?}: {error}")))?;
            if let Some((earlier, _, _)) = lines.iter().find(|(_, known, _)| *known == account) {
                return Err(bad(format!("{account} is on line {earlier} already")));
            }
            let secret = if secret.starts_with("$argon2") {
                let valid = PasswordHash::new(secret).is_ok_and(|hash| {
                    ["argon2id", "argon2i", "argon2d"].contains(&hash.algorithm.as_str())
                        && hash.salt.is_some()
                        && hash.hash.is_some()
                });
                if !valid {
                    return Err(bad(format!("{account}: not a valid argon2 hash")));
                }
                Secret::Hash(secret)
            } else if secret.is_empty() {
                return Err(bad(format!("{account}: empty password")));
            } else {
                Secret::Password(secret)
            };
            lines.push((number, account, secret));
        }
        let exists = |users: &BTreeMap<AccountName, UserRecord>| {
            lines
                .iter()
                .find(|(_, account, _)| users.contains_key(account))
                .map(|(line, account, _)| UsersFileError::Import {
                    line: *line,
                    reason: format!("account {account} exists already"),
                })
        };
        // Refused before the slow part (hashing), and again under the lock.
        self.reload_if_changed()?;
        if let Some(error) = exists(&self.loaded.lock().unwrap_or_else(|p| p.into_inner()).users) {
            return Err(error);
        }
        let mut records = Vec::with_capacity(lines.len());
        for (_, account, secret) in &lines {
            let hash = match secret {
                Secret::Password(password) => hash_password(password)?,
                Secret::Hash(hash) => hash.to_string(),
            };
            records.push((account.clone(), UserRecord { hash, policy }));
        }
        self.modify(|users| {
            if let Some(error) = exists(users) {
                return Err(error);
            }
            let mut added = Vec::with_capacity(records.len());
            for (account, record) in records {
                added.push(account.clone());
                users.insert(account, record);
            }
            Ok(added)
        })
    }

    /// Sets an account's password.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UsersFileError> {
        let hash = hash_password(password)?;
        self.modify(|users| {
            let record = lookup(users, name)?;
            record.hash = hash;
            Ok(())
        })
    }

    /// Changes an account's access policy.
    pub fn set_policy(
        &self,
        name: &str,
        change: impl FnOnce(&mut AccessPolicy),
    ) -> Result<AccessPolicy, UsersFileError> {
        self.modify(|users| {
            let record = lookup(users, name)?;
            change(&mut record.policy);
            Ok(record.policy)
        })
    }

    /// Removes an account (its mail stays in the store).
    pub fn remove_user(&self, name: &str) -> Result<(), UsersFileError> {
        self.modify(|users| {
            let account = AccountName::try_from(name)?;
            users
                .remove(&account)
                .map(|_| ())
                .ok_or_else(|| UsersFileError::NoSuchAccount(name.to_string()))
        })
    }

    /// Every account and its policy.
    pub fn list(&self) -> Result<Vec<(AccountName, AccessPolicy)>, UsersFileError> {
        self.reload_if_changed()?;
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        Ok(loaded
            .users
            .iter()
            .map(|(name, record)| (name.clone(), record.policy))
            .collect())
    }
}

fn lookup<'a>(
    users: &'a mut BTreeMap<AccountName, UserRecord>,
    name: &str,
) -> Result<&'a mut UserRecord, UsersFileError> {
    let account = AccountName::try_from(name)?;
    users
        .get_mut(&account)
        .ok_or_else(|| UsersFileError::NoSuchAccount(name.to_string()))
}

impl Directory for UsersFile {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError> {
        self.reload_if_changed()
            .map_err(|error| AuthError::Unavailable(error.to_string()))?;
        let record = AccountName::try_from(username).ok().and_then(|account| {
            let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
            loaded
                .users
                .get(&account)
                .map(|record| (account, record.clone()))
        });
        let now = Instant::now();
        let password_ok = match &record {
            Some((account, record))
                if self
                    .login_cache
                    .recalls(account, password, &record.hash, now) =>
            {
                true
            }
            Some((account, record)) => {
                let ok = password::verify(&record.hash, password);
                if ok {
                    self.login_cache
                        .remember(account, password, &record.hash, now);
                }
                ok
            }
            // Unknown names cost the same check, so that timing does not tell which exist.
            None => password::verify(&self.dummy_hash, password),
        };
        if is_reserved(username) {
            return Err(AuthError::Refused(
                "anonymous and guest logins are not allowed",
            ));
        }
        let (account, record) = match record {
            Some(found) if password_ok => found,
            _ => return Err(AuthError::InvalidCredentials),
        };
        record.policy.allows(protocol)?;
        Ok(account)
    }

    fn exists(&self, account: &AccountName) -> bool {
        if self.reload_if_changed().is_err() {
            return false;
        }
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.users.contains_key(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> (tempfile::TempDir, UsersFile) {
        let dir = tempfile::tempdir().unwrap();
        let users = UsersFile::open(dir.path().join("users")).unwrap();
        (dir, users)
    }

    #[test]
    fn a_user_logs_in_with_the_right_password_only() {
        let (_dir, users) = users();
        users
            .add_user("Alice", "correct horse", AccessPolicy::default())
            .unwrap();
        assert_eq!(
            users
                .authenticate("alice", "correct horse", Protocol::Imap)
                .unwrap()
                .as_str(),
            "alice"
        );
        assert_eq!(
            users.authenticate("alice", "wrong", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            users.authenticate("nobody", "correct horse", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            users.authenticate("../alice", "correct horse", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
    }

    #[test]
    fn the_login_cache_never_admits_a_wrong_or_changed_password() {
        let dir = tempfile::tempdir().unwrap();
        let users = UsersFile::open(dir.path().join("users"))
            .unwrap()
            .with_login_cache(Duration::from_secs(600));
        users
            .add_user("alice", "first", AccessPolicy::default())
            .unwrap();
        assert!(users.authenticate("alice", "first", Protocol::Pop3).is_ok());
        // Remembered now; still exact.
        assert!(users.authenticate("alice", "first", Protocol::Pop3).is_ok());
        assert_eq!(
            users.authenticate("alice", "firs", Protocol::Pop3),
            Err(AuthError::InvalidCredentials)
        );
        // Access is decided afresh each time, not remembered.
        users
            .set_policy("alice", |policy| policy.pop3 = false)
            .unwrap();
        assert_eq!(
            users.authenticate("alice", "first", Protocol::Pop3),
            Err(AuthError::ProtocolDisabled(Protocol::Pop3))
        );
        // A new password: the old one is refused at once.
        users.set_password("alice", "second").unwrap();
        assert_eq!(
            users.authenticate("alice", "first", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
        assert!(users
            .authenticate("alice", "second", Protocol::Imap)
            .is_ok());
        // A change made by another process (mail-server user passwd) counts too.
        let other = UsersFile::open(dir.path().join("users")).unwrap();
        other.set_password("alice", "third").unwrap();
        assert_eq!(
            users.authenticate("alice", "second", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
        assert!(users.authenticate("alice", "third", Protocol::Imap).is_ok());
    }

    #[test]
    fn protocols_are_switched_per_account() {
        let (_dir, users) = users();
        users
            .add_user("bob", "pw", AccessPolicy::default())
            .unwrap();
        users
            .set_policy("bob", |policy| policy.pop3 = false)
            .unwrap();
        assert_eq!(
            users.authenticate("bob", "pw", Protocol::Pop3),
            Err(AuthError::ProtocolDisabled(Protocol::Pop3))
        );
        assert!(users.authenticate("bob", "pw", Protocol::Imap).is_ok());
        assert!(users
            .authenticate("bob", "pw", Protocol::Submission)
            .is_ok());
    }

    #[test]
    fn administrators_never_reach_a_mailbox() {
        let (_dir, users) = users();
        let policy = AccessPolicy {
            admin: true,
            ..AccessPolicy::default()
        };
        users.add_user("root", "pw", policy).unwrap();
        for protocol in [Protocol::Pop3, Protocol::Imap] {
            assert!(matches!(
                users.authenticate("root", "pw", protocol),
                Err(AuthError::Refused(_))
            ));
        }
        assert!(users
            .authenticate("root", "pw", Protocol::Submission)
            .is_ok());
    }

    #[test]
    fn anonymous_and_guest_can_never_log_in() {
        let (dir, users) = users();
        assert!(matches!(
            users.add_user("guest", "pw", AccessPolicy::default()),
            Err(UsersFileError::Reserved(_))
        ));
        // Even if someone writes them into the file by hand.
        let hash = hash_password("pw").unwrap();
        fs::write(
            dir.path().join("users"),
            format!("anonymous:{hash}:pop3,imap,submission\nGuest:{hash}:imap\n"),
        )
        .unwrap();
        for name in ["anonymous", "ANONYMOUS", "guest", "Guest"] {
            assert!(matches!(
                users.authenticate(name, "pw", Protocol::Imap),
                Err(AuthError::Refused(_))
            ));
        }
    }

    #[test]
    fn changes_survive_reopening_and_reach_a_running_reader() {
        let (dir, users) = users();
        users
            .add_user("carol", "one", AccessPolicy::default())
            .unwrap();
        let reader = UsersFile::open(dir.path().join("users")).unwrap();
        assert!(reader.authenticate("carol", "one", Protocol::Imap).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(20));
        users.set_password("carol", "two").unwrap();
        assert!(reader.authenticate("carol", "two", Protocol::Imap).is_ok());
        users.remove_user("carol").unwrap();
        assert_eq!(reader.list().unwrap().len(), 0);
        let text = fs::read_to_string(dir.path().join("users")).unwrap();
        assert!(!text.contains("two"), "passwords are stored hashed");
    }

    #[test]
    fn an_import_adds_passwords_and_hashes_in_one_rewrite() {
        let (dir, users) = users();
        users
            .add_user("zed", "old", AccessPolicy::default())
            .unwrap();
        let hash = hash_password("hashed elsewhere").unwrap();
        let text = format!(
            "# accounts for the new office\r\n\nalice:correct horse:with colons\r\n\
             bob:{hash}\n  carol : spaces kept \n"
        );
        let imported = users.import(&text, AccessPolicy::default()).unwrap();
        let names: Vec<&str> = imported.iter().map(AccountName::as_str).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert!(users
            .authenticate("alice", "correct horse:with colons", Protocol::Pop3)
            .is_ok());
        assert!(users
            .authenticate("bob", "hashed elsewhere", Protocol::Imap)
            .is_ok());
        assert!(users
            .authenticate("carol", " spaces kept ", Protocol::Imap)
            .is_ok());
        assert!(users.authenticate("zed", "old", Protocol::Imap).is_ok());
        let file = fs::read_to_string(dir.path().join("users")).unwrap();
        assert!(file.contains(&format!("bob:{hash}:")), "{file}");
        assert!(
            !file.contains("correct horse"),
            "passwords are stored hashed"
        );
    }

    #[test]
    fn a_bad_line_imports_nothing_and_is_named() {
        let (dir, users) = users();
        users
            .add_user("zed", "old", AccessPolicy::default())
            .unwrap();
        let before = fs::read_to_string(dir.path().join("users")).unwrap();
        for (text, line, words) in [
            ("alice:pw\nbob\n", 2, "expected name:password"),
            ("alice:pw\n\n../evil:pw\n", 3, "invalid account name"),
            ("# c\nguest:pw\n", 2, "reserved"),
            ("alice:pw\nbob:\n", 2, "empty password"),
            ("alice:$argon2id$nonsense\n", 1, "not a valid argon2 hash"),
            ("alice:pw\nAlice:pw2\n", 2, "on line 1 already"),
            ("alice:pw\nzed:new\n", 2, "exists already"),
        ] {
            match users.import(text, AccessPolicy::default()) {
                Err(error @ UsersFileError::Import { line: got, .. }) => {
                    assert_eq!(got, line, "{text:?}: {error}");
                    let message = error.to_string();
                    assert!(message.contains(words), "{text:?}: {message}");
                    assert!(message.starts_with(&format!("line {line}: ")), "{message}");
                }
                other => panic!("{text:?}: expected an import error, got {other:?}"),
            }
            assert_eq!(
                fs::read_to_string(dir.path().join("users")).unwrap(),
                before,
                "{text:?} changed the users file"
            );
        }
        assert_eq!(users.list().unwrap().len(), 1);
    }

    #[test]
    fn a_malformed_file_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("users"), "# comment\nalice:nothash:imap\n").unwrap();
        match UsersFile::open(dir.path().join("users")) {
            Err(UsersFileError::Malformed { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a malformed-line error, got {other:?}"),
        }
    }
}
