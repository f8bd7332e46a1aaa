//! Hosts and what runs on them: `list_hosts`, `get_host_metrics`, `get_process_metrics`
//! and `get_disk_usage`.

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
    bucket_time, bytes, facets, fixed, fixed_or_na, number_at, text_at, time_ms,
};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const LIST_DEFAULT_SINCE: &str = "10 minutes";
const LIST_DEFAULT_LIMIT: u32 = 50;
const LIST_MAX_LIMIT: u32 = 500;
const METRICS_DEFAULT_SINCE: &str = "1 hour";
const PROCESS_DEFAULT_SINCE: &str = "30 minutes";
const PROCESS_DEFAULT_LIMIT: u32 = 20;
const PROCESS_MAX_LIMIT: u32 = 100;
const DISK_DEFAULT_SINCE: &str = "30 minutes";
const DISK_LIMIT: i64 = 200;

const HOST_SIGNALS: &str = "average(cpuPercent) AS 'cpu_avg_pct', max(cpuPercent) AS 'cpu_max_pct', \
    average(memoryUsedPercent) AS 'memory_avg_pct', max(memoryUsedPercent) AS 'memory_max_pct', \
    max(diskUsedPercent) AS 'disk_max_pct', count(*) AS 'samples'";

/// How to rank processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessOrder {
    /// Highest average CPU.
    Cpu,
    /// Largest average resident memory.
    Memory,
}

fn host_subject() -> Vec<Condition> {
    vec![
        Condition::one("host", "hostname = {{host}}", ParamType::String),
        Condition::one("guid", "entityGuid = {{guid}}", ParamType::String),
    ]
}

