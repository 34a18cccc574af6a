//! Logging in with the full email address: what mail programs and every autoconfiguration
//! format send as the user name.

use crate::directory::{AuthError, Directory, Protocol};
use crate::names::AccountName;

/// A [`Directory`] that takes `account@domain` for `account` when `domain` is one of the
/// local domains (compared without regard to case), for every protocol, and passes every
/// other name on unchanged. An address in another domain is not an account here and fails as
/// wrong credentials would.
///
/// ```
/// use mailstore::{AddressLogins, Directory, MemoryDirectory, Protocol};
///
/// let directory = AddressLogins::new(
///     MemoryDirectory::new().with_user("alice", "pw")?,
///     ["example.test"],
/// );
/// let account = directory.authenticate("Alice@Example.TEST", "pw", Protocol::Imap)?;
/// assert_eq!(account.as_str(), "alice");
/// assert!(directory.authenticate("alice", "pw", Protocol::Imap).is_ok());
/// assert!(directory.authenticate("alice@elsewhere.test", "pw", Protocol::Imap).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AddressLogins<D> {
    inner: D,
    domains: Vec<String>,
}

impl<D: Directory> AddressLogins<D> {
    /// Wraps `inner`, taking addresses in `domains` as their local part.
    pub fn new<S: Into<String>>(inner: D, domains: impl IntoIterator<Item = S>) -> Self {
        AddressLogins {
            inner,
            domains: domains.into_iter().map(Into::into).collect(),
        }
    }

    /// The wrapped directory.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The account name `login` stands for: its local part when it is an address in a local
    /// domain, `None` when it is an address in another domain, `login` itself otherwise.
    pub fn account_part<'a>(&self, login: &'a str) -> Option<&'a str> {
        match login.rsplit_once('@') {
            Some((local, domain)) => self
                .domains
                .iter()
                .any(|local_domain| local_domain.eq_ignore_ascii_case(domain))
                .then_some(local),
            None => Some(login),
        }
    }
}

impl<D: Directory> Directory for AddressLogins<D> {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        protocol: Protocol,
    ) -> Result<AccountName, AuthError> {
        match self.account_part(username) {
            Some(account) => self.inner.authenticate(account, password, protocol),
            None => Err(AuthError::InvalidCredentials),
        }
    }

    fn exists(&self, account: &AccountName) -> bool {
        self.inner.exists(account)
    }

    fn authorize(
        &self,
        authenticated: &AccountName,
        requested: &str,
    ) -> Result<AccountName, AuthError> {
        match self.account_part(requested) {
            Some(account) => self.inner.authorize(authenticated, account),
            None => Err(AuthError::NotAuthorized),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDirectory;

    #[test]
    fn addresses_in_local_domains_are_their_accounts_and_authzids_follow() {
        let directory = AddressLogins::new(
            MemoryDirectory::new()
                .with_user("alice", "pw")
                .unwrap()
                .with_user("bob", "pw")
                .unwrap(),
            ["example.test", "example.org"],
        );
        let alice = directory
            .authenticate("alice@example.org", "pw", Protocol::Pop3)
            .unwrap();
        assert_eq!(alice.as_str(), "alice");
        assert_eq!(
            directory.authenticate("alice@example.net", "pw", Protocol::Pop3),
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            directory.authenticate("alice@example.org", "wrong", Protocol::Pop3),
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            directory.authorize(&alice, "alice@example.test"),
            Ok(alice.clone())
        );
        assert_eq!(
            directory.authorize(&alice, "bob@example.test"),
            Err(AuthError::NotAuthorized)
        );
        assert_eq!(directory.authorize(&alice, ""), Ok(alice.clone()));
    }
}
