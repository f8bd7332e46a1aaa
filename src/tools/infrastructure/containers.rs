//! Containers and Kubernetes: `get_container_metrics` and `get_kubernetes_metrics`.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{CATEGORY, HOT_PCT};
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args;
use crate::tools::nrql_tool::values::{
    bytes, facets, fixed, fixed_or_na, flag_at, number_at, share, text_at,
};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const DEFAULT_SINCE: &str = "30 minutes";
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// Which Kubernetes objects to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KubernetesView {
    /// Pods: status, readiness and restarts (K8sPodSample).
    Pods,
    /// Nodes: CPU and memory against allocatable, readiness (K8sNodeSample).
    Nodes,
    /// Containers: CPU and memory against limits, restarts (K8sContainerSample).
    Containers,
}

impl KubernetesView {
    fn shape(self) -> &'static str {
        match self {
            Self::Pods => "pods",
            Self::Nodes => "nodes",
            Self::Containers => "k8s_containers",
        }
    }
}

pub(super) fn shapes() -> Vec<Shape> {
    let cluster = || Condition::one("cluster", "clusterName = {{cluster}}", ParamType::String);
    let namespace = || Condition::one("namespace", "namespaceName = {{namespace}}", ParamType::String);
    let window = || vec![args::since_param(DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)];
    vec![
        Shape::new(
            "containers",
            "SELECT max(restartCount) AS 'restarts', latest(cpuPercent) AS 'cpu_pct', max(cpuPercent) AS \
             'cpu_max_pct', latest(memoryUsageBytes) AS 'memory_bytes', latest(memoryLimitBytes) AS \
             'memory_limit_bytes', latest(state) AS 'state', latest(imageName) AS 'image' FROM ContainerSample {where} \
             FACET containerName, hostname SINCE {{since}} ago LIMIT {{limit}}",
            window(),
        )
        .with_conditions(vec![
            Condition::one("host", "hostname = {{host}}", ParamType::String),
            Condition::one("name", "containerName LIKE {{name}}", ParamType::String),
        ]),
        Shape::new(
            "pods",
            "SELECT max(restartCount) AS 'restarts', latest(status) AS 'status', latest(isReady) AS 'ready', \
             latest(nodeName) AS 'node' FROM K8sPodSample {where} FACET clusterName, namespaceName, podName \
             SINCE {{since}} ago LIMIT {{limit}}",
            window(),
        )
        .with_conditions(vec![cluster(), namespace()]),
        Shape::new(
            "nodes",
            "SELECT latest(cpuUsedCores) AS 'cpu_used_cores', latest(allocatableCpuCores) AS \
             'cpu_allocatable_cores', latest(memoryWorkingSetBytes) AS 'memory_working_set_bytes', \
             latest(allocatableMemoryBytes) AS 'memory_allocatable_bytes', latest(condition.Ready) AS 'ready' \
             FROM K8sNodeSample {where} FACET clusterName, nodeName SINCE {{since}} ago LIMIT {{limit}}",
            window(),
        )
        .with_conditions(vec![cluster()]),
        Shape::new(
            "k8s_containers",
            "SELECT max(restartCount) AS 'restarts', latest(cpuUsedCores) AS 'cpu_used_cores', \
             latest(cpuLimitCores) AS 'cpu_limit_cores', latest(memoryWorkingSetBytes) AS \
             'memory_working_set_bytes', latest(memoryLimitBytes) AS 'memory_limit_bytes', latest(status) AS \
             'status' FROM K8sContainerSample {where} FACET clusterName, namespaceName, podName, containerName \
             SINCE {{since}} ago LIMIT {{limit}}",
            window(),
        )
        .with_conditions(vec![cluster(), namespace()]),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    let shapes = shapes();
    let pick =
        |names: &[&str]| shapes.iter().filter(|s| names.contains(&s.name)).cloned().collect::<Vec<_>>();
    vec![
        nrql_tool(
            Spec {
                name: "get_container_metrics",
                title: "Get container metrics",
                description: "Containers (Docker and others) most restarted first: restarts, state, CPU now \
                    and peak, memory against its limit, image and host; unhealthy ones flagged. Optionally one \
                    host, or names containing a text.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(30)),
            },
            pick(&["containers"]),
            policy,
            choose_containers,
            render_containers,
        ),
        nrql_tool(
            Spec {
                name: "get_kubernetes_metrics",
                title: "Get Kubernetes metrics",
                description: "Kubernetes health per cluster and namespace: pods (default) with status, \
                    readiness and restarts; nodes with CPU and memory against allocatable and readiness; or \
                    containers with CPU and memory against limits and restarts. Problems are listed first.",
                category: CATEGORY,
                hints: ToolHints::READ,
                cache_ttl: Some(Duration::from_secs(30)),
            },
            pick(&["pods", "nodes", "k8s_containers"]),
            policy,
            choose_kubernetes,
            render_kubernetes,
        ),
    ]
}

// --- get_container_metrics -----------------------------------------------------------

/// Arguments of `get_container_metrics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetContainerMetricsArgs {
    /// Only containers on this host, e.g. `ip-10-0-1-12`.
    pub hostname: Option<String>,
    /// Only containers whose name contains this text, e.g. `checkout`.
    pub container_name: Option<String>,
    /// How far back to look, e.g. `10 minutes`, `6 hours` (default `30 minutes`).
    pub since: Option<String>,
    /// Most containers to return, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ContainerContext {
    scope: String,
    window: String,
}

