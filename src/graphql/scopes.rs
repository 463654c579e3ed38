//! Which scope each top-level field needs, and the one check that enforces it: an extension
//! that runs before every field of `Query`, `Mutation` and `Subscription` resolves. A field
//! outside the token's scopes answers a `FORBIDDEN` error naming the scope, with its path (so
//! HTTP 200, and the other fields of the request still resolve); its resolver never runs.
//!
//! Query and Subscription fields read, so a new one needs `read` unless listed here. Every
//! Mutation field must be listed: an unlisted one is refused to every token, and a unit test
//! fails until it is given a scope.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, PathSegment, Pos, ServerError, ServerResult, Value, Variables,
};

use crate::auth::{Principal, Scope, Scopes};

/// The scope a top-level field needs; `None` for a field no scope grants (an unlisted
/// mutation), and for introspection, which needs none.
pub fn required_scope(root: OperationType, field: &str) -> Option<Scope> {
    if field.starts_with("__") {
        return None;
    }
    match root {
        OperationType::Query => match field {
            "webhooks" => Some(Scope::Monitor),
            _ => Some(Scope::Read),
        },
        OperationType::Mutation => mutation_scope(field),
        OperationType::Subscription => Some(Scope::Read),
    }
}

/// Every mutation, with the scope it needs.
fn mutation_scope(field: &str) -> Option<Scope> {
    match field {
        "enqueue" | "enqueueDomains" => Some(Scope::Lookup),
        "putWatchlist" | "addWatchTargets" | "removeWatchTargets" | "deleteWatchlist"
        | "createWebhook" | "deleteWebhook" => Some(Scope::Monitor),
        _ => None,
    }
}

/// Whether `scopes` may run the top-level `field` of `root`, and the refusal if not.
fn check(root: OperationType, field: &str, scopes: Scopes, pos: Pos) -> Result<(), ServerError> {
    if field.starts_with("__") {
        return Ok(());
    }
    match required_scope(root, field) {
        Some(scope) if scopes.contains(scope) => Ok(()),
        Some(scope) => Err(forbidden(
            format!("{field} needs the scope \"{scope}\", which this token does not have"),
            Some(scope),
            pos,
        )),
        None => Err(forbidden(
            format!("{field} is not granted by any scope"),
            None,
            pos,
        )),
    }
}

fn forbidden(message: String, scope: Option<Scope>, pos: Pos) -> ServerError {
    let mut error = ServerError::new(message, Some(pos));
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "FORBIDDEN");
    if let Some(scope) = scope {
        extensions.set("scope", Value::from(scope.name()));
    }
    error.extensions = Some(extensions);
    error
}

/// The scope check, as an async-graphql extension.
pub struct ScopeCheck;

impl ExtensionFactory for ScopeCheck {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ScopeCheckExtension)
    }
}

struct ScopeCheckExtension;

/// The scopes of the request's token. Every route that executes GraphQL puts the caller in
/// the request (or, over WebSocket, the connection) data; without one, nothing is allowed.
fn scopes_of(ctx: &ExtensionContext<'_>) -> Scopes {
    ctx.data_opt::<Principal>()
        .map_or(Scopes::NONE, Principal::scopes)
}

