//! Results by filter on PostgreSQL (see `secworks_store_api::filters`).
//!
//! Every query is one statement of the `filtered!` shape: a subquery that adds to each
//! `lookups` row what the counted lists say of it, the driver (which rows are walked: a
//! candidate set the filter names, or all rows in an index's order), and the filters every
//! row must pass. The parameters are the same in all of them:
//! $1 counted lists other than the original, $2 the original list's id when counted,
//! $3 listed, $4 blocklist, $5 watchlist, $6 the range, $7 changed since, $8 the driver;
//! then each query's own.

use async_trait::async_trait;
use secworks_store_api::filters::{Driver, read_address};
use secworks_store_api::{
    Address, ChangeKey, CountedBy, FEW_CANDIDATES, FilteredLookups, FoundLookup, JobState,
    LookupFilter, LookupRecord, ORIGINAL_LIST, StoreError, StoredAnswer,
};
use time::OffsetDateTime;

use crate::PgStore;

/// A sqlx macro call on the statement shape shared by every query here (see the module
/// comment): `filtered!(query_as(Row,) found, candidates[+ " AND …"], "ORDER BY …"; args…)`.
/// `found` selects a [`FoundRow`]; `all` walks every row, `candidates` the set the driver
/// names (each branch but the driver's is a one-time false filter).
macro_rules! filtered {
    ($mac:ident ($($before:tt)*) found, $($rest:tt)*) => {
        filtered!($mac ($($before)*) [r#"SELECT l.ip_address AS "ip_address!", l.uuid AS "uuid!",
            l.response_code AS "response_code!", l.created_at AS "created_at!",
            l.updated_at AS "updated_at!", l.original_listed AS "original_listed!",
            l.others_listed, l.answered AS "answered!""#], $($rest)*)
    };
    ($mac:ident ($($before:tt)*) [$select:literal], all [$($driver:tt)*], $($rest:tt)*) => {
        filtered!(@statement $mac ($($before)*) $select, ["$8::text = 'all'" $($driver)*], $($rest)*)
    };
    ($mac:ident ($($before:tt)*) [$select:literal], candidates [$($driver:tt)*], $($rest:tt)*) => {
        filtered!(@statement $mac ($($before)*) $select, ["l.ip_address IN (
            SELECT ip_address FROM lookups
            WHERE $8::text = 'within' AND address_key <<= $6::text::inet
            UNION ALL
            SELECT target FROM watch_targets WHERE $8::text = 'watchlist' AND watchlist = $5::text
            UNION ALL
            SELECT ip_address FROM lookups
            WHERE $8::text = 'listed' AND $2::text IS NOT NULL AND response_code ~ '^[0-9]'
            UNION ALL
            SELECT target FROM list_results
            WHERE $8::text = 'listed' AND state = 'listed' AND blocklist = ANY($1::text[]))"
            $($driver)*], $($rest)*)
    };
    (@statement $mac:ident ($($before:tt)*) $select:literal, [$($driver:tt)+], $tail:literal; $($arg:expr),+ $(,)?) => {
        sqlx::$mac!($($before)* $select
            + " FROM (
                SELECT lk.ip_address, lk.uuid, lk.response_code, lk.created_at, lk.updated_at,
                       lk.address_key,
                       ($2::text IS NOT NULL AND lk.response_code ~ '^[0-9]') AS original_listed,
                       CASE WHEN cardinality($1::text[]) = 0 THEN NULL
                            ELSE (SELECT string_agg(r.blocklist, ' ') FROM list_results r
                                  WHERE r.target = lk.ip_address AND r.state = 'listed'
                                    AND r.blocklist = ANY($1::text[]))
                       END AS others_listed,
                       (($2::text IS NOT NULL AND (lk.response_code ~ '^[0-9]'
                                                   OR lk.response_code = 'No Response'))
                        OR (cardinality($1::text[]) > 0
                            AND EXISTS (SELECT 1 FROM list_results r
                                        WHERE r.target = lk.ip_address AND r.state <> 'unknown'
                                          AND r.blocklist = ANY($1::text[])))) AS answered,
                       CASE WHEN $4::text IS NULL THEN NULL
                            WHEN $4::text = $2::text AND lk.response_code ~ '^[0-9]'
                              THEN 'listed'
                            WHEN $4::text = $2::text AND lk.response_code = 'No Response'
                              THEN 'not_listed'
                            ELSE (SELECT r.state FROM list_results r
                                  WHERE r.target = lk.ip_address AND r.blocklist = $4::text)
                       END AS on_list
                FROM lookups lk
              ) AS l
              WHERE "
            + $($driver)+
            + "
                AND l.updated_at >= coalesce($7::timestamptz, '-infinity')
                AND ($6::text IS NULL OR l.address_key <<= $6::text::inet)
                AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM watch_targets w
                                                 WHERE w.watchlist = $5::text
                                                   AND w.target = l.ip_address))
                AND ($4::text IS NULL
                     OR coalesce(l.on_list = CASE $3::boolean WHEN true THEN 'listed'
                                                              WHEN false THEN 'not_listed' END,
                                 l.on_list IS NOT NULL))
                AND ($4::text IS NOT NULL OR $3::boolean IS NULL
                     OR CASE WHEN l.original_listed OR l.others_listed IS NOT NULL THEN true
                             WHEN l.answered THEN false END = $3::boolean) "
            + $tail, $($arg),+)
    };
}

