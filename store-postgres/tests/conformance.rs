//! The store's conformance suite (`secworks_store_api::testkit`) on PostgreSQL: each test gets
//! a fresh database, and two `PgStore`s on it stand for two replicas (two pools, so two sets of
//! server sessions: to PostgreSQL they are as separate as two processes).
//!
//! The server is the one `SECWORKS_TEST_POSTGRES` names, by default
//! `postgres://postgres@127.0.0.1:5432`. Without a reachable server these tests say so and
//! pass, so that a plain `cargo test --workspace` works anywhere; under `CI=true` an
//! unreachable server fails them (see `secworks_store_api::testkit::postgres`).

use std::sync::Arc;

use secworks_store_api::OffsetDateTime;
use secworks_store_api::testkit::postgres::TestDatabase;
use secworks_store_api::testkit::{RawRows, Stores};
use secworks_store_postgres::PgStore;
use sqlx::{Connection, PgConnection};

async fn fresh() -> Option<Stores> {
    let db = TestDatabase::create().await?;
    // Together, as replicas starting at once: the migrator's advisory lock applies each
    // migration once.
    let (a, b) = tokio::join!(PgStore::connect(db.url()), PgStore::connect(db.url()));
    let (a, b) = (a.expect("connect a PgStore"), b.expect("connect another"));
    let raw = Raw {
        url: db.url().to_owned(),
    };
    Some(Stores::new(Arc::new(a), Arc::new(b), raw, db))
}

/// Rows written with plain SQL, as another program would.
struct Raw {
    url: String,
}

#[async_trait::async_trait]
impl RawRows for Raw {
    async fn insert_job(&self, target_text: &str, due: OffsetDateTime) {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        sqlx::query(
            "INSERT INTO lookup_jobs (target, run_after, created_at, updated_at)
             VALUES ($1, $2, $2, $2)",
        )
        .bind(target_text)
        .bind(due)
        .execute(&mut conn)
        .await
        .expect("insert a job");
        conn.close().await.expect("close");
    }

    async fn history_errors(&self, address_text: &str) -> Vec<String> {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let errors = sqlx::query_scalar("SELECT error FROM lookup_history WHERE ip_address = $1")
            .bind(address_text)
            .fetch_all(&mut conn)
            .await
            .expect("read history");
        conn.close().await.expect("close");
        errors
    }

    async fn set_return_codes(&self, target_text: &str, blocklist: &str, codes_text: &str) {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let done = sqlx::query(
            "UPDATE list_results SET return_codes = $3 WHERE target = $1 AND blocklist = $2",
        )
        .bind(target_text)
        .bind(blocklist)
        .bind(codes_text)
        .execute(&mut conn)
        .await
        .expect("update a list result");
        assert_eq!(done.rows_affected(), 1);
        conn.close().await.expect("close");
    }

    async fn watch_changes(&self) -> Vec<(i64, String)> {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let entries = sqlx::query_as("SELECT generation, target FROM watch_changes")
            .fetch_all(&mut conn)
            .await
            .expect("read the change log");
        conn.close().await.expect("close");
        entries
    }

    async fn verdicts(&self) -> Vec<(String, Option<i64>, Option<i64>)> {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let rows = sqlx::query_as(
            "SELECT ip_address, original_verdict::bigint, verdict::bigint FROM lookups",
        )
        .fetch_all(&mut conn)
        .await
        .expect("read the verdicts");
        conn.close().await.expect("close");
        rows
    }

    async fn job_states(&self) -> Vec<(String, i64)> {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let rows = sqlx::query_as("SELECT state, count(*) FROM lookup_jobs GROUP BY state")
            .fetch_all(&mut conn)
            .await
            .expect("count the jobs");
        conn.close().await.expect("close");
        rows
    }

    async fn history_rows(&self) -> i64 {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let rows = sqlx::query_scalar("SELECT count(*) FROM lookup_history")
            .fetch_one(&mut conn)
            .await
            .expect("count the history");
        conn.close().await.expect("close");
        rows
    }
}

secworks_store_api::conformance_tests!(fresh);
