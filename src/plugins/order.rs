//! Dependency order: which plugins can load, and in what order, from their `depends_on`.
//!
//! A plugin loads after everything it depends on. A missing dependency, a cycle, or a
//! dependency that itself cannot load keeps the plugin out, with an error naming both.
//! Ties are broken by name, so the order is the same on every run.

use std::collections::{BTreeMap, BTreeSet};

/// Why a plugin cannot load because of its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    #[error(
        "plugin '{plugin}' depends on '{dependency}', which is not loaded: no valid manifest in the directory names it"
    )]
    Missing { plugin: String, dependency: String },
    #[error("plugin '{plugin}' is in a dependency cycle: {}", cycle.join(" -> "))]
    Cycle {
        plugin: String,
        /// The cycle, starting and ending with `plugin`.
        cycle: Vec<String>,
    },
    #[error("plugin '{plugin}' depends on '{dependency}', which did not load")]
    DependencyFailed { plugin: String, dependency: String },
}

impl DependencyError {
    pub fn plugin(&self) -> &str {
        match self {
            Self::Missing { plugin, .. }
            | Self::Cycle { plugin, .. }
            | Self::DependencyFailed { plugin, .. } => plugin,
        }
    }
}

/// The outcome of ordering: plugins that can load, dependencies first, and those refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ordered {
    pub order: Vec<String>,
    pub refused: Vec<DependencyError>,
}

/// Orders plugins given as `(name, depends_on)`; names are unique (the first of a repeated
/// name is kept).
pub fn dependency_order<'a, I, D>(plugins: I) -> Ordered
where
    I: IntoIterator<Item = (&'a str, D)>,
    D: IntoIterator<Item = &'a str>,
{
    let mut graph: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
    for (name, depends_on) in plugins {
        graph.entry(name).or_insert_with(|| depends_on.into_iter().collect());
    }
    let mut refused: BTreeMap<&str, DependencyError> = BTreeMap::new();

    for (name, depends_on) in &graph {
        if let Some(missing) = depends_on.iter().find(|dependency| !graph.contains_key(*dependency)) {
            refused.insert(
                name,
                DependencyError::Missing { plugin: name.to_string(), dependency: missing.to_string() },
            );
        }
    }
    for cycle in cycles(&graph) {
        for member in &cycle[..cycle.len().saturating_sub(1)] {
            refused.entry(member).or_insert_with(|| DependencyError::Cycle {
                plugin: member.to_string(),
                cycle: rotate_to(&cycle, member),
            });
        }
    }

    // Kahn's algorithm over what is left, smallest ready name first. A refused dependency
    // is never placed, so whatever waits on it never becomes ready.
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, depends_on) in graph.iter().filter(|(name, _)| !refused.contains_key(*name)) {
        waiting.insert(name, depends_on.len());
        for dependency in depends_on {
            dependents.entry(dependency).or_default().push(name);
        }
    }
    let mut ready: BTreeSet<&str> =
        waiting.iter().filter(|(_, count)| **count == 0).map(|(name, _)| *name).collect();
    let mut order: Vec<String> = Vec::with_capacity(graph.len());
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while let Some(name) = ready.pop_first() {
        placed.insert(name);
        order.push(name.to_string());
        for dependent in dependents.get(name).into_iter().flatten() {
            if let Some(count) = waiting.get_mut(dependent) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    ready.insert(dependent);
                }
            }
        }
    }
    // Whatever is neither placed nor refused waits on a refused plugin, directly or not.
    let mut blocked = true;
    while blocked {
        blocked = false;
        for (name, depends_on) in &graph {
            if placed.contains(name) || refused.contains_key(name) {
                continue;
            }
            if let Some(dependency) = depends_on.iter().find(|dependency| refused.contains_key(*dependency)) {
                refused.insert(
                    name,
                    DependencyError::DependencyFailed {
                        plugin: name.to_string(),
                        dependency: dependency.to_string(),
                    },
                );
                blocked = true;
            }
        }
    }
    Ordered { order, refused: refused.into_values().collect() }
}

