//! Writing outcomes back, in batches, and holding back the ones that would delist a target
//! until the list's test points have passed again.
//!
//! A resolver that is blocked, or starts answering NXDOMAIN to everything, between two
//! test-point checks makes every answer look clean. For most targets that is caught at the
//! next check (the list pauses, and its answers are asked again); but a "not listed" answer
//! about a target the list lists now would be stored as a delisting at once, and a listing
//! event would page someone. So such an answer waits here for a check that started after it:
//! if that check passes, the answer stands; if it fails, the job is retried like any answer
//! of a list whose test points fail. Delistings are rare, so the checks this asks for cost
//! next to nothing; every other answer is written at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use secworks_dnsbl::Target;
use secworks_store_api::Verdict;
use tokio::sync::mpsc;

use super::engine::{BATCH, Shared, Worker};
use crate::store::{JobOutcome, JobResult};

/// Writes outcomes in batches (one transaction for as many as have arrived, which is what
/// makes the rate on a single-writer database), holding delistings back until confirmed.
pub(super) async fn write_outcomes(
    shared: Arc<Shared>,
    workers: Arc<[Arc<Worker>]>,
    mut received: mpsc::Receiver<JobOutcome>,
) {
    let mut checks = shared.checks.subscribe();
    let mut held: Vec<JobOutcome> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            arrived = received.recv_many(&mut batch, BATCH) => {
                if arrived == 0 {
                    break;
                }
                held.extend(hold_delistings(&shared, &workers, &mut batch).await);
                record(&shared, &batch).await;
                batch.clear();
            }
            Ok(()) = checks.changed(), if !held.is_empty() => {
                let settled = settle(&shared, &workers, &mut held);
                if !settled.is_empty() {
                    record(&shared, &settled).await;
                }
            }
        }
    }
    if !held.is_empty() {
        // Shutting down before a check confirmed them: their leases return the jobs.
        tracing::info!(
            jobs = held.len(),
            "delistings not yet confirmed by the test points are left to be asked again"
        );
    }
}

/// Takes the answers out of `batch` that say "not listed" about a target its list lists now,
/// and asks those lists for a test-point check. When the store cannot say which targets are
/// listed, every "not listed" answer of that list is held: a check confirms them just the same.
async fn hold_delistings(
    shared: &Shared,
    workers: &[Arc<Worker>],
    batch: &mut Vec<JobOutcome>,
) -> Vec<JobOutcome> {
    let mut clean: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for outcome in batch.iter() {
        if is_clean(outcome) {
            clean
                .entry(outcome.blocklist.as_str())
                .or_default()
                .push(outcome.target.to_string());
        }
    }
    if clean.is_empty() {
        return Vec::new();
    }
    let mut listed: BTreeSet<(String, String)> = BTreeSet::new();
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for (list, targets) in clean {
        match shared.counts.listed_among(list, &targets).await {
            Ok(found) => listed.extend(found.into_iter().map(|t| (list.to_owned(), t))),
            Err(error) => {
                tracing::warn!(%error, list, "cannot read which targets are listed; holding this batch's clean answers for a test-point check");
                unknown.insert(list.to_owned());
            }
        }
    }
    let (held, kept): (Vec<_>, Vec<_>) = std::mem::take(batch).into_iter().partition(|o| {
        is_clean(o)
            && (unknown.contains(&o.blocklist)
                || listed.contains(&(o.blocklist.clone(), o.target.to_string())))
    });
    *batch = kept;
    let lists: BTreeSet<&str> = held.iter().map(|o| o.blocklist.as_str()).collect();
    for worker in workers
        .iter()
        .filter(|w| lists.contains(w.list.id.as_str()))
    {
        worker.recheck.notify_one();
    }
    held
}

fn is_clean(outcome: &JobOutcome) -> bool {
    matches!(&outcome.result, JobResult::Answer(answer) if answer.verdict == Verdict::NotListed)
}

/// The held answers a check that started after them has settled: those whose check passed as
/// they are, those whose check failed as retries. The rest stay held.
fn settle(shared: &Shared, workers: &[Arc<Worker>], held: &mut Vec<JobOutcome>) -> Vec<JobOutcome> {
    let mut settled = Vec::new();
    let mut waiting = Vec::new();
    for mut outcome in held.drain(..) {
        let check = workers
            .iter()
            .find(|w| w.list.id == outcome.blocklist)
            .and_then(|w| *w.last_check.borrow());
        match check {
            Some(check) if check.started >= outcome.at => {
                if !check.passed {
                    outcome.result = not_trusted(shared, &outcome);
                }
                settled.push(outcome);
            }
            _ => waiting.push(outcome),
        }
    }
    *held = waiting;
    settled
}

/// A held delisting whose list's test points failed right after it: asked again later.
fn not_trusted(shared: &Shared, outcome: &JobOutcome) -> JobResult {
    let evidence = match &outcome.result {
        JobResult::Answer(answer) => Some(crate::store::Evidence {
            test_points_passed: false,
            ..answer.evidence.clone()
        }),
        _ => None,
    };
    JobResult::Retry {
        error: format!(
            "blocklist {}'s test points failed right after it answered \"not listed\" about a \
             target it listed, so that delisting is not trusted; it will be asked again",
            outcome.blocklist
        ),
        run_after: outcome.at + shared.settings.retry_base,
        evidence,
    }
}

async fn record(shared: &Shared, batch: &[JobOutcome]) {
    if batch.is_empty() {
        return;
    }
    let _writing = shared
        .recent
        .writing(batch.iter().filter_map(|outcome| match outcome.target {
            Target::Ip(address) => Some(address),
            Target::Domain(_) => None,
        }));
    let mut delay = Duration::from_millis(100);
    loop {
        // The store's own "now" for job bookkeeping; the answers carry their own times.
        match shared
            .queue
            .record_outcomes(batch, crate::timestamp::now())
            .await
        {
            Ok(()) => return,
            Err(e) => {
                // Keep the batch: its jobs are still leased to us, and losing it would only
                // redo them after the lease, but retrying keeps the work.
                tracing::error!(error = %e, jobs = batch.len(), "cannot store lookup results; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}
