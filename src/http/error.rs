//! Every refusal the HTTP layer answers, and how each becomes a response: status, headers and
//! body are decided here and nowhere else.
//!
//! Two body shapes exist, both promised to clients: the token API's `{"error", "message"}`
//! (openapi.yaml's `Error`, also used for 401s, 405s and timeouts on every route), and GraphQL
//! over HTTP's `{"errors": [{"message"}]}` for a `/graphql` request that never ran.

use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{IntoResponse, Response};

use super::rest::{CreateTokenResponse, ErrorBody, ExportLookupsResponse, RevokeTokenResponse};
use crate::auth::{AuthError, TokenError};

/// The realm named in every `WWW-Authenticate` challenge.
const REALM: &str = "secworks";

#[derive(Debug)]
pub enum HttpError {
    /// A route that needs a bearer token got none (or one it could not parse).
    BearerMissing,
    /// The bearer token was refused, and why.
    BearerRefused(TokenError),
    /// HTTP Basic credentials were missing or wrong.
    BadCredentials,
    /// Too many failed logins; the password was not checked.
    Throttled { retry_after: Duration },
    /// A request body over `SECWORKS_MAX_BODY_BYTES`.
    BodyTooLarge { max: usize },
    /// A request body of a media type the route does not read.
    UnsupportedMediaType(String),
    /// A request that cannot be read as what the route expects.
    BadRequest(String),
    /// The token is good but lacks what the route needs (a scope); says what.
    Forbidden(String),
    /// The `Accept` header accepts nothing the route answers in; says what it answers in.
    NotAcceptable(String),
    /// A GraphQL mutation sent with GET.
    MutationOverGet,
    /// A method the route does not serve; `allow` lists those it does.
    MethodNotAllowed { method: Method, allow: String },
    /// The request ran past `SECWORKS_REQUEST_TIMEOUT`.
    Timeout(Duration),
    /// Our failure, not the client's: logged here, never described to the client.
    Internal(String),
}

impl From<AuthError> for HttpError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::BadCredentials => HttpError::BadCredentials,
            AuthError::Throttled { retry_after } => HttpError::Throttled { retry_after },
            AuthError::Scope(e) => HttpError::BadRequest(e.to_string()),
            AuthError::Token(reason) => HttpError::BearerRefused(reason),
            AuthError::Store(e) => HttpError::internal(&e),
            AuthError::Password(e) => HttpError::internal(&e),
        }
    }
}

