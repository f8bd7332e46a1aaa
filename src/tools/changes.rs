//! Change tracking: the deployments of an entity, and what a deployment did to the
//! entity's golden signals (throughput, latency, errors) before versus after it.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    NrqlAccounts, Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind,
    ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::account::resolve_account;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::data_access::{NRQL_QUERY, NrqlSettings};
use super::embedded_nrql::{NrqlTemplate, alias_rows, missing_result};
use super::entity_ref::{checked_guid, entity_account};
use super::incidents::issue_window;
use super::nrql_tool::args;
use super::nrql_tool::values::{fixed, fixed_or_na, number, number_at, share, text_at, time_ms};
use super::render::{Capped, at, cell, list_at, response_notes, warnings};
use super::time_buckets::stretch;
use super::time_period::parse_time_period;

const CATEGORY: &str = "incident-response";

pub(crate) const CHANGE_EVENTS: &str = r#"query ChangeEvents($guid: EntityGuid!, $filter: ChangeTrackingSearchFilter) {
  actor {
    entity(guid: $guid) {
      guid name type accountId
      deploymentSearch(filter: $filter) {
        results { deploymentId entityGuid version commit user timestamp description deploymentType changelog deepLink groupId }
      }
    }
  }
}"#;

pub(crate) const DEPLOYMENT_IMPACT: &str = r#"query DeploymentImpact($accountId: Int!, $deployments: Nrql!, $signals: Nrql!) {
  actor {
    account(id: $accountId) {
      deployments: nrql(query: $deployments, timeout: 30) { results }
      signals: nrql(query: $signals, timeout: 30) { results }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("ChangeEvents", CHANGE_EVENTS), ("DeploymentImpact", DEPLOYMENT_IMPACT)];

const DEFAULT_CHANGE_PERIOD: &str = "last 7 days";
const DEFAULT_WINDOW_MINUTES: u32 = 30;
const MAX_WINDOW_MINUTES: u32 = 180;
/// Without a deployment time, the latest deployment is looked for this far back; the
/// signals then come per minute, and NRQL allows at most 366 intervals.
const LOOKBACK_MINUTES: u32 = 360;
/// Fewer requests than this on either side and no verdict is given.
const MIN_REQUESTS: f64 = 10.0;
/// The deadline of a request whose NRQL may run 30 s.
const NRQL_REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
const MINUTE_MS: i64 = 60_000;

pub struct ChangesPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl ChangesPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = settings.policy;
        Self {
            tools: vec![
                BuiltinTool::with_state(
                    Spec {
                        name: "list_change_events",
                        title: "List change events",
                        description: "List the deployments (change events) of an entity, newest first: when, \
                            version, commit, who, type (ROLLING, CANARY, …), description and changelog, over a \
                            period (default the last 7 days). By entity GUID (change tracking) or APM app name.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    policy.clone(),
                    plan_list_change_events,
                ),
                BuiltinTool::with_state(
                    Spec {
                        name: "analyze_deployment_impact",
                        title: "Analyze deployment impact",
                        description: "Compare an application's golden signals (throughput, average and p95 \
                            latency, error rate) in equal windows before and after a deployment (default 30 \
                            minutes each side), report the deltas and a verdict: regression, improvement, no \
                            significant change, or not enough data. Without deployment_timestamp, the latest \
                            deployment of the last 6 hours is analyzed.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    policy,
                    plan_analyze_deployment_impact,
                ),
            ],
        }
    }
}

impl Default for ChangesPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(
    ChangesPlugin,
    "change-tracking",
    "Deployments and their impact on golden signals"
);

/// Which application: by entity GUID or by APM name.
#[derive(Debug, Clone, Serialize)]
enum Subject {
    Guid(String),
    App(String),
}

impl Subject {
    fn from_args(
        app_name: Option<&str>,
        entity_guid: Option<&str>,
        context: &PlanContext,
    ) -> Result<Self, PlanError> {
        match args::one_of(("app_name", app_name), ("entity_guid", entity_guid))? {
            Ok(app) => Ok(Subject::App(args::name("app_name", app)?)),
            Err(guid) => Ok(Subject::Guid(checked_guid("entity_guid", guid, context)?)),
        }
    }

    fn account(&self, requested: Option<i64>, context: &PlanContext) -> Result<i64, ToolError> {
        match self {
            Subject::Guid(guid) => entity_account(requested, guid, context),
            Subject::App(_) => resolve_account(requested, context),
        }
    }

    /// The NRQL condition naming the subject, with its `{{subject}}` placeholder.
    fn condition(&self) -> &'static str {
        match self {
            Subject::Guid(_) => "entityGuid = {{subject}}",
            Subject::App(_) => "appName = {{subject}}",
        }
    }

    fn value(&self) -> Value {
        match self {
            Subject::Guid(guid) | Subject::App(guid) => json!(guid),
        }
    }

    fn label(&self) -> String {
        match self {
            Subject::Guid(guid) => format!("entity {guid}"),
            Subject::App(app) => app.clone(),
        }
    }
}

