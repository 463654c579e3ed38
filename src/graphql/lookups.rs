//! `lookups`, the filtered and paginated results, and where an address's lookups stand
//! (`Lookup.state`).
//!
//! A cursor is the result's `updated_at` and address, base64 (URL-safe): the page goes on
//! after it in the same newest-change-first order.

use async_graphql::{Context, ErrorExtensions};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secworks_dnsbl::{Address, Target};

use super::generated::{
    Lookup, LookupConnection, LookupEdge, LookupFilter as FilterInput, LookupState, PageInfo,
};
use super::resolvers::{Resolvers, internal};
use super::watchlists::bad_input;
use crate::filters::{FilterError, FilterFields, read_filter};
use crate::lookup::Pause;
use crate::store::{ChangeKey, FoundLookup, JobState, LookupFilter};
use crate::timestamp;

const DEFAULT_FIRST: i32 = 50;
const MAX_FIRST: i32 = 1000;

impl Resolvers {
    /// The filter as the store takes it, or an error naming the field that is wrong.
    async fn lookup_filter(
        &self,
        input: Option<FilterInput>,
    ) -> async_graphql::Result<LookupFilter> {
        let fields = input.map_or_else(FilterFields::default, |input| FilterFields {
            listed: input.listed,
            blocklist: input.blocklist,
            watchlist: input.watchlist,
            within: input.within,
            changed_since: input.changed_since,
        });
        read_filter(fields, &self.blocklists, self.watchlists.as_ref())
            .await
            .map_err(|error| match error {
                FilterError::Field { field, problem } => {
                    bad_input(&format!("filter.{field}"), problem)
                }
                FilterError::Store(error) => internal(error),
            })
    }

