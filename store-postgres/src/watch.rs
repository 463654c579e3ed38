//! Watchlists and the listing-event log on PostgreSQL, shared by every replica.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use secworks_store_api::events::{EventColumns, EventRow};
use secworks_store_api::watchlists::{
    WatchChanges, WatchedListing, WatchedVerdict, WatchlistDiff, read_count, read_entries,
    read_interval, read_name, read_verdict, read_watchlist_names,
};
use secworks_store_api::{
    HourlyChanges, ListingEventRecord, ListingEvents, ListingTally, StoreError, WatchEntry,
    WatchlistName, WatchlistRecord, WatchlistWrite, Watchlists,
};
use sqlx::{PgConnection, PgPool};
use time::{Duration, OffsetDateTime};

use crate::PgStore;
use crate::retry::retrying;

/// Targets per statement when a watchlist's targets are written: one array each, so a /16 is
/// seven statements.
const CHUNK: usize = 10_000;

/// What a write does to a watchlist's entries.
#[derive(Clone, Copy)]
enum Edit<'a> {
    Put(&'a BTreeSet<WatchEntry>, Duration),
    Add(&'a BTreeSet<WatchEntry>),
    Remove(&'a BTreeSet<WatchEntry>),
}

/// One watchlist write, in one transaction: all of it or nothing. Watchlist writes take
/// `watchlists` in SHARE ROW EXCLUSIVE mode, which conflicts with itself: they run one at a
/// time across replicas, so the limit on all watchlists' targets holds (two writes cannot both
/// count the total before the other adds to it) and a read-modify-write of one watchlist's
/// entries cannot lose another's. Readers are not blocked; watchlist writes are rare.
async fn edit(
    pool: &PgPool,
    name: &WatchlistName,
    edit: Edit<'_>,
    max_targets: Option<u64>,
    enabled: &[&str],
    now: OffsetDateTime,
) -> Result<WatchlistWrite, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("LOCK TABLE watchlists IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let key = name.as_str();
    let stored = sqlx::query!(
        "SELECT interval_seconds FROM watchlists WHERE name = $1",
        key
    )
    .fetch_optional(&mut *tx)
    .await?;
    let before = match stored {
        Some(_) => read_entries(
            sqlx::query_scalar!(
                "SELECT entry FROM watchlist_entries WHERE watchlist = $1",
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
            r#"SELECT coalesce(sum(target_count), 0)::bigint AS "total!" FROM watchlists"#
        )
        .fetch_one(&mut *tx)
        .await?;
        let total = diff.total_after(read_count(total)?);
        if total > max {
            return Ok(WatchlistWrite::TooManyTargets { total, max });
        }
    }
    let count = i64::try_from(diff.target_count).unwrap_or(i64::MAX);
    sqlx::query!(
        "INSERT INTO watchlists (name, interval_seconds, target_count, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (name) DO UPDATE
         SET interval_seconds = excluded.interval_seconds,
             target_count = excluded.target_count, updated_at = excluded.updated_at",
        key,
        interval,
        count,
        now
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM watchlist_entries WHERE watchlist = $1", key)
        .execute(&mut *tx)
        .await?;
    for chunk in diff.entries.chunks(CHUNK) {
        sqlx::query!(
            "INSERT INTO watchlist_entries (watchlist, entry)
             SELECT $1, e FROM UNNEST($2::text[]) AS e",
            key,
            chunk
        )
        .execute(&mut *tx)
        .await?;
    }
    for chunk in diff.removed.chunks(CHUNK) {
        sqlx::query!(
            "DELETE FROM watch_targets WHERE watchlist = $1 AND target = ANY ($2)",
            key,
            chunk
        )
        .execute(&mut *tx)
        .await?;
    }
    for chunk in diff.added.chunks(CHUNK) {
        let (targets, kinds): (Vec<&str>, Vec<&str>) = chunk
            .iter()
            .map(|(target, kind)| (target.as_str(), *kind))
            .unzip();
        sqlx::query!(
            "INSERT INTO watch_targets (watchlist, target, kind)
             SELECT $1, t, k FROM UNNEST($2::text[], $3::text[]) AS a (t, k)",
            key,
            &targets as &[&str],
            &kinds as &[&str]
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

/// Tells the re-check planner that the watched targets changed: in the write's transaction,
/// so the new generation, the targets it stands for and their log entries commit together.
/// Returns the new generation, under which the write logs what it changed
/// (`logged_generation` says it does; see migration 0007). The row stays locked until the
/// write commits, so generations commit in order.
async fn bump_generation(tx: &mut PgConnection) -> Result<i64, StoreError> {
    let generation = sqlx::query_scalar!(
        "UPDATE watch_generation
         SET generation = generation + 1, logged_generation = logged_generation + 1
         WHERE id = 1 RETURNING generation"
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(generation)
}

/// Logs the targets a write may have changed for the re-check planner, under `generation`.
async fn log_changes(
    tx: &mut PgConnection,
    generation: i64,
    watchlist: &str,
    changes: &WatchChanges<'_>,
) -> Result<(), StoreError> {
    if changes.all_held {
        sqlx::query!(
            "INSERT INTO watch_changes (generation, target)
             SELECT $1, target FROM watch_targets WHERE watchlist = $2
             ON CONFLICT DO NOTHING",
            generation,
            watchlist
        )
        .execute(&mut *tx)
        .await?;
    }
    for chunk in changes.targets.chunks(CHUNK) {
        sqlx::query!(
            "INSERT INTO watch_changes (generation, target)
             SELECT $1, t FROM UNNEST($2::text[]) AS t
             ON CONFLICT DO NOTHING",
            generation,
            chunk as &[&str]
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The watchlist `name`, or every watchlist by name (bytewise, as SQLite sorts), with
/// `listed_count` over the `enabled` lists' results.
async fn read_watchlists(
    conn: &mut PgConnection,
    name: Option<&str>,
    enabled: &[&str],
) -> Result<Vec<WatchlistRecord>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT w.name, w.interval_seconds, w.target_count, w.created_at, w.updated_at,
                  (SELECT count(*) FROM watch_targets AS t
                   WHERE t.watchlist = w.name AND EXISTS (
                       SELECT 1 FROM list_results AS r
                       WHERE r.target = t.target AND r.state = 'listed'
                         AND r.blocklist = ANY ($2)))
                  AS "listed_count!"
           FROM watchlists AS w WHERE $1::text IS NULL OR w.name = $1
           ORDER BY w.name COLLATE "C""#,
        name,
        enabled as &[&str]
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in sqlx::query!(
        "SELECT watchlist, entry FROM watchlist_entries
         WHERE $1::text IS NULL OR watchlist = $1",
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
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

#[async_trait]
impl Watchlists for PgStore {
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
        let change = Edit::Put(entries, interval);
        retrying(|| edit(&self.pool, name, change, Some(max_targets), enabled, now)).await
    }

    async fn add_watch_entries(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        max_targets: u64,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError> {
        let change = Edit::Add(entries);
        retrying(|| edit(&self.pool, name, change, Some(max_targets), enabled, now)).await
    }

    async fn remove_watch_entries(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError> {
        let change = Edit::Remove(entries);
        retrying(|| edit(&self.pool, name, change, None, enabled, now)).await
    }

    async fn delete_watchlist(&self, name: &WatchlistName) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!("LOCK TABLE watchlists IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        // Its targets are logged before the delete takes them with it.
        let generation = bump_generation(&mut tx).await?;
        log_changes(&mut tx, generation, name.as_str(), &WatchChanges::deleted()).await?;
        let done = sqlx::query!("DELETE FROM watchlists WHERE name = $1", name.as_str())
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"SELECT r.target, r.blocklist, r.state FROM list_results AS r
               WHERE r.target IN (SELECT target FROM watch_targets)
                 AND r.state IN ('listed', 'not_listed')
                 AND r.blocklist = ANY ($1)
               ORDER BY r.target COLLATE "C", r.blocklist COLLATE "C"
               LIMIT $2"#,
            enabled as &[&str],
            limit
        )
        .fetch_all(&self.pool)
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"SELECT r.target, r.blocklist, r.return_codes, r.reason,
                      r.checked_at AS "checked_at!",
                      (SELECT string_agg(w.watchlist, ',') FROM watch_targets AS w
                       WHERE w.target = r.target) AS "watchlists!"
               FROM list_results AS r
               WHERE r.state = 'listed'
                 AND r.target IN (SELECT target FROM watch_targets)
                 AND r.blocklist = ANY ($1)
               ORDER BY r.target COLLATE "C", r.blocklist COLLATE "C"
               LIMIT $2"#,
            enabled as &[&str],
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(WatchedListing {
                    return_codes: secworks_store_api::batch::read_return_codes(&row.return_codes)?,
                    checked_at: row.checked_at,
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
impl ListingEvents for PgStore {
    async fn latest_listing_events(
        &self,
        limit: u32,
    ) -> Result<Vec<ListingEventRecord>, StoreError> {
        let rows = sqlx::query!(
            "SELECT id, checked_at, target, blocklist, change, return_codes,
                    previous_return_codes, reason
             FROM listing_events ORDER BY id DESC LIMIT $1",
            i64::from(limit)
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                EventColumns {
                    id: row.id,
                    at: row.checked_at,
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
        // One snapshot for both reads, so no answer is in the count but not among the
        // events, or the other way round.
        let mut tx = self.pool.begin().await?;
        sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let now = sqlx::query!(
            r#"SELECT blocklist, count(*) AS "listed!" FROM list_results
               WHERE state = 'listed' AND blocklist = ANY ($1)
               GROUP BY blocklist ORDER BY blocklist COLLATE "C""#,
            enabled as &[&str]
        )
        .fetch_all(&mut *tx)
        .await?;
        let hours = sqlx::query!(
            r#"SELECT date_trunc('hour', checked_at, 'UTC') AS "hour!",
                      blocklist,
                      count(*) FILTER (WHERE change = 'listed') AS "listed!",
                      count(*) FILTER (WHERE change = 'delisted') AS "delisted!"
               FROM listing_events
               WHERE checked_at >= $2 AND change IN ('listed', 'delisted')
                 AND blocklist = ANY ($1)
               GROUP BY 1, blocklist ORDER BY 1, blocklist COLLATE "C""#,
            enabled as &[&str],
            secworks_store_api::utc_hour(since)
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
                .map(|row| HourlyChanges {
                    hour: row.hour,
                    blocklist: row.blocklist,
                    listed: u64::try_from(row.listed).unwrap_or_default(),
                    delisted: u64::try_from(row.delisted).unwrap_or_default(),
                })
                .collect(),
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
        let name = watchlist.map(WatchlistName::as_str);
        if let Some(name) = name {
            let found = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM watchlists WHERE name = $1) AS "found!""#,
                name
            )
            .fetch_one(&self.pool)
            .await?;
            if !found {
                return Ok(None);
            }
        }
        let rows = sqlx::query!(
            "SELECT e.id, e.checked_at, e.target, e.blocklist, e.change, e.return_codes,
                    e.previous_return_codes, e.reason
             FROM listing_events AS e
             WHERE e.id > $1
               AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM watch_targets AS w
                                                WHERE w.watchlist = $3 AND w.target = e.target))
             ORDER BY e.id LIMIT $2",
            after,
            i64::from(limit),
            name
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                EventColumns {
                    id: row.id,
                    at: row.checked_at,
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

/// Appends a batch's listing events: the last statement of its transaction, one for the
/// batch. Their ids come from bumping the one `listing_event_ids` row, which stays locked
/// until this transaction ends: the next transaction to write events waits here until this
/// one has committed, so ids are in commit order and a reader that resumes after the last id
/// it saw misses nothing (a sequence would not do: its ids are handed out at insert, and
/// transactions commit in their own order; see migration 0004).
pub(crate) async fn append_events(
    tx: &mut PgConnection,
    events: &[EventRow<'_>],
) -> Result<(), StoreError> {
    let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let mut ats = Vec::with_capacity(events.len());
    let mut targets = Vec::with_capacity(events.len());
    let mut lists = Vec::with_capacity(events.len());
    let mut changes = Vec::with_capacity(events.len());
    let mut codes = Vec::with_capacity(events.len());
    let mut previous = Vec::with_capacity(events.len());
    let mut reasons = Vec::with_capacity(events.len());
    for event in events {
        ats.push(event.at);
        targets.push(event.target.as_str());
        lists.push(event.blocklist);
        changes.push(event.change.as_str());
        codes.push(event.return_codes.as_str());
        previous.push(event.previous_return_codes.as_str());
        reasons.push(event.reason);
    }
    sqlx::query!(
        "WITH ids AS (
             UPDATE listing_event_ids SET last = last + $1 WHERE id = 1 RETURNING last
         )
         INSERT INTO listing_events (id, checked_at, target, blocklist, change, return_codes,
             previous_return_codes, reason)
         SELECT ids.last - $1 + e.n, e.at, e.t, e.b, e.c, e.codes, e.previous, e.reason
         FROM ids, UNNEST($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                          $7::text[], $8::text[])
                   WITH ORDINALITY AS e (at, t, b, c, codes, previous, reason, n)",
        count,
        &ats,
        &targets as &[&str],
        &lists as &[&str],
        &changes as &[&str],
        &codes as &[&str],
        &previous as &[&str],
        &reasons as &[Option<&str>]
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
