//! Small documents in, the whole generated file or the whole error message out. Each generated
//! file is compared with `snapshots/<name>.snap`, `<name>` given beside the input; refresh them
//! with `INSTA_UPDATE=always cargo test -p secworks-codegen` and review the diff.

use super::generate;

/// The token endpoints as openapi.yaml first published them: a fixed input, so its expected
/// code changes only when the generator does.
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
    if let Err(e) = syn::parse_file(&out) {
        panic!("generated code does not parse: {e}\n{out}");
    }
    out
}

fn gen_err(yaml: &str) -> String {
    match generate("openapi.yaml", yaml) {
        Ok(out) => panic!("expected an error, got:\n{out}"),
        Err(e) => e.to_string(),
    }
}

/// Compares the code generated for `yaml` with `snapshots/<name>.snap`.
#[track_caller]
fn assert_generates(name: &str, yaml: &str) {
    let out = gen_ok(yaml);
    insta::with_settings!({
        omit_expression => true,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, out);
    });
}

/// Schemas, security schemes, responses with headers, tags, handlers and the service: all that
/// secworks' own document uses.
#[test]
fn the_token_endpoints() {
    assert_generates("tokens", SPEC);
}

/// A 200 in text types only, each `{type: string}`: a `StreamedBody` the handler fills, and
/// a payload per streamed variant for poem-openapi.
#[test]
fn streamed_text_responses() {
    assert_generates("export", include_str!("fixtures/export.yaml"));
}

/// A streamed body is text types only, each `{type: string}`.
#[test]
fn streamed_bodies_refuse_other_mixes() {
    let response = |content: &str| {
        doc(&format!(
            "paths:\n  /x:\n    get: {{operationId: x, responses: {{'200': {{description: x, content: {{{content}}}}}}}}}"
        ))
    };
    let at = "at GET /x 200";
    let cases = [
        (
            "application/json: {schema: {type: string}}, text/csv: {schema: {type: string}}",
            format!(
                "response with application/json beside other content types (a body is either JSON or streamed) {at}"
            ),
        ),
        (
            "text/csv: {schema: {type: integer}}",
            format!(
                "response content type text/csv with a schema other than {{type: string}} (streamed bodies only; JSON bodies are application/json) {at}"
            ),
        ),
        (
            "text/csv: {schema: {type: string}}, application/x-ndjson: {schema: {type: string, format: date-time}}",
            format!(
                "response content type application/x-ndjson with a schema other than {{type: string}} (streamed bodies only; JSON bodies are application/json) {at}"
            ),
        ),
        (
            "text/csv: {schema: {$ref: '#/components/schemas/Foo'}}",
            format!(
                "response content type text/csv with a schema other than {{type: string}} (streamed bodies only; JSON bodies are application/json) {at}"
            ),
        ),
        (
            "text/csv: {schema: {type: string}, encoding: {a: {contentType: text/plain}}}",
            format!("response encoding {at}"),
        ),
        (
            "text/csv: {}",
            format!("response content without a schema {at}"),
        ),
        (
            "text/*: {schema: {type: string}}",
            format!("response content type text/* (a wildcard) {at}"),
        ),
    ];
    for (content, expected) in cases {
        let yaml = response(content);
        assert_eq!(
            gen_err(&yaml),
            format!("openapi.yaml: unsupported construct: {expected}"),
            "for:\n{yaml}"
        );
    }
}

/// `format: binary` is refused: the served document would lose it.
#[test]
fn binary_strings_are_refused() {
    let doc = doc(
        "paths:\n  /x:\n    get: {operationId: x, responses: {'200': {description: x, content: {application/pdf: {schema: {type: string, format: binary}}}}}}",
    );
    let error = gen_err(&doc);
    assert!(error.contains("application/pdf"), "{error}");
}

/// Path parameters bind by position, so they come first, in path order.
#[test]
fn parameters_in_path_order_then_query_then_header() {
    assert_generates(
        "parameters",
        &doc("paths:
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
      responses: {'204': {description: Done.}}"),
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

/// A keyword property becomes a raw identifier, which poem-openapi unraws (so no rename). No
/// operations: no tags enum, an empty trait and impl.
#[test]
fn schemas_refs_arrays_enums_and_deprecation() {
    assert_generates("schemas", &doc(ITEMS));
}

/// Tags only operations name are declared without a description.
#[test]
fn json_body_and_extra_statuses() {
    assert_generates(
        "body_and_statuses",
        &doc(&format!(
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
        )),
    );
}

/// A response's body is its variant's field `body`, each header a field named after it in
/// snake_case (`body_header` for a header called `Body`); a variant with neither is a unit.
#[test]
fn response_variants_have_named_fields() {
    assert_generates(
        "response_fields",
        &doc("paths:
  /x:
    get:
      operationId: getX
      responses:
        '200':
          description: Both.
          headers:
            Body: {required: true, schema: {type: string}}
            WWW-Authenticate: {description: How to log in., schema: {type: string}}
          content: {application/json: {schema: {type: array, items: {type: string}}}}
        '202':
          description: Headers only.
          headers: {Retry-After: {required: true, schema: {type: integer}}}
        '204': {description: Nothing.}"),
    );
}

const SCHEMES: &str = "components:
  securitySchemes:
    basicAuth: {type: http, scheme: basic}
    bearerAuth: {type: http, scheme: bearer}";

#[test]
fn document_security_applies_unless_an_operation_overrides_it() {
    assert_generates(
        "security",
        &doc(&format!(
            "security: [{{bearerAuth: []}}]
paths:
  /a: {{get: {{operationId: a, responses: {{'204': {{description: x}}}}}}}}
  /b: {{get: {{operationId: b, security: [], responses: {{'204': {{description: x}}}}}}}}
  /c: {{get: {{operationId: c, security: [{{basicAuth: []}}, {{bearerAuth: []}}], responses: {{'204': {{description: x}}}}}}}}
{SCHEMES}"
        )),
    );
}

#[test]
fn info_and_servers_reach_the_service() {
    assert_generates(
        "info_and_servers",
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
}

#[test]
fn component_refs_for_parameters_responses_and_headers_are_followed() {
    assert_generates(
        "component_refs",
        &doc("paths:
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
      content: {application/json: {schema: {type: array, items: {type: string}}}}"),
    );
}

#[test]
fn invalid_yaml_reports_the_parser_message() {
    assert_eq!(
        gen_err("openapi: [3.0.3\n"),
        "openapi.yaml: invalid OpenAPI document: openapi: invalid type: sequence, expected a string at line 1 column 10"
    );
    assert_eq!(
        gen_err("openapi: 3.0.3\npaths: {}\n"),
        "openapi.yaml: invalid OpenAPI document: missing field `info`"
    );
    assert_eq!(
        gen_err("openapi: '3.0.3\n"),
        "openapi.yaml: invalid OpenAPI document: found unexpected end of stream at line 2 column 1, \
         while scanning a quoted scalar at line 1 column 10"
    );
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
                "paths:\n  /graphql/tokens:\n    post: {operationId: p, responses: {'200': {description: x, content: {text/plain: {schema: {type: boolean}}}}}}",
            ),
            "response content type text/plain with a schema other than {type: string} (streamed bodies only; JSON bodies are application/json) at POST /graphql/tokens 200",
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
            doc(
                "paths:\n  /x: {get: {operationId: x, responses: {'204': {description: x, headers: {X-Note: {schema: {type: string}}, x-note: {schema: {type: string}}}}}}}",
            ),
            "response headers at GET /x 204 clash as the Rust field x_note",
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
