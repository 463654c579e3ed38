//! The persistence interface of secworks: one narrow trait per concern — [`Accounts`] (users,
//! the token key, revocations), [`Queue`] (lookup jobs), [`Results`] (each address's result
//! and history), [`Import`] and [`Ping`] — the records they take and return, and the one
//! timestamp format every backend serves. [`Store`] is all of them, for wiring; each caller
//! depends on the part it uses. The backends, one crate each (`secworks-store-sqlite`,
//! `secworks-store-postgres`), implement every part, each checking its queries against its own
//! database, and pass one suite of behaviour tests (module `testkit`, feature
//! `testkit`).
//!
//! The boundary is typed: instants are [`OffsetDateTime`], addresses [`Address`], answers
//! [`StoredAnswer`]. Each backend converts them to its storage format at its own edge. The store
//! never reads the clock: every method that needs the time takes it as `now`.

mod accounts;
mod answer;
mod import;
mod queue;
mod results;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod timestamp;

use async_trait::async_trait;
pub use secworks_dnsbl::{Address, Outcome};
pub use time::OffsetDateTime;

pub use accounts::{Accounts, TokenStanding, User, UserSummary};
pub use answer::StoredAnswer;
pub use import::{Import, ImportCounts, ImportedUser};
pub use queue::{
    ClaimedJob, ClaimedRow, JobOutcome, JobResult, Queue, QueueCounts, Unreadable, read_claimed,
};
pub use results::{Attempt, HistoryRecord, LookupRecord, Results};

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

/// Whether the database answers, for readiness probes.
#[async_trait]
pub trait Ping: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The whole store, as the application opens it: every part, for wiring. Each caller takes
/// the part it uses (`Arc<dyn Store>` upcasts to `Arc<dyn Queue>` and the others).
pub trait Store: Accounts + Queue + Results + Import + Ping + 'static {}

impl<T> Store for T where T: Accounts + Queue + Results + Import + Ping + 'static {}
