//! The re-check schedule: planning claims, bringing a list's schedule in line with the
//! watchlists, its summary, and taking due targets (fresh answers, priority, the limit, two
//! stores taking at once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use time::{Duration, OffsetDateTime};

use super::{Stores, T0, answer, at, claim_list, fail, listed, record};
use crate::rechecks::IntervalDemand;
use crate::{
    NewJob, Outcome, Queue, Rechecks, ScheduleSummary, Store, TakenDue, Target, TargetKind,
    WatchEntry, WatchlistName, WatchlistWrite,
};

const SPAMCOP: &str = "spamcop";
const BARRACUDA: &str = "barracuda";
const ALL: [TargetKind; 3] = [TargetKind::Ipv4, TargetKind::Ipv6, TargetKind::Domain];
/// Far more than any test watches.
const MAX_TARGETS: u64 = 100_000;

fn target(text: &str) -> Target {
    Target::parse(text).expect("a target")
}

fn name(text: &str) -> WatchlistName {
    text.parse().expect("a watchlist name")
}

fn entries(texts: &[&str]) -> BTreeSet<WatchEntry> {
    WatchEntry::parse_all(texts).expect("watchlist entries")
}

fn written(write: WatchlistWrite) {
    assert!(
        matches!(write, WatchlistWrite::Done(_)),
        "expected a written watchlist, got {write:?}"
    );
}

/// Creates or replaces the watchlist `list` with `texts` re-checked every `interval`.
async fn watch(store: &dyn Store, list: &str, texts: &[&str], interval: Duration) {
    let write = store
        .put_watchlist(&name(list), &entries(texts), interval, MAX_TARGETS, &[], T0)
        .await
        .expect("put a watchlist");
    written(write);
}

async fn watch_more(store: &dyn Store, list: &str, texts: &[&str]) {
    let write = store
        .add_watch_entries(&name(list), &entries(texts), MAX_TARGETS, &[], T0)
        .await
        .expect("add watch entries");
    written(write);
}

async fn watch_less(store: &dyn Store, list: &str, texts: &[&str]) {
    let write = store
        .remove_watch_entries(&name(list), &entries(texts), &[], T0)
        .await
        .expect("remove watch entries");
    written(write);
}

async fn sync(store: &dyn Rechecks, blocklist: &str, kinds: &[TargetKind], now: OffsetDateTime) {
    assert!(
        store
            .sync_schedule(blocklist, kinds, now)
            .await
            .expect("sync the schedule"),
        "the watchlists changed: the sync has something to do"
    );
}

/// `blocklist`'s schedule at `now`, the day ending a day after T0.
async fn summary(store: &dyn Rechecks, blocklist: &str, now: OffsetDateTime) -> ScheduleSummary {
    store
        .schedule_summary(blocklist, now, T0 + Duration::days(1))
        .await
        .expect("summarise the schedule")
}

fn demand(interval: Duration, targets: u64, due: u64, due_today: u64) -> IntervalDemand {
    IntervalDemand {
        interval,
        targets,
        due,
        due_today,
    }
}

/// Takes up to `limit` of `blocklist`'s due targets at `now`, priority since T0.
async fn take(store: &dyn Rechecks, blocklist: &str, limit: u64, now: OffsetDateTime) -> TakenDue {
    store
        .take_due(blocklist, limit, now, T0)
        .await
        .expect("take due targets")
}

fn queued(queued: u64) -> TakenDue {
    TakenDue { queued, fresh: 0 }
}

/// Claims every job of `blocklist` due at `now`: their targets' texts, one per job.
async fn claimed_targets(store: &dyn Queue, blocklist: &str, now: OffsetDateTime) -> Vec<String> {
    let mut targets: Vec<String> = claim_list(store, blocklist, 10_000, now)
        .await
        .iter()
        .map(|job| job.target.to_string())
        .collect();
    targets.sort();
    targets
}

fn sorted(texts: &[&str]) -> Vec<String> {
    let mut texts: Vec<String> = texts.iter().map(|&t| t.to_owned()).collect();
    texts.sort();
    texts
}

/// `blocklist` answers `result` about `text` at `now`, through the queue: its answer is fresh
/// for an hour.
async fn answers(
    store: &dyn Queue,
    text: &str,
    blocklist: &str,
    result: Outcome,
    now: OffsetDateTime,
) {
    let job = NewJob {
        target: target(text),
        blocklist: blocklist.to_owned(),
    };
    store.enqueue(&[job], false, now).await.expect("enqueue");
    let jobs = claim_list(store, blocklist, 10, now).await;
    assert_eq!(jobs.len(), 1, "claimed {jobs:?}");
    record(store, &[answer(&jobs[0], result, now)]).await;
}

