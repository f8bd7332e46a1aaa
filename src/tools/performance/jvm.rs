//! JVM health from APM timeslice metrics: threads by state (`analyze_threads`) and garbage
//! collection pauses with heap use (`list_garbage_collection_metrics`).

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args;
use crate::tools::nrql_tool::values::{facets, fixed, fixed_or_na, number_at, share};
use crate::tools::nrql_tool::{NrqlAnswer, NrqlCall, Shape, nrql_tool};

const DEFAULT_SINCE: &str = "1 hour";
const THREAD_COUNT: &str = "JmxBuiltIn/Threads/Thread Count";
const THREAD_STATES: [(&str, &str); 3] = [
    ("blocked", "Threads/Summary/State/Blocked/Count"),
    ("runnable", "Threads/Summary/State/Runnable/Count"),
    ("waiting", "Threads/Summary/State/Waiting/Count"),
];
const HEAP_USED: &str = "Memory/Heap/Used";
const HEAP_MAX: &str = "Memory/Heap/Max";
/// A minute, in the milliseconds GC metrics count pause time in.
const MINUTE_MS: f64 = 60_000.0;
/// Share of time in GC pauses worth calling out.
const GC_TIME_ALERT_PCT: f64 = 5.0;
/// Heap use worth calling out.
const HEAP_ALERT_PCT: f64 = 85.0;

const AGGREGATES: &str = "latest(newrelic.timeslice.value) AS 'latest', \
    average(newrelic.timeslice.value) AS 'average', max(newrelic.timeslice.value) AS 'max'";

pub(super) fn shapes() -> Vec<Shape> {
    let names = |names: &[&str]| names.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ");
    let thread_names: Vec<&str> =
        std::iter::once(THREAD_COUNT).chain(THREAD_STATES.iter().map(|(_, name)| *name)).collect();
    vec![
        Shape::new(
            "threads",
            format!(
                "SELECT {AGGREGATES} FROM Metric WHERE appName = {{{{app}}}} AND metricTimesliceName IN ({}) \
                 FACET metricTimesliceName SINCE {{{{since}}}} ago",
                names(&thread_names)
            ),
            vec![ParamSpec::new("app", ParamType::String), args::since_param(DEFAULT_SINCE)],
        ),
        Shape::new(
            "gc",
            format!(
                "SELECT {AGGREGATES}, sum(newrelic.timeslice.value) AS 'total' FROM Metric WHERE appName = \
                 {{{{app}}}} AND (metricTimesliceName LIKE 'GC/%' OR metricTimesliceName IN ({})) \
                 FACET metricTimesliceName SINCE {{{{since}}}} ago",
                names(&[HEAP_USED, HEAP_MAX])
            ),
            vec![ParamSpec::new("app", ParamType::String), args::since_param(DEFAULT_SINCE)],
        ),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    let shapes = shapes();
    let shape = |name: &str| shapes.iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
    vec![
        nrql_tool(
            Spec {
                name: "analyze_threads",
                title: "Analyze JVM threads",
                description: "JVM thread counts of a Java APM application from its timeslice metrics: total \
                    threads and threads blocked, runnable and waiting (latest, average and peak), with \
                    blocked threads called out as lock contention.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(60)),
            },
            shape("threads"),
            policy,
            choose_threads,
            render_threads,
        ),
        nrql_tool(
            Spec {
                name: "list_garbage_collection_metrics",
                title: "List garbage collection metrics",
                description: "Garbage collection of a Java APM application by collector (e.g. G1 Young and Old \
                    Generation): pause time per minute (average and peak), share of time paused, total pause \
                    time, and heap used against its maximum.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(60)),
            },
            shape("gc"),
            policy,
            choose_gc,
            render_gc,
        ),
    ]
}

/// Arguments of `analyze_threads` and `list_garbage_collection_metrics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JvmArgs {
    /// Name of a Java APM application, e.g. `checkout-service`.
    pub app_name: String,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `7 days` (default `1 hour`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Context {
    app: String,
    window: String,
}

fn choose(shape: &'static str, args: JvmArgs) -> Result<NrqlCall<Context>, PlanError> {
    let app = args::name("app_name", &args.app_name)?;
    let context =
        Context { app: app.clone(), window: args::since_label(args.since.as_deref(), DEFAULT_SINCE) };
    Ok(NrqlCall::new(shape, args.account_id, context).value("app", app).value_opt("since", args.since))
}

fn choose_threads(args: JvmArgs, _: &PlanContext) -> Result<NrqlCall<Context>, PlanError> {
    choose("threads", args)
}

fn choose_gc(args: JvmArgs, _: &PlanContext) -> Result<NrqlCall<Context>, PlanError> {
    choose("gc", args)
}

fn no_jvm_metrics(context: &Context, what: &str) -> ToolError {
    args::nothing_found(
        &format!("no JVM {what} metrics for {} in the {}", context.app, context.window),
        "These come from the Java agent only: check that the app is a Java (JVM) app and its name \
         with get_entity (name_pattern), or widen since.",
    )
}

/// The row of one timeslice name.
fn metric<'a>(rows: &'a [Value], name: &str) -> Option<&'a Value> {
    rows.iter().find(|row| {
        row.get("metricTimesliceName").and_then(Value::as_str) == Some(name)
            || facets(row).first().map(String::as_str) == Some(name)
    })
}

