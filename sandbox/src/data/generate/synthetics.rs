//! Synthetic monitors (entities of domain `SYNTH`, type `MONITOR`) and their
//! `SyntheticCheck` results. The checkout API monitor fails now and then, and much more often
//! since the bad payments release.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::super::guid::entity_guid;
use super::super::model::{Account, Entity, EntityKind};
use super::{BAD_RELEASE_AGO_MS, MINUTE, PRODUCTION, Texts, account_name, every, permalink, round_to};

/// A location monitors run from: its code and its label.
type Location = (&'static str, &'static str);

const WASHINGTON: Location = ("AWS_US_EAST_1", "Washington, DC, USA");
const DUBLIN: Location = ("AWS_EU_WEST_1", "Dublin, IE");
const TOKYO: Location = ("AWS_AP_NORTHEAST_1", "Tokyo, JP");

struct MonitorSpec {
    id: &'static str,
    name: &'static str,
    monitor_type: &'static str,
    url: &'static str,
    period_minutes: i64,
    locations: &'static [Location],
    /// Typical duration of a successful check (ms).
    duration_ms: (f64, f64),
    failure_rate: f64,
    /// Failure rate since the bad payments release, when it suffers from it.
    failure_rate_after_bad_release: Option<f64>,
    failures: &'static [&'static str],
}

const MONITORS: [MonitorSpec; 3] = [
    MonitorSpec {
        id: "5e7d1c2a-4b3f-4e8a-9c61-0a1b2c3d4e51",
        name: "acme-web homepage",
        monitor_type: "SIMPLE",
        url: "https://www.acme.example/",
        period_minutes: 5,
        locations: &[WASHINGTON, DUBLIN, TOKYO],
        duration_ms: (180.0, 650.0),
        failure_rate: 0.003,
        failure_rate_after_bad_release: None,
        failures: &["Connection timed out after 30000 ms"],
    },
    MonitorSpec {
        id: "8c2f4a6e-1d3b-4f5a-8e7c-1b2c3d4e5f62",
        name: "checkout API health",
        monitor_type: "SCRIPT_API",
        url: "https://api.acme.example/checkout/health",
        period_minutes: 5,
        locations: &[WASHINGTON, DUBLIN],
        duration_ms: (250.0, 900.0),
        failure_rate: 0.03,
        failure_rate_after_bad_release: Some(0.35),
        failures: &[
            "AssertionError: expected status 200 but got 502",
            "AssertionError: payment authorization step failed: expected status 200 but got 500",
        ],
    },
    MonitorSpec {
        id: "a1b2c3d4-5e6f-4a7b-9c8d-2e3f4a5b6c73",
        name: "acme-web login page",
        monitor_type: "BROWSER",
        url: "https://www.acme.example/login",
        period_minutes: 15,
        locations: &[WASHINGTON, TOKYO],
        duration_ms: (2_400.0, 5_200.0),
        failure_rate: 0.01,
        failure_rate_after_bad_release: None,
        failures: &["Page load timed out after 60000 ms: https://www.acme.example/login"],
    },
];

fn monitor_guid(monitor: &MonitorSpec) -> String {
    entity_guid(PRODUCTION, "SYNTH", "MONITOR", monitor.id)
}

/// The monitors as entities.
pub(super) fn monitor_entities(accounts: &[Account]) -> Vec<Entity> {
    MONITORS
        .iter()
        .map(|monitor| {
            let guid = monitor_guid(monitor);
            Entity {
                name: monitor.name.to_string(),
                account_id: PRODUCTION,
                domain: "SYNTH",
                entity_type_tag: "MONITOR",
                kind: EntityKind::SyntheticMonitor {
                    monitor_id: monitor.id.to_string(),
                    monitor_type: monitor.monitor_type.to_string(),
                    monitored_url: Some(monitor.url.to_string()),
                    period_minutes: monitor.period_minutes,
                },
                reporting: true,
                alert_severity: "NOT_ALERTING",
                tags: vec![
                    ("account".to_string(), vec![account_name(accounts, PRODUCTION)]),
                    ("accountId".to_string(), vec![PRODUCTION.to_string()]),
                    ("environment".to_string(), vec!["production".to_string()]),
                    ("monitorType".to_string(), vec![monitor.monitor_type.to_string()]),
                    ("period".to_string(), vec![format!("EVERY_{}_MINUTES", monitor.period_minutes)]),
                    (
                        "publicLocation".to_string(),
                        monitor.locations.iter().map(|(code, _)| (*code).to_string()).collect(),
                    ),
                ],
                permalink: permalink(&guid),
                guid,
            }
        })
        .collect()
}

/// One `SyntheticCheck` per monitor, location and period (production account).
pub(super) fn generate_checks(
    rng: &mut StdRng,
    start: i64,
    anchor_ms: i64,
    events: &mut BTreeMap<i64, Vec<Event>>,
) {
    let account_events = events.entry(PRODUCTION).or_default();
    let bad_release = anchor_ms - BAD_RELEASE_AGO_MS;
    let mut texts = Texts::default();
    for monitor in &MONITORS {
        let name: Arc<str> = Arc::from(monitor.name);
        let id: Arc<str> = Arc::from(monitor.id);
        let guid: Arc<str> = Arc::from(monitor_guid(monitor));
        for (offset, (location, label)) in monitor.locations.iter().enumerate() {
            // Locations run a few seconds apart, not all at once.
            let first = start + 7_000 * (offset as i64 + 1);
            for timestamp in every(first, anchor_ms, monitor.period_minutes * MINUTE) {
                let failure_rate = match monitor.failure_rate_after_bad_release {
                    Some(rate) if timestamp >= bad_release => rate,
                    _ => monitor.failure_rate,
                };
                let failed = rng.random_bool(failure_rate);
                let duration = if failed && monitor.monitor_type == "SIMPLE" {
                    30_000.0
                } else {
                    rng.random_range(monitor.duration_ms.0..monitor.duration_ms.1)
                };
                let mut check = Event::new("SyntheticCheck", timestamp)
                    .with("monitorName", &name)
                    .with("monitorId", &id)
                    .with("entityGuid", &guid)
                    .with("result", texts.get(if failed { "FAILED" } else { "SUCCESS" }))
                    .with("duration", round_to(duration, 1))
                    .with("location", texts.get(location))
                    .with("locationLabel", texts.get(label))
                    .with("type", texts.get(monitor.monitor_type));
                if failed {
                    check = check.with(
                        "error",
                        texts.get(monitor.failures[rng.random_range(0..monitor.failures.len())]),
                    );
                }
                account_events.push(check);
            }
        }
    }
}
