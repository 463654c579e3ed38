//! Generates the GraphQL and OpenAPI glue from the contract files; see `codegen/`.
use std::{env, path::PathBuf, process::ExitCode};

use secworks_codegen::{generate_file, graphql, openapi};

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=schema.graphql");
    println!("cargo:rerun-if-changed=openapi.yaml");
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("OUT_DIR is not set: build.rs must run under cargo");
        return ExitCode::FAILURE;
    };
    let generated = generate_file(
        "schema.graphql".as_ref(),
        &out.join("schema_graphql.rs"),
        graphql::generate,
    )
    .and_then(|()| {
        generate_file(
            "openapi.yaml".as_ref(),
            &out.join("openapi.rs"),
            openapi::generate,
        )
    });
    match generated {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
