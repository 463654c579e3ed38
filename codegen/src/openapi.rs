//! `openapi.yaml` → poem-openapi server glue, in the manner of oapi-codegen's strict server and
//! dropshot's API traits.
//!
//! For each component schema a type (`Object` or string `Enum`), for each security scheme a
//! `SecurityScheme` newtype, for each operation a response enum with exactly its declared
//! statuses, a [`Handlers`]-style trait with one method per `operationId`, the `#[OpenApi]` impl
//! that delegates to it, and `service()` carrying the document's `info`. Whatever poem-openapi
//! could not serve as written is refused with an error rather than dropped.
//!
//! Response enums (`<OperationId>Response`) have one variant per status, named after it (`Ok`,
//! `Unauthorized`, `TooManyRequests`, `Status418` for one without a common name), and one rule
//! for their fields, so that a handler never depends on the order of values:
//!
//! - a variant with neither body nor headers is a unit variant (`NoContent`);
//! - otherwise it has named fields: `body` for the body (the JSON body's type, without `Json`,
//!   or `StreamedBody`), then one field per response header, named after the header in
//!   snake_case (`www_authenticate: String`, `retry_after: i64`; `body_header` for a header
//!   called `Body`), `Option<…>` when the header is not required.
//!
//! A response body is one `application/json` content, or a streamed body: one or more other
//! media types, each `{type: string}` (or `format: binary`), of which the handler picks one
//! (`StreamedBody { content_type, body }`, e.g. from `Accept`). The glue sends it as the
//! handler streams it, and answers 500 if the type is not one the response declares. Any other
//! mix is refused.
//!
//! poem-openapi's `#[derive(ApiResponse)]` takes tuple variants only, so the generated code
//! also holds a private twin of each enum in that form (module `poem_responses`, carrying the
//! document's descriptions and header names) and converts into it; the served document is the
//! same as if handlers returned the twins.

mod emit;
mod ir;
mod lower;
mod names;
mod operations;
#[cfg(test)]
mod tests;

use crate::Error;

/// Generates the Rust for the OpenAPI document `yaml`, read from `source_file`.
pub fn generate(source_file: &str, yaml: &str) -> Result<String, Error> {
    let doc: openapiv3::OpenAPI = serde_norway::from_str(yaml)
        .map_err(|e| Error::new(source_file, format!("invalid OpenAPI document: {e}")))?;
    let api = lower::lower(source_file, &doc)?;
    crate::render(source_file, emit::emit(&api))
}
