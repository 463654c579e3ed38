//! A list's re-check plan at one instant: how many queries a day its watched targets need, how
//! many it may spend, how far that stretches their intervals, and how many targets to queue
//! this round. Pure arithmetic over what the store and the engine report.
//!
//! The round's allowance spreads what is left of today's budget evenly over what is left of
//! the day, so a list whose watched targets need more than its budget spends it at a steady
//! rate instead of running dry at noon; queued jobs (the planner's and anyone's) count
//! against it, so a slow or paused list does not pile up work.

use time::{Duration, OffsetDateTime};

use crate::store::ScheduleSummary;
use crate::timestamp::next_midnight;

/// Most targets one round queues for a list with neither a budget nor a rate cap.
pub const UNBOUNDED_ROUND: u64 = 50_000;

const DAY: f64 = 86_400.0;

/// What a list's plan is computed from.
#[derive(Debug, Clone)]
pub struct PlanInputs {
    pub now: OffsetDateTime,
    /// How often the planner runs.
    pub round: Duration,
    /// Queries a UTC day at most; `None` for no limit.
    pub daily_budget: Option<u64>,
    /// Queries the list was sent today, by every process.
    pub queries_today: u64,
    /// Test-point queries a day, which the budget pays for too.
    pub health_per_day: u64,
    /// Queries a second at most; `None` for no cap.
    pub qps: Option<u32>,
    pub schedule: ScheduleSummary,
}

/// A list's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    pub daily_budget: Option<u64>,
    pub queries_today: u64,
    /// Today's queries as they stand plus what the plan expects to send before midnight UTC,
    /// test-point checks included: an estimate, never above the budget.
    pub projected_today: u64,
    /// Watched targets the list takes.
    pub targets: u64,
    /// Of those, due now.
    pub targets_due: u64,
    /// Jobs of the list queued or running.
    pub queued: u64,
    /// Queries a day the watched targets need at their intervals ÷ those the list may spend on
    /// them; above 1 the intervals are stretched by this factor. Infinite when nothing is
    /// left for re-checks.
    pub stretch: f64,
    /// The interval the watched targets get: the longest configured one, stretched. `None`
    /// without watched targets, or when nothing is left for re-checks.
    pub effective_interval: Option<Duration>,
    /// Targets to queue this round.
    pub allowance: u64,
}

impl ListPlan {
    pub fn stretched(&self) -> bool {
        self.stretch > 1.0
    }

