//! The re-check schedule and the planning claims on PostgreSQL, shared by every replica.
//! Due times are instants (`watch_schedule.due_at`). The planning claim keeps one replica on
//! a list; row locks keep the schedule right should two still meet: a list's sync holds its
//! `recheck_lists` row, and `take_due` takes due rows with `FOR UPDATE SKIP LOCKED`, so two
//! replicas never take one row.

use async_trait::async_trait;
use secworks_store_api::rechecks::{
    DueRow, IntervalDemand, PLANNED_WITHIN, SyncMode, TargetKind, kinds_text,
};
use secworks_store_api::watchlists::read_count;
use secworks_store_api::{Rechecks, ScheduleSummary, StoreError, TakenDue};
use sqlx::{PgConnection, PgPool};
use time::{Duration, OffsetDateTime};

use crate::PgStore;
use crate::queue;
use crate::retry::retrying;

/// Due rows read and settled per statement.
const CHUNK: u64 = 10_000;

#[async_trait]
impl Rechecks for PgStore {
    async fn claim_planning(
        &self,
        blocklist: &str,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // One statement: the conflicting row is locked and the WHERE read from its latest
        // version, so of two replicas claiming at once one wins. A row not yet synced has
        // generation -1, so the first sync always runs.
        let claimed = sqlx::query_scalar!(
            "INSERT INTO recheck_lists (blocklist, kinds, synced_generation, holder, lease_until)
             VALUES ($1, '', -1, $2, $4)
             ON CONFLICT (blocklist) DO UPDATE
             SET holder = excluded.holder, lease_until = excluded.lease_until
             WHERE recheck_lists.holder IS NULL OR recheck_lists.holder = excluded.holder
                OR recheck_lists.lease_until <= $3
             RETURNING holder",
            blocklist,
            holder,
            now,
            lease_until
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(claimed.is_some())
    }

    async fn release_planning(&self, holder: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE recheck_lists SET holder = NULL, lease_until = NULL WHERE holder = $1",
            holder
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sync_schedule(
        &self,
        blocklist: &str,
        kinds: &[TargetKind],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        retrying(|| sync(&self.pool, blocklist, kinds, now)).await
    }

    async fn schedule_summary(
        &self,
        blocklist: &str,
        now: OffsetDateTime,
        day_end: OffsetDateTime,
    ) -> Result<ScheduleSummary, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query!(
            r#"SELECT interval_seconds, count(*) AS "targets!",
                      count(*) FILTER (WHERE due_at <= $2) AS "due!",
                      count(*) FILTER (WHERE due_at < $3) AS "due_today!"
               FROM watch_schedule WHERE blocklist = $1
               GROUP BY interval_seconds ORDER BY interval_seconds"#,
            blocklist,
            now,
            day_end
        )
        .fetch_all(&mut *conn)
        .await?;
        // Two counts, each on its partial index: `state IN (…)` would read every job kept.
        let queued = sqlx::query_scalar!(
            r#"SELECT (SELECT count(*) FROM lookup_jobs
                       WHERE blocklist = $1 AND state = 'pending')
                    + (SELECT count(*) FROM lookup_jobs
                       WHERE state = 'running' AND blocklist = $1) AS "queued!""#,
            blocklist
        )
        .fetch_one(&mut *conn)
        .await?;
        let oldest_due = sqlx::query_scalar!(
            "SELECT min(due_at) FROM watch_schedule WHERE blocklist = $1",
            blocklist
        )
        .fetch_one(&mut *conn)
        .await?;
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
        // Its job inserts can lose a race as an enqueue's can (see crate::queue); an aborted
        // take changed nothing.
        retrying(|| take(&self.pool, blocklist, limit, now, priority_since)).await
    }
}

