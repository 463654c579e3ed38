//! The connection loop: accepts TCP connections up to a cap, serves each with hyper (HTTP/1.1
//! and HTTP/2), and closes connections that hold a slot without using it.
//!
//! Why not poem's own `Server`: it gives a connection no deadline for its request head (hyper
//! needs a timer for that, which poem does not set), so a client that sends half a request
//! and waits holds a descriptor forever; and it retries a failed `accept` at once, in a busy
//! loop, when the process is out of descriptors. Here:
//!
//! - at most `max_connections` are open; the next one waits in the kernel's listen backlog
//!   until one closes, so the process keeps descriptors for its database and DNS sockets;
//! - a request head must arrive complete within `header_timeout` (hyper's timer; it also runs
//!   while a kept-alive HTTP/1.1 connection waits for its next request);
//! - a connection with no request in flight is closed after `header_timeout` if it never
//!   sent one (which also covers clients that send nothing at all, before hyper can tell
//!   HTTP/1.1 from HTTP/2), and after `idle_timeout` between requests (HTTP/2 included);
//! - an `accept` that fails for want of descriptors or memory is retried after a short pause,
//!   never given up, and logged at most once a minute, as is a full cap.
//!
//! Every close is graceful: a request in flight is answered before its connection goes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::http;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How connections are bounded in number and time.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `SECWORKS_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `SECWORKS_HEADER_TIMEOUT`.
    pub header_timeout: Duration,
    /// `SECWORKS_IDLE_TIMEOUT`.
    pub idle_timeout: Duration,
}

/// Descriptors kept back from connections when the cap is derived from the process's limit:
/// standard streams, the listener, log and database files, database connections, the DNS
/// client's sockets besides one per lookup in flight.
const RESERVED_DESCRIPTORS: u64 = 128;
/// The smallest derived cap.
const MIN_CONNECTIONS: u64 = 32;
/// The largest derived cap, for a process without an open-file limit (Linux's own ceiling
/// on descriptors per process, `fs.nr_open`, defaults to this).
const MAX_CONNECTIONS: u64 = 1 << 20;
/// Pause after an `accept` failed for want of resources: long enough not to spin, short
/// enough that a freed descriptor is used soon.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// How often a continuing refusal is logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The default for `SECWORKS_MAX_CONNECTIONS`: the open-file limit less what the database and
/// `lookup_concurrency` DNS queries in flight may need.
pub fn default_max_connections(descriptor_limit: u64, lookup_concurrency: usize) -> usize {
    let reserved = RESERVED_DESCRIPTORS.saturating_add(lookup_concurrency as u64);
    let cap = descriptor_limit
        .saturating_sub(reserved)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// The open-file limit in force (`u64::MAX` where there is none or it cannot be read).
pub fn descriptor_limit() -> u64 {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// Raises the soft open-file limit to the hard one, as servers commonly do, and returns the
/// limit now in force (`u64::MAX` where there is none).
pub fn raise_descriptor_limit() -> u64 {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => limit,
            // Logging is not set up yet; the limit in force is used and logged at start.
            Err(_) => descriptor_limit(),
        }
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes; then stops accepting, lets
/// every connection finish the requests it has within `grace`, and drops what is left.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let local = listener.local_addr().ok();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let draining = CancellationToken::new();
    let mut full_log = RateLimitedLog::default();
    let mut accept_log = RateLimitedLog::default();
    tokio::pin!(shutdown);

    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                metrics::counter!("secworks_http_connection_waits_total").increment(1);
                full_log.log(|suppressed| {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        suppressed,
                        "connection cap reached (SECWORKS_MAX_CONNECTIONS): new connections \
                         wait until one closes"
                    );
                });
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break, // never closed; nothing left to serve with
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    metrics::counter!("secworks_http_accept_errors_total").increment(1);
                    accept_log.log(|suppressed| {
                        tracing::error!(
                            error = %e,
                            open = limits.max_connections - slots.available_permits() - 1,
                            suppressed,
                            "cannot accept connections (out of file descriptors? raise the \
                             open-file limit or lower SECWORKS_MAX_CONNECTIONS); retrying"
                        );
                    });
                    drop(slot);
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            endpoint: endpoint.clone(),
            local: local.unwrap_or(peer),
            peer,
            limits,
            draining: draining.clone(),
            _slot: slot,
        };
        connections.spawn(connection.serve(stream));
    }

    drop(listener);
    connections.close();
    draining.cancel();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            left = connections.len(),
            "connections still open after the grace period (SECWORKS_SHUTDOWN_GRACE)"
        );
    }
}

/// Errors that concern one connection that never arrived, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