fn stats(row: Option<&Value>) -> Value {
    json!({
        "latest": row.and_then(|r| number_at(r, "latest")),
        "average": row.and_then(|r| number_at(r, "average")),
        "max": row.and_then(|r| number_at(r, "max")),
    })
}

fn render_threads(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    if answer.rows.is_empty() {
        return Err(no_jvm_metrics(context, "thread"));
    }
    let total = stats(metric(&answer.rows, THREAD_COUNT));
    let mut text = format!(
        "{} — JVM threads, {} (account {})\nthreads: {} now, avg {}, peak {}\n",
        context.app,
        context.window,
        answer.account,
        fixed_or_na(number_at(&total, "latest"), 0),
        fixed_or_na(number_at(&total, "average"), 1),
        fixed_or_na(number_at(&total, "max"), 0),
    );
    let mut states = Map::new();
    for (state, name) in THREAD_STATES {
        let values = stats(metric(&answer.rows, name));
        text.push_str(&format!(
            "{state}: {} now, avg {}, peak {}\n",
            fixed_or_na(number_at(&values, "latest"), 0),
            fixed_or_na(number_at(&values, "average"), 1),
            fixed_or_na(number_at(&values, "max"), 0),
        ));
        states.insert(state.into(), values);
    }
    let blocked_peak = number_at(&states["blocked"], "max").unwrap_or(0.0);
    let mut concerns = Vec::new();
    if blocked_peak > 0.0 {
        let blocked_share = number_at(&states["blocked"], "average")
            .zip(number_at(&total, "average"))
            .and_then(|(blocked, all)| share(blocked, all));
        concerns.push(format!(
            "up to {} threads blocked ({}% on average): lock contention — check slow transactions and \
             synchronized sections",
            fixed(blocked_peak, 0),
            fixed_or_na(blocked_share, 1)
        ));
    }
    for concern in &concerns {
        text.push_str(&format!("watch: {concern}\n"));
    }
    let mut structured = Map::new();
    structured.insert("app_name".into(), json!(context.app));
    structured.insert("window".into(), json!(context.window));
    structured.insert("thread_count".into(), total);
    structured.insert("states".into(), Value::Object(states));
    structured.insert("concerns".into(), json!(concerns));
    Ok(answer.output(structured, text))
}

