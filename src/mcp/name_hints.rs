//! When an NRQL query finds nothing, says which event type or attribute name is wrong and
//! lists the valid ones.
//!
//! New Relic (and the sandbox) answer a query on an event type or attribute that does not
//! exist with empty rows, zeros or nulls rather than an error, so a typo looks like "no
//! traffic". After `execute_nrql_query` answers that way (or fails with a message about an
//! unknown name), the front asks the account for its event types and the attributes of
//! the queried ones, through the same cached tool, and adds a hint naming what is unknown.
//! Deciding whether to look and what the hint says are pure; only the lookups touch the
//! runtime, within a small time budget, and any failure leaves the answer as it was.

use std::time::Duration;

use newrelic_mcp_actors::runtime::RuntimeHandle;
use newrelic_mcp_nrql::ast::{Expr, Query, SelectItem};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::lookups::{self, EventTypes, Keyset, LOOKBACK_WORDS, LookupError, NRQL_TOOL};
use super::resources::attributes_uri;

/// Longest the lookups behind a hint may add to a call.
const HINT_BUDGET: Duration = Duration::from_secs(5);
/// Event types whose attributes are checked at most (one lookup each).
const MAX_TYPES_CHECKED: usize = 2;
/// Attribute names a hint lists at most.
const MAX_LISTED: usize = 100;
/// Row fields that describe a row rather than hold a result.
const BOOKKEEPING: [&str; 5] = ["beginTimeSeconds", "endTimeSeconds", "comparison", "facet", "timestamp"];

/// The names a query reads, to check against what the account holds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NameCheck {
    pub account: Option<i64>,
    pub event_types: Vec<String>,
    pub attributes: Vec<String>,
}

/// Whether answers of `tool` may carry a name hint.
pub(super) fn may_hint(tool: &str) -> bool {
    tool == NRQL_TOOL
}

/// What to check for an `execute_nrql_query` call with `arguments`, if its query parses
/// and reads event types.
pub(super) fn names_to_check(tool: &str, arguments: &Map<String, Value>) -> Option<NameCheck> {
    if tool != NRQL_TOOL {
        return None;
    }
    let query = arguments.get("nrql_query")?.as_str()?;
    let parsed = newrelic_mcp_nrql::parse(query).ok()?;
    let event_types: Vec<String> = parsed.event_types().into_iter().map(str::to_string).collect();
    if event_types.is_empty() {
        return None;
    }
    let account = arguments.get("account_id").and_then(Value::as_i64);
    Some(NameCheck { account, event_types, attributes: attributes_read(&parsed) })
}

/// Attribute names a query reads, aliases and `timestamp` aside, in order of appearance.
fn attributes_read(query: &Query) -> Vec<String> {
    let Some(select) = query.as_select() else { return Vec::new() };
    let mut aliases: Vec<&str> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    select.visit_queries(&mut |inner| {
        for item in &inner.select {
            if let SelectItem::Expr { alias: Some(alias), .. } = item {
                aliases.push(alias);
            }
        }
        for variable in &inner.variables {
            aliases.extend(variable.names.iter().map(String::as_str));
        }
        inner.visit_exprs(&mut |expr| {
            if let Expr::Attribute(name) = expr
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        });
    });
    names.retain(|name| name != "timestamp" && !aliases.contains(&name.as_str()));
    names
}

/// Whether a result looks like what a wrong name gives: no rows, or rows whose every value
/// is null, zero or empty.
pub(super) fn looks_empty(structured: &Value) -> bool {
    let Some(rows) = structured.get("results").and_then(Value::as_array) else { return false };
    rows.iter().all(|row| match row {
        Value::Object(fields) => fields
            .iter()
            .filter(|(key, _)| !BOOKKEEPING.contains(&key.as_str()))
            .all(|(_, value)| is_nothing(value)),
        other => is_nothing(other),
    })
}

fn is_nothing(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::Array(items) => items.iter().all(is_nothing),
        Value::Object(fields) => fields.values().all(is_nothing),
        Value::Bool(_) | Value::String(_) => false,
    }
}

/// Whether an error message blames a name New Relic does not know.
pub(super) fn blames_a_name(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    let unknown = ["unknown", "not found", "does not exist", "no such", "invalid"]
        .iter()
        .any(|word| lower.contains(word));
    let name =
        ["event type", "eventtype", "attribute", "field", "column"].iter().any(|word| lower.contains(word));
    unknown && name
}

