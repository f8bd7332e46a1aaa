//! The entities of the world (applications, hosts, dashboards, the browser application,
//! synthetic monitors, the Kubernetes cluster) and the relationships between them.

use super::super::model::{Account, Dashboard, Entity, EntityKind, Issue, Relationship};
use super::{
    AppInstance, HostInstance, PRODUCTION, account_name, browser, dashboards, kubernetes, permalink,
    severity_from_issues, synthetics,
};

pub(super) fn generate_entities(
    accounts: &[Account],
    apps: &[AppInstance],
    hosts: &[HostInstance],
    issues: &[Issue],
    all_dashboards: &[Dashboard],
    start: i64,
    anchor_ms: i64,
) -> (Vec<Entity>, Vec<Relationship>) {
    let mut entities = Vec::new();
    for app in apps {
        entities.push(Entity {
            guid: app.guid.clone(),
            name: app.spec.name.to_string(),
            account_id: app.account_id,
            domain: "APM",
            entity_type_tag: "APPLICATION",
            kind: EntityKind::ApmApplication {
                application_id: app.application_id,
                language: app.spec.language.to_string(),
            },
            reporting: true,
            alert_severity: severity_from_issues(issues, &app.guid, "WARNING"),
            tags: vec![
                ("account".to_string(), vec![account_name(accounts, app.account_id)]),
                ("accountId".to_string(), vec![app.account_id.to_string()]),
                ("environment".to_string(), vec![app.environment.to_string()]),
                ("language".to_string(), vec![app.spec.language.to_string()]),
                ("team".to_string(), vec![app.spec.team.to_string()]),
            ],
            permalink: permalink(&app.guid),
        });
    }
    for host in hosts {
        let environment = if host.account_id == PRODUCTION { "production" } else { "staging" };
        // Hosts only warn: their conditions are not critical.
        let severity = match severity_from_issues(issues, &host.guid, "WARNING") {
            "NOT_ALERTING" => "NOT_ALERTING",
            _ => "WARNING",
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
                ("account".to_string(), vec![account_name(accounts, host.account_id)]),
                ("accountId".to_string(), vec![host.account_id.to_string()]),
                ("environment".to_string(), vec![environment.to_string()]),
                ("operatingSystem".to_string(), vec!["linux".to_string()]),
            ],
            permalink: permalink(&host.guid),
        });
    }
    for dashboard in all_dashboards {
        entities.push(dashboards::dashboard_entity(
            &dashboard.guid,
            &dashboard.name,
            dashboard.account_id,
            None,
            accounts,
        ));
        for page in &dashboard.pages {
            entities.push(dashboards::dashboard_entity(
                &page.guid,
                &page.name,
                dashboard.account_id,
                Some(dashboard.guid.clone()),
                accounts,
            ));
        }
    }
    let frontend = apps.iter().find(|app| app.is_production("web-frontend"));
    entities.push(browser::browser_entity(accounts, frontend));
    entities.extend(synthetics::monitor_entities(accounts));
    entities.push(kubernetes::cluster_entity(accounts));

    let mut relationships = Vec::new();
    let production_app =
        |name: &str| apps.iter().find(|app| app.is_production(name)).map(|app| app.guid.clone());
    for (source, target) in [
        ("web-frontend", "checkout-service"),
        ("checkout-service", "payments-api"),
        ("checkout-service", "inventory-worker"),
    ] {
        if let (Some(source_guid), Some(target_guid)) = (production_app(source), production_app(target)) {
            relationships.push(Relationship { source_guid, target_guid, kind: "CALLS", created_at: start });
        }
    }
    for app in apps {
        relationships.push(Relationship {
            source_guid: app.host_guid.clone(),
            target_guid: app.guid.clone(),
            kind: "HOSTS",
            created_at: start,
        });
    }
    if let Some(frontend_guid) = production_app("web-frontend") {
        relationships.push(Relationship {
            source_guid: browser::browser_guid(),
            target_guid: frontend_guid,
            kind: "CALLS",
            created_at: start,
        });
    }
    (entities, relationships)
}
