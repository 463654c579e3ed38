//! The persistence interface of secworks: the [`Store`] trait, the records it takes and
//! returns, and the one timestamp format every backend stores. Everything above the store talks
//! to this trait; the backends (SQLite in secworks itself, PostgreSQL in
//! `secworks-store-postgres`) implement it, each checking its queries against its own database.

pub mod timestamp;

use async_trait::async_trait;

/// A user who may obtain tokens.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// PHC string of the password hash.
    pub password_hash: String,
}

/// A user as administration lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub updated_at: String,
    /// Tokens issued before this instant are refused; `None` if never set.
    pub tokens_not_before: Option<String>,
}

/// What the database says about a presented token beyond its seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStanding {
    /// The token itself was revoked.
    pub revoked: bool,
    /// The token's user still exists.
    pub user_exists: bool,
    /// The user's tokens issued before this instant are refused (RFC 3339 UTC).
    pub not_before: Option<String>,
}

/// A user brought over from another system, with its password hash as that system stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedUser {
    pub username: String,
    pub password_hash: String,
}

/// How many imported rows were new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub users: u64,
    pub lookups: u64,
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
    #[error(
        "DATABASE_URL: scheme `{0}` names no supported database (expected sqlite://… or postgres://…)"
    )]
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

    /// Whether the token `jti` of `username` was revoked, alone or with all of its user's.
    async fn token_standing(&self, jti: &str, username: &str) -> Result<TokenStanding, StoreError>;

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError>;

    /// Creates a user; false if the name is taken. Tokens issued to an earlier user of the
    /// same name stay dead: the new user's tokens count from `now`.
    async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        now: &str,
    ) -> Result<bool, StoreError>;

    /// Replaces a user's password and refuses every token issued before `now`; false if
    /// there is no such user.
    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: &str,
    ) -> Result<bool, StoreError>;

    /// Replaces the stored hash `old_hash` by `new_hash` (the same password, hashed again
    /// with the current scheme), only if it is still `old_hash`; tokens stay valid.
    async fn rehash_password(
        &self,
        username: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;

    /// Deletes a user; their tokens die with them. False if there is no such user.
    async fn remove_user(&self, username: &str) -> Result<bool, StoreError>;

    /// Refuses every token of `username` issued before `now`; false if there is no such user.
    async fn revoke_all_tokens(&self, username: &str, now: &str) -> Result<bool, StoreError>;

    /// Adds users and stored results from another system in one transaction. A user whose
    /// name is taken, or a result for an address that already has one, is left as it is, so
    /// importing the same data again changes nothing. Each new result gets one history entry
    /// at its `updated_at`.
    async fn import(
        &self,
        users: &[ImportedUser],
        lookups: &[LookupRecord],
        now: &str,
    ) -> Result<ImportCounts, StoreError>;

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
