//! Which accounts a raw document names, so that the account allow-list holds for it too.
//!
//! NerdGraph scopes data to an account through arguments: `account(id:)`, `accountId`,
//! `accountIds`, and `accounts` (cross-account NRQL), also inside input objects such as a
//! dashboard's widget queries. Every such value is collected, whether written literally, passed
//! as a variable or taken from a variable's default. Fields that search across accounts without
//! naming one (entity search, the account list) answer with what the API key can see; the
//! tool's description says so.

use std::collections::BTreeSet;

use apollo_compiler::ast::{Definition, Selection, Value as GraphQlValue};
use serde_json::{Map, Value};

use super::document::Operation;

/// Argument and input-field names that hold account ids.
const ACCOUNT_KEYS: [&str; 3] = ["accountId", "accountIds", "accounts"];

fn is_account_key(name: &str) -> bool {
    ACCOUNT_KEYS.contains(&name)
}

/// The accounts an operation names.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NamedAccounts {
    pub ids: BTreeSet<i64>,
    /// The first value under an account key that is not an integer account id (a float, a
    /// word): NerdGraph might still read it as an account, so an allow-list cannot vouch for it.
    pub unreadable: Option<String>,
}

/// Every account id the operation names, with `variables` substituted.
pub(crate) fn named_accounts(operation: &Operation, variables: &Map<String, Value>) -> NamedAccounts {
    let mut scan = Scan { operation, variables, found: NamedAccounts::default() };
    for definition in &operation.document.definitions {
        match definition {
            Definition::OperationDefinition(definition) => scan.selections(&definition.selection_set),
            Definition::FragmentDefinition(fragment) => scan.selections(&fragment.selection_set),
            _ => {}
        }
    }
    scan.found
}

struct Scan<'a> {
    operation: &'a Operation,
    variables: &'a Map<String, Value>,
    found: NamedAccounts,
}

impl Scan<'_> {
    fn selections(&mut self, selections: &[Selection]) {
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    for argument in &field.arguments {
                        let scoped = is_account_key(argument.name.as_str())
                            || (field.name.as_str() == "account" && argument.name.as_str() == "id");
                        self.literal(&argument.value, scoped);
                    }
                    self.selections(&field.selection_set);
                }
                Selection::InlineFragment(inline) => self.selections(&inline.selection_set),
                // Fragments are scanned once each, as definitions of the document.
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// A value written in the document; `scoped` when it sits under an account key.
    fn literal(&mut self, value: &GraphQlValue, scoped: bool) {
        match value {
            GraphQlValue::Int(number) if scoped => self.add_text(number.as_str()),
            GraphQlValue::String(text) if scoped => self.add_text(text),
            GraphQlValue::Float(number) if scoped => self.unreadable(number.as_str()),
            GraphQlValue::Enum(name) if scoped => self.unreadable(name.as_str()),
            GraphQlValue::Boolean(value) if scoped => self.unreadable(&value.to_string()),
            GraphQlValue::List(items) => items.iter().for_each(|item| self.literal(item, scoped)),
            GraphQlValue::Object(fields) => {
                fields.iter().for_each(|(name, value)| self.literal(value, is_account_key(name.as_str())));
            }
            GraphQlValue::Variable(name) => match self.variables.get(name.as_str()) {
                Some(given) => self.json(given, scoped),
                None => {
                    let default =
                        self.operation.variable(name.as_str()).and_then(|v| v.default_value.clone());
                    if let Some(default) = default {
                        self.literal(&default, scoped);
                    }
                }
            },
            _ => {}
        }
    }

    /// A value passed in the variables.
    fn json(&mut self, value: &Value, scoped: bool) {
        match value {
            Value::Number(number) if scoped => match number.as_i64() {
                Some(account) => {
                    self.found.ids.insert(account);
                }
                None => self.unreadable(&number.to_string()),
            },
            Value::String(text) if scoped => self.add_text(text),
            Value::Bool(value) if scoped => self.unreadable(&value.to_string()),
            Value::Array(items) => items.iter().for_each(|item| self.json(item, scoped)),
            Value::Object(fields) => {
                fields.iter().for_each(|(key, value)| self.json(value, is_account_key(key)))
            }
            _ => {}
        }
    }

    fn add_text(&mut self, text: &str) {
        match text.trim().parse::<i64>() {
            Ok(account) => {
                self.found.ids.insert(account);
            }
            Err(_) => self.unreadable(text),
        }
    }

    fn unreadable(&mut self, text: &str) {
        self.found.unreadable.get_or_insert_with(|| text.to_string());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::super::document::select;
    use super::*;

    #[test]
    fn finds_accounts_in_arguments_variables_defaults_and_input_objects() {
        let cases: Vec<(&str, Value, Vec<i64>)> = vec![
            ("{ actor { user { name } } }", json!({}), vec![]),
            ("{ actor { account(id: 11) { name } } }", json!({}), vec![11]),
            ("query($a: Int!) { actor { account(id: $a) { name } } }", json!({"a": 12}), vec![12]),
            ("query($a: Int = 13) { actor { account(id: $a) { name } } }", json!({}), vec![13]),
            ("query($a: Int = 13) { actor { account(id: $a) { name } } }", json!({"a": 14}), vec![14]),
            (
                "{ actor { nrql(accounts: [15, 16], query: \"SELECT 1\") { results } } }",
                json!({}),
                vec![15, 16],
            ),
            (
                "query($ids: [Int!]!) { actor { nrql(accounts: $ids, query: \"x\") { results } } }",
                json!({"ids": [17, "18"]}),
                vec![17, 18],
            ),
            (
                "mutation($d: DashboardInput!) { dashboardCreate(accountId: 19, dashboard: $d) { errors { description } } }",
                json!({"d": {"name": "x", "pages": [{"widgets": [{"rawConfiguration": {"nrqlQueries": [{"accountIds": [20], "query": "SELECT 1"}]}}]}]}}),
                vec![19, 20],
            ),
            (
                "mutation { changeTrackingCreateDeployment(deployment: {entityGuid: \"g\", version: \"1\", accountId: 21}) { deploymentId } }",
                json!({}),
                vec![21],
            ),
            // An `id` elsewhere is not an account, nor is a number under another key.
            ("{ actor { entity(guid: \"abc\") { name } } }", json!({"id": 22, "limit": 23}), vec![]),
            (
                "query Q { actor { ...A } }\nfragment A on Actor { account(id: 24) { name } }",
                json!({}),
                vec![24],
            ),
        ];
        for (source, variables, expected) in cases {
            let operation = select(source, None).unwrap();
            let variables = variables.as_object().cloned().unwrap();
            let found: Vec<i64> = named_accounts(&operation, &variables).ids.into_iter().collect();
            assert_eq!(found, expected, "{source}");
        }
    }
}
