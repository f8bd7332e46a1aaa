//! Turns the JSON value given for a parameter into a typed value, validating it against
//! the parameter's type, and writes typed values into tree slots.

use serde_json::Value;

use crate::ast::{Duration, Expr, Literal, TimeUnit};

use super::ParamType;
use super::slots::Slot;

/// The longest attribute name New Relic stores.
const MAX_IDENTIFIER_LEN: usize = 255;

/// A parameter value that passed its type's checks.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TypedValue {
    /// Quoted text (`String`, `Enum`).
    Text(String),
    /// A name (`Identifier`, `EventType`).
    Name(String),
    Int(i64),
    Float(f64),
    Duration(Duration),
}

/// Why a JSON value does not fit a parameter.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ValueProblem {
    /// The JSON kind is wrong.
    WrongType { expected: &'static str, found: &'static str },
    /// The kind is right; the value is not acceptable, for the reason given.
    Invalid(String),
}

/// The JSON kind of `value`, for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Validates `value` for a parameter of type `kind`.
pub(super) fn convert(kind: &ParamType, value: &Value) -> Result<TypedValue, ValueProblem> {
    let wrong = |expected| ValueProblem::WrongType { expected, found: json_kind(value) };
    match kind {
        ParamType::String => {
            value.as_str().map(|text| TypedValue::Text(text.to_owned())).ok_or(wrong("a string"))
        }
        ParamType::Enum(choices) => {
            let text = value.as_str().ok_or(wrong("a string"))?;
            if choices.iter().any(|choice| choice == text) {
                Ok(TypedValue::Text(text.to_owned()))
            } else {
                Err(ValueProblem::Invalid(format!(
                    "'{}' is not one of: {}",
                    shorten(text),
                    choices.join(", ")
                )))
            }
        }
        ParamType::Identifier => {
            let text = value.as_str().ok_or(wrong("a string (an attribute name)"))?;
            identifier(text).map(TypedValue::Name).map_err(ValueProblem::Invalid)
        }
        ParamType::EventType(known) => {
            let text = value.as_str().ok_or(wrong("a string (an event type)"))?;
            if known.iter().any(|name| name == text) {
                Ok(TypedValue::Name(text.to_owned()))
            } else {
                Err(ValueProblem::Invalid(format!(
                    "'{}' is not an event type this tool reads; choose one of: {}",
                    shorten(text),
                    known.join(", ")
                )))
            }
        }
        ParamType::Int => integer(value).map(TypedValue::Int),
        ParamType::Float => match value.as_f64() {
            Some(number) if value.is_number() && number.is_finite() => Ok(TypedValue::Float(number)),
            _ => Err(wrong("a number")),
        },
        ParamType::Duration => duration(value).map(TypedValue::Duration),
    }
}

/// At most 60 characters of `text`, for quoting a bad value back without echoing a huge one.
fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(60).filter(|character| !character.is_control()).collect();
    if text.chars().count() > 60 {
        shown.push('…');
    }
    shown
}

