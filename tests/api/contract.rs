//! The running service serves exactly the contract files: the schema it executes prints the
//! SDL of schema.graphql, and the OpenAPI document it serves says what openapi.yaml says.

use std::collections::BTreeMap;

use async_graphql_parser::types::{ServiceDocument, TypeKind, TypeSystemDefinition};
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn the_running_schema_prints_schema_graphql() {
    let app = spawn_app().await;
    let printed = app.sdl.clone();
    let published =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    let printed = normalise_sdl(&printed);
    let published = normalise_sdl(&published);
    assert!(
        published.contains_key("type Lookup"),
        "the normaliser sees the types"
    );
    assert_eq!(printed, published);
}

/// Each type of an SDL document as comparable text: kind, name, description, and per field its
/// description, arguments (type, default, description), type and deprecation, in order.
fn normalise_sdl(sdl: &str) -> BTreeMap<String, Value> {
    const BUILT_IN_DIRECTIVES: [&str; 5] =
        ["skip", "include", "deprecated", "specifiedBy", "oneOf"];
    let doc: ServiceDocument = async_graphql_parser::parse_schema(sdl).unwrap();
    let mut types = BTreeMap::new();
    let mut roots =
        json!({ "query": "Query", "mutation": "Mutation", "subscription": "Subscription" });
    for definition in doc.definitions {
        match definition {
            TypeSystemDefinition::Schema(schema) => {
                let s = schema.node;
                for (key, name) in [
                    ("query", s.query),
                    ("mutation", s.mutation),
                    ("subscription", s.subscription),
                ] {
                    if let Some(name) = name {
                        roots[key] = json!(name.node.as_str());
                    }
                }
            }
            TypeSystemDefinition::Directive(d) => {
                let name = d.node.name.node.to_string();
                assert!(
                    BUILT_IN_DIRECTIVES.contains(&name.as_str()),
                    "unexpected directive @{name}"
                );
            }
            TypeSystemDefinition::Type(t) => {
                let t = t.node;
                let description = t.description.map(|d| d.node.trim().to_owned());
                let directives: Vec<String> = t
                    .directives
                    .iter()
                    .map(|d| d.node.name.node.to_string())
                    .collect();
                let (kind, body) = match t.kind {
                    TypeKind::Scalar => ("scalar", json!({ "directives": directives })),
                    TypeKind::Object(o) => ("type", json!(o.fields.iter().map(|f| {
                        let f = &f.node;
                        json!({
                            "name": f.name.node.as_str(),
                            "description": f.description.as_ref().map(|d| d.node.trim()),
                            "type": f.ty.node.to_string(),
                            "arguments": f.arguments.iter().map(|a| json!({
                                "name": a.node.name.node.as_str(),
                                "type": a.node.ty.node.to_string(),
                                "default": a.node.default_value.as_ref().map(|v| v.node.to_string()),
                                "description": a.node.description.as_ref().map(|d| d.node.trim()),
                            })).collect::<Vec<_>>(),
                            "directives": f.directives.iter().map(|d| directive_text(&d.node)).collect::<Vec<_>>(),
                        })
                    }).collect::<Vec<_>>())),
                    TypeKind::Enum(e) => ("enum", json!(e.values.iter().map(|v| json!({
                        "name": v.node.value.node.as_str(),
                        "description": v.node.description.as_ref().map(|d| d.node.trim()),
                        "directives": v.node.directives.iter().map(|d| directive_text(&d.node)).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>())),
                    TypeKind::InputObject(i) => ("input", json!(i.fields.iter().map(|f| json!({
                        "name": f.node.name.node.as_str(),
                        "type": f.node.ty.node.to_string(),
                        "default": f.node.default_value.as_ref().map(|v| v.node.to_string()),
                        "description": f.node.description.as_ref().map(|d| d.node.trim()),
                    })).collect::<Vec<_>>())),
                    TypeKind::Interface(_) => ("interface", json!(null)),
                    TypeKind::Union(_) => ("union", json!(null)),
                };
                types.insert(
                    format!("{kind} {}", t.name.node),
                    json!({ "description": description, "body": body }),
                );
            }
        }
    }
    types.insert("schema".into(), roots);
    types
}

fn directive_text(d: &async_graphql_parser::types::ConstDirective) -> String {
    let args: Vec<String> = d
        .arguments
        .iter()
        .map(|(n, v)| format!("{}: {}", n.node, v.node))
        .collect();
    format!("@{}({})", d.name.node, args.join(", "))
}

#[tokio::test]
async fn the_served_openapi_document_says_what_openapi_yaml_says() {
    let app = spawn_app().await;
    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let yaml =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    let published: Value = serde_norway::from_str(&yaml).unwrap();
    let served_shape = contract_shape(&served);
    let published_shape = contract_shape(&published);
    assert!(published_shape["paths"]["/graphql/tokens"]["post"]["responses"]["200"].is_object());
    assert_eq!(served_shape, published_shape);

    let served_yaml = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let served_yaml: Value = serde_norway::from_str(&served_yaml).unwrap();
    assert_eq!(contract_shape(&served_yaml), published_shape);
}

/// What a client depends on: per path and method the operationId, security, and per status the
/// headers and the resolved schema of each media type; and the security schemes.
fn contract_shape(doc: &Value) -> Value {
    let mut paths = Map::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let mut operations = Map::new();
        for (method, op) in item.as_object().unwrap() {
            let mut responses = Map::new();
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(doc, response);
                let content: Map<String, Value> = response["content"]
                    .as_object()
                    .map(|c| {
                        c.iter()
                            .map(|(media, m)| (media_type(media), schema_shape(doc, &m["schema"])))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut headers: Vec<String> = response["headers"]
                    .as_object()
                    .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
                    .unwrap_or_default();
                headers.sort();
                responses.insert(
                    status.clone(),
                    json!({ "content": content, "headers": headers }),
                );
            }
            let security = op
                .get("security")
                .or_else(|| doc.get("security"))
                .cloned()
                .unwrap_or(json!([]));
            operations.insert(
                method.clone(),
                json!({
                    "operationId": op["operationId"],
                    "security": security,
                    "parameters": op["parameters"].as_array().map(|ps| ps.iter().map(|p| {
                        let p = resolve(doc, p);
                        json!({
                            "name": p["name"], "in": p["in"],
                            "required": p["required"].as_bool().unwrap_or(false),
                            "schema": schema_shape(doc, &p["schema"]),
                        })
                    }).collect::<Vec<_>>()).unwrap_or_default(),
                    "requestBody": op.get("requestBody").map(|b| {
                        let content = b["content"].as_object().unwrap();
                        content.iter().map(|(m, c)| (media_type(m), schema_shape(doc, &c["schema"]))).collect::<Map<_, _>>()
                    }),
                    "responses": responses,
                }),
            );
        }
        paths.insert(path.clone(), Value::Object(operations));
    }
    let schemes: Map<String, Value> = doc["components"]["securitySchemes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, s)| (name.clone(), json!({ "type": s["type"], "scheme": s["scheme"], "bearerFormat": s.get("bearerFormat") })))
        .collect();
    json!({ "paths": paths, "securitySchemes": schemes })
}

/// poem-openapi serves `application/json; charset=utf-8` for `application/json`.
fn media_type(media: &str) -> String {
    media.split(';').next().unwrap_or(media).trim().to_owned()
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling {reference}")),
            )
        }
        None => value,
    }
}

/// A schema with references resolved, reduced to type, format, required and properties.
fn schema_shape(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    required.sort();
    let properties: Map<String, Value> = schema["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.clone(), schema_shape(doc, v)))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "type": schema["type"],
        "format": schema.get("format"),
        "required": required,
        "properties": properties,
        "items": schema.get("items").map(|i| schema_shape(doc, i)),
        "enum": schema.get("enum"),
    })
}

