//! Server: tools that report on newrelic-mcp itself rather than on New Relic.
//!
//! `get_server_status` answers with the runtime's live figures (health, circuit breakers,
//! cache, executor pool, restarts, tool-table generation, version and uptime) and the accounts
//! the server is configured with; `list_plugins` with the plugins behind the tool table the
//! call was routed on. Neither calls New Relic nor caches: the runtime hands them its state,
//! and the renderers here are pure functions of it.
//!
//! Both take `account_id` like every other tool, checked against the allow-list, so that an
//! agent can pass the same arguments everywhere. Their answers are the same for every account;
//! the status says which account calls default to and that the given one passes the allow-list.

use std::sync::Arc;
use std::time::{Duration, Instant};

use newrelic_mcp_actors::call::{BreakerStatus, RuntimeStats};
use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, RuntimeView, StatusRenderer, Tool, ToolDescriptor, ToolError,
    ToolErrorKind, ToolHints, ToolOutput, ToolTable,
};
use serde_json::{Map, Value, json};

use super::account::check_allowed;

const CATEGORY: &str = "server";

/// Name of the status tool; the load-test harness reads its counters by this name.
pub const SERVER_STATUS_TOOL: &str = "get_server_status";
pub const LIST_PLUGINS_TOOL: &str = "list_plugins";

/// Restarts of one component within the supervisor's restart window from which it counts as
/// restarting in a loop rather than recovering from a one-off crash.
pub const RESTARTING_AT: u64 = 3;

/// Overall health, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The supervisor gave up; the process is about to exit.
    Stopping,
    /// A component keeps crashing and being restarted (its state, such as an open breaker,
    /// is lost each time).
    Unhealthy,
    /// New Relic calls are being refused or probed (a breaker is not closed), or the
    /// breaker did not answer.
    Degraded,
    Healthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopping => "stopping",
            Self::Unhealthy => "unhealthy",
            Self::Degraded => "degraded",
            Self::Healthy => "healthy",
        }
    }
}

/// Health as the figures tell it.
pub fn health(stats: &RuntimeStats) -> Health {
    if stats.escalated {
        Health::Stopping
    } else if stats.recent_restarts >= RESTARTING_AT {
        Health::Unhealthy
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
            "recent_of_one_component": stats.recent_restarts,
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

/// The accounts the server is configured with: the one calls default to and the allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountScope {
    pub default_account: Option<i64>,
    /// `None` allows every account the API key can read.
    pub allowed_accounts: Option<Arc<[i64]>>,
}

impl AccountScope {
    /// Refuses an account outside the allow-list, in the words every other tool uses.
    fn check(&self, account: i64) -> Result<(), ToolError> {
        let context = PlanContext {
            default_account: self.default_account,
            allowed_accounts: self.allowed_accounts.clone(),
            now_epoch_ms: 0,
            default_timeout: Duration::ZERO,
        };
        check_allowed(account, &context)
    }
}

/// The configured accounts, and the call's own when it gave one (already checked), for the status.
pub fn render_accounts(scope: &AccountScope, requested: Option<i64>) -> (Value, String) {
    let structured = json!({
        "default_account": scope.default_account,
        "allowed_accounts": scope.allowed_accounts.as_deref(),
        "requested_account": requested,
        "requested_allowed": requested.map(|_| true),
    });
    let default = scope
        .default_account
        .map_or_else(|| "none (calls must pass account_id)".to_string(), |a| a.to_string());
    let allowed = match scope.allowed_accounts.as_deref() {
        None => "any the API key can read".to_string(),
        Some(accounts) => accounts.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
    };
    let requested =
        requested.map(|account| format!("; account {account} passes the allow-list")).unwrap_or_default();
    (structured, format!("accounts: default {default}; allowed: {allowed}{requested}"))
}

/// Both tools take only `account_id`; anything else is refused by name.
fn account_argument(arguments: &Map<String, Value>) -> Result<Option<i64>, PlanError> {
    if let Some(name) = arguments.keys().find(|name| name.as_str() != "account_id") {
        return Err(PlanError::InvalidArguments(format!(
            "unknown field `{name}`: this tool takes only account_id"
        )));
    }
    match arguments.get("account_id") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_i64().map(Some).ok_or_else(|| {
            PlanError::InvalidArguments(format!("account_id must be an integer account id, got {value}"))
        }),
    }
}

fn account_only_schema(description: &str) -> Arc<Map<String, Value>> {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert(
        "properties".into(),
        json!({
            "account_id": {
                "type": ["integer", "null"],
                "format": "int64",
                "description": description,
            }
        }),
    );
    schema.insert("additionalProperties".into(), json!(false));
    Arc::new(schema)
}

