//! Raw: `query_nerdgraph`, for whatever NerdGraph offers that no built-in tool covers.
//!
//! The caller's document is read locally first (without a schema: New Relic's is not shipped),
//! so a syntax error, an ambiguous or unknown operation, an absurd size or nesting, or an
//! account outside the allow-list costs no call to New Relic. A query is a read, cached for
//! [`CACHE_TTL`]. A mutation is refused unless writes are enabled; then it is a write like any
//! other, answered first with a preview and a confirmation token and sent only when the token
//! comes back. Every field the mutation calls is classified ([`mutations`]): an ordinary write
//! runs with writes enabled, a destructive one (or one this server does not know) needs
//! destructive access, and credential or account administration needs its own switch as well;
//! the strictest field decides. Subscriptions are refused: NerdGraph answers over HTTP.
//!
//! `account_id` fills the `$accountId` variable when the operation declares it and the caller's
//! variables leave it out (the configured account when `account_id` is left out too). An
//! `account_id` that disagrees with `variables.accountId` is refused rather than guessed at.

mod accounts;
mod document;
mod mutations;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    CONFIRMATION_TOKEN_ARGUMENT, NrqlAccounts, Plan, PlanAction, PlanContext, PlanError, Plugin, Renderer,
    Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints, ToolOutput, WriteAccess, WritePlan,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use self::document::{DocumentError, Operation, OperationKind};
use self::mutations::{Classified, MutationTier};
use super::account::check_allowed;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::render::{response_notes, warnings};
use crate::nerdgraph::classify::mutation_payload_errors;

const CATEGORY: &str = "raw";
pub const QUERY_NERDGRAPH_TOOL: &str = "query_nerdgraph";
/// Operation name in logs and metrics (the caller's own names are free text).
const OPERATION: &str = "QueryNerdgraph";
/// Short: a raw query is often a one-off look, and a stale answer would confuse a follow-up.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// Largest `variables` object accepted, as JSON bytes.
const MAX_VARIABLES_BYTES: usize = 64 * 1024;
/// Longest text rendering; the structured content carries the whole answer.
const MAX_TEXT_BYTES: usize = 24 * 1024;
/// Largest answer passed on at all; beyond it the caller is asked to narrow the query.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

const DESCRIPTION_READ_ONLY: &str = "Run a NerdGraph (New Relic GraphQL) query that no other tool covers. \
    Read-only: mutations and subscriptions are refused. The document is checked locally first (syntax errors \
    come back with line and column); pass operation_name when it defines several operations. account_id fills \
    the $accountId variable when the query declares one (default: the configured account); accounts named in \
    arguments must be allowed. Answers are cached for 30 s.";
const DESCRIPTION_WRITES: &str = "Run a NerdGraph (New Relic GraphQL) query, or a mutation, that no other tool \
    covers. A mutation runs in two steps: the first call sends nothing and returns a preview and a \
    confirmation_token; call again with the same arguments and the token to apply it. Only ordinary writes run: \
    creating or updating alert policies, alert conditions, dashboards, workloads and service levels, adding tags, \
    acknowledging or closing issues, deployment markers and change events, undeleting a dashboard, and the like. \
    Refused, because destructive tools are off: deletions, replacing whole lists, muting rules and downtimes, \
    retention and drop rules, turning off or redirecting what alerts, and any mutation field this server does \
    not know. Refused too: API keys, accounts, users, roles and other access administration. Subscriptions are \
    refused. The document is checked locally first; pass operation_name when it defines several operations. \
    account_id fills the $accountId variable when the document declares one (default: the configured account); \
    accounts named in arguments must be allowed. Query answers are cached for 30 s.";
const DESCRIPTION_DESTRUCTIVE: &str = "Run a NerdGraph (New Relic GraphQL) query, or a mutation, that no other \
    tool covers, deletions, muting, retention and drop rules included. A mutation runs in two steps: the first \
    call sends nothing and returns a preview and a confirmation_token; call again with the same arguments and \
    the token to apply it. Refused: mutations that mint, change or revoke credentials and access, or create, \
    change or cancel accounts, users and roles (API keys, account cancellation, user and role management), \
    because administration mutations are off. Subscriptions are refused. The document is checked locally \
    first; pass operation_name when it defines several operations. account_id fills the $accountId variable \
    when the document declares one (default: the configured account); accounts named in arguments must be \
    allowed. Query answers are cached for 30 s.";
const DESCRIPTION_ADMINISTRATION: &str = "Run a NerdGraph (New Relic GraphQL) query, or a mutation, that no \
    other tool covers: any mutation, deletions and credential, account, user and role administration included. \
    A mutation runs in two steps: the first call sends nothing and returns a preview and a confirmation_token; \
    call again with the same arguments and the token to apply it. Subscriptions are refused. The document is \
    checked locally first; pass operation_name when it defines several operations. account_id fills the \
    $accountId variable when the document declares one (default: the configured account); accounts named in \
    arguments must be allowed. Query answers are cached for 30 s.";

const MUTATION_WARNING: &str = "a raw mutation changes New Relic exactly as written and is not read back \
    afterwards: check the document and the variables before confirming";

