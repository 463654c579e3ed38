//! Results by filter on SQLite (see `secworks_store_api::filters`): the general statements,
//! for filters other counted lists take part in, and for the export's address order. When ZEN
//! alone decides (the default), pages and counts come from `verdict_filters.rs` instead.
//!
//! Every query is one statement of the `filtered!` shape: a subquery that adds to each
//! `lookups` row what the counted lists say of it, the driver (which rows are walked: a
//! candidate set the filter names, or all rows in an index's order), and the filters every
//! row must pass. Filters a parameter leaves open are written so that the planner still uses
//! an index (`updated_at >= coalesce(?8, '')`), and the other lists' subqueries are skipped
//! when only ZEN counts (`?1 = '[]'`, the default). The parameters are the same in all of them:
//! ?1 counted lists other than the original (JSON), ?2 the original list's id when counted,
//! ?3 listed, ?4 blocklist, ?5 watchlist, ?6 and ?7 the range's first and last key,
//! ?8 changed since, ?9 the driver; then each query's own.

use std::net::IpAddr;

use async_trait::async_trait;
use secworks_store_api::filters::{Driver, read_address};
use secworks_store_api::{
    Address, ChangeKey, CountedBy, FEW_CANDIDATES, FilteredLookups, FoundLookup, JobState,
    LookupFilter, LookupRecord, ORIGINAL_LIST, StoreError, StoredAnswer, timestamp,
};

use crate::{SqliteStore, instant, to_json, verdict_filters};

/// The sort key of an address within its family: `4` or `6`, then its bytes in hex.
pub(crate) fn address_key(address: &Address) -> String {
    use std::fmt::Write;
    let (family, octets): (char, Vec<u8>) = match address.ip() {
        IpAddr::V4(ip) => ('4', ip.octets().to_vec()),
        IpAddr::V6(ip) => ('6', ip.octets().to_vec()),
    };
    let mut key = String::with_capacity(1 + 2 * octets.len());
    key.push(family);
    for octet in octets {
        let _ = write!(key, "{octet:02x}");
    }
    key
}

/// Cursor of the first page in newest-change-first order: above every stored instant.
pub(crate) const BEFORE_ALL_CHANGES: &str = "~";

