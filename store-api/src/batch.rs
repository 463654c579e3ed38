//! For backends: what a batch of job outcomes writes, worked out once, and how a list result's
//! columns are read back. Every backend stores a batch with a few set-wise statements; the rows
//! they take are computed here, so that both mean the same.
//!
//! An upsert touches each row once (PostgreSQL refuses a second touch in one statement), so of
//! one key's outcomes in a batch one goes in: the latest, and of equal instants the last given,
//! which is what applying them one by one would leave.

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};

use secworks_dnsbl::{Address, Target};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::{
    Evidence, JobOutcome, JobResult, ListAnswer, ListResultRecord, ListState, NOT_LOOKED_UP,
    ORIGINAL_LIST, Outcome, StoreError, Verdict,
};

/// The stored text of a list result's state.
pub fn state_text(state: ListState) -> &'static str {
    match state {
        ListState::Answered(Verdict::Listed) => "listed",
        ListState::Answered(Verdict::NotListed) => "not_listed",
        ListState::Unknown => "unknown",
    }
}

/// Return codes as stored: numeric order as given, joined by `,`; empty for none.
pub fn return_codes_text(codes: &[Ipv4Addr]) -> String {
    codes
        .iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`return_codes_text`] back, or [`StoreError::Unreadable`].
pub fn read_return_codes(text: &str) -> Result<Vec<Ipv4Addr>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(str::parse)
        .collect::<Result<Vec<Ipv4Addr>, _>>()
        .map_err(|_| StoreError::Unreadable(format!("return codes {text:?}")))
}

/// A list result as its columns hold it, for [`ListResultColumns::read`]. (SQLite's backend
/// reads its text instants and 0/1 flags into these first.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResultColumns {
    pub blocklist: String,
    pub state: String,
    pub return_codes: String,
    pub reason: Option<String>,
    pub checked_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub resolver: Option<String>,
    pub query_name: Option<String>,
    pub rcode: Option<String>,
    pub ttl: Option<i64>,
    pub test_points_passed: Option<bool>,
    pub answered_at: Option<OffsetDateTime>,
}

impl ListResultColumns {
    /// The record, or [`StoreError::Unreadable`] for columns secworks would not have written.
    pub fn read(self) -> Result<ListResultRecord, StoreError> {
        let unreadable = |what: String| StoreError::Unreadable(what);
        let state = match self.state.as_str() {
            "listed" => ListState::Answered(Verdict::Listed),
            "not_listed" => ListState::Answered(Verdict::NotListed),
            "unknown" => ListState::Unknown,
            other => return Err(unreadable(format!("list result state {other:?}"))),
        };
        let return_codes = read_return_codes(&self.return_codes)?;
        let evidence = match (
            self.resolver,
            self.query_name,
            self.rcode,
            self.test_points_passed,
            self.answered_at,
        ) {
            (None, None, None, None, None) if self.ttl.is_none() => None,
            (Some(resolver), Some(query_name), Some(rcode), Some(passed), Some(answered_at)) => {
                Some(Evidence {
                    resolver: resolver.parse::<SocketAddr>().map_err(|_| {
                        unreadable(format!("resolver {resolver:?}, not an address and port"))
                    })?,
                    query_name,
                    rcode,
                    ttl: self
                        .ttl
                        .map(u32::try_from)
                        .transpose()
                        .map_err(|_| unreadable(format!("TTL {:?}", self.ttl)))?,
                    test_points_passed: passed,
                    answered_at,
                })
            }
            _ => {
                return Err(unreadable(
                    "evidence with some of its columns unset".to_owned(),
                ));
            }
        };
        Ok(ListResultRecord {
            blocklist: self.blocklist,
            state,
            return_codes,
            reason: self.reason,
            checked_at: self.checked_at,
            expires_at: self.expires_at,
            last_error: self.last_error,
            evidence,
        })
    }
}

/// The UTC day of an instant, as query counts are kept.
pub fn utc_day(at: OffsetDateTime) -> Date {
    at.to_offset(UtcOffset::UTC).date()
}

/// The queries of every outcome (also of those dropped: they were sent), summed per list and
/// UTC day of `at`, in (list, day) order; days without queries left out.
pub fn query_counts(outcomes: &[JobOutcome]) -> Vec<(&str, Date, u64)> {
    let mut counts: BTreeMap<(&str, Date), u64> = BTreeMap::new();
    for outcome in outcomes.iter().filter(|o| o.queries > 0) {
        let slot = counts
            .entry((outcome.blocklist.as_str(), utc_day(outcome.at)))
            .or_default();
        *slot = slot.saturating_add(outcome.queries);
    }
    counts
        .into_iter()
        .map(|((list, day), queries)| (list, day, queries))
        .collect()
}

