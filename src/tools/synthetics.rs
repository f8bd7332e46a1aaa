//! Synthetic monitoring: the monitors of an account with their latest result, a monitor's
//! recent checks, and its success rate and duration percentiles by location.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    NrqlAccounts, Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolHints,
    ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::account::resolve_account;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::data_access::NrqlSettings;
use super::embedded_nrql::{NrqlTemplate, alias_rows, missing_result};
use super::entity_ref::{name_filter, search_literal};
use super::nrql_tool::args;
use super::nrql_tool::values::{
    fixed, fixed_or_na, millis, number_at, percentile_at, share, text_at, time_ms,
};
use super::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use super::render::{Capped, MAX_ROWS, at, cell, list_at, response_notes, warnings};

const CATEGORY: &str = "alerting";

pub(crate) const SYNTHETIC_MONITORS: &str = r#"query SyntheticMonitors($query: String!, $accountId: Int!, $checks: Nrql!) {
  actor {
    entitySearch(query: $query, options: { limit: 200 }) {
      count
      results {
        nextCursor
        entities { guid name accountId domain type reporting alertSeverity permalink tags { key values } }
      }
    }
    account(id: $accountId) {
      checks: nrql(query: $checks, timeout: 30) { results }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[("SyntheticMonitors", SYNTHETIC_MONITORS)];

const MONITORS_SINCE: &str = "1 day";
const RESULTS_SINCE: &str = "6 hours";
const STATISTICS_SINCE: &str = "1 day";
/// Below this success rate, in percent, a monitor or location is called out.
const SUCCESS_RATE_ALERT_PCT: f64 = 95.0;
/// The HTTP deadline of the monitors request: its NRQL may run 30 s.
const MONITORS_TIMEOUT: Duration = Duration::from_secs(40);

pub struct SyntheticsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl SyntheticsPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = settings.policy;
        Self {
            tools: vec![
                BuiltinTool::with_state(
                    Spec {
                        name: "list_synthetic_monitors",
                        title: "List synthetic monitors",
                        description: "List the synthetic monitors of an account with their latest result \
                            (SUCCESS or FAILED, when, where, how long), check count and success rate over a \
                            window (default the last day); failing monitors first. Optionally only monitors whose \
                            name contains name_filter.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    policy.clone(),
                    plan_list_synthetic_monitors,
                ),
                results_tool(&policy),
                statistics_tool(&policy),
            ],
        }
    }
}

impl Default for SyntheticsPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(
    SyntheticsPlugin,
    "synthetics",
    "Synthetic monitors, their checks and statistics"
);

/// Arguments of `list_synthetic_monitors`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSyntheticMonitorsArgs {
    /// Account whose monitors to list; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Only monitors whose name contains this text, e.g. `checkout`.
    pub name_filter: Option<String>,
    /// Window for the latest result and success rate, e.g. `1 hour`, `7 days` (default `1 day`).
    pub since: Option<String>,
}

fn monitor_checks_template() -> NrqlTemplate {
    NrqlTemplate::new(
        "monitor checks",
        "SELECT latest(result) AS 'last_result', latest(timestamp) AS 'last_check', \
         latest(locationLabel) AS 'last_location', latest(duration) AS 'last_duration_ms', \
         latest(error) AS 'last_error', latest(type) AS 'monitor_type', count(*) AS 'checks', \
         filter(count(*), WHERE result = 'FAILED') AS 'failures' \
         FROM SyntheticCheck FACET entityGuid SINCE {{since}} ago LIMIT 200",
        vec![ParamSpec::new("since", ParamType::Duration)],
    )
}

