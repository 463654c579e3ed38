//! Claiming, looking up, and writing results back in batches.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secworks_dnsbl::DnsblResolver;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::{self, Health};
use super::throttle::Throttle;
use crate::store::{ClaimedJob, JobOutcome, JobResult, Queue};
use crate::timestamp;

/// How the engine runs; see the README's configuration table.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Lookups in flight at once.
    pub concurrency: usize,
    /// Queries per second at most, across all workers.
    pub qps: Option<NonZeroU32>,
    /// How long a claimed job is ours before another worker may take it back.
    pub lease: Duration,
    /// Delay before the first retry; doubles with each attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
    /// How often the blocklist's test points are checked.
    pub health_interval: Duration,
    /// How long every worker waits after an excessive-queries answer.
    pub rate_limit_pause: Duration,
}

/// Largest batch claimed or written at once.
const BATCH: usize = 2048;
/// How often to look for due retries when nothing wakes the dispatcher.
const POLL: Duration = Duration::from_millis(500);

/// What the rest of the service may ask of a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    wake: Arc<Notify>,
    health: watch::Receiver<Health>,
    throttle: Arc<Throttle>,
    dispatching: Arc<AtomicBool>,
}

impl EngineHandle {
    /// Tells the workers that new jobs wait.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the workers run and whether lookups are paused, and why: the one answer the
    /// GraphQL `queueStatus`, `/readyz` and `/metrics` all give.
    pub fn status(&self) -> LookupStatus {
        let pause = match &*self.health.borrow() {
            Health::Starting => Some(Pause::Starting),
            Health::Degraded(reason) => Some(Pause::TestPointsFail(reason.clone())),
            Health::Healthy if self.throttle.is_paused() => Some(Pause::RateLimited),
            Health::Healthy => None,
        };
        LookupStatus {
            workers_running: self.dispatching.load(Ordering::Relaxed),
            pause,
        }
    }
}

/// What the engine is doing, as [`EngineHandle::status`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupStatus {
    /// Whether the workers take jobs: false once shutdown began or the dispatcher ended.
    pub workers_running: bool,
    /// Why lookups wait, if they do.
    pub pause: Option<Pause>,
}

/// Why lookups wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    /// The blocklist's test points have not been checked yet.
    Starting,
    /// The test points fail, so the blocklist's answers cannot be trusted; says how.
    TestPointsFail(String),
    /// The blocklist answered "excessive queries"; every lookup waits a while.
    RateLimited,
}

impl std::fmt::Display for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pause::Starting => f.write_str("checking the blocklist's test points"),
            Pause::TestPointsFail(reason) => f.write_str(reason),
            Pause::RateLimited => f.write_str("the blocklist asked for fewer queries"),
        }
    }
}

pub struct LookupEngine {
    handle: EngineHandle,
    stop: CancellationToken,
    tasks: TaskTracker,
}

struct Shared {
    store: Arc<dyn Queue>,
    resolver: Arc<DnsblResolver>,
    settings: EngineSettings,
    throttle: Arc<Throttle>,
    health: watch::Receiver<Health>,
    /// Asks the health monitor to check the test points now.
    recheck: Arc<Notify>,
    stop: CancellationToken,
}

impl Shared {
    /// Whether a lookup may start now: not stopping, test points pass, no pause.
    fn may_look_up(&self) -> bool {
        !self.stop.is_cancelled() && self.health.borrow().is_healthy() && !self.throttle.is_paused()
    }
}

impl LookupEngine {
    /// Starts the workers; they run until [`LookupEngine::shutdown`].
    pub fn start(store: Arc<dyn Queue>, resolver: DnsblResolver, settings: EngineSettings) -> Self {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let wake = Arc::new(Notify::new());
        let recheck = Arc::new(Notify::new());
        let (health_tx, health_rx) = watch::channel(Health::Starting);
        let throttle = Arc::new(Throttle::new(settings.qps, settings.rate_limit_pause));
        let resolver = Arc::new(resolver);
        let shared = Arc::new(Shared {
            store,
            resolver: resolver.clone(),
            settings,
            throttle: throttle.clone(),
            health: health_rx.clone(),
            recheck: recheck.clone(),
            stop: stop.clone(),
        });

        tasks.spawn(health::monitor(
            resolver,
            shared.settings.health_interval,
            health_tx,
            recheck,
            stop.clone(),
        ));
        tasks.spawn(reclaim_leases(shared.clone()));
        let (results, received) = mpsc::channel(BATCH * 2);
        tasks.spawn(write_outcomes(shared.store.clone(), received));
        let dispatching = Arc::new(AtomicBool::new(true));
        tasks.spawn(dispatch(
            shared,
            wake.clone(),
            results,
            tasks.clone(),
            dispatching.clone(),
        ));
        tasks.close();

        let handle = EngineHandle {
            wake,
            health: health_rx,
            throttle,
            dispatching,
        };
        Self {
            handle,
            stop,
            tasks,
        }
    }

    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Stops claiming, lets lookups in flight finish and be written within `grace`, and
    /// returns jobs not yet started to the queue. Whatever is still running after `grace`
    /// keeps its lease, which runs out and returns it to the queue at the next start.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "lookups still in flight after the grace period; their leases will return them to the queue"
            );
        }
    }
}

