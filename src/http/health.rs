//! Probes for orchestrators and load balancers, unauthenticated and cheap.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};
use serde_json::json;

use super::AppState;
use super::error::json_response;
use crate::lookup::Pause;

/// `GET /healthz`: the process is alive and serving HTTP.
#[handler]
pub fn alive() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 while the database answers and the lookup workers run; 503 otherwise
/// (including during shutdown). Paused lookups (failing test points, a rate-limit pause) are
/// reported but keep the service ready: reads and enqueueing still work, and every replica
/// would see the same blocklist.
#[handler]
pub async fn ready(Data(state): Data<&Arc<AppState>>) -> Response {
    let database = match state.database.ping().await {
        Ok(()) => None,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            Some("unreachable")
        }
    };
    let status = state.engine.status();
    let workers = status.workers_running;
    let lookups = match status.pause {
        None => "running".to_owned(),
        Some(pause @ Pause::Starting) => format!("starting: {pause}"),
        Some(pause) => format!("paused: {pause}"),
    };
    let ready = database.is_none() && workers;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        &json!({
            "status": if ready { "ready" } else { "not ready" },
            "database": database.unwrap_or("ok"),
            "workers": if workers { "running" } else { "stopped" },
            "lookups": lookups,
        }),
    )
}
