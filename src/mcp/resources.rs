//! MCP resources: an NRQL reference, the event types of an account, the attributes of an
//! event type, and an entity.
//!
//! Everything but the reference is read through the runtime with the same tools an agent
//! calls (`execute_nrql_query`, `get_entity`, `list_available_new_relic_accounts`), so the
//! cache, the NRQL policy, the account allow-list and the circuit breaker treat a resource
//! read exactly like a tool call. A read answers JSON (`application/json`) for programs
//! and a compact text for models; failures are JSON-RPC errors carrying the tool's own
//! words (a policy refusal reads the same as from the tool).

mod uri;

use newrelic_mcp_actors::call::CallError;
use newrelic_mcp_actors::runtime::RuntimeHandle;
use newrelic_mcp_actors::tool::{ToolError, ToolErrorKind};
use rmcp::model::{ErrorData, Resource, ResourceContents, ResourceTemplate};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::lookups::{self, EventTypes, Keyset, LOOKBACK, LookupError};
use super::with_error_id;
use crate::sanitize::{sanitize, sanitize_json};

pub(crate) use uri::{NRQL_REFERENCE, ResourceUri, UriError, attributes_uri, event_types_uri};

/// The NRQL reference served at `newrelic://reference/nrql`.
pub(crate) const NRQL_REFERENCE_TEXT: &str = include_str!("nrql_reference.md");

const JSON: &str = "application/json";
const MARKDOWN: &str = "text/markdown";
const TEXT: &str = "text/plain";

/// Accounts listed with their own event-types resource at most; the template reaches the rest.
pub(crate) const MAX_LISTED_ACCOUNTS: usize = 50;

/// The fixed resources and one event-types resource per account the server may use.
pub(crate) async fn list(runtime: &RuntimeHandle, cancel: &CancellationToken) -> Vec<Resource> {
    let mut resources = vec![reference_resource()];
    match lookups::call_tool(runtime, "list_available_new_relic_accounts", json!({}), cancel).await {
        Ok(output) => resources.extend(account_resources(&output.structured)),
        // The list still names what needs no account; the failure is the tool's to report.
        Err(error) => tracing::warn!(%error, "resources/list: the accounts could not be listed"),
    }
    resources
}

fn reference_resource() -> Resource {
    Resource::new(NRQL_REFERENCE, "nrql-reference")
        .with_title("NRQL reference")
        .with_description(
            "How to write NRQL: every clause, the functions, worked queries per task (golden signals, errors, \
             logs, infrastructure, percentiles, FACET, TIMESERIES, COMPARE WITH, subqueries) and the limits.",
        )
        .with_mime_type(MARKDOWN)
        .with_size(NRQL_REFERENCE_TEXT.len() as u64)
}

/// One `newrelic://accounts/{id}/event-types` per account in a `list_available_new_relic_accounts` answer.
pub(crate) fn account_resources(structured: &Value) -> Vec<Resource> {
    let accounts = structured.get("accounts").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    accounts
        .iter()
        .filter_map(|account| {
            let id = account.get("id").and_then(Value::as_i64).filter(|id| *id > 0)?;
            let name = account.get("name").and_then(Value::as_str).map(|name| sanitize(name).into_owned());
            let title = match &name {
                Some(name) => format!("Event types of {name} ({id})"),
                None => format!("Event types of account {id}"),
            };
            Some(
                Resource::new(event_types_uri(id), format!("event-types-{id}"))
                    .with_title(title)
                    .with_description(format!(
                        "The event types account {id} has data for ({}), each with the URI of its attributes.",
                        lookups::LOOKBACK_WORDS
                    ))
                    .with_mime_type(JSON),
            )
        })
        .take(MAX_LISTED_ACCOUNTS)
        .collect()
}

pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(uri::EVENT_TYPES_TEMPLATE, "event-types")
            .with_title("Event types of an account")
            .with_description(format!(
                "Runs SHOW EVENT TYPES SINCE {LOOKBACK} in the account: the event types (Transaction, Log, …) it \
                 can query."
            ))
            .with_mime_type(JSON),
        ResourceTemplate::new(uri::ATTRIBUTES_TEMPLATE, "event-type-attributes")
            .with_title("Attributes of an event type")
            .with_description(format!(
                "Runs SELECT keyset() FROM the event type SINCE {LOOKBACK}: its attributes, split into string, \
                 numeric and boolean. An unknown event type is an error listing the valid ones."
            ))
            .with_mime_type(JSON),
        ResourceTemplate::new(uri::ENTITY_TEMPLATE, "entity")
            .with_title("An entity")
            .with_description(
                "An entity by GUID, as get_entity returns it: type, account, reporting status, alert severity, \
                 tags and golden metric queries.",
            )
            .with_mime_type(JSON),
    ]
}

