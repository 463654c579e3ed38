//! What decides, beyond its seal, whether a bearer token stands (revocations, which users
//! exist, each user's "not before"), kept in memory so that the bearer check reads nothing
//! from the store on the hot path.
//!
//! The copy follows the database through a change counter the database moves itself (a
//! trigger in every changing transaction, see `Accounts::account_version`): it is read every
//! [`SYNC_INTERVAL`], and the copy reloaded when it moved. A copy not confirmed current for
//! [`MAX_STALENESS`] (the store could not be read) is not trusted: the check reads the store
//! as it did before, so a change made by another process counts everywhere within
//! [`MAX_STALENESS`], whatever happens. A user the copy does not know (created elsewhere
//! since the last reload, or removed) is also asked of the store. A token revoked through
//! this process is refused here from the moment its revocation committed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::token::VerifiedToken;
use crate::store::{Accounts, StoreError, TokenStanding};

/// How often the change counter is read.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// How long a confirmed copy is trusted: the bound on how late a change made by another
/// process (a replica, `secworks token revoke`, `secworks user remove`) takes effect here.
pub const MAX_STALENESS: Duration = Duration::from_secs(1);

/// The kept copy, and when it was last known current.
pub struct KeptStandings {
    view: RwLock<Arc<View>>,
    /// Tokens revoked through this process, by jti, with when they expire: refused at once,
    /// before any reload. Each leaves when a reloaded copy holds it or its token expired.
    revoked_here: Mutex<HashMap<String, OffsetDateTime>>,
    /// When the copy was last confirmed current, in milliseconds since `epoch`, plus one;
    /// zero while it was never loaded.
    confirmed: AtomicU64,
    epoch: Instant,
}

#[derive(Default)]
struct View {
    version: i64,
    users: HashMap<String, Option<OffsetDateTime>>,
    revoked: HashMap<String, OffsetDateTime>,
}

impl KeptStandings {
    /// An empty copy, not trusted until [`KeptStandings::sync`] first succeeds.
    pub fn new(epoch: Instant) -> Self {
        Self {
            view: RwLock::default(),
            revoked_here: Mutex::default(),
            confirmed: AtomicU64::new(0),
            epoch,
        }
    }

    /// The standing of `token` by the copy, or `None` when the store must be asked: the copy
    /// is older than [`MAX_STALENESS`] at `now`, or does not know the token's user.
    pub fn standing(&self, token: &VerifiedToken, now: Instant) -> Option<TokenStanding> {
        let confirmed = self.confirmed.load(Ordering::Acquire).checked_sub(1)?;
        if self.millis(now).saturating_sub(confirmed) > MAX_STALENESS.as_millis() as u64 {
            return None;
        }
        // Both under the view's lock: a reload takes over this process's revocations while it
        // holds the lock for writing, so a revocation is always in one or the other.
        let view = self.view.read().unwrap_or_else(PoisonError::into_inner);
        let not_before = *view.users.get(&token.subject)?;
        let revoked = view.revoked.contains_key(&token.jti) || self.here().contains_key(&token.jti);
        Some(TokenStanding {
            revoked,
            user_exists: true,
            not_before,
        })
    }

    /// Records a revocation that just committed through this process: refused from now on.
    pub fn revoked_here(&self, jti: &str, expires_at: OffsetDateTime) {
        self.here().insert(jti.to_owned(), expires_at);
    }

    /// Reads the change counter and, if it differs from the copy's (moved on, or back: a
    /// database restored under a running server), the standings (revocations of tokens not
    /// yet expired at `wall`); marks the copy current as of `now`, the instant before the
    /// counter was read. One task calls it (and the start, before serving).
    pub async fn sync(
        &self,
        store: &dyn Accounts,
        now: Instant,
        wall: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let loaded = self.read().version;
        let never = self.confirmed.load(Ordering::Acquire) == 0;
        if never || store.account_version().await? != loaded {
            let standings = store.standings(wall).await?;
            let view = View {
                version: standings.version,
                users: standings.users.into_iter().collect(),
                revoked: standings.revoked.into_iter().collect(),
            };
            let mut kept = self.view.write().unwrap_or_else(PoisonError::into_inner);
            // Under the write lock: a check sees the old copy with this process's revocations,
            // or the new one holding them.
            self.here()
                .retain(|jti, expires| !view.revoked.contains_key(jti) && *expires >= wall);
            *kept = Arc::new(view);
        }
        self.confirmed
            .fetch_max(self.millis(now).saturating_add(1), Ordering::AcqRel);
        Ok(())
    }

