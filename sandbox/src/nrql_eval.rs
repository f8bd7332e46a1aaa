//! Evaluates parsed NRQL over the sandbox's events and shapes the answer as NerdGraph
//! does: `results` rows (`[{"count": 42}]`, facet rows with `facet` and the attribute,
//! timeseries rows with `beginTimeSeconds`/`endTimeSeconds`), `totalResult`,
//! `otherResult`, `previousResults`/`currentResults` and `metadata`.
//!
//! A query using something the evaluator does not implement is refused with
//! [`NrqlError::Unsupported`] naming the feature, never answered approximately.

mod aggregate;
mod value;
mod window;

use std::collections::{BTreeSet, HashMap};

use newrelic_mcp_nrql::ast::{
    Expr, FacetTarget, FromClause, Limit, Query, SelectItem, SelectQuery, ShowEventTypes, SortDirection,
    TimePoint, TimeUnit,
};
use serde_json::{Map, Value, json};

use crate::data::Event;
pub use aggregate::{default_key, level_key, percentile_of};
use aggregate::{eval_aggregate, print_expr};
use value::{Val, attribute, eval, sort_order};

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
    /// `totalResult` (FACET queries).
    pub total_result: Option<Value>,
    /// `otherResult` (FACET queries: the facets beyond the limit).
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
        #[allow(unreachable_patterns)]
        _ => Err(NrqlError::Unsupported("this kind of statement".to_string())),
    }
}

