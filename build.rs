//! Generates the GraphQL and OpenAPI glue from the contract files into `OUT_DIR`; see `codegen/`
//! (and `codegen/generated/` for committed copies of what it writes).
use std::{env, path::PathBuf, process::ExitCode};

use secworks_codegen::CONTRACTS;

fn main() -> ExitCode {
    for contract in &CONTRACTS {
        println!("cargo:rerun-if-changed={}", contract.source);
    }
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("OUT_DIR is not set: build.rs must run under cargo");
        return ExitCode::FAILURE;
    };
    for contract in &CONTRACTS {
        if let Err(e) = contract.write(".".as_ref(), &out) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
