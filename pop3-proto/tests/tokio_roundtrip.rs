//! Our tokio client and polling helper against our tokio server, over real loopback sockets
//! with TLS (STLS and implicit), on an in-memory store.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use mail_session::listener::{LoginThrottle, Shutdown};
use mail_session::login_delay::LoginDelayPolicy;
use mail_session::sasl::Secret;
use mail_session::tls;
use mailstore::{AccessPolicy, AccountName, MailStore, MailboxName, MemoryStore, UsersFile};
use pop3_proto::client::ClientOptions;
use pop3_proto::tokio::{
    poll_once, Client, ClientConfig, ClientError, DirectorySink, MessageSink, PollConfig,
    Pop3Server, Pop3ServerConfig, Security, UidlMemory,
};
use pop3_proto::types::ResponseCode;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<MemoryStore>,
    users: Arc<UsersFile>,
    plain: std::net::SocketAddr,
    implicit: std::net::SocketAddr,
    client_tls: Arc<rustls::ClientConfig>,
    shutdown: Shutdown,
    work: std::path::PathBuf,
}

async fn start() -> Fixture {
    start_with(Pop3ServerConfig::default()).await
}

async fn start_with(config: Pop3ServerConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    tls::ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
    let users = Arc::new(UsersFile::open(dir.path().join("users")).unwrap());
    users
        .add_user("alice", "wonderland", AccessPolicy::default())
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let throttle = LoginThrottle::new({
        let mut login_delay_policy = LoginDelayPolicy::default();
        login_delay_policy.initial = Duration::from_millis(10);
        login_delay_policy
    });
    let server = Pop3Server::builder(store.clone(), users.clone())
        .throttle(throttle)
        .tls(tls::server_config(&cert, &key).unwrap())
        .config(config)
        .build();
    let shutdown = Shutdown::new();
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let implicit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (plain_address, implicit_address) =
        (plain.local_addr().unwrap(), implicit.local_addr().unwrap());
    tokio::spawn(server.clone().serve_plain(plain, shutdown.subscribe()));
    tokio::spawn(server.serve_tls(implicit, shutdown.subscribe()));
    Fixture {
        client_tls: tls::client_config_trusting(&cert).unwrap(),
        work: dir.path().to_path_buf(),
        _dir: dir,
        store,
        users,
        plain: plain_address,
        implicit: implicit_address,
        shutdown,
    }
}

