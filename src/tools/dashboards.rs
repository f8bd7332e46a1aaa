//! Dashboards: finding them, and reading their pages, widgets and the NRQL behind each widget.

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
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::entity_ref::{checked_guid, entity_account, name_filter, search_literal};
use super::render::{Capped, MAX_ROWS, at, cell, list_at, response_notes, warnings};

const CATEGORY: &str = "discovery";

pub(crate) const DASHBOARD_SEARCH: &str = r#"query DashboardSearch($query: String!, $cursor: String) {
  actor {
    entitySearch(query: $query, options: { limit: 200 }) {
      count
      results(cursor: $cursor) {
        nextCursor
        entities {
          guid name accountId permalink tags { key values }
          ... on DashboardEntityOutline { dashboardParentGuid permissions createdAt updatedAt }
        }
      }
    }
  }
}"#;

pub(crate) const DASHBOARD_GET: &str = r#"query DashboardGet($guid: EntityGuid!) {
  actor {
    entity(guid: $guid) {
      guid name accountId entityType permalink
      ... on DashboardEntity {
        dashboardParentGuid description permissions createdAt updatedAt
        pages {
          guid name description
          widgets { id title visualization { id } layout { column row width height } rawConfiguration }
        }
        variables { name title type }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("DashboardSearch", DASHBOARD_SEARCH), ("DashboardGet", DASHBOARD_GET)];

const DASHBOARD_PAGES: Pagination = Pagination {
    cursor_variable: "cursor",
    page_path: &["actor", "entitySearch", "results"],
    items_field: "entities",
    max_pages: 5,
};

/// Most widgets `get_dashboard` details; the count is always reported.
const MAX_WIDGETS: usize = 150;

pub struct DashboardsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl DashboardsPlugin {
    pub fn new() -> Self {
        Self {
            tools: vec![
                BuiltinTool::shared(
                    Spec {
                        name: "list_dashboards",
                        title: "List dashboards",
                        description: "List the dashboards of an account (name, GUID, permissions, last update, \
                            number of pages), optionally only those whose name contains name_filter. Pass a GUID \
                            to get_dashboard to read its widgets and their NRQL.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(120)),
                    },
                    plan_list_dashboards,
                ),
                BuiltinTool::shared(
                    Spec {
                        name: "get_dashboard",
                        title: "Get dashboard",
                        description: "Read a dashboard by GUID: its pages, each widget's title, chart type and \
                            position, and the NRQL queries behind the widgets (ready for execute_nrql_query), plus \
                            the dashboard's variables.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(120)),
                    },
                    plan_get_dashboard,
                ),
            ],
        }
    }
}

impl Default for DashboardsPlugin {
    fn default() -> Self {
        Self::new()
    }
}

super::builtin::builtin_plugin!(
    DashboardsPlugin,
    "dashboards",
    "Dashboards, their pages, widgets and widget queries"
);

/// Arguments of `list_dashboards`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDashboardsArgs {
    /// Account whose dashboards to list; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Only dashboards whose name contains this text, e.g. `checkout`.
    pub name_filter: Option<String>,
}

/// Arguments of `get_dashboard`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDashboardArgs {
    /// GUID of the dashboard (list_dashboards lists them).
    pub guid: String,
    /// Account the dashboard belongs to; read from the GUID when omitted.
    pub account_id: Option<i64>,
}

fn plan_list_dashboards(
    args: ListDashboardsArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let filter = name_filter("name_filter", args.name_filter.as_deref())?;
    let mut query = format!("type = 'DASHBOARD' AND accountId = {account}");
    if let Some(filter) = &filter {
        query.push_str(&format!(" AND name LIKE {}", search_literal(filter)));
    }
    let request = UpstreamRequest {
        operation: "DashboardSearch",
        document: DASHBOARD_SEARCH.into(),
        variables: json!({ "query": query, "cursor": null }),
        kind: RequestKind::Read,
        pagination: Some(DASHBOARD_PAGES),
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "name_filter": filter });
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_dashboards(account, filter.as_deref(), response),
    ))
}

