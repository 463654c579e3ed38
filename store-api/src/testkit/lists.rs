//! Many lists: each list's result per target (address or domain), the original list's part in
//! `lookups` and history, domains' records, reusing fresh answers, per-list claims, and query
//! counts.

use std::net::Ipv4Addr;

use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::{
    Stores, T0, address, answer, at, claim_list, evidence, fail, list_answer, listed, outcome,
    record, retry,
};
use crate::{
    Attempt, ClaimedJob, Domain, HourlyQueries, JobResult, ListResultRecord, ListState,
    NOT_LOOKED_UP, NewJob, ORIGINAL_LIST, Outcome, Queue, StoreError, StoredAnswer, Target,
    Verdict,
};

const SPAMCOP: &str = "spamcop";
const DBL: &str = "spamhaus-dbl";
const URIBL: &str = "uribl";

fn domain(text: &str) -> Domain {
    text.parse().expect("a domain")
}

fn ip(text: &str) -> Target {
    Target::Ip(address(text))
}

fn job(target: &Target, blocklist: &str) -> NewJob {
    NewJob {
        target: target.clone(),
        blocklist: blocklist.to_owned(),
    }
}

/// Queues `jobs` at `now` (reusing no answer) and claims the one job of `blocklist` it made.
async fn queue_and_claim(store: &dyn Queue, jobs: &[NewJob], now: OffsetDateTime) -> ClaimedJob {
    store.enqueue(jobs, false, now).await.expect("enqueue");
    let mut claimed = claim_list(store, &jobs[0].blocklist, 10, now).await;
    assert_eq!(claimed.len(), 1, "claimed {claimed:?}");
    claimed.remove(0)
}

/// Asks `blocklist` about `target` at `now` and stores `result` as its answer at `answered`.
async fn answered(
    store: &dyn Queue,
    target: &Target,
    blocklist: &str,
    result: Outcome,
    answered: OffsetDateTime,
) {
    let claimed = queue_and_claim(store, &[job(target, blocklist)], answered).await;
    record(store, &[answer(&claimed, result, answered)]).await;
}

/// What `list_results` holds for an answer made by the suite's [`list_answer`].
fn answered_record(blocklist: &str, result: Outcome, at: OffsetDateTime) -> ListResultRecord {
    let answer = list_answer(result, at);
    ListResultRecord {
        blocklist: blocklist.to_owned(),
        state: ListState::Answered(answer.verdict),
        return_codes: answer.return_codes,
        reason: answer.reason,
        checked_at: Some(at),
        expires_at: Some(answer.expires_at),
        last_error: None,
        evidence: Some(answer.evidence),
    }
}

pub async fn each_list_keeps_its_own_answer_per_target(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let target = ip("192.0.2.10");
    // The original list: listed, with a reason and an answer without TTL.
    let zen = queue_and_claim(a, &[job(&target, ORIGINAL_LIST)], T0).await;
    let mut listing = list_answer(listed(&[2, 4]), at(1));
    listing.reason = Some("https://check.spamhaus.org/listed/?searchterm=192.0.2.10".to_owned());
    listing.evidence.rcode = "NOERROR".to_owned();
    listing.evidence.ttl = None;
    listing.evidence.test_points_passed = false;
    listing.evidence.resolver = "[2001:db8::53]:5353".parse().unwrap();
    record(
        a,
        &[outcome(&zen, at(1), JobResult::Answer(listing.clone()))],
    )
    .await;
    // Another list: not listed.
    answered(a, &target, SPAMCOP, Outcome::NotListed, at(2)).await;

    let results = b.list_results(&target).await.unwrap();
    assert_eq!(
        results,
        [
            answered_record(SPAMCOP, Outcome::NotListed, at(2)),
            ListResultRecord {
                blocklist: ORIGINAL_LIST.to_owned(),
                state: ListState::Answered(Verdict::Listed),
                return_codes: vec![Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 4)],
                reason: listing.reason.clone(),
                checked_at: Some(at(1)),
                expires_at: Some(at(1) + Duration::hours(1)),
                last_error: None,
                evidence: Some(listing.evidence.clone()),
            },
        ]
    );
    // A later answer replaces the list's result; the other list's stays.
    answered(b, &target, ORIGINAL_LIST, Outcome::NotListed, at(3)).await;
    let results = a.list_results(&target).await.unwrap();
    assert_eq!(
        results,
        [
            answered_record(SPAMCOP, Outcome::NotListed, at(2)),
            answered_record(ORIGINAL_LIST, Outcome::NotListed, at(3)),
        ]
    );
    assert!(a.list_results(&ip("192.0.2.11")).await.unwrap().is_empty());
    assert_eq!(a.queue_counts().await.unwrap().done, 3);
}

