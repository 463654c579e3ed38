//! Who may call secworks: passwords, bearer tokens and their revocation.

mod hash_memory;
mod limit;
mod password;
mod scopes;
mod standings;
mod token;
mod users;
mod werkzeug;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub use limit::{Exceeded, FailureLimit, LoginLimiter, LoginLimits};
pub use password::{PasswordError, Passwords, Verdict, check_imported_hash};
pub use scopes::{Scope, ScopeError, Scopes};
pub use standings::{MAX_STALENESS, SYNC_INTERVAL};
pub use token::{IssuedToken, TokenError, Tokens, VerifiedToken};
pub use users::{
    MAX_SERVICE_TOKEN_TTL, MIN_SERVICE_TOKEN_TTL, ServiceTokenRequest, UserAdmin, UserAdminError,
    check_name,
};

use crate::store::{Accounts, StoreError, TokenStanding};
use crate::timestamp;
use standings::KeptStandings;

/// The user name and password of the compatibility user created on an empty database.
pub const DEFAULT_USERNAME: &str = "secureworks";
pub const DEFAULT_PASSWORD: &str = "supersecret";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("bad credentials")]
    BadCredentials,
    /// Too many failed logins for the name or the client; the password was not checked.
    #[error("too many failed logins")]
    Throttled { retry_after: std::time::Duration },
    /// The scopes asked for are unknown or not the user's; no token was issued.
    #[error(transparent)]
    Scope(#[from] ScopeError),
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

impl Principal {
    /// What the presented token may do.
    pub fn scopes(&self) -> Scopes {
        self.token.scopes
    }
}

pub struct Auth {
    store: Arc<dyn Accounts>,
    passwords: Passwords,
    tokens: Tokens,
    limiter: LoginLimiter,
    /// Revocations and users, kept so that the bearer check reads nothing (`standings`).
    standings: KeptStandings,
}

impl Auth {
    pub fn new(
        store: Arc<dyn Accounts>,
        passwords: Passwords,
        tokens: Tokens,
        limiter: LoginLimiter,
    ) -> Self {
        Self {
            store,
            passwords,
            tokens,
            limiter,
            standings: KeptStandings::new(Instant::now()),
        }
    }

    /// Exchanges a user name and password, sent from `client`, for a token with the scopes
    /// `requested` (OAuth 2's `scope`: names separated by spaces), or with all of the user's
    /// when `None`. The credentials are checked first: scopes are never judged for a caller
    /// who has not proved who they are.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
        requested: Option<&str>,
    ) -> Result<IssuedToken, AuthError> {
        if let Err(retry_after) = self.limiter.check(username, client) {
            metrics::counter!("secworks_login_failures_total", "reason" => "throttled")
                .increment(1);
            return Err(AuthError::Throttled { retry_after });
        }
        let user = self.store.user_by_name(username).await?;
        let held = user.as_ref().map(|u| Scopes::from_stored(&u.scopes));
        let stored = user.map(|u| u.password_hash);
        let verdict = self
            .passwords
            .verify(password.to_owned(), stored.clone())
            .await?;
        let Verdict::Right { rehash } = verdict else {
            for exceeded in self.limiter.failed(username, client) {
                let limit = match exceeded {
                    limit::Exceeded::Pair => "SECWORKS_LOGIN_FAILURES_PER_USER",
                    limit::Exceeded::Address => "SECWORKS_LOGIN_FAILURES_PER_ADDRESS",
                    limit::Exceeded::Name => "SECWORKS_LOGIN_FAILURES_PER_NAME",
                };
                tracing::warn!(user = username, %client, limit, "failed logins over the limit");
            }
            metrics::counter!("secworks_login_failures_total", "reason" => "bad_credentials")
                .increment(1);
            tracing::info!(user = username, %client, "login failed");
            return Err(AuthError::BadCredentials);
        };
        let held = held.unwrap_or(Scopes::NONE);
        let scopes = match requested {
            None => held,
            Some(text) => narrower_scopes(username, text, held)?,
        };
        if let (true, Some(old_hash)) = (rehash, stored) {
            self.upgrade_hash(username, &old_hash, password).await;
        }
        Ok(self.tokens.issue(username, scopes)?)
    }

    /// Replaces an imported or outdated hash by one of the current argon2id parameters after a
    /// login proved the password. A failure leaves the old hash, which still works; the next
    /// login tries again.
    async fn upgrade_hash(&self, username: &str, old_hash: &str, password: &str) {
        let upgraded = match self.passwords.hash(password.to_owned()).await {
            Ok(new_hash) => self
                .store
                .rehash_password(username, old_hash, &new_hash, timestamp::now())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match upgraded {
            Ok(_) => tracing::info!(
                user = username,
                "password hash replaced by one of the current argon2id parameters"
            ),
            Err(error) => {
                tracing::warn!(user = username, %error, "could not replace an imported password hash")
            }
        }
    }

    /// Forgets failed-login counts that have run out; call now and then.
    pub fn sweep_login_limits(&self) {
        self.limiter.sweep();
    }

    /// Verifies a bearer token: its seal, its claims, that it was not revoked on its own or
    /// with all of its user's tokens, and that its user still exists. The standing comes from
    /// the kept copy while it is current, else from the store (`standings`).
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let token = self.tokens.verify(token)?;
        let standing = match self.standings.standing(&token, Instant::now()) {
            Some(standing) => standing,
            None => {
                self.store
                    .token_standing(&token.jti, &token.subject)
                    .await?
            }
        };
        stands(&token, &standing)?;
        Ok(Principal {
            username: token.subject.clone(),
            token,
        })
    }

    /// Revokes the token `principal` presented; it is refused from now on.
    pub async fn revoke(&self, principal: &Principal) -> Result<(), AuthError> {
        let token = &principal.token;
        self.store
            .revoke_token(&token.jti, token.expires_at, timestamp::now())
            .await?;
        self.standings.revoked_here(&token.jti, token.expires_at);
        Ok(())
    }

    /// Brings the kept revocations and users up to date if the database's change counter
    /// moved; call every [`SYNC_INTERVAL`]. Until it first succeeds, and whenever it has not
    /// for [`MAX_STALENESS`], every bearer check reads the store.
    pub async fn sync_standings(&self) -> Result<(), AuthError> {
        let now = Instant::now();
        self.standings
            .sync(self.store.as_ref(), now, timestamp::now())
            .await?;
        metrics::gauge!("secworks_revocations_kept").set(self.standings.revocations() as f64);
        Ok(())
    }

    /// Deletes revocation records of tokens that have expired anyway.
    pub async fn purge_expired_revocations(&self) -> Result<u64, AuthError> {
        Ok(self
            .store
            .purge_expired_revocations(timestamp::now())
            .await?)
    }
}

