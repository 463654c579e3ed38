//! The PostgreSQL backend of secworks: [`PgStore`] implements every part of the store
//! ([`Accounts`], [`Queue`], [`Results`], [`ListResults`], `Watchlists`, `ListingEvents`,
//! `Webhooks`, `Rechecks`, [`Import`], [`Ping`]) over a database that several server processes
//! (replicas) share.
//!
//! Every method means what the SQLite backend's does; where SQLite serialises writers through
//! its single write lock, this backend uses transactions and row locks, so that two replicas
//! never claim one job, never store one claim's result twice, and never both create the first
//! user. Instants are `timestamptz` columns; addresses and answers are stored as their text.

mod filters;
mod import;
mod queue;
mod rechecks;
mod retry;
mod watch;
mod webhooks;

use async_trait::async_trait;
use secworks_store_api::batch::ListResultColumns;
use secworks_store_api::{
    Accounts, Address, Attempt, ClaimedJob, Domain, DomainRecord, HOURLY_QUERIES_KEPT,
    HistoryRecord, HourlyQueries, Import, ImportCounts, ImportedUser, JobOutcome, ListResultRecord,
    ListResults, LookupRecord, NewJob, NewServiceToken, Ping, Queue, QueueCounts, Results,
    ServiceToken, Standings, StoreError, StoredAnswer, Target, TokenStanding, User, UserSummary,
    utc_hour,
};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use time::{Date, OffsetDateTime};

use crate::import::ImportBatch;
use crate::retry::retrying;

/// Connections per replica. Every store call holds one for a round trip or one short
/// transaction: the lookup engine's claims and its one result writer, plus HTTP requests
/// (a token check each). Sixteen keeps a 2-core replica's requests from queueing on the pool,
/// and lets six replicas share PostgreSQL's default `max_connections` (100) with room for
/// administration. Connections are opened on demand and closed when idle.
const MAX_CONNECTIONS: u32 = 16;

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database `url` names and brings its schema up to date. sqlx's
    /// PostgreSQL migrator holds an advisory lock while it migrates, so replicas that start
    /// together apply each migration once.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(PgStore { pool })
    }
}

