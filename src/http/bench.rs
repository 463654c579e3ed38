//! Routes for `benches/run` only, compiled with the `bench-routes` feature and never in a
//! production build: `POST /bench/graphql-unauthenticated` runs exactly what `POST /graphql`
//! runs after its bearer check, without the check, so that the check's cost shows as the
//! difference between the two.

use std::sync::Arc;

use poem::web::Data;
use poem::{Body, Request, Response, Route, handler};

use super::AppState;
use super::graphql::execute_post;

/// The bench routes, to nest at `/bench`.
pub fn routes() -> Route {
    Route::new().at("/graphql-unauthenticated", poem::post(unauthenticated))
}

/// `POST /graphql` without the bearer check. The resolvers read no principal, so none is put
/// into the request.
#[handler]
async fn unauthenticated(req: &Request, body: Body, Data(state): Data<&Arc<AppState>>) -> Response {
    execute_post(req, body, state, None).await
}
