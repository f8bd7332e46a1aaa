//! Logs: text search, patterns, and the latest lines.
//!
//! Each tool is one NRQL query over `Log` built from a template ([`super::nrql_tool`]);
//! searched text is a string value in the query tree, never query text. Patterns are
//! computed in the renderer: variable parts of messages are masked and equal patterns
//! grouped ([`patterns`]).

pub(crate) mod lines;
pub(crate) mod patterns;

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Plugin, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::builtin::Spec;
use super::data_access::NrqlSettings;
use super::nrql_tool::args;
use super::nrql_tool::values::{fixed, number_at, share, text_at, time_ms};
use super::nrql_tool::{NrqlAnswer, NrqlCall, Shape, nrql_tool};
use super::render::{Capped, MAX_ROWS};
use lines::{LINE_ATTRIBUTES, LogFilters, counts_text, level_counts, line_json, line_text};
use patterns::{MessageCount, group, is_error_level};

const CATEGORY: &str = "logs";

pub struct LogsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl LogsPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = &settings.policy;
        Self { tools: vec![search_logs(policy), get_log_patterns(policy), tail_logs(policy)] }
    }
}

impl Default for LogsPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(LogsPlugin, "logs", "Log search, patterns and tail");

/// The query shapes of this file, for the parse check.
#[cfg(test)]
fn shapes() -> Vec<Shape> {
    [search_shapes(), pattern_shapes(), tail_shapes()].concat()
}

/// The shape of `list_recent_logs` and `tail_logs` without a cursor: the latest lines.
pub(crate) fn recent_lines_shape(default_since: &str) -> Shape {
    Shape::new(
        "recent",
        format!("SELECT {LINE_ATTRIBUTES} FROM Log {{where}} SINCE {{{{since}}}} ago LIMIT {{{{limit}}}}"),
        vec![args::since_param(default_since), ParamSpec::new("limit", ParamType::Int)],
    )
    .with_conditions(lines::filters())
}

// --- search_logs ---------------------------------------------------------------------

const SEARCH_DEFAULT_SINCE: &str = "1 hour";
const SEARCH_DEFAULT_LIMIT: u32 = 50;
const SEARCH_MAX_LIMIT: u32 = 500;

fn search_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "search",
            format!(
                "SELECT {LINE_ATTRIBUTES} FROM Log WHERE {{{{field}}}} LIKE {{{{pattern}}}} {{and}} \
                 SINCE {{{{since}}}} ago LIMIT {{{{limit}}}}"
            ),
            vec![
                ParamSpec::new("field", ParamType::Identifier).with_default("message"),
                ParamSpec::new("pattern", ParamType::String),
                args::since_param(SEARCH_DEFAULT_SINCE),
                ParamSpec::new("limit", ParamType::Int),
            ],
        )
        .with_conditions(lines::filters()),
    ]
}

fn search_logs(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "search_logs",
            title: "Search logs",
            description: "Find log lines containing a text (in the message, or another attribute), newest \
                first, optionally only of one app, level or host. Returns time, level, app, host, message \
                and trace id per line, and the level mix of the matches.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(30)),
        },
        search_shapes(),
        policy,
        choose_search,
        render_search,
    )
}

/// Arguments of `search_logs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchLogsArgs {
    /// Text to find, e.g. `timeout` or `connection refused`; matched literally anywhere in
    /// the field (`%` and `_` are ordinary characters). One line: no control characters.
    pub query: String,
    /// Attribute to search (default `message`), e.g. `error.class`.
    pub field: Option<String>,
    /// Only lines of this app (the log's `entity.name`), e.g. `payments-api`.
    pub app_name: Option<String>,
    /// Only lines of this level, as logged, e.g. `ERROR`.
    pub level: Option<String>,
    /// Only lines from this host.
    pub hostname: Option<String>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `7 days` (default `1 hour`).
    pub since: Option<String>,
    /// Most lines to return, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct SearchContext {
    query: String,
    field: String,
    filters: String,
    window: String,
    limit: i64,
}