pub(super) fn shapes() -> Vec<Shape> {
    let process = |name: &'static str, order: &str| {
        Shape::new(
            name,
            format!(
                "SELECT average(cpuPercent) AS 'cpu_pct', max(cpuPercent) AS 'cpu_max_pct', \
                 average(memoryResidentSizeBytes) AS 'memory_rss_bytes', max(memoryResidentSizeBytes) AS \
                 'memory_rss_max_bytes', average(ioReadBytesPerSecond) AS 'io_read_bytes_per_s', \
                 average(ioWriteBytesPerSecond) AS 'io_write_bytes_per_s', latest(threadCount) AS 'threads', \
                 latest(processId) AS 'pid', latest(commandName) AS 'command' FROM ProcessSample {{where}} \
                 FACET hostname, processDisplayName ORDER BY {order} SINCE {{{{since}}}} ago LIMIT {{{{limit}}}}"
            ),
            vec![args::since_param(PROCESS_DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(vec![
            Condition::one("host", "hostname = {{host}}", ParamType::String),
            Condition::one("process", "processDisplayName LIKE {{process}}", ParamType::String),
        ])
    };
    vec![
        Shape::new(
            "hosts",
            "SELECT latest(cpuPercent) AS 'cpu_pct', latest(memoryUsedPercent) AS 'memory_pct', \
             latest(diskUsedPercent) AS 'disk_pct', latest(operatingSystem) AS 'os', latest(entityGuid) AS \
             'entity_guid', max(timestamp) AS 'last_seen' FROM SystemSample {where} FACET hostname \
             SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(LIST_DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(vec![Condition::one("name", "hostname LIKE {{name}}", ParamType::String)]),
        Shape::new(
            "host_summary",
            format!("SELECT {HOST_SIGNALS} FROM SystemSample {{where}} SINCE {{{{since}}}} ago"),
            vec![args::since_param(METRICS_DEFAULT_SINCE)],
        )
        .with_conditions(host_subject()),
        Shape::new(
            "host_series",
            format!(
                "SELECT {HOST_SIGNALS} FROM SystemSample {{where}} SINCE {{{{since}}}} ago TIMESERIES AUTO"
            ),
            vec![args::since_param(METRICS_DEFAULT_SINCE)],
        )
        .with_conditions(host_subject()),
        process("processes_by_cpu", "average(cpuPercent)"),
        process("processes_by_memory", "average(memoryResidentSizeBytes)"),
        Shape::new(
            "disks",
            "SELECT latest(diskUsedPercent) AS 'used_pct', latest(diskUsedBytes) AS 'used_bytes', \
             latest(diskFreeBytes) AS 'free_bytes', latest(diskTotalBytes) AS 'total_bytes', \
             max(totalUtilizationPercent) AS 'io_utilization_max_pct' FROM StorageSample {where} \
             FACET hostname, mountPoint, device SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(DISK_DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(vec![
            Condition::one("host", "hostname = {{host}}", ParamType::String),
            Condition::one("min_used", "diskUsedPercent >= {{min_used}}", ParamType::Float),
        ]),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    let shapes = shapes();
    let pick =
        |names: &[&str]| shapes.iter().filter(|s| names.contains(&s.name)).cloned().collect::<Vec<_>>();
    let spec = |name, title, description, seconds| Spec {
        name,
        title,
        description,
        category: CATEGORY,
        hints: ToolHints::READ,
        cache_ttl: Some(Duration::from_secs(seconds)),
    };
    vec![
        nrql_tool(
            spec(
                "list_hosts",
                "List hosts",
                "Hosts reporting infrastructure samples, busiest CPU first: latest CPU, memory and disk use, \
                 operating system, entity GUID and when last seen; hosts at 90% or more are flagged. \
                 Optionally only hostnames containing a text.",
                60,
            ),
            pick(&["hosts"]),
            policy,
            choose_hosts,
            render_hosts,
        ),
        nrql_tool(
            spec(
                "get_host_metrics",
                "Get host metrics",
                "CPU, memory and disk use of one host, by hostname or entity GUID: average and peak over a \
                 window (default the last hour), optionally per time interval. get_process_metrics shows \
                 what uses it.",
                60,
            ),
            pick(&["host_summary", "host_series"]),
            policy,
            choose_host_metrics,
            render_host_metrics,
        ),
        nrql_tool(
            spec(
                "get_process_metrics",
                "Get process metrics",
                "The processes using the most CPU (default) or memory, on one host or all: CPU average and \
                 peak, resident memory, disk I/O rates, threads, pid and command. Optionally only process \
                 names containing a text.",
                30,
            ),
            pick(&["processes_by_cpu", "processes_by_memory"]),
            policy,
            choose_processes,
            render_processes,
        ),
        nrql_tool(
            spec(
                "get_disk_usage",
                "Get disk usage",
                "Disk use per host and mount point, fullest first: used percent, used, free and total bytes, \
                 and peak I/O utilisation; volumes at 90% or more are flagged. Optionally one host or only \
                 volumes above a used percentage.",
                60,
            ),
            pick(&["disks"]),
            policy,
            choose_disks,
            render_disks,
        ),
    ]
}

// --- list_hosts ----------------------------------------------------------------------

/// Arguments of `list_hosts`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListHostsArgs {
    /// Only hostnames containing this text, e.g. `prod` or `ip-10-0-1`.
    pub name_pattern: Option<String>,
    /// How recently a host must have reported, e.g. `10 minutes` (the default), `1 day`.
    pub since: Option<String>,
    /// Most hosts to return, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct HostsContext {
    filter: Option<String>,
    window: String,
}

fn choose_hosts(args: ListHostsArgs, _: &PlanContext) -> Result<NrqlCall<HostsContext>, PlanError> {
    let pattern = args::optional_name("name_pattern", args.name_pattern.as_deref())?;
    let limit = args::limit("limit", args.limit, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
    let context = HostsContext {
        filter: pattern.clone(),
        window: args::since_label(args.since.as_deref(), LIST_DEFAULT_SINCE),
    };
    Ok(NrqlCall::new("hosts", args.account_id, context)
        .filter("name", pattern.map(|text| format!("%{text}%")))
        .value("limit", limit)
        .value_opt("since", args.since))
}

fn hot(label: &str, value: Option<f64>) -> Option<String> {
    value.filter(|v| *v >= HOT_PCT).map(|v| format!("{label} {}%", fixed(v, 1)))
}

fn render_hosts(answer: &NrqlAnswer, context: &HostsContext) -> Result<ToolOutput, ToolError> {
    let hosts: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let cpu = number_at(row, "cpu_pct");
            let memory = number_at(row, "memory_pct");
            let disk = number_at(row, "disk_pct");
            let hot: Vec<String> =
                [hot("cpu", cpu), hot("memory", memory), hot("disk", disk)].into_iter().flatten().collect();
            json!({
                "hostname": text_at(row, "hostname").or_else(|| facets(row).first().cloned()),
                "cpu_pct": cpu,
                "memory_pct": memory,
                "disk_pct": disk,
                "os": text_at(row, "os"),
                "entity_guid": text_at(row, "entity_guid"),
                "last_seen": number_at(row, "last_seen").map(|ms| time_ms(ms as i64)),
                "hot": hot,
            })
        })
        .collect();
    let hot_hosts = hosts.iter().filter(|h| h["hot"].as_array().is_some_and(|hot| !hot.is_empty())).count();
    let capped = Capped::new(hosts, MAX_ROWS);
    let mut text = format!(
        "{}{} reporting in the {}, busiest CPU first; {} at or above {}% (account {})\n",
        capped.heading("host", "hosts"),
        context.filter.as_ref().map(|f| format!(" matching '{f}'")).unwrap_or_default(),
        context.window,
        hot_hosts,
        fixed(HOT_PCT, 0),
        answer.account
    );
    if capped.total == 0 {
        text.push_str(
            "No host reported. Widen since, drop name_pattern, or check the infrastructure agent.\n",
        );
    }
    for host in &capped.rows {
        let hot: Vec<String> = host["hot"]
            .as_array()
            .map(|h| h.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        text.push_str(&format!(
            "{}: cpu {}%, memory {}%, disk {}%, {}{}\n",
            text_at(host, "hostname").unwrap_or_default(),
            fixed_or_na(number_at(host, "cpu_pct"), 1),
            fixed_or_na(number_at(host, "memory_pct"), 1),
            fixed_or_na(number_at(host, "disk_pct"), 1),
            text_at(host, "os").unwrap_or_else(|| "?".into()),
            if hot.is_empty() { String::new() } else { format!(" — HOT: {}", hot.join(", ")) },
        ));
    }
    let mut structured = Map::new();
    structured.insert("window".into(), json!(context.window));
    structured.insert("name_pattern".into(), json!(context.filter));
    structured.extend(capped.counts());
    structured.insert("hosts".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- get_host_metrics ----------------------------------------------------------------

/// Arguments of `get_host_metrics`: exactly one of `hostname` and `entity_guid`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetHostMetricsArgs {
    /// The host's name, e.g. `ip-10-0-1-12` (list_hosts lists them). Give this or `entity_guid`.
    pub hostname: Option<String>,
    /// GUID of the host entity. Give this or `hostname`.
    pub entity_guid: Option<String>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `7 days` (default `1 hour`).
    pub since: Option<String>,
    /// Also return the values per time interval (default false).
    #[serde(default)]
    pub timeseries: bool,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct HostContext {
    subject: String,
    window: String,
    timeseries: bool,
}

fn choose_host_metrics(
    args: GetHostMetricsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<HostContext>, PlanError> {
    let subject =
        args::one_of(("hostname", args.hostname.as_deref()), ("entity_guid", args.entity_guid.as_deref()))?;
    let window = args::since_label(args.since.as_deref(), METRICS_DEFAULT_SINCE);
    let shape = if args.timeseries { "host_series" } else { "host_summary" };
    let timeseries = args.timeseries;
    let call = match subject {
        Ok(host) => {
            let host = args::name("hostname", host)?;
            NrqlCall::new(shape, args.account_id, HostContext { subject: host.clone(), window, timeseries })
                .filter("host", Some(host))
        }
        Err(guid) => {
            let guid = args::guid("entity_guid", guid, plan_context)?;
            NrqlCall::new(
                shape,
                args.account_id,
                HostContext { subject: format!("host {guid}"), window, timeseries },
            )
            .filter("guid", Some(guid))
        }
    };
    Ok(call.value_opt("since", args.since))
}

fn host_line(row: &Value) -> String {
    format!(
        "cpu avg {}% (peak {}%) | memory avg {}% (peak {}%) | disk peak {}%",
        fixed_or_na(number_at(row, "cpu_avg_pct"), 1),
        fixed_or_na(number_at(row, "cpu_max_pct"), 1),
        fixed_or_na(number_at(row, "memory_avg_pct"), 1),
        fixed_or_na(number_at(row, "memory_max_pct"), 1),
        fixed_or_na(number_at(row, "disk_max_pct"), 1),
    )
}

fn host_json(row: &Value) -> Value {
    json!({
        "cpu_avg_pct": number_at(row, "cpu_avg_pct"),
        "cpu_max_pct": number_at(row, "cpu_max_pct"),
        "memory_avg_pct": number_at(row, "memory_avg_pct"),
        "memory_max_pct": number_at(row, "memory_max_pct"),
        "disk_max_pct": number_at(row, "disk_max_pct"),
        "samples": number_at(row, "samples"),
    })
}

fn render_host_metrics(answer: &NrqlAnswer, context: &HostContext) -> Result<ToolOutput, ToolError> {
    let samples: f64 = answer.rows.iter().filter_map(|row| number_at(row, "samples")).sum();
    if samples <= 0.0 {
        return Err(args::nothing_found(
            &format!("no samples from {} in the {}", context.subject, context.window),
            "Check the hostname with list_hosts (or the GUID with get_entity), or widen since.",
        ));
    }
    let mut structured = Map::new();
    structured.insert("host".into(), json!(context.subject));
    structured.insert("window".into(), json!(context.window));
    let mut text =
        format!("{} — host metrics, {} (account {})\n", context.subject, context.window, answer.account);
    if context.timeseries {
        let peak = |key: &str| answer.rows.iter().filter_map(|row| number_at(row, key)).reduce(f64::max);
        let busy: Vec<&Value> =
            answer.rows.iter().filter(|row| number_at(row, "samples").unwrap_or(0.0) > 0.0).collect();
        let mean = |key: &str| {
            let values: Vec<f64> = busy.iter().filter_map(|row| number_at(row, key)).collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let summary = json!({
            "cpu_avg_pct": mean("cpu_avg_pct"),
            "cpu_max_pct": peak("cpu_max_pct"),
            "memory_avg_pct": mean("memory_avg_pct"),
            "memory_max_pct": peak("memory_max_pct"),
            "disk_max_pct": peak("disk_max_pct"),
            "samples": samples,
        });
        text.push_str(&host_line(&summary));
        text.push('\n');
        let series: Vec<Value> = answer
            .rows
            .iter()
            .map(|row| {
                let mut point = host_json(row);
                point["begin_time_seconds"] = row["beginTimeSeconds"].clone();
                point["end_time_seconds"] = row["endTimeSeconds"].clone();
                point
            })
            .collect();
        let capped = Capped::new(series, MAX_ROWS);
        text.push_str(&format!("{}:\n", capped.heading("interval", "intervals")));
        for (row, _) in answer.rows.iter().zip(&capped.rows) {
            text.push_str(&format!(
                "{} {}\n",
                bucket_time(number_at(row, "beginTimeSeconds").unwrap_or(0.0)),
                host_line(row)
            ));
        }
        structured.insert("summary".into(), summary);
        structured.extend(capped.counts());
        structured.insert("timeseries".into(), Value::Array(capped.rows));
    } else {
        let row = answer.first();
        text.push_str(&host_line(row));
        text.push('\n');
        structured.insert("summary".into(), host_json(row));
    }
    let summary = structured.get("summary").cloned().unwrap_or(Value::Null);
    let concerns: Vec<String> = [
        hot("cpu peaked at", number_at(&summary, "cpu_max_pct")),
        hot("memory peaked at", number_at(&summary, "memory_max_pct")),
        hot("disk reached", number_at(&summary, "disk_max_pct")),
    ]
    .into_iter()
    .flatten()
    .collect();
    for concern in &concerns {
        text.push_str(&format!("watch: {concern}\n"));
    }
    structured.insert("concerns".into(), json!(concerns));
    Ok(answer.output(structured, text))
}

// --- get_process_metrics -------------------------------------------------------------

/// Arguments of `get_process_metrics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetProcessMetricsArgs {
    /// Only processes on this host, e.g. `ip-10-0-1-12`.
    pub hostname: Option<String>,
    /// Only processes whose display name contains this text, e.g. `java`.
    pub process_name: Option<String>,
    /// Rank by `cpu` (default) or `memory`.
    pub sort_by: Option<ProcessOrder>,
    /// How far back to look, e.g. `10 minutes`, `6 hours` (default `30 minutes`).
    pub since: Option<String>,
    /// Most processes to return, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct ProcessContext {
    scope: String,
    order: ProcessOrder,
    window: String,
}

fn choose_processes(
    args: GetProcessMetricsArgs,
    _: &PlanContext,
) -> Result<NrqlCall<ProcessContext>, PlanError> {
    let host = args::optional_name("hostname", args.hostname.as_deref())?;
    let process = args::optional_name("process_name", args.process_name.as_deref())?;
    let limit = args::limit("limit", args.limit, PROCESS_DEFAULT_LIMIT, PROCESS_MAX_LIMIT)?;
    let order = args.sort_by.unwrap_or(ProcessOrder::Cpu);
    let mut scope = host.as_ref().map_or_else(|| "all hosts".to_string(), |h| format!("host {h}"));
    if let Some(process) = &process {
        scope.push_str(&format!(", names containing '{process}'"));
    }
    let context = ProcessContext {
        scope,
        order,
        window: args::since_label(args.since.as_deref(), PROCESS_DEFAULT_SINCE),
    };
    let shape = match order {
        ProcessOrder::Cpu => "processes_by_cpu",
        ProcessOrder::Memory => "processes_by_memory",
    };
    Ok(NrqlCall::new(shape, args.account_id, context)
        .filter("host", host)
        .filter("process", process.map(|text| format!("%{text}%")))
        .value("limit", limit)
        .value_opt("since", args.since))
}

fn render_processes(answer: &NrqlAnswer, context: &ProcessContext) -> Result<ToolOutput, ToolError> {
    let mut processes: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let facets = facets(row);
            json!({
                "hostname": facets.first(),
                "process": facets.get(1),
                "command": text_at(row, "command"),
                "pid": number_at(row, "pid"),
                "cpu_pct": number_at(row, "cpu_pct"),
                "cpu_max_pct": number_at(row, "cpu_max_pct"),
                "memory_rss_bytes": number_at(row, "memory_rss_bytes"),
                "memory_rss_max_bytes": number_at(row, "memory_rss_max_bytes"),
                "io_read_bytes_per_s": number_at(row, "io_read_bytes_per_s"),
                "io_write_bytes_per_s": number_at(row, "io_write_bytes_per_s"),
                "threads": number_at(row, "threads"),
            })
        })
        .collect();
    // The query ranks already; ranking again keeps the order whatever the backend returns.
    let key = match context.order {
        ProcessOrder::Cpu => "cpu_pct",
        ProcessOrder::Memory => "memory_rss_bytes",
    };
    processes.sort_by(|a, b| number_at(b, key).unwrap_or(0.0).total_cmp(&number_at(a, key).unwrap_or(0.0)));
    let capped = Capped::new(processes, MAX_ROWS);
    let mut text = format!(
        "{} on {} by {}, {} (account {})\n",
        capped.heading("process", "processes"),
        context.scope,
        match context.order {
            ProcessOrder::Cpu => "CPU",
            ProcessOrder::Memory => "memory",
        },
        context.window,
        answer.account
    );
    if capped.total == 0 {
        text.push_str(
            "No process samples. Check the hostname with list_hosts, drop process_name, or widen since.\n",
        );
    }
    for process in &capped.rows {
        text.push_str(&format!(
            "{} on {} (pid {}): cpu {}% (peak {}%), rss {}, io r {}/s w {}/s, {} threads\n",
            text_at(process, "process").unwrap_or_default(),
            text_at(process, "hostname").unwrap_or_default(),
            fixed_or_na(number_at(process, "pid"), 0),
            fixed_or_na(number_at(process, "cpu_pct"), 1),
            fixed_or_na(number_at(process, "cpu_max_pct"), 1),
            bytes(number_at(process, "memory_rss_bytes").unwrap_or(0.0)),
            bytes(number_at(process, "io_read_bytes_per_s").unwrap_or(0.0)),
            bytes(number_at(process, "io_write_bytes_per_s").unwrap_or(0.0)),
            fixed_or_na(number_at(process, "threads"), 0),
        ));
    }
    let mut structured = Map::new();
    structured.insert("scope".into(), json!(context.scope));
    structured.insert("sort_by".into(), json!(context.order));
    structured.insert("window".into(), json!(context.window));
    structured.extend(capped.counts());
    structured.insert("processes".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

// --- get_disk_usage ------------------------------------------------------------------

/// Arguments of `get_disk_usage`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDiskUsageArgs {
    /// Only volumes of this host, e.g. `ip-10-0-1-12`.
    pub hostname: Option<String>,
    /// Only volumes at least this full, in percent, e.g. `80`.
    pub min_used_percent: Option<f64>,
    /// How far back to look, e.g. `10 minutes`, `1 day` (default `30 minutes`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct DiskContext {
    scope: String,
    window: String,
}

fn choose_disks(args: GetDiskUsageArgs, _: &PlanContext) -> Result<NrqlCall<DiskContext>, PlanError> {
    let host = args::optional_name("hostname", args.hostname.as_deref())?;
    if let Some(min) = args.min_used_percent
        && !(0.0..=100.0).contains(&min)
    {
        return Err(PlanError::InvalidArguments(format!("min_used_percent must be 0 to 100, got {min}")));
    }
    let mut scope = host.as_ref().map_or_else(|| "all hosts".to_string(), |h| format!("host {h}"));
    if let Some(min) = args.min_used_percent {
        scope.push_str(&format!(", at least {}% used", fixed(min, 1)));
    }
    let context = DiskContext { scope, window: args::since_label(args.since.as_deref(), DISK_DEFAULT_SINCE) };
    Ok(NrqlCall::new("disks", args.account_id, context)
        .filter("host", host)
        .filter("min_used", args.min_used_percent)
        .value("limit", DISK_LIMIT)
        .value_opt("since", args.since))
}

fn render_disks(answer: &NrqlAnswer, context: &DiskContext) -> Result<ToolOutput, ToolError> {
    let mut volumes: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let facets = facets(row);
            json!({
                "hostname": facets.first(),
                "mount_point": facets.get(1),
                "device": facets.get(2),
                "used_pct": number_at(row, "used_pct"),
                "used_bytes": number_at(row, "used_bytes"),
                "free_bytes": number_at(row, "free_bytes"),
                "total_bytes": number_at(row, "total_bytes"),
                "io_utilization_max_pct": number_at(row, "io_utilization_max_pct"),
            })
        })
        .collect();
    volumes.sort_by(|a, b| {
        number_at(b, "used_pct").unwrap_or(0.0).total_cmp(&number_at(a, "used_pct").unwrap_or(0.0))
    });
    let full = volumes.iter().filter(|v| number_at(v, "used_pct").is_some_and(|p| p >= HOT_PCT)).count();
    let capped = Capped::new(volumes, MAX_ROWS);
    let mut text = format!(
        "{} on {}, fullest first; {} at or above {}% (account {}, {})\n",
        capped.heading("volume", "volumes"),
        context.scope,
        full,
        fixed(HOT_PCT, 0),
        answer.account,
        context.window
    );
    if capped.total == 0 {
        text.push_str("No storage samples. Check the hostname with list_hosts, lower min_used_percent, or widen since.\n");
    }
    for volume in &capped.rows {
        let used = number_at(volume, "used_pct");
        text.push_str(&format!(
            "{} {} ({}): {}% used, {} free of {}, io peak {}%{}\n",
            text_at(volume, "hostname").unwrap_or_default(),
            text_at(volume, "mount_point").unwrap_or_default(),
            text_at(volume, "device").unwrap_or_default(),
            fixed_or_na(used, 1),
            bytes(number_at(volume, "free_bytes").unwrap_or(0.0)),
            bytes(number_at(volume, "total_bytes").unwrap_or(0.0)),
            fixed_or_na(number_at(volume, "io_utilization_max_pct"), 1),
            if used.is_some_and(|p| p >= HOT_PCT) { " — NEARLY FULL" } else { "" },
        ));
    }
    let mut structured = Map::new();
    structured.insert("scope".into(), json!(context.scope));
    structured.insert("window".into(), json!(context.window));
    structured.insert("nearly_full".into(), json!(full));
    structured.extend(capped.counts());
    structured.insert("volumes".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use newrelic_mcp_actors::tool::ToolErrorKind;

    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn plans_each_tool() {
        let cases = [
            (
                "list_hosts",
                json!({"name_pattern": "10-0"}),
                "FROM SystemSample WHERE hostname LIKE '%10-0%' FACET hostname LIMIT 50 SINCE 10 minutes ago",
            ),
            (
                "get_host_metrics",
                json!({"hostname": "h1", "timeseries": true}),
                "FROM SystemSample WHERE hostname = 'h1' SINCE 1 hour ago TIMESERIES AUTO",
            ),
            (
                "get_process_metrics",
                json!({"hostname": "h1", "process_name": "java", "sort_by": "memory"}),
                "FROM ProcessSample WHERE hostname = 'h1' AND processDisplayName LIKE '%java%' FACET hostname, processDisplayName ORDER BY average(memoryResidentSizeBytes) LIMIT 20 SINCE 30 minutes ago",
            ),
            (
                "get_disk_usage",
                json!({"min_used_percent": 80}),
                "FROM StorageSample WHERE diskUsedPercent >= 80.0 FACET hostname, mountPoint, device LIMIT 200 SINCE 30 minutes ago",
            ),
        ];
        for (tool, arguments, tail) in cases {
            let query = nrql(&plan(&all(), tool, arguments).unwrap());
            assert!(query.ends_with(tail), "{query}");
        }
        for (tool, arguments) in [
            ("list_hosts", json!({"limit": 0})),
            ("get_host_metrics", json!({})),
            ("get_host_metrics", json!({"hostname": "a", "entity_guid": "b"})),
            ("get_process_metrics", json!({"sort_by": "io"})),
            ("get_disk_usage", json!({"min_used_percent": 120})),
        ] {
            assert!(matches!(plan(&all(), tool, arguments), Err(PlanError::InvalidArguments(_))), "{tool}");
        }
    }

    #[test]
    fn hosts_are_listed_with_hot_spots_flagged() {
        let rows = json!([
            {"facet": "h1", "hostname": "h1", "cpu_pct": 95.5, "memory_pct": 60, "disk_pct": 91, "os": "linux", "entity_guid": "G1", "last_seen": 1_715_776_200_000_i64},
            {"facet": "h2", "hostname": "h2", "cpu_pct": 20, "memory_pct": 40, "disk_pct": 50, "os": "linux"}
        ]);
        let output = answer(&all(), "list_hosts", json!({}), rows).unwrap();
        assert!(
            output.text.starts_with(
                "2 hosts reporting in the last 10 minutes, busiest CPU first; 1 at or above 90%"
            ),
            "{}",
            output.text
        );
        assert!(
            output.text.contains("h1: cpu 95.5%, memory 60%, disk 91%, linux — HOT: cpu 95.5%, disk 91%"),
            "{}",
            output.text
        );
        assert_eq!(output.structured["hosts"][0]["last_seen"], "2024-05-15 12:30:00");
    }

    #[test]
    fn host_metrics_summarise_and_call_out_peaks() {
        let rows = json!([{"cpu_avg_pct": 40, "cpu_max_pct": 97, "memory_avg_pct": 60, "memory_max_pct": 70, "disk_max_pct": 50, "samples": 120}]);
        let output = answer(&all(), "get_host_metrics", json!({"hostname": "h1"}), rows).unwrap();
        assert!(
            output.text.contains("cpu avg 40% (peak 97%) | memory avg 60% (peak 70%) | disk peak 50%"),
            "{}",
            output.text
        );
        assert!(output.text.contains("watch: cpu peaked at 97%"), "{}", output.text);
        let error = answer(&all(), "get_host_metrics", json!({"hostname": "nope"}), json!([{"samples": 0}]))
            .unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
        let rows = json!([
            {"beginTimeSeconds": 1_715_776_200, "endTimeSeconds": 1_715_776_260, "cpu_avg_pct": 30, "cpu_max_pct": 50, "memory_avg_pct": 60, "memory_max_pct": 61, "disk_max_pct": 50, "samples": 6},
            {"beginTimeSeconds": 1_715_776_260, "endTimeSeconds": 1_715_776_320, "cpu_avg_pct": 50, "cpu_max_pct": 80, "memory_avg_pct": 62, "memory_max_pct": 63, "disk_max_pct": 50, "samples": 6}
        ]);
        let output =
            answer(&all(), "get_host_metrics", json!({"hostname": "h1", "timeseries": true}), rows).unwrap();
        assert_eq!(output.structured["summary"]["cpu_avg_pct"], 40.0);
        assert_eq!(output.structured["summary"]["cpu_max_pct"], 80.0);
        assert!(output.text.contains("05-15 12:31 cpu avg 50% (peak 80%)"), "{}", output.text);
    }

    #[test]
    fn processes_and_disks_render_their_hot_spots() {
        let rows = json!([{"facet": ["h1", "java"], "command": "java", "pid": 4242, "cpu_pct": 80.5, "cpu_max_pct": 99, "memory_rss_bytes": 1_073_741_824_u64, "io_read_bytes_per_s": 1024, "io_write_bytes_per_s": 0, "threads": 120}]);
        let output = answer(&all(), "get_process_metrics", json!({}), rows).unwrap();
        assert!(
            output.text.contains(
                "java on h1 (pid 4242): cpu 80.5% (peak 99%), rss 1 GiB, io r 1 KiB/s w 0 B/s, 120 threads"
            ),
            "{}",
            output.text
        );
        let rows = json!([
            {"facet": ["h1", "/data", "/dev/sdb"], "used_pct": 50, "free_bytes": 1024, "total_bytes": 2048, "io_utilization_max_pct": 10},
            {"facet": ["h1", "/", "/dev/sda1"], "used_pct": 93.5, "free_bytes": 512, "total_bytes": 8192, "io_utilization_max_pct": 40}
        ]);
        let output = answer(&all(), "get_disk_usage", json!({}), rows).unwrap();
        assert!(output.text.contains("; 1 at or above 90%"), "{}", output.text);
        let root = output
            .text
            .find("h1 / (/dev/sda1): 93.5% used, 512 B free of 8 KiB, io peak 40% — NEARLY FULL")
            .unwrap();
        assert!(root < output.text.find("/data").unwrap());
    }
}
