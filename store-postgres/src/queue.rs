//! The durable job queue, shared by every replica: enqueue, claim, record, reclaim.
//!
//! Lock order, the same in every transaction that waits for locks, so that they cannot wait
//! for each other in a circle: job rows by id, then `lookups` rows by address. Claims never
//! wait (SKIP LOCKED). What remains (an enqueue and a result writer both making one address's
//! job pending) PostgreSQL resolves by aborting one, and [`crate::retry`] runs it again.

use std::collections::HashSet;

use secworks_store_api::{ClaimedJob, ClaimedRow, JobOutcome, JobResult, StoreError, read_claimed};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

/// Queues a job for each address, all or nothing: one statement. An address with a pending
/// job joins it, also when another replica's enqueue of it commits first (the conflict waits
/// for that transaction, then does nothing). Addresses go in in sorted order so that two
/// overlapping enqueues wait for each other's index entries in one order, never in a circle.
pub(crate) async fn enqueue(
    pool: &PgPool,
    ip_addresses: &[String],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO lookup_jobs (ip_address, run_after, created_at, updated_at)
         SELECT ip, $2, $2, $2 FROM UNNEST($1::text[]) AS batch (ip) ORDER BY ip
         ON CONFLICT (ip_address) WHERE state = 'pending' DO NOTHING",
        ip_addresses,
        now
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Claims up to `limit` due jobs, oldest first, under one new lease token. `FOR UPDATE SKIP
/// LOCKED` in the sub-select: a job another replica is claiming at this moment is locked and
/// skipped, and one it has claimed and committed no longer reads as pending when its row is
/// locked, so no job is claimed twice and no claim waits for another.
pub(crate) async fn claim(
    pool: &PgPool,
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
                 WHERE state = 'pending' AND run_after <= $2
                 ORDER BY run_after, id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             ))
             RETURNING id, ip_address, attempts, lease_token, run_after
           )
           SELECT id AS "id!", ip_address AS "ip_address!", attempts AS "attempts!",
                  lease_token AS "lease_token!"
           FROM claimed ORDER BY run_after, id"#,
        i64::from(limit),
        now,
        lease_until,
        token
    )
    .fetch_all(pool)
    .await?;
    let (jobs, unreadable) = read_claimed(rows.into_iter().map(|row| ClaimedRow {
        id: row.id,
        ip_address: row.ip_address,
        attempts: row.attempts,
        lease_token: row.lease_token,
    }));
    if !unreadable.is_empty() {
        // Rows secworks did not write. Failed now, in lock order, so they never come back;
        // should this not commit, their lease returns them and the next claim fails them.
        let mut tx = pool.begin().await?;
        for job in &unreadable {
            fail(&mut tx, job.id, &token, &job.ip_address, now, &job.error()).await?;
        }
        tx.commit().await?;
    }
    Ok(jobs)
}

/// A batch of outcomes, with what the queries need in the database's terms.
pub(crate) struct Outcomes<'a> {
    /// Every job the batch touches, in lock order.
    ids: Vec<i64>,
    outcomes: &'a [JobOutcome],
    /// The outcomes' addresses as stored, in the order of `outcomes`.
    addresses: Vec<String>,
}

