//! The re-check planner: queues the watched targets that fall due on each enabled list, within
//! the list's daily budget and rate, so that monitoring never spends past either.
//!
//! Every process runs the planner; per list, one at a time plans (a claim in the database,
//! renewed each round and taken over when its holder stops renewing), so a budget is spent
//! once. A round brings the list's schedule in line with the watchlists, works out its plan
//! ([`plan`]), and takes that many due targets: listed and recently changed ones first, then
//! the longest due. The jobs go to the same queue as `enqueue`'s, for the engine to look up.

mod plan;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use secworks_dnsbl::Blocklist;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use plan::{ListPlan, PlanInputs, UNBOUNDED_ROUND};

use crate::blocklists::Blocklists;
use crate::lookup::EngineHandle;
use crate::store::{Rechecks, StoreError};
use crate::timestamp::next_midnight;

/// A listing event this recent puts a target first in line, like a listing.
pub const PRIORITY_WINDOW: time::Duration = time::Duration::DAY;
/// Takes of due targets one round makes at most when some turn out fresh (they cost nothing,
/// so the round takes more).
const MAX_TAKES: usize = 8;
/// The shortest planning claim: a slow round (a schedule brought in line with a million
/// targets) must not outlast its own claim.
const MIN_LEASE: time::Duration = time::Duration::MINUTE;
/// How soon the next round comes when a list without a budget or rate cap had more due than
/// one round queues.
const CATCH_UP: Duration = Duration::from_millis(250);

/// How the planner runs; see the README's configuration table.
#[derive(Debug, Clone)]
pub struct RecheckSettings {
    /// How often each list's due targets are planned.
    pub round: Duration,
    /// The engine's rate cap per list, which the plan keeps to.
    pub qps: Option<NonZeroU32>,
    /// How often the engine checks each list's test points: the budget pays for those too.
    pub health_interval: Duration,
}

/// What one round did for one list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRound {
    pub blocklist: String,
    pub plan: ListPlan,
    /// Targets queued.
    pub queued: u64,
    /// Targets whose fresh answer stood.
    pub fresh: u64,
}

/// The planner of one process.
#[derive(Clone)]
pub struct Planner {
    store: Arc<dyn Rechecks>,
    blocklists: Arc<Blocklists>,
    engine: EngineHandle,
    settings: RecheckSettings,
    /// Who this process is in the planning claims.
    holder: Arc<str>,
    /// Each list's plan at this process's latest round of it, for /metrics.
    latest: Arc<Mutex<BTreeMap<String, ListPlan>>>,
    /// Wakes the planning loop early.
    wake: Arc<Notify>,
}

impl Planner {
    pub fn new(
        store: Arc<dyn Rechecks>,
        blocklists: Arc<Blocklists>,
        engine: EngineHandle,
        settings: RecheckSettings,
    ) -> Self {
        Self {
            store,
            blocklists,
            engine,
            settings,
            holder: uuid::Uuid::new_v4().to_string().into(),
            latest: Arc::default(),
            wake: Arc::default(),
        }
    }

    /// Each enabled list's plan now, in catalogue order: what `recheckPlan` shows. Reads
    /// only; the schedule is as the latest round (of whichever process plans the list) left
    /// it.
    pub async fn plans(&self) -> Result<Vec<(String, ListPlan)>, StoreError> {
        let now = self.engine.now();
        let mut plans = Vec::new();
        for list in self.blocklists.enabled() {
            plans.push((list.id.clone(), self.plan(list, now).await?));
        }
        Ok(plans)
    }

