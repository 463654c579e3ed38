//! Prints [`ir::Api`] as Rust for poem-openapi. Every path is fully qualified so the output can
//! be `include!`d into any module.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::ir::{self, ParamIn};
use super::names::unraw;

pub fn emit(api: &ir::Api) -> TokenStream {
    let types = api.types.iter().map(|t| match t {
        ir::TypeDef::Object(o) => object(o),
        ir::TypeDef::Enum(e) => string_enum(e),
    });
    let schemes = api.schemes.iter().map(scheme);
    let alternatives = api.alternatives.iter().map(alternatives);
    let responses = api.operations.iter().map(|op| response(&op.response));
    let streamed_body = streams(&api.operations).then(streamed_body);
    let poem_responses = poem_responses(&api.operations);
    let tags = tags(&api.tags);
    let trait_methods = api.operations.iter().map(trait_method);
    let api_methods = api.operations.iter().map(api_method);
    let service = service(&api.info, &api.servers);
    quote! {
        #(#types)*
        #(#schemes)*
        #(#alternatives)*
        #streamed_body
        #(#responses)*
        #poem_responses
        #tags

        /// The operations of the API, one method per `operationId`. The generated [`Api`]
        /// extracts and checks each request, then calls these.
        pub trait Handlers: ::std::marker::Send + ::std::marker::Sync + 'static {
            #(#trait_methods)*
        }

        /// The poem-openapi glue: routes each operation to [`Handlers`].
        pub struct Api<H>(pub ::std::sync::Arc<H>);

        #[::poem_openapi::OpenApi]
        impl<H: Handlers> Api<H> {
            #(#api_methods)*
        }

        #service
    }
}

