//! Routes for `benches/run` only, compiled with the `bench-routes` feature and never in a
//! production build: `POST /bench/graphql-unauthenticated` runs exactly what `POST /graphql`
//! runs after its bearer check, without the check, so that the check's cost shows as the
//! difference between the two.

use std::sync::Arc;

use poem::web::Data;
use poem::{Body, Request, Response, Route, handler};

use super::AppState;
use super::graphql::execute_post;
use crate::auth::{Principal, Scopes, VerifiedToken};

/// The bench routes, to nest at `/bench`.
pub fn routes() -> Route {
    Route::new().at("/graphql-unauthenticated", poem::post(unauthenticated))
}

/// `POST /graphql` without the bearer check. The scope check still runs (it costs no store
/// read), on a caller made up here who holds every scope.
#[handler]
async fn unauthenticated(req: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    let now = time::OffsetDateTime::now_utc();
    let principal = Principal {
        username: "bench".to_owned(),
        token: VerifiedToken {
            subject: "bench".to_owned(),
            jti: "bench".to_owned(),
            issued_at: now,
            expires_at: now + time::Duration::HOUR,
            scopes: Scopes::all(),
        },
    };
    execute_post(req, body, state, principal).await
}
