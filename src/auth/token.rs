//! Bearer tokens: PASETO v4.local (encrypted and authenticated with one symmetric key), with
//! the registered claims `iss`, `sub`, `jti`, `iat`, `nbf` and `exp`, and `scope`: what the
//! token may do, space-separated as OAuth 2 writes it. A token from before scopes existed has
//! no `scope` claim and may do what users could do then (see [`Scopes::DEFAULT`]).

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use pasetors::claims::{Claims, ClaimsValidationRules};
use pasetors::errors::{ClaimValidationError, Error as PasetoError};
use pasetors::keys::{Generate, SymmetricKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::V4;
use pasetors::{Local, local};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::scopes::Scopes;

const ISSUER: &str = "secworks";
/// The claim that carries a token's scopes (as in RFC 8693 and RFC 9068).
const SCOPE_CLAIM: &str = "scope";

/// Tokens whose verification is remembered (about 0.5 KiB each).
const REMEMBERED_TOKENS: u64 = 1024;

/// Why a bearer token was refused. The text is safe to show to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    /// Tampered with, or encrypted under another key: indistinguishable by design.
    #[error("invalid token")]
    Invalid,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token has the wrong issuer")]
    WrongIssuer,
    #[error("token lacks a required claim")]
    MissingClaim,
    #[error("token revoked")]
    Revoked,
    /// The user was removed after the token was issued.
    #[error("token's user no longer exists")]
    UnknownUser,
    #[error("could not create a token")]
    Issue,
}

/// A token just issued.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    pub scopes: Scopes,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub expires_in: i64,
}

/// The verified claims of a presented token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub subject: String,
    pub jti: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// What the token may do.
    pub scopes: Scopes,
}

pub struct Tokens {
    key: SymmetricKey<V4>,
    ttl: Duration,
    /// Tokens that verified, by their exact text. Decrypting and checking the seal is most of
    /// a token check's work, and its outcome for a given text under this key never changes:
    /// only the time claims can turn a good token bad, and they are checked on every use. A
    /// token that fails is not remembered. Revocation is not decided here (see
    /// `Auth::authenticate`), so it takes effect at once as before. Bounded; each entry goes
    /// when its token expires.
    verified: Cache<Box<str>, Verified>,
}

/// Forget a remembered token when it expires: it can never verify again.
struct UntilExpiry;

impl Expiry<Box<str>, Verified> for UntilExpiry {
    fn expire_after_create(
        &self,
        _token: &Box<str>,
        verified: &Verified,
        _created_at: Instant,
    ) -> Option<Duration> {
        let left = verified.token.expires_at - OffsetDateTime::now_utc();
        Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
    }
}

/// A remembered verification: the claims, and the one time claim `VerifiedToken` lacks.
#[derive(Debug, Clone)]
struct Verified {
    token: VerifiedToken,
    not_before: OffsetDateTime,
}

