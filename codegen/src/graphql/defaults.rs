//! Turns an SDL default value into the Rust expression that async-graphql's `default_with`
//! evaluates, checking it against the argument's or input field's type on the way.
//!
//! async-graphql prints a default by converting the Rust value back to GraphQL, so the
//! expression must build exactly the value the SDL wrote.

use std::collections::HashMap;

use async_graphql_parser::types::{BaseType, InputObjectType, InputValueDefinition, Type};
// The parser's value type is not exported; its serde form is walked instead.
use serde_norway::{Mapping, Value as Literal};

use super::model::{Catalog, Named};
use super::names;

/// The Rust expression for `def`'s default value, if it has one. `site` names `def` in errors.
pub(super) fn rust_default(
    catalog: &Catalog,
    def: &InputValueDefinition,
    boxed: bool,
    site: &str,
) -> Result<Option<String>, String> {
    Converter {
        catalog,
        active: Vec::new(),
    }
    .default_of(def, boxed, site)
}

struct Converter<'c, 'd> {
    catalog: &'c Catalog<'d>,
    /// Sites whose defaults are being converted, to catch an input default that needs itself.
    active: Vec<String>,
}

/// A string-like value in a literal: a quoted string or a bare enum value.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Quoted,
    Bare,
}

impl Converter<'_, '_> {
    fn default_of(
        &mut self,
        def: &InputValueDefinition,
        boxed: bool,
        site: &str,
    ) -> Result<Option<String>, String> {
        let Some(value) = &def.default_value else {
            return Ok(None);
        };
        let text = value.node.to_string();
        let invalid = |reason: String| format!("invalid default value {text} for {site}: {reason}");
        if self.active.iter().any(|active| active == site) {
            return Err(invalid("the default needs itself".to_owned()));
        }
        self.active.push(site.to_owned());
        let literal = serde_norway::to_value(&value.node).map_err(|e| invalid(e.to_string()))?;
        let mut expected = Vec::new();
        let expr = self
            .expr(&literal, &def.ty.node, boxed, &mut expected)
            .map_err(invalid)?;
        // serde turns enum values into strings; the literal's text still tells them apart.
        for ((token, ty), found) in expected.iter().zip(tokens(&text)) {
            if *token != found {
                return Err(invalid(match token {
                    Token::Bare => format!("`{ty}` takes an enum value, not a string"),
                    Token::Quoted => format!("`{ty}` takes a string, not an enum value"),
                }));
            }
        }
        self.active.pop();
        Ok(Some(expr))
    }

    /// `expected` collects, in literal order, the token each string-like value must be.
    fn expr(
        &mut self,
        literal: &Literal,
        ty: &Type,
        boxed: bool,
        expected: &mut Vec<(Token, String)>,
    ) -> Result<String, String> {
        if let Literal::Null = literal {
            return match ty.nullable {
                true => Ok("None".to_owned()),
                false => Err(format!("null is not a `{ty}`")),
            };
        }
        let value = match &ty.base {
            BaseType::List(item_type) => {
                // Input coercion: a single value stands for a one-item list.
                let items = match literal {
                    Literal::Sequence(items) => items.iter().collect(),
                    single => vec![single],
                };
                let items = items
                    .into_iter()
                    .map(|item| self.expr(item, item_type, false, expected))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("vec![{}]", items.join(", "))
            }
            BaseType::Named(name) if boxed => {
                format!("Box::new({})", self.named(literal, name, expected)?)
            }
            BaseType::Named(name) => self.named(literal, name, expected)?,
        };
        Ok(if ty.nullable {
            format!("Some({value})")
        } else {
            value
        })
    }

    fn named(
        &mut self,
        literal: &Literal,
        name: &str,
        expected: &mut Vec<(Token, String)>,
    ) -> Result<String, String> {
        let rust_type = names::type_name(name);
        match (self.catalog.named(name), literal) {
            (Named::Builtin, _) => builtin(name, literal, expected),
            (Named::Scalar, Literal::String(s)) => {
                expected.push((Token::Quoted, name.to_owned()));
                Ok(format!("{rust_type}(String::from({s:?}))"))
            }
            (Named::Enum(e), Literal::String(s))
                if e.values.iter().any(|v| v.node.value.node == *s) =>
            {
                expected.push((Token::Bare, name.to_owned()));
                Ok(format!("{rust_type}::{}", names::variant(s)))
            }
            (Named::Enum(_), _) => Err(format!("expected a value of enum `{name}`")),
            (Named::Input(input), Literal::Mapping(fields)) => {
                self.input_object(name, input, fields, expected)
            }
            _ => Err(format!("expected a `{name}`")),
        }
    }

