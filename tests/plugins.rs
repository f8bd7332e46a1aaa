//! Declarative plugins: manifest refusals, dependency order, reloads applied to a running
//! server, and, end to end over the real binary's stdio, the example plugins answering from
//! the sandbox, a manifest dropped into the watched directory becoming a tool, and the
//! `plugins check` / `plugins reload` commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mcp_process::{EXCHANGE_LIMIT, McpProcess, binary, structured_ok, text_of};
use newrelic_mcp::config::{self, Overrides};
use newrelic_mcp::plugins::{
    Assembly, DependencyError, FileOutcome, Reserved, dependency_order, load_dir, parse_manifest,
};
use newrelic_mcp::server::Server;
use newrelic_mcp_actors::tool::Plugin;
use newrelic_mcp_nrql::Policy;
use serde_json::{Value, json};
use tempfile::TempDir;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("plugins")
}

/// A manifest of one tool counting `event_type` rows, depending on `depends_on`.
fn manifest(name: &str, tool: &str, depends_on: &[&str]) -> String {
    let depends_on: Vec<String> = depends_on.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        "[plugin]\nname = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"{name} tools\"\n\
         depends_on = [{}]\n\n[[tools]]\nname = \"{tool}\"\ndescription = \"Counts log lines\"\n\
         nrql = \"SELECT count(*) FROM Log SINCE 30 minutes ago\"\n",
        depends_on.join(", ")
    )
}

fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in files {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    dir
}

fn load(dir: &Path) -> Assembly {
    let reserved = Reserved::of(&newrelic_mcp::tools::builtin_plugins());
    load_dir(dir, &Arc::new(Policy::default()), &reserved, 1_700_000_000_000).unwrap()
}

/// Each file's outcome as `file: ok` or `file: <problem>`.
fn outcomes(assembly: &Assembly) -> Vec<String> {
    assembly
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            FileOutcome::Loaded { file, .. } => format!("{file}: ok"),
            FileOutcome::Refused(problem) => problem.to_string(),
        })
        .collect()
}

fn order(assembly: &Assembly) -> Vec<&str> {
    assembly.plugins.iter().map(|plugin| plugin.name()).collect()
}

#[test]
fn manifest_errors_name_the_line_and_the_unknown_key() {
    let valid = std::fs::read_to_string(examples_dir().join("log-insights.toml")).unwrap();
    assert!(parse_manifest(&valid).is_ok());
    let cases = [
        // An unknown key at each level of the manifest.
        (
            valid.replace("version = \"1.0.0\"", "version = \"1.0.0\"\nlicence = \"MIT\""),
            7,
            "unknown field `licence`",
        ),
        (valid.replace("cache_ttl_seconds = 30", "cache_seconds = 30"), 18, "unknown field `cache_seconds`"),
        (valid.replace("type = \"enum\"", "kind = \"enum\""), 24, "unknown field `kind`"),
        // Types and shapes.
        (valid.replace("cache_ttl_seconds = 30", "cache_ttl_seconds = \"30\""), 18, "invalid type"),
        (valid.replace("type = \"enum\"", "type = \"choice\""), 24, "'choice', which is not one of"),
        (
            valid.replace("name = \"log_level_breakdown\"", "name = \"Log Levels\""),
            13,
            "tool name 'Log Levels'",
        ),
    ];
    for (text, line, needle) in cases {
        let error = parse_manifest(&text).unwrap_err();
        assert_eq!(error.line, Some(line), "{needle}: {error}");
        assert!(error.reason.contains(needle), "expected '{needle}' in: {error}");
    }
}

#[test]
fn the_examples_load_in_dependency_order() {
    let assembly = load(&examples_dir());
    assert_eq!(outcomes(&assembly), ["log-insights.toml: ok", "service-health.toml: ok"]);
    assert_eq!(order(&assembly), ["service-health", "log-insights"]);
    let tools: Vec<&str> = assembly.plugins.iter().flat_map(|p| p.tool_names()).map(String::as_str).collect();
    assert_eq!(tools, ["app_error_rate", "app_slowest_transactions", "log_level_breakdown"]);
}

#[test]
fn dependencies_order_plugins_and_refusals_name_them() {
    let ordered = dependency_order([
        ("app", vec!["logs", "base"]),
        ("logs", vec!["base"]),
        ("base", vec![]),
        ("orphan", vec!["ghost"]),
        ("ping", vec!["pong"]),
        ("pong", vec!["ping"]),
    ]);
    assert_eq!(ordered.order, ["base", "logs", "app"]);
    assert_eq!(
        ordered.refused,
        vec![
            DependencyError::Missing { plugin: "orphan".into(), dependency: "ghost".into() },
            DependencyError::Cycle {
                plugin: "ping".into(),
                cycle: vec!["ping".into(), "pong".into(), "ping".into()]
            },
            DependencyError::Cycle {
                plugin: "pong".into(),
                cycle: vec!["pong".into(), "ping".into(), "pong".into()]
            },
        ]
    );
}