/// The queries of every outcome, summed per list and UTC hour of `at` (see [`query_counts`]),
/// in (list, hour) order: what `blocklist_query_hours` adds in the same transaction.
pub fn hourly_query_counts(outcomes: &[JobOutcome]) -> Vec<(&str, OffsetDateTime, u64)> {
    let mut counts: BTreeMap<(&str, OffsetDateTime), u64> = BTreeMap::new();
    for outcome in outcomes.iter().filter(|o| o.queries > 0) {
        let slot = counts
            .entry((outcome.blocklist.as_str(), crate::utc_hour(outcome.at)))
            .or_default();
        *slot = slot.saturating_add(outcome.queries);
    }
    counts
        .into_iter()
        .map(|((list, hour), queries)| (list, hour, queries))
        .collect()
}

/// An answer as `list_results` gets it.
#[derive(Debug, Clone, Copy)]
pub struct AnswerRow<'a> {
    pub outcome: &'a JobOutcome,
    pub answer: &'a ListAnswer,
}

impl<'a> AnswerRow<'a> {
    pub fn target(&self) -> String {
        self.outcome.target.to_string()
    }

    pub fn blocklist(&self) -> &'a str {
        &self.outcome.blocklist
    }

    pub fn state(&self) -> &'static str {
        state_text(ListState::Answered(self.answer.verdict))
    }

    pub fn return_codes(&self) -> String {
        return_codes_text(&self.answer.return_codes)
    }

    /// The address's `response_code` text, when this is the original list's answer about an
    /// address.
    pub fn response_code(&self) -> Option<String> {
        (self.outcome.blocklist == ORIGINAL_LIST && matches!(self.outcome.target, Target::Ip(_)))
            .then(|| original_outcome(self.answer).response_code())
    }
}

/// The original contract's reading of an answer.
fn original_outcome(answer: &ListAnswer) -> Outcome {
    match answer.verdict {
        Verdict::Listed => Outcome::Listed(answer.return_codes.clone()),
        Verdict::NotListed => Outcome::NotListed,
    }
}

/// The record row of an address or a domain: created at the first answer given about it,
/// updated to the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// The address's or domain's text.
    pub key: String,
    /// The address, for an address's row.
    pub address: Option<Address>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// For an address: the original list's answer, if this batch's is now its current one,
    /// else [`NOT_LOOKED_UP`], which an upsert writes only to a new row (an existing row keeps
    /// its `response_code`).
    pub response_code: String,
}

/// The answers of a batch whose jobs still held their claims.
pub struct HeldAnswers<'a> {
    held: Vec<AnswerRow<'a>>,
}

impl<'a> HeldAnswers<'a> {
    /// The answers among `outcomes` whose job is in `held`, in the order given.
    pub fn new(outcomes: impl IntoIterator<Item = &'a JobOutcome>, held: &HashSet<i64>) -> Self {
        let held = outcomes
            .into_iter()
            .filter(|o| held.contains(&o.job_id))
            .filter_map(|outcome| match &outcome.result {
                JobResult::Answer(answer) => Some(AnswerRow { outcome, answer }),
                _ => None,
            })
            .collect();
        Self { held }
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// One row per (target, list) for `list_results`, in (target, list) order: the latest
    /// answer by [`Evidence::answered_at`]. Its upsert replaces a stored answer only with one
    /// at least as new, and returns the keys it wrote, for [`HeldAnswers::addresses`].
    pub fn results(&self) -> Vec<AnswerRow<'a>> {
        let mut latest: BTreeMap<(String, &str), AnswerRow<'a>> = BTreeMap::new();
        for row in &self.held {
            let key = (row.target(), row.outcome.blocklist.as_str());
            match latest.get(&key) {
                Some(kept)
                    if kept.answer.evidence.answered_at > row.answer.evidence.answered_at => {}
                _ => {
                    latest.insert(key, *row);
                }
            }
        }
        latest.into_values().collect()
    }

