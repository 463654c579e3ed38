//! Generates the GraphQL and OpenAPI glue from the contract files; see `codegen/`.
use std::{env, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=schema.graphql");
    println!("cargo:rerun-if-changed=openapi.yaml");
    println!("cargo:rerun-if-changed=migrations");
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("OUT_DIR is not set: build.rs must run under cargo");
        return ExitCode::FAILURE;
    };
    let jobs: [(&str, &str, fn(&str, &str) -> Result<String, secworks_codegen::Error>); 2] = [
        ("schema.graphql", "schema_graphql.rs", secworks_codegen::graphql::generate),
        ("openapi.yaml", "openapi.rs", secworks_codegen::openapi::generate),
    ];
    for (source, target, generate) in jobs {
        if let Err(e) = secworks_codegen::generate_file(source.as_ref(), &out.join(target), generate) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
