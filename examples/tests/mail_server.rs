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

/// A `mail-server` run with its stdout read line by line (on a thread, so it never blocks)
/// and its stderr (the log) in a file; killed when dropped.
struct Run {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    log: std::path::PathBuf,
}

impl Run {
    fn start(config: &Path, dir: &Path) -> Run {
        let log = dir.join("server.log");
        let mut child = Command::new(BINARY)
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = sender.send(line);
            }
        });
        Run { child, lines, log }
    }

    /// The printed lines up to and including the first that starts with `prefix`.
    fn lines_until(&self, prefix: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    let done = line.starts_with(prefix);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "no line starting {prefix:?} in {seen:#?}; log:\n{}",
                    self.log()
                ),
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn user_import_adds_many_accounts_at_once_and_a_bad_line_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    // A hash made elsewhere (here: by another users file).
    let elsewhere = mailstore::UsersFile::open(dir.path().join("elsewhere")).unwrap();
    elsewhere
        .add_user("x", "hashed elsewhere", mailstore::AccessPolicy::default())
        .unwrap();
    let hash = std::fs::read_to_string(dir.path().join("elsewhere"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("x:"))
        .and_then(|rest| rest.split(':').next())
        .unwrap()
        .to_string();
    let file = dir.path().join("accounts.txt");
    std::fs::write(
        &file,
        format!("# new office\nalice:first: password\n\nbob:{hash}\n"),
    )
    .unwrap();
    let imported = stdout_of(&mail_server(
        &config,
        &["user", "import", file.to_str().unwrap()],
        None,
    ));
    assert!(imported.contains("imported 2 accounts"), "{imported}");
    let from_stdin = stdout_of(&mail_server(
        &config,
        &["user", "import"],
        Some("carol:third\r\n"),
    ));
    assert!(from_stdin.contains("imported 1 account "), "{from_stdin}");
    let users = mailstore::UsersFile::open(dir.path().join("data/users")).unwrap();
    use mailstore::{Directory, Protocol};
    for (name, password) in [
        ("alice", "first: password"),
        ("bob", "hashed elsewhere"),
        ("carol", "third"),
    ] {
        assert!(
            users.authenticate(name, password, Protocol::Pop3).is_ok(),
            "{name}"
        );
    }
    let before = std::fs::read_to_string(dir.path().join("data/users")).unwrap();
    for (input, line) in [
        ("dave:pw\nerin\n", "line 2"),
        ("dave:pw\nalice:again\n", "line 2"),
    ] {
        let refused = mail_server(&config, &["user", "import", "-"], Some(input));
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(line), "{input:?}: {stderr}");
        assert!(stderr.contains("nothing imported"), "{stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/users")).unwrap(),
        before,
        "a bad line imports nothing"
    );
}

#[test]
fn user_help_documents_the_users_file_and_the_import_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let help = stdout_of(&mail_server(&config, &["user", "--help"], None));
    for needed in [
        "name:argon2-hash:access",
        "pop3,imap,submission",
        "admin",
        "<data_dir>/maildir/<name>/",
        "name:password",
        "name:$argon2id$",
        "import",
    ] {
        assert!(help.contains(needed), "{needed:?} not in:\n{help}");
    }
    // The example configuration sends the reader there.
    let example = include_str!("../mail-server.example.toml");
    assert!(example.contains("see `mail-server user --help`"));
}

#[test]
fn a_port_in_use_stops_the_start_before_any_file_is_written() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "demo_account = true\n[pop3]\nenabled = true\nlisten = [\"127.0.0.1:{port}\"]\n\
             listen_tls = [\"127.0.0.1:0\"]\n"
        ),
    );
    let output = mail_server(&config, &[], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    let data = dir.path().join("data");
    assert!(
        !data.join("tls/cert.pem").exists() && !data.join("tls/key.pem").exists(),
        "no certificate written before the listeners were bound"
    );
    assert!(!data.exists(), "nothing written at all");
}

#[test]
fn start_up_warns_when_nothing_is_served_nobody_has_an_account_and_there_is_no_tls() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[tls]\nself_signed = false\n");
    let run = Run::start(&config, dir.path());
    let summary = run.lines_until("WARNING: no TLS");
    let data = dir.path().join("data");
    for (prefix, path) in [
        ("data folder: ", data.clone()),
        ("maildir: ", data.join("maildir")),
        ("users file: ", data.join("users")),
    ] {
        let expected = format!("{prefix}{}", path.display());
        assert!(
            summary.iter().any(|line| line.starts_with(&expected)),
            "{expected:?} in {summary:#?}"
        );
    }
    assert!(summary.contains(&"certificate: none (no TLS)".to_string()));
    for warning in [
        "WARNING: no protocol is enabled",
        "WARNING: the users file",
        "WARNING: no TLS",
    ] {
        assert!(
            summary.iter().any(|line| line.starts_with(warning)),
            "{warning:?} in {summary:#?}"
        );
    }
    assert!(summary
        .iter()
        .any(|line| line.contains("nobody can log in") && line.contains("no TLS")));
    // The same, logged as warnings.
    let deadline = Instant::now() + Duration::from_secs(10);
    while run.log().matches("WARN").count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = run.log();
    assert_eq!(log.matches(" WARN ").count(), 3, "{log}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for folder in [data.clone(), data.join("maildir")] {
            let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", folder.display());
        }
    }
}