fn render_dashboards(
    account: i64,
    filter: Option<&str>,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let entities = list_at(&response.data, &["actor", "entitySearch", "results", "entities"]);
    // Every page of a dashboard is an entity too; a model wants the dashboards themselves.
    let (pages, parents): (Vec<Value>, Vec<Value>) =
        entities.into_iter().partition(|entity| at(entity, &["dashboardParentGuid"]).is_string());
    let mut dashboards: Vec<Value> = parents
        .into_iter()
        .map(|dashboard| {
            let guid = at(&dashboard, &["guid"]).clone();
            let page_count = pages.iter().filter(|page| at(page, &["dashboardParentGuid"]) == &guid).count();
            json!({
                "guid": guid,
                "name": at(&dashboard, &["name"]),
                "account_id": at(&dashboard, &["accountId"]),
                "permissions": at(&dashboard, &["permissions"]),
                "updated_at": at(&dashboard, &["updatedAt"]),
                "created_at": at(&dashboard, &["createdAt"]),
                "pages": page_count,
                "permalink": at(&dashboard, &["permalink"]),
            })
        })
        .collect();
    dashboards.sort_by_key(|dashboard| cell(at(dashboard, &["name"])).to_lowercase());
    let capped = Capped::new(dashboards, MAX_ROWS);
    let scope = filter.map(|f| format!(" named like '{f}'")).unwrap_or_default();
    let mut text = format!("{} in account {account}{scope}\n", capped.heading("dashboard", "dashboards"));
    for dashboard in &capped.rows {
        text.push_str(&format!(
            "{} — guid {}; {} page(s); {}; updated {}\n",
            cell(at(dashboard, &["name"])),
            cell(at(dashboard, &["guid"])),
            cell(at(dashboard, &["pages"])),
            cell(at(dashboard, &["permissions"])),
            cell(at(dashboard, &["updated_at"])),
        ));
    }
    if capped.total == 0 {
        text.push_str("No dashboard matched: drop name_filter, or check account_id.\n");
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("dashboards".into(), Value::Array(capped.rows));
    structured.insert("more_pages".into(), json!(response.truncated));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

fn plan_get_dashboard(
    args: GetDashboardArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let guid = checked_guid("guid", &args.guid, context)?;
    let account = entity_account(args.account_id, &guid, context)?;
    let request = UpstreamRequest {
        operation: "DashboardGet",
        document: DASHBOARD_GET.into(),
        variables: json!({ "guid": guid }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "guid": guid });
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_dashboard(&guid, response),
    ))
}

/// The NRQL queries of a widget's raw configuration, with the accounts each one reads.
fn widget_queries(raw: &Value) -> Vec<Value> {
    list_at(raw, &["nrqlQueries"])
        .iter()
        .filter_map(|query| {
            let text = at(query, &["query"]).as_str()?;
            let accounts = match (at(query, &["accountIds"]), at(query, &["accountId"])) {
                (Value::Array(ids), _) => Value::Array(ids.clone()),
                (_, Value::Number(id)) => json!([id]),
                _ => json!([]),
            };
            Some(json!({ "query": text, "account_ids": accounts }))
        })
        .collect()
}

