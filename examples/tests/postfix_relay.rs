//! Postfix as a peer: our SMTP client submitting to Postfix, and the real `mail-server`
//! relaying to Postfix as its smarthost (`250` only after Postfix took the message). Postfix
//! runs as a private instance started by the test; missing, it skips locally and fails in CI.

mod support;

use std::time::Duration;

use mail_testkit::postfix::Postfix;
use smtp_submit::client::ClientOptions;
use smtp_submit::server::Recipient;
use smtp_submit::tokio::{Client, ClientConfig, ClientError, Envelope, Security};
use smtp_submit::types::{
    BodyType, Domain, Extension, ForwardPath, MailParameters, Mailbox, RcptParameters, ReversePath,
};
use support::{start_postfix, Server, PASSWORD};

fn message(subject: &str) -> Vec<u8> {
    let mut message = format!(
        "From: Alice <alice@localhost>\r\nTo: Bob <bob@remote.example>\r\nSubject: {subject}\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}@localhost>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes();
    message.extend_from_slice("caf\u{e9} \u{4e2d}\u{6587}\r\n".as_bytes());
    for line in 0..200 {
        message
            .extend_from_slice(format!("line {line} of a message over 1000 octets\r\n").as_bytes());
    }
    message
}

/// Postfix's Maildir delivery stores lines with LF alone: the form to compare with.
fn stored_form(sent: &[u8]) -> Vec<u8> {
    String::from_utf8(sent.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes()
}

fn client_config(port: u16, certificate: &std::path::Path) -> ClientConfig {
    ClientConfig {
        address: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        server_name: "localhost".into(),
        security: Security::StartTls,
        tls: Some(mail_session::tls::client_config_trusting(certificate).unwrap()),
        helo_name: Domain::name("client.example").unwrap(),
        options: ClientOptions::default(),
        connect_timeout: Duration::from_secs(10),
    }
}

fn envelope(from: &str, to: &str, body: Option<BodyType>) -> Envelope {
    Envelope {
        from: ReversePath::Mailbox(Mailbox::try_from(from).unwrap()),
        parameters: MailParameters {
            body,
            ..MailParameters::default()
        },
        recipients: vec![Recipient {
            to: ForwardPath::Mailbox(Mailbox::try_from(to).unwrap()),
            parameters: RcptParameters::default(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_submits_to_postfix() {
    let Some(postfix) = start_postfix() else {
        return;
    };
    let mut client = Client::connect(&client_config(postfix.port(), &postfix.certificate()))
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", postfix.log()));
    assert!(client.is_tls());
    // Postfix offers PIPELINING and CHUNKING: the client pipelines MAIL/RCPT and sends BDAT.
    assert!(client.extensions().contains(&Extension::Pipelining));
    assert!(client.extensions().contains(&Extension::Chunking));
    let sent = message("to postfix");
    let submitted = client
        .send_message(
            &envelope(
                "alice@localhost",
                "bob@remote.example",
                Some(BodyType::EightBitMime),
            ),
            Some(sent.len() as u64),
            &mut &sent[..],
        )
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", postfix.log()));
    assert_eq!(submitted.reply.code.get(), 250, "{}", submitted.reply);
    client.quit().await.unwrap();
    let delivered = postfix.delivered("bob", 1);
    assert_eq!(delivered.len(), 1, "{}", postfix.log());
    assert!(
        delivered[0].ends_with(&stored_form(&sent)),
        "delivered byte for byte after Postfix's header lines:\n{}",
        String::from_utf8_lossy(&delivered[0])
    );
    assert!(
        postfix.log().contains("bdat="),
        "BDAT was used: {}",
        postfix.log()
    );
}

/// A running `mail-server` whose submission relays through `postfix` over STARTTLS.
fn mail_server_relaying_through(postfix: &Postfix) -> Server {
    let section = format!(
        "[submission]\n\
         enabled = true\n\
         listen = [\"127.0.0.1:0\"]\n\
         listen_tls = [\"127.0.0.1:0\"]\n\
         local_domains = [\"localhost\"]\n\
         [submission.smarthost]\n\
         address = \"127.0.0.1:{}\"\n\
         security = \"starttls\"\n\
         server_name = \"localhost\"\n\
         ca_file = {:?}\n",
        postfix.port(),
        postfix.certificate().display().to_string()
    );
    let mut server = Server::new(&section);
    server.start();
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_relays_through_postfix_and_answers_250_only_after_it() {
    let Some(postfix) = start_postfix() else {
        return;
    };
    let server = mail_server_relaying_through(&postfix);
    let config = client_config(server.port("submission", false), &server.certificate());
    let mut client = Client::connect(&config).await.unwrap();
    client.login("alice", PASSWORD).await.unwrap();
    let sent = message("relayed");
    let submitted = client
        .send_message(
            &envelope(
                "alice@localhost",
                "bob@remote.example",
                Some(BodyType::EightBitMime),
            ),
            None,
            &mut &sent[..],
        )
        .await
        .unwrap_or_else(|error| {
            panic!(
                "{error}\nserver:\n{}\npostfix:\n{}",
                server.log(),
                postfix.log()
            )
        });
    assert_eq!(submitted.reply.code.get(), 250);
    let delivered = postfix.delivered("bob", 1);
    assert_eq!(delivered.len(), 1, "{}", postfix.log());
    let text = String::from_utf8_lossy(&delivered[0]).into_owned();
    assert!(delivered[0].ends_with(&stored_form(&sent)), "{text}");
    assert!(
        text.contains("by localhost with ESMTPSA id "),
        "our Received field travels with it: {text}"
    );
    assert!(
        text.contains("by postfix.test (Postfix) with ESMTPS"),
        "{text}"
    );

    // Postfix refuses an unknown user at RCPT: the client must not get 250.
    let error = client
        .send_message(
            &envelope("alice@localhost", "nobody@remote.example", None),
            None,
            &mut &b"Subject: nobody\r\n\r\nx\r\n"[..],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { reply, .. } if reply.code.get() == 554 && reply.text().contains("550")),
        "{error}"
    );
    client.quit().await.unwrap();
    assert_eq!(postfix.delivered("bob", 1).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binarymime_message_is_refused_rather_than_altered_for_a_smarthost_without_it() {
    let Some(postfix) = start_postfix() else {
        return;
    };
    let server = mail_server_relaying_through(&postfix);
    let config = client_config(server.port("submission", false), &server.certificate());
    let mut client = Client::connect(&config).await.unwrap();
    assert!(client.extensions().contains(&Extension::BinaryMime));
    client.login("alice", PASSWORD).await.unwrap();
    let binary =
        b"Subject: binary\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\r\x02\n".to_vec();
    let error = client
        .send_message(
            &envelope(
                "alice@localhost",
                "bob@remote.example",
                Some(BodyType::BinaryMime),
            ),
            None,
            &mut &binary[..],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { reply, .. } if reply.code.get() == 554 && reply.enhanced.unwrap().to_string() == "5.6.3"),
        "{error}"
    );
    assert_eq!(postfix.delivered_count("bob"), 0, "Postfix got nothing");
}