/// `holder` claims the planning of spamcop at `now` until `until` (seconds after T0).
async fn claim(store: &dyn Rechecks, holder: &str, now: i64, until: i64) -> bool {
    store
        .claim_planning(SPAMCOP, holder, at(now), at(until))
        .await
        .expect("claim planning")
}

pub async fn planning_is_claimed_by_one_holder_until_its_lease_runs_out(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(claim(a, "one", 0, 60).await);
    // Another holder, while the lease is live: refused, also at its last instant but one.
    assert!(!claim(b, "two", 30, 90).await);
    assert!(!claim(b, "two", 59, 119).await);
    // The holder renews its own, from either store.
    assert!(claim(b, "one", 50, 120).await);
    assert!(!claim(b, "two", 100, 160).await);
    // The lease ran out at 120: the other holder gets it, and the first is refused.
    assert!(claim(b, "two", 120, 180).await);
    assert!(!claim(a, "one", 130, 190).await);
    assert!(claim(a, "two", 170, 230).await);

    // Each list is claimed on its own, also one whose schedule was synced first.
    assert!(
        a.claim_planning(BARRACUDA, "one", at(130), at(190))
            .await
            .unwrap()
    );
    assert!(b.sync_schedule("third", &ALL, at(130)).await.unwrap());
    assert!(
        b.claim_planning("third", "one", at(130), at(190))
            .await
            .unwrap()
    );
    assert!(
        !a.claim_planning("third", "two", at(140), at(200))
            .await
            .unwrap()
    );
    // A holder that stops gives up all its claims; another takes them before their leases
    // would have run out, and the claims of other holders stay.
    a.release_planning("one").await.unwrap();
    assert!(
        b.claim_planning("third", "two", at(141), at(201))
            .await
            .unwrap()
    );
    assert!(
        b.claim_planning(BARRACUDA, "two", at(141), at(201))
            .await
            .unwrap()
    );
    assert!(!claim(b, "three", 141, 201).await);
}

pub async fn the_schedule_follows_the_watchlists_and_the_kinds_a_list_takes(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (hour, six) = (Duration::hours(1), Duration::hours(6));
    watch(
        a,
        "mail",
        &["192.0.2.0/30", "2001:db8::/127", "example.com"],
        six,
    )
    .await;
    watch(b, "web", &["192.0.2.1", "example.com"], hour).await;

    // IPv4 only: the four addresses, 192.0.2.1 at the shorter interval of its two watchlists.
    sync(a, SPAMCOP, &[TargetKind::Ipv4], at(10)).await;
    assert_eq!(
        summary(b, SPAMCOP, at(10)).await,
        ScheduleSummary {
            by_interval: vec![demand(hour, 1, 1, 1), demand(six, 3, 3, 3)],
            queued: 0,
            oldest_due: Some(at(10)),
        }
    );
    // Nothing changed since, for either store.
    assert!(
        !a.sync_schedule(SPAMCOP, &[TargetKind::Ipv4], at(11))
            .await
            .unwrap()
    );
    assert!(
        !b.sync_schedule(SPAMCOP, &[TargetKind::Ipv4], at(12))
            .await
            .unwrap()
    );
    assert_eq!(take(a, SPAMCOP, 100, at(10)).await, queued(4));
    assert_eq!(
        claimed_targets(a, SPAMCOP, at(10)).await,
        sorted(&["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3"])
    );

    // Every kind: the new rows are due at once, the addresses taken keep their due times.
    sync(b, SPAMCOP, &ALL, at(20)).await;
    assert!(!a.sync_schedule(SPAMCOP, &ALL, at(21)).await.unwrap());
    assert_eq!(
        summary(a, SPAMCOP, at(20)).await.by_interval,
        [demand(hour, 2, 1, 2), demand(six, 5, 2, 5)]
    );
    // Another list takes only what it asks for, on its own schedule.
    sync(a, BARRACUDA, &[TargetKind::Domain], at(20)).await;
    assert_eq!(
        summary(a, BARRACUDA, at(20)).await.by_interval,
        [demand(hour, 1, 1, 1)]
    );

    // The interval follows the watchlists': both of web's targets now every 30 minutes.
    let half = Duration::minutes(30);
    watch(a, "web", &["192.0.2.1", "example.com"], half).await;
    sync(b, SPAMCOP, &ALL, at(30)).await;
    assert_eq!(
        summary(b, SPAMCOP, at(30)).await.by_interval,
        [demand(half, 2, 1, 2), demand(six, 5, 2, 5)]
    );
    assert!(!b.sync_schedule(SPAMCOP, &ALL, at(31)).await.unwrap());

    // Removed entries and deleted watchlists take their rows with them.
    let removed = b
        .remove_watch_entries(&name("mail"), &entries(&["2001:db8::/127"]), &[], T0)
        .await
        .unwrap();
    written(removed);
    sync(a, SPAMCOP, &ALL, at(40)).await;
    assert_eq!(
        summary(a, SPAMCOP, at(40)).await.by_interval,
        [demand(half, 2, 1, 2), demand(six, 3, 0, 3)]
    );
    assert!(a.delete_watchlist(&name("web")).await.unwrap());
    sync(b, SPAMCOP, &ALL, at(50)).await;
    // 192.0.2.1 and example.com stay, with mail's interval.
    assert_eq!(
        summary(b, SPAMCOP, at(50)).await.by_interval,
        [demand(six, 5, 1, 5)]
    );

    // Fewer kinds: the rows of the others go.
    sync(a, SPAMCOP, &[TargetKind::Domain, TargetKind::Ipv6], at(60)).await;
    assert_eq!(
        summary(a, SPAMCOP, at(60)).await.by_interval,
        [demand(six, 1, 1, 1)]
    );
    assert!(b.delete_watchlist(&name("mail")).await.unwrap());
    sync(a, SPAMCOP, &[TargetKind::Domain, TargetKind::Ipv6], at(70)).await;
    assert!(summary(a, SPAMCOP, at(70)).await.by_interval.is_empty());
    sync(b, BARRACUDA, &[TargetKind::Domain], at(70)).await;
    assert_eq!(summary(a, BARRACUDA, at(70)).await.targets(), 0);
}

