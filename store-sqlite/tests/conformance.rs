//! The store's conformance suite (`secworks_store_api::testkit`) on SQLite: each test gets a
//! fresh file in a temporary folder, and two `SqliteStore`s on it stand for two processes
//! (each with its own pools, so they meet only on SQLite's file locks).

use std::sync::Arc;

use secworks_store_api::testkit::{RawRows, Stores};
use secworks_store_api::{OffsetDateTime, timestamp};
use secworks_store_sqlite::SqliteStore;
use sqlx::{Connection, SqliteConnection};

async fn fresh() -> Option<Stores> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("secworks.db").display());
    // One after the other: the first creates and migrates the file.
    let a = SqliteStore::connect(&url).await.expect("open the database");
    let b = SqliteStore::connect(&url).await.expect("open it again");
    Some(Stores::new(Arc::new(a), Arc::new(b), Raw { url }, dir))
}

/// Rows written with plain SQL, as another program would.
struct Raw {
    url: String,
}

#[async_trait::async_trait]
impl RawRows for Raw {
    async fn insert_job(&self, target_text: &str, due: OffsetDateTime) {
        let due = timestamp::format(due);
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        sqlx::query(
            "INSERT INTO lookup_jobs (target, run_after, created_at, updated_at)
             VALUES (?1, ?2, ?2, ?2)",
        )
        .bind(target_text)
        .bind(due)
        .execute(&mut conn)
        .await
        .expect("insert a job");
    }

    async fn history_errors(&self, address_text: &str) -> Vec<String> {
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        sqlx::query_scalar("SELECT error FROM lookup_history WHERE ip_address = ?1")
            .bind(address_text)
            .fetch_all(&mut conn)
            .await
            .expect("read history")
    }

    async fn set_return_codes(&self, target_text: &str, blocklist: &str, codes_text: &str) {
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        let done = sqlx::query(
            "UPDATE list_results SET return_codes = ?3 WHERE target = ?1 AND blocklist = ?2",
        )
        .bind(target_text)
        .bind(blocklist)
        .bind(codes_text)
        .execute(&mut conn)
        .await
        .expect("update a list result");
        assert_eq!(done.rows_affected(), 1);
    }

    async fn watch_changes(&self) -> Vec<(i64, String)> {
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        sqlx::query_as("SELECT generation, target FROM watch_changes")
            .fetch_all(&mut conn)
            .await
            .expect("read the change log")
    }

    async fn verdicts(&self) -> Vec<(String, Option<i64>, Option<i64>)> {
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        sqlx::query_as("SELECT ip_address, original_verdict, verdict FROM lookups")
            .fetch_all(&mut conn)
            .await
            .expect("read the verdicts")
    }

    async fn job_states(&self) -> Vec<(String, i64)> {
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        sqlx::query_as("SELECT state, count(*) FROM lookup_jobs GROUP BY state")
            .fetch_all(&mut conn)
            .await
            .expect("count the jobs")
    }

    async fn history_rows(&self) -> i64 {
        let mut conn = SqliteConnection::connect(&self.url).await.expect("connect");
        sqlx::query_scalar("SELECT count(*) FROM lookup_history")
            .fetch_one(&mut conn)
            .await
            .expect("count the history")
    }
}

secworks_store_api::conformance_tests!(fresh);
