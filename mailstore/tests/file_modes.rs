//! The Maildir store keeps mail private whatever the umask: every file it writes is 0600 and
//! every folder it makes 0700, as Dovecot and Postfix keep mail. (Its own test binary: the
//! umask is process-wide.)
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mailstore::{
    AppendOptions, Flag, FlagOperation, MailStore, MailboxName, MaildirStore, SpecialUse,
};

/// Every file and folder under `dir` (itself included), with its permission bits.
fn modes(dir: &Path, found: &mut Vec<(String, bool, u32)>) {
    let metadata = fs::symlink_metadata(dir).unwrap();
    found.push((
        dir.display().to_string(),
        metadata.is_dir(),
        metadata.permissions().mode() & 0o7777,
    ));
    if metadata.is_dir() {
        for entry in fs::read_dir(dir).unwrap() {
            modes(&entry.unwrap().path(), found);
        }
    }
}

#[test]
fn mail_and_folders_are_the_owners_only_even_with_umask_0() {
    // SAFETY: umask only sets the process's file-creation mask; this binary's one test is
    // the only thread creating files.
    let previous = unsafe { libc::umask(0) };
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("maildir");
    let store = MaildirStore::open(&root).unwrap();
    let account = mailstore::AccountName::try_from("alice").unwrap();
    let delivered = store
        .deliver(&account, &mut &b"Subject: one\r\n\r\nbody\r\n"[..])
        .unwrap();
    let sent = MailboxName::try_from("Sent").unwrap();
    store
        .create_mailbox(&account, &sent, Some(SpecialUse::Sent))
        .unwrap();
    store
        .create_mailbox(&account, &MailboxName::try_from("A/B").unwrap(), None)
        .unwrap();
    store
        .append(
            &account,
            &sent,
            &mut &b"Subject: two\r\n\r\nbody\r\n"[..],
            {
                let mut append_options = AppendOptions::default();
                append_options.flags = [Flag::Keyword("work".into())].into();
                append_options
            },
        )
        .unwrap();
    store
        .store_flags(
            &account,
            &MailboxName::inbox(),
            &[delivered.uid],
            FlagOperation::Add,
            &[Flag::Seen].into(),
            None,
        )
        .unwrap();
    store.set_subscribed(&account, &sent, true).unwrap();
    store
        .copy_messages(&account, &MailboxName::inbox(), &[delivered.uid], &sent)
        .unwrap();
    unsafe { libc::umask(previous) };

    let mut found = Vec::new();
    modes(&root, &mut found);
    let files = found.iter().filter(|(_, dir, _)| !dir).count();
    assert!(files >= 8, "messages and metadata written: {found:#?}");
    let wrong: Vec<_> = found
        .iter()
        .filter(|(_, dir, mode)| *mode != if *dir { 0o700 } else { 0o600 })
        .collect();
    assert!(wrong.is_empty(), "not 0600/0700: {wrong:#?}");
}
