//! A small, generic GraphQL executor over a validated operation.
//!
//! It walks selection sets (aliases, arguments with variables and defaults, inline and
//! named fragments, `@skip`/`@include`, `__typename`), asks a [`Resolver`] for fields that
//! compute, and looks plain fields up in JSON. A failing field becomes `null` plus an
//! `errors[]` entry with its `path`, propagating to the nearest nullable parent, as the
//! GraphQL specification (and NerdGraph) do.

use apollo_compiler::ast::Value as AstValue;
use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::schema::{ExtendedType, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use serde_json::{Map, Value, json};

/// A field error: message plus NerdGraph's `extensions` (`errorClass`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Human-readable message.
    pub message: String,
    /// `extensions` of the error entry.
    pub extensions: Map<String, Value>,
}

impl FieldError {
    /// An error with an `errorClass` extension.
    pub fn new(error_class: &str, message: impl Into<String>) -> FieldError {
        let mut extensions = Map::new();
        extensions.insert("errorClass".to_string(), Value::String(error_class.to_string()));
        FieldError { message: message.into(), extensions }
    }

    /// `INVALID_INPUT`: the caller's arguments are wrong.
    pub fn invalid_input(message: impl Into<String>) -> FieldError {
        FieldError::new("INVALID_INPUT", message)
    }

    /// Adds an extension (builder style).
    #[must_use]
    pub fn with_extension(mut self, key: &str, value: Value) -> FieldError {
        self.extensions.insert(key.to_string(), value);
        self
    }
}

/// What a resolver produced for a field.
pub enum Resolved<'w> {
    /// A JSON value: a leaf, or an object / list of objects whose fields are plain lookups
    /// (an object may carry `__typename` to name its concrete type).
    Value(Value),
    /// An object with computed fields.
    Object(Box<dyn Resolver<'w> + 'w>),
    /// A list of resolved items.
    List(Vec<Resolved<'w>>),
}

impl<'w> Resolved<'w> {
    /// `null`.
    pub fn null() -> Resolved<'w> {
        Resolved::Value(Value::Null)
    }

    /// Wraps a resolver object.
    pub fn object(resolver: impl Resolver<'w> + 'w) -> Resolved<'w> {
        Resolved::Object(Box::new(resolver))
    }
}

/// An object whose fields are computed.
pub trait Resolver<'w> {
    /// The concrete GraphQL object type.
    fn typename(&self) -> &str;

    /// Resolves one field. Unknown fields should resolve to `null`.
    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError>;
}

/// One field to resolve: its name, coerced arguments, and its sub-selection for look-ahead.
pub struct FieldCall<'a> {
    /// Field name (not the alias).
    pub name: &'a str,
    /// Arguments after variable substitution and defaults; absent arguments are missing.
    pub args: Map<String, Value>,
    fields: Vec<&'a Node<Field>>,
    document: &'a ExecutableDocument,
}

impl FieldCall<'_> {
    /// An argument, `None` when absent or null.
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.get(name).filter(|value| !value.is_null())
    }

    /// Whether the sub-selection asks for a field of this name (at its first level,
    /// fragments included).
    pub fn selects(&self, child: &str) -> bool {
        self.fields.iter().any(|field| selection_mentions(self.document, &field.selection_set, child, 0))
    }
}