fn choose_search(args: SearchLogsArgs, _: &PlanContext) -> Result<NrqlCall<SearchContext>, PlanError> {
    let query = args.query.trim();
    if query.is_empty() {
        return Err(PlanError::InvalidArguments("query is empty: give the text to find".into()));
    }
    // Checked before trimming: a trailing line break is refused too, not silently dropped.
    if let Some(control) = args.query.chars().find(|c| c.is_control()) {
        return Err(PlanError::InvalidArguments(format!(
            "query holds the control character U+{:04X}: search for one line's text, without NUL, \
             line breaks or tabs",
            u32::from(control)
        )));
    }
    let filters = LogFilters::new(args.app_name.as_deref(), args.level.as_deref(), args.hostname.as_deref())?;
    let limit = args::limit("limit", args.limit, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT)?;
    let context = SearchContext {
        query: query.to_string(),
        field: args.field.clone().unwrap_or_else(|| "message".into()),
        filters: filters.describe(),
        window: args::since_label(args.since.as_deref(), SEARCH_DEFAULT_SINCE),
        limit,
    };
    // The wildcards are part of the value, so they match around the text and nothing else;
    // the text's own `%`, `_` and `\` are escaped so they match themselves.
    let pattern = format!("%{}%", escape_like(query));
    let call = NrqlCall::new("search", args.account_id, context)
        .value("pattern", pattern)
        .value("limit", limit)
        .value_opt("field", args.field)
        .value_opt("since", args.since);
    Ok(filters.apply(call))
}

/// `text` as a `LIKE` pattern that matches it literally: NRQL's one wildcard `%`, and the
/// backslash that escapes it, each get a backslash. `_` is an ordinary character in NRQL, so
/// it is left as it is: escaping it would make a search for `user_id` depend on how New Relic
/// reads a backslash before a character that needs no escape.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn render_search(answer: &NrqlAnswer, context: &SearchContext) -> Result<ToolOutput, ToolError> {
    let capped = Capped::new(answer.rows.clone(), MAX_ROWS);
    let mut text = format!(
        "{} with {} containing '{}' ({}, {}, account {}), newest first\n",
        capped.heading("line", "lines"),
        context.field,
        context.query,
        context.filters,
        context.window,
        answer.account
    );
    if capped.total == 0 {
        text.push_str(
            "No line matched. Try a shorter or different text, drop filters, or widen since; \
             get_log_patterns shows what the logs do say.\n",
        );
    } else {
        text.push_str(&format!("levels: {}\n", counts_text(&level_counts(&answer.rows))));
        if capped.total as i64 >= context.limit {
            text.push_str(&format!("(the limit of {} lines was reached; more may match)\n", context.limit));
        }
        for row in &capped.rows {
            text.push_str(&line_text(row));
            text.push('\n');
        }
    }
    let mut structured = Map::new();
    structured.insert("query".into(), json!(context.query));
    structured.insert("field".into(), json!(context.field));
    structured.insert("filters".into(), json!(context.filters));
    structured.insert("window".into(), json!(context.window));
    structured.insert("level_counts".into(), json!(level_counts(&answer.rows)));
    structured.extend(capped.counts());
    structured.insert("lines".into(), Value::Array(capped.rows.iter().map(line_json).collect()));
    Ok(answer.output(structured, text))
}

// --- get_log_patterns ----------------------------------------------------------------

const PATTERNS_DEFAULT_SINCE: &str = "1 hour";
const PATTERNS_DEFAULT_SAMPLE: u32 = 500;
const PATTERNS_MAX_SAMPLE: u32 = 1000;
/// Patterns shown in the text; the structured content has up to [`MAX_ROWS`].
const PATTERNS_IN_TEXT: usize = 20;

fn pattern_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "patterns",
            "SELECT count(*) AS 'count', max(timestamp) AS 'last_seen' FROM Log {where} FACET level, message \
             SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(PATTERNS_DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(lines::filters()),
    ]
}

fn get_log_patterns(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "get_log_patterns",
            title: "Get log patterns",
            description: "Group log messages into patterns (numbers, ids and UUIDs masked) and rank them by \
                line count: what the logs keep saying, with level mix, an example and when each was last \
                seen. Reads the most frequent distinct messages (default 500) in the window.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(60)),
        },
        pattern_shapes(),
        policy,
        choose_patterns,
        render_patterns,
    )
}

/// Arguments of `get_log_patterns`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetLogPatternsArgs {
    /// Only lines of this app (the log's `entity.name`), e.g. `payments-api`.
    pub app_name: Option<String>,
    /// Only lines of this level, as logged, e.g. `ERROR`.
    pub level: Option<String>,
    /// Only lines from this host.
    pub hostname: Option<String>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `1 day` (default `1 hour`).
    pub since: Option<String>,
    /// How many distinct messages to read, most frequent first, 1 to 1000 (default 500).
    pub sample_size: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct PatternsContext {
    filters: String,
    window: String,
    sample_size: i64,
}