/// Starts claimed jobs when there is room in flight, a slot under the rate cap, and the
/// blocklist can be trusted. A claimer task keeps a short queue of claimed jobs ahead, so no
/// lookup waits for the database; with a rate cap that queue holds about a second's worth,
/// so claimed jobs never sit out their leases.
async fn dispatch(
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    results: mpsc::Sender<JobOutcome>,
    tasks: TaskTracker,
    dispatching: Arc<AtomicBool>,
) {
    // Cleared however this ends, a panic included.
    let _running = ClearOnDrop(dispatching);
    let concurrency = shared.settings.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let claim_size = shared
        .settings
        .qps
        .map_or(concurrency * 4, |qps| concurrency.min(qps.get() as usize))
        .clamp(1, BATCH);
    let depth = if shared.settings.qps.is_some() {
        claim_size
    } else {
        claim_size * 2
    };
    let (to_run, mut claimed) = mpsc::channel::<ClaimedJob>(depth);
    let claimer = tasks.spawn(claim_ahead(shared.clone(), wake, to_run, claim_size));
    let mut health = shared.health.clone();
    loop {
        if !shared.may_look_up() {
            // Waiting could outlast the leases: give the claimed jobs back, now and while
            // waiting (a claim may have been under way).
            let ready = async {
                loop {
                    release_waiting(&mut claimed, &results).await;
                    let ready = async {
                        let healthy = health.wait_for(Health::is_healthy).await.is_ok();
                        shared.throttle.pause_passed().await;
                        healthy
                    };
                    if let Ok(healthy) = tokio::time::timeout(Duration::from_secs(1), ready).await {
                        return healthy;
                    }
                }
            };
            tokio::select! {
                biased;
                () = shared.stop.cancelled() => break,
                healthy = ready => if !healthy { break },
            }
            continue;
        }
        let permit = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let job = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            job = claimed.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        if !shared.throttle.try_take_slot() {
            tokio::select! {
                biased;
                () = shared.stop.cancelled() => {
                    release(job, &results).await;
                    break;
                }
                () = shared.throttle.take_slot() => {}
            }
        }
        tasks.spawn(run_job(shared.clone(), job, permit, results.clone()));
    }
    // The claimer stops at the same signal; whatever it claimed last goes back too.
    let _ = claimer.await;
    while let Some(job) = claimed.recv().await {
        release(job, &results).await;
    }
}

struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Keeps the queue of claimed jobs topped up, half a claim at a time.
async fn claim_ahead(
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    to_run: mpsc::Sender<ClaimedJob>,
    claim_size: usize,
) {
    let chunk = (claim_size / 2).max(1);
    let mut health = shared.health.clone();
    loop {
        let room = async {
            let _ = health.wait_for(Health::is_healthy).await;
            shared.throttle.pause_passed().await;
            to_run.reserve_many(chunk).await
        };
        let room = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            room = room => match room {
                Ok(room) => room,
                Err(_) => return,
            },
        };
        let jobs = match claim(&shared, chunk).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim lookup jobs");
                Vec::new()
            }
        };
        let idle = jobs.len() < chunk;
        for (slot, job) in room.zip(jobs) {
            slot.send(job);
        }
        if idle {
            tokio::select! {
                biased;
                () = shared.stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Gives back, untried, the claimed jobs waiting to start.
async fn release_waiting(
    claimed: &mut mpsc::Receiver<ClaimedJob>,
    results: &mpsc::Sender<JobOutcome>,
) {
    while let Ok(job) = claimed.try_recv() {
        release(job, results).await;
    }
}

async fn release(job: ClaimedJob, results: &mpsc::Sender<JobOutcome>) {
    let outcome = JobOutcome {
        job_id: job.id,
        lease_token: job.lease_token,
        address: job.address,
        at: timestamp::now(),
        result: JobResult::Release,
    };
    // The writer outlives the dispatcher; if it is gone the lease returns the job anyway.
    let _ = results.send(outcome).await;
}

async fn claim(shared: &Shared, limit: usize) -> Result<Vec<ClaimedJob>, crate::store::StoreError> {
    let now = timestamp::now();
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    shared
        .store
        .claim_jobs(limit, now, now + shared.settings.lease)
        .await
}

/// Looks one job's address up and sends what became of it to the writer.
async fn run_job(
    shared: Arc<Shared>,
    job: ClaimedJob,
    _permit: OwnedSemaphorePermit,
    results: mpsc::Sender<JobOutcome>,
) {
    // The test points may have failed, or a pause begun, since the job was started: then
    // the job waits in the queue again rather than risk a false answer or more queries.
    let result = if shared.may_look_up() {
        look_up(&shared, &job).await
    } else {
        JobResult::Release
    };
    let outcome = JobOutcome {
        job_id: job.id,
        lease_token: job.lease_token,
        address: job.address,
        at: timestamp::now(),
        result,
    };
    // The writer outlives every job task; if it is gone the lease returns the job anyway.
    let _ = results.send(outcome).await;
}

/// Asks the blocklist. Once the query is sent it finishes (bounded by the DNS timeout), even
/// during shutdown. Every error is retried with backoff until the attempts run out.
async fn look_up(shared: &Shared, job: &ClaimedJob) -> JobResult {
    let started = std::time::Instant::now();
    let answer = shared.resolver.lookup(job.address.ip()).await;
    metrics::histogram!("secworks_dns_lookup_duration_seconds").record(started.elapsed());
    let error = match answer {
        Ok(outcome) => {
            let label = if outcome.is_listed() {
                "listed"
            } else {
                "not_listed"
            };
            metrics::counter!("secworks_lookups_total", "outcome" => label).increment(1);
            return JobResult::Answer(outcome);
        }
        Err(e) => e,
    };
    metrics::counter!("secworks_lookups_total", "outcome" => "error").increment(1);
    if error.is_rate_limited() {
        tracing::warn!(%error, "blocklist asks for fewer queries: pausing all lookups");
        shared.throttle.pause();
    } else if !error.is_retryable() {
        // A refusal that says something is wrong with how we ask (blocked resolver, typo in
        // the zone, bad key): check the test points now, which pauses the queue if so.
        shared.recheck.notify_one();
    }
    let error = error.to_string();
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    if attempts >= shared.settings.max_attempts {
        return JobResult::Fail { error };
    }
    let delay = retry_delay(&shared.settings, attempts);
    let run_after = timestamp::now() + delay;
    JobResult::Retry { error, run_after }
}

/// `retry_base` doubled for each attempt made so far, at most `retry_max`.
fn retry_delay(settings: &EngineSettings, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    settings
        .retry_base
        .saturating_mul(1 << doublings)
        .min(settings.retry_max)
}

/// Writes outcomes in batches: one transaction for as many as have arrived, which is what
/// makes the rate on a single-writer database.
async fn write_outcomes(store: Arc<dyn Queue>, mut received: mpsc::Receiver<JobOutcome>) {
    let mut batch = Vec::with_capacity(BATCH);
    while received.recv_many(&mut batch, BATCH).await > 0 {
        let mut delay = Duration::from_millis(100);
        loop {
            match store.record_outcomes(&batch, timestamp::now()).await {
                Ok(()) => break,
                Err(e) => {
                    // Keep the batch: its jobs are still leased to us, and losing it would
                    // only redo them after the lease, but retrying keeps the work.
                    tracing::error!(error = %e, jobs = batch.len(), "cannot store lookup results; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        batch.clear();
    }
}

/// Returns jobs of dead workers to the queue, at start and then every half lease.
async fn reclaim_leases(shared: Arc<Shared>) {
    let every = (shared.settings.lease / 2).max(Duration::from_millis(100));
    loop {
        match shared.store.reclaim_expired(timestamp::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "returned jobs with expired leases to the queue"),
            Err(e) => tracing::warn!(error = %e, "cannot reclaim expired leases"),
        }
        tokio::select! {
            () = shared.stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let settings = EngineSettings {
            concurrency: 1,
            qps: None,
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            max_attempts: 8,
            health_interval: Duration::from_secs(60),
            rate_limit_pause: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=6)
            .map(|a| retry_delay(&settings, a).as_secs())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
    }
}
