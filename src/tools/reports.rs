//! Deterministic incident reports, computed from data rather than written by a model:
//! the insights around an alert issue, and the impact of a problem on browser users.
//!
//! Each report is one GraphQL request: the issue (and its conditions) beside aliased NRQL
//! queries. The issue's start is only known from the response, so the signals come per
//! interval as counts and sums, and the renderer adds up the intervals before the issue
//! and during it (see [`super::time_buckets`]).

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    NrqlAccounts, Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind,
    ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{Pagination, RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::account::resolve_account;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::data_access::NrqlSettings;
use super::embedded_nrql::{NrqlTemplate, alias_rows, missing_result};
use super::incidents::{issue_line, issue_minutes, minutes_text, term_text};
use super::nrql_tool::args;
use super::nrql_tool::values::{
    fixed, fixed_or_na, millis, number_at, percentile_at, share, text_at, time_ms,
};
use super::render::{at, cell, list_at, response_notes, warnings};
use super::time_buckets::{Stretch, interval_of, stretch};

const CATEGORY: &str = "incident-response";
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// How far back an issue is looked up.
const ISSUE_LOOKUP_MS: i64 = 30 * 24 * HOUR_MS;
/// The signals cover this much history, per interval.
const SIGNAL_LOOKBACK_MS: i64 = 24 * HOUR_MS;
/// The baseline is this stretch before the issue started.
const BASELINE_MS: i64 = 2 * HOUR_MS;
/// Deployments this long before an issue's start are suspects.
const SUSPECT_DEPLOYMENT_MS: i64 = 2 * HOUR_MS;
/// An open issue unacknowledged for longer than this is called out.
const UNACKNOWLEDGED_MINUTES: f64 = 30.0;
/// A condition that opened this many issues in a week is called noisy or chronic.
const RECURRENCE_ALERT: f64 = 3.0;
const USER_IMPACT_SINCE: &str = "1 hour";
/// The deadline of a request whose NRQL may run 30 s.
const REPORT_TIMEOUT: Duration = Duration::from_secs(45);

pub(crate) const ALERT_INSIGHTS: &str = r#"query AlertInsights($accountId: Int!, $cursor: String, $issueFilter: AiIssuesFilterIssues, $start: EpochMilliseconds!, $end: EpochMilliseconds!, $signals: Nrql!, $hosts: Nrql!, $history: Nrql!, $deployments: Nrql!) {
  actor {
    account(id: $accountId) {
      aiIssues {
        issues(filter: $issueFilter, timeWindow: { startTime: $start, endTime: $end }) {
          issues {
            issueId title description priority state createdAt activatedAt closedAt
            acknowledgedAt acknowledgedBy entityGuids entityNames entityTypes conditionName policyName totalIncidents deepLinkUrl
          }
        }
      }
      alerts {
        nrqlConditionsSearch(cursor: $cursor) {
          nextCursor
          nrqlConditions { id name enabled policyId runbookUrl nrql { query } terms { priority operator threshold thresholdDuration thresholdOccurrences } }
        }
      }
      signals: nrql(query: $signals, timeout: 30) { results }
      hosts: nrql(query: $hosts, timeout: 30) { results }
      history: nrql(query: $history, timeout: 30) { results }
      deployments: nrql(query: $deployments, timeout: 30) { results }
    }
  }
}"#;

pub(crate) const USER_IMPACT: &str = r#"query UserImpact($accountId: Int!, $overview: Nrql!, $jsErrors: Nrql!, $topErrors: Nrql!, $slowPages: Nrql!, $browsers: Nrql!) {
  actor {
    account(id: $accountId) {
      overview: nrql(query: $overview, timeout: 30) { results }
      jsErrors: nrql(query: $jsErrors, timeout: 30) { results }
      topErrors: nrql(query: $topErrors, timeout: 30) { results }
      slowPages: nrql(query: $slowPages, timeout: 30) { results }
      browsers: nrql(query: $browsers, timeout: 30) { results }
    }
  }
}"#;

pub(crate) const USER_IMPACT_FOR_ISSUE: &str = r#"query UserImpactForIssue($accountId: Int!, $issueFilter: AiIssuesFilterIssues, $start: EpochMilliseconds!, $end: EpochMilliseconds!, $overview: Nrql!, $jsErrors: Nrql!, $topErrors: Nrql!, $slowPages: Nrql!, $browsers: Nrql!, $pageSeries: Nrql!, $errorSeries: Nrql!) {
  actor {
    account(id: $accountId) {
      aiIssues {
        issues(filter: $issueFilter, timeWindow: { startTime: $start, endTime: $end }) {
          issues { issueId title priority state createdAt closedAt entityNames conditionName }
        }
      }
      overview: nrql(query: $overview, timeout: 30) { results }
      jsErrors: nrql(query: $jsErrors, timeout: 30) { results }
      topErrors: nrql(query: $topErrors, timeout: 30) { results }
      slowPages: nrql(query: $slowPages, timeout: 30) { results }
      browsers: nrql(query: $browsers, timeout: 30) { results }
      pageSeries: nrql(query: $pageSeries, timeout: 30) { results }
      errorSeries: nrql(query: $errorSeries, timeout: 30) { results }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[
    ("AlertInsights", ALERT_INSIGHTS),
    ("UserImpact", USER_IMPACT),
    ("UserImpactForIssue", USER_IMPACT_FOR_ISSUE),
];

pub struct ReportsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl ReportsPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = settings.policy;
        Self {
            tools: vec![
                BuiltinTool::with_state(
                    Spec {
                        name: "generate_alert_insights_report",
                        title: "Generate alert insights report",
                        description: "A report on one alert issue (default: the most severe open one): what \
                            fired, on which entities, for how long; the affected entities' golden signals before \
                            and during the issue; the condition's query and thresholds; how often it fired in the \
                            last 7 days; deployments shortly before it; findings and next steps. Computed from \
                            New Relic data by fixed rules, so the same data gives the same report.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    policy.clone(),
                    plan_alert_insights,
                ),
                BuiltinTool::with_state(
                    Spec {
                        name: "generate_user_impact_report",
                        title: "Generate user impact report",
                        description: "How real users of a browser application were affected, from browser \
                            data: page views, sessions, page load time (average, p50, p95), JavaScript errors and \
                            the sessions they hit, the top errors, the slowest pages and the browsers affected, \
                            over a window (default the last hour) or, with issue_id, during that issue compared \
                            with the two hours before it.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    policy,
                    plan_user_impact,
                ),
            ],
        }
    }
}

impl Default for ReportsPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(ReportsPlugin, "incident-reports", "Alert insights and user impact reports");

fn checked_issue_id(value: &str) -> Result<String, PlanError> {
    let id = value.trim();
    if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(PlanError::InvalidArguments(
            "issue_id must be an issue id such as 3f2a9c1e-… (search_incident lists them)".into(),
        ));
    }
    Ok(id.to_string())
}

/// The minute-aligned end of a report's windows, so calls within a minute share a cache entry.
fn aligned_now(context: &PlanContext) -> i64 {
    context.now_epoch_ms - context.now_epoch_ms.rem_euclid(MINUTE_MS) + MINUTE_MS
}

/// Arguments of `generate_alert_insights_report`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertInsightsArgs {
    /// The issue to report on (search_incident or list_recent_issues lists them). Default: the
    /// most severe, then newest, open issue.
    pub issue_id: Option<String>,
    /// Account of the issue; defaults to the configured account.
    pub account_id: Option<i64>,
}

