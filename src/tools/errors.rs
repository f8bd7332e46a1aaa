//! Errors of APM applications: grouped by class and message, counted and rated over time,
//! and searched by text.

use std::collections::BTreeMap;
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
use super::nrql_tool::values::{fixed, fixed_or_na, number_at, share, text_at, time_ms};
use super::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use super::render::{Capped, MAX_ROWS, at, cell};
use super::time_buckets::interval_of;

const CATEGORY: &str = "incident-response";
const GROUPS_SINCE: &str = "1 day";
const STATISTICS_SINCE: &str = "6 hours";
const SEARCH_SINCE: &str = "1 day";

pub struct ErrorsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl ErrorsPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = &settings.policy;
        Self { tools: vec![groups_tool(policy), statistics_tool(policy), search_tool(policy)] }
    }
}

impl Default for ErrorsPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(ErrorsPlugin, "errors", "Error groups, error statistics and error search");

fn subject_conditions() -> Vec<Condition> {
    vec![
        Condition::one("app", "appName = {{app}}", ParamType::String),
        Condition::one("guid", "entityGuid = {{guid}}", ParamType::String),
    ]
}

/// The call of `shape` for exactly one of an app name and an entity GUID.
fn subject_call<C>(
    shape: &'static str,
    plan_context: &PlanContext,
    account_id: Option<i64>,
    app_name: Option<&str>,
    entity_guid: Option<&str>,
    context: impl FnOnce(String) -> C,
) -> Result<NrqlCall<C>, PlanError> {
    match args::one_of(("app_name", app_name), ("entity_guid", entity_guid))? {
        Ok(app) => {
            let app = args::name("app_name", app)?;
            Ok(NrqlCall::new(shape, account_id, context(app.clone())).filter("app", Some(app)))
        }
        Err(guid) => {
            let guid = args::guid("entity_guid", guid, plan_context)?;
            Ok(NrqlCall::new(shape, account_id, context(format!("entity {guid}"))).filter("guid", Some(guid)))
        }
    }
}

#[derive(Debug, Serialize)]
struct Context {
    subject: String,
    window: String,
}

/// Arguments of `list_entity_error_groups`: exactly one of `app_name` and `entity_guid`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEntityErrorGroupsArgs {
    /// APM application name, e.g. `payments-api`. Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// GUID of the APM application. Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// How far back to look, e.g. `1 hour`, `7 days` (default `1 day`).
    pub since: Option<String>,
    /// Most groups to return, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

pub(super) fn group_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "groups",
            "SELECT count(*) AS 'occurrences', earliest(timestamp) AS 'first_seen', latest(timestamp) AS 'last_seen', \
             uniqueCount(host) AS 'hosts', latest(transactionName) AS 'last_transaction', \
             latest(httpResponseCode) AS 'last_http_code' FROM TransactionError {where} \
             FACET error.class, error.message SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(GROUPS_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(subject_conditions()),
    ]
}

fn groups_tool(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "list_entity_error_groups",
            title: "List error groups",
            description: "Group an APM application's errors by class and message, most frequent first: \
                occurrences, share of all errors, first and last seen, hosts affected, and the latest \
                transaction and HTTP code, over a window (default the last day).",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(60)),
        },
        group_shapes(),
        policy,
        choose_groups,
        render_groups,
    )
}