    /// The lists other than the original that answer about an address here, each once: what
    /// a backend keeping an all-lists verdict records as answering (SQLite's
    /// `answering_lists`).
    pub fn answering_lists(&self) -> Vec<&'a str> {
        let lists: std::collections::BTreeSet<&'a str> = self
            .held
            .iter()
            .filter(|row| matches!(row.outcome.target, Target::Ip(_)))
            .map(|row| row.outcome.blocklist.as_str())
            .filter(|list| *list != ORIGINAL_LIST)
            .collect();
        lists.into_iter().collect()
    }

    /// History rows: every original-list answer about an address, in the order given, as
    /// (address, at, response code).
    pub fn history(&self) -> Vec<(String, OffsetDateTime, String)> {
        self.held
            .iter()
            .filter_map(|row| Some((row.target(), row.outcome.at, row.response_code()?)))
            .collect()
    }

    /// The `lookups` rows, one per address, in address text order. `current` holds the
    /// addresses whose original-list answer in [`HeldAnswers::results`] the `list_results`
    /// upsert wrote: only that answer becomes the address's `response_code`.
    pub fn addresses(&self, current: &HashSet<String>) -> Vec<RecordRow> {
        let mut rows = self.records(|target| matches!(target, Target::Ip(_)));
        for result in self.results() {
            let target = result.target();
            if let (Some(code), Some(row)) = (result.response_code(), rows.get_mut(&target))
                && current.contains(&target)
            {
                row.response_code = code;
            }
        }
        rows.into_values().collect()
    }

    /// The `domain_lookups` rows, one per domain, in text order.
    pub fn domains(&self) -> Vec<RecordRow> {
        self.records(|target| matches!(target, Target::Domain(_)))
            .into_values()
            .collect()
    }

    fn records(&self, kind: impl Fn(&Target) -> bool) -> BTreeMap<String, RecordRow> {
        let mut rows: BTreeMap<String, RecordRow> = BTreeMap::new();
        for row in self.held.iter().filter(|row| kind(&row.outcome.target)) {
            let at = row.outcome.at;
            rows.entry(row.target())
                .and_modify(|record| record.updated_at = record.updated_at.max(at))
                .or_insert_with(|| RecordRow {
                    key: row.target(),
                    address: match &row.outcome.target {
                        Target::Ip(address) => Some(*address),
                        Target::Domain(_) => None,
                    },
                    created_at: at,
                    updated_at: at,
                    response_code: NOT_LOOKED_UP.to_owned(),
                });
        }
        rows
    }
}

/// A failed attempt as `list_results` gets it.
#[derive(Debug, Clone)]
pub struct ErrorRow<'a> {
    pub target: String,
    pub blocklist: &'a str,
    pub at: OffsetDateTime,
    pub error: &'a str,
    pub evidence: Option<&'a Evidence>,
}

/// One row per (target, list) for `list_results`, in (target, list) order, of the failed
/// attempts (retries and failures) among `outcomes` whose job is in `held`: the latest by
/// `at`. Its upsert makes a new row `unknown` with the attempt's error and evidence; on an
/// unknown row it replaces both; on a stored answer it sets only `last_error`.
pub fn latest_errors<'a>(
    outcomes: impl IntoIterator<Item = &'a JobOutcome>,
    held: &HashSet<i64>,
) -> Vec<ErrorRow<'a>> {
    let mut latest: BTreeMap<(String, &str), ErrorRow<'a>> = BTreeMap::new();
    for outcome in outcomes.into_iter().filter(|o| held.contains(&o.job_id)) {
        let (error, evidence) = match &outcome.result {
            JobResult::Retry {
                error, evidence, ..
            }
            | JobResult::Fail { error, evidence } => (error, evidence),
            JobResult::Answer(_) | JobResult::Release => continue,
        };
        let row = ErrorRow {
            target: outcome.target.to_string(),
            blocklist: &outcome.blocklist,
            at: outcome.at,
            error,
            evidence: evidence.as_ref(),
        };
        let key = (row.target.clone(), row.blocklist);
        match latest.get(&key) {
            Some(kept) if kept.at > row.at => {}
            _ => {
                latest.insert(key, row);
            }
        }
    }
    latest.into_values().collect()
}

