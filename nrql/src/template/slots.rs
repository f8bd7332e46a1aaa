//! Walks every place of a syntax tree where a template value can land, handing each out
//! mutably with a word on what the place is.
//!
//! The walk is exhaustive over the tree: a value slot the walk missed would be a place
//! where a sentinel could hide unreplaced, so every field of every node is visited.

use crate::ast::{
    Arg, Duration, Expr, FacetTarget, FromClause, InList, Limit, Query, SelectItem, SelectQuery, SlideBy,
    TimePoint, TimeseriesBucket,
};

/// One place in the tree.
pub(super) enum Slot<'a> {
    /// An attribute or literal in an expression; filling may change the node's kind
    /// (an integer sentinel becomes a float literal for a float parameter).
    Value(&'a mut Expr),
    /// An event type in `FROM`.
    EventType(&'a mut String),
    /// A key of `JOIN … ON`.
    JoinKey(&'a mut String),
    /// A label: `AS` of a `SELECT` or `FACET` item, a `CASES` label, a `WHERE` argument label.
    Label(&'a mut String),
    /// Any other name, which no parameter may replace (function names, variable names,
    /// named-argument names, lookup tables); `.1` says which.
    Name(&'a mut String, &'static str),
    /// A whole number of rows: `LIMIT` or `OFFSET` (`.1`).
    Count(&'a mut u64, &'static str),
    /// A duration in the clause `.1`.
    Duration(&'a mut Duration, &'static str),
    /// Epoch milliseconds in `SINCE` or `UNTIL` (`.1`).
    Epoch(&'a mut i64, &'static str),
    /// Quoted text in the clause `.1`: a date-time, a time of day, a time zone.
    Text(&'a mut String, &'static str),
}

impl Slot<'_> {
    /// Where the slot is, for messages: "a value", "FROM", "LIMIT", …
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Slot::Value(Expr::Attribute(_)) => "an attribute position",
            Slot::Value(_) => "a value position",
            Slot::EventType(_) => "FROM",
            Slot::JoinKey(_) => "JOIN … ON",
            Slot::Label(_) => "a label after AS",
            Slot::Name(_, what) | Slot::Count(_, what) | Slot::Duration(_, what) => what,
            Slot::Epoch(_, clause) | Slot::Text(_, clause) => clause,
        }
    }
}

