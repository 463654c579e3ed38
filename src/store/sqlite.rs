//! The embedded default backend: one SQLite file in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{LookupRecord, Store, StoreError, User};
use crate::timestamp;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable in WAL mode except for the last commits on power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    async fn has_users(&self) -> Result<bool, StoreError> {
        let found = sqlx::query_scalar!("SELECT EXISTS (SELECT 1 FROM users) AS \"found: bool\"")
            .fetch_one(&self.pool)
            .await?;
        Ok(found)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as!(
            User,
            "SELECT id, username, password_hash FROM users WHERE username = ?1",
            username
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(user)
    }

    async fn create_first_user(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let now = timestamp::now();
        let done = sqlx::query!(
            "INSERT INTO users (username, password_hash, created_at, updated_at)
             SELECT ?1, ?2, ?3, ?3 WHERE NOT EXISTS (SELECT 1 FROM users)",
            username,
            password_hash,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn token_key_or_insert(&self, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        let now = timestamp::now();
        let candidate = candidate.as_slice();
        sqlx::query!(
            "INSERT INTO token_keys (id, key, created_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO NOTHING",
            candidate,
            now
        )
        .execute(&self.pool)
        .await?;
        let key = sqlx::query_scalar!("SELECT key FROM token_keys WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        key.try_into()
            .map_err(|k: Vec<u8>| StoreError::CorruptKey(format!("{} bytes, not 32", k.len())))
    }

    async fn revoke_token(&self, jti: &str, expires_at: &str) -> Result<(), StoreError> {
        let now = timestamp::now();
        sqlx::query!(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (jti) DO NOTHING",
            jti,
            expires_at,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let found =
            sqlx::query_scalar!("SELECT 1 AS found FROM revoked_tokens WHERE jti = ?1", jti)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn purge_expired_revocations(&self, now: &str) -> Result<u64, StoreError> {
        let done = sqlx::query!("DELETE FROM revoked_tokens WHERE expires_at < ?1", now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn lookup(&self, ip_address: &str) -> Result<Option<LookupRecord>, StoreError> {
        let record = sqlx::query_as!(
            LookupRecord,
            "SELECT uuid, ip_address, response_code, created_at, updated_at
             FROM lookups WHERE ip_address = ?1",
            ip_address
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(record)
    }

    async fn enqueue(&self, ip_addresses: &[String]) -> Result<(), StoreError> {
        // One statement over a JSON array: atomic, and one round trip for any batch size.
        let batch = serde_json::to_string(ip_addresses)
            .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
        let now = timestamp::now();
        sqlx::query!(
            "INSERT INTO lookup_jobs (ip_address, run_after, created_at, updated_at)
             SELECT value, ?2, ?2, ?2 FROM json_each(?1) WHERE true
             ON CONFLICT (ip_address) WHERE state = 'pending' DO NOTHING",
            batch,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
