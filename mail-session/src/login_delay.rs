//! A growing delay after failed logins, per client address.
//!
//! Sans-IO: the caller passes the current time in and sleeps for the returned duration before
//! it answers the failed attempt. The delay doubles with each failure from the same address, up
//! to a ceiling, and is forgotten after a quiet period or a successful login. The table is
//! bounded: past its capacity the entry idle longest is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How the delay grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginDelayPolicy {
    /// Delay after the first failure.
    pub initial: Duration,
    /// The most a single failure is delayed.
    pub maximum: Duration,
    /// After this long without a failure an address starts afresh.
    pub forget_after: Duration,
    /// Most addresses remembered at once.
    pub capacity: usize,
}

impl Default for LoginDelayPolicy {
    /// One second after the first failure, doubling to at most 30 s, forgotten after 15 minutes
    /// of quiet, 10 000 addresses remembered.
    fn default() -> Self {
        LoginDelayPolicy {
            initial: Duration::from_secs(1),
            maximum: Duration::from_secs(30),
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

/// Failed-login bookkeeping for all client addresses of a listener.
#[derive(Debug, Clone)]
pub struct FailedLoginDelay {
    policy: LoginDelayPolicy,
    entries: HashMap<IpAddr, Entry>,
}

impl FailedLoginDelay {
    /// An empty table with `policy`.
    pub fn new(policy: LoginDelayPolicy) -> Self {
        FailedLoginDelay {
            policy,
            entries: HashMap::new(),
        }
    }

    /// Records a failed login from `address` at `now` and returns how long to wait before
    /// answering it.
    pub fn record_failure(&mut self, address: IpAddr, now: Instant) -> Duration {
        let forget_after = self.policy.forget_after;
        if !self.entries.contains_key(&address) && self.entries.len() >= self.policy.capacity {
            self.entries.retain(|_, entry| {
                now.saturating_duration_since(entry.last_failure) < forget_after
            });
            if self.entries.len() >= self.policy.capacity {
                if let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.last_failure)
                    .map(|(address, _)| *address)
                {
                    self.entries.remove(&oldest);
                }
            }
        }
        let entry = self.entries.entry(address).or_insert(Entry {
            failures: 0,
            last_failure: now,
        });
        if now.saturating_duration_since(entry.last_failure) >= forget_after {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        let doublings = entry.failures.saturating_sub(1).min(20);
        self.policy
            .initial
            .saturating_mul(1 << doublings)
            .min(self.policy.maximum)
    }

    /// Forgets the failures of `address` after it logged in.
    pub fn record_success(&mut self, address: IpAddr) {
        self.entries.remove(&address);
    }

    /// How many addresses are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
        let waits: Vec<u64> = (0..7)
            .map(|_| delay.record_failure(address(1), now).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(delay.record_failure(address(2), now).as_secs(), 1);
        delay.record_success(address(1));
        assert_eq!(delay.record_failure(address(1), now).as_secs(), 1);
    }

    #[test]
    fn a_quiet_address_starts_afresh() {
        let policy = LoginDelayPolicy::default();
        let mut delay = FailedLoginDelay::new(policy);
        let now = Instant::now();
        delay.record_failure(address(1), now);
        delay.record_failure(address(1), now);
        let later = now + policy.forget_after;
        assert_eq!(delay.record_failure(address(1), later), policy.initial);
    }

    #[test]
    fn the_table_stays_within_its_capacity() {
        let mut delay = FailedLoginDelay::new(LoginDelayPolicy {
            capacity: 3,
            ..LoginDelayPolicy::default()
        });
        let start = Instant::now();
        for i in 0..50u8 {
            delay.record_failure(address(i), start + Duration::from_millis(i.into()));
        }
        assert_eq!(delay.len(), 3);
    }
}