    /// Revocations kept (for the memory bound: each goes at the first reload after its token
    /// expired; reloads come with account changes).
    pub fn revocations(&self) -> usize {
        self.read().revoked.len() + self.here().len()
    }

    fn read(&self) -> Arc<View> {
        self.view
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn here(&self) -> std::sync::MutexGuard<'_, HashMap<String, OffsetDateTime>> {
        self.revoked_here
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scopes;
    use crate::store;
    use time::macros::datetime;

    const WALL: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    fn token(subject: &str, jti: &str) -> VerifiedToken {
        VerifiedToken {
            subject: subject.into(),
            jti: jti.into(),
            issued_at: WALL,
            expires_at: WALL + time::Duration::HOUR,
            scopes: Scopes::DEFAULT,
        }
    }

    async fn store_with_alice() -> (tempfile::TempDir, Arc<dyn store::Store>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("standings.db").display());
        let store = store::connect(&url).await.unwrap();
        assert!(store.add_user("alice", "hash", "read", WALL).await.unwrap());
        (dir, store)
    }

    #[tokio::test]
    async fn a_copy_is_trusted_only_while_recently_confirmed() {
        let (_dir, store) = store_with_alice().await;
        let t0 = Instant::now();
        let kept = KeptStandings::new(t0);
        let alice = token("alice", "j1");
        assert_eq!(kept.standing(&alice, t0), None, "never loaded");

        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        let standing = kept.standing(&alice, t0 + MAX_STALENESS).unwrap();
        assert!(!standing.revoked && standing.user_exists);
        assert_eq!(standing.not_before, Some(WALL));
        // Past the bound the store is asked, and a user the copy lacks is asked of it too.
        let late = t0 + MAX_STALENESS + Duration::from_millis(1);
        assert_eq!(kept.standing(&alice, late), None);
        assert_eq!(kept.standing(&token("bob", "j2"), t0), None);

        kept.sync(store.as_ref(), late, WALL).await.unwrap();
        assert!(kept.standing(&alice, late).is_some());
    }

    #[tokio::test]
    async fn a_change_anywhere_is_in_the_copy_after_the_next_sync() {
        let (_dir, store) = store_with_alice().await;
        let t0 = Instant::now();
        let kept = KeptStandings::new(t0);
        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        let alice = token("alice", "j1");

        store
            .revoke_token("j1", WALL + time::Duration::HOUR, WALL)
            .await
            .unwrap();
        // Not yet synced: the copy still says what it knew (within the bound).
        assert!(!kept.standing(&alice, t0).unwrap().revoked);
        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        assert!(kept.standing(&alice, t0).unwrap().revoked);
        assert_eq!(kept.revocations(), 1);

        store
            .revoke_all_tokens("alice", WALL + time::Duration::MINUTE)
            .await
            .unwrap();
        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        let standing = kept.standing(&token("alice", "j2"), t0).unwrap();
        assert_eq!(standing.not_before, Some(WALL + time::Duration::MINUTE));

        assert!(store.remove_user("alice").await.unwrap());
        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        assert_eq!(kept.standing(&alice, t0), None, "asked of the store");

        // A revocation made here counts at once; a reload that holds it takes it over.
        kept.revoked_here("j3", WALL + time::Duration::HOUR);
        let carol = token("carol", "j3");
        assert!(store.add_user("carol", "hash", "read", WALL).await.unwrap());
        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        assert!(kept.standing(&carol, t0).unwrap().revoked);
        store
            .revoke_token("j3", WALL + time::Duration::HOUR, WALL)
            .await
            .unwrap();
        kept.sync(store.as_ref(), t0, WALL).await.unwrap();
        assert!(kept.standing(&carol, t0).unwrap().revoked);
        assert_eq!(kept.revocations(), 2);

        // A revocation leaves the copy at the first reload after its token expired.
        let later = WALL + time::Duration::HOUR + time::Duration::SECOND;
        assert!(store.add_user("dave", "hash", "read", later).await.unwrap());
        kept.sync(store.as_ref(), t0, later).await.unwrap();
        assert_eq!(kept.revocations(), 0);
    }
}