/// A sqlx macro call on the statement shape shared by every query here (see the module
/// comment): `filtered!(query_as(Row,) found, candidates[+ " AND …"], "ORDER BY …"; args…)`.
/// `found` selects a [`FoundRow`]; `all` walks every row, `candidates` the set the driver
/// names (each branch but the driver's is a constant false). The listed candidates are the
/// rows any list lists now (the kept `verdict`): more than the counted lists list when one
/// that answered no longer counts, which the filters then test away.
macro_rules! filtered {
    ($mac:ident ($($before:tt)*) found, $($rest:tt)*) => {
        filtered!($mac ($($before)*) [r#"SELECT l.ip_address AS "ip_address!", l.uuid AS "uuid!",
            l.response_code AS "response_code!", l.created_at AS "created_at!",
            l.updated_at AS "updated_at!", l.original_listed AS "original_listed!: bool",
            l.others_listed AS "others_listed: String", l.answered AS "answered!: bool""#], $($rest)*)
    };
    ($mac:ident ($($before:tt)*) [$select:literal], all [$($driver:tt)*], $($rest:tt)*) => {
        filtered!(@statement $mac ($($before)*) $select, ["?9 = 'all'" $($driver)*], $($rest)*)
    };
    ($mac:ident ($($before:tt)*) [$select:literal], candidates [$($driver:tt)*], $($rest:tt)*) => {
        filtered!(@statement $mac ($($before)*) $select, ["l.ip_address IN (
            SELECT ip_address FROM lookups
            WHERE ?9 = 'within' AND address_key BETWEEN ?6 AND ?7
            UNION ALL
            SELECT target FROM watch_targets WHERE ?9 = 'watchlist' AND watchlist = ?5
            UNION ALL
            SELECT ip_address FROM lookups WHERE ?9 = 'listed' AND verdict = 1)"
            $($driver)*], $($rest)*)
    };
    (@statement $mac:ident ($($before:tt)*) $select:literal, [$($driver:tt)+], $tail:literal; $($arg:expr),+ $(,)?) => {
        sqlx::$mac!($($before)* $select
            + " FROM (
                SELECT lk.ip_address, lk.uuid, lk.response_code, lk.created_at, lk.updated_at,
                       lk.address_key,
                       (?2 IS NOT NULL AND lk.original_verdict IS 1) AS original_listed,
                       CASE WHEN ?1 = '[]' THEN NULL
                            ELSE (SELECT group_concat(r.blocklist, ' ') FROM list_results r
                                  WHERE r.target = lk.ip_address AND r.state = 'listed'
                                    AND r.blocklist IN (SELECT value FROM json_each(?1)))
                       END AS others_listed,
                       ((?2 IS NOT NULL AND lk.original_verdict IS NOT NULL)
                        OR (?1 <> '[]'
                            AND EXISTS (SELECT 1 FROM list_results r
                                        WHERE r.target = lk.ip_address AND r.state <> 'unknown'
                                          AND r.blocklist IN (SELECT value FROM json_each(?1)))))
                         AS answered,
                       CASE WHEN ?4 IS NULL THEN NULL
                            WHEN ?4 = ?2 AND lk.original_verdict = 1 THEN 'listed'
                            WHEN ?4 = ?2 AND lk.original_verdict = 0 THEN 'not_listed'
                            ELSE (SELECT r.state FROM list_results r
                                  WHERE r.target = lk.ip_address AND r.blocklist = ?4)
                       END AS on_list
                FROM lookups lk
              ) AS l
              WHERE "
            + $($driver)+
            + "
                AND l.updated_at >= coalesce(?8, '')
                AND (?6 IS NULL OR l.address_key BETWEEN ?6 AND ?7)
                AND (?5 IS NULL OR EXISTS (SELECT 1 FROM watch_targets w
                                           WHERE w.watchlist = ?5 AND w.target = l.ip_address))
                AND (?4 IS NULL
                     OR coalesce(l.on_list = CASE ?3 WHEN 1 THEN 'listed' WHEN 0 THEN 'not_listed' END,
                                 l.on_list IS NOT NULL))
                AND (?4 IS NOT NULL OR ?3 IS NULL
                     OR CASE WHEN l.original_listed OR l.others_listed IS NOT NULL THEN 1
                             WHEN l.answered THEN 0 END = ?3) "
            + $tail, $($arg),+)
    };
}

/// A row the queries return.
struct FoundRow {
    ip_address: String,
    uuid: String,
    response_code: String,
    created_at: String,
    updated_at: String,
    original_listed: bool,
    others_listed: Option<String>,
    answered: bool,
}

impl FoundRow {
    fn read(self, original: Option<&str>) -> Result<FoundLookup, StoreError> {
        let record = lookup_record(
            &self.ip_address,
            self.uuid,
            self.response_code,
            &self.created_at,
            &self.updated_at,
        )?;
        Ok(FoundLookup::from_row(
            record,
            original,
            self.original_listed,
            self.others_listed,
            self.answered,
        ))
    }
}

/// A `lookups` row's columns read back.
pub(crate) fn lookup_record(
    ip_address: &str,
    uuid: String,
    response_code: String,
    created_at: &str,
    updated_at: &str,
) -> Result<LookupRecord, StoreError> {
    Ok(LookupRecord {
        address: read_address(ip_address)?,
        uuid,
        answer: StoredAnswer::from_text(response_code),
        created_at: instant(created_at)?,
        updated_at: instant(updated_at)?,
    })
}

/// The shared parameters ?1 to ?9, as SQLite takes them.
struct Bound {
    others: String,
    original: Option<&'static str>,
    listed: Option<bool>,
    blocklist: Option<String>,
    watchlist: Option<String>,
    first: Option<String>,
    last: Option<String>,
    changed_since: Option<String>,
    driver: Driver,
}