    pub fn compute(inputs: &PlanInputs) -> Self {
        let now = inputs.now;
        let schedule = &inputs.schedule;
        let time_left = (next_midnight(now) - now).max(Duration::SECOND);
        let day_left = time_left.as_seconds_f64() / DAY;
        // Test-point checks still to come today: the budget keeps them back.
        let health_reserve = (inputs.health_per_day as f64 * day_left).ceil() as u64;
        let rate_per_day = inputs.qps.map(|qps| u64::from(qps) * DAY as u64);
        let budget_per_day = inputs
            .daily_budget
            .map(|budget| budget.saturating_sub(inputs.health_per_day));
        let capacity = match (budget_per_day, rate_per_day) {
            (Some(budget), Some(rate)) => Some(budget.min(rate)),
            (budget, rate) => budget.or(rate),
        };
        let demand: f64 = schedule
            .by_interval
            .iter()
            .map(|d| d.targets as f64 * DAY / d.interval.as_seconds_f64())
            .sum();
        let stretch = match capacity {
            _ if demand == 0.0 => 0.0,
            Some(0) => f64::INFINITY,
            Some(capacity) => demand / capacity as f64,
            None => 0.0,
        };
        let longest = schedule
            .by_interval
            .iter()
            .filter(|d| d.targets > 0)
            .map(|d| d.interval)
            .max();
        let effective_interval = longest.and_then(|longest| {
            if !stretch.is_finite() {
                return None;
            }
            let stretched = longest.as_seconds_f64() * stretch.max(1.0);
            // Whole minutes, rounded up.
            let minutes = (stretched / 60.0).ceil().min(i64::MAX as f64 / 60.0) as i64;
            Some(Duration::minutes(minutes).max(longest))
        });

        // What is left of today's budget, after the test points' share.
        let remaining = inputs.daily_budget.map(|budget| {
            budget.saturating_sub(inputs.queries_today.saturating_add(health_reserve))
        });
        let round = inputs.round.as_seconds_f64();
        let by_budget = remaining
            .map(|remaining| (remaining as f64 * round / time_left.as_seconds_f64()).ceil() as u64);
        let by_rate = inputs
            .qps
            .map(|qps| (f64::from(qps) * round).floor() as u64);
        let per_round = match (by_budget, by_rate) {
            (Some(budget), Some(rate)) => budget.min(rate),
            (None, None) => UNBOUNDED_ROUND,
            (budget, rate) => budget.or(rate).unwrap_or(UNBOUNDED_ROUND),
        };
        let allowance = per_round
            .saturating_sub(schedule.queued)
            .min(schedule.due());

        // Re-checks expected before midnight: each target due today once, and again every
        // interval that fits in what is left of the day.
        let expected: u64 = schedule
            .by_interval
            .iter()
            .map(|d| {
                let repeats = (time_left.as_seconds_f64() / d.interval.as_seconds_f64()).floor();
                d.due_today.saturating_mul((repeats as u64).max(1))
            })
            .sum();
        let wanted = schedule.queued.saturating_add(expected);
        let sent = match remaining {
            Some(remaining) => wanted.min(remaining),
            None => wanted,
        };
        let projected_today = inputs
            .queries_today
            .saturating_add(health_reserve)
            .saturating_add(sent);
        let projected_today = match inputs.daily_budget {
            Some(budget) => projected_today.min(budget.max(inputs.queries_today)),
            None => projected_today,
        };

        Self {
            daily_budget: inputs.daily_budget,
            queries_today: inputs.queries_today,
            projected_today,
            targets: schedule.targets(),
            targets_due: schedule.due(),
            queued: schedule.queued,
            stretch,
            effective_interval,
            allowance,
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::store::rechecks::IntervalDemand;

    fn inputs(now: OffsetDateTime, budget: Option<u64>, targets: u64, due: u64) -> PlanInputs {
        PlanInputs {
            now,
            round: Duration::seconds(30),
            daily_budget: budget,
            queries_today: 0,
            health_per_day: 0,
            qps: None,
            schedule: ScheduleSummary {
                by_interval: vec![IntervalDemand {
                    interval: Duration::hours(6),
                    targets,
                    due,
                    due_today: due,
                }],
                queued: 0,
            },
        }
    }

    const MIDNIGHT: OffsetDateTime = datetime!(2026-11-30 00:00 UTC);

    #[test]
    fn within_budget_every_due_target_is_taken_at_its_interval() {
        // 1,000 targets every 6 h need 4,000 queries a day; the budget is 10,000.
        let plan = ListPlan::compute(&inputs(MIDNIGHT, Some(10_000), 1_000, 1_000));
        assert!(!plan.stretched());
        assert_eq!(plan.effective_interval, Some(Duration::hours(6)));
        // 30 s of the day's 10,000: 4 a round, rounded up.
        assert_eq!(plan.allowance, 4);
        assert_eq!(plan.targets_due, 1_000);
    }

    #[test]
    fn beyond_the_budget_intervals_stretch_and_rounds_spend_it_evenly() {
        // 100,000 targets every 6 h need 400,000 a day against 10,000: stretched 40×.
        let plan = ListPlan::compute(&inputs(MIDNIGHT, Some(10_000), 100_000, 100_000));
        assert!(plan.stretched());
        assert!((plan.stretch - 40.0).abs() < 1e-9);
        assert_eq!(plan.effective_interval, Some(Duration::hours(240)));
        assert_eq!(plan.allowance, 4);
        assert_eq!(plan.projected_today, 10_000);
        // At noon with 9,990 of 10,000 spent, the rest of the day gets 10, a round far less.
        let mut noon = inputs(
            MIDNIGHT + Duration::hours(12),
            Some(10_000),
            100_000,
            100_000,
        );
        noon.queries_today = 9_990;
        let plan = ListPlan::compute(&noon);
        assert_eq!(plan.allowance, 1);
        noon.queries_today = 10_000;
        assert_eq!(ListPlan::compute(&noon).allowance, 0);
    }

    #[test]
    fn queued_jobs_and_the_rate_cap_limit_a_round() {
        let mut free = inputs(MIDNIGHT, None, 200_000, 200_000);
        assert_eq!(ListPlan::compute(&free).allowance, UNBOUNDED_ROUND);
        free.schedule.queued = 49_000;
        assert_eq!(ListPlan::compute(&free).allowance, 1_000);
        free.schedule.queued = 0;
        free.qps = Some(3);
        let plan = ListPlan::compute(&free);
        assert_eq!(plan.allowance, 90);
        // 200,000 every 6 h against 3/s all day: 800,000 / 259,200.
        assert!(plan.stretched());
    }

    #[test]
    fn test_points_are_paid_for_first() {
        let mut tight = inputs(MIDNIGHT, Some(2_880), 10, 10);
        tight.health_per_day = 2_880;
        let plan = ListPlan::compute(&tight);
        assert_eq!(plan.allowance, 0);
        assert!(plan.stretch.is_infinite());
        assert_eq!(plan.effective_interval, None);
    }

    #[test]
    fn no_targets_no_plan() {
        let plan = ListPlan::compute(&inputs(MIDNIGHT, Some(10_000), 0, 0));
        assert_eq!((plan.allowance, plan.targets), (0, 0));
        assert!(!plan.stretched());
        assert_eq!(plan.effective_interval, None);
        assert_eq!(plan.projected_today, 0);
    }
}
