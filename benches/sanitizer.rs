//! Sanitizer throughput (bytes per second) on what actually leaves the server:
//!
//! - `clean_text`: a rendered NRQL answer and log lines with nothing to remove (the common
//!   case, answered borrowed after one scan);
//! - `text_with_secrets`: the same text with a key, a bearer token, a path or a backtrace
//!   line every twenty lines;
//! - `json_nrql_result`: `sanitize_json` over the structured content of a 100-row NRQL answer.

#![allow(clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use newrelic_mcp::sanitize::{sanitize, sanitize_json};
use serde_json::{Value, json};

const ROWS: usize = 100;

/// A line that must be rewritten, in turn.
const LEAKS: &[&str] = &[
    "NerdGraph refused the key NRAK-7JQ2ZC4XW8KD1M5TB9VH3NP6LRA: 401 Unauthorized",
    "request headers: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.dGhpcyBpcyBub3Q",
    "could not read /home/deploy/.config/newrelic-mcp/config.toml: permission denied",
    "thread 'tokio-runtime-worker' panicked at src/nerdgraph/client.rs:120:9",
    "Insights insert key NRII-x9Yb2Kc3Ld4Me5Nf6Og7Ph8Qi9Rj0Sk1 rejected",
];

fn clean_lines() -> Vec<String> {
    let mut lines = vec![format!("{ROWS} rows (account 1000001)")];
    for row in 0..ROWS {
        lines.push(format!(
            "appName: checkout-service-{row:03} | average.duration: 0.{row:03}417 | count: {} | \
             entityGuid: MTAwMDAwMXxBUE18QVBQTElDQVRJT058{row:06}",
            1200 + row * 37
        ));
        lines.push(format!(
            "2024-05-01T10:{:02}:{:02}Z INFO order {row} placed in 128 ms by host ip-10-0-{}-{} \
             (SELECT count(*) FROM Transaction WHERE appName = 'checkout' SINCE 1 hour ago)",
            row % 60,
            (row * 7) % 60,
            row % 8,
            row % 250
        ));
    }
    lines
}

fn clean_text() -> String {
    clean_lines().join("\n")
}

fn text_with_secrets() -> String {
    let mut lines = clean_lines();
    for (index, line) in lines.iter_mut().enumerate().filter(|(index, _)| index % 20 == 10) {
        *line = LEAKS[(index / 20) % LEAKS.len()].to_string();
    }
    lines.join("\n")
}

fn nrql_result() -> Value {
    let results: Vec<Value> = (0..ROWS)
        .map(|row| {
            json!({
                "appName": format!("checkout-service-{row:03}"),
                "average.duration": 0.125 + row as f64 / 1000.0,
                "count": 1200 + row * 37,
                "host": format!("ip-10-0-{}-{}", row % 8, row % 250),
                "entityGuid": format!("MTAwMDAwMXxBUE18QVBQTElDQVRJT058{row:06}"),
                "facet": format!("checkout-service-{row:03}"),
            })
        })
        .collect();
    json!({
        "account_id": 1_000_001,
        "nrql_query": "SELECT average(duration), count(*) FROM Transaction FACET appName, host SINCE 1 hour ago",
        "total": ROWS,
        "shown": ROWS,
        "results": results,
        "metadata": {
            "eventTypes": ["Transaction"],
            "facets": ["appName", "host"],
            "messages": [],
            "timeWindow": {"begin": 1_714_557_600_000_i64, "end": 1_714_561_200_000_i64},
        },
        "warnings": [],
    })
}

fn sanitizer(c: &mut Criterion) {
    let mut group = c.benchmark_group("sanitizer");

    let clean = clean_text();
    assert_eq!(sanitize(&clean), clean.as_str(), "the clean text must pass unchanged");
    group.throughput(Throughput::Bytes(clean.len() as u64));
    group.bench_function("clean_text", |b| b.iter(|| black_box(sanitize(black_box(&clean)))));

    let secrets = text_with_secrets();
    let cleaned = sanitize(&secrets);
    assert!(
        !cleaned.contains("NRAK-") && !cleaned.contains("/home/deploy") && !cleaned.contains("Bearer eyJ"),
        "the secrets must be removed"
    );
    group.throughput(Throughput::Bytes(secrets.len() as u64));
    group.bench_function("text_with_secrets", |b| b.iter(|| black_box(sanitize(black_box(&secrets)))));

    let result = nrql_result();
    let bytes = serde_json::to_vec(&result).expect("the NRQL result serializes").len();
    let mut checked = result.clone();
    sanitize_json(&mut checked);
    assert_eq!(checked, result, "a clean NRQL result must pass unchanged");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("json_nrql_result", |b| {
        b.iter_batched_ref(|| result.clone(), sanitize_json, BatchSize::SmallInput);
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = sanitizer
}
criterion_main!(benches);
