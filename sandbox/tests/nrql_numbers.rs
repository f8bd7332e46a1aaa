//! NRQL answers checked exactly against values recomputed here by walking the fixture
//! events, plus the shapes of FACET, TIMESERIES and COMPARE WITH results.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::float_cmp)]

#[path = "support/client.rs"]
mod support;

use std::collections::BTreeMap;

use newrelic_mcp_sandbox::data::{AttrValue, Event};
use serde_json::{Value, json};
use support::{ANCHOR_MS, PRODUCTION, STAGING, Sandbox, dataset};

const HOUR: i64 = 3_600_000;

fn events_since(account: i64, event_type: &str, since_ms: i64) -> Vec<Event> {
    dataset()
        .events(account)
        .iter()
        .filter(|e| {
            e.event_type == event_type && e.timestamp >= ANCHOR_MS - since_ms && e.timestamp < ANCHOR_MS
        })
        .cloned()
        .collect()
}

fn text(event: &Event, name: &str) -> String {
    event.attr(name).and_then(AttrValue::as_str).unwrap_or_default().to_string()
}

fn number(event: &Event, name: &str) -> f64 {
    event.attr(name).and_then(AttrValue::as_f64).unwrap()
}

fn is_error(event: &Event) -> bool {
    event.attr("error") == Some(&AttrValue::Bool(true))
}

