//! Whether a blocklist can be trusted right now. A blocked resolver answers NXDOMAIN for
//! everything, which looks clean; RFC 5782's test points catch it (a listed point must be
//! listed, an unlisted one must not). While a list's test points fail, that list's lookups
//! pause rather than store false results; the other lists go on.

use std::sync::Arc;
use std::time::Duration;

use secworks_dnsbl::{
    Blocklist, DnsblResolver, ErrorAnswerKind, ListLookupError, ListTestPointError,
};
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

/// What an operator can do about a list whose test points fail, in one sentence or two,
/// naming the settings to change: the usual cause is a resolver the list refuses, which a
/// first run on a laptop or a cloud VM (public or shared resolver) meets at once. The
/// engine's pause reason and `secworks lookup` / `blocklists --check` both say it. `keyed`:
/// queried with an account key.
pub fn test_point_advice(list: &Blocklist, error: &ListTestPointError, keyed: bool) -> String {
    let spamhaus = list.id.starts_with("spamhaus-");
    let blocked = || {
        if spamhaus && keyed {
            "Spamhaus did not answer through the Data Query Service as it must: check that \
             SECWORKS_DQS_KEY is your current key"
                .to_owned()
        } else if spamhaus {
            "Spamhaus refuses queries that come through public resolvers (8.8.8.8, 1.1.1.1, \
             your ISP's): set SECWORKS_DNS_SERVER to your own recursive resolver (e.g. unbound \
             on this machine, 127.0.0.1:53), or get a free Data Query Service key from \
             Spamhaus and set SECWORKS_DQS_KEY"
                .to_owned()
        } else {
            format!(
                "{} may refuse queries from this resolver (many lists block public resolvers): \
                 set SECWORKS_DNS_SERVER to your own recursive resolver",
                list.id
            )
        }
    };
    match error {
        ListTestPointError::ListedPointNotListed { .. } => blocked(),
        ListTestPointError::UnlistedPointListed { .. } => "the resolver answers names that do \
             not exist (a wildcard or rewriting resolver): set SECWORKS_DNS_SERVER to a \
             recursive resolver that passes answers through unchanged"
            .to_owned(),
        ListTestPointError::Lookup { error, .. } => match error.error_kind() {
            Some(ErrorAnswerKind::ResolverBlocked) => blocked(),
            Some(ErrorAnswerKind::KeyRejected) => {
                "the list rejected the account key: check SECWORKS_DQS_KEY".to_owned()
            }
            Some(ErrorAnswerKind::RateLimited) => {
                "the list says this resolver sends too many queries: use your own recursive \
                 resolver (SECWORKS_DNS_SERVER), keep to the free-use limit (--qps), or use a \
                 Data Query Service key (SECWORKS_DQS_KEY)"
                    .to_owned()
            }
            _ if matches!(error.as_ref(), ListLookupError::Dns { .. }) => {
                "the DNS server did not answer usably: check that the server SECWORKS_DNS_SERVER \
                 names (or the system's resolv.conf) is up and reachable, and that it is a \
                 recursive resolver"
                    .to_owned()
            }
            _ => blocked(),
        },
        _ => blocked(),
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
            Err(e) => Health::Degraded(format!(
                "{e}. To fix: {}",
                test_point_advice(&worker.list, &e, worker.key.is_some())
            )),
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
