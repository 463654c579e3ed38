//! Resolvers for schema.graphql.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID};
use secworks_dnsbl::{
    Address, AddressRange, Answer, Blocklist as CatalogueEntry, Domain, InvalidDomain,
    InvalidRange, ListKind, ListOutcome, Outcome, Target,
};

use super::generated::{
    Blocklist, BlocklistKind, BlocklistPlan, DomainLookup, Evidence, ListResult, ListStatus,
    Listing, ListingEventConnection, Lookup, LookupAttempt, LookupConnection, LookupResolvers,
    LookupState, MutationResolvers, QueryResolvers, QueueStatus, Watchlist,
};
use crate::blocklists::Blocklists;
use crate::lookup::EngineHandle;
use crate::rechecks::Planner;
use crate::store::recent::RecentResults;
use crate::store::{
    Attempt, FilteredLookups, HistoryRecord, ListResultRecord, ListResults, ListState,
    ListingEvents, LookupRecord, ORIGINAL_LIST, Queue, Results, Store, StoreError, StoredAnswer,
    Verdict, Watchlists,
};
use crate::timestamp;

/// `response_code` of an address that was never looked up, as the original service said it.
pub use crate::store::NOT_LOOKED_UP;
/// The most `history` returns at once.
const MAX_HISTORY: i32 = 100;
const DEFAULT_HISTORY: i32 = 10;

pub struct Resolvers {
    /// Webhooks: in `webhooks.rs`.
    pub(super) hooks: super::webhooks::WebhookApi,
    pub(super) results: Arc<dyn Results>,
    /// The same, with recently read addresses kept: for `getIpDetails` when the query asks
    /// only for the row (a copy may be up to 250 ms behind another replica's writes, so it is
    /// never mixed with other rows in one answer).
    recent: Arc<RecentResults>,
    pub(super) lists: Arc<dyn ListResults>,
    /// `lookups` and `Lookup.state`: in `lookups.rs`.
    pub(super) filtered: Arc<dyn FilteredLookups>,
    queue: Arc<dyn Queue>,
    pub(super) watchlists: Arc<dyn Watchlists>,
    pub(super) events: Arc<dyn ListingEvents>,
    pub(super) engine: EngineHandle,
    pub(super) blocklists: Arc<Blocklists>,
    /// The most addresses or domains one `enqueue` or `enqueueDomains` takes.
    max_enqueue: usize,
    /// The most targets all watchlists together hold (`SECWORKS_MAX_WATCH_TARGETS`).
    pub(super) max_watch_targets: u64,
    /// The re-check planner: `recheckPlan`, in `rechecks.rs`.
    pub(super) planner: Planner,
}

impl Resolvers {
    /// `recent` answers `getIpDetails` (the engine tells it of what it writes); `store` the
    /// rest.
    pub fn new(
        store: Arc<dyn Store>,
        recent: Arc<RecentResults>,
        engine: EngineHandle,
        blocklists: Arc<Blocklists>,
        max_enqueue: usize,
        max_watch_targets: u64,
        planner: Planner,
    ) -> Self {
        Self {
            hooks: super::webhooks::WebhookApi::new(store.clone()),
            results: store.clone(),
            recent,
            lists: store.clone(),
            filtered: store.clone(),
            watchlists: store.clone(),
            events: store.clone(),
            queue: store,
            engine,
            blocklists,
            max_enqueue,
            max_watch_targets,
            planner,
        }
    }

    /// One result per enabled list that answers for `target`, in catalogue order. An address
    /// answered by ZEN before per-list results were kept (or imported from pysecworks) shows
    /// that answer as ZEN's result until ZEN answers again (a failure since shows as its
    /// `last_error`).
    pub(super) fn results_for(
        &self,
        target: &Target,
        stored: Vec<ListResultRecord>,
        original: Option<&LookupRecord>,
    ) -> Vec<ListResult> {
        self.blocklists
            .for_target(target)
            .map(|list| {
                // ZEN's answer in the `lookups` row, for rows from before per-list results
                // (or imported): it stands while its per-list row holds only failures, as
                // the filters and the export read it.
                let original = original
                    .filter(|_| list.id == ORIGINAL_LIST)
                    .and_then(|record| original_result(list, record));
                match (
                    stored.iter().find(|record| record.blocklist == list.id),
                    original,
                ) {
                    (Some(record), Some(mut answer)) if record.state == ListState::Unknown => {
                        answer.last_error = record.last_error.clone();
                        answer
                    }
                    (Some(record), _) => list_result(list, record),
                    (None, Some(answer)) => answer,
                    (None, None) => not_checked(list),
                }
            })
            .collect()
    }

