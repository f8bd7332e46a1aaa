//! The sandbox's live world: the generated [`Dataset`] plus what mutations change
//! (policies, conditions, issue states, deployments, dashboards) and async NRQL queries.
//!
//! The bulk telemetry stays immutable and shared; the small mutable records sit behind one
//! mutex held only to copy or update a few records.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::time::Instant;

use crate::config::AsyncNrqlConfig;
use crate::data::{
    AlertPolicy, Dashboard, Dataset, Deployment, Entity, Event, Incident, Issue, NrqlCondition,
};

/// An NRQL query answered asynchronously.
#[derive(Debug, Clone)]
pub struct AsyncQuery {
    /// Accounts the query ran against.
    pub accounts: Vec<i64>,
    /// When its result becomes available.
    pub ready_at: Instant,
    /// The container JSON (`results`, `metadata`, …) once complete.
    pub result: Value,
    /// Whether `nrqlCancelQuery` cancelled it.
    pub cancelled: bool,
    /// `nrqlQueryProgress` polls still needed before the result is ready.
    pub polls_left: u32,
    /// The `retryAfter` to answer while it runs, in seconds (0: derived from `ready_at`).
    pub retry_after_seconds: u64,
    /// Order of creation: the oldest query is forgotten first.
    pub sequence: u64,
}

/// Records that mutations change.
#[derive(Debug, Clone)]
pub struct Records {
    /// Alert policies.
    pub policies: Vec<AlertPolicy>,
    /// NRQL conditions.
    pub conditions: Vec<NrqlCondition>,
    /// Issues.
    pub issues: Vec<Issue>,
    /// Incidents.
    pub incidents: Vec<Incident>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// Dashboards.
    pub dashboards: Vec<Dashboard>,
    /// Entities, including dashboards created at run time.
    pub entities: Vec<Entity>,
    /// Events recorded at run time (deployments), by account.
    pub extra_events: BTreeMap<i64, Vec<Event>>,
    /// Async NRQL queries by id.
    pub async_queries: HashMap<String, AsyncQuery>,
    next_id: u64,
}

impl Records {
    /// The incidents of an account.
    pub fn incidents_of(&self, account_id: i64) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(move |incident| incident.account_id == account_id)
    }

    /// Remembers an async query. Past `max_pending` the oldest are forgotten first, so the
    /// map stays bounded however many queries are started and never polled.
    pub fn remember_async_query(&mut self, id: String, query: AsyncQuery, max_pending: usize) {
        while self.async_queries.len() >= max_pending.max(1) {
            let oldest =
                self.async_queries.iter().min_by_key(|(_, query)| query.sequence).map(|(id, _)| id.clone());
            match oldest {
                Some(oldest) => self.async_queries.remove(&oldest),
                None => break,
            };
        }
        self.async_queries.insert(id, query);
    }

    /// A fresh numeric id, unique in this sandbox.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The world one sandbox serves.
#[derive(Debug)]
pub struct World {
    /// The generated data (telemetry is read from here).
    pub dataset: Arc<Dataset>,
    /// How async NRQL behaves.
    pub async_nrql: AsyncNrqlConfig,
    records: Mutex<Records>,
}

impl World {
    /// A world starting from `dataset`.
    pub fn new(dataset: Dataset) -> World {
        let records = Records {
            policies: dataset.policies.clone(),
            conditions: dataset.conditions.clone(),
            issues: dataset.issues.clone(),
            incidents: dataset.incidents.clone(),
            deployments: dataset.deployments.clone(),
            dashboards: dataset.dashboards.clone(),
            entities: dataset.entities.clone(),
            extra_events: BTreeMap::new(),
            async_queries: HashMap::new(),
            next_id: 9_000_000,
        };
        World {
            dataset: Arc::new(dataset),
            async_nrql: AsyncNrqlConfig::default(),
            records: Mutex::new(records),
        }
    }

    /// The same world with async NRQL set up as `config` says.
    pub fn with_async_nrql(self, config: AsyncNrqlConfig) -> World {
        World { async_nrql: config, ..self }
    }

    /// The sandbox clock (epoch ms).
    pub fn now_ms(&self) -> i64 {
        self.dataset.anchor_ms
    }

    /// Locks the mutable records; a poisoned lock is recovered since records stay
    /// consistent between statements.
    pub fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the account exists.
    pub fn has_account(&self, id: i64) -> bool {
        self.dataset.account(id).is_some()
    }

    /// Events recorded at run time for an account (the generated ones are in `dataset`).
    pub fn extra_events(&self, account_id: i64) -> Vec<Event> {
        self.records().extra_events.get(&account_id).cloned().unwrap_or_default()
    }
}
