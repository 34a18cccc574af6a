//! A private Postfix instance: its own configuration, queue and log in one directory, an smtpd
//! (with STARTTLS when given a certificate) on a free loopback port, `mynetworks =
//! 127.0.0.0/8` (loopback clients send without AUTH), and virtual Maildir delivery for
//! `<mailbox>@`[`DOMAIN`]. Stopped (`postfix stop`) when dropped, so also when a test panics.
//!
//! The master must start as root (see [`crate::programs::require_as_root`]).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::ports;

/// The domain Postfix delivers locally (to virtual Maildirs).
pub const DOMAIN: &str = "remote.example";

/// Writes a certificate and key (PEM) for `localhost` to the two paths given.
pub type MakeCertificate = Box<dyn FnOnce(&Path, &Path) -> Result<(), String>>;

/// How to start a [`Postfix`].
pub struct Builder {
    command: PathBuf,
    root: Option<PathBuf>,
    mailboxes: Vec<String>,
    settings: Vec<(String, String)>,
    certificate: Option<MakeCertificate>,
    start_timeout: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            command: PathBuf::from("/usr/sbin/postfix"),
            root: None,
            mailboxes: vec!["bob".into()],
            settings: Vec::new(),
            certificate: None,
            start_timeout: Duration::from_secs(20),
        }
    }
}

impl Builder {
    /// The `postfix` command to run (default `/usr/sbin/postfix`; `postconf` is looked for
    /// next to it).
    pub fn command(mut self, command: impl Into<PathBuf>) -> Builder {
        self.command = command.into();
        self
    }

    /// The instance's directory (created if missing; kept after the stop). Default: a new
    /// temporary directory, removed with the instance.
    pub fn root(mut self, root: impl Into<PathBuf>) -> Builder {
        self.root = Some(root.into());
        self
    }

    /// The local parts with a Maildir at `<root>/vmail/<local>/` (default: `bob`).
    pub fn mailboxes(mut self, locals: &[&str]) -> Builder {
        self.mailboxes = locals.iter().map(|local| local.to_string()).collect();
        self
    }

    /// A `main.cf` setting on top of the defaults (replacing a default of the same name).
    pub fn setting(mut self, key: &str, value: &str) -> Builder {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    /// STARTTLS (`smtpd_tls_security_level = may`) with a certificate that `make` writes to
    /// `<root>/cert.pem` and `<root>/key.pem`.
    pub fn starttls(
        mut self,
        make: impl FnOnce(&Path, &Path) -> Result<(), String> + 'static,
    ) -> Builder {
        self.certificate = Some(Box::new(make));
        self
    }

    /// How long the smtpd gets to listen after `postfix start` (default 20 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Builder {
        self.start_timeout = timeout;
        self
    }