    /// Refuses a batch larger than `SECWORKS_MAX_ENQUEUE`, naming the argument.
    fn check_batch(&self, argument: &str, what: &str, len: usize) -> async_graphql::Result<()> {
        let max = self.max_enqueue;
        if len > max {
            return Err(async_graphql::Error::new(format!(
                "argument `{argument}`: {len} {what}, at most {max} per request; nothing was changed"
            ))
            .extend_with(|_, ext| ext.set("code", "TOO_MANY_ADDRESSES")));
        }
        Ok(())
    }

    async fn enqueue_targets(
        &self,
        targets: Vec<Target>,
        reuse_fresh: Option<bool>,
    ) -> async_graphql::Result<Option<i32>> {
        let taken = i32::try_from(targets.len()).unwrap_or(i32::MAX);
        let jobs = self.blocklists.jobs(targets);
        // The engine's clock decides freshness, as it decides expiry when it stores answers.
        self.queue
            .enqueue(&jobs, reuse_fresh.unwrap_or(false), self.engine.now())
            .await
            .map_err(internal)?;
        self.engine.wake();
        Ok(Some(taken))
    }
}

impl QueryResolvers for Resolvers {
    // Webhooks: in `webhooks.rs`.

    async fn webhooks(
        &self,
        _ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::generated::Webhook>> {
        self.list_webhooks().await
    }

    async fn get_ip_details(
        &self,
        ctx: &Context<'_>,
        ip: String,
    ) -> async_graphql::Result<Option<Lookup>> {
        let Ok(address) = ip.parse::<Address>() else {
            return Err(invalid_address(&ip));
        };
        let target = Target::Ip(address);
        // With ZEN the only list that answers for this address (the default), the address's
        // row holds ZEN's current answer, so `listed` needs no second read: the per-list
        // results are read only when the query selects them or other lists answer too.
        let only_original = {
            let mut fitting = self.blocklists.for_target(&target);
            matches!((fitting.next(), fitting.next()), (Some(list), None) if list.id == ORIGINAL_LIST)
        };
        if only_original && !ctx.look_ahead().field("results").exists() {
            let record = if reads_only_the_row(&ctx.look_ahead()) {
                self.recent.lookup(&address).await
            } else {
                self.results.lookup(&address).await
            };
            let mut lookup = record
                .map_err(internal)?
                .map_or_else(|| never_looked_up(address), Lookup::from);
            if selects_state(&ctx.look_ahead()) {
                self.fill_states(std::slice::from_mut(&mut lookup)).await?;
            }
            return Ok(Some(lookup));
        }
        let (record, stored) = tokio::try_join!(
            self.results.lookup(&address),
            self.lists.list_results(&target)
        )
        .map_err(internal)?;
        let results = self.results_for(&target, stored, record.as_ref());
        let mut lookup = record.map_or_else(|| never_looked_up(address), Lookup::from);
        lookup.listed = listed(&results);
        lookup.results = results;
        if selects_state(&ctx.look_ahead()) {
            self.fill_states(std::slice::from_mut(&mut lookup)).await?;
        }
        Ok(Some(lookup))
    }

    async fn lookups(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::generated::LookupFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<LookupConnection> {
        self.lookups_page(ctx, filter, first, after).await
    }

    async fn blocklists(&self, _ctx: &Context<'_>) -> async_graphql::Result<Vec<Blocklist>> {
        let status = self.engine.status();
        let today = self.engine.today();
        let counted = self.lists.queries_on(today).await.map_err(internal)?;
        Ok(self
            .blocklists
            .catalogue()
            .iter()
            .map(|list| {
                let stored = counted
                    .iter()
                    .find(|(id, _)| *id == list.id)
                    .map_or(0, |(_, queries)| *queries);
                let running = status.lists.iter().find(|state| state.id == list.id);
                let paused_reason = match running {
                    Some(state) => state.pause.as_ref().map(ToString::to_string),
                    None => Some("not enabled (SECWORKS_BLOCKLISTS)".to_owned()),
                };
                let queries = running.map_or(stored, |state| state.queries_today.max(stored));
                Blocklist {
                    id: list.id.clone(),
                    name: list.name.clone(),
                    zone: self.blocklists.shown_zone(list),
                    kind: match list.kind {
                        ListKind::Ip => BlocklistKind::Ip,
                        ListKind::Domain => BlocklistKind::Domain,
                    },
                    ipv4: list.ipv4,
                    ipv6: list.ipv6,
                    enabled: running.is_some(),
                    healthy: running.is_some_and(|state| state.healthy),
                    paused_reason,
                    delist_url: list.lookup_url.clone(),
                    website: list.website.clone(),
                    queries_today: clamp_u64(queries),
                    daily_budget: self.blocklists.daily_budget(list).map(clamp_u64),
                }
            })
            .collect())
    }

    async fn get_domain_details(
        &self,
        _ctx: &Context<'_>,
        domain: String,
    ) -> async_graphql::Result<Option<DomainLookup>> {
        let domain = domain.parse::<Domain>().map_err(|problem| {
            invalid_domains(&[InvalidDomain {
                index: 0,
                value: domain.clone(),
                problem,
            }])
        })?;
        let target = Target::Domain(domain.clone());
        let (record, stored) =
            tokio::try_join!(self.lists.domain(&domain), self.lists.list_results(&target))
                .map_err(internal)?;
        let results = self.results_for(&target, stored, None);
        Ok(Some(DomainLookup {
            domain: domain.to_string(),
            created_at: record.as_ref().map(|r| timestamp::format(r.created_at)),
            updated_at: record.as_ref().map(|r| timestamp::format(r.updated_at)),
            listed: listed(&results),
            results,
        }))
    }

    async fn queue_status(&self, _ctx: &Context<'_>) -> async_graphql::Result<QueueStatus> {
        let counts = self.queue.queue_counts().await.map_err(internal)?;
        let paused_reason = self.engine.status().pause.map(|pause| pause.to_string());
        Ok(QueueStatus {
            pending: clamp(counts.pending),
            running: clamp(counts.running),
            done: clamp(counts.done),
            failed: clamp(counts.failed),
            paused: paused_reason.is_some(),
            paused_reason,
        })
    }

    // Watchlists and listing events: in `watchlists.rs`.

    async fn watchlists(&self, _ctx: &Context<'_>) -> async_graphql::Result<Vec<Watchlist>> {
        self.all_watchlists().await
    }

    async fn watchlist(
        &self,
        _ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<Option<Watchlist>> {
        self.one_watchlist(name).await
    }

    async fn listing_events(
        &self,
        _ctx: &Context<'_>,
        after: Option<String>,
        first: Option<i32>,
        watchlist: Option<String>,
    ) -> async_graphql::Result<ListingEventConnection> {
        self.events_page(after, first, watchlist).await
    }

    async fn recheck_plan(&self, _ctx: &Context<'_>) -> async_graphql::Result<Vec<BlocklistPlan>> {
        self.recheck_plans().await
    }

    // The dashboard's reads: in `dashboard.rs`.

    async fn blocklist_usage(
        &self,
        _ctx: &Context<'_>,
        hours: Option<i32>,
    ) -> async_graphql::Result<Vec<super::generated::BlocklistHour>> {
        self.usage_by_hour(hours).await
    }

    async fn listed_targets(
        &self,
        _ctx: &Context<'_>,
        hours: Option<i32>,
    ) -> async_graphql::Result<Vec<super::generated::ListedHour>> {
        self.listed_by_hour(hours).await
    }

    async fn watched_listings(
        &self,
        _ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<super::generated::WatchedListing>> {
        self.watched_listings_now(first).await
    }

    async fn latest_listing_events(
        &self,
        _ctx: &Context<'_>,
        last: Option<i32>,
    ) -> async_graphql::Result<Vec<super::generated::ListingEvent>> {
        self.latest_events(last).await
    }
}

impl MutationResolvers for Resolvers {
    // Webhooks: in `webhooks.rs`.

    async fn create_webhook(
        &self,
        _ctx: &Context<'_>,
        url: String,
        watchlist: Option<String>,
    ) -> async_graphql::Result<super::generated::NewWebhook> {
        self.new_webhook(url, watchlist).await
    }

    async fn delete_webhook(&self, _ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        self.remove_webhook(id).await
    }

    async fn enqueue(
        &self,
        _ctx: &Context<'_>,
        ip: Vec<String>,
        reuse_fresh: Option<bool>,
    ) -> async_graphql::Result<Option<i32>> {
        self.check_batch("ip", "addresses", ip.len())?;
        let ranges = AddressRange::parse_all(&ip).map_err(|bad| invalid_addresses(&bad))?;
        // Counted before a range is expanded: `::/0` is refused, not walked.
        let total = ranges
            .iter()
            .fold(0u128, |total, range| total.saturating_add(range.size()));
        self.check_batch(
            "ip",
            "addresses once ranges are expanded",
            usize::try_from(total).unwrap_or(usize::MAX),
        )?;
        let targets = ranges
            .into_iter()
            .flat_map(AddressRange::addresses)
            .map(Target::Ip)
            .collect();
        self.enqueue_targets(targets, reuse_fresh).await
    }

    async fn enqueue_domains(
        &self,
        _ctx: &Context<'_>,
        domain: Vec<String>,
        reuse_fresh: Option<bool>,
    ) -> async_graphql::Result<Option<i32>> {
        self.check_batch("domain", "domains", domain.len())?;
        let domains = Domain::parse_all(&domain).map_err(|bad| invalid_domains(&bad))?;
        self.enqueue_targets(
            domains.into_iter().map(Target::Domain).collect(),
            reuse_fresh,
        )
        .await
    }

    // Watchlists: in `watchlists.rs`.

    async fn put_watchlist(
        &self,
        _ctx: &Context<'_>,
        name: String,
        targets: Vec<String>,
        interval: Option<String>,
    ) -> async_graphql::Result<Watchlist> {
        self.put(name, targets, interval).await
    }

    async fn add_watch_targets(
        &self,
        _ctx: &Context<'_>,
        name: String,
        targets: Vec<String>,
    ) -> async_graphql::Result<Watchlist> {
        self.add_targets(name, targets).await
    }

    async fn remove_watch_targets(
        &self,
        _ctx: &Context<'_>,
        name: String,
        targets: Vec<String>,
    ) -> async_graphql::Result<Watchlist> {
        self.remove_targets(name, targets).await
    }

    async fn delete_watchlist(
        &self,
        _ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<bool> {
        self.delete(name).await
    }
}

impl LookupResolvers for Resolvers {
    /// The error of the latest attempt, if it failed. A read of its own, made only for queries
    /// that select the field (the original service's do not).
    async fn last_error(
        &self,
        _ctx: &Context<'_>,
        parent: &Lookup,
    ) -> async_graphql::Result<Option<String>> {
        let address = parent_address(parent)?;
        let latest = self.results.history(&address, 1).await.map_err(internal)?;
        Ok(latest
            .into_iter()
            .next()
            .and_then(HistoryRecord::into_error))
    }

    async fn history(
        &self,
        _ctx: &Context<'_>,
        parent: &Lookup,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<LookupAttempt>> {
        let limit = limit.unwrap_or(DEFAULT_HISTORY);
        if !(0..=MAX_HISTORY).contains(&limit) {
            return Err(async_graphql::Error::new(format!(
                "argument `limit`: must be between 0 and {MAX_HISTORY}, got {limit}"
            ))
            .extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT")));
        }
        let limit = u32::try_from(limit).unwrap_or(0);
        let address = parent_address(parent)?;
        let records = self
            .results
            .history(&address, limit)
            .await
            .map_err(internal)?;
        Ok(records.into_iter().map(LookupAttempt::from).collect())
    }
}

/// The parent's address. The generated type holds it as the text this module wrote from an
/// `Address`; reading it back cannot fail, but is not left unchecked.
pub(super) fn parent_address(parent: &Lookup) -> async_graphql::Result<Address> {
    parent.ip_address.parse::<Address>().map_err(|_| {
        internal(StoreError::Unreadable(format!(
            "address {:?} of a Lookup",
            parent.ip_address
        )))
    })
}

impl From<LookupRecord> for Lookup {
    fn from(r: LookupRecord) -> Self {
        let outcome = r.answer.outcome();
        Lookup {
            uuid: Some(ID(r.uuid)),
            created_at: Some(timestamp::format(r.created_at)),
            updated_at: Some(timestamp::format(r.updated_at)),
            listed: outcome.map(Outcome::is_listed),
            listings: outcome.map(listings).unwrap_or_default(),
            response_code: r.answer.text(),
            ip_address: r.address.to_string(),
            results: Vec::new(),
            state: LookupState::NeverQueued,
            state_reason: None,
        }
    }
}

impl From<HistoryRecord> for LookupAttempt {
    fn from(r: HistoryRecord) -> Self {
        let looked_up_at = timestamp::format(r.looked_up_at);
        match r.attempt {
            Attempt::Answer(answer) => LookupAttempt {
                looked_up_at,
                listed: answer.outcome().map(Outcome::is_listed),
                response_code: Some(answer.text()),
                error: None,
            },
            Attempt::Error(error) => LookupAttempt {
                looked_up_at,
                response_code: None,
                listed: None,
                error: Some(error),
            },
        }
    }
}

fn never_looked_up(address: Address) -> Lookup {
    Lookup {
        uuid: None,
        created_at: None,
        updated_at: None,
        response_code: NOT_LOOKED_UP.to_owned(),
        ip_address: address.to_string(),
        listed: None,
        listings: Vec::new(),
        results: Vec::new(),
        state: LookupState::NeverQueued,
        state_reason: None,
    }
}

/// Whether a query selects a Lookup's `state` or `state_reason` (filled by `fill_states`).
pub(super) fn selects_state(lookup: &async_graphql::Lookahead<'_>) -> bool {
    lookup.field("state").exists() || lookup.field("state_reason").exists()
}

/// Whether a `Lookup` selection asks only for what the address's own row holds: then a
/// recent copy of the row answers it all, and no part of the answer is read now.
fn reads_only_the_row(lookup: &async_graphql::Lookahead<'_>) -> bool {
    ["state", "state_reason", "last_error", "history", "results"]
        .iter()
        .all(|field| !lookup.field(field).exists())
}

/// Listed on any list; else not listed if any list answered; else unknown (null).
pub(super) fn listed(results: &[ListResult]) -> Option<bool> {
    if results.iter().any(|r| r.status == ListStatus::Listed) {
        Some(true)
    } else if results.iter().any(|r| r.status == ListStatus::NotListed) {
        Some(false)
    } else {
        None
    }
}

fn list_result(list: &CatalogueEntry, record: &ListResultRecord) -> ListResult {
    let status = match record.state {
        ListState::Answered(Verdict::Listed) => ListStatus::Listed,
        ListState::Answered(Verdict::NotListed) => ListStatus::NotListed,
        ListState::Unknown => ListStatus::Unknown,
    };
    let listed = status == ListStatus::Listed;
    ListResult {
        blocklist: list.id.clone(),
        status,
        return_codes: record
            .return_codes
            .iter()
            .map(ToString::to_string)
            .collect(),
        listings: if listed {
            list_listings(list, &record.return_codes)
        } else {
            Vec::new()
        },
        reason: record.reason.clone(),
        delist_url: list.lookup_url.clone().filter(|_| listed),
        checked_at: record.checked_at.map(timestamp::format),
        expires_at: record.expires_at.map(timestamp::format),
        last_error: record.last_error.clone(),
        evidence: record.evidence.as_ref().map(|e| Evidence {
            resolver: e.resolver.to_string(),
            query_name: e.query_name.clone(),
            rcode: e.rcode.clone(),
            ttl: e.ttl.map(|ttl| i32::try_from(ttl).unwrap_or(i32::MAX)),
            test_points_passed: e.test_points_passed,
            answered_at: timestamp::format(e.answered_at),
        }),
    }
}

/// ZEN's answer as the `lookups` row holds it, for addresses answered before per-list results
/// were kept; `None` if the row holds no blocklist answer.
fn original_result(list: &CatalogueEntry, record: &LookupRecord) -> Option<ListResult> {
    let outcome = match &record.answer {
        StoredAnswer::Blocklist(outcome) => outcome,
        StoredAnswer::Other(_) => return None,
    };
    let (status, codes) = match outcome {
        Outcome::Listed(codes) => (ListStatus::Listed, codes.clone()),
        Outcome::NotListed => (ListStatus::NotListed, Vec::new()),
    };
    let listed = status == ListStatus::Listed;
    Some(ListResult {
        blocklist: list.id.clone(),
        status,
        return_codes: codes.iter().map(ToString::to_string).collect(),
        listings: if listed {
            list_listings(list, &codes)
        } else {
            Vec::new()
        },
        reason: None,
        delist_url: list.lookup_url.clone().filter(|_| listed),
        checked_at: Some(timestamp::format(record.updated_at)),
        // Unknown: such answers were stored without their TTL.
        expires_at: None,
        last_error: None,
        evidence: None,
    })
}

fn not_checked(list: &CatalogueEntry) -> ListResult {
    ListResult {
        blocklist: list.id.clone(),
        status: ListStatus::NotChecked,
        return_codes: Vec::new(),
        listings: Vec::new(),
        reason: None,
        delist_url: None,
        checked_at: None,
        expires_at: None,
        last_error: None,
        evidence: None,
    }
}

/// Return codes decoded with the list's own documented codes. Codes the catalogue no longer
/// documents (it was edited since) are shown as such rather than dropped.
pub(super) fn list_listings(list: &CatalogueEntry, codes: &[std::net::Ipv4Addr]) -> Vec<Listing> {
    match list.decode(Answer::Records(codes.to_vec())) {
        Ok(ListOutcome::Listed(listings)) => listings
            .into_iter()
            .map(|l| Listing {
                list: l.name,
                return_code: l.code.to_string(),
                description: l.meaning,
            })
            .collect(),
        _ => codes
            .iter()
            .map(|code| Listing {
                list: list.id.clone(),
                return_code: code.to_string(),
                description: format!(
                    "not documented by the current catalogue entry for {}",
                    list.id
                ),
            })
            .collect(),
    }
}

pub(super) fn clamp_u64(count: u64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

fn listings(outcome: &Outcome) -> Vec<Listing> {
    outcome
        .listings()
        .into_iter()
        .map(|l| Listing {
            list: l.list.to_owned(),
            return_code: l.code.to_string(),
            description: l.description.to_owned(),
        })
        .collect()
}

fn clamp(count: i64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

fn invalid_address(value: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "argument `ip`: {value:?} is not an IPv4 or IPv6 address"
    ))
    .extend_with(|_, ext| ext.set("code", "INVALID_IP_ADDRESS"))
}

/// An entry of a list argument that cannot be taken.
pub(super) struct BadEntry<'a> {
    pub index: usize,
    pub value: &'a str,
    pub problem: Option<String>,
}

/// One error naming every bad entry of a list argument, where it was and, when known, what
/// is wrong with it, so a client can fix them all at once; nothing was changed.
pub(super) fn invalid_entries(
    argument: &str,
    expected: &str,
    code: &'static str,
    bad: &[BadEntry<'_>],
) -> async_graphql::Error {
    let listed: Vec<String> = bad
        .iter()
        .map(|e| match &e.problem {
            Some(problem) => format!("{:?} at index {}: {problem}", e.value, e.index),
            None => format!("{:?} at index {}", e.value, e.index),
        })
        .collect();
    let message = format!(
        "argument `{argument}`: not {expected}: {}; nothing was changed",
        listed.join(", ")
    );
    let entries: Vec<async_graphql::Value> = bad
        .iter()
        .map(|e| match &e.problem {
            Some(problem) => async_graphql::value!({
                "index": e.index,
                "value": e.value,
                "problem": problem.clone(),
            }),
            None => async_graphql::value!({ "index": e.index, "value": e.value }),
        })
        .collect();
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", code);
        ext.set("invalid", entries.clone());
    })
}

fn invalid_addresses(bad: &[InvalidRange]) -> async_graphql::Error {
    let bad: Vec<BadEntry<'_>> = bad
        .iter()
        .map(|e| BadEntry {
            index: e.index,
            value: &e.value,
            problem: e.problem.as_ref().map(ToString::to_string),
        })
        .collect();
    invalid_entries(
        "ip",
        "an IPv4 or IPv6 address or CIDR range",
        "INVALID_IP_ADDRESS",
        &bad,
    )
}

fn invalid_domains(bad: &[InvalidDomain]) -> async_graphql::Error {
    let bad: Vec<BadEntry<'_>> = bad
        .iter()
        .map(|e| BadEntry {
            index: e.index,
            value: &e.value,
            problem: Some(e.problem.to_string()),
        })
        .collect();
    invalid_entries("domain", "a domain name", "INVALID_DOMAIN", &bad)
}

/// Logs a store failure and returns an error that reveals nothing of it.
pub(super) fn internal(error: StoreError) -> async_graphql::Error {
    tracing::error!(error = %error, "resolver failed on the store");
    async_graphql::Error::new("internal error").extend_with(|_, ext| ext.set("code", "INTERNAL"))
}
