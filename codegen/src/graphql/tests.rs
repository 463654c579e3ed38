//! Small SDL documents in, the whole generated file or the whole error message out. Each
//! generated file is compared with `snapshots/<name>.snap`, `<name>` given beside the input;
//! refresh them with `INSTA_UPDATE=always cargo test -p secworks-codegen` and review the diff.

use super::{Config, generate};

/// Generates Rust for `sdl`, failing the test with the generator's message, and checks that
/// the result is valid Rust.
fn rust(sdl: &str, config: &Config) -> String {
    let code = generate("test.graphql", sdl, config).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = syn::parse_file(&code) {
        panic!("generated code does not parse: {e}\n{code}");
    }
    code
}

fn error(sdl: &str) -> String {
    error_with(sdl, &Config::default())
}

fn error_with(sdl: &str, config: &Config) -> String {
    match generate("schema.graphql", sdl, config) {
        Ok(code) => panic!("expected an error, got:\n{code}"),
        Err(e) => e.to_string(),
    }
}

/// Compares the code generated for `sdl` with `snapshots/<name>.snap`.
#[track_caller]
fn assert_generates(name: &str, sdl: &str) {
    assert_generates_with(name, sdl, &Config::default());
}

#[track_caller]
fn assert_generates_with(name: &str, sdl: &str, config: &Config) {
    let code = rust(sdl, config);
    insta::with_settings!({
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, code);
    });
}

const QUERY: &str = "type Query { a: Int }\n";

/// The original service's contract, as schema.graphql first published it: a fixed input, so
/// its expected code changes only when the generator does.
const ORIGINAL_CONTRACT: &str = include_str!("fixtures/original_contract.graphql");

#[test]
fn the_original_contract_has_the_api_the_service_implements() {
    assert_generates("original_contract", ORIGINAL_CONTRACT);
    let code = rust(ORIGINAL_CONTRACT, &Config::default());
    for panicky in [
        "unwrap",
        "expect(",
        "panic!",
        "unreachable!",
        "todo!",
        "unimplemented!",
    ] {
        assert!(!code.contains(panicky), "generated code contains {panicky}");
    }
}

#[test]
fn maps_scalars_nullability_and_nested_lists() {
    assert_generates(
        "scalars_nullability_lists",
        "type Query { a: T }
         type T { i: Int! f: Float! s: String! b: Boolean! id: ID! n: Int
                  l: [String]! ll: [[Int!]] nl: [ID!]! }",
    );
}

#[test]
fn names_are_snake_case_in_rust_and_exact_in_graphql() {
    assert_generates(
        "names",
        "type Query {
           getIPDetails(ipAddress: String, type: Int, self: Int): Int
           type: String
         }
         enum Kind { NOT_LISTED listed Self }
         input type { match: Int, someField: Int }",
    );
}

/// async-graphql trims every doc attribute, so indented text stays in one attribute.
#[test]
fn descriptions_become_docs_and_argument_descs() {
    assert_generates(
        "descriptions",
        r#"
        """
        The root.

        Second paragraph.
        """
        type Query {
          "One line."
          a(
            "The \"x\" argument."
            x: Int
          ): Int
        }
        """
        Keeps
          indentation.
        """
        enum E { "A value." A }
        "#,
    );
}

#[test]
fn deprecations_carry_their_reason() {
    assert_generates(
        "deprecations",
        r#"type Query {
             a: Int @deprecated(reason: "Use b.")
             b(x: Int @deprecated, y: I): Int @deprecated
           }
           enum E { A @deprecated(reason: "Gone.") B @deprecated }
           input I { f: Int @deprecated(reason: "Old.") }"#,
    );
}

#[test]
fn enums_derive_async_graphql_enum() {
    assert_generates(
        "enums",
        &format!("{QUERY}\"Colours.\" enum Colour {{ RED DARK_BLUE }}"),
    );
}

/// An input-object default names every field: given, the field's own default, or None.
#[test]
fn input_objects_derive_input_object_with_defaults() {
    assert_generates(
        "input_objects",
        r#"type Query { a(f: Filter = {limit: 5}): Int }
           enum Colour { RED DARK_BLUE }
           input Filter {
             "How many."
             limit: Int! = 10
             ratio: Float = 1
             label: String = "say \"hi\"\n"
             exact: Boolean = true
             colour: Colour = DARK_BLUE
             none: Int = null
             colours: [Colour!]! = [RED, DARK_BLUE]
             single: [Int] = 3
             id: ID = 7
             page: Page = {after: "c"}
             plain: Int
           }
           input Page { first: Int! = 20, after: String }"#,
    );
}