pub async fn the_original_list_writes_response_code_and_history_and_other_lists_do_not(
    stores: Stores,
) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let address_a = address("198.51.100.1");
    let target = Target::Ip(address_a);
    // Another list answers first: the address gets its record, without the original answer.
    answered(a, &target, SPAMCOP, listed(&[2]), at(1)).await;
    let first = b.lookup(&address_a).await.unwrap().unwrap();
    assert_eq!(first.answer.text(), NOT_LOOKED_UP);
    assert_eq!(first.answer, StoredAnswer::Other(NOT_LOOKED_UP.to_owned()));
    assert_eq!((first.created_at, first.updated_at), (at(1), at(1)));
    assert!(b.history(&address_a, 10).await.unwrap().is_empty());

    // The original list's answer is its response_code and history.
    answered(a, &target, ORIGINAL_LIST, Outcome::NotListed, at(2)).await;
    let second = b.lookup(&address_a).await.unwrap().unwrap();
    assert_eq!(second.answer, StoredAnswer::Blocklist(Outcome::NotListed));
    assert_eq!(
        (&second.uuid, second.created_at, second.updated_at),
        (&first.uuid, at(1), at(2))
    );
    let history = b.history(&address_a, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].looked_up_at, &history[0].attempt),
        (
            at(2),
            &Attempt::Answer(StoredAnswer::Blocklist(Outcome::NotListed))
        )
    );

    // Another list's later answer keeps the response_code and moves updated_at.
    answered(b, &target, SPAMCOP, Outcome::NotListed, at(3)).await;
    let third = a.lookup(&address_a).await.unwrap().unwrap();
    assert_eq!(third.answer, StoredAnswer::Blocklist(Outcome::NotListed));
    assert_eq!((&third.uuid, third.updated_at), (&first.uuid, at(3)));
    assert_eq!(a.history(&address_a, 10).await.unwrap().len(), 1);

    // The original list's answer counts also when it is stored after another list's later
    // one; updated_at stays at the latest answer.
    let address_b = address("198.51.100.2");
    let target_b = Target::Ip(address_b);
    let zen = queue_and_claim(a, &[job(&target_b, ORIGINAL_LIST)], T0).await;
    answered(a, &target_b, SPAMCOP, Outcome::NotListed, at(10)).await;
    record(a, &[answer(&zen, listed(&[10]), at(9))]).await;
    let stored = b.lookup(&address_b).await.unwrap().unwrap();
    assert_eq!(stored.answer, StoredAnswer::Blocklist(listed(&[10])));
    assert_eq!((stored.created_at, stored.updated_at), (at(10), at(10)));
}

