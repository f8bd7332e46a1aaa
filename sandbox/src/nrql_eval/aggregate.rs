//! Aggregate functions over a group of events, and arithmetic between their results.
//!
//! Percentiles are exact (nearest rank on the sorted values), not New Relic's streaming
//! estimate; sums and averages add values in event order. Threshold shares (`apdex`,
//! `cdfPercentage`), trends (`derivative`, `predictLinear`, `latestRate`) and `funnel`
//! live in submodules.

mod funnel;
mod thresholds;
mod trend;

use std::collections::HashSet;

use newrelic_mcp_nrql::ast::{Arg, Expr, Literal};
use serde_json::{Map, Value};

use super::NrqlError;
use super::value::{Val, arithmetic, eval, literal, scalar_function};
use crate::data::Event;

/// How many values `uniques()` returns when no limit is given.
const UNIQUES_DEFAULT_LIMIT: usize = 1000;
/// The largest limit `uniques()` accepts.
const UNIQUES_MAX_LIMIT: usize = 10_000;

/// The time range an aggregate covers: the query window, or one timeseries bucket.
/// `rate()` relates to its width; `predictLinear()` projects from its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, epoch milliseconds (inclusive).
    pub begin: i64,
    /// End, epoch milliseconds (exclusive).
    pub end: i64,
}

impl TimeRange {
    /// The width in milliseconds.
    pub fn width(self) -> i64 {
        self.end.saturating_sub(self.begin)
    }
}

/// Evaluates an aggregate expression over `group`, which fell in `range`.
pub fn eval_aggregate(expr: &Expr, group: &[&Event], range: TimeRange) -> Result<Val, NrqlError> {
    match expr {
        Expr::Literal(value) => Ok(literal(value)),
        Expr::Function { name, args } if newrelic_mcp_nrql::is_aggregator(name) => {
            aggregator(name, args, group, range)
        }
        Expr::Function { name, args } => {
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                match arg {
                    Arg::Expr(inner) => values.push(eval_aggregate(inner, group, range)?),
                    _ => return Err(NrqlError::Unsupported(format!("this form of argument to {name}()"))),
                }
            }
            scalar_function(name, &values)
        }
        Expr::Binary { op, left, right } if op.is_arithmetic() => {
            Ok(arithmetic(*op, &eval_aggregate(left, group, range)?, &eval_aggregate(right, group, range)?))
        }
        Expr::Unary { op: newrelic_mcp_nrql::ast::UnaryOp::Neg, expr } => Ok(arithmetic(
            newrelic_mcp_nrql::ast::BinaryOp::Sub,
            &Val::Int(0),
            &eval_aggregate(expr, group, range)?,
        )),
        Expr::Attribute(name) => Err(NrqlError::Invalid(format!(
            "attribute '{name}' must be inside an aggregate function when other SELECT items aggregate"
        ))),
        _ => Err(NrqlError::Unsupported("this expression in an aggregate SELECT".to_string())),
    }
}

fn attribute_arg<'a>(name: &str, args: &'a [Arg]) -> Result<&'a Expr, NrqlError> {
    match args.first() {
        Some(Arg::Expr(expr)) => Ok(expr),
        _ => Err(NrqlError::Invalid(format!("{name}() needs an attribute as its first argument"))),
    }
}

fn numbers(expr: &Expr, group: &[&Event]) -> Result<Vec<f64>, NrqlError> {
    let mut out = Vec::with_capacity(group.len());
    for event in group {
        if let Some(number) = eval(expr, event)?.as_f64() {
            out.push(number);
        }
    }
    Ok(out)
}

fn number_arg(args: &[Arg], index: usize) -> Option<f64> {
    match args.get(index) {
        Some(Arg::Expr(Expr::Literal(Literal::Int(n)))) => Some(*n as f64),
        Some(Arg::Expr(Expr::Literal(Literal::Float(n)))) => Some(*n),
        _ => None,
    }
}

fn named_number(args: &[Arg], wanted: &str) -> Option<f64> {
    args.iter().find_map(|arg| match arg {
        Arg::Named { name, value: Expr::Literal(Literal::Int(n)) } if name.eq_ignore_ascii_case(wanted) => {
            Some(*n as f64)
        }
        Arg::Named { name, value: Expr::Literal(Literal::Float(n)) } if name.eq_ignore_ascii_case(wanted) => {
            Some(*n)
        }
        _ => None,
    })
}

