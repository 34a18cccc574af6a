//! `smtp-load`: mail-server's submission service against Postfix's smtpd under the same load.
//!
//! One run starts `mail-server` (submission with STARTTLS on a free loopback port, one account,
//! local delivery into its Maildir store, fsynced before 250) and a private Postfix instance
//! (smtpd with STARTTLS on a free loopback port, `mynetworks = 127.0.0.0/8` so no AUTH, virtual
//! Maildir delivery; Postfix fsyncs its queue file before 250, then delivers asynchronously),
//! and drives each in turn with C concurrent clients for D seconds. Each client connects,
//! upgrades with STARTTLS (trusting the server's own certificate), logs in (mail-server only),
//! and submits ~4 KiB messages in a loop (pipelined by the crate's tokio client; a new
//! connection every 50 messages). Memory is sampled every 200 ms from /proc: mail-server's
//! process, or the sum over Postfix's master and every process below it.
//!
//! Needs root (Postfix's master). Everything lives in one temporary directory, removed at the
//! end; both servers are stopped by drop guards. The Postfix instance and the /proc sampling
//! come from `mail-testkit`, shared with the tests and pop3-load.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use mail_testkit::memory::{MemorySamples, Sampler, SamplerOptions};
use mail_testkit::postfix::Postfix;
use mail_testkit::process::{self, Processes};
use smtp_submit::client::ClientOptions;
use smtp_submit::server::Recipient;
use smtp_submit::tokio::{Client, ClientConfig, Envelope, Security};
use smtp_submit::types::{
    BodyType, Domain, ForwardPath, MailParameters, Mailbox, RcptParameters, ReversePath,
};

/// The account on mail-server and its password.
const ACCOUNT: &str = "load";
const PASSWORD: &str = "smtp-load-secret";
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// How often memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Messages per connection before a new one is opened.
const PER_CONNECTION: u32 = 50;
/// The longest one submission may take before it counts as an error.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server gets to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Parser)]
#[command(
    name = "smtp-load",
    about = "SMTP submission load test: mail-server against Postfix's smtpd on the same workload"
)]
struct Args {
    /// The mail-server binary (build it with `cargo build --release -p mail-examples --bin
    /// mail-server`).
    #[arg(long, default_value = "target/release/mail-server")]
    mail_server: PathBuf,
    /// The postfix command.
    #[arg(long, default_value = "/usr/sbin/postfix")]
    postfix: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    clients: u32,
    /// Seconds of measured load per server.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    duration: u64,
    /// Size of each message in octets (approximately, whole lines).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(256..=1_048_576))]
    size: u64,
    /// Keep the temporary directory (configurations, logs, Maildirs) and print its path.
    #[arg(long)]
    keep: bool,
}

// ---------------------------------------------------------------------------------------------
// mail-server

struct MailServer {
    child: Option<Child>,
    address: SocketAddr,
    certificate: PathBuf,
}

