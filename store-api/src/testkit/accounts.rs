//! Users and tokens: administration, the first user, the token key, revocations.

use std::collections::HashSet;

use time::Duration;

use super::{Stores, T0, at};
use crate::NewServiceToken;

pub async fn users_are_added_changed_rehashed_and_removed(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(!a.has_users().await.unwrap());
    assert!(
        a.add_user("alice", "hash-1", "read lookup monitor", at(1))
            .await
            .unwrap()
    );
    assert!(!b.add_user("alice", "other", "read", at(2)).await.unwrap());
    assert!(b.add_user("bob", "hash-b", "read", at(2)).await.unwrap());
    assert!(b.has_users().await.unwrap());

    let alice = b.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.username.as_str(), alice.password_hash.as_str()),
        ("alice", "hash-1")
    );
    assert!(b.user_by_name("Alice").await.unwrap().is_none());
    let users = b.list_users().await.unwrap();
    let names: Vec<_> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    // A new user's tokens count from its creation: an earlier user of the name stays dead.
    assert_eq!(
        (
            users[0].created_at,
            users[0].updated_at,
            users[0].tokens_not_before
        ),
        (at(1), at(1), Some(at(1)))
    );

    // A new password refuses every token issued before it.
    assert!(a.set_password("alice", "hash-2", at(10)).await.unwrap());
    assert!(!a.set_password("carol", "hash", at(10)).await.unwrap());
    let alice = b.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(alice.password_hash, "hash-2");
    let standing = b.token_standing("jti", "alice").await.unwrap();
    assert_eq!(standing.not_before, Some(at(10)));

    // Rehashing replaces only the hash it was given, and keeps tokens valid.
    assert!(
        !a.rehash_password("alice", "hash-1", "hash-3", at(20))
            .await
            .unwrap()
    );
    assert!(
        a.rehash_password("alice", "hash-2", "hash-3", at(20))
            .await
            .unwrap()
    );
    let summary = b.list_users().await.unwrap().remove(0);
    assert_eq!(
        (
            summary.created_at,
            summary.updated_at,
            summary.tokens_not_before
        ),
        (at(1), at(20), Some(at(10)))
    );
    assert_eq!(
        b.user_by_name("alice")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "hash-3"
    );

    // A removed user's tokens die with it.
    assert!(b.remove_user("alice").await.unwrap());
    assert!(!a.remove_user("alice").await.unwrap());
    assert!(a.user_by_name("alice").await.unwrap().is_none());
    assert!(!a.token_standing("jti", "alice").await.unwrap().user_exists);
    assert!(a.remove_user("bob").await.unwrap());
    assert!(!a.has_users().await.unwrap());
}

pub async fn the_first_user_is_created_only_on_an_empty_database(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(a.create_first_user("admin", "hash", T0).await.unwrap());
    assert!(!b.create_first_user("admin", "hash", at(1)).await.unwrap());
    assert!(!b.create_first_user("other", "hash", at(1)).await.unwrap());
    let users = b.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    // The first user's tokens were never all revoked.
    assert_eq!(
        (
            users[0].username.as_str(),
            users[0].created_at,
            users[0].tokens_not_before
        ),
        ("admin", T0, None)
    );
}

pub async fn stores_starting_together_agree_on_the_first_user_and_token_key(stores: Stores) {
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = if i % 2 == 0 {
            stores.a.clone()
        } else {
            stores.b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let created = store
                .create_first_user(&format!("admin{i}"), "hash", T0)
                .await
                .unwrap();
            let key = store.token_key_or_insert([i; 32], T0).await.unwrap();
            (created, key)
        }));
    }
    let mut created = 0;
    let mut keys = HashSet::new();
    for task in tasks {
        let (made, key) = task.await.unwrap();
        created += usize::from(made);
        keys.insert(key);
    }
    assert_eq!(created, 1);
    assert_eq!(keys.len(), 1);
    assert_eq!(stores.a.list_users().await.unwrap().len(), 1);
    assert!(
        !stores
            .b
            .create_first_user("late", "hash", T0)
            .await
            .unwrap()
    );
    // The key is kept once stored.
    let key = keys.into_iter().next().unwrap();
    assert_eq!(
        stores.b.token_key_or_insert([99; 32], at(1)).await.unwrap(),
        key
    );
}

