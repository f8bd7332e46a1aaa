//! Server: tools that report on newrelic-mcp itself rather than on New Relic.
//!
//! `get_server_status` answers with the runtime's live figures (health, circuit breakers,
//! cache, executor pool, restarts, tool-table generation, version and uptime);
//! `list_plugins` with the plugins behind the tool table the call was routed on. Neither
//! calls New Relic nor caches: the runtime hands them its state, and the renderers here are
//! pure functions of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use newrelic_mcp_actors::call::{BreakerStatus, RuntimeStats};
use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, RuntimeView, StatusRenderer, Tool, ToolDescriptor, ToolError,
    ToolErrorKind, ToolHints, ToolOutput, ToolTable,
};
use serde_json::{Map, Value, json};

const CATEGORY: &str = "server";

/// Name of the status tool; the load-test harness reads its counters by this name.
pub const SERVER_STATUS_TOOL: &str = "get_server_status";
pub const LIST_PLUGINS_TOOL: &str = "list_plugins";

/// Overall health, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The supervisor gave up; the process is about to exit.
    Stopping,
    /// New Relic calls are being refused or probed (a breaker is not closed), or the
    /// breaker did not answer.
    Degraded,
    Healthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopping => "stopping",
            Self::Degraded => "degraded",
            Self::Healthy => "healthy",
        }
    }
}

/// Health as the figures tell it.
pub fn health(stats: &RuntimeStats) -> Health {
    if stats.escalated {
        Health::Stopping
    } else if stats.breaker.is_empty() || stats.breaker.iter().any(|b| b.state != "closed") {
        Health::Degraded
    } else {
        Health::Healthy
    }
}

/// Share of cache lookups answered from a stored entry; `None` before the first lookup.
pub fn cache_hit_ratio(stats: &RuntimeStats) -> Option<f64> {
    let lookups = stats.cache_hits + stats.cache_misses + stats.coalesced;
    (lookups > 0).then(|| stats.cache_hits as f64 / lookups as f64)
}

