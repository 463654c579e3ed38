//! Small documents in, generated text or error message out. Assertions ignore whitespace, as
//! prettyplease decides the line breaks.

use super::generate;

/// The token endpoints as openapi.yaml first published them: a fixed input, so the expected
/// code below changes only when the generator does.
const SPEC: &str = include_str!("fixtures/tokens.yaml");

/// A document with the given top-level sections (flow-style YAML keeps them on one line each).
fn doc(sections: &str) -> String {
    let paths = if sections.contains("paths:") {
        ""
    } else {
        "paths: {}\n"
    };
    format!("openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\n{paths}{sections}\n")
}

fn gen_ok(yaml: &str) -> String {
    let out = generate("openapi.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    syn::parse_file(&out).expect("generated code parses");
    out
}

fn gen_err(yaml: &str) -> String {
    match generate("openapi.yaml", yaml) {
        Ok(out) => panic!("expected an error, got:\n{out}"),
        Err(e) => e.to_string(),
    }
}

/// Without whitespace or trailing commas, which prettyplease adds or drops with line breaks.
fn squash(s: &str) -> String {
    let s: String = s.split_whitespace().collect();
    s.replace(",)", ")")
        .replace(",}", "}")
        .replace(",]", "]")
        .replace(",>", ">")
}

#[track_caller]
fn assert_has(out: &str, needles: &[&str]) {
    let hay = squash(out);
    for needle in needles {
        let squashed = squash(needle);
        assert!(
            hay.contains(squashed.trim_end_matches(',')),
            "missing `{needle}` in:\n{out}"
        );
    }
}

#[track_caller]
fn assert_lacks(out: &str, needles: &[&str]) {
    let hay = squash(out);
    for needle in needles {
        assert!(
            !hay.contains(&squash(needle)),
            "unexpected `{needle}` in:\n{out}"
        );
    }
}

#[test]
fn real_spec_schemas() {
    let out = gen_ok(SPEC);
    assert!(out.starts_with("// @generated from openapi.yaml by secworks-codegen."));
    assert_has(
        &out,
        &[
            "/// A bearer token and when it expires.",
            "#[derive(Clone, Debug, ::poem_openapi::Object)] #[oai(rename = \"Token\")] pub struct Token {",
            "/// The bearer token (PASETO v4.local). pub token: ::std::string::String,",
            "pub token_type: ::std::string::String,",
            "pub expires_in: i64,",
            "pub expires_at: ::time::OffsetDateTime,",
            "#[oai(rename = \"Error\")] pub struct Error {",
            "pub error: ::std::string::String,",
            "#[oai(skip_serializing_if_is_none)] pub message: ::std::option::Option<::std::string::String>,",
        ],
    );
}

#[test]
fn real_spec_security_schemes() {
    let out = gen_ok(SPEC);
    assert_has(
        &out,
        &[
            "/// The user's name and password. #[derive(::poem_openapi::SecurityScheme)] \
         #[oai(rename = \"basicAuth\", ty = \"basic\")] pub struct BasicAuth(pub ::poem_openapi::auth::Basic);",
            "#[oai(rename = \"bearerAuth\", ty = \"bearer\", bearer_format = \"PASETO\")] \
         pub struct BearerAuth(pub ::poem_openapi::auth::Bearer);",
        ],
    );
}

#[test]
fn real_spec_responses() {
    let out = gen_ok(SPEC);
    assert_has(
        &out,
        &[
            "#[derive(Debug, ::poem_openapi::ApiResponse)] pub enum CreateTokenResponse {",
            "/// A new bearer token. #[oai(status = 200)] Ok(::poem_openapi::payload::Json<Token>),",
            "#[oai(status = 401)] Unauthorized(::poem_openapi::payload::Json<Error>, \
         /// The authentication scheme to use. \
         #[oai(header = \"WWW-Authenticate\")] ::std::string::String,)",
            "#[oai(status = 500)] InternalServerError(::poem_openapi::payload::Json<Error>),",
            "pub enum RevokeTokenResponse { /// The token is revoked. #[oai(status = 204)] NoContent,",
        ],
    );
}

#[test]
fn real_spec_handlers_and_glue() {
    let out = gen_ok(SPEC);
    assert_has(
        &out,
        &[
            "pub trait Handlers: ::std::marker::Send + ::std::marker::Sync + 'static {",
            "fn create_token(&self, req: &::poem::Request, auth: BasicAuth,) \
         -> impl ::std::future::Future<Output = CreateTokenResponse> + ::std::marker::Send;",
            "fn revoke_token(&self, req: &::poem::Request, auth: BearerAuth,) \
         -> impl ::std::future::Future<Output = RevokeTokenResponse> + ::std::marker::Send;",
            "pub struct Api<H>(pub ::std::sync::Arc<H>);",
            "#[::poem_openapi::OpenApi] impl<H: Handlers> Api<H> {",
            "#[oai(path = \"/graphql/tokens\", method = \"post\", operation_id = \"createToken\", tag = \"ApiTags::Tokens\")]",
            "async fn create_token(&self, req: &::poem::Request, auth: BasicAuth,) -> CreateTokenResponse \
         { self.0.create_token(req, auth).await }",
            "#[oai(path = \"/graphql/tokens\", method = \"delete\", operation_id = \"revokeToken\", tag = \"ApiTags::Tokens\")]",
            "#[derive(::poem_openapi::Tags)] pub enum ApiTags { /// Issue and revoke bearer tokens. \
         #[oai(rename = \"tokens\")] Tokens, }",
            "pub fn service<H: Handlers>(handlers: ::std::sync::Arc<H>,) -> ::poem_openapi::OpenApiService<Api<H>, ()> {",
            "::poem_openapi::OpenApiService::new(Api(handlers), \"secworks token API\", \"1.0.0\") \
         .description(\"Issue and revoke the PASETO bearer tokens",
        ],
    );
    // Summary, blank line, description: poem-openapi splits the doc comment there.
    assert!(
        out.contains("Issue a bearer token\n\nExchange a username and password (HTTP Basic)"),
        "{out}"
    );
}

#[test]
fn parameters_in_path_order_then_query_then_header() {
    let out = gen_ok(&doc(
        "paths:
  /items/{itemId}/parts/{part}:
    parameters: [{name: part, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getPart
      summary: Get a part
      parameters:
        - {name: X-Trace, in: header, schema: {type: string}}
        - {name: verbose, in: query, deprecated: true, description: Say more., schema: {type: boolean}}
        - {name: itemId, in: path, required: true, schema: {type: integer, format: int32}}
        - {name: ids, in: query, required: true, schema: {type: array, items: {type: number}}}
        - {name: body, in: query, required: true, schema: {type: number, format: float}}
      responses: {'204': {description: Done.}}",
    ));
    assert_has(
        &out,
        &[
            "#[oai(name = \"itemId\")] item_id: ::poem_openapi::param::Path<i32>, \
         #[oai(name = \"part\")] part: ::poem_openapi::param::Path<::std::string::String>, \
         /// Say more. #[oai(name = \"verbose\", deprecated)] verbose: ::poem_openapi::param::Query<::std::option::Option<bool>>, \
         #[oai(name = \"ids\")] ids: ::poem_openapi::param::Query<::std::vec::Vec<f64>>, \
         #[oai(name = \"body\")] body_param: ::poem_openapi::param::Query<f32>, \
         #[oai(name = \"X-Trace\")] x_trace: ::poem_openapi::param::Header<::std::option::Option<::std::string::String>>,",
            "path = \"/items/:itemId/parts/:part\"",
            "self.0.get_part(req, item_id.0, part.0, verbose.0, ids.0, body_param.0, x_trace.0,).await",
            "fn get_part(&self, req: &::poem::Request, item_id: i32, part: ::std::string::String, \
         verbose: ::std::option::Option<bool>, ids: ::std::vec::Vec<f64>, body_param: f32, \
         x_trace: ::std::option::Option<::std::string::String>,)",
            "/// Get a part",
            "pub enum GetPartResponse { /// Done. #[oai(status = 204)] NoContent, }",
        ],
    );
}

const ITEMS: &str = "components:
  schemas:
    Color: {type: string, description: A colour., enum: [red, dark-green, BLUE]}
    Item:
      type: object
      deprecated: true
      required: [name, colors, createdAt]
      properties:
        name: {type: string}
        colors: {type: array, items: {$ref: '#/components/schemas/Color'}}
        primary: {$ref: '#/components/schemas/Color'}
        createdAt: {type: string, format: date-time}
        type: {type: string, deprecated: true, description: Old kind.}
        weight: {type: number}
        count: {type: integer}";

#[test]
fn schemas_refs_arrays_enums_and_deprecation() {
    let out = gen_ok(&doc(ITEMS));
    assert_has(
        &out,
        &[
            "/// A colour. #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ::poem_openapi::Enum)] \
         #[oai(rename = \"Color\")] pub enum Color { #[oai(rename = \"red\")] Red, \
         #[oai(rename = \"dark-green\")] DarkGreen, #[oai(rename = \"BLUE\")] Blue, }",
            "#[oai(rename = \"Item\", deprecated)] pub struct Item {",
            "pub name: ::std::string::String,",
            "pub colors: ::std::vec::Vec<Color>,",
            "#[oai(skip_serializing_if_is_none)] pub primary: ::std::option::Option<Color>,",
            "#[oai(rename = \"createdAt\")] pub created_at: ::time::OffsetDateTime,",
            // A keyword becomes a raw identifier; poem-openapi unraws it, so no rename.
            "/// Old kind. #[oai(deprecated, skip_serializing_if_is_none)] pub r#type: ::std::option::Option<::std::string::String>,",
            "pub weight: ::std::option::Option<f64>,",
            "pub count: ::std::option::Option<i64>,",
        ],
    );
    // No operations: no tags enum, an empty trait and impl.
    assert_lacks(&out, &["ApiTags"]);
    assert_has(&out, &["pub trait Handlers", "impl<H: Handlers> Api<H> {}"]);
}

#[test]
fn json_body_and_extra_statuses() {
    let out = gen_ok(&doc(&format!(
        "paths:
  /items:
    post:
      operationId: createItem
      summary: Create an item
      deprecated: true
      tags: [items, admin-area]
      requestBody:
        required: true
        description: The new item.
        content: {{application/json: {{schema: {{$ref: '#/components/schemas/Item'}}}}}}
      responses:
        '201':
          description: Created.
          headers: {{Location: {{required: true, schema: {{type: string}}}}}}
          content: {{application/json: {{schema: {{type: array, items: {{$ref: '#/components/schemas/Item'}}}}}}}}
        '418': {{description: Teapot.}}
        '429':
          description: Slow down.
          headers:
            Retry-After: {{required: true, description: Seconds to wait., schema: {{type: integer, format: int32}}}}
            X-Note: {{deprecated: true, schema: {{type: string}}}}
{ITEMS}"
    )));
    assert_has(
        &out,
        &[
            "/// The new item. body: ::poem_openapi::payload::Json<Item>,",
            "self.0.create_item(req, body.0,).await",
            "fn create_item(&self, req: &::poem::Request, body: Item,)",
            "operation_id = \"createItem\", tag = \"ApiTags::Items\", tag = \"ApiTags::AdminArea\", deprecated)]",
            "Created(::poem_openapi::payload::Json<::std::vec::Vec<Item>>, #[oai(header = \"Location\")] ::std::string::String,)",
            "/// Teapot. #[oai(status = 418)] Status418,",
            "TooManyRequests(/// Seconds to wait. #[oai(header = \"Retry-After\")] i32, \
         #[oai(header = \"X-Note\", deprecated)] ::std::option::Option<::std::string::String>,)",
            // Tags only used by operations are declared without a description.
            "pub enum ApiTags { #[oai(rename = \"items\")] Items, #[oai(rename = \"admin-area\")] AdminArea, }",
        ],
    );
}

const SCHEMES: &str = "components:
  securitySchemes:
    basicAuth: {type: http, scheme: basic}
    bearerAuth: {type: http, scheme: bearer}";

#[test]
fn document_security_applies_unless_an_operation_overrides_it() {
    let out = gen_ok(&doc(&format!(
        "security: [{{bearerAuth: []}}]
paths:
  /a: {{get: {{operationId: a, responses: {{'204': {{description: x}}}}}}}}
  /b: {{get: {{operationId: b, security: [], responses: {{'204': {{description: x}}}}}}}}
  /c: {{get: {{operationId: c, security: [{{basicAuth: []}}, {{bearerAuth: []}}], responses: {{'204': {{description: x}}}}}}}}
{SCHEMES}"
    )));
    assert_has(
        &out,
        &[
            "fn a(&self, req: &::poem::Request, auth: BearerAuth,)",
            "fn b(&self, req: &::poem::Request,)",
            "fn c(&self, req: &::poem::Request, auth: BasicAuthOrBearerAuth,)",
            "#[derive(::poem_openapi::SecurityScheme)] pub enum BasicAuthOrBearerAuth { \
         BasicAuth(BasicAuth), BearerAuth(BearerAuth), }",
            "#[oai(rename = \"bearerAuth\", ty = \"bearer\")] pub struct BearerAuth",
        ],
    );
}

#[test]
fn info_and_servers_reach_the_service() {
    let out = gen_ok(
        "openapi: 3.0.0
info:
  title: T
  version: 2.0.0
  termsOfService: https://example.com/terms
  contact: {name: Ops, email: ops@example.com}
  license: {name: MIT, url: https://example.com/mit}
servers: [{url: 'https://api.example.com', description: Production}]
externalDocs: {url: 'https://example.com/docs', description: Guide}
paths: {}",
    );
    assert_has(
        &out,
        &["OpenApiService::new(Api(handlers), \"T\", \"2.0.0\") \
         .terms_of_service(\"https://example.com/terms\") \
         .contact(::poem_openapi::ContactObject::new().name(\"Ops\").email(\"ops@example.com\")) \
         .license(::poem_openapi::LicenseObject::new(\"MIT\").url(\"https://example.com/mit\")) \
         .external_document(::poem_openapi::ExternalDocumentObject::new(\"https://example.com/docs\").description(\"Guide\")) \
         .server(::poem_openapi::ServerObject::new(\"https://api.example.com\").description(\"Production\"))"],
    );
}

#[test]
fn invalid_yaml_reports_the_parser_message() {
    let err = gen_err("openapi: [3.0.3\n");
    assert!(
        err.starts_with("openapi.yaml: invalid OpenAPI document: "),
        "{err}"
    );
    assert!(
        err.len() > "openapi.yaml: invalid OpenAPI document: ".len(),
        "{err}"
    );
    let err = gen_err("openapi: 3.0.3\npaths: {}\n");
    assert!(err.contains("missing field `info`"), "{err}");
}

/// Each unsupported or inconsistent document, and the message it gets.
#[test]
fn refusals_name_the_construct_and_where_it_is() {
    let op = |body: &str| {
        doc(&format!(
            "paths:\n  /x:\n    get: {{operationId: x, {body}}}\n{SCHEMES}"
        ))
    };
    let ok = "responses: {'204': {description: x}}";
    let schema = |s: &str| doc(&format!("components:\n  schemas:\n    Foo: {s}"));
    let prop = |s: &str| schema(&format!("{{type: object, properties: {{bar: {s}}}}}"));
    let param = |p: &str| op(&format!("parameters: [{p}], {ok}"));
    let cases: Vec<(String, &str)> = vec![
        (
            schema("{oneOf: [{type: string}, {type: integer}]}"),
            "oneOf in components.schemas.Foo",
        ),
        (
            schema("{allOf: [{type: object}]}"),
            "allOf in components.schemas.Foo",
        ),
        (
            schema("{anyOf: [{type: object}]}"),
            "anyOf in components.schemas.Foo",
        ),
        (
            schema("{type: string}"),
            "component schema that is neither an object nor a string enum in components.schemas.Foo",
        ),
        (
            schema("{$ref: '#/components/schemas/Bar'}"),
            "$ref as a whole component schema in components.schemas.Foo",
        ),
        (
            schema("{type: object, additionalProperties: true}"),
            "additionalProperties in components.schemas.Foo",
        ),
        (
            schema("{type: object, title: Foo}"),
            "title in components.schemas.Foo",
        ),
        (
            prop("{type: object}"),
            "inline object schema (declare it in components.schemas) in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: string, enum: [a]}"),
            "inline enum schema (declare it in components.schemas) in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: string, nullable: true}"),
            "nullable in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: string, maxLength: 3}"),
            "maxLength in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: integer, minimum: 1}"),
            "minimum in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: string, format: date}"),
            "string format date (poem-openapi would serve it as naive-date) in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: string, format: uuid}"),
            "string format uuid in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: integer, format: int8}"),
            "integer format int8 in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: array}"),
            "array without items in components.schemas.Foo.properties.bar",
        ),
        (
            prop("{type: array, items: {type: string, default: x}}"),
            "default in components.schemas.Foo.properties.bar.items",
        ),
        (
            prop("{description: anything}"),
            "schema without a type, or with keywords that do not fit its type in components.schemas.Foo.properties.bar",
        ),
        (
            doc(
                "components:\n  securitySchemes:\n    key: {type: apiKey, in: header, name: X-Key}",
            ),
            "security scheme type apiKey in components.securitySchemes.key",
        ),
        (
            doc("components:\n  securitySchemes:\n    d: {type: http, scheme: digest}"),
            "security scheme type http with scheme digest in components.securitySchemes.d",
        ),
        (
            doc(
                "paths:\n  /graphql/tokens:\n    post: {operationId: p, responses: {'200': {description: x, content: {text/plain: {schema: {type: string}}}}}}",
            ),
            "response content type text/plain at POST /graphql/tokens 200",
        ),
        (
            op(
                "responses: {'200': {description: x, content: {application/json: {schema: {type: object}}}}}",
            ),
            "inline object schema (declare it in components.schemas) at GET /x 200",
        ),
        (
            op(&format!("callbacks: {{cb: {{}}}}, {ok}")),
            "callbacks at GET /x",
        ),
        (
            op(&format!("servers: [{{url: /}}], {ok}")),
            "servers at GET /x",
        ),
        (
            op("responses: {default: {description: x}}"),
            "default response at GET /x",
        ),
        (
            op("responses: {'4XX': {description: x}}"),
            "status range 4XX at GET /x",
        ),
        (
            op("responses: {'200': {description: x, links: {l: {operationId: x}}}}"),
            "links at GET /x 200",
        ),
        (
            op(
                "responses: {'200': {description: x, headers: {Content-Type: {schema: {type: string}}}}}",
            ),
            "Content-Type response header at GET /x 200 header Content-Type",
        ),
        (
            op(&format!(
                "requestBody: {{content: {{application/json: {{schema: {{type: string}}}}}}}}, {ok}"
            )),
            "optional request body at GET /x",
        ),
        (
            op(&format!(
                "requestBody: {{required: true, content: {{application/xml: {{schema: {{type: string}}}}}}}}, {ok}"
            )),
            "request body content type application/xml at GET /x",
        ),
        (
            op(&format!("description: only, {ok}")),
            "description without a summary (poem-openapi would serve its first paragraph as the summary) at GET /x",
        ),
        (
            op(&format!("security: [{{}}], {ok}")),
            "optional security (an empty requirement) at GET /x",
        ),
        (
            op(&format!(
                "security: [{{basicAuth: [], bearerAuth: []}}], {ok}"
            )),
            "security requirement that combines schemes at GET /x",
        ),
        (
            op(&format!("security: [{{bearerAuth: [read]}}], {ok}")),
            "scopes on security scheme bearerAuth at GET /x",
        ),
        (
            param("{name: c, in: cookie, schema: {type: string}}"),
            "cookie parameter at GET /x parameter c",
        ),
        (
            param("{name: q, in: query, style: pipeDelimited, schema: {type: string}}"),
            "style at GET /x parameter q",
        ),
        (
            param("{name: q, in: query, content: {application/json: {schema: {type: string}}}}"),
            "parameter content (instead of schema) at GET /x parameter q",
        ),
        (
            param("{name: h, in: header, schema: {type: array, items: {type: string}}}"),
            "array schema at GET /x parameter h",
        ),
        (
            doc("paths:\n  /x/: {get: {operationId: x, responses: {'204': {description: x}}}}"),
            "empty path segment (a trailing or double slash) at /x/",
        ),
        (
            doc(
                "paths:\n  /x/a{id}: {get: {operationId: x, responses: {'204': {description: x}}}}",
            ),
            "path segment a{id} at /x/a{id}",
        ),
        (
            doc("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}").replacen(
                "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n",
                "",
                1,
            ),
            "openapi version 3.1.0 in the document",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(
            gen_err(&yaml),
            format!("openapi.yaml: unsupported construct: {expected}"),
            "for:\n{yaml}"
        );
    }
}

