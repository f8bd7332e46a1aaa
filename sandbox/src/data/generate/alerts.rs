//! Alert policies, NRQL conditions and the Applied Intelligence issues (with their
//! incidents) they opened.

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::super::guid::entity_guid;
use super::super::model::{AlertPolicy, Incident, Issue, NrqlCondition, Term};
use super::{AppInstance, DAY, HOUR, HostInstance, MINUTE, PRODUCTION, STAGING, uuid_like};

pub(super) fn generate_alerts() -> (Vec<AlertPolicy>, Vec<NrqlCondition>) {
    let policy_specs: [(i64, &str, &str); 7] = [
        (PRODUCTION, "Checkout SLOs", "PER_CONDITION"),
        (PRODUCTION, "Payments critical", "PER_POLICY"),
        (PRODUCTION, "Infrastructure hosts", "PER_CONDITION_AND_TARGET"),
        (PRODUCTION, "Frontend experience", "PER_CONDITION"),
        (PRODUCTION, "Background jobs", "PER_POLICY"),
        (STAGING, "Staging smoke", "PER_POLICY"),
        (STAGING, "Staging infrastructure", "PER_CONDITION"),
    ];
    let policies: Vec<AlertPolicy> = policy_specs
        .iter()
        .enumerate()
        .map(|(index, (account_id, name, preference))| AlertPolicy {
            id: (2_000_101 + index as i64).to_string(),
            account_id: *account_id,
            name: (*name).to_string(),
            incident_preference: (*preference).to_string(),
        })
        .collect();
    let error_rate = |app: &str| {
        format!("SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = '{app}'")
    };
    let p95 = |app: &str| format!("SELECT percentile(duration, 95) FROM Transaction WHERE appName = '{app}'");
    let condition_specs: Vec<(usize, String, String, &str, f64, bool)> = vec![
        (0, "checkout error rate > 5%".into(), error_rate("checkout-service"), "ABOVE", 5.0, true),
        (0, "checkout p95 latency > 1s".into(), p95("checkout-service"), "ABOVE", 1.0, true),
        (1, "payments error rate > 5%".into(), error_rate("payments-api"), "ABOVE", 5.0, true),
        (
            1,
            "payments throughput too low".into(),
            "SELECT count(*) FROM Transaction WHERE appName = 'payments-api'".into(),
            "BELOW",
            5.0,
            true,
        ),
        (
            2,
            "host CPU > 90%".into(),
            "SELECT average(cpuPercent) FROM SystemSample FACET hostname".into(),
            "ABOVE",
            90.0,
            true,
        ),
        (
            2,
            "host disk > 85%".into(),
            "SELECT max(diskUsedPercent) FROM SystemSample FACET hostname".into(),
            "ABOVE",
            85.0,
            true,
        ),
        (3, "frontend p95 latency > 500ms".into(), p95("web-frontend"), "ABOVE", 0.5, true),
        (4, "inventory errors".into(), error_rate("inventory-worker"), "ABOVE", 10.0, false),
        (5, "staging checkout errors".into(), error_rate("checkout-service"), "ABOVE", 20.0, true),
        (
            6,
            "staging memory > 90%".into(),
            "SELECT average(memoryUsedPercent) FROM SystemSample FACET hostname".into(),
            "ABOVE",
            90.0,
            true,
        ),
    ];
    let conditions = condition_specs
        .into_iter()
        .enumerate()
        .map(|(index, (policy_index, name, query, operator, threshold, enabled))| {
            let policy = &policies[policy_index];
            let id = (3_000_001 + index as i64).to_string();
            NrqlCondition {
                entity_guid: entity_guid(policy.account_id, "AIOPS", "CONDITION", &id),
                id,
                account_id: policy.account_id,
                policy_id: policy.id.clone(),
                name,
                enabled,
                description: None,
                query,
                runbook_url: Some("https://runbooks.acme.example/alerts".to_string()),
                terms: vec![Term {
                    priority: "CRITICAL".to_string(),
                    operator: operator.to_string(),
                    threshold,
                    threshold_duration: 300,
                    threshold_occurrences: "ALL".to_string(),
                }],
                aggregation_window: 60,
                aggregation_method: "EVENT_FLOW".to_string(),
                aggregation_delay: Some(120),
                violation_time_limit_seconds: 86_400,
            }
        })
        .collect();
    (policies, conditions)
}

