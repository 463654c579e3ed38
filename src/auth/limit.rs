//! Failed-login limits, per user name and per client address, so that passwords cannot be
//! guessed at the rate argon2 allows.
//!
//! Only failures count: a client that logs in correctly is never slowed down. governor keeps
//! the counts (GCRA, one cell per failure); since its limiters cannot be queried without
//! taking a cell, a failure that uses up a key's last cell also marks the key blocked until
//! the next cell is due, and attempts are checked against those marks before any password
//! work is done.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock, QuantaInstant};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota};

type Limiter<K> = DefaultKeyedRateLimiter<K, StateInformationMiddleware>;

/// "At most `failures` failed logins per `period`", refilled evenly over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    pub failures: NonZeroU32,
    pub period: Duration,
}

impl FailureLimit {
    fn quota(self) -> Quota {
        let interval = self.period / self.failures.get();
        Quota::with_period(interval.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(self.failures))
            .allow_burst(self.failures)
    }
}

impl FromStr for FailureLimit {
    type Err = String;

    /// `5/1m`: five failures, refilled over one minute.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (count, period) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not of the form <failures>/<period>, e.g. 5/1m"))?;
        let failures = count
            .trim()
            .parse::<NonZeroU32>()
            .map_err(|_| format!("`{count}` is not a positive whole number of failures"))?;
        let period = humantime::parse_duration(period.trim())
            .map_err(|e| format!("`{period}` is not a period such as 1m or 30s: {e}"))?;
        if period.is_zero() {
            return Err("the period must be longer than zero".into());
        }
        Ok(Self { failures, period })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

pub struct LoginLimiter {
    users: Limiter<String>,
    addresses: Limiter<IpAddr>,
    blocked: Mutex<HashMap<Key, Instant>>,
}

/// Marks kept before old ones are swept out.
const SWEEP_AT: usize = 4096;

impl LoginLimiter {
    pub fn new(per_user: FailureLimit, per_address: FailureLimit) -> Self {
        Self {
            users: DefaultKeyedRateLimiter::keyed(per_user.quota()).with_middleware(),
            addresses: DefaultKeyedRateLimiter::keyed(per_address.quota()).with_middleware(),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `username` or `client` is blocked: refuse without checking the
    /// password, and say when to try again.
    pub fn check(&self, username: &str, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let blocked = self.lock();
        let wait = [
            Key::User(truncated(username)),
            Key::Address(network(client)),
        ]
        .iter()
        .filter_map(|key| blocked.get(key))
        .filter_map(|until| until.checked_duration_since(now))
        .max();
        match wait {
            Some(wait) if !wait.is_zero() => Err(wait),
            _ => Ok(()),
        }
    }

    /// Counts a failed login against `username` and `client`.
    pub fn failed(&self, username: &str, client: IpAddr) {
        let name = truncated(username);
        let net = network(client);
        let user_wait = exhausted(self.users.check_key(&name));
        let address_wait = exhausted(self.addresses.check_key(&net));
        let now = Instant::now();
        let mut blocked = self.lock();
        for (key, wait) in [
            (Key::User(name), user_wait),
            (Key::Address(net), address_wait),
        ] {
            if let Some(wait) = wait {
                blocked.insert(key, now + wait);
            }
        }
        if blocked.len() >= SWEEP_AT {
            blocked.retain(|_, until| *until > now);
        }
    }

    /// Forgets keys whose failures have all been refilled; call now and then.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.lock().retain(|_, until| *until > now);
        self.users.retain_recent();
        self.addresses.retain_recent();
        self.users.shrink_to_fit();
        self.addresses.shrink_to_fit();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        // The map holds no invariant a panicking holder could break halfway.
        self.blocked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How long a key stays blocked after this failure: until its next cell is due if the
/// failure took the last one (or found none), else not at all.
fn exhausted(outcome: Result<StateSnapshot, NotUntil<QuantaInstant>>) -> Option<Duration> {
    match outcome {
        Ok(snapshot) if snapshot.remaining_burst_capacity() == 0 => {
            Some(snapshot.quota().replenish_interval())
        }
        Ok(_) => None,
        Err(not_until) => Some(not_until.wait_time_from(DefaultClock::default().now())),
    }
}

/// Long names are cut: the key need not hold more than a real user name.
fn truncated(username: &str) -> String {
    let mut end = username.len().min(256);
    while !username.is_char_boundary(end) {
        end -= 1;
    }
    username[..end].to_owned()
}

/// IPv6 clients are counted by /64: one host usually holds a whole /64.
fn network(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(text: &str) -> FailureLimit {
        text.parse().unwrap()
    }

    #[test]
    fn parses_limits_and_names_what_is_wrong() {
        assert_eq!(
            limit("5/1m"),
            FailureLimit {
                failures: NonZeroU32::new(5).unwrap(),
                period: Duration::from_secs(60)
            }
        );
        for (bad, says) in [
            ("5", "form"),
            ("0/1m", "positive"),
            ("x/1m", "positive"),
            ("5/soon", "period"),
            ("5/0s", "longer than zero"),
        ] {
            let error = bad.parse::<FailureLimit>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn blocks_a_user_after_its_failures_and_only_that_user() {
        let limiter = LoginLimiter::new(limit("3/1h"), limit("100/1h"));
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check("alice", client), Ok(()));
            limiter.failed("alice", client);
        }
        let wait = limiter.check("alice", client).unwrap_err();
        assert!(wait > Duration::from_secs(1000) && wait <= Duration::from_secs(1200));
        assert_eq!(limiter.check("bob", client), Ok(()));
    }

    #[test]
    fn blocks_an_address_whatever_names_it_tries() {
        let limiter = LoginLimiter::new(limit("100/1h"), limit("4/1m"));
        let client: IpAddr = "2001:db8::1".parse().unwrap();
        for n in 0..4 {
            limiter.failed(&format!("user{n}"), client);
        }
        assert!(limiter.check("someone-else", client).is_err());
        // The same /64 is the same client; another /64 is not.
        assert!(
            limiter
                .check("x", "2001:db8::ffff".parse().unwrap())
                .is_err()
        );
        assert_eq!(
            limiter.check("x", "2001:db8:0:1::1".parse().unwrap()),
            Ok(())
        );
        assert_eq!(limiter.check("x", "192.0.2.9".parse().unwrap()), Ok(()));
    }

    #[test]
    fn a_block_ends_when_the_next_failure_is_allowed() {
        let limiter = LoginLimiter::new(limit("2/100ms"), limit("100/1h"));
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        limiter.failed("alice", client);
        limiter.failed("alice", client);
        assert!(limiter.check("alice", client).is_err());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(limiter.check("alice", client), Ok(()));
        limiter.sweep();
    }
}
