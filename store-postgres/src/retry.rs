//! Running a transaction again when it lost a race that PostgreSQL resolves by aborting it.

use std::future::Future;

use secworks_store_api::StoreError;

/// Tries in all; a conflict that persists past this is reported like any other error.
const ATTEMPTS: u32 = 5;

/// Runs `attempt` (one whole transaction, or one statement) until it succeeds, fails for a
/// reason other than a lost race, or has been tried [`ATTEMPTS`] times. An aborted
/// transaction changed nothing, so running it again is safe, and it then sees what the
/// winner committed.
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < ATTEMPTS && lost_race(&e) => tries += 1,
            done => return done,
        }
    }
}

/// Whether `error` says the transaction lost a race with another one:
/// - a deadlock (40P01): two transactions waited for each other's rows, e.g. a result writer
///   and an enqueue both making a target's job pending; PostgreSQL aborts one of them;
/// - a serialization failure (40001);
/// - a second pending job for one target and list (unique violation of
///   `lookup_jobs_one_pending_per_target`): a job was returned to the queue just as another
///   transaction queued the pair; run again, the returning transaction sees that pending job
///   and drops its own, as it does when the pending job was there first.
fn lost_race(error: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(e)) = error else {
        return false;
    };
    match e.code().as_deref() {
        Some("40P01" | "40001") => true,
        Some("23505") => e.constraint() == Some("lookup_jobs_one_pending_per_target"),
        _ => false,
    }
}
