//! `pop3-fetch` against the real `mail-server` binary: new messages land in files once, the
//! UIDL state survives between runs, and delete mode empties the maildrop.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use mailstore::{AccountName, MailStore, MailboxName, MaildirStore};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &Path) -> (Server, String) {
    let config = dir.join("mail-server.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[pop3]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = []\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    let mut add = Command::new(env!("CARGO_BIN_EXE_mail-server"))
        .args(["--config"])
        .arg(&config)
        .args(["user", "add", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    assert!(add.wait().unwrap().success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mail-server"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let line = BufReader::new(stdout)
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("POP3: ") && line.ends_with("(STLS)"))
        .expect("the POP3 listener is announced");
    let address = line["POP3: ".len()..line.len() - " (STLS)".len()].to_string();
    (server, address)
}

fn fetch(dir: &Path, address: &str, delete: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pop3-fetch"));
    command
        .args([
            "--server",
            address,
            "--server-name",
            "localhost",
            "--security",
            "starttls",
        ])
        .arg("--ca-file")
        .arg(dir.join("data/tls/cert.pem"))
        .args(["--user", "alice", "--password-stdin", "--state"])
        .arg(dir.join("seen"))
        .arg("--out-dir")
        .arg(dir.join("fetched"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if delete {
        command.arg("--delete");
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "pop3-fetch failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn pop3_fetch_takes_new_messages_once_and_can_delete_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, address) = start_server(dir.path());
    let store = MaildirStore::open(dir.path().join("data/maildir")).unwrap();
    let alice = AccountName::try_from("alice").unwrap();
    let messages: Vec<Vec<u8>> = (0..3)
        .map(|n| format!("Subject: ticket {n}\r\n\r\n.dot line\r\nbody {n}\r\n").into_bytes())
        .collect();
    for message in &messages {
        store.deliver(&alice, &mut &message[..]).unwrap();
    }
    assert_eq!(
        fetch(dir.path(), &address, false).trim(),
        "3 on server, 3 fetched, 0 deleted"
    );
    assert_eq!(
        fetch(dir.path(), &address, false).trim(),
        "3 on server, 0 fetched, 0 deleted"
    );
    let mut fetched: Vec<Vec<u8>> = std::fs::read_dir(dir.path().join("fetched"))
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    fetched.sort();
    assert_eq!(fetched, messages, "each message is a byte-exact file");

    store
        .deliver(&alice, &mut &b"Subject: late\r\n\r\nx\r\n"[..])
        .unwrap();
    assert_eq!(
        fetch(dir.path(), &address, true).trim(),
        "4 on server, 1 fetched, 4 deleted"
    );
    assert_eq!(
        store
            .status(&alice, &MailboxName::inbox())
            .unwrap()
            .messages,
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("fetched"))
            .unwrap()
            .count(),
        4
    );
}
