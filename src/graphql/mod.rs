//! The GraphQL API of schema.graphql: the generated glue and the resolvers behind it.

mod dashboard;
pub mod documents;
mod events;
mod limits;
mod lookups;
mod rechecks;
mod resolvers;
pub mod scopes;
mod subscriptions;
mod watchlists;
mod webhooks;

pub mod generated {
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/schema_graphql.rs"));
}

pub use resolvers::Resolvers;

/// The executable schema, with secworks' resolvers behind it.
pub type AppSchema = generated::Schema<Resolvers>;

/// The SDL that schema.graphql holds, as published at build time.
pub const PUBLISHED_SDL: &str = include_str!("../../schema.graphql");

/// How big a query may be. Both are checked before anything runs: a query with thousands of
/// aliased fields or hundreds of levels of nesting is refused with a request error, while the
/// standard introspection query (depth 14, complexity under 200) passes.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub max_depth: usize,
    /// Each selected field counts 1.
    pub max_complexity: usize,
    /// Aliased fields written in the query.
    pub max_aliases: usize,
}

pub fn build(resolvers: Resolvers, limits: QueryLimits) -> AppSchema {
    generated::schema_builder(std::sync::Arc::new(resolvers))
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        // A request seen before is not validated again (limits still checked).
        .extension(documents::ValidationCache::new(limits))
        .extension(limits::AliasLimit {
            max: limits.max_aliases,
        })
        // Before any top-level field resolves: whether the token's scopes allow it.
        .extension(scopes::ScopeCheck)
        .finish()
}
