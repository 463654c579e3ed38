//! User administration, as the `secworks user` and `secworks token` commands offer it.

use std::sync::Arc;

use super::{PasswordError, Passwords};
use crate::store::{Accounts, StoreError, UserSummary};
use crate::timestamp;

/// Longest user name accepted, in characters (pysecworks allowed 64).
pub const MAX_USERNAME_CHARS: usize = 64;
/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes; hashing cost must not grow with input.
pub const MAX_PASSWORD_BYTES: usize = 1024;

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
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

pub struct UserAdmin {
    store: Arc<dyn Accounts>,
    passwords: Passwords,
}

impl UserAdmin {
    pub fn new(store: Arc<dyn Accounts>, passwords: Passwords) -> Self {
        Self { store, passwords }
    }

    pub async fn list(&self) -> Result<Vec<UserSummary>, UserAdminError> {
        Ok(self.store.list_users().await?)
    }

    pub async fn add(&self, username: &str, password: &str) -> Result<(), UserAdminError> {
        check_name(username)?;
        check_password(password)?;
        let hash = self.passwords.hash(password.to_owned()).await?;
        if !self
            .store
            .add_user(username, &hash, timestamp::after_now())
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
