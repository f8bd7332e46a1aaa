//! MCP prompts: step-by-step investigations through this server's tools.
//!
//! Each prompt turns its arguments into one user message that tells the agent which tool
//! to call with which arguments, which NRQL to run and what to compare. Values land in the
//! message as JSON tool arguments; inside example queries they are placed by an NRQL
//! template (so a quote in a service name stays a quote inside one string literal), and
//! every example query parses. Rendering is pure: the current time is an argument.

use std::collections::BTreeMap;

use newrelic_mcp_nrql::{ParamSpec, ParamType, Template};
use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Value, json};

use crate::tools::time_period::parse_time_period;

/// Longest argument value accepted.
const MAX_ARGUMENT_CHARS: usize = 256;
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// Stands for an unknown deployment time while example queries are built.
const STAND_IN_INSTANT: i64 = 1_000_000_000_000;

/// One prompt argument as `prompts/list` describes it.
struct ArgSpec {
    name: &'static str,
    description: &'static str,
    required: bool,
}

struct PromptSpec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    arguments: &'static [ArgSpec],
}

const ACCOUNT_ID: ArgSpec = ArgSpec {
    name: "account_id",
    description: "New Relic account id to work in; defaults to the server's account.",
    required: false,
};

const PROMPTS: [PromptSpec; 3] = [
    PromptSpec {
        name: "incident_triage",
        title: "Triage an incident",
        description: "Investigate an alert issue or a misbehaving entity: find the issue and the entity, measure the \
            impact, look for errors, logs, host trouble and recent deployments, and report a likely cause.",
        arguments: &[
            ArgSpec {
                name: "issue_id",
                description: "The alert issue to triage (issueId); give this or entity_name, or neither for the \
                    highest-priority open issue.",
                required: false,
            },
            ArgSpec {
                name: "entity_name",
                description: "The service or host that misbehaves, e.g. checkout-service.",
                required: false,
            },
            ACCOUNT_ID,
        ],
    },
    PromptSpec {
        name: "service_health_check",
        title: "Check a service's health",
        description: "Golden signals of an APM service (throughput, latency, errors) against a baseline, its \
            slowest transactions and top errors, hosts, logs, open issues and deployments.",
        arguments: &[
            ArgSpec {
                name: "service_name",
                description: "The APM service (appName), e.g. checkout-service.",
                required: true,
            },
            ACCOUNT_ID,
            ArgSpec {
                name: "time_period",
                description: "The window to check: 'last 1 hour' (default), 'last 30 minutes', 'yesterday', \
                    '2024-05-01 10:00 to 2024-05-01 12:00' (UTC).",
                required: false,
            },
        ],
    },
    PromptSpec {
        name: "deployment_review",
        title: "Review a deployment",
        description: "Compare a service before and after a deployment: throughput, latency, error rate, \
            per-transaction regressions, new errors and alerts, with a verdict.",
        arguments: &[
            ArgSpec {
                name: "service_name",
                description: "The APM service (appName) that was deployed.",
                required: true,
            },
            ArgSpec {
                name: "deployment_time",
                description: "When it was deployed: epoch milliseconds, '2024-05-01 10:30' (UTC) or '2 hours ago'; \
                    default: the deployment found by version, else the latest one.",
                required: false,
            },
            ArgSpec {
                name: "version",
                description: "The deployed version, as recorded on the deployment.",
                required: false,
            },
            ACCOUNT_ID,
        ],
    },
];

/// Why a prompt could not be produced; every case is the caller's to fix (invalid params).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PromptError {
    #[error("unknown prompt '{name}'; prompts: {}", prompt_names().join(", "))]
    UnknownPrompt { name: String },
    #[error("prompt '{prompt}' needs the argument '{argument}'")]
    MissingArgument { prompt: &'static str, argument: &'static str },
    #[error("prompt '{prompt}' takes no argument '{argument}'; it takes: {accepted}")]
    UnknownArgument { prompt: &'static str, argument: String, accepted: String },
    #[error("argument '{argument}' {reason}")]
    InvalidArgument { argument: &'static str, reason: String },
    /// A fixed example query failed to build: a bug, reported rather than hidden.
    #[error("an example query could not be built: {0}")]
    Query(String),
}

fn prompt_names() -> Vec<&'static str> {
    PROMPTS.iter().map(|prompt| prompt.name).collect()
}