pub(super) fn insight_templates() -> [NrqlTemplate; 4] {
    [
        NrqlTemplate::new(
            "application signals",
            "SELECT count(*) AS 'requests', sum(duration) AS 'duration_sum_s', \
             filter(count(*), WHERE error IS true) AS 'errors' FROM Transaction FACET appName \
             SINCE 1 day ago TIMESERIES 10 minutes LIMIT 50",
            Vec::new(),
        ),
        NrqlTemplate::new(
            "host signals",
            "SELECT count(*) AS 'samples', sum(cpuPercent) AS 'cpu_sum', sum(memoryUsedPercent) AS 'memory_sum', \
             max(diskUsedPercent) AS 'disk_max' FROM SystemSample FACET hostname SINCE 1 day ago \
             TIMESERIES 10 minutes LIMIT 50",
            Vec::new(),
        ),
        NrqlTemplate::new(
            "issue history",
            "SELECT uniqueCount(issueId) AS 'issues', latest(timestamp) AS 'last_created' FROM NrAiIssue \
             WHERE event = 'create' FACET conditionName SINCE 7 days ago LIMIT 100",
            Vec::new(),
        ),
        NrqlTemplate::new(
            "recent deployments",
            "SELECT timestamp, appName, entityGuid, version, user, deploymentType FROM Deployment \
             SINCE 1 day ago LIMIT 100",
            Vec::new(),
        ),
    ]
}

fn plan_alert_insights(
    policy: &Arc<Policy>,
    args: AlertInsightsArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let issue_id = args.issue_id.as_deref().map(checked_issue_id).transpose()?;
    let end = aligned_now(context);
    let filter = match &issue_id {
        Some(id) => json!({ "ids": [id] }),
        None => json!({ "states": ["CREATED", "ACTIVATED"] }),
    };
    let [signals, hosts, history, deployments] =
        insight_templates().map(|template| template.build(&[], policy, account, context.now_epoch_ms));
    let request = UpstreamRequest {
        operation: "AlertInsights",
        document: ALERT_INSIGHTS.into(),
        variables: json!({
            "accountId": account, "cursor": null, "issueFilter": filter,
            "start": end - ISSUE_LOOKUP_MS, "end": end,
            "signals": signals?, "hosts": hosts?, "history": history?, "deployments": deployments?,
        }),
        kind: RequestKind::Read,
        // Conditions come a page at a time; the issue's own may be on a later page.
        pagination: Some(Pagination {
            cursor_variable: "cursor",
            page_path: &["actor", "account", "alerts", "nrqlConditionsSearch"],
            items_field: "nrqlConditions",
            max_pages: 3,
        }),
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "issue_id": issue_id, "end": end });
    let plan =
        upstream_plan(descriptor, Some(account), &normalised, request, REPORT_TIMEOUT, move |response| {
            render_alert_insights(account, issue_id.as_deref(), end, response)
        });
    Ok(Plan { nrql_accounts: NrqlAccounts::one(account), ..plan })
}

fn priority_rank(issue: &Value) -> u8 {
    match at(issue, &["priority"]).as_str() {
        Some("CRITICAL") => 0,
        Some("HIGH") => 1,
        Some("MEDIUM") => 2,
        _ => 3,
    }
}

/// The issue a report is about: the one asked for, or the most severe, then newest, open one.
fn chosen_issue(issues: &[Value], wanted: Option<&str>) -> Option<Value> {
    match wanted {
        Some(id) => issues.iter().find(|issue| at(issue, &["issueId"]).as_str() == Some(id)).cloned(),
        None => issues
            .iter()
            .filter(|issue| at(issue, &["closedAt"]).is_null())
            .min_by_key(|issue| {
                (priority_rank(issue), std::cmp::Reverse(at(issue, &["createdAt"]).as_i64().unwrap_or(0)))
            })
            .cloned(),
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Value::String(text) => vec![text.clone()],
        _ => Vec::new(),
    }
}

/// The rows of one facet of a faceted TIMESERIES answer.
fn facet_rows<'a>(rows: &'a [Value], attribute: &str, value: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|row| text_at(row, attribute).or_else(|| text_at(row, "facet")).as_deref() == Some(value))
        .collect()
}

/// Application golden signals of a stretch of intervals.
fn app_signals(stretch: &Stretch) -> Value {
    let (requests, duration, errors) = (stretch.sum(0), stretch.sum(1), stretch.sum(2));
    json!({
        "minutes": stretch.minutes(),
        "requests": requests,
        "throughput_rpm": (stretch.minutes() > 0.0).then(|| requests / stretch.minutes()),
        "avg_latency_ms": (requests > 0.0).then(|| duration / requests * 1000.0),
        "error_rate_pct": share(errors, requests),
    })
}