/// An attribute name: bare (`request.uri`) or wrapped in one pair of backticks
/// (`` `my-attr` ``). Backticks inside, control characters, surrounding spaces and
/// empty names are refused, so the name can only ever be one attribute.
fn identifier(text: &str) -> Result<String, String> {
    let name = match text.strip_prefix('`').and_then(|inner| inner.strip_suffix('`')) {
        Some(inner) => inner,
        None => text,
    };
    if name.is_empty() {
        return Err("an attribute name cannot be empty".to_owned());
    }
    if name.contains('`') {
        return Err("an attribute name cannot contain a backtick (`)".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("an attribute name cannot contain control characters such as newlines".to_owned());
    }
    if name.trim() != name {
        return Err("an attribute name cannot start or end with spaces".to_owned());
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Err(format!("an attribute name is at most {MAX_IDENTIFIER_LEN} bytes long"));
    }
    Ok(name.to_owned())
}

fn integer(value: &Value) -> Result<i64, ValueProblem> {
    let wrong = || ValueProblem::WrongType { expected: "a whole number", found: json_kind(value) };
    let Value::Number(number) = value else {
        return Err(wrong());
    };
    if let Some(whole) = number.as_i64() {
        return Ok(whole);
    }
    if number.is_u64() {
        return Err(ValueProblem::Invalid(format!("{number} is too large; the largest is {}", i64::MAX)));
    }
    match number.as_f64() {
        // 2^63 is exactly representable; anything at or past it does not fit.
        Some(float) if float.fract() == 0.0 && float.abs() < 9.223_372_036_854_776e18 => Ok(float as i64),
        Some(float) if float.fract() == 0.0 => {
            Err(ValueProblem::Invalid(format!("{number} is out of range")))
        }
        _ => Err(ValueProblem::Invalid(format!("{number} is not a whole number"))),
    }
}

/// `"5 minutes"`, `"1 hour"`, `"2weeks"`, or a whole number of seconds.
fn duration(value: &Value) -> Result<Duration, ValueProblem> {
    const EXPECTED: &str = "a duration such as \"5 minutes\" or a number of seconds";
    match value {
        Value::String(text) => {
            let text = text.trim();
            let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (amount, unit) = text.split_at(digits);
            let unit_word = unit.trim();
            let amount = amount.parse::<u64>().ok();
            match (amount, TimeUnit::from_word(unit_word)) {
                (Some(0), Some(_)) => {
                    Err(ValueProblem::Invalid("a duration must be longer than zero".to_owned()))
                }
                (Some(amount), Some(unit)) => Ok(Duration { amount, unit }),
                _ => Err(ValueProblem::Invalid(format!(
                    "'{}' is not {EXPECTED}; units: milliseconds, seconds, minutes, hours, days, weeks, months, quarters, years",
                    shorten(text)
                ))),
            }
        }
        Value::Number(number) => match number.as_u64() {
            Some(0) => Err(ValueProblem::Invalid("a duration must be longer than zero".to_owned())),
            Some(seconds) => Ok(seconds_to_duration(seconds)),
            None => {
                Err(ValueProblem::Invalid(format!("{number} is not a whole, positive number of seconds")))
            }
        },
        other => Err(ValueProblem::WrongType { expected: EXPECTED, found: json_kind(other) }),
    }
}

/// Seconds in the largest unit that divides them exactly: 3600 → `1 hour`.
fn seconds_to_duration(seconds: u64) -> Duration {
    let units =
        [(604_800, TimeUnit::Week), (86_400, TimeUnit::Day), (3_600, TimeUnit::Hour), (60, TimeUnit::Minute)];
    for (length, unit) in units {
        if seconds.is_multiple_of(length) {
            return Duration { amount: seconds / length, unit };
        }
    }
    Duration { amount: seconds, unit: TimeUnit::Second }
}

/// Writes `value` into `slot`, whose sentinel belongs to the parameter. The parameter's
/// type was already matched to the slot when the template was parsed; what is left to
/// check here depends on the value (a negative `LIMIT`, a zero duration count).
pub(super) fn place(value: &TypedValue, slot: Slot<'_>) -> Result<(), String> {
    match (slot, value) {
        (Slot::Value(expr), TypedValue::Text(text)) => *expr = Expr::Literal(Literal::String(text.clone())),
        (Slot::Value(expr), TypedValue::Name(name)) => *expr = Expr::Attribute(name.clone()),
        (Slot::Value(expr), TypedValue::Int(number)) => *expr = Expr::Literal(Literal::Int(*number)),
        (Slot::Value(expr), TypedValue::Float(number)) => *expr = Expr::Literal(Literal::Float(*number)),
        (
            Slot::Label(target) | Slot::Text(target, _) | Slot::EventType(target) | Slot::JoinKey(target),
            TypedValue::Text(text) | TypedValue::Name(text),
        ) => text.clone_into(target),
        (Slot::Count(target, clause), TypedValue::Int(number)) => {
            *target = u64::try_from(*number)
                .map_err(|_| format!("{clause} takes a number of 0 or more, not {number}"))?;
        }
        (Slot::Epoch(target, _), TypedValue::Int(number)) => *target = *number,
        (Slot::Duration(target, _), TypedValue::Duration(duration)) => *target = *duration,
        (Slot::Duration(target, clause), TypedValue::Int(number)) => {
            target.amount = u64::try_from(*number).ok().filter(|amount| *amount > 0).ok_or_else(|| {
                format!("the count of a duration in {clause} must be 1 or more, not {number}")
            })?;
        }
        (slot, _) => return Err(format!("this value cannot stand in {}", slot.describe())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    #[test]
    fn converts_and_validates_values_by_type() {
        let minutes = |amount| TypedValue::Duration(Duration { amount, unit: TimeUnit::Minute });
        let invalid = |reason: &str| Err(ValueProblem::Invalid(reason.to_owned()));
        let wrong = |expected, found| Err(ValueProblem::WrongType { expected, found });
        let levels = ParamType::Enum(vec!["error".into(), "warn".into()]);
        let events = ParamType::EventType(vec!["Transaction".into(), "Log".into()]);
        let cases: Vec<(ParamType, Value, Result<TypedValue, ValueProblem>)> = vec![
            (ParamType::String, json!("it's"), Ok(TypedValue::Text("it's".into()))),
            (ParamType::String, json!(5), wrong("a string", "a number")),
            (levels.clone(), json!("warn"), Ok(TypedValue::Text("warn".into()))),
            (levels.clone(), json!("WARN"), invalid("'WARN' is not one of: error, warn")),
            (levels, json!(["warn"]), wrong("a string", "an array")),
            (ParamType::Identifier, json!("request.uri"), Ok(TypedValue::Name("request.uri".into()))),
            (ParamType::Identifier, json!("`my attr-1`"), Ok(TypedValue::Name("my attr-1".into()))),
            (ParamType::Identifier, json!("User-Agent"), Ok(TypedValue::Name("User-Agent".into()))),
            (ParamType::Identifier, json!("a`b"), invalid("an attribute name cannot contain a backtick (`)")),
            (ParamType::Identifier, json!("``"), invalid("an attribute name cannot be empty")),
            (
                ParamType::Identifier,
                json!("a\nb"),
                invalid("an attribute name cannot contain control characters such as newlines"),
            ),
            (
                ParamType::Identifier,
                json!(" a"),
                invalid("an attribute name cannot start or end with spaces"),
            ),
            (
                ParamType::Identifier,
                json!("x".repeat(256)),
                invalid("an attribute name is at most 255 bytes long"),
            ),
            (events.clone(), json!("Log"), Ok(TypedValue::Name("Log".into()))),
            (
                events,
                json!("log"),
                invalid("'log' is not an event type this tool reads; choose one of: Transaction, Log"),
            ),
            (ParamType::Int, json!(-20), Ok(TypedValue::Int(-20))),
            (ParamType::Int, json!(20.0), Ok(TypedValue::Int(20))),
            (ParamType::Int, json!(20.5), invalid("20.5 is not a whole number")),
            (
                ParamType::Int,
                json!(u64::MAX),
                invalid("18446744073709551615 is too large; the largest is 9223372036854775807"),
            ),
            (ParamType::Int, json!(1e300), invalid("1e+300 is out of range")),
            (ParamType::Int, json!("20"), wrong("a whole number", "a string")),
            (ParamType::Float, json!(0.25), Ok(TypedValue::Float(0.25))),
            (ParamType::Float, json!(3), Ok(TypedValue::Float(3.0))),
            (ParamType::Float, json!(true), wrong("a number", "a boolean")),
            (ParamType::Duration, json!("5 minutes"), Ok(minutes(5))),
            (
                ParamType::Duration,
                json!(" 1 HOUR "),
                Ok(TypedValue::Duration(Duration { amount: 1, unit: TimeUnit::Hour })),
            ),
            (
                ParamType::Duration,
                json!("2weeks"),
                Ok(TypedValue::Duration(Duration { amount: 2, unit: TimeUnit::Week })),
            ),
            (ParamType::Duration, json!(300), Ok(minutes(5))),
            (
                ParamType::Duration,
                json!(90),
                Ok(TypedValue::Duration(Duration { amount: 90, unit: TimeUnit::Second })),
            ),
            (ParamType::Duration, json!(0), invalid("a duration must be longer than zero")),
            (ParamType::Duration, json!("0 minutes"), invalid("a duration must be longer than zero")),
            (ParamType::Duration, json!(-5), invalid("-5 is not a whole, positive number of seconds")),
            (ParamType::Duration, json!(1.5), invalid("1.5 is not a whole, positive number of seconds")),
            (
                ParamType::Duration,
                json!("5 fortnights"),
                invalid(
                    "'5 fortnights' is not a duration such as \"5 minutes\" or a number of seconds; units: milliseconds, seconds, minutes, hours, days, weeks, months, quarters, years",
                ),
            ),
            (
                ParamType::Duration,
                json!(null),
                wrong("a duration such as \"5 minutes\" or a number of seconds", "null"),
            ),
        ];
        for (kind, value, expected) in cases {
            assert_eq!(convert(&kind, &value), expected, "{kind:?} {value}");
        }
    }
}
