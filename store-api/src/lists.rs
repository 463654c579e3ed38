//! Each blocklist's answer for each target (address or domain), the domains looked up, and how
//! many queries each list was sent per UTC day.

use std::net::{Ipv4Addr, SocketAddr};

use async_trait::async_trait;
use secworks_dnsbl::{Domain, Target};
use time::{Date, Duration, OffsetDateTime};

use crate::StoreError;

/// The catalogue id of the list whose answers are also the original `lookups` contract
/// (`response_code`, `history`): Spamhaus ZEN.
pub const ORIGINAL_LIST: &str = secworks_dnsbl::DEFAULT_ENABLED;

/// The `response_code` of an address that [`ORIGINAL_LIST`] never answered about: the
/// original contract's text for "no result". An address's record is made by the first list
/// that answers about it; when that is another list, this is its `response_code` until the
/// original list answers.
pub const NOT_LOOKED_UP: &str = "No records found.";

/// How long hourly query counts are kept: a week and a day, so a week back from any hour
/// today is complete.
pub const HOURLY_QUERIES_KEPT: Duration = Duration::days(8);

/// How many queries one list was sent in one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyQueries {
    /// When the hour begins.
    pub hour: OffsetDateTime,
    /// The catalogue id.
    pub blocklist: String,
    pub queries: u64,
}

/// The start of an instant's UTC hour, as hourly counts are kept.
pub fn utc_hour(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_time(time::Time::MIDNIGHT) + Duration::hours(i64::from(at.hour()))
}

/// What a list's answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Listed,
    NotListed,
}

/// How an answer (or a failed attempt) was obtained: what shows that a result is what the list
/// said, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The DNS server asked.
    pub resolver: SocketAddr,
    /// The query name, with any account key replaced by `<key>`.
    pub query_name: String,
    /// The response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, …), or `NO_RESPONSE`.
    pub rcode: String,
    /// The answer's TTL in seconds (the negative TTL for NXDOMAIN), if it had one.
    pub ttl: Option<u32>,
    /// Whether the list's test points passed when it was asked.
    pub test_points_passed: bool,
    /// When the answer came (or the attempt failed).
    pub answered_at: OffsetDateTime,
}

/// A list's real answer about a target: what becomes its current result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAnswer {
    pub verdict: Verdict,
    /// The A records, in numeric order; empty when not listed.
    pub return_codes: Vec<Ipv4Addr>,
    /// The list's TXT record, when it publishes one and the target is listed.
    pub reason: Option<String>,
    /// Until when the answer is fresh (its TTL, clamped).
    pub expires_at: OffsetDateTime,
    pub evidence: Evidence,
}

/// What is stored as a list's current state for a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListState {
    /// The list answered; see [`ListResultRecord::verdict`].
    Answered(Verdict),
    /// The list was asked and has only failed: nothing it said can be shown.
    Unknown,
}

/// One list's current result for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResultRecord {
    /// The catalogue id.
    pub blocklist: String,
    pub state: ListState,
    /// The A records of the current answer, numeric order; empty unless listed.
    pub return_codes: Vec<Ipv4Addr>,
    pub reason: Option<String>,
    /// When the current answer came; `None` while [`ListState::Unknown`].
    pub checked_at: Option<OffsetDateTime>,
    /// Until when the current answer is fresh; `None` while [`ListState::Unknown`].
    pub expires_at: Option<OffsetDateTime>,
    /// Why the latest attempt failed, if it did (an answer before it stays current).
    pub last_error: Option<String>,
    /// How the current answer was obtained; while [`ListState::Unknown`], how the latest
    /// failed attempt went.
    pub evidence: Option<Evidence>,
}

/// A domain that has been looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub domain: Domain,
    pub created_at: OffsetDateTime,
    /// When a list last answered about it.
    pub updated_at: OffsetDateTime,
}

/// Per-list results, domains, and per-list query counts.
#[async_trait]
pub trait ListResults: Send + Sync {
    /// Every list's current result for `target`, in list id order.
    async fn list_results(&self, target: &Target) -> Result<Vec<ListResultRecord>, StoreError> {
        let results = self.list_results_of(std::slice::from_ref(target)).await?;
        Ok(results.into_iter().map(|(_, result)| result).collect())
    }

    /// Every list's current result for each of `targets` (a page of them, in one read), with
    /// the target's canonical text, in target text and list id order.
    async fn list_results_of(
        &self,
        targets: &[Target],
    ) -> Result<Vec<(String, ListResultRecord)>, StoreError>;

    /// The record of a domain; `None` if no list ever answered about it.
    async fn domain(&self, domain: &Domain) -> Result<Option<DomainRecord>, StoreError>;

    /// Adds `queries` sent `at` to what `blocklist` was sent on that UTC day and in that UTC
    /// hour, in one transaction. Shared by every replica on the database, which is what makes
    /// a daily budget hold across them. Also purges the hourly counts older than
    /// [`HOURLY_QUERIES_KEPT`] before `at` (the test-point checks that call this run
    /// periodically on every list, so the purge runs often enough and off the lookup path).
    async fn count_queries(
        &self,
        blocklist: &str,
        at: OffsetDateTime,
        queries: u64,
    ) -> Result<(), StoreError>;

    /// The hourly query counts of the UTC hours that begin at or after `since`'s hour, by hour
    /// then list id (bytewise); hours and lists without queries are left out.
    async fn queries_by_hour(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<HourlyQueries>, StoreError>;

    /// How many queries each list was sent on `day` (UTC), for the lists that were sent any.
    async fn queries_on(&self, day: Date) -> Result<Vec<(String, u64)>, StoreError>;

    /// Of `targets` (canonical text), those `blocklist` lists now: the answers about them
    /// that say "not listed" would be delistings.
    async fn listed_among(
        &self,
        blocklist: &str,
        targets: &[String],
    ) -> Result<Vec<String>, StoreError>;
}