fn render_dashboard(guid: &str, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let entity = at(&response.data, &["actor", "entity"]);
    if entity.is_null() {
        return Err(ToolError::new(
            ToolErrorKind::NotFound,
            format!("no entity with guid {guid}: list_dashboards lists the dashboards of an account"),
        ));
    }
    if let Some(parent) = at(entity, &["dashboardParentGuid"]).as_str() {
        return Err(ToolError::new(
            ToolErrorKind::BadRequest,
            format!("{guid} is one page of the dashboard {parent}: call get_dashboard with guid {parent}"),
        ));
    }
    if entity.get("pages").is_none() {
        return Err(ToolError::new(
            ToolErrorKind::BadRequest,
            format!(
                "{guid} is {} '{}', not a dashboard: list_dashboards lists dashboard GUIDs",
                cell(at(entity, &["entityType"])),
                cell(at(entity, &["name"]))
            ),
        ));
    }
    let mut widget_total = 0;
    let mut query_total = 0;
    let mut pages = Vec::new();
    let mut text = format!(
        "Dashboard {} (guid {guid}, account {}, {})\n",
        cell(at(entity, &["name"])),
        cell(at(entity, &["accountId"])),
        cell(at(entity, &["permissions"]))
    );
    if let Some(description) = at(entity, &["description"]).as_str().filter(|d| !d.is_empty()) {
        text.push_str(&format!("{description}\n"));
    }
    for page in list_at(entity, &["pages"]) {
        let widgets = list_at(&page, &["widgets"]);
        text.push_str(&format!(
            "Page {} ({} widgets, guid {})\n",
            cell(at(&page, &["name"])),
            widgets.len(),
            cell(at(&page, &["guid"]))
        ));
        let mut shown = Vec::new();
        for widget in widgets {
            widget_total += 1;
            let raw = at(&widget, &["rawConfiguration"]);
            let queries = widget_queries(raw);
            query_total += queries.len();
            if widget_total > MAX_WIDGETS {
                continue;
            }
            let layout = at(&widget, &["layout"]);
            text.push_str(&format!(
                "  - {} [{}] at row {} col {}\n",
                cell(at(&widget, &["title"])),
                cell(at(&widget, &["visualization", "id"])),
                cell(at(layout, &["row"])),
                cell(at(layout, &["column"]))
            ));
            for query in &queries {
                text.push_str(&format!("      {}\n", cell(at(query, &["query"]))));
            }
            let mut detail = Map::new();
            detail.insert("id".into(), at(&widget, &["id"]).clone());
            detail.insert("title".into(), at(&widget, &["title"]).clone());
            detail.insert("visualization".into(), at(&widget, &["visualization", "id"]).clone());
            detail.insert("layout".into(), layout.clone());
            detail.insert("queries".into(), Value::Array(queries));
            if let Some(markdown) = at(raw, &["text"]).as_str() {
                detail.insert("text".into(), json!(markdown));
            }
            shown.push(Value::Object(detail));
        }
        pages.push(json!({
            "guid": at(&page, &["guid"]),
            "name": at(&page, &["name"]),
            "description": at(&page, &["description"]),
            "widgets": shown,
        }));
    }
    if widget_total > MAX_WIDGETS {
        text.push_str(&format!(
            "{MAX_WIDGETS} of {widget_total} widgets detailed; the rest are counted only\n"
        ));
    }
    let variables = list_at(entity, &["variables"]);
    if !variables.is_empty() {
        let names: Vec<String> = variables
            .iter()
            .map(|v| format!("{} ({})", cell(at(v, &["name"])), cell(at(v, &["type"]))))
            .collect();
        text.push_str(&format!("variables: {}\n", names.join(", ")));
    }
    text.push_str(&response_notes(&response));
    let structured = json!({
        "guid": guid,
        "name": at(entity, &["name"]),
        "account_id": at(entity, &["accountId"]),
        "description": at(entity, &["description"]),
        "permissions": at(entity, &["permissions"]),
        "created_at": at(entity, &["createdAt"]),
        "updated_at": at(entity, &["updatedAt"]),
        "permalink": at(entity, &["permalink"]),
        "page_count": pages.len(),
        "widget_count": widget_total,
        "query_count": query_total,
        "widgets_truncated": widget_total > MAX_WIDGETS,
        "pages": pages,
        "variables": variables,
        "warnings": warnings(&response),
    });
    Ok(ToolOutput { structured, text })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use base64::Engine;
    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;

    fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1),
            allowed_accounts: Some(Arc::from(vec![1, 2])),
            now_epoch_ms: 1_715_776_200_000,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plan(name: &str, arguments: Value) -> Result<Plan, PlanError> {
        let tool = DashboardsPlugin::new().tools().into_iter().find(|t| t.descriptor().name == name).unwrap();
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        tool.plan(arguments, &context())
    }

    fn respond(plan: &Plan, data: Value) -> Result<ToolOutput, ToolError> {
        let PlanAction::Upstream { render, .. } = &plan.action else { panic!("expected upstream") };
        render(UpstreamResponse { data, pages: 1, ..Default::default() })
    }

    fn variables(plan: &Plan) -> &Value {
        match &plan.action {
            PlanAction::Upstream { request, .. } => &request.variables,
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected upstream"),
        }
    }

    #[test]
    fn list_builds_a_confined_search() {
        let cases = [
            (json!({}), "type = 'DASHBOARD' AND accountId = 1"),
            (
                json!({"account_id": 2, "name_filter": " Ops "}),
                "type = 'DASHBOARD' AND accountId = 2 AND name LIKE 'Ops'",
            ),
            (
                json!({"name_filter": "x' OR name LIKE '"}),
                r"type = 'DASHBOARD' AND accountId = 1 AND name LIKE 'x\' OR name LIKE \''",
            ),
        ];
        for (arguments, query) in cases {
            let planned = plan("list_dashboards", arguments.clone()).unwrap();
            assert_eq!(variables(&planned)["query"], query, "{arguments}");
        }
        assert!(matches!(plan("list_dashboards", json!({"account_id": 9})), Err(PlanError::Tool(_))));
        assert!(matches!(plan("list_dashboards", json!({"name": "x"})), Err(PlanError::InvalidArguments(_))));
    }

    #[test]
    fn list_keeps_parents_and_counts_their_pages() {
        let planned = plan("list_dashboards", json!({})).unwrap();
        let data = json!({"actor": {"entitySearch": {"results": {"entities": [
            {"guid": "P1", "name": "Zeta ops", "accountId": 1, "dashboardParentGuid": null, "permissions": "PUBLIC_READ_ONLY"},
            {"guid": "C1", "name": "Zeta ops / Overview", "accountId": 1, "dashboardParentGuid": "P1"},
            {"guid": "C2", "name": "Zeta ops / Hosts", "accountId": 1, "dashboardParentGuid": "P1"},
            {"guid": "P2", "name": "alpha", "accountId": 1}
        ]}}}});
        let output = respond(&planned, data).unwrap();
        assert_eq!(output.structured["total"], 2);
        assert_eq!(output.structured["dashboards"][0]["name"], "alpha");
        assert_eq!(output.structured["dashboards"][1]["pages"], 2);
        assert!(output.text.contains("Zeta ops — guid P1; 2 page(s)"), "{}", output.text);
        let empty =
            respond(&planned, json!({"actor": {"entitySearch": {"results": {"entities": []}}}})).unwrap();
        assert!(empty.text.contains("No dashboard matched"));
    }

    fn guid(account: i64) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{account}|VIZ|DASHBOARD|9"))
    }

    #[test]
    fn get_reads_pages_widgets_and_queries() {
        let planned = plan("get_dashboard", json!({"guid": guid(1)})).unwrap();
        assert_eq!(planned.cache.as_ref().map(|c| c.ttl), Some(Duration::from_secs(120)));
        let data = json!({"actor": {"entity": {
            "guid": guid(1), "name": "Checkout", "accountId": 1, "permissions": "PUBLIC_READ_ONLY",
            "pages": [{"guid": "PG", "name": "Overview", "widgets": [
                {"id": "1", "title": "Throughput", "visualization": {"id": "viz.line"},
                 "layout": {"row": 1, "column": 1, "width": 4, "height": 3},
                 "rawConfiguration": {"nrqlQueries": [{"accountIds": [1], "query": "SELECT count(*) FROM Transaction TIMESERIES"}]}},
                {"id": "2", "title": "Notes", "visualization": {"id": "viz.markdown"},
                 "layout": {"row": 1, "column": 5}, "rawConfiguration": {"text": "# Runbook"}}
            ]}],
            "variables": [{"name": "app", "title": "App", "type": "NRQL"}]
        }}});
        let output = respond(&planned, data).unwrap();
        assert_eq!(output.structured["widget_count"], 2);
        assert_eq!(output.structured["query_count"], 1);
        assert_eq!(output.structured["pages"][0]["widgets"][0]["queries"][0]["account_ids"], json!([1]));
        assert_eq!(output.structured["pages"][0]["widgets"][1]["text"], "# Runbook");
        assert!(output.text.contains("Throughput [viz.line] at row 1 col 1"), "{}", output.text);
        assert!(output.text.contains("SELECT count(*) FROM Transaction TIMESERIES"));
        assert!(output.text.contains("variables: app (NRQL)"));
    }

    #[test]
    fn get_explains_what_is_not_a_dashboard() {
        let planned = plan("get_dashboard", json!({"guid": guid(1)})).unwrap();
        let cases = [
            (json!({"actor": {"entity": null}}), ToolErrorKind::NotFound, "no entity"),
            (
                json!({"actor": {"entity": {"name": "p", "dashboardParentGuid": "PARENT"}}}),
                ToolErrorKind::BadRequest,
                "guid PARENT",
            ),
            (
                json!({"actor": {"entity": {"name": "web", "entityType": "APM_APPLICATION_ENTITY"}}}),
                ToolErrorKind::BadRequest,
                "not a dashboard",
            ),
        ];
        for (data, kind, needle) in cases {
            let error = respond(&planned, data).unwrap_err();
            assert_eq!(error.kind, kind);
            assert!(error.message.contains(needle), "{}", error.message);
        }
        assert!(matches!(plan("get_dashboard", json!({"guid": guid(7)})), Err(PlanError::Tool(_))));
        assert!(matches!(
            plan("get_dashboard", json!({"guid": "not a guid"})),
            Err(PlanError::InvalidArguments(_))
        ));
    }
}
