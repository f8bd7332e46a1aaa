//! `newrelic-mcp loadtest` end to end: the real binary drives its own sandbox server (or
//! any command line) and prints a report; failures to start are clear and exit non-zero.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use mcp_process::binary;
use serde_json::Value;

/// A run of 200 calls takes well under a second; this only stops a hang from stalling CI.
const RUN_LIMIT: Duration = Duration::from_secs(120);

async fn loadtest(args: &[&str]) -> Output {
    let mut command = binary();
    command.arg("loadtest").args(args).stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(RUN_LIMIT, command.output())
        .await
        .expect("loadtest finished in time")
        .expect("the binary runs")
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios").join(name).display().to_string()
}

fn report_of(output: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "loadtest failed ({}): {stderr}", output.status);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("stdout is not a JSON report ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

fn assert_sane(report: &Value, calls: u64) {
    assert_eq!(report["calls"], calls, "{report:#}");
    assert_eq!(report["successes"], calls, "{report:#}");
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["errors_by_class"], serde_json::json!({}), "{report:#}");
    assert!(report["calls_per_second"].as_f64().unwrap() > 0.0, "{report:#}");
    let latency = &report["latency_us"];
    let at = |name: &str| latency[name].as_u64().unwrap_or_else(|| panic!("no {name} in {latency}"));
    let ordered = [at("p50"), at("p90"), at("p99"), at("p99_9"), at("max")];
    assert!(ordered[0] > 0, "{latency}");
    assert!(ordered.windows(2).all(|pair| pair[0] <= pair[1]), "percentiles out of order: {latency}");
    let per_tool: u64 =
        report["tools"].as_object().unwrap().values().map(|t| t["calls"].as_u64().unwrap()).sum();
    assert_eq!(per_tool, calls, "{report:#}");
}

#[tokio::test]
async fn the_cached_scenario_is_answered_by_the_cache() {
    let cached = scenario("cached-nrql.toml");
    let output = loadtest(&[
        "--calls",
        "200",
        "--concurrency",
        "8",
        "--warmup",
        "0s",
        "--json",
        "--scenario",
        &cached,
    ])
    .await;
    let report = report_of(&output);
    assert_sane(&report, 200);
    assert_eq!(report["scenario"], "cached-nrql");
    assert_eq!(report["target"], "newrelic-mcp serve --sandbox");
    assert_eq!(report["server"], format!("newrelic-mcp {}", env!("CARGO_PKG_VERSION")));
    let server = &report["server_counters"];
    assert!(server["cache_hit_ratio"].as_f64().unwrap() > 0.0, "{server}");
    assert!(server["upstream_calls"].as_u64().unwrap() < 200, "{server}");
    assert!(
        server["upstream_calls"].as_u64().unwrap() >= 1,
        "the first call must reach the sandbox: {server}"
    );
    let lookups =
        ["cache_hits", "cache_misses", "coalesced"].iter().map(|k| server[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(lookups, 200, "every call is one cache lookup: {server}");
}

#[tokio::test]
async fn any_command_line_can_be_the_target() {
    let program = env!("CARGO_BIN_EXE_newrelic-mcp");
    let target = shell_words::join([program, "serve", "--sandbox"]);
    let output = loadtest(&[
        "--calls",
        "200",
        "--concurrency",
        "8",
        "--warmup",
        "200ms",
        "--json",
        "--seed",
        "7",
        "--target-cmd",
        &target,
    ])
    .await;
    let report = report_of(&output);
    assert_sane(&report, 200);
    assert_eq!(report["target"], target.as_str());
    assert_eq!(report["scenario"], "default");
    assert!(
        report["tools"].as_object().unwrap().len() >= 4,
        "the default mix calls several tools: {report:#}"
    );
    // The target is newrelic-mcp, so its own counters are read and some calls reached the sandbox.
    assert!(report["server_counters"]["upstream_calls"].as_u64().unwrap() > 0, "{report:#}");
}

#[tokio::test]
async fn the_table_report_names_the_figures() {
    let cached = scenario("cached-nrql.toml");
    let output =
        loadtest(&["--calls", "50", "--concurrency", "4", "--warmup", "0s", "--scenario", &cached]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    for expected in
        ["calls       50", "succeeded   50    failed 0", "latency     p50 ", "p99.9 ", "cache hit ratio"]
    {
        assert!(table.contains(expected), "missing {expected:?} in\n{table}");
    }
}

#[tokio::test]
async fn bad_scenarios_are_refused_with_the_file_and_entry() {
    let dir = std::env::temp_dir().join(format!("newrelic-mcp-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "zero-weight.toml",
            "[[call]]\ntool = \"execute_nrql_query\"\nweight = 0\n",
            2,
            "scenario zero-weight.toml: entry 1 (execute_nrql_query): `weight` must be between 1",
        ),
        ("typo.toml", "[[call]]\ntool = \"get_entity\"\nargs = {}\n", 2, "unknown field `args`"),
        (
            "unknown-tool.toml",
            "[[call]]\nname = \"lookups\"\ntool = \"get_entities\"\n",
            2,
            "entry 1 (lookups): the target offers no tool 'get_entities' (it offers: ",
        ),
    ];
    for (file, text, code, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let output =
            loadtest(&["--calls", "5", "--warmup", "0s", "--scenario", path.to_str().unwrap()]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{file}: {stderr}");
        assert!(stderr.contains(expected), "{file}: expected {expected:?} in {stderr}");
        assert!(output.stdout.is_empty(), "{file}: no report on failure");
    }
    let missing = dir.join("missing.toml");
    let output = loadtest(&["--calls", "5", "--scenario", missing.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("scenario missing.toml: cannot be read"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn targets_that_cannot_serve_are_reported_clearly() {
    let cases = [
        (
            "newrelic-mcp-no-such-server --flag",
            "cannot start the target `newrelic-mcp-no-such-server --flag`",
        ),
        // A program that runs but does not speak MCP: its stdout closes at once.
        ("true", "the target `true` did not complete the MCP handshake"),
    ];
    for (target, expected) in cases {
        let output = loadtest(&["--calls", "5", "--warmup", "0s", "--target-cmd", target]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{target}: {stderr}");
        assert!(stderr.contains(expected), "{target}: expected {expected:?} in {stderr}");
    }
    let output = loadtest(&["--calls", "5", "--warmup", "0s", "--server-arg=--no-such-flag"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not complete the MCP handshake"), "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "the target's own complaint is shown: {stderr}");
}
