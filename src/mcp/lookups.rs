//! What an account holds, asked through the runtime: its event types (`SHOW EVENT TYPES`)
//! and the attributes of one event type (`SELECT keyset()`).
//!
//! Both go through `execute_nrql_query` like any tool call, so the cache, the NRQL policy,
//! the account allow-list and the circuit breaker apply to them as to the agent's own
//! queries. Reading the tool's answer into names is pure and tested on its own.

use std::collections::BTreeMap;

use newrelic_mcp_actors::call::{CallError, CallResult, ToolCall};
use newrelic_mcp_actors::runtime::RuntimeHandle;
use newrelic_mcp_nrql::{ParamSpec, ParamType, Template};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// The tool every lookup runs through.
pub(super) const NRQL_TOOL: &str = "execute_nrql_query";
/// How far back a lookup looks for data, as NRQL reads it after `SINCE`.
pub(super) const LOOKBACK: &str = "1 day ago";
/// The same window in words, for messages.
pub(super) const LOOKBACK_WORDS: &str = "the last day";
/// Longest event type name accepted before asking New Relic anything.
const MAX_EVENT_TYPE_CHARS: usize = 255;

/// The event types an account has data for.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EventTypes {
    pub account: Option<i64>,
    /// Sorted, without duplicates.
    pub names: Vec<String>,
    /// False when the tool capped its rows, so some names may be missing.
    pub complete: bool,
    pub nrql: String,
}

impl EventTypes {
    /// The listed name equal to `wanted` but for case, for a "did you mean" hint.
    pub fn same_but_for_case(&self, wanted: &str) -> Option<&str> {
        self.names.iter().find(|name| name.eq_ignore_ascii_case(wanted)).map(String::as_str)
    }

    pub fn contains(&self, wanted: &str) -> bool {
        self.names.iter().any(|name| name == wanted)
    }
}

/// The attributes one event type carries, by value type.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Keyset {
    pub account: Option<i64>,
    pub event_type: String,
    /// Every attribute, sorted.
    pub all: Vec<String>,
    pub string: Vec<String>,
    pub numeric: Vec<String>,
    pub boolean: Vec<String>,
    pub complete: bool,
    pub nrql: String,
}