fn subject_param() -> ParamSpec {
    ParamSpec::new("subject", ParamType::String)
}

/// Arguments of `list_change_events`: exactly one of `entity_guid` and `app_name`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChangeEventsArgs {
    /// GUID of the entity. Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// APM application name, e.g. `payments-api`. Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// When: `last 24 hours`, `yesterday`, `2024-05-01 to 2024-05-03` (default `last 7 days`).
    pub time_period: Option<String>,
    /// Most deployments to return, 1 to 200 (default 20).
    pub limit: Option<u32>,
    /// Account of the application; read from the GUID when omitted.
    pub account_id: Option<i64>,
}

fn deployments_by_app_template() -> NrqlTemplate {
    NrqlTemplate::new(
        "deployments",
        "SELECT timestamp, deploymentId, version, commit, user, description, deploymentType, changelog, \
         appName, entityGuid FROM Deployment WHERE appName = {{subject}} SINCE {{start}} UNTIL {{end}} LIMIT {{limit}}",
        vec![
            subject_param(),
            ParamSpec::new("start", ParamType::Int),
            ParamSpec::new("end", ParamType::Int),
            ParamSpec::new("limit", ParamType::Int),
        ],
    )
}

fn plan_list_change_events(
    policy: &Arc<Policy>,
    args: ListChangeEventsArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let subject = Subject::from_args(args.app_name.as_deref(), args.entity_guid.as_deref(), context)?;
    let account = subject.account(args.account_id, context)?;
    let limit = args::limit("limit", args.limit, 20, 200)?;
    let (start, end) = issue_window(args.time_period.as_deref(), DEFAULT_CHANGE_PERIOD, context)?;
    let label = subject.label();
    let normalised = json!({ "subject": subject, "start": start, "end": end, "limit": limit });
    match &subject {
        Subject::Guid(guid) => {
            let request = UpstreamRequest {
                operation: "ChangeEvents",
                document: CHANGE_EVENTS.into(),
                variables: json!({
                    "guid": guid,
                    "filter": { "limit": limit, "timeWindow": { "startTime": start, "endTime": end } },
                }),
                kind: RequestKind::Read,
                pagination: None,
                async_poll: None,
                experimental_opt_in: None,
            };
            let guid = guid.clone();
            Ok(upstream_plan(
                descriptor,
                Some(account),
                &normalised,
                request,
                context.default_timeout,
                move |response| {
                    let entity = at(&response.data, &["actor", "entity"]);
                    if entity.is_null() {
                        return Err(ToolError::new(
                            ToolErrorKind::NotFound,
                            format!("no entity with guid {guid}: get_entity finds entities by name"),
                        ));
                    }
                    let name = at(entity, &["name"]).as_str().map_or_else(|| label.clone(), str::to_string);
                    let rows = list_at(entity, &["deploymentSearch", "results"]);
                    render_changes(&name, (start, end), rows, &response)
                },
            ))
        }
        Subject::App(_) => {
            let nrql = deployments_by_app_template().build(
                &[
                    ("subject", subject.value()),
                    ("start", json!(start)),
                    ("end", json!(end)),
                    ("limit", json!(limit)),
                ],
                policy,
                account,
                context.now_epoch_ms,
            )?;
            let request = UpstreamRequest {
                operation: "NrqlQuery",
                document: NRQL_QUERY.into(),
                variables: json!({ "accountId": account, "nrql": nrql, "timeout": 30 }),
                kind: RequestKind::Read,
                pagination: None,
                async_poll: None,
                experimental_opt_in: None,
            };
            let plan = upstream_plan(
                descriptor,
                Some(account),
                &normalised,
                request,
                NRQL_REQUEST_TIMEOUT,
                move |response| {
                    let rows = alias_rows(&response.data, &["actor", "account", "nrql"])
                        .ok_or_else(|| missing_result("deployment list", &response.partial_errors))?;
                    render_changes(&label, (start, end), rows, &response)
                },
            );
            Ok(Plan { nrql_accounts: NrqlAccounts::one(account), ..plan })
        }
    }
}

/// A deployment from change tracking or from a `Deployment` event, in one shape.
fn deployment_row(raw: &Value) -> Value {
    let timestamp = number_at(raw, "timestamp").map(|t| t as i64);
    json!({
        "time": timestamp.map(time_ms),
        "timestamp": timestamp,
        "version": at(raw, &["version"]),
        "commit": at(raw, &["commit"]),
        "user": at(raw, &["user"]),
        "deployment_type": at(raw, &["deploymentType"]),
        "description": at(raw, &["description"]),
        "changelog": at(raw, &["changelog"]),
        "deployment_id": at(raw, &["deploymentId"]),
        "entity_guid": raw.get("entityGuid").cloned().unwrap_or(Value::Null),
    })
}