fn choose_containers(
    args: GetContainerMetricsArgs,
    _: &PlanContext,
) -> Result<NrqlCall<ContainerContext>, PlanError> {
    let host = args::optional_name("hostname", args.hostname.as_deref())?;
    let name = args::optional_name("container_name", args.container_name.as_deref())?;
    let limit = args::limit("limit", args.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let mut scope = host.as_ref().map_or_else(|| "all hosts".to_string(), |h| format!("host {h}"));
    if let Some(name) = &name {
        scope.push_str(&format!(", names containing '{name}'"));
    }
    let context = ContainerContext { scope, window: args::since_label(args.since.as_deref(), DEFAULT_SINCE) };
    Ok(NrqlCall::new("containers", args.account_id, context)
        .filter("host", host)
        .filter("name", name.map(|text| format!("%{text}%")))
        .value("limit", limit)
        .value_opt("since", args.since))
}

fn problems_of_container(container: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(restarts) = number_at(container, "restarts").filter(|r| *r > 0.0) {
        problems.push(format!("{} restarts", fixed(restarts, 0)));
    }
    if let Some(state) = text_at(container, "state").filter(|s| !s.eq_ignore_ascii_case("running")) {
        problems.push(format!("state {state}"));
    }
    if let Some(pct) = number_at(container, "memory_limit_pct").filter(|p| *p >= HOT_PCT) {
        problems.push(format!("memory at {}% of its limit", fixed(pct, 1)));
    }
    problems
}

fn render_containers(answer: &NrqlAnswer, context: &ContainerContext) -> Result<ToolOutput, ToolError> {
    let mut containers: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let memory = number_at(row, "memory_bytes");
            let limit = number_at(row, "memory_limit_bytes").filter(|l| *l > 0.0);
            let mut container = json!({
                "container": text_at(row, "containerName").or_else(|| facets(row).first().cloned()),
                "state": text_at(row, "state"),
                "restarts": number_at(row, "restarts"),
                "cpu_pct": number_at(row, "cpu_pct"),
                "cpu_max_pct": number_at(row, "cpu_max_pct"),
                "memory_bytes": memory,
                "memory_limit_bytes": limit,
                "memory_limit_pct": memory.zip(limit).and_then(|(m, l)| share(m, l)),
                "image": text_at(row, "image"),
                "hostname": text_at(row, "hostname"),
            });
            container["problems"] = json!(problems_of_container(&container));
            container
        })
        .collect();
    // Unhealthy first, then by restarts; the query's order (restarts) breaks ties.
    containers.sort_by_key(|c| c["problems"].as_array().is_none_or(Vec::is_empty));
    let unhealthy =
        containers.iter().filter(|c| c["problems"].as_array().is_some_and(|p| !p.is_empty())).count();
    let capped = Capped::new(containers, MAX_ROWS);
    let mut text = format!(
        "{} on {}, {}; {} with problems (account {})\n",
        capped.heading("container", "containers"),
        context.scope,
        context.window,
        unhealthy,
        answer.account
    );
    if capped.total == 0 {
        text.push_str("No container samples. Check the hostname with list_hosts, drop container_name, or widen since.\n");
    }
    for container in &capped.rows {
        let problems: Vec<&str> = container["problems"]
            .as_array()
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        text.push_str(&format!(
            "{} ({}) on {}: {}, cpu {}% (peak {}%), memory {} of {}{}\n",
            text_at(container, "container").unwrap_or_default(),
            text_at(container, "image").unwrap_or_else(|| "?".into()),
            text_at(container, "hostname").unwrap_or_else(|| "?".into()),
            text_at(container, "state").unwrap_or_else(|| "?".into()),
            fixed_or_na(number_at(container, "cpu_pct"), 1),
            fixed_or_na(number_at(container, "cpu_max_pct"), 1),
            bytes(number_at(container, "memory_bytes").unwrap_or(0.0)),
            number_at(container, "memory_limit_bytes").map_or_else(|| "no limit".to_string(), bytes),
            if problems.is_empty() { String::new() } else { format!(" — {}", problems.join(", ")) },
        ));
    }
    let mut structured = Map::new();
    structured.insert("scope".into(), json!(context.scope));
    structured.insert("window".into(), json!(context.window));
    structured.insert("with_problems".into(), json!(unhealthy));
    structured.extend(capped.counts());
    structured.insert("containers".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- get_kubernetes_metrics ----------------------------------------------------------

/// Arguments of `get_kubernetes_metrics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetKubernetesMetricsArgs {
    /// `pods` (default), `nodes` or `containers`.
    pub view: Option<KubernetesView>,
    /// Only this cluster (`clusterName`), e.g. `acme-prod`.
    pub cluster_name: Option<String>,
    /// Only this namespace (pods and containers), e.g. `checkout`.
    pub namespace: Option<String>,
    /// How far back to look, e.g. `10 minutes`, `6 hours` (default `30 minutes`).
    pub since: Option<String>,
    /// Most objects to return, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct KubernetesContext {
    view: KubernetesView,
    scope: String,
    window: String,
}