/// Calls `visit` on every slot of `query`, stopping at the first error.
pub(super) fn walk<E>(query: &mut Query, visit: &mut dyn FnMut(Slot<'_>) -> Result<(), E>) -> Result<(), E> {
    match query {
        Query::Select(select) => walk_select(select, visit),
        Query::ShowEventTypes(show) => {
            if let Some(since) = &mut show.since {
                walk_time(since, "SINCE", visit)?;
            }
            if let Some(until) = &mut show.until {
                walk_time(until, "UNTIL", visit)?;
            }
            Ok(())
        }
    }
}

fn walk_select<E>(
    query: &mut SelectQuery,
    visit: &mut dyn FnMut(Slot<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for item in &mut query.select {
        if let SelectItem::Expr { expr, alias } = item {
            walk_expr(expr, visit)?;
            walk_label(alias.as_mut(), visit)?;
        }
    }
    match &mut query.from {
        FromClause::EventTypes(types) => {
            for name in types {
                visit(Slot::EventType(name))?;
            }
        }
        FromClause::Subquery(inner) => walk_select(inner, visit)?,
        FromClause::Lookup(table) => visit(Slot::Name(table, "a lookup table name"))?,
    }
    for variable in &mut query.variables {
        walk_expr(&mut variable.expr, visit)?;
        for name in &mut variable.names {
            visit(Slot::Name(name, "a WITH variable name"))?;
        }
    }
    for join in &mut query.joins {
        walk_select(&mut join.subquery, visit)?;
        visit(Slot::JoinKey(&mut join.outer_key))?;
        if let Some(inner_key) = &mut join.inner_key {
            visit(Slot::JoinKey(inner_key))?;
        }
    }
    if let Some(condition) = &mut query.where_clause {
        walk_expr(condition, visit)?;
    }
    for item in &mut query.facet {
        match &mut item.target {
            FacetTarget::Expr(expr) => walk_expr(expr, visit)?,
            FacetTarget::Cases(cases) => {
                for case in cases {
                    walk_expr(&mut case.condition, visit)?;
                    walk_label(case.label.as_mut(), visit)?;
                }
            }
            FacetTarget::CasesOr { cases, fallback } => {
                for case in cases {
                    walk_expr(&mut case.condition, visit)?;
                    walk_label(case.label.as_mut(), visit)?;
                }
                walk_expr(fallback, visit)?;
            }
        }
        walk_label(item.alias.as_mut(), visit)?;
    }
    for item in &mut query.order_by {
        walk_expr(&mut item.expr, visit)?;
    }
    if let Some(Limit::Count(count)) = &mut query.limit {
        visit(Slot::Count(count, "LIMIT"))?;
    }
    if let Some(offset) = &mut query.offset {
        visit(Slot::Count(offset, "OFFSET"))?;
    }
    if let Some(since) = &mut query.since {
        walk_time(since, "SINCE", visit)?;
    }
    if let Some(until) = &mut query.until {
        walk_time(until, "UNTIL", visit)?;
    }
    if let Some(offset) = &mut query.compare_with {
        visit(Slot::Duration(offset, "COMPARE WITH"))?;
    }
    if let Some(timeseries) = &mut query.timeseries {
        if let TimeseriesBucket::Every(bucket) = &mut timeseries.bucket {
            visit(Slot::Duration(bucket, "TIMESERIES"))?;
        }
        if let Some(SlideBy::Every(step)) = &mut timeseries.slide_by {
            visit(Slot::Duration(step, "SLIDE BY"))?;
        }
    }
    if let Some(zone) = &mut query.timezone {
        visit(Slot::Text(zone, "WITH TIMEZONE"))?;
    }
    Ok(())
}

fn walk_label<E>(
    label: Option<&mut String>,
    visit: &mut dyn FnMut(Slot<'_>) -> Result<(), E>,
) -> Result<(), E> {
    match label {
        Some(label) => visit(Slot::Label(label)),
        None => Ok(()),
    }
}

fn walk_time<E>(
    point: &mut TimePoint,
    clause: &'static str,
    visit: &mut dyn FnMut(Slot<'_>) -> Result<(), E>,
) -> Result<(), E> {
    match point {
        TimePoint::Ago(duration) => visit(Slot::Duration(duration, clause)),
        TimePoint::EpochMillis(millis) => visit(Slot::Epoch(millis, clause)),
        TimePoint::DateTime(text) => visit(Slot::Text(text, clause)),
        TimePoint::DayAt { day, time } => {
            walk_time(day, clause, visit)?;
            visit(Slot::Text(time, "AT"))
        }
        TimePoint::Now
        | TimePoint::Today
        | TimePoint::Yesterday
        | TimePoint::Calendar { .. }
        | TimePoint::Weekday(_) => Ok(()),
    }
}

fn walk_expr<E>(expr: &mut Expr, visit: &mut dyn FnMut(Slot<'_>) -> Result<(), E>) -> Result<(), E> {
    match expr {
        Expr::Attribute(_) | Expr::Literal(_) => visit(Slot::Value(expr)),
        Expr::Function { name, args } => {
            visit(Slot::Name(name, "a function name"))?;
            for arg in args {
                match arg {
                    Arg::Expr(expr) => walk_expr(expr, visit)?,
                    Arg::Wildcard => {}
                    Arg::Where { condition, label } => {
                        walk_expr(condition, visit)?;
                        walk_label(label.as_mut(), visit)?;
                    }
                    Arg::Duration(duration) => {
                        visit(Slot::Duration(duration, "a function's duration argument"))?
                    }
                    Arg::Named { name, value } => {
                        visit(Slot::Name(name, "a function's parameter name"))?;
                        walk_expr(value, visit)?;
                    }
                }
            }
            Ok(())
        }
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::IsBool { expr, .. } => {
            walk_expr(expr, visit)
        }
        Expr::Binary { left, right, .. } | Expr::Index { expr: left, index: right } => {
            walk_expr(left, visit)?;
            walk_expr(right, visit)
        }
        Expr::In { expr, list, .. } => {
            walk_expr(expr, visit)?;
            match list {
                InList::Values(values) => {
                    for value in values {
                        walk_expr(value, visit)?;
                    }
                    Ok(())
                }
                InList::Subquery(inner) => walk_select(inner, visit),
            }
        }
        Expr::Like { expr, pattern, .. } | Expr::Rlike { expr, pattern, .. } => {
            walk_expr(expr, visit)?;
            walk_expr(pattern, visit)
        }
        Expr::Subquery(inner) => walk_select(inner, visit),
    }
}
