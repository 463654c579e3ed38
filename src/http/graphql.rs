//! `/graphql`: bearer check, then GraphQL over HTTP — POST with a JSON body, or GET with the
//! request in the query string (queries only). Request errors (syntax, validation) answer 400
//! with `{"errors": [...]}`, as the original service did.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::{Body, IntoResponse, Request, Response, handler};

use super::AppState;
use super::error::{HttpError, json_response};
use crate::auth;
use crate::graphql::documents;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[handler]
pub async fn execute(req: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    let principal = match authenticate(req, state).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    execute_post(req, body, state, principal).await
}

/// Everything `POST /graphql` does after the bearer check: read the body, execute, answer.
/// `principal` goes into the request data (the scope check reads it: without one nothing is
/// allowed); the `bench-routes` build passes one made up without the bearer check, to measure
/// the check's cost by its absence.
pub(super) async fn execute_post(
    req: &Request,
    body: Body,
    state: &AppState,
    principal: auth::Principal,
) -> Response {
    let request = match read_request(req, body, state.max_body).await {
        Ok(request) => documents::prepare(request).data(principal),
        Err(bad) => return bad.graphql_response(),
    };

    respond(req, state, request).await
}

/// `GET /graphql?query=…&variables=…&operationName=…`: queries only, since a GET must not
/// change anything; a mutation answers 405.
#[handler]
pub async fn execute_get(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let principal = match authenticate(req, state).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
    };
    let mut request = match async_graphql::http::parse_query_string(req.uri().query().unwrap_or(""))
    {
        Ok(request) => documents::prepare(request).data(principal),
        Err(e) => return HttpError::BadRequest(e.to_string()).graphql_response(),
    };
    let operation_name = request.operation_name.clone();
    let operation_name = operation_name.as_deref();
    let is_mutation = request.parsed_query().is_ok_and(|doc| {
        doc.operations.iter().any(|(name, op)| {
            (operation_name.is_none() || name.map(|n| n.as_str()) == operation_name)
                && op.node.ty == async_graphql::parser::types::OperationType::Mutation
        })
    });
    if is_mutation {
        return HttpError::MutationOverGet.graphql_response();
    }
    respond(req, state, request).await
}

/// The caller a valid bearer token speaks for, or the 401 (500) to answer with.
async fn authenticate(req: &Request, state: &AppState) -> Result<auth::Principal, Response> {
    let Some(Authorization(bearer)) = req.headers().typed_get::<Authorization<Bearer>>() else {
        return Err(HttpError::BearerMissing.into_response());
    };
    state
        .auth
        .authenticate(bearer.token())
        .await
        .map_err(|e| HttpError::from(e).into_response())
}

/// Executes `request` and answers in the media type the client asked for.
async fn respond(req: &Request, state: &AppState, request: async_graphql::Request) -> Response {
    let response = state.schema.execute(request).await;
    let media_type = if accepts_graphql_response(req) {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    // A request error (syntax, validation) carries no path: the request never ran, so there
    // is no `data` at all, and the status says so.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut resp = if request_error {
        json_response(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "errors": response.errors }),
        )
    } else {
        json_response(StatusCode::OK, &response)
    };
    resp.headers_mut().insert(
        poem::http::header::CONTENT_TYPE,
        poem::http::HeaderValue::from_static(media_type),
    );
    resp.into_response()
}

/// Reads a JSON GraphQL request (`{"query", "variables", "operationName"}`) of at most
/// `max_body` bytes; a bigger one is refused before it is parsed.
async fn read_request(
    req: &Request,
    body: Body,
    max_body: usize,
) -> Result<async_graphql::Request, HttpError> {
    if let Some(media) = req.content_type() {
        let essence = media.split(';').next().unwrap_or(media).trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(HttpError::UnsupportedMediaType(essence.to_owned()));
        }
    }
    let bytes = body.into_bytes_limit(max_body).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => HttpError::BodyTooLarge { max: max_body },
        other => HttpError::BadRequest(format!("cannot read the request body: {other}")),
    })?;
    async_graphql::http::receive_json(&bytes[..])
        .await
        .map_err(|e| HttpError::BadRequest(e.to_string()))
}

fn accepts_graphql_response(req: &Request) -> bool {
    req.headers()
        .get_all(poem::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE))
}
