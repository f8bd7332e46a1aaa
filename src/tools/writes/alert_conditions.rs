//! `create_nrql_alert_condition` and `delete_alert_condition`.
//!
//! A condition's NRQL is parsed here and held to what New Relic's streaming alerts accept
//! (one numeric value, no subqueries, no time window of its own) before anything is sent, so
//! a model learns what to change from the dry run rather than from a failed mutation.

use std::sync::Arc;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, ReadBack, Renderer, Tool, ToolDescriptor, ToolError, ToolErrorKind,
    ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::Policy;
use newrelic_mcp_nrql::ast::{Query, SelectItem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::account::resolve_account;
use super::super::builtin::{BuiltinTool, Spec};
use super::super::render::{at, cell};
use super::{
    NumericId, Preview, checked_url, field_lines, id_text, mutation_payload, optional_text, required_text,
    with_read_back, write_plan, written,
};

const CATEGORY: &str = "alerting";
const MAX_NAME_CHARS: usize = 128;
const MAX_DESCRIPTION_CHARS: usize = 4_000;
const MAX_URL_CHARS: usize = 2_048;
const MAX_NRQL_CHARS: usize = 4_096;
/// `violationTimeLimitSeconds` bounds and default (3 days), as New Relic documents them.
const VIOLATION_LIMIT_SECONDS: (u32, u32) = (300, 2_592_000);
const DEFAULT_VIOLATION_LIMIT_SECONDS: u32 = 259_200;
/// `aggregationWindow` bounds and default.
const AGGREGATION_WINDOW_SECONDS: (u32, u32) = (30, 21_600);
const DEFAULT_AGGREGATION_WINDOW_SECONDS: u32 = 60;
/// `thresholdDuration` bounds and default.
const THRESHOLD_DURATION_SECONDS: (u32, u32) = (60, 86_400);
const DEFAULT_THRESHOLD_DURATION_SECONDS: u32 = 300;
/// `aggregationDelay` maxima per method, and its default.
const MAX_EVENT_FLOW_DELAY_SECONDS: u32 = 1_200;
const MAX_CADENCE_DELAY_SECONDS: u32 = 3_600;
const DEFAULT_AGGREGATION_DELAY_SECONDS: u32 = 120;
/// `aggregationTimer` bounds and default (EVENT_TIMER only).
const AGGREGATION_TIMER_SECONDS: (u32, u32) = (5, 1_200);
const DEFAULT_AGGREGATION_TIMER_SECONDS: u32 = 60;

pub(crate) const CREATE_CONDITION: &str = r#"mutation CreateNrqlAlertCondition($accountId: Int!, $policyId: ID!, $condition: AlertsNrqlConditionStaticInput!) {
  alertsNrqlConditionStaticCreate(accountId: $accountId, policyId: $policyId, condition: $condition) {
    id name enabled policyId
    nrql { query }
    terms { priority operator threshold thresholdDuration thresholdOccurrences }
  }
}"#;

pub(crate) const DELETE_CONDITION: &str = r#"mutation DeleteAlertCondition($accountId: Int!, $id: ID!) {
  alertsConditionDelete(accountId: $accountId, id: $id) { id }
}"#;

