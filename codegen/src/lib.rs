//! Generates the Rust side of secworks' two contract files.
//!
//! `schema.graphql` becomes resolver traits, GraphQL types and the async-graphql glue that
//! delegates to the traits; `openapi.yaml` becomes a handler trait, request and response types
//! and the poem-openapi glue. The build script writes both into `OUT_DIR`.

use std::fmt;
use std::path::Path;

pub mod graphql;
pub mod openapi;

/// A contract file the generator cannot turn into code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file the problem is in, as the build script names it (e.g. `schema.graphql`).
    pub file: String,
    /// What is wrong, naming the construct.
    pub message: String,
}

impl Error {
    pub fn new(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for Error {}

/// Pretty-prints generated tokens under a do-not-edit header that names the source file.
pub fn render(source_file: &str, tokens: proc_macro2::TokenStream) -> Result<String, Error> {
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| Error::new(source_file, format!("generated code does not parse: {e}")))?;
    Ok(format!(
        "// @generated from {source_file} by secworks-codegen. DO NOT EDIT: change {source_file} instead.\n\n{}",
        prettyplease::unparse(&file)
    ))
}

/// Reads `source`, generates with `generate`, and writes the result to `out`.
pub fn generate_file(
    source: &Path,
    out: &Path,
    generate: fn(&str, &str) -> Result<String, Error>,
) -> Result<(), Error> {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| source.display().to_string());
    let text = std::fs::read_to_string(source)
        .map_err(|e| Error::new(&name, format!("cannot read {}: {e}", source.display())))?;
    let code = generate(&name, &text)?;
    std::fs::write(out, code)
        .map_err(|e| Error::new(&name, format!("cannot write {}: {e}", out.display())))
}
