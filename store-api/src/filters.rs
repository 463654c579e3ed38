//! Finding stored address results by what they say: listed or not, on which list, in which
//! watchlist or range, changed since when. Pages come newest change first (for people) or in
//! address order (for exports, whose keyset never moves while rows change under it).

use std::collections::BTreeSet;

use async_trait::async_trait;
use ipnet::IpNet;
use secworks_dnsbl::{Address, AddressRange, NOT_LISTED_RESPONSE};
use time::OffsetDateTime;

use crate::{LookupRecord, StoreError, WatchEntry, WatchlistName};

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
    /// Results the original list lists, when it is the only counted list: its index of listings.
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

    /// Which kept verdicts it accepts, when the verdict kept over every list that answered
    /// (`answering`: the lists other than the original that have answered about an address)
    /// decides it: the original list counts, so does each answering list, and `blocklist`
    /// names nothing, or the original list while it is the only one that answered. `None`
    /// when a list that answered does not count, or `blocklist` names another list: then each
    /// result is tested.
    pub fn kept_verdicts(&self, answering: &[String]) -> Option<Verdicts> {
        let counts = |id: &str| self.lists.iter().any(|list| list == id);
        let named_ok = match self.blocklist.as_deref() {
            None => true,
            Some(id) => id == crate::ORIGINAL_LIST && answering.is_empty(),
        };
        if !counts(crate::ORIGINAL_LIST) || !answering.iter().all(|id| counts(id)) || !named_ok {
            return None;
        }
        Some(match (self.listed, self.blocklist.is_some()) {
            (Some(true), _) => Verdicts::Listed,
            (Some(false), _) => Verdicts::NotListed,
            (None, true) => Verdicts::Answered,
            (None, false) => Verdicts::Any,
        })
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

/// Which verdicts a filter accepts when the verdict a backend keeps for each address decides
/// it (see [`LookupFilter::kept_verdicts`]). SQLite keeps `lookups.verdict`, over every list
/// that answered, in indexed columns, and finds such results by index ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdicts {
    /// Every result, answered or not.
    Any,
    /// Results ZEN has a result for (`blocklist` names it, no other list answered): an
    /// answer, or only failed attempts, as `LookupFilter.blocklist` says.
    Answered,
    /// Results a counted list lists.
    Listed,
    /// Results a counted list answered about and none lists.
    NotListed,
}

impl Verdicts {
    /// The verdicts accepted as the kept column has them (0 not listed, 1 listed), lowest and
    /// highest; `None` for [`Verdicts::Any`], which accepts no answer too, and for
    /// [`Verdicts::Answered`], which accepts a result of only failed attempts too (its test is
    /// the backend's: a verdict, or a result row of ZEN).
    pub fn range(self) -> Option<(i64, i64)> {
        match self {
            Self::Any | Self::Answered => None,
            Self::Listed => Some((1, 1)),
            Self::NotListed => Some((0, 0)),
        }
    }
}

/// The original list's verdict as its stored text says it: its A records (they start with a
/// digit) listed, `No Response` not listed, any other text no answer. SQLite keeps it beside
/// the text (`lookups.original_verdict`); a CHECK there holds the same rule.
pub fn original_verdict(response_code: &str) -> Option<bool> {
    if response_code.starts_with(|c: char| c.is_ascii_digit()) {
        Some(true)
    } else if response_code == NOT_LISTED_RESPONSE {
        Some(false)
    } else {
        None
    }
}

