//! Prints a [`Query`] as canonical NRQL.
//!
//! Canonical means: upper-case keywords, clauses in one fixed order (`SELECT`, `FROM`,
//! `JOIN`, `WITH` variables, `WHERE`, `FACET`, `ORDER BY`, `LIMIT`, `OFFSET`, `SINCE`,
//! `UNTIL`, `COMPARE WITH`, `TIMESERIES`, `WITH TIMEZONE`, `EXTRAPOLATE`), parentheses
//! only where precedence needs them, names in backticks only where the bare form would
//! not read back. The contract is `parse(&print(&q)) == Ok(q)` for every tree the parser
//! can produce.

use std::fmt::Write as _;

use crate::ast::{
    Arg, BinaryOp, CalendarAnchor, Duration, Expr, FacetCase, FacetItem, FacetTarget, FromClause, InList,
    JoinKind, Limit, Literal, Query, SelectItem, SelectQuery, SlideBy, SortDirection, TimePoint,
    TimeseriesBucket, UnaryOp,
};
use crate::lexer::is_plain_identifier;

/// Words that are reserved in NRQL or special in some position of this grammar; names
/// spelled like them are printed in backticks so they always read back as names.
const CONTEXTUAL_WORDS: &[&str] = &[
    "ago",
    "auto",
    "begin",
    "begintime",
    "cases",
    "end",
    "endtime",
    "event",
    "explain",
    "inner",
    "last",
    "left",
    "max",
    "now",
    "raw",
    "show",
    "this",
    "timezone",
    "today",
    "types",
    "yesterday",
];

/// Prints `query` as canonical NRQL on one line.
pub fn print(query: &Query) -> String {
    let mut out = String::with_capacity(128);
    match query {
        Query::Select(select) => write_select(&mut out, select),
        Query::ShowEventTypes(show) => {
            out.push_str("SHOW EVENT TYPES");
            if let Some(since) = &show.since {
                out.push_str(" SINCE ");
                write_time_point(&mut out, since);
            }
            if let Some(until) = &show.until {
                out.push_str(" UNTIL ");
                write_time_point(&mut out, until);
            }
        }
    }
    out
}

fn write_select(out: &mut String, query: &SelectQuery) {
    let has_from = !matches!(&query.from, FromClause::EventTypes(types) if types.is_empty());
    // Without FROM, NRQL expects the variables first: `WITH … AS x SELECT …`.
    if !has_from {
        write_variables(out, query);
        out.push(' ');
    }
    out.push_str("SELECT ");
    for (index, item) in query.select.iter().enumerate() {
        separator(out, index);
        match item {
            SelectItem::Wildcard => out.push('*'),
            SelectItem::Expr { expr, alias } => {
                write_expr(out, expr);
                write_alias(out, alias.as_deref());
            }
        }
    }
    if has_from {
        out.push_str(" FROM ");
    }
    match &query.from {
        FromClause::EventTypes(types) => {
            for (index, name) in types.iter().enumerate() {
                separator(out, index);
                write_name(out, name);
            }
        }
        FromClause::Subquery(inner) => write_subquery(out, inner),
        FromClause::Lookup(table) => {
            out.push_str("lookup(");
            write_name(out, table);
            out.push(')');
        }
    }
    for join in &query.joins {
        out.push_str(match join.kind {
            JoinKind::Inner => " JOIN ",
            JoinKind::Left => " LEFT JOIN ",
        });
        write_subquery(out, &join.subquery);
        out.push_str(" ON ");
        write_name(out, &join.outer_key);
        if let Some(inner_key) = &join.inner_key {
            out.push_str(" = ");
            write_name(out, inner_key);
        }
    }
    if has_from && !query.variables.is_empty() {
        out.push(' ');
        write_variables(out, query);
    }
    if let Some(condition) = &query.where_clause {
        out.push_str(" WHERE ");
        write_expr(out, condition);
    }
    write_tail(out, query);
}