impl Fixture {
    fn config(&self, security: Security) -> ClientConfig {
        ClientConfig {
            address: if security == Security::ImplicitTls {
                self.implicit
            } else {
                self.plain
            },
            server_name: "localhost".into(),
            security,
            tls: Some(self.client_tls.clone()),
            options: ClientOptions::default(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    fn deliver(&self, message: &[u8]) {
        let alice = AccountName::try_from("alice").unwrap();
        self.store.deliver(&alice, &mut &message[..]).unwrap();
    }

    fn inbox_count(&self) -> u32 {
        let alice = AccountName::try_from("alice").unwrap();
        self.store
            .status(&alice, &MailboxName::inbox())
            .unwrap()
            .messages
    }
}

fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &byte) in message.iter().enumerate() {
        if byte == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

fn big_message() -> Vec<u8> {
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    for line in 0..40_000 {
        if line % 7 == 0 {
            message.extend_from_slice(b".");
        }
        message.extend_from_slice(format!("line {line:06} of a large message body\r\n").as_bytes());
    }
    message
}

#[tokio::test]
async fn the_client_reads_and_deletes_over_stls_and_implicit_tls() {
    reads_and_deletes(start().await).await;
}

#[tokio::test]
async fn small_messages_read_on_the_async_thread_are_byte_exact_too() {
    // The first two messages are read inline, the big one on the blocking pool.
    let mut config = Pop3ServerConfig::default();
    config.inline_read_limit = 64 * 1024;
    reads_and_deletes(start_with(config).await).await;
}

async fn reads_and_deletes(fixture: Fixture) {
    let messages: Vec<Vec<u8>> = vec![
        b"Subject: one\r\n\r\n.\r\n..\r\nend\r\n".to_vec(),
        b"Subject: two\n\nbare LF\n.dot\n".to_vec(),
        big_message(),
    ];
    for message in &messages {
        fixture.deliver(message);
    }
    for security in [Security::StartTls, Security::ImplicitTls] {
        let mut client = Client::connect(&fixture.config(security)).await.unwrap();
        assert!(client.is_tls());
        client.login("alice", "wonderland").await.unwrap();
        let (count, size) = client.stat().await.unwrap();
        assert_eq!(count, 3);
        let listing = client.list().await.unwrap();
        assert_eq!(listing.iter().map(|(_, size)| size).sum::<u64>(), size);
        let ids = client.uidl().await.unwrap();
        assert_eq!(ids.len(), 3);
        for (index, message) in messages.iter().enumerate() {
            let mut body = Vec::new();
            let written = client.retr(index as u32 + 1, &mut body).await.unwrap();
            assert_eq!(body, crlf(message), "message {} is byte-exact", index + 1);
            assert_eq!(
                written, listing[index].1,
                "LIST size matches what RETR sends"
            );
        }
        let top = client.top(3, 2).await.unwrap();
        assert_eq!(top, b"Subject: big\r\n\r\n.line 000000 of a large message body\r\nline 000001 of a large message body\r\n");
        client.quit().await.unwrap();
    }
    let mut client = Client::connect(&fixture.config(Security::StartTls))
        .await
        .unwrap();
    client.login("alice", "wonderland").await.unwrap();
    client.dele(2).await.unwrap();
    client.quit().await.unwrap();
    assert_eq!(
        fixture.inbox_count(),
        2,
        "DELE then QUIT removed one message"
    );
    fixture.shutdown.trigger();
}

#[tokio::test]
async fn wrong_passwords_disabled_accounts_and_plaintext_are_refused() {
    let fixture = start().await;
    let mut client = Client::connect(&fixture.config(Security::StartTls))
        .await
        .unwrap();
    match client.login("alice", "wrong").await {
        Err(ClientError::Refused { status, .. }) => {
            assert_eq!(status.code, Some(ResponseCode::Auth))
        }
        other => panic!("expected [AUTH], got {other:?}"),
    }
    fixture
        .users
        .set_policy("alice", |policy| policy.pop3 = false)
        .unwrap();
    let mut client = Client::connect(&fixture.config(Security::StartTls))
        .await
        .unwrap();
    assert!(matches!(
        client.login("alice", "wonderland").await,
        Err(ClientError::Refused { .. })
    ));
    fixture
        .users
        .set_policy("alice", |policy| policy.pop3 = true)
        .unwrap();
    let mut plain = Client::connect(&ClientConfig {
        tls: None,
        ..fixture.config(Security::Plain)
    })
    .await
    .unwrap();
    match plain.login("alice", "wonderland").await {
        Err(ClientError::Refused { status, .. }) => {
            assert_eq!(status.code, Some(ResponseCode::Auth))
        }
        other => panic!("a password before TLS must be refused, got {other:?}"),
    }
    // A second session while the first holds the maildrop gets [IN-USE].
    let mut first = Client::connect(&fixture.config(Security::StartTls))
        .await
        .unwrap();
    first.login("alice", "wonderland").await.unwrap();
    let mut second = Client::connect(&fixture.config(Security::ImplicitTls))
        .await
        .unwrap();
    match second.login("alice", "wonderland").await {
        Err(ClientError::Refused { status, .. }) => {
            assert_eq!(status.code, Some(ResponseCode::InUse))
        }
        other => panic!("expected [IN-USE], got {other:?}"),
    }
    first.quit().await.unwrap();
    fixture.shutdown.trigger();
}

struct FailingSink {
    inner: DirectorySink,
    fail_on: usize,
    started: usize,
}

impl MessageSink for FailingSink {
    fn start(&mut self, unique_id: &str) -> std::io::Result<()> {
        self.started += 1;
        self.inner.start(unique_id)
    }
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.inner.write(data)
    }
    fn finish(&mut self) -> std::io::Result<()> {
        if self.started == self.fail_on {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ));
        }
        self.inner.finish()
    }
    fn abandon(&mut self) {
        self.inner.abandon()
    }
}

