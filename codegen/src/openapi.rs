//! `openapi.yaml` → poem-openapi server glue, in the manner of oapi-codegen's strict server and
//! dropshot's API traits.
//!
//! For each component schema a type (`Object` or string `Enum`), for each security scheme a
//! `SecurityScheme` newtype, for each operation a response enum with exactly its declared
//! statuses, a [`Handlers`]-style trait with one method per `operationId`, the `#[OpenApi]` impl
//! that delegates to it, and `service()` carrying the document's `info`. Whatever poem-openapi
//! could not serve as written is refused with an error rather than dropped.

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
