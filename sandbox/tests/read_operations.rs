//! Every read operation of the product's NerdGraph catalogue, sent as written, answered
//! from the generated world.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use newrelic_mcp_sandbox::data::Entity;
use newrelic_mcp_sandbox::data::EntityKind;
use serde_json::{Value, json};
use support::{ANCHOR_MS, PRODUCTION, STAGING, Sandbox, dataset};

type Expectation = Box<dyn Fn(&Entity) -> bool>;

const ENTITY_SEARCH: &str = r#"
query EntitySearch($query: String!, $cursor: String) {
  actor { entitySearch(query: $query, options: { limit: 200, caseSensitiveTagMatching: false }) {
    count
    results(cursor: $cursor) {
      nextCursor
      entities { guid name entityType domain type accountId reporting alertSeverity permalink tags { key values } }
} } } }"#;

const ENTITY_GET: &str = r#"
query EntityGet($guid: EntityGuid!) {
  actor { entity(guid: $guid) {
    guid name entityType domain type accountId reporting alertSeverity permalink
    tags { key values }
    ... on ApmApplicationEntity { applicationId language }
    goldenMetrics { metrics { name title unit query } }
    goldenTags { tags { key } }
    relatedEntities { results { type source { entity { guid name type } } target { entity { guid name type } } } }
    deploymentSearch(filter: { limit: 20 }) { results { deploymentId version commit user timestamp description deploymentType } }
} } }"#;

#[tokio::test]
async fn actor_lists_accounts_and_the_user() {
    let sandbox = Sandbox::start().await;
    let data = sandbox.data("{ actor { accounts { id name } user { email name } } }", json!({})).await;
    assert_eq!(
        data["actor"]["accounts"],
        json!([{"id": PRODUCTION, "name": "Acme Production"}, {"id": STAGING, "name": "Acme Staging"}])
    );
    assert_eq!(data["actor"]["user"], json!({"email": "sandbox.user@acme.example", "name": "Sandbox User"}));
    sandbox.stop().await;
}

#[tokio::test]
async fn entity_search_answers_the_documented_query_forms() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let cases: [(&str, Expectation); 5] = [
        ("name = 'checkout-service'", Box::new(|e| e.name == "checkout-service")),
        (
            "name LIKE 'payments' AND type IN ('APPLICATION')",
            Box::new(|e| e.name.contains("payments") && e.entity_type_tag == "APPLICATION"),
        ),
        (
            "reporting = 'false' AND type IN ('HOST')",
            Box::new(|e| !e.reporting && e.entity_type_tag == "HOST"),
        ),
        (
            "domain IN ('INFRA','APM') AND accountId = 1000002",
            Box::new(|e| e.account_id == STAGING && e.domain != "VIZ"),
        ),
        (
            "tags.environment = 'STAGING' AND type IN ('APPLICATION')",
            Box::new(|e| e.account_id == STAGING && e.entity_type_tag == "APPLICATION"),
        ),
    ];
    for (query, expected) in cases {
        let data = sandbox.data(ENTITY_SEARCH, json!({"query": query})).await;
        let search = &data["actor"]["entitySearch"];
        let mut expected_guids: Vec<&str> =
            world.entities.iter().filter(|e| expected(e)).map(|e| e.guid.as_str()).collect();
        expected_guids.sort_unstable();
        let mut got: Vec<&str> = search["results"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["guid"].as_str().unwrap())
            .collect();
        got.sort_unstable();
        assert!(!expected_guids.is_empty(), "{query} should match something");
        assert_eq!(got, expected_guids, "{query}");
        assert_eq!(search["count"], json!(expected_guids.len()), "{query}");
        assert_eq!(search["results"]["nextCursor"], Value::Null, "{query}");
    }
    let data =
        sandbox.data(ENTITY_SEARCH, json!({"query": "name = 'payments-api' AND accountId = 1000001"})).await;
    let entity = &data["actor"]["entitySearch"]["results"]["entities"][0];
    let payments = world.entity_named(PRODUCTION, "payments-api", "APPLICATION").unwrap();
    assert_eq!(entity["guid"], json!(payments.guid));
    assert_eq!(entity["entityType"], "APM_APPLICATION_ENTITY");
    assert_eq!((entity["domain"].as_str(), entity["type"].as_str()), (Some("APM"), Some("APPLICATION")));
    assert_eq!(entity["alertSeverity"], "CRITICAL", "payments has an active critical issue");
    assert!(entity["tags"].as_array().unwrap().contains(&json!({"key": "team", "values": ["payments"]})));
    sandbox.stop().await;
}

#[tokio::test]
async fn entity_search_supports_the_query_builder_and_types() {
    let sandbox = Sandbox::start().await;
    let data = sandbox
        .data(
            r#"{ actor { entitySearch(queryBuilder: {domain: INFRA, type: HOST, tags: [{key: "environment", value: "production"}]}) {
                 count query types { domain type entityType count } results { entities { name } } } } }"#,
            json!({}),
        )
        .await;
    let search = &data["actor"]["entitySearch"];
    assert_eq!(search["count"], 4);
    assert_eq!(
        search["types"],
        json!([{"domain": "INFRA", "type": "HOST", "entityType": "INFRASTRUCTURE_HOST_ENTITY", "count": 4}])
    );
    assert_eq!(search["query"], "domain = 'INFRA' AND type = 'HOST' AND tags.`environment` = 'production'");
    sandbox.stop().await;
}

