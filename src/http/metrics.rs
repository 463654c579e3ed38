//! `GET /metrics`: Prometheus text format, from the `metrics` facade's global recorder.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};

use super::AppState;
use crate::rechecks::ListPlan;
use crate::store::Verdict;

/// The most `secworks_target_listed` series one scrape serves (`SECWORKS_METRICS_PER_TARGET`);
/// past it the scrape leaves them all out and logs a warning.
pub const MAX_TARGET_SERIES: u64 = 100_000;

/// Latency buckets, in seconds: from a cached read to a slow DNS answer.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder, installed on first use. Every server in the process reports
/// into it (one in production; several in the tests).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "secworks_http_requests_total",
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(
        "secworks_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route."
    );
    describe_gauge!("secworks_http_connections", "HTTP connections open now.");
    describe_gauge!(
        "secworks_revocations_kept",
        "Revocations of unexpired tokens this server keeps in memory for the bearer check."
    );
    describe_counter!(
        "secworks_http_connections_closed_total",
        "HTTP connections closed by the server for holding a slot without using it, by reason: \
         header_timeout, no_request or idle."
    );
    describe_counter!(
        "secworks_http_connection_waits_total",
        "Times a new connection had to wait because SECWORKS_MAX_CONNECTIONS were open."
    );
    describe_counter!(
        "secworks_http_accept_errors_total",
        "Connections that could not be accepted (usually: out of file descriptors)."
    );
    describe_counter!(
        "secworks_lookups_total",
        "Blocklist lookups, by outcome (listed, not_listed or error) and blocklist."
    );
    describe_gauge!(
        "secworks_blocklist_paused",
        "1 while a blocklist's lookups wait (test points failing, rate-limit pause, budget used up)."
    );
    describe_gauge!(
        "secworks_blocklist_queries_today",
        "Queries sent to a blocklist today (UTC), as this replica knows them."
    );
    describe_gauge!(
        "secworks_blocklist_healthy",
        "1 while a blocklist's test points passed at the latest check, else 0."
    );
    describe_gauge!(
        "secworks_blocklist_budget_remaining",
        "Queries a blocklist may still be sent today (UTC): its daily budget less the queries \
         sent today; only for lists with a budget."
    );
    describe_counter!(
        "secworks_blocklist_queries_total",
        "DNS queries sent to a blocklist by this process: lookups (TXT queries included) and \
         test point checks."
    );
    describe_histogram!(
        "secworks_dns_lookup_duration_seconds",
        Unit::Seconds,
        "Time for a blocklist to answer one lookup (or to fail), by blocklist."
    );
    describe_counter!(
        "secworks_login_failures_total",
        "Refused logins, by reason: bad_credentials or throttled."
    );
    describe_counter!(
        "secworks_webhook_deliveries_total",
        "Webhook delivery attempts, by outcome: delivered (2xx), rejected (another status) or \
         failed (no answer)."
    );
    describe_gauge!(
        "secworks_lookup_jobs",
        "Lookup jobs by state (pending, running, done, failed), read at scrape time."
    );
    describe_gauge!(
        "secworks_lookups_paused",
        "1 while lookups are paused (test points failing or a rate-limit pause), else 0."
    );
}