#[tokio::test]
async fn graphiql_is_served_whole_from_the_binary() {
    let app = spawn_app().await;
    let html = assert_page_served_whole(&app, "/graphiql", 5).await;
    assert!(html.contains("/graphiql/graphiql.js"));
}

#[tokio::test]
async fn docs_are_served_whole_from_the_binary_and_call_no_other_host() {
    let app = spawn_app().await;
    let html = assert_page_served_whole(&app, "/docs", 3).await;
    // Swagger UI's settings are data in the page; every URL among them must be this origin's.
    // Its default validatorUrl sends the document's address to validator.swagger.io.
    let config = html
        .split_once(r#"<script type="application/json" id="swagger-ui-config">"#)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .expect("the page holds its Swagger UI settings");
    let config: Value = serde_json::from_str(config).unwrap();
    assert_eq!(config["validatorUrl"], "none", "{config}");
    let mut strings = Vec::new();
    collect_strings(&config, &mut strings);
    for text in strings {
        let other_origin =
            text.contains("://") || text.starts_with("//") || text.starts_with("data:");
        assert!(!other_origin, "{text} is not a same-origin URL: {config}");
    }
    // What the settings point at is served, and is the token API's document.
    let url = config["url"].as_str().unwrap();
    assert!(url.starts_with('/'), "{url}");
    let document: Value = app
        .client
        .get(app.url(url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = document.to_string();
    assert!(text.contains("createToken") && text.contains("revokeToken"));
}

fn collect_strings<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => into.push(text),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, into)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, into)),
        _ => {}
    }
}

/// Asserts that the page at `path` runs no inline script under a same-origin policy, and that
/// each of the `files` files it loads is served under `path` byte for byte as `web/` holds
/// it; returns the page.
async fn assert_page_served_whole(app: &TestApp, path: &str, files: usize) -> String {
    let page = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |resp: &reqwest::Response, name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-eval") && !csp.contains("http"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "inline script");

    // Every file the page loads is ours to serve, and is the committed file byte for byte.
    let references: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert_eq!(references.len(), files, "{references:?}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let prefix = format!("{path}/");
    for reference in references {
        let name = reference
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{reference} is not served by {path}"));
        let resp = app.client.get(app.url(reference)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{reference}");
        let expected_type = if name.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            header(&resp, "content-type").starts_with(expected_type),
            "{reference}"
        );
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
        let on_disk = std::fs::read(root.join(name))
            .or_else(|_| std::fs::read(root.join("vendor").join(name)))
            .unwrap();
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            on_disk.as_slice(),
            "{reference}"
        );
    }
    let missing = app
        .client
        .get(app.url(&format!("{path}/unknown.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    html
}