#[async_trait]
impl Ping for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Accounts for PgStore {
    async fn has_users(&self) -> Result<bool, StoreError> {
        let found = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "found!""#)
            .fetch_one(&self.pool)
            .await?;
        Ok(found)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as!(
            User,
            "SELECT id, username, password_hash, scopes FROM users WHERE username = $1",
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
        // "No users at all" must hold when the row goes in, not just when it was checked.
        // SHARE ROW EXCLUSIVE conflicts with itself and with every INSERT, UPDATE and DELETE
        // on `users`, so while this transaction holds it no other replica (or `secworks user
        // add`) can add a user; readers are not blocked. The INSERT's snapshot is taken after
        // the lock is granted, so it sees every user committed before. This is the SQLite
        // writer lock, for one table and one statement. ON CONFLICT covers a name added
        // (and committed) before the lock: the user exists, so nothing is created.
        let mut tx = self.pool.begin().await?;
        sqlx::query!("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query!(
            "INSERT INTO users (username, password_hash, created_at, updated_at)
             SELECT $1, $2, $3, $3 WHERE NOT EXISTS (SELECT 1 FROM users)
             ON CONFLICT (username) DO NOTHING",
            username,
            password_hash,
            now
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn token_key_or_insert(
        &self,
        candidate: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<[u8; 32], StoreError> {
        // Of replicas inserting at once, one row wins: the others' INSERT waits for it and
        // then does nothing, and every replica reads the winner's key.
        sqlx::query!(
            "INSERT INTO token_keys (id, key, created_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO NOTHING",
            candidate.as_slice(),
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

    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3)
             ON CONFLICT (jti) DO NOTHING",
            jti,
            expires_at,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token_standing(&self, jti: &str, username: &str) -> Result<TokenStanding, StoreError> {
        // One read for every authenticated request, never cached: a revocation committed by
        // any replica counts from the next request on.
        let row = sqlx::query!(
            r#"SELECT
                 EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1) AS "revoked!",
                 EXISTS (SELECT 1 FROM users WHERE username = $2) AS "user_exists!",
                 (SELECT tokens_not_before FROM users WHERE username = $2) AS not_before"#,
            jti,
            username
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(TokenStanding {
            revoked: row.revoked,
            user_exists: row.user_exists,
            not_before: row.not_before,
        })
    }

    async fn account_version(&self) -> Result<i64, StoreError> {
        let version = sqlx::query_scalar!("SELECT version FROM account_changes WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(version)
    }

    async fn standings(&self, now: OffsetDateTime) -> Result<Standings, StoreError> {
        // The counter first, then the lists (read committed: each statement sees what had
        // committed when it began): a change committing in between is in the lists, or the
        // next read of the counter shows it moved.
        let mut read = self.pool.begin().await?;
        let version = sqlx::query_scalar!("SELECT version FROM account_changes WHERE id = 1")
            .fetch_one(&mut *read)
            .await?;
        let users = sqlx::query!("SELECT username, tokens_not_before FROM users")
            .fetch_all(&mut *read)
            .await?;
        let revoked = sqlx::query!(
            "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= $1",
            now
        )
        .fetch_all(&mut *read)
        .await?;
        read.commit().await?;
        Ok(Standings {
            version,
            users: users
                .into_iter()
                .map(|row| (row.username, row.tokens_not_before))
                .collect(),
            revoked: revoked
                .into_iter()
                .map(|row| (row.jti, row.expires_at))
                .collect(),
        })
    }

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let users = sqlx::query_as!(
            UserSummary,
            "SELECT username, created_at, updated_at, tokens_not_before, scopes
             FROM users ORDER BY username"
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(users)
    }

    async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "INSERT INTO users
                 (username, password_hash, created_at, updated_at, tokens_not_before, scopes)
             VALUES ($1, $2, $3, $3, $3, $4)
             ON CONFLICT (username) DO NOTHING",
            username,
            password_hash,
            now,
            scopes
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_scopes(
        &self,
        username: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "UPDATE users SET scopes = $2, updated_at = $3, tokens_not_before = $3
             WHERE username = $1",
            username,
            scopes,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_service_token(
        &self,
        token: &NewServiceToken,
    ) -> Result<Option<i64>, StoreError> {
        let id = sqlx::query_scalar!(
            "INSERT INTO service_tokens (jti, user_id, name, scopes, created_at, expires_at)
             SELECT $1, id, $3, $4, $5, $6 FROM users WHERE username = $2
             RETURNING id",
            token.jti,
            token.username,
            token.name,
            token.scopes,
            token.created_at,
            token.expires_at
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    async fn service_tokens(&self) -> Result<Vec<ServiceToken>, StoreError> {
        let tokens = sqlx::query_as!(
            ServiceToken,
            r#"SELECT t.id, t.jti, u.username, t.name, t.scopes, t.created_at, t.expires_at,
                      (EXISTS (SELECT 1 FROM revoked_tokens AS r WHERE r.jti = t.jti)
                       OR COALESCE(t.created_at < u.tokens_not_before, FALSE)) AS "revoked!"
               FROM service_tokens AS t JOIN users AS u ON u.id = t.user_id
               ORDER BY t.id"#
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(tokens)
    }

    async fn service_token(&self, id: i64) -> Result<Option<ServiceToken>, StoreError> {
        let token = sqlx::query_as!(
            ServiceToken,
            r#"SELECT t.id, t.jti, u.username, t.name, t.scopes, t.created_at, t.expires_at,
                      (EXISTS (SELECT 1 FROM revoked_tokens AS r WHERE r.jti = t.jti)
                       OR COALESCE(t.created_at < u.tokens_not_before, FALSE)) AS "revoked!"
               FROM service_tokens AS t JOIN users AS u ON u.id = t.user_id
               WHERE t.id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(token)
    }

    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "UPDATE users SET password_hash = $2, updated_at = $3, tokens_not_before = $3
             WHERE username = $1",
            username,
            password_hash,
            now
        )
        .execute(&self.pool)
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
        let done = sqlx::query!(
            "UPDATE users SET password_hash = $3, updated_at = $4
             WHERE username = $1 AND password_hash = $2",
            username,
            old_hash,
            new_hash,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_user(&self, username: &str) -> Result<bool, StoreError> {
        let done = sqlx::query!("DELETE FROM users WHERE username = $1", username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all_tokens(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query!(
            "UPDATE users SET tokens_not_before = $2, updated_at = $2 WHERE username = $1",
            username,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired_revocations(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query!("DELETE FROM revoked_tokens WHERE expires_at < $1", now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl Queue for PgStore {
    async fn enqueue(
        &self,
        jobs: &[NewJob],
        reuse_fresh: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let targets: Vec<String> = jobs.iter().map(|job| job.target.to_string()).collect();
        let lists: Vec<&str> = jobs.iter().map(|job| job.blocklist.as_str()).collect();
        retrying(|| queue::enqueue(&self.pool, &targets, &lists, reuse_fresh, now)).await
    }

    async fn claim_jobs(
        &self,
        blocklist: &str,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        queue::claim(&self.pool, blocklist, limit, now, lease_until).await
    }

    async fn record_outcomes(
        &self,
        outcomes: &[JobOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let outcomes = queue::Outcomes::new(outcomes);
        retrying(|| queue::record(&self.pool, &outcomes, now)).await
    }

    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        retrying(move || queue::reclaim_expired(&self.pool, now)).await
    }

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        // Work in flight from its partial indexes, done and failed jobs from their tallies:
        // nothing here reads the jobs done so far one by one (migration 0013).
        let row = sqlx::query!(
            r#"SELECT
                 (SELECT count(*) FROM lookup_jobs WHERE state = 'pending') AS "pending!",
                 (SELECT count(*) FROM lookup_jobs WHERE state = 'running') AS "running!",
                 (SELECT sum(done)::bigint FROM job_tallies) AS "done!",
                 (SELECT sum(failed)::bigint FROM job_tallies) AS "failed!""#
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
            r#"SELECT DISTINCT blocklist COLLATE "C" AS "blocklist!" FROM lookup_jobs
               WHERE state = 'pending' ORDER BY 1"#
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
        let mut tx = self.pool.begin().await?;
        let failed = sqlx::query!(
            "UPDATE lookup_jobs SET state = 'failed', last_error = $2, updated_at = $3
             WHERE blocklist = $1 AND state = 'pending'",
            blocklist,
            error,
            now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        queue::tally_jobs(&mut tx, 0, failed).await?;
        tx.commit().await?;
        Ok(failed)
    }

    async fn purge_done_jobs(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        retrying(move || async move {
            let mut tx = self.pool.begin().await?;
            // The oldest first, through the index of done jobs by when they were done (rows
            // another replica is deleting are left to it); with each, the failed jobs of its
            // target and list before it, which it superseded: left alone, one would become the
            // pair's latest job and its state FAILED again.
            let states = sqlx::query_scalar!(
                r#"WITH picked AS (
                     SELECT id, target, blocklist FROM lookup_jobs
                     WHERE state = 'done' AND updated_at < $1
                     ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                   DELETE FROM lookup_jobs WHERE id IN (
                     SELECT id FROM picked
                     UNION ALL
                     SELECT f.id FROM picked AS p
                     JOIN lookup_jobs AS f
                       ON f.target = p.target AND f.blocklist = p.blocklist AND f.id < p.id
                     WHERE f.state = 'failed')
                   RETURNING state AS "state!""#,
                before,
                i64::from(limit)
            )
            .fetch_all(&mut *tx)
            .await?;
            let done = states.iter().filter(|state| *state == "done").count() as i64;
            let failed = states.len() as i64 - done;
            queue::tally_jobs(&mut tx, -done, -failed).await?;
            tx.commit().await?;
            Ok(done as u64)
        })
        .await
    }
}

#[async_trait]
impl ListResults for PgStore {
    async fn list_results_of(
        &self,
        targets: &[Target],
    ) -> Result<Vec<(String, ListResultRecord)>, StoreError> {
        let targets: Vec<String> = targets.iter().map(ToString::to_string).collect();
        // Bytewise order ("C"), as SQLite sorts.
        let rows = sqlx::query!(
            r#"SELECT target, blocklist, state, return_codes, reason, checked_at, expires_at,
                      last_error, resolver, query_name, rcode, ttl, test_points_passed, answered_at
               FROM list_results WHERE target = ANY($1)
               ORDER BY target COLLATE "C", blocklist COLLATE "C""#,
            &targets as &[String]
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let record = ListResultColumns {
                    blocklist: row.blocklist,
                    state: row.state,
                    return_codes: row.return_codes,
                    reason: row.reason,
                    checked_at: row.checked_at,
                    expires_at: row.expires_at,
                    last_error: row.last_error,
                    resolver: row.resolver,
                    query_name: row.query_name,
                    rcode: row.rcode,
                    ttl: row.ttl,
                    test_points_passed: row.test_points_passed,
                    answered_at: row.answered_at,
                }
                .read()?;
                Ok((row.target, record))
            })
            .collect()
    }

    async fn domain(&self, domain: &Domain) -> Result<Option<DomainRecord>, StoreError> {
        let row = sqlx::query!(
            "SELECT created_at, updated_at FROM domain_lookups WHERE domain = $1",
            domain.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| DomainRecord {
            domain: domain.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
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
        let day = secworks_store_api::batch::utc_day(at);
        let hour = utc_hour(at);
        let counted = i64::try_from(queries).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO blocklist_queries (blocklist, day, queries) VALUES ($1, $2, $3)
             ON CONFLICT (blocklist, day)
             DO UPDATE SET queries = blocklist_queries.queries + excluded.queries",
            blocklist,
            day,
            counted
        )
        .execute(&mut *tx)
        .await?;
        queue::count_hours(&mut tx, &[(blocklist, hour, queries)]).await?;
        sqlx::query!(
            "DELETE FROM blocklist_query_hours WHERE begins_at < $1",
            hour - HOURLY_QUERIES_KEPT
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
        let rows = sqlx::query!(
            r#"SELECT begins_at, blocklist, queries FROM blocklist_query_hours
               WHERE begins_at >= $1 AND queries > 0
               ORDER BY begins_at, blocklist COLLATE "C""#,
            utc_hour(since)
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| HourlyQueries {
                hour: row.begins_at,
                blocklist: row.blocklist,
                queries: u64::try_from(row.queries).unwrap_or_default(),
            })
            .collect())
    }

    async fn queries_on(&self, day: Date) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT blocklist, queries FROM blocklist_queries
               WHERE day = $1 AND queries > 0 ORDER BY blocklist COLLATE "C""#,
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
        Ok(sqlx::query_scalar!(
            r#"SELECT target FROM list_results
               WHERE blocklist = $1 AND state = 'listed' AND target = ANY ($2)
               ORDER BY target COLLATE "C""#,
            blocklist,
            targets
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

#[async_trait]
impl Results for PgStore {
    async fn lookup(&self, address: &Address) -> Result<Option<LookupRecord>, StoreError> {
        let row = sqlx::query!(
            "SELECT uuid, response_code, created_at, updated_at
             FROM lookups WHERE ip_address = $1",
            address.to_string()
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| LookupRecord {
            uuid: row.uuid,
            address: *address,
            answer: StoredAnswer::from_text(row.response_code),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }

    async fn history(
        &self,
        address: &Address,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        let rows = sqlx::query!(
            "SELECT looked_up_at, response_code, error FROM lookup_history
             WHERE ip_address = $1 ORDER BY id DESC LIMIT $2",
            address.to_string(),
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(HistoryRecord {
                    looked_up_at: row.looked_up_at,
                    attempt: Attempt::from_columns(row.response_code, row.error)?,
                })
            })
            .collect()
    }

    async fn purge_history(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError> {
        // Appended to in about commit order (an identity column), so the oldest attempts are
        // the lowest ids: the first `limit` rows are read, and those old enough go.
        let purged = sqlx::query!(
            "DELETE FROM lookup_history
             WHERE id IN (SELECT id FROM lookup_history ORDER BY id LIMIT $2)
               AND looked_up_at < $1",
            before,
            i64::from(limit)
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(purged)
    }
}

#[async_trait]
impl Import for PgStore {
    async fn import(
        &self,
        users: &[ImportedUser],
        lookups: &[LookupRecord],
        now: OffsetDateTime,
    ) -> Result<ImportCounts, StoreError> {
        let batch = ImportBatch::new(users, lookups, now);
        retrying(|| batch.insert(&self.pool)).await
    }
}