#[test]
fn a_broken_manifest_a_cycle_or_a_missing_dependency_keeps_only_that_plugin_out() {
    let dir = dir_with(&[
        ("a-base.toml", &manifest("base", "base_count", &[])),
        ("b-logs.toml", &manifest("weblogs", "weblogs_count", &["base"])),
        (
            "c-broken.toml",
            "[plugin]\nname = \"broken\"\nversion = \"1.0.0\"\ndescription = \"x\"\ncolour = \"red\"\n",
        ),
        ("d-ping.toml", &manifest("ping", "ping_count", &["pong"])),
        ("e-pong.toml", &manifest("pong", "pong_count", &["ping"])),
        ("f-orphan.toml", &manifest("orphan", "orphan_count", &["ghost"])),
        ("g-child.toml", &manifest("child", "child_count", &["orphan"])),
        ("notes.txt", "not a manifest"),
        (".hidden.toml", "not loaded either"),
    ]);
    let assembly = load(dir.path());
    assert_eq!(
        outcomes(&assembly),
        [
            "a-base.toml: ok",
            "b-logs.toml: ok",
            "c-broken.toml:5: unknown field `colour`, expected one of `name`, `version`, `description`, `depends_on`",
            "d-ping.toml: plugin 'ping' is in a dependency cycle: ping -> pong -> ping",
            "e-pong.toml: plugin 'pong' is in a dependency cycle: pong -> ping -> pong",
            "f-orphan.toml: plugin 'orphan' depends on 'ghost', which is not loaded: no valid manifest in the directory names it",
            "g-child.toml: plugin 'child' depends on 'orphan', which did not load",
        ]
    );
    assert_eq!(order(&assembly), ["base", "weblogs"]);
}

#[test]
fn names_are_unique_across_files_and_built_ins() {
    let dir = dir_with(&[
        ("a.toml", &manifest("first", "shared_count", &[])),
        ("b.toml", &manifest("second", "shared_count", &[])),
        ("c.toml", &manifest("first", "other_count", &[])),
        ("d.toml", &manifest("fourth", "execute_nrql_query", &[])),
        ("e.toml", &manifest("data-access", "fifth_count", &[])),
    ]);
    assert_eq!(
        outcomes(&load(dir.path())),
        [
            "a.toml: ok",
            "b.toml: tool 'shared_count' is also offered by plugin 'first' (a.toml): tool names must be unique",
            "c.toml: plugin 'first' is already defined in a.toml: plugin names must be unique",
            "d.toml: tool 'execute_nrql_query' is a built-in tool (plugin 'data-access'): choose another name",
            "e.toml: plugin name 'data-access' is taken by a built-in plugin: choose another",
        ]
    );
}

fn sandbox_settings(plugin_dir: &Path) -> config::Settings {
    let overrides =
        Overrides { sandbox: true, plugin_dir: Some(plugin_dir.to_path_buf()), ..Default::default() };
    config::resolve(&overrides, &|_| None, None).unwrap()
}

