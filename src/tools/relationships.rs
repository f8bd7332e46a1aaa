//! What an entity is connected to (calls, hosts, serves, …) and which metric names it reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints,
    ToolOutput,
};
use newrelic_mcp_actors::upstream::{Pagination, RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::{ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::data_access::NrqlSettings;
use super::entity_ref::{checked_guid, entity_account};
use super::nrql_tool::args;
use super::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use super::render::{Capped, MAX_ROWS, at, cell, list_at, response_notes, warnings};

const CATEGORY: &str = "discovery";

pub(crate) const RELATED_ENTITIES: &str = r#"query RelatedEntities($guid: EntityGuid!, $filter: EntityRelationshipEdgeFilter, $cursor: String) {
  actor {
    entity(guid: $guid) {
      guid name type domain accountId
      relatedEntities(filter: $filter, cursor: $cursor) {
        nextCursor
        results {
          type createdAt
          source { guid accountId entity { guid name type domain accountId reporting alertSeverity } }
          target { guid accountId entity { guid name type domain accountId reporting alertSeverity } }
        }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[("RelatedEntities", RELATED_ENTITIES)];

const RELATED_PAGES: Pagination = Pagination {
    cursor_variable: "cursor",
    page_path: &["actor", "entity", "relatedEntities"],
    items_field: "results",
    max_pages: 5,
};

/// The relationship types New Relic records (`EntityRelationshipEdgeType`).
const RELATIONSHIP_TYPES: &[&str] = &[
    "AFFECTS",
    "BUILT_FROM",
    "BYPASS_CALLS",
    "CALLS",
    "CONNECTS_TO",
    "CONSUMES",
    "CONTAINS",
    "HOSTS",
    "IS",
    "MANAGES",
    "MEASURES",
    "MONITORS",
    "OPERATES_IN",
    "OWNS",
    "PRODUCES",
    "SECURES",
    "SERVES",
    "TRIGGERS",
];

/// Most metric names listed; the count is always reported.
const MAX_METRIC_NAMES: usize = 500;
const METRIC_NAMES_SINCE: &str = "1 day";

pub struct RelationshipsPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl RelationshipsPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        Self {
            tools: vec![
                BuiltinTool::shared(
                    Spec {
                        name: "list_related_entities",
                        title: "List related entities",
                        description: "List the entities one hop away from an entity: the services it calls or \
                            is called by, the host that runs it, the monitors that check it, … Each with the \
                            relationship type, its direction, and the related entity's name, type, GUID and alert \
                            severity. Filter by direction (INBOUND, OUTBOUND) or relationship_types (CALLS, HOSTS, \
                            SERVES, …).",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(120)),
                    },
                    plan_list_related_entities,
                ),
                metric_names_tool(&settings.policy),
            ],
        }
    }
}

impl Default for RelationshipsPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(
    RelationshipsPlugin,
    "entity-relationships",
    "Entity relationships and the metric names an entity reports"
);

/// Which way a relationship points, seen from the entity asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    /// Relationships pointing at the entity (who calls it, what hosts it).
    Inbound,
    /// Relationships from the entity (what it calls, what it hosts).
    Outbound,
    /// Both (the default).
    Both,
}

/// Arguments of `list_related_entities`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRelatedEntitiesArgs {
    /// GUID of the entity whose neighbours to list.
    pub entity_guid: String,
    /// `INBOUND`, `OUTBOUND` or `BOTH` (default).
    pub direction: Option<Direction>,
    /// Only these relationship types, e.g. `["CALLS"]` or `["HOSTS", "SERVES"]`.
    pub relationship_types: Option<Vec<String>>,
    /// Account the entity belongs to; read from the GUID when omitted.
    pub account_id: Option<i64>,
}

fn relationship_types(requested: Option<Vec<String>>) -> Result<Option<Vec<String>>, PlanError> {
    let Some(requested) = requested else { return Ok(None) };
    let mut types = Vec::new();
    for kind in requested {
        let upper = kind.trim().to_uppercase();
        if !RELATIONSHIP_TYPES.contains(&upper.as_str()) {
            return Err(PlanError::InvalidArguments(format!(
                "relationship type '{}' is unknown; use one of {}",
                kind.chars().take(40).collect::<String>(),
                RELATIONSHIP_TYPES.join(", ")
            )));
        }
        if !types.contains(&upper) {
            types.push(upper);
        }
    }
    types.sort();
    if types.is_empty() {
        return Err(PlanError::InvalidArguments("relationship_types must name at least one type".into()));
    }
    Ok(Some(types))
}

