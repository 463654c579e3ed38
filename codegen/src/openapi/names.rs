//! Rust names for the document's names.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// A type or variant name: `basicAuth` → `BasicAuth`.
pub fn type_ident(name: &str) -> Ident {
    ident(&name.to_upper_camel_case())
}

/// A field, method or argument name: `createToken` → `create_token`.
pub fn value_ident(name: &str) -> Ident {
    ident(&name.to_snake_case())
}

fn ident(name: &str) -> Ident {
    let name = match name.chars().next() {
        Some(c) if c.is_alphabetic() || c == '_' => name.to_owned(),
        _ => format!("_{name}"),
    };
    if syn::parse_str::<Ident>(&name).is_ok() {
        return Ident::new(&name, Span::call_site());
    }
    // A keyword: most can be raw identifiers, the path keywords cannot.
    match name.as_str() {
        "self" | "Self" | "super" | "crate" | "_" => {
            Ident::new(&format!("{name}_"), Span::call_site())
        }
        _ => Ident::new_raw(&name, Span::call_site()),
    }
}

/// The name the document uses for an identifier, without a raw prefix.
pub fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

/// The response variant for a status code.
pub fn status_variant(status: u16) -> Ident {
    let name = match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        503 => "ServiceUnavailable",
        _ => return Ident::new(&format!("Status{status}"), Span::call_site()),
    };
    Ident::new(name, Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rust_conventions() {
        assert_eq!(type_ident("basicAuth").to_string(), "BasicAuth");
        assert_eq!(type_ident("Token").to_string(), "Token");
        assert_eq!(value_ident("createToken").to_string(), "create_token");
        assert_eq!(value_ident("X-Request-Id").to_string(), "x_request_id");
        assert_eq!(value_ident("type").to_string(), "r#type");
        assert_eq!(value_ident("self").to_string(), "self_");
        assert_eq!(value_ident("2fa").to_string(), "_2fa");
        assert_eq!(unraw(&value_ident("type")), "type");
        assert_eq!(status_variant(429).to_string(), "TooManyRequests");
        assert_eq!(status_variant(418).to_string(), "Status418");
    }
}
