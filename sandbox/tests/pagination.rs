//! Cursor pagination: following `nextCursor` visits every item exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use serde_json::{Value, json};
use support::{PRODUCTION, Sandbox, dataset};

async fn walk(
    sandbox: &Sandbox,
    query: &str,
    variables: Value,
    page_at: &[&str],
    items: &str,
) -> (Vec<Value>, usize) {
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut vars = variables.clone();
        vars["cursor"] = cursor.clone();
        let data = sandbox.data(query, vars).await;
        let mut page = &data;
        for key in page_at {
            page = &page[*key];
        }
        seen.extend(page[items].as_array().unwrap().iter().cloned());
        pages += 1;
        cursor = page["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
        assert!(pages < 100, "pagination must end");
    }
    (seen, pages)
}

#[tokio::test]
async fn entity_search_pages_through_every_entity_once() {
    let sandbox = Sandbox::start().await;
    let query = "query($cursor: String) { actor { entitySearch(query: \"accountId = 1000001\") { count results(cursor: $cursor) { nextCursor entities { guid name } } } } }";
    let (entities, pages) =
        walk(&sandbox, query, json!({}), &["actor", "entitySearch", "results"], "entities").await;
    let expected = dataset().entities.iter().filter(|e| e.account_id == PRODUCTION).count();
    assert!(pages > 1, "the production account spans several pages");
    assert_eq!(entities.len(), expected);
    let mut guids: Vec<&str> = entities.iter().map(|e| e["guid"].as_str().unwrap()).collect();
    let names: Vec<String> = entities.iter().map(|e| e["name"].as_str().unwrap().to_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name across pages");
    guids.sort_unstable();
    guids.dedup();
    assert_eq!(guids.len(), expected, "no entity repeats");
    sandbox.stop().await;
}

#[tokio::test]
async fn policies_issues_and_conditions_paginate() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let (policies, _) = walk(
        &sandbox,
        "query($cursor: String) { actor { account(id: 1000001) { alerts { policiesSearch(cursor: $cursor) { nextCursor totalCount policies { id } } } } } }",
        json!({}),
        &["actor", "account", "alerts", "policiesSearch"],
        "policies",
    )
    .await;
    assert_eq!(policies.len(), world.policies.iter().filter(|p| p.account_id == PRODUCTION).count());
    let (conditions, pages) = walk(
        &sandbox,
        "query($cursor: String) { actor { account(id: 1000001) { alerts { nrqlConditionsSearch(cursor: $cursor) { nextCursor nrqlConditions { id } } } } } }",
        json!({}),
        &["actor", "account", "alerts", "nrqlConditionsSearch"],
        "nrqlConditions",
    )
    .await;
    assert_eq!(conditions.len(), world.conditions.iter().filter(|c| c.account_id == PRODUCTION).count());
    assert!(pages > 1, "production's conditions span several pages");
    let (issues, pages) = walk(
        &sandbox,
        "query($cursor: String, $start: EpochMilliseconds!, $end: EpochMilliseconds!) { actor { account(id: 1000001) { aiIssues { issues(cursor: $cursor, timeWindow: {startTime: $start, endTime: $end}) { nextCursor issues { issueId } } } } } }",
        json!({"start": world.anchor_ms - 4 * 86_400_000, "end": world.anchor_ms}),
        &["actor", "account", "aiIssues", "issues"],
        "issues",
    )
    .await;
    assert_eq!(issues.len(), world.issues.iter().filter(|i| i.account_id == PRODUCTION).count());
    assert!(pages > 1, "production's issues span several pages");
    sandbox.stop().await;
}