impl MailServer {
    fn start(binary: &Path, root: &Path) -> Result<MailServer, String> {
        let data = root.join("mail-server-data");
        let config = root.join("mail-server.toml");
        fs::write(
            &config,
            format!(
                "# Written by smtp-load.\n\
                 data_dir = {:?}\n\
                 hostname = \"localhost\"\n\
                 allow_plaintext_auth = false\n\
                 [limits]\n\
                 max_connections = 2000\n\
                 shutdown_grace_secs = 2\n\
                 [submission]\n\
                 enabled = true\n\
                 listen = [\"127.0.0.1:0\"]\n\
                 listen_tls = []\n\
                 local_domains = [\"localhost\"]\n",
                data.display().to_string()
            ),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        let mut add = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .args(["user", "add", ACCOUNT, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run {}: {e}", binary.display()))?;
        if let Some(mut stdin) = add.stdin.take() {
            stdin
                .write_all(format!("{PASSWORD}\n").as_bytes())
                .map_err(|e| format!("password to user add: {e}"))?;
        }
        let output = add
            .wait_with_output()
            .map_err(|e| format!("user add: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mail-server user add failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let log = root.join("mail-server.log");
        let log_file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (lines_tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let mut server = MailServer {
            child: Some(child),
            address: SocketAddr::from((LOOPBACK, 0)),
            certificate: data.join("tls/cert.pem"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(address) = line
                        .strip_prefix("submission: ")
                        .and_then(|rest| rest.strip_suffix(" (STARTTLS)"))
                        .and_then(|address| address.trim().parse().ok())
                    {
                        server.address = address;
                    }
                    if line.starts_with("certificate:") && server.address.port() != 0 {
                        return Ok(server);
                    }
                }
                Err(_) => {
                    let logs = fs::read_to_string(&log).unwrap_or_default();
                    return Err(format!("mail-server did not start:\n{logs}"));
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop(&mut child, Duration::from_secs(10));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Postfix

/// A private Postfix instance (`mail_testkit::postfix`) under `root`, without connection or
/// rate limits for the load.
fn start_postfix(command: &Path, root: &Path) -> Result<Postfix, String> {
    Postfix::builder()
        .command(command)
        .root(root)
        .starttls(|cert, key| {
            mail_session::tls::ensure_self_signed(cert, key, &["localhost".into()])
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .setting("smtpd_client_connection_count_limit", "0")
        .setting("smtpd_client_connection_rate_limit", "0")
        .setting("smtpd_client_message_rate_limit", "0")
        .start_timeout(START_TIMEOUT)
        .start()
}

// ---------------------------------------------------------------------------------------------
// The load

/// A message of about `size` octets: headers and lines of text, CRLF, with dot-led lines.
fn make_message(size: usize, to: &str) -> Vec<u8> {
    let mut message = format!(
        "From: Load <load@localhost>\r\nTo: <{to}>\r\nSubject: smtp-load\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <smtp-load@localhost>\r\n\r\n"
    )
    .into_bytes();
    let mut line = 0u32;
    while message.len() < size {
        let text = if line.is_multiple_of(10) {
            format!(".{line} a dot-led line of the load message body, padded out\r\n")
        } else {
            format!("{line} the quick brown fox jumps over the lazy dog, again\r\n")
        };
        message.extend_from_slice(text.as_bytes());
        line += 1;
    }
    message
}

struct Target {
    name: &'static str,
    address: SocketAddr,
    certificate: PathBuf,
    login: bool,
    from: &'static str,
    to: &'static str,
}

#[derive(Default)]
struct Counters {
    messages: AtomicU64,
    octets: AtomicU64,
    errors: AtomicU64,
    connections: AtomicU64,
}

struct RunResult {
    name: &'static str,
    elapsed: Duration,
    messages: u64,
    octets: u64,
    errors: u64,
    connections: u64,
    memory: MemorySamples,
    first_error: Option<String>,
}

fn envelope(from: &str, to: &str) -> Result<Envelope, String> {
    Ok(Envelope {
        from: ReversePath::Mailbox(Mailbox::try_from(from).map_err(|e| format!("{from}: {e}"))?),
        parameters: MailParameters {
            body: Some(BodyType::SevenBit),
            ..MailParameters::default()
        },
        recipients: vec![Recipient {
            to: ForwardPath::Mailbox(Mailbox::try_from(to).map_err(|e| format!("{to}: {e}"))?),
            parameters: RcptParameters::default(),
        }],
    })
}

/// One connection: STARTTLS, AUTH (when asked), up to [`PER_CONNECTION`] messages, QUIT.
async fn connection(
    config: &ClientConfig,
    target: &Target,
    envelope: &Envelope,
    message: &[u8],
    deadline: Instant,
    counters: &Counters,
) -> Result<(), String> {
    let mut client = tokio::time::timeout(STEP_TIMEOUT, Client::connect(config))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    counters.connections.fetch_add(1, Ordering::Relaxed);
    if target.login {
        tokio::time::timeout(STEP_TIMEOUT, client.login(ACCOUNT, PASSWORD))
            .await
            .map_err(|_| "login timed out".to_string())?
            .map_err(|e| format!("login: {e}"))?;
    }
    for _ in 0..PER_CONNECTION {
        if Instant::now() >= deadline {
            break;
        }
        let mut reader = message;
        let submitted = tokio::time::timeout(
            STEP_TIMEOUT,
            client.send_message(envelope, Some(message.len() as u64), &mut reader),
        )
        .await
        .map_err(|_| "submission timed out".to_string())?
        .map_err(|e| format!("submission: {e}"))?;
        if submitted.reply.code.get() != 250 {
            return Err(format!("submission answered {}", submitted.reply));
        }
        counters.messages.fetch_add(1, Ordering::Relaxed);
        counters
            .octets
            .fetch_add(message.len() as u64, Ordering::Relaxed);
    }
    tokio::time::timeout(STEP_TIMEOUT, client.quit())
        .await
        .map_err(|_| "QUIT timed out".to_string())?
        .map_err(|e| format!("QUIT: {e}"))
}

async fn drive(target: Target, processes: Processes, args: &Args) -> Result<RunResult, String> {
    let tls = mail_session::tls::client_config_trusting(&target.certificate)
        .map_err(|e| format!("{}: {e}", target.certificate.display()))?;
    let config = Arc::new(ClientConfig {
        address: target.address,
        server_name: "localhost".into(),
        security: Security::StartTls,
        tls: Some(tls),
        helo_name: Domain::name("load.example").map_err(|e| format!("helo name: {e}"))?,
        options: ClientOptions::default(),
        connect_timeout: Duration::from_secs(10),
    });
    let envelope = Arc::new(envelope(target.from, target.to)?);
    let message: Arc<[u8]> = make_message(args.size as usize, target.to).into();
    let counters = Arc::new(Counters::default());
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let target = Arc::new(target);
    let sampler = Sampler::start(
        processes,
        SamplerOptions {
            every: SAMPLE_EVERY,
            ..SamplerOptions::default()
        },
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (config, envelope, message, counters, first_error, target) = (
            config.clone(),
            envelope.clone(),
            message.clone(),
            counters.clone(),
            first_error.clone(),
            target.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Err(error) =
                    connection(&config, &target, &envelope, &message, deadline, &counters).await
                {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(error);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    let memory = sampler.finish();
    let first_error = first_error.lock().ok().and_then(|mut first| first.take());
    Ok(RunResult {
        name: target.name,
        elapsed,
        messages: counters.messages.load(Ordering::Relaxed),
        octets: counters.octets.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
        connections: counters.connections.load(Ordering::Relaxed),
        memory,
        first_error,
    })
}

fn report(runs: &[RunResult], args: &Args) {
    println!(
        "\nsmtp-load: {} clients x {} s, {}-octet messages, STARTTLS, {PER_CONNECTION} messages \
         per connection, loopback",
        args.clients, args.duration, args.size
    );
    println!(
        "{:<12} {:>10} {:>10} {:>8} {:>8} {:>7} {:>12} {:>12}",
        "server", "messages", "msg/s", "MB/s", "conns", "errors", "peak RSS", "mean RSS"
    );
    for run in runs {
        let seconds = run.elapsed.as_secs_f64().max(f64::EPSILON);
        let (peak, mean) = (run.memory.peak_rss(), run.memory.mean_rss());
        println!(
            "{:<12} {:>10} {:>10.1} {:>8.2} {:>8} {:>7} {:>9.1} MiB {:>8.1} MiB",
            run.name,
            run.messages,
            run.messages as f64 / seconds,
            run.octets as f64 / seconds / 1e6,
            run.connections,
            run.errors,
            peak as f64 / 1024.0,
            mean as f64 / 1024.0,
        );
        if let Some(error) = &run.first_error {
            println!("  first error of {}: {error}", run.name);
        }
    }
    println!(
        "Both answer 250 only once the message is on disk (mail-server: fsynced in the \
         recipient's Maildir; Postfix: its queue file fsynced, delivery follows asynchronously). \
         Postfix's RSS is the sum over its master and all its processes."
    );
}

fn run(args: &Args, root: &Path, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    if !args.mail_server.is_file() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p mail-examples --bin \
             mail-server` and pass --mail-server",
            args.mail_server.display()
        ));
    }
    if !args.postfix.is_file() {
        return Err(format!("{} not found", args.postfix.display()));
    }
    let mut runs = Vec::new();
    {
        let dir = root.join("mail-server");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let server = MailServer::start(&args.mail_server, &dir)?;
        eprintln!("smtp-load: mail-server on {}", server.address);
        let target = Target {
            name: "mail-server",
            address: server.address,
            certificate: server.certificate.clone(),
            login: true,
            from: "load@localhost",
            to: "load@localhost",
        };
        runs.push(runtime.block_on(drive(target, Processes::Single(server.pid()), args))?);
    }
    {
        let dir = root.join("postfix");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let postfix = start_postfix(&args.postfix, &dir)?;
        eprintln!("smtp-load: postfix on 127.0.0.1:{}", postfix.port());
        let pid = postfix
            .master_pid()
            .ok_or_else(|| format!("no postfix master pid:\n{}", postfix.log()))?;
        let target = Target {
            name: "postfix",
            address: SocketAddr::from((LOOPBACK, postfix.port())),
            certificate: dir.join("cert.pem"),
            login: false,
            from: "load@localhost",
            to: "bob@remote.example",
        };
        let result = runtime.block_on(drive(target, Processes::Tree(pid), args))?;
        // Wait (bounded) for the queue to drain, to report how far delivery lagged behind.
        let drained = Instant::now();
        while postfix.queued() > 0 && drained.elapsed() < Duration::from_secs(60) {
            thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "smtp-load: postfix delivered {} of {} accepted messages {:.1} s after the load \
             stopped ({} still queued)",
            postfix.delivered_count("bob"),
            result.messages,
            drained.elapsed().as_secs_f64(),
            postfix.queued()
        );
        runs.push(result);
    }
    report(&runs, args);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smtp-load: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let temp = match tempfile::Builder::new().prefix("smtp-load-").tempdir() {
        Ok(temp) => temp,
        Err(error) => {
            eprintln!("smtp-load: temporary directory: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = run(&args, temp.path(), &runtime);
    if args.keep {
        let kept = temp.keep();
        eprintln!("smtp-load: kept {}", kept.display());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp-load: {error}");
            ExitCode::FAILURE
        }
    }
}