pub(crate) const CONDITION_BY_ID: &str = r#"query NrqlConditionById($accountId: Int!, $id: ID!) {
  actor {
    account(id: $accountId) {
      alerts {
        nrqlCondition(id: $id) {
          id name enabled policyId type description runbookUrl violationTimeLimitSeconds
          nrql { query }
          signal { aggregationWindow aggregationMethod aggregationDelay aggregationTimer }
          terms { priority operator threshold thresholdDuration thresholdOccurrences }
        }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[
    ("CreateNrqlAlertCondition", CREATE_CONDITION),
    ("DeleteAlertCondition", DELETE_CONDITION),
    ("NrqlConditionById", CONDITION_BY_ID),
];

const CONDITION_PATH: &[&str] = &["actor", "account", "alerts", "nrqlCondition"];

pub(super) fn create_tool(policy: Arc<Policy>) -> Arc<dyn Tool> {
    BuiltinTool::with_state(
        Spec {
            name: "create_nrql_alert_condition",
            title: "Create an NRQL alert condition",
            description: "Create a static-threshold NRQL alert condition in an alert policy: the query \
                yields one number per aggregation window, compared with a critical (and optional warning) \
                threshold. The NRQL must return one value and may not use SINCE, UNTIL, COMPARE WITH, \
                TIMESERIES or subqueries. Two steps: the first call returns a dry run and a \
                confirmation_token; call again with the same arguments and that token to create it.",
            category: CATEGORY,
            hints: ToolHints::WRITE,
            cache_ttl: None,
        },
        policy,
        plan_create,
    )
}

pub(super) fn delete_tool() -> Arc<dyn Tool> {
    BuiltinTool::shared(
        Spec {
            name: "delete_alert_condition",
            title: "Delete an alert condition",
            description: "Delete an alert condition (of any kind) by id. Two steps: the first call returns \
                a dry run and a confirmation_token; call again with the same arguments and that token to \
                delete. list_alert_conditions gives condition ids.",
            category: CATEGORY,
            hints: ToolHints::DESTRUCTIVE,
            cache_ttl: None,
        },
        plan_delete,
    )
}

/// How the query's value is compared with the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Above,
    AboveOrEquals,
    Below,
    BelowOrEquals,
    Equals,
    NotEquals,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Self::Above => "ABOVE",
            Self::AboveOrEquals => "ABOVE_OR_EQUALS",
            Self::Below => "BELOW",
            Self::BelowOrEquals => "BELOW_OR_EQUALS",
            Self::Equals => "EQUALS",
            Self::NotEquals => "NOT_EQUALS",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::AboveOrEquals => ">=",
            Self::Below => "<",
            Self::BelowOrEquals => "<=",
            Self::Equals => "=",
            Self::NotEquals => "!=",
        }
    }
}

/// Whether every window in the duration must breach, or one is enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ThresholdOccurrences {
    All,
    AtLeastOnce,
}

impl ThresholdOccurrences {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::AtLeastOnce => "AT_LEAST_ONCE",
        }
    }
}

/// When an aggregation window counts as complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AggregationMethod {
    /// Windows close as data with later timestamps arrives (steady data; the default).
    EventFlow,
    /// Windows close a set time after the last data point arrives (sparse data).
    EventTimer,
    /// Windows close by the wall clock (data arriving out of order).
    Cadence,
}

impl AggregationMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::EventFlow => "EVENT_FLOW",
            Self::EventTimer => "EVENT_TIMER",
            Self::Cadence => "CADENCE",
        }
    }
}