fn plan_list_related_entities(
    args: ListRelatedEntitiesArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let guid = checked_guid("entity_guid", &args.entity_guid, context)?;
    let account = entity_account(args.account_id, &guid, context)?;
    let direction = args.direction.unwrap_or(Direction::Both);
    let types = relationship_types(args.relationship_types)?;
    let mut filter = Map::new();
    filter.insert("direction".into(), json!(direction));
    if let Some(types) = &types {
        filter.insert("relationshipTypes".into(), json!({ "include": types }));
    }
    let request = UpstreamRequest {
        operation: "RelatedEntities",
        document: RELATED_ENTITIES.into(),
        variables: json!({ "guid": guid, "filter": filter, "cursor": null }),
        kind: RequestKind::Read,
        pagination: Some(RELATED_PAGES),
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "guid": guid, "direction": direction, "types": types });
    let allowed = context.allowed_accounts.clone();
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_related(&guid, allowed.as_deref(), response),
    ))
}

fn render_related(
    guid: &str,
    allowed: Option<&[i64]>,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let entity = at(&response.data, &["actor", "entity"]);
    if entity.is_null() {
        return Err(ToolError::new(
            ToolErrorKind::NotFound,
            format!("no entity with guid {guid}: get_entity finds entities by name"),
        ));
    }
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut hidden = 0;
    let mut related = Vec::new();
    for edge in list_at(entity, &["relatedEntities", "results"]) {
        let outbound = at(&edge, &["source", "guid"]).as_str() == Some(guid);
        let other = if outbound { at(&edge, &["target"]) } else { at(&edge, &["source"]) };
        let other_account = at(other, &["accountId"]).as_i64();
        if allowed.is_some_and(|allowed| other_account.is_none_or(|a| !allowed.contains(&a))) {
            hidden += 1;
            continue;
        }
        let kind = cell(at(&edge, &["type"]));
        *by_type.entry(kind.clone()).or_default() += 1;
        let neighbour = at(other, &["entity"]);
        related.push(json!({
            "relationship": kind,
            "direction": if outbound { "OUTBOUND" } else { "INBOUND" },
            "guid": at(other, &["guid"]),
            "name": at(neighbour, &["name"]),
            "domain": at(neighbour, &["domain"]),
            "type": at(neighbour, &["type"]),
            "account_id": other_account,
            "reporting": at(neighbour, &["reporting"]),
            "alert_severity": at(neighbour, &["alertSeverity"]),
        }));
    }
    let name = cell(at(entity, &["name"]));
    let capped = Capped::new(related, MAX_ROWS);
    let mut text = format!(
        "{} of {name} ({} {})\n",
        capped.heading("related entity", "related entities"),
        cell(at(entity, &["domain"])),
        cell(at(entity, &["type"]))
    );
    for row in &capped.rows {
        let other = format!(
            "{} ({} {}, guid {}{})",
            cell(at(row, &["name"])),
            cell(at(row, &["domain"])),
            cell(at(row, &["type"])),
            cell(at(row, &["guid"])),
            match at(row, &["alert_severity"]).as_str() {
                Some(severity) if severity != "NOT_CONFIGURED" => format!(", {severity}"),
                _ => String::new(),
            }
        );
        let relationship = cell(at(row, &["relationship"]));
        if at(row, &["direction"]) == "OUTBOUND" {
            text.push_str(&format!("{name} {relationship} {other}\n"));
        } else {
            text.push_str(&format!("{other} {relationship} {name}\n"));
        }
    }
    if capped.total == 0 {
        text.push_str("No relationship recorded; try direction BOTH and no relationship_types.\n");
    }
    if hidden > 0 {
        text.push_str(&format!(
            "{hidden} related entities in accounts outside this server's allow-list are not shown\n"
        ));
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert(
        "entity".into(),
        json!({ "guid": guid, "name": at(entity, &["name"]), "type": at(entity, &["type"]), "domain": at(entity, &["domain"]) }),
    );
    structured.insert("by_relationship".into(), json!(by_type));
    structured.insert("related".into(), Value::Array(capped.rows));
    structured.insert("hidden_outside_allowed_accounts".into(), json!(hidden));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

/// Arguments of `list_metric_names`: exactly one of `app_name` and `entity_guid`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMetricNamesArgs {
    /// APM application name, e.g. `checkout-service`. Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// GUID of the entity. Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// Only names containing this text, e.g. `GC/` or `Memory`.
    pub name_filter: Option<String>,
    /// How far back to look, e.g. `1 hour`, `7 days` (default `1 day`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct MetricNamesContext {
    subject: String,
    window: String,
}

pub(super) fn metric_name_shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "names",
            format!(
                "SELECT uniques(metricTimesliceName, {MAX_METRIC_NAMES}) AS 'timeslices', \
                 uniques(metricName, {MAX_METRIC_NAMES}) AS 'metrics' FROM Metric {{where}} SINCE {{{{since}}}} ago"
            ),
            vec![args::since_param(METRIC_NAMES_SINCE)],
        )
        .with_conditions(vec![
            Condition::one("app", "appName = {{app}}", ParamType::String),
            Condition::one("guid", "entity.guid = {{guid}}", ParamType::String),
            Condition::one(
                "pattern",
                "(metricTimesliceName LIKE {{pattern}} OR metricName LIKE {{pattern}})",
                ParamType::String,
            ),
        ]),
    ]
}

