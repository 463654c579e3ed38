//! Filters the kept verdict decides — every list that has answered about an address counts,
//! as it does by default and whenever no list was turned off — read from `lookups.verdict`
//! (migration 0013): a page and a count are each one index range, whatever the filter.
//! `filters.rs` holds the general statements, which test each result, for the other filters.
//!
//! Three shapes: results by verdict (`lookups_by_verdict`), by change (`lookups_by_change`,
//! the verdict tested per row: it is dense there), and within address ranges — a `within`
//! range, a watchlist's entries merged into ranges, or both narrowed together — read from
//! `lookups_by_address`, which holds the verdict and `updated_at`, so that only a page's rows
//! are fetched from the table.
//!
//! The caller runs the three steps (which lists have answered, the watchlist's entries, the
//! statement) in one read transaction: one snapshot, so a list's first answers committed in
//! between cannot make the kept verdict say more than the counted lists do.

use secworks_store_api::watchlists::read_entries;
use secworks_store_api::{
    ChangeKey, FoundLookup, LookupFilter, ORIGINAL_LIST, StoreError, Verdicts, timestamp,
    watched_ranges,
};

use crate::filters::{BEFORE_ALL_CHANGES, address_key, lookup_record};
use sqlx::SqliteConnection;

use crate::to_json;

/// A filter read from the kept verdict, as the statements take it.
pub(crate) struct VerdictFilter {
    verdicts: Verdicts,
    /// The counted lists other than ZEN (JSON), for what each result's lists say.
    others: String,
    /// The lowest and highest verdict accepted (0 not listed, 1 listed); `None`: any, even none.
    low: Option<i64>,
    high: Option<i64>,
    /// ZEN's id when a result must be ZEN's (`blocklist` names it): a verdict, or a result
    /// row of only failed attempts.
    zen_result: Option<&'static str>,
    changed_since: Option<String>,
    /// The address ranges a result must be in, `[[first key, last key], …]` (JSON); `None`
    /// when the filter names none.
    ranges: Option<String>,
}

/// A page statement: the columns every page selects — with, from ?1 (the counted lists other
/// than ZEN), the lists that list each row — then the statement's own `FROM …`.
macro_rules! page {
    ($rest:literal, $($arg:expr),+ $(,)?) => {
        sqlx::query_as!(
            VerdictRow,
            r#"SELECT l.ip_address AS "ip_address!", l.uuid AS "uuid!",
                      l.response_code AS "response_code!", l.created_at AS "created_at!",
                      l.updated_at AS "updated_at!", l.original_verdict, l.verdict,
                      (SELECT group_concat(r.blocklist, ' ') FROM list_results AS r
                       WHERE r.target = l.ip_address AND r.state = 'listed'
                         AND r.blocklist IN (SELECT value FROM json_each(?1)))
                        AS "others_listed: String" "#
                + $rest,
            $($arg),+
        )
    };
}

/// A row the statements return.
struct VerdictRow {
    ip_address: String,
    uuid: String,
    response_code: String,
    created_at: String,
    updated_at: String,
    original_verdict: Option<i64>,
    verdict: Option<i64>,
    others_listed: Option<String>,
}

impl VerdictRow {
    fn read(self) -> Result<FoundLookup, StoreError> {
        let record = lookup_record(
            &self.ip_address,
            self.uuid,
            self.response_code,
            &self.created_at,
            &self.updated_at,
        )?;
        Ok(FoundLookup::from_row(
            record,
            Some(ORIGINAL_LIST),
            self.original_verdict == Some(1),
            self.others_listed,
            self.verdict.is_some(),
        ))
    }
}

