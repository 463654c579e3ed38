//! The resolver of `Subscription.listingEvents`: the listing-event log, followed.
//!
//! The log is the one source, as for `listingEvents` and webhooks: a subscription sends every
//! stored event after `after` (without it, it starts at the log's end), then looks for new
//! ones every [`POLL`]. Event ids are in commit order, so a client that reconnects with the
//! last cursor it got misses nothing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};

use super::events::{event_of, read_cursor};
use super::generated::{ListingEvent, SubscriptionResolvers};
use super::resolvers::{Resolvers, internal};
use super::watchlists::{bad_input, watchlist_name};
use crate::blocklists::Blocklists;
use crate::store::{ListingEventRecord, ListingEvents, WatchlistName};

/// How often a subscription looks for new events: well inside the second a client may wait.
const POLL: Duration = Duration::from_millis(250);
/// How long to wait after the store failed before asking again.
const AFTER_ERROR: Duration = Duration::from_secs(2);
/// Events read at once.
const PAGE: u32 = 100;

/// Where a subscription is in the log.
struct Follow {
    events: Arc<dyn ListingEvents>,
    blocklists: Arc<Blocklists>,
    watchlist: Option<WatchlistName>,
    after: i64,
    ready: VecDeque<ListingEventRecord>,
}

impl SubscriptionResolvers for Resolvers {
    async fn listing_events(
        &self,
        _ctx: &async_graphql::Context<'_>,
        watchlist: Option<String>,
        after: Option<String>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<ListingEvent>>> {
        let watchlist = watchlist
            .as_deref()
            .map(|name| watchlist_name("watchlist", name))
            .transpose()?;
        let after = match after.as_deref() {
            Some(text) => read_cursor(text).ok_or_else(|| {
                bad_input(
                    "after",
                    format!(
                        "{text:?} is not a cursor of listingEvents; pass back a `cursor` as it came"
                    ),
                )
            })?,
            None => self.events.last_event_id().await.map_err(internal)?,
        };
        // An unknown watchlist refuses the subscription now, not at the first event.
        if let Some(name) = &watchlist
            && self
                .events
                .listing_events(after, 1, Some(name))
                .await
                .map_err(internal)?
                .is_none()
        {
            return Err(bad_input(
                "watchlist",
                format!("there is no watchlist named {:?}", name.to_string()),
            ));
        }
        let follow = Follow {
            events: self.events.clone(),
            blocklists: self.blocklists.clone(),
            watchlist,
            after,
            ready: VecDeque::new(),
        };
        Ok(stream::unfold(follow, next_event).boxed())
    }
}

/// The next event after `follow.after`, waiting for it; `None` ends the subscription (its
/// watchlist was deleted).
async fn next_event(mut follow: Follow) -> Option<(async_graphql::Result<ListingEvent>, Follow)> {
    loop {
        if let Some(record) = follow.ready.pop_front() {
            let event = event_of(&follow.blocklists, record);
            return Some((Ok(event), follow));
        }
        // With a watchlist, most events are not its own: the log's end, read first, is where
        // the next read may start when none of the events up to it matched (every event up
        // to it has committed, so the read below saw them all).
        let end = match &follow.watchlist {
            Some(_) => follow.events.last_event_id().await.ok(),
            None => None,
        };
        match follow
            .events
            .listing_events(follow.after, PAGE, follow.watchlist.as_ref())
            .await
        {
            Ok(Some(records)) if !records.is_empty() => {
                follow.after = records.last().map_or(follow.after, |r| r.id);
                follow.ready.extend(records);
            }
            Ok(Some(_)) => {
                if let Some(end) = end {
                    follow.after = follow.after.max(end);
                }
                tokio::time::sleep(POLL).await;
            }
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "a subscription cannot read the listing-event log; retrying");
                tokio::time::sleep(AFTER_ERROR).await;
            }
        }
    }
}
