//! Webhooks: create, list and delete; the cursor that starts at the log's end and only moves
//! forward; claims with a lease that keeps a second store out; pending counts with and
//! without a watchlist filter; the failure run and the failing mark.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use super::{Stores, T0, answer, at, claim_list, listed, record};
use crate::{
    ClaimedWebhook, Delivery, NewJob, NewWebhook, Outcome, Queue, Store, Target, WatchEntry,
    WatchlistName, WebhookCreated, WebhookRecord,
};

const LIST: &str = "spamcop";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn target(text: &str) -> Target {
    Target::parse(text).expect("a target")
}

fn name(text: &str) -> WatchlistName {
    text.parse().expect("a watchlist name")
}

/// `LIST` answers `result` about `target` at `now`: an event when the status changes.
async fn answers(store: &dyn Queue, target: &Target, result: Outcome, now: OffsetDateTime) {
    let job = NewJob {
        target: target.clone(),
        blocklist: LIST.to_owned(),
    };
    store.enqueue(&[job], false, now).await.expect("enqueue");
    let jobs = claim_list(store, LIST, 10, now).await;
    assert_eq!(jobs.len(), 1, "claimed {jobs:?}");
    record(store, &[answer(&jobs[0], result, now)]).await;
}

async fn create(
    store: &dyn Store,
    url: &str,
    watchlist: Option<&WatchlistName>,
    now: OffsetDateTime,
) -> WebhookRecord {
    let new = NewWebhook {
        url,
        watchlist,
        secret: SECRET,
    };
    match store.create_webhook(new, now).await.expect("create") {
        WebhookCreated::Created(record) => record,
        WebhookCreated::NoWatchlist => panic!("no watchlist {watchlist:?}"),
    }
}

async fn webhook(store: &dyn Store, id: i64) -> WebhookRecord {
    store
        .webhooks()
        .await
        .expect("list webhooks")
        .into_iter()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("no webhook {id}"))
}

async fn claim(store: &dyn Store, now: OffsetDateTime) -> Vec<ClaimedWebhook> {
    store
        .claim_webhooks(10, now, now + Duration::minutes(1))
        .await
        .expect("claim webhooks")
}

async fn watch(store: &dyn Store, list: &str, texts: &[&str]) {
    let entries: BTreeSet<WatchEntry> = WatchEntry::parse_all(texts).expect("entries");
    store
        .put_watchlist(
            &name(list),
            &entries,
            Duration::hours(1),
            1_000,
            &[LIST],
            T0,
        )
        .await
        .expect("put a watchlist");
}

pub async fn webhooks_are_created_listed_and_deleted(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let first = create(a, "https://hooks.example/one", None, at(1)).await;
    assert_eq!(first.url, "https://hooks.example/one");
    assert_eq!(first.watchlist, None);
    assert_eq!(first.created_at, at(1));
    assert_eq!(
        (first.last_status, first.last_delivery_at, first.failing),
        (None, None, false)
    );
    assert_eq!((first.pending, first.failures), (0, 0));

    let unknown = NewWebhook {
        url: "https://hooks.example/two",
        watchlist: Some(&name("nope")),
        secret: SECRET,
    };
    assert_eq!(
        b.create_webhook(unknown, at(2)).await.unwrap(),
        WebhookCreated::NoWatchlist
    );
    watch(b, "mail", &["192.0.2.1"]).await;
    let second = create(b, "https://hooks.example/two", Some(&name("mail")), at(3)).await;
    assert_eq!(second.watchlist, Some(name("mail")));
    assert!(second.id > first.id);

    let listed = a.webhooks().await.unwrap();
    assert_eq!(listed, [first.clone(), second.clone()]);
    assert!(a.delete_webhook(first.id).await.unwrap());
    assert!(!b.delete_webhook(first.id).await.unwrap());
    assert_eq!(b.webhooks().await.unwrap(), [second]);
}