fn plan_list_synthetic_monitors(
    policy: &Arc<Policy>,
    args: ListSyntheticMonitorsArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let filter = name_filter("name_filter", args.name_filter.as_deref())?;
    let since =
        args.since.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(MONITORS_SINCE).to_string();
    let checks =
        monitor_checks_template().build(&[("since", json!(since))], policy, account, context.now_epoch_ms)?;
    let mut query = format!("domain = 'SYNTH' AND type = 'MONITOR' AND accountId = {account}");
    if let Some(filter) = &filter {
        query.push_str(&format!(" AND name LIKE {}", search_literal(filter)));
    }
    let request = UpstreamRequest {
        operation: "SyntheticMonitors",
        document: SYNTHETIC_MONITORS.into(),
        variables: json!({ "query": query, "accountId": account, "checks": checks }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "name_filter": filter, "checks": checks });
    let window = format!("last {since}");
    let plan =
        upstream_plan(descriptor, Some(account), &normalised, request, MONITORS_TIMEOUT, move |response| {
            render_monitors(account, &window, response)
        });
    Ok(Plan { nrql_accounts: NrqlAccounts::one(account), ..plan })
}

fn tag(entity: &Value, key: &str) -> Option<String> {
    list_at(entity, &["tags"])
        .iter()
        .find(|tag| at(tag, &["key"]).as_str().is_some_and(|k| k.eq_ignore_ascii_case(key)))
        .and_then(|tag| list_at(tag, &["values"]).first().and_then(|v| v.as_str().map(str::to_string)))
}

fn render_monitors(account: i64, window: &str, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let checks = alias_rows(&response.data, &["actor", "account", "checks"])
        .ok_or_else(|| missing_result("synthetic check results", &response.partial_errors))?;
    let by_guid: BTreeMap<String, &Value> = checks
        .iter()
        .filter_map(|row| {
            let guid = text_at(row, "entityGuid").or_else(|| text_at(row, "facet"))?;
            Some((guid, row))
        })
        .collect();
    let mut monitors: Vec<Value> = list_at(&response.data, &["actor", "entitySearch", "results", "entities"])
        .iter()
        .map(|entity| {
            let guid = cell(at(entity, &["guid"]));
            let stats = by_guid.get(&guid).copied().unwrap_or(&Value::Null);
            let checks = number_at(stats, "checks").unwrap_or(0.0);
            let failures = number_at(stats, "failures").unwrap_or(0.0);
            json!({
                "guid": guid,
                "name": at(entity, &["name"]),
                "monitor_type": text_at(stats, "monitor_type").or_else(|| tag(entity, "monitorType")),
                "reporting": at(entity, &["reporting"]),
                "alert_severity": at(entity, &["alertSeverity"]),
                "last_result": text_at(stats, "last_result"),
                "last_check": number_at(stats, "last_check").map(|t| time_ms(t as i64)),
                "last_location": text_at(stats, "last_location"),
                "last_duration_ms": number_at(stats, "last_duration_ms"),
                "last_error": text_at(stats, "last_error"),
                "checks": checks,
                "failures": failures,
                "success_rate_pct": share(checks - failures, checks),
                "permalink": at(entity, &["permalink"]),
            })
        })
        .collect();
    // Failing monitors first, then the least successful, then by name.
    monitors.sort_by(|a, b| {
        let failing = |m: &Value| at(m, &["last_result"]) != "FAILED";
        let rate = |m: &Value| at(m, &["success_rate_pct"]).as_f64().unwrap_or(100.0);
        failing(a)
            .cmp(&failing(b))
            .then(rate(a).total_cmp(&rate(b)))
            .then(cell(at(a, &["name"])).cmp(&cell(at(b, &["name"]))))
    });
    let failing = monitors.iter().filter(|m| at(m, &["last_result"]) == "FAILED").count();
    let capped = Capped::new(monitors, MAX_ROWS);
    let mut text = format!(
        "{} in account {account} ({failing} failing at their last check; results over the {window})\n",
        capped.heading("synthetic monitor", "synthetic monitors")
    );
    for monitor in &capped.rows {
        let rate = at(monitor, &["success_rate_pct"]).as_f64();
        let marker = if rate.is_some_and(|r| r < SUCCESS_RATE_ALERT_PCT) { " ⚠" } else { "" };
        text.push_str(&format!(
            "{} [{}] last {} at {} from {} in {}; {} checks, success {}%{marker}; guid {}\n",
            cell(at(monitor, &["name"])),
            cell(at(monitor, &["monitor_type"])),
            cell(at(monitor, &["last_result"])),
            cell(at(monitor, &["last_check"])),
            cell(at(monitor, &["last_location"])),
            at(monitor, &["last_duration_ms"]).as_f64().map_or_else(|| "n/a".into(), millis),
            cell(at(monitor, &["checks"])),
            fixed_or_na(rate, 1),
            cell(at(monitor, &["guid"])),
        ));
        if let Some(error) =
            at(monitor, &["last_error"]).as_str().filter(|_| at(monitor, &["last_result"]) == "FAILED")
        {
            text.push_str(&format!("  last error: {}\n", cell(&json!(error))));
        }
    }
    if capped.total == 0 {
        text.push_str("No synthetic monitor found: drop name_filter, or check account_id.\n");
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("window".into(), json!(window));
    structured.insert("failing".into(), json!(failing));
    structured.insert("monitors".into(), Value::Array(capped.rows));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

/// Which monitor: by GUID or by name (exactly one).
fn monitor_conditions() -> Vec<Condition> {
    vec![
        Condition::one("guid", "entityGuid = {{guid}}", ParamType::String),
        Condition::one("name", "monitorName = {{name}}", ParamType::String),
    ]
}

fn monitor_call<C>(
    shape: &'static str,
    plan_context: &PlanContext,
    account_id: Option<i64>,
    monitor_guid: Option<&str>,
    monitor_name: Option<&str>,
    context: impl FnOnce(String) -> C,
) -> Result<NrqlCall<C>, PlanError> {
    match args::one_of(("monitor_guid", monitor_guid), ("monitor_name", monitor_name))? {
        Ok(guid) => {
            let guid = args::guid("monitor_guid", guid, plan_context)?;
            Ok(NrqlCall::new(shape, account_id, context(format!("monitor {guid}")))
                .filter("guid", Some(guid)))
        }
        Err(name) => {
            let name = args::name("monitor_name", name)?;
            Ok(NrqlCall::new(shape, account_id, context(name.clone())).filter("name", Some(name)))
        }
    }
}

/// Arguments of `list_synthetic_monitor_results`: exactly one of `monitor_guid` and `monitor_name`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSyntheticMonitorResultsArgs {
    /// GUID of the monitor (list_synthetic_monitors lists them). Give this or `monitor_name`.
    pub monitor_guid: Option<String>,
    /// Exact monitor name. Give this or `monitor_guid`.
    pub monitor_name: Option<String>,
    /// Only failed checks (default false).
    #[serde(default)]
    pub failures_only: bool,
    /// How far back to look, e.g. `1 hour`, `2 days` (default `6 hours`).
    pub since: Option<String>,
    /// Most checks to return, 1 to 500 (default 50), newest first.
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ResultsContext {
    monitor: String,
    window: String,
    failures_only: bool,
}

pub(super) fn result_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "checks",
            "SELECT timestamp, monitorName, result, duration, locationLabel, type, error FROM SyntheticCheck \
             {where} SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(RESULTS_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions({
            let mut conditions = monitor_conditions();
            conditions.push(Condition::flag("failed", "result = 'FAILED'"));
            conditions
        }),
    ]
}