fn choose_groups(
    args: ListEntityErrorGroupsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<Context>, PlanError> {
    let limit = args::limit("limit", args.limit, 20, 100)?;
    let window = args::since_label(args.since.as_deref(), GROUPS_SINCE);
    let call = subject_call(
        "groups",
        plan_context,
        args.account_id,
        args.app_name.as_deref(),
        args.entity_guid.as_deref(),
        |subject| Context { subject, window },
    )?;
    Ok(call.value("limit", limit).value_opt("since", args.since))
}

fn render_groups(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    let total: f64 = answer.rows.iter().filter_map(|row| number_at(row, "occurrences")).sum();
    let mut groups: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let occurrences = number_at(row, "occurrences").unwrap_or(0.0);
            json!({
                "error_class": text_at(row, "error.class"),
                "error_message": text_at(row, "error.message"),
                "occurrences": occurrences,
                "share_pct": share(occurrences, total),
                "first_seen": number_at(row, "first_seen").map(|t| time_ms(t as i64)),
                "last_seen": number_at(row, "last_seen").map(|t| time_ms(t as i64)),
                "hosts": number_at(row, "hosts"),
                "last_transaction": text_at(row, "last_transaction"),
                "last_http_code": at(row, &["last_http_code"]),
            })
        })
        .collect();
    groups.sort_by(|a, b| {
        let count = |g: &Value| at(g, &["occurrences"]).as_f64().unwrap_or(0.0);
        count(b).total_cmp(&count(a))
    });
    let capped = Capped::new(groups, MAX_ROWS);
    let mut text = format!(
        "{} of {} ({}), {} errors in all\n",
        capped.heading("error group", "error groups"),
        context.subject,
        context.window,
        fixed(total, 0)
    );
    for group in &capped.rows {
        text.push_str(&format!(
            "{}× ({}%) {}: {} — last seen {} on {} host(s), last in {} (HTTP {})\n",
            cell(at(group, &["occurrences"])),
            fixed_or_na(at(group, &["share_pct"]).as_f64(), 1),
            cell(at(group, &["error_class"])),
            cell(at(group, &["error_message"])),
            cell(at(group, &["last_seen"])),
            cell(at(group, &["hosts"])),
            cell(at(group, &["last_transaction"])),
            cell(at(group, &["last_http_code"])),
        ));
    }
    if capped.total == 0 {
        text.push_str("No error in this window: a good sign, or check the name with get_entity.\n");
    }
    let mut structured = capped.counts();
    structured.insert("subject".into(), json!(context.subject));
    structured.insert("window".into(), json!(context.window));
    structured.insert("total_errors".into(), json!(total));
    structured.insert("groups".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

/// Arguments of `get_error_statistics`: exactly one of `app_name` and `entity_guid`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetErrorStatisticsArgs {
    /// APM application name, e.g. `payments-api`. Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// GUID of the APM application. Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// How far back to look, e.g. `1 hour`, `1 day` (default `6 hours`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

pub(super) fn statistics_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "series",
            "SELECT count(*) AS 'requests', filter(count(*), WHERE error IS true) AS 'errors' FROM Transaction \
             {where} SINCE {{since}} ago TIMESERIES AUTO",
            vec![args::since_param(STATISTICS_SINCE)],
        )
        .with_conditions(subject_conditions()),
    ]
}

fn statistics_tool(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "get_error_statistics",
            title: "Get error statistics",
            description: "Error count and error rate of an APM application over time (default the last 6 \
                hours): totals, the worst interval, whether the rate is rising or falling (second half of the \
                window against the first), and the series per interval.",
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
    args: GetErrorStatisticsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<Context>, PlanError> {
    let window = args::since_label(args.since.as_deref(), STATISTICS_SINCE);
    let call = subject_call(
        "series",
        plan_context,
        args.account_id,
        args.app_name.as_deref(),
        args.entity_guid.as_deref(),
        |subject| Context { subject, window },
    )?;
    Ok(call.value_opt("since", args.since))
}

/// Which way the error rate is heading: the later half of the window against the earlier.
fn trend(first: (f64, f64), second: (f64, f64)) -> &'static str {
    match (share(first.1, first.0), share(second.1, second.0)) {
        (Some(a), Some(b)) if b - a >= 1.0 && b >= a * 1.25 => "rising",
        (Some(a), Some(b)) if a - b >= 1.0 && b <= a * 0.8 => "falling",
        (Some(_), Some(_)) => "steady",
        _ => "unknown",
    }
}

