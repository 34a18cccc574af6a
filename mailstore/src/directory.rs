//! Who may log in, and to which protocol: the [`Directory`] trait the servers ask, the
//! [`AccessPolicy`] of an account, and the rules every directory keeps: `anonymous` and
//! `guest` never log in; an administrator is refused by POP3 and IMAP4 (administrators do not
//! read mail through the mail protocols).
//!
//! The directories: [`UsersFile`](crate::UsersFile) (feature `users-file`, argon2 hashes in a
//! text file), [`MemoryDirectory`](crate::MemoryDirectory) (accounts made in code) and
//! [`AddressLogins`](crate::AddressLogins) (`alice@example.org` for `alice`).

use std::fmt;

use thiserror::Error;

use crate::names::AccountName;

/// The protocols an account can be allowed or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// POP3.
    Pop3,
    /// IMAP4.
    Imap,
    /// SMTP submission.
    Submission,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
            Protocol::Submission => "submission",
        })
    }
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessPolicy {
    /// POP3 allowed.
    pub pop3: bool,
    /// IMAP4 allowed.
    pub imap: bool,
    /// Submission allowed.
    pub submission: bool,
    /// An administrator: never reaches a mailbox over POP3 or IMAP4.
    pub admin: bool,
}

impl Default for AccessPolicy {
    /// Every protocol on, not an administrator.
    fn default() -> Self {
        AccessPolicy {
            pop3: true,
            imap: true,
            submission: true,
            admin: false,
        }
    }
}

impl AccessPolicy {
    /// Whether this policy lets the account use `protocol`.
    pub fn allows(&self, protocol: Protocol) -> Result<(), AuthError> {
        let switched_on = match protocol {
            Protocol::Pop3 => self.pop3,
            Protocol::Imap => self.imap,
            Protocol::Submission => self.submission,
        };
        if self.admin && matches!(protocol, Protocol::Pop3 | Protocol::Imap) {
            return Err(AuthError::Refused(
                "administrator accounts have no mailbox access",
            ));
        }
        if !switched_on {
            return Err(AuthError::ProtocolDisabled(protocol));
        }
        Ok(())
    }

    #[cfg(feature = "users-file")]
    pub(crate) fn to_field(self) -> String {
        let mut parts = Vec::new();
        for (on, name) in [
            (self.pop3, "pop3"),
            (self.imap, "imap"),
            (self.submission, "submission"),
            (self.admin, "admin"),
        ] {
            if on {
                parts.push(name);
            }
        }
        parts.join(",")
    }

    #[cfg(feature = "users-file")]
    pub(crate) fn from_field(field: &str) -> Result<Self, String> {
        let mut policy = AccessPolicy {
            pop3: false,
            imap: false,
            submission: false,
            admin: false,
        };
        for part in field
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            match part {
                "pop3" => policy.pop3 = true,
                "imap" => policy.imap = true,
                "submission" => policy.submission = true,
                "admin" => policy.admin = true,
                other => return Err(format!("unknown access {other:?}")),
            }
        }
        Ok(policy)
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown name or wrong password (indistinguishable on purpose).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account may not use this protocol.
    #[error("{0} access is disabled for this account")]
    ProtocolDisabled(Protocol),
    /// The name may never log in this way (`anonymous`, `guest`, administrators).
    #[error("login refused: {0}")]
    Refused(&'static str),
    /// The directory could not be read; try later.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// The credentials are right, but the account may not act as the authorization identity
    /// it asked for.
    #[error("not authorized to act as the requested identity")]
    NotAuthorized,
}

impl<D: Directory + ?Sized> Directory for std::sync::Arc<D> {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError> {
        (**self).authenticate(username, password, protocol)
    }

    fn exists(&self, account: &AccountName) -> bool {
        (**self).exists(account)
    }

    fn authorize(
        &self,
        authenticated: &AccountName,
        requested: &str,
    ) -> Result<AccountName, AuthError> {
        (**self).authorize(authenticated, requested)
    }