struct Connection<E> {
    endpoint: Arc<E>,
    local: SocketAddr,
    peer: SocketAddr,
    limits: ConnectionLimits,
    draining: CancellationToken,
    /// Held while the connection is open: its place under the cap.
    _slot: OwnedSemaphorePermit,
}

impl<E: Endpoint + 'static> Connection<E> {
    async fn serve(self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let open = metrics::gauge!("secworks_http_connections");
        open.increment(1.0);
        let activity = Arc::new(Activity::new());
        let service = {
            let (endpoint, activity) = (self.endpoint.clone(), activity.clone());
            let local = LocalAddr(Addr::SocketAddr(self.local));
            let remote = RemoteAddr(Addr::SocketAddr(self.peer));
            hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let endpoint = endpoint.clone();
                let request = (req, local.clone(), remote.clone(), http::uri::Scheme::HTTP);
                // Counted until the handler returns; a response body still streaming after
                // that is safe from the idle close, which is graceful.
                let in_flight = activity.begin();
                async move {
                    let response = endpoint.get_response(request.into()).await;
                    drop(in_flight);
                    Ok::<_, Infallible>(hyper::Response::from(response))
                }
            })
        };

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(16 * 1024);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        tokio::pin!(conn);

        let idle = activity.idle(self.limits);
        tokio::pin!(idle);
        let outcome = tokio::select! {
            outcome = conn.as_mut() => Some(outcome),
            reason = &mut idle => {
                metrics::counter!("secworks_http_connections_closed_total", "reason" => reason)
                    .increment(1);
                None
            }
            () = self.draining.cancelled() => None,
        };
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = outcome {
            let timed_out = e
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout);
            if timed_out {
                metrics::counter!("secworks_http_connections_closed_total", "reason" => "header_timeout")
                    .increment(1);
                tracing::debug!(peer = %self.peer, "request head not complete in time (SECWORKS_HEADER_TIMEOUT)");
            } else {
                tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
            }
        }
        open.decrement(1.0);
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    /// Requests begun so far; a connection that never sent one gets the shorter deadline.
    begun: AtomicUsize,
    last_end: std::sync::Mutex<Instant>,
}

struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.lock() = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            begun: AtomicUsize::new(0),
            last_end: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Instant> {
        // An instant cannot be left half-written.
        self.last_end
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Completes when the connection has had no request in flight for its limit, with the
    /// reason as a metrics label.
    async fn idle(&self, limits: ConnectionLimits) -> &'static str {
        loop {
            let (limit, reason) = if self.begun.load(Ordering::Acquire) == 0 {
                (limits.header_timeout, "no_request")
            } else {
                (limits.idle_timeout, "idle")
            };
            if self.in_flight.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(limit).await;
                continue;
            }
            let deadline = *self.lock() + limit;
            if Instant::now() >= deadline {
                return reason;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A warning repeated at most once a minute, with the count of those held back.
#[derive(Default)]
struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    fn log(&mut self, emit: impl FnOnce(u64)) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + LOG_EVERY) {
            self.suppressed += 1;
            return;
        }
        emit(self.suppressed);
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_cap_leaves_room_for_the_database_and_dns() {
        assert_eq!(default_max_connections(20_000, 256), 20_000 - 128 - 256);
        assert_eq!(default_max_connections(1024, 256), 640);
        assert_eq!(default_max_connections(256, 256), 32);
        assert_eq!(default_max_connections(u64::MAX, 256), 1 << 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_warning_is_logged_once_a_minute_with_the_count_held_back() {
        let mut log = RateLimitedLog::default();
        let mut emitted = Vec::new();
        for _ in 0..5 {
            log.log(|held| emitted.push(held));
        }
        tokio::time::advance(LOG_EVERY).await;
        log.log(|held| emitted.push(held));
        assert_eq!(emitted, vec![0, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_after_its_limit_without_a_request_in_flight() {
        let limits = ConnectionLimits {
            max_connections: 1,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        };
        let activity = Arc::new(Activity::new());
        let started = Instant::now();
        // Nothing ever sent: the head's deadline.
        assert_eq!(activity.idle(limits).await, "no_request");
        assert_eq!(started.elapsed(), Duration::from_secs(10));

        // A request in flight for 100 s keeps it open; the idle limit counts from its end.
        let request = activity.begin();
        let ended = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(100)).await;
            drop(request);
        });
        let started = Instant::now();
        assert_eq!(activity.idle(limits).await, "idle");
        ended.await.unwrap();
        assert!(started.elapsed() >= Duration::from_secs(160));
        assert!(started.elapsed() <= Duration::from_secs(170));
    }
}
