//! Rust names for GraphQL names.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

use super::model::unsupported;

/// Rust keywords (all editions) that a raw identifier `r#…` makes usable.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers; they get a trailing underscore instead.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super"];

/// Names the generated code uses unqualified (prelude items, primitive types, the resolver type
/// parameter and the generated items): a GraphQL type of that name would shadow them.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "Box",
    "Clone",
    "Copy",
    "Debug",
    "Eq",
    "Err",
    "None",
    "Ok",
    "Option",
    "PartialEq",
    "R",
    "Result",
    "Schema",
    "Send",
    "Some",
    "String",
    "Sync",
    "Vec",
    "bool",
    "f64",
    "i32",
    "schema_builder",
    "str",
];

/// The Rust name of a field, argument or input field: snake_case.
pub(super) fn field(graphql: &str) -> String {
    escape(graphql.to_snake_case())
}

/// The Rust name of an enum value: UpperCamelCase.
pub(super) fn variant(graphql: &str) -> String {
    escape(graphql.to_upper_camel_case())
}

/// The Rust name of a type: the GraphQL name itself.
pub(super) fn type_name(graphql: &str) -> String {
    escape(graphql.to_owned())
}

/// The resolver trait of an object type, and its object-safe twin.
pub(super) fn resolvers_trait(type_name: &str) -> String {
    format!("{type_name}Resolvers")
}

pub(super) fn erased_trait(type_name: &str) -> String {
    format!("Erased{type_name}Resolvers")
}

pub(super) fn generated_type_names(type_name: &str) -> [String; 2] {
    [resolvers_trait(type_name), erased_trait(type_name)]
}

pub(super) fn check_type_name(name: &str) -> Result<(), String> {
    if RESERVED_TYPE_NAMES.contains(&name) || NOT_RAW.contains(&name) || name == "_" {
        return Err(unsupported(format!(
            "type name `{name}`, which the generated Rust code needs for itself"
        )));
    }
    Ok(())
}

/// An identifier from a Rust name made by this module (`r#` prefix for raw identifiers).
pub(super) fn ident(rust: &str) -> Ident {
    match rust.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(rust, Span::call_site()),
    }
}

fn escape(name: String) -> String {
    if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else {
        name
    }
}
