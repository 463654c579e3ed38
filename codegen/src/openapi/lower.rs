//! Checks the document and turns it into [`ir::Api`]: the document-level parts, the component
//! schemas and the security schemes. Operations are in `operations.rs`.
//!
//! Whatever poem-openapi cannot serve as written is refused with an error naming it and where it
//! is. Only examples and `x-` extensions are left out, as they change no contract.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;

use openapiv3::{
    ArrayType, IntegerFormat, IntegerType, NumberFormat, NumberType, ObjectType, OpenAPI,
    ReferenceOr, Schema, SchemaData, SchemaKind, SecurityScheme, StringFormat, StringType, Type,
    VariantOrUnknownOrEmpty,
};
use proc_macro2::Ident;

use super::ir::{self, Ty};
use super::names::{type_ident, unraw, value_ident};
use crate::Error;

/// Shared state of one lowering: the document and the names chosen so far.
pub struct Ctx<'a> {
    file: &'a str,
    pub doc: &'a OpenAPI,
    /// Component schemas by name: their type and whether they are string enums.
    schemas: HashMap<String, (Ident, bool)>,
    /// Security schemes by name.
    schemes: HashMap<String, Ident>,
    /// Tags in document order, then those only operations name, in order of first use.
    tags: Vec<ir::Tag>,
    alternatives: Vec<ir::Alternatives>,
}

pub fn lower(file: &str, doc: &OpenAPI) -> Result<ir::Api, Error> {
    let mut cx = Ctx {
        file,
        doc,
        schemas: HashMap::new(),
        schemes: HashMap::new(),
        tags: Vec::new(),
        alternatives: Vec::new(),
    };
    if !doc.openapi.starts_with("3.0.") {
        return Err(cx.unsupported(
            format!("openapi version {}", doc.openapi),
            "in the document",
        ));
    }
    let info = cx.info();
    let servers = cx.servers()?;
    let types = cx.types()?;
    let schemes = cx.security_schemes()?;
    cx.declared_tags()?;
    let operations = super::operations::lower_all(&mut cx)?;
    let api = ir::Api {
        info,
        servers,
        types,
        schemes,
        alternatives: std::mem::take(&mut cx.alternatives),
        tags: std::mem::take(&mut cx.tags),
        operations,
    };
    cx.check_unique_type_names(&api)?;
    Ok(api)
}

/// A schema wherever it appears: component schemas are `ReferenceOr<Schema>`, properties and
/// array items `ReferenceOr<Box<Schema>>`.
#[derive(Clone, Copy)]
pub enum SchemaRef<'a> {
    Ref(&'a str),
    Item(&'a Schema),
}

impl<'a> From<&'a ReferenceOr<Schema>> for SchemaRef<'a> {
    fn from(schema: &'a ReferenceOr<Schema>) -> Self {
        match schema {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Item(schema),
        }
    }
}

impl<'a> From<&'a ReferenceOr<Box<Schema>>> for SchemaRef<'a> {
    fn from(schema: &'a ReferenceOr<Box<Schema>>) -> Self {
        match schema {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Item(schema),
        }
    }
}

impl<'a> Ctx<'a> {
    /// `loc` says where, with its preposition: `in components.schemas.Foo`, `at GET /x 200`.
    pub fn unsupported(&self, what: impl Display, loc: &str) -> Error {
        Error::new(self.file, format!("unsupported construct: {what} {loc}"))
    }

    pub fn invalid(&self, message: impl Into<String>) -> Error {
        Error::new(self.file, message)
    }

    fn info(&self) -> ir::Info {
        let info = &self.doc.info;
        ir::Info {
            title: info.title.clone(),
            version: info.version.clone(),
            description: info.description.clone(),
            terms_of_service: info.terms_of_service.clone(),
            contact: info.contact.as_ref().map(|c| ir::Contact {
                name: c.name.clone(),
                url: c.url.clone(),
                email: c.email.clone(),
            }),
            license: info.license.as_ref().map(|l| ir::License {
                name: l.name.clone(),
                url: l.url.clone(),
            }),
            external_docs: self.doc.external_docs.as_ref().map(|d| ir::ExternalDocs {
                url: d.url.clone(),
                description: d.description.clone(),
            }),
        }
    }

    fn servers(&self) -> Result<Vec<ir::Server>, Error> {
        self.doc
            .servers
            .iter()
            .map(|server| {
                if server.variables.as_ref().is_some_and(|v| !v.is_empty()) {
                    return Err(self
                        .unsupported("server variables", &format!("in servers ({})", server.url)));
                }
                Ok(ir::Server {
                    url: server.url.clone(),
                    description: server.description.clone(),
                })
            })
            .collect()
    }

