//! A Maildir folder written by some other program, with arbitrary `dovecot-uidlist`,
//! `dovecot-keywords`, `mailstore-modseq`, `subscriptions` and file names: opening it never
//! panics, UIDs come out unique and ascending, and a second open agrees with the first.
#![no_main]

use std::fs;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailstore::{AccountName, MailStore, MailboxName, MaildirStore};

fn write_folder(account_dir: &Path, parts: &[&[u8]]) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(account_dir.join(sub)).unwrap();
    }
    let files = [
        "dovecot-uidlist",
        "dovecot-keywords",
        "mailstore-modseq",
        "subscriptions",
    ];
    for (name, content) in files.iter().zip(parts) {
        fs::write(account_dir.join(name), content).unwrap();
    }
    if let Some(names) = parts.get(4) {
        for (index, name) in names.split(|&byte| byte == b'\n').enumerate().take(16) {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if name.is_empty()
                || name.contains('/')
                || name == "."
                || name == ".."
                || name.len() > 200
            {
                continue;
            }
            let sub = if index % 2 == 0 { "cur" } else { "new" };
            let _ = fs::write(
                account_dir.join(sub).join(name),
                format!("message {index}\r\n"),
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let account = AccountName::try_from("fuzz").unwrap();
    let parts: Vec<&[u8]> = data.split(|&byte| byte == 0xff).collect();
    write_folder(&dir.path().join("fuzz"), &parts);
    let first = match MaildirStore::open(dir.path()) {
        Ok(store) => store.snapshot(&account, &MailboxName::inbox()),
        Err(_) => return,
    };
    let Ok(first) = first else { return };
    let uids: Vec<u32> = first
        .messages
        .iter()
        .map(|message| message.uid.get())
        .collect();
    assert!(uids.windows(2).all(|pair| pair[0] < pair[1]), "{uids:?}");
    assert!(uids.iter().all(|&uid| uid < first.status.uid_next.get()));
    let store = MaildirStore::open(dir.path()).unwrap();
    let _ = store.list_mailboxes(&account);
    let second = store.snapshot(&account, &MailboxName::inbox()).unwrap();
    let second_uids: Vec<u32> = second
        .messages
        .iter()
        .map(|message| message.uid.get())
        .collect();
    assert_eq!(uids, second_uids, "UIDs are stable across opens");
    assert_eq!(first.status.uid_validity, second.status.uid_validity);
});