fn breaker_json(breaker: &BreakerStatus) -> Value {
    json!({
        "endpoint": breaker.endpoint,
        "state": breaker.state,
        "consecutive_failures": breaker.consecutive_failures,
        "retry_in_seconds": breaker.retry_in.map(|d| d.as_secs_f64()),
    })
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
pub fn format_uptime(uptime: Duration) -> String {
    let total = uptime.as_secs();
    let (days, hours, minutes, seconds) = (total / 86_400, total / 3_600 % 24, total / 60 % 60, total % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The status answer: structured figures and a few lines a model can read at a glance.
pub fn render_status(stats: &RuntimeStats, version: &str, uptime: Duration) -> ToolOutput {
    let health = health(stats);
    let hit_ratio = cache_hit_ratio(stats);
    let structured = json!({
        "server": {
            "name": "newrelic-mcp",
            "version": version,
            "uptime_seconds": uptime.as_secs_f64(),
        },
        "health": health.as_str(),
        "breakers": stats.breaker.iter().map(breaker_json).collect::<Vec<_>>(),
        "cache": {
            "hits": stats.cache_hits,
            "misses": stats.cache_misses,
            "coalesced": stats.coalesced,
            "entries": stats.cache_entries,
            "bytes": stats.cache_bytes,
            "hit_ratio": hit_ratio,
        },
        "pool": {
            "upstream_calls": stats.upstream_calls,
            "in_flight": stats.upstream_in_flight,
            "in_flight_high_water": stats.upstream_in_flight_high_water,
            "rejected_overloaded": stats.rejected_overloaded,
            "rejected_rate_limited": stats.rejected_rate_limited,
        },
        "restarts": {
            "count": stats.restarts,
            "last_latency_ms": millis(stats.restart_latency_last_micros),
            "max_latency_ms": millis(stats.restart_latency_max_micros),
            "p50_latency_ms": millis(stats.restart_latency_p50_micros),
            "p99_latency_ms": millis(stats.restart_latency_p99_micros),
        },
        "calls": stats.calls,
        "tool_table_generation": stats.tool_table_generation,
    });
    let breakers = if stats.breaker.is_empty() {
        "circuit breaker: not answering".to_string()
    } else {
        stats
            .breaker
            .iter()
            .map(|b| match b.retry_in {
                Some(retry_in) => format!(
                    "circuit breaker {}: {} (retry in {:.1} s)",
                    b.endpoint,
                    b.state,
                    retry_in.as_secs_f64()
                ),
                None => format!(
                    "circuit breaker {}: {}, {} consecutive failures",
                    b.endpoint, b.state, b.consecutive_failures
                ),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ratio = hit_ratio.map_or_else(|| "no lookups yet".to_string(), |r| format!("{:.1}% hits", r * 100.0));
    let text = format!(
        "newrelic-mcp {version}, up {uptime}: {health}\n{breakers}\n\
         cache: {hits} hits, {misses} misses, {coalesced} coalesced ({ratio}); {entries} entries, {bytes}\n\
         pool: {upstream} New Relic calls, {in_flight} in flight (high-water {high_water}), {rejected} rejected as overloaded, {rate_limited} refused by the NRQL rate limit\n\
         restarts: {restarts} (last took {last:.1} ms; p50 {p50:.1} ms, p99 {p99:.1} ms, slowest {max:.1} ms)\n\
         {calls} tool calls served; tool table generation {generation}",
        uptime = format_uptime(uptime),
        health = health.as_str(),
        hits = stats.cache_hits,
        misses = stats.cache_misses,
        coalesced = stats.coalesced,
        entries = stats.cache_entries,
        bytes = format_bytes(stats.cache_bytes),
        upstream = stats.upstream_calls,
        in_flight = stats.upstream_in_flight,
        high_water = stats.upstream_in_flight_high_water,
        rejected = stats.rejected_overloaded,
        rate_limited = stats.rejected_rate_limited,
        restarts = stats.restarts,
        last = millis(stats.restart_latency_last_micros),
        max = millis(stats.restart_latency_max_micros),
        p50 = millis(stats.restart_latency_p50_micros),
        p99 = millis(stats.restart_latency_p99_micros),
        calls = stats.calls,
        generation = stats.tool_table_generation,
    );
    ToolOutput { structured, text }
}

/// The plugins behind a tool table, in load order, with the tools each contributes to it.
pub fn render_plugins(table: &ToolTable) -> ToolOutput {
    let plugins: Vec<Value> = table
        .plugins()
        .iter()
        .map(|plugin| {
            json!({
                "name": plugin.name,
                "version": plugin.version,
                "description": plugin.description,
                "tools": plugin.tools,
            })
        })
        .collect();
    let lines: Vec<String> = table
        .plugins()
        .iter()
        .map(|plugin| {
            let tools = if plugin.tools.is_empty() {
                "no enabled tools".to_string()
            } else {
                plugin.tools.join(", ")
            };
            format!("{} {}: {tools}", plugin.name, plugin.version)
        })
        .collect();
    let text = format!(
        "{} plugins, {} tools (tool table generation {})\n{}",
        table.plugins().len(),
        table.len(),
        table.generation,
        lines.join("\n")
    );
    ToolOutput {
        structured: json!({
            "plugins": plugins,
            "tool_count": table.len(),
            "tool_table_generation": table.generation,
        }),
        text,
    }
}

/// Both tools take no arguments; anything passed is refused by name.
fn no_arguments(arguments: &Map<String, Value>) -> Result<(), PlanError> {
    match arguments.keys().next() {
        None => Ok(()),
        Some(name) => {
            Err(PlanError::InvalidArguments(format!("unknown field `{name}`: this tool takes no arguments")))
        }
    }
}

fn no_arguments_schema() -> Arc<Map<String, Value>> {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), json!({}));
    schema.insert("additionalProperties".into(), json!(false));
    Arc::new(schema)
}

fn descriptor(name: &str, title: &str, description: &str) -> ToolDescriptor {
    ToolDescriptor {
        name: name.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        category: CATEGORY.to_string(),
        input_schema: no_arguments_schema(),
        output_schema: None,
        hints: ToolHints::LOCAL,
        cache_ttl: None,
    }
}

/// A tool answered from the runtime's state through `render`.
struct RuntimeTool {
    descriptor: ToolDescriptor,
    render: StatusRenderer,
}

impl Tool for RuntimeTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    /// Reached only by a runtime that does not offer its live state to tools.
    fn plan(&self, arguments: Map<String, Value>, _context: &PlanContext) -> Result<Plan, PlanError> {
        no_arguments(&arguments)?;
        Err(PlanError::Tool(ToolError::new(
            ToolErrorKind::Internal,
            format!(
                "'{}' needs the runtime's live state, which this runtime does not provide",
                self.descriptor.name
            ),
        )))
    }

    fn runtime_view(&self, arguments: &Map<String, Value>) -> Option<Result<StatusRenderer, PlanError>> {
        Some(no_arguments(arguments).map(|()| self.render.clone()))
    }
}

pub struct ServerPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl ServerPlugin {
    /// Uptime is counted from here: build the plugin when the server starts.
    pub fn new() -> Self {
        let started = Instant::now();
        let version = env!("CARGO_PKG_VERSION");
        let status: StatusRenderer =
            Arc::new(move |view: &RuntimeView| Ok(render_status(&view.stats, version, started.elapsed())));
        let plugins: StatusRenderer = Arc::new(|view: &RuntimeView| Ok(render_plugins(&view.table)));
        Self {
            tools: vec![
                Arc::new(RuntimeTool {
                    descriptor: descriptor(
                        SERVER_STATUS_TOOL,
                        "Get server status",
                        "Health of this newrelic-mcp server: circuit breaker state per New Relic endpoint, \
                         cache hits, misses and size, upstream calls in flight and rejected as overloaded, \
                         component restarts, tool-table generation, version and uptime. Takes no arguments.",
                    ),
                    render: status,
                }),
                Arc::new(RuntimeTool {
                    descriptor: descriptor(
                        LIST_PLUGINS_TOOL,
                        "List plugins",
                        "The plugins loaded in this newrelic-mcp server, with their versions and the tools \
                         each one provides. Takes no arguments.",
                    ),
                    render: plugins,
                }),
            ],
        }
    }
}

impl Default for ServerPlugin {
    fn default() -> Self {
        Self::new()
    }
}

super::builtin::builtin_plugin!(ServerPlugin, "server", "Status and plugins of this server");

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use newrelic_mcp_actors::tool::{PlanContext, ToolFilter};

    use super::*;

    fn breaker(state: &str, retry_in: Option<Duration>) -> BreakerStatus {
        BreakerStatus {
            endpoint: "https://api.newrelic.com/graphql".into(),
            state: state.into(),
            consecutive_failures: if state == "closed" { 0 } else { 5 },
            retry_in,
        }
    }

    fn stats() -> RuntimeStats {
        RuntimeStats {
            calls: 40,
            cache_hits: 30,
            cache_misses: 8,
            coalesced: 2,
            cache_entries: 8,
            cache_bytes: 3 * 1024,
            upstream_calls: 9,
            upstream_in_flight: 1,
            upstream_in_flight_high_water: 4,
            rejected_overloaded: 3,
            rejected_rate_limited: 6,
            breaker: vec![breaker("closed", None)],
            restarts: 2,
            tool_table_generation: 5,
            restart_latency_last_micros: 1_500,
            restart_latency_max_micros: 12_250,
            restart_latency_p50_micros: 2_000,
            restart_latency_p99_micros: 12_000,
            escalated: false,
        }
    }

    #[test]
    fn health_is_the_worst_thing_the_figures_show() {
        let cases = [
            (vec![breaker("closed", None)], false, Health::Healthy),
            (vec![breaker("open", Some(Duration::from_secs(3)))], false, Health::Degraded),
            (vec![breaker("half-open", None)], false, Health::Degraded),
            (vec![], false, Health::Degraded),
            (vec![breaker("closed", None)], true, Health::Stopping),
        ];
        for (breakers, escalated, expected) in cases {
            let stats = RuntimeStats { breaker: breakers.clone(), escalated, ..stats() };
            assert_eq!(health(&stats), expected, "{breakers:?} escalated={escalated}");
        }
    }

    #[test]
    fn hit_ratio_counts_every_lookup() {
        let cases =
            [((0, 0, 0), None), ((30, 8, 2), Some(0.75)), ((5, 0, 0), Some(1.0)), ((0, 3, 1), Some(0.0))];
        for ((hits, misses, coalesced), expected) in cases {
            let stats = RuntimeStats { cache_hits: hits, cache_misses: misses, coalesced, ..stats() };
            assert_eq!(cache_hit_ratio(&stats), expected, "{hits}/{misses}/{coalesced}");
        }
    }

    #[test]
    fn uptime_reads_at_a_glance() {
        let cases =
            [(0, "0s"), (59, "59s"), (61, "1m 1s"), (3_600, "1h 0m"), (7_380, "2h 3m"), (90_000, "1d 1h")];
        for (seconds, expected) in cases {
            assert_eq!(format_uptime(Duration::from_secs(seconds)), expected);
        }
    }

    #[test]
    fn status_carries_every_figure_in_structure_and_text() {
        let output = render_status(&stats(), "1.2.3", Duration::from_secs(125));
        let s = &output.structured;
        assert_eq!(s["server"]["version"], "1.2.3");
        assert_eq!(s["server"]["uptime_seconds"], 125.0);
        assert_eq!(s["health"], "healthy");
        assert_eq!(s["breakers"][0]["state"], "closed");
        assert_eq!(
            s["cache"],
            json!({
                "hits": 30, "misses": 8, "coalesced": 2, "entries": 8, "bytes": 3072, "hit_ratio": 0.75
            })
        );
        assert_eq!(
            s["pool"],
            json!({
                "upstream_calls": 9, "in_flight": 1, "in_flight_high_water": 4, "rejected_overloaded": 3,
                "rejected_rate_limited": 6
            })
        );
        assert_eq!(
            s["restarts"],
            json!({
                "count": 2, "last_latency_ms": 1.5, "max_latency_ms": 12.25, "p50_latency_ms": 2.0,
                "p99_latency_ms": 12.0
            })
        );
        assert_eq!(s["tool_table_generation"], 5);
        assert_eq!(s["calls"], 40);
        for expected in [
            "newrelic-mcp 1.2.3, up 2m 5s: healthy",
            "closed, 0 consecutive failures",
            "30 hits, 8 misses, 2 coalesced (75.0% hits); 8 entries, 3.0 KiB",
            "9 New Relic calls, 1 in flight (high-water 4), 3 rejected as overloaded, 6 refused by the NRQL rate limit",
            "restarts: 2 (last took 1.5 ms; p50 2.0 ms, p99 12.0 ms, slowest 12.2 ms)",
            "tool table generation 5",
        ] {
            assert!(output.text.contains(expected), "missing {expected:?} in:\n{}", output.text);
        }
    }

    #[test]
    fn an_open_breaker_says_when_it_retries() {
        let stats =
            RuntimeStats { breaker: vec![breaker("open", Some(Duration::from_millis(2_500)))], ..stats() };
        let output = render_status(&stats, "1", Duration::ZERO);
        assert_eq!(output.structured["health"], "degraded");
        assert_eq!(output.structured["breakers"][0]["retry_in_seconds"], 2.5);
        assert!(output.text.contains(": open (retry in 2.5 s)"), "{}", output.text);
    }

    #[test]
    fn plugins_list_their_enabled_tools_in_load_order() {
        let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(ServerPlugin::new())];
        let filter = ToolFilter { disabled_tools: vec![LIST_PLUGINS_TOOL.into()], ..ToolFilter::default() };
        let table = ToolTable::build(&plugins, &filter, 7).unwrap();
        let output = render_plugins(&table);
        assert_eq!(output.structured["plugins"][0]["name"], "server");
        assert_eq!(output.structured["plugins"][0]["tools"], json!([SERVER_STATUS_TOOL]));
        assert_eq!(output.structured["tool_count"], 1);
        assert_eq!(output.structured["tool_table_generation"], 7);
        assert!(output.text.starts_with("1 plugins, 1 tools (tool table generation 7)"), "{}", output.text);
        assert!(output.text.contains(&format!("server {}: get_server_status", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn both_tools_refuse_arguments_and_answer_only_from_the_runtime() {
        let plugin = ServerPlugin::new();
        let context = PlanContext {
            default_account: None,
            allowed_accounts: None,
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(1),
        };
        for tool in plugin.tools() {
            let descriptor = tool.descriptor();
            assert_eq!(descriptor.category, "server");
            assert!(descriptor.hints.read_only && !descriptor.hints.open_world);
            assert_eq!(descriptor.cache_ttl, None);
            assert!(matches!(tool.runtime_view(&Map::new()), Some(Ok(_))), "{}", descriptor.name);
            let mut arguments = Map::new();
            arguments.insert("verbose".into(), json!(true));
            let Some(Err(PlanError::InvalidArguments(reason))) = tool.runtime_view(&arguments) else {
                panic!("{} accepted an argument", descriptor.name)
            };
            assert!(reason.contains("verbose"), "{reason}");
            assert!(matches!(tool.plan(Map::new(), &context), Err(PlanError::Tool(_))));
        }
    }

    #[test]
    fn the_status_tool_renders_this_build_s_version() {
        let plugin = ServerPlugin::new();
        let tool = plugin.tools().into_iter().find(|t| t.descriptor().name == SERVER_STATUS_TOOL).unwrap();
        let Some(Ok(render)) = tool.runtime_view(&Map::new()) else { panic!("no renderer") };
        let view = RuntimeView { stats: stats(), table: Arc::new(ToolTable::default()) };
        let output = render(&view).unwrap();
        assert_eq!(output.structured["server"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(output.structured["server"]["uptime_seconds"].as_f64().unwrap() >= 0.0);
    }
}