#[tokio::test]
async fn the_poller_takes_each_message_once_and_survives_a_failing_sink() {
    let fixture = start().await;
    for n in 0..3 {
        fixture.deliver(format!("Subject: {n}\r\n\r\nbody {n}\r\n").as_bytes());
    }
    let poll = {
        let mut poll_config = PollConfig::new(
            fixture.config(Security::StartTls),
            "alice",
            Secret::new("wonderland"),
        );
        poll_config.delete = false;
        poll_config
    };
    let state = fixture.work.join("seen");
    let out = fixture.work.join("out");
    // The sink fails on the second message: only the first is remembered.
    let mut memory = UidlMemory::load(&state).unwrap();
    let mut failing = FailingSink {
        inner: DirectorySink::new(&out).unwrap(),
        fail_on: 2,
        started: 0,
    };
    assert!(poll_once(&poll, &mut memory, &mut failing).await.is_err());
    let memory_after_failure = UidlMemory::load(&state).unwrap();
    assert_eq!(
        memory_after_failure.len(),
        1,
        "only the handed-over message is remembered"
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "no partial file is left"
    );

    // Keep mode: the rest is fetched once, then nothing.
    let mut memory = UidlMemory::load(&state).unwrap();
    let mut sink = DirectorySink::new(&out).unwrap();
    let report = poll_once(&poll, &mut memory, &mut sink).await.unwrap();
    assert_eq!(
        (report.on_server, report.fetched, report.deleted),
        (3, 2, 0)
    );
    let report = poll_once(&poll, &mut UidlMemory::load(&state).unwrap(), &mut sink)
        .await
        .unwrap();
    assert_eq!(
        report.fetched, 0,
        "the memory file survives a restart of the poller"
    );
    assert_eq!(
        fixture.inbox_count(),
        3,
        "keep mode leaves mail on the server"
    );
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    files.sort();
    assert_eq!(files[0], b"Subject: 0\r\n\r\nbody 0\r\n");

    // Delete mode: everything already taken is deleted, the new one fetched and deleted.
    fixture.deliver(b"Subject: 3\r\n\r\nbody 3\r\n");
    let mut delete = poll;
    delete.delete = true;
    let report = poll_once(&delete, &mut UidlMemory::load(&state).unwrap(), &mut sink)
        .await
        .unwrap();
    assert_eq!(
        (report.on_server, report.fetched, report.deleted),
        (4, 1, 4)
    );
    assert_eq!(fixture.inbox_count(), 0);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    fixture.shutdown.trigger();
}

#[tokio::test]
async fn messages_read_whole_and_kept_are_marked_seen_at_quit() {
    let fixture = start().await;
    for subject in ["one", "two", "three"] {
        fixture.deliver(format!("Subject: {subject}\r\n\r\nbody\r\n").as_bytes());
    }
    let mut client = Client::connect(&fixture.config(Security::ImplicitTls))
        .await
        .unwrap();
    client.login("alice", "wonderland").await.unwrap();
    let mut sink = Vec::new();
    client.retr(1, &mut sink).await.unwrap();
    client.top(2, 0).await.unwrap();
    client.retr(3, &mut sink).await.unwrap();
    client.dele(3).await.unwrap();
    client.quit().await.unwrap();
    let alice = AccountName::try_from("alice").unwrap();
    let snapshot = fixture
        .store
        .snapshot(&alice, &MailboxName::inbox())
        .unwrap();
    let seen: Vec<bool> = snapshot
        .messages
        .iter()
        .map(|message| message.flags.contains(&mailstore::Flag::Seen))
        .collect();
    assert_eq!(
        seen,
        [true, false],
        "RETR marks \\Seen, TOP does not; 3 was deleted"
    );
}

#[tokio::test]
async fn a_session_that_ends_without_quit_marks_nothing() {
    let fixture = start().await;
    fixture.deliver(b"Subject: one\r\n\r\nbody\r\n");
    let mut client = Client::connect(&fixture.config(Security::ImplicitTls))
        .await
        .unwrap();
    client.login("alice", "wonderland").await.unwrap();
    client.retr(1, &mut Vec::new()).await.unwrap();
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alice = AccountName::try_from("alice").unwrap();
    let snapshot = fixture
        .store
        .snapshot(&alice, &MailboxName::inbox())
        .unwrap();
    assert!(!snapshot.messages[0].flags.contains(&mailstore::Flag::Seen));
}

#[tokio::test]
async fn a_client_silent_after_stls_is_disconnected_after_the_handshake_timeout() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let mut config = Pop3ServerConfig::default();
    config.tls_handshake_timeout = Duration::from_millis(300);
    let fixture = start_with(config).await;
    let stream = tokio::net::TcpStream::connect(fixture.plain).await.unwrap();
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("+OK"), "greeting: {line:?}");
    stream.get_mut().write_all(b"STLS\r\n").await.unwrap();
    line.clear();
    stream.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("+OK"), "STLS answer: {line:?}");
    // Now nothing: no ClientHello. The server gives up on the handshake and closes.
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the connection was still open 5 s after STLS"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    fixture.shutdown.trigger();
}
