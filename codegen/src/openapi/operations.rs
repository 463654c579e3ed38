//! Turns `paths` into one [`ir::Operation`] per operation: parameters, body, responses.

use std::collections::HashSet;

use openapiv3::{
    Components, Content, Header, Operation, Parameter, ParameterSchemaOrContent, PathItem,
    PathStyle, QueryStyle, ReferenceOr, RequestBody, Response, Responses, Schema, SchemaData,
    SchemaKind, StatusCode, Type, VariantOrUnknownOrEmpty,
};
use quote::format_ident;

use super::ir::{self, ParamIn, Ty};
use super::lower::{Ctx, reject_set};
use super::names::{status_variant, type_ident, value_ident};
use crate::Error;

/// Argument names the generated methods use themselves.
const RESERVED_ARGS: [&str; 3] = ["req", "auth", "body"];

pub fn lower_all(cx: &mut Ctx<'_>) -> Result<Vec<ir::Operation>, Error> {
    let doc = cx.doc;
    let mut operations = Vec::new();
    let mut methods = HashSet::new();
    for (path, item) in &doc.paths.paths {
        let ReferenceOr::Item(item) = item else {
            return Err(cx.unsupported("$ref as a path item", &format!("at {path}")));
        };
        check_path_item(cx, path, item)?;
        for (method, op) in item.iter() {
            let operation = operation(cx, path, method, &item.parameters, op)?;
            if !methods.insert(operation.ident.to_string()) {
                return Err(cx.invalid(format!(
                    "operationId {} gives the handler method {}, which another operation has too",
                    operation.operation_id, operation.ident
                )));
            }
            operations.push(operation);
        }
    }
    Ok(operations)
}

fn check_path_item(cx: &Ctx<'_>, path: &str, item: &PathItem) -> Result<(), Error> {
    reject_set(
        cx,
        &format!("at {path}"),
        [
            ("summary", item.summary.is_some()),
            ("description", item.description.is_some()),
            ("servers", !item.servers.is_empty()),
        ],
    )
}

fn operation(
    cx: &mut Ctx<'_>,
    path: &str,
    method: &str,
    shared_params: &[ReferenceOr<Parameter>],
    op: &Operation,
) -> Result<ir::Operation, Error> {
    let here = format!("{} {path}", method.to_ascii_uppercase());
    let at = format!("at {here}");
    let Some(operation_id) = &op.operation_id else {
        return Err(cx.invalid(format!("operation {here} has no operationId")));
    };
    reject_set(
        cx,
        &at,
        [
            ("callbacks", !op.callbacks.is_empty()),
            ("servers", !op.servers.is_empty()),
            ("externalDocs", op.external_docs.is_some()),
        ],
    )?;
    let (poem_path, path_vars) = poem_path(cx, path)?;
    let security = op.security.as_ref().or(cx.doc.security.as_ref());
    let auth = match security {
        Some(requirements) => cx.security(requirements, &at)?,
        None => None,
    };
    Ok(ir::Operation {
        method: method.to_owned(),
        path: poem_path,
        operation_id: operation_id.clone(),
        ident: value_ident(operation_id),
        doc: operation_doc(cx, op, &at)?,
        deprecated: op.deprecated,
        tags: op
            .tags
            .iter()
            .map(|tag| cx.tag(tag, None))
            .collect::<Result<_, _>>()?,
        auth,
        params: parameters(cx, &path_vars, shared_params, &op.parameters, &here)?,
        body: op
            .request_body
            .as_ref()
            .map(|body| request_body(cx, body, &at))
            .transpose()?,
        response: responses(cx, operation_id, &op.responses, &here)?,
    })
}

/// poem-openapi takes the first paragraph of the doc comment as the summary.
fn operation_doc(cx: &Ctx<'_>, op: &Operation, at: &str) -> Result<Option<String>, Error> {
    match (&op.summary, &op.description) {
        (Some(summary), _) if summary.contains("\n\n") => {
            Err(cx.unsupported("summary with a blank line", at))
        }
        (Some(summary), None) => Ok(Some(summary.trim().to_owned())),
        (Some(summary), Some(description)) => {
            Ok(Some(format!("{}\n\n{}", summary.trim(), description.trim())))
        }
        (None, Some(_)) => Err(cx.unsupported(
            "description without a summary (poem-openapi would serve its first paragraph as the summary)",
            at,
        )),
        (None, None) => Ok(None),
    }
}