/// Host signals of the intervals starting in `[from, to)`.
fn host_signals(rows: &[&Value], from: i64, to: i64) -> Value {
    let summed = stretch(rows.iter().copied(), from, to, &["samples", "cpu_sum", "memory_sum"]);
    let disk = rows
        .iter()
        .filter(|row| interval_of(row).is_some_and(|(begin, _)| begin >= from && begin < to))
        .filter_map(|row| number_at(row, "disk_max"))
        .fold(None, |max: Option<f64>, value| Some(max.map_or(value, |m| m.max(value))));
    let samples = summed.sum(0);
    json!({
        "minutes": summed.minutes(),
        "samples": samples,
        "avg_cpu_pct": (samples > 0.0).then(|| summed.sum(1) / samples),
        "avg_memory_pct": (samples > 0.0).then(|| summed.sum(2) / samples),
        "max_disk_pct": disk,
    })
}

fn change_finding(
    entity: &str,
    name: &str,
    before: Option<f64>,
    during: Option<f64>,
    unit: &str,
) -> Option<String> {
    let (b, d) = (before?, during?);
    let rose = match unit {
        "%" => d - b >= 2.0 && d >= b * 1.5,
        _ => d >= b * 1.25 && d - b >= 20.0,
    };
    rose.then(|| {
        format!(
            "{entity}: {name} {}{unit} during the issue against {}{unit} before",
            fixed(d, 2),
            fixed(b, 2)
        )
    })
}

