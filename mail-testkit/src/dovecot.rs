//! A private Dovecot instance: `dovecot -F -c <dir>/dovecot.conf` as a child, with every path
//! (base_dir, state_dir, logs, homes) inside a directory of the caller, listening on free
//! loopback ports, and stopped (SIGTERM to its master, then SIGKILL) when dropped, so that a
//! failing assertion does not leave it behind.
//!
//! [`Config`] builds the complete configuration (nothing of /etc/dovecot is read) from the few
//! things the users differ in; [`Dovecot::start`] picks the ports, writes it and waits for the
//! greeting. The master must start as root (see [`crate::programs::require_as_root`]); its
//! mail processes run as [`MAIL_UID`]/[`MAIL_GID`].

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{ports, process};

/// The uid of Dovecot's mail processes and the owner of the mail while Dovecot runs. Dovecot
/// 2.3 will not access mail as root at all (uid 0 from a userdb is refused, and `mail_uid =
/// root` fails with "Mail access not allowed for root"), so an unprivileged uid owns the
/// Maildir, as a real deployment's vmail user would. No account by that number needs to exist.
pub const MAIL_UID: u32 = 5000;
/// The gid that goes with [`MAIL_UID`].
pub const MAIL_GID: u32 = 5000;

/// The log lines that count as complaints: warnings, errors, fatal errors and panics.
pub const COMPLAINT_LEVELS: [&str; 4] = [": Warning: ", ": Error: ", ": Fatal: ", ": Panic: "];

/// Gives `path` and everything below it to [`MAIL_UID`]/[`MAIL_GID`] (files our store wrote
/// as root since the last start, for instance).
pub fn hand_to_mail_user(path: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(MAIL_UID), Some(MAIL_GID))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            hand_to_mail_user(&entry?.path())?;
        }
    }
    Ok(())
}

/// Makes `dir` traversable (0755) by Dovecot's unprivileged `dovecot` and `dovenull`
/// processes; a tempdir is created 0700.
pub fn make_traversable(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
}

/// A new temporary directory Dovecot's unprivileged processes can traverse.
///
/// # Panics
///
/// When the directory cannot be created or its mode set.
pub fn traversable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    make_traversable(dir.path()).expect("chmod tempdir");
    dir
}

/// The protocol a Dovecot instance serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IMAP: `imap-login` with listeners `imap` and `imaps`; greets with `* OK`.
    Imap,
    /// POP3: `pop3-login` with listeners `pop3` and `pop3s`; greets with `+OK`.
    Pop3,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        }
    }

    fn greeting(self) -> &'static str {
        match self {
            Protocol::Imap => "* OK",
            Protocol::Pop3 => "+OK",
        }
    }
}

/// Where Dovecot looks up passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passdb {
    /// One password for every user (`driver = static`).
    Static(String),
    /// A passwd-file (`driver = passwd-file`, `args = scheme=<scheme> <path>`).
    PasswdFile {
        /// The default scheme of its hashes, e.g. `ARGON2ID`.
        scheme: String,
        /// The file.
        path: PathBuf,
    },
}

/// A Dovecot configuration: what the instances of the tests and benches differ in. The rest is
/// fixed: every path under the instance's directory, mail processes as
/// [`MAIL_UID`]/[`MAIL_GID`] with homes in `<dir>/home/%u`, the Maildir of user `u` at
/// `<mail_root>/u`, a static userdb, one inbox namespace.
#[derive(Debug, Clone)]
pub struct Config {
    written_by: String,
    protocol: Protocol,
    mail_root: PathBuf,
    passdb: Passdb,
    instance_prefix: String,
    listen_loopback: bool,
    plain: Ipv4Addr,
    implicit_tls: Option<Ipv4Addr>,
    tls: Option<(PathBuf, PathBuf)>,
    plaintext_auth: bool,
    mechanisms: String,
    settings: Vec<String>,
    namespace: Vec<String>,
    login_service: Vec<String>,
    extra: String,
    start_timeout: Duration,
    stop_timeout: Duration,
}

