//! The re-check schedule: when each watched target is next due on each list, and which process
//! plans a list now.
//!
//! Each list the planner serves has one schedule row per watched target it takes (its
//! [`TargetKind`]s): the target's interval (the shortest of the watchlists holding it) and
//! when it is next due. The planner brings the rows in line with the watchlists only when
//! they changed (a generation counter every watchlist write bumps), takes the due ones a round
//! at a time within the list's allowance, and moves each taken row's due time forward in the
//! transaction that queues its job, so a target is queued at most once per interval, by
//! whichever process holds the list's planning claim.
//!
//! Watchlist writes log the targets they may have changed (`watch_changes`, with the generation
//! they bumped to), so that a sync recomputes only those targets' rows ([`SyncMode`]); a sync
//! deletes the entries every list planned within [`PLANNED_WITHIN`] has synced past, and a
//! list the log no longer reaches back to is synced in full.

use async_trait::async_trait;
use secworks_dnsbl::Target;
use time::{Duration, OffsetDateTime};

use crate::StoreError;

/// Which targets a list takes, as the schedule stores each watched target's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    Ipv4,
    Ipv6,
    Domain,
}

impl TargetKind {
    pub fn of(target: &Target) -> Self {
        match target {
            Target::Ip(address) if address.ip().is_ipv4() => Self::Ipv4,
            Target::Ip(_) => Self::Ipv6,
            Target::Domain(_) => Self::Domain,
        }
    }

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Domain => "domain",
        }
    }
}

/// The kinds as stored in `recheck_lists.kinds`: sorted, comma-separated, each once.
pub fn kinds_text(kinds: &[TargetKind]) -> String {
    let mut kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds.join(",")
}

/// How long after its last claim a list counts as planned: the change log is kept until each
/// list planned within this has synced past it. A list planned again after longer (disabled,
/// then enabled) finds the log purged past it and is synced in full.
pub const PLANNED_WITHIN: Duration = Duration::DAY;

/// How a sync brings a list's schedule in line with the watchlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// In line already: synced at the current generation with these kinds.
    Nothing,
    /// Every watched target: the list was never synced, its kinds changed, or the change log
    /// no longer reaches back to the generation it was synced at.
    Full,
    /// Only the targets logged after generation `after` (the list's), up to the current one.
    Changes { after: i64 },
}

impl SyncMode {
    /// The mode for a list synced at `stored` (its generation and kinds text, `None` without
    /// a row), taking `kinds` now, when the generation is `generation` and the log holds every
    /// entry after `purged_through`.
    pub fn of(
        stored: Option<(i64, &str)>,
        kinds: &str,
        generation: i64,
        purged_through: i64,
    ) -> Self {
        match stored {
            Some((synced, stored_kinds)) if stored_kinds == kinds => {
                if synced == generation {
                    Self::Nothing
                } else if synced >= 0 && synced >= purged_through {
                    Self::Changes { after: synced }
                } else {
                    Self::Full
                }
            }
            _ => Self::Full,
        }
    }
}

/// How many of a list's watched targets share one interval, and when they fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalDemand {
    pub interval: Duration,
    /// Watched targets with this interval.
    pub targets: u64,
    /// Of those, due at `now`.
    pub due: u64,
    /// Of those, due before the end of the UTC day (the due ones included).
    pub due_today: u64,
}

/// What a list's schedule holds at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleSummary {
    /// One entry per distinct interval, shortest first.
    pub by_interval: Vec<IntervalDemand>,
    /// The list's jobs queued or running (whoever queued them): what it has still to send.
    pub queued: u64,
    /// When the target that has waited longest fell due (`None` without watched targets).
    pub oldest_due: Option<OffsetDateTime>,
}

impl ScheduleSummary {
    pub fn targets(&self) -> u64 {
        self.by_interval.iter().map(|d| d.targets).sum()
    }

    pub fn due(&self) -> u64 {
        self.by_interval.iter().map(|d| d.due).sum()
    }
}

/// What one [`Rechecks::take_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TakenDue {
    /// Targets queued (or joined to a job already queued for them).
    pub queued: u64,
    /// Targets whose answer was still fresh: moved to when it stops being, nothing queued.
    pub fresh: u64,
}

impl TakenDue {
    pub fn taken(&self) -> u64 {
        self.queued + self.fresh
    }
}

/// A due row as a backend reads it, with the list's current answer for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRow {
    pub target: String,
    pub interval: Duration,
    /// When the list last answered for the target (`None`: never, or only errors).
    pub checked_at: Option<OffsetDateTime>,
    /// Until when that answer is fresh.
    pub expires_at: Option<OffsetDateTime>,
}

/// What becomes of a due row: the one rule of the schedule, shared by the backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextDue {
    /// Whether to queue a job now.
    pub queue: bool,
    /// When the target is due next.
    pub due_at: OffsetDateTime,
}

impl DueRow {
    /// An answer that is still fresh (its TTL has not run out), or that came within the
    /// target's interval (someone queued it in between), stands: the target is due again when
    /// neither holds. Otherwise a job is queued and the target is due one interval on.
    pub fn next_due(&self, now: OffsetDateTime) -> NextDue {
        let stands_until = match (self.checked_at, self.expires_at) {
            (Some(checked), Some(expires)) => Some((checked + self.interval).max(expires)),
            (Some(checked), None) => Some(checked + self.interval),
            _ => None,
        };
        match stands_until {
            Some(until) if until > now => NextDue {
                queue: false,
                due_at: until,
            },
            _ => NextDue {
                queue: true,
                due_at: now + self.interval,
            },
        }
    }
}

