//! Aggregates that sort values against thresholds: `apdex()` and `cdfPercentage()`.

use newrelic_mcp_nrql::ast::{Arg, Expr};
use serde_json::{Map, Number, Value};

use super::{NrqlError, Val, level_key, named_number, number_arg, numbers};
use crate::data::Event;

/// `apdex(attribute, t: T)`: satisfied at or under T, tolerating up to 4T, frustrated
/// above. Like New Relic's function it looks at the values only (errors are not
/// frustrated by themselves) and answers `{"score", "s", "t", "f", "count"}`.
pub(super) fn apdex(attribute: &Expr, args: &[Arg], group: &[&Event]) -> Result<Val, NrqlError> {
    let threshold = named_number(args, "t").or_else(|| number_arg(args, 1)).ok_or_else(|| {
        NrqlError::Unsupported(
            "apdex() without an Apdex T; pass it, e.g. apdex(duration, t: 0.5)".to_string(),
        )
    })?;
    if threshold <= 0.0 {
        return Err(NrqlError::Invalid("apdex() needs an Apdex T above zero".to_string()));
    }
    let (mut satisfied, mut tolerating, mut frustrated) = (0u64, 0u64, 0u64);
    for value in numbers(attribute, group)? {
        if value <= threshold {
            satisfied += 1;
        } else if value <= 4.0 * threshold {
            tolerating += 1;
        } else {
            frustrated += 1;
        }
    }
    let count = satisfied + tolerating + frustrated;
    let score = if count == 0 {
        Value::Null
    } else {
        Number::from_f64((satisfied as f64 + tolerating as f64 / 2.0) / count as f64)
            .map_or(Value::Null, Value::Number)
    };
    let mut map = Map::new();
    map.insert("score".to_string(), score);
    map.insert("s".to_string(), Value::from(satisfied));
    map.insert("t".to_string(), Value::from(tolerating));
    map.insert("f".to_string(), Value::from(frustrated));
    map.insert("count".to_string(), Value::from(count));
    Ok(Val::Json(Value::Object(map)))
}

/// `cdfPercentage(attribute, threshold, …)`: the percentage of values at or below each
/// threshold, keyed by the threshold as `percentile()` keys its levels.
pub(super) fn cdf_percentage(attribute: &Expr, args: &[Arg], group: &[&Event]) -> Result<Val, NrqlError> {
    let thresholds: Vec<f64> = (1..args.len()).filter_map(|index| number_arg(args, index)).collect();
    if thresholds.is_empty() || thresholds.len() != args.len() - 1 {
        return Err(NrqlError::Invalid(
            "cdfPercentage() needs an attribute and one or more numeric thresholds".to_string(),
        ));
    }
    let values = numbers(attribute, group)?;
    let mut map = Map::new();
    for threshold in thresholds {
        let share = if values.is_empty() {
            Value::Null
        } else {
            let below = values.iter().filter(|value| **value <= threshold).count();
            Number::from_f64(100.0 * below as f64 / values.len() as f64).map_or(Value::Null, Value::Number)
        };
        map.insert(level_key(threshold), share);
    }
    Ok(Val::Json(Value::Object(map)))
}
