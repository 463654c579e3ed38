//! [`Import::import`](secworks_store_api::Import::import): users and stored results from another
//! system, set-wise in one transaction.

use secworks_store_api::{ImportCounts, ImportedUser, LookupRecord, StoreError, original_verdict};
use sqlx::PgPool;
use time::OffsetDateTime;

/// What is to be imported, as columns.
pub(crate) struct ImportBatch<'a> {
    names: Vec<&'a str>,
    hashes: Vec<&'a str>,
    ips: Vec<String>,
    uuids: Vec<&'a str>,
    codes: Vec<String>,
    created: Vec<OffsetDateTime>,
    updated: Vec<OffsetDateTime>,
    /// ZEN's verdict of each record, which is all there is of a new address's (no other list
    /// answered about it yet).
    verdicts: Vec<Option<i32>>,
    now: OffsetDateTime,
}

impl<'a> ImportBatch<'a> {
    pub(crate) fn new(
        users: &'a [ImportedUser],
        lookups: &'a [LookupRecord],
        now: OffsetDateTime,
    ) -> Self {
        let mut batch = ImportBatch {
            names: users.iter().map(|u| u.username.as_str()).collect(),
            hashes: users.iter().map(|u| u.password_hash.as_str()).collect(),
            ips: Vec::with_capacity(lookups.len()),
            uuids: Vec::with_capacity(lookups.len()),
            codes: Vec::with_capacity(lookups.len()),
            created: Vec::with_capacity(lookups.len()),
            updated: Vec::with_capacity(lookups.len()),
            verdicts: Vec::with_capacity(lookups.len()),
            now,
        };
        for record in lookups {
            batch.ips.push(record.address.to_string());
            batch.uuids.push(record.uuid.as_str());
            let code = record.answer.text();
            batch.verdicts.push(original_verdict(&code).map(i32::from));
            batch.codes.push(code);
            batch.created.push(record.created_at);
            batch.updated.push(record.updated_at);
        }
        batch
    }

    /// Adds what is new in one transaction. Rows go in in the order given, so of two with
    /// one key the first is kept.
    pub(crate) async fn insert(&self, pool: &PgPool) -> Result<ImportCounts, StoreError> {
        let mut tx = pool.begin().await?;
        let users = sqlx::query!(
            "INSERT INTO users (username, password_hash, created_at, updated_at, tokens_not_before)
             SELECT name, hash, $3, $3, $3
             FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS u (name, hash, n)
             ORDER BY n
             ON CONFLICT (username) DO NOTHING",
            &self.names as &[&str],
            &self.hashes as &[&str],
            self.now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let lookups = sqlx::query_scalar!(
            r#"WITH added AS (
                 INSERT INTO lookups (ip_address, uuid, response_code, created_at, updated_at,
                                      verdict)
                 SELECT ip, id, code, created, updated, verdict
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                             $5::timestamptz[], $6::integer[])
                      WITH ORDINALITY AS l (ip, id, code, created, updated, verdict, n)
                 ORDER BY n
                 ON CONFLICT (ip_address) DO NOTHING
                 RETURNING ip_address, response_code, updated_at
               ), logged AS (
                 INSERT INTO lookup_history (ip_address, looked_up_at, response_code)
                 SELECT ip_address, updated_at, response_code FROM added
                 RETURNING 1
               )
               SELECT count(*) AS "count!" FROM logged"#,
            &self.ips,
            &self.uuids as &[&str],
            &self.codes,
            &self.created,
            &self.updated,
            &self.verdicts as &[Option<i32>]
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ImportCounts {
            users,
            lookups: u64::try_from(lookups).unwrap_or_default(),
        })
    }
}
