//! The job queue: claims, leases, outcomes, counts, and races between two stores.

use std::collections::HashSet;

use time::Duration;

use super::{
    Stores, T0, address, addresses, answer, at, claim, enqueue, fail, listed, outcome, record,
    retry, zen,
};
use crate::{Attempt, JobResult, ORIGINAL_LIST, Outcome, QueueCounts, StoredAnswer, Target};

pub async fn enqueue_joins_a_pending_job_of_the_same_address(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let ip = address("192.0.2.1");
    enqueue(a, &[ip, ip], T0).await;
    enqueue(b, &[ip], at(1)).await;
    enqueue(a, &[], at(2)).await;
    assert_eq!(b.queue_counts().await.unwrap().pending, 1);
    // A running job does not hold the address: queued again, it waits beside it.
    let running = claim(a, 10, at(3)).await;
    assert_eq!(running.len(), 1);
    enqueue(b, &[ip], at(4)).await;
    let counts = a.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 1));
}

pub async fn claims_take_due_jobs_oldest_first_up_to_the_limit(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let [first, second, third] = ["192.0.2.1", "2001:db8::1", "192.0.2.3"].map(address);
    enqueue(a, &[first], at(0)).await;
    enqueue(a, &[second], at(1)).await;
    enqueue(a, &[third], at(2)).await;

    // Not yet due.
    assert!(claim(a, 10, at(-1)).await.is_empty());
    let claimed = claim(b, 10, at(1)).await;
    let got: Vec<_> = claimed.iter().map(|job| job.target.clone()).collect();
    assert_eq!(got, [Target::Ip(first), Target::Ip(second)]);
    assert!(claimed.iter().all(|job| job.attempts == 1));
    assert_eq!(claimed[0].lease_token, claimed[1].lease_token);
    assert_ne!(claimed[0].id, claimed[1].id);

    // Claimed jobs are no one else's, and a limit is a limit.
    let later = claim(a, 1, at(10)).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].target, Target::Ip(third));
    assert_ne!(later[0].lease_token, claimed[0].lease_token);
    assert!(claim(b, 10, at(10)).await.is_empty());
    assert_eq!(a.queue_counts().await.unwrap().running, 3);
}

pub async fn a_lease_runs_out_and_the_job_is_claimed_again(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    enqueue(a, &[address("192.0.2.1")], T0).await;
    let lease_until = at(60);
    let held = a
        .claim_jobs(ORIGINAL_LIST, 10, T0, lease_until)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);

    // Not before the lease runs out.
    assert_eq!(b.reclaim_expired(at(59)).await.unwrap(), 0);
    assert_eq!(b.reclaim_expired(lease_until).await.unwrap(), 0);
    assert!(claim(b, 10, at(59)).await.is_empty());
    assert_eq!(
        b.reclaim_expired(lease_until + Duration::MICROSECOND)
            .await
            .unwrap(),
        1
    );
    let counts = b.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0));
    let again = claim(b, 10, at(61)).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (held[0].id, 2));
    assert_ne!(again[0].lease_token, held[0].lease_token);
    assert_eq!(b.reclaim_expired(at(62)).await.unwrap(), 0);
}

pub async fn a_late_outcome_of_a_reclaimed_job_is_dropped(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let ip = address("192.0.2.1");
    enqueue(a, &[ip], T0).await;
    // Store a claims with a lease that runs out at once: its worker "died".
    let stale = a.claim_jobs(ORIGINAL_LIST, 10, T0, T0).await.unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(b.reclaim_expired(at(1)).await.unwrap(), 1);
    let fresh = claim(b, 10, at(1)).await;
    assert_eq!(fresh.len(), 1);
    assert_eq!((fresh[0].id, fresh[0].attempts), (stale[0].id, 2));

    // The stale claim's outcomes are dropped, before and after the live one's; the live one
    // is stored, once.
    record(a, &[answer(&stale[0], listed(&[4]), at(2))]).await;
    record(a, &[retry(&stale[0], at(2), at(3))]).await;
    assert_eq!(a.lookup(&ip).await.unwrap(), None);
    assert!(a.history(&ip, 10).await.unwrap().is_empty());
    record(b, &[answer(&fresh[0], listed(&[2]), at(3))]).await;
    record(a, &[answer(&stale[0], listed(&[4]), at(4))]).await;
    record(a, &[fail(&stale[0], at(4), "DNS timeout")]).await;
    let stored = a.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(stored.answer, StoredAnswer::Blocklist(listed(&[2])));
    assert_eq!(stored.updated_at, at(3));
    assert_eq!(a.history(&ip, 10).await.unwrap().len(), 1);
    let counts = a.queue_counts().await.unwrap();
    assert_eq!((counts.done, counts.failed, counts.running), (1, 0, 0));
}

