//! Mutations from the product's catalogue change what later reads return.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use serde_json::{Value, json};
use support::{ANCHOR_MS, PRODUCTION, Sandbox, dataset};

#[tokio::test]
async fn policies_and_conditions_can_be_created_listed_and_deleted() {
    let sandbox = Sandbox::start().await;
    let data = sandbox
        .data(
            "mutation($accountId: Int!, $policy: AlertsPolicyInput!) { alertsPolicyCreate(accountId: $accountId, policy: $policy) { id name incidentPreference } }",
            json!({"accountId": PRODUCTION, "policy": {"name": "checkout-prod", "incidentPreference": "PER_CONDITION"}}),
        )
        .await;
    let policy = &data["alertsPolicyCreate"];
    assert_eq!(
        (policy["name"].as_str(), policy["incidentPreference"].as_str()),
        (Some("checkout-prod"), Some("PER_CONDITION"))
    );
    let policy_id = policy["id"].as_str().unwrap().to_string();

    let condition = json!({
        "name": "checkout error rate > 5%", "enabled": true,
        "nrql": {"query": "SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = 'checkout'"},
        "signal": {"aggregationWindow": 60, "aggregationMethod": "EVENT_FLOW", "aggregationDelay": 120},
        "terms": [{"priority": "CRITICAL", "operator": "ABOVE", "threshold": 5, "thresholdDuration": 300, "thresholdOccurrences": "ALL"}],
        "violationTimeLimitSeconds": 86400, "runbookUrl": "https://runbooks.example/checkout"
    });
    let create = "mutation($accountId: Int!, $policyId: ID!, $condition: AlertsNrqlConditionStaticInput!) {
      alertsNrqlConditionStaticCreate(accountId: $accountId, policyId: $policyId, condition: $condition) {
        id name enabled policyId nrql { query }
        terms { priority operator threshold thresholdDuration thresholdOccurrences } } }";
    let data = sandbox
        .data(create, json!({"accountId": PRODUCTION, "policyId": policy_id, "condition": condition}))
        .await;
    let created = &data["alertsNrqlConditionStaticCreate"];
    assert_eq!(created["policyId"], json!(policy_id));
    assert_eq!(
        created["terms"],
        json!([{"priority": "CRITICAL", "operator": "ABOVE", "threshold": 5.0, "thresholdDuration": 300, "thresholdOccurrences": "ALL"}])
    );
    let condition_id = created["id"].as_str().unwrap().to_string();

    let mut bad = condition.clone();
    bad["nrql"]["query"] = json!("SELEC nothing");
    let (_, body) =
        sandbox.post(create, json!({"accountId": PRODUCTION, "policyId": policy_id, "condition": bad})).await;
    assert_eq!(body["data"]["alertsNrqlConditionStaticCreate"], Value::Null);
    assert_eq!(body["errors"][0]["extensions"]["errorClass"], "INVALID_INPUT");

    let search = "query($accountId: Int!, $policyId: ID) { actor { account(id: $accountId) { alerts {
        nrqlConditionsSearch(searchCriteria: { policyId: $policyId }) { totalCount nrqlConditions { id } } } } } }";
    let data = sandbox.data(search, json!({"accountId": PRODUCTION, "policyId": policy_id})).await;
    assert_eq!(
        data["actor"]["account"]["alerts"]["nrqlConditionsSearch"]["nrqlConditions"],
        json!([{"id": condition_id}])
    );

    let data = sandbox
        .data(
            "mutation($accountId: Int!, $id: ID!) { alertsConditionDelete(accountId: $accountId, id: $id) { id } }",
            json!({"accountId": PRODUCTION, "id": condition_id}),
        )
        .await;
    assert_eq!(data["alertsConditionDelete"]["id"], json!(condition_id));
    let data = sandbox
        .data(
            "mutation($accountId: Int!, $id: ID!) { alertsPolicyDelete(accountId: $accountId, id: $id) { id } }",
            json!({"accountId": PRODUCTION, "id": policy_id}),
        )
        .await;
    assert_eq!(data["alertsPolicyDelete"]["id"], json!(policy_id));
    let (_, body) = sandbox
        .post(
            "mutation($accountId: Int!, $id: ID!) { alertsPolicyDelete(accountId: $accountId, id: $id) { id } }",
            json!({"accountId": PRODUCTION, "id": policy_id}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["errorClass"], "NOT_FOUND");
    sandbox.stop().await;
}

