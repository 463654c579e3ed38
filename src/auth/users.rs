//! User administration, as the `secworks user` and `secworks token` commands offer it.

use std::sync::Arc;
use std::time::Duration;

use super::{IssuedToken, PasswordError, Passwords, ScopeError, Scopes, TokenError, Tokens};
use crate::store::{Accounts, NewServiceToken, ServiceToken, StoreError, UserSummary};
use crate::timestamp;

/// Longest user name accepted, in characters (pysecworks allowed 64).
pub const MAX_USERNAME_CHARS: usize = 64;
/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes; hashing cost must not grow with input.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest and longest lifetime of a service token.
pub const MIN_SERVICE_TOKEN_TTL: Duration = Duration::from_secs(60);
pub const MAX_SERVICE_TOKEN_TTL: Duration = Duration::from_secs(366 * 86_400);
/// Longest service token name accepted, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    #[error(
        "user name {0:?} is not allowed: use 1 to {MAX_USERNAME_CHARS} characters, without `:`, spaces or control characters"
    )]
    BadName(String),
    #[error(
        "the password is not allowed: use at least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes"
    )]
    BadPassword,
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("there is no user {0:?}")]
    NoSuchUser(String),
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error(
        "token name {0:?} is not allowed: use 1 to {MAX_TOKEN_NAME_CHARS} characters, without control characters"
    )]
    BadTokenName(String),
    #[error("token lifetime {0} is not allowed: use 1 minute to 366 days (e.g. 12h, 90d)")]
    BadTtl(String),
    #[error("there is no service token {0}")]
    NoSuchToken(i64),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

pub struct UserAdmin {
    store: Arc<dyn Accounts>,
    passwords: Passwords,
}

/// A service token to issue with `secworks token issue`.
#[derive(Debug, Clone)]
pub struct ServiceTokenRequest<'a> {
    pub username: &'a str,
    /// A label for `token list`.
    pub name: &'a str,
    /// `None`: every scope the user holds.
    pub scopes: Option<Scopes>,
    pub ttl: Duration,
    /// The server's `SECWORKS_TOKEN_KEY`, if it has one; else the key kept in the database.
    pub key: Option<[u8; 32]>,
}

impl UserAdmin {
    pub fn new(store: Arc<dyn Accounts>, passwords: Passwords) -> Self {
        Self { store, passwords }
    }

    pub async fn list(&self) -> Result<Vec<UserSummary>, UserAdminError> {
        Ok(self.store.list_users().await?)
    }

    /// Creates a user who holds `scopes`.
    pub async fn add(
        &self,
        username: &str,
        password: &str,
        scopes: Scopes,
    ) -> Result<(), UserAdminError> {
        check_name(username)?;
        check_password(password)?;
        if scopes.is_empty() {
            return Err(ScopeError::Empty.into());
        }
        let hash = self.passwords.hash(password.to_owned()).await?;
        if !self
            .store
            .add_user(username, &hash, &scopes.to_string(), timestamp::after_now())
            .await?
        {
            return Err(UserAdminError::Exists(username.to_owned()));
        }
        Ok(())
    }