pub async fn a_domain_answer_makes_and_updates_its_record(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let name = domain("Example.COM.");
    assert_eq!(name.as_str(), "example.com");
    let target = Target::Domain(name.clone());
    assert_eq!(a.domain(&name).await.unwrap(), None);
    // Queued is not looked up.
    a.enqueue(&[job(&target, DBL), job(&target, URIBL)], false, T0)
        .await
        .unwrap();
    assert_eq!(b.domain(&name).await.unwrap(), None);

    let dbl = claim_list(a, DBL, 10, T0).await;
    assert_eq!(dbl.len(), 1);
    assert_eq!((&dbl[0].target, dbl[0].blocklist.as_str()), (&target, DBL));
    record(a, &[answer(&dbl[0], listed(&[2]), at(1))]).await;
    let record_1 = b.domain(&name).await.unwrap().unwrap();
    assert_eq!(
        (&record_1.domain, record_1.created_at, record_1.updated_at),
        (&name, at(1), at(1))
    );
    let uribl = claim_list(b, URIBL, 10, T0).await;
    record(b, &[answer(&uribl[0], Outcome::NotListed, at(5))]).await;
    let record_2 = a.domain(&name).await.unwrap().unwrap();
    assert_eq!((record_2.created_at, record_2.updated_at), (at(1), at(5)));
    assert_eq!(
        a.list_results(&target).await.unwrap(),
        [
            answered_record(DBL, listed(&[2]), at(1)),
            answered_record(URIBL, Outcome::NotListed, at(5)),
        ]
    );

    // An error makes no record.
    let other = domain("example.org");
    let failing = queue_and_claim(a, &[job(&Target::Domain(other.clone()), DBL)], T0).await;
    record(a, &[fail(&failing, at(6), "DNS timeout")]).await;
    assert_eq!(b.domain(&other).await.unwrap(), None);
    let results = b.list_results(&Target::Domain(other)).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].state, ListState::Unknown);
}

pub async fn an_error_before_any_answer_is_unknown_with_its_evidence(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let address_a = address("203.0.113.20");
    let target = Target::Ip(address_a);
    let claimed = queue_and_claim(a, &[job(&target, SPAMCOP)], T0).await;
    record(a, &[retry(&claimed, at(1), at(60))]).await;
    let unknown = ListResultRecord {
        blocklist: SPAMCOP.to_owned(),
        state: ListState::Unknown,
        return_codes: Vec::new(),
        reason: None,
        checked_at: None,
        expires_at: None,
        last_error: Some("DNS timeout".to_owned()),
        evidence: Some(evidence(at(1))),
    };
    assert_eq!(
        b.list_results(&target).await.unwrap(),
        std::slice::from_ref(&unknown)
    );
    // Errors never become results, nor another list's history.
    assert_eq!(b.lookup(&address_a).await.unwrap(), None);
    assert!(b.history(&address_a, 10).await.unwrap().is_empty());

    // A later failure without a query sent: its error, and no evidence.
    let again = claim_list(b, SPAMCOP, 10, at(60)).await;
    record(b, &[fail(&again[0], at(61), "no resolver answered")]).await;
    assert_eq!(
        a.list_results(&target).await.unwrap(),
        [ListResultRecord {
            last_error: Some("no resolver answered".to_owned()),
            evidence: None,
            ..unknown
        }]
    );

    // The original list's errors are also history, still without a result.
    let zen = queue_and_claim(a, &[job(&target, ORIGINAL_LIST)], at(70)).await;
    record(a, &[retry(&zen, at(71), at(80))]).await;
    assert_eq!(b.lookup(&address_a).await.unwrap(), None);
    let history = b.history(&address_a, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].attempt, Attempt::Error("DNS timeout".to_owned()));
    let results = b.list_results(&target).await.unwrap();
    let states: Vec<_> = results
        .iter()
        .map(|r| (r.blocklist.as_str(), r.state))
        .collect();
    assert_eq!(
        states,
        [
            (SPAMCOP, ListState::Unknown),
            (ORIGINAL_LIST, ListState::Unknown)
        ]
    );
}