fn descriptor(name: &str, title: &str, description: &str, account_description: &str) -> ToolDescriptor {
    ToolDescriptor {
        name: name.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        category: CATEGORY.to_string(),
        input_schema: account_only_schema(account_description),
        output_schema: None,
        hints: ToolHints::LOCAL,
        cache_ttl: None,
    }
}

/// Renders the runtime's state for a call that passed `account_id` (already checked) or not.
type AccountRenderer = Arc<dyn Fn(&RuntimeView, Option<i64>) -> Result<ToolOutput, ToolError> + Send + Sync>;

/// A tool answered from the runtime's state through `render`.
struct RuntimeTool {
    descriptor: ToolDescriptor,
    accounts: AccountScope,
    render: AccountRenderer,
}

impl RuntimeTool {
    fn renderer(&self, arguments: &Map<String, Value>) -> Result<StatusRenderer, PlanError> {
        let requested = account_argument(arguments)?;
        if let Some(account) = requested {
            self.accounts.check(account)?;
        }
        let render = self.render.clone();
        Ok(Arc::new(move |view: &RuntimeView| render(view, requested)))
    }
}

impl Tool for RuntimeTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    /// Reached only by a runtime that does not offer its live state to tools.
    fn plan(&self, arguments: Map<String, Value>, _context: &PlanContext) -> Result<Plan, PlanError> {
        self.renderer(&arguments)?;
        Err(PlanError::Tool(ToolError::new(
            ToolErrorKind::Internal,
            format!(
                "'{}' needs the runtime's live state, which this runtime does not provide",
                self.descriptor.name
            ),
        )))
    }

    fn runtime_view(&self, arguments: &Map<String, Value>) -> Option<Result<StatusRenderer, PlanError>> {
        Some(self.renderer(arguments))
    }
}

pub struct ServerPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl ServerPlugin {
    /// With no default account and no allow-list. Uptime is counted from here: build the
    /// plugin when the server starts.
    pub fn new() -> Self {
        Self::with_accounts(AccountScope::default())
    }

