//! See the module's doc in `tests/adversarial.rs`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;

use super::mcp_process::{McpProcess, binary, structured_ok};

/// Longest a refused start-up may take.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A User key in its usual form; nothing may echo it.
const KEY: &str = "NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ0";

/// What a run of the binary that ends on its own left behind.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` (stdin closed at once) and collects its exit code and output.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = binary();
    command.args(args).envs(env.iter().copied()).stdin(Stdio::null());
    let output = tokio::time::timeout(START_LIMIT, command.output())
        .await
        .expect("the binary ends in time")
        .expect("the binary runs");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts that `serve` refused to start with exit code 2 and a message holding every needle.
fn assert_refused(finished: &Finished, needles: &[&str]) {
    assert_eq!(finished.code, Some(2), "exit code; stderr: {}", finished.stderr);
    for needle in needles {
        assert!(finished.stderr.contains(needle), "expected '{needle}' in: {}", finished.stderr);
    }
}

async fn tool_names(process: &mut McpProcess) -> Vec<String> {
    let listed = process.request("tools/list", json!({})).await;
    listed["tools"]
        .as_array()
        .expect("a tool list")
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(String::from))
        .collect()
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

#[tokio::test]
async fn a_disabled_tools_list_with_spaces_removes_every_tool_it_names() {
    let (mut process, _) = McpProcess::initialized(&[
        "--enabled-categories",
        "all",
        "--disabled-tools",
        "execute_nrql_query, query_nerdgraph",
    ])
    .await;
    let names = tool_names(&mut process).await;
    assert!(names.iter().any(|name| name == "get_server_status"), "{names:?}");
    for removed in ["execute_nrql_query", "query_nerdgraph"] {
        assert!(!names.iter().any(|name| name == removed), "{removed} is still offered: {names:?}");
    }
    process.finish().await;
}

#[tokio::test]
async fn a_file_list_is_trimmed_like_a_flag_list() {
    let file = config_file("enabled_categories = [\" all \"]\ndisabled_tools = [\" query_nerdgraph \"]\n");
    let path = file.path().to_str().unwrap();
    let (mut process, _) = McpProcess::initialized(&["--config", path]).await;
    let names = tool_names(&mut process).await;
    assert!(names.iter().any(|name| name == "execute_nrql_query"), "{names:?}");
    assert!(!names.iter().any(|name| name == "query_nerdgraph"), "{names:?}");
    process.finish().await;
}

/// Flags, environment and what the refusal must say.
type RefusalCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[tokio::test]
async fn unknown_or_miscased_tool_and_category_names_refuse_start_up() {
    let file = config_file("disabled_tools = [\"Query_NerdGraph\"]\n");
    let path = file.path().to_str().unwrap();
    let cases: Vec<RefusalCase> = vec![
        (vec!["--enabled-categories", "bogus"], vec![], vec!["bogus", "data-access", "all"]),
        (
            vec!["--disabled-tools", "execute_nrql_qeury"],
            vec![],
            vec!["execute_nrql_qeury", "execute_nrql_query"],
        ),
        (vec!["--enabled-tools", "get_server_status,nope"], vec![], vec!["nope", "get_server_status"]),
        (vec![], vec![("NEW_RELIC_MCP_DISABLED_TOOLS", "query_nerdgraph, typo")], vec!["typo"]),
        (vec![], vec![("NEW_RELIC_MCP_ENABLED_CATEGORIES", "Logs")], vec!["Logs", "logs"]),
        (vec!["--config", path], vec![], vec!["Query_NerdGraph", "query_nerdgraph"]),
    ];
    for (flags, env, needles) in cases {
        let mut args = vec!["serve", "--sandbox"];
        args.extend(flags.iter().copied());
        let finished = run(&args, &env).await;
        assert_refused(&finished, &needles);
    }
}

#[tokio::test]
async fn out_of_range_settings_refuse_start_up_naming_the_range() {
    let huge_breaker = config_file("[runtime]\nbreaker_open_seconds = 18446744073709551615\n");
    let huge_cache = config_file("[runtime]\ncache_capacity_mb = 18446744073709551615\n");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--cache-shards", "1000000"], vec!["cache_shards", "--cache-shards", "1000000", "from 1 to "]),
        (vec!["--executor-workers", "100000"], vec!["executor_workers", "100000", "from 1 to "]),
        (vec!["--executor-queue", "0"], vec!["executor_queue", "from 1 to "]),
        (
            vec!["--config", huge_breaker.path().to_str().unwrap()],
            vec!["breaker_open_seconds", "from 1 to 3600"],
        ),
        (vec!["--config", huge_cache.path().to_str().unwrap()], vec!["cache_capacity_mb", "from 1 to "]),
        (vec!["--sandbox-latency-ms", "99999999"], vec!["latency_ms", "from 0 to "]),
    ];
    for (flags, needles) in cases {
        let mut args = vec!["serve", "--sandbox"];
        args.extend(flags.iter().copied());
        let finished = run(&args, &[]).await;
        assert_refused(&finished, &needles);
    }
}