/// Every elementary cycle found by a depth-first walk, each as `a -> … -> a`; a plugin
/// appears in at most one reported cycle.
fn cycles<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = graph.keys().map(|name| (*name, Mark::Unvisited)).collect();
    let mut found: Vec<Vec<&str>> = Vec::new();
    let mut in_cycle: BTreeSet<&str> = BTreeSet::new();
    for start in graph.keys() {
        if marks.get(start) != Some(&Mark::Unvisited) {
            continue;
        }
        // An explicit stack of (node, its dependencies not yet walked), so depth costs heap.
        let mut path: Vec<&str> = vec![start];
        let mut pending: Vec<Vec<&str>> = vec![graph[start].iter().copied().collect()];
        marks.insert(start, Mark::OnPath);
        while let Some(next) = pending.last_mut().map(Vec::pop) {
            match next {
                Some(dependency) => match marks.get(dependency).copied() {
                    Some(Mark::Unvisited) => {
                        marks.insert(dependency, Mark::OnPath);
                        path.push(dependency);
                        pending.push(graph[dependency].iter().copied().collect());
                    }
                    Some(Mark::OnPath) => {
                        if let Some(from) = path.iter().position(|node| *node == dependency) {
                            let mut cycle: Vec<&str> = path[from..].to_vec();
                            if cycle.iter().all(|node| !in_cycle.contains(node)) {
                                in_cycle.extend(cycle.iter().copied());
                                cycle.push(dependency);
                                found.push(cycle);
                            }
                        }
                    }
                    _ => {}
                },
                None => {
                    pending.pop();
                    if let Some(done) = path.pop() {
                        marks.insert(done, Mark::Done);
                    }
                }
            }
        }
    }
    found
}

/// `cycle` (closed, `a -> b -> a`) restarted at `member`.
fn rotate_to(cycle: &[&str], member: &str) -> Vec<String> {
    let open = &cycle[..cycle.len().saturating_sub(1)];
    let start = open.iter().position(|node| *node == member).unwrap_or(0);
    let mut rotated: Vec<String> =
        open[start..].iter().chain(&open[..start]).map(|s| s.to_string()).collect();
    rotated.push(member.to_string());
    rotated
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::type_complexity)]
    use super::*;

    fn order(plugins: &[(&'static str, &[&'static str])]) -> Ordered {
        dependency_order(plugins.iter().map(|(name, deps)| (*name, deps.iter().copied())))
    }

    #[test]
    fn dependencies_come_first_and_ties_go_by_name() {
        let cases: &[(&[(&str, &[&str])], &[&str])] = &[
            (&[], &[]),
            (&[("b", &[]), ("a", &[])], &["a", "b"]),
            (&[("a", &["b"]), ("b", &[])], &["b", "a"]),
            (&[("app", &["base", "logs"]), ("logs", &["base"]), ("base", &[])], &["base", "logs", "app"]),
            (&[("z", &[]), ("y", &["z"]), ("a", &["y"])], &["z", "y", "a"]),
        ];
        for (plugins, expected) in cases {
            let ordered = order(plugins);
            assert!(ordered.refused.is_empty(), "{plugins:?}: {:?}", ordered.refused);
            assert_eq!(ordered.order, *expected, "{plugins:?}");
        }
    }

    #[test]
    fn a_missing_dependency_names_both_and_blocks_dependents() {
        let ordered = order(&[("a", &["ghost"]), ("b", &["a"]), ("c", &[])]);
        assert_eq!(ordered.order, ["c"]);
        assert_eq!(
            ordered.refused,
            vec![
                DependencyError::Missing { plugin: "a".into(), dependency: "ghost".into() },
                DependencyError::DependencyFailed { plugin: "b".into(), dependency: "a".into() },
            ]
        );
        let message = ordered.refused[0].to_string();
        assert!(message.contains("'a'") && message.contains("'ghost'"), "{message}");
    }

    #[test]
    fn a_cycle_is_refused_with_its_path() {
        let ordered = order(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["c"]), ("e", &[])]);
        assert_eq!(ordered.order, ["e"]);
        let messages: Vec<String> = ordered.refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "plugin 'a' is in a dependency cycle: a -> b -> c -> a",
                "plugin 'b' is in a dependency cycle: b -> c -> a -> b",
                "plugin 'c' is in a dependency cycle: c -> a -> b -> c",
                "plugin 'd' depends on 'c', which did not load",
            ]
        );
        let self_loop = order(&[("solo", &["solo"])]);
        assert_eq!(self_loop.refused[0].to_string(), "plugin 'solo' is in a dependency cycle: solo -> solo");
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let names: Vec<String> = (0..5000).map(|i| format!("p{i:05}")).collect();
        let ordered = dependency_order(names.iter().enumerate().map(|(i, name)| {
            let deps: Vec<&str> = if i == 0 { vec![] } else { vec![names[i - 1].as_str()] };
            (name.as_str(), deps)
        }));
        assert_eq!(ordered.order.len(), 5000);
        assert_eq!(ordered.order.first().unwrap(), "p00000");
    }
}
