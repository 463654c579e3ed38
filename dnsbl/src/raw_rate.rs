//! How fast the resolver alone can ask a list about addresses, the way the service asks it
//! ([`DnsblResolver::query_list`]): the ceiling for the service's rate.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::address::Address;
use crate::catalogue::Blocklist;
use crate::domain::Target;
use crate::resolver::DnsblResolver;

/// The result of [`raw_rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRate {
    /// Lookups finished (answers and errors alike).
    pub lookups: usize,
    /// How many of them ended in an error ([`ListLookupError`](crate::ListLookupError)).
    pub errors: usize,
    /// Wall-clock time for all of them.
    pub elapsed: Duration,
}

impl RawRate {
    /// Lookups per second.
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.lookups as f64 / seconds
        } else {
            0.0
        }
    }
}

/// Asks `list` (without a key) about every address in `ips`, keeping `concurrency` lookups in
/// flight (at least one), and reports how long it took.
///
/// Each in-flight slot is its own task, so a multi-threaded runtime spreads the work over
/// its threads as the service's workers would.
pub async fn raw_rate(
    resolver: &DnsblResolver,
    list: &Blocklist,
    ips: &[IpAddr],
    concurrency: usize,
) -> RawRate {
    let list = Arc::new(list.clone());
    let ips: Arc<[IpAddr]> = ips.into();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    let mut slots = JoinSet::new();
    for _ in 0..concurrency.clamp(1, ips.len().max(1)) {
        let (resolver, list, ips, next) =
            (resolver.clone(), list.clone(), ips.clone(), next.clone());
        slots.spawn(async move {
            let (mut lookups, mut errors) = (0, 0);
            while let Some(&ip) = ips.get(next.fetch_add(1, Ordering::Relaxed)) {
                lookups += 1;
                let target = Target::Ip(Address::from(ip));
                if resolver
                    .query_list(&list, None, &target)
                    .await
                    .result
                    .is_err()
                {
                    errors += 1;
                }
            }
            (lookups, errors)
        });
    }

    let (mut lookups, mut errors) = (0, 0);
    while let Some(slot) = slots.join_next().await {
        match slot {
            Ok((done, failed)) => {
                lookups += done;
                errors += failed;
            }
            // A lookup panicked: that is a bug, so let it surface as one.
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            // Cancelled only if the runtime is shutting down; the count stays short.
            Err(_) => {}
        }
    }
    RawRate {
        lookups,
        errors,
        elapsed: started.elapsed(),
    }
}
