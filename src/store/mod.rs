//! Persistence behind one narrow interface. Everything above this module talks to
//! [`Store`]; which database answers is decided once, from `DATABASE_URL`, in [`connect`].

mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

/// A user who may obtain tokens.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// PHC string of the password hash.
    pub password_hash: String,
}

/// The stored result for one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRecord {
    pub uuid: String,
    pub ip_address: String,
    pub response_code: String,
    /// RFC 3339 UTC, see [`crate::timestamp`].
    pub created_at: String,
    pub updated_at: String,
}

/// A job a worker has claimed and holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub ip_address: String,
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
    pub ip_address: String,
    /// When the blocklist answered (or failed), RFC 3339 UTC.
    pub at: String,
    pub result: JobResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// The blocklist answered; this becomes the current result.
    Answer { response_code: String },
    /// The lookup failed and is tried again after `run_after`.
    Retry { error: String, run_after: String },
    /// The lookup failed for the last time.
    Fail { error: String },
    /// The job was never tried (shutdown); it waits again as it was.
    Release,
}

/// One past attempt for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    pub looked_up_at: String,
    pub response_code: Option<String>,
    pub error: Option<String>,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("DATABASE_URL: scheme `{0}` names no supported database (expected sqlite://…)")]
    UnsupportedUrl(String),
    #[error("the stored token key is corrupt: {0}")]
    CorruptKey(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn has_users(&self) -> Result<bool, StoreError>;

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// Creates `username` only if there are no users at all; returns whether it did.
    async fn create_first_user(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError>;

    /// Returns the stored token key, storing `candidate` first if there is none yet.
    async fn token_key_or_insert(&self, candidate: [u8; 32]) -> Result<[u8; 32], StoreError>;

    /// Records that the token `jti` is revoked; `expires_at` says when the record may go.
    async fn revoke_token(&self, jti: &str, expires_at: &str) -> Result<(), StoreError>;

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// Deletes revocations of tokens that expired before `now`; returns how many.
    async fn purge_expired_revocations(&self, now: &str) -> Result<u64, StoreError>;

    async fn lookup(&self, ip_address: &str) -> Result<Option<LookupRecord>, StoreError>;

    /// Queues a lookup job for each address, all or nothing. An address that already has a
    /// pending job joins it.
    async fn enqueue(&self, ip_addresses: &[String]) -> Result<(), StoreError>;

    /// Claims up to `limit` due jobs, oldest first, leasing them until `lease_until`.
    async fn claim_jobs(
        &self,
        limit: u32,
        now: &str,
        lease_until: &str,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Records what became of claimed jobs, all in one transaction. An outcome whose job no
    /// longer holds its lease token (the lease ran out and the job was claimed again) is
    /// dropped: the later claim will store its own.
    async fn record_outcomes(&self, outcomes: &[JobOutcome]) -> Result<(), StoreError>;

    /// Returns jobs whose lease ran out before `now` (their worker died) to the queue;
    /// returns how many.
    async fn reclaim_expired(&self, now: &str) -> Result<u64, StoreError>;

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError>;

    /// The latest `limit` attempts for an address, newest first.
    async fn history(&self, ip_address: &str, limit: u32)
    -> Result<Vec<HistoryRecord>, StoreError>;
}

/// Opens the database that `url` names, creating and migrating it as needed.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        // Only the scheme: the rest of a URL may hold a password.
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(StoreError::UnsupportedUrl(scheme.to_owned()))
    }
}
