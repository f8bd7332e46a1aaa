//! Logs from the performance angle: what one entity logs (`analyze_entity_logs`), the
//! latest lines (`list_recent_logs`), and line counts by level over time
//! (`get_log_statistics`). Line rendering and patterns are shared with the logs tools.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::logs::lines::{LogFilters, counts_text, level_counts, line_json, line_text};
use crate::tools::logs::patterns::{group, is_error_level};
use crate::tools::logs::{message_counts, pattern_json, recent_lines_shape};
use crate::tools::nrql_tool::args;
use crate::tools::nrql_tool::values::{bucket_time, facets, fixed, number_at, share, text_at};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const DEFAULT_SINCE: &str = "1 hour";
/// Distinct (level, message) pairs `analyze_entity_logs` reads, most frequent first.
const ENTITY_SAMPLE: i64 = 500;
/// Error patterns `analyze_entity_logs` lists.
const TOP_ERRORS: usize = 10;
const RECENT_DEFAULT_LIMIT: u32 = 50;
const RECENT_MAX_LIMIT: u32 = 500;

pub(super) fn shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "entity",
            "SELECT count(*) AS 'count', max(timestamp) AS 'last_seen' FROM Log {where} FACET level, message \
             SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(vec![
            Condition::one("guid", "entity.guid = {{guid}}", ParamType::String),
            Condition::one("app", "entity.name = {{app}}", ParamType::String),
        ]),
        recent_lines_shape(DEFAULT_SINCE),
        Shape::new(
            "statistics",
            "SELECT count(*) AS 'count' FROM Log {where} FACET level SINCE {{since}} ago TIMESERIES AUTO",
            vec![args::since_param(DEFAULT_SINCE)],
        )
        .with_conditions(vec![
            Condition::one("app", "entity.name = {{app}}", ParamType::String),
            Condition::one("host", "hostname = {{host}}", ParamType::String),
        ]),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    let shapes = shapes();
    let shape = |name: &str| shapes.iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
    vec![
        nrql_tool(
            Spec {
                name: "analyze_entity_logs",
                title: "Analyze entity logs",
                description: "What one entity (APM app, host, …) logged, by entity GUID or app name: lines by \
                    level with the error share, the top error messages grouped into patterns (numbers and ids \
                    masked), and the most frequent patterns overall.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(60)),
            },
            shape("entity"),
            policy,
            choose_entity,
            render_entity,
        ),
        nrql_tool(
            Spec {
                name: "list_recent_logs",
                title: "List recent logs",
                description: "The most recent log lines, newest first, optionally of one app, level or host: \
                    time, level, app, host, message and trace id per line.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(15)),
            },
            shape("recent"),
            policy,
            choose_recent,
            render_recent,
        ),
        nrql_tool(
            Spec {
                name: "get_log_statistics",
                title: "Get log statistics",
                description: "Log line counts by level over time, optionally of one app or host: totals and \
                    share per level, the error share, the busiest interval, and per-interval counts.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(60)),
            },
            shape("statistics"),
            policy,
            choose_statistics,
            render_statistics,
        ),
    ]
}

// --- analyze_entity_logs -------------------------------------------------------------

/// Arguments of `analyze_entity_logs`: exactly one of `entity_guid` and `app_name`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeEntityLogsArgs {
    /// GUID of the entity whose logs to read (logs carry it as `entity.guid`). Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// Name of the app whose logs to read (logs carry it as `entity.name`). Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `1 day` (default `1 hour`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct EntityContext {
    subject: String,
    window: String,
}

