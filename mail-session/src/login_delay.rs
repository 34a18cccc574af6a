//! A growing delay after failed logins, per client address and per (address, account name).
//!
//! Sans-IO: the caller passes the current time in and sleeps for the returned duration before
//! it answers the failed attempt. Failures are counted for the address and for the account name
//! tried from it. The delay doubles with the address's count, up to a ceiling kept short (a
//! few seconds) so that every answer comes before mail programs give up waiting. A successful
//! login forgets only that (address, account) record and takes its failures (a user's own
//! typos) off the address's count; guesses at other accounts from the address still count, so
//! an attacker holding one account cannot clear the delay for the others. Everything is
//! forgotten after a quiet period. Both tables are bounded: past their capacity the entry idle
//! longest is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Longest account name remembered; longer names are cut (at a character boundary).
const MAX_ACCOUNT_NAME: usize = 256;

/// How the delay grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginDelayPolicy {
    /// Delay after the first failure.
    pub initial: Duration,
    /// The most a single failure is delayed, and the longest an attempt waits for the one
    /// before it from the same address.
    pub maximum: Duration,
    /// After this long without a failure an address starts afresh.
    pub forget_after: Duration,
    /// Most addresses (and, separately, most (address, account) pairs) remembered at once.
    pub capacity: usize,
}

