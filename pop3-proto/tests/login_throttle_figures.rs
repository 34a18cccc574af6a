//! Parallel wrong-password attempts from one address against the POP3 service: they take
//! turns, and the measurement of how long N of them take to be answered with the default
//! throttle (not run by default):
//! `cargo test -p pop3-proto --features tokio --release --test login_throttle_figures -- --ignored --nocapture`
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_session::listener::{LoginThrottle, Shutdown};
use mail_session::login_delay::LoginDelayPolicy;
use mailstore::{MemoryDirectory, MemoryStore};
use pop3_proto::tokio::{Pop3Server, Pop3ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One wrong-password attempt; the answer line and how long it took after PASS.
async fn guess(address: std::net::SocketAddr) -> Option<(String, Duration)> {
    let stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    stream.get_mut().write_all(b"USER alice\r\n").await.ok()?;
    line.clear();
    stream.read_line(&mut line).await.ok()?;
    let sent = Instant::now();
    stream.get_mut().write_all(b"PASS guess\r\n").await.ok()?;
    line.clear();
    stream.read_line(&mut line).await.ok()?;
    Some((line.trim_end().to_owned(), sent.elapsed()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, up to ~30 s"]
async fn parallel_wrong_passwords_from_one_address() {
    let store = Arc::new(MemoryStore::new());
    let directory = Arc::new(MemoryDirectory::new().with_user("alice", "secret").unwrap());
    let mut config = Pop3ServerConfig::default();
    config.session.allow_plaintext_auth = true;
    let server = Pop3Server::builder(store, directory).config(config).build();
    let shutdown = Shutdown::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.serve_plain(listener, shutdown.subscribe()));
    for n in [10usize] {
        let started = Instant::now();
        let guesses: Vec<_> = (0..n).map(|_| tokio::spawn(guess(address))).collect();
        let mut slowest = Duration::ZERO;
        let mut checked = 0;
        let mut refused = 0;
        for guess in guesses {
            if let Ok(Some((answer, took))) = guess.await {
                slowest = slowest.max(took);
                if !answer.starts_with("-ERR") {
                    panic!("unexpected answer {answer:?}");
                } else if answer.contains("SYS/TEMP") {
                    refused += 1;
                } else {
                    checked += 1;
                }
            }
        }
        println!(
            "{n} parallel wrong passwords: all answered in {:.1} s, slowest answer {:.1} s, \
             {checked} checked, {refused} refused as busy",
            started.elapsed().as_secs_f64(),
            slowest.as_secs_f64()
        );
    }
    shutdown.trigger();
}

#[tokio::test]
async fn parallel_wrong_passwords_take_turns_and_are_all_answered_soon() {
    let store = Arc::new(MemoryStore::new());
    let directory = Arc::new(MemoryDirectory::new().with_user("alice", "secret").unwrap());
    let mut config = Pop3ServerConfig::default();
    config.session.allow_plaintext_auth = true;
    let mut policy = LoginDelayPolicy::default();
    policy.initial = Duration::from_millis(100);
    policy.maximum = Duration::from_millis(200);
    let throttle = LoginThrottle::new(policy);
    let server = Pop3Server::builder(store, directory)
        .config(config)
        .throttle(throttle)
        .build();
    let shutdown = Shutdown::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.serve_plain(listener, shutdown.subscribe()));
    let guesses: Vec<_> = (0..6).map(|_| tokio::spawn(guess(address))).collect();
    let (mut checked, mut refused) = (0, 0);
    for guess in guesses {
        let (answer, took) = guess.await.unwrap().expect("an answer");
        assert!(answer.starts_with("-ERR"), "{answer}");
        assert!(took < Duration::from_secs(2), "an answer took {took:?}");
        if answer.contains("SYS/TEMP") {
            refused += 1;
        } else {
            checked += 1;
        }
    }
    // 100 ms, then 200 ms each: within the 200 ms an attempt may wait for its turn, only
    // the first two or three are checked; the others are refused as busy.
    assert!(
        (1..=3).contains(&checked),
        "{checked} checked, {refused} refused"
    );
    shutdown.trigger();
}
