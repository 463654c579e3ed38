//! The clock, and the one timestamp format secworks stores and serves (RFC 3339 UTC with
//! microseconds, `2022-02-08T06:10:00.591595Z`; see [`secworks_store_api::timestamp`]).
//!
//! The store never reads the clock: what it records as "now" is what its callers pass, read
//! here.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Date, Duration, OffsetDateTime, Time};

pub use secworks_store_api::timestamp::{format, parse};

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// An instant strictly after every instant [`now`] returned before it, also once both are
/// cut to the microseconds they are stored and written in: a bound for "everything issued
/// until now", e.g. a user's tokens.
pub fn after_now() -> OffsetDateTime {
    now() + Duration::MICROSECOND
}

/// The lookup engine's clock: the system clock, which a test can move forward to see what
/// happens tomorrow (daily budgets restart at midnight UTC) without waiting for it. Clones
/// share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Seconds added to the system clock.
    ahead: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> OffsetDateTime {
        now() + Duration::seconds(self.ahead.load(Ordering::Relaxed))
    }

    /// Moves this clock and every clone of it forward.
    pub fn advance(&self, by: std::time::Duration) {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.ahead.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// The UTC date of `now`: the day budgets count in.
pub fn utc_day(now: OffsetDateTime) -> Date {
    now.to_offset(time::UtcOffset::UTC).date()
}

/// The start of the next UTC day.
pub fn next_midnight(now: OffsetDateTime) -> OffsetDateTime {
    let today = utc_day(now);
    let tomorrow = today.next_day().unwrap_or(today);
    tomorrow.with_time(Time::MIDNIGHT).assume_utc()
}

/// The interval in the largest unit that holds it whole: `6h`, `90m`, `1d`, `45s`.
pub fn format_interval(interval: time::Duration) -> String {
    let seconds = interval.whole_seconds();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_runs_ahead_for_every_clone() {
        let clock = Clock::system();
        let clone = clock.clone();
        clock.advance(std::time::Duration::from_secs(86_400));
        let ahead = clone.now() - now();
        assert!(
            ahead >= Duration::hours(23) && ahead <= Duration::hours(25),
            "{ahead}"
        );
    }
}
