//! Builds the synthetic world from a seed and an anchor time.
//!
//! The story: two accounts (production and staging) run a small shop — a browser app
//! (`acme-web`) calling a web frontend that calls a checkout service, which calls payments
//! and hands reservations to an inventory worker over Kafka — on a handful of hosts, next
//! to a Kubernetes cluster (`acme-prod`) and a Kafka cluster (`acme-kafka`), watched by
//! three synthetic monitors. Payments shipped a release shortly before its error rate
//! jumped, which opened an issue that is still active, restarted its container and made the
//! checkout API monitor fail; the inventory worker's heap is filling up, so its old
//! generation collects more and its consumer lag grows; a disk on `ip-10-0-1-12` is nearly
//! full. Other issues are older and closed.
//!
//! Each part of the world draws from its own random stream (a "section" of the seed), so
//! adding a part never changes the numbers of another.

mod alerts;
mod apm;
mod browser;
mod dashboards;
mod deployments;
mod entities;
mod infra;
mod jvm;
mod kafka;
mod kubernetes;
mod synthetics;
mod traces;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::event::Event;
use super::guid::entity_guid;
use super::model::{Account, Issue};
use super::{Dataset, HISTORY_MS};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Production account id.
pub const PRODUCTION: i64 = 1_000_001;
/// Staging account id.
pub const STAGING: i64 = 1_000_002;

/// The random stream of each part of the world.
mod section {
    pub const IDS: u64 = 1;
    pub const DEPLOYMENTS: u64 = 2;
    pub const APPLICATIONS: u64 = 3;
    pub const HOSTS: u64 = 4;
    pub const SPAN_IDS: u64 = 5;
    pub const TRACES: u64 = 6;
    pub const JVM: u64 = 7;
    pub const PROCESSES: u64 = 8;
    pub const STORAGE: u64 = 9;
    pub const CONTAINERS: u64 = 10;
    pub const KUBERNETES: u64 = 11;
    pub const KAFKA: u64 = 12;
    pub const SYNTHETICS: u64 = 13;
    pub const BROWSER: u64 = 14;
}

struct AppSpec {
    name: &'static str,
    language: &'static str,
    team: &'static str,
    base_duration: f64,
    error_rate: f64,
    transactions: &'static [(&'static str, &'static str, &'static str)],
    /// What a failed transaction reports: error class, message and HTTP status, in the
    /// app's own language and trade. Every app has [`ERROR_KINDS`] of them, so the draw that
    /// picks one has the same range everywhere and the error texts change no other data.
    errors: &'static [(&'static str, &'static str, &'static str); ERROR_KINDS],
}