    /// Reports `accounts` and checks `account_id` against them. Uptime is counted from here.
    pub fn with_accounts(accounts: AccountScope) -> Self {
        let started = Instant::now();
        let version = env!("CARGO_PKG_VERSION");
        let scope = accounts.clone();
        let status: AccountRenderer = Arc::new(move |view: &RuntimeView, requested: Option<i64>| {
            let mut output = render_status(&view.stats, version, started.elapsed());
            let (structured, line) = render_accounts(&scope, requested);
            if let Value::Object(fields) = &mut output.structured {
                fields.insert("accounts".into(), structured);
            }
            output.text.push('\n');
            output.text.push_str(&line);
            Ok(output)
        });
        let plugins: AccountRenderer = Arc::new(|view: &RuntimeView, _| Ok(render_plugins(&view.table)));
        Self {
            tools: vec![
                Arc::new(RuntimeTool {
                    descriptor: descriptor(
                        SERVER_STATUS_TOOL,
                        "Get server status",
                        "Health of this newrelic-mcp server: circuit breaker state per New Relic endpoint, \
                         cache hits, misses and size, upstream calls in flight and rejected as overloaded, \
                         component restarts, tool-table generation, version, uptime, and the accounts calls \
                         default to and may use.",
                        "Optional; the status is the same for every account. When given, it is checked \
                         against the allowed accounts and the answer confirms it may be used.",
                    ),
                    accounts: accounts.clone(),
                    render: status,
                }),
                Arc::new(RuntimeTool {
                    descriptor: descriptor(
                        LIST_PLUGINS_TOOL,
                        "List plugins",
                        "The plugins loaded in this newrelic-mcp server, with their versions and the tools \
                         each one provides.",
                        "Optional, accepted like on every tool and checked against the allowed accounts; \
                         the plugins are the same for every account.",
                    ),
                    accounts,
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
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

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
            recent_restarts: 0,
            escalated: false,
        }
    }

    #[test]
    fn health_is_the_worst_thing_the_figures_show() {
        let restarting = RESTARTING_AT;
        let cases = [
            (vec![breaker("closed", None)], false, 0, Health::Healthy),
            (vec![breaker("closed", None)], false, restarting - 1, Health::Healthy),
            (vec![breaker("open", Some(Duration::from_secs(3)))], false, 0, Health::Degraded),
            (vec![breaker("half-open", None)], false, 0, Health::Degraded),
            (vec![], false, 0, Health::Degraded),
            // A breaker that crashes and comes back closed each time is not healthy.
            (vec![breaker("closed", None)], false, restarting, Health::Unhealthy),
            (vec![breaker("open", Some(Duration::from_secs(3)))], false, restarting, Health::Unhealthy),
            (vec![breaker("closed", None)], true, restarting, Health::Stopping),
            (vec![breaker("closed", None)], true, 0, Health::Stopping),
        ];
        for (breakers, escalated, recent_restarts, expected) in cases {
            let stats = RuntimeStats { breaker: breakers.clone(), escalated, recent_restarts, ..stats() };
            assert_eq!(health(&stats), expected, "{breakers:?} escalated={escalated} {recent_restarts}");
        }
        assert_eq!(Health::Unhealthy.as_str(), "unhealthy");
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
                "count": 2, "recent_of_one_component": 0, "last_latency_ms": 1.5, "max_latency_ms": 12.25,
                "p50_latency_ms": 2.0, "p99_latency_ms": 12.0
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

    fn scope(default_account: Option<i64>, allowed: Option<&[i64]>) -> AccountScope {
        AccountScope { default_account, allowed_accounts: allowed.map(Arc::from) }
    }

    #[test]
    fn both_tools_take_only_an_allowed_account_and_answer_only_from_the_runtime() {
        let plugin = ServerPlugin::with_accounts(scope(Some(1), Some(&[1, 2])));
        let context = PlanContext {
            default_account: None,
            allowed_accounts: None,
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(1),
        };
        // (arguments, Ok, or the needle of an invalid-params error, or a tool error kind)
        let cases: Vec<(Value, Result<(), Result<&str, ToolErrorKind>>)> = vec![
            (json!({}), Ok(())),
            (json!({"account_id": 2}), Ok(())),
            (json!({"account_id": null}), Ok(())),
            (json!({"account_id": 3}), Err(Err(ToolErrorKind::Policy))),
            (json!({"account_id": "one"}), Err(Ok("integer"))),
            (json!({"verbose": true}), Err(Ok("verbose"))),
            (json!({"account_id": 1, "verbose": true}), Err(Ok("verbose"))),
        ];
        for tool in plugin.tools() {
            let descriptor = tool.descriptor();
            assert_eq!(descriptor.category, "server");
            assert!(descriptor.hints.read_only && !descriptor.hints.open_world);
            assert_eq!(descriptor.cache_ttl, None);
            assert!(descriptor.input_schema["properties"]["account_id"].is_object(), "{}", descriptor.name);
            for (arguments, expected) in &cases {
                let Value::Object(arguments) = arguments.clone() else { panic!() };
                let outcome = tool.runtime_view(&arguments).expect("answered from the runtime");
                match (outcome, expected) {
                    (Ok(_), Ok(())) => {}
                    (Err(PlanError::InvalidArguments(reason)), Err(Ok(needle))) => {
                        assert!(reason.contains(needle), "{reason}");
                    }
                    (Err(PlanError::Tool(error)), Err(Err(kind))) => {
                        assert_eq!(error.kind, *kind);
                        assert!(error.message.contains("1, 2"), "{}", error.message);
                    }
                    (other, expected) => panic!(
                        "{} {arguments:?}: {other:?}, expected {expected:?}",
                        descriptor.name,
                        other = other.map(|_| "a renderer")
                    ),
                }
            }
            assert!(matches!(tool.plan(Map::new(), &context), Err(PlanError::Tool(_))));
        }
    }

    #[test]
    fn the_status_names_the_configured_accounts_and_confirms_the_given_one() {
        let cases = [
            (
                scope(Some(1), Some(&[1, 2])),
                Some(2),
                "accounts: default 1; allowed: 1, 2; account 2 passes the allow-list",
            ),
            (scope(Some(1), None), None, "accounts: default 1; allowed: any the API key can read"),
            (scope(None, None), None, "accounts: default none (calls must pass account_id); allowed: any"),
        ];
        for (scope, requested, expected) in cases {
            let plugin = ServerPlugin::with_accounts(scope.clone());
            let tool =
                plugin.tools().into_iter().find(|t| t.descriptor().name == SERVER_STATUS_TOOL).unwrap();
            let mut arguments = Map::new();
            if let Some(account) = requested {
                arguments.insert("account_id".into(), json!(account));
            }
            let Some(Ok(render)) = tool.runtime_view(&arguments) else { panic!("no renderer") };
            let view = RuntimeView { stats: stats(), table: Arc::new(ToolTable::default()) };
            let output = render(&view).unwrap();
            assert!(output.text.contains(expected), "missing {expected:?} in:\n{}", output.text);
            let accounts = &output.structured["accounts"];
            assert_eq!(accounts["default_account"], json!(scope.default_account));
            assert_eq!(accounts["allowed_accounts"], json!(scope.allowed_accounts.as_deref()));
            assert_eq!(accounts["requested_account"], json!(requested));
            assert_eq!(accounts["requested_allowed"], json!(requested.map(|_| true)));
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