/// One doc attribute for the whole text: poem-openapi trims each doc attribute, so one per
/// line would lose indentation.
fn doc_attr(text: Option<&str>) -> TokenStream {
    match text.map(str::trim_end) {
        Some(text) if !text.is_empty() => {
            let text = format!(" {text}");
            quote!(#[doc = #text])
        }
        _ => TokenStream::new(),
    }
}

/// Doc attributes for rustdoc alone (poem-openapi never reads them): one per line.
fn rust_docs(text: &str) -> TokenStream {
    let lines = text.trim_end().lines().map(|line| match line {
        "" => String::new(),
        line => format!(" {line}"),
    });
    quote!(#(#[doc = #lines])*)
}

/// `#[oai(...)]` with the given arguments, or nothing.
fn oai(args: &[TokenStream]) -> TokenStream {
    if args.is_empty() {
        TokenStream::new()
    } else {
        quote!(#[oai(#(#args),*)])
    }
}

/// `rename = "…"` when poem-openapi's default name (the identifier) is not the document's.
fn rename(ident: &Ident, name: &str) -> Option<TokenStream> {
    (unraw(ident) != name).then(|| quote!(rename = #name))
}

fn object(o: &ir::Object) -> TokenStream {
    let doc = doc_attr(o.doc.as_deref());
    let (ident, name) = (&o.ident, &o.name);
    let deprecated = o.deprecated.then(|| quote!(, deprecated));
    let fields = o.fields.iter().map(field);
    quote! {
        #doc
        #[derive(Clone, Debug, ::poem_openapi::Object)]
        #[oai(rename = #name #deprecated)]
        pub struct #ident {
            #(#fields,)*
        }
    }
}

fn field(f: &ir::Field) -> TokenStream {
    let doc = doc_attr(f.doc.as_deref());
    let args: Vec<_> = [
        rename(&f.ident, &f.name),
        f.deprecated.then(|| quote!(deprecated)),
        (!f.required).then(|| quote!(skip_serializing_if_is_none)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let oai = oai(&args);
    let (ident, ty) = (&f.ident, f.ty.optional(f.required));
    quote! { #doc #oai pub #ident: #ty }
}

fn string_enum(e: &ir::Enum) -> TokenStream {
    let doc = doc_attr(e.doc.as_deref());
    let (ident, name) = (&e.ident, &e.name);
    let deprecated = e.deprecated.then(|| quote!(, deprecated));
    let variants = e.values.iter().map(|(value, variant)| {
        let oai = oai(&rename(variant, value).into_iter().collect::<Vec<_>>());
        quote! { #oai #variant }
    });
    quote! {
        #doc
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ::poem_openapi::Enum)]
        #[oai(rename = #name #deprecated)]
        pub enum #ident {
            #(#variants,)*
        }
    }
}

// No Debug: it would print the password or token.
fn scheme(s: &ir::Scheme) -> TokenStream {
    let doc = doc_attr(s.doc.as_deref());
    let (ident, name) = (&s.ident, &s.name);
    let (args, inner) = match &s.kind {
        ir::SchemeKind::Basic => (quote!(ty = "basic"), quote!(::poem_openapi::auth::Basic)),
        ir::SchemeKind::Bearer { format } => {
            let format = format.as_ref().map(|f| quote!(, bearer_format = #f));
            (
                quote!(ty = "bearer" #format),
                quote!(::poem_openapi::auth::Bearer),
            )
        }
    };
    quote! {
        #doc
        #[derive(::poem_openapi::SecurityScheme)]
        #[oai(rename = #name, #args)]
        pub struct #ident(pub #inner);
    }
}

fn alternatives(a: &ir::Alternatives) -> TokenStream {
    let ident = &a.ident;
    let schemes = &a.schemes;
    quote! {
        /// Any one of these security schemes.
        #[derive(::poem_openapi::SecurityScheme)]
        pub enum #ident {
            #(#schemes(#schemes),)*
        }
    }
}

/// The public response enum that handlers return: a variant per declared status, with named
/// fields `body` (the JSON body, or a [`StreamedBody`]) and one per header (the header's name in snake_case).
fn response(r: &ir::Response) -> TokenStream {
    let ident = &r.ident;
    let variants = r.variants.iter().map(|v| {
        let doc = rust_docs(&format!("HTTP {}: {}", v.status, v.doc.trim()));
        let variant = &v.ident;
        let body = v.body.as_ref().map(|payload| match payload {
            ir::Payload::Json(ty) => quote!(body: #ty),
            ir::Payload::Streamed(_) => quote!(body: StreamedBody),
        });
        let headers = v.headers.iter().map(|h| {
            let doc = match h.doc.as_deref().map(str::trim) {
                Some(doc) if !doc.is_empty() => format!("The `{}` header: {doc}", h.name),
                _ => format!("The `{}` header.", h.name),
            };
            let doc = match h.deprecated {
                true => format!("{doc} Deprecated."),
                false => doc,
            };
            let doc = rust_docs(&doc);
            let (field, ty) = (&h.ident, h.ty.optional(h.required));
            quote! { #doc #field: #ty }
        });
        let fields: Vec<_> = body.into_iter().chain(headers).collect();
        let fields = (!fields.is_empty()).then(|| quote!({ #(#fields),* }));
        quote! { #doc #variant #fields }
    });
    let doc = format!(
        " The responses of `{}`: exactly the statuses the document declares.",
        r.operation_id
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug)]
        pub enum #ident {
            #(#variants,)*
        }
    }
}

/// poem-openapi's twin of a response enum, with tuple variants (all its `ApiResponse` derive
/// takes) carrying the document's descriptions, and the conversion from the public enum.
fn poem_response(r: &ir::Response) -> TokenStream {
    let ident = &r.ident;
    let variants = r.variants.iter().map(|v| {
        let doc = doc_attr(Some(v.doc.as_str()));
        let variant = &v.ident;
        let status = proc_macro2::Literal::u16_unsuffixed(v.status);
        let body = v.body.as_ref().map(|payload| match payload {
            ir::Payload::Json(ty) => quote!(::poem_openapi::payload::Json<#ty>),
            ir::Payload::Streamed(_) => {
                let payload = streamed_payload_ident(r, v);
                quote!(#payload)
            }
        });
        let headers = v.headers.iter().map(|h| {
            let doc = doc_attr(h.doc.as_deref());
            let name = &h.name;
            let deprecated = h.deprecated.then(|| quote!(, deprecated));
            let ty = h.ty.optional(h.required);
            quote! { #doc #[oai(header = #name #deprecated)] #ty }
        });
        let fields: Vec<_> = body.into_iter().chain(headers).collect();
        let fields = (!fields.is_empty()).then(|| quote!((#(#fields),*)));
        quote! {
            #doc
            #[oai(status = #status)]
            #variant #fields
        }
    });
    let arms = r.variants.iter().map(|v| {
        let variant = &v.ident;
        let body = v.body.as_ref().map(|_| quote!(body));
        let headers: Vec<&Ident> = v.headers.iter().map(|h| &h.ident).collect();
        let fields: Vec<TokenStream> = body
            .iter()
            .cloned()
            .chain(headers.iter().map(|h| quote!(#h)))
            .collect();
        let wrapped = v
            .body
            .iter()
            .map(|payload| match payload {
                ir::Payload::Json(_) => quote!(::poem_openapi::payload::Json(body)),
                ir::Payload::Streamed(_) => {
                    let payload = streamed_payload_ident(r, v);
                    quote!(#payload(body))
                }
            })
            .chain(headers.iter().map(|h| quote!(#h)));
        match fields.is_empty() {
            true => quote! { super::#ident::#variant => Self::#variant },
            false => quote! {
                super::#ident::#variant { #(#fields),* } => Self::#variant(#(#wrapped),*)
            },
        }
    });
    let payloads = r.variants.iter().filter_map(|v| match &v.body {
        Some(ir::Payload::Streamed(media_types)) => Some(streamed_payload(r, v, media_types)),
        _ => None,
    });
    let checked = streams_body(r).then(|| checked(r));
    quote! {
        #[derive(::poem_openapi::ApiResponse)]
        pub(super) enum #ident {
            #(#variants,)*
        }

        #(#payloads)*
        #checked

        impl ::std::convert::From<super::#ident> for #ident {
            fn from(response: super::#ident) -> Self {
                match response {
                    #(#arms,)*
                }
            }
        }
    }
}

/// The poem-openapi twins of all response enums, in a module of their own so that they can
/// keep the public enums' names (which poem-openapi never serves).
fn poem_responses(operations: &[ir::Operation]) -> TokenStream {
    if operations.is_empty() {
        return TokenStream::new();
    }
    let responses = operations.iter().map(|op| poem_response(&op.response));
    let declares = streams(operations).then(declares);
    quote! {
        /// poem-openapi's form of the response enums: `#[derive(ApiResponse)]` takes tuple
        /// variants only, so [`Api`] converts each handler's answer into its twin here.
        mod poem_responses {
            #[allow(unused_imports)]
            use super::*;

            #(#responses)*
            #declares
        }
    }
}

/// Whether some operation streams a body.
fn streams(operations: &[ir::Operation]) -> bool {
    operations.iter().any(|op| streams_body(&op.response))
}

/// Whether a response streams a body for some status.
fn streams_body(r: &ir::Response) -> bool {
    r.variants
        .iter()
        .any(|v| matches!(v.body, Some(ir::Payload::Streamed(_))))
}

fn streamed_body() -> TokenStream {
    quote! {
        /// A body streamed in one of the media types its response declares; the handler chooses
        /// which (e.g. from the request's `Accept`).
        pub struct StreamedBody {
            /// The `Content-Type` sent, e.g. `text/csv; charset=utf-8` (must be one the response declares, parameters allowed).
            pub content_type: ::std::string::String,
            pub body: ::poem::Body,
        }

        // The body is a stream: only its type can be shown.
        impl ::std::fmt::Debug for StreamedBody {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("StreamedBody")
                    .field("content_type", &self.content_type)
                    .finish_non_exhaustive()
            }
        }
    }
}

/// Whether a handler's `Content-Type` is one of the response's `media_types` (parameters
/// allowed) and can be sent as a header.
fn declares() -> TokenStream {
    quote! {
        /// Whether `content_type` is one of `media_types`, parameters allowed, and a valid
        /// header value.
        fn declares(media_types: &[&str], content_type: &str) -> bool {
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            media_types.iter().any(|m| m.eq_ignore_ascii_case(essence))
                && ::poem::http::HeaderValue::from_str(content_type).is_ok()
        }
    }
}

/// The twin's conversion for an operation that streams: poem-openapi's derive sets the
/// variant's status after the payload's `into_response`, so a type the response does not
/// declare (the handler's bug; the client was promised one of them) is refused here, as a 500.
fn checked(r: &ir::Response) -> TokenStream {
    let ident = &r.ident;
    let arms = r.variants.iter().filter_map(|v| {
        let Some(ir::Payload::Streamed(_)) = &v.body else {
            return None;
        };
        let (variant, payload) = (&v.ident, streamed_payload_ident(r, v));
        Some(quote! {
            super::#ident::#variant { body, .. } if !declares(#payload::MEDIA_TYPES, &body.content_type) => {
                ::std::result::Result::Err(::poem::Error::from_status(
                    ::poem::http::StatusCode::INTERNAL_SERVER_ERROR,
                ))
            }
        })
    });
    quote! {
        impl #ident {
            /// The twin of the handler's answer, unless it streams a type its response does
            /// not declare.
            pub(super) fn checked(response: super::#ident) -> ::poem::Result<Self> {
                match response {
                    #(#arms)*
                    response => ::std::result::Result::Ok(response.into()),
                }
            }
        }
    }
}

/// The payload type of a streamed variant in the twin: `Payload` has one `CONTENT_TYPE`, so
/// each such variant gets its own.
fn streamed_payload_ident(r: &ir::Response, v: &ir::Variant) -> Ident {
    quote::format_ident!("{}{}Body", r.ident, v.ident)
}

/// poem-openapi's derive needs `ResponseContent` (the meta: every declared media type, each
/// `{type: string}`, so the served document says what openapi.yaml says) and `IntoResponse`,
/// which streams the body as it comes.
fn streamed_payload(r: &ir::Response, v: &ir::Variant, media_types: &[String]) -> TokenStream {
    let ident = streamed_payload_ident(r, v);
    let doc = format!(
        " The streamed body of `{}`'s {}: {}.",
        r.operation_id,
        v.status,
        media_types
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    quote! {
        #[doc = #doc]
        pub(super) struct #ident(super::StreamedBody);

        impl #ident {
            const MEDIA_TYPES: &'static [&'static str] = &[#(#media_types),*];
        }

        impl ::poem_openapi::ResponseContent for #ident {
            fn media_types() -> ::std::vec::Vec<::poem_openapi::registry::MetaMediaType> {
                Self::MEDIA_TYPES
                    .iter()
                    .map(|content_type| ::poem_openapi::registry::MetaMediaType {
                        content_type,
                        schema: ::poem_openapi::registry::MetaSchemaRef::Inline(
                            ::std::boxed::Box::new(::poem_openapi::registry::MetaSchema::new("string")),
                        ),
                    })
                    .collect()
            }
        }

        impl ::poem::IntoResponse for #ident {
            // `checked` let only a declared, valid type through.
            fn into_response(self) -> ::poem::Response {
                ::poem::Response::builder()
                    .content_type(&self.0.content_type)
                    .body(self.0.body)
            }
        }
    }
}

fn tags(tags: &[ir::Tag]) -> TokenStream {
    if tags.is_empty() {
        return TokenStream::new();
    }
    let variants = tags.iter().map(|t| {
        let doc = doc_attr(t.doc.as_deref());
        let oai = oai(&rename(&t.ident, &t.name).into_iter().collect::<Vec<_>>());
        let ident = &t.ident;
        quote! { #doc #oai #ident }
    });
    quote! {
        /// The document's tags.
        #[derive(::poem_openapi::Tags)]
        pub enum ApiTags {
            #(#variants,)*
        }
    }
}

fn trait_method(op: &ir::Operation) -> TokenStream {
    let doc = doc_attr(op.doc.as_deref());
    let (ident, response) = (&op.ident, &op.response.ident);
    let auth = op.auth.as_ref().map(|scheme| quote!(auth: #scheme,));
    let params = op.params.iter().map(|p| {
        let (ident, ty) = (&p.ident, p.ty.optional(p.required));
        quote!(#ident: #ty,)
    });
    let body = op.body.as_ref().map(|b| {
        let ty = &b.ty;
        quote!(body: #ty,)
    });
    quote! {
        #doc
        fn #ident(&self, req: &::poem::Request, #auth #(#params)* #body)
            -> impl ::std::future::Future<Output = #response> + ::std::marker::Send;
    }
}

fn api_method(op: &ir::Operation) -> TokenStream {
    let doc = doc_attr(op.doc.as_deref());
    let (ident, response) = (&op.ident, &op.response.ident);
    let (path, method, operation_id) = (&op.path, &op.method, &op.operation_id);
    let tags = op.tags.iter().map(|t| {
        let tag = format!("ApiTags::{t}");
        quote!(, tag = #tag)
    });
    let deprecated = op.deprecated.then(|| quote!(, deprecated));
    let auth = op.auth.as_ref().map(|scheme| quote!(auth: #scheme,));
    let auth_arg = op.auth.as_ref().map(|_| quote!(auth,));
    let params = op.params.iter().map(api_param);
    let param_args = op.params.iter().map(|p| {
        let ident = &p.ident;
        quote!(#ident.0,)
    });
    let body = op.body.as_ref().map(|b| {
        let doc = doc_attr(b.doc.as_deref());
        let ty = &b.ty;
        quote!(#doc body: ::poem_openapi::payload::Json<#ty>,)
    });
    let body_arg = op.body.as_ref().map(|_| quote!(body.0,));
    let call = quote!(self.0.#ident(req, #auth_arg #(#param_args)* #body_arg).await);
    // A streamed body's type is the handler's choice, checked before anything is sent.
    let (output, answer) = match streams_body(&op.response) {
        true => (
            quote!(::poem::Result<poem_responses::#response>),
            quote!(poem_responses::#response::checked(#call)),
        ),
        false => (quote!(poem_responses::#response), quote!(#call.into())),
    };
    quote! {
        #doc
        #[oai(path = #path, method = #method, operation_id = #operation_id #(#tags)* #deprecated)]
        async fn #ident(&self, req: &::poem::Request, #auth #(#params)* #body) -> #output {
            #answer
        }
    }
}

fn api_param(p: &ir::Param) -> TokenStream {
    let doc = doc_attr(p.doc.as_deref());
    let name = &p.name;
    let deprecated = p.deprecated.then(|| quote!(, deprecated));
    let ident = &p.ident;
    let ty = p.ty.optional(p.required);
    let wrapper = match p.location {
        ParamIn::Path => quote!(::poem_openapi::param::Path),
        ParamIn::Query => quote!(::poem_openapi::param::Query),
        ParamIn::Header => quote!(::poem_openapi::param::Header),
    };
    quote! { #doc #[oai(name = #name #deprecated)] #ident: #wrapper<#ty>, }
}

fn service(info: &ir::Info, servers: &[ir::Server]) -> TokenStream {
    let (title, version) = (&info.title, &info.version);
    let description = info.description.as_ref().map(|d| quote!(.description(#d)));
    let terms = info
        .terms_of_service
        .as_ref()
        .map(|t| quote!(.terms_of_service(#t)));
    let contact = info.contact.as_ref().map(|c| {
        let name = c.name.as_ref().map(|n| quote!(.name(#n)));
        let url = c.url.as_ref().map(|u| quote!(.url(#u)));
        let email = c.email.as_ref().map(|e| quote!(.email(#e)));
        quote!(.contact(::poem_openapi::ContactObject::new() #name #url #email))
    });
    let license = info.license.as_ref().map(|l| {
        let name = &l.name;
        let url = l.url.as_ref().map(|u| quote!(.url(#u)));
        quote!(.license(::poem_openapi::LicenseObject::new(#name) #url))
    });
    let external_docs = info.external_docs.as_ref().map(|d| {
        let url = &d.url;
        let description = d.description.as_ref().map(|t| quote!(.description(#t)));
        quote!(.external_document(::poem_openapi::ExternalDocumentObject::new(#url) #description))
    });
    let servers = servers.iter().map(|s| {
        let url = &s.url;
        let description = s.description.as_ref().map(|d| quote!(.description(#d)));
        quote!(.server(::poem_openapi::ServerObject::new(#url) #description))
    });
    quote! {
        /// The API as a poem endpoint, with the document's title, version and description.
        pub fn service<H: Handlers>(handlers: ::std::sync::Arc<H>) -> ::poem_openapi::OpenApiService<Api<H>, ()> {
            ::poem_openapi::OpenApiService::new(Api(handlers), #title, #version)
                #description #terms #contact #license #external_docs #(#servers)*
        }
    }
}
