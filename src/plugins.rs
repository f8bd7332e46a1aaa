//! Declarative plugins: tools written as TOML manifests in a plugin directory
//! (`--plugin-dir`), loaded without compiling anything and reloaded while the server runs.
//!
//! Each manifest is one plugin; each of its tools is one NRQL template with typed
//! parameters. Values are placed into the parsed query tree, never into its text (see
//! `newrelic_mcp_nrql::template`), and the filled query passes the server's NRQL policy
//! before it is sent, exactly like `execute_nrql_query`, whose request, rendering and
//! caching these tools share.
//!
//! # The manifest
//!
//! ```toml
//! [plugin]
//! name = "checkout-insights"       # required; unique; lowercase letters, digits and -
//! version = "1.2.0"                # required; MAJOR[.MINOR[.PATCH]], optional -pre or +build
//! description = "…"                # required; shown by list_plugins
//! depends_on = ["team-defaults"]   # optional; plugins that must load first
//!
//! [[tools]]                        # at least one
//! name = "checkout_error_rate"     # required; unique across all tools; lowercase letters, digits and _
//! title = "…"                      # optional; defaults to the name
//! description = "…"                # required; what a model reads to choose the tool
//! category = "performance-analytics" # optional; default "plugins"; for enabled_categories
//! cache_ttl_seconds = 60           # optional; default 30; 0 never caches; at most 86400
//! nrql = "SELECT … WHERE appName = {{app}} SINCE {{since}} ago"   # required; {{name}} per parameter
//!
//! [[tools.params]]                 # one per placeholder; every declared one must be used
//! name = "app"                     # required; letters, digits and _; not account_id
//! type = "string"                  # required; string | identifier | int | float | duration | event_type | enum
//! description = "…"                # optional; shown in the tool's input schema
//! default = "checkout-service"     # optional; a parameter without one is required
//! values = ["…"]                   # enum and event_type only (required there): the accepted values
//! ```
//!
//! Unknown keys are refused by name, and every refusal carries the file, the line and the
//! reason (`checkout.toml:14: tool 'checkout_error_rate': …`). Every tool also takes an
//! optional `account_id`, resolved and allow-listed as for the built-in tools. A template
//! whose parameters all have defaults is filled with them and checked against the policy
//! at load, so a tool that could only ever be refused does not load.
//!
//! # Loading and reloading
//!
//! The directory's `*.toml` files (not hidden ones, not subfolders) load in dependency
//! order. A broken manifest, a name clash, a missing dependency or a cycle keeps that
//! plugin (and what depends on it) out with a log line; everything else loads. The
//! directory is watched (debounced by [`DEBOUNCE`]): a new file loads a plugin, a changed
//! one is swapped in at once (clients never see its tools missing), a removed one unloads,
//! and a file that breaks while loaded keeps its last good version. SIGHUP (`newrelic-mcp
//! plugins reload --pid PID`) rescans too. Clients are told through
//! `notifications/tools/list_changed`.
//!
//! Module map: [`manifest`](parse_manifest) (TOML to a validated model), `compile`
//! (templates parsed once; the runtime [`Tool`](newrelic_mcp_actors::tool::Tool)),
//! `order` ([`dependency_order`]), `loader` (directory to [`Assembly`]), `reload`
//! ([`plan_changes`]), `watcher` (file events and SIGHUP) and `manager` ([`PluginManager`],
//! the task that applies reloads to the runtime).

mod compile;
mod loader;
mod manager;
mod manifest;
mod order;
mod reload;
mod watcher;

pub use compile::{ManifestPlugin, compile};
pub use loader::{
    Assembly, Candidate, DirectoryError, FileOutcome, Problem, Reserved, Source, assemble, compile_sources,
    discover, is_manifest_path, load_dir, read_sources,
};
pub use manager::{PluginEnv, PluginError, PluginManager, ReloadReport};
pub use manifest::{
    ACCOUNT_ARGUMENT, DEFAULT_CACHE_TTL, DEFAULT_CATEGORY, Manifest, ManifestError, ToolManifest,
    parse_manifest,
};
pub use order::{DependencyError, Ordered, dependency_order};
pub use reload::{Change, plan_changes};
pub use watcher::{Cause, DEBOUNCE};
