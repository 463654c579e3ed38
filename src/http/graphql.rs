//! `POST /graphql`: bearer check, then GraphQL over HTTP. Request errors (syntax, validation)
//! answer 400 with `{"errors": [...]}`, as the original service did.

use std::sync::Arc;

use async_graphql::http::MultipartOptions;
use poem::http::StatusCode;
use poem::web::Data;
use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::{Body, IntoResponse, Request, Response, handler};

use super::{AppState, error_response, json_response, unauthorized};
use crate::auth;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[handler]
pub async fn execute(req: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    let Some(Authorization(bearer)) = req.headers().typed_get::<Authorization<Bearer>>() else {
        let (body, challenge) = auth::bearer_missing();
        return unauthorized(body, challenge);
    };
    let principal = match state.auth.authenticate(bearer.token()).await {
        Ok(principal) => principal,
        Err(e) => match auth::bearer_refusal(&e) {
            Some((body, challenge)) => return unauthorized(body, challenge),
            None => {
                let body = auth::internal_error(&e);
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, &body);
            }
        },
    };

    let request = match read_request(req, body).await {
        Ok(request) => request.data(principal),
        Err(message) => {
            let errors = serde_json::json!({ "errors": [{ "message": message }] });
            return json_response(StatusCode::BAD_REQUEST, &errors);
        }
    };

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

async fn read_request(req: &Request, body: Body) -> Result<async_graphql::Request, String> {
    let bytes = body
        .into_bytes()
        .await
        .map_err(|e| format!("cannot read the request body: {e}"))?;
    let content_type = req.content_type().map(str::to_owned);
    async_graphql::http::receive_body(content_type, &bytes[..], MultipartOptions::default())
        .await
        .map_err(|e| e.to_string())
}

fn accepts_graphql_response(req: &Request) -> bool {
    req.headers()
        .get_all(poem::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE))
}