pub async fn the_summary_counts_due_today_and_the_lists_queued_jobs(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (six, two_days) = (Duration::hours(6), Duration::days(2));
    watch(a, "hosts", &["192.0.2.0/30"], six).await;
    watch(a, "names", &["a.example", "b.example"], two_days).await;
    sync(b, SPAMCOP, &ALL, T0).await;
    let before = summary(b, SPAMCOP, T0).await;
    assert_eq!(
        before.by_interval,
        [demand(six, 4, 4, 4), demand(two_days, 2, 2, 2)]
    );
    assert_eq!((before.targets(), before.due(), before.queued), (6, 6, 0));

    assert_eq!(take(a, SPAMCOP, 100, T0).await, queued(6));
    // Due six hours on and two days on: the first within the day, not yet due an hour later.
    assert_eq!(
        summary(b, SPAMCOP, T0 + Duration::hours(1)).await,
        ScheduleSummary {
            by_interval: vec![demand(six, 4, 0, 4), demand(two_days, 2, 0, 0)],
            queued: 6,
            // The ones due six hours on.
            oldest_due: Some(T0 + six),
        }
    );
    assert_eq!(
        summary(b, SPAMCOP, T0 + six).await.by_interval,
        [demand(six, 4, 4, 4), demand(two_days, 2, 0, 0)]
    );
    // A day that ends when they fall due holds none of them.
    let day_end = b
        .schedule_summary(SPAMCOP, T0 + Duration::hours(1), T0 + six)
        .await
        .unwrap();
    assert_eq!(
        day_end.by_interval,
        [demand(six, 4, 0, 0), demand(two_days, 2, 0, 0)]
    );

    // Queued: the list's pending and running jobs, not another list's, nor done or failed.
    let other = ["198.51.100.1", "198.51.100.2"].map(|t| NewJob {
        target: target(t),
        blocklist: BARRACUDA.to_owned(),
    });
    a.enqueue(&other, false, T0).await.unwrap();
    let jobs = claim_list(a, SPAMCOP, 3, at(1)).await;
    assert_eq!(jobs.len(), 3);
    assert_eq!(summary(b, SPAMCOP, at(1)).await.queued, 6);
    record(a, &[answer(&jobs[0], Outcome::NotListed, at(2))]).await;
    assert_eq!(summary(b, SPAMCOP, at(2)).await.queued, 5);
    record(a, &[fail(&jobs[1], at(3), "SERVFAIL")]).await;
    assert_eq!(summary(b, SPAMCOP, at(3)).await.queued, 4);
    assert_eq!(summary(b, BARRACUDA, at(3)).await.queued, 2);

    // A list never synced has nothing.
    assert_eq!(summary(a, "unknown", T0).await, ScheduleSummary::default());
}

