//! Resolvers of the watchlist fields of schema.graphql: `watchlists`, `watchlist`,
//! `putWatchlist`, `addWatchTargets`, `removeWatchTargets`, `deleteWatchlist`. The generated
//! traits' methods in `resolvers.rs` call these.

use std::collections::BTreeSet;

use async_graphql::ErrorExtensions;

use super::generated::Watchlist;
use super::resolvers::{BadEntry, Resolvers, internal, invalid_entries};
use crate::store::{InvalidWatchEntry, WatchEntry, WatchlistName, WatchlistRecord, WatchlistWrite};
use crate::timestamp;

/// The interval a watchlist gets when none is given.
const DEFAULT_INTERVAL: &str = "6h";
const MIN_INTERVAL: time::Duration = time::Duration::MINUTE;
const MAX_INTERVAL: time::Duration = time::Duration::days(30);

impl Resolvers {
    /// The ids of the lists queried now: `listed_count` counts only their answers.
    pub(super) fn enabled_ids(&self) -> Vec<&str> {
        self.blocklists
            .enabled()
            .map(|list| list.id.as_str())
            .collect()
    }

    pub(super) async fn all_watchlists(&self) -> async_graphql::Result<Vec<Watchlist>> {
        let records = self
            .watchlists
            .watchlists(&self.enabled_ids())
            .await
            .map_err(internal)?;
        Ok(records.into_iter().map(Watchlist::from).collect())
    }

    pub(super) async fn one_watchlist(
        &self,
        name: String,
    ) -> async_graphql::Result<Option<Watchlist>> {
        let name = watchlist_name("name", &name)?;
        let record = self
            .watchlists
            .watchlist(&name, &self.enabled_ids())
            .await
            .map_err(internal)?;
        Ok(record.map(Watchlist::from))
    }

    pub(super) async fn put(
        &self,
        name: String,
        targets: Vec<String>,
        interval: Option<String>,
    ) -> async_graphql::Result<Watchlist> {
        let name = watchlist_name("name", &name)?;
        let entries = watch_entries(&targets)?;
        self.check_size(&entries)?;
        let interval = parse_interval(interval.as_deref().unwrap_or(DEFAULT_INTERVAL))?;
        let write = self
            .watchlists
            .put_watchlist(
                &name,
                &entries,
                interval,
                self.max_watch_targets,
                &self.enabled_ids(),
                self.engine.now(),
            )
            .await
            .map_err(internal)?;
        self.written(&name, write)
    }

    pub(super) async fn add_targets(
        &self,
        name: String,
        targets: Vec<String>,
    ) -> async_graphql::Result<Watchlist> {
        let name = watchlist_name("name", &name)?;
        let entries = watch_entries(&targets)?;
        self.check_size(&entries)?;
        let write = self
            .watchlists
            .add_watch_entries(
                &name,
                &entries,
                self.max_watch_targets,
                &self.enabled_ids(),
                self.engine.now(),
            )
            .await
            .map_err(internal)?;
        self.written(&name, write)
    }

    pub(super) async fn remove_targets(
        &self,
        name: String,
        targets: Vec<String>,
    ) -> async_graphql::Result<Watchlist> {
        let name = watchlist_name("name", &name)?;
        let entries = watch_entries(&targets)?;
        let write = self
            .watchlists
            .remove_watch_entries(&name, &entries, &self.enabled_ids(), self.engine.now())
            .await
            .map_err(internal)?;
        self.written(&name, write)
    }

    pub(super) async fn delete(&self, name: String) -> async_graphql::Result<bool> {
        let name = watchlist_name("name", &name)?;
        let deleted = self
            .watchlists
            .delete_watchlist(&name)
            .await
            .map_err(internal)?;
        self.planner.wake();
        Ok(deleted)
    }

    /// A write's answer; the planner brings its schedules in line at once.
    fn written(
        &self,
        name: &WatchlistName,
        write: WatchlistWrite,
    ) -> async_graphql::Result<Watchlist> {
        self.planner.wake();
        written(name, write)
    }
}

impl Resolvers {
    /// Refuses entries that alone cover more than all watchlists may hold, before anything
    /// expands them: 60,000 /16 ranges fit in one request body and would be billions of
    /// addresses. (Overlaps are counted twice here; the store counts exactly.)
    fn check_size(&self, entries: &BTreeSet<WatchEntry>) -> async_graphql::Result<()> {
        let covered = entries
            .iter()
            .fold(0u64, |sum, entry| sum.saturating_add(entry.size()));
        if covered <= self.max_watch_targets {
            return Ok(());
        }
        Err(async_graphql::Error::new(format!(
            "argument `targets`: the entries cover up to {covered} addresses and domains (CIDR \
             ranges expanded), more than all watchlists together may hold ({}, \
             SECWORKS_MAX_WATCH_TARGETS); nothing was changed",
            self.max_watch_targets
        ))
        .extend_with(|_, ext| ext.set("code", "TOO_MANY_TARGETS")))
    }
}