/// The prompts as `prompts/list` shows them.
pub(crate) fn list() -> Vec<Prompt> {
    PROMPTS
        .iter()
        .map(|spec| {
            let arguments = spec
                .arguments
                .iter()
                .map(|argument| {
                    PromptArgument::new(argument.name)
                        .with_description(argument.description)
                        .with_required(argument.required)
                })
                .collect();
            Prompt::new(spec.name, Some(spec.description), Some(arguments)).with_title(spec.title)
        })
        .collect()
}

/// Renders prompt `name` with `arguments` at `now_ms`.
pub(crate) fn get(
    name: &str,
    arguments: Option<&JsonObject>,
    now_ms: i64,
) -> Result<GetPromptResult, PromptError> {
    let spec = PROMPTS
        .iter()
        .find(|spec| spec.name == name)
        .ok_or_else(|| PromptError::UnknownPrompt { name: name.into() })?;
    let args = Args::read(spec, arguments)?;
    let text = match spec.name {
        "incident_triage" => incident_triage(&args)?,
        "service_health_check" => service_health_check(&args, now_ms)?,
        _ => deployment_review(&args, now_ms)?,
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(spec.description))
}

/// The arguments given, checked against the prompt's list; empty values count as absent.
struct Args {
    values: BTreeMap<&'static str, String>,
    account: Option<i64>,
}

impl Args {
    fn read(spec: &PromptSpec, given: Option<&JsonObject>) -> Result<Self, PromptError> {
        let mut values = BTreeMap::new();
        for (key, value) in given.into_iter().flatten() {
            let Some(argument) = spec.arguments.iter().find(|argument| argument.name == key) else {
                let accepted =
                    spec.arguments.iter().map(|argument| argument.name).collect::<Vec<_>>().join(", ");
                return Err(PromptError::UnknownArgument {
                    prompt: spec.name,
                    argument: key.clone(),
                    accepted,
                });
            };
            let invalid = |reason: &str| PromptError::InvalidArgument {
                argument: argument.name,
                reason: reason.into(),
            };
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text.trim().to_string(),
                Value::Number(number) => number.to_string(),
                _ => return Err(invalid("must be a string")),
            };
            if text.chars().count() > MAX_ARGUMENT_CHARS {
                return Err(invalid("is longer than 256 characters"));
            }
            if text.chars().any(char::is_control) {
                return Err(invalid("contains control characters"));
            }
            if !text.is_empty() {
                values.insert(argument.name, text);
            }
        }
        if let Some(missing) =
            spec.arguments.iter().find(|argument| argument.required && !values.contains_key(argument.name))
        {
            return Err(PromptError::MissingArgument { prompt: spec.name, argument: missing.name });
        }
        let account = match values.get("account_id") {
            None => None,
            Some(text) => Some(text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                PromptError::InvalidArgument {
                    argument: "account_id",
                    reason: format!("must be a New Relic account id (a positive whole number), not '{text}'"),
                }
            })?),
        };
        Ok(Self { values, account })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Tool arguments with the account added when one was given.
    fn tool_args(&self, mut arguments: Value) -> Value {
        if let (Some(account), Value::Object(map)) = (self.account, &mut arguments) {
            map.insert("account_id".into(), json!(account));
        }
        arguments
    }

    /// `tool {"arg": …}` as the agent should call it.
    fn call(&self, tool: &str, arguments: Value) -> String {
        format!("`{tool}` with `{}`", self.tool_args(arguments))
    }

    /// An `execute_nrql_query` call for `nrql`.
    fn nrql_call(&self, nrql: &str) -> String {
        self.call("execute_nrql_query", json!({ "nrql_query": nrql }))
    }

    fn in_account(&self) -> String {
        self.account.map(|account| format!(" in account {account}")).unwrap_or_default()
    }
}

/// An NRQL query from a template whose values are placed in the syntax tree.
fn nrql(text: &str, values: &[(&str, ParamType, Value)]) -> Result<String, PromptError> {
    let specs: Vec<ParamSpec> =
        values.iter().map(|(name, kind, _)| ParamSpec::new(*name, kind.clone())).collect();
    let template = Template::parse(text, &specs).map_err(|error| PromptError::Query(error.to_string()))?;
    let filled: BTreeMap<String, Value> =
        values.iter().map(|(name, _, value)| ((*name).to_string(), value.clone())).collect();
    template.fill_to_string(&filled).map_err(|error| PromptError::Query(error.to_string()))
}

/// A query about one service (`{{service}}`, a string literal) over `window`.
fn service_query(body: &str, service: &str, window: &Window) -> Result<String, PromptError> {
    let (clause, mut values) = window.clause();
    values.push(("service", ParamType::String, json!(service)));
    nrql(&format!("{body} {clause}"), &values)
}

fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The time window of a prompt's queries.
#[derive(Debug, Clone, PartialEq)]
enum Window {
    /// `SINCE <amount> <unit> ago`, relative to whenever the query runs.
    Relative { amount: u64, unit: &'static str, span_ms: i64 },
    /// `SINCE <start> UNTIL <end>`, epoch milliseconds.
    Absolute { start_ms: i64, end_ms: i64 },
}

impl Window {
    fn relative(amount: u64, unit: &'static str) -> Self {
        let unit_ms = match unit {
            "minutes" => MINUTE_MS,
            "hours" => 60 * MINUTE_MS,
            "days" => DAY_MS,
            _ => 7 * DAY_MS,
        };
        Window::Relative {
            amount,
            unit,
            span_ms: unit_ms.saturating_mul(i64::try_from(amount).unwrap_or(i64::MAX)),
        }
    }

    /// A time period in words: `last 30 minutes` stays relative; anything else
    /// `convert_time_period_to_epoch_ms` reads becomes fixed epoch milliseconds.
    fn read(text: &str, now_ms: i64) -> Result<Self, PromptError> {
        if let Some(window) = relative_window(text) {
            return Ok(window);
        }
        parse_time_period(text, now_ms)
            .map(|period| Window::Absolute { start_ms: period.start_ms, end_ms: period.end_ms })
            .map_err(|error| PromptError::InvalidArgument {
                argument: "time_period",
                reason: format!("is unreadable: {error}"),
            })
    }

    fn span_ms(&self) -> i64 {
        match self {
            Window::Relative { span_ms, .. } => *span_ms,
            Window::Absolute { start_ms, end_ms } => end_ms - start_ms,
        }
    }

    fn clause(&self) -> (&'static str, Vec<(&'static str, ParamType, Value)>) {
        match self {
            Window::Relative { amount, unit, .. } => (
                "SINCE {{since}} ago",
                vec![("since", ParamType::Duration, json!(format!("{amount} {unit}")))],
            ),
            Window::Absolute { start_ms, end_ms } => (
                "SINCE {{start}} UNTIL {{end}}",
                vec![("start", ParamType::Int, json!(start_ms)), ("end", ParamType::Int, json!(end_ms))],
            ),
        }
    }

    /// The baseline to compare with: the day before for short windows, the week before for
    /// longer ones, none past a week (the comparison would reach too far back).
    fn baseline(&self) -> Option<&'static str> {
        match self.span_ms() {
            span if span <= DAY_MS => Some("1 day"),
            span if span <= 7 * DAY_MS => Some("1 week"),
            _ => None,
        }
    }

    fn describe(&self, original: &str) -> String {
        match self {
            Window::Relative { .. }
                if ["last ", "past "].iter().any(|word| original.to_ascii_lowercase().starts_with(word)) =>
            {
                format!("the {original}")
            }
            Window::Relative { .. } => original.to_string(),
            Window::Absolute { start_ms, end_ms } => {
                format!("{original} ({start_ms} to {end_ms} epoch ms, UTC)")
            }
        }
    }
}

/// `last 30 minutes`, `past 2 hours`, `last hour`, `1 day`, `15m`.
fn relative_window(text: &str) -> Option<Window> {
    let lower = text.trim().to_ascii_lowercase();
    let rest = ["last ", "past ", "the last ", "the past "]
        .iter()
        .find_map(|prefix| lower.strip_prefix(prefix))
        .unwrap_or(&lower)
        .trim();
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (amount, unit) = rest.split_at(digits);
    let amount = if amount.is_empty() { 1 } else { amount.parse::<u64>().ok().filter(|n| *n > 0)? };
    let unit = match unit.trim() {
        "m" | "min" | "mins" | "minute" | "minutes" => "minutes",
        "h" | "hr" | "hrs" | "hour" | "hours" => "hours",
        "d" | "day" | "days" => "days",
        "w" | "week" | "weeks" => "weeks",
        _ => return None,
    };
    Some(Window::relative(amount, unit))
}