fn choose_entity(
    args: AnalyzeEntityLogsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<EntityContext>, PlanError> {
    let subject =
        args::one_of(("entity_guid", args.entity_guid.as_deref()), ("app_name", args.app_name.as_deref()))?;
    let window = args::since_label(args.since.as_deref(), DEFAULT_SINCE);
    let call = match subject {
        Ok(guid) => {
            let guid = args::guid("entity_guid", guid, plan_context)?;
            NrqlCall::new(
                "entity",
                args.account_id,
                EntityContext { subject: format!("entity {guid}"), window },
            )
            .filter("guid", Some(guid))
        }
        Err(app) => {
            let app = args::name("app_name", app)?;
            NrqlCall::new("entity", args.account_id, EntityContext { subject: app.clone(), window })
                .filter("app", Some(app))
        }
    };
    Ok(call.value("limit", ENTITY_SAMPLE).value_opt("since", args.since))
}

fn render_entity(answer: &NrqlAnswer, context: &EntityContext) -> Result<ToolOutput, ToolError> {
    let messages = message_counts(&answer.rows);
    if messages.is_empty() {
        return Err(args::nothing_found(
            &format!("no logs for {} in the {}", context.subject, context.window),
            "Logs are linked to an entity when forwarded with it (APM logs in context, or the \
             infrastructure agent); check the name or GUID with get_entity, search_logs by text, or widen since.",
        ));
    }
    let mut levels: BTreeMap<String, f64> = BTreeMap::new();
    for message in &messages {
        *levels.entry(message.level.clone()).or_insert(0.0) += message.count;
    }
    let total: f64 = levels.values().sum();
    let errors: f64 = levels.iter().filter(|(level, _)| is_error_level(level)).map(|(_, n)| n).sum();
    let patterns = group(&messages);
    let error_patterns: Vec<_> =
        group(&messages.iter().filter(|m| is_error_level(&m.level)).cloned().collect::<Vec<_>>())
            .into_iter()
            .take(TOP_ERRORS)
            .collect();

    let mut text = format!(
        "{} — {} log lines, {} errors ({}%), {} (account {})\n",
        context.subject,
        fixed(total, 0),
        fixed(errors, 0),
        fixed(share(errors, total).unwrap_or(0.0), 1),
        context.window,
        answer.account
    );
    let by_level: Vec<String> = levels
        .iter()
        .map(|(level, n)| {
            format!("{level} {} ({}%)", fixed(*n, 0), fixed(share(*n, total).unwrap_or(0.0), 1))
        })
        .collect();
    text.push_str(&format!("by level: {}\n", by_level.join(", ")));
    if messages.len() as i64 >= ENTITY_SAMPLE {
        text.push_str(&format!(
            "(counts cover the {ENTITY_SAMPLE} most frequent distinct messages; shorten since for exact totals)\n"
        ));
    }
    if error_patterns.is_empty() {
        text.push_str("no error lines\n");
    } else {
        text.push_str("top error messages:\n");
        for (rank, pattern) in error_patterns.iter().enumerate() {
            text.push_str(&format!("{}. {}× {}\n", rank + 1, fixed(pattern.count, 0), pattern.example));
        }
    }
    text.push_str("most frequent patterns:\n");
    for pattern in patterns.iter().take(5) {
        text.push_str(&format!("- {}× {}\n", fixed(pattern.count, 0), pattern.pattern));
    }
    let mut structured = Map::new();
    structured.insert("subject".into(), json!(context.subject));
    structured.insert("window".into(), json!(context.window));
    structured.insert("lines".into(), json!(total));
    structured.insert("error_lines".into(), json!(errors));
    structured.insert("error_share_pct".into(), json!(share(errors, total)));
    structured.insert("levels".into(), json!(levels));
    structured.insert(
        "top_errors".into(),
        Value::Array(error_patterns.iter().map(|p| pattern_json(p, errors)).collect()),
    );
    let capped = Capped::new(patterns.iter().map(|p| pattern_json(p, total)).collect(), MAX_ROWS);
    structured.extend(capped.counts());
    structured.insert("patterns".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- list_recent_logs ----------------------------------------------------------------

/// Arguments of `list_recent_logs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRecentLogsArgs {
    /// Only lines of this app (the log's `entity.name`), e.g. `payments-api`.
    pub app_name: Option<String>,
    /// Only lines of this level, as logged, e.g. `ERROR`.
    pub level: Option<String>,
    /// Only lines from this host.
    pub hostname: Option<String>,
    /// How far back to look, e.g. `15 minutes`, `6 hours` (default `1 hour`).
    pub since: Option<String>,
    /// Most lines to return, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct RecentContext {
    filters: String,
    window: String,
    limit: i64,
}

fn choose_recent(args: ListRecentLogsArgs, _: &PlanContext) -> Result<NrqlCall<RecentContext>, PlanError> {
    let filters = LogFilters::new(args.app_name.as_deref(), args.level.as_deref(), args.hostname.as_deref())?;
    let limit = args::limit("limit", args.limit, RECENT_DEFAULT_LIMIT, RECENT_MAX_LIMIT)?;
    let context = RecentContext {
        filters: filters.describe(),
        window: args::since_label(args.since.as_deref(), DEFAULT_SINCE),
        limit,
    };
    let call = NrqlCall::new("recent", args.account_id, context)
        .value("limit", limit)
        .value_opt("since", args.since);
    Ok(filters.apply(call))
}

fn render_recent(answer: &NrqlAnswer, context: &RecentContext) -> Result<ToolOutput, ToolError> {
    let capped = Capped::new(answer.rows.clone(), MAX_ROWS);
    let mut text = format!(
        "{} ({}, {}, account {}), newest first\n",
        capped.heading("line", "lines"),
        context.filters,
        context.window,
        answer.account
    );
    if capped.total == 0 {
        text.push_str("No log lines. Drop filters or widen since.\n");
    } else {
        text.push_str(&format!("levels: {}\n", counts_text(&level_counts(&answer.rows))));
        if capped.total as i64 >= context.limit {
            text.push_str(&format!("(the latest {} lines; raise limit to see more)\n", context.limit));
        }
    }
    for row in &capped.rows {
        text.push_str(&line_text(row));
        text.push('\n');
    }
    let mut structured = Map::new();
    structured.insert("filters".into(), json!(context.filters));
    structured.insert("window".into(), json!(context.window));
    structured.extend(capped.counts());
    structured.insert("lines".into(), Value::Array(capped.rows.iter().map(line_json).collect()));
    Ok(answer.output(structured, text))
}

// --- get_log_statistics --------------------------------------------------------------

/// Arguments of `get_log_statistics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetLogStatisticsArgs {
    /// Only lines of this app (the log's `entity.name`), e.g. `payments-api`.
    pub app_name: Option<String>,
    /// Only lines from this host.
    pub hostname: Option<String>,
    /// How far back to look, e.g. `6 hours`, `1 day` (default `1 hour`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct StatisticsContext {
    filters: String,
    window: String,
}

fn choose_statistics(
    args: GetLogStatisticsArgs,
    _: &PlanContext,
) -> Result<NrqlCall<StatisticsContext>, PlanError> {
    let filters = LogFilters::new(args.app_name.as_deref(), None, args.hostname.as_deref())?;
    let context = StatisticsContext {
        filters: filters.describe(),
        window: args::since_label(args.since.as_deref(), DEFAULT_SINCE),
    };
    Ok(NrqlCall::new("statistics", args.account_id, context)
        .filter("app", filters.app)
        .filter("host", filters.host)
        .value_opt("since", args.since))
}

fn render_statistics(answer: &NrqlAnswer, context: &StatisticsContext) -> Result<ToolOutput, ToolError> {
    // Rows are one per (level, interval); regroup them per interval.
    let mut intervals: BTreeMap<i64, (Value, BTreeMap<String, f64>)> = BTreeMap::new();
    let mut levels: BTreeMap<String, f64> = BTreeMap::new();
    for row in &answer.rows {
        let level = text_at(row, "level").or_else(|| facets(row).first().cloned()).unwrap_or_default();
        let count = number_at(row, "count").unwrap_or(0.0);
        let begin = number_at(row, "beginTimeSeconds").unwrap_or(0.0) as i64;
        let entry =
            intervals.entry(begin).or_insert_with(|| (row["endTimeSeconds"].clone(), BTreeMap::new()));
        *entry.1.entry(level.clone()).or_insert(0.0) += count;
        *levels.entry(level).or_insert(0.0) += count;
    }
    let total: f64 = levels.values().sum();
    let errors: f64 = levels.iter().filter(|(level, _)| is_error_level(level)).map(|(_, n)| n).sum();
    let mut text = format!(
        "{} log lines, {} errors ({}%) — {}, {} (account {})\n",
        fixed(total, 0),
        fixed(errors, 0),
        fixed(share(errors, total).unwrap_or(0.0), 1),
        context.filters,
        context.window,
        answer.account
    );
    if total > 0.0 {
        let by_level: Vec<String> = levels
            .iter()
            .map(|(level, n)| {
                format!("{level} {} ({}%)", fixed(*n, 0), fixed(share(*n, total).unwrap_or(0.0), 1))
            })
            .collect();
        text.push_str(&format!("by level: {}\n", by_level.join(", ")));
    } else {
        text.push_str("No log lines. Drop filters or widen since.\n");
    }
    let busiest = intervals
        .iter()
        .map(|(begin, (_, counts))| (*begin, counts.values().sum::<f64>()))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((begin, count)) = busiest.filter(|(_, count)| *count > 0.0) {
        text.push_str(&format!(
            "busiest interval {}: {} lines\n",
            bucket_time(begin as f64),
            fixed(count, 0)
        ));
    }
    let series: Vec<Value> = intervals
        .iter()
        .map(|(begin, (end, counts))| {
            json!({
                "begin_time_seconds": begin,
                "end_time_seconds": end,
                "total": counts.values().sum::<f64>(),
                "levels": counts,
            })
        })
        .collect();
    let capped = Capped::new(series, MAX_ROWS);
    if total > 0.0 {
        text.push_str(&format!("{}:\n", capped.heading("interval", "intervals")));
        for point in &capped.rows {
            let counts: BTreeMap<String, f64> =
                serde_json::from_value(point["levels"].clone()).unwrap_or_default();
            text.push_str(&format!(
                "{} total {} | {}\n",
                bucket_time(number_at(point, "begin_time_seconds").unwrap_or(0.0)),
                fixed(number_at(point, "total").unwrap_or(0.0), 0),
                counts_text(&counts.iter().map(|(l, n)| (l.clone(), fixed(*n, 0))).collect())
            ));
        }
    }
    let mut structured = Map::new();
    structured.insert("filters".into(), json!(context.filters));
    structured.insert("window".into(), json!(context.window));
    structured.insert("lines".into(), json!(total));
    structured.insert("error_lines".into(), json!(errors));
    structured.insert("levels".into(), json!(levels));
    structured.extend(capped.counts());
    structured.insert("timeseries".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use newrelic_mcp_actors::tool::ToolErrorKind;

    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn plans_each_tool() {
        let cases = [
            (
                "analyze_entity_logs",
                json!({"entity_guid": "MXxBUE18QVBQTElDQVRJT058MTIz"}),
                "SELECT count(*) AS count, max(timestamp) AS last_seen FROM Log WHERE entity.guid = 'MXxBUE18QVBQTElDQVRJT058MTIz' FACET level, message LIMIT 500 SINCE 1 hour ago",
            ),
            (
                "list_recent_logs",
                json!({"app_name": "web", "level": "ERROR", "limit": 10}),
                "SELECT message, level, entity.name, hostname, trace.id FROM Log WHERE entity.name = 'web' AND level = 'ERROR' LIMIT 10 SINCE 1 hour ago",
            ),
            (
                "get_log_statistics",
                json!({"hostname": "h1", "since": "6 hours"}),
                "SELECT count(*) AS count FROM Log WHERE hostname = 'h1' FACET level SINCE 6 hours ago TIMESERIES AUTO",
            ),
        ];
        for (tool, arguments, expected) in cases {
            assert_eq!(nrql(&plan(&all(), tool, arguments).unwrap()), expected);
        }
        for (tool, arguments) in [
            ("analyze_entity_logs", json!({})),
            ("analyze_entity_logs", json!({"app_name": "a", "entity_guid": "b"})),
            ("list_recent_logs", json!({"limit": 0})),
            ("get_log_statistics", json!({"level": "ERROR"})),
        ] {
            assert!(matches!(plan(&all(), tool, arguments), Err(PlanError::InvalidArguments(_))), "{tool}");
        }
    }

    #[test]
    fn entity_logs_show_levels_and_top_errors() {
        let rows = json!([
            {"facet": ["INFO", "completed in 240 ms"], "level": "INFO", "message": "completed in 240 ms", "count": 30},
            {"facet": ["ERROR", "payment 1234 failed: timeout"], "level": "ERROR", "message": "payment 1234 failed: timeout", "count": 6},
            {"facet": ["ERROR", "payment 99876 failed: timeout"], "level": "ERROR", "message": "payment 99876 failed: timeout", "count": 2},
            {"facet": ["ERROR", "invalid card"], "level": "ERROR", "message": "invalid card", "count": 2}
        ]);
        let output =
            answer(&all(), "analyze_entity_logs", json!({"app_name": "payments-api"}), rows).unwrap();
        assert!(
            output
                .text
                .starts_with("payments-api — 40 log lines, 10 errors (25%), last 1 hour (account 1000001)"),
            "{}",
            output.text
        );
        assert!(output.text.contains("by level: ERROR 10 (25%), INFO 30 (75%)"), "{}", output.text);
        assert!(
            output.text.contains("1. 8× payment 1234 failed: timeout\n2. 2× invalid card"),
            "{}",
            output.text
        );
        assert_eq!(output.structured["top_errors"][0]["share_pct"], 80.0);
        let error =
            answer(&all(), "analyze_entity_logs", json!({"app_name": "quiet"}), json!([])).unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
    }

    #[test]
    fn statistics_regroup_levels_per_interval() {
        let rows = json!([
            {"beginTimeSeconds": 1_715_776_200, "endTimeSeconds": 1_715_776_800, "facet": "INFO", "level": "INFO", "count": 14},
            {"beginTimeSeconds": 1_715_776_800, "endTimeSeconds": 1_715_777_400, "facet": "INFO", "level": "INFO", "count": 10},
            {"beginTimeSeconds": 1_715_776_200, "endTimeSeconds": 1_715_776_800, "facet": "ERROR", "level": "ERROR", "count": 3},
            {"beginTimeSeconds": 1_715_776_800, "endTimeSeconds": 1_715_777_400, "facet": "ERROR", "level": "ERROR", "count": 5}
        ]);
        let output = answer(&all(), "get_log_statistics", json!({}), rows).unwrap();
        assert!(
            output.text.starts_with("32 log lines, 8 errors (25%) — all logs, last 1 hour"),
            "{}",
            output.text
        );
        assert!(output.text.contains("busiest interval 05-15 12:30: 17 lines"), "{}", output.text);
        assert!(output.text.contains("05-15 12:40 total 15 | ERROR 5, INFO 10"), "{}", output.text);
        assert_eq!(output.structured["total"], 2);
        assert_eq!(output.structured["levels"]["ERROR"], 8.0);
    }

    #[test]
    fn recent_logs_list_newest_first() {
        let rows = json!([
            {"timestamp": 1_715_776_200_000_i64, "level": "ERROR", "entity.name": "web", "message": "boom"},
            {"timestamp": 1_715_776_100_000_i64, "level": "INFO", "entity.name": "web", "message": "ok"}
        ]);
        let output = answer(&all(), "list_recent_logs", json!({}), rows).unwrap();
        assert!(output.text.find("boom").unwrap() < output.text.find("ok").unwrap());
        assert_eq!(output.structured["lines"][1]["message"], "ok");
    }
}
