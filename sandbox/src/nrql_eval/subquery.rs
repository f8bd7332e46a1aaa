//! Subqueries inside expressions: `x IN (SELECT uniques(y) FROM …)`, `x NOT IN (…)` and
//! scalar ones such as `duration > (SELECT average(duration) FROM Transaction)`.
//!
//! As in New Relic, each subquery runs once, on its own, before the outer query: over the
//! same accounts, and over the outer query's time window (and time zone) unless it names
//! its own `SINCE` or `UNTIL`. Its answer then stands in the outer query as a constant, or a list of
//! constants for `IN`. A query holds at most three subqueries, nested or not; they take
//! neither `TIMESERIES` nor `COMPARE WITH`, and never appear in `FACET` except inside
//! the conditions of `FACET CASES`.

use newrelic_mcp_nrql::ast::{Arg, Expr, FacetTarget, InList, Literal, SelectItem, SelectQuery, TimePoint};
use serde_json::Value;

use super::{MAX_LIMIT, NrqlError, default_key, evaluate_select};
use crate::data::Event;

/// Subqueries New Relic allows in one query, nested or not.
pub const MAX_SUBQUERIES: usize = 3;

/// `query` with every subquery in its expressions replaced by its answer.
pub fn resolve(query: &SelectQuery, events: &[&Event], now_ms: i64) -> Result<SelectQuery, NrqlError> {
    let count = count(query);
    if count == 0 {
        return Ok(query.clone());
    }
    if count > MAX_SUBQUERIES {
        return Err(NrqlError::Invalid(format!(
            "a query may hold at most {MAX_SUBQUERIES} subqueries, nested or not; this one has {count}"
        )));
    }
    let resolver = Resolver {
        events,
        now_ms,
        since: query.since.clone(),
        until: query.until.clone(),
        timezone: query.timezone.clone(),
    };
    let mut resolved = query.clone();
    resolver.query(&mut resolved)?;
    Ok(resolved)
}

fn count(query: &SelectQuery) -> usize {
    query.direct_subqueries().into_iter().map(|inner| 1 + count(inner)).sum()
}

/// Whether `expr` holds a subquery (outside other subqueries).
pub fn contains_subquery(expr: &Expr) -> bool {
    let mut found = false;
    expr.visit(&mut |node| {
        found |= matches!(node, Expr::Subquery(_) | Expr::In { list: InList::Subquery(_), .. });
    });
    found
}

struct Resolver<'a, 'e> {
    events: &'a [&'e Event],
    now_ms: i64,
    since: Option<TimePoint>,
    until: Option<TimePoint>,
    timezone: Option<String>,
}

impl Resolver<'_, '_> {
    fn query(&self, query: &mut SelectQuery) -> Result<(), NrqlError> {
        for item in &mut query.select {
            if let SelectItem::Expr { expr, .. } = item {
                self.expr(expr)?;
            }
        }
        if let Some(condition) = &mut query.where_clause {
            self.expr(condition)?;
        }
        for item in &mut query.facet {
            match &mut item.target {
                FacetTarget::Cases(cases) | FacetTarget::CasesOr { cases, .. } => {
                    for case in cases {
                        self.expr(&mut case.condition)?;
                    }
                }
                FacetTarget::Expr(_) => {}
            }
        }
        for item in &mut query.order_by {
            self.expr(&mut item.expr)?;
        }
        Ok(())
    }

    fn expr(&self, expr: &mut Expr) -> Result<(), NrqlError> {
        match expr {
            Expr::Subquery(inner) => {
                let value = self.scalar(inner)?;
                *expr = Expr::Literal(value);
            }
            Expr::In { expr: tested, list, .. } => {
                self.expr(tested)?;
                match list {
                    InList::Subquery(inner) => {
                        let values = self.set(inner)?;
                        *list = InList::Values(values.into_iter().map(Expr::Literal).collect());
                    }
                    InList::Values(values) => {
                        for value in values {
                            self.expr(value)?;
                        }
                    }
                }
            }
            Expr::Function { args, .. } => {
                for arg in args {
                    match arg {
                        Arg::Expr(inner) | Arg::Named { value: inner, .. } => self.expr(inner)?,
                        Arg::Where { condition, .. } => self.expr(condition)?,
                        Arg::Wildcard | Arg::Duration(_) => {}
                    }
                }
            }
            Expr::Unary { expr: inner, .. }
            | Expr::IsNull { expr: inner, .. }
            | Expr::IsBool { expr: inner, .. } => self.expr(inner)?,
            Expr::Binary { left, right, .. } | Expr::Index { expr: left, index: right } => {
                self.expr(left)?;
                self.expr(right)?;
            }
            Expr::Like { expr: inner, pattern, .. } | Expr::Rlike { expr: inner, pattern, .. } => {
                self.expr(inner)?;
                self.expr(pattern)?;
            }
            Expr::Attribute(_) | Expr::Literal(_) => {}
        }
        Ok(())
    }

