//! The size of `tools/list` for the default tool set is watched: every byte of it sits in a
//! model's context on every turn. The recorded figure lives in BENCHMARKS.md; this test fails
//! when the list grows more than 5% over it (and asks for the figure to be lowered when the
//! list shrinks well below it, so the guard stays tight). The default set is the one the
//! configuration resolves to when nothing is configured, so the test measures what a server
//! started without options offers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use newrelic_mcp::config::{Overrides, resolve};
use newrelic_mcp::mcp::to_mcp_tool;
use newrelic_mcp::tools::builtin_plugins;
use newrelic_mcp_actors::tool::{ToolFilter, ToolTable};

const RECORD_PREFIX: &str = "tools/list, default tool set:";

fn recorded_bytes() -> usize {
    let benchmarks = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/BENCHMARKS.md")).unwrap();
    let line = benchmarks
        .lines()
        .find_map(|line| line.trim_start_matches(['-', ' ']).strip_prefix(RECORD_PREFIX))
        .expect("BENCHMARKS.md records the tools/list size");
    line.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

/// The filter of a server started with no options (on the sandbox, which needs no key).
fn default_filter() -> ToolFilter {
    let overrides = Overrides { sandbox: true, ..Overrides::default() };
    resolve(&overrides, &|_| None, None).unwrap().tool_filter
}

/// Every category, as `--enabled-categories all` gives.
fn full_filter() -> ToolFilter {
    let overrides =
        Overrides { sandbox: true, enabled_categories: Some(vec!["all".into()]), ..Overrides::default() };
    resolve(&overrides, &|_| None, None).unwrap().tool_filter
}

fn measured_bytes(filter: &ToolFilter) -> (usize, usize) {
    let table = ToolTable::build(&builtin_plugins(), filter, 1).unwrap();
    let tools: Vec<_> = table.iter().map(|tool| to_mcp_tool(tool.descriptor())).collect();
    let listed = serde_json::json!({ "tools": tools });
    (serde_json::to_vec(&listed).unwrap().len(), tools.len())
}

#[test]
fn the_default_tool_list_stays_within_five_percent_of_its_recorded_size() {
    let recorded = recorded_bytes();
    let (measured, tools) = measured_bytes(&default_filter());
    let (full, full_tools) = measured_bytes(&full_filter());
    eprintln!("tools/list for the default set: {measured} bytes, {tools} tools (recorded {recorded})");
    eprintln!("tools/list for every category: {full} bytes, {full_tools} tools");
    assert!(tools < full_tools, "the default set is a subset: {tools} of {full_tools} tools");
    assert!(
        measured * 100 <= recorded * 105,
        "tools/list grew to {measured} bytes, more than 5% over the recorded {recorded}: \
         trim descriptions or schemas, or record the new figure in BENCHMARKS.md with the reason"
    );
    assert!(
        measured * 100 >= recorded * 80,
        "tools/list shrank to {measured} bytes, well under the recorded {recorded}: record the new figure"
    );
}
