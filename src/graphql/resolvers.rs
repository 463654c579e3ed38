//! Resolvers for the root types of schema.graphql.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID};

use super::generated::{Lookup, MutationResolvers, QueryResolvers};
use crate::ip;
use crate::store::{LookupRecord, Store, StoreError};

/// `response_code` of an address that was never looked up, as the original service said it.
pub const NOT_LOOKED_UP: &str = "No records found.";

pub struct Resolvers {
    store: Arc<dyn Store>,
}

impl Resolvers {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
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
}

impl MutationResolvers for Resolvers {
    async fn enqueue(
        &self,
        _ctx: &Context<'_>,
        ip: Vec<String>,
    ) -> async_graphql::Result<Option<i32>> {
        let addresses = ip::canonical_all(&ip).map_err(|bad| invalid_addresses(&bad, "ip"))?;
        let taken = i32::try_from(addresses.len())
            .map_err(|_| async_graphql::Error::new("too many addresses in one request"))?;
        self.store.enqueue(&addresses).await.map_err(internal)?;
        Ok(Some(taken))
    }
}

impl From<LookupRecord> for Lookup {
    fn from(r: LookupRecord) -> Self {
        Lookup {
            uuid: Some(ID(r.uuid)),
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
            response_code: r.response_code,
            ip_address: r.ip_address,
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
    }
}

fn invalid_address(value: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "argument `ip`: {value:?} is not an IPv4 or IPv6 address"
    ))
    .extend_with(|_, ext| ext.set("code", "INVALID_IP_ADDRESS"))
}

/// One error naming every bad entry and where it was, so a client can fix them all at once.
fn invalid_addresses(bad: &[ip::InvalidEntry], argument: &str) -> async_graphql::Error {
    let listed: Vec<String> = bad
        .iter()
        .map(|e| format!("{:?} at index {}", e.value, e.index))
        .collect();
    let message = format!(
        "argument `{argument}`: not an IPv4 or IPv6 address: {}; nothing was changed",
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
