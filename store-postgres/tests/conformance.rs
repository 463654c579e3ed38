//! The store's conformance suite (`secworks_store_api::testkit`) on PostgreSQL: each test gets
//! a fresh database, and two `PgStore`s on it stand for two replicas (two pools, so two sets of
//! server sessions: to PostgreSQL they are as separate as two processes).
//!
//! The server is the one `SECWORKS_TEST_POSTGRES` names, by default
//! `postgres://postgres@127.0.0.1:5432`. Without a reachable server these tests say so and
//! pass, so that a plain `cargo test --workspace` works anywhere; under `CI=true` an
//! unreachable server fails them (see `secworks_store_api::testkit::postgres`).

use std::sync::Arc;

use secworks_store_api::testkit::Stores;
use secworks_store_api::testkit::postgres::TestDatabase;
use secworks_store_postgres::PgStore;

async fn fresh() -> Option<Stores> {
    let db = TestDatabase::create().await?;
    // Together, as replicas starting at once: the migrator's advisory lock applies each
    // migration once.
    let (a, b) = tokio::join!(PgStore::connect(db.url()), PgStore::connect(db.url()));
    let (a, b) = (a.expect("connect a PgStore"), b.expect("connect another"));
    Some(Stores::new(Arc::new(a), Arc::new(b), db))
}

secworks_store_api::conformance_tests!(fresh);

/// A job whose stored address is not one (written by something other than secworks) fails at
/// its claim, with a history entry saying why, instead of coming back after every lease.
#[tokio::test]
async fn a_job_whose_stored_address_cannot_be_read_fails_at_its_claim() {
    use secworks_store_api::{Queue, Results};
    use sqlx::Connection as _;
    use time::macros::datetime;

    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = PgStore::connect(db.url()).await.unwrap();
    let mut raw = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::query(
        "INSERT INTO lookup_jobs (ip_address, run_after, created_at, updated_at)
         VALUES ('192.0.2.999', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z',
                 '2024-01-01T00:00:00Z')",
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
    raw.close().await.unwrap();
}