fn render_changes(
    subject: &str,
    (start, end): (i64, i64),
    raw: Vec<Value>,
    response: &UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let mut rows: Vec<Value> = raw.iter().map(deployment_row).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(at(row, &["timestamp"]).as_i64().unwrap_or(0)));
    let capped = Capped::new(rows, 200);
    let mut text = format!(
        "{} of {subject} from {} to {} UTC\n",
        capped.heading("deployment", "deployments"),
        time_ms(start),
        time_ms(end)
    );
    for row in &capped.rows {
        let mut line = format!(
            "{} {} by {} ({}), commit {}",
            cell(at(row, &["time"])),
            cell(at(row, &["version"])),
            cell(at(row, &["user"])),
            cell(at(row, &["deployment_type"])),
            cell(at(row, &["commit"])),
        );
        if let Some(description) = at(row, &["description"]).as_str() {
            line.push_str(&format!(" — {}", cell(&json!(description))));
        }
        text.push_str(&line);
        text.push('\n');
    }
    match capped.rows.first().and_then(|row| at(row, &["timestamp"]).as_i64()) {
        Some(latest) => text.push_str(&format!(
            "Next: analyze_deployment_impact with deployment_timestamp {latest} compares the signals around the latest one.\n"
        )),
        None => text.push_str("No deployment recorded in this period: widen time_period.\n"),
    }
    text.push_str(&response_notes(response));
    let mut structured = capped.counts();
    structured.insert("subject".into(), json!(subject));
    structured.insert("start_epoch_ms".into(), json!(start));
    structured.insert("end_epoch_ms".into(), json!(end));
    structured.insert("deployments".into(), Value::Array(capped.rows));
    structured.insert("warnings".into(), warnings(response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

/// A point in time given as epoch milliseconds or seconds, or as text.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum TimeArg {
    Epoch(i64),
    Text(String),
}

/// Arguments of `analyze_deployment_impact`: exactly one of `entity_guid` and `app_name`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeDeploymentImpactArgs {
    /// GUID of the APM application. Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// APM application name, e.g. `payments-api`. Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// When the deployment happened: epoch milliseconds (list_change_events gives them) or
    /// `2024-05-01 10:15` (UTC). Default: the latest deployment of the last 6 hours.
    pub deployment_timestamp: Option<TimeArg>,
    /// Minutes compared on each side of the deployment, 5 to 180 (default 30).
    pub window_minutes: Option<u32>,
    /// Account of the application; read from the GUID when omitted.
    pub account_id: Option<i64>,
}

fn impact_deployments_template(subject: &Subject) -> NrqlTemplate {
    NrqlTemplate::new(
        "deployments",
        format!(
            "SELECT timestamp, deploymentId, version, commit, user, description, deploymentType FROM Deployment \
             WHERE {} SINCE {{{{start}}}} UNTIL {{{{end}}}} LIMIT 50",
            subject.condition()
        ),
        vec![subject_param(), ParamSpec::new("start", ParamType::Int), ParamSpec::new("end", ParamType::Int)],
    )
}

fn impact_cases_template(subject: &Subject) -> NrqlTemplate {
    NrqlTemplate::new(
        "before and after",
        format!(
            "SELECT count(*) AS 'requests', average(duration) AS 'avg_duration_s', \
             percentile(duration, 95) AS 'p95_duration_s', filter(count(*), WHERE error IS true) AS 'errors' \
             FROM Transaction WHERE {} SINCE {{{{start}}}} UNTIL {{{{end}}}} \
             FACET CASES(WHERE timestamp < {{{{at}}}} AS 'before', WHERE timestamp >= {{{{at}}}} AS 'after')",
            subject.condition()
        ),
        vec![
            subject_param(),
            ParamSpec::new("start", ParamType::Int),
            ParamSpec::new("end", ParamType::Int),
            ParamSpec::new("at", ParamType::Int),
        ],
    )
}

fn impact_series_template(subject: &Subject) -> NrqlTemplate {
    NrqlTemplate::new(
        "signals per minute",
        format!(
            "SELECT count(*) AS 'requests', sum(duration) AS 'duration_sum_s', \
             filter(count(*), WHERE error IS true) AS 'errors' FROM Transaction WHERE {} \
             SINCE {{{{start}}}} UNTIL {{{{end}}}} TIMESERIES 1 minute",
            subject.condition()
        ),
        vec![subject_param(), ParamSpec::new("start", ParamType::Int), ParamSpec::new("end", ParamType::Int)],
    )
}

