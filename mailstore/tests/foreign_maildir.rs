//! Maildirs written by other programs, with odd files and old formats: UIDs stay stable.
//! Each case here was first found by the `maildir_metadata` fuzz target.

use std::fs;

use mailstore::{AccountName, MailStore, MailboxName, MaildirStore};

fn uids_after_two_opens(setup: impl Fn(&std::path::Path)) -> (Vec<u32>, Vec<u32>) {
    let dir = tempfile::tempdir().unwrap();
    let account_dir = dir.path().join("someone");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(account_dir.join(sub)).unwrap();
    }
    setup(&account_dir);
    let account = AccountName::try_from("someone").unwrap();
    let open = || {
        MaildirStore::open(dir.path())
            .unwrap()
            .snapshot(&account, &MailboxName::inbox())
            .unwrap()
            .messages
            .iter()
            .map(|message| message.uid.get())
            .collect::<Vec<u32>>()
    };
    (open(), open())
}

#[test]
fn a_file_with_an_empty_base_name_is_not_a_message() {
    let (first, second) = uids_after_two_opens(|dir| {
        fs::write(dir.join("cur/:2,S"), "x").unwrap();
        fs::write(dir.join("cur/1700000000.M1P1.host:2,S"), "y").unwrap();
    });
    assert_eq!(first, [1]);
    assert_eq!(second, first);
}

#[test]
fn a_version_1_uidlist_is_upgraded_before_records_are_added() {
    let (first, second) = uids_after_two_opens(|dir| {
        fs::write(dir.join("dovecot-uidlist"), "1 1234 5\n").unwrap();
        fs::write(dir.join("cur/a:2,"), "a").unwrap();
        fs::write(dir.join("new/b"), "b").unwrap();
    });
    assert_eq!(first.len(), 2);
    assert!(
        first.iter().all(|&uid| uid >= 5),
        "UIDNEXT of the old file is kept: {first:?}"
    );
    assert_eq!(second, first);
}

#[test]
fn a_uidlist_header_with_non_ascii_fields_is_read() {
    let (first, second) = uids_after_two_opens(|dir| {
        fs::write(dir.join("dovecot-uidlist"), "3 é V99 Ñ N7\n6 :m\n").unwrap();
        fs::write(dir.join("cur/m:2,"), "m").unwrap();
    });
    assert_eq!(first, [6]);
    assert_eq!(second, first);
}
