//! Claiming, looking up, and writing results back in batches: one dispatcher per enabled
//! blocklist, each with its own health, rate cap and daily budget, sharing the lookups in
//! flight and one writer.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secworks_dnsbl::{Blocklist, DnsblResolver, ListKey, ListOutcome, ListResponse};
use secworks_store_api::{Evidence, ListAnswer, ListResults, Verdict};
use time::OffsetDateTime;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::budget::{Budget, utc_day};
use super::health::{self, Health};
use super::throttle::Throttle;
use super::writer;
use crate::blocklists::Blocklists;
use crate::store::recent::RecentResults;
use crate::store::{ClaimedJob, JobOutcome, JobResult, Queue};
use crate::timestamp::Clock;

/// How the engine runs; see the README's configuration table.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Lookups in flight at once, across all lists.
    pub concurrency: usize,
    /// Queries per second at most, per list.
    pub qps: Option<NonZeroU32>,
    /// How long a claimed job is ours before another worker may take it back.
    pub lease: Duration,
    /// Delay before the first retry; doubles with each attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
    /// How often each list's test points are checked.
    pub health_interval: Duration,
    /// How long a list's lookups wait after it answers "excessive queries".
    pub rate_limit_pause: Duration,
    /// Bounds on how long an answer counts as fresh, whatever its DNS TTL says.
    pub min_fresh: Duration,
    pub max_fresh: Duration,
}

/// Largest batch claimed or written at once.
pub(super) const BATCH: usize = 2048;
/// How often to look for due retries when nothing wakes a dispatcher.
const POLL: Duration = Duration::from_millis(500);
/// How often a paused list looks again whether it may run (the clock may have moved).
const PAUSED_POLL: Duration = Duration::from_secs(1);
/// How often each list's daily count is read back from the database, where every replica
/// adds to it.
const BUDGET_SYNC: Duration = Duration::from_secs(10);

/// What the rest of the service may ask of a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    workers: Arc<[Arc<Worker>]>,
    dispatching: Arc<AtomicBool>,
    clock: Clock,
}

impl EngineHandle {
    /// The engine's clock: what freshness and daily budgets are judged by.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The UTC day the budgets count in now.
    pub fn today(&self) -> time::Date {
        utc_day(self.clock.now())
    }

    /// Tells the workers that new jobs wait.
    pub fn wake(&self) {
        for worker in self.workers.iter() {
            worker.wake.notify_one();
        }
    }

    /// Whether the workers run, and whether and why each list waits: the one answer the
    /// GraphQL `queueStatus` and `blocklists`, `/readyz` and `/metrics` all give.
    pub fn status(&self) -> LookupStatus {
        let now = self.clock.now();
        let lists: Vec<ListStatus> = self
            .workers
            .iter()
            .map(|worker| ListStatus {
                id: worker.list.id.clone(),
                healthy: worker.health.borrow().is_healthy(),
                pause: worker.pause(now),
                queries_today: worker.budget.spent(now),
            })
            .collect();
        LookupStatus {
            workers_running: self.dispatching.load(Ordering::Relaxed),
            pause: Pause::of_every(&lists),
            lists,
        }
    }
}

/// What the engine is doing, as [`EngineHandle::status`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupStatus {
    /// Whether the workers take jobs: false once shutdown began or the dispatchers ended.
    pub workers_running: bool,
    /// Why lookups wait, when every enabled list waits.
    pub pause: Option<Pause>,
    /// Each enabled list, in catalogue order.
    pub lists: Vec<ListStatus>,
}

/// One enabled list's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStatus {
    pub id: String,
    /// Whether its test points passed at the latest check.
    pub healthy: bool,
    pub pause: Option<Pause>,
    /// Queries sent today (UTC), as far as this replica knows: its own, and the database's
    /// count as of the latest sync.
    pub queries_today: u64,
}

/// Why lookups wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    /// The blocklist's test points have not been checked yet.
    Starting,
    /// The test points fail, so the blocklist's answers cannot be trusted; says how.
    TestPointsFail(String),
    /// The blocklist answered "excessive queries"; its lookups wait a while.
    RateLimited,
    /// The list's daily budget is used up until `until` (the next midnight UTC).
    OverBudget { limit: u64, until: OffsetDateTime },
    /// Every enabled list waits, each for its reason.
    Every(Vec<(String, Pause)>),
}