#[test]
fn argument_defaults_use_default_with() {
    assert_generates(
        "argument_defaults",
        r#"type Query { a(n: Int! = -3, f: Float = 2.5e3, s: String = "x", l: [Int!] = [], o: Int = null, id: ID! = 12345678901): Int }"#,
    );
}

#[test]
fn custom_scalars_are_string_newtypes() {
    assert_generates(
        "custom_scalars",
        &format!(
            r#"{QUERY}
            "RFC 3339."
            scalar DateTime @specifiedBy(url: "https://www.rfc-editor.org/rfc/rfc3339")
            scalar Cursor"#
        ),
    );
    assert_generates(
        "custom_scalar_default",
        r#"scalar When type Query { a(at: When = "now"): When }"#,
    );
}

/// One `#[Object]` impl serves all of `Lookup`'s fields, in SDL order; `HistoryEntry` has no
/// resolved fields and so no resolver trait.
#[test]
fn fields_with_arguments_are_resolved_through_a_trait() {
    assert_generates(
        "fields_with_arguments",
        r#"
        type Query { getIpDetails(ip: String!): Lookup }
        type Lookup {
          uuid: ID
          "Newest first."
          history(limit: Int = 10, since: String): [HistoryEntry!]!
          ip_address: String!
          count(status: Int!): Int!
        }
        type HistoryEntry { at: String! }
        "#,
    );
}

/// `Lookup.last_error` takes no arguments but is listed in `resolved_by_hand`: it leaves the
/// struct for `LookupResolvers`, beside `history`, and is resolved in SDL order like the others.
/// A type that contains itself through such a field needs no `Box`.
#[test]
fn fields_resolved_by_hand_are_resolver_methods() {
    assert_generates_with(
        "resolved_by_hand",
        r#"
        type Query { getIpDetails(ip: String!): Lookup }
        type Lookup {
          ip_address: String!
          "Why the latest attempt failed."
          last_error: String
          history(limit: Int = 10): [String!]!
          previous: Lookup
        }
        "#,
        &Config {
            resolved_by_hand: &["Lookup.last_error", "Lookup.previous"],
        },
    );
}

#[test]
fn a_type_of_only_resolved_fields_has_an_empty_struct() {
    assert_generates(
        "only_resolved_fields",
        "type Query { a: T } type T { f(x: Int): Int }",
    );
}

#[test]
fn without_mutation_the_schema_uses_empty_mutation() {
    assert_generates("without_mutation", QUERY);
}

/// Each subscription field is a stream the resolver opens: arguments with defaults and
/// descriptions, deprecations and names are those of a query's field; a nullable field's
/// failing event is null with an error beside it, as a query's field would be.
#[test]
fn subscription_fields_are_streams_opened_through_a_trait() {
    assert_generates(
        "subscription",
        r#"
        type Query { a: Int }
        type Mutation { b: Int }
        "Events as they happen."
        type Subscription {
          "A tick every `seconds`."
          heartbeat(
            "How often."
            seconds: Int! = 30
          ): Int!
          listingEvents(watchlist: String, after: String): ListingEvent
          everything: [ListingEvent!]! @deprecated(reason: "Use listingEvents.")
        }
        type ListingEvent { ip_address: String!, listed: Boolean }
        "#,
    );
}

