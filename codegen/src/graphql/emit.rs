//! Renders the checked model as Rust for async-graphql 7.2 (paths fully qualified, so the
//! output can be `include!`d into any module).

use async_graphql_parser::types::{BaseType, Type};
use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::quote;

use super::model::{Deprecation, EnumValue, Field, InputValue, Kind, Schema, TypeDef};
use super::names::{self, ident};

pub(super) fn emit(schema: &Schema) -> TokenStream {
    let types = schema.types.iter().map(|def| match &def.kind {
        Kind::Root(fields) => root(def, fields),
        Kind::Subscription(fields) => subscription(def, fields),
        Kind::Object(fields) => object(def, fields),
        Kind::Enum(values) => enumeration(def, values),
        Kind::Input(fields) => input(def, fields),
        Kind::Scalar { specified_by } => scalar(def, specified_by.as_deref()),
    });
    let glue = schema_glue(schema);
    quote! { #(#types)* #glue }
}

/// The root type: its resolver trait, and an object generic over the trait's implementation.
fn root(def: &TypeDef, fields: &[Field]) -> TokenStream {
    let name = &def.name;
    let ty = type_ident(name);
    let resolvers = ident(&names::resolvers_trait(name));
    let type_docs = docs(def.description.as_deref());
    let all_fields: Vec<&Field> = fields.iter().collect();
    let resolvers_trait = resolvers_trait(
        name,
        &all_fields,
        None,
        &format!(" Resolvers for the root type `{name}`."),
        Output::Value,
    );
    let methods = fields.iter().map(|field| {
        let (method, call) = (field_ident(&field.name), call_args(&field.args));
        resolver_glue(
            field,
            quote!({ #resolvers::#method(&*self.0, ctx, #(#call),*).await }),
        )
    });
    let struct_doc = format!(" The root type `{name}`, resolved by `R`'s [`{resolvers}`].");
    quote! {
        #resolvers_trait
        #[doc = #struct_doc]
        pub struct #ty<R>(pub ::std::sync::Arc<R>);
        #type_docs
        #[::async_graphql::Object(name = #name)]
        impl<R: #resolvers> #ty<R> {
            #(#methods)*
        }
    }
}

/// The subscription root: its resolver trait, whose methods open streams, and an object
/// generic over the trait's implementation.
fn subscription(def: &TypeDef, fields: &[Field]) -> TokenStream {
    let name = &def.name;
    let ty = type_ident(name);
    let resolvers = ident(&names::resolvers_trait(name));
    let type_docs = docs(def.description.as_deref());
    let all_fields: Vec<&Field> = fields.iter().collect();
    let resolvers_trait = resolvers_trait(
        name,
        &all_fields,
        None,
        &format!(
            " Resolvers for the root type `{name}`: each method opens the stream of its field's\n \
             values. An error from the method refuses the subscription; an error in the stream\n \
             is that event's error, and the stream goes on."
        ),
        Output::Stream,
    );
    let methods = fields
        .iter()
        .map(|field| subscription_glue(&resolvers, field));
    let struct_doc = format!(" The root type `{name}`, resolved by `R`'s [`{resolvers}`].");
    quote! {
        #resolvers_trait
        #[doc = #struct_doc]
        pub struct #ty<R>(pub ::std::sync::Arc<R>);
        #type_docs
        #[::async_graphql::Subscription(name = #name)]
        impl<R: #resolvers> #ty<R> {
            #(#methods)*
        }
    }
}

/// A subscription field's async-graphql method: opens the resolver's stream. Its items are
/// `Result`s, which async-graphql resolves one event each, so an error ends neither the
/// stream nor the subscription.
fn subscription_glue(resolvers: &proc_macro2::Ident, field: &Field) -> TokenStream {
    let docs = docs(field.description.as_deref());
    let attr = graphql_attr(&field.name, &field.deprecation, Vec::new());
    let (method, call) = (field_ident(&field.name), call_args(&field.args));
    let output = rust_type(&field.ty, false);
    let allow = allow_many_arguments(field);
    let args = glue_args(field);
    let open = quote!(#resolvers::#method(&*self.0, ctx, #(#call),*).await);
    // As for a query's field: a failing nullable field is null with an error beside it, in the
    // event whose value failed (async-graphql moves the errors added while an item is made
    // into that item's response). A failing non-null field leaves the event's `data` null.
    let body = if field.ty.nullable {
        quote! {{
            let stream = #open?;
            Ok(::async_graphql::futures_util::StreamExt::map(stream, move |item| {
                item.or_else(|error| {
                    ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
                    Ok(None)
                })
            }))
        }}
    } else {
        quote!({ #open })
    };
    // `impl Stream` as the only bound: the macro reads the item type from the last bound.
    quote! {
        #docs
        #attr
        #allow
        async fn #method(&self, ctx: &::async_graphql::Context<'_>, #(#args),*)
            -> ::async_graphql::Result<impl ::async_graphql::futures_util::Stream<Item = ::async_graphql::Result<#output>>>
            #body
    }
}

/// A subscription resolver's stream of `ty` values: boxed, so that any stream will do, and
/// `'static`, as it outlives the call that opened it.
fn event_stream(ty: &Type) -> TokenStream {
    let output = rust_type(ty, false);
    quote!(::async_graphql::futures_util::stream::BoxStream<'static, ::async_graphql::Result<#output>>)
}

/// An object type: a struct of the fields it holds. If some fields are resolved (they take
/// arguments or are resolved by hand), a trait resolves those, whose implementation the schema
/// data holds.
fn object(def: &TypeDef, fields: &[Field]) -> TokenStream {
    let resolved: Vec<&Field> = fields.iter().filter(|f| f.resolved).collect();
    if resolved.is_empty() {
        return simple_object(def, fields);
    }
    let name = &def.name;
    let ty = type_ident(name);
    let type_docs = docs(def.description.as_deref());
    let allow = allow_naming(name);
    let struct_fields = fields.iter().filter(|f| !f.resolved).map(|field| {
        let docs = docs(field.description.as_deref());
        let (id, field_ty) = (field_ident(&field.name), rust_type(&field.ty, field.boxed));
        quote! { #docs pub #id: #field_ty }
    });
    let trait_doc = format!(
        " Resolvers for the fields of `{name}` that take arguments or are resolved by hand."
    );
    let resolvers_trait = resolvers_trait(name, &resolved, Some(&ty), &trait_doc, Output::Value);
    let erased_trait = erased_trait(name, &resolved);
    // One `#[Object]` impl for all fields rather than SimpleObject + ComplexObject: that keeps
    // the SDL's field order (ComplexObject fields would come last) and allows a type whose
    // fields all take arguments (SimpleObject rejects a struct with no fields).
    let methods = fields.iter().map(|field| match field.resolved {
        false => getter(field),
        true => erased_call(name, field),
    });
    quote! {
        #type_docs
        #allow
        #[derive(Clone, Debug)]
        pub struct #ty { #(#struct_fields),* }
        #resolvers_trait
        #erased_trait
        #type_docs
        #[::async_graphql::Object(name = #name)]
        impl #ty {
            #(#methods)*
        }
    }
}

/// An object type whose fields are all struct fields: a struct deriving SimpleObject.
fn simple_object(def: &TypeDef, fields: &[Field]) -> TokenStream {
    let name = &def.name;
    let ty = type_ident(name);
    let type_docs = docs(def.description.as_deref());
    let allow = allow_naming(name);
    let fields = fields.iter().map(|field| {
        let docs = docs(field.description.as_deref());
        let attr = graphql_attr(&field.name, &field.deprecation, Vec::new());
        let (id, field_ty) = (field_ident(&field.name), rust_type(&field.ty, field.boxed));
        quote! { #docs #attr pub #id: #field_ty }
    });
    quote! {
        #type_docs
        #allow
        #[derive(Clone, Debug, ::async_graphql::SimpleObject)]
        #[graphql(name = #name)]
        pub struct #ty { #(#fields),* }
    }
}

/// What a resolver method's future yields: the field's value, or a stream of its values.
#[derive(Clone, Copy)]
enum Output {
    Value,
    Stream,
}

/// `pub trait <Type>Resolvers`: one method per field, given `parent` outside the roots.
fn resolvers_trait(
    owner: &str,
    fields: &[&Field],
    parent: Option<&proc_macro2::Ident>,
    doc: &str,
    output: Output,
) -> TokenStream {
    let resolvers = ident(&names::resolvers_trait(owner));
    let parent = parent.map(|ty| quote!(parent: &#ty,));
    let methods = fields.iter().map(|field| {
        let docs = docs(field.description.as_deref());
        let (method, params) = (field_ident(&field.name), params(&field.args));
        let output = match output {
            Output::Value => rust_type(&field.ty, false),
            Output::Stream => event_stream(&field.ty),
        };
        let allow = allow_many_arguments(field);
        quote! {
            #docs
            #allow
            fn #method(&self, ctx: &::async_graphql::Context<'_>, #parent #(#params),*)
                -> impl ::std::future::Future<Output = ::async_graphql::Result<#output>> + Send;
        }
    });
    let doc = doc.lines();
    quote! {
        #(#[doc = #doc])*
        pub trait #resolvers: Send + Sync + 'static {
            #(#methods)*
        }
    }
}

/// The object-safe form of an object's resolver trait: `schema_builder` stores the resolvers
/// as `Arc<dyn Erased…>` in the schema data, where the non-generic object's glue finds them.
fn erased_trait(owner: &str, fields: &[&Field]) -> TokenStream {
    let ty = type_ident(owner);
    let resolvers = ident(&names::resolvers_trait(owner));
    let erased = ident(&names::erased_trait(owner));
    let signatures: Vec<TokenStream> = fields
        .iter()
        .map(|field| {
            let (method, params, output) = (field_ident(&field.name), params(&field.args), rust_type(&field.ty, false));
            let allow = allow_many_arguments(field);
            quote! {
                #allow
                fn #method<'a>(&'a self, ctx: &'a ::async_graphql::Context<'_>, parent: &'a #ty, #(#params),*)
                    -> ::std::pin::Pin<Box<dyn ::std::future::Future<Output = ::async_graphql::Result<#output>> + Send + 'a>>
            }
        })
        .collect();
    let bodies = fields.iter().map(|field| {
        let (method, call) = (field_ident(&field.name), call_args(&field.args));
        quote!({ Box::pin(#resolvers::#method(self, ctx, parent, #(#call),*)) })
    });
    let doc =
        format!(" Object-safe [`{resolvers}`], kept in the schema data for `{owner}`'s fields.");
    quote! {
        #[doc = #doc]
        trait #erased: Send + Sync + 'static {
            #(#signatures;)*
        }
        impl<R: #resolvers> #erased for R {
            #(#signatures #bodies)*
        }
    }
}

/// An object's resolved field: finds the resolvers in the schema data.
fn erased_call(owner: &str, field: &Field) -> TokenStream {
    let erased = ident(&names::erased_trait(owner));
    let (method, call) = (field_ident(&field.name), call_args(&field.args));
    resolver_glue(
        field,
        // No local binding: it could shadow an argument of the same name.
        quote! {{
            ctx.data::<::std::sync::Arc<dyn #erased>>()?
                .#method(ctx, self, #(#call),*)
                .await
        }},
    )
}

/// An async-graphql resolver method for `field` whose body is `body`.
fn resolver_glue(field: &Field, body: TokenStream) -> TokenStream {
    let docs = docs(field.description.as_deref());
    let attr = graphql_attr(&field.name, &field.deprecation, Vec::new());
    let (method, output) = (field_ident(&field.name), rust_type(&field.ty, false));
    let allow = allow_many_arguments(field);
    let args = glue_args(field);
    // A failing nullable field is null with an error beside it, as the GraphQL spec says;
    // async-graphql would otherwise drop the field and, for a lone root field, all of `data`.
    let body = if field.ty.nullable {
        quote! {{
            let result: ::async_graphql::Result<#output> = async move #body.await;
            result.or_else(|error| {
                ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
                Ok(None)
            })
        }}
    } else {
        body
    };
    quote! {
        #docs
        #attr
        #allow
        async fn #method(&self, ctx: &::async_graphql::Context<'_>, #(#args),*) -> ::async_graphql::Result<#output> #body
    }
}

/// The glue's parameters for `field`'s arguments, each with its SDL name, description and
/// default.
fn glue_args(field: &Field) -> Vec<TokenStream> {
    field
        .args
        .iter()
        .map(|arg| {
            let mut extra = Vec::new();
            if let Some(desc) = &arg.description {
                extra.push(quote!(desc = #desc));
            }
            if let Some(default) = &arg.default {
                extra.push(quote!(default_with = #default));
            }
            let attr = graphql_attr(&arg.name, &arg.deprecation, extra);
            let (id, ty) = (field_ident(&arg.name), rust_type(&arg.ty, arg.boxed));
            quote!(#attr #id: #ty)
        })
        .collect()
}

/// An object's struct field.
fn getter(field: &Field) -> TokenStream {
    let docs = docs(field.description.as_deref());
    let attr = graphql_attr(&field.name, &field.deprecation, Vec::new());
    let (id, ty) = (field_ident(&field.name), rust_type(&field.ty, field.boxed));
    quote! {
        #docs
        #attr
        async fn #id(&self) -> &#ty {
            &self.#id
        }
    }
}

fn enumeration(def: &TypeDef, values: &[EnumValue]) -> TokenStream {
    let (name, ty) = (&def.name, type_ident(&def.name));
    let type_docs = docs(def.description.as_deref());
    let allow = allow_naming(name);
    let variants = values.iter().map(|value| {
        let docs = docs(value.description.as_deref());
        let attr = graphql_attr(&value.name, &value.deprecation, Vec::new());
        let variant = ident(&names::variant(&value.name));
        quote! { #docs #attr #variant }
    });
    quote! {
        #type_docs
        #allow
        #[derive(::async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[graphql(name = #name)]
        pub enum #ty { #(#variants),* }
    }
}

fn input(def: &TypeDef, fields: &[InputValue]) -> TokenStream {
    let (name, ty) = (&def.name, type_ident(&def.name));
    let type_docs = docs(def.description.as_deref());
    let allow = allow_naming(name);
    let fields = fields.iter().map(|field| {
        let docs = docs(field.description.as_deref());
        let default = field.default.as_ref().map(|d| quote!(default_with = #d));
        let attr = graphql_attr(
            &field.name,
            &field.deprecation,
            default.into_iter().collect(),
        );
        let (id, field_ty) = (field_ident(&field.name), rust_type(&field.ty, field.boxed));
        quote! { #docs #attr pub #id: #field_ty }
    });
    quote! {
        #type_docs
        #allow
        #[derive(::async_graphql::InputObject, Clone, Debug)]
        #[graphql(name = #name)]
        pub struct #ty { #(#fields),* }
    }
}

/// A custom scalar: a string newtype that rejects every other GraphQL value.
fn scalar(def: &TypeDef, specified_by: Option<&str>) -> TokenStream {
    let (name, ty) = (&def.name, type_ident(&def.name));
    let type_docs = docs(def.description.as_deref());
    let allow = allow_naming(name);
    let specified_by = specified_by.map(|url| quote!(, specified_by_url = #url));
    quote! {
        #type_docs
        #allow
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct #ty(pub String);
        #type_docs
        #[::async_graphql::Scalar(name = #name #specified_by)]
        impl ::async_graphql::ScalarType for #ty {
            fn parse(value: ::async_graphql::Value) -> ::async_graphql::InputValueResult<Self> {
                match value {
                    ::async_graphql::Value::String(s) => Ok(Self(s)),
                    other => Err(::async_graphql::InputValueError::expected_type(other)),
                }
            }

            fn to_value(&self) -> ::async_graphql::Value {
                ::async_graphql::Value::String(self.0.clone())
            }
        }
    }
}

/// `Schema<R>` and `schema_builder`, whose bounds name every resolver trait.
fn schema_glue(schema: &Schema) -> TokenStream {
    let query = type_ident(&schema.query);
    let resolvers = quote!(::std::sync::Arc::clone(&resolvers));
    let (mutation_ty, mutation) = match &schema.mutation {
        Some(name) => {
            let ty = type_ident(name);
            (quote!(#ty<R>), quote!(#ty(#resolvers)))
        }
        None => (
            quote!(::async_graphql::EmptyMutation),
            quote!(::async_graphql::EmptyMutation),
        ),
    };
    let (subscription_ty, subscription) = match &schema.subscription {
        Some(name) => {
            let ty = type_ident(name);
            (quote!(#ty<R>), quote!(#ty(#resolvers)))
        }
        None => (
            quote!(::async_graphql::EmptySubscription),
            quote!(::async_graphql::EmptySubscription),
        ),
    };
    let mut bounds = Vec::new();
    let mut data = Vec::new();
    let mut registrations = Vec::new();
    for def in &schema.types {
        let ty = type_ident(&def.name);
        let trait_name = ident(&names::resolvers_trait(&def.name));
        match &def.kind {
            Kind::Root(_) | Kind::Subscription(_) => bounds.push(quote!(#trait_name)),
            Kind::Object(fields) if fields.iter().any(|f| f.resolved) => {
                let erased = ident(&names::erased_trait(&def.name));
                bounds.push(quote!(#trait_name));
                data.push(quote!(.data(#resolvers as ::std::sync::Arc<dyn #erased>)));
            }
            Kind::Input(_) => registrations.push(quote!(.register_input_type::<#ty>())),
            _ => {}
        }
        if matches!(
            def.kind,
            Kind::Object(_) | Kind::Enum(_) | Kind::Scalar { .. }
        ) {
            registrations.push(quote!(.register_output_type::<#ty>()));
        }
    }
    quote! {
        /// The schema: the root types with resolvers `R`.
        pub type Schema<R> = ::async_graphql::Schema<#query<R>, #mutation_ty, #subscription_ty>;

        /// Starts a schema whose resolvers are `resolvers` (the caller adds limits and data, then
        /// calls `.finish()`). Every type of the SDL is registered, used by a root field or not.
        pub fn schema_builder<R>(resolvers: ::std::sync::Arc<R>)
            -> ::async_graphql::SchemaBuilder<#query<R>, #mutation_ty, #subscription_ty>
        where
            R: #(#bounds)+*,
        {
            ::async_graphql::Schema::build(#query(#resolvers), #mutation, #subscription)
                #(#data)*
                #(#registrations)*
        }
    }
}

/// Resolver parameters `name: Type` for `args`.
fn params(args: &[InputValue]) -> Vec<TokenStream> {
    args.iter()
        .map(|arg| {
            let (id, ty) = (field_ident(&arg.name), rust_type(&arg.ty, arg.boxed));
            quote!(#id: #ty)
        })
        .collect()
}

fn call_args(args: &[InputValue]) -> Vec<proc_macro2::Ident> {
    args.iter().map(|arg| field_ident(&arg.name)).collect()
}

fn rust_type(ty: &Type, boxed: bool) -> TokenStream {
    let inner = match &ty.base {
        BaseType::List(item) => {
            let item = rust_type(item, false);
            quote!(Vec<#item>)
        }
        BaseType::Named(name) => {
            let named = named_type(name);
            if boxed { quote!(Box<#named>) } else { named }
        }
    };
    if ty.nullable {
        quote!(Option<#inner>)
    } else {
        inner
    }
}

fn named_type(name: &str) -> TokenStream {
    match name {
        "Int" => quote!(i32),
        "Float" => quote!(f64),
        "String" => quote!(String),
        "Boolean" => quote!(bool),
        "ID" => quote!(::async_graphql::ID),
        _ => {
            let ty = type_ident(name);
            quote!(#ty)
        }
    }
}

/// `#[graphql(name = "…", deprecation…, extra…)]`: every item carries its exact SDL name,
/// because async-graphql would otherwise rename it to camelCase.
fn graphql_attr(name: &str, deprecation: &Deprecation, extra: Vec<TokenStream>) -> TokenStream {
    let deprecation = match deprecation {
        None => None,
        Some(None) => Some(quote!(deprecation)),
        Some(Some(reason)) => Some(quote!(deprecation = #reason)),
    };
    let args = std::iter::once(quote!(name = #name))
        .chain(deprecation)
        .chain(extra);
    quote!(#[graphql(#(#args),*)])
}

/// Doc attributes carrying a description. async-graphql trims each doc attribute, so a
/// description with indented lines stays one attribute to keep its text exact.
fn docs(description: Option<&str>) -> TokenStream {
    let Some(description) = description else {
        return TokenStream::new();
    };
    if description.lines().all(|line| line == line.trim()) {
        let lines = description.lines().map(|line| match line {
            "" => String::new(),
            line => format!(" {line}"),
        });
        quote!(#(#[doc = #lines])*)
    } else {
        quote!(#[doc = #description])
    }
}

/// Rust type names are the SDL's; silence the lint for ones that are not UpperCamelCase.
fn allow_naming(name: &str) -> TokenStream {
    match name == name.to_upper_camel_case() {
        true => TokenStream::new(),
        false => quote!(#[allow(non_camel_case_types)]),
    }
}

/// Clippy's default limit is 7 parameters; resolvers add `self`, `ctx` and maybe `parent`.
fn allow_many_arguments(field: &Field) -> TokenStream {
    match field.args.len() + 3 > 7 {
        true => quote!(#[allow(clippy::too_many_arguments)]),
        false => TokenStream::new(),
    }
}

fn type_ident(name: &str) -> proc_macro2::Ident {
    ident(&names::type_name(name))
}

fn field_ident(name: &str) -> proc_macro2::Ident {
    ident(&names::field(name))
}