/// Reads one resource.
pub(crate) async fn read(
    runtime: &RuntimeHandle,
    uri: &str,
    cancel: &CancellationToken,
) -> Result<Vec<ResourceContents>, ErrorData> {
    match ResourceUri::parse(uri).map_err(uri_error)? {
        ResourceUri::NrqlReference => Ok(vec![
            ResourceContents::text(sanitize(NRQL_REFERENCE_TEXT).into_owned(), uri).with_mime_type(MARKDOWN),
        ]),
        ResourceUri::EventTypes { account } => {
            let types = lookups::event_types(runtime, Some(account), cancel).await.map_err(lookup_error)?;
            Ok(contents(uri, event_types_json(account, &types), event_types_text(account, &types)))
        }
        ResourceUri::Attributes { account, event_type } => {
            let keyset =
                lookups::keyset(runtime, Some(account), &event_type, cancel).await.map_err(lookup_error)?;
            Ok(contents(uri, keyset_json(account, &keyset), keyset_text(account, &keyset)))
        }
        ResourceUri::Entity { guid } => {
            let output = lookups::call_tool(runtime, "get_entity", json!({ "guid": guid }), cancel)
                .await
                .map_err(|error| lookup_error(LookupError::Call(error)))?;
            Ok(contents(uri, output.structured.clone(), output.text.clone()))
        }
    }
}

/// The JSON first (for programs), then the same as compact text (for models).
fn contents(uri: &str, mut structured: Value, text: String) -> Vec<ResourceContents> {
    sanitize_json(&mut structured);
    let json = serde_json::to_string_pretty(&structured).unwrap_or_else(|_| structured.to_string());
    vec![
        ResourceContents::text(json, uri).with_mime_type(JSON),
        ResourceContents::text(sanitize(&text).into_owned(), uri).with_mime_type(TEXT),
    ]
}

pub(crate) fn event_types_json(account: i64, types: &EventTypes) -> Value {
    let event_types: Vec<Value> = types
        .names
        .iter()
        .map(|name| json!({ "name": name, "attributes_uri": attributes_uri(account, name) }))
        .collect();
    json!({
        "account_id": account,
        "since": LOOKBACK,
        "nrql": types.nrql,
        "complete": types.complete,
        "count": types.names.len(),
        "event_types": event_types,
    })
}

pub(crate) fn event_types_text(account: i64, types: &EventTypes) -> String {
    let mut text = format!(
        "{} event types with data in account {account} since {LOOKBACK}{}:\n{}\n",
        types.names.len(),
        if types.complete { "" } else { " (the first ones only)" },
        types.names.join(", ")
    );
    if let Some(first) = types.names.first() {
        text.push_str(&format!(
            "Attributes of one: read {} (and so on for the others).\n",
            attributes_uri(account, first)
        ));
    }
    text
}

pub(crate) fn keyset_json(account: i64, keyset: &Keyset) -> Value {
    json!({
        "account_id": account,
        "event_type": keyset.event_type,
        "since": LOOKBACK,
        "nrql": keyset.nrql,
        "complete": keyset.complete,
        "count": keyset.all.len(),
        "attributes": keyset.all,
        "string_attributes": keyset.string,
        "numeric_attributes": keyset.numeric,
        "boolean_attributes": keyset.boolean,
    })
}

pub(crate) fn keyset_text(account: i64, keyset: &Keyset) -> String {
    let mut text = format!(
        "{} attributes of {} in account {account} since {LOOKBACK}:\n",
        keyset.all.len(),
        keyset.event_type
    );
    for (kind, names) in
        [("numeric", &keyset.numeric), ("string", &keyset.string), ("boolean", &keyset.boolean)]
    {
        if !names.is_empty() {
            text.push_str(&format!("{kind}: {}\n", names.join(", ")));
        }
    }
    let typed = keyset.numeric.len() + keyset.string.len() + keyset.boolean.len();
    if typed < keyset.all.len() {
        let other: Vec<&str> = keyset
            .all
            .iter()
            .filter(|name| {
                ![&keyset.numeric, &keyset.string, &keyset.boolean].iter().any(|list| list.contains(name))
            })
            .map(String::as_str)
            .collect();
        text.push_str(&format!("other: {}\n", other.join(", ")));
    }
    if keyset.all.is_empty() {
        text.push_str("No attributes: the event type has no data in that time.\n");
    }
    text
}