fn selection_mentions(document: &ExecutableDocument, set: &SelectionSet, name: &str, depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    set.selections.iter().any(|selection| match selection {
        Selection::Field(field) => field.name == name,
        Selection::InlineFragment(inline) => {
            selection_mentions(document, &inline.selection_set, name, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.fragment_name)
            .is_some_and(|fragment| selection_mentions(document, &fragment.selection_set, name, depth + 1)),
    })
}

enum Source<'r, 'w> {
    Resolver(&'r dyn Resolver<'w>),
    Json(&'r Map<String, Value>),
}

/// Executes `document`'s operation from a root resolver and returns `(data, errors)`.
pub struct Executor<'a> {
    schema: &'a Valid<Schema>,
    document: &'a Valid<ExecutableDocument>,
    variables: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl<'a> Executor<'a> {
    /// An executor for one request.
    pub fn new(
        schema: &'a Valid<Schema>,
        document: &'a Valid<ExecutableDocument>,
        variables: &'a Map<String, Value>,
    ) -> Executor<'a> {
        Executor { schema, document, variables, errors: Vec::new() }
    }

    /// Runs the selection set of the operation against `root`; returns the data (`null`
    /// when an error propagated to the root) and the error entries.
    pub fn execute<'w>(
        mut self,
        root: &dyn Resolver<'w>,
        selection_set: &'a SelectionSet,
    ) -> (Value, Vec<Value>) {
        let data = self
            .execute_selection_set(
                Source::Resolver(root),
                root.typename().to_string(),
                &[selection_set],
                &mut Vec::new(),
            )
            .map_or(Value::Null, Value::Object);
        (data, self.errors)
    }

    fn execute_selection_set<'w>(
        &mut self,
        source: Source<'_, 'w>,
        typename: String,
        sets: &[&'a SelectionSet],
        path: &mut Vec<Value>,
    ) -> Option<Map<String, Value>> {
        let mut grouped: Vec<(String, Vec<&'a Node<Field>>)> = Vec::new();
        for set in sets {
            self.collect_fields(&typename, set, &mut grouped, 0);
        }
        let mut out = Map::new();
        for (key, fields) in grouped {
            let field = fields[0];
            if field.name == "__typename" {
                out.insert(key, Value::String(typename.clone()));
                continue;
            }
            path.push(Value::String(key.clone()));
            let call = FieldCall {
                name: field.name.as_str(),
                args: self.coerce_arguments(field),
                fields: fields.clone(),
                document: self.document,
            };
            let resolved = match &source {
                Source::Resolver(resolver) => resolver.resolve(&call),
                Source::Json(map) => {
                    Ok(Resolved::Value(map.get(field.name.as_str()).cloned().unwrap_or(Value::Null)))
                }
            };
            let ty = field.definition.ty.clone();
            let completed = match resolved {
                Ok(resolved) => self.complete_value(&ty, &fields, resolved, path),
                Err(error) => {
                    self.record(field, path, error.message, error.extensions);
                    None
                }
            };
            path.pop();
            match completed {
                Some(value) => {
                    out.insert(key, value);
                }
                None if ty.is_non_null() => return None,
                None => {
                    out.insert(key, Value::Null);
                }
            }
        }
        Some(out)
    }

    fn complete_value<'w>(
        &mut self,
        ty: &Type,
        fields: &[&'a Node<Field>],
        resolved: Resolved<'w>,
        path: &mut Vec<Value>,
    ) -> Option<Value> {
        if let Resolved::Value(Value::Null) = resolved {
            if ty.is_non_null() {
                self.record(
                    fields[0],
                    path,
                    "Cannot return null for non-nullable field".to_string(),
                    Map::new(),
                );
                return None;
            }
            return Some(Value::Null);
        }
        match ty {
            Type::List(item) | Type::NonNullList(item) => {
                let items: Vec<Resolved<'w>> = match resolved {
                    Resolved::List(items) => items,
                    Resolved::Value(Value::Array(values)) => {
                        values.into_iter().map(Resolved::Value).collect()
                    }
                    other => vec![other],
                };
                let mut out = Vec::with_capacity(items.len());
                for (index, element) in items.into_iter().enumerate() {
                    path.push(Value::from(index));
                    let value = self.complete_value(item, fields, element, path);
                    path.pop();
                    match value {
                        Some(value) => out.push(value),
                        None if item.is_non_null() => return None,
                        None => out.push(Value::Null),
                    }
                }
                Some(Value::Array(out))
            }
            Type::Named(name) | Type::NonNullNamed(name) => {
                let is_composite = matches!(
                    self.schema.types.get(name),
                    Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
                );
                let sets: Vec<&'a SelectionSet> = fields.iter().map(|field| &field.selection_set).collect();
                match resolved {
                    Resolved::Value(value) if !is_composite => Some(value),
                    Resolved::Value(Value::Object(map)) => {
                        let typename = map
                            .get("__typename")
                            .and_then(Value::as_str)
                            .map_or_else(|| name.to_string(), str::to_string);
                        self.execute_selection_set(Source::Json(&map), typename, &sets, path)
                            .map(Value::Object)
                    }
                    Resolved::Object(resolver) => {
                        let typename = resolver.typename().to_string();
                        self.execute_selection_set(Source::Resolver(resolver.as_ref()), typename, &sets, path)
                            .map(Value::Object)
                    }
                    Resolved::Value(_) | Resolved::List(_) => {
                        self.record(
                            fields[0],
                            path,
                            format!("Expected an object of type {name}"),
                            Map::new(),
                        );
                        None
                    }
                }
            }
        }
    }

    fn collect_fields(
        &self,
        typename: &str,
        set: &'a SelectionSet,
        grouped: &mut Vec<(String, Vec<&'a Node<Field>>)>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.response_key().to_string();
                    match grouped.iter_mut().find(|(existing, _)| *existing == key) {
                        Some((_, fields)) => fields.push(field),
                        None => grouped.push((key, vec![field])),
                    }
                }
                Selection::InlineFragment(inline) => {
                    if !self.included(&inline.directives) {
                        continue;
                    }
                    let applies = inline
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| self.type_applies(condition.as_str(), typename));
                    if applies {
                        self.collect_fields(typename, &inline.selection_set, grouped, depth + 1);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name)
                        && self.type_applies(fragment.selection_set.ty.as_str(), typename)
                    {
                        self.collect_fields(typename, &fragment.selection_set, grouped, depth + 1);
                    }
                }
            }
        }
    }

    fn type_applies(&self, condition: &str, typename: &str) -> bool {
        condition == typename || self.schema.is_subtype(condition, typename)
    }

    fn included(&self, directives: &apollo_compiler::executable::DirectiveList) -> bool {
        let flag = |name: &str| {
            directives
                .get(name)
                .and_then(|directive| directive.specified_argument_by_name("if"))
                .map(|value| self.value_to_json(value) == Some(Value::Bool(true)))
        };
        flag("skip") != Some(true) && flag("include") != Some(false)
    }

    fn coerce_arguments(&self, field: &Field) -> Map<String, Value> {
        let mut args = Map::new();
        for definition in &field.definition.arguments {
            let given = field.arguments.iter().find(|argument| argument.name == definition.name);
            let value = given
                .and_then(|argument| self.value_to_json(&argument.value))
                .or_else(|| definition.default_value.as_ref().and_then(|value| self.value_to_json(value)));
            if let Some(value) = value {
                args.insert(definition.name.to_string(), value);
            }
        }
        args
    }

    /// Converts a literal to JSON; `None` for a variable that was not provided.
    fn value_to_json(&self, value: &AstValue) -> Option<Value> {
        Some(match value {
            AstValue::Null => Value::Null,
            AstValue::Enum(name) => Value::String(name.to_string()),
            AstValue::Variable(name) => return self.variables.get(name.as_str()).cloned(),
            AstValue::String(text) => Value::String(text.clone()),
            AstValue::Float(number) => number
                .try_to_f64()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
            AstValue::Int(number) => match number.as_str().parse::<i64>() {
                Ok(int) => Value::from(int),
                Err(_) => number
                    .try_to_f64()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
            },
            AstValue::Boolean(flag) => Value::Bool(*flag),
            AstValue::List(items) => {
                Value::Array(items.iter().filter_map(|item| self.value_to_json(item)).collect())
            }
            AstValue::Object(entries) => Value::Object(
                entries
                    .iter()
                    .filter_map(|(name, value)| {
                        self.value_to_json(value).map(|value| (name.to_string(), value))
                    })
                    .collect(),
            ),
        })
    }

    fn record(
        &mut self,
        field: &Node<Field>,
        path: &[Value],
        message: String,
        extensions: Map<String, Value>,
    ) {
        let mut error = Map::new();
        error.insert("message".to_string(), Value::String(message));
        if let Some(range) = field.line_column_range(&self.document.sources) {
            error.insert(
                "locations".to_string(),
                json!([{"line": range.start.line, "column": range.start.column}]),
            );
        }
        error.insert("path".to_string(), Value::Array(path.to_vec()));
        if !extensions.is_empty() {
            error.insert("extensions".to_string(), Value::Object(extensions));
        }
        self.errors.push(Value::Object(error));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use apollo_compiler::{ExecutableDocument, Schema};
    use serde_json::{Map, Value, json};

    use super::*;

    const SDL: &str = r#"
        type Query { shop: Shop }
        type Shop {
          name: String
          items(first: Int = 2, tag: String): [Item!]
          required: String!
          owner: Owner
        }
        interface Item { id: ID! }
        type Book implements Item { id: ID! title: String }
        type Pen implements Item { id: ID! colour: String }
        type Owner { name: String! }
    "#;

    struct Root;
    struct Shop;

    impl<'w> Resolver<'w> for Root {
        fn typename(&self) -> &str {
            "Query"
        }
        fn resolve(&self, _call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
            Ok(Resolved::object(Shop))
        }
    }

    impl<'w> Resolver<'w> for Shop {
        fn typename(&self) -> &str {
            "Shop"
        }
        fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
            match call.name {
                "name" => Ok(Resolved::Value(json!("Corner shop"))),
                "items" => {
                    let first = call.arg("first").and_then(Value::as_u64).unwrap() as usize;
                    let all = vec![
                        json!({"__typename": "Book", "id": "b1", "title": "Dune"}),
                        json!({"__typename": "Pen", "id": "p1", "colour": "blue"}),
                        json!({"__typename": "Book", "id": "b2", "title": "Emma"}),
                    ];
                    Ok(Resolved::Value(Value::Array(all.into_iter().take(first).collect())))
                }
                "required" => Err(FieldError::new("TIMEOUT", "too slow")),
                "owner" => Ok(Resolved::Value(json!({"name": null}))),
                _ => Ok(Resolved::null()),
            }
        }
    }

    fn run(document: &str, variables: Value) -> (Value, Vec<Value>) {
        let schema = Schema::parse_and_validate(SDL, "schema.graphql").unwrap();
        let document = ExecutableDocument::parse_and_validate(&schema, document, "query.graphql").unwrap();
        let operation = document.operations.get(None).unwrap();
        let variables: Map<String, Value> = serde_json::from_value(variables).unwrap();
        Executor::new(&schema, &document, &variables).execute(&Root, &operation.selection_set)
    }

    #[test]
    fn aliases_fragments_defaults_and_typename() {
        let (data, errors) = run(
            r#"query($n: Int) {
                shop { label: name __typename
                  a: items { __typename ...on Book { title } ...PenBits }
                  b: items(first: $n) { id } } }
               fragment PenBits on Pen { colour }"#,
            json!({"n": 3}),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            data,
            json!({"shop": {
                "label": "Corner shop", "__typename": "Shop",
                "a": [{"__typename": "Book", "title": "Dune"}, {"__typename": "Pen", "colour": "blue"}],
                "b": [{"id": "b1"}, {"id": "p1"}, {"id": "b2"}],
            }})
        );
    }

    #[test]
    fn skip_and_include_follow_their_conditions() {
        let (data, _) = run(
            "query($yes: Boolean!) { shop { name @skip(if: $yes) items @include(if: $yes) { id } } }",
            json!({"yes": true}),
        );
        assert_eq!(data, json!({"shop": {"items": [{"id": "b1"}, {"id": "p1"}]}}));
    }

    #[test]
    fn errors_null_the_nearest_nullable_parent_and_carry_path_and_class() {
        let (data, errors) = run("{ shop { name required } }", json!({}));
        assert_eq!(data, json!({"shop": null}));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["path"], json!(["shop", "required"]));
        assert_eq!(errors[0]["extensions"], json!({"errorClass": "TIMEOUT"}));
        assert_eq!(errors[0]["locations"], json!([{"line": 1, "column": 15}]));

        let (data, errors) = run("{ shop { name owner { name } } }", json!({}));
        assert_eq!(data, json!({"shop": {"name": "Corner shop", "owner": null}}));
        assert_eq!(errors[0]["path"], json!(["shop", "owner", "name"]));
    }
}
