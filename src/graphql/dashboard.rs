//! The resolvers of what the dashboard at `/ui` reads besides the rest of the API:
//! `blocklistUsage` (queries per list and UTC hour against the budget), `listedTargets` (how
//! many targets each list listed, hour by hour, counted back from now through the listing
//! events), `watchedListings` and `latestListingEvents`.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use super::events::event_of;
use super::generated::{BlocklistHour, ListedHour, ListingEvent, WatchedListing};
use super::resolvers::{Resolvers, clamp_u64, internal, list_listings};
use super::watchlists::bad_input;
use crate::store::{HOURLY_QUERIES_KEPT, utc_hour};
use crate::timestamp;

const DEFAULT_HOURS: i32 = 48;
/// As far back as hourly counts are kept.
const MAX_HOURS: i32 = (HOURLY_QUERIES_KEPT.whole_hours()) as i32;
const DEFAULT_LISTINGS: i32 = 200;
const MAX_LISTINGS: i32 = 1000;
const DEFAULT_EVENTS: i32 = 20;
const MAX_EVENTS: i32 = 100;

impl Resolvers {
    pub(super) async fn usage_by_hour(
        &self,
        hours: Option<i32>,
    ) -> async_graphql::Result<Vec<BlocklistHour>> {
        let hours = self.hours(hours)?;
        let counted = self
            .lists
            .queries_by_hour(hours[0])
            .await
            .map_err(internal)?;
        let by_key: HashMap<(OffsetDateTime, &str), u64> = counted
            .iter()
            .map(|row| ((row.hour, row.blocklist.as_str()), row.queries))
            .collect();
        let mut shown = Vec::new();
        for &hour in &hours {
            for list in self.blocklists.enabled() {
                let queries = by_key.get(&(hour, list.id.as_str())).copied().unwrap_or(0);
                shown.push(BlocklistHour {
                    blocklist: list.id.clone(),
                    hour: timestamp::format(hour),
                    queries: clamp_u64(queries),
                    // An even share of the day: the pace that spends the budget by midnight.
                    hourly_budget: self
                        .blocklists
                        .daily_budget(list)
                        .map(|budget| budget as f64 / 24.0),
                });
            }
        }
        Ok(shown)
    }

    pub(super) async fn listed_by_hour(
        &self,
        hours: Option<i32>,
    ) -> async_graphql::Result<Vec<ListedHour>> {
        let hours = self.hours(hours)?;
        let enabled = self.enabled_ids();
        let tally = self
            .events
            .listing_tally(&enabled, hours[0])
            .await
            .map_err(internal)?;
        let changes: HashMap<(OffsetDateTime, &str), (u64, u64)> = tally
            .hours
            .iter()
            .map(|row| {
                (
                    (row.hour, row.blocklist.as_str()),
                    (row.listed, row.delisted),
                )
            })
            .collect();
        let columns: Vec<Vec<u64>> = enabled
            .iter()
            .map(|&list| {
                let now = tally
                    .listed_now
                    .iter()
                    .find(|(id, _)| id == list)
                    .map_or(0, |(_, count)| *count);
                let per_hour: Vec<(u64, u64)> = hours
                    .iter()
                    .map(|&hour| changes.get(&(hour, list)).copied().unwrap_or((0, 0)))
                    .collect();
                listed_at_hour_ends(now, &per_hour)
            })
            .collect();
        let mut shown = Vec::with_capacity(hours.len() * enabled.len());
        for (index, &hour) in hours.iter().enumerate() {
            for (list, column) in enabled.iter().zip(&columns) {
                shown.push(ListedHour {
                    blocklist: (*list).to_owned(),
                    hour: timestamp::format(hour),
                    listed: clamp_u64(column[index]),
                });
            }
        }
        Ok(shown)
    }

    pub(super) async fn watched_listings_now(
        &self,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<WatchedListing>> {
        let first = bounded("first", first.unwrap_or(DEFAULT_LISTINGS), MAX_LISTINGS)?;
        let records = self
            .watchlists
            .watched_listings(&self.enabled_ids(), u64::from(first))
            .await
            .map_err(internal)?;
        Ok(records
            .into_iter()
            .map(|record| {
                let list = self.blocklists.get(&record.blocklist);
                WatchedListing {
                    listings: list
                        .map(|list| list_listings(list, &record.return_codes))
                        .unwrap_or_default(),
                    delist_url: list.and_then(|list| list.lookup_url.clone()),
                    return_codes: record
                        .return_codes
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    checked_at: timestamp::format(record.checked_at),
                    watchlists: record.watchlists.iter().map(ToString::to_string).collect(),
                    target: record.target,
                    blocklist: record.blocklist,
                    reason: record.reason,
                }
            })
            .collect())
    }

    pub(super) async fn latest_events(
        &self,
        last: Option<i32>,
    ) -> async_graphql::Result<Vec<ListingEvent>> {
        let last = bounded("last", last.unwrap_or(DEFAULT_EVENTS), MAX_EVENTS)?;
        let records = self
            .events
            .latest_listing_events(last)
            .await
            .map_err(internal)?;
        Ok(records
            .into_iter()
            .map(|record| event_of(&self.blocklists, record))
            .collect())
    }

    /// The starts of the last `hours` UTC hours by the engine's clock, oldest first, the
    /// current one last.
    fn hours(&self, hours: Option<i32>) -> async_graphql::Result<Vec<OffsetDateTime>> {
        let hours = bounded("hours", hours.unwrap_or(DEFAULT_HOURS), MAX_HOURS)?;
        let current = utc_hour(self.engine.now());
        Ok((0..i64::from(hours))
            .rev()
            .map(|back| current - Duration::hours(back))
            .collect())
    }
}

/// How many targets a list listed at the end of each hour, oldest first, from how many it
/// lists now (at the end of the last, current hour) and each hour's (LISTED, DELISTED) events:
/// walking back, at the end of the hour before, it listed what it listed at the end of this
/// one, less this hour's LISTED events, plus its DELISTED ones.
fn listed_at_hour_ends(now: u64, changes: &[(u64, u64)]) -> Vec<u64> {
    let mut listed = now;
    let mut ends = vec![0; changes.len()];
    for (end, &(added, removed)) in ends.iter_mut().zip(changes).rev() {
        *end = listed;
        listed = listed.saturating_sub(added).saturating_add(removed);
    }
    ends
}

/// `value` if it is 1 to `max`, else an error naming `argument`.
fn bounded(argument: &str, value: i32, max: i32) -> async_graphql::Result<u32> {
    if !(1..=max).contains(&value) {
        return Err(bad_input(
            argument,
            format!("must be between 1 and {max}, got {value}"),
        ));
    }
    Ok(u32::try_from(value).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_counts_walk_back_from_now_through_the_events() {
        // Two listed now; the last hour delisted one, the one before listed two.
        assert_eq!(listed_at_hour_ends(2, &[(0, 0), (2, 0), (0, 1)]), [1, 3, 2]);
        assert_eq!(listed_at_hour_ends(0, &[(0, 0), (0, 0)]), [0, 0]);
        // Events the count now does not account for never make a count below zero.
        assert_eq!(listed_at_hour_ends(1, &[(0, 0), (5, 0)]), [0, 1]);
        assert!(listed_at_hour_ends(3, &[]).is_empty());
    }
}
