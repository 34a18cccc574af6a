//! What `mail-server` tells its smarthost about a relayed message: the identity it vouches
//! for in `AUTH=` (RFC 4954 section 5), never the one the client claimed. The smarthost is the
//! family's test mail server, which keeps every envelope it takes.

mod support;

use std::time::Duration;

use mail_test_server::TestMailServer;
use smtp_submit::tokio::{Client, ClientConfig, Envelope};
use smtp_submit::types::XText;
use support::{Server, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smarthost_hears_the_authenticated_submitter_not_the_claimed_one() {
    let smarthost = TestMailServer::builder()
        .user("relay", "relay-secret")
        .require_auth(true)
        .start()
        .await
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let password_file = scratch.path().join("smarthost-password");
    std::fs::write(&password_file, "relay-secret\n").unwrap();
    let section = format!(
        "[submission]\n\
         enabled = true\n\
         listen = [\"127.0.0.1:0\"]\n\
         listen_tls = [\"127.0.0.1:0\"]\n\
         local_domains = [\"localhost\"]\n\
         [submission.smarthost]\n\
         address = \"{}\"\n\
         security = \"plain\"\n\
         username = \"relay\"\n\
         password_file = {:?}\n",
        smarthost.smtp_address(),
        password_file.display().to_string()
    );
    let mut server = Server::new(&section);
    server.start();
    let tls = mail_session::tls::client_config_trusting(&server.certificate()).unwrap();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], server.port("submission", false)));
    let mut client = Client::connect(&ClientConfig::starttls(address, "localhost", tls))
        .await
        .unwrap();
    client.login("alice", PASSWORD).await.unwrap();
    let mut envelope = Envelope::new(
        "alice@localhost".parse().unwrap(),
        ["bob@remote.example".parse().unwrap()],
    );
    // The client claims someone else submitted it.
    envelope.parameters.auth = Some(Some(XText::encode(b"ceo@localhost").unwrap()));
    client
        .send(&envelope, b"Subject: relayed\r\n\r\nhello\r\n")
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", server.log()));
    let relayed = smarthost
        .wait_for(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(relayed[0].recipients(), ["bob@remote.example"]);
    assert_eq!(
        relayed[0].envelope.parameters.auth,
        Some(Some(XText::encode(b"alice@localhost").unwrap())),
        "the smarthost was told who really submitted it"
    );
}
