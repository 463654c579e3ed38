//! The GraphQL API of schema.graphql: the generated glue and the resolvers behind it.

mod resolvers;

pub mod generated {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/schema_graphql.rs"));
}

pub use resolvers::Resolvers;

/// The executable schema, with secworks' resolvers behind it.
pub type AppSchema = generated::Schema<Resolvers>;

/// The SDL that schema.graphql holds, as published at build time.
pub const PUBLISHED_SDL: &str = include_str!("../../schema.graphql");

pub fn build(resolvers: Resolvers) -> AppSchema {
    generated::schema_builder(std::sync::Arc::new(resolvers)).finish()
}
