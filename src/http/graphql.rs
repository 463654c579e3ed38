//! `POST /graphql`: bearer check, then GraphQL over HTTP. Request errors (syntax, validation)
//! answer 400 with `{"errors": [...]}`, as the original service did.

use std::sync::Arc;

use async_graphql::http::MultipartOptions;
use poem::http::StatusCode;
use poem::web::Data;
use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::{Body, IntoResponse, Request, Response, handler};

use super::{AppState, json_response, unauthorized};
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
                return json_response(StatusCode::INTERNAL_SERVER_ERROR, &body);
            }
        },
    };

    let content_type = req.content_type().map(str::to_owned);
    let request = match async_graphql::http::receive_body(
        content_type,
        body.into_async_read(),
        MultipartOptions::default(),
    )
    .await
    {
        Ok(request) => request.data(principal),
        Err(e) => {
            let errors = serde_json::json!({ "errors": [{ "message": e.to_string() }] });
            return json_response(StatusCode::BAD_REQUEST, &errors);
        }
    };

    let response = state.schema.execute(request).await;
    // No data at all means the request never ran: a syntax or validation error.
    let status = if response.is_err() && response.data == async_graphql::Value::Null {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let media_type = if accepts_graphql_response(req) { GRAPHQL_RESPONSE } else { "application/json" };
    let mut resp = json_response(status, &response);
    resp.headers_mut().insert(
        poem::http::header::CONTENT_TYPE,
        poem::http::HeaderValue::from_static(media_type),
    );
    resp.into_response()
}

fn accepts_graphql_response(req: &Request) -> bool {
    req.headers()
        .get_all(poem::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE))
}
