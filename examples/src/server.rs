//! Start-up and shutdown of `mail-server`: the listeners of the protocols this build serves
//! (bound first, so that a port in use stops the start before any file is written), data
//! folder, users file, TLS certificate, the store, demo account, and what the operator should
//! be warned of.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use pop3_proto::tokio::{Pop3Server, Pop3ServerConfig};
use smtp_submit::tokio::{Smarthost, StoreRouter, SubmissionServer, SubmissionServerConfig};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use mail_session::listener::{
    serve_service, ConnectionService, ListenerOptions, LoginThrottle, Shutdown,
};
use mail_session::login_delay::LoginDelayPolicy;
use mail_session::tls::{self, SelfSigned, TlsSetupError};
use mailstore::{
    generate_password, AccessPolicy, AddressLogins, Directory, MailStore, MaildirStore, StoreError,
    UsersFile, UsersFileError,
};
use thiserror::Error;

use crate::config::{Config, SmarthostConfig, SmarthostSecurity};
use crate::remote;

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The data folder could not be made.
    #[error("data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The users file is unusable.
    #[error(transparent)]
    Users(#[from] UsersFileError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The mail store could not be opened.
    #[error("mail store: {0}")]
    Store(#[from] StoreError),
    /// The smarthost setting cannot be used.
    #[error("submission smarthost: {0}")]
    Smarthost(String),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Everything the listeners need, made ready.
pub struct Prepared {
    /// The configuration in force.
    pub config: Config,
    /// Who may log in.
    pub users: Arc<UsersFile>,
    /// The mail.
    pub store: Arc<dyn MailStore>,
    /// The same store, as the Maildir it is (for its upkeep: [`MaildirStore::clean_tmp`]).
    pub maildir: Arc<MaildirStore>,
    /// The TLS server configuration; `None` when no certificate is configured (`self_signed
    /// = false` and neither file present): then no implicit-TLS listener is opened and no
    /// STLS/STARTTLS offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The demo account's name and password, when the configuration asks for one.
    pub demo: Option<(String, String)>,
    /// The failed-login delay every listener shares.
    pub login_throttle: LoginThrottle,
    /// What the operator should know and fix (each logged as a warning at start).
    pub warnings: Vec<String>,
    /// The listeners bound by [`prepare`], until [`start`] serves them.
    bound: Mutex<Option<Vec<Bound>>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("config", &self.config)
            .field("demo", &self.demo.as_ref().map(|(name, _)| name))
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// A listening socket bound at start, not yet served.
#[derive(Debug)]
struct Bound {
    protocol: &'static str,
    implicit_tls: bool,
    listener: std::net::TcpListener,
}

/// Binds the listeners of every enabled protocol this build serves (the implicit-TLS ones
/// only `with_tls`).
fn bind_all(config: &Config, with_tls: bool) -> Result<Vec<Bound>, StartError> {
    let mut bound = Vec::new();
    let protocols = [
        (
            "POP3",
            config.pop3.enabled,
            &config.pop3.listen,
            &config.pop3.listen_tls,
        ),
        (
            "submission",
            config.submission.enabled,
            &config.submission.listen,
            &config.submission.listen_tls,
        ),
    ];
    for (protocol, enabled, plain, implicit) in protocols {
        if !enabled || !SERVED_PROTOCOLS.contains(&protocol) {
            continue;
        }
        let implicit: &[SocketAddr] = if with_tls { implicit } else { &[] };
        for (addresses, implicit_tls) in [(plain.as_slice(), false), (implicit, true)] {
            for &address in addresses {
                let listener = std::net::TcpListener::bind(address)
                    .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
                    .map_err(|source| StartError::Bind { address, source })?;
                bound.push(Bound {
                    protocol,
                    implicit_tls,
                    listener,
                });
            }
        }
    }
    Ok(bound)
}

/// Creates a folder and its missing parents, each readable by the owner only (0700).
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

const DEMO_ACCOUNT: &str = "demo";

/// Binds the listeners, then makes the data folder (0700), users file, certificate and demo
/// account ready, opens the store (removing what killed deliveries left in `tmp/`), and
/// collects the warnings, which it logs. A port in use fails the start before any file is
/// written.
pub fn prepare(config: &Config) -> Result<Prepared, StartError> {
    let (certificate, private_key) = (config.certificate_path(), config.private_key_path());
    let exists = |path: &Path| path.try_exists().unwrap_or(true);
    let with_tls = config.tls.self_signed || exists(&certificate) || exists(&private_key);
    let bound = bind_all(config, with_tls)?;
    create_private_dir(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let users = Arc::new(
        UsersFile::open(config.users_path())?
            .with_login_cache(Duration::from_secs(config.login_cache_secs)),
    );
    let now = SystemTime::now();
    let tls = if with_tls {
        if config.tls.self_signed {
            // The configured name, and the loopback names clients of a local server use.
            let mut names = vec![config.hostname.clone()];
            for local in ["localhost", "127.0.0.1", "::1"] {
                if !names.iter().any(|name| name == local) {
                    names.push(local.to_string());
                }
            }
            match tls::ensure_self_signed_at(&certificate, &private_key, &names, now)? {
                SelfSigned::Made => {
                    tracing::info!(certificate = %certificate.display(), "made a self-signed certificate")
                }
                SelfSigned::Renewed => {
                    tracing::info!(certificate = %certificate.display(), "renewed the self-signed certificate")
                }
                _ => {}
            }
        }
        Some(tls::server_config(&certificate, &private_key)?)
    } else {
        None
    };
    let maildir = Arc::new(MaildirStore::open(config.maildir_root())?);
    match maildir.clean_tmp(now) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed stale files from the Maildirs' tmp/"),
        Err(error) => tracing::warn!(%error, "could not clean the Maildirs' tmp/"),
    }
    let store: Arc<dyn MailStore> = maildir.clone();
    let demo = if config.demo_account {
        Some(demo_account(config, &users, &*store)?)
    } else {
        None
    };
    let login_throttle = LoginThrottle::new({
        let mut login_delay_policy = LoginDelayPolicy::default();
        login_delay_policy.initial =
            Duration::from_millis(config.limits.failed_login_initial_delay_ms);
        login_delay_policy.maximum = Duration::from_secs(config.limits.failed_login_max_delay_secs);
        login_delay_policy
    });
    let mut warnings = config.warnings();
    if users.list()?.is_empty() {
        warnings.push(format!(
            "the users file {} has no accounts: nobody can log in (add them with \
             `mail-server user add NAME` or `mail-server user import FILE`)",
            config.users_path().display()
        ));
    }
    if tls.is_none() {
        let consequence = if config.allow_plaintext_auth {
            "passwords cross the network in the clear"
        } else {
            "with allow_plaintext_auth = false nobody can log in"
        };
        warnings.push(format!(
            "no TLS: neither {} nor {} exists and [tls] self_signed = false, so no implicit-TLS \
             listener is opened and no STLS/STARTTLS offered; {consequence}",
            certificate.display(),
            private_key.display()
        ));
    }
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    Ok(Prepared {
        config: config.clone(),
        users,
        store,
        maildir,
        tls,
        demo,
        login_throttle,
        warnings,
        bound: Mutex::new(Some(bound)),
    })
}

/// Creates the demo account at first start (its password kept in `<data_dir>/demo-password`,
/// readable by the owner only) and returns its credentials.
fn demo_account(
    config: &Config,
    users: &UsersFile,
    store: &dyn MailStore,
) -> Result<(String, String), StartError> {
    let password_file = config.data_dir.join("demo-password");
    let exists = users
        .list()?
        .iter()
        .any(|(name, _)| name.as_str() == DEMO_ACCOUNT);
    let password = match std::fs::read_to_string(&password_file) {
        Ok(password) if exists => password.trim().to_string(),
        _ => {
            let password = generate_password();
            if exists {
                users.set_password(DEMO_ACCOUNT, &password)?;
            } else {
                users.add_user(DEMO_ACCOUNT, &password, AccessPolicy::default())?;
            }
            write_private(&password_file, &password).map_err(|source| StartError::DataDir {
                path: password_file.clone(),
                source,
            })?;
            password
        }
    };
    let account = mailstore::AccountName::try_from(DEMO_ACCOUNT).map_err(StoreError::from)?;
    store.list_mailboxes(&account)?;
    Ok((DEMO_ACCOUNT.to_string(), password))
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(path)?, format!("{text}\n").as_bytes())
}

/// The protocols this build serves. Each protocol issue adds its own.
pub const SERVED_PROTOCOLS: &[&str] = &["POP3", "submission"];

/// A listening socket of the running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    /// `POP3`, `IMAP4` or `submission`.
    pub protocol: &'static str,
    /// The bound address (with the real port when the configuration said 0).
    pub address: SocketAddr,
    /// Implicit TLS (true) or plain with STARTTLS/STLS (false).
    pub implicit_tls: bool,
}

/// The server's listeners, running.
#[derive(Debug)]
pub struct Running {
    /// Every bound listener.
    pub listening: Vec<Listening>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Waits until every listener has shut down (after the [`Shutdown`] is triggered and the
    /// grace period of open connections has passed).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// How often the Maildirs' `tmp/` are cleaned while the server runs.
const TMP_CLEAN_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Serves every listener [`prepare`] bound (binding them again if `start` runs a second
/// time), and cleans the Maildirs' `tmp/` once a day until shutdown.
pub async fn start(prepared: &Prepared, shutdown: &Shutdown) -> Result<Running, StartError> {
    let config = &prepared.config;
    let bound = prepared
        .bound
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    let bound = match bound {
        Some(bound) => bound,
        None => bind_all(config, prepared.tls.is_some())?,
    };
    let mut running = Running {
        listening: Vec::new(),
        tasks: JoinSet::new(),
    };
    let listener_options = {
        let mut listener_options = ListenerOptions::default();
        listener_options.max_connections = config.limits.max_connections;
        listener_options.max_connections_per_address = config.limits.max_connections_per_address;
        listener_options.shutdown_grace = Duration::from_secs(config.limits.shutdown_grace_secs);
        listener_options.tcp_keepalive =
            Some(Duration::from_secs(config.limits.tcp_keepalive_secs));
        listener_options
    };
    // Mail programs log in with the full address: `alice@<a local domain>` is `alice`.
    let directory: Arc<dyn Directory> = Arc::new(AddressLogins::new(
        prepared.users.clone(),
        local_domains(config),
    ));
    let (pop3, submission): (Vec<Bound>, Vec<Bound>) = bound
        .into_iter()
        .partition(|bound| bound.protocol == "POP3");
    if !pop3.is_empty() {
        let mut session = pop3_proto::server::Options::default();
        session.allow_plaintext_auth = config.allow_plaintext_auth;
        session.inactivity_timeout = Duration::from_secs(config.pop3.inactivity_timeout_secs);
        session.pre_auth_timeout = Duration::from_secs(config.pop3.pre_auth_timeout_secs);
        session.greeting = format!("{} POP3 server ready", config.hostname);
        session.implementation = Some(format!("mail-server {}", env!("CARGO_PKG_VERSION")));
        session.limits.max_line_length = config.pop3.max_line_length;
        let server = Pop3Server::builder(prepared.store.clone(), directory.clone())
            .throttle(prepared.login_throttle.clone())
            .tls(prepared.tls.clone())
            .config({
                let mut pop3_server_config = Pop3ServerConfig::default();
                pop3_server_config.session = session;
                pop3_server_config.listener = listener_options;
                pop3_server_config.inline_read_limit = config.pop3.inline_read_limit;
                pop3_server_config
            })
            .build();
        listen(&mut running, server, pop3, shutdown)?;
    }
    if !submission.is_empty() {
        let settings = &config.submission;
        let smarthost = match &settings.smarthost {
            Some(smarthost) => Some(smarthost_client(config, smarthost).await?),
            None => None,
        };
        let router = StoreRouter::new(
            prepared.store.clone(),
            prepared.users.clone(),
            local_domains(config),
            smarthost,
            settings.require_own_sender,
            config.hostname.clone(),
        );
        let mut session = smtp_submit::server::Options::default();
        session.allow_plaintext_auth = config.allow_plaintext_auth;
        session.hostname = config.hostname.clone();
        session.idle_timeout = Duration::from_secs(settings.timeout_secs);
        session.pre_auth_timeout = Duration::from_secs(settings.pre_auth_timeout_secs);
        session.max_message_duration = Duration::from_secs(settings.max_message_duration_secs);
        session.max_recipients = settings.max_recipients;
        session.limits.max_message_size = settings.max_message_size;
        session.limits.max_line_length = settings.max_line_length;
        let spool_directory = config.data_dir.join("spool");
        create_private_dir(&spool_directory).map_err(|source| StartError::DataDir {
            path: spool_directory.clone(),
            source,
        })?;
        let server = SubmissionServer::builder(router)
            .directory(directory)
            .throttle(prepared.login_throttle.clone())
            .tls(prepared.tls.clone())
            .config({
                let mut submission_server_config = SubmissionServerConfig::default();
                submission_server_config.session = session;
                submission_server_config.listener = listener_options;
                submission_server_config.spool_directory = spool_directory;
                submission_server_config
            })
            .build();
        listen(&mut running, server, submission, shutdown)?;
    }
    let maildir = prepared.maildir.clone();
    let mut stop = shutdown.subscribe();
    running.tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TMP_CLEAN_INTERVAL) => {}
                _ = stop.changed() => return,
            }
            let maildir = maildir.clone();
            let cleaned =
                tokio::task::spawn_blocking(move || maildir.clean_tmp(SystemTime::now())).await;
            match cleaned {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => {
                    tracing::info!(removed, "removed stale files from the Maildirs' tmp/")
                }
                Ok(Err(error)) => tracing::warn!(%error, "could not clean the Maildirs' tmp/"),
                Err(error) => tracing::warn!(%error, "the tmp/ clean-up stopped"),
            }
        }
    });
    Ok(running)
}

