//! `schema.graphql` → Rust for async-graphql 7.2: the GraphQL types, one resolver trait per
//! type with fields to resolve, and the glue that serves the SDL through those traits.
//!
//! Like gqlgen, the SDL is the contract and the hand-written code implements traits:
//! `<Root>Resolvers` for every field of a root type, `<Type>Resolvers` for the fields of an
//! object type that take arguments (its other fields are plain struct fields). `schema_builder`
//! requires every one of those traits of its resolver type, so a missing resolver is a compile
//! error rather than a runtime failure. What the generator does not support (interfaces,
//! unions, subscriptions, custom directives, type extensions) is rejected with a message
//! naming the construct.

mod defaults;
mod emit;
mod model;
mod names;
#[cfg(test)]
mod tests;

use crate::Error;

/// Generates the Rust module body for the SDL `sdl`, read from `source_file` (used in errors).
pub fn generate(source_file: &str, sdl: &str) -> Result<String, Error> {
    let document = async_graphql_parser::parse_schema(sdl)
        .map_err(|e| Error::new(source_file, parse_error(&e)))?;
    let schema = model::build(&document).map_err(|message| Error::new(source_file, message))?;
    crate::render(source_file, emit::emit(&schema))
}

/// The parser's message leads with the position and ends with what it expected; put the
/// expectation first and keep the source excerpt below it.
fn parse_error(error: &async_graphql_parser::Error) -> String {
    let text = error.to_string();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-->"))
        .collect();
    let summary = match lines
        .iter()
        .rposition(|line| line.trim_start().starts_with("= "))
    {
        Some(i) => lines
            .remove(i)
            .trim_start()
            .trim_start_matches("= ")
            .to_owned(),
        None => lines.remove(0).to_owned(),
    };
    let excerpt = lines.join("\n");
    let excerpt = excerpt.trim_end_matches(['|', ' ', '\n']);
    let position = match error.positions().next() {
        Some(pos) => format!(" at line {}, column {}", pos.line, pos.column),
        None => String::new(),
    };
    match excerpt.is_empty() {
        true => format!("invalid SDL{position}: {summary}"),
        false => format!("invalid SDL{position}: {summary}\n{excerpt}"),
    }
}
