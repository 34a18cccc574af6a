//! `pop3-load`: mail-server's POP3 against Dovecot's pop3d under concurrent load.
//!
//! One run builds a workload once (N accounts of M messages of 2 KiB, 20 KiB and 200 KiB, CRLF,
//! with dot-led lines) into two identical Maildir trees, starts `mail-server` on one tree and a
//! private Dovecot instance on the other (both plain loopback, no TLS), and drives each in turn
//! with C concurrent clients for D seconds. Each client loops {connect, login, LIST, RETR every
//! message, QUIT} with the crate's tokio client; retrievals are counted into a sink, a random
//! sample is compared byte for byte with the workload (and every message once, in a warm-up
//! pass before the measured window). Memory is sampled every 200 ms from /proc: mail-server's
//! process, or every process of the Dovecot instance (the master and its descendants).
//!
//! Needs root (Dovecot's master switches its mail processes to uid/gid 5000). Everything lives
//! in one temporary directory, removed at the end; both servers are stopped by drop guards, and
//! by a watchdog / Ctrl-C handler that also covers a hang. See `benches/load/README.md`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use mail_testkit::memory::{MemorySamples, Sampler, SamplerOptions};
use mail_testkit::process::{self, descendants, signal, Processes};
use mail_testkit::{dovecot, programs};
use mailstore::{AccountName, MailStore, MaildirStore};
use pop3_proto::client::ClientOptions;
use pop3_proto::tokio::{Client, ClientConfig, Security};
use tokio::io::AsyncWrite;

