//! Discovery: entities, tags, accounts and time periods.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints,
    ToolOutput,
};
use newrelic_mcp_actors::upstream::{Pagination, RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::account::check_allowed;
use super::builtin::{BuiltinTool, Spec, local_plan, upstream_plan};
use super::entity_ref::checked_guid;
use super::render::{Capped, MAX_ROWS, at, cell, list_at, response_notes, warnings};
use super::time_period::{iso, parse_time_period};

const CATEGORY: &str = "discovery";

pub(crate) const ENTITY_BY_GUID: &str = r#"query EntityByGuid($guid: EntityGuid!) {
  actor {
    entity(guid: $guid) {
      guid name entityType domain type accountId reporting alertSeverity permalink
      tags { key values }
      ... on ApmApplicationEntity { applicationId language }
      goldenMetrics { metrics { name title unit query } }
    }
  }
}"#;

pub(crate) const ENTITY_SEARCH: &str = r#"query EntitySearch($query: String!, $cursor: String) {
  actor {
    entitySearch(query: $query, options: { limit: 200, caseSensitiveTagMatching: false }) {
      count
      results(cursor: $cursor) {
        nextCursor
        entities { guid name entityType domain type accountId reporting alertSeverity permalink tags { key values } }
      }
    }
  }
}"#;

pub(crate) const ACCOUNTS: &str = r#"query Accounts {
  actor { accounts { id name } }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("EntityByGuid", ENTITY_BY_GUID), ("EntitySearch", ENTITY_SEARCH), ("Accounts", ACCOUNTS)];

const ENTITY_PAGES: Pagination = Pagination {
    cursor_variable: "cursor",
    page_path: &["actor", "entitySearch", "results"],
    items_field: "entities",
    max_pages: 5,
};

pub struct DiscoveryPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl DiscoveryPlugin {
    pub fn new() -> Self {
        let cached = |seconds| Some(Duration::from_secs(seconds));
        Self {
            tools: vec![
                BuiltinTool::shared(
                    Spec {
                        name: "get_entity",
                        title: "Get entity",
                        description: "Look up a New Relic entity (APM service, host, browser app, monitor, dashboard, …) \
                            by its GUID, or find entities whose name matches a pattern. Returns type, domain, account, \
                            reporting status, alert severity, tags, permalink and, for a GUID, its golden metric queries.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: cached(60),
                    },
                    plan_get_entity,
                ),
                BuiltinTool::shared(
                    Spec {
                        name: "search_entity_with_tag",
                        title: "Search entities by tag",
                        description: "Find entities carrying a tag, e.g. environment=production or team=payments, \
                            optionally of one entity type (APPLICATION, HOST, DASHBOARD, MONITOR, …).",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: cached(60),
                    },
                    plan_search_entity_with_tag,
                ),
                BuiltinTool::shared(
                    Spec {
                        name: "list_available_new_relic_accounts",
                        title: "List accounts",
                        description: "List the New Relic accounts (id and name) this server can query. Use an id as \
                            account_id in other tools.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: cached(300),
                    },
                    plan_list_accounts,
                ),
                BuiltinTool::shared(
                    Spec {
                        name: "convert_time_period_to_epoch_ms",
                        title: "Convert a time period",
                        description: "Turn a natural time period ('last 30 minutes', '3 hours ago', 'today', \
                            'yesterday', 'this week', 'last month', '2024-05-01', '2024-05-01 10:00 to 12:00') into \
                            start and end epoch milliseconds (UTC) and a ready NRQL SINCE … UNTIL … clause.",
                        category: CATEGORY,
                        hints: ToolHints::LOCAL,
                        cache_ttl: None,
                    },
                    plan_convert_time_period,
                ),
            ],
        }
    }
}

impl Default for DiscoveryPlugin {
    fn default() -> Self {
        Self::new()
    }
}

super::builtin::builtin_plugin!(DiscoveryPlugin, "discovery", "Entities, tags, accounts and time periods");

/// Arguments of `get_entity`: exactly one of `guid` and `name_pattern`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetEntityArgs {
    /// The entity GUID, e.g. `MXxBUE18QVBQTElDQVRJT058MTIz`. Give this or `name_pattern`.
    pub guid: Option<String>,
    /// Part of an entity name to search for, e.g. `checkout`. Give this or `guid`.
    pub name_pattern: Option<String>,
    /// Restrict a name search to this account.
    pub account_id: Option<i64>,
}

