//! Alert conditions and the search of issues (with their incidents) by text, state,
//! priority, entity and time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints,
    ToolOutput,
};
use newrelic_mcp_actors::upstream::{Pagination, RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::account::resolve_account;
use super::alerting::IssueState;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::entity_ref::{checked_guid, name_filter};
use super::nrql_tool::values::{fixed, time_ms};
use super::render::{Capped, MAX_ROWS, at, cell, list_at, response_notes, warnings};
use super::time_period::parse_time_period;

const CATEGORY: &str = "alerting";

pub(crate) const NRQL_CONDITIONS: &str = r#"query NrqlConditions($accountId: Int!, $cursor: String, $criteria: AlertsNrqlConditionsSearchCriteriaInput) {
  actor {
    account(id: $accountId) {
      alerts {
        nrqlConditionsSearch(cursor: $cursor, searchCriteria: $criteria) {
          nextCursor
          totalCount
          nrqlConditions {
            id name enabled policyId type description runbookUrl violationTimeLimitSeconds
            nrql { query }
            signal { aggregationWindow aggregationMethod aggregationDelay }
            terms { priority operator threshold thresholdDuration thresholdOccurrences }
          }
        }
      }
    }
  }
}"#;

pub(crate) const ISSUE_SEARCH: &str = r#"query IssueSearch($accountId: Int!, $cursor: String, $filter: AiIssuesFilterIssues, $start: EpochMilliseconds!, $end: EpochMilliseconds!) {
  actor {
    account(id: $accountId) {
      aiIssues {
        issues(cursor: $cursor, filter: $filter, timeWindow: { startTime: $start, endTime: $end }) {
          nextCursor
          issues {
            issueId title description priority state createdAt activatedAt closedAt updatedAt
            acknowledgedAt acknowledgedBy entityGuids entityNames entityTypes conditionName policyName
            policyIds totalIncidents incidentIds mutingState sources deepLinkUrl
          }
        }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("NrqlConditions", NRQL_CONDITIONS), ("IssueSearch", ISSUE_SEARCH)];

const DEFAULT_ISSUE_PERIOD: &str = "last 7 days";
/// Longest window `search_incident` reads.
const MAX_ISSUE_WINDOW_MS: i64 = 90 * 86_400_000;

pub struct IncidentsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl IncidentsPlugin {
    pub fn new() -> Self {
        Self {
            tools: vec![
                BuiltinTool::shared(
                    Spec {
                        name: "list_alert_conditions",
                        title: "List alert conditions",
                        description: "List the NRQL alert conditions of an account, or of one policy (policy_id \
                            from list_alert_policies): name, enabled, the NRQL it evaluates, thresholds (priority, \
                            operator, value, duration), aggregation and runbook. Optionally filter by name or by \
                            text in the query.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    plan_list_alert_conditions,
                ),
                BuiltinTool::shared(
                    Spec {
                        name: "search_incident",
                        title: "Search incidents",
                        description: "Search alert issues (and their incidents) by text in the title, entity or \
                            condition, by state (CREATED, ACTIVATED, DEACTIVATED, CLOSED), priority (CRITICAL, \
                            HIGH, MEDIUM, LOW), entity GUID or issue id, over a period (default the last 7 days): \
                            each with entities, condition, policy, when it started, how long it lasted, who \
                            acknowledged it, and counts by state and priority.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(30)),
                    },
                    plan_search_incident,
                ),
            ],
        }
    }
}

impl Default for IncidentsPlugin {
    fn default() -> Self {
        Self::new()
    }
}

super::builtin::builtin_plugin!(IncidentsPlugin, "incidents", "Alert conditions and incident search");

/// An id given as text or as a number.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum IdArg {
    Number(i64),
    Text(String),
}

impl IdArg {
    fn digits(&self, argument: &str) -> Result<String, PlanError> {
        let text = match self {
            IdArg::Number(n) => n.to_string(),
            IdArg::Text(t) => t.trim().to_string(),
        };
        if text.is_empty() || text.len() > 20 || !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(PlanError::InvalidArguments(format!(
                "{argument} must be a numeric id such as 2000101 (list_alert_policies lists them)"
            )));
        }
        Ok(text)
    }
}

/// Arguments of `list_alert_conditions`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAlertConditionsArgs {
    /// Account whose conditions to list; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Only conditions of this policy (an id from list_alert_policies).
    pub policy_id: Option<IdArg>,
    /// Only conditions whose name contains this text.
    pub name_filter: Option<String>,
    /// Only conditions whose NRQL contains this text, e.g. `checkout-service`.
    pub query_filter: Option<String>,
    /// Only enabled (true) or disabled (false) conditions.
    pub enabled: Option<bool>,
}

