//! Distributed tracing from `Span` events: one trace as a tree
//! (`get_distributed_trace_details`), traces of a service (`search_traces`), and the
//! services an app calls and is called by (`analyze_service_dependencies`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args::{self, APP_NAME_HINT};
use crate::tools::nrql_tool::values::{
    facets, fixed, fixed_or_na, flag_at, millis, number_at, text_at, time_ms,
};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const TRACE_DEFAULT_SINCE: &str = "1 day";
/// Spans read for one trace.
const TRACE_SPAN_LIMIT: i64 = 1000;
const SEARCH_DEFAULT_SINCE: &str = "1 hour";
const SEARCH_DEFAULT_LIMIT: u32 = 20;
const SEARCH_MAX_LIMIT: u32 = 100;
const DEPENDENCIES_DEFAULT_SINCE: &str = "1 hour";

pub(super) fn shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "trace",
            "SELECT id, parent.id, service.name, name, duration.ms, error, error.message, span.kind, \
             peer.service, db.system FROM Span WHERE trace.id = {{trace_id}} SINCE {{since}} ago LIMIT {{limit}}",
            vec![
                ParamSpec::new("trace_id", ParamType::String),
                args::since_param(TRACE_DEFAULT_SINCE),
                ParamSpec::new("limit", ParamType::Int),
            ],
        ),
        Shape::new(
            "search",
            "SELECT max(duration.ms) AS 'duration_ms', count(*) AS 'spans', filter(count(*), WHERE error IS true) \
             AS 'error_spans', latest(name) AS 'name', latest(error.message) AS 'error_message', \
             max(timestamp) AS 'last_seen' FROM Span WHERE service.name = {{app}} {and} FACET trace.id \
             ORDER BY max(duration.ms) SINCE {{since}} ago LIMIT {{limit}}",
            vec![
                ParamSpec::new("app", ParamType::String),
                args::since_param(SEARCH_DEFAULT_SINCE),
                ParamSpec::new("limit", ParamType::Int),
            ],
        )
        .with_conditions(vec![
            Condition::one("min_duration_ms", "duration.ms >= {{min_duration_ms}}", ParamType::Float),
            Condition::flag("errors", "error IS true"),
        ]),
        Shape::new(
            "dependencies",
            "SELECT count(*) AS 'calls', average(duration.ms) AS 'avg_ms', percentile(duration.ms, 95) AS 'p95_ms', \
             percentage(count(*), WHERE error IS true) AS 'error_pct' FROM Span WHERE peer.service IS NOT NULL \
             AND (service.name = {{app}} OR peer.service = {{app}}) FACET service.name, peer.service \
             SINCE {{since}} ago LIMIT 100",
            vec![ParamSpec::new("app", ParamType::String), args::since_param(DEPENDENCIES_DEFAULT_SINCE)],
        ),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    let shapes = shapes();
    let shape = |name: &str| shapes.iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
    vec![
        nrql_tool(
            Spec {
                name: "get_distributed_trace_details",
                title: "Get distributed trace details",
                description: "All spans of one distributed trace as a call tree across services: service, \
                    operation, duration and errors per span, the root duration, the services crossed, the \
                    slowest spans and the failing ones with their messages.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(300)),
            },
            shape("trace"),
            policy,
            choose_trace,
            render_trace,
        ),
        nrql_tool(
            Spec {
                name: "search_traces",
                title: "Search traces",
                description: "Find distributed traces in which a service took part, slowest first, optionally \
                    only spans at least min_duration_ms long or failing: trace id, the service's longest span, \
                    span and error counts, an error message. Pass a trace id to get_distributed_trace_details.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(30)),
            },
            shape("search"),
            policy,
            choose_search,
            render_search,
        ),
        nrql_tool(
            Spec {
                name: "analyze_service_dependencies",
                title: "Analyze service dependencies",
                description: "The services and datastores an app calls (downstream) and the services calling it \
                    (upstream), from its spans' peer.service: calls, average and p95 latency, and error rate \
                    per dependency, the worst first.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(60)),
            },
            shape("dependencies"),
            policy,
            choose_dependencies,
            render_dependencies,
        ),
    ]
}

// --- get_distributed_trace_details ---------------------------------------------------