fn root_of(parent_type: &str) -> Option<OperationType> {
    match parent_type {
        "Query" => Some(OperationType::Query),
        "Mutation" => Some(OperationType::Mutation),
        "Subscription" => Some(OperationType::Subscription),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Extension for ScopeCheckExtension {
    /// A subscription is refused before it opens: its stream would run the resolver first,
    /// and `resolve` below only sees each event.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let scopes = scopes_of(ctx);
        for (_, operation) in document.operations.iter() {
            if operation.node.ty != OperationType::Subscription {
                continue;
            }
            for (field, pos) in root_fields(&document, &operation.node.selection_set.node) {
                check(OperationType::Subscription, field, scopes, pos)?;
            }
        }
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none()
            && let Some(root) = root_of(info.parent_type)
        {
            let key = info.alias.unwrap_or(info.name).to_owned();
            check(root, info.name, scopes_of(ctx), info.field.name.pos)
                .map_err(|error| error.with_path(vec![PathSegment::Field(key)]))?;
        }
        next.run(ctx, info).await
    }
}

/// The fields a selection set selects at its own level, through fragments.
fn root_fields<'a>(document: &'a ExecutableDocument, set: &'a SelectionSet) -> Vec<(&'a str, Pos)> {
    let mut fields = Vec::new();
    // Fragments may not form cycles (validation refuses them), but validation runs after
    // parsing: a bound keeps a cyclic document from looping here.
    let mut pending = vec![(set, 0usize)];
    while let Some((set, depth)) = pending.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    fields.push((field.node.name.node.as_str(), field.node.name.pos));
                }
                Selection::InlineFragment(inline) if depth < 16 => {
                    pending.push((&inline.node.selection_set.node, depth + 1));
                }
                Selection::FragmentSpread(spread) if depth < 16 => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        pending.push((&fragment.node.selection_set.node, depth + 1));
                    }
                }
                _ => {}
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    use super::*;

    /// The top-level fields schema.graphql declares for `type_name`.
    fn fields_of(type_name: &str) -> Vec<String> {
        let document = parse_schema(super::super::PUBLISHED_SDL).expect("schema.graphql parses");
        document
            .definitions
            .iter()
            .filter_map(|definition| match definition {
                TypeSystemDefinition::Type(ty) if ty.node.name.node == type_name => {
                    match &ty.node.kind {
                        TypeKind::Object(object) => Some(
                            object
                                .fields
                                .iter()
                                .map(|f| f.node.name.node.to_string())
                                .collect::<Vec<_>>(),
                        ),
                        _ => None,
                    }
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn every_mutation_has_a_scope() {
        let mutations = fields_of("Mutation");
        assert!(!mutations.is_empty());
        let unlisted: Vec<_> = mutations
            .iter()
            .filter(|field| mutation_scope(field).is_none())
            .collect();
        assert!(
            unlisted.is_empty(),
            "decide the scope of each new mutation in src/graphql/scopes.rs: {unlisted:?}"
        );
    }

    #[test]
    fn the_published_fields_need_the_scopes_the_contract_names() {
        use OperationType::{Mutation, Query, Subscription};
        for field in fields_of("Query") {
            let want = if field == "webhooks" {
                Scope::Monitor
            } else {
                Scope::Read
            };
            assert_eq!(required_scope(Query, &field), Some(want), "{field}");
        }
        for (field, want) in [
            ("enqueue", Scope::Lookup),
            ("enqueueDomains", Scope::Lookup),
            ("putWatchlist", Scope::Monitor),
            ("addWatchTargets", Scope::Monitor),
            ("removeWatchTargets", Scope::Monitor),
            ("deleteWatchlist", Scope::Monitor),
            ("createWebhook", Scope::Monitor),
            ("deleteWebhook", Scope::Monitor),
        ] {
            assert_eq!(required_scope(Mutation, field), Some(want), "{field}");
        }
        assert_eq!(
            required_scope(Subscription, "listingEvents"),
            Some(Scope::Read)
        );
        assert_eq!(required_scope(Query, "__schema"), None);
        assert_eq!(required_scope(Mutation, "someNewMutation"), None);
    }

    #[test]
    fn refusals_say_forbidden_and_name_the_scope() {
        let read: Scopes = [Scope::Read].into_iter().collect();
        let pos = Pos::default();
        assert!(check(OperationType::Query, "getIpDetails", read, pos).is_ok());
        assert!(check(OperationType::Query, "__typename", Scopes::NONE, pos).is_ok());
        let error = check(OperationType::Mutation, "enqueue", read, pos).unwrap_err();
        assert!(error.message.contains("\"lookup\""), "{}", error.message);
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["extensions"]["code"], "FORBIDDEN");
        assert_eq!(json["extensions"]["scope"], "lookup");
        let unlisted = check(OperationType::Mutation, "newThing", Scopes::all(), pos).unwrap_err();
        assert!(
            unlisted.message.contains("newThing"),
            "{}",
            unlisted.message
        );
    }

    #[test]
    fn finds_the_root_fields_through_fragments() {
        let document = async_graphql::parser::parse_query(
            "subscription { a ...F ... on Subscription { b } } fragment F on Subscription { c }",
        )
        .unwrap();
        let (_, operation) = document.operations.iter().next().unwrap();
        let mut names: Vec<_> = root_fields(&document, &operation.node.selection_set.node)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
