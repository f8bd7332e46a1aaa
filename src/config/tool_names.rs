//! The tool and category names an operator gave, and the check that every one names a tool or
//! category the server has. A filter meant to remove a tool must never leave it on because of
//! a stray space, a wrong case or a typo, so an unknown name refuses start-up instead.

use std::collections::BTreeSet;
use std::sync::Arc;

use newrelic_mcp_actors::tool::Plugin;

use super::bounds::Source;
use super::{ALL_CATEGORIES, DEFAULT_CATEGORIES};

/// One list of names as configured, with the setting and source it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedList {
    pub setting: &'static str,
    pub origin: Source,
    pub names: Vec<String>,
}

/// The tool-selection lists as configured (before `all` lifts the category restriction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolSelection {
    pub enabled_categories: Option<NamedList>,
    pub enabled_tools: Option<NamedList>,
    pub disabled_tools: Option<NamedList>,
}

/// Splits a comma-separated list, trims every item and drops empty ones.
pub fn split_names(text: &str) -> Vec<String> {
    clean_names(text.split(','))
}

/// Trims every item and drops empty ones; names are otherwise kept exactly as written.
pub fn clean_names<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(str::trim).filter(|item| !item.is_empty()).map(String::from).collect()
}

/// The tools and categories a filter may name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownNames {
    tools: BTreeSet<String>,
    categories: BTreeSet<String>,
}

impl KnownNames {
    /// `all` and the default categories, with nothing else yet.
    pub fn new() -> Self {
        let mut categories: BTreeSet<String> = DEFAULT_CATEGORIES.iter().map(|c| c.to_string()).collect();
        categories.insert(ALL_CATEGORIES.to_string());
        Self { tools: BTreeSet::new(), categories }
    }

    /// Adds the tools of `plugins` and their categories.
    pub fn add(&mut self, plugins: &[Arc<dyn Plugin>]) {
        for plugin in plugins {
            for tool in plugin.tools() {
                let descriptor = tool.descriptor();
                self.tools.insert(descriptor.name.clone());
                self.categories.insert(descriptor.category.clone());
            }
        }
    }
}

/// Names in a tool-selection list that match no tool or category.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} (from {}) names unknown {kind}: {}; names are exact (case and all), and the known {kind} are: {}",
    list.setting, list.origin, unknown.join(", "), known.join(", ")
)]
pub struct UnknownNames {
    pub list: NamedList,
    pub kind: &'static str,
    pub unknown: Vec<String>,
    pub known: Vec<String>,
}

/// Refuses the first list that names something unknown.
pub fn check(selection: &ToolSelection, known: &KnownNames) -> Result<(), Box<UnknownNames>> {
    let lists = [
        (&selection.enabled_categories, "categories", &known.categories),
        (&selection.enabled_tools, "tools", &known.tools),
        (&selection.disabled_tools, "tools", &known.tools),
    ];
    for (list, kind, names) in lists {
        let Some(list) = list else { continue };
        let unknown: Vec<String> = list.names.iter().filter(|name| !names.contains(*name)).cloned().collect();
        if !unknown.is_empty() {
            let known = names.iter().cloned().collect();
            return Err(Box::new(UnknownNames { list: list.clone(), kind, unknown, known }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn lists_are_split_trimmed_and_kept_exact() {
        let cases: [(&str, &[&str]); 5] = [
            ("a,b", &["a", "b"]),
            ("execute_nrql_query, query_nerdgraph", &["execute_nrql_query", "query_nerdgraph"]),
            (" a ,, ,b ", &["a", "b"]),
            ("", &[]),
            ("Logs", &["Logs"]),
        ];
        for (text, expected) in cases {
            assert_eq!(split_names(text), expected, "{text:?}");
        }
        assert_eq!(clean_names([" a", "b ", " "]), ["a", "b"]);
    }

    fn known() -> KnownNames {
        let mut known = KnownNames::new();
        known.tools.insert("execute_nrql_query".into());
        known.categories.insert("data-access".into());
        known
    }

    fn list(setting: &'static str, names: &[&str]) -> Option<NamedList> {
        Some(NamedList {
            setting,
            origin: Source::Flag("--x"),
            names: names.iter().map(|n| n.to_string()).collect(),
        })
    }

    #[test]
    fn unknown_or_miscased_names_are_refused_with_the_known_ones() {
        let known = known();
        let accepted = [
            ToolSelection::default(),
            ToolSelection { enabled_categories: list("enabled_categories", &["all"]), ..Default::default() },
            ToolSelection {
                enabled_categories: list("enabled_categories", &["data-access", "logs"]),
                enabled_tools: list("enabled_tools", &["execute_nrql_query"]),
                disabled_tools: list("disabled_tools", &["execute_nrql_query"]),
            },
        ];
        for selection in accepted {
            assert_eq!(check(&selection, &known), Ok(()), "{selection:?}");
        }
        let refused = [
            (
                ToolSelection {
                    enabled_categories: list("enabled_categories", &["bogus"]),
                    ..Default::default()
                },
                "bogus",
            ),
            (
                ToolSelection {
                    enabled_categories: list("enabled_categories", &["ALL"]),
                    ..Default::default()
                },
                "ALL",
            ),
            (
                ToolSelection {
                    enabled_tools: list("enabled_tools", &["Execute_NRQL_Query"]),
                    ..Default::default()
                },
                "Execute_NRQL_Query",
            ),
            (
                ToolSelection {
                    disabled_tools: list("disabled_tools", &["execute_nrql_qeury"]),
                    ..Default::default()
                },
                "execute_nrql_qeury",
            ),
        ];
        for (selection, name) in refused {
            let error = check(&selection, &known).unwrap_err();
            assert_eq!(error.unknown, vec![name.to_string()]);
            let text = error.to_string();
            assert!(text.contains(name) && text.contains("from flag --x"), "{text}");
            let expected_known = if error.kind == "tools" { "execute_nrql_query" } else { "data-access" };
            assert!(text.contains(expected_known), "{text}");
        }
    }
}
