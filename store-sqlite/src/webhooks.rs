//! Webhooks and their delivery state on SQLite. Creating and deleting go through the durable
//! writer (a client was told they are done); claims and outcomes through the queue's writer,
//! whose one connection serialises them: a claim is one `UPDATE … RETURNING`, so two
//! processes on one file never hold one webhook at once.

use async_trait::async_trait;
use secworks_store_api::webhooks::{read_failures, read_filter, read_status};
use secworks_store_api::{
    ClaimedWebhook, Delivery, NewWebhook, StoreError, WebhookCreated, WebhookRecord, Webhooks,
    timestamp,
};
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::{SqliteStore, instant};

fn optional_instant(text: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    text.as_deref().map(instant).transpose()
}

/// The webhook `id`, or every webhook by id, with its pending count.
async fn read_webhooks(
    conn: &mut SqliteConnection,
    id: Option<i64>,
) -> Result<Vec<WebhookRecord>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT w.id, w.url, w.watchlist, w.created_at, w.last_event_id, w.last_delivery_at,
                  w.last_status, w.failures, w.first_failure_at, w.failing AS "failing: bool",
                  (SELECT count(*) FROM listing_events AS e
                   WHERE e.id > w.last_event_id
                     AND (w.watchlist IS NULL OR EXISTS (
                         SELECT 1 FROM watch_targets AS t
                         WHERE t.watchlist = w.watchlist AND t.target = e.target)))
                  AS "pending!: i64"
           FROM webhooks AS w WHERE ?1 IS NULL OR w.id = ?1 ORDER BY w.id"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(WebhookRecord {
                id: row.id,
                url: row.url,
                watchlist: read_filter(row.watchlist)?,
                created_at: instant(&row.created_at)?,
                last_event_id: row.last_event_id,
                last_delivery_at: optional_instant(row.last_delivery_at)?,
                last_status: read_status(row.last_status)?,
                failures: read_failures(row.failures)?,
                first_failure_at: optional_instant(row.first_failure_at)?,
                failing: row.failing,
                pending: u64::try_from(row.pending).unwrap_or(0),
            })
        })
        .collect()
}

#[async_trait]
impl Webhooks for SqliteStore {
    async fn create_webhook(
        &self,
        webhook: NewWebhook<'_>,
        now: OffsetDateTime,
    ) -> Result<WebhookCreated, StoreError> {
        let mut tx = self.durable.begin_with("BEGIN IMMEDIATE").await?;
        let watchlist = webhook.watchlist.map(|name| name.as_str());
        if let Some(name) = watchlist {
            let found = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM watchlists WHERE name = ?1) AS "found!: bool""#,
                name
            )
            .fetch_one(&mut *tx)
            .await?;
            if !found {
                return Ok(WebhookCreated::NoWatchlist);
            }
        }
        let now = timestamp::format(now);
        let id = sqlx::query_scalar!(
            "INSERT INTO webhooks (url, watchlist, secret, created_at, last_event_id,
                 next_attempt_at, failures, failing)
             SELECT ?1, ?2, ?3, ?4, last, ?4, 0, 0 FROM listing_event_ids WHERE id = 1
             RETURNING id",
            webhook.url,
            watchlist,
            webhook.secret,
            now
        )
        .fetch_one(&mut *tx)
        .await?;
        let created = read_webhooks(&mut tx, Some(id)).await?;
        tx.commit().await?;
        created
            .into_iter()
            .next()
            .map(WebhookCreated::Created)
            .ok_or_else(|| StoreError::Unreadable(format!("webhook {id} just written")))
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_webhooks(&mut conn, None).await
    }

    async fn delete_webhook(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query!("DELETE FROM webhooks WHERE id = ?1", id)
            .execute(&self.durable)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_webhooks(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedWebhook>, StoreError> {
        let (now, lease_until) = (timestamp::format(now), timestamp::format(lease_until));
        let token = uuid::Uuid::new_v4().to_string();
        let rows = sqlx::query!(
            r#"UPDATE webhooks SET lease_token = ?3, lease_expires_at = ?2
               WHERE id IN (
                   SELECT id FROM webhooks
                   WHERE next_attempt_at <= ?1
                     AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)
                     AND last_event_id < (SELECT last FROM listing_event_ids WHERE id = 1)
                   ORDER BY next_attempt_at, id
                   LIMIT ?4
               )
               RETURNING id, url, watchlist, secret, last_event_id, failures, first_failure_at,
                         lease_token AS "lease_token!: String""#,
            now,
            lease_until,
            token,
            limit
        )
        .fetch_all(&self.writer)
        .await?;
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                Ok(ClaimedWebhook {
                    id: row.id,
                    url: row.url,
                    watchlist: read_filter(row.watchlist)?,
                    secret: row.secret,
                    last_event_id: row.last_event_id,
                    failures: read_failures(row.failures)?,
                    first_failure_at: optional_instant(row.first_failure_at)?,
                    lease_token: row.lease_token,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_unstable_by_key(|webhook| webhook.id);
        Ok(claimed)
    }

    async fn record_delivery(
        &self,
        id: i64,
        lease_token: &str,
        delivery: &Delivery,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = timestamp::format(now);
        let done = match delivery {
            Delivery::Delivered {
                event_id,
                status,
                lease_until,
            } => {
                let lease_until = timestamp::format(*lease_until);
                sqlx::query!(
                    "UPDATE webhooks
                     SET last_event_id = max(last_event_id, ?3), last_status = ?4,
                         last_delivery_at = ?5, failures = 0, first_failure_at = NULL,
                         failing = 0, next_attempt_at = ?5, lease_expires_at = ?6
                     WHERE id = ?1 AND lease_token = ?2",
                    id,
                    lease_token,
                    event_id,
                    status,
                    now,
                    lease_until
                )
                .execute(&self.writer)
                .await?
            }
            Delivery::Skipped { event_id } => {
                sqlx::query!(
                    "UPDATE webhooks SET last_event_id = max(last_event_id, ?3)
                     WHERE id = ?1 AND lease_token = ?2",
                    id,
                    lease_token,
                    event_id
                )
                .execute(&self.writer)
                .await?
            }
            Delivery::Failed {
                status,
                retry_at,
                failing,
            } => {
                let retry_at = timestamp::format(*retry_at);
                sqlx::query!(
                    "UPDATE webhooks
                     SET last_status = coalesce(?3, last_status), failures = failures + 1,
                         first_failure_at = coalesce(first_failure_at, ?4),
                         failing = max(failing, ?5), next_attempt_at = ?6,
                         lease_token = NULL, lease_expires_at = NULL
                     WHERE id = ?1 AND lease_token = ?2",
                    id,
                    lease_token,
                    status,
                    now,
                    failing,
                    retry_at
                )
                .execute(&self.writer)
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
        let due = timestamp::format(due);
        sqlx::query!(
            "UPDATE webhooks SET lease_token = NULL, lease_expires_at = NULL, next_attempt_at = ?3
             WHERE id = ?1 AND lease_token = ?2",
            id,
            lease_token,
            due
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
