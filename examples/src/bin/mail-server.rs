//! `mail-server`: POP3, IMAP4 and submission on one Maildir.
//!
//! ```text
//! mail-server [--config FILE]                 run (without a file: the demo set-up)
//! mail-server [--config FILE] user add NAME [--password-stdin] [--admin]
//! mail-server [--config FILE] user passwd NAME [--password-stdin]
//! mail-server [--config FILE] user set NAME [--pop3 on|off] [--imap on|off] [--submission on|off] [--admin on|off]
//! mail-server [--config FILE] user list
//! mail-server [--config FILE] user remove NAME
//! mail-server [--config FILE] user import [FILE]    (name:password lines; stdin without FILE)
//! ```

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mail_examples::config::Config;
use mail_examples::server;
use mail_session::listener::Shutdown;
use mailstore::{generate_password, AccessPolicy, UsersFile};

#[derive(Debug, Parser)]
#[command(
    name = "mail-server",
    version,
    about = "POP3, IMAP4 and SMTP submission on a Maildir"
)]
struct Cli {
    /// The TOML configuration file. Without one, the demo set-up runs: data in ./mail-data,
    /// loopback high ports, a self-signed certificate and a demo account.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Run,
    /// Manage accounts in the users file.
    #[command(subcommand, after_help = USERS_FILE_HELP)]
    User(UserCommand),
}

/// The users file's format, for `user --help`.
const USERS_FILE_HELP: &str = "\
The users file (default <data_dir>/users; `users_file` in the configuration) holds one
account a line, written by these commands:

    name:argon2-hash:access
    alice:$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>:pop3,imap,submission
    root:$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>:submission,admin

- name: 1 to 64 letters, digits and . _ - + @, not starting with a dot, lower-cased;
  `anonymous` and `guest` never log in.
- argon2-hash: an argon2 PHC string; passwords are never stored.
- access: the protocols the account may use (pop3, imap, submission), and admin for an
  administrator (never reaches a mailbox over POP3 or IMAP4). A protocol not listed is off.
- Lines starting with # are comments. The running server re-reads the file when it changes.

Each account's mail is the Maildir <data_dir>/maildir/<name>/ (its INBOX; other folders
inside it, Maildir++ style, as Dovecot keeps them).

`user import` reads one account a line (from FILE, or standard input):

    name:password                         a password, hashed on import
    name:$argon2id$v=19$m=...$salt$hash   a hash made elsewhere, kept as it is

The name ends at the first colon; the rest of the line is the password, colons and spaces
included. Empty lines and # comments are skipped. Every protocol is on for imported
accounts. The users file is rewritten once; any bad line (named by its number), or an
account that exists already, imports nothing.";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Switch {
    fn on(self) -> bool {
        matches!(self, Switch::On)
    }
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add an account with every protocol on. Without --password-stdin a random password is
    /// made and printed.
    Add {
        /// The account name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Make it an administrator (no POP3/IMAP4 access).
        #[arg(long)]
        admin: bool,
    },
    /// Set an account's password.
    Passwd {
        /// The account name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Switch an account's protocols on or off.
    Set {
        /// The account name.
        name: String,
        /// POP3 access.
        #[arg(long)]
        pop3: Option<Switch>,
        /// IMAP4 access.
        #[arg(long)]
        imap: Option<Switch>,
        /// Submission access.
        #[arg(long)]
        submission: Option<Switch>,
        /// Administrator (never reaches a mailbox over POP3/IMAP4).
        #[arg(long)]
        admin: Option<Switch>,
    },
    /// List accounts and what they may use.
    List,
    /// Remove an account (its mail stays on disk).
    Remove {
        /// The account name.
        name: String,
    },
    /// Add many accounts at once: `name:password` or `name:$argon2id$...` lines (see `user
    /// --help`), in one rewrite of the users file; a bad line imports nothing.
    Import {
        /// The file to read; standard input without it (or with `-`).
        file: Option<PathBuf>,
    },
}

