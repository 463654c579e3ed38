//! Watchlists: named sets of addresses, CIDR ranges and domains that secworks keeps an eye on.
//! A watchlist is stored twice: its entries as given (canonical form), and the targets they
//! expand to, one row per (watchlist, target), which the re-check planner walks and joins with
//! the lists' results.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use async_trait::async_trait;
use ipnet::IpNet;
use secworks_dnsbl::{Address, AddressRange, Domain, RangeError, Target};
use time::{Duration, OffsetDateTime};

use crate::StoreError;
use crate::lists::Verdict;
use crate::rechecks::TargetKind;

/// The widest IPv4 range an entry may be: a /16, 65,536 addresses.
pub const MIN_IPV4_PREFIX: u8 = 16;
/// The widest IPv6 range an entry may be: a /112, 65,536 addresses.
pub const MIN_IPV6_PREFIX: u8 = 112;
/// The longest watchlist name.
pub const MAX_NAME_LEN: usize = 64;

/// One entry of a watchlist, in canonical form: an address, a CIDR range (network address
/// with the host bits clear, prefix no wider than [`MIN_IPV4_PREFIX`] /
/// [`MIN_IPV6_PREFIX`], never a single address), or a domain.
///
/// Entries order addresses and ranges by family, then network address, then prefix length
/// (wider first), and domains after them by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WatchEntry {
    Address(Address),
    Range(AddressRange),
    Domain(Domain),
}

/// Why text is not a watchlist entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("not a CIDR range (expected e.g. 192.0.2.0/24 or 2001:db8::/120)")]
    NotARange,
    #[error("an IPv4 range may be no wider than /{MIN_IPV4_PREFIX}, this is /{0}")]
    Ipv4TooWide(u8),
    #[error("an IPv6 range may be no wider than /{MIN_IPV6_PREFIX}, this is /{0}")]
    Ipv6TooWide(u8),
    #[error("host bits are set; the range is {0}")]
    HostBitsSet(String),
    #[error("an IPv4-mapped IPv6 range; give the IPv4 range instead")]
    Ipv4Mapped,
    #[error("not an IP address, CIDR range or domain name: {0}")]
    NotATarget(secworks_dnsbl::DomainError),
}

/// An entry of a list that is not a watchlist entry: where it was, what it was, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidWatchEntry {
    /// Its position in the list, from 0.
    pub index: usize,
    pub value: String,
    pub problem: EntryProblem,
}

impl WatchEntry {
    /// Parses every entry into a set (duplicates, also in different spellings, fold), or
    /// names every entry that is not one, with its position and what is wrong with it.
    pub fn parse_all<S: AsRef<str>>(
        inputs: &[S],
    ) -> Result<BTreeSet<WatchEntry>, Vec<InvalidWatchEntry>> {
        let mut valid = BTreeSet::new();
        let mut invalid = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            match input.as_ref().parse() {
                Ok(entry) => {
                    valid.insert(entry);
                }
                Err(problem) => invalid.push(InvalidWatchEntry {
                    index,
                    value: input.as_ref().to_owned(),
                    problem,
                }),
            }
        }
        if invalid.is_empty() {
            Ok(valid)
        } else {
            Err(invalid)
        }
    }

    /// How many targets the entry stands for.
    pub fn size(&self) -> u64 {
        match self {
            Self::Address(_) | Self::Domain(_) => 1,
            // Watchlist ranges are at most /16 or /112 wide: 2^16 addresses.
            Self::Range(range) => u64::try_from(range.size()).unwrap_or(u64::MAX),
        }
    }

    /// The targets the entry stands for: itself, or every address of its range (network and
    /// broadcast addresses included: a blocklist may list them like any other).
    pub fn targets(&self) -> Box<dyn Iterator<Item = Target> + '_> {
        match self {
            Self::Address(address) => Box::new(std::iter::once(Target::Ip(*address))),
            Self::Domain(domain) => Box::new(std::iter::once(Target::Domain(domain.clone()))),
            Self::Range(range) => Box::new(range.addresses().map(Target::Ip)),
        }
    }

    fn sort_key(&self) -> (u8, IpAddr, u8, &str) {
        let unspecified = IpAddr::from([0u8; 4]);
        match self {
            Self::Address(address) => {
                let ip = address.ip();
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                (u8::from(ip.is_ipv6()), ip, bits, "")
            }
            Self::Range(range) => {
                let net = range.net();
                (
                    u8::from(matches!(net, IpNet::V6(_))),
                    net.network(),
                    net.prefix_len(),
                    "",
                )
            }
            Self::Domain(domain) => (2, unspecified, 0, domain.as_str()),
        }
    }
}

