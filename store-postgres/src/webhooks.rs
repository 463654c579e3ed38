//! Webhooks and their delivery state on PostgreSQL, shared by every replica. A claim locks the
//! due webhooks it takes with `FOR UPDATE SKIP LOCKED`, as the lookup queue's claims do: a
//! webhook another replica is claiming is skipped, and one it has claimed (its lease still
//! running) no longer reads as due once its row is locked, so no two replicas deliver one
//! webhook's events at once and no claim waits for another. Every write of an outcome names
//! the claim's lease token and is one statement.

use async_trait::async_trait;
use secworks_store_api::webhooks::{read_failures, read_filter, read_status};
use secworks_store_api::{
    ClaimedWebhook, Delivery, NewWebhook, StoreError, WebhookCreated, WebhookRecord, Webhooks,
};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::PgStore;

/// The webhook `id`, or every webhook by id, with its pending count.
async fn read_webhooks(pool: &PgPool, id: Option<i64>) -> Result<Vec<WebhookRecord>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT w.id, w.url, w.watchlist, w.created_at, w.last_event_id, w.last_delivery_at,
                  w.last_status, w.failures, w.first_failure_at, w.failing,
                  (SELECT count(*) FROM listing_events AS e
                   WHERE e.id > w.last_event_id
                     AND (w.watchlist IS NULL OR EXISTS (
                         SELECT 1 FROM watch_targets AS t
                         WHERE t.watchlist = w.watchlist AND t.target = e.target)))
                  AS "pending!"
           FROM webhooks AS w WHERE $1::bigint IS NULL OR w.id = $1 ORDER BY w.id"#,
        id
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(WebhookRecord {
                id: row.id,
                url: row.url,
                watchlist: read_filter(row.watchlist)?,
                created_at: row.created_at,
                last_event_id: row.last_event_id,
                last_delivery_at: row.last_delivery_at,
                last_status: read_status(row.last_status.map(i64::from))?,
                failures: read_failures(i64::from(row.failures))?,
                first_failure_at: row.first_failure_at,
                failing: row.failing,
                pending: u64::try_from(row.pending).unwrap_or(0),
            })
        })
        .collect()
}

#[async_trait]
impl Webhooks for PgStore {
    async fn create_webhook(
        &self,
        webhook: NewWebhook<'_>,
        now: OffsetDateTime,
    ) -> Result<WebhookCreated, StoreError> {
        let watchlist = webhook.watchlist.map(|name| name.as_str());
        // One statement: the cursor is the end of the log as committed now; an event batch
        // committing later has ids after it (the counter row orders them), so it is sent.
        let id = sqlx::query_scalar!(
            "INSERT INTO webhooks (url, watchlist, secret, created_at, last_event_id,
                 next_attempt_at, failures, failing)
             SELECT $1, $2, $3, $4, last, $4, 0, false FROM listing_event_ids
             WHERE id = 1
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM watchlists WHERE name = $2))
             RETURNING id",
            webhook.url,
            watchlist,
            webhook.secret,
            now
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(id) = id else {
            return Ok(WebhookCreated::NoWatchlist);
        };
        read_webhooks(&self.pool, Some(id))
            .await?
            .into_iter()
            .next()
            .map(WebhookCreated::Created)
            .ok_or_else(|| StoreError::Unreadable(format!("webhook {id} just written")))
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        read_webhooks(&self.pool, None).await
    }

    async fn delete_webhook(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query!("DELETE FROM webhooks WHERE id = $1", id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_webhooks(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedWebhook>, StoreError> {
        let token = uuid::Uuid::new_v4().to_string();
        let rows = sqlx::query!(
            r#"WITH claimed AS (
                 UPDATE webhooks SET lease_token = $3, lease_expires_at = $2
                 WHERE id = ANY (ARRAY (
                     SELECT id FROM webhooks
                     WHERE next_attempt_at <= $1
                       AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
                       AND last_event_id < (SELECT last FROM listing_event_ids WHERE id = 1)
                     ORDER BY next_attempt_at, id
                     LIMIT $4
                     FOR UPDATE SKIP LOCKED
                 ))
                 RETURNING id, url, watchlist, secret, last_event_id, failures,
                           first_failure_at, lease_token
               )
               SELECT id AS "id!", url AS "url!", watchlist, secret AS "secret!",
                      last_event_id AS "last_event_id!", failures AS "failures!",
                      first_failure_at, lease_token AS "lease_token!"
               FROM claimed ORDER BY id"#,
            now,
            lease_until,
            token,
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ClaimedWebhook {
                    id: row.id,
                    url: row.url,
                    watchlist: read_filter(row.watchlist)?,
                    secret: row.secret,
                    last_event_id: row.last_event_id,
                    failures: read_failures(i64::from(row.failures))?,
                    first_failure_at: row.first_failure_at,
                    lease_token: row.lease_token,
                })
            })
            .collect()
    }

    async fn record_delivery(
        &self,
        id: i64,
        lease_token: &str,
        delivery: &Delivery,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = match delivery {
            Delivery::Delivered {
                event_id,
                status,
                lease_until,
            } => {
                sqlx::query!(
                    "UPDATE webhooks
                     SET last_event_id = GREATEST(last_event_id, $3), last_status = $4,
                         last_delivery_at = $5, failures = 0, first_failure_at = NULL,
                         failing = false, next_attempt_at = $5, lease_expires_at = $6
                     WHERE id = $1 AND lease_token = $2",
                    id,
                    lease_token,
                    event_id,
                    i32::from(*status),
                    now,
                    lease_until
                )
                .execute(&self.pool)
                .await?
            }
            Delivery::Skipped { event_id } => {
                sqlx::query!(
                    "UPDATE webhooks SET last_event_id = GREATEST(last_event_id, $3)
                     WHERE id = $1 AND lease_token = $2",
                    id,
                    lease_token,
                    event_id
                )
                .execute(&self.pool)
                .await?
            }
            Delivery::Failed {
                status,
                retry_at,
                failing,
            } => {
                sqlx::query!(
                    "UPDATE webhooks
                     SET last_status = coalesce($3, last_status), failures = failures + 1,
                         first_failure_at = coalesce(first_failure_at, $4),
                         failing = failing OR $5, next_attempt_at = $6,
                         lease_token = NULL, lease_expires_at = NULL
                     WHERE id = $1 AND lease_token = $2",
                    id,
                    lease_token,
                    status.map(i32::from),
                    now,
                    failing,
                    retry_at
                )
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    async fn release_webhook(
        &self,
        id: i64,
        lease_token: &str,
        due: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE webhooks SET lease_token = NULL, lease_expires_at = NULL, next_attempt_at = $3
             WHERE id = $1 AND lease_token = $2",
            id,
            lease_token,
            due
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