fn read_password(from_stdin: bool) -> Result<(String, bool), String> {
    if !from_stdin {
        return Ok((generate_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("reading the password: {error}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err("empty password on standard input".into());
    }
    Ok((password, false))
}

fn policy_text(policy: &AccessPolicy) -> String {
    let on_off = |on: bool| if on { "on" } else { "off" };
    format!(
        "pop3={} imap={} submission={}{}",
        on_off(policy.pop3),
        on_off(policy.imap),
        on_off(policy.submission),
        if policy.admin { " admin" } else { "" }
    )
}

fn user_command(config: &Config, command: UserCommand) -> Result<(), String> {
    let users = UsersFile::open(config.users_path()).map_err(|error| error.to_string())?;
    match command {
        UserCommand::Add {
            name,
            password_stdin,
            admin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let mut policy = AccessPolicy::default();
            policy.admin = admin;
            let account = users
                .add_user(&name, &password, policy)
                .map_err(|error| error.to_string())?;
            println!("added {account}");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            users
                .set_password(&name, &password)
                .map_err(|error| error.to_string())?;
            println!("password of {name} changed");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Set {
            name,
            pop3,
            imap,
            submission,
            admin,
        } => {
            let policy = users
                .set_policy(&name, |policy| {
                    if let Some(switch) = pop3 {
                        policy.pop3 = switch.on();
                    }
                    if let Some(switch) = imap {
                        policy.imap = switch.on();
                    }
                    if let Some(switch) = submission {
                        policy.submission = switch.on();
                    }
                    if let Some(switch) = admin {
                        policy.admin = switch.on();
                    }
                })
                .map_err(|error| error.to_string())?;
            println!("{name}: {}", policy_text(&policy));
        }
        UserCommand::List => {
            for (name, policy) in users.list().map_err(|error| error.to_string())? {
                println!("{name}: {}", policy_text(&policy));
            }
        }
        UserCommand::Remove { name } => {
            users
                .remove_user(&name)
                .map_err(|error| error.to_string())?;
            println!("removed {name}");
        }
        UserCommand::Import { file } => {
            let (text, source) = match file.filter(|file| file.as_os_str() != "-") {
                Some(file) => (
                    std::fs::read_to_string(&file)
                        .map_err(|error| format!("{}: {error}", file.display()))?,
                    file.display().to_string(),
                ),
                None => {
                    let mut text = String::new();
                    std::io::stdin()
                        .lock()
                        .read_to_string(&mut text)
                        .map_err(|error| format!("reading standard input: {error}"))?;
                    (text, "standard input".to_string())
                }
            };
            let imported = users
                .import(&text, AccessPolicy::default())
                .map_err(|error| format!("{source}: {error}"))?;
            println!(
                "imported {} account{} into {}",
                imported.len(),
                if imported.len() == 1 { "" } else { "s" },
                users.path().display()
            );
        }
    }
    Ok(())
}

/// The log filter: `RUST_LOG` if set (else `info`), with rustls held to errors unless
/// `RUST_LOG` names rustls itself. rustls warns of what clients do wrong and the operator
/// cannot change, such as fetchmail's and mpop's IP address sent as TLS server name ("Illegal
/// SNI extension: ignoring IP address").
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let spec = rust_log.filter(|spec| !spec.trim().is_empty());
    let names_rustls = spec.is_some_and(|spec| spec.contains("rustls"));
    let filter = spec
        .and_then(|spec| tracing_subscriber::EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    match "rustls=error".parse() {
        Ok(quiet) if !names_rustls => filter.add_directive(quiet),
        _ => filter,
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Tunes glibc's allocator for a long-running threaded server, before any thread starts.
///
/// - Blocks of 1 MiB and more (argon2's 19 MiB working memory above all) always come from
///   their own mapping and go back to the system when freed. Left alone, glibc raises this
///   threshold after the first such free, and later blocks stay in its heaps for good.
/// - At most two heaps ("arenas") for all threads: the default, eight per core, lets each of
///   tokio's blocking threads keep its own partly used heap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists, and invalid values are refused by returning 0, which is ignored.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match &cli.config {
        Some(path) => match Config::load(path) {
            Ok(config) => config,
            Err(error) => {
                eprintln!("mail-server: {error}");
                return ExitCode::from(2);
            }
        },
        None => Config::demo(),
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::User(command) => match user_command(&config, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("mail-server: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Run => {
            let prepared = match server::prepare(&config) {
                Ok(prepared) => prepared,
                Err(error) => {
                    eprintln!("mail-server: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("mail-server: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = runtime.block_on(async {
                let shutdown = Shutdown::new();
                let running = server::start(&prepared, &shutdown).await?;
                print!("{}", server::settings_summary(&prepared, &running));
                wait_for_signal().await;
                shutdown.trigger();
                running.wait().await;
                Ok::<(), server::StartError>(())
            });
            if let Err(error) = outcome {
                eprintln!("mail-server: {error}");
                return ExitCode::FAILURE;
            }
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
    }
}