/// Looks the names up and says which are unknown; `None` when all are known or the
/// lookups fail or run out of time.
pub(super) async fn hint(
    runtime: &RuntimeHandle,
    check: &NameCheck,
    cancel: &CancellationToken,
) -> Option<String> {
    let lookups = async {
        let known = lookups::event_types(runtime, check.account, cancel).await.ok()?;
        if let Some(hint) = unknown_event_types_hint(check, &known) {
            return Some(hint);
        }
        if check.attributes.is_empty() {
            return None;
        }
        let mut keysets = Vec::new();
        for event_type in check.event_types.iter().take(MAX_TYPES_CHECKED) {
            match lookups::keyset(runtime, known.account, event_type, cancel).await {
                Ok(keyset) => keysets.push(keyset),
                Err(LookupError::UnknownEventType { .. }) => {}
                Err(_) => return None,
            }
        }
        unknown_attributes_hint(check, &keysets)
    };
    tokio::time::timeout(HINT_BUDGET, lookups).await.ok().flatten()
}

/// The hint for event types the account has no data for, when the list is complete.
pub(super) fn unknown_event_types_hint(check: &NameCheck, known: &EventTypes) -> Option<String> {
    if !known.complete {
        return None;
    }
    let unknown: Vec<&String> = check.event_types.iter().filter(|name| !known.contains(name)).collect();
    let messages: Vec<String> = unknown
        .into_iter()
        .map(|name| {
            LookupError::UnknownEventType { event_type: name.clone(), known: known.clone() }.to_string()
        })
        .collect();
    (!messages.is_empty()).then(|| format!("Likely cause: {}.", messages.join("; ")))
}

/// The hint for attributes that none of the queried event types carries.
pub(super) fn unknown_attributes_hint(check: &NameCheck, keysets: &[Keyset]) -> Option<String> {
    let with_data: Vec<&Keyset> = keysets.iter().filter(|keyset| !keyset.all.is_empty()).collect();
    if with_data.is_empty() || with_data.iter().any(|keyset| !keyset.complete) {
        return None;
    }
    let unknown: Vec<&String> = check
        .attributes
        .iter()
        .filter(|name| !with_data.iter().any(|keyset| keyset.contains(name)))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for name in unknown {
        let mut part = format!("attribute '{name}' is not on {}", type_names(&with_data));
        if let Some(near) = with_data.iter().find_map(|keyset| nearest(name, &keyset.all)) {
            part.push_str(&format!(" (did you mean '{near}'?)"));
        }
        parts.push(part);
    }
    let listings: Vec<String> = with_data.iter().map(|keyset| attribute_listing(keyset)).collect();
    Some(format!("Likely cause: {} in {LOOKBACK_WORDS}. {}", parts.join("; "), listings.join(" ")))
}

fn type_names(keysets: &[&Keyset]) -> String {
    keysets.iter().map(|keyset| keyset.event_type.as_str()).collect::<Vec<_>>().join(" or ")
}

fn attribute_listing(keyset: &Keyset) -> String {
    let shown: Vec<&str> = keyset.all.iter().take(MAX_LISTED).map(String::as_str).collect();
    let mut listing = format!("Attributes of {}: {}", keyset.event_type, shown.join(", "));
    if keyset.all.len() > MAX_LISTED {
        let account = keyset.account.map_or_else(String::new, |account| {
            format!(" (all of them: {})", attributes_uri(account, &keyset.event_type))
        });
        listing.push_str(&format!(" and {} more{account}", keyset.all.len() - MAX_LISTED));
    }
    listing.push('.');
    listing
}