/// Arguments of `create_nrql_alert_condition`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNrqlAlertConditionArgs {
    /// Account of the policy; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Id of the policy the condition joins (list_alert_policies lists them).
    pub policy_id: NumericId,
    /// Condition name, e.g. `checkout error rate > 5%` (at most 128 characters).
    pub name: String,
    /// NRQL returning one number, e.g.
    /// `SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = 'checkout'`.
    pub nrql: String,
    /// The value that opens a critical incident when breached.
    pub critical_threshold: f64,
    /// The value that opens a warning; optional.
    pub warning_threshold: Option<f64>,
    /// How the value is compared with the thresholds (default `ABOVE`).
    pub operator: Option<Operator>,
    /// How long the threshold must be breached, in seconds: 60 to 86,400 and a multiple of the
    /// aggregation window (default 300, rounded up to a whole number of windows).
    pub threshold_duration_seconds: Option<u32>,
    /// `ALL` windows in the duration must breach (default) or `AT_LEAST_ONCE`.
    pub threshold_occurrences: Option<ThresholdOccurrences>,
    /// Length of each evaluated window, in seconds: 30 to 21,600 (default 60).
    pub aggregation_window_seconds: Option<u32>,
    /// `EVENT_FLOW` (default), `EVENT_TIMER` or `CADENCE`.
    pub aggregation_method: Option<AggregationMethod>,
    /// With `EVENT_FLOW` (0 to 1,200) or `CADENCE` (0 to 3,600): seconds to wait for late data
    /// (default 120).
    pub aggregation_delay_seconds: Option<u32>,
    /// With `EVENT_TIMER` only: seconds after the last data point before a window closes,
    /// 5 to 1,200 (default 60).
    pub aggregation_timer_seconds: Option<u32>,
    /// Seconds after which an open incident closes by itself: 300 to 2,592,000 (default
    /// 259,200, three days).
    pub violation_time_limit_seconds: Option<u32>,
    /// Text included in incidents and notifications.
    pub description: Option<String>,
    /// Link to the procedure responders should follow.
    pub runbook_url: Option<String>,
    /// Whether the condition starts evaluating at once (default true).
    pub enabled: Option<bool>,
}

/// Arguments of `delete_alert_condition`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAlertConditionArgs {
    /// Account the condition belongs to; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Id of the condition to delete (list_alert_conditions lists them).
    pub condition_id: NumericId,
}

fn invalid_argument(message: impl Into<String>) -> PlanError {
    PlanError::InvalidArguments(message.into())
}

fn within(argument: &str, value: u32, (low, high): (u32, u32)) -> Result<u32, PlanError> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(invalid_argument(format!("{argument} is {value}; it must be from {low} to {high}")))
    }
}

/// The condition's query, parsed and held to what alert conditions accept; returns the
/// warnings worth showing in the dry run.
fn check_condition_nrql(nrql: &str, policy: &Policy, now_epoch_ms: i64) -> Result<Vec<String>, PlanError> {
    let query = newrelic_mcp_nrql::parse(nrql)
        .map_err(|error| invalid_argument(format!("nrql does not parse: {error}")))?;
    let Query::Select(select) = &query else {
        return Err(invalid_argument(
            "nrql must be a SELECT query returning one number, not SHOW EVENT TYPES",
        ));
    };
    if !select.direct_subqueries().is_empty() {
        return Err(invalid_argument(
            "nrql uses a subquery (nested FROM, JOIN, or SELECT inside an expression); alert conditions \
             do not support subqueries: select from one event type and filter with WHERE",
        ));
    }
    let refuse_clause = |clause: &str, advice: &str| {
        Err(invalid_argument(format!("nrql uses {clause}, which alert conditions do not accept: {advice}")))
    };
    if select.since.is_some() || select.until.is_some() {
        return refuse_clause(
            "SINCE/UNTIL",
            "drop it; a condition evaluates each aggregation window as data arrives",
        );
    }
    if select.compare_with.is_some() {
        return refuse_clause("COMPARE WITH", "drop it; compare against a fixed threshold instead");
    }
    if select.timeseries.is_some() {
        return refuse_clause("TIMESERIES", "drop it and set aggregation_window_seconds instead");
    }
    match select.select.as_slice() {
        [SelectItem::Expr { .. }] => {}
        [SelectItem::Wildcard] => {
            return Err(invalid_argument(
                "nrql selects *; a condition needs one number, e.g. SELECT count(*) FROM Transaction",
            ));
        }
        items => {
            return Err(invalid_argument(format!(
                "nrql selects {} values; a condition compares exactly one number with its thresholds",
                items.len()
            )));
        }
    }
    policy
        .check(&query, now_epoch_ms)
        .map_err(|violation| PlanError::Tool(ToolError::new(ToolErrorKind::Policy, violation.to_string())))?;
    let mut warnings = Vec::new();
    if !select.is_aggregate() {
        warnings.push(
            "nrql selects no aggregate function (count, average, percentage, …): each window's value \
             is then a single event's attribute, which rarely makes a steady signal"
                .to_string(),
        );
    }
    if select.where_clause.is_none() {
        warnings.push(format!(
            "nrql has no WHERE clause: it evaluates every {} event in the account",
            select.event_types().join(", ")
        ));
    }
    if select.limit.is_some() || !select.order_by.is_empty() {
        warnings.push("LIMIT and ORDER BY have no effect in an alert condition".to_string());
    }
    Ok(warnings)
}