fn tool_names(table: &Arc<newrelic_mcp_actors::tool::ToolTable>) -> Vec<String> {
    table.iter().map(|tool| tool.descriptor().name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_load_swap_keep_and_unload_plugins_in_a_running_server() {
    let dir = dir_with(&[("base.toml", &manifest("base", "base_count", &[]))]);
    let server = Server::start(&sandbox_settings(dir.path())).await.unwrap();
    let runtime = server.runtime.clone();
    assert!(tool_names(&runtime.tools().await).contains(&"base_count".to_string()));

    // A new version of a loaded plugin is swapped in with one tool-table change.
    std::fs::write(dir.path().join("base.toml"), manifest("base", "base_total", &[])).unwrap();
    let before = runtime.tools().await.generation;
    server.plugins().reload().await.unwrap();
    let table = runtime.tools().await;
    let names = tool_names(&table);
    assert!(
        names.contains(&"base_total".to_string()) && !names.contains(&"base_count".to_string()),
        "{names:?}"
    );
    assert_eq!(table.generation, before + 1, "a replacement is one change, not an unload and a load");

    // A manifest that breaks while loaded keeps its last good version.
    std::fs::write(dir.path().join("base.toml"), "[plugin]\nname = \"base\"\n").unwrap();
    let report = server.plugins().reload().await.unwrap();
    assert!(tool_names(&runtime.tools().await).contains(&"base_total".to_string()));
    assert!(report.problems.iter().any(|p| p.file == "base.toml"), "{report:?}");

    // A dependent loads after its dependency; removing the dependency unloads both.
    std::fs::write(dir.path().join("base.toml"), manifest("base", "base_total", &[])).unwrap();
    std::fs::write(dir.path().join("weblogs.toml"), manifest("weblogs", "weblogs_count", &["base"])).unwrap();
    server.plugins().reload().await.unwrap();
    let plugins: Vec<String> = runtime.tools().await.plugins().iter().map(|p| p.name.clone()).collect();
    assert!(plugins.ends_with(&["base".to_string(), "weblogs".to_string()]), "{plugins:?}");
    std::fs::remove_file(dir.path().join("base.toml")).unwrap();
    server.plugins().reload().await.unwrap();
    let names = tool_names(&runtime.tools().await);
    assert!(
        !names.contains(&"base_total".to_string()) && !names.contains(&"weblogs_count".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"execute_nrql_query".to_string()), "built-in tools stay: {names:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_plugin_directory_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let error = Server::start(&sandbox_settings(&missing)).await.err().expect("the start fails");
    assert!(error.to_string().contains("plugin directory"), "{error}");
}

fn copy_examples_to(dir: &Path) {
    for file in ["service-health.toml", "log-insights.toml"] {
        std::fs::copy(examples_dir().join(file), dir.join(file)).unwrap();
    }
}

/// Waits for a notification with `method`, keeping every message seen; panics past `limit`.
async fn await_notification(process: &mut McpProcess, method: &str, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    if process.notifications.iter().any(|n| n["method"] == method) {
        return;
    }
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = tokio::time::timeout(remaining, process.next_message())
            .await
            .unwrap_or_else(|_| panic!("no {method} within {limit:?}"))
            .expect("the server is running");
        if message["method"] == method {
            process.notifications.push(message);
            return;
        }
    }
}

async fn listed_tools(process: &mut McpProcess) -> Vec<String> {
    let listed = process.request("tools/list", json!({})).await;
    listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_example_plugins_answer_from_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples_to(dir.path());
    let plugin_dir = dir.path().to_str().unwrap();
    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "all", "--plugin-dir", plugin_dir]).await;

    let listed = process.request("tools/list", json!({})).await;
    let tools = listed["tools"].as_array().unwrap();
    let error_rate =
        tools.iter().find(|tool| tool["name"] == "app_error_rate").expect("app_error_rate is listed");
    assert_eq!(error_rate["title"], "Application error rate");
    let properties = error_rate["inputSchema"]["properties"].as_object().unwrap();
    assert!(properties.contains_key("app") && properties.contains_key("account_id"), "{error_rate}");
    assert_eq!(error_rate["annotations"]["readOnlyHint"], true);
    assert!(tools.iter().any(|tool| tool["name"] == "log_level_breakdown"));

    let answer = process.call_tool("app_error_rate", json!({})).await;
    let structured = structured_ok(&answer);
    assert!(
        structured["nrql_query"].as_str().unwrap().contains("appName = 'checkout-service'"),
        "{structured}"
    );
    assert!(!structured["results"].as_array().unwrap().is_empty(), "{structured}");

    let answer = process.call_tool("log_level_breakdown", json!({"level": "WARN", "since": "3 hours"})).await;
    let structured = structured_ok(&answer);
    let rows = structured["results"].as_array().unwrap();
    assert!(!rows.is_empty(), "{structured}");
    assert!(rows.iter().all(|row| row["service"].is_string()), "{structured}");

    // A value outside the enum is refused before anything is sent.
    let refused = process.call_tool("log_level_breakdown", json!({"level": "DEBUG"})).await;
    let refusal = refused.get("error").map(Value::to_string).unwrap_or_else(|| text_of(&refused));
    assert!(refusal.contains("level"), "{refused}");
    assert!(process.finish().await.success());
}