pub async fn an_error_after_an_answer_keeps_it_until_a_later_answer(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let address_a = address("203.0.113.30");
    let target = Target::Ip(address_a);
    for list in [SPAMCOP, ORIGINAL_LIST] {
        answered(a, &target, list, listed(&[2]), at(1)).await;
    }
    let before = a.lookup(&address_a).await.unwrap().unwrap();

    // A retry, then a failure: each sets last_error; the answer and its evidence stay.
    let jobs = [job(&target, SPAMCOP), job(&target, ORIGINAL_LIST)];
    a.enqueue(&jobs, false, at(10)).await.unwrap();
    let mut claimed = claim_list(b, SPAMCOP, 10, at(10)).await;
    claimed.extend(claim_list(b, ORIGINAL_LIST, 10, at(10)).await);
    let retries: Vec<_> = claimed.iter().map(|j| retry(j, at(11), at(20))).collect();
    record(b, &retries).await;
    let mut claimed = claim_list(a, SPAMCOP, 10, at(20)).await;
    claimed.extend(claim_list(a, ORIGINAL_LIST, 10, at(20)).await);
    let failures: Vec<_> = claimed
        .iter()
        .map(|j| fail(j, at(21), "DNS server failure (SERVFAIL)"))
        .collect();
    record(a, &failures).await;
    let with_error = |list: &str| ListResultRecord {
        last_error: Some("DNS server failure (SERVFAIL)".to_owned()),
        ..answered_record(list, listed(&[2]), at(1))
    };
    assert_eq!(
        b.list_results(&target).await.unwrap(),
        [with_error(SPAMCOP), with_error(ORIGINAL_LIST)]
    );
    // The address's record and response_code are the answer's.
    assert_eq!(b.lookup(&address_a).await.unwrap().unwrap(), before);
    assert_eq!(b.history(&address_a, 10).await.unwrap().len(), 3);

    // A later answer clears the error.
    answered(b, &target, SPAMCOP, Outcome::NotListed, at(30)).await;
    assert_eq!(
        a.list_results(&target).await.unwrap(),
        [
            answered_record(SPAMCOP, Outcome::NotListed, at(30)),
            with_error(ORIGINAL_LIST)
        ]
    );
}

/// Of two jobs of one list and target, the one answered last may have been asked first: its
/// answer, stored after the other's, does not replace the newer one.
pub async fn an_older_answer_never_replaces_a_newer_one(stores: Stores) {
    let store = stores.a.as_ref();
    let target = ip("203.0.113.40");
    let first = queue_and_claim(store, &[job(&target, SPAMCOP)], T0).await;
    let second = queue_and_claim(store, &[job(&target, SPAMCOP)], T0).await;
    record(store, &[answer(&second, listed(&[2]), at(5))]).await;
    record(store, &[answer(&first, Outcome::NotListed, at(4))]).await;
    assert_eq!(
        stores.b.list_results(&target).await.unwrap(),
        [answered_record(SPAMCOP, listed(&[2]), at(5))]
    );
    // Nor in one batch, in either order.
    let third = queue_and_claim(store, &[job(&target, SPAMCOP)], T0).await;
    let fourth = queue_and_claim(store, &[job(&target, SPAMCOP)], T0).await;
    record(
        store,
        &[
            answer(&fourth, listed(&[10]), at(7)),
            answer(&third, Outcome::NotListed, at(6)),
        ],
    )
    .await;
    assert_eq!(
        stores.b.list_results(&target).await.unwrap(),
        [answered_record(SPAMCOP, listed(&[10]), at(7))]
    );
}

