//! Resolvers for schema.graphql.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID};
use secworks_dnsbl::{Address, InvalidEntry, Outcome};

use super::generated::{
    Listing, Lookup, LookupAttempt, LookupResolvers, MutationResolvers, QueryResolvers, QueueStatus,
};
use crate::lookup::EngineHandle;
use crate::store::{Attempt, HistoryRecord, LookupRecord, Queue, Results, StoreError};
use crate::timestamp;

/// `response_code` of an address that was never looked up, as the original service said it.
pub const NOT_LOOKED_UP: &str = "No records found.";
/// The most `history` returns at once.
const MAX_HISTORY: i32 = 100;
const DEFAULT_HISTORY: i32 = 10;

pub struct Resolvers {
    results: Arc<dyn Results>,
    queue: Arc<dyn Queue>,
    engine: EngineHandle,
    /// The most addresses one `enqueue` takes.
    max_enqueue: usize,
}

impl Resolvers {
    pub fn new(
        results: Arc<dyn Results>,
        queue: Arc<dyn Queue>,
        engine: EngineHandle,
        max_enqueue: usize,
    ) -> Self {
        Self {
            results,
            queue,
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
        let Ok(address) = ip.parse::<Address>() else {
            return Err(invalid_address(&ip));
        };
        let record = self.results.lookup(&address).await.map_err(internal)?;
        Ok(Some(
            record.map_or_else(|| never_looked_up(address), Lookup::from),
        ))
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
        let addresses = Address::parse_all(&ip).map_err(|bad| invalid_addresses(&bad))?;
        let taken = i32::try_from(addresses.len()).unwrap_or(i32::MAX);
        self.queue
            .enqueue(&addresses, timestamp::now())
            .await
            .map_err(internal)?;
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
fn parent_address(parent: &Lookup) -> async_graphql::Result<Address> {
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
    }
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
fn invalid_addresses(bad: &[InvalidEntry]) -> async_graphql::Error {
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
