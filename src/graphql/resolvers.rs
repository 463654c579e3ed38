//! Resolvers for schema.graphql.

use std::net::Ipv4Addr;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID};
use secworks_dnsbl::Outcome;

use super::generated::{
    Listing, Lookup, LookupAttempt, LookupResolvers, MutationResolvers, QueryResolvers, QueueStatus,
};
use crate::ip;
use crate::lookup::EngineHandle;
use crate::store::{HistoryRecord, LookupRecord, Store, StoreError};

/// `response_code` of an address that was never looked up, as the original service said it.
pub const NOT_LOOKED_UP: &str = "No records found.";
/// The most `history` returns at once.
const MAX_HISTORY: i32 = 100;
const DEFAULT_HISTORY: i32 = 10;

pub struct Resolvers {
    store: Arc<dyn Store>,
    engine: EngineHandle,
    /// The most addresses one `enqueue` takes.
    max_enqueue: usize,
}

impl Resolvers {
    pub fn new(store: Arc<dyn Store>, engine: EngineHandle, max_enqueue: usize) -> Self {
        Self {
            store,
            engine,
            max_enqueue,
        }
    }
}

impl QueryResolvers for Resolvers {
    async fn get_ip_details(
        &self,
        _ctx: &Context<'_>,
        ip: String,
    ) -> async_graphql::Result<Option<Lookup>> {
        let Some(address) = ip::canonical(&ip) else {
            return Err(invalid_address(&ip));
        };
        let record = self.store.lookup(&address).await.map_err(internal)?;
        Ok(Some(
            record.map_or_else(|| never_looked_up(address), Lookup::from),
        ))
    }

    async fn queue_status(&self, _ctx: &Context<'_>) -> async_graphql::Result<QueueStatus> {
        let counts = self.store.queue_counts().await.map_err(internal)?;
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
}

impl MutationResolvers for Resolvers {
    async fn enqueue(
        &self,
        _ctx: &Context<'_>,
        ip: Vec<String>,
    ) -> async_graphql::Result<Option<i32>> {
        let max = self.max_enqueue;
        if ip.len() > max {
            return Err(async_graphql::Error::new(format!(
                "argument `ip`: {} addresses, at most {max} per request; nothing was changed",
                ip.len()
            ))
            .extend_with(|_, ext| ext.set("code", "TOO_MANY_ADDRESSES")));
        }
        let addresses = ip::canonical_all(&ip).map_err(|bad| invalid_addresses(&bad))?;
        let taken = i32::try_from(addresses.len()).unwrap_or(i32::MAX);
        self.store.enqueue(&addresses).await.map_err(internal)?;
        self.engine.wake();
        Ok(Some(taken))
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
        let latest = self
            .store
            .history(&parent.ip_address, 1)
            .await
            .map_err(internal)?;
        Ok(latest.into_iter().next().and_then(|attempt| attempt.error))
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
        let records = self
            .store
            .history(&parent.ip_address, limit)
            .await
            .map_err(internal)?;
        Ok(records.into_iter().map(LookupAttempt::from).collect())
    }
}

impl From<LookupRecord> for Lookup {
    fn from(r: LookupRecord) -> Self {
        let outcome = parse_response_code(&r.response_code);
        Lookup {
            uuid: Some(ID(r.uuid)),
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
            listed: outcome.as_ref().map(Outcome::is_listed),
            listings: outcome.as_ref().map(listings).unwrap_or_default(),
            response_code: r.response_code,
            ip_address: r.ip_address,
        }
    }
}

impl From<HistoryRecord> for LookupAttempt {
    fn from(r: HistoryRecord) -> Self {
        let listed = r
            .response_code
            .as_deref()
            .and_then(parse_response_code)
            .map(|o| o.is_listed());
        LookupAttempt {
            looked_up_at: r.looked_up_at,
            response_code: r.response_code,
            listed,
            error: r.error,
        }
    }
}

fn never_looked_up(address: String) -> Lookup {
    Lookup {
        uuid: None,
        created_at: None,
        updated_at: None,
        response_code: NOT_LOOKED_UP.to_owned(),
        ip_address: address,
        listed: None,
        listings: Vec::new(),
    }
}

/// Reads a stored `response_code` back as a blocklist answer; `None` for anything else (such
/// as results imported from elsewhere).
fn parse_response_code(code: &str) -> Option<Outcome> {
    if code == Outcome::NotListed.response_code() {
        return Some(Outcome::NotListed);
    }
    let records: Result<Vec<Ipv4Addr>, _> = code.split(", ").map(str::parse).collect();
    records.ok().filter(|r| !r.is_empty()).map(Outcome::Listed)
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

/// One error naming every bad entry and where it was, so a client can fix them all at once.
fn invalid_addresses(bad: &[ip::InvalidEntry]) -> async_graphql::Error {
    let listed: Vec<String> = bad
        .iter()
        .map(|e| format!("{:?} at index {}", e.value, e.index))
        .collect();
    let message = format!(
        "argument `ip`: not an IPv4 or IPv6 address: {}; nothing was changed",
        listed.join(", ")
    );
    let entries: Vec<async_graphql::Value> = bad
        .iter()
        .map(|e| async_graphql::value!({ "index": e.index, "value": e.value.clone() }))
        .collect();
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", "INVALID_IP_ADDRESS");
        ext.set("invalid", entries.clone());
    })
}

/// Logs a store failure and returns an error that reveals nothing of it.
fn internal(error: StoreError) -> async_graphql::Error {
    tracing::error!(error = %error, "resolver failed on the store");
    async_graphql::Error::new("internal error").extend_with(|_, ext| ext.set("code", "INTERNAL"))
}
