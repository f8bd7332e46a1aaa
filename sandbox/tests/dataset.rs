//! The generated world: deterministic per seed and anchor, shaped as documented, modest in
//! size; every event type carries its documented attributes, traces hang together across
//! services, and the entities the telemetry names exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use newrelic_mcp_sandbox::data::{AttrValue, Entity, EntityKind, Event, HISTORY_MS};
use newrelic_mcp_sandbox::{Dataset, SandboxConfig};
use serde_json::json;
use support::{ANCHOR_MS, PRODUCTION, STAGING, Sandbox};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// The world of the test configuration, generated once for the tests that only read it.
fn world() -> &'static Dataset {
    static WORLD: OnceLock<Dataset> = OnceLock::new();
    WORLD.get_or_init(support::dataset)
}

fn of_type<'a>(world: &'a Dataset, account: i64, event_type: &str) -> Vec<&'a Event> {
    world.events(account).iter().filter(|e| e.event_type == event_type).collect()
}

fn text<'a>(event: &'a Event, name: &str) -> &'a str {
    event.attr(name).and_then(AttrValue::as_str).unwrap_or_default()
}

fn number(event: &Event, name: &str) -> f64 {
    event.attr(name).and_then(AttrValue::as_f64).unwrap_or_else(|| panic!("{name} of {event:?}"))
}

fn latest<'a>(events: &[&'a Event], filter: impl Fn(&Event) -> bool) -> &'a Event {
    events.iter().rev().find(|e| filter(e)).copied().expect("a matching event")
}

#[test]
fn the_same_seed_and_anchor_give_the_same_world() {
    let first = Dataset::generate(7, ANCHOR_MS);
    let second = Dataset::generate(7, ANCHOR_MS);
    assert_eq!(first.events, second.events);
    assert_eq!(first.issues, second.issues);
    assert_eq!(first.deployments, second.deployments);
    assert_eq!(first.entities, second.entities);
    assert_eq!(first.relationships, second.relationships);
    let other = Dataset::generate(8, ANCHOR_MS);
    assert_ne!(first.events, other.events);
    // Every random event type varies with the seed, not only some of them.
    for event_type in [
        "Transaction",
        "Span",
        "SystemSample",
        "ProcessSample",
        "StorageSample",
        "ContainerSample",
        "K8sNodeSample",
        "K8sContainerSample",
        "Metric",
        "KafkaBrokerSample",
        "KafkaOffsetSample",
        "SyntheticCheck",
        "PageView",
    ] {
        assert_ne!(
            of_type(&first, PRODUCTION, event_type),
            of_type(&other, PRODUCTION, event_type),
            "{event_type} ignores the seed"
        );
    }
    // Entities do not depend on the seed: their GUIDs stay stable.
    assert_eq!(first.entities, other.entities);
    let shifted = Dataset::generate(7, ANCHOR_MS + 60_000);
    assert_eq!(
        shifted.events[&PRODUCTION].first().unwrap().timestamp
            - first.events[&PRODUCTION].first().unwrap().timestamp,
        60_000
    );
}

#[test]
fn an_unset_clock_is_the_current_minute() {
    let anchor = SandboxConfig { now_epoch_ms: None, ..support::config() }.anchor_epoch_ms();
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(anchor % 60_000, 0);
    assert!(now - anchor < 120_000 && now >= anchor);
}

