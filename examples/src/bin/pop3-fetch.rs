//! `pop3-fetch`: download the messages of one POP3 mailbox that were not downloaded before,
//! each to its own file, remembering their UIDLs in a state file; leave them on the server or
//! delete them; once, or every N minutes.
//!
//! ```text
//! pop3-fetch --server mail.example.org:995 --security implicit --user support \
//!            --password-file ~/.support-pw --state support.seen --out-dir inbox/ [--delete] [--every 5]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mail_examples::remote;
use mail_session::sasl::Secret;
use pop3_proto::client::ClientOptions;
use pop3_proto::tokio::{poll_once, ClientConfig, DirectorySink, PollConfig, Security, UidlMemory};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SecurityArg {
    /// TLS from the first byte (port 995).
    Implicit,
    /// STLS before login (port 110).
    Starttls,
    /// No TLS: only for tests on loopback.
    Plain,
}

#[derive(Debug, Parser)]
#[command(
    name = "pop3-fetch",
    version,
    about = "Fetch new POP3 messages into a directory"
)]
struct Arguments {
    /// The server as host:port.
    #[arg(long)]
    server: String,
    /// The name the server's certificate must carry (default: the host of --server).
    #[arg(long)]
    server_name: Option<String>,
    /// How the connection is protected.
    #[arg(long, value_enum, default_value = "implicit")]
    security: SecurityArg,
    /// A PEM file of trusted certificates; default: the system's trust store.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// The account name.
    #[arg(long)]
    user: String,
    /// Read the password from this file (first line).
    #[arg(long, conflicts_with = "password_stdin")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (first line).
    #[arg(long)]
    password_stdin: bool,
    /// The file that remembers which messages were taken.
    #[arg(long)]
    state: PathBuf,
    /// Where each message is written, as `<uidl>.eml`.
    #[arg(long)]
    out_dir: PathBuf,
    /// Delete messages from the server once they are safely written.
    #[arg(long)]
    delete: bool,
    /// Poll every this many minutes until interrupted (default: once).
    #[arg(long)]
    every: Option<u64>,
}

async fn run(arguments: Arguments) -> Result<(), String> {
    let security = match arguments.security {
        SecurityArg::Implicit => Security::ImplicitTls,
        SecurityArg::Starttls => Security::StartTls,
        SecurityArg::Plain => Security::Plain,
    };
    let tls = match security {
        Security::Plain => None,
        _ => Some(remote::client_tls(arguments.ca_file.as_deref())?),
    };
    let host = remote::host_of(&arguments.server);
    let config = {
        let mut poll_config = PollConfig::new(
            ClientConfig {
                address: remote::resolve(&arguments.server).await?,
                server_name: arguments.server_name.clone().unwrap_or(host),
                security,
                tls,
                options: ClientOptions::default(),
                connect_timeout: Duration::from_secs(30),
            },
            arguments.user.clone(),
            Secret::new(remote::read_password(
                arguments.password_file.as_deref(),
                arguments.password_stdin,
            )?),
        );
        poll_config.delete = arguments.delete;
        poll_config
    };
    let mut sink = DirectorySink::new(&arguments.out_dir).map_err(|error| error.to_string())?;
    loop {
        let mut memory = UidlMemory::load(&arguments.state).map_err(|error| error.to_string())?;
        match poll_once(&config, &mut memory, &mut sink).await {
            Ok(report) => println!(
                "{} on server, {} fetched, {} deleted",
                report.on_server, report.fetched, report.deleted
            ),
            Err(error) if arguments.every.is_some() => {
                eprintln!("pop3-fetch: {error} (will retry)")
            }
            Err(error) => return Err(error.to_string()),
        }
        let Some(minutes) = arguments.every else {
            return Ok(());
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(minutes.max(1) * 60)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pop3-fetch: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pop3-fetch: {error}");
            ExitCode::FAILURE
        }
    }
}
