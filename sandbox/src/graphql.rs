//! GraphQL over the NerdGraph schema subset: parse and validate a request with
//! apollo-compiler, coerce its variables, and execute it with [`executor`].

pub mod executor;

use apollo_compiler::executable::{Operation, OperationType};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use serde_json::{Map, Value, json};

use crate::error::SandboxError;

/// The schema subset, served as NerdGraph would.
const SCHEMA_SDL: &str = include_str!("schema.graphql");

/// The text of the schema subset the sandbox validates against.
pub fn schema_sdl() -> &'static str {
    SCHEMA_SDL
}

/// Parses and validates the embedded schema subset.
pub fn load_schema() -> Result<Valid<Schema>, SandboxError> {
    Schema::parse_and_validate(SCHEMA_SDL, "nerdgraph.graphql")
        .map_err(|invalid| SandboxError::Schema(invalid.errors.to_string()))
}

/// A GraphQL request body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    /// The document.
    #[serde(default)]
    pub query: String,
    /// Variable values.
    #[serde(default)]
    pub variables: Option<Value>,
    /// Which operation of the document to run.
    #[serde(default)]
    pub operation_name: Option<String>,
}

/// A validated request ready to execute.
#[derive(Debug)]
pub struct PreparedRequest {
    /// The validated document.
    pub document: Valid<ExecutableDocument>,
    /// The operation to run.
    pub operation: Node<Operation>,
    /// Coerced variable values.
    pub variables: Map<String, Value>,
}

impl PreparedRequest {
    /// A label for statistics: the operation name, or the operation type and its root fields.
    pub fn label(&self) -> String {
        if let Some(name) = &self.operation.name {
            return name.to_string();
        }
        let kind = match self.operation.operation_type {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        };
        let roots: Vec<&str> = self
            .operation
            .selection_set
            .selections
            .iter()
            .filter_map(|selection| selection.as_field().map(|field| field.name.as_str()))
            .collect();
        format!("{kind} {}", roots.join(","))
    }

    /// Whether the operation is a mutation.
    pub fn is_mutation(&self) -> bool {
        self.operation.operation_type == OperationType::Mutation
    }
}

/// Parses, validates and coerces a request. On failure, the `errors` entries of the
/// response, shaped as NerdGraph's (message and locations).
pub fn prepare(schema: &Valid<Schema>, request: &GraphqlRequest) -> Result<PreparedRequest, Vec<Value>> {
    if request.query.trim().is_empty() {
        return Err(vec![json!({"message": "No query document supplied"})]);
    }
    let document = ExecutableDocument::parse_and_validate(schema, request.query.as_str(), "query.graphql")
        .map_err(|invalid| {
            invalid
                .errors
                .iter()
                .map(|diagnostic| serde_json::to_value(diagnostic.to_json()).unwrap_or(Value::Null))
                .collect::<Vec<_>>()
        })?;
    let operation = document
        .operations
        .get(request.operation_name.as_deref())
        .map_err(|error| vec![json!({"message": error.message().to_string()})])?
        .clone();
    let raw_variables = match &request.variables {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(vec![json!({"message": "Variables must be a JSON object"})]),
    };
    let raw: apollo_compiler::response::JsonMap = serde_json::from_value(Value::Object(raw_variables))
        .map_err(|error| vec![json!({"message": error.to_string()})])?;
    let coerced =
        apollo_compiler::request::coerce_variable_values(schema, &operation, &raw).map_err(|error| {
            vec![serde_json::to_value(error.to_graphql_error(&document.sources)).unwrap_or(Value::Null)]
        })?;
    let variables = match serde_json::to_value(coerced.into_inner()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Ok(PreparedRequest { document, operation, variables })
}