/// Every distinct target of `entries`, each once.
pub fn expand<'a>(entries: impl IntoIterator<Item = &'a WatchEntry>) -> BTreeSet<Target> {
    entries.into_iter().flat_map(WatchEntry::targets).collect()
}

impl Ord for WatchEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for WatchEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for WatchEntry {
    type Err = EntryProblem;

    /// An address, `network/prefix`, or a domain (IDNA, any case). A range with host bits
    /// set is refused, naming the range meant; a full-length prefix (`/32`, `/128`) is the
    /// address itself.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.contains('/') {
            let range: AddressRange = text.parse().map_err(|problem| match problem {
                RangeError::NotARange => EntryProblem::NotARange,
                RangeError::HostBitsSet(meant) => EntryProblem::HostBitsSet(meant),
                RangeError::Ipv4Mapped => EntryProblem::Ipv4Mapped,
            })?;
            let net = range.net();
            match net {
                IpNet::V4(_) if net.prefix_len() < MIN_IPV4_PREFIX => {
                    return Err(EntryProblem::Ipv4TooWide(net.prefix_len()));
                }
                IpNet::V6(_) if net.prefix_len() < MIN_IPV6_PREFIX => {
                    return Err(EntryProblem::Ipv6TooWide(net.prefix_len()));
                }
                _ => {}
            }
            if range.is_single() {
                return Ok(Self::Address(range.first()));
            }
            return Ok(Self::Range(range));
        }
        if let Ok(address) = text.parse::<Address>() {
            return Ok(Self::Address(address));
        }
        text.parse::<Domain>()
            .map(Self::Domain)
            .map_err(EntryProblem::NotATarget)
    }
}

/// The canonical text: what is stored and shown.
impl fmt::Display for WatchEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => address.fmt(f),
            Self::Range(range) => range.fmt(f),
            Self::Domain(domain) => domain.fmt(f),
        }
    }
}

/// A watchlist's name: 1 to [`MAX_NAME_LEN`] lower-case letters, digits, `-`, `_` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatchlistName(String);

/// A name that is not a watchlist name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a watchlist name: 1 to {MAX_NAME_LEN} characters, each a lower-case letter \
     a-z, a digit, `-`, `_` or `.`"
)]
pub struct InvalidName(pub String);

impl WatchlistName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WatchlistName {
    type Err = InvalidName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fits = (1..=MAX_NAME_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if fits {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidName(text.to_owned()))
        }
    }
}

impl fmt::Display for WatchlistName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchlistRecord {
    pub name: WatchlistName,
    /// The entries, in [`WatchEntry`] order.
    pub entries: Vec<WatchEntry>,
    /// How often its targets are to be re-checked.
    pub interval: Duration,
    /// Distinct targets its entries expand to.
    pub target_count: u64,
    /// Of those, the targets that some list of the `enabled` ones asked for lists now.
    pub listed_count: u64,
    pub created_at: OffsetDateTime,
    /// When it was last written (created, replaced, or its entries changed).
    pub updated_at: OffsetDateTime,
}

/// One list's current answer about a watched target: what per-target metrics show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedVerdict {
    /// The target, canonical text.
    pub target: String,
    /// The catalogue id.
    pub blocklist: String,
    pub verdict: Verdict,
}

/// One list's listing of a watched target: what the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedListing {
    /// The target, canonical text.
    pub target: String,
    /// The catalogue id.
    pub blocklist: String,
    /// The A records of the answer, numeric order.
    pub return_codes: Vec<std::net::Ipv4Addr>,
    /// The list's TXT record for the listing, when it publishes one.
    pub reason: Option<String>,
    /// When the answer that lists it came.
    pub checked_at: OffsetDateTime,
    /// The watchlists that hold the target, by name.
    pub watchlists: Vec<WatchlistName>,
}