#[test]
fn the_world_has_the_documented_shape() {
    let world = world();
    let accounts: Vec<(i64, &str)> = world.accounts.iter().map(|a| (a.id, a.name.as_str())).collect();
    assert_eq!(accounts, [(PRODUCTION, "Acme Production"), (STAGING, "Acme Staging")]);
    let apps: BTreeSet<&str> = world
        .entities
        .iter()
        .filter(|e| e.account_id == PRODUCTION && matches!(e.kind, EntityKind::ApmApplication { .. }))
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        apps,
        BTreeSet::from(["checkout-service", "inventory-worker", "payments-api", "web-frontend"])
    );
    let checkout = world.entity_named(PRODUCTION, "checkout-service", "APPLICATION").unwrap();
    let EntityKind::ApmApplication { application_id, .. } = checkout.kind else { panic!("an application") };
    assert_eq!(
        checkout.guid,
        newrelic_mcp_sandbox::data::entity_guid(
            PRODUCTION,
            "APM",
            "APPLICATION",
            &application_id.to_string()
        )
    );
    for key in ["environment", "team", "language"] {
        assert!(!checkout.tag_values(key).is_empty(), "{key}");
    }
    let states: BTreeSet<&str> = world.issues.iter().map(|i| i.state.as_str()).collect();
    assert!(states.len() >= 3, "{states:?}");
    let preferences: BTreeSet<&str> = world.policies.iter().map(|p| p.incident_preference.as_str()).collect();
    assert!(preferences.len() >= 3, "{preferences:?}");

    let total = world.event_count();
    assert!((60_000..=120_000).contains(&total), "{total} events");
    for account in [PRODUCTION, STAGING] {
        let events = world.events(account);
        assert!(events.windows(2).all(|pair| pair[0].timestamp <= pair[1].timestamp), "sorted");
        assert!(events.iter().all(|e| e.timestamp >= ANCHOR_MS - HISTORY_MS && e.timestamp < ANCHOR_MS));
        let types: BTreeSet<&str> = events.iter().map(|e| e.event_type).collect();
        for expected in
            ["Transaction", "TransactionError", "Log", "SystemSample", "Span", "Deployment", "NrAiIssue"]
        {
            assert!(types.contains(expected), "{account} lacks {expected}");
        }
    }
}

/// Each event type with the attributes every one of its events carries (besides
/// `timestamp`), as the tools rely on them.
const DOCUMENTED_ATTRIBUTES: [(&str, &[&str]); 17] = [
    (
        "Span",
        &[
            "id",
            "trace.id",
            "name",
            "duration.ms",
            "service.name",
            "appName",
            "entity.guid",
            "span.kind",
            "error",
        ],
    ),
    (
        "ProcessSample",
        &[
            "hostname",
            "entityGuid",
            "processDisplayName",
            "processId",
            "commandName",
            "cpuPercent",
            "memoryResidentSizeBytes",
            "ioReadBytesPerSecond",
            "ioWriteBytesPerSecond",
            "threadCount",
        ],
    ),
    (
        "StorageSample",
        &[
            "hostname",
            "entityGuid",
            "mountPoint",
            "device",
            "diskUsedPercent",
            "diskUsedBytes",
            "diskFreeBytes",
            "diskTotalBytes",
            "totalUtilizationPercent",
        ],
    ),
    (
        "ContainerSample",
        &[
            "hostname",
            "entityGuid",
            "containerId",
            "containerName",
            "imageName",
            "cpuPercent",
            "memoryUsageBytes",
            "memoryLimitBytes",
            "restartCount",
            "state",
        ],
    ),
    (
        "K8sNodeSample",
        &[
            "clusterName",
            "nodeName",
            "cpuUsedCores",
            "allocatableCpuCores",
            "memoryWorkingSetBytes",
            "allocatableMemoryBytes",
            "condition.Ready",
        ],
    ),
    ("K8sPodSample", &["clusterName", "namespaceName", "podName", "status", "isReady", "restartCount"]),
    (
        "K8sContainerSample",
        &[
            "clusterName",
            "namespaceName",
            "podName",
            "containerName",
            "cpuUsedCores",
            "cpuLimitCores",
            "memoryWorkingSetBytes",
            "memoryLimitBytes",
            "restartCount",
            "status",
        ],
    ),
    ("Metric", &["appName", "entity.guid", "metricTimesliceName", "newrelic.timeslice.value"]),
    (
        "KafkaBrokerSample",
        &[
            "clusterName",
            "broker.id",
            "broker.bytesInPerSecond",
            "broker.bytesOutPerSecond",
            "broker.messagesInPerSecond",
            "request.produceRequestsPerSecond",
        ],
    ),
    (
        "KafkaOffsetSample",
        &["clusterName", "consumerGroup", "topic", "partition", "consumer.lag", "consumer.offset"],
    ),
    (
        "SyntheticCheck",
        &["monitorName", "monitorId", "entityGuid", "result", "duration", "locationLabel", "type"],
    ),
    (
        "PageView",
        &["appName", "entityGuid", "pageUrl", "duration", "userAgentName", "countryCode", "session"],
    ),
    (
        "JavaScriptError",
        &["appName", "entityGuid", "errorClass", "errorMessage", "pageUrl", "session", "userAgentName"],
    ),
    (
        "Transaction",
        &[
            "appName",
            "entityGuid",
            "entity.guid",
            "name",
            "transactionType",
            "duration",
            "databaseDuration",
            "error",
            "httpResponseCode",
            "host",
            "traceId",
        ],
    ),
    (
        "TransactionError",
        &[
            "appName",
            "entityGuid",
            "entity.guid",
            "transactionName",
            "error.class",
            "error.message",
            "httpResponseCode",
            "host",
        ],
    ),
    ("Log", &["message", "level", "service", "entity.guid", "entity.name", "hostname", "trace.id"]),
    (
        "SystemSample",
        &[
            "hostname",
            "fullHostname",
            "entityGuid",
            "entityName",
            "cpuPercent",
            "memoryUsedPercent",
            "diskUsedPercent",
            "operatingSystem",
        ],
    ),
];

