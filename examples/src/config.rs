//! The `mail-server` configuration file (TOML).
//!
//! Every key has a default; a file only names what differs. Unknown keys are an error, so a
//! typo never silently leaves a protocol in its default state. `mail-server.example.toml` at
//! the crate root documents each key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Why the configuration could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        source: Box<toml::de::Error>,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where mail, the users file and the certificate live unless named separately.
    pub data_dir: PathBuf,
    /// The users file; default `<data_dir>/users`.
    pub users_file: Option<PathBuf>,
    /// The name clients use to reach this server (certificate name, greeting, settings).
    pub hostname: String,
    /// Allow USER/PASS, LOGIN and AUTH without TLS. For tests only: passwords would cross the
    /// network in the clear.
    pub allow_plaintext_auth: bool,
    /// Seconds a successful password check is remembered, so that repeated logins of the
    /// same account with the same password skip the argon2 check; 0 turns it off. Wrong
    /// passwords always take the full check, and any change to the users file clears it.
    pub login_cache_secs: u64,
    /// Create a `demo` account with a random password at first start and print it.
    pub demo_account: bool,
    /// Certificate and key.
    pub tls: TlsConfig,
    /// Limits shared by all listeners.
    pub limits: LimitsConfig,
    /// POP3.
    pub pop3: Pop3Config,
    /// IMAP4.
    pub imap: ImapConfig,
    /// SMTP submission.
    pub submission: SubmissionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("mail-data"),
            users_file: None,
            hostname: "localhost".into(),
            allow_plaintext_auth: false,
            login_cache_secs: 300,
            demo_account: false,
            tls: TlsConfig::default(),
            limits: LimitsConfig::default(),
            pop3: Pop3Config::default(),
            imap: ImapConfig::default(),
            submission: SubmissionConfig::default(),
        }
    }
}

/// Certificate and key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; default `<data_dir>/tls/cert.pem`.
    pub certificate: Option<PathBuf>,
    /// PEM private key; default `<data_dir>/tls/key.pem`.
    pub private_key: Option<PathBuf>,
    /// Make a self-signed certificate for `hostname` when neither file exists (renewed at
    /// start near its end). Off, with neither file present: no TLS.
    pub self_signed: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            certificate: None,
            private_key: None,
            self_signed: true,
        }
    }
}

/// Limits shared by all listeners.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most connections per listener.
    pub max_connections: usize,
    /// Most connections per listener from one client address; more are closed at once.
    pub max_connections_per_address: usize,
    /// Seconds open connections get to finish at shutdown.
    pub shutdown_grace_secs: u64,
    /// Delay after the first failed login from an address, in milliseconds; it doubles with
    /// each further failure.
    pub failed_login_initial_delay_ms: u64,
    /// The longest failed-login delay, in seconds.
    pub failed_login_max_delay_secs: u64,
    /// Seconds of idle time before TCP keepalive probes start.
    pub tcp_keepalive_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_connections: 500,
            max_connections_per_address: 20,
            shutdown_grace_secs: 10,
            failed_login_initial_delay_ms: 1000,
            failed_login_max_delay_secs: 5,
            tcp_keepalive_secs: 60,
        }
    }
}

/// POP3 listeners and limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3Config {
    /// Off until set.
    pub enabled: bool,
    /// Plain listeners (STLS offered).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS listeners (pop3s, RFC 8314).
    pub listen_tls: Vec<SocketAddr>,
    /// Inactivity autologout in seconds (RFC 1939: at least 10 minutes).
    pub inactivity_timeout_secs: u64,
    /// Inactivity timeout before login, in seconds. Default: 600, RFC 1939's minimum; lower
    /// frees the slots of clients that never log in sooner, below what the RFC asks for.
    pub pre_auth_timeout_secs: u64,
    /// Longest command line (RFC 2449: 255).
    pub max_line_length: usize,
    /// Messages up to this many octets are read on the async threads rather than tokio's
    /// blocking pool: faster on a local disk, but a slow disk would stall other connections
    /// for the read's duration. 0: never.
    pub inline_read_limit: u64,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            enabled: false,
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 11110))],
            listen_tls: vec![SocketAddr::from(([127, 0, 0, 1], 11995))],
            inactivity_timeout_secs: 600,
            pre_auth_timeout_secs: 600,
            max_line_length: 255,
            inline_read_limit: 65536,
        }
    }
}

/// IMAP4 listeners and limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapConfig {
    /// Off until set.
    pub enabled: bool,
    /// Plain listeners (STARTTLS offered).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS listeners (imaps, RFC 8314).
    pub listen_tls: Vec<SocketAddr>,
    /// Autologout of an idle authenticated session, in seconds (RFC 3501: at least 30 min).
    pub autologout_secs: u64,
    /// Seconds between untagged `* OK` keepalives during IDLE.
    pub idle_keepalive_secs: u64,
    /// Longest command line.
    pub max_line_length: usize,
    /// Largest literal (APPEND), in octets.
    pub max_literal_size: u64,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            enabled: false,
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 11143))],
            listen_tls: vec![SocketAddr::from(([127, 0, 0, 1], 11993))],
            autologout_secs: 30 * 60,
            idle_keepalive_secs: 120,
            max_line_length: 64 * 1024,
            max_literal_size: 50 * 1024 * 1024,
        }
    }
}