/// What a watchlist write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchlistWrite {
    /// Written; the watchlist as it is now.
    Done(WatchlistRecord),
    /// No watchlist has the name (adding or removing entries).
    NotFound,
    /// The write would make all watchlists together hold more targets than allowed; nothing
    /// was written.
    TooManyTargets {
        /// What all watchlists would hold.
        total: u64,
        max: u64,
    },
}

/// Watchlists and their expanded targets. Every write is one transaction that changes all of
/// it or nothing, and takes the limit on the targets of all watchlists together (`max_targets`)
/// under the same lock as other watchlist writes, so two writes cannot both slip under it.
/// `enabled` is the ids of the lists queried now: `listed_count` counts only their results.
#[async_trait]
pub trait Watchlists: Send + Sync {
    /// Every watchlist, by name.
    async fn watchlists(&self, enabled: &[&str]) -> Result<Vec<WatchlistRecord>, StoreError>;

    async fn watchlist(
        &self,
        name: &WatchlistName,
        enabled: &[&str],
    ) -> Result<Option<WatchlistRecord>, StoreError>;

    /// Creates the watchlist, or replaces its entries and interval (its `created_at` stays).
    #[allow(clippy::too_many_arguments)]
    async fn put_watchlist(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        interval: Duration,
        max_targets: u64,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError>;

    /// Adds entries to a watchlist (those it holds already stay as they are).
    async fn add_watch_entries(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        max_targets: u64,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError>;

    /// Removes entries from a watchlist; an entry it does not hold is no error. Only whole
    /// entries are removed: an address inside a range entry stays watched.
    async fn remove_watch_entries(
        &self,
        name: &WatchlistName,
        entries: &BTreeSet<WatchEntry>,
        enabled: &[&str],
        now: OffsetDateTime,
    ) -> Result<WatchlistWrite, StoreError>;

    /// Deletes a watchlist and its targets; whether there was one.
    async fn delete_watchlist(&self, name: &WatchlistName) -> Result<bool, StoreError>;

    /// In one query: each of the `enabled` lists' current answer about each watched target
    /// (a target once, however many watchlists hold it; a list that has only failed about it
    /// gives nothing), by target then list id, bytewise; at most `limit` of them.
    async fn watched_verdicts(
        &self,
        enabled: &[&str],
        limit: u64,
    ) -> Result<Vec<WatchedVerdict>, StoreError>;

    /// The `enabled` lists' current listings of watched targets (answers that list them), by
    /// target then list id (bytewise), each with the watchlists that hold its target; at most
    /// `limit` of them.
    async fn watched_listings(
        &self,
        enabled: &[&str],
        limit: u64,
    ) -> Result<Vec<WatchedListing>, StoreError>;
}

/// For backends: the watchlist names a listing's query joined with `,` (names never hold
/// one), read back in order.
pub fn read_watchlist_names(joined: &str) -> Result<Vec<WatchlistName>, StoreError> {
    let mut names: Vec<WatchlistName> = joined
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| read_name(name.to_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

/// For backends: a `list_results` state read back as a verdict, or [`StoreError::Unreadable`]
/// (`unknown` included: a query for verdicts does not select it).
pub fn read_verdict(state: &str) -> Result<Verdict, StoreError> {
    match state {
        "listed" => Ok(Verdict::Listed),
        "not_listed" => Ok(Verdict::NotListed),
        other => Err(StoreError::Unreadable(format!(
            "list result verdict {other:?}"
        ))),
    }
}

/// For backends: what a write changes, worked out once from the stored entries (`None` for a
/// new watchlist) and the entries wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchlistDiff {
    /// The entries as they will be, canonical text, in entry order.
    pub entries: Vec<String>,
    /// Targets to add, canonical text, sorted, each with its kind as stored
    /// ([`TargetKind::as_str`](crate::TargetKind::as_str)).
    pub added: Vec<(String, &'static str)>,
    /// Targets to remove, canonical text, sorted.
    pub removed: Vec<String>,
    /// Distinct targets after the write.
    pub target_count: u64,
    /// Distinct targets before it (0 for a new watchlist).
    pub previous_count: u64,
}

impl WatchlistDiff {
    pub fn new(before: &BTreeSet<WatchEntry>, after: &BTreeSet<WatchEntry>) -> Self {
        let old = expand(before);
        let new = expand(after);
        Self {
            entries: after.iter().map(ToString::to_string).collect(),
            added: new
                .difference(&old)
                .map(|target| (target.to_string(), TargetKind::of(target).as_str()))
                .collect(),
            removed: old.difference(&new).map(ToString::to_string).collect(),
            target_count: new.len() as u64,
            previous_count: old.len() as u64,
        }
    }

    /// The limit check: what all watchlists hold after the write, given what they hold now.
    pub fn total_after(&self, stored_total: u64) -> u64 {
        (stored_total + self.target_count).saturating_sub(self.previous_count)
    }

    /// What the write logs for the re-check planner, given the watchlist's interval in
    /// seconds before it (`None`: a new watchlist) and after: the targets added and removed,
    /// and every target it holds when its interval changes (each may have a new shortest).
    pub fn changes(&self, interval_before: Option<i64>, interval_after: i64) -> WatchChanges<'_> {
        let all_held = interval_before.is_some_and(|before| before != interval_after);
        // The added targets are among those held after the write.
        let added = self
            .added
            .iter()
            .filter(|_| !all_held)
            .map(|(target, _)| target.as_str());
        let mut targets: Vec<&str> = added
            .chain(self.removed.iter().map(String::as_str))
            .collect();
        targets.sort_unstable();
        WatchChanges { all_held, targets }
    }
}

/// For backends: the targets a watchlist write logs in `watch_changes`, with the generation it
/// bumped to, in its transaction: each target whose watchlists or shortest interval it may
/// have changed. A sync recomputes the schedule rows of the targets logged since it last ran,
/// so a target logged needlessly costs a lookup of its row, and one left out a lost change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchChanges<'a> {
    /// Every target the watchlist holds when the log is written: backends log after the
    /// write changed its targets, and before a delete removes them.
    pub all_held: bool,
    /// Targets to log besides, sorted.
    pub targets: Vec<&'a str>,
}

impl WatchChanges<'_> {
    /// A watchlist deleted: each of its targets loses it.
    pub fn deleted() -> Self {
        Self {
            all_held: true,
            targets: Vec::new(),
        }
    }
}

/// Reads stored entries back, or [`StoreError::Unreadable`].
pub fn read_entries(
    texts: impl IntoIterator<Item = String>,
) -> Result<BTreeSet<WatchEntry>, StoreError> {
    texts
        .into_iter()
        .map(|text| {
            text.parse::<WatchEntry>()
                .map_err(|_| StoreError::Unreadable(format!("watchlist entry {text:?}")))
        })
        .collect()
}

/// Reads a stored name back, or [`StoreError::Unreadable`].
pub fn read_name(text: String) -> Result<WatchlistName, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Unreadable(format!("watchlist name {text:?}")))
}

