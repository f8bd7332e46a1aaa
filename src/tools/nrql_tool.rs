//! A builder for tools answered by one NRQL query made from a template.
//!
//! Most analysis tools are the same three steps around a different query: turn documented
//! arguments into values, run one NRQL query, and turn its rows into numbers an SRE wants
//! first. This module owns the middle and the safety around it, so a domain file only says
//! which query and how to read it:
//!
//! - A tool declares its queries as [`Shape`]s: NRQL template text with typed `{{name}}`
//!   placeholders, plus optional [`Condition`]s (`level = {{level}}`) that the call switches
//!   on or off. Every combination of conditions is expanded and parsed with
//!   [`Template::parse`] once, when the plugin is built; a call only fills values into the
//!   parsed tree, so no argument can add a clause, whatever it contains.
//! - The tool's `choose` function turns its arguments into an [`NrqlCall`]: which shape,
//!   which conditions, which values, and a render context (what the renderer must know
//!   besides the rows, e.g. the app name for its headline).
//! - [`nrql_tool`] does the rest on every call: fills the template, resolves the account
//!   and checks it against the allow-list, checks the filled query against the server's
//!   NRQL [`Policy`] exactly as `execute_nrql_query` does, and plans one `NrqlQuery`
//!   request, cached by the canonical query text and the render context.
//! - The tool's `render` function reads an [`NrqlAnswer`] (rows, metadata, account, query)
//!   and returns the output; [`NrqlAnswer::output`] adds the account, the query, notes from
//!   New Relic and partial-data warnings so every such tool reports them alike.
//!
//! Templates are constants of the code, so a template that fails to parse is a bug; the
//! tool then answers with an internal error naming it rather than panicking, and each
//! domain's tests parse all of its shapes ([`parse_all`]) so such a bug never ships.

pub(crate) mod args;
pub(crate) mod values;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    NrqlAccounts, Plan, PlanContext, PlanError, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::{ParamSpec, Policy, Template, TemplateError};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::account::resolve_account;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::data_access::{MAX_QUERY_BYTES, NRQL_QUERY};
use super::render::{at, list_at, response_notes, warnings};

/// How long New Relic may run one of these queries; NerdGraph's own default is 5 s, which
/// a FACET over a day of logs can exceed.
const DEFAULT_NRQL_TIMEOUT_SECONDS: u64 = 15;
/// Time beyond the NRQL timeout for the HTTP round trip and retries.
const TRANSPORT_ALLOWANCE: Duration = Duration::from_secs(10);
/// Marker in a shape's text replaced by `WHERE c1 AND c2 …` (or nothing).
const WHERE_MARKER: &str = "{where}";
/// Marker in a shape's text replaced by `AND c1 AND c2 …` (or nothing), after a fixed condition.
const AND_MARKER: &str = "{and}";
/// Optional conditions one shape may declare: each doubles the templates parsed at build.
const MAX_CONDITIONS: usize = 4;

/// An optional `WHERE` condition of a [`Shape`], switched on by [`NrqlCall::condition`].
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// How calls refer to it.
    pub name: &'static str,
    /// NRQL of the condition with its placeholders, e.g. `level = {{level}}`.
    pub nrql: &'static str,
    /// The placeholders `nrql` uses.
    pub params: Vec<ParamSpec>,
}

impl Condition {
    /// A condition with one placeholder named like the condition, e.g.
    /// `Condition::one("level", "level = {{level}}", ParamType::String)`.
    pub(crate) fn one(name: &'static str, nrql: &'static str, kind: newrelic_mcp_nrql::ParamType) -> Self {
        Self { name, nrql, params: vec![ParamSpec::new(name, kind)] }
    }

    /// A condition without placeholders, e.g. `error IS true`.
    pub(crate) fn flag(name: &'static str, nrql: &'static str) -> Self {
        Self { name, nrql, params: Vec::new() }
    }
}

/// One query of a tool: NRQL template text, its parameters, and its optional conditions.
///
/// The text holds `{where}` where `WHERE c1 AND c2 …` goes when conditions are on, or
/// `{and}` after a fixed `WHERE` for `AND c1 AND c2 …`; with no condition on, the marker
/// disappears. The text is the code's own, never a caller's.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// How calls refer to it.
    pub name: &'static str,
    /// The template text.
    pub nrql: String,
    /// The placeholders of the text itself (conditions bring their own).
    pub params: Vec<ParamSpec>,
    /// The optional conditions.
    pub conditions: Vec<Condition>,
}

