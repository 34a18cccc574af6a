//! Model-based test: random operation sequences run against the in-memory and the Maildir
//! backends must leave the same observable state (UIDVALIDITY aside, which comes from the
//! clock), and the Maildir state must survive reopening the store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailstore::{
    AccountName, AppendOptions, Expunge, Flag, FlagOperation, Flags, MailStore, MailboxName,
    MaildirStore, MemoryStore, Uid,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append {
        mailbox: usize,
        body: Vec<u8>,
        flags: Vec<usize>,
        date: u32,
    },
    Store {
        mailbox: usize,
        pick: Vec<usize>,
        operation: usize,
        flags: Vec<usize>,
        since: Option<u8>,
    },
    Expunge {
        mailbox: usize,
        kind: usize,
        pick: Vec<usize>,
    },
    Copy {
        from: usize,
        to: usize,
        pick: Vec<usize>,
    },
    Move {
        from: usize,
        to: usize,
        pick: Vec<usize>,
    },
    Create {
        mailbox: usize,
    },
    Delete {
        mailbox: usize,
    },
    Subscribe {
        mailbox: usize,
        on: bool,
    },
    Rename {
        from: usize,
        to: usize,
    },
}

const MAILBOXES: [&str; 4] = ["INBOX", "Archive", "Archive/2024", "Entwürfe"];

fn flag(index: usize) -> Flag {
    match index % 8 {
        0 => Flag::Seen,
        1 => Flag::Answered,
        2 => Flag::Flagged,
        3 => Flag::Deleted,
        4 => Flag::Draft,
        5 => Flag::Keyword("$Forwarded".into()),
        6 => Flag::Keyword("$Junk".into()),
        _ => Flag::Keyword("work".into()),
    }
}

fn flags(indices: &[usize]) -> Flags {
    indices.iter().map(|&i| flag(i)).collect()
}

fn mailbox(index: usize) -> MailboxName {
    MailboxName::try_from(MAILBOXES[index % MAILBOXES.len()]).unwrap()
}

fn op() -> impl Strategy<Value = Op> {
    let body = proptest::collection::vec(
        prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'.'), any::<u8>()],
        0..200,
    );
    let indices = || proptest::collection::vec(0usize..16, 0..4);
    prop_oneof![
        4 => (0usize..4, body, indices(), 0u32..2_000_000_000)
            .prop_map(|(mailbox, body, flags, date)| Op::Append { mailbox, body, flags, date }),
        3 => (0usize..4, indices(), 0usize..3, indices(), proptest::option::of(any::<u8>()))
            .prop_map(|(mailbox, pick, operation, flags, since)| Op::Store { mailbox, pick, operation, flags, since }),
        1 => (0usize..4, 0usize..3, indices()).prop_map(|(mailbox, kind, pick)| Op::Expunge { mailbox, kind, pick }),
        1 => (0usize..4, 0usize..4, indices()).prop_map(|(from, to, pick)| Op::Copy { from, to, pick }),
        1 => (0usize..4, 0usize..4, indices()).prop_map(|(from, to, pick)| Op::Move { from, to, pick }),
        1 => (0usize..4).prop_map(|mailbox| Op::Create { mailbox }),
        1 => (0usize..4).prop_map(|mailbox| Op::Delete { mailbox }),
        1 => (0usize..4, any::<bool>()).prop_map(|(mailbox, on)| Op::Subscribe { mailbox, on }),
        1 => (0usize..4, 0usize..4).prop_map(|(from, to)| Op::Rename { from, to }),
    ]
}

/// UIDs picked by index from the mailbox's current messages (some indices miss on purpose).
fn pick(
    store: &dyn MailStore,
    account: &AccountName,
    name: &MailboxName,
    indices: &[usize],
) -> Vec<Uid> {
    let Ok(snapshot) = store.snapshot(account, name) else {
        return Vec::new();
    };
    indices
        .iter()
        .map(|&i| match snapshot.messages.get(i) {
            Some(message) => message.uid,
            None => Uid::new(10_000 + i as u32).unwrap(),
        })
        .collect()
}

