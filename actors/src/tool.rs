//! What a tool is to the runtime: a descriptor, a pure `plan` and a renderer.
//!
//! Tools live in plugins ([`Plugin`]); the plugin registry assembles them into an immutable
//! [`ToolTable`] snapshot that the front door routes on. The runtime knows nothing about any
//! particular tool: it validates through `plan`, fetches through [`Upstream`](crate::upstream::Upstream),
//! caches by [`CacheKey`], and renders through the plan's [`Renderer`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::call::RuntimeStats;
use crate::upstream::{UpstreamRequest, UpstreamResponse};

/// MCP tool annotations: what a client may assume about calling the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolHints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    /// Whether the tool reaches outside the server (true for everything that calls New Relic).
    pub open_world: bool,
}

impl ToolHints {
    pub const READ: Self = Self { read_only: true, destructive: false, idempotent: true, open_world: true };
    pub const LOCAL: Self = Self { read_only: true, destructive: false, idempotent: true, open_world: false };
    /// Creates or changes something in New Relic; listed only when writes are enabled.
    /// Idempotent because a confirmed write repeated with the same arguments returns the first
    /// result instead of writing again.
    pub const WRITE: Self = Self { read_only: false, destructive: false, idempotent: true, open_world: true };
    /// Deletes something in New Relic; listed only when destructive tools are enabled.
    pub const DESTRUCTIVE: Self =
        Self { read_only: false, destructive: true, idempotent: true, open_world: true };
}

/// The argument that carries a write's confirmation token. The runtime takes it out of the
/// arguments before `plan` sees them, so a tool never parses it, but write tools list it in
/// their input schema so that models know to send it back.
pub const CONFIRMATION_TOKEN_ARGUMENT: &str = "confirmation_token";

/// Everything a client sees of a tool in `tools/list`, plus how the runtime treats it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDescriptor {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Category it can be switched on and off by (`discovery`, `data-access`, `alerting`, …).
    pub category: String,
    /// JSON Schema of the arguments object.
    pub input_schema: Arc<Map<String, Value>>,
    /// JSON Schema of `structuredContent`, when the tool declares one.
    pub output_schema: Option<Arc<Map<String, Value>>>,
    pub hints: ToolHints,
    /// How long a successful answer may be served from cache; `None` never caches (writes).
    pub cache_ttl: Option<Duration>,
}

/// What a tool answered: structured content for programs and a compact text for models.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub structured: Value,
    pub text: String,
}

impl ToolOutput {
    /// Heap bytes this answer holds, as the cache counts them against its capacity.
    pub fn weight(&self) -> u64 {
        crate::cache::weight::output_bytes(self)
    }
}

/// The kinds of failure a model sees as a tool error (`isError: true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolErrorKind {
    /// The executor queue is full.
    Overloaded,
    /// This server's own NRQL budget for the account is spent (it protects New Relic's
    /// per-account limit); `retry_after` says when the next query is admitted.
    RateLimited,
    /// The circuit breaker is open.
    Unavailable,
    /// New Relic failed in a way that may pass (5xx, 429, timeouts).
    UpstreamTransient,
    /// The API key was refused.
    Auth,
    /// New Relic rejected the query or request itself (bad NRQL, unknown field).
    BadRequest,
    /// A policy rule refused the call before it left the server.
    Policy,
    /// Nothing matched.
    NotFound,
    /// The call's deadline passed.
    Timeout,
    /// The caller cancelled.
    Cancelled,
    /// A component failed mid-call and was restarted; the call may be retried.
    Restarted,
    /// A bug; carries an error id that matches a log line.
    Internal,
}

impl ToolErrorKind {
    /// Whether trying the same call again may succeed.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            Self::Overloaded
                | Self::RateLimited
                | Self::Unavailable
                | Self::UpstreamTransient
                | Self::Timeout
                | Self::Restarted
        )
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub kind: ToolErrorKind,
    /// Specific and actionable, in words a model can act on.
    pub message: String,
    pub retry_after: Option<Duration>,
    /// Set on internal failures; the same id is in a log line.
    pub error_id: Option<String>,
}

impl ToolError {
    pub fn new(kind: ToolErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), retry_after: None, error_id: None }
    }
}

