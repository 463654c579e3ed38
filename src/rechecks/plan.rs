//! A list's re-check plan at one instant: how many queries a day its watched targets need, how
//! many it may spend, whether they fall behind their intervals and by how much, and how many
//! targets to queue this round. Pure arithmetic over what the store and the engine report.
//!
//! A budget is spent along a line: by any instant of the UTC day, at most the share of the
//! daily budget that the part of the day gone by (and the round about to run) stands for. The
//! line counts every query the list was sent, lookups anyone queued and test-point checks
//! alike, so a list whose watched targets need more than its budget spends it at a steady pace
//! instead of running dry in the morning, a quiet morning's share is there for the afternoon
//! (while the targets need more than the budget, at no more than twice the even pace), and
//! queued jobs count against it, so a slow or paused list does not pile up work.

use time::{Duration, OffsetDateTime};

use crate::store::ScheduleSummary;
use crate::timestamp::next_midnight;

/// Most targets one round queues for a list with neither a budget nor a rate cap.
pub const UNBOUNDED_ROUND: u64 = 50_000;
/// How much faster than the budget's even pace a list may go while it catches up on a share of
/// its budget left unspent earlier in the day.
const CATCH_UP_PACE: f64 = 2.0;
/// How long the longest-waiting target may be overdue before the plan says the list is behind
/// (besides three rounds): a new watchlist's targets, all due at once, take a while to queue.
const GRACE: Duration = Duration::minutes(5);

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
    /// test-point checks included: an estimate, within the budget and the rate cap.
    pub projected_today: u64,
    /// Watched targets the list takes.
    pub targets: u64,
    /// Of those, due now.
    pub targets_due: u64,
    /// Jobs of the list queued or running.
    pub queued: u64,
    /// Queries a day the watched targets need at their intervals ÷ those the budget and rate
    /// cap leave them; above 1 their intervals stretch by this factor. Infinite when nothing is
    /// left for re-checks.
    pub stretch: f64,
    /// How long the target that has waited longest is overdue.
    pub overdue: Duration,
    /// Whether the targets are re-checked less often than their intervals ask: they need more
    /// than the list can give, or they have fallen behind (a pause, a budget spent by other
    /// lookups, a queue that does not drain).
    pub stretched: bool,
    /// The interval the watched targets get: the longest configured one, or while stretched,
    /// that stretched, or overdue, whichever is more (whole minutes). `None` without watched
    /// targets, or when nothing is left for re-checks.
    pub effective_interval: Option<Duration>,
    /// Targets to queue this round.
    pub allowance: u64,
    /// The longest interval its watchlists ask for (`None` without watched targets).
    pub interval: Option<Duration>,
}

impl ListPlan {
    /// The effective interval over the one asked for: 1 while the targets are re-checked on
    /// time, infinite when nothing is left for re-checks.
    pub fn slowdown(&self) -> f64 {
        match (self.interval, self.effective_interval) {
            (Some(asked), Some(effective)) => {
                effective.as_seconds_f64() / asked.as_seconds_f64().max(1.0)
            }
            (Some(_), None) => f64::INFINITY,
            (None, _) => 1.0,
        }
    }