pub async fn reuse_fresh_skips_only_a_fresh_answer_of_the_same_list(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (fresh, expiring, unknown) = (ip("192.0.2.50"), ip("192.0.2.51"), ip("192.0.2.52"));
    // Answers at T0 are fresh for an hour.
    answered(a, &fresh, SPAMCOP, listed(&[2]), T0).await;
    answered(a, &expiring, SPAMCOP, Outcome::NotListed, T0).await;
    let failing = queue_and_claim(a, &[job(&unknown, SPAMCOP)], T0).await;
    record(a, &[fail(&failing, T0, "DNS timeout")]).await;

    let jobs = [
        job(&fresh, SPAMCOP),
        job(&fresh, ORIGINAL_LIST),
        job(&unknown, SPAMCOP),
    ];
    b.enqueue(&jobs, true, at(60)).await.unwrap();
    let counts = a.queue_counts().await.unwrap();
    assert_eq!(counts.pending, 2);
    let spamcop = claim_list(a, SPAMCOP, 10, at(60)).await;
    let targets: Vec<_> = spamcop.iter().map(|j| &j.target).collect();
    assert_eq!(targets, [&unknown]);
    assert_eq!(claim_list(a, ORIGINAL_LIST, 10, at(60)).await.len(), 1);

    // Fresh means expiring after now.
    let expires = T0 + Duration::hours(1);
    b.enqueue(
        &[job(&expiring, SPAMCOP)],
        true,
        expires - Duration::MICROSECOND,
    )
    .await
    .unwrap();
    assert_eq!(a.queue_counts().await.unwrap().pending, 0);
    b.enqueue(&[job(&expiring, SPAMCOP)], true, expires)
        .await
        .unwrap();
    assert_eq!(a.queue_counts().await.unwrap().pending, 1);

    // Without reuse_fresh, a fresh answer is asked again.
    b.enqueue(&[job(&fresh, SPAMCOP)], false, at(60))
        .await
        .unwrap();
    let again = claim_list(a, SPAMCOP, 10, expires).await;
    let mut targets: Vec<_> = again.iter().map(|j| &j.target).collect();
    targets.sort();
    assert_eq!(targets, [&fresh, &expiring]);
}

pub async fn one_pending_job_per_target_and_list(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let address_target = ip("192.0.2.60");
    let domain_target = Target::Domain(domain("example.net"));
    let jobs = [
        job(&address_target, ORIGINAL_LIST),
        job(&address_target, ORIGINAL_LIST),
        job(&address_target, SPAMCOP),
        job(&domain_target, DBL),
    ];
    a.enqueue(&jobs, false, T0).await.unwrap();
    b.enqueue(&jobs[1..], false, at(1)).await.unwrap();
    a.enqueue(&[], false, at(2)).await.unwrap();
    assert_eq!(b.queue_counts().await.unwrap().pending, 3);
    for (list, target) in [
        (ORIGINAL_LIST, &address_target),
        (SPAMCOP, &address_target),
        (DBL, &domain_target),
    ] {
        let claimed = claim_list(b, list, 10, at(3)).await;
        let got: Vec<_> = claimed
            .iter()
            .map(|j| (&j.target, j.blocklist.as_str(), j.attempts))
            .collect();
        assert_eq!(got, [(target, list, 1)]);
    }
}

pub async fn a_claim_takes_only_its_lists_jobs(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let [first, second, third] = ["192.0.2.71", "192.0.2.72", "192.0.2.73"].map(ip);
    a.enqueue(
        &[job(&first, SPAMCOP), job(&second, ORIGINAL_LIST)],
        false,
        T0,
    )
    .await
    .unwrap();
    a.enqueue(&[job(&third, SPAMCOP)], false, at(1))
        .await
        .unwrap();
    assert!(claim_list(b, URIBL, 10, at(1)).await.is_empty());
    let spamcop = claim_list(b, SPAMCOP, 10, at(1)).await;
    let got: Vec<_> = spamcop
        .iter()
        .map(|j| (&j.target, j.blocklist.as_str()))
        .collect();
    assert_eq!(got, [(&first, SPAMCOP), (&third, SPAMCOP)]);
    assert!(claim_list(a, SPAMCOP, 10, at(1)).await.is_empty());
    let zen = claim_list(a, ORIGINAL_LIST, 10, at(1)).await;
    assert_eq!(zen.len(), 1);
    assert_eq!(
        (&zen[0].target, zen[0].blocklist.as_str()),
        (&second, ORIGINAL_LIST)
    );
    // Leases run out for every list alike.
    let counts = a.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (0, 3));
    assert_eq!(b.reclaim_expired(at(1_000)).await.unwrap(), 3);
    assert_eq!(claim_list(a, SPAMCOP, 10, at(1_000)).await.len(), 2);
}

