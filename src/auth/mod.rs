//! Who may call secworks: passwords, bearer tokens and their revocation.

mod handlers;
mod password;
mod token;

use std::sync::Arc;

pub use handlers::{
    ErrorBody, TokenApi, allowed_methods, api_service, basic_challenge, bearer_missing,
    bearer_refusal, internal_error,
};
pub use password::{PasswordError, Passwords};
pub use token::{IssuedToken, TokenError, Tokens, VerifiedToken};

use crate::store::{Store, StoreError};
use crate::timestamp;

/// The user name and password of the compatibility user created on an empty database.
pub const DEFAULT_USERNAME: &str = "secureworks";
pub const DEFAULT_PASSWORD: &str = "supersecret";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("bad credentials")]
    BadCredentials,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// The caller a valid bearer token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub username: String,
    pub token: VerifiedToken,
}

pub struct Auth {
    store: Arc<dyn Store>,
    passwords: Passwords,
    tokens: Tokens,
}

impl Auth {
    pub fn new(store: Arc<dyn Store>, passwords: Passwords, tokens: Tokens) -> Self {
        Self {
            store,
            passwords,
            tokens,
        }
    }

    /// Exchanges a user name and password for a token.
    pub async fn login(&self, username: &str, password: &str) -> Result<IssuedToken, AuthError> {
        let user = self.store.user_by_name(username).await?;
        let stored = user.map(|u| u.password_hash);
        if !self.passwords.verify(password.to_owned(), stored).await? {
            return Err(AuthError::BadCredentials);
        }
        Ok(self.tokens.issue(username)?)
    }

    /// Verifies a bearer token: its seal, its claims, and that it was not revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let token = self.tokens.verify(token)?;
        if self.store.is_token_revoked(&token.jti).await? {
            return Err(TokenError::Revoked.into());
        }
        Ok(Principal {
            username: token.subject.clone(),
            token,
        })
    }

    /// Revokes the token `principal` presented; it is refused from now on.
    pub async fn revoke(&self, principal: &Principal) -> Result<(), AuthError> {
        let expires_at = timestamp::format(principal.token.expires_at);
        self.store
            .revoke_token(&principal.token.jti, &expires_at)
            .await?;
        Ok(())
    }

    /// Deletes revocation records of tokens that have expired anyway.
    pub async fn purge_expired_revocations(&self) -> Result<u64, AuthError> {
        Ok(self
            .store
            .purge_expired_revocations(&timestamp::now())
            .await?)
    }
}

/// Creates the compatibility user when there are no users at all; returns whether it did.
pub async fn ensure_first_user(
    store: &dyn Store,
    passwords: &Passwords,
    password: Option<&str>,
) -> Result<bool, AuthError> {
    if store.has_users().await? {
        return Ok(false);
    }
    let hash = passwords
        .hash(password.unwrap_or(DEFAULT_PASSWORD).to_owned())
        .await?;
    Ok(store.create_first_user(DEFAULT_USERNAME, &hash).await?)
}
