//! Checks a parsed SDL document against what the generator supports and reduces it to the
//! small model that `emit` renders. Every rejection is a message naming the construct.

use std::collections::{HashMap, HashSet};

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{
    BaseType, ConstDirective, EnumType, FieldDefinition, InputObjectType, InputValueDefinition,
    SchemaDefinition, ServiceDocument, Type, TypeDefinition, TypeKind, TypeSystemDefinition,
};

use super::Config;
use super::defaults;
use super::names;

/// What the SDL describes, in SDL order, with every name and type checked.
pub(super) struct Schema {
    pub query: String,
    pub mutation: Option<String>,
    pub subscription: Option<String>,
    pub types: Vec<TypeDef>,
}

pub(super) struct TypeDef {
    pub name: String,
    pub description: Option<String>,
    pub kind: Kind,
}

pub(super) enum Kind {
    /// The query or mutation root: every field is resolved by the root's resolver trait.
    Root(Vec<Field>),
    /// The subscription root: every field is a stream of values that the root's resolver trait
    /// opens.
    Subscription(Vec<Field>),
    /// An object type: a struct of the fields it holds, plus a resolver trait for the others.
    Object(Vec<Field>),
    Enum(Vec<EnumValue>),
    Input(Vec<InputValue>),
    Scalar {
        specified_by: Option<String>,
    },
}

pub(super) struct Field {
    pub name: String,
    pub description: Option<String>,
    pub args: Vec<InputValue>,
    pub ty: Type,
    pub deprecation: Deprecation,
    /// A resolver method computes the field: every field of a root type, and of an object type
    /// those that take arguments or that [`Config::resolved_by_hand`] lists. The others are
    /// struct fields.
    pub resolved: bool,
    /// The struct holds this field's value in a `Box` because the types contain each other.
    pub boxed: bool,
}

/// An argument or an input-object field.
pub(super) struct InputValue {
    pub name: String,
    pub description: Option<String>,
    pub ty: Type,
    /// The SDL default as a Rust expression of the field's Rust type.
    pub default: Option<String>,
    pub deprecation: Deprecation,
    pub boxed: bool,
}

pub(super) struct EnumValue {
    pub name: String,
    pub description: Option<String>,
    pub deprecation: Deprecation,
}

/// `None`: not deprecated; `Some(None)`: `@deprecated`; `Some(Some(r))`: `@deprecated(reason: r)`.
pub(super) type Deprecation = Option<Option<String>>;

pub(super) const BUILTIN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];

/// What a type name refers to.
pub(super) enum Named<'d> {
    Builtin,
    Scalar,
    Enum(&'d EnumType),
    Object,
    Input(&'d InputObjectType),
    Root,
    Unknown,
}

/// The document's type definitions by name, its roots, and which struct fields need a `Box`.
pub(super) struct Catalog<'d> {
    defs: Vec<&'d TypeDefinition>,
    by_name: HashMap<&'d str, &'d TypeDefinition>,
    query: &'d str,
    mutation: Option<&'d str>,
    subscription: Option<&'d str>,
    /// Object fields without arguments that a resolver method computes.
    by_hand: HashSet<(&'d str, &'d str)>,
    boxed: HashSet<(&'d str, &'d str)>,
}

pub(super) fn build(doc: &ServiceDocument, config: &Config) -> Result<Schema, String> {
    let catalog = Catalog::new(doc, config)?;
    let types = catalog
        .defs
        .iter()
        .map(|def| catalog.type_def(def))
        .collect::<Result<_, _>>()?;
    Ok(Schema {
        query: catalog.query.to_owned(),
        mutation: catalog.mutation.map(str::to_owned),
        subscription: catalog.subscription.map(str::to_owned),
        types,
    })
}

pub(super) fn unsupported(construct: impl std::fmt::Display) -> String {
    format!("unsupported construct: {construct}")
}