/// A row the queries return.
struct FoundRow {
    ip_address: String,
    uuid: String,
    response_code: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    original_listed: bool,
    others_listed: Option<String>,
    answered: bool,
}

impl FoundRow {
    fn read(self, original: Option<&str>) -> Result<FoundLookup, StoreError> {
        let record = LookupRecord {
            address: read_address(&self.ip_address)?,
            uuid: self.uuid,
            answer: StoredAnswer::from_text(self.response_code),
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok(FoundLookup::from_row(
            record,
            original,
            self.original_listed,
            self.others_listed,
            self.answered,
        ))
    }
}

/// The shared parameters $1 to $8, as PostgreSQL takes them.
struct Bound {
    others: Vec<String>,
    original: Option<&'static str>,
    listed: Option<bool>,
    blocklist: Option<String>,
    watchlist: Option<String>,
    within: Option<String>,
    changed_since: Option<OffsetDateTime>,
    driver: Driver,
}

impl Bound {
    fn new(filter: &LookupFilter) -> Self {
        Self {
            others: filter
                .lists
                .iter()
                .filter(|id| *id != ORIGINAL_LIST)
                .cloned()
                .collect(),
            original: filter
                .lists
                .iter()
                .any(|id| id == ORIGINAL_LIST)
                .then_some(ORIGINAL_LIST),
            listed: filter.listed,
            blocklist: filter.blocklist.clone(),
            watchlist: filter.watchlist.as_ref().map(ToString::to_string),
            within: filter.within.map(|range| range.to_string()),
            changed_since: filter.changed_since,
            driver: filter.driver(),
        }
    }
}

#[async_trait]
impl FilteredLookups for PgStore {
    async fn lookups_by_change(
        &self,
        filter: &LookupFilter,
        after: Option<ChangeKey>,
        limit: u32,
    ) -> Result<Vec<FoundLookup>, StoreError> {
        let mut b = Bound::new(filter);
        b.driver = self.page_driver(&b).await?;
        let after_at = after.map(|key| key.updated_at);
        let after_address = after.map(|key| key.address.to_string());
        let (mode, limit) = (b.driver.as_str(), i64::from(limit));
        let rows = if b.driver == Driver::All {
            filtered!(query_as(FoundRow,) found,
                all[+ " AND (l.updated_at, l.ip_address)
                            < (coalesce($9::timestamptz, 'infinity'), coalesce($10::text, ''))"],
                "ORDER BY l.updated_at DESC, l.ip_address DESC LIMIT $11";
                &b.others as &[String], b.original, b.listed, b.blocklist, b.watchlist, b.within,
                b.changed_since, mode, after_at, after_address, limit
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            filtered!(query_as(FoundRow,) found,
                candidates[+ " AND (l.updated_at, l.ip_address)
                            < (coalesce($9::timestamptz, 'infinity'), coalesce($10::text, ''))"],
                "ORDER BY l.updated_at DESC, l.ip_address DESC LIMIT $11";
                &b.others as &[String], b.original, b.listed, b.blocklist, b.watchlist, b.within,
                b.changed_since, mode, after_at, after_address, limit
            )
            .fetch_all(&self.pool)
            .await?
        };
        rows.into_iter().map(|row| row.read(b.original)).collect()
    }

    async fn lookups_by_address(
        &self,
        filter: &LookupFilter,
        after: Option<Address>,
        limit: u32,
    ) -> Result<Vec<FoundLookup>, StoreError> {
        let mut b = Bound::new(filter);
        b.driver = self.page_driver(&b).await?;
        let after = after.map(|address| address.to_string());
        let (mode, limit) = (b.driver.as_str(), i64::from(limit));
        // 0.0.0.0/0 sorts before every address (inet orders by family, network, then mask).
        let rows = if b.driver == Driver::All {
            filtered!(query_as(FoundRow,) found,
                all[+ " AND l.address_key > coalesce($9::text, '0.0.0.0/0')::inet"],
                "ORDER BY l.address_key LIMIT $10";
                &b.others as &[String], b.original, b.listed, b.blocklist, b.watchlist, b.within,
                b.changed_since, mode, after, limit
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            filtered!(query_as(FoundRow,) found,
                candidates[+ " AND l.address_key > coalesce($9::text, '0.0.0.0/0')::inet"],
                "ORDER BY l.address_key LIMIT $10";
                &b.others as &[String], b.original, b.listed, b.blocklist, b.watchlist, b.within,
                b.changed_since, mode, after, limit
            )
            .fetch_all(&self.pool)
            .await?
        };
        rows.into_iter().map(|row| row.read(b.original)).collect()
    }

    async fn count_lookups(&self, filter: &LookupFilter) -> Result<u64, StoreError> {
        if filter.is_open() {
            let count = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM lookups"#)
                .fetch_one(&self.pool)
                .await?;
            return Ok(u64::try_from(count).unwrap_or_default());
        }
        if let Some(index) = filter.counted_by() {
            return self.count_by_index(index).await;
        }
        let b = Bound::new(filter);
        let mode = b.driver.as_str();
        let count = if b.driver == Driver::All {
            filtered!(query_scalar() [r#"SELECT count(*) AS "count!""#], all[], "";
                &b.others as &[String], b.original, b.listed, b.blocklist, b.watchlist, b.within,
                b.changed_since, mode
            )
            .fetch_one(&self.pool)
            .await?
        } else {
            filtered!(query_scalar() [r#"SELECT count(*) AS "count!""#], candidates[], "";
                &b.others as &[String], b.original, b.listed, b.blocklist, b.watchlist, b.within,
                b.changed_since, mode
            )
            .fetch_one(&self.pool)
            .await?
        };
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn job_states(
        &self,
        addresses: &[Address],
    ) -> Result<Vec<(Address, String, JobState)>, StoreError> {
        let targets: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        let rows = sqlx::query!(
            r#"SELECT DISTINCT ON (target, blocklist) target, blocklist, state FROM lookup_jobs
               WHERE target = ANY($1) ORDER BY target, blocklist, id DESC"#,
            &targets as &[String]
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok((
                    read_address(&row.target)?,
                    row.blocklist,
                    JobState::read(&row.state)?,
                ))
            })
            .collect()
    }
}

impl PgStore {
    /// The driver a page walks: the filter's own while it names few candidates (counted up to
    /// one past [`FEW_CANDIDATES`], no further), else every result in the page's order.
    async fn page_driver(&self, b: &Bound) -> Result<Driver, StoreError> {
        if b.driver == Driver::All {
            return Ok(Driver::All);
        }
        let (mode, limit) = (b.driver.as_str(), FEW_CANDIDATES + 1);
        let candidates = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM (
                 SELECT 1 FROM lookups
                 WHERE $1::text = 'within' AND address_key <<= $2::text::inet
                 UNION ALL
                 SELECT 1 FROM watch_targets WHERE $1::text = 'watchlist' AND watchlist = $3::text
                 UNION ALL
                 SELECT 1 FROM lookups
                 WHERE $1::text = 'listed' AND $4::text IS NOT NULL AND response_code ~ '^[0-9]'
                 UNION ALL
                 SELECT 1 FROM list_results
                 WHERE $1::text = 'listed' AND state = 'listed' AND blocklist = ANY($5::text[])
                 LIMIT $6) AS candidates"#,
            mode,
            b.within,
            b.watchlist,
            b.original,
            &b.others as &[String],
            limit
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(if candidates <= FEW_CANDIDATES {
            b.driver
        } else {
            Driver::All
        })
    }

    /// A count read from one index (see [`LookupFilter::counted_by`]).
    async fn count_by_index(&self, index: CountedBy) -> Result<u64, StoreError> {
        let count = match index {
            CountedBy::Range(range) => sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM lookups WHERE address_key <<= $1::text::inet"#,
                range.to_string()
            )
            .fetch_one(&self.pool)
            .await?,
            CountedBy::ChangedSince(since) => {
                sqlx::query_scalar!(
                    r#"SELECT count(*) AS "count!" FROM lookups WHERE updated_at >= $1"#,
                    since
                )
                .fetch_one(&self.pool)
                .await?
            }
            CountedBy::OriginalListed => {
                sqlx::query_scalar!(
                    r#"SELECT count(*) AS "count!" FROM lookups WHERE response_code ~ '^[0-9]'"#
                )
                .fetch_one(&self.pool)
                .await?
            }
        };
        Ok(u64::try_from(count).unwrap_or_default())
    }
}