    /// Names every component schema first so that schemas can refer to each other in any order.
    fn types(&mut self) -> Result<Vec<ir::TypeDef>, Error> {
        let Some(components) = &self.doc.components else {
            return Ok(Vec::new());
        };
        for (name, schema) in &components.schemas {
            let is_enum = matches!(schema, ReferenceOr::Item(Schema {
                schema_kind: SchemaKind::Type(Type::String(s)), ..
            }) if !s.enumeration.is_empty());
            self.schemas
                .insert(name.clone(), (type_ident(name), is_enum));
        }
        components
            .schemas
            .iter()
            .map(|(name, schema)| self.type_def(name, schema))
            .collect()
    }

    fn type_def(&self, name: &str, schema: &ReferenceOr<Schema>) -> Result<ir::TypeDef, Error> {
        let loc = format!("in components.schemas.{name}");
        let ReferenceOr::Item(schema) = schema else {
            return Err(self.unsupported("$ref as a whole component schema", &loc));
        };
        let data = &schema.schema_data;
        self.check_schema_data(data, &loc)?;
        let ident = self.schemas[name].0.clone();
        match &schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => Ok(ir::TypeDef::Object(
                self.object(name, ident, data, object, &loc)?,
            )),
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => Ok(
                ir::TypeDef::Enum(self.string_enum(name, ident, data, string, &loc)?),
            ),
            SchemaKind::Type(_) => Err(self.unsupported(
                "component schema that is neither an object nor a string enum",
                &loc,
            )),
            kind => Err(self.unsupported(kind_name(kind), &loc)),
        }
    }

    fn object(
        &self,
        name: &str,
        ident: Ident,
        data: &SchemaData,
        object: &ObjectType,
        loc: &str,
    ) -> Result<ir::Object, Error> {
        if object.additional_properties.is_some() {
            return Err(self.unsupported("additionalProperties", loc));
        }
        reject_set(
            self,
            loc,
            [
                ("minProperties", object.min_properties.is_some()),
                ("maxProperties", object.max_properties.is_some()),
            ],
        )?;
        if let Some(missing) = object
            .required
            .iter()
            .find(|r| !object.properties.contains_key(*r))
        {
            return Err(self.invalid(format!(
                "required property {missing} {loc} is not among its properties"
            )));
        }
        let mut seen = HashSet::new();
        let mut fields = Vec::new();
        for (prop, schema) in &object.properties {
            let field = self.field(prop, schema.into(), object.required.contains(prop), loc)?;
            if !seen.insert(field.ident.to_string()) {
                return Err(self.invalid(format!(
                    "properties {loc} clash as the Rust field {}",
                    field.ident
                )));
            }
            fields.push(field);
        }
        Ok(ir::Object {
            name: name.to_owned(),
            ident,
            doc: data.description.clone(),
            deprecated: data.deprecated,
            fields,
        })
    }

    fn field(
        &self,
        name: &str,
        schema: SchemaRef<'_>,
        required: bool,
        loc: &str,
    ) -> Result<ir::Field, Error> {
        let loc = format!("{loc}.properties.{name}");
        let data = match schema {
            SchemaRef::Item(s) => Some(&s.schema_data),
            SchemaRef::Ref(_) => None,
        };
        Ok(ir::Field {
            name: name.to_owned(),
            ident: value_ident(name),
            ty: self.ty(schema, &loc)?,
            required,
            doc: data.and_then(|d| d.description.clone()),
            deprecated: data.is_some_and(|d| d.deprecated),
        })
    }

    fn string_enum(
        &self,
        name: &str,
        ident: Ident,
        data: &SchemaData,
        string: &StringType,
        loc: &str,
    ) -> Result<ir::Enum, Error> {
        self.check_string(string, loc)?;
        if !string.format.is_empty() {
            return Err(self.unsupported("format on a string enum", loc));
        }
        let mut seen = HashSet::new();
        let mut values = Vec::new();
        for value in &string.enumeration {
            let Some(value) = value else {
                return Err(self.unsupported("null enum value", loc));
            };
            let variant = type_ident(value);
            if !seen.insert(unraw(&variant)) {
                return Err(self.invalid(format!(
                    "enum values {loc} clash as the Rust variant {variant}"
                )));
            }
            values.push((value.clone(), variant));
        }
        Ok(ir::Enum {
            name: name.to_owned(),
            ident,
            doc: data.description.clone(),
            deprecated: data.deprecated,
            values,
        })
    }

    /// Keywords poem-openapi cannot express on a schema, or that would change what it accepts.
    fn check_schema_data(&self, data: &SchemaData, loc: &str) -> Result<(), Error> {
        reject_set(
            self,
            loc,
            [
                ("nullable", data.nullable),
                ("readOnly", data.read_only),
                ("writeOnly", data.write_only),
                ("default", data.default.is_some()),
                ("discriminator", data.discriminator.is_some()),
                ("title", data.title.is_some()),
                ("externalDocs", data.external_docs.is_some()),
            ],
        )
    }

    /// The Rust type of a schema used by a field, parameter, header or body.
    pub fn ty(&self, schema: SchemaRef<'_>, loc: &str) -> Result<Ty, Error> {
        let schema = match schema {
            SchemaRef::Ref(reference) => return self.named(reference, loc),
            SchemaRef::Item(schema) => schema,
        };
        self.check_schema_data(&schema.schema_data, loc)?;
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(s)) if !s.enumeration.is_empty() => {
                Err(self.unsupported("inline enum schema (declare it in components.schemas)", loc))
            }
            SchemaKind::Type(Type::String(s)) => self.string_ty(s, loc),
            SchemaKind::Type(Type::Integer(i)) => self.integer_ty(i, loc),
            SchemaKind::Type(Type::Number(n)) => self.number_ty(n, loc),
            SchemaKind::Type(Type::Boolean(b)) if !b.enumeration.is_empty() => {
                Err(self.unsupported("enum on a boolean", loc))
            }
            SchemaKind::Type(Type::Boolean(_)) => Ok(Ty::Bool),
            SchemaKind::Type(Type::Array(a)) => self.array_ty(a, loc),
            SchemaKind::Type(Type::Object(_)) => Err(self.unsupported(
                "inline object schema (declare it in components.schemas)",
                loc,
            )),
            kind => Err(self.unsupported(kind_name(kind), loc)),
        }
    }

    /// The type a `$ref` names.
    fn named(&self, reference: &str, loc: &str) -> Result<Ty, Error> {
        let found = reference
            .strip_prefix("#/components/schemas/")
            .and_then(|name| self.schemas.get(name));
        match found {
            Some((ident, _)) => Ok(Ty::Named(ident.clone())),
            None => Err(self.invalid(format!("$ref {reference} {loc} names no component schema"))),
        }
    }

    /// Whether a generated type is an object (rather than a string enum).
    pub fn is_object(&self, ident: &Ident) -> bool {
        self.schemas
            .values()
            .any(|(i, is_enum)| i == ident && !is_enum)
    }

    fn check_string(&self, s: &StringType, loc: &str) -> Result<(), Error> {
        reject_set(
            self,
            loc,
            [
                ("pattern", s.pattern.is_some()),
                ("minLength", s.min_length.is_some()),
                ("maxLength", s.max_length.is_some()),
            ],
        )
    }

    fn string_ty(&self, s: &StringType, loc: &str) -> Result<Ty, Error> {
        self.check_string(s, loc)?;
        match &s.format {
            VariantOrUnknownOrEmpty::Empty => Ok(Ty::String),
            VariantOrUnknownOrEmpty::Item(StringFormat::DateTime) => Ok(Ty::DateTime),
            VariantOrUnknownOrEmpty::Item(StringFormat::Date) => Err(self.unsupported(
                "string format date (poem-openapi would serve it as naive-date)",
                loc,
            )),
            VariantOrUnknownOrEmpty::Item(format) => {
                Err(self.unsupported(format!("string format {}", string_format_name(format)), loc))
            }
            VariantOrUnknownOrEmpty::Unknown(format) => {
                Err(self.unsupported(format!("string format {format}"), loc))
            }
        }
    }

    fn integer_ty(&self, i: &IntegerType, loc: &str) -> Result<Ty, Error> {
        reject_set(
            self,
            loc,
            [
                ("multipleOf", i.multiple_of.is_some()),
                ("minimum", i.minimum.is_some()),
                ("maximum", i.maximum.is_some()),
                ("exclusiveMinimum", i.exclusive_minimum),
                ("exclusiveMaximum", i.exclusive_maximum),
                ("enum", !i.enumeration.is_empty()),
            ],
        )?;
        match &i.format {
            // poem-openapi serves a plain integer as int64.
            VariantOrUnknownOrEmpty::Empty
            | VariantOrUnknownOrEmpty::Item(IntegerFormat::Int64) => Ok(Ty::I64),
            VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32) => Ok(Ty::I32),
            VariantOrUnknownOrEmpty::Unknown(format) => {
                Err(self.unsupported(format!("integer format {format}"), loc))
            }
        }
    }

    fn number_ty(&self, n: &NumberType, loc: &str) -> Result<Ty, Error> {
        reject_set(
            self,
            loc,
            [
                ("multipleOf", n.multiple_of.is_some()),
                ("minimum", n.minimum.is_some()),
                ("maximum", n.maximum.is_some()),
                ("exclusiveMinimum", n.exclusive_minimum),
                ("exclusiveMaximum", n.exclusive_maximum),
                ("enum", !n.enumeration.is_empty()),
            ],
        )?;
        match &n.format {
            // poem-openapi serves a plain number as double.
            VariantOrUnknownOrEmpty::Empty
            | VariantOrUnknownOrEmpty::Item(NumberFormat::Double) => Ok(Ty::F64),
            VariantOrUnknownOrEmpty::Item(NumberFormat::Float) => Ok(Ty::F32),
            VariantOrUnknownOrEmpty::Unknown(format) => {
                Err(self.unsupported(format!("number format {format}"), loc))
            }
        }
    }

    fn array_ty(&self, a: &ArrayType, loc: &str) -> Result<Ty, Error> {
        reject_set(
            self,
            loc,
            [
                ("minItems", a.min_items.is_some()),
                ("maxItems", a.max_items.is_some()),
                ("uniqueItems", a.unique_items),
            ],
        )?;
        let Some(items) = &a.items else {
            return Err(self.unsupported("array without items", loc));
        };
        Ok(Ty::Vec(Box::new(
            self.ty(items.into(), &format!("{loc}.items"))?,
        )))
    }

    fn security_schemes(&mut self) -> Result<Vec<ir::Scheme>, Error> {
        let Some(components) = &self.doc.components else {
            return Ok(Vec::new());
        };
        let mut schemes = Vec::new();
        for (name, scheme) in &components.security_schemes {
            let scheme = self.security_scheme(name, scheme)?;
            self.schemes.insert(name.clone(), scheme.ident.clone());
            schemes.push(scheme);
        }
        Ok(schemes)
    }

    fn security_scheme(
        &self,
        name: &str,
        scheme: &ReferenceOr<SecurityScheme>,
    ) -> Result<ir::Scheme, Error> {
        let loc = format!("in components.securitySchemes.{name}");
        let ReferenceOr::Item(scheme) = scheme else {
            return Err(self.unsupported("$ref as a security scheme", &loc));
        };
        let (kind, description) = match scheme {
            SecurityScheme::HTTP {
                scheme,
                bearer_format,
                description,
                ..
            } => {
                let kind = match scheme.to_ascii_lowercase().as_str() {
                    "basic" if bearer_format.is_none() => ir::SchemeKind::Basic,
                    "basic" => return Err(self.unsupported("bearerFormat on a basic scheme", &loc)),
                    "bearer" => ir::SchemeKind::Bearer {
                        format: bearer_format.clone(),
                    },
                    other => {
                        return Err(self.unsupported(
                            format!("security scheme type http with scheme {other}"),
                            &loc,
                        ));
                    }
                };
                (kind, description)
            }
            SecurityScheme::APIKey { .. } => {
                return Err(self.unsupported("security scheme type apiKey", &loc));
            }
            SecurityScheme::OAuth2 { .. } => {
                return Err(self.unsupported("security scheme type oauth2", &loc));
            }
            SecurityScheme::OpenIDConnect { .. } => {
                return Err(self.unsupported("security scheme type openIdConnect", &loc));
            }
        };
        Ok(ir::Scheme {
            name: name.to_owned(),
            ident: type_ident(name),
            doc: description.clone(),
            kind,
        })
    }

    fn declared_tags(&mut self) -> Result<(), Error> {
        for tag in &self.doc.tags {
            if tag.external_docs.is_some() {
                return Err(self.unsupported("externalDocs", &format!("in tags.{}", tag.name)));
            }
            self.tag(&tag.name, tag.description.clone())?;
        }
        Ok(())
    }

    /// The variant for a tag, declaring it when the document's `tags` list does not.
    pub fn tag(&mut self, name: &str, doc: Option<String>) -> Result<Ident, Error> {
        if let Some(tag) = self.tags.iter().find(|t| t.name == name) {
            return Ok(tag.ident.clone());
        }
        let ident = type_ident(name);
        if let Some(other) = self.tags.iter().find(|t| t.ident == ident) {
            return Err(self.invalid(format!(
                "tags {} and {name} clash as the Rust variant {ident}",
                other.name
            )));
        }
        self.tags.push(ir::Tag {
            name: name.to_owned(),
            ident: ident.clone(),
            doc,
        });
        Ok(ident)
    }

    /// The scheme type for a security requirement list, or `None` when it asks for none.
    pub fn security(
        &mut self,
        requirements: &[openapiv3::SecurityRequirement],
        loc: &str,
    ) -> Result<Option<Ident>, Error> {
        let mut schemes = Vec::new();
        for requirement in requirements {
            let mut entries = requirement.iter();
            let (Some((name, scopes)), None) = (entries.next(), entries.next()) else {
                let what = if requirement.is_empty() {
                    "optional security (an empty requirement)"
                } else {
                    "security requirement that combines schemes"
                };
                return Err(self.unsupported(what, loc));
            };
            if !scopes.is_empty() {
                return Err(self.unsupported(format!("scopes on security scheme {name}"), loc));
            }
            let Some(ident) = self.schemes.get(name) else {
                return Err(self.invalid(format!(
                    "security scheme {name} {loc} is not in components.securitySchemes"
                )));
            };
            schemes.push(ident.clone());
        }
        Ok(match schemes.len() {
            0 => None,
            1 => schemes.pop(),
            _ => Some(self.alternative(schemes)),
        })
    }

    fn alternative(&mut self, schemes: Vec<Ident>) -> Ident {
        if let Some(alt) = self.alternatives.iter().find(|a| a.schemes == schemes) {
            return alt.ident.clone();
        }
        let name = schemes
            .iter()
            .map(Ident::to_string)
            .collect::<Vec<_>>()
            .join("Or");
        let ident = Ident::new(&name, proc_macro2::Span::call_site());
        self.alternatives.push(ir::Alternatives {
            ident: ident.clone(),
            schemes,
        });
        ident
    }

    /// Generated type names share one namespace with the fixed ones.
    fn check_unique_type_names(&self, api: &ir::Api) -> Result<(), Error> {
        let fixed = ["Handlers", "Api", "ApiTags", "H", "StreamedBody"]
            .map(|n| ("generated", n.to_owned()));
        let types = api.types.iter().map(|t| match t {
            ir::TypeDef::Object(o) => ("components.schemas", o.ident.to_string()),
            ir::TypeDef::Enum(e) => ("components.schemas", e.ident.to_string()),
        });
        let schemes = api
            .schemes
            .iter()
            .map(|s| ("components.securitySchemes", s.ident.to_string()));
        let alternatives = api
            .alternatives
            .iter()
            .map(|a| ("security alternatives", a.ident.to_string()));
        let responses = api
            .operations
            .iter()
            .map(|o| ("operation responses", o.response.ident.to_string()));
        let mut seen = HashMap::new();
        for (source, name) in fixed
            .into_iter()
            .chain(types)
            .chain(schemes)
            .chain(alternatives)
            .chain(responses)
        {
            if let Some(first) = seen.insert(name.clone(), source) {
                return Err(self.invalid(format!(
                    "the Rust type name {name} is generated twice (from {first} and {source}); rename one"
                )));
            }
        }
        Ok(())
    }
}

/// Fails on the first keyword that is set.
pub fn reject_set<const N: usize>(
    cx: &Ctx<'_>,
    loc: &str,
    keywords: [(&str, bool); N],
) -> Result<(), Error> {
    match keywords.iter().find(|(_, set)| *set) {
        Some((keyword, _)) => Err(cx.unsupported(keyword, loc)),
        None => Ok(()),
    }
}

fn kind_name(kind: &SchemaKind) -> &'static str {
    match kind {
        SchemaKind::OneOf { .. } => "oneOf",
        SchemaKind::AllOf { .. } => "allOf",
        SchemaKind::AnyOf { .. } => "anyOf",
        SchemaKind::Not { .. } => "not",
        SchemaKind::Any(_) => "schema without a type, or with keywords that do not fit its type",
        SchemaKind::Type(_) => "schema",
    }
}

fn string_format_name(format: &StringFormat) -> &'static str {
    match format {
        StringFormat::Date => "date",
        StringFormat::DateTime => "date-time",
        StringFormat::Password => "password",
        StringFormat::Byte => "byte",
        StringFormat::Binary => "binary",
    }
}