#[test]
fn every_event_type_carries_its_documented_attributes() {
    let world = world();
    let production: BTreeSet<&str> = world.events(PRODUCTION).iter().map(|e| e.event_type).collect();
    for (event_type, attributes) in DOCUMENTED_ATTRIBUTES {
        assert!(production.contains(event_type), "production has no {event_type}");
        for account in [PRODUCTION, STAGING] {
            for event in of_type(world, account, event_type) {
                for attribute in attributes {
                    assert!(event.attr(attribute).is_some(), "{event_type} lacks {attribute}: {event:?}");
                }
                let mut names: Vec<&str> = event.attributes.iter().map(|(name, _)| *name).collect();
                let count = names.len();
                names.sort_unstable();
                names.dedup();
                assert_eq!(names.len(), count, "an attribute repeats in {event:?}");
            }
        }
    }
    // The infrastructure of the staging account reports too.
    let staging: BTreeSet<&str> = world.events(STAGING).iter().map(|e| e.event_type).collect();
    for event_type in ["ProcessSample", "StorageSample", "ContainerSample", "Metric"] {
        assert!(staging.contains(event_type), "staging has no {event_type}");
    }
}

#[test]
fn host_samples_name_a_host_entity_by_its_hostname() {
    let world = world();
    for account in [PRODUCTION, STAGING] {
        for event_type in ["SystemSample", "ProcessSample", "StorageSample", "ContainerSample"] {
            for event in of_type(world, account, event_type) {
                let host = world.entity(text(event, "entityGuid")).unwrap_or_else(|| panic!("{event:?}"));
                assert_eq!(host.entity_type_tag, "HOST", "{event:?}");
                assert_eq!(host.account_id, account);
                assert_eq!(host.name, text(event, "hostname"), "{event:?}");
            }
        }
    }
}