fn choose_patterns(
    args: GetLogPatternsArgs,
    _: &PlanContext,
) -> Result<NrqlCall<PatternsContext>, PlanError> {
    let filters = LogFilters::new(args.app_name.as_deref(), args.level.as_deref(), args.hostname.as_deref())?;
    let sample_size =
        args::limit("sample_size", args.sample_size, PATTERNS_DEFAULT_SAMPLE, PATTERNS_MAX_SAMPLE)?;
    let context = PatternsContext {
        filters: filters.describe(),
        window: args::since_label(args.since.as_deref(), PATTERNS_DEFAULT_SINCE),
        sample_size,
    };
    let call = NrqlCall::new("patterns", args.account_id, context)
        .value("limit", sample_size)
        .value_opt("since", args.since);
    Ok(filters.apply(call))
}

/// The (level, message) facet rows of a pattern query, as counts.
pub(crate) fn message_counts(rows: &[Value]) -> Vec<MessageCount> {
    rows.iter()
        .map(|row| {
            let facets = super::nrql_tool::values::facets(row);
            MessageCount {
                level: text_at(row, "level").or_else(|| facets.first().cloned()).unwrap_or_default(),
                message: text_at(row, "message").or_else(|| facets.get(1).cloned()).unwrap_or_default(),
                count: number_at(row, "count").unwrap_or(0.0),
                last_seen_ms: number_at(row, "last_seen").map(|ms| ms as i64),
            }
        })
        .collect()
}

/// Structured form of a pattern group.
pub(crate) fn pattern_json(group: &patterns::PatternGroup, total: f64) -> Value {
    json!({
        "pattern": group.pattern,
        "count": group.count,
        "share_pct": share(group.count, total),
        "levels": group.levels,
        "variants": group.variants,
        "example": group.example,
        "last_seen": group.last_seen_ms.map(time_ms),
    })
}