/// The one password of every account, on both servers.
const PASSWORD: &str = "pop3-load-secret";
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// How often memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// The longest one session (connect to QUIT) may take before it counts as an error.
const SESSION_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server gets to start (greeting / listening line).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server gets to stop after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Message sizes of the workload: index % 10 picks 0..=5 small, 6..=8 medium, 9 large.
const SMALL: usize = 2 * 1024;
const MEDIUM: usize = 20 * 1024;
const LARGE: usize = 200 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "pop3-load",
    about = "POP3 load test: mail-server against Dovecot's pop3d on the same workload"
)]
struct Args {
    /// The mail-server binary (build it with `cargo build --release -p mail-examples --bin
    /// mail-server`). When the default is missing, $CARGO_TARGET_DIR/release/mail-server is
    /// tried.
    #[arg(long, default_value = "target/release/mail-server")]
    mail_server: PathBuf,
    /// The dovecot binary; default: found in $PATH, /usr/sbin or /usr/local/sbin.
    #[arg(long)]
    dovecot: Option<PathBuf>,
    /// Accounts in the workload (raised to --clients if lower, see the README).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    accounts: u32,
    /// Messages per account.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    messages: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    clients: u32,
    /// Seconds of measured load per server.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    duration: u64,
    /// Compare about one retrieval in this many byte for byte (every one is size-checked, and
    /// every message is compared once in the warm-up).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1000))]
    verify_every: u64,
    /// Dovecot's passdb: `static` (the password in clear, no hashing: the default) or
    /// `argon2id` (a passwd-file holding mail-server's own argon2id hashes, so both servers do
    /// the same work per login).
    #[arg(long, value_enum, default_value_t = DovecotPassdb::Static)]
    dovecot_passdb: DovecotPassdb,
    /// Keep the temporary directory (Maildirs, configurations, server logs) and print its path.
    #[arg(long)]
    keep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DovecotPassdb {
    Static,
    Argon2id,
}

// ---------------------------------------------------------------------------------------------
// Emergency clean-up: a watchdog and Ctrl-C stop the servers even when the run hangs.

/// What must be cleaned up if the run is cut short.
#[derive(Default)]
struct Emergency {
    /// (pid, Dovecot instance name for its children, or None for a single process).
    servers: Vec<(u32, Option<String>)>,
    temp_dir: Option<PathBuf>,
}

static EMERGENCY: Mutex<Option<Emergency>> = Mutex::new(None);

fn emergency() -> std::sync::MutexGuard<'static, Option<Emergency>> {
    EMERGENCY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn register_server(pid: u32, instance: Option<String>) {
    emergency()
        .get_or_insert_with(Emergency::default)
        .servers
        .push((pid, instance));
}

fn unregister_server(pid: u32) {
    if let Some(state) = emergency().as_mut() {
        state.servers.retain(|(registered, _)| *registered != pid);
    }
}

/// Kills every registered server (and a Dovecot's processes), removes the temporary directory
/// and exits. Drop guards do not run after `exit`, so this does their work.
fn emergency_exit(reason: &str, code: i32) -> ! {
    eprintln!("pop3-load: {reason}; stopping the servers");
    let state = emergency().take().unwrap_or_default();
    let mut victims = Vec::new();
    for (pid, instance) in &state.servers {
        victims.push(*pid);
        if instance.is_some() {
            victims.extend(descendants(*pid));
        }
        signal(*pid, "TERM");
    }
    thread::sleep(Duration::from_secs(2));
    for pid in victims {
        if fs::metadata(format!("/proc/{pid}")).is_ok() {
            signal(pid, "KILL");
        }
    }
    if let Some(dir) = state.temp_dir {
        let _ = fs::remove_dir_all(dir);
    }
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------------
// The workload

struct Workload {
    names: Vec<String>,
    /// messages[account][n - 1] is POP3 message n of that account.
    messages: Vec<Vec<Vec<u8>>>,
}

impl Workload {
    fn total_bytes(&self) -> u64 {
        self.messages.iter().flatten().map(|m| m.len() as u64).sum()
    }

    fn message_count(&self) -> usize {
        self.messages.iter().map(Vec::len).sum()
    }
}

/// xorshift64*: deterministic, fast, good enough for text and sampling.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

const WORDS: &[&str] = &[
    "the", "meeting", "report", "quarter", "attached", "please", "review", "budget", "schedule",
    "team", "update", "project", "deadline", "thanks", "regards", "proposal", "draft", "numbers",
    "customer", "invoice", "delivery", "server", "mailbox", "tomorrow", "agenda", "notes", "and",
    "of", "to", "in", "for", "with", "on", "is", "we", "will", "should", "could", "a", "an",
];

/// A text line of 40..76 octets; about one in ten starts with a dot (POP3 must byte-stuff it).
fn text_line(rng: &mut u64, out: &mut Vec<u8>) {
    match next_random(rng) % 40 {
        0 => out.extend_from_slice(b".\r\n"),
        1 => out.extend_from_slice(b"..\r\n"),
        2 | 3 => out.push(b'.'),
        _ => {}
    }
    if out.ends_with(b"\n") {
        return;
    }
    let target = 40 + (next_random(rng) % 37) as usize;
    let start = out.len();
    while out.len() - start < target {
        if out.len() > start {
            out.push(b' ');
        }
        let word = WORDS[(next_random(rng) % WORDS.len() as u64) as usize];
        out.extend_from_slice(word.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

fn base64_line(rng: &mut u64, out: &mut Vec<u8>) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for _ in 0..76 {
        out.push(ALPHABET[(next_random(rng) % 64) as usize]);
    }
    out.extend_from_slice(b"\r\n");
}

/// Message `index` (0-based) of `account`: realistic headers, a text body with dot-led lines,
/// and for the large ones a base64 attachment; CRLF throughout; about `target` octets.
fn make_message(account: usize, name: &str, index: usize) -> Vec<u8> {
    let target = match index % 10 {
        0..=5 => SMALL,
        6..=8 => MEDIUM,
        _ => LARGE,
    };
    let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (((account as u64) << 32) | (index as u64 + 1));
    let mut m = Vec::with_capacity(target + 2048);
    let (minute, second) = (index / 60 % 60, index % 60);
    let sender = next_random(&mut rng) % 1000;
    write!(
        m,
        "Return-Path: <sender{sender}@example.org>\r\n\
         Received: from mx.example.org (mx.example.org [192.0.2.25])\r\n\
         \tby mail.example.net with ESMTPS id {account:04x}{index:06x}\r\n\
         \tfor <{name}@example.net>; Mon, 3 Mar 2025 10:{minute:02}:{second:02} +0000\r\n\
         From: Sender {sender} <sender{sender}@example.org>\r\n\
         To: {name} <{name}@example.net>\r\n\
         Subject: Load test message {index} for {name}\r\n\
         Date: Mon, 3 Mar 2025 10:{minute:02}:{second:02} +0000\r\n\
         Message-ID: <{account}.{index}.pop3-load@example.org>\r\n\
         MIME-Version: 1.0\r\n"
    )
    .expect("writing to a Vec");
    if target == LARGE {
        m.extend_from_slice(
            b"Content-Type: multipart/mixed; boundary=\"=_pop3_load_boundary\"\r\n\r\n\
              This is a multi-part message in MIME format.\r\n\r\n\
              --=_pop3_load_boundary\r\n\
              Content-Type: text/plain; charset=us-ascii\r\n\r\n",
        );
        for _ in 0..40 {
            text_line(&mut rng, &mut m);
        }
        m.extend_from_slice(
            b"\r\n--=_pop3_load_boundary\r\n\
              Content-Type: application/pdf; name=\"report.pdf\"\r\n\
              Content-Transfer-Encoding: base64\r\n\
              Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n",
        );
        while m.len() < target - 40 {
            base64_line(&mut rng, &mut m);
        }
        m.extend_from_slice(b"\r\n--=_pop3_load_boundary--\r\n");
    } else {
        m.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        while m.len() < target {
            text_line(&mut rng, &mut m);
        }
    }
    m
}

/// Builds the workload in memory and delivers it with `MaildirStore` into `root` (one thread
/// per few accounts; every delivery is fsynced by the store).
fn build_workload(root: &Path, accounts: usize, messages: usize) -> Result<Workload, String> {
    let width = accounts.to_string().len().max(2);
    let names: Vec<String> = (1..=accounts).map(|i| format!("load{i:0width$}")).collect();
    let all: Vec<Vec<Vec<u8>>> = names
        .iter()
        .enumerate()
        .map(|(a, name)| (0..messages).map(|i| make_message(a, name, i)).collect())
        .collect();
    let store = MaildirStore::open(root).map_err(|e| format!("open {}: {e}", root.display()))?;
    let threads = 8.min(accounts);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for worker in 0..threads {
            let (store, names, all, failures) = (&store, &names, &all, &failures);
            scope.spawn(move || {
                for account in (worker..names.len()).step_by(threads) {
                    let result = AccountName::try_from(names[account].as_str())
                        .map_err(|e| e.to_string())
                        .and_then(|name| {
                            all[account].iter().try_for_each(|message| {
                                store
                                    .deliver(&name, &mut message.as_slice())
                                    .map(|_| ())
                                    .map_err(|e| e.to_string())
                            })
                        });
                    if let Err(error) = result {
                        failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("deliver to {}: {error}", names[account]));
                        return;
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(first) = failures.into_iter().next() {
        return Err(first);
    }
    Ok(Workload {
        names,
        messages: all,
    })
}

/// Copies a directory tree (regular files and directories only) byte for byte.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// mail-server

/// A running mail-server, stopped (SIGTERM, then SIGKILL) when dropped.
struct MailServer {
    child: Option<Child>,
    address: SocketAddr,
}

impl MailServer {
    fn config_text(data_dir: &Path) -> String {
        format!(
            "# Written by pop3-load.\n\
             data_dir = \"{}\"\n\
             hostname = \"localhost\"\n\
             allow_plaintext_auth = true\n\
             [limits]\n\
             max_connections = 2000\n\
             shutdown_grace_secs = 2\n\
             [pop3]\n\
             enabled = true\n\
             listen = [\"127.0.0.1:0\"]\n\
             listen_tls = []\n",
            data_dir.display()
        )
    }

    fn add_users(binary: &Path, config: &Path, names: &[String]) -> Result<(), String> {
        for name in names {
            let mut child = Command::new(binary)
                .arg("--config")
                .arg(config)
                .args(["user", "add", name, "--password-stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("run {}: {e}", binary.display()))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin
                    .write_all(format!("{PASSWORD}\n").as_bytes())
                    .map_err(|e| format!("password to user add: {e}"))?;
            }
            let output = child
                .wait_with_output()
                .map_err(|e| format!("user add {name}: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "mail-server user add {name} failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
        Ok(())
    }

    fn start(binary: &Path, config: &Path, log: &Path) -> Result<MailServer, String> {
        let log_file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        register_server(child.id(), None);
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        // Reads stdout to its end (the server's exit), so the pipe never fills.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once nobody listens any more, sends fail: keep draining.
                let _ = lines_tx.send(line);
            }
        });
        let mut server = MailServer {
            child: Some(child),
            address: SocketAddr::from((LOOPBACK, 0)),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    let listening = line
                        .strip_prefix("POP3: ")
                        .and_then(|rest| rest.strip_suffix(" (STLS)"))
                        .and_then(|address| address.trim().parse::<SocketAddr>().ok());
                    if let Some(address) = listening {
                        server.address = address;
                        return Ok(server);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let logs = fs::read_to_string(log).unwrap_or_default();
                    return Err(format!("mail-server exited at start:\n{logs}"));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= deadline {
                return Err("mail-server printed no `POP3: ... (STLS)` line in 20 s".into());
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child);
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM, a wait of up to [`STOP_TIMEOUT`], then SIGKILL.
fn stop_child(mut child: Child) {
    let pid = child.id();
    if !process::stop(&mut child, STOP_TIMEOUT) {
        eprintln!("pop3-load: pid {pid} ignored SIGTERM for {STOP_TIMEOUT:?}; killed it");
    }
    unregister_server(pid);
}

// ---------------------------------------------------------------------------------------------
// Dovecot

fn find_dovecot(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    programs::find("dovecot")
        .ok_or_else(|| "dovecot not found (install dovecot-pop3d or pass --dovecot)".into())
}

/// A running private Dovecot instance (`mail_testkit::dovecot`: SIGTERM to its master, then
/// SIGKILL, also to what is left of its processes), registered for the emergency clean-up.
struct Dovecot(dovecot::Dovecot);

impl Dovecot {
    fn start(
        binary: &Path,
        dir: &Path,
        mail_root: &Path,
        passdb: DovecotPassdb,
    ) -> Result<Dovecot, String> {
        let passdb = match passdb {
            DovecotPassdb::Static => dovecot::Passdb::Static(PASSWORD.into()),
            DovecotPassdb::Argon2id => dovecot::Passdb::PasswdFile {
                scheme: "ARGON2ID".into(),
                path: dir.join("passwd"),
            },
        };
        let config = dovecot::Config::new(
            "pop3-load (benches/src/bin/pop3-load.rs)",
            dovecot::Protocol::Pop3,
            mail_root,
            passdb,
        )
        .instance_prefix("pop3-load")
        .setting("auth_failure_delay", "0")
        // Dovecot's documented high-performance login mode: long-lived login processes, one
        // per core or more, each taking many connections. Each POP3 session still gets its own
        // pop3 process (service_count = 1, the default).
        .login_service_line("service_count = 0")
        .login_service_line("process_min_avail = 4")
        .extra("service pop3 {\n  process_limit = 1024\n}\n")
        .start_timeout(START_TIMEOUT)
        .stop_timeout(STOP_TIMEOUT);
        dovecot::Dovecot::start_with(binary, dir, &config, |pid, instance| {
            register_server(pid, Some(instance.to_string()))
        })
        .map(Dovecot)
    }
}

impl std::ops::Deref for Dovecot {
    type Target = dovecot::Dovecot;

    fn deref(&self) -> &dovecot::Dovecot {
        &self.0
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let pid = self.0.pid();
        self.0.stop();
        unregister_server(pid);
    }
}

/// A passwd-file with mail-server's argon2id hash of every account (from its users file:
/// `name:hash:access`), so Dovecot verifies the same hashes.
fn write_dovecot_passwd(users_file: &Path, passwd: &Path) -> Result<(), String> {
    let users = fs::read_to_string(users_file)
        .map_err(|e| format!("read {}: {e}", users_file.display()))?;
    let mut text = String::new();
    for line in users
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut fields = line.split(':');
        let (Some(name), Some(hash)) = (fields.next(), fields.next()) else {
            return Err(format!("unexpected users file line: {line}"));
        };
        if !hash.starts_with("$argon2id$") {
            return Err(format!("{name}: not an argon2id hash in the users file"));
        }
        text.push_str(&format!("{name}:{{ARGON2ID}}{hash}\n"));
    }
    fs::write(passwd, text).map_err(|e| format!("write {}: {e}", passwd.display()))?;
    fs::set_permissions(passwd, fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", passwd.display()))
}

// ---------------------------------------------------------------------------------------------
// The load

/// Counts (and for sampled retrievals keeps) the octets of a RETR.
struct Sink {
    bytes: u64,
    capture: Option<Vec<u8>>,
}

impl AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.bytes += data.len() as u64;
        if let Some(capture) = &mut this.capture {
            capture.extend_from_slice(data);
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Phases of a session, for the timing breakdown.
const PHASES: [&str; 5] = ["connect", "login", "LIST", "RETR all", "QUIT"];

#[derive(Debug, Default)]
struct Stats {
    sessions: u64,
    retrievals: u64,
    bytes: u64,
    /// Retrievals compared byte for byte, and those that differed (or had the wrong size).
    verified: u64,
    mismatches: u64,
    /// Failed sessions by the phase that failed.
    errors: BTreeMap<&'static str, u64>,
    error_samples: Vec<String>,
    /// Time spent in each phase by completed sessions.
    phase_time: [Duration; 5],
    /// Duration of each completed session.
    session_times: Vec<Duration>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.sessions += other.sessions;
        self.retrievals += other.retrievals;
        self.bytes += other.bytes;
        self.verified += other.verified;
        self.mismatches += other.mismatches;
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
        for sample in other.error_samples {
            if self.error_samples.len() < 8 && !self.error_samples.contains(&sample) {
                self.error_samples.push(sample);
            }
        }
        for (mine, theirs) in self.phase_time.iter_mut().zip(other.phase_time) {
            *mine += theirs;
        }
        self.session_times.extend(other.session_times);
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum::<u64>() + self.mismatches
    }

    fn error(&mut self, kind: &'static str, text: String) {
        *self.errors.entry(kind).or_default() += 1;
        if self.error_samples.len() < 8 {
            self.error_samples.push(format!("{kind}: {text}"));
        }
    }
}

struct Shared {
    workload: Arc<Workload>,
    config: ClientConfig,
    /// Accounts not in use by a session of this run: a session takes one and gives it back,
    /// so no two sessions of ours ever share a maildrop (mail-server locks it, RFC 1939 §8).
    idle_accounts: Mutex<VecDeque<usize>>,
}

impl Shared {
    fn take_account(&self) -> Option<usize> {
        self.idle_accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    fn give_back(&self, account: usize) {
        self.idle_accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(account);
    }
}

/// One session; `verify_every` 1 compares every message. Failures are counted in `stats` by
/// phase; completed retrievals count even if a later phase fails.
async fn session(
    shared: &Shared,
    account: usize,
    verify_every: u64,
    rng: &mut u64,
    stats: &mut Stats,
) -> Result<(), (&'static str, String)> {
    let expected = &shared.workload.messages[account];
    let name = &shared.workload.names[account];
    let mut times = [Duration::ZERO; 5];
    let started = Instant::now();
    let mut mark = started;
    let mut lap = |phase: usize, times: &mut [Duration; 5]| {
        let now = Instant::now();
        times[phase] += now - mark;
        mark = now;
    };
    let mut client = Client::connect(&shared.config)
        .await
        .map_err(|e| ("connect", e.to_string()))?;
    lap(0, &mut times);
    client
        .login(name, PASSWORD)
        .await
        .map_err(|e| ("login", e.to_string()))?;
    lap(1, &mut times);
    let listing = client.list().await.map_err(|e| ("LIST", e.to_string()))?;
    let sizes_right = listing.len() == expected.len()
        && listing
            .iter()
            .zip(expected)
            .enumerate()
            .all(|(i, ((number, size), message))| {
                *number as usize == i + 1 && *size == message.len() as u64
            });
    if !sizes_right {
        return Err((
            "LIST",
            format!(
                "{name}: listing of {} messages does not match the workload's {}",
                listing.len(),
                expected.len()
            ),
        ));
    }
    lap(2, &mut times);
    for (number, _) in listing {
        let verify = next_random(rng).is_multiple_of(verify_every);
        let mut sink = Sink {
            bytes: 0,
            capture: verify.then(Vec::new),
        };
        let size = client
            .retr(number, &mut sink)
            .await
            .map_err(|e| ("RETR", format!("{name} #{number}: {e}")))?;
        let message = &expected[number as usize - 1];
        stats.retrievals += 1;
        stats.bytes += sink.bytes;
        let mut wrong = size != message.len() as u64 || sink.bytes != size;
        if let Some(captured) = sink.capture {
            stats.verified += 1;
            wrong |= captured != *message;
        }
        if wrong {
            stats.mismatches += 1;
            if stats.error_samples.len() < 8 {
                stats.error_samples.push(format!(
                    "verify: {name} #{number}: got {size} octets, differing from the {} \
                     delivered",
                    message.len()
                ));
            }
        }
    }
    lap(3, &mut times);
    client.quit().await.map_err(|e| ("QUIT", e.to_string()))?;
    lap(4, &mut times);
    stats.sessions += 1;
    for (total, phase) in stats.phase_time.iter_mut().zip(times) {
        *total += phase;
    }
    stats.session_times.push(started.elapsed());
    Ok(())
}

/// One client: sessions back to back until `until`; every session on an account no other
/// session of ours holds.
async fn client_loop(
    shared: Arc<Shared>,
    id: u64,
    until: Instant,
    verify_every: u64,
    max_sessions: Option<u64>,
) -> Stats {
    let mut stats = Stats::default();
    let mut rng = 0x5eed_0000_0000_0001 ^ (id << 17) ^ (id + 1);
    let mut started = 0;
    while Instant::now() < until && max_sessions.is_none_or(|max| started < max) {
        let Some(account) = shared.take_account() else {
            // More clients than accounts (not possible after main raises the account count).
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        started += 1;
        let outcome = tokio::time::timeout(
            SESSION_TIMEOUT,
            session(&shared, account, verify_every, &mut rng, &mut stats),
        )
        .await;
        shared.give_back(account);
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err((kind, text))) => stats.error(kind, text),
            Err(_) => stats.error("timeout", format!("session over {SESSION_TIMEOUT:?}")),
        }
    }
    stats
}

fn client_config(address: SocketAddr) -> ClientConfig {
    ClientConfig {
        address,
        server_name: "localhost".into(),
        security: Security::Plain,
        tls: None,
        options: ClientOptions {
            greeting_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
        connect_timeout: Duration::from_secs(5),
    }
}

struct RunResult {
    server: &'static str,
    warmup: Stats,
    stats: Stats,
    elapsed: Duration,
    memory: MemorySamples,
    server_cpu: f64,
    own_cpu: f64,
}

/// Warm-up (every account once, every message compared), then `clients` clients for
/// `duration` with memory sampling.
async fn drive(
    server: &'static str,
    address: SocketAddr,
    processes: Processes,
    workload: Arc<Workload>,
    args: &Args,
    ticks_per_second: u64,
) -> RunResult {
    let clients = args.clients as usize;
    let shared = Arc::new(Shared {
        workload: workload.clone(),
        config: client_config(address),
        idle_accounts: Mutex::new((0..workload.names.len()).collect()),
    });
    eprintln!(
        "[{server}] warm-up: one session per account ({} accounts), every message compared",
        workload.names.len()
    );
    // Warm-up: each account once (the pool hands every account out exactly once as long as
    // every worker does one session at a time and the first pass is not finished).
    let mut warmup = Stats::default();
    let warm_deadline = Instant::now() + Duration::from_secs(30);
    let mut tasks = Vec::new();
    let per_worker = workload.names.len().div_ceil(clients) as u64;
    for id in 0..clients.min(workload.names.len()) {
        let shared = shared.clone();
        tasks.push(tokio::spawn(client_loop(
            shared,
            1000 + id as u64,
            warm_deadline,
            1,
            Some(per_worker),
        )));
    }
    for task in tasks {
        match task.await {
            Ok(stats) => warmup.merge(stats),
            Err(error) => warmup.error("task", error.to_string()),
        }
    }
    eprintln!(
        "[{server}] {clients} clients for {} s (memory sampled every {} ms)",
        args.duration,
        SAMPLE_EVERY.as_millis()
    );
    let duration = Duration::from_secs(args.duration);
    let sampler = Sampler::start(
        processes,
        SamplerOptions {
            every: SAMPLE_EVERY,
            limit: Some(duration + SESSION_TIMEOUT + Duration::from_secs(5)),
            pss: true,
        },
    );
    let cpu_before = processes.cpu_ticks();
    let own_before = Processes::Single(std::process::id()).cpu_ticks();
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for id in 0..clients {
        tasks.push(tokio::spawn(client_loop(
            shared.clone(),
            id as u64,
            until,
            args.verify_every,
            None,
        )));
    }
    let mut stats = Stats::default();
    for task in tasks {
        match task.await {
            Ok(client) => stats.merge(client),
            Err(error) => stats.error("task", error.to_string()),
        }
    }
    let elapsed = started.elapsed();
    let server_cpu = processes.cpu_ticks().saturating_sub(cpu_before) as f64;
    let own_cpu = Processes::Single(std::process::id())
        .cpu_ticks()
        .saturating_sub(own_before) as f64;
    let memory = sampler.finish();
    RunResult {
        server,
        warmup,
        stats,
        elapsed,
        memory,
        server_cpu: server_cpu / ticks_per_second as f64,
        own_cpu: own_cpu / ticks_per_second as f64,
    }
}

// ---------------------------------------------------------------------------------------------
// Report

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

fn retrievals_per_second(run: &RunResult) -> f64 {
    run.stats.retrievals as f64 / run.elapsed.as_secs_f64()
}

fn report(runs: &mut [RunResult], workload: &Workload, args: &Args) {
    println!();
    println!(
        "workload: {} accounts x {} messages = {} messages, {:.1} MB; {} clients, {} s each; \
         login via the crate's Client::login",
        workload.names.len(),
        args.messages,
        workload.message_count(),
        workload.total_bytes() as f64 / 1e6,
        args.clients,
        args.duration
    );
    println!();
    println!(
        "{:<12} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>6} {:>8} {:>8} {:>7}",
        "server",
        "retr/s",
        "MB/s",
        "sessions/s",
        "peak RSS",
        "mean RSS",
        "peak PSS",
        "procs",
        "srv CPU",
        "load CPU",
        "errors"
    );
    for run in runs.iter() {
        let seconds = run.elapsed.as_secs_f64();
        let (peak, mean) = (run.memory.peak_rss(), run.memory.mean_rss());
        let peak_pss = run.memory.peak_pss();
        println!(
            "{:<12} {:>9.1} {:>8.1} {:>10.1} {:>10} {:>10} {:>10} {:>6} {:>7.1}s {:>7.1}s {:>7}",
            run.server,
            retrievals_per_second(run),
            run.stats.bytes as f64 / 1e6 / seconds,
            run.stats.sessions as f64 / seconds,
            mib(peak),
            mib(mean),
            mib(peak_pss),
            run.memory.max_processes,
            run.server_cpu,
            run.own_cpu,
            run.stats.error_count() + run.warmup.error_count(),
        );
    }
    if let [ours, dovecot] = &*runs {
        let ratio =
            retrievals_per_second(ours) / retrievals_per_second(dovecot).max(f64::MIN_POSITIVE);
        let cpu_per =
            |run: &RunResult| run.server_cpu * 1000.0 / run.stats.retrievals.max(1) as f64;
        println!();
        println!(
            "ratio mail-server/Dovecot, retrievals/s: {ratio:.2}   (server CPU ms per retrieval: \
             mail-server {:.3}, Dovecot {:.3})",
            cpu_per(ours),
            cpu_per(dovecot)
        );
    }
    println!();
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "ms/session",
        PHASES[0],
        PHASES[1],
        PHASES[2],
        PHASES[3],
        PHASES[4],
        "p50",
        "p99",
        "max",
        "samples"
    );
    for run in runs.iter_mut() {
        let sessions = run.stats.sessions.max(1) as u32;
        let phase = |i: usize| ms(run.stats.phase_time[i] / sessions);
        run.stats.session_times.sort();
        let times = &run.stats.session_times;
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            run.server,
            phase(0),
            phase(1),
            phase(2),
            phase(3),
            phase(4),
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.99)),
            ms(times.last().copied().unwrap_or_default()),
            run.memory.rss.len(),
        );
    }
    println!();
    for run in runs.iter() {
        println!(
            "{}: warm-up {} sessions, {} of {} messages compared byte for byte, {} errors; \
             measured {} sessions, {} retrievals ({} compared byte for byte), {} mismatches{}",
            run.server,
            run.warmup.sessions,
            run.warmup.verified,
            workload.message_count(),
            run.warmup.error_count(),
            run.stats.sessions,
            run.stats.retrievals,
            run.stats.verified,
            run.stats.mismatches,
            if run.stats.errors.is_empty() {
                String::new()
            } else {
                format!(", failed sessions by phase {:?}", run.stats.errors)
            }
        );
        for sample in run
            .warmup
            .error_samples
            .iter()
            .chain(&run.stats.error_samples)
        {
            println!("  {sample}");
        }
    }
}

/// Warnings and errors a server logged (Dovecot's log, mail-server's stderr).
fn complaints(log: &Path, markers: &[&str]) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| markers.iter().any(|marker| line.contains(marker)))
        .map(str::to_string)
        .collect()
}

fn print_complaints(server: &str, lines: &[String]) {
    if lines.is_empty() {
        println!("{server} log: no warnings or errors");
        return;
    }
    println!(
        "{server} log: {} warning/error lines, first ones:",
        lines.len()
    );
    for line in lines.iter().take(5) {
        println!("  {line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Main

fn mail_server_binary(given: &Path) -> Result<PathBuf, String> {
    if given.is_file() {
        return Ok(given.to_path_buf());
    }
    if given == Path::new("target/release/mail-server") {
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
            let candidate = PathBuf::from(dir).join("release/mail-server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "mail-server binary {} not found; build it with `cargo build --release -p \
         mail-examples --bin mail-server` and pass --mail-server PATH",
        given.display()
    ))
}

/// Hard limit of the whole run, after which the watchdog stops everything.
fn hard_limit(args: &Args) -> Duration {
    Duration::from_secs(45 + 2 * (args.duration + 25))
}

fn run(args: &Args, temp: &Path, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    let mail_server = mail_server_binary(&args.mail_server)?;
    let dovecot_binary = find_dovecot(args.dovecot.as_deref())?;
    let mut accounts = args.accounts as usize;
    if accounts < args.clients as usize {
        eprintln!(
            "note: {accounts} accounts for {} clients: raised to {} so that no two concurrent \
             sessions share a maildrop (mail-server locks it per RFC 1939; see the README)",
            args.clients, args.clients
        );
        accounts = args.clients as usize;
    }
    let ticks = process::clock_ticks_per_second();

    // The workload, delivered once, copied for Dovecot.
    let built = Instant::now();
    let ms_dir = temp.join("mail-server");
    let ms_maildir = ms_dir.join("maildir");
    let workload = Arc::new(build_workload(
        &ms_maildir,
        accounts,
        args.messages as usize,
    )?);
    let dc_dir = temp.join("dovecot");
    let dc_maildir = dc_dir.join("maildir");
    copy_tree(&ms_maildir, &dc_maildir).map_err(|e| format!("copy the Maildir: {e}"))?;
    eprintln!(
        "workload: {} messages, {:.1} MB, in two Maildir trees ({:.1} s)",
        workload.message_count(),
        workload.total_bytes() as f64 / 1e6,
        built.elapsed().as_secs_f64()
    );

    // mail-server: accounts, then the server.
    let ms_config = temp.join("mail-server.toml");
    fs::write(&ms_config, MailServer::config_text(&ms_dir))
        .map_err(|e| format!("write {}: {e}", ms_config.display()))?;
    MailServer::add_users(&mail_server, &ms_config, &workload.names)?;
    let mut runs = Vec::new();
    let ms_log = temp.join("mail-server.log");
    {
        let server = MailServer::start(&mail_server, &ms_config, &ms_log)?;
        eprintln!(
            "[mail-server] pid {} listening on {}",
            server.pid(),
            server.address
        );
        runs.push(runtime.block_on(drive(
            "mail-server",
            server.address,
            Processes::Single(server.pid()),
            workload.clone(),
            args,
            ticks,
        )));
        // Dropping `server` here stops it before Dovecot starts: one server at a time.
    }

    // Dovecot.
    if args.dovecot_passdb == DovecotPassdb::Argon2id {
        fs::create_dir_all(&dc_dir).map_err(|e| format!("dovecot dir: {e}"))?;
        write_dovecot_passwd(&ms_dir.join("users"), &dc_dir.join("passwd"))?;
    }
    let dovecot_complaints;
    {
        let dovecot = Dovecot::start(&dovecot_binary, &dc_dir, &dc_maildir, args.dovecot_passdb)?;
        eprintln!(
            "[dovecot] master pid {} listening on {} (passdb {:?})",
            dovecot.pid(),
            dovecot.address(),
            args.dovecot_passdb
        );
        runs.push(runtime.block_on(drive(
            "dovecot",
            dovecot.address(),
            Processes::Tree(dovecot.pid()),
            workload.clone(),
            args,
            ticks,
        )));
        // Read before the stop adds its own shutdown lines.
        dovecot_complaints = dovecot.complaints();
    }

    report(&mut runs, &workload, args);
    println!();
    print_complaints("mail-server", &complaints(&ms_log, &[" WARN ", " ERROR "]));
    print_complaints("dovecot", &dovecot_complaints);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !programs::is_root() {
        eprintln!(
            "pop3-load: must run as root: Dovecot's master starts as root to switch its mail \
             processes to uid/gid {} (try `sudo -E cargo run --release -p mail-benches \
             --bin pop3-load -- ...`)",
            dovecot::MAIL_UID
        );
        return ExitCode::from(2);
    }
    let temp = match tempfile::Builder::new().prefix("pop3-load-").tempdir() {
        Ok(temp) => temp,
        Err(error) => {
            eprintln!("pop3-load: temporary directory: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Dovecot's unprivileged processes must traverse it (tempdirs are made 0700).
    if let Err(error) = dovecot::make_traversable(temp.path()) {
        eprintln!("pop3-load: chmod {}: {error}", temp.path().display());
        return ExitCode::FAILURE;
    }
    emergency().get_or_insert_with(Emergency::default).temp_dir =
        (!args.keep).then(|| temp.path().to_path_buf());

    // The watchdog: a hang anywhere ends the run within the hard limit, servers stopped.
    let done = Arc::new(AtomicBool::new(false));
    let limit = hard_limit(&args);
    {
        let done = done.clone();
        thread::spawn(move || {
            let started = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if started.elapsed() > limit {
                    emergency_exit(&format!("the run took over {limit:?}"), 3);
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pop3-load: tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            emergency_exit("interrupted", 130);
        }
    });

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&args, temp.path(), &runtime)
    }));
    done.store(true, Ordering::Relaxed);
    runtime.shutdown_timeout(Duration::from_secs(1));
    let code = match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("pop3-load: {error}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("pop3-load: panicked (servers stopped by their drop guards)");
            ExitCode::FAILURE
        }
    };
    if args.keep {
        let kept = temp.keep();
        println!("kept {}", kept.display());
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_sizes_crlf_and_dot_lines_promised() {
        let small = make_message(0, "load01", 0);
        let medium = make_message(0, "load01", 6);
        let large = make_message(0, "load01", 9);
        assert!(
            (SMALL..SMALL + 200).contains(&small.len()),
            "{}",
            small.len()
        );
        assert!((MEDIUM..MEDIUM + 200).contains(&medium.len()));
        assert!((LARGE - 200..LARGE + 200).contains(&large.len()));
        for message in [&small, &medium, &large] {
            assert!(message.ends_with(b"\r\n"));
            let bare_lf = message
                .windows(2)
                .filter(|pair| pair[1] == b'\n' && pair[0] != b'\r')
                .count();
            assert_eq!(bare_lf, 0);
            assert!(message.is_ascii());
        }
        let dot_lines = medium.windows(3).filter(|w| w == b"\r\n.").count();
        assert!(dot_lines > 5, "{dot_lines}");
        assert_ne!(make_message(1, "load02", 0), small);
    }
}
