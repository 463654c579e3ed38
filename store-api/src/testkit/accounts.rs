//! Users and tokens: administration, the first user, the token key, revocations.

use std::collections::HashSet;

use time::Duration;

use super::{Stores, T0, at};

pub async fn users_are_added_changed_rehashed_and_removed(stores: Stores) {
    let (a, b) = (stores.a.as_ref(), stores.b.as_ref());
    assert!(!a.has_users().await.unwrap());
    assert!(a.add_user("alice", "hash-1", at(1)).await.unwrap());
    assert!(!b.add_user("alice", "other", at(2)).await.unwrap());
    assert!(b.add_user("bob", "hash-b", at(2)).await.unwrap());
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
    assert!(a.add_user("alice", "hash", T0).await.unwrap());
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
