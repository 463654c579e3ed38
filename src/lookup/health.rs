//! Whether a blocklist can be trusted right now. A blocked resolver answers NXDOMAIN for
//! everything, which looks clean; RFC 5782's test points catch it (a listed point must be
//! listed, an unlisted one must not). While a list's test points fail, that list's lookups
//! pause rather than store false results; the other lists go on.

use std::sync::Arc;
use std::time::Duration;

use secworks_dnsbl::DnsblResolver;
use tokio::sync::watch;

use super::engine::{Check, Shared, Worker};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The test points have not been checked yet.
    Starting,
    Healthy,
    /// The test points failed; the reason says how.
    Degraded(String),
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }
}

/// While degraded, check this often to notice recovery quickly.
const RECHECK_WHILE_DEGRADED: Duration = Duration::from_secs(5);

/// Checks `worker`'s test points now and every `interval` until the engine stops. The checks
/// are queries like any other: they count against the list's daily budget, and wait while it
/// is used up.
pub async fn monitor(
    shared: Arc<Shared>,
    worker: Arc<Worker>,
    resolver: Arc<DnsblResolver>,
    health: watch::Sender<Health>,
) {
    let points = worker.list.test_points.len() as u64;
    if worker.budget.limit().is_some_and(|limit| limit < points) {
        tracing::warn!(
            list = %worker.list.id,
            points,
            "the daily budget is smaller than one check of the test points: the list can never run (SECWORKS_DAILY_BUDGETS)"
        );
    }
    loop {
        if !worker.budget.try_spend(shared.clock.now(), points) {
            tokio::select! {
                biased;
                () = shared.stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        }
        let started = shared.clock.now();
        let report = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            report = resolver.check_list_test_points(&worker.list, worker.key.as_ref()) => report,
        };
        metrics::counter!("secworks_blocklist_queries_total", "blocklist" => worker.list.id.clone())
            .increment(report.queries);
        let now = shared.clock.now();
        // Reserved `points`; the report says what was really sent (a check stops at the
        // first point that fails, and a server passed over counts too).
        if report.queries > points {
            worker.budget.spend(now, report.queries - points);
        } else {
            worker.budget.refund(now, points - report.queries);
        }
        if let Err(e) = shared
            .counts
            .count_queries(&worker.list.id, now, report.queries)
            .await
        {
            tracing::warn!(error = %e, list = %worker.list.id, "cannot count test point queries");
        }
        let checked = match report.result {
            Ok(()) => Health::Healthy,
            Err(e) => Health::Degraded(e.to_string()),
        };
        if *health.borrow() != checked {
            match &checked {
                Health::Degraded(reason) => tracing::warn!(
                    list = %worker.list.id,
                    %reason,
                    "blocklist test points fail: its lookups are paused"
                ),
                _ => {
                    tracing::info!(list = %worker.list.id, "blocklist test points pass: its lookups run")
                }
            }
        }
        let wait = if checked.is_healthy() {
            shared.settings.health_interval
        } else {
            shared.settings.health_interval.min(RECHECK_WHILE_DEGRADED)
        };
        worker.last_check.send_replace(Some(Check {
            started,
            passed: checked.is_healthy(),
        }));
        health.send_replace(checked);
        shared.checks.send_modify(|completed| *completed += 1);
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            () = worker.recheck.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