#[tokio::test]
async fn entity_by_guid_has_fragments_golden_signals_relationships_and_deployments() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let checkout = world.entity_named(PRODUCTION, "checkout-service", "APPLICATION").unwrap();
    let data = sandbox.data(ENTITY_GET, json!({"guid": checkout.guid})).await;
    let entity = &data["actor"]["entity"];
    let EntityKind::ApmApplication { application_id, language } = &checkout.kind else {
        panic!("an application")
    };
    assert_eq!(entity["name"], "checkout-service");
    assert_eq!(entity["applicationId"], json!(application_id));
    assert_eq!(entity["language"], json!(language));
    let metrics = entity["goldenMetrics"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 3);
    assert!(metrics.iter().all(|m| m["query"].as_str().unwrap().contains(&checkout.guid)));
    assert_eq!(entity["goldenTags"]["tags"][0], json!({"key": "environment"}));
    let related = entity["relatedEntities"]["results"].as_array().unwrap();
    let edge_names: Vec<(String, String, String)> = related
        .iter()
        .map(|edge| {
            (
                edge["type"].as_str().unwrap().to_string(),
                edge["source"]["entity"]["name"].as_str().unwrap().to_string(),
                edge["target"]["entity"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("CALLS", "web-frontend", "checkout-service"),
        ("CALLS", "checkout-service", "payments-api"),
        ("CALLS", "checkout-service", "inventory-worker"),
        ("HOSTS", "ip-10-0-1-11", "checkout-service"),
    ] {
        let expected = (expected.0.to_string(), expected.1.to_string(), expected.2.to_string());
        assert!(edge_names.contains(&expected), "{expected:?} in {edge_names:?}");
    }
    let deployments = entity["deploymentSearch"]["results"].as_array().unwrap();
    let mut expected: Vec<_> = world.deployments.iter().filter(|d| d.entity_guid == checkout.guid).collect();
    expected.sort_by_key(|d| std::cmp::Reverse(d.timestamp));
    assert_eq!(deployments.len(), expected.len());
    assert_eq!(deployments[0]["version"], json!(expected[0].version));
    assert_eq!(deployments[0]["timestamp"], json!(expected[0].timestamp));

    let host = world.entity_named(PRODUCTION, "ip-10-0-1-11", "HOST").unwrap();
    let data = sandbox
        .data(
            "query($guids: [EntityGuid]!) { actor { entities(guids: $guids) { guid name type accountId } } }",
            json!({"guids": [checkout.guid, host.guid, "bm9zdWNoZW50aXR5"]}),
        )
        .await;
    assert_eq!(
        data["actor"]["entities"],
        json!([
            {"guid": checkout.guid, "name": "checkout-service", "type": "APPLICATION", "accountId": PRODUCTION},
            {"guid": host.guid, "name": "ip-10-0-1-11", "type": "HOST", "accountId": PRODUCTION},
        ])
    );
    let data = sandbox.data(ENTITY_GET, json!({"guid": "bm9zdWNoZW50aXR5"})).await;
    assert_eq!(data["actor"]["entity"], Value::Null);
    sandbox.stop().await;
}

#[tokio::test]
async fn alert_policies_and_conditions_are_searchable() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let data = sandbox
        .data(
            r#"query($accountId: Int!, $cursor: String, $nameLike: String) {
              actor { account(id: $accountId) { alerts {
                policiesSearch(cursor: $cursor, searchCriteria: { nameLike: $nameLike }) {
                  nextCursor totalCount policies { id name incidentPreference accountId } } } } } }"#,
            json!({"accountId": PRODUCTION, "nameLike": "payments"}),
        )
        .await;
    let search = &data["actor"]["account"]["alerts"]["policiesSearch"];
    let payments = world.policies.iter().find(|p| p.name == "Payments critical").unwrap();
    assert_eq!(search["totalCount"], 1);
    assert_eq!(
        search["policies"],
        json!([{"id": payments.id, "name": "Payments critical", "incidentPreference": "PER_POLICY", "accountId": PRODUCTION}])
    );
    let data = sandbox
        .data(
            r#"query($accountId: Int!, $policyId: ID, $cursor: String) {
              actor { account(id: $accountId) { alerts {
                nrqlConditionsSearch(searchCriteria: { policyId: $policyId }, cursor: $cursor) {
                  nextCursor totalCount nrqlConditions { id name enabled policyId type nrql { query } } } } } } }"#,
            json!({"accountId": PRODUCTION, "policyId": payments.id}),
        )
        .await;
    let search = &data["actor"]["account"]["alerts"]["nrqlConditionsSearch"];
    let expected: Vec<_> = world.conditions.iter().filter(|c| c.policy_id == payments.id).collect();
    assert_eq!(search["totalCount"], json!(expected.len()));
    for (got, want) in search["nrqlConditions"].as_array().unwrap().iter().zip(&expected) {
        assert_eq!(got["id"], json!(want.id));
        assert_eq!(got["type"], "STATIC");
        assert_eq!(got["nrql"]["query"], json!(want.query));
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn issues_and_incidents_honour_state_filters_and_time_windows() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let query = r#"query($accountId: Int!, $cursor: String, $start: EpochMilliseconds!, $end: EpochMilliseconds!) {
      actor { account(id: $accountId) { aiIssues {
        issues(cursor: $cursor, filter: { states: [ACTIVATED] }, timeWindow: { startTime: $start, endTime: $end }) {
          nextCursor
          issues { issueId title priority state createdAt activatedAt closedAt acknowledgedAt acknowledgedBy
                   entityGuids entityNames conditionName policyName totalIncidents deepLinkUrl sources }
    } } } } }"#;
    let start = ANCHOR_MS - 24 * 3_600_000;
    let data = sandbox.data(query, json!({"accountId": PRODUCTION, "start": start, "end": ANCHOR_MS})).await;
    let issues = data["actor"]["account"]["aiIssues"]["issues"]["issues"].as_array().unwrap().clone();
    let mut expected: Vec<_> =
        world.issues.iter().filter(|i| i.account_id == PRODUCTION && i.state == "ACTIVATED").collect();
    expected.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    assert_eq!(issues.len(), expected.len());
    for (got, want) in issues.iter().zip(&expected) {
        assert_eq!(got["issueId"], json!(want.issue_id));
        assert_eq!(got["state"], "ACTIVATED");
        assert_eq!(got["title"], json!(want.title));
        assert_eq!(got["entityNames"], json!(want.entity_names));
        assert_eq!(got["totalIncidents"], json!(want.total_incidents));
    }
    let old_window = json!({"accountId": PRODUCTION, "start": ANCHOR_MS - 72 * 3_600_000, "end": ANCHOR_MS - 70 * 3_600_000});
    let data = sandbox.data(query, old_window).await;
    assert_eq!(data["actor"]["account"]["aiIssues"]["issues"]["issues"], json!([]));

    let data = sandbox
        .data(
            r#"query($accountId: Int!) { actor { account(id: $accountId) { aiIssues {
                 incidents(filter: { states: [CREATED] }) { nextCursor incidents { incidentId title priority state entityGuids } } } } } }"#,
            json!({"accountId": PRODUCTION}),
        )
        .await;
    let incidents = data["actor"]["account"]["aiIssues"]["incidents"]["incidents"].as_array().unwrap();
    assert!(!incidents.is_empty());
    assert!(incidents.iter().all(|i| i["state"] == "CREATED"));
    sandbox.stop().await;
}