/// Arguments of `query_nerdgraph`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryNerdgraphArgs {
    /// The GraphQL document, e.g. `{ actor { user { name email } } }` or
    /// `query($accountId: Int!) { actor { account(id: $accountId) { name } } }`.
    pub query: String,
    /// Values of the document's variables, e.g. `{"guid": "MXxBUE18…"}`.
    pub variables: Option<Map<String, Value>>,
    /// Account to query: fills `$accountId` when the document declares it and `variables` do not
    /// set it. Defaults to the configured account.
    pub account_id: Option<i64>,
    /// Which operation to run when the document defines several.
    pub operation_name: Option<String>,
}

pub struct RawPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl RawPlugin {
    /// `write_access` decides whether mutations may run, and the tool's hints say so.
    pub fn new(write_access: WriteAccess) -> Self {
        Self { tools: vec![query_nerdgraph(write_access)] }
    }
}

impl Default for RawPlugin {
    fn default() -> Self {
        Self::new(WriteAccess::ReadOnly)
    }
}

super::builtin::builtin_plugin!(
    RawPlugin,
    "raw",
    "Any NerdGraph query; mutations only when writes are enabled"
);

fn query_nerdgraph(write_access: WriteAccess) -> Arc<dyn Tool> {
    let (hints, description) = match write_access {
        WriteAccess::ReadOnly => (ToolHints::READ, DESCRIPTION_READ_ONLY),
        WriteAccess::Writes => (ToolHints::WRITE, DESCRIPTION_WRITES),
        WriteAccess::Destructive => (ToolHints::DESTRUCTIVE, DESCRIPTION_DESTRUCTIVE),
        WriteAccess::Administration => (ToolHints::DESTRUCTIVE, DESCRIPTION_ADMINISTRATION),
    };
    let tool = BuiltinTool::with_state(
        Spec {
            name: QUERY_NERDGRAPH_TOOL,
            title: "Query NerdGraph",
            description,
            category: CATEGORY,
            hints,
            cache_ttl: Some(CACHE_TTL),
        },
        write_access,
        plan_query_nerdgraph,
    );
    match write_access {
        WriteAccess::ReadOnly => tool,
        WriteAccess::Writes | WriteAccess::Destructive | WriteAccess::Administration => {
            Arc::new(Confirmable::new(tool))
        }
    }
}

/// The tool as offered when mutations may run: its schema also lists the confirmation token,
/// which the runtime takes out of the arguments before planning.
struct Confirmable {
    inner: Arc<dyn Tool>,
    descriptor: ToolDescriptor,
}

impl Confirmable {
    fn new(inner: Arc<dyn Tool>) -> Self {
        let mut descriptor = inner.descriptor().clone();
        let mut schema = (*descriptor.input_schema).clone();
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            properties.insert(
                CONFIRMATION_TOKEN_ARGUMENT.into(),
                json!({
                    "type": "string",
                    "description": "Only for a mutation: leave out on the first call; pass the token the first \
                        call returned to apply the change."
                }),
            );
        }
        descriptor.input_schema = Arc::new(schema);
        Self { inner, descriptor }
    }
}

impl Tool for Confirmable {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, mut arguments: Map<String, Value>, context: &PlanContext) -> Result<Plan, PlanError> {
        // The runtime has already taken the token; one that reached here carries no meaning.
        arguments.remove(CONFIRMATION_TOKEN_ARGUMENT);
        self.inner.plan(arguments, context)
    }
}

fn plan_query_nerdgraph(
    write_access: &WriteAccess,
    args: QueryNerdgraphArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let operation = document::select(&args.query, args.operation_name.as_deref()).map_err(document_error)?;
    let variables = args.variables.unwrap_or_default();
    let variables_bytes = Value::Object(variables.clone()).to_string().len();
    if variables_bytes > MAX_VARIABLES_BYTES {
        return Err(ToolError::new(
            ToolErrorKind::Policy,
            format!(
                "variables are {variables_bytes} bytes as JSON, over the {MAX_VARIABLES_BYTES} this tool accepts"
            ),
        )
        .into());
    }
    let (variables, account) = bind_account(&operation, variables, args.account_id, context)?;
    let named = accounts::named_accounts(&operation, &variables);
    named.check_allowed(context)?;
    match operation.kind {
        OperationKind::Subscription => Err(ToolError::new(
            ToolErrorKind::Policy,
            format!(
                "{} was not sent: NerdGraph answers each request over HTTP once and streams nothing; ask for \
                 the same fields in a query",
                operation.describe()
            ),
        )
        .into()),
        OperationKind::Mutation => {
            let accounts = named.all().into_iter().collect();
            plan_mutation(*write_access, operation, variables, accounts, context, descriptor)
        }
        OperationKind::Query => {
            let request = request(&operation, &variables, RequestKind::Read);
            let normalised = json!({ "document": operation.text, "variables": variables });
            let name = operation.name.clone();
            let mut plan = upstream_plan(
                descriptor,
                account,
                &normalised,
                request,
                context.default_timeout,
                move |response| render_query(name.as_deref(), response),
            );
            // NRQL read this way spends the NRQL budget of every account it names, like any
            // other query (at most New Relic's five; more cannot run as one NRQL query anyway).
            if operation.selects_nrql {
                let mut set = named.ids.clone();
                set.extend(account);
                let ids: Vec<i64> = set.into_iter().collect();
                plan.nrql_accounts = NrqlAccounts::many(&ids).ok_or_else(|| {
                    ToolError::new(
                        ToolErrorKind::BadRequest,
                        format!(
                            "the document runs NRQL across {} accounts; New Relic allows at most {}",
                            ids.len(),
                            NrqlAccounts::MAX
                        ),
                    )
                })?;
            }
            Ok(plan)
        }
    }
}

