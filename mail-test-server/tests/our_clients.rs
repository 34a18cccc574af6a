//! The family's own clients against the test server, each in the few lines a user writes:
//! send with the SMTP client, read back with the POP3 client.

use std::time::Duration;

use mail_test_server::TestMailServer;
use pop3_proto::tokio::{Client as Pop3Client, ClientConfig as Pop3Config, ClientError};
use smtp_submit::tokio::{Client, ClientConfig, Envelope};

#[tokio::test]
async fn a_message_sent_with_the_client_arrives_and_is_read_back_over_pop3() {
    let server = TestMailServer::start().await.unwrap();
    server.add_user("bob", "builder");

    let mut client = Client::connect(&ClientConfig::plain(server.smtp_address()))
        .await
        .unwrap();
    let envelope = Envelope::new(
        "alice@example.org".parse().unwrap(),
        ["bob@localhost".parse().unwrap()],
    );
    let submitted = client
        .send(&envelope, b"Subject: plans\r\n\r\n.dot first\r\nend\r\n")
        .await
        .unwrap();
    assert_eq!(submitted.reply.code.get(), 250);
    client.quit().await.unwrap();

    let arrived = server.wait_for(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        arrived[0].raw,
        b"Subject: plans\r\n\r\n.dot first\r\nend\r\n"
    );

    let mut pop3 = Pop3Client::connect(&Pop3Config::plain(server.pop3_address()))
        .await
        .unwrap();
    let refused = pop3.login("bob", "wrong").await.unwrap_err();
    match &refused {
        ClientError::Refused { status, .. } => {
            assert_eq!(status.to_string(), "-ERR [AUTH] authentication failed")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        refused.to_string(),
        "server refused AUTH: -ERR [AUTH] authentication failed"
    );
    pop3.login("bob", "builder").await.unwrap();
    assert_eq!(pop3.stat().await.unwrap(), (1, arrived[0].raw.len() as u64));
    let mut fetched = Vec::new();
    pop3.retr(1, &mut fetched).await.unwrap();
    assert_eq!(fetched, arrived[0].raw);
    pop3.quit().await.unwrap();
}
