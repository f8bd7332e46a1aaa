//! `account.alerts`: policy and NRQL condition searches with cursor pagination.

use serde_json::{Value, json};

use super::pagination::{self, LIST_PAGE_SIZE};
use super::{RequestContext, str_arg};
use crate::data::{AlertPolicy, NrqlCondition};
use crate::graphql::executor::{FieldCall, FieldError, Resolved, Resolver};

/// A policy as `AlertsPolicy` JSON.
pub fn policy_json(policy: &AlertPolicy) -> Value {
    json!({
        "id": policy.id,
        "name": policy.name,
        "incidentPreference": policy.incident_preference,
        "accountId": policy.account_id,
    })
}

/// A condition as `AlertsNrqlStaticCondition` JSON.
pub fn condition_json(condition: &NrqlCondition) -> Value {
    json!({
        "__typename": "AlertsNrqlStaticCondition",
        "id": condition.id,
        "name": condition.name,
        "enabled": condition.enabled,
        "description": condition.description,
        "policyId": condition.policy_id,
        "type": "STATIC",
        "entityGuid": condition.entity_guid,
        "runbookUrl": condition.runbook_url,
        "valueFunction": "SINGLE_VALUE",
        "violationTimeLimitSeconds": condition.violation_time_limit_seconds,
        "nrql": {"query": condition.query, "dataAccountId": null, "evaluationOffset": null},
        "signal": {
            "aggregationWindow": condition.aggregation_window,
            "aggregationMethod": condition.aggregation_method,
            "aggregationDelay": condition.aggregation_delay,
            "aggregationTimer": null,
            "evaluationDelay": null,
            "fillOption": "NONE",
            "fillValue": null,
            "slideBy": null,
        },
        "terms": condition.terms.iter().map(|term| json!({
            "__typename": "AlertsNrqlConditionTermsWithPrediction",
            "priority": term.priority,
            "operator": term.operator,
            "threshold": term.threshold,
            "thresholdDuration": term.threshold_duration,
            "thresholdOccurrences": term.threshold_occurrences,
        })).collect::<Vec<_>>(),
    })
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

pub(super) struct Alerts<'w> {
    pub(super) ctx: &'w RequestContext<'w>,
    pub(super) account_id: i64,
}

impl<'w> Resolver<'w> for Alerts<'w> {
    fn typename(&self) -> &str {
        "AlertsAccountStitchedFields"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        let records = self.ctx.world.records();
        match call.name {
            "policiesSearch" => {
                let criteria = call.arg("searchCriteria");
                let text = |key: &str| criteria.and_then(|c| c.get(key)).and_then(Value::as_str);
                let ids: Option<Vec<String>> =
                    criteria.and_then(|c| c.get("ids")).and_then(Value::as_array).map(|ids| {
                        ids.iter()
                            .filter_map(|id| {
                                id.as_str().map(str::to_string).or_else(|| id.as_i64().map(|n| n.to_string()))
                            })
                            .collect()
                    });
                let matched: Vec<Value> = records
                    .policies
                    .iter()
                    .filter(|p| p.account_id == self.account_id)
                    .filter(|p| ids.as_ref().is_none_or(|ids| ids.contains(&p.id)))
                    .filter(|p| text("name").is_none_or(|name| p.name == name))
                    .filter(|p| text("nameLike").is_none_or(|like| contains_ignoring_case(&p.name, like)))
                    .map(policy_json)
                    .collect();
                let (page, next) =
                    pagination::page("policies", &matched, str_arg(call, "cursor"), LIST_PAGE_SIZE)?;
                Ok(Resolved::Value(
                    json!({"policies": page, "nextCursor": next, "totalCount": matched.len()}),
                ))
            }
            "policy" => {
                let id = str_arg(call, "id").unwrap_or_default();
                Ok(Resolved::Value(
                    records
                        .policies
                        .iter()
                        .find(|p| p.account_id == self.account_id && p.id == id)
                        .map_or(Value::Null, policy_json),
                ))
            }
            "nrqlConditionsSearch" => {
                let criteria = call.arg("searchCriteria");
                let text = |key: &str| criteria.and_then(|c| c.get(key)).and_then(Value::as_str);
                let matched: Vec<Value> = records
                    .conditions
                    .iter()
                    .filter(|c| c.account_id == self.account_id)
                    .filter(|c| text("policyId").is_none_or(|id| c.policy_id == id))
                    .filter(|c| text("name").is_none_or(|name| c.name == name))
                    .filter(|c| text("nameLike").is_none_or(|like| contains_ignoring_case(&c.name, like)))
                    .filter(|c| text("query").is_none_or(|query| c.query == query))
                    .filter(|c| text("queryLike").is_none_or(|like| contains_ignoring_case(&c.query, like)))
                    .map(condition_json)
                    .collect();
                let (page, next) =
                    pagination::page("conditions", &matched, str_arg(call, "cursor"), LIST_PAGE_SIZE)?;
                Ok(Resolved::Value(
                    json!({"nrqlConditions": page, "nextCursor": next, "totalCount": matched.len()}),
                ))
            }
            "nrqlCondition" => {
                let id = str_arg(call, "id").unwrap_or_default();
                Ok(Resolved::Value(
                    records
                        .conditions
                        .iter()
                        .find(|c| c.account_id == self.account_id && c.id == id)
                        .map_or(Value::Null, condition_json),
                ))
            }
            _ => Ok(Resolved::null()),
        }
    }
}