fn plan_list_alert_conditions(
    args: ListAlertConditionsArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let policy_id = args.policy_id.as_ref().map(|id| id.digits("policy_id")).transpose()?;
    let name_like = name_filter("name_filter", args.name_filter.as_deref())?;
    let query_like = name_filter("query_filter", args.query_filter.as_deref())?;
    let mut criteria = Map::new();
    for (key, value) in [("policyId", &policy_id), ("nameLike", &name_like), ("queryLike", &query_like)] {
        if let Some(value) = value {
            criteria.insert(key.into(), json!(value));
        }
    }
    let request = UpstreamRequest {
        operation: "NrqlConditions",
        document: NRQL_CONDITIONS.into(),
        variables: json!({ "accountId": account, "cursor": null, "criteria": criteria }),
        kind: RequestKind::Read,
        pagination: Some(Pagination {
            cursor_variable: "cursor",
            page_path: &["actor", "account", "alerts", "nrqlConditionsSearch"],
            items_field: "nrqlConditions",
            max_pages: 10,
        }),
        async_poll: None,
        experimental_opt_in: None,
    };
    let enabled = args.enabled;
    let normalised = json!({ "criteria": criteria, "enabled": enabled });
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_conditions(account, policy_id.as_deref(), enabled, response),
    ))
}

/// One threshold term as people say it: `CRITICAL when ABOVE 5 for 300 s (ALL)`.
pub(crate) fn term_text(term: &Value) -> String {
    format!(
        "{} when {} {} for {} s ({})",
        cell(at(term, &["priority"])),
        cell(at(term, &["operator"])),
        cell(at(term, &["threshold"])),
        cell(at(term, &["thresholdDuration"])),
        cell(at(term, &["thresholdOccurrences"]))
    )
}