fn render_statistics(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    let series: Vec<Value> = answer
        .rows
        .iter()
        .filter_map(|row| {
            let (begin, _) = interval_of(row)?;
            let requests = number_at(row, "requests").unwrap_or(0.0);
            let errors = number_at(row, "errors").unwrap_or(0.0);
            Some(json!({
                "begin": time_ms(begin),
                "begin_epoch_ms": begin,
                "requests": requests,
                "errors": errors,
                "error_rate_pct": share(errors, requests),
            }))
        })
        .collect();
    let sum = |rows: &[Value], key: &str| rows.iter().filter_map(|r| at(r, &[key]).as_f64()).sum::<f64>();
    let (requests, errors) = (sum(&series, "requests"), sum(&series, "errors"));
    let half = series.len() / 2;
    let direction = trend(
        (sum(&series[..half], "requests"), sum(&series[..half], "errors")),
        (sum(&series[half..], "requests"), sum(&series[half..], "errors")),
    );
    let worst = series
        .iter()
        .filter(|row| at(row, &["errors"]).as_f64().unwrap_or(0.0) > 0.0)
        .max_by(|a, b| {
            let rate = |r: &Value| at(r, &["error_rate_pct"]).as_f64().unwrap_or(0.0);
            rate(a).total_cmp(&rate(b))
        })
        .cloned();
    let mut text = format!(
        "{} ({}): {} errors in {} requests, error rate {}%, {direction}\n",
        context.subject,
        context.window,
        fixed(errors, 0),
        fixed(requests, 0),
        fixed_or_na(share(errors, requests), 2)
    );
    if let Some(worst) = &worst {
        text.push_str(&format!(
            "worst interval: {} with {} errors in {} requests ({}%)\n",
            cell(at(worst, &["begin"])),
            cell(at(worst, &["errors"])),
            cell(at(worst, &["requests"])),
            fixed_or_na(at(worst, &["error_rate_pct"]).as_f64(), 2)
        ));
    }
    for row in &series {
        text.push_str(&format!(
            "{} {} errors / {} requests ({}%)\n",
            cell(at(row, &["begin"])),
            cell(at(row, &["errors"])),
            cell(at(row, &["requests"])),
            fixed_or_na(at(row, &["error_rate_pct"]).as_f64(), 2)
        ));
    }
    if requests == 0.0 {
        text.push_str("No request in this window: check the name with get_entity, or widen since.\n");
    }
    let mut structured = Map::new();
    structured.insert("subject".into(), json!(context.subject));
    structured.insert("window".into(), json!(context.window));
    structured.insert("requests".into(), json!(requests));
    structured.insert("errors".into(), json!(errors));
    structured.insert("error_rate_pct".into(), json!(share(errors, requests)));
    structured.insert("trend".into(), json!(direction));
    structured.insert("worst_interval".into(), worst.unwrap_or(Value::Null));
    structured.insert("series".into(), Value::Array(series));
    Ok(answer.output(structured, text))
}

/// Arguments of `search_errors`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchErrorsArgs {
    /// Text to find in the error message or class, e.g. `timeout` or `NullPointerException`.
    pub text: String,
    /// Only errors of this APM application.
    pub app_name: Option<String>,
    /// How far back to look, e.g. `1 hour`, `7 days` (default `1 day`).
    pub since: Option<String>,
    /// Most errors to return, 1 to 500 (default 50), newest first.
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct SearchContext {
    text: String,
    scope: String,
    window: String,
}

pub(super) fn search_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "matches",
            "SELECT timestamp, appName, error.class, error.message, transactionName, httpResponseCode, host \
             FROM TransactionError WHERE (error.message LIKE {{pattern}} OR error.class LIKE {{pattern}}) {and} \
             SINCE {{since}} ago LIMIT {{limit}}",
            vec![
                ParamSpec::new("pattern", ParamType::String),
                args::since_param(SEARCH_SINCE),
                ParamSpec::new("limit", ParamType::Int),
            ],
        )
        .with_conditions(vec![Condition::one("app", "appName = {{app}}", ParamType::String)]),
    ]
}

