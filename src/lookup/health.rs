//! Whether the blocklist can be trusted right now. A blocked resolver answers NXDOMAIN for
//! everything, which looks clean; RFC 5782's test points catch it (127.0.0.2 must be listed,
//! 127.0.0.1 must not). While they fail, lookups pause rather than store false results.

use std::sync::Arc;
use std::time::Duration;

use secworks_dnsbl::DnsblResolver;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

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

/// Checks the test points now and every `interval` until `stop`.
pub async fn monitor(
    resolver: Arc<DnsblResolver>,
    interval: Duration,
    health: watch::Sender<Health>,
    recheck: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        let checked = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            checked = resolver.check_test_points() => checked,
        };
        let now = match checked {
            Ok(()) => Health::Healthy,
            Err(e) => Health::Degraded(e.to_string()),
        };
        let changed = *health.borrow() != now;
        if changed {
            match &now {
                Health::Degraded(reason) => {
                    tracing::warn!(%reason, "blocklist test points fail: lookups paused")
                }
                _ => tracing::info!("blocklist test points pass: lookups run"),
            }
        }
        let wait = if now.is_healthy() {
            interval
        } else {
            interval.min(RECHECK_WHILE_DEGRADED)
        };
        health.send_replace(now);
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = recheck.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
