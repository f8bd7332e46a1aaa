//! Dashboards, their pages and widgets, and the entities that represent them.

use serde_json::json;

use super::super::guid::entity_guid;
use super::super::model::{Account, Dashboard, DashboardPage, DashboardWidget, Entity, EntityKind};
use super::{DAY, PRODUCTION, STAGING, account_name, permalink, rfc3339};

pub(super) fn dashboard_entity(
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

pub(super) fn generate_dashboards(anchor_ms: i64) -> Vec<Dashboard> {
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