fn render_patterns(answer: &NrqlAnswer, context: &PatternsContext) -> Result<ToolOutput, ToolError> {
    let messages = message_counts(&answer.rows);
    let total: f64 = messages.iter().map(|m| m.count).sum();
    let groups = group(&messages);
    let capped = Capped::new(groups.iter().map(|g| pattern_json(g, total)).collect(), MAX_ROWS);
    let mut text = format!(
        "{} in {} lines ({}, {}, account {})\n",
        capped.heading("pattern", "patterns"),
        fixed(total, 0),
        context.filters,
        context.window,
        answer.account
    );
    if messages.len() as i64 >= context.sample_size {
        text.push_str(&format!(
            "(read the {} most frequent distinct messages; rarer ones are left out — raise sample_size or narrow)\n",
            context.sample_size
        ));
    }
    if groups.is_empty() {
        text.push_str("No log lines in the window. Drop filters or widen since.\n");
    }
    for (rank, group) in groups.iter().take(PATTERNS_IN_TEXT).enumerate() {
        let errors: f64 =
            group.levels.iter().filter(|(level, _)| is_error_level(level)).map(|(_, n)| n).sum();
        text.push_str(&format!(
            "{}. {} lines ({}%){} — {}\n",
            rank + 1,
            fixed(group.count, 0),
            fixed(share(group.count, total).unwrap_or(0.0), 1),
            if errors > 0.0 { format!(", {} errors", fixed(errors, 0)) } else { String::new() },
            group.pattern
        ));
        if group.variants > 1 {
            text.push_str(&format!("   e.g. {}\n", group.example));
        }
    }
    if groups.len() > PATTERNS_IN_TEXT {
        text.push_str(&format!(
            "… {} more patterns in the structured content\n",
            groups.len() - PATTERNS_IN_TEXT
        ));
    }
    let mut structured = Map::new();
    structured.insert("filters".into(), json!(context.filters));
    structured.insert("window".into(), json!(context.window));
    structured.insert("lines".into(), json!(total));
    structured.insert("distinct_messages".into(), json!(messages.len()));
    structured.extend(capped.counts());
    structured.insert("patterns".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- tail_logs -----------------------------------------------------------------------

const TAIL_DEFAULT_SINCE: &str = "5 minutes";
const TAIL_DEFAULT_LIMIT: u32 = 50;
const TAIL_MAX_LIMIT: u32 = 500;

fn tail_shapes() -> Vec<Shape> {
    vec![
        recent_lines_shape(TAIL_DEFAULT_SINCE),
        Shape::new(
            "after",
            format!("SELECT {LINE_ATTRIBUTES} FROM Log {{where}} SINCE {{{{after}}}} LIMIT {{{{limit}}}}"),
            vec![ParamSpec::new("after", ParamType::Int), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(lines::filters()),
    ]
}

fn tail_logs(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "tail_logs",
            title: "Tail logs",
            description: "The latest log lines in time order (oldest of them first, like tail), optionally of \
                one app, level or host. Each answer gives next_after_timestamp: pass it back as \
                after_timestamp to get only the lines logged since.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(5)),
        },
        tail_shapes(),
        policy,
        choose_tail,
        render_tail,
    )
}

/// Arguments of `tail_logs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TailLogsArgs {
    /// Only lines of this app (the log's `entity.name`), e.g. `payments-api`.
    pub app_name: Option<String>,
    /// Only lines of this level, as logged, e.g. `ERROR`.
    pub level: Option<String>,
    /// Only lines from this host.
    pub hostname: Option<String>,
    /// How far back to look when no after_timestamp is given, e.g. `5 minutes` (the default).
    pub since: Option<String>,
    /// Only lines logged after this time (epoch milliseconds), e.g. the previous answer's
    /// next_after_timestamp. Replaces since.
    pub after_timestamp: Option<i64>,
    /// Most lines to return, the latest ones, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct TailContext {
    filters: String,
    window: String,
    after: Option<i64>,
    limit: i64,
}

fn choose_tail(args: TailLogsArgs, _: &PlanContext) -> Result<NrqlCall<TailContext>, PlanError> {
    let filters = LogFilters::new(args.app_name.as_deref(), args.level.as_deref(), args.hostname.as_deref())?;
    let limit = args::limit("limit", args.limit, TAIL_DEFAULT_LIMIT, TAIL_MAX_LIMIT)?;
    let call = match (args.after_timestamp, args.since) {
        (Some(_), Some(_)) => {
            return Err(PlanError::InvalidArguments("give since or after_timestamp, not both".into()));
        }
        (Some(after), None) => {
            if after <= 0 {
                return Err(PlanError::InvalidArguments(
                    "after_timestamp must be epoch milliseconds, e.g. a previous next_after_timestamp".into(),
                ));
            }
            let window = format!("after {}", time_ms(after));
            let context = TailContext { filters: filters.describe(), window, after: Some(after), limit };
            // SINCE is inclusive: start one millisecond on, so the last line seen is not repeated.
            NrqlCall::new("after", args.account_id, context).value("after", after.saturating_add(1))
        }
        (None, since) => {
            let window = args::since_label(since.as_deref(), TAIL_DEFAULT_SINCE);
            let context = TailContext { filters: filters.describe(), window, after: None, limit };
            NrqlCall::new("recent", args.account_id, context).value_opt("since", since)
        }
    };
    Ok(filters.apply(call.value("limit", limit)))
}

fn render_tail(answer: &NrqlAnswer, context: &TailContext) -> Result<ToolOutput, ToolError> {
    // NRQL returns the newest first; a tail reads oldest first.
    let mut rows = answer.rows.clone();
    rows.sort_by_key(|row| row.get("timestamp").and_then(Value::as_i64).unwrap_or(i64::MIN));
    let newest = rows.iter().filter_map(|row| row.get("timestamp").and_then(Value::as_i64)).max();
    let next_after = newest.or(context.after);
    let skipped = rows.len().saturating_sub(MAX_ROWS);
    let capped = Capped { rows: rows.split_off(skipped), total: answer.rows.len() };
    let mut text = format!(
        "{} ({}, {}, account {}), oldest first\n",
        capped.heading("line", "lines"),
        context.filters,
        context.window,
        answer.account
    );
    if capped.total as i64 >= context.limit {
        text.push_str(&format!(
            "(only the latest {} lines; earlier ones in the window are left out)\n",
            context.limit
        ));
    }
    for row in &capped.rows {
        text.push_str(&line_text(row));
        text.push('\n');
    }
    match next_after {
        Some(next) => text.push_str(&format!("next: after_timestamp {next}\n")),
        None => text.push_str("No lines yet; call again later or widen since.\n"),
    }
    let mut structured = Map::new();
    structured.insert("filters".into(), json!(context.filters));
    structured.insert("window".into(), json!(context.window));
    structured.extend(capped.counts());
    structured.insert("lines".into(), Value::Array(capped.rows.iter().map(line_json).collect()));
    structured.insert("next_after_timestamp".into(), json!(next_after));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::tools::nrql_tool::parse_all;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        LogsPlugin::default().tools()
    }

    #[test]
    fn every_query_shape_parses_and_every_tool_is_a_read_in_the_logs_category() {
        parse_all(&shapes()).unwrap();
        let names: Vec<String> = all().iter().map(|t| t.descriptor().name.clone()).collect();
        assert_eq!(names, ["search_logs", "get_log_patterns", "tail_logs"]);
        for tool in all() {
            assert_eq!(tool.descriptor().category, CATEGORY);
            assert!(tool.descriptor().hints.read_only);
        }
    }

    #[test]
    fn plans_each_tool() {
        let cases = [
            (
                "search_logs",
                json!({"query": "timeout"}),
                "SELECT message, level, entity.name, hostname, trace.id FROM Log WHERE message LIKE '%timeout%' LIMIT 50 SINCE 1 hour ago",
            ),
            (
                "search_logs",
                json!({"query": "refused", "field": "error.class", "app_name": "web", "level": "ERROR", "limit": 5}),
                "SELECT message, level, entity.name, hostname, trace.id FROM Log WHERE error.class LIKE '%refused%' AND entity.name = 'web' AND level = 'ERROR' LIMIT 5 SINCE 1 hour ago",
            ),
            (
                "get_log_patterns",
                json!({"hostname": "h1", "since": "1 day"}),
                "SELECT count(*) AS count, max(timestamp) AS last_seen FROM Log WHERE hostname = 'h1' FACET level, message LIMIT 500 SINCE 1 day ago",
            ),
            (
                "tail_logs",
                json!({}),
                "SELECT message, level, entity.name, hostname, trace.id FROM Log LIMIT 50 SINCE 5 minutes ago",
            ),
            (
                "tail_logs",
                json!({"after_timestamp": 1_715_776_000_000_i64, "level": "ERROR"}),
                "SELECT message, level, entity.name, hostname, trace.id FROM Log WHERE level = 'ERROR' LIMIT 50 SINCE 1715776000001",
            ),
        ];
        for (tool, arguments, expected) in cases {
            assert_eq!(nrql(&plan(&all(), tool, arguments.clone()).unwrap()), expected, "{tool} {arguments}");
        }
    }

    #[test]
    fn searched_text_stays_a_value() {
        let query = nrql(&plan(&all(), "search_logs", json!({"query": "x' OR level LIKE '%"})).unwrap());
        assert!(query.contains(r"WHERE message LIKE '%x\' OR level LIKE \'\%%' LIMIT 50 SINCE"), "{query}");
        let field = plan(&all(), "search_logs", json!({"query": "x", "field": "message` OR `level"}));
        assert!(matches!(field, Err(PlanError::InvalidArguments(_))));
    }

    #[test]
    fn wildcards_in_the_searched_text_match_literally() {
        // The printer doubles a backslash only where the lexer would otherwise read it as an
        // escape (before a quote, a backslash or the end).
        let cases = [
            ("50%", r"'%50\%%'"),
            ("user_id", r"'%user_id%'"),
            (r"C:\temp", r"'%C:\\\temp%'"),
            (r"100%_\", r"'%100\%_\\\%'"),
        ];
        for (text, expected) in cases {
            let query = nrql(&plan(&all(), "search_logs", json!({ "query": text })).unwrap());
            assert!(query.contains(&format!("WHERE message LIKE {expected} LIMIT")), "{text}: {query}");
        }
    }

    #[test]
    fn control_characters_in_the_searched_text_are_refused() {
        for text in ["a\u{0}b", "line one\nline two", "tab\there", "cr\r", "\u{7f}", "\u{85}next"] {
            let Err(PlanError::InvalidArguments(message)) =
                plan(&all(), "search_logs", json!({ "query": text }))
            else {
                panic!("{text:?} was accepted");
            };
            assert!(message.contains("query") && message.contains("control character"), "{message}");
        }
    }

    #[test]
    fn refuses_bad_arguments() {
        for (tool, arguments) in [
            ("search_logs", json!({"query": "  "})),
            ("search_logs", json!({})),
            ("search_logs", json!({"query": "x", "limit": 501})),
            ("get_log_patterns", json!({"sample_size": 0})),
            ("tail_logs", json!({"since": "5 minutes", "after_timestamp": 1})),
            ("tail_logs", json!({"after_timestamp": -5})),
            ("tail_logs", json!({"lines": 5})),
        ] {
            assert!(
                matches!(plan(&all(), tool, arguments.clone()), Err(PlanError::InvalidArguments(_))),
                "{tool} {arguments}"
            );
        }
    }

    #[test]
    fn search_renders_lines_and_says_what_to_try_when_nothing_matched() {
        let rows = json!([
            {"timestamp": 1_715_776_200_000_i64, "level": "ERROR", "entity.name": "payments-api", "hostname": "h1", "message": "read timeout", "trace.id": "t1"},
            {"timestamp": 1_715_776_100_000_i64, "level": "WARN", "entity.name": "payments-api", "hostname": "h1", "message": "slow timeout"}
        ]);
        let output = answer(&all(), "search_logs", json!({"query": "timeout"}), rows).unwrap();
        assert!(
            output.text.starts_with(
                "2 lines with message containing 'timeout' (all logs, last 1 hour, account 1000001)"
            ),
            "{}",
            output.text
        );
        assert!(output.text.contains("levels: ERROR 1, WARN 1"));
        assert!(output.text.contains("2024-05-15 12:30:00 ERROR payments-api@h1: read timeout [trace t1]"));
        assert_eq!(output.structured["lines"][0]["trace_id"], "t1");
        let empty = answer(&all(), "search_logs", json!({"query": "nothing"}), json!([])).unwrap();
        assert!(empty.text.contains("No line matched"), "{}", empty.text);
    }

    #[test]
    fn patterns_merge_messages_that_differ_in_numbers() {
        let rows = json!([
            {"facet": ["INFO", "completed in 240 ms"], "level": "INFO", "message": "completed in 240 ms", "count": 9, "last_seen": 1_715_776_200_000_i64},
            {"facet": ["ERROR", "timeout after 5000 ms"], "level": "ERROR", "message": "timeout after 5000 ms", "count": 4, "last_seen": 1_715_776_100_000_i64},
            {"facet": ["INFO", "completed in 241 ms"], "level": "INFO", "message": "completed in 241 ms", "count": 7, "last_seen": 1_715_776_000_000_i64}
        ]);
        let output = answer(&all(), "get_log_patterns", json!({}), rows).unwrap();
        assert!(
            output.text.starts_with("2 patterns in 20 lines (all logs, last 1 hour, account 1000001)"),
            "{}",
            output.text
        );
        assert!(
            output.text.contains("1. 16 lines (80%) — completed in <n> ms\n   e.g. completed in 240 ms"),
            "{}",
            output.text
        );
        assert!(output.text.contains("2. 4 lines (20%), 4 errors — timeout after <n> ms"), "{}", output.text);
        assert_eq!(output.structured["patterns"][0]["variants"], 2);
        assert_eq!(output.structured["patterns"][0]["last_seen"], "2024-05-15 12:30:00");
    }

    #[test]
    fn tail_reads_oldest_first_and_hands_back_a_cursor() {
        let rows = json!([
            {"timestamp": 3000, "level": "INFO", "message": "third"},
            {"timestamp": 1000, "level": "INFO", "message": "first"},
            {"timestamp": 2000, "level": "INFO", "message": "second"}
        ]);
        let output = answer(&all(), "tail_logs", json!({}), rows).unwrap();
        let first = output.text.find("first").unwrap();
        let third = output.text.find("third").unwrap();
        assert!(first < output.text.find("second").unwrap() && output.text.find("second").unwrap() < third);
        assert_eq!(output.structured["next_after_timestamp"], 3000);
        let quiet = answer(&all(), "tail_logs", json!({"after_timestamp": 1_715_776_100_000_i64}), json!([]))
            .unwrap();
        assert_eq!(quiet.structured["next_after_timestamp"], 1_715_776_100_000_i64);
    }
}