/// The watchlist a write left, or the error that says why there is none.
fn written(name: &WatchlistName, write: WatchlistWrite) -> async_graphql::Result<Watchlist> {
    match write {
        WatchlistWrite::Done(record) => Ok(Watchlist::from(record)),
        WatchlistWrite::NotFound => Err(no_watchlist("name", name)),
        WatchlistWrite::TooManyTargets { total, max } => Err(async_graphql::Error::new(format!(
            "argument `targets`: all watchlists together would hold {total} addresses and \
             domains (CIDR ranges expanded), at most {max} (SECWORKS_MAX_WATCH_TARGETS); \
             nothing was changed"
        ))
        .extend_with(|_, ext| ext.set("code", "TOO_MANY_TARGETS"))),
    }
}

impl From<WatchlistRecord> for Watchlist {
    fn from(record: WatchlistRecord) -> Self {
        Watchlist {
            name: record.name.to_string(),
            targets: record.entries.iter().map(ToString::to_string).collect(),
            interval: timestamp::format_interval(record.interval),
            target_count: i32::try_from(record.target_count).unwrap_or(i32::MAX),
            listed_count: i32::try_from(record.listed_count).unwrap_or(i32::MAX),
            created_at: timestamp::format(record.created_at),
            updated_at: timestamp::format(record.updated_at),
        }
    }
}

/// A `BAD_USER_INPUT` error about `argument`.
pub(super) fn bad_input(argument: &str, problem: impl std::fmt::Display) -> async_graphql::Error {
    async_graphql::Error::new(format!("argument `{argument}`: {problem}"))
        .extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT"))
}

pub(super) fn watchlist_name(argument: &str, text: &str) -> async_graphql::Result<WatchlistName> {
    text.parse::<WatchlistName>()
        .map_err(|problem| bad_input(argument, problem))
}

pub(super) fn no_watchlist(argument: &str, name: &WatchlistName) -> async_graphql::Error {
    bad_input(
        argument,
        format!("there is no watchlist named {:?}", name.as_str()),
    )
}

/// Every entry, or one error naming every bad entry, where it was and what is wrong with it.
fn watch_entries(targets: &[String]) -> async_graphql::Result<BTreeSet<WatchEntry>> {
    WatchEntry::parse_all(targets).map_err(|bad| invalid_targets(&bad))
}

fn invalid_targets(bad: &[InvalidWatchEntry]) -> async_graphql::Error {
    let bad: Vec<BadEntry<'_>> = bad
        .iter()
        .map(|e| BadEntry {
            index: e.index,
            value: &e.value,
            problem: Some(e.problem.to_string()),
        })
        .collect();
    invalid_entries(
        "targets",
        "an IP address, CIDR range or domain name",
        "INVALID_TARGET",
        &bad,
    )
}

/// A duration such as `6h`, `90m` or `1d`, 1 minute to 30 days, in whole seconds.
fn parse_interval(text: &str) -> async_graphql::Result<time::Duration> {
    let problem = |why: &str| {
        bad_input(
            "interval",
            format!("{text:?} {why}; give a duration from 1m to 30d, such as 30m, 6h or 1d"),
        )
    };
    let parsed =
        humantime::parse_duration(text.trim()).map_err(|_| problem("is not a duration"))?;
    if parsed.subsec_nanos() != 0 {
        return Err(problem("is not a whole number of seconds"));
    }
    let interval = time::Duration::try_from(parsed).map_err(|_| problem("is too long"))?;
    if interval < MIN_INTERVAL {
        return Err(problem("is shorter than a minute"));
    }
    if interval > MAX_INTERVAL {
        return Err(problem("is longer than 30 days"));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_bounded_and_normalised() {
        let shown = |text: &str| {
            parse_interval(text)
                .map(timestamp::format_interval)
                .map_err(|e| e.message)
        };
        assert_eq!(shown("6h").unwrap(), "6h");
        assert_eq!(shown("360m").unwrap(), "6h");
        assert_eq!(shown("90m").unwrap(), "90m");
        assert_eq!(shown("1h 30m").unwrap(), "90m");
        assert_eq!(shown("1d").unwrap(), "1d");
        assert_eq!(shown("24h").unwrap(), "1d");
        assert_eq!(shown("30days").unwrap(), "30d");
        assert_eq!(shown("61s").unwrap(), "61s");
        assert_eq!(shown("1m").unwrap(), "1m");
        for bad in ["59s", "31d", "soon", "", "1m 500ms"] {
            let error = shown(bad).unwrap_err();
            assert!(error.starts_with("argument `interval`: "), "{error}");
        }
    }
}
