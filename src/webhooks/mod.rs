//! Webhook deliveries: every listing event, signed, to every webhook whose filter it matches,
//! at least once and in order.
//!
//! The listing-event log is the outbox. Each webhook keeps a cursor (the id of the last event
//! it delivered); the worker here, one per process, claims webhooks that have events after
//! their cursor with a lease in the database, POSTs those events one by one, and moves the
//! cursor after each 2xx. A failure (another status, a timeout, no connection) is retried,
//! the same event, after 1 s, doubling up to an hour; after a day of failures the webhook is
//! marked failing, and is still retried, so nothing is dropped; a success clears the mark.
//! The worker notices new events by polling the end of the log (one cheap read every 500 ms).

pub mod address;
pub mod client;
pub mod message;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::client::{Sent, WebhookClient};
use crate::blocklists::Blocklists;
use crate::store::{ClaimedWebhook, Delivery, ListingEvents, StoreError, Webhooks};
use crate::timestamp::Clock;

/// How deliveries are made; see the README's configuration table.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Longest time one attempt may take, connecting included.
    pub timeout: Duration,
    /// Whether webhooks may reach addresses that are not global (loopback, private, ...).
    pub allow_private: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// How often the end of the log is read, to notice new events.
const POLL: Duration = Duration::from_millis(500);
/// How often webhooks are claimed even when no new event was seen: retries that another
/// replica scheduled, and leases of a replica that died.
const SWEEP: Duration = Duration::from_secs(5);
/// How long a webhook waits after its delivery failed on the store (not on the receiver).
const STORE_RETRY: time::Duration = time::Duration::seconds(30);
/// Webhooks claimed at once; each is delivered by its own task.
const CLAIM: u32 = 16;
/// Events read at once for one webhook.
const EVENTS: u32 = 100;
/// The first retry's delay; it doubles with each failure in a row, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a webhook fails before it is marked failing.
const FAILING_AFTER: time::Duration = time::Duration::hours(24);
/// How long a webhook whose watchlist no longer exists waits before it looks again.
const NO_WATCHLIST_WAIT: time::Duration = time::Duration::minutes(1);

/// The delay before the retry that follows `failures` failures in a row (1 s, 2 s, 4 s, ...,
/// at most an hour).
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// What the worker's tasks share.
struct Shared {
    hooks: Arc<dyn Webhooks>,
    events: Arc<dyn ListingEvents>,
    blocklists: Arc<Blocklists>,
    client: WebhookClient,
    clock: Clock,
    /// How long a claim is held; each delivery extends it.
    lease: time::Duration,
    stop: CancellationToken,
}

/// The delivery worker: runs until [`WebhookWorker::shutdown`].
pub struct WebhookWorker {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl WebhookWorker {
    /// Starts delivering with `client` (see [`WebhookClient::new`]), judging retry times and
    /// signing with `clock`.
    pub fn start(
        hooks: Arc<dyn Webhooks>,
        events: Arc<dyn ListingEvents>,
        blocklists: Arc<Blocklists>,
        client: WebhookClient,
        clock: Clock,
    ) -> Self {
        // Well above the longest attempt, so a claim is never taken back mid-delivery.
        let lease = client
            .timeout()
            .saturating_mul(3)
            .max(Duration::from_secs(60));
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let shared = Arc::new(Shared {
            hooks,
            events,
            blocklists,
            client,
            clock,
            lease: time::Duration::try_from(lease).unwrap_or(time::Duration::HOUR),
            stop: stop.clone(),
        });
        tasks.spawn(run(shared));
        Self { stop, tasks }
    }

    /// Stops claiming and lets deliveries in flight finish within `grace`. A claim still held
    /// after it keeps its lease, which runs out and lets the next start deliver the event
    /// again (at least once).
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "webhook deliveries still in flight after the grace period; they will be sent again"
            );
        }
    }
}

