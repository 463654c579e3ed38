//! `schema.graphql` → Rust for async-graphql 7.2: the GraphQL types, one resolver trait per
//! type with fields to resolve, and the glue that serves the SDL through those traits.
//!
//! Like gqlgen, the SDL is the contract and the hand-written code implements traits:
//! `<Root>Resolvers` for every field of a root type, `<Type>Resolvers` for the fields of an
//! object type that take arguments or that [`Config::resolved_by_hand`] lists (its other fields
//! are plain struct fields). A resolver method takes `ctx`, then `parent: &<Type>` outside the
//! roots, then the field's arguments, and is called only when a query selects its field: the
//! place for a value that costs a read of its own. `schema_builder` requires every one of those
//! traits of its resolver type, so a missing resolver is a compile error rather than a runtime
//! failure. A method of `SubscriptionResolvers` (the subscription root's trait) opens a stream
//! instead: it returns a `BoxStream<'static, Result<T>>` of the field's values, each item one
//! event. What the generator does not support (interfaces, unions, custom directives, type
//! extensions) is rejected with a message naming the construct.
//!
//! The configuration lives beside the SDL rather than in it (no custom directive), so the
//! published schema stays exactly the file.

mod defaults;
mod emit;
mod model;
mod names;
#[cfg(test)]
mod tests;

use crate::Error;

/// What the generator needs to know beyond the SDL.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config<'a> {
    /// Fields without arguments, as `Type.field`, that a method of `<Type>Resolvers` computes
    /// instead of a struct field holding them. Each must name a field of an object type (not a
    /// root) that takes no arguments; anything else is an error naming the entry.
    pub resolved_by_hand: &'a [&'a str],
}

/// Generates the Rust module body for the SDL `sdl`, read from `source_file` (used in errors).
pub fn generate(source_file: &str, sdl: &str, config: &Config) -> Result<String, Error> {
    let document = async_graphql_parser::parse_schema(sdl)
        .map_err(|e| Error::new(source_file, parse_error(&e)))?;
    let schema =
        model::build(&document, config).map_err(|message| Error::new(source_file, message))?;
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
