//! Maildir interoperability with a real Dovecot (2.3): the same files, read by both.
//!
//! 1. [`dovecot_reads_our_maildir`]: `MaildirStore` writes an account (nested and non-ASCII
//!    folders, flags and keywords, CRLF bodies with dot-led lines and 8-bit octets, an expunge
//!    gap), then Dovecot's imapd serves that Maildir and an imaplib client
//!    (`tests/dovecot/imap_client.py`) LISTs, EXAMINEs and FETCHes everything. Folders,
//!    UIDVALIDITY, UIDNEXT, UIDs, flags, sizes, internal dates and bodies must be exactly ours.
//! 2. [`we_read_what_dovecot_wrote`]: through Dovecot, the client CREATEs folders, APPENDs with
//!    flags and dates, STOREs flags and EXPUNGEs; then Dovecot is stopped and `MaildirStore`
//!    must see the same folders, Dovecot's UIDs and UIDVALIDITY, flags and bodies. Then our
//!    store appends and changes flags in Dovecot's files and a restarted Dovecot must agree.
//! 3. [`subscriptions_interoperate_with_dovecot`]: LSUB through Dovecot and our store's
//!    subscriptions must agree, whichever of the two wrote the `subscriptions` file.
//! 4. [`dovecot_sees_a_delivery_as_new_mail`]: a delivery of our store is in `new/` and
//!    `\Recent` to Dovecot, and keeps its UID when Dovecot moves it to `cur/`.
//!
//! Dovecot runs as a child (`dovecot -F -c <tempdir>/dovecot.conf`, `mail_testkit::dovecot`)
//! listening on a free loopback port, with every path (base_dir, state_dir, logs, home) inside
//! the test's tempdir; a drop guard stops it even when an assertion fails. Without `dovecot` or `python3` the tests
//! print a note and pass, unless `CI=true`, where that is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mail_testkit::{dovecot, programs};
use mailstore::{
    AccountName, AppendOptions, Expunge, Flag, FlagOperation, Flags, MailStore, MailboxName,
    MaildirStore,
};

const USER: &str = "alice";
const PASSWORD: &str = "interop-secret";
/// 2024-03-01 12:00:00 UTC.
const MARCH_2024: u64 = 1_709_294_400;

// ---------------------------------------------------------------------------------------------
// Tools

struct Tools {
    dovecot: PathBuf,
    python: PathBuf,
}

