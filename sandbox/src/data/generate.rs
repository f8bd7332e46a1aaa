//! Builds the synthetic world from a seed and an anchor time.
//!
//! The story: two accounts (production and staging) run a small shop — a web frontend
//! calling a checkout service that calls payments and inventory — on a handful of hosts.
//! Payments shipped a release shortly before its error rate jumped, which opened an issue
//! that is still active; other issues are older and closed.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::event::Event;
use super::guid::entity_guid;
use super::model::{
    Account, AlertPolicy, Dashboard, DashboardPage, DashboardWidget, Deployment, Entity, EntityKind,
    Incident, Issue, NrqlCondition, Relationship, Term,
};
use super::{Dataset, HISTORY_MS};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Production account id.
pub const PRODUCTION: i64 = 1_000_001;
/// Staging account id.
pub const STAGING: i64 = 1_000_002;

struct AppSpec {
    name: &'static str,
    language: &'static str,
    team: &'static str,
    base_duration: f64,
    error_rate: f64,
    transactions: &'static [(&'static str, &'static str, &'static str)],
}

const APPS: [AppSpec; 4] = [
    AppSpec {
        name: "checkout-service",
        language: "java",
        team: "commerce",
        base_duration: 0.22,
        error_rate: 0.02,
        transactions: &[
            ("WebTransaction/SpringController/checkout/submit", "POST", "/checkout/submit"),
            ("WebTransaction/SpringController/checkout/cart", "GET", "/checkout/cart"),
            ("WebTransaction/SpringController/checkout/quote", "POST", "/checkout/quote"),
        ],
    },
    AppSpec {
        name: "payments-api",
        language: "go",
        team: "payments",
        base_duration: 0.15,
        error_rate: 0.01,
        transactions: &[
            ("WebTransaction/Go/payments/authorize", "POST", "/v1/payments/authorize"),
            ("WebTransaction/Go/payments/capture", "POST", "/v1/payments/capture"),
            ("WebTransaction/Go/payments/refund", "POST", "/v1/payments/refund"),
        ],
    },
    AppSpec {
        name: "web-frontend",
        language: "nodejs",
        team: "storefront",
        base_duration: 0.09,
        error_rate: 0.005,
        transactions: &[
            ("WebTransaction/Expressjs/GET//", "GET", "/"),
            ("WebTransaction/Expressjs/GET//products/:id", "GET", "/products/42"),
            ("WebTransaction/Expressjs/GET//search", "GET", "/search"),
        ],
    },
    AppSpec {
        name: "inventory-worker",
        language: "python",
        team: "commerce",
        base_duration: 0.6,
        error_rate: 0.015,
        transactions: &[
            ("OtherTransaction/Celery/inventory.reserve", "", ""),
            ("OtherTransaction/Celery/inventory.restock", "", ""),
        ],
    },
];

/// Transactions per application: one every this many milliseconds on average.
const TRANSACTION_SPACING_MS: i64 = 90_000;
/// Host samples: one every this many milliseconds.
const SAMPLE_SPACING_MS: i64 = 5 * MINUTE;
/// Spans are kept for the most recent hours only, as in a short trace retention.
const SPAN_HISTORY_MS: i64 = 6 * HOUR;
/// The payments release that raised its error rate went out this long before the anchor.
const BAD_RELEASE_AGO_MS: i64 = 100 * MINUTE;
/// Payments' elevated error rate after that release.
const BAD_RELEASE_ERROR_RATE: f64 = 0.18;

struct AppInstance {
    spec: &'static AppSpec,
    account_id: i64,
    environment: &'static str,
    guid: String,
    host: String,
    host_guid: String,
}

struct HostInstance {
    name: String,
    guid: String,
    account_id: i64,
    reporting_until: i64,
}

fn section_rng(seed: u64, section: u64) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(section))
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

fn uuid_like(rng: &mut StdRng) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0x0fff,
        (rng.random::<u16>() & 0x3fff) | 0x8000,
        rng.random::<u64>() & 0xffff_ffff_ffff
    )
}

