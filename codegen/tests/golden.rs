//! The code generated from secworks' own contract files, compared with its golden copies in
//! `codegen/generated/`: a contract change shows in review as a change to those files.
//!
//! Refresh them after changing a contract file or the generator:
//! `INSTA_UPDATE=always cargo test -p secworks-codegen`.

use std::path::Path;

use secworks_codegen::{CONTRACTS, Contract};

fn contract(source: &str) -> &'static Contract {
    CONTRACTS
        .iter()
        .find(|c| c.source == source)
        .unwrap_or_else(|| panic!("{source} is not among CONTRACTS"))
}

/// Generates `source` as `build.rs` does and compares it with `codegen/generated/<stem>.snap`.
#[track_caller]
fn assert_golden(source: &str) {
    let contract = contract(source);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(contract.source);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let code = contract.generate(&text).unwrap_or_else(|e| panic!("{e}"));
    let name = contract.output.trim_end_matches(".rs");
    insta::with_settings!({
        snapshot_path => "../generated",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        input_file => contract.source,
    }, {
        insta::assert_snapshot!(name, code);
    });
}

#[test]
fn schema_graphql() {
    assert_golden("schema.graphql");
}

#[test]
fn openapi_yaml() {
    assert_golden("openapi.yaml");
}

#[test]
fn every_contract_has_a_golden_file() {
    let sources: Vec<&str> = CONTRACTS.iter().map(|c| c.source).collect();
    assert_eq!(sources, ["schema.graphql", "openapi.yaml"]);
}