    /// Sets a new password; every token issued before now is refused.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), UserAdminError> {
        check_password(password)?;
        let hash = self.passwords.hash(password.to_owned()).await?;
        if !self
            .store
            .set_password(username, &hash, timestamp::after_now())
            .await?
        {
            return Err(UserAdminError::NoSuchUser(username.to_owned()));
        }
        Ok(())
    }

    /// Removes a user; their tokens are refused from now on.
    pub async fn remove(&self, username: &str) -> Result<(), UserAdminError> {
        if !self.store.remove_user(username).await? {
            return Err(UserAdminError::NoSuchUser(username.to_owned()));
        }
        Ok(())
    }

    /// Replaces the scopes `username` holds; every token issued before now is refused (they
    /// carry the old scopes).
    pub async fn set_scopes(&self, username: &str, scopes: Scopes) -> Result<(), UserAdminError> {
        if scopes.is_empty() {
            return Err(ScopeError::Empty.into());
        }
        if !self
            .store
            .set_scopes(username, &scopes.to_string(), timestamp::after_now())
            .await?
        {
            return Err(UserAdminError::NoSuchUser(username.to_owned()));
        }
        Ok(())
    }

    /// Issues a service token and records it (never the token itself); returns it and its id
    /// in `token list`.
    pub async fn issue_service_token(
        &self,
        request: ServiceTokenRequest<'_>,
    ) -> Result<(IssuedToken, i64), UserAdminError> {
        check_token_name(request.name)?;
        if !(MIN_SERVICE_TOKEN_TTL..=MAX_SERVICE_TOKEN_TTL).contains(&request.ttl) {
            return Err(UserAdminError::BadTtl(
                humantime::format_duration(request.ttl).to_string(),
            ));
        }
        let user = self
            .store
            .user_by_name(request.username)
            .await?
            .ok_or_else(|| UserAdminError::NoSuchUser(request.username.to_owned()))?;
        let held = Scopes::from_stored(&user.scopes);
        let scopes = request.scopes.unwrap_or(held);
        if let Some(scope) = scopes.first_missing(held) {
            return Err(ScopeError::NotHeld {
                user: request.username.to_owned(),
                scope,
                held,
            }
            .into());
        }
        // The server's key: its setting, or the one kept in the database (made now if the
        // server never ran on it), as the server chooses.
        let key = match request.key {
            Some(key) => key,
            None => {
                self.store
                    .token_key_or_insert(Tokens::generate_key()?, timestamp::now())
                    .await?
            }
        };
        let tokens = Tokens::new(&key, request.ttl)?;
        let issued = tokens.issue(request.username, scopes)?;
        let recorded = self
            .store
            .record_service_token(&NewServiceToken {
                jti: issued.jti.clone(),
                username: request.username.to_owned(),
                name: request.name.to_owned(),
                scopes: scopes.to_string(),
                created_at: issued.issued_at,
                expires_at: issued.expires_at,
            })
            .await?;
        // None: the user was removed meanwhile, and the token is dead with them.
        let id = recorded.ok_or_else(|| UserAdminError::NoSuchUser(request.username.to_owned()))?;
        Ok((issued, id))
    }

    /// Every recorded service token.
    pub async fn service_tokens(&self) -> Result<Vec<ServiceToken>, UserAdminError> {
        Ok(self.store.service_tokens().await?)
    }

    /// Revokes the service token `id`; it is refused from now on. Returns it.
    pub async fn revoke_service_token(&self, id: i64) -> Result<ServiceToken, UserAdminError> {
        let token = self
            .store
            .service_token(id)
            .await?
            .ok_or(UserAdminError::NoSuchToken(id))?;
        self.store
            .revoke_token(&token.jti, token.expires_at, timestamp::now())
            .await?;
        Ok(token)
    }

    /// Refuses every token of `username` issued before now.
    pub async fn revoke_all_tokens(&self, username: &str) -> Result<(), UserAdminError> {
        if !self
            .store
            .revoke_all_tokens(username, timestamp::after_now())
            .await?
        {
            return Err(UserAdminError::NoSuchUser(username.to_owned()));
        }
        Ok(())
    }
}

/// A name must fit in HTTP Basic credentials (no `:`) and print unambiguously.
pub fn check_name(username: &str) -> Result<(), UserAdminError> {
    let chars = username.chars().count();
    let printable = username
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && c != ':');
    if (1..=MAX_USERNAME_CHARS).contains(&chars) && printable {
        Ok(())
    } else {
        Err(UserAdminError::BadName(username.to_owned()))
    }
}

fn check_token_name(name: &str) -> Result<(), UserAdminError> {
    let chars = name.chars().count();
    if (1..=MAX_TOKEN_NAME_CHARS).contains(&chars) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(UserAdminError::BadTokenName(name.to_owned()))
    }
}

fn check_password(password: &str) -> Result<(), UserAdminError> {
    if password.chars().count() >= MIN_PASSWORD_CHARS && password.len() <= MAX_PASSWORD_BYTES {
        Ok(())
    } else {
        Err(UserAdminError::BadPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_fit_basic_auth_and_print_plainly() {
        for good in ["secureworks", "ops-team", "zoë", &"a".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a:b", "with space", "tab\t", "nl\n", &"a".repeat(65)] {
            let error = check_name(bad).unwrap_err().to_string();
            assert!(error.contains("not allowed"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling() {
        assert!(check_password("12345678").is_ok());
        assert!(check_password("1234567").is_err());
        assert!(check_password(&"x".repeat(1025)).is_err());
    }
}