/// The filter as the kept verdict answers it, or `None` when it does not decide (see
/// [`LookupFilter::kept_verdicts`]). A watchlist's entries are read here (a missing
/// watchlist covers no address).
pub(crate) async fn verdict_filter(
    conn: &mut SqliteConnection,
    filter: &LookupFilter,
) -> Result<Option<VerdictFilter>, StoreError> {
    let answering = sqlx::query_scalar!("SELECT blocklist FROM answering_lists")
        .fetch_all(&mut *conn)
        .await?;
    let Some(verdicts) = filter.kept_verdicts(&answering) else {
        return Ok(None);
    };
    let others: Vec<&str> = filter
        .lists
        .iter()
        .map(String::as_str)
        .filter(|id| *id != ORIGINAL_LIST)
        .collect();
    let ranges = match (&filter.watchlist, filter.within) {
        (Some(name), within) => {
            let name = name.as_str();
            let entries = read_entries(
                sqlx::query_scalar!(
                    "SELECT entry FROM watchlist_entries WHERE watchlist = ?1",
                    name
                )
                .fetch_all(&mut *conn)
                .await?,
            )?;
            Some(watched_ranges(&entries, within))
        }
        (None, Some(range)) => Some(vec![(range.first(), range.last())]),
        (None, None) => None,
    };
    let ranges = ranges
        .map(|ranges| {
            let keys: Vec<(String, String)> = ranges
                .iter()
                .map(|(first, last)| (address_key(first), address_key(last)))
                .collect();
            to_json(&keys)
        })
        .transpose()?;
    let (low, high) = verdicts.range().unzip();
    Ok(Some(VerdictFilter {
        verdicts,
        others: to_json(&others)?,
        low,
        high,
        zen_result: (verdicts == Verdicts::Answered).then_some(ORIGINAL_LIST),
        changed_since: filter.changed_since.map(timestamp::format),
        ranges,
    }))
}

