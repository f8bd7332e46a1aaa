//! `funnel(attribute, WHERE step1, WHERE step2, …)`: how many distinct values of the
//! attribute completed the first step, then the first two, and so on. As in New Relic
//! the order in which the steps happened does not matter; unlike it, counts are exact at
//! any cardinality (New Relic estimates past 256 values).

use std::collections::HashMap;

use newrelic_mcp_nrql::ast::{Arg, Expr};
use serde_json::{Value, json};

use super::NrqlError;
use crate::data::Event;
use crate::nrql_eval::value::{Val, eval};

/// Steps New Relic allows in one funnel.
const MAX_STEPS: usize = 10;

/// The funnel as `{"steps": [n1, n2, …]}`.
pub(super) fn funnel(attribute: &Expr, args: &[Arg], group: &[&Event]) -> Result<Val, NrqlError> {
    let steps: Vec<&Expr> = args
        .iter()
        .filter_map(|arg| match arg {
            Arg::Where { condition, .. } => Some(condition),
            _ => None,
        })
        .collect();
    if steps.len() < 2 || steps.len() > MAX_STEPS || steps.len() + 1 != args.len() {
        return Err(NrqlError::Invalid(format!(
            "funnel() needs an attribute and 2 to {MAX_STEPS} steps written WHERE condition [AS 'label']"
        )));
    }
    let mut completed: HashMap<String, u16> = HashMap::new();
    for event in group {
        let value = eval(attribute, event)?;
        if value == Val::Null {
            continue;
        }
        let mut mask = 0u16;
        for (index, condition) in steps.iter().enumerate() {
            if eval(condition, event)?.is_true() {
                mask |= 1 << index;
            }
        }
        if mask != 0 {
            *completed.entry(value.group_key()).or_default() |= mask;
        }
    }
    let counts: Vec<Value> = (0..steps.len())
        .map(|step| {
            let through: u16 = (1 << (step + 1)) - 1;
            Value::from(completed.values().filter(|mask| *mask & through == through).count())
        })
        .collect();
    Ok(Val::Json(json!({ "steps": counts })))
}
