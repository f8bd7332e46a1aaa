//! What a reload changes: the difference between the plugins loaded now and the ones the
//! directory asks for, as registry operations in a safe order.
//!
//! Unloads come first (dependents before what they depend on), so names they free are
//! free for what follows; then loads and replacements in dependency order. A plugin whose
//! manifest text is unchanged is left alone, so editing one file never disturbs another.

use std::sync::Arc;

use newrelic_mcp_actors::tool::Plugin;

use super::compile::ManifestPlugin;

/// One registry operation.
#[derive(Debug, Clone)]
pub enum Change {
    Unload(String),
    Load(Arc<ManifestPlugin>),
    /// A new version of a loaded plugin, swapped in one tool-table change.
    Replace(Arc<ManifestPlugin>),
}

impl Change {
    pub fn plugin_name(&self) -> &str {
        match self {
            Change::Unload(name) => name,
            Change::Load(plugin) | Change::Replace(plugin) => plugin.name(),
        }
    }
}

/// The operations that turn `current` (in load order) into `desired` (in dependency order).
pub fn plan_changes(current: &[Arc<ManifestPlugin>], desired: &[Arc<ManifestPlugin>]) -> Vec<Change> {
    let mut changes: Vec<Change> = current
        .iter()
        .rev()
        .filter(|loaded| !desired.iter().any(|wanted| wanted.name() == loaded.name()))
        .map(|gone| Change::Unload(gone.name().to_string()))
        .collect();
    for wanted in desired {
        match current.iter().find(|loaded| loaded.name() == wanted.name()) {
            None => changes.push(Change::Load(wanted.clone())),
            Some(loaded) if !loaded.same_source(wanted) => changes.push(Change::Replace(wanted.clone())),
            Some(_) => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::type_complexity)]
    use newrelic_mcp_nrql::Policy;

    use super::*;
    use crate::plugins::compile::compile;

    fn plugin(name: &str, description: &str) -> Arc<ManifestPlugin> {
        let text = format!(
            "[plugin]\nname = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"{description}\"\n\
             [[tools]]\nname = \"{}_count\"\ndescription = \"d\"\nnrql = \"SELECT count(*) FROM Log\"\n",
            name.replace('-', "_")
        );
        Arc::new(compile(&text, &Arc::new(Policy::default()), 0).unwrap())
    }

    fn describe(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|change| match change {
                Change::Unload(name) => format!("unload {name}"),
                Change::Load(plugin) => format!("load {}", plugin.name()),
                Change::Replace(plugin) => format!("replace {}", plugin.name()),
            })
            .collect()
    }

    #[test]
    fn changes_follow_the_directory() {
        let (a, b, c) = (plugin("a", "one"), plugin("b", "one"), plugin("c", "one"));
        let b2 = plugin("b", "two");
        let cases: Vec<(Vec<Arc<ManifestPlugin>>, Vec<Arc<ManifestPlugin>>, Vec<&str>)> = vec![
            (vec![], vec![a.clone(), b.clone()], vec!["load a", "load b"]),
            (vec![a.clone(), b.clone()], vec![a.clone(), b.clone()], vec![]),
            // A recompiled but identical manifest is no change.
            (vec![a.clone()], vec![plugin("a", "one")], vec![]),
            (vec![a.clone(), b.clone()], vec![a.clone(), b2.clone()], vec!["replace b"]),
            (vec![a.clone(), b.clone(), c.clone()], vec![b.clone()], vec!["unload c", "unload a"]),
            (vec![a.clone(), b.clone()], vec![c.clone(), b2], vec!["unload a", "load c", "replace b"]),
        ];
        for (current, desired, expected) in cases {
            assert_eq!(describe(&plan_changes(&current, &desired)), expected);
        }
    }
}