/// A warning threshold that would fire after the critical one instead of before it.
fn warning_order(operator: Operator, critical: f64, warning: f64) -> Option<String> {
    let backwards = match operator {
        Operator::Above | Operator::AboveOrEquals => warning > critical,
        Operator::Below | Operator::BelowOrEquals => warning < critical,
        Operator::Equals | Operator::NotEquals => false,
    };
    backwards.then(|| {
        format!(
            "with operator {} the warning threshold ({warning}) is usually on the safe side of the \
             critical one ({critical}), so that it fires first",
            operator.as_str()
        )
    })
}

fn plan_create(
    policy: &Arc<Policy>,
    args: CreateNrqlAlertConditionArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let policy_id = args.policy_id.digits("policy_id", "list_alert_policies")?;
    let name = required_text("name", &args.name, MAX_NAME_CHARS)?;
    let nrql = required_text("nrql", &args.nrql, MAX_NRQL_CHARS)?;
    let mut warnings = check_condition_nrql(&nrql, policy, context.now_epoch_ms)?;

    let operator = args.operator.unwrap_or(Operator::Above);
    let occurrences = args.threshold_occurrences.unwrap_or(ThresholdOccurrences::All);
    let window = within(
        "aggregation_window_seconds",
        args.aggregation_window_seconds.unwrap_or(DEFAULT_AGGREGATION_WINDOW_SECONDS),
        AGGREGATION_WINDOW_SECONDS,
    )?;
    // Without a duration, the default is rounded up to a whole number of windows.
    let default_duration = DEFAULT_THRESHOLD_DURATION_SECONDS.div_ceil(window) * window;
    let duration = within(
        "threshold_duration_seconds",
        args.threshold_duration_seconds.unwrap_or(default_duration),
        THRESHOLD_DURATION_SECONDS,
    )?;
    if duration % window != 0 {
        return Err(invalid_argument(format!(
            "threshold_duration_seconds ({duration}) must be a multiple of aggregation_window_seconds ({window})"
        )));
    }
    let violation_limit = within(
        "violation_time_limit_seconds",
        args.violation_time_limit_seconds.unwrap_or(DEFAULT_VIOLATION_LIMIT_SECONDS),
        VIOLATION_LIMIT_SECONDS,
    )?;
    let method = args.aggregation_method.unwrap_or(AggregationMethod::EventFlow);
    let mut signal = Map::new();
    signal.insert("aggregationWindow".into(), json!(window));
    signal.insert("aggregationMethod".into(), json!(method.as_str()));
    match method {
        AggregationMethod::EventTimer => {
            if args.aggregation_delay_seconds.is_some() {
                return Err(invalid_argument(
                    "aggregation_delay_seconds applies to EVENT_FLOW and CADENCE; with EVENT_TIMER set \
                     aggregation_timer_seconds",
                ));
            }
            let timer = within(
                "aggregation_timer_seconds",
                args.aggregation_timer_seconds.unwrap_or(DEFAULT_AGGREGATION_TIMER_SECONDS),
                AGGREGATION_TIMER_SECONDS,
            )?;
            signal.insert("aggregationTimer".into(), json!(timer));
        }
        AggregationMethod::EventFlow | AggregationMethod::Cadence => {
            if args.aggregation_timer_seconds.is_some() {
                return Err(invalid_argument(format!(
                    "aggregation_timer_seconds applies to EVENT_TIMER only; with {} set aggregation_delay_seconds",
                    method.as_str()
                )));
            }
            let max = if method == AggregationMethod::Cadence {
                MAX_CADENCE_DELAY_SECONDS
            } else {
                MAX_EVENT_FLOW_DELAY_SECONDS
            };
            let delay = within(
                "aggregation_delay_seconds",
                args.aggregation_delay_seconds.unwrap_or(DEFAULT_AGGREGATION_DELAY_SECONDS),
                (0, max),
            )?;
            signal.insert("aggregationDelay".into(), json!(delay));
        }
    }

    let term = |priority: &str, threshold: f64| {
        json!({
            "priority": priority,
            "operator": operator.as_str(),
            "threshold": threshold,
            "thresholdDuration": duration,
            "thresholdOccurrences": occurrences.as_str(),
        })
    };
    let mut terms = vec![term("CRITICAL", args.critical_threshold)];
    if let Some(warning) = args.warning_threshold {
        terms.push(term("WARNING", warning));
        warnings.extend(warning_order(operator, args.critical_threshold, warning));
    }
    let enabled = args.enabled.unwrap_or(true);
    let mut condition = Map::new();
    condition.insert("name".into(), json!(name));
    condition.insert("enabled".into(), json!(enabled));
    if let Some(description) =
        optional_text("description", args.description.as_deref(), MAX_DESCRIPTION_CHARS)?
    {
        condition.insert("description".into(), json!(description));
    }
    condition.insert("nrql".into(), json!({ "query": nrql }));
    condition.insert("signal".into(), Value::Object(signal));
    condition.insert("terms".into(), Value::Array(terms));
    condition.insert("violationTimeLimitSeconds".into(), json!(violation_limit));
    if let Some(url) = args.runbook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        condition.insert("runbookUrl".into(), json!(checked_url("runbook_url", url, MAX_URL_CHARS)?));
    }
    if !enabled {
        warnings.push("the condition is created disabled: it will not evaluate until enabled".to_string());
    }

    let symbol = operator.symbol();
    let mut summary = format!(
        "Would create NRQL alert condition '{name}' in policy {policy_id} of account {account}: \
         critical when the value {symbol} {} for {duration} s ({}), evaluated in {window} s windows",
        args.critical_threshold,
        occurrences.as_str()
    );
    if let Some(warning) = args.warning_threshold {
        summary.push_str(&format!("; warning when {symbol} {warning}"));
    }
    summary.push('.');
    let request = UpstreamRequest {
        operation: "CreateNrqlAlertCondition",
        document: CREATE_CONDITION.into(),
        variables: json!({ "accountId": account, "policyId": policy_id, "condition": condition }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview { action: "create NRQL alert condition", account, summary, request, warnings };
    let read_back: ReadBack = Arc::new(move |output: &ToolOutput| {
        let id = id_text(&output.structured["result"]["id"]);
        if id.is_empty() {
            return None;
        }
        let request = condition_by_id(account, &id);
        let written = output.clone();
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            let condition = Some(at(&response.data, CONDITION_PATH).clone()).filter(|c| !c.is_null());
            let text = condition.as_ref().map(condition_text).unwrap_or_default();
            Ok(with_read_back(
                &written,
                condition,
                text,
                &format!(
                    "condition {id} is not found yet; list_alert_conditions will show it once New Relic has indexed it"
                ),
            ))
        });
        Some((request, render))
    });
    Ok(write_plan(
        descriptor,
        preview,
        context.default_timeout,
        move |response| render_created(account, response),
        Some(read_back),
    ))
}

