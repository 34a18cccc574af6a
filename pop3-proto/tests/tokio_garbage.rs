//! 100 MB of garbage on one connection: one clear error, bounded memory, and the listener
//! keeps serving others. Alone in its test binary, so the process's memory is its own.
#![cfg(feature = "tokio")]

mod support;

use pop3_proto::tokio::Client;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
    let fixture = support::start().await;
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
    let other = Client::connect(&support::plain_config(fixture.address))
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