/// Arguments of `search_entity_with_tag`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchEntityWithTagArgs {
    /// Tag key, e.g. `environment` or `team`.
    pub tag_key: String,
    /// Tag value, e.g. `production`.
    pub tag_value: String,
    /// Only entities of this type, e.g. `APPLICATION`, `HOST`, `DASHBOARD`, `MONITOR`.
    pub entity_type: Option<String>,
    /// Only entities in this account.
    pub account_id: Option<i64>,
}

/// Arguments of `list_available_new_relic_accounts`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAccountsArgs {
    /// Only this account, to check that the key can read it and see its name. Leave out to list
    /// every account this server can query.
    pub account_id: Option<i64>,
}

/// Arguments of `convert_time_period_to_epoch_ms`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertTimePeriodArgs {
    /// The period in words: `last 30 minutes`, `2 hours ago`, `today`, `yesterday`, `this week`,
    /// `last month`, a date `2024-05-01`, or a range `2024-05-01 10:00 to 2024-05-01 12:00` (UTC).
    pub time_period: String,
    /// Accepted so every tool takes the same account argument; checked against the allowed
    /// accounts, but a time period converts the same way for every account.
    pub account_id: Option<i64>,
}

/// A value inside a single-quoted entity-search literal.
fn quote_search_value(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\\') {
            quoted.push('\\');
        }
        if !c.is_control() {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

fn invalid(reason: impl Into<String>) -> PlanError {
    PlanError::InvalidArguments(reason.into())
}

fn plan_get_entity(
    args: GetEntityArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    match (&args.guid, &args.name_pattern) {
        (Some(guid), None) => {
            let guid = checked_guid("guid", guid, context)?;
            let request = UpstreamRequest {
                operation: "EntityByGuid",
                document: ENTITY_BY_GUID.into(),
                variables: json!({ "guid": guid }),
                kind: RequestKind::Read,
                pagination: None,
                async_poll: None,
                experimental_opt_in: None,
            };
            let wanted = guid.clone();
            Ok(upstream_plan(descriptor, None, &args, request, context.default_timeout, move |response| {
                render_entity(&wanted, response)
            }))
        }
        (None, Some(pattern)) => {
            let pattern = pattern.trim();
            if pattern.is_empty() || pattern.len() > 255 {
                return Err(invalid("name_pattern must be 1 to 255 characters"));
            }
            let mut query = format!("name LIKE {}", quote_search_value(pattern));
            if let Some(account) = args.account_id {
                check_allowed(account, context)?;
                query.push_str(&format!(" AND accountId = {account}"));
            }
            Ok(entity_search_plan(descriptor, &args, args.account_id, query, context))
        }
        (Some(_), Some(_)) => Err(invalid("give either guid or name_pattern, not both")),
        (None, None) => Err(invalid("give guid or name_pattern")),
    }
}

fn plan_search_entity_with_tag(
    args: SearchEntityWithTagArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let key = args.tag_key.trim();
    if key.is_empty()
        || key.len() > 128
        || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '/' | ' '))
    {
        return Err(invalid(format!(
            "tag_key '{key}' must be 1 to 128 letters, digits, spaces or _ . - : /"
        )));
    }
    if args.tag_value.is_empty() || args.tag_value.len() > 255 {
        return Err(invalid("tag_value must be 1 to 255 characters"));
    }
    let mut query = format!("tags.`{key}` = {}", quote_search_value(&args.tag_value));
    if let Some(entity_type) = &args.entity_type {
        let entity_type = entity_type.trim().to_uppercase();
        if entity_type.is_empty() || !entity_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(format!(
                "entity_type '{entity_type}' must be a type such as APPLICATION, HOST, DASHBOARD or MONITOR"
            )));
        }
        query.push_str(&format!(" AND type IN ('{entity_type}')"));
    }
    if let Some(account) = args.account_id {
        check_allowed(account, context)?;
        query.push_str(&format!(" AND accountId = {account}"));
    }
    Ok(entity_search_plan(descriptor, &args, args.account_id, query, context))
}