impl Shape {
    pub(crate) fn new(name: &'static str, nrql: impl Into<String>, params: Vec<ParamSpec>) -> Self {
        Self { name, nrql: nrql.into(), params, conditions: Vec::new() }
    }

    #[must_use]
    pub(crate) fn with_conditions(mut self, conditions: Vec<Condition>) -> Self {
        self.conditions = conditions;
        self
    }

    /// The template text and parameters with the conditions in `mask` switched on.
    fn expand(&self, mask: usize) -> (String, Vec<ParamSpec>) {
        let chosen: Vec<&Condition> = self
            .conditions
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, c)| c)
            .collect();
        let joined = chosen.iter().map(|c| c.nrql).collect::<Vec<_>>().join(" AND ");
        let (where_text, and_text) = if chosen.is_empty() {
            (String::new(), String::new())
        } else {
            (format!("WHERE {joined}"), format!("AND {joined}"))
        };
        let text = self.nrql.replace(WHERE_MARKER, &where_text).replace(AND_MARKER, &and_text);
        let mut params = self.params.clone();
        params.extend(chosen.iter().flat_map(|c| c.params.iter().cloned()));
        (text, params)
    }

    /// Every combination of conditions, parsed; the key is the bit mask of conditions on.
    fn parse(&self) -> Vec<(usize, Result<Template, TemplateError>)> {
        let count = self.conditions.len().min(MAX_CONDITIONS);
        (0..(1usize << count))
            .map(|mask| {
                let (text, params) = self.expand(mask);
                (mask, Template::parse(&text, &params))
            })
            .collect()
    }
}

/// Parses every combination of every shape; the first failure names its shape and text.
/// Each domain's tests check their shapes with it.
#[cfg(test)]
pub(crate) fn parse_all(shapes: &[Shape]) -> Result<usize, String> {
    let mut parsed = 0;
    for shape in shapes {
        if shape.conditions.len() > MAX_CONDITIONS {
            return Err(format!("shape '{}' has more than {MAX_CONDITIONS} conditions", shape.name));
        }
        for (mask, result) in shape.parse() {
            result.map_err(|error| {
                format!("shape '{}' (conditions {mask:b}): {error}\n{}", shape.name, shape.expand(mask).0)
            })?;
            parsed += 1;
        }
    }
    Ok(parsed)
}

/// What one call's arguments became: the query to run and what its renderer needs.
#[derive(Debug, Clone)]
pub(crate) struct NrqlCall<C> {
    account_id: Option<i64>,
    shape: &'static str,
    conditions: Vec<&'static str>,
    values: BTreeMap<String, Value>,
    context: C,
}

impl<C> NrqlCall<C> {
    /// A call of `shape` for the requested account (`None`: the configured default).
    pub(crate) fn new(shape: &'static str, account_id: Option<i64>, context: C) -> Self {
        Self { account_id, shape, conditions: Vec::new(), values: BTreeMap::new(), context }
    }

    /// Sets a placeholder's value.
    #[must_use]
    pub(crate) fn value(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    /// Sets a placeholder's value when there is one; otherwise its default applies.
    #[must_use]
    pub(crate) fn value_opt<T: Into<Value>>(self, name: &str, value: Option<T>) -> Self {
        match value {
            Some(value) => self.value(name, value),
            None => self,
        }
    }

    /// Switches a condition on.
    #[must_use]
    pub(crate) fn condition(mut self, name: &'static str) -> Self {
        if !self.conditions.contains(&name) {
            self.conditions.push(name);
        }
        self
    }

    /// Switches on a one-placeholder condition (see [`Condition::one`]) when `value` is given.
    #[must_use]
    pub(crate) fn filter<T: Into<Value>>(self, name: &'static str, value: Option<T>) -> Self {
        match value {
            Some(value) => self.condition(name).value(name, value),
            None => self,
        }
    }

    /// Switches a placeholder-free condition on when `on`.
    #[must_use]
    pub(crate) fn flag(self, name: &'static str, on: bool) -> Self {
        if on { self.condition(name) } else { self }
    }
}

/// The rows of one answered query and what a renderer reports beside them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NrqlAnswer {
    pub account: i64,
    /// The query as sent.
    pub nrql: String,
    pub rows: Vec<Value>,
    pub metadata: Value,
    notes: String,
    warnings: Value,
}