/// The domains delivered here.
fn local_domains(config: &Config) -> Vec<String> {
    if config.submission.local_domains.is_empty() {
        vec![config.hostname.clone()]
    } else {
        config.submission.local_domains.clone()
    }
}

/// Serves a protocol's bound listeners with `server`.
fn listen<S: ConnectionService>(
    running: &mut Running,
    server: Arc<S>,
    bound: Vec<Bound>,
    shutdown: &Shutdown,
) -> Result<(), StartError> {
    for Bound {
        protocol,
        implicit_tls,
        listener,
    } in bound
    {
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            address: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        let listener = TcpListener::from_std(listener)
            .map_err(|source| StartError::Bind { address, source })?;
        running.listening.push(Listening {
            protocol,
            address,
            implicit_tls,
        });
        running.tasks.spawn(serve_service(
            server.clone(),
            listener,
            implicit_tls,
            shutdown.subscribe(),
        ));
        tracing::info!(%address, implicit_tls, "{protocol} listening");
    }
    Ok(())
}

/// The smarthost's client settings, from the configuration.
async fn smarthost_client(
    config: &Config,
    smarthost: &SmarthostConfig,
) -> Result<Smarthost, StartError> {
    use smtp_submit::tokio::{ClientConfig, Security};
    let security = match smarthost.security {
        SmarthostSecurity::Starttls => Security::StartTls,
        SmarthostSecurity::ImplicitTls => Security::ImplicitTls,
        SmarthostSecurity::Plain => Security::Plain,
    };
    let tls = match security {
        Security::Plain => None,
        _ => Some(remote::client_tls(smarthost.ca_file.as_deref()).map_err(StartError::Smarthost)?),
    };
    let credentials = match (&smarthost.username, &smarthost.password_file) {
        (Some(user), Some(file)) => Some((
            user.clone(),
            remote::read_password(Some(file), false).map_err(StartError::Smarthost)?,
        )),
        (None, None) => None,
        _ => {
            return Err(StartError::Smarthost(
                "username and password_file go together".into(),
            ))
        }
    };
    let helo_name = smtp_submit::types::Domain::name(&config.hostname)
        .map_err(|error| StartError::Smarthost(format!("hostname as EHLO name: {error}")))?;
    Ok(Smarthost {
        client: ClientConfig {
            address: remote::resolve(&smarthost.address)
                .await
                .map_err(StartError::Smarthost)?,
            server_name: smarthost
                .server_name
                .clone()
                .unwrap_or_else(|| remote::host_of(&smarthost.address)),
            security,
            tls,
            helo_name,
            options: smtp_submit::client::ClientOptions::default(),
            connect_timeout: Duration::from_secs(30),
        },
        credentials,
    })
}