impl Config {
    /// A configuration for `protocol` serving `<mail_root>/<user>` as each user's Maildir, with
    /// `passdb`. The header comment says it was written by `written_by`. Defaults: a plain
    /// listener on 127.0.0.1 (with `listen = 127.0.0.1`), the implicit-TLS listener disabled,
    /// `ssl = no`, plaintext authentication allowed, mechanisms `plain`, 30 s to greet, 15 s to
    /// stop after SIGTERM.
    pub fn new(
        written_by: &str,
        protocol: Protocol,
        mail_root: impl Into<PathBuf>,
        passdb: Passdb,
    ) -> Config {
        Config {
            written_by: written_by.to_string(),
            protocol,
            mail_root: mail_root.into(),
            passdb,
            instance_prefix: "mail-testkit".into(),
            listen_loopback: true,
            plain: Ipv4Addr::LOCALHOST,
            implicit_tls: None,
            tls: None,
            plaintext_auth: true,
            mechanisms: "plain".into(),
            settings: Vec::new(),
            namespace: Vec::new(),
            login_service: Vec::new(),
            extra: String::new(),
            start_timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(15),
        }
    }

    /// `instance_name` is `<prefix>-<port of the plain listener>`.
    pub fn instance_prefix(mut self, prefix: &str) -> Config {
        self.instance_prefix = prefix.to_string();
        self
    }

    /// The plain (or STARTTLS) listener's address; this also drops the global `listen =
    /// 127.0.0.1` when `ip` is not 127.0.0.1 (each listener names its own address).
    pub fn plain_listener(mut self, ip: Ipv4Addr) -> Config {
        self.plain = ip;
        self.listen_loopback = ip == Ipv4Addr::LOCALHOST;
        self
    }

    /// An implicit-TLS listener on `ip` (needs [`Config::tls`]).
    pub fn implicit_tls_listener(mut self, ip: Ipv4Addr) -> Config {
        self.implicit_tls = Some(ip);
        self
    }

    /// `ssl = yes` with this certificate and key (PEM files).
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Config {
        self.tls = Some((cert.into(), key.into()));
        self
    }

    /// Whether passwords are accepted without TLS (`disable_plaintext_auth`, inverted).
    pub fn plaintext_auth(mut self, allowed: bool) -> Config {
        self.plaintext_auth = allowed;
        self
    }

    /// `auth_mechanisms`, e.g. `"plain login"`.
    pub fn mechanisms(mut self, mechanisms: &str) -> Config {
        self.mechanisms = mechanisms.to_string();
        self
    }

    /// A global setting (`key = value`).
    pub fn setting(mut self, key: &str, value: &str) -> Config {
        self.settings.push(format!("{key} = {value}"));
        self
    }

    /// A line inside `namespace inbox { }` (indented by two spaces; may span lines).
    pub fn namespace_line(mut self, line: &str) -> Config {
        self.namespace.push(line.to_string());
        self
    }

    /// A line inside the login service's block (`service imap-login { }`).
    pub fn login_service_line(mut self, line: &str) -> Config {
        self.login_service.push(line.to_string());
        self
    }

    /// Text appended to the configuration as it is (other service blocks, comments).
    pub fn extra(mut self, text: &str) -> Config {
        self.extra.push_str(text);
        self
    }

    /// How long Dovecot gets to greet on the plain listener.
    pub fn start_timeout(mut self, timeout: Duration) -> Config {
        self.start_timeout = timeout;
        self
    }

    /// How long Dovecot gets to stop after SIGTERM before SIGKILL.
    pub fn stop_timeout(mut self, timeout: Duration) -> Config {
        self.stop_timeout = timeout;
        self
    }