    pub fn compute(inputs: &PlanInputs) -> Self {
        let now = inputs.now;
        let schedule = &inputs.schedule;
        let midnight = next_midnight(now);
        let time_left = (midnight - now).max(Duration::SECOND);
        let elapsed = Duration::DAY - time_left;
        let horizon = inputs.round.min(time_left);

        // Demand against what a day leaves for re-checks.
        let capacity = min_present(
            inputs
                .daily_budget
                .map(|budget| budget.saturating_sub(inputs.health_per_day)),
            inputs.qps.map(|qps| u64::from(qps) * DAY as u64),
        );
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
        let overdue = schedule
            .oldest_due
            .filter(|&due| due < now)
            .map_or(Duration::ZERO, |due| now - due);
        let grace = GRACE.max(inputs.round * 3);
        let stretched = stretch > 1.0 || overdue > grace;
        let longest = schedule
            .by_interval
            .iter()
            .filter(|d| d.targets > 0)
            .map(|d| d.interval)
            .max();
        let effective_interval = match longest {
            None => None,
            Some(_) if !stretch.is_finite() => None,
            Some(longest) if !stretched => Some(longest),
            Some(longest) => {
                let by_stretch = longest.as_seconds_f64() * stretch.max(1.0);
                let seconds = by_stretch.max((longest + overdue).as_seconds_f64());
                let minutes = (seconds / 60.0).ceil().min(i64::MAX as f64 / 60.0) as i64;
                Some(Duration::minutes(minutes).max(longest))
            }
        };

        // This round's room: up to the budget's line at the round's end, less the test-point
        // checks due meanwhile; and what the rate cap lets through in a round.
        let share = |part: Duration| part.as_seconds_f64() / DAY;
        let health_meanwhile = inputs.health_per_day as f64 * share(horizon);
        let by_budget = inputs.daily_budget.map(|budget| {
            let line = budget as f64 * share(elapsed + horizon).min(1.0);
            let below_line = (line - inputs.queries_today as f64 - health_meanwhile)
                .floor()
                .max(0.0) as u64;
            // While the targets need more than the budget, a share left unspent (a quiet
            // morning, a process started at noon) is caught up at no more than CATCH_UP_PACE
            // times the even pace, not in one burst. Within the budget, what is due is taken.
            if stretch > 1.0 {
                let catch_up = (CATCH_UP_PACE * budget as f64 * share(horizon)).ceil() as u64;
                below_line.min(catch_up)
            } else {
                below_line
            }
        });
        let by_rate = inputs
            .qps
            .map(|qps| (f64::from(qps) * horizon.as_seconds_f64()).floor() as u64);
        let room = min_present(by_budget, by_rate).unwrap_or(UNBOUNDED_ROUND);
        let allowance = room.saturating_sub(schedule.queued).min(schedule.due());

        // Re-checks expected before midnight: each target due today once, and again every
        // interval that fits in what is left of the day; what is queued; within the rate cap.
        let expected: u64 = schedule
            .by_interval
            .iter()
            .map(|d| {
                let repeats = (time_left.as_seconds_f64() / d.interval.as_seconds_f64()).floor();
                d.due_today.saturating_mul((repeats as u64).max(1))
            })
            .sum();
        let health_rest = (inputs.health_per_day as f64 * share(time_left)).ceil() as u64;
        let mut wanted = schedule.queued.saturating_add(expected);
        if let Some(qps) = inputs.qps {
            let most = u64::from(qps).saturating_mul(time_left.whole_seconds().max(0) as u64);
            wanted = wanted.min(most);
        }
        let projected = inputs
            .queries_today
            .saturating_add(health_rest)
            .saturating_add(wanted);
        let projected_today = match inputs.daily_budget {
            Some(budget) => projected.min(budget.max(inputs.queries_today)),
            None => projected,
        };

        Self {
            daily_budget: inputs.daily_budget,
            queries_today: inputs.queries_today,
            projected_today,
            targets: schedule.targets(),
            targets_due: schedule.due(),
            queued: schedule.queued,
            stretch,
            overdue,
            stretched,
            effective_interval,
            allowance,
            interval: longest,
        }
    }
}

