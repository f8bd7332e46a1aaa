//! Which accounts a raw document names, so that the account allow-list holds for it too.
//!
//! NerdGraph scopes data to an account in two ways, both read here wherever they are written:
//! literally, as a variable, as a variable's default, inside lists and input objects, in
//! fragments.
//!
//! - By account id: `account(id:)`, and every argument or input field whose name, in any case,
//!   is or ends in `Account`, `Accounts`, `AccountId` or `AccountIds` (`accountId`, `accounts`
//!   for cross-account NRQL, `dataAccountId` of a condition's query, `joinAccounts`,
//!   `sourceAccountId`, `destinationAccountIds`, `ownerAccount`, a golden context's `account`),
//!   also inside input objects such as a dashboard's widget queries. Two such names hold other
//!   kinds of account and are not read: `awsAccountId` (an AWS account) and `linkedAccountId`
//!   (a cloud provider account linked to New Relic, whose New Relic account is the call's
//!   `accountId`). An input object under an account name (`scopeAccounts`, `managedAccount`,
//!   a cloud link's `accounts`) is read by its own fields' names, since the schema puts objects
//!   there; NerdGraph refuses an object where its type wants an integer.
//! - By entity GUID, which carries its account: every argument or input field whose name is
//!   `guid` or `guids` or ends in `Guid` or `Guids` (any case: `entityGuid`, `entityGuids`,
//!   `sourceEntityGuid`, `linkedEntityGuids`, `monitorGuid`), plus `targetEntity`, the one
//!   field of NerdGraph's `EntityGuid` type named otherwise. The GUID is read by the product's
//!   one decoder ([`guid_account`]).
//!
//! Under an allow-list every account so named must be allowed, every root field of a mutation
//! (also one reached through a fragment) must name an account of its own, since New Relic applies
//! one that names none wherever the key reaches whatever its neighbours name, and a value that cannot be read
//! as an account (a non-integer id, a GUID that names no account) is refused, since NerdGraph
//! may still resolve it to any account the key reaches. Fields that search across accounts
//! without naming one (entity search, the account list) answer with what the API key can see,
//! and an entity's own fields may lead to related entities of other accounts; the tool's
//! description says so.

use std::collections::BTreeSet;

use apollo_compiler::ast::{Definition, Selection, Value as GraphQlValue};
use newrelic_mcp_actors::tool::{PlanContext, ToolError, ToolErrorKind};
use serde_json::{Map, Value};

use super::document::Operation;
use crate::tools::account::check_allowed;
use crate::tools::entity_ref::{guid_account, unreadable_guid};

/// How the names of arguments and input fields that hold account ids end, in lower case.
const ACCOUNT_KEY_ENDINGS: [&str; 4] = ["account", "accounts", "accountid", "accountids"];

/// Names that end like an account key but hold another kind of account.
const NOT_NEW_RELIC_ACCOUNTS: [&str; 2] = ["awsAccountId", "linkedAccountId"];

/// Names of NerdGraph's `EntityGuid` arguments and input fields that do not end in `Guid(s)`.
const GUID_KEYS_NAMED_OTHERWISE: [&str; 1] = ["targetEntity"];

/// What a value under an argument or input field holds, by the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    AccountIds,
    EntityGuids,
    Other,
}

fn holds(name: &str) -> Holds {
    let lower = name.to_ascii_lowercase();
    if NOT_NEW_RELIC_ACCOUNTS.iter().any(|key| key.eq_ignore_ascii_case(name)) {
        Holds::Other
    } else if ACCOUNT_KEY_ENDINGS.iter().any(|ending| lower.ends_with(ending)) {
        Holds::AccountIds
    } else if lower.ends_with("guid")
        || lower.ends_with("guids")
        || GUID_KEYS_NAMED_OTHERWISE.iter().any(|key| key.eq_ignore_ascii_case(name))
    {
        Holds::EntityGuids
    } else {
        Holds::Other
    }
}

/// The accounts an operation names.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NamedAccounts {
    /// Accounts named by id.
    pub ids: BTreeSet<i64>,
    /// Accounts named through the entity GUIDs the operation passes.
    pub entity_accounts: BTreeSet<i64>,
    /// The first value under an account key that is not an integer account id (a float, a
    /// word): NerdGraph might still read it as an account, so an allow-list cannot vouch for it.
    pub unreadable: Option<String>,
    /// The first value under a GUID key that names no account.
    pub unreadable_guid: Option<String>,
}

