//! A [`Directory`] kept in memory, for tests and for programs that embed a server and create
//! their accounts in code.

use std::collections::BTreeMap;
use std::sync::RwLock;

use subtle::ConstantTimeEq;

use crate::directory::{is_reserved, AccessPolicy, AuthError, Directory, Protocol};
use crate::names::{AccountName, NameError};

/// Accounts created in code, with the same rules as the users file: each protocol switched on
/// or off per account, `anonymous` and `guest` never logged in, administrators kept away from
/// mailboxes.
///
/// Passwords are kept as given, in this process's memory only, and compared in constant time
/// (their length aside). For a server whose accounts must survive a restart, use the users
/// file ([`UsersFile`](crate::UsersFile)), which keeps argon2 hashes.
///
/// ```
/// use mailstore::{AccessPolicy, Directory, MemoryDirectory, Protocol};
///
/// let mut imap_only = AccessPolicy::default();
/// imap_only.pop3 = false;
/// let directory = MemoryDirectory::new()
///     .with_user("alice", "wonderland")?
///     .with_user_policy("bob", "builder", imap_only)?;
/// assert_eq!(directory.authenticate("alice", "wonderland", Protocol::Pop3)?.as_str(), "alice");
/// assert!(directory.authenticate("alice", "wrong", Protocol::Pop3).is_err());
/// assert!(directory.authenticate("bob", "builder", Protocol::Pop3).is_err());
/// assert!(directory.authenticate("bob", "builder", Protocol::Imap).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct MemoryDirectory {
    users: RwLock<BTreeMap<AccountName, MemoryUser>>,
}

struct MemoryUser {
    password: String,
    policy: AccessPolicy,
}

impl std::fmt::Debug for MemoryDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: passwords never reach a log.
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("MemoryDirectory")
            .field("accounts", &users.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why an account could not be added to a [`MemoryDirectory`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryDirectoryError {
    /// The name is not a valid account name.
    #[error("invalid account name: {0}")]
    InvalidName(#[from] NameError),
    /// The name is reserved (`anonymous`, `guest`).
    #[error("the name {0:?} is reserved and can never log in")]
    Reserved(String),
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an account with every protocol on; builder form of
    /// [`MemoryDirectory::add_user`].
    pub fn with_user(self, name: &str, password: &str) -> Result<Self, MemoryDirectoryError> {
        self.add_user(name, password, AccessPolicy::default())?;
        Ok(self)
    }

    /// Adds (or replaces) an account with `policy`; builder form of
    /// [`MemoryDirectory::add_user`].
    pub fn with_user_policy(
        self,
        name: &str,
        password: &str,
        policy: AccessPolicy,
    ) -> Result<Self, MemoryDirectoryError> {
        self.add_user(name, password, policy)?;
        Ok(self)
    }

    /// Adds an account, or replaces the password and policy of an existing one. Returns the
    /// account's name.
    pub fn add_user(
        &self,
        name: &str,
        password: &str,
        policy: AccessPolicy,
    ) -> Result<AccountName, MemoryDirectoryError> {
        if is_reserved(name) {
            return Err(MemoryDirectoryError::Reserved(name.to_string()));
        }
        let account = AccountName::try_from(name)?;
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                account.clone(),
                MemoryUser {
                    password: password.to_string(),
                    policy,
                },
            );
        Ok(account)
    }

    /// Removes an account; returns whether it existed.
    pub fn remove_user(&self, name: &str) -> bool {
        let Ok(account) = AccountName::try_from(name) else {
            return false;
        };
        self.users
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account)
            .is_some()
    }

    /// The accounts and their policies, by name.
    pub fn list(&self) -> Vec<(AccountName, AccessPolicy)> {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, user)| (name.clone(), user.policy))
            .collect()
    }
}

impl Directory for MemoryDirectory {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError> {
        if is_reserved(username) {
            return Err(AuthError::Refused(
                "anonymous and guest logins are not allowed",
            ));
        }
        let account = AccountName::try_from(username).map_err(|_| AuthError::InvalidCredentials)?;
        let users = self.users.read().unwrap_or_else(|p| p.into_inner());
        let user = users.get(&account).ok_or(AuthError::InvalidCredentials)?;
        if !bool::from(user.password.as_bytes().ct_eq(password.as_bytes())) {
            return Err(AuthError::InvalidCredentials);
        }
        user.policy.allows(protocol)?;
        Ok(account)
    }

    fn exists(&self, account: &AccountName) -> bool {
        self.users
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_rules_as_the_users_file_hold() {
        let directory = MemoryDirectory::new()
            .with_user("alice", "pw")
            .unwrap()
            .with_user_policy(
                "root",
                "pw",
                AccessPolicy {
                    admin: true,
                    ..AccessPolicy::default()
                },
            )
            .unwrap();
        assert!(directory
            .authenticate("alice", "pw", Protocol::Imap)
            .is_ok());
        assert_eq!(
            directory.authenticate("alice", "pW", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            directory.authenticate("nobody", "pw", Protocol::Imap),
            Err(AuthError::InvalidCredentials)
        );
        assert!(matches!(
            directory.authenticate("root", "pw", Protocol::Pop3),
            Err(AuthError::Refused(_))
        ));
        assert!(directory
            .authenticate("root", "pw", Protocol::Submission)
            .is_ok());
        assert_eq!(
            MemoryDirectory::new().with_user("Guest", "x").err(),
            Some(MemoryDirectoryError::Reserved("Guest".into()))
        );
        assert!(directory.remove_user("alice"));
        assert!(!directory.exists(&AccountName::try_from("alice").unwrap()));
        assert!(!format!("{directory:?}").contains("pw"));
    }
}
