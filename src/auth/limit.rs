//! Failed-login limits, so that passwords cannot be guessed at the rate argon2 allows, and so
//! that nobody can keep an account locked out by failing on purpose.
//!
//! Three counts, each of failures only (a client that logs in correctly is never slowed down):
//!
//! - per (name, client address): one client guessing one account. Exceeding it refuses that
//!   pair only; the same name from another address is untouched.
//! - per client address, whatever names it tries: one client spraying many accounts.
//! - per name across all addresses: many clients guessing one account. While it is exceeded,
//!   a client with a recent failure for that name is refused, but a client without one still
//!   has its password checked: the owner logs in, each attacker address gets one guess per
//!   period instead of a guess per pair allowance.
//!
//! governor keeps the counts (GCRA, one cell per failure). Its limiters cannot be queried
//! without taking a cell, so a failure that uses up a key's last cell also marks the key
//! blocked until the next cell is due, and attempts are checked against those marks before any
//! password work is done. The marks and the recent failures live in bounded caches (moka): an
//! attacker with many addresses cannot grow them without limit, and an entry pushed out early
//! costs at most one extra checked guess, since governor still holds the count.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{NotUntil, Quota, RateLimiter};
use moka::sync::Cache;

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

/// The three failed-login limits.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Per (name, client address): `SECWORKS_LOGIN_FAILURES_PER_USER`.
    pub per_user: FailureLimit,
    /// Per client address: `SECWORKS_LOGIN_FAILURES_PER_ADDRESS`.
    pub per_address: FailureLimit,
    /// Per name, across all addresses: `SECWORKS_LOGIN_FAILURES_PER_NAME`.
    pub per_name: FailureLimit,
}

/// A name as counted, and the network of the client that tried it.
type Pair = (String, IpAddr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(Pair),
    Address(IpAddr),
    Name(String),
}

type Limiter<K, C> = RateLimiter<K, DefaultKeyedStateStore<K>, C, StateInformationMiddleware>;

/// Entries each cache keeps at most (a few MiB at most).
const TRACKED: u64 = 100_000;

/// Which limit a failure has just used up, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Pair,
    Address,
    Name,
}

pub struct LoginLimiter<C: Clock = DefaultClock> {
    clock: C,
    pairs: Limiter<Pair, C>,
    addresses: Limiter<IpAddr, C>,
    names: Limiter<String, C>,
    /// Until when each key is refused.
    blocked: Cache<Key, C::Instant>,
    /// The last failure of each pair, kept for the per-name period.
    recent: Cache<Pair, C::Instant>,
    recent_for: Duration,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self::with_clock(limits, DefaultClock::default())
    }
}