fn float(value: f64) -> Val {
    if value.is_finite() { Val::Float(value) } else { Val::Null }
}

/// The value at a percentile by nearest rank over sorted values.
pub fn percentile_of(sorted: &[f64], level: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((level / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

/// The key NerdGraph uses for a percentile level: `95`, `99.9`.
pub fn level_key(level: f64) -> String {
    if level.fract() == 0.0 { format!("{}", level as i64) } else { format!("{level}") }
}

fn where_condition<'a>(name: &str, args: &'a [Arg]) -> Result<&'a Expr, NrqlError> {
    let mut conditions = args.iter().filter_map(|arg| match arg {
        Arg::Where { condition, .. } => Some(condition),
        _ => None,
    });
    let first = conditions.next().ok_or_else(|| {
        NrqlError::Invalid(format!("{name}() needs a WHERE condition as its second argument"))
    })?;
    if conditions.next().is_some() {
        return Err(NrqlError::Invalid(format!(
            "{name}() takes one WHERE condition; combine several with AND / OR, e.g. WHERE a = 1 AND b = 2"
        )));
    }
    Ok(first)
}

/// The interval argument of `rate()`, `derivative()` and the like, in milliseconds.
fn interval_arg(args: &[Arg]) -> Option<f64> {
    args.iter().find_map(|arg| match arg {
        Arg::Duration(duration) => Some(duration.as_millis() as f64),
        _ => None,
    })
}

fn filtered<'e>(condition: &Expr, group: &[&'e Event]) -> Result<Vec<&'e Event>, NrqlError> {
    let mut out = Vec::new();
    for event in group {
        if eval(condition, event)?.is_true() {
            out.push(*event);
        }
    }
    Ok(out)
}

fn inner_aggregate<'a>(name: &str, args: &'a [Arg]) -> Result<&'a Expr, NrqlError> {
    match args.first() {
        Some(Arg::Expr(expr)) if expr.contains_aggregator() => Ok(expr),
        _ => Err(NrqlError::Invalid(format!("{name}() needs an aggregate function as its first argument"))),
    }
}

fn variance(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some(values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64)
}

