//! Password hashing with argon2id (OWASP's minimum parameters: m=19 MiB, t=2, p=1).
//!
//! Hashing is CPU- and memory-heavy, so it runs on the blocking pool, at most one per core
//! at a time: an unbounded pool of 19 MiB hashes would be a memory-exhaustion lever.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use super::werkzeug::WerkzeugHash;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("password hashing is shutting down")]
    Closed,
}

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so that an unknown name costs the
    /// same work as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new() -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let dummy_hash = hash_blocking("secworks dummy password")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no user, so
    /// that an unknown name costs the same work as a wrong password.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verdict, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let user_exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let verdict =
            tokio::task::spawn_blocking(move || verify_blocking(&password, &hash)).await?;
        Ok(if user_exists { verdict } else { Verdict::Wrong })
    }
}

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    /// The password is right; `rehash` when the stored hash is of an older scheme and should
    /// be replaced by argon2id.
    Right {
        rehash: bool,
    },
}

impl Verdict {
    pub fn is_right(self) -> bool {
        matches!(self, Verdict::Right { .. })
    }
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether a hash from another system can be verified at login: werkzeug's pbkdf2, or a PHC
/// argon2 string. The error says what is wrong with it, never the hash.
pub fn check_imported_hash(hash: &str) -> Result<(), String> {
    if WerkzeugHash::is_werkzeug(hash) {
        return WerkzeugHash::parse(hash)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    match PasswordHash::new(hash) {
        Ok(parsed) if parsed.algorithm.as_str().starts_with("argon2") => Ok(()),
        _ => Err("is neither werkzeug pbkdf2 (`pbkdf2:sha256:…`) nor argon2".into()),
    }
}

/// A stored hash that does not parse verifies nothing.
fn verify_blocking(password: &str, hash: &str) -> Verdict {
    if WerkzeugHash::is_werkzeug(hash) {
        let right = WerkzeugHash::parse(hash).is_ok_and(|h| h.verify(password));
        return if right {
            Verdict::Right { rehash: true }
        } else {
            Verdict::Wrong
        };
    }
    let right = PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    if right {
        Verdict::Right { rehash: false }
    } else {
        Verdict::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let verify = |password: &str, stored: Option<&str>| {
            passwords.verify(password.into(), stored.map(str::to_owned))
        };
        assert_eq!(
            verify("correct horse", Some(&hash)).await.unwrap(),
            Verdict::Right { rehash: false }
        );
        assert_eq!(verify("wrong", Some(&hash)).await.unwrap(), Verdict::Wrong);
        assert_eq!(
            verify("secworks dummy password", None).await.unwrap(),
            Verdict::Wrong
        );
        assert_eq!(
            verify("x", Some("not a phc string")).await.unwrap(),
            Verdict::Wrong
        );
        // An imported werkzeug hash verifies, and asks to be replaced.
        let werkzeug = "pbkdf2:sha256:1000$NaCl$cba50afb9ece1b6c899d921b4b7139139f7d2258b02086c1764c441575c66253";
        assert_eq!(
            verify("correct horse", Some(werkzeug)).await.unwrap(),
            Verdict::Right { rehash: true }
        );
        assert_eq!(
            verify("wrong", Some(werkzeug)).await.unwrap(),
            Verdict::Wrong
        );
    }
}
