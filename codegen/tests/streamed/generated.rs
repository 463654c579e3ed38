// @generated from openapi.yaml by secworks-codegen. DO NOT EDIT: change openapi.yaml instead.

/// Why a request was refused.
#[derive(Clone, Debug, ::poem_openapi::Object)]
#[oai(rename = "Error")]
pub struct Error {
    /// Short error class, e.g. `Unauthorized`.
    pub error: ::std::string::String,
    /// Human-readable detail, when there is any.
    #[oai(skip_serializing_if_is_none)]
    pub message: ::std::option::Option<::std::string::String>,
}
/// A token from `POST /graphql/tokens`.
#[derive(::poem_openapi::SecurityScheme)]
#[oai(rename = "bearerAuth", ty = "bearer", bearer_format = "PASETO")]
pub struct BearerAuth(pub ::poem_openapi::auth::Bearer);
/// A body streamed in one of the media types its response declares; the handler chooses
/// which (e.g. from the request's `Accept`).
pub struct StreamedBody {
    /// The `Content-Type` sent, e.g. `text/csv; charset=utf-8` (must be one the response declares, parameters allowed).
    pub content_type: ::std::string::String,
    pub body: ::poem::Body,
}
impl ::std::fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.debug_struct("StreamedBody")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}
/// The responses of `exportLookups`: exactly the statuses the document declares.
#[derive(Debug)]
pub enum ExportLookupsResponse {
    /// HTTP 200: The results, streamed.
    Ok { body: StreamedBody },
    /// HTTP 400: A parameter is malformed.
    BadRequest { body: Error },
    /// HTTP 401: Missing, malformed, expired, revoked or otherwise invalid token.
    Unauthorized {
        body: Error,
        /// The `WWW-Authenticate` header: The authentication scheme to use, with the reason for the refusal.
        www_authenticate: ::std::string::String,
    },
    /// HTTP 406: None of the accepted types is one the results come in.
    NotAcceptable { body: Error },
}
/// poem-openapi's form of the response enums: `#[derive(ApiResponse)]` takes tuple
/// variants only, so [`Api`] converts each handler's answer into its twin here.
mod poem_responses {
    #[allow(unused_imports)]
    use super::*;
    #[derive(::poem_openapi::ApiResponse)]
    pub(super) enum ExportLookupsResponse {
        /// The results, streamed.
        #[oai(status = 200)]
        Ok(ExportLookupsResponseOkBody),
        /// A parameter is malformed.
        #[oai(status = 400)]
        BadRequest(::poem_openapi::payload::Json<Error>),
        /// Missing, malformed, expired, revoked or otherwise invalid token.
        #[oai(status = 401)]
        Unauthorized(
            ::poem_openapi::payload::Json<Error>,
            /// The authentication scheme to use, with the reason for the refusal.
            #[oai(header = "WWW-Authenticate")]
            ::std::string::String,
        ),
        /// None of the accepted types is one the results come in.
        #[oai(status = 406)]
        NotAcceptable(::poem_openapi::payload::Json<Error>),
    }
    /// The streamed body of `exportLookups`'s 200: `text/csv`, `application/x-ndjson`.
    pub(super) struct ExportLookupsResponseOkBody(super::StreamedBody);
    impl ExportLookupsResponseOkBody {
        const MEDIA_TYPES: &'static [&'static str] = &[
            "text/csv",
            "application/x-ndjson",
        ];
    }
    impl ::poem_openapi::ResponseContent for ExportLookupsResponseOkBody {
        fn media_types() -> ::std::vec::Vec<::poem_openapi::registry::MetaMediaType> {
            Self::MEDIA_TYPES
                .iter()
                .map(|content_type| ::poem_openapi::registry::MetaMediaType {
                    content_type,
                    schema: ::poem_openapi::registry::MetaSchemaRef::Inline(
                        ::std::boxed::Box::new(
                            ::poem_openapi::registry::MetaSchema::new("string"),
                        ),
                    ),
                })
                .collect()
        }
    }
    impl ::poem::IntoResponse for ExportLookupsResponseOkBody {
        fn into_response(self) -> ::poem::Response {
            ::poem::Response::builder()
                .content_type(&self.0.content_type)
                .body(self.0.body)
        }
    }
    impl ExportLookupsResponse {
        /// The twin of the handler's answer, unless it streams a type its response does
        /// not declare.
        pub(super) fn checked(
            response: super::ExportLookupsResponse,
        ) -> ::poem::Result<Self> {
            match response {
                super::ExportLookupsResponse::Ok {
                    body,
                    ..
                } if !declares(
                    ExportLookupsResponseOkBody::MEDIA_TYPES,
                    &body.content_type,
                ) => {
                    ::std::result::Result::Err(
                        ::poem::Error::from_status(
                            ::poem::http::StatusCode::INTERNAL_SERVER_ERROR,
                        ),
                    )
                }
                response => ::std::result::Result::Ok(response.into()),
            }
        }
    }
    impl ::std::convert::From<super::ExportLookupsResponse> for ExportLookupsResponse {
        fn from(response: super::ExportLookupsResponse) -> Self {
            match response {
                super::ExportLookupsResponse::Ok { body } => {
                    Self::Ok(ExportLookupsResponseOkBody(body))
                }
                super::ExportLookupsResponse::BadRequest { body } => {
                    Self::BadRequest(::poem_openapi::payload::Json(body))
                }
                super::ExportLookupsResponse::Unauthorized { body, www_authenticate } => {
                    Self::Unauthorized(
                        ::poem_openapi::payload::Json(body),
                        www_authenticate,
                    )
                }
                super::ExportLookupsResponse::NotAcceptable { body } => {
                    Self::NotAcceptable(::poem_openapi::payload::Json(body))
                }
            }
        }
    }
    /// Whether `content_type` is one of `media_types`, parameters allowed, and a valid
    /// header value.
    fn declares(media_types: &[&str], content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        media_types.iter().any(|m| m.eq_ignore_ascii_case(essence))
            && ::poem::http::HeaderValue::from_str(content_type).is_ok()
    }
}
/// The operations of the API, one method per `operationId`. The generated [`Api`]
/// extracts and checks each request, then calls these.
pub trait Handlers: ::std::marker::Send + ::std::marker::Sync + 'static {
    /// Export lookup results
    fn export_lookups(
        &self,
        req: &::poem::Request,
        auth: BearerAuth,
        listed: ::std::option::Option<bool>,
        within: ::std::option::Option<::std::string::String>,
    ) -> impl ::std::future::Future<
        Output = ExportLookupsResponse,
    > + ::std::marker::Send;
}
/// The poem-openapi glue: routes each operation to [`Handlers`].
pub struct Api<H>(pub ::std::sync::Arc<H>);
#[::poem_openapi::OpenApi]
impl<H: Handlers> Api<H> {
    /// Export lookup results
    #[oai(path = "/export/lookups", method = "get", operation_id = "exportLookups")]
    async fn export_lookups(
        &self,
        req: &::poem::Request,
        auth: BearerAuth,
        #[oai(name = "listed")]
        listed: ::poem_openapi::param::Query<::std::option::Option<bool>>,
        #[oai(name = "within")]
        within: ::poem_openapi::param::Query<
            ::std::option::Option<::std::string::String>,
        >,
    ) -> ::poem::Result<poem_responses::ExportLookupsResponse> {
        poem_responses::ExportLookupsResponse::checked(
            self.0.export_lookups(req, auth, listed.0, within.0).await,
        )
    }
}
/// The API as a poem endpoint, with the document's title, version and description.
pub fn service<H: Handlers>(
    handlers: ::std::sync::Arc<H>,
) -> ::poem_openapi::OpenApiService<Api<H>, ()> {
    ::poem_openapi::OpenApiService::new(Api(handlers), "secworks export API", "1.0.0")
}
