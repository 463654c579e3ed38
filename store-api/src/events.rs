//! The listing-event log: every change of a target's status on a list, appended in the same
//! transaction as the answer that made it, and read in cursor order.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use async_trait::async_trait;
use secworks_dnsbl::Target;
use time::OffsetDateTime;

use crate::batch::{AnswerRow, return_codes_text};
use crate::watchlists::WatchlistName;
use crate::{StoreError, Verdict};

/// How a target's status on a list changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingChange {
    /// Listed, after a not-listed answer or as the first answer.
    Listed,
    /// Not listed, after a listed answer.
    Delisted,
    /// Still listed, with other return codes.
    Changed,
}

impl ListingChange {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listed => "listed",
            Self::Delisted => "delisted",
            Self::Changed => "changed",
        }
    }

    /// Reads the stored text back, or [`StoreError::Unreadable`].
    pub fn read(text: &str) -> Result<Self, StoreError> {
        match text {
            "listed" => Ok(Self::Listed),
            "delisted" => Ok(Self::Delisted),
            "changed" => Ok(Self::Changed),
            other => Err(StoreError::Unreadable(format!("listing change {other:?}"))),
        }
    }

    /// The change from the list's previous real answer (`None`: it never answered) to an
    /// answer; `None` when nothing changed. A first answer that does not list the target is
    /// no change: nothing was known to be different before.
    pub fn between(
        previous: Option<(Verdict, &[Ipv4Addr])>,
        verdict: Verdict,
        codes: &[Ipv4Addr],
    ) -> Option<Self> {
        match (previous, verdict) {
            (None | Some((Verdict::NotListed, _)), Verdict::Listed) => Some(Self::Listed),
            (Some((Verdict::Listed, _)), Verdict::NotListed) => Some(Self::Delisted),
            (Some((Verdict::Listed, before)), Verdict::Listed) if before != codes => {
                Some(Self::Changed)
            }
            _ => None,
        }
    }
}

/// One listing event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEventRecord {
    /// Its place in the log: strictly increasing in commit order (see [`ListingEvents`]).
    pub id: i64,
    /// When the answer came.
    pub at: OffsetDateTime,
    pub target: Target,
    pub blocklist: String,
    pub change: ListingChange,
    /// The answer's A records; empty when delisted.
    pub return_codes: Vec<Ipv4Addr>,
    /// The previous answer's A records; empty when it was not listed or there was none.
    pub previous_return_codes: Vec<Ipv4Addr>,
    /// The list's TXT record for the listing, when it publishes one.
    pub reason: Option<String>,
}

/// The log of listing events.
///
/// Ids are strictly increasing, and in commit order: a reader that has seen every event up to
/// id `c` never later finds a new event with an id at most `c`. So a reader resumes safely
/// after the last id it saw.
#[async_trait]
pub trait ListingEvents: Send + Sync {
    /// Up to `limit` events with an id above `after`, in id order; with `watchlist`, only
    /// those whose target is one of its targets. `None` if there is no such watchlist.
    async fn listing_events(
        &self,
        after: i64,
        limit: u32,
        watchlist: Option<&WatchlistName>,
    ) -> Result<Option<Vec<ListingEventRecord>>, StoreError>;

    /// The id of the last event in the log (0 for none): cheap, for noticing new events and
    /// for starting at the log's end.
    async fn last_event_id(&self) -> Result<i64, StoreError>;

    /// The last `limit` events of the log, newest (highest id) first.
    async fn latest_listing_events(
        &self,
        limit: u32,
    ) -> Result<Vec<ListingEventRecord>, StoreError>;

    /// From one snapshot: how many targets each of the `enabled` lists lists now, and per
    /// list and UTC hour, its LISTED and DELISTED events whose answer came at or after
    /// `since`'s hour. Together they give how many targets a list listed at the end of each
    /// hour: the count now, less the LISTED and plus the DELISTED events after it.
    async fn listing_tally(
        &self,
        enabled: &[&str],
        since: OffsetDateTime,
    ) -> Result<ListingTally, StoreError>;
}

/// How many targets lists list now, and the changes of recent hours ([`ListingEvents::listing_tally`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingTally {
    /// (list id, targets it lists now), for the lists that list any, by list id (bytewise).
    pub listed_now: Vec<(String, u64)>,
    /// The hours with LISTED or DELISTED events, by hour then list id (bytewise).
    pub hours: Vec<HourlyChanges>,
}

/// One list's LISTED and DELISTED events of one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyChanges {
    /// When the hour begins.
    pub hour: OffsetDateTime,
    pub blocklist: String,
    pub listed: u64,
    pub delisted: u64,
}

