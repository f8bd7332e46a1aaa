//! Whether NerdGraph's `data` has the shape the document asked for.
//!
//! Every field the document selects with a sub-selection must come back as an object, a
//! list of them, or null; a field the operation selects outside any fragment must be
//! present. A string where an object or a list belongs (or a missing branch) means New
//! Relic's answer is not what the tool reads: rendering it would show "0 rows, no data",
//! and caching it would keep that wrong answer. Null stays legitimate everywhere: it is
//! how NerdGraph says "no such entity" or "no access".
//! Fields inside fragments may be absent (the fragment's type did not match), and leaves
//! may hold any JSON (NRQL `results` are JSON scalars).
//! The walk is bounded: past [`VISIT_BUDGET`] visits the rest of the answer is taken as it
//! is, because the check exists to catch wrong shapes, not to refuse answers.

use std::cell::Cell;
use std::collections::HashMap;

use apollo_compiler::Node;
use apollo_compiler::ast::{Definition, FragmentDefinition, Selection};
use apollo_compiler::parser::Parser;
use serde_json::{Map, Value};

/// Nesting beyond which the check stops looking (documents are far shallower).
const MAX_DEPTH: usize = 64;

/// Visits (one selection applied to one JSON object) after which the check stops looking.
///
/// Fragment spreads are walked again wherever they appear, so a document whose fragments
/// each spread the next one twice costs 2^n visits while the depth limit grows by only n;
/// this runs synchronously on a runtime thread for every response. One counter bounds that
/// and every other way a document multiplies the work (a spread cycle, which the parser
/// accepts, or many selections over long lists), where a memo of (fragment, value) would
/// bound only the first. Real answers (hundreds of entities with tens of fields) take
/// thousands of visits, far below it.
const VISIT_BUDGET: usize = 100_000;

/// Where New Relic's answer departs from the document, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("New Relic's answer had an unexpected shape at {path}: expected {expected}, found {found}")]
pub struct ShapeError {
    /// The response path, e.g. `data.actor.account.alerts.policiesSearch`.
    pub path: String,
    pub expected: &'static str,
    pub found: &'static str,
}

/// Checks `data` against the single operation of `document`. A document that does not parse
/// or holds several operations is not judged (it was sent as is; New Relic judged it).
pub fn check(document: &str, data: &Value) -> Result<(), ShapeError> {
    checked(document, data).0
}

/// [`check`], with the number of visits it took.
fn checked(document: &str, data: &Value) -> (Result<(), ShapeError>, usize) {
    let Ok(parsed) = Parser::new().parse_ast(document, "request.graphql") else {
        return (Ok(()), 0);
    };
    let mut operations = Vec::new();
    let mut fragments: HashMap<&str, &Node<FragmentDefinition>> = HashMap::new();
    for definition in &parsed.definitions {
        match definition {
            Definition::OperationDefinition(operation) => operations.push(operation),
            Definition::FragmentDefinition(fragment) => {
                fragments.insert(fragment.name.as_str(), fragment);
            }
            _ => {}
        }
    }
    let [operation] = operations.as_slice() else {
        return (Ok(()), 0);
    };
    let walk = Walk { fragments: &fragments, visits: Cell::new(0) };
    let result = match data {
        Value::Null => Ok(()),
        Value::Object(map) => walk.selections(&operation.selection_set, map, "data", true, 0),
        other => Err(ShapeError { path: "data".into(), expected: "an object", found: kind(other) }),
    };
    (result, walk.visits.get())
}

struct Walk<'d> {
    fragments: &'d HashMap<&'d str, &'d Node<FragmentDefinition>>,
    visits: Cell<usize>,
}