    fn login(
        &self,
        credentials: &mail_session::sasl::Credentials,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError> {
        (**self).login(credentials, protocol)
    }
}

impl AuthError {
    /// How a protocol session refuses the login: wrong credentials and identities the account
    /// may not act as are [`LoginRejection::Credentials`](mail_session::LoginRejection::Credentials), a protocol switched off or a name
    /// that may never use it [`LoginRejection::NotPermitted`](mail_session::LoginRejection::NotPermitted), an unreachable directory
    /// [`LoginRejection::Temporary`](mail_session::LoginRejection::Temporary).
    pub fn rejection(&self) -> mail_session::LoginRejection {
        use mail_session::LoginRejection;
        match self {
            AuthError::ProtocolDisabled(_) | AuthError::Refused(_) => LoginRejection::NotPermitted,
            AuthError::Unavailable(_) => LoginRejection::Temporary,
            AuthError::InvalidCredentials | AuthError::NotAuthorized => LoginRejection::Credentials,
        }
    }
}

/// Authenticates users and says what they may do. [`UsersFile`](crate::UsersFile), [`MemoryDirectory`](crate::MemoryDirectory)
/// and [`AddressLogins`](crate::AddressLogins) implement it; so can
/// your own, in front of LDAP or a database:
///
/// ```
/// use mailstore::{AccountName, AuthError, Directory, Protocol};
///
/// /// Everyone whose password is their name reversed; nobody may send mail.
/// struct Mirror;
///
/// impl Directory for Mirror {
///     fn authenticate(&self, username: &str, password: &str, protocol: Protocol)
///         -> Result<AccountName, AuthError> {
///         if password.chars().rev().collect::<String>() != username {
///             return Err(AuthError::InvalidCredentials);
///         }
///         if protocol == Protocol::Submission {
///             return Err(AuthError::ProtocolDisabled(protocol));
///         }
///         AccountName::try_from(username).map_err(|_| AuthError::InvalidCredentials)
///     }
///
///     fn exists(&self, account: &AccountName) -> bool {
///         true
///     }
/// }
///
/// assert!(Mirror.authenticate("anna", "anna", Protocol::Imap).is_ok());
/// assert!(Mirror.authenticate("otto", "otto", Protocol::Submission).is_err());
/// // The authorization identity (SASL authzid) defaults to "only yourself":
/// let anna = AccountName::try_from("anna").unwrap();
/// assert_eq!(Mirror.authorize(&anna, "bob"), Err(AuthError::NotAuthorized));
/// ```
pub trait Directory: Send + Sync {
    /// Checks `password` for `username` and whether the account may use `protocol`. Returns
    /// the account to act for.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError>;

    /// Whether the account exists (for local delivery), whatever its protocols.
    fn exists(&self, account: &AccountName) -> bool;

    /// Logs in with what a client sent: checks the password ([`Directory::authenticate`]),
    /// then, when the client asked for an authorization identity, whether the account may act
    /// as it ([`Directory::authorize`]). Returns the account to act for. The protocol
    /// services call this; a directory rarely needs to override it.
    fn login(
        &self,
        credentials: &mail_session::sasl::Credentials,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError> {
        let account = self.authenticate(
            &credentials.username,
            credentials.password.expose(),
            protocol,
        )?;
        match credentials.authzid.as_deref() {
            Some(requested) => self.authorize(&account, requested),
            None => Ok(account),
        }
    }

    /// Whether `authenticated` may act as the authorization identity `requested` (SASL's
    /// authzid, RFC 4616 section 2: the server fails the login unless the authentication
    /// identity is authorized to act as it). Returns the account to act for. The default
    /// allows only the account itself (its own name, or an empty authzid); a directory that
    /// has proxy or shared-mailbox rights overrides it.
    fn authorize(
        &self,
        authenticated: &AccountName,
        requested: &str,
    ) -> Result<AccountName, AuthError> {
        if requested.is_empty() || requested == authenticated.as_str() {
            Ok(authenticated.clone())
        } else {
            Err(AuthError::NotAuthorized)
        }
    }
}

/// Names that never log in.
pub const RESERVED_NAMES: [&str; 2] = ["anonymous", "guest"];

pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}