/// Reads stderr until a line holds `needle`, returning everything read so far.
async fn stderr_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    needle: &str,
) -> String {
    let mut seen = String::new();
    let waited = tokio::time::timeout(START_LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(needle) {
                return;
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "no '{needle}' on stderr within {START_LIMIT:?}: {seen}");
    seen
}

#[tokio::test]
async fn a_panic_is_one_sanitized_line_with_an_error_id_and_no_backtrace() {
    let mut command = binary();
    command
        .args(["serve", "--sandbox", "--chaos-interval-ms", "20"])
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = stderr_until(&mut lines, "panic").await;
    // Let a few more crashes happen, then end the process and take the rest of its stderr.
    seen.push_str(&stderr_until(&mut lines, "panic").await);
    drop(child.stdin.take());
    let mut rest = String::new();
    let _ = tokio::time::timeout(START_LIMIT, lines.get_mut().read_to_string(&mut rest)).await;
    seen.push_str(&rest);
    let _ = child.wait().await;

    for leak in ["/rustc/", ".cargo/registry", "stack backtrace", "panicked at", "RUST_BACKTRACE", ".rs:"] {
        assert!(!seen.contains(leak), "stderr shows '{leak}': {seen}");
    }
    let error_id = regex::Regex::new(r"E-[0-9A-F]{8}").unwrap();
    // The hook's own line; the supervisor's restart log may mention the panic too.
    let panic_lines: Vec<&str> = seen.lines().filter(|line| line.contains("a component panicked")).collect();
    assert!(!panic_lines.is_empty(), "{seen}");
    for line in panic_lines {
        assert!(error_id.is_match(line), "a panic line without an error id: {line}");
        assert!(line.contains("crashed on purpose"), "the panic's own message is kept: {line}");
    }
}

/// A proxy that records every connection and answers none.
async fn recording_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let contacted = Arc::new(AtomicUsize::new(0));
    let counter = contacted.clone();
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(connection);
        }
    });
    (address, contacted)
}

#[tokio::test]
async fn loopback_endpoints_are_never_sent_through_a_proxy() {
    let (proxy, contacted) = recording_proxy().await;
    let mut command = binary();
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        command.env(name, &proxy);
    }
    command.env_remove("NO_PROXY").env_remove("no_proxy");
    command.args(["serve", "--sandbox"]);
    let mut process = McpProcess::spawn(command).await;
    process
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
        )
        .await;
    process.notify("notifications/initialized", json!({})).await;
    let answer = process
        .call_tool(
            "execute_nrql_query",
            json!({"nrql_query": "SELECT count(*) FROM Transaction SINCE 1 hour ago"}),
        )
        .await;
    let structured: &Value = structured_ok(&answer);
    assert!(!structured.is_null(), "{answer}");
    assert_eq!(contacted.load(Ordering::SeqCst), 0, "the proxy was contacted");
    process.finish().await;
}

#[tokio::test]
async fn a_key_in_the_wrong_place_is_never_echoed() {
    let lowered = KEY.to_ascii_lowercase();
    let assert_hidden = |finished: &Finished, what: &str| {
        let everything = format!("{}{}", finished.stdout, finished.stderr);
        assert!(!everything.contains(KEY), "{what} echoed the key: {everything}");
        assert!(
            !everything.to_ascii_lowercase().contains(&lowered),
            "{what} echoed the key lowercased: {everything}"
        );
    };

    let url = format!("https://{KEY}/graphql");
    let in_url = run(&["serve"], &[("NEW_RELIC_API_KEY", KEY), ("NEW_RELIC_NERDGRAPH_URL", &url)]).await;
    assert_refused(&in_url, &["NEW_RELIC_NERDGRAPH_URL"]);
    assert_hidden(&in_url, "the endpoint error");

    let as_account = run(&["serve", "--sandbox", "--account-id", KEY], &[]).await;
    assert_refused(&as_account, &["--account-id"]);
    assert_hidden(&as_account, "the argument error");

    let as_region = run(&["serve", "--region", KEY], &[("NEW_RELIC_API_KEY", "NRAK-OTHER")]).await;
    assert_eq!(as_region.code, Some(2), "{}", as_region.stderr);
    assert_hidden(&as_region, "the region error");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{KEY}.toml")), "not a manifest").unwrap();
    std::fs::write(
        dir.path().join("keyed.toml"),
        format!("[plugin]\nname = \"{KEY}\"\nversion = \"1.0.0\"\ndescription = \"d\"\n"),
    )
    .unwrap();
    let checked = run(&["plugins", "check", dir.path().to_str().unwrap()], &[]).await;
    assert_eq!(checked.code, Some(1), "{}{}", checked.stdout, checked.stderr);
    assert_hidden(&checked, "plugins check");
}