impl Pause {
    /// The pause of the whole engine: none while any list runs; with one list, its own.
    fn of_every(lists: &[ListStatus]) -> Option<Pause> {
        let paused: Option<Vec<(String, Pause)>> = lists
            .iter()
            .map(|list| list.pause.clone().map(|pause| (list.id.clone(), pause)))
            .collect();
        let mut paused = paused.filter(|paused| !paused.is_empty())?;
        if paused.len() == 1 {
            return paused.pop().map(|(_, pause)| pause);
        }
        if paused.iter().all(|(_, pause)| *pause == Pause::Starting) {
            return Some(Pause::Starting);
        }
        Some(Pause::Every(paused))
    }
}

impl std::fmt::Display for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pause::Starting => f.write_str("checking the blocklist's test points"),
            Pause::TestPointsFail(reason) => f.write_str(reason),
            Pause::RateLimited => f.write_str("the blocklist asked for fewer queries"),
            Pause::OverBudget { limit, until } => write!(
                f,
                "the daily budget of {limit} queries is used up; lookups resume at {}",
                crate::timestamp::format(*until)
            ),
            Pause::Every(lists) => {
                f.write_str("every blocklist waits: ")?;
                for (index, (id, pause)) in lists.iter().enumerate() {
                    if index > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{id}: {pause}")?;
                }
                Ok(())
            }
        }
    }
}

pub struct LookupEngine {
    handle: EngineHandle,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// What every list's tasks share.
pub(super) struct Shared {
    pub(super) queue: Arc<dyn Queue>,
    /// Told of each batch the writer stores, so that no result it replaces answers after.
    pub(super) recent: Arc<RecentResults>,
    pub(super) counts: Arc<dyn ListResults>,
    resolver: Arc<DnsblResolver>,
    pub(super) settings: EngineSettings,
    pub(super) clock: Clock,
    /// Lookups in flight, across all lists.
    permits: Arc<Semaphore>,
    pub(super) stop: CancellationToken,
    /// Counts test-point checks completed, of any list: the writer waits on it to settle the
    /// delistings it holds.
    pub(super) checks: watch::Sender<u64>,
}

/// One enabled list: what its dispatcher, claimer and health monitor share.
pub(super) struct Worker {
    pub(super) list: Blocklist,
    pub(super) key: Option<ListKey>,
    health: watch::Receiver<Health>,
    throttle: Throttle,
    pub(super) budget: Budget,
    /// New jobs wait.
    wake: Notify,
    /// Asks the health monitor to check the test points now.
    pub(super) recheck: Notify,
    /// The latest completed test-point check: when it started, and whether it passed.
    pub(super) last_check: watch::Sender<Option<Check>>,
}

/// A completed test-point check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Check {
    pub(super) started: OffsetDateTime,
    pub(super) passed: bool,
}

impl Worker {
    /// Whether a lookup whose query is already paid for may be sent: the test points pass and
    /// the list has not asked for fewer queries.
    fn may_send(&self) -> bool {
        self.health.borrow().is_healthy() && !self.throttle.is_paused()
    }

    /// Why this list's lookups wait now, if they do.
    fn pause(&self, now: OffsetDateTime) -> Option<Pause> {
        match &*self.health.borrow() {
            Health::Starting => return Some(Pause::Starting),
            Health::Degraded(reason) => return Some(Pause::TestPointsFail(reason.clone())),
            Health::Healthy => {}
        }
        if let (Some(limit), Some(until)) = (self.budget.limit(), self.budget.exhausted_until(now))
        {
            return Some(Pause::OverBudget { limit, until });
        }
        self.throttle.is_paused().then_some(Pause::RateLimited)
    }
}