impl<C> LoginLimiter<C>
where
    C: Clock + Clone,
    C::Instant: 'static,
{
    pub fn with_clock(limits: LoginLimits, clock: C) -> Self {
        let longest = limits
            .per_user
            .period
            .max(limits.per_address.period)
            .max(limits.per_name.period);
        Self {
            pairs: keyed(limits.per_user, &clock),
            addresses: keyed(limits.per_address, &clock),
            names: keyed(limits.per_name, &clock),
            // A mark never outlives its period; the cache's own clock only bounds memory.
            blocked: Cache::builder()
                .max_capacity(TRACKED)
                .time_to_live(longest)
                .build(),
            recent: Cache::builder()
                .max_capacity(TRACKED)
                .time_to_live(limits.per_name.period)
                .build(),
            recent_for: limits.per_name.period,
            clock,
        }
    }

    /// `Err(wait)` when `username` from `client` must be refused without checking the
    /// password, with when to try again.
    pub fn check(&self, username: &str, client: IpAddr) -> Result<(), Duration> {
        let now = self.clock.now();
        let pair = (truncated(username), network(client));
        let own = [Key::Pair(pair.clone()), Key::Address(pair.1)]
            .into_iter()
            .filter_map(|key| self.remaining(&key, now))
            .max();
        if let Some(wait) = own {
            return Err(wait);
        }
        let Some(name_wait) = self.remaining(&Key::Name(pair.0.clone()), now) else {
            return Ok(());
        };
        // The name is under attack: only clients that have not failed on it lately get their
        // password checked.
        match self.recent.get(&pair) {
            Some(failed_at) if now.duration_since(failed_at) < self.recent_for.into() => {
                let ages_out = self
                    .recent_for
                    .saturating_sub(now.duration_since(failed_at).into());
                Err(name_wait.min(ages_out))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login of `username` from `client`; returns the limits it used up.
    pub fn failed(&self, username: &str, client: IpAddr) -> Vec<Exceeded> {
        let pair = (truncated(username), network(client));
        let waits = [
            (
                Exceeded::Pair,
                Key::Pair(pair.clone()),
                self.exhausted(self.pairs.check_key(&pair)),
            ),
            (
                Exceeded::Address,
                Key::Address(pair.1),
                self.exhausted(self.addresses.check_key(&pair.1)),
            ),
            (
                Exceeded::Name,
                Key::Name(pair.0.clone()),
                self.exhausted(self.names.check_key(&pair.0)),
            ),
        ];
        let now = self.clock.now();
        self.recent.insert(pair, now);
        let mut exceeded = Vec::new();
        for (which, key, wait) in waits {
            if let Some(wait) = wait {
                let newly = self.remaining(&key, now).is_none();
                self.blocked.insert(key, now + wait.into());
                if newly {
                    exceeded.push(which);
                }
            }
        }
        exceeded
    }

    /// Forgets counts whose failures have all been refilled; call now and then.
    pub fn sweep(&self) {
        self.pairs.retain_recent();
        self.addresses.retain_recent();
        self.names.retain_recent();
        self.pairs.shrink_to_fit();
        self.addresses.shrink_to_fit();
        self.names.shrink_to_fit();
        self.blocked.run_pending_tasks();
        self.recent.run_pending_tasks();
    }

    /// How long `key` stays refused from `now`, if it is.
    fn remaining(&self, key: &Key, now: C::Instant) -> Option<Duration> {
        let until = self.blocked.get(key)?;
        (until > now).then(|| until.duration_since(now).into())
    }

    /// How long a key stays blocked after this failure: until its next cell is due if the
    /// failure took the last one (or found none), else not at all.
    fn exhausted(&self, outcome: Result<StateSnapshot, NotUntil<C::Instant>>) -> Option<Duration> {
        match outcome {
            Ok(snapshot) if snapshot.remaining_burst_capacity() == 0 => {
                Some(snapshot.quota().replenish_interval())
            }
            Ok(_) => None,
            Err(not_until) => Some(not_until.wait_time_from(self.clock.now())),
        }
    }
}

fn keyed<K, C>(limit: FailureLimit, clock: &C) -> Limiter<K, C>
where
    K: std::hash::Hash + Eq + Clone,
    C: Clock + Clone,
{
    RateLimiter::dashmap_with_clock(limit.quota(), clock.clone())
        .with_middleware::<StateInformationMiddleware>()
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
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limit(text: &str) -> FailureLimit {
        text.parse().unwrap()
    }

    fn limiter(
        per_user: &str,
        per_address: &str,
        per_name: &str,
    ) -> (LoginLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limits = LoginLimits {
            per_user: limit(per_user),
            per_address: limit(per_address),
            per_name: limit(per_name),
        };
        (LoginLimiter::with_clock(limits, clock.clone()), clock)
    }

    fn ip(text: &str) -> IpAddr {
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
    fn blocks_a_name_from_one_address_and_nothing_else() {
        let (limiter, _) = limiter("3/1h", "100/1h", "100/1h");
        let attacker = ip("192.0.2.1");
        for n in 0..3 {
            assert_eq!(limiter.check("alice", attacker), Ok(()));
            let exceeded = limiter.failed("alice", attacker);
            assert_eq!(exceeded, if n == 2 { vec![Exceeded::Pair] } else { vec![] });
        }
        let wait = limiter.check("alice", attacker).unwrap_err();
        assert!(wait > Duration::from_secs(1000) && wait <= Duration::from_secs(1200));
        // The owner, elsewhere, is not locked out; the attacker may still try other names.
        assert_eq!(limiter.check("alice", ip("198.51.100.7")), Ok(()));
        assert_eq!(limiter.check("bob", attacker), Ok(()));
    }

    #[test]
    fn blocks_an_address_whatever_names_it_tries() {
        let (limiter, _) = limiter("100/1h", "4/1m", "100/1h");
        let client = ip("2001:db8::1");
        for n in 0..4 {
            limiter.failed(&format!("user{n}"), client);
        }
        assert!(limiter.check("someone-else", client).is_err());
        // The same /64 is the same client; another /64 is not.
        assert!(limiter.check("x", ip("2001:db8::ffff")).is_err());
        assert_eq!(limiter.check("x", ip("2001:db8:0:1::1")), Ok(()));
        assert_eq!(limiter.check("x", ip("192.0.2.9")), Ok(()));
    }

    #[test]
    fn a_name_over_its_limit_refuses_the_guessers_and_checks_everyone_else() {
        let (limiter, clock) = limiter("5/1m", "30/1m", "10/1h");
        // Ten addresses guess once each: no pair or address is over its limit, the name is.
        let guessers: Vec<IpAddr> = (1..=10).map(|n| ip(&format!("192.0.2.{n}"))).collect();
        let mut exceeded = Vec::new();
        for &guesser in &guessers {
            assert_eq!(limiter.check("alice", guesser), Ok(()));
            exceeded.extend(limiter.failed("alice", guesser));
        }
        assert_eq!(exceeded, vec![Exceeded::Name]);
        for &guesser in &guessers {
            let wait = limiter.check("alice", guesser).unwrap_err();
            assert!(wait <= Duration::from_secs(3600), "{wait:?}");
        }
        // The owner's address has no recent failure: its password gets checked.
        let owner = ip("198.51.100.7");
        assert_eq!(limiter.check("alice", owner), Ok(()));
        // A new guesser gets its one guess, then is refused like the others.
        let newcomer = ip("203.0.113.9");
        assert_eq!(limiter.check("alice", newcomer), Ok(()));
        limiter.failed("alice", newcomer);
        assert!(limiter.check("alice", newcomer).is_err());
        // Other names are not affected.
        assert_eq!(limiter.check("bob", guessers[0]), Ok(()));
        // Once the name's period has refilled a cell, the guessers may try again.
        clock.advance(Duration::from_secs(3600));
        assert_eq!(limiter.check("alice", guessers[0]), Ok(()));
    }

    #[test]
    fn a_block_ends_when_the_next_failure_is_allowed() {
        let (limiter, clock) = limiter("2/100ms", "100/1h", "100/1h");
        let client = ip("192.0.2.1");
        limiter.failed("alice", client);
        limiter.failed("alice", client);
        let wait = limiter.check("alice", client).unwrap_err();
        assert_eq!(wait, Duration::from_millis(50));
        clock.advance(Duration::from_millis(49));
        assert!(limiter.check("alice", client).is_err());
        clock.advance(Duration::from_millis(1));
        assert_eq!(limiter.check("alice", client), Ok(()));
        limiter.sweep();
    }
}