fn document_error(error: DocumentError) -> PlanError {
    let kind = match error {
        DocumentError::Empty => return PlanError::InvalidArguments(error.to_string()),
        DocumentError::TooLarge { .. } | DocumentError::TooDeep { .. } => ToolErrorKind::Policy,
        _ => ToolErrorKind::BadRequest,
    };
    ToolError::new(kind, error.to_string()).into()
}

/// Puts the call's account into `$accountId` where the operation declares it, and returns the
/// variables with the account the call reads (for the cache key and the NRQL budget).
fn bind_account(
    operation: &Operation,
    mut variables: Map<String, Value>,
    requested: Option<i64>,
    context: &PlanContext,
) -> Result<(Map<String, Value>, Option<i64>), ToolError> {
    if let Some(account) = requested {
        check_allowed(account, context)?;
    }
    let given = variables.get("accountId").map(|value| match value {
        Value::String(text) => text.trim().parse::<i64>().ok(),
        other => other.as_i64(),
    });
    match (given, requested) {
        (Some(given), Some(requested)) if given != Some(requested) => {
            return Err(ToolError::new(
                ToolErrorKind::BadRequest,
                format!(
                    "account_id is {requested} but variables.accountId is {}; give the account once",
                    variables.get("accountId").map(Value::to_string).unwrap_or_default()
                ),
            ));
        }
        (Some(_), _) => {}
        (None, _) => {
            let declared = operation.declared_variables.iter().any(|name| name == "accountId");
            if let Some(account) = requested.or(context.default_account).filter(|_| declared) {
                variables.insert("accountId".into(), json!(account));
            }
        }
    }
    let account = variables.get("accountId").and_then(Value::as_i64).or(requested);
    Ok((variables, account))
}

fn request(operation: &Operation, variables: &Map<String, Value>, kind: RequestKind) -> UpstreamRequest {
    UpstreamRequest {
        operation: OPERATION,
        document: Cow::Owned(operation.text.clone()),
        variables: Value::Object(variables.clone()),
        kind,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    }
}

/// The write access a mutation tier needs.
fn access_needed(tier: MutationTier) -> WriteAccess {
    match tier {
        MutationTier::OrdinaryWrite => WriteAccess::Writes,
        MutationTier::Destructive => WriteAccess::Destructive,
        MutationTier::Administration => WriteAccess::Administration,
    }
}

/// How the operator allows a tier, in the words of the command line.
fn switch_for(tier: MutationTier) -> &'static str {
    match tier {
        MutationTier::OrdinaryWrite => "--enable-writes",
        MutationTier::Destructive => "--enable-destructive",
        MutationTier::Administration => "--enable-admin-mutations together with --enable-destructive",
    }
}

/// One field's tier, and why, for a message: `alertsMutingRuleCreate is destructive (a muting
/// rule silences alerting)`.
fn tier_phrase(classified: &Classified<'_>) -> String {
    if !classified.listed {
        return format!(
            "{} is not a NerdGraph mutation this server knows, so it is treated as destructive",
            classified.field
        );
    }
    match classified.reason {
        "" => format!("{} is {}", classified.field, classified.tier),
        reason => format!("{} is {} ({reason})", classified.field, classified.tier),
    }
}

