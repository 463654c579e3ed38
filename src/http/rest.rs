//! The REST operations of openapi.yaml: the glue build.rs generates from it (a copy:
//! `codegen/generated/openapi.snap`), and the one implementation of its `Handlers`, which
//! hands each operation to the module that does it (`tokens.rs`, `export.rs`).

use std::sync::Arc;

use poem::Request;

use super::error::HttpError;
use super::export::{self, Exports};
use super::tokens;
use crate::auth::Auth;
use crate::filters::FilterFields;

mod api {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/openapi.rs"));
}
pub use api::{
    Api, BasicAuth, BearerAuth, CreateTokenResponse, Error as ErrorBody, ExportLookupsResponse,
    RevokeTokenResponse, StreamedBody, Token,
};

pub struct RestApi {
    auth: Arc<Auth>,
    exports: Exports,
}

/// The operations of openapi.yaml as a poem-openapi service.
pub fn api_service(
    auth: Arc<Auth>,
    exports: Exports,
) -> poem_openapi::OpenApiService<Api<RestApi>, ()> {
    api::service(Arc::new(RestApi { auth, exports }))
}

impl api::Handlers for RestApi {
    async fn create_token(
        &self,
        req: &Request,
        auth: BasicAuth,
        scope: Option<String>,
    ) -> CreateTokenResponse {
        if repeated_parameter(req, &["scope"]).is_some() {
            return HttpError::BadRequest(
                "scope is given more than once: send one scope parameter with the names \
                 separated by spaces (scope=read+lookup)"
                    .to_owned(),
            )
            .into();
        }
        tokens::create(&self.auth, req, auth, scope).await
    }

    async fn revoke_token(&self, _req: &Request, auth: BearerAuth) -> RevokeTokenResponse {
        tokens::revoke(&self.auth, auth).await
    }

    async fn export_lookups(
        &self,
        req: &Request,
        auth: BearerAuth,
        listed: Option<bool>,
        blocklist: Option<String>,
        watchlist: Option<String>,
        within: Option<String>,
        changed_since: Option<String>,
    ) -> ExportLookupsResponse {
        let names = [
            "listed",
            "blocklist",
            "watchlist",
            "within",
            "changed_since",
        ];
        if let Some(name) = repeated_parameter(req, &names) {
            return HttpError::BadRequest(format!(
                "query parameter `{name}` is given more than once: each filter takes one value"
            ))
            .into();
        }
        let fields = FilterFields {
            listed,
            blocklist,
            watchlist,
            within,
            changed_since,
        };
        export::respond(&self.exports, &self.auth, req, auth, fields).await
    }
}

/// The first of `names` the query string gives more than once. The generated extractor takes
/// the first value and would drop the others unseen, so such a request is refused instead.
fn repeated_parameter<'a>(req: &Request, names: &[&'a str]) -> Option<&'a str> {
    let pairs = req.params::<Vec<(String, String)>>().ok()?;
    names
        .iter()
        .find(|name| pairs.iter().filter(|(given, _)| given == *name).count() > 1)
        .copied()
}

/// The methods openapi.yaml declares for `path`, as an `Allow` header value (`DELETE, POST`),
/// or `None` when it declares no such path.
pub fn allowed_methods(path: &str) -> Option<String> {
    use poem_openapi::OpenApi as _;
    let mut methods: Vec<String> = Api::<RestApi>::meta()
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