/// SMTP submission listeners and limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmissionConfig {
    /// Off until set.
    pub enabled: bool,
    /// Plain listeners (STARTTLS offered; port 587 style).
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS listeners (port 465 style, RFC 8314).
    pub listen_tls: Vec<SocketAddr>,
    /// Largest message, in octets (advertised with SIZE).
    pub max_message_size: u64,
    /// Longest command line (RFC 5321: 512 octets, raised by extensions' parameters).
    pub max_line_length: usize,
    /// Seconds to wait for the next command or the next part of a message (RFC 5321
    /// 4.5.3.2.7: at least 5 minutes).
    pub timeout_secs: u64,
    /// Seconds to wait for a command before login. Default: 300, RFC 5321's minimum; lower
    /// frees the slots of clients that never log in sooner, below what the RFC asks for.
    pub pre_auth_timeout_secs: u64,
    /// Seconds one message body may take to arrive in all (DATA or every BDAT chunk); over
    /// it the connection is closed with 421 4.4.2.
    pub max_message_duration_secs: u64,
    /// Most recipients of one message (RFC 5321 4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Domains delivered here: `<account>@<domain>` goes to the account's INBOX. Default:
    /// the server's `hostname`.
    pub local_domains: Vec<String>,
    /// The envelope sender must be the authenticated account at a local domain.
    pub require_own_sender: bool,
    /// The smarthost that takes mail for non-local recipients; none means such recipients
    /// are refused with 550 5.7.1.
    pub smarthost: Option<SmarthostConfig>,
}

impl Default for SubmissionConfig {
    fn default() -> Self {
        SubmissionConfig {
            enabled: false,
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 10587))],
            listen_tls: vec![SocketAddr::from(([127, 0, 0, 1], 10465))],
            max_message_size: 50 * 1024 * 1024,
            max_line_length: 1000,
            timeout_secs: 300,
            pre_auth_timeout_secs: 300,
            max_message_duration_secs: 600,
            max_recipients: 100,
            local_domains: Vec::new(),
            require_own_sender: true,
            smarthost: None,
        }
    }
}

/// How the smarthost is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmarthostSecurity {
    /// STARTTLS before anything else (port 587 or 25).
    Starttls,
    /// TLS from the first byte (port 465).
    ImplicitTls,
    /// No TLS: only for a smarthost on loopback.
    Plain,
}

/// The smarthost relay.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmarthostConfig {
    /// `host:port`.
    pub address: String,
    /// `starttls` (default), `implicit-tls` or `plain`.
    #[serde(default = "default_smarthost_security")]
    pub security: SmarthostSecurity,
    /// The name its certificate must carry; default: the host of `address`.
    pub server_name: Option<String>,
    /// A PEM file of certificates to trust; default: the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// The login, if the smarthost wants one.
    pub username: Option<String>,
    /// A file whose first line is the password (kept out of this file).
    pub password_file: Option<PathBuf>,
}