impl<'d> Catalog<'d> {
    fn new(doc: &'d ServiceDocument, config: &Config) -> Result<Self, String> {
        let mut schema_def: Option<&SchemaDefinition> = None;
        let mut defs = Vec::new();
        for definition in &doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) if schema.node.extend => {
                    return Err(unsupported("schema extension `extend schema`"));
                }
                TypeSystemDefinition::Schema(_) if schema_def.is_some() => {
                    return Err("duplicate definition: schema".to_owned());
                }
                TypeSystemDefinition::Schema(schema) => schema_def = Some(&schema.node),
                TypeSystemDefinition::Directive(directive) => {
                    let name = &directive.node.name.node;
                    return Err(unsupported(format!("directive definition `@{name}`")));
                }
                TypeSystemDefinition::Type(def) => defs.push(&def.node),
            }
        }
        let by_name = index_definitions(&defs)?;
        let Roots {
            query,
            mutation,
            subscription,
        } = roots(schema_def, &by_name)?;
        let mut catalog = Self {
            defs,
            by_name,
            query,
            mutation,
            subscription,
            by_hand: HashSet::new(),
            boxed: HashSet::new(),
        };
        catalog.by_hand = catalog.resolved_by_hand(config.resolved_by_hand)?;
        catalog.boxed = catalog.recursive_fields();
        Ok(catalog)
    }

    pub(super) fn named(&self, name: &str) -> Named<'d> {
        if BUILTIN_SCALARS.contains(&name) {
            return Named::Builtin;
        }
        if name == self.query || Some(name) == self.mutation || Some(name) == self.subscription {
            return Named::Root;
        }
        match self.by_name.get(name).map(|def| &def.kind) {
            Some(TypeKind::Scalar) => Named::Scalar,
            Some(TypeKind::Enum(e)) => Named::Enum(e),
            Some(TypeKind::Object(_)) => Named::Object,
            Some(TypeKind::InputObject(i)) => Named::Input(i),
            _ => Named::Unknown,
        }
    }

    pub(super) fn is_boxed(&self, owner: &str, field: &str) -> bool {
        self.boxed.contains(&(owner, field))
    }

    fn is_by_hand(&self, owner: &str, field: &str) -> bool {
        self.by_hand.contains(&(owner, field))
    }

    /// Checks each `Type.field` entry of [`Config::resolved_by_hand`]: an object type's field
    /// without arguments, named once.
    fn resolved_by_hand(&self, entries: &[&str]) -> Result<HashSet<(&'d str, &'d str)>, String> {
        let mut by_hand = HashSet::new();
        for entry in entries {
            let invalid = |why: String| format!("resolved_by_hand: `{entry}` {why}");
            let Some((type_name, field_name)) = entry.split_once('.') else {
                return Err(invalid("is not of the form `Type.field`".to_owned()));
            };
            let root = matches!(self.named(type_name), Named::Root);
            let def = self.by_name.get(type_name).copied();
            let (type_name, fields) = match def.map(|def| (&def.name.node, &def.kind)) {
                Some(_) if root => {
                    return Err(invalid(format!(
                        "names a field of the root type `{type_name}`, whose fields are all \
                         resolved by hand"
                    )));
                }
                Some((name, TypeKind::Object(object))) => (name.as_str(), &object.fields),
                Some(_) => {
                    return Err(invalid(format!(
                        "names `{type_name}`, which is not an object type"
                    )));
                }
                None if BUILTIN_SCALARS.contains(&type_name) => {
                    return Err(invalid(format!(
                        "names `{type_name}`, which is not an object type"
                    )));
                }
                None => return Err(invalid(format!("names the unknown type `{type_name}`"))),
            };
            let Some(field) = fields.iter().find(|f| f.node.name.node == field_name) else {
                return Err(invalid(format!(
                    "names a field that type `{type_name}` does not have"
                )));
            };
            if !field.node.arguments.is_empty() {
                return Err(invalid(
                    "names a field with arguments, which is resolved by hand already".to_owned(),
                ));
            }
            let key = (type_name, field.node.name.node.as_str());
            if !by_hand.insert(key) {
                return Err(invalid("is listed twice".to_owned()));
            }
        }
        Ok(by_hand)
    }

    fn type_def(&self, def: &'d TypeDefinition) -> Result<TypeDef, String> {
        let name = def.name.node.as_str();
        let kind = match &def.kind {
            TypeKind::Scalar => Kind::Scalar {
                specified_by: specified_by(def)?,
            },
            _ if !def.directives.is_empty() => {
                let directive = &def.directives[0].node.name.node;
                return Err(unsupported(format!(
                    "directive `@{directive}` on type `{name}`"
                )));
            }
            TypeKind::Object(object) => {
                let root = matches!(self.named(name), Named::Root);
                let fields = self.fields(name, root, &object.fields)?;
                match root {
                    true if Some(name) == self.subscription => Kind::Subscription(fields),
                    true => Kind::Root(fields),
                    false => Kind::Object(fields),
                }
            }
            TypeKind::Enum(e) => Kind::Enum(enum_values(name, e)?),
            TypeKind::InputObject(input) => Kind::Input(self.input_fields(name, input)?),
            TypeKind::Interface(_) | TypeKind::Union(_) => {
                return Err(unsupported(format!("abstract type `{name}`")));
            }
        };
        Ok(TypeDef {
            name: name.to_owned(),
            description: description(&def.description),
            kind,
        })
    }

    fn fields(
        &self,
        owner: &str,
        root: bool,
        fields: &'d [Positioned<FieldDefinition>],
    ) -> Result<Vec<Field>, String> {
        if fields.is_empty() {
            return Err(unsupported(format!("object type `{owner}` without fields")));
        }
        check_names(
            owner,
            "field",
            fields.iter().map(|f| f.node.name.node.as_str()),
            names::field,
        )?;
        fields
            .iter()
            .map(|f| self.field(owner, root, &f.node))
            .collect()
    }

    fn field(&self, owner: &str, root: bool, field: &'d FieldDefinition) -> Result<Field, String> {
        let name = field.name.node.as_str();
        let site = format!("field `{owner}.{name}`");
        self.check_output_type(&field.ty.node, &site)?;
        let arg_names = field.arguments.iter().map(|a| a.node.name.node.as_str());
        check_names(
            &format!("{owner}.{name}"),
            "argument",
            arg_names,
            names::field,
        )?;
        let args = field
            .arguments
            .iter()
            .map(|arg| {
                let arg_name = arg.node.name.node.as_str();
                let arg_site = format!("argument `{arg_name}` of `{owner}.{name}`");
                check_generated_parameter(arg_name, root, &arg_site)?;
                self.input_value(&arg.node, false, &arg_site)
            })
            .collect::<Result<_, _>>()?;
        let resolved = root || !field.arguments.is_empty() || self.is_by_hand(owner, name);
        Ok(Field {
            name: name.to_owned(),
            description: description(&field.description),
            args,
            ty: field.ty.node.clone(),
            deprecation: deprecation(&field.directives, &site)?,
            resolved,
            boxed: !resolved && self.is_boxed(owner, name),
        })
    }

    fn input_fields(
        &self,
        owner: &str,
        input: &'d InputObjectType,
    ) -> Result<Vec<InputValue>, String> {
        if input.fields.is_empty() {
            return Err(unsupported(format!("input type `{owner}` without fields")));
        }
        let field_names = input.fields.iter().map(|f| f.node.name.node.as_str());
        check_names(owner, "input field", field_names, names::field)?;
        input
            .fields
            .iter()
            .map(|f| {
                let name = f.node.name.node.as_str();
                self.input_value(
                    &f.node,
                    self.is_boxed(owner, name),
                    &format!("input field `{owner}.{name}`"),
                )
            })
            .collect()
    }

    fn input_value(
        &self,
        value: &'d InputValueDefinition,
        boxed: bool,
        site: &str,
    ) -> Result<InputValue, String> {
        self.check_input_type(&value.ty.node, site)?;
        Ok(InputValue {
            name: value.name.node.to_string(),
            description: description(&value.description),
            ty: value.ty.node.clone(),
            default: defaults::rust_default(self, value, boxed, site)?,
            deprecation: deprecation(&value.directives, site)?,
            boxed,
        })
    }

    fn check_output_type(&self, ty: &Type, site: &str) -> Result<(), String> {
        let name = named_type(ty);
        match self.named(name) {
            Named::Builtin | Named::Scalar | Named::Enum(_) | Named::Object => Ok(()),
            Named::Input(_) => Err(format!("input type `{name}` cannot be the type of {site}")),
            Named::Root => Err(unsupported(format!(
                "root type `{name}` as the type of {site}"
            ))),
            Named::Unknown => Err(format!("unknown type `{name}` in {site}")),
        }
    }

    fn check_input_type(&self, ty: &Type, site: &str) -> Result<(), String> {
        let name = named_type(ty);
        match self.named(name) {
            Named::Builtin | Named::Scalar | Named::Enum(_) | Named::Input(_) => Ok(()),
            Named::Object | Named::Root => {
                Err(format!("object type `{name}` cannot be the type of {site}"))
            }
            Named::Unknown => Err(format!("unknown type `{name}` in {site}")),
        }
    }

    /// Struct fields whose type contains the struct again without a list in between: those
    /// need a `Box`, or the structs would have infinite size.
    fn recursive_fields(&self) -> HashSet<(&'d str, &'d str)> {
        let mut edges: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for def in &self.defs {
            let owner = def.name.node.as_str();
            for (field, target) in self.struct_edges(def) {
                edges.entry(owner).or_default().push((field, target));
            }
        }
        let reaches = |from: &'d str, to: &'d str| {
            let mut seen = HashSet::new();
            let mut stack = vec![from];
            while let Some(node) = stack.pop() {
                if node == to {
                    return true;
                }
                if seen.insert(node) {
                    stack.extend(edges.get(node).into_iter().flatten().map(|(_, t)| *t));
                }
            }
            false
        };
        let mut boxed = HashSet::new();
        for (&owner, targets) in &edges {
            for &(field, target) in targets {
                if reaches(target, owner) {
                    boxed.insert((owner, field));
                }
            }
        }
        boxed
    }

    /// The (field, type) pairs a struct holds by value: fields of object or input type that
    /// are not lists (and, for objects, are struct fields rather than resolved).
    fn struct_edges(&self, def: &'d TypeDefinition) -> Vec<(&'d str, &'d str)> {
        let by_value = |ty: &'d Type| match &ty.base {
            BaseType::Named(name) => match self.named(name) {
                Named::Object | Named::Input(_) => Some(name.as_str()),
                _ => None,
            },
            BaseType::List(_) => None,
        };
        match &def.kind {
            TypeKind::Object(object) if !matches!(self.named(&def.name.node), Named::Root) => {
                let owner = def.name.node.as_str();
                object
                    .fields
                    .iter()
                    .filter(|f| f.node.arguments.is_empty())
                    .filter(|f| !self.is_by_hand(owner, &f.node.name.node))
                    .filter_map(|f| Some((f.node.name.node.as_str(), by_value(&f.node.ty.node)?)))
                    .collect()
            }
            TypeKind::InputObject(input) => input
                .fields
                .iter()
                .filter_map(|f| Some((f.node.name.node.as_str(), by_value(&f.node.ty.node)?)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Indexes the type definitions by name, rejecting what the generator does not support and
/// names that are taken or would clash with the generated Rust items.
fn index_definitions<'d>(
    defs: &[&'d TypeDefinition],
) -> Result<HashMap<&'d str, &'d TypeDefinition>, String> {
    let mut by_name = HashMap::new();
    for def in defs {
        let name = def.name.node.as_str();
        match &def.kind {
            _ if def.extend => return Err(unsupported(format!("type extension of `{name}`"))),
            TypeKind::Interface(_) => return Err(unsupported(format!("interface type `{name}`"))),
            TypeKind::Union(_) => return Err(unsupported(format!("union type `{name}`"))),
            TypeKind::Object(object) if !object.implements.is_empty() => {
                let interface = &object.implements[0].node;
                return Err(unsupported(format!(
                    "type `{name}` implementing interface `{interface}`"
                )));
            }
            _ => {}
        }
        check_graphql_name(name, &format!("type `{name}`"))?;
        if BUILTIN_SCALARS.contains(&name) {
            return Err(format!(
                "duplicate definition: type `{name}` is a built-in scalar"
            ));
        }
        if by_name.insert(name, *def).is_some() {
            return Err(format!("duplicate definition: type `{name}`"));
        }
        names::check_type_name(name)?;
    }
    for def in defs {
        let name = def.name.node.as_str();
        for generated in names::generated_type_names(name) {
            if by_name.contains_key(generated.as_str()) {
                return Err(format!(
                    "name collision: type `{generated}` has the name generated for type `{name}`"
                ));
            }
        }
    }
    Ok(by_name)
}

/// The root type names of a schema.
struct Roots<'d> {
    query: &'d str,
    mutation: Option<&'d str>,
    subscription: Option<&'d str>,
}

/// The root type names: from the `schema` block, else `Query`, `Mutation` and `Subscription`.
fn roots<'d>(
    schema: Option<&'d SchemaDefinition>,
    by_name: &HashMap<&'d str, &'d TypeDefinition>,
) -> Result<Roots<'d>, String> {
    let roots = match schema {
        Some(schema) => {
            if let Some(directive) = schema.directives.first() {
                let name = &directive.node.name.node;
                return Err(unsupported(format!("directive `@{name}` on the schema")));
            }
            Roots {
                // The parser rejects a `schema` block without a query root.
                query: schema.query.as_ref().map_or("Query", |q| q.node.as_str()),
                mutation: schema.mutation.as_ref().map(|m| m.node.as_str()),
                subscription: schema.subscription.as_ref().map(|s| s.node.as_str()),
            }
        }
        None => {
            let defined = |name: &'d str| by_name.contains_key(name).then_some(name);
            Roots {
                query: "Query",
                mutation: defined("Mutation"),
                subscription: defined("Subscription"),
            }
        }
    };
    let named = [
        ("query", Some(roots.query)),
        ("mutation", roots.mutation),
        ("subscription", roots.subscription),
    ];
    for (role, name) in named {
        let Some(name) = name else { continue };
        match by_name.get(name).map(|def| &def.kind) {
            Some(TypeKind::Object(_)) => {}
            Some(_) => {
                return Err(format!(
                    "the {role} root type `{name}` is not an object type"
                ));
            }
            None => return Err(format!("the {role} root type `{name}` is not defined")),
        }
    }
    for (i, (role, name)) in named.iter().enumerate() {
        let Some(name) = name else { continue };
        if let Some((other, _)) = named[i + 1..].iter().find(|(_, n)| *n == Some(*name)) {
            return Err(unsupported(format!(
                "type `{name}` as both the {role} and the {other} root"
            )));
        }
    }
    Ok(roots)
}