/// Arguments of `get_distributed_trace_details`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDistributedTraceDetailsArgs {
    /// The trace id, e.g. `3df688a89c1f573f` (search_traces and log lines give them).
    pub trace_id: String,
    /// How far back the trace may be, e.g. `6 hours`, `7 days` (default `1 day`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct TraceContext {
    trace_id: String,
    window: String,
}

fn choose_trace(
    args: GetDistributedTraceDetailsArgs,
    _: &PlanContext,
) -> Result<NrqlCall<TraceContext>, PlanError> {
    let trace_id = args.trace_id.trim();
    if trace_id.is_empty()
        || trace_id.len() > 128
        || !trace_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(PlanError::InvalidArguments(
            "trace_id must be 1 to 128 letters, digits, - or _ (e.g. 3df688a89c1f573f)".into(),
        ));
    }
    let context = TraceContext {
        trace_id: trace_id.to_string(),
        window: args::since_label(args.since.as_deref(), TRACE_DEFAULT_SINCE),
    };
    Ok(NrqlCall::new("trace", args.account_id, context)
        .value("trace_id", trace_id)
        .value("limit", TRACE_SPAN_LIMIT)
        .value_opt("since", args.since))
}

/// A span with what the tree needs.
struct SpanNode<'a> {
    row: &'a Value,
    id: Option<String>,
    parent: Option<String>,
    timestamp: i64,
}

/// Spans in call-tree order with their depth: roots (no parent, or a parent not in the
/// trace) by start time, each followed by its children by start time.
fn tree_order(rows: &[Value]) -> Vec<(usize, &Value)> {
    let nodes: Vec<SpanNode> = rows
        .iter()
        .map(|row| SpanNode {
            row,
            id: text_at(row, "id"),
            parent: text_at(row, "parent.id"),
            timestamp: row.get("timestamp").and_then(Value::as_i64).unwrap_or(0),
        })
        .collect();
    let ids: BTreeSet<&str> = nodes.iter().filter_map(|n| n.id.as_deref()).collect();
    let mut children: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        match node
            .parent
            .as_deref()
            .filter(|parent| ids.contains(parent) && node.id.as_deref() != Some(*parent))
        {
            Some(parent) => children.entry(parent).or_default().push(index),
            None => roots.push(index),
        }
    }
    let by_time = |list: &mut Vec<usize>| list.sort_by_key(|index| (nodes[*index].timestamp, *index));
    by_time(&mut roots);
    for list in children.values_mut() {
        by_time(list);
    }
    let mut ordered = Vec::with_capacity(nodes.len());
    let mut visited = vec![false; nodes.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|index| (*index, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        if std::mem::replace(&mut visited[index], true) {
            continue;
        }
        ordered.push((depth, nodes[index].row));
        if let Some(id) = nodes[index].id.as_deref()
            && let Some(kids) = children.get(id)
        {
            stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
        }
    }
    // A parent cycle leaves spans unreached; show them as roots rather than drop them.
    for (index, seen) in visited.iter().enumerate() {
        if !seen {
            ordered.push((0, nodes[index].row));
        }
    }
    ordered
}

fn span_json(depth: usize, row: &Value) -> Value {
    json!({
        "depth": depth,
        "id": text_at(row, "id"),
        "parent_id": text_at(row, "parent.id"),
        "service": text_at(row, "service.name"),
        "name": text_at(row, "name"),
        "duration_ms": number_at(row, "duration.ms"),
        "error": flag_at(row, "error").unwrap_or(false),
        "error_message": text_at(row, "error.message"),
        "kind": text_at(row, "span.kind"),
        "peer_service": text_at(row, "peer.service"),
        "db_system": text_at(row, "db.system"),
        "timestamp": row.get("timestamp").cloned().unwrap_or(Value::Null),
    })
}