/// How many kinds of error each app reports.
const ERROR_KINDS: usize = 4;

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
        errors: &[
            ("java.net.SocketTimeoutException", "Read timed out", "504"),
            ("UpstreamUnavailable", "upstream connect error or disconnect/reset before headers", "503"),
            ("javax.validation.ConstraintViolationException", "cart.items: must not be empty", "400"),
            (
                "java.lang.NullPointerException",
                "Cannot invoke \"Quote.total()\" because \"quote\" is null",
                "500",
            ),
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
        errors: &[
            (
                "*url.Error",
                "Post \"https://gateway.acme.example/v1/charges\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                "504",
            ),
            ("UpstreamUnavailable", "upstream connect error or disconnect/reset before headers", "503"),
            ("ValidationError", "invalid card number", "400"),
            ("InternalError", "unexpected nil pointer", "500"),
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
        errors: &[
            ("TimeoutError", "request to checkout-service timed out after 5000 ms", "504"),
            (
                "FetchError",
                "request to http://checkout-service/checkout/quote failed, reason: socket hang up",
                "502",
            ),
            ("NotFoundError", "product 42 not found", "404"),
            ("TypeError", "Cannot read properties of undefined (reading 'price')", "500"),
        ],
    },
    AppSpec {
        name: "inventory-worker",
        language: "java",
        team: "commerce",
        base_duration: 0.6,
        error_rate: 0.015,
        transactions: &[
            ("OtherTransaction/Message/Kafka/Topic/Consume/Named/inventory-reservations", "", ""),
            ("OtherTransaction/Java/com.acme.inventory.RestockJob/run", "", ""),
        ],
        errors: &[
            ("java.net.SocketTimeoutException", "Read timed out", "504"),
            (
                "org.apache.kafka.common.errors.RebalanceInProgressException",
                "Offset commit cannot be completed since the consumer group is rebalancing",
                "500",
            ),
            ("com.acme.inventory.OutOfStockException", "SKU 42 has no stock left to reserve", "409"),
            (
                "java.sql.SQLTransientConnectionException",
                "HikariPool-1 - Connection is not available, request timed out after 30000ms",
                "500",
            ),
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
/// The inventory worker's heap has been filling up for this long before the anchor (its old
/// generation collects more and its Kafka consumer lag grows).
const INVENTORY_HEAP_PRESSURE_MS: i64 = 3 * HOUR;
/// Samples that change slowly (processes, disks, containers, Kubernetes, Kafka): one every
/// this many milliseconds.
const SLOW_SAMPLE_SPACING_MS: i64 = 10 * MINUTE;

struct AppInstance {
    spec: &'static AppSpec,
    account_id: i64,
    environment: &'static str,
    application_id: i64,
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

impl AppInstance {
    fn is_production(&self, name: &str) -> bool {
        self.account_id == PRODUCTION && self.spec.name == name
    }
}

/// Disk usage of a host's root volume at one SystemSample, for the storage samples to agree
/// with.
struct RootDiskReading {
    host_index: usize,
    timestamp: i64,
    used_percent: f64,
}

pub(super) fn generate(seed: u64, anchor_ms: i64) -> Dataset {
    let accounts = vec![
        Account { id: PRODUCTION, name: "Acme Production".to_string() },
        Account { id: STAGING, name: "Acme Staging".to_string() },
    ];
    let start = anchor_ms - HISTORY_MS;
    let hosts = host_instances(anchor_ms);
    let apps = app_instances(&hosts);

    let mut id_rng = section_rng(seed, section::IDS);
    let deployments =
        deployments::generate_deployments(&mut section_rng(seed, section::DEPLOYMENTS), &apps, anchor_ms);
    let (policies, conditions) = alerts::generate_alerts();
    let (issues, incidents) =
        alerts::generate_issues(&mut id_rng, &apps, &hosts, &policies, &conditions, anchor_ms);
    let dashboards = dashboards::generate_dashboards(anchor_ms);
    let (entities, relationships) =
        entities::generate_entities(&accounts, &apps, &hosts, &issues, &dashboards, start, anchor_ms);

    let mut events: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    apm::generate_app_events(
        &mut section_rng(seed, section::APPLICATIONS),
        &mut section_rng(seed, section::SPAN_IDS),
        &apps,
        start,
        anchor_ms,
        &mut events,
    );
    let root_disk =
        infra::generate_host_events(&mut section_rng(seed, section::HOSTS), &hosts, start, &mut events);
    traces::generate_traces(&mut section_rng(seed, section::TRACES), &apps, anchor_ms, &mut events);
    jvm::generate_metrics(&mut section_rng(seed, section::JVM), &apps, start, anchor_ms, &mut events);
    infra::generate_process_samples(
        &mut section_rng(seed, section::PROCESSES),
        &apps,
        &hosts,
        start,
        &mut events,
    );
    infra::generate_storage_samples(
        &mut section_rng(seed, section::STORAGE),
        &hosts,
        &root_disk,
        anchor_ms,
        &mut events,
    );
    infra::generate_container_samples(
        &mut section_rng(seed, section::CONTAINERS),
        &apps,
        &hosts,
        start,
        anchor_ms,
        &mut events,
    );
    kubernetes::generate_samples(&mut section_rng(seed, section::KUBERNETES), start, anchor_ms, &mut events);
    kafka::generate_samples(&mut section_rng(seed, section::KAFKA), start, anchor_ms, &mut events);
    synthetics::generate_checks(&mut section_rng(seed, section::SYNTHETICS), start, anchor_ms, &mut events);
    browser::generate_page_views(&mut section_rng(seed, section::BROWSER), start, anchor_ms, &mut events);
    for deployment in &deployments {
        let app_name = apps.iter().find(|a| a.guid == deployment.entity_guid).map_or("", |a| a.spec.name);
        events
            .entry(deployment.account_id)
            .or_default()
            .push(deployments::deployment_event(deployment, app_name));
    }
    for issue in &issues {
        alerts::push_issue_events(issue, events.entry(issue.account_id).or_default());
    }
    for account_events in events.values_mut() {
        account_events.retain(|event| event.timestamp >= start && event.timestamp < anchor_ms);
        account_events.sort_by_key(|event| event.timestamp);
        for event in account_events.iter_mut() {
            event.attributes.shrink_to_fit();
        }
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

fn host_instances(anchor_ms: i64) -> Vec<HostInstance> {
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
    hosts
}

fn app_instances(hosts: &[HostInstance]) -> Vec<AppInstance> {
    let mut apps = Vec::new();
    for (index, spec) in APPS.iter().enumerate() {
        let host = &hosts[index];
        apps.push(AppInstance {
            spec,
            account_id: PRODUCTION,
            environment: "production",
            application_id: 100_001 + index as i64,
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
            application_id: 200_001 + index as i64,
            guid: entity_guid(STAGING, "APM", "APPLICATION", &(200_001 + index as i64).to_string()),
            host: host.name.clone(),
            host_guid: host.guid.clone(),
        });
    }
    apps
}

fn account_name(accounts: &[Account], id: i64) -> String {
    accounts.iter().find(|a| a.id == id).map(|a| a.name.clone()).unwrap_or_default()
}

/// Shares one allocation among the many events that carry the same text, which keeps the
/// world small and quick to build.
#[derive(Default)]
struct Texts(HashMap<&'static str, Arc<str>>);

impl Texts {
    fn get(&mut self, text: &'static str) -> Arc<str> {
        Arc::clone(self.0.entry(text).or_insert_with(|| Arc::from(text)))
    }
}

/// An id of `digits` lowercase hex digits drawn from `rng`.
fn hex_id(rng: &mut StdRng, digits: usize) -> String {
    let mut text = String::with_capacity(digits);
    while text.len() < digits {
        let chunk = format!("{:016x}", rng.random::<u64>());
        text.push_str(&chunk[..(digits - text.len()).min(16)]);
    }
    text
}

/// Timestamps from `from` (inclusive) to `until` (exclusive), `spacing` apart.
fn every(from: i64, until: i64, spacing: i64) -> impl Iterator<Item = i64> {
    (0..).map(move |n| from + n * spacing).take_while(move |timestamp| *timestamp < until)
}

/// The alert severity an active issue gives an entity.
fn severity_from_issues(issues: &[Issue], guid: &str, non_critical: &'static str) -> &'static str {
    match issues
        .iter()
        .filter(|issue| issue.state == "ACTIVATED" && issue.entity_guids.iter().any(|g| g == guid))
        .map(|issue| issue.priority.as_str())
        .next()
    {
        Some("CRITICAL") => "CRITICAL",
        Some(_) => non_critical,
        None => "NOT_ALERTING",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeSet;

    use super::super::event::AttrValue;
    use super::*;

    #[test]
    fn every_steps_from_the_start_up_to_the_end() {
        let cases: [((i64, i64, i64), Vec<i64>); 4] = [
            ((0, 30, 10), vec![0, 10, 20]),
            ((5, 31, 10), vec![5, 15, 25]),
            ((0, 0, 10), vec![]),
            ((10, 5, 10), vec![]),
        ];
        for ((from, until, spacing), expected) in cases {
            assert_eq!(
                every(from, until, spacing).collect::<Vec<_>>(),
                expected,
                "{from}..{until} by {spacing}"
            );
        }
    }

    #[test]
    fn hex_ids_have_the_asked_length_and_follow_the_seed() {
        for digits in [1, 16, 17, 32] {
            let id = hex_id(&mut section_rng(7, 1), digits);
            assert_eq!(id.len(), digits);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
            assert_eq!(id, hex_id(&mut section_rng(7, 1), digits));
        }
        assert_ne!(hex_id(&mut section_rng(7, 1), 32), hex_id(&mut section_rng(8, 1), 32));
    }

    #[test]
    fn each_app_fails_with_errors_of_its_own() {
        let dataset = generate(42, 1_800_000_000_000);
        for spec in &APPS {
            let classes: Vec<&str> = spec.errors.iter().map(|(class, _, _)| *class).collect();
            let reported: BTreeSet<String> = dataset
                .events
                .values()
                .flatten()
                .filter(|event| event.event_type == "TransactionError")
                .filter(
                    |event| matches!(event.attr("appName"), Some(AttrValue::Str(app)) if &**app == spec.name),
                )
                .filter_map(|event| match event.attr("error.class") {
                    Some(AttrValue::Str(class)) => Some(class.to_string()),
                    _ => None,
                })
                .collect();
            assert!(!reported.is_empty(), "{} reported no error", spec.name);
            for class in &reported {
                assert!(
                    classes.contains(&class.as_str()),
                    "{} reported {class}, not one of {classes:?}",
                    spec.name
                );
            }
            // A Go or Node.js service throws no Java exception.
            if spec.language != "java" {
                assert!(
                    reported.iter().all(|class| !class.starts_with("java.")),
                    "{}: {reported:?}",
                    spec.name
                );
            }
        }
    }
}