fn aggregator(name: &str, args: &[Arg], group: &[&Event], range: TimeRange) -> Result<Val, NrqlError> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "count" => match args.first() {
            None | Some(Arg::Wildcard) => Ok(Val::Int(group.len() as i64)),
            Some(Arg::Expr(expr)) => {
                let mut count = 0i64;
                for event in group {
                    if eval(expr, event)? != Val::Null {
                        count += 1;
                    }
                }
                Ok(Val::Int(count))
            }
            _ => Err(NrqlError::Invalid("count() takes * or an attribute".to_string())),
        },
        "sum" => Ok(Val::Float(numbers(attribute_arg(name, args)?, group)?.iter().sum())),
        "average" => {
            let values = numbers(attribute_arg(name, args)?, group)?;
            if values.is_empty() {
                return Ok(Val::Null);
            }
            Ok(float(values.iter().sum::<f64>() / values.len() as f64))
        }
        "min" => Ok(numbers(attribute_arg(name, args)?, group)?
            .into_iter()
            .reduce(f64::min)
            .map_or(Val::Null, float)),
        "max" => Ok(numbers(attribute_arg(name, args)?, group)?
            .into_iter()
            .reduce(f64::max)
            .map_or(Val::Null, float)),
        "stddev" => {
            Ok(variance(&numbers(attribute_arg(name, args)?, group)?).map_or(Val::Null, |v| float(v.sqrt())))
        }
        "stdvar" => Ok(variance(&numbers(attribute_arg(name, args)?, group)?).map_or(Val::Null, float)),
        "median" | "percentile" => {
            let mut values = numbers(attribute_arg(name, args)?, group)?;
            values.sort_by(f64::total_cmp);
            let levels: Vec<f64> = if lower == "median" {
                vec![50.0]
            } else {
                let levels: Vec<f64> = (1..args.len()).filter_map(|index| number_arg(args, index)).collect();
                if levels.is_empty() || levels.len() != args.len() - 1 {
                    return Err(NrqlError::Invalid(
                        "percentile() needs an attribute and numeric levels".to_string(),
                    ));
                }
                if levels.iter().any(|level| !(0.0..=100.0).contains(level)) {
                    return Err(NrqlError::Invalid(
                        "percentile levels must be between 0 and 100".to_string(),
                    ));
                }
                levels
            };
            let mut map = Map::new();
            for level in levels {
                let value = percentile_of(&values, level)
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number);
                map.insert(level_key(level), value);
            }
            Ok(Val::Json(Value::Object(map)))
        }
        "uniquecount" => {
            let mut seen = HashSet::new();
            for event in group {
                let key: Vec<String> = args
                    .iter()
                    .map(|arg| match arg {
                        Arg::Expr(expr) => eval(expr, event)
                            .map(|v| if v == Val::Null { String::new() } else { v.group_key() }),
                        _ => Ok(String::new()),
                    })
                    .collect::<Result<_, _>>()?;
                if key.iter().any(|part| !part.is_empty()) {
                    seen.insert(key);
                }
            }
            Ok(Val::Int(seen.len() as i64))
        }
        "uniques" => {
            let expr = attribute_arg(name, args)?;
            let limit = number_arg(args, 1).map_or(UNIQUES_DEFAULT_LIMIT, |n| n.max(0.0) as usize);
            if limit > UNIQUES_MAX_LIMIT {
                return Err(NrqlError::Invalid(format!(
                    "uniques() returns at most {UNIQUES_MAX_LIMIT} values; lower its limit"
                )));
            }
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for event in group {
                let value = eval(expr, event)?;
                if value != Val::Null && seen.insert(value.group_key()) {
                    out.push(value.to_json());
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(Val::Json(Value::Array(out)))
        }
        "latest" | "earliest" => {
            let expr = attribute_arg(name, args)?;
            let mut best: Option<(i64, Val)> = None;
            for event in group {
                let value = eval(expr, event)?;
                if value == Val::Null {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some((timestamp, _)) if lower == "latest" => event.timestamp >= *timestamp,
                    Some((timestamp, _)) => event.timestamp < *timestamp,
                };
                if better {
                    best = Some((event.timestamp, value));
                }
            }
            Ok(best.map_or(Val::Null, |(_, value)| value))
        }
        "rate" => {
            let inner = inner_aggregate(name, args)?;
            let per_ms = interval_arg(args).ok_or_else(|| {
                NrqlError::Unsupported(
                    "rate() without a time interval; pass one, e.g. rate(count(*), 1 minute)".into(),
                )
            })?;
            let value = eval_aggregate(inner, group, range)?;
            if range.width() <= 0 {
                return Ok(Val::Null);
            }
            Ok(value.as_f64().map_or(Val::Null, |v| float(v * per_ms / range.width() as f64)))
        }
        "percentage" => {
            let inner = inner_aggregate(name, args)?;
            let condition = where_condition(name, args)?;
            let subset = filtered(condition, group)?;
            let part = eval_aggregate(inner, &subset, range)?.as_f64();
            let whole = eval_aggregate(inner, group, range)?.as_f64();
            Ok(match (part, whole) {
                (Some(part), Some(whole)) if whole != 0.0 => float(100.0 * part / whole),
                _ => Val::Null,
            })
        }
        "filter" => {
            let inner = inner_aggregate(name, args)?;
            let condition = where_condition(name, args)?;
            let subset = filtered(condition, group)?;
            eval_aggregate(inner, &subset, range)
        }
        "histogram" => {
            let expr = attribute_arg(name, args)?;
            let ceiling = number_arg(args, 1).or_else(|| named_number(args, "ceiling"));
            let width = named_number(args, "width");
            let floor = number_arg(args, 3).or_else(|| named_number(args, "floor")).unwrap_or(0.0);
            let buckets = number_arg(args, 2).or_else(|| named_number(args, "buckets")).unwrap_or(40.0);
            let ceiling = match (ceiling, width) {
                (Some(ceiling), _) => ceiling,
                (None, Some(width)) => floor + width,
                (None, None) => {
                    return Err(NrqlError::Invalid("histogram() needs a ceiling or width".into()));
                }
            };
            if !(1.0..=500.0).contains(&buckets) || ceiling <= floor {
                return Err(NrqlError::Invalid(
                    "histogram() needs 1–500 buckets and a ceiling above its floor".into(),
                ));
            }
            let count = buckets as usize;
            let width = (ceiling - floor) / count as f64;
            let mut counts = vec![0i64; count];
            for value in numbers(expr, group)? {
                if value >= floor && value < ceiling {
                    let index = (((value - floor) / width) as usize).min(count - 1);
                    counts[index] += 1;
                }
            }
            Ok(Val::Json(Value::Array(counts.into_iter().map(Value::from).collect())))
        }
        "apdex" => thresholds::apdex(attribute_arg(name, args)?, args, group),
        "cdfpercentage" => thresholds::cdf_percentage(attribute_arg(name, args)?, args, group),
        "derivative" => trend::derivative(attribute_arg(name, args)?, args, group),
        "predictlinear" => trend::predict_linear(attribute_arg(name, args)?, args, group, range),
        "latestrate" => trend::latest_rate(attribute_arg(name, args)?, args, group),
        "funnel" => funnel::funnel(attribute_arg(name, args)?, args, group),
        _ => Err(NrqlError::Unsupported(format!("the aggregate function {name}()"))),
    }
}