fn uri_error(error: UriError) -> ErrorData {
    let message = sanitize(&error.to_string()).into_owned();
    ErrorData::resource_not_found(message, Some(json!({ "supported_uris": uri::SUPPORTED })))
}

/// A failed lookup as a JSON-RPC error: what is not there is "resource not found", what
/// was refused or malformed is "invalid params", a failure of New Relic or of the server
/// is "internal error" with the tool's advice and whether a retry may help.
pub(crate) fn lookup_error(error: LookupError) -> ErrorData {
    match error {
        LookupError::UnknownEventType { event_type, known } => {
            let message = sanitize(
                &LookupError::UnknownEventType { event_type: event_type.clone(), known: known.clone() }
                    .to_string(),
            )
            .into_owned();
            ErrorData::resource_not_found(
                message,
                Some(json!({
                    "event_type": event_type,
                    "account_id": known.account,
                    "valid_event_types": known.names,
                    "complete": known.complete,
                })),
            )
        }
        LookupError::InvalidEventType { .. } => {
            ErrorData::resource_not_found(sanitize(&error.to_string()).into_owned(), None)
        }
        LookupError::Query(_) => tool_error(ToolError::new(ToolErrorKind::Internal, error.to_string())),
        LookupError::Call(CallError::Tool(error)) => tool_error(error),
        LookupError::Call(CallError::InvalidArguments { tool, reason }) => ErrorData::invalid_params(
            sanitize(&format!("invalid arguments for '{tool}': {reason}")).into_owned(),
            None,
        ),
        LookupError::Call(CallError::UnknownTool { name, .. }) => ErrorData::invalid_request(
            format!(
                "this resource is read with the tool '{name}', which this server has disabled; enable its category to read it"
            ),
            None,
        ),
    }
}

