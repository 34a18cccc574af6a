//! The real `mail-server` binary on free loopback ports, the checks every interoperability
//! test shares (is a client program installed; what is in the store), and Postfix as a peer.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mail_testkit::postfix::Postfix;
use mail_testkit::programs;
use mailstore::{AccountName, MailStore, MailboxName, MaildirStore};

pub const BINARY: &str = env!("CARGO_BIN_EXE_mail-server");
pub const ACCOUNT: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

// ----- the clients -----

/// Whether `tool` is installed. A missing tool skips the test with a note, except in CI
/// (`CI=true`), where it fails the test.
pub fn require(tool: &str) -> bool {
    programs::require(tool).is_some()
}

/// A helper script of the tests, under `tests/<folder>/`.
pub fn helper(folder: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(folder)
        .join(name)
}

/// A private Postfix instance (`mail_testkit::postfix`): an smtpd with STARTTLS on a free
/// loopback port, `mynetworks = 127.0.0.0/8` (loopback clients send without AUTH), virtual
/// Maildir delivery for `bob@remote.example`, SMTPUTF8; stopped when dropped. `None` (with a
/// note) when Postfix is not installed and not in CI.
pub fn start_postfix() -> Option<Postfix> {
    let command = programs::require("postfix")?;
    let postfix = Postfix::builder()
        .command(command)
        .starttls(|cert, key| {
            mail_session::tls::ensure_self_signed(cert, key, &["localhost".into()])
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .setting("smtputf8_enable", "yes")
        .start()
        .unwrap_or_else(|problem| panic!("{problem}"));
    Some(postfix)
}

// ----- the server -----

/// A running `mail-server` on free loopback ports; killed when dropped, so also when a test
/// panics.
pub struct Server {
    dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
    /// Each listener the server printed: protocol, implicit TLS, port.
    ports: Vec<(String, bool, u16)>,
    runs: AtomicU32,
}

impl Server {
    /// A data folder with the account `alice`; the server is not started yet. `sections`
    /// is the configuration of the protocols under test (listeners on port 0).
    pub fn new(sections: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("mail-server.toml");
        let data = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\n\
                 allow_plaintext_auth = false\n\
                 [limits]\n\
                 failed_login_initial_delay_ms = 100\n\
                 {sections}",
                data.display().to_string()
            ),
        )
        .unwrap();
        let server = Server {
            dir,
            config,
            child: None,
            ports: Vec::new(),
            runs: AtomicU32::new(0),
        };
        server.admin(
            &["user", "add", ACCOUNT, "--password-stdin"],
            Some(PASSWORD),
        );
        server
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn certificate(&self) -> PathBuf {
        self.data().join("tls/cert.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A fresh directory under the test's temporary folder.
    pub fn scratch(&self, what: &str) -> PathBuf {
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("{what}-{run}"));
        std::fs::create_dir(&path).unwrap();
        path
    }

    /// Runs `mail-server --config FILE ARGS` (the `user` commands) and returns its stdout.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = Command::new(BINARY)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            std::io::Write::write_all(&mut &input, format!("{text}\n").as_bytes()).unwrap();
        }
        drop(input);
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "mail-server {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts the server and reads its ports from the settings it prints.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut child = Command::new(BINARY)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        self.child = Some(child);
        // Read stdout on a thread that drains it to the end, so the server never blocks on
        // (or dies of) a full or closed pipe, and a silent server cannot hang the test.
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = sender.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        self.ports.clear();
        loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    panic!(
                        "mail-server did not print its settings; its log:\n{}",
                        self.log()
                    )
                });
            if let Some((protocol, rest)) = line.split_once(": ") {
                if let Some((address, security)) = rest.split_once(' ') {
                    if let Ok(address) = address.parse::<SocketAddr>() {
                        let implicit = security == "(SSL/TLS)";
                        self.ports
                            .push((protocol.to_string(), implicit, address.port()));
                    }
                }
            }
            if line.starts_with("certificate:") {
                break;
            }
        }
    }

    /// The port of `protocol`'s (`POP3`, `submission`) plain or implicit-TLS listener.
    pub fn port(&self, protocol: &str, implicit_tls: bool) -> u16 {
        self.ports
            .iter()
            .find(|(name, implicit, _)| name == protocol && *implicit == implicit_tls)
            .map(|(_, _, port)| *port)
            .unwrap_or_else(|| {
                panic!(
                    "no {protocol} listener (implicit TLS: {implicit_tls}) in {:?}",
                    self.ports
                )
            })
    }

    /// Kills the server (SIGKILL: nothing gets a chance to tidy up) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn account() -> AccountName {
        AccountName::try_from(ACCOUNT).unwrap()
    }

    /// Delivers a message to alice's INBOX the way a local delivery agent would: from
    /// another process, straight into the Maildir.
    pub fn deliver(&self, message: &[u8]) {
        let store = MaildirStore::open(self.data().join("maildir")).unwrap();
        store.deliver(&Self::account(), &mut &message[..]).unwrap();
    }

    /// Alice's INBOX as the store sees it now, in UID order (a fresh store each time, so
    /// nothing is cached).
    pub fn stored(&self) -> Vec<Vec<u8>> {
        self.stored_in(ACCOUNT)
    }

    /// An account's INBOX as the store sees it now, in UID order.
    pub fn stored_in(&self, account: &str) -> Vec<Vec<u8>> {
        let account = AccountName::try_from(account).unwrap();
        let store = MaildirStore::open(self.data().join("maildir")).unwrap();
        let snapshot = store.snapshot(&account, &MailboxName::inbox()).unwrap();
        snapshot
            .messages
            .iter()
            .map(|meta| {
                let mut content = store
                    .open_message(&account, &MailboxName::inbox(), meta.uid)
                    .unwrap();
                let mut bytes = Vec::new();
                content.reader.read_to_end(&mut bytes).unwrap();
                bytes
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