/// Claims webhooks with events to deliver whenever the end of the log moves, a retry this
/// worker scheduled comes due, or every [`SWEEP`]; delivers each claimed webhook in its own
/// task, and waits for them before it claims again (or stops).
async fn run(shared: Arc<Shared>) {
    let mut seen_end = None;
    let mut last_claim = tokio::time::Instant::now();
    let mut next_retry: Option<OffsetDateTime> = None;
    let (retries_tx, mut retries) = tokio::sync::mpsc::unbounded_channel::<OffsetDateTime>();
    loop {
        while let Ok(at) = retries.try_recv() {
            next_retry = Some(next_retry.map_or(at, |next| next.min(at)));
        }
        let end = match shared.events.last_event_id().await {
            Ok(end) => Some(end),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the end of the listing-event log");
                None
            }
        };
        let now = shared.clock.now();
        let due = (end.is_some() && end != seen_end)
            || next_retry.is_some_and(|at| at <= now)
            || last_claim.elapsed() >= SWEEP;
        if due {
            last_claim = tokio::time::Instant::now();
            if next_retry.is_some_and(|at| at <= now) {
                next_retry = None;
            }
            match shared
                .hooks
                .claim_webhooks(CLAIM, now, now + shared.lease)
                .await
            {
                Ok(claimed) => {
                    // Caught up with this end only once nothing more was claimed.
                    if claimed.is_empty() {
                        seen_end = end;
                    }
                    let batch = TaskTracker::new();
                    for webhook in claimed {
                        let (shared, retries) = (shared.clone(), retries_tx.clone());
                        batch.spawn(deliver(shared, webhook, retries));
                    }
                    batch.close();
                    let claimed_some = !batch.is_empty();
                    batch.wait().await;
                    if claimed_some && !shared.stop.is_cancelled() {
                        continue;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot claim webhooks"),
            }
        }
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Delivers a claimed webhook's events in order until there are none left, one fails, the
/// claim is lost, or the worker stops; then lets go of the claim.
async fn deliver(
    shared: Arc<Shared>,
    webhook: ClaimedWebhook,
    retries: tokio::sync::mpsc::UnboundedSender<OffsetDateTime>,
) {
    let release = |due| {
        let shared = shared.clone();
        let (id, token) = (webhook.id, webhook.lease_token.clone());
        async move {
            if let Err(e) = shared.hooks.release_webhook(id, &token, due).await {
                tracing::warn!(error = %e, webhook = id, "cannot let go of a webhook's claim");
            }
        }
    };
    match deliver_events(&shared, &webhook, &retries).await {
        Ok(Next::Release(due)) => release(due).await,
        Ok(Next::Released) => {}
        Err(e) => {
            // Not the receiver's fault, but due at once it would be claimed again at once and
            // fail the same way: try again after a while.
            tracing::error!(error = %e, webhook = webhook.id, "webhook delivery failed on the store; retrying in 30 s");
            let due = shared.clock.now() + STORE_RETRY;
            let _ = retries.send(due);
            release(due).await;
        }
    }
}

/// What to do with the claim once [`deliver_events`] is done.
enum Next {
    /// Let it go, due again at this time.
    Release(OffsetDateTime),
    /// It is let go already (a failure recorded), or lost.
    Released,
}

async fn deliver_events(
    shared: &Shared,
    webhook: &ClaimedWebhook,
    retries: &tokio::sync::mpsc::UnboundedSender<OffsetDateTime>,
) -> Result<Next, StoreError> {
    let url = match address::parse(&webhook.url) {
        Ok(url) => url,
        Err(problem) => {
            // Checked at creation; only a row written by something else gets here.
            let failure = format!("the stored URL is {problem}");
            return fail(shared, webhook, None, &failure, retries).await;
        }
    };
    let mut cursor = webhook.last_event_id;
    loop {
        if shared.stop.is_cancelled() {
            return Ok(Next::Release(shared.clock.now()));
        }
        // Every event up to `end` has committed, so a filtered read that finds none of them
        // lets the cursor skip there.
        let end = shared.events.last_event_id().await?;
        let Some(events) = shared
            .events
            .listing_events(cursor, EVENTS, webhook.watchlist.as_ref())
            .await?
        else {
            tracing::warn!(
                webhook = webhook.id,
                watchlist = ?webhook.watchlist.as_ref().map(ToString::to_string),
                "a webhook's watchlist no longer exists; it sends nothing until one of that name does"
            );
            return Ok(Next::Release(shared.clock.now() + NO_WATCHLIST_WAIT));
        };
        if events.is_empty() {
            if end > cursor {
                let skipped = Delivery::Skipped { event_id: end };
                let now = shared.clock.now();
                if !shared
                    .hooks
                    .record_delivery(webhook.id, &webhook.lease_token, &skipped, now)
                    .await?
                {
                    return Ok(Next::Released);
                }
            }
            return Ok(Next::Release(shared.clock.now()));
        }
        for event in &events {
            if shared.stop.is_cancelled() {
                return Ok(Next::Release(shared.clock.now()));
            }
            let delist_url = shared
                .blocklists
                .get(&event.blocklist)
                .and_then(|list| list.lookup_url.as_deref());
            let message = message::message(webhook.id, event, delist_url);
            let now = shared.clock.now();
            let headers = match message::headers(&webhook.secret, &message, now.unix_timestamp()) {
                Ok(headers) => headers,
                Err(e) => return fail(shared, webhook, None, &e.to_string(), retries).await,
            };
            let sent = shared.client.post(&url, headers, message.body).await;
            let now = shared.clock.now();
            match sent {
                Sent::Answered(status) if status.is_success() => {
                    metrics::counter!("secworks_webhook_deliveries_total", "outcome" => "delivered")
                        .increment(1);
                    let delivered = Delivery::Delivered {
                        event_id: event.id,
                        status: status.as_u16(),
                        lease_until: now + shared.lease,
                    };
                    if !shared
                        .hooks
                        .record_delivery(webhook.id, &webhook.lease_token, &delivered, now)
                        .await?
                    {
                        // Another worker holds it now and sends from the stored cursor.
                        return Ok(Next::Released);
                    }
                    cursor = event.id;
                }
                Sent::Answered(status) => {
                    let failure = format!("the receiver answered {status}");
                    return fail(shared, webhook, Some(status.as_u16()), &failure, retries).await;
                }
                Sent::Failed(why) => return fail(shared, webhook, None, &why, retries).await,
            }
        }
    }
}

/// Records a failed attempt: the same event is tried again after the backoff; a webhook that
/// has failed for [`FAILING_AFTER`] is marked failing.
async fn fail(
    shared: &Shared,
    webhook: &ClaimedWebhook,
    status: Option<u16>,
    why: &str,
    retries: &tokio::sync::mpsc::UnboundedSender<OffsetDateTime>,
) -> Result<Next, StoreError> {
    let outcome = if status.is_some() {
        "rejected"
    } else {
        "failed"
    };
    metrics::counter!("secworks_webhook_deliveries_total", "outcome" => outcome).increment(1);
    let now = shared.clock.now();
    let failures = webhook.failures.saturating_add(1);
    let delay = backoff(failures);
    let retry_at = now + time::Duration::try_from(delay).unwrap_or(time::Duration::HOUR);
    let since = webhook.first_failure_at.unwrap_or(now);
    let failing = now - since >= FAILING_AFTER;
    // The URL is the user's own; the secret never appears here.
    tracing::warn!(
        webhook = webhook.id,
        url = %webhook.url,
        failures,
        retry_in = ?delay,
        failing,
        "webhook delivery failed: {why}"
    );
    let failed = Delivery::Failed {
        status,
        retry_at,
        failing,
    };
    shared
        .hooks
        .record_delivery(webhook.id, &webhook.lease_token, &failed, now)
        .await?;
    let _ = retries.send(retry_at);
    Ok(Next::Released)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_a_second_and_doubles_up_to_an_hour() {
        let seconds: Vec<u64> = [1, 2, 3, 4, 12, 13, 40, u32::MAX]
            .into_iter()
            .map(|n| backoff(n).as_secs())
            .collect();
        assert_eq!(seconds, [1, 2, 4, 8, 2048, 3600, 3600, 3600]);
    }
}
