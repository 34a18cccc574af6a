//! Remembering successful password checks for a while, so that a client that logs in again
//! and again (a poller every minute, a mail program opening several connections) does not
//! cost an argon2 check each time.
//!
//! What is kept per account is a keyed BLAKE2b digest of the password and of the stored hash
//! it was checked against, with the time of the check. The key is random and lives only in
//! this process. A login whose digest matches a fresh entry is accepted without argon2; any
//! other login (a wrong password, a changed hash, an entry past its time) takes the full
//! check, so a wrong password never gets a fast answer. Failed checks are never remembered.
//!
//! The trade-off, stated plainly: someone who can read this process's memory could test
//! guesses against a cached digest at BLAKE2b speed instead of argon2 speed. Such a reader
//! sees the passwords themselves as clients send them, so the cache adds little to that risk;
//! a time-to-live of zero turns it off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac512;

use crate::AccountName;

/// Most accounts remembered at once; when full, expired entries go first, then all.
const CAPACITY: usize = 10_000;

/// A digest of one successful check.
type Digest = [u8; 64];

/// Successful password checks, remembered for a time-to-live.
#[derive(Debug)]
pub(crate) struct LoginCache {
    key: [u8; 32],
    ttl: Duration,
    entries: Mutex<HashMap<AccountName, (Digest, Instant)>>,
}

impl LoginCache {
    /// A cache whose entries hold for `ttl` (zero: nothing is remembered).
    pub(crate) fn new(ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        LoginCache {
            key,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<AccountName, (Digest, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The keyed digest of `password` checked against `stored_hash` for `account`. Each field
    /// is length-prefixed, so no two different triples give the same input.
    /// `None` only if the key were refused (a 32-octet key never is): then nothing is
    /// remembered or recalled.
    fn digest(&self, account: &AccountName, password: &str, stored_hash: &str) -> Option<Digest> {
        let mut mac = <Blake2bMac512 as KeyInit>::new_from_slice(&self.key).ok()?;
        for field in [account.as_str(), password, stored_hash] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        Some(mac.finalize().into_bytes().into())
    }

    /// Whether `account` checked `password` against `stored_hash` successfully less than the
    /// time-to-live before `now`.
    pub(crate) fn recalls(
        &self,
        account: &AccountName,
        password: &str,
        stored_hash: &str,
        now: Instant,
    ) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let Some((remembered, checked_at)) = self.entries().get(account).copied() else {
            return false;
        };
        if now.saturating_duration_since(checked_at) >= self.ttl {
            return false;
        }
        self.digest(account, password, stored_hash)
            .is_some_and(|digest| mail_session::sasl::constant_time_eq(&digest, &remembered))
    }

    /// Remembers a successful check made at `now`.
    pub(crate) fn remember(
        &self,
        account: &AccountName,
        password: &str,
        stored_hash: &str,
        now: Instant,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let Some(digest) = self.digest(account, password, stored_hash) else {
            return;
        };
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(account) {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(account.clone(), (digest, now));
    }

    /// Forgets everything (the users file changed).
    pub(crate) fn forget_all(&self) {
        self.entries().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> AccountName {
        AccountName::try_from("alice").unwrap()
    }

    #[test]
    fn a_check_is_recalled_only_for_the_same_password_hash_and_time() {
        let cache = LoginCache::new(Duration::from_secs(60));
        let start = Instant::now();
        assert!(!cache.recalls(&alice(), "pw", "$hash1", start));
        cache.remember(&alice(), "pw", "$hash1", start);
        assert!(cache.recalls(&alice(), "pw", "$hash1", start + Duration::from_secs(59)));
        assert!(
            !cache.recalls(&alice(), "pw!", "$hash1", start),
            "other password"
        );
        assert!(
            !cache.recalls(&alice(), "pw", "$hash2", start),
            "changed hash"
        );
        let bob = AccountName::try_from("bob").unwrap();
        assert!(!cache.recalls(&bob, "pw", "$hash1", start), "other account");
        assert!(
            !cache.recalls(&alice(), "pw", "$hash1", start + Duration::from_secs(60)),
            "expired"
        );
        cache.forget_all();
        assert!(!cache.recalls(&alice(), "pw", "$hash1", start));
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let cache = LoginCache::new(Duration::from_secs(60));
        let now = Instant::now();
        cache.remember(&alice(), "pw$", "hash", now);
        assert!(!cache.recalls(&alice(), "pw", "$hash", now));
    }

    #[test]
    fn a_zero_time_to_live_remembers_nothing() {
        let cache = LoginCache::new(Duration::ZERO);
        let now = Instant::now();
        cache.remember(&alice(), "pw", "$hash", now);
        assert!(!cache.recalls(&alice(), "pw", "$hash", now));
        assert!(cache.entries().is_empty());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = LoginCache::new(Duration::from_secs(60));
        let now = Instant::now();
        for index in 0..CAPACITY + 5 {
            let account = AccountName::try_from(format!("user{index}").as_str()).unwrap();
            cache.remember(&account, "pw", "$hash", now);
        }
        assert!(cache.entries().len() <= CAPACITY);
        cache.forget_all();
        assert!(cache.entries().is_empty());
    }
}
