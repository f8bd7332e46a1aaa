//! End to end: the infrastructure tools through the real binary on the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;

async fn answered(process: &mut McpProcess, tool: &str, arguments: Value) -> Value {
    let response = process.call_tool(tool, arguments.clone()).await;
    let structured = structured_ok(&response).clone();
    assert!(!text_of(&response).trim().is_empty(), "{tool} {arguments}: empty text");
    structured
}

fn list<'a>(structured: &'a Value, key: &str) -> &'a Vec<Value> {
    let items = structured[key].as_array().unwrap_or_else(|| panic!("no {key}: {structured}"));
    assert!(!items.is_empty(), "empty {key}: {structured}");
    items
}

fn percent(value: &Value) -> f64 {
    let number = value.as_f64().unwrap_or_else(|| panic!("expected a number, got {value}"));
    assert!((0.0..=100.0).contains(&number), "not a percentage: {number}");
    number
}

#[tokio::test]
async fn every_infrastructure_tool_answers_with_plausible_data() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "all"]).await;

    let hosts = answered(&mut process, "list_hosts", json!({})).await;
    let hosts = list(&hosts, "hosts");
    for host in hosts {
        percent(&host["cpu_pct"]);
        percent(&host["memory_pct"]);
    }
    let hostname = hosts[0]["hostname"].as_str().unwrap().to_string();

    let metrics =
        answered(&mut process, "get_host_metrics", json!({"hostname": hostname, "timeseries": true})).await;
    assert!(
        percent(&metrics["summary"]["cpu_max_pct"]) >= percent(&metrics["summary"]["cpu_avg_pct"]),
        "{metrics}"
    );
    list(&metrics, "timeseries");

    let processes = answered(&mut process, "get_process_metrics", json!({"hostname": hostname})).await;
    assert!(list(&processes, "processes").iter().all(|p| p["hostname"] == hostname.as_str()), "{processes}");
    let by_memory =
        answered(&mut process, "get_process_metrics", json!({"sort_by": "memory", "limit": 5})).await;
    let rss: Vec<f64> =
        list(&by_memory, "processes").iter().map(|p| p["memory_rss_bytes"].as_f64().unwrap()).collect();
    assert!(rss.windows(2).all(|pair| pair[0] >= pair[1]), "largest first: {rss:?}");

    let disks = answered(&mut process, "get_disk_usage", json!({})).await;
    let used: Vec<f64> = list(&disks, "volumes").iter().map(|v| percent(&v["used_pct"])).collect();
    assert!(used.windows(2).all(|pair| pair[0] >= pair[1]), "fullest first: {used:?}");

    let containers = answered(&mut process, "get_container_metrics", json!({})).await;
    let containers = list(&containers, "containers");
    assert!(
        containers.iter().all(|c| c["container"].is_string() && c["hostname"].is_string()),
        "{containers:?}"
    );
    // Every host runs its own fluent-bit: same-named containers on different hosts stay apart.
    let fluent_bit_hosts: Vec<&str> = containers
        .iter()
        .filter(|c| c["container"] == "fluent-bit")
        .filter_map(|c| c["hostname"].as_str())
        .collect();
    assert!(fluent_bit_hosts.len() > 1, "one fluent-bit per host expected: {containers:?}");

    let pods = answered(&mut process, "get_kubernetes_metrics", json!({"cluster_name": "acme-prod"})).await;
    assert!(list(&pods, "pods").iter().all(|p| p["cluster"] == "acme-prod"), "{pods}");
    let nodes = answered(&mut process, "get_kubernetes_metrics", json!({"view": "nodes"})).await;
    list(&nodes, "nodes");
    let k8s_containers =
        answered(&mut process, "get_kubernetes_metrics", json!({"view": "containers"})).await;
    list(&k8s_containers, "containers");

    process.finish().await;
}

#[tokio::test]
async fn bad_arguments_are_invalid_params() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "all"]).await;
    for (tool, arguments) in [
        ("list_hosts", json!({"limit": 0})),
        ("get_host_metrics", json!({})),
        ("get_process_metrics", json!({"sort_by": "disk"})),
        ("get_disk_usage", json!({"min_used_percent": 150})),
        ("get_kubernetes_metrics", json!({"view": "nodes", "namespace": "kube-system"})),
        ("get_container_metrics", json!({"host": "typo"})),
    ] {
        let response = process.call_tool(tool, arguments.clone()).await;
        assert_eq!(response["error"]["code"], INVALID_PARAMS, "{tool} {arguments} → {response}");
    }
    let unknown = process.call_tool("get_host_metrics", json!({"hostname": "no-such-host"})).await;
    assert_eq!(unknown["result"]["isError"], true, "{unknown}");
    assert!(text_of(&unknown).contains("list_hosts"), "{unknown}");
    process.finish().await;
}
