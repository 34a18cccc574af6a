//! Our tokio POP3 client and polling helper against a real Dovecot 2.3 pop3d.
//!
//! `MaildirStore` writes alice's Maildir (CRLF messages with dot-led lines, 8-bit octets and a
//! ~2 MB message); Dovecot serves it over STLS and implicit TLS with a self-signed certificate
//! made by `ensure_self_signed`, `disable_plaintext_auth = yes` and
//! `pop3_uidl_format = %08Xu%08Xv`.
//!
//! 1. [`our_client_against_dovecot`]: STAT, LIST, UIDL, RETR (byte-exact), TOP, NOOP, RSET
//!    undoing a DELE, DELE + QUIT removing a message (seen by a new session and by
//!    `MaildirStore` once Dovecot is stopped), a wrong password, a password before TLS.
//! 2. [`our_poller_against_dovecot`]: keep mode fetches everything once, then only a new
//!    message; delete mode empties Dovecot's maildrop. The sink's files are byte-exact.
//! 3. [`dovecot_uidls_equal_our_servers`]: for the same Maildir, Dovecot's UIDLs are exactly
//!    those of our own `Pop3Server` (UID and UIDVALIDITY of the store's snapshot in hex).
//! 4. [`stat_of_an_empty_maildrop`]: Dovecot's `+OK 0 0`.
//!
//! Dovecot counts a connection whose remote and local addresses are equal as secure
//! (`client->secured` in login-common) and then accepts passwords in the clear whatever
//! `disable_plaintext_auth` says. So the STLS listener is on 127.0.0.2: Linux connects to it
//! from 127.0.0.1, and Dovecot treats us as the remote client we model. The pop3s listener is
//! on 127.0.0.1.
//!
//! Dovecot runs as a child (`dovecot -F -c <tempdir>/dovecot.conf`, `mail_testkit::dovecot`)
//! with every path inside the test's tempdir, mail processes as uid/gid 5000, and a drop guard that stops it. Without
//! `dovecot` or root the tests print a note and pass, unless `CI=true`.
#![cfg(feature = "tokio")]

use std::fs;
use std::future::Future;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_testkit::{dovecot, programs};

use mail_session::listener::Shutdown;
use mail_session::sasl::Secret;
use mail_session::tls;
use mailstore::{AccessPolicy, AccountName, MailStore, MailboxName, MaildirStore, UsersFile};
use pop3_proto::client::ClientOptions;
use pop3_proto::tokio::{
    poll_once, Client, ClientConfig, ClientError, DirectorySink, PollConfig, Pop3Server, Security,
    UidlMemory,
};
use pop3_proto::types::ResponseCode;

const USER: &str = "alice";
const PASSWORD: &str = "pop3-interop-secret";
/// The STLS listener's address: not the client's source address (see the module docs).
const STLS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const IMPLICIT_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;

// ---------------------------------------------------------------------------------------------
// Dovecot as a child process

/// A running Dovecot (the test kit's private instance, stopped when dropped) and a TLS client
/// configuration trusting its certificate.
struct Dovecot {
    inner: dovecot::Dovecot,
    client_tls: Arc<rustls::ClientConfig>,
}

