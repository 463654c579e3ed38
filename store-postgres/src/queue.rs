//! The durable job queue, shared by every replica: enqueue, claim, record, reclaim.
//!
//! Lock order, the same in every transaction that waits for locks, so that they cannot wait
//! for each other in a circle: job rows by id, then `list_results` rows by (target, list),
//! then `lookups` rows by address, `domain_lookups` rows by domain, the
//! `blocklist_queries` rows by (list, day), which every replica's writer updates, one
//! `job_tallies` row (one statement, so one row per transaction), and last the
//! `listing_event_ids` row, taken only by batches that make listing events. Claims never
//! wait (SKIP LOCKED). What remains (an enqueue and a result writer both making one pair's job
//! pending; a batch's answers and errors, two statements on `list_results`, against another
//! batch's) PostgreSQL resolves by aborting one, and [`crate::retry`] runs it again.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use secworks_store_api::batch::{self, AnswerRow, ErrorRow, HeldAnswers};
use secworks_store_api::events::{self, EventRow};
use secworks_store_api::{
    ClaimedJob, ClaimedRow, JobOutcome, JobResult, NOT_LOOKED_UP, ORIGINAL_LIST, StoreError,
    Verdict, read_claimed,
};
use sqlx::{PgConnection, PgExecutor, PgPool};
use time::{Date, OffsetDateTime};

/// Queues a job for each (target, list), all or nothing: one statement. A pair with a pending
/// job joins it, also when another replica's enqueue of it commits first (the conflict waits
/// for that transaction, then does nothing). With `reuse_fresh`, a pair whose list has an
/// answer still fresh at `now` is left out. Pairs go in in sorted order so that two
/// overlapping enqueues wait for each other's index entries in one order, never in a circle.
/// On the pool, or inside a caller's transaction (the re-check planner's).
pub(crate) async fn enqueue<'e>(
    conn: impl PgExecutor<'e>,
    targets: &[String],
    lists: &[&str],
    reuse_fresh: bool,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO lookup_jobs (target, blocklist, run_after, created_at, updated_at)
         SELECT t, b, $3, $3, $3 FROM UNNEST($1::text[], $2::text[]) AS batch (t, b)
         WHERE NOT ($4 AND EXISTS (
             SELECT 1 FROM list_results AS r
             WHERE r.target = batch.t AND r.blocklist = batch.b
               AND r.state <> 'unknown' AND r.expires_at > $3))
         ORDER BY t, b
         ON CONFLICT (target, blocklist) WHERE state = 'pending' DO NOTHING",
        targets,
        lists as &[&str],
        now,
        reuse_fresh
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `limit` of `blocklist`'s due jobs, oldest first, under one new lease token.
/// `FOR UPDATE SKIP LOCKED` in the sub-select: a job another replica is claiming at this
/// moment is locked and skipped, and one it has claimed and committed no longer reads as
/// pending when its row is locked, so no job is claimed twice and no claim waits for another.
pub(crate) async fn claim(
    pool: &PgPool,
    blocklist: &str,
    limit: u32,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Vec<ClaimedJob>, StoreError> {
    let token = uuid::Uuid::new_v4().to_string();
    let rows = sqlx::query!(
        r#"WITH claimed AS (
             UPDATE lookup_jobs
             SET state = 'running', lease_expires_at = $3, lease_token = $4,
                 attempts = attempts + 1, updated_at = $2
             WHERE id = ANY (ARRAY (
                 SELECT id FROM lookup_jobs
                 WHERE blocklist = $5 AND state = 'pending' AND run_after <= $2
                 ORDER BY run_after, id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             ))
             RETURNING id, target, blocklist, attempts, lease_token, run_after
           )
           SELECT id AS "id!", target AS "target!", blocklist AS "blocklist!",
                  attempts AS "attempts!", lease_token AS "lease_token!"
           FROM claimed ORDER BY run_after, id"#,
        i64::from(limit),
        now,
        lease_until,
        token,
        blocklist
    )
    .fetch_all(pool)
    .await?;
    let (jobs, unreadable) = read_claimed(rows.into_iter().map(|row| ClaimedRow {
        id: row.id,
        target: row.target,
        blocklist: row.blocklist,
        attempts: row.attempts,
        lease_token: row.lease_token,
    }));
    if !unreadable.is_empty() {
        // Rows secworks did not write. Failed now, in lock order, so they never come back;
        // should this not commit, their lease returns them and the next claim fails them.
        let mut tx = pool.begin().await?;
        let mut failed = 0;
        for job in &unreadable {
            let error = job.error();
            if !fail(&mut tx, job.id, &token, now, &error).await? {
                continue;
            }
            failed += 1;
            if blocklist == ORIGINAL_LIST {
                insert_error(&mut tx, &job.target, now, &error).await?;
            }
        }
        tally_jobs(&mut tx, 0, failed).await?;
        tx.commit().await?;
    }
    Ok(jobs)
}