#[tokio::test]
async fn issues_can_be_acknowledged_and_resolved() {
    let sandbox = Sandbox::start().await;
    let issue = dataset()
        .issues
        .into_iter()
        .find(|i| i.account_id == PRODUCTION && i.state == "ACTIVATED" && i.acknowledged_at.is_none())
        .unwrap();
    let ack = "mutation($accountId: Int!, $issueId: ID!) { aiIssuesAckIssue(accountId: $accountId, issueId: $issueId) { error result { accountId action issueId } } }";
    let data = sandbox.data(ack, json!({"accountId": PRODUCTION, "issueId": issue.issue_id})).await;
    assert_eq!(
        data["aiIssuesAckIssue"],
        json!({"error": null, "result": {"accountId": PRODUCTION, "action": "ACK", "issueId": issue.issue_id}})
    );
    let resolve = "mutation($accountId: Int!, $issueId: ID!) { aiIssuesResolveIssue(accountId: $accountId, issueId: $issueId) { error result { action } } }";
    let data = sandbox.data(resolve, json!({"accountId": PRODUCTION, "issueId": issue.issue_id})).await;
    assert_eq!(data["aiIssuesResolveIssue"]["result"]["action"], "RESOLVE");
    let read = "query($accountId: Int!, $ids: [ID!]) { actor { account(id: $accountId) { aiIssues {
        issues(filter: { ids: $ids }) { issues { state acknowledgedBy closedAt } } } } } }";
    let data = sandbox.data(read, json!({"accountId": PRODUCTION, "ids": [issue.issue_id]})).await;
    assert_eq!(
        data["actor"]["account"]["aiIssues"]["issues"]["issues"],
        json!([{"state": "CLOSED", "acknowledgedBy": "sandbox.user@acme.example", "closedAt": ANCHOR_MS}])
    );
    let data = sandbox.data(ack, json!({"accountId": PRODUCTION, "issueId": "no-such-issue"})).await;
    assert_eq!(data["aiIssuesAckIssue"]["result"], Value::Null);
    assert!(data["aiIssuesAckIssue"]["error"].as_str().unwrap().contains("not found"));
    sandbox.stop().await;
}

#[tokio::test]
async fn deployments_are_recorded_for_entity_search_and_nrql() {
    let sandbox = Sandbox::start().await;
    let guid = dataset().entity_named(PRODUCTION, "inventory-worker", "APPLICATION").unwrap().guid.clone();
    let create = "mutation($deployment: ChangeTrackingDeploymentInput!) {
      changeTrackingCreateDeployment(deployment: $deployment) {
        deploymentId entityGuid version commit user timestamp changelog description deploymentType groupId deepLink } }";
    let deployment = json!({"entityGuid": guid, "version": "v9.9.9", "commit": "9f1c2ab", "user": "ci-bot",
        "description": "canary rollout", "deploymentType": "CANARY", "changelog": "https://changes.example/9.9.9",
        "timestamp": ANCHOR_MS - 60_000});
    let data = sandbox.data(create, json!({"deployment": deployment})).await;
    let created = &data["changeTrackingCreateDeployment"];
    assert_eq!(
        (created["version"].as_str(), created["deploymentType"].as_str()),
        (Some("v9.9.9"), Some("CANARY"))
    );
    assert_eq!(created["timestamp"], json!(ANCHOR_MS - 60_000));

    let data = sandbox
        .data(
            "query($guid: EntityGuid!) { actor { entity(guid: $guid) { deploymentSearch(filter: { query: \"version = 'v9.9.9'\" }) { results { version commit } } } } }",
            json!({"guid": guid}),
        )
        .await;
    assert_eq!(
        data["actor"]["entity"]["deploymentSearch"]["results"],
        json!([{"version": "v9.9.9", "commit": "9f1c2ab"}])
    );
    let answer = sandbox.nrql(PRODUCTION, "SELECT latest(version), count(*) FROM Deployment WHERE appName = 'inventory-worker' SINCE 10 minutes ago").await;
    assert_eq!(answer["results"], json!([{"latest.version": "v9.9.9", "count": 1}]));

    let stale = json!({"entityGuid": guid, "version": "v1", "timestamp": ANCHOR_MS - 3 * 86_400_000});
    let (_, body) = sandbox.post(create, json!({"deployment": stale})).await;
    assert_eq!(body["errors"][0]["extensions"]["errorClass"], "INVALID_INPUT");
    sandbox.stop().await;
}

#[tokio::test]
async fn dashboards_can_be_created_and_read_back() {
    let sandbox = Sandbox::start().await;
    let create = "mutation($accountId: Int!, $dashboard: DashboardInput!) {
      dashboardCreate(accountId: $accountId, dashboard: $dashboard) { entityResult { guid name } errors { description type } } }";
    let dashboard = json!({"name": "Release health", "permissions": "PUBLIC_READ_ONLY", "pages": [{
        "name": "Main", "widgets": [{"title": "Errors", "visualization": {"id": "viz.line"},
        "layout": {"column": 1, "row": 1, "width": 6, "height": 3},
        "rawConfiguration": {"nrqlQueries": [{"accountIds": [PRODUCTION], "query": "SELECT count(*) FROM TransactionError TIMESERIES"}]}}]}]});
    let data = sandbox.data(create, json!({"accountId": PRODUCTION, "dashboard": dashboard})).await;
    assert_eq!(data["dashboardCreate"]["errors"], json!([]));
    let guid = data["dashboardCreate"]["entityResult"]["guid"].as_str().unwrap().to_string();
    let data = sandbox
        .data(
            "query($guid: EntityGuid!) { actor { entity(guid: $guid) { name ... on DashboardEntity { permissions pages { name widgets { title layout { width } } } } } } }",
            json!({"guid": guid}),
        )
        .await;
    assert_eq!(
        data["actor"]["entity"],
        json!({"name": "Release health", "permissions": "PUBLIC_READ_ONLY", "pages": [{"name": "Main", "widgets": [{"title": "Errors", "layout": {"width": 6}}]}]})
    );
    let empty = json!({"name": "Empty", "permissions": "PRIVATE", "pages": []});
    let data = sandbox.data(create, json!({"accountId": PRODUCTION, "dashboard": empty})).await;
    assert_eq!(data["dashboardCreate"]["entityResult"], Value::Null);
    assert_eq!(data["dashboardCreate"]["errors"][0]["type"], "INVALID_INPUT");
    sandbox.stop().await;
}

