//! The resolver of `recheckPlan`: each enabled list's re-check plan, as the planner works it
//! out (see [`crate::rechecks`]).

use super::generated::BlocklistPlan;
use super::resolvers::{Resolvers, clamp_u64, internal};
use crate::rechecks::ListPlan;
use crate::timestamp;

impl Resolvers {
    pub(super) async fn recheck_plans(&self) -> async_graphql::Result<Vec<BlocklistPlan>> {
        let plans = self.planner.plans().await.map_err(internal)?;
        Ok(plans
            .into_iter()
            .map(|(blocklist, plan)| shown(blocklist, &plan))
            .collect())
    }
}

fn shown(blocklist: String, plan: &ListPlan) -> BlocklistPlan {
    let effective_interval = match plan.effective_interval {
        Some(interval) => timestamp::format_interval(interval),
        None if plan.targets == 0 => "none".to_owned(),
        None => "never".to_owned(),
    };
    BlocklistPlan {
        blocklist,
        daily_budget: plan.daily_budget.map(clamp_u64),
        queries_today: clamp_u64(plan.queries_today),
        projected_today: clamp_u64(plan.projected_today),
        targets_due: clamp_u64(plan.targets_due),
        effective_interval,
        stretched: plan.stretched,
    }
}