/// The address ranges a watchlist's entries cover, as few as cover them (`ipnet` merges
/// overlapping and adjacent networks, so each address is in one range), narrowed to `within`
/// when set; each as its first and last address. Domains cover no address.
pub fn watched_ranges(
    entries: &BTreeSet<WatchEntry>,
    within: Option<AddressRange>,
) -> Vec<(Address, Address)> {
    let nets: Vec<IpNet> = entries
        .iter()
        .filter_map(|entry| match entry {
            WatchEntry::Address(address) => Some(IpNet::from(address.ip())),
            WatchEntry::Range(range) => Some(range.net()),
            WatchEntry::Domain(_) => None,
        })
        .collect();
    IpNet::aggregate(&nets)
        .into_iter()
        .filter_map(|net| match within.map(AddressRange::net) {
            None => Some(net),
            // Two networks overlap only when one holds the other: the smaller is the overlap.
            Some(outer) if outer.contains(&net) => Some(net),
            Some(outer) if net.contains(&outer) => Some(outer),
            Some(_) => None,
        })
        .map(|net| (Address::from(net.network()), Address::from(net.broadcast())))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(texts: &[&str]) -> BTreeSet<WatchEntry> {
        WatchEntry::parse_all(texts).expect("entries")
    }

    fn texts(ranges: &[(Address, Address)]) -> Vec<String> {
        ranges
            .iter()
            .map(|(first, last)| format!("{first}-{last}"))
            .collect()
    }

    #[test]
    fn the_verdict_follows_the_stored_text() {
        assert_eq!(original_verdict("127.0.0.2"), Some(true));
        assert_eq!(original_verdict("127.0.0.2, 127.0.0.4"), Some(true));
        assert_eq!(original_verdict("No Response"), Some(false));
        assert_eq!(original_verdict(crate::NOT_LOOKED_UP), None);
        assert_eq!(original_verdict(""), None);
    }

    #[test]
    fn watched_entries_merge_into_ranges_each_address_in_one() {
        let watched = entries(&[
            "192.0.2.0/31",
            "192.0.2.2/31",
            "192.0.2.1",
            "192.0.2.4/30",
            "198.51.100.9",
            "2001:db8::/127",
            "example.com",
        ]);
        assert_eq!(
            texts(&watched_ranges(&watched, None)),
            [
                "192.0.2.0-192.0.2.7",
                "198.51.100.9-198.51.100.9",
                "2001:db8::-2001:db8::1"
            ]
        );
        // Narrowed by `within`: the smaller of two nested networks, nothing of the others.
        let within = |text: &str| text.parse::<AddressRange>().ok();
        assert_eq!(
            texts(&watched_ranges(&watched, within("192.0.2.2/31"))),
            ["192.0.2.2-192.0.2.3"]
        );
        assert_eq!(
            texts(&watched_ranges(&watched, within("198.51.100.0/24"))),
            ["198.51.100.9-198.51.100.9"]
        );
        assert!(watched_ranges(&watched, within("10.0.0.0/8")).is_empty());
        assert!(watched_ranges(&entries(&["example.com"]), None).is_empty());
    }

    #[test]
    fn the_kept_verdict_decides_while_every_list_that_answered_counts() {
        let zen = LookupFilter {
            lists: vec![crate::ORIGINAL_LIST.to_owned()],
            ..LookupFilter::default()
        };
        let none: &[String] = &[];
        let barracuda = &["barracuda".to_owned()];
        assert_eq!(zen.kept_verdicts(none), Some(Verdicts::Any));
        // Barracuda answered once and no longer counts: its answers must not.
        assert_eq!(zen.kept_verdicts(barracuda), None);
        let named = LookupFilter {
            blocklist: Some(crate::ORIGINAL_LIST.to_owned()),
            ..zen.clone()
        };
        assert_eq!(named.kept_verdicts(none), Some(Verdicts::Answered));
        let not_listed = LookupFilter {
            listed: Some(false),
            ..named.clone()
        };
        assert_eq!(not_listed.kept_verdicts(none), Some(Verdicts::NotListed));
        let two = LookupFilter {
            lists: vec!["barracuda".to_owned(), crate::ORIGINAL_LIST.to_owned()],
            listed: Some(true),
            ..LookupFilter::default()
        };
        assert_eq!(two.kept_verdicts(barracuda), Some(Verdicts::Listed));
        assert_eq!(two.kept_verdicts(none), Some(Verdicts::Listed));
        // Naming ZEN asks for ZEN's verdict alone, which the kept one is only while no other
        // list answered; naming another list asks for its own.
        let zen_named = LookupFilter {
            blocklist: Some(crate::ORIGINAL_LIST.to_owned()),
            ..two.clone()
        };
        assert_eq!(zen_named.kept_verdicts(barracuda), None);
        assert_eq!(zen_named.kept_verdicts(none), Some(Verdicts::Listed));
        let other_named = LookupFilter {
            blocklist: Some("barracuda".to_owned()),
            ..two
        };
        assert_eq!(other_named.kept_verdicts(none), None);
        let without_zen = LookupFilter {
            lists: vec!["barracuda".to_owned()],
            ..LookupFilter::default()
        };
        assert_eq!(without_zen.kept_verdicts(none), None);
    }
}