impl Dovecot {
    /// Starts Dovecot serving `<mail_root>/<user>`; its own files go to `dir`.
    fn start(binary: &Path, dir: &Path, mail_root: &Path) -> Dovecot {
        fs::create_dir_all(dir).expect("create dovecot dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        tls::ensure_self_signed(&cert, &key, &["localhost".into()]).expect("certificate");
        let client_tls = tls::client_config_trusting(&cert).expect("client TLS config");
        let config = dovecot::Config::new(
            "pop3-proto/tests/dovecot_pop3.rs",
            dovecot::Protocol::Pop3,
            mail_root,
            dovecot::Passdb::Static(PASSWORD.into()),
        )
        .instance_prefix("pop3-interop")
        .plain_listener(STLS_IP)
        .implicit_tls_listener(IMPLICIT_IP)
        .tls(cert, key)
        .plaintext_auth(false)
        .setting("auth_failure_delay", "0")
        .setting("pop3_uidl_format", "%08Xu%08Xv")
        .start_timeout(Duration::from_secs(20));
        let inner = dovecot::Dovecot::start(binary, dir, &config).unwrap_or_else(|e| panic!("{e}"));
        Dovecot { inner, client_tls }
    }

    fn config(&self, security: Security) -> ClientConfig {
        ClientConfig {
            address: match security {
                Security::ImplicitTls => self
                    .inner
                    .implicit_tls_address()
                    .expect("an implicit-TLS listener"),
                _ => self.inner.address(),
            },
            server_name: "localhost".into(),
            security,
            tls: (security != Security::Plain).then(|| self.client_tls.clone()),
            // Short deadlines: a client that waits for bytes Dovecot never sends fails fast.
            options: ClientOptions {
                greeting_timeout: Duration::from_secs(10),
                response_timeout: Duration::from_secs(10),
                ..ClientOptions::default()
            },
            connect_timeout: Duration::from_secs(5),
        }
    }

    async fn login(&self, security: Security) -> Client {
        let mut client = within(Client::connect(&self.config(security)))
            .await
            .unwrap_or_else(|error| {
                panic!("connect ({security:?}): {error}\n{}", self.inner.logs())
            });
        assert!(client.is_tls(), "{security:?} is encrypted");
        within(client.login(USER, PASSWORD))
            .await
            .unwrap_or_else(|error| panic!("login ({security:?}): {error}\n{}", self.inner.logs()));
        client
    }
}

// ---------------------------------------------------------------------------------------------
// Mail

fn alice() -> AccountName {
    AccountName::try_from(USER).expect("account name")
}

/// Delivers `messages` to alice's INBOX with our store and hands the files to the mail user.
fn deliver(mail_root: &Path, messages: &[Vec<u8>]) {
    let store = MaildirStore::open(mail_root).expect("open store");
    for message in messages {
        store
            .deliver(&alice(), &mut message.as_slice())
            .expect("deliver");
    }
    drop(store);
    dovecot::hand_to_mail_user(mail_root).expect("chown");
}

/// The INBOX's (UID, UIDVALIDITY) pairs in UID order, from our store's snapshot.
fn snapshot_ids(mail_root: &Path) -> Vec<(u32, u32)> {
    let store = MaildirStore::open(mail_root).expect("open store");
    let snapshot = store
        .snapshot(&alice(), &MailboxName::inbox())
        .expect("snapshot");
    let validity = snapshot.status.uid_validity.get();
    snapshot
        .messages
        .iter()
        .map(|message| (message.uid.get(), validity))
        .collect()
}

/// What Dovecot's `%08Xu%08Xv` expands to: its `X` modifier is printf's `%llx` (lowercase).
fn dovecot_uidls(mail_root: &Path) -> Vec<String> {
    snapshot_ids(mail_root)
        .into_iter()
        .map(|(uid, validity)| format!("{uid:08x}{validity:08x}"))
        .collect()
}

/// The INBOX's messages as our store reads them, in UID order.
fn stored_bodies(mail_root: &Path) -> Vec<Vec<u8>> {
    let store = MaildirStore::open(mail_root).expect("open store");
    let inbox = MailboxName::inbox();
    let snapshot = store.snapshot(&alice(), &inbox).expect("snapshot");
    snapshot
        .messages
        .iter()
        .map(|message| {
            let mut body = Vec::new();
            store
                .open_message(&alice(), &inbox, message.uid)
                .expect("open message")
                .reader
                .read_to_end(&mut body)
                .expect("read message");
            body
        })
        .collect()
}

/// A ~2 MB message whose every 7th body line starts with a dot.
fn big_message() -> Vec<u8> {
    let mut message = b"From: bob@example.org\r\nSubject: big\r\n\r\n".to_vec();
    for line in 0..40_000 {
        if line % 7 == 0 {
            message.push(b'.');
        }
        message.extend_from_slice(
            format!("line {line:06} of a large message body, padded to fifty\r\n").as_bytes(),
        );
    }
    message
}

fn messages() -> Vec<Vec<u8>> {
    vec![
        b"From: bob@example.org\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n...three\r\nend\r\n"
            .to_vec(),
        big_message(),
        b"From: carol@example.org\r\nSubject: lines\r\n\r\nline 1\r\nline 2\r\nline 3\r\n".to_vec(),
        b"Subject: 8-bit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xc3\xa9 \xff\xfe\r\n"
            .to_vec(),
        b"Subject: no body\r\n\r\n".to_vec(),
    ]
}

/// Fails instead of hanging when the client waits forever.
async fn within<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the client hung against Dovecot")
}

