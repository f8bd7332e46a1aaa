//! Evaluates parsed NRQL over the sandbox's events and shapes the answer as NerdGraph
//! does: `results` rows (`[{"count": 42}]`, facet rows with `facet` and the attribute,
//! timeseries rows with `beginTimeSeconds`/`endTimeSeconds`), `totalResult`,
//! `otherResult`, `previousResults`/`currentResults` and `metadata`.
//!
//! Subqueries in expressions are answered first and stand in the query as constants
//! (`subquery`); FACET grouping is in `facet`, time windows, zones and timeseries buckets
//! in `window`, aggregators in `aggregate`, `SHOW EVENT TYPES` and `keyset()` in
//! `catalog`. A query using something the evaluator does not implement (nested
//! aggregation in FROM, JOIN, WITH … AS variables, some functions) is refused with
//! [`NrqlError::Unsupported`] naming the feature, never answered approximately.

mod aggregate;
mod catalog;
mod facet;
mod subquery;
mod value;
mod window;

use newrelic_mcp_nrql::ast::{
    Expr, FacetTarget, FromClause, Limit, Query, SelectItem, SelectQuery, ShowEventTypes, SortDirection,
    TimePoint, TimeUnit,
};
use serde_json::{Map, Value, json};

use crate::data::Event;
use aggregate::eval_aggregate;
pub use aggregate::{TimeRange, default_key, level_key, percentile_of};
pub use facet::MAX_FACETS;
pub use subquery::MAX_SUBQUERIES;
use value::{eval, sort_order};

/// Rows a non-aggregate query returns without `LIMIT`.
pub const DEFAULT_ROW_LIMIT: usize = 100;
/// Facets a `FACET` query returns without `LIMIT`.
pub const DEFAULT_FACET_LIMIT: usize = 10;
/// `LIMIT MAX`.
pub const MAX_LIMIT: usize = 5000;

/// Why a query could not be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NrqlError {
    /// Valid NRQL the sandbox does not evaluate.
    #[error("NRQL feature not supported by the sandbox: {0}")]
    Unsupported(String),
    /// A query New Relic would reject too.
    #[error("Invalid NRQL query: {0}")]
    Invalid(String),
}

/// A complete answer in NerdGraph's shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct NrqlOutput {
    /// `results`.
    pub results: Vec<Value>,
    /// `totalResult` (FACET queries; a list of buckets with TIMESERIES).
    pub total_result: Option<Value>,
    /// `otherResult` (FACET queries: the facets beyond the limit; a list of buckets with
    /// TIMESERIES).
    pub other_result: Option<Value>,
    /// `currentResults` (COMPARE WITH).
    pub current_results: Option<Vec<Value>>,
    /// `previousResults` (COMPARE WITH).
    pub previous_results: Option<Vec<Value>>,
    /// `metadata`.
    pub metadata: Value,
}

struct Shaped {
    results: Vec<Value>,
    total: Option<Value>,
    other: Option<Value>,
}

const DEFAULT_SINCE: TimePoint =
    TimePoint::Ago(newrelic_mcp_nrql::ast::Duration { amount: 1, unit: TimeUnit::Hour });

/// Evaluates `query` over `events` with the clock at `now_ms`.
pub fn evaluate(query: &Query, events: &[&Event], now_ms: i64) -> Result<NrqlOutput, NrqlError> {
    match query {
        Query::Select(select) => evaluate_select(select, events, now_ms),
        Query::ShowEventTypes(show) => show_event_types(show, events, now_ms),
    }
}