pub async fn a_new_webhook_starts_at_the_end_of_the_log(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert_eq!(a.last_event_id().await.unwrap(), 0);
    answers(a, &target("192.0.2.1"), listed(&[2]), at(1)).await;
    answers(a, &target("192.0.2.2"), listed(&[2]), at(2)).await;
    let end = b.last_event_id().await.unwrap();
    assert!(end > 0);

    let hook = create(b, "https://hooks.example/", None, at(3)).await;
    assert_eq!((hook.last_event_id, hook.pending), (end, 0));
    // Nothing after its cursor: nothing to claim.
    assert!(claim(a, at(4)).await.is_empty());

    answers(a, &target("192.0.2.1"), Outcome::NotListed, at(5)).await;
    assert_eq!(webhook(b, hook.id).await.pending, 1);
    let claimed = claim(b, at(6)).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].last_event_id, end);
    assert_eq!(claimed[0].secret, SECRET);
    let events = a
        .listing_events(claimed[0].last_event_id, 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target, target("192.0.2.1"));
    assert_eq!(events[0].id, a.last_event_id().await.unwrap());
}

pub async fn a_claimed_webhook_is_leased_to_one_store_at_a_time(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hook = create(a, "https://hooks.example/", None, T0).await;
    answers(a, &target("192.0.2.1"), listed(&[2]), at(1)).await;
    let event = a.last_event_id().await.unwrap();

    let mine = claim(a, at(2)).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, hook.id);
    // The lease keeps the other store out, and a second claim of the same store too.
    assert!(claim(b, at(3)).await.is_empty());
    assert!(claim(a, at(3)).await.is_empty());

    // The lease runs out (a minute): the other store takes the webhook, under a new token.
    let theirs = claim(b, at(2 + 61)).await;
    assert_eq!(theirs.len(), 1);
    assert_ne!(theirs[0].lease_token, mine[0].lease_token);
    let delivered = |lease_until| Delivery::Delivered {
        event_id: event,
        status: 204,
        lease_until,
    };
    // The late outcome of the first claim is dropped; the second claim's counts.
    assert!(
        !a.record_delivery(hook.id, &mine[0].lease_token, &delivered(at(200)), at(64))
            .await
            .unwrap()
    );
    assert_eq!(webhook(a, hook.id).await.last_event_id, event - 1);
    assert!(
        b.record_delivery(hook.id, &theirs[0].lease_token, &delivered(at(200)), at(65))
            .await
            .unwrap()
    );
    let after = webhook(a, hook.id).await;
    assert_eq!(after.last_event_id, event);
    assert_eq!(after.last_status, Some(204));
    assert_eq!(after.last_delivery_at, Some(at(65)));
    assert_eq!(after.pending, 0);

    // Released with an event waiting: due again from `due` on, to either store.
    answers(b, &target("192.0.2.1"), Outcome::NotListed, at(66)).await;
    b.release_webhook(hook.id, &theirs[0].lease_token, at(70))
        .await
        .unwrap();
    assert!(claim(a, at(69)).await.is_empty());
    assert_eq!(claim(a, at(70)).await.len(), 1);
}

pub async fn a_cursor_moves_only_forward(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hook = create(a, "https://hooks.example/", None, T0).await;
    for (n, ip) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
        answers(a, &target(ip), listed(&[2]), at(1 + n as i64)).await;
    }
    let end = a.last_event_id().await.unwrap();
    let claimed = claim(b, at(10)).await;
    let token = &claimed[0].lease_token;
    let delivered = |event_id| Delivery::Delivered {
        event_id,
        status: 200,
        lease_until: at(100),
    };
    assert!(
        b.record_delivery(hook.id, token, &delivered(end - 1), at(11))
            .await
            .unwrap()
    );
    assert_eq!(webhook(a, hook.id).await.pending, 1);
    // An older delivery recorded late does not move it back.
    b.record_delivery(hook.id, token, &delivered(end - 2), at(12))
        .await
        .unwrap();
    assert_eq!(webhook(a, hook.id).await.last_event_id, end - 1);
    b.record_delivery(hook.id, token, &Delivery::Skipped { event_id: end }, at(13))
        .await
        .unwrap();
    let after = webhook(a, hook.id).await;
    assert_eq!((after.last_event_id, after.pending), (end, 0));
    // A skip is no delivery.
    assert_eq!(after.last_delivery_at, Some(at(12)));
    b.release_webhook(hook.id, token, at(13)).await.unwrap();
    assert!(claim(a, at(14)).await.is_empty());
}