pub async fn taking_due_targets_queues_them_once_and_moves_them_on(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hour = Duration::hours(1);
    watch(a, "hosts", &["192.0.2.0/30", "192.0.2.8"], hour).await;
    sync(a, SPAMCOP, &ALL, T0).await;
    // A job of the list queued already for one of them: taking it joins that job.
    let waiting = NewJob {
        target: target("192.0.2.8"),
        blocklist: SPAMCOP.to_owned(),
    };
    b.enqueue(&[waiting], false, T0).await.unwrap();

    // The limit, across two takes; then nothing is due at the same instant.
    assert_eq!(take(a, SPAMCOP, 2, T0).await, queued(2));
    assert_eq!(take(b, SPAMCOP, 10, T0).await, queued(3));
    assert_eq!(take(a, SPAMCOP, 10, T0).await, TakenDue::default());
    assert_eq!(
        take(b, SPAMCOP, 10, T0 + hour - Duration::seconds(1)).await,
        TakenDue::default()
    );
    assert_eq!(summary(a, SPAMCOP, T0).await.due(), 0);
    let jobs = claim_list(a, SPAMCOP, 100, T0).await;
    let mut targets: Vec<String> = jobs.iter().map(|job| job.target.to_string()).collect();
    targets.sort();
    // One job each: 192.0.2.8's joined the one queued before.
    assert_eq!(
        targets,
        [
            "192.0.2.0",
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.8"
        ]
    );
    assert!(claim_list(a, BARRACUDA, 100, T0).await.is_empty());

    // Answered ten seconds in: fresh for an hour from then, so not due until it runs out.
    let outcomes: Vec<_> = jobs
        .iter()
        .map(|job| answer(job, Outcome::NotListed, at(10)))
        .collect();
    record(b, &outcomes).await;
    assert_eq!(
        take(a, SPAMCOP, 10, T0 + hour).await,
        TakenDue {
            queued: 0,
            fresh: 5
        }
    );
    assert_eq!(take(a, SPAMCOP, 10, T0 + hour).await, TakenDue::default());
    let stale = T0 + hour + Duration::seconds(10);
    assert_eq!(take(b, SPAMCOP, 10, stale).await, queued(5));
    assert_eq!(claimed_targets(b, SPAMCOP, stale).await.len(), 5);
}