/// Why `plan` refused the arguments.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The arguments do not match the schema (a protocol error: invalid params).
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The arguments are well-formed but the call cannot proceed (a tool error).
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// What the front door knows when it plans a call.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanContext {
    /// Account used when the call names none.
    pub default_account: Option<i64>,
    /// Accounts calls may touch; `None` allows any the key can reach.
    pub allowed_accounts: Option<Arc<[i64]>>,
    /// Wall-clock time of the call, epoch milliseconds (plans stay pure by receiving it).
    pub now_epoch_ms: i64,
    /// Deadline applied when the tool sets none.
    pub default_timeout: Duration,
}

/// Turns the upstream response into the tool's output. Pure; built by `plan`.
pub type Renderer = Arc<dyn Fn(UpstreamResponse) -> Result<ToolOutput, ToolError> + Send + Sync>;

/// SHA-256 of the canonical (tool, account, normalised arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    /// Object keys are sorted at every depth, so argument order never splits the cache.
    pub fn new(tool: &str, account: Option<i64>, normalised_arguments: &Value) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(tool.as_bytes());
        hasher.update([0]);
        hasher.update(account.map(|a| a.to_string()).unwrap_or_default().as_bytes());
        hasher.update([0]);
        hasher.update(canonical_json(normalised_arguments).as_bytes());
        Self(hasher.finalize().into())
    }

    /// Which of `shards` owns this key.
    pub fn shard(&self, shards: usize) -> usize {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        (u64::from_le_bytes(first) % shards.max(1) as u64) as usize
    }
}

/// JSON with object keys sorted at every depth.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let ordered: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sorted(v))).collect();
                Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// Builds the uncached read that shows the object a write created or changed, from the
/// write's rendered answer. The read's renderer produces the call's final answer (it may
/// capture what it needs of the write's). `None` when there is nothing to read back
/// (a deletion, say).
pub type ReadBack = Arc<dyn Fn(&ToolOutput) -> Option<(UpstreamRequest, Renderer)> + Send + Sync>;

/// A call that changes something in New Relic. The runtime runs it in two steps, so that
/// nothing changes by accident: called without a confirmation token it answers `preview`
/// plus a single-use token bound to these exact arguments (nothing is sent); called again
/// with that token it sends `request` once, then reads the result back uncached.
#[derive(Clone)]
pub struct WritePlan {
    /// The dry run: what the call would do, in words a person can check.
    pub preview: ToolOutput,
    /// The mutation (its `kind` is [`RequestKind::Write`](crate::upstream::RequestKind::Write)).
    pub request: UpstreamRequest,
    /// Turns the mutation's response into the write's answer; payload errors become tool errors.
    pub render: Renderer,
    pub read_back: Option<ReadBack>,
    /// The accounts the write changes, as far as the plan can tell; empty when the mutation
    /// names none. The runtime names them in the preview, and under an account allow-list
    /// refuses a write that names none or one outside the list.
    pub accounts: Vec<i64>,
}

/// What to do for one call, decided before anything is sent.
#[derive(Clone)]
pub enum PlanAction {
    /// Answered by the server itself (time conversion, server status, previews).
    Local(ToolOutput),
    /// One GraphQL request, whose response the renderer turns into the output.
    Upstream { request: UpstreamRequest, render: Renderer },
    /// A change to New Relic, confirmed in two steps (see [`WritePlan`]).
    Write(Box<WritePlan>),
}

/// The plan of one call. Built by a tool's pure `plan`.
#[derive(Clone)]
pub struct Plan {
    pub tool: String,
    pub action: PlanAction,
    /// Set when a successful answer may be cached and concurrent identical calls coalesced.
    pub cache: Option<CachePolicy>,
    /// How long the whole call may take, retries included.
    pub timeout: Duration,
    /// The accounts whose NRQL budget the upstream request spends, when it runs NRQL.
    pub nrql_accounts: NrqlAccounts,
}

/// The accounts one upstream request spends NRQL budget in: none for requests that run no
/// NRQL, one for most queries, up to [`NrqlAccounts::MAX`] for a cross-account query (New Relic
/// counts such a query against every account it reads). `Copy`, so plans and remembered
/// routes carry it without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NrqlAccounts {
    ids: [i64; NrqlAccounts::MAX],
    len: u8,
}

impl NrqlAccounts {
    /// New Relic's limit of accounts in one cross-account NRQL query.
    pub const MAX: usize = 5;
    pub const NONE: Self = Self { ids: [0; Self::MAX], len: 0 };