/// [`Rechecks::sync_schedule`], one attempt.
///
/// Read committed: each statement sees what committed before it started. No change a
/// watchlist write logs is lost, whenever it commits:
/// - The generation is read before the log and the targets. A write bumps the generation row
///   and holds it locked until it commits, so every write up to the generation read has
///   committed by then: its targets and log entries are seen by every later statement here.
/// - A write that commits after that read has a later generation. Its entries are left to the
///   next sync (only those up to the generation read are applied, and that generation is
///   what the list stores); should a statement here see its targets already, the row it
///   writes is right for them, and the next sync writes it again.
/// - Another list's sync may purge the log meanwhile (it holds that list's row, not this
///   one's). It deletes only entries every list it counts has synced past, and raises
///   `purged_through` in the same transaction. It counts this list at the generation this
///   list's row holds, unless the list was not planned lately; so when the log is read again
///   after the changes were applied, a purge that could have taken entries this sync needed
///   shows in `purged_through`, and the sync is done in full instead.
async fn sync(
    pool: &PgPool,
    blocklist: &str,
    kinds: &[TargetKind],
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let kinds_stored = kinds_text(kinds);
    let kind_texts: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    let mut tx = pool.begin().await?;
    // The list's row, locked until commit: a second replica syncing the list waits here, then
    // reads the generation this one stored and has nothing to do.
    sqlx::query!(
        "INSERT INTO recheck_lists (blocklist, kinds, synced_generation) VALUES ($1, '', -1)
         ON CONFLICT (blocklist) DO NOTHING",
        blocklist
    )
    .execute(&mut *tx)
    .await?;
    let synced = sqlx::query!(
        "SELECT kinds, synced_generation FROM recheck_lists WHERE blocklist = $1 FOR UPDATE",
        blocklist
    )
    .fetch_one(&mut *tx)
    .await?;
    let log = sqlx::query!("SELECT generation, purged_through FROM watch_generation WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    let stored = Some((synced.synced_generation, synced.kinds.as_str()));
    let full = match SyncMode::of(stored, &kinds_stored, log.generation, log.purged_through) {
        SyncMode::Nothing => {
            tx.commit().await?;
            return Ok(false);
        }
        SyncMode::Full => true,
        SyncMode::Changes { after } => {
            apply_changes(&mut tx, blocklist, &kind_texts, now, after, log.generation).await?;
            // Read again: a purge that committed meanwhile may have taken entries it needed.
            let purged_through =
                sqlx::query_scalar!("SELECT purged_through FROM watch_generation WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
            purged_through > after
        }
    };
    if full {
        full_resync(&mut tx, blocklist, &kind_texts, now).await?;
    }
    sqlx::query!(
        "UPDATE recheck_lists SET kinds = $2, synced_generation = $3 WHERE blocklist = $1",
        blocklist,
        kinds_stored,
        log.generation
    )
    .execute(&mut *tx)
    .await?;
    purge_log(&mut tx, blocklist, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Every watched target of `kinds` into `blocklist`'s schedule, and the rows of targets no
/// longer watched out of it. New targets are due at `now`; a target whose shortest interval
/// changed is due when the new interval says, if that is sooner than it was. Rows that stay
/// as they are are filtered out before the insert: `ON CONFLICT DO UPDATE … WHERE` would
/// still lock each one and write it to the WAL.
async fn full_resync(
    tx: &mut PgConnection,
    blocklist: &str,
    kinds: &[&str],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    // A list with no schedule yet (its first sync) has no row to delete below: the check of
    // every row just written against the watched targets is skipped.
    let had_rows = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM watch_schedule WHERE blocklist = $1) AS "had!""#,
        blocklist
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO watch_schedule (blocklist, target, interval_seconds, due_at)
         SELECT $1, n.target, n.interval_seconds, $3
         FROM (SELECT t.target, min(w.interval_seconds) AS interval_seconds
               FROM watch_targets AS t JOIN watchlists AS w ON w.name = t.watchlist
               WHERE t.kind = ANY ($2)
               GROUP BY t.target) AS n
         WHERE NOT EXISTS (
             SELECT 1 FROM watch_schedule AS s
             WHERE s.blocklist = $1 AND s.target = n.target
               AND s.interval_seconds = n.interval_seconds)
         ON CONFLICT (blocklist, target) DO UPDATE
         SET interval_seconds = excluded.interval_seconds,
             due_at = LEAST(watch_schedule.due_at,
                            $3 + make_interval(secs => excluded.interval_seconds))",
        blocklist,
        kinds as &[&str],
        now
    )
    .execute(&mut *tx)
    .await?;
    if had_rows {
        sqlx::query!(
            "DELETE FROM watch_schedule AS s
             WHERE s.blocklist = $1 AND NOT EXISTS (
                 SELECT 1 FROM watch_targets AS t
                 WHERE t.target = s.target AND t.kind = ANY ($2))",
            blocklist,
            kinds as &[&str]
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// As [`full_resync`], for the targets logged after generation `after` up to `through` only:
/// each one's row recomputed from the watchlists holding it now. The log's key leads with the
/// generation, and the logged targets, gathered into one array first, are looked up by key in
/// `watch_targets` and `watch_schedule` (`= ANY` of an array is an index condition whatever
/// the statistics say of the log, where `IN (SELECT …)` could be planned as a join over the
/// list's whole schedule), so the work follows the log, not the watched targets.
async fn apply_changes(
    tx: &mut PgConnection,
    blocklist: &str,
    kinds: &[&str],
    now: OffsetDateTime,
    after: i64,
    through: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO watch_schedule (blocklist, target, interval_seconds, due_at)
         SELECT $1, n.target, n.interval_seconds, $3
         FROM (SELECT t.target, min(w.interval_seconds) AS interval_seconds
               FROM watch_targets AS t JOIN watchlists AS w ON w.name = t.watchlist
               WHERE t.target = ANY (ARRAY(SELECT c.target FROM watch_changes AS c
                                           WHERE c.generation > $4 AND c.generation <= $5))
                 AND t.kind = ANY ($2)
               GROUP BY t.target) AS n
         WHERE NOT EXISTS (
             SELECT 1 FROM watch_schedule AS s
             WHERE s.blocklist = $1 AND s.target = n.target
               AND s.interval_seconds = n.interval_seconds)
         ON CONFLICT (blocklist, target) DO UPDATE
         SET interval_seconds = excluded.interval_seconds,
             due_at = LEAST(watch_schedule.due_at,
                            $3 + make_interval(secs => excluded.interval_seconds))",
        blocklist,
        kinds as &[&str],
        now,
        after,
        through
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM watch_schedule AS s
         WHERE s.blocklist = $1
           AND s.target = ANY (ARRAY(SELECT c.target FROM watch_changes AS c
                                     WHERE c.generation > $3 AND c.generation <= $4))
           AND NOT EXISTS (
               SELECT 1 FROM watch_targets AS t
               WHERE t.target = s.target AND t.kind = ANY ($2))",
        blocklist,
        kinds as &[&str],
        after,
        through
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes the log entries that `blocklist` (just synced) and every other list planned within
/// [`PLANNED_WITHIN`] of `now` have synced past, and raises `purged_through` to match in the
/// same transaction, so that a list planned again only later is synced in full rather than
/// miss what was purged. A list claimed but never synced is left out: its first sync is full
/// anyway. The generation row is taken with SKIP LOCKED: while a watchlist write (or another
/// purge) holds it, this purge is left to a later sync rather than wait.
async fn purge_log(
    tx: &mut PgConnection,
    blocklist: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let Some(purged_through) = sqlx::query_scalar!(
        "SELECT purged_through FROM watch_generation WHERE id = 1 FOR UPDATE SKIP LOCKED"
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(());
    };
    let passed = sqlx::query_scalar!(
        r#"SELECT min(synced_generation) AS "passed!" FROM recheck_lists
           WHERE synced_generation >= 0 AND (blocklist = $1 OR lease_until > $2)"#,
        blocklist,
        now - PLANNED_WITHIN
    )
    .fetch_one(&mut *tx)
    .await?;
    if passed <= purged_through {
        return Ok(());
    }
    sqlx::query!("DELETE FROM watch_changes WHERE generation <= $1", passed)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE watch_generation SET purged_through = $1 WHERE id = 1",
        passed
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// [`Rechecks::take_due`], one attempt: the priority rows, then the rest, a chunk at a time.
async fn take(
    pool: &PgPool,
    blocklist: &str,
    limit: u64,
    now: OffsetDateTime,
    priority_since: OffsetDateTime,
) -> Result<TakenDue, StoreError> {
    let mut taken = TakenDue::default();
    let mut tx = pool.begin().await?;
    for priority in [true, false] {
        while taken.taken() < limit {
            let want = (limit - taken.taken()).min(CHUNK);
            let rows = due_rows(&mut tx, blocklist, want, now, priority, priority_since).await?;
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

/// A due row as stored, with the list's current answer for its target.
struct DueRecord {
    target: String,
    interval_seconds: i64,
    checked_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
}

/// Up to `limit` of `blocklist`'s rows due at `now`, longest due first, with the list's current
/// answer, locked until the transaction ends; with `priority`, only targets it lists now or
/// with a listing event since `since`. A row another replica's take holds is skipped: that
/// take moves it on. A row it moved and committed no longer reads as due once locked.
async fn due_rows(
    conn: &mut PgConnection,
    blocklist: &str,
    limit: u64,
    now: OffsetDateTime,
    priority: bool,
    since: OffsetDateTime,
) -> Result<Vec<DueRow>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<DueRecord> = if priority {
        // From the (few) priority targets into the schedule by its key, rather than a walk
        // over every due row looking for them.
        sqlx::query_as!(
            DueRecord,
            "SELECT s.target, s.interval_seconds, r.checked_at, r.expires_at
             FROM (SELECT target FROM list_results WHERE blocklist = $1 AND state = 'listed'
                   UNION
                   SELECT target FROM listing_events WHERE blocklist = $1 AND checked_at >= $3)
                  AS p
             JOIN watch_schedule AS s ON s.blocklist = $1 AND s.target = p.target
             LEFT JOIN list_results AS r ON r.target = s.target AND r.blocklist = s.blocklist
             WHERE s.due_at <= $2
             ORDER BY s.due_at
             LIMIT $4
             FOR UPDATE OF s SKIP LOCKED",
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
             WHERE s.blocklist = $1 AND s.due_at <= $2
             ORDER BY s.due_at
             LIMIT $3
             FOR UPDATE OF s SKIP LOCKED",
            blocklist,
            now,
            limit
        )
        .fetch_all(&mut *conn)
        .await?
    };
    Ok(rows
        .into_iter()
        .map(|row| DueRow {
            target: row.target,
            interval: Duration::seconds(row.interval_seconds),
            checked_at: row.checked_at,
            expires_at: row.expires_at,
        })
        .collect())
}

/// Queues a job for each row that needs one and moves every row's due time on: each is after
/// `now` (see [`DueRow::next_due`]), so a row taken is not due again at the same instant.
async fn settle(
    tx: &mut PgConnection,
    blocklist: &str,
    rows: &[DueRow],
    now: OffsetDateTime,
    taken: &mut TakenDue,
) -> Result<(), StoreError> {
    let mut jobs = Vec::new();
    let mut targets = Vec::with_capacity(rows.len());
    let mut dues = Vec::with_capacity(rows.len());
    for row in rows {
        let next = row.next_due(now);
        if next.queue {
            jobs.push(row.target.clone());
            taken.queued += 1;
        } else {
            taken.fresh += 1;
        }
        targets.push(row.target.as_str());
        dues.push(next.due_at);
    }
    if !jobs.is_empty() {
        let lists = vec![blocklist; jobs.len()];
        queue::enqueue(&mut *tx, &jobs, &lists, false, now).await?;
    }
    sqlx::query!(
        "UPDATE watch_schedule AS s SET due_at = m.due
         FROM UNNEST($2::text[], $3::timestamptz[]) AS m (target, due)
         WHERE s.blocklist = $1 AND s.target = m.target",
        blocklist,
        &targets as &[&str],
        &dues
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