fn nearest_rank(mut values: Vec<f64>, level: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((level / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[tokio::test]
async fn single_value_aggregates_are_exact() {
    let sandbox = Sandbox::start().await;
    let transactions = events_since(PRODUCTION, "Transaction", 3 * HOUR);
    let checkout: Vec<&Event> =
        transactions.iter().filter(|e| text(e, "appName") == "checkout-service").collect();
    let durations: Vec<f64> = checkout.iter().map(|e| number(e, "duration")).collect();
    let sum: f64 = durations.iter().sum();
    let errors = checkout.iter().filter(|e| is_error(e)).count();
    let hosts: std::collections::BTreeSet<String> = transactions.iter().map(|e| text(e, "host")).collect();

    let answer = sandbox
        .nrql(
            PRODUCTION,
            "SELECT count(*), sum(duration), average(duration), min(duration), max(duration), \
             percentage(count(*), WHERE error IS true) AS 'errorPct', filter(count(*), WHERE error IS true) AS 'errors' \
             FROM Transaction WHERE appName = 'checkout-service' SINCE 3 hours ago",
        )
        .await;
    let row = &answer["results"][0];
    assert_eq!(row["count"], json!(checkout.len()));
    assert_eq!(row["sum.duration"], json!(sum));
    assert_eq!(row["average.duration"], json!(sum / durations.len() as f64));
    assert_eq!(row["min.duration"], json!(durations.iter().copied().fold(f64::INFINITY, f64::min)));
    assert_eq!(row["max.duration"], json!(durations.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
    assert_eq!(row["errorPct"], json!(100.0 * errors as f64 / checkout.len() as f64));
    assert_eq!(row["errors"], json!(errors));

    let answer = sandbox
        .nrql(PRODUCTION, "SELECT percentile(duration, 50, 95, 99), median(duration), uniqueCount(host) FROM Transaction WHERE appName = 'checkout-service' SINCE 3 hours ago")
        .await;
    let row = &answer["results"][0];
    assert_eq!(
        row["percentile.duration"],
        json!({"50": nearest_rank(durations.clone(), 50.0), "95": nearest_rank(durations.clone(), 95.0), "99": nearest_rank(durations.clone(), 99.0)})
    );
    assert_eq!(row["median.duration"], json!({"50": nearest_rank(durations.clone(), 50.0)}));
    assert_eq!(row["uniqueCount.host"], json!(1));

    let answer = sandbox
        .nrql(PRODUCTION, "SELECT uniqueCount(host), uniques(appName) FROM Transaction SINCE 3 hours ago")
        .await;
    assert_eq!(answer["results"][0]["uniqueCount.host"], json!(hosts.len()));
    let mut apps: Vec<String> =
        serde_json::from_value(answer["results"][0]["uniques.appName"].clone()).unwrap();
    apps.sort();
    assert_eq!(apps, ["checkout-service", "inventory-worker", "payments-api", "web-frontend"]);
    assert_eq!(answer["metadata"]["eventTypes"], json!(["Transaction"]));
    assert_eq!(answer["metadata"]["timeWindow"], json!({"begin": ANCHOR_MS - 3 * HOUR, "end": ANCHOR_MS}));
    sandbox.stop().await;
}

#[tokio::test]
async fn the_documented_golden_signal_query_is_exact() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let payments = world.entity_named(PRODUCTION, "payments-api", "APPLICATION").unwrap();
    let events: Vec<Event> = events_since(PRODUCTION, "Transaction", 30 * 60_000)
        .into_iter()
        .filter(|e| text(e, "entityGuid") == payments.guid)
        .collect();
    let answer = sandbox
        .nrql(
            PRODUCTION,
            &format!(
                "SELECT average(duration)*1000 AS 'p_avg_ms', percentile(duration, 95)*1000 AS 'p95_ms', \
                 rate(count(*), 1 minute) AS 'rpm', percentage(count(*), WHERE error IS true) AS 'error_pct' \
                 FROM Transaction WHERE entityGuid = '{}' SINCE 30 minutes ago",
                payments.guid
            ),
        )
        .await;
    let row = &answer["results"][0];
    let durations: Vec<f64> = events.iter().map(|e| number(e, "duration")).collect();
    let errors = events.iter().filter(|e| is_error(e)).count();
    assert_eq!(row["p_avg_ms"], json!(durations.iter().sum::<f64>() / durations.len() as f64 * 1000.0));
    assert_eq!(row["p95_ms"], json!(nearest_rank(durations, 95.0) * 1000.0));
    assert_eq!(row["rpm"], json!(events.len() as f64 * 60_000.0 / (30.0 * 60_000.0)));
    assert_eq!(row["error_pct"], json!(100.0 * errors as f64 / events.len() as f64));
    assert!(row["error_pct"].as_f64().unwrap() > 5.0, "payments is in its bad-release incident");
    sandbox.stop().await;
}

#[tokio::test]
async fn facets_are_ordered_limited_and_labelled() {
    let sandbox = Sandbox::start().await;
    let transactions = events_since(PRODUCTION, "Transaction", 6 * HOUR);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for event in &transactions {
        *counts.entry(text(event, "appName")).or_default() += 1;
    }
    let mut ordered: Vec<(String, usize)> = counts.into_iter().collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    let answer = sandbox
        .nrql(PRODUCTION, "SELECT count(*) FROM Transaction FACET appName SINCE 6 hours ago LIMIT 3")
        .await;
    let expected: Vec<Value> =
        ordered.iter().take(3).map(|(app, n)| json!({"facet": app, "appName": app, "count": n})).collect();
    assert_eq!(answer["results"], json!(expected));
    assert_eq!(answer["totalResult"], json!({"count": transactions.len()}));
    assert_eq!(answer["otherResult"], json!({"count": ordered[3..].iter().map(|(_, n)| n).sum::<usize>()}));
    assert_eq!(answer["metadata"]["facets"], json!(["appName"]));

    let answer = sandbox
        .nrql(PRODUCTION, "SELECT count(*) FROM Transaction FACET appName, error SINCE 6 hours ago LIMIT MAX")
        .await;
    let mut pairs: BTreeMap<(String, bool), usize> = BTreeMap::new();
    for event in &transactions {
        *pairs.entry((text(event, "appName"), is_error(event))).or_default() += 1;
    }
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), pairs.len());
    for row in rows {
        let key = (row["appName"].as_str().unwrap().to_string(), row["error"].as_bool().unwrap());
        assert_eq!(row["facet"], json!([key.0, key.1]));
        assert_eq!(row["count"], json!(pairs[&key]));
    }

    let answer = sandbox
        .nrql(
            PRODUCTION,
            "SELECT count(*) FROM Transaction FACET CASES(WHERE duration < 0.1 AS 'fast', WHERE duration < 0.5 AS 'ok', WHERE duration >= 0.5 AS 'slow') SINCE 6 hours ago",
        )
        .await;
    let bucket = |d: f64| {
        if d < 0.1 {
            "fast"
        } else if d < 0.5 {
            "ok"
        } else {
            "slow"
        }
    };
    let mut cases: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &transactions {
        *cases.entry(bucket(number(event, "duration"))).or_default() += 1;
    }
    let got: BTreeMap<String, usize> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["facet"].as_str().unwrap().to_string(), row["count"].as_u64().unwrap() as usize))
        .collect();
    let want: BTreeMap<String, usize> = cases.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    assert_eq!(got, want);
    sandbox.stop().await;
}

