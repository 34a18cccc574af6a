//! Storage for the mail crate family: the traits the POP3, IMAP4 and submission servers are
//! written against, and the backends behind them.
//!
//! ```text
//!   pop3 / imap4 / submission services
//!        │ authenticate            │ mailboxes, messages, changes
//!        ▼                         ▼
//!   Directory (UsersFile)      MailStore ──► MemoryStore   (tests, embedding)
//!                                  └───────► MaildirStore  (the default; Dovecot-readable)
//! ```
//!
//! - [`Directory`]: who may log in, to which protocol ([`UsersFile`]: argon2 hashes, per-account
//!   POP3 / IMAP4 / submission switches, `anonymous` and `guest` refused, administrators kept
//!   out of mailboxes; [`MemoryDirectory`]: the same rules for accounts made in code;
//!   [`AddressLogins`]: `alice@example.org` logs in as `alice` for the local domains).
//! - [`MailStore`]: mailboxes with special-use and subscriptions; UIDVALIDITY, UIDNEXT, UIDs
//!   and MODSEQ; flags and keywords; internal dates; streamed append and seekable reads;
//!   expunge, copy, move; the POP3 maildrop lock; delivery; and a change feed
//!   ([`MailStore::subscribe`]) that an IDLE session awaits without polling.
//! - Every name from the network arrives as a validated [`MailboxName`] or [`AccountName`]:
//!   `..`, `/`, absolute paths, NUL and invalid UTF-8 never reach the file system.
//!
//! ```
//! use mailstore::{AccountName, MailStore, MailboxName, MemoryStore};
//!
//! let store = MemoryStore::new();
//! let alice = AccountName::try_from("alice").unwrap();
//! let stored = store.deliver(&alice, &mut &b"Subject: hi\r\n\r\nhello\r\n"[..]).unwrap();
//! let snapshot = store.snapshot(&alice, &MailboxName::inbox()).unwrap();
//! assert_eq!(snapshot.messages[0].uid, stored.uid);
//! ```
//!
//! # Semver
//! [`AccessPolicy`] and [`AppendOptions`] are `#[non_exhaustive]` (a new protocol adds a
//! switch): start from `Default` and assign fields. So are [`Protocol`], [`Flag`],
//! [`SpecialUse`], [`Change`], [`StoreError`] and the other errors. Closed on purpose:
//! [`FlagOperation`] (add, remove, replace: the three forms of IMAP STORE) and [`Expunge`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod address_logins;
pub mod changes;
pub mod directory;
#[cfg(feature = "users-file")]
mod login_cache;
#[cfg(feature = "maildir")]
pub mod maildir;
pub mod memory;
pub mod memory_directory;
pub mod message;
pub mod names;
#[cfg(feature = "users-file")]
mod password;
pub mod store;
#[cfg(feature = "users-file")]
pub mod users_file;

pub use address_logins::AddressLogins;
pub use changes::{Change, ChangeSubscription};
pub use directory::{AccessPolicy, AuthError, Directory, Protocol};
#[cfg(feature = "maildir")]
pub use maildir::MaildirStore;
pub use memory::MemoryStore;
pub use memory_directory::{MemoryDirectory, MemoryDirectoryError};
pub use message::{
    Flag, FlagOperation, Flags, MailboxInfo, MailboxSnapshot, MailboxStatus, MessageMeta, ModSeq,
    SpecialUse, Uid, UidValidity,
};
pub use names::{AccountName, MailboxName, NameError};
pub use store::{
    AppendOptions, Appended, Copied, Expunge, FlagsStored, MailStore, MaildropLock, MessageContent,
    StoreError,
};
#[cfg(feature = "users-file")]
pub use users_file::{generate_password, UsersFile, UsersFileError};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
