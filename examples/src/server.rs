//! Start-up and shutdown of `mail-server`: data folder, users file, TLS certificate, demo
//! account, the store, and the listeners of the protocols this build serves.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use mail_session::listener::{LoginThrottle, Shutdown};
use mail_session::login_delay::LoginDelayPolicy;
use mail_session::tls::{self, TlsSetupError};
use mailstore::{
    generate_password, AccessPolicy, MailStore, MaildirStore, StoreError, UsersFile, UsersFileError,
};
use thiserror::Error;

use crate::config::Config;

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
}

/// Everything the listeners need, made ready.
#[derive(Debug)]
pub struct Prepared {
    /// The configuration in force.
    pub config: Config,
    /// Who may log in.
    pub users: Arc<UsersFile>,
    /// The mail.
    pub store: Arc<MaildirStore>,
    /// The TLS server configuration.
    pub tls: Arc<rustls::ServerConfig>,
    /// The demo account's name and password, when the configuration asks for one.
    pub demo: Option<(String, String)>,
    /// The failed-login delay every listener shares.
    pub login_throttle: LoginThrottle,
}

const DEMO_ACCOUNT: &str = "demo";

/// Makes the data folder, users file, certificate and demo account ready, and opens the store.
pub fn prepare(config: &Config) -> Result<Prepared, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let users = Arc::new(UsersFile::open(config.users_path())?);
    let (certificate, private_key) = (config.certificate_path(), config.private_key_path());
    if config.tls.self_signed
        && tls::ensure_self_signed(
            &certificate,
            &private_key,
            std::slice::from_ref(&config.hostname),
        )?
    {
        tracing::info!(certificate = %certificate.display(), "made a self-signed certificate");
    }
    let tls = tls::server_config(&certificate, &private_key)?;
    let store = Arc::new(MaildirStore::open(config.maildir_root())?);
    let demo = if config.demo_account {
        Some(demo_account(config, &users, &store)?)
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
    store: &MaildirStore,
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

/// The protocols this build can serve. Each protocol issue adds its own.
pub const SERVED_PROTOCOLS: &[&str] = &[];

/// What mail clients need to know (what autoconfiguration would tell them).
pub fn settings_summary(prepared: &Prepared) -> String {
    let config = &prepared.config;
    let mut text = String::new();
    let _ = writeln!(text, "server name: {}", config.hostname);
    for (name, enabled, plain, implicit, upgrade) in [
        (
            "POP3",
            config.pop3.enabled,
            &config.pop3.listen,
            &config.pop3.listen_tls,
            "STLS",
        ),
        (
            "IMAP4",
            config.imap.enabled,
            &config.imap.listen,
            &config.imap.listen_tls,
            "STARTTLS",
        ),
        (
            "submission",
            config.submission.enabled,
            &config.submission.listen,
            &config.submission.listen_tls,
            "STARTTLS",
        ),
    ] {
        if !enabled {
            let _ = writeln!(text, "{name}: off");
            continue;
        }
        if !SERVED_PROTOCOLS.contains(&name) {
            let _ = writeln!(text, "{name}: enabled, but not yet served by this build");
            continue;
        }
        for address in plain {
            let _ = writeln!(text, "{name}: {address} ({upgrade})");
        }
        for address in implicit {
            let _ = writeln!(text, "{name}: {address} (SSL/TLS)");
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

/// Runs the server until `shutdown` is triggered.
pub async fn run(prepared: Prepared, shutdown: Shutdown) {
    let mut stop = shutdown.subscribe();
    tracing::info!(
        data_dir = %prepared.config.data_dir.display(),
        "mail-server ready"
    );
    let _ = stop.wait_for(|stopped| *stopped).await;
    tracing::info!("shutting down");
}