pub async fn a_fresh_answer_stands_and_the_target_is_due_when_it_runs_out(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let half = Duration::minutes(30);
    // 192.0.2.1 answered on the list at T0, fresh for an hour (beyond its interval);
    // 192.0.2.2 only on another list, which does not count.
    answers(a, "192.0.2.1", SPAMCOP, Outcome::NotListed, T0).await;
    answers(b, "192.0.2.2", BARRACUDA, listed(&[2]), T0).await;
    watch(a, "hosts", &["192.0.2.1", "192.0.2.2", "192.0.2.3"], half).await;
    sync(b, SPAMCOP, &ALL, at(60)).await;

    assert_eq!(
        take(a, SPAMCOP, 10, at(60)).await,
        TakenDue {
            queued: 2,
            fresh: 1
        }
    );
    assert_eq!(
        claimed_targets(b, SPAMCOP, at(60)).await,
        sorted(&["192.0.2.2", "192.0.2.3"])
    );
    assert_eq!(take(b, SPAMCOP, 10, at(60)).await, TakenDue::default());
    // The fresh one is due when its answer runs out, the others an interval after taking.
    assert_eq!(
        summary(b, SPAMCOP, at(3599)).await.by_interval,
        [demand(half, 3, 2, 3)]
    );
    assert_eq!(take(b, SPAMCOP, 10, at(3599)).await, queued(2));
    assert_eq!(take(a, SPAMCOP, 10, at(3600)).await, queued(1));
    assert_eq!(
        claimed_targets(a, SPAMCOP, at(3600)).await,
        sorted(&["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    );
}

pub async fn listed_targets_and_recent_listing_events_are_taken_first(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hour = Duration::hours(1);
    // 192.0.2.3 listed now; .4 delisted since `since` (a listing event after it); .2 listed
    // and delisted before it; .1 never listed on this list, only on another.
    answers(a, "192.0.2.3", SPAMCOP, listed(&[2]), at(10)).await;
    answers(a, "192.0.2.4", SPAMCOP, listed(&[2]), at(1)).await;
    answers(a, "192.0.2.4", SPAMCOP, Outcome::NotListed, at(60)).await;
    answers(a, "192.0.2.2", SPAMCOP, listed(&[2]), at(2)).await;
    answers(a, "192.0.2.2", SPAMCOP, Outcome::NotListed, at(3)).await;
    answers(a, "192.0.2.1", SPAMCOP, Outcome::NotListed, at(4)).await;
    answers(b, "192.0.2.1", BARRACUDA, listed(&[2]), at(5)).await;
    let since = at(50);

    // Due in the order watched: the unlisted first.
    watch(a, "hosts", &["192.0.2.1"], hour).await;
    sync(b, SPAMCOP, &ALL, at(100)).await;
    watch_more(a, "hosts", &["192.0.2.2"]).await;
    sync(b, SPAMCOP, &ALL, at(150)).await;
    watch_more(a, "hosts", &["192.0.2.3", "192.0.2.4"]).await;
    sync(b, SPAMCOP, &ALL, at(200)).await;

    // Long after every answer: none stands.
    let now = at(10_000);
    let mut order = Vec::new();
    for _ in 0..4 {
        let store = if order.len() % 2 == 0 { a } else { b };
        let took = store
            .take_due(SPAMCOP, 1, now, since)
            .await
            .expect("take due targets");
        assert_eq!(took, queued(1));
        let mut targets = claimed_targets(store, SPAMCOP, now).await;
        assert_eq!(targets.len(), 1, "one job per take: {targets:?}");
        order.push(targets.remove(0));
    }
    assert_eq!(
        order[..2].iter().cloned().collect::<BTreeSet<_>>(),
        ["192.0.2.3", "192.0.2.4"].map(String::from).into(),
        "the priority targets first: {order:?}"
    );
    assert_eq!(
        order[2..],
        ["192.0.2.1", "192.0.2.2"],
        "then longest due first"
    );
    assert_eq!(
        a.take_due(SPAMCOP, 1, now, since).await.unwrap(),
        TakenDue::default()
    );
}

/// Two stores take one list's due targets at the same moment, each up to a limit that alone
/// would take most of them: together they queue every target once.
pub async fn two_stores_taking_due_targets_at_once_queue_each_target_once(stores: Stores) {
    const TARGETS: usize = 500;
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let texts: Vec<String> = (0..TARGETS)
        .map(|i| format!("10.1.{}.{}", i / 250, i % 250))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    watch(a, "many", &texts, Duration::hours(1)).await;
    sync(b, SPAMCOP, &ALL, T0).await;

    let (first, second) = tokio::join!(
        a.take_due(SPAMCOP, 300, at(1), T0),
        b.take_due(SPAMCOP, 300, at(1), T0)
    );
    let (first, second) = (first.expect("take on a"), second.expect("take on b"));
    assert_eq!(first.fresh + second.fresh, 0);
    assert!(
        first.queued <= 300 && second.queued <= 300,
        "{first:?} {second:?}"
    );
    assert_eq!(
        first.queued + second.queued,
        TARGETS as u64,
        "{first:?} {second:?}"
    );
    assert_eq!(take(a, SPAMCOP, 1_000, at(1)).await, TakenDue::default());

    let mut jobs_per_target: BTreeMap<String, u32> = BTreeMap::new();
    for target in claimed_targets(b, SPAMCOP, at(1)).await {
        *jobs_per_target.entry(target).or_default() += 1;
    }
    assert_eq!(jobs_per_target.len(), TARGETS);
    let twice: Vec<_> = jobs_per_target.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "queued more than once: {twice:?}");
}

/// The change log, by generation, then target.
async fn logged(stores: &Stores) -> Vec<(i64, String)> {
    let mut entries = stores.raw.watch_changes().await;
    entries.sort();
    entries
}

fn log_entries(generation: i64, targets: &[&str]) -> Vec<(i64, String)> {
    targets
        .iter()
        .map(|&t| (generation, t.to_owned()))
        .collect()
}

/// The targets `blocklist` queues at each of `instants` in turn. Each take's jobs are claimed
/// for a day, so that each claim gets only what its take queued: the targets due then.
async fn queued_at(
    store: &dyn Store,
    blocklist: &str,
    instants: &[OffsetDateTime],
) -> Vec<Vec<String>> {
    let mut queued = Vec::new();
    for &now in instants {
        take(store, blocklist, 10_000, now).await;
        let jobs = store
            .claim_jobs(blocklist, 10_000, now, now + Duration::days(1))
            .await
            .expect("claim jobs");
        let mut targets: Vec<String> = jobs.iter().map(|job| job.target.to_string()).collect();
        targets.sort();
        queued.push(targets);
    }
    queued
}

/// Claims the planning of `blocklist` from `from` until `until`, so that the log is kept for
/// it in between (and for a day after).
async fn plan(store: &dyn Rechecks, blocklist: &str, from: OffsetDateTime, until: OffsetDateTime) {
    assert!(
        store
            .claim_planning(blocklist, "planner", from, until)
            .await
            .expect("claim planning"),
        "{blocklist} claimed"
    );
}

pub async fn watchlist_writes_log_the_targets_they_may_change(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (hour, six) = (Duration::hours(1), Duration::hours(6));
    let mut expected = Vec::new();
    // A new watchlist: each of its targets, under the generation the write bumped to.
    watch(a, "mail", &["192.0.2.0/31", "example.com"], six).await;
    expected.extend(log_entries(1, &["192.0.2.0", "192.0.2.1", "example.com"]));
    // Entries added and removed: the targets gained and lost (192.0.2.1 was held already).
    watch_more(b, "mail", &["192.0.2.9", "192.0.2.1"]).await;
    expected.extend(log_entries(2, &["192.0.2.9"]));
    watch_less(a, "mail", &["example.com"]).await;
    expected.extend(log_entries(3, &["example.com"]));
    // Replaced at the same interval: what it gains and loses.
    watch(b, "mail", &["192.0.2.0/31", "192.0.2.10"], six).await;
    expected.extend(log_entries(4, &["192.0.2.10", "192.0.2.9"]));
    // At another interval: every target it holds.
    watch(a, "mail", &["192.0.2.0/31", "192.0.2.10"], hour).await;
    expected.extend(log_entries(5, &["192.0.2.0", "192.0.2.1", "192.0.2.10"]));
    // Written again as it is: nothing.
    watch(b, "mail", &["192.0.2.0/31", "192.0.2.10"], hour).await;
    watch(a, "web", &["192.0.2.1"], six).await;
    expected.extend(log_entries(7, &["192.0.2.1"]));
    // Deleted: every target it held.
    assert!(b.delete_watchlist(&name("mail")).await.unwrap());
    expected.extend(log_entries(8, &["192.0.2.0", "192.0.2.1", "192.0.2.10"]));
    // Refused and missing: nothing.
    let refused = a
        .put_watchlist(&name("big"), &entries(&["10.0.0.0/24"]), six, 10, &[], T0)
        .await
        .unwrap();
    assert!(matches!(refused, WatchlistWrite::TooManyTargets { .. }));
    let missing = b
        .add_watch_entries(&name("nope"), &entries(&["10.0.0.1"]), MAX_TARGETS, &[], T0)
        .await
        .unwrap();
    assert_eq!(missing, WatchlistWrite::NotFound);
    assert!(!a.delete_watchlist(&name("nope")).await.unwrap());
    assert_eq!(logged(&stores).await, expected);
}

/// Syncs spamcop (synced before, so from the log) and `fresh` (never synced: in full) at
/// `now`, and checks that the two schedules are the same.
async fn in_step(stores: &Stores, kinds: &[TargetKind], fresh: &str, now: OffsetDateTime) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(!logged(stores).await.is_empty(), "{fresh}: nothing logged");
    sync(a, SPAMCOP, kinds, now).await;
    sync(b, fresh, kinds, now).await;
    assert_eq!(
        summary(b, SPAMCOP, now).await,
        summary(a, fresh, now).await,
        "spamcop from the log, {fresh} in full"
    );
}

pub async fn an_incremental_sync_gives_the_schedule_a_full_resync_gives(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (half, hour, six) = (
        Duration::minutes(30),
        Duration::hours(1),
        Duration::hours(6),
    );
    // IPv4 and domains: the IPv6 targets are watched, but not on spamcop.
    let kinds = [TargetKind::Ipv4, TargetKind::Domain];
    // Every sync at one instant, so that the rows of both lists are due alike.
    let now = at(100);
    plan(a, SPAMCOP, T0, T0 + hour).await;
    watch(
        a,
        "mail",
        &["192.0.2.0/30", "2001:db8::1", "example.com"],
        six,
    )
    .await;
    watch(b, "web", &["192.0.2.1", "a.example"], hour).await;
    sync(a, SPAMCOP, &kinds, now).await;

    // A new target, and one of a kind the list does not take.
    watch_more(a, "mail", &["192.0.2.8", "2001:db8::2"]).await;
    in_step(&stores, &kinds, "full-1", now).await;
    // A target a watchlist with a shorter interval takes on, and one it gives up.
    watch_more(b, "web", &["192.0.2.2"]).await;
    watch_less(a, "web", &["192.0.2.1"]).await;
    in_step(&stores, &kinds, "full-2", now).await;
    // Targets no watchlist holds any more.
    watch_less(b, "mail", &["example.com", "192.0.2.8"]).await;
    in_step(&stores, &kinds, "full-3", now).await;
    // Every target of a watchlist whose interval changes.
    watch(a, "mail", &["192.0.2.0/30", "2001:db8::1"], half).await;
    in_step(&stores, &kinds, "full-4", now).await;
    // Replaced at the same interval: a target kept, one dropped (mail holds it), two new.
    watch(b, "web", &["a.example", "b.example", "192.0.2.3"], hour).await;
    in_step(&stores, &kinds, "full-5", now).await;
    // Several writes between two syncs: one undoing another, a watchlist that comes and
    // goes, and one that stays and shortens a target's interval.
    watch_more(a, "web", &["c.example"]).await;
    watch_less(b, "web", &["c.example"]).await;
    watch(a, "tmp", &["192.0.2.9", "a.example"], Duration::minutes(10)).await;
    assert!(b.delete_watchlist(&name("tmp")).await.unwrap());
    watch(a, "ops", &["a.example"], half).await;
    in_step(&stores, &kinds, "full-6", now).await;
    // A deleted watchlist: its targets go, or fall back to another one's interval.
    assert!(a.delete_watchlist(&name("mail")).await.unwrap());
    in_step(&stores, &kinds, "full-7", now).await;
    assert_eq!(
        summary(b, SPAMCOP, now).await.by_interval,
        [demand(half, 1, 1, 1), demand(hour, 2, 2, 2)]
    );
    // The same targets queued, at the same intervals.
    let instants = [now, now + half, now + hour, now + six];
    let sets = queued_at(b, SPAMCOP, &instants).await;
    assert_eq!(sets, queued_at(a, "full-7", &instants).await);
    let all = sorted(&["192.0.2.3", "a.example", "b.example"]);
    assert_eq!(
        sets,
        [all.clone(), sorted(&["a.example"]), all.clone(), all]
    );

    // Due times, on a list of IPv6 only: taken, due six hours on; a shorter interval brings
    // it forward to the new interval from the sync; a longer one leaves it.
    plan(b, BARRACUDA, T0, T0 + hour).await;
    watch(a, "v6", &["2001:db8::10"], six).await;
    sync(b, BARRACUDA, &[TargetKind::Ipv6], now).await;
    assert_eq!(take(a, BARRACUDA, 10, now).await, queued(1));
    watch(b, "v6", &["2001:db8::10"], hour).await;
    let shorter = now + Duration::minutes(10);
    sync(a, BARRACUDA, &[TargetKind::Ipv6], shorter).await;
    let at_shorter = summary(b, BARRACUDA, shorter).await;
    assert_eq!(at_shorter.by_interval, [demand(hour, 1, 0, 1)]);
    assert_eq!(at_shorter.oldest_due, Some(shorter + hour));
    watch(a, "v6", &["2001:db8::10"], six).await;
    let longer = shorter + Duration::minutes(5);
    sync(b, BARRACUDA, &[TargetKind::Ipv6], longer).await;
    let at_longer = summary(a, BARRACUDA, longer).await;
    assert_eq!(at_longer.by_interval, [demand(six, 1, 0, 1)]);
    assert_eq!(at_longer.oldest_due, Some(shorter + hour));
}

pub async fn a_list_the_log_was_purged_past_is_synced_in_full_and_misses_nothing(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (half, hour, six, day) = (
        Duration::minutes(30),
        Duration::hours(1),
        Duration::hours(6),
        Duration::days(1),
    );
    plan(a, SPAMCOP, T0, at(60)).await;
    plan(a, BARRACUDA, T0, at(60)).await;
    watch(a, "mail", &["192.0.2.0/30", "example.com"], six).await;
    watch(b, "web", &["192.0.2.1"], hour).await;
    sync(a, SPAMCOP, &ALL, at(10)).await;
    sync(b, BARRACUDA, &ALL, at(10)).await;
    // A change spamcop has not synced yet, while both lists are planned: kept for it.
    watch_more(a, "mail", &["192.0.2.8"]).await;
    sync(b, BARRACUDA, &ALL, at(20)).await;
    assert_eq!(logged(&stores).await, log_entries(3, &["192.0.2.8"]));

    // Two days on, spamcop is no longer planned (disabled); barracuda is, and its syncs
    // purge the log past spamcop.
    let later = T0 + 2 * day;
    plan(b, BARRACUDA, later, later + Duration::minutes(1)).await;
    watch_less(a, "mail", &["example.com"]).await;
    watch(b, "web", &["192.0.2.1"], half).await;
    sync(a, BARRACUDA, &ALL, later).await;
    assert!(logged(&stores).await.is_empty());
    watch_more(b, "mail", &["192.0.2.9"]).await;
    sync(a, BARRACUDA, &ALL, later + Duration::seconds(10)).await;

    // Planned again: synced in full, with every change since it was last synced.
    let back = later + Duration::minutes(1);
    plan(a, SPAMCOP, back, back + Duration::minutes(1)).await;
    sync(b, SPAMCOP, &ALL, back).await;
    let schedule = a.schedule_summary(SPAMCOP, back, back + day).await.unwrap();
    assert_eq!(
        schedule.by_interval,
        [demand(half, 1, 1, 1), demand(six, 5, 5, 5)]
    );
    let instants = [back, back + half, back + hour, back + six];
    let sets = queued_at(a, SPAMCOP, &instants).await;
    assert_eq!(sets, queued_at(b, BARRACUDA, &instants).await);
    assert_eq!(
        sets[0],
        sorted(&[
            "192.0.2.0",
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.8",
            "192.0.2.9"
        ])
    );
    assert_eq!(sets[1], ["192.0.2.1"]);
}

pub async fn the_change_log_is_purged_once_every_planned_list_has_passed_it(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let six = Duration::hours(6);
    let until = T0 + Duration::hours(1);
    plan(a, SPAMCOP, T0, until).await;
    plan(b, BARRACUDA, T0, until).await;
    watch(a, "mail", &["192.0.2.0/31"], six).await;
    assert_eq!(
        logged(&stores).await,
        log_entries(1, &["192.0.2.0", "192.0.2.1"])
    );
    // Barracuda is claimed but was never synced: its first sync is in full, so the log is
    // not kept for it.
    sync(a, SPAMCOP, &ALL, at(10)).await;
    assert!(logged(&stores).await.is_empty());
    sync(b, BARRACUDA, &ALL, at(10)).await;

    // Kept until both planned lists have synced past it; a list never claimed is not waited
    // for, nor does its sync purge what a planned list still needs.
    watch_more(b, "mail", &["192.0.2.8"]).await;
    let added = log_entries(2, &["192.0.2.8"]);
    assert_eq!(logged(&stores).await, added);
    sync(a, SPAMCOP, &ALL, at(20)).await;
    assert_eq!(logged(&stores).await, added);
    sync(b, "third", &ALL, at(20)).await;
    assert_eq!(logged(&stores).await, added);
    sync(a, BARRACUDA, &ALL, at(30)).await;
    assert!(logged(&stores).await.is_empty());

    // The third list falls behind, the planned lists' syncs purge the log past it, and its
    // next sync is in full: 192.0.2.9 in, the /31 out.
    watch_more(a, "mail", &["192.0.2.9"]).await;
    watch_less(b, "mail", &["192.0.2.0/31"]).await;
    sync(a, SPAMCOP, &ALL, at(40)).await;
    sync(b, BARRACUDA, &ALL, at(40)).await;
    assert!(logged(&stores).await.is_empty());
    sync(a, "third", &ALL, at(50)).await;
    assert_eq!(
        summary(b, "third", at(50)).await.by_interval,
        [demand(six, 2, 2, 2)]
    );
    assert_eq!(
        queued_at(b, "third", &[at(50)]).await,
        [sorted(&["192.0.2.8", "192.0.2.9"])]
    );
}

/// Watchlist writes on one store while the other syncs a planned list over and over: once
/// the writes are done, one more sync from the log gives what a full resync gives.
pub async fn watchlist_writes_racing_syncs_lose_no_change(stores: Stores) {
    const WRITES: u32 = 40;
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let intervals = [
        Duration::minutes(30),
        Duration::hours(1),
        Duration::hours(6),
    ];
    plan(b, SPAMCOP, T0, T0 + Duration::hours(1)).await;
    for (i, interval) in intervals.iter().enumerate() {
        watch(a, &format!("w{i}"), &["192.0.2.1"], *interval).await;
    }
    sync(b, SPAMCOP, &ALL, T0).await;

    // The writes wait for a sync to finish every few steps, so the two interleave however
    // the scheduler runs them (a timing-only race ran every sync after the writes once).
    let done = AtomicBool::new(false);
    let syncs = AtomicU32::new(0);
    let writes = async {
        for i in 0..WRITES {
            let (own, other) = (format!("10.2.0.{i}"), format!("10.2.1.{}", i % 5));
            watch_more(a, &format!("w{}", i % 3), &[&own, &other]).await;
            if i % 4 == 3 {
                watch_less(a, &format!("w{}", (i + 1) % 3), &[&other]).await;
            }
            if i % 10 == 9 {
                assert!(a.delete_watchlist(&name("w2")).await.unwrap());
                let interval = intervals[(i as usize / 10) % 3];
                watch(a, "w2", &["192.0.2.1", "10.2.2.0/30"], interval).await;
            }
            if i % 5 == 2 {
                let seen = syncs.load(Ordering::SeqCst);
                while syncs.load(Ordering::SeqCst) == seen {
                    tokio::task::yield_now().await;
                }
            }
        }
        done.store(true, Ordering::SeqCst);
    };
    let syncing = async {
        while !done.load(Ordering::SeqCst) {
            b.sync_schedule(SPAMCOP, &ALL, T0)
                .await
                .expect("sync the schedule");
            syncs.fetch_add(1, Ordering::SeqCst);
        }
    };
    tokio::join!(writes, syncing);
    assert!(
        syncs.load(Ordering::SeqCst) >= WRITES / 5,
        "a sync ran between the writes"
    );

    b.sync_schedule(SPAMCOP, &ALL, T0)
        .await
        .expect("sync the schedule");
    sync(a, "full", &ALL, T0).await;
    assert_eq!(summary(a, SPAMCOP, T0).await, summary(b, "full", T0).await);
    let instants = [T0, T0 + intervals[0], T0 + intervals[1], T0 + intervals[2]];
    assert_eq!(
        queued_at(b, SPAMCOP, &instants).await,
        queued_at(a, "full", &instants).await
    );
}