/// A known name equal to `wanted` but for case, or within two edits of it.
fn nearest<'a>(wanted: &str, known: &'a [String]) -> Option<&'a str> {
    if let Some(same) = known.iter().find(|name| name.eq_ignore_ascii_case(wanted)) {
        return Some(same);
    }
    known
        .iter()
        .map(|name| (edit_distance(&wanted.to_lowercase(), &name.to_lowercase()), name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.as_str())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn arguments(query: &str) -> Map<String, Value> {
        let Value::Object(map) = json!({"nrql_query": query, "account_id": 9}) else { unreachable!() };
        map
    }

    #[test]
    fn checks_only_nrql_queries_that_read_event_types() {
        let check = names_to_check(
            "execute_nrql_query",
            &arguments("SELECT average(durration) AS d, count(*) FROM Transaction WHERE appName = 'x' FACET host ORDER BY d"),
        )
        .unwrap();
        assert_eq!(check.account, Some(9));
        assert_eq!(check.event_types, ["Transaction"]);
        assert_eq!(check.attributes, ["durration", "appName", "host"]);
        assert_eq!(
            names_to_check(
                "execute_nrql_query",
                &arguments("SELECT count(*) FROM A, B WHERE x IN (SELECT uniques(x) FROM C)")
            )
            .unwrap()
            .event_types,
            ["A", "B", "C"]
        );
        assert!(names_to_check("get_entity", &arguments("SELECT count(*) FROM A")).is_none());
        assert!(names_to_check("execute_nrql_query", &arguments("SHOW EVENT TYPES")).is_none());
        assert!(names_to_check("execute_nrql_query", &arguments("SELEC nonsense")).is_none());
    }

    #[test]
    fn tells_empty_looking_results_from_real_ones() {
        let cases = [
            (json!({"results": []}), true),
            (json!({"results": [{"count": 0}]}), true),
            (json!({"results": [{"average.duration": null}]}), true),
            (json!({"results": [{"percentile.duration": {"95": null}}]}), true),
            (json!({"results": [{"beginTimeSeconds": 1, "endTimeSeconds": 2, "count": 0}]}), true),
            (json!({"results": [{"count": 3}]}), false),
            (json!({"results": [{"appName": "x", "count": 0}]}), false),
            (json!({"results": [{"eventType": "Log"}]}), false),
            (json!({"error": "x"}), false),
        ];
        for (structured, expected) in cases {
            assert_eq!(looks_empty(&structured), expected, "{structured}");
        }
    }

    #[test]
    fn recognises_errors_that_blame_a_name() {
        assert!(blames_a_name("Unknown event type 'Transactions'"));
        assert!(blames_a_name("NRQL: attribute durration does not exist"));
        assert!(!blames_a_name("NRQL timed out after 5 s"));
        assert!(!blames_a_name("Unknown function foo()"));
    }

    fn check(types: &[&str], attributes: &[&str]) -> NameCheck {
        NameCheck {
            account: Some(9),
            event_types: types.iter().map(|name| name.to_string()).collect(),
            attributes: attributes.iter().map(|name| name.to_string()).collect(),
        }
    }

    #[test]
    fn names_unknown_event_types_with_the_valid_ones() {
        let known = EventTypes {
            account: Some(9),
            names: vec!["Log".into(), "Transaction".into()],
            complete: true,
            nrql: "q".into(),
        };
        let hint = unknown_event_types_hint(&check(&["transaction"], &[]), &known).unwrap();
        assert!(hint.contains("did you mean 'Transaction'"), "{hint}");
        assert!(hint.contains("valid event types: Log, Transaction"), "{hint}");
        assert!(unknown_event_types_hint(&check(&["Log"], &[]), &known).is_none());
        let partial = EventTypes { complete: false, ..known };
        assert!(unknown_event_types_hint(&check(&["Nope"], &[]), &partial).is_none());
    }

    #[test]
    fn names_unknown_attributes_with_a_near_miss_and_the_valid_ones() {
        let keyset = Keyset {
            account: Some(9),
            event_type: "Transaction".into(),
            all: vec!["appName".into(), "duration".into(), "host".into()],
            complete: true,
            ..Keyset::default()
        };
        let hint = unknown_attributes_hint(
            &check(&["Transaction"], &["durration", "appName", "Host"]),
            std::slice::from_ref(&keyset),
        )
        .unwrap();
        assert!(
            hint.contains("attribute 'durration' is not on Transaction (did you mean 'duration'?)"),
            "{hint}"
        );
        assert!(hint.contains("attribute 'Host' is not on Transaction (did you mean 'host'?)"), "{hint}");
        assert!(hint.contains("Attributes of Transaction: appName, duration, host."), "{hint}");
        assert!(!hint.contains("'appName' is not"), "{hint}");
        assert!(
            unknown_attributes_hint(&check(&["Transaction"], &["duration"]), std::slice::from_ref(&keyset))
                .is_none()
        );
        let many = Keyset { all: (0..150).map(|i| format!("a{i}")).collect(), ..keyset };
        let hint = unknown_attributes_hint(&check(&["Transaction"], &["zzz"]), &[many]).unwrap();
        assert!(
            hint.contains(
                "and 50 more (all of them: newrelic://accounts/9/event-types/Transaction/attributes)"
            ),
            "{hint}"
        );
        assert!(unknown_attributes_hint(&check(&["T"], &["x"]), &[Keyset::default()]).is_none());
    }

    #[test]
    fn measures_edits() {
        for (a, b, distance) in
            [("", "", 0), ("duration", "durration", 1), ("host", "hots", 2), ("abc", "", 3)]
        {
            assert_eq!(edit_distance(a, b), distance, "{a} {b}");
        }
    }
}