impl NrqlAnswer {
    /// Reads a `NrqlQuery` response; a missing result is an actionable error.
    pub(crate) fn from_response(
        account: i64,
        nrql: String,
        timeout_seconds: u64,
        response: &UpstreamResponse,
    ) -> Result<Self, ToolError> {
        let result = at(&response.data, &["actor", "account", "nrql"]);
        if result.is_null() {
            let reason = response.partial_errors.first().cloned().unwrap_or_else(|| "no result".into());
            let message = if reason.to_lowercase().contains("timeout") {
                format!(
                    "the query timed out after {timeout_seconds} s at New Relic: shorten `since` or add filters \
                     (app_name, hostname, level) and retry"
                )
            } else {
                format!("New Relic returned no result for the query: {reason}")
            };
            return Err(ToolError::new(ToolErrorKind::BadRequest, message));
        }
        let mut notes = String::new();
        for message in list_at(result, &["metadata", "messages"]) {
            if let Some(message) = message.as_str() {
                notes.push_str(&format!("note from New Relic: {message}\n"));
            }
        }
        notes.push_str(&response_notes(response));
        Ok(Self {
            account,
            nrql,
            rows: list_at(result, &["results"]),
            metadata: at(result, &["metadata"]).clone(),
            notes,
            warnings: warnings(response),
        })
    }

    /// The first row, or `Null`.
    pub(crate) fn first(&self) -> &Value {
        self.rows.first().unwrap_or(&Value::Null)
    }

    /// The tool's output: `structured` plus `account_id`, `nrql_query` and `warnings`;
    /// `text` plus New Relic's notes and partial-data warnings.
    pub(crate) fn output(&self, mut structured: Map<String, Value>, mut text: String) -> ToolOutput {
        structured.insert("account_id".into(), json!(self.account));
        structured.insert("nrql_query".into(), json!(self.nrql));
        structured.insert("warnings".into(), self.warnings.clone());
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.notes);
        ToolOutput { structured: Value::Object(structured), text }
    }
}

/// Turns a tool's arguments into its call. Pure.
pub(crate) type Choose<A, C> = fn(A, &PlanContext) -> Result<NrqlCall<C>, PlanError>;
/// Turns the answer into the tool's output. Pure.
pub(crate) type Render<C> = fn(&NrqlAnswer, &C) -> Result<ToolOutput, ToolError>;

