//! Password hashing with argon2id, m=7 MiB, t=5, p=1: one of the settings OWASP's password
//! storage cheat sheet lists as equal in defence (with m=19 MiB, t=2 and m=12 MiB, t=3, which
//! secworks used before), trading memory for passes: about the same CPU per hash, and the
//! memory a login storm holds (one area per hashing permit) down to 14 MiB on 2 cores once
//! the stored hashes are of these parameters. A login with a hash of other parameters (or
//! imported) replaces it.
//!
//! Hashing is CPU- and memory-heavy, so it runs on the blocking pool, at most one per core
//! at a time: an unbounded pool of hashes would be a memory-exhaustion lever. Its working
//! memory is at most one area per permit, reused between hashes and freed when logins stop
//! (`hash_memory`).

use std::sync::Arc;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::hash_memory::{self, HashMemory};
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
    memory: Arc<HashMemory>,
    /// Verified against when the user does not exist, so that an unknown name costs the
    /// same work as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new() -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = Arc::new(HashMemory::default());
        let dummy_hash = hash_blocking(&memory, "secworks dummy password")?;
        let passwords = Self {
            permits: Arc::new(Semaphore::new(cores)),
            memory,
            dummy_hash: dummy_hash.into(),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            free_when_idle(&runtime, passwords.memory.clone());
        }
        Ok(passwords)
    }

    /// Runs `work` on the blocking pool under a hashing permit. The permit goes with the
    /// work, not with the request: a request cancelled while its hash runs (its client went
    /// away, or the request timed out) must not let another hash start beside that one, or the
    /// hashes, and their memory, would outnumber the permits. For the same reason the work,
    /// not the request, schedules the freeing of the memory once hashing stops.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&HashMemory) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let memory = self.memory.clone();
        let runtime = tokio::runtime::Handle::current();
        let done = tokio::task::spawn_blocking(move || {
            let done = work(&memory);
            drop(permit);
            free_when_idle(&runtime, memory);
            done
        });
        Ok(done.await?)
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.run(move |memory| hash_blocking(memory, &password))
            .await?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is no user, so
    /// that an unknown name costs the same work as a wrong password.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verdict, PasswordError> {
        let user_exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let verdict = self
            .run(move |memory| verify_blocking(memory, &password, &hash))
            .await?;
        Ok(if user_exists { verdict } else { Verdict::Wrong })
    }
}

/// Frees the hashing memory once no hash has used it for [`hash_memory::IDLE`]; a hash in
/// between keeps it, and schedules its own check.
fn free_when_idle(runtime: &tokio::runtime::Handle, memory: Arc<HashMemory>) {
    runtime.spawn(async move {
        tokio::time::sleep(hash_memory::IDLE).await;
        memory.trim(hash_memory::IDLE);
    });
}

/// argon2id's memory in KiB and passes for new hashes (see the module's documentation).
const MEMORY_KIB: u32 = 7 * 1024;
const PASSES: u32 = 5;

/// The hasher of new hashes.
fn current() -> Result<Argon2<'static>, PasswordError> {
    let params =
        Params::new(MEMORY_KIB, PASSES, 1, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Whether a stored argon2 hash is of other parameters than new ones.
fn outdated(stored: &PasswordHash) -> bool {
    stored.algorithm != Algorithm::Argon2id.ident()
        || stored.version != Some(Version::V0x13.into())
        || !Params::try_from(stored).is_ok_and(|params| {
            (params.m_cost(), params.t_cost(), params.p_cost()) == (MEMORY_KIB, PASSES, 1)
        })
}

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    /// The password is right; `rehash` when the stored hash is of an older scheme or other
    /// parameters and should be replaced by a new one.
    Right {
        rehash: bool,
    },
}

impl Verdict {
    pub fn is_right(self) -> bool {
        matches!(self, Verdict::Right { .. })
    }
}

