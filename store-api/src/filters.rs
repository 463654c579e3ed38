//! Finding stored address results by what they say: listed or not, on which list, in which
//! watchlist or range, changed since when. Pages come newest change first (for people) or in
//! address order (for exports, whose keyset never moves while rows change under it).

use async_trait::async_trait;
use secworks_dnsbl::{Address, AddressRange};
use time::OffsetDateTime;

use crate::{LookupRecord, StoreError, WatchlistName};

/// Reads a stored address's text.
pub fn read_address(text: &str) -> Result<Address, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Unreadable(format!("address {text:?} of a lookup")))
}

/// Which results to find. Every filter set must hold; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupFilter {
    /// The IP lists that count (the enabled ones): a result is listed when one of them lists
    /// it now, not listed when one of them answered and none lists it.
    pub lists: Vec<String>,
    /// Listed (or not); with [`LookupFilter::blocklist`], on that list.
    pub listed: Option<bool>,
    /// Has a result from this list (one of [`LookupFilter::lists`]).
    pub blocklist: Option<String>,
    /// Among the targets of this watchlist (as they are now).
    pub watchlist: Option<WatchlistName>,
    /// Within this range.
    pub within: Option<AddressRange>,
    /// Changed (`updated_at`) at or after this instant.
    pub changed_since: Option<OffsetDateTime>,
}

/// Where a page in newest-change-first order starts: after this result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeKey {
    pub updated_at: OffsetDateTime,
    pub address: Address,
}

/// A result found, with what the counted lists say of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLookup {
    pub record: LookupRecord,
    /// The counted lists that list it now, in id order.
    pub listed_on: Vec<String>,
    /// Whether one of the counted lists answered about it (listed or not).
    pub answered: bool,
}

impl FoundLookup {
    /// A found row as the backends' queries give it: the record, whether the original list
    /// lists it (read from `response_code`, `original` its id when counted), the other counted
    /// lists that list it (`listed_on` column, see [`FoundLookup::read_lists`]), and whether one
    /// of them answered.
    pub fn from_row(
        record: LookupRecord,
        original: Option<&str>,
        original_listed: bool,
        others_listed: Option<String>,
        answered: bool,
    ) -> Self {
        let mut listed_on = Self::read_lists(others_listed);
        if let (true, Some(original)) = (original_listed, original) {
            listed_on.push(original.to_owned());
            listed_on.sort();
        }
        Self {
            record,
            listed_on,
            answered,
        }
    }

    /// Listed, not listed, or unknown (no counted list answered), as `Lookup.listed` says.
    pub fn listed(&self) -> Option<bool> {
        if !self.listed_on.is_empty() {
            Some(true)
        } else if self.answered {
            Some(false)
        } else {
            None
        }
    }

    /// Reads the `listed_on` column: list ids separated by spaces (`group_concat`,
    /// `string_agg`), possibly none.
    fn read_lists(column: Option<String>) -> Vec<String> {
        let mut lists: Vec<String> = column
            .unwrap_or_default()
            .split(' ')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        lists.sort();
        lists.dedup();
        lists
    }
}

/// The state of the latest lookup job of one list for one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    Done,
    Failed,
}

impl JobState {
    /// Reads a job row's `state` column.
    pub fn read(state: &str) -> Result<Self, StoreError> {
        match state {
            "pending" => Ok(Self::Pending),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Unreadable(format!("job state {other:?}"))),
        }
    }
}

/// Stored results by filter, and where each address's lookups stand.
#[async_trait]
pub trait FilteredLookups: Send + Sync {
    /// Up to `limit` results the filter finds, newest change (`updated_at`) first, then by
    /// address text descending; after `after` when given. The watchlist, if any, must exist:
    /// a missing one finds nothing.
    async fn lookups_by_change(
        &self,
        filter: &LookupFilter,
        after: Option<ChangeKey>,
        limit: u32,
    ) -> Result<Vec<FoundLookup>, StoreError>;

    /// Up to `limit` results the filter finds in address order (IPv4 before IPv6, each by
    /// number), after `after` when given: what an export reads, chunk by chunk.
    async fn lookups_by_address(
        &self,
        filter: &LookupFilter,
        after: Option<Address>,
        limit: u32,
    ) -> Result<Vec<FoundLookup>, StoreError>;

    /// How many results the filter finds.
    async fn count_lookups(&self, filter: &LookupFilter) -> Result<u64, StoreError>;

    /// For each of `addresses` and each list, the state of the latest lookup job, in address
    /// text and list id order; addresses never queued have none.
    async fn job_states(
        &self,
        addresses: &[Address],
    ) -> Result<Vec<(Address, String, JobState)>, StoreError>;
}

/// How the backends find candidates: from a set the filter names (small), or by walking all
/// results in order (when no filter narrows them). Chosen by the most selective filter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// The targets of the watchlist.
    Watchlist,
    /// The addresses of the range.
    Within,
    /// The results some counted list lists now.
    Listed,
    /// Every result.
    All,
}

/// An index a filter's count can be read from alone, when the filter sets nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountedBy {
    /// Results within the range: the address index.
    Range(AddressRange),
    /// Results changed since the instant: the `updated_at` index.
    ChangedSince(OffsetDateTime),
    /// Results the original list lists, when it is the only counted list: its partial index.
    OriginalListed,
}

/// More candidates than this, and a page is found by walking the results in the page's order
/// and testing each (the matches are dense enough to come soon), rather than by collecting and
/// sorting every candidate (which the few are cheap to).
pub const FEW_CANDIDATES: i64 = 2_000;

impl LookupFilter {
    /// The index its count can be read from alone, if any.
    pub fn counted_by(&self) -> Option<CountedBy> {
        let only_original = self.lists.len() == 1 && self.lists[0] == crate::ORIGINAL_LIST;
        match self {
            LookupFilter {
                listed: None,
                blocklist: None,
                watchlist: None,
                within: Some(range),
                changed_since: None,
                ..
            } => Some(CountedBy::Range(*range)),
            LookupFilter {
                listed: None,
                blocklist: None,
                watchlist: None,
                within: None,
                changed_since: Some(since),
                ..
            } => Some(CountedBy::ChangedSince(*since)),
            LookupFilter {
                listed: Some(true),
                blocklist,
                watchlist: None,
                within: None,
                changed_since: None,
                ..
            } if only_original
                && blocklist
                    .as_deref()
                    .is_none_or(|id| id == crate::ORIGINAL_LIST) =>
            {
                Some(CountedBy::OriginalListed)
            }
            _ => None,
        }
    }

    /// Whether nothing narrows it: every stored result is found.
    pub fn is_open(&self) -> bool {
        self.listed.is_none()
            && self.blocklist.is_none()
            && self.watchlist.is_none()
            && self.within.is_none()
            && self.changed_since.is_none()
    }

    /// The driver for this filter; the other filters are checked on each candidate.
    pub fn driver(&self) -> Driver {
        if self.watchlist.is_some() {
            Driver::Watchlist
        } else if self.within.is_some() {
            Driver::Within
        } else if self.listed == Some(true) {
            Driver::Listed
        } else {
            Driver::All
        }
    }
}

impl Driver {
    /// The name the backends' queries test for (`?mode = 'within'`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Watchlist => "watchlist",
            Self::Within => "within",
            Self::Listed => "listed",
            Self::All => "all",
        }
    }
}