/// The path in poem's syntax and its template variables in order.
fn poem_path(cx: &Ctx<'_>, path: &str) -> Result<(String, Vec<String>), Error> {
    let at = format!("at {path}");
    let Some(rest) = path.strip_prefix('/') else {
        return Err(cx.invalid(format!("path {path} does not start with /")));
    };
    if rest.is_empty() {
        return Ok(("/".to_owned(), Vec::new()));
    }
    let mut poem = String::new();
    let mut vars = Vec::new();
    for segment in rest.split('/') {
        let var = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match var {
            // poem-openapi drops empty segments, so `/a/` would be served as `/a`.
            _ if segment.is_empty() => {
                return Err(cx.unsupported("empty path segment (a trailing or double slash)", &at));
            }
            Some(var) if !var.is_empty() && !var.contains(['{', '}']) => {
                if vars.iter().any(|v| v == var) {
                    return Err(cx.invalid(format!("path {path} names {{{var}}} twice")));
                }
                poem.push_str("/:");
                poem.push_str(var);
                vars.push(var.to_owned());
            }
            _ if segment.contains(['{', '}']) || segment.starts_with([':', '*']) => {
                return Err(cx.unsupported(format!("path segment {segment}"), &at));
            }
            _ => {
                poem.push('/');
                poem.push_str(segment);
            }
        }
    }
    Ok((poem, vars))
}

/// Follows `$ref`s into `components.<section>`.
fn resolve<'a, T>(
    cx: &Ctx<'a>,
    mut item: &'a ReferenceOr<T>,
    section: &str,
    lookup: impl Fn(&'a Components, &str) -> Option<&'a ReferenceOr<T>>,
    at: &str,
) -> Result<&'a T, Error> {
    // Enough for any sensible chain, and it stops a cycle.
    for _ in 0..16 {
        let reference = match item {
            ReferenceOr::Item(item) => return Ok(item),
            ReferenceOr::Reference { reference } => reference,
        };
        let found = reference
            .strip_prefix(&format!("#/components/{section}/"))
            .and_then(|name| lookup(cx.doc.components.as_ref()?, name));
        item = found.ok_or_else(|| {
            cx.invalid(format!(
                "$ref {reference} {at} names nothing in components.{section}"
            ))
        })?;
    }
    Err(cx.invalid(format!("$refs {at} go round in a cycle")))
}

fn parameters(
    cx: &Ctx<'_>,
    path_vars: &[String],
    shared: &[ReferenceOr<Parameter>],
    own: &[ReferenceOr<Parameter>],
    here: &str,
) -> Result<Vec<ir::Param>, Error> {
    // The operation's own parameters override the path item's with the same name and location.
    let mut merged: Vec<ir::Param> = Vec::new();
    for param in shared.iter().chain(own) {
        let param = resolve(
            cx,
            param,
            "parameters",
            |c, n| c.parameters.get(n),
            &format!("at {here}"),
        )?;
        let param = parameter(cx, param, here)?;
        match merged
            .iter_mut()
            .find(|p| p.name == param.name && p.location == param.location)
        {
            Some(slot) => *slot = param,
            None => merged.push(param),
        }
    }
    for var in path_vars {
        if !merged
            .iter()
            .any(|p| p.location == ParamIn::Path && p.name == *var)
        {
            return Err(cx.invalid(format!("path parameter {var} of {here} is not declared")));
        }
    }
    let position = |p: &ir::Param| match p.location {
        ParamIn::Path => path_vars.iter().position(|v| *v == p.name),
        ParamIn::Query => Some(path_vars.len()),
        ParamIn::Header => Some(path_vars.len() + 1),
    };
    if let Some(stray) = merged.iter().find(|p| position(p).is_none()) {
        return Err(cx.invalid(format!(
            "path parameter {} of {here} is not in the path",
            stray.name
        )));
    }
    merged.sort_by_key(|p| position(p));
    let mut idents = HashSet::new();
    for param in &merged {
        if !idents.insert(param.ident.to_string()) {
            return Err(cx.invalid(format!(
                "parameters of {here} clash as the Rust argument {}",
                param.ident
            )));
        }
    }
    Ok(merged)
}