pub async fn pending_counts_only_events_that_match_the_filter(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    watch(a, "mail", &["198.51.100.0/30", "watched.example"]).await;
    let every = create(a, "https://hooks.example/all", None, T0).await;
    let mail = create(b, "https://hooks.example/mail", Some(&name("mail")), T0).await;
    let changes = [
        ("198.51.100.1", listed(&[2])),
        ("203.0.113.9", listed(&[2])),
        ("watched.example", listed(&[3])),
        ("198.51.100.1", Outcome::NotListed),
        ("203.0.113.9", listed(&[4])),
    ];
    for (n, (text, result)) in changes.into_iter().enumerate() {
        answers(a, &target(text), result, at(1 + n as i64)).await;
    }
    assert_eq!(webhook(b, every.id).await.pending, 5);
    assert_eq!(webhook(b, mail.id).await.pending, 3);

    // The filter follows the watchlist as it is now.
    watch(b, "mail", &["203.0.113.9"]).await;
    assert_eq!(webhook(a, mail.id).await.pending, 2);
    // A deleted watchlist matches nothing; the webhook and its cursor stay.
    assert!(b.delete_watchlist(&name("mail")).await.unwrap());
    let orphan = webhook(a, mail.id).await;
    assert_eq!(
        (orphan.pending, orphan.last_event_id),
        (0, mail.last_event_id)
    );
    assert_eq!(webhook(a, every.id).await.pending, 5);
}

pub async fn failures_make_a_webhook_failing_until_a_success(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let hook = create(a, "https://hooks.example/", None, T0).await;
    answers(a, &target("192.0.2.1"), listed(&[2]), at(1)).await;
    let event = a.last_event_id().await.unwrap();
    let failed = |status, retry_at, failing| Delivery::Failed {
        status,
        retry_at,
        failing,
    };

    let first = claim(a, at(10)).await.remove(0);
    assert_eq!((first.failures, first.first_failure_at), (0, None));
    assert!(
        a.record_delivery(
            hook.id,
            &first.lease_token,
            &failed(Some(500), at(11), false),
            at(10)
        )
        .await
        .unwrap()
    );
    let after = webhook(b, hook.id).await;
    assert_eq!(after.last_status, Some(500));
    assert_eq!((after.failures, after.first_failure_at), (1, Some(at(10))));
    assert!(!after.failing);
    assert_eq!((after.last_event_id, after.pending), (event - 1, 1));

    // The lease is let go, and the webhook waits for its retry time.
    assert!(claim(b, at(10)).await.is_empty());
    let second = claim(b, at(11)).await.remove(0);
    assert_eq!(
        (second.failures, second.first_failure_at),
        (1, Some(at(10)))
    );
    // A connection error (no status) keeps the last status; the run keeps its start.
    b.record_delivery(
        hook.id,
        &second.lease_token,
        &failed(None, at(20), true),
        at(15),
    )
    .await
    .unwrap();
    let after = webhook(a, hook.id).await;
    assert_eq!(after.last_status, Some(500));
    assert_eq!((after.failures, after.first_failure_at), (2, Some(at(10))));
    assert!(after.failing);

    // Still failing while it fails, even if an attempt does not say so.
    let third = claim(a, at(20)).await.remove(0);
    a.record_delivery(
        hook.id,
        &third.lease_token,
        &failed(Some(503), at(30), false),
        at(20),
    )
    .await
    .unwrap();
    assert!(webhook(b, hook.id).await.failing);

    // A success clears the run and the mark.
    let fourth = claim(b, at(30)).await.remove(0);
    let delivered = Delivery::Delivered {
        event_id: event,
        status: 200,
        lease_until: at(90),
    };
    b.record_delivery(hook.id, &fourth.lease_token, &delivered, at(31))
        .await
        .unwrap();
    let after = webhook(a, hook.id).await;
    assert_eq!(after.last_status, Some(200));
    assert_eq!((after.failures, after.first_failure_at), (0, None));
    assert!(!after.failing);
    assert_eq!((after.last_event_id, after.pending), (event, 0));
}