    pub const fn one(account: i64) -> Self {
        Self { ids: [account, 0, 0, 0, 0], len: 1 }
    }

    /// The distinct accounts of `accounts`, in order; `None` past [`MAX`](Self::MAX).
    pub fn many(accounts: &[i64]) -> Option<Self> {
        let mut set = Self::NONE;
        for &account in accounts {
            if set.iter().any(|known| known == account) {
                continue;
            }
            *set.ids.get_mut(usize::from(set.len))? = account;
            set.len += 1;
        }
        Some(set)
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.ids.iter().take(usize::from(self.len)).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
}

impl From<Option<i64>> for NrqlAccounts {
    fn from(account: Option<i64>) -> Self {
        account.map_or(Self::NONE, Self::one)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub key: CacheKey,
    pub ttl: Duration,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = match &self.action {
            PlanAction::Local(_) => "local".to_string(),
            PlanAction::Upstream { request, .. } => format!("upstream {}", request.operation),
            PlanAction::Write(write) => format!("write {}", write.request.operation),
        };
        f.debug_struct("Plan")
            .field("tool", &self.tool)
            .field("action", &action)
            .field("cache", &self.cache)
            .field("timeout", &self.timeout)
            .field("nrql_accounts", &self.nrql_accounts)
            .finish()
    }
}

/// What the runtime knows about itself at the moment a call asks, for tools that report on
/// the server (`get_server_status`, `list_plugins`).
#[derive(Clone)]
pub struct RuntimeView {
    pub stats: RuntimeStats,
    /// The tool table the call was routed on.
    pub table: Arc<ToolTable>,
}

/// Turns the runtime's live state into a tool's output. Pure; built by [`Tool::runtime_view`].
pub type StatusRenderer = Arc<dyn Fn(&RuntimeView) -> Result<ToolOutput, ToolError> + Send + Sync>;

/// One tool: a descriptor and a pure planner.
pub trait Tool: Send + Sync + 'static {
    fn descriptor(&self) -> &ToolDescriptor;

    /// Validates `arguments` and decides what to do. Pure: no I/O, no clock (time comes in `context`).
    fn plan(&self, arguments: Map<String, Value>, context: &PlanContext) -> Result<Plan, PlanError>;

    /// For tools that report on the server itself: validates `arguments` and returns the
    /// renderer of the runtime's live state. When this returns `Some`, the front door answers
    /// the call from that state and never calls [`plan`](Tool::plan). `None` (the default)
    /// for every tool that calls New Relic or answers from its arguments alone.
    fn runtime_view(&self, arguments: &Map<String, Value>) -> Option<Result<StatusRenderer, PlanError>> {
        let _ = arguments;
        None
    }
}

/// A named, versioned group of tools (one per New Relic domain, or one per manifest).
pub trait Plugin: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn version(&self) -> &str;
    fn description(&self) -> &str;
    fn tools(&self) -> Vec<Arc<dyn Tool>>;
}

/// Immutable snapshot of every enabled tool, shared by `Arc` with the front door.
#[derive(Clone, Default)]
pub struct ToolTable {
    tools: BTreeMap<String, Arc<dyn Tool>>,
    /// (plugin name, version, tool names) in load order, for `list_plugins`.
    plugins: Vec<PluginSummary>,
    /// Increases with every snapshot the registry publishes.
    pub generation: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSummary {
    pub name: String,
    pub version: String,
    pub description: String,
    pub tools: Vec<String>,
}

/// Which tools that change New Relic a snapshot may include. Read-only unless configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteAccess {
    /// Only tools whose hints say read-only.
    #[default]
    ReadOnly,
    /// Also tools that create or change things (not destructive ones).
    Writes,
    /// Also tools that delete things.
    Destructive,
    /// Also mutations that mint or revoke credentials and access, or administer accounts,
    /// users and roles (only a raw NerdGraph tool can send those). Lists the same tools as
    /// `Destructive`: no tool's hints ask for more.
    Administration,
}

impl WriteAccess {
    /// Whether a tool with these hints may be listed at all.
    pub fn admits(self, hints: ToolHints) -> bool {
        match (hints.read_only, hints.destructive) {
            (true, _) => true,
            (false, false) => self >= Self::Writes,
            (false, true) => self >= Self::Destructive,
        }
    }
}

