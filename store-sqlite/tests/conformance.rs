//! The store's conformance suite (`secworks_store_api::testkit`) on SQLite: each test gets a
//! fresh file in a temporary folder, and two `SqliteStore`s on it stand for two processes
//! (each with its own pools, so they meet only on SQLite's file locks).

use std::sync::Arc;

use secworks_store_api::testkit::Stores;
use secworks_store_sqlite::SqliteStore;

async fn fresh() -> Option<Stores> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("secworks.db").display());
    // One after the other: the first creates and migrates the file.
    let a = SqliteStore::connect(&url).await.expect("open the database");
    let b = SqliteStore::connect(&url).await.expect("open it again");
    Some(Stores::new(Arc::new(a), Arc::new(b), dir))
}

secworks_store_api::conformance_tests!(fresh);

/// A job whose stored address is not one (written by something other than secworks) fails at
/// its claim, with a history entry saying why, instead of coming back after every lease.
#[tokio::test]
async fn a_job_whose_stored_address_cannot_be_read_fails_at_its_claim() {
    use secworks_store_api::{Queue, Results};
    use sqlx::Connection as _;
    use time::macros::datetime;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("secworks.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO lookup_jobs (ip_address, run_after, created_at, updated_at)
         VALUES ('192.0.2.999', '2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z',
                 '2024-01-01T00:00:00.000000Z')",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let good: secworks_store_api::Address = "192.0.2.1".parse().unwrap();
    let now = datetime!(2024-01-01 00:01 UTC);
    store.enqueue(&[good], now).await.unwrap();

    let claimed = store
        .claim_jobs(10, now, now + time::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].address, good);
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.failed, counts.running), (1, 1));
    let (error,): (String,) =
        sqlx::query_as("SELECT error FROM lookup_history WHERE ip_address = '192.0.2.999'")
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(error, "stored address \"192.0.2.999\" is not an IP address");
    assert!(store.history(&good, 10).await.unwrap().is_empty());
}
