//! The token endpoints of openapi.yaml (`POST` and `DELETE /graphql/tokens`), implemented
//! over [`Auth`]. The trait, the request and response types and the poem-openapi glue are
//! generated from openapi.yaml by build.rs (a copy: `codegen/generated/openapi.snap`).

use std::net::IpAddr;
use std::sync::Arc;

use poem::Request;

use super::error::HttpError;
use super::observe::ClientAddr;
use crate::auth::Auth;

mod api {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/openapi.rs"));
}
pub use api::{
    Api, BasicAuth, BearerAuth, CreateTokenResponse, Error as ErrorBody, RevokeTokenResponse, Token,
};

pub struct TokenApi {
    auth: Arc<Auth>,
}

/// The token endpoints as a poem-openapi service, described by openapi.yaml.
pub fn api_service(auth: Arc<Auth>) -> poem_openapi::OpenApiService<Api<TokenApi>, ()> {
    api::service(Arc::new(TokenApi { auth }))
}

impl api::Handlers for TokenApi {
    async fn create_token(
        &self,
        req: &Request,
        auth: BasicAuth,
        scope: Option<String>,
    ) -> CreateTokenResponse {
        let client = req
            .extensions()
            .get::<ClientAddr>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
        // The generated extractor takes the first of repeated parameters; a second would be
        // silently ignored, so it is refused instead.
        if scope_given_more_than_once(req) {
            return HttpError::BadRequest(
                "scope is given more than once: send one scope parameter with the names \
                 separated by spaces (scope=read+lookup)"
                    .to_owned(),
            )
            .into();
        }
        match self
            .auth
            .login(&auth.0.username, &auth.0.password, client, scope.as_deref())
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
            Err(e) => HttpError::from(e).into(),
        }
    }

    async fn revoke_token(&self, _req: &Request, auth: BearerAuth) -> RevokeTokenResponse {
        let revoked = match self.auth.authenticate(&auth.0.token).await {
            Ok(principal) => self.auth.revoke(&principal).await,
            Err(e) => Err(e),
        };
        match revoked {
            Ok(()) => RevokeTokenResponse::NoContent,
            Err(e) => HttpError::from(e).into(),
        }
    }
}

fn scope_given_more_than_once(req: &Request) -> bool {
    req.params::<Vec<(String, String)>>()
        .is_ok_and(|pairs| pairs.iter().filter(|(name, _)| name == "scope").count() > 1)
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