fn condition_by_id(account: i64, id: &str) -> UpstreamRequest {
    UpstreamRequest {
        operation: "NrqlConditionById",
        document: CONDITION_BY_ID.into(),
        variables: json!({ "accountId": account, "id": id }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    }
}

fn render_created(account: i64, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let condition =
        mutation_payload(&response, "alertsNrqlConditionStaticCreate", "create the NRQL alert condition")?;
    let text = format!(
        "Created NRQL alert condition '{}' (id {}) in policy {} of account {account}.\n",
        condition["name"].as_str().unwrap_or_default(),
        id_text(&condition["id"]),
        id_text(&condition["policyId"]),
    );
    Ok(written("create NRQL alert condition", account, condition, text))
}

fn condition_text(condition: &Value) -> String {
    let mut text = field_lines(
        condition,
        &[
            ("id", &["id"]),
            ("name", &["name"]),
            ("policy", &["policyId"]),
            ("enabled", &["enabled"]),
            ("nrql", &["nrql", "query"]),
            ("aggregation window (s)", &["signal", "aggregationWindow"]),
            ("aggregation method", &["signal", "aggregationMethod"]),
            ("aggregation delay (s)", &["signal", "aggregationDelay"]),
            ("aggregation timer (s)", &["signal", "aggregationTimer"]),
            ("incidents close after (s)", &["violationTimeLimitSeconds"]),
            ("runbook", &["runbookUrl"]),
        ],
    );
    for term in condition["terms"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "  {} when {} {} for {} s ({})\n",
            term["priority"].as_str().unwrap_or_default(),
            term["operator"].as_str().unwrap_or_default(),
            cell(&term["threshold"]),
            cell(&term["thresholdDuration"]),
            term["thresholdOccurrences"].as_str().unwrap_or_default(),
        ));
    }
    text
}

