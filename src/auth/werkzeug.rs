//! Password hashes as pysecworks stored them (werkzeug's `method$salt$hash`), accepted at
//! login so that imported users keep their passwords; the first successful login replaces
//! the hash with argon2id.

use pbkdf2::sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Iteration counts above this are refused rather than run: a crafted hash must not be able
/// to tie up a core. werkzeug's own defaults are far below it.
const MAX_ROUNDS: u32 = 5_000_000;

/// A parsed `pbkdf2:<digest>:<rounds>$<salt>$<hex digest>` hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WerkzeugHash {
    digest: Digest,
    rounds: u32,
    salt: String,
    expected: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Sha256,
    Sha512,
}

/// Why a stored hash is not a usable werkzeug hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WerkzeugError {
    #[error("not of the form `pbkdf2:sha256:<iterations>$<salt>$<hex>`")]
    Shape,
    #[error("hash method `{0}` is not supported (only pbkdf2 with sha256 or sha512)")]
    Method(String),
    #[error("iteration count `{0}` is not a number between 1 and {MAX_ROUNDS}")]
    Rounds(String),
    #[error("the digest is not hexadecimal")]
    Hex,
}

impl WerkzeugHash {
    /// Whether `stored` looks like a werkzeug hash at all (rather than a PHC string).
    pub fn is_werkzeug(stored: &str) -> bool {
        stored.starts_with("pbkdf2:") || stored.starts_with("scrypt:")
    }

    pub fn parse(stored: &str) -> Result<Self, WerkzeugError> {
        let mut parts = stored.splitn(3, '$');
        let (Some(method), Some(salt), Some(hex_digest)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(WerkzeugError::Shape);
        };
        let mut method_parts = method.split(':');
        let (Some("pbkdf2"), Some(digest)) = (method_parts.next(), method_parts.next()) else {
            return Err(WerkzeugError::Method(method.to_owned()));
        };
        let digest = match digest {
            "sha256" => Digest::Sha256,
            "sha512" => Digest::Sha512,
            _ => return Err(WerkzeugError::Method(method.to_owned())),
        };
        // werkzeug always writes the iteration count; a hash without one is not its.
        let rounds_text = method_parts.next().ok_or(WerkzeugError::Shape)?;
        let rounds = rounds_text
            .parse::<u32>()
            .ok()
            .filter(|r| (1..=MAX_ROUNDS).contains(r))
            .ok_or_else(|| WerkzeugError::Rounds(rounds_text.to_owned()))?;
        if method_parts.next().is_some() || salt.is_empty() {
            return Err(WerkzeugError::Shape);
        }
        let expected = hex::decode(hex_digest).map_err(|_| WerkzeugError::Hex)?;
        if expected.is_empty() {
            return Err(WerkzeugError::Hex);
        }
        Ok(Self {
            digest,
            rounds,
            salt: salt.to_owned(),
            expected,
        })
    }

    /// Derives the digest of `password` and compares it in constant time. Slow by design:
    /// run it off the async executor.
    pub fn verify(&self, password: &str) -> bool {
        let mut derived = vec![0u8; self.expected.len()];
        // werkzeug uses the salt's text as the PBKDF2 salt, not decoded bytes.
        let (password, salt) = (password.as_bytes(), self.salt.as_bytes());
        match self.digest {
            Digest::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, self.rounds, &mut derived)
            }
            Digest::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, self.rounds, &mut derived)
            }
        }
        derived.ct_eq(&self.expected).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The hash pysecworks stored for its default user's password, `supersecret`.
    const ORIGINAL: &str = "pbkdf2:sha256:260000$zydxlHqHlkU5O7T1$89d75dd675111893d09d92024233a42210651adf05248048d4cc3145797f332f";

    #[test]
    fn verifies_the_original_default_users_hash() {
        let hash = WerkzeugHash::parse(ORIGINAL).unwrap();
        assert!(hash.verify("supersecret"));
        assert!(!hash.verify("supersecreT"));
        assert!(!hash.verify(""));
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        use WerkzeugError::*;
        let cases = [
            ("plain", Shape),
            (
                "scrypt:32768:8:1$salt$00",
                Method("scrypt:32768:8:1".into()),
            ),
            ("pbkdf2:md5:1000$salt$00", Method("pbkdf2:md5:1000".into())),
            ("pbkdf2:sha256$salt$00", Shape),
            ("pbkdf2:sha256:0$salt$00", Rounds("0".into())),
            ("pbkdf2:sha256:99999999$salt$00", Rounds("99999999".into())),
            ("pbkdf2:sha256:1000$salt$zz", Hex),
            ("pbkdf2:sha256:1000$$00", Shape),
        ];
        for (stored, error) in cases {
            assert_eq!(WerkzeugHash::parse(stored), Err(error), "{stored}");
        }
        assert!(WerkzeugHash::is_werkzeug(ORIGINAL));
        assert!(!WerkzeugHash::is_werkzeug(
            "$argon2id$v=19$m=19456,t=2,p=1$x$y"
        ));
    }
}