/// Applies an operation; the outcome (Ok value or error kind) is part of what is compared.
fn apply(store: &dyn MailStore, account: &AccountName, op: &Op) -> String {
    let result = match op {
        Op::Append {
            mailbox: m,
            body,
            flags: f,
            date,
        } => store
            .append(account, &mailbox(*m), &mut &body[..], {
                let mut append_options = AppendOptions::default();
                append_options.flags = flags(f);
                append_options.internal_date =
                    Some(UNIX_EPOCH + Duration::from_secs(u64::from(*date)));
                append_options.max_size = Some(150);
                append_options
            })
            .map(|appended| format!("{}:{}:{}", appended.uid, appended.modseq.0, appended.size)),
        Op::Store {
            mailbox: m,
            pick: p,
            operation,
            flags: f,
            since,
        } => {
            let uids = pick(store, account, &mailbox(*m), p);
            let operation = [
                FlagOperation::Replace,
                FlagOperation::Add,
                FlagOperation::Remove,
            ][*operation];
            store
                .store_flags(
                    account,
                    &mailbox(*m),
                    &uids,
                    operation,
                    &flags(f),
                    since.map(|s| mailstore::ModSeq(u64::from(s))),
                )
                .map(|stored| format!("{stored:?}"))
        }
        Op::Expunge {
            mailbox: m,
            kind,
            pick: p,
        } => {
            let uids = pick(store, account, &mailbox(*m), p);
            let which = match kind {
                0 => Expunge::AllDeleted,
                1 => Expunge::DeletedAmong(uids),
                _ => Expunge::Uids(uids),
            };
            store
                .expunge(account, &mailbox(*m), which)
                .map(|uids| format!("{uids:?}"))
        }
        Op::Copy { from, to, pick: p } => {
            let uids = pick(store, account, &mailbox(*from), p);
            store
                .copy_messages(account, &mailbox(*from), &uids, &mailbox(*to))
                .map(|copied| format!("{:?}", copied.uids))
        }
        Op::Move { from, to, pick: p } => {
            if from % 4 == to % 4 {
                return "same".into();
            }
            let uids = pick(store, account, &mailbox(*from), p);
            store
                .move_messages(account, &mailbox(*from), &uids, &mailbox(*to))
                .map(|copied| format!("{:?}", copied.uids))
        }
        Op::Create { mailbox: m } => store
            .create_mailbox(account, &mailbox(*m), None)
            .map(|()| "ok".into()),
        Op::Delete { mailbox: m } => store
            .delete_mailbox(account, &mailbox(*m))
            .map(|()| "ok".into()),
        Op::Rename { from, to } => store
            .rename_mailbox(account, &mailbox(*from), &mailbox(*to))
            .map(|()| "ok".into()),
        Op::Subscribe { mailbox: m, on } => store
            .set_subscribed(account, &mailbox(*m), *on)
            .map(|()| "ok".into()),
    };
    match result {
        Ok(text) => text,
        Err(error) => format!("error: {}", error_kind(&error)),
    }
}

fn error_kind(error: &mailstore::StoreError) -> &'static str {
    use mailstore::StoreError::*;
    match error {
        NoSuchMailbox(_) => "no such mailbox",
        MailboxExists(_) => "exists",
        NotAllowed(_) => "not allowed",
        TooLarge => "too large",
        NoSuchMessage(_) => "no such message",
        _ => "other",
    }
}

/// Everything a client could observe, except UIDVALIDITY.
fn observe(store: &dyn MailStore, account: &AccountName) -> Vec<String> {
    let mut seen = Vec::new();
    for info in store.list_mailboxes(account).unwrap() {
        seen.push(format!(
            "{} subscribed={} special={:?}",
            info.name, info.subscribed, info.special_use
        ));
        let snapshot = store.snapshot(account, &info.name).unwrap();
        let status = snapshot.status;
        seen.push(format!(
            "  next={} highest={} messages={} unseen={} size={}",
            status.uid_next, status.highest_modseq.0, status.messages, status.unseen, status.size
        ));
        for message in snapshot.messages {
            let mut body = Vec::new();
            std::io::Read::read_to_end(
                &mut store
                    .open_message(account, &info.name, message.uid)
                    .unwrap()
                    .reader,
                &mut body,
            )
            .unwrap();
            let date = message
                .internal_date
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            seen.push(format!(
                "  {} {:?} modseq={} size={} wire={} date={} body={:?}",
                message.uid,
                message.flags,
                message.modseq.0,
                message.size,
                message.wire_size,
                date,
                body
            ));
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn both_backends_agree_and_maildir_survives_reopening(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let account = AccountName::try_from("alice").unwrap();
        let memory = MemoryStore::new();
        let maildir = MaildirStore::open(dir.path()).unwrap();
        for op in &ops {
            let expected = apply(&memory, &account, op);
            let got = apply(&maildir, &account, op);
            prop_assert_eq!(&got, &expected, "outcome of {:?}", op);
        }
        let expected = observe(&memory, &account);
        prop_assert_eq!(observe(&maildir, &account), expected.clone());
        drop(maildir);
        let reopened = MaildirStore::open(dir.path()).unwrap();
        prop_assert_eq!(observe(&reopened, &account), expected);
    }
}
