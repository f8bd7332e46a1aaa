//! The generated world: deterministic per seed and anchor, shaped as documented, modest in
//! size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use std::collections::BTreeSet;

use newrelic_mcp_sandbox::data::{EntityKind, HISTORY_MS};
use newrelic_mcp_sandbox::{Dataset, SandboxConfig};
use support::{ANCHOR_MS, PRODUCTION, STAGING};

#[test]
fn the_same_seed_and_anchor_give_the_same_world() {
    let first = Dataset::generate(7, ANCHOR_MS);
    let second = Dataset::generate(7, ANCHOR_MS);
    assert_eq!(first.events, second.events);
    assert_eq!(first.issues, second.issues);
    assert_eq!(first.deployments, second.deployments);
    let other = Dataset::generate(8, ANCHOR_MS);
    assert_ne!(first.events, other.events);
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
    let world = support::dataset();
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
    assert!((20_000..=80_000).contains(&total), "{total} events");
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

#[test]
#[ignore]
fn zz_measure() {
    let t = std::time::Instant::now();
    let w = Dataset::generate(7, ANCHOR_MS);
    let el = t.elapsed();
    let mut counts = std::collections::BTreeMap::new();
    for e in w.events.values().flatten() { *counts.entry(e.event_type).or_insert(0usize) += 1; }
    println!("MEASURE {:?} total {} {:?}", el, w.event_count(), counts);
}
