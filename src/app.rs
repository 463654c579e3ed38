//! Startup and lifecycle: open the store, prepare auth, bind the listener, serve until told
//! to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::{self, Auth, LoginLimiter, Passwords, Tokens};
use crate::config::Config;
use crate::graphql::{self, Resolvers};
use crate::http::{self, AppState};
use crate::lookup::LookupEngine;
use crate::rechecks::Planner;
use crate::retention::{self, RetentionSettings};
use crate::store;
use crate::store::recent::RecentResults;
use crate::webhooks::WebhookWorker;

/// How often revocations of tokens that expired anyway are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// How often the metrics recorder drains its histogram samples.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database (DATABASE_URL): {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot prepare authentication: {0}")]
    Auth(#[from] auth::AuthError),
    #[error("cannot prepare password hashing: {0}")]
    Password(#[from] auth::PasswordError),
    #[error("cannot prepare the token key (SECWORKS_TOKEN_KEY or the stored key): {0}")]
    Token(#[from] auth::TokenError),
    #[error("cannot set up the DNS resolver (SECWORKS_DNS_SERVER): {0}")]
    Resolver(#[from] secworks_dnsbl::ResolverError),
    #[error("cannot set up the webhook client's TLS: {0}")]
    Webhooks(#[from] rustls::Error),
    #[error("cannot listen on {addr} (HOST, PORT): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    connections: http::server::ConnectionLimits,
    state: Arc<AppState>,
    engine: LookupEngine,
    planner: Planner,
    webhooks: WebhookWorker,
    /// What the retention deletes from, and when (`retention`).
    retention: (
        Arc<dyn crate::store::Store>,
        RetentionSettings,
        crate::timestamp::Clock,
    ),
    grace: Duration,
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
            None => {
                store
                    .token_key_or_insert(Tokens::generate_key()?, crate::timestamp::now())
                    .await?
            }
        };
        let auth = Arc::new(Auth::new(
            store.clone(),
            passwords,
            Tokens::new(&key, config.token_ttl)?,
            LoginLimiter::new(config.login_limits),
        ));
        // The bearer check's copy of revocations and users, before the first request.
        auth.sync_standings().await?;
        let resolver = secworks_dnsbl::DnsblResolver::new(config.resolver.clone())?;

        let requested = SocketAddr::new(config.host, config.port);
        let bind_error = |source| StartError::Bind {
            addr: requested,
            source,
        };
        let listener = TcpListener::bind(requested).await.map_err(bind_error)?;
        let addr = listener.local_addr().unwrap_or(requested);
        let connections = connection_limits(&config);
        let webhook_client = crate::webhooks::client::WebhookClient::new(
            config.webhooks.timeout,
            config.webhooks.allow_private,
        )?;
        // Read by `getIpDetails`, kept current by the engine's writer.
        let recent = Arc::new(RecentResults::new(store.clone()));
        // Last, so that a failed start leaves no workers behind.
        let engine = LookupEngine::start(
            store.clone(),
            store.clone(),
            recent.clone(),
            resolver,
            &config.blocklists,
            config.engine.clone(),
            config.clock.clone(),
        );
        // Feeds the engine's queue; started with the server, stopped before the engine drains.
        let planner = Planner::new(
            store.clone(),
            config.blocklists.clone(),
            engine.handle(),
            config.rechecks.clone(),
        );
        // After the engine, whose writer appends the events it delivers.
        let webhooks = WebhookWorker::start(
            store.clone(),
            store.clone(),
            config.blocklists.clone(),
            webhook_client,
            config.clock.clone(),
        );
        let schema = graphql::build(
            Resolvers::new(
                store.clone(),
                recent,
                engine.handle(),
                config.blocklists.clone(),
                config.max_enqueue,
                config.max_watch_targets,
                planner.clone(),
            )
            .with_webhooks(store.clone(), &config.webhooks, config.clock.clone()),
            config.query_limits,
        );
        let state = Arc::new(AppState {
            auth,
            schema,
            database: store.clone(),
            queue: store.clone(),
            watchlists: store.clone(),
            exports: http::export::Exports {
                results: store.clone(),
                watchlists: store.clone(),
                blocklists: config.blocklists.clone(),
            },
            engine: engine.handle(),
            planner: planner.clone(),
            blocklists: config.blocklists.clone(),
            metrics_per_target: config.metrics_per_target,
            max_body: config.max_body_bytes,
            observe: http::observe::ObserveSettings {
                request_timeout: config.request_timeout,
                trust_forwarded_for: config.trust_forwarded_for,
            },
        });
        // Installed before serving, so that the first scrape already lists every metric.
        http::metrics::handle();
        Ok(Self {
            listener,
            addr,
            connections,
            state,
            engine,
            planner,
            webhooks,
            retention: (store, config.retention, config.clock.clone()),
            grace: config.shutdown_grace,
        })
    }

    /// The SDL of the schema this server executes.
    pub fn sdl(&self) -> String {
        self.state.schema.sdl()
    }

    /// The address actually bound (the port is known even when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests and lookups finish
    /// within the grace period.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let purge = tokio::spawn(purge_revocations(self.state.auth.clone()));
        let standings = tokio::spawn(sync_standings(self.state.auth.clone()));
        let (store, settings, clock) = self.retention;
        let retention = tokio::spawn(retention::run(store, settings, clock));
        let upkeep = tokio::spawn(metrics_upkeep());
        tracing::info!(
            addr = %self.addr,
            max_connections = self.connections.max_connections,
            "secworks listening"
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let planning = self.planner.clone().start(stop.clone());
        let server = http::server::serve(
            self.listener,
            http::routes(self.state),
            self.connections,
            {
                let stop = stop.clone();
                async move {
                    shutdown.await;
                    stop.cancel();
                }
            },
            self.grace,
        );
        let server = async {
            server.await;
            // Also when the server stopped on its own: the lookups must not outlive it.
            stop.cancel();
        };
        let (engine, webhooks, grace) = (self.engine, self.webhooks, self.grace);
        let lookups = async {
            stop.cancelled().await;
            // No new jobs from the planner while the engine drains (a round in progress is
            // one transaction: it commits or leaves nothing).
            let _ = planning.await;
            // Both within the grace period: deliveries in flight finish or are sent again.
            tokio::join!(engine.shutdown(grace), webhooks.shutdown(grace));
        };
        tokio::join!(server, lookups);
        purge.abort();
        standings.abort();
        // A batch cut short is one transaction rolled back.
        retention.abort();
        upkeep.abort();
        Ok(())
    }
}

/// The connection limits, the cap derived from the open-file limit unless it is set.
fn connection_limits(config: &Config) -> http::server::ConnectionLimits {
    let descriptors = http::server::descriptor_limit();
    let room = http::server::default_max_connections(descriptors, config.engine.concurrency);
    let max_connections = match config.max_connections {
        Some(set) if set > room => {
            tracing::warn!(
                max_connections = set,
                open_file_limit = descriptors,
                "SECWORKS_MAX_CONNECTIONS leaves too few descriptors for the database and DNS \
                 under the open-file limit; accepting may fail before the cap is reached"
            );
            set
        }
        Some(set) => set,
        None => room,
    };
    http::server::ConnectionLimits {
        max_connections,
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
    }
}

/// Folds the histograms' recent samples into their buckets. Without it the samples pile up
/// until the next scrape, and a server nobody scrapes grows without bound.
async fn metrics_upkeep() {
    let handle = http::metrics::handle();
    let mut every = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// Keeps the bearer check's copy of revocations and users current. While the store cannot
/// be read, checks read it per request (and fail as the store does); said once per outage.
async fn sync_standings(auth: Arc<Auth>) {
    let mut every = tokio::time::interval(auth::SYNC_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        every.tick().await;
        match auth.sync_standings().await {
            Ok(()) if failing => {
                tracing::info!("revocations read again; bearer checks use the kept copy");
                failing = false;
            }
            Ok(()) => {}
            Err(error) if !failing => {
                tracing::warn!(%error, "cannot read revocations; bearer checks read the store");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

async fn purge_revocations(auth: Arc<Auth>) {
    let mut every = tokio::time::interval(PURGE_INTERVAL);
    loop {
        every.tick().await;
        auth.sweep_login_limits();
        match auth.purge_expired_revocations().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "deleted revocations of expired tokens"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired revocations"),
        }
    }
}

/// Completes on the first SIGINT or SIGTERM. From then on a second one ends the process at
/// once, without waiting for the grace period (exit status 128 + the signal's number).
pub async fn shutdown_signal() {
    let first = next_signal().await;
    tracing::info!(
        signal = first.name(),
        "shutting down; a second signal stops at once"
    );
    tokio::spawn(async {
        let second = next_signal().await;
        tracing::warn!(signal = second.name(), "second signal: exiting at once");
        std::process::exit(second.exit_code());
    });
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 128 + 2,
            Signal::Terminate => 128 + 15,
        }
    }
}

async fn next_signal() -> Signal {
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
        _ = interrupt => Signal::Interrupt,
        () = terminate => Signal::Terminate,
    }
}
