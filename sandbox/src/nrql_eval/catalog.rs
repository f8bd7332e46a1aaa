//! What the data holds: `SHOW EVENT TYPES` and `SELECT keyset()`.
//!
//! NerdGraph answers `SHOW EVENT TYPES` with one `{"eventType": …}` row per type and
//! `keyset()` with one `{"key": …, "type": "string" | "numeric" | "boolean"}` row per
//! attribute (`timestamp` included), sorted by key.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::value::{Val, attribute};
use crate::data::Event;

/// One row per event type present in `events`, sorted by name.
pub fn event_type_rows(events: &[&Event]) -> Vec<Value> {
    let types: BTreeSet<&str> = events.iter().map(|event| event.event_type).collect();
    types.into_iter().map(|name| json!({"eventType": name})).collect()
}

/// The `keyset()` rows of `events`.
pub fn keyset_rows(events: &[&Event]) -> Vec<Value> {
    let mut keys: BTreeSet<(&str, &str)> = BTreeSet::new();
    for event in events {
        keys.insert(("timestamp", "numeric"));
        for (name, _) in &event.attributes {
            let kind = match attribute(event, name) {
                Val::Str(_) => "string",
                Val::Int(_) | Val::Float(_) => "numeric",
                Val::Bool(_) => "boolean",
                Val::Null | Val::Json(_) => continue,
            };
            keys.insert((name, kind));
        }
    }
    keys.into_iter().map(|(key, kind)| json!({"key": key, "type": kind})).collect()
}