/// The re-check schedule and the planning claims.
#[async_trait]
pub trait Rechecks: Send + Sync {
    /// Claims the planning of `blocklist` for `holder` until `lease_until`: true when no other
    /// holder's claim is live at `now` (the claim is then `holder`'s, renewed if it was
    /// already), false when another process plans the list.
    async fn claim_planning(
        &self,
        blocklist: &str,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Gives up every planning claim `holder` has, so that another process may plan those
    /// lists at once (a process stopping).
    async fn release_planning(&self, holder: &str) -> Result<(), StoreError>;

    /// Brings `blocklist`'s schedule in line with the watchlists, when they (or `kinds`)
    /// changed since it was last brought: one row per watched target of `kinds`, with the
    /// shortest interval of the watchlists holding it (a new one due at `now`; one whose
    /// interval changed due at `now` plus the new interval, if that is sooner), and none for a
    /// target no longer watched. Only the logged targets are recomputed unless [`SyncMode`]
    /// says `Full`; the log entries every planned list has passed are deleted. One
    /// transaction; returns whether it had to do anything.
    async fn sync_schedule(
        &self,
        blocklist: &str,
        kinds: &[TargetKind],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// `blocklist`'s schedule at `now`, the UTC day ending at `day_end`.
    async fn schedule_summary(
        &self,
        blocklist: &str,
        now: OffsetDateTime,
        day_end: OffsetDateTime,
    ) -> Result<ScheduleSummary, StoreError>;

    /// Takes up to `limit` of `blocklist`'s targets due at `now`: first those it lists now or
    /// that have a listing event on it since `priority_since`, then the longest due. Each is
    /// settled by [`DueRow::next_due`]: a job is queued for it (joining one already queued),
    /// or its fresh answer stands; its due time moves on. One transaction.
    async fn take_due(
        &self,
        blocklist: &str,
        limit: u64,
        now: OffsetDateTime,
        priority_since: OffsetDateTime,
    ) -> Result<TakenDue, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    fn row(checked: Option<i64>, expires: Option<i64>) -> DueRow {
        DueRow {
            target: "192.0.2.1".into(),
            interval: Duration::hours(6),
            checked_at: checked.map(|m| NOW + Duration::minutes(m)),
            expires_at: expires.map(|m| NOW + Duration::minutes(m)),
        }
    }

    #[test]
    fn a_target_never_answered_or_answered_long_ago_is_queued() {
        for due in [row(None, None), row(Some(-400), Some(-399))] {
            assert_eq!(
                due.next_due(NOW),
                NextDue {
                    queue: true,
                    due_at: NOW + Duration::hours(6)
                }
            );
        }
    }

    #[test]
    fn a_fresh_or_recent_answer_stands_until_neither_holds() {
        // Answered an hour ago, TTL long gone: due five hours from now.
        assert_eq!(
            row(Some(-60), Some(-59)).next_due(NOW),
            NextDue {
                queue: false,
                due_at: NOW + Duration::hours(5)
            }
        );
        // Answered seven hours ago with a day's TTL: fresh for 17 more hours.
        assert_eq!(
            row(Some(-420), Some(1020)).next_due(NOW),
            NextDue {
                queue: false,
                due_at: NOW + Duration::hours(17)
            }
        );
    }

    #[test]
    fn a_sync_is_full_unless_the_log_reaches_back_to_the_list_with_its_kinds() {
        let kinds = "domain,ipv4";
        assert_eq!(
            SyncMode::of(Some((7, kinds)), kinds, 7, 3),
            SyncMode::Nothing
        );
        assert_eq!(
            SyncMode::of(Some((5, kinds)), kinds, 7, 3),
            SyncMode::Changes { after: 5 }
        );
        // Purged through exactly its generation: every later entry is there.
        assert_eq!(
            SyncMode::of(Some((3, kinds)), kinds, 7, 3),
            SyncMode::Changes { after: 3 }
        );
        assert_eq!(SyncMode::of(Some((2, kinds)), kinds, 7, 3), SyncMode::Full);
        assert_eq!(SyncMode::of(Some((5, "ipv4")), kinds, 7, 3), SyncMode::Full);
        // Claimed, never synced; no row at all.
        assert_eq!(SyncMode::of(Some((-1, "")), kinds, 0, 0), SyncMode::Full);
        assert_eq!(SyncMode::of(None, kinds, 7, 0), SyncMode::Full);
        assert_eq!(
            kinds_text(&[TargetKind::Ipv4, TargetKind::Domain, TargetKind::Ipv4]),
            kinds
        );
    }

    #[test]
    fn kinds_follow_family_and_domains() {
        let kind = |text: &str| TargetKind::of(&Target::parse(text).unwrap());
        assert_eq!(kind("192.0.2.1"), TargetKind::Ipv4);
        assert_eq!(kind("2001:db8::1"), TargetKind::Ipv6);
        assert_eq!(kind("example.com"), TargetKind::Domain);
        assert_eq!(TargetKind::Ipv6.as_str(), "ipv6");
    }
}
