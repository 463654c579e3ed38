use super::generate;

/// Generates Rust for `sdl`, failing the test with the generator's message, and checks that
/// the result is valid Rust.
fn rust(sdl: &str) -> String {
    let code = generate("test.graphql", sdl).unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = syn::parse_file(&code) {
        panic!("generated code does not parse: {e}\n{code}");
    }
    code
}

fn error(sdl: &str) -> String {
    match generate("schema.graphql", sdl) {
        Ok(code) => panic!("expected an error, got:\n{code}"),
        Err(e) => e.to_string(),
    }
}

/// Whitespace-insensitive: prettyplease decides the line breaks and trailing commas.
fn squash(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    text.replace(",)", ")")
        .replace(",>", ">")
        .replace(",}", "}")
        .replace(",]", "]")
}

#[track_caller]
fn assert_has(code: &str, expected: &str) {
    assert!(
        squash(code).contains(&squash(expected)),
        "missing\n{expected}\nin\n{code}"
    );
}

#[track_caller]
fn assert_lacks(code: &str, unexpected: &str) {
    assert!(
        !squash(code).contains(&squash(unexpected)),
        "unexpected\n{unexpected}\nin\n{code}"
    );
}

const QUERY: &str = "type Query { a: Int }\n";

/// The original service's contract, as schema.graphql first published it: a fixed input, so
/// the expected code below changes only when the generator does.
const ORIGINAL_CONTRACT: &str = include_str!("fixtures/original_contract.graphql");

