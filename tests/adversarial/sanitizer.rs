//! See the module's doc in `tests/adversarial.rs`.
//!
//! Two kinds of text leave the server. Its own text (errors, logs, protocol messages) loses
//! credentials, its own paths, source locations and backtraces. Upstream data (rows, entity
//! names, log messages, process names, URIs, hosts) loses credentials only: everything else
//! in it is the customer's telemetry and comes back byte for byte.

use std::sync::Arc;

use newrelic_mcp::sanitize::{sanitize, sanitize_output, sanitize_upstream};
use newrelic_mcp_actors::tool::ToolOutput;
use serde_json::{Value, json};

const USER_KEY: &str = "NRAK-7JQ2ZC4XW8KD1M5TB9VH3NP6LRA";

/// Telemetry values that look like paths, source locations or announced secrets but are data.
fn telemetry() -> Vec<(&'static str, &'static str)> {
    vec![
        ("docker volume", "/var/lib/docker/volumes/pgdata/_data"),
        ("docker volume in prose", "disk full on /var/lib/docker (98%)"),
        ("process name", "/usr/sbin/nginx"),
        ("process command line", "/usr/sbin/nginx -g daemon off;"),
        ("request URI", "/home/index"),
        ("request URI with a query", "/home/index?page=2"),
        ("host on the .rs domain with a port", "shop.example.rs:8443"),
        ("URL on the .rs domain", "https://api.example.rs:443/v1/orders"),
        ("a word ending in 'key' before hex", "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b"),
        ("cache key", "cache key 123e4567-e89b-12d3-a456-426614174000 evicted"),
        ("commit signature", "commit signature 3f9a2c7d1e8b4a6f0c5d9e2b7a1f4c8d3e6b9a20 verified"),
        ("Windows service path", r"C:\Program Files\nginx\nginx.exe exited"),
        ("a customer's own panic", "thread 'main' panicked at src/main.rs:12:5: index out of bounds"),
        ("a customer's home directory", "/home/app/releases/42/bin/server"),
        ("a customer's temp file", "upload spilled to /tmp/upload-8841.bin"),
    ]
}

fn output_of(values: &[&str]) -> Arc<ToolOutput> {
    let rows: Vec<Value> = values.iter().map(|value| json!({"message": value, "count": 1})).collect();
    let text = values.iter().map(|value| format!("| {value} | 1 |")).collect::<Vec<_>>().join("\n");
    Arc::new(ToolOutput { structured: json!({"results": rows}), text })
}

#[test]
fn telemetry_that_looks_like_a_path_or_a_secret_survives_a_tool_answer_unchanged() {
    for (what, value) in telemetry() {
        assert_eq!(sanitize_upstream(value), value, "{what}");
        let output = output_of(&[value]);
        let served = sanitize_output(&output);
        assert_eq!(served.structured, output.structured, "{what}");
        assert_eq!(served.text, output.text, "{what}");
        assert!(Arc::ptr_eq(&served, &output), "{what}: an unchanged answer is not copied");
    }
}

#[test]
fn credentials_in_upstream_data_are_still_removed() {
    let cases = [
        ("user key in a log message", format!("login with {USER_KEY}"), USER_KEY.to_owned()),
        (
            "lowercase user key in a URL host",
            "GET https://nrak-7jq2zc4xw8kd1m5tb9vh3np6lra.example.com/".to_owned(),
            "nrak-7jq2zc4xw8kd1m5tb9vh3np6lra".to_owned(),
        ),
        (
            "insert key in mixed case",
            "sent with Nrii-x9Yb2Kc3Ld4Me5Nf6Og7Ph8Qi9Rj0Sk1".to_owned(),
            "x9Yb2Kc3Ld4Me5Nf6Og7Ph8Qi9Rj0Sk1".to_owned(),
        ),
        (
            "bearer token in a log message",
            "retrying with Authorization: Bearer 4f8c2a9e1b7d3f6a0c5e8b2d9f1a4c7e".to_owned(),
            "4f8c2a9e1b7d3f6a0c5e8b2d9f1a4c7e".to_owned(),
        ),
        (
            "password pair in a log message",
            "db connect password=hunter2x9 failed".to_owned(),
            "hunter2x9".to_owned(),
        ),
        (
            "credentials in a URL",
            "proxy https://svc:Sup3rS3cret@proxy.internal:8443".to_owned(),
            "Sup3rS3cret".to_owned(),
        ),
    ];
    for (what, value, secret) in cases {
        let output = output_of(&[value.as_str()]);
        let served = sanitize_output(&output);
        assert!(!served.text.contains(&secret), "{what}: {}", served.text);
        assert!(!served.structured.to_string().contains(&secret), "{what}: {}", served.structured);
        assert!(!sanitize(&value).contains(&secret), "{what}: server text");
    }
}

#[test]
fn the_servers_own_text_keeps_the_full_treatment_with_word_boundaries() {
    let cases = [
        ("announced key", "signing key 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b", "signing key [redacted]"),
        (
            "no word boundary",
            "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",
            "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",
        ),
        (
            "lowercase key format",
            "key nrak-7jq2zc4xw8kd1m5tb9vh3np6lra refused",
            "key [redacted key] refused",
        ),
        (
            "Windows path with spaces, whole",
            r"cannot open C:\Program Files\newrelic mcp\config.toml (denied)",
            "cannot open [path] (denied)",
        ),
        ("source location", "internal error at src/nerdgraph/client.rs:214:17", "internal error at [path]"),
        (
            "registry source location",
            "at /root/.cargo/registry/src/index.crates.io-1/tokio-1.0.0/src/rt.rs:12:5",
            "at [path]",
        ),
        (
            "a host on the .rs domain is not a source location",
            "cannot reach shop.example.rs:8443",
            "cannot reach shop.example.rs:8443",
        ),
    ];
    for (what, text, expected) in cases {
        assert_eq!(sanitize(text), expected, "{what}");
    }
}

#[test]
fn the_servers_own_build_and_install_paths_are_removed_from_its_text() {
    let build = format!("failed to read {}/examples/newrelic-mcp.toml (denied)", env!("CARGO_MANIFEST_DIR"));
    assert_eq!(sanitize(&build), "failed to read [path] (denied)");
    let executable = std::env::current_exe().unwrap();
    let install = executable.parent().unwrap().display().to_string();
    let text = format!("plugin manifest {install}/plugins/x.toml is invalid");
    assert_eq!(sanitize(&text), "plugin manifest [path] is invalid");
    // The same paths inside upstream data are the customer's business.
    assert_eq!(sanitize_upstream("/var/lib/docker"), "/var/lib/docker");
}