/// argon2id with the current parameters, as a PHC string (what `PasswordHasher` writes, with
/// memory from `memory`).
fn hash_blocking(memory: &HashMemory, password: &str) -> Result<String, PasswordError> {
    let argon2 = current()?;
    let salt = argon2::password_hash::generate_salt();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    run_argon2(memory, &argon2, password, &salt, &mut output)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    let phc = (|| {
        Ok::<_, argon2::password_hash::Error>(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon2.params())?,
            salt: Some(Salt::new(&salt)?),
            hash: Some(Output::new(&output)?),
        })
    })()
    .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(phc.to_string())
}

/// Whether `password` gives `stored`'s argon2 output with `stored`'s own algorithm, version
/// and parameters (what `PasswordVerifier` checks, with memory from `memory`). The outputs
/// are compared in constant time.
fn argon2_matches(memory: &HashMemory, password: &str, stored: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(stored.algorithm.as_str());
    let version = stored
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let params = Params::try_from(stored);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, params) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = [0u8; Output::MAX_LENGTH];
    let output = &mut output[..expected.len()];
    run_argon2(memory, &argon2, password, salt.as_ref(), output).is_ok()
        && Output::new(output).is_ok_and(|computed| computed == *expected)
}

fn run_argon2(
    memory: &HashMemory,
    argon2: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    output: &mut [u8],
) -> argon2::Result<()> {
    let mut blocks = memory.take(argon2.params().block_count());
    let result =
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, output, &mut blocks);
    memory.give_back(blocks);
    result
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
fn verify_blocking(memory: &HashMemory, password: &str, hash: &str) -> Verdict {
    if WerkzeugHash::is_werkzeug(hash) {
        let right = WerkzeugHash::parse(hash).is_ok_and(|h| h.verify(password));
        return if right {
            Verdict::Right { rehash: true }
        } else {
            Verdict::Wrong
        };
    }
    match PasswordHash::new(hash) {
        Ok(parsed) if argon2_matches(memory, password, &parsed) => Verdict::Right {
            rehash: outdated(&parsed),
        },
        _ => Verdict::Wrong,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_request_s_hash_keeps_its_permit_until_it_ends() {
        let passwords = Passwords::new().unwrap();
        let all = passwords.permits.available_permits();
        let (end, ended) = std::sync::mpsc::channel::<()>();
        let request = tokio::spawn({
            let passwords = passwords.clone();
            async move { passwords.run(move |_| ended.recv()).await }
        });
        let taken = async {
            while passwords.permits.available_permits() == all {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), taken)
            .await
            .expect("the work takes a permit");
        // The client goes away while its hash runs: the permit stays with the hash.
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        assert_eq!(passwords.permits.available_permits(), all - 1);
        end.send(()).unwrap();
        let returned = async {
            while passwords.permits.available_permits() < all {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), returned)
            .await
            .expect("the permit comes back when the hash ends");
    }

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let passwords = Passwords::new().unwrap();
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
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

    /// The hashes are the argon2 crate's own PHC strings both ways, with the parameters each
    /// string names (an imported hash may have others than ours).
    #[tokio::test]
    async fn agrees_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let passwords = Passwords::new().unwrap();
        let ours = passwords.hash("correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );

        let others = [
            Argon2::default(),
            Argon2::new(
                Algorithm::Argon2i,
                Version::V0x10,
                Params::new(8192, 3, 1, Some(24)).unwrap(),
            ),
        ];
        for other in others.into_iter().chain([current().unwrap()]) {
            let theirs = other.hash_password(b"correct horse").unwrap().to_string();
            let verify = |password: &str| passwords.verify(password.into(), Some(theirs.clone()));
            // Right, and replaced unless of the current parameters (the crate's default are
            // the 19 MiB ones secworks wrote before).
            let rehash = !theirs.starts_with("$argon2id$v=19$m=7168,t=5,p=1$");
            assert_eq!(
                verify("correct horse").await.unwrap(),
                Verdict::Right { rehash },
                "{theirs}"
            );
            assert_eq!(verify("wrong").await.unwrap(), Verdict::Wrong, "{theirs}");
        }
        // Hashing memory is kept for the next login: one area per permit at most, of the
        // size last used.
        assert_eq!(passwords.memory.kept(), 1);
    }
}
