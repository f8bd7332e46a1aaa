//! From a directory of manifests to the set of plugins that can load, in dependency order.
//!
//! Each file is judged on its own: a broken one is reported with its file, line and reason
//! and the others load. Across files, plugin and tool names must be unique and must not
//! take a built-in's name; when two files claim one name, the plugin already loaded keeps
//! it (so dropping in a new file never unloads a working one), and otherwise the first
//! file by name does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use newrelic_mcp_actors::tool::Plugin;
use newrelic_mcp_nrql::Policy;

use super::compile::{ManifestPlugin, compile};
use super::manifest::ManifestError;
use super::order::dependency_order;

/// Manifests larger than this are refused unread.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// A manifest that did not load: its file (relative to the plugin directory), the line
/// when known, and why. Displays as `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {reason}", line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl Problem {
    fn new(file: &str, line: Option<usize>, reason: impl Into<String>) -> Self {
        Self { file: file.to_string(), line, reason: reason.into() }
    }

    fn from_manifest(file: &str, error: ManifestError) -> Self {
        Self { file: file.to_string(), line: error.line, reason: error.reason }
    }
}

/// The plugin directory itself could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the plugin directory {dir}: {reason}")]
pub struct DirectoryError {
    pub dir: String,
    pub reason: String,
}

/// One manifest file's text, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's name within the plugin directory.
    pub file: String,
    pub text: Result<String, String>,
}

/// Names built-in plugins already hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reserved {
    plugins: BTreeSet<String>,
    /// Tool name to the built-in plugin offering it.
    tools: BTreeMap<String, String>,
}

impl Reserved {
    /// The plugin and tool names of `plugins`.
    pub fn of(plugins: &[Arc<dyn Plugin>]) -> Self {
        let mut reserved = Self::default();
        for plugin in plugins {
            reserved.plugins.insert(plugin.name().to_string());
            for tool in plugin.tools() {
                reserved.tools.insert(tool.descriptor().name.clone(), plugin.name().to_string());
            }
        }
        reserved
    }
}

/// One manifest file, compiled or not.
#[derive(Debug)]
pub struct Candidate {
    pub file: String,
    pub plugin: Result<Arc<ManifestPlugin>, ManifestError>,
}

/// What became of one file.
#[derive(Debug, Clone)]
pub enum FileOutcome {
    Loaded { file: String, plugin: Arc<ManifestPlugin> },
    Refused(Problem),
}

impl FileOutcome {
    pub fn file(&self) -> &str {
        match self {
            FileOutcome::Loaded { file, .. } => file,
            FileOutcome::Refused(problem) => &problem.file,
        }
    }
}

/// The plugins that can load, dependencies first, and every file's outcome by file name.
#[derive(Debug, Clone, Default)]
pub struct Assembly {
    pub plugins: Vec<Arc<ManifestPlugin>>,
    pub outcomes: Vec<FileOutcome>,
}

impl Assembly {
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.outcomes.iter().filter_map(|outcome| match outcome {
            FileOutcome::Refused(problem) => Some(problem),
            FileOutcome::Loaded { .. } => None,
        })
    }

    /// The file a loadable plugin came from.
    pub fn file_of(&self, plugin: &str) -> Option<&str> {
        self.outcomes.iter().find_map(|outcome| match outcome {
            FileOutcome::Loaded { file, plugin: loaded } if loaded.name() == plugin => Some(file.as_str()),
            _ => None,
        })
    }
}

