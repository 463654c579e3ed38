//! Watchlists and the listing-event log on SQLite.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use secworks_store_api::events::{EventColumns, EventRow};
use secworks_store_api::watchlists::{
    WatchChanges, WatchedListing, WatchedVerdict, WatchlistDiff, read_count, read_entries,
    read_interval, read_name, read_verdict, read_watchlist_names,
};
use secworks_store_api::{
    HourlyChanges, ListingEventRecord, ListingEvents, ListingTally, StoreError, WatchEntry,
    WatchlistName, WatchlistRecord, WatchlistWrite, Watchlists, timestamp,
};
use sqlx::SqliteConnection;
use time::{Duration, OffsetDateTime};

use crate::{SqliteStore, instant, to_json};

/// Targets per statement when a watchlist's targets are written: one JSON array each, so a
/// /16 is seven statements.
const CHUNK: usize = 10_000;

/// What a write does to a watchlist's entries.
enum Edit<'a> {
    Put(&'a BTreeSet<WatchEntry>, Duration),
    Add(&'a BTreeSet<WatchEntry>),
    Remove(&'a BTreeSet<WatchEntry>),
}

impl SqliteStore {
    /// One watchlist write, in one transaction on the durable writer: all of it or nothing.
    async fn edit(
        &self,
        name: &WatchlistName,
        edit: Edit<'_>,
        max_targets: Option<u64>,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError> {
        let mut tx = self.durable.begin_with("BEGIN IMMEDIATE").await?;
        let key = name.as_str();
        let stored = sqlx::query!(
            "SELECT interval_seconds FROM watchlists WHERE name = ?1",
            key
        )
        .fetch_optional(&mut *tx)
        .await?;
        let before = match stored {
            Some(_) => read_entries(
                sqlx::query_scalar!(
                    "SELECT entry FROM watchlist_entries WHERE watchlist = ?1",
                    key
                )
                .fetch_all(&mut *tx)
                .await?,
            )?,
            None => BTreeSet::new(),
        };
        let (after, interval) = match (edit, &stored) {
            (Edit::Put(entries, interval), _) => (entries.clone(), interval.whole_seconds()),
            (_, None) => return Ok(WatchlistWrite::NotFound),
            (Edit::Add(entries), Some(row)) => (
                before.union(entries).cloned().collect(),
                row.interval_seconds,
            ),
            (Edit::Remove(entries), Some(row)) => (
                before.difference(entries).cloned().collect(),
                row.interval_seconds,
            ),
        };
        let diff = WatchlistDiff::new(&before, &after);
        let changes = diff.changes(stored.as_ref().map(|row| row.interval_seconds), interval);
        if let Some(max) = max_targets {
            let total = sqlx::query_scalar!(
                r#"SELECT coalesce(sum(target_count), 0) AS "total!: i64" FROM watchlists"#
            )
            .fetch_one(&mut *tx)
            .await?;
            let total = diff.total_after(read_count(total)?);
            if total > max {
                return Ok(WatchlistWrite::TooManyTargets { total, max });
            }
        }
        let (now_text, count) = (
            timestamp::format(now),
            i64::try_from(diff.target_count).unwrap_or(i64::MAX),
        );
        sqlx::query!(
            "INSERT INTO watchlists (name, interval_seconds, target_count, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (name) DO UPDATE
             SET interval_seconds = excluded.interval_seconds,
                 target_count = excluded.target_count, updated_at = excluded.updated_at",
            key,
            interval,
            count,
            now_text
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!("DELETE FROM watchlist_entries WHERE watchlist = ?1", key)
            .execute(&mut *tx)
            .await?;
        for chunk in diff.entries.chunks(CHUNK) {
            let chunk = to_json(&chunk)?;
            sqlx::query!(
                "INSERT INTO watchlist_entries (watchlist, entry)
                 SELECT ?1, value FROM json_each(?2)",
                key,
                chunk
            )
            .execute(&mut *tx)
            .await?;
        }
        for chunk in diff.removed.chunks(CHUNK) {
            let chunk = to_json(&chunk)?;
            sqlx::query!(
                "DELETE FROM watch_targets
                 WHERE watchlist = ?1 AND target IN (SELECT value FROM json_each(?2))",
                key,
                chunk
            )
            .execute(&mut *tx)
            .await?;
        }
        for chunk in diff.added.chunks(CHUNK) {
            let chunk = to_json(&chunk)?;
            sqlx::query!(
                "INSERT INTO watch_targets (watchlist, target, kind)
                 SELECT ?1, value ->> 0, value ->> 1 FROM json_each(?2)",
                key,
                chunk
            )
            .execute(&mut *tx)
            .await?;
        }
        let generation = bump_generation(&mut tx).await?;
        log_changes(&mut tx, generation, key, &changes).await?;
        let written = read_watchlists(&mut tx, Some(key), enabled).await?;
        tx.commit().await?;
        written
            .into_iter()
            .next()
            .map(WatchlistWrite::Done)
            .ok_or_else(|| StoreError::Unreadable(format!("watchlist {key:?} just written")))
    }
}

/// Tells the re-check planner that the watched targets changed: the new generation, under
/// which the write logs what it changed (`logged_generation` says it does).
async fn bump_generation(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let generation = sqlx::query_scalar!(
        "UPDATE watch_generation
         SET generation = generation + 1, logged_generation = logged_generation + 1
         WHERE id = 1 RETURNING generation"
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(generation)
}

/// Logs the targets a write may have changed for the re-check planner, under `generation`.
async fn log_changes(
    conn: &mut SqliteConnection,
    generation: i64,
    watchlist: &str,
    changes: &WatchChanges<'_>,
) -> Result<(), StoreError> {
    if changes.all_held {
        sqlx::query!(
            "INSERT INTO watch_changes (generation, target)
             SELECT ?1, target FROM watch_targets WHERE watchlist = ?2
             ON CONFLICT DO NOTHING",
            generation,
            watchlist
        )
        .execute(&mut *conn)
        .await?;
    }
    for chunk in changes.targets.chunks(CHUNK) {
        let chunk = to_json(&chunk)?;
        sqlx::query!(
            "INSERT INTO watch_changes (generation, target)
             SELECT ?1, value FROM json_each(?2) WHERE true
             ON CONFLICT DO NOTHING",
            generation,
            chunk
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The watchlist `name`, or every watchlist by name, with `listed_count` over the `enabled`
/// lists' results.
async fn read_watchlists(
    conn: &mut SqliteConnection,
    name: Option<&str>,
    enabled: &[&str],
) -> Result<Vec<WatchlistRecord>, StoreError> {
    let enabled = to_json(&enabled)?;
    let rows = sqlx::query!(
        r#"SELECT w.name, w.interval_seconds, w.target_count, w.created_at, w.updated_at,
                  (SELECT count(*) FROM watch_targets AS t
                   WHERE t.watchlist = w.name AND EXISTS (
                       SELECT 1 FROM list_results AS r
                       WHERE r.target = t.target AND r.state = 'listed'
                         AND r.blocklist IN (SELECT value FROM json_each(?2))))
                  AS "listed_count!: i64"
           FROM watchlists AS w WHERE ?1 IS NULL OR w.name = ?1 ORDER BY w.name"#,
        name,
        enabled
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in sqlx::query!(
        "SELECT watchlist, entry FROM watchlist_entries WHERE ?1 IS NULL OR watchlist = ?1",
        name
    )
    .fetch_all(&mut *conn)
    .await?
    {
        entries.entry(row.watchlist).or_default().push(row.entry);
    }
    rows.into_iter()
        .map(|row| {
            let texts = entries.remove(&row.name).unwrap_or_default();
            Ok(WatchlistRecord {
                entries: read_entries(texts)?.into_iter().collect(),
                name: read_name(row.name)?,
                interval: read_interval(row.interval_seconds)?,
                target_count: read_count(row.target_count)?,
                listed_count: read_count(row.listed_count)?,
                created_at: instant(&row.created_at)?,
                updated_at: instant(&row.updated_at)?,
            })
        })
        .collect()
}

#[async_trait]
impl Watchlists for SqliteStore {
    async fn watchlists(&self, enabled: &[&str]) -> Result<Vec<WatchlistRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_watchlists(&mut conn, None, enabled).await
    }

    async fn watchlist(
        &self,
        name: &WatchlistName,
        enabled: &[&str],
    ) -> Result<Option<WatchlistRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(read_watchlists(&mut conn, Some(name.as_str()), enabled)
            .await?
            .into_iter()
            .next())
    }

    async fn put_watchlist(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        interval: Duration,
        max_targets: u64,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError> {
        let edit = Edit::Put(entries, interval);
        self.edit(name, edit, Some(max_targets), enabled, now).await
    }

    async fn add_watch_entries(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        max_targets: u64,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError> {
        let edit = Edit::Add(entries);
        self.edit(name, edit, Some(max_targets), enabled, now).await
    }

    async fn remove_watch_entries(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError> {
        self.edit(name, Edit::Remove(entries), None, enabled, now)
            .await
    }

    async fn delete_watchlist(&self, name: &WatchlistName) -> Result<bool, StoreError> {
        let key = name.as_str();
        let mut tx = self.durable.begin_with("BEGIN IMMEDIATE").await?;
        // Its targets are logged before the delete takes them with it.
        let generation = bump_generation(&mut tx).await?;
        log_changes(&mut tx, generation, key, &WatchChanges::deleted()).await?;
        let done = sqlx::query!("DELETE FROM watchlists WHERE name = ?1", key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn watched_verdicts(
        &self,
        enabled: &[&str],
        limit: u64,
    ) -> Result<Vec<WatchedVerdict>, StoreError> {
        let enabled = to_json(&enabled)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query!(
            "SELECT r.target, r.blocklist, r.state FROM list_results AS r
             WHERE r.target IN (SELECT target FROM watch_targets)
               AND r.state IN ('listed', 'not_listed')
               AND r.blocklist IN (SELECT value FROM json_each(?1))
             ORDER BY r.target, r.blocklist
             LIMIT ?2",
            enabled,
            limit
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(WatchedVerdict {
                    verdict: read_verdict(&row.state)?,
                    target: row.target,
                    blocklist: row.blocklist,
                })
            })
            .collect()
    }

    async fn watched_listings(
        &self,
        enabled: &[&str],
        limit: u64,
    ) -> Result<Vec<WatchedListing>, StoreError> {
        let enabled = to_json(&enabled)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"SELECT r.target, r.blocklist, r.return_codes, r.reason,
                      r.checked_at AS "checked_at!",
                      (SELECT group_concat(w.watchlist, ',') FROM watch_targets AS w
                       WHERE w.target = r.target) AS "watchlists!: String"
               FROM list_results AS r
               WHERE r.state = 'listed'
                 AND r.target IN (SELECT target FROM watch_targets)
                 AND r.blocklist IN (SELECT value FROM json_each(?1))
               ORDER BY r.target, r.blocklist
               LIMIT ?2"#,
            enabled,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(WatchedListing {
                    return_codes: secworks_store_api::batch::read_return_codes(&row.return_codes)?,
                    checked_at: instant(&row.checked_at)?,
                    watchlists: read_watchlist_names(&row.watchlists)?,
                    target: row.target,
                    blocklist: row.blocklist,
                    reason: row.reason,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ListingEvents for SqliteStore {
    async fn latest_listing_events(
        &self,
        limit: u32,
    ) -> Result<Vec<ListingEventRecord>, StoreError> {
        let rows = sqlx::query!(
            "SELECT id, checked_at, target, blocklist, change, return_codes,
                    previous_return_codes, reason
             FROM listing_events ORDER BY id DESC LIMIT ?1",
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                EventColumns {
                    id: row.id,
                    at: instant(&row.checked_at)?,
                    target: row.target,
                    blocklist: row.blocklist,
                    change: row.change,
                    return_codes: row.return_codes,
                    previous_return_codes: row.previous_return_codes,
                    reason: row.reason,
                }
                .read()
            })
            .collect()
    }

    async fn listing_tally(
        &self,
        enabled: &[&str],
        since: OffsetDateTime,
    ) -> Result<ListingTally, StoreError> {
        let enabled = to_json(&enabled)?;
        let from = timestamp::format(secworks_store_api::utc_hour(since));
        // One read transaction: both reads see the same snapshot (WAL), so no answer is in
        // the count but not among the events, or the other way round.
        let mut tx = self.pool.begin().await?;
        let now = sqlx::query!(
            r#"SELECT blocklist, count(*) AS "listed!: i64" FROM list_results
               WHERE state = 'listed' AND blocklist IN (SELECT value FROM json_each(?1))
               GROUP BY blocklist ORDER BY blocklist"#,
            enabled
        )
        .fetch_all(&mut *tx)
        .await?;
        // Stored instants are fixed-width RFC 3339 text: the first 13 characters are the hour.
        let hours = sqlx::query!(
            r#"SELECT substr(checked_at, 1, 13) || ':00:00.000000Z' AS "hour!: String",
                      blocklist,
                      sum(change = 'listed') AS "listed!: i64",
                      sum(change = 'delisted') AS "delisted!: i64"
               FROM listing_events
               WHERE checked_at >= ?2 AND change IN ('listed', 'delisted')
                 AND blocklist IN (SELECT value FROM json_each(?1))
               GROUP BY 1, blocklist ORDER BY 1, blocklist"#,
            enabled,
            from
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ListingTally {
            listed_now: now
                .into_iter()
                .map(|row| (row.blocklist, u64::try_from(row.listed).unwrap_or_default()))
                .collect(),
            hours: hours
                .into_iter()
                .map(|row| {
                    Ok(HourlyChanges {
                        hour: instant(&row.hour)?,
                        blocklist: row.blocklist,
                        listed: u64::try_from(row.listed).unwrap_or_default(),
                        delisted: u64::try_from(row.delisted).unwrap_or_default(),
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }

    async fn last_event_id(&self) -> Result<i64, StoreError> {
        let last = sqlx::query_scalar!("SELECT last FROM listing_event_ids WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(last)
    }

    async fn listing_events(
        &self,
        after: i64,
        limit: u32,
        watchlist: Option<&WatchlistName>,
    ) -> Result<Option<Vec<ListingEventRecord>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let name = watchlist.map(WatchlistName::as_str);
        if let Some(name) = name {
            let found = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM watchlists WHERE name = ?1) AS "found!: bool""#,
                name
            )
            .fetch_one(&mut *conn)
            .await?;
            if !found {
                return Ok(None);
            }
        }
        let rows = sqlx::query!(
            "SELECT e.id, e.checked_at, e.target, e.blocklist, e.change, e.return_codes,
                    e.previous_return_codes, e.reason
             FROM listing_events AS e
             WHERE e.id > ?1
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM watch_targets AS w
                                          WHERE w.watchlist = ?3 AND w.target = e.target))
             ORDER BY e.id LIMIT ?2",
            after,
            limit,
            name
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|row| {
                EventColumns {
                    id: row.id,
                    at: instant(&row.checked_at)?,
                    target: row.target,
                    blocklist: row.blocklist,
                    change: row.change,
                    return_codes: row.return_codes,
                    previous_return_codes: row.previous_return_codes,
                    reason: row.reason,
                }
                .read()
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// Appends a batch's listing events, the last thing its transaction writes. Their ids come
/// from the one counter row, as on PostgreSQL; SQLite's single writer would keep them in
/// commit order anyway.
pub(crate) async fn append_events(
    tx: &mut SqliteConnection,
    events: &[EventRow<'_>],
) -> Result<(), StoreError> {
    let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last = sqlx::query_scalar!(
        "UPDATE listing_event_ids SET last = last + ?1 WHERE id = 1 RETURNING last",
        count
    )
    .fetch_one(&mut *tx)
    .await?;
    let first = last - count + 1;
    let rows: Vec<_> = events
        .iter()
        .zip(first..)
        .map(|(event, id)| {
            (
                id,
                timestamp::format(event.at),
                &event.target,
                event.blocklist,
                event.change.as_str(),
                &event.return_codes,
                &event.previous_return_codes,
                event.reason,
            )
        })
        .collect();
    let rows = to_json(&rows)?;
    sqlx::query!(
        "INSERT INTO listing_events (id, checked_at, target, blocklist, change, return_codes,
             previous_return_codes, reason)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                value ->> 6, value ->> 7
         FROM json_each(?1)",
        rows
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
