//! Configuration: command-line flags over environment over a TOML file.
//!
//! Resolution is a pure function of the three sources (the environment is passed in as a
//! lookup), so every precedence rule and every refusal is unit-tested. Unknown keys in the
//! file are refused by name; the API key is held as a secret from the moment it is read.

pub mod bounds;
pub mod tool_names;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::nerdgraph::endpoint::{Endpoint, EndpointError, LoopbackPolicy, Region};
use newrelic_mcp_actors::tool::{ToolFilter, WriteAccess};
use newrelic_mcp_nrql::Policy;

use self::bounds::flag_or_file;
pub use self::bounds::{Bound, OutOfRange, Source};
pub use self::tool_names::{KnownNames, NamedList, ToolSelection, UnknownNames};
use self::tool_names::{clean_names, split_names};

/// The configuration file, every field optional. Unknown keys are refused.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// New Relic User API key (`NRAK-…`). Prefer `NEW_RELIC_API_KEY` over writing it in a file.
    pub api_key: Option<String>,
    /// Account used when a tool call names none.
    pub account_id: Option<i64>,
    /// Data-center region: `US`, `EU` or `JP`.
    pub region: Option<String>,
    /// A NerdGraph URL other than the region's: https on newrelic.com, or loopback with `allow_local_endpoint`.
    pub nerdgraph_url: Option<String>,
    /// Permit a loopback `nerdgraph_url` (a local proxy or test double).
    pub allow_local_endpoint: Option<bool>,
    /// Accounts tool calls may touch; every other account is refused.
    pub allowed_accounts: Option<Vec<i64>>,
    /// Log line format on stderr: `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// Only tools of these categories are offered (default: [`DEFAULT_CATEGORIES`]; `["all"]` for every one).
    pub enabled_categories: Option<Vec<String>>,
    /// Only these tools are offered (after categories).
    pub enabled_tools: Option<Vec<String>>,
    /// These tools are never offered.
    pub disabled_tools: Option<Vec<String>>,
    /// Offer the tools that create or change things in New Relic (default false).
    pub enable_writes: Option<bool>,
    /// Also offer the tools that delete things; implies `enable_writes` (default false).
    pub enable_destructive: Option<bool>,
    /// Also let `query_nerdgraph` send mutations that mint or revoke credentials and access or
    /// administer accounts, users and roles; only together with `enable_destructive` (default false).
    pub enable_admin_mutations: Option<bool>,
    /// A directory of plugin manifests (`*.toml`), loaded at start and watched for changes.
    pub plugin_dir: Option<PathBuf>,
    /// Runtime sizing.
    pub runtime: Option<RuntimeFile>,
    /// Rules every NRQL query must pass before it leaves the server.
    pub nrql: Option<NrqlFile>,
    /// The built-in sandbox's fault injection (only with `--sandbox`).
    pub sandbox: Option<SandboxFile>,
}

/// `[nrql]` in the configuration file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NrqlFile {
    /// Longest time window a query may span, in days (default 30).
    pub max_window_days: Option<u64>,
    /// Highest LIMIT a query may ask for (default 1000; New Relic's own maximum is 5000).
    pub max_limit: Option<u32>,
    /// Event types queries may read; any other is refused. Default: all.
    pub allowed_event_types: Option<Vec<String>>,
}

/// `[runtime]` in the configuration file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeFile {
    /// Cache shards (default: the number of cores).
    pub cache_shards: Option<usize>,
    /// Cache size across all shards, in MiB (default 64).
    pub cache_capacity_mb: Option<u64>,
    /// NerdGraph requests in flight at most (default 20; New Relic allows 25 per user).
    pub executor_workers: Option<usize>,
    /// Calls waiting for a worker before new ones are refused as overloaded (default 256).
    pub executor_queue: Option<usize>,
    /// Deadline of a call whose tool sets none, in seconds (default 30).
    pub default_timeout_seconds: Option<u64>,
    /// NRQL queries this server sends per account per minute (default 3000, New Relic's own
    /// limit); past it a query is refused with a retry time. Cache hits do not count.
    pub nrql_per_minute: Option<u32>,
    /// Attempts per NerdGraph read, the first included (default 5): at a 30% transient
    /// failure rate more than 99.7% of reads still succeed.
    pub upstream_attempts: Option<u32>,
    /// Consecutive failed NerdGraph calls that open the circuit breaker (default 5).
    pub breaker_failure_threshold: Option<u32>,
    /// How long an open breaker fails calls at once before probing again, in seconds (default 10).
    pub breaker_open_seconds: Option<u64>,
}

/// `[sandbox]` in the configuration file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxFile {
    /// Added latency per request, in milliseconds.
    pub latency_ms: Option<u64>,
    /// Share of requests answered with HTTP 5xx, 0 to 1.
    pub error_5xx_rate: Option<f64>,
    /// Share of requests answered with HTTP 429 and Retry-After, 0 to 1.
    pub rate_429_rate: Option<f64>,
    /// Share of requests answered with a GraphQL TIMEOUT error, 0 to 1.
    pub graphql_timeout_rate: Option<f64>,
    /// Seed of the synthetic data and of fault injection.
    pub seed: Option<u64>,
    /// `nrqlQueryProgress` polls a long async NRQL query needs before it answers.
    pub async_polls: Option<u32>,
    /// The `retryAfter`, in seconds, answered while an async NRQL query runs.
    pub async_retry_after_seconds: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What the command line says; `None` and `false` defer to the environment and the file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub sandbox: bool,
    pub account_id: Option<i64>,
    pub region: Option<String>,
    pub nerdgraph_url: Option<String>,
    pub allow_local_endpoint: bool,
    pub allowed_accounts: Option<Vec<i64>>,
    pub log_format: Option<LogFormat>,
    pub cache_shards: Option<usize>,
    pub executor_workers: Option<usize>,
    pub executor_queue: Option<usize>,
    pub nrql_per_minute: Option<u32>,
    pub sandbox_faults: SandboxFile,
    pub enabled_categories: Option<Vec<String>>,
    pub enabled_tools: Option<Vec<String>>,
    pub disabled_tools: Option<Vec<String>>,
    pub plugin_dir: Option<PathBuf>,
    /// `--enable-writes`: offer the tools that create or change things.
    pub enable_writes: bool,
    /// `--enable-destructive`: also offer the tools that delete things.
    pub enable_destructive: bool,
    /// `--enable-admin-mutations`: also let raw mutations administer credentials and accounts.
    pub enable_admin_mutations: bool,
}