fn entity_search_plan(
    descriptor: &ToolDescriptor,
    args: &impl Serialize,
    account: Option<i64>,
    query: String,
    context: &PlanContext,
) -> Plan {
    let request = UpstreamRequest {
        operation: "EntitySearch",
        document: ENTITY_SEARCH.into(),
        variables: json!({ "query": query, "cursor": null }),
        kind: RequestKind::Read,
        pagination: Some(ENTITY_PAGES),
        async_poll: None,
        experimental_opt_in: None,
    };
    let allowed = context.allowed_accounts.clone();
    upstream_plan(descriptor, account, args, request, context.default_timeout, move |response| {
        render_entity_list(&query, allowed.as_deref(), response)
    })
}

fn entity_line(entity: &Value) -> String {
    format!(
        "{} ({} {}) account {} guid {}{}",
        cell(at(entity, &["name"])),
        cell(at(entity, &["domain"])),
        cell(at(entity, &["type"])),
        cell(at(entity, &["accountId"])),
        cell(at(entity, &["guid"])),
        match at(entity, &["alertSeverity"]) {
            Value::String(severity) if severity != "NOT_CONFIGURED" => format!(" severity {severity}"),
            _ => String::new(),
        }
    )
}

fn render_entity_list(
    query: &str,
    allowed: Option<&[i64]>,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let entities: Vec<Value> = list_at(&response.data, &["actor", "entitySearch", "results", "entities"])
        .into_iter()
        .filter(|entity| {
            allowed.is_none_or(|allowed| {
                at(entity, &["accountId"]).as_i64().is_some_and(|a| allowed.contains(&a))
            })
        })
        .collect();
    let capped = Capped::new(entities, MAX_ROWS);
    let mut text = format!("{} matching {query}\n", capped.heading("entity", "entities"));
    for entity in &capped.rows {
        text.push_str(&entity_line(entity));
        text.push('\n');
    }
    if capped.total == 0 {
        text.push_str(
            "No entity matched. Check the spelling, or widen the search (drop entity_type or account_id).\n",
        );
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("query".into(), json!(query));
    structured.insert("entities".into(), Value::Array(capped.rows));
    structured.insert("more_pages".into(), json!(response.truncated));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

fn render_entity(guid: &str, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let entity = at(&response.data, &["actor", "entity"]);
    if entity.is_null() {
        return Err(ToolError::new(
            ToolErrorKind::NotFound,
            format!("no entity with guid {guid}: check the GUID, or search by name_pattern"),
        ));
    }
    let mut text = entity_line(entity);
    text.push('\n');
    if let Some(permalink) = at(entity, &["permalink"]).as_str() {
        text.push_str(&format!("permalink: {permalink}\n"));
    }
    let tags: Vec<String> = list_at(entity, &["tags"])
        .iter()
        .map(|tag| {
            let values: Vec<String> = list_at(tag, &["values"]).iter().map(cell).collect();
            format!("{}={}", cell(at(tag, &["key"])), values.join(","))
        })
        .collect();
    if !tags.is_empty() {
        text.push_str(&format!("tags: {}\n", tags.join("; ")));
    }
    for metric in list_at(entity, &["goldenMetrics", "metrics"]) {
        text.push_str(&format!(
            "golden metric {}: {}\n",
            cell(at(&metric, &["title"])),
            cell(at(&metric, &["query"]))
        ));
    }
    text.push_str(&response_notes(&response));
    Ok(ToolOutput { structured: json!({ "entity": entity, "warnings": warnings(&response) }), text })
}

fn plan_list_accounts(
    args: ListAccountsArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    if let Some(account) = args.account_id {
        check_allowed(account, context)?;
    }
    let only = args.account_id;
    let request = UpstreamRequest {
        operation: "Accounts",
        document: ACCOUNTS.into(),
        variables: json!({}),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let allowed = context.allowed_accounts.clone();
    let default_account = context.default_account;
    let key = json!({ "account_id": only });
    Ok(upstream_plan(descriptor, None, &key, request, context.default_timeout, move |response| {
        let accounts: Vec<Value> = list_at(&response.data, &["actor", "accounts"])
            .into_iter()
            .filter(|account| {
                let id = at(account, &["id"]).as_i64();
                let permitted =
                    allowed.as_deref().is_none_or(|allowed| id.is_some_and(|id| allowed.contains(&id)));
                permitted && only.is_none_or(|only| id == Some(only))
            })
            .collect();
        if let Some(only) = only.filter(|_| accounts.is_empty()) {
            return Err(ToolError::new(
                ToolErrorKind::NotFound,
                format!(
                    "this API key cannot read account {only}; call list_available_new_relic_accounts without \
                     account_id to see the accounts it can"
                ),
            ));
        }
        let capped = Capped::new(accounts, MAX_ROWS * 5);
        let mut text = format!("{}\n", capped.heading("account", "accounts"));
        for account in &capped.rows {
            let id = at(account, &["id"]);
            let marker = if id.as_i64() == default_account { " (default)" } else { "" };
            text.push_str(&format!("{} {}{marker}\n", cell(id), cell(at(account, &["name"]))));
        }
        text.push_str(&response_notes(&response));
        let mut structured = capped.counts();
        structured.insert("accounts".into(), Value::Array(capped.rows));
        structured.insert("default_account_id".into(), json!(default_account));
        Ok(ToolOutput { structured: Value::Object(structured), text })
    }))
}

fn plan_convert_time_period(
    args: ConvertTimePeriodArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    if let Some(account) = args.account_id {
        check_allowed(account, context)?;
    }
    let period = parse_time_period(&args.time_period, context.now_epoch_ms)
        .map_err(|error| ToolError::new(ToolErrorKind::BadRequest, error.to_string()))?;
    let clause = format!("SINCE {} UNTIL {}", period.start_ms, period.end_ms);
    let text = format!(
        "{} → start {} ({}) end {} ({}); NRQL: {clause}\n",
        args.time_period.trim(),
        period.start_ms,
        iso(period.start_ms),
        period.end_ms,
        iso(period.end_ms)
    );
    let structured = json!({
        "time_period": args.time_period,
        "start_epoch_ms": period.start_ms,
        "end_epoch_ms": period.end_ms,
        "duration_ms": period.end_ms - period.start_ms,
        "start_iso": iso(period.start_ms),
        "end_iso": iso(period.end_ms),
        "nrql_clause": clause,
        "time_zone": "UTC",
    });
    Ok(local_plan(descriptor, ToolOutput { structured, text }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use newrelic_mcp_actors::tool::PlanAction;

    #[test]
    fn quotes_search_values_so_they_cannot_end_the_literal() {
        let cases = [
            ("checkout", "'checkout'"),
            ("Bob's app", r"'Bob\'s app'"),
            (r"a\b", r"'a\\b'"),
            ("x' OR name LIKE '%", r"'x\' OR name LIKE \'%'"),
            ("line\nbreak", "'linebreak'"),
        ];
        for (value, expected) in cases {
            assert_eq!(quote_search_value(value), expected);
        }
    }

    fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1),
            allowed_accounts: Some(Arc::from(vec![1, 2])),
            now_epoch_ms: 1_715_776_200_000,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plan(tool: &str, arguments: Value) -> Result<Plan, PlanError> {
        let plugin = DiscoveryPlugin::new();
        let tool = plugin.tools().into_iter().find(|t| t.descriptor().name == tool).unwrap();
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        tool.plan(arguments, &context())
    }

    fn request_of(plan: &Plan) -> &UpstreamRequest {
        match &plan.action {
            PlanAction::Upstream { request, .. } => request,
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected an upstream plan"),
        }
    }

    #[test]
    fn get_entity_needs_exactly_one_of_guid_and_name_pattern() {
        assert!(matches!(plan("get_entity", json!({})), Err(PlanError::InvalidArguments(_))));
        assert!(matches!(
            plan("get_entity", json!({"guid": "MXxBUE18QVBQTElDQVRJT058MTIz", "name_pattern": "x"})),
            Err(PlanError::InvalidArguments(_))
        ));
        assert!(matches!(
            plan("get_entity", json!({"guid": "no spaces allowed"})),
            Err(PlanError::InvalidArguments(_))
        ));
        assert!(matches!(plan("get_entity", json!({"nmae": "typo"})), Err(PlanError::InvalidArguments(_))));
        let by_name = plan("get_entity", json!({"name_pattern": "checkout", "account_id": 2})).unwrap();
        assert_eq!(request_of(&by_name).variables["query"], "name LIKE 'checkout' AND accountId = 2");
        assert!(by_name.cache.is_some());
    }

    #[test]
    fn refuses_accounts_outside_the_allow_list() {
        let other = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode("7|APM|APPLICATION|1")
        };
        for arguments in [json!({"guid": other}), json!({"name_pattern": "x", "account_id": 7})] {
            match plan("get_entity", arguments) {
                Err(PlanError::Tool(error)) => assert_eq!(error.kind, ToolErrorKind::Policy),
                other => panic!("expected a policy refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn tag_search_builds_a_confined_query() {
        let planned = plan(
            "search_entity_with_tag",
            json!({"tag_key": "environment", "tag_value": "prod' OR '1", "entity_type": "application"}),
        )
        .unwrap();
        assert_eq!(
            request_of(&planned).variables["query"],
            r"tags.`environment` = 'prod\' OR \'1' AND type IN ('APPLICATION')"
        );
        for bad in [
            json!({"tag_key": "env`", "tag_value": "x"}),
            json!({"tag_key": "env", "tag_value": "x", "entity_type": "A') OR ('"}),
        ] {
            assert!(matches!(plan("search_entity_with_tag", bad), Err(PlanError::InvalidArguments(_))));
        }
    }

    #[test]
    fn time_conversion_is_answered_locally() {
        let planned =
            plan("convert_time_period_to_epoch_ms", json!({"time_period": "last 30 minutes"})).unwrap();
        let PlanAction::Local(output) = planned.action else { panic!("expected a local answer") };
        assert_eq!(output.structured["end_epoch_ms"], 1_715_776_200_000_i64);
        assert_eq!(output.structured["start_epoch_ms"], 1_715_776_200_000_i64 - 1_800_000);
        assert!(matches!(
            plan("convert_time_period_to_epoch_ms", json!({"time_period": "whenever"})),
            Err(PlanError::Tool(_))
        ));
    }

    #[test]
    fn account_ids_are_checked_even_where_they_scope_nothing() {
        let time = json!({"time_period": "today", "account_id": 9});
        let accounts = json!({"account_id": 9});
        for (tool, arguments) in
            [("convert_time_period_to_epoch_ms", time), ("list_available_new_relic_accounts", accounts)]
        {
            match plan(tool, arguments) {
                Err(PlanError::Tool(error)) => assert_eq!(error.kind, ToolErrorKind::Policy, "{tool}"),
                other => panic!("{tool}: expected a policy refusal, got {other:?}"),
            }
        }
        assert!(
            plan("convert_time_period_to_epoch_ms", json!({"time_period": "today", "account_id": 2})).is_ok()
        );
    }

    #[test]
    fn listing_one_account_shows_it_or_says_the_key_cannot_read_it() {
        let data = json!({"actor": {"accounts": [{"id": 1, "name": "Prod"}, {"id": 2, "name": "Staging"}]}});
        let cases =
            [(json!({}), Some(2)), (json!({"account_id": 2}), Some(1)), (json!({"account_id": 1}), Some(1))];
        for (arguments, shown) in cases {
            let planned = plan("list_available_new_relic_accounts", arguments.clone()).unwrap();
            let PlanAction::Upstream { render, .. } = planned.action else { panic!("expected upstream") };
            let output =
                render(UpstreamResponse { data: data.clone(), pages: 1, ..Default::default() }).unwrap();
            assert_eq!(output.structured["accounts"].as_array().map(Vec::len), shown, "{arguments}");
        }
        let missing = json!({"actor": {"accounts": [{"id": 1, "name": "Prod"}]}});
        let planned = plan("list_available_new_relic_accounts", json!({"account_id": 2})).unwrap();
        let PlanAction::Upstream { render, .. } = planned.action else { panic!("expected upstream") };
        let error = render(UpstreamResponse { data: missing, pages: 1, ..Default::default() }).unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
        assert!(error.message.contains("cannot read account 2"), "{}", error.message);
    }

    #[test]
    fn entity_lists_drop_accounts_outside_the_allow_list_and_count_the_rest() {
        let data = json!({"actor": {"entitySearch": {"results": {"entities": [
            {"name": "a", "accountId": 1, "guid": "g1", "domain": "APM", "type": "APPLICATION"},
            {"name": "b", "accountId": 9, "guid": "g2", "domain": "APM", "type": "APPLICATION"}
        ]}}}});
        let response = UpstreamResponse { data, pages: 1, ..Default::default() };
        let output = render_entity_list("q", Some(&[1]), response).unwrap();
        assert_eq!(output.structured["total"], 1);
        assert!(output.text.contains("a (APM APPLICATION) account 1 guid g1"));
        assert!(!output.text.contains("g2"));
    }
}
