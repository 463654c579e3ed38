//! Results, history and import, and how instants come back.

use time::macros::datetime;

use super::{Stores, T0, address, answer, at, claim, enqueue, listed, record, retry};
use crate::{Attempt, ImportCounts, ImportedUser, LookupRecord, Outcome, StoredAnswer, Target};

pub async fn an_address_never_looked_up_has_no_result_and_no_history(stores: Stores) {
    let ip = address("2001:db8::42");
    assert_eq!(stores.a.lookup(&ip).await.unwrap(), None);
    assert!(stores.a.history(&ip, 10).await.unwrap().is_empty());
    // Queued is not looked up.
    enqueue(&*stores.b, &[ip], T0).await;
    assert_eq!(stores.a.lookup(&ip).await.unwrap(), None);
}

pub async fn history_is_newest_first_and_limited(stores: Stores) {
    let store = stores.a.as_ref();
    let ip = address("192.0.2.77");
    let other = address("192.0.2.78");
    for (i, code) in [2u8, 4, 10].into_iter().enumerate() {
        let i = i64::try_from(i).unwrap() * 10;
        enqueue(store, &[ip, other], at(i)).await;
        let jobs = claim(store, 10, at(i)).await;
        let outcomes: Vec<_> = jobs
            .iter()
            .map(|job| {
                if job.target == Target::Ip(ip) {
                    answer(job, listed(&[code]), at(i + 1))
                } else {
                    retry(job, at(i + 1), at(i + 5))
                }
            })
            .collect();
        record(store, &outcomes).await;
    }
    let history = stores.b.history(&ip, 2).await.unwrap();
    let got: Vec<_> = history
        .iter()
        .map(|h| (h.looked_up_at, &h.attempt))
        .collect();
    assert_eq!(
        got,
        [
            (
                at(21),
                &Attempt::Answer(StoredAnswer::Blocklist(listed(&[10])))
            ),
            (
                at(11),
                &Attempt::Answer(StoredAnswer::Blocklist(listed(&[4])))
            ),
        ]
    );
    assert_eq!(stores.b.history(&ip, 100).await.unwrap().len(), 3);
    assert!(stores.b.history(&ip, 0).await.unwrap().is_empty());
    let errors = stores.b.history(&other, 100).await.unwrap();
    assert!(
        errors
            .iter()
            .all(|h| h.attempt == Attempt::Error("DNS timeout".to_owned()))
    );
    assert!(!errors.is_empty());
}

pub async fn import_adds_only_what_is_new(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(
        a.add_user("taken", "ours", "read lookup monitor", T0)
            .await
            .unwrap()
    );
    let users = [
        ImportedUser {
            username: "taken".to_owned(),
            password_hash: "theirs".to_owned(),
        },
        ImportedUser {
            username: "imported".to_owned(),
            password_hash: "pbkdf2:sha256:600000$salt$hash".to_owned(),
        },
    ];
    let record_at = |ip: &str, answer: StoredAnswer, uuid: &str| LookupRecord {
        uuid: uuid.to_owned(),
        address: address(ip),
        answer,
        created_at: datetime!(2022-02-08 06:10:00.591595 UTC),
        updated_at: datetime!(2022-02-09 06:10:00 UTC),
    };
    let lookups = [
        record_at(
            "203.0.113.9",
            StoredAnswer::Blocklist(listed(&[2, 10])),
            "8e7e8fb1-4b1b-4519-8203-23004ceffc93",
        ),
        record_at(
            "203.0.113.10",
            StoredAnswer::Blocklist(Outcome::NotListed),
            "9f7e8fb1-4b1b-4519-8203-23004ceffc94",
        ),
        // Text that is not an answer secworks writes is kept as it is.
        record_at(
            "2001:db8::9",
            StoredAnswer::Other("Timeout".to_owned()),
            "af7e8fb1-4b1b-4519-8203-23004ceffc95",
        ),
    ];
    // An address that already has a result keeps it.
    enqueue(a, &[lookups[1].address], T0).await;
    let job = claim(a, 10, T0).await;
    record(a, &[answer(&job[0], listed(&[4]), at(1))]).await;
    let ours = a.lookup(&lookups[1].address).await.unwrap();

    let now = at(100);
    let counts = a.import(&users, &lookups, now).await.unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            users: 1,
            lookups: 2
        }
    );
    let again = b.import(&users, &lookups, at(200)).await.unwrap();
    assert_eq!(again, ImportCounts::default());

    assert_eq!(
        b.lookup(&lookups[0].address).await.unwrap().as_ref(),
        Some(&lookups[0])
    );
    assert_eq!(
        b.lookup(&lookups[2].address).await.unwrap().as_ref(),
        Some(&lookups[2])
    );
    assert_eq!(b.lookup(&lookups[1].address).await.unwrap(), ours);
    let history = b.history(&lookups[2].address, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].looked_up_at, &history[0].attempt),
        (
            lookups[2].updated_at,
            &Attempt::Answer(StoredAnswer::Other("Timeout".to_owned()))
        )
    );
    assert_eq!(b.history(&lookups[1].address, 10).await.unwrap().len(), 1);

    assert_eq!(
        b.user_by_name("taken")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "ours"
    );
    let imported = b.list_users().await.unwrap().remove(0);
    assert_eq!(
        (
            imported.username.as_str(),
            imported.created_at,
            imported.tokens_not_before
        ),
        ("imported", now, Some(now))
    );
}

pub async fn timestamps_come_back_as_they_went_in(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    // Microseconds come back exactly, the last of a day and of a year too; finer fractions
    // are cut off; any offset comes back as the same instant in UTC.
    let created = datetime!(2022-02-08 07:10:00.591595999 +01:00);
    let updated = datetime!(2023-12-31 23:59:59.999999 UTC);
    let record = LookupRecord {
        uuid: "8e7e8fb1-4b1b-4519-8203-23004ceffc93".to_owned(),
        address: address("203.0.113.9"),
        answer: StoredAnswer::Blocklist(listed(&[2])),
        created_at: created,
        updated_at: updated,
    };
    a.import(&[], std::slice::from_ref(&record), T0)
        .await
        .unwrap();
    let stored = b.lookup(&record.address).await.unwrap().unwrap();
    assert_eq!(stored.created_at, datetime!(2022-02-08 06:10:00.591595 UTC));
    assert_eq!(stored.created_at.offset(), time::UtcOffset::UTC);
    assert_eq!(
        crate::timestamp::format(stored.created_at),
        "2022-02-08T06:10:00.591595Z"
    );
    assert_eq!(stored.updated_at, updated);
    assert_eq!(
        b.history(&record.address, 5).await.unwrap()[0].looked_up_at,
        updated
    );

    let now = datetime!(2024-06-01 12:00:00.000001 UTC);
    assert!(
        a.add_user("alice", "hash", "read lookup monitor", now)
            .await
            .unwrap()
    );
    let not_before = datetime!(2024-06-01 12:00:01.000002 UTC);
    assert!(a.revoke_all_tokens("alice", not_before).await.unwrap());
    let user = b.list_users().await.unwrap().remove(0);
    assert_eq!((user.created_at, user.updated_at), (now, not_before));
    assert_eq!(user.tokens_not_before, Some(not_before));
    assert_eq!(
        b.token_standing("jti", "alice").await.unwrap().not_before,
        Some(not_before)
    );
}