/// Where tool calls go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The built-in sandbox, started in-process on loopback.
    Sandbox(SandboxSettings),
    /// New Relic itself.
    NewRelic { api_key: SecretString, endpoint: Endpoint },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxSettings {
    pub latency: Duration,
    pub error_5xx_rate: f64,
    pub rate_429_rate: f64,
    pub graphql_timeout_rate: f64,
    pub seed: Option<u64>,
    /// `None`: the sandbox's own default.
    pub async_polls: Option<u32>,
    /// `None`: the sandbox's own default.
    pub async_retry_after_seconds: Option<u64>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    pub default_account: Option<i64>,
    pub allowed_accounts: Option<Vec<i64>>,
    pub log_format: LogFormat,
    pub cache_shards: Option<usize>,
    pub cache_capacity_bytes: u64,
    pub executor_workers: usize,
    pub executor_queue: usize,
    pub default_timeout: Duration,
    /// NRQL queries sent per account per minute at most.
    pub nrql_per_minute: u32,
    /// Attempts per NerdGraph read, the first included.
    pub upstream_attempts: u32,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker fails calls at once before one probe.
    pub breaker_open_for: Duration,
    /// Checked before any NRQL query leaves the server.
    pub nrql_policy: Policy,
    /// Which tools clients see.
    pub tool_filter: ToolFilter,
    /// The tool-selection lists as given, checked against the tools there are at start.
    pub tool_selection: ToolSelection,
    /// Where plugin manifests are loaded from and watched, when set.
    pub plugin_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no New Relic API key: set NEW_RELIC_API_KEY to a User key (NRAK-…), or run with --sandbox \
         to try the server on built-in synthetic data"
    )]
    MissingApiKey,
    #[error("cannot read the configuration file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("configuration file {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{name} is '{value}', which is not {expected}")]
    BadValue { name: &'static str, value: String, expected: &'static str },
    #[error("{0}")]
    Region(String),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(
        "enable_admin_mutations is set but enable_destructive is not: mutations that administer \
         credentials, access and accounts run only with destructive access too; set both \
         (--enable-destructive --enable-admin-mutations), or neither"
    )]
    AdminMutationsWithoutDestructive,
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    #[error(transparent)]
    UnknownNames(Box<UnknownNames>),
}

impl From<Box<UnknownNames>> for ConfigError {
    fn from(error: Box<UnknownNames>) -> Self {
        Self::UnknownNames(error)
    }
}

impl ConfigError {
    /// The process exit code for this error: 2, a usage error.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// Reads and parses the file at `path`. A relative `plugin_dir` is taken from the file's folder.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::Unreadable { path: shown.clone(), reason: error.to_string() })?;
    let mut file = parse_file(&text).map_err(|reason| ConfigError::Invalid { path: shown, reason })?;
    if let (Some(dir), Some(folder)) = (&file.plugin_dir, path.parent())
        && dir.is_relative()
    {
        file.plugin_dir = Some(folder.join(dir));
    }
    Ok(file)
}

/// Parses configuration TOML; the error names the unknown or ill-typed key and its line.
pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|error| error.to_string().trim().replace('\n', " "))
}

fn parse_env<T: std::str::FromStr>(
    name: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    match env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => value.parse().map(Some).map_err(|_| ConfigError::BadValue { name, value, expected }),
    }
}

fn parse_account_list(name: &'static str, value: &str) -> Result<Vec<i64>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse().map_err(|_| ConfigError::BadValue {
                name,
                value: value.to_string(),
                expected: "a comma-separated list of account ids",
            })
        })
        .collect()
}

/// The categories offered when none are configured: what an agent on call reaches for first
/// (finding entities, NRQL, alerts and issues, incident analysis, logs, the server itself) and
/// the manifest plugins an operator installed. `performance-analytics`, `infrastructure` and
/// `raw` (`query_nerdgraph`) are opt-in; they would more than double the tool list that sits in
/// a model's context on every turn.
pub const DEFAULT_CATEGORIES: [&str; 7] =
    ["discovery", "data-access", "alerting", "incident-response", "logs", "server", "plugins"];

/// The category value that offers every category.
pub const ALL_CATEGORIES: &str = "all";

/// The configured categories: the default set when none are given, no restriction when the
/// list names `all`.
fn enabled_categories(configured: Option<&NamedList>) -> Option<Vec<String>> {
    match configured {
        None => Some(DEFAULT_CATEGORIES.iter().map(|category| category.to_string()).collect()),
        Some(list) if list.names.iter().any(|category| category == ALL_CATEGORIES) => None,
        Some(list) => Some(list.names.clone()),
    }
}