impl Keyset {
    pub fn contains(&self, attribute: &str) -> bool {
        attribute == "timestamp" || self.all.iter().any(|name| name == attribute)
    }
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum LookupError {
    /// The call through the runtime failed; the tool's own error, unchanged.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The event type cannot be an NRQL event type name at all.
    #[error("'{given}' is not an event type name: {reason}")]
    InvalidEventType { given: String, reason: &'static str },
    /// The account has no data of that event type.
    #[error("{}", unknown_event_type_message(.event_type, .known))]
    UnknownEventType { event_type: String, known: EventTypes },
    /// The query could not be built (a bug: the template is fixed).
    #[error("the attribute query could not be built: {0}")]
    Query(String),
}

fn unknown_event_type_message(event_type: &str, known: &EventTypes) -> String {
    let account = known.account.map(|id| format!(" in account {id}")).unwrap_or_default();
    let mut message = format!("event type '{event_type}' has no data{account} in {LOOKBACK_WORDS}");
    if let Some(near) = known.same_but_for_case(event_type) {
        message.push_str(&format!(" (event types are case-sensitive: did you mean '{near}'?)"));
    }
    if known.names.is_empty() {
        message.push_str("; the account has no events in that time at all");
    } else {
        let qualifier = if known.complete { "" } else { " (first ones only)" };
        message.push_str(&format!("; valid event types{qualifier}: {}", known.names.join(", ")));
    }
    message
}

/// Runs one tool through the runtime, as `tools/call` would.
pub(super) async fn call_tool(
    runtime: &RuntimeHandle,
    tool: &str,
    arguments: Value,
    cancel: &CancellationToken,
) -> CallResult {
    let arguments = match arguments {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut call = ToolCall::new(tool, arguments);
    call.cancel = cancel.clone();
    runtime.call(call).await
}

fn nrql_arguments(nrql: &str, account: Option<i64>) -> Value {
    let mut arguments = json!({ "nrql_query": nrql });
    if let (Some(account), Value::Object(map)) = (account, &mut arguments) {
        map.insert("account_id".into(), json!(account));
    }
    arguments
}

/// The event types `account` (the configured default when `None`) has data for.
pub(super) async fn event_types(
    runtime: &RuntimeHandle,
    account: Option<i64>,
    cancel: &CancellationToken,
) -> Result<EventTypes, LookupError> {
    let nrql = event_types_query();
    let output = call_tool(runtime, NRQL_TOOL, nrql_arguments(&nrql, account), cancel).await?;
    Ok(read_event_types(&output.structured, account, nrql))
}

/// The attributes of `event_type` in `account`; an event type without data is an error
/// that lists the valid ones.
pub(super) async fn keyset(
    runtime: &RuntimeHandle,
    account: Option<i64>,
    event_type: &str,
    cancel: &CancellationToken,
) -> Result<Keyset, LookupError> {
    check_event_type_name(event_type)?;
    let known = event_types(runtime, account, cancel).await?;
    let account = account.or(known.account);
    if known.complete && !known.contains(event_type) {
        return Err(LookupError::UnknownEventType { event_type: event_type.to_string(), known });
    }
    let nrql = keyset_query(event_type)?;
    let output = call_tool(runtime, NRQL_TOOL, nrql_arguments(&nrql, account), cancel).await?;
    let keyset = read_keyset(&output.structured, account, event_type, nrql);
    // With a capped list of event types, an empty keyset is the only sign the type is unknown.
    if !known.complete && keyset.all.is_empty() && !known.contains(event_type) {
        return Err(LookupError::UnknownEventType { event_type: event_type.to_string(), known });
    }
    Ok(keyset)
}

pub(super) fn event_types_query() -> String {
    format!("SHOW EVENT TYPES SINCE {LOOKBACK}")
}

/// Refuses what no event type can be called, before any query is built.
pub(super) fn check_event_type_name(name: &str) -> Result<(), LookupError> {
    let invalid = |reason| LookupError::InvalidEventType { given: name.to_string(), reason };
    if name.trim().is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.chars().count() > MAX_EVENT_TYPE_CHARS {
        return Err(invalid("it is longer than 255 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("it contains control characters"));
    }
    if name.contains('`') {
        return Err(invalid("it contains a backtick"));
    }
    Ok(())
}

/// `SELECT keyset() FROM <event_type> SINCE …`, the name placed into the syntax tree by a
/// template (and quoted by the printer where it needs backticks), never spliced into text.
pub(super) fn keyset_query(event_type: &str) -> Result<String, LookupError> {
    check_event_type_name(event_type)?;
    let spec = ParamSpec::new("event_type", ParamType::EventType(vec![event_type.to_string()]));
    let template =
        Template::parse(&format!("SELECT keyset() FROM {{{{event_type}}}} SINCE {LOOKBACK}"), &[spec])
            .map_err(|error| LookupError::Query(error.to_string()))?;
    let values = BTreeMap::from([("event_type".to_string(), json!(event_type))]);
    template.fill_to_string(&values).map_err(|error| LookupError::Query(error.to_string()))
}

fn rows(structured: &Value) -> &[Value] {
    structured.get("results").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn complete(structured: &Value) -> bool {
    structured.get("truncated").and_then(Value::as_bool) != Some(true)
}

fn answered_account(structured: &Value, asked: Option<i64>) -> Option<i64> {
    structured.get("account_id").and_then(Value::as_i64).or(asked)
}

/// Reads `SHOW EVENT TYPES` rows (`{"eventType": "…"}`) from the tool's structured output.
pub(super) fn read_event_types(structured: &Value, asked: Option<i64>, nrql: String) -> EventTypes {
    let mut names: Vec<String> = rows(structured)
        .iter()
        .filter_map(|row| row.get("eventType").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    EventTypes { account: answered_account(structured, asked), names, complete: complete(structured), nrql }
}

/// Reads a `keyset()` answer. New Relic gives one row of key lists
/// (`allKeys`, `stringKeys`, `numericKeys`, `booleanKeys`); rows of `{"key", "type"}` are
/// read too.
pub(super) fn read_keyset(structured: &Value, asked: Option<i64>, event_type: &str, nrql: String) -> Keyset {
    let mut keyset = Keyset {
        account: answered_account(structured, asked),
        event_type: event_type.to_string(),
        complete: complete(structured),
        nrql,
        ..Keyset::default()
    };
    for row in rows(structured) {
        let list = |field: &str| -> Vec<String> {
            row.get(field)
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        keyset.all.extend(list("allKeys"));
        keyset.string.extend(list("stringKeys"));
        keyset.numeric.extend(list("numericKeys"));
        keyset.boolean.extend(list("booleanKeys"));
        if let Some(key) = row.get("key").and_then(Value::as_str) {
            keyset.all.push(key.to_string());
            match row.get("type").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("string") => keyset.string.push(key.to_string()),
                Some("numeric" | "number") => keyset.numeric.push(key.to_string()),
                Some("boolean") => keyset.boolean.push(key.to_string()),
                _ => {}
            }
        }
    }
    keyset.all.extend(keyset.string.iter().chain(&keyset.numeric).chain(&keyset.boolean).cloned());
    for list in [&mut keyset.all, &mut keyset.string, &mut keyset.numeric, &mut keyset.boolean] {
        list.sort();
        list.dedup();
    }
    keyset
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn keyset_queries_quote_names_through_the_syntax_tree() {
        let cases = [
            ("Transaction", "SELECT keyset() FROM Transaction SINCE 1 day ago"),
            ("My Event", "SELECT keyset() FROM `My Event` SINCE 1 day ago"),
            ("select", "SELECT keyset() FROM `select` SINCE 1 day ago"),
            ("Log' OR 1=1", "SELECT keyset() FROM `Log' OR 1=1` SINCE 1 day ago"),
        ];
        for (event_type, expected) in cases {
            let query = keyset_query(event_type).unwrap();
            assert_eq!(query, expected, "{event_type}");
            let parsed = newrelic_mcp_nrql::parse(&query).unwrap();
            assert_eq!(parsed.event_types(), vec![event_type], "{event_type}");
        }
    }

    #[test]
    fn refuses_names_no_event_type_can_have() {
        for (name, reason) in [
            ("", "empty"),
            ("  ", "empty"),
            ("a`b", "backtick"),
            ("a\nb", "control"),
            (&"x".repeat(256), "255"),
        ] {
            let error = keyset_query(name).unwrap_err();
            assert!(error.to_string().contains(reason), "{name:?}: {error}");
        }
    }

    #[test]
    fn reads_event_types_sorted_and_notes_a_capped_list() {
        let structured = json!({
            "account_id": 7,
            "results": [{"eventType": "Transaction"}, {"eventType": "Log"}, {"eventType": "Log"}, {"other": 1}],
            "truncated": false
        });
        let types = read_event_types(&structured, None, "q".into());
        assert_eq!(types.names, ["Log", "Transaction"]);
        assert_eq!(types.account, Some(7));
        assert!(types.complete);
        assert!(!read_event_types(&json!({"truncated": true}), Some(3), "q".into()).complete);
        assert_eq!(read_event_types(&json!({}), Some(3), "q".into()).account, Some(3));
    }

    #[test]
    fn reads_both_keyset_shapes() {
        let lists = json!({"results": [{
            "allKeys": ["appName", "duration", "error", "odd"],
            "stringKeys": ["appName"], "numericKeys": ["duration"], "booleanKeys": ["error"]
        }]});
        let pairs = json!({"results": [
            {"key": "appName", "type": "string"}, {"key": "duration", "type": "numeric"},
            {"key": "error", "type": "boolean"}, {"key": "odd", "type": "mystery"}
        ]});
        for structured in [lists, pairs] {
            let keyset = read_keyset(&structured, Some(1), "Transaction", "q".into());
            assert_eq!(keyset.all, ["appName", "duration", "error", "odd"], "{structured}");
            assert_eq!(keyset.string, ["appName"]);
            assert_eq!(keyset.numeric, ["duration"]);
            assert_eq!(keyset.boolean, ["error"]);
            assert!(keyset.contains("timestamp") && keyset.contains("odd") && !keyset.contains("durration"));
        }
    }

    #[test]
    fn an_unknown_event_type_lists_the_valid_ones_and_the_near_miss() {
        let known = |complete| EventTypes {
            account: Some(5),
            names: vec!["Log".into(), "Transaction".into()],
            complete,
            nrql: "q".into(),
        };
        let cases = [
            (
                "transaction",
                true,
                vec!["account 5", "did you mean 'Transaction'", "valid event types: Log, Transaction"],
            ),
            ("Nope", true, vec!["'Nope' has no data", "valid event types: Log, Transaction"]),
            ("Nope", false, vec!["valid event types (first ones only): Log, Transaction"]),
        ];
        for (wanted, complete, needles) in cases {
            let message = LookupError::UnknownEventType { event_type: wanted.into(), known: known(complete) }
                .to_string();
            for needle in needles {
                assert!(message.contains(needle), "{wanted}: {message}");
            }
        }
        let empty = EventTypes { account: None, names: vec![], complete: true, nrql: "q".into() };
        let message = LookupError::UnknownEventType { event_type: "X".into(), known: empty }.to_string();
        assert!(message.contains("no events in that time at all"), "{message}");
    }
}