fn render_gc(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    let mut collectors: Vec<Value> = answer
        .rows
        .iter()
        .filter_map(|row| {
            let name = row
                .get("metricTimesliceName")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| facets(row).first().cloned())?;
            let collector = name.strip_prefix("GC/")?.to_string();
            let average = number_at(row, "average");
            Some(json!({
                "collector": collector,
                "pause_ms_per_minute_avg": average,
                "pause_ms_per_minute_max": number_at(row, "max"),
                "pause_ms_total": number_at(row, "total"),
                "time_in_gc_pct": average.map(|ms| ms / MINUTE_MS * 100.0),
            }))
        })
        .collect();
    if collectors.is_empty() {
        return Err(no_jvm_metrics(context, "garbage collection"));
    }
    collectors.sort_by(|a, b| {
        let key = |v: &Value| number_at(v, "pause_ms_total").unwrap_or(0.0);
        key(b).total_cmp(&key(a))
    });
    let heap_used = stats(metric(&answer.rows, HEAP_USED));
    let heap_max = stats(metric(&answer.rows, HEAP_MAX));
    let heap_pct =
        number_at(&heap_used, "latest").zip(number_at(&heap_max, "latest")).and_then(|(u, m)| share(u, m));
    let heap_peak_pct =
        number_at(&heap_used, "max").zip(number_at(&heap_max, "latest")).and_then(|(u, m)| share(u, m));
    let mut text =
        format!("{} — garbage collection, {} (account {})\n", context.app, context.window, answer.account);
    let mut concerns = Vec::new();
    for collector in &collectors {
        let name = collector["collector"].as_str().unwrap_or_default();
        let gc_pct = number_at(collector, "time_in_gc_pct");
        text.push_str(&format!(
            "{name}: {} ms paused per minute on average ({}% of time), peak {} ms/min, total {}\n",
            fixed_or_na(number_at(collector, "pause_ms_per_minute_avg"), 1),
            fixed_or_na(gc_pct, 2),
            fixed_or_na(number_at(collector, "pause_ms_per_minute_max"), 1),
            crate::tools::nrql_tool::values::millis(number_at(collector, "pause_ms_total").unwrap_or(0.0)),
        ));
        if let Some(pct) = gc_pct.filter(|pct| *pct >= GC_TIME_ALERT_PCT) {
            concerns.push(format!("{name} pauses take {}% of the time", fixed(pct, 1)));
        }
    }
    if let Some(pct) = heap_pct {
        text.push_str(&format!(
            "heap: {} MB used of {} MB ({}%), peak {} MB\n",
            fixed_or_na(number_at(&heap_used, "latest"), 0),
            fixed_or_na(number_at(&heap_max, "latest"), 0),
            fixed(pct, 1),
            fixed_or_na(number_at(&heap_used, "max"), 0),
        ));
    }
    if let Some(peak) = heap_peak_pct.filter(|pct| *pct >= HEAP_ALERT_PCT) {
        concerns
            .push(format!("heap peaked at {}% of its maximum: memory pressure drives GC", fixed(peak, 1)));
    }
    for concern in &concerns {
        text.push_str(&format!("watch: {concern}\n"));
    }
    let mut structured = Map::new();
    structured.insert("app_name".into(), json!(context.app));
    structured.insert("window".into(), json!(context.window));
    structured.insert("collectors".into(), Value::Array(collectors));
    structured.insert(
        "heap".into(),
        json!({ "used_mb": heap_used, "max_mb": heap_max, "used_pct": heap_pct, "peak_used_pct": heap_peak_pct }),
    );
    structured.insert("concerns".into(), json!(concerns));
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

    fn row(name: &str, latest: f64, average: f64, max: f64) -> Value {
        json!({"facet": name, "metricTimesliceName": name, "latest": latest, "average": average, "max": max, "total": average * 60.0})
    }

    #[test]
    fn plans_timeslice_queries() {
        let threads =
            nrql(&plan(&all(), "analyze_threads", json!({"app_name": "checkout-service"})).unwrap());
        assert!(threads.contains("FROM Metric WHERE appName = 'checkout-service' AND metricTimesliceName IN ('JmxBuiltIn/Threads/Thread Count', 'Threads/Summary/State/Blocked/Count'"), "{threads}");
        let gc = nrql(
            &plan(&all(), "list_garbage_collection_metrics", json!({"app_name": "x", "since": "1 day"}))
                .unwrap(),
        );
        assert!(gc.contains("(metricTimesliceName LIKE 'GC/%' OR metricTimesliceName IN ('Memory/Heap/Used', 'Memory/Heap/Max'))"), "{gc}");
        assert!(gc.ends_with("FACET metricTimesliceName SINCE 1 day ago"), "{gc}");
        assert!(matches!(plan(&all(), "analyze_threads", json!({})), Err(PlanError::InvalidArguments(_))));
    }

    #[test]
    fn threads_by_state_with_contention_called_out() {
        let rows = json!([
            row(THREAD_COUNT, 120.0, 110.0, 130.0),
            row("Threads/Summary/State/Blocked/Count", 3.0, 2.2, 8.0),
            row("Threads/Summary/State/Runnable/Count", 40.0, 38.0, 45.0),
            row("Threads/Summary/State/Waiting/Count", 77.0, 70.0, 80.0)
        ]);
        let output =
            answer(&all(), "analyze_threads", json!({"app_name": "checkout-service"}), rows).unwrap();
        assert!(
            output.text.contains("threads: 120 now, avg 110, peak 130\nblocked: 3 now, avg 2.2, peak 8"),
            "{}",
            output.text
        );
        assert!(output.text.contains("watch: up to 8 threads blocked (2% on average)"), "{}", output.text);
        assert_eq!(output.structured["states"]["waiting"]["latest"], 77.0);
        let error =
            answer(&all(), "analyze_threads", json!({"app_name": "payments-api"}), json!([])).unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
        assert!(error.message.contains("Java"));
    }

    #[test]
    fn gc_by_collector_with_heap() {
        let rows = json!([
            row("GC/G1 Young Generation", 120.0, 150.0, 400.0),
            row("GC/G1 Old Generation", 0.0, 3600.0, 9000.0),
            row(HEAP_USED, 900.0, 700.0, 980.0),
            row(HEAP_MAX, 1024.0, 1024.0, 1024.0)
        ]);
        let output =
            answer(&all(), "list_garbage_collection_metrics", json!({"app_name": "checkout-service"}), rows)
                .unwrap();
        let text = &output.text;
        assert!(
            text.contains(
                "G1 Old Generation: 3600 ms paused per minute on average (6% of time), peak 9000 ms/min"
            ),
            "{text}"
        );
        assert!(text.find("G1 Old").unwrap() < text.find("G1 Young").unwrap(), "{text}");
        assert!(text.contains("heap: 900 MB used of 1024 MB (87.9%), peak 980 MB"), "{text}");
        assert!(text.contains("watch: G1 Old Generation pauses take 6% of the time"), "{text}");
        assert!(text.contains("watch: heap peaked at 95.7%"), "{text}");
        assert_eq!(output.structured["collectors"][1]["collector"], "G1 Young Generation");
    }
}