fn write_variables(out: &mut String, query: &SelectQuery) {
    if !query.variables.is_empty() {
        out.push_str("WITH ");
        for (index, variable) in query.variables.iter().enumerate() {
            separator(out, index);
            write_expr(out, &variable.expr);
            out.push_str(" AS ");
            if variable.destructure || variable.names.len() != 1 {
                out.push('(');
                for (index, name) in variable.names.iter().enumerate() {
                    separator(out, index);
                    write_name(out, name);
                }
                out.push(')');
            } else {
                for name in &variable.names {
                    write_name(out, name);
                }
            }
        }
    }
}

/// The clauses after `WHERE`.
fn write_tail(out: &mut String, query: &SelectQuery) {
    if !query.facet.is_empty() {
        out.push_str(" FACET ");
        for (index, item) in query.facet.iter().enumerate() {
            separator(out, index);
            write_facet_item(out, item);
        }
    }
    if !query.order_by.is_empty() {
        out.push_str(" ORDER BY ");
        for (index, item) in query.order_by.iter().enumerate() {
            separator(out, index);
            write_expr(out, &item.expr);
            match item.direction {
                Some(SortDirection::Ascending) => out.push_str(" ASC"),
                Some(SortDirection::Descending) => out.push_str(" DESC"),
                None => {}
            }
        }
    }
    match query.limit {
        Some(Limit::Count(count)) => {
            let _ = write!(out, " LIMIT {count}");
        }
        Some(Limit::Max) => out.push_str(" LIMIT MAX"),
        None => {}
    }
    if let Some(offset) = query.offset {
        let _ = write!(out, " OFFSET {offset}");
    }
    if let Some(since) = &query.since {
        out.push_str(" SINCE ");
        write_time_point(out, since);
    }
    if let Some(until) = &query.until {
        out.push_str(" UNTIL ");
        write_time_point(out, until);
    }
    if let Some(offset) = &query.compare_with {
        out.push_str(" COMPARE WITH ");
        write_duration(out, offset);
        out.push_str(" ago");
    }
    if let Some(timeseries) = &query.timeseries {
        out.push_str(" TIMESERIES");
        match &timeseries.bucket {
            TimeseriesBucket::Default => {}
            TimeseriesBucket::Auto => out.push_str(" AUTO"),
            TimeseriesBucket::Max => out.push_str(" MAX"),
            TimeseriesBucket::Every(duration) => {
                out.push(' ');
                write_duration(out, duration);
            }
        }
        match &timeseries.slide_by {
            None => {}
            Some(SlideBy::Auto) => out.push_str(" SLIDE BY AUTO"),
            Some(SlideBy::Max) => out.push_str(" SLIDE BY MAX"),
            Some(SlideBy::Every(duration)) => {
                out.push_str(" SLIDE BY ");
                write_duration(out, duration);
            }
        }
    }
    if let Some(zone) = &query.timezone {
        out.push_str(" WITH TIMEZONE ");
        write_string(out, zone);
    }
    if query.extrapolate {
        out.push_str(" EXTRAPOLATE");
    }
}

fn write_subquery(out: &mut String, query: &SelectQuery) {
    out.push('(');
    write_select(out, query);
    out.push(')');
}

fn write_facet_item(out: &mut String, item: &FacetItem) {
    match &item.target {
        FacetTarget::Expr(expr) => write_expr(out, expr),
        FacetTarget::Cases(cases) => write_cases(out, cases),
        FacetTarget::CasesOr { cases, fallback } => {
            write_cases(out, cases);
            out.push_str(" OR ");
            write_operand(out, fallback, strength(fallback) <= BinaryOp::Or.precedence());
        }
    }
    write_alias(out, item.alias.as_deref());
}

fn write_cases(out: &mut String, cases: &[FacetCase]) {
    out.push_str("CASES(");
    for (index, case) in cases.iter().enumerate() {
        separator(out, index);
        out.push_str("WHERE ");
        write_expr(out, &case.condition);
        write_alias(out, case.label.as_deref());
    }
    out.push(')');
}

fn separator(out: &mut String, index: usize) {
    if index > 0 {
        out.push_str(", ");
    }
}