fn incident_triage(args: &Args) -> Result<String, PromptError> {
    let issue = args.get("issue_id");
    let entity = args.get("entity_name");
    let service = entity.unwrap_or("<service name from step 2>");
    let window = Window::relative(3, "hours");
    let mut text = String::from("Triage a New Relic incident");
    if let Some(issue) = issue {
        text.push_str(&format!(" for alert issue {}", quoted(issue)));
    }
    if let Some(entity) = entity {
        text.push_str(&format!(" affecting {}", quoted(entity)));
    }
    text.push_str(&format!(
        "{} with this server's tools. Work through the steps in order, say briefly what each result shows, and \
         stop early once the cause is clear.\n\n",
        args.in_account()
    ));
    text.push_str(&format!("1. Find the issue: call {}. ", args.call("list_recent_issues", json!({}))));
    match (issue, entity) {
        (Some(issue), _) => text.push_str(&format!(
            "Pick the issue whose id is {}; if it is not among the open ones, call it again with \
             `\"states\": [\"CLOSED\", \"DEACTIVATED\"]`.",
            quoted(issue)
        )),
        (None, Some(entity)) => {
            text.push_str(&format!("Keep the issues whose entities include {}.", quoted(entity)))
        }
        (None, None) => text.push_str("Take the highest-priority open issue, newest first."),
    }
    text.push_str(
        " Note its title, priority, state, condition, policy, affected entities and when it was activated. No \
         matching issue is a finding too: continue with the entity.\n",
    );
    let lookup = match entity {
        Some(entity) => args.call("get_entity", json!({ "name_pattern": entity })),
        None => "`get_entity` with `{\"name_pattern\": …}` for the entity named in the issue".to_string(),
    };
    text.push_str(&format!(
        "2. Identify the entity: call {lookup}. Note its GUID, domain and type (APM service or host), account, \
         reporting status, alert severity, tags (team, environment) and golden metric queries; \
         newrelic://entities/<guid> shows the same later.\n"
    ));
    text.push_str(&format!(
        "3. Measure the impact over the last 3 hours for an APM service (for a host, go to step 5):\n   - trend: {}\n   \
         - against yesterday: {}\n",
        args.nrql_call(&service_query(
            "SELECT count(*), average(duration), percentile(duration, 95), percentage(count(*), WHERE error IS true) \
             FROM Transaction WHERE appName = {{service}} TIMESERIES 10 minutes",
            service,
            &window,
        )?),
        args.nrql_call(&service_query(
            "SELECT count(*), percentile(duration, 95), percentage(count(*), WHERE error IS true) FROM Transaction \
             WHERE appName = {{service}} COMPARE WITH 1 day ago",
            service,
            &Window::relative(1, "hours"),
        )?),
    ));
    text.push_str(&format!(
        "4. Errors and logs: {}, then {}\n",
        args.nrql_call(&service_query(
            "SELECT count(*) FROM TransactionError WHERE appName = {{service}} FACET error.class, error.message LIMIT 10",
            service,
            &window,
        )?),
        args.nrql_call(&service_query(
            "SELECT timestamp, level, message FROM Log WHERE entity.name = {{service}} AND level IN ('ERROR', 'WARN') \
             LIMIT 50",
            service,
            &Window::relative(1, "hours"),
        )?),
    ));
    text.push_str(&format!(
        "5. Hosts: {} gives the service's hosts; then run `SELECT average(cpuPercent), average(memoryUsedPercent), \
         max(diskUsedPercent) FROM SystemSample WHERE hostname IN (…those hosts…) FACET hostname SINCE 3 hours ago \
         TIMESERIES 10 minutes` (for a host entity, use its own name). Saturated CPU, memory or disk explains latency \
         and errors.\n",
        args.nrql_call(&service_query("SELECT uniques(host) FROM Transaction WHERE appName = {{service}}", service, &window)?),
    ));
    text.push_str(&format!(
        "6. What changed: {}. A deployment shortly before the issue activated is the first suspect.\n",
        args.nrql_call(&service_query(
            "SELECT timestamp, version, user, description FROM Deployment WHERE appName = {{service}} LIMIT 10",
            service,
            &Window::relative(1, "days"),
        )?),
    ));
    text.push_str(&format!(
        "7. Scope: {} shows whether one service or many degrade at once (a shared dependency).\n",
        args.nrql_call(&nrql(
            "SELECT percentage(count(*), WHERE error IS true), percentile(duration, 95) FROM Transaction FACET appName \
             SINCE 1 hour ago COMPARE WITH 1 day ago",
            &[],
        )?),
    ));
    text.push_str(
        "8. Report: what is wrong and since when, how bad (numbers against yesterday), the likely cause with the \
         evidence for it, the affected entities, the next actions (roll back, scale, page the owning team from the \
         tags) and what you could not verify.\n\nIf a query returns nothing, check names with \
         newrelic://accounts/<account id>/event-types and its attributes resources; NRQL help is at \
         newrelic://reference/nrql.",
    );
    Ok(text)
}

