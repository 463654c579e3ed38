//! The durable job queue: enqueue, claim with a lease, record outcomes, reclaim after the
//! lease, count.

use async_trait::async_trait;
use secworks_dnsbl::Target;
use time::OffsetDateTime;

use crate::{Evidence, ListAnswer, StoreError};

/// A job to queue: ask one list about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub target: Target,
    /// The catalogue id of the list to ask.
    pub blocklist: String,
}

/// A job a worker has claimed and holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub target: Target,
    pub blocklist: String,
    /// Attempts including this one.
    pub attempts: i64,
    /// Proof of the claim: an outcome is stored only while the job still holds it.
    pub lease_token: String,
}

/// What became of one claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    pub job_id: i64,
    pub lease_token: String,
    pub target: Target,
    pub blocklist: String,
    /// When the blocklist answered (or failed).
    pub at: OffsetDateTime,
    pub result: JobResult,
    /// DNS queries the attempt sent to the list (the A query, and a TXT query for a listing's
    /// reason): counted to the list's day of `at`, UTC.
    pub queries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// The list answered; this becomes the list's current result for the target. For
    /// [`ORIGINAL_LIST`](crate::ORIGINAL_LIST) and an address it is also the address's
    /// `response_code` and a history entry.
    Answer(ListAnswer),
    /// The lookup failed and is tried again after `run_after`.
    Retry {
        error: String,
        run_after: OffsetDateTime,
        /// How the failed attempt went, when a DNS query was sent.
        evidence: Option<Evidence>,
    },
    /// The lookup failed for the last time.
    Fail {
        error: String,
        evidence: Option<Evidence>,
    },
    /// The job was never tried (shutdown, a paused list); it waits again as it was.
    Release,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl QueueCounts {
    /// Counts from `(state, jobs)` rows, as a backend's `GROUP BY state` gives them.
    pub fn from_states<S: AsRef<str>>(rows: impl IntoIterator<Item = (S, i64)>) -> Self {
        let mut counts = Self::default();
        for (state, jobs) in rows {
            let slot = match state.as_ref() {
                "pending" => &mut counts.pending,
                "running" => &mut counts.running,
                "done" => &mut counts.done,
                _ => &mut counts.failed,
            };
            *slot = jobs;
        }
        counts
    }
}

/// A claimed job as a backend reads it back, its target still as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRow {
    pub id: i64,
    pub target: String,
    pub blocklist: String,
    pub attempts: i64,
    pub lease_token: String,
}

/// A job whose stored target cannot be read (written by something other than secworks): the
/// backend fails it with [`Unreadable::error`] rather than let it come back after every lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub id: i64,
    pub target: String,
}

impl Unreadable {
    pub fn error(&self) -> String {
        format!(
            "stored target {:?} is neither an IP address nor a domain",
            self.target
        )
    }
}

/// Reads claimed rows, in order: the jobs, and apart those whose target cannot be read, in id
/// order (the order to lock them in).
pub fn read_claimed(
    rows: impl IntoIterator<Item = ClaimedRow>,
) -> (Vec<ClaimedJob>, Vec<Unreadable>) {
    let mut jobs = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows {
        match Target::parse(&row.target) {
            Some(target) => jobs.push(ClaimedJob {
                id: row.id,
                target,
                blocklist: row.blocklist,
                attempts: row.attempts,
                lease_token: row.lease_token,
            }),
            None => unreadable.push(Unreadable {
                id: row.id,
                target: row.target,
            }),
        }
    }
    unreadable.sort_unstable_by_key(|job| job.id);
    (jobs, unreadable)
}

/// Lookup jobs. A claim leases jobs under one lease token; an outcome counts only while its
/// job still holds that token, so a job whose worker died is looked up again by another and
/// its result stored once.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Queues each job, due at `now`, all or nothing. A job whose target already has a
    /// pending job for the same list joins it. With `reuse_fresh`, a job whose list has an
    /// answer for the target that is still fresh at `now` (`expires_at` after it) is not
    /// queued: that answer stands.
    async fn enqueue(
        &self,
        jobs: &[NewJob],
        reuse_fresh: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` of `blocklist`'s jobs due at `now`, oldest first, leasing them
    /// until `lease_until`. A job whose stored target cannot be read is failed instead (see
    /// [`Unreadable`]).
    async fn claim_jobs(
        &self,
        blocklist: &str,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Records what became of claimed jobs, all in one transaction, at `now`: each list's
    /// result for its target (an error never replaces an answer, it sets `last_error`), the
    /// address's or domain's record, the original list's `response_code` and history, and
    /// each list's query count. An outcome whose job no longer holds its lease token (the
    /// lease ran out and the job was claimed again) is dropped: the later claim will store
    /// its own.
    async fn record_outcomes(
        &self,
        outcomes: &[JobOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Returns jobs whose lease ran out before `now` (their worker died) to the queue;
    /// returns how many.
    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError>;

    /// The lists that have pending jobs, in id order.
    async fn pending_lists(&self) -> Result<Vec<String>, StoreError>;

    /// Fails every pending job of `blocklist` with `error`, at `now`; returns how many. For
    /// a list no longer enabled, whose jobs no worker would ever claim.
    async fn fail_pending(
        &self,
        blocklist: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Deletes jobs done before `before`, oldest first, at most `limit` of them, each with the
    /// failed jobs of its target and list that came before it (so that a pair's latest job
    /// stays its latest); returns how many done jobs. Their answers stay in the results;
    /// `queueStatus` counts the jobs kept.
    async fn purge_done_jobs(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_counts_come_from_state_rows() {
        let rows = [("done", 7), ("pending", 3), ("failed", 1), ("running", 2)];
        assert_eq!(
            QueueCounts::from_states(rows),
            QueueCounts {
                pending: 3,
                running: 2,
                done: 7,
                failed: 1
            }
        );
        assert_eq!(QueueCounts::from_states::<&str>([]), QueueCounts::default());
    }

    #[test]
    fn claimed_rows_with_unreadable_addresses_are_set_apart() {
        let row = |id, ip: &str| ClaimedRow {
            id,
            target: ip.to_owned(),
            blocklist: "spamhaus-zen".to_owned(),
            attempts: 1,
            lease_token: "token".to_owned(),
        };
        let (jobs, unreadable) = read_claimed([
            row(5, "192.0.2.1"),
            row(9, "not an address"),
            row(2, "2001:db8::1"),
            row(3, "192.0.2.999"),
            row(4, "Example.COM"),
        ]);
        let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
        assert_eq!(ids, [5, 2, 4]);
        assert_eq!(jobs[1].target.to_string(), "2001:db8::1");
        assert_eq!(jobs[2].target.to_string(), "example.com");
        let ids: Vec<i64> = unreadable.iter().map(|job| job.id).collect();
        assert_eq!(ids, [3, 9]);
        assert_eq!(
            unreadable[0].error(),
            "stored target \"192.0.2.999\" is neither an IP address nor a domain"
        );
    }
}