/// Whether a failed attempt is written to the address's history: the original list's, about
/// an address.
pub fn has_history(outcome: &JobOutcome) -> bool {
    outcome.blocklist == ORIGINAL_LIST && matches!(outcome.target, Target::Ip(_))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn evidence(at: OffsetDateTime) -> Evidence {
        Evidence {
            resolver: "127.0.0.1:53".parse().unwrap(),
            query_name: "2.0.0.127.zen.spamhaus.org".to_owned(),
            rcode: "NOERROR".to_owned(),
            ttl: Some(60),
            test_points_passed: true,
            answered_at: at,
        }
    }

    fn answered(id: i64, target: &str, list: &str, code: u8, at: OffsetDateTime) -> JobOutcome {
        JobOutcome {
            job_id: id,
            lease_token: "t".to_owned(),
            target: Target::parse(target).unwrap(),
            blocklist: list.to_owned(),
            at,
            result: JobResult::Answer(ListAnswer {
                verdict: Verdict::Listed,
                return_codes: vec![Ipv4Addr::new(127, 0, 0, code)],
                reason: None,
                expires_at: at,
                evidence: evidence(at),
            }),
            queries: 1,
        }
    }

    #[test]
    fn answers_reduce_to_the_latest_per_key_and_records_span_the_batch() {
        let (t1, t2, t3) = (
            datetime!(2024-01-01 00:00:01 UTC),
            datetime!(2024-01-01 00:00:02 UTC),
            datetime!(2024-01-01 00:00:03 UTC),
        );
        let outcomes = [
            answered(1, "192.0.2.1", ORIGINAL_LIST, 10, t2),
            answered(2, "192.0.2.1", ORIGINAL_LIST, 2, t1),
            answered(3, "192.0.2.1", "spamcop", 2, t3),
            answered(4, "example.com", "spamhaus-dbl", 2, t2),
            answered(5, "192.0.2.9", ORIGINAL_LIST, 4, t1),
        ];
        let held: HashSet<i64> = [1, 2, 3, 4].into();
        let batch = HeldAnswers::new(&outcomes, &held);
        let results: Vec<_> = batch
            .results()
            .iter()
            .map(|r| (r.target(), r.blocklist().to_owned(), r.return_codes()))
            .collect();
        assert_eq!(
            results,
            [
                ("192.0.2.1".into(), "spamcop".into(), "127.0.0.2".into()),
                (
                    "192.0.2.1".into(),
                    ORIGINAL_LIST.into(),
                    "127.0.0.10".into()
                ),
                (
                    "example.com".into(),
                    "spamhaus-dbl".into(),
                    "127.0.0.2".into()
                ),
            ]
        );
        assert_eq!(batch.history().len(), 2);
        let current: HashSet<String> = ["192.0.2.1".to_owned()].into();
        assert_eq!(
            batch.addresses(&current),
            [RecordRow {
                key: "192.0.2.1".into(),
                address: "192.0.2.1".parse().ok(),
                created_at: t2,
                updated_at: t3,
                response_code: "127.0.0.10".into()
            }]
        );
        assert_eq!(
            batch.addresses(&HashSet::new())[0].response_code,
            NOT_LOOKED_UP
        );
        assert_eq!(batch.domains()[0].key, "example.com");
    }

    #[test]
    fn queries_are_summed_per_list_and_utc_day() {
        let mut late = answered(
            1,
            "192.0.2.1",
            "spamcop",
            2,
            datetime!(2024-01-01 23:59 -01:00),
        );
        late.queries = 2;
        let outcomes = [
            late,
            answered(
                2,
                "192.0.2.2",
                "spamcop",
                2,
                datetime!(2024-01-02 00:01 UTC),
            ),
            answered(
                3,
                "192.0.2.3",
                ORIGINAL_LIST,
                2,
                datetime!(2024-01-01 12:00 UTC),
            ),
        ];
        assert_eq!(
            query_counts(&outcomes),
            [
                ("spamcop", date!(2024 - 01 - 02), 3),
                (ORIGINAL_LIST, date!(2024 - 01 - 01), 1),
            ]
        );
        // The same queries per UTC hour: 23:59 at -01:00 is in the hour of 00:00 UTC.
        assert_eq!(
            hourly_query_counts(&outcomes),
            [
                ("spamcop", datetime!(2024-01-02 00:00 UTC), 3),
                (ORIGINAL_LIST, datetime!(2024-01-01 12:00 UTC), 1),
            ]
        );
    }

    #[test]
    fn stored_columns_read_back_or_are_unreadable() {
        let at = datetime!(2024-01-01 00:00 UTC);
        let columns = ListResultColumns {
            blocklist: "spamcop".to_owned(),
            state: "listed".to_owned(),
            return_codes: return_codes_text(&[
                Ipv4Addr::new(127, 0, 0, 2),
                Ipv4Addr::new(127, 0, 0, 4),
            ]),
            reason: Some("why".to_owned()),
            checked_at: Some(at),
            expires_at: Some(at),
            last_error: None,
            resolver: Some("[2001:db8::1]:53".to_owned()),
            query_name: Some("q".to_owned()),
            rcode: Some("NOERROR".to_owned()),
            ttl: Some(60),
            test_points_passed: Some(true),
            answered_at: Some(at),
        };
        let record = columns.clone().read().unwrap();
        assert_eq!(columns.return_codes, "127.0.0.2,127.0.0.4");
        assert_eq!(record.return_codes.len(), 2);
        assert_eq!(record.evidence.unwrap().resolver.port(), 53);
        for bad in [
            ListResultColumns {
                return_codes: "127.0.0.2, 127.0.0.4".to_owned(),
                ..columns.clone()
            },
            ListResultColumns {
                state: "maybe".to_owned(),
                ..columns.clone()
            },
            ListResultColumns {
                resolver: Some("localhost".to_owned()),
                ..columns.clone()
            },
            ListResultColumns {
                rcode: None,
                ..columns.clone()
            },
        ] {
            assert!(matches!(bad.read(), Err(StoreError::Unreadable(_))));
        }
    }
}