pub async fn a_stale_and_a_live_outcome_of_one_job_in_one_batch_store_once(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let ip = address("192.0.2.2");
    enqueue(a, &[ip], T0).await;
    // Claimed, its lease runs out, claimed again by the same store: both lookups finish and
    // their outcomes reach the writer in one batch, in either order.
    let stale = a.claim_jobs(ORIGINAL_LIST, 10, T0, T0).await.unwrap();
    assert_eq!(b.reclaim_expired(at(1)).await.unwrap(), 1);
    let live = claim(a, 10, at(1)).await;
    assert_eq!(stale[0].id, live[0].id);
    record(
        a,
        &[
            answer(&live[0], listed(&[2]), at(2)),
            answer(&stale[0], listed(&[4]), at(3)),
            retry(&stale[0], at(3), at(9)),
        ],
    )
    .await;
    let stored = a.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(stored.answer, StoredAnswer::Blocklist(listed(&[2])));
    let history = a.history(&ip, 10).await.unwrap();
    assert_eq!(history.len(), 1, "stored once: {history:?}");
    let counts = a.queue_counts().await.unwrap();
    assert_eq!((counts.done, counts.pending, counts.running), (1, 0, 0));
}

pub async fn answers_of_one_address_keep_uuid_and_never_go_back_in_time(stores: Stores) {
    let store = stores.a.as_ref();
    let ip = address("2001:db8::1");
    // Two jobs of one address: one running, then one queued again and claimed.
    enqueue(store, &[ip], T0).await;
    let first = claim(store, 10, T0).await;
    enqueue(store, &[ip], T0).await;
    let second = claim(store, 10, T0).await;
    assert_ne!(first[0].id, second[0].id);

    // Both answers in one batch, the later one first.
    let (early, late) = (T0 + Duration::MICROSECOND, T0 + Duration::microseconds(2));
    record(
        store,
        &[
            answer(&second[0], listed(&[10]), late),
            answer(&first[0], listed(&[2]), early),
        ],
    )
    .await;
    let stored = store.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(stored.address, ip);
    assert_eq!(stored.answer, StoredAnswer::Blocklist(listed(&[10])));
    assert_eq!((stored.created_at, stored.updated_at), (late, late));

    // An older answer changes nothing but the history; a newer one keeps uuid and created_at.
    enqueue(store, &[ip], T0).await;
    let third = claim(store, 10, T0).await;
    record(store, &[answer(&third[0], Outcome::NotListed, early)]).await;
    assert_eq!(store.lookup(&ip).await.unwrap().unwrap(), stored);
    enqueue(store, &[ip], T0).await;
    let fourth = claim(store, 10, T0).await;
    let later = at(86_400);
    record(store, &[answer(&fourth[0], Outcome::NotListed, later)]).await;
    let moved = stores.b.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(
        (&moved.uuid, moved.created_at),
        (&stored.uuid, stored.created_at)
    );
    assert_eq!(
        (moved.answer, moved.updated_at),
        (StoredAnswer::Blocklist(Outcome::NotListed), later)
    );
    let history = store.history(&ip, 10).await.unwrap();
    let times: Vec<_> = history.iter().map(|h| h.looked_up_at).collect();
    assert_eq!(times, [later, early, early, late]);
}

