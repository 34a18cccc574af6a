//! Bad input over real sockets: 100 MB of garbage, NUL bytes, a client that vanishes in the
//! middle of a large RETR, a server that stops in the middle of a message. Answers are clear
//! errors, memory stays bounded, the listener keeps serving others, and no mail is lost.
#![cfg(feature = "tokio")]

mod support;

use std::time::Duration;

use mailstore::{AccountName, MailStore, MailboxName};
use pop3_proto::client::ClientOptions;
use pop3_proto::tokio::{Client, ClientConfig, ClientError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_mid_retr_deletes_nothing_and_frees_the_maildrop() {
    let fixture = support::start().await;
    let alice = AccountName::try_from("alice").unwrap();
    let big: Vec<u8> = (0..300_000)
        .flat_map(|i| format!("line {i:08} of a big message\r\n").into_bytes())
        .collect();
    fixture.store.deliver(&alice, &mut &big[..]).unwrap();
    fixture
        .store
        .deliver(&alice, &mut &b"Subject: small\r\n\r\nx\r\n"[..])
        .unwrap();
    let mut raw = TcpStream::connect(fixture.address).await.unwrap();
    raw.write_all(b"USER alice\r\nPASS pw\r\nDELE 2\r\nRETR 1\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < 32 * 1024 {
        got += raw.read(&mut first[got..]).await.unwrap();
    }
    drop(raw); // vanishes in the middle of a ~9 MB message
    let mut client = Client::connect(&support::plain_config(fixture.address))
        .await
        .unwrap();
    let mut attempts = 0;
    loop {
        match client.login("alice", "pw").await {
            Ok(()) => break,
            Err(ClientError::Refused { .. }) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                client = Client::connect(&support::plain_config(fixture.address))
                    .await
                    .unwrap();
            }
            Err(error) => panic!("the maildrop was not released: {error}"),
        }
    }
    assert_eq!(
        client.stat().await.unwrap().0,
        2,
        "DELE without QUIT deleted nothing"
    );
    let mut body = Vec::new();
    client.retr(1, &mut body).await.unwrap();
    assert_eq!(body, big);
    client.quit().await.unwrap();
    assert_eq!(
        fixture
            .store
            .status(&alice, &MailboxName::inbox())
            .unwrap()
            .messages,
        2
    );
}

#[tokio::test]
async fn a_server_that_stops_mid_message_is_an_error_not_a_short_message() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"+OK fake\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let answer: &[u8] = match line.as_str() {
                "CAPA" => b"-ERR no CAPA here\r\n",
                "RETR 1" => b"+OK 100 octets\r\nSubject: cut\r\n\r\nhalf a bo",
                _ => b"+OK\r\n",
            };
            write.write_all(answer).await.unwrap();
            if line == "RETR 1" {
                break;
            }
        }
    });
    let mut client = Client::connect(&support::plain_config(address))
        .await
        .unwrap();
    client.login("alice", "pw").await.unwrap();
    let mut body = Vec::new();
    assert!(matches!(
        client.retr(1, &mut body).await,
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn a_silent_server_times_the_client_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let config = ClientConfig {
        options: ClientOptions {
            greeting_timeout: Duration::from_millis(200),
            ..ClientOptions::default()
        },
        ..support::plain_config(address)
    };
    let started = std::time::Instant::now();
    assert!(matches!(
        Client::connect(&config).await,
        Err(ClientError::TimedOut)
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}