fn default_smarthost_security() -> SmarthostSecurity {
    SmarthostSecurity::Starttls
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// The configuration used when no file is given: the embedded demo set-up. Every protocol
    /// this build serves is on (and no other), on loopback high ports, with a demo account.
    pub fn demo() -> Config {
        let mut config = Config {
            demo_account: true,
            ..Config::default()
        };
        let served = |name: &str| crate::server::SERVED_PROTOCOLS.contains(&name);
        config.pop3.enabled = served("POP3");
        config.imap.enabled = served("IMAP4");
        config.submission.enabled = served("submission");
        config
    }

    /// What is wrong with this configuration without stopping the server: protocols enabled
    /// that this build does not serve, no protocol served at all, timeouts below the minimum
    /// their RFC sets. Each is one sentence for the operator; the server logs them at start.
    pub fn warnings(&self) -> Vec<String> {
        let served = |name: &str| crate::server::SERVED_PROTOCOLS.contains(&name);
        let mut warnings = Vec::new();
        let enabled = [
            ("POP3", "pop3", self.pop3.enabled),
            ("IMAP4", "imap", self.imap.enabled),
            ("submission", "submission", self.submission.enabled),
        ];
        for (name, section, on) in enabled {
            if on && !served(name) {
                warnings.push(format!(
                    "[{section}] is enabled, but this build does not serve {name}: its listeners \
                     are not opened"
                ));
            }
        }
        if !enabled.iter().any(|(name, _, on)| *on && served(name)) {
            warnings.push(format!(
                "no protocol is enabled: nothing will be served (set enabled = true in [pop3] \
                 or [submission]; this build serves {})",
                crate::server::SERVED_PROTOCOLS.join(" and ")
            ));
        }
        let minimums = [
            (
                self.pop3.enabled,
                "pop3.inactivity_timeout_secs",
                self.pop3.inactivity_timeout_secs,
                600,
                "RFC 1939 section 3",
            ),
            (
                self.submission.enabled,
                "submission.timeout_secs",
                self.submission.timeout_secs,
                300,
                "RFC 5321 section 4.5.3.2.7",
            ),
            (
                self.imap.enabled,
                "imap.autologout_secs",
                self.imap.autologout_secs,
                30 * 60,
                "RFC 3501 section 5.4",
            ),
        ];
        for (on, key, value, minimum, rfc) in minimums {
            if on && value < minimum {
                warnings.push(format!(
                    "{key} = {value} is below the {} minutes {rfc} requires: clients may be cut \
                     off while they still work",
                    minimum / 60
                ));
            }
        }
        warnings
    }

    /// The users file's path.
    pub fn users_path(&self) -> PathBuf {
        self.users_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("users"))
    }

    /// The Maildir root.
    pub fn maildir_root(&self) -> PathBuf {
        self.data_dir.join("maildir")
    }

    /// The certificate's path.
    pub fn certificate_path(&self) -> PathBuf {
        self.tls
            .certificate
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tls/cert.pem"))
    }

    /// The private key's path.
    pub fn private_key_path(&self) -> PathBuf {
        self.tls
            .private_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tls/key.pem"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_matches_the_defaults_it_documents() {
        let example = include_str!("../mail-server.example.toml");
        let parsed = Config::parse(example).unwrap();
        let mut expected = Config {
            data_dir: PathBuf::from("/var/lib/mail-server"),
            ..Config::default()
        };
        expected.submission.enabled = true;
        expected.submission.local_domains = vec!["localhost".into()];
        assert_eq!(parsed, expected);
        assert_eq!(parsed.warnings(), Vec::<String>::new());
    }

    #[test]
    fn the_demo_enables_what_this_build_serves_and_nothing_else() {
        let demo = Config::demo();
        let served = crate::server::SERVED_PROTOCOLS;
        assert_eq!(demo.pop3.enabled, served.contains(&"POP3"));
        assert_eq!(demo.imap.enabled, served.contains(&"IMAP4"));
        assert_eq!(demo.submission.enabled, served.contains(&"submission"));
        assert_eq!(demo.warnings(), Vec::<String>::new());
    }

    #[test]
    fn timeouts_below_the_rfc_minimums_are_warned_about() {
        let config = Config::parse(
            "[pop3]\nenabled = true\ninactivity_timeout_secs = 599\n\
             [submission]\nenabled = true\ntimeout_secs = 60\n",
        )
        .unwrap();
        let warnings = config.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("pop3.inactivity_timeout_secs = 599"));
        assert!(warnings[0].contains("10 minutes RFC 1939"));
        assert!(warnings[1].contains("submission.timeout_secs = 60"));
        assert!(warnings[1].contains("5 minutes RFC 5321"));
        let at_minimum = Config::parse(
            "[pop3]\nenabled = true\ninactivity_timeout_secs = 600\n\
             [submission]\nenabled = true\ntimeout_secs = 300\n\
             [imap]\nautologout_secs = 60\n",
        )
        .unwrap();
        assert_eq!(at_minimum.warnings(), Vec::<String>::new());
    }

    #[test]
    fn protocols_not_served_and_none_at_all_are_warned_about() {
        let none = Config::parse("data_dir = \"x\"").unwrap().warnings();
        assert_eq!(none.len(), 1, "{none:?}");
        assert!(none[0].starts_with("no protocol is enabled"), "{none:?}");
        let imap = Config::parse("[imap]\nenabled = true\nautologout_secs = 60\n")
            .unwrap()
            .warnings();
        if !crate::server::SERVED_PROTOCOLS.contains(&"IMAP4") {
            assert!(imap[0].contains("does not serve IMAP4"), "{imap:?}");
            assert!(imap[1].starts_with("no protocol is enabled"), "{imap:?}");
        }
        assert!(
            imap.iter().any(|warning| warning.contains("RFC 3501")),
            "{imap:?}"
        );
    }

    #[test]
    fn protocols_are_off_until_configured() {
        let config = Config::parse("data_dir = \"x\"").unwrap();
        assert!(!config.pop3.enabled && !config.imap.enabled && !config.submission.enabled);
        assert!(!config.allow_plaintext_auth);
    }

    #[test]
    fn a_smarthost_is_a_table() {
        let config = Config::parse(
            "[submission.smarthost]\naddress = \"relay.example.net:587\"\nusername = \"u\"\npassword_file = \"/etc/pw\"\n",
        )
        .unwrap();
        let smarthost = config.submission.smarthost.unwrap();
        assert_eq!(smarthost.security, SmarthostSecurity::Starttls);
        assert_eq!(smarthost.username.as_deref(), Some("u"));
        assert!(
            Config::parse("[submission.smarthost]\naddress = \"x:1\"\nsecurity = \"tls\"\n")
                .is_err()
        );
    }

    #[test]
    fn a_typo_is_an_error() {
        let error = Config::parse("[pop3]\nenabeld = true\n").unwrap_err();
        assert!(error.to_string().contains("enabeld"), "{error}");
    }
}
