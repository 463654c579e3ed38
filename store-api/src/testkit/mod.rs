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
mod filters;
mod lists;
pub mod postgres;
mod queue;
mod rechecks;
mod results;
mod watch;
mod webhooks;

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::{
    Address, ClaimedJob, Evidence, JobOutcome, JobResult, ListAnswer, NewJob, ORIGINAL_LIST,
    Outcome, Queue, Store, Target, Verdict,
};

pub use accounts::*;
pub use filters::*;
pub use lists::*;
pub use queue::*;
pub use rechecks::*;
pub use results::*;
pub use watch::*;
pub use webhooks::*;

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
    /// Queues a pending job whose target column holds `target_text` as given, due at `due`,
    /// leaving its list to the column's default, as a version before lists would have (so
    /// it is a job of [`ORIGINAL_LIST`]).
    async fn insert_job(&self, target_text: &str, due: OffsetDateTime);
    /// The `error` of every history row whose address column holds `address_text`.
    async fn history_errors(&self, address_text: &str) -> Vec<String>;
    /// Overwrites the stored return codes of `blocklist`'s result for `target_text`.
    async fn set_return_codes(&self, target_text: &str, blocklist: &str, codes_text: &str);
    /// The re-check planner's change log (`watch_changes`): each entry's generation and
    /// target, in any order.
    async fn watch_changes(&self) -> Vec<(i64, String)>;
    /// Each `lookups` row's address and its kept verdicts (`original_verdict`, `verdict`), in
    /// any order.
    async fn verdicts(&self) -> Vec<(String, Option<i64>, Option<i64>)>;
    /// Jobs by state, counted row by row: what `queue_counts` must agree with.
    async fn job_states(&self) -> Vec<(String, i64)>;
    /// How many history rows there are.
    async fn history_rows(&self) -> i64;
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
            a_stale_and_a_live_outcome_of_one_job_in_one_batch_store_once,
            answers_of_one_address_keep_uuid_and_never_go_back_in_time,
            a_retried_job_gives_way_to_a_pending_one,
            a_retry_waits_for_its_time_and_a_failure_is_final,
            queue_counts_count_each_state,
            queue_counts_follow_every_change_and_the_retention,
            a_job_whose_stored_address_cannot_be_read_fails_at_its_claim,
            two_stores_look_every_address_up_exactly_once,
            returning_jobs_to_the_queue_races_enqueue_safely,
            // Accounts
            users_are_added_changed_rehashed_and_removed,
            the_first_user_is_created_only_on_an_empty_database,
            stores_starting_together_agree_on_the_first_user_and_token_key,
            revocations_and_not_before_are_seen_by_every_store,
            standings_and_their_counter_follow_every_change_that_decides_a_token,
            users_hold_scopes_the_first_user_all_but_admin,
            service_tokens_are_recorded_listed_and_revoked,
            // Results and import
            an_address_never_looked_up_has_no_result_and_no_history,
            history_is_newest_first_and_limited,
            import_adds_only_what_is_new,
            timestamps_come_back_as_they_went_in,
            // Lists
            each_list_keeps_its_own_answer_per_target,
            the_original_list_writes_response_code_and_history_and_other_lists_do_not,
            a_domain_answer_makes_and_updates_its_record,
            an_error_before_any_answer_is_unknown_with_its_evidence,
            an_error_after_an_answer_keeps_it_until_a_later_answer,
            an_older_answer_never_replaces_a_newer_one,
            reuse_fresh_skips_only_a_fresh_answer_of_the_same_list,
            one_pending_job_per_target_and_list,
            a_claim_takes_only_its_lists_jobs,
            a_disabled_lists_pending_jobs_are_given_up_alone,
            queries_are_counted_per_list_and_utc_day_across_stores,
            queries_are_counted_per_utc_hour_and_kept_eight_days,
            an_unreadable_stored_list_result_is_an_error,
            listed_among_names_the_targets_a_list_lists_now,
            // Watchlists and listing events
            listing_changes_make_events_and_errors_do_not,
            events_page_after_a_cursor_and_filter_by_watchlist,
            event_ids_follow_commit_order_across_stores,
            watchlists_are_created_replaced_changed_and_deleted,
            the_target_limit_spans_all_watchlists_and_a_refusal_changes_nothing,
            a_wide_range_is_written_and_replaced_in_batches,
            watched_verdicts_are_the_enabled_lists_answers_about_watched_targets,
            watched_listings_name_each_listed_targets_watchlists,
            the_latest_events_come_newest_first_and_the_tally_counts_them_per_hour,
            // Results by filter
            lookups_are_found_by_every_filter_newest_change_first,
            lookups_come_in_address_order_chunk_by_chunk,
            job_states_follow_the_latest_job_of_each_list,
            many_candidates_are_found_by_walking_the_results_in_order,
            every_filter_combination_finds_what_the_answers_say,
            // Webhooks
            webhooks_are_created_listed_and_deleted,
            a_new_webhook_starts_at_the_end_of_the_log,
            a_claimed_webhook_is_leased_to_one_store_at_a_time,
            a_cursor_moves_only_forward,
            pending_counts_only_events_that_match_the_filter,
            failures_make_a_webhook_failing_until_a_success,
            // Re-check schedule
            planning_is_claimed_by_one_holder_until_its_lease_runs_out,
            the_schedule_follows_the_watchlists_and_the_kinds_a_list_takes,
            the_summary_counts_due_today_and_the_lists_queued_jobs,
            taking_due_targets_queues_them_once_and_moves_them_on,
            a_fresh_answer_stands_and_the_target_is_due_when_it_runs_out,
            listed_targets_and_recent_listing_events_are_taken_first,
            two_stores_taking_due_targets_at_once_queue_each_target_once,
            watchlist_writes_log_the_targets_they_may_change,
            an_incremental_sync_gives_the_schedule_a_full_resync_gives,
            a_list_the_log_was_purged_past_is_synced_in_full_and_misses_nothing,
            the_change_log_is_purged_once_every_planned_list_has_passed_it,
            watchlist_writes_racing_syncs_lose_no_change,
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

