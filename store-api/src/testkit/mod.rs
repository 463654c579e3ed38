//! One suite of behaviour tests that every backend runs: what the traits promise, checked
//! against a real database. (Feature `testkit`; for backends' tests only.)
//!
//! A backend's integration test instantiates the whole suite with one line, given a factory:
//! an async fn that makes a fresh database and returns two independent store handles on it
//! (two pools, so to the database they are as separate as two server processes), or `None`
//! to skip (PostgreSQL without a server, see [`postgres`]). The SQLite backend's, in
//! `store-sqlite/tests/conformance.rs`, compiled and run with every `cargo test`:
//!
//! ```text
//! async fn fresh() -> Option<secworks_store_api::testkit::Stores> {
//!     let dir = tempfile::tempdir().ok()?;
//!     let url = format!("sqlite://{}", dir.path().join("secworks.db").display());
//!     let a = SqliteStore::connect(&url).await.ok()?;
//!     let b = SqliteStore::connect(&url).await.ok()?;
//!     Some(Stores::new(Arc::new(a), Arc::new(b), Raw { url }, dir))
//! }
//!
//! secworks_store_api::conformance_tests!(fresh);
//! ```
//!
//! This expands to one `#[tokio::test]` per behaviour, so the calling crate needs `tokio`
//! (features `macros` and `rt-multi-thread`) among its dev-dependencies. Every test passes the
//! instants itself (the store never reads the clock), so they are fixed and the tests
//! deterministic.

mod accounts;
pub mod postgres;
mod queue;
mod results;

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::{Address, ClaimedJob, JobOutcome, JobResult, Outcome, Queue, Store};

pub use accounts::*;
pub use queue::*;
pub use results::*;

/// Two independent handles on one fresh database, a way below the traits to write rows
/// secworks itself never would, and what keeps the database alive.
pub struct Stores {
    pub a: Arc<dyn Store>,
    pub b: Arc<dyn Store>,
    pub raw: Box<dyn RawRows>,
    // Dropped after the stores (fields drop in order).
    _database: Box<dyn Any + Send + Sync>,
}

impl Stores {
    /// `database` is dropped after both stores, when the test ends: a temporary folder, or a
    /// [`postgres::TestDatabase`].
    pub fn new(
        a: Arc<dyn Store>,
        b: Arc<dyn Store>,
        raw: impl RawRows + 'static,
        database: impl Any + Send + Sync,
    ) -> Self {
        Self {
            a,
            b,
            raw: Box::new(raw),
            _database: Box::new(database),
        }
    }
}

/// Plain SQL against a backend's tables, for the tests about data that another program (or an
/// older version) wrote: the only part of the suite each backend writes itself.
#[async_trait::async_trait]
pub trait RawRows: Send + Sync {
    /// Queues a pending job whose address column holds `address_text` as given, due at `due`.
    async fn insert_job(&self, address_text: &str, due: OffsetDateTime);
    /// The `error` of every history row whose address column holds `address_text`.
    async fn history_errors(&self, address_text: &str) -> Vec<String>;
}

/// Instantiates the conformance suite: one `#[tokio::test]` per behaviour, each on a fresh
/// database from `$factory` (see the [`testkit`](crate::testkit) module).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::__conformance_tests!(
            $factory;
            // Queue
            enqueue_joins_a_pending_job_of_the_same_address,
            claims_take_due_jobs_oldest_first_up_to_the_limit,
            a_lease_runs_out_and_the_job_is_claimed_again,
            a_late_outcome_of_a_reclaimed_job_is_dropped,
            answers_of_one_address_keep_uuid_and_never_go_back_in_time,
            a_retried_job_gives_way_to_a_pending_one,
            a_retry_waits_for_its_time_and_a_failure_is_final,
            queue_counts_count_each_state,
            a_job_whose_stored_address_cannot_be_read_fails_at_its_claim,
            two_stores_look_every_address_up_exactly_once,
            returning_jobs_to_the_queue_races_enqueue_safely,
            // Accounts
            users_are_added_changed_rehashed_and_removed,
            the_first_user_is_created_only_on_an_empty_database,
            stores_starting_together_agree_on_the_first_user_and_token_key,
            revocations_and_not_before_are_seen_by_every_store,
            // Results and import
            an_address_never_looked_up_has_no_result_and_no_history,
            history_is_newest_first_and_limited,
            import_adds_only_what_is_new,
            timestamps_come_back_as_they_went_in,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:path; $($test:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if let Some(stores) = $factory().await {
                    $crate::testkit::$test(stores).await;
                }
            }
        )*
    };
}

/// The suite's clock: a fixed instant, and instants `seconds` after it.
const T0: OffsetDateTime = datetime!(2024-01-01 00:00 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds)
}

/// A listing with these return codes (127.0.0.x), or not listed for none.
fn listed(codes: &[u8]) -> Outcome {
    if codes.is_empty() {
        return Outcome::NotListed;
    }
    Outcome::Listed(codes.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect())
}

fn address(text: &str) -> Address {
    text.parse().expect("an address")
}

/// `count` distinct addresses from 10.0.0.0 on.
fn addresses(count: u32) -> Vec<Address> {
    (0..count)
        .map(|i| Address::from(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i))))
        .collect()
}

fn outcome(job: &ClaimedJob, at: OffsetDateTime, result: JobResult) -> JobOutcome {
    JobOutcome {
        job_id: job.id,
        lease_token: job.lease_token.clone(),
        address: job.address,
        at,
        result,
    }
}

fn answer(job: &ClaimedJob, answer: Outcome, at: OffsetDateTime) -> JobOutcome {
    outcome(job, at, JobResult::Answer(answer))
}

fn retry(job: &ClaimedJob, at: OffsetDateTime, run_after: OffsetDateTime) -> JobOutcome {
    let error = "DNS timeout".to_owned();
    outcome(job, at, JobResult::Retry { error, run_after })
}

/// Claims jobs due at `now` with a lease of five minutes, as a worker would.
async fn claim(store: &dyn Queue, limit: u32, now: OffsetDateTime) -> Vec<ClaimedJob> {
    store
        .claim_jobs(limit, now, now + Duration::minutes(5))
        .await
        .expect("claim jobs")
}

/// Records outcomes at the instant of the first, as the engine's writer would.
async fn record(store: &dyn Queue, outcomes: &[JobOutcome]) {
    let now = outcomes.first().map_or(T0, |o| o.at);
    store
        .record_outcomes(outcomes, now)
        .await
        .expect("record outcomes");
}
