//! The token endpoints of openapi.yaml, implemented over [`Auth`].

use std::net::IpAddr;
use std::sync::Arc;

use poem::Request;

use super::{Auth, AuthError};
use crate::http::observe::ClientAddr;

mod api {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/openapi.rs"));
}
pub use api::{
    Api, BasicAuth, BearerAuth, CreateTokenResponse, Error as ErrorBody, RevokeTokenResponse, Token,
};

/// The realm named in every `WWW-Authenticate` challenge.
const REALM: &str = "secworks";

pub struct TokenApi {
    auth: Arc<Auth>,
}

/// The token endpoints as a poem-openapi service, described by openapi.yaml.
pub fn api_service(auth: Arc<Auth>) -> poem_openapi::OpenApiService<Api<TokenApi>, ()> {
    api::service(Arc::new(TokenApi { auth }))
}

impl api::Handlers for TokenApi {
    async fn create_token(&self, req: &Request, auth: BasicAuth) -> CreateTokenResponse {
        let client = req
            .extensions()
            .get::<ClientAddr>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
        match self
            .auth
            .login(&auth.0.username, &auth.0.password, client)
            .await
        {
            Ok(issued) => CreateTokenResponse::Ok {
                body: Token {
                    token: issued.token,
                    token_type: "Bearer".to_owned(),
                    expires_in: issued.expires_in,
                    expires_at: issued.expires_at,
                },
            },
            Err(AuthError::BadCredentials) => {
                let (body, www_authenticate) = basic_challenge();
                CreateTokenResponse::Unauthorized {
                    body,
                    www_authenticate,
                }
            }
            Err(AuthError::Throttled { retry_after }) => {
                // Whole seconds, rounded up: a client that waits as told is let in.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let seconds = i64::try_from(seconds.max(1)).unwrap_or(i64::MAX);
                let body = ErrorBody {
                    error: "Too Many Requests".to_owned(),
                    message: Some(format!(
                        "too many failed logins; try again in {seconds} seconds"
                    )),
                };
                CreateTokenResponse::TooManyRequests {
                    body,
                    retry_after: seconds,
                }
            }
            Err(e) => CreateTokenResponse::InternalServerError {
                body: internal_error(&e),
            },
        }
    }

    async fn revoke_token(&self, _req: &Request, auth: BearerAuth) -> RevokeTokenResponse {
        let principal = match self.auth.authenticate(&auth.0.token).await {
            Ok(principal) => principal,
            Err(e) => {
                return match bearer_refusal(&e) {
                    Some((body, www_authenticate)) => RevokeTokenResponse::Unauthorized {
                        body,
                        www_authenticate,
                    },
                    None => RevokeTokenResponse::InternalServerError {
                        body: internal_error(&e),
                    },
                };
            }
        };
        match self.auth.revoke(&principal).await {
            Ok(()) => RevokeTokenResponse::NoContent,
            Err(e) => RevokeTokenResponse::InternalServerError {
                body: internal_error(&e),
            },
        }
    }
}

/// A 401 body and `WWW-Authenticate` value for a failed Basic login.
pub fn basic_challenge() -> (ErrorBody, String) {
    (
        ErrorBody {
            error: "Unauthorized".to_owned(),
            message: None,
        },
        format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
    )
}

/// A 401 body and RFC 6750 challenge for a request without a bearer token.
pub fn bearer_missing() -> (ErrorBody, String) {
    (
        ErrorBody {
            error: "Unauthorized".to_owned(),
            message: Some("bearer token required".to_owned()),
        },
        format!("Bearer realm=\"{REALM}\""),
    )
}

/// The 401 for a refused bearer token, or `None` when the failure was ours, not the token's.
pub fn bearer_refusal(error: &AuthError) -> Option<(ErrorBody, String)> {
    let AuthError::Token(reason) = error else {
        return None;
    };
    Some((
        ErrorBody {
            error: "Unauthorized".to_owned(),
            message: Some(reason.to_string()),
        },
        format!(
            "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{reason}\""
        ),
    ))
}

/// Logs an internal failure and returns a body that reveals nothing of it.
pub fn internal_error(error: &AuthError) -> ErrorBody {
    tracing::error!(error = %error, "authentication failed internally");
    ErrorBody {
        error: "Internal Server Error".to_owned(),
        message: None,
    }
}

/// The methods openapi.yaml declares for `path`, as an `Allow` header value (`DELETE, POST`),
/// or `None` when it declares no such path.
pub fn allowed_methods(path: &str) -> Option<String> {
    use poem_openapi::OpenApi as _;
    let mut methods: Vec<String> = Api::<TokenApi>::meta()
        .into_iter()
        .flat_map(|api| api.paths)
        .filter(|declared| path_matches(&declared.path, path))
        .flat_map(|declared| declared.operations)
        .map(|operation| operation.method.as_str().to_owned())
        .collect();
    methods.sort();
    methods.dedup();
    (!methods.is_empty()).then(|| methods.join(", "))
}

/// Whether a request path matches an OpenAPI path template, `{name}` standing for a segment.
fn path_matches(template: &str, path: &str) -> bool {
    let mut want = template.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w == g || (w.starts_with('{') && w.ends_with('}')) => {}
            _ => return false,
        }
    }
}