/// Reads a stored interval in seconds back, or [`StoreError::Unreadable`].
pub fn read_interval(seconds: i64) -> Result<Duration, StoreError> {
    (seconds > 0)
        .then(|| Duration::seconds(seconds))
        .ok_or_else(|| StoreError::Unreadable(format!("watchlist interval of {seconds} s")))
}

/// Reads a stored count back, or [`StoreError::Unreadable`].
pub fn read_count(count: i64) -> Result<u64, StoreError> {
    u64::try_from(count).map_err(|_| StoreError::Unreadable(format!("a count of {count}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Result<String, EntryProblem> {
        text.parse::<WatchEntry>().map(|e| e.to_string())
    }

    #[test]
    fn entries_are_canonical_and_ranges_bounded() {
        assert_eq!(entry("192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(entry("192.0.2.0/30").unwrap(), "192.0.2.0/30");
        assert_eq!(entry("192.0.2.7/32").unwrap(), "192.0.2.7");
        assert_eq!(entry("2001:DB8::/112").unwrap(), "2001:db8::/112");
        assert_eq!(entry("Example.COM.").unwrap(), "example.com");
        assert_eq!(entry("10.0.0.0/16").unwrap(), "10.0.0.0/16");
        assert_eq!(entry("10.0.0.0/15"), Err(EntryProblem::Ipv4TooWide(15)));
        assert_eq!(entry("2001:db8::/111"), Err(EntryProblem::Ipv6TooWide(111)));
        assert_eq!(
            entry("192.0.2.1/24"),
            Err(EntryProblem::HostBitsSet("192.0.2.0/24".into()))
        );
        assert_eq!(entry("192.0.2.0/33"), Err(EntryProblem::NotARange));
        assert_eq!(entry("::ffff:c000:200/120"), Err(EntryProblem::Ipv4Mapped));
        assert!(matches!(
            entry("localhost"),
            Err(EntryProblem::NotATarget(_))
        ));
        assert!(matches!(
            entry("192.0.2.999"),
            Err(EntryProblem::NotATarget(_))
        ));
    }

    #[test]
    fn entries_sort_by_family_network_prefix_then_domains() {
        let set = WatchEntry::parse_all(&[
            "example.com",
            "2001:db8::1",
            "192.0.2.10",
            "192.0.2.0/30",
            "192.0.2.2",
            "192.0.2.10",
            "a.example",
        ])
        .unwrap();
        let texts: Vec<String> = set.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "192.0.2.0/30",
                "192.0.2.2",
                "192.0.2.10",
                "2001:db8::1",
                "a.example",
                "example.com"
            ]
        );
        let bad = WatchEntry::parse_all(&["ok.example", "nope", "10.0.0.0/8"]).unwrap_err();
        let at: Vec<usize> = bad.iter().map(|e| e.index).collect();
        assert_eq!(at, [1, 2]);
    }

    #[test]
    fn ranges_expand_to_every_address_and_diffs_count_distinct_targets() {
        let range: WatchEntry = "192.0.2.0/30".parse().unwrap();
        let targets: Vec<String> = range.targets().map(|t| t.to_string()).collect();
        assert_eq!(
            targets,
            ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"]
        );
        assert_eq!(range.size(), 4);
        let wide: WatchEntry = "2001:db8::/112".parse().unwrap();
        assert_eq!(wide.size(), 65_536);
        assert_eq!(wide.targets().count(), 65_536);

        let before = WatchEntry::parse_all(&["192.0.2.0/30", "example.com"]).unwrap();
        let after = WatchEntry::parse_all(&["192.0.2.0/31", "192.0.2.1", "192.0.2.9"]).unwrap();
        let diff = WatchlistDiff::new(&before, &after);
        assert_eq!(diff.added, [("192.0.2.9".to_owned(), "ipv4")]);
        assert_eq!(diff.removed, ["192.0.2.2", "192.0.2.3", "example.com"]);
        assert_eq!((diff.previous_count, diff.target_count), (5, 3));
        assert_eq!(diff.total_after(10), 8);

        // Logged: what was added and removed; all held (and the removed) when the interval
        // changes; everything of a new watchlist.
        let logged = |changes: WatchChanges<'_>| (changes.all_held, changes.targets.join(" "));
        assert_eq!(
            logged(diff.changes(Some(60), 60)),
            (false, "192.0.2.2 192.0.2.3 192.0.2.9 example.com".into())
        );
        assert_eq!(
            logged(diff.changes(Some(60), 120)),
            (true, "192.0.2.2 192.0.2.3 example.com".into())
        );
        let new = WatchlistDiff::new(&BTreeSet::new(), &after);
        assert_eq!(
            logged(new.changes(None, 60)),
            (false, "192.0.2.0 192.0.2.1 192.0.2.9".into())
        );
        assert_eq!(logged(WatchChanges::deleted()), (true, String::new()));
    }

    #[test]
    fn names_are_lower_case_and_short() {
        for good in ["mail-servers", "a", "prod_v2.eu", &"x".repeat(64)] {
            assert!(good.parse::<WatchlistName>().is_ok(), "{good}");
        }
        for bad in ["", "Mail", "with space", "ü", &"x".repeat(65)] {
            let error = bad.parse::<WatchlistName>().unwrap_err().to_string();
            assert!(error.contains("lower-case letter"), "{error}");
        }
    }
}
