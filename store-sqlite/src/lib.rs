//! The SQLite backend of secworks, its embedded default: [`SqliteStore`] implements every part
//! of the store ([`Accounts`], [`Queue`], [`Results`], [`ListResults`], `Watchlists`,
//! `ListingEvents`, `Webhooks`, `Rechecks`, [`Import`], [`Ping`]) over one SQLite file in WAL mode.
//!
//! Instants are stored as the fixed-width RFC 3339 text of [`timestamp`], so text order is
//! time order; addresses and answers as their text.

mod filters;
mod rechecks;
mod verdict_filters;
mod watch;
mod webhooks;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use secworks_store_api::batch::{self, HeldAnswers, ListResultColumns};
use secworks_store_api::events::{self, EventRow};
use secworks_store_api::{
    Accounts, Address, Attempt, ClaimedJob, ClaimedRow, Domain, DomainRecord, HOURLY_QUERIES_KEPT,
    HistoryRecord, HourlyQueries, Import, ImportCounts, ImportedUser, JobOutcome, JobResult,
    ListResultRecord, ListResults, LookupRecord, NOT_LOOKED_UP, NewJob, NewServiceToken,
    ORIGINAL_LIST, Ping, Queue, QueueCounts, Results, ServiceToken, Standings, StoreError,
    StoredAnswer, Target, TokenStanding, User, UserSummary, original_verdict, read_claimed,
    timestamp, utc_hour,
};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use time::{Date, OffsetDateTime};

pub struct SqliteStore {
    /// Readers; in WAL mode they never wait for a writer.
    pool: SqlitePool,
    /// The queue's one writer connection: claims and results queue up for it in process, in
    /// order, instead of meeting on SQLite's file lock, whose busy handler sleeps.
    writer: SqlitePool,
    /// A second writer, for what a client was told is done (queued jobs, revocations, users): each commit is
    /// synced to disk, so not even a power loss takes it back. Lookup results go through
    /// `pool`, where a commit lost to power loss is lost with the job's `done` mark in the
    /// same transaction, and the job simply runs again.
    durable: SqlitePool,
}

impl SqliteStore {
    /// Opens the database file, creating it if it is missing, and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(url, true).await
    }

    /// Opens and migrates the database file only if it exists: for the administration
    /// commands, which must not leave a new, empty database wherever they happen to run.
    pub async fn connect_existing(url: &str) -> Result<Self, StoreError> {
        Self::open(url, false).await
    }

    async fn open(url: &str, create: bool) -> Result<Self, StoreError> {
        // After the URL's own options, so that `?mode=rwc` cannot turn creation back on.
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // A connection to a local file does not go stale, and sqlx's check before each acquire
        // is a round trip to the connection's worker thread: a second thread hand-off on every
        // store call.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        filters::fill_address_keys(&pool).await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let durable = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.synchronous(SqliteSynchronous::Full))
            .await?;
        Ok(Self {
            pool,
            writer,
            durable,
        })
    }
}