impl HttpError {
    /// Logs `error` and keeps nothing of it for the client.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed internally");
        HttpError::Internal(error.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::BearerMissing | HttpError::BearerRefused(_) | HttpError::BadCredentials => {
                StatusCode::UNAUTHORIZED
            }
            HttpError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            HttpError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::Forbidden(_) => StatusCode::FORBIDDEN,
            HttpError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            HttpError::MutationOverGet | HttpError::MethodNotAllowed { .. } => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            HttpError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client may read about the refusal; `None` where the status says it all.
    pub fn message(&self) -> Option<String> {
        match self {
            HttpError::BearerMissing => Some("bearer token required".to_owned()),
            HttpError::BearerRefused(reason) => Some(reason.to_string()),
            HttpError::BadCredentials | HttpError::Internal(_) => None,
            HttpError::Throttled { .. } => Some(format!(
                "too many failed logins; try again in {} seconds",
                self.retry_after_seconds().unwrap_or(1)
            )),
            HttpError::BodyTooLarge { max } => Some(format!(
                "request body larger than {max} bytes (SECWORKS_MAX_BODY_BYTES)"
            )),
            HttpError::UnsupportedMediaType(media) => Some(format!(
                "content type {media} is not supported: send application/json"
            )),
            HttpError::BadRequest(message)
            | HttpError::Forbidden(message)
            | HttpError::NotAcceptable(message) => Some(message.clone()),
            HttpError::MutationOverGet => {
                Some("mutations are not allowed over GET: send them with POST".to_owned())
            }
            HttpError::MethodNotAllowed { method, allow } => {
                Some(format!("{method} is not allowed here; allowed: {allow}"))
            }
            HttpError::Timeout(limit) => Some(format!(
                "the request took longer than {} (SECWORKS_REQUEST_TIMEOUT)",
                humantime::format_duration(*limit)
            )),
        }
    }

    /// The `WWW-Authenticate` challenge of a 401.
    pub fn challenge(&self) -> Option<String> {
        match self {
            HttpError::BadCredentials => {
                Some(format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""))
            }
            HttpError::BearerMissing => Some(format!("Bearer realm=\"{REALM}\"")),
            // RFC 6750: the token was presented and is not good.
            HttpError::BearerRefused(reason) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{reason}\""
            )),
            _ => None,
        }
    }

    /// `Retry-After` of a 429: whole seconds, rounded up, so a client that waits as told is
    /// let in.
    pub fn retry_after_seconds(&self) -> Option<i64> {
        let HttpError::Throttled { retry_after } = self else {
            return None;
        };
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Some(i64::try_from(seconds.max(1)).unwrap_or(i64::MAX))
    }

    /// The `Allow` header of a 405.
    fn allow(&self) -> Option<&str> {
        match self {
            HttpError::MethodNotAllowed { allow, .. } => Some(allow),
            HttpError::MutationOverGet => Some("POST"),
            _ => None,
        }
    }

    /// The token API's body: the status's reason phrase and the message.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self
                .status()
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
            message: self.message(),
        }
    }

    /// The token API's shape, `{"error", "message"}`, with the refusal's headers.
    pub fn token_api_response(&self) -> Response {
        use poem_openapi::types::ToJSON;
        self.with_headers(json_response(self.status(), &self.body().to_json()))
    }

    /// GraphQL over HTTP's shape for a request that never ran, `{"errors": [{"message"}]}`.
    pub fn graphql_response(&self) -> Response {
        let message = self
            .message()
            .unwrap_or_else(|| self.body().error.to_owned());
        let body = serde_json::json!({ "errors": [{ "message": message }] });
        self.with_headers(json_response(self.status(), &body))
    }

    fn with_headers(&self, mut response: Response) -> Response {
        let headers = [
            (header::WWW_AUTHENTICATE, self.challenge()),
            (
                header::RETRY_AFTER,
                self.retry_after_seconds().map(|s| s.to_string()),
            ),
            (header::ALLOW, self.allow().map(str::to_owned)),
        ];
        for (name, value) in headers {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// `POST /graphql/tokens` answers only what openapi.yaml declares for it: anything else the
/// login can fail with is ours, a 500.
impl From<HttpError> for CreateTokenResponse {
    fn from(error: HttpError) -> Self {
        let body = error.body();
        if let HttpError::BadRequest(_) = error {
            return CreateTokenResponse::BadRequest { body };
        }
        match (error.challenge(), error.retry_after_seconds()) {
            (Some(www_authenticate), _) => CreateTokenResponse::Unauthorized {
                body,
                www_authenticate,
            },
            (None, Some(retry_after)) => CreateTokenResponse::TooManyRequests { body, retry_after },
            (None, None) => CreateTokenResponse::InternalServerError {
                body: undeclared(error),
            },
        }
    }
}

/// `DELETE /graphql/tokens` declares 401 and 500.
impl From<HttpError> for RevokeTokenResponse {
    fn from(error: HttpError) -> Self {
        match error.challenge() {
            Some(www_authenticate) => RevokeTokenResponse::Unauthorized {
                body: error.body(),
                www_authenticate,
            },
            None => RevokeTokenResponse::InternalServerError {
                body: undeclared(error),
            },
        }
    }
}

/// `GET /export/lookups` declares 400, 401, 403, 406 and 500.
impl From<HttpError> for ExportLookupsResponse {
    fn from(error: HttpError) -> Self {
        let body = error.body();
        match error {
            HttpError::BadRequest(_) => ExportLookupsResponse::BadRequest { body },
            HttpError::Forbidden(_) => ExportLookupsResponse::Forbidden { body },
            HttpError::NotAcceptable(_) => ExportLookupsResponse::NotAcceptable { body },
            error => match error.challenge() {
                Some(www_authenticate) => ExportLookupsResponse::Unauthorized {
                    body,
                    www_authenticate,
                },
                None => ExportLookupsResponse::InternalServerError {
                    body: undeclared(error),
                },
            },
        }
    }
}

/// The 500 body for a refusal an operation does not declare (already logged if internal).
fn undeclared(error: HttpError) -> ErrorBody {
    if !matches!(error, HttpError::Internal(_)) {
        tracing::error!(
            ?error,
            "a refusal the operation does not declare, answered 500"
        );
    }
    HttpError::Internal(String::new()).body()
}

impl IntoResponse for HttpError {
    /// The token API's shape, which every route but `/graphql`'s request errors uses.
    fn into_response(self) -> Response {
        self.token_api_response()
    }
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .content_type("application/json")
            .body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "response did not serialise");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_headers_and_message() {
        let throttled = HttpError::Throttled {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.retry_after_seconds(), Some(2));
        assert_eq!(
            throttled.message().as_deref(),
            Some("too many failed logins; try again in 2 seconds")
        );
        assert_eq!(
            HttpError::BadCredentials.challenge().as_deref(),
            Some("Basic realm=\"secworks\", charset=\"UTF-8\"")
        );
        let refused = HttpError::BearerRefused(TokenError::Expired);
        assert_eq!(
            refused.challenge().unwrap(),
            format!(
                "Bearer realm=\"secworks\", error=\"invalid_token\", error_description=\"{}\"",
                TokenError::Expired
            )
        );
        let body = HttpError::BadCredentials.body();
        assert_eq!((body.error.as_str(), body.message), ("Unauthorized", None));
        let internal = HttpError::Internal("the disk is full".to_owned());
        assert_eq!(internal.body().message, None, "internals are never echoed");
    }

    #[test]
    fn the_token_operations_answer_only_declared_statuses() {
        let internal = CreateTokenResponse::from(HttpError::BodyTooLarge { max: 1 });
        assert!(matches!(
            internal,
            CreateTokenResponse::InternalServerError { .. }
        ));
        let throttled = CreateTokenResponse::from(HttpError::Throttled {
            retry_after: Duration::from_secs(3),
        });
        assert!(matches!(
            throttled,
            CreateTokenResponse::TooManyRequests { retry_after: 3, .. }
        ));
        let refused = RevokeTokenResponse::from(HttpError::BearerMissing);
        assert!(matches!(refused, RevokeTokenResponse::Unauthorized { .. }));
    }
}
