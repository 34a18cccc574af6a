//! The embedding examples run as users run them, and real clients talk to them: curl reads
//! the embedded POP3 server's message, Python's smtplib sends to the SMTP sink. And the test
//! mail server used the way a downstream test uses it, in three lines.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mail_testkit::programs::require;

/// Starts an example binary on an ephemeral port and returns it with the address it printed.
fn start(binary: &str) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(binary)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("example starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let address = line
        .split_whitespace()
        .find(|word| word.starts_with("127.0.0.1:"))
        .map(|word| word.trim_end_matches(';').to_string())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, address, stdout)
}

#[test]
fn curl_reads_the_message_of_the_embedded_pop3_server() {
    let Some(curl) = require("curl") else { return };
    let (mut server, address, _stdout) = start(env!("CARGO_BIN_EXE_embed-pop3"));
    let output = Command::new(curl)
        .args(["-s", "--max-time", "10", "-u", "alice:wonderland"])
        .arg(format!("pop3://{address}/1"))
        .output()
        .unwrap();
    let _ = server.kill();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(text.contains("Subject: welcome"), "{text}");
    assert!(text.contains("Hello Alice"), "{text}");
}

#[test]
fn smtplib_sends_to_the_sink_with_its_own_router() {
    if require("python3").is_none() {
        return;
    }
    let (mut server, address, mut stdout) = start(env!("CARGO_BIN_EXE_smtp-sink"));
    let port = address.rsplit(':').next().unwrap().to_string();
    let sent = Command::new("python3")
        .arg("-c")
        .arg(
            "import smtplib,sys\n\
             s=smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)\n\
             s.sendmail('alice@example.org', ['bob@example.net'], 'Subject: sink test\\r\\n\\r\\nhi\\r\\n')\n\
             s.quit()",
        )
        .arg(&port)
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let mut printed = String::new();
    stdout.read_line(&mut printed).unwrap();
    let _ = server.kill();
    assert!(
        printed.contains("from <alice@example.org> to <bob@example.net>"),
        "{printed}"
    );
    assert!(printed.contains("\"sink test\""), "{printed}");
}

#[tokio::test]
async fn the_test_mail_server_in_a_test() {
    let server = mail_test_server::TestMailServer::start().await.unwrap();
    let mut client = smtp_submit::tokio::Client::connect(&smtp_submit::tokio::ClientConfig::plain(
        server.smtp_address(),
    ))
    .await
    .unwrap();
    let envelope = smtp_submit::tokio::Envelope::new(
        "app@example.org".parse().unwrap(),
        ["user@example.net".parse().unwrap()],
    );
    client
        .send(&envelope, b"Subject: your receipt\r\n\r\nThanks!\r\n")
        .await
        .unwrap();
    let received = server.wait_for(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        received[0].header("Subject").as_deref(),
        Some("your receipt")
    );
}