    /// Runs a subquery; returns its result rows and the key of its one selected item.
    fn run(&self, inner: &SelectQuery) -> Result<(Vec<Value>, String), NrqlError> {
        if inner.timeseries.is_some() {
            return Err(NrqlError::Invalid("TIMESERIES is not allowed in a subquery".to_string()));
        }
        if inner.compare_with.is_some() {
            return Err(NrqlError::Invalid("COMPARE WITH is not allowed in a subquery".to_string()));
        }
        let key = match inner.select.as_slice() {
            [SelectItem::Expr { expr, alias }] => alias.clone().unwrap_or_else(|| default_key(expr)),
            _ => {
                return Err(NrqlError::Invalid(
                    "a subquery must SELECT exactly one attribute or aggregate function".to_string(),
                ));
            }
        };
        let mut inner = inner.clone();
        if inner.since.is_none() && inner.until.is_none() {
            inner.since = self.since.clone();
            inner.until = self.until.clone();
        }
        if inner.timezone.is_none() {
            inner.timezone = self.timezone.clone();
        }
        let output = evaluate_select(&inner, self.events, self.now_ms)?;
        Ok((output.results, key))
    }

    fn scalar(&self, inner: &SelectQuery) -> Result<Literal, NrqlError> {
        let (rows, key) = self.run(inner)?;
        match rows.as_slice() {
            [] => Ok(Literal::Null),
            [row] => scalar_literal(row.get(&key).unwrap_or(&Value::Null)),
            more if !inner.facet.is_empty() => Err(NrqlError::Invalid(format!(
                "a FACET subquery compared with an operator must return one row; add LIMIT 1 (it returned {})",
                more.len()
            ))),
            more => Err(NrqlError::Invalid(format!(
                "a subquery compared with an operator must return a single value; it returned {} rows — use IN for a set",
                more.len()
            ))),
        }
    }

    fn set(&self, inner: &SelectQuery) -> Result<Vec<Literal>, NrqlError> {
        let (rows, key) = self.run(inner)?;
        let mut values = Vec::new();
        for row in &rows {
            match row.get(&key) {
                Some(Value::Array(items)) => {
                    for item in items {
                        values.push(set_literal(item)?);
                    }
                }
                Some(value) => values.push(set_literal(value)?),
                None => {}
            }
        }
        values.retain(|value| *value != Literal::Null);
        // New Relic hands the outer query at most a LIMIT MAX of subquery results.
        values.truncate(MAX_LIMIT);
        Ok(values)
    }
}

fn scalar_literal(value: &Value) -> Result<Literal, NrqlError> {
    match value {
        Value::Array(_) => Err(NrqlError::Invalid(
            "a subquery returning a set of values (uniques() or several rows) can only be used with IN"
                .to_string(),
        )),
        Value::Object(map) => {
            let number = match map.len() {
                1 => map.values().next().and_then(Value::as_f64),
                _ => map.get("score").and_then(Value::as_f64),
            };
            number.map(Literal::Float).ok_or_else(|| {
                NrqlError::Invalid("this subquery's result is not a single value to compare with".to_string())
            })
        }
        other => Ok(plain_literal(other)),
    }
}

fn set_literal(value: &Value) -> Result<Literal, NrqlError> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(NrqlError::Invalid(
            "an IN subquery must return plain values: select an attribute, uniques(attribute) or a single-value aggregate"
                .to_string(),
        )),
        other => Ok(plain_literal(other)),
    }
}

fn plain_literal(value: &Value) -> Literal {
    match value {
        Value::String(text) => Literal::String(text.clone()),
        Value::Bool(flag) => Literal::Bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Literal::Int(integer),
            None => number.as_f64().map_or(Literal::Null, Literal::Float),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => Literal::Null,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn subquery_answers_become_literals() {
        let cases = [
            (json!(3), Some(Literal::Int(3))),
            (json!(2.5), Some(Literal::Float(2.5))),
            (json!("checkout"), Some(Literal::String("checkout".into()))),
            (json!(null), Some(Literal::Null)),
            (json!({"95": 1.25}), Some(Literal::Float(1.25))),
            (json!({"score": 0.75, "s": 1, "t": 1, "f": 0, "count": 2}), Some(Literal::Float(0.75))),
            (json!(["a", "b"]), None),
            (json!({"50": 1, "95": 2}), None),
        ];
        for (value, expected) in cases {
            assert_eq!(scalar_literal(&value).ok(), expected, "{value}");
        }
        assert!(set_literal(&json!({"a": 1})).is_err());
        assert_eq!(set_literal(&json!(7)).unwrap(), Literal::Int(7));
    }

    #[test]
    fn subqueries_are_counted_nested_or_not() {
        let cases = [
            ("SELECT count(*) FROM T", 0),
            ("SELECT count(*) FROM T WHERE d > (SELECT average(d) FROM T)", 1),
            (
                "SELECT count(*) FROM T WHERE x IN (SELECT uniques(x) FROM U WHERE d > (SELECT max(d) FROM U))",
                2,
            ),
        ];
        for (text, expected) in cases {
            let query = newrelic_mcp_nrql::parse(text).unwrap();
            assert_eq!(count(query.as_select().unwrap()), expected, "{text}");
        }
    }
}