#[async_trait]
impl Ping for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn has_users(&self) -> Result<bool, StoreError> {
        let found = sqlx::query_scalar!("SELECT EXISTS (SELECT 1 FROM users) AS \"found: bool\"")
            .fetch_one(&self.pool)
            .await?;
        Ok(found)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as!(
            User,
            "SELECT id, username, password_hash, scopes FROM users WHERE username = ?1",
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
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!(
            "INSERT INTO users (username, password_hash, created_at, updated_at)
             SELECT ?1, ?2, ?3, ?3 WHERE NOT EXISTS (SELECT 1 FROM users)",
            username,
            password_hash,
            now
        )
        .execute(&self.durable)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn token_key_or_insert(
        &self,
        candidate: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<[u8; 32], StoreError> {
        let now = timestamp::format(now);
        let candidate = candidate.as_slice();
        sqlx::query!(
            "INSERT INTO token_keys (id, key, created_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO NOTHING",
            candidate,
            now
        )
        .execute(&self.durable)
        .await?;
        let key = sqlx::query_scalar!("SELECT key FROM token_keys WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        key.try_into()
            .map_err(|k: Vec<u8>| StoreError::CorruptKey(format!("{} bytes, not 32", k.len())))
    }

    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (expires_at, now) = (timestamp::format(expires_at), timestamp::format(now));
        sqlx::query!(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (jti) DO NOTHING",
            jti,
            expires_at,
            now
        )
        .execute(&self.durable)
        .await?;
        Ok(())
    }

    async fn token_standing(&self, jti: &str, username: &str) -> Result<TokenStanding, StoreError> {
        // One read for every authenticated request: the revocation and the user's state.
        let row = sqlx::query!(
            r#"SELECT
                 EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1) AS "revoked!: bool",
                 EXISTS (SELECT 1 FROM users WHERE username = ?2) AS "user_exists!: bool",
                 (SELECT tokens_not_before FROM users WHERE username = ?2) AS not_before"#,
            jti,
            username
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(TokenStanding {
            revoked: row.revoked,
            user_exists: row.user_exists,
            not_before: row.not_before.as_deref().map(instant).transpose()?,
        })
    }

    async fn account_version(&self) -> Result<i64, StoreError> {
        let version = sqlx::query_scalar!("SELECT version FROM account_changes WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(version)
    }

    async fn standings(&self, now: OffsetDateTime) -> Result<Standings, StoreError> {
        let now = timestamp::format(now);
        // One read transaction: one snapshot for the counter and both lists.
        let mut read = self.pool.begin().await?;
        let version = sqlx::query_scalar!("SELECT version FROM account_changes WHERE id = 1")
            .fetch_one(&mut *read)
            .await?;
        let users = sqlx::query!("SELECT username, tokens_not_before FROM users")
            .fetch_all(&mut *read)
            .await?;
        let revoked = sqlx::query!(
            "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= ?1",
            now
        )
        .fetch_all(&mut *read)
        .await?;
        read.commit().await?;
        Ok(Standings {
            version,
            users: users
                .into_iter()
                .map(|row| {
                    let not_before = row.tokens_not_before.as_deref().map(instant).transpose()?;
                    Ok((row.username, not_before))
                })
                .collect::<Result<_, StoreError>>()?,
            revoked: revoked
                .into_iter()
                .map(|row| Ok((row.jti, instant(&row.expires_at)?)))
                .collect::<Result<_, StoreError>>()?,
        })
    }

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let rows = sqlx::query!(
            "SELECT username, created_at, updated_at, tokens_not_before, scopes
             FROM users ORDER BY username"
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(UserSummary {
                    username: row.username,
                    created_at: instant(&row.created_at)?,
                    updated_at: instant(&row.updated_at)?,
                    tokens_not_before: row.tokens_not_before.as_deref().map(instant).transpose()?,
                    scopes: row.scopes,
                })
            })
            .collect()
    }

    async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!(
            "INSERT INTO users
                 (username, password_hash, created_at, updated_at, tokens_not_before, scopes)
             VALUES (?1, ?2, ?3, ?3, ?3, ?4)
             ON CONFLICT (username) DO NOTHING",
            username,
            password_hash,
            now,
            scopes
        )
        .execute(&self.durable)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_scopes(
        &self,
        username: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!(
            "UPDATE users SET scopes = ?2, updated_at = ?3, tokens_not_before = ?3
             WHERE username = ?1",
            username,
            scopes,
            now
        )
        .execute(&self.durable)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_service_token(
        &self,
        token: &NewServiceToken,
    ) -> Result<Option<i64>, StoreError> {
        let (created_at, expires_at) = (
            timestamp::format(token.created_at),
            timestamp::format(token.expires_at),
        );
        // All rows (at most one), so that the statement runs to its end and commits before
        // this returns, rather than when the connection next resets it.
        let ids = sqlx::query_scalar!(
            r#"INSERT INTO service_tokens (jti, user_id, name, scopes, created_at, expires_at)
               SELECT ?1, id, ?3, ?4, ?5, ?6 FROM users WHERE username = ?2
               RETURNING id AS "id!""#,
            token.jti,
            token.username,
            token.name,
            token.scopes,
            created_at,
            expires_at
        )
        .fetch_all(&self.durable)
        .await?;
        Ok(ids.into_iter().next())
    }

    async fn service_tokens(&self) -> Result<Vec<ServiceToken>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT t.id AS "id!", t.jti, u.username, t.name, t.scopes, t.created_at,
                      t.expires_at,
                      (EXISTS (SELECT 1 FROM revoked_tokens AS r WHERE r.jti = t.jti)
                       OR (u.tokens_not_before IS NOT NULL
                           AND t.created_at < u.tokens_not_before)) AS "revoked!: bool"
               FROM service_tokens AS t JOIN users AS u ON u.id = t.user_id
               ORDER BY t.id"#
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ServiceToken {
                    id: row.id,
                    jti: row.jti,
                    username: row.username,
                    name: row.name,
                    scopes: row.scopes,
                    created_at: instant(&row.created_at)?,
                    expires_at: instant(&row.expires_at)?,
                    revoked: row.revoked,
                })
            })
            .collect()
    }

    async fn service_token(&self, id: i64) -> Result<Option<ServiceToken>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT t.id AS "id!", t.jti, u.username, t.name, t.scopes, t.created_at,
                      t.expires_at,
                      (EXISTS (SELECT 1 FROM revoked_tokens AS r WHERE r.jti = t.jti)
                       OR (u.tokens_not_before IS NOT NULL
                           AND t.created_at < u.tokens_not_before)) AS "revoked!: bool"
               FROM service_tokens AS t JOIN users AS u ON u.id = t.user_id
               WHERE t.id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ServiceToken {
                id: row.id,
                jti: row.jti,
                username: row.username,
                name: row.name,
                scopes: row.scopes,
                created_at: instant(&row.created_at)?,
                expires_at: instant(&row.expires_at)?,
                revoked: row.revoked,
            })
        })
        .transpose()
    }

    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!(
            "UPDATE users SET password_hash = ?2, updated_at = ?3, tokens_not_before = ?3
             WHERE username = ?1",
            username,
            password_hash,
            now
        )
        .execute(&self.durable)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rehash_password(
        &self,
        username: &str,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!(
            "UPDATE users SET password_hash = ?3, updated_at = ?4
             WHERE username = ?1 AND password_hash = ?2",
            username,
            old_hash,
            new_hash,
            now
        )
        .execute(&self.durable)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_user(&self, username: &str) -> Result<bool, StoreError> {
        let done = sqlx::query!("DELETE FROM users WHERE username = ?1", username)
            .execute(&self.durable)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all_tokens(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!(
            "UPDATE users SET tokens_not_before = ?2, updated_at = ?2 WHERE username = ?1",
            username,
            now
        )
        .execute(&self.durable)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired_revocations(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = timestamp::format(now);
        let done = sqlx::query!("DELETE FROM revoked_tokens WHERE expires_at < ?1", now)
            .execute(&self.durable)
            .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl Queue for SqliteStore {
    async fn enqueue(
        &self,
        jobs: &[NewJob],
        reuse_fresh: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let jobs: Vec<(String, &str)> = jobs
            .iter()
            .map(|job| (job.target.to_string(), job.blocklist.as_str()))
            .collect();
        let mut conn = self.durable.acquire().await?;
        insert_jobs(&mut conn, &jobs, reuse_fresh, now).await
    }

    async fn claim_jobs(
        &self,
        blocklist: &str,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let (now, lease_until) = (timestamp::format(now), timestamp::format(lease_until));
        let token = uuid::Uuid::new_v4().to_string();
        let rows = sqlx::query!(
            r#"UPDATE lookup_jobs
               SET state = 'running', lease_expires_at = ?3, lease_token = ?4,
                   attempts = attempts + 1, updated_at = ?2
               WHERE id IN (
                   SELECT id FROM lookup_jobs
                   WHERE blocklist = ?5 AND state = 'pending' AND run_after <= ?2
                   ORDER BY run_after, id
                   LIMIT ?1
               )
               RETURNING id, target, blocklist, attempts,
                         lease_token AS "lease_token!: String""#,
            limit,
            now,
            lease_until,
            token,
            blocklist
        )
        .fetch_all(&self.writer)
        .await?;
        let (jobs, unreadable) = read_claimed(rows.into_iter().map(|row| ClaimedRow {
            id: row.id,
            target: row.target,
            blocklist: row.blocklist,
            attempts: row.attempts,
            lease_token: row.lease_token,
        }));
        if !unreadable.is_empty() {
            // Rows secworks did not write. Failed now, so they never come back; should this
            // not commit, their lease returns them and the next claim fails them.
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            let mut failed = 0;
            for job in &unreadable {
                let error = job.error();
                if !fail(&mut tx, job.id, &token, &now, &error).await? {
                    continue;
                }
                failed += 1;
                if blocklist == ORIGINAL_LIST {
                    insert_error(&mut tx, &job.target, &now, &error).await?;
                }
            }
            tally_jobs(&mut tx, 0, failed).await?;
            tx.commit().await?;
        }
        Ok(jobs)
    }

    async fn record_outcomes(
        &self,
        outcomes: &[JobOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The claims the jobs hold now: an outcome of an earlier claim of a job claimed again
        // (its lease ran out) is dropped here, even when the live claim's outcome is in this
        // batch too, so that one job is never stored twice.
        let ids = to_json(&outcomes.iter().map(|o| o.job_id).collect::<Vec<i64>>())?;
        let claims: HashMap<i64, String> = sqlx::query!(
            r#"SELECT id AS "id!: i64", lease_token FROM lookup_jobs
               WHERE state = 'running' AND id IN (SELECT value FROM json_each(?1))"#,
            ids
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .filter_map(|row| Some((row.id, row.lease_token?)))
        .collect();
        let is_current = |o: &JobOutcome| claims.get(&o.job_id) == Some(&o.lease_token);
        let answers: Vec<&JobOutcome> = outcomes
            .iter()
            .filter(|o| matches!(o.result, JobResult::Answer(_)) && is_current(o))
            .collect();
        let (events, done) = if answers.is_empty() {
            (Vec::new(), 0)
        } else {
            record_answers(&mut tx, &answers, &timestamp::format(now)).await?
        };
        let mut failed_for_good = 0;
        // Failed attempts whose job still held its claim.
        let mut failed = HashSet::new();
        for outcome in outcomes.iter().filter(|o| is_current(o)) {
            let (job, token, at) = (
                outcome.job_id,
                outcome.lease_token.as_str(),
                timestamp::format(outcome.at),
            );
            let at = at.as_str();
            let error = match &outcome.result {
                JobResult::Answer(_) => continue,
                JobResult::Retry {
                    error, run_after, ..
                } => {
                    let run_after = timestamp::format(*run_after);
                    // OR IGNORE: if the target has a pending job of the list already, this
                    // one stays running and is dropped below, as the pending job supersedes
                    // it.
                    let held = sqlx::query!(
                        "UPDATE OR IGNORE lookup_jobs
                         SET state = 'pending', run_after = ?3, lease_expires_at = NULL,
                             lease_token = NULL, last_error = ?4, updated_at = ?5
                         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'",
                        job,
                        token,
                        run_after,
                        error,
                        at
                    )
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        + drop_superseded(&mut tx, job, token).await?;
                    if held == 0 {
                        continue;
                    }
                    error
                }
                JobResult::Fail { error, .. } => {
                    if !fail(&mut tx, job, token, at, error).await? {
                        continue;
                    }
                    failed_for_good += 1;
                    error
                }
                JobResult::Release => {
                    sqlx::query!(
                        "UPDATE OR IGNORE lookup_jobs
                         SET state = 'pending', lease_expires_at = NULL, lease_token = NULL,
                             attempts = max(attempts - 1, 0), updated_at = ?3
                         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'",
                        job,
                        token,
                        at
                    )
                    .execute(&mut *tx)
                    .await?;
                    drop_superseded(&mut tx, job, token).await?;
                    continue;
                }
            };
            failed.insert(job);
            if batch::has_history(outcome) {
                insert_error(&mut tx, &outcome.target.to_string(), at, error).await?;
            }
        }
        if !failed.is_empty() {
            let current = outcomes.iter().filter(|o| is_current(o));
            record_errors(&mut tx, &batch::latest_errors(current, &failed)).await?;
        }
        // Every outcome's queries were sent, also those of outcomes dropped above.
        let counts: Vec<(&str, String, u64)> = batch::query_counts(outcomes)
            .into_iter()
            .map(|(list, day, queries)| (list, timestamp::format_day(day), queries))
            .collect();
        if !counts.is_empty() {
            let counts = to_json(&counts)?;
            sqlx::query!(
                "INSERT INTO blocklist_queries (blocklist, day, queries)
                 SELECT value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?1) WHERE true
                 ON CONFLICT (blocklist, day)
                 DO UPDATE SET queries = blocklist_queries.queries + excluded.queries",
                counts
            )
            .execute(&mut *tx)
            .await?;
            let hours: Vec<(&str, String, u64)> = batch::hourly_query_counts(outcomes)
                .into_iter()
                .map(|(list, hour, queries)| (list, timestamp::format(hour), queries))
                .collect();
            count_hours(&mut tx, &to_json(&hours)?).await?;
        }
        if !events.is_empty() {
            watch::append_events(&mut tx, &events).await?;
        }
        tally_jobs(&mut tx, done, failed_for_good).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = timestamp::format(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // OR IGNORE skips a job whose target has a pending job of its list already; the
        // DELETE then drops it, since the pending job will ask the list.
        let reclaimed = sqlx::query!(
            "UPDATE OR IGNORE lookup_jobs
             SET state = 'pending', lease_expires_at = NULL, lease_token = NULL, updated_at = ?1
             WHERE state = 'running' AND lease_expires_at < ?1",
            now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query!(
            "DELETE FROM lookup_jobs WHERE state = 'running' AND lease_expires_at < ?1",
            now
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(reclaimed)
    }

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        // Work in flight from its partial indexes, done and failed jobs from their tallies:
        // nothing here reads the jobs done so far one by one (migration 0015).
        let row = sqlx::query!(
            r#"SELECT
                 (SELECT count(*) FROM lookup_jobs INDEXED BY lookup_jobs_one_pending_per_target
                  WHERE state = 'pending') AS "pending!: i64",
                 (SELECT count(*) FROM lookup_jobs INDEXED BY lookup_jobs_running
                  WHERE state = 'running') AS "running!: i64",
                 (SELECT sum(done) FROM job_tallies) AS "done!: i64",
                 (SELECT sum(failed) FROM job_tallies) AS "failed!: i64""#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueCounts::from_states([
            ("pending", row.pending),
            ("running", row.running),
            ("done", row.done),
            ("failed", row.failed),
        ]))
    }

    async fn pending_lists(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT DISTINCT blocklist FROM lookup_jobs WHERE state = 'pending' ORDER BY blocklist"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn fail_pending(
        &self,
        blocklist: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let now = timestamp::format(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let failed = sqlx::query!(
            "UPDATE lookup_jobs SET state = 'failed', last_error = ?2, updated_at = ?3
             WHERE blocklist = ?1 AND state = 'pending'",
            blocklist,
            error,
            now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tally_jobs(&mut tx, 0, failed).await?;
        tx.commit().await?;
        Ok(failed)
    }

    async fn purge_done_jobs(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        let before = timestamp::format(before);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // The oldest first, through the index of done jobs by when they were done; with each,
        // the failed jobs of its target and list before it, which it superseded: left alone,
        // one would become the pair's latest job and its state FAILED again.
        let states = sqlx::query_scalar!(
            r#"WITH picked AS (
                 SELECT id, target, blocklist FROM lookup_jobs INDEXED BY lookup_jobs_done
                 WHERE state = 'done' AND updated_at < ?1 ORDER BY updated_at LIMIT ?2)
               DELETE FROM lookup_jobs WHERE id IN (
                 SELECT id FROM picked
                 UNION ALL
                 SELECT f.id FROM picked AS p
                 JOIN lookup_jobs AS f INDEXED BY lookup_jobs_by_target
                   ON f.target = p.target AND f.blocklist = p.blocklist AND f.id < p.id
                 WHERE f.state = 'failed')
               RETURNING state AS "state!: String""#,
            before,
            limit
        )
        .fetch_all(&mut *tx)
        .await?;
        let done = states.iter().filter(|state| *state == "done").count() as i64;
        let failed = states.len() as i64 - done;
        tally_jobs(&mut tx, -done, -failed).await?;
        tx.commit().await?;
        Ok(done as u64)
    }
}

#[async_trait]
impl ListResults for SqliteStore {
    async fn list_results_of(
        &self,
        targets: &[Target],
    ) -> Result<Vec<(String, ListResultRecord)>, StoreError> {
        let targets = to_json(&targets.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let rows = sqlx::query!(
            r#"SELECT target, blocklist, state, return_codes, reason, checked_at, expires_at,
                      last_error, resolver, query_name, rcode, ttl, test_points_passed, answered_at
               FROM list_results WHERE target IN (SELECT value FROM json_each(?1))
               ORDER BY target, blocklist"#,
            targets
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let instant = |text: Option<String>| text.as_deref().map(instant).transpose();
                let record = ListResultColumns {
                    blocklist: row.blocklist,
                    state: row.state,
                    return_codes: row.return_codes,
                    reason: row.reason,
                    checked_at: instant(row.checked_at)?,
                    expires_at: instant(row.expires_at)?,
                    last_error: row.last_error,
                    resolver: row.resolver,
                    query_name: row.query_name,
                    rcode: row.rcode,
                    ttl: row.ttl,
                    test_points_passed: row.test_points_passed.map(|passed| passed != 0),
                    answered_at: instant(row.answered_at)?,
                }
                .read()?;
                Ok((row.target, record))
            })
            .collect()
    }

    async fn domain(&self, domain: &Domain) -> Result<Option<DomainRecord>, StoreError> {
        let name = domain.as_str();
        let row = sqlx::query!(
            "SELECT created_at, updated_at FROM domain_lookups WHERE domain = ?1",
            name
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(DomainRecord {
                domain: domain.clone(),
                created_at: instant(&row.created_at)?,
                updated_at: instant(&row.updated_at)?,
            })
        })
        .transpose()
    }

    async fn count_queries(
        &self,
        blocklist: &str,
        at: OffsetDateTime,
        queries: u64,
    ) -> Result<(), StoreError> {
        if queries == 0 {
            return Ok(());
        }
        let day = timestamp::format_day(batch::utc_day(at));
        let queries = i64::try_from(queries).unwrap_or(i64::MAX);
        let hours = to_json(&[(blocklist, timestamp::format(utc_hour(at)), queries)])?;
        let kept_from = timestamp::format(utc_hour(at) - HOURLY_QUERIES_KEPT);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query!(
            "INSERT INTO blocklist_queries (blocklist, day, queries) VALUES (?1, ?2, ?3)
             ON CONFLICT (blocklist, day)
             DO UPDATE SET queries = blocklist_queries.queries + excluded.queries",
            blocklist,
            day,
            queries
        )
        .execute(&mut *tx)
        .await?;
        count_hours(&mut tx, &hours).await?;
        sqlx::query!(
            "DELETE FROM blocklist_query_hours WHERE begins_at < ?1",
            kept_from
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn queries_by_hour(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<HourlyQueries>, StoreError> {
        let from = timestamp::format(utc_hour(since));
        let rows = sqlx::query!(
            "SELECT begins_at, blocklist, queries FROM blocklist_query_hours
             WHERE begins_at >= ?1 AND queries > 0 ORDER BY begins_at, blocklist",
            from
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(HourlyQueries {
                    hour: instant(&row.begins_at)?,
                    blocklist: row.blocklist,
                    queries: u64::try_from(row.queries).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn queries_on(&self, day: Date) -> Result<Vec<(String, u64)>, StoreError> {
        let day = timestamp::format_day(day);
        let rows = sqlx::query!(
            "SELECT blocklist, queries FROM blocklist_queries
             WHERE day = ?1 AND queries > 0 ORDER BY blocklist",
            day
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (
                    row.blocklist,
                    u64::try_from(row.queries).unwrap_or_default(),
                )
            })
            .collect())
    }

    async fn listed_among(
        &self,
        blocklist: &str,
        targets: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let targets = to_json(&targets)?;
        Ok(sqlx::query_scalar!(
            "SELECT target FROM list_results
             WHERE blocklist = ?1 AND state = 'listed'
               AND target IN (SELECT value FROM json_each(?2))
             ORDER BY target",
            blocklist,
            targets
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

#[async_trait]
impl Results for SqliteStore {
    async fn lookup(&self, address: &Address) -> Result<Option<LookupRecord>, StoreError> {
        let ip_address = address.to_string();
        let row = sqlx::query!(
            "SELECT uuid, response_code, created_at, updated_at
             FROM lookups WHERE ip_address = ?1",
            ip_address
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(LookupRecord {
                uuid: row.uuid,
                address: *address,
                answer: StoredAnswer::from_text(row.response_code),
                created_at: instant(&row.created_at)?,
                updated_at: instant(&row.updated_at)?,
            })
        })
        .transpose()
    }

    async fn history(
        &self,
        address: &Address,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        let ip_address = address.to_string();
        let rows = sqlx::query!(
            "SELECT looked_up_at, response_code, error FROM lookup_history
             WHERE ip_address = ?1 ORDER BY id DESC LIMIT ?2",
            ip_address,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(HistoryRecord {
                    looked_up_at: instant(&row.looked_up_at)?,
                    attempt: Attempt::from_columns(row.response_code, row.error)?,
                })
            })
            .collect()
    }

    async fn purge_history(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        let before = timestamp::format(before);
        // The history is appended to in commit order, so the oldest attempts are the lowest
        // ids: the first `limit` rows are read, and those old enough go.
        let purged = sqlx::query!(
            "DELETE FROM lookup_history
             WHERE id IN (SELECT id FROM lookup_history ORDER BY id LIMIT ?2)
               AND looked_up_at < ?1",
            before,
            limit
        )
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(purged)
    }
}

#[async_trait]
impl Import for SqliteStore {
    async fn import(
        &self,
        users: &[ImportedUser],
        lookups: &[LookupRecord],
        now: OffsetDateTime,
    ) -> Result<ImportCounts, StoreError> {
        let now = timestamp::format(now);
        let mut counts = ImportCounts::default();
        let mut tx = self.durable.begin().await?;
        for user in users {
            let done = sqlx::query!(
                "INSERT INTO users (username, password_hash, created_at, updated_at, tokens_not_before)
                 VALUES (?1, ?2, ?3, ?3, ?3)
                 ON CONFLICT (username) DO NOTHING",
                user.username,
                user.password_hash,
                now
            )
            .execute(&mut *tx)
            .await?;
            counts.users += done.rows_affected();
        }
        for record in lookups {
            let ip_address = record.address.to_string();
            let response_code = record.answer.text();
            let created_at = timestamp::format(record.created_at);
            let updated_at = timestamp::format(record.updated_at);
            let address_key = filters::address_key(&record.address);
            // A new address: no other list has answered about it yet, so ZEN's verdict is all.
            let verdict = original_verdict(&response_code);
            let done = sqlx::query!(
                "INSERT INTO lookups (ip_address, uuid, response_code, created_at, updated_at,
                                      address_key, original_verdict, verdict)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT (ip_address) DO NOTHING",
                ip_address,
                record.uuid,
                response_code,
                created_at,
                updated_at,
                address_key,
                verdict
            )
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                counts.lookups += 1;
                sqlx::query!(
                    "INSERT INTO lookup_history (ip_address, looked_up_at, response_code)
                     VALUES (?1, ?2, ?3)",
                    ip_address,
                    updated_at,
                    response_code
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Reads a stored instant.
pub(crate) fn instant(text: &str) -> Result<OffsetDateTime, StoreError> {
    timestamp::parse(text)
        .ok_or_else(|| StoreError::Unreadable(format!("{text:?}, not an RFC 3339 timestamp")))
}

/// Stores a batch of answers with set-wise statements, whatever the batch size: the jobs
/// still holding their claim are marked done, and only their answers are written: each
/// list's result, then the addresses' and domains' records and the original list's history.
/// Returns the listing events the answers make, for the caller to append last.
async fn record_answers<'a>(
    tx: &mut sqlx::SqliteConnection,
    answers: &[&'a JobOutcome],
    now: &str,
) -> Result<(Vec<EventRow<'a>>, u64), StoreError> {
    let claims: Vec<(i64, &str)> = answers
        .iter()
        .map(|o| (o.job_id, o.lease_token.as_str()))
        .collect();
    let claims = to_json(&claims)?;
    // The claims are one list that SQLite reads once; running jobs are few (at most those in
    // flight), so checking each against the list is cheap.
    let held: HashSet<i64> = sqlx::query_scalar!(
        r#"UPDATE lookup_jobs
           SET state = 'done', lease_expires_at = NULL, lease_token = NULL, last_error = NULL,
               updated_at = ?2
           WHERE (id, lease_token) IN (SELECT value ->> 0, value ->> 1 FROM jsonb_each(?1))
             AND state = 'running'
           RETURNING id AS "id!: i64""#,
        claims,
        now
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let done = held.len() as u64;
    let held = HeldAnswers::new(answers.iter().copied(), &held);
    if held.is_empty() {
        return Ok((Vec::new(), done));
    }
    let rows = held.results();
    // Each list's previous real answer, for the listing events: one read for the batch, in
    // the transaction (SQLite's one writer holds the database until it commits).
    let keys: Vec<(String, &str)> = rows.iter().map(|r| (r.target(), r.blocklist())).collect();
    let keys = to_json(&keys)?;
    let mut previous = HashMap::new();
    for row in sqlx::query!(
        r#"SELECT target AS "target!: String", blocklist AS "blocklist!: String", state,
                  return_codes
           FROM list_results
           WHERE (target, blocklist) IN (SELECT value ->> 0, value ->> 1 FROM jsonb_each(?1))
             AND state <> 'unknown'"#,
        keys
    )
    .fetch_all(&mut *tx)
    .await?
    {
        if let Some(answer) = events::previous_answer(&row.state, &row.return_codes)? {
            previous.insert((row.target, row.blocklist), answer);
        }
    }

    // Each list's result: an answer replaces one at most as new, and clears last_error. The
    // rows it wrote say which original-list answers are now current, and which answers make
    // events.
    let results: Vec<_> = rows
        .iter()
        .map(|row| {
            let (answer, evidence) = (row.answer, &row.answer.evidence);
            (
                row.target(),
                row.blocklist(),
                row.state(),
                row.return_codes(),
                answer.reason.as_deref(),
                // checked_at, and answered_at too (value 5 twice).
                timestamp::format(evidence.answered_at),
                timestamp::format(answer.expires_at),
                evidence.resolver.to_string(),
                evidence.query_name.as_str(),
                evidence.rcode.as_str(),
                evidence.ttl,
                u8::from(evidence.test_points_passed),
            )
        })
        .collect();
    let results = to_json(&results)?;
    let written: HashSet<(String, String)> = sqlx::query!(
        r#"INSERT INTO list_results (target, blocklist, state, return_codes, reason, checked_at,
               expires_at, last_error, resolver, query_name, rcode, ttl, test_points_passed,
               answered_at)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                  value ->> 6, NULL, value ->> 7, value ->> 8, value ->> 9, value ->> 10,
                  value ->> 11, value ->> 5
           FROM jsonb_each(?1) WHERE true
           ON CONFLICT (target, blocklist) DO UPDATE
           SET state = excluded.state, return_codes = excluded.return_codes,
               reason = excluded.reason, checked_at = excluded.checked_at,
               expires_at = excluded.expires_at, last_error = NULL,
               resolver = excluded.resolver, query_name = excluded.query_name,
               rcode = excluded.rcode, ttl = excluded.ttl,
               test_points_passed = excluded.test_points_passed,
               answered_at = excluded.answered_at
           WHERE list_results.checked_at IS NULL
              OR excluded.checked_at >= list_results.checked_at
           RETURNING target AS "target!: String", blocklist AS "blocklist!: String""#,
        results
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| (row.target, row.blocklist))
    .collect();
    let events = events::listing_events(&rows, &written, &previous);
    let current: HashSet<String> = written
        .into_iter()
        .filter(|(_, list)| list == ORIGINAL_LIST)
        .map(|(target, _)| target)
        .collect();

    // uuid and created_at are written once; updated_at moves to the latest answer of any
    // list, never back in time. response_code is the original list's current answer; a row
    // holding NOT_LOOKED_UP (another list's answer) keeps the stored one, and its verdict.
    // verdict, over every list that answered (migration 0013), is worked out here from ZEN's
    // and the list_results just written, in the one write of each row: for a row that keeps
    // ZEN's stored answer, the others' verdict computed for the insert is joined with it.
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<bool>,
    );
    let addresses: Vec<Row> = held
        .addresses(&current)
        .into_iter()
        .map(|row| {
            let verdict = original_verdict(&row.response_code);
            (
                uuid::Uuid::new_v4().to_string(),
                row.key,
                row.response_code,
                timestamp::format(row.created_at),
                timestamp::format(row.updated_at),
                row.address.as_ref().map(filters::address_key),
                verdict,
            )
        })
        .collect();
    if !addresses.is_empty() {
        let addresses = to_json(&addresses)?;
        sqlx::query!(
            "INSERT INTO lookups (uuid, ip_address, response_code, created_at, updated_at,
                                  address_key, original_verdict, verdict)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                    value ->> 6,
                    CASE WHEN value ->> 6 = 1
                              OR EXISTS (SELECT 1 FROM list_results AS r
                                         WHERE r.target = value ->> 1 AND r.blocklist <> ?3
                                           AND r.state = 'listed') THEN 1
                         WHEN value ->> 6 IS NOT NULL
                              OR EXISTS (SELECT 1 FROM list_results AS r
                                         WHERE r.target = value ->> 1 AND r.blocklist <> ?3
                                           AND r.state <> 'unknown') THEN 0 END
             FROM jsonb_each(?1) WHERE true
             ON CONFLICT (ip_address) DO UPDATE
             SET response_code = CASE WHEN excluded.response_code = ?2
                                      THEN lookups.response_code
                                      ELSE excluded.response_code END,
                 original_verdict = CASE WHEN excluded.response_code = ?2
                                         THEN lookups.original_verdict
                                         ELSE excluded.original_verdict END,
                 verdict = CASE WHEN excluded.response_code <> ?2 THEN excluded.verdict
                                WHEN lookups.original_verdict = 1 OR excluded.verdict = 1 THEN 1
                                WHEN lookups.original_verdict IS NOT NULL
                                     OR excluded.verdict IS NOT NULL THEN 0 END,
                 updated_at = max(lookups.updated_at, excluded.updated_at)",
            addresses,
            NOT_LOOKED_UP,
            ORIGINAL_LIST
        )
        .execute(&mut *tx)
        .await?;
    }
    let answering = held.answering_lists();
    if !answering.is_empty() {
        let answering = to_json(&answering)?;
        sqlx::query!(
            "INSERT INTO answering_lists (blocklist) SELECT value FROM json_each(?1) WHERE true
             ON CONFLICT (blocklist) DO NOTHING",
            answering
        )
        .execute(&mut *tx)
        .await?;
    }
    let history: Vec<(String, String, String)> = held
        .history()
        .into_iter()
        .map(|(ip, at, code)| (ip, timestamp::format(at), code))
        .collect();
    if !history.is_empty() {
        let history = to_json(&history)?;
        sqlx::query!(
            "INSERT INTO lookup_history (ip_address, looked_up_at, response_code)
             SELECT value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?1)",
            history
        )
        .execute(&mut *tx)
        .await?;
    }
    let domains: Vec<(String, String, String)> = held
        .domains()
        .into_iter()
        .map(|row| {
            (
                row.key,
                timestamp::format(row.created_at),
                timestamp::format(row.updated_at),
            )
        })
        .collect();
    if !domains.is_empty() {
        let domains = to_json(&domains)?;
        sqlx::query!(
            "INSERT INTO domain_lookups (domain, created_at, updated_at)
             SELECT value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?1) WHERE true
             ON CONFLICT (domain) DO UPDATE
             SET updated_at = max(domain_lookups.updated_at, excluded.updated_at)",
            domains
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok((events, done))
}

/// Stores failed attempts in `list_results`, one statement: a new row is `unknown` with the
/// error and the attempt's evidence; an unknown row takes both; an answered row keeps its
/// answer and evidence and takes the error as `last_error`.
async fn record_errors(
    tx: &mut sqlx::SqliteConnection,
    errors: &[batch::ErrorRow<'_>],
) -> Result<(), StoreError> {
    let rows: Vec<_> = errors
        .iter()
        .map(|row| {
            let evidence = row.evidence;
            (
                &row.target,
                row.blocklist,
                row.error,
                evidence.map(|e| e.resolver.to_string()),
                evidence.map(|e| e.query_name.as_str()),
                evidence.map(|e| e.rcode.as_str()),
                evidence.and_then(|e| e.ttl),
                evidence.map(|e| u8::from(e.test_points_passed)),
                evidence.map(|e| timestamp::format(e.answered_at)),
            )
        })
        .collect();
    let rows = to_json(&rows)?;
    sqlx::query!(
        "INSERT INTO list_results (target, blocklist, state, return_codes, last_error, resolver,
             query_name, rcode, ttl, test_points_passed, answered_at)
         SELECT value ->> 0, value ->> 1, 'unknown', '', value ->> 2, value ->> 3, value ->> 4,
                value ->> 5, value ->> 6, value ->> 7, value ->> 8
         FROM jsonb_each(?1) WHERE true
         ON CONFLICT (target, blocklist) DO UPDATE
         SET last_error = excluded.last_error,
             resolver = iif(list_results.state = 'unknown', excluded.resolver,
                            list_results.resolver),
             query_name = iif(list_results.state = 'unknown', excluded.query_name,
                              list_results.query_name),
             rcode = iif(list_results.state = 'unknown', excluded.rcode, list_results.rcode),
             ttl = iif(list_results.state = 'unknown', excluded.ttl, list_results.ttl),
             test_points_passed = iif(list_results.state = 'unknown',
                                      excluded.test_points_passed,
                                      list_results.test_points_passed),
             answered_at = iif(list_results.state = 'unknown', excluded.answered_at,
                               list_results.answered_at)",
        rows
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Queues `(target, list)` jobs due at `now`; one whose target has a pending job for the list
/// joins it. With `reuse_fresh`, one whose list's answer for the target is fresh at `now` is
/// not queued. One statement over a JSON array: atomic, and one round trip for any batch size;
/// a fresh answer is looked up by its primary key, only with `reuse_fresh`.
pub(crate) async fn insert_jobs(
    conn: &mut sqlx::SqliteConnection,
    jobs: &[(String, &str)],
    reuse_fresh: bool,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let batch = to_json(&jobs)?;
    let now = timestamp::format(now);
    sqlx::query!(
        "INSERT INTO lookup_jobs (target, blocklist, run_after, created_at, updated_at)
         SELECT job.value ->> 0, job.value ->> 1, ?2, ?2, ?2 FROM jsonb_each(?1) AS job
         WHERE NOT (?3 AND EXISTS (
             SELECT 1 FROM list_results AS r
             WHERE r.target = job.value ->> 0 AND r.blocklist = job.value ->> 1
               AND r.state <> 'unknown' AND r.expires_at > ?2))
         ON CONFLICT (target, blocklist) WHERE state = 'pending' DO NOTHING",
        batch,
        now,
        reuse_fresh
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds hourly query counts, given as JSON `[[list, hour, queries], ...]`, in the
/// transaction that adds the daily ones.
async fn count_hours(tx: &mut sqlx::SqliteConnection, hours: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO blocklist_query_hours (blocklist, begins_at, queries)
         SELECT value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?1) WHERE true
         ON CONFLICT (begins_at, blocklist)
         DO UPDATE SET queries = blocklist_query_hours.queries + excluded.queries",
        hours
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
}

/// Adds to the tallies of done and failed jobs (`queueStatus`), in the transaction that marks
/// or deletes them.
async fn tally_jobs(
    tx: &mut sqlx::SqliteConnection,
    done: impl TryInto<i64>,
    failed: impl TryInto<i64>,
) -> Result<(), StoreError> {
    let (done, failed) = (
        done.try_into().unwrap_or(i64::MAX),
        failed.try_into().unwrap_or(i64::MAX),
    );
    if (done, failed) != (0, 0) {
        sqlx::query!(
            "UPDATE job_tallies SET done = done + ?1, failed = failed + ?2 WHERE shard = 0",
            done,
            failed
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Marks a job failed, if it still holds the claim `token`; returns whether it did. The caller
/// adds the jobs it failed to the tallies, once per transaction.
async fn fail(
    tx: &mut sqlx::SqliteConnection,
    job: i64,
    token: &str,
    at: &str,
    error: &str,
) -> Result<bool, StoreError> {
    let held = sqlx::query!(
        "UPDATE lookup_jobs
         SET state = 'failed', lease_expires_at = NULL, lease_token = NULL,
             last_error = ?3, updated_at = ?4
         WHERE id = ?1 AND lease_token = ?2 AND state = 'running'",
        job,
        token,
        error,
        at
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(held > 0)
}

/// Logs a failed attempt of the original list to an address's history.
async fn insert_error(
    tx: &mut sqlx::SqliteConnection,
    ip: &str,
    at: &str,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO lookup_history (ip_address, looked_up_at, error) VALUES (?1, ?2, ?3)",
        ip,
        at,
        error
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Drops a job still running under `token` because its target has a pending job of its list,
/// which supersedes it; returns whether it did.
async fn drop_superseded(
    tx: &mut sqlx::SqliteConnection,
    job: i64,
    token: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM lookup_jobs WHERE id = ?1 AND lease_token = ?2 AND state = 'running'",
        job,
        token
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}