impl Walk<'_> {
    /// `required`: whether a selected field must be present (false inside fragments).
    fn selections(
        &self,
        selections: &[Selection],
        object: &Map<String, Value>,
        path: &str,
        required: bool,
        depth: usize,
    ) -> Result<(), ShapeError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        for selection in selections {
            if !self.spend() {
                return Ok(());
            }
            match selection {
                Selection::Field(field) => {
                    let key = field.alias.as_ref().unwrap_or(&field.name).as_str();
                    let field_path = format!("{path}.{key}");
                    match object.get(key) {
                        // `@include`/`@skip` may leave a selected field out.
                        None if required && field.directives.is_empty() => {
                            return Err(ShapeError {
                                path: field_path,
                                expected: "a field",
                                found: "nothing",
                            });
                        }
                        None => {}
                        Some(value) if !field.selection_set.is_empty() => {
                            self.composite(&field.selection_set, value, &field_path, depth + 1)?;
                        }
                        Some(_) => {}
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.selections(&inline.selection_set, object, path, false, depth + 1)?;
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(spread.fragment_name.as_str()) {
                        self.selections(&fragment.selection_set, object, path, false, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts one visit; false once the budget is spent.
    fn spend(&self) -> bool {
        let visits = self.visits.get();
        if visits >= VISIT_BUDGET {
            return false;
        }
        self.visits.set(visits + 1);
        true
    }

    /// A field with a sub-selection: null, an object, or a list of them (lists may nest).
    fn composite(
        &self,
        selections: &[Selection],
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<(), ShapeError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match value {
            Value::Null => Ok(()),
            Value::Object(map) => self.selections(selections, map, path, true, depth),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.composite(selections, item, &format!("{path}[{index}]"), depth + 1)?;
                }
                Ok(())
            }
            other => {
                Err(ShapeError { path: path.to_owned(), expected: "an object or a list", found: kind(other) })
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    const POLICIES: &str = "query Policies($accountId: Int!) { actor { account(id: $accountId) { alerts { \
        policiesSearch { policies { id name } nextCursor } } } } }";
    const ENTITY: &str = "query Entity($guid: EntityGuid!) { actor { entity(guid: $guid) { guid name \
        ... on ApmApplicationEntityOutline { language } tags { key values } } } }";
    const NRQL: &str = "query Nrql($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { \
        nrql(query: $nrql) { results metadata { messages } } } } }";

    #[test]
    fn answers_are_judged_against_the_document() {
        let policies = |search: Value| json!({"actor": {"account": {"alerts": {"policiesSearch": search}}}});
        #[rustfmt::skip]
        let cases: Vec<(&str, &str, Value, Option<&str>)> = vec![
            ("policies", POLICIES, policies(json!({"policies": [{"id": "1", "name": "p"}], "nextCursor": null})), None),
            ("no policies", POLICIES, policies(json!({"policies": [], "nextCursor": null})), None),
            ("a null branch", POLICIES, json!({"actor": {"account": null}}), None),
            ("null data", POLICIES, Value::Null, None),
            ("a string where the search belongs", POLICIES, policies(json!("oops")),
                Some("data.actor.account.alerts.policiesSearch: expected an object or a list, found a string")),
            ("the search missing", POLICIES, json!({"actor": {"account": {"alerts": {}}}}),
                Some("data.actor.account.alerts.policiesSearch: expected a field, found nothing")),
            ("a row list that is a string", POLICIES, policies(json!({"policies": "[]", "nextCursor": null})),
                Some("data.actor.account.alerts.policiesSearch.policies: expected an object or a list, found a string")),
            ("a row that is a number", POLICIES, policies(json!({"policies": [{"id": "1", "name": "p"}, 7], "nextCursor": null})),
                Some("data.actor.account.alerts.policiesSearch.policies[1]: expected an object or a list, found a number")),
            ("data that is a list", POLICIES, json!([]), Some("data: expected an object, found a list")),
            ("an entity that does not exist", ENTITY, json!({"actor": {"entity": null}}), None),
            ("an entity of another type", ENTITY, json!({"actor": {"entity": {"guid": "g", "name": "n", "tags": []}}}), None),
            ("tags that are a string", ENTITY, json!({"actor": {"entity": {"guid": "g", "name": "n", "tags": "x"}}}),
                Some("data.actor.entity.tags: expected an object or a list, found a string")),
            ("NRQL results are JSON", NRQL, json!({"actor": {"account": {"nrql": {"results": [{"count": 1}], "metadata": {"messages": []}}}}}), None),
            ("a document that does not parse", "query {", json!("anything"), None),
        ];
        for (what, document, data, expected) in cases {
            let found = check(document, &data).err().map(|error| error.to_string());
            let expected =
                expected.map(|tail| format!("New Relic's answer had an unexpected shape at {tail}"));
            assert_eq!(found, expected, "{what}");
        }
    }

    #[test]
    fn fragments_that_double_at_every_level_cost_a_bounded_walk() {
        // Each fragment spreads the next one twice: walked spread by spread, 2^40 visits.
        const LEVELS: usize = 40;
        let mut document = String::from("{ actor { ...F0 } }");
        for level in 0..LEVELS {
            let next = level + 1;
            document.push_str(&format!(" fragment F{level} on Actor {{ ...F{next} ...F{next} }}"));
        }
        document.push_str(&format!(" fragment F{LEVELS} on Actor {{ user {{ name }} }}"));

        let (result, visits) = checked(&document, &json!({"actor": {"user": {"name": "n"}}}));
        assert_eq!(result, Ok(()));
        assert!(visits <= VISIT_BUDGET, "{visits} visits");

        // The first branch walked still reaches the leaf fragment, so a wrong shape there is reported.
        let (result, _) = checked(&document, &json!({"actor": {"user": "n"}}));
        assert_eq!(result.map_err(|error| error.path), Err("data.actor.user".to_owned()));
    }

    #[test]
    fn the_message_is_the_one_the_executor_recognises() {
        let error = check(POLICIES, &json!({"actor": "x"})).unwrap_err();
        assert!(error.to_string().starts_with(newrelic_mcp_actors::executor::errors::SHAPE_ERROR_PREFIX));
    }
}
