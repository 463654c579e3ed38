//! The resolver of `listingEvents`: a Relay cursor connection over the listing-event log.
//!
//! A cursor is the event's id in decimal. Clients are told it is opaque; ids are in commit
//! order (see `secworks_store_api::ListingEvents`), so resuming after one misses nothing.

use async_graphql::ID;

use super::generated::{
    ListingChange, ListingEvent, ListingEventConnection, ListingEventEdge, PageInfo,
};
use super::resolvers::{Resolvers, internal};
use super::watchlists::{bad_input, watchlist_name};
use crate::blocklists::Blocklists;
use crate::store::{self, ListingEventRecord};
use crate::timestamp;

const DEFAULT_FIRST: i32 = 100;
const MAX_FIRST: i32 = 1000;

impl Resolvers {
    pub(super) async fn events_page(
        &self,
        after: Option<String>,
        first: Option<i32>,
        watchlist: Option<String>,
    ) -> async_graphql::Result<ListingEventConnection> {
        let first = first.unwrap_or(DEFAULT_FIRST);
        if !(1..=MAX_FIRST).contains(&first) {
            return Err(bad_input(
                "first",
                format!("must be between 1 and {MAX_FIRST}, got {first}"),
            ));
        }
        let after = match after.as_deref() {
            None => 0,
            Some(text) => read_cursor(text).ok_or_else(|| {
                bad_input(
                    "after",
                    format!("{text:?} is not a cursor of listingEvents; pass back a `cursor` or `endCursor` as it came"),
                )
            })?,
        };
        let watchlist = watchlist
            .as_deref()
            .map(|name| watchlist_name("watchlist", name))
            .transpose()?;
        let limit = u32::try_from(first).unwrap_or(0);
        // One more than asked: whether it comes says whether there is a next page.
        let Some(mut records) = self
            .events
            .listing_events(after, limit + 1, watchlist.as_ref())
            .await
            .map_err(internal)?
        else {
            // Only a watchlist asked for can be missing.
            let name = watchlist.map(|name| name.to_string()).unwrap_or_default();
            return Err(bad_input(
                "watchlist",
                format!("there is no watchlist named {name:?}"),
            ));
        };
        let has_next_page = records.len() > limit as usize;
        records.truncate(limit as usize);
        let edges: Vec<ListingEventEdge> = records
            .into_iter()
            .map(|record| {
                let node = self.event(record);
                ListingEventEdge {
                    cursor: node.cursor.clone(),
                    node,
                }
            })
            .collect();
        let end_cursor = edges.last().map(|edge| edge.cursor.clone());
        Ok(ListingEventConnection {
            edges,
            page_info: PageInfo {
                has_next_page,
                end_cursor,
            },
        })
    }

    fn event(&self, record: ListingEventRecord) -> ListingEvent {
        event_of(&self.blocklists, record)
    }
}

/// An event as GraphQL shows it; the delist link comes from the catalogue.
pub(super) fn event_of(blocklists: &Blocklists, record: ListingEventRecord) -> ListingEvent {
    let cursor = record.id.to_string();
    let (change, listed) = match record.change {
        store::ListingChange::Listed => (ListingChange::Listed, true),
        store::ListingChange::Delisted => (ListingChange::Delisted, false),
        store::ListingChange::Changed => (ListingChange::Changed, true),
    };
    let delist_url = blocklists
        .get(&record.blocklist)
        .and_then(|list| list.lookup_url.clone())
        .filter(|_| listed);
    ListingEvent {
        id: ID(cursor.clone()),
        cursor,
        at: timestamp::format(record.at),
        target: record.target.to_string(),
        change,
        return_codes: record
            .return_codes
            .iter()
            .map(ToString::to_string)
            .collect(),
        previous_return_codes: record
            .previous_return_codes
            .iter()
            .map(ToString::to_string)
            .collect(),
        reason: record.reason,
        delist_url,
        blocklist: record.blocklist,
    }
}

/// A cursor this service gave out: an event id in decimal, nothing else.
pub(super) fn read_cursor(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_decimal_ids_only() {
        assert_eq!(read_cursor("0"), Some(0));
        assert_eq!(read_cursor("42"), Some(42));
        for bad in ["", "-1", "+1", " 1", "1e3", "abc", "99999999999999999999"] {
            assert_eq!(read_cursor(bad), None, "{bad}");
        }
    }
}
