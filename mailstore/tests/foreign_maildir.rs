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

#[test]
fn the_wire_size_of_a_bare_lf_message_counts_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let account_dir = dir.path().join("lf");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(account_dir.join(sub)).unwrap();
    }
    // Written by an MDA that stores LF line ends and no size fields.
    fs::write(
        account_dir.join("new/1.M1.host"),
        "Subject: x\n\nline\r\nline\n",
    )
    .unwrap();
    // Dovecot's name carries both sizes; its W= counts no CR LF after the unterminated last
    // line, which a POP3 transfer adds.
    fs::write(account_dir.join("cur/2.M2.host,S=5,W=7:2,S"), "a\nb\nc").unwrap();
    let store = MaildirStore::open(dir.path()).unwrap();
    let account = AccountName::try_from("lf").unwrap();
    let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
    let sizes: Vec<(u64, u64)> = snapshot
        .messages
        .iter()
        .map(|m| (m.size, m.wire_size))
        .collect();
    assert!(sizes.contains(&(23, 26)), "{sizes:?}");
    assert!(sizes.contains(&(5, 9)), "{sizes:?}");
}
