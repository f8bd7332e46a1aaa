//! Every tool takes `account_id`, so that an agent can pass the same arguments to any of them:
//! walks `tools/list` of the full set (every category, writes and deletions included).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use newrelic_mcp::mcp::to_mcp_tool;
use newrelic_mcp::tools::{ToolSettings, builtin_plugins_with};
use newrelic_mcp_actors::tool::{ToolFilter, ToolTable, WriteAccess};
use serde_json::Value;

fn full_tool_list() -> Vec<Value> {
    let settings = ToolSettings { write_access: WriteAccess::Destructive, ..ToolSettings::default() };
    let filter = ToolFilter { write_access: WriteAccess::Destructive, ..ToolFilter::default() };
    let table = ToolTable::build(&builtin_plugins_with(&settings), &filter, 1).unwrap();
    table.iter().map(|tool| serde_json::to_value(to_mcp_tool(tool.descriptor())).unwrap()).collect()
}

#[test]
fn every_tool_takes_an_optional_integer_account_id() {
    let tools = full_tool_list();
    assert!(tools.len() > 40, "the full set lists every built-in tool: {}", tools.len());
    let mut missing = Vec::new();
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let schema = &tool["inputSchema"];
        let account_id = &schema["properties"]["account_id"];
        if account_id.is_null() {
            missing.push(name.to_string());
            continue;
        }
        let types: Vec<&str> = match &account_id["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            other => panic!("{name}: account_id has no type: {other}"),
        };
        assert!(types.contains(&"integer"), "{name}: account_id is {account_id}");
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        assert!(!required.iter().any(|field| field == "account_id"), "{name}: account_id must be optional");
    }
    assert!(missing.is_empty(), "tools without account_id: {missing:?}");
}