#[test]
fn the_original_contract_has_the_api_the_service_implements() {
    let code = rust(ORIGINAL_CONTRACT);
    assert!(code.starts_with(
        "// @generated from test.graphql by secworks-codegen. DO NOT EDIT: change test.graphql instead."
    ));
    assert_has(
        &code,
        r#"/// The stored blocklist result for one IP address.
        #[derive(Clone, Debug, ::async_graphql::SimpleObject)]
        #[graphql(name = "Lookup")]
        pub struct Lookup {
            /// Stable identifier of this address's record; kept across re-lookups. Null if never looked up.
            #[graphql(name = "uuid")]
            pub uuid: Option<::async_graphql::ID>,"#,
    );
    for field in [
        r#"#[graphql(name = "created_at")] pub created_at: Option<String>,"#,
        r#"#[graphql(name = "updated_at")] pub updated_at: Option<String>,"#,
        r#"#[graphql(name = "response_code")] pub response_code: String,"#,
        r#"#[graphql(name = "ip_address")] pub ip_address: String }"#,
    ] {
        assert_has(&code, field);
    }
    assert_has(
        &code,
        r#"/// Resolvers for the root type `Query`.
        pub trait QueryResolvers: Send + Sync + 'static {
            /// The stored result for one address. An address that was never looked up returns a Lookup
            /// whose `response_code` is `No records found.` and whose other stored fields are null.
            /// An entry that is not an IPv4 or IPv6 address is an error.
            fn get_ip_details(&self, ctx: &::async_graphql::Context<'_>, ip: String)
                -> impl ::std::future::Future<Output = ::async_graphql::Result<Option<Lookup>>> + Send;
        }"#,
    );
    assert_has(
        &code,
        r#"pub trait MutationResolvers: Send + Sync + 'static {"#,
    );
    assert_has(
        &code,
        r#"fn enqueue(&self, ctx: &::async_graphql::Context<'_>, ip: Vec<String>)
            -> impl ::std::future::Future<Output = ::async_graphql::Result<Option<i32>>> + Send;"#,
    );
    assert_has(&code, "pub struct Query<R>(pub ::std::sync::Arc<R>);");
    assert_has(
        &code,
        r#"/// Read access to stored lookup results.
        #[::async_graphql::Object(name = "Query")]
        impl<R: QueryResolvers> Query<R> {"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "getIpDetails")]
        async fn get_ip_details(
            &self,
            ctx: &::async_graphql::Context<'_>,
            #[graphql(name = "ip", desc = "The IPv4 or IPv6 address to read, in any textual form (IPv6 is normalised to RFC 5952).")]
            ip: String,
        ) -> ::async_graphql::Result<Option<Lookup>> {
            let result: ::async_graphql::Result<Option<Lookup>> = async move {
                QueryResolvers::get_ip_details(&*self.0, ctx, ip).await
            }
                .await;
            result
                .or_else(|error| {
                    ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
                    Ok(None)
                })
        }"#,
    );
    assert_has(&code, "pub struct Mutation<R>(pub ::std::sync::Arc<R>);");
    assert_has(
        &code,
        r#"#[::async_graphql::Object(name = "Mutation")] impl<R: MutationResolvers> Mutation<R> {"#,
    );
    assert_has(
        &code,
        "pub type Schema<R> = ::async_graphql::Schema<Query<R>, Mutation<R>, ::async_graphql::EmptySubscription>;",
    );
    assert_has(
        &code,
        r#"pub fn schema_builder<R>(resolvers: ::std::sync::Arc<R>)
            -> ::async_graphql::SchemaBuilder<Query<R>, Mutation<R>, ::async_graphql::EmptySubscription>
        where
            R: QueryResolvers + MutationResolvers,
        {
            ::async_graphql::Schema::build(
                Query(::std::sync::Arc::clone(&resolvers)),
                Mutation(::std::sync::Arc::clone(&resolvers)),
                ::async_graphql::EmptySubscription,
            )
            .register_output_type::<Lookup>()
        }"#,
    );
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
    let code = rust(
        "type Query { a: T }
         type T { i: Int! f: Float! s: String! b: Boolean! id: ID! n: Int
                  l: [String]! ll: [[Int!]] nl: [ID!]! }",
    );
    for field in [
        "pub i: i32,",
        "pub f: f64,",
        "pub s: String,",
        "pub b: bool,",
        "pub id: ::async_graphql::ID,",
        "pub n: Option<i32>,",
        "pub l: Vec<Option<String>>,",
        "pub ll: Option<Vec<Option<Vec<i32>>>>,",
        "pub nl: Vec<::async_graphql::ID>",
    ] {
        assert_has(&code, field);
    }
    assert_has(
        &code,
        "-> impl ::std::future::Future<Output = ::async_graphql::Result<Option<T>>> + Send;",
    );
}

#[test]
fn names_are_snake_case_in_rust_and_exact_in_graphql() {
    let code = rust(
        "type Query {
           getIPDetails(ipAddress: String, type: Int, self: Int): Int
           type: String
         }
         enum Kind { NOT_LISTED listed Self }
         input type { match: Int, someField: Int }",
    );
    assert_has(
        &code,
        r#"fn get_ip_details(&self, ctx: &::async_graphql::Context<'_>, ip_address: Option<String>,
            r#type: Option<i32>, self_: Option<i32>)"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "getIPDetails")] async fn get_ip_details("#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "ipAddress")] ip_address: Option<String>"#,
    );
    assert_has(&code, r#"#[graphql(name = "type")] r#type: Option<i32>"#);
    assert_has(&code, r#"#[graphql(name = "self")] self_: Option<i32>"#);
    assert_has(&code, r#"#[graphql(name = "type")] async fn r#type("#);
    assert_has(
        &code,
        r#"pub enum Kind {
            #[graphql(name = "NOT_LISTED")] NotListed,
            #[graphql(name = "listed")] Listed,
            #[graphql(name = "Self")] Self_,
        }"#,
    );
    assert_has(
        &code,
        r#"#[allow(non_camel_case_types)]
        #[derive(::async_graphql::InputObject, Clone, Debug)]
        #[graphql(name = "type")]
        pub struct r#type {
            #[graphql(name = "match")] pub r#match: Option<i32>,
            #[graphql(name = "someField")] pub some_field: Option<i32>,
        }"#,
    );
}

#[test]
fn descriptions_become_docs_and_argument_descs() {
    let code = rust(
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
    assert_has(
        &code,
        "/// The root.\n///\n/// Second paragraph.\n#[::async_graphql::Object(name = \"Query\")]",
    );
    assert_has(&code, "/// One line.\n#[graphql(name = \"a\")]");
    assert_has(
        &code,
        r#"#[graphql(name = "x", desc = "The \"x\" argument.")] x: Option<i32>"#,
    );
    // async-graphql trims every doc attribute, so indented text stays in one attribute.
    let file = syn::parse_file(&code).unwrap();
    let docs: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Enum(e) => Some(&e.attrs),
            _ => None,
        })
        .flatten()
        .filter(|attr| attr.path().is_ident("doc"))
        .map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => s.value(),
                _ => panic!("doc is not a string"),
            },
            _ => panic!("doc is not name = value"),
        })
        .collect();
    assert_eq!(docs, ["Keeps\n  indentation."]);
    assert_has(&code, r#"/// A value. #[graphql(name = "A")] A"#);
}

