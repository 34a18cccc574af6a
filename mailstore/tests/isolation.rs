//! Names from the network never reach the file system, accounts cannot see each other, and
//! concurrent sessions and change-feed subscribers see a consistent store.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use mailstore::{
    AccountName, Change, Flag, FlagOperation, Flags, MailStore, MailboxName, MaildirStore,
    MemoryStore, StoreError,
};

fn stores() -> Vec<(tempfile::TempDir, Arc<dyn MailStore>)> {
    let dir = tempfile::tempdir().unwrap();
    let maildir: Arc<dyn MailStore> =
        Arc::new(MaildirStore::open(dir.path().join("mail")).unwrap());
    let memory_dir = tempfile::tempdir().unwrap();
    vec![(dir, maildir), (memory_dir, Arc::new(MemoryStore::new()))]
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn hostile_mailbox_names_never_reach_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let store = MaildirStore::open(dir.path().join("mail")).unwrap();
    let alice = AccountName::try_from("alice").unwrap();
    store.list_mailboxes(&alice).unwrap();
    let before = files_under(dir.path());
    let long = vec![b'a'; 300];
    let hostile: [&[u8]; 10] = [
        b"..",
        b"../bob",
        b"../../etc",
        b"/etc/passwd",
        b"a/../..",
        b"a\0b",
        b"\xc3\x28",
        b".hidden",
        b"a/./b",
        &long,
    ];
    for name in hostile {
        assert!(
            MailboxName::try_from(name).is_err(),
            "{name:?} was accepted as a mailbox name"
        );
    }
    // The valid but tricky ones stay inside the account's directory.
    for name in ["..a", "a..", "~root", "&", "Ünïcødé/子"] {
        match MailboxName::try_from(name) {
            Ok(name) => {
                store.create_mailbox(&alice, &name, None).unwrap();
            }
            Err(_) => continue,
        }
    }
    for path in files_under(dir.path()) {
        assert!(
            before.contains(&path) || path.starts_with("mail/alice/"),
            "{path} was created outside alice's Maildir"
        );
    }
    assert!(!dir.path().join("etc").exists());
}

#[test]
fn another_accounts_mailboxes_are_unreachable() {
    for (_dir, store) in stores() {
        let alice = AccountName::try_from("alice").unwrap();
        let bob = AccountName::try_from("bob").unwrap();
        let secret = MailboxName::try_from("Secret").unwrap();
        store.create_mailbox(&alice, &secret, None).unwrap();
        store
            .deliver(&alice, &mut &b"Subject: for alice\r\n\r\n"[..])
            .unwrap();
        assert!(store
            .list_mailboxes(&bob)
            .unwrap()
            .iter()
            .all(|info| info.name != secret));
        assert!(matches!(
            store.snapshot(&bob, &secret),
            Err(StoreError::NoSuchMailbox(_))
        ));
        assert_eq!(
            store.status(&bob, &MailboxName::inbox()).unwrap().messages,
            0
        );
        let uid = store
            .snapshot(&alice, &MailboxName::inbox())
            .unwrap()
            .messages[0]
            .uid;
        assert!(store
            .open_message(&bob, &MailboxName::inbox(), uid)
            .is_err());
        assert!(AccountName::try_from("../alice").is_err());
    }
}

#[test]
fn concurrent_writers_and_readers_see_a_consistent_mailbox() {
    for (_dir, store) in stores() {
        let account = AccountName::try_from("busy").unwrap();
        let inbox = MailboxName::inbox();
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let store = store.clone();
                let account = account.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .map(|i| {
                            let body =
                                format!("Subject: {writer}-{i}\r\n\r\nbody {writer} {i}\r\n");
                            (
                                store.deliver(&account, &mut body.as_bytes()).unwrap().uid,
                                body,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let reader = {
            let store = store.clone();
            let account = account.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
                    let uids: Vec<u32> = snapshot.messages.iter().map(|m| m.uid.get()).collect();
                    assert!(uids.windows(2).all(|pair| pair[0] < pair[1]), "UIDs ascend");
                    assert_eq!(snapshot.status.messages as usize, uids.len());
                    for message in snapshot.messages.iter().take(3) {
                        if let Ok(content) =
                            store.open_message(&account, &MailboxName::inbox(), message.uid)
                        {
                            assert_eq!(content.size, message.size);
                        }
                    }
                    let flags: Flags = [Flag::Seen].into();
                    let some: Vec<_> = snapshot.messages.iter().map(|m| m.uid).take(5).collect();
                    store
                        .store_flags(
                            &account,
                            &MailboxName::inbox(),
                            &some,
                            FlagOperation::Add,
                            &flags,
                            None,
                        )
                        .unwrap();
                }
            })
        };
        let mut written = Vec::new();
        for writer in writers {
            written.extend(writer.join().unwrap());
        }
        reader.join().unwrap();
        let snapshot = store.snapshot(&account, &inbox).unwrap();
        assert_eq!(snapshot.messages.len(), 100);
        let mut uids: Vec<u32> = written.iter().map(|(uid, _)| uid.get()).collect();
        uids.sort();
        uids.dedup();
        assert_eq!(uids.len(), 100, "every delivery got its own UID");
        for (uid, body) in written {
            let mut read = String::new();
            store
                .open_message(&account, &inbox, uid)
                .unwrap()
                .reader
                .read_to_string(&mut read)
                .unwrap();
            assert_eq!(read, body);
        }
    }
}