#[test]
fn inconsistent_documents_are_refused() {
    let cases: Vec<(String, &str)> = vec![
        (
            doc("paths:\n  /x: {get: {responses: {'204': {description: x}}}}"),
            "operation GET /x has no operationId",
        ),
        (
            doc("paths:\n  /x: {get: {operationId: x, responses: {}}}"),
            "operation GET /x declares no responses",
        ),
        (
            doc("paths:\n  /x/{id}: {get: {operationId: x, responses: {'204': {description: x}}}}"),
            "path parameter id of GET /x/{id} is not declared",
        ),
        (
            doc(
                "paths:\n  /x: {get: {operationId: x, parameters: [{name: id, in: path, required: true, schema: {type: string}}], responses: {'204': {description: x}}}}",
            ),
            "path parameter id of GET /x is not in the path",
        ),
        (
            doc(
                "paths:\n  /x/{id}: {get: {operationId: x, parameters: [{name: id, in: path, schema: {type: string}}], responses: {'204': {description: x}}}}",
            ),
            "path parameter id of GET /x/{id} is not required",
        ),
        (
            doc(
                "paths:\n  /x: {get: {operationId: x, security: [{nope: []}], responses: {'204': {description: x}}}}",
            ),
            "security scheme nope at GET /x is not in components.securitySchemes",
        ),
        (
            doc(
                "components:\n  schemas:\n    Foo: {type: object, properties: {a: {$ref: '#/components/schemas/Missing'}}}",
            ),
            "$ref #/components/schemas/Missing in components.schemas.Foo.properties.a names no component schema",
        ),
        (
            doc(
                "paths:\n  /x: {get: {operationId: x, parameters: [{$ref: '#/components/parameters/P'}], responses: {'204': {description: x}}}}",
            ),
            "$ref #/components/parameters/P at GET /x names nothing in components.parameters",
        ),
        (
            doc(
                "components:\n  schemas:\n    Foo: {type: object, required: [b], properties: {a: {type: string}}}",
            ),
            "required property b in components.schemas.Foo is not among its properties",
        ),
        (
            doc(
                "paths:\n  /a: {get: {operationId: getX, responses: {'204': {description: x}}}}\n  /b: {get: {operationId: get_x, responses: {'204': {description: x}}}}",
            ),
            "operationId get_x gives the handler method get_x, which another operation has too",
        ),
        (
            doc(
                "paths:\n  /a: {get: {operationId: x, responses: {'204': {description: x}}}}\ncomponents:\n  schemas:\n    XResponse: {type: object}",
            ),
            "the Rust type name XResponse is generated twice (from components.schemas and operation responses); rename one",
        ),
        (
            doc("tags: [{name: a-b}, {name: a_b}]"),
            "tags a-b and a_b clash as the Rust variant AB",
        ),
        (
            doc("components:\n  schemas:\n    Api: {type: object}"),
            "the Rust type name Api is generated twice (from generated and components.schemas); rename one",
        ),
    ];
    for (yaml, expected) in cases {
        assert_eq!(
            gen_err(&yaml),
            format!("openapi.yaml: {expected}"),
            "for:\n{yaml}"
        );
    }
}

#[test]
fn component_refs_for_parameters_responses_and_headers_are_followed() {
    let out = gen_ok(&doc(
        "paths:
  /x:
    get:
      operationId: x
      parameters: [{$ref: '#/components/parameters/Limit'}]
      responses: {'200': {$ref: '#/components/responses/Names'}}
components:
  parameters:
    Limit: {name: limit, in: query, schema: {type: integer, format: int32}}
  headers:
    Retry: {required: true, schema: {type: integer}}
  responses:
    Names:
      description: Names.
      headers: {Retry-After: {$ref: '#/components/headers/Retry'}}
      content: {application/json: {schema: {type: array, items: {type: string}}}}",
    ));
    assert_has(
        &out,
        &[
            "#[oai(name = \"limit\")] limit: ::poem_openapi::param::Query<::std::option::Option<i32>>,",
            "/// Names. #[oai(status = 200)] Ok(::poem_openapi::payload::Json<::std::vec::Vec<::std::string::String>>, \
         #[oai(header = \"Retry-After\")] i64,)",
        ],
    );
}