#[tokio::test]
async fn a_manifest_dropped_into_the_watched_directory_becomes_a_tool() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples_to(dir.path());
    // A broken manifest from the start keeps only itself out.
    std::fs::write(dir.path().join("broken.toml"), "[plugin]\nname = \"broken\"\nversion = 1\n").unwrap();
    let plugin_dir = dir.path().to_str().unwrap();
    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "all", "--plugin-dir", plugin_dir]).await;
    let before = listed_tools(&mut process).await;
    assert!(
        before.contains(&"app_error_rate".to_string()) && before.contains(&"log_level_breakdown".to_string())
    );

    // Written beside the directory and renamed in, as a deployment would, so the watcher
    // never sees half a file.
    let staged = tempfile::NamedTempFile::new_in(dir.path().parent().unwrap()).unwrap();
    std::fs::write(staged.path(), manifest("dropped", "dropped_log_count", &["log-insights"])).unwrap();
    staged.persist(dir.path().join("dropped.toml")).unwrap();
    await_notification(&mut process, "notifications/tools/list_changed", EXCHANGE_LIMIT).await;
    let after = listed_tools(&mut process).await;
    assert!(after.contains(&"dropped_log_count".to_string()), "{after:?}");
    let answer = process.call_tool("dropped_log_count", json!({})).await;
    assert!(structured_ok(&answer)["results"].is_array());

    // A broken file dropped in later keeps only itself out: the rescan that loads the next
    // good file reads it too.
    process.notifications.clear();
    std::fs::write(dir.path().join("also-broken.toml"), "[[tools]]\nname = 1\n").unwrap();
    std::fs::write(dir.path().join("second.toml"), manifest("second", "second_log_count", &[])).unwrap();
    await_notification(&mut process, "notifications/tools/list_changed", EXCHANGE_LIMIT).await;
    let mut expected = after.clone();
    expected.push("second_log_count".to_string());
    expected.sort();
    let mut now = listed_tools(&mut process).await;
    now.sort();
    assert_eq!(now, expected);
    let answer = process.call_tool("app_error_rate", json!({"app": "payments-api"})).await;
    assert!(structured_ok(&answer)["nrql_query"].as_str().unwrap().contains("payments-api"));
    assert!(process.finish().await.success());
}

/// Sends one JSON-RPC request line and reads lines until its response.
async fn exchange(
    stdin: &mut tokio::process::ChildStdin,
    stdout: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    id: i64,
    method: &str,
    params: Value,
) -> Value {
    use tokio::io::AsyncWriteExt;
    let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
    stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    loop {
        let line = tokio::time::timeout(EXCHANGE_LIMIT, stdout.next_line()).await.unwrap().unwrap().unwrap();
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["id"] == id {
            return message;
        }
    }
}

#[tokio::test]
async fn plugins_reload_signals_the_server_which_keeps_serving() {
    use std::process::Stdio;
    use tokio::io::AsyncBufReadExt;

    let dir = tempfile::tempdir().unwrap();
    copy_examples_to(dir.path());
    let mut server = binary()
        .arg("serve")
        .arg("--sandbox")
        .args(["--enabled-categories", "all"])
        .arg("--plugin-dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = server.id().expect("the server runs").to_string();
    let mut stdin = server.stdin.take().unwrap();
    let mut stdout = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let hello = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}});
    // An answer means the server has started, SIGHUP handler included.
    let initialized = exchange(&mut stdin, &mut stdout, 1, "initialize", hello).await;
    assert_eq!(initialized["result"]["serverInfo"]["name"], "newrelic-mcp");

    let output = binary().args(["plugins", "reload", "--pid", &pid]).output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed = exchange(&mut stdin, &mut stdout, 2, "tools/list", json!({})).await;
    assert!(
        listed["result"]["tools"].as_array().unwrap().iter().any(|tool| tool["name"] == "app_error_rate")
    );
    // The signal did not end the server: it exits cleanly once its client leaves.
    drop(stdin);
    let status = tokio::time::timeout(EXCHANGE_LIMIT, server.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");

    let output = binary().args(["plugins", "reload", "--pid", "0"]).output().await.unwrap();
    assert!(!output.status.success());
}

#[tokio::test]
async fn plugins_check_passes_the_examples_and_fails_a_broken_directory() {
    let output = binary().arg("plugins").arg("check").arg(examples_dir()).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "ok log-insights.toml: plugin 'log-insights' 1.0.0 (after service-health), tools: log_level_breakdown",
            "ok service-health.toml: plugin 'service-health' 1.0.0, tools: app_error_rate, app_slowest_transactions",
        ]
    );

    let dir = dir_with(&[
        ("good.toml", &manifest("good", "good_count", &[])),
        ("typo.toml", &manifest("typo", "typo_count", &[]).replace("nrql =", "nqrl =")),
    ]);
    let output = binary().arg("plugins").arg("check").arg(dir.path()).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("ok good.toml"), "{stdout}");
    assert!(lines[1].starts_with("error typo.toml:10: unknown field `nqrl`"), "{stdout}");

    let output = binary().args(["plugins", "check", "/nonexistent-plugin-dir"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(2));
}