fn write_alias(out: &mut String, alias: Option<&str>) {
    if let Some(alias) = alias {
        out.push_str(" AS ");
        if is_bare_name(alias) {
            out.push_str(alias);
        } else {
            write_string(out, alias);
        }
    }
}

fn write_time_point(out: &mut String, point: &TimePoint) {
    match point {
        TimePoint::Ago(duration) => {
            write_duration(out, duration);
            out.push_str(" ago");
        }
        TimePoint::Now => out.push_str("NOW"),
        TimePoint::Today => out.push_str("TODAY"),
        TimePoint::Yesterday => out.push_str("YESTERDAY"),
        TimePoint::Calendar { which, unit } => {
            out.push_str(match which {
                CalendarAnchor::This => "THIS ",
                CalendarAnchor::Last => "LAST ",
            });
            out.push_str(&unit.singular().to_ascii_uppercase());
        }
        TimePoint::EpochMillis(millis) => {
            let _ = write!(out, "{millis}");
        }
        TimePoint::DateTime(text) => write_string(out, text),
        TimePoint::Weekday(day) => out.push_str(day.as_str()),
        TimePoint::DayAt { day, time } => {
            write_time_point(out, day);
            out.push_str(" AT ");
            write_string(out, time);
        }
    }
}

fn write_duration(out: &mut String, duration: &Duration) {
    let unit = if duration.amount == 1 { duration.unit.singular() } else { duration.unit.plural() };
    let _ = write!(out, "{} {unit}", duration.amount);
}

/// Writes `value` as a single-quoted string. Quotes are escaped; a backslash is doubled
/// only where it would otherwise escape what follows (a quote, a backslash, or the
/// closing quote), so regular expressions such as `'\d+'` print as written.
fn write_string(out: &mut String, value: &str) {
    out.push('\'');
    let mut characters = value.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\'' => out.push_str("\\'"),
            '\\' if matches!(characters.peek(), None | Some('\\' | '\'')) => out.push_str("\\\\"),
            other => out.push(other),
        }
    }
    out.push('\'');
}

/// Whether `name` can be printed bare: a plain identifier that no position of the
/// grammar reads as a keyword.
fn is_bare_name(name: &str) -> bool {
    is_plain_identifier(name)
        && crate::ast::TimeUnit::from_word(name).is_none()
        && !CONTEXTUAL_WORDS.iter().any(|word| word.eq_ignore_ascii_case(name))
}

/// Writes an attribute, event type or variable name, in backticks when needed.
fn write_name(out: &mut String, name: &str) {
    if is_bare_name(name) {
        out.push_str(name);
    } else {
        out.push('`');
        for character in name.chars() {
            if character == '`' {
                out.push('`');
            }
            out.push(character);
        }
        out.push('`');
    }
}

/// Binding strength of an expression as printed: operands binding looser than their
/// context need parentheses.
fn strength(expr: &Expr) -> u8 {
    match expr {
        Expr::Binary { op, .. } => op.precedence(),
        Expr::Unary { op: UnaryOp::Not, .. } => 3,
        Expr::In { .. }
        | Expr::Like { .. }
        | Expr::Rlike { .. }
        | Expr::IsNull { .. }
        | Expr::IsBool { .. } => 4,
        Expr::Unary { op: UnaryOp::Neg, .. } => 7,
        Expr::Literal(Literal::Int(value)) if *value < 0 => 7,
        Expr::Literal(Literal::Float(value)) if value.is_sign_negative() => 7,
        _ => 8,
    }
}

fn write_operand(out: &mut String, expr: &Expr, needs_parentheses: bool) {
    if needs_parentheses {
        out.push('(');
        write_expr(out, expr);
        out.push(')');
    } else {
        write_expr(out, expr);
    }
}

/// Writes an operand of a predicate or comparison, which the parser reads at `+ -` level.
fn write_predicate_operand(out: &mut String, expr: &Expr) {
    write_operand(out, expr, strength(expr) <= 4);
}