/// Everything a template-based NRQL tool holds: its parsed templates and its two functions.
pub(crate) struct NrqlToolState<A, C> {
    /// By (shape, conditions mask).
    templates: BTreeMap<(&'static str, usize), Result<Template, TemplateError>>,
    /// Condition names of each shape, in mask bit order.
    conditions: BTreeMap<&'static str, Vec<&'static str>>,
    policy: Arc<Policy>,
    choose: Choose<A, C>,
    render: Render<C>,
}

/// A runtime tool answered by one NRQL query: `shapes` are parsed here, once; each call
/// runs `choose`, fills the chosen template, checks account and `policy`, and plans one
/// cached `NrqlQuery` request whose response `render` reads.
pub(crate) fn nrql_tool<A, C>(
    spec: Spec,
    shapes: Vec<Shape>,
    policy: &Arc<Policy>,
    choose: Choose<A, C>,
    render: Render<C>,
) -> Arc<dyn Tool>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    C: Serialize + Send + Sync + 'static,
{
    let mut templates = BTreeMap::new();
    let mut conditions = BTreeMap::new();
    for shape in &shapes {
        conditions.insert(shape.name, shape.conditions.iter().map(|c| c.name).collect());
        for (mask, template) in shape.parse() {
            templates.insert((shape.name, mask), template);
        }
    }
    let state = NrqlToolState { templates, conditions, policy: policy.clone(), choose, render };
    BuiltinTool::with_state(spec, state, plan_nrql_tool::<A, C>)
}

fn internal(descriptor: &ToolDescriptor, problem: impl std::fmt::Display) -> PlanError {
    PlanError::Tool(ToolError::new(
        ToolErrorKind::Internal,
        format!("{} cannot build its query ({problem}); use execute_nrql_query meanwhile", descriptor.name),
    ))
}

fn plan_nrql_tool<A, C>(
    state: &NrqlToolState<A, C>,
    args: A,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError>
where
    C: Serialize + Send + Sync + 'static,
{
    let call = (state.choose)(args, context)?;
    let names = state
        .conditions
        .get(call.shape)
        .ok_or_else(|| internal(descriptor, format!("no query shape '{}'", call.shape)))?;
    let mut mask = 0;
    for condition in &call.conditions {
        let bit = names
            .iter()
            .position(|name| name == condition)
            .ok_or_else(|| internal(descriptor, format!("no condition '{condition}' in '{}'", call.shape)))?;
        mask |= 1 << bit;
    }
    let template = match state.templates.get(&(call.shape, mask)) {
        Some(Ok(template)) => template,
        Some(Err(error)) => return Err(internal(descriptor, error)),
        None => return Err(internal(descriptor, format!("no template for '{}'", call.shape))),
    };
    let query =
        template.fill(&call.values).map_err(|error| PlanError::InvalidArguments(error.to_string()))?;
    let text = newrelic_mcp_nrql::print(&query);
    if text.len() > MAX_QUERY_BYTES {
        return Err(PlanError::InvalidArguments(format!(
            "the query would be {} bytes; New Relic accepts at most {MAX_QUERY_BYTES}: shorten the values",
            text.len()
        )));
    }
    let account = resolve_account(call.account_id, context)?;
    state
        .policy
        .check_call(&query, &[account], context.now_epoch_ms)
        .map_err(|violation| ToolError::new(ToolErrorKind::Policy, violation.to_string()))?;
    let timeout_seconds = DEFAULT_NRQL_TIMEOUT_SECONDS;
    let request = UpstreamRequest {
        operation: "NrqlQuery",
        document: NRQL_QUERY.into(),
        variables: json!({ "accountId": account, "nrql": text, "timeout": timeout_seconds }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    // The canonical query and the renderer's inputs decide the answer, so they key the cache.
    let normalised = json!({ "nrql": text, "render": call.context, "timeout": timeout_seconds });
    let render = state.render;
    let render_context = call.context;
    let deadline = Duration::from_secs(timeout_seconds) + TRANSPORT_ALLOWANCE;
    let plan = upstream_plan(descriptor, Some(account), &normalised, request, deadline, move |response| {
        let answer = NrqlAnswer::from_response(account, text.clone(), timeout_seconds, &response)?;
        render(&answer, &render_context)
    });
    Ok(Plan { nrql_accounts: NrqlAccounts::one(account), ..plan })
}

/// Planning and rendering helpers for the tests of tools built here.
#[cfg(test)]
pub(crate) mod testing {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;

    /// The account the test context defaults to.
    pub(crate) const ACCOUNT: i64 = 1_000_001;

    pub(crate) fn context() -> PlanContext {
        PlanContext {
            default_account: Some(ACCOUNT),
            allowed_accounts: None,
            now_epoch_ms: 1_715_776_200_000,
            default_timeout: Duration::from_secs(30),
        }
    }

    /// Plans a call of the tool `name` among `tools`.
    pub(crate) fn plan(tools: &[Arc<dyn Tool>], name: &str, arguments: Value) -> Result<Plan, PlanError> {
        let tool = tools.iter().find(|tool| tool.descriptor().name == name).unwrap();
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        tool.plan(arguments, &context())
    }

    /// The NRQL a plan sends.
    pub(crate) fn nrql(plan: &Plan) -> String {
        match &plan.action {
            PlanAction::Upstream { request, .. } => request.variables["nrql"].as_str().unwrap().to_string(),
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected an upstream plan"),
        }
    }

    /// Renders `rows` as the answer to `plan`'s query.
    pub(crate) fn render(plan: &Plan, rows: Value) -> Result<ToolOutput, ToolError> {
        let PlanAction::Upstream { render, .. } = &plan.action else { panic!("expected an upstream plan") };
        let data = json!({"actor": {"account": {"nrql": {"results": rows, "metadata": {}}}}});
        render(UpstreamResponse { data, pages: 1, ..Default::default() })
    }

    /// Plans `arguments` for `name` and renders `rows` as its answer.
    pub(crate) fn answer(
        tools: &[Arc<dyn Tool>],
        name: &str,
        arguments: Value,
        rows: Value,
    ) -> Result<ToolOutput, ToolError> {
        render(&plan(tools, name, arguments).unwrap(), rows)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_actors::tool::{PlanAction, ToolHints};
    use newrelic_mcp_nrql::ParamType;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    /// Arguments of the test tool.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Args {
        /// App.
        app_name: String,
        /// Level.
        level: Option<String>,
        /// Errors only.
        #[serde(default)]
        errors_only: bool,
        /// Window.
        since: Option<String>,
        /// Account.
        account_id: Option<i64>,
    }

    #[derive(Debug, Serialize)]
    struct Context {
        app: String,
    }

    fn shapes() -> Vec<Shape> {
        vec![
            Shape::new(
                "lines",
                "SELECT count(*) FROM Log WHERE service = {{app}} {and} FACET level SINCE {{since}} ago",
                vec![
                    ParamSpec::new("app", ParamType::String),
                    ParamSpec::new("since", ParamType::Duration).with_default("1 hour"),
                ],
            )
            .with_conditions(vec![
                Condition::one("level", "level = {{level}}", ParamType::String),
                Condition::flag("errors", "level IN ('ERROR', 'FATAL')"),
            ]),
            Shape::new("broken", "SELECT count(* FROM Log", Vec::new()),
        ]
    }

    fn choose(args: Args, _: &PlanContext) -> Result<NrqlCall<Context>, PlanError> {
        if args.app_name == "broken" {
            return Ok(NrqlCall::new("broken", args.account_id, Context { app: args.app_name }));
        }
        Ok(NrqlCall::new("lines", args.account_id, Context { app: args.app_name.clone() })
            .value("app", args.app_name)
            .value_opt("since", args.since)
            .filter("level", args.level)
            .flag("errors", args.errors_only))
    }

    fn render(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
        let mut structured = Map::new();
        structured.insert("rows".into(), json!(answer.rows.len()));
        Ok(answer.output(structured, format!("{}: {} rows", context.app, answer.rows.len())))
    }

    fn tool() -> Arc<dyn Tool> {
        let spec = Spec {
            name: "test_tool",
            title: "Test",
            description: "Test",
            category: "test",
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(30)),
        };
        nrql_tool(spec, shapes(), &Arc::new(Policy::default()), choose, render)
    }

    fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1),
            allowed_accounts: Some(Arc::from(vec![1, 2])),
            now_epoch_ms: 1_700_000_000_000,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plan(arguments: Value) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        tool().plan(arguments, &context())
    }

    fn nrql_of(plan: &Plan) -> String {
        match &plan.action {
            PlanAction::Upstream { request, .. } => request.variables["nrql"].as_str().unwrap().to_string(),
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected an upstream plan"),
        }
    }

    #[test]
    fn conditions_expand_into_every_combination() {
        let shape = &shapes()[0];
        let cases = [
            (0b00, "SELECT count(*) FROM Log WHERE service = {{app}}  FACET level SINCE {{since}} ago"),
            (
                0b01,
                "SELECT count(*) FROM Log WHERE service = {{app}} AND level = {{level}} FACET level SINCE {{since}} ago",
            ),
            (
                0b11,
                "SELECT count(*) FROM Log WHERE service = {{app}} AND level = {{level}} AND level IN ('ERROR', 'FATAL') FACET level SINCE {{since}} ago",
            ),
        ];
        for (mask, expected) in cases {
            assert_eq!(shape.expand(mask).0, expected);
        }
        assert_eq!(shape.expand(0b01).1.len(), 3);
        assert_eq!(parse_all(&shapes()[..1]), Ok(4));
        let error = parse_all(&shapes()).unwrap_err();
        assert!(error.contains("shape 'broken'"), "{error}");
    }

    #[test]
    fn plans_the_filled_query_with_conditions_and_defaults() {
        let cases = [
            (
                json!({"app_name": "web"}),
                "SELECT count(*) FROM Log WHERE service = 'web' FACET level SINCE 1 hour ago",
            ),
            (
                json!({"app_name": "web", "level": "WARN", "since": "6 hours"}),
                "SELECT count(*) FROM Log WHERE service = 'web' AND level = 'WARN' FACET level SINCE 6 hours ago",
            ),
            (
                json!({"app_name": "web", "errors_only": true}),
                "SELECT count(*) FROM Log WHERE service = 'web' AND level IN ('ERROR', 'FATAL') FACET level SINCE 1 hour ago",
            ),
        ];
        for (arguments, expected) in cases {
            let planned = plan(arguments.clone()).unwrap();
            assert_eq!(nrql_of(&planned), expected, "{arguments}");
            assert_eq!(planned.nrql_accounts, NrqlAccounts::one(1));
            assert_eq!(
                planned.timeout,
                Duration::from_secs(DEFAULT_NRQL_TIMEOUT_SECONDS) + TRANSPORT_ALLOWANCE
            );
        }
    }

    #[test]
    fn hostile_values_stay_inside_their_literal() {
        let planned = plan(json!({"app_name": "x' OR service LIKE '%", "level": "a\\' FACET x"})).unwrap();
        let nrql = nrql_of(&planned);
        let reparsed = newrelic_mcp_nrql::parse(&nrql).unwrap();
        assert_eq!(newrelic_mcp_nrql::print(&reparsed), nrql);
        assert!(
            nrql.starts_with(
                r"SELECT count(*) FROM Log WHERE service = 'x\' OR service LIKE \'%' AND level = "
            ),
            "{nrql}"
        );
        assert!(nrql.ends_with("FACET level SINCE 1 hour ago"), "{nrql}");
    }

    #[test]
    fn the_cache_key_follows_the_query_and_the_account_not_the_spelling() {
        let key = |arguments: Value| plan(arguments).unwrap().cache.unwrap().key;
        let implied = key(json!({"app_name": "web"}));
        assert_eq!(implied, key(json!({"app_name": "web", "since": "1 hour", "account_id": 1})));
        assert_ne!(implied, key(json!({"app_name": "web", "account_id": 2})));
        assert_ne!(implied, key(json!({"app_name": "api"})));
    }

    #[test]
    fn refuses_bad_values_accounts_and_policy_breaches_before_any_call() {
        assert!(matches!(
            plan(json!({"app_name": "web", "since": "soon"})),
            Err(PlanError::InvalidArguments(_))
        ));
        assert!(matches!(plan(json!({"app_name": "web", "extra": 1})), Err(PlanError::InvalidArguments(_))));
        let kind_of = |arguments: Value| match plan(arguments) {
            Err(PlanError::Tool(error)) => error.kind,
            other => panic!("expected a tool error, got {other:?}"),
        };
        assert_eq!(kind_of(json!({"app_name": "web", "account_id": 9})), ToolErrorKind::Policy);
        assert_eq!(kind_of(json!({"app_name": "web", "since": "90 days"})), ToolErrorKind::Policy);
        assert_eq!(kind_of(json!({"app_name": "broken"})), ToolErrorKind::Internal);
    }

    #[test]
    fn renders_through_the_answer_and_reports_notes() {
        let planned = plan(json!({"app_name": "web"})).unwrap();
        let PlanAction::Upstream { render, .. } = planned.action else { panic!("expected upstream") };
        let data = json!({"actor": {"account": {"nrql": {
            "results": [{"count": 3}], "metadata": {"messages": ["sampled"]}
        }}}});
        let response = UpstreamResponse {
            data,
            partial_errors: vec!["one shard failed".into()],
            pages: 1,
            truncated: false,
        };
        let output = render(response).unwrap();
        assert!(output.text.starts_with("web: 1 rows\n"), "{}", output.text);
        assert!(output.text.contains("note from New Relic: sampled"));
        assert!(output.text.contains("one shard failed"));
        assert_eq!(output.structured["account_id"], 1);
        assert_eq!(output.structured["warnings"], json!(["one shard failed"]));
        assert!(output.structured["nrql_query"].as_str().unwrap().contains("service = 'web'"));

        let timed_out = UpstreamResponse {
            data: json!({"actor": {"account": {"nrql": null}}}),
            partial_errors: vec!["NRDB query duration exceeded the set timeout".into()],
            pages: 1,
            truncated: false,
        };
        let error = render(timed_out).unwrap_err();
        assert!(error.message.contains("timed out after 15 s"), "{}", error.message);
    }
}
