//! The operator's interface of `mail-server`, driven as an operator would: the real binary,
//! a config file, the `user` commands, start-up on a fresh data folder, and SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_mail-server");

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("mail-server.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = {:?}\n{extra}",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    path
}

fn mail_server(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn user_commands_manage_the_users_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    stdout_of(&mail_server(
        &config,
        &["user", "add", "alice", "--password-stdin"],
        Some("s3cret pass\n"),
    ));
    let generated = stdout_of(&mail_server(&config, &["user", "add", "bob"], None));
    assert!(
        generated.contains("password: "),
        "a generated password is printed: {generated}"
    );
    stdout_of(&mail_server(
        &config,
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some("x\n"),
    ));

    let list = stdout_of(&mail_server(&config, &["user", "list"], None));
    assert!(
        list.contains("alice: pop3=on imap=on submission=on"),
        "{list}"
    );
    assert!(
        list.contains("root: pop3=on imap=on submission=on admin"),
        "{list}"
    );

    let set = stdout_of(&mail_server(
        &config,
        &[
            "user",
            "set",
            "alice",
            "--pop3",
            "off",
            "--submission",
            "off",
        ],
        None,
    ));
    assert!(
        set.contains("alice: pop3=off imap=on submission=off"),
        "{set}"
    );
    let list = stdout_of(&mail_server(&config, &["user", "list"], None));
    assert!(
        list.contains("alice: pop3=off imap=on submission=off"),
        "{list}"
    );

    // The users file holds hashes, never the password.
    let users = std::fs::read_to_string(dir.path().join("data/users")).unwrap();
    assert!(users.contains("alice:$argon2id$"));
    assert!(!users.contains("s3cret"));
    let directory = mailstore::UsersFile::open(dir.path().join("data/users")).unwrap();
    use mailstore::{Directory, Protocol};
    assert!(directory
        .authenticate("alice", "s3cret pass", Protocol::Imap)
        .is_ok());
    assert!(directory
        .authenticate("alice", "s3cret pass", Protocol::Pop3)
        .is_err());

    stdout_of(&mail_server(
        &config,
        &["user", "passwd", "alice", "--password-stdin"],
        Some("new one\n"),
    ));
    assert!(directory
        .authenticate("alice", "new one", Protocol::Imap)
        .is_ok());

    stdout_of(&mail_server(&config, &["user", "remove", "bob"], None));
    let list = stdout_of(&mail_server(&config, &["user", "list"], None));
    assert!(!list.contains("bob"), "{list}");

    for refused in [
        mail_server(
            &config,
            &["user", "add", "guest", "--password-stdin"],
            Some("pw\n"),
        ),
        mail_server(
            &config,
            &["user", "add", "../evil", "--password-stdin"],
            Some("pw\n"),
        ),
        mail_server(
            &config,
            &["user", "add", "alice", "--password-stdin"],
            Some("pw\n"),
        ),
        mail_server(&config, &["user", "remove", "nobody"], None),
    ] {
        assert!(!refused.status.success());
        assert!(!refused.stderr.is_empty(), "a refusal says why");
    }
}

#[test]
fn a_bad_config_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[imap]\nenabeld = true\n");
    let output = mail_server(&config, &[], None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("enabeld"), "{stderr}");
}

#[test]
fn first_start_prepares_everything_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "demo_account = true\n[imap]\nenabled = true\n");
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut summary = Vec::new();
    let mut password = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("demo account: user demo, password ") {
            password = Some(rest.to_string());
            summary.push(line);
            break;
        }
        summary.push(line);
    }
    let password = password.unwrap_or_else(|| panic!("no demo credentials printed: {summary:?}"));
    assert!(
        summary.iter().any(|line| line == "POP3: off"),
        "{summary:?}"
    );
    let data = dir.path().join("data");
    assert!(data.join("tls/cert.pem").is_file() && data.join("tls/key.pem").is_file());
    assert!(
        data.join("maildir/demo/cur").is_dir(),
        "the demo account's Maildir exists"
    );
    let users = mailstore::UsersFile::open(data.join("users")).unwrap();
    use mailstore::Directory;
    assert!(users
        .authenticate("demo", &password, mailstore::Protocol::Imap)
        .is_ok());

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");

    // A second start keeps the certificate and prints the same demo password.
    let certificate = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let again = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("demo account:"))
        .unwrap();
    assert!(again.ends_with(&password));
    assert_eq!(
        std::fs::read(data.join("tls/cert.pem")).unwrap(),
        certificate
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
