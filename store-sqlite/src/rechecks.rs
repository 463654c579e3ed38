//! The re-check schedule and the planning claims on SQLite. Due times are whole Unix seconds
//! (`watch_schedule.due_at`), rounded up when stored, so a target taken now is never due again
//! within the same second.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secworks_store_api::rechecks::{
    DueRow, IntervalDemand, PLANNED_WITHIN, SyncMode, TargetKind, kinds_text,
};
use secworks_store_api::watchlists::read_count;
use secworks_store_api::{Rechecks, ScheduleSummary, StoreError, TakenDue, timestamp};
use sqlx::SqliteConnection;
use time::{Duration, OffsetDateTime};

use crate::{SqliteStore, insert_jobs, instant, to_json};

/// Due rows read and settled per statement.
const CHUNK: u64 = 10_000;

/// `at` in whole seconds, rounded up.
fn seconds_up(at: OffsetDateTime) -> i64 {
    let whole = at.unix_timestamp();
    if at.nanosecond() > 0 {
        whole + 1
    } else {
        whole
    }
}

#[async_trait]
impl Rechecks for SqliteStore {
    async fn claim_planning(
        &self,
        blocklist: &str,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (now, lease_until) = (timestamp::format(now), timestamp::format(lease_until));
        // A row not yet synced has generation -1, so the first sync always runs.
        let claimed = sqlx::query_scalar!(
            "INSERT INTO recheck_lists (blocklist, kinds, synced_generation, holder, lease_until)
             VALUES (?1, '', -1, ?2, ?4)
             ON CONFLICT (blocklist) DO UPDATE
             SET holder = excluded.holder, lease_until = excluded.lease_until
             WHERE recheck_lists.holder IS NULL OR recheck_lists.holder = excluded.holder
                OR recheck_lists.lease_until <= ?3
             RETURNING holder",
            blocklist,
            holder,
            now,
            lease_until
        )
        .fetch_optional(&self.writer)
        .await?;
        Ok(claimed.is_some())
    }

