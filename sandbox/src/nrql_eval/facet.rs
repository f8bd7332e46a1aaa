//! `FACET`: grouping events by attribute values, expressions or `CASES`, choosing which
//! groups a `LIMIT` keeps, and labelling facet rows as NerdGraph does (`facet` holds the
//! value, or an array of values for several facets, and each faceted attribute also
//! appears under its own name).

use std::cmp::Ordering;
use std::collections::HashMap;

use newrelic_mcp_nrql::ast::{Expr, FacetCase, FacetItem, FacetTarget, SelectQuery, SortDirection};
use serde_json::{Map, Value};

use super::NrqlError;
use super::aggregate::{TimeRange, eval_aggregate, print_expr};
use super::value::{Val, eval, sort_order};
use crate::data::Event;

/// Attributes one `FACET` may group by.
pub const MAX_FACETS: usize = 5;

/// Groups of events keyed by their facet values, in order of first appearance.
pub type Groups<'e> = Vec<(Vec<Val>, Vec<&'e Event>)>;

/// The label of a facet in `metadata.facets` and in facet rows.
pub fn label(item: &FacetItem) -> String {
    if let Some(alias) = &item.alias {
        return alias.clone();
    }
    match &item.target {
        FacetTarget::Expr(expr) => print_expr(expr),
        FacetTarget::Cases(_) | FacetTarget::CasesOr { .. } => "facet".to_string(),
    }
}

fn case_label(cases: &[FacetCase], event: &Event) -> Result<Option<Val>, NrqlError> {
    for case in cases {
        if eval(&case.condition, event)?.is_true() {
            let text = case.label.clone().unwrap_or_else(|| print_expr(&case.condition));
            return Ok(Some(Val::Str(text.into())));
        }
    }
    Ok(None)
}

/// Groups `candidates` by the query's facets. Events with a null facet value, or that
/// match no case of `CASES` without `OR`, belong to no group.
pub fn groups<'e>(query: &SelectQuery, candidates: &[&'e Event]) -> Result<Groups<'e>, NrqlError> {
    if query.facet.len() > MAX_FACETS {
        return Err(NrqlError::Invalid(format!(
            "FACET takes at most {MAX_FACETS} attributes; this one has {}",
            query.facet.len()
        )));
    }
    let mut groups: Groups<'e> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    'events: for event in candidates {
        let mut key = Vec::with_capacity(query.facet.len());
        for item in &query.facet {
            let value = match &item.target {
                FacetTarget::Expr(expr) => eval(expr, event)?,
                FacetTarget::Cases(cases) => case_label(cases, event)?.unwrap_or(Val::Null),
                FacetTarget::CasesOr { cases, fallback } => match case_label(cases, event)? {
                    Some(label) => label,
                    None => eval(fallback, event)?,
                },
            };
            if value == Val::Null {
                continue 'events;
            }
            key.push(value);
        }
        let lookup: Vec<String> = key.iter().map(Val::group_key).collect();
        match index.get(&lookup) {
            Some(&at) => groups[at].1.push(event),
            None => {
                index.insert(lookup, groups.len());
                groups.push((key, vec![*event]));
            }
        }
    }
    Ok(groups)
}

/// The value a group sorts by; structured results with a numeric reading (a single
/// percentile, an apdex score) sort by that number.
fn sort_value(expr: &Expr, group: &[&Event], range: TimeRange) -> Result<Val, NrqlError> {
    let value = if expr.contains_aggregator() {
        eval_aggregate(expr, group, range)?
    } else {
        group.first().map_or(Ok(Val::Null), |event| eval(expr, event))?
    };
    Ok(match &value {
        Val::Json(_) => value.as_f64().map_or(value, Val::Float),
        _ => value,
    })
}

/// Sorts groups by `expr` (null last), ties broken by facet value so answers are stable.
fn sort_by<'e>(
    groups: Groups<'e>,
    expr: &Expr,
    descending: bool,
    range: TimeRange,
) -> Result<Groups<'e>, NrqlError> {
    let mut keyed = Vec::with_capacity(groups.len());
    for (key, group) in groups {
        keyed.push((sort_value(expr, &group, range)?, key, group));
    }
    keyed.sort_by(|(a, key_a, _), (b, key_b, _)| {
        let primary = match (a, b) {
            (Val::Null, Val::Null) => Ordering::Equal,
            (Val::Null, _) => Ordering::Greater,
            (_, Val::Null) => Ordering::Less,
            _ if descending => sort_order(b, a),
            _ => sort_order(a, b),
        };
        primary.then_with(|| {
            let left: Vec<String> = key_a.iter().map(Val::group_key).collect();
            let right: Vec<String> = key_b.iter().map(Val::group_key).collect();
            left.cmp(&right)
        })
    });
    Ok(keyed.into_iter().map(|(_, key, group)| (key, group)).collect())
}

/// The groups in the order `LIMIT` picks them: by `ORDER BY` when given (descending
/// unless `ASC`), otherwise by the first `SELECT` item, largest first.
pub fn pick_order<'e>(
    query: &SelectQuery,
    first_item: Option<&Expr>,
    groups: Groups<'e>,
    range: TimeRange,
) -> Result<Groups<'e>, NrqlError> {
    match (query.order_by.first(), first_item) {
        (Some(order), _) => {
            sort_by(groups, &order.expr, order.direction != Some(SortDirection::Ascending), range)
        }
        (None, Some(first)) => sort_by(groups, first, true, range),
        (None, None) => Ok(groups),
    }
}

/// The picked groups in the order they are shown. `FACET … ORDER BY` only decides which
/// facets are kept; New Relic still lists them by the first `SELECT` item.
pub fn display_order<'e>(
    query: &SelectQuery,
    first_item: Option<&Expr>,
    picked: Groups<'e>,
    range: TimeRange,
) -> Result<Groups<'e>, NrqlError> {
    match (query.order_by.first(), first_item) {
        (Some(_), Some(first)) => sort_by(picked, first, true, range),
        _ => Ok(picked),
    }
}

/// The facet fields of a row: `facet`, plus each faceted attribute under its label.
pub fn fields(query: &SelectQuery, key: &[Val]) -> Map<String, Value> {
    let mut fields = Map::new();
    let facet_value = match key {
        [single] => single.to_json(),
        several => Value::Array(several.iter().map(Val::to_json).collect()),
    };
    fields.insert("facet".to_string(), facet_value);
    for (item, value) in query.facet.iter().zip(key) {
        if let FacetTarget::Expr(_) = &item.target {
            fields.insert(label(item), value.to_json());
        }
    }
    fields
}