pub async fn a_retried_job_gives_way_to_a_pending_one(stores: Stores) {
    let store = stores.a.as_ref();
    let ip = address("198.51.100.7");
    enqueue(store, &[ip], T0).await;
    let running = claim(store, 10, T0).await;
    enqueue(store, &[ip], T0).await;
    record(store, &[retry(&running[0], at(1), at(60))]).await;
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0));
    let history = store.history(&ip, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].attempt, Attempt::Error("DNS timeout".to_owned()));

    // The pending job is the one that was queued, due at once; a released job gives its
    // attempt back and waits again as it was.
    let pending = claim(store, 10, at(2)).await;
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0].id, running[0].id);
    assert_eq!(pending[0].attempts, 1);
    record(store, &[outcome(&pending[0], at(3), JobResult::Release)]).await;
    assert!(store.history(&ip, 10).await.unwrap().len() == 1);
    let again = claim(store, 10, at(4)).await;
    assert_eq!((again[0].id, again[0].attempts), (pending[0].id, 1));

    // A released job also gives way to a pending one.
    enqueue(store, &[ip], at(5)).await;
    record(store, &[outcome(&again[0], at(6), JobResult::Release)]).await;
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0));
}

pub async fn a_retry_waits_for_its_time_and_a_failure_is_final(stores: Stores) {
    let store = stores.a.as_ref();
    let ip = address("203.0.113.5");
    // A result from an earlier lookup, which failures must not replace.
    enqueue(store, &[ip], T0).await;
    let first = claim(store, 10, T0).await;
    record(store, &[answer(&first[0], listed(&[2]), at(1))]).await;

    enqueue(store, &[ip], at(10)).await;
    let job = claim(store, 10, at(10)).await;
    record(store, &[retry(&job[0], at(11), at(100))]).await;
    assert!(claim(store, 10, at(99)).await.is_empty());
    let retried = claim(store, 10, at(100)).await;
    assert_eq!((retried[0].id, retried[0].attempts), (job[0].id, 2));
    let failed = fail(&retried[0], at(101), "DNS server failure (SERVFAIL)");
    record(store, &[failed]).await;
    assert!(claim(store, 10, at(1000)).await.is_empty());

    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.done, counts.failed, counts.pending), (1, 1, 0));
    let stored = store.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(stored.answer, StoredAnswer::Blocklist(listed(&[2])));
    assert_eq!(stored.updated_at, at(1));
    let history = store.history(&ip, 10).await.unwrap();
    let attempts: Vec<_> = history
        .iter()
        .map(|h| (h.looked_up_at, &h.attempt))
        .collect();
    assert_eq!(
        attempts,
        [
            (
                at(101),
                &Attempt::Error("DNS server failure (SERVFAIL)".to_owned())
            ),
            (at(11), &Attempt::Error("DNS timeout".to_owned())),
            (
                at(1),
                &Attempt::Answer(StoredAnswer::Blocklist(listed(&[2])))
            ),
        ]
    );
}

pub async fn queue_counts_count_each_state(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert_eq!(a.queue_counts().await.unwrap(), QueueCounts::default());
    enqueue(a, &addresses(7), T0).await;
    let jobs = claim(a, 4, T0).await;
    record(
        a,
        &[
            answer(&jobs[0], listed(&[2]), at(1)),
            answer(&jobs[1], Outcome::NotListed, at(1)),
            fail(
                &jobs[2],
                at(1),
                "blocklist answered without A records (NODATA)",
            ),
        ],
    )
    .await;
    assert_eq!(
        b.queue_counts().await.unwrap(),
        QueueCounts {
            pending: 3,
            running: 1,
            done: 2,
            failed: 1,
        }
    );
}