fn render_trace(answer: &NrqlAnswer, context: &TraceContext) -> Result<ToolOutput, ToolError> {
    if answer.rows.is_empty() {
        return Err(args::nothing_found(
            &format!("no spans of trace {} in the {}", context.trace_id, context.window),
            "Check the id (search_traces lists trace ids of a service), or widen since; traces are kept \
             for a limited time.",
        ));
    }
    let ordered = tree_order(&answer.rows);
    let spans: Vec<Value> = ordered.iter().map(|(depth, row)| span_json(*depth, row)).collect();
    let services: BTreeSet<String> = spans.iter().filter_map(|s| text_at(s, "service")).collect();
    let root_duration =
        spans.iter().filter(|s| s["depth"] == 0).filter_map(|s| number_at(s, "duration_ms")).reduce(f64::max);
    let errors: Vec<Value> = spans.iter().filter(|s| s["error"] == true).cloned().collect();
    let start = answer.rows.iter().filter_map(|r| r.get("timestamp").and_then(Value::as_i64)).min();
    let mut text = format!(
        "trace {} — {} spans across {} services ({}), root {}, {} failing{} (account {})\n",
        context.trace_id,
        spans.len(),
        services.len(),
        services.iter().cloned().collect::<Vec<_>>().join(", "),
        root_duration.map_or_else(|| "n/a".into(), millis),
        errors.len(),
        start.map(|ms| format!(", started {}", time_ms(ms))).unwrap_or_default(),
        answer.account
    );
    for error in errors.iter().take(5) {
        text.push_str(&format!(
            "error in {} {}: {}\n",
            text_at(error, "service").unwrap_or_default(),
            text_at(error, "name").unwrap_or_default(),
            text_at(error, "error_message").unwrap_or_else(|| "(no message)".into())
        ));
    }
    let mut slowest: Vec<&Value> = spans.iter().filter(|s| s["depth"] != 0).collect();
    slowest.sort_by(|a, b| {
        number_at(b, "duration_ms").unwrap_or(0.0).total_cmp(&number_at(a, "duration_ms").unwrap_or(0.0))
    });
    if !slowest.is_empty() {
        let names: Vec<String> = slowest
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "{} {} {}",
                    text_at(s, "service").unwrap_or_default(),
                    text_at(s, "name").unwrap_or_default(),
                    millis(number_at(s, "duration_ms").unwrap_or(0.0))
                )
            })
            .collect();
        text.push_str(&format!("slowest child spans: {}\n", names.join("; ")));
    }
    let capped = Capped::new(spans, MAX_ROWS);
    text.push_str(&format!("{}:\n", capped.heading("span", "spans")));
    for span in &capped.rows {
        let depth = span["depth"].as_u64().unwrap_or(0) as usize;
        let target = text_at(span, "peer_service").or_else(|| text_at(span, "db_system"));
        text.push_str(&format!(
            "{}{} {} {}{}{}\n",
            "  ".repeat(depth.min(20)),
            text_at(span, "service").unwrap_or_else(|| "?".into()),
            text_at(span, "name").unwrap_or_else(|| "?".into()),
            fixed_or_na(number_at(span, "duration_ms"), 1) + " ms",
            target.map(|t| format!(" → {t}")).unwrap_or_default(),
            if span["error"] == true { " ERROR" } else { "" },
        ));
    }
    let mut structured = Map::new();
    structured.insert("trace_id".into(), json!(context.trace_id));
    structured.insert("root_duration_ms".into(), json!(root_duration));
    structured.insert("services".into(), json!(services));
    structured.insert("error_spans".into(), json!(errors.len()));
    structured.extend(capped.counts());
    structured.insert("spans".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- search_traces -------------------------------------------------------------------

/// Arguments of `search_traces`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchTracesArgs {
    /// Service taking part in the traces (the spans' `service.name`), e.g. `checkout-service`.
    pub app_name: String,
    /// Only spans of the service lasting at least this many milliseconds.
    pub min_duration_ms: Option<f64>,
    /// Only failing spans of the service (default false).
    #[serde(default)]
    pub errors_only: bool,
    /// How far back to look, e.g. `30 minutes`, `6 hours` (default `1 hour`).
    pub since: Option<String>,
    /// Most traces to return, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct SearchContext {
    app: String,
    criteria: String,
    window: String,
}

