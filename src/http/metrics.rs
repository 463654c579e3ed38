//! `GET /metrics`: Prometheus text format, from the `metrics` facade's global recorder.

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};

use super::AppState;

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
        metrics::gauge!("secworks_blocklist_queries_today", "blocklist" => list.id)
            .set(list.queries_today as f64);
    }
    Response::builder()
        .status(StatusCode::OK)
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle().render())
}
