//! Users and their tokens: who may log in, the key tokens are sealed with, and which tokens
//! are refused (revoked one by one, or all of a user's issued before an instant).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;

/// A user who may obtain tokens.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// PHC string of the password hash.
    pub password_hash: String,
    /// The scopes the user holds, space-separated (`read lookup monitor`).
    pub scopes: String,
}

/// A user as administration lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Tokens issued before this instant are refused; `None` if never set.
    pub tokens_not_before: Option<OffsetDateTime>,
    /// The scopes the user holds, space-separated.
    pub scopes: String,
}

/// A service token to record: everything about it but the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceToken {
    pub jti: String,
    pub username: String,
    pub name: String,
    /// Space-separated, as in the token.
    pub scopes: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A recorded service token, as `secworks token list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceToken {
    pub id: i64,
    pub jti: String,
    pub username: String,
    pub name: String,
    pub scopes: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Revoked by its id, or with all of its user's tokens (`revoke-all`, a new password, new
    /// scopes). The revocation of an expired token may have been purged: check `expires_at`.
    pub revoked: bool,
}

/// What the database says about a presented token beyond its seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStanding {
    /// The token itself was revoked.
    pub revoked: bool,
    /// The token's user still exists.
    pub user_exists: bool,
    /// The user's tokens issued before this instant are refused.
    pub not_before: Option<OffsetDateTime>,
}

/// Everything beyond its seal that decides whether a token stands, read at one moment: what
/// a server keeps in memory so that the bearer check needs no read of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standings {
    /// The account change counter ([`Accounts::account_version`]) when this was read: every
    /// change it counts is in the lists below.
    pub version: i64,
    /// Every user, with the instant before which their tokens are refused, if any.
    pub users: Vec<(String, Option<OffsetDateTime>)>,
    /// Every revoked token that had not expired at the read, with when it expires.
    pub revoked: Vec<(String, OffsetDateTime)>,
}

/// Users, the token key, revocations and each user's "not before".
#[async_trait]
pub trait Accounts: Send + Sync {
    async fn has_users(&self) -> Result<bool, StoreError>;

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// Creates `username` only if there are no users at all; returns whether it did.
    async fn create_first_user(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Returns the stored token key, storing `candidate` first if there is none yet.
    async fn token_key_or_insert(
        &self,
        candidate: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<[u8; 32], StoreError>;

    /// Records that the token `jti` is revoked; `expires_at` says when the record may go.
    async fn revoke_token(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Whether the token `jti` of `username` was revoked, alone or with all of its user's.
    async fn token_standing(&self, jti: &str, username: &str) -> Result<TokenStanding, StoreError>;

    /// A counter that moves with every change to what [`Accounts::standings`] reads:
    /// revocations, users added or removed, a user's tokens refused from an instant. The
    /// database moves it in the changing transaction, whoever writes; purging expired
    /// revocations does not move it.
    async fn account_version(&self) -> Result<i64, StoreError>;

    /// Every user's standing and every revocation of a token not expired at `now`, with the
    /// counter read first: a change that commits during the read is in the lists or moves the
    /// counter past `version`, so it is never missed.
    async fn standings(&self, now: OffsetDateTime) -> Result<Standings, StoreError>;

    /// Deletes revocations of tokens that expired before `now`; returns how many.
    async fn purge_expired_revocations(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError>;

    /// Creates a user holding `scopes` (space-separated); false if the name is taken. Tokens
    /// issued to an earlier user of the same name stay dead: the new user's tokens count from
    /// `now`.
    async fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Replaces the scopes a user holds and refuses every token issued before `now` (they
    /// carry the old scopes); false if there is no such user.
    async fn set_scopes(
        &self,
        username: &str,
        scopes: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Replaces a user's password and refuses every token issued before `now`; false if
    /// there is no such user.
    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Replaces the stored hash `old_hash` by `new_hash` (the same password, hashed again
    /// with the current scheme), only if it is still `old_hash`; tokens stay valid.
    async fn rehash_password(
        &self,
        username: &str,
        old_hash: &str,
        new_hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Deletes a user; their tokens die with them. False if there is no such user.
    async fn remove_user(&self, username: &str) -> Result<bool, StoreError>;

    /// Refuses every token of `username` issued before `now`; false if there is no such user.
    async fn revoke_all_tokens(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Records an issued service token and returns its id; `None` (and nothing recorded) if
    /// its user does not exist.
    async fn record_service_token(
        &self,
        token: &NewServiceToken,
    ) -> Result<Option<i64>, StoreError>;

    /// Every recorded service token, by id.
    async fn service_tokens(&self) -> Result<Vec<ServiceToken>, StoreError>;

    /// One recorded service token.
    async fn service_token(&self, id: i64) -> Result<Option<ServiceToken>, StoreError>;
}