fn choose_search(args: SearchTracesArgs, _: &PlanContext) -> Result<NrqlCall<SearchContext>, PlanError> {
    let app = args::name("app_name", &args.app_name)?;
    let limit = args::limit("limit", args.limit, SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT)?;
    if let Some(min) = args.min_duration_ms
        && !(min.is_finite() && min >= 0.0)
    {
        return Err(PlanError::InvalidArguments(
            "min_duration_ms must be a number of milliseconds, 0 or more".into(),
        ));
    }
    let mut criteria = Vec::new();
    if let Some(min) = args.min_duration_ms {
        criteria.push(format!("spans ≥ {} ms", fixed(min, 1)));
    }
    if args.errors_only {
        criteria.push("failing spans".to_string());
    }
    let context = SearchContext {
        app: app.clone(),
        criteria: if criteria.is_empty() { "all spans".into() } else { criteria.join(", ") },
        window: args::since_label(args.since.as_deref(), SEARCH_DEFAULT_SINCE),
    };
    Ok(NrqlCall::new("search", args.account_id, context)
        .value("app", app)
        .value("limit", limit)
        .filter("min_duration_ms", args.min_duration_ms)
        .flag("errors", args.errors_only)
        .value_opt("since", args.since))
}

fn render_search(answer: &NrqlAnswer, context: &SearchContext) -> Result<ToolOutput, ToolError> {
    let traces: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            json!({
                "trace_id": text_at(row, "trace.id").or_else(|| facets(row).first().cloned()),
                "duration_ms": number_at(row, "duration_ms"),
                "spans": number_at(row, "spans"),
                "error_spans": number_at(row, "error_spans"),
                "name": text_at(row, "name"),
                "error_message": text_at(row, "error_message"),
                "last_seen": number_at(row, "last_seen").map(|ms| time_ms(ms as i64)),
            })
        })
        .collect();
    let capped = Capped::new(traces, MAX_ROWS);
    let mut text = format!(
        "{} of {} ({}), {}, slowest first (account {})\n",
        capped.heading("trace", "traces"),
        context.app,
        context.criteria,
        context.window,
        answer.account
    );
    if capped.total == 0 {
        text.push_str(&format!(
            "No trace matched. Lower min_duration_ms, drop errors_only, or widen since. {APP_NAME_HINT}.\n"
        ));
    }
    for trace in &capped.rows {
        let errors = number_at(trace, "error_spans").unwrap_or(0.0);
        text.push_str(&format!(
            "{} — {} {}, {} spans{}{}\n",
            text_at(trace, "trace_id").unwrap_or_default(),
            millis(number_at(trace, "duration_ms").unwrap_or(0.0)),
            text_at(trace, "name").unwrap_or_default(),
            fixed_or_na(number_at(trace, "spans"), 0),
            if errors > 0.0 { format!(", {} failing", fixed(errors, 0)) } else { String::new() },
            text_at(trace, "error_message").map(|m| format!(": {m}")).unwrap_or_default(),
        ));
    }
    let mut structured = Map::new();
    structured.insert("app_name".into(), json!(context.app));
    structured.insert("criteria".into(), json!(context.criteria));
    structured.insert("window".into(), json!(context.window));
    structured.extend(capped.counts());
    structured.insert("traces".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- analyze_service_dependencies ----------------------------------------------------

/// Arguments of `analyze_service_dependencies`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeServiceDependenciesArgs {
    /// The service (span `service.name`, usually the APM app name), e.g. `checkout-service`.
    pub app_name: String,
    /// How far back to look, e.g. `30 minutes`, `6 hours` (default `1 hour`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct DependenciesContext {
    app: String,
    window: String,
}

fn choose_dependencies(
    args: AnalyzeServiceDependenciesArgs,
    _: &PlanContext,
) -> Result<NrqlCall<DependenciesContext>, PlanError> {
    let app = args::name("app_name", &args.app_name)?;
    let context = DependenciesContext {
        app: app.clone(),
        window: args::since_label(args.since.as_deref(), DEPENDENCIES_DEFAULT_SINCE),
    };
    Ok(NrqlCall::new("dependencies", args.account_id, context)
        .value("app", app)
        .value_opt("since", args.since))
}

fn dependency_json(name: &str, row: &Value) -> Value {
    json!({
        "service": name,
        "calls": number_at(row, "calls"),
        "avg_ms": number_at(row, "avg_ms"),
        "p95_ms": number_at(row, "p95_ms"),
        "error_pct": number_at(row, "error_pct"),
    })
}

fn dependency_line(dependency: &Value) -> String {
    format!(
        "{}: {} calls, avg {} ms, p95 {} ms, errors {}%\n",
        text_at(dependency, "service").unwrap_or_default(),
        fixed_or_na(number_at(dependency, "calls"), 0),
        fixed_or_na(number_at(dependency, "avg_ms"), 1),
        fixed_or_na(number_at(dependency, "p95_ms"), 1),
        fixed_or_na(number_at(dependency, "error_pct"), 2),
    )
}