    async fn release_planning(&self, holder: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE recheck_lists SET holder = NULL, lease_until = NULL WHERE holder = ?1",
            holder
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn sync_schedule(
        &self,
        blocklist: &str,
        kinds: &[TargetKind],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let kinds_stored = kinds_text(kinds);
        let kinds_json = to_json(&kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>())?;
        // The write lock for the whole sync: no watchlist write or purge comes in between.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let log =
            sqlx::query!("SELECT generation, purged_through FROM watch_generation WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let synced = sqlx::query!(
            "SELECT kinds, synced_generation FROM recheck_lists WHERE blocklist = ?1",
            blocklist
        )
        .fetch_optional(&mut *tx)
        .await?;
        let stored = synced
            .as_ref()
            .map(|row| (row.synced_generation, row.kinds.as_str()));
        let due = now.unix_timestamp();
        match SyncMode::of(stored, &kinds_stored, log.generation, log.purged_through) {
            SyncMode::Nothing => return Ok(false),
            SyncMode::Full => full_resync(&mut tx, blocklist, kinds, &kinds_json, due).await?,
            SyncMode::Changes { after } => {
                apply_changes(&mut tx, blocklist, &kinds_json, due, after, log.generation).await?;
            }
        }
        sqlx::query!(
            "INSERT INTO recheck_lists (blocklist, kinds, synced_generation)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (blocklist) DO UPDATE
             SET kinds = excluded.kinds, synced_generation = excluded.synced_generation",
            blocklist,
            kinds_stored,
            log.generation
        )
        .execute(&mut *tx)
        .await?;
        purge_log(&mut tx, blocklist, log.purged_through, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn schedule_summary(
        &self,
        blocklist: &str,
        now: OffsetDateTime,
        day_end: OffsetDateTime,
    ) -> Result<ScheduleSummary, StoreError> {
        let (now, day_end) = (now.unix_timestamp(), day_end.unix_timestamp());
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query!(
            r#"SELECT interval_seconds, count(*) AS "targets!: i64",
                      coalesce(sum(due_at <= ?2), 0) AS "due!: i64",
                      coalesce(sum(due_at < ?3), 0) AS "due_today!: i64"
               FROM watch_schedule WHERE blocklist = ?1
               GROUP BY interval_seconds ORDER BY interval_seconds"#,
            blocklist,
            now,
            day_end
        )
        .fetch_all(&mut *conn)
        .await?;
        let queued = sqlx::query_scalar!(
            r#"SELECT count(*) AS "queued!: i64" FROM lookup_jobs
               WHERE blocklist = ?1 AND state IN ('pending', 'running')"#,
            blocklist
        )
        .fetch_one(&mut *conn)
        .await?;
        let oldest_due = sqlx::query_scalar!(
            r#"SELECT min(due_at) AS "oldest: i64" FROM watch_schedule WHERE blocklist = ?1"#,
            blocklist
        )
        .fetch_one(&mut *conn)
        .await?
        .map(|seconds| {
            OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| StoreError::Unreadable(format!("a due time of {seconds} s")))
        })
        .transpose()?;
        let by_interval = rows
            .into_iter()
            .map(|row| {
                Ok(IntervalDemand {
                    interval: Duration::seconds(row.interval_seconds),
                    targets: read_count(row.targets)?,
                    due: read_count(row.due)?,
                    due_today: read_count(row.due_today)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(ScheduleSummary {
            by_interval,
            queued: read_count(queued)?,
            oldest_due,
        })
    }

    async fn take_due(
        &self,
        blocklist: &str,
        limit: u64,
        now: OffsetDateTime,
        priority_since: OffsetDateTime,
    ) -> Result<TakenDue, StoreError> {
        let mut taken = TakenDue::default();
        // On the durable writer: the jobs queued here are accepted work.
        let mut tx = self.durable.begin_with("BEGIN IMMEDIATE").await?;
        for priority in [true, false] {
            while taken.taken() < limit {
                let want = (limit - taken.taken()).min(CHUNK);
                let rows =
                    due_rows(&mut tx, blocklist, want, now, priority, priority_since).await?;
                let got = rows.len() as u64;
                settle(&mut tx, blocklist, &rows, now, &mut taken).await?;
                if got < want {
                    break;
                }
            }
        }
        tx.commit().await?;
        Ok(taken)
    }
}

/// Every watched target of the kinds in `kinds_json` into `blocklist`'s schedule, and the rows
/// of targets no longer watched out of it. New targets are due at `due` (Unix seconds); a
/// target whose shortest interval changed is due when the new interval says, if that is
/// sooner than it was. A row that stays as it is is not written: SQLite writes nothing for a
/// conflict the upsert's WHERE declines (filtering such rows out before the insert, as on
/// PostgreSQL, measured slower here).
async fn full_resync(
    conn: &mut SqliteConnection,
    blocklist: &str,
    kinds: &[TargetKind],
    kinds_json: &str,
    due: i64,
) -> Result<(), StoreError> {
    // A list with no schedule yet (its first sync) has no row to delete below: the check of
    // every row just written against the watched targets is skipped.
    let had_rows = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM watch_schedule WHERE blocklist = ?1) AS "had!: bool""#,
        blocklist
    )
    .fetch_one(&mut *conn)
    .await?;
    // One kind at a time: a target has one kind, and with the kind fixed the index on (kind,
    // target) hands the targets over in order, so they are grouped as read instead of sorted
    // (a temporary b-tree of every watched target).
    for kind in kinds {
        let kind = kind.as_str();
        sqlx::query!(
            "INSERT INTO watch_schedule (blocklist, target, interval_seconds, due_at)
             SELECT ?1, t.target, min(w.interval_seconds), ?3
             FROM watch_targets AS t JOIN watchlists AS w ON w.name = t.watchlist
             WHERE t.kind = ?2
             GROUP BY t.target
             ON CONFLICT (blocklist, target) DO UPDATE
             SET interval_seconds = excluded.interval_seconds,
                 due_at = min(watch_schedule.due_at, ?3 + excluded.interval_seconds)
             WHERE watch_schedule.interval_seconds <> excluded.interval_seconds",
            blocklist,
            kind,
            due
        )
        .execute(&mut *conn)
        .await?;
    }
    if had_rows {
        sqlx::query!(
            "DELETE FROM watch_schedule
             WHERE blocklist = ?1 AND NOT EXISTS (
                 SELECT 1 FROM watch_targets AS t
                 WHERE t.target = watch_schedule.target
                   AND t.kind IN (SELECT value FROM json_each(?2)))",
            blocklist,
            kinds_json
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// As [`full_resync`], for the targets logged after generation `after` up to `through` only:
/// each one's row recomputed from the watchlists holding it now. The log's key leads with the
/// generation, and each logged target is looked up by its key in `watch_targets` and
/// `watch_schedule`, so the work follows the log, not the watched targets.
async fn apply_changes(
    conn: &mut SqliteConnection,
    blocklist: &str,
    kinds_json: &str,
    due: i64,
    after: i64,
    through: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO watch_schedule (blocklist, target, interval_seconds, due_at)
         SELECT ?1, t.target, min(w.interval_seconds), ?3
         FROM watch_targets AS t JOIN watchlists AS w ON w.name = t.watchlist
         WHERE t.target IN (SELECT target FROM watch_changes
                            WHERE generation > ?4 AND generation <= ?5)
           AND t.kind IN (SELECT value FROM json_each(?2))
         GROUP BY t.target
         ON CONFLICT (blocklist, target) DO UPDATE
         SET interval_seconds = excluded.interval_seconds,
             due_at = min(watch_schedule.due_at, ?3 + excluded.interval_seconds)
         WHERE watch_schedule.interval_seconds <> excluded.interval_seconds",
        blocklist,
        kinds_json,
        due,
        after,
        through
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM watch_schedule
         WHERE blocklist = ?1
           AND target IN (SELECT target FROM watch_changes
                          WHERE generation > ?3 AND generation <= ?4)
           AND NOT EXISTS (
               SELECT 1 FROM watch_targets AS t
               WHERE t.target = watch_schedule.target
                 AND t.kind IN (SELECT value FROM json_each(?2)))",
        blocklist,
        kinds_json,
        after,
        through
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the log entries that `blocklist` (just synced) and every other list planned within
/// [`PLANNED_WITHIN`] of `now` have synced past, and remembers how far the log is purged, so
/// that a list planned again only later is synced in full rather than miss what was purged.
/// A list claimed but never synced is left out: its first sync is full anyway.
async fn purge_log(
    conn: &mut SqliteConnection,
    blocklist: &str,
    purged_through: i64,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let planned_since = timestamp::format(now - PLANNED_WITHIN);
    let passed = sqlx::query_scalar!(
        r#"SELECT min(synced_generation) AS "passed!: i64" FROM recheck_lists
           WHERE synced_generation >= 0 AND (blocklist = ?1 OR lease_until > ?2)"#,
        blocklist,
        planned_since
    )
    .fetch_one(&mut *conn)
    .await?;
    if passed <= purged_through {
        return Ok(());
    }
    sqlx::query!("DELETE FROM watch_changes WHERE generation <= ?1", passed)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "UPDATE watch_generation SET purged_through = ?1 WHERE id = 1",
        passed
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A due row as stored, with the list's current answer for its target.
struct DueRecord {
    target: String,
    interval_seconds: i64,
    checked_at: Option<String>,
    expires_at: Option<String>,
}

/// Up to `limit` of `blocklist`'s rows due at `now`, longest due first, with the list's current
/// answer; with `priority`, only targets it lists now or with a listing event since `since`.
async fn due_rows(
    conn: &mut SqliteConnection,
    blocklist: &str,
    limit: u64,
    now: OffsetDateTime,
    priority: bool,
    since: OffsetDateTime,
) -> Result<Vec<DueRow>, StoreError> {
    let (now, since, limit) = (
        now.unix_timestamp(),
        timestamp::format(since),
        i64::try_from(limit).unwrap_or(i64::MAX),
    );
    let rows: Vec<DueRecord> = if priority {
        // From the (few) priority targets into the schedule: CROSS JOIN keeps that order,
        // rather than a walk over every due row looking for them.
        sqlx::query_as!(
            DueRecord,
            "SELECT s.target, s.interval_seconds, r.checked_at, r.expires_at
             FROM (SELECT target FROM list_results WHERE blocklist = ?1 AND state = 'listed'
                   UNION
                   SELECT target FROM listing_events WHERE blocklist = ?1 AND checked_at >= ?3)
                  AS p
             CROSS JOIN watch_schedule AS s ON s.blocklist = ?1 AND s.target = p.target
             LEFT JOIN list_results AS r ON r.target = s.target AND r.blocklist = s.blocklist
             WHERE s.due_at <= ?2
             ORDER BY s.due_at
             LIMIT ?4",
            blocklist,
            now,
            since,
            limit
        )
        .fetch_all(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            DueRecord,
            "SELECT s.target, s.interval_seconds, r.checked_at, r.expires_at
             FROM watch_schedule AS s
             LEFT JOIN list_results AS r ON r.target = s.target AND r.blocklist = s.blocklist
             WHERE s.blocklist = ?1 AND s.due_at <= ?2
             ORDER BY s.due_at
             LIMIT ?3",
            blocklist,
            now,
            limit
        )
        .fetch_all(&mut *conn)
        .await?
    };
    rows.into_iter()
        .map(|row| {
            Ok(DueRow {
                target: row.target,
                interval: Duration::seconds(row.interval_seconds),
                checked_at: row.checked_at.as_deref().map(instant).transpose()?,
                expires_at: row.expires_at.as_deref().map(instant).transpose()?,
            })
        })
        .collect()
}

/// Queues a job for each row that needs one and moves every row's due time on.
async fn settle(
    conn: &mut SqliteConnection,
    blocklist: &str,
    rows: &[DueRow],
    now: OffsetDateTime,
    taken: &mut TakenDue,
) -> Result<(), StoreError> {
    let mut jobs = Vec::new();
    // Targets by their next due time: queued ones share one per interval.
    let mut moves: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for row in rows {
        let next = row.next_due(now);
        if next.queue {
            jobs.push((row.target.clone(), blocklist));
            taken.queued += 1;
        } else {
            taken.fresh += 1;
        }
        moves
            .entry(seconds_up(next.due_at))
            .or_default()
            .push(row.target.as_str());
    }
    if !jobs.is_empty() {
        insert_jobs(conn, &jobs, false, now).await?;
    }
    // `target IN (json_each …)` probes the primary key per target; an `UPDATE … FROM
    // json_each` join would scan the list's whole schedule instead.
    for (due_at, targets) in moves {
        let targets = to_json(&targets)?;
        sqlx::query!(
            "UPDATE watch_schedule SET due_at = ?3
             WHERE blocklist = ?1 AND target IN (SELECT value FROM json_each(?2))",
            blocklist,
            targets,
            due_at
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
