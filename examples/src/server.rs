//! Start-up and shutdown of `mail-server`: data folder, users file, TLS certificate, demo
//! account, the store, and the listeners of the protocols this build serves.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use std::net::SocketAddr;
use std::time::Duration;

use pop3_proto::tokio::{Pop3Server, Pop3ServerConfig};
use smtp_submit::tokio::{Smarthost, StoreRouter, SubmissionServer, SubmissionServerConfig};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use mail_session::listener::{
    serve_service, ConnectionService, ListenerOptions, LoginThrottle, Shutdown,
};
use mail_session::login_delay::LoginDelayPolicy;
use mail_session::tls::{self, TlsSetupError};
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
    /// The TLS server configuration.
    pub tls: Arc<rustls::ServerConfig>,
    /// The demo account's name and password, when the configuration asks for one.
    pub demo: Option<(String, String)>,
    /// The failed-login delay every listener shares.
    pub login_throttle: LoginThrottle,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("config", &self.config)
            .field("demo", &self.demo.as_ref().map(|(name, _)| name))
            .finish_non_exhaustive()
    }
}

const DEMO_ACCOUNT: &str = "demo";

/// Makes the data folder, users file, certificate and demo account ready, and opens the store.
pub fn prepare(config: &Config) -> Result<Prepared, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let users = Arc::new(
        UsersFile::open(config.users_path())?
            .with_login_cache(Duration::from_secs(config.login_cache_secs)),
    );
    let (certificate, private_key) = (config.certificate_path(), config.private_key_path());
    // The configured name, and the loopback names clients of a local server connect to.
    let mut names = vec![config.hostname.clone()];
    for local in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|name| name == local) {
            names.push(local.to_string());
        }
    }
    if config.tls.self_signed && tls::ensure_self_signed(&certificate, &private_key, &names)? {
        tracing::info!(certificate = %certificate.display(), "made a self-signed certificate");
    }
    let tls = tls::server_config(&certificate, &private_key)?;
    let store: Arc<dyn MailStore> = Arc::new(MaildirStore::open(config.maildir_root())?);
    let demo = if config.demo_account {
        Some(demo_account(config, &users, &*store)?)
    } else {
        None
    };
    let login_throttle = LoginThrottle::new(LoginDelayPolicy {
        initial: Duration::from_millis(config.limits.failed_login_initial_delay_ms),
        maximum: Duration::from_secs(config.limits.failed_login_max_delay_secs),
        ..LoginDelayPolicy::default()
    });
    Ok(Prepared {
        config: config.clone(),
        users,
        store,
        tls,
        demo,
        login_throttle,
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

async fn bind(address: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Binds every enabled protocol's listeners and starts serving them.
pub async fn start(prepared: &Prepared, shutdown: &Shutdown) -> Result<Running, StartError> {
    let config = &prepared.config;
    let mut running = Running {
        listening: Vec::new(),
        tasks: JoinSet::new(),
    };
    let listener_options = ListenerOptions {
        max_connections: config.limits.max_connections,
        shutdown_grace: Duration::from_secs(config.limits.shutdown_grace_secs),
        tcp_keepalive: Some(Duration::from_secs(config.limits.tcp_keepalive_secs)),
    };
    // Mail programs log in with the full address: `alice@<a local domain>` is `alice`.
    let local_domains = if config.submission.local_domains.is_empty() {
        vec![config.hostname.clone()]
    } else {
        config.submission.local_domains.clone()
    };
    let directory: Arc<dyn Directory> = Arc::new(AddressLogins::new(
        prepared.users.clone(),
        local_domains.clone(),
    ));
    if config.pop3.enabled {
        let mut session = pop3_proto::server::Options {
            allow_plaintext_auth: config.allow_plaintext_auth,
            inactivity_timeout: Duration::from_secs(config.pop3.inactivity_timeout_secs),
            greeting: format!("{} POP3 server ready", config.hostname),
            implementation: Some(format!("mail-server {}", env!("CARGO_PKG_VERSION"))),
            ..pop3_proto::server::Options::default()
        };
        session.limits.max_line_length = config.pop3.max_line_length;
        let server = Pop3Server::builder(prepared.store.clone(), directory.clone())
            .throttle(prepared.login_throttle.clone())
            .tls(prepared.tls.clone())
            .config(Pop3ServerConfig {
                session,
                listener: listener_options,
                inline_read_limit: config.pop3.inline_read_limit,
                ..Pop3ServerConfig::default()
            })
            .build();
        let addresses = (&config.pop3.listen, &config.pop3.listen_tls);
        listen(&mut running, "POP3", server, addresses, shutdown).await?;
    }
    if config.submission.enabled {
        let submission = &config.submission;
        let smarthost = match &submission.smarthost {
            Some(smarthost) => Some(smarthost_client(config, smarthost).await?),
            None => None,
        };
        let router = StoreRouter::new(
            prepared.store.clone(),
            prepared.users.clone(),
            local_domains,
            smarthost,
            submission.require_own_sender,
            config.hostname.clone(),
        );
        let mut session = smtp_submit::server::Options {
            allow_plaintext_auth: config.allow_plaintext_auth,
            hostname: config.hostname.clone(),
            idle_timeout: Duration::from_secs(submission.timeout_secs),
            max_recipients: submission.max_recipients,
            ..smtp_submit::server::Options::default()
        };
        session.limits.max_message_size = submission.max_message_size;
        session.limits.max_line_length = submission.max_line_length;
        let spool_directory = config.data_dir.join("spool");
        std::fs::create_dir_all(&spool_directory).map_err(|source| StartError::DataDir {
            path: spool_directory.clone(),
            source,
        })?;
        let server = SubmissionServer::builder(router)
            .directory(directory)
            .throttle(prepared.login_throttle.clone())
            .tls(prepared.tls.clone())
            .config(SubmissionServerConfig {
                session,
                listener: listener_options,
                spool_directory,
                ..SubmissionServerConfig::default()
            })
            .build();
        let addresses = (&submission.listen, &submission.listen_tls);
        listen(&mut running, "submission", server, addresses, shutdown).await?;
    }
    Ok(running)
}

/// Binds a protocol's plain and implicit-TLS listeners and serves each with `server`.
async fn listen<S: ConnectionService>(
    running: &mut Running,
    protocol: &'static str,
    server: Arc<S>,
    (plain, implicit): (&Vec<SocketAddr>, &Vec<SocketAddr>),
    shutdown: &Shutdown,
) -> Result<(), StartError> {
    for (addresses, implicit_tls) in [(plain, false), (implicit, true)] {
        for &address in addresses {
            let listener = bind(address).await?;
            let address = listener
                .local_addr()
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

/// What mail clients need to know (what autoconfiguration would tell them).
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
            } else {
                upgrade
            };
            let _ = writeln!(text, "{name}: {} ({security})", listening.address);
        }
    }
    let _ = writeln!(text, "certificate: {}", config.certificate_path().display());
    if config.allow_plaintext_auth {
        let _ = writeln!(
            text,
            "WARNING: passwords are accepted without TLS (allow_plaintext_auth)"
        );
    }
    if let Some((name, password)) = &prepared.demo {
        let _ = writeln!(text, "demo account: user {name}, password {password}");
    }
    text
}