/// The manifest files of `dir`: `*.toml`, not hidden, sorted by name; subfolders are not read.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, DirectoryError> {
    let unreadable =
        |error: std::io::Error| DirectoryError { dir: dir.display().to_string(), reason: error.to_string() };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if is_manifest_path(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `path` names a manifest (editors' hidden swap and lock files do not).
pub fn is_manifest_path(path: &Path) -> bool {
    let visible = path.file_name().and_then(|name| name.to_str()).is_some_and(|name| !name.starts_with('.'));
    visible && path.extension().is_some_and(|extension| extension == "toml")
}

/// Reads every manifest of `dir`; a file that cannot be read is a source with an error.
pub fn read_sources(dir: &Path) -> Result<Vec<Source>, DirectoryError> {
    Ok(discover(dir)?
        .into_iter()
        .map(|path| {
            let file = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            let text = match std::fs::metadata(&path) {
                Ok(metadata) if metadata.len() > MAX_MANIFEST_BYTES => Err(format!(
                    "the file is {} bytes; a manifest may be at most {MAX_MANIFEST_BYTES}",
                    metadata.len()
                )),
                _ => std::fs::read_to_string(&path).map_err(|error| format!("cannot read the file: {error}")),
            };
            Source { file, text }
        })
        .collect())
}

/// Compiles every source.
pub fn compile_sources(sources: Vec<Source>, policy: &Arc<Policy>, now_epoch_ms: i64) -> Vec<Candidate> {
    sources
        .into_iter()
        .map(|source| Candidate {
            plugin: source
                .text
                .map_err(|reason| ManifestError { line: None, reason })
                .and_then(|text| compile(&text, policy, now_epoch_ms).map(Arc::new)),
            file: source.file,
        })
        .collect()
}

/// Reads, compiles and assembles the manifests of `dir` in one go.
pub fn load_dir(
    dir: &Path,
    policy: &Arc<Policy>,
    reserved: &Reserved,
    now_epoch_ms: i64,
) -> Result<Assembly, DirectoryError> {
    let sources = read_sources(dir)?;
    Ok(assemble(compile_sources(sources, policy, now_epoch_ms), reserved, &BTreeSet::new()))
}

/// Settles names and dependencies across `candidates`; `incumbents` (plugins loaded now)
/// win name conflicts.
pub fn assemble(candidates: Vec<Candidate>, reserved: &Reserved, incumbents: &BTreeSet<String>) -> Assembly {
    let mut outcomes: Vec<FileOutcome> = Vec::with_capacity(candidates.len());
    let mut compiled: Vec<(String, Arc<ManifestPlugin>)> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        match candidate.plugin {
            Ok(plugin) => compiled.push((candidate.file, plugin)),
            Err(error) => outcomes.push(FileOutcome::Refused(Problem::from_manifest(&candidate.file, error))),
        }
    }
    compiled.sort_by(|(file_a, a), (file_b, b)| {
        (!incumbents.contains(a.name()), file_a).cmp(&(!incumbents.contains(b.name()), file_b))
    });

    let mut accepted: BTreeMap<String, (String, Arc<ManifestPlugin>)> = BTreeMap::new();
    let mut tool_owners: BTreeMap<String, String> = BTreeMap::new();
    for (file, plugin) in compiled {
        if let Some(conflict) = name_conflict(&plugin, reserved, &accepted, &tool_owners) {
            outcomes.push(FileOutcome::Refused(Problem::new(&file, None, conflict)));
            continue;
        }
        for tool in plugin.tool_names() {
            tool_owners.insert(tool.clone(), plugin.name().to_string());
        }
        accepted.insert(plugin.name().to_string(), (file, plugin));
    }

    let ordered = dependency_order(
        accepted.values().map(|(_, plugin)| (plugin.name(), plugin.depends_on().iter().map(String::as_str))),
    );
    for refusal in ordered.refused {
        if let Some((file, _)) = accepted.get(refusal.plugin()) {
            outcomes.push(FileOutcome::Refused(Problem::new(file, None, refusal.to_string())));
        }
    }
    let mut plugins = Vec::with_capacity(ordered.order.len());
    for name in &ordered.order {
        if let Some((file, plugin)) = accepted.get(name) {
            outcomes.push(FileOutcome::Loaded { file: file.clone(), plugin: plugin.clone() });
            plugins.push(plugin.clone());
        }
    }
    outcomes.sort_by(|a, b| a.file().cmp(b.file()));
    Assembly { plugins, outcomes }
}

fn name_conflict(
    plugin: &ManifestPlugin,
    reserved: &Reserved,
    accepted: &BTreeMap<String, (String, Arc<ManifestPlugin>)>,
    tool_owners: &BTreeMap<String, String>,
) -> Option<String> {
    let name = plugin.name();
    if reserved.plugins.contains(name) {
        return Some(format!("plugin name '{name}' is taken by a built-in plugin: choose another"));
    }
    if let Some((file, _)) = accepted.get(name) {
        return Some(format!("plugin '{name}' is already defined in {file}: plugin names must be unique"));
    }
    for tool in plugin.tool_names() {
        if let Some(owner) = reserved.tools.get(tool) {
            return Some(format!("tool '{tool}' is a built-in tool (plugin '{owner}'): choose another name"));
        }
        if let Some(owner) = tool_owners.get(tool) {
            let file = accepted.get(owner).map(|(file, _)| file.as_str()).unwrap_or("another file");
            return Some(format!(
                "tool '{tool}' is also offered by plugin '{owner}' ({file}): tool names must be unique"
            ));
        }
    }
    None
}