/// Why the fields `write_access` does not allow are refused, or `None` when every field may run.
fn refused_reasons(write_access: WriteAccess, fields: &[Classified<'_>]) -> Option<String> {
    let refused: Vec<String> = fields
        .iter()
        .filter(|classified| access_needed(classified.tier) > write_access)
        .map(|classified| {
            format!(
                "{}, which runs only when the server is started with {}",
                tier_phrase(classified),
                switch_for(classified.tier)
            )
        })
        .collect();
    (!refused.is_empty()).then(|| refused.join("; "))
}

fn plan_mutation(
    write_access: WriteAccess,
    operation: Operation,
    variables: Map<String, Value>,
    accounts: Vec<i64>,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let fields = operation.root_fields.join(", ");
    if write_access == WriteAccess::ReadOnly {
        return Err(ToolError::new(
            ToolErrorKind::Policy,
            format!(
                "{} ({fields}) was not sent: query_nerdgraph is read-only on this server. Mutations run only when \
                 the server is started with --enable-writes, and then each needs a confirmation",
                operation.describe()
            ),
        )
        .into());
    }
    let classified = mutations::classify_all(operation.root_fields.iter().map(String::as_str));
    if let Some(reasons) = refused_reasons(write_access, &classified) {
        return Err(ToolError::new(
            ToolErrorKind::Policy,
            format!("{} was not sent: {reasons}", operation.describe()),
        )
        .into());
    }
    accounts::check_each_root_field_names_an_account(&operation, &variables, context)?;
    let preview = preview(&operation, &variables, &classified);
    let name = operation.name.clone();
    let render: Renderer = Arc::new(move |response| render_mutation(name.as_deref(), response));
    Ok(Plan {
        tool: descriptor.name.clone(),
        action: PlanAction::Write(Box::new(WritePlan {
            preview,
            request: request(&operation, &variables, RequestKind::Write),
            render,
            read_back: None,
            accounts,
        })),
        cache: None,
        timeout: context.default_timeout,
        nrql_accounts: NrqlAccounts::NONE,
    })
}

/// What a confirmed mutation would send, in full.
fn preview(
    operation: &Operation,
    variables: &Map<String, Value>,
    classified: &[Classified<'_>],
) -> ToolOutput {
    let mut warnings = vec![MUTATION_WARNING.to_string()];
    for field in classified {
        match field.tier {
            MutationTier::OrdinaryWrite => {}
            MutationTier::Destructive => warnings.push(format!(
                "{}: what it deletes, silences or drops may not come back",
                tier_phrase(field)
            )),
            MutationTier::Administration => warnings.push(format!(
                "{}: it changes who or what can reach New Relic, or an account itself",
                tier_phrase(field)
            )),
        }
    }
    let text = format!(
        "DRY RUN. Would send {}, which calls {}:\n\n{}\n\nvariables: {}\n\n{}\n",
        operation.describe(),
        operation.root_fields.join(", "),
        operation.text.trim_end(),
        Value::Object(variables.clone()),
        warnings.iter().map(|warning| format!("warning: {warning}")).collect::<Vec<_>>().join("\n"),
    );
    ToolOutput {
        structured: json!({
            "dry_run": true,
            "operation": operation.name,
            "operation_type": operation.kind.as_str(),
            "mutations": operation.root_fields,
            "document": operation.text,
            "variables": variables,
            "warnings": warnings,
        }),
        text,
    }
}

/// `data` as NerdGraph sent it, with any partial-data warnings.
fn render_query(operation: Option<&str>, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let body = answer_text(&response.data)?;
    let heading = match operation {
        Some(name) => format!("NerdGraph answered query {name} ({} bytes):\n", body.len()),
        None => format!("NerdGraph answered ({} bytes):\n", body.len()),
    };
    Ok(answer(heading, body, operation, response))
}

/// A mutation's payload as NerdGraph sent it; errors inside it mean nothing was applied.
fn render_mutation(operation: Option<&str>, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let payload_errors = mutation_payload_errors(&response.data);
    if !payload_errors.is_empty() {
        return Err(ToolError::new(
            ToolErrorKind::BadRequest,
            format!("New Relic did not apply the mutation: {}", payload_errors.join("; ")),
        ));
    }
    let body = answer_text(&response.data)?;
    let heading = match operation {
        Some(name) => format!("Mutation {name} applied; NerdGraph answered ({} bytes):\n", body.len()),
        None => format!("Mutation applied; NerdGraph answered ({} bytes):\n", body.len()),
    };
    Ok(answer(heading, body, operation, response))
}

fn answer_text(data: &Value) -> Result<String, ToolError> {
    let body = data.to_string();
    if body.len() > MAX_ANSWER_BYTES {
        return Err(ToolError::new(
            ToolErrorKind::BadRequest,
            format!(
                "NerdGraph answered {} KiB, over the {} KiB this tool passes on: select fewer fields, or ask \
                 for fewer items (a smaller limit, a narrower search)",
                body.len() / 1024,
                MAX_ANSWER_BYTES / 1024
            ),
        ));
    }
    Ok(body)
}

fn answer(heading: String, body: String, operation: Option<&str>, response: UpstreamResponse) -> ToolOutput {
    let mut text = heading;
    text.push_str(&cut(&body, MAX_TEXT_BYTES));
    text.push('\n');
    text.push_str(&response_notes(&response));
    let structured = json!({
        "operation": operation,
        "data": response.data,
        "warnings": warnings(&response),
    });
    ToolOutput { structured, text }
}

/// `text` up to `limit` bytes on a character boundary, with a note when cut.
fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… (text cut at {} of {} KiB; the structured content holds the whole answer)",
        &text[..end],
        limit / 1024,
        text.len().div_ceil(1024)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

    use newrelic_mcp_actors::upstream::UpstreamResponse;

    use super::*;

    fn context(default_account: Option<i64>, allowed: Option<&[i64]>) -> PlanContext {
        PlanContext {
            default_account,
            allowed_accounts: allowed.map(Arc::from),
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn tool(access: WriteAccess) -> Arc<dyn Tool> {
        RawPlugin::new(access).tools().remove(0)
    }

    fn plan_with(access: WriteAccess, context: &PlanContext, arguments: Value) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments are an object") };
        tool(access).plan(arguments, context)
    }

    fn plan(arguments: Value) -> Result<Plan, PlanError> {
        plan_with(WriteAccess::ReadOnly, &context(Some(1), None), arguments)
    }

    fn refusal(result: Result<Plan, PlanError>) -> ToolError {
        match result {
            Err(PlanError::Tool(error)) => error,
            other => panic!("expected a tool error, got {other:?}"),
        }
    }

    fn upstream(plan: &Plan) -> &UpstreamRequest {
        match &plan.action {
            PlanAction::Upstream { request, .. } => request,
            _ => panic!("expected an upstream plan, got {plan:?}"),
        }
    }

    const ME: &str = "{ actor { user { name email } } }";
    const ACCOUNT_NAME: &str = "query Name($accountId: Int!) { actor { account(id: $accountId) { name } } }";
    const CREATE_POLICY: &str = "mutation Create($accountId: Int!) { alertsPolicyCreate(accountId: $accountId, \
                                 policy: {name: \"p\", incidentPreference: PER_POLICY}) { id name } }";
    const DELETE_POLICY: &str =
        "mutation Drop($accountId: Int!) { alertsPolicyDelete(accountId: $accountId, id: 7) { id } }";

    #[test]
    fn a_query_becomes_one_cached_read_of_the_document_as_written() {
        let plan = plan(json!({ "query": ME })).unwrap();
        let request = upstream(&plan);
        assert_eq!(request.operation, "QueryNerdgraph");
        assert_eq!(request.document, ME);
        assert_eq!(request.kind, RequestKind::Read);
        assert_eq!(request.variables, json!({}));
        assert_eq!(plan.cache.unwrap().ttl, CACHE_TTL);
        assert_eq!(plan.nrql_accounts, NrqlAccounts::NONE);
    }

    #[test]
    fn the_cache_key_follows_the_document_and_the_variables() {
        let key = |arguments: Value| plan(arguments).unwrap().cache.unwrap().key;
        let base = json!({ "query": "query($n: Int) { a(n: $n) }", "variables": {"n": 1} });
        assert_eq!(key(base.clone()), key(base.clone()));
        assert_ne!(
            key(base.clone()),
            key(json!({ "query": "query($n: Int) { a(n: $n) }", "variables": {"n": 2} }))
        );
        assert_ne!(key(base), key(json!({ "query": "query($n: Int) { b(n: $n) }", "variables": {"n": 1} })));
    }

    #[test]
    fn account_id_fills_the_declared_account_variable() {
        // (declared?, account_id, variables, default account) -> accountId sent, or an error kind.
        let cases: Vec<(&str, Option<i64>, Value, Option<i64>, Result<Option<Value>, ToolErrorKind>)> = vec![
            (ACCOUNT_NAME, Some(5), json!({}), Some(1), Ok(Some(json!(5)))),
            (ACCOUNT_NAME, None, json!({}), Some(1), Ok(Some(json!(1)))),
            (ACCOUNT_NAME, None, json!({"accountId": 6}), Some(1), Ok(Some(json!(6)))),
            (ACCOUNT_NAME, Some(6), json!({"accountId": 6}), Some(1), Ok(Some(json!(6)))),
            (ACCOUNT_NAME, Some(6), json!({"accountId": "6"}), None, Ok(Some(json!("6")))),
            (ACCOUNT_NAME, Some(5), json!({"accountId": 6}), Some(1), Err(ToolErrorKind::BadRequest)),
            (ACCOUNT_NAME, None, json!({}), None, Ok(None)),
            // Not declared: nothing is added, whatever account_id says.
            (ME, Some(5), json!({}), Some(1), Ok(None)),
        ];
        for (query, account_id, variables, default, expected) in cases {
            let arguments = json!({ "query": query, "account_id": account_id, "variables": variables });
            let outcome = plan_with(WriteAccess::ReadOnly, &context(default, None), arguments)
                .map(|plan| upstream(&plan).variables.get("accountId").cloned())
                .map_err(|error| match error {
                    PlanError::Tool(error) => error.kind,
                    other => panic!("{other:?}"),
                });
            assert_eq!(outcome, expected, "{query} account_id={account_id:?} default={default:?}");
        }
    }

    #[test]
    fn accounts_outside_the_allow_list_are_refused_wherever_they_are_named() {
        let allowed = context(Some(1), Some(&[1, 2]));
        let cases = [
            (json!({ "query": ACCOUNT_NAME }), true),
            (json!({ "query": ACCOUNT_NAME, "account_id": 2 }), true),
            (json!({ "query": ACCOUNT_NAME, "account_id": 3 }), false),
            (json!({ "query": ME, "account_id": 3 }), false),
            (json!({ "query": ACCOUNT_NAME, "variables": {"accountId": 3} }), false),
            (json!({ "query": "{ actor { account(id: 3) { name } } }" }), false),
            (
                json!({ "query": "{ actor { nrql(accounts: [1, 3], query: \"SELECT 1\") { results } } }" }),
                false,
            ),
            (
                json!({ "query": "{ actor { nrql(accounts: [1, 2], query: \"SELECT 1\") { results } } }" }),
                true,
            ),
        ];
        for (arguments, admitted) in cases {
            let outcome = plan_with(WriteAccess::ReadOnly, &allowed, arguments.clone());
            match (outcome, admitted) {
                (Ok(_), true) => {}
                (Err(PlanError::Tool(error)), false) => {
                    assert_eq!(error.kind, ToolErrorKind::Policy, "{arguments}");
                    assert!(error.message.contains("1, 2"), "{}", error.message);
                }
                (other, _) => panic!("{arguments}: {other:?}"),
            }
        }
    }

    #[test]
    fn refusals_say_what_to_do() {
        let huge = format!("{{ actor {{ user {{ name }} }} }}{}", " ".repeat(document::MAX_DOCUMENT_BYTES));
        let big_variables: Map<String, Value> =
            (0..2_000).map(|i| (format!("v{i}"), json!("x".repeat(40)))).collect();
        let cases: Vec<(Value, ToolErrorKind, &str)> = vec![
            (json!({ "query": "{ actor { user { name }" }), ToolErrorKind::BadRequest, "line 1, column"),
            (json!({ "query": "query A { a }\nquery B { b }" }), ToolErrorKind::BadRequest, "operation_name"),
            (json!({ "query": "query A { a }", "operation_name": "Z" }), ToolErrorKind::BadRequest, "'A'"),
            (
                json!({ "query": "subscription S { ticks }" }),
                ToolErrorKind::Policy,
                "subscription S was not sent",
            ),
            (json!({ "query": CREATE_POLICY }), ToolErrorKind::Policy, "--enable-writes"),
            (json!({ "query": huge }), ToolErrorKind::Policy, "bytes"),
            (json!({ "query": ME, "variables": big_variables }), ToolErrorKind::Policy, "variables are"),
            (
                json!({ "query": format!("{}{}", "{ a ".repeat(300), "}".repeat(300)) }),
                ToolErrorKind::Policy,
                "nest",
            ),
        ];
        for (arguments, kind, needle) in cases {
            let error = refusal(plan(arguments.clone()));
            assert_eq!(
                error.kind,
                kind,
                "{}: {}",
                error.message,
                arguments.to_string().chars().take(80).collect::<String>()
            );
            assert!(error.message.contains(needle), "expected {needle:?} in {}", error.message);
        }
        assert!(matches!(plan(json!({ "query": " " })), Err(PlanError::InvalidArguments(_))));
        assert!(matches!(plan(json!({ "query": ME, "extra": 1 })), Err(PlanError::InvalidArguments(_))));
        assert!(matches!(
            plan(json!({ "query": ME, "variables": [1] })),
            Err(PlanError::InvalidArguments(_))
        ));
    }

    #[test]
    fn a_mutation_with_writes_enabled_is_a_confirmed_write_with_a_full_preview() {
        let plan = plan_with(WriteAccess::Writes, &context(Some(1), None), json!({ "query": CREATE_POLICY }))
            .unwrap();
        assert!(plan.cache.is_none());
        let PlanAction::Write(write) = &plan.action else { panic!("expected a write, got {plan:?}") };
        assert_eq!(write.request.kind, RequestKind::Write);
        assert_eq!(write.request.document, CREATE_POLICY);
        assert_eq!(write.request.variables, json!({"accountId": 1}));
        assert!(write.read_back.is_none());
        let preview = &write.preview;
        assert_eq!(preview.structured["operation"], "Create");
        assert_eq!(preview.structured["mutations"], json!(["alertsPolicyCreate"]));
        assert_eq!(preview.structured["variables"], json!({"accountId": 1}));
        // The runtime names the accounts in the preview, from the plan.
        assert_eq!(write.accounts, vec![1]);
        // Marked like every other write's preview, so a client can tell it from a result.
        assert_eq!(preview.structured["dry_run"], true);
        assert!(preview.text.starts_with("DRY RUN. "), "{}", preview.text);
        for needle in [
            "Would send mutation Create, which calls alertsPolicyCreate:",
            "alertsPolicyCreate(",
            "\"accountId\":1",
            "warning:",
        ] {
            assert!(preview.text.contains(needle), "missing {needle:?} in {}", preview.text);
        }

        let done = (write.render)(UpstreamResponse {
            data: json!({"alertsPolicyCreate": {"id": "9", "name": "p"}}),
            pages: 1,
            ..UpstreamResponse::default()
        })
        .unwrap();
        assert_eq!(done.structured["data"]["alertsPolicyCreate"]["id"], "9");
        assert!(done.text.starts_with("Mutation Create applied"), "{}", done.text);
        let failed = (write.render)(UpstreamResponse {
            data: json!({"dashboardCreate": {"errors": [{"description": "bad widget", "type": "INVALID_INPUT"}]}}),
            ..UpstreamResponse::default()
        })
        .unwrap_err();
        assert_eq!(failed.kind, ToolErrorKind::BadRequest);
        assert!(failed.message.contains("bad widget"), "{}", failed.message);
    }

    #[test]
    fn each_mutation_needs_the_access_of_its_strictest_field() {
        use WriteAccess::{Administration, Destructive, ReadOnly, Writes};
        const MUTE: &str = "mutation { alertsMutingRuleCreate(accountId: 1, rule: {name: \"m\", enabled: true, \
                            condition: {operator: AND, conditions: []}}) { id } }";
        const KEYS: &str = "mutation { apiAccessCreateKeys(keys: {user: [{accountId: 1, userId: 1}]}) { createdKeys { id } } }";
        const UNDELETE: &str = "mutation { dashboardUndelete(guid: \"g\") { errors { description } } }";
        const UNKNOWN: &str = "mutation { somethingNewFromNewRelic(id: 1) { id } }";
        const MIXED: &str = "mutation { alertsPolicyCreate(accountId: 1, policy: {name: \"p\", incidentPreference: \
                             PER_POLICY}) { id } alertsMutingRuleCreate(accountId: 1, rule: {name: \"m\", enabled: true, \
                             condition: {operator: AND, conditions: []}}) { id } }";
        // (access, document, refusal must contain these, or None when previewed)
        let cases: Vec<(WriteAccess, &str, Option<&[&str]>)> = vec![
            (ReadOnly, CREATE_POLICY, Some(&["--enable-writes"])),
            (ReadOnly, DELETE_POLICY, Some(&["--enable-writes"])),
            (Writes, CREATE_POLICY, None),
            (Writes, UNDELETE, None),
            (Writes, DELETE_POLICY, Some(&["alertsPolicyDelete is destructive", "--enable-destructive"])),
            (Writes, MUTE, Some(&["a muting rule silences alerting", "--enable-destructive"])),
            (Writes, MIXED, Some(&["alertsMutingRuleCreate", "--enable-destructive"])),
            (
                Writes,
                UNKNOWN,
                Some(&["somethingNewFromNewRelic is not a NerdGraph mutation", "--enable-destructive"]),
            ),
            (
                Writes,
                KEYS,
                Some(&[
                    "apiAccessCreateKeys is an administration mutation (mints API keys)",
                    "--enable-admin-mutations",
                ]),
            ),
            (Destructive, DELETE_POLICY, None),
            (Destructive, MUTE, None),
            (Destructive, MIXED, None),
            (Destructive, UNKNOWN, None),
            (
                Destructive,
                KEYS,
                Some(&["apiAccessCreateKeys", "--enable-admin-mutations together with --enable-destructive"]),
            ),
            (Administration, KEYS, None),
            (Administration, DELETE_POLICY, None),
            (Administration, CREATE_POLICY, None),
        ];
        for (access, query, refused) in cases {
            let outcome = plan_with(access, &context(Some(1), None), json!({ "query": query }));
            match (outcome, refused) {
                (Ok(plan), None) => {
                    let PlanAction::Write(_) = plan.action else { panic!("expected a write") };
                }
                (Err(PlanError::Tool(error)), Some(needles)) => {
                    assert_eq!(error.kind, ToolErrorKind::Policy);
                    assert!(error.message.contains("was not sent"), "{}", error.message);
                    for needle in needles {
                        assert!(
                            error.message.contains(needle),
                            "{access:?} {query}: {needle:?} in {}",
                            error.message
                        );
                    }
                }
                (other, _) => panic!("{access:?} {query}: {other:?}"),
            }
        }
        // Only the fields the access does not allow are named.
        let error = refusal(plan_with(Writes, &context(Some(1), None), json!({ "query": MIXED })));
        assert!(!error.message.contains("alertsPolicyCreate"), "{}", error.message);
    }

    #[test]
    fn previews_warn_of_every_field_beyond_an_ordinary_write() {
        let cases = [
            (WriteAccess::Destructive, DELETE_POLICY, Some("alertsPolicyDelete is destructive")),
            (
                WriteAccess::Destructive,
                "mutation { newThing { id } }",
                Some("newThing is not a NerdGraph mutation"),
            ),
            (
                WriteAccess::Administration,
                "mutation { apiAccessDeleteKeys(keys: {userKeyIds: [\"1\"]}) { deletedKeys { id } } }",
                Some("apiAccessDeleteKeys is an administration mutation (revokes API keys)"),
            ),
            (WriteAccess::Writes, CREATE_POLICY, None),
        ];
        for (access, query, warning) in cases {
            let plan = plan_with(access, &context(Some(1), None), json!({ "query": query })).unwrap();
            let PlanAction::Write(write) = plan.action else { panic!("expected a write") };
            let warnings = write.preview.structured["warnings"].as_array().unwrap().clone();
            match warning {
                Some(needle) => {
                    assert_eq!(warnings.len(), 2, "{warnings:?}");
                    assert!(warnings[1].as_str().unwrap().contains(needle), "{warnings:?}");
                    assert!(write.preview.text.contains(needle), "{}", write.preview.text);
                }
                None => assert_eq!(warnings.len(), 1, "{warnings:?}"),
            }
        }
    }

    #[test]
    fn hints_and_schema_follow_write_access() {
        let read_only = tool(WriteAccess::ReadOnly);
        let descriptor = read_only.descriptor();
        assert_eq!(descriptor.name, QUERY_NERDGRAPH_TOOL);
        assert_eq!(descriptor.category, "raw");
        assert_eq!(descriptor.hints, ToolHints::READ);
        let properties = descriptor.input_schema["properties"].as_object().unwrap();
        for name in ["query", "variables", "account_id", "operation_name"] {
            assert!(properties.contains_key(name), "{name} missing from {properties:?}");
        }
        assert!(!properties.contains_key(CONFIRMATION_TOKEN_ARGUMENT));
        assert_eq!(descriptor.input_schema["required"], json!(["query"]));

        for (access, hints) in [
            (WriteAccess::Writes, ToolHints::WRITE),
            (WriteAccess::Destructive, ToolHints::DESTRUCTIVE),
            (WriteAccess::Administration, ToolHints::DESTRUCTIVE),
        ] {
            let writable = tool(access);
            let descriptor = writable.descriptor();
            assert_eq!(descriptor.hints, hints);
            assert!(!descriptor.hints.read_only);
            assert!(descriptor.input_schema["properties"][CONFIRMATION_TOKEN_ARGUMENT].is_object());
            let mut arguments = Map::new();
            arguments.insert("query".into(), json!(ME));
            arguments.insert(CONFIRMATION_TOKEN_ARGUMENT.into(), json!("token"));
            assert!(writable.plan(arguments, &context(Some(1), None)).is_ok(), "{access:?}");
        }
    }

    #[test]
    fn descriptions_say_what_each_access_refuses() {
        // (access, words the description must hold, words it must not)
        let cases: [(WriteAccess, &[&str], &[&str]); 4] = [
            (WriteAccess::ReadOnly, &["mutations and subscriptions are refused"], &["confirmation_token"]),
            (
                WriteAccess::Writes,
                &[
                    "Only ordinary writes run",
                    "undeleting a dashboard",
                    "muting rules",
                    "retention and drop rules",
                    "does not know",
                    "API keys",
                    "destructive tools are off",
                ],
                &[],
            ),
            (
                WriteAccess::Destructive,
                &[
                    "muting, retention and drop rules included",
                    "API keys",
                    "account cancellation",
                    "administration mutations are off",
                ],
                &["Only ordinary writes run"],
            ),
            (
                WriteAccess::Administration,
                &["any mutation", "credential, account, user and role"],
                &["Refused"],
            ),
        ];
        for (access, present, absent) in cases {
            let description = tool(access).descriptor().description.clone();
            for needle in present {
                assert!(description.contains(needle), "{access:?}: {needle:?} in {description}");
            }
            for needle in absent {
                assert!(!description.contains(needle), "{access:?}: {needle:?} in {description}");
            }
        }
    }

    #[test]
    fn answers_are_the_data_as_is_with_warnings_and_a_text_cap() {
        let render = |data: Value, partial: Vec<String>| {
            let plan = plan(json!({ "query": ME })).unwrap();
            let PlanAction::Upstream { render, .. } = plan.action else { panic!() };
            render(UpstreamResponse { data, partial_errors: partial, pages: 1, truncated: false })
        };
        let data = json!({"actor": {"user": {"name": "Sandbox User", "email": "a@b.example"}}});
        let output = render(data.clone(), vec![]).unwrap();
        assert_eq!(output.structured["data"], data);
        assert_eq!(output.structured["warnings"], json!([]));
        assert!(output.text.contains("\"name\":\"Sandbox User\""), "{}", output.text);

        let partial = render(json!({"actor": {"user": null}}), vec!["user: forbidden".into()]).unwrap();
        assert!(
            partial.text.contains("warning from New Relic (partial data): user: forbidden"),
            "{}",
            partial.text
        );
        assert_eq!(partial.structured["warnings"], json!(["user: forbidden"]));

        let long = json!({"items": (0..3_000).map(|i| format!("item-é-{i}")).collect::<Vec<_>>()});
        let output = render(long.clone(), vec![]).unwrap();
        assert!(output.text.len() < MAX_TEXT_BYTES + 500, "{}", output.text.len());
        assert!(output.text.contains("text cut at 24 of"), "{}", &output.text[output.text.len() - 200..]);
        assert_eq!(output.structured["data"], long);

        let huge = json!({"items": vec!["x".repeat(1_000); 1_100]});
        let error = render(huge, vec![]).unwrap_err();
        assert!(error.message.contains("select fewer fields"), "{}", error.message);
    }

    #[test]
    fn a_document_with_several_operations_sends_only_the_chosen_one() {
        let source = "query Who { actor { user { name } } }\nquery Where { actor { accounts { id } } }";
        let plan = plan(json!({ "query": source, "operation_name": "Where" })).unwrap();
        let request = upstream(&plan);
        assert!(request.document.contains("query Where"), "{}", request.document);
        assert!(!request.document.contains("Who"), "{}", request.document);
        let PlanAction::Upstream { render, .. } = &plan.action else { panic!() };
        let output =
            render(UpstreamResponse { data: json!({"actor": {"accounts": []}}), ..Default::default() })
                .unwrap();
        assert!(output.text.starts_with("NerdGraph answered query Where"), "{}", output.text);
        assert_eq!(output.structured["operation"], "Where");
    }

    #[test]
    fn nrql_read_through_the_raw_tool_spends_the_account_s_budget() {
        let query = "query($accountId: Int!) { actor { account(id: $accountId) { nrql(query: \"SELECT 1\") { results } } } }";
        let one = plan(json!({ "query": query, "account_id": 1 })).unwrap();
        assert_eq!(one.nrql_accounts, NrqlAccounts::one(1));

        // Accounts written into the document pay (the default account only when the document
        // declares $accountId for it): a literal account, a cross-account list.
        let cases: [(&str, Option<Vec<i64>>); 3] = [
            ("{ actor { account(id: 2) { nrql(query: \"SELECT 1\") { results } } } }", Some(vec![2])),
            ("{ actor { nrql(accounts: [3, 2], query: \"SELECT 1\") { results } } }", Some(vec![2, 3])),
            ("{ actor { nrql(accounts: [2, 3, 4, 5, 6, 7], query: \"SELECT 1\") { results } } }", None),
        ];
        for (query, charged) in cases {
            let planned = plan(json!({ "query": query }));
            match charged {
                Some(ids) => {
                    let got: Vec<i64> = planned.unwrap().nrql_accounts.iter().collect();
                    assert_eq!(got, ids, "{query}");
                }
                None => assert!(refusal(planned).message.contains("at most 5"), "{query}"),
            }
        }
    }

    #[test]
    fn account_values_that_are_not_integers_are_refused_under_an_allow_list() {
        let query = "query($a: Int!) { actor { account(id: $a) { name } } }";
        let allowed = context(Some(1), Some(&[1]));
        for value in [json!(12.0), json!("twelve"), json!(true)] {
            let arguments = json!({ "query": query, "variables": { "a": value } });
            let error = refusal(plan_with(WriteAccess::ReadOnly, &allowed, arguments));
            assert_eq!(error.kind, ToolErrorKind::Policy, "{value}");
            assert!(error.message.contains("not an integer account id"), "{value}: {}", error.message);
        }
        let literal = json!({ "query": "{ actor { account(id: 12.0) { name } } }" });
        assert!(refusal(plan_with(WriteAccess::ReadOnly, &allowed, literal)).message.contains("12.0"));
        let fine = json!({ "query": query, "variables": { "a": 1 } });
        assert!(plan_with(WriteAccess::ReadOnly, &allowed, fine).is_ok());
    }
}