/// What mail clients need to know (what autoconfiguration would tell them), where the data
/// lives, and in demo mode a `curl` command per protocol that logs in as the demo account.
pub fn settings_summary(prepared: &Prepared, running: &Running) -> String {
    let config = &prepared.config;
    let mut text = String::new();
    let _ = writeln!(text, "server name: {}", config.hostname);
    for (name, enabled, upgrade) in [
        ("POP3", config.pop3.enabled, "STLS"),
        ("IMAP4", config.imap.enabled, "STARTTLS"),
        ("submission", config.submission.enabled, "STARTTLS"),
    ] {
        if !enabled {
            let _ = writeln!(text, "{name}: off");
            continue;
        }
        if !SERVED_PROTOCOLS.contains(&name) {
            let _ = writeln!(text, "{name}: enabled, but not yet served by this build");
            continue;
        }
        for listening in running.listening.iter().filter(|l| l.protocol == name) {
            let security = if listening.implicit_tls {
                "SSL/TLS"
            } else if prepared.tls.is_some() {
                upgrade
            } else {
                "no TLS"
            };
            let _ = writeln!(text, "{name}: {} ({security})", listening.address);
        }
    }
    let _ = writeln!(text, "data folder: {}", config.data_dir.display());
    let _ = writeln!(
        text,
        "maildir: {} (each account's mail in {}/<account>/)",
        config.maildir_root().display(),
        config.maildir_root().display()
    );
    let _ = writeln!(text, "users file: {}", config.users_path().display());
    if prepared.tls.is_some() {
        let _ = writeln!(text, "certificate: {}", config.certificate_path().display());
    } else {
        let _ = writeln!(text, "certificate: none (no TLS)");
    }
    if config.allow_plaintext_auth {
        let _ = writeln!(
            text,
            "WARNING: passwords are accepted without TLS (allow_plaintext_auth)"
        );
    }
    for warning in &prepared.warnings {
        let _ = writeln!(text, "WARNING: {warning}");
    }
    if let Some((name, password)) = &prepared.demo {
        let _ = writeln!(text, "demo account: user {name}, password {password}");
        for (protocol, command) in demo_commands(prepared, running, name, password) {
            let _ = writeln!(text, "try {protocol}: {command}");
        }
    }
    text
}