fn plan_delete(
    args: DeleteAlertConditionArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let id = args.condition_id.digits("condition_id", "list_alert_conditions")?;
    let request = UpstreamRequest {
        operation: "DeleteAlertCondition",
        document: DELETE_CONDITION.into(),
        variables: json!({ "accountId": account, "id": id }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview {
        action: "delete alert condition",
        account,
        summary: format!("Would delete alert condition {id} in account {account}."),
        request,
        warnings: vec!["deletion cannot be undone: the condition stops evaluating at once".to_string()],
    };
    let deleted_id = id.clone();
    let read_back: ReadBack = Arc::new(move |output: &ToolOutput| {
        let written = output.clone();
        let id = deleted_id.clone();
        let request = condition_by_id(account, &id);
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            let still = at(&response.data, CONDITION_PATH);
            Ok(if still.is_null() {
                with_read_back(&written, None, String::new(), &format!("condition {id} no longer exists"))
            } else {
                with_read_back(
                    &written,
                    Some(still.clone()),
                    format!(
                        "{}  note: New Relic still lists the condition; a deletion can take a moment to show\n",
                        condition_text(still)
                    ),
                    "",
                )
            })
        });
        Some((request, render))
    });
    Ok(write_plan(
        descriptor,
        preview,
        context.default_timeout,
        move |response| {
            let payload = mutation_payload(
                &response,
                "alertsConditionDelete",
                &format!("delete alert condition {id}"),
            )?;
            let text = format!("Deleted alert condition {} in account {account}.\n", id_text(&payload["id"]));
            Ok(written("delete alert condition", account, payload, text))
        },
        Some(read_back),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    const NRQL: &str =
        "SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = 'checkout'";

    fn arguments(extra: Value) -> Value {
        let mut base = json!({"policy_id": "987654", "name": "checkout error rate > 5%", "nrql": NRQL, "critical_threshold": 5});
        if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
            base.extend(extra);
        }
        base
    }

    #[test]
    fn the_variables_follow_new_relics_input_with_documented_defaults() {
        let write = write_of(
            "create_nrql_alert_condition",
            arguments(json!({"runbook_url": "https://runbooks.example/checkout", "warning_threshold": 3})),
        );
        assert_eq!(
            write.request.variables,
            json!({
                "accountId": 1,
                "policyId": "987654",
                "condition": {
                    "name": "checkout error rate > 5%",
                    "enabled": true,
                    "nrql": {"query": NRQL},
                    "signal": {"aggregationWindow": 60, "aggregationMethod": "EVENT_FLOW", "aggregationDelay": 120},
                    "terms": [
                        {"priority": "CRITICAL", "operator": "ABOVE", "threshold": 5.0, "thresholdDuration": 300, "thresholdOccurrences": "ALL"},
                        {"priority": "WARNING", "operator": "ABOVE", "threshold": 3.0, "thresholdDuration": 300, "thresholdOccurrences": "ALL"}
                    ],
                    "violationTimeLimitSeconds": 259200,
                    "runbookUrl": "https://runbooks.example/checkout"
                }
            })
        );
        assert!(
            write.preview.text.contains("critical when the value > 5 for 300 s (ALL)"),
            "{}",
            write.preview.text
        );
        assert!(write.preview.text.contains("warning when > 3"), "{}", write.preview.text);
        assert_eq!(write.preview.structured["warnings"], json!([]));
    }

    #[test]
    fn the_default_duration_is_a_whole_number_of_windows() {
        for (window, expected) in [(30, 300), (60, 300), (120, 360), (600, 600), (21_600, 21_600)] {
            let write = write_of(
                "create_nrql_alert_condition",
                arguments(json!({"aggregation_window_seconds": window})),
            );
            assert_eq!(
                write.request.variables["condition"]["terms"][0]["thresholdDuration"], expected,
                "window {window}"
            );
        }
    }

    #[test]
    fn an_event_timer_signal_carries_a_timer_not_a_delay() {
        let write = write_of(
            "create_nrql_alert_condition",
            arguments(json!({"aggregation_method": "EVENT_TIMER", "aggregation_timer_seconds": 30})),
        );
        assert_eq!(
            write.request.variables["condition"]["signal"],
            json!({"aggregationWindow": 60, "aggregationMethod": "EVENT_TIMER", "aggregationTimer": 30})
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_what_to_change() {
        let cases = [
            (json!({"nrql": "SELECT count(* FROM Transaction"}), "does not parse"),
            (
                json!({"nrql": "SELECT count(*) FROM Transaction WHERE appName IN (SELECT appName FROM Transaction)"}),
                "subquer",
            ),
            (json!({"nrql": "SELECT count(*) FROM Transaction SINCE 1 hour ago"}), "SINCE/UNTIL"),
            (json!({"nrql": "SELECT count(*) FROM Transaction TIMESERIES"}), "aggregation_window_seconds"),
            (json!({"nrql": "SELECT count(*) FROM Transaction COMPARE WITH 1 week ago"}), "COMPARE WITH"),
            (json!({"nrql": "SELECT count(*), average(duration) FROM Transaction"}), "exactly one number"),
            (json!({"nrql": "SELECT * FROM Transaction"}), "selects *"),
            (json!({"nrql": "SHOW EVENT TYPES"}), "SELECT query"),
            (json!({"violation_time_limit_seconds": 299}), "from 300 to 2592000"),
            (json!({"violation_time_limit_seconds": 2_592_001}), "from 300 to 2592000"),
            (json!({"aggregation_window_seconds": 20}), "from 30 to 21600"),
            (json!({"threshold_duration_seconds": 90}), "multiple of aggregation_window_seconds"),
            (json!({"threshold_duration_seconds": 86_460}), "from 60 to 86400"),
            (json!({"aggregation_delay_seconds": 1_201}), "from 0 to 1200"),
            (json!({"aggregation_method": "CADENCE", "aggregation_delay_seconds": 3_601}), "from 0 to 3600"),
            (
                json!({"aggregation_method": "EVENT_TIMER", "aggregation_delay_seconds": 60}),
                "aggregation_timer_seconds",
            ),
            (json!({"aggregation_timer_seconds": 60}), "EVENT_TIMER only"),
            (json!({"operator": "GREATER"}), "unknown variant"),
            (json!({"runbook_url": "runbooks/checkout"}), "http:// or https://"),
            (json!({"policy_id": "policy-1"}), "numeric id"),
            (json!({"name": "  "}), "name must not be empty"),
        ];
        for (extra, expected) in cases {
            let message = invalid("create_nrql_alert_condition", arguments(extra.clone()));
            assert!(message.contains(expected), "{extra}: {message}");
        }
    }

    #[test]
    fn questionable_choices_are_warned_about_in_the_preview() {
        let write = write_of(
            "create_nrql_alert_condition",
            arguments(
                json!({"nrql": "SELECT count(*) FROM Transaction LIMIT 10", "warning_threshold": 9, "enabled": false}),
            ),
        );
        let warnings = write.preview.structured["warnings"].as_array().unwrap().clone();
        let joined = warnings.iter().map(|w| w.as_str().unwrap()).collect::<Vec<_>>().join(" | ");
        for expected in ["no WHERE clause", "LIMIT and ORDER BY", "fires first", "created disabled"] {
            assert!(joined.contains(expected), "{expected} missing from {joined}");
        }
        assert!(write.preview.text.contains("warning: nrql has no WHERE clause"), "{}", write.preview.text);
    }

    #[test]
    fn the_nrql_policy_applies_to_conditions() {
        let policy = Policy { allowed_event_types: Some(vec!["Transaction".into()]), ..Policy::default() };
        assert!(check_condition_nrql("SELECT count(*) FROM Transaction", &policy, NOW_MS).is_ok());
        let refused = check_condition_nrql("SELECT count(*) FROM Log", &policy, NOW_MS).unwrap_err();
        assert!(
            matches!(refused, PlanError::Tool(ToolError { kind: ToolErrorKind::Policy, .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn a_created_condition_is_read_back_by_id() {
        let write = write_of("create_nrql_alert_condition", arguments(json!({})));
        let written = render(
            &write,
            json!({"alertsNrqlConditionStaticCreate": {"id": "77", "name": "checkout error rate > 5%", "enabled": true, "policyId": "987654", "nrql": {"query": NRQL}, "terms": []}}),
        )
        .unwrap();
        assert!(written.text.contains("(id 77) in policy 987654"), "{}", written.text);
        let data = json!({"actor": {"account": {"alerts": {"nrqlCondition": {
            "id": "77", "name": "checkout error rate > 5%", "enabled": true, "policyId": "987654", "type": "STATIC",
            "nrql": {"query": NRQL}, "signal": {"aggregationWindow": 60, "aggregationMethod": "EVENT_FLOW", "aggregationDelay": 120},
            "violationTimeLimitSeconds": 259200,
            "terms": [{"priority": "CRITICAL", "operator": "ABOVE", "threshold": 5.0, "thresholdDuration": 300, "thresholdOccurrences": "ALL"}]
        }}}}});
        let (request, answer) = read_back(&write, &written, data);
        assert_eq!(request.variables, json!({"accountId": 1, "id": "77"}));
        assert_eq!(answer.structured["readBack"]["object"]["type"], "STATIC");
        assert!(answer.text.contains("CRITICAL when ABOVE 5 for 300 s (ALL)"), "{}", answer.text);
    }

    #[test]
    fn a_deleted_condition_reads_back_as_gone() {
        let write = write_of("delete_alert_condition", json!({"condition_id": "77", "account_id": 3}));
        assert_eq!(write.request.variables, json!({"accountId": 3, "id": "77"}));
        let written = render(&write, json!({"alertsConditionDelete": {"id": "77"}})).unwrap();
        let (_, answer) =
            read_back(&write, &written, json!({"actor": {"account": {"alerts": {"nrqlCondition": null}}}}));
        assert!(answer.text.contains("condition 77 no longer exists"), "{}", answer.text);
    }
}