fn rfc3339(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn permalink(guid: &str) -> String {
    format!("https://one.newrelic.com/redirect/entity/{guid}")
}

pub(super) fn generate(seed: u64, anchor_ms: i64) -> Dataset {
    let accounts = vec![
        Account { id: PRODUCTION, name: "Acme Production".to_string() },
        Account { id: STAGING, name: "Acme Staging".to_string() },
    ];
    let start = anchor_ms - HISTORY_MS;

    let mut hosts = Vec::new();
    for (index, name) in ["ip-10-0-1-11", "ip-10-0-1-12", "ip-10-0-1-13", "ip-10-0-1-14"].iter().enumerate() {
        let id = (5001 + index).to_string();
        hosts.push(HostInstance {
            name: (*name).to_string(),
            guid: entity_guid(PRODUCTION, "INFRA", "HOST", &id),
            account_id: PRODUCTION,
            reporting_until: anchor_ms,
        });
    }
    for (index, name) in ["ip-10-1-1-21", "ip-10-1-1-22"].iter().enumerate() {
        let id = (6001 + index).to_string();
        // The second staging host was decommissioned a day ago and stopped reporting.
        let reporting_until = if index == 1 { anchor_ms - DAY } else { anchor_ms };
        hosts.push(HostInstance {
            name: (*name).to_string(),
            guid: entity_guid(STAGING, "INFRA", "HOST", &id),
            account_id: STAGING,
            reporting_until,
        });
    }

    let mut apps = Vec::new();
    for (index, spec) in APPS.iter().enumerate() {
        let host = &hosts[index];
        apps.push(AppInstance {
            spec,
            account_id: PRODUCTION,
            environment: "production",
            guid: entity_guid(PRODUCTION, "APM", "APPLICATION", &(100_001 + index as i64).to_string()),
            host: host.name.clone(),
            host_guid: host.guid.clone(),
        });
    }
    for (index, spec) in APPS.iter().take(2).enumerate() {
        let host = &hosts[4];
        apps.push(AppInstance {
            spec,
            account_id: STAGING,
            environment: "staging",
            guid: entity_guid(STAGING, "APM", "APPLICATION", &(200_001 + index as i64).to_string()),
            host: host.name.clone(),
            host_guid: host.guid.clone(),
        });
    }

    let mut id_rng = section_rng(seed, 1);
    let deployments = generate_deployments(&mut section_rng(seed, 2), &apps, anchor_ms);
    let (policies, conditions) = generate_alerts(&apps);
    let (issues, incidents) = generate_issues(&mut id_rng, &apps, &hosts, &policies, &conditions, anchor_ms);

    let mut entities = Vec::new();
    for (index, app) in apps.iter().enumerate() {
        let severity = match issues
            .iter()
            .filter(|issue| issue.state == "ACTIVATED" && issue.entity_guids.contains(&app.guid))
            .map(|issue| issue.priority.as_str())
            .next()
        {
            Some("CRITICAL") => "CRITICAL",
            Some(_) => "WARNING",
            None => "NOT_ALERTING",
        };
        let application_id = if app.account_id == PRODUCTION { 100_001 } else { 200_001 }
            + apps[..index].iter().filter(|other| other.account_id == app.account_id).count() as i64;
        entities.push(Entity {
            guid: app.guid.clone(),
            name: app.spec.name.to_string(),
            account_id: app.account_id,
            domain: "APM",
            entity_type_tag: "APPLICATION",
            kind: EntityKind::ApmApplication { application_id, language: app.spec.language.to_string() },
            reporting: true,
            alert_severity: severity,
            tags: vec![
                ("account".to_string(), vec![account_name(&accounts, app.account_id)]),
                ("accountId".to_string(), vec![app.account_id.to_string()]),
                ("environment".to_string(), vec![app.environment.to_string()]),
                ("language".to_string(), vec![app.spec.language.to_string()]),
                ("team".to_string(), vec![app.spec.team.to_string()]),
            ],
            permalink: permalink(&app.guid),
        });
    }
    for host in &hosts {
        let environment = if host.account_id == PRODUCTION { "production" } else { "staging" };
        let severity = if issues.iter().any(|i| i.state == "ACTIVATED" && i.entity_guids.contains(&host.guid))
        {
            "WARNING"
        } else {
            "NOT_ALERTING"
        };
        entities.push(Entity {
            guid: host.guid.clone(),
            name: host.name.clone(),
            account_id: host.account_id,
            domain: "INFRA",
            entity_type_tag: "HOST",
            kind: EntityKind::InfrastructureHost,
            reporting: host.reporting_until == anchor_ms,
            alert_severity: severity,
            tags: vec![
                ("account".to_string(), vec![account_name(&accounts, host.account_id)]),
                ("accountId".to_string(), vec![host.account_id.to_string()]),
                ("environment".to_string(), vec![environment.to_string()]),
                ("operatingSystem".to_string(), vec!["linux".to_string()]),
            ],
            permalink: permalink(&host.guid),
        });
    }

    let mut relationships = Vec::new();
    let production_app = |name: &str| {
        apps.iter().find(|a| a.account_id == PRODUCTION && a.spec.name == name).map(|a| a.guid.clone())
    };
    for (source, target) in [
        ("web-frontend", "checkout-service"),
        ("checkout-service", "payments-api"),
        ("checkout-service", "inventory-worker"),
    ] {
        if let (Some(source_guid), Some(target_guid)) = (production_app(source), production_app(target)) {
            relationships.push(Relationship { source_guid, target_guid, kind: "CALLS", created_at: start });
        }
    }
    for app in &apps {
        relationships.push(Relationship {
            source_guid: app.host_guid.clone(),
            target_guid: app.guid.clone(),
            kind: "HOSTS",
            created_at: start,
        });
    }

    let dashboards = generate_dashboards(&apps, anchor_ms);
    for dashboard in &dashboards {
        entities.push(dashboard_entity(
            &dashboard.guid,
            &dashboard.name,
            dashboard.account_id,
            None,
            &accounts,
        ));
        for page in &dashboard.pages {
            entities.push(dashboard_entity(
                &page.guid,
                &page.name,
                dashboard.account_id,
                Some(dashboard.guid.clone()),
                &accounts,
            ));
        }
    }

    let mut events: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    generate_app_events(&mut section_rng(seed, 3), &apps, start, anchor_ms, &mut events);
    generate_host_events(&mut section_rng(seed, 4), &hosts, start, &mut events);
    for deployment in &deployments {
        let app_name = apps.iter().find(|a| a.guid == deployment.entity_guid).map_or("", |a| a.spec.name);
        events.entry(deployment.account_id).or_default().push(deployment_event(deployment, app_name));
    }
    for issue in &issues {
        let account_events = events.entry(issue.account_id).or_default();
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
    for account_events in events.values_mut() {
        account_events.retain(|event| event.timestamp >= start && event.timestamp < anchor_ms);
        account_events.sort_by_key(|event| event.timestamp);
    }

    Dataset {
        anchor_ms,
        accounts,
        entities,
        relationships,
        policies,
        conditions,
        issues,
        incidents,
        deployments,
        dashboards,
        events,
    }
}

fn account_name(accounts: &[Account], id: i64) -> String {
    accounts.iter().find(|a| a.id == id).map(|a| a.name.clone()).unwrap_or_default()
}

fn dashboard_entity(
    guid: &str,
    name: &str,
    account_id: i64,
    parent_guid: Option<String>,
    accounts: &[Account],
) -> Entity {
    Entity {
        guid: guid.to_string(),
        name: name.to_string(),
        account_id,
        domain: "VIZ",
        entity_type_tag: "DASHBOARD",
        kind: EntityKind::Dashboard { parent_guid },
        reporting: true,
        alert_severity: "NOT_CONFIGURED",
        tags: vec![
            ("account".to_string(), vec![account_name(accounts, account_id)]),
            ("accountId".to_string(), vec![account_id.to_string()]),
        ],
        permalink: permalink(guid),
    }
}

fn generate_deployments(rng: &mut StdRng, apps: &[AppInstance], anchor_ms: i64) -> Vec<Deployment> {
    let users = ["ci-bot", "alice@acme.example", "bob@acme.example"];
    let types = ["ROLLING", "BLUE_GREEN", "CANARY", "BASIC"];
    let mut deployments = Vec::new();
    for (app_index, app) in apps.iter().enumerate() {
        let mut times: Vec<i64> =
            (0..3).map(|_| anchor_ms - HISTORY_MS + rng.random_range(HOUR..HISTORY_MS - 4 * HOUR)).collect();
        if app.account_id == PRODUCTION && app.spec.name == "payments-api" {
            times.push(anchor_ms - BAD_RELEASE_AGO_MS);
        }
        times.sort_unstable();
        for (n, timestamp) in times.into_iter().enumerate() {
            let commit = format!("{:07x}", rng.random::<u32>() & 0x0fff_ffff);
            let version = format!("v1.{}.{}", 3 + app_index % 3, n);
            deployments.push(Deployment {
                deployment_id: uuid_like(rng),
                entity_guid: app.guid.clone(),
                account_id: app.account_id,
                version: version.clone(),
                commit: Some(commit.clone()),
                user: Some(users[rng.random_range(0..users.len())].to_string()),
                timestamp,
                description: Some(format!("Release {version} of {}", app.spec.name)),
                deployment_type: types[rng.random_range(0..types.len())].to_string(),
                changelog: Some(format!("https://git.acme.example/{}/releases/{version}", app.spec.name)),
                group_id: None,
                deep_link: None,
            });
        }
    }
    deployments
}

fn deployment_event(deployment: &Deployment, app_name: &str) -> Event {
    let mut event = Event::new("Deployment", deployment.timestamp)
        .with("deploymentId", deployment.deployment_id.as_str())
        .with("entity.guid", deployment.entity_guid.as_str())
        .with("entityGuid", deployment.entity_guid.as_str())
        .with("appName", app_name)
        .with("version", deployment.version.as_str())
        .with("deploymentType", deployment.deployment_type.as_str());
    for (name, value) in [
        ("commit", &deployment.commit),
        ("user", &deployment.user),
        ("description", &deployment.description),
        ("changelog", &deployment.changelog),
    ] {
        if let Some(value) = value {
            event = event.with(name, value.as_str());
        }
    }
    event
}

fn generate_alerts(apps: &[AppInstance]) -> (Vec<AlertPolicy>, Vec<NrqlCondition>) {
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
    let _ = apps;
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

fn generate_issues(
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

fn generate_dashboards(apps: &[AppInstance], anchor_ms: i64) -> Vec<Dashboard> {
    let created = rfc3339(anchor_ms - 30 * DAY);
    let updated = rfc3339(anchor_ms - 2 * DAY);
    let widget = |account_id: i64, id: i64, title: &str, viz: &str, column: i64, row: i64, query: &str| {
        DashboardWidget {
            id: id.to_string(),
            title: title.to_string(),
            visualization: viz.to_string(),
            column,
            row,
            width: 4,
            height: 3,
            raw_configuration: json!({
                "nrqlQueries": [{"accountIds": [account_id], "query": query}],
                "platformOptions": {"ignoreTimeRange": false}
            }),
        }
    };
    let page_guid = |account_id: i64, id: i64| entity_guid(account_id, "VIZ", "DASHBOARD", &id.to_string());
    let _ = apps;
    vec![
        Dashboard {
            guid: page_guid(PRODUCTION, 7_001),
            account_id: PRODUCTION,
            name: "Checkout overview".to_string(),
            description: Some("Golden signals of the checkout path".to_string()),
            permissions: "PUBLIC_READ_WRITE".to_string(),
            created_at: created.clone(),
            updated_at: updated.clone(),
            pages: vec![
                DashboardPage {
                    guid: page_guid(PRODUCTION, 7_002),
                    name: "Overview".to_string(),
                    description: None,
                    widgets: vec![
                        widget(
                            PRODUCTION,
                            90_001,
                            "Throughput",
                            "viz.line",
                            1,
                            1,
                            "SELECT rate(count(*), 1 minute) FROM Transaction FACET appName TIMESERIES",
                        ),
                        widget(
                            PRODUCTION,
                            90_002,
                            "p95 latency",
                            "viz.line",
                            5,
                            1,
                            "SELECT percentile(duration, 95) FROM Transaction FACET appName TIMESERIES",
                        ),
                        widget(
                            PRODUCTION,
                            90_003,
                            "Error rate",
                            "viz.billboard",
                            9,
                            1,
                            "SELECT percentage(count(*), WHERE error IS true) FROM Transaction FACET appName",
                        ),
                    ],
                },
                DashboardPage {
                    guid: page_guid(PRODUCTION, 7_003),
                    name: "Errors".to_string(),
                    description: Some("Errors by class".to_string()),
                    widgets: vec![widget(
                        PRODUCTION,
                        90_004,
                        "Errors by class",
                        "viz.bar",
                        1,
                        1,
                        "SELECT count(*) FROM TransactionError FACET error.class",
                    )],
                },
            ],
            variables: vec![("appName".to_string(), Some("Application".to_string()), "NRQL".to_string())],
        },
        Dashboard {
            guid: page_guid(PRODUCTION, 7_101),
            account_id: PRODUCTION,
            name: "Infrastructure health".to_string(),
            description: None,
            permissions: "PUBLIC_READ_ONLY".to_string(),
            created_at: created.clone(),
            updated_at: updated.clone(),
            pages: vec![DashboardPage {
                guid: page_guid(PRODUCTION, 7_102),
                name: "Hosts".to_string(),
                description: None,
                widgets: vec![
                    widget(
                        PRODUCTION,
                        90_101,
                        "CPU",
                        "viz.line",
                        1,
                        1,
                        "SELECT average(cpuPercent) FROM SystemSample FACET hostname TIMESERIES",
                    ),
                    widget(
                        PRODUCTION,
                        90_102,
                        "Disk",
                        "viz.table",
                        5,
                        1,
                        "SELECT max(diskUsedPercent) FROM SystemSample FACET hostname",
                    ),
                ],
            }],
            variables: Vec::new(),
        },
        Dashboard {
            guid: page_guid(STAGING, 8_001),
            account_id: STAGING,
            name: "Staging smoke tests".to_string(),
            description: None,
            permissions: "PRIVATE".to_string(),
            created_at: created,
            updated_at: updated,
            pages: vec![DashboardPage {
                guid: page_guid(STAGING, 8_002),
                name: "Smoke".to_string(),
                description: None,
                widgets: vec![widget(
                    STAGING,
                    91_001,
                    "Requests",
                    "viz.line",
                    1,
                    1,
                    "SELECT count(*) FROM Transaction FACET appName TIMESERIES",
                )],
            }],
            variables: Vec::new(),
        },
    ]
}

fn generate_app_events(
    rng: &mut StdRng,
    apps: &[AppInstance],
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let error_classes = [
        ("java.net.SocketTimeoutException", "Read timed out", "504"),
        ("UpstreamUnavailable", "upstream connect error or disconnect/reset before headers", "503"),
        ("ValidationError", "invalid card number", "400"),
        ("InternalError", "unexpected nil pointer", "500"),
    ];
    for app in apps {
        let account_events = events.entry(app.account_id).or_default();
        let app_name: Arc<str> = Arc::from(app.spec.name);
        let guid: Arc<str> = Arc::from(app.guid.as_str());
        let host: Arc<str> = Arc::from(app.host.as_str());
        let bad_release = app.account_id == PRODUCTION && app.spec.name == "payments-api";
        let mut slot = start;
        let mut trace_counter: u64 = 0;
        while slot < anchor_ms {
            let timestamp = slot + rng.random_range(0..TRANSACTION_SPACING_MS);
            slot += TRANSACTION_SPACING_MS;
            let (name, method, uri) = app.spec.transactions[rng.random_range(0..app.spec.transactions.len())];
            let error_rate = if bad_release && timestamp >= anchor_ms - BAD_RELEASE_AGO_MS {
                BAD_RELEASE_ERROR_RATE
            } else {
                app.spec.error_rate
            };
            let error = rng.random_bool(error_rate);
            let spread: f64 = rng.random();
            let mut duration = app.spec.base_duration * (0.4 + 1.6 * spread * spread);
            if rng.random_bool(0.02) {
                duration *= 6.0;
            }
            let duration = round_to(duration, 4);
            let (class, message, code) = error_classes[rng.random_range(0..error_classes.len())];
            let status = if error { code } else { "200" };
            trace_counter += 1;
            let trace_id = format!("{:016x}", rng.random::<u64>());
            let mut transaction = Event::new("Transaction", timestamp)
                .with("appName", &app_name)
                .with("entityGuid", &guid)
                .with("entity.guid", &guid)
                .with("name", name)
                .with("transactionType", if method.is_empty() { "Other" } else { "Web" })
                .with("duration", duration)
                .with("databaseDuration", round_to(duration * 0.3, 4))
                .with("error", error)
                .with("httpResponseCode", status)
                .with("host", &host)
                .with("traceId", trace_id.as_str());
            if !method.is_empty() {
                transaction = transaction.with("request.method", method).with("request.uri", uri);
            }
            account_events.push(transaction);
            if error {
                account_events.push(
                    Event::new("TransactionError", timestamp)
                        .with("appName", &app_name)
                        .with("entityGuid", &guid)
                        .with("entity.guid", &guid)
                        .with("transactionName", name)
                        .with("error.class", class)
                        .with("error.message", message)
                        .with("httpResponseCode", status)
                        .with("host", &host),
                );
                account_events.push(
                    Event::new("Log", timestamp)
                        .with("message", format!("{name} failed: {class}: {message}"))
                        .with("level", "ERROR")
                        .with("service", &app_name)
                        .with("entity.guid", &guid)
                        .with("entity.name", &app_name)
                        .with("hostname", &host)
                        .with("trace.id", trace_id.as_str()),
                );
            } else if trace_counter.is_multiple_of(4) {
                let (level, text) = if duration > app.spec.base_duration * 3.0 {
                    ("WARN", format!("slow request {uri} took {:.0} ms", duration * 1000.0))
                } else {
                    ("INFO", format!("completed {method} {uri} in {:.0} ms", duration * 1000.0))
                };
                account_events.push(
                    Event::new("Log", timestamp)
                        .with("message", text)
                        .with("level", level)
                        .with("service", &app_name)
                        .with("entity.guid", &guid)
                        .with("entity.name", &app_name)
                        .with("hostname", &host)
                        .with("trace.id", trace_id.as_str()),
                );
            }
            if timestamp >= anchor_ms - SPAN_HISTORY_MS {
                account_events.push(
                    Event::new("Span", timestamp)
                        .with("name", name)
                        .with("duration.ms", round_to(duration * 1000.0, 1))
                        .with("service.name", &app_name)
                        .with("appName", &app_name)
                        .with("entity.guid", &guid)
                        .with("trace.id", trace_id.as_str())
                        .with("span.kind", "server")
                        .with("error", error),
                );
            }
        }
    }
}

fn generate_host_events(
    rng: &mut StdRng,
    hosts: &[HostInstance],
    start: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    for (index, host) in hosts.iter().enumerate() {
        let account_events = events.entry(host.account_id).or_default();
        let name: Arc<str> = Arc::from(host.name.as_str());
        let guid: Arc<str> = Arc::from(host.guid.as_str());
        let base_cpu = 20.0 + 12.0 * index as f64;
        let mut disk = 55.0 + 5.0 * index as f64;
        let mut timestamp = start;
        while timestamp < host.reporting_until {
            let cpu: f64 = base_cpu + rng.random_range(-10.0..25.0);
            let memory: f64 = 45.0 + rng.random_range(0.0..30.0);
            disk = (disk + rng.random_range(0.0..0.02)).min(99.0);
            account_events.push(
                Event::new("SystemSample", timestamp)
                    .with("hostname", &name)
                    .with("fullHostname", format!("{}.ec2.internal", host.name))
                    .with("entityGuid", &guid)
                    .with("entityName", &name)
                    .with("cpuPercent", round_to(cpu.clamp(0.0, 100.0), 2))
                    .with("memoryUsedPercent", round_to(memory, 2))
                    .with("diskUsedPercent", round_to(disk, 2))
                    .with("operatingSystem", "linux"),
            );
            timestamp += SAMPLE_SPACING_MS;
        }
    }
}