fn render_alert_insights(
    account: i64,
    wanted: Option<&str>,
    now: i64,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let data = at(&response.data, &["actor", "account"]);
    let issues = list_at(data, &["aiIssues", "issues", "issues"]);
    let issue = chosen_issue(&issues, wanted).ok_or_else(|| match wanted {
        Some(id) => ToolError::new(
            ToolErrorKind::NotFound,
            format!(
                "no issue {id} in account {account} in the last 30 days: search_incident finds issue ids"
            ),
        ),
        None => ToolError::new(
            ToolErrorKind::NotFound,
            format!(
                "no open issue in account {account}: pass issue_id (search_incident finds closed issues)"
            ),
        ),
    })?;
    let rows = |alias: &str, what: &str| {
        alias_rows(data, &[alias]).ok_or_else(|| missing_result(what, &response.partial_errors))
    };
    let (signals, hosts) = (rows("signals", "application signals")?, rows("hosts", "host signals")?);
    let history = rows("history", "issue history")?;
    let deployments = rows("deployments", "deployments")?;
    let started = at(&issue, &["createdAt"]).as_i64().unwrap_or(now);
    let ended = at(&issue, &["closedAt"]).as_i64().unwrap_or(now);
    let names = strings(at(&issue, &["entityNames"]));
    let condition_names = strings(at(&issue, &["conditionName"]));
    let mut findings = Vec::new();
    let mut next_steps = Vec::new();
    let mut text =
        format!("Alert insights for issue {}\n{}\n", cell(at(&issue, &["issueId"])), issue_line(&issue, now));
    let covered = started >= now - SIGNAL_LOOKBACK_MS;
    let mut entities = Vec::new();
    for name in &names {
        let app = facet_rows(&signals, "appName", name);
        let host = facet_rows(&hosts, "hostname", name);
        let (kind, before, during) = if !app.is_empty() {
            let keys = ["requests", "duration_sum_s", "errors"];
            let before = app_signals(&stretch(app.iter().copied(), started - BASELINE_MS, started, &keys));
            let during = app_signals(&stretch(app.iter().copied(), started, ended.max(started + 1), &keys));
            for (label, key, unit) in
                [("error rate", "error_rate_pct", "%"), ("average latency", "avg_latency_ms", " ms")]
            {
                findings.extend(change_finding(
                    name,
                    label,
                    at(&before, &[key]).as_f64(),
                    at(&during, &[key]).as_f64(),
                    unit,
                ));
            }
            if let (Some(b), Some(d)) =
                (at(&before, &["throughput_rpm"]).as_f64(), at(&during, &["throughput_rpm"]).as_f64())
                && d <= b * 0.5
            {
                findings.push(format!(
                    "{name}: throughput fell to {} rpm from {} rpm",
                    fixed(d, 1),
                    fixed(b, 1)
                ));
            }
            ("application", before, during)
        } else if !host.is_empty() {
            let before = host_signals(&host, started - BASELINE_MS, started);
            let during = host_signals(&host, started, ended.max(started + 1));
            for (label, key, limit) in [
                ("CPU", "avg_cpu_pct", 90.0),
                ("memory", "avg_memory_pct", 90.0),
                ("disk", "max_disk_pct", 85.0),
            ] {
                if let Some(value) = at(&during, &[key]).as_f64().filter(|v| *v >= limit) {
                    findings.push(format!(
                        "{name}: {label} at {}% during the issue (≥ {limit}%)",
                        fixed(value, 1)
                    ));
                }
            }
            ("host", before, during)
        } else {
            ("unknown", Value::Null, Value::Null)
        };
        text.push_str(&format!("Entity {name} ({kind}):\n"));
        match kind {
            "application" => {
                for (label, key, unit) in [
                    ("throughput", "throughput_rpm", " rpm"),
                    ("avg latency", "avg_latency_ms", " ms"),
                    ("error rate", "error_rate_pct", "%"),
                ] {
                    text.push_str(&format!(
                        "  {label}: {}{unit} before → {}{unit} during\n",
                        fixed_or_na(at(&before, &[key]).as_f64(), 2),
                        fixed_or_na(at(&during, &[key]).as_f64(), 2)
                    ));
                }
            }
            "host" => {
                for (label, key) in [
                    ("avg CPU", "avg_cpu_pct"),
                    ("avg memory", "avg_memory_pct"),
                    ("max disk", "max_disk_pct"),
                ] {
                    text.push_str(&format!(
                        "  {label}: {}% before → {}% during\n",
                        fixed_or_na(at(&before, &[key]).as_f64(), 1),
                        fixed_or_na(at(&during, &[key]).as_f64(), 1)
                    ));
                }
            }
            _ => text.push_str("  no application or host signals under this name in the last day\n"),
        }
        entities.push(json!({ "name": name, "kind": kind, "before": before, "during": during }));
    }
    if !covered {
        text.push_str("note: the issue began more than a day ago; signals cover only the last day\n");
    }
    let conditions: Vec<Value> = list_at(data, &["alerts", "nrqlConditionsSearch", "nrqlConditions"])
        .into_iter()
        .filter(|c| at(c, &["name"]).as_str().is_some_and(|name| condition_names.iter().any(|n| n == name)))
        .collect();
    for condition in &conditions {
        let terms: Vec<String> = list_at(condition, &["terms"]).iter().map(term_text).collect();
        text.push_str(&format!(
            "Condition {} (id {}): {}\n  thresholds: {}\n",
            cell(at(condition, &["name"])),
            cell(at(condition, &["id"])),
            cell(at(condition, &["nrql", "query"])),
            terms.join("; ")
        ));
        if at(condition, &["runbookUrl"]).is_null() {
            findings.push(format!("condition '{}' has no runbook URL", cell(at(condition, &["name"]))));
        }
    }
    if conditions.is_empty() && !condition_names.is_empty() {
        text.push_str(&format!(
            "Condition {} not found among the first conditions of the account: list_alert_conditions with name_filter shows it\n",
            condition_names.join(", ")
        ));
    }
    let recurrence: Vec<Value> = condition_names
        .iter()
        .map(|name| {
            let row = history.iter().find(|row| text_at(row, "conditionName").or_else(|| text_at(row, "facet")).as_deref() == Some(name));
            let count = row.and_then(|row| number_at(row, "issues")).unwrap_or(0.0);
            if count >= RECURRENCE_ALERT {
                findings.push(format!(
                    "condition '{name}' opened {} issues in 7 days: chronic or noisy; review its threshold or the underlying cause",
                    fixed(count, 0)
                ));
            }
            json!({ "condition": name, "issues_last_7_days": count })
        })
        .collect();
    for row in &recurrence {
        text.push_str(&format!(
            "Recurrence: '{}' opened {} issue(s) in the last 7 days\n",
            cell(at(row, &["condition"])),
            cell(at(row, &["issues_last_7_days"]))
        ));
    }
    let suspects: Vec<Value> = deployments
        .iter()
        .filter(|d| text_at(d, "appName").is_some_and(|app| names.contains(&app)))
        .filter(|d| {
            number_at(d, "timestamp")
                .is_some_and(|t| (t as i64) <= started && (t as i64) >= started - SUSPECT_DEPLOYMENT_MS)
        })
        .map(|d| {
            let timestamp = number_at(d, "timestamp").unwrap_or(0.0) as i64;
            json!({
                "app": text_at(d, "appName"),
                "version": text_at(d, "version"),
                "user": text_at(d, "user"),
                "timestamp": timestamp,
                "minutes_before_issue": (started - timestamp) / MINUTE_MS,
            })
        })
        .collect();
    for suspect in &suspects {
        findings.push(format!(
            "{} deployed {} {} min before the issue began",
            cell(at(suspect, &["app"])),
            cell(at(suspect, &["version"])),
            cell(at(suspect, &["minutes_before_issue"]))
        ));
        next_steps.push(format!(
            "analyze_deployment_impact with app_name {} and deployment_timestamp {}",
            cell(at(suspect, &["app"])),
            cell(at(suspect, &["timestamp"]))
        ));
    }
    let open = at(&issue, &["closedAt"]).is_null();
    let minutes = issue_minutes(&issue, now).unwrap_or(0.0);
    if open && at(&issue, &["acknowledgedAt"]).is_null() && minutes > UNACKNOWLEDGED_MINUTES {
        findings.push(format!("open for {} and not acknowledged", minutes_text(minutes)));
    }
    if entities.iter().any(|e| at(e, &["kind"]) == "application") {
        next_steps.push(format!(
            "list_entity_error_groups with app_name {} for the errors behind it",
            names.join(", ")
        ));
    }
    if entities.iter().any(|e| at(e, &["kind"]) == "host") {
        next_steps
            .push("get_host_metrics or execute_nrql_query on SystemSample/ProcessSample for the host".into());
    }
    next_steps.push("generate_user_impact_report with this issue_id to see the effect on users".into());
    if findings.is_empty() {
        findings
            .push("no signal moved beyond the report's thresholds; the condition may be sensitive".into());
    }
    text.push_str("Findings:\n");
    for finding in &findings {
        text.push_str(&format!("- {finding}\n"));
    }
    text.push_str("Next steps:\n");
    for step in &next_steps {
        text.push_str(&format!("- {step}\n"));
    }
    text.push_str(&response_notes(&response));
    let mut structured = Map::new();
    structured.insert("account_id".into(), json!(account));
    structured.insert("issue".into(), issue.clone());
    structured.insert("open".into(), json!(open));
    structured.insert("duration_minutes".into(), json!((minutes * 10.0).round() / 10.0));
    structured.insert("entities".into(), Value::Array(entities));
    structured.insert("conditions".into(), Value::Array(conditions));
    structured.insert("recurrence".into(), Value::Array(recurrence));
    structured.insert("suspect_deployments".into(), Value::Array(suspects));
    structured.insert("findings".into(), json!(findings));
    structured.insert("next_steps".into(), json!(next_steps));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

/// Arguments of `generate_user_impact_report`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserImpactArgs {
    /// Browser application name, e.g. `acme-web`; default every browser application.
    pub app_name: Option<String>,
    /// Report on this issue's window against the two hours before it (issues of the last day).
    pub issue_id: Option<String>,
    /// Without issue_id, how far back to look, e.g. `30 minutes`, `1 day` (default `1 hour`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account.
    pub account_id: Option<i64>,
}

