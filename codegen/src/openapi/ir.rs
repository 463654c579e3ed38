//! What the generator emits, with every name already chosen: lowering fills it and checks the
//! document, emitting only prints it.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, quote};

pub struct Api {
    pub info: Info,
    pub servers: Vec<Server>,
    pub types: Vec<TypeDef>,
    pub schemes: Vec<Scheme>,
    /// Security alternatives (`security: [{a: []}, {b: []}]`), one enum each.
    pub alternatives: Vec<Alternatives>,
    pub tags: Vec<Tag>,
    pub operations: Vec<Operation>,
}

pub struct Info {
    pub title: String,
    pub version: String,
    pub description: Option<String>,
    pub terms_of_service: Option<String>,
    pub contact: Option<Contact>,
    pub license: Option<License>,
    pub external_docs: Option<ExternalDocs>,
}

pub struct ExternalDocs {
    pub url: String,
    pub description: Option<String>,
}

pub struct Contact {
    pub name: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
}

pub struct License {
    pub name: String,
    pub url: Option<String>,
}

pub struct Server {
    pub url: String,
    pub description: Option<String>,
}

pub enum TypeDef {
    Object(Object),
    Enum(Enum),
}

pub struct Object {
    /// The schema's name in `components.schemas`, kept in the served document.
    pub name: String,
    pub ident: Ident,
    pub doc: Option<String>,
    pub deprecated: bool,
    pub fields: Vec<Field>,
}

pub struct Field {
    pub name: String,
    pub ident: Ident,
    pub ty: Ty,
    pub required: bool,
    pub doc: Option<String>,
    pub deprecated: bool,
}

pub struct Enum {
    pub name: String,
    pub ident: Ident,
    pub doc: Option<String>,
    pub deprecated: bool,
    /// Each value as written in the document, with its variant.
    pub values: Vec<(String, Ident)>,
}

pub struct Scheme {
    pub name: String,
    pub ident: Ident,
    pub doc: Option<String>,
    pub kind: SchemeKind,
}

pub enum SchemeKind {
    Basic,
    Bearer { format: Option<String> },
}

pub struct Alternatives {
    pub ident: Ident,
    pub schemes: Vec<Ident>,
}

pub struct Tag {
    pub name: String,
    pub ident: Ident,
    pub doc: Option<String>,
}

pub struct Operation {
    /// Lower-case HTTP method, as poem-openapi spells it.
    pub method: String,
    /// The path in poem's syntax (`/items/:id`).
    pub path: String,
    pub operation_id: String,
    pub ident: Ident,
    /// Summary, a blank line and the description: poem-openapi splits them there.
    pub doc: Option<String>,
    pub deprecated: bool,
    pub tags: Vec<Ident>,
    pub auth: Option<Ident>,
    /// Path parameters first, in the order the path names them (poem-openapi binds them by
    /// position), then query and header parameters.
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub response: Response,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    Path,
    Query,
    Header,
}

pub struct Param {
    pub location: ParamIn,
    pub name: String,
    pub ident: Ident,
    pub ty: Ty,
    pub required: bool,
    pub doc: Option<String>,
    pub deprecated: bool,
}

pub struct Body {
    pub ty: Ty,
    pub doc: Option<String>,
}

pub struct Response {
    pub ident: Ident,
    pub operation_id: String,
    pub variants: Vec<Variant>,
}

pub struct Variant {
    pub status: u16,
    pub ident: Ident,
    pub doc: String,
    pub body: Option<Payload>,
    pub headers: Vec<Header>,
}

/// A response body.
pub enum Payload {
    /// `application/json` with a schema.
    Json(Ty),
    /// Text or bytes the handler streams, in one of these media types (as declared, in order);
    /// the generated `StreamedBody` carries it.
    Streamed(Vec<String>),
}

pub struct Header {
    pub name: String,
    /// The field of the response enum's variant that carries the header's value.
    pub ident: Ident,
    pub ty: Ty,
    pub required: bool,
    pub doc: Option<String>,
    pub deprecated: bool,
}

/// A Rust type for a schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    String,
    I32,
    I64,
    F32,
    F64,
    Bool,
    DateTime,
    /// A type generated from `components.schemas`.
    Named(Ident),
    Vec(Box<Ty>),
}

impl Ty {
    /// The type of a value that may be absent.
    pub fn optional(&self, required: bool) -> TokenStream {
        if required {
            quote!(#self)
        } else {
            quote!(::std::option::Option<#self>)
        }
    }
}

impl ToTokens for Ty {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(match self {
            Ty::String => quote!(::std::string::String),
            Ty::I32 => quote!(i32),
            Ty::I64 => quote!(i64),
            Ty::F32 => quote!(f32),
            Ty::F64 => quote!(f64),
            Ty::Bool => quote!(bool),
            Ty::DateTime => quote!(::time::OffsetDateTime),
            Ty::Named(ident) => quote!(#ident),
            Ty::Vec(item) => quote!(::std::vec::Vec<#item>),
        });
    }
}