fn search_tool(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "search_errors",
            title: "Search errors",
            description: "Find APM errors whose message or class contains a text (e.g. `timeout`), in one \
                application or all, newest first: time, app, class, message, transaction, HTTP code and host, \
                with a count per application and per distinct error.",
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

fn choose_search(args: SearchErrorsArgs, _: &PlanContext) -> Result<NrqlCall<SearchContext>, PlanError> {
    let text = args::name("text", &args.text)?;
    let limit = args::limit("limit", args.limit, 50, 500)?;
    let app = args::optional_name("app_name", args.app_name.as_deref())?;
    let context = SearchContext {
        text: text.clone(),
        scope: app.clone().unwrap_or_else(|| "all applications".into()),
        window: args::since_label(args.since.as_deref(), SEARCH_SINCE),
    };
    Ok(NrqlCall::new("matches", args.account_id, context)
        .value("pattern", format!("%{text}%"))
        .value("limit", limit)
        .filter("app", app)
        .value_opt("since", args.since))
}

fn render_search(answer: &NrqlAnswer, context: &SearchContext) -> Result<ToolOutput, ToolError> {
    let rows: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            json!({
                "time": number_at(row, "timestamp").map(|t| time_ms(t as i64)),
                "app": text_at(row, "appName"),
                "error_class": text_at(row, "error.class"),
                "error_message": text_at(row, "error.message"),
                "transaction": text_at(row, "transactionName"),
                "http_code": at(row, &["httpResponseCode"]),
                "host": text_at(row, "host"),
            })
        })
        .collect();
    let mut by_app: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_error: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        *by_app.entry(cell(at(row, &["app"]))).or_default() += 1;
        let key = format!("{}: {}", cell(at(row, &["error_class"])), cell(at(row, &["error_message"])));
        *by_error.entry(key).or_default() += 1;
    }
    let mut distinct: Vec<(String, usize)> = by_error.into_iter().collect();
    distinct.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let capped = Capped::new(rows, 500);
    let mut text = format!(
        "{} matching '{}' in {} ({})\n",
        capped.heading("error", "errors"),
        context.text,
        context.scope,
        context.window
    );
    if !by_app.is_empty() {
        let apps: Vec<String> = by_app.iter().map(|(app, n)| format!("{app} {n}")).collect();
        text.push_str(&format!("by application: {}\n", apps.join(", ")));
        for (error, n) in distinct.iter().take(10) {
            text.push_str(&format!("  {n}× {error}\n"));
        }
    }
    for row in capped.rows.iter().take(MAX_ROWS) {
        text.push_str(&format!(
            "{} {} {}: {} in {} (HTTP {}) on {}\n",
            cell(at(row, &["time"])),
            cell(at(row, &["app"])),
            cell(at(row, &["error_class"])),
            cell(at(row, &["error_message"])),
            cell(at(row, &["transaction"])),
            cell(at(row, &["http_code"])),
            cell(at(row, &["host"])),
        ));
    }
    if capped.total == 0 {
        text.push_str("No error matched: try a shorter text, drop app_name, or widen since.\n");
    }
    let mut structured = capped.counts();
    structured.insert("text".into(), json!(context.text));
    structured.insert("scope".into(), json!(context.scope));
    structured.insert("window".into(), json!(context.window));
    structured.insert("by_application".into(), json!(by_app));
    structured.insert(
        "distinct_errors".into(),
        Value::Array(distinct.iter().map(|(error, n)| json!({"error": error, "count": n})).collect()),
    );
    structured.insert("errors".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::nrql_tool::parse_all;
    use crate::tools::nrql_tool::testing::{self, answer};

    fn tools() -> Vec<Arc<dyn Tool>> {
        ErrorsPlugin::default().tools()
    }

    #[test]
    fn every_query_shape_parses() {
        for shapes in [group_shapes(), statistics_shapes(), search_shapes()] {
            parse_all(&shapes).unwrap();
        }
    }

    #[test]
    fn queries_carry_arguments_as_values() {
        let cases = [
            (
                "list_entity_error_groups",
                json!({"app_name": "payments-api", "limit": 5}),
                "WHERE appName = 'payments-api' FACET error.class, error.message LIMIT 5 SINCE 1 day ago",
            ),
            (
                "get_error_statistics",
                json!({"app_name": "web", "since": "1 hour"}),
                "WHERE appName = 'web' SINCE 1 hour ago TIMESERIES AUTO",
            ),
            (
                "search_errors",
                json!({"text": "time'out"}),
                r"WHERE error.message LIKE '%time\'out%' OR error.class LIKE '%time\'out%' LIMIT 50",
            ),
            (
                "search_errors",
                json!({"text": "timeout", "app_name": "web"}),
                "OR error.class LIKE '%timeout%') AND appName = 'web' LIMIT 50",
            ),
        ];
        for (tool, arguments, needle) in cases {
            let nrql = testing::nrql(&testing::plan(&tools(), tool, arguments.clone()).unwrap());
            assert!(nrql.contains(needle), "{tool} {arguments}: {nrql}");
        }
        for (tool, bad) in [
            ("list_entity_error_groups", json!({})),
            ("list_entity_error_groups", json!({"app_name": "a", "limit": 101})),
            ("search_errors", json!({"text": "  "})),
            ("get_error_statistics", json!({"app_name": "a", "entity_guid": "b"})),
        ] {
            assert!(testing::plan(&tools(), tool, bad.clone()).is_err(), "{tool} {bad}");
        }
    }

    #[test]
    fn groups_are_ranked_with_their_share() {
        let output = answer(
            &tools(),
            "list_entity_error_groups",
            json!({"app_name": "payments-api"}),
            json!([
                {"error.class": "ValidationError", "error.message": "invalid card", "occurrences": 10, "hosts": 1, "last_seen": 1_715_776_200_000_i64},
                {"error.class": "Timeout", "error.message": "read timed out", "occurrences": 30, "hosts": 3, "last_transaction": "authorize", "last_http_code": 504}
            ]),
        )
        .unwrap();
        assert_eq!(output.structured["total_errors"], 40.0);
        assert_eq!(output.structured["groups"][0]["error_class"], "Timeout");
        assert_eq!(output.structured["groups"][0]["share_pct"], 75.0);
        assert!(output.text.contains("30× (75%) Timeout: read timed out"), "{}", output.text);
        assert!(output.text.contains("in authorize (HTTP 504)"), "{}", output.text);
    }

    #[test]
    fn statistics_total_the_series_and_read_its_trend() {
        let bucket = |i: i64, requests: i64, errors: i64| json!({"beginTimeSeconds": 1_715_760_000 + i * 600, "endTimeSeconds": 1_715_760_600 + i * 600, "requests": requests, "errors": errors});
        let rows = json!([bucket(0, 100, 1), bucket(1, 100, 1), bucket(2, 100, 10), bucket(3, 100, 20)]);
        let output =
            answer(&tools(), "get_error_statistics", json!({"app_name": "payments-api"}), rows).unwrap();
        assert_eq!(output.structured["requests"], 400.0);
        assert_eq!(output.structured["errors"], 32.0);
        assert_eq!(output.structured["error_rate_pct"], 8.0);
        assert_eq!(output.structured["trend"], "rising");
        assert_eq!(output.structured["worst_interval"]["errors"], 20.0);
        let cases = [
            ((100.0, 10.0), (100.0, 2.0), "falling"),
            ((100.0, 5.0), (100.0, 5.5), "steady"),
            ((0.0, 0.0), (0.0, 0.0), "unknown"),
        ];
        for (first, second, expected) in cases {
            assert_eq!(trend(first, second), expected);
        }
    }

    #[test]
    fn search_counts_by_application_and_distinct_error() {
        let output = answer(
            &tools(),
            "search_errors",
            json!({"text": "timed out"}),
            json!([
                {"timestamp": 1_715_776_200_000_i64, "appName": "payments-api", "error.class": "Timeout", "error.message": "read timed out", "host": "h1"},
                {"timestamp": 1_715_776_100_000_i64, "appName": "payments-api", "error.class": "Timeout", "error.message": "read timed out", "host": "h2"},
                {"timestamp": 1_715_776_000_000_i64, "appName": "checkout", "error.class": "Timeout", "error.message": "connect timed out", "host": "h3"}
            ]),
        )
        .unwrap();
        assert_eq!(output.structured["total"], 3);
        assert_eq!(output.structured["by_application"]["payments-api"], 2);
        assert_eq!(
            output.structured["distinct_errors"][0],
            json!({"error": "Timeout: read timed out", "count": 2})
        );
        assert!(output.text.contains("by application: checkout 1, payments-api 2"), "{}", output.text);
    }
}