/// A word for the shell, in single quotes.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The host a client on this machine reaches `address` by, as the certificate names it.
fn url_host(config: &Config, address: SocketAddr) -> String {
    match address.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".into(),
        ip if ip.is_unspecified() => "[::1]".into(),
        ip if ip.is_loopback() && ip.is_ipv4() => ip.to_string(),
        ip if ip.is_loopback() => format!("[{ip}]"),
        _ => config.hostname.clone(),
    }
}

/// For each protocol served, a `curl` command that logs in as the demo account: over
/// implicit TLS where there is such a listener, else with STLS/STARTTLS (`--ssl-reqd`),
/// trusting the server's certificate with `--cacert`; without TLS only when passwords may
/// cross in the clear. POP3 lists the INBOX; submission sends the account a message.
fn demo_commands(
    prepared: &Prepared,
    running: &Running,
    name: &str,
    password: &str,
) -> Vec<(&'static str, String)> {
    let config = &prepared.config;
    let tls = prepared.tls.is_some();
    if !tls && !config.allow_plaintext_auth {
        return Vec::new();
    }
    let cacert = if tls {
        format!(
            "--cacert {} ",
            shell_quote(&config.certificate_path().display().to_string())
        )
    } else {
        String::new()
    };
    let user = shell_quote(&format!("{name}:{password}"));
    let pick = |protocol: &str| {
        let of = |implicit| {
            running
                .listening
                .iter()
                .find(|l| l.protocol == protocol && l.implicit_tls == implicit)
        };
        of(true).or_else(|| of(false))
    };
    let mut commands = Vec::new();
    if let Some(listening) = pick("POP3") {
        let host = url_host(config, listening.address);
        let port = listening.address.port();
        let url = match (listening.implicit_tls, tls) {
            (true, _) => format!("pop3s://{host}:{port}/"),
            (false, true) => format!("--ssl-reqd pop3://{host}:{port}/"),
            (false, false) => format!("pop3://{host}:{port}/"),
        };
        commands.push(("POP3", format!("curl {cacert}--user {user} {url}")));
    }
    if let Some(listening) = pick("submission") {
        let host = url_host(config, listening.address);
        let port = listening.address.port();
        let url = match (listening.implicit_tls, tls) {
            (true, _) => format!("smtps://{host}:{port}"),
            (false, true) => format!("--ssl-reqd smtp://{host}:{port}"),
            (false, false) => format!("smtp://{host}:{port}"),
        };
        let domain = local_domains(config)
            .into_iter()
            .next()
            .unwrap_or_else(|| config.hostname.clone());
        let address = format!("{name}@{domain}");
        let message = format!(
            "From: {address}\\r\\nTo: {address}\\r\\nSubject: mail-server works\\r\\n\\r\\n\
             Sent with curl.\\r\\n"
        );
        commands.push((
            "submission",
            format!(
                "printf {} | curl {cacert}--user {user} --mail-from {} --mail-rcpt {} \
                 --upload-file - {url}",
                shell_quote(&message),
                shell_quote(&address),
                shell_quote(&address),
            ),
        ));
    }
    commands
}
