//! `RootMutationType`: alert policies and conditions, issue actions, change tracking,
//! NRQL cancellation, dashboard and synthetic monitor creation, applied to the sandbox's
//! records.

use serde_json::{Value, json};

use super::alerts::{condition_json, policy_json};
use super::entities::{deployment_json, pages_json, variables_json};
use super::{RequestContext, account_error, int_arg, nrql, str_arg};
use crate::data::{
    AlertPolicy, Dashboard, DashboardPage, DashboardWidget, Deployment, Entity, EntityKind, Event,
    NrqlCondition, Term, entity_guid,
};
use crate::graphql::executor::{FieldCall, FieldError, Resolved, Resolver};

/// Change-tracking text fields are cut to this many characters.
const MAX_TEXT: usize = 4096;
/// Change-tracking timestamps must lie within this distance of now.
const DEPLOYMENT_SKEW_MS: i64 = 24 * 60 * 60 * 1000;
/// Bounds of `violationTimeLimitSeconds`.
const VIOLATION_LIMIT_RANGE: (i64, i64) = (300, 2_592_000);
/// Public locations synthetic monitors may run from.
const PUBLIC_LOCATIONS: &[&str] = &[
    "AWS_AF_SOUTH_1",
    "AWS_AP_EAST_1",
    "AWS_AP_NORTHEAST_1",
    "AWS_AP_NORTHEAST_2",
    "AWS_AP_SOUTH_1",
    "AWS_AP_SOUTHEAST_1",
    "AWS_AP_SOUTHEAST_2",
    "AWS_CA_CENTRAL_1",
    "AWS_EU_CENTRAL_1",
    "AWS_EU_NORTH_1",
    "AWS_EU_SOUTH_1",
    "AWS_EU_WEST_1",
    "AWS_EU_WEST_2",
    "AWS_EU_WEST_3",
    "AWS_ME_SOUTH_1",
    "AWS_SA_EAST_1",
    "AWS_US_EAST_1",
    "AWS_US_EAST_2",
    "AWS_US_WEST_1",
    "AWS_US_WEST_2",
];

/// `RootMutationType`.
pub struct MutationRoot<'w> {
    /// Request context.
    pub ctx: &'w RequestContext<'w>,
}

impl<'w> Resolver<'w> for MutationRoot<'w> {
    fn typename(&self) -> &str {
        "RootMutationType"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        let value = match call.name {
            "alertsPolicyCreate" => self.policy_create(call)?,
            "alertsPolicyUpdate" => self.policy_update(call)?,
            "alertsPolicyDelete" => self.policy_delete(call)?,
            "alertsNrqlConditionStaticCreate" => self.condition_create(call)?,
            "alertsConditionDelete" => self.condition_delete(call)?,
            "aiIssuesAckIssue" => self.issue_action(call, "ACK")?,
            "aiIssuesUnackIssue" => self.issue_action(call, "UNACK")?,
            "aiIssuesResolveIssue" => self.issue_action(call, "RESOLVE")?,
            "changeTrackingCreateDeployment" => self.deployment_create(call)?,
            "nrqlCancelQuery" => nrql::cancel(self.ctx, str_arg(call, "queryId").unwrap_or_default()),
            "dashboardCreate" => self.dashboard_create(call)?,
            "syntheticsCreateSimpleMonitor" => self.monitor_create(call)?,
            _ => Value::Null,
        };
        Ok(Resolved::Value(value))
    }
}

fn required_text<'v>(input: &'v Value, key: &str) -> Result<&'v str, FieldError> {
    input
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| FieldError::invalid_input(format!("'{key}' must not be empty")))
}

fn optional_text(input: &Value, key: &str) -> Option<String> {
    input.get(key).and_then(Value::as_str).map(|text| text.chars().take(MAX_TEXT).collect())
}