fn render_conditions(
    account: i64,
    policy_id: Option<&str>,
    enabled: Option<bool>,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let conditions: Vec<Value> =
        list_at(&response.data, &["actor", "account", "alerts", "nrqlConditionsSearch", "nrqlConditions"])
            .into_iter()
            .filter(|c| enabled.is_none_or(|wanted| at(c, &["enabled"]).as_bool() == Some(wanted)))
            .collect();
    let disabled = conditions.iter().filter(|c| at(c, &["enabled"]).as_bool() == Some(false)).count();
    let capped = Capped::new(conditions, MAX_ROWS);
    let scope = policy_id.map(|id| format!(" of policy {id}")).unwrap_or_default();
    let mut text = format!(
        "{} in account {account}{scope} ({disabled} disabled)\n",
        capped.heading("alert condition", "alert conditions")
    );
    for condition in &capped.rows {
        let terms: Vec<String> = list_at(condition, &["terms"]).iter().map(term_text).collect();
        text.push_str(&format!(
            "{} {}{} (policy {}, {}): {}\n  thresholds: {}\n",
            cell(at(condition, &["id"])),
            cell(at(condition, &["name"])),
            if at(condition, &["enabled"]).as_bool() == Some(false) { " [disabled]" } else { "" },
            cell(at(condition, &["policyId"])),
            cell(at(condition, &["type"])),
            cell(at(condition, &["nrql", "query"])),
            if terms.is_empty() { "none".to_string() } else { terms.join("; ") },
        ));
    }
    if capped.total == 0 {
        text.push_str(
            "No condition matched: drop the filters, or check policy_id with list_alert_policies.\n",
        );
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("policy_id".into(), json!(policy_id));
    structured.insert("disabled".into(), json!(disabled));
    structured.insert("conditions".into(), Value::Array(capped.rows));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

/// Issue priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

/// Arguments of `search_incident`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchIncidentArgs {
    /// Account to search; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Text to find in the issue's title, entities or condition, e.g. `payments` (case sensitive).
    pub query: Option<String>,
    /// Only issues in these states, e.g. `["ACTIVATED"]`; default every state.
    pub states: Option<Vec<IssueState>>,
    /// Only issues of these priorities, e.g. `["CRITICAL", "HIGH"]`.
    pub priorities: Option<Vec<Priority>>,
    /// Only issues on this entity.
    pub entity_guid: Option<String>,
    /// Only this issue.
    pub issue_id: Option<String>,
    /// When: `last 24 hours`, `yesterday`, `2024-05-01 to 2024-05-03` (default `last 7 days`, at most 90 days).
    pub time_period: Option<String>,
}

fn sorted_unique<T: Ord + Copy>(values: Option<Vec<T>>, argument: &str) -> Result<Option<Vec<T>>, PlanError> {
    let Some(mut values) = values else { return Ok(None) };
    values.sort();
    values.dedup();
    if values.is_empty() {
        return Err(PlanError::InvalidArguments(format!("{argument} must name at least one value")));
    }
    Ok(Some(values))
}

/// A period argument resolved against the call's clock, ends aligned to the minute so that
/// calls within a minute share a cache entry.
pub(crate) fn issue_window(
    period: Option<&str>,
    default: &str,
    context: &PlanContext,
) -> Result<(i64, i64), PlanError> {
    let text = period.map(str::trim).filter(|p| !p.is_empty()).unwrap_or(default);
    let period = parse_time_period(text, context.now_epoch_ms)
        .map_err(|error| ToolError::new(ToolErrorKind::BadRequest, error.to_string()))?;
    let align = |ms: i64| ms - ms.rem_euclid(60_000);
    let end = if period.end_ms >= context.now_epoch_ms {
        align(context.now_epoch_ms) + 60_000
    } else {
        period.end_ms
    };
    let start = align(period.start_ms);
    if end - start > MAX_ISSUE_WINDOW_MS {
        return Err(PlanError::Tool(ToolError::new(
            ToolErrorKind::BadRequest,
            format!("time_period '{text}' spans more than 90 days: narrow it"),
        )));
    }
    Ok((start, end.max(start + 60_000)))
}

fn plan_search_incident(
    args: SearchIncidentArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let (start, end) = issue_window(args.time_period.as_deref(), DEFAULT_ISSUE_PERIOD, context)?;
    let mut filter = Map::new();
    if let Some(text) = name_filter("query", args.query.as_deref())? {
        filter.insert("contains".into(), json!(text));
    }
    if let Some(mut states) = args.states {
        states.sort_by_key(|state| *state as u8);
        states.dedup();
        if states.is_empty() {
            return Err(PlanError::InvalidArguments("states must name at least one state".into()));
        }
        filter.insert("states".into(), json!(states));
    }
    if let Some(priorities) = sorted_unique(args.priorities, "priorities")? {
        filter.insert("priority".into(), json!(priorities));
    }
    if let Some(guid) = &args.entity_guid {
        filter.insert("entityGuids".into(), json!([checked_guid("entity_guid", guid, context)?]));
    }
    if let Some(id) = &args.issue_id {
        let id = id.trim();
        if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(PlanError::InvalidArguments(
                "issue_id must be an issue id such as 3f2a9c1e-… (search_incident or list_recent_issues lists them)".into(),
            ));
        }
        filter.insert("ids".into(), json!([id]));
    }
    let request = UpstreamRequest {
        operation: "IssueSearch",
        document: ISSUE_SEARCH.into(),
        variables: json!({ "accountId": account, "cursor": null, "filter": filter, "start": start, "end": end }),
        kind: RequestKind::Read,
        pagination: Some(Pagination {
            cursor_variable: "cursor",
            page_path: &["actor", "account", "aiIssues", "issues"],
            items_field: "issues",
            max_pages: 5,
        }),
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "filter": filter, "start": start, "end": end });
    let now = context.now_epoch_ms;
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_issue_search(account, (start, end), now, response),
    ))
}