#[test]
fn spans_form_consistent_traces_across_services() {
    let world = world();
    let spans = of_type(world, PRODUCTION, "Span");
    let mut traces: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for span in &spans {
        traces.entry(text(span, "trace.id")).or_default().push(span);
    }
    let mut crossing = 0;
    for (trace_id, members) in &traces {
        let by_id: BTreeMap<&str, &Event> = members.iter().map(|span| (text(span, "id"), *span)).collect();
        assert_eq!(by_id.len(), members.len(), "span ids repeat in trace {trace_id}");
        let roots = members.iter().filter(|span| span.attr("parent.id").is_none()).count();
        assert_eq!(roots, 1, "trace {trace_id} has {roots} roots");
        for span in members {
            if let Some(parent_id) = span.attr("parent.id").and_then(AttrValue::as_str) {
                let parent = by_id
                    .get(parent_id)
                    .unwrap_or_else(|| panic!("the parent of {span:?} is not in trace {trace_id}"));
                assert!(parent.timestamp <= span.timestamp, "{span:?} starts before its parent");
            }
            match text(span, "span.kind") {
                "client" => assert!(
                    span.attr("peer.service").is_some() || span.attr("db.system").is_some(),
                    "a client span names no peer: {span:?}"
                ),
                "server" | "consumer" => {}
                other => panic!("unexpected span.kind {other}"),
            }
            if span.attr("error") == Some(&AttrValue::Bool(true)) {
                assert!(!text(span, "error.message").is_empty(), "{span:?}");
            }
            assert!(world.entity(text(span, "entity.guid")).is_some(), "{span:?}");
        }
        let services: BTreeSet<&str> = members.iter().map(|span| text(span, "service.name")).collect();
        if services.len() > 1 {
            crossing += 1;
            // A call into another service is made by a client span naming that service.
            for span in members {
                let Some(parent) = span.attr("parent.id").and_then(AttrValue::as_str).map(|id| by_id[id])
                else {
                    continue;
                };
                if text(parent, "service.name") != text(span, "service.name") {
                    assert_eq!(
                        text(parent, "peer.service"),
                        text(span, "service.name"),
                        "{parent:?} → {span:?}"
                    );
                }
            }
        }
    }
    assert!(crossing >= 50, "only {crossing} traces cross services");
    let full: Vec<BTreeSet<&str>> = traces
        .values()
        .map(|members| members.iter().map(|span| text(span, "service.name")).collect())
        .filter(|services: &BTreeSet<&str>| services.len() == 4)
        .collect();
    assert!(!full.is_empty(), "no trace reaches all four services");
    assert_eq!(
        full[0],
        BTreeSet::from(["checkout-service", "inventory-worker", "payments-api", "web-frontend"])
    );
    // Payment failures since the bad release surface at the browser's entry point.
    let failed_roots = spans
        .iter()
        .filter(|span| span.attr("parent.id").is_none() && text(span, "service.name") == "web-frontend")
        .filter(|span| span.attr("error") == Some(&AttrValue::Bool(true)))
        .count();
    assert!(failed_roots > 0, "no failed checkout reached the frontend");
}

fn monitors(world: &Dataset) -> Vec<&Entity> {
    world.entities.iter().filter(|e| e.domain == "SYNTH" && e.entity_type_tag == "MONITOR").collect()
}

#[test]
fn synthetic_checks_belong_to_monitor_entities() {
    let world = world();
    let monitors = monitors(world);
    assert_eq!(monitors.len(), 3);
    let mut types = BTreeSet::new();
    for monitor in &monitors {
        assert_eq!(monitor.kind.entity_type_enum(), "SYNTHETIC_MONITOR_ENTITY");
        let EntityKind::SyntheticMonitor { monitor_id, monitor_type, period_minutes, .. } = &monitor.kind
        else {
            panic!("a monitor: {monitor:?}")
        };
        types.insert(monitor_type.clone());
        let checks: Vec<&Event> = of_type(world, PRODUCTION, "SyntheticCheck")
            .into_iter()
            .filter(|check| text(check, "entityGuid") == monitor.guid)
            .collect();
        assert!(!checks.is_empty(), "{} never ran", monitor.name);
        for check in &checks {
            assert_eq!(text(check, "monitorId"), monitor_id);
            assert_eq!(text(check, "monitorName"), monitor.name);
            assert_eq!(text(check, "type"), monitor_type);
            match text(check, "result") {
                "SUCCESS" => assert!(check.attr("error").is_none(), "{check:?}"),
                "FAILED" => assert!(!text(check, "error").is_empty(), "{check:?}"),
                other => panic!("unexpected result {other}"),
            }
        }
        let locations: BTreeSet<&str> = checks.iter().map(|check| text(check, "locationLabel")).collect();
        let expected_runs = (HISTORY_MS / (period_minutes * MINUTE)) as usize * locations.len();
        assert!(
            checks.len().abs_diff(expected_runs) <= locations.len(),
            "{} ran {}",
            monitor.name,
            checks.len()
        );
    }
    assert_eq!(
        types,
        BTreeSet::from(["BROWSER".to_string(), "SCRIPT_API".to_string(), "SIMPLE".to_string()])
    );
    let failures_by_monitor: BTreeMap<&str, usize> = of_type(world, PRODUCTION, "SyntheticCheck")
        .into_iter()
        .filter(|check| text(check, "result") == "FAILED")
        .fold(BTreeMap::new(), |mut counts, check| {
            *counts.entry(text(check, "monitorName")).or_default() += 1;
            counts
        });
    let (most_failing, _) = failures_by_monitor.iter().max_by_key(|(_, count)| **count).unwrap();
    assert_eq!(*most_failing, "checkout API health", "{failures_by_monitor:?}");
}

