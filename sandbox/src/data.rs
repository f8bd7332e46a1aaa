//! The sandbox's synthetic New Relic world: accounts, entities and their relationships,
//! alert policies and conditions, issues, deployments, dashboards and three days of
//! telemetry events (APM, distributed traces, logs, JVM metrics, hosts, processes, storage,
//! containers, Kubernetes, Kafka, synthetic checks and browser page views). Everything is a pure function of a seed and an anchor time, so tests
//! can recompute any answer from the same [`Dataset`].

mod event;
mod generate;
mod guid;
mod model;

pub use event::{AttrValue, Event};
pub use guid::entity_guid;
pub use model::{
    Account, AlertPolicy, Dashboard, DashboardPage, DashboardWidget, Deployment, Entity, EntityKind,
    Incident, Issue, NrqlCondition, Relationship, Term,
};

use std::collections::BTreeMap;

/// How far back the synthetic telemetry reaches from the anchor.
pub const HISTORY_MS: i64 = 3 * 24 * 60 * 60 * 1000;

/// The generated world, read-only.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The sandbox clock (epoch ms): data ends just before it.
    pub anchor_ms: i64,
    /// Accounts the user can see, by id.
    pub accounts: Vec<Account>,
    /// Every entity (APM and browser applications, hosts, dashboards and dashboard pages,
    /// synthetic monitors, the Kubernetes cluster).
    pub entities: Vec<Entity>,
    /// Directed relationships between entities.
    pub relationships: Vec<Relationship>,
    /// Alert policies of every account.
    pub policies: Vec<AlertPolicy>,
    /// NRQL alert conditions of every account.
    pub conditions: Vec<NrqlCondition>,
    /// Applied Intelligence issues of every account.
    pub issues: Vec<Issue>,
    /// Incidents behind the issues.
    pub incidents: Vec<Incident>,
    /// Change-tracking deployments.
    pub deployments: Vec<Deployment>,
    /// Dashboard contents by dashboard GUID.
    pub dashboards: Vec<Dashboard>,
    /// Telemetry by account id, each sorted by timestamp.
    pub events: BTreeMap<i64, Vec<Event>>,
}

impl Dataset {
    /// Generates the world for `seed` with the clock at `anchor_ms`.
    pub fn generate(seed: u64, anchor_ms: i64) -> Dataset {
        generate::generate(seed, anchor_ms)
    }

    /// The account with this id.
    pub fn account(&self, id: i64) -> Option<&Account> {
        self.accounts.iter().find(|account| account.id == id)
    }

    /// The entity with this GUID.
    pub fn entity(&self, guid: &str) -> Option<&Entity> {
        self.entities.iter().find(|entity| entity.guid == guid)
    }

    /// The entity of this account with this name and kind tag (`APPLICATION`, `HOST`, …).
    pub fn entity_named(&self, account_id: i64, name: &str, entity_type: &str) -> Option<&Entity> {
        self.entities
            .iter()
            .find(|e| e.account_id == account_id && e.name == name && e.entity_type_tag == entity_type)
    }

    /// The telemetry of one account, sorted by timestamp (empty for an unknown account).
    pub fn events(&self, account_id: i64) -> &[Event] {
        self.events.get(&account_id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The dashboard with this GUID.
    pub fn dashboard(&self, guid: &str) -> Option<&Dashboard> {
        self.dashboards.iter().find(|dashboard| dashboard.guid == guid)
    }

    /// Total number of telemetry events.
    pub fn event_count(&self) -> usize {
        self.events.values().map(Vec::len).sum()
    }
}