fn results_tool(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "list_synthetic_monitor_results",
            title: "List synthetic monitor results",
            description: "List a synthetic monitor's recent checks, newest first: time, result, duration, \
                location and error, over a window (default the last 6 hours); failures_only keeps the failed \
                ones. Reports how many failed and from where.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(30)),
        },
        result_shapes(),
        policy,
        choose_results,
        render_results,
    )
}

fn choose_results(
    args: ListSyntheticMonitorResultsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<ResultsContext>, PlanError> {
    let limit = args::limit("limit", args.limit, 50, 500)?;
    let window = args::since_label(args.since.as_deref(), RESULTS_SINCE);
    let failures_only = args.failures_only;
    let call = monitor_call(
        "checks",
        plan_context,
        args.account_id,
        args.monitor_guid.as_deref(),
        args.monitor_name.as_deref(),
        |monitor| ResultsContext { monitor, window, failures_only },
    )?;
    Ok(call.flag("failed", failures_only).value("limit", limit).value_opt("since", args.since))
}

fn render_results(answer: &NrqlAnswer, context: &ResultsContext) -> Result<ToolOutput, ToolError> {
    let rows: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            json!({
                "time": number_at(row, "timestamp").map(|t| time_ms(t as i64)),
                "timestamp": at(row, &["timestamp"]),
                "monitor": at(row, &["monitorName"]),
                "result": at(row, &["result"]),
                "duration_ms": at(row, &["duration"]),
                "location": at(row, &["locationLabel"]),
                "type": at(row, &["type"]),
                "error": at(row, &["error"]),
            })
        })
        .collect();
    let failed: Vec<&Value> = rows.iter().filter(|row| at(row, &["result"]) == "FAILED").collect();
    let mut failed_by_location: BTreeMap<String, usize> = BTreeMap::new();
    for row in &failed {
        *failed_by_location.entry(cell(at(row, &["location"]))).or_default() += 1;
    }
    let capped = Capped::new(rows.clone(), MAX_ROWS * 5);
    let kind = if context.failures_only { "failed check" } else { "check" };
    let mut text = format!(
        "{} of {} ({}); {} failed\n",
        capped.heading(kind, &format!("{kind}s")),
        context.monitor,
        context.window,
        failed.len()
    );
    if !failed_by_location.is_empty() {
        let summary: Vec<String> =
            failed_by_location.iter().map(|(location, n)| format!("{location} {n}")).collect();
        text.push_str(&format!("failures by location: {}\n", summary.join(", ")));
    }
    for row in capped.rows.iter().take(MAX_ROWS) {
        let error =
            at(row, &["error"]).as_str().map(|e| format!(" — {}", cell(&json!(e)))).unwrap_or_default();
        text.push_str(&format!(
            "{} {} {} from {}{error}\n",
            cell(at(row, &["time"])),
            cell(at(row, &["result"])),
            at(row, &["duration_ms"]).as_f64().map_or_else(|| "n/a".into(), millis),
            cell(at(row, &["location"])),
        ));
    }
    if capped.rows.len() > MAX_ROWS {
        text.push_str(&format!("… {} more in the structured content\n", capped.rows.len() - MAX_ROWS));
    }
    if capped.total == 0 {
        text.push_str(
            "No check in this window: check the monitor with list_synthetic_monitors, or widen since.\n",
        );
    }
    let mut structured = capped.counts();
    structured.insert("monitor".into(), json!(context.monitor));
    structured.insert("window".into(), json!(context.window));
    structured.insert("failed".into(), json!(failed.len()));
    structured.insert("failed_by_location".into(), json!(failed_by_location));
    structured.insert("checks".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

/// Arguments of `get_synthetic_check_statistics`: at most one of `monitor_guid` and `monitor_name`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetSyntheticCheckStatisticsArgs {
    /// GUID of the monitor. Give this, `monitor_name`, or neither for every monitor.
    pub monitor_guid: Option<String>,
    /// Exact monitor name. Give this, `monitor_guid`, or neither for every monitor.
    pub monitor_name: Option<String>,
    /// How far back to look, e.g. `6 hours`, `7 days` (default `1 day`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct StatisticsContext {
    monitor: String,
    window: String,
}

