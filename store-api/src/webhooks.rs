//! Webhooks: where listing events are sent, and how far each has got.
//!
//! The listing-event log is the outbox. A webhook stores the id of the last event it delivered
//! (its cursor, [`WebhookRecord::last_event_id`]); its deliveries are the events after it, in id
//! order, which is commit order (see [`ListingEvents`](crate::ListingEvents)), so a cursor
//! moved only after a receiver accepted an event loses nothing across restarts and replicas.
//! A delivery worker claims a webhook with a lease (as the lookup queue does), so two replicas
//! never deliver one webhook's events at once; every write of a claim's outcome counts only
//! while the claim still holds its lease token.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::watchlists::WatchlistName;

/// A stored webhook, as it is listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: i64,
    pub url: String,
    /// Only events of this watchlist's targets are sent; `None`: every event.
    pub watchlist: Option<WatchlistName>,
    pub created_at: OffsetDateTime,
    /// The cursor: the id of the last event delivered (or skipped as not matching the
    /// filter); at creation, the end of the log then.
    pub last_event_id: i64,
    /// When the receiver last accepted an event.
    pub last_delivery_at: Option<OffsetDateTime>,
    /// The HTTP status of the latest attempt that got one.
    pub last_status: Option<u16>,
    /// Attempts that failed in a row since the last success.
    pub failures: u32,
    /// When the current run of failures began; `None` after a success.
    pub first_failure_at: Option<OffsetDateTime>,
    /// Set by the worker once the failures have lasted long enough; a success clears it.
    pub failing: bool,
    /// Events after the cursor that match the filter: waiting to be delivered.
    pub pending: u64,
}

/// What a new webhook is.
#[derive(Debug, Clone, Copy)]
pub struct NewWebhook<'a> {
    pub url: &'a str,
    pub watchlist: Option<&'a WatchlistName>,
    /// The signing secret, as the worker will use it (`whsec_…`). A credential: stored for
    /// signing, never listed.
    pub secret: &'a str,
}

/// What creating a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookCreated {
    Created(WebhookRecord),
    /// There is no watchlist of that name; nothing was written.
    NoWatchlist,
}

/// A webhook a delivery worker has claimed and holds a lease on.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedWebhook {
    pub id: i64,
    pub url: String,
    pub watchlist: Option<WatchlistName>,
    pub secret: String,
    /// The cursor when claimed.
    pub last_event_id: i64,
    /// Attempts that failed in a row (for the backoff).
    pub failures: u32,
    pub first_failure_at: Option<OffsetDateTime>,
    /// Proof of the claim: an outcome is stored only while the webhook still holds it.
    pub lease_token: String,
}

/// Never prints the secret.
impl std::fmt::Debug for ClaimedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedWebhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("watchlist", &self.watchlist)
            .field("last_event_id", &self.last_event_id)
            .field("failures", &self.failures)
            .field("first_failure_at", &self.first_failure_at)
            .finish_non_exhaustive()
    }
}

/// What became of one attempt of a claimed webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver accepted event `event_id` (a 2xx `status`): the cursor moves to it, the
    /// failures are cleared, and the lease is extended to `lease_until`.
    Delivered {
        event_id: i64,
        status: u16,
        lease_until: OffsetDateTime,
    },
    /// No event after the cursor matches the filter up to `event_id`, the end of the log
    /// when it was read: the cursor moves there without a delivery.
    Skipped { event_id: i64 },
    /// The attempt failed (`status`: the HTTP status, when one came): the cursor stays, the
    /// failures count one more, the lease is let go and the webhook is next due at
    /// `retry_at`; with `failing`, it is marked failing.
    Failed {
        status: Option<u16>,
        retry_at: OffsetDateTime,
        failing: bool,
    },
}

/// Webhooks and their delivery state.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Creates a webhook whose cursor is the end of the log now: it gets the events written
    /// from then on. [`WebhookCreated::NoWatchlist`] if `watchlist` names none.
    async fn create_webhook(
        &self,
        webhook: NewWebhook<'_>,
        now: OffsetDateTime,
    ) -> Result<WebhookCreated, StoreError>;

    /// Every webhook, by id, with its pending count.
    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;

    /// Deletes a webhook; whether there was one.
    async fn delete_webhook(&self, id: i64) -> Result<bool, StoreError>;

    /// Claims up to `limit` webhooks due at `now` (their retry time has come, no other claim
    /// holds them) that have events after their cursor, oldest due first, leasing them until
    /// `lease_until`.
    async fn claim_webhooks(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedWebhook>, StoreError>;

    /// Records what became of an attempt, at `now`, if the webhook still holds the claim
    /// `lease_token`; returns whether it did. A cursor never moves back.
    async fn record_delivery(
        &self,
        id: i64,
        lease_token: &str,
        delivery: &Delivery,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Lets go of a claim (the worker is done with it for now, or stopping), if it still holds
    /// `lease_token`; the webhook is due again at `due`.
    async fn release_webhook(
        &self,
        id: i64,
        lease_token: &str,
        due: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// For backends: a stored status back, or [`StoreError::Unreadable`].
pub fn read_status(status: Option<i64>) -> Result<Option<u16>, StoreError> {
    status
        .map(|s| u16::try_from(s).map_err(|_| StoreError::Unreadable(format!("HTTP status {s}"))))
        .transpose()
}

/// For backends: a stored failure count back, or [`StoreError::Unreadable`].
pub fn read_failures(count: i64) -> Result<u32, StoreError> {
    u32::try_from(count).map_err(|_| StoreError::Unreadable(format!("{count} failures")))
}

/// For backends: a stored watchlist name back (a webhook's filter), or
/// [`StoreError::Unreadable`].
pub fn read_filter(name: Option<String>) -> Result<Option<WatchlistName>, StoreError> {
    name.map(crate::watchlists::read_name).transpose()
}
