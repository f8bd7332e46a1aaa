//! One telemetry event (a row of NRDB) and its attribute values.

use std::sync::Arc;

use serde_json::Value;

/// An attribute value as NRDB stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(Arc<str>),
    /// An integer.
    Int(i64),
    /// A floating-point number (always finite).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl AttrValue {
    /// The value as JSON, as NerdGraph returns it in NRQL results.
    pub fn to_json(&self) -> Value {
        match self {
            AttrValue::Str(text) => Value::String(text.to_string()),
            AttrValue::Int(number) => Value::from(*number),
            AttrValue::Float(number) => {
                serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number)
            }
            AttrValue::Bool(flag) => Value::Bool(*flag),
        }
    }

    /// The numeric value of a number attribute.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Int(number) => Some(*number as f64),
            AttrValue::Float(number) => Some(*number),
            AttrValue::Str(_) | AttrValue::Bool(_) => None,
        }
    }

    /// The text of a string attribute.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(text) => Some(text),
            _ => None,
        }
    }
}

impl From<&str> for AttrValue {
    fn from(text: &str) -> Self {
        AttrValue::Str(Arc::from(text))
    }
}

impl From<String> for AttrValue {
    fn from(text: String) -> Self {
        AttrValue::Str(Arc::from(text))
    }
}

impl From<Arc<str>> for AttrValue {
    fn from(text: Arc<str>) -> Self {
        AttrValue::Str(text)
    }
}

impl From<&Arc<str>> for AttrValue {
    fn from(text: &Arc<str>) -> Self {
        AttrValue::Str(Arc::clone(text))
    }
}

impl From<i64> for AttrValue {
    fn from(number: i64) -> Self {
        AttrValue::Int(number)
    }
}

impl From<f64> for AttrValue {
    fn from(number: f64) -> Self {
        AttrValue::Float(if number.is_finite() { number } else { 0.0 })
    }
}

impl From<bool> for AttrValue {
    fn from(flag: bool) -> Self {
        AttrValue::Bool(flag)
    }
}

/// One event: its type, its timestamp and its other attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event type (`Transaction`, `Log`, …).
    pub event_type: &'static str,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// Attributes other than `timestamp`, in insertion order, names unique.
    pub attributes: Vec<(&'static str, AttrValue)>,
}

impl Event {
    /// An event with no attributes yet.
    pub fn new(event_type: &'static str, timestamp: i64) -> Event {
        Event { event_type, timestamp, attributes: Vec::new() }
    }

    /// Adds an attribute (builder style).
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<AttrValue>) -> Event {
        self.attributes.push((name, value.into()));
        self
    }

    /// The value of an attribute; `timestamp` and `eventType()` are attributes too.
    pub fn get(&self, name: &str) -> Option<AttrValue> {
        if name == "timestamp" {
            return Some(AttrValue::Int(self.timestamp));
        }
        self.attributes.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone())
    }

    /// Borrows an attribute other than `timestamp`.
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|(key, _)| *key == name).map(|(_, value)| value)
    }
}
