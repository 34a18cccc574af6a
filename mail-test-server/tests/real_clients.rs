//! The test server as a downstream test uses it: Python's smtplib (a client nobody here
//! wrote) sends, the test asserts on what arrived, and reads it back over POP3 with poplib.

use std::process::Command;
use std::time::Duration;

use mail_test_server::TestMailServer;
use mail_testkit::programs::require;

fn python(script: &str, args: &[String]) -> std::process::Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs")
}

const SEND: &str = r#"
import smtplib, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
message = "From: carol@example.net\r\nTo: alice@localhost\r\nSubject: Hello from smtplib\r\n\r\n.leading dot\r\nbye\r\n"
with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
    smtp.ehlo("client.example")
    if user:
        smtp.login(user, password)
    refused = smtp.sendmail("carol@example.net", ["alice@localhost", "dave@elsewhere.test"], message)
    assert refused == {}, refused
"#;

const READ: &str = r#"
import poplib, sys
pop = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
pop.user(sys.argv[2]); pop.pass_(sys.argv[3])
count, _ = pop.stat()
response, lines, octets = pop.retr(count)
sys.stdout.write("\n".join(line.decode() for line in lines))
pop.quit()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_sends_and_the_test_sees_what_arrived() {
    if require("python3").is_none() {
        return;
    }
    let server = TestMailServer::start().await.unwrap();
    server.add_user("alice", "secret");
    let port = server.smtp_address().port().to_string();
    let sent =
        tokio::task::spawn_blocking(move || python(SEND, &[port, String::new(), String::new()]))
            .await
            .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );

    let messages = server.wait_for(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.sender(), "carol@example.net");
    assert_eq!(
        message.recipients(),
        ["alice@localhost", "dave@elsewhere.test"]
    );
    assert_eq!(
        message.header("subject").as_deref(),
        Some("Hello from smtplib")
    );
    assert_eq!(
        message.body(),
        b".leading dot\r\nbye\r\n",
        "dot-stuffing undone"
    );
    assert!(message.envelope.esmtp);
    assert_eq!(message.envelope.authenticated_as, None);

    let inbox = server.inbox("alice");
    assert_eq!(
        inbox,
        vec![message.raw.clone()],
        "alice's copy is the same octets"
    );
    assert!(
        server.inbox("dave").is_empty(),
        "dave is not an account here"
    );

    let port = server.pop3_address().port().to_string();
    let read = tokio::task::spawn_blocking(move || {
        python(READ, &[port, "alice@localhost".into(), "secret".into()])
    })
    .await
    .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(text.contains("Subject: Hello from smtplib"), "{text}");
    assert!(text.contains(".leading dot"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_be_required_and_unknown_recipients_refused() {
    if require("python3").is_none() {
        return;
    }
    let server = TestMailServer::builder()
        .user("alice", "secret")
        .require_auth(true)
        .accept_any_recipient(false)
        .start()
        .await
        .unwrap();
    let port = server.smtp_address().port().to_string();
    let anonymous = {
        let port = port.clone();
        tokio::task::spawn_blocking(move || python(SEND, &[port, String::new(), String::new()]))
            .await
            .unwrap()
    };
    assert!(!anonymous.status.success(), "sent without AUTH");
    let stderr = String::from_utf8_lossy(&anonymous.stderr);
    assert!(stderr.contains("530"), "{stderr}");

    let logged_in =
        tokio::task::spawn_blocking(move || python(SEND, &[port, "alice".into(), "secret".into()]))
            .await
            .unwrap();
    let stderr = String::from_utf8_lossy(&logged_in.stderr);
    assert!(
        !logged_in.status.success(),
        "dave@elsewhere.test should be refused"
    );
    assert!(stderr.contains("dave@elsewhere.test"), "{stderr}");
    let messages = server.wait_for(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(messages[0].recipients(), ["alice@localhost"]);
    assert_eq!(
        messages[0].envelope.authenticated_as.as_deref(),
        Some("alice")
    );
    assert!(
        server
            .wait_for(2, Duration::from_millis(200))
            .await
            .is_err(),
        "only one message arrived"
    );
}