    /// Writes the configuration, starts Postfix and waits for its smtpd to listen. Returns
    /// what went wrong, with Postfix's log, otherwise.
    pub fn start(self) -> Result<Postfix, String> {
        let (temp, root) = match &self.root {
            Some(root) => (None, root.clone()),
            None => {
                let temp = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
                let root = temp.path().to_path_buf();
                (Some(temp), root)
            }
        };
        let io_error = |what: &Path| {
            let what = what.display().to_string();
            move |error: std::io::Error| format!("{what}: {error}")
        };
        let (uid, gid) = postfix_ids()?;
        for sub in ["conf", "queue", "data", "vmail"] {
            fs::create_dir_all(root.join(sub)).map_err(io_error(&root.join(sub)))?;
        }
        for owned in ["data", "vmail"] {
            std::os::unix::fs::chown(root.join(owned), Some(uid), Some(gid))
                .map_err(io_error(&root.join(owned)))?;
        }
        let (cert, key) = (root.join("cert.pem"), root.join("key.pem"));
        let tls = match self.certificate {
            Some(make) => {
                make(&cert, &key).map_err(|e| format!("certificate: {e}"))?;
                true
            }
            None => false,
        };
        let port =
            ports::free_port_on(Ipv4Addr::LOCALHOST).map_err(|e| format!("free port: {e}"))?;
        let at = |sub: &str| root.join(sub).display().to_string();
        let mut settings: Vec<(String, String)> = [
            ("compatibility_level", "3.6".to_string()),
            ("queue_directory", at("queue")),
            ("data_directory", at("data")),
            ("command_directory", "/usr/sbin".into()),
            ("daemon_directory", "/usr/lib/postfix/sbin".into()),
            ("meta_directory", "/etc/postfix".into()),
            ("shlib_directory", "/usr/lib/postfix".into()),
            ("mail_owner", "postfix".into()),
            ("setgid_group", "postdrop".into()),
            ("myhostname", "postfix.test".into()),
            ("mydestination", String::new()),
            ("inet_interfaces", "127.0.0.1".into()),
            ("inet_protocols", "ipv4".into()),
            ("mynetworks", "127.0.0.0/8".into()),
            (
                "smtpd_relay_restrictions",
                "permit_mynetworks, reject_unauth_destination".into(),
            ),
            ("maillog_file_prefixes", root.display().to_string()),
            ("maillog_file", at("postfix.log")),
            ("virtual_mailbox_domains", DOMAIN.into()),
            ("virtual_mailbox_base", at("vmail")),
            (
                "virtual_mailbox_maps",
                format!("texthash:{}", at("conf/vmailbox")),
            ),
            ("virtual_uid_maps", format!("static:{uid}")),
            ("virtual_gid_maps", format!("static:{gid}")),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
        if tls {
            settings.extend([
                ("smtpd_tls_cert_file".into(), cert.display().to_string()),
                ("smtpd_tls_key_file".into(), key.display().to_string()),
                ("smtpd_tls_security_level".into(), "may".into()),
            ]);
        }
        settings.extend([
            ("alias_maps".into(), String::new()),
            ("alias_database".into(), String::new()),
        ]);
        for (key, value) in self.settings {
            match settings.iter_mut().find(|(name, _)| *name == key) {
                Some(setting) => setting.1 = value,
                None => settings.push((key, value)),
            }
        }
        let main_cf: String = settings
            .iter()
            .map(|(key, value)| format!("{key} = {value}\n"))
            .collect();
        let main_path = root.join("conf/main.cf");
        fs::write(&main_path, main_cf).map_err(io_error(&main_path))?;
        let maps: String = self
            .mailboxes
            .iter()
            .map(|local| format!("{local}@{DOMAIN} {local}/\n"))
            .collect();
        let maps_path = root.join("conf/vmailbox");
        fs::write(&maps_path, maps).map_err(io_error(&maps_path))?;
        let master_path = root.join("conf/master.cf");
        fs::write(&master_path, master_cf(port)).map_err(io_error(&master_path))?;
        let mut postfix = Postfix {
            command: self.command,
            root,
            port,
            started: false,
            _temp: temp,
        };
        if !postfix.run("start") {
            let check = Command::new(postfix.command.with_file_name("postconf"))
                .arg("-c")
                .arg(postfix.root.join("conf"))
                .arg("-n")
                .output()
                .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
                .unwrap_or_else(|e| format!("postconf: {e}"));
            return Err(format!(
                "postfix did not start; its log:\n{}\npostconf -n:\n{check}",
                postfix.log()
            ));
        }
        postfix.started = true;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if !ports::wait_for_listener(address, self.start_timeout) {
            return Err(format!("postfix is not listening:\n{}", postfix.log()));
        }
        Ok(postfix)
    }
}

/// The uid and gid of the `postfix` user, from /etc/passwd.
fn postfix_ids() -> Result<(u32, u32), String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&"postfix") {
                return None;
            }
            Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
        })
        .ok_or_else(|| "no postfix user in /etc/passwd".to_string())
}