/// A TLS 1.3 ClientHello whose server name is the IP address 127.0.0.1, as fetchmail and
/// mpop send.
fn client_hello_with_an_ip_address_as_server_name() -> Vec<u8> {
    fn extension(into: &mut Vec<u8>, kind: u16, body: &[u8]) {
        into.extend(kind.to_be_bytes());
        into.extend((body.len() as u16).to_be_bytes());
        into.extend(body);
    }
    let name = b"127.0.0.1";
    let mut server_name = Vec::new();
    server_name.extend((name.len() as u16 + 3).to_be_bytes());
    server_name.push(0);
    server_name.extend((name.len() as u16).to_be_bytes());
    server_name.extend(name);
    let mut extensions = Vec::new();
    extension(&mut extensions, 0x0000, &server_name);
    extension(&mut extensions, 0x000a, &[0, 2, 0, 0x1d]);
    extension(&mut extensions, 0x000d, &[0, 4, 0x08, 0x04, 0x04, 0x03]);
    extension(&mut extensions, 0x002b, &[2, 3, 4]);
    let mut key_share = vec![0, 36, 0, 0x1d, 0, 32];
    key_share.extend([9u8; 32]);
    extension(&mut extensions, 0x0033, &key_share);
    let mut hello = vec![3, 3];
    hello.extend([1u8; 32]);
    hello.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    hello.extend((extensions.len() as u16).to_be_bytes());
    hello.extend(extensions);
    let mut handshake = vec![1];
    handshake.extend(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend(hello);
    let mut record = vec![0x16, 3, 1];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[test]
fn the_log_is_plain_text_and_quiet_about_an_ip_address_as_tls_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[pop3]\nenabled = true\nlisten = []\nlisten_tls = [\"127.0.0.1:0\"]\n",
    );
    let run = Run::start(&config, dir.path());
    let summary = run.lines_until("certificate:");
    let address: std::net::SocketAddr = summary
        .iter()
        .find_map(|line| line.strip_prefix("POP3: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no POP3 listener in {summary:#?}"));
    let mut tcp = std::net::TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(&client_hello_with_an_ip_address_as_server_name())
        .unwrap();
    let mut answer = [0u8; 1];
    let answered = std::io::Read::read(&mut tcp, &mut answer).unwrap_or(0);
    assert_eq!(
        answer[0], 0x16,
        "rustls answered the hello ({answered} octets)"
    );
    drop(tcp);
    std::thread::sleep(Duration::from_millis(200));
    let log = run.log();
    assert!(log.contains("POP3 listening"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no terminal escape codes in a log that is a file:\n{log:?}"
    );
    assert!(!log.contains("Illegal SNI"), "{log}");
}

/// In demo mode the server prints, per protocol, a curl command that works as it is: the
/// test runs exactly those commands (submission sends the demo account a message, POP3
/// lists it), over implicit TLS for submission and STLS for POP3.
#[test]
fn the_printed_demo_curl_commands_work() {
    let Some(_) = mail_testkit::programs::require("curl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "demo_account = true\n\
         [limits]\nfailed_login_initial_delay_ms = 100\n\
         [pop3]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = []\n\
         [submission]\nenabled = true\nlisten = []\nlisten_tls = [\"127.0.0.1:0\"]\n",
    );
    let run = Run::start(&config, dir.path());
    let summary = run.lines_until("try submission: ");
    let command = |protocol: &str| {
        summary
            .iter()
            .find_map(|line| line.strip_prefix(&format!("try {protocol}: ")))
            .unwrap_or_else(|| panic!("no {protocol} command in {summary:#?}"))
            .to_string()
    };
    let (pop3, submission) = (command("POP3"), command("submission"));
    let certificate = dir.path().join("data/tls/cert.pem");
    for printed in [&pop3, &submission] {
        assert!(printed.contains(&format!("--cacert '{}'", certificate.display())));
    }
    assert!(pop3.contains("--ssl-reqd pop3://127.0.0.1:"), "{pop3}");
    assert!(submission.contains("smtps://127.0.0.1:"), "{submission}");
    let shell = |command: &str| {
        let output = Command::new("sh").arg("-c").arg(command).output().unwrap();
        assert!(
            output.status.success(),
            "{command}\nfailed: {}\n{}\nserver log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            run.log()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    shell(&submission);
    let listing = shell(&pop3);
    assert!(
        listing.lines().any(|line| line.starts_with("1 ")),
        "the message sent is listed: {listing:?}"
    );
}