    /// A struct literal naming every field: the given ones, else the field's own default, else
    /// `None`.
    fn input_object(
        &mut self,
        name: &str,
        input: &InputObjectType,
        given: &Mapping,
        expected: &mut Vec<(Token, String)>,
    ) -> Result<String, String> {
        let mut values = HashMap::new();
        for (key, literal) in given {
            let key = key.as_str().unwrap_or_default();
            let field = input
                .fields
                .iter()
                .find(|f| f.node.name.node == key)
                .ok_or_else(|| format!("`{name}` has no field `{key}`"))?;
            let boxed = self.catalog.is_boxed(name, key);
            values.insert(
                key,
                self.expr(literal, &field.node.ty.node, boxed, expected)?,
            );
        }
        let mut fields = Vec::new();
        for field in &input.fields {
            let field = &field.node;
            let field_name = field.name.node.as_str();
            let value = match values.remove(field_name) {
                Some(value) => value,
                None => self.missing_field(name, field)?,
            };
            fields.push(format!("{}: {value}", names::field(field_name)));
        }
        Ok(format!(
            "{} {{ {} }}",
            names::type_name(name),
            fields.join(", ")
        ))
    }

    fn missing_field(
        &mut self,
        owner: &str,
        field: &InputValueDefinition,
    ) -> Result<String, String> {
        let name = field.name.node.as_str();
        let site = format!("input field `{owner}.{name}`");
        match self.default_of(field, self.catalog.is_boxed(owner, name), &site)? {
            Some(default) => Ok(default),
            None if field.ty.node.nullable => Ok("None".to_owned()),
            None => Err(format!(
                "the required field `{name}` of `{owner}` is missing"
            )),
        }
    }
}

fn builtin(
    name: &str,
    literal: &Literal,
    expected: &mut Vec<(Token, String)>,
) -> Result<String, String> {
    let int = |literal: &Literal| match literal {
        Literal::Number(n) if !n.is_f64() => n.as_i64().and_then(|i| i32::try_from(i).ok()),
        _ => None,
    };
    match (name, literal) {
        ("Int", _) => int(literal)
            .map(|i| i.to_string())
            .ok_or_else(|| "expected an `Int` (a 32-bit integer)".to_owned()),
        ("Float", Literal::Number(n)) => Ok(format!("{:?}", n.as_f64().unwrap_or_default())),
        ("Boolean", Literal::Bool(b)) => Ok(b.to_string()),
        ("String", Literal::String(s)) => {
            expected.push((Token::Quoted, name.to_owned()));
            Ok(format!("String::from({s:?})"))
        }
        ("ID", Literal::String(s)) => {
            expected.push((Token::Quoted, name.to_owned()));
            Ok(format!("::async_graphql::ID::from({s:?})"))
        }
        ("ID", Literal::Number(n)) if !n.is_f64() => {
            Ok(format!("::async_graphql::ID::from({:?})", n.to_string()))
        }
        _ => Err(format!("expected a `{name}`")),
    }
}

/// The quoted strings and bare enum values of a GraphQL literal's text, in order (object keys,
/// numbers, `true`, `false` and `null` are skipped).
fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => _ = chars.next(),
                    '"' => break,
                    _ => {}
                }
            }
            tokens.push(Token::Quoted);
        } else if c.is_alphanumeric() || c == '_' || c == '-' {
            let mut word = String::from(c);
            while let Some(&c) = chars.peek()
                && (c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'))
            {
                word.push(c);
                chars.next();
            }
            let is_key = chars.peek() == Some(&':');
            let is_name = c.is_alphabetic() || c == '_';
            if is_name && !is_key && !matches!(word.as_str(), "true" | "false" | "null") {
                tokens.push(Token::Bare);
            }
        }
    }
    tokens
}
