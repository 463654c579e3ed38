//! The durable job queue: enqueue, claim with a lease, record outcomes, reclaim after the
//! lease, count.

use async_trait::async_trait;
use secworks_dnsbl::{Address, Outcome};
use time::OffsetDateTime;

use crate::StoreError;

/// A job a worker has claimed and holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub address: Address,
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
    pub address: Address,
    /// When the blocklist answered (or failed).
    pub at: OffsetDateTime,
    pub result: JobResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// The blocklist answered; this becomes the current result.
    Answer(Outcome),
    /// The lookup failed and is tried again after `run_after`.
    Retry {
        error: String,
        run_after: OffsetDateTime,
    },
    /// The lookup failed for the last time.
    Fail { error: String },
    /// The job was never tried (shutdown); it waits again as it was.
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

/// The error a job gets when its stored address cannot be read (written by something other
/// than secworks): it fails at once rather than come back after every lease.
pub fn unreadable_address(stored: &str) -> String {
    format!("stored address {stored:?} is not an IP address")
}

/// Lookup jobs. A claim leases jobs under one lease token; an outcome counts only while its
/// job still holds that token, so a job whose worker died is looked up again by another and
/// its result stored once.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Queues a lookup job for each address, due at `now`, all or nothing. An address that
    /// already has a pending job joins it.
    async fn enqueue(&self, addresses: &[Address], now: OffsetDateTime) -> Result<(), StoreError>;

    /// Claims up to `limit` jobs due at `now`, oldest first, leasing them until
    /// `lease_until`. A job whose stored address cannot be read is failed instead (see
    /// [`unreadable_address`]).
    async fn claim_jobs(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Records what became of claimed jobs, all in one transaction, at `now`. An outcome
    /// whose job no longer holds its lease token (the lease ran out and the job was claimed
    /// again) is dropped: the later claim will store its own.
    async fn record_outcomes(
        &self,
        outcomes: &[JobOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Returns jobs whose lease ran out before `now` (their worker died) to the queue;
    /// returns how many.
    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError>;
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
}