fn joined(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => cell(other),
    }
}

/// How long an issue has lasted (to its close, or to `now` while open), in minutes.
pub(crate) fn issue_minutes(issue: &Value, now_ms: i64) -> Option<f64> {
    let created = at(issue, &["createdAt"]).as_i64()?;
    let end = at(issue, &["closedAt"]).as_i64().unwrap_or(now_ms);
    Some((end - created).max(0) as f64 / 60_000.0)
}

/// A duration in minutes as people say it: `45 min`, `3.5 h`, `2.1 days`.
pub(crate) fn minutes_text(minutes: f64) -> String {
    if minutes < 120.0 {
        format!("{} min", fixed(minutes, 0))
    } else if minutes < 2_880.0 {
        format!("{} h", fixed(minutes / 60.0, 1))
    } else {
        format!("{} days", fixed(minutes / 1_440.0, 1))
    }
}

/// An issue's one-line summary.
pub(crate) fn issue_line(issue: &Value, now_ms: i64) -> String {
    let created = at(issue, &["createdAt"]).as_i64().map_or_else(|| "unknown".into(), time_ms);
    let open = at(issue, &["closedAt"]).is_null();
    let lasted = issue_minutes(issue, now_ms)
        .map(|m| {
            if open { format!("open for {}", minutes_text(m)) } else { format!("lasted {}", minutes_text(m)) }
        })
        .unwrap_or_default();
    let acknowledged = match at(issue, &["acknowledgedBy"]).as_str() {
        Some(by) => format!("acknowledged by {by}"),
        None if at(issue, &["acknowledgedAt"]).is_number() => "acknowledged".to_string(),
        None => "not acknowledged".to_string(),
    };
    format!(
        "[{} {}] {} — entities: {}; condition: {}; policy: {}; started {created} UTC, {lasted}; {acknowledged}; {} incident(s); id {}",
        cell(at(issue, &["priority"])),
        cell(at(issue, &["state"])),
        joined(at(issue, &["title"])),
        joined(at(issue, &["entityNames"])),
        joined(at(issue, &["conditionName"])),
        joined(at(issue, &["policyName"])),
        cell(at(issue, &["totalIncidents"])),
        cell(at(issue, &["issueId"])),
    )
}