fn enum_values(owner: &str, e: &EnumType) -> Result<Vec<EnumValue>, String> {
    if e.values.is_empty() {
        return Err(unsupported(format!("enum type `{owner}` without values")));
    }
    check_names(
        owner,
        "enum value",
        e.values.iter().map(|v| v.node.value.node.as_str()),
        names::variant,
    )?;
    e.values
        .iter()
        .map(|v| {
            let name = v.node.value.node.as_str();
            Ok(EnumValue {
                name: name.to_owned(),
                description: description(&v.node.description),
                deprecation: deprecation(
                    &v.node.directives,
                    &format!("enum value `{owner}.{name}`"),
                )?,
            })
        })
        .collect()
}

/// Resolver methods take `ctx` (and `parent` outside the roots) before the arguments.
fn check_generated_parameter(arg: &str, root: bool, site: &str) -> Result<(), String> {
    let rust = names::field(arg);
    if rust == "ctx" || (!root && rust == "parent") {
        return Err(format!(
            "name collision: {site} becomes `{rust}`, which the generated resolver method \
             already uses for its own parameter"
        ));
    }
    Ok(())
}

/// Rejects duplicate names among `what`s of `owner`, reserved names, and names that become
/// the same Rust identifier.
fn check_names<'a>(
    owner: &str,
    what: &str,
    names: impl Iterator<Item = &'a str>,
    to_rust: fn(&str) -> String,
) -> Result<(), String> {
    let mut rust_names: HashMap<String, &str> = HashMap::new();
    for name in names {
        check_graphql_name(name, &format!("{what} `{owner}.{name}`"))?;
        let rust = to_rust(name);
        if rust.trim_start_matches("r#").is_empty() {
            return Err(unsupported(format!(
                "{what} `{owner}.{name}`, which has no Rust name"
            )));
        }
        match rust_names.insert(rust.clone(), name) {
            Some(other) if other == name => {
                return Err(format!("duplicate definition: {what} `{owner}.{name}`"));
            }
            Some(other) => {
                return Err(format!(
                    "name collision: {what}s `{owner}.{other}` and `{owner}.{name}` both become \
                     `{rust}` in Rust"
                ));
            }
            None => {}
        }
    }
    Ok(())
}