/// Whether a token that verified still stands: the one place that reads a standing.
fn stands(token: &VerifiedToken, standing: &TokenStanding) -> Result<(), TokenError> {
    if !standing.user_exists {
        return Err(TokenError::UnknownUser);
    }
    let revoked_with_user = standing
        .not_before
        .is_some_and(|not_before| token.issued_at < not_before);
    if standing.revoked || revoked_with_user {
        return Err(TokenError::Revoked);
    }
    Ok(())
}

/// The scopes `text` asks for (names separated by spaces, as OAuth 2 writes them), if they are
/// all known and all in `held`; the error names the first that is not.
pub fn narrower_scopes(username: &str, text: &str, held: Scopes) -> Result<Scopes, ScopeError> {
    let asked = Scopes::parse(text, &[' '])?;
    match asked.first_missing(held) {
        Some(scope) => Err(ScopeError::NotHeld {
            user: username.to_owned(),
            scope,
            held,
        }),
        None => Ok(asked),
    }
}

/// Creates the compatibility user when there are no users at all; returns whether it did.
pub async fn ensure_first_user(
    store: &dyn Accounts,
    passwords: &Passwords,
    password: Option<&str>,
) -> Result<bool, AuthError> {
    if store.has_users().await? {
        return Ok(false);
    }
    let hash = passwords
        .hash(password.unwrap_or(DEFAULT_PASSWORD).to_owned())
        .await?;
    Ok(store
        .create_first_user(DEFAULT_USERNAME, &hash, timestamp::now())
        .await?)
}