fn show_event_types(show: &ShowEventTypes, events: &[&Event], now_ms: i64) -> Result<NrqlOutput, NrqlError> {
    let since = show.since.clone().unwrap_or(DEFAULT_SINCE);
    let until = show.until.clone().unwrap_or(TimePoint::Now);
    let utc = chrono_tz::Tz::UTC;
    let (begin, end) = (window::resolve(&since, now_ms, utc)?, window::resolve(&until, now_ms, utc)?);
    let in_window: Vec<&Event> =
        events.iter().copied().filter(|event| event.timestamp >= begin && event.timestamp < end).collect();
    Ok(NrqlOutput {
        results: catalog::event_type_rows(&in_window),
        total_result: None,
        other_result: None,
        current_results: None,
        previous_results: None,
        metadata: json!({
            "eventTypes": [],
            "facets": [],
            "messages": [],
            "timeWindow": {"begin": begin, "end": end, "since": window::describe(&since), "until": window::describe(&until)}
        }),
    })
}

fn check_supported(query: &SelectQuery) -> Result<(), NrqlError> {
    if !matches!(query.from, FromClause::EventTypes(_)) {
        return Err(NrqlError::Unsupported("nested aggregation (a subquery in FROM)".to_string()));
    }
    if !query.joins.is_empty() {
        return Err(NrqlError::Unsupported("JOIN".to_string()));
    }
    if !query.variables.is_empty() {
        return Err(NrqlError::Unsupported("WITH … AS variables".to_string()));
    }
    for item in &query.facet {
        let in_facet = match &item.target {
            FacetTarget::Expr(expr) => subquery::contains_subquery(expr),
            FacetTarget::CasesOr { fallback, .. } => subquery::contains_subquery(fallback),
            FacetTarget::Cases(_) => false,
        };
        if in_facet {
            return Err(NrqlError::Invalid(
                "subqueries can't appear in FACET, except in the WHERE conditions of FACET CASES".to_string(),
            ));
        }
    }
    Ok(())
}

fn limit_of(query: &SelectQuery, default: usize) -> Result<usize, NrqlError> {
    match query.limit {
        None => Ok(default),
        Some(Limit::Max) => Ok(MAX_LIMIT),
        Some(Limit::Count(count)) if count > MAX_LIMIT as u64 => Err(NrqlError::Invalid(format!(
            "LIMIT {count} exceeds the maximum of {MAX_LIMIT}; use LIMIT MAX"
        ))),
        Some(Limit::Count(count)) => Ok(count as usize),
    }
}

fn evaluate_select(query: &SelectQuery, events: &[&Event], now_ms: i64) -> Result<NrqlOutput, NrqlError> {
    check_supported(query)?;
    limit_of(query, DEFAULT_ROW_LIMIT)?;
    let resolved = subquery::resolve(query, events, now_ms)?;
    let query = &resolved;
    let FromClause::EventTypes(types) = &query.from else {
        return Err(NrqlError::Unsupported("nested aggregation (a subquery in FROM)".to_string()));
    };
    let since = query.since.clone().unwrap_or(DEFAULT_SINCE);
    let until = query.until.clone().unwrap_or(TimePoint::Now);
    let zone = window::zone(query.timezone.as_deref())?;
    let begin = window::resolve(&since, now_ms, zone)?;
    let end = window::resolve(&until, now_ms, zone)?;
    if end <= begin {
        return Err(NrqlError::Invalid("SINCE must be before UNTIL".to_string()));
    }
    let current = shape_window(query, types, events, TimeRange { begin, end })?;
    let facets: Vec<String> = query.facet.iter().map(facet::label).collect();
    let mut time_window = json!({
        "begin": begin,
        "end": end,
        "since": window::describe(&since),
        "until": window::describe(&until),
    });
    let metadata_with = |time_window: Value| json!({"eventTypes": types, "facets": facets, "messages": [], "timeWindow": time_window});
    let Some(offset) = query.compare_with else {
        return Ok(NrqlOutput {
            results: current.results,
            total_result: current.total,
            other_result: current.other,
            current_results: None,
            previous_results: None,
            metadata: metadata_with(time_window),
        });
    };
    let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
    let previous_range =
        TimeRange { begin: begin.saturating_sub(offset_ms), end: end.saturating_sub(offset_ms) };
    let previous = shape_window(query, types, events, previous_range)?;
    let unit = if offset.amount == 1 { offset.unit.singular() } else { offset.unit.plural() };
    if let Value::Object(map) = &mut time_window {
        map.insert(
            "compareWith".to_string(),
            Value::String(format!("{} {} AGO", offset.amount, unit.to_uppercase())),
        );
    }
    let tag = |rows: &[Value], label: &str| -> Vec<Value> {
        rows.iter()
            .map(|row| {
                let mut row = row.clone();
                if let Value::Object(map) = &mut row {
                    map.insert("comparison".to_string(), Value::String(label.to_string()));
                }
                row
            })
            .collect()
    };
    let mut results = tag(&current.results, "current");
    results.extend(tag(&previous.results, "previous"));
    Ok(NrqlOutput {
        results,
        total_result: current.total,
        other_result: current.other,
        current_results: Some(current.results),
        previous_results: Some(previous.results),
        metadata: metadata_with(time_window),
    })
}