impl NamedAccounts {
    /// Every account named, by id or by entity GUID.
    pub(crate) fn all(&self) -> BTreeSet<i64> {
        self.ids.union(&self.entity_accounts).copied().collect()
    }

    /// Under an allow-list: refuses an account outside it, and a value that cannot be read as
    /// an account.
    pub(crate) fn check_allowed(&self, context: &PlanContext) -> Result<(), ToolError> {
        if context.allowed_accounts.is_none() {
            return Ok(());
        }
        if let Some(value) = &self.unreadable {
            return Err(ToolError::new(
                ToolErrorKind::Policy,
                format!(
                    "{value} sits where an account id goes but is not an integer account id; with an account \
                     allow-list every account the document names must be written as an integer"
                ),
            ));
        }
        if let Some(guid) = &self.unreadable_guid {
            return Err(unreadable_guid(guid));
        }
        self.all().into_iter().try_for_each(|account| check_allowed(account, context))
    }
}

/// Every account the operation names, with `variables` substituted.
pub(crate) fn named_accounts(operation: &Operation, variables: &Map<String, Value>) -> NamedAccounts {
    let mut scan = Scan::new(operation, variables, false);
    for definition in &operation.document.definitions {
        match definition {
            Definition::OperationDefinition(definition) => scan.selections(&definition.selection_set),
            Definition::FragmentDefinition(fragment) => scan.selections(&fragment.selection_set),
            _ => {}
        }
    }
    scan.found
}

/// Under an allow-list, refuses a mutation with a root field that names no account, by the
/// first such field.
pub(crate) fn check_each_root_field_names_an_account(
    operation: &Operation,
    variables: &Map<String, Value>,
    context: &PlanContext,
) -> Result<(), ToolError> {
    if context.allowed_accounts.is_none() {
        return Ok(());
    }
    let mut fields = Vec::new();
    let mut visited = BTreeSet::new();
    for definition in &operation.document.definitions {
        if let Definition::OperationDefinition(definition) = definition {
            root_fields(operation, &definition.selection_set, &mut visited, &mut fields);
        }
    }
    for field in fields {
        let mut scan = Scan::new(operation, variables, true);
        scan.selections(std::slice::from_ref(field));
        if scan.found.all().is_empty()
            && scan.found.unreadable.is_none()
            && scan.found.unreadable_guid.is_none()
        {
            let name = match field {
                Selection::Field(field) => field.name.to_string(),
                _ => String::new(),
            };
            return Err(ToolError::new(
                ToolErrorKind::Policy,
                format!(
                    "{name} names no account (no account id, no entity GUID), so with an account allow-list \
                     nothing says which account it changes; New Relic applies it wherever the key reaches, \
                     whatever the document's other fields name"
                ),
            ));
        }
    }
    Ok(())
}

/// The root fields of the operation, through inline fragments and fragment spreads.
fn root_fields<'d>(
    operation: &'d Operation,
    selections: &'d [Selection],
    visited: &mut BTreeSet<&'d str>,
    out: &mut Vec<&'d Selection>,
) {
    for selection in selections {
        match selection {
            Selection::Field(_) => out.push(selection),
            Selection::InlineFragment(inline) => root_fields(operation, &inline.selection_set, visited, out),
            Selection::FragmentSpread(spread) => {
                if visited.insert(spread.fragment_name.as_str())
                    && let Some(fragment) = fragment(operation, spread.fragment_name.as_str())
                {
                    root_fields(operation, &fragment.selection_set, visited, out);
                }
            }
        }
    }
}

fn fragment<'d>(
    operation: &'d Operation,
    name: &str,
) -> Option<&'d apollo_compiler::ast::FragmentDefinition> {
    operation.document.definitions.iter().find_map(|definition| match definition {
        Definition::FragmentDefinition(fragment) if fragment.name.as_str() == name => Some(&**fragment),
        _ => None,
    })
}

struct Scan<'a> {
    operation: &'a Operation,
    variables: &'a Map<String, Value>,
    found: NamedAccounts,
    /// Whether fragment spreads are followed where they are used: so when one root field is
    /// scanned alone; the whole document scans each fragment once as a definition instead.
    follow_spreads: bool,
    visited: BTreeSet<String>,
}