#[tokio::test]
async fn timeseries_rows_cover_the_window_in_buckets() {
    let sandbox = Sandbox::start().await;
    let logs = events_since(PRODUCTION, "Log", HOUR);
    let answer = sandbox
        .nrql(PRODUCTION, "SELECT count(*) FROM Log WHERE message LIKE '%timed out%' FACET level TIMESERIES 5 minutes SINCE 1 hour ago")
        .await;
    let rows = answer["results"].as_array().unwrap();
    let matching: Vec<&Event> =
        logs.iter().filter(|e| text(e, "message").to_lowercase().contains("timed out")).collect();
    assert!(!matching.is_empty());
    let levels: std::collections::BTreeSet<String> = matching.iter().map(|e| text(e, "level")).collect();
    assert_eq!(rows.len(), 12 * levels.len());
    for row in rows {
        let begin = row["beginTimeSeconds"].as_i64().unwrap() * 1000;
        let end = row["endTimeSeconds"].as_i64().unwrap() * 1000;
        assert_eq!(end - begin, 5 * 60_000);
        let level = row["level"].as_str().unwrap();
        assert_eq!(row["facet"], json!(level));
        let expected = matching
            .iter()
            .filter(|e| text(e, "level") == level && e.timestamp >= begin && e.timestamp < end)
            .count();
        assert_eq!(row["count"], json!(expected), "{row}");
    }
    let first = rows.iter().map(|r| r["beginTimeSeconds"].as_i64().unwrap()).min().unwrap();
    assert_eq!(first, (ANCHOR_MS - HOUR) / 1000);

    let answer = sandbox
        .nrql(STAGING, "SELECT average(cpuPercent) FROM SystemSample TIMESERIES SINCE 1 day ago")
        .await;
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), 48, "a day in automatic 30-minute buckets");
    let samples = events_since(STAGING, "SystemSample", 24 * HOUR);
    let first_bucket: Vec<f64> = samples
        .iter()
        .filter(|e| e.timestamp < ANCHOR_MS - 24 * HOUR + 30 * 60_000)
        .map(|e| number(e, "cpuPercent"))
        .collect();
    assert_eq!(
        rows[0]["average.cpuPercent"],
        json!(first_bucket.iter().sum::<f64>() / first_bucket.len() as f64)
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn raw_rows_latest_first_with_limits() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let payments = world.entity_named(PRODUCTION, "payments-api", "APPLICATION").unwrap();
    let answer = sandbox
        .nrql(
            PRODUCTION,
            &format!(
                "SELECT timestamp, level, message, entity.guid FROM Log WHERE entity.guid = '{}' AND level IN ('ERROR','error') SINCE 30 minutes ago LIMIT 100",
                payments.guid
            ),
        )
        .await;
    let mut expected: Vec<Event> = events_since(PRODUCTION, "Log", 30 * 60_000)
        .into_iter()
        .filter(|e| text(e, "entity.guid") == payments.guid && text(e, "level") == "ERROR")
        .collect();
    expected.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    expected.truncate(100);
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for (row, event) in rows.iter().zip(&expected) {
        assert_eq!(
            row,
            &json!({"timestamp": event.timestamp, "level": "ERROR", "message": text(event, "message"), "entity.guid": payments.guid})
        );
    }
    let answer = sandbox.nrql(PRODUCTION, "SELECT * FROM Transaction SINCE 1 day ago LIMIT 5").await;
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows[0]["appName"].is_string() && rows[0]["duration"].is_number());
    let answer = sandbox.nrql(PRODUCTION, "SELECT appName FROM Transaction SINCE 1 day ago").await;
    assert_eq!(answer["results"].as_array().unwrap().len(), 100, "the default raw row limit");
    sandbox.stop().await;
}

