//! Keeps the queue and the history from growing without bound: lookup jobs done longer ago
//! than `SECWORKS_JOB_RETENTION` (their answers stay in the results) and attempts older than
//! `SECWORKS_HISTORY_RETENTION` are deleted, oldest first, in short batches: SQLite has one
//! writer, and a batch holds it for milliseconds, not for the whole backlog. Every replica
//! runs it; on PostgreSQL a batch of done jobs skips those another replica is deleting.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::store::{Store, StoreError};
use crate::timestamp::Clock;

/// How often the retention runs (and once at start).
pub const INTERVAL: Duration = Duration::from_secs(600);
/// Rows deleted per transaction.
const BATCH: u32 = 5_000;

/// How long done jobs and history are kept; `None` keeps them for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    pub jobs: Option<Duration>,
    pub history: Option<Duration>,
}

/// What one run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub jobs: u64,
    pub history: u64,
}

/// Deletes what is past its retention at `now`, batch by batch, until nothing older is left.
pub async fn purge(
    store: &dyn Store,
    settings: RetentionSettings,
    now: OffsetDateTime,
) -> Result<Purged, StoreError> {
    purge_in_batches_of(BATCH, store, settings, now).await
}

async fn purge_in_batches_of(
    batch: u32,
    store: &dyn Store,
    settings: RetentionSettings,
    now: OffsetDateTime,
) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    if let Some(before) = cutoff(now, settings.jobs) {
        purged.jobs = in_batches(|| store.purge_done_jobs(before, batch)).await?;
    }
    if let Some(before) = cutoff(now, settings.history) {
        purged.history = in_batches(|| store.purge_history(before, batch)).await?;
    }
    Ok(purged)
}

/// Runs [`purge`] at start and every [`INTERVAL`], by `clock`, until aborted.
pub async fn run(store: Arc<dyn Store>, settings: RetentionSettings, clock: Clock) {
    if settings.jobs.is_none() && settings.history.is_none() {
        return;
    }
    let mut every = tokio::time::interval(INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match purge(store.as_ref(), settings, clock.now()).await {
            Ok(Purged {
                jobs: 0,
                history: 0,
            }) => {}
            Ok(purged) => tracing::info!(
                jobs = purged.jobs,
                history = purged.history,
                "deleted done jobs and history past their retention"
            ),
            Err(error) => tracing::warn!(%error, "could not delete what is past its retention"),
        }
    }
}

/// The instant before which rows go, if any (a retention reaching before the calendar's start
/// keeps everything).
fn cutoff(now: OffsetDateTime, keep: Option<Duration>) -> Option<OffsetDateTime> {
    now.checked_sub(time::Duration::try_from(keep?).ok()?)
}

/// Calls `batch` until it deletes nothing (a short batch is not the end: the history's
/// batches look at its oldest rows by id, where a newer row may sit among older ones); yields
/// between batches so that the lookups' writes interleave.
async fn in_batches<F, Fut>(mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let deleted = batch().await?;
        if deleted == 0 {
            return Ok(total);
        }
        total += deleted;
        tokio::task::yield_now().await;
    }
}

/// A retention setting as given: how long to keep, or `None` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

/// `none`, or a duration of at least an hour (`7d`, `90d`, `1y`).
pub fn parse_retention(text: &str) -> Result<Retention, String> {
    parse_keep(text).map(Retention)
}