/// A fixed resolver's evidence for an answer (or a failed attempt) at `at`.
fn evidence(at: OffsetDateTime) -> Evidence {
    Evidence {
        resolver: "192.0.2.53:53".parse().expect("a socket address"),
        query_name: "1.2.0.192.zen.spamhaus.org".to_owned(),
        rcode: "NXDOMAIN".to_owned(),
        ttl: Some(300),
        test_points_passed: true,
        answered_at: at,
    }
}

/// A list's answer that came at `at` and is fresh for an hour.
fn list_answer(outcome: Outcome, at: OffsetDateTime) -> ListAnswer {
    let (verdict, return_codes) = match outcome {
        Outcome::Listed(codes) => (Verdict::Listed, codes),
        Outcome::NotListed => (Verdict::NotListed, Vec::new()),
    };
    ListAnswer {
        verdict,
        return_codes,
        reason: None,
        expires_at: at + Duration::hours(1),
        evidence: evidence(at),
    }
}

/// A job of the original list for each address.
fn zen(addresses: &[Address]) -> Vec<NewJob> {
    addresses
        .iter()
        .map(|&address| NewJob {
            target: Target::Ip(address),
            blocklist: ORIGINAL_LIST.to_owned(),
        })
        .collect()
}

/// Queues the original list's jobs for `addresses`, as secworks did before lists.
async fn enqueue(store: &dyn Queue, addresses: &[Address], now: OffsetDateTime) {
    store
        .enqueue(&zen(addresses), false, now)
        .await
        .expect("enqueue");
}

/// What became of `job`: one query sent, unless it was released untried.
fn outcome(job: &ClaimedJob, at: OffsetDateTime, result: JobResult) -> JobOutcome {
    let queries = u64::from(result != JobResult::Release);
    JobOutcome {
        job_id: job.id,
        lease_token: job.lease_token.clone(),
        target: job.target.clone(),
        blocklist: job.blocklist.clone(),
        at,
        result,
        queries,
    }
}

fn answer(job: &ClaimedJob, answer: Outcome, at: OffsetDateTime) -> JobOutcome {
    outcome(job, at, JobResult::Answer(list_answer(answer, at)))
}

fn retry(job: &ClaimedJob, at: OffsetDateTime, run_after: OffsetDateTime) -> JobOutcome {
    let error = "DNS timeout".to_owned();
    outcome(
        job,
        at,
        JobResult::Retry {
            error,
            run_after,
            evidence: Some(evidence(at)),
        },
    )
}

fn fail(job: &ClaimedJob, at: OffsetDateTime, error: &str) -> JobOutcome {
    let error = error.to_owned();
    outcome(
        job,
        at,
        JobResult::Fail {
            error,
            evidence: None,
        },
    )
}

/// Claims the original list's jobs due at `now` with a lease of five minutes, as a worker
/// would.
async fn claim(store: &dyn Queue, limit: u32, now: OffsetDateTime) -> Vec<ClaimedJob> {
    claim_list(store, ORIGINAL_LIST, limit, now).await
}

/// Claims `blocklist`'s jobs due at `now` with a lease of five minutes.
async fn claim_list(
    store: &dyn Queue,
    blocklist: &str,
    limit: u32,
    now: OffsetDateTime,
) -> Vec<ClaimedJob> {
    store
        .claim_jobs(blocklist, limit, now, now + Duration::minutes(5))
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