/// A batch of outcomes, with what the queries need in the database's terms.
pub(crate) struct Outcomes<'a> {
    /// Every job the batch touches, in lock order.
    ids: Vec<i64>,
    outcomes: &'a [JobOutcome],
    /// The outcomes' targets as stored, in the order of `outcomes`.
    targets: Vec<String>,
}

impl<'a> Outcomes<'a> {
    pub(crate) fn new(outcomes: &'a [JobOutcome]) -> Self {
        let mut ids: Vec<i64> = outcomes.iter().map(|o| o.job_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let targets = outcomes.iter().map(|o| o.target.to_string()).collect();
        Self {
            ids,
            outcomes,
            targets,
        }
    }
}

/// Records a batch of outcomes in one transaction. An outcome counts only while its job is
/// running under the outcome's lease token: the job rows are locked first, so a concurrent
/// reclaim or another replica's writer either finished before (and the token no longer
/// matches) or waits until this commits. Every outcome's queries are counted, also those of
/// outcomes dropped: they were sent.
pub(crate) async fn record(
    pool: &PgPool,
    batch: &Outcomes<'_>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    // The claims the jobs hold now: an outcome of an earlier claim of a job claimed again
    // (its lease ran out) is dropped here, even when the live claim's outcome is in this
    // batch too, so that one job is never stored twice.
    let claims: HashMap<i64, String> = sqlx::query!(
        "SELECT id, lease_token FROM lookup_jobs WHERE id = ANY ($1) ORDER BY id FOR UPDATE",
        &batch.ids
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .filter_map(|row| Some((row.id, row.lease_token?)))
    .collect();
    let is_current = |o: &JobOutcome| claims.get(&o.job_id) == Some(&o.lease_token);
    let answers: Vec<&JobOutcome> = batch
        .outcomes
        .iter()
        .filter(|o| matches!(o.result, JobResult::Answer(_)) && is_current(o))
        .collect();
    let done = if answers.is_empty() {
        HashSet::new()
    } else {
        mark_done(&mut tx, &answers, now).await?
    };
    let held = HeldAnswers::new(answers.iter().copied(), &done);
    let (current, events) = if held.is_empty() {
        (HashSet::new(), Vec::new())
    } else {
        record_answers(&mut tx, &held).await?
    };
    let mut failed = HashSet::new();
    let mut failed_for_good = 0;
    for (outcome, target) in batch.outcomes.iter().zip(&batch.targets) {
        if !is_current(outcome) {
            continue;
        }
        let (job, token, at) = (outcome.job_id, outcome.lease_token.as_str(), outcome.at);
        let error = match &outcome.result {
            JobResult::Answer(_) => continue,
            JobResult::Retry {
                error, run_after, ..
            } => {
                // If the pair has a pending job already, this one stays running and is
                // dropped below, as the pending job supersedes it.
                let held = sqlx::query!(
                    "UPDATE lookup_jobs AS j
                     SET state = 'pending', run_after = $3, lease_expires_at = NULL,
                         lease_token = NULL, last_error = $4, updated_at = $5
                     WHERE id = $1 AND lease_token = $2 AND state = 'running'
                       AND NOT EXISTS (SELECT 1 FROM lookup_jobs AS p
                                       WHERE p.target = j.target
                                         AND p.blocklist = j.blocklist
                                         AND p.state = 'pending')",
                    job,
                    token,
                    *run_after,
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
                    "UPDATE lookup_jobs AS j
                     SET state = 'pending', lease_expires_at = NULL, lease_token = NULL,
                         attempts = GREATEST(attempts - 1, 0), updated_at = $3
                     WHERE id = $1 AND lease_token = $2 AND state = 'running'
                       AND NOT EXISTS (SELECT 1 FROM lookup_jobs AS p
                                       WHERE p.target = j.target
                                         AND p.blocklist = j.blocklist
                                         AND p.state = 'pending')",
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
            insert_error(&mut tx, target, at, error).await?;
        }
    }
    if !failed.is_empty() {
        let current = batch.outcomes.iter().filter(|o| is_current(o));
        record_errors(&mut tx, &batch::latest_errors(current, &failed)).await?;
    }
    if !held.is_empty() {
        record_targets(&mut tx, &held, &current).await?;
    }
    let counts = batch::query_counts(batch.outcomes);
    if !counts.is_empty() {
        count_queries(&mut tx, &counts).await?;
        count_hours(&mut tx, &batch::hourly_query_counts(batch.outcomes)).await?;
    }
    // Last but the events: the tallies' row locks are held only while the batch commits.
    tally_jobs(&mut tx, done.len(), failed_for_good).await?;
    if !events.is_empty() {
        crate::watch::append_events(&mut tx, &events).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Adds to the tallies of done and failed jobs (`queueStatus`), in the transaction that marks
/// or deletes them: to one of the rows at random, so that replicas rarely wait on one another.
/// (The subquery draws the row once; `random()` in the WHERE clause would draw per row.)
pub(crate) async fn tally_jobs(
    tx: &mut PgConnection,
    done: impl TryInto<i64>,
    failed: impl TryInto<i64>,
) -> Result<(), StoreError> {
    let (done, failed) = (
        done.try_into().unwrap_or(i64::MAX),
        failed.try_into().unwrap_or(i64::MAX),
    );
    if (done, failed) != (0, 0) {
        sqlx::query!(
            "UPDATE job_tallies SET done = done + $1, failed = failed + $2
             WHERE shard = (SELECT floor(random() * 8)::integer)",
            done,
            failed
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Marks the answered jobs that still hold their claim done; returns their ids.
async fn mark_done(
    tx: &mut PgConnection,
    answers: &[&JobOutcome],
    now: OffsetDateTime,
) -> Result<HashSet<i64>, StoreError> {
    let ids: Vec<i64> = answers.iter().map(|o| o.job_id).collect();
    let tokens: Vec<&str> = answers.iter().map(|o| o.lease_token.as_str()).collect();
    let held = sqlx::query_scalar!(
        "UPDATE lookup_jobs
         SET state = 'done', lease_expires_at = NULL, lease_token = NULL, last_error = NULL,
             updated_at = $3
         WHERE (id, lease_token) IN (SELECT * FROM UNNEST($1::bigint[], $2::text[]))
           AND state = 'running'
         RETURNING id",
        &ids,
        &tokens as &[&str],
        now
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    Ok(held)
}

/// Writes each list's result from the batch's answers, one row per (target, list), in that
/// order, and the original list's history. An answer replaces one at most as new and clears
/// last_error. Returns the addresses whose original-list answer is now the current one (the
/// rows the upsert wrote; a concurrent writer of the same row waits for this transaction and
/// then compares against what it committed), and the listing events the answers make, for
/// the caller to append last.
async fn record_answers<'a>(
    tx: &mut PgConnection,
    held: &HeldAnswers<'a>,
) -> Result<(HashSet<String>, Vec<EventRow<'a>>), StoreError> {
    let rows = held.results();
    let previous = previous_answers(tx, &rows).await?;
    let mut targets = Vec::with_capacity(rows.len());
    let mut lists = Vec::with_capacity(rows.len());
    let mut states = Vec::with_capacity(rows.len());
    let mut codes = Vec::with_capacity(rows.len());
    let mut reasons = Vec::with_capacity(rows.len());
    let mut expires = Vec::with_capacity(rows.len());
    let mut resolvers = Vec::with_capacity(rows.len());
    let mut names = Vec::with_capacity(rows.len());
    let mut rcodes = Vec::with_capacity(rows.len());
    let mut ttls = Vec::with_capacity(rows.len());
    let mut passed = Vec::with_capacity(rows.len());
    let mut answered = Vec::with_capacity(rows.len());
    for row in &rows {
        let (answer, evidence) = (row.answer, &row.answer.evidence);
        targets.push(row.target());
        lists.push(row.blocklist());
        states.push(row.state());
        codes.push(row.return_codes());
        reasons.push(answer.reason.clone());
        expires.push(answer.expires_at);
        resolvers.push(evidence.resolver.to_string());
        names.push(evidence.query_name.as_str());
        rcodes.push(evidence.rcode.as_str());
        ttls.push(evidence.ttl.map(i64::from));
        passed.push(evidence.test_points_passed);
        answered.push(evidence.answered_at);
    }
    let written = sqlx::query!(
        "INSERT INTO list_results (target, blocklist, state, return_codes, reason, checked_at,
             expires_at, last_error, resolver, query_name, rcode, ttl, test_points_passed,
             answered_at)
         SELECT t, b, s, c, r, an, ex, NULL, rs, q, rc, tt, tp, an
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::bigint[],
                     $11::boolean[], $12::timestamptz[])
              WITH ORDINALITY AS a (t, b, s, c, r, ex, rs, q, rc, tt, tp, an, n)
         ORDER BY n
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
         RETURNING target, blocklist",
        &targets,
        &lists as &[&str],
        &states as &[&str],
        &codes,
        &reasons as &[Option<String>],
        &expires,
        &resolvers,
        &names as &[&str],
        &rcodes as &[&str],
        &ttls as &[Option<i64>],
        &passed,
        &answered
    )
    .fetch_all(&mut *tx)
    .await?;
    let written: HashSet<(String, String)> = written
        .into_iter()
        .map(|row| (row.target, row.blocklist))
        .collect();
    let events = events::listing_events(&rows, &written, &previous);
    let current = written
        .into_iter()
        .filter(|(_, list)| list == ORIGINAL_LIST)
        .map(|(target, _)| target)
        .collect();

    let history = held.history();
    if !history.is_empty() {
        let (mut ips, mut ats, mut codes) = (Vec::new(), Vec::new(), Vec::new());
        for (ip, at, code) in history {
            ips.push(ip);
            ats.push(at);
            codes.push(code);
        }
        sqlx::query!(
            "INSERT INTO lookup_history (ip_address, looked_up_at, response_code)
             SELECT ip, at, code
             FROM UNNEST($1::text[], $2::timestamptz[], $3::text[])
                  WITH ORDINALITY AS h (ip, at, code, n)
             ORDER BY n",
            &ips,
            &ats,
            &codes
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok((current, events))
}

/// Each list's previous real answer about each target of a batch, for its listing events,
/// read so that no other writer can change it before this transaction commits. Existing
/// rows are locked (`FOR UPDATE`, which also reads the latest committed version of a row it
/// had to wait for). A row that does not exist yet cannot be locked, and another replica
/// could insert it meanwhile (two running jobs of one pair): so missing rows are first
/// inserted as `unknown` placeholders, which waits for such an insert to commit and then
/// leaves its row alone. Every placeholder is overwritten by the batch's answer in this same
/// transaction (an answer always replaces an `unknown` row), so none is ever seen. Rows go
/// in (target, list) order, the lock order, as the upsert after takes them. Two statements
/// per batch, however many answers.
async fn previous_answers(
    tx: &mut PgConnection,
    rows: &[AnswerRow<'_>],
) -> Result<HashMap<(String, String), (Verdict, Vec<Ipv4Addr>)>, StoreError> {
    let targets: Vec<String> = rows.iter().map(AnswerRow::target).collect();
    let lists: Vec<&str> = rows.iter().map(AnswerRow::blocklist).collect();
    sqlx::query!(
        "INSERT INTO list_results (target, blocklist, state, return_codes)
         SELECT t, b, 'unknown', ''
         FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k (t, b, n)
         ORDER BY n
         ON CONFLICT (target, blocklist) DO NOTHING",
        &targets,
        &lists as &[&str]
    )
    .execute(&mut *tx)
    .await?;
    let stored = sqlx::query!(
        "SELECT r.target, r.blocklist, r.state, r.return_codes
         FROM list_results AS r
         JOIN UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k (t, b, n)
           ON r.target = k.t AND r.blocklist = k.b
         ORDER BY k.n
         FOR UPDATE OF r",
        &targets,
        &lists as &[&str]
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut previous = HashMap::new();
    for row in stored {
        if let Some(answer) = events::previous_answer(&row.state, &row.return_codes)? {
            previous.insert((row.target, row.blocklist), answer);
        }
    }
    Ok(previous)
}

/// Stores failed attempts in `list_results`, one statement: a new row is `unknown` with the
/// error and the attempt's evidence; an unknown row takes both; an answered row keeps its
/// answer and evidence and takes the error as `last_error`.
async fn record_errors(tx: &mut PgConnection, errors: &[ErrorRow<'_>]) -> Result<(), StoreError> {
    let targets: Vec<&str> = errors.iter().map(|e| e.target.as_str()).collect();
    let lists: Vec<&str> = errors.iter().map(|e| e.blocklist).collect();
    let messages: Vec<&str> = errors.iter().map(|e| e.error).collect();
    let resolvers: Vec<Option<String>> = errors
        .iter()
        .map(|e| e.evidence.map(|v| v.resolver.to_string()))
        .collect();
    let names: Vec<Option<&str>> = errors
        .iter()
        .map(|e| e.evidence.map(|v| v.query_name.as_str()))
        .collect();
    let rcodes: Vec<Option<&str>> = errors
        .iter()
        .map(|e| e.evidence.map(|v| v.rcode.as_str()))
        .collect();
    let ttls: Vec<Option<i64>> = errors
        .iter()
        .map(|e| e.evidence.and_then(|v| v.ttl).map(i64::from))
        .collect();
    let passed: Vec<Option<bool>> = errors
        .iter()
        .map(|e| e.evidence.map(|v| v.test_points_passed))
        .collect();
    let answered: Vec<Option<OffsetDateTime>> = errors
        .iter()
        .map(|e| e.evidence.map(|v| v.answered_at))
        .collect();
    sqlx::query!(
        "INSERT INTO list_results (target, blocklist, state, return_codes, last_error, resolver,
             query_name, rcode, ttl, test_points_passed, answered_at)
         SELECT t, b, 'unknown', '', e, rs, q, rc, tt, tp, an
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[], $8::boolean[], $9::timestamptz[])
              WITH ORDINALITY AS x (t, b, e, rs, q, rc, tt, tp, an, n)
         ORDER BY n
         ON CONFLICT (target, blocklist) DO UPDATE
         SET last_error = excluded.last_error,
             resolver = CASE WHEN list_results.state = 'unknown' THEN excluded.resolver
                             ELSE list_results.resolver END,
             query_name = CASE WHEN list_results.state = 'unknown' THEN excluded.query_name
                               ELSE list_results.query_name END,
             rcode = CASE WHEN list_results.state = 'unknown' THEN excluded.rcode
                          ELSE list_results.rcode END,
             ttl = CASE WHEN list_results.state = 'unknown' THEN excluded.ttl
                        ELSE list_results.ttl END,
             test_points_passed = CASE WHEN list_results.state = 'unknown'
                                       THEN excluded.test_points_passed
                                       ELSE list_results.test_points_passed END,
             answered_at = CASE WHEN list_results.state = 'unknown' THEN excluded.answered_at
                                ELSE list_results.answered_at END",
        &targets as &[&str],
        &lists as &[&str],
        &messages as &[&str],
        &resolvers as &[Option<String>],
        &names as &[Option<&str>],
        &rcodes as &[Option<&str>],
        &ttls as &[Option<i64>],
        &passed as &[Option<bool>],
        &answered as &[Option<OffsetDateTime>]
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes the records of the answered addresses and domains, one row each, in text order.
/// uuid and created_at are written once; updated_at moves to the latest answer of any list,
/// never back in time. An address's response_code is the original list's answer in `current`;
/// a row holding NOT_LOOKED_UP (another list's answer) keeps the stored one.
async fn record_targets(
    tx: &mut PgConnection,
    held: &HeldAnswers<'_>,
    current: &HashSet<String>,
) -> Result<(), StoreError> {
    let addresses = held.addresses(current);
    if !addresses.is_empty() {
        let mut ips = Vec::with_capacity(addresses.len());
        let mut uuids = Vec::with_capacity(addresses.len());
        let mut codes = Vec::with_capacity(addresses.len());
        let mut created = Vec::with_capacity(addresses.len());
        let mut updated = Vec::with_capacity(addresses.len());
        for row in addresses {
            ips.push(row.key);
            uuids.push(uuid::Uuid::new_v4().to_string());
            codes.push(row.response_code);
            created.push(row.created_at);
            updated.push(row.updated_at);
        }
        sqlx::query!(
            "INSERT INTO lookups (ip_address, uuid, response_code, created_at, updated_at)
             SELECT ip, id, code, created, updated
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[])
                  WITH ORDINALITY AS a (ip, id, code, created, updated, n)
             ORDER BY n
             ON CONFLICT (ip_address) DO UPDATE
             SET response_code = CASE WHEN excluded.response_code = $6
                                      THEN lookups.response_code
                                      ELSE excluded.response_code END,
                 updated_at = GREATEST(lookups.updated_at, excluded.updated_at)",
            &ips,
            &uuids,
            &codes,
            &created,
            &updated,
            NOT_LOOKED_UP
        )
        .execute(&mut *tx)
        .await?;
        // verdict, over every list that answered (SQLite's migration 0013), in a statement of
        // its own: the upsert above holds the rows' locks, so this statement's snapshot (read
        // committed) sees every answer committed by a batch that wrote these rows before, which
        // the upsert's own snapshot, taken before it waited for their locks, may not. (SQLite
        // works it out in the upsert: its writers take turns.)
        sqlx::query!(
            "UPDATE lookups SET verdict = CASE
                 WHEN original_verdict = 1
                      OR EXISTS (SELECT 1 FROM list_results AS r
                                 WHERE r.target = lookups.ip_address
                                   AND r.blocklist <> $2 AND r.state = 'listed') THEN 1
                 WHEN original_verdict IS NOT NULL
                      OR EXISTS (SELECT 1 FROM list_results AS r
                                 WHERE r.target = lookups.ip_address
                                   AND r.blocklist <> $2 AND r.state <> 'unknown') THEN 0
                 END
             WHERE ip_address = ANY($1)",
            &ips,
            ORIGINAL_LIST
        )
        .execute(&mut *tx)
        .await?;
    }
    let answering = held.answering_lists();
    if !answering.is_empty() {
        sqlx::query!(
            "INSERT INTO answering_lists (blocklist) SELECT UNNEST($1::text[])
             ON CONFLICT (blocklist) DO NOTHING",
            &answering as &[&str]
        )
        .execute(&mut *tx)
        .await?;
    }
    let domains = held.domains();
    if !domains.is_empty() {
        let mut names = Vec::with_capacity(domains.len());
        let mut created = Vec::with_capacity(domains.len());
        let mut updated = Vec::with_capacity(domains.len());
        for row in domains {
            names.push(row.key);
            created.push(row.created_at);
            updated.push(row.updated_at);
        }
        sqlx::query!(
            "INSERT INTO domain_lookups (domain, created_at, updated_at)
             SELECT d, created, updated
             FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[])
                  WITH ORDINALITY AS a (d, created, updated, n)
             ORDER BY n
             ON CONFLICT (domain) DO UPDATE
             SET updated_at = GREATEST(domain_lookups.updated_at, excluded.updated_at)",
            &names,
            &created,
            &updated
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Adds a batch's query counts, one row per (list, day), in that order: the last rows a
/// batch locks, since every replica's writer updates them.
async fn count_queries(
    tx: &mut PgConnection,
    counts: &[(&str, Date, u64)],
) -> Result<(), StoreError> {
    let lists: Vec<&str> = counts.iter().map(|c| c.0).collect();
    let days: Vec<Date> = counts.iter().map(|c| c.1).collect();
    let queries: Vec<i64> = counts
        .iter()
        .map(|c| i64::try_from(c.2).unwrap_or(i64::MAX))
        .collect();
    sqlx::query!(
        "INSERT INTO blocklist_queries (blocklist, day, queries)
         SELECT b, d, q FROM UNNEST($1::text[], $2::date[], $3::bigint[])
              WITH ORDINALITY AS c (b, d, q, n)
         ORDER BY n
         ON CONFLICT (blocklist, day)
         DO UPDATE SET queries = blocklist_queries.queries + excluded.queries",
        &lists as &[&str],
        &days,
        &queries
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Adds a batch's hourly query counts, one row per (list, hour), after the daily ones. Every
/// writer locks the daily rows, then the hourly ones, each in the same order: no deadlock.
pub(crate) async fn count_hours(
    tx: &mut PgConnection,
    counts: &[(&str, OffsetDateTime, u64)],
) -> Result<(), StoreError> {
    let lists: Vec<&str> = counts.iter().map(|c| c.0).collect();
    let hours: Vec<OffsetDateTime> = counts.iter().map(|c| c.1).collect();
    let queries: Vec<i64> = counts
        .iter()
        .map(|c| i64::try_from(c.2).unwrap_or(i64::MAX))
        .collect();
    sqlx::query!(
        "INSERT INTO blocklist_query_hours (blocklist, begins_at, queries)
         SELECT b, h, q FROM UNNEST($1::text[], $2::timestamptz[], $3::bigint[])
              WITH ORDINALITY AS c (b, h, q, n)
         ORDER BY n
         ON CONFLICT (begins_at, blocklist)
         DO UPDATE SET queries = blocklist_query_hours.queries + excluded.queries",
        &lists as &[&str],
        &hours,
        &queries
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks a job failed, if it still holds the claim `token`; returns whether it did. The caller
/// adds the jobs it failed to the tallies, once per transaction.
async fn fail(
    tx: &mut PgConnection,
    job: i64,
    token: &str,
    at: OffsetDateTime,
    error: &str,
) -> Result<bool, StoreError> {
    let held = sqlx::query!(
        "UPDATE lookup_jobs
         SET state = 'failed', lease_expires_at = NULL, lease_token = NULL,
             last_error = $3, updated_at = $4
         WHERE id = $1 AND lease_token = $2 AND state = 'running'",
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
    tx: &mut PgConnection,
    ip: &str,
    at: OffsetDateTime,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO lookup_history (ip_address, looked_up_at, error) VALUES ($1, $2, $3)",
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
async fn drop_superseded(tx: &mut PgConnection, job: i64, token: &str) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM lookup_jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        job,
        token
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

/// Returns jobs whose lease ran out before `now` to the queue; returns how many. A job whose
/// (target, list) has a pending job already (or a second expired job of one pair) is dropped
/// instead: the pending job will ask the list.
pub(crate) async fn reclaim_expired(pool: &PgPool, now: OffsetDateTime) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    // Lock the expired jobs first, in id order. A replica reclaiming at the same time waits
    // here and then finds them pending; their old holder's late outcome waits and then finds
    // its token gone.
    let expired = sqlx::query!(
        "SELECT id, target, blocklist FROM lookup_jobs
         WHERE state = 'running' AND lease_expires_at < $1
         ORDER BY id FOR UPDATE",
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    if expired.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let ids: Vec<i64> = expired.iter().map(|job| job.id).collect();
    let mut seen = HashSet::new();
    let first_per_pair: Vec<i64> = expired
        .iter()
        .filter(|job| seen.insert((job.target.as_str(), job.blocklist.as_str())))
        .map(|job| job.id)
        .collect();
    let reclaimed = sqlx::query!(
        "UPDATE lookup_jobs AS j
         SET state = 'pending', lease_expires_at = NULL, lease_token = NULL, updated_at = $2
         WHERE id = ANY ($1)
           AND NOT EXISTS (SELECT 1 FROM lookup_jobs AS p
                           WHERE p.target = j.target AND p.blocklist = j.blocklist
                             AND p.state = 'pending')",
        &first_per_pair,
        now
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query!(
        "DELETE FROM lookup_jobs WHERE id = ANY ($1) AND state = 'running'",
        &ids
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(reclaimed)
}