#[tokio::test]
async fn latest_earliest_stddev_histogram_and_math_are_exact() {
    let sandbox = Sandbox::start().await;
    let samples = events_since(PRODUCTION, "SystemSample", 2 * HOUR);
    let host: Vec<&Event> = samples.iter().filter(|e| text(e, "hostname") == "ip-10-0-1-12").collect();
    let cpu: Vec<f64> = host.iter().map(|e| number(e, "cpuPercent")).collect();
    let mean = cpu.iter().sum::<f64>() / cpu.len() as f64;
    let stddev = (cpu.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / cpu.len() as f64).sqrt();
    let answer = sandbox
        .nrql(
            PRODUCTION,
            "SELECT latest(diskUsedPercent), earliest(diskUsedPercent), stddev(cpuPercent), histogram(cpuPercent, 100, 10), \
             max(cpuPercent) - min(cpuPercent) AS 'spread' FROM SystemSample WHERE hostname = 'ip-10-0-1-12' SINCE 2 hours ago",
        )
        .await;
    let row = &answer["results"][0];
    assert_eq!(row["latest.diskUsedPercent"], json!(number(host.last().unwrap(), "diskUsedPercent")));
    assert_eq!(row["earliest.diskUsedPercent"], json!(number(host[0], "diskUsedPercent")));
    assert_eq!(row["stddev.cpuPercent"], json!(stddev));
    let mut histogram = vec![0; 10];
    for value in &cpu {
        histogram[((value / 10.0) as usize).min(9)] += 1;
    }
    assert_eq!(row["histogram.cpuPercent"], json!(histogram));
    let spread = cpu.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - cpu.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(row["spread"], json!(spread));
    sandbox.stop().await;
}

#[tokio::test]
async fn compare_with_keyset_and_show_event_types() {
    let sandbox = Sandbox::start().await;
    let data = sandbox
        .data(
            "query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results currentResults previousResults metadata { timeWindow { compareWith } } } } } }",
            json!({"accountId": PRODUCTION, "nrql": "SELECT count(*) FROM Transaction SINCE 1 hour ago COMPARE WITH 1 day ago"}),
        )
        .await;
    let nrql = &data["actor"]["account"]["nrql"];
    let all = dataset();
    let count_between = |from: i64, to: i64| {
        all.events(PRODUCTION)
            .iter()
            .filter(|e| e.event_type == "Transaction" && e.timestamp >= from && e.timestamp < to)
            .count()
    };
    let current = count_between(ANCHOR_MS - HOUR, ANCHOR_MS);
    let previous = count_between(ANCHOR_MS - 25 * HOUR, ANCHOR_MS - 24 * HOUR);
    assert_eq!(nrql["currentResults"], json!([{"count": current}]));
    assert_eq!(nrql["previousResults"], json!([{"count": previous}]));
    assert_eq!(
        nrql["results"],
        json!([{"count": current, "comparison": "current"}, {"count": previous, "comparison": "previous"}])
    );
    assert_eq!(nrql["metadata"]["timeWindow"]["compareWith"], "1 DAY AGO");

    let answer = sandbox.nrql(PRODUCTION, "SHOW EVENT TYPES SINCE 1 day ago").await;
    let types: Vec<&str> =
        answer["results"].as_array().unwrap().iter().map(|r| r["eventType"].as_str().unwrap()).collect();
    for expected in ["Log", "Span", "SystemSample", "Transaction", "TransactionError"] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let answer = sandbox.nrql(PRODUCTION, "SELECT keyset() FROM SystemSample SINCE 1 hour ago").await;
    let keys = answer["results"].as_array().unwrap();
    assert!(keys.contains(&json!({"key": "cpuPercent", "type": "numeric"})));
    assert!(keys.contains(&json!({"key": "hostname", "type": "string"})));
    sandbox.stop().await;
}

#[tokio::test]
async fn cross_account_queries_span_accounts() {
    let sandbox = Sandbox::start().await;
    let data = sandbox
        .data(
            "query($accounts: [Int!]!, $nrql: Nrql!) { actor { nrql(accounts: $accounts, query: $nrql, timeout: 30) { results } } }",
            json!({"accounts": [PRODUCTION, STAGING], "nrql": "SELECT count(*) FROM Transaction SINCE 2 hours ago"}),
        )
        .await;
    let expected = events_since(PRODUCTION, "Transaction", 2 * HOUR).len()
        + events_since(STAGING, "Transaction", 2 * HOUR).len();
    assert_eq!(data["actor"]["nrql"]["results"], json!([{"count": expected}]));
    sandbox.stop().await;
}