fn render_dependencies(answer: &NrqlAnswer, context: &DependenciesContext) -> Result<ToolOutput, ToolError> {
    let mut downstream = Vec::new();
    let mut upstream = Vec::new();
    for row in &answer.rows {
        let facets = facets(row);
        let caller = text_at(row, "service.name").or_else(|| facets.first().cloned()).unwrap_or_default();
        let callee = text_at(row, "peer.service").or_else(|| facets.get(1).cloned()).unwrap_or_default();
        if caller == context.app && callee != context.app {
            downstream.push(dependency_json(&callee, row));
        } else if callee == context.app && caller != context.app {
            upstream.push(dependency_json(&caller, row));
        }
    }
    if downstream.is_empty() && upstream.is_empty() {
        return Err(args::nothing_found(
            &format!("no calls to or from {} in the {}", context.app, context.window),
            &format!(
                "Dependencies come from client spans naming peer.service (distributed tracing must be on); \
                 {APP_NAME_HINT}; or widen since."
            ),
        ));
    }
    // Worst first: the error rate, then latency.
    let worst_first = |list: &mut Vec<Value>| {
        list.sort_by(|a, b| {
            let key =
                |v: &Value| (number_at(v, "error_pct").unwrap_or(0.0), number_at(v, "p95_ms").unwrap_or(0.0));
            key(b).0.total_cmp(&key(a).0).then(key(b).1.total_cmp(&key(a).1))
        });
    };
    worst_first(&mut downstream);
    worst_first(&mut upstream);
    let mut text = format!(
        "{} — {} downstream, {} upstream, {} (account {})\n",
        context.app,
        downstream.len(),
        upstream.len(),
        context.window,
        answer.account
    );
    text.push_str(&format!("calls (downstream of {}):\n", context.app));
    if downstream.is_empty() {
        text.push_str("(none seen)\n");
    }
    for dependency in &downstream {
        text.push_str("→ ");
        text.push_str(&dependency_line(dependency));
    }
    text.push_str(&format!("called by (upstream of {}):\n", context.app));
    if upstream.is_empty() {
        text.push_str("(none seen)\n");
    }
    for dependency in &upstream {
        text.push_str("← ");
        text.push_str(&dependency_line(dependency));
    }
    let mut structured = Map::new();
    structured.insert("app_name".into(), json!(context.app));
    structured.insert("window".into(), json!(context.window));
    structured.insert("downstream".into(), Value::Array(downstream));
    structured.insert("upstream".into(), Value::Array(upstream));
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
                "get_distributed_trace_details",
                json!({"trace_id": "abc123"}),
                "FROM Span WHERE trace.id = 'abc123' LIMIT 1000 SINCE 1 day ago",
            ),
            (
                "search_traces",
                json!({"app_name": "checkout-service", "min_duration_ms": 500, "errors_only": true, "limit": 5}),
                "FROM Span WHERE service.name = 'checkout-service' AND duration.ms >= 500.0 AND error IS TRUE FACET trace.id ORDER BY max(duration.ms) LIMIT 5 SINCE 1 hour ago",
            ),
            (
                "analyze_service_dependencies",
                json!({"app_name": "checkout-service"}),
                "FROM Span WHERE peer.service IS NOT NULL AND (service.name = 'checkout-service' OR peer.service = 'checkout-service') FACET service.name, peer.service LIMIT 100 SINCE 1 hour ago",
            ),
        ];
        for (tool, arguments, tail) in cases {
            let query = nrql(&plan(&all(), tool, arguments).unwrap());
            assert!(query.ends_with(tail), "{query}");
        }
        for (tool, arguments) in [
            ("get_distributed_trace_details", json!({"trace_id": "a' OR 1=1"})),
            ("get_distributed_trace_details", json!({"trace_id": ""})),
            ("search_traces", json!({"app_name": "x", "min_duration_ms": -1})),
            ("search_traces", json!({"app_name": "x", "limit": 101})),
            ("analyze_service_dependencies", json!({"service": "x"})),
        ] {
            assert!(matches!(plan(&all(), tool, arguments), Err(PlanError::InvalidArguments(_))), "{tool}");
        }
    }

    fn span(
        id: &str,
        parent: Option<&str>,
        service: &str,
        name: &str,
        ms: f64,
        at: i64,
        error: bool,
    ) -> Value {
        let mut span = json!({"id": id, "service.name": service, "name": name, "duration.ms": ms, "timestamp": at, "error": error});
        if let Some(parent) = parent {
            span["parent.id"] = json!(parent);
        }
        if error {
            span["error.message"] = json!("card declined");
        }
        span
    }

    #[test]
    fn builds_the_call_tree_across_services() {
        let rows = json!([
            span("c", Some("b"), "payments-api", "authorize", 120.0, 30, true),
            span("a", None, "web-frontend", "GET /checkout", 300.0, 10, false),
            span("d", Some("b"), "inventory-worker", "reserve", 40.0, 25, false),
            span("b", Some("a"), "checkout-service", "submit", 250.0, 20, false),
            span("x", Some("missing"), "web-frontend", "orphan", 5.0, 50, false)
        ]);
        let output =
            answer(&all(), "get_distributed_trace_details", json!({"trace_id": "t1"}), rows).unwrap();
        let text = &output.text;
        assert!(text.starts_with("trace t1 — 5 spans across 4 services (checkout-service, inventory-worker, payments-api, web-frontend), root 300 ms, 1 failing"), "{text}");
        assert!(text.contains("error in payments-api authorize: card declined"), "{text}");
        assert!(text.contains(
            "web-frontend GET /checkout 300 ms\n  checkout-service submit 250 ms\n    inventory-worker reserve 40 ms\n    payments-api authorize 120 ms ERROR\nweb-frontend orphan 5 ms\n"
        ), "{text}");
        assert!(
            text.contains(
                "slowest child spans: checkout-service submit 250 ms; payments-api authorize 120 ms"
            ),
            "{text}"
        );
        assert_eq!(output.structured["spans"][3]["depth"], 2);
        let missing = answer(&all(), "get_distributed_trace_details", json!({"trace_id": "t2"}), json!([]))
            .unwrap_err();
        assert_eq!(missing.kind, ToolErrorKind::NotFound);
    }

    #[test]
    fn a_parent_cycle_neither_loops_nor_drops_spans() {
        let rows = vec![
            span("a", Some("b"), "s", "one", 1.0, 1, false),
            span("b", Some("a"), "s", "two", 1.0, 2, false),
        ];
        assert_eq!(tree_order(&rows).len(), 2);
    }

    #[test]
    fn lists_traces_and_splits_dependencies_by_direction() {
        let rows = json!([{"facet": "t9", "trace.id": "t9", "duration_ms": 2300, "spans": 3, "error_spans": 1, "name": "submit", "error_message": "timeout"}]);
        let output = answer(&all(), "search_traces", json!({"app_name": "checkout-service"}), rows).unwrap();
        assert!(output.text.contains("t9 — 2.3 s submit, 3 spans, 1 failing: timeout"), "{}", output.text);
        let rows = json!([
            {"facet": ["checkout-service", "payments-api"], "calls": 40, "avg_ms": 90, "p95_ms": {"95": 300}, "error_pct": 5},
            {"facet": ["checkout-service", "postgres"], "calls": 80, "avg_ms": 4, "p95_ms": {"95": 9}, "error_pct": 0},
            {"facet": ["web-frontend", "checkout-service"], "calls": 40, "avg_ms": 250, "p95_ms": {"95": 900}, "error_pct": 2}
        ]);
        let output =
            answer(&all(), "analyze_service_dependencies", json!({"app_name": "checkout-service"}), rows)
                .unwrap();
        assert!(output.text.contains("checkout-service — 2 downstream, 1 upstream"), "{}", output.text);
        assert!(
            output.text.contains("→ payments-api: 40 calls, avg 90 ms, p95 300 ms, errors 5%\n→ postgres"),
            "{}",
            output.text
        );
        assert!(output.text.contains("← web-frontend: 40 calls"), "{}", output.text);
        let none = answer(&all(), "analyze_service_dependencies", json!({"app_name": "lonely"}), json!([]))
            .unwrap_err();
        assert_eq!(none.kind, ToolErrorKind::NotFound);
    }
}