impl Bound {
    fn new(filter: &LookupFilter) -> Result<Self, StoreError> {
        let original = filter
            .lists
            .iter()
            .any(|id| id == ORIGINAL_LIST)
            .then_some(ORIGINAL_LIST);
        let others: Vec<&str> = filter
            .lists
            .iter()
            .map(String::as_str)
            .filter(|id| *id != ORIGINAL_LIST)
            .collect();
        Ok(Self {
            others: to_json(&others)?,
            original,
            listed: filter.listed,
            blocklist: filter.blocklist.clone(),
            watchlist: filter.watchlist.as_ref().map(ToString::to_string),
            first: filter.within.map(|range| address_key(&range.first())),
            last: filter.within.map(|range| address_key(&range.last())),
            changed_since: filter.changed_since.map(timestamp::format),
            driver: filter.driver(),
        })
    }
}

#[async_trait]
impl FilteredLookups for SqliteStore {
    async fn lookups_by_change(
        &self,
        filter: &LookupFilter,
        after: Option<ChangeKey>,
        limit: u32,
    ) -> Result<Vec<FoundLookup>, StoreError> {
        let mut read = self.pool.begin().await?;
        if let Some(kept) = verdict_filters::verdict_filter(&mut read, filter).await? {
            let page = verdict_filters::verdict_page(&mut read, &kept, after, limit).await?;
            read.commit().await?;
            return Ok(page);
        }
        read.commit().await?;
        let mut b = Bound::new(filter)?;
        b.driver = self.page_driver(&b).await?;
        let (after_at, after_address) = match after {
            Some(key) => (timestamp::format(key.updated_at), key.address.to_string()),
            None => (BEFORE_ALL_CHANGES.to_owned(), String::new()),
        };
        let mode = b.driver.as_str();
        let rows = if b.driver == Driver::All {
            filtered!(query_as(FoundRow,) found,
                all[+ " AND (l.updated_at, l.ip_address) < (?10, ?11)"],
                "ORDER BY l.updated_at DESC, l.ip_address DESC LIMIT ?12";
                b.others, b.original, b.listed, b.blocklist, b.watchlist, b.first, b.last,
                b.changed_since, mode, after_at, after_address, limit
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            filtered!(query_as(FoundRow,) found,
                candidates[+ " AND (l.updated_at, l.ip_address) < (?10, ?11)"],
                "ORDER BY l.updated_at DESC, l.ip_address DESC LIMIT ?12";
                b.others, b.original, b.listed, b.blocklist, b.watchlist, b.first, b.last,
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
        let mut b = Bound::new(filter)?;
        b.driver = self.page_driver(&b).await?;
        let after = after.as_ref().map(address_key).unwrap_or_default();
        let mode = b.driver.as_str();
        let rows = if b.driver == Driver::All {
            filtered!(query_as(FoundRow,) found,
                all[+ " AND l.address_key > ?10"],
                "ORDER BY l.address_key LIMIT ?11";
                b.others, b.original, b.listed, b.blocklist, b.watchlist, b.first, b.last,
                b.changed_since, mode, after, limit
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            filtered!(query_as(FoundRow,) found,
                candidates[+ " AND l.address_key > ?10"],
                "ORDER BY l.address_key LIMIT ?11";
                b.others, b.original, b.listed, b.blocklist, b.watchlist, b.first, b.last,
                b.changed_since, mode, after, limit
            )
            .fetch_all(&self.pool)
            .await?
        };
        rows.into_iter().map(|row| row.read(b.original)).collect()
    }

    async fn count_lookups(&self, filter: &LookupFilter) -> Result<u64, StoreError> {
        if filter.is_open() {
            // SQLite counts a whole table without visiting rows.
            let count = sqlx::query_scalar!(r#"SELECT count(*) AS "count!: i64" FROM lookups"#)
                .fetch_one(&self.pool)
                .await?;
            return Ok(u64::try_from(count).unwrap_or_default());
        }
        let mut read = self.pool.begin().await?;
        if let Some(kept) = verdict_filters::verdict_filter(&mut read, filter).await? {
            let count = verdict_filters::verdict_count(&mut read, &kept).await?;
            read.commit().await?;
            return Ok(u64::try_from(count).unwrap_or_default());
        }
        read.commit().await?;
        if let Some(index) = filter.counted_by() {
            return self.count_by_index(index).await;
        }
        let b = Bound::new(filter)?;
        let mode = b.driver.as_str();
        let count = if b.driver == Driver::All {
            filtered!(query_scalar() [r#"SELECT count(*) AS "count!: i64""#], all[], "";
                b.others, b.original, b.listed, b.blocklist, b.watchlist, b.first, b.last,
                b.changed_since, mode
            )
            .fetch_one(&self.pool)
            .await?
        } else {
            filtered!(query_scalar() [r#"SELECT count(*) AS "count!: i64""#], candidates[], "";
                b.others, b.original, b.listed, b.blocklist, b.watchlist, b.first, b.last,
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
        let targets = to_json(
            &addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )?;
        let rows = sqlx::query!(
            r#"SELECT j.target AS "target!", j.blocklist AS "blocklist!", j.state AS "state!"
               FROM lookup_jobs j
               WHERE j.target IN (SELECT value FROM json_each(?1))
                 AND j.id = (SELECT max(k.id) FROM lookup_jobs k
                             WHERE k.target = j.target AND k.blocklist = j.blocklist)
               ORDER BY j.target, j.blocklist"#,
            targets
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

impl SqliteStore {
    /// The driver a page walks: the filter's own while it names few candidates (counted up to
    /// one past [`FEW_CANDIDATES`], no further), else every result in the page's order.
    async fn page_driver(&self, b: &Bound) -> Result<Driver, StoreError> {
        if b.driver == Driver::All {
            return Ok(Driver::All);
        }
        let (mode, limit) = (b.driver.as_str(), FEW_CANDIDATES + 1);
        let candidates = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!: i64" FROM (
                 SELECT 1 FROM lookups WHERE ?1 = 'within' AND address_key BETWEEN ?2 AND ?3
                 UNION ALL
                 SELECT 1 FROM watch_targets WHERE ?1 = 'watchlist' AND watchlist = ?4
                 UNION ALL
                 SELECT 1 FROM lookups WHERE ?1 = 'listed' AND verdict = 1
                 LIMIT ?5)"#,
            mode,
            b.first,
            b.last,
            b.watchlist,
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
        let count =
            match index {
                CountedBy::Range(range) => {
                    let (first, last) = (address_key(&range.first()), address_key(&range.last()));
                    sqlx::query_scalar!(
                        r#"SELECT count(*) AS "count!: i64" FROM lookups
                       WHERE address_key BETWEEN ?1 AND ?2"#,
                        first,
                        last
                    )
                    .fetch_one(&self.pool)
                    .await?
                }
                CountedBy::ChangedSince(since) => {
                    let since = timestamp::format(since);
                    sqlx::query_scalar!(
                        r#"SELECT count(*) AS "count!: i64" FROM lookups WHERE updated_at >= ?1"#,
                        since
                    )
                    .fetch_one(&self.pool)
                    .await?
                }
                CountedBy::OriginalListed => sqlx::query_scalar!(
                    r#"SELECT count(*) AS "count!: i64" FROM lookups INDEXED BY lookups_by_verdict
                       WHERE verdict = 1 AND original_verdict = 1"#
                )
                .fetch_one(&self.pool)
                .await?,
            };
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// Gives every `lookups` row from before its `address_key`, a chunk per statement; nothing to
/// do (one indexed read) once done. Runs when the store opens, before it serves.
pub(crate) async fn fill_address_keys(pool: &sqlx::SqlitePool) -> Result<(), StoreError> {
    const CHUNK: i64 = 10_000;
    loop {
        let addresses = sqlx::query_scalar!(
            "SELECT ip_address FROM lookups WHERE address_key IS NULL LIMIT ?1",
            CHUNK
        )
        .fetch_all(pool)
        .await?;
        if addresses.is_empty() {
            break;
        }
        let keys: Vec<(String, String)> = addresses
            .into_iter()
            .map(|text| {
                let address = text
                    .parse::<Address>()
                    .map_err(|_| StoreError::Unreadable(format!("address {text:?} of a lookup")))?;
                Ok((text, address_key(&address)))
            })
            .collect::<Result<_, StoreError>>()?;
        let keys = to_json(&keys)?;
        sqlx::query!(
            "UPDATE lookups SET address_key = k.value ->> 1
             FROM json_each(?1) AS k WHERE lookups.ip_address = k.value ->> 0",
            keys
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}