#[test]
fn the_browser_application_is_served_by_the_web_frontend() {
    let world = world();
    let browser = world.entity_named(PRODUCTION, "acme-web", "APPLICATION").unwrap();
    assert_eq!((browser.domain, browser.kind.entity_type_enum()), ("BROWSER", "BROWSER_APPLICATION_ENTITY"));
    let frontend = world.entity_named(PRODUCTION, "web-frontend", "APPLICATION").unwrap();
    let (
        EntityKind::BrowserApplication { serving_apm_application_id, .. },
        EntityKind::ApmApplication { application_id, .. },
    ) = (&browser.kind, &frontend.kind)
    else {
        panic!("a browser and an APM application")
    };
    assert_eq!(*serving_apm_application_id, Some(*application_id));
    assert!(
        world
            .relationships
            .iter()
            .any(|r| r.source_guid == browser.guid && r.target_guid == frontend.guid && r.kind == "CALLS")
    );
    let views = of_type(world, PRODUCTION, "PageView");
    let errors = of_type(world, PRODUCTION, "JavaScriptError");
    assert!(!errors.is_empty());
    for event in views.iter().chain(&errors) {
        assert_eq!(text(event, "entityGuid"), browser.guid);
        assert_eq!(text(event, "appName"), "acme-web");
    }
    let sessions: BTreeSet<&str> = views.iter().map(|view| text(view, "session")).collect();
    assert!(sessions.len() < views.len() / 2, "sessions span several page views");
    let viewed: BTreeSet<(&str, &str)> =
        views.iter().map(|v| (text(v, "session"), text(v, "pageUrl"))).collect();
    for error in &errors {
        assert!(viewed.contains(&(text(error, "session"), text(error, "pageUrl"))), "{error:?}");
    }
}

#[test]
fn jvm_metrics_cover_the_java_applications_only() {
    let world = world();
    let names = [
        "GC/G1 Young Generation",
        "GC/G1 Old Generation",
        "Memory/Heap/Used",
        "Memory/Heap/Max",
        "JmxBuiltIn/Threads/Thread Count",
        "Threads/Summary/State/Blocked/Count",
        "Threads/Summary/State/Runnable/Count",
        "Threads/Summary/State/Waiting/Count",
    ];
    for account in [PRODUCTION, STAGING] {
        let metrics = of_type(world, account, "Metric");
        let mut seen: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for metric in &metrics {
            let app = world.entity(text(metric, "entity.guid")).unwrap();
            assert_eq!(app.name, text(metric, "appName"));
            let EntityKind::ApmApplication { language, .. } = &app.kind else { panic!("{app:?}") };
            assert_eq!(language, "java", "{metric:?}");
            seen.entry(app.name.as_str()).or_default().insert(text(metric, "metricTimesliceName"));
        }
        for (app, slices) in &seen {
            assert_eq!(*slices, BTreeSet::from(names), "{app}");
        }
        if account == PRODUCTION {
            assert_eq!(seen.keys().copied().collect::<Vec<_>>(), ["checkout-service", "inventory-worker"]);
        }
        // Per sample, the heap in use stays below its maximum.
        let mut heap: BTreeMap<(&str, i64), (f64, f64)> = BTreeMap::new();
        for metric in &metrics {
            let key = (text(metric, "appName"), metric.timestamp);
            let value = number(metric, "newrelic.timeslice.value");
            match text(metric, "metricTimesliceName") {
                "Memory/Heap/Used" => heap.entry(key).or_default().0 = value,
                "Memory/Heap/Max" => heap.entry(key).or_default().1 = value,
                _ => {}
            }
        }
        assert!(heap.values().all(|(used, max)| used < max && *used > 0.0), "{heap:?}");
    }
}