/// Without a mutation the schema has `EmptyMutation` beside the subscription; a schema block
/// may name the subscription root anything, and then `Subscription` is an ordinary object.
#[test]
fn schema_block_names_the_subscription_root() {
    assert_generates(
        "subscription_schema_block",
        "schema { query: Reads subscription: Events }
         type Reads { a: Int }
         type Events { changed(since: String = \"now\"): Subscription! }
         type Subscription { c: Int }",
    );
}

/// Outside a schema block `Mutation` would be the root; here it is an ordinary object.
#[test]
fn schema_block_names_the_roots() {
    assert_generates(
        "schema_block",
        "schema { query: Reads mutation: Writes }
         type Reads { a: Int }
         type Writes { b: Int }
         type Mutation { c: Int }",
    );
}

#[test]
fn types_that_contain_themselves_are_boxed() {
    assert_generates(
        "boxed",
        "type Query { node(input: Tree): Node }
         type Node { parent: Node, children: [Node!]!, peer: Peer! }
         type Peer { node: Node }
         input Tree { label: String, child: Tree = {label: \"leaf\", child: null} }",
    );
}

#[test]
fn many_arguments_allow_the_clippy_lint() {
    assert_generates(
        "many_arguments",
        "type Query { a(b: Int, c: Int, d: Int, e: Int, f: Int): Int }",
    );
}

#[test]
fn rejects_unsupported_constructs() {
    let cases = [
        (
            "interface Node { id: ID } type Query { a: Int }",
            "unsupported construct: interface type `Node`",
        ),
        (
            "union U = Query type Query { a: Int }",
            "unsupported construct: union type `U`",
        ),
        (
            "interface Node { id: ID } type Query implements Node { id: ID }",
            "unsupported construct: interface type `Node`",
        ),
        (
            "directive @auth on FIELD_DEFINITION type Query { a: Int }",
            "unsupported construct: directive definition `@auth`",
        ),
        (
            "type Query { a: Int @auth }",
            "unsupported construct: directive `@auth` on field `Query.a`",
        ),
        (
            "type Query { a(x: Int @auth): Int }",
            "unsupported construct: directive `@auth` on argument `x` of `Query.a`",
        ),
        (
            "type Query { a: E } enum E { A @auth }",
            "unsupported construct: directive `@auth` on enum value `E.A`",
        ),
        (
            "type Query { a: Int } input I { f: Int @auth }",
            "unsupported construct: directive `@auth` on input field `I.f`",
        ),
        (
            "type Query @key(fields: \"a\") { a: Int }",
            "unsupported construct: directive `@key` on type `Query`",
        ),
        (
            "scalar S @auth type Query { a: S }",
            "unsupported construct: directive `@auth` on scalar `S`",
        ),
        (
            "schema @auth { query: Query } type Query { a: Int }",
            "unsupported construct: directive `@auth` on the schema",
        ),
        (
            "type Query { a: Int @deprecated(since: \"2020\") }",
            "unsupported construct: argument `since` of `@deprecated` on field `Query.a`",
        ),
        (
            "type Query { a: Int } extend type Query { b: Int }",
            "unsupported construct: type extension of `Query`",
        ),
        (
            "schema { query: Query } extend schema { mutation: Query } type Query { a: Int }",
            "unsupported construct: schema extension `extend schema`",
        ),
        (
            "type Query { a: Int } enum E",
            "unsupported construct: enum type `E` without values",
        ),
        (
            "type Query",
            "unsupported construct: object type `Query` without fields",
        ),
        (
            "type Query { a: Int } input I",
            "unsupported construct: input type `I` without fields",
        ),
        (
            "type Query { me: Query }",
            "unsupported construct: root type `Query` as the type of field `Query.me`",
        ),
        (
            "schema { query: Query mutation: Query } type Query { a: Int }",
            "unsupported construct: type `Query` as both the query and the mutation root",
        ),
        (
            "schema { query: Query subscription: Query } type Query { a: Int }",
            "unsupported construct: type `Query` as both the query and the subscription root",
        ),
        (
            "schema { query: Query mutation: M subscription: M } type Query { a: Int } type M { b: Int }",
            "unsupported construct: type `M` as both the mutation and the subscription root",
        ),
        (
            "type Query { a: Subscription } type Subscription { b: Int }",
            "unsupported construct: root type `Subscription` as the type of field `Query.a`",
        ),
        (
            "type Query { a: Int } type Subscription { b: Subscription }",
            "unsupported construct: root type `Subscription` as the type of field `Subscription.b`",
        ),
        (
            "type Query { a: Int } type Subscription",
            "unsupported construct: object type `Subscription` without fields",
        ),
        (
            "type Query { __a: Int }",
            "unsupported construct: field `Query.__a`: names starting with `__` are reserved",
        ),
        (
            "type Query { _: Int }",
            "unsupported construct: field `Query._`, which has no Rust name",
        ),
        (
            "type Query { a: Schema } type Schema { b: Int }",
            "unsupported construct: type name `Schema`, which the generated Rust code needs for itself",
        ),
    ];
    for (sdl, message) in cases {
        assert_eq!(
            error(sdl),
            format!("schema.graphql: {message}"),
            "for {sdl}"
        );
    }
}

#[test]
fn rejects_unknown_and_misplaced_types() {
    let cases = [
        (
            "type Query { a: Lookup }",
            "unknown type `Lookup` in field `Query.a`",
        ),
        (
            "type Query { a(x: [Filter!]): Int }",
            "unknown type `Filter` in argument `x` of `Query.a`",
        ),
        (
            "type Query { a: Int } input I { f: Missing }",
            "unknown type `Missing` in input field `I.f`",
        ),
        (
            "type Query { a(x: T): Int } type T { b: Int }",
            "object type `T` cannot be the type of argument `x` of `Query.a`",
        ),
        (
            "type Query { a: I } input I { b: Int }",
            "input type `I` cannot be the type of field `Query.a`",
        ),
        (
            "type Reads { a: Int }",
            "the query root type `Query` is not defined",
        ),
        (
            "schema { query: Reads } type Query { a: Int }",
            "the query root type `Reads` is not defined",
        ),
        (
            "schema { query: Query mutation: Writes } type Query { a: Int }",
            "the mutation root type `Writes` is not defined",
        ),
        (
            "schema { query: E } enum E { A }",
            "the query root type `E` is not an object type",
        ),
        (
            "schema { query: Query subscription: Events } type Query { a: Int }",
            "the subscription root type `Events` is not defined",
        ),
        (
            "schema { query: Query subscription: E } type Query { a: Int } enum E { A }",
            "the subscription root type `E` is not an object type",
        ),
        (
            "type Query { a: Int } input Subscription { b: Int }",
            "the subscription root type `Subscription` is not an object type",
        ),
    ];
    for (sdl, message) in cases {
        assert_eq!(
            error(sdl),
            format!("schema.graphql: {message}"),
            "for {sdl}"
        );
    }
}

#[test]
fn rejects_duplicates_and_rust_name_collisions() {
    let cases = [
        (
            "type Query { a: Int } type Query { b: Int }",
            "duplicate definition: type `Query`",
        ),
        (
            "type Query { a: Int } scalar String",
            "duplicate definition: type `String` is a built-in scalar",
        ),
        (
            "schema { query: Query } schema { query: Query } type Query { a: Int }",
            "duplicate definition: schema",
        ),
        (
            "type Query { a: Int a: Int }",
            "duplicate definition: field `Query.a`",
        ),
        (
            "type Query { a(x: Int, x: Int): Int }",
            "duplicate definition: argument `Query.a.x`",
        ),
        (
            "type Query { a: E } enum E { A A }",
            "duplicate definition: enum value `E.A`",
        ),
        (
            "type Query { createdAt: Int created_at: Int }",
            "name collision: fields `Query.createdAt` and `Query.created_at` both become `created_at` in Rust",
        ),
        (
            "type Query { a(ipAddress: Int, ip_address: Int): Int }",
            "name collision: arguments `Query.a.ipAddress` and `Query.a.ip_address` both become `ip_address` in Rust",
        ),
        (
            "type Query { a: Int } input I { someField: Int, some_field: Int }",
            "name collision: input fields `I.someField` and `I.some_field` both become `some_field` in Rust",
        ),
        (
            "type Query { a: E } enum E { NOT_LISTED NotListed }",
            "name collision: enum values `E.NOT_LISTED` and `E.NotListed` both become `NotListed` in Rust",
        ),
        (
            "type Query { a: Int } type QueryResolvers { b: Int }",
            "name collision: type `QueryResolvers` has the name generated for type `Query`",
        ),
        (
            "type Query { a(ctx: Int): Int }",
            "name collision: argument `ctx` of `Query.a` becomes `ctx`, which the generated resolver method already uses for its own parameter",
        ),
        (
            "type Query { a: Int } type Subscription { b(ctx: Int): Int }",
            "name collision: argument `ctx` of `Subscription.b` becomes `ctx`, which the generated resolver method already uses for its own parameter",
        ),
        (
            "type Query { a: T } type T { b(parent: Int): Int }",
            "name collision: argument `parent` of `T.b` becomes `parent`, which the generated resolver method already uses for its own parameter",
        ),
        (
            "type Query { a: Int @deprecated @deprecated }",
            "duplicate definition: `@deprecated` on field `Query.a`",
        ),
    ];
    for (sdl, message) in cases {
        assert_eq!(
            error(sdl),
            format!("schema.graphql: {message}"),
            "for {sdl}"
        );
    }
}

#[test]
fn rejects_defaults_that_do_not_fit_their_type() {
    let cases = [
        (
            "type Query { a(x: Int = \"1\"): Int }",
            "invalid default value \"1\" for argument `x` of `Query.a`: expected an `Int` (a 32-bit integer)",
        ),
        (
            "type Query { a(x: Int = 1.5): Int }",
            "invalid default value 1.5 for argument `x` of `Query.a`: expected an `Int` (a 32-bit integer)",
        ),
        (
            "type Query { a(x: Int = 3000000000): Int }",
            "invalid default value 3000000000 for argument `x` of `Query.a`: expected an `Int` (a 32-bit integer)",
        ),
        (
            "type Query { a(x: Int! = null): Int }",
            "invalid default value null for argument `x` of `Query.a`: null is not a `Int!`",
        ),
        (
            "type Query { a(x: String = X): Int }",
            "invalid default value X for argument `x` of `Query.a`: `String` takes a string, not an enum value",
        ),
        (
            "type Query { a(x: E = \"A\"): Int } enum E { A }",
            "invalid default value \"A\" for argument `x` of `Query.a`: `E` takes an enum value, not a string",
        ),
        (
            "type Query { a(x: [E] = [A, \"A\"]): Int } enum E { A }",
            "invalid default value [A, \"A\"] for argument `x` of `Query.a`: `E` takes an enum value, not a string",
        ),
        (
            "type Query { a(x: E = B): Int } enum E { A }",
            "invalid default value B for argument `x` of `Query.a`: expected a value of enum `E`",
        ),
        (
            "type Query { a(x: Boolean = 1): Int }",
            "invalid default value 1 for argument `x` of `Query.a`: expected a `Boolean`",
        ),
        (
            "scalar S type Query { a(x: S = 1): Int }",
            "invalid default value 1 for argument `x` of `Query.a`: expected a `S`",
        ),
        (
            "type Query { a(x: I = {b: 1}): Int } input I { a: Int }",
            "invalid default value {b: 1} for argument `x` of `Query.a`: `I` has no field `b`",
        ),
        (
            "type Query { a(x: I = {}): Int } input I { a: Int! }",
            "invalid default value {} for argument `x` of `Query.a`: the required field `a` of `I` is missing",
        ),
        (
            "type Query { a(x: I = {}): Int } input I { j: J = {} } input J { i: I = {} }",
            "invalid default value {} for argument `x` of `Query.a`: invalid default value {} for input field `I.j`: invalid default value {} for input field `J.i`: invalid default value {} for input field `I.j`: the default needs itself",
        ),
        (
            "type Query { a: Int @deprecated(reason: OLD) }",
            "`reason` of `@deprecated` on field `Query.a` must be a string, found OLD",
        ),
    ];
    for (sdl, message) in cases {
        assert_eq!(
            error(sdl),
            format!("schema.graphql: {message}"),
            "for {sdl}"
        );
    }
}

#[test]
fn rejects_resolved_by_hand_entries_that_name_no_plain_object_field() {
    let sdl = "type Query { a: Lookup } enum E { A } input I { f: Int }
               type Subscription { events: Int! }
               type Lookup { ip: String!, last_error: String, history(limit: Int): [String!]! }";
    let cases = [
        ("Lookp.last_error", "names the unknown type `Lookp`"),
        (
            "Lookup.lastError",
            "names a field that type `Lookup` does not have",
        ),
        ("last_error", "is not of the form `Type.field`"),
        (
            "Query.a",
            "names a field of the root type `Query`, whose fields are all resolved by hand",
        ),
        (
            "Subscription.events",
            "names a field of the root type `Subscription`, whose fields are all resolved by hand",
        ),
        ("E.A", "names `E`, which is not an object type"),
        ("I.f", "names `I`, which is not an object type"),
        (
            "String.length",
            "names `String`, which is not an object type",
        ),
        (
            "Lookup.history",
            "names a field with arguments, which is resolved by hand already",
        ),
    ];
    for (entry, message) in cases {
        let config = Config {
            resolved_by_hand: &[entry],
        };
        assert_eq!(
            error_with(sdl, &config),
            format!("schema.graphql: resolved_by_hand: `{entry}` {message}"),
            "for {entry}"
        );
    }
    let twice = Config {
        resolved_by_hand: &["Lookup.last_error", "Lookup.last_error"],
    };
    assert_eq!(
        error_with(sdl, &twice),
        "schema.graphql: resolved_by_hand: `Lookup.last_error` is listed twice"
    );
}

#[test]
fn rejects_sdl_that_does_not_parse_with_its_position() {
    assert_eq!(
        error("type Query {\n  a: Int\n"),
        "schema.graphql: invalid SDL at line 3, column 1: expected field_definition or const_directive\n  |\n3 | \n  | ^---"
    );
    assert_eq!(
        error("schema { mutation: M } type M { a: Int }"),
        "schema.graphql: invalid SDL at line 1, column 1: schema definition is missing query root"
    );
}
