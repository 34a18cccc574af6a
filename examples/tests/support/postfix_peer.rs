//! A private Postfix instance for tests: its own configuration, queue and log in a temporary
//! folder, an smtpd with STARTTLS on a free loopback port, `mynetworks = 127.0.0.0/8` (loopback
//! clients send without AUTH), and virtual Maildir delivery for `bob@remote.example`. Stopped
//! when dropped, so also when a test panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::require_program;

/// The domain Postfix delivers locally.
pub const DOMAIN: &str = "remote.example";

/// A running Postfix.
pub struct Postfix {
    dir: tempfile::TempDir,
    port: u16,
}

fn postfix_ids() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postfix"))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
                .flatten()
        })
        .expect("a postfix user")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postfix {
    /// Starts Postfix, or returns `None` (with a note) when it is not installed and not in CI.
    pub fn start() -> Option<Postfix> {
        if !require_program("/usr/sbin/postfix") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (uid, gid) = postfix_ids();
        for sub in ["conf", "queue", "data", "vmail"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        for owned in ["data", "vmail"] {
            std::os::unix::fs::chown(root.join(owned), Some(uid), Some(gid)).unwrap();
        }
        let (cert, key) = (root.join("cert.pem"), root.join("key.pem"));
        mail_session::tls::ensure_self_signed(&cert, &key, &["localhost".into()]).unwrap();
        let port = free_port();
        let at = |sub: &str| root.join(sub).display().to_string();
        std::fs::write(
            root.join("conf/main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {queue}\n\
                 data_directory = {data}\n\
                 command_directory = /usr/sbin\n\
                 daemon_directory = /usr/lib/postfix/sbin\n\
                 meta_directory = /etc/postfix\n\
                 shlib_directory = /usr/lib/postfix\n\
                 mail_owner = postfix\n\
                 setgid_group = postdrop\n\
                 myhostname = postfix.test\n\
                 mydestination =\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 mynetworks = 127.0.0.0/8\n\
                 smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
                 maillog_file_prefixes = {root}\n\
                 maillog_file = {log}\n\
                 virtual_mailbox_domains = {DOMAIN}\n\
                 virtual_mailbox_base = {vmail}\n\
                 virtual_mailbox_maps = texthash:{maps}\n\
                 virtual_uid_maps = static:{uid}\n\
                 virtual_gid_maps = static:{gid}\n\
                 smtpd_tls_cert_file = {cert}\n\
                 smtpd_tls_key_file = {key}\n\
                 smtpd_tls_security_level = may\n\
                 alias_maps =\n\
                 alias_database =\n\
                 smtputf8_enable = yes\n",
                queue = at("queue"),
                data = at("data"),
                root = root.display(),
                log = at("postfix.log"),
                vmail = at("vmail"),
                maps = at("conf/vmailbox"),
                cert = cert.display(),
                key = key.display(),
            ),
        )
        .unwrap();
        std::fs::write(root.join("conf/vmailbox"), format!("bob@{DOMAIN} bob/\n")).unwrap();
        // Debian's master.cf, with smtpd on our port and no chroot (the queue folder is not a
        // prepared chroot).
        let master = std::fs::read_to_string("/etc/postfix/master.cf")
            .unwrap_or_else(|_| std::fs::read_to_string("/etc/postfix/master.cf.proto").unwrap());
        let master: String = master
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // Comments and continuation lines (indented) stay as they are.
                if line.starts_with(['#', ' ', '\t']) || fields.len() < 8 {
                    return format!("{line}\n");
                }
                let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                if fields[0] == "smtp" && fields[1] == "inet" {
                    fields[0] = format!("127.0.0.1:{port}");
                }
                if fields[4] == "y" {
                    fields[4] = "n".into();
                }
                format!("{}\n", fields.join(" "))
            })
            .collect();
        std::fs::write(root.join("conf/master.cf"), master).unwrap();
        let postfix = Postfix { dir, port };
        let status = postfix.command("start");
        if !status {
            let check = Command::new("/usr/sbin/postconf")
                .arg("-c")
                .arg(postfix.dir.path().join("conf"))
                .arg("-n")
                .output()
                .unwrap();
            panic!(
                "postfix did not start; its log:\n{}\npostconf -n:\n{}",
                postfix.log(),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "postfix is not listening:\n{}",
                postfix.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(postfix)
    }

    fn command(&self, action: &str) -> bool {
        // A clean environment: what `cargo test` exports (LD_LIBRARY_PATH among it) breaks
        // postfix-script's own calls of postconf.
        Command::new("/usr/sbin/postfix")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg(action)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The smtpd's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The certificate its smtpd presents (for `localhost`).
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// Its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postfix.log")).unwrap_or_default()
    }

    /// The messages delivered to `local`@remote.example, waiting up to 10 s for at least
    /// `expected` of them.
    pub fn delivered(&self, local: &str, expected: usize) -> Vec<Vec<u8>> {
        let maildir = self.dir.path().join("vmail").join(local);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let messages = read_maildir(&maildir);
            if messages.len() >= expected || Instant::now() >= deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_maildir(maildir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.command("stop");
    }
}