impl<'a> Outcomes<'a> {
    pub(crate) fn new(outcomes: &'a [JobOutcome]) -> Self {
        let mut ids: Vec<i64> = outcomes.iter().map(|o| o.job_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let addresses = outcomes.iter().map(|o| o.address.to_string()).collect();
        Self {
            ids,
            outcomes,
            addresses,
        }
    }
}

/// Records a batch of outcomes in one transaction. An outcome counts only while its job is
/// running under the outcome's lease token: the job rows are locked first, so a concurrent
/// reclaim or another replica's writer either finished before (and the token no longer
/// matches) or waits until this commits.
pub(crate) async fn record(
    pool: &PgPool,
    batch: &Outcomes<'_>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query_scalar!(
        "SELECT id FROM lookup_jobs WHERE id = ANY ($1) ORDER BY id FOR UPDATE",
        &batch.ids
    )
    .fetch_all(&mut *tx)
    .await?;
    if batch
        .outcomes
        .iter()
        .any(|o| matches!(o.result, JobResult::Answer(_)))
    {
        record_answers(&mut tx, batch, now).await?;
    }
    for (outcome, ip) in batch.outcomes.iter().zip(&batch.addresses) {
        let (job, token, at) = (outcome.job_id, outcome.lease_token.as_str(), outcome.at);
        match &outcome.result {
            JobResult::Answer(_) => {}
            JobResult::Retry { error, run_after } => {
                // If the address has a pending job already, this one stays running and is
                // dropped below, as the pending job supersedes it.
                let held = sqlx::query!(
                    "UPDATE lookup_jobs AS j
                     SET state = 'pending', run_after = $3, lease_expires_at = NULL,
                         lease_token = NULL, last_error = $4, updated_at = $5
                     WHERE id = $1 AND lease_token = $2 AND state = 'running'
                       AND NOT EXISTS (SELECT 1 FROM lookup_jobs AS p
                                       WHERE p.ip_address = j.ip_address
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
                if held > 0 {
                    insert_error(&mut tx, ip, at, error).await?;
                }
            }
            JobResult::Fail { error } => {
                fail(&mut tx, job, token, ip, at, error).await?;
            }
            JobResult::Release => {
                sqlx::query!(
                    "UPDATE lookup_jobs AS j
                     SET state = 'pending', lease_expires_at = NULL, lease_token = NULL,
                         attempts = GREATEST(attempts - 1, 0), updated_at = $3
                     WHERE id = $1 AND lease_token = $2 AND state = 'running'
                       AND NOT EXISTS (SELECT 1 FROM lookup_jobs AS p
                                       WHERE p.ip_address = j.ip_address
                                         AND p.state = 'pending')",
                    job,
                    token,
                    at
                )
                .execute(&mut *tx)
                .await?;
                drop_superseded(&mut tx, job, token).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Marks a job failed, if it still holds the claim `token`, and logs `error` to its address's
/// history.
async fn fail(
    tx: &mut PgConnection,
    job: i64,
    token: &str,
    ip: &str,
    at: OffsetDateTime,
    error: &str,
) -> Result<(), StoreError> {
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
    if held > 0 {
        insert_error(tx, ip, at, error).await?;
    }
    Ok(())
}

/// Stores the batch's answers with three set-wise statements, whatever the batch size: the
/// jobs still holding their claim are marked done, and only their answers are written.
async fn record_answers(
    tx: &mut PgConnection,
    batch: &Outcomes<'_>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let answers: Vec<(&JobOutcome, &str)> = batch
        .outcomes
        .iter()
        .zip(batch.addresses.iter().map(String::as_str))
        .filter(|(o, _)| matches!(o.result, JobResult::Answer(_)))
        .collect();
    let ids: Vec<i64> = answers.iter().map(|(o, _)| o.job_id).collect();
    let tokens: Vec<&str> = answers
        .iter()
        .map(|(o, _)| o.lease_token.as_str())
        .collect();
    let held: HashSet<i64> = sqlx::query_scalar!(
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

    let mut uuids = Vec::new();
    let mut ips = Vec::new();
    let mut codes = Vec::new();
    let mut ats = Vec::new();
    for (outcome, ip) in answers.iter().filter(|(o, _)| held.contains(&o.job_id)) {
        if let JobResult::Answer(answer) = &outcome.result {
            uuids.push(uuid::Uuid::new_v4().to_string());
            ips.push(*ip);
            codes.push(answer.response_code());
            ats.push(outcome.at);
        }
    }
    if ips.is_empty() {
        return Ok(());
    }
    // uuid and created_at are written once; a later answer moves response_code and
    // updated_at, but never back in time (two jobs of one address may finish out of order, in
    // one batch or in two replicas). An upsert may touch a row once per statement, so of one
    // address's answers in this batch the latest goes in (the last given, of equal ones), and
    // a new row's created_at is the first given's instant: what applying them one by one
    // would leave. Rows go in in address order (the lock order). A concurrent upsert of the
    // same address waits for this transaction and then compares against what it committed.
    sqlx::query!(
        "INSERT INTO lookups (ip_address, uuid, response_code, created_at, updated_at)
         SELECT DISTINCT ON (ip) ip, id, code,
                first_value(at) OVER (PARTITION BY ip ORDER BY n), at
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[])
              WITH ORDINALITY AS a (ip, id, code, at, n)
         ORDER BY ip, at DESC, n DESC
         ON CONFLICT (ip_address) DO UPDATE
         SET response_code = excluded.response_code, updated_at = excluded.updated_at
         WHERE excluded.updated_at >= lookups.updated_at",
        &ips as &[&str],
        &uuids,
        &codes,
        &ats
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO lookup_history (ip_address, looked_up_at, response_code)
         SELECT ip, at, code
         FROM UNNEST($1::text[], $2::timestamptz[], $3::text[]) WITH ORDINALITY AS h (ip, at, code, n)
         ORDER BY n",
        &ips as &[&str],
        &ats,
        &codes
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

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

/// Drops a job still running under `token` because its address has a pending job, which
/// supersedes it; returns whether it did.
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
/// address has a pending job already (or a second expired job of one address) is dropped
/// instead: the pending job will look the address up.
pub(crate) async fn reclaim_expired(pool: &PgPool, now: OffsetDateTime) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await?;
    // Lock the expired jobs first, in id order. A replica reclaiming at the same time waits
    // here and then finds them pending; their old holder's late outcome waits and then finds
    // its token gone.
    let expired = sqlx::query!(
        "SELECT id, ip_address FROM lookup_jobs
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
    let first_per_address: Vec<i64> = expired
        .iter()
        .filter(|job| seen.insert(job.ip_address.as_str()))
        .map(|job| job.id)
        .collect();
    let reclaimed = sqlx::query!(
        "UPDATE lookup_jobs AS j
         SET state = 'pending', lease_expires_at = NULL, lease_token = NULL, updated_at = $2
         WHERE id = ANY ($1)
           AND NOT EXISTS (SELECT 1 FROM lookup_jobs AS p
                           WHERE p.ip_address = j.ip_address AND p.state = 'pending')",
        &first_per_address,
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
