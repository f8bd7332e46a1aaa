//! Values of NRQL expressions and their evaluation against one event.

use std::cmp::Ordering;
use std::sync::Arc;

use newrelic_mcp_nrql::ast::{Arg, BinaryOp, Expr, InList, Literal, UnaryOp};
use serde_json::Value;

use super::NrqlError;
use crate::data::{AttrValue, Event};

/// A value computed by NRQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Missing or null.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Floating point.
    Float(f64),
    /// String.
    Str(Arc<str>),
    /// A structured aggregate result (percentiles, uniques, histogram).
    Json(Value),
}

impl Val {
    /// The value as it appears in a result row.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(flag) => Value::Bool(*flag),
            Val::Int(number) => Value::from(*number),
            Val::Float(number) => serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number),
            Val::Str(text) => Value::String(text.to_string()),
            Val::Json(value) => value.clone(),
        }
    }

    /// A numeric view: numbers, single-valued structured results such as
    /// `percentile(x, 95)`, and an `apdex()` result read as its score.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(number) => Some(*number as f64),
            Val::Float(number) => Some(*number),
            Val::Json(Value::Object(map)) if map.len() == 1 => map.values().next().and_then(Value::as_f64),
            Val::Json(Value::Object(map)) if map.contains_key("score") => {
                map.get("score").and_then(Value::as_f64)
            }
            _ => None,
        }
    }

    /// Whether this is boolean true (the only value a `WHERE` accepts).
    pub fn is_true(&self) -> bool {
        matches!(self, Val::Bool(true))
    }

    /// A stable key for grouping and distinct counting.
    pub fn group_key(&self) -> String {
        match self {
            Val::Str(text) => format!("s:{text}"),
            Val::Float(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => {
                format!("n:{}", *number as i64)
            }
            other => format!("v:{}", other.to_json()),
        }
    }
}

impl From<&AttrValue> for Val {
    fn from(value: &AttrValue) -> Self {
        match value {
            AttrValue::Str(text) => Val::Str(Arc::clone(text)),
            AttrValue::Int(number) => Val::Int(*number),
            AttrValue::Float(number) => Val::Float(*number),
            AttrValue::Bool(flag) => Val::Bool(*flag),
        }
    }
}

/// Orders two values: numbers numerically, strings lexically, booleans false < true;
/// `None` across kinds or with null.
pub fn compare(left: &Val, right: &Val) -> Option<Ordering> {
    match (left, right) {
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
        _ => match (left.as_f64(), right.as_f64()) {
            (Some(a), Some(b)) if !matches!(left, Val::Json(_)) && !matches!(right, Val::Json(_)) => {
                a.partial_cmp(&b)
            }
            _ => None,
        },
    }
}

/// Sort order for result rows: comparable values by [`compare`], null last.
pub fn sort_order(left: &Val, right: &Val) -> Ordering {
    match (left, right) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Greater,
        (_, Val::Null) => Ordering::Less,
        _ => compare(left, right).unwrap_or_else(|| left.group_key().cmp(&right.group_key())),
    }
}

/// Applies an arithmetic operator; null in, null out; division by zero is null.
pub fn arithmetic(op: BinaryOp, left: &Val, right: &Val) -> Val {
    if let (Val::Int(a), Val::Int(b), BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) = (left, right, op) {
        let result = match op {
            BinaryOp::Add => a.checked_add(*b),
            BinaryOp::Sub => a.checked_sub(*b),
            _ => a.checked_mul(*b),
        };
        if let Some(result) = result {
            return Val::Int(result);
        }
    }
    let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) else { return Val::Null };
    let result = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div if b == 0.0 => return Val::Null,
        BinaryOp::Div => a / b,
        _ => return Val::Null,
    };
    if result.is_finite() { Val::Float(result) } else { Val::Null }
}

/// Applies a comparison operator; comparisons with null are false.
pub fn comparison(op: BinaryOp, left: &Val, right: &Val) -> Val {
    let Some(ordering) = compare(left, right) else { return Val::Bool(false) };
    Val::Bool(match op {
        BinaryOp::Eq => ordering == Ordering::Equal,
        BinaryOp::NotEq => ordering != Ordering::Equal,
        BinaryOp::Lt => ordering == Ordering::Less,
        BinaryOp::LtEq => ordering != Ordering::Greater,
        BinaryOp::Gt => ordering == Ordering::Greater,
        BinaryOp::GtEq => ordering != Ordering::Less,
        _ => false,
    })
}