#[test]
fn deprecations_carry_their_reason() {
    let code = rust(
        r#"type Query {
             a: Int @deprecated(reason: "Use b.")
             b(x: Int @deprecated, y: I): Int @deprecated
           }
           enum E { A @deprecated(reason: "Gone.") B @deprecated }
           input I { f: Int @deprecated(reason: "Old.") }"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "a", deprecation = "Use b.")] async fn a("#,
    );
    assert_has(&code, r#"#[graphql(name = "b", deprecation)] async fn b("#);
    assert_has(
        &code,
        r#"#[graphql(name = "x", deprecation)] x: Option<i32>"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "A", deprecation = "Gone.")] A, #[graphql(name = "B", deprecation)] B"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "f", deprecation = "Old.")] pub f: Option<i32>"#,
    );
}

#[test]
fn enums_derive_async_graphql_enum() {
    let code = rust(&format!(
        "{QUERY}\"Colours.\" enum Colour {{ RED DARK_BLUE }}"
    ));
    assert_has(
        &code,
        r#"/// Colours.
        #[derive(::async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[graphql(name = "Colour")]
        pub enum Colour {
            #[graphql(name = "RED")] Red,
            #[graphql(name = "DARK_BLUE")] DarkBlue,
        }"#,
    );
}

#[test]
fn input_objects_derive_input_object_with_defaults() {
    let code = rust(
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
    assert_has(
        &code,
        r#"#[derive(::async_graphql::InputObject, Clone, Debug)]
        #[graphql(name = "Filter")]
        pub struct Filter {
            /// How many.
            #[graphql(name = "limit", default_with = "10")]
            pub limit: i32,"#,
    );
    for field in [
        r#"#[graphql(name = "ratio", default_with = "Some(1.0)")] pub ratio: Option<f64>,"#,
        r#"#[graphql(name = "label", default_with = "Some(String::from(\"say \\\"hi\\\"\\n\"))")]"#,
        r#"#[graphql(name = "exact", default_with = "Some(true)")] pub exact: Option<bool>,"#,
        r#"#[graphql(name = "colour", default_with = "Some(Colour::DarkBlue)")] pub colour: Option<Colour>,"#,
        r#"#[graphql(name = "none", default_with = "None")] pub none: Option<i32>,"#,
        r#"#[graphql(name = "colours", default_with = "vec![Colour::Red, Colour::DarkBlue]")] pub colours: Vec<Colour>,"#,
        r#"#[graphql(name = "single", default_with = "Some(vec![Some(3)])")] pub single: Option<Vec<Option<i32>>>,"#,
        r#"#[graphql(name = "id", default_with = "Some(::async_graphql::ID::from(\"7\"))")]"#,
        r#"#[graphql(name = "page", default_with = "Some(Page { first: 20, after: Some(String::from(\"c\")) })")]"#,
        r#"#[graphql(name = "plain")] pub plain: Option<i32>"#,
    ] {
        assert_has(&code, field);
    }
    // An input-object default names every field: given, the field's own default, or None.
    assert_has(
        &code,
        r#"default_with = "Some(Filter { limit: 5, ratio: Some(1.0), label: Some(String::from(\"say \\\"hi\\\"\\n\")), exact: Some(true), colour: Some(Colour::DarkBlue), none: None, colours: vec![Colour::Red, Colour::DarkBlue], single: Some(vec![Some(3)]), id: Some(::async_graphql::ID::from(\"7\")), page: Some(Page { first: 20, after: Some(String::from(\"c\")) }), plain: None })""#,
    );
    assert_has(&code, ".register_input_type::<Filter>()");
    assert_has(&code, ".register_input_type::<Page>()");
}

#[test]
fn argument_defaults_use_default_with() {
    let code = rust(
        r#"type Query { a(n: Int! = -3, f: Float = 2.5e3, s: String = "x", l: [Int!] = [], o: Int = null, id: ID! = 12345678901): Int }"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "id", default_with = "::async_graphql::ID::from(\"12345678901\")")] id: ::async_graphql::ID"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "n", default_with = "-3")] n: i32"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "f", default_with = "Some(2500.0)")] f: Option<f64>"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "s", default_with = "Some(String::from(\"x\"))")] s: Option<String>"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "l", default_with = "Some(vec![])")] l: Option<Vec<i32>>"#,
    );
    assert_has(
        &code,
        r#"#[graphql(name = "o", default_with = "None")] o: Option<i32>"#,
    );
}

#[test]
fn custom_scalars_are_string_newtypes() {
    let code = rust(&format!(
        r#"{QUERY}
        "RFC 3339."
        scalar DateTime @specifiedBy(url: "https://www.rfc-editor.org/rfc/rfc3339")
        scalar Cursor"#
    ));
    assert_has(
        &code,
        r#"/// RFC 3339.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct DateTime(pub String);
        /// RFC 3339.
        #[::async_graphql::Scalar(name = "DateTime", specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339")]
        impl ::async_graphql::ScalarType for DateTime {
            fn parse(value: ::async_graphql::Value) -> ::async_graphql::InputValueResult<Self> {
                match value {
                    ::async_graphql::Value::String(s) => Ok(Self(s)),
                    other => Err(::async_graphql::InputValueError::expected_type(other)),
                }
            }
            fn to_value(&self) -> ::async_graphql::Value {
                ::async_graphql::Value::String(self.0.clone())
            }
        }"#,
    );
    assert_has(
        &code,
        r#"#[::async_graphql::Scalar(name = "Cursor")] impl ::async_graphql::ScalarType for Cursor {"#,
    );
    assert_has(&code, ".register_output_type::<DateTime>()");
    let code = rust(r#"scalar When type Query { a(at: When = "now"): When }"#);
    assert_has(
        &code,
        r#"#[graphql(name = "at", default_with = "Some(When(String::from(\"now\")))")] at: Option<When>"#,
    );
}

const HISTORY: &str = r#"
    type Query { getIpDetails(ip: String!): Lookup }
    type Lookup {
      uuid: ID
      "Newest first."
      history(limit: Int = 10, since: String): [HistoryEntry!]!
      ip_address: String!
      count(status: Int!): Int!
    }
    type HistoryEntry { at: String! }
"#;

#[test]
fn fields_with_arguments_are_resolved_through_a_trait() {
    let code = rust(HISTORY);
    assert_has(
        &code,
        r#"#[derive(Clone, Debug)]
        pub struct Lookup {
            pub uuid: Option<::async_graphql::ID>,
            pub ip_address: String,
        }"#,
    );
    assert_has(
        &code,
        r#"pub trait LookupResolvers: Send + Sync + 'static {
            /// Newest first.
            fn history(&self, ctx: &::async_graphql::Context<'_>, parent: &Lookup, limit: Option<i32>, since: Option<String>)
                -> impl ::std::future::Future<Output = ::async_graphql::Result<Vec<HistoryEntry>>> + Send;
            fn count(&self, ctx: &::async_graphql::Context<'_>, parent: &Lookup, status: i32)
                -> impl ::std::future::Future<Output = ::async_graphql::Result<i32>> + Send;
        }"#,
    );
    assert_has(
        &code,
        r#"trait ErasedLookupResolvers: Send + Sync + 'static {
            fn history<'a>(&'a self, ctx: &'a ::async_graphql::Context<'_>, parent: &'a Lookup, limit: Option<i32>, since: Option<String>)
                -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ::async_graphql::Result<Vec<HistoryEntry>>> + Send + 'a>>;"#,
    );
    assert_has(
        &code,
        r#"impl<R: LookupResolvers> ErasedLookupResolvers for R {
            fn history<'a>(&'a self, ctx: &'a ::async_graphql::Context<'_>, parent: &'a Lookup, limit: Option<i32>, since: Option<String>)
                -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ::async_graphql::Result<Vec<HistoryEntry>>> + Send + 'a>> {
                Box::pin(LookupResolvers::history(self, ctx, parent, limit, since))
            }"#,
    );
    // One impl serves all fields, in SDL order.
    assert_has(
        &code,
        r#"#[::async_graphql::Object(name = "Lookup")]
        impl Lookup {
            #[graphql(name = "uuid")]
            async fn uuid(&self) -> &Option<::async_graphql::ID> {
                &self.uuid
            }
            /// Newest first.
            #[graphql(name = "history")]
            async fn history(
                &self,
                ctx: &::async_graphql::Context<'_>,
                #[graphql(name = "limit", default_with = "Some(10)")] limit: Option<i32>,
                #[graphql(name = "since")] since: Option<String>,
            ) -> ::async_graphql::Result<Vec<HistoryEntry>> {
                ctx.data::<::std::sync::Arc<dyn ErasedLookupResolvers>>()?
                    .history(ctx, self, limit, since)
                    .await
            }
            #[graphql(name = "ip_address")]
            async fn ip_address(&self) -> &String {
                &self.ip_address
            }
            #[graphql(name = "count")]
            async fn count("#,
    );
    assert_has(
        &code,
        r#"where
            R: QueryResolvers + LookupResolvers,
        {
            ::async_graphql::Schema::build(
                Query(::std::sync::Arc::clone(&resolvers)),
                ::async_graphql::EmptyMutation,
                ::async_graphql::EmptySubscription,
            )
            .data(::std::sync::Arc::clone(&resolvers) as ::std::sync::Arc<dyn ErasedLookupResolvers>)
            .register_output_type::<Lookup>()
            .register_output_type::<HistoryEntry>()
        }"#,
    );
    assert_lacks(&code, "HistoryEntryResolvers");
}

#[test]
fn a_type_of_only_resolved_fields_has_an_empty_struct() {
    let code = rust("type Query { a: T } type T { f(x: Int): Int }");
    assert_has(&code, r#"#[derive(Clone, Debug)] pub struct T {}"#);
    assert_has(&code, r#"#[::async_graphql::Object(name = "T")] impl T {"#);
    assert_has(
        &code,
        "fn f(&self, ctx: &::async_graphql::Context<'_>, parent: &T, x: Option<i32>)",
    );
}

#[test]
fn without_mutation_the_schema_uses_empty_mutation() {
    let code = rust(QUERY);
    assert_has(
        &code,
        "pub type Schema<R> = ::async_graphql::Schema<Query<R>, ::async_graphql::EmptyMutation, ::async_graphql::EmptySubscription>;",
    );
    assert_has(&code, "where R: QueryResolvers, {");
    assert_lacks(&code, "MutationResolvers");
}

#[test]
fn schema_block_names_the_roots() {
    let code = rust(
        "schema { query: Reads mutation: Writes }
         type Reads { a: Int }
         type Writes { b: Int }
         type Mutation { c: Int }",
    );
    assert_has(&code, "pub trait ReadsResolvers: Send + Sync + 'static {");
    assert_has(
        &code,
        r#"#[::async_graphql::Object(name = "Writes")] impl<R: WritesResolvers> Writes<R> {"#,
    );
    assert_has(
        &code,
        "pub type Schema<R> = ::async_graphql::Schema<Reads<R>, Writes<R>, ::async_graphql::EmptySubscription>;",
    );
    assert_has(&code, "R: ReadsResolvers + WritesResolvers,");
    // Outside a schema block `Mutation` would be the root; here it is an ordinary object.
    assert_has(
        &code,
        r#"#[graphql(name = "Mutation")] pub struct Mutation {"#,
    );
    assert_has(&code, ".register_output_type::<Mutation>()");
}

#[test]
fn types_that_contain_themselves_are_boxed() {
    let code = rust(
        "type Query { node(input: Tree): Node }
         type Node { parent: Node, children: [Node!]!, peer: Peer! }
         type Peer { node: Node }
         input Tree { label: String, child: Tree = {label: \"leaf\", child: null} }",
    );
    assert_has(&code, "pub parent: Option<Box<Node>>,");
    assert_has(&code, "pub children: Vec<Node>,");
    assert_has(&code, "pub peer: Box<Peer>");
    assert_has(&code, "pub node: Option<Box<Node>>");
    assert_has(
        &code,
        r#"#[graphql(name = "child", default_with = "Some(Box::new(Tree { label: Some(String::from(\"leaf\")), child: None }))")]
        pub child: Option<Box<Tree>>"#,
    );
}

#[test]
fn many_arguments_allow_the_clippy_lint() {
    let code = rust("type Query { a(b: Int, c: Int, d: Int, e: Int, f: Int): Int }");
    assert_has(&code, "#[allow(clippy::too_many_arguments)] fn a(");
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
            "type Query { a: Int } type Subscription { b: Int }",
            "unsupported construct: subscription type `Subscription`",
        ),
        (
            "schema { query: Query subscription: S } type Query { a: Int } type S { b: Int }",
            "unsupported construct: subscription root `S`",
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