#[test]
fn the_kubernetes_cluster_is_consistent() {
    let world = world();
    let cluster = world.entity_named(PRODUCTION, "acme-prod", "KUBERNETESCLUSTER").unwrap();
    assert_eq!(cluster.domain, "INFRA");
    let nodes: BTreeSet<&str> =
        of_type(world, PRODUCTION, "K8sNodeSample").iter().map(|n| text(n, "nodeName")).collect();
    assert!(nodes.len() >= 2, "{nodes:?}");
    let pods = of_type(world, PRODUCTION, "K8sPodSample");
    let pod_names: BTreeSet<&str> = pods.iter().map(|p| text(p, "podName")).collect();
    assert!(pod_names.len() >= 4, "{pod_names:?}");
    for event_type in ["K8sNodeSample", "K8sPodSample", "K8sContainerSample"] {
        for sample in of_type(world, PRODUCTION, event_type) {
            assert_eq!(text(sample, "clusterName"), "acme-prod");
            if let Some(node) = sample.attr("nodeName").and_then(AttrValue::as_str) {
                assert!(nodes.contains(node), "{sample:?}");
            }
        }
    }
    for container in of_type(world, PRODUCTION, "K8sContainerSample") {
        assert!(pod_names.contains(text(container, "podName")), "{container:?}");
        assert!(number(container, "memoryWorkingSetBytes") <= number(container, "memoryLimitBytes"));
    }
    let statuses: BTreeSet<&str> = pods.iter().map(|p| text(p, "status")).collect();
    assert_eq!(statuses, BTreeSet::from(["Pending", "Running"]));
    let restarted = latest(&pods, |p| text(p, "podName").starts_with("recommendations"));
    assert!(number(restarted, "restartCount") > 0.0, "{restarted:?}");
    assert!(pods.iter().any(|p| number(p, "isReady") == 0.0));
}

#[test]
fn the_incident_stories_show_in_the_samples() {
    let world = world();
    // The root volume agrees with SystemSample; the data volume of ip-10-0-1-12 is nearly full.
    let system: BTreeMap<(&str, i64), f64> = of_type(world, PRODUCTION, "SystemSample")
        .iter()
        .map(|s| ((text(s, "hostname"), s.timestamp), number(s, "diskUsedPercent")))
        .collect();
    let storage = of_type(world, PRODUCTION, "StorageSample");
    for sample in storage.iter().filter(|s| text(s, "mountPoint") == "/") {
        assert_eq!(
            system.get(&(text(sample, "hostname"), sample.timestamp)),
            Some(&number(sample, "diskUsedPercent"))
        );
    }
    for sample in &storage {
        let (used, free, total) = (
            number(sample, "diskUsedBytes"),
            number(sample, "diskFreeBytes"),
            number(sample, "diskTotalBytes"),
        );
        assert_eq!(used + free, total, "{sample:?}");
    }
    let full =
        latest(&storage, |s| text(s, "hostname") == "ip-10-0-1-12" && text(s, "mountPoint") == "/data");
    assert!(number(full, "diskUsedPercent") > 85.0, "{full:?}");
    assert!(full.timestamp >= ANCHOR_MS - 10 * MINUTE);

    // The payments container keeps restarting since the bad release.
    let containers = of_type(world, PRODUCTION, "ContainerSample");
    let payments = latest(&containers, |c| text(c, "containerName") == "payments-api");
    assert!(number(payments, "restartCount") >= 2.0, "{payments:?}");
    let day_ago = containers
        .iter()
        .find(|c| text(c, "containerName") == "payments-api" && c.timestamp >= ANCHOR_MS - 24 * HOUR)
        .unwrap();
    assert_eq!(number(day_ago, "restartCount"), 0.0);

    // The inventory worker's consumer lag grows while its old generation collects.
    let offsets = of_type(world, PRODUCTION, "KafkaOffsetSample");
    let lag_now =
        latest(&offsets, |o| text(o, "consumerGroup") == "inventory-worker" && number(o, "partition") == 1.0);
    assert!(number(lag_now, "consumer.lag") > 1_000.0, "{lag_now:?}");
    let metrics = of_type(world, PRODUCTION, "Metric");
    let old_gc = latest(&metrics, |m| {
        text(m, "appName") == "inventory-worker" && text(m, "metricTimesliceName") == "GC/G1 Old Generation"
    });
    assert!(number(old_gc, "newrelic.timeslice.value") > 400.0, "{old_gc:?}");
    let mut offsets_by_partition: BTreeMap<(&str, i64), Vec<f64>> = BTreeMap::new();
    for offset in &offsets {
        offsets_by_partition
            .entry((text(offset, "consumerGroup"), number(offset, "partition") as i64))
            .or_default()
            .push(number(offset, "consumer.offset"));
    }
    // Consumers fall behind but never rewind.
    assert_eq!(offsets_by_partition.len(), 5);
    for ((group, partition), committed) in &offsets_by_partition {
        assert!(committed.windows(2).all(|pair| pair[0] <= pair[1]), "{group}/{partition}");
    }
}

