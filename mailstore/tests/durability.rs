//! Crash safety: a child process delivers messages as fast as it can and reports each one it
//! was told is stored; the parent SIGKILLs it mid-stream. Every acknowledged message must then
//! be present and intact, and nothing partial may be visible.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use mailstore::{AccountName, MailStore, MailboxName, MaildirStore};

const CHILD_ENV: &str = "MAILSTORE_CRASH_CHILD_DIR";

/// The message with number `n`: ~20 KiB, so a kill often lands in the middle of a write.
fn message(n: u32) -> Vec<u8> {
    let mut body = format!("Subject: message {n}\r\nX-Number: {n}\r\n\r\n").into_bytes();
    for line in 0..400 {
        body.extend_from_slice(
            format!("{n:08} line {line:04} of the body of a test message\r\n").as_bytes(),
        );
    }
    body
}

fn number_of(body: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("X-Number: "))?
        .trim()
        .parse()
        .ok()
}

/// The child's side: deliver until killed, acknowledging each delivery on stdout.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Only runs when started by the crash test.
    };
    let store = MaildirStore::open(dir).unwrap();
    let account = AccountName::try_from("victim").unwrap();
    let mut stdout = std::io::stdout().lock();
    for n in 0.. {
        let stored = store.deliver(&account, &mut &message(n)[..]).unwrap();
        writeln!(stdout, "ACK {n} {}", stored.uid).unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn acknowledged_deliveries_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let account = AccountName::try_from("victim").unwrap();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acknowledged = Vec::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut fields = rest.split(' ');
                let n: u32 = fields.next().unwrap().parse().unwrap();
                let uid: u32 = fields.next().unwrap().parse().unwrap();
                acknowledged.push((n, uid));
                if acknowledged.len() == 40 + round * 7 {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        child.wait().unwrap();
        assert!(
            acknowledged.len() >= 40,
            "child acknowledged too few deliveries"
        );

        let store = MaildirStore::open(dir.path()).unwrap();
        let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
        let mut present = std::collections::HashMap::new();
        for meta in &snapshot.messages {
            let mut body = Vec::new();
            store
                .open_message(&account, &MailboxName::inbox(), meta.uid)
                .unwrap()
                .reader
                .read_to_end(&mut body)
                .unwrap();
            let n = number_of(&body).expect("a visible message is complete");
            assert_eq!(body, message(n), "message {n} is intact");
            assert_eq!(meta.size, body.len() as u64);
            present.insert(n + round as u32 * 1_000_000, meta.uid.get());
            present.insert(n, meta.uid.get());
        }
        for (n, uid) in &acknowledged {
            assert_eq!(
                present.get(n),
                Some(uid),
                "acknowledged message {n} with UID {uid} is missing or renumbered after the crash"
            );
        }
        // Temporary files of the killed write may remain in tmp/, never in cur/ or new/.
        drop(store);
        // The next round appends to the same mailbox: message numbers restart at 0, so clear
        // the mailbox to keep numbers unique.
        let store = MaildirStore::open(dir.path()).unwrap();
        store
            .expunge(
                &account,
                &MailboxName::inbox(),
                mailstore::Expunge::Uids(snapshot.messages.iter().map(|m| m.uid).collect()),
            )
            .unwrap();
    }
}

#[test]
fn a_stream_that_fails_midway_leaves_nothing_visible() {
    struct FailingReader(usize);
    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "disk full",
                ));
            }
            self.0 -= 1;
            let n = buf.len().min(1000);
            buf[..n].fill(b'x');
            Ok(n)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = MaildirStore::open(dir.path()).unwrap();
    let account = AccountName::try_from("a").unwrap();
    let result = store.deliver(&account, &mut FailingReader(5));
    assert!(matches!(result, Err(mailstore::StoreError::Io(_))));
    assert_eq!(
        store
            .status(&account, &MailboxName::inbox())
            .unwrap()
            .messages,
        0
    );
    let account_dir = dir.path().join("a");
    for sub in ["tmp", "cur", "new"] {
        assert_eq!(
            std::fs::read_dir(account_dir.join(sub)).unwrap().count(),
            0,
            "{sub}/ is empty"
        );
    }
}

#[test]
fn an_oversized_message_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = MaildirStore::open(dir.path()).unwrap();
    let account = AccountName::try_from("a").unwrap();
    let big = vec![b'y'; 10_000];
    let result = store.append(&account, &MailboxName::inbox(), &mut &big[..], {
        let mut append_options = mailstore::AppendOptions::default();
        append_options.max_size = Some(4096);
        append_options
    });
    assert!(matches!(result, Err(mailstore::StoreError::TooLarge)));
    assert_eq!(
        std::fs::read_dir(dir.path().join("a/tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        store
            .status(&account, &MailboxName::inbox())
            .unwrap()
            .messages,
        0
    );
}

/// Unmounts the small file system when the test ends, even on failure.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_an_error_and_never_a_half_written_message() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if !mounted {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root and must be able to mount a small tmpfs for this test"
        );
        eprintln!("skipping: cannot mount a small tmpfs here (not root?)");
        return;
    }
    let _unmount = Mounted(dir.path().to_path_buf());
    let store = MaildirStore::open(dir.path()).unwrap();
    let account = AccountName::try_from("full").unwrap();
    let small = message(1);
    let kept = store.deliver(&account, &mut &small[..]).unwrap();
    let big = vec![b'z'; 1024 * 1024];
    let error = store.deliver(&account, &mut &big[..]).unwrap_err();
    assert!(
        matches!(&error, mailstore::StoreError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull),
        "a full disk is reported as such: {error:?}"
    );
    let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
    assert_eq!(
        snapshot.messages.len(),
        1,
        "the failed message is not visible"
    );
    let mut body = Vec::new();
    store
        .open_message(&account, &MailboxName::inbox(), kept.uid)
        .unwrap()
        .reader
        .read_to_end(&mut body)
        .unwrap();
    assert_eq!(body, small, "what was stored before is intact");
    assert_eq!(
        std::fs::read_dir(dir.path().join("full/tmp"))
            .unwrap()
            .count(),
        0,
        "the partial file was removed"
    );
    // With the space back, delivery works again.
    drop(store);
    let store = MaildirStore::open(dir.path()).unwrap();
    store.deliver(&account, &mut &small[..]).unwrap();
}
