//! Submission interoperability: the real `mail-server` binary against SMTP clients nobody here
//! wrote — Python's standard `smtplib`, `swaks`, `msmtp` and `curl` — with the delivered bytes
//! checked in the store. A missing client skips its test locally with a note; when `CI=true`
//! a missing client fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{helper, require, Server, PASSWORD};

const SUBMISSION_SECTION: &str = "[submission]\n\
                                  enabled = true\n\
                                  listen = [\"127.0.0.1:0\"]\n\
                                  listen_tls = [\"127.0.0.1:0\"]\n\
                                  local_domains = [\"localhost\", \"example.org\"]\n";

const BOB_PASSWORD: &str = "bob's own password";

/// A server with submission on, and a second account `bob`.
fn server() -> Server {
    let mut server = Server::new(SUBMISSION_SECTION);
    server.admin(
        &["user", "add", "bob", "--password-stdin"],
        Some(BOB_PASSWORD),
    );
    server.start();
    server
}

/// Dot lines, a lone dot line, 8-bit octets, a long line: what stuffing and un-stuffing must
/// carry through unchanged.
fn message(subject: &str) -> Vec<u8> {
    let mut message = format!(
        "From: Alice <alice@localhost>\r\n\
         To: Bob <bob@example.org>\r\n\
         Subject: {subject}\r\n\
         Message-ID: <{}@localhost>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         .leading dot\r\n\
         ..two dots\r\n\
         .\r\n\
         after a lone dot\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes();
    message.extend_from_slice("caf\u{e9} \u{4e2d}\u{6587}\r\n".as_bytes());
    message.extend_from_slice(format!("{}\r\nlast line\r\n", "x".repeat(900)).as_bytes());
    message
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The delivered message: a `Received:` field of ours in front of exactly what was sent.
fn assert_delivered(stored: &[u8], sent: &[u8], protocol: &str) {
    let text = String::from_utf8_lossy(stored);
    assert!(
        text.starts_with("Received: from "),
        "a Received field first: {text:.300}"
    );
    assert!(
        text.contains(&format!("by localhost with {protocol} id ")),
        "{text:.300}"
    );
    assert!(
        stored.ends_with(sent),
        "the message arrives byte for byte after the trace field:\n{text}"
    );
}

fn smtplib(
    server: &Server,
    mode: &str,
    port: u16,
    to: &str,
    file: &Path,
    options: &[&str],
) -> Output {
    Command::new("python3")
        .arg(helper("smtp", "smtplib_client.py"))
        .args([mode, &port.to_string()])
        .arg(server.certificate())
        .args(["alice", PASSWORD, "alice@localhost", to])
        .arg(file)
        .args(options)
        .output()
        .unwrap()
}

#[test]
fn python_smtplib_submits_over_starttls_and_implicit_tls() {
    if !require("python3") {
        return;
    }
    let server = server();
    let scratch = server.scratch("smtplib");
    for (mode, implicit, protocol) in [("starttls", false, "ESMTPSA"), ("ssl", true, "ESMTPSA")] {
        let sent = message(&format!("smtplib {mode}"));
        let file = write_file(&scratch, &format!("{mode}.eml"), &sent);
        let output = smtplib(
            &server,
            mode,
            server.port("submission", implicit),
            "bob@example.org,alice@localhost,nobody@example.org",
            &file,
            &["BODY=8BITMIME"],
        );
        let report = text(&output);
        assert!(output.status.success(), "{report}");
        assert!(report.contains("refused: nobody@example.org\n"), "{report}");
        assert!(
            report.contains("PIPELINING") || report.contains("pipelining"),
            "{report}"
        );
        for account in ["bob", "alice"] {
            let stored = server.stored_in(account);
            let last = stored
                .last()
                .unwrap_or_else(|| panic!("nothing for {account}"));
            assert_delivered(last, &sent, protocol);
        }
    }
    assert_eq!(server.stored_in("bob").len(), 2);
}

#[test]
fn passwords_are_not_taken_before_tls() {
    if !require("python3") || !require("curl") {
        return;
    }
    let server = server();
    let scratch = server.scratch("plain");
    let file = write_file(&scratch, "m.eml", &message("plain"));
    let output = smtplib(
        &server,
        "plain-noauth",
        server.port("submission", false),
        "bob@example.org",
        &file,
        &[],
    );
    let report = text(&output);
    assert!(report.contains("auth offered in plain: False"), "{report}");
    assert!(report.contains("login: not supported"), "{report}");
    // curl without TLS: AUTH is not offered, so it cannot log in, and nothing is delivered.
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .arg(format!(
            "smtp://127.0.0.1:{}",
            server.port("submission", false)
        ))
        .args([
            "--mail-from",
            "alice@localhost",
            "--mail-rcpt",
            "bob@example.org",
        ])
        .args([
            "--user",
            &format!("alice:{PASSWORD}"),
            "--login-options",
            "AUTH=PLAIN",
        ])
        .arg("--upload-file")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", text(&output));
    assert!(server.stored_in("bob").is_empty());
}

#[test]
fn swaks_submits_with_auth_plain_and_login() {
    if !require("swaks") {
        return;
    }
    let server = server();
    let scratch = server.scratch("swaks");
    for (auth, tls_flag, implicit, pipeline) in [
        ("PLAIN", "--tls", false, true),
        ("LOGIN", "--tls-on-connect", true, false),
    ] {
        let sent = message(&format!("swaks {auth}"));
        // swaks puts CR LF before the final dot itself: give it the text without the last one.
        let file = write_file(&scratch, &format!("{auth}.eml"), &sent[..sent.len() - 2]);
        let mut command = Command::new("swaks");
        command
            .args(["--server", "127.0.0.1", "--port"])
            .arg(server.port("submission", implicit).to_string())
            .args([
                tls_flag,
                "--auth",
                auth,
                "--auth-user",
                "alice",
                "--auth-password",
                PASSWORD,
            ])
            .args(["--from", "alice@localhost", "--to", "bob@example.org"])
            .args(["--helo", "client.example", "--timeout", "20"])
            .arg("--data")
            .arg(format!("@{}", file.display()));
        if pipeline {
            command.arg("--pipeline");
        }
        let output = command.stdin(Stdio::null()).output().unwrap();
        let report = text(&output);
        assert!(output.status.success(), "{report}");
        assert!(
            report.contains("<~  235 2.7.0"),
            "authenticated over TLS: {report}"
        );
        let stored = server.stored_in("bob");
        assert_delivered(stored.last().unwrap(), &sent, "ESMTPSA");
    }
    // Wrong password: 535 5.7.8, nothing delivered.
    let before = server.stored_in("bob").len();
    let output = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port"])
        .arg(server.port("submission", false).to_string())
        .args([
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "wrong",
        ])
        .args([
            "--from",
            "alice@localhost",
            "--to",
            "bob@example.org",
            "--timeout",
            "20",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = text(&output);
    assert!(!output.status.success());
    assert!(report.contains("535 5.7.8"), "{report}");
    assert_eq!(server.stored_in("bob").len(), before);
}

#[test]
fn msmtp_submits_over_starttls() {
    if !require("msmtp") {
        return;
    }
    let server = server();
    let scratch = server.scratch("msmtp");
    let config = write_file(
        &scratch,
        "msmtprc",
        format!(
            "account default\n\
             host 127.0.0.1\n\
             port {}\n\
             tls on\n\
             tls_starttls on\n\
             tls_trust_file {}\n\
             tls_host_override localhost\n\
             auth on\n\
             user alice\n\
             password {PASSWORD}\n\
             from alice@localhost\n\
             domain client.example\n",
            server.port("submission", false),
            server.certificate().display()
        )
        .as_bytes(),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let sent = message("msmtp");
    let mut child = Command::new("msmtp")
        .arg("-C")
        .arg(&config)
        .arg("bob@example.org")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &sent).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stored = server.stored_in("bob");
    assert_delivered(stored.last().unwrap(), &sent, "ESMTPSA");
}

#[test]
fn curl_submits_with_ssl_reqd_and_over_smtps() {
    if !require("curl") {
        return;
    }
    let server = server();
    let scratch = server.scratch("curl");
    for (scheme, implicit) in [("smtp", false), ("smtps", true)] {
        let sent = message(&format!("curl {scheme}"));
        let file = write_file(&scratch, &format!("{scheme}.eml"), &sent);
        let port = server.port("submission", implicit);
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--ssl-reqd"])
            .arg("--cacert")
            .arg(server.certificate())
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .arg(format!("{scheme}://localhost:{port}/client.example"))
            .args([
                "--mail-from",
                "alice@localhost",
                "--mail-rcpt",
                "bob@example.org",
            ])
            .args(["--user", &format!("alice:{PASSWORD}")])
            .arg("--upload-file")
            .arg(&file)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        let stored = server.stored_in("bob");
        assert_delivered(stored.last().unwrap(), &sent, "ESMTPSA");
    }
}

#[test]
fn smtp_send_streams_a_file_over_both_tls_modes() {
    let server = server();
    let scratch = server.scratch("smtp-send");
    let password = write_file(&scratch, "password", format!("{PASSWORD}\n").as_bytes());
    for (security, implicit) in [("starttls", false), ("implicit", true)] {
        // Bare LF line ends in the file: smtp-send sends CR LF.
        let sent = message(&format!("smtp-send {security}"));
        let stored_form = sent.clone();
        let file_form: Vec<u8> = String::from_utf8(sent)
            .unwrap()
            .replace("\r\n", "\n")
            .into_bytes();
        let file = write_file(&scratch, &format!("{security}.eml"), &file_form);
        let output = Command::new(env!("CARGO_BIN_EXE_smtp-send"))
            .args([
                "--server",
                &format!("127.0.0.1:{}", server.port("submission", implicit)),
            ])
            .args(["--server-name", "localhost", "--security", security])
            .arg("--ca-file")
            .arg(server.certificate())
            .args(["--user", "alice", "--password-file"])
            .arg(&password)
            .args(["--from", "alice@localhost", "--to", "bob@example.org"])
            .args(["--to", "nobody@example.org", "--helo", "client.example"])
            .arg(&file)
            .output()
            .unwrap();
        let report = text(&output);
        assert!(output.status.success(), "{report}");
        assert!(report.contains("250 2.0.0 "), "{report}");
        assert!(
            report.contains("refused <nobody@example.org>: 550 5.1.1"),
            "{report}"
        );
        let stored = server.stored_in("bob");
        assert_delivered(stored.last().unwrap(), &stored_form, "ESMTPSA");
    }
}

#[test]
fn bad_input_gets_the_right_codes_and_delivers_nothing_half() {
    if !require("python3") {
        return;
    }
    let server = server();
    let scratch = server.scratch("raw");
    let auth = "AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2UgYmF0dGVyeSBzdGFwbGU=\r\n";
    let mut input = format!(
        "EHLO client.example\r\n{auth}\
         MAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n\
         Subject: smuggling\r\n\r\nfirst\n.\nMAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@example.org>\r\n\
         DATA\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n\
         MAIL FROM:<alice@localhost> SIZE=99999999999\r\n\
         MAIL FROM:<bob@example.org>\r\n\
         RCPT TO:<bob@example.org>\r\n\
         MAIL FROM:<alice@localhost>\r\nRCPT TO:<someone@elsewhere.example>\r\n\
         RCPT TO:<bob@example.org>\r\nDATA\r\nnul \0 here\r\n.\r\n"
    )
    .into_bytes();
    input.extend_from_slice(&vec![b'A'; 5000]);
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let file = write_file(&scratch, "input", &input);
    let output = Command::new("python3")
        .arg(helper("smtp", "raw_session.py"))
        .arg(server.port("submission", true).to_string())
        .arg(server.certificate())
        .arg(&file)
        .output()
        .unwrap();
    let replies = String::from_utf8_lossy(&output.stdout).into_owned();
    for expected in [
        "235 2.7.0 ",
        // LF.LF is not the end: the "smuggled" commands are body text, and the body (with its
        // bare line feeds) is refused as a whole at the real end.
        "554 5.6.0 message contains bare CR or LF",
        "552 5.3.4 ",
        "553 5.7.1 sender address does not belong",
        "503 5.5.1 need MAIL command first",
        "550 5.7.1 relay not permitted",
        "554 5.6.0 message contains NUL",
        "500 5.5.2 line too long",
        "221 2.0.0 ",
    ] {
        assert!(
            replies.contains(expected),
            "missing {expected:?} in:\n{replies}"
        );
    }
    assert!(
        server.stored_in("bob").is_empty(),
        "nothing was delivered: {replies}"
    );

    // A client that vanishes in the middle of DATA leaves nothing behind.
    let cut = format!(
        "EHLO client.example\r\n{auth}MAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@example.org>\r\n\
         DATA\r\nSubject: cut off\r\n\r\nhalf a mess"
    );
    let file = write_file(&scratch, "cut", cut.as_bytes());
    let output = Command::new("python3")
        .arg(helper("smtp", "raw_session.py"))
        .arg(server.port("submission", true).to_string())
        .arg(server.certificate())
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("354 "));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.stored_in("bob").is_empty());
    // The listener keeps serving others.
    if require("swaks") {
        let output = Command::new("swaks")
            .args(["--server", "127.0.0.1", "--port"])
            .arg(server.port("submission", false).to_string())
            .args([
                "--tls",
                "--auth",
                "PLAIN",
                "--auth-user",
                "bob",
                "--auth-password",
                BOB_PASSWORD,
            ])
            .args([
                "--from",
                "bob@example.org",
                "--to",
                "bob@example.org",
                "--timeout",
                "20",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(server.stored_in("bob").len(), 1);
    }
}
