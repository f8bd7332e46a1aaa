//! Entities: `entity(guid)`, `entities(guids)`, `entitySearch(...)` and the computed
//! entity fields (golden metrics and tags, related entities, deployment search, dashboard
//! pages), for applications, hosts, dashboards, browser applications, synthetic monitors and
//! infrastructure integration entities.

use serde_json::{Map, Value, json};

use super::pagination::{self, ENTITY_PAGE_SIZE};
use super::{RequestContext, str_arg};
use crate::data::{Dashboard, Deployment, Entity, EntityKind};
use crate::entity_search::EntityQuery;
use crate::graphql::executor::{FieldCall, FieldError, Resolved, Resolver};

/// Entities `entities(guids:)` returns at most.
const MAX_GUIDS: usize = 25;
/// `deploymentSearch` limits.
const DEPLOYMENT_DEFAULT_LIMIT: usize = 100;
const DEPLOYMENT_MAX_LIMIT: usize = 2000;

/// The plain fields of an entity (and, for an outline, with its outline typename).
pub fn entity_json(ctx: &RequestContext<'_>, entity: &Entity, outline: bool) -> Map<String, Value> {
    let account_name = ctx.world.dataset.account(entity.account_id).map(|a| a.name.clone());
    let typename = if outline { entity.kind.outline_typename() } else { entity.kind.entity_typename() };
    let mut map = Map::new();
    map.insert("__typename".into(), json!(typename));
    map.insert("guid".into(), json!(entity.guid));
    map.insert("name".into(), json!(entity.name));
    map.insert("entityType".into(), json!(entity.kind.entity_type_enum()));
    map.insert("domain".into(), json!(entity.domain));
    map.insert("type".into(), json!(entity.entity_type_tag));
    map.insert("accountId".into(), json!(entity.account_id));
    map.insert("account".into(), json!({"id": entity.account_id, "name": account_name}));
    map.insert("reporting".into(), json!(entity.reporting));
    map.insert("alertSeverity".into(), json!(entity.alert_severity));
    map.insert("permalink".into(), json!(entity.permalink));
    map.insert(
        "tags".into(),
        Value::Array(entity.tags.iter().map(|(key, values)| json!({"key": key, "values": values})).collect()),
    );
    match &entity.kind {
        EntityKind::ApmApplication { application_id, language } => {
            map.insert("applicationId".into(), json!(application_id));
            map.insert("language".into(), json!(language));
        }
        EntityKind::InfrastructureHost | EntityKind::GenericInfrastructure => {}
        EntityKind::BrowserApplication { application_id, serving_apm_application_id } => {
            map.insert("applicationId".into(), json!(application_id));
            map.insert("servingApmApplicationId".into(), json!(serving_apm_application_id));
        }
        EntityKind::SyntheticMonitor { monitor_id, monitor_type, monitored_url, period_minutes } => {
            map.insert("monitorId".into(), json!(monitor_id));
            map.insert("monitorType".into(), json!(monitor_type));
            map.insert("monitoredUrl".into(), json!(monitored_url));
            map.insert("period".into(), json!(period_minutes));
        }
        EntityKind::Dashboard { parent_guid } => {
            map.insert("dashboardParentGuid".into(), json!(parent_guid));
            let records = ctx.world.records();
            let owner = parent_guid.as_deref().unwrap_or(&entity.guid);
            if let Some(dashboard) = records.dashboards.iter().find(|d| d.guid == owner) {
                map.insert("permissions".into(), json!(dashboard.permissions));
                map.insert("createdAt".into(), json!(dashboard.created_at));
                map.insert("updatedAt".into(), json!(dashboard.updated_at));
                if parent_guid.is_none() {
                    map.insert("description".into(), json!(dashboard.description));
                    map.insert("pages".into(), pages_json(dashboard));
                    map.insert("variables".into(), variables_json(dashboard));
                }
            }
        }
    }
    map
}