fn render_issue_search(
    account: i64,
    (start, end): (i64, i64),
    now: i64,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let mut issues = list_at(&response.data, &["actor", "account", "aiIssues", "issues", "issues"]);
    issues.sort_by_key(|issue| std::cmp::Reverse(at(issue, &["createdAt"]).as_i64().unwrap_or(0)));
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_priority: BTreeMap<String, usize> = BTreeMap::new();
    for issue in &issues {
        *by_state.entry(cell(at(issue, &["state"]))).or_default() += 1;
        *by_priority.entry(cell(at(issue, &["priority"]))).or_default() += 1;
    }
    let rows: Vec<Value> = issues
        .into_iter()
        .map(|mut issue| {
            let minutes = issue_minutes(&issue, now);
            if let Value::Object(map) = &mut issue {
                map.insert("duration_minutes".into(), json!(minutes.map(|m| (m * 10.0).round() / 10.0)));
                map.insert("open".into(), json!(map.get("closedAt").is_none_or(Value::is_null)));
            }
            issue
        })
        .collect();
    let capped = Capped::new(rows, MAX_ROWS);
    let counts = |map: &BTreeMap<String, usize>| {
        map.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
    };
    let mut text = format!(
        "{} in account {account} from {} to {} UTC\n",
        capped.heading("issue", "issues"),
        time_ms(start),
        time_ms(end)
    );
    if capped.total > 0 {
        text.push_str(&format!("by state: {}; by priority: {}\n", counts(&by_state), counts(&by_priority)));
    }
    for issue in &capped.rows {
        text.push_str(&issue_line(issue, now));
        text.push('\n');
    }
    if capped.total == 0 {
        text.push_str(
            "No issue matched: widen time_period, or drop query, states, priorities or entity_guid.\n",
        );
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("start_epoch_ms".into(), json!(start));
    structured.insert("end_epoch_ms".into(), json!(end));
    structured.insert("by_state".into(), json!(by_state));
    structured.insert("by_priority".into(), json!(by_priority));
    structured.insert("issues".into(), Value::Array(capped.rows));
    structured.insert("more_pages".into(), json!(response.truncated));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;

    // 2024-05-15T12:30:10Z
    const NOW: i64 = 1_715_776_210_000;

    fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1),
            allowed_accounts: Some(Arc::from(vec![1])),
            now_epoch_ms: NOW,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plan(name: &str, arguments: Value) -> Result<Plan, PlanError> {
        let tool = IncidentsPlugin::new().tools().into_iter().find(|t| t.descriptor().name == name).unwrap();
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        tool.plan(arguments, &context())
    }

    fn variables(plan: &Plan) -> Value {
        match &plan.action {
            PlanAction::Upstream { request, .. } => request.variables.clone(),
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected upstream"),
        }
    }

    fn respond(plan: &Plan, data: Value) -> ToolOutput {
        let PlanAction::Upstream { render, .. } = &plan.action else { panic!("expected upstream") };
        render(UpstreamResponse { data, pages: 1, ..Default::default() }).unwrap()
    }

    #[test]
    fn condition_criteria_are_variables() {
        let cases = [
            (json!({}), json!({})),
            (json!({"policy_id": 2000101}), json!({"policyId": "2000101"})),
            (
                json!({"policy_id": " 42 ", "name_filter": "error", "query_filter": "payments-api"}),
                json!({"policyId": "42", "nameLike": "error", "queryLike": "payments-api"}),
            ),
        ];
        for (arguments, criteria) in cases {
            assert_eq!(
                variables(&plan("list_alert_conditions", arguments.clone()).unwrap())["criteria"],
                criteria,
                "{arguments}"
            );
        }
        for bad in [json!({"policy_id": "abc"}), json!({"policy_id": "1; drop"}), json!({"policy": 1})] {
            assert!(
                matches!(plan("list_alert_conditions", bad.clone()), Err(PlanError::InvalidArguments(_))),
                "{bad}"
            );
        }
        assert!(matches!(plan("list_alert_conditions", json!({"account_id": 2})), Err(PlanError::Tool(_))));
    }

    #[test]
    fn renders_conditions_with_their_thresholds() {
        let planned = plan("list_alert_conditions", json!({"enabled": true})).unwrap();
        let data = json!({"actor": {"account": {"alerts": {"nrqlConditionsSearch": {"nrqlConditions": [
            {"id": "3", "name": "error rate", "enabled": true, "policyId": "7", "type": "STATIC",
             "nrql": {"query": "SELECT percentage(count(*), WHERE error IS true) FROM Transaction"},
             "terms": [{"priority": "CRITICAL", "operator": "ABOVE", "threshold": 5.0, "thresholdDuration": 300, "thresholdOccurrences": "ALL"}]},
            {"id": "4", "name": "old", "enabled": false, "policyId": "7", "nrql": {"query": "SELECT 1"}, "terms": []}
        ]}}}}});
        let output = respond(&planned, data);
        assert_eq!(output.structured["total"], 1);
        assert!(output.text.contains("3 error rate (policy 7, STATIC)"), "{}", output.text);
        assert!(output.text.contains("thresholds: CRITICAL when ABOVE 5 for 300 s (ALL)"), "{}", output.text);
    }

    #[test]
    fn issue_filters_are_variables_and_windows_are_aligned() {
        let planned = plan(
            "search_incident",
            json!({"query": "payments", "states": ["CLOSED", "ACTIVATED", "CLOSED"], "priorities": ["LOW", "CRITICAL"],
                   "issue_id": "abc-123", "time_period": "last 24 hours"}),
        )
        .unwrap();
        let vars = variables(&planned);
        assert_eq!(
            vars["filter"],
            json!({"contains": "payments", "states": ["ACTIVATED", "CLOSED"], "priority": ["CRITICAL", "LOW"], "ids": ["abc-123"]})
        );
        assert_eq!(vars["end"].as_i64().unwrap() % 60_000, 0);
        assert_eq!(vars["end"].as_i64().unwrap() - vars["start"].as_i64().unwrap(), 86_400_000 + 60_000);
        let default = variables(&plan("search_incident", json!({})).unwrap());
        assert_eq!(default["filter"], json!({}));
        for bad in [
            json!({"states": []}),
            json!({"priorities": ["URGENT"]}),
            json!({"issue_id": "x' }"}),
            json!({"entity_guid": "not a guid"}),
        ] {
            assert!(
                matches!(plan("search_incident", bad.clone()), Err(PlanError::InvalidArguments(_))),
                "{bad}"
            );
        }
        for bad in [json!({"time_period": "whenever"}), json!({"time_period": "last 200 days"})] {
            assert!(matches!(plan("search_incident", bad.clone()), Err(PlanError::Tool(_))), "{bad}");
        }
    }

    #[test]
    fn renders_issues_newest_first_with_counts_and_durations() {
        let planned = plan("search_incident", json!({})).unwrap();
        let data = json!({"actor": {"account": {"aiIssues": {"issues": {"issues": [
            {"issueId": "old", "title": ["CPU high"], "priority": "MEDIUM", "state": "CLOSED",
             "createdAt": NOW - 3 * 3_600_000, "closedAt": NOW - 3 * 3_600_000 + 25 * 60_000, "acknowledgedBy": "oncall", "totalIncidents": 2},
            {"issueId": "new", "title": ["Errors"], "priority": "CRITICAL", "state": "ACTIVATED",
             "createdAt": NOW - 85 * 60_000, "entityNames": ["payments-api"], "totalIncidents": 1}
        ]}}}}});
        let output = respond(&planned, data);
        assert_eq!(output.structured["issues"][0]["issueId"], "new");
        assert_eq!(output.structured["issues"][0]["open"], true);
        assert_eq!(output.structured["issues"][1]["duration_minutes"], 25.0);
        assert_eq!(output.structured["by_state"]["ACTIVATED"], 1);
        assert!(
            output.text.contains("by state: ACTIVATED 1, CLOSED 1; by priority: CRITICAL 1, MEDIUM 1"),
            "{}",
            output.text
        );
        assert!(output.text.contains("open for 85 min; not acknowledged"), "{}", output.text);
        assert!(
            output.text.contains("lasted 25 min; acknowledged by oncall; 2 incident(s)"),
            "{}",
            output.text
        );
    }

    #[test]
    fn durations_read_naturally() {
        let cases = [(45.0, "45 min"), (150.0, "2.5 h"), (4_320.0, "3 days")];
        for (minutes, expected) in cases {
            assert_eq!(minutes_text(minutes), expected);
        }
    }
}