fn is_keyset(query: &SelectQuery) -> bool {
    matches!(query.select.as_slice(), [SelectItem::Expr { expr: Expr::Function { name, args }, .. }]
        if name.eq_ignore_ascii_case("keyset") && args.is_empty())
}

fn shape_window(
    query: &SelectQuery,
    types: &[String],
    events: &[&Event],
    range: TimeRange,
) -> Result<Shaped, NrqlError> {
    let mut candidates: Vec<&Event> = Vec::new();
    for event in events {
        if event.timestamp < range.begin
            || event.timestamp >= range.end
            || !types.iter().any(|name| name.eq_ignore_ascii_case(event.event_type))
        {
            continue;
        }
        if let Some(condition) = &query.where_clause
            && !eval(condition, event)?.is_true()
        {
            continue;
        }
        candidates.push(event);
    }
    if is_keyset(query) {
        return Ok(Shaped { results: catalog::keyset_rows(&candidates), total: None, other: None });
    }
    if !query.is_aggregate() {
        return raw_rows(query, candidates).map(|results| Shaped { results, total: None, other: None });
    }
    let items = select_items(query)?;
    let buckets = match &query.timeseries {
        Some(timeseries) => Some(window::buckets(timeseries, range.begin, range.end)?),
        None => None,
    };
    // One aggregate row over `group`, or its timeseries rows.
    let rows_of = |group: &[&Event], extra: &Map<String, Value>| -> Result<Vec<Value>, NrqlError> {
        match &buckets {
            Some(buckets) => timeseries_rows(&items, group, buckets, extra),
            None => {
                let mut row = extra.clone();
                row.extend(aggregate_row(&items, group, range)?);
                Ok(vec![Value::Object(row)])
            }
        }
    };
    if query.facet.is_empty() {
        return Ok(Shaped { results: rows_of(&candidates, &Map::new())?, total: None, other: None });
    }
    let first_item = items.first().map(|(_, expr)| *expr);
    let groups = facet::groups(query, &candidates)?;
    let mut ordered = facet::pick_order(query, first_item, groups, range)?;
    let offset = query.offset.map_or(0, |offset| offset as usize);
    let limit = limit_of(query, DEFAULT_FACET_LIMIT)?;
    let shown_end = offset.saturating_add(limit).min(ordered.len());
    let shown_start = offset.min(shown_end);
    let rest: Vec<&Event> = ordered
        .iter()
        .enumerate()
        .filter(|(index, _)| *index < shown_start || *index >= shown_end)
        .flat_map(|(_, (_, group))| group.iter().copied())
        .collect();
    let picked: facet::Groups<'_> = ordered.drain(shown_start..shown_end).collect();
    let shown = facet::display_order(query, first_item, picked, range)?;
    let mut results = Vec::new();
    for (key, group) in &shown {
        results.extend(rows_of(group, &facet::fields(query, key))?);
    }
    // With TIMESERIES the whole and the rest are timeseries too; without, one row each.
    let summary = |group: &[&Event]| -> Result<Value, NrqlError> {
        let mut rows = rows_of(group, &Map::new())?;
        Ok(match (&buckets, rows.len()) {
            (None, 1) => rows.remove(0),
            _ => Value::Array(rows),
        })
    };
    Ok(Shaped { results, total: Some(summary(&candidates)?), other: Some(summary(&rest)?) })
}