    pub(super) async fn lookups_page(
        &self,
        ctx: &Context<'_>,
        filter: Option<FilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<LookupConnection> {
        let first = first.unwrap_or(DEFAULT_FIRST);
        if !(1..=MAX_FIRST).contains(&first) {
            return Err(bad_input(
                "first",
                format!("must be between 1 and {MAX_FIRST}, got {first}"),
            ));
        }
        let after = after.as_deref().map(read_cursor).transpose()?;
        let filter = self.lookup_filter(filter).await?;
        let limit = u32::try_from(first).unwrap_or(0);
        // One more than asked: whether it comes says whether there is a next page. The count
        // walks every result the filter finds: made only when the query selects it.
        let counted = async {
            if ctx.look_ahead().field("total_count").exists() {
                self.filtered.count_lookups(&filter).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (mut found, total) = tokio::try_join!(
            self.filtered.lookups_by_change(&filter, after, limit + 1),
            counted
        )
        .map_err(internal)?;
        let total = total.unwrap_or_default();
        let has_next_page = found.len() > limit as usize;
        found.truncate(limit as usize);
        let node = ctx.look_ahead().field("edges").field("node");
        let cursors: Vec<String> = found.iter().map(write_cursor).collect();
        let mut nodes = self
            .found_nodes(found, node.field("results").exists())
            .await?;
        if super::resolvers::selects_state(&node) {
            self.fill_states(&mut nodes).await?;
        }
        let edges: Vec<LookupEdge> = cursors
            .into_iter()
            .zip(nodes)
            .map(|(cursor, node)| LookupEdge { cursor, node })
            .collect();
        let end_cursor = edges.last().map(|edge| edge.cursor.clone());
        Ok(LookupConnection {
            edges,
            page_info: PageInfo {
                has_next_page,
                end_cursor,
            },
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }

    /// Found results as GraphQL shows them; their per-list results are read (in one read for
    /// the page) only when asked for.
    async fn found_nodes(
        &self,
        found: Vec<FoundLookup>,
        with_results: bool,
    ) -> async_graphql::Result<Vec<Lookup>> {
        let mut stored = if with_results {
            let targets: Vec<Target> = found.iter().map(|f| Target::Ip(f.record.address)).collect();
            self.lists
                .list_results_of(&targets)
                .await
                .map_err(internal)?
        } else {
            Vec::new()
        };
        let mut nodes = Vec::with_capacity(found.len());
        for result in found {
            let listed = result.listed();
            let target = Target::Ip(result.record.address);
            let results = if with_results {
                let key = target.to_string();
                let (own, rest): (Vec<_>, Vec<_>) =
                    stored.drain(..).partition(|(of, _)| *of == key);
                stored = rest;
                let own = own.into_iter().map(|(_, record)| record).collect();
                self.results_for(&target, own, Some(&result.record))
            } else {
                Vec::new()
            };
            let mut node = Lookup::from(result.record);
            node.listed = listed;
            node.results = results;
            nodes.push(node);
        }
        Ok(nodes)
    }

    /// Fills each node's `state` and `state_reason`: where its lookups stand across the
    /// enabled lists that answer for it (one read for all of them), and why when PAUSED or
    /// FAILED.
    pub(super) async fn fill_states(&self, nodes: &mut [Lookup]) -> async_graphql::Result<()> {
        let addresses: Vec<Address> = nodes
            .iter()
            .map(super::resolvers::parent_address)
            .collect::<async_graphql::Result<_>>()?;
        let states = self
            .filtered
            .job_states(&addresses)
            .await
            .map_err(internal)?;
        let status = self.engine.status();
        for (node, address) in nodes.iter_mut().zip(addresses) {
            let target = Target::Ip(address);
            let lists: Vec<(String, JobState, Option<&Pause>)> = self
                .blocklists
                .for_target(&target)
                .filter_map(|list| {
                    let (_, _, state) = states
                        .iter()
                        .find(|(of, id, _)| *of == address && *id == list.id)?;
                    let pause = status
                        .lists
                        .iter()
                        .find(|running| running.id == list.id)
                        .and_then(|running| running.pause.as_ref());
                    Some((list.id.clone(), *state, pause))
                })
                .collect();
            let (state, paused) = summarise(&lists, node.uuid.is_some());
            node.state_reason = match state {
                // As `queueStatus.paused_reason` says it: one list's reason, or each list's.
                LookupState::Paused => Some(match paused.as_slice() {
                    [(_, pause)] => pause.to_string(),
                    several => several
                        .iter()
                        .map(|(id, pause)| format!("{id}: {pause}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                }),
                LookupState::Failed => self.latest_error(&address).await?,
                _ => None,
            };
            node.state = state;
        }
        Ok(())
    }

    async fn latest_error(&self, address: &Address) -> async_graphql::Result<Option<String>> {
        let latest = self.results.history(address, 1).await.map_err(internal)?;
        Ok(latest
            .into_iter()
            .next()
            .and_then(crate::store::HistoryRecord::into_error))
    }
}

/// The state of an address from its lists' latest jobs (each with its list's pause, if
/// paused), and the paused lists it waits for. `looked_up`: it has a stored result.
fn summarise<'a>(
    lists: &'a [(String, JobState, Option<&'a Pause>)],
    looked_up: bool,
) -> (LookupState, Vec<(&'a str, &'a Pause)>) {
    let has = |wanted: JobState| lists.iter().any(|(_, state, _)| *state == wanted);
    if has(JobState::Running) {
        return (LookupState::Running, Vec::new());
    }
    let waiting: Vec<_> = lists
        .iter()
        .filter(|(_, state, _)| *state == JobState::Pending)
        .collect();
    if !waiting.is_empty() {
        let paused: Vec<(&str, &Pause)> = waiting
            .iter()
            .filter_map(|(id, _, pause)| pause.map(|pause| (id.as_str(), pause)))
            .collect();
        return if paused.len() == waiting.len() {
            (LookupState::Paused, paused)
        } else {
            (LookupState::Queued, Vec::new())
        };
    }
    if has(JobState::Failed) {
        (LookupState::Failed, Vec::new())
    } else if has(JobState::Done) || looked_up {
        (LookupState::Done, Vec::new())
    } else {
        (LookupState::NeverQueued, Vec::new())
    }
}

fn write_cursor(found: &FoundLookup) -> String {
    let text = format!(
        "{} {}",
        timestamp::format(found.record.updated_at),
        found.record.address
    );
    URL_SAFE_NO_PAD.encode(text)
}

fn read_cursor(cursor: &str) -> async_graphql::Result<ChangeKey> {
    let read = || {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, address) = text.split_once(' ')?;
        Some(ChangeKey {
            updated_at: timestamp::parse(at)?,
            address: address.parse().ok()?,
        })
    };
    read().ok_or_else(|| {
        async_graphql::Error::new(format!(
            "argument `after`: {cursor:?} is not a cursor of lookups; pass back a `cursor` or `endCursor` as it came"
        ))
        .extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(lists: &[(&str, JobState, Option<&Pause>)], looked_up: bool) -> LookupState {
        let lists: Vec<_> = lists
            .iter()
            .map(|(id, state, pause)| ((*id).to_owned(), *state, *pause))
            .collect();
        summarise(&lists, looked_up).0
    }

    #[test]
    fn running_beats_waiting_beats_failed_beats_done() {
        let paused = Pause::RateLimited;
        use JobState::*;
        assert_eq!(summary(&[], false), LookupState::NeverQueued);
        assert_eq!(summary(&[], true), LookupState::Done);
        assert_eq!(summary(&[("a", Done, None)], false), LookupState::Done);
        assert_eq!(
            summary(&[("a", Failed, None), ("b", Done, None)], true),
            LookupState::Failed
        );
        assert_eq!(
            summary(&[("a", Failed, None), ("b", Pending, None)], true),
            LookupState::Queued
        );
        assert_eq!(
            summary(&[("a", Pending, Some(&paused))], true),
            LookupState::Paused
        );
        // One list it waits for runs: it is queued, not paused.
        assert_eq!(
            summary(
                &[("a", Pending, Some(&paused)), ("b", Pending, None)],
                false
            ),
            LookupState::Queued
        );
        assert_eq!(
            summary(
                &[("a", Pending, Some(&paused)), ("b", Running, None)],
                false
            ),
            LookupState::Running
        );
    }

    #[test]
    fn cursors_read_back_and_others_are_refused() {
        let key = ChangeKey {
            updated_at: timestamp::parse("2026-11-30T10:00:00.000001Z").expect("an instant"),
            address: "2001:db8::1".parse().expect("an address"),
        };
        let text = URL_SAFE_NO_PAD.encode(format!(
            "{} {}",
            timestamp::format(key.updated_at),
            key.address
        ));
        assert_eq!(read_cursor(&text).ok(), Some(key));
        for bad in [
            "",
            "42",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("2026 nonsense"),
        ] {
            assert!(read_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