/// The whole master.cf of the instance: smtpd on `127.0.0.1:<port>` and the services a
/// queue and virtual Maildir delivery need, none chrooted (the queue folder is not a prepared
/// chroot). Written whole, never derived from the machine's /etc/postfix/master.cf, which on a
/// configured mail host has other listeners, or no `smtp inet` line at all. (The service lines
/// are those of the master.cf Postfix ships, less the optional `pipe` transports.)
fn master_cf(port: u16) -> String {
    // service type private unpriv chroot wakeup maxproc command
    const SERVICES: &[&str] = &[
        "pickup    unix  n       -       n       60      1       pickup",
        "cleanup   unix  n       -       n       -       0       cleanup",
        "qmgr      unix  n       -       n       300     1       qmgr",
        "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
        "rewrite   unix  -       -       n       -       -       trivial-rewrite",
        "bounce    unix  -       -       n       -       0       bounce",
        "defer     unix  -       -       n       -       0       bounce",
        "trace     unix  -       -       n       -       0       bounce",
        "verify    unix  -       -       n       -       1       verify",
        "flush     unix  n       -       n       1000?   0       flush",
        "proxymap  unix  -       -       n       -       -       proxymap",
        "proxywrite unix -       -       n       -       1       proxymap",
        "smtp      unix  -       -       n       -       -       smtp",
        "relay     unix  -       -       n       -       -       smtp",
        "showq     unix  n       -       n       -       -       showq",
        "error     unix  -       -       n       -       -       error",
        "retry     unix  -       -       n       -       -       error",
        "discard   unix  -       -       n       -       -       discard",
        "local     unix  -       n       n       -       -       local",
        "virtual   unix  -       n       n       -       -       virtual",
        "lmtp      unix  -       -       n       -       -       lmtp",
        "anvil     unix  -       -       n       -       1       anvil",
        "scache    unix  -       -       n       -       1       scache",
        "postlog   unix-dgram n  -       n       -       1       postlogd",
    ];
    let mut text = format!(
        "# Written by mail-testkit for this instance alone.\n\
         127.0.0.1:{port} inet n - n - - smtpd\n"
    );
    for service in SERVICES {
        text.push_str(service);
        text.push('\n');
    }
    text
}

/// A running Postfix.
pub struct Postfix {
    command: PathBuf,
    root: PathBuf,
    port: u16,
    started: bool,
    _temp: Option<tempfile::TempDir>,
}

impl Postfix {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `postfix -c <root>/conf <action>` in a clean environment: what `cargo test`
    /// exports (LD_LIBRARY_PATH among it) breaks postfix-script's own calls of postconf.
    fn run(&self, action: &str) -> bool {
        Command::new(&self.command)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .arg("-c")
            .arg(self.root.join("conf"))
            .arg(action)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The smtpd's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The instance's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The certificate its smtpd presents (for `localhost`), when started with STARTTLS.
    pub fn certificate(&self) -> PathBuf {
        self.root.join("cert.pem")
    }

    /// Its log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("postfix.log")).unwrap_or_default()
    }

    /// The master's pid, from the queue's pid file.
    pub fn master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.root.join("queue/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Messages still in the queue (received, not yet delivered).
    pub fn queued(&self) -> usize {
        ["incoming", "active", "deferred"]
            .iter()
            .map(|sub| count_files(&self.root.join("queue").join(sub)))
            .sum()
    }

    /// How many messages `local`@[`DOMAIN`]'s Maildir holds now.
    pub fn delivered_count(&self, local: &str) -> usize {
        let maildir = self.root.join("vmail").join(local);
        count_files(&maildir.join("new")) + count_files(&maildir.join("cur"))
    }

    /// The messages delivered to `local`@[`DOMAIN`], waiting up to 10 s for at least
    /// `expected` of them.
    pub fn delivered(&self, local: &str, expected: usize) -> Vec<Vec<u8>> {
        let maildir = self.root.join("vmail").join(local);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let messages = read_maildir(&maildir);
            if messages.len() >= expected || Instant::now() >= deadline {
                return messages;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops Postfix (`postfix stop`); does nothing if it is stopped.
    pub fn stop(&mut self) {
        if self.started {
            self.run("stop");
            self.started = false;
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The files in a directory tree.
fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                count_files(&path)
            } else {
                1
            }
        })
        .sum()
}

/// A Maildir's messages (new/ and cur/), in file-name order.
fn read_maildir(maildir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|sub| fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| fs::read(path).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_cf_is_written_whole_with_smtpd_on_the_port_and_no_chroot() {
        let text = master_cf(10025);
        let services: Vec<Vec<&str>> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split_whitespace().collect())
            .collect();
        let smtpd: Vec<&Vec<&str>> = services
            .iter()
            .filter(|fields| fields[1] == "inet")
            .collect();
        assert_eq!(smtpd.len(), 1, "one listener, ours: {text}");
        assert_eq!(smtpd[0][0], "127.0.0.1:10025");
        assert_eq!(smtpd[0][7], "smtpd");
        for fields in &services {
            assert_eq!(fields.len(), 8, "{fields:?}");
            assert_eq!(fields[4], "n", "not chrooted: {fields:?}");
        }
        // What a queue with virtual Maildir delivery needs.
        for needed in [
            "pickup", "cleanup", "qmgr", "rewrite", "bounce", "defer", "virtual",
        ] {
            assert!(
                services.iter().any(|fields| fields[0] == needed),
                "{needed} in {text}"
            );
        }
    }
}