fn parameter(cx: &Ctx<'_>, param: &Parameter, here: &str) -> Result<ir::Param, Error> {
    let data = param.parameter_data_ref();
    let at = format!("at {here} parameter {}", data.name);
    let location = match param {
        Parameter::Query {
            allow_reserved,
            style,
            allow_empty_value,
            ..
        } => {
            reject_set(
                cx,
                &at,
                [
                    ("allowReserved", *allow_reserved),
                    ("style", !matches!(style, QueryStyle::Form)),
                    ("allowEmptyValue", allow_empty_value.is_some()),
                    ("explode: false", data.explode == Some(false)),
                ],
            )?;
            ParamIn::Query
        }
        Parameter::Path { style, .. } => {
            reject_set(
                cx,
                &at,
                [
                    ("style", !matches!(style, PathStyle::Simple)),
                    ("explode: true", data.explode == Some(true)),
                ],
            )?;
            if !data.required {
                return Err(cx.invalid(format!(
                    "path parameter {} of {here} is not required",
                    data.name
                )));
            }
            ParamIn::Path
        }
        Parameter::Header { .. } => {
            reject_set(cx, &at, [("explode: true", data.explode == Some(true))])?;
            ParamIn::Header
        }
        Parameter::Cookie { .. } => return Err(cx.unsupported("cookie parameter", &at)),
    };
    let ParameterSchemaOrContent::Schema(schema) = &data.format else {
        return Err(cx.unsupported("parameter content (instead of schema)", &at));
    };
    let ty = cx.ty(schema.into(), &at)?;
    let arrays_allowed = location == ParamIn::Query;
    check_simple(cx, &ty, arrays_allowed, &at)?;
    let mut ident = value_ident(&data.name);
    if RESERVED_ARGS.contains(&ident.to_string().as_str()) {
        ident = format_ident!("{ident}_param");
    }
    Ok(ir::Param {
        location,
        name: data.name.clone(),
        ident,
        ty,
        required: data.required,
        doc: data.description.clone(),
        deprecated: data.deprecated == Some(true),
    })
}

/// Parameters and headers carry primitives and string enums (and, in a query, arrays of them).
fn check_simple(cx: &Ctx<'_>, ty: &Ty, arrays_allowed: bool, at: &str) -> Result<(), Error> {
    match ty {
        Ty::Vec(item) if arrays_allowed => check_simple(cx, item, false, at),
        Ty::Vec(_) => Err(cx.unsupported("array schema", at)),
        Ty::Named(ident) if cx.is_object(ident) => Err(cx.unsupported("object schema", at)),
        _ => Ok(()),
    }
}

fn request_body(
    cx: &Ctx<'_>,
    body: &ReferenceOr<RequestBody>,
    at: &str,
) -> Result<ir::Body, Error> {
    let body = resolve(
        cx,
        body,
        "requestBodies",
        |c, n| c.request_bodies.get(n),
        at,
    )?;
    if !body.required {
        return Err(cx.unsupported("optional request body", at));
    }
    match json_content(cx, &body.content, "request body", at)? {
        Some(ty) => Ok(ir::Body {
            ty,
            doc: body.description.clone(),
        }),
        None => Err(cx.unsupported("request body without content", at)),
    }
}

/// The type of a JSON body, or `None` when there is no content.
fn json_content(
    cx: &Ctx<'_>,
    content: &Content,
    what: &str,
    at: &str,
) -> Result<Option<Ty>, Error> {
    let mut entries = content.iter();
    let (media_type, media) = match (entries.next(), entries.next()) {
        (None, _) => return Ok(None),
        (Some(entry), None) => entry,
        (Some(_), Some(_)) => {
            return Err(cx.unsupported(format!("{what} with several content types"), at));
        }
    };
    if media_type != "application/json" {
        return Err(cx.unsupported(format!("{what} content type {media_type}"), at));
    }
    if !media.encoding.is_empty() {
        return Err(cx.unsupported(format!("{what} encoding"), at));
    }
    let Some(schema) = &media.schema else {
        return Err(cx.unsupported(format!("{what} content without a schema"), at));
    };
    cx.ty(schema.into(), at).map(Some)
}

fn responses(
    cx: &Ctx<'_>,
    operation_id: &str,
    responses: &Responses,
    here: &str,
) -> Result<ir::Response, Error> {
    if responses.default.is_some() {
        return Err(cx.unsupported("default response", &format!("at {here}")));
    }
    let mut variants = Vec::new();
    for (status, response) in &responses.responses {
        let StatusCode::Code(code) = status else {
            return Err(cx.unsupported(format!("status range {status}"), &format!("at {here}")));
        };
        let at = format!("at {here} {code}");
        let response = resolve(cx, response, "responses", |c, n| c.responses.get(n), &at)?;
        variants.push(variant(cx, *code, response, &at)?);
    }
    if variants.is_empty() {
        return Err(cx.invalid(format!("operation {here} declares no responses")));
    }
    Ok(ir::Response {
        ident: format_ident!("{}Response", type_ident(operation_id)),
        operation_id: operation_id.to_owned(),
        variants,
    })
}