struct IssueSpec {
    account_id: i64,
    entity: &'static str,
    title: &'static str,
    priority: &'static str,
    state: &'static str,
    created_ago: i64,
    duration: i64,
    condition: &'static str,
    acknowledged: bool,
}

pub(super) fn generate_issues(
    rng: &mut StdRng,
    apps: &[AppInstance],
    hosts: &[HostInstance],
    policies: &[AlertPolicy],
    conditions: &[NrqlCondition],
    anchor_ms: i64,
) -> (Vec<Issue>, Vec<Incident>) {
    let specs = [
        IssueSpec {
            account_id: PRODUCTION,
            entity: "payments-api",
            title: "payments-api error rate above 5%",
            priority: "CRITICAL",
            state: "ACTIVATED",
            created_ago: 85 * MINUTE,
            duration: 0,
            condition: "payments error rate > 5%",
            acknowledged: false,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "checkout-service",
            title: "checkout-service p95 latency above 1s",
            priority: "HIGH",
            state: "ACTIVATED",
            created_ago: 6 * HOUR,
            duration: 0,
            condition: "checkout p95 latency > 1s",
            acknowledged: true,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "ip-10-0-1-12",
            title: "Disk usage above 85% on ip-10-0-1-12",
            priority: "MEDIUM",
            state: "CREATED",
            created_ago: 30 * MINUTE,
            duration: 0,
            condition: "host disk > 85%",
            acknowledged: false,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "web-frontend",
            title: "web-frontend p95 latency above 500ms",
            priority: "HIGH",
            state: "DEACTIVATED",
            created_ago: 20 * HOUR,
            duration: 45 * MINUTE,
            condition: "frontend p95 latency > 500ms",
            acknowledged: false,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "ip-10-0-1-13",
            title: "CPU above 90% on ip-10-0-1-13",
            priority: "MEDIUM",
            state: "CLOSED",
            created_ago: 36 * HOUR,
            duration: 25 * MINUTE,
            condition: "host CPU > 90%",
            acknowledged: true,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "payments-api",
            title: "payments-api error rate above 5%",
            priority: "CRITICAL",
            state: "CLOSED",
            created_ago: 2 * DAY,
            duration: 40 * MINUTE,
            condition: "payments error rate > 5%",
            acknowledged: true,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "checkout-service",
            title: "checkout-service error rate above 5%",
            priority: "HIGH",
            state: "CLOSED",
            created_ago: 40 * HOUR,
            duration: 15 * MINUTE,
            condition: "checkout error rate > 5%",
            acknowledged: false,
        },
        IssueSpec {
            account_id: PRODUCTION,
            entity: "inventory-worker",
            title: "inventory-worker throughput dropped",
            priority: "LOW",
            state: "CLOSED",
            created_ago: 60 * HOUR,
            duration: 90 * MINUTE,
            condition: "inventory errors",
            acknowledged: false,
        },
        IssueSpec {
            account_id: STAGING,
            entity: "ip-10-1-1-21",
            title: "Memory above 90% on ip-10-1-1-21",
            priority: "LOW",
            state: "ACTIVATED",
            created_ago: 3 * HOUR,
            duration: 0,
            condition: "staging memory > 90%",
            acknowledged: false,
        },
        IssueSpec {
            account_id: STAGING,
            entity: "checkout-service",
            title: "staging checkout-service error rate above 20%",
            priority: "MEDIUM",
            state: "CLOSED",
            created_ago: DAY,
            duration: 30 * MINUTE,
            condition: "staging checkout errors",
            acknowledged: false,
        },
    ];
    let mut issues = Vec::new();
    let mut incidents = Vec::new();
    for spec in specs {
        let (guid, entity_type) = if let Some(app) =
            apps.iter().find(|a| a.account_id == spec.account_id && a.spec.name == spec.entity)
        {
            (app.guid.clone(), "APPLICATION")
        } else if let Some(host) =
            hosts.iter().find(|h| h.account_id == spec.account_id && h.name == spec.entity)
        {
            (host.guid.clone(), "HOST")
        } else {
            continue;
        };
        let Some(condition) = conditions.iter().find(|c| c.name == spec.condition) else { continue };
        let Some(policy) = policies.iter().find(|p| p.id == condition.policy_id) else { continue };
        let created_at = anchor_ms - spec.created_ago;
        let activated_at = (spec.state != "CREATED").then_some(created_at + MINUTE);
        let closed_at = matches!(spec.state, "CLOSED" | "DEACTIVATED").then_some(created_at + spec.duration);
        let acknowledged_at = spec.acknowledged.then_some(created_at + 5 * MINUTE);
        let issue_id = uuid_like(rng);
        let incident_count = 1 + (rng.random::<u8>() % 3) as i64;
        let mut incident_ids = Vec::new();
        for n in 0..incident_count {
            let incident_id = uuid_like(rng);
            incidents.push(Incident {
                incident_id: incident_id.clone(),
                issue_id: issue_id.clone(),
                account_id: spec.account_id,
                title: format!("{} (signal {})", spec.title, n + 1),
                priority: spec.priority.to_string(),
                state: if closed_at.is_some() { "CLOSED" } else { "CREATED" }.to_string(),
                created_at: created_at + n * MINUTE,
                closed_at,
                entity_guid: guid.clone(),
                entity_name: spec.entity.to_string(),
                entity_type: entity_type.to_string(),
                policy_id: policy.id.parse().unwrap_or_default(),
            });
            incident_ids.push(incident_id);
        }
        issues.push(Issue {
            issue_id,
            account_id: spec.account_id,
            title: vec![spec.title.to_string()],
            description: vec![format!("{} violated {}", spec.entity, spec.condition)],
            priority: spec.priority.to_string(),
            state: spec.state.to_string(),
            created_at,
            activated_at,
            closed_at,
            updated_at: closed_at.or(acknowledged_at).or(activated_at).unwrap_or(created_at),
            acknowledged_at,
            acknowledged_by: spec.acknowledged.then(|| "oncall@acme.example".to_string()),
            entity_guids: vec![guid],
            entity_names: vec![spec.entity.to_string()],
            entity_types: vec![entity_type.to_string()],
            condition_names: vec![condition.name.clone()],
            policy_names: vec![policy.name.clone()],
            policy_ids: vec![policy.id.parse().unwrap_or_default()],
            total_incidents: incident_count,
            incident_ids,
            sources: vec!["newrelic".to_string()],
            muting_state: "NOT_MUTED".to_string(),
        });
    }
    (issues, incidents)
}

/// The `NrAiIssue` events of an issue's lifecycle: created, activated, closed.
pub(super) fn push_issue_events(issue: &Issue, account_events: &mut Vec<Event>) {
    let mut push = |event: &'static str, timestamp: i64| {
        account_events.push(
            Event::new("NrAiIssue", timestamp)
                .with("issueId", issue.issue_id.as_str())
                .with("title", issue.title.join(" "))
                .with("priority", issue.priority.as_str())
                .with("state", issue.state.as_str())
                .with("event", event)
                .with("entityGuids", issue.entity_guids.join(","))
                .with("entityNames", issue.entity_names.join(","))
                .with("conditionName", issue.condition_names.join(","))
                .with("policyName", issue.policy_names.join(","))
                .with("accountId", issue.account_id),
        );
    };
    push("create", issue.created_at);
    if let Some(activated) = issue.activated_at {
        push("activate", activated);
    }
    if let Some(closed) = issue.closed_at {
        push("close", closed);
    }
}