    /// Each list's plan at this process's latest round of it, for the lists it plans.
    pub fn latest(&self) -> BTreeMap<String, ListPlan> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks for a round now (the watchlists changed), rather than at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// One round at `now`: each enabled list this process may plan is brought in line with
    /// the watchlists and given its allowance of due targets. Lists another process plans are
    /// left to it. A list whose store calls fail is skipped and the others planned; the first
    /// error is returned after all were tried.
    pub async fn round(&self, now: OffsetDateTime) -> Result<Vec<ListRound>, StoreError> {
        let mut rounds = Vec::new();
        let mut first_error = None;
        for list in self.blocklists.enabled() {
            match self.round_of(list, now).await {
                Ok(Some(round)) => rounds.push(round),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(blocklist = %list.id, %error, "re-check planning failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        if rounds.iter().any(|round| round.queued > 0) {
            self.engine.wake();
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(rounds),
        }
    }

    /// One list's round; `None` when another process plans it.
    async fn round_of(
        &self,
        list: &Blocklist,
        now: OffsetDateTime,
    ) -> Result<Option<ListRound>, StoreError> {
        let lease = time::Duration::try_from(self.settings.round.saturating_mul(3))
            .unwrap_or(MIN_LEASE)
            .max(MIN_LEASE);
        if !self
            .store
            .claim_planning(&list.id, &self.holder, now, now + lease)
            .await?
        {
            // Its plan is the holder's to show now.
            self.latest
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&list.id);
            return Ok(None);
        }
        self.store
            .sync_schedule(&list.id, &Blocklists::kinds(list), now)
            .await?;
        let mut plan = self.plan(list, now).await?;
        // A paused list (failing test points, rate limited, out of budget) would only hold
        // the jobs; its targets wait in the schedule instead, and the plan shows them overdue.
        let paused = self
            .engine
            .status()
            .lists
            .iter()
            .any(|status| status.id == list.id && status.pause.is_some());
        if paused {
            plan.allowance = 0;
        }
        let (mut queued, mut fresh) = (0, 0);
        for _ in 0..MAX_TAKES {
            if queued >= plan.allowance {
                break;
            }
            let taken = self
                .store
                .take_due(
                    &list.id,
                    plan.allowance - queued,
                    now,
                    now - PRIORITY_WINDOW,
                )
                .await?;
            queued += taken.queued;
            fresh += taken.fresh;
            if taken.fresh == 0 {
                break;
            }
        }
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(list.id.clone(), plan.clone());
        Ok(Some(ListRound {
            blocklist: list.id.clone(),
            plan,
            queued,
            fresh,
        }))
    }

    async fn plan(&self, list: &Blocklist, now: OffsetDateTime) -> Result<ListPlan, StoreError> {
        let schedule = self
            .store
            .schedule_summary(&list.id, now, next_midnight(now))
            .await?;
        let queries_today = self
            .engine
            .status()
            .lists
            .into_iter()
            .find(|status| status.id == list.id)
            .map_or(0, |status| status.queries_today);
        let checks_per_day = 86_400 / self.settings.health_interval.as_secs().max(1);
        Ok(ListPlan::compute(&PlanInputs {
            now,
            round: time::Duration::try_from(self.settings.round).unwrap_or(time::Duration::MINUTE),
            daily_budget: self.blocklists.daily_budget(list),
            queries_today,
            health_per_day: checks_per_day * list.test_points.len() as u64,
            qps: self.settings.qps.map(NonZeroU32::get),
            schedule,
        }))
    }

    /// Runs a round every `round` until `stop` (sooner when woken, or while a list without
    /// limits has more due than a round takes), then gives up its claims so that another
    /// process plans those lists at once. A round cut short by `stop` loses nothing: each of
    /// its store calls is one transaction, and what it did not queue stays due.
    pub fn start(self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let rounds = tokio::select! {
                    () = stop.cancelled() => break,
                    rounds = self.round(self.engine.now()) => rounds,
                };
                let pause = match &rounds {
                    Ok(rounds) if rounds.iter().any(catching_up) => CATCH_UP,
                    _ => self.settings.round,
                };
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
            if let Err(error) = self.store.release_planning(&self.holder).await {
                tracing::warn!(%error, "could not give up the planning claims; they run out");
            }
        })
    }
}

/// Whether a list had more due than its round took, with nothing but the round's size
/// holding it back.
fn catching_up(round: &ListRound) -> bool {
    round.plan.daily_budget.is_none()
        && round.queued >= round.plan.allowance
        && round.plan.allowance > 0
        && round.plan.targets_due > round.queued + round.fresh
}