/// `dovecot` and `python3`, or `None` (after a note) where they are missing. On CI
/// (`CI=true`) a missing tool fails the test instead: the interop proof must not be skipped
/// silently there.
fn tools() -> Option<Tools> {
    let dovecot = programs::find("dovecot");
    let python = programs::find("python3");
    // The Dovecot master must start as root (it switches to its internal users and the mail
    // uid), and the test chowns the Maildir.
    let root = programs::is_root();
    match (dovecot, python) {
        (Some(dovecot), Some(python)) if root => Some(Tools { dovecot, python }),
        (dovecot, python) => {
            programs::skip_or_fail(&format!(
                "Dovecot interop test needs dovecot (found: {dovecot:?}), python3 (found: \
                 {python:?}) and to run as root (root: {root})"
            ));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dovecot as a child process

/// A running Dovecot (the test kit's private instance, stopped when dropped, so a failing
/// assertion does not leave it behind) and the imaplib client that talks to it.
struct Dovecot(dovecot::Dovecot);

impl std::ops::Deref for Dovecot {
    type Target = dovecot::Dovecot;

    fn deref(&self) -> &dovecot::Dovecot {
        &self.0
    }
}

impl std::ops::DerefMut for Dovecot {
    fn deref_mut(&mut self) -> &mut dovecot::Dovecot {
        &mut self.0
    }
}

impl Dovecot {
    /// Starts Dovecot's imapd serving `<mail_root>/<user>` as each user's Maildir; its own
    /// files go to `dir`.
    fn start(binary: &Path, dir: &Path, mail_root: &Path) -> Dovecot {
        // The mail processes run as the kit's unprivileged MAIL_UID/MAIL_GID, which owns the
        // Maildir (the kit chowns it before each start). The account's Maildir is
        // <root>/<user>, exactly where MaildirStore keeps it; Dovecot's default Maildir++
        // layout stores folder "a/b" as ".a.b", each level in modified UTF-7.
        let config = dovecot::Config::new(
            "mailstore/tests/dovecot_interop.rs",
            dovecot::Protocol::Imap,
            mail_root,
            dovecot::Passdb::Static(PASSWORD.into()),
        )
        .instance_prefix("mailstore-interop")
        .mechanisms("plain login")
        // Dovecot saves APPENDed messages with bare LF line endings by default; with this it
        // keeps the CRLF the client sent, so the bodies compare byte for byte (not after
        // normalizing). (With the default, MaildirStore reads those LF-only files as they are,
        // with the S= size, while Dovecot serves them with CRLF and the W= size.)
        .setting("mail_save_crlf", "yes")
        .namespace_line("separator = /")
        .namespace_line("prefix =");
        Dovecot(dovecot::Dovecot::start(binary, dir, &config).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Runs the imaplib client against this Dovecot as `alice` and parses what it printed.
    fn client(&self, tools: &Tools, mode: &str, spec: Option<&Path>) -> ServerView {
        self.client_as(tools, USER, mode, spec)
    }

    /// Runs the imaplib client as `user`.
    fn client_as(&self, tools: &Tools, user: &str, mode: &str, spec: Option<&Path>) -> ServerView {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dovecot/imap_client.py");
        let mut command = Command::new(&tools.python);
        command
            .arg(&script)
            .arg(mode)
            .arg("127.0.0.1")
            .arg(self.port().to_string())
            .arg(user)
            .arg(PASSWORD);
        if let Some(spec) = spec {
            command.arg(spec);
        }
        let output = command.output().expect("run python3");
        assert!(
            output.status.success(),
            "imap_client.py {mode} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        let text = String::from_utf8(output.stdout).expect("client output is UTF-8");
        ServerView::parse(&text)
    }
}
// ---------------------------------------------------------------------------------------------
// What a server shows, and comparing two such views

#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    flags: BTreeSet<String>,
    size: u64,
    internal_date: u64,
    body: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mailbox {
    uid_validity: u32,
    uid_next: u32,
    messages: BTreeMap<u32, Message>,
}

/// What the imaplib client printed.
#[derive(Debug, Default)]
struct ServerView {
    /// Selectable mailboxes by decoded name.
    mailboxes: BTreeMap<String, Mailbox>,
    /// Every LISTed name: decoded name to (name on the wire, LIST attributes).
    listed: BTreeMap<String, (String, String)>,
    /// `APPENDUID` results in APPEND order: mailbox, UIDVALIDITY, UID.
    appended: Vec<(String, u32, u32)>,
    /// What LSUB showed, by decoded name.
    subscribed: BTreeSet<String>,
    /// How many messages EXAMINE reported `\Recent`, by mailbox.
    recent: BTreeMap<String, u32>,
}

fn hex_decode(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digit"))
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

fn number<T: std::str::FromStr>(field: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    field.parse().expect("a number in the client output")
}

fn flag_names(text: &str) -> BTreeSet<String> {
    text.split(' ')
        .filter(|flag| !flag.is_empty())
        .map(str::to_string)
        .collect()
}

impl ServerView {
    fn parse(text: &str) -> ServerView {
        let mut view = ServerView::default();
        let mut ended = false;
        for line in text.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["MAILBOX", wire, name, attributes] => {
                    view.listed
                        .insert(name.to_string(), (wire.to_string(), attributes.to_string()));
                }
                ["STATUS", name, validity, next, _exists] => {
                    view.mailboxes.insert(
                        name.to_string(),
                        Mailbox {
                            uid_validity: number(validity),
                            uid_next: number(next),
                            messages: BTreeMap::new(),
                        },
                    );
                }
                ["MESSAGE", name, uid, flags, size, date, body] => {
                    let mailbox = view
                        .mailboxes
                        .get_mut(*name)
                        .expect("MESSAGE after its STATUS");
                    mailbox.messages.insert(
                        number(uid),
                        Message {
                            flags: flag_names(flags),
                            size: number(size),
                            internal_date: number(date),
                            body: hex_decode(body),
                        },
                    );
                }
                ["APPENDED", name, validity, uid] => {
                    view.appended
                        .push((name.to_string(), number(validity), number(uid)));
                }
                ["RECENT", name, count] => {
                    view.recent.insert(name.to_string(), number(count));
                }
                ["SUBSCRIBED", name] => {
                    view.subscribed.insert(name.to_string());
                }
                ["END"] => ended = true,
                _ => panic!("unexpected client output line: {line:.200}"),
            }
        }
        assert!(ended, "client output ended early:\n{text:.2000}");
        view
    }
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .expect("date after 1970")
        .as_secs()
}

/// Every mailbox of the account as our store shows it.
fn store_view(store: &MaildirStore, account: &AccountName) -> BTreeMap<String, Mailbox> {
    let mut view = BTreeMap::new();
    for info in store.list_mailboxes(account).expect("list mailboxes") {
        let snapshot = store.snapshot(account, &info.name).expect("snapshot");
        let mut messages = BTreeMap::new();
        for meta in &snapshot.messages {
            let mut content = store
                .open_message(account, &info.name, meta.uid)
                .expect("open message");
            let mut body = Vec::new();
            content.reader.read_to_end(&mut body).expect("read message");
            assert_eq!(
                content.size,
                body.len() as u64,
                "size of {} {}",
                info.name,
                meta.uid
            );
            messages.insert(
                meta.uid.get(),
                Message {
                    flags: meta
                        .flags
                        .iter()
                        .map(|flag| flag.as_imap().to_string())
                        .collect(),
                    size: meta.size,
                    internal_date: secs(meta.internal_date),
                    body,
                },
            );
        }
        view.insert(
            info.name.as_str().to_string(),
            Mailbox {
                uid_validity: snapshot.status.uid_validity.get(),
                uid_next: snapshot.status.uid_next.get(),
                messages,
            },
        );
    }
    view
}

/// The subscribed mailboxes as our store lists them.
fn store_subscriptions(store: &MaildirStore, account: &AccountName) -> BTreeSet<String> {
    store
        .list_mailboxes(account)
        .expect("list mailboxes")
        .into_iter()
        .filter(|info| info.subscribed)
        .map(|info| info.name.as_str().to_string())
        .collect()
}

fn describe_body_difference(ours: &[u8], theirs: &[u8]) -> String {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let window = |bytes: &[u8]| {
        let end = (at + 24).min(bytes.len());
        String::from_utf8_lossy(&bytes[at.saturating_sub(8).min(end)..end]).into_owned()
    };
    format!(
        "bodies differ: {} vs {} octets, first difference at octet {at}: {:?} vs {:?}",
        ours.len(),
        theirs.len(),
        window(ours),
        window(theirs)
    )
}

/// Lists every difference between two sets of messages (`a` and `b` name the two sides).
fn message_differences(
    mailbox: &str,
    (a, ours): (&str, &BTreeMap<u32, Message>),
    (b, theirs): (&str, &BTreeMap<u32, Message>),
    out: &mut Vec<String>,
) {
    let our_uids: Vec<u32> = ours.keys().copied().collect();
    let their_uids: Vec<u32> = theirs.keys().copied().collect();
    if our_uids != their_uids {
        out.push(format!(
            "{mailbox}: UIDs {a} {our_uids:?}, {b} {their_uids:?}"
        ));
    }
    for (uid, mine) in ours {
        let Some(other) = theirs.get(uid) else {
            continue;
        };
        if mine.flags != other.flags {
            out.push(format!(
                "{mailbox} UID {uid}: flags {a} {:?}, {b} {:?}",
                mine.flags, other.flags
            ));
        }
        if mine.size != other.size {
            out.push(format!(
                "{mailbox} UID {uid}: size {a} {}, {b} {}",
                mine.size, other.size
            ));
        }
        if mine.internal_date != other.internal_date {
            out.push(format!(
                "{mailbox} UID {uid}: internal date {a} {}, {b} {}",
                mine.internal_date, other.internal_date
            ));
        }
        if mine.body != other.body {
            out.push(format!(
                "{mailbox} UID {uid}: {a}/{b} {}",
                describe_body_difference(&mine.body, &other.body)
            ));
        }
    }
}

/// Lists every difference between two views of an account: folder set, UIDVALIDITY, UIDNEXT,
/// UIDs, flags, sizes, dates, bodies.
fn view_differences(
    (a, ours): (&str, &BTreeMap<String, Mailbox>),
    (b, theirs): (&str, &BTreeMap<String, Mailbox>),
) -> Vec<String> {
    let mut out = Vec::new();
    let our_names: Vec<&String> = ours.keys().collect();
    let their_names: Vec<&String> = theirs.keys().collect();
    if our_names != their_names {
        out.push(format!("mailboxes: {a} {our_names:?}, {b} {their_names:?}"));
    }
    for (name, mine) in ours {
        let Some(other) = theirs.get(name) else {
            continue;
        };
        if mine.uid_validity != other.uid_validity {
            out.push(format!(
                "{name}: UIDVALIDITY {a} {}, {b} {}",
                mine.uid_validity, other.uid_validity
            ));
        }
        if mine.uid_next != other.uid_next {
            out.push(format!(
                "{name}: UIDNEXT {a} {}, {b} {}",
                mine.uid_next, other.uid_next
            ));
        }
        message_differences(name, (a, &mine.messages), (b, &other.messages), &mut out);
    }
    out
}

fn assert_no_differences(what: &str, differences: Vec<String>) {
    assert!(
        differences.is_empty(),
        "{what}:\n  {}",
        differences.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Test data

fn flags(names: &[&str]) -> Flags {
    names
        .iter()
        .map(|name| match *name {
            "\\Seen" => Flag::Seen,
            "\\Answered" => Flag::Answered,
            "\\Flagged" => Flag::Flagged,
            "\\Deleted" => Flag::Deleted,
            "\\Draft" => Flag::Draft,
            keyword => Flag::keyword(keyword).expect("valid keyword"),
        })
        .collect()
}

/// A set of flag or mailbox names.
fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// A message with CRLF line endings, lines that start with "." (which POP3 and SMTP would
/// dot-stuff), "From " (which mbox would escape), 8-bit octets in header and body, and
/// control characters. No NUL (IMAP literals may not carry it and Dovecot rewrites it in a
/// non-BINARY FETCH) and no bare CR or LF (the bodies are to compare byte for byte).
fn message(n: u32, subject: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    text.extend_from_slice(b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n");
    text.extend_from_slice(b"Subject: ");
    text.extend_from_slice(subject);
    text.extend_from_slice(b"\r\n");
    text.extend_from_slice(
        format!(
            "Date: Fri, 01 Mar 2024 12:00:00 +0000\r\n\
             Message-ID: <interop-{n}@example.org>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=iso-8859-1\r\n\
             Content-Transfer-Encoding: 8bit\r\n\
             \r\n\
             Hello Bob, this is message {n}.\r\n"
        )
        .as_bytes(),
    );
    text.extend_from_slice(b".\r\n..two dots at the start\r\n.one dot at the start\r\n");
    text.extend_from_slice(b"From the start of a line\r\n>From quoted\r\n");
    text.extend_from_slice(b"8-bit: Gr\xfc\xdfe, \xe4\xf6\xfc \x80\x81\x9f\xa0\xfe\xff\r\n");
    text.extend_from_slice(b"controls: \x01\x07\x08\x0b\x0c\x1b[0m\x7f\r\n");
    text.extend_from_slice(b"\ttab, trailing space \r\n\r\n.\r\n-- \r\nAlice\r\n");
    text
}

/// A larger message (~170 KB): every 8-bit octet value, many dot-led lines, one 998-octet line.
fn big_message(n: u32) -> Vec<u8> {
    let mut text = message(n, b"big");
    for line in 0..3000u32 {
        if line % 7 == 0 {
            text.push(b'.');
        }
        text.extend_from_slice(format!("{line:05} ").as_bytes());
        text.extend((0..48u32).map(|i| 0x80 + ((line * 48 + i) % 128) as u8));
        text.extend_from_slice(b"\r\n");
    }
    text.extend(std::iter::repeat_n(b'x', 998));
    text.extend_from_slice(b"\r\n");
    text
}

/// `message(n)` without the final CRLF.
fn unterminated_message(n: u32) -> Vec<u8> {
    let mut text = message(n, b"no final line ending");
    text.extend_from_slice(b"last line without CRLF");
    text
}

fn at(offset_secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(MARCH_2024 + offset_secs)
}

fn mailbox(name: &str) -> MailboxName {
    MailboxName::try_from(name).expect("valid mailbox name")
}

/// Our store and, beside it, what every mailbox is meant to hold.
struct Writer<'a> {
    store: &'a MaildirStore,
    account: &'a AccountName,
    model: BTreeMap<String, BTreeMap<u32, Message>>,
}

impl Writer<'_> {
    fn append(&mut self, name: &str, flag_names: &[&str], offset_secs: u64, body: Vec<u8>) -> u32 {
        let appended = self
            .store
            .append(self.account, &mailbox(name), &mut body.as_slice(), {
                let mut append_options = AppendOptions::default();
                append_options.flags = flags(flag_names);
                append_options.internal_date = Some(at(offset_secs));
                append_options.max_size = None;
                append_options
            })
            .expect("append");
        let uid = appended.uid.get();
        self.model.entry(name.to_string()).or_default().insert(
            uid,
            Message {
                flags: set_of(flag_names),
                size: body.len() as u64,
                internal_date: MARCH_2024 + offset_secs,
                body,
            },
        );
        uid
    }

    fn store_flags(&mut self, name: &str, uid: u32, operation: FlagOperation, flag_names: &[&str]) {
        let uid = mailstore::Uid::new(uid).expect("non-zero UID");
        self.store
            .store_flags(
                self.account,
                &mailbox(name),
                &[uid],
                operation,
                &flags(flag_names),
                None,
            )
            .expect("store flags");
        let message = self
            .model
            .get_mut(name)
            .and_then(|messages| messages.get_mut(&uid.get()))
            .expect("message in the model");
        let given = set_of(flag_names);
        message.flags = match operation {
            FlagOperation::Replace => given,
            FlagOperation::Add => message.flags.union(&given).cloned().collect(),
            FlagOperation::Remove => message.flags.difference(&given).cloned().collect(),
        };
    }

    fn expunge(&mut self, name: &str, uid: u32) {
        let removed = self
            .store
            .expunge(
                self.account,
                &mailbox(name),
                Expunge::Uids(vec![mailstore::Uid::new(uid).expect("non-zero UID")]),
            )
            .expect("expunge");
        assert_eq!(removed.len(), 1);
        if let Some(messages) = self.model.get_mut(name) {
            messages.remove(&uid);
        }
    }
}

/// The intended messages of every mailbox against a view's.
fn model_differences(
    (a, model): (&str, &BTreeMap<String, BTreeMap<u32, Message>>),
    (b, view): (&str, &BTreeMap<String, Mailbox>),
) -> Vec<String> {
    let mut out = Vec::new();
    let model_names: Vec<&String> = model.keys().collect();
    let view_names: Vec<&String> = view.keys().collect();
    if model_names != view_names {
        out.push(format!(
            "mailboxes: {a} {model_names:?}, {b} {view_names:?}"
        ));
    }
    for (name, messages) in model {
        if let Some(mailbox) = view.get(name) {
            message_differences(name, (a, messages), (b, &mailbox.messages), &mut out);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Dovecot reads what we wrote

#[test]
fn dovecot_reads_our_maildir() {
    let Some(tools) = tools() else {
        return;
    };
    let started = Instant::now();
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    let account = AccountName::try_from(USER).expect("account name");
    let store = MaildirStore::open(&mail_root).expect("open store");

    for name in ["Archive/2024", "Entwürfe", "Sent"] {
        store
            .create_mailbox(&account, &mailbox(name), None)
            .expect("create mailbox");
    }
    let mut writer = Writer {
        store: &store,
        account: &account,
        model: BTreeMap::new(),
    };
    for name in ["INBOX", "Archive", "Archive/2024", "Entwürfe", "Sent"] {
        writer.model.insert(name.to_string(), BTreeMap::new());
    }
    let plain = writer.append("INBOX", &[], 0, message(1, b"plain"));
    let replied = writer.append(
        "INBOX",
        &["\\Seen", "\\Answered"],
        60,
        message(2, b"replied"),
    );
    let forwarded = writer.append(
        "INBOX",
        &["\\Flagged", "$Forwarded"],
        120,
        message(3, b"forwarded"),
    );
    let doomed = writer.append("INBOX", &["\\Seen"], 180, message(4, b"to be expunged"));
    writer.append(
        "INBOX",
        &["\\Draft", "\\Deleted", "work", "$Forwarded"],
        240,
        message(5, b"every kind of flag"),
    );
    writer.append("INBOX", &["\\Seen"], 300, big_message(6));
    // Flag changes rename files (and allocate keyword letters) after the append.
    writer.store_flags(
        "INBOX",
        plain,
        FlagOperation::Add,
        &["\\Seen", "$Forwarded"],
    );
    writer.store_flags("INBOX", replied, FlagOperation::Remove, &["\\Seen"]);
    writer.store_flags(
        "INBOX",
        forwarded,
        FlagOperation::Replace,
        &["\\Flagged", "$Junk"],
    );
    // A gap in the UIDs.
    writer.expunge("INBOX", doomed);
    writer.append("Archive", &["\\Seen"], 3600, message(7, b"archived"));
    writer.append(
        "Archive/2024",
        &["\\Answered", "$Forwarded"],
        7200,
        message(8, b"from 2024"),
    );
    writer.append("Archive/2024", &["\\Seen"], 7260, unterminated_message(9));
    writer.append(
        "Entwürfe",
        &["\\Draft"],
        86_400,
        message(10, b"Entw\xfcrfe"),
    );

    let ours = store_view(&store, &account);
    assert_no_differences(
        "our store does not hold what was written",
        model_differences(("intended", &writer.model), ("store", &ours)),
    );
    drop(store);

    let mut dovecot = Dovecot::start(&tools.dovecot, &temp.path().join("dovecot"), &mail_root);
    let seen = dovecot.client(&tools, "dump", None);
    dovecot.stop();
    eprintln!("Dovecot log:\n{}", dovecot.log());

    // LIST: the same folders, names in modified UTF-7 on the wire, and nothing unselectable.
    let listed: Vec<&String> = seen.listed.keys().collect();
    assert_eq!(
        listed,
        ["Archive", "Archive/2024", "Entwürfe", "INBOX", "Sent"],
        "LIST: {:?}",
        seen.listed
    );
    assert_eq!(seen.listed["Entwürfe"].0, "Entw&APw-rfe");
    assert_eq!(seen.listed["Archive/2024"].0, "Archive/2024");
    assert_no_differences(
        "Dovecot does not see our Maildir as our store does",
        view_differences(("store", &ours), ("dovecot", &seen.mailboxes)),
    );
    dovecot.assert_no_complaints();

    // Dovecot has now indexed the folders (and may have rewritten dovecot-uidlist): a fresh
    // store still sees exactly the same.
    let reopened = MaildirStore::open(&mail_root).expect("reopen store");
    assert_no_differences(
        "our store reads the Maildir differently after Dovecot used it",
        view_differences(
            ("before", &ours),
            ("after", &store_view(&reopened, &account)),
        ),
    );
    eprintln!("dovecot_reads_our_maildir took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 2. We read what Dovecot wrote

/// One operation for the client's `apply` mode.
enum Op {
    Create(&'static str),
    Append(&'static str, &'static [&'static str], u64, Vec<u8>),
    /// Mailbox, the message of the n-th Append, `+FLAGS` / `-FLAGS` / `FLAGS`, flags.
    Store(&'static str, usize, &'static str, &'static [&'static str]),
    Expunge(&'static str),
    Subscribe(&'static str),
}

fn spec_text(ops: &[Op]) -> String {
    let mut text = String::new();
    for op in ops {
        match op {
            Op::Create(name) => text.push_str(&format!("CREATE\t{name}\n")),
            Op::Append(name, flags, offset, body) => text.push_str(&format!(
                "APPEND\t{name}\t{}\t{}\t{}\n",
                flags.join(" "),
                MARCH_2024 + offset,
                hex_encode(body)
            )),
            Op::Store(name, index, what, flags) => text.push_str(&format!(
                "STORE\t{name}\t#{index}\t{what}\t{}\n",
                flags.join(" ")
            )),
            Op::Expunge(name) => text.push_str(&format!("EXPUNGE\t{name}\n")),
            Op::Subscribe(name) => text.push_str(&format!("SUBSCRIBE\t{name}\n")),
        }
    }
    text
}

/// What the operations should leave behind, given the UIDs Dovecot's APPENDUIDs reported.
fn expected_after(
    ops: &[Op],
    appended: &[(String, u32, u32)],
) -> BTreeMap<String, BTreeMap<u32, Message>> {
    let mut model: BTreeMap<String, BTreeMap<u32, Message>> = BTreeMap::new();
    model.insert("INBOX".into(), BTreeMap::new());
    let mut uids = Vec::new();
    for op in ops {
        match op {
            Op::Create(name) => {
                model.entry(name.to_string()).or_default();
            }
            Op::Append(name, flags, offset, body) => {
                let (target, _, uid) = &appended[uids.len()];
                assert_eq!(target, name);
                uids.push(*uid);
                model.entry(name.to_string()).or_default().insert(
                    *uid,
                    Message {
                        flags: set_of(flags),
                        size: body.len() as u64,
                        internal_date: MARCH_2024 + offset,
                        body: body.clone(),
                    },
                );
            }
            Op::Store(name, index, what, flags) => {
                let message = model
                    .get_mut(*name)
                    .and_then(|messages| messages.get_mut(&uids[*index]))
                    .expect("stored message exists");
                let given = set_of(flags);
                message.flags = match *what {
                    "+FLAGS" => message.flags.union(&given).cloned().collect(),
                    "-FLAGS" => message.flags.difference(&given).cloned().collect(),
                    _ => given,
                };
            }
            Op::Expunge(name) => {
                if let Some(messages) = model.get_mut(*name) {
                    messages.retain(|_, message| !message.flags.contains("\\Deleted"));
                }
            }
            Op::Subscribe(_) => {}
        }
    }
    model
}

#[test]
fn we_read_what_dovecot_wrote() {
    let Some(tools) = tools() else {
        return;
    };
    let started = Instant::now();
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    fs::create_dir_all(&mail_root).expect("create mail root");
    let account = AccountName::try_from(USER).expect("account name");

    let ops = vec![
        Op::Create("Sent"),
        Op::Create("Projekte/Überblick"),
        Op::Create("Entwürfe"),
        // #0: no flags, so Dovecot leaves it in new/.
        Op::Append("INBOX", &[], 0, message(1, b"plain")),
        Op::Append("INBOX", &["\\Seen"], 60, message(2, b"seen")),
        Op::Append(
            "INBOX",
            &["\\Seen", "\\Flagged", "$Forwarded"],
            120,
            message(3, b"forwarded"),
        ),
        Op::Append("INBOX", &["\\Seen"], 180, message(4, b"to be expunged")),
        Op::Append("INBOX", &["\\Answered", "work"], 240, big_message(5)),
        Op::Append("Sent", &["\\Seen"], 300, message(6, b"sent")),
        Op::Append(
            "Projekte/Überblick",
            &["\\Draft"],
            360,
            message(7, b"draft"),
        ),
        Op::Append("Projekte/Überblick", &[], 420, unterminated_message(8)),
        Op::Append(
            "Entwürfe",
            &["\\Draft", "$Label1"],
            480,
            message(9, b"Entw\xfcrfe"),
        ),
        // #9: no flags and never SELECTed, so it stays in new/.
        Op::Append("Entwürfe", &[], 540, message(10, b"still new")),
        Op::Store("INBOX", 0, "+FLAGS", &["$Forwarded", "\\Answered"]),
        Op::Store("INBOX", 1, "-FLAGS", &["\\Seen"]),
        Op::Store("INBOX", 2, "FLAGS", &["\\Flagged", "$Junk"]),
        Op::Store("INBOX", 3, "+FLAGS", &["\\Deleted"]),
        Op::Expunge("INBOX"),
        Op::Store("Projekte/Überblick", 7, "+FLAGS", &["\\Seen"]),
    ];
    let spec = temp.path().join("spec.txt");
    fs::write(&spec, spec_text(&ops)).expect("write spec");

    let mut dovecot = Dovecot::start(&tools.dovecot, &temp.path().join("dovecot"), &mail_root);
    let wrote = dovecot.client(&tools, "apply", Some(&spec));
    dovecot.stop();
    eprintln!("Dovecot log:\n{}", dovecot.log());
    dovecot.assert_no_complaints();

    // Dovecot did what it was asked (else the comparison below proves little).
    let expected = expected_after(&ops, &wrote.appended);
    assert_no_differences(
        "Dovecot does not show what the client did",
        model_differences(("intended", &expected), ("dovecot", &wrote.mailboxes)),
    );
    assert_eq!(
        wrote.listed["Projekte/Überblick"].0,
        "Projekte/&ANw-berblick"
    );
    // Dovecot's CREATE of "Projekte/Überblick" makes only `.Projekte.&ANw-berblick`; its LIST
    // then shows the parent as `\Noselect \HasChildren`. Our store lists directories that
    // exist, so it shows the child only: the selectable sets are compared below.
    let unselectable: Vec<(&String, &String)> = wrote
        .listed
        .iter()
        .filter(|(name, _)| !wrote.mailboxes.contains_key(*name))
        .map(|(name, (_, attributes))| (name, attributes))
        .collect();
    assert_eq!(
        unselectable,
        [(
            &"Projekte".to_string(),
            &"\\Noselect \\HasChildren".to_string()
        )],
        "Dovecot's unselectable names"
    );

    // Our store, on the files Dovecot left, sees exactly what Dovecot showed.
    let store = MaildirStore::open(&mail_root).expect("open store");
    let ours = store_view(&store, &account);
    assert_no_differences(
        "our store does not see Dovecot's Maildir as Dovecot does",
        view_differences(("dovecot", &wrote.mailboxes), ("store", &ours)),
    );
    assert_eq!(
        fs::read_dir(mail_root.join("alice/.Entw&APw-rfe/new"))
            .expect("Dovecot's new/")
            .count(),
        1,
        "one message is still in new/, where Dovecot delivered it"
    );
    for (name, mailbox) in &wrote.mailboxes {
        for (mailbox_name, validity, _) in &wrote.appended {
            if mailbox_name == name {
                assert_eq!(
                    *validity, mailbox.uid_validity,
                    "{name}: APPENDUID's UIDVALIDITY"
                );
            }
        }
    }

    // And back: our store appends (with a keyword Dovecot allocated and a new one) and changes
    // flags in Dovecot's files; a restarted Dovecot must agree with us.
    let uid_of = |index: usize| wrote.appended[index].2;
    let appended = store
        .append(
            &account,
            &MailboxName::inbox(),
            &mut message(10, b"delivered by mailstore").as_slice(),
            {
                let mut append_options = AppendOptions::default();
                append_options.flags = flags(&["\\Seen", "work", "later"]);
                append_options.internal_date = Some(at(600));
                append_options.max_size = None;
                append_options
            },
        )
        .expect("append to Dovecot's INBOX");
    assert!(
        appended.uid.get() >= wrote.mailboxes["INBOX"].uid_next,
        "our UID {} is below Dovecot's UIDNEXT {}",
        appended.uid,
        wrote.mailboxes["INBOX"].uid_next
    );
    store
        .store_flags(
            &account,
            &MailboxName::inbox(),
            &[mailstore::Uid::new(uid_of(1)).expect("UID")],
            FlagOperation::Add,
            &flags(&["$Forwarded", "later"]),
            None,
        )
        .expect("store flags in Dovecot's INBOX");
    store
        .append(
            &account,
            &mailbox("Projekte/Überblick"),
            &mut message(11, b"also from mailstore").as_slice(),
            {
                let mut append_options = AppendOptions::default();
                append_options.flags = flags(&["\\Flagged"]);
                append_options.internal_date = Some(at(660));
                append_options.max_size = None;
                append_options
            },
        )
        .expect("append to a Dovecot folder");
    // The message Dovecot left in new/ gets flags: our store moves it to cur/.
    store
        .store_flags(
            &account,
            &mailbox("Entwürfe"),
            &[mailstore::Uid::new(uid_of(9)).expect("UID")],
            FlagOperation::Add,
            &flags(&["\\Seen", "$Label1"]),
            None,
        )
        .expect("store flags on a message in new/");
    let ours = store_view(&store, &account);
    drop(store);

    let mut dovecot = Dovecot::start(
        &tools.dovecot,
        &temp.path().join("dovecot-again"),
        &mail_root,
    );
    let seen = dovecot.client(&tools, "dump", None);
    dovecot.stop();
    eprintln!("Dovecot log (second run):\n{}", dovecot.log());
    assert_no_differences(
        "Dovecot does not see our changes to its Maildir as our store does",
        view_differences(("store", &ours), ("dovecot", &seen.mailboxes)),
    );
    let inbox = &seen.mailboxes["INBOX"].messages;
    assert_eq!(
        inbox[&appended.uid.get()].flags,
        set_of(&["\\Seen", "work", "later"])
    );
    assert_eq!(inbox[&uid_of(1)].flags, set_of(&["$Forwarded", "later"]));
    assert_eq!(
        seen.mailboxes["Entwürfe"].messages[&uid_of(9)].flags,
        set_of(&["\\Seen", "$Label1"])
    );
    dovecot.assert_no_complaints();
    eprintln!("we_read_what_dovecot_wrote took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 3. Subscriptions

/// Subscriptions, both ways. Dovecot 2.3 keeps them in `<Maildir>/subscriptions`: a new file is
/// written as version 2 (`V\t2\n\n`, then one name a line, hierarchy levels separated by a
/// TAB, each level in modified UTF-7); a file without that header is read as version 1 (one
/// Maildir++ storage name a line: levels joined by `.`, modified UTF-7) and kept in that
/// version. Every check runs and all differences are reported together.
#[test]
fn subscriptions_interoperate_with_dovecot() {
    let Some(tools) = tools() else {
        return;
    };
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    let store = MaildirStore::open(&mail_root).expect("open store");
    let mut problems = Vec::new();

    // Ours -> Dovecot: alice's subscriptions are written by our store.
    let alice = AccountName::try_from(USER).expect("account name");
    for name in ["Archive/2024", "Entwürfe", "Sent"] {
        store
            .create_mailbox(&alice, &mailbox(name), None)
            .expect("create mailbox");
    }
    for name in ["INBOX", "Archive/2024", "Entwürfe"] {
        store
            .set_subscribed(&alice, &mailbox(name), true)
            .expect("subscribe");
    }
    let ours = store_subscriptions(&store, &alice);
    // Bob's are written by Dovecot (a fresh file), below.
    let bob = AccountName::try_from("bob").expect("account name");
    let spec = temp.path().join("spec.txt");
    fs::write(
        &spec,
        spec_text(&[
            Op::Create("Sent"),
            Op::Create("Entwürfe"),
            Op::Create("Projekte/Überblick"),
            Op::Subscribe("Sent"),
            Op::Subscribe("Entwürfe"),
            Op::Subscribe("Projekte/Überblick"),
        ]),
    )
    .expect("write spec");
    drop(store);

    let mut dovecot = Dovecot::start(&tools.dovecot, &temp.path().join("dovecot"), &mail_root);
    let alice_seen = dovecot.client_as(&tools, USER, "dump", None);
    let bob_wrote = dovecot.client_as(&tools, bob.as_str(), "apply", Some(&spec));
    dovecot.stop();
    eprintln!("Dovecot log:\n{}", dovecot.log());
    problems.extend(
        dovecot
            .complaints()
            .into_iter()
            .map(|line| format!("Dovecot complained: {line}")),
    );
    if alice_seen.subscribed != ours {
        problems.push(format!(
            "ours -> Dovecot: our store has {ours:?} subscribed, Dovecot's LSUB shows {:?}",
            alice_seen.subscribed
        ));
    }
    let dovecots = set_of(&["Sent", "Entwürfe", "Projekte/Überblick"]);
    assert_eq!(bob_wrote.subscribed, dovecots, "Dovecot's own LSUB");

    // Dovecot -> ours.
    let store = MaildirStore::open(&mail_root).expect("reopen store");
    let bobs = store_subscriptions(&store, &bob);
    if bobs != dovecots {
        problems.push(format!(
            "Dovecot -> ours: Dovecot's LSUB shows {dovecots:?}, our store has {bobs:?} subscribed"
        ));
    }
    // Ours, changing Dovecot's file -> Dovecot: what we did not touch must survive.
    store
        .set_subscribed(&bob, &mailbox("Sent"), false)
        .expect("unsubscribe");
    drop(store);
    let mut dovecot = Dovecot::start(
        &tools.dovecot,
        &temp.path().join("dovecot-again"),
        &mail_root,
    );
    let bob_seen = dovecot.client_as(&tools, bob.as_str(), "dump", None);
    dovecot.stop();
    let expected = set_of(&["Entwürfe", "Projekte/Überblick"]);
    if bob_seen.subscribed != expected {
        problems.push(format!(
            "ours -> Dovecot's file -> Dovecot: after our store unsubscribed Sent, Dovecot's \
             LSUB shows {:?}, not {expected:?}",
            bob_seen.subscribed
        ));
    }
    problems.extend(
        dovecot
            .complaints()
            .into_iter()
            .map(|line| format!("Dovecot complained (second run): {line}")),
    );
    assert_no_differences(
        "subscriptions differ between our store and Dovecot",
        problems,
    );
}

// ---------------------------------------------------------------------------------------------
// 4. New mail

/// A delivery (an append without flags) is new mail to Dovecot: in `new/`, `\Recent`, with
/// our UID; and once Dovecot has moved it to `cur/` (its first read-write SELECT), our store
/// still sees it under the same UID.
#[test]
fn dovecot_sees_a_delivery_as_new_mail() {
    let Some(tools) = tools() else {
        return;
    };
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    let account = AccountName::try_from(USER).expect("account name");
    let store = MaildirStore::open(&mail_root).expect("open store");
    let mut writer = Writer {
        store: &store,
        account: &account,
        model: BTreeMap::new(),
    };
    let read = writer.append("INBOX", &["\\Seen"], 0, message(1, b"read already"));
    let delivered = store
        .deliver(&account, &mut &message(2, b"new mail")[..])
        .expect("deliver")
        .uid
        .get();
    assert!(read < delivered);
    let inbox = mail_root.join(USER);
    let in_new: Vec<String> = fs::read_dir(inbox.join("new"))
        .expect("new/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(in_new.len(), 1, "the delivery is in new/: {in_new:?}");
    let ours = store_view(&store, &account);
    drop(store);

    let mut dovecot = Dovecot::start(&tools.dovecot, &temp.path().join("dovecot"), &mail_root);
    let examined = dovecot.client(&tools, "dump", None);
    // A read-write SELECT: Dovecot moves what it found in new/ to cur/.
    let selected = dovecot.client(&tools, "select", None);
    dovecot.stop();
    eprintln!("Dovecot log:\n{}", dovecot.log());
    dovecot.assert_no_complaints();
    assert_eq!(
        examined.recent.get("INBOX"),
        Some(&1),
        "Dovecot counts the delivery, and only it, as \\Recent"
    );
    assert_no_differences(
        "Dovecot does not see the delivery as our store does",
        view_differences(("store", &ours), ("dovecot", &examined.mailboxes)),
    );
    assert_no_differences(
        "after SELECT",
        view_differences(("store", &ours), ("dovecot", &selected.mailboxes)),
    );
    let now_in_new = fs::read_dir(inbox.join("new")).expect("new/").count();
    let reopened = MaildirStore::open(&mail_root).expect("reopen store");
    assert_no_differences(
        &format!("our store after Dovecot's SELECT ({now_in_new} files left in new/)"),
        view_differences(
            ("before", &ours),
            ("after", &store_view(&reopened, &account)),
        ),
    );
}