fn check_graphql_name(name: &str, site: &str) -> Result<(), String> {
    if name.starts_with("__") {
        return Err(unsupported(format!(
            "{site}: names starting with `__` are reserved"
        )));
    }
    Ok(())
}

pub(super) fn named_type(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name,
        BaseType::List(inner) => named_type(inner),
    }
}

fn description(description: &Option<Positioned<String>>) -> Option<String> {
    description.as_ref().map(|d| d.node.clone())
}

/// Reads `@deprecated`; any other directive on a field, argument or enum value is rejected.
fn deprecation(
    directives: &[Positioned<ConstDirective>],
    site: &str,
) -> Result<Deprecation, String> {
    let mut result = None;
    for directive in directives {
        let directive = &directive.node;
        let name = directive.name.node.as_str();
        if name != "deprecated" {
            return Err(unsupported(format!("directive `@{name}` on {site}")));
        }
        if result.is_some() {
            return Err(format!("duplicate definition: `@deprecated` on {site}"));
        }
        result = Some(string_argument(directive, "reason", site)?);
    }
    Ok(result)
}

/// `@specifiedBy(url:)` is the one directive a scalar may carry.
fn specified_by(def: &TypeDefinition) -> Result<Option<String>, String> {
    let site = format!("scalar `{}`", def.name.node);
    let mut url = None;
    for directive in &def.directives {
        let directive = &directive.node;
        let name = directive.name.node.as_str();
        if name != "specifiedBy" {
            return Err(unsupported(format!("directive `@{name}` on {site}")));
        }
        if url.is_some() {
            return Err(format!("duplicate definition: `@specifiedBy` on {site}"));
        }
        url = Some(
            string_argument(directive, "url", &site)?
                .ok_or_else(|| format!("`@specifiedBy` on {site} needs a `url` argument"))?,
        );
    }
    Ok(url)
}

/// The directive's only allowed argument, `name`, which must be a string if present.
fn string_argument(
    directive: &ConstDirective,
    name: &str,
    site: &str,
) -> Result<Option<String>, String> {
    let directive_name = &directive.name.node;
    if let Some((other, _)) = directive.arguments.iter().find(|(arg, _)| arg.node != name) {
        return Err(unsupported(format!(
            "argument `{}` of `@{directive_name}` on {site}",
            other.node
        )));
    }
    let Some(value) = directive.get_argument(name) else {
        return Ok(None);
    };
    // The parser's value type is not exported: its text tells a string from an enum value.
    let text = value.node.to_string();
    match serde_norway::to_value(&value.node) {
        Ok(serde_norway::Value::String(s)) if text.starts_with('"') => Ok(Some(s)),
        _ => Err(format!(
            "`{name}` of `@{directive_name}` on {site} must be a string, found {text}"
        )),
    }
}