fn write_expr(out: &mut String, expr: &Expr) {
    match expr {
        Expr::Attribute(name) => write_name(out, name),
        Expr::Literal(literal) => write_literal(out, literal),
        Expr::Function { name, args } => {
            out.push_str(name);
            out.push('(');
            for (index, arg) in args.iter().enumerate() {
                separator(out, index);
                write_arg(out, arg);
            }
            out.push(')');
        }
        Expr::Unary { op: UnaryOp::Not, expr } => {
            out.push_str("NOT ");
            write_operand(out, expr, strength(expr) < 3);
        }
        Expr::Unary { op: UnaryOp::Neg, expr } => {
            out.push('-');
            // A bare number would fold back into a literal and `--` starts a comment.
            let needs_parentheses = !matches!(**expr, Expr::Attribute(_) | Expr::Function { .. });
            write_operand(out, expr, needs_parentheses);
        }
        Expr::Binary { op, left, right } => {
            let precedence = op.precedence();
            if op.is_comparison() {
                write_predicate_operand(out, left);
            } else {
                write_operand(out, left, strength(left) < precedence);
            }
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            if op.is_comparison() {
                write_predicate_operand(out, right);
            } else {
                write_operand(out, right, strength(right) <= precedence);
            }
        }
        Expr::In { expr, list, negated } => {
            write_predicate_operand(out, expr);
            out.push_str(if *negated { " NOT IN " } else { " IN " });
            match list {
                InList::Values(values) => {
                    out.push('(');
                    for (index, value) in values.iter().enumerate() {
                        separator(out, index);
                        write_expr(out, value);
                    }
                    out.push(')');
                }
                InList::Subquery(inner) => write_subquery(out, inner),
            }
        }
        Expr::Like { expr, pattern, negated } => {
            write_predicate_operand(out, expr);
            out.push_str(if *negated { " NOT LIKE " } else { " LIKE " });
            write_predicate_operand(out, pattern);
        }
        Expr::Rlike { expr, pattern, negated } => {
            write_predicate_operand(out, expr);
            out.push_str(if *negated { " NOT RLIKE " } else { " RLIKE " });
            write_predicate_operand(out, pattern);
        }
        Expr::IsNull { expr, negated } => {
            write_predicate_operand(out, expr);
            out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        Expr::IsBool { expr, value, negated } => {
            write_predicate_operand(out, expr);
            out.push_str(if *negated { " IS NOT " } else { " IS " });
            out.push_str(if *value { "TRUE" } else { "FALSE" });
        }
        Expr::Subquery(inner) => write_subquery(out, inner),
        Expr::Index { expr, index } => {
            write_operand(out, expr, strength(expr) < 8);
            out.push('[');
            write_expr(out, index);
            out.push(']');
        }
    }
}

fn write_arg(out: &mut String, arg: &Arg) {
    match arg {
        Arg::Expr(expr) => write_expr(out, expr),
        Arg::Wildcard => out.push('*'),
        Arg::Where { condition, label } => {
            out.push_str("WHERE ");
            write_expr(out, condition);
            write_alias(out, label.as_deref());
        }
        Arg::Duration(duration) => write_duration(out, duration),
        Arg::Named { name, value } => {
            write_name(out, name);
            out.push_str(": ");
            write_expr(out, value);
        }
    }
}

fn write_literal(out: &mut String, literal: &Literal) {
    match literal {
        Literal::String(text) => write_string(out, text),
        Literal::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Literal::Float(value) if value.is_finite() => {
            // Display gives the shortest text that reads back exactly; keep a fraction so
            // it reads back as a float, not an integer.
            let start = out.len();
            let _ = write!(out, "{value}");
            if !out[start..].contains('.') {
                out.push_str(".0");
            }
        }
        // Not finite: NRQL has no spelling for it; the parser never produces one.
        Literal::Float(_) | Literal::Null => out.push_str("NULL"),
        Literal::Bool(true) => out.push_str("TRUE"),
        Literal::Bool(false) => out.push_str("FALSE"),
    }
}