/// The deployment instant an argument names.
fn deployment_instant(value: &TimeArg, now_ms: i64) -> Result<i64, PlanError> {
    let refuse = |reason: String| {
        PlanError::Tool(ToolError::new(
            ToolErrorKind::BadRequest,
            format!(
                "deployment_timestamp {reason}: pass epoch milliseconds as list_change_events reports them, or '2024-05-01 10:15' (UTC)"
            ),
        ))
    };
    let ms = match value {
        // Ten digits or fewer read as seconds, the way people paste them.
        TimeArg::Epoch(epoch) if epoch.abs() < 10_000_000_000 => epoch.saturating_mul(1000),
        TimeArg::Epoch(epoch) => *epoch,
        TimeArg::Text(text) => {
            parse_time_period(text, now_ms).map_err(|error| refuse(error.reason))?.start_ms
        }
    };
    if ms > now_ms {
        return Err(refuse(format!("{} is in the future", time_ms(ms))));
    }
    Ok(ms)
}

/// What the renderer needs to know about the plan.
#[derive(Debug, Clone, Copy, Serialize)]
enum ImpactMode {
    /// The instant was given; signals come as `before`/`after` facets.
    At(i64),
    /// The latest deployment is picked from the response; signals come per minute.
    Latest,
}

fn plan_analyze_deployment_impact(
    policy: &Arc<Policy>,
    args: AnalyzeDeploymentImpactArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let subject = Subject::from_args(args.app_name.as_deref(), args.entity_guid.as_deref(), context)?;
    let account = subject.account(args.account_id, context)?;
    let window = args.window_minutes.unwrap_or(DEFAULT_WINDOW_MINUTES);
    if !(5..=MAX_WINDOW_MINUTES).contains(&window) {
        return Err(PlanError::InvalidArguments(format!(
            "window_minutes must be between 5 and {MAX_WINDOW_MINUTES}, got {window}"
        )));
    }
    let window_ms = i64::from(window) * MINUTE_MS;
    // Aligned to the minute so that calls within a minute share a cache entry.
    let now = context.now_epoch_ms - context.now_epoch_ms.rem_euclid(MINUTE_MS);
    let build = |template: NrqlTemplate, values: &[(&str, Value)]| {
        template.build(values, policy, account, context.now_epoch_ms)
    };
    let (mode, deployments, signals) = match &args.deployment_timestamp {
        Some(value) => {
            let at_ms = deployment_instant(value, context.now_epoch_ms)?;
            let (start, end) = (at_ms - window_ms, (at_ms + window_ms).min(now.max(at_ms + 1)));
            let deployments = build(
                impact_deployments_template(&subject),
                &[("subject", subject.value()), ("start", json!(start)), ("end", json!(end))],
            )?;
            let signals = build(
                impact_cases_template(&subject),
                &[
                    ("subject", subject.value()),
                    ("start", json!(start)),
                    ("end", json!(end)),
                    ("at", json!(at_ms)),
                ],
            )?;
            (ImpactMode::At(at_ms), deployments, signals)
        }
        None => {
            let start = now - i64::from(LOOKBACK_MINUTES) * MINUTE_MS;
            let deployments = build(
                impact_deployments_template(&subject),
                &[("subject", subject.value()), ("start", json!(start + window_ms)), ("end", json!(now))],
            )?;
            let signals = build(
                impact_series_template(&subject),
                &[("subject", subject.value()), ("start", json!(start)), ("end", json!(now))],
            )?;
            (ImpactMode::Latest, deployments, signals)
        }
    };
    let request = UpstreamRequest {
        operation: "DeploymentImpact",
        document: DEPLOYMENT_IMPACT.into(),
        variables: json!({ "accountId": account, "deployments": deployments, "signals": signals }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "deployments": deployments, "signals": signals, "mode": mode });
    let label = subject.label();
    let plan = upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        NRQL_REQUEST_TIMEOUT,
        move |response| render_impact(&label, mode, window_ms, now, response),
    );
    Ok(Plan { nrql_accounts: NrqlAccounts::one(account), ..plan })
}

/// One side of the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Side {
    pub requests: f64,
    pub errors: f64,
    pub minutes: f64,
    pub avg_latency_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
}

impl Side {
    fn throughput_rpm(&self) -> Option<f64> {
        (self.minutes > 0.0).then(|| self.requests / self.minutes)
    }

    fn error_rate_pct(&self) -> Option<f64> {
        share(self.errors, self.requests)
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "errors": self.errors,
            "minutes": self.minutes,
            "throughput_rpm": self.throughput_rpm(),
            "avg_latency_ms": self.avg_latency_ms,
            "p95_latency_ms": self.p95_latency_ms,
            "error_rate_pct": self.error_rate_pct(),
        })
    }
}

/// What a deployment did, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Regression,
    Improvement,
    NoSignificantChange,
    InsufficientData,
}