/// The browser queries of the report; `{scope}` is `WHERE appName = {{app}}` or nothing.
fn impact_templates(app: bool, series: bool) -> Vec<NrqlTemplate> {
    let scope = if app { "WHERE appName = {{app}}" } else { "" };
    let since = if series { "SINCE 1 day ago" } else { "SINCE {{since}} ago" };
    let mut params = Vec::new();
    if app {
        params.push(ParamSpec::new("app", ParamType::String));
    }
    if !series {
        params.push(ParamSpec::new("since", ParamType::Duration));
    }
    let query = |name: &'static str, body: &str| {
        NrqlTemplate::new(name, body.replace("{scope}", scope).replace("{since}", since), params.clone())
    };
    let mut templates = vec![
        query(
            "overview",
            "SELECT count(*) AS 'page_views', uniqueCount(session) AS 'sessions', average(duration) AS 'avg_load_s', \
             percentile(duration, 50, 95) AS 'load_s' FROM PageView {scope} {since}",
        ),
        query(
            "JavaScript errors",
            "SELECT count(*) AS 'js_errors', uniqueCount(session) AS 'affected_sessions' FROM JavaScriptError {scope} {since}",
        ),
        query(
            "top errors",
            "SELECT count(*) AS 'errors', uniqueCount(session) AS 'sessions' FROM JavaScriptError {scope} \
             FACET errorClass, errorMessage {since} LIMIT 10",
        ),
        query(
            "slow pages",
            "SELECT count(*) AS 'views', average(duration) AS 'avg_load_s', percentile(duration, 95) AS 'p95_load_s' \
             FROM PageView {scope} FACET pageUrl {since} LIMIT 10",
        ),
        query(
            "browsers",
            "SELECT count(*) AS 'errors', uniqueCount(session) AS 'sessions' FROM JavaScriptError {scope} \
             FACET userAgentName {since} LIMIT 10",
        ),
    ];
    if series {
        templates.push(query(
            "page views per interval",
            "SELECT count(*) AS 'page_views', sum(duration) AS 'load_sum_s' FROM PageView {scope} {since} TIMESERIES 10 minutes",
        ));
        templates.push(query(
            "JavaScript errors per interval",
            "SELECT count(*) AS 'js_errors' FROM JavaScriptError {scope} {since} TIMESERIES 10 minutes",
        ));
    }
    templates
}

const IMPACT_ALIASES: [&str; 7] =
    ["overview", "jsErrors", "topErrors", "slowPages", "browsers", "pageSeries", "errorSeries"];

