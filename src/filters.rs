//! The filter of stored results as clients write it — GraphQL's `LookupFilter` and the query
//! parameters of `/export/lookups` — read once for both: each field checked, each error naming
//! the field, the result what the store takes.

use secworks_dnsbl::{AddressRange, ListKind};

use crate::blocklists::Blocklists;
use crate::store::{LookupFilter, StoreError, WatchlistName, Watchlists};
use crate::timestamp;

/// The filter's fields as written; `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct FilterFields {
    pub listed: Option<bool>,
    pub blocklist: Option<String>,
    pub watchlist: Option<String>,
    pub within: Option<String>,
    pub changed_since: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A field the client got wrong, and what is wrong with it.
    #[error("{field}: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn wrong(field: &'static str, problem: String) -> FilterError {
    FilterError::Field { field, problem }
}

/// The enabled IP lists: the ones whose answers count for `listed`.
pub fn counted_lists(blocklists: &Blocklists) -> Vec<String> {
    blocklists
        .enabled()
        .filter(|list| list.kind == ListKind::Ip)
        .map(|list| list.id.clone())
        .collect()
}

/// Reads `fields` into the store's filter. A watchlist named must exist (one read).
pub async fn read_filter(
    fields: FilterFields,
    blocklists: &Blocklists,
    watchlists: &dyn Watchlists,
) -> Result<LookupFilter, FilterError> {
    let lists = counted_lists(blocklists);
    if let Some(id) = &fields.blocklist
        && !lists.contains(id)
    {
        let problem = if blocklists.get(id).is_none() {
            format!("{id:?} is no blocklist of the catalogue (see `blocklists`)")
        } else if blocklists.is_enabled(id) {
            format!("{id:?} lists domains; stored results here are of addresses")
        } else {
            format!("{id:?} is not enabled (SECWORKS_BLOCKLISTS)")
        };
        return Err(wrong("blocklist", problem));
    }
    let watchlist = match fields.watchlist.as_deref() {
        None => None,
        Some(text) => {
            let name = text
                .parse::<WatchlistName>()
                .map_err(|problem| wrong("watchlist", problem.to_string()))?;
            if watchlists.watchlist(&name, &[]).await?.is_none() {
                let problem = format!("there is no watchlist named {:?}", name.as_str());
                return Err(wrong("watchlist", problem));
            }
            Some(name)
        }
    };
    let within = fields
        .within
        .as_deref()
        .map(|text| {
            text.parse::<AddressRange>()
                .map_err(|problem| wrong("within", format!("{text:?}: {problem}")))
        })
        .transpose()?;
    let changed_since = fields
        .changed_since
        .as_deref()
        .map(|text| {
            timestamp::parse(text).ok_or_else(|| {
                wrong(
                    "changed_since",
                    format!("{text:?} is not an RFC 3339 instant (e.g. 2026-11-30T00:00:00Z)"),
                )
            })
        })
        .transpose()?;
    Ok(LookupFilter {
        lists,
        listed: fields.listed,
        blocklist: fields.blocklist,
        watchlist,
        within,
        changed_since,
    })
}