impl LookupEngine {
    /// Starts one dispatcher per enabled list; they run until [`LookupEngine::shutdown`].
    pub fn start(
        queue: Arc<dyn Queue>,
        counts: Arc<dyn ListResults>,
        recent: Arc<RecentResults>,
        resolver: DnsblResolver,
        lists: &Blocklists,
        settings: EngineSettings,
        clock: Clock,
    ) -> Self {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let resolver = Arc::new(resolver);
        let shared = Arc::new(Shared {
            queue,
            recent,
            counts,
            resolver: resolver.clone(),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
            clock: clock.clone(),
            stop: stop.clone(),
            checks: watch::Sender::new(0),
        });
        let (results, received) = mpsc::channel(BATCH * 2);
        let enabled = lists.enabled().map(|list| list.id.clone()).collect();
        tasks.spawn(reclaim_leases(shared.clone(), enabled));

        let now = clock.now();
        let mut workers = Vec::new();
        let mut monitors = Vec::new();
        for list in lists.enabled() {
            let (health_tx, health_rx) = watch::channel(Health::Starting);
            let worker = Arc::new(Worker {
                key: lists.key(list).cloned(),
                list: list.clone(),
                health: health_rx,
                throttle: Throttle::new(shared.settings.qps, shared.settings.rate_limit_pause),
                budget: Budget::new(lists.daily_budget(list), now),
                wake: Notify::new(),
                recheck: Notify::new(),
                last_check: watch::Sender::new(None),
            });
            monitors.push((worker.clone(), health_tx));
            workers.push(worker);
        }
        let workers: Arc<[Arc<Worker>]> = workers.into();
        tasks.spawn(writer::write_outcomes(
            shared.clone(),
            workers.clone(),
            received,
        ));
        // Before the health checks, so that their first queries count against what other
        // replicas already spent today.
        tasks.spawn(sync_budgets(shared.clone(), workers.clone()));
        for (worker, health_tx) in monitors {
            tasks.spawn(health::monitor(
                shared.clone(),
                worker,
                resolver.clone(),
                health_tx,
            ));
        }
        let dispatching = Arc::new(AtomicBool::new(!workers.is_empty()));
        for worker in workers.iter() {
            tasks.spawn(dispatch(
                shared.clone(),
                worker.clone(),
                results.clone(),
                tasks.clone(),
                dispatching.clone(),
            ));
        }
        tasks.close();

        let handle = EngineHandle {
            workers,
            dispatching,
            clock,
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

/// Clears the "workers running" flag when a dispatcher ends, however it ends (a panic
/// included): that list's jobs would wait forever.
struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Starts `worker`'s claimed jobs when there is room in flight, a slot under its rate cap,
/// budget left today, and its test points pass. A claimer task keeps a short queue of claimed
/// jobs ahead, so no lookup waits for the database; with a rate cap that queue holds about a
/// second's worth, so claimed jobs never sit out their leases.
async fn dispatch(
    shared: Arc<Shared>,
    worker: Arc<Worker>,
    results: mpsc::Sender<JobOutcome>,
    tasks: TaskTracker,
    dispatching: Arc<AtomicBool>,
) {
    let _running = ClearOnDrop(dispatching);
    let concurrency = shared.settings.concurrency.max(1);
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
    let claimer = tasks.spawn(claim_ahead(
        shared.clone(),
        worker.clone(),
        to_run,
        claim_size,
    ));
    loop {
        if worker.pause(shared.clock.now()).is_some() {
            // Waiting could outlast the leases: give the claimed jobs back, now and while
            // waiting (a claim may have been under way).
            release_waiting(&shared, &mut claimed, &results).await;
            tokio::select! {
                biased;
                () = shared.stop.cancelled() => break,
                () = tokio::time::sleep(PAUSED_POLL) => {},
            }
            continue;
        }
        // The job first, then a place in flight: the places are shared by every list, and a
        // list with nothing to do must not hold one.
        let job = tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            job = claimed.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        let permit = tokio::select! {
            biased;
            () = shared.stop.cancelled() => {
                release(&shared, job, &results).await;
                break;
            }
            permit = shared.permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => {
                    release(&shared, job, &results).await;
                    break;
                }
            },
        };
        // The wait for a place may have outlasted the list's health or budget.
        if worker.pause(shared.clock.now()).is_some() {
            release(&shared, job, &results).await;
            continue;
        }
        if !worker.throttle.try_take_slot() {
            tokio::select! {
                biased;
                () = shared.stop.cancelled() => {
                    release(&shared, job, &results).await;
                    break;
                }
                () = worker.throttle.take_slot() => {}
            }
        }
        // The A query; a TXT query for a listing's reason is counted when it is sent.
        if !worker.budget.try_spend(shared.clock.now(), 1) {
            tracing::warn!(
                list = %worker.list.id,
                "blocklist's daily budget is used up: its lookups wait for the next UTC day"
            );
            release(&shared, job, &results).await;
            continue;
        }
        tasks.spawn(run_job(
            shared.clone(),
            worker.clone(),
            job,
            permit,
            results.clone(),
        ));
    }
    // The claimer stops at the same signal; whatever it claimed last goes back too.
    let _ = claimer.await;
    while let Some(job) = claimed.recv().await {
        release(&shared, job, &results).await;
    }
}

/// Keeps the queue of `worker`'s claimed jobs topped up, half a claim at a time.
async fn claim_ahead(
    shared: Arc<Shared>,
    worker: Arc<Worker>,
    to_run: mpsc::Sender<ClaimedJob>,
    claim_size: usize,
) {
    let chunk = (claim_size / 2).max(1);
    loop {
        let room = async {
            while worker.pause(shared.clock.now()).is_some() {
                tokio::time::sleep(PAUSED_POLL).await;
            }
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
        let jobs = match claim(&shared, &worker, chunk).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, list = %worker.list.id, "cannot claim lookup jobs");
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
                () = worker.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Gives back, untried, the claimed jobs waiting to start.
async fn release_waiting(
    shared: &Shared,
    claimed: &mut mpsc::Receiver<ClaimedJob>,
    results: &mpsc::Sender<JobOutcome>,
) {
    while let Ok(job) = claimed.try_recv() {
        release(shared, job, results).await;
    }
}

async fn release(shared: &Shared, job: ClaimedJob, results: &mpsc::Sender<JobOutcome>) {
    let outcome = outcome(job, shared.clock.now(), JobResult::Release, 0);
    // The writer outlives the dispatchers; if it is gone the lease returns the job anyway.
    let _ = results.send(outcome).await;
}

fn outcome(job: ClaimedJob, at: OffsetDateTime, result: JobResult, queries: u64) -> JobOutcome {
    JobOutcome {
        job_id: job.id,
        lease_token: job.lease_token,
        target: job.target,
        blocklist: job.blocklist,
        at,
        result,
        queries,
    }
}

async fn claim(
    shared: &Shared,
    worker: &Worker,
    limit: usize,
) -> Result<Vec<ClaimedJob>, crate::store::StoreError> {
    let now = shared.clock.now();
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    shared
        .queue
        .claim_jobs(&worker.list.id, limit, now, now + shared.settings.lease)
        .await
}

/// Looks one job's target up and sends what became of it to the writer.
async fn run_job(
    shared: Arc<Shared>,
    worker: Arc<Worker>,
    job: ClaimedJob,
    _permit: OwnedSemaphorePermit,
    results: mpsc::Sender<JobOutcome>,
) {
    // The test points may have failed, or a pause begun, since the job was started: then
    // the job waits in the queue again rather than risk a false answer or more queries, and
    // the query it was given back to the budget. (The budget itself is not checked again:
    // this job's query was taken from it.)
    if !worker.may_send() {
        worker.budget.refund(shared.clock.now(), 1);
        release(&shared, job, &results).await;
        return;
    }
    let (result, queries) = look_up(&shared, &worker, &job).await;
    let outcome = outcome(job, shared.clock.now(), result, queries);
    // The writer outlives every job task; if it is gone the lease returns the job anyway.
    let _ = results.send(outcome).await;
}

/// Asks the list. Once the query is sent it finishes (bounded by the DNS timeout), even
/// during shutdown. Every error is retried with backoff until the attempts run out.
async fn look_up(shared: &Shared, worker: &Worker, job: &ClaimedJob) -> (JobResult, u64) {
    let started = std::time::Instant::now();
    let response = shared
        .resolver
        .query_list(&worker.list, worker.key.as_ref(), &job.target)
        .await;
    let list = worker.list.id.clone();
    metrics::histogram!("secworks_dns_lookup_duration_seconds", "blocklist" => list.clone())
        .record(started.elapsed());
    metrics::counter!("secworks_blocklist_queries_total", "blocklist" => list.clone())
        .increment(response.queries);
    let at = shared.clock.now();
    // One query was taken from the budget before sending; a TXT query (or a silent server
    // passed over) may have added more, and a query name that could not be built sent none.
    match response.queries {
        0 => worker.budget.refund(at, 1),
        1 => {}
        more => worker.budget.spend(at, more - 1),
    }
    // An answer counts only if the list's test points still pass: a list that has just
    // started answering NXDOMAIN to everything must not turn its answers into "not listed".
    let trusted = worker.health.borrow().is_healthy();
    let queries = response.queries;
    let ListResponse {
        result,
        reason,
        evidence,
        ..
    } = response;
    let evidence = Evidence {
        resolver: evidence.resolver,
        query_name: evidence.query_name,
        rcode: evidence.rcode,
        ttl: evidence.ttl,
        test_points_passed: trusted,
        answered_at: at,
    };
    let error = match result {
        Ok(outcome) if trusted => {
            let (verdict, return_codes, label) = match outcome {
                ListOutcome::Listed(listings) => {
                    let mut codes: Vec<_> = listings.iter().map(|listing| listing.code).collect();
                    codes.dedup();
                    (Verdict::Listed, codes, "listed")
                }
                ListOutcome::NotListed => (Verdict::NotListed, Vec::new(), "not_listed"),
            };
            metrics::counter!("secworks_lookups_total", "outcome" => label, "blocklist" => list)
                .increment(1);
            let fresh = fresh_for(&shared.settings, evidence.ttl);
            let answer = ListAnswer {
                verdict,
                return_codes,
                reason: if verdict == Verdict::Listed {
                    reason
                } else {
                    None
                },
                expires_at: at + fresh,
                evidence,
            };
            return (JobResult::Answer(answer), queries);
        }
        Ok(_) => format!(
            "blocklist {list}'s test points fail, so its answer is not trusted; it will be asked again"
        ),
        Err(error) => {
            if error.is_rate_limited() {
                tracing::warn!(%error, list = %worker.list.id, "blocklist asks for fewer queries: pausing its lookups");
                worker.throttle.pause();
            } else if error.needs_attention() {
                // An answer that says something is wrong with how we ask (blocked resolver,
                // typo in the zone, bad key): check the test points now, which pauses the
                // list if so.
                worker.recheck.notify_one();
            }
            error.to_string()
        }
    };
    metrics::counter!("secworks_lookups_total", "outcome" => "error", "blocklist" => list)
        .increment(1);
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    let evidence = Some(evidence);
    if attempts >= shared.settings.max_attempts {
        return (JobResult::Fail { error, evidence }, queries);
    }
    let delay = retry_delay(&shared.settings, attempts);
    let run_after = at + delay;
    (
        JobResult::Retry {
            error,
            run_after,
            evidence,
        },
        queries,
    )
}

/// How long an answer with this TTL counts as fresh: the TTL within the configured bounds,
/// the lower bound when it had none.
fn fresh_for(settings: &EngineSettings, ttl: Option<u32>) -> Duration {
    let ttl = ttl.map_or(settings.min_fresh, |ttl| {
        Duration::from_secs(u64::from(ttl))
    });
    ttl.clamp(
        settings.min_fresh,
        settings.max_fresh.max(settings.min_fresh),
    )
}

/// `retry_base` doubled for each attempt made so far, at most `retry_max`.
fn retry_delay(settings: &EngineSettings, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    settings
        .retry_base
        .saturating_mul(1 << doublings)
        .min(settings.retry_max)
}

/// Returns jobs of dead workers to the queue, at start and then every half lease. At start,
/// after the first pass, gives up the jobs of lists that are no longer enabled.
async fn reclaim_leases(shared: Arc<Shared>, enabled: Vec<String>) {
    let every = (shared.settings.lease / 2).max(Duration::from_millis(100));
    let mut first = true;
    loop {
        match shared.queue.reclaim_expired(shared.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "returned jobs with expired leases to the queue"),
            Err(e) => tracing::warn!(error = %e, "cannot reclaim expired leases"),
        }
        if std::mem::take(&mut first) {
            give_up_disabled_lists(&shared, &enabled).await;
        }
        tokio::select! {
            () = shared.stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Fails the pending jobs of lists not enabled here: no worker would ever claim them, and
/// they would keep the queue from ever being idle. (Every replica on a database is meant to
/// enable the same lists.)
async fn give_up_disabled_lists(shared: &Shared, enabled: &[String]) {
    let lists = match shared.queue.pending_lists().await {
        Ok(lists) => lists,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read which blocklists have pending jobs");
            return;
        }
    };
    for list in lists.iter().filter(|list| !enabled.contains(list)) {
        let error = format!(
            "blocklist {list} is not enabled (SECWORKS_BLOCKLISTS), so the lookup was given up"
        );
        match shared
            .queue
            .fail_pending(list, &error, shared.clock.now())
            .await
        {
            Ok(jobs) => tracing::warn!(
                blocklist = %list,
                jobs,
                "gave up the pending lookups of a blocklist that is not enabled"
            ),
            Err(e) => tracing::warn!(error = %e, blocklist = %list, "cannot give up its jobs"),
        }
    }
}

/// Reads each list's count for today from the database now and then, so that what other
/// replicas spent counts here too.
async fn sync_budgets(shared: Arc<Shared>, workers: Arc<[Arc<Worker>]>) {
    loop {
        let now = shared.clock.now();
        let day = utc_day(now);
        match shared.counts.queries_on(day).await {
            Ok(counts) => {
                for (id, queries) in counts {
                    if let Some(worker) = workers.iter().find(|worker| worker.list.id == id) {
                        worker.budget.sync(now, day, queries);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the blocklists' query counts"),
        }
        tokio::select! {
            () = shared.stop.cancelled() => return,
            () = tokio::time::sleep(BUDGET_SYNC) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EngineSettings {
        EngineSettings {
            concurrency: 1,
            qps: None,
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            max_attempts: 8,
            health_interval: Duration::from_secs(60),
            rate_limit_pause: Duration::from_secs(60),
            min_fresh: Duration::from_secs(60),
            max_fresh: Duration::from_secs(3600),
        }
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let settings = settings();
        let delays: Vec<u64> = (1..=6)
            .map(|a| retry_delay(&settings, a).as_secs())
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
    }

    #[test]
    fn freshness_is_the_ttl_within_the_bounds() {
        let settings = settings();
        let fresh = |ttl| fresh_for(&settings, ttl).as_secs();
        assert_eq!(fresh(Some(300)), 300);
        assert_eq!(fresh(Some(5)), 60);
        assert_eq!(fresh(Some(86_400)), 3600);
        assert_eq!(fresh(None), 60);
    }

    #[test]
    fn the_engine_pauses_only_when_every_list_waits() {
        let list = |id: &str, pause: Option<Pause>| ListStatus {
            id: id.to_owned(),
            healthy: pause.is_none(),
            pause,
            queries_today: 0,
        };
        let failing = Pause::TestPointsFail("test point 127.0.0.2 is not listed".into());
        assert_eq!(
            Pause::of_every(&[list("spamhaus-zen", Some(failing.clone()))]),
            Some(failing.clone())
        );
        assert_eq!(
            Pause::of_every(&[
                list("spamhaus-zen", Some(failing.clone())),
                list("spamcop", None)
            ]),
            None
        );
        let every = Pause::of_every(&[
            list("spamhaus-zen", Some(failing.clone())),
            list("spamcop", Some(Pause::RateLimited)),
        ])
        .unwrap();
        assert_eq!(
            every.to_string(),
            "every blocklist waits: spamhaus-zen: test point 127.0.0.2 is not listed; \
             spamcop: the blocklist asked for fewer queries"
        );
        assert_eq!(Pause::of_every(&[]), None);
    }
}