pub async fn revocations_and_not_before_are_seen_by_every_store(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(
        a.add_user("alice", "hash", "read lookup monitor", T0)
            .await
            .unwrap()
    );
    let fresh = b.token_standing("jti-1", "alice").await.unwrap();
    assert!(!fresh.revoked && fresh.user_exists);
    assert_eq!(fresh.not_before, Some(T0));

    // One token, revoked through one store, refused by the other; revoking again changes
    // nothing.
    let expires = at(3600);
    a.revoke_token("jti-1", expires, at(1)).await.unwrap();
    b.revoke_token("jti-1", expires, at(2)).await.unwrap();
    assert!(b.token_standing("jti-1", "alice").await.unwrap().revoked);
    assert!(!b.token_standing("jti-2", "alice").await.unwrap().revoked);
    let nobody = b.token_standing("jti-2", "nobody").await.unwrap();
    assert!(!nobody.user_exists && nobody.not_before.is_none());

    // All of a user's tokens issued before an instant.
    let not_before = at(5) + Duration::MICROSECOND;
    assert!(a.revoke_all_tokens("alice", not_before).await.unwrap());
    assert!(!a.revoke_all_tokens("nobody", not_before).await.unwrap());
    let standing = b.token_standing("jti-2", "alice").await.unwrap();
    assert_eq!(standing.not_before, Some(not_before));
    assert!(!standing.revoked);

    // Purging drops only revocations of tokens that expired before the instant given.
    a.revoke_token("jti-3", at(7200), at(3)).await.unwrap();
    assert_eq!(b.purge_expired_revocations(expires).await.unwrap(), 0);
    assert_eq!(
        b.purge_expired_revocations(expires + Duration::MICROSECOND)
            .await
            .unwrap(),
        1
    );
    assert!(!a.token_standing("jti-1", "alice").await.unwrap().revoked);
    assert!(a.token_standing("jti-3", "alice").await.unwrap().revoked);
}

/// What every server keeps in memory for the bearer check: the counter moves with each change
/// that can turn a token down, whichever store makes it, and only then; the standings read
/// through the other store hold the change.
pub async fn standings_and_their_counter_follow_every_change_that_decides_a_token(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    let empty = b.standings(T0).await.unwrap();
    assert!(empty.users.is_empty() && empty.revoked.is_empty());
    assert_eq!(empty.version, b.account_version().await.unwrap());

    // Moves the counter through `a`, and returns what `b` reads then.
    let mut version = empty.version;
    let mut moved = async |now: time::OffsetDateTime| {
        let seen = b.account_version().await.unwrap();
        assert!(seen > version, "the counter did not move from {version}");
        version = seen;
        let standings = b.standings(now).await.unwrap();
        assert_eq!(standings.version, seen);
        standings
    };

    assert!(a.add_user("alice", "hash", "read", at(1)).await.unwrap());
    assert!(a.add_user("bob", "hash", "read", at(1)).await.unwrap());
    let mut users = moved(at(1)).await.users;
    users.sort();
    assert_eq!(
        users,
        [("alice".into(), Some(at(1))), ("bob".into(), Some(at(1)))]
    );

    // Revocations: only those of tokens not yet expired at the read are kept.
    a.revoke_token("short", at(5), at(2)).await.unwrap();
    a.revoke_token("long", at(3600), at(2)).await.unwrap();
    let mut revoked = moved(at(2)).await.revoked;
    revoked.sort();
    assert_eq!(
        revoked,
        [("long".into(), at(3600)), ("short".into(), at(5))]
    );
    assert_eq!(
        b.standings(at(6)).await.unwrap().revoked,
        [("long".into(), at(3600))]
    );

    // Each way of refusing a user's older tokens.
    assert!(a.set_password("alice", "hash-2", at(10)).await.unwrap());
    assert!(
        moved(at(10))
            .await
            .users
            .contains(&("alice".into(), Some(at(10))))
    );
    assert!(a.set_scopes("alice", "read lookup", at(11)).await.unwrap());
    assert!(
        moved(at(11))
            .await
            .users
            .contains(&("alice".into(), Some(at(11))))
    );
    assert!(a.revoke_all_tokens("bob", at(12)).await.unwrap());
    assert!(
        moved(at(12))
            .await
            .users
            .contains(&("bob".into(), Some(at(12))))
    );
    assert!(a.remove_user("bob").await.unwrap());
    assert_eq!(moved(at(13)).await.users, [("alice".into(), Some(at(11)))]);

    // What cannot turn a token down leaves the counter alone.
    let rehashed = a
        .user_by_name("alice")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(
        a.rehash_password("alice", &rehashed, "hash-3", at(14))
            .await
            .unwrap()
    );
    assert!(!a.set_password("nobody", "hash", at(14)).await.unwrap());
    assert_eq!(b.purge_expired_revocations(at(3599)).await.unwrap(), 1);
    assert_eq!(b.account_version().await.unwrap(), version);
}