impl Verified {
    /// The time checks of a verification, in the order pasetors makes them.
    fn check_times(&self, now: OffsetDateTime) -> Result<(), TokenError> {
        if now < self.not_before || now < self.token.issued_at {
            return Err(TokenError::NotYetValid);
        }
        if now > self.token.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

impl Tokens {
    pub fn new(key: &[u8; 32], ttl: Duration) -> Result<Self, TokenError> {
        let key = SymmetricKey::<V4>::from(key).map_err(|_| TokenError::Issue)?;
        Ok(Self {
            key,
            ttl,
            verified: Cache::builder()
                .max_capacity(REMEMBERED_TOKENS)
                .expire_after(UntilExpiry)
                .build(),
        })
    }

    /// A fresh random key.
    pub fn generate_key() -> Result<[u8; 32], TokenError> {
        let key = SymmetricKey::<V4>::generate().map_err(|_| TokenError::Issue)?;
        key.as_bytes().try_into().map_err(|_| TokenError::Issue)
    }

    /// A token for `subject` with `scopes`, valid for the configured lifetime.
    pub fn issue(&self, subject: &str, scopes: Scopes) -> Result<IssuedToken, TokenError> {
        self.issue_for(subject, scopes, self.ttl)
    }

    /// A token for `subject` with `scopes`, valid for `ttl` (a service token's lifetime).
    pub fn issue_for(
        &self,
        subject: &str,
        scopes: Scopes,
        ttl: Duration,
    ) -> Result<IssuedToken, TokenError> {
        let mut claims = Claims::new_expires_in(&ttl).map_err(|_| TokenError::Issue)?;
        // iat to the microsecond (pasetors writes whole seconds), so that revoking all of a
        // user's tokens spares those issued a moment later in the same second.
        let issued_at = crate::timestamp::now();
        claims
            .issued_at(&crate::timestamp::format(issued_at))
            .map_err(|_| TokenError::Issue)?;
        claims.issuer(ISSUER).map_err(|_| TokenError::Issue)?;
        claims.subject(subject).map_err(|_| TokenError::Issue)?;
        let jti = uuid::Uuid::new_v4().to_string();
        claims
            .token_identifier(&jti)
            .map_err(|_| TokenError::Issue)?;
        claims
            .add_additional(SCOPE_CLAIM, scopes.to_string())
            .map_err(|_| TokenError::Issue)?;
        let expires_at = time_claim(&claims, "exp").ok_or(TokenError::Issue)?;
        let token =
            local::encrypt(&self.key, &claims, None, None).map_err(|_| TokenError::Issue)?;
        let expires_in = (expires_at - OffsetDateTime::now_utc())
            .whole_seconds()
            .max(0);
        Ok(IssuedToken {
            token,
            jti,
            scopes,
            issued_at,
            expires_at,
            expires_in,
        })
    }

    pub fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        if let Some(verified) = self.verified.get(token) {
            verified.check_times(OffsetDateTime::now_utc())?;
            return Ok(verified.token);
        }
        let verified = self.decrypt(token)?;
        self.verified.insert(token.into(), verified.clone());
        Ok(verified.token)
    }

    /// The full check: format, seal (decryption), issuer, and time claims.
    fn decrypt(&self, token: &str) -> Result<Verified, TokenError> {
        let untrusted =
            UntrustedToken::<Local, V4>::try_from(token).map_err(|_| TokenError::Malformed)?;
        let mut rules = ClaimsValidationRules::new();
        rules.validate_issuer_with(ISSUER);
        let trusted =
            local::decrypt(&self.key, &untrusted, &rules, None, None).map_err(|e| match e {
                PasetoError::ClaimValidation(c) => claim_error(c),
                PasetoError::TokenFormat | PasetoError::Base64 => TokenError::Malformed,
                _ => TokenError::Invalid,
            })?;
        let claims = trusted.payload_claims().ok_or(TokenError::MissingClaim)?;
        let text = |name| {
            claims
                .get_claim(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Ok(Verified {
            token: VerifiedToken {
                subject: text("sub").ok_or(TokenError::MissingClaim)?,
                jti: text("jti").ok_or(TokenError::MissingClaim)?,
                issued_at: time_claim(claims, "iat").ok_or(TokenError::MissingClaim)?,
                expires_at: time_claim(claims, "exp").ok_or(TokenError::MissingClaim)?,
                // No claim: a token from before scopes existed.
                scopes: match claims.get_claim(SCOPE_CLAIM) {
                    None => Scopes::DEFAULT,
                    Some(value) => {
                        Scopes::from_stored(value.as_str().ok_or(TokenError::MissingClaim)?)
                    }
                },
            },
            not_before: time_claim(claims, "nbf").ok_or(TokenError::MissingClaim)?,
        })
    }
}

fn claim_error(error: ClaimValidationError) -> TokenError {
    match error {
        ClaimValidationError::Exp => TokenError::Expired,
        ClaimValidationError::Nbf | ClaimValidationError::Iat => TokenError::NotYetValid,
        ClaimValidationError::Iss => TokenError::WrongIssuer,
        _ => TokenError::MissingClaim,
    }
}

fn time_claim(claims: &Claims, name: &str) -> Option<OffsetDateTime> {
    let text = claims.get_claim(name)?.as_str()?;
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&[7; 32], Duration::from_secs(3600)).unwrap()
    }

    #[test]
    fn issues_tokens_that_verify() {
        let issued = tokens().issue("alice", Scopes::DEFAULT).unwrap();
        assert!(issued.token.starts_with("v4.local."));
        assert!((3599..=3600).contains(&issued.expires_in));
        let verified = tokens().verify(&issued.token).unwrap();
        assert_eq!(verified.subject, "alice");
        assert_eq!(verified.expires_at, issued.expires_at);
        assert_eq!(verified.jti, issued.jti);
        assert_eq!(verified.scopes, Scopes::DEFAULT);
    }

    #[test]
    fn tokens_carry_their_scopes_and_old_tokens_get_the_default() {
        let tokens = tokens();
        let read: Scopes = [super::super::Scope::Read].into_iter().collect();
        let issued = tokens
            .issue_for("ci", read, Duration::from_secs(90 * 86_400))
            .unwrap();
        let verified = tokens.verify(&issued.token).unwrap();
        assert_eq!(verified.scopes, read);
        assert!((verified.expires_at - OffsetDateTime::now_utc()).whole_days() >= 89);

        // A token as issued before scopes existed: the same claims, without `scope`.
        let mut claims = Claims::new_expires_in(&Duration::from_secs(60)).unwrap();
        claims.issuer(ISSUER).unwrap();
        claims.subject("old").unwrap();
        claims.token_identifier("old-jti").unwrap();
        let old = local::encrypt(&tokens.key, &claims, None, None).unwrap();
        let verified = tokens.verify(&old).unwrap();
        assert_eq!(verified.scopes, Scopes::DEFAULT);
        assert!(!verified.scopes.contains(super::super::Scope::Admin));
    }

    #[test]
    fn refuses_other_keys_tampering_and_garbage() {
        let token = tokens().issue("alice", Scopes::DEFAULT).unwrap().token;
        let other = Tokens::new(&[8; 32], Duration::from_secs(60)).unwrap();
        assert_eq!(other.verify(&token).unwrap_err(), TokenError::Invalid);
        let mut tampered = token.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(tokens().verify(&tampered).unwrap_err(), TokenError::Invalid);
        assert_eq!(
            tokens().verify("v2.local.abc").unwrap_err(),
            TokenError::Malformed
        );
        assert_eq!(tokens().verify("").unwrap_err(), TokenError::Malformed);
    }

    #[test]
    fn a_remembered_token_verifies_the_same() {
        let tokens = tokens();
        let issued = tokens.issue("alice", Scopes::DEFAULT).unwrap();
        let first = tokens.verify(&issued.token).unwrap();
        let again = tokens.verify(&issued.token).unwrap();
        tokens.verified.run_pending_tasks();
        assert_eq!(tokens.verified.entry_count(), 1);
        assert_eq!(again.subject, first.subject);
        assert_eq!(again.jti, first.jti);
        assert_eq!(again.issued_at, first.issued_at);
        assert_eq!(again.expires_at, first.expires_at);
        // Another key does not share what this one remembers.
        let other = Tokens::new(&[8; 32], Duration::from_secs(60)).unwrap();
        assert_eq!(
            other.verify(&issued.token).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn a_remembered_token_still_expires_and_waits_for_its_start() {
        let tokens = tokens();
        let issued = tokens.issue("alice", Scopes::DEFAULT).unwrap();
        tokens.verify(&issued.token).unwrap();
        let remembered = tokens.verified.get(issued.token.as_str()).unwrap();
        let exp = remembered.token.expires_at;
        assert_eq!(remembered.check_times(exp), Ok(()));
        assert_eq!(
            remembered.check_times(exp + time::Duration::MICROSECOND),
            Err(TokenError::Expired)
        );
        let start = remembered.not_before.max(remembered.token.issued_at);
        assert_eq!(remembered.check_times(start), Ok(()));
        assert_eq!(
            remembered.check_times(start - time::Duration::MICROSECOND),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn failures_are_not_remembered_and_the_memory_is_bounded() {
        let tokens = tokens();
        assert!(tokens.verify("v4.local.garbage").is_err());
        tokens.verified.run_pending_tasks();
        assert_eq!(tokens.verified.entry_count(), 0);
        for i in 0..REMEMBERED_TOKENS + 10 {
            let issued = tokens.issue(&format!("user{i}"), Scopes::DEFAULT).unwrap();
            tokens.verify(&issued.token).unwrap();
        }
        tokens.verified.run_pending_tasks();
        assert!(tokens.verified.entry_count() <= REMEMBERED_TOKENS);
    }
}