const STATISTICS: &str = "count(*) AS 'checks', filter(count(*), WHERE result = 'FAILED') AS 'failures', \
    average(duration) AS 'avg_duration_ms', percentile(duration, 50, 95, 99) AS 'duration_ms', \
    max(duration) AS 'max_duration_ms'";

pub(super) fn statistics_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "by_location",
            format!("SELECT {STATISTICS} FROM SyntheticCheck {{where}} FACET locationLabel SINCE {{{{since}}}} ago LIMIT 100"),
            vec![args::since_param(STATISTICS_SINCE)],
        )
        .with_conditions(monitor_conditions()),
        Shape::new(
            "by_monitor",
            format!(
                "SELECT {STATISTICS} FROM SyntheticCheck FACET monitorName, locationLabel SINCE {{{{since}}}} ago LIMIT 500"
            ),
            vec![args::since_param(STATISTICS_SINCE)],
        ),
    ]
}

fn statistics_tool(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "get_synthetic_check_statistics",
            title: "Get synthetic check statistics",
            description: "Success rate and check duration (average, p50, p95, p99, max) of a synthetic monitor \
                by location, over a window (default the last day), with the overall success rate and the worst \
                location. Without a monitor, every monitor by location.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(60)),
        },
        statistics_shapes(),
        policy,
        choose_statistics,
        render_statistics,
    )
}