/// A list of names from the flag, else the environment (comma-separated), else the file; one
/// parser for all three: items trimmed, empty ones dropped, names kept exact. A list left
/// empty counts as not given.
fn name_list(
    setting: &'static str,
    (flag_value, flag_name): (&Option<Vec<String>>, &'static str),
    env_name: &'static str,
    lookup: &dyn Fn(&str) -> Option<String>,
    file: &Option<Vec<String>>,
) -> Option<NamedList> {
    let given = |names: Vec<String>, origin: Source| {
        (!names.is_empty()).then_some(NamedList { setting, origin, names })
    };
    flag_value
        .as_ref()
        .and_then(|items| given(clean_names(items.iter().map(String::as_str)), Source::Flag(flag_name)))
        .or_else(|| lookup(env_name).and_then(|text| given(split_names(&text), Source::Env(env_name))))
        .or_else(|| {
            file.as_ref().and_then(|items| given(clean_names(items.iter().map(String::as_str)), Source::File))
        })
}

/// A yes/no setting from the environment: `true`/`false`/`1`/`0` (any case); blank is unset.
fn parse_switch(
    name: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<bool>, ConfigError> {
    let Some(value) = env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(ConfigError::BadValue { name, value, expected: "true, false, 1 or 0" }),
    }
}

/// Which tools that change New Relic are offered: each switch from the flag, else the
/// environment, else the file; destructive tools bring the other write tools with them.
/// Administration does not bring destructive access: an operator who allows one must have
/// chosen the other, not got it by accident.
fn write_access(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> Result<WriteAccess, ConfigError> {
    let writes = if overrides.enable_writes {
        true
    } else {
        parse_switch("NEW_RELIC_MCP_ENABLE_WRITES", env)?.or(file.enable_writes).unwrap_or(false)
    };
    let destructive = if overrides.enable_destructive {
        true
    } else {
        parse_switch("NEW_RELIC_MCP_ENABLE_DESTRUCTIVE", env)?.or(file.enable_destructive).unwrap_or(false)
    };
    let administration = if overrides.enable_admin_mutations {
        true
    } else {
        parse_switch("NEW_RELIC_MCP_ENABLE_ADMIN_MUTATIONS", env)?
            .or(file.enable_admin_mutations)
            .unwrap_or(false)
    };
    Ok(if administration {
        if !destructive {
            return Err(ConfigError::AdminMutationsWithoutDestructive);
        }
        WriteAccess::Administration
    } else if destructive {
        WriteAccess::Destructive
    } else if writes {
        WriteAccess::Writes
    } else {
        WriteAccess::ReadOnly
    })
}

fn check_rate(name: &'static str, rate: Option<f64>) -> Result<f64, ConfigError> {
    match rate {
        None => Ok(0.0),
        Some(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        Some(rate) => {
            Err(ConfigError::BadValue { name, value: rate.to_string(), expected: "a share from 0 to 1" })
        }
    }
}

/// Combines flags, environment and file; flags win, then the environment, then the file.
pub fn resolve(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<FileConfig>,
) -> Result<Settings, ConfigError> {
    let file = file.unwrap_or_default();
    let runtime = file.runtime.clone().unwrap_or_default();

    let default_account = match overrides.account_id {
        Some(account) => Some(account),
        None => parse_env("NEW_RELIC_ACCOUNT_ID", env, "an account id (a number)")?.or(file.account_id),
    };
    let allowed_accounts = match &overrides.allowed_accounts {
        Some(accounts) => Some(accounts.clone()),
        None => match env("NEW_RELIC_ALLOWED_ACCOUNTS").filter(|v| !v.trim().is_empty()) {
            Some(value) => Some(parse_account_list("NEW_RELIC_ALLOWED_ACCOUNTS", &value)?),
            None => file.allowed_accounts.clone(),
        },
    };
    if let (Some(account), Some(allowed)) = (default_account, &allowed_accounts)
        && !allowed.contains(&account)
    {
        return Err(ConfigError::BadValue {
            name: "account_id",
            value: account.to_string(),
            expected: "one of the allowed accounts",
        });
    }

    let target = if overrides.sandbox {
        Target::Sandbox(sandbox_settings(&overrides.sandbox_faults, file.sandbox.as_ref())?)
    } else {
        let api_key = env("NEW_RELIC_API_KEY")
            .or(file.api_key.clone())
            .map(|key| key.trim().to_string())
            .filter(|key| !key.is_empty())
            .ok_or(ConfigError::MissingApiKey)?;
        let region =
            match overrides.region.clone().or_else(|| env("NEW_RELIC_REGION")).or(file.region.clone()) {
                Some(region) => {
                    region.trim().parse::<Region>().map_err(|error| ConfigError::Region(error.to_string()))?
                }
                None => Region::default(),
            };
        let allow_local = overrides.allow_local_endpoint || file.allow_local_endpoint.unwrap_or(false);
        let custom = overrides
            .nerdgraph_url
            .clone()
            .or_else(|| env("NEW_RELIC_NERDGRAPH_URL"))
            .or(file.nerdgraph_url.clone())
            .filter(|url| !url.trim().is_empty());
        let endpoint = match custom {
            Some(url) => Endpoint::custom(
                url.trim(),
                if allow_local { LoopbackPolicy::Permit } else { LoopbackPolicy::Refuse },
            )?,
            None => Endpoint::for_region(region)?,
        };
        Target::NewRelic { api_key: SecretString::from(api_key), endpoint }
    };

    let nrql = file.nrql.clone().unwrap_or_default();
    let defaults = Policy::default();
    let in_file = |value: Option<u64>| value.map(|value| (value, Source::File));
    let max_limit = bounds::NRQL_MAX_LIMIT
        .resolve(nrql.max_limit.map(|limit| (limit, Source::File)), u64::from(defaults.max_limit))?;
    let nrql_policy = Policy {
        max_window: match nrql.max_window_days {
            Some(days) => {
                let days = bounds::NRQL_MAX_WINDOW_DAYS.check(days, Source::File)?;
                Duration::from_secs(days.saturating_mul(86_400))
            }
            None => defaults.max_window,
        },
        max_limit: u32::try_from(max_limit).unwrap_or(defaults.max_limit),
        allowed_event_types: nrql.allowed_event_types.clone(),
        allowed_accounts: allowed_accounts.clone(),
        ..defaults
    };

    let write_access = write_access(overrides, env, &file)?;
    let tool_selection = ToolSelection {
        enabled_categories: name_list(
            "enabled_categories",
            (&overrides.enabled_categories, "--enabled-categories"),
            "NEW_RELIC_MCP_ENABLED_CATEGORIES",
            env,
            &file.enabled_categories,
        ),
        enabled_tools: name_list(
            "enabled_tools",
            (&overrides.enabled_tools, "--enabled-tools"),
            "NEW_RELIC_MCP_ENABLED_TOOLS",
            env,
            &file.enabled_tools,
        ),
        disabled_tools: name_list(
            "disabled_tools",
            (&overrides.disabled_tools, "--disabled-tools"),
            "NEW_RELIC_MCP_DISABLED_TOOLS",
            env,
            &file.disabled_tools,
        ),
    };
    let tool_filter = ToolFilter {
        enabled_categories: enabled_categories(tool_selection.enabled_categories.as_ref()),
        enabled_tools: tool_selection.enabled_tools.as_ref().map(|list| list.names.clone()),
        disabled_tools: tool_selection
            .disabled_tools
            .as_ref()
            .map(|list| list.names.clone())
            .unwrap_or_default(),
        write_access,
    };
    let cache_shards = match flag_or_file(overrides.cache_shards, "--cache-shards", runtime.cache_shards) {
        Some((shards, origin)) => Some(bounds::CACHE_SHARDS.check(shards, origin)?),
        None => None,
    };
    let cache_capacity_mb = bounds::CACHE_CAPACITY_MB.resolve(in_file(runtime.cache_capacity_mb), 64)?;
    let executor_workers = bounds::EXECUTOR_WORKERS.resolve(
        flag_or_file(overrides.executor_workers, "--executor-workers", runtime.executor_workers),
        20,
    )?;
    let executor_queue = bounds::EXECUTOR_QUEUE
        .resolve(flag_or_file(overrides.executor_queue, "--executor-queue", runtime.executor_queue), 256)?;
    let default_timeout_seconds =
        bounds::DEFAULT_TIMEOUT_SECONDS.resolve(in_file(runtime.default_timeout_seconds), 30)?;
    let nrql_per_minute = bounds::NRQL_PER_MINUTE.resolve(
        flag_or_file(overrides.nrql_per_minute, "--nrql-per-minute", runtime.nrql_per_minute),
        3_000,
    )?;
    let upstream_attempts =
        bounds::UPSTREAM_ATTEMPTS.resolve(runtime.upstream_attempts.map(|n| (n, Source::File)), 5)?;
    let breaker_failure_threshold = bounds::BREAKER_FAILURE_THRESHOLD
        .resolve(runtime.breaker_failure_threshold.map(|n| (n, Source::File)), 5)?;
    let breaker_open_seconds =
        bounds::BREAKER_OPEN_SECONDS.resolve(in_file(runtime.breaker_open_seconds), 10)?;
    Ok(Settings {
        target,
        default_account,
        allowed_accounts,
        log_format: overrides.log_format.or(file.log_format).unwrap_or_default(),
        cache_shards: cache_shards.map(to_usize),
        // Within its bound the product cannot overflow.
        cache_capacity_bytes: cache_capacity_mb.saturating_mul(1024 * 1024),
        executor_workers: to_usize(executor_workers),
        executor_queue: to_usize(executor_queue),
        default_timeout: Duration::from_secs(default_timeout_seconds),
        nrql_per_minute: to_u32(nrql_per_minute),
        upstream_attempts: to_u32(upstream_attempts),
        breaker_failure_threshold: to_u32(breaker_failure_threshold),
        breaker_open_for: Duration::from_secs(breaker_open_seconds),
        nrql_policy,
        plugin_dir: overrides
            .plugin_dir
            .clone()
            .or_else(|| {
                env("NEW_RELIC_MCP_PLUGIN_DIR").filter(|dir| !dir.trim().is_empty()).map(PathBuf::from)
            })
            .or(file.plugin_dir.clone()),
        tool_filter,
        tool_selection,
    })
}

/// A bounded value as a `usize`; every bound is far below `usize::MAX`.
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// A bounded value as a `u32`; every bound of a `u32` setting fits one.
fn to_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The sandbox's fault injection from the flags over the file, every value checked.
pub fn sandbox_settings(
    flags: &SandboxFile,
    file: Option<&SandboxFile>,
) -> Result<SandboxSettings, ConfigError> {
    let file = file.cloned().unwrap_or_default();
    let latency_ms = bounds::SANDBOX_LATENCY_MS
        .resolve(flag_or_file(flags.latency_ms, "--sandbox-latency-ms", file.latency_ms), 0)?;
    let async_polls = match flag_or_file(flags.async_polls, "--sandbox-async-polls", file.async_polls) {
        Some((polls, origin)) => Some(to_u32(bounds::SANDBOX_ASYNC_POLLS.check(polls, origin)?)),
        None => None,
    };
    let async_retry_after_seconds = match flag_or_file(
        flags.async_retry_after_seconds,
        "--sandbox-async-retry-after",
        file.async_retry_after_seconds,
    ) {
        Some((seconds, origin)) => Some(bounds::SANDBOX_ASYNC_RETRY_AFTER_SECONDS.check(seconds, origin)?),
        None => None,
    };
    Ok(SandboxSettings {
        latency: Duration::from_millis(latency_ms),
        error_5xx_rate: check_rate("sandbox 5xx rate", flags.error_5xx_rate.or(file.error_5xx_rate))?,
        rate_429_rate: check_rate("sandbox 429 rate", flags.rate_429_rate.or(file.rate_429_rate))?,
        graphql_timeout_rate: check_rate(
            "sandbox timeout rate",
            flags.graphql_timeout_rate.or(file.graphql_timeout_rate),
        )?,
        seed: flags.seed.or(file.seed),
        async_polls,
        async_retry_after_seconds,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::type_complexity)]
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn without_a_key_or_sandbox_it_names_both() {
        let error = resolve(&Overrides::default(), &env_of(&[]), None).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("NEW_RELIC_API_KEY") && text.contains("--sandbox"), "{text}");
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn flags_beat_environment_beats_file() {
        let file = parse_file("account_id = 1\nregion = \"JP\"\napi_key = \"NRAK-FILE\"\n").unwrap();
        let env = env_of(&[
            ("NEW_RELIC_ACCOUNT_ID", "2"),
            ("NEW_RELIC_REGION", "EU"),
            ("NEW_RELIC_API_KEY", "NRAK-ENV"),
        ]);
        let flags = Overrides { account_id: Some(3), ..Default::default() };
        let settings = resolve(&flags, &env, Some(file.clone())).unwrap();
        assert_eq!(settings.default_account, Some(3));
        let Target::NewRelic { api_key, endpoint } = &settings.target else { panic!("expected New Relic") };
        assert_eq!(api_key.expose_secret(), "NRAK-ENV");
        assert_eq!(endpoint.as_str(), "https://api.eu.newrelic.com/graphql");

        let settings = resolve(&Overrides::default(), &env_of(&[]), Some(file)).unwrap();
        assert_eq!(settings.default_account, Some(1));
        let Target::NewRelic { api_key, endpoint } = &settings.target else { panic!("expected New Relic") };
        assert_eq!(api_key.expose_secret(), "NRAK-FILE");
        assert_eq!(endpoint.as_str(), "https://api.jp.newrelic.com/graphql");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        for (text, key) in [
            ("acount_id = 1", "acount_id"),
            ("[runtime]\nworkers = 3", "workers"),
            ("[sandbox]\nlatency = 1", "latency"),
        ] {
            let error = parse_file(text).unwrap_err();
            assert!(error.contains(key), "{error}");
        }
        assert!(parse_file("account_id = \"abc\"").unwrap_err().contains("account_id"));
    }

    #[test]
    fn bad_values_are_refused_clearly() {
        let key = ("NEW_RELIC_API_KEY", "NRAK-X");
        let cases: Vec<(Overrides, Vec<(&str, &str)>, &str)> = vec![
            (Overrides::default(), vec![key, ("NEW_RELIC_ACCOUNT_ID", "abc")], "NEW_RELIC_ACCOUNT_ID"),
            (Overrides::default(), vec![key, ("NEW_RELIC_REGION", "MARS")], "MARS"),
            (
                Overrides::default(),
                vec![key, ("NEW_RELIC_NERDGRAPH_URL", "https://evil.example.com/graphql")],
                "not a New Relic host",
            ),
            (
                Overrides::default(),
                vec![key, ("NEW_RELIC_NERDGRAPH_URL", "http://127.0.0.1:9/graphql")],
                "--allow-local-endpoint",
            ),
            (
                Overrides::default(),
                vec![key, ("NEW_RELIC_ALLOWED_ACCOUNTS", "1,x")],
                "NEW_RELIC_ALLOWED_ACCOUNTS",
            ),
            (
                Overrides { account_id: Some(5), allowed_accounts: Some(vec![1]), ..Default::default() },
                vec![key],
                "allowed",
            ),
            (Overrides { executor_workers: Some(0), ..Default::default() }, vec![key], "executor_workers"),
            (
                Overrides {
                    sandbox: true,
                    sandbox_faults: SandboxFile { error_5xx_rate: Some(1.5), ..Default::default() },
                    ..Default::default()
                },
                vec![],
                "0 to 1",
            ),
        ];
        for (flags, env, needle) in cases {
            let error = resolve(&flags, &env_of(&env), None).unwrap_err().to_string();
            assert!(error.contains(needle), "expected '{needle}' in: {error}");
        }
    }

    #[test]
    fn loopback_endpoint_needs_the_explicit_flag() {
        let env = env_of(&[
            ("NEW_RELIC_API_KEY", "NRAK-X"),
            ("NEW_RELIC_NERDGRAPH_URL", "http://127.0.0.1:8080/graphql"),
        ]);
        let flags = Overrides { allow_local_endpoint: true, ..Default::default() };
        let settings = resolve(&flags, &env, None).unwrap();
        let Target::NewRelic { endpoint, .. } = settings.target else { panic!("expected New Relic") };
        assert!(endpoint.is_loopback());
    }

    #[test]
    fn nrql_policy_comes_from_the_file_and_the_allowed_accounts() {
        let file = parse_file("allowed_accounts = [1]\n[nrql]\nmax_window_days = 7\nmax_limit = 100\nallowed_event_types = [\"Log\"]\n").unwrap();
        let flags = Overrides { sandbox: true, ..Default::default() };
        let policy = resolve(&flags, &env_of(&[]), Some(file)).unwrap().nrql_policy;
        assert_eq!(policy.max_window, Duration::from_secs(7 * 86_400));
        assert_eq!(policy.max_limit, 100);
        assert_eq!(policy.allowed_event_types, Some(vec!["Log".to_string()]));
        assert_eq!(policy.allowed_accounts, Some(vec![1]));
        for bad in ["[nrql]\nmax_limit = 6000", "[nrql]\nmax_window_days = 0", "[nrql]\nmax_rows = 5"] {
            let outcome = parse_file(bad).map_err(|e| e.to_string()).and_then(|file| {
                resolve(&flags, &env_of(&[]), Some(file)).map(|_| ()).map_err(|e| e.to_string())
            });
            assert!(outcome.is_err(), "{bad}");
        }
    }

    #[test]
    fn tool_selection_follows_the_same_precedence() {
        let file = parse_file("enabled_categories = [\"alerting\"]\ndisabled_tools = [\"a\"]\n").unwrap();
        let env = env_of(&[
            ("NEW_RELIC_MCP_ENABLED_CATEGORIES", "discovery, data-access"),
            ("NEW_RELIC_MCP_ENABLED_TOOLS", " "),
        ]);
        let flags = Overrides { sandbox: true, disabled_tools: Some(vec!["b".into()]), ..Default::default() };
        let filter = resolve(&flags, &env, Some(file)).unwrap().tool_filter;
        assert_eq!(filter.enabled_categories, Some(vec!["discovery".to_string(), "data-access".to_string()]));
        assert_eq!(filter.enabled_tools, None);
        assert_eq!(filter.disabled_tools, vec!["b".to_string()]);
    }

    #[test]
    fn categories_default_to_the_default_set_and_all_lifts_the_restriction() {
        let default_set: Option<Vec<String>> =
            Some(DEFAULT_CATEGORIES.iter().map(|c| c.to_string()).collect());
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let flag = |list: &[&str]| Overrides {
            enabled_categories: Some(list.iter().map(|c| c.to_string()).collect()),
            ..sandbox.clone()
        };
        let file_all = parse_file("enabled_categories = [\"all\"]").unwrap();
        let cases: Vec<(Overrides, Vec<(&str, &str)>, Option<FileConfig>, Option<Vec<String>>)> = vec![
            (sandbox.clone(), vec![], None, default_set.clone()),
            (flag(&["all"]), vec![], None, None),
            (flag(&["logs", "all"]), vec![], None, None),
            // Names are exact: `ALL` is no category, and the start-up check refuses it.
            (flag(&["logs", "ALL"]), vec![], None, Some(vec!["logs".into(), "ALL".into()])),
            (
                flag(&["logs"]),
                vec![("NEW_RELIC_MCP_ENABLED_CATEGORIES", "all")],
                None,
                Some(vec!["logs".into()]),
            ),
            (sandbox.clone(), vec![("NEW_RELIC_MCP_ENABLED_CATEGORIES", "all")], None, None),
            (sandbox.clone(), vec![("NEW_RELIC_MCP_ENABLED_CATEGORIES", " ")], None, default_set.clone()),
            (sandbox.clone(), vec![], Some(file_all.clone()), None),
            (
                sandbox.clone(),
                vec![("NEW_RELIC_MCP_ENABLED_CATEGORIES", "raw,logs")],
                Some(file_all),
                Some(vec!["raw".into(), "logs".into()]),
            ),
        ];
        for (overrides, env, file, expected) in cases {
            let filter = resolve(&overrides, &env_of(&env), file).unwrap().tool_filter;
            assert_eq!(filter.enabled_categories, expected, "{:?} {env:?}", overrides.enabled_categories);
        }
        for opt_in in ["performance-analytics", "infrastructure", "raw"] {
            assert!(!DEFAULT_CATEGORIES.contains(&opt_in), "{opt_in}");
        }
    }

    #[test]
    fn writes_are_off_unless_a_flag_the_environment_or_the_file_enables_them() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let writes_flag = Overrides { enable_writes: true, ..sandbox.clone() };
        let destructive_flag = Overrides { enable_destructive: true, ..sandbox.clone() };
        let file = |text: &str| Some(parse_file(text).unwrap());
        let cases: Vec<(&Overrides, Vec<(&str, &str)>, Option<FileConfig>, WriteAccess)> = vec![
            (&sandbox, vec![], None, WriteAccess::ReadOnly),
            (&writes_flag, vec![], None, WriteAccess::Writes),
            (&destructive_flag, vec![], None, WriteAccess::Destructive),
            (&sandbox, vec![("NEW_RELIC_MCP_ENABLE_WRITES", "true")], None, WriteAccess::Writes),
            (&sandbox, vec![("NEW_RELIC_MCP_ENABLE_WRITES", " 1 ")], None, WriteAccess::Writes),
            (&sandbox, vec![("NEW_RELIC_MCP_ENABLE_DESTRUCTIVE", "TRUE")], None, WriteAccess::Destructive),
            (&sandbox, vec![], file("enable_writes = true"), WriteAccess::Writes),
            (&sandbox, vec![], file("enable_destructive = true"), WriteAccess::Destructive),
            (
                &sandbox,
                vec![],
                file("enable_writes = false\nenable_destructive = false"),
                WriteAccess::ReadOnly,
            ),
            // The environment beats the file, the flag beats both.
            (
                &sandbox,
                vec![("NEW_RELIC_MCP_ENABLE_WRITES", "0")],
                file("enable_writes = true"),
                WriteAccess::ReadOnly,
            ),
            (
                &sandbox,
                vec![("NEW_RELIC_MCP_ENABLE_WRITES", "")],
                file("enable_writes = true"),
                WriteAccess::Writes,
            ),
            (&writes_flag, vec![("NEW_RELIC_MCP_ENABLE_WRITES", "false")], None, WriteAccess::Writes),
            (
                &sandbox,
                vec![("NEW_RELIC_MCP_ENABLE_DESTRUCTIVE", "false")],
                file("enable_destructive = true"),
                WriteAccess::ReadOnly,
            ),
            // Destructive implies writes, whatever says writes are off.
            (
                &destructive_flag,
                vec![("NEW_RELIC_MCP_ENABLE_WRITES", "false")],
                None,
                WriteAccess::Destructive,
            ),
        ];
        for (overrides, env, file, expected) in cases {
            let filter = resolve(overrides, &env_of(&env), file.clone()).unwrap().tool_filter;
            assert_eq!(filter.write_access, expected, "{overrides:?} {env:?} {file:?}");
        }
    }

    #[test]
    fn admin_mutations_need_their_own_switch_and_destructive_access() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let destructive = Overrides { enable_destructive: true, ..sandbox.clone() };
        let both = Overrides { enable_admin_mutations: true, ..destructive.clone() };
        let admin_only = Overrides { enable_admin_mutations: true, enable_writes: true, ..sandbox.clone() };
        let file = |text: &str| Some(parse_file(text).unwrap());
        let admin_env = "NEW_RELIC_MCP_ENABLE_ADMIN_MUTATIONS";
        let cases: Vec<(&Overrides, Vec<(&str, &str)>, Option<FileConfig>, Option<WriteAccess>)> = vec![
            (&destructive, vec![], None, Some(WriteAccess::Destructive)),
            (&both, vec![], None, Some(WriteAccess::Administration)),
            (&destructive, vec![(admin_env, "1")], None, Some(WriteAccess::Administration)),
            (&destructive, vec![], file("enable_admin_mutations = true"), Some(WriteAccess::Administration)),
            (
                &sandbox,
                vec![],
                file("enable_destructive = true\nenable_admin_mutations = true"),
                Some(WriteAccess::Administration),
            ),
            // The environment beats the file.
            (
                &destructive,
                vec![(admin_env, "false")],
                file("enable_admin_mutations = true"),
                Some(WriteAccess::Destructive),
            ),
            // Without destructive access the switch is refused, never silently widened or ignored.
            (&admin_only, vec![], None, None),
            (&sandbox, vec![(admin_env, "true")], None, None),
            (&sandbox, vec![], file("enable_writes = true\nenable_admin_mutations = true"), None),
        ];
        for (overrides, env, file, expected) in cases {
            match (resolve(overrides, &env_of(&env), file.clone()), expected) {
                (Ok(settings), Some(access)) => {
                    assert_eq!(settings.tool_filter.write_access, access, "{overrides:?} {env:?} {file:?}")
                }
                (Err(error), None) => {
                    let message = error.to_string();
                    assert!(matches!(error, ConfigError::AdminMutationsWithoutDestructive), "{message}");
                    assert!(message.contains("--enable-destructive --enable-admin-mutations"), "{message}");
                }
                (other, _) => panic!("{overrides:?} {env:?} {file:?}: {:?}", other.map(|s| s.tool_filter)),
            }
        }
        let error = resolve(&destructive, &env_of(&[(admin_env, "yes")]), None).unwrap_err().to_string();
        assert!(error.contains(admin_env) && error.contains("true, false, 1 or 0"), "{error}");
    }

    #[test]
    fn a_write_switch_that_is_not_a_boolean_is_refused_by_name() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        for name in ["NEW_RELIC_MCP_ENABLE_WRITES", "NEW_RELIC_MCP_ENABLE_DESTRUCTIVE"] {
            for value in ["yes", "on", "2", "enabled"] {
                let error = resolve(&sandbox, &env_of(&[(name, value)]), None).unwrap_err().to_string();
                assert!(error.contains(name) && error.contains(value), "{error}");
                assert!(error.contains("true, false, 1 or 0"), "{error}");
            }
        }
        assert!(parse_file("enable_writes = \"yes\"").unwrap_err().contains("enable_writes"));
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../examples/newrelic-mcp.toml");
        let file = parse_file(text).unwrap();
        assert_eq!(file.runtime.unwrap().executor_workers, Some(20));
    }

    #[test]
    fn the_plugin_dir_comes_from_flag_environment_or_file() {
        let file = parse_file("plugin_dir = \"from-file\"").unwrap();
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let flag = Overrides { plugin_dir: Some(PathBuf::from("from-flag")), ..sandbox.clone() };
        let env = env_of(&[("NEW_RELIC_MCP_PLUGIN_DIR", "from-env")]);
        let cases = [
            (&flag, &env, Some(file.clone()), Some("from-flag")),
            (&sandbox, &env, Some(file.clone()), Some("from-env")),
            (&sandbox, &env_of(&[("NEW_RELIC_MCP_PLUGIN_DIR", " ")]), Some(file.clone()), Some("from-file")),
            (&sandbox, &env_of(&[]), None, None),
        ];
        for (overrides, env, file, expected) in cases {
            let settings = resolve(overrides, env, file).unwrap();
            assert_eq!(settings.plugin_dir, expected.map(PathBuf::from));
        }
    }

    #[test]
    fn sandbox_needs_no_key() {
        let flags = Overrides { sandbox: true, ..Default::default() };
        let settings = resolve(&flags, &env_of(&[]), None).unwrap();
        assert!(matches!(settings.target, Target::Sandbox(_)));
        assert_eq!(settings.executor_workers, 20);
        assert_eq!(settings.cache_capacity_bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn protection_settings_have_safe_defaults_and_follow_precedence() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let defaults = resolve(&sandbox, &env_of(&[]), None).unwrap();
        assert_eq!(defaults.nrql_per_minute, 3_000);
        assert_eq!(defaults.upstream_attempts, 5);
        assert_eq!(defaults.breaker_failure_threshold, 5);
        assert_eq!(defaults.breaker_open_for, Duration::from_secs(10));

        let file = parse_file(
            "[runtime]\nnrql_per_minute = 600\nupstream_attempts = 2\nbreaker_failure_threshold = 3\n\
             breaker_open_seconds = 4\n",
        )
        .unwrap();
        let from_file = resolve(&sandbox, &env_of(&[]), Some(file.clone())).unwrap();
        assert_eq!(
            (
                from_file.nrql_per_minute,
                from_file.upstream_attempts,
                from_file.breaker_failure_threshold,
                from_file.breaker_open_for
            ),
            (600, 2, 3, Duration::from_secs(4))
        );
        let flag = Overrides { nrql_per_minute: Some(50), ..sandbox.clone() };
        assert_eq!(resolve(&flag, &env_of(&[]), Some(file)).unwrap().nrql_per_minute, 50);

        for (text, name) in [
            ("[runtime]\nnrql_per_minute = 0", "nrql_per_minute"),
            ("[runtime]\nupstream_attempts = 0", "upstream_attempts"),
            ("[runtime]\nbreaker_failure_threshold = 0", "breaker_failure_threshold"),
            ("[runtime]\nbreaker_open_seconds = 0", "breaker_open_seconds"),
        ] {
            let error = resolve(&sandbox, &env_of(&[]), Some(parse_file(text).unwrap())).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn every_bounded_setting_refuses_values_outside_its_range_by_name_and_range() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let from_file = |bound: &Bound, value: String| {
            let (section, key) = bound.name.split_once('.').unwrap();
            let file = parse_file(&format!("[{section}]\n{key} = {value}\n")).unwrap();
            resolve(&sandbox, &env_of(&[]), Some(file))
        };
        for bound in bounds::ALL {
            for accepted in [bound.min, bound.max] {
                assert!(from_file(&bound, accepted.to_string()).is_ok(), "{} = {accepted}", bound.name);
            }
            let mut refused = vec![bound.max + 1];
            if bound.min > 0 {
                refused.push(bound.min - 1);
            }
            for value in refused {
                let error = from_file(&bound, value.to_string()).unwrap_err();
                assert_eq!(error.exit_code(), 2);
                let text = error.to_string();
                let range = format!("from {} to {}", bound.min, bound.max);
                assert!(
                    text.contains(bound.name) && text.contains(&range) && text.contains("configuration file"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn defaults_lie_inside_their_ranges() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let settings = resolve(&sandbox, &env_of(&[]), None).unwrap();
        assert!(settings.breaker_open_for <= Duration::from_secs(bounds::BREAKER_OPEN_SECONDS.max));
        let text = include_str!("../examples/newrelic-mcp.toml");
        for bound in bounds::ALL {
            let (_, key) = bound.name.split_once('.').unwrap();
            let range = format!("{} to {}", bound.min, bound.max);
            let lines: Vec<&str> = text.lines().collect();
            let assignment = format!("{key} = ");
            let documented = lines.iter().enumerate().any(|(index, line)| {
                line.contains(&assignment) && lines[index.saturating_sub(3)..index].concat().contains(&range)
            });
            assert!(documented, "{} ({range}) is not documented in the example file", bound.name);
        }
    }

    #[test]
    fn flags_name_themselves_as_the_source_of_a_refused_value() {
        let cases: Vec<(Overrides, &str)> = vec![
            (Overrides { cache_shards: Some(1_000_000), ..Default::default() }, "flag --cache-shards"),
            (Overrides { executor_workers: Some(100_000), ..Default::default() }, "flag --executor-workers"),
            (Overrides { executor_queue: Some(0), ..Default::default() }, "flag --executor-queue"),
            (Overrides { nrql_per_minute: Some(0), ..Default::default() }, "flag --nrql-per-minute"),
            (
                Overrides {
                    sandbox_faults: SandboxFile { latency_ms: Some(u64::MAX), ..Default::default() },
                    ..Default::default()
                },
                "flag --sandbox-latency-ms",
            ),
        ];
        for (overrides, needle) in cases {
            let overrides = Overrides { sandbox: true, ..overrides };
            let error = resolve(&overrides, &env_of(&[]), None).unwrap_err().to_string();
            assert!(error.contains(needle), "{error}");
        }
    }

    #[test]
    fn one_list_parser_for_flags_environment_and_file() {
        let sandbox = Overrides { sandbox: true, ..Default::default() };
        let names = |list: &[&str]| Some(list.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        let cases: Vec<(Overrides, Vec<(&str, &str)>, Option<FileConfig>, Option<Vec<String>>, Source)> = vec![
            (
                Overrides {
                    disabled_tools: names(&["execute_nrql_query", " query_nerdgraph", " "]),
                    ..sandbox.clone()
                },
                vec![],
                None,
                names(&["execute_nrql_query", "query_nerdgraph"]),
                Source::Flag("--disabled-tools"),
            ),
            (
                sandbox.clone(),
                vec![("NEW_RELIC_MCP_DISABLED_TOOLS", " execute_nrql_query , query_nerdgraph ,")],
                None,
                names(&["execute_nrql_query", "query_nerdgraph"]),
                Source::Env("NEW_RELIC_MCP_DISABLED_TOOLS"),
            ),
            (
                sandbox.clone(),
                vec![],
                Some(parse_file("disabled_tools = [\" execute_nrql_query\", \"Query_NerdGraph \"]").unwrap()),
                names(&["execute_nrql_query", "Query_NerdGraph"]),
                Source::File,
            ),
        ];
        for (overrides, env, file, expected, origin) in cases {
            let settings = resolve(&overrides, &env_of(&env), file).unwrap();
            assert_eq!(Some(settings.tool_filter.disabled_tools.clone()), expected);
            let list = settings.tool_selection.disabled_tools.unwrap();
            assert_eq!((list.setting, list.origin), ("disabled_tools", origin));
        }
    }
}