/// Which tools a snapshot includes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFilter {
    /// Only these categories, when set.
    pub enabled_categories: Option<Vec<String>>,
    /// Only these tools, when set (applied after categories).
    pub enabled_tools: Option<Vec<String>>,
    /// Never these tools.
    pub disabled_tools: Vec<String>,
    /// Tools that change New Relic are hidden unless this allows them, whatever else says.
    pub write_access: WriteAccess,
}

impl ToolFilter {
    pub fn admits(&self, descriptor: &ToolDescriptor) -> bool {
        let category_ok = self
            .enabled_categories
            .as_ref()
            .is_none_or(|cats| cats.iter().any(|c| c == &descriptor.category));
        let tool_ok =
            self.enabled_tools.as_ref().is_none_or(|names| names.iter().any(|n| n == &descriptor.name));
        category_ok
            && tool_ok
            && !self.disabled_tools.iter().any(|n| n == &descriptor.name)
            && self.write_access.admits(descriptor.hints)
    }
}

/// Two plugins offered a tool of the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tool '{tool}' is offered by both plugin '{first}' and plugin '{second}'")]
pub struct DuplicateTool {
    pub tool: String,
    pub first: String,
    pub second: String,
}

impl ToolTable {
    /// Builds a snapshot from plugins in load order; a name offered twice is an error naming both.
    pub fn build(
        plugins: &[Arc<dyn Plugin>],
        filter: &ToolFilter,
        generation: u64,
    ) -> Result<Self, DuplicateTool> {
        let mut tools: BTreeMap<String, Arc<dyn Tool>> = BTreeMap::new();
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        let mut summaries = Vec::with_capacity(plugins.len());
        for plugin in plugins {
            let mut names = Vec::new();
            for tool in plugin.tools() {
                let descriptor = tool.descriptor();
                if let Some(first) = owners.get(&descriptor.name) {
                    return Err(DuplicateTool {
                        tool: descriptor.name.clone(),
                        first: first.clone(),
                        second: plugin.name().to_string(),
                    });
                }
                owners.insert(descriptor.name.clone(), plugin.name().to_string());
                if filter.admits(descriptor) {
                    names.push(descriptor.name.clone());
                    tools.insert(descriptor.name.clone(), tool.clone());
                }
            }
            summaries.push(PluginSummary {
                name: plugin.name().to_string(),
                version: plugin.version().to_string(),
                description: plugin.description().to_string(),
                tools: names,
            });
        }
        Ok(Self { tools, plugins: summaries, generation })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    /// Tools in name order, so `tools/list` is stable.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.values()
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    pub fn plugins(&self) -> &[PluginSummary] {
        &self.plugins
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn nrql_accounts_hold_up_to_five_distinct_accounts_in_order() {
        let cases: [(&[i64], Option<Vec<i64>>); 5] = [
            (&[], Some(vec![])),
            (&[7], Some(vec![7])),
            (&[3, 1, 3, 2], Some(vec![3, 1, 2])),
            (&[1, 2, 3, 4, 5], Some(vec![1, 2, 3, 4, 5])),
            (&[1, 2, 3, 4, 5, 6], None),
        ];
        for (accounts, expected) in cases {
            let got = NrqlAccounts::many(accounts).map(|set| set.iter().collect::<Vec<_>>());
            assert_eq!(got, expected, "{accounts:?}");
        }
        assert_eq!(NrqlAccounts::from(Some(9)), NrqlAccounts::one(9));
        assert!(NrqlAccounts::from(None).is_empty());
        assert_eq!(NrqlAccounts::one(9).len(), 1);
    }

    #[test]
    fn each_write_access_lists_the_tools_its_tier_and_those_below_allow() {
        use WriteAccess::{Administration, Destructive, ReadOnly, Writes};
        // (access, admits READ, WRITE, DESTRUCTIVE)
        let cases = [
            (ReadOnly, [true, false, false]),
            (Writes, [true, true, false]),
            (Destructive, [true, true, true]),
            (Administration, [true, true, true]),
        ];
        for (access, expected) in cases {
            let got =
                [ToolHints::READ, ToolHints::WRITE, ToolHints::DESTRUCTIVE].map(|hints| access.admits(hints));
            assert_eq!(got, expected, "{access:?}");
        }
        assert!(ReadOnly < Writes && Writes < Destructive && Destructive < Administration);
    }
}