/// The result key NerdGraph gives an unlabelled SELECT item: `count`, `average.duration`,
/// `percentile.duration`, `rate.count`; other expressions are printed as written.
pub fn default_key(expr: &Expr) -> String {
    match expr {
        Expr::Function { name, args } if newrelic_mcp_nrql::is_aggregator(name) => {
            if name.eq_ignore_ascii_case("count") {
                return "count".to_string();
            }
            match args.first() {
                Some(Arg::Expr(Expr::Attribute(attribute))) => format!("{name}.{attribute}"),
                Some(Arg::Expr(inner @ Expr::Function { .. })) => format!("{name}.{}", default_key(inner)),
                _ => name.clone(),
            }
        }
        Expr::Attribute(name) => name.clone(),
        other => print_expr(other),
    }
}

/// Prints an expression in NRQL syntax (for labels).
pub fn print_expr(expr: &Expr) -> String {
    match expr {
        Expr::Attribute(name) => name.clone(),
        Expr::Literal(Literal::String(text)) => format!("'{}'", text.replace('\'', "\\'")),
        Expr::Literal(value) => literal(value).to_json().to_string(),
        Expr::Function { name, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|arg| match arg {
                    Arg::Expr(inner) => print_expr(inner),
                    Arg::Wildcard => "*".to_string(),
                    Arg::Where { condition, .. } => format!("WHERE {}", print_expr(condition)),
                    Arg::Duration(duration) => format!("{} {}", duration.amount, duration.unit.plural()),
                    Arg::Named { name, value } => format!("{name}: {}", print_expr(value)),
                    #[allow(unreachable_patterns)]
                    _ => "…".to_string(),
                })
                .collect();
            format!("{name}({})", args.join(", "))
        }
        Expr::Binary { op, left, right } => {
            format!("{} {} {}", print_expr(left), op.symbol(), print_expr(right))
        }
        Expr::Unary { op: newrelic_mcp_nrql::ast::UnaryOp::Neg, expr } => format!("-{}", print_expr(expr)),
        Expr::Unary { expr, .. } => format!("NOT {}", print_expr(expr)),
        Expr::IsBool { expr, value, negated } => {
            format!(
                "{} IS {}{}",
                print_expr(expr),
                if *negated { "NOT " } else { "" },
                if *value { "TRUE" } else { "FALSE" }
            )
        }
        Expr::IsNull { expr, negated } => {
            format!("{} IS {}NULL", print_expr(expr), if *negated { "NOT " } else { "" })
        }
        Expr::Like { expr, pattern, negated } => {
            format!("{} {}LIKE {}", print_expr(expr), if *negated { "NOT " } else { "" }, print_expr(pattern))
        }
        Expr::In { expr, list: newrelic_mcp_nrql::ast::InList::Values(values), negated } => format!(
            "{} {}IN ({})",
            print_expr(expr),
            if *negated { "NOT " } else { "" },
            values.iter().map(print_expr).collect::<Vec<_>>().join(", ")
        ),
        _ => "expression".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let cases =
            [(50.0, Some(5.0)), (95.0, Some(10.0)), (90.0, Some(9.0)), (0.0, Some(1.0)), (10.0, Some(1.0))];
        for (level, expected) in cases {
            assert_eq!(percentile_of(&sorted, level), expected, "p{level}");
        }
        assert_eq!(percentile_of(&[], 50.0), None);
    }

    #[test]
    fn level_keys_match_nerdgraph() {
        assert_eq!(level_key(95.0), "95");
        assert_eq!(level_key(99.9), "99.9");
    }
}