fn tool_error(error: ToolError) -> ErrorData {
    let error = with_error_id(error);
    let mut message = sanitize(&error.message).into_owned();
    if let Some(id) = &error.error_id {
        message.push_str(&format!(" [error id {id}]"));
    }
    let data = json!({
        "kind": format!("{:?}", error.kind),
        "retriable": error.kind.is_retriable(),
        "retry_after_seconds": error.retry_after.map(|delay| delay.as_secs_f64()),
        "error_id": error.error_id,
    });
    match error.kind {
        ToolErrorKind::NotFound => ErrorData::resource_not_found(message, Some(data)),
        ToolErrorKind::Policy | ToolErrorKind::BadRequest => ErrorData::invalid_params(message, Some(data)),
        _ => ErrorData::internal_error(message, Some(data)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::time::Duration;

    use rmcp::model::ErrorCode;

    use super::*;

    #[test]
    fn the_reference_covers_what_agents_need_and_passes_the_sanitizer_unchanged() {
        for needle in [
            "SELECT",
            "FROM",
            "WHERE",
            "FACET",
            "TIMESERIES",
            "COMPARE WITH",
            "SINCE",
            "UNTIL",
            "LIMIT MAX",
            "percentile(",
            "percentage(",
            "uniqueCount(",
            "keyset()",
            "SHOW EVENT TYPES",
            "Log",
            "SystemSample",
            "5,000",
            "3 subqueries",
            "120",
            "30 days",
            "3,000",
        ] {
            assert!(NRQL_REFERENCE_TEXT.contains(needle), "the reference lacks {needle}");
        }
        assert_eq!(sanitize(NRQL_REFERENCE_TEXT), NRQL_REFERENCE_TEXT);
    }

    #[test]
    fn every_example_query_in_the_reference_parses() {
        let mut checked = 0;
        for line in NRQL_REFERENCE_TEXT.lines() {
            let line = line.trim();
            let starts_query =
                ["SELECT ", "FROM ", "SHOW EVENT TYPES"].iter().any(|start| line.starts_with(start));
            if starts_query && !line.contains('…') && !line.contains('<') {
                newrelic_mcp_nrql::parse(line).unwrap_or_else(|error| panic!("{line}: {error}"));
                checked += 1;
            }
        }
        assert!(checked >= 25, "only {checked} example queries found");
    }

    #[test]
    fn lists_one_event_types_resource_per_account_bounded() {
        let structured = json!({"accounts": [
            {"id": 1, "name": "Prod"}, {"id": 2}, {"id": "x"}, {"id": -4, "name": "odd"}
        ]});
        let resources = account_resources(&structured);
        let uris: Vec<&str> = resources.iter().map(|resource| resource.uri.as_str()).collect();
        assert_eq!(uris, ["newrelic://accounts/1/event-types", "newrelic://accounts/2/event-types"]);
        assert_eq!(resources[0].title.as_deref(), Some("Event types of Prod (1)"));
        let many = json!({"accounts": (1..=200).map(|id| json!({"id": id})).collect::<Vec<_>>()});
        assert_eq!(account_resources(&many).len(), MAX_LISTED_ACCOUNTS);
        assert!(account_resources(&json!({})).is_empty());
    }

    #[test]
    fn renders_event_types_and_attributes_with_links() {
        let types = EventTypes {
            account: Some(3),
            names: vec!["Log".into(), "My Event".into()],
            complete: true,
            nrql: "q".into(),
        };
        let json = event_types_json(3, &types);
        assert_eq!(
            json["event_types"][1]["attributes_uri"],
            "newrelic://accounts/3/event-types/My%20Event/attributes"
        );
        assert!(event_types_text(3, &types).starts_with("2 event types with data in account 3"));
        let keyset = Keyset {
            account: Some(3),
            event_type: "Log".into(),
            all: vec!["level".into(), "message".into(), "odd".into(), "size".into()],
            string: vec!["level".into(), "message".into()],
            numeric: vec!["size".into()],
            boolean: vec![],
            complete: true,
            nrql: "q".into(),
        };
        let text = keyset_text(3, &keyset);
        assert!(text.contains("numeric: size\nstring: level, message\nother: odd\n"), "{text}");
        assert_eq!(keyset_json(3, &keyset)["count"], 4);
    }

    #[test]
    fn failures_become_the_json_rpc_errors_mcp_intends() {
        let known = EventTypes {
            account: Some(1),
            names: vec!["Transaction".into()],
            complete: true,
            nrql: "q".into(),
        };
        let tool = |kind| LookupError::Call(CallError::Tool(ToolError::new(kind, "the tool says why")));
        let cases = [
            (
                LookupError::UnknownEventType { event_type: "Nope".into(), known },
                ErrorCode::RESOURCE_NOT_FOUND,
                "valid event types: Transaction",
            ),
            (
                LookupError::InvalidEventType { given: "a`b".into(), reason: "it contains a backtick" },
                ErrorCode::RESOURCE_NOT_FOUND,
                "backtick",
            ),
            (tool(ToolErrorKind::NotFound), ErrorCode::RESOURCE_NOT_FOUND, "the tool says why"),
            (tool(ToolErrorKind::Policy), ErrorCode::INVALID_PARAMS, "the tool says why"),
            (tool(ToolErrorKind::UpstreamTransient), ErrorCode::INTERNAL_ERROR, "the tool says why"),
            (tool(ToolErrorKind::Internal), ErrorCode::INTERNAL_ERROR, "[error id "),
            (
                LookupError::Call(CallError::UnknownTool { name: "get_entity".into(), known: vec![] }),
                ErrorCode::INVALID_REQUEST,
                "disabled",
            ),
        ];
        for (error, code, needle) in cases {
            let rpc = lookup_error(error);
            assert_eq!(rpc.code, code, "{}", rpc.message);
            assert!(rpc.message.contains(needle), "{}", rpc.message);
        }
        let mut slow = ToolError::new(ToolErrorKind::Overloaded, "busy");
        slow.retry_after = Some(Duration::from_secs(2));
        let rpc = lookup_error(LookupError::Call(CallError::Tool(slow)));
        let data = rpc.data.unwrap();
        assert_eq!(data["retriable"], true);
        assert_eq!(data["retry_after_seconds"], 2.0);
    }
}