fn choose_statistics(
    args: GetSyntheticCheckStatisticsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<StatisticsContext>, PlanError> {
    let window = args::since_label(args.since.as_deref(), STATISTICS_SINCE);
    let call = if args.monitor_guid.is_none() && args.monitor_name.is_none() {
        NrqlCall::new(
            "by_monitor",
            args.account_id,
            StatisticsContext { monitor: "all monitors".into(), window },
        )
    } else {
        monitor_call(
            "by_location",
            plan_context,
            args.account_id,
            args.monitor_guid.as_deref(),
            args.monitor_name.as_deref(),
            |monitor| StatisticsContext { monitor, window },
        )?
    };
    Ok(call.value_opt("since", args.since))
}

fn render_statistics(answer: &NrqlAnswer, context: &StatisticsContext) -> Result<ToolOutput, ToolError> {
    let mut rows: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let checks = number_at(row, "checks").unwrap_or(0.0);
            let failures = number_at(row, "failures").unwrap_or(0.0);
            let mut out = Map::new();
            if let Some(monitor) = text_at(row, "monitorName") {
                out.insert("monitor".into(), json!(monitor));
            }
            out.insert("location".into(), json!(text_at(row, "locationLabel")));
            out.insert("checks".into(), json!(checks));
            out.insert("failures".into(), json!(failures));
            out.insert("success_rate_pct".into(), json!(share(checks - failures, checks)));
            out.insert("avg_duration_ms".into(), json!(number_at(row, "avg_duration_ms")));
            for p in ["50", "95", "99"] {
                out.insert(format!("p{p}_duration_ms"), json!(percentile_at(row, "duration_ms", p)));
            }
            out.insert("max_duration_ms".into(), json!(number_at(row, "max_duration_ms")));
            Value::Object(out)
        })
        .filter(|row| number_at(row, "checks").unwrap_or(0.0) > 0.0)
        .collect();
    let total_checks: f64 = rows.iter().filter_map(|r| number_at(r, "checks")).sum();
    let total_failures: f64 = rows.iter().filter_map(|r| number_at(r, "failures")).sum();
    let weighted_duration: f64 =
        rows.iter().filter_map(|r| Some(number_at(r, "avg_duration_ms")? * number_at(r, "checks")?)).sum();
    let success = share(total_checks - total_failures, total_checks);
    let average = (total_checks > 0.0).then(|| weighted_duration / total_checks);
    rows.sort_by(|a, b| {
        let rate = |r: &Value| number_at(r, "success_rate_pct").unwrap_or(100.0);
        rate(a).total_cmp(&rate(b)).then(cell(at(a, &["location"])).cmp(&cell(at(b, &["location"]))))
    });
    let worst = rows.first().filter(|r| number_at(r, "failures").unwrap_or(0.0) > 0.0).cloned();
    let capped = Capped::new(rows, MAX_ROWS);
    let mut text = format!(
        "{} ({}): {} checks, {} failed, success {}%, average duration {}\n",
        context.monitor,
        context.window,
        fixed(total_checks, 0),
        fixed(total_failures, 0),
        fixed_or_na(success, 2),
        average.map_or_else(|| "n/a".into(), millis)
    );
    if let Some(worst) = &worst {
        text.push_str(&format!(
            "worst location: {}{} with success {}%\n",
            at(worst, &["monitor"]).as_str().map(|m| format!("{m} @ ")).unwrap_or_default(),
            cell(at(worst, &["location"])),
            fixed_or_na(number_at(worst, "success_rate_pct"), 2)
        ));
    }
    for row in &capped.rows {
        let ms = |key: &str| number_at(row, key).map_or_else(|| "n/a".into(), millis);
        text.push_str(&format!(
            "{}{}: {} checks, success {}%, avg {}, p50 {}, p95 {}, p99 {}, max {}\n",
            at(row, &["monitor"]).as_str().map(|m| format!("{m} @ ")).unwrap_or_default(),
            cell(at(row, &["location"])),
            cell(at(row, &["checks"])),
            fixed_or_na(number_at(row, "success_rate_pct"), 2),
            ms("avg_duration_ms"),
            ms("p50_duration_ms"),
            ms("p95_duration_ms"),
            ms("p99_duration_ms"),
            ms("max_duration_ms"),
        ));
    }
    if total_checks == 0.0 {
        text.push_str(
            "No check in this window: check the monitor with list_synthetic_monitors, or widen since.\n",
        );
    }
    let mut structured = capped.counts();
    structured.insert("monitor".into(), json!(context.monitor));
    structured.insert("window".into(), json!(context.window));
    structured.insert(
        "overall".into(),
        json!({ "checks": total_checks, "failures": total_failures, "success_rate_pct": success, "avg_duration_ms": average }),
    );
    structured.insert("worst_location".into(), worst.unwrap_or(Value::Null));
    structured.insert("locations".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_actors::tool::{PlanAction, ToolErrorKind};

    use super::*;
    use crate::tools::nrql_tool::parse_all;
    use crate::tools::nrql_tool::testing::{self, answer};

    fn tools() -> Vec<Arc<dyn Tool>> {
        SyntheticsPlugin::default().tools()
    }

    #[test]
    fn every_query_parses() {
        parse_all(&result_shapes()).unwrap();
        parse_all(&statistics_shapes()).unwrap();
        monitor_checks_template().parse().unwrap();
    }

    #[test]
    fn monitors_are_one_request_with_the_checks_query_beside_the_search() {
        let planned =
            testing::plan(&tools(), "list_synthetic_monitors", json!({"name_filter": "check"})).unwrap();
        assert_eq!(planned.nrql_accounts, NrqlAccounts::one(testing::ACCOUNT));
        let PlanAction::Upstream { request, .. } = &planned.action else { panic!("expected upstream") };
        assert_eq!(
            request.variables["query"],
            format!(
                "domain = 'SYNTH' AND type = 'MONITOR' AND accountId = {} AND name LIKE 'check'",
                testing::ACCOUNT
            )
        );
        let checks = request.variables["checks"].as_str().unwrap();
        assert!(checks.starts_with("SELECT latest(result) AS last_result"), "{checks}");
        assert!(checks.ends_with("FACET entityGuid LIMIT 200 SINCE 1 day ago"), "{checks}");
        let refused = testing::plan(&tools(), "list_synthetic_monitors", json!({"since": "90 days"}));
        assert!(
            matches!(refused, Err(PlanError::Tool(ref e)) if e.kind == ToolErrorKind::Policy),
            "{refused:?}"
        );
    }

    #[test]
    fn monitors_join_their_latest_results_failing_first() {
        let data = json!({"actor": {
            "entitySearch": {"results": {"entities": [
                {"guid": "A", "name": "Homepage", "reporting": true},
                {"guid": "B", "name": "Checkout API", "reporting": true, "tags": [{"key": "monitorType", "values": ["SCRIPT_API"]}]},
                {"guid": "C", "name": "Idle", "reporting": false}
            ]}},
            "account": {"checks": {"results": [
                {"entityGuid": "A", "last_result": "SUCCESS", "checks": 100, "failures": 0, "last_duration_ms": 350.0, "monitor_type": "SIMPLE"},
                {"facet": "B", "last_result": "FAILED", "checks": 50, "failures": 10, "last_error": "HTTP 503", "last_location": "AWS_US_EAST_1"}
            ]}}
        }});
        let output =
            render_monitors(1, "last 1 day", UpstreamResponse { data, pages: 1, ..Default::default() })
                .unwrap();
        let monitors = output.structured["monitors"].as_array().unwrap();
        assert_eq!(monitors[0]["name"], "Checkout API");
        assert_eq!(monitors[0]["success_rate_pct"], 80.0);
        assert_eq!(monitors[0]["monitor_type"], "SCRIPT_API");
        assert_eq!(monitors[2]["checks"], 0.0);
        assert_eq!(output.structured["failing"], 1);
        assert!(output.text.contains("last error: HTTP 503"), "{}", output.text);
        assert!(output.text.contains("success 80% ⚠"), "{}", output.text);
        let missing = UpstreamResponse {
            data: json!({"actor": {"entitySearch": null, "account": {"checks": null}}}),
            partial_errors: vec!["NRDB query timeout".into()],
            ..Default::default()
        };
        assert_eq!(render_monitors(1, "w", missing).unwrap_err().kind, ToolErrorKind::UpstreamTransient);
    }

    #[test]
    fn results_filter_by_monitor_and_result() {
        let planned = testing::plan(
            &tools(),
            "list_synthetic_monitor_results",
            json!({"monitor_name": "Checkout API", "failures_only": true, "limit": 10}),
        )
        .unwrap();
        let nrql = testing::nrql(&planned);
        assert!(nrql.contains("WHERE monitorName = 'Checkout API' AND result = 'FAILED'"), "{nrql}");
        assert!(nrql.ends_with("LIMIT 10 SINCE 6 hours ago"), "{nrql}");
        for bad in [
            json!({}),
            json!({"monitor_name": "a", "monitor_guid": "b"}),
            json!({"monitor_name": "a", "limit": 501}),
        ] {
            assert!(testing::plan(&tools(), "list_synthetic_monitor_results", bad.clone()).is_err(), "{bad}");
        }
        let output = answer(
            &tools(),
            "list_synthetic_monitor_results",
            json!({"monitor_name": "Checkout API"}),
            json!([
                {"timestamp": 1_715_776_200_000_i64, "result": "FAILED", "duration": 5000.0, "locationLabel": "Tokyo", "error": "timeout"},
                {"timestamp": 1_715_776_100_000_i64, "result": "SUCCESS", "duration": 300.0, "locationLabel": "Dublin"}
            ]),
        )
        .unwrap();
        assert_eq!(output.structured["failed"], 1);
        assert_eq!(output.structured["failed_by_location"]["Tokyo"], 1);
        assert!(
            output.text.contains("2024-05-15 12:30:00 FAILED 5 s from Tokyo — timeout"),
            "{}",
            output.text
        );
    }

    #[test]
    fn statistics_weigh_locations_and_name_the_worst() {
        let planned =
            testing::plan(&tools(), "get_synthetic_check_statistics", json!({"monitor_name": "Home"}))
                .unwrap();
        assert!(testing::nrql(&planned).contains("WHERE monitorName = 'Home' FACET locationLabel"));
        let all =
            testing::nrql(&testing::plan(&tools(), "get_synthetic_check_statistics", json!({})).unwrap());
        assert!(all.contains("FACET monitorName, locationLabel"), "{all}");
        let output = answer(
            &tools(),
            "get_synthetic_check_statistics",
            json!({"monitor_name": "Home"}),
            json!([
                {"locationLabel": "Dublin", "checks": 30, "failures": 0, "avg_duration_ms": 200.0, "duration_ms": {"50": 190.0, "95": 300.0, "99": 320.0}, "max_duration_ms": 330.0},
                {"locationLabel": "Tokyo", "checks": 10, "failures": 5, "avg_duration_ms": 600.0, "duration_ms": {"50": 500.0, "95": 900.0, "99": 990.0}, "max_duration_ms": 1000.0},
                {"locationLabel": "Nowhere", "checks": 0, "failures": 0}
            ]),
        )
        .unwrap();
        assert_eq!(output.structured["overall"]["checks"], 40.0);
        assert_eq!(output.structured["overall"]["success_rate_pct"], 87.5);
        assert_eq!(output.structured["overall"]["avg_duration_ms"], 300.0);
        assert_eq!(output.structured["worst_location"]["location"], "Tokyo");
        assert_eq!(output.structured["locations"][0]["p95_duration_ms"], 900.0);
        assert_eq!(output.structured["total"], 2);
        assert!(
            output.text.starts_with("Home (last 1 day): 40 checks, 5 failed, success 87.5%"),
            "{}",
            output.text
        );
    }
}