fn choose_kubernetes(
    args: GetKubernetesMetricsArgs,
    _: &PlanContext,
) -> Result<NrqlCall<KubernetesContext>, PlanError> {
    let view = args.view.unwrap_or(KubernetesView::Pods);
    let cluster = args::optional_name("cluster_name", args.cluster_name.as_deref())?;
    let namespace = args::optional_name("namespace", args.namespace.as_deref())?;
    if view == KubernetesView::Nodes && namespace.is_some() {
        return Err(PlanError::InvalidArguments(
            "nodes belong to no namespace: drop namespace for view=nodes".into(),
        ));
    }
    let limit = args::limit("limit", args.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let scope = match (&cluster, &namespace) {
        (Some(c), Some(n)) => format!("cluster {c}, namespace {n}"),
        (Some(c), None) => format!("cluster {c}"),
        (None, Some(n)) => format!("namespace {n}"),
        (None, None) => "all clusters".to_string(),
    };
    let context =
        KubernetesContext { view, scope, window: args::since_label(args.since.as_deref(), DEFAULT_SINCE) };
    Ok(NrqlCall::new(view.shape(), args.account_id, context)
        .filter("cluster", cluster)
        .filter("namespace", namespace)
        .value("limit", limit)
        .value_opt("since", args.since))
}

fn kubernetes_object(view: KubernetesView, row: &Value) -> Value {
    let facets = facets(row);
    let pct = |used: &str, total: &str| {
        number_at(row, used).zip(number_at(row, total).filter(|t| *t > 0.0)).and_then(|(u, t)| share(u, t))
    };
    let mut object = match view {
        KubernetesView::Pods => json!({
            "cluster": facets.first(), "namespace": facets.get(1), "pod": facets.get(2),
            "status": text_at(row, "status"), "ready": flag_at(row, "ready"),
            "restarts": number_at(row, "restarts"), "node": text_at(row, "node"),
        }),
        KubernetesView::Nodes => json!({
            "cluster": facets.first(), "node": facets.get(1),
            "cpu_used_cores": number_at(row, "cpu_used_cores"),
            "cpu_allocatable_cores": number_at(row, "cpu_allocatable_cores"),
            "cpu_pct": pct("cpu_used_cores", "cpu_allocatable_cores"),
            "memory_working_set_bytes": number_at(row, "memory_working_set_bytes"),
            "memory_allocatable_bytes": number_at(row, "memory_allocatable_bytes"),
            "memory_pct": pct("memory_working_set_bytes", "memory_allocatable_bytes"),
            "ready": flag_at(row, "ready"),
        }),
        KubernetesView::Containers => json!({
            "cluster": facets.first(), "namespace": facets.get(1), "pod": facets.get(2), "container": facets.get(3),
            "status": text_at(row, "status"), "restarts": number_at(row, "restarts"),
            "cpu_used_cores": number_at(row, "cpu_used_cores"), "cpu_limit_cores": number_at(row, "cpu_limit_cores"),
            "cpu_limit_pct": pct("cpu_used_cores", "cpu_limit_cores"),
            "memory_working_set_bytes": number_at(row, "memory_working_set_bytes"),
            "memory_limit_bytes": number_at(row, "memory_limit_bytes"),
            "memory_limit_pct": pct("memory_working_set_bytes", "memory_limit_bytes"),
        }),
    };
    let mut problems = Vec::new();
    if object["ready"] == false {
        problems.push("not ready".to_string());
    }
    if let Some(status) = text_at(&object, "status")
        && !matches!(status.to_ascii_lowercase().as_str(), "running" | "succeeded")
    {
        problems.push(format!("status {status}"));
    }
    if let Some(restarts) = number_at(&object, "restarts").filter(|r| *r > 0.0) {
        problems.push(format!("{} restarts", fixed(restarts, 0)));
    }
    for (key, label) in
        [("cpu_pct", "cpu"), ("memory_pct", "memory"), ("memory_limit_pct", "memory of limit")]
    {
        if let Some(value) = number_at(&object, key).filter(|v| *v >= HOT_PCT) {
            problems.push(format!("{label} {}%", fixed(value, 1)));
        }
    }
    object["problems"] = json!(problems);
    object
}

fn kubernetes_line(view: KubernetesView, object: &Value) -> String {
    let name = |key: &str| text_at(object, key).unwrap_or_else(|| "?".into());
    let ready = |object: &Value| match object["ready"].as_bool() {
        Some(true) => "ready",
        Some(false) => "NOT ready",
        None => "readiness unknown",
    };
    let main = match view {
        KubernetesView::Pods => format!(
            "{}/{} on {}: {}, {}, {} restarts",
            name("namespace"),
            name("pod"),
            name("node"),
            name("status"),
            ready(object),
            fixed_or_na(number_at(object, "restarts"), 0)
        ),
        KubernetesView::Nodes => format!(
            "{} ({}): cpu {} of {} cores ({}%), memory {} of {} ({}%), {}",
            name("node"),
            name("cluster"),
            fixed_or_na(number_at(object, "cpu_used_cores"), 2),
            fixed_or_na(number_at(object, "cpu_allocatable_cores"), 2),
            fixed_or_na(number_at(object, "cpu_pct"), 1),
            bytes(number_at(object, "memory_working_set_bytes").unwrap_or(0.0)),
            bytes(number_at(object, "memory_allocatable_bytes").unwrap_or(0.0)),
            fixed_or_na(number_at(object, "memory_pct"), 1),
            ready(object)
        ),
        KubernetesView::Containers => format!(
            "{}/{}/{}: {}, cpu {} of {} cores, memory {} of {}, {} restarts",
            name("namespace"),
            name("pod"),
            name("container"),
            name("status"),
            fixed_or_na(number_at(object, "cpu_used_cores"), 2),
            number_at(object, "cpu_limit_cores").map_or_else(|| "no limit".into(), |c| fixed(c, 2)),
            bytes(number_at(object, "memory_working_set_bytes").unwrap_or(0.0)),
            number_at(object, "memory_limit_bytes").map_or_else(|| "no limit".into(), bytes),
            fixed_or_na(number_at(object, "restarts"), 0)
        ),
    };
    let problems: Vec<&str> = object["problems"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if problems.is_empty() { format!("{main}\n") } else { format!("{main} — {}\n", problems.join(", ")) }
}

fn render_kubernetes(answer: &NrqlAnswer, context: &KubernetesContext) -> Result<ToolOutput, ToolError> {
    let mut objects: Vec<Value> =
        answer.rows.iter().map(|row| kubernetes_object(context.view, row)).collect();
    objects.sort_by_key(|o| o["problems"].as_array().is_none_or(Vec::is_empty));
    let with_problems =
        objects.iter().filter(|o| o["problems"].as_array().is_some_and(|p| !p.is_empty())).count();
    let (one, many) = match context.view {
        KubernetesView::Pods => ("pod", "pods"),
        KubernetesView::Nodes => ("node", "nodes"),
        KubernetesView::Containers => ("container", "containers"),
    };
    let capped = Capped::new(objects, MAX_ROWS);
    let mut text = format!(
        "{} in {}, {}; {} with problems, listed first (account {})\n",
        capped.heading(one, many),
        context.scope,
        context.window,
        with_problems,
        answer.account
    );
    if capped.total == 0 {
        text.push_str(
            "No Kubernetes samples. Check cluster and namespace names, or widen since; the data comes from \
             the New Relic Kubernetes integration.\n",
        );
    }
    for object in &capped.rows {
        text.push_str(&kubernetes_line(context.view, object));
    }
    let mut structured = Map::new();
    structured.insert("view".into(), json!(context.view));
    structured.insert("scope".into(), json!(context.scope));
    structured.insert("window".into(), json!(context.window));
    structured.insert("with_problems".into(), json!(with_problems));
    structured.extend(capped.counts());
    structured.insert(many.into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn plans_each_view() {
        let cases = [
            (
                "get_container_metrics",
                json!({"container_name": "checkout"}),
                "FROM ContainerSample WHERE containerName LIKE '%checkout%' FACET containerName, hostname LIMIT 50 SINCE 30 minutes ago",
            ),
            (
                "get_kubernetes_metrics",
                json!({"cluster_name": "acme-prod", "namespace": "shop"}),
                "FROM K8sPodSample WHERE clusterName = 'acme-prod' AND namespaceName = 'shop' FACET clusterName, namespaceName, podName LIMIT 50 SINCE 30 minutes ago",
            ),
            (
                "get_kubernetes_metrics",
                json!({"view": "nodes"}),
                "FROM K8sNodeSample FACET clusterName, nodeName LIMIT 50 SINCE 30 minutes ago",
            ),
            (
                "get_kubernetes_metrics",
                json!({"view": "containers", "limit": 5}),
                "FROM K8sContainerSample FACET clusterName, namespaceName, podName, containerName LIMIT 5 SINCE 30 minutes ago",
            ),
        ];
        for (tool, arguments, tail) in cases {
            let query = nrql(&plan(&all(), tool, arguments).unwrap());
            assert!(query.ends_with(tail), "{query}");
        }
        for (tool, arguments) in [
            ("get_kubernetes_metrics", json!({"view": "nodes", "namespace": "x"})),
            ("get_kubernetes_metrics", json!({"view": "deployments"})),
            ("get_container_metrics", json!({"limit": 1000})),
        ] {
            assert!(matches!(plan(&all(), tool, arguments), Err(PlanError::InvalidArguments(_))), "{tool}");
        }
    }

    #[test]
    fn unhealthy_containers_come_first() {
        let rows = json!([
            {"facet": ["web", "h1"], "containerName": "web", "restarts": 0, "cpu_pct": 10, "cpu_max_pct": 20, "memory_bytes": 100, "memory_limit_bytes": 1000, "state": "running", "image": "web:1", "hostname": "h1"},
            {"facet": ["worker", "h2"], "containerName": "worker", "restarts": 0, "cpu_pct": 5, "cpu_max_pct": 9, "memory_bytes": 950, "memory_limit_bytes": 1000, "state": "exited", "image": "worker:2", "hostname": "h2"}
        ]);
        let output = answer(&all(), "get_container_metrics", json!({}), rows).unwrap();
        assert!(output.text.contains("; 1 with problems"), "{}", output.text);
        let worker = output.text.find("worker (worker:2) on h2: exited, cpu 5% (peak 9%), memory 950 B of 1000 B — state exited, memory at 95% of its limit").unwrap();
        assert!(worker < output.text.find("web (web:1)").unwrap(), "{}", output.text);
    }

    #[test]
    fn kubernetes_problems_are_named_and_listed_first() {
        let rows = json!([
            {"facet": ["acme-prod", "shop", "web-1"], "restarts": 0, "status": "Running", "ready": true, "node": "n1"},
            {"facet": ["acme-prod", "shop", "pay-1"], "restarts": 4, "status": "CrashLoopBackOff", "ready": false, "node": "n2"}
        ]);
        let output = answer(&all(), "get_kubernetes_metrics", json!({}), rows).unwrap();
        assert!(output.text.contains("shop/pay-1 on n2: CrashLoopBackOff, NOT ready, 4 restarts — not ready, status CrashLoopBackOff, 4 restarts\nshop/web-1 on n1: Running, ready, 0 restarts\n"), "{}", output.text);
        assert_eq!(output.structured["with_problems"], 1);
        let rows = json!([{"facet": ["acme-prod", "n1"], "cpu_used_cores": 3.8, "cpu_allocatable_cores": 4, "memory_working_set_bytes": 1024, "memory_allocatable_bytes": 4096, "ready": "true"}]);
        let output = answer(&all(), "get_kubernetes_metrics", json!({"view": "nodes"}), rows).unwrap();
        assert!(
            output.text.contains(
                "n1 (acme-prod): cpu 3.8 of 4 cores (95%), memory 1 KiB of 4 KiB (25%), ready — cpu 95%"
            ),
            "{}",
            output.text
        );
        assert_eq!(output.structured["nodes"][0]["cpu_pct"], 95.0);
    }
}