/// For backends: a list's previous real answer about a target, as `list_results` holds it
/// (`state`, `return_codes`), read before a batch's answers are written.
pub fn previous_answer(
    state: &str,
    codes: &str,
) -> Result<Option<(Verdict, Vec<Ipv4Addr>)>, StoreError> {
    let verdict = match state {
        "listed" => Verdict::Listed,
        "not_listed" => Verdict::NotListed,
        // Only errors so far: there was no answer.
        "unknown" => return Ok(None),
        other => {
            return Err(StoreError::Unreadable(format!(
                "list result state {other:?}"
            )));
        }
    };
    let codes = crate::batch::read_return_codes(codes)?;
    Ok(Some((verdict, codes)))
}

/// An event as a backend writes it, in its columns' terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow<'a> {
    pub at: OffsetDateTime,
    pub target: String,
    pub blocklist: &'a str,
    pub change: ListingChange,
    pub return_codes: String,
    pub previous_return_codes: String,
    pub reason: Option<&'a str>,
}

/// The events of a batch: of the rows the `list_results` upsert took (`written`, keys as
/// (target, list)) among `results`, those whose answer differs from the list's previous real
/// answer in `previous` (absent: none). Answers the upsert skipped, because a newer one is
/// stored, make none. In the order of `results`, which is (target, list) order.
pub fn listing_events<'a>(
    results: &[AnswerRow<'a>],
    written: &HashSet<(String, String)>,
    previous: &HashMap<(String, String), (Verdict, Vec<Ipv4Addr>)>,
) -> Vec<EventRow<'a>> {
    results
        .iter()
        .filter_map(|row| {
            let key = (row.target(), row.blocklist().to_owned());
            if !written.contains(&key) {
                return None;
            }
            let before = previous.get(&key);
            let answer = row.answer;
            let change = ListingChange::between(
                before.map(|(verdict, codes)| (*verdict, codes.as_slice())),
                answer.verdict,
                &answer.return_codes,
            )?;
            let previous_codes = match before {
                Some((Verdict::Listed, codes)) => return_codes_text(codes),
                _ => String::new(),
            };
            Some(EventRow {
                at: answer.evidence.answered_at,
                target: key.0,
                blocklist: row.blocklist(),
                change,
                return_codes: row.return_codes(),
                previous_return_codes: previous_codes,
                reason: answer.reason.as_deref(),
            })
        })
        .collect()
}

/// An event as its columns hold it, for [`EventColumns::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventColumns {
    pub id: i64,
    pub at: OffsetDateTime,
    pub target: String,
    pub blocklist: String,
    pub change: String,
    pub return_codes: String,
    pub previous_return_codes: String,
    pub reason: Option<String>,
}

impl EventColumns {
    /// The record, or [`StoreError::Unreadable`] for columns secworks would not have written.
    pub fn read(self) -> Result<ListingEventRecord, StoreError> {
        Ok(ListingEventRecord {
            id: self.id,
            at: self.at,
            target: Target::parse(&self.target)
                .ok_or_else(|| StoreError::Unreadable(format!("event target {:?}", self.target)))?,
            blocklist: self.blocklist,
            change: ListingChange::read(&self.change)?,
            return_codes: crate::batch::read_return_codes(&self.return_codes)?,
            previous_return_codes: crate::batch::read_return_codes(&self.previous_return_codes)?,
            reason: self.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(last: &[u8]) -> Vec<Ipv4Addr> {
        last.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect()
    }

    #[test]
    fn changes_compare_with_the_previous_real_answer() {
        use ListingChange::{Changed, Delisted};
        use Verdict::{Listed, NotListed};
        let (two, four) = (codes(&[2]), codes(&[4]));
        let between = |prev: Option<(Verdict, &[Ipv4Addr])>, v, c: &[Ipv4Addr]| {
            ListingChange::between(prev, v, c)
        };
        let listed = Some(ListingChange::Listed);
        assert_eq!(between(None, Listed, &two), listed);
        assert_eq!(between(None, NotListed, &[]), None);
        assert_eq!(between(Some((NotListed, &[])), Listed, &two), listed);
        assert_eq!(
            between(Some((Listed, &two)), NotListed, &[]),
            Some(Delisted)
        );
        assert_eq!(between(Some((Listed, &two)), Listed, &four), Some(Changed));
        assert_eq!(between(Some((Listed, &two)), Listed, &two), None);
        assert_eq!(between(Some((NotListed, &[])), NotListed, &[]), None);
        assert_eq!(previous_answer("unknown", "").unwrap(), None);
        assert_eq!(
            previous_answer("listed", "127.0.0.2").unwrap(),
            Some((Listed, two))
        );
        assert!(previous_answer("maybe", "").is_err());
        assert!(ListingChange::read("gone").is_err());
    }
}