fn plan_user_impact(
    policy: &Arc<Policy>,
    args: UserImpactArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let app = args::optional_name("app_name", args.app_name.as_deref())?;
    let issue_id = args.issue_id.as_deref().map(checked_issue_id).transpose()?;
    if issue_id.is_some() && args.since.is_some() {
        return Err(PlanError::InvalidArguments(
            "give issue_id or since, not both: an issue sets its own window".into(),
        ));
    }
    let since = args
        .since
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(USER_IMPACT_SINCE)
        .to_string();
    let mut values: Vec<(&str, Value)> = Vec::new();
    if let Some(app) = &app {
        values.push(("app", json!(app)));
    }
    if issue_id.is_none() {
        values.push(("since", json!(since)));
    }
    let mut variables = Map::new();
    variables.insert("accountId".into(), json!(account));
    for (alias, template) in IMPACT_ALIASES.iter().zip(impact_templates(app.is_some(), issue_id.is_some())) {
        variables
            .insert((*alias).into(), json!(template.build(&values, policy, account, context.now_epoch_ms)?));
    }
    let end = aligned_now(context);
    let (operation, document) = match &issue_id {
        Some(id) => {
            variables.insert("issueFilter".into(), json!({ "ids": [id] }));
            variables.insert("start".into(), json!(end - SIGNAL_LOOKBACK_MS));
            variables.insert("end".into(), json!(end));
            ("UserImpactForIssue", USER_IMPACT_FOR_ISSUE)
        }
        None => ("UserImpact", USER_IMPACT),
    };
    let request = UpstreamRequest {
        operation,
        document: document.into(),
        variables: Value::Object(variables.clone()),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let scope = app.unwrap_or_else(|| "all browser applications".into());
    let window = format!("last {since}");
    let plan = upstream_plan(
        descriptor,
        Some(account),
        &Value::Object(variables),
        request,
        REPORT_TIMEOUT,
        move |response| render_user_impact(&scope, &window, issue_id.as_deref(), end, response),
    );
    Ok(Plan { nrql_accounts: NrqlAccounts::one(account), ..plan })
}

/// Page views, load time and JavaScript errors of the intervals starting in `[from, to)`.
fn browser_stretch(pages: &[Value], errors: &[Value], from: i64, to: i64) -> Value {
    let views = stretch(pages, from, to, &["page_views", "load_sum_s"]);
    let js = stretch(errors, from, to, &["js_errors"]);
    let (count, load) = (views.sum(0), views.sum(1));
    json!({
        "minutes": views.minutes().max(js.minutes()),
        "page_views": count,
        "avg_load_ms": (count > 0.0).then(|| load / count * 1000.0),
        "js_errors": js.sum(0),
        "js_errors_per_1000_views": (count > 0.0).then(|| js.sum(0) / count * 1000.0),
    })
}

fn render_user_impact(
    scope: &str,
    window: &str,
    issue_id: Option<&str>,
    now: i64,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let data = at(&response.data, &["actor", "account"]);
    let rows = |alias: &str| {
        alias_rows(data, &[alias]).ok_or_else(|| missing_result("browser data", &response.partial_errors))
    };
    let overview = rows("overview")?.into_iter().next().unwrap_or(Value::Null);
    let js = rows("jsErrors")?.into_iter().next().unwrap_or(Value::Null);
    let page_views = number_at(&overview, "page_views").unwrap_or(0.0);
    let sessions = number_at(&overview, "sessions").unwrap_or(0.0);
    let js_errors = number_at(&js, "js_errors").unwrap_or(0.0);
    let affected = number_at(&js, "affected_sessions").unwrap_or(0.0);
    let mut structured = Map::new();
    let mut text = String::new();
    let mut period = window.to_string();
    if let Some(id) = issue_id {
        let issue = list_at(data, &["aiIssues", "issues", "issues"])
            .into_iter()
            .find(|issue| at(issue, &["issueId"]).as_str() == Some(id))
            .ok_or_else(|| {
                ToolError::new(
                    ToolErrorKind::NotFound,
                    format!("no issue {id} in the last day: search_incident finds issue ids; pass since for older windows"),
                )
            })?;
        let started = at(&issue, &["createdAt"]).as_i64().unwrap_or(now);
        let ended = at(&issue, &["closedAt"]).as_i64().unwrap_or(now);
        let (pages, errors) = (rows("pageSeries")?, rows("errorSeries")?);
        let before = browser_stretch(&pages, &errors, started - BASELINE_MS, started);
        let during = browser_stretch(&pages, &errors, started, ended.max(started + 1));
        text.push_str(&format!(
            "User impact of issue {id} ({}) on {scope}, {} to {} UTC:\n",
            strings(at(&issue, &["title"])).join(" "),
            time_ms(started),
            time_ms(ended)
        ));
        for (label, key, unit) in [
            ("page views", "page_views", ""),
            ("avg page load", "avg_load_ms", " ms"),
            ("JS errors", "js_errors", ""),
            ("JS errors per 1000 views", "js_errors_per_1000_views", ""),
        ] {
            text.push_str(&format!(
                "  {label}: {}{unit} in the 2 h before → {}{unit} during\n",
                fixed_or_na(at(&before, &[key]).as_f64(), 1),
                fixed_or_na(at(&during, &[key]).as_f64(), 1)
            ));
        }
        structured.insert("issue".into(), issue);
        structured.insert("before_issue".into(), before);
        structured.insert("during_issue".into(), during);
        period = "last 1 day".into();
    }
    text.push_str(&format!(
        "{scope} ({period}): {} page views in {} sessions; page load avg {}, p50 {}, p95 {}; {} JavaScript errors \
         hit {} sessions ({}% of sessions)\n",
        fixed(page_views, 0),
        fixed(sessions, 0),
        number_at(&overview, "avg_load_s").map_or_else(|| "n/a".into(), |s| millis(s * 1000.0)),
        percentile_at(&overview, "load_s", "50").map_or_else(|| "n/a".into(), |s| millis(s * 1000.0)),
        percentile_at(&overview, "load_s", "95").map_or_else(|| "n/a".into(), |s| millis(s * 1000.0)),
        fixed(js_errors, 0),
        fixed(affected, 0),
        fixed_or_na(share(affected, sessions), 1)
    ));
    let top_errors: Vec<Value> = rows("topErrors")?
        .iter()
        .map(|row| {
            json!({
                "error_class": text_at(row, "errorClass"),
                "error_message": text_at(row, "errorMessage"),
                "errors": number_at(row, "errors"),
                "sessions": number_at(row, "sessions"),
            })
        })
        .collect();
    if !top_errors.is_empty() {
        text.push_str("Top JavaScript errors:\n");
        for row in &top_errors {
            text.push_str(&format!(
                "  {}× {}: {} ({} sessions)\n",
                cell(at(row, &["errors"])),
                cell(at(row, &["error_class"])),
                cell(at(row, &["error_message"])),
                cell(at(row, &["sessions"]))
            ));
        }
    }
    let mut slow_pages: Vec<Value> = rows("slowPages")?
        .iter()
        .map(|row| json!({
            "page_url": text_at(row, "pageUrl"),
            "views": number_at(row, "views"),
            "avg_load_ms": number_at(row, "avg_load_s").map(|s| s * 1000.0),
            "p95_load_ms": number_at(row, "p95_load_s").or_else(|| percentile_at(row, "p95_load_s", "95")).map(|s| s * 1000.0),
        }))
        .collect();
    slow_pages.sort_by(|a, b| {
        let load = |r: &Value| at(r, &["avg_load_ms"]).as_f64().unwrap_or(0.0);
        load(b).total_cmp(&load(a))
    });
    if !slow_pages.is_empty() {
        text.push_str("Slowest pages:\n");
        for row in &slow_pages {
            text.push_str(&format!(
                "  {}: avg {}, p95 {} over {} views\n",
                cell(at(row, &["page_url"])),
                at(row, &["avg_load_ms"]).as_f64().map_or_else(|| "n/a".into(), millis),
                at(row, &["p95_load_ms"]).as_f64().map_or_else(|| "n/a".into(), millis),
                cell(at(row, &["views"]))
            ));
        }
    }
    let browsers: Vec<Value> = rows("browsers")?
        .iter()
        .map(|row| json!({ "browser": text_at(row, "userAgentName"), "errors": number_at(row, "errors"), "sessions": number_at(row, "sessions") }))
        .collect();
    if !browsers.is_empty() {
        let list: Vec<String> = browsers
            .iter()
            .map(|b| format!("{} {} sessions", cell(at(b, &["browser"])), cell(at(b, &["sessions"]))))
            .collect();
        text.push_str(&format!("Sessions with JavaScript errors by browser: {}\n", list.join(", ")));
    }
    if page_views == 0.0 {
        text.push_str("No page view in this window: check app_name (a browser application such as acme-web), or widen since.\n");
    }
    text.push_str(&response_notes(&response));
    structured.insert("scope".into(), json!(scope));
    structured.insert("window".into(), json!(period));
    structured.insert(
        "overview".into(),
        json!({
            "page_views": page_views,
            "sessions": sessions,
            "avg_load_ms": number_at(&overview, "avg_load_s").map(|s| s * 1000.0),
            "p50_load_ms": percentile_at(&overview, "load_s", "50").map(|s| s * 1000.0),
            "p95_load_ms": percentile_at(&overview, "load_s", "95").map(|s| s * 1000.0),
            "js_errors": js_errors,
            "affected_sessions": affected,
            "affected_sessions_pct": share(affected, sessions),
        }),
    );
    structured.insert("top_errors".into(), Value::Array(top_errors));
    structured.insert("slowest_pages".into(), Value::Array(slow_pages));
    structured.insert("browsers".into(), Value::Array(browsers));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;
    use crate::tools::nrql_tool::testing;

    fn tools() -> Vec<Arc<dyn Tool>> {
        ReportsPlugin::default().tools()
    }

    fn variables(plan: &Plan) -> Value {
        match &plan.action {
            PlanAction::Upstream { request, .. } => request.variables.clone(),
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected upstream"),
        }
    }

    fn respond(plan: &Plan, data: Value) -> Result<ToolOutput, ToolError> {
        let PlanAction::Upstream { render, .. } = &plan.action else { panic!("expected upstream") };
        render(UpstreamResponse { data, pages: 1, ..Default::default() })
    }

    #[test]
    fn every_template_parses() {
        for template in insight_templates() {
            template.parse().unwrap();
        }
        for (app, series) in [(false, false), (true, false), (false, true), (true, true)] {
            for template in impact_templates(app, series) {
                template.parse().unwrap();
            }
        }
    }

    #[test]
    fn insights_pick_the_issue_by_id_or_the_most_severe_open_one() {
        let issues = [
            json!({"issueId": "a", "priority": "HIGH", "createdAt": 3}),
            json!({"issueId": "b", "priority": "CRITICAL", "createdAt": 1}),
            json!({"issueId": "c", "priority": "CRITICAL", "createdAt": 2}),
            json!({"issueId": "d", "priority": "CRITICAL", "createdAt": 9, "closedAt": 10}),
        ];
        let cases = [(None, Some("c")), (Some("a"), Some("a")), (Some("d"), Some("d")), (Some("zz"), None)];
        for (wanted, expected) in cases {
            let got = chosen_issue(&issues, wanted);
            assert_eq!(got.as_ref().and_then(|i| i["issueId"].as_str()), expected, "{wanted:?}");
        }
        let by_id =
            testing::plan(&tools(), "generate_alert_insights_report", json!({"issue_id": "abc-1"})).unwrap();
        assert_eq!(variables(&by_id)["issueFilter"], json!({"ids": ["abc-1"]}));
        let open = testing::plan(&tools(), "generate_alert_insights_report", json!({})).unwrap();
        assert_eq!(variables(&open)["issueFilter"], json!({"states": ["CREATED", "ACTIVATED"]}));
        assert_eq!(open.nrql_accounts, NrqlAccounts::one(testing::ACCOUNT));
        assert!(
            testing::plan(&tools(), "generate_alert_insights_report", json!({"issue_id": "x y"})).is_err()
        );
    }

    fn bucket(facet: (&str, &str), begin_ms: i64, values: Value) -> Value {
        let mut row = json!({"facet": facet.1, "beginTimeSeconds": begin_ms / 1000, "endTimeSeconds": begin_ms / 1000 + 600});
        row[facet.0] = json!(facet.1);
        if let (Value::Object(row), Value::Object(values)) = (&mut row, values) {
            row.extend(values);
        }
        row
    }

    #[test]
    fn insights_compare_signals_before_and_during_and_list_findings() {
        let now = testing::context().now_epoch_ms;
        let planned = testing::plan(&tools(), "generate_alert_insights_report", json!({})).unwrap();
        let started = now - 60 * MINUTE_MS - now.rem_euclid(600_000);
        let mut signals = Vec::new();
        for i in 1..=12 {
            signals.push(bucket(
                ("appName", "payments-api"),
                started - i * 600_000,
                json!({"requests": 100, "duration_sum_s": 15.0, "errors": 1}),
            ));
        }
        for i in 0..6 {
            signals.push(bucket(
                ("appName", "payments-api"),
                started + i * 600_000,
                json!({"requests": 100, "duration_sum_s": 15.0, "errors": 20}),
            ));
        }
        let data = json!({"actor": {"account": {
            "aiIssues": {"issues": {"issues": [{
                "issueId": "i-1", "title": ["payments-api error rate above 5%"], "priority": "CRITICAL", "state": "ACTIVATED",
                "createdAt": started, "entityNames": ["payments-api"], "conditionName": ["payments error rate > 5%"],
                "policyName": ["Payments critical"], "totalIncidents": 2
            }]}},
            "alerts": {"nrqlConditionsSearch": {"nrqlConditions": [
                {"id": "3", "name": "payments error rate > 5%", "enabled": true, "nrql": {"query": "SELECT percentage(count(*), WHERE error IS true) FROM Transaction"},
                 "terms": [{"priority": "CRITICAL", "operator": "ABOVE", "threshold": 5, "thresholdDuration": 300, "thresholdOccurrences": "ALL"}]},
                {"id": "4", "name": "other", "enabled": true}
            ]}},
            "signals": {"results": signals},
            "hosts": {"results": []},
            "history": {"results": [{"facet": "payments error rate > 5%", "issues": 4}]},
            "deployments": {"results": [
                {"timestamp": started - 15 * MINUTE_MS, "appName": "payments-api", "version": "v1.4.3", "user": "bob"},
                {"timestamp": started - 15 * MINUTE_MS, "appName": "web-frontend", "version": "v9"}
            ]}
        }}});
        let output = respond(&planned, data).unwrap();
        let entity = &output.structured["entities"][0];
        assert_eq!(entity["kind"], "application");
        assert_eq!(entity["before"]["error_rate_pct"], 1.0);
        assert_eq!(entity["during"]["error_rate_pct"], 20.0);
        assert_eq!(entity["during"]["avg_latency_ms"], 150.0);
        assert_eq!(output.structured["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(output.structured["recurrence"][0]["issues_last_7_days"], 4.0);
        assert_eq!(output.structured["suspect_deployments"].as_array().unwrap().len(), 1);
        let findings = output.structured["findings"].as_array().unwrap();
        let has = |needle: &str| findings.iter().any(|f| f.as_str().unwrap().contains(needle));
        assert!(has("payments-api: error rate 20% during the issue against 1% before"), "{findings:?}");
        assert!(has("deployed v1.4.3 15 min before"), "{findings:?}");
        assert!(has("opened 4 issues in 7 days"), "{findings:?}");
        assert!(has("not acknowledged"), "{findings:?}");
        assert!(has("no runbook URL"), "{findings:?}");
        assert!(
            output.text.contains("analyze_deployment_impact with app_name payments-api"),
            "{}",
            output.text
        );
        let none = json!({"actor": {"account": {"aiIssues": {"issues": {"issues": []}}}}});
        assert_eq!(respond(&planned, none).unwrap_err().kind, ToolErrorKind::NotFound);
    }

    #[test]
    fn host_issues_read_host_signals() {
        let rows = [
            bucket(
                ("hostname", "h1"),
                0,
                json!({"samples": 2, "cpu_sum": 100.0, "memory_sum": 120.0, "disk_max": 80.0}),
            ),
            bucket(
                ("hostname", "h1"),
                600_000,
                json!({"samples": 2, "cpu_sum": 190.0, "memory_sum": 120.0, "disk_max": 91.0}),
            ),
        ];
        let refs: Vec<&Value> = rows.iter().collect();
        let signals = host_signals(&refs, 0, 1_200_000);
        assert_eq!(signals["avg_cpu_pct"], 72.5);
        assert_eq!(signals["avg_memory_pct"], 60.0);
        assert_eq!(signals["max_disk_pct"], 91.0);
        assert_eq!(host_signals(&refs, 5_000_000, 6_000_000)["max_disk_pct"], Value::Null);
    }

    #[test]
    fn user_impact_scopes_every_query_alike() {
        let planned = testing::plan(
            &tools(),
            "generate_user_impact_report",
            json!({"app_name": "acme-web", "since": "3 hours"}),
        )
        .unwrap();
        let vars = variables(&planned);
        for alias in &IMPACT_ALIASES[..5] {
            let nrql = vars[*alias].as_str().unwrap();
            assert!(
                nrql.contains("WHERE appName = 'acme-web'") && nrql.contains("SINCE 3 hours ago"),
                "{alias}: {nrql}"
            );
        }
        assert!(vars.get("pageSeries").is_none());
        let for_issue =
            testing::plan(&tools(), "generate_user_impact_report", json!({"issue_id": "i-1"})).unwrap();
        let vars = variables(&for_issue);
        assert!(vars["pageSeries"].as_str().unwrap().contains("TIMESERIES 10 minutes"));
        assert!(!vars["overview"].as_str().unwrap().contains("WHERE"));
        assert!(
            testing::plan(
                &tools(),
                "generate_user_impact_report",
                json!({"issue_id": "i-1", "since": "1 hour"})
            )
            .is_err()
        );
    }

    #[test]
    fn user_impact_reports_sessions_errors_and_pages() {
        let planned =
            testing::plan(&tools(), "generate_user_impact_report", json!({"app_name": "acme-web"})).unwrap();
        let data = json!({"actor": {"account": {
            "overview": {"results": [{"page_views": 1000, "sessions": 200, "avg_load_s": 1.2, "load_s": {"50": 0.9, "95": 3.1}}]},
            "jsErrors": {"results": [{"js_errors": 50, "affected_sessions": 30}]},
            "topErrors": {"results": [{"errorClass": "TypeError", "errorMessage": "x is undefined", "errors": 40, "sessions": 25}]},
            "slowPages": {"results": [
                {"pageUrl": "/", "views": 600, "avg_load_s": 0.8, "p95_load_s": {"95": 2.0}},
                {"pageUrl": "/checkout", "views": 100, "avg_load_s": 2.5, "p95_load_s": {"95": 5.0}}
            ]},
            "browsers": {"results": [{"userAgentName": "Chrome", "errors": 30, "sessions": 20}]}
        }}});
        let output = respond(&planned, data).unwrap();
        assert_eq!(output.structured["overview"]["affected_sessions_pct"], 15.0);
        assert_eq!(output.structured["overview"]["p95_load_ms"], 3100.0);
        assert_eq!(output.structured["slowest_pages"][0]["page_url"], "/checkout");
        assert_eq!(output.structured["slowest_pages"][0]["p95_load_ms"], 5000.0);
        assert!(output.text.contains("1000 page views in 200 sessions"), "{}", output.text);
        assert!(
            output.text.contains("50 JavaScript errors hit 30 sessions (15% of sessions)"),
            "{}",
            output.text
        );
        assert!(output.text.contains("40× TypeError: x is undefined (25 sessions)"), "{}", output.text);
    }

    #[test]
    fn user_impact_for_an_issue_compares_the_issue_window() {
        let now = testing::context().now_epoch_ms;
        let planned =
            testing::plan(&tools(), "generate_user_impact_report", json!({"issue_id": "i-1"})).unwrap();
        let started = now - 60 * MINUTE_MS - now.rem_euclid(600_000);
        let series = |views: i64, load: f64, errors: i64| -> (Vec<Value>, Vec<Value>) {
            let mut pages = Vec::new();
            let mut js = Vec::new();
            for i in -12..6 {
                let begin = started + i * 600_000;
                let factor = if i >= 0 { 3 } else { 1 };
                let interval =
                    json!({"beginTimeSeconds": begin / 1000, "endTimeSeconds": begin / 1000 + 600});
                let mut page = interval.clone();
                page["page_views"] = json!(views);
                page["load_sum_s"] = json!(load * views as f64 * factor as f64);
                let mut error = interval;
                error["js_errors"] = json!(errors * factor);
                pages.push(page);
                js.push(error);
            }
            (pages, js)
        };
        let (pages, js) = series(100, 1.0, 2);
        let empty = json!({"results": []});
        let data = json!({"actor": {"account": {
            "aiIssues": {"issues": {"issues": [{"issueId": "i-1", "title": ["slow"], "createdAt": started}]}},
            "overview": empty, "jsErrors": empty, "topErrors": empty, "slowPages": empty, "browsers": empty,
            "pageSeries": {"results": pages}, "errorSeries": {"results": js}
        }}});
        let output = respond(&planned, data).unwrap();
        assert_eq!(output.structured["before_issue"]["avg_load_ms"], 1000.0);
        assert_eq!(output.structured["during_issue"]["avg_load_ms"], 3000.0);
        assert_eq!(output.structured["before_issue"]["js_errors_per_1000_views"], 20.0);
        assert_eq!(output.structured["during_issue"]["js_errors_per_1000_views"], 60.0);
        assert!(
            output.text.contains("avg page load: 1000 ms in the 2 h before → 3000 ms during"),
            "{}",
            output.text
        );
    }
}