/// Up to `limit` results newest change first, after `after`.
pub(crate) async fn verdict_page(
    conn: &mut SqliteConnection,
    f: &VerdictFilter,
    after: Option<ChangeKey>,
    limit: u32,
) -> Result<Vec<FoundLookup>, StoreError> {
    let (after_at, after_address) = match after {
        Some(key) => (timestamp::format(key.updated_at), key.address.to_string()),
        None => (BEFORE_ALL_CHANGES.to_owned(), String::new()),
    };
    // Each statement takes ?1 the counted lists other than ZEN, for the lists that list
    // each row it returns (a page's rows only).
    let rows = match (&f.ranges, f.verdicts) {
        // The page's keys from the address index alone, then their rows.
        (Some(ranges), _) => {
            page!(
                r#"FROM lookups AS l
                   WHERE l.ip_address IN (
                       SELECT k.ip_address
                       FROM json_each(?2) AS g
                       JOIN lookups AS k INDEXED BY lookups_by_address
                         ON k.address_key BETWEEN g.value ->> 0 AND g.value ->> 1
                       WHERE (?3 IS NULL OR k.verdict BETWEEN ?3 AND ?4)
                         AND (?9 IS NULL OR k.verdict IS NOT NULL
                              OR EXISTS (SELECT 1 FROM list_results AS z
                                         WHERE z.target = k.ip_address
                                           AND z.blocklist = ?9))
                         AND k.updated_at >= coalesce(?5, '')
                         AND (k.updated_at, k.ip_address) < (?6, ?7)
                       ORDER BY k.updated_at DESC, k.ip_address DESC LIMIT ?8)
                   ORDER BY l.updated_at DESC, l.ip_address DESC"#,
                f.others,
                ranges,
                f.low,
                f.high,
                f.changed_since,
                after_at,
                after_address,
                limit,
                f.zen_result
            )
            .fetch_all(&mut *conn)
            .await?
        }
        (None, Verdicts::Listed | Verdicts::NotListed) => {
            page!(
                r#"FROM lookups AS l INDEXED BY lookups_by_verdict
                   WHERE l.verdict = ?2
                     AND l.updated_at >= coalesce(?3, '')
                     AND (l.updated_at, l.ip_address) < (?4, ?5)
                   ORDER BY l.updated_at DESC, l.ip_address DESC LIMIT ?6"#,
                f.others,
                f.low,
                f.changed_since,
                after_at,
                after_address,
                limit
            )
            .fetch_all(&mut *conn)
            .await?
        }
        // Any result, or any ZEN has a result for: nearly every row, tested as walked.
        (None, Verdicts::Any | Verdicts::Answered) => {
            page!(
                r#"FROM lookups AS l INDEXED BY lookups_by_change
                   WHERE (?2 IS NULL OR l.verdict IS NOT NULL
                          OR EXISTS (SELECT 1 FROM list_results AS z
                                     WHERE z.target = l.ip_address AND z.blocklist = ?2))
                     AND l.updated_at >= coalesce(?3, '')
                     AND (l.updated_at, l.ip_address) < (?4, ?5)
                   ORDER BY l.updated_at DESC, l.ip_address DESC LIMIT ?6"#,
                f.others,
                f.zen_result,
                f.changed_since,
                after_at,
                after_address,
                limit
            )
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.into_iter().map(VerdictRow::read).collect()
}

/// How many results the filter finds.
pub(crate) async fn verdict_count(
    conn: &mut SqliteConnection,
    f: &VerdictFilter,
) -> Result<i64, StoreError> {
    Ok(match (&f.ranges, f.verdicts) {
        (Some(ranges), _) => {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!: i64"
                   FROM json_each(?1) AS g
                   JOIN lookups AS k INDEXED BY lookups_by_address
                     ON k.address_key BETWEEN g.value ->> 0 AND g.value ->> 1
                   WHERE (?2 IS NULL OR k.verdict BETWEEN ?2 AND ?3)
                     AND (?5 IS NULL OR k.verdict IS NOT NULL
                          OR EXISTS (SELECT 1 FROM list_results AS z
                                     WHERE z.target = k.ip_address AND z.blocklist = ?5))
                     AND k.updated_at >= coalesce(?4, '')"#,
                ranges,
                f.low,
                f.high,
                f.changed_since,
                f.zen_result
            )
            .fetch_one(&mut *conn)
            .await?
        }
        // Most results, counted as all less the others: the table's count reads only its
        // smallest index's pages (benches/filters.rs: 16 ms where counting 980,000
        // not-listed entries took 32-50). The rest are few: listings, and results without
        // a verdict (less, for ZEN's results, those of only failed attempts).
        (None, Verdicts::NotListed | Verdicts::Answered) if f.changed_since.is_none() => {
            sqlx::query_scalar!(
                r#"SELECT (SELECT count(*) FROM lookups)
                          - (SELECT count(*) FROM lookups AS n INDEXED BY lookups_by_verdict
                             WHERE n.verdict IS NULL
                               AND NOT (?1 IS NOT NULL
                                        AND EXISTS (SELECT 1 FROM list_results AS z
                                                    WHERE z.target = n.ip_address
                                                      AND z.blocklist = ?1)))
                          - (SELECT count(*) FROM lookups
                             WHERE verdict = 1 AND ?1 IS NULL) AS "count!: i64""#,
                f.zen_result
            )
            .fetch_one(&mut *conn)
            .await?
        }
        // Each verdict's entries are one range of the index, narrowed by the instant.
        (None, Verdicts::Listed | Verdicts::NotListed) => {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!: i64" FROM lookups INDEXED BY lookups_by_verdict
                   WHERE verdict IN (?1, ?2)
                     AND updated_at >= coalesce(?3, '')"#,
                f.low,
                f.high,
                f.changed_since
            )
            .fetch_one(&mut *conn)
            .await?
        }
        (None, Verdicts::Any | Verdicts::Answered) => {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!: i64" FROM lookups AS l
                   WHERE l.updated_at >= coalesce(?1, '')
                     AND (?2 IS NULL OR l.verdict IS NOT NULL
                          OR EXISTS (SELECT 1 FROM list_results AS z
                                     WHERE z.target = l.ip_address AND z.blocklist = ?2))"#,
                f.changed_since,
                f.zen_result
            )
            .fetch_one(&mut *conn)
            .await?
        }
    })
}