/// The pages of a dashboard as `DashboardPage` JSON.
pub fn pages_json(dashboard: &Dashboard) -> Value {
    Value::Array(
        dashboard
            .pages
            .iter()
            .map(|page| {
                json!({
                    "guid": page.guid,
                    "name": page.name,
                    "description": page.description,
                    "createdAt": dashboard.created_at,
                    "updatedAt": dashboard.updated_at,
                    "widgets": page.widgets.iter().map(|widget| json!({
                        "id": widget.id,
                        "title": widget.title,
                        "visualization": {"id": widget.visualization},
                        "layout": {"column": widget.column, "row": widget.row, "width": widget.width, "height": widget.height},
                        "rawConfiguration": widget.raw_configuration,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The variables of a dashboard as `DashboardVariable` JSON.
pub fn variables_json(dashboard: &Dashboard) -> Value {
    Value::Array(
        dashboard
            .variables
            .iter()
            .map(|(name, title, kind)| json!({"name": name, "title": title, "type": kind}))
            .collect(),
    )
}

/// An entity (or entity outline) with its computed fields.
pub struct EntityObject<'w> {
    ctx: &'w RequestContext<'w>,
    entity: Entity,
    plain: Map<String, Value>,
    typename: &'static str,
}

impl<'w> EntityObject<'w> {
    /// Wraps an entity.
    pub fn new(ctx: &'w RequestContext<'w>, entity: Entity, outline: bool) -> EntityObject<'w> {
        let plain = entity_json(ctx, &entity, outline);
        let typename = if outline { entity.kind.outline_typename() } else { entity.kind.entity_typename() };
        EntityObject { ctx, entity, plain, typename }
    }
}

impl<'w> Resolver<'w> for EntityObject<'w> {
    fn typename(&self) -> &str {
        self.typename
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        match call.name {
            "goldenMetrics" => Ok(Resolved::Value(golden_metrics(&self.entity))),
            "goldenTags" => Ok(Resolved::Value(json!({
                "context": {"account": null, "guid": null},
                "tags": match self.entity.kind {
                    EntityKind::ApmApplication { .. } => json!([{"key": "environment"}, {"key": "team"}, {"key": "language"}]),
                    EntityKind::InfrastructureHost => json!([{"key": "environment"}, {"key": "operatingSystem"}]),
                    EntityKind::BrowserApplication { .. } => json!([{"key": "environment"}, {"key": "team"}]),
                    EntityKind::SyntheticMonitor { .. } => json!([{"key": "monitorType"}, {"key": "publicLocation"}]),
                    EntityKind::GenericInfrastructure => json!([{"key": "environment"}, {"key": "clusterName"}]),
                    EntityKind::Dashboard { .. } => json!([]),
                },
            }))),
            "relatedEntities" => related_entities(self.ctx, &self.entity, call),
            "deploymentSearch" => deployment_search(self.ctx, &self.entity, call),
            name => Ok(Resolved::Value(self.plain.get(name).cloned().unwrap_or(Value::Null))),
        }
    }
}

fn golden_metrics(entity: &Entity) -> Value {
    let guid = &entity.guid;
    let metric = |name: &str, title: &str, unit: &str, query: String| json!({"metricName": name, "name": name, "title": title, "unit": unit, "query": query});
    let metrics = match entity.kind {
        EntityKind::ApmApplication { .. } => vec![
            metric(
                "responseTimeMs",
                "Response time (ms)",
                "MS",
                format!(
                    "SELECT average(duration) * 1000 AS 'Response time (ms)' FROM Transaction WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "throughput",
                "Throughput",
                "REQUESTS_PER_MINUTE",
                format!(
                    "SELECT rate(count(*), 1 minute) AS 'Throughput' FROM Transaction WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "errorRate",
                "Error rate",
                "PERCENTAGE",
                format!(
                    "SELECT percentage(count(*), WHERE error IS true) AS 'Error rate' FROM Transaction WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
        ],
        EntityKind::InfrastructureHost => vec![
            metric(
                "cpuUsage",
                "CPU usage (%)",
                "PERCENTAGE",
                format!(
                    "SELECT average(cpuPercent) AS 'CPU usage (%)' FROM SystemSample WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "memoryUsage",
                "Memory usage (%)",
                "PERCENTAGE",
                format!(
                    "SELECT average(memoryUsedPercent) AS 'Memory usage (%)' FROM SystemSample WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "storageUsage",
                "Storage usage (%)",
                "PERCENTAGE",
                format!(
                    "SELECT max(diskUsedPercent) AS 'Storage usage (%)' FROM SystemSample WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
        ],
        EntityKind::BrowserApplication { .. } => vec![
            metric(
                "pageLoadSeconds",
                "Page load time (s)",
                "SECONDS",
                format!(
                    "SELECT average(duration) AS 'Page load time (s)' FROM PageView WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "pageViews",
                "Page views",
                "PAGES_PER_SECOND",
                format!(
                    "SELECT rate(count(*), 1 second) AS 'Page views' FROM PageView WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "jsErrors",
                "JavaScript errors",
                "COUNT",
                format!(
                    "SELECT count(*) AS 'JavaScript errors' FROM JavaScriptError WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
        ],
        EntityKind::SyntheticMonitor { .. } => vec![
            metric(
                "successRate",
                "Success rate",
                "PERCENTAGE",
                format!(
                    "SELECT percentage(count(*), WHERE result = 'SUCCESS') AS 'Success rate' FROM SyntheticCheck WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
            metric(
                "failedChecks",
                "Failed checks",
                "COUNT",
                format!(
                    "SELECT count(*) AS 'Failed checks' FROM SyntheticCheck WHERE entityGuid = '{guid}' AND result = 'FAILED' TIMESERIES"
                ),
            ),
            metric(
                "medianDurationMs",
                "Median duration (ms)",
                "MS",
                format!(
                    "SELECT median(duration) AS 'Median duration (ms)' FROM SyntheticCheck WHERE entityGuid = '{guid}' TIMESERIES"
                ),
            ),
        ],
        EntityKind::GenericInfrastructure => {
            let cluster = entity.tag_values("clusterName").first().cloned().unwrap_or_default();
            vec![
                metric(
                    "cpuUsedCores",
                    "CPU used (cores)",
                    "COUNT",
                    format!(
                        "SELECT sum(cpuUsedCores) AS 'CPU used (cores)' FROM K8sNodeSample WHERE clusterName = '{cluster}' TIMESERIES"
                    ),
                ),
                metric(
                    "memoryWorkingSetBytes",
                    "Memory working set",
                    "BYTES",
                    format!(
                        "SELECT sum(memoryWorkingSetBytes) AS 'Memory working set' FROM K8sNodeSample WHERE clusterName = '{cluster}' TIMESERIES"
                    ),
                ),
                metric(
                    "podsNotReady",
                    "Pods not ready",
                    "COUNT",
                    format!(
                        "SELECT uniqueCount(podName) AS 'Pods not ready' FROM K8sPodSample WHERE clusterName = '{cluster}' AND isReady = 0 TIMESERIES"
                    ),
                ),
            ]
        }
        EntityKind::Dashboard { .. } => Vec::new(),
    };
    json!({"context": {"account": null, "guid": null}, "metrics": metrics})
}

fn related_entities<'w>(
    ctx: &'w RequestContext<'w>,
    entity: &Entity,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let filter = call.arg("filter");
    let direction = filter.and_then(|f| f.get("direction")).and_then(Value::as_str).unwrap_or("BOTH");
    let type_list = |key: &str| -> Option<Vec<String>> {
        filter
            .and_then(|f| f.get("relationshipTypes"))
            .and_then(|types| types.get(key))
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
    };
    let (include, exclude) = (type_list("include"), type_list("exclude"));
    let records = ctx.world.records();
    let outline = |guid: &str| {
        records.entities.iter().find(|e| e.guid == guid).map(|e| Value::Object(entity_json_unlocked(ctx, e)))
    };
    let edges: Vec<Value> = ctx
        .world
        .dataset
        .relationships
        .iter()
        .filter(|edge| match direction {
            "INBOUND" => edge.target_guid == entity.guid,
            "OUTBOUND" => edge.source_guid == entity.guid,
            _ => edge.source_guid == entity.guid || edge.target_guid == entity.guid,
        })
        .filter(|edge| include.as_ref().is_none_or(|types| types.iter().any(|t| t == edge.kind)))
        .filter(|edge| exclude.as_ref().is_none_or(|types| !types.iter().any(|t| t == edge.kind)))
        .map(|edge| {
            let vertex = |guid: &str| {
                let account_id = records.entities.iter().find(|e| e.guid == guid).map_or(0, |e| e.account_id);
                json!({"guid": guid, "accountId": account_id, "entity": outline(guid)})
            };
            json!({
                "__typename": "EntityRelationshipDetectedEdge",
                "type": edge.kind,
                "createdAt": edge.created_at,
                "source": vertex(&edge.source_guid),
                "target": vertex(&edge.target_guid),
            })
        })
        .collect();
    let limit = call.arg("limit").and_then(Value::as_u64).map_or(usize::MAX, |l| l as usize);
    let (page, next) = pagination::page("related", &edges, str_arg(call, "cursor"), limit.max(1))?;
    Ok(Resolved::Value(json!({"results": page, "nextCursor": next})))
}

/// Entity outline JSON for related entities, without re-locking the records (dashboards
/// are not related to anything, so no dashboard details are needed).
fn entity_json_unlocked(ctx: &RequestContext<'_>, entity: &Entity) -> Map<String, Value> {
    let mut copy = entity.clone();
    if let EntityKind::Dashboard { .. } = copy.kind {
        copy.kind = EntityKind::Dashboard { parent_guid: None };
        let mut map = Map::new();
        map.insert("__typename".into(), json!(copy.kind.outline_typename()));
        map.insert("guid".into(), json!(copy.guid));
        map.insert("name".into(), json!(copy.name));
        return map;
    }
    entity_json(ctx, &copy, true)
}

fn deployment_search<'w>(
    ctx: &'w RequestContext<'w>,
    entity: &Entity,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let filter = call.arg("filter");
    let limit = filter
        .and_then(|f| f.get("limit"))
        .and_then(Value::as_u64)
        .map_or(DEPLOYMENT_DEFAULT_LIMIT, |l| l as usize);
    if limit > DEPLOYMENT_MAX_LIMIT {
        return Err(FieldError::invalid_input(format!(
            "deploymentSearch limit may be at most {DEPLOYMENT_MAX_LIMIT}"
        )));
    }
    let window = filter.and_then(|f| f.get("timeWindow"));
    let start = window.and_then(|w| w.get("startTime")).and_then(Value::as_i64).unwrap_or(i64::MIN);
    let end = window.and_then(|w| w.get("endTime")).and_then(Value::as_i64).unwrap_or(i64::MAX);
    let conditions = match filter.and_then(|f| f.get("query")).and_then(Value::as_str) {
        Some(query) => parse_deployment_query(query)?,
        None => Vec::new(),
    };
    let records = ctx.world.records();
    let mut found: Vec<&Deployment> = records
        .deployments
        .iter()
        .filter(|d| d.entity_guid == entity.guid && d.timestamp >= start && d.timestamp <= end)
        .filter(|d| {
            conditions.iter().all(|(field, value)| deployment_field(d, field).is_some_and(|v| v == value))
        })
        .collect();
    found.sort_by_key(|deployment| std::cmp::Reverse(deployment.timestamp));
    let results: Vec<Value> = found.into_iter().take(limit).map(deployment_json).collect();
    Ok(Resolved::Value(json!({"results": results})))
}

/// A deployment as `ChangeTrackingDeployment` JSON.
pub fn deployment_json(deployment: &Deployment) -> Value {
    json!({
        "deploymentId": deployment.deployment_id,
        "entityGuid": deployment.entity_guid,
        "version": deployment.version,
        "commit": deployment.commit,
        "user": deployment.user,
        "timestamp": deployment.timestamp,
        "description": deployment.description,
        "deploymentType": deployment.deployment_type,
        "changelog": deployment.changelog,
        "groupId": deployment.group_id,
        "deepLink": deployment.deep_link,
    })
}

fn deployment_field<'d>(deployment: &'d Deployment, field: &str) -> Option<&'d str> {
    match field {
        "version" => Some(&deployment.version),
        "commit" => deployment.commit.as_deref(),
        "user" => deployment.user.as_deref(),
        "deploymentType" => Some(&deployment.deployment_type),
        "description" => deployment.description.as_deref(),
        "deploymentId" => Some(&deployment.deployment_id),
        _ => None,
    }
}

/// `field = 'value' [AND …]` over version, commit, user, deploymentType, description,
/// deploymentId.
fn parse_deployment_query(query: &str) -> Result<Vec<(String, String)>, FieldError> {
    let mut conditions = Vec::new();
    let lowered = query.replace(" and ", " AND ");
    for part in lowered.split(" AND ").map(str::trim).filter(|p| !p.is_empty()) {
        let (field, value) = part
            .split_once('=')
            .map(|(f, v)| (f.trim(), v.trim().trim_matches(|c| c == '\'' || c == '"')))
            .ok_or_else(|| {
                FieldError::invalid_input(format!("Cannot read deployment search condition '{part}'"))
            })?;
        if !matches!(field, "version" | "commit" | "user" | "deploymentType" | "description" | "deploymentId")
        {
            return Err(FieldError::invalid_input(format!("Unknown deployment search field '{field}'")));
        }
        conditions.push((field.to_string(), value.to_string()));
    }
    Ok(conditions)
}

pub(super) fn entity<'w>(
    ctx: &'w RequestContext<'w>,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let guid = str_arg(call, "guid").unwrap_or_default();
    let found = ctx.world.records().entities.iter().find(|e| e.guid == guid).cloned();
    Ok(found.map_or_else(Resolved::null, |entity| Resolved::object(EntityObject::new(ctx, entity, false))))
}

pub(super) fn entities<'w>(
    ctx: &'w RequestContext<'w>,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let guids: Vec<String> = call
        .arg("guids")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if guids.len() > MAX_GUIDS {
        return Err(FieldError::invalid_input(format!(
            "You can fetch at most {MAX_GUIDS} entities in one query"
        )));
    }
    let found: Vec<Entity> = {
        let records = ctx.world.records();
        guids.iter().filter_map(|guid| records.entities.iter().find(|e| &e.guid == guid).cloned()).collect()
    };
    Ok(Resolved::List(
        found.into_iter().map(|e| Resolved::object(EntityObject::new(ctx, e, false))).collect(),
    ))
}

fn builder_query(builder: &Value) -> String {
    let mut parts = Vec::new();
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "\\'"));
    if let Some(name) = builder.get("name").and_then(Value::as_str) {
        parts.push(format!("name LIKE {}", quoted(name)));
    }
    if let Some(domain) = builder.get("domain").and_then(Value::as_str) {
        parts.push(format!("domain = {}", quoted(domain)));
    }
    if let Some(kind) = builder.get("type").and_then(Value::as_str) {
        parts.push(format!("type = {}", quoted(kind)));
    }
    if let Some(reporting) = builder.get("reporting").and_then(Value::as_bool) {
        parts.push(format!("reporting = '{reporting}'"));
    }
    if let Some(severity) = builder.get("alertSeverity").and_then(Value::as_str) {
        parts.push(format!("alertSeverity = {}", quoted(severity)));
    }
    for tag in builder.get("tags").and_then(Value::as_array).into_iter().flatten() {
        if let (Some(key), Some(value)) =
            (tag.get("key").and_then(Value::as_str), tag.get("value").and_then(Value::as_str))
        {
            parts.push(format!("tags.`{key}` = {}", quoted(value)));
        }
    }
    parts.join(" AND ")
}

fn sort_key(entity: &Entity, criterion: &str) -> String {
    match criterion {
        "DOMAIN" => entity.domain.to_string(),
        "TYPE" => entity.entity_type_tag.to_string(),
        "REPORTING" => entity.reporting.to_string(),
        "ALERT_SEVERITY" => entity.alert_severity.to_string(),
        _ => entity.name.to_lowercase(),
    }
}

pub(super) fn search<'w>(
    ctx: &'w RequestContext<'w>,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let query = match (str_arg(call, "query"), call.arg("queryBuilder")) {
        (Some(_), Some(_)) => {
            return Err(FieldError::invalid_input("Supply either 'query' or 'queryBuilder', not both"));
        }
        (Some(query), None) => query.to_string(),
        (None, Some(builder)) => builder_query(builder),
        (None, None) => return Err(FieldError::invalid_input("Supply a 'query' or a 'queryBuilder'")),
    };
    let parsed = EntityQuery::parse(&query).map_err(|error| FieldError::invalid_input(error.to_string()))?;
    let options = call.arg("options");
    let case_sensitive =
        options.and_then(|o| o.get("caseSensitiveTagMatching")).and_then(Value::as_bool).unwrap_or(false);
    let limit =
        options.and_then(|o| o.get("limit")).and_then(Value::as_u64).map_or(usize::MAX, |l| l as usize);
    let criteria: Vec<String> = call
        .arg("sortByWithDirection")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| c.get("attribute").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .filter(|list: &Vec<String>| !list.is_empty())
        .or_else(|| {
            call.arg("sortBy")
                .and_then(Value::as_array)
                .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        })
        .unwrap_or_else(|| vec!["NAME".to_string()]);
    let mut matched: Vec<Entity> =
        ctx.world.records().entities.iter().filter(|e| parsed.matches(e, case_sensitive)).cloned().collect();
    matched.sort_by(|a, b| {
        criteria
            .iter()
            .map(|criterion| sort_key(a, criterion).cmp(&sort_key(b, criterion)))
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| a.guid.cmp(&b.guid))
    });
    matched.truncate(limit);
    Ok(Resolved::object(EntitySearchObject { ctx, matched, query }))
}

struct EntitySearchObject<'w> {
    ctx: &'w RequestContext<'w>,
    matched: Vec<Entity>,
    query: String,
}

impl<'w> Resolver<'w> for EntitySearchObject<'w> {
    fn typename(&self) -> &str {
        "EntitySearch"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        match call.name {
            "count" => Ok(Resolved::Value(json!(self.matched.len()))),
            "query" => Ok(Resolved::Value(json!(self.query))),
            "types" => {
                let mut counts: Vec<(String, String, String, usize)> = Vec::new();
                for entity in &self.matched {
                    let key = (
                        entity.domain.to_string(),
                        entity.entity_type_tag.to_string(),
                        entity.kind.entity_type_enum().to_string(),
                    );
                    match counts.iter_mut().find(|(d, t, e, _)| (d, t, e) == (&key.0, &key.1, &key.2)) {
                        Some(entry) => entry.3 += 1,
                        None => counts.push((key.0, key.1, key.2, 1)),
                    }
                }
                Ok(Resolved::Value(Value::Array(
                    counts
                        .into_iter()
                        .map(|(domain, kind, entity_type, count)| {
                            json!({"domain": domain, "type": kind, "entityType": entity_type, "count": count})
                        })
                        .collect(),
                )))
            }
            "results" => {
                let (page, next) = pagination::page(
                    "entitySearch",
                    &self.matched,
                    str_arg(call, "cursor"),
                    ENTITY_PAGE_SIZE,
                )?;
                Ok(Resolved::object(EntityPage { ctx: self.ctx, entities: page, next_cursor: next }))
            }
            _ => Ok(Resolved::null()),
        }
    }
}

struct EntityPage<'w> {
    ctx: &'w RequestContext<'w>,
    entities: Vec<Entity>,
    next_cursor: Option<String>,
}

impl<'w> Resolver<'w> for EntityPage<'w> {
    fn typename(&self) -> &str {
        "EntitySearchResult"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        match call.name {
            "nextCursor" => Ok(Resolved::Value(json!(self.next_cursor))),
            "entities" => Ok(Resolved::List(
                self.entities
                    .iter()
                    .map(|e| Resolved::object(EntityObject::new(self.ctx, e.clone(), true)))
                    .collect(),
            )),
            _ => Ok(Resolved::null()),
        }
    }
}