impl MutationRoot<'_> {
    fn account(&self, call: &FieldCall<'_>) -> Result<i64, FieldError> {
        let account_id = int_arg(call, "accountId")?;
        if !self.ctx.world.has_account(account_id) {
            return Err(account_error(account_id));
        }
        Ok(account_id)
    }

    fn policy_create(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let input = call.arg("policy").cloned().unwrap_or(Value::Null);
        let name = required_text(&input, "name")?;
        let preference = required_text(&input, "incidentPreference")?;
        let mut records = self.ctx.world.records();
        let policy = AlertPolicy {
            id: records.next_id().to_string(),
            account_id,
            name: name.to_string(),
            incident_preference: preference.to_string(),
        };
        records.policies.push(policy.clone());
        Ok(policy_json(&policy))
    }

    fn policy_update(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let id = str_arg(call, "id").unwrap_or_default().to_string();
        let input = call.arg("policy").cloned().unwrap_or(Value::Null);
        let mut records = self.ctx.world.records();
        let policy =
            records.policies.iter_mut().find(|p| p.account_id == account_id && p.id == id).ok_or_else(
                || FieldError::new("NOT_FOUND", format!("Policy {id} not found in account {account_id}")),
            )?;
        if let Some(name) = input.get("name").and_then(Value::as_str) {
            policy.name = name.to_string();
        }
        if let Some(preference) = input.get("incidentPreference").and_then(Value::as_str) {
            policy.incident_preference = preference.to_string();
        }
        Ok(policy_json(policy))
    }

    fn policy_delete(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let id = str_arg(call, "id").unwrap_or_default().to_string();
        let mut records = self.ctx.world.records();
        let before = records.policies.len();
        records.policies.retain(|p| !(p.account_id == account_id && p.id == id));
        if records.policies.len() == before {
            return Err(FieldError::new(
                "NOT_FOUND",
                format!("Policy {id} not found in account {account_id}"),
            ));
        }
        records.conditions.retain(|c| c.policy_id != id);
        Ok(json!({"id": id}))
    }

    fn condition_create(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let policy_id = str_arg(call, "policyId").unwrap_or_default().to_string();
        let input = call.arg("condition").cloned().unwrap_or(Value::Null);
        let name = required_text(&input, "name")?.to_string();
        let query = input
            .get("nrql")
            .and_then(|nrql| nrql.get("query"))
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::invalid_input("'nrql.query' is required"))?
            .to_string();
        let parsed = newrelic_mcp_nrql::parse(&query)
            .map_err(|error| FieldError::invalid_input(format!("NRQL Syntax Error: {error}")))?;
        if parsed.as_select().is_some_and(|select| !select.direct_subqueries().is_empty()) {
            return Err(FieldError::invalid_input("Subqueries are not supported in alert conditions"));
        }
        let violation_limit =
            input.get("violationTimeLimitSeconds").and_then(Value::as_i64).unwrap_or(259_200);
        if !(VIOLATION_LIMIT_RANGE.0..=VIOLATION_LIMIT_RANGE.1).contains(&violation_limit) {
            return Err(FieldError::invalid_input(format!(
                "violationTimeLimitSeconds must be between {} and {}",
                VIOLATION_LIMIT_RANGE.0, VIOLATION_LIMIT_RANGE.1
            )));
        }
        let terms: Vec<Term> = input
            .get("terms")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|term| Term {
                priority: term.get("priority").and_then(Value::as_str).unwrap_or("CRITICAL").to_string(),
                operator: term.get("operator").and_then(Value::as_str).unwrap_or("ABOVE").to_string(),
                threshold: term.get("threshold").and_then(Value::as_f64).unwrap_or_default(),
                threshold_duration: term.get("thresholdDuration").and_then(Value::as_i64).unwrap_or(300),
                threshold_occurrences: term
                    .get("thresholdOccurrences")
                    .and_then(Value::as_str)
                    .unwrap_or("ALL")
                    .to_string(),
            })
            .collect();
        let signal = input.get("signal");
        let signal_int = |key: &str| signal.and_then(|s| s.get(key)).and_then(Value::as_i64);
        let mut records = self.ctx.world.records();
        if !records.policies.iter().any(|p| p.account_id == account_id && p.id == policy_id) {
            return Err(FieldError::new(
                "NOT_FOUND",
                format!("Policy {policy_id} not found in account {account_id}"),
            ));
        }
        let id = records.next_id().to_string();
        let condition = NrqlCondition {
            entity_guid: entity_guid(account_id, "AIOPS", "CONDITION", &id),
            id,
            account_id,
            policy_id,
            name,
            enabled: input.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            description: optional_text(&input, "description"),
            query,
            runbook_url: optional_text(&input, "runbookUrl"),
            terms,
            aggregation_window: signal_int("aggregationWindow").unwrap_or(60),
            aggregation_method: signal
                .and_then(|s| s.get("aggregationMethod"))
                .and_then(Value::as_str)
                .unwrap_or("EVENT_FLOW")
                .to_string(),
            aggregation_delay: signal_int("aggregationDelay"),
            violation_time_limit_seconds: violation_limit,
        };
        records.conditions.push(condition.clone());
        Ok(condition_json(&condition))
    }

    fn condition_delete(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let id = str_arg(call, "id").unwrap_or_default().to_string();
        let mut records = self.ctx.world.records();
        let before = records.conditions.len();
        records.conditions.retain(|c| !(c.account_id == account_id && c.id == id));
        if records.conditions.len() == before {
            return Err(FieldError::new(
                "NOT_FOUND",
                format!("Condition {id} not found in account {account_id}"),
            ));
        }
        Ok(json!({"id": id}))
    }

    /// Issue actions report problems inside the payload (`error`), as NerdGraph does.
    fn issue_action(&self, call: &FieldCall<'_>, action: &str) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let issue_id = str_arg(call, "issueId").unwrap_or_default().to_string();
        let now = self.ctx.world.now_ms();
        let mut records = self.ctx.world.records();
        let Some(issue) =
            records.issues.iter_mut().find(|i| i.account_id == account_id && i.issue_id == issue_id)
        else {
            return Ok(
                json!({"error": format!("Issue {issue_id} not found in account {account_id}"), "result": null}),
            );
        };
        match action {
            "ACK" => {
                issue.acknowledged_at = Some(now);
                issue.acknowledged_by = Some("sandbox.user@acme.example".to_string());
            }
            "UNACK" => {
                issue.acknowledged_at = None;
                issue.acknowledged_by = None;
            }
            _ => {
                if issue.state == "CLOSED" {
                    return Ok(
                        json!({"error": format!("Issue {issue_id} is already closed"), "result": null}),
                    );
                }
                issue.state = "CLOSED".to_string();
                issue.closed_at = Some(now);
            }
        }
        issue.updated_at = now;
        Ok(json!({"error": null, "result": {"accountId": account_id, "action": action, "issueId": issue_id}}))
    }

    fn deployment_create(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let input = call.arg("deployment").cloned().unwrap_or(Value::Null);
        let guid = required_text(&input, "entityGuid")?.to_string();
        let version = required_text(&input, "version")?.chars().take(MAX_TEXT).collect::<String>();
        let now = self.ctx.world.now_ms();
        let timestamp = input.get("timestamp").and_then(Value::as_i64).unwrap_or(now);
        if (timestamp - now).abs() > DEPLOYMENT_SKEW_MS {
            return Err(FieldError::invalid_input("'timestamp' must be within 24 hours of the current time"));
        }
        let mut records = self.ctx.world.records();
        let entity = records
            .entities
            .iter()
            .find(|e| e.guid == guid)
            .cloned()
            .ok_or_else(|| FieldError::new("NOT_FOUND", format!("Entity {guid} not found")))?;
        let deployment = Deployment {
            deployment_id: format!("{:08x}-sandbox-{}", records.next_id(), entity.account_id),
            entity_guid: guid.clone(),
            account_id: entity.account_id,
            version,
            commit: optional_text(&input, "commit"),
            user: optional_text(&input, "user"),
            timestamp,
            description: optional_text(&input, "description"),
            deployment_type: input
                .get("deploymentType")
                .and_then(Value::as_str)
                .unwrap_or("BASIC")
                .to_string(),
            changelog: optional_text(&input, "changelog"),
            group_id: optional_text(&input, "groupId"),
            deep_link: optional_text(&input, "deepLink"),
        };
        let mut event = Event::new("Deployment", timestamp)
            .with("deploymentId", deployment.deployment_id.as_str())
            .with("entity.guid", guid.as_str())
            .with("entityGuid", guid.as_str())
            .with("appName", entity.name.as_str())
            .with("version", deployment.version.as_str())
            .with("deploymentType", deployment.deployment_type.as_str());
        for (name, value) in [
            ("commit", &deployment.commit),
            ("user", &deployment.user),
            ("description", &deployment.description),
        ] {
            if let Some(value) = value {
                event = event.with(name, value.as_str());
            }
        }
        records.extra_events.entry(entity.account_id).or_default().push(event);
        records.deployments.push(deployment.clone());
        Ok(deployment_json(&deployment))
    }

    /// Invalid monitors are reported in the payload's `errors`, as NerdGraph does. A created
    /// monitor becomes an entity at once, so entity search and `entity(guid)` find it.
    fn monitor_create(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let input = call.arg("monitor").cloned().unwrap_or(Value::Null);
        let refused = |description: String| json!({"monitor": null, "errors": [{"description": description, "type": "BAD_REQUEST"}]});
        let Some(name) = input.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) else {
            return Ok(refused("Monitor name must not be empty".to_string()));
        };
        let uri = input.get("uri").and_then(Value::as_str).unwrap_or_default();
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            return Ok(refused(format!("Invalid uri '{uri}': it must start with http:// or https://")));
        }
        let period = input.get("period").and_then(Value::as_str).unwrap_or_default().to_string();
        let Some(period_minutes) = period_minutes(&period) else {
            return Ok(refused(format!("Invalid period '{period}'")));
        };
        let status = input.get("status").and_then(Value::as_str).unwrap_or("ENABLED").to_string();
        let locations: Vec<String> = input
            .get("locations")
            .and_then(|l| l.get("public"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if locations.is_empty() {
            return Ok(refused("A monitor needs at least one location".to_string()));
        }
        if let Some(unknown) = locations.iter().find(|l| !PUBLIC_LOCATIONS.contains(&l.as_str())) {
            return Ok(refused(format!("Invalid public location '{unknown}'")));
        }
        let now = self.ctx.world.now_ms();
        let account_name = self.ctx.world.dataset.account(account_id).map(|a| a.name.clone());
        let mut records = self.ctx.world.records();
        let serial = records.next_id();
        let monitor_id = format!("{:08x}-0000-4000-8000-{:012x}", account_id, serial);
        let guid = entity_guid(account_id, "SYNTH", "MONITOR", &monitor_id);
        let mut tags = vec![
            ("accountId".to_string(), vec![account_id.to_string()]),
            ("monitorType".to_string(), vec!["SIMPLE".to_string()]),
            ("period".to_string(), vec![period.clone()]),
            ("publicLocation".to_string(), locations.clone()),
        ];
        if let Some(account_name) = account_name {
            tags.push(("account".to_string(), vec![account_name]));
        }
        records.entities.push(Entity {
            guid: guid.clone(),
            name: name.to_string(),
            account_id,
            domain: "SYNTH",
            entity_type_tag: "MONITOR",
            kind: EntityKind::SyntheticMonitor {
                monitor_id: monitor_id.clone(),
                monitor_type: "SIMPLE".to_string(),
                monitored_url: Some(uri.to_string()),
                period_minutes,
            },
            // No check has run yet.
            reporting: false,
            alert_severity: "NOT_CONFIGURED",
            tags,
            permalink: format!("https://one.newrelic.com/redirect/entity/{guid}"),
        });
        Ok(json!({
            "errors": [],
            "monitor": {
                "guid": guid,
                "id": monitor_id,
                "name": name,
                "uri": uri,
                "period": period,
                "status": status,
                "locations": {"public": locations, "private": []},
                "createdAt": now,
                "modifiedAt": now,
            },
        }))
    }

    /// Invalid dashboards are reported in the payload's `errors`, as NerdGraph does.
    fn dashboard_create(&self, call: &FieldCall<'_>) -> Result<Value, FieldError> {
        let account_id = self.account(call)?;
        let input = call.arg("dashboard").cloned().unwrap_or(Value::Null);
        let invalid = |description: &str| json!({"entityResult": null, "errors": [{"description": description, "type": "INVALID_INPUT"}]});
        let Some(name) = input.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) else {
            return Ok(invalid("Dashboard name must not be empty"));
        };
        let pages_input = input.get("pages").and_then(Value::as_array).cloned().unwrap_or_default();
        if pages_input.is_empty() {
            return Ok(invalid("A dashboard needs at least one page"));
        }
        let now = chrono::DateTime::from_timestamp_millis(self.ctx.world.now_ms())
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let mut records = self.ctx.world.records();
        let dashboard_id = records.next_id();
        let guid = entity_guid(account_id, "VIZ", "DASHBOARD", &dashboard_id.to_string());
        let mut pages = Vec::new();
        for page in &pages_input {
            let Some(page_name) = page.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty())
            else {
                return Ok(invalid("Every page needs a name"));
            };
            let mut widgets = Vec::new();
            for widget in page.get("widgets").and_then(Value::as_array).into_iter().flatten() {
                let Some(visualization) =
                    widget.get("visualization").and_then(|v| v.get("id")).and_then(Value::as_str)
                else {
                    return Ok(invalid("Every widget needs a visualization id"));
                };
                let layout = widget.get("layout");
                let layout_int = |key: &str, default: i64| {
                    layout.and_then(|l| l.get(key)).and_then(Value::as_i64).unwrap_or(default)
                };
                widgets.push(DashboardWidget {
                    id: records.next_id().to_string(),
                    title: widget.get("title").and_then(Value::as_str).unwrap_or_default().to_string(),
                    visualization: visualization.to_string(),
                    column: layout_int("column", 1),
                    row: layout_int("row", 1),
                    width: layout_int("width", 4),
                    height: layout_int("height", 3),
                    raw_configuration: widget.get("rawConfiguration").cloned().unwrap_or_else(|| json!({})),
                });
            }
            let page_id = records.next_id();
            pages.push(DashboardPage {
                guid: entity_guid(account_id, "VIZ", "DASHBOARD", &page_id.to_string()),
                name: page_name.to_string(),
                description: page.get("description").and_then(Value::as_str).map(str::to_string),
                widgets,
            });
        }
        let dashboard = Dashboard {
            guid: guid.clone(),
            account_id,
            name: name.to_string(),
            description: input.get("description").and_then(Value::as_str).map(str::to_string),
            permissions: input
                .get("permissions")
                .and_then(Value::as_str)
                .unwrap_or("PUBLIC_READ_WRITE")
                .to_string(),
            created_at: now.clone(),
            updated_at: now,
            pages,
            variables: input
                .get("variables")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    Some((
                        v.get("name")?.as_str()?.to_string(),
                        v.get("title").and_then(Value::as_str).map(str::to_string),
                        v.get("type").and_then(Value::as_str).unwrap_or("STRING").to_string(),
                    ))
                })
                .collect(),
        };
        let entity = |guid: &str, name: &str, parent: Option<String>| Entity {
            guid: guid.to_string(),
            name: name.to_string(),
            account_id,
            domain: "VIZ",
            entity_type_tag: "DASHBOARD",
            kind: EntityKind::Dashboard { parent_guid: parent },
            reporting: true,
            alert_severity: "NOT_CONFIGURED",
            tags: vec![("accountId".to_string(), vec![account_id.to_string()])],
            permalink: format!("https://one.newrelic.com/redirect/entity/{guid}"),
        };
        records.entities.push(entity(&dashboard.guid, &dashboard.name, None));
        for page in &dashboard.pages {
            records.entities.push(entity(&page.guid, &page.name, Some(dashboard.guid.clone())));
        }
        let result = json!({
            "entityResult": {
                "guid": dashboard.guid,
                "name": dashboard.name,
                "accountId": account_id,
                "description": dashboard.description,
                "permissions": dashboard.permissions,
                "createdAt": dashboard.created_at,
                "updatedAt": dashboard.updated_at,
                "pages": pages_json(&dashboard),
                "variables": variables_json(&dashboard),
            },
            "errors": [],
        });
        records.dashboards.push(dashboard);
        Ok(result)
    }
}

/// Minutes between runs of a `SyntheticsMonitorPeriod`.
fn period_minutes(period: &str) -> Option<i64> {
    Some(match period {
        "EVERY_MINUTE" => 1,
        "EVERY_5_MINUTES" => 5,
        "EVERY_10_MINUTES" => 10,
        "EVERY_15_MINUTES" => 15,
        "EVERY_30_MINUTES" => 30,
        "EVERY_HOUR" => 60,
        "EVERY_6_HOURS" => 360,
        "EVERY_12_HOURS" => 720,
        "EVERY_DAY" => 1_440,
        _ => return None,
    })
}