#[tokio::test]
async fn dashboards_list_parents_and_expand_pages_and_widgets() {
    let sandbox = Sandbox::start().await;
    let world = dataset();
    let data = sandbox
        .data(
            r#"query($cursor: String) {
              actor { entitySearch(query: "type = 'DASHBOARD' AND accountId = 1000001") {
                results(cursor: $cursor) { nextCursor entities { guid name accountId permalink
                    ... on DashboardEntityOutline { dashboardParentGuid } } } } } }"#,
            json!({}),
        )
        .await;
    let entities = data["actor"]["entitySearch"]["results"]["entities"].as_array().unwrap();
    let parents: Vec<&Value> = entities.iter().filter(|e| e["dashboardParentGuid"].is_null()).collect();
    let names: Vec<&str> = parents.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Checkout overview", "Infrastructure health"]);
    assert_eq!(entities.len(), 5, "two dashboards and their three pages");
    let overview = world.dashboards.iter().find(|d| d.name == "Checkout overview").unwrap();
    let data = sandbox
        .data(
            r#"query($guid: EntityGuid!) { actor { entity(guid: $guid) { ... on DashboardEntity {
              guid name permissions pages { guid name widgets { id title visualization { id } layout { column row width height } rawConfiguration } }
              variables { name title type } } } } }"#,
            json!({"guid": overview.guid}),
        )
        .await;
    let dashboard = &data["actor"]["entity"];
    assert_eq!(dashboard["permissions"], "PUBLIC_READ_WRITE");
    assert_eq!(dashboard["pages"].as_array().unwrap().len(), overview.pages.len());
    let widget = &dashboard["pages"][0]["widgets"][0];
    let expected = &overview.pages[0].widgets[0];
    assert_eq!(widget["title"], json!(expected.title));
    assert_eq!(widget["visualization"], json!({"id": expected.visualization}));
    assert_eq!(widget["rawConfiguration"], expected.raw_configuration);
    assert_eq!(dashboard["variables"], json!([{"name": "appName", "title": "Application", "type": "NRQL"}]));
    sandbox.stop().await;
}