fn service_health_check(args: &Args, now_ms: i64) -> Result<String, PromptError> {
    let service = args.get("service_name").unwrap_or_default();
    let period = args.get("time_period").unwrap_or("last 1 hour");
    let window = Window::read(period, now_ms)?;
    let mut text = format!(
        "Check the health of the New Relic service {} over {}{} with this server's tools. Run the steps in \
         order, then report.\n\n",
        quoted(service),
        window.describe(period),
        args.in_account()
    );
    if let Window::Absolute { .. } = window {
        text.push_str(&format!(
            "(The window is fixed in epoch milliseconds below; {} gives the same clause.)\n\n",
            args.call("convert_time_period_to_epoch_ms", json!({ "time_period": period }))
        ));
    }
    text.push_str(&format!(
        "1. Find the service: call {}. Note its GUID, account, reporting status and alert severity. If several \
         match, prefer the APM application with exactly this name; if none does, say so and stop.\n",
        args.call("get_entity", json!({ "name_pattern": service }))
    ));
    let signals = "SELECT rate(count(*), 1 minute) AS 'requests per minute', average(duration) AS 'average s', \
                   percentile(duration, 95, 99), percentage(count(*), WHERE error IS true) AS 'error %' FROM \
                   Transaction WHERE appName = {{service}}";
    text.push_str(&format!(
        "2. Golden signals: {}\n",
        args.nrql_call(&service_query(signals, service, &window)?)
    ));
    if let Some(baseline) = window.baseline() {
        let compared = format!("{signals} COMPARE WITH {baseline} ago");
        text.push_str(&format!(
            "   Baseline ({baseline} before): {}\n",
            args.nrql_call(&service_query(&compared, service, &window)?)
        ));
    }
    text.push_str(&format!(
        "   Trend: {}\n",
        args.nrql_call(&service_query(
            "SELECT count(*), percentile(duration, 95), percentage(count(*), WHERE error IS true) FROM Transaction \
             WHERE appName = {{service}} TIMESERIES AUTO",
            service,
            &window,
        )?)
    ));
    text.push_str(&format!(
        "3. Where time goes: {}\n",
        args.nrql_call(&service_query(
            "SELECT average(duration), percentile(duration, 95), average(databaseDuration), count(*) FROM Transaction \
             WHERE appName = {{service}} FACET name LIMIT 10",
            service,
            &window,
        )?)
    ));
    text.push_str(&format!(
        "4. Errors: {}\n   Error logs: {}\n",
        args.nrql_call(&service_query(
            "SELECT count(*) FROM TransactionError WHERE appName = {{service}} FACET error.class, error.message LIMIT 10",
            service,
            &window,
        )?),
        args.nrql_call(&service_query(
            "SELECT count(*) FROM Log WHERE entity.name = {{service}} AND level IN ('ERROR', 'WARN') FACET level, \
             message LIMIT 10",
            service,
            &window,
        )?)
    ));
    text.push_str(&format!(
        "5. Hosts: {} lists its hosts; then `SELECT average(cpuPercent), average(memoryUsedPercent), \
         max(diskUsedPercent) FROM SystemSample WHERE hostname IN (…those hosts…) FACET hostname` over the same \
         window. Flag CPU or memory above 80 % and disks above 90 %.\n",
        args.nrql_call(&service_query("SELECT uniques(host) FROM Transaction WHERE appName = {{service}}", service, &window)?)
    ));
    text.push_str(&format!(
        "6. Alerts and changes: call {} and keep the issues naming this service; then {}\n",
        args.call("list_recent_issues", json!({})),
        args.nrql_call(&service_query(
            "SELECT timestamp, version, user, description FROM Deployment WHERE appName = {{service}} LIMIT 10",
            service,
            &Window::relative(1, "weeks"),
        )?)
    ));
    text.push_str(
        "7. Report: healthy, degraded or unhealthy, with throughput, p95/p99 latency and error rate now against \
         the baseline, the slowest transactions, the top errors, host pressure, open issues and recent \
         deployments, and the one thing to look at next.\n\nIf a query returns nothing, check the names with \
         newrelic://accounts/<account id>/event-types and its attributes resources; NRQL help is at \
         newrelic://reference/nrql.",
    );
    Ok(text)
}

/// Epoch milliseconds of a deployment time in words, digits (milliseconds or seconds) included.
fn deployment_instant(text: &str, now_ms: i64) -> Result<i64, PromptError> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        let number = text.parse::<i64>().map_err(|_| PromptError::InvalidArgument {
            argument: "deployment_time",
            reason: format!("'{text}' is too large for epoch milliseconds"),
        })?;
        // Ten digits or fewer is seconds: epoch milliseconds have had 13 digits since 2001.
        return Ok(if text.len() <= 10 { number.saturating_mul(1000) } else { number });
    }
    parse_time_period(text, now_ms).map(|period| period.start_ms).map_err(|error| {
        PromptError::InvalidArgument {
            argument: "deployment_time",
            reason: format!("is unreadable: {error}"),
        }
    })
}