/// `queue_counts` reads tallies and partial indexes, not the jobs: after every kind of change
/// (enqueue, claim, answer, retry, failure, a lease running out, a job failed at its claim,
/// a list's pending jobs failed, the retention) both stores agree with the rows counted one by
/// one; the retention takes the oldest done jobs first, and history by its own cutoff.
pub async fn queue_counts_follow_every_change_and_the_retention(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let agree = async |step: &str| {
        let counted = QueueCounts::from_states(stores.raw.job_states().await);
        assert_eq!(a.queue_counts().await.unwrap(), counted, "{step}");
        assert_eq!(b.queue_counts().await.unwrap(), counted, "{step}");
        counted
    };
    agree("empty").await;
    enqueue(a, &addresses(10), T0).await;
    agree("enqueued").await;
    let jobs = claim(b, 6, T0).await;
    agree("claimed").await;
    record(
        a,
        &[
            answer(&jobs[0], listed(&[2]), at(1)),
            answer(&jobs[1], Outcome::NotListed, at(1)),
            retry(&jobs[2], at(1), at(2)),
            fail(&jobs[3], at(1), "DNS server failure (SERVFAIL)"),
        ],
    )
    .await;
    let counts = agree("answered, retried, failed").await;
    assert_eq!(
        counts,
        QueueCounts {
            pending: 5,
            running: 2,
            done: 2,
            failed: 1
        }
    );
    // The two left running: their lease runs out.
    assert_eq!(b.reclaim_expired(at(1_000)).await.unwrap(), 2);
    agree("reclaimed").await;
    stores.raw.insert_job("not an address", at(1_000)).await;
    let claimed = claim(a, 100, at(1_000)).await;
    assert_eq!(claimed.len(), 7, "the unreadable one fails at its claim");
    assert_eq!(agree("failed at the claim").await.failed, 2);
    record(
        b,
        &claimed
            .iter()
            .take(3)
            .map(|job| answer(job, Outcome::NotListed, at(1_001)))
            .collect::<Vec<_>>(),
    )
    .await;
    // The other four back to the queue, then failed with their list.
    assert_eq!(b.reclaim_expired(at(2_000)).await.unwrap(), 4);
    assert_eq!(
        a.fail_pending(ORIGINAL_LIST, "list no longer enabled", at(2_000))
            .await
            .unwrap(),
        4
    );
    let counts = agree("a list's pending jobs failed").await;
    assert_eq!((counts.done, counts.failed, counts.pending), (5, 6, 0));

    // The retention: done before at(500) are the first two; one at a time, oldest first.
    assert_eq!(b.purge_done_jobs(at(500), 1).await.unwrap(), 1);
    assert_eq!(agree("purged one").await.done, 4);
    assert_eq!(a.purge_done_jobs(at(500), 10).await.unwrap(), 1);
    assert_eq!(a.purge_done_jobs(at(500), 10).await.unwrap(), 0);
    let counts = agree("purged the old ones").await;
    assert_eq!((counts.done, counts.failed), (3, 6), "failed jobs are kept");
    // Answers stay when their jobs go.
    assert_eq!(
        b.lookup(&addresses(1)[0]).await.unwrap().unwrap().answer,
        StoredAnswer::Blocklist(listed(&[2]))
    );
    // A failed job goes with the later done job of its pair, which superseded it; the other
    // failed jobs stay.
    let failed_first = addresses(4)[3];
    enqueue(a, &[failed_first], at(2_100)).await;
    let again = claim(a, 10, at(2_100)).await;
    assert_eq!(again.len(), 1);
    record(a, &[answer(&again[0], Outcome::NotListed, at(2_100))]).await;
    assert_eq!(b.purge_done_jobs(at(2_200), 10).await.unwrap(), 4);
    let counts = agree("purged a done job that superseded a failed one").await;
    assert_eq!((counts.done, counts.failed), (0, 5));

    // History: the attempts before at(500) (two answers, a retry's and a failure's errors)
    // go, oldest first; the rest stay.
    let before = stores.raw.history_rows().await;
    assert_eq!(b.purge_history(at(500), 2).await.unwrap(), 2);
    assert_eq!(b.purge_history(at(500), 100).await.unwrap(), 2);
    assert_eq!(b.purge_history(at(500), 100).await.unwrap(), 0);
    assert_eq!(stores.raw.history_rows().await, before - 4);
    assert!(b.history(&addresses(1)[0], 10).await.unwrap().is_empty());
}

