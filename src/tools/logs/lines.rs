//! Log lines: the filters every log tool offers, and one line of text per log event.

use std::collections::BTreeMap;

use newrelic_mcp_nrql::ParamType;
use serde_json::{Value, json};

use crate::tools::nrql_tool::values::{text_at, time_ms};
use crate::tools::nrql_tool::{Condition, NrqlCall};
use crate::tools::render::cell;

/// The attributes a log line shows, after `timestamp` (which NRQL always returns).
pub(crate) const LINE_ATTRIBUTES: &str = "message, level, entity.name, hostname, trace.id";

/// Longest message shown in a text line; the structured content keeps it whole.
const MAX_MESSAGE_CHARS: usize = 300;

/// The optional filters of log queries: the emitting app, the level and the host.
pub(crate) fn filters() -> Vec<Condition> {
    vec![
        Condition::one("app", "entity.name = {{app}}", ParamType::String),
        Condition::one("level", "level = {{level}}", ParamType::String),
        Condition::one("host", "hostname = {{host}}", ParamType::String),
    ]
}

/// The filters of a call, checked.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub(crate) struct LogFilters {
    pub app: Option<String>,
    pub level: Option<String>,
    pub host: Option<String>,
}

impl LogFilters {
    pub(crate) fn new(
        app: Option<&str>,
        level: Option<&str>,
        host: Option<&str>,
    ) -> Result<Self, newrelic_mcp_actors::tool::PlanError> {
        use crate::tools::nrql_tool::args::optional_name;
        Ok(Self {
            app: optional_name("app_name", app)?,
            level: optional_name("level", level)?,
            host: optional_name("hostname", host)?,
        })
    }

    /// Switches the given filters on in `call`.
    pub(crate) fn apply<C>(&self, call: NrqlCall<C>) -> NrqlCall<C> {
        call.filter("app", self.app.clone())
            .filter("level", self.level.clone())
            .filter("host", self.host.clone())
    }

    /// `app web, level ERROR`, or `all logs`.
    pub(crate) fn describe(&self) -> String {
        let parts: Vec<String> = [("app", &self.app), ("level", &self.level), ("host", &self.host)]
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|value| format!("{name} {value}")))
            .collect();
        if parts.is_empty() { "all logs".to_string() } else { parts.join(", ") }
    }
}

/// One log event with stable keys for structured content.
pub(crate) fn line_json(row: &Value) -> Value {
    json!({
        "timestamp": row.get("timestamp").cloned().unwrap_or(Value::Null),
        "time": row.get("timestamp").and_then(Value::as_i64).map(time_ms),
        "level": text_at(row, "level"),
        "service": text_at(row, "entity.name").or_else(|| text_at(row, "service")),
        "hostname": text_at(row, "hostname"),
        "message": text_at(row, "message"),
        "trace_id": text_at(row, "trace.id"),
    })
}

/// `2024-05-15 12:30:00 ERROR payments-api@ip-10-0-1-12: message [trace abc]`.
pub(crate) fn line_text(row: &Value) -> String {
    let time = row.get("timestamp").and_then(Value::as_i64).map(time_ms).unwrap_or_else(|| "?".into());
    let level = text_at(row, "level").unwrap_or_else(|| "-".into());
    let service =
        text_at(row, "entity.name").or_else(|| text_at(row, "service")).unwrap_or_else(|| "?".into());
    let source = match text_at(row, "hostname") {
        Some(host) => format!("{service}@{host}"),
        None => service,
    };
    let message = text_at(row, "message").unwrap_or_default();
    let message: String = if message.chars().count() > MAX_MESSAGE_CHARS {
        format!("{}…", message.chars().take(MAX_MESSAGE_CHARS).collect::<String>())
    } else {
        message
    };
    let message = cell(&Value::String(message.replace('\n', " ⏎ ")));
    match text_at(row, "trace.id") {
        Some(trace) => format!("{time} {level} {source}: {message} [trace {trace}]"),
        None => format!("{time} {level} {source}: {message}"),
    }
}

/// Lines per level among `rows`.
pub(crate) fn level_counts(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(text_at(row, "level").unwrap_or_else(|| "(none)".into())).or_insert(0) += 1;
    }
    counts
}

/// `ERROR 3, INFO 12`.
pub(crate) fn counts_text<N: std::fmt::Display>(counts: &BTreeMap<String, N>) -> String {
    counts.iter().map(|(level, count)| format!("{level} {count}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_event() {
        let cases = [
            (
                json!({"timestamp": 1_715_776_200_000_i64, "level": "ERROR", "entity.name": "payments-api", "hostname": "h1", "message": "boom\nat x", "trace.id": "abc"}),
                "2024-05-15 12:30:00 ERROR payments-api@h1: boom ⏎ at x [trace abc]",
            ),
            (json!({"message": "plain"}), "? - ?: plain"),
            (json!({"timestamp": 0, "service": "web", "message": "m"}), "1970-01-01 00:00:00 - web: m"),
        ];
        for (row, expected) in cases {
            assert_eq!(line_text(&row), expected);
        }
        let long = json!({"message": "x".repeat(1000)});
        assert!(line_text(&long).chars().count() < 320);
        assert_eq!(line_json(&long)["message"].as_str().map(str::len), Some(1000));
    }

    #[test]
    fn describes_filters_and_counts_levels() {
        let filters = LogFilters::new(Some(" web "), Some("ERROR"), None).unwrap_or_default();
        assert_eq!(filters.describe(), "app web, level ERROR");
        assert_eq!(LogFilters::default().describe(), "all logs");
        assert!(LogFilters::new(Some(""), None, None).is_err());
        let counts =
            level_counts(&[json!({"level": "INFO"}), json!({"level": "ERROR"}), json!({"level": "INFO"})]);
        assert_eq!(counts_text(&counts), "ERROR 1, INFO 2");
    }
}