fn metric_names_tool(policy: &Arc<Policy>) -> Arc<dyn Tool> {
    nrql_tool(
        Spec {
            name: "list_metric_names",
            title: "List metric names",
            description: "List the metric names an APM application or entity reports (timeslice names such as \
                GC/G1 Young Generation, Memory/Heap/Used, Threads/…, and dimensional metric names), grouped by \
                prefix, over a window (default the last day). Use a name with execute_nrql_query or \
                get_metric_statistics.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(300)),
        },
        metric_name_shapes(),
        policy,
        choose_metric_names,
        render_metric_names,
    )
}

fn choose_metric_names(
    args: ListMetricNamesArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<MetricNamesContext>, PlanError> {
    let subject =
        args::one_of(("app_name", args.app_name.as_deref()), ("entity_guid", args.entity_guid.as_deref()))?;
    let window = args::since_label(args.since.as_deref(), METRIC_NAMES_SINCE);
    let pattern = args::optional_name("name_filter", args.name_filter.as_deref())?.map(|f| format!("%{f}%"));
    let call = match subject {
        Ok(app) => {
            let app = args::name("app_name", app)?;
            NrqlCall::new("names", args.account_id, MetricNamesContext { subject: app.clone(), window })
                .filter("app", Some(app))
        }
        Err(guid) => {
            let guid = args::guid("entity_guid", guid, plan_context)?;
            NrqlCall::new(
                "names",
                args.account_id,
                MetricNamesContext { subject: format!("entity {guid}"), window },
            )
            .filter("guid", Some(guid))
        }
    };
    Ok(call.filter("pattern", pattern).value_opt("since", args.since))
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn render_metric_names(answer: &NrqlAnswer, context: &MetricNamesContext) -> Result<ToolOutput, ToolError> {
    let row = answer.first();
    let mut names: Vec<String> = string_list(at(row, &["timeslices"]));
    names.extend(string_list(at(row, &["metrics"])));
    names.sort();
    names.dedup();
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for name in &names {
        let prefix = name.split(['/', '.']).next().unwrap_or(name).to_string();
        *groups.entry(prefix).or_default() += 1;
    }
    let capped = Capped::new(names.iter().map(|n| json!(n)).collect(), MAX_METRIC_NAMES);
    let mut text = format!(
        "{} reported by {} ({})\n",
        capped.heading("metric name", "metric names"),
        context.subject,
        context.window
    );
    if !groups.is_empty() {
        let summary: Vec<String> =
            groups.iter().map(|(prefix, count)| format!("{prefix} ({count})")).collect();
        text.push_str(&format!("by prefix: {}\n", summary.join(", ")));
    }
    for name in &capped.rows {
        text.push_str(&format!("{}\n", cell(name)));
    }
    if capped.total == 0 {
        text.push_str(
            "No metric reported in this window. Timeslice metrics come from APM agents (JVM apps report GC, \
             memory and thread metrics); check the name with get_entity, or widen since.\n",
        );
    }
    let mut structured = capped.counts();
    structured.insert("subject".into(), json!(context.subject));
    structured.insert("window".into(), json!(context.window));
    structured.insert("by_prefix".into(), json!(groups));
    structured.insert("metric_names".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use base64::Engine;
    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;
    use crate::tools::nrql_tool::parse_all;
    use crate::tools::nrql_tool::testing::{self, answer};

    fn guid(account: i64) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{account}|APM|APPLICATION|7"))
    }

    fn tools() -> Vec<Arc<dyn Tool>> {
        RelationshipsPlugin::default().tools()
    }

    #[test]
    fn every_query_shape_parses() {
        parse_all(&metric_name_shapes()).unwrap();
    }

    #[test]
    fn related_entities_filter_is_a_variable() {
        let cases = [
            (json!({"entity_guid": guid(1)}), json!({"direction": "BOTH"})),
            (
                json!({"entity_guid": guid(1), "direction": "OUTBOUND", "relationship_types": ["calls", "HOSTS", "CALLS"]}),
                json!({"direction": "OUTBOUND", "relationshipTypes": {"include": ["CALLS", "HOSTS"]}}),
            ),
        ];
        for (arguments, filter) in cases {
            let planned = testing::plan(&tools(), "list_related_entities", arguments).unwrap();
            let PlanAction::Upstream { request, .. } = &planned.action else { panic!("expected upstream") };
            assert_eq!(request.variables["filter"], filter);
            assert_eq!(planned.cache.unwrap().ttl, Duration::from_secs(120));
        }
        for bad in [
            json!({"entity_guid": guid(1), "relationship_types": ["FRIENDS"]}),
            json!({"entity_guid": guid(1), "relationship_types": []}),
            json!({"entity_guid": guid(1), "direction": "SIDEWAYS"}),
            json!({"entity_guid": "a b"}),
        ] {
            assert!(
                matches!(
                    testing::plan(&tools(), "list_related_entities", bad.clone()),
                    Err(PlanError::InvalidArguments(_))
                ),
                "{bad}"
            );
        }
    }

    fn edge(kind: &str, source: (&str, &str, i64), target: (&str, &str, i64)) -> Value {
        let vertex = |(guid, name, account): (&str, &str, i64)| json!({"guid": guid, "accountId": account, "entity": {"guid": guid, "name": name, "domain": "APM", "type": "APPLICATION", "alertSeverity": "CRITICAL"}});
        json!({"type": kind, "source": vertex(source), "target": vertex(target)})
    }

    #[test]
    fn renders_relationships_from_the_entity_point_of_view() {
        let data = json!({"actor": {"entity": {"guid": "ME", "name": "checkout", "domain": "APM", "type": "APPLICATION",
        "relatedEntities": {"results": [
            edge("CALLS", ("ME", "checkout", 1), ("P", "payments", 1)),
            edge("CALLS", ("W", "web", 1), ("ME", "checkout", 1)),
            edge("CALLS", ("ME", "checkout", 1), ("X", "secret", 9)),
        ]}}}});
        let output =
            render_related("ME", Some(&[1]), UpstreamResponse { data, pages: 1, ..Default::default() })
                .unwrap();
        assert!(
            output.text.contains("checkout CALLS payments (APM APPLICATION, guid P, CRITICAL)"),
            "{}",
            output.text
        );
        assert!(
            output.text.contains("web (APM APPLICATION, guid W, CRITICAL) CALLS checkout"),
            "{}",
            output.text
        );
        assert!(!output.text.contains("secret"));
        assert_eq!(output.structured["total"], 2);
        assert_eq!(output.structured["hidden_outside_allowed_accounts"], 1);
        assert_eq!(output.structured["by_relationship"]["CALLS"], 2);
        assert_eq!(output.structured["related"][0]["direction"], "OUTBOUND");
        let missing = render_related(
            "ME",
            None,
            UpstreamResponse { data: json!({"actor": {"entity": null}}), ..Default::default() },
        );
        assert_eq!(missing.unwrap_err().kind, ToolErrorKind::NotFound);
    }

    #[test]
    fn metric_names_query_the_subject_and_pattern_as_values() {
        let planned = testing::plan(
            &tools(),
            "list_metric_names",
            json!({"app_name": "checkout", "name_filter": "GC/"}),
        )
        .unwrap();
        let nrql = testing::nrql(&planned);
        assert!(nrql.contains("appName = 'checkout'"), "{nrql}");
        assert!(nrql.contains("metricTimesliceName LIKE '%GC/%'"), "{nrql}");
        assert!(nrql.ends_with("SINCE 1 day ago"), "{nrql}");
        let by_guid = testing::nrql(
            &testing::plan(
                &tools(),
                "list_metric_names",
                json!({"entity_guid": guid(1), "since": "2 hours"}),
            )
            .unwrap(),
        );
        assert!(by_guid.contains(&format!("entity.guid = '{}'", guid(1))), "{by_guid}");
        assert!(testing::plan(&tools(), "list_metric_names", json!({})).is_err());
    }

    #[test]
    fn metric_names_are_merged_sorted_and_grouped() {
        let output = answer(
            &tools(),
            "list_metric_names",
            json!({"app_name": "checkout"}),
            json!([{"timeslices": ["Memory/Heap/Used", "GC/G1 Young Generation", "GC/G1 Old Generation"], "metrics": ["apm.service.cpu.usertime.utilization", "Memory/Heap/Used"]}]),
        )
        .unwrap();
        assert_eq!(output.structured["total"], 4);
        assert_eq!(output.structured["metric_names"][0], "GC/G1 Old Generation");
        assert_eq!(output.structured["by_prefix"]["GC"], 2);
        assert!(output.text.contains("by prefix: GC (2), Memory (1), apm (1)"), "{}", output.text);
        let empty = answer(
            &tools(),
            "list_metric_names",
            json!({"app_name": "x"}),
            json!([{"timeslices": [], "metrics": []}]),
        )
        .unwrap();
        assert!(empty.text.contains("No metric reported"));
    }
}
