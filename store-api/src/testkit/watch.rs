//! Watchlists (entries, expansion, the limit on all targets, all-or-nothing writes) and the
//! listing-event log (which answers make events, paging, the watchlist filter, ids in commit
//! order across two stores).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::{Duration, OffsetDateTime};

use super::{
    Stores, T0, answer, at, claim_list, fail, list_answer, listed, outcome, record, retry,
};
use crate::{
    HourlyChanges, JobResult, ListingChange, ListingEventRecord, ListingTally, NewJob, Outcome,
    Queue, Store, Target, Verdict, WatchEntry, WatchedListing, WatchedVerdict, WatchlistName,
    WatchlistRecord, WatchlistWrite,
};

const SPAMCOP: &str = "spamcop";
const BARRACUDA: &str = "barracuda";

fn target(text: &str) -> Target {
    Target::parse(text).expect("a target")
}

fn name(text: &str) -> WatchlistName {
    text.parse().expect("a watchlist name")
}

fn entries(texts: &[&str]) -> BTreeSet<WatchEntry> {
    WatchEntry::parse_all(texts).expect("watchlist entries")
}

fn texts(record: &WatchlistRecord) -> Vec<String> {
    record.entries.iter().map(ToString::to_string).collect()
}

fn done(write: WatchlistWrite) -> WatchlistRecord {
    match write {
        WatchlistWrite::Done(record) => record,
        other => panic!("expected a written watchlist, got {other:?}"),
    }
}

/// Queues `blocklist`'s job for `target` at `now` and claims it.
async fn claimed(
    store: &dyn Queue,
    target: &Target,
    blocklist: &str,
    now: OffsetDateTime,
) -> crate::ClaimedJob {
    let job = NewJob {
        target: target.clone(),
        blocklist: blocklist.to_owned(),
    };
    store.enqueue(&[job], false, now).await.expect("enqueue");
    let mut jobs = claim_list(store, blocklist, 10, now).await;
    assert_eq!(jobs.len(), 1, "claimed {jobs:?}");
    jobs.remove(0)
}

/// `blocklist` answers `result` about `target` at `now`.
async fn answers(
    store: &dyn Queue,
    target: &Target,
    blocklist: &str,
    result: Outcome,
    now: OffsetDateTime,
) {
    let job = claimed(store, target, blocklist, now).await;
    record(store, &[answer(&job, result, now)]).await;
}

/// Every event after `after`, in pages of `page`.
async fn all_events(store: &dyn Store, after: i64, page: u32) -> Vec<ListingEventRecord> {
    let mut seen = Vec::new();
    let mut cursor = after;
    loop {
        let batch = store
            .listing_events(cursor, page, None)
            .await
            .expect("read events")
            .expect("no watchlist asked for");
        let Some(last) = batch.last() else {
            return seen;
        };
        cursor = last.id;
        seen.extend(batch);
    }
}

fn codes(last: &[u8]) -> Vec<Ipv4Addr> {
    last.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect()
}