#[tokio::test]
async fn nrql_cancel_reports_whether_it_applied() {
    let sandbox = Sandbox::start().await;
    let data = sandbox
        .data(
            "mutation($queryId: String!) { nrqlCancelQuery(queryId: $queryId) { queryId requestStatus rejectionReason } }",
            json!({"queryId": "unknown"}),
        )
        .await;
    assert_eq!(data["nrqlCancelQuery"]["requestStatus"], "REJECTED");
    let data = sandbox
        .data(
            "{ actor { account(id: 1000001) { nrql(query: \"SELECT count(*) FROM Log\", async: true) { queryProgress { queryId completed } } } } }",
            json!({}),
        )
        .await;
    let progress = &data["actor"]["account"]["nrql"]["queryProgress"];
    assert_eq!(progress["completed"], true);
    let query_id = progress["queryId"].as_str().unwrap();
    let data = sandbox
        .data(
            "query($queryId: ID!) { actor { account(id: 1000001) { nrqlQueryProgress(queryId: $queryId) { results queryProgress { completed } } } } }",
            json!({"queryId": query_id}),
        )
        .await;
    assert_eq!(data["actor"]["account"]["nrqlQueryProgress"]["queryProgress"]["completed"], true);
    assert!(data["actor"]["account"]["nrqlQueryProgress"]["results"][0]["count"].is_number());
    let data = sandbox
        .data(
            "mutation($queryId: String!) { nrqlCancelQuery(queryId: $queryId) { requestStatus rejectionReason } }",
            json!({"queryId": query_id}),
        )
        .await;
    assert_eq!(
        data["nrqlCancelQuery"],
        json!({"requestStatus": "REJECTED", "rejectionReason": "The query has already completed"})
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn simple_monitors_can_be_created_and_are_found_as_entities() {
    let sandbox = Sandbox::start().await;
    let create = "mutation($accountId: Int!, $monitor: SyntheticsCreateSimpleMonitorInput!) {
      syntheticsCreateSimpleMonitor(accountId: $accountId, monitor: $monitor) {
        errors { description type } monitor { guid id name uri period status locations { public } } } }";
    let monitor = json!({"name": "checkout health", "uri": "https://shop.example/health", "period": "EVERY_5_MINUTES",
        "status": "ENABLED", "locations": {"public": ["AWS_US_EAST_1", "AWS_EU_WEST_1"]},
        "advancedOptions": {"responseValidationText": "ok"}});
    let data = sandbox.data(create, json!({"accountId": PRODUCTION, "monitor": monitor})).await;
    let result = &data["syntheticsCreateSimpleMonitor"];
    assert_eq!(result["errors"], json!([]));
    assert_eq!(result["monitor"]["locations"]["public"], json!(["AWS_US_EAST_1", "AWS_EU_WEST_1"]));
    let guid = result["monitor"]["guid"].as_str().unwrap().to_string();

    let data = sandbox
        .data(
            "query($guid: EntityGuid!) { actor { entity(guid: $guid) { name domain type ... on SyntheticMonitorEntity { monitorType monitoredUrl period } } } }",
            json!({"guid": guid}),
        )
        .await;
    assert_eq!(
        data["actor"]["entity"],
        json!({"name": "checkout health", "domain": "SYNTH", "type": "MONITOR", "monitorType": "SIMPLE",
               "monitoredUrl": "https://shop.example/health", "period": 5})
    );
    let search = format!("domain = 'SYNTH' AND type = 'MONITOR' AND accountId = {PRODUCTION}");
    let data = sandbox
        .data(
            "query($q: String!) { actor { entitySearch(query: $q) { results { entities { guid } } } } }",
            json!({"q": search}),
        )
        .await;
    let found = data["actor"]["entitySearch"]["results"]["entities"].as_array().unwrap();
    assert!(found.iter().any(|e| e["guid"] == json!(guid)), "{found:?}");

    let mut unknown = monitor.clone();
    unknown["locations"]["public"] = json!(["MOON_BASE_1"]);
    let data = sandbox.data(create, json!({"accountId": PRODUCTION, "monitor": unknown})).await;
    assert_eq!(data["syntheticsCreateSimpleMonitor"]["monitor"], Value::Null);
    assert_eq!(data["syntheticsCreateSimpleMonitor"]["errors"][0]["type"], "BAD_REQUEST");
    sandbox.stop().await;
}