pub async fn users_hold_scopes_the_first_user_all_but_admin(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(a.create_first_user("first", "hash", T0).await.unwrap());
    assert!(a.add_user("reader", "hash", "read", at(1)).await.unwrap());
    let scopes =
        |name: &'static str| async move { b.user_by_name(name).await.unwrap().unwrap().scopes };
    // The first user (like every user from before scopes existed) holds all but `admin`.
    assert_eq!(scopes("first").await, "read lookup monitor");
    assert_eq!(scopes("reader").await, "read");
    let listed: Vec<_> = b
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.username, u.scopes))
        .collect();
    assert_eq!(
        listed,
        [
            ("first".to_owned(), "read lookup monitor".to_owned()),
            ("reader".to_owned(), "read".to_owned())
        ]
    );

    // New scopes refuse the tokens issued before them, which carry the old ones.
    assert!(a.set_scopes("reader", "read lookup", at(5)).await.unwrap());
    assert!(!a.set_scopes("nobody", "read", at(5)).await.unwrap());
    assert_eq!(scopes("reader").await, "read lookup");
    let standing = b.token_standing("jti", "reader").await.unwrap();
    assert_eq!(standing.not_before, Some(at(5)));
}

pub async fn service_tokens_are_recorded_listed_and_revoked(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(a.add_user("ci", "hash", "read lookup", T0).await.unwrap());
    let token = |jti: &str, user: &str, name: &str| NewServiceToken {
        jti: jti.to_owned(),
        username: user.to_owned(),
        name: name.to_owned(),
        scopes: "read".to_owned(),
        created_at: at(10),
        expires_at: at(10) + Duration::days(90),
    };
    let first_id = a
        .record_service_token(&token("jti-1", "ci", "nightly"))
        .await
        .unwrap()
        .expect("recorded");
    assert!(
        a.record_service_token(&token("jti-2", "nobody", "x"))
            .await
            .unwrap()
            .is_none()
    );
    let second_id = b
        .record_service_token(&token("jti-3", "ci", "deploy"))
        .await
        .unwrap()
        .expect("recorded");
    let listed = b.service_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    let first = &listed[0];
    assert_eq!(
        (
            first.jti.as_str(),
            first.username.as_str(),
            first.name.as_str(),
            first.scopes.as_str(),
            first.created_at,
            first.expires_at,
            first.revoked
        ),
        (
            "jti-1",
            "ci",
            "nightly",
            "read",
            at(10),
            at(10) + Duration::days(90),
            false
        )
    );
    assert_eq!((listed[0].id, listed[1].id), (first_id, second_id));
    assert_eq!(
        a.service_token(first.id).await.unwrap().as_ref(),
        Some(first)
    );
    assert!(a.service_token(first.id + 1000).await.unwrap().is_none());

    // Revoked by its jti: shown as revoked, the other one not.
    a.revoke_token("jti-1", first.expires_at, at(20))
        .await
        .unwrap();
    let revoked: Vec<_> = b
        .service_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.revoked))
        .collect();
    assert_eq!(
        revoked,
        [("nightly".to_owned(), true), ("deploy".to_owned(), false)]
    );

    // Revoking all of the user's tokens revokes those issued before.
    assert!(a.revoke_all_tokens("ci", at(30)).await.unwrap());
    assert!(b.service_tokens().await.unwrap().iter().all(|t| t.revoked));

    // They go with their user.
    assert!(a.remove_user("ci").await.unwrap());
    assert!(b.service_tokens().await.unwrap().is_empty());
}
