//! A list's daily query budget: how many queries it may still be sent this UTC day.
//!
//! The count that matters is the database's (`blocklist_queries`), which every replica adds
//! to; each replica keeps a local count so that it need not ask the database before every
//! query, and takes the database's count whenever it is higher (another replica spent). Two
//! replicas may overshoot together by what they spend between two syncs; the sync interval
//! bounds that.

use std::sync::Mutex;

use time::{Date, OffsetDateTime};

pub use crate::timestamp::{next_midnight, utc_day};

#[derive(Debug)]
pub struct Budget {
    /// Queries a UTC day; `None` for no limit.
    limit: Option<u64>,
    spent: Mutex<Spent>,
}

#[derive(Debug, Clone, Copy)]
struct Spent {
    day: Date,
    queries: u64,
}

impl Budget {
    pub fn new(limit: Option<u64>, now: OffsetDateTime) -> Self {
        Self {
            limit,
            spent: Mutex::new(Spent {
                day: utc_day(now),
                queries: 0,
            }),
        }
    }

    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Takes `queries` from today's budget if they fit; false (and nothing taken) if not.
    pub fn try_spend(&self, now: OffsetDateTime, queries: u64) -> bool {
        self.with_today(now, |spent| {
            let fits = self
                .limit
                .is_none_or(|limit| spent.queries.saturating_add(queries) <= limit);
            if fits {
                spent.queries += queries;
            }
            fits
        })
    }

    /// Counts queries already sent (a TXT query after a listing), fitting or not.
    pub fn spend(&self, now: OffsetDateTime, queries: u64) {
        self.with_today(now, |spent| {
            spent.queries = spent.queries.saturating_add(queries);
        });
    }

    /// Gives back queries taken but not sent (the lookup was called off).
    pub fn refund(&self, now: OffsetDateTime, queries: u64) {
        self.with_today(now, |spent| {
            spent.queries = spent.queries.saturating_sub(queries);
        });
    }

    /// Takes the database's count for `day` when it is higher than ours.
    pub fn sync(&self, now: OffsetDateTime, day: Date, stored: u64) {
        self.with_today(now, |spent| {
            if spent.day == day {
                spent.queries = spent.queries.max(stored);
            }
        });
    }

    /// Queries spent today.
    pub fn spent(&self, now: OffsetDateTime) -> u64 {
        self.with_today(now, |spent| spent.queries)
    }

    /// When the budget is used up: the next midnight UTC, when it starts again.
    pub fn exhausted_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let limit = self.limit?;
        self.with_today(now, |spent| {
            (spent.queries >= limit).then(|| next_midnight(now))
        })
    }

    fn with_today<T>(&self, now: OffsetDateTime, f: impl FnOnce(&mut Spent) -> T) -> T {
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let today = utc_day(now);
        if spent.day != today {
            *spent = Spent {
                day: today,
                queries: 0,
            };
        }
        f(&mut spent)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn a_used_up_budget_waits_for_the_next_utc_day() {
        let morning = datetime!(2026-11-30 08:00 UTC);
        let budget = Budget::new(Some(3), morning);
        assert!(budget.try_spend(morning, 2));
        assert!(!budget.try_spend(morning, 2), "would go over");
        assert!(budget.try_spend(morning, 1));
        assert_eq!(budget.spent(morning), 3);
        assert_eq!(
            budget.exhausted_until(morning),
            Some(datetime!(2026-12-01 00:00 UTC))
        );
        let late = datetime!(2026-11-30 23:59:59 UTC);
        assert!(!budget.try_spend(late, 1));
        let tomorrow = datetime!(2026-12-01 00:00 UTC);
        assert_eq!(budget.exhausted_until(tomorrow), None);
        assert!(budget.try_spend(tomorrow, 3));
        assert_eq!(budget.spent(tomorrow), 3);
    }

    #[test]
    fn the_day_is_the_utc_day_whatever_the_offset() {
        let budget = Budget::new(Some(1), datetime!(2026-11-30 23:30 UTC));
        assert!(budget.try_spend(datetime!(2026-11-30 23:30 UTC), 1));
        // 00:30 in UTC+2 is still 22:30 UTC the same day.
        assert!(!budget.try_spend(datetime!(2026-12-01 00:30 +02:00), 1));
        assert!(budget.try_spend(datetime!(2026-12-01 00:30 UTC), 1));
    }

    #[test]
    fn other_replicas_spending_is_taken_from_the_database() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let budget = Budget::new(Some(10), now);
        assert!(budget.try_spend(now, 2));
        budget.sync(now, date!(2026 - 11 - 30), 9);
        assert_eq!(budget.spent(now), 9);
        // A lower stored count (ours not yet written) does not lower ours.
        budget.sync(now, date!(2026 - 11 - 30), 4);
        assert_eq!(budget.spent(now), 9);
        // Yesterday's count is not today's.
        budget.sync(now, date!(2026 - 11 - 29), 50);
        assert_eq!(budget.spent(now), 9);
        assert!(!budget.try_spend(now, 2));
        budget.refund(now, 1);
        assert!(budget.try_spend(now, 1));
        budget.spend(now, 2);
        assert_eq!(budget.spent(now), 11);
        assert!(budget.exhausted_until(now).is_some());
    }

    #[test]
    fn no_limit_never_runs_out() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let budget = Budget::new(None, now);
        assert!(budget.try_spend(now, u64::MAX / 2));
        assert_eq!(budget.exhausted_until(now), None);
    }
}