pub async fn listing_changes_make_events_and_errors_do_not(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let [first, second, third, fourth] =
        ["192.0.2.1", "192.0.2.2", "example.com", "192.0.2.4"].map(target);

    // A first answer that does not list: nothing changed.
    answers(a, &first, SPAMCOP, Outcome::NotListed, at(1)).await;
    // Errors (a retry, then a failure) keep the answer and make no event.
    let job = claimed(a, &first, SPAMCOP, at(2)).await;
    record(a, &[retry(&job, at(2), at(3))]).await;
    let again = claim_list(a, SPAMCOP, 10, at(3)).await;
    record(a, &[fail(&again[0], at(3), "DNS timeout")]).await;
    assert!(all_events(b, 0, 100).await.is_empty());

    // Listed after not listed, the same answer again, other codes, delisted.
    let job = claimed(a, &first, SPAMCOP, at(4)).await;
    let mut listing = list_answer(listed(&[2]), at(4));
    listing.reason = Some("listed for spam".to_owned());
    record(a, &[outcome(&job, at(4), JobResult::Answer(listing))]).await;
    answers(b, &first, SPAMCOP, listed(&[2]), at(5)).await;
    let job = claimed(a, &first, SPAMCOP, at(6)).await;
    record(a, &[fail(&job, at(6), "SERVFAIL")]).await;
    answers(a, &first, SPAMCOP, listed(&[2, 4]), at(7)).await;
    answers(b, &first, SPAMCOP, Outcome::NotListed, at(8)).await;
    answers(b, &first, SPAMCOP, Outcome::NotListed, at(9)).await;

    // A first answer that lists; a list that only failed before counts as never answered.
    answers(a, &second, BARRACUDA, listed(&[2]), at(10)).await;
    let job = claimed(a, &third, SPAMCOP, at(11)).await;
    record(a, &[fail(&job, at(11), "DNS timeout")]).await;
    answers(a, &third, SPAMCOP, listed(&[3]), at(12)).await;

    // An older answer stored after a newer one is ignored, and makes no event; nor does one
    // of a batch that a newer answer of the same batch supersedes.
    let older = claimed(a, &fourth, SPAMCOP, T0).await;
    let newer = claimed(a, &fourth, SPAMCOP, T0).await;
    record(a, &[answer(&newer, listed(&[2]), at(20))]).await;
    record(a, &[answer(&older, Outcome::NotListed, at(19))]).await;
    let (x, y) = (
        claimed(a, &fourth, SPAMCOP, T0).await,
        claimed(a, &fourth, SPAMCOP, T0).await,
    );
    record(
        a,
        &[
            answer(&y, listed(&[2]), at(22)),
            answer(&x, Outcome::NotListed, at(21)),
        ],
    )
    .await;

    let events = all_events(b, 0, 100).await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.at,
                e.target.to_string(),
                e.blocklist.as_str(),
                e.change,
                e.return_codes.clone(),
                e.previous_return_codes.clone(),
            )
        })
        .collect();
    let row = |at, target: &str, list, change, now: &[u8], before: &[u8]| {
        (
            at,
            target.to_owned(),
            list,
            change,
            codes(now),
            codes(before),
        )
    };
    assert_eq!(
        seen,
        [
            row(
                at(4),
                "192.0.2.1",
                SPAMCOP,
                ListingChange::Listed,
                &[2],
                &[]
            ),
            row(
                at(7),
                "192.0.2.1",
                SPAMCOP,
                ListingChange::Changed,
                &[2, 4],
                &[2]
            ),
            row(
                at(8),
                "192.0.2.1",
                SPAMCOP,
                ListingChange::Delisted,
                &[],
                &[2, 4]
            ),
            row(
                at(10),
                "192.0.2.2",
                BARRACUDA,
                ListingChange::Listed,
                &[2],
                &[]
            ),
            row(
                at(12),
                "example.com",
                SPAMCOP,
                ListingChange::Listed,
                &[3],
                &[]
            ),
            row(
                at(20),
                "192.0.2.4",
                SPAMCOP,
                ListingChange::Listed,
                &[2],
                &[]
            ),
        ]
    );
    assert_eq!(events[0].reason.as_deref(), Some("listed for spam"));
    assert_eq!(events[1].reason, None);
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");
}