fn parse_keep(text: &str) -> Result<Option<Duration>, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let keep = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("expected `none` or a duration such as `7d`: {e}"))?,
    };
    if keep < Duration::from_secs(3600) {
        return Err("must be at least 1h, or `none` to keep everything".into());
    }
    Ok(Some(keep))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::store::{
        self, Address, Evidence, JobOutcome, JobResult, ListAnswer, NewJob, ORIGINAL_LIST, Target,
        Verdict,
    };
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-01 00:00 UTC);

    #[test]
    fn retention_is_none_or_at_least_an_hour() {
        assert_eq!(parse_retention("none"), Ok(Retention(None)));
        assert_eq!(parse_retention("NONE"), Ok(Retention(None)));
        assert_eq!(
            parse_retention("7d"),
            Ok(Retention(Some(Duration::from_secs(7 * 86_400))))
        );
        assert_eq!(
            parse_retention("3600"),
            Ok(Retention(Some(Duration::from_secs(3600))))
        );
        assert!(parse_retention("59m").unwrap_err().contains("at least 1h"));
        assert!(parse_retention("soon").unwrap_err().contains("`none`"));
        assert_eq!(cutoff(T0, None), None);
        assert_eq!(
            cutoff(T0, Some(Duration::from_secs(3600))),
            Some(T0 - time::Duration::HOUR)
        );
        assert_eq!(cutoff(T0, Some(Duration::from_secs(u64::MAX))), None);
    }

    /// Jobs of the original list for `count` new addresses from `first` on, answered "not
    /// listed" at `at`, as the engine stores them.
    async fn done_at(store: &dyn Store, first: u32, count: u32, at: OffsetDateTime) {
        let jobs: Vec<NewJob> = (first..first + count)
            .map(|i| NewJob {
                target: Target::Ip(Address::from(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i)))),
                blocklist: ORIGINAL_LIST.to_owned(),
            })
            .collect();
        store.enqueue(&jobs, false, at).await.unwrap();
        let claimed = store
            .claim_jobs(ORIGINAL_LIST, count, at, at + time::Duration::MINUTE)
            .await
            .unwrap();
        let outcomes: Vec<JobOutcome> = claimed
            .into_iter()
            .map(|job| JobOutcome {
                job_id: job.id,
                lease_token: job.lease_token,
                target: job.target,
                blocklist: job.blocklist,
                at,
                result: JobResult::Answer(ListAnswer {
                    verdict: Verdict::NotListed,
                    return_codes: Vec::new(),
                    reason: None,
                    expires_at: at + time::Duration::HOUR,
                    evidence: Evidence {
                        resolver: "192.0.2.53:53".parse().unwrap(),
                        query_name: "query".into(),
                        rcode: "NXDOMAIN".into(),
                        ttl: Some(300),
                        test_points_passed: true,
                        answered_at: at,
                    },
                }),
                queries: 1,
            })
            .collect();
        store.record_outcomes(&outcomes, at).await.unwrap();
    }

    #[tokio::test]
    async fn what_is_past_its_retention_goes_batch_by_batch() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("retention.db").display());
        let store = store::connect(&url).await.unwrap();
        // Seven done eight days ago (over three batches of 2), three yesterday.
        done_at(store.as_ref(), 0, 7, T0 - time::Duration::days(8)).await;
        done_at(store.as_ref(), 7, 3, T0 - time::Duration::DAY).await;
        assert_eq!(store.queue_counts().await.unwrap().done, 10);

        let week = Some(Duration::from_secs(7 * 86_400));
        let jobs_only = RetentionSettings {
            jobs: week,
            history: None,
        };
        let purged = purge_in_batches_of(2, store.as_ref(), jobs_only, T0)
            .await
            .unwrap();
        assert_eq!(
            purged,
            Purged {
                jobs: 7,
                history: 0
            }
        );
        assert_eq!(store.queue_counts().await.unwrap().done, 3);
        // The answers stay; the history goes by its own setting.
        let first = Address::from(IpAddr::from(Ipv4Addr::from(0x0a00_0000)));
        assert!(store.lookup(&first).await.unwrap().is_some());
        assert_eq!(store.history(&first, 10).await.unwrap().len(), 1);
        let both = RetentionSettings {
            jobs: week,
            history: week,
        };
        let purged = purge_in_batches_of(2, store.as_ref(), both, T0)
            .await
            .unwrap();
        assert_eq!(
            purged,
            Purged {
                jobs: 0,
                history: 7
            }
        );
        assert!(store.history(&first, 10).await.unwrap().is_empty());
        assert!(store.lookup(&first).await.unwrap().is_some());
        let kept = RetentionSettings {
            jobs: None,
            history: None,
        };
        let purged = purge(store.as_ref(), kept, T0 + time::Duration::days(30))
            .await
            .unwrap();
        assert_eq!(purged, Purged::default());
    }
}