    /// The configuration file's text for an instance in `dir`, its plain listener at `plain`
    /// and its implicit-TLS one (if any) at `implicit`.
    pub fn text(
        &self,
        dir: &Path,
        instance: &str,
        plain: SocketAddr,
        implicit: Option<SocketAddr>,
    ) -> String {
        let (dir, root) = (dir.display(), self.mail_root.display());
        let protocol = self.protocol.name();
        let mut text = format!(
            "# Written by {}; nothing of /etc/dovecot is read.\nprotocols = {protocol}\n",
            self.written_by
        );
        if self.listen_loopback {
            text.push_str("listen = 127.0.0.1\n");
        }
        let _ = write!(
            text,
            "base_dir = {dir}/run\n\
             state_dir = {dir}/state\n\
             instance_name = {instance}\n\
             log_path = {dir}/dovecot.log\n\
             info_log_path = {dir}/dovecot.log\n"
        );
        match &self.tls {
            Some((cert, key)) => {
                let _ = write!(
                    text,
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                    cert.display(),
                    key.display()
                );
            }
            None => text.push_str("ssl = no\n"),
        }
        let _ = write!(
            text,
            "disable_plaintext_auth = {}\nauth_mechanisms = {}\n",
            if self.plaintext_auth { "no" } else { "yes" },
            self.mechanisms
        );
        for setting in &self.settings {
            let _ = writeln!(text, "{setting}");
        }
        let _ = write!(
            text,
            "first_valid_uid = {MAIL_UID}\n\
             last_valid_uid = {MAIL_UID}\n\
             first_valid_gid = {MAIL_GID}\n\
             last_valid_gid = {MAIL_GID}\n\
             mail_location = maildir:{root}/%u\n\
             namespace inbox {{\n  inbox = yes\n"
        );
        for line in &self.namespace {
            let _ = writeln!(text, "  {line}");
        }
        text.push_str("}\npassdb {\n");
        match &self.passdb {
            Passdb::Static(password) => {
                let _ = write!(text, "  driver = static\n  args = password={password}\n");
            }
            Passdb::PasswdFile { scheme, path } => {
                let _ = write!(
                    text,
                    "  driver = passwd-file\n  args = scheme={scheme} {}\n",
                    path.display()
                );
            }
        }
        let _ = write!(
            text,
            "}}\nuserdb {{\n  driver = static\n  \
             args = uid={MAIL_UID} gid={MAIL_GID} home={dir}/home/%u\n}}\n\
             service {protocol}-login {{\n  inet_listener {protocol} {{\n    address = {}\n    \
             port = {}\n  }}\n  inet_listener {protocol}s {{\n",
            plain.ip(),
            plain.port()
        );
        match implicit {
            Some(address) => {
                let _ = write!(
                    text,
                    "    address = {}\n    port = {}\n    ssl = yes\n",
                    address.ip(),
                    address.port()
                );
            }
            None => text.push_str("    port = 0\n"),
        }
        text.push_str("  }\n");
        for line in &self.login_service {
            let _ = writeln!(text, "  {line}");
        }
        text.push_str("}\n");
        text.push_str(&self.extra);
        text
    }
}

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: PathBuf,
    plain: SocketAddr,
    implicit: Option<SocketAddr>,
    instance: String,
    stop_timeout: Duration,
    child: Option<Child>,
}

impl Dovecot {
    /// Starts `binary` with `config`; its own files (configuration, logs, runtime, homes) go
    /// to `dir`. `dir/home` and the mail root are created if missing and handed to the mail
    /// user. A port taken by someone else between choosing it and Dovecot's bind is retried
    /// with another (three attempts). Returns the problem and Dovecot's logs when it does not
    /// greet in time.
    pub fn start(binary: &Path, dir: &Path, config: &Config) -> Result<Dovecot, String> {
        Self::start_with(binary, dir, config, |_, _| {})
    }

    /// [`Dovecot::start`], calling `spawned(pid, instance_name)` for each master started (to
    /// register it with an emergency clean-up, for instance).
    pub fn start_with(
        binary: &Path,
        dir: &Path,
        config: &Config,
        mut spawned: impl FnMut(u32, &str),
    ) -> Result<Dovecot, String> {
        let io_error = |what: &str, e: io::Error| format!("{what}: {e}");
        fs::create_dir_all(dir.join("home")).map_err(|e| io_error("create dovecot dir", e))?;
        fs::create_dir_all(&config.mail_root).map_err(|e| io_error("create mail root", e))?;
        hand_to_mail_user(&dir.join("home")).map_err(|e| io_error("chown home", e))?;
        hand_to_mail_user(&config.mail_root).map_err(|e| io_error("chown mail root", e))?;
        for attempt in 1..=3 {
            let free = |ip: Ipv4Addr| {
                ports::free_port_on(ip)
                    .map(|port| SocketAddr::from((ip, port)))
                    .map_err(|e| io_error("free port", e))
            };
            let plain = free(config.plain)?;
            let implicit = config.implicit_tls.map(free).transpose()?;
            let instance = format!("{}-{}", config.instance_prefix, plain.port());
            let path = dir.join("dovecot.conf");
            fs::write(&path, config.text(dir, &instance, plain, implicit))
                .map_err(|e| io_error("write dovecot.conf", e))?;
            // The log is per attempt, so that complaints are about this run only.
            let _ = fs::remove_file(dir.join("dovecot.log"));
            let output =
                File::create(dir.join("master.out")).map_err(|e| io_error("master.out", e))?;
            let child = Command::new(binary)
                .arg("-F")
                .arg("-c")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(output.try_clone().map_err(|e| io_error("clone", e))?)
                .stderr(output)
                .spawn()
                .map_err(|e| format!("start {}: {e}", binary.display()))?;
            spawned(child.id(), &instance);
            let mut dovecot = Dovecot {
                dir: dir.to_path_buf(),
                plain,
                implicit,
                instance,
                stop_timeout: config.stop_timeout,
                child: Some(child),
            };
            match dovecot.wait_until_ready(config.protocol.greeting(), config.start_timeout) {
                Ok(()) => return Ok(dovecot),
                Err(problem) => {
                    let logs = dovecot.logs();
                    drop(dovecot);
                    if attempt < 3 && logs.contains("Address already in use") {
                        continue;
                    }
                    return Err(format!("{problem}:\n{logs}"));
                }
            }
        }
        Err("dovecot could not bind a free port in 3 attempts".into())
    }