impl<'a> Scan<'a> {
    fn new(operation: &'a Operation, variables: &'a Map<String, Value>, follow_spreads: bool) -> Self {
        Scan {
            operation,
            variables,
            found: NamedAccounts::default(),
            follow_spreads,
            visited: BTreeSet::new(),
        }
    }

    fn selections(&mut self, selections: &[Selection]) {
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    for argument in &field.arguments {
                        let holding = if field.name.as_str() == "account" && argument.name.as_str() == "id" {
                            Holds::AccountIds
                        } else {
                            holds(argument.name.as_str())
                        };
                        self.literal(&argument.value, holding);
                    }
                    self.selections(&field.selection_set);
                }
                Selection::InlineFragment(inline) => self.selections(&inline.selection_set),
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name.as_str();
                    if self.follow_spreads
                        && self.visited.insert(name.to_string())
                        && let Some(fragment) = fragment(self.operation, name)
                    {
                        self.selections(&fragment.selection_set);
                    }
                }
            }
        }
    }

    /// A value written in the document, under a field that `holding` says what it holds.
    fn literal(&mut self, value: &GraphQlValue, holding: Holds) {
        match (value, holding) {
            (GraphQlValue::List(items), _) => items.iter().for_each(|item| self.literal(item, holding)),
            // No GUID argument or input field of the schema takes an object, and NerdGraph might
            // still find a GUID inside one.
            (GraphQlValue::Object(_), Holds::EntityGuids) => self.unreadable_guid(&value.to_string()),
            (GraphQlValue::Object(fields), _) => {
                fields.iter().for_each(|(name, value)| self.literal(value, holds(name.as_str())));
            }
            (GraphQlValue::Variable(name), _) => match self.variables.get(name.as_str()) {
                Some(given) => self.json(given, holding),
                None => {
                    let default =
                        self.operation.variable(name.as_str()).and_then(|v| v.default_value.clone());
                    if let Some(default) = default {
                        self.literal(&default, holding);
                    }
                }
            },
            (GraphQlValue::Null, _) | (_, Holds::Other) => {}
            (GraphQlValue::Int(number), Holds::AccountIds) => self.account_text(number.as_str()),
            (GraphQlValue::String(text), Holds::AccountIds) => self.account_text(text),
            (GraphQlValue::Float(number), Holds::AccountIds) => self.unreadable(number.as_str()),
            (GraphQlValue::Enum(name), Holds::AccountIds) => self.unreadable(name.as_str()),
            (GraphQlValue::Boolean(value), Holds::AccountIds) => self.unreadable(&value.to_string()),
            (GraphQlValue::String(text), Holds::EntityGuids) => self.guid(text),
            (GraphQlValue::Int(number), Holds::EntityGuids) => self.guid(number.as_str()),
            (GraphQlValue::Float(number), Holds::EntityGuids) => self.guid(number.as_str()),
            (GraphQlValue::Enum(name), Holds::EntityGuids) => self.guid(name.as_str()),
            (GraphQlValue::Boolean(value), Holds::EntityGuids) => self.guid(&value.to_string()),
        }
    }

    /// A value passed in the variables.
    fn json(&mut self, value: &Value, holding: Holds) {
        match (value, holding) {
            (Value::Array(items), _) => items.iter().for_each(|item| self.json(item, holding)),
            (Value::Object(_), Holds::EntityGuids) => self.unreadable_guid(&value.to_string()),
            (Value::Object(fields), _) => fields.iter().for_each(|(key, value)| self.json(value, holds(key))),
            (Value::Null, _) | (_, Holds::Other) => {}
            (Value::Number(number), Holds::AccountIds) => match number.as_i64() {
                Some(account) => {
                    self.found.ids.insert(account);
                }
                None => self.unreadable(&number.to_string()),
            },
            (Value::String(text), Holds::AccountIds) => self.account_text(text),
            (Value::Bool(value), Holds::AccountIds) => self.unreadable(&value.to_string()),
            (Value::String(text), Holds::EntityGuids) => self.guid(text),
            (other, Holds::EntityGuids) => self.guid(&other.to_string()),
        }
    }

    fn account_text(&mut self, text: &str) {
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

    fn guid(&mut self, text: &str) {
        match guid_account(text) {
            Some(account) => {
                self.found.entity_accounts.insert(account);
            }
            None => self.unreadable_guid(text),
        }
    }

    fn unreadable_guid(&mut self, text: &str) {
        self.found.unreadable_guid.get_or_insert_with(|| text.to_string());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::type_complexity)]

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

    fn guid(account: i64) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{account}|APM|APPLICATION|1"))
    }

    #[test]
    fn finds_the_accounts_of_entity_guids_wherever_they_are_written() {
        let (a, b) = (guid(31), guid(32));
        let cases: Vec<(String, Value, Vec<i64>)> = vec![
            (format!("{{ actor {{ entity(guid: \"{a}\") {{ name }} }} }}"), json!({}), vec![31]),
            (format!("{{ actor {{ entities(guids: [\"{a}\", \"{b}\"]) {{ name }} }} }}"), json!({}), vec![31, 32]),
            ("query($g: EntityGuid!) { actor { entity(guid: $g) { name } } }".into(), json!({"g": b}), vec![32]),
            ("query($g: [EntityGuid]) { actor { entities(guids: $g) { name } } }".into(), json!({"g": [a, b]}), vec![31, 32]),
            ("query($g: EntityGuid!) { actor { entities(guids: [$g]) { name } } }".into(), json!({"g": a}), vec![31]),
            (format!("query($g: EntityGuid = \"{b}\") {{ actor {{ entity(guid: $g) {{ name }} }} }}"), json!({}), vec![32]),
            (
                format!("query Q {{ actor {{ ...F }} }}\nfragment F on Actor {{ entity(guid: \"{a}\") {{ name }} }}"),
                json!({}),
                vec![31],
            ),
            // Input objects, written or passed, under any GUID-holding name and any case.
            (
                format!("mutation {{ changeTrackingCreateDeployment(deployment: {{entityGuid: \"{a}\", version: \"1\"}}) {{ deploymentId }} }}"),
                json!({}),
                vec![31],
            ),
            (
                "mutation($d: ChangeTrackingDeploymentInput!) { changeTrackingCreateDeployment(deployment: $d) { deploymentId } }".into(),
                json!({"d": {"entityGuid": b, "version": "1"}}),
                vec![32],
            ),
            (
                format!("mutation {{ entityRelationshipUserDefinedCreateOrReplace(sourceEntityGuid: \"{a}\", targetEntityGuid: \"{b}\", type: CALLS) {{ errors {{ message }} }} }}"),
                json!({}),
                vec![31, 32],
            ),
            (
                "mutation($d: DashboardInput!) { dashboardCreate(accountId: 33, dashboard: $d) { errors { description } } }".into(),
                json!({"d": {"pages": [{"widgets": [{"linkedEntityGuids": [a]}]}]}}),
                vec![31, 33],
            ),
            (
                "mutation($c: AlertsNrqlConditionStaticInput!) { alertsNrqlConditionStaticCreate(accountId: 33, policyId: 1, condition: $c) { id } }".into(),
                json!({"c": {"targetEntity": b, "ENTITYGUID": a}}),
                vec![31, 32, 33],
            ),
            // A variable the document does not use names nothing.
            ("{ actor { user { name } } }".into(), json!({"guid": a}), vec![]),
            // Null is no GUID.
            ("query($g: EntityGuid) { actor { entity(guid: $g) { name } } }".into(), json!({"g": null}), vec![]),
        ];
        for (source, variables, expected) in cases {
            let operation = select(&source, None).unwrap();
            let variables = variables.as_object().cloned().unwrap();
            let named = named_accounts(&operation, &variables);
            assert_eq!(named.all().into_iter().collect::<Vec<_>>(), expected, "{source}");
            assert_eq!(named.unreadable_guid, None, "{source}");
        }
    }

    #[test]
    fn a_guid_that_names_no_account_is_refused_under_an_allow_list_only() {
        use std::sync::Arc;
        use std::time::Duration;
        let context = |allowed: Option<Vec<i64>>| PlanContext {
            default_account: Some(31),
            allowed_accounts: allowed.map(Arc::from),
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(30),
        };
        let by_variable = "query($g: EntityGuid!) { actor { entity(guid: $g) { name } } }";
        let cases: Vec<(String, Value, Option<Vec<i64>>, Option<&str>)> = vec![
            (by_variable.into(), json!({"g": guid(31)}), Some(vec![31]), None),
            (by_variable.into(), json!({"g": guid(32)}), Some(vec![31]), Some("account 32 is outside")),
            (by_variable.into(), json!({"g": guid(32)}), None, None),
            (by_variable.into(), json!({"g": "bm9wZQ"}), Some(vec![31]), Some("does not name an account")),
            (by_variable.into(), json!({"g": "bm9wZQ"}), None, None),
            (by_variable.into(), json!({"g": 31}), Some(vec![31]), Some("does not name an account")),
            (
                "{ actor { entity(guid: \"%%%\") { name } } }".into(),
                json!({}),
                Some(vec![31]),
                Some("does not name an account"),
            ),
            (
                "{ actor { account(id: 1.5) { name } } }".into(),
                json!({}),
                Some(vec![31]),
                Some("not an integer account id"),
            ),
        ];
        for (source, variables, allowed, refusal) in cases {
            let operation = select(&source, None).unwrap();
            let named = named_accounts(&operation, variables.as_object().unwrap());
            let outcome = named.check_allowed(&context(allowed.clone()));
            match (outcome, refusal) {
                (Ok(()), None) => {}
                (Err(error), Some(needle)) => {
                    assert_eq!(error.kind, ToolErrorKind::Policy);
                    assert!(error.message.contains(needle), "{source} {variables}: {}", error.message);
                }
                (other, _) => panic!("{source} {variables} {allowed:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_say_what_a_field_holds() {
        let cases = [
            ("accountId", Holds::AccountIds),
            ("accountIds", Holds::AccountIds),
            ("accounts", Holds::AccountIds),
            ("account", Holds::AccountIds),
            ("dataAccountId", Holds::AccountIds),
            ("joinAccounts", Holds::AccountIds),
            ("sourceAccountId", Holds::AccountIds),
            ("destinationAccountIds", Holds::AccountIds),
            ("associatedAccountIds", Holds::AccountIds),
            ("allowedConditionAccountIds", Holds::AccountIds),
            ("affectedAccountId", Holds::AccountIds),
            ("ownerAccount", Holds::AccountIds),
            ("NRACCOUNTID", Holds::AccountIds),
            ("awsAccountId", Holds::Other),
            ("linkedAccountId", Holds::Other),
            ("accountingPeriod", Holds::Other),
            ("guid", Holds::EntityGuids),
            ("guids", Holds::EntityGuids),
            ("GUID", Holds::EntityGuids),
            ("entityGuid", Holds::EntityGuids),
            ("entityGuids", Holds::EntityGuids),
            ("sourceEntityGuid", Holds::EntityGuids),
            ("targetEntityGuids", Holds::EntityGuids),
            ("monitorGUID", Holds::EntityGuids),
            ("targetEntity", Holds::EntityGuids),
            ("id", Holds::Other),
            ("guidance", Holds::Other),
            ("name", Holds::Other),
        ];
        for (name, expected) in cases {
            assert_eq!(holds(name), expected, "{name}");
        }
    }

    /// Every argument and input field of NerdGraph's `EntityGuid` type, in the real schema,
    /// has a name the scan reads as holding GUIDs.
    #[test]
    fn every_entity_guid_field_of_the_schema_is_recognised_by_name() {
        use apollo_compiler::schema::{ExtendedType, Type};
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/nerdgraph/schema.graphql");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping the EntityGuid field check: {} is absent", path.display());
            return;
        };
        let schema = match apollo_compiler::Schema::parse(text, "schema.graphql") {
            Ok(schema) => schema,
            Err(partial) => partial.partial,
        };
        let is_guid = |ty: &Type| ty.inner_named_type().as_str() == "EntityGuid";
        let mut fields = Vec::new();
        for (type_name, ty) in &schema.types {
            match ty {
                ExtendedType::InputObject(input) => {
                    for (name, field) in &input.fields {
                        if is_guid(&field.ty) {
                            fields.push((format!("{type_name}.{name}"), name.to_string()));
                        }
                    }
                }
                ExtendedType::Object(object) => {
                    for (field_name, field) in &object.fields {
                        for argument in &field.arguments {
                            if is_guid(&argument.ty) {
                                let place = format!("{type_name}.{field_name}({})", argument.name);
                                fields.push((place, argument.name.to_string()));
                            }
                        }
                    }
                }
                ExtendedType::Interface(interface) => {
                    for (field_name, field) in &interface.fields {
                        for argument in &field.arguments {
                            if is_guid(&argument.ty) {
                                let place = format!("{type_name}.{field_name}({})", argument.name);
                                fields.push((place, argument.name.to_string()));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(fields.len() > 50, "the schema has EntityGuid arguments: {}", fields.len());
        let missed: Vec<&str> = fields
            .iter()
            .filter(|(_, name)| holds(name) != Holds::EntityGuids)
            .map(|(place, _)| place.as_str())
            .collect();
        assert!(missed.is_empty(), "EntityGuid fields the scan would not read: {missed:?}");
    }

    /// Every argument and input field of the real schema whose name mentions an account and
    /// whose type is an integer or an id (or a list of them) is read as holding account ids,
    /// but for the few that hold another kind of account, listed here with why.
    #[test]
    fn every_account_id_field_of_the_schema_is_recognised_by_name() {
        use apollo_compiler::schema::{ExtendedType, Type};
        // Not New Relic accounts: an AWS account (streaming export's firehose), and the id of a
        // cloud provider account linked to New Relic (the New Relic account is `accountId`).
        let excluded = ["awsAccountId", "linkedAccountId"];
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/nerdgraph/schema.graphql");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipping the account field check: {} is absent", path.display());
            return;
        };
        let schema = match apollo_compiler::Schema::parse(text, "schema.graphql") {
            Ok(schema) => schema,
            Err(partial) => partial.partial,
        };
        let is_account = |name: &str, ty: &Type| {
            name.to_ascii_lowercase().contains("account")
                && matches!(ty.inner_named_type().as_str(), "Int" | "ID")
                && match ty {
                    Type::Named(_) | Type::NonNullNamed(_) => true,
                    Type::List(inner) | Type::NonNullList(inner) => {
                        matches!(inner.as_ref(), Type::Named(_) | Type::NonNullNamed(_))
                    }
                }
        };
        let mut fields = Vec::new();
        let mut arguments_of =
            |type_name: &str,
             field_name: &str,
             arguments: &[apollo_compiler::Node<apollo_compiler::ast::InputValueDefinition>]| {
                for argument in arguments {
                    if is_account(argument.name.as_str(), &argument.ty) {
                        let place = format!("{type_name}.{field_name}({})", argument.name);
                        fields.push((place, argument.name.to_string()));
                    }
                }
            };
        let mut input_fields = Vec::new();
        for (type_name, ty) in &schema.types {
            match ty {
                ExtendedType::InputObject(input) => {
                    for (name, field) in &input.fields {
                        if is_account(name.as_str(), &field.ty) {
                            input_fields.push((format!("{type_name}.{name}"), name.to_string()));
                        }
                    }
                }
                ExtendedType::Object(object) => {
                    for (field_name, field) in &object.fields {
                        arguments_of(type_name.as_str(), field_name.as_str(), &field.arguments);
                    }
                }
                ExtendedType::Interface(interface) => {
                    for (field_name, field) in &interface.fields {
                        arguments_of(type_name.as_str(), field_name.as_str(), &field.arguments);
                    }
                }
                _ => {}
            }
        }
        fields.extend(input_fields);
        assert!(fields.len() > 100, "the schema has account arguments: {}", fields.len());
        let names: BTreeSet<&str> = fields.iter().map(|(_, name)| name.as_str()).collect();
        for name in ["dataAccountId", "joinAccounts", "sourceAccountId", "ownerAccount", "affectedAccountId"]
        {
            assert!(names.contains(name), "{name} is among the schema's account fields: {names:?}");
        }
        let missed: Vec<&str> = fields
            .iter()
            .filter(|(_, name)| !excluded.contains(&name.as_str()) && holds(name) != Holds::AccountIds)
            .map(|(place, _)| place.as_str())
            .collect();
        assert!(missed.is_empty(), "account fields the scan would not read: {missed:?}");
        for name in excluded {
            assert_eq!(holds(name), Holds::Other, "{name}");
        }
    }

    #[test]
    fn an_object_where_a_guid_goes_is_an_unreadable_guid() {
        let cases: Vec<(&str, Value)> = vec![
            ("{ actor { entity(guid: {a: 1}) { name } } }", json!({})),
            ("query($g: EntityGuid!) { actor { entity(guid: $g) { name } } }", json!({"g": {"a": 1}})),
            (
                "query($g: [EntityGuid]) { actor { entities(guids: $g) { name } } }",
                json!({"g": [{"entityGuid": "x"}]}),
            ),
        ];
        for (source, variables) in cases {
            let operation = select(source, None).unwrap();
            let named = named_accounts(&operation, variables.as_object().unwrap());
            assert!(named.unreadable_guid.is_some(), "{source} {variables}: {named:?}");
        }
    }
}
