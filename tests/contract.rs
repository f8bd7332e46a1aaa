//! Every GraphQL document the product can send validates against New Relic's real
//! NerdGraph schema (`shared/nerdgraph/schema.graphql` beside the repository).

use std::path::PathBuf;

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/nerdgraph/schema.graphql")
}

fn load_schema() -> Option<Valid<Schema>> {
    let path = schema_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipping the NerdGraph contract test: {} is absent", path.display());
        return None;
    };
    // The dump is an introspection export: accept it as New Relic serves it.
    let schema = match Schema::parse(text, "schema.graphql") {
        Ok(schema) => schema,
        Err(with_errors) => with_errors.partial,
    };
    Some(Valid::assume_valid(schema))
}

#[test]
fn every_builtin_document_validates_against_the_real_schema() {
    let Some(schema) = load_schema() else { return };
    let documents = newrelic_mcp::tools::graphql_documents();
    assert!(!documents.is_empty());
    let mut failures = Vec::new();
    for (name, document) in &documents {
        if let Err(errors) =
            ExecutableDocument::parse_and_validate(&schema, *document, format!("{name}.graphql"))
        {
            failures.push(format!("{name}:\n{}", errors.errors));
        }
    }
    assert!(failures.is_empty(), "documents that New Relic would reject:\n{}", failures.join("\n"));
}

#[test]
fn the_contract_check_catches_a_wrong_field() {
    let Some(schema) = load_schema() else { return };
    let wrong = "query { actor { account(id: 1) { nrql(query: \"SELECT 1\") { rows } } } }";
    assert!(ExecutableDocument::parse_and_validate(&schema, wrong, "wrong.graphql").is_err());
}