fn select_items(query: &SelectQuery) -> Result<Vec<(String, &Expr)>, NrqlError> {
    query
        .select
        .iter()
        .map(|item| match item {
            SelectItem::Expr { expr, alias } => {
                Ok((alias.clone().unwrap_or_else(|| default_key(expr)), expr))
            }
            SelectItem::Wildcard => {
                Err(NrqlError::Invalid("SELECT * cannot be combined with aggregate functions".into()))
            }
        })
        .collect()
}

fn aggregate_row(
    items: &[(String, &Expr)],
    group: &[&Event],
    range: TimeRange,
) -> Result<Map<String, Value>, NrqlError> {
    let mut row = Map::new();
    for (key, expr) in items {
        row.insert(key.clone(), eval_aggregate(expr, group, range)?.to_json());
    }
    Ok(row)
}

fn timeseries_rows(
    items: &[(String, &Expr)],
    group: &[&Event],
    buckets: &[TimeRange],
    extra: &Map<String, Value>,
) -> Result<Vec<Value>, NrqlError> {
    let mut rows = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        let in_bucket: Vec<&Event> = group
            .iter()
            .copied()
            .filter(|event| event.timestamp >= bucket.begin && event.timestamp < bucket.end)
            .collect();
        let mut row = Map::new();
        row.insert("beginTimeSeconds".to_string(), Value::from(bucket.begin.div_euclid(1000)));
        row.insert("endTimeSeconds".to_string(), Value::from(bucket.end.div_euclid(1000)));
        row.extend(extra.clone());
        row.extend(aggregate_row(items, &in_bucket, *bucket)?);
        rows.push(Value::Object(row));
    }
    Ok(rows)
}

fn raw_rows(query: &SelectQuery, mut candidates: Vec<&Event>) -> Result<Vec<Value>, NrqlError> {
    if !query.facet.is_empty() {
        return Err(NrqlError::Invalid("FACET needs an aggregate function in SELECT".to_string()));
    }
    if query.timeseries.is_some() {
        return Err(NrqlError::Invalid("TIMESERIES needs an aggregate function in SELECT".to_string()));
    }
    if let Some(order) = query.order_by.first() {
        let descending = order.direction == Some(SortDirection::Descending);
        let mut keyed = Vec::with_capacity(candidates.len());
        for event in candidates {
            keyed.push((eval(&order.expr, event)?, event));
        }
        keyed.sort_by(|(a, _), (b, _)| if descending { sort_order(b, a) } else { sort_order(a, b) });
        candidates = keyed.into_iter().map(|(_, event)| event).collect();
    } else {
        candidates.sort_by_key(|event| std::cmp::Reverse(event.timestamp));
    }
    let offset = query.offset.map_or(0, |offset| offset as usize);
    let limit = limit_of(query, DEFAULT_ROW_LIMIT)?;
    let mut rows = Vec::new();
    for event in candidates.into_iter().skip(offset).take(limit) {
        let mut row = Map::new();
        for item in &query.select {
            match item {
                SelectItem::Wildcard => {
                    for (name, value) in &event.attributes {
                        row.insert((*name).to_string(), value.to_json());
                    }
                }
                SelectItem::Expr { expr, alias } => {
                    let key = alias.clone().unwrap_or_else(|| default_key(expr));
                    row.insert(key, eval(expr, event)?.to_json());
                }
            }
        }
        row.insert("timestamp".to_string(), Value::from(event.timestamp));
        rows.push(Value::Object(row));
    }
    Ok(rows)
}