pub async fn a_disabled_lists_pending_jobs_are_given_up_alone(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let [first, second] = ["192.0.2.74", "192.0.2.75"].map(ip);
    a.enqueue(
        &[
            job(&first, SPAMCOP),
            job(&second, SPAMCOP),
            job(&first, ORIGINAL_LIST),
        ],
        false,
        T0,
    )
    .await
    .unwrap();
    let running = claim_list(a, SPAMCOP, 1, T0).await;
    assert_eq!(running.len(), 1);
    assert_eq!(
        b.pending_lists().await.unwrap(),
        [SPAMCOP.to_owned(), ORIGINAL_LIST.to_owned()],
        "in id order"
    );
    let error = "blocklist spamcop is not enabled";
    assert_eq!(b.fail_pending(SPAMCOP, error, at(1)).await.unwrap(), 1);
    assert_eq!(b.pending_lists().await.unwrap(), [ORIGINAL_LIST.to_owned()]);
    let counts = a.queue_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.running, counts.failed),
        (1, 1, 1),
        "the running job and the other list's job stay"
    );
    // The failed job no longer holds its place: the pair can be queued again.
    a.enqueue(&[job(&second, SPAMCOP)], false, at(2))
        .await
        .unwrap();
    assert_eq!(claim_list(a, SPAMCOP, 10, at(2)).await.len(), 1);
}