#[handler]
pub async fn render(Data(state): Data<&Arc<AppState>>) -> Response {
    match state.queue.queue_counts().await {
        Ok(counts) => {
            for (label, count) in [
                ("pending", counts.pending),
                ("running", counts.running),
                ("done", counts.done),
                ("failed", counts.failed),
            ] {
                metrics::gauge!("secworks_lookup_jobs", "state" => label).set(count as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count lookup jobs"),
    }
    let status = state.engine.status();
    metrics::gauge!("secworks_lookups_paused").set(f64::from(u8::from(status.pause.is_some())));
    for list in status.lists {
        let paused = f64::from(u8::from(list.pause.is_some()));
        metrics::gauge!("secworks_blocklist_paused", "blocklist" => list.id.clone()).set(paused);
        let healthy = f64::from(u8::from(list.healthy));
        metrics::gauge!("secworks_blocklist_healthy", "blocklist" => list.id.clone()).set(healthy);
        let budget = state
            .blocklists
            .get(&list.id)
            .and_then(|catalogued| state.blocklists.daily_budget(catalogued));
        if let Some(budget) = budget {
            let remaining = budget.saturating_sub(list.queries_today);
            metrics::gauge!("secworks_blocklist_budget_remaining", "blocklist" => list.id.clone())
                .set(remaining as f64);
        }
        metrics::gauge!("secworks_blocklist_queries_today", "blocklist" => list.id)
            .set(list.queries_today as f64);
    }
    let mut body = handle().render();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    plan_series(state, &mut body);
    if state.metrics_per_target {
        target_series(state, &mut body).await;
    }
    Response::builder()
        .status(StatusCode::OK)
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// A plan series: its name, its help text, and its value in a plan.
type PlanSeries = (&'static str, &'static str, fn(&ListPlan) -> f64);

/// The re-check plans of the lists this process plans, written straight into the body: after
/// another process takes a list over, only that one serves its series.
fn plan_series(state: &AppState, body: &mut String) {
    let plans = state.planner.latest();
    if plans.is_empty() {
        return;
    }
    let series: [PlanSeries; 3] = [
        (
            "secworks_blocklist_recheck_stretch",
            "How far the re-check planner stretches a blocklist's watched intervals: the \
             effective interval over the one the watchlists ask for (the targets need more \
             queries than the budget and rate cap leave, or they fell behind); 1 while every \
             interval holds, +Inf when test-point checks take the whole budget. Served by the \
             process that plans the list.",
            ListPlan::slowdown,
        ),
        (
            "secworks_blocklist_recheck_due",
            "Watched targets due for a re-check on a blocklist, at the planner's latest round.",
            |plan| plan.targets_due as f64,
        ),
        (
            "secworks_blocklist_watched_targets",
            "Watched addresses and domains a blocklist answers for, at the planner's latest \
             round.",
            |plan| plan.targets as f64,
        ),
    ];
    for (name, help, value) in series {
        let _ = writeln!(body, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (list, plan) in &plans {
            let value = value(plan);
            let value = if value.is_infinite() {
                "+Inf".to_owned()
            } else {
                value.to_string()
            };
            let _ = writeln!(
                body,
                "{name}{{blocklist=\"{}\"}} {value}",
                label_value(list)
            );
        }
    }
}

/// `secworks_target_listed{target,blocklist}`, read from the store at each scrape and written
/// straight into the body rather than kept in the recorder: a target that leaves every
/// watchlist (or a list disabled) leaves no stale series behind.
async fn target_series(state: &AppState, body: &mut String) {
    let enabled: Vec<&str> = state.blocklists.enabled().map(|l| l.id.as_str()).collect();
    let verdicts = match state
        .watchlists
        .watched_verdicts(&enabled, MAX_TARGET_SERIES + 1)
        .await
    {
        Ok(verdicts) => verdicts,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the watched targets' results");
            return;
        }
    };
    if verdicts.len() as u64 > MAX_TARGET_SERIES {
        tracing::warn!(
            max = MAX_TARGET_SERIES,
            "metrics: the watched targets have more than {MAX_TARGET_SERIES} results on the \
             enabled lists; secworks_target_listed is left out (watch fewer targets, or turn \
             SECWORKS_METRICS_PER_TARGET off)"
        );
        return;
    }
    if verdicts.is_empty() {
        return;
    }
    body.push_str(
        "# HELP secworks_target_listed 1 while a watched target is listed by a blocklist, 0 \
         while the list answered that it is not (SECWORKS_METRICS_PER_TARGET).\n\
         # TYPE secworks_target_listed gauge\n",
    );
    for verdict in verdicts {
        let _ = writeln!(
            body,
            "secworks_target_listed{{target=\"{}\",blocklist=\"{}\"}} {}",
            label_value(&verdict.target),
            label_value(&verdict.blocklist),
            u8::from(verdict.verdict == Verdict::Listed),
        );
    }
}

/// A label value as the Prometheus text format writes it: `\`, `"` and line feeds escaped.
fn label_value(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\\', '"', '\n']) {
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        text.into()
    }
}
