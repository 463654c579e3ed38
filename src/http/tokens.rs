//! The token endpoints of openapi.yaml (`POST` and `DELETE /graphql/tokens`), implemented
//! over [`Auth`]; `rest.rs` routes them here.

use std::net::IpAddr;

use poem::Request;

use super::error::HttpError;
use super::observe::ClientAddr;
use super::rest::{BasicAuth, BearerAuth, CreateTokenResponse, RevokeTokenResponse, Token};
use crate::auth::Auth;

/// `POST /graphql/tokens`: a token for the user's credentials, with the scopes asked for.
pub async fn create(
    auth: &Auth,
    req: &Request,
    credentials: BasicAuth,
    scope: Option<String>,
) -> CreateTokenResponse {
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
    match auth
        .login(
            &credentials.0.username,
            &credentials.0.password,
            client,
            scope.as_deref(),
        )
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

/// `DELETE /graphql/tokens`: the presented token is refused from now on.
pub async fn revoke(auth: &Auth, bearer: BearerAuth) -> RevokeTokenResponse {
    let revoked = match auth.authenticate(&bearer.0.token).await {
        Ok(principal) => auth.revoke(&principal).await,
        Err(e) => Err(e),
    };
    match revoked {
        Ok(()) => RevokeTokenResponse::NoContent,
        Err(e) => HttpError::from(e).into(),
    }
}
