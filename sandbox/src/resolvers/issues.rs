//! `account.aiIssues`: issues and incidents filtered, windowed and paginated.

use serde_json::{Value, json};

use super::pagination::{self, LIST_PAGE_SIZE};
use super::{RequestContext, str_arg};
use crate::data::{Incident, Issue};
use crate::graphql::executor::{FieldCall, FieldError, Resolved, Resolver};

/// The window NerdGraph uses when none is given: the last 24 hours.
const DEFAULT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// An issue as `AiIssuesIssue` JSON.
pub fn issue_json(issue: &Issue) -> Value {
    json!({
        "issueId": issue.issue_id,
        "accountIds": [issue.account_id],
        "environmentId": issue.account_id,
        "eventType": "Issue",
        "title": issue.title,
        "description": issue.description,
        "priority": issue.priority,
        "state": issue.state,
        "createdAt": issue.created_at,
        "activatedAt": issue.activated_at,
        "closedAt": issue.closed_at,
        "closedBy": issue.closed_at.map(|_| "system"),
        "updatedAt": issue.updated_at,
        "acknowledgedAt": issue.acknowledged_at,
        "acknowledgedBy": issue.acknowledged_by,
        "entityGuids": issue.entity_guids,
        "entityNames": issue.entity_names,
        "entityTypes": issue.entity_types,
        "conditionName": issue.condition_names,
        "policyName": issue.policy_names,
        "policyIds": issue.policy_ids,
        "totalIncidents": issue.total_incidents,
        "incidentIds": issue.incident_ids,
        "sources": issue.sources,
        "origins": ["Alerts"],
        "mutingState": issue.muting_state,
        "isCorrelated": false,
        "isIdle": false,
        "deepLinkUrl": [format!("https://radar-api.service.newrelic.com/accounts/{}/issues/{}", issue.account_id, issue.issue_id)],
    })
}

fn incident_json(incident: &Incident) -> Value {
    json!({
        "__typename": "AiIssuesNewRelicIncident",
        "incidentId": incident.incident_id,
        "accountIds": incident.account_id.to_string(),
        "environmentId": incident.account_id,
        "title": incident.title,
        "description": [incident.title],
        "priority": incident.priority,
        "state": incident.state,
        "createdAt": incident.created_at,
        "closedAt": incident.closed_at,
        "updatedAt": incident.closed_at.unwrap_or(incident.created_at),
        "timestamp": incident.created_at,
        "entityGuids": incident.entity_guid,
        "entityNames": incident.entity_name,
        "entityTypes": incident.entity_type,
        "policyIds": incident.policy_id.to_string(),
        "conditionFamilyId": null,
    })
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    value.and_then(Value::as_array).map(|list| {
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())))
            .collect()
    })
}

fn window(ctx: &RequestContext<'_>, call: &FieldCall<'_>) -> (i64, i64) {
    let now = ctx.world.now_ms();
    let window = call.arg("timeWindow");
    let start =
        window.and_then(|w| w.get("startTime")).and_then(Value::as_i64).unwrap_or(now - DEFAULT_WINDOW_MS);
    let end = window.and_then(|w| w.get("endTime")).and_then(Value::as_i64).unwrap_or(now);
    (start, end)
}

pub(super) struct AiIssues<'w> {
    pub(super) ctx: &'w RequestContext<'w>,
    pub(super) account_id: i64,
}

impl<'w> Resolver<'w> for AiIssues<'w> {
    fn typename(&self) -> &str {
        "AiIssuesAccountStitchedFields"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        let (start, end) = window(self.ctx, call);
        if end < start {
            return Err(FieldError::invalid_input("timeWindow.endTime must not be before startTime"));
        }
        let filter = call.arg("filter");
        let list = |key: &str| strings(filter.and_then(|f| f.get(key)));
        let records = self.ctx.world.records();
        match call.name {
            "issues" => {
                let (states, priorities, ids) = (list("states"), list("priority"), list("ids"));
                let (guids, policy_ids, sources) = (list("entityGuids"), list("policyIds"), list("sources"));
                let muting = list("mutingStates");
                let acknowledged = filter.and_then(|f| f.get("isAcknowledged")).and_then(Value::as_bool);
                let contains =
                    filter.and_then(|f| f.get("contains")).and_then(Value::as_str).map(str::to_lowercase);
                let any = |wanted: &Option<Vec<String>>, have: &[String]| {
                    wanted.as_ref().is_none_or(|wanted| have.iter().any(|h| wanted.contains(h)))
                };
                let mut matched: Vec<&Issue> = records
                    .issues
                    .iter()
                    .filter(|i| i.account_id == self.account_id)
                    .filter(|i| i.created_at <= end && i.closed_at.is_none_or(|closed| closed >= start))
                    .filter(|i| states.as_ref().is_none_or(|s| s.contains(&i.state)))
                    .filter(|i| priorities.as_ref().is_none_or(|p| p.contains(&i.priority)))
                    .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&i.issue_id)))
                    .filter(|i| any(&guids, &i.entity_guids))
                    .filter(|i| any(&sources, &i.sources))
                    .filter(|i| {
                        any(&policy_ids, &i.policy_ids.iter().map(i64::to_string).collect::<Vec<_>>())
                    })
                    .filter(|i| muting.as_ref().is_none_or(|m| m.contains(&i.muting_state)))
                    .filter(|i| acknowledged.is_none_or(|ack| i.acknowledged_at.is_some() == ack))
                    .filter(|i| {
                        contains
                            .as_ref()
                            .is_none_or(|needle| i.title.iter().any(|t| t.to_lowercase().contains(needle)))
                    })
                    .collect();
                matched.sort_by(|a, b| {
                    b.created_at.cmp(&a.created_at).then_with(|| a.issue_id.cmp(&b.issue_id))
                });
                let all: Vec<Value> = matched.into_iter().map(issue_json).collect();
                let (page, next) = pagination::page("issues", &all, str_arg(call, "cursor"), LIST_PAGE_SIZE)?;
                Ok(Resolved::Value(json!({"issues": page, "nextCursor": next})))
            }
            "incidents" => {
                let (states, priorities, ids, guids) =
                    (list("states"), list("priority"), list("ids"), list("entityGuids"));
                let mut matched: Vec<&Incident> = records
                    .incidents_of(self.account_id)
                    .filter(|i| i.created_at <= end && i.closed_at.is_none_or(|closed| closed >= start))
                    .filter(|i| states.as_ref().is_none_or(|s| s.contains(&i.state)))
                    .filter(|i| priorities.as_ref().is_none_or(|p| p.contains(&i.priority)))
                    .filter(|i| ids.as_ref().is_none_or(|ids| ids.contains(&i.incident_id)))
                    .filter(|i| guids.as_ref().is_none_or(|g| g.contains(&i.entity_guid)))
                    .collect();
                matched.sort_by(|a, b| {
                    b.created_at.cmp(&a.created_at).then_with(|| a.incident_id.cmp(&b.incident_id))
                });
                let all: Vec<Value> = matched.into_iter().map(incident_json).collect();
                let (page, next) =
                    pagination::page("incidents", &all, str_arg(call, "cursor"), LIST_PAGE_SIZE)?;
                Ok(Resolved::Value(json!({"incidents": page, "nextCursor": next})))
            }
            _ => Ok(Resolved::null()),
        }
    }
}
