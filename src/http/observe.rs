//! What every request passes through first: a request id, a client address, a time limit,
//! a log span, and the HTTP metrics.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use super::error::HttpError;

pub const REQUEST_ID: &str = "x-request-id";

/// The address a request came from: the peer, or with `trust_forwarded_for` the last entry
/// of `X-Forwarded-For`, which the proxy in front appended.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

#[derive(Debug, Clone, Copy)]
pub struct ObserveSettings {
    pub request_timeout: Duration,
    pub trust_forwarded_for: bool,
}

pub async fn observe<E: Endpoint>(
    ep: Arc<E>,
    settings: ObserveSettings,
    mut req: Request,
) -> poem::Result<Response> {
    let started = Instant::now();
    let id = request_id(&req);
    let client = client_addr(&req, settings.trust_forwarded_for);
    req.extensions_mut().insert(ClientAddr(client));
    let route = route_label(req.uri().path());
    let method = req.method().clone();
    let span = tracing::info_span!("request", id = %id, %method, route, client = %client);

    let outcome = tokio::time::timeout(settings.request_timeout, ep.call(req))
        .instrument(span.clone())
        .await;
    let mut resp = match outcome {
        Ok(Ok(resp)) => resp.into_response(),
        Ok(Err(err)) => err.into_response(),
        Err(_elapsed) => {
            span.in_scope(
                || tracing::warn!(limit = ?settings.request_timeout, "request timed out"),
            );
            HttpError::Timeout(settings.request_timeout).token_api_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, value);
    }
    let status = resp.status();
    let elapsed = started.elapsed();
    metrics::counter!(
        "secworks_http_requests_total",
        "route" => route,
        "method" => method.to_string(),
        "status" => status.as_str().to_owned(),
    )
    .increment(1);
    metrics::histogram!("secworks_http_request_duration_seconds", "route" => route).record(elapsed);
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "served"
        )
    });
    Ok(resp)
}

/// The caller's id if it is a plain token of at most 64 characters, else a fresh one: an id
/// ends up in logs, so it must not carry anything else there.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn client_addr(req: &Request, trust_forwarded_for: bool) -> IpAddr {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if !trust_forwarded_for {
        return peer;
    }
    req.headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

/// The route a path belongs to, as a metrics label: the route's pattern, never the raw
/// path, so that scanning for random paths cannot grow the label set.
pub fn route_label(path: &str) -> &'static str {
    const EXACT: [&str; 9] = [
        "/graphql",
        "/graphql/tokens",
        "/graphql/schema.graphql",
        "/graphiql",
        "/openapi.json",
        "/openapi.yaml",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    if let Some(route) = EXACT.iter().find(|route| **route == path) {
        return route;
    }
    if path.starts_with("/graphiql/") {
        "/graphiql/{asset}"
    } else if path == "/docs" || path.starts_with("/docs/") {
        "/docs"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_route_patterns() {
        assert_eq!(route_label("/graphql"), "/graphql");
        assert_eq!(
            route_label("/graphiql/graphiql.min.js"),
            "/graphiql/{asset}"
        );
        assert_eq!(route_label("/docs/"), "/docs");
        assert_eq!(route_label("/wp-login.php"), "other");
        assert_eq!(route_label("/graphql/tokens/x"), "other");
    }
}