pub async fn queries_are_counted_per_list_and_utc_day_across_stores(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let day_1 = date!(2024 - 01 - 01);
    let day_2 = date!(2024 - 01 - 02);
    assert!(a.queries_on(day_1).await.unwrap().is_empty());
    let targets = ["192.0.2.81", "192.0.2.82", "192.0.2.83"].map(ip);
    let jobs: Vec<_> = targets.iter().map(|t| job(t, SPAMCOP)).collect();
    a.enqueue(&jobs, false, T0).await.unwrap();
    let zen_job = [job(&targets[0], ORIGINAL_LIST)];
    a.enqueue(&zen_job, false, T0).await.unwrap();
    // A claim whose lease runs out at once: its worker "died", its late outcome is dropped,
    // but the query it sent is counted.
    let stale = a.claim_jobs(ORIGINAL_LIST, 10, T0, T0).await.unwrap();
    assert_eq!(b.reclaim_expired(at(1)).await.unwrap(), 1);
    let zen = claim_list(b, ORIGINAL_LIST, 10, at(1)).await;
    let spamcop = claim_list(a, SPAMCOP, 10, at(1)).await;

    let last_of_day_1 = datetime!(2024-01-01 23:59:59.999999 UTC);
    let mut with_reason = answer(&spamcop[0], listed(&[2]), at(2));
    with_reason.queries = 2;
    let outcomes = [
        with_reason,
        answer(&spamcop[1], Outcome::NotListed, last_of_day_1),
        // Just after midnight UTC, written at an offset still on day 1.
        retry(
            &spamcop[2],
            datetime!(2024-01-01 23:00:00 -01:00),
            day_2.midnight().assume_utc() + Duration::hours(1),
        ),
        answer(&zen[0], Outcome::NotListed, at(3)),
        outcome(&zen[0], at(3), JobResult::Release),
    ];
    record(b, &outcomes).await;
    record(a, &[answer(&stale[0], listed(&[2]), at(4))]).await;
    a.count_queries(
        SPAMCOP,
        day_2.midnight().assume_utc() + Duration::hours(2),
        5,
    )
    .await
    .unwrap();
    // Nothing sent is nothing to count.
    b.count_queries(URIBL, T0, 0).await.unwrap();
    b.count_queries(ORIGINAL_LIST, at(5), 1).await.unwrap();

    for store in [a, b] {
        assert_eq!(
            store.queries_on(day_1).await.unwrap(),
            [(SPAMCOP.to_owned(), 3), (ORIGINAL_LIST.to_owned(), 3)]
        );
        assert_eq!(
            store.queries_on(day_2).await.unwrap(),
            [(SPAMCOP.to_owned(), 6)]
        );
        assert!(
            store
                .queries_on(date!(2024 - 01 - 03))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

pub async fn queries_are_counted_per_utc_hour_and_kept_eight_days(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hour = |h: i64| T0 + Duration::hours(h);
    assert!(a.queries_by_hour(T0).await.unwrap().is_empty());
    answered(a, &ip("192.0.2.101"), SPAMCOP, Outcome::NotListed, at(600)).await;
    answered(
        b,
        &ip("192.0.2.102"),
        ORIGINAL_LIST,
        Outcome::NotListed,
        at(1200),
    )
    .await;
    let late = queue_and_claim(a, &[job(&ip("192.0.2.103"), SPAMCOP)], hour(1)).await;
    let mut two = answer(&late, listed(&[2]), hour(1) + Duration::minutes(10));
    two.queries = 2;
    record(a, &[two]).await;
    // Written at an offset, counted in its UTC hour.
    let offset = datetime!(2024-01-01 01:30:00 +01:00);
    b.count_queries(SPAMCOP, offset, 4).await.unwrap();
    b.count_queries(URIBL, hour(1), 0).await.unwrap();

    let row = |h: i64, list: &str, queries: u64| HourlyQueries {
        hour: hour(h),
        blocklist: list.to_owned(),
        queries,
    };
    for store in [a, b] {
        let all = [
            row(0, SPAMCOP, 5),
            row(0, ORIGINAL_LIST, 1),
            row(1, SPAMCOP, 2),
        ];
        assert_eq!(store.queries_by_hour(T0).await.unwrap(), all);
        // From the start of `since`'s hour.
        let within = T0 + Duration::minutes(59);
        assert_eq!(store.queries_by_hour(within).await.unwrap(), all);
        assert_eq!(
            store.queries_by_hour(hour(1)).await.unwrap(),
            [row(1, SPAMCOP, 2)]
        );
        // The daily counts took the same queries.
        assert_eq!(
            store.queries_on(date!(2024 - 01 - 01)).await.unwrap(),
            [(SPAMCOP.to_owned(), 7), (ORIGINAL_LIST.to_owned(), 1)]
        );
    }
    // Counting purges the hours more than eight days before the counted one.
    a.count_queries(URIBL, hour(8 * 24 + 1), 1).await.unwrap();
    assert_eq!(
        b.queries_by_hour(T0).await.unwrap(),
        [row(1, SPAMCOP, 2), row(8 * 24 + 1, URIBL, 1)]
    );
}

pub async fn an_unreadable_stored_list_result_is_an_error(stores: Stores) {
    let target = ip("192.0.2.90");
    answered(stores.a.as_ref(), &target, SPAMCOP, listed(&[2]), T0).await;
    stores
        .raw
        .set_return_codes(&target.to_string(), SPAMCOP, "127.0.0.2;127.0.0.300")
        .await;
    assert!(matches!(
        stores.b.list_results(&target).await,
        Err(StoreError::Unreadable(_))
    ));
}

pub async fn listed_among_names_the_targets_a_list_lists_now(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let (listed_ip, clean_ip, domain) = (ip("192.0.2.1"), ip("192.0.2.2"), ip("198.51.100.7"));
    answered(a, &listed_ip, SPAMCOP, listed(&[2]), at(1)).await;
    answered(a, &clean_ip, SPAMCOP, Outcome::NotListed, at(1)).await;
    // Listed on another list only.
    answered(a, &domain, ORIGINAL_LIST, listed(&[4]), at(1)).await;
    let asked: Vec<String> = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "203.0.113.9"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(
        b.listed_among(SPAMCOP, &asked).await.unwrap(),
        ["192.0.2.1"]
    );
    assert_eq!(
        b.listed_among(ORIGINAL_LIST, &asked).await.unwrap(),
        ["198.51.100.7"]
    );
    // Delisted since: no longer among them.
    answered(b, &listed_ip, SPAMCOP, Outcome::NotListed, at(2)).await;
    assert!(a.listed_among(SPAMCOP, &asked).await.unwrap().is_empty());
    assert!(a.listed_among(SPAMCOP, &[]).await.unwrap().is_empty());
}