fn deployment_review(args: &Args, now_ms: i64) -> Result<String, PromptError> {
    let service = args.get("service_name").unwrap_or_default();
    let version = args.get("version");
    let instant = args.get("deployment_time").map(|text| deployment_instant(text, now_ms)).transpose()?;
    let mut text = format!("Review the deployment of the New Relic service {}", quoted(service));
    if let Some(version) = version {
        text.push_str(&format!(" (version {})", quoted(version)));
    }
    if let Some(instant) = instant {
        text.push_str(&format!(" made at {instant} epoch ms (UTC)"));
    }
    text.push_str(&format!(
        "{} with this server's tools: did it make things better, worse, or change nothing?\n\n",
        args.in_account()
    ));
    text.push_str(&format!(
        "1. Find the service: call {}. Note its GUID and account.\n",
        args.call("get_entity", json!({ "name_pattern": service }))
    ));
    let mut values = vec![("service", ParamType::String, json!(service))];
    let mut find = String::from(
        "SELECT timestamp, version, deploymentType, user, description, commit, changelog FROM Deployment WHERE appName = {{service}}",
    );
    if let Some(version) = version {
        find.push_str(" AND version = {{version}}");
        values.push(("version", ParamType::String, json!(version)));
    }
    find.push_str(" SINCE 1 week ago LIMIT 20");
    text.push_str(&format!("2. Find the deployment: {}. ", args.nrql_call(&nrql(&find, &values)?)));
    text.push_str(match (instant, version) {
        (Some(_), _) => "Take the one closest to the given time; if none is recorded, use the given time.",
        (None, Some(_)) => "Take the one with this version (the newest, if it was deployed more than once).",
        (None, None) => "Take the newest one.",
    });
    text.push_str(
        " Its timestamp is D below (epoch ms). If no deployment is recorded and no time was given, ask when it \
         happened.\n",
    );
    if instant.is_none() {
        text.push_str(
            "   In steps 3 to 6, replace <D> with that timestamp and each <D ± n> with the sum, before running them.\n",
        );
    }
    let half_hour = 30 * MINUTE_MS;
    // Without a time, a stand-in instant keeps the examples valid NRQL until it is swapped
    // for placeholders the agent fills in.
    let d = instant.unwrap_or(STAND_IN_INSTANT);
    let after = Window::Absolute { start_ms: d, end_ms: d + half_hour };
    let around = Window::Absolute { start_ms: d - 2 * half_hour, end_ms: d + 2 * half_hour };
    let placeholders = |query: String| match instant {
        Some(_) => query,
        None => query
            .replace(&format!("SINCE {d} UNTIL {}", d + half_hour), "SINCE <D> UNTIL <D + 1800000>")
            .replace(
                &format!("SINCE {} UNTIL {}", d - 2 * half_hour, d + 2 * half_hour),
                "SINCE <D - 3600000> UNTIL <D + 3600000>",
            ),
    };
    let compare = |body: &str| -> Result<String, PromptError> {
        Ok(placeholders(service_query(&format!("{body} COMPARE WITH 30 minutes ago"), service, &after)?))
    };
    let d = instant.map_or_else(|| "D".to_string(), |instant| instant.to_string());
    text.push_str(&format!(
        "3. Before against after (the 30 minutes after D, compared with the 30 minutes before): {}\n",
        args.nrql_call(&compare(
            "SELECT count(*), average(duration), percentile(duration, 95, 99), percentage(count(*), WHERE error IS \
             true) FROM Transaction WHERE appName = {{service}}",
        )?)
    ));
    text.push_str(&format!(
        "4. Which transactions regressed: {}\n",
        args.nrql_call(&compare(
            "SELECT percentile(duration, 95), count(*) FROM Transaction WHERE appName = {{service}} FACET name LIMIT 10",
        )?)
    ));
    text.push_str(&format!(
        "5. New or growing errors: {}\n",
        args.nrql_call(&compare(
            "SELECT count(*) FROM TransactionError WHERE appName = {{service}} FACET error.class, error.message LIMIT 10",
        )?)
    ));
    let trend = placeholders(service_query(
        "SELECT count(*), percentile(duration, 95), percentage(count(*), WHERE error IS true) FROM Transaction WHERE \
         appName = {{service}} TIMESERIES 5 minutes",
        service,
        &around,
    )?);
    text.push_str(&format!(
        "6. The hour either side, to see a step change at D: {}\n",
        args.nrql_call(&trend)
    ));
    text.push_str(&format!(
        "7. Alerts: call {} and keep the issues on this service activated after {d}.\n",
        args.call("list_recent_issues", json!({}))
    ));
    text.push_str(
        "8. Verdict: fine, watch or roll back, with throughput, p95/p99 latency and error rate before and after, \
         the transactions and errors that changed, and the alerts that followed. If less than 30 minutes have \
         passed since D, say the comparison is partial.\n\nNRQL help is at newrelic://reference/nrql.",
    );
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_nrql::ast::{Expr, Literal};

    use super::*;

    const NOW: i64 = 1_715_776_200_000;

    /// A prompt, its arguments, and what its text must contain (or its error).
    type Case<T> = (&'static str, Vec<(&'static str, Value)>, T);

    fn arguments(pairs: &[(&str, Value)]) -> JsonObject {
        pairs.iter().map(|(key, value)| ((*key).to_string(), value.clone())).collect()
    }

    fn text_of(name: &str, pairs: &[(&str, Value)]) -> String {
        let result =
            get(name, Some(&arguments(pairs)), NOW).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(result.messages.len(), 1);
        assert_eq!(result.messages[0].role, Role::User);
        result.messages[0].content.as_text().unwrap().text.clone()
    }

    /// Every `"nrql_query": "…"` in a prompt, decoded.
    fn queries_in(text: &str) -> Vec<String> {
        text.split("`execute_nrql_query` with `")
            .skip(1)
            .filter_map(|rest| rest.split('`').next())
            .map(|arguments| {
                let value: Value =
                    serde_json::from_str(arguments).unwrap_or_else(|e| panic!("{arguments}: {e}"));
                value["nrql_query"].as_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn lists_three_prompts_with_their_arguments() {
        let listed = list();
        let names: Vec<&str> = listed.iter().map(|prompt| prompt.name.as_str()).collect();
        assert_eq!(names, ["incident_triage", "service_health_check", "deployment_review"]);
        let health = &listed[1];
        let arguments = health.arguments.as_ref().unwrap();
        assert_eq!(arguments[0].name, "service_name");
        assert_eq!(arguments[0].required, Some(true));
        assert!(arguments.iter().skip(1).all(|argument| argument.required == Some(false)));
    }

    #[test]
    fn every_prompt_renders_with_arguments_substituted_and_queries_that_parse() {
        let cases: Vec<Case<Vec<&str>>> = vec![
            (
                "incident_triage",
                vec![],
                vec!["highest-priority open issue", "`list_recent_issues` with `{}`"],
            ),
            (
                "incident_triage",
                vec![
                    ("issue_id", json!("abc-123")),
                    ("entity_name", json!("checkout-service")),
                    ("account_id", json!("42")),
                ],
                vec![
                    "\"abc-123\"",
                    "in account 42",
                    r#"{"account_id":42,"name_pattern":"checkout-service"}"#,
                ],
            ),
            (
                "service_health_check",
                vec![("service_name", json!("checkout-service"))],
                vec!["over the last 1 hour", "SINCE 1 hour ago", "COMPARE WITH 1 day ago"],
            ),
            (
                "service_health_check",
                vec![
                    ("service_name", json!("payments-api")),
                    ("time_period", json!("past 3 days")),
                    ("account_id", json!(7)),
                ],
                vec!["SINCE 3 days ago", "COMPARE WITH 1 week ago", "\"account_id\":7"],
            ),
            (
                "service_health_check",
                vec![("service_name", json!("payments-api")), ("time_period", json!("yesterday"))],
                vec!["UNTIL", "epoch ms", "convert_time_period_to_epoch_ms"],
            ),
            (
                "deployment_review",
                vec![("service_name", json!("checkout-service")), ("version", json!("1.2.3"))],
                vec!["version = '1.2.3'", "SINCE <D> UNTIL <D + 1800000>", "replace <D> with that timestamp"],
            ),
            (
                "deployment_review",
                vec![
                    ("service_name", json!("checkout-service")),
                    ("deployment_time", json!("1715770000000")),
                ],
                vec![
                    "SINCE 1715770000000 UNTIL 1715771800000 COMPARE WITH 30 minutes ago",
                    "made at 1715770000000",
                ],
            ),
            (
                "deployment_review",
                vec![("service_name", json!("checkout-service")), ("deployment_time", json!("1715770000"))],
                vec!["made at 1715770000000"],
            ),
        ];
        for (name, pairs, needles) in cases {
            let text = text_of(name, &pairs);
            for needle in needles {
                assert!(text.contains(needle), "{name} {pairs:?} lacks {needle}:\n{text}");
            }
            let queries = queries_in(&text);
            assert!(queries.len() >= 5, "{name}: {queries:?}");
            for query in queries {
                let runnable = query.replace("<D - 3600000>", "1").replace("<D + 3600000>", "2");
                let runnable = runnable.replace("<D + 1800000>", "2").replace("<D>", "1");
                newrelic_mcp_nrql::parse(&runnable)
                    .unwrap_or_else(|error| panic!("{name}: {query}: {error}"));
            }
        }
    }

    #[test]
    fn values_cannot_escape_their_string_literal() {
        let hostile = "x' OR appName LIKE '%";
        let text = text_of("service_health_check", &[("service_name", json!(hostile))]);
        for query in queries_in(&text) {
            let parsed = newrelic_mcp_nrql::parse(&query).unwrap();
            let (mut literal_found, mut like_found) = (false, false);
            if let Some(select) = parsed.as_select() {
                select.visit_exprs(&mut |expr| match expr {
                    Expr::Literal(Literal::String(value)) => literal_found |= value == hostile,
                    Expr::Like { .. } => like_found = true,
                    _ => {}
                });
            }
            assert!(literal_found || !query.contains("appName"), "{query}");
            assert!(!like_found, "the value became a LIKE condition: {query}");
        }
    }

    #[test]
    fn refuses_missing_unknown_and_malformed_arguments_naming_them() {
        let cases: Vec<Case<&str>> = vec![
            ("service_health_check", vec![], "needs the argument 'service_name'"),
            (
                "service_health_check",
                vec![("service_name", json!("  "))],
                "needs the argument 'service_name'",
            ),
            ("deployment_review", vec![("version", json!("1"))], "needs the argument 'service_name'"),
            (
                "incident_triage",
                vec![("service", json!("x"))],
                "takes no argument 'service'; it takes: issue_id, entity_name, account_id",
            ),
            (
                "incident_triage",
                vec![("account_id", json!("abc"))],
                "argument 'account_id' must be a New Relic account id",
            ),
            (
                "incident_triage",
                vec![("entity_name", json!(["x"]))],
                "argument 'entity_name' must be a string",
            ),
            ("incident_triage", vec![("entity_name", json!("a\nb"))], "control characters"),
            ("incident_triage", vec![("entity_name", json!("x".repeat(300)))], "longer than 256"),
            (
                "service_health_check",
                vec![("service_name", json!("a")), ("time_period", json!("whenever"))],
                "argument 'time_period' is unreadable",
            ),
            (
                "deployment_review",
                vec![("service_name", json!("a")), ("deployment_time", json!("soonish"))],
                "argument 'deployment_time' is unreadable",
            ),
            (
                "nope",
                vec![],
                "unknown prompt 'nope'; prompts: incident_triage, service_health_check, deployment_review",
            ),
        ];
        for (name, pairs, needle) in cases {
            let error = get(name, Some(&arguments(&pairs)), NOW).unwrap_err().to_string();
            assert!(error.contains(needle), "{name} {pairs:?}: {error}");
        }
        assert!(get("service_health_check", None, NOW).is_err());
        assert!(get("incident_triage", None, NOW).is_ok());
    }

    #[test]
    fn reads_relative_periods_and_picks_a_baseline_that_fits() {
        let cases = [
            ("last 1 hour", Some((1, "hours")), Some("1 day")),
            ("last hour", Some((1, "hours")), Some("1 day")),
            ("past 30 minutes", Some((30, "minutes")), Some("1 day")),
            ("15m", Some((15, "minutes")), Some("1 day")),
            ("Last 2 Days", Some((2, "days")), Some("1 week")),
            ("the last 2 weeks", Some((2, "weeks")), None),
            ("last 0 hours", None, None),
            ("yesterday", None, None),
        ];
        for (text, expected, baseline) in cases {
            let window = relative_window(text);
            match (expected, &window) {
                (Some((amount, unit)), Some(Window::Relative { amount: a, unit: u, .. })) => {
                    assert_eq!((*a, *u), (amount, unit), "{text}");
                }
                (None, None) => continue,
                other => panic!("{text}: {other:?}"),
            }
            assert_eq!(window.unwrap().baseline(), baseline, "{text}");
        }
    }
}
