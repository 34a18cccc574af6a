//! `smtp-send`: submit one message (a file, or standard input) through a submission server,
//! with TLS and authentication, streaming it rather than reading it whole.
//!
//! ```text
//! smtp-send --server mail.example.org:587 --security starttls --user alice \
//!           --password-file ~/.mail-pw --from alice@example.org --to bob@example.net message.eml
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mail_examples::remote;
use smtp_submit::client::ClientOptions;
use smtp_submit::server::Recipient;
use smtp_submit::tokio::{Client, ClientConfig, Envelope, Security};
use smtp_submit::types::{
    BodyType, Domain, ForwardPath, MailParameters, Mailbox, RcptParameters, ReversePath,
};
use tokio::io::AsyncRead;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SecurityArg {
    /// TLS from the first byte (port 465).
    Implicit,
    /// STARTTLS before login (port 587).
    Starttls,
    /// No TLS: only for tests on loopback.
    Plain,
}

#[derive(Debug, Parser)]
#[command(
    name = "smtp-send",
    version,
    about = "Submit a message through an SMTP submission server"
)]
struct Arguments {
    /// The server as host:port.
    #[arg(long)]
    server: String,
    /// The name the server's certificate must carry (default: the host of --server).
    #[arg(long)]
    server_name: Option<String>,
    /// How the connection is protected.
    #[arg(long, value_enum, default_value = "starttls")]
    security: SecurityArg,
    /// A PEM file of trusted certificates; default: the system's trust store.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// The account name; without it no AUTH is attempted.
    #[arg(long)]
    user: Option<String>,
    /// Read the password from this file (first line).
    #[arg(long, conflicts_with = "password_stdin")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (first line; the message then comes from a file).
    #[arg(long)]
    password_stdin: bool,
    /// The envelope sender (empty for the null sender `<>`).
    #[arg(long)]
    from: String,
    /// A recipient; repeat for more.
    #[arg(long, required = true)]
    to: Vec<String>,
    /// What this client calls itself in EHLO.
    #[arg(long, default_value = "localhost")]
    helo: String,
    /// The message (RFC 5322, any line ends); `-` or nothing reads standard input.
    message: Option<PathBuf>,
}

fn mailbox(text: &str) -> Result<Mailbox, String> {
    Mailbox::try_from(text).map_err(|error| format!("{text:?}: {error}"))
}

/// Whether the file holds octets above 127 (then `BODY=8BITMIME` is declared, RFC 6152).
fn has_eight_bit(path: &std::path::Path) -> Result<bool, String> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        if read == 0 {
            return Ok(false);
        }
        if buffer[..read].iter().any(|&byte| byte >= 0x80) {
            return Ok(true);
        }
    }
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
    let from = if arguments.from.is_empty() {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(mailbox(&arguments.from)?)
    };
    let recipients = arguments
        .to
        .iter()
        .map(|to| {
            Ok(Recipient {
                to: ForwardPath::Mailbox(mailbox(to)?),
                parameters: RcptParameters::default(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let file = arguments
        .message
        .clone()
        .filter(|path| path.as_os_str() != "-");
    let (size, eight_bit) = match &file {
        Some(path) => (
            std::fs::metadata(path).ok().map(|metadata| metadata.len()),
            has_eight_bit(path)?,
        ),
        // Standard input cannot be scanned ahead: declare 8BITMIME, which covers 7-bit too.
        None => (None, true),
    };
    let smtputf8 = matches!(&from, ReversePath::Mailbox(m) if m.needs_smtputf8())
        || recipients
            .iter()
            .any(|r| matches!(&r.to, ForwardPath::Mailbox(m) if m.needs_smtputf8()));
    let envelope = Envelope {
        from,
        parameters: MailParameters {
            body: eight_bit.then_some(BodyType::EightBitMime),
            smtputf8,
            ..MailParameters::default()
        },
        recipients,
    };
    let password = match &arguments.user {
        Some(_) => Some(remote::read_password(
            arguments.password_file.as_deref(),
            arguments.password_stdin,
        )?),
        None => None,
    };
    let config = ClientConfig {
        address: remote::resolve(&arguments.server).await?,
        server_name: arguments
            .server_name
            .clone()
            .unwrap_or_else(|| remote::host_of(&arguments.server)),
        security,
        tls,
        helo_name: Domain::name(&arguments.helo).map_err(|error| error.to_string())?,
        options: ClientOptions::default(),
        connect_timeout: Duration::from_secs(30),
    };
    let mut client = Client::connect(&config)
        .await
        .map_err(|error| error.to_string())?;
    if let (Some(user), Some(password)) = (&arguments.user, &password) {
        client
            .login(user, password)
            .await
            .map_err(|error| error.to_string())?;
    }
    let mut reader: Box<dyn AsyncRead + Unpin + Send> = match &file {
        Some(path) => Box::new(
            tokio::fs::File::open(path)
                .await
                .map_err(|error| format!("{}: {error}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdin()),
    };
    let submitted = client
        .send_message(&envelope, size, &mut reader)
        .await
        .map_err(|error| error.to_string())?;
    for (to, reply) in &submitted.refused {
        eprintln!("smtp-send: refused {to}: {reply}");
    }
    println!("{}", submitted.reply);
    let _ = client.quit().await;
    Ok(())
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smtp-send: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp-send: {error}");
            ExitCode::FAILURE
        }
    }
}
