//! NerdGraph's object types over the sandbox world: the query root (`actor` and below)
//! and the mutation root. Each resolver computes the fields that take arguments or need
//! data; everything else is plain JSON the executor looks up.

mod alerts;
mod entities;
mod issues;
mod mutations;
mod nrql;
pub mod pagination;

use std::cell::Cell;
use std::time::Duration;

use serde_json::{Value, json};

use crate::graphql::executor::{FieldCall, FieldError, Resolved, Resolver};
use crate::world::World;

pub use mutations::MutationRoot;

/// What one request carries into resolution besides its document.
#[derive(Debug)]
pub struct RequestContext<'w> {
    /// The world.
    pub world: &'w World,
    /// Latency the fault plan adds to this request: an NRQL query whose timeout is shorter
    /// counts as slow (a `TIMEOUT` error, or `queryProgress` when async).
    pub planned_latency: Duration,
    /// The fault plan asks for a GraphQL `TIMEOUT` error.
    pub forced_timeout: bool,
    /// The shortest NRQL timeout the request used; the response is not delayed past it.
    pub nrql_timeout: Cell<Option<Duration>>,
    /// Set once a `TIMEOUT` error has been produced.
    pub timeout_reported: Cell<bool>,
}

impl<'w> RequestContext<'w> {
    /// A context without faults.
    pub fn new(world: &'w World) -> RequestContext<'w> {
        RequestContext {
            world,
            planned_latency: Duration::ZERO,
            forced_timeout: false,
            nrql_timeout: Cell::new(None),
            timeout_reported: Cell::new(false),
        }
    }

    fn note_nrql_timeout(&self, timeout: Duration) {
        let shortest = self.nrql_timeout.get().map_or(timeout, |current| current.min(timeout));
        self.nrql_timeout.set(Some(shortest));
    }

    /// The error of a query that ran out of time.
    pub fn timeout_error(&self) -> FieldError {
        self.timeout_reported.set(true);
        FieldError::new("TIMEOUT", "NRDB query duration exceeded the set timeout")
    }
}

/// The error NerdGraph gives for an account the user cannot see.
pub fn account_error(account_id: i64) -> FieldError {
    FieldError::new(
        "FORBIDDEN",
        format!(
            "Access denied to account {account_id}: it does not exist or the API key's user cannot see it"
        ),
    )
}

fn int_arg(call: &FieldCall<'_>, name: &str) -> Result<i64, FieldError> {
    call.arg(name)
        .and_then(Value::as_i64)
        .ok_or_else(|| FieldError::invalid_input(format!("Argument '{name}' must be an integer")))
}

fn str_arg<'c>(call: &'c FieldCall<'_>, name: &str) -> Option<&'c str> {
    call.arg(name).and_then(Value::as_str)
}

/// `RootQueryType`.
pub struct QueryRoot<'w> {
    /// Request context.
    pub ctx: &'w RequestContext<'w>,
}

impl<'w> Resolver<'w> for QueryRoot<'w> {
    fn typename(&self) -> &str {
        "RootQueryType"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        match call.name {
            "actor" => Ok(Resolved::object(Actor { ctx: self.ctx })),
            _ => Ok(Resolved::null()),
        }
    }
}

struct Actor<'w> {
    ctx: &'w RequestContext<'w>,
}

impl<'w> Resolver<'w> for Actor<'w> {
    fn typename(&self) -> &str {
        "Actor"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        let world = self.ctx.world;
        match call.name {
            "account" => {
                let id = int_arg(call, "id")?;
                if !world.has_account(id) {
                    return Err(account_error(id));
                }
                Ok(Resolved::object(Account { ctx: self.ctx, id }))
            }
            "accounts" => Ok(Resolved::Value(Value::Array(
                world.dataset.accounts.iter().map(|a| json!({"id": a.id, "name": a.name})).collect(),
            ))),
            "user" => Ok(Resolved::Value(json!({
                "id": 3_000_001,
                "email": "sandbox.user@acme.example",
                "name": "Sandbox User"
            }))),
            "entity" => entities::entity(self.ctx, call),
            "entities" => entities::entities(self.ctx, call),
            "entitySearch" => entities::search(self.ctx, call),
            "nrql" => nrql::cross_account(self.ctx, call),
            "nrqlQueryProgress" => nrql::cross_account_progress(self.ctx, call),
            _ => Ok(Resolved::null()),
        }
    }
}

struct Account<'w> {
    ctx: &'w RequestContext<'w>,
    id: i64,
}

impl<'w> Resolver<'w> for Account<'w> {
    fn typename(&self) -> &str {
        "Account"
    }

    fn resolve(&self, call: &FieldCall<'_>) -> Result<Resolved<'w>, FieldError> {
        match call.name {
            "id" => Ok(Resolved::Value(Value::from(self.id))),
            "name" => Ok(Resolved::Value(
                self.ctx
                    .world
                    .dataset
                    .account(self.id)
                    .map_or(Value::Null, |a| Value::String(a.name.clone())),
            )),
            "nrql" => nrql::single_account(self.ctx, self.id, call),
            "nrqlQueryProgress" => nrql::progress(self.ctx, &[self.id], call),
            "alerts" => Ok(Resolved::object(alerts::Alerts { ctx: self.ctx, account_id: self.id })),
            "aiIssues" => Ok(Resolved::object(issues::AiIssues { ctx: self.ctx, account_id: self.id })),
            _ => Ok(Resolved::null()),
        }
    }
}