/// A job whose stored address is not one (written by something other than secworks) fails at
/// its claim, with a history entry saying why, instead of coming back after every lease, and
/// the good jobs claimed with it go on.
pub async fn a_job_whose_stored_address_cannot_be_read_fails_at_its_claim(stores: Stores) {
    const BAD: &str = "192.0.2.999";
    let store = &stores.a;
    stores.raw.insert_job(BAD, T0).await;
    let good = address("192.0.2.1");
    let now = at(60);
    enqueue(store.as_ref(), &[good], now).await;

    let claimed = claim(store.as_ref(), 10, now).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].target, Target::Ip(good));
    let counts = store.queue_counts().await.expect("counts");
    assert_eq!((counts.failed, counts.running), (1, 1));
    assert_eq!(
        stores.raw.history_errors(BAD).await,
        vec![format!(
            "stored target \"{BAD}\" is neither an IP address nor a domain"
        )]
    );
    assert!(store.history(&good, 10).await.expect("history").is_empty());
}

pub async fn two_stores_look_every_address_up_exactly_once(stores: Stores) {
    const ADDRESSES: u32 = 10_000;
    let (a, b) = (stores.a.clone(), stores.b.clone());
    // Overlapping batches through both stores at once: the overlap joins the pending jobs.
    let all = addresses(ADDRESSES);
    let (first, second) = (&all[..6_000], &all[4_000..]);
    let (x, y) = tokio::join!(
        async {
            for chunk in first.chunks(500) {
                a.enqueue(&zen(chunk), false, T0).await?;
            }
            Ok::<_, crate::StoreError>(())
        },
        async {
            for chunk in second.chunks(500).rev() {
                b.enqueue(&zen(chunk), false, T0).await?;
            }
            Ok::<_, crate::StoreError>(())
        }
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(
        a.queue_counts().await.unwrap().pending,
        i64::from(ADDRESSES)
    );

    // Workers on both stores claim and answer until nothing is left.
    let mut workers = Vec::new();
    for store in [a.clone(), b.clone(), a.clone(), b.clone()] {
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let jobs = claim(store.as_ref(), 97, at(1)).await;
                if jobs.is_empty() {
                    return claimed;
                }
                let outcomes: Vec<_> = jobs
                    .iter()
                    .map(|job| answer(job, listed(&[2]), at(2)))
                    .collect();
                record(store.as_ref(), &outcomes).await;
                claimed.extend(jobs.into_iter().map(|job| job.target));
            }
        }));
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for ip in worker.await.unwrap() {
            assert!(seen.insert(ip.clone()), "{ip} was claimed twice");
        }
    }
    assert_eq!(seen.len(), all.len());
    let counts = b.queue_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.running, counts.done),
        (0, 0, i64::from(ADDRESSES))
    );
    for ip in [&all[0], &all[4_999], &all[9_999]] {
        assert_eq!(a.history(ip, 10).await.unwrap().len(), 1, "history of {ip}");
        assert_eq!(
            b.lookup(ip).await.unwrap().unwrap().answer,
            StoredAnswer::Blocklist(listed(&[2]))
        );
    }
}

pub async fn returning_jobs_to_the_queue_races_enqueue_safely(stores: Stores) {
    let (a, b) = (stores.a.clone(), stores.b.clone());
    let all = addresses(100);
    enqueue(a.as_ref(), &all, T0).await;
    // Store a keeps returning its jobs (retry at once) while store b queues the same addresses
    // again: both make pending jobs of the same addresses at once.
    let writer = tokio::spawn({
        let a = a.clone();
        async move {
            for _ in 0..10 {
                let jobs = claim(a.as_ref(), 100, T0).await;
                let outcomes: Vec<_> = jobs.iter().map(|job| retry(job, T0, T0)).collect();
                record(a.as_ref(), &outcomes).await;
            }
        }
    });
    let mut reversed = all.clone();
    reversed.reverse();
    for _ in 0..10 {
        enqueue(b.as_ref(), &reversed, T0).await;
    }
    writer.await.unwrap();
    let counts = b.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (100, 0));
}