// ---------------------------------------------------------------------------------------------
// 1. The client

#[tokio::test]
async fn our_client_against_dovecot() {
    let Some(binary) = programs::require_as_root("Dovecot POP3 interop", "dovecot") else {
        return;
    };
    let started = Instant::now();
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    let messages = messages();
    deliver(&mail_root, &messages);
    let uidls = dovecot_uidls(&mail_root);
    assert_eq!(uidls.len(), messages.len());
    let mut dovecot = Dovecot::start(&binary, &temp.path().join("dovecot"), &mail_root);
    let total: u64 = messages.iter().map(|m| m.len() as u64).sum();

    for security in [Security::StartTls, Security::ImplicitTls] {
        let mut client = dovecot.login(security).await;
        assert_eq!(
            within(client.stat()).await.unwrap(),
            (messages.len() as u32, total),
            "STAT ({security:?})"
        );
        let listing = within(client.list()).await.unwrap();
        let expected: Vec<(u32, u64)> =
            (1..).zip(messages.iter().map(|m| m.len() as u64)).collect();
        assert_eq!(listing, expected, "LIST ({security:?})");
        let ids = within(client.uidl()).await.unwrap();
        let expected: Vec<(u32, String)> = (1..).zip(uidls.iter().cloned()).collect();
        assert_eq!(
            ids, expected,
            "Dovecot's UIDLs carry our store's UIDs and UIDVALIDITY"
        );
        for (number, message) in (1..).zip(&messages) {
            let mut body = Vec::new();
            let size = within(client.retr(number, &mut body)).await.unwrap();
            assert!(
                body == *message,
                "RETR {number} ({security:?}) is not byte-exact: {} octets, expected {}",
                body.len(),
                message.len()
            );
            assert_eq!(size, message.len() as u64, "RETR {number}'s returned size");
        }
        assert_eq!(
            within(client.top(3, 2)).await.unwrap(),
            b"From: carol@example.org\r\nSubject: lines\r\n\r\nline 1\r\nline 2\r\n",
            "TOP 3 2 ({security:?})"
        );
        assert_eq!(
            within(client.top(1, 3)).await.unwrap(),
            b"From: bob@example.org\r\nSubject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\n",
            "TOP 1 3, dot-led lines un-stuffed ({security:?})"
        );
        assert_eq!(
            within(client.top(2, 0)).await.unwrap(),
            b"From: bob@example.org\r\nSubject: big\r\n\r\n",
            "TOP 2 0 ({security:?})"
        );
        within(client.noop()).await.unwrap();
        within(client.quit()).await.unwrap();
    }

    // RSET undoes a DELE.
    let mut client = dovecot.login(Security::StartTls).await;
    within(client.dele(1)).await.unwrap();
    let (count, _) = within(client.stat()).await.unwrap();
    assert_eq!(
        count,
        messages.len() as u32 - 1,
        "STAT leaves out a DELEd message"
    );
    within(client.rset()).await.unwrap();
    assert_eq!(
        within(client.stat()).await.unwrap(),
        (messages.len() as u32, total)
    );
    within(client.quit()).await.unwrap();
    let mut client = dovecot.login(Security::ImplicitTls).await;
    assert_eq!(
        within(client.stat()).await.unwrap(),
        (messages.len() as u32, total),
        "nothing was removed after RSET"
    );

    // DELE + QUIT removes the message (the big one, number 2).
    within(client.dele(2)).await.unwrap();
    within(client.quit()).await.unwrap();
    let mut remaining = messages.clone();
    remaining.remove(1);
    let mut remaining_uidls = uidls.clone();
    remaining_uidls.remove(1);
    let mut client = dovecot.login(Security::StartTls).await;
    assert_eq!(
        within(client.stat()).await.unwrap(),
        (
            remaining.len() as u32,
            remaining.iter().map(|m| m.len() as u64).sum()
        ),
        "DELE + QUIT removed one message"
    );
    let ids: Vec<String> = within(client.uidl())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids, remaining_uidls, "the other messages keep their UIDLs");
    within(client.quit()).await.unwrap();

    // A password before TLS: Dovecot refuses it (disable_plaintext_auth).
    let mut plain = within(Client::connect(&dovecot.config(Security::Plain)))
        .await
        .expect("connect without TLS");
    assert!(!plain.is_tls());
    match within(plain.login(USER, PASSWORD)).await {
        Err(ClientError::Refused { command, status }) => {
            eprintln!("Dovecot refused a password before TLS: {command} -> {status:?}");
            assert_eq!(status.code, Some(ResponseCode::Auth), "{status:?}");
            assert!(
                status.text.contains("Plaintext authentication disallowed"),
                "{status:?}"
            );
        }
        other => panic!("a password before TLS must be refused, got {other:?}"),
    }
    assert!(
        within(plain.stat()).await.is_err(),
        "not logged in after the refusal"
    );
    drop(plain);

    // A wrong password (last: it puts an auth penalty on our address).
    let mut client = within(Client::connect(&dovecot.config(Security::StartTls)))
        .await
        .unwrap();
    match within(client.login(USER, "wrong")).await {
        Err(ClientError::Refused { command, status }) => {
            eprintln!("Dovecot refused a wrong password: {command} -> {status:?}");
            assert_eq!(status.code, Some(ResponseCode::Auth), "{status:?}");
            assert_eq!(status.text, "Authentication failed.");
        }
        other => panic!("a wrong password must be refused, got {other:?}"),
    }
    drop(client);

    dovecot.inner.stop();
    dovecot.inner.assert_no_complaints();
    // Our store, on what Dovecot left: the DELEd message is gone, the rest unchanged.
    assert_eq!(dovecot_uidls(&mail_root), remaining_uidls);
    assert!(
        stored_bodies(&mail_root) == remaining,
        "our store reads the remaining messages unchanged"
    );
    eprintln!("our_client_against_dovecot took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 2. The polling helper

/// Asserts that the sink's directory holds exactly `messages`, each byte-exact in the file
/// `DirectorySink` names after its UIDL (reports names and lengths, not the bytes).
fn assert_sink_holds(dir: &Path, uidls: &[String], messages: &[Vec<u8>]) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read sink dir")
        .map(|entry| entry.expect("dir entry").file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected: Vec<String> = uidls
        .iter()
        .map(|id| DirectorySink::file_name(id))
        .collect();
    expected.sort();
    assert_eq!(names, expected, "the sink's files");
    for (uidl, message) in uidls.iter().zip(messages) {
        let file = fs::read(dir.join(DirectorySink::file_name(uidl))).expect("read file");
        assert!(
            file == *message,
            "{uidl}: {} octets in the sink, not the {} octets of the message",
            file.len(),
            message.len()
        );
    }
}

#[tokio::test]
async fn our_poller_against_dovecot() {
    let Some(binary) = programs::require_as_root("Dovecot POP3 interop", "dovecot") else {
        return;
    };
    let started = Instant::now();
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    let mut messages = vec![
        b"Subject: one\r\n\r\n.\r\n..\r\nend\r\n".to_vec(),
        b"Subject: two\r\n\r\n.dot-led\r\nbody two\r\n".to_vec(),
        big_message(),
    ];
    deliver(&mail_root, &messages);
    let mut dovecot = Dovecot::start(&binary, &temp.path().join("dovecot"), &mail_root);
    let state = temp.path().join("poller/seen");
    let out = temp.path().join("poller/out");
    let keep = {
        let mut poll_config = PollConfig::new(
            dovecot.config(Security::StartTls),
            USER,
            Secret::new(PASSWORD),
        );
        poll_config.delete = false;
        poll_config
    };
    let poll = |config: &PollConfig| {
        let config = config.clone();
        let (state, out) = (state.clone(), out.clone());
        async move {
            let mut memory = UidlMemory::load(&state).expect("load memory");
            let mut sink = DirectorySink::new(&out).expect("sink");
            within(poll_once(&config, &mut memory, &mut sink))
                .await
                .map(|report| (report.on_server, report.fetched, report.deleted))
        }
    };

    // Keep mode: everything once, then nothing.
    assert_eq!(poll(&keep).await.unwrap(), (3, 3, 0), "first poll");
    let uidls = dovecot_uidls(&mail_root);
    assert_sink_holds(&out, &uidls, &messages);
    assert_eq!(poll(&keep).await.unwrap(), (3, 0, 0), "second poll");
    let memory = UidlMemory::load(&state).expect("reload memory");
    assert_eq!(memory.len(), 3);
    assert!(uidls.iter().all(|uidl| memory.contains(uidl)));

    // A new message: only it is fetched.
    messages.push(b"Subject: four\r\n\r\narrived later\r\n.\r\n".to_vec());
    deliver(&mail_root, &messages[3..]);
    assert_eq!(
        poll(&keep).await.unwrap(),
        (4, 1, 0),
        "poll after a delivery"
    );
    let uidls = dovecot_uidls(&mail_root);
    assert_sink_holds(&out, &uidls, &messages);

    // Delete mode (over implicit TLS): everything is deleted, nothing fetched again.
    let mut delete = keep.clone();
    delete.client = dovecot.config(Security::ImplicitTls);
    delete.delete = true;
    assert_eq!(poll(&delete).await.unwrap(), (4, 0, 4), "delete mode");
    let mut client = dovecot.login(Security::StartTls).await;
    // (LIST and UIDL, not STAT: see `stat_of_an_empty_maildrop`.)
    assert!(
        within(client.list()).await.unwrap().is_empty(),
        "LIST: empty"
    );
    assert!(
        within(client.uidl()).await.unwrap().is_empty(),
        "UIDL: empty"
    );
    within(client.quit()).await.unwrap();
    assert_eq!(
        poll(&keep).await.unwrap(),
        (0, 0, 0),
        "poll of an empty maildrop"
    );
    assert!(
        UidlMemory::load(&state).expect("reload memory").is_empty(),
        "ids no longer on the server are forgotten"
    );
    assert_sink_holds(&out, &uidls, &messages);

    dovecot.inner.stop();
    dovecot.inner.assert_no_complaints();
    assert!(
        dovecot_uidls(&mail_root).is_empty(),
        "our store sees an empty INBOX"
    );
    eprintln!("our_poller_against_dovecot took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// 3. Dovecot's UIDLs and our server's, for the same Maildir

/// The UIDLs our own `Pop3Server` reports for the Maildir at `mail_root`, read with our client
/// over implicit TLS.
async fn uidls_from_our_server(mail_root: &Path, work: &Path) -> Vec<String> {
    let (cert, key) = (work.join("cert.pem"), work.join("key.pem"));
    tls::ensure_self_signed(&cert, &key, &["localhost".into()]).expect("certificate");
    let users = Arc::new(UsersFile::open(work.join("users")).expect("users file"));
    users
        .add_user(USER, PASSWORD, AccessPolicy::default())
        .expect("add user");
    let store = Arc::new(MaildirStore::open(mail_root).expect("open store"));
    let server = Pop3Server::builder(store, users)
        .tls(tls::server_config(&cert, &key).expect("server TLS config"))
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(server.serve_tls(listener, shutdown.subscribe()));
    let mut client = within(Client::connect(&ClientConfig {
        address,
        server_name: "localhost".into(),
        security: Security::ImplicitTls,
        tls: Some(tls::client_config_trusting(&cert).expect("client TLS config")),
        options: ClientOptions::default(),
        connect_timeout: Duration::from_secs(5),
    }))
    .await
    .expect("connect to our server");
    within(client.login(USER, PASSWORD)).await.unwrap();
    let ids = within(client.uidl()).await.unwrap();
    within(client.quit()).await.unwrap();
    shutdown.trigger();
    ids.into_iter().map(|(_, id)| id).collect()
}

/// A maildrop moved between Dovecot and our server must keep its UIDLs, or every POP3 client
/// in keep mode downloads everything again.
#[tokio::test]
async fn dovecot_uidls_equal_our_servers() {
    let Some(binary) = programs::require_as_root("Dovecot POP3 interop", "dovecot") else {
        return;
    };
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    // Twelve messages: UIDs 10 to 12 have hex letters too.
    let messages: Vec<Vec<u8>> = (1..=12)
        .map(|n| format!("Subject: {n}\r\n\r\nbody {n}\r\n").into_bytes())
        .collect();
    deliver(&mail_root, &messages);
    let ours = uidls_from_our_server(&mail_root, &temp.path().join("ours")).await;
    // Our server's ids are the store's UIDs and UIDVALIDITY in hex (in some letter case).
    let snapshot = dovecot_uidls(&mail_root);
    assert_eq!(ours.len(), snapshot.len(), "our server's UIDL listing");
    for (id, expected) in ours.iter().zip(&snapshot) {
        assert!(id.eq_ignore_ascii_case(expected), "our server's UIDL {id}");
    }

    let mut dovecot = Dovecot::start(&binary, &temp.path().join("dovecot"), &mail_root);
    let mut client = dovecot.login(Security::ImplicitTls).await;
    let dovecots: Vec<String> = within(client.uidl())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    within(client.quit()).await.unwrap();
    dovecot.inner.stop();
    dovecot.inner.assert_no_complaints();
    assert_eq!(
        dovecots,
        dovecot_uidls(&mail_root),
        "Dovecot: the same UIDs and UIDVALIDITY, as %08Xu%08Xv (lowercase hex)"
    );
    assert_eq!(
        dovecots, ours,
        "Dovecot's UIDLs differ from our server's for the same Maildir (Dovecot's \
         pop3_uidl_format %08Xu%08Xv writes lowercase hex: its X modifier is printf's %llx)"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. STAT of an empty maildrop

/// RFC 1939 STAT is `+OK nn mm` with `nn` the number of messages, which may be 0: Dovecot
/// answers `+OK 0 0` for an empty maildrop.
#[tokio::test]
async fn stat_of_an_empty_maildrop() {
    let Some(binary) = programs::require_as_root("Dovecot POP3 interop", "dovecot") else {
        return;
    };
    let temp = dovecot::traversable_tempdir();
    let mail_root = temp.path().join("mail");
    // An INBOX with nothing in it.
    MaildirStore::open(&mail_root)
        .expect("open store")
        .status(&alice(), &MailboxName::inbox())
        .expect("create the INBOX");
    let dovecot = Dovecot::start(&binary, &temp.path().join("dovecot"), &mail_root);
    let mut client = dovecot.login(Security::StartTls).await;
    assert!(within(client.list()).await.unwrap().is_empty());
    let stat = within(client.stat()).await;
    assert!(
        matches!(stat, Ok((0, 0))),
        "STAT of an empty maildrop: Dovecot sent `+OK 0 0`, our client returned {stat:?}"
    );
    within(client.quit()).await.unwrap();
}
