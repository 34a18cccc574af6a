//! SASL PLAIN's authorization identity over the wire (RFC 4616 section 2): alice's password
//! with `bob` as the identity to act as is refused by both protocols; alice acting as
//! herself, or giving none, logs in.

use base64::Engine;
use mail_test_server::TestMailServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn plain(authzid: &str, user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{authzid}\0{user}\0{password}"))
}

/// Sends `line` and returns the server's final reply line.
async fn ask(connection: &mut BufReader<TcpStream>, line: &str, smtp: bool) -> String {
    connection
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    loop {
        let mut reply = String::new();
        connection.read_line(&mut reply).await.unwrap();
        // SMTP multi-line replies continue with "250-".
        if !(smtp && reply.as_bytes().get(3) == Some(&b'-')) {
            return reply;
        }
    }
}

#[tokio::test]
async fn an_authorization_identity_other_than_oneself_is_refused() {
    let server = TestMailServer::start().await.unwrap();
    server.add_user("alice", "secret");
    server.add_user("bob", "other");

    let mut smtp = BufReader::new(TcpStream::connect(server.smtp_address()).await.unwrap());
    let mut greeting = String::new();
    smtp.read_line(&mut greeting).await.unwrap();
    assert!(ask(&mut smtp, "EHLO client.example", true)
        .await
        .starts_with("250 "));
    let as_bob = ask(
        &mut smtp,
        &format!("AUTH PLAIN {}", plain("bob", "alice", "secret")),
        true,
    )
    .await;
    assert!(as_bob.starts_with("535 5.7.8 "), "{as_bob}");
    let as_herself = ask(
        &mut smtp,
        &format!("AUTH PLAIN {}", plain("alice", "alice", "secret")),
        true,
    )
    .await;
    assert!(as_herself.starts_with("235 "), "{as_herself}");

    let mut pop3 = BufReader::new(TcpStream::connect(server.pop3_address()).await.unwrap());
    let mut greeting = String::new();
    pop3.read_line(&mut greeting).await.unwrap();
    let as_bob = ask(
        &mut pop3,
        &format!("AUTH PLAIN {}", plain("bob", "alice", "secret")),
        false,
    )
    .await;
    assert!(as_bob.starts_with("-ERR [AUTH] "), "{as_bob}");
    let without = ask(
        &mut pop3,
        &format!("AUTH PLAIN {}", plain("", "alice", "secret")),
        false,
    )
    .await;
    assert!(without.starts_with("+OK "), "{without}");
}