    /// Waits for the greeting on the plain listener.
    fn wait_until_ready(&mut self, greeting: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!("dovecot exited at start ({status})"));
            }
            if let Ok(stream) = TcpStream::connect_timeout(&self.plain, Duration::from_secs(1)) {
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with(greeting)
                {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "dovecot did not greet on {} within {} s",
                    self.plain,
                    timeout.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The plain (or STARTTLS) listener's address.
    pub fn address(&self) -> SocketAddr {
        self.plain
    }

    /// The plain listener's port.
    pub fn port(&self) -> u16 {
        self.plain.port()
    }

    /// The implicit-TLS listener's address, if configured.
    pub fn implicit_tls_address(&self) -> Option<SocketAddr> {
        self.implicit
    }

    /// The master's pid (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The `instance_name` (also in the process titles: `dovecot-<instance>/...`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Dovecot's log (`dovecot.log`).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    /// The master's output and Dovecot's log, for a failure message.
    pub fn logs(&self) -> String {
        let master = fs::read_to_string(self.dir.join("master.out")).unwrap_or_default();
        format!(
            "--- master output ---\n{master}--- dovecot.log ---\n{}",
            self.log()
        )
    }

    /// The warnings and errors Dovecot logged (see [`COMPLAINT_LEVELS`]), except the master's
    /// note that it got our SIGTERM.
    pub fn complaints(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| COMPLAINT_LEVELS.iter().any(|level| line.contains(level)))
            .filter(|line| !line.contains("Killed with signal"))
            .map(str::to_string)
            .collect()
    }

    /// Asserts that Dovecot logged no [`Dovecot::complaints`].
    ///
    /// # Panics
    ///
    /// With the complaints, when there are any.
    pub fn assert_no_complaints(&self) {
        let complaints = self.complaints();
        assert!(
            complaints.is_empty(),
            "Dovecot complained:\n{}",
            complaints.join("\n")
        );
    }

    /// Stops Dovecot (SIGTERM to the master we started, by its pid: a clean shutdown that
    /// stops its service processes; SIGKILL after the stop timeout, and then to what is left
    /// of the instance's processes too) and waits for it; does nothing if it is stopped.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        let family = process::descendants(pid);
        if !process::stop(&mut child, self.stop_timeout) {
            eprintln!(
                "dovecot master {pid} ignored SIGTERM for {:?}; killed it",
                self.stop_timeout
            );
        }
        for leftover in family {
            // Titles read `dovecot-<instance>/pop3` and the like.
            let title = fs::read_to_string(format!("/proc/{leftover}/cmdline")).unwrap_or_default();
            if title.contains(&format!("{}/", self.instance)) {
                process::signal(leftover, "KILL");
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_names_every_path_and_listener() {
        let config = Config::new(
            "a test",
            Protocol::Pop3,
            "/m",
            Passdb::Static("secret".into()),
        )
        .plain_listener(Ipv4Addr::new(127, 0, 0, 2))
        .implicit_tls_listener(Ipv4Addr::LOCALHOST)
        .tls("/d/cert.pem", "/d/key.pem")
        .plaintext_auth(false)
        .setting("auth_failure_delay", "0")
        .login_service_line("service_count = 0");
        let text = config.text(
            Path::new("/d"),
            "x-1",
            "127.0.0.2:1100".parse().unwrap(),
            Some("127.0.0.1:9950".parse().unwrap()),
        );
        for line in [
            "protocols = pop3",
            "base_dir = /d/run",
            "instance_name = x-1",
            "ssl_cert = </d/cert.pem",
            "disable_plaintext_auth = yes",
            "auth_failure_delay = 0",
            "mail_location = maildir:/m/%u",
            "  args = password=secret",
            "  args = uid=5000 gid=5000 home=/d/home/%u",
            "service pop3-login {",
            "  inet_listener pop3 {",
            "    address = 127.0.0.2",
            "    port = 1100",
            "  inet_listener pop3s {",
            "    port = 9950",
            "    ssl = yes",
            "  service_count = 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        assert!(!text.contains("listen = 127.0.0.1"));
    }
}