pub async fn events_page_after_a_cursor_and_filter_by_watchlist(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let watched = ["198.51.100.1", "198.51.100.2", "watched.example"].map(target);
    let other = target("203.0.113.9");
    b.put_watchlist(
        &name("mail"),
        &entries(&["198.51.100.0/30", "watched.example"]),
        Duration::hours(6),
        1_000,
        &[SPAMCOP],
        T0,
    )
    .await
    .unwrap();
    let mut n = 0;
    for round in 0..2 {
        for t in watched.iter().chain([&other]) {
            n += 1;
            let verdict = if round == 0 {
                listed(&[2])
            } else {
                Outcome::NotListed
            };
            answers(a, t, SPAMCOP, verdict, at(n)).await;
        }
    }
    // Pages of three: 8 events, every one once, in order.
    let all = all_events(b, 0, 3).await;
    assert_eq!(all.len(), 8);
    let page = b.listing_events(0, 3, None).await.unwrap().unwrap();
    assert_eq!(page, all[..3]);
    let next = b
        .listing_events(page[2].id, 3, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, all[3..6]);
    let last = all[7].id;
    assert!(
        b.listing_events(last, 3, None)
            .await
            .unwrap()
            .unwrap()
            .is_empty()
    );

    // The watchlist's targets only: its range's addresses and its domain.
    let mail = b
        .listing_events(0, 100, Some(&name("mail")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mail.len(), 6);
    assert!(mail.iter().all(|e| e.target != other));
    let after = b
        .listing_events(mail[2].id, 2, Some(&name("mail")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, mail[3..5]);
    assert_eq!(
        b.listing_events(0, 10, Some(&name("nope"))).await.unwrap(),
        None
    );
}

/// Two stores write events at once, in interleaved transactions, while a reader polls after
/// the last id it saw: it sees ids only ever go up, and in the end it has seen every event
/// there is, ids 1 to N without a gap. (On PostgreSQL a sequence would fail this: a
/// transaction that took id 10 can commit after one that took id 11.)
pub async fn event_ids_follow_commit_order_across_stores(stores: Stores) {
    const ROUNDS: u32 = 25;
    let writing = Arc::new(AtomicBool::new(true));
    let writer = |store: Arc<dyn Store>, list: &'static str, net: u8| async move {
        for round in 0..ROUNDS {
            let ips: Vec<Target> = (0..3u8)
                .map(|i| target(&format!("10.{net}.{round}.{i}")))
                .collect();
            let jobs: Vec<NewJob> = ips
                .iter()
                .map(|t| NewJob {
                    target: t.clone(),
                    blocklist: list.to_owned(),
                })
                .collect();
            let now = at(i64::from(round));
            store.enqueue(&jobs, false, now).await.expect("enqueue");
            let claimed = claim_list(store.as_ref(), list, 10, now).await;
            let outcomes: Vec<_> = claimed
                .iter()
                .map(|job| answer(job, listed(&[2]), now))
                .collect();
            record(store.as_ref(), &outcomes).await;
        }
    };
    let reader = {
        let store = stores.b.clone();
        let writing = writing.clone();
        tokio::spawn(async move {
            let mut seen: Vec<i64> = Vec::new();
            loop {
                let finished = !writing.load(Ordering::SeqCst);
                let cursor = seen.last().copied().unwrap_or(0);
                let page = store
                    .listing_events(cursor, 1000, None)
                    .await
                    .expect("read events")
                    .expect("no watchlist asked for");
                for event in page {
                    assert!(
                        event.id > cursor,
                        "cursor went back: {} after {cursor}",
                        event.id
                    );
                    seen.push(event.id);
                }
                if finished {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let (first, second) = (
        tokio::spawn(writer(stores.a.clone(), "list-a", 1)),
        tokio::spawn(writer(stores.b.clone(), "list-b", 2)),
    );
    first.await.expect("writer a");
    second.await.expect("writer b");
    writing.store(false, Ordering::SeqCst);
    let polled = reader.await.expect("reader");
    let total = i64::from(ROUNDS) * 3 * 2;
    let all: Vec<i64> = all_events(stores.a.as_ref(), 0, 1000)
        .await
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "ids 1..=N, no gap");
    assert_eq!(
        polled, all,
        "the reader missed an event committed behind its cursor"
    );
}

pub async fn watchlists_are_created_replaced_changed_and_deleted(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let mail = name("mail");
    assert!(a.watchlists(&[SPAMCOP]).await.unwrap().is_empty());
    assert_eq!(a.watchlist(&mail, &[SPAMCOP]).await.unwrap(), None);
    // Listed by spamcop, by a list not enabled, and not listed.
    answers(a, &target("192.0.2.1"), SPAMCOP, listed(&[2]), at(1)).await;
    answers(a, &target("192.0.2.2"), BARRACUDA, listed(&[2]), at(1)).await;
    answers(a, &target("192.0.2.3"), SPAMCOP, Outcome::NotListed, at(1)).await;

    let given = entries(&["example.com", "192.0.2.0/30", "192.0.2.2", "2001:db8::/126"]);
    let created = done(
        a.put_watchlist(&mail, &given, Duration::hours(6), 100, &[SPAMCOP], at(10))
            .await
            .unwrap(),
    );
    assert_eq!(
        texts(&created),
        ["192.0.2.0/30", "192.0.2.2", "2001:db8::/126", "example.com"]
    );
    assert_eq!(created.name, mail);
    assert_eq!(created.interval, Duration::hours(6));
    assert_eq!((created.target_count, created.listed_count), (9, 1));
    assert_eq!((created.created_at, created.updated_at), (at(10), at(10)));
    assert_eq!(
        b.watchlist(&mail, &[SPAMCOP]).await.unwrap(),
        Some(created.clone())
    );
    let both = b
        .watchlist(&mail, &[SPAMCOP, BARRACUDA])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(both.listed_count, 2);

    // Replacing keeps created_at; the same target in two watchlists is fine.
    let replaced = done(
        b.put_watchlist(
            &mail,
            &entries(&["192.0.2.1", "192.0.2.3"]),
            Duration::minutes(30),
            100,
            &[SPAMCOP],
            at(20),
        )
        .await
        .unwrap(),
    );
    assert_eq!(texts(&replaced), ["192.0.2.1", "192.0.2.3"]);
    assert_eq!(replaced.interval, Duration::minutes(30));
    assert_eq!((replaced.target_count, replaced.listed_count), (2, 1));
    assert_eq!((replaced.created_at, replaced.updated_at), (at(10), at(20)));
    let web = name("web");
    done(
        a.put_watchlist(
            &web,
            &entries(&["192.0.2.1"]),
            Duration::days(1),
            100,
            &[],
            at(21),
        )
        .await
        .unwrap(),
    );
    let names: Vec<String> = a
        .watchlists(&[SPAMCOP])
        .await
        .unwrap()
        .iter()
        .map(|w| w.name.to_string())
        .collect();
    assert_eq!(names, ["mail", "web"]);

    // Adding and removing entries; removing one that is not there is no error, and an
    // address inside a range entry is not an entry.
    let added = done(
        a.add_watch_entries(
            &mail,
            &entries(&["192.0.2.0/31", "192.0.2.1"]),
            100,
            &[SPAMCOP],
            at(30),
        )
        .await
        .unwrap(),
    );
    assert_eq!(texts(&added), ["192.0.2.0/31", "192.0.2.1", "192.0.2.3"]);
    assert_eq!(
        (added.target_count, added.interval),
        (3, Duration::minutes(30))
    );
    let removed = done(
        b.remove_watch_entries(
            &mail,
            &entries(&["192.0.2.1", "192.0.2.200", "example.com"]),
            &[SPAMCOP],
            at(40),
        )
        .await
        .unwrap(),
    );
    assert_eq!(texts(&removed), ["192.0.2.0/31", "192.0.2.3"]);
    assert_eq!((removed.target_count, removed.listed_count), (3, 1));
    assert_eq!((removed.created_at, removed.updated_at), (at(10), at(40)));

    // Unknown names.
    let nope = name("nope");
    let some = entries(&["192.0.2.9"]);
    assert_eq!(
        a.add_watch_entries(&nope, &some, 100, &[], at(50))
            .await
            .unwrap(),
        WatchlistWrite::NotFound
    );
    assert_eq!(
        a.remove_watch_entries(&nope, &some, &[], at(50))
            .await
            .unwrap(),
        WatchlistWrite::NotFound
    );
    assert_eq!(a.watchlist(&nope, &[]).await.unwrap(), None);

    // Deleting takes its targets with it.
    assert!(b.delete_watchlist(&mail).await.unwrap());
    assert!(!b.delete_watchlist(&mail).await.unwrap());
    assert_eq!(a.watchlist(&mail, &[]).await.unwrap(), None);
    let left = a.watchlists(&[]).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, web);
}

pub async fn the_target_limit_spans_all_watchlists_and_a_refusal_changes_nothing(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let max = 10;
    let first = done(
        a.put_watchlist(
            &name("one"),
            &entries(&["192.0.2.0/29"]),
            Duration::hours(1),
            max,
            &[],
            T0,
        )
        .await
        .unwrap(),
    );
    assert_eq!(first.target_count, 8);
    // 8 + 4 > 10, across watchlists.
    let over = b
        .put_watchlist(
            &name("two"),
            &entries(&["198.51.100.0/30"]),
            Duration::hours(1),
            max,
            &[],
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(over, WatchlistWrite::TooManyTargets { total: 12, max });
    assert_eq!(b.watchlist(&name("two"), &[]).await.unwrap(), None);
    let over = b
        .add_watch_entries(&name("one"), &entries(&["192.0.2.8/30"]), max, &[], at(1))
        .await
        .unwrap();
    assert_eq!(over, WatchlistWrite::TooManyTargets { total: 12, max });
    assert_eq!(
        b.watchlist(&name("one"), &[]).await.unwrap(),
        Some(first.clone())
    );
    // Replacing counts the watchlist's new size, not old plus new; at the limit is allowed.
    let replaced = done(
        b.put_watchlist(
            &name("one"),
            &entries(&["192.0.2.0/30"]),
            Duration::hours(1),
            max,
            &[],
            at(2),
        )
        .await
        .unwrap(),
    );
    assert_eq!(replaced.target_count, 4);
    let two = done(
        a.put_watchlist(
            &name("two"),
            &entries(&["198.51.100.0/30", "a.example", "b.example"]),
            Duration::hours(1),
            max,
            &[],
            at(3),
        )
        .await
        .unwrap(),
    );
    assert_eq!(two.target_count, 6);
}

pub async fn a_wide_range_is_written_and_replaced_in_batches(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let wide = name("wide");
    let started = std::time::Instant::now();
    let put = done(
        a.put_watchlist(
            &wide,
            &entries(&["10.20.0.0/16"]),
            Duration::hours(6),
            1_000_000,
            &[],
            T0,
        )
        .await
        .unwrap(),
    );
    let took = started.elapsed();
    assert_eq!(put.target_count, 65_536);
    eprintln!("putting a /16 watchlist (65,536 targets) took {took:?}");
    answers(b, &target("10.20.255.255"), SPAMCOP, listed(&[2]), at(1)).await;
    let read = b.watchlist(&wide, &[SPAMCOP]).await.unwrap().unwrap();
    assert_eq!((read.target_count, read.listed_count), (65_536, 1));
    // A /16 of IPv6 and the IPv4 one swapped for a part of it.
    let started = std::time::Instant::now();
    let swapped = done(
        b.put_watchlist(
            &wide,
            &entries(&["10.20.255.0/24", "2001:db8::/112"]),
            Duration::hours(6),
            1_000_000,
            &[SPAMCOP],
            at(2),
        )
        .await
        .unwrap(),
    );
    eprintln!(
        "replacing it with a /24 and an IPv6 /112 took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (swapped.target_count, swapped.listed_count),
        (256 + 65_536, 1)
    );
}

/// Per-target metrics read, in one query, the enabled lists' answers about watched targets:
/// each target once, a list that only failed giving nothing, capped at a limit.
pub async fn watched_verdicts_are_the_enabled_lists_answers_about_watched_targets(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let both = [SPAMCOP, BARRACUDA];
    assert!(a.watched_verdicts(&both, 100).await.unwrap().is_empty());
    answers(a, &target("192.0.2.1"), SPAMCOP, listed(&[2]), at(1)).await;
    answers(
        a,
        &target("192.0.2.1"),
        BARRACUDA,
        Outcome::NotListed,
        at(1),
    )
    .await;
    answers(a, &target("192.0.2.2"), SPAMCOP, Outcome::NotListed, at(1)).await;
    // Not watched.
    answers(a, &target("198.51.100.1"), SPAMCOP, listed(&[2]), at(1)).await;
    // Only failed.
    let job = claimed(a, &target("192.0.2.3"), SPAMCOP, at(1)).await;
    record(a, &[fail(&job, at(2), "DNS timeout")]).await;
    for (watchlist, given) in [("mail", "192.0.2.0/30"), ("web", "192.0.2.1")] {
        done(
            a.put_watchlist(
                &name(watchlist),
                &entries(&[given]),
                Duration::hours(1),
                100,
                &both,
                at(3),
            )
            .await
            .unwrap(),
        );
    }
    let seen = |verdicts: Vec<WatchedVerdict>| -> Vec<(String, String, Verdict)> {
        verdicts
            .into_iter()
            .map(|v| (v.target, v.blocklist, v.verdict))
            .collect()
    };
    let row = |t: &str, l: &str, v: Verdict| (t.to_owned(), l.to_owned(), v);
    assert_eq!(
        seen(b.watched_verdicts(&both, 100).await.unwrap()),
        [
            row("192.0.2.1", BARRACUDA, Verdict::NotListed),
            row("192.0.2.1", SPAMCOP, Verdict::Listed),
            row("192.0.2.2", SPAMCOP, Verdict::NotListed),
        ]
    );
    assert_eq!(
        seen(b.watched_verdicts(&[SPAMCOP], 100).await.unwrap()),
        [
            row("192.0.2.1", SPAMCOP, Verdict::Listed),
            row("192.0.2.2", SPAMCOP, Verdict::NotListed),
        ]
    );
    assert_eq!(b.watched_verdicts(&both, 2).await.unwrap().len(), 2);
    assert!(b.watched_verdicts(&[], 100).await.unwrap().is_empty());
}

pub async fn watched_listings_name_each_listed_targets_watchlists(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let both = [SPAMCOP, BARRACUDA];
    assert!(a.watched_listings(&both, 100).await.unwrap().is_empty());
    let job = claimed(a, &target("192.0.2.1"), SPAMCOP, at(1)).await;
    let mut with_reason = list_answer(listed(&[2, 4]), at(1));
    with_reason.reason = Some("Listed: spam source".to_owned());
    record(a, &[outcome(&job, at(1), JobResult::Answer(with_reason))]).await;
    answers(
        a,
        &target("192.0.2.1"),
        BARRACUDA,
        Outcome::NotListed,
        at(1),
    )
    .await;
    answers(a, &target("192.0.2.2"), BARRACUDA, listed(&[2]), at(2)).await;
    // Not watched.
    answers(a, &target("198.51.100.1"), SPAMCOP, listed(&[2]), at(2)).await;
    for (watchlist, given) in [("web", "192.0.2.1"), ("mail", "192.0.2.0/30")] {
        done(
            a.put_watchlist(
                &name(watchlist),
                &entries(&[given]),
                Duration::hours(1),
                100,
                &both,
                at(3),
            )
            .await
            .unwrap(),
        );
    }
    let codes = |last: &[u8]| -> Vec<Ipv4Addr> {
        last.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect()
    };
    let all = b.watched_listings(&both, 100).await.unwrap();
    assert_eq!(
        all,
        [
            WatchedListing {
                target: "192.0.2.1".to_owned(),
                blocklist: SPAMCOP.to_owned(),
                return_codes: codes(&[2, 4]),
                reason: Some("Listed: spam source".to_owned()),
                checked_at: at(1),
                watchlists: vec![name("mail"), name("web")],
            },
            WatchedListing {
                target: "192.0.2.2".to_owned(),
                blocklist: BARRACUDA.to_owned(),
                return_codes: codes(&[2]),
                reason: None,
                checked_at: at(2),
                watchlists: vec![name("mail")],
            },
        ]
    );
    assert_eq!(b.watched_listings(&[SPAMCOP], 100).await.unwrap(), all[..1]);
    assert_eq!(b.watched_listings(&both, 1).await.unwrap(), all[..1]);
    assert!(b.watched_listings(&[], 100).await.unwrap().is_empty());
}

pub async fn the_latest_events_come_newest_first_and_the_tally_counts_them_per_hour(
    stores: Stores,
) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hour = |h: i64| T0 + Duration::hours(h);
    assert!(a.latest_listing_events(10).await.unwrap().is_empty());
    assert_eq!(
        a.listing_tally(&[SPAMCOP], T0).await.unwrap(),
        ListingTally::default()
    );
    let (one, two, three) = (
        target("192.0.2.1"),
        target("192.0.2.2"),
        target("192.0.2.3"),
    );
    answers(a, &one, SPAMCOP, listed(&[2]), at(10)).await;
    answers(b, &two, SPAMCOP, listed(&[2]), at(20)).await;
    answers(
        a,
        &one,
        SPAMCOP,
        listed(&[4]),
        hour(1) + Duration::seconds(10),
    )
    .await;
    answers(
        b,
        &two,
        SPAMCOP,
        Outcome::NotListed,
        hour(1) + Duration::seconds(20),
    )
    .await;
    answers(a, &three, BARRACUDA, listed(&[2]), hour(2)).await;

    let latest: Vec<(Target, String, ListingChange)> = b
        .latest_listing_events(2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.target, e.blocklist, e.change))
        .collect();
    assert_eq!(
        latest,
        [
            (three.clone(), BARRACUDA.to_owned(), ListingChange::Listed),
            (two.clone(), SPAMCOP.to_owned(), ListingChange::Delisted),
        ]
    );
    let all = a.latest_listing_events(10).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let changes = |h: i64, list: &str, listed: u64, delisted: u64| HourlyChanges {
        hour: hour(h),
        blocklist: list.to_owned(),
        listed,
        delisted,
    };
    let both = [SPAMCOP, BARRACUDA];
    assert_eq!(
        b.listing_tally(&both, T0 + Duration::minutes(30))
            .await
            .unwrap(),
        ListingTally {
            listed_now: vec![(BARRACUDA.to_owned(), 1), (SPAMCOP.to_owned(), 1)],
            hours: vec![
                changes(0, SPAMCOP, 2, 0),
                changes(1, SPAMCOP, 0, 1),
                changes(2, BARRACUDA, 1, 0),
            ],
        }
    );
    assert_eq!(
        a.listing_tally(&[SPAMCOP], hour(1)).await.unwrap(),
        ListingTally {
            listed_now: vec![(SPAMCOP.to_owned(), 1)],
            hours: vec![changes(1, SPAMCOP, 0, 1)],
        }
    );
}
