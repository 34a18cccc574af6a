//! 100 MB of garbage on one connection: one clear error, bounded memory, and the listener
//! keeps serving others. Alone in its test binary, so the process's memory is its own.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use mail_session::listener::{LoginThrottle, Shutdown};
use mail_session::login_delay::LoginDelayPolicy;
use mail_session::tls;
use mailstore::{AccessPolicy, MemoryStore, UsersFile};
use pop3_proto::client::ClientOptions;
use pop3_proto::server::Options;
use pop3_proto::tokio::{Client, ClientConfig, Pop3Server, Pop3ServerConfig, Security};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Fixture {
    _dir: tempfile::TempDir,
    address: std::net::SocketAddr,
    _shutdown: Shutdown,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    tls::ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
    let users = Arc::new(UsersFile::open(dir.path().join("users")).unwrap());
    users
        .add_user("alice", "pw", AccessPolicy::default())
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let server = Pop3Server::new(
        store.clone(),
        users,
        LoginThrottle::new(LoginDelayPolicy::default()),
        Some(tls::server_config(&cert, &key).unwrap()),
        Pop3ServerConfig {
            session: Options {
                allow_plaintext_auth: true,
                ..Options::default()
            },
            ..Pop3ServerConfig::default()
        },
    );
    let shutdown = Shutdown::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.serve_plain(listener, shutdown.subscribe()));
    Fixture {
        _dir: dir,
        address,
        _shutdown: shutdown,
    }
}

fn plain_config(address: std::net::SocketAddr) -> ClientConfig {
    ClientConfig {
        address,
        server_name: "localhost".into(),
        security: Security::Plain,
        tls: None,
        options: ClientOptions::default(),
        connect_timeout: Duration::from_secs(5),
    }
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_megabytes_of_garbage_gets_one_error_and_bounded_memory() {
    let fixture = start().await;
    let mut attacker = TcpStream::connect(fixture.address).await.unwrap();
    let (read, mut write) = attacker.split();
    let mut lines = BufReader::new(read).lines();
    assert!(lines.next_line().await.unwrap().unwrap().starts_with("+OK"));
    let before = resident_kib();
    let garbage = vec![b'G'; 1024 * 1024];
    for _ in 0..100 {
        write.write_all(&garbage).await.unwrap();
    }
    // While that line is being discarded, another client is served normally. (No login here:
    // a password check allocates argon2's 19 MiB, which would blur what this test measures.)
    let other = Client::connect(&plain_config(fixture.address))
        .await
        .unwrap();
    assert!(
        !other.capabilities().is_empty(),
        "greeting and CAPA answered"
    );
    other.quit().await.unwrap();
    write
        .write_all(b"\r\nNOOP\r\n\0\0\0\r\nQUIT\r\n")
        .await
        .unwrap();
    assert_eq!(
        lines.next_line().await.unwrap().unwrap(),
        "-ERR line too long"
    );
    assert_eq!(
        lines.next_line().await.unwrap().unwrap(),
        "-ERR NOOP is not valid before login"
    );
    assert_eq!(
        lines.next_line().await.unwrap().unwrap(),
        "-ERR unknown command"
    );
    assert_eq!(
        lines.next_line().await.unwrap().unwrap(),
        "+OK POP3 server signing off"
    );
    let grown = resident_kib().saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "100 MB of garbage grew the process by {grown} KiB"
    );
}