const ENTITY_SEARCH: &str = r#"
query($query: String!) { actor { entitySearch(query: $query) {
  count
  results { entities { guid name domain type entityType } }
} } }"#;

#[tokio::test]
async fn entity_search_and_lookup_return_the_new_entity_kinds() {
    let sandbox = Sandbox::start().await;
    let world = world();
    for (query, domain, entity_type, count) in [
        ("domain = 'SYNTH' AND type = 'MONITOR'", "SYNTH", "SYNTHETIC_MONITOR_ENTITY", 3),
        ("domain = 'BROWSER' AND name = 'acme-web'", "BROWSER", "BROWSER_APPLICATION_ENTITY", 1),
        ("type = 'KUBERNETESCLUSTER'", "INFRA", "GENERIC_INFRASTRUCTURE_ENTITY", 1),
    ] {
        let (status, body) = sandbox.post(ENTITY_SEARCH, json!({"query": query})).await;
        assert_eq!(status, 200, "{body}");
        let search = &body["data"]["actor"]["entitySearch"];
        assert_eq!(search["count"], count, "{query}: {body}");
        for entity in search["results"]["entities"].as_array().unwrap() {
            assert_eq!(
                (entity["domain"].as_str(), entity["entityType"].as_str()),
                (Some(domain), Some(entity_type))
            );
            assert!(world.entity(entity["guid"].as_str().unwrap()).is_some());
        }
    }
    let browser = world.entity_named(PRODUCTION, "acme-web", "APPLICATION").unwrap();
    let data = sandbox
        .data(
            r#"query($guid: EntityGuid!) { actor { entity(guid: $guid) {
                 name entityType goldenMetrics { metrics { name query } }
                 relatedEntities { results { type target { entity { name } } } }
               } } }"#,
            json!({"guid": browser.guid}),
        )
        .await;
    let entity = &data["actor"]["entity"];
    assert_eq!(entity["entityType"], "BROWSER_APPLICATION_ENTITY");
    assert_eq!(
        entity["relatedEntities"]["results"],
        json!([{"type": "CALLS", "target": {"entity": {"name": "web-frontend"}}}])
    );
    let metrics = entity["goldenMetrics"]["metrics"].as_array().unwrap();
    assert!(!metrics.is_empty());
    for metric in metrics {
        let query = metric["query"].as_str().unwrap();
        let answer = sandbox.nrql(PRODUCTION, &query.replace(" TIMESERIES", " SINCE 1 hour ago")).await;
        assert!(!answer["results"].as_array().unwrap().is_empty(), "{query}");
    }
    sandbox.stop().await;
}