/// The verdict and the findings behind it. Thresholds: error rate up or down by at least
/// 2 points and 1.5×; latency (average or p95) up or down by at least 25 % and 20 ms;
/// throughput down by half.
pub(crate) fn verdict(before: &Side, after: &Side) -> (Verdict, Vec<String>) {
    if before.requests < MIN_REQUESTS || after.requests < MIN_REQUESTS {
        return (
            Verdict::InsufficientData,
            vec![format!(
                "only {} requests before and {} after; at least {MIN_REQUESTS} on each side are needed (widen window_minutes)",
                fixed(before.requests, 0),
                fixed(after.requests, 0)
            )],
        );
    }
    let mut worse = Vec::new();
    let mut better = Vec::new();
    if let (Some(b), Some(a)) = (before.error_rate_pct(), after.error_rate_pct()) {
        if a - b >= 2.0 && a >= b * 1.5 {
            worse.push(format!("error rate rose from {}% to {}%", fixed(b, 2), fixed(a, 2)));
        } else if b - a >= 2.0 && a <= b / 1.5 {
            better.push(format!("error rate fell from {}% to {}%", fixed(b, 2), fixed(a, 2)));
        }
    }
    for (name, b, a) in [
        ("average latency", before.avg_latency_ms, after.avg_latency_ms),
        ("p95 latency", before.p95_latency_ms, after.p95_latency_ms),
    ] {
        let (Some(b), Some(a)) = (b, a) else { continue };
        if a >= b * 1.25 && a - b >= 20.0 {
            worse.push(format!("{name} rose from {} ms to {} ms", fixed(b, 1), fixed(a, 1)));
        } else if a <= b * 0.8 && b - a >= 20.0 {
            better.push(format!("{name} fell from {} ms to {} ms", fixed(b, 1), fixed(a, 1)));
        }
    }
    if let (Some(b), Some(a)) = (before.throughput_rpm(), after.throughput_rpm())
        && a <= b * 0.5
    {
        worse.push(format!("throughput fell from {} to {} requests per minute", fixed(b, 1), fixed(a, 1)));
    }
    match (worse.is_empty(), better.is_empty()) {
        (false, _) => {
            worse.extend(better);
            (Verdict::Regression, worse)
        }
        (true, false) => (Verdict::Improvement, better),
        (true, true) => (Verdict::NoSignificantChange, vec!["no signal moved beyond the thresholds".into()]),
    }
}

fn side_from_case(row: Option<&Value>, minutes: f64) -> Side {
    let row = row.unwrap_or(&Value::Null);
    Side {
        requests: number_at(row, "requests").unwrap_or(0.0),
        errors: number_at(row, "errors").unwrap_or(0.0),
        minutes,
        avg_latency_ms: number_at(row, "avg_duration_s").map(|s| s * 1000.0),
        p95_latency_ms: row.get("p95_duration_s").and_then(number).map(|s| s * 1000.0),
    }
}