fn show_event_types(show: &ShowEventTypes, events: &[&Event], now_ms: i64) -> Result<NrqlOutput, NrqlError> {
    let since = show.since.clone().unwrap_or(DEFAULT_SINCE);
    let until = show.until.clone().unwrap_or(TimePoint::Now);
    let (begin, end) = (window::resolve(&since, now_ms)?, window::resolve(&until, now_ms)?);
    let types: BTreeSet<&str> = events
        .iter()
        .filter(|event| event.timestamp >= begin && event.timestamp < end)
        .map(|event| event.event_type)
        .collect();
    Ok(NrqlOutput {
        results: types.into_iter().map(|name| json!({"eventType": name})).collect(),
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
        return Err(NrqlError::Unsupported("subqueries in FROM".to_string()));
    }
    if !query.joins.is_empty() {
        return Err(NrqlError::Unsupported("JOIN".to_string()));
    }
    if !query.variables.is_empty() {
        return Err(NrqlError::Unsupported("WITH … AS variables".to_string()));
    }
    if let Some(zone) = &query.timezone
        && !zone.eq_ignore_ascii_case("UTC")
        && !zone.eq_ignore_ascii_case("Etc/UTC")
    {
        return Err(NrqlError::Unsupported(format!("WITH TIMEZONE '{zone}' (only UTC)")));
    }
    if query.timeseries.as_ref().is_some_and(|timeseries| timeseries.slide_by.is_some()) {
        return Err(NrqlError::Unsupported("TIMESERIES … SLIDE BY".to_string()));
    }
    let mut subquery = false;
    query.visit_exprs(&mut |expr| subquery |= matches!(expr, Expr::Subquery(_)));
    if subquery || !query.direct_subqueries().is_empty() {
        return Err(NrqlError::Unsupported("subqueries".to_string()));
    }
    Ok(())
}

fn limit_of(query: &SelectQuery, default: usize) -> Result<usize, NrqlError> {
    match query.limit {
        None => Ok(default),
        Some(Limit::Max) => Ok(MAX_LIMIT),
        Some(Limit::Count(count)) if count as usize > MAX_LIMIT || count > MAX_LIMIT as u64 => Err(
            NrqlError::Invalid(format!("LIMIT {count} exceeds the maximum of {MAX_LIMIT}; use LIMIT MAX")),
        ),
        Some(Limit::Count(count)) => Ok(count as usize),
        #[allow(unreachable_patterns)]
        Some(_) => Err(NrqlError::Unsupported("this LIMIT form".to_string())),
    }
}

fn evaluate_select(query: &SelectQuery, events: &[&Event], now_ms: i64) -> Result<NrqlOutput, NrqlError> {
    check_supported(query)?;
    limit_of(query, DEFAULT_ROW_LIMIT)?;
    let FromClause::EventTypes(types) = &query.from else {
        return Err(NrqlError::Unsupported("subqueries in FROM".to_string()));
    };
    let since = query.since.clone().unwrap_or(DEFAULT_SINCE);
    let until = query.until.clone().unwrap_or(TimePoint::Now);
    let begin = window::resolve(&since, now_ms)?;
    let end = window::resolve(&until, now_ms)?;
    if end <= begin {
        return Err(NrqlError::Invalid("SINCE must be before UNTIL".to_string()));
    }
    let current = shape_window(query, types, events, begin, end)?;
    let facets: Vec<String> = query.facet.iter().map(facet_label).collect();
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
    let previous =
        shape_window(query, types, events, begin.saturating_sub(offset_ms), end.saturating_sub(offset_ms))?;
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

fn facet_label(item: &newrelic_mcp_nrql::ast::FacetItem) -> String {
    if let Some(alias) = &item.alias {
        return alias.clone();
    }
    match &item.target {
        FacetTarget::Expr(expr) => print_expr(expr),
        _ => "facet".to_string(),
    }
}

fn is_keyset(query: &SelectQuery) -> bool {
    matches!(query.select.as_slice(), [SelectItem::Expr { expr: Expr::Function { name, args }, .. }]
        if name.eq_ignore_ascii_case("keyset") && args.is_empty())
}

fn shape_window(
    query: &SelectQuery,
    types: &[String],
    events: &[&Event],
    begin: i64,
    end: i64,
) -> Result<Shaped, NrqlError> {
    let mut candidates: Vec<&Event> = Vec::new();
    for event in events {
        if event.timestamp < begin
            || event.timestamp >= end
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
        return Ok(Shaped { results: vec![keyset(&candidates)], total: None, other: None });
    }
    if !query.is_aggregate() {
        return raw_rows(query, candidates).map(|results| Shaped { results, total: None, other: None });
    }
    let items = select_items(query)?;
    let span = end - begin;
    let buckets = match &query.timeseries {
        Some(timeseries) => {
            let width = window::bucket_width(&timeseries.bucket, span)?;
            let mut buckets = Vec::new();
            let mut start = begin;
            while start < end {
                buckets.push((start, (start + width).min(end)));
                start += width;
            }
            Some(buckets)
        }
        None => None,
    };
    if query.facet.is_empty() {
        let results = match &buckets {
            Some(buckets) => timeseries_rows(&items, &candidates, buckets, &Map::new())?,
            None => vec![Value::Object(aggregate_row(&items, &candidates, span)?)],
        };
        return Ok(Shaped { results, total: None, other: None });
    }
    let groups = facet_groups(query, &candidates)?;
    let mut ordered = order_groups(query, &items, groups, span)?;
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
    let shown: Vec<(Vec<Val>, Vec<&Event>)> = ordered.drain(shown_start..shown_end).collect();
    let mut results = Vec::new();
    for (key, group) in &shown {
        let facet_fields = facet_fields(query, key);
        match &buckets {
            Some(buckets) => results.extend(timeseries_rows(&items, group, buckets, &facet_fields)?),
            None => {
                let mut row = facet_fields;
                row.extend(aggregate_row(&items, group, span)?);
                results.push(Value::Object(row));
            }
        }
    }
    let total = Some(Value::Object(aggregate_row(&items, &candidates, span)?));
    let other = Some(Value::Object(aggregate_row(&items, &rest, span)?));
    Ok(Shaped { results, total, other })
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
    window_ms: i64,
) -> Result<Map<String, Value>, NrqlError> {
    let mut row = Map::new();
    for (key, expr) in items {
        row.insert(key.clone(), eval_aggregate(expr, group, window_ms)?.to_json());
    }
    Ok(row)
}

fn timeseries_rows(
    items: &[(String, &Expr)],
    group: &[&Event],
    buckets: &[(i64, i64)],
    extra: &Map<String, Value>,
) -> Result<Vec<Value>, NrqlError> {
    let mut rows = Vec::with_capacity(buckets.len());
    for (start, stop) in buckets {
        let in_bucket: Vec<&Event> = group
            .iter()
            .copied()
            .filter(|event| event.timestamp >= *start && event.timestamp < *stop)
            .collect();
        let mut row = Map::new();
        row.insert("beginTimeSeconds".to_string(), Value::from(start.div_euclid(1000)));
        row.insert("endTimeSeconds".to_string(), Value::from(stop.div_euclid(1000)));
        row.extend(extra.clone());
        row.extend(aggregate_row(items, &in_bucket, stop - start)?);
        rows.push(Value::Object(row));
    }
    Ok(rows)
}

type Groups<'e> = Vec<(Vec<Val>, Vec<&'e Event>)>;

fn facet_groups<'e>(query: &SelectQuery, candidates: &[&'e Event]) -> Result<Groups<'e>, NrqlError> {
    let mut groups: Groups<'e> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    'events: for event in candidates {
        let mut key = Vec::with_capacity(query.facet.len());
        for item in &query.facet {
            let value = match &item.target {
                FacetTarget::Expr(expr) => eval(expr, event)?,
                FacetTarget::Cases(cases) => {
                    let mut label = Val::Null;
                    for case in cases {
                        if eval(&case.condition, event)?.is_true() {
                            let text = case.label.clone().unwrap_or_else(|| print_expr(&case.condition));
                            label = Val::Str(text.into());
                            break;
                        }
                    }
                    label
                }
                #[allow(unreachable_patterns)]
                _ => return Err(NrqlError::Unsupported("this FACET form".to_string())),
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

fn order_groups<'e>(
    query: &SelectQuery,
    items: &[(String, &Expr)],
    groups: Groups<'e>,
    span: i64,
) -> Result<Groups<'e>, NrqlError> {
    let (order_expr, descending) = match query.order_by.first() {
        Some(order) => (&order.expr, order.direction != Some(SortDirection::Ascending)),
        None => match items.first() {
            Some((_, expr)) => (*expr, true),
            None => return Ok(groups),
        },
    };
    let mut keyed = Vec::with_capacity(groups.len());
    for (key, group) in groups {
        let sort_value = if order_expr.contains_aggregator() {
            eval_aggregate(order_expr, &group, span)?
        } else {
            match group.first() {
                Some(event) => eval(order_expr, event)?,
                None => Val::Null,
            }
        };
        keyed.push((sort_value, key, group));
    }
    keyed.sort_by(|(a, key_a, _), (b, key_b, _)| {
        let primary = if descending { sort_order(b, a) } else { sort_order(a, b) };
        let primary = match (a, b) {
            (Val::Null, Val::Null) => std::cmp::Ordering::Equal,
            (Val::Null, _) => std::cmp::Ordering::Greater,
            (_, Val::Null) => std::cmp::Ordering::Less,
            _ => primary,
        };
        primary.then_with(|| {
            let left: Vec<String> = key_a.iter().map(Val::group_key).collect();
            let right: Vec<String> = key_b.iter().map(Val::group_key).collect();
            left.cmp(&right)
        })
    });
    Ok(keyed.into_iter().map(|(_, key, group)| (key, group)).collect())
}

fn facet_fields(query: &SelectQuery, key: &[Val]) -> Map<String, Value> {
    let mut fields = Map::new();
    let facet_value =
        if key.len() == 1 { key[0].to_json() } else { Value::Array(key.iter().map(Val::to_json).collect()) };
    fields.insert("facet".to_string(), facet_value);
    for (item, value) in query.facet.iter().zip(key) {
        if let FacetTarget::Expr(_) = &item.target {
            fields.insert(facet_label(item), value.to_json());
        }
    }
    fields
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

fn keyset(events: &[&Event]) -> Value {
    let mut all = BTreeSet::new();
    let (mut strings, mut numbers, mut booleans) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for event in events {
        all.insert("timestamp");
        numbers.insert("timestamp");
        for (name, value) in &event.attributes {
            all.insert(*name);
            match attribute(event, name) {
                Val::Str(_) => strings.insert(*name),
                Val::Int(_) | Val::Float(_) => numbers.insert(*name),
                Val::Bool(_) => booleans.insert(*name),
                _ => false,
            };
            let _ = value;
        }
    }
    json!({"allKeys": all, "stringKeys": strings, "numericKeys": numbers, "booleanKeys": booleans})
}