#[tokio::test]
async fn every_subscriber_gets_every_change_in_order() {
    for (_dir, store) in stores() {
        let account = AccountName::try_from("watched").unwrap();
        let inbox = MailboxName::inbox();
        store.status(&account, &inbox).unwrap();
        let mut subscribers: Vec<_> = (0..3).map(|_| store.subscribe(&account)).collect();
        let other = store.subscribe(&AccountName::try_from("someone-else").unwrap());
        let first = store.deliver(&account, &mut &b"one\r\n"[..]).unwrap();
        let second = store.deliver(&account, &mut &b"two\r\n"[..]).unwrap();
        let seen: Flags = [Flag::Seen].into();
        store
            .store_flags(
                &account,
                &inbox,
                &[first.uid],
                FlagOperation::Add,
                &seen,
                None,
            )
            .unwrap();
        store
            .expunge(&account, &inbox, mailstore::Expunge::Uids(vec![second.uid]))
            .unwrap();
        for subscriber in &mut subscribers {
            let mut got = Vec::new();
            for _ in 0..4 {
                let change = tokio::time::timeout(Duration::from_secs(2), subscriber.next())
                    .await
                    .expect("change arrives without polling")
                    .unwrap();
                got.push(change);
            }
            assert!(matches!(&got[0], Change::Appended { uid, .. } if *uid == first.uid));
            assert!(matches!(&got[1], Change::Appended { uid, .. } if *uid == second.uid));
            assert!(
                matches!(&got[2], Change::FlagsChanged { uid, flags, .. } if *uid == first.uid && flags.contains(&Flag::Seen))
            );
            assert!(matches!(&got[3], Change::Expunged { uids, .. } if uids == &vec![second.uid]));
        }
        let mut other = other;
        assert!(
            other.try_next().is_none(),
            "another account's subscriber saw nothing"
        );
    }
}

#[tokio::test]
async fn a_waiting_subscriber_wakes_when_another_thread_delivers() {
    let (_dir, store) = stores().remove(0);
    let account = AccountName::try_from("idle").unwrap();
    store.status(&account, &MailboxName::inbox()).unwrap();
    let mut subscription = store.subscribe(&account);
    let waiter = tokio::spawn(async move { subscription.next().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let delivering = store.clone();
    let account2 = account.clone();
    std::thread::spawn(move || delivering.deliver(&account2, &mut &b"x\r\n"[..]).unwrap())
        .join()
        .unwrap();
    let change = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(change, Some(Change::Appended { .. })));
}

#[test]
fn the_maildrop_lock_is_exclusive_until_dropped() {
    for (_dir, store) in stores() {
        let account = AccountName::try_from("pop").unwrap();
        let held = store.lock_maildrop(&account).unwrap();
        assert!(matches!(
            store.lock_maildrop(&account),
            Err(StoreError::InUse)
        ));
        assert!(store
            .lock_maildrop(&AccountName::try_from("other").unwrap())
            .is_ok());
        drop(held);
        assert!(store.lock_maildrop(&account).is_ok());
    }
}

#[test]
fn byte_ranges_are_served_without_reading_the_start() {
    for (_dir, store) in stores() {
        let account = AccountName::try_from("ranges").unwrap();
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let stored = store.deliver(&account, &mut &body[..]).unwrap();
        let content = store
            .open_message(&account, &MailboxName::inbox(), stored.uid)
            .unwrap();
        let mut part = Vec::new();
        content
            .range(70_000, 100)
            .unwrap()
            .read_to_end(&mut part)
            .unwrap();
        assert_eq!(part, &body[70_000..70_100]);
        let content = store
            .open_message(&account, &MailboxName::inbox(), stored.uid)
            .unwrap();
        let mut tail = Vec::new();
        content
            .range(99_990, 1000)
            .unwrap()
            .read_to_end(&mut tail)
            .unwrap();
        assert_eq!(tail, &body[99_990..]);
    }
}

#[test]
fn a_name_too_long_for_the_file_system_is_an_invalid_name_not_a_storage_failure() {
    let dir = tempfile::tempdir().unwrap();
    let store = MaildirStore::open(dir.path()).unwrap();
    let account = AccountName::try_from("long").unwrap();
    for name in ["x".repeat(255), "ä".repeat(127)] {
        let name = MailboxName::try_from(name.as_str()).unwrap();
        assert!(
            matches!(
                store.create_mailbox(&account, &name, None),
                Err(StoreError::InvalidName(_))
            ),
            "{name} should be refused as too long on disk"
        );
    }
    let short = MailboxName::try_from("ä".repeat(40).as_str()).unwrap();
    store.create_mailbox(&account, &short, None).unwrap();
}