/// The smaller of two limits, either of which may be absent.
fn min_present(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::store::rechecks::IntervalDemand;

    const MIDNIGHT: OffsetDateTime = datetime!(2026-11-30 00:00 UTC);

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
                oldest_due: (targets > 0).then_some(now),
            },
        }
    }

    #[test]
    fn within_budget_every_due_target_is_taken_at_its_interval() {
        // 1,000 targets every 6 h need 4,000 queries a day of 10,000; at 06:00 the line allows
        // 2,500 and a round more.
        let plan = ListPlan::compute(&inputs(
            MIDNIGHT + Duration::hours(6),
            Some(10_000),
            1_000,
            1_000,
        ));
        assert!(!plan.stretched);
        assert_eq!(plan.effective_interval, Some(Duration::hours(6)));
        assert_eq!(plan.allowance, 1_000);
        assert_eq!(plan.targets_due, 1_000);
    }

    #[test]
    fn beyond_the_budget_intervals_stretch_and_the_budget_is_spent_along_the_day() {
        // 100,000 targets every 6 h need 400,000 a day against 10,000: stretched 40×.
        let at = |hours: i64, spent: u64| {
            let mut inputs = inputs(
                MIDNIGHT + Duration::hours(hours),
                Some(10_000),
                100_000,
                100_000,
            );
            inputs.queries_today = spent;
            ListPlan::compute(&inputs)
        };
        let plan = at(0, 0);
        assert!(plan.stretched);
        assert!((plan.stretch - 40.0).abs() < 1e-9);
        assert_eq!(plan.effective_interval, Some(Duration::hours(240)));
        assert!((plan.slowdown() - 40.0).abs() < 1e-9);
        // 30 s of the day's 10,000: 3.47, so 3 now; the fraction waits for the next round.
        assert_eq!(plan.allowance, 3);
        assert_eq!(plan.projected_today, 10_000);
        // At noon half the budget is the line: what was not spent in the morning is there,
        // caught up at twice the even pace (7 a round of 30 s).
        assert_eq!(at(12, 4_000).allowance, 7);
        assert_eq!(at(12, 4_995).allowance, 7);
        assert_eq!(at(12, 5_000).allowance, 3);
        assert_eq!(at(12, 5_010).allowance, 0);
        // The last round of the day may take what is left, and no more.
        let mut last = inputs(
            MIDNIGHT + Duration::hours(24) - Duration::seconds(10),
            Some(10_000),
            100_000,
            100_000,
        );
        last.queries_today = 9_998;
        assert_eq!(ListPlan::compute(&last).allowance, 2);
    }

    #[test]
    fn short_rounds_pace_the_same_as_long_ones() {
        // Rounds of 100 ms, a day of them: never more than the line, whatever the rounding.
        let mut spent = 0;
        let mut now = MIDNIGHT;
        while now < MIDNIGHT + Duration::hours(3) {
            let mut round = inputs(now, Some(10_000), 100_000, 100_000);
            round.round = Duration::milliseconds(100);
            round.queries_today = spent;
            spent += ListPlan::compute(&round).allowance;
            now += Duration::milliseconds(100);
        }
        // Three hours are an eighth of the day: 1,250, give or take a query.
        assert!((1_249..=1_251).contains(&spent), "{spent}");
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
        assert!(plan.stretched);
        // Never more than the rate cap lets through before midnight.
        free.now = MIDNIGHT + Duration::hours(23);
        assert_eq!(ListPlan::compute(&free).projected_today, 3 * 3_600);
    }

    #[test]
    fn test_points_are_paid_for_first() {
        let mut tight = inputs(MIDNIGHT + Duration::hours(12), Some(2_880), 10, 10);
        tight.health_per_day = 2_880;
        tight.queries_today = 1_440;
        let plan = ListPlan::compute(&tight);
        assert_eq!(plan.allowance, 0);
        assert!(plan.stretch.is_infinite());
        assert_eq!(plan.effective_interval, None);
        assert!(plan.slowdown().is_infinite());
    }

    #[test]
    fn falling_behind_is_reported_as_a_stretch() {
        // Within its budget, but the oldest target has waited two hours (a pause, or a budget
        // spent by other lookups).
        let mut behind = inputs(MIDNIGHT + Duration::hours(12), Some(10_000), 1_000, 1_000);
        behind.schedule.oldest_due = Some(behind.now - Duration::hours(2));
        let plan = ListPlan::compute(&behind);
        assert!(plan.stretch < 1.0);
        assert!(plan.stretched);
        assert_eq!(plan.effective_interval, Some(Duration::hours(8)));
        assert!((plan.slowdown() - 8.0 / 6.0).abs() < 1e-9);
        // A few minutes are the time a new watchlist takes to be queued.
        behind.schedule.oldest_due = Some(behind.now - Duration::minutes(4));
        let plan = ListPlan::compute(&behind);
        assert!(!plan.stretched);
        assert_eq!(plan.effective_interval, Some(Duration::hours(6)));
    }

    #[test]
    fn no_targets_no_plan() {
        let plan = ListPlan::compute(&inputs(MIDNIGHT, Some(10_000), 0, 0));
        assert_eq!((plan.allowance, plan.targets), (0, 0));
        assert!(!plan.stretched);
        assert_eq!(plan.effective_interval, None);
        assert_eq!(plan.projected_today, 0);
        assert_eq!(plan.slowdown(), 1.0);
    }
}