fn render_impact(
    subject: &str,
    mode: ImpactMode,
    window_ms: i64,
    now: i64,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let account_path = ["actor", "account"];
    let deployments = alias_rows(at(&response.data, &account_path), &["deployments"])
        .ok_or_else(|| missing_result("deployment list", &response.partial_errors))?;
    let signals = alias_rows(at(&response.data, &account_path), &["signals"])
        .ok_or_else(|| missing_result("golden signals", &response.partial_errors))?;
    let mut deployments: Vec<Value> = deployments.iter().map(deployment_row).collect();
    deployments.sort_by_key(|row| std::cmp::Reverse(at(row, &["timestamp"]).as_i64().unwrap_or(0)));
    let window_minutes = window_ms as f64 / 60_000.0;
    let (at_ms, deployment, before, after, precision) = match mode {
        ImpactMode::At(at_ms) => {
            let closest = deployments
                .iter()
                .min_by_key(|row| (at(row, &["timestamp"]).as_i64().unwrap_or(i64::MAX) - at_ms).abs())
                .filter(|row| {
                    at(row, &["timestamp"]).as_i64().is_some_and(|t| (t - at_ms).abs() <= 5 * MINUTE_MS)
                })
                .cloned();
            let case =
                |label: &str| signals.iter().find(|row| text_at(row, "facet").as_deref() == Some(label));
            let after_minutes = ((now.min(at_ms + window_ms) - at_ms).max(0)) as f64 / 60_000.0;
            let before = side_from_case(case("before"), window_minutes);
            let after = side_from_case(case("after"), after_minutes);
            (at_ms, closest, before, after, "exact")
        }
        ImpactMode::Latest => {
            let latest = deployments.first().cloned().ok_or_else(|| {
                ToolError::new(
                    ToolErrorKind::NotFound,
                    format!(
                        "no deployment of {subject} in the last {} hours: pass deployment_timestamp \
                         (list_change_events lists older deployments)",
                        (i64::from(LOOKBACK_MINUTES) * MINUTE_MS - window_ms) / 3_600_000
                    ),
                )
            })?;
            let at_ms = at(&latest, &["timestamp"]).as_i64().unwrap_or(now);
            // The minute holding the deployment belongs to neither side.
            let keys = ["requests", "duration_sum_s", "errors"];
            let before = stretch(&signals, at_ms - window_ms, at_ms - MINUTE_MS + 1, &keys);
            let after = stretch(&signals, at_ms, at_ms + window_ms, &keys);
            let side = |s: &super::time_buckets::Stretch| Side {
                requests: s.sum(0),
                errors: s.sum(2),
                minutes: s.minutes(),
                avg_latency_ms: (s.sum(0) > 0.0).then(|| s.sum(1) / s.sum(0) * 1000.0),
                p95_latency_ms: None,
            };
            (at_ms, Some(latest), side(&before), side(&after), "per minute")
        }
    };
    let (verdict, findings) = verdict(&before, &after);
    let others: Vec<Value> = deployments
        .iter()
        .filter(|row| {
            at(row, &["timestamp"]).as_i64().is_some_and(|t| t != at_ms && (t - at_ms).abs() < window_ms)
                && Some(*row) != deployment.as_ref()
        })
        .cloned()
        .collect();
    let deployment_label = deployment
        .as_ref()
        .map(|d| {
            format!(
                "{} ({} by {})",
                cell(at(d, &["version"])),
                cell(at(d, &["time"])),
                cell(at(d, &["user"]))
            )
        })
        .unwrap_or_else(|| format!("at {} (no deployment recorded within 5 minutes of it)", time_ms(at_ms)));
    let verdict_word = match verdict {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "IMPROVEMENT",
        Verdict::NoSignificantChange => "NO SIGNIFICANT CHANGE",
        Verdict::InsufficientData => "NOT ENOUGH DATA",
    };
    let mut text = format!(
        "Deployment {deployment_label} of {subject}: {verdict_word}\n\
         {} min before vs {} min after ({precision}):\n",
        fixed(before.minutes, 0),
        fixed(after.minutes, 0),
    );
    let signed = |value: f64, decimals: usize| {
        let text = fixed(value, decimals);
        if value > 0.0 && text != "0" { format!("+{text}") } else { text }
    };
    let delta = |name: &str, b: Option<f64>, a: Option<f64>| match (b, a) {
        // Rates compare in points: from 0% any rise is infinitely many percent.
        (Some(b), Some(a)) if name == "error rate" => format!(" ({} points)", signed(a - b, 2)),
        (Some(b), Some(a)) if b != 0.0 => format!(" ({}%)", signed((a - b) / b * 100.0, 1)),
        _ => String::new(),
    };
    for (name, b, a, unit) in [
        ("throughput", before.throughput_rpm(), after.throughput_rpm(), " rpm"),
        ("avg latency", before.avg_latency_ms, after.avg_latency_ms, " ms"),
        ("p95 latency", before.p95_latency_ms, after.p95_latency_ms, " ms"),
        ("error rate", before.error_rate_pct(), after.error_rate_pct(), "%"),
    ] {
        if b.is_none() && a.is_none() {
            continue;
        }
        text.push_str(&format!(
            "  {name}: {}{unit} → {}{unit}{}\n",
            fixed_or_na(b, 2),
            fixed_or_na(a, 2),
            delta(name, b, a)
        ));
    }
    for finding in &findings {
        text.push_str(&format!("- {finding}\n"));
    }
    if !others.is_empty() {
        text.push_str(&format!(
            "note: {} other deployment(s) within the window may share the blame: {}\n",
            others.len(),
            others
                .iter()
                .map(|d| format!("{} at {}", cell(at(d, &["version"])), cell(at(d, &["time"]))))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if matches!(mode, ImpactMode::Latest) {
        text.push_str("p95 needs deployment_timestamp: pass it for exact before/after percentiles.\n");
    }
    text.push_str(&response_notes(&response));
    let mut structured = Map::new();
    structured.insert("subject".into(), json!(subject));
    structured.insert("deployment".into(), deployment.unwrap_or(Value::Null));
    structured.insert("deployment_epoch_ms".into(), json!(at_ms));
    structured.insert("window_minutes".into(), json!(window_minutes));
    structured.insert("before".into(), before.json());
    structured.insert("after".into(), after.json());
    structured.insert(
        "deltas".into(),
        json!({
            "throughput_pct": pct_change(before.throughput_rpm(), after.throughput_rpm()),
            "avg_latency_pct": pct_change(before.avg_latency_ms, after.avg_latency_ms),
            "p95_latency_pct": pct_change(before.p95_latency_ms, after.p95_latency_ms),
            "error_rate_points": match (before.error_rate_pct(), after.error_rate_pct()) {
                (Some(b), Some(a)) => Some(a - b),
                _ => None,
            },
        }),
    );
    structured.insert("verdict".into(), json!(verdict));
    structured.insert("findings".into(), json!(findings));
    structured.insert("other_deployments_in_window".into(), Value::Array(others));
    structured.insert("precision".into(), json!(precision));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

fn pct_change(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if b != 0.0 => Some((a - b) / b * 100.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use base64::Engine;
    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;
    use crate::tools::nrql_tool::testing;

    fn tools() -> Vec<Arc<dyn Tool>> {
        ChangesPlugin::default().tools()
    }

    fn guid() -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}|APM|APPLICATION|2", testing::ACCOUNT))
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
        for subject in [Subject::App("a".into()), Subject::Guid("g".into())] {
            for template in [
                impact_deployments_template(&subject),
                impact_cases_template(&subject),
                impact_series_template(&subject),
            ] {
                template.parse().unwrap();
            }
        }
        deployments_by_app_template().parse().unwrap();
    }

    #[test]
    fn change_events_use_change_tracking_for_a_guid_and_nrql_for_a_name() {
        let by_guid =
            testing::plan(&tools(), "list_change_events", json!({"entity_guid": guid(), "limit": 5}))
                .unwrap();
        let vars = variables(&by_guid);
        assert_eq!(vars["filter"]["limit"], 5);
        let window = &vars["filter"]["timeWindow"];
        assert!(
            window["endTime"].as_i64().unwrap() - window["startTime"].as_i64().unwrap() >= 7 * 86_400_000
        );
        let by_name =
            testing::plan(&tools(), "list_change_events", json!({"app_name": "payments-api"})).unwrap();
        assert_eq!(by_name.nrql_accounts, NrqlAccounts::one(testing::ACCOUNT));
        let nrql = variables(&by_name)["nrql"].as_str().unwrap().to_string();
        assert!(nrql.contains("FROM Deployment WHERE appName = 'payments-api'"), "{nrql}");
        assert!(nrql.contains("LIMIT 20"), "{nrql}");
        for bad in
            [json!({}), json!({"app_name": "a", "entity_guid": guid()}), json!({"app_name": "a", "limit": 0})]
        {
            assert!(testing::plan(&tools(), "list_change_events", bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn change_events_render_newest_first_in_one_shape() {
        let by_name =
            testing::plan(&tools(), "list_change_events", json!({"app_name": "payments-api"})).unwrap();
        let data = json!({"actor": {"account": {"nrql": {"results": [
            {"timestamp": 1_715_770_000_000_i64, "version": "v1", "user": "ci", "deploymentType": "BASIC", "commit": "abc"},
            {"timestamp": 1_715_775_000_000_i64, "version": "v2", "user": "bob", "deploymentType": "CANARY", "commit": "def", "description": "canary"}
        ]}}}});
        let output = respond(&by_name, data).unwrap();
        assert_eq!(output.structured["deployments"][0]["version"], "v2");
        assert!(
            output.text.contains("2024-05-15 12:10:00 v2 by bob (CANARY), commit def — canary"),
            "{}",
            output.text
        );
        assert!(output.text.contains("deployment_timestamp 1715775000000"), "{}", output.text);
        let by_guid = testing::plan(&tools(), "list_change_events", json!({"entity_guid": guid()})).unwrap();
        let missing = respond(&by_guid, json!({"actor": {"entity": null}})).unwrap_err();
        assert_eq!(missing.kind, ToolErrorKind::NotFound);
    }

    #[test]
    fn impact_with_a_timestamp_compares_two_cases_in_a_symmetric_window() {
        let at_ms = testing::context().now_epoch_ms - 3_600_000;
        let planned = testing::plan(
            &tools(),
            "analyze_deployment_impact",
            json!({"app_name": "payments-api", "deployment_timestamp": at_ms, "window_minutes": 20}),
        )
        .unwrap();
        let signals = variables(&planned)["signals"].as_str().unwrap().to_string();
        assert!(
            signals.contains(&format!("SINCE {} UNTIL {}", at_ms - 1_200_000, at_ms + 1_200_000)),
            "{signals}"
        );
        assert!(signals.contains(&format!("FACET CASES(WHERE timestamp < {at_ms} AS before")), "{signals}");
        for bad in
            [json!({"app_name": "a", "window_minutes": 1}), json!({"app_name": "a", "window_minutes": 500})]
        {
            assert!(
                matches!(
                    testing::plan(&tools(), "analyze_deployment_impact", bad.clone()),
                    Err(PlanError::InvalidArguments(_))
                ),
                "{bad}"
            );
        }
        for bad in [
            json!({"app_name": "a", "deployment_timestamp": "someday"}),
            json!({"app_name": "a", "deployment_timestamp": testing::context().now_epoch_ms + 3_600_000}),
        ] {
            assert!(
                matches!(
                    testing::plan(&tools(), "analyze_deployment_impact", bad.clone()),
                    Err(PlanError::Tool(_))
                ),
                "{bad}"
            );
        }
        let data = json!({"actor": {"account": {
            "deployments": {"results": [{"timestamp": at_ms + 30_000, "version": "v9", "user": "bob"}]},
            "signals": {"results": [
                {"facet": "before", "requests": 200, "avg_duration_s": 0.1, "p95_duration_s": {"95": 0.2}, "errors": 2},
                {"facet": "after", "requests": 190, "avg_duration_s": 0.1, "p95_duration_s": {"95": 0.21}, "errors": 38}
            ]}
        }}});
        let output = respond(&planned, data).unwrap();
        assert_eq!(output.structured["verdict"], "regression");
        assert_eq!(output.structured["deployment"]["version"], "v9");
        assert_eq!(output.structured["before"]["error_rate_pct"], 1.0);
        assert_eq!(output.structured["after"]["error_rate_pct"], 20.0);
        assert_eq!(output.structured["before"]["p95_latency_ms"], 200.0);
        assert!(output.text.contains("REGRESSION"), "{}", output.text);
        assert!(output.text.contains("error rate rose from 1% to 20%"), "{}", output.text);
    }

    #[test]
    fn impact_without_a_timestamp_splits_minutes_around_the_latest_deployment() {
        let planned = testing::plan(
            &tools(),
            "analyze_deployment_impact",
            json!({"entity_guid": guid(), "window_minutes": 10}),
        )
        .unwrap();
        let signals = variables(&planned)["signals"].as_str().unwrap().to_string();
        assert!(signals.contains("TIMESERIES 1 minute"), "{signals}");
        assert!(signals.contains(&format!("entityGuid = '{}'", guid())), "{signals}");
        let now = testing::context().now_epoch_ms;
        let at_ms = now - 30 * MINUTE_MS + 20_000;
        let minute = |i: i64, requests: i64, errors: i64| {
            let begin = (at_ms - at_ms.rem_euclid(MINUTE_MS)) + i * MINUTE_MS;
            json!({"beginTimeSeconds": begin / 1000, "endTimeSeconds": begin / 1000 + 60, "requests": requests, "duration_sum_s": requests as f64 * 0.2, "errors": errors})
        };
        let mut rows: Vec<Value> = (-10..0).map(|i| minute(i, 10, 0)).collect();
        rows.push(minute(0, 1000, 1000));
        rows.extend((1..=10).map(|i| minute(i, 10, 0)));
        let data = json!({"actor": {"account": {
            "deployments": {"results": [{"timestamp": at_ms, "version": "v2"}, {"timestamp": at_ms - 3 * 3_600_000, "version": "v1"}]},
            "signals": {"results": rows}
        }}});
        let output = respond(&planned, data).unwrap();
        assert_eq!(output.structured["deployment"]["version"], "v2");
        assert_eq!(output.structured["before"]["requests"], 90.0);
        assert_eq!(output.structured["after"]["requests"], 100.0);
        assert_eq!(output.structured["before"]["throughput_rpm"], 10.0);
        assert_eq!(output.structured["after"]["throughput_rpm"], 10.0);
        assert_eq!(output.structured["verdict"], "no_significant_change");
        assert_eq!(output.structured["before"]["avg_latency_ms"], 200.0);
        assert!(output.text.contains("p95 needs deployment_timestamp"));
        let none =
            json!({"actor": {"account": {"deployments": {"results": []}, "signals": {"results": []}}}});
        assert_eq!(respond(&planned, none).unwrap_err().kind, ToolErrorKind::NotFound);
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let side = |requests: f64, errors: f64, avg: f64, p95: Option<f64>| Side {
            requests,
            errors,
            minutes: 30.0,
            avg_latency_ms: Some(avg),
            p95_latency_ms: p95,
        };
        let base = side(300.0, 3.0, 100.0, Some(250.0));
        let cases = [
            (side(300.0, 3.0, 105.0, Some(260.0)), Verdict::NoSignificantChange),
            (side(300.0, 30.0, 100.0, Some(250.0)), Verdict::Regression),
            (side(300.0, 3.0, 140.0, Some(250.0)), Verdict::Regression),
            (side(300.0, 3.0, 100.0, Some(400.0)), Verdict::Regression),
            (side(100.0, 1.0, 100.0, Some(250.0)), Verdict::Regression),
            (side(300.0, 3.0, 70.0, Some(180.0)), Verdict::Improvement),
            (side(5.0, 0.0, 100.0, None), Verdict::InsufficientData),
        ];
        for (after, expected) in cases {
            assert_eq!(verdict(&base, &after).0, expected, "{after:?}");
        }
        let noisy = side(300.0, 30.0, 100.0, None);
        assert_eq!(verdict(&noisy, &side(300.0, 3.0, 100.0, None)).0, Verdict::Improvement);
    }
}
