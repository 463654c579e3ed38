//! Generates the Rust side of secworks' two contract files.
//!
//! `schema.graphql` becomes resolver traits, GraphQL types and the async-graphql glue that
//! delegates to the traits; `openapi.yaml` becomes a handler trait, request and response types
//! and the poem-openapi glue. The build script writes both into `OUT_DIR`, from [`CONTRACTS`].
//!
//! Golden copies of that output are committed in `codegen/generated/`, and `tests/golden.rs`
//! fails when they are stale; `INSTA_UPDATE=always cargo test -p secworks-codegen` refreshes
//! them. Every generated file starts with an `@generated … DO NOT EDIT` line.

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

/// One of secworks' contract files and the Rust generated from it.
pub struct Contract {
    /// The contract file, relative to the workspace root (where `build.rs` runs).
    pub source: &'static str,
    /// The generated file's name in `OUT_DIR`; its golden copy is
    /// `codegen/generated/<stem>.snap`.
    pub output: &'static str,
    pub generator: Generator,
}

/// Which generator a contract file goes through, with its configuration.
pub enum Generator {
    Graphql(graphql::Config<'static>),
    OpenApi,
}

/// secworks' contract files and how each is generated. `build.rs` generates each into
/// `OUT_DIR`, and the golden-file test (`codegen/tests/golden.rs`) generates each the same way
/// and compares the result with its committed copy, so the two cannot drift apart.
pub const CONTRACTS: [Contract; 2] = [
    Contract {
        source: "schema.graphql",
        output: "schema_graphql.rs",
        generator: Generator::Graphql(graphql::Config {
            // A read of its own, made only when a query selects the field.
            resolved_by_hand: &["Lookup.last_error"],
        }),
    },
    Contract {
        source: "openapi.yaml",
        output: "openapi.rs",
        generator: Generator::OpenApi,
    },
];

impl Contract {
    /// The generated Rust for `text`, the contents of [`Contract::source`].
    pub fn generate(&self, text: &str) -> Result<String, Error> {
        match &self.generator {
            Generator::Graphql(config) => graphql::generate(self.source, text, config),
            Generator::OpenApi => openapi::generate(self.source, text),
        }
    }

    /// Reads the contract file under `root`, generates, and writes [`Contract::output`] into
    /// `out_dir`.
    pub fn write(&self, root: &Path, out_dir: &Path) -> Result<(), Error> {
        let source = root.join(self.source);
        let text = std::fs::read_to_string(&source).map_err(|e| {
            Error::new(
                self.source,
                format!("cannot read {}: {e}", source.display()),
            )
        })?;
        let code = self.generate(&text)?;
        let out = out_dir.join(self.output);
        std::fs::write(&out, code)
            .map_err(|e| Error::new(self.source, format!("cannot write {}: {e}", out.display())))
    }
}