/// One element of a `LIKE` pattern.
#[derive(Clone, Copy, PartialEq)]
enum LikeToken {
    /// `%`: any run of characters, the empty one included.
    AnyRun,
    /// A character matched as itself (`\%` and `\\` escape the wildcard and the escape; `_` is
    /// an ordinary character in NRQL).
    Literal(char),
}

fn like_tokens(pattern: &str) -> Vec<LikeToken> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => LikeToken::AnyRun,
            // A trailing backslash escapes nothing and stands for itself.
            '\\' => LikeToken::Literal(chars.next().unwrap_or('\\')),
            other => LikeToken::Literal(other),
        });
    }
    tokens
}

/// `LIKE` with `%` matching any run of characters, ignoring case; a backslash makes the next
/// character literal.
pub fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let pattern = like_tokens(&pattern.to_lowercase());
    let matches_one = |token: LikeToken, c: char| match token {
        LikeToken::Literal(literal) => literal == c,
        LikeToken::AnyRun => false,
    };
    // Classic wildcard matching with backtracking on the last `%`.
    let (mut t, mut p) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while t < text.len() {
        if p < pattern.len() && matches_one(pattern[p], text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == LikeToken::AnyRun {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(star_at) = star {
            p = star_at + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == LikeToken::AnyRun {
        p += 1;
    }
    p == pattern.len()
}

/// Evaluates a literal.
pub fn literal(literal: &Literal) -> Val {
    match literal {
        Literal::String(text) => Val::Str(Arc::from(text.as_str())),
        Literal::Int(number) => Val::Int(*number),
        Literal::Float(number) => Val::Float(*number),
        Literal::Bool(flag) => Val::Bool(*flag),
        Literal::Null => Val::Null,
        #[allow(unreachable_patterns)]
        _ => Val::Null,
    }
}

/// Evaluates a non-aggregate expression against one event.
pub fn eval(expr: &Expr, event: &Event) -> Result<Val, NrqlError> {
    Ok(match expr {
        Expr::Attribute(name) => attribute(event, name),
        Expr::Literal(value) => literal(value),
        Expr::Function { name, args } => {
            if newrelic_mcp_nrql::is_aggregator(name) {
                return Err(NrqlError::Invalid(format!(
                    "aggregate function {name}() is not allowed here (only in SELECT, ORDER BY or inside filter/percentage)"
                )));
            }
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                match arg {
                    Arg::Expr(inner) => values.push(eval(inner, event)?),
                    _ => return Err(NrqlError::Unsupported(format!("this form of argument to {name}()"))),
                }
            }
            if name.eq_ignore_ascii_case("eventType") && values.is_empty() {
                Val::Str(Arc::from(event.event_type))
            } else {
                scalar_function(name, &values)?
            }
        }
        Expr::Unary { op, expr } => {
            let value = eval(expr, event)?;
            match op {
                UnaryOp::Neg => arithmetic(BinaryOp::Sub, &Val::Int(0), &value),
                UnaryOp::Not => match value {
                    Val::Bool(flag) => Val::Bool(!flag),
                    _ => Val::Bool(false),
                },
            }
        }
        Expr::Binary { op, left, right } => match op {
            BinaryOp::And => Val::Bool(eval(left, event)?.is_true() && eval(right, event)?.is_true()),
            BinaryOp::Or => Val::Bool(eval(left, event)?.is_true() || eval(right, event)?.is_true()),
            op if op.is_comparison() => comparison(*op, &eval(left, event)?, &eval(right, event)?),
            op => arithmetic(*op, &eval(left, event)?, &eval(right, event)?),
        },
        Expr::In { expr, list, negated } => {
            let value = eval(expr, event)?;
            let InList::Values(candidates) = list else {
                return Err(NrqlError::Unsupported("subqueries in IN (…)".to_string()));
            };
            if value == Val::Null {
                return Ok(Val::Bool(false));
            }
            let mut found = false;
            for candidate in candidates {
                if compare(&value, &eval(candidate, event)?) == Some(Ordering::Equal) {
                    found = true;
                    break;
                }
            }
            Val::Bool(found != *negated)
        }
        Expr::Like { expr, pattern, negated } => match (eval(expr, event)?, eval(pattern, event)?) {
            (Val::Str(text), Val::Str(pattern)) => Val::Bool(like(&text, &pattern) != *negated),
            _ => Val::Bool(false),
        },
        Expr::Rlike { expr, pattern, negated } => match (eval(expr, event)?, eval(pattern, event)?) {
            (Val::Str(text), Val::Str(pattern)) => {
                let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|error| NrqlError::Invalid(format!("invalid RLIKE pattern: {error}")))?;
                Val::Bool(regex.is_match(&text) != *negated)
            }
            _ => Val::Bool(false),
        },
        Expr::IsNull { expr, negated } => Val::Bool((eval(expr, event)? == Val::Null) != *negated),
        Expr::IsBool { expr, value, negated } => {
            Val::Bool((eval(expr, event)? == Val::Bool(*value)) != *negated)
        }
        Expr::Subquery(_) => return Err(NrqlError::Unsupported("subqueries".to_string())),
        #[allow(unreachable_patterns)]
        _ => return Err(NrqlError::Unsupported("this expression form".to_string())),
    })
}

/// The value of an attribute of an event (`timestamp` included).
pub fn attribute(event: &Event, name: &str) -> Val {
    if name == "timestamp" {
        return Val::Int(event.timestamp);
    }
    event.attr(name).map_or(Val::Null, Val::from)
}

/// Non-aggregate functions the sandbox evaluates.
pub fn scalar_function(name: &str, values: &[Val]) -> Result<Val, NrqlError> {
    let lower = name.to_ascii_lowercase();
    let number = |index: usize| values.get(index).and_then(Val::as_f64);
    let text = |index: usize| match values.get(index) {
        Some(Val::Str(text)) => Some(Arc::clone(text)),
        _ => None,
    };
    let float = |value: Option<f64>| value.filter(|v| v.is_finite()).map_or(Val::Null, Val::Float);
    Ok(match (lower.as_str(), values.len()) {
        ("lower", 1) => text(0).map_or(Val::Null, |t| Val::Str(Arc::from(t.to_lowercase()))),
        ("upper", 1) => text(0).map_or(Val::Null, |t| Val::Str(Arc::from(t.to_uppercase()))),
        ("length", 1) => text(0).map_or(Val::Null, |t| Val::Int(t.chars().count() as i64)),
        ("abs", 1) => match values[0] {
            Val::Int(n) => Val::Int(n.saturating_abs()),
            _ => float(number(0).map(f64::abs)),
        },
        ("round", 1) => float(number(0).map(f64::round)),
        ("floor", 1) => float(number(0).map(f64::floor)),
        ("ceil", 1) => float(number(0).map(f64::ceil)),
        ("concat", _) => Val::Str(Arc::from(
            values
                .iter()
                .map(|value| match value {
                    Val::Str(text) => text.to_string(),
                    Val::Null => String::new(),
                    other => other.to_json().to_string(),
                })
                .collect::<String>(),
        )),
        ("if", 3) => {
            if values[0].is_true() {
                values[1].clone()
            } else {
                values[2].clone()
            }
        }
        _ => {
            return Err(NrqlError::Unsupported(format!(
                "the function {name}() with {} argument(s)",
                values.len()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_percent_wildcards_ignoring_case() {
        let cases = [
            ("request timeout after 5s", "%timeout%", true),
            ("request timeout", "request%", true),
            ("request timeout", "%request", false),
            ("Timeout", "timeout", true),
            ("abc", "a%c", true),
            ("abc", "a%d", false),
            ("", "%", true),
            ("a%b", "a%b", true),
            ("abc", "a_c", false),
            ("a_c", "a_c", true),
            ("ac", "a_c", false),
            ("50% off", "%50\\%%", true),
            ("500 off", "%50\\%%", false),
            ("a_b", "a\\_b", true),
            ("axb", "a\\_b", false),
            (r"C:\dir", r"%:\\dir", true),
            (r"C:dir", r"%:\\dir", false),
            (r"end\", "end\\", true),
        ];
        for (text, pattern, expected) in cases {
            assert_eq!(like(text, pattern), expected, "{text} LIKE {pattern}");
        }
    }

    #[test]
    fn arithmetic_and_comparison_follow_nrql() {
        assert_eq!(arithmetic(BinaryOp::Add, &Val::Int(2), &Val::Int(3)), Val::Int(5));
        assert_eq!(arithmetic(BinaryOp::Div, &Val::Int(3), &Val::Int(2)), Val::Float(1.5));
        assert_eq!(arithmetic(BinaryOp::Div, &Val::Int(3), &Val::Int(0)), Val::Null);
        assert_eq!(arithmetic(BinaryOp::Mul, &Val::Null, &Val::Int(2)), Val::Null);
        assert_eq!(comparison(BinaryOp::Gt, &Val::Float(2.5), &Val::Int(2)), Val::Bool(true));
        assert_eq!(comparison(BinaryOp::Eq, &Val::Str(Arc::from("200")), &Val::Int(200)), Val::Bool(false));
        assert_eq!(comparison(BinaryOp::NotEq, &Val::Null, &Val::Int(1)), Val::Bool(false));
    }
}
