//! The persistence interface of secworks: one narrow trait per concern — [`Accounts`] (users,
//! the token key, revocations), [`Queue`] (lookup jobs), [`Results`] (each address's result
//! and history), [`ListResults`] (each list's result per address or domain, query counts),
//! [`Watchlists`] (named sets of watched targets), [`ListingEvents`] (the log of listing
//! changes), [`Webhooks`] (where the events are sent), [`Rechecks`] (when each watched
//! target is next due on each list), [`FilteredLookups`] (results by filter, job states), [`Import`] and [`Ping`] — the records
//! they take and return, and the one timestamp format every backend serves. [`Store`] is all
//! of them, for wiring; each caller depends on the part it uses. The backends, one crate each (`secworks-store-sqlite`,
//! `secworks-store-postgres`), implement every part, each checking its queries against its own
//! database, and pass one suite of behaviour tests (module `testkit`, feature
//! `testkit`).
//!
//! The boundary is typed: instants are [`OffsetDateTime`], addresses [`Address`], answers
//! [`StoredAnswer`]. Each backend converts them to its storage format at its own edge. The store
//! never reads the clock: every method that needs the time takes it as `now`.

mod accounts;
mod answer;
pub mod batch;
pub mod events;
pub mod filters;
mod import;
mod lists;
mod queue;
pub mod rechecks;
mod results;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod timestamp;
pub mod watchlists;
pub mod webhooks;

use async_trait::async_trait;
pub use secworks_dnsbl::{Address, Domain, Outcome, Target};
pub use time::OffsetDateTime;

pub use accounts::{
    Accounts, NewServiceToken, ServiceToken, Standings, TokenStanding, User, UserSummary,
};
pub use answer::StoredAnswer;
pub use events::{HourlyChanges, ListingChange, ListingEventRecord, ListingEvents, ListingTally};
pub use filters::{
    ChangeKey, CountedBy, FEW_CANDIDATES, FilteredLookups, FoundLookup, JobState, LookupFilter,
    Verdicts, original_verdict, watched_ranges,
};
pub use import::{Import, ImportCounts, ImportedUser};
pub use lists::{
    DomainRecord, Evidence, HOURLY_QUERIES_KEPT, HourlyQueries, ListAnswer, ListResultRecord,
    ListResults, ListState, NOT_LOOKED_UP, ORIGINAL_LIST, Verdict, utc_hour,
};
pub use queue::{
    ClaimedJob, ClaimedRow, JobOutcome, JobResult, NewJob, Queue, QueueCounts, Unreadable,
    read_claimed,
};
pub use rechecks::{Rechecks, ScheduleSummary, TakenDue, TargetKind};
pub use results::{Attempt, HistoryRecord, LookupRecord, Results};
pub use watchlists::{
    EntryProblem, InvalidWatchEntry, WatchEntry, WatchedListing, WatchedVerdict, WatchlistName,
    WatchlistRecord, WatchlistWrite, Watchlists,
};
pub use webhooks::{ClaimedWebhook, Delivery, NewWebhook, WebhookCreated, WebhookRecord, Webhooks};

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
pub trait Store:
    Accounts
    + Queue
    + Results
    + ListResults
    + Watchlists
    + ListingEvents
    + Webhooks
    + Rechecks
    + FilteredLookups
    + Import
    + Ping
    + 'static
{
}

impl<T> Store for T where
    T: Accounts
        + Queue
        + Results
        + ListResults
        + Watchlists
        + ListingEvents
        + Webhooks
        + Rechecks
        + FilteredLookups
        + Import
        + Ping
        + 'static
{
}

#[cfg(test)]
mod suite_list {
    /// `conformance_tests!` names each test of the suite by hand; one defined in `testkit/`
    /// but left out of that list would never run on any backend.
    #[test]
    fn the_conformance_macro_lists_every_test_of_the_suite() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testkit");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let module = read("mod.rs");
        let start = module.find("macro_rules! conformance_tests").unwrap();
        let end = start
            + module[start..]
                .find("macro_rules! __conformance_tests")
                .unwrap();
        let listed: std::collections::BTreeSet<&str> = module[start..end]
            .lines()
            .map(str::trim)
            .filter_map(|line| line.strip_suffix(','))
            .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        let files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rs") && name != "postgres.rs")
            .map(|name| read(&name))
            .collect();
        let defined: std::collections::BTreeSet<&str> = files
            .iter()
            .flat_map(|text| text.lines())
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        assert!(!defined.is_empty());
        assert_eq!(
            listed, defined,
            "conformance_tests! and the suite's tests differ"
        );
    }
}