impl Default for LoginDelayPolicy {
    /// One second after the first failure, doubling to at most 5 s (clients wait 10–30 s for
    /// an answer), forgotten after 15 minutes of quiet, 10 000 entries remembered.
    fn default() -> Self {
        LoginDelayPolicy {
            initial: Duration::from_secs(1),
            maximum: Duration::from_secs(5),
            forget_after: Duration::from_secs(15 * 60),
            capacity: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
}

/// Counts a failure for `key` in `entries`, keeping the table within `capacity`; returns the
/// new count.
fn count_failure<K: Hash + Eq + Clone>(
    entries: &mut HashMap<K, Entry>,
    key: K,
    now: Instant,
    policy: &LoginDelayPolicy,
) -> u32 {
    let forget_after = policy.forget_after;
    if !entries.contains_key(&key) && entries.len() >= policy.capacity.max(1) {
        entries.retain(|_, entry| now.saturating_duration_since(entry.last_failure) < forget_after);
        if entries.len() >= policy.capacity.max(1) {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_failure)
                .map(|(key, _)| key.clone())
            {
                entries.remove(&oldest);
            }
        }
    }
    let entry = entries.entry(key).or_insert(Entry {
        failures: 0,
        last_failure: now,
    });
    if now.saturating_duration_since(entry.last_failure) >= forget_after {
        entry.failures = 0;
    }
    entry.failures = entry.failures.saturating_add(1);
    entry.last_failure = now;
    entry.failures
}

/// `name` cut to [`MAX_ACCOUNT_NAME`] bytes at a character boundary.
fn account_key(name: &str) -> String {
    let mut end = name.len().min(MAX_ACCOUNT_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// Failed-login bookkeeping for all client addresses of a listener.
#[derive(Debug, Clone)]
pub struct FailedLoginDelay {
    policy: LoginDelayPolicy,
    addresses: HashMap<IpAddr, Entry>,
    accounts: HashMap<(IpAddr, String), Entry>,
}

impl FailedLoginDelay {
    /// An empty table with `policy`.
    pub fn new(policy: LoginDelayPolicy) -> Self {
        FailedLoginDelay {
            policy,
            addresses: HashMap::new(),
            accounts: HashMap::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> LoginDelayPolicy {
        self.policy
    }

    /// Records a failed login from `address` for the account name `account` at `now` and
    /// returns how long to wait before answering it.
    pub fn record_failure(&mut self, address: IpAddr, account: &str, now: Instant) -> Duration {
        let policy = self.policy;
        let failures = count_failure(&mut self.addresses, address, now, &policy);
        count_failure(
            &mut self.accounts,
            (address, account_key(account)),
            now,
            &policy,
        );
        let doublings = failures.saturating_sub(1).min(20);
        policy
            .initial
            .saturating_mul(1 << doublings)
            .min(policy.maximum)
    }

    /// Forgets the failures of `account` from `address` after it logged in, and takes them off
    /// the address's count; failures for other accounts from the address stay.
    pub fn record_success(&mut self, address: IpAddr, account: &str) {
        let Some(pair) = self.accounts.remove(&(address, account_key(account))) else {
            return;
        };
        if let Some(entry) = self.addresses.get_mut(&address) {
            entry.failures = entry.failures.saturating_sub(pair.failures);
            if entry.failures == 0 {
                self.addresses.remove(&address);
            }
        }
    }

    /// Failures remembered for `address`, all accounts together.
    pub fn address_failures(&self, address: IpAddr) -> u32 {
        self.addresses
            .get(&address)
            .map_or(0, |entry| entry.failures)
    }

    /// Failures remembered for `account` from `address`.
    pub fn account_failures(&self, address: IpAddr, account: &str) -> u32 {
        self.accounts
            .get(&(address, account_key(account)))
            .map_or(0, |entry| entry.failures)
    }

    /// How many addresses are remembered.
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn the_delay_doubles_up_to_the_maximum_and_resets_on_success() {
        let mut delay = FailedLoginDelay::new(LoginDelayPolicy::default());
        let now = Instant::now();
        let waits: Vec<u64> = (0..5)
            .map(|_| delay.record_failure(address(1), "alice", now).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(delay.record_failure(address(2), "alice", now).as_secs(), 1);
        delay.record_success(address(1), "alice");
        assert_eq!(delay.record_failure(address(1), "alice", now).as_secs(), 1);
    }

    #[test]
    fn a_success_clears_only_its_own_account_from_that_address() {
        let mut delay = FailedLoginDelay::new(LoginDelayPolicy::default());
        let now = Instant::now();
        for victim in ["bob", "carol", "dave"] {
            delay.record_failure(address(1), victim, now);
        }
        delay.record_failure(address(1), "mallory", now);
        delay.record_failure(address(3), "mallory", now);
        assert_eq!(delay.address_failures(address(1)), 4);
        // The attacker logs in to the account it holds.
        delay.record_success(address(1), "mallory");
        assert_eq!(delay.account_failures(address(1), "mallory"), 0);
        assert_eq!(delay.account_failures(address(1), "bob"), 1);
        assert_eq!(
            delay.address_failures(address(1)),
            3,
            "the guesses still count"
        );
        assert_eq!(
            delay.account_failures(address(3), "mallory"),
            1,
            "another address is untouched"
        );
        assert_eq!(
            delay.record_failure(address(1), "erin", now),
            Duration::from_secs(5),
            "the fifth guess waits as long as without the success"
        );
    }

    #[test]
    fn long_account_names_are_cut_at_a_character_boundary() {
        let mut delay = FailedLoginDelay::new(LoginDelayPolicy::default());
        let long = "é".repeat(300);
        delay.record_failure(address(1), &long, Instant::now());
        assert_eq!(delay.account_failures(address(1), &long), 1);
    }

    #[test]
    fn a_quiet_address_starts_afresh() {
        let policy = LoginDelayPolicy::default();
        let mut delay = FailedLoginDelay::new(policy);
        let now = Instant::now();
        delay.record_failure(address(1), "alice", now);
        delay.record_failure(address(1), "alice", now);
        let later = now + policy.forget_after;
        assert_eq!(
            delay.record_failure(address(1), "alice", later),
            policy.initial
        );
    }

    #[test]
    fn the_table_stays_within_its_capacity() {
        let mut delay = FailedLoginDelay::new(LoginDelayPolicy {
            capacity: 3,
            ..LoginDelayPolicy::default()
        });
        let start = Instant::now();
        for i in 0..50u8 {
            delay.record_failure(address(i), "alice", start + Duration::from_millis(i.into()));
        }
        assert_eq!(delay.len(), 3);
    }
}
