//! The HTTP surface: the connection loop, routes, the bearer check of `/graphql`, the token
//! endpoints, the pages, and how every refusal is answered (`error`).

#[cfg(feature = "bench-routes")]
mod bench;
pub mod error;
pub mod export;
mod graphql;
mod health;
pub mod metrics;
pub mod observe;
mod pages;
pub mod rest;
pub mod server;
mod tokens;
mod ws;

use std::sync::Arc;

use poem::http::Method;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route};

use crate::auth::Auth;
use crate::blocklists::Blocklists;
use crate::graphql::AppSchema;
use crate::lookup::EngineHandle;
use crate::rechecks::Planner;
use crate::store::{Ping, Queue, Watchlists};
use error::HttpError;

/// What every handler may reach.
pub struct AppState {
    pub auth: Arc<Auth>,
    pub schema: AppSchema,
    /// The database, for readiness.
    pub database: Arc<dyn Ping>,
    /// The job queue, for its counts in `/metrics`.
    pub queue: Arc<dyn Queue>,
    pub engine: EngineHandle,
    /// The re-check planner: its latest plans, for `/metrics`.
    pub planner: Planner,
    /// The configured lists: their daily budgets, and which are enabled, for `/metrics`.
    pub blocklists: Arc<Blocklists>,
    /// The watched targets' results, for `/metrics` with `metrics_per_target`.
    pub watchlists: Arc<dyn Watchlists>,
    /// What `/export/lookups` reads.
    pub exports: export::Exports,
    /// Whether `/metrics` serves a series per watched target and list.
    pub metrics_per_target: bool,
    /// Largest `/graphql` request body read, in bytes.
    pub max_body: usize,
    pub observe: observe::ObserveSettings,
}

pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let tokens = rest::api_service(state.auth.clone(), state.exports.clone());
    let spec_json = tokens.spec_endpoint();
    let spec_yaml = tokens.spec_endpoint_yaml();
    let route = Route::new()
        .at(
            "/graphql",
            poem::post(graphql::execute).get(graphql::execute_get),
        )
        .at("/graphql/ws", poem::get(ws::subscribe))
        .at("/graphql/schema.graphql", poem::get(published_schema))
        .nest("/docs", pages::DOCS.routes())
        .nest("/graphiql", pages::GRAPHIQL.routes())
        .nest("/ui", pages::DASHBOARD.routes())
        .at("/healthz", poem::get(health::alive))
        .at("/readyz", poem::get(health::ready))
        .at("/metrics", poem::get(metrics::render))
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml)
        .nest("/", tokens.around(json_auth_errors));
    #[cfg(feature = "bench-routes")]
    let route = route.nest("/bench", bench::routes());
    route
        .data(state.clone())
        .around(move |ep, req| observe::observe(ep, state.observe, req))
}

/// `GET /graphql/schema.graphql`: the published SDL, exactly as schema.graphql holds it.
#[poem::handler]
fn published_schema() -> Response {
    Response::builder()
        .content_type("text/plain; charset=utf-8")
        .body(crate::graphql::PUBLISHED_SDL)
}

/// poem-openapi rejects a request whose security header is missing or unparsable before the
/// handler runs; answer it with the same JSON 401 and challenge the handlers give, and a
/// parameter it cannot parse with the JSON 400 the handlers give. A method
/// that openapi.yaml does not declare for the path gets a JSON 405 whose `Allow` header lists
/// the ones it does (RFC 9110 requires the header).
async fn json_auth_errors<E: Endpoint>(ep: Arc<E>, req: poem::Request) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match ep.call(req).await {
        Ok(resp) => Ok(resp.into_response()),
        Err(err) if err.is::<poem_openapi::error::AuthorizationError>() => {
            let refusal = if method == Method::POST {
                HttpError::BadCredentials
            } else {
                HttpError::BearerMissing
            };
            Ok(refusal.into_response())
        }
        // A query parameter that is not of its declared type (`listed=maybe`).
        Err(err) if err.is::<poem_openapi::error::ParseParamError>() => {
            Ok(HttpError::BadRequest(err.to_string()).into_response())
        }
        Err(err) if err.is::<poem::error::MethodNotAllowedError>() => {
            let Some(allow) = rest::allowed_methods(&path) else {
                return Err(err);
            };
            Ok(HttpError::MethodNotAllowed { method, allow }.into_response())
        }
        Err(err) => Err(err),
    }
}
