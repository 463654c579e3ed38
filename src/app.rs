//! Startup and lifecycle: open the store, prepare auth, bind the listener, serve until told
//! to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::auth::{self, Auth, Passwords, Tokens};
use crate::config::Config;
use crate::graphql::{self, Resolvers};
use crate::http::{self, AppState};
use crate::store;

/// How often revocations of tokens that expired anyway are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// How long in-flight requests may take to finish once shutdown begins.
const GRACE_PERIOD: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database (DATABASE_URL): {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot prepare authentication: {0}")]
    Auth(#[from] auth::AuthError),
    #[error("cannot prepare password hashing: {0}")]
    Password(#[from] auth::PasswordError),
    #[error("cannot prepare the token key: {0}")]
    Token(#[from] auth::TokenError),
    #[error("cannot listen on {addr} (HOST, PORT): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server that is bound and ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: Arc<AppState>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let store = store::connect(&config.database_url).await?;
        let passwords = Passwords::new()?;
        if auth::ensure_first_user(store.as_ref(), &passwords, config.admin_password.as_deref())
            .await?
        {
            if config.admin_password.is_some() {
                tracing::info!(
                    user = auth::DEFAULT_USERNAME,
                    "created the first user with SECWORKS_ADMIN_PASSWORD"
                );
            } else {
                tracing::warn!(
                    user = auth::DEFAULT_USERNAME,
                    "created the first user with the published default password: change it"
                );
            }
        }
        let key = match config.token_key {
            Some(key) => key,
            None => store.token_key_or_insert(Tokens::generate_key()?).await?,
        };
        let auth = Arc::new(Auth::new(
            store.clone(),
            passwords,
            Tokens::new(&key, config.token_ttl)?,
        ));
        let schema = graphql::build(Resolvers::new(store.clone()));
        let state = Arc::new(AppState { auth, schema });

        let requested = SocketAddr::new(config.host, config.port);
        let bind_error = |source| StartError::Bind {
            addr: requested,
            source,
        };
        let acceptor = TcpListener::bind(requested)
            .into_acceptor()
            .await
            .map_err(bind_error)?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(requested);
        Ok(Self {
            acceptor,
            addr,
            state,
        })
    }

    /// The address actually bound (the port is known even when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let purge = tokio::spawn(purge_revocations(self.state.auth.clone()));
        tracing::info!(addr = %self.addr, "secworks listening");
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(http::routes(self.state), shutdown, Some(GRACE_PERIOD))
            .await;
        purge.abort();
        result
    }
}

async fn purge_revocations(auth: Arc<Auth>) {
    let mut every = tokio::time::interval(PURGE_INTERVAL);
    loop {
        every.tick().await;
        match auth.purge_expired_revocations().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "deleted revocations of expired tokens"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired revocations"),
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