fn variant(cx: &Ctx<'_>, status: u16, response: &Response, at: &str) -> Result<ir::Variant, Error> {
    if !response.links.is_empty() {
        return Err(cx.unsupported("links", at));
    }
    let headers: Vec<ir::Header> = response
        .headers
        .iter()
        .map(|(name, header)| response_header(cx, name, header, at))
        .collect::<Result<_, _>>()?;
    let mut fields = HashSet::new();
    for header in &headers {
        if !fields.insert(header.ident.to_string()) {
            return Err(cx.invalid(format!(
                "response headers {at} clash as the Rust field {}",
                header.ident
            )));
        }
    }
    Ok(ir::Variant {
        status,
        ident: status_variant(status),
        doc: response.description.clone(),
        body: response_content(cx, &response.content, at)?,
        headers,
    })
}

/// A response's body: one `application/json` content, or text types that are all
/// `{type: string}` (a streamed body, the handler choosing the type), or none.
fn response_content(
    cx: &Ctx<'_>,
    content: &Content,
    at: &str,
) -> Result<Option<ir::Payload>, Error> {
    let json = content.contains_key("application/json");
    if json && content.len() == 1 {
        return Ok(json_content(cx, content, "response", at)?.map(ir::Payload::Json));
    }
    if json {
        return Err(cx.unsupported(
            "response with application/json beside other content types (a body is either JSON or streamed)",
            at,
        ));
    }
    if content.is_empty() {
        return Ok(None);
    }
    for (media_type, media) in content {
        // poem answers `Accept` itself for none of them: the handler picks one of these.
        if media_type.contains('*') {
            return Err(cx.unsupported(
                format!("response content type {media_type} (a wildcard)"),
                at,
            ));
        }
        if !media.encoding.is_empty() {
            return Err(cx.unsupported("response encoding", at));
        }
        let Some(schema) = &media.schema else {
            return Err(cx.unsupported("response content without a schema", at));
        };
        if !is_streamable(schema) {
            return Err(cx.unsupported(
                format!(
                    "response content type {media_type} with a schema other than {{type: string}} (streamed bodies only; JSON bodies are application/json)"
                ),
                at,
            ));
        }
    }
    Ok(Some(ir::Payload::Streamed(
        content.keys().cloned().collect(),
    )))
}

/// `{type: string}` and nothing else: what the served document says of each media type (a
/// `format` would be lost there).
fn is_streamable(schema: &ReferenceOr<Schema>) -> bool {
    let ReferenceOr::Item(schema) = schema else {
        return false;
    };
    let SchemaKind::Type(Type::String(string)) = &schema.schema_kind else {
        return false;
    };
    let format_ok = matches!(&string.format, VariantOrUnknownOrEmpty::Empty);
    format_ok
        && string.pattern.is_none()
        && string.enumeration.is_empty()
        && string.min_length.is_none()
        && string.max_length.is_none()
        && schema.schema_data == SchemaData::default()
}

fn response_header(
    cx: &Ctx<'_>,
    name: &str,
    header: &ReferenceOr<Header>,
    at: &str,
) -> Result<ir::Header, Error> {
    let at = format!("{at} header {name}");
    let header = resolve(cx, header, "headers", |c, n| c.headers.get(n), &at)?;
    // OpenAPI ignores a Content-Type header; poem-openapi would serve it.
    if name.eq_ignore_ascii_case("content-type") {
        return Err(cx.unsupported("Content-Type response header", &at));
    }
    let ParameterSchemaOrContent::Schema(schema) = &header.format else {
        return Err(cx.unsupported("header content (instead of schema)", &at));
    };
    let ty = cx.ty(schema.into(), &at)?;
    check_simple(cx, &ty, false, &at)?;
    // `body` is the variant's field for the response body.
    let mut ident = value_ident(name);
    if ident == "body" {
        ident = format_ident!("body_header");
    }
    Ok(ir::Header {
        name: name.to_owned(),
        ident,
        ty,
        required: header.required,
        doc: header.description.clone(),
        deprecated: header.deprecated == Some(true),
    })
}
