//! Change-tracking deployments: a few releases per application over the history, plus the
//! payments release that went bad shortly before the anchor.

use rand::Rng;
use rand::rngs::StdRng;

use super::super::event::Event;
use super::super::model::Deployment;
use super::{AppInstance, BAD_RELEASE_AGO_MS, HISTORY_MS, HOUR, PRODUCTION, uuid_like};

pub(super) fn generate_deployments(
    rng: &mut StdRng,
    apps: &[AppInstance],
    anchor_ms: i64,
) -> Vec<Deployment> {
    let users = ["ci-bot", "alice@acme.example", "bob@acme.example"];
    let types = ["ROLLING", "BLUE_GREEN", "CANARY", "BASIC"];
    let mut deployments = Vec::new();
    for (app_index, app) in apps.iter().enumerate() {
        let mut times: Vec<i64> =
            (0..3).map(|_| anchor_ms - HISTORY_MS + rng.random_range(HOUR..HISTORY_MS - 4 * HOUR)).collect();
        if app.account_id == PRODUCTION && app.spec.name == "payments-api" {
            times.push(anchor_ms - BAD_RELEASE_AGO_MS);
        }
        times.sort_unstable();
        for (n, timestamp) in times.into_iter().enumerate() {
            let commit = format!("{:07x}", rng.random::<u32>() & 0x0fff_ffff);
            let version = format!("v1.{}.{}", 3 + app_index % 3, n);
            deployments.push(Deployment {
                deployment_id: uuid_like(rng),
                entity_guid: app.guid.clone(),
                account_id: app.account_id,
                version: version.clone(),
                commit: Some(commit.clone()),
                user: Some(users[rng.random_range(0..users.len())].to_string()),
                timestamp,
                description: Some(format!("Release {version} of {}", app.spec.name)),
                deployment_type: types[rng.random_range(0..types.len())].to_string(),
                changelog: Some(format!("https://git.acme.example/{}/releases/{version}", app.spec.name)),
                group_id: None,
                deep_link: None,
            });
        }
    }
    deployments
}

pub(super) fn deployment_event(deployment: &Deployment, app_name: &str) -> Event {
    let mut event = Event::new("Deployment", deployment.timestamp)
        .with("deploymentId", deployment.deployment_id.as_str())
        .with("entity.guid", deployment.entity_guid.as_str())
        .with("entityGuid", deployment.entity_guid.as_str())
        .with("appName", app_name)
        .with("version", deployment.version.as_str())
        .with("deploymentType", deployment.deployment_type.as_str());
    for (name, value) in [
        ("commit", &deployment.commit),
        ("user", &deployment.user),
        ("description", &deployment.description),
        ("changelog", &deployment.changelog),
    ] {
        if let Some(value) = value {
            event = event.with(name, value.as_str());
        }
    }
    event
}
