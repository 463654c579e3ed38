//! The persistence interface of secworks: the [`Store`] trait, the records it takes and
//! returns, and the one timestamp format every backend stores. Everything above the store talks
//! to this trait; the backends (SQLite in secworks itself, PostgreSQL in
//! `secworks-store-postgres`) implement it, each checking its queries against its own database.
//!
//! The boundary is typed: instants are [`OffsetDateTime`], addresses [`Address`], answers
//! [`StoredAnswer`]. Each backend converts them to its storage format at its own edge. The store
//! never reads the clock: every method that needs the time takes it as `now`.

mod answer;
pub mod timestamp;

use async_trait::async_trait;
pub use secworks_dnsbl::{Address, Outcome};
pub use time::OffsetDateTime;

pub use answer::StoredAnswer;

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
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Tokens issued before this instant are refused; `None` if never set.
    pub tokens_not_before: Option<OffsetDateTime>,
}

/// What the database says about a presented token beyond its seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStanding {
    /// The token itself was revoked.
    pub revoked: bool,
    /// The token's user still exists.
    pub user_exists: bool,
    /// The user's tokens issued before this instant are refused.
    pub not_before: Option<OffsetDateTime>,
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
    pub address: Address,
    pub answer: StoredAnswer,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A job a worker has claimed and holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub address: Address,
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
    pub address: Address,
    /// When the blocklist answered (or failed).
    pub at: OffsetDateTime,
    pub result: JobResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResult {
    /// The blocklist answered; this becomes the current result.
    Answer(Outcome),
    /// The lookup failed and is tried again after `run_after`.
    Retry {
        error: String,
        run_after: OffsetDateTime,
    },
    /// The lookup failed for the last time.
    Fail { error: String },
    /// The job was never tried (shutdown); it waits again as it was.
    Release,
}

/// One past attempt for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    pub looked_up_at: OffsetDateTime,
    pub attempt: Attempt,
}

/// What one attempt gave: an answer, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Answer(StoredAnswer),
    Error(String),
}

impl HistoryRecord {
    /// Why the attempt failed; `None` if it was answered.
    pub fn into_error(self) -> Option<String> {
        match self.attempt {
            Attempt::Error(error) => Some(error),
            Attempt::Answer(_) => None,
        }
    }
}

impl Attempt {
    /// Reads a history row's two columns, of which the schema lets exactly one be set.
    pub fn from_columns(
        response_code: Option<String>,
        error: Option<String>,
    ) -> Result<Self, StoreError> {
        match (response_code, error) {
            (Some(code), None) => Ok(Self::Answer(StoredAnswer::from_text(code))),
            (None, Some(error)) => Ok(Self::Error(error)),
            _ => Err(StoreError::Unreadable(
                "a history entry with both or neither of an answer and an error".to_owned(),
            )),
        }
    }
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl QueueCounts {
    /// Counts from `(state, jobs)` rows, as a backend's `GROUP BY state` gives them.
    pub fn from_states<S: AsRef<str>>(rows: impl IntoIterator<Item = (S, i64)>) -> Self {
        let mut counts = Self::default();
        for (state, jobs) in rows {
            let slot = match state.as_ref() {
                "pending" => &mut counts.pending,
                "running" => &mut counts.running,
                "done" => &mut counts.done,
                _ => &mut counts.failed,
            };
            *slot = jobs;
        }
        counts
    }
}

/// The error a job gets when its stored address cannot be read (written by something other
/// than secworks): it fails at once rather than come back after every lease.
pub fn unreadable_address(stored: &str) -> String {
    format!("stored address {stored:?} is not an IP address")
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
    /// A stored value secworks did not write and cannot read.
    #[error("the database holds {0}, which cannot be read")]
    Unreadable(String),
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
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Returns the stored token key, storing `candidate` first if there is none yet.
    async fn token_key_or_insert(
        &self,
        candidate: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<[u8; 32], StoreError>;

    /// Records that the token `jti` is revoked; `expires_at` says when the record may go.
    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Whether the token `jti` of `username` was revoked, alone or with all of its user's.
    async fn token_standing(&self, jti: &str, username: &str) -> Result<TokenStanding, StoreError>;

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError>;

    /// Creates a user; false if the name is taken. Tokens issued to an earlier user of the
    /// same name stay dead: the new user's tokens count from `now`.
    async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Replaces a user's password and refuses every token issued before `now`; false if
    /// there is no such user.
    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Replaces the stored hash `old_hash` by `new_hash` (the same password, hashed again
    /// with the current scheme), only if it is still `old_hash`; tokens stay valid.
    async fn rehash_password(
        &self,
        username: &str,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Deletes a user; their tokens die with them. False if there is no such user.
    async fn remove_user(&self, username: &str) -> Result<bool, StoreError>;

    /// Refuses every token of `username` issued before `now`; false if there is no such user.
    async fn revoke_all_tokens(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Adds users and stored results from another system in one transaction. A user whose
    /// name is taken, or a result for an address that already has one, is left as it is, so
    /// importing the same data again changes nothing. Each new result gets one history entry
    /// at its `updated_at`; each new user's tokens count from `now`.
    async fn import(
        &self,
        users: &[ImportedUser],
        lookups: &[LookupRecord],
        now: OffsetDateTime,
    ) -> Result<ImportCounts, StoreError>;

    /// Deletes revocations of tokens that expired before `now`; returns how many.
    async fn purge_expired_revocations(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    async fn lookup(&self, address: &Address) -> Result<Option<LookupRecord>, StoreError>;

    /// Queues a lookup job for each address, due at `now`, all or nothing. An address that
    /// already has a pending job joins it.
    async fn enqueue(&self, addresses: &[Address], now: OffsetDateTime) -> Result<(), StoreError>;

    /// Claims up to `limit` jobs due at `now`, oldest first, leasing them until
    /// `lease_until`. A job whose stored address cannot be read is failed instead (see
    /// [`unreadable_address`]).
    async fn claim_jobs(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedJob>, StoreError>;

    /// Records what became of claimed jobs, all in one transaction, at `now`. An outcome
    /// whose job no longer holds its lease token (the lease ran out and the job was claimed
    /// again) is dropped: the later claim will store its own.
    async fn record_outcomes(
        &self,
        outcomes: &[JobOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Returns jobs whose lease ran out before `now` (their worker died) to the queue;
    /// returns how many.
    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError>;

    /// The latest `limit` attempts for an address, newest first.
    async fn history(
        &self,
        address: &Address,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_counts_come_from_state_rows() {
        let rows = [("done", 7), ("pending", 3), ("failed", 1), ("running", 2)];
        assert_eq!(
            QueueCounts::from_states(rows),
            QueueCounts {
                pending: 3,
                running: 2,
                done: 7,
                failed: 1
            }
        );
        assert_eq!(QueueCounts::from_states::<&str>([]), QueueCounts::default());
    }
}
