//! Reading NRQL result values and writing them the way people read numbers.
//!
//! NerdGraph returns an aggregate as a number, a single `percentile()` as an object
//! (`{"95": 0.54}`), and `null` where a window had no data; these helpers take all three.

use chrono::{TimeZone, Utc};
use serde_json::Value;

/// A number from a result cell: a number, a one-entry object (a single percentile), or a
/// numeric string; `None` for null and anything else.
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64().filter(|f| f.is_finite()),
        Value::Object(map) if map.len() == 1 => map.values().next().and_then(number),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// The number at `key` of `row`.
pub(crate) fn number_at(row: &Value, key: &str) -> Option<f64> {
    row.get(key).and_then(number)
}

/// One percentile out of a multi-percentile cell (`{"50": …, "95": …}`).
pub(crate) fn percentile_at(row: &Value, key: &str, percentile: &str) -> Option<f64> {
    row.get(key).and_then(|cell| cell.get(percentile)).and_then(number)
}

/// The text at `key` of `row`: strings as they are, numbers and booleans written out.
pub(crate) fn text_at(row: &Value, key: &str) -> Option<String> {
    match row.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A boolean cell: `true`/`false`, `1`/`0`, or the strings `"true"`/`"false"`.
pub(crate) fn flag_at(row: &Value, key: &str) -> Option<bool> {
    match row.get(key)? {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => number.as_f64().map(|f| f != 0.0),
        Value::String(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The facet values of a row, in FACET order: `facet` is one value or an array of them.
pub(crate) fn facets(row: &Value) -> Vec<String> {
    match row.get("facet") {
        Some(Value::Array(items)) => items.iter().map(plain).collect(),
        Some(value) => vec![plain(value)],
        None => Vec::new(),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

/// `value` rounded to at most `decimals` places, trailing zeros dropped: `2.50` → `2.5`.
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text =
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    if text == "-0" { "0".to_string() } else { text }
}

/// An optional number rounded, or `n/a`.
pub(crate) fn fixed_or_na(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_string(), |value| fixed(value, decimals))
}

/// A byte count in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub(crate) fn bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut scaled = value;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", fixed(scaled, 0))
    } else {
        format!("{} {}", fixed(scaled, 1), UNITS[unit])
    }
}

/// A duration in milliseconds as people say it: `850 ms`, `1.2 s`, `3.5 min`.
pub(crate) fn millis(value: f64) -> String {
    if value.abs() < 1000.0 {
        format!("{} ms", fixed(value, 1))
    } else if value.abs() < 60_000.0 {
        format!("{} s", fixed(value / 1000.0, 2))
    } else {
        format!("{} min", fixed(value / 60_000.0, 1))
    }
}

/// `part` as a percentage of `whole`, or `None` when `whole` is zero.
pub(crate) fn share(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole * 100.0)
}

/// An epoch-milliseconds timestamp as UTC `2024-05-15 12:30:00`.
pub(crate) fn time_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A bucket start (epoch seconds, as TIMESERIES rows give it) as UTC `05-15 12:30`.
pub(crate) fn bucket_time(seconds: f64) -> String {
    let ms = (seconds * 1000.0) as i64;
    Utc.timestamp_millis_opt(ms)
        .single()
        .map_or_else(|| fixed(seconds, 0), |t| t.format("%m-%d %H:%M").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_numbers_in_every_shape_nerdgraph_returns() {
        let cases = [
            (json!(3), Some(3.0)),
            (json!(0.25), Some(0.25)),
            (json!({"95": 0.54}), Some(0.54)),
            (json!({"95": null}), None),
            (json!({"50": 1, "95": 2}), None),
            (json!("12.5"), Some(12.5)),
            (json!("n/a"), None),
            (json!(null), None),
            (json!([1]), None),
        ];
        for (value, expected) in cases {
            assert_eq!(number(&value), expected, "{value}");
        }
        let row = json!({"pct": {"50": 1.0, "95": 2.0}, "ok": 1, "up": "false", "name": "a", "n": 4});
        assert_eq!(percentile_at(&row, "pct", "95"), Some(2.0));
        assert_eq!(flag_at(&row, "ok"), Some(true));
        assert_eq!(flag_at(&row, "up"), Some(false));
        assert_eq!(text_at(&row, "name").as_deref(), Some("a"));
        assert_eq!(text_at(&row, "n").as_deref(), Some("4"));
        assert_eq!(text_at(&row, "missing"), None);
    }

    #[test]
    fn reads_one_or_several_facets() {
        assert_eq!(facets(&json!({"facet": "web"})), ["web"]);
        assert_eq!(facets(&json!({"facet": ["web", 3, null]})), ["web", "3", "(none)"]);
        assert!(facets(&json!({"count": 1})).is_empty());
    }

    #[test]
    fn writes_numbers_compactly() {
        let cases: [(String, &str); 12] = [
            (fixed(2.5, 2), "2.5"),
            (fixed(2.0, 2), "2"),
            (fixed(1234.5678, 1), "1234.6"),
            (fixed(-0.001, 1), "0"),
            (fixed_or_na(None, 1), "n/a"),
            (bytes(512.0), "512 B"),
            (bytes(1536.0), "1.5 KiB"),
            (bytes(3.5 * 1024.0 * 1024.0 * 1024.0), "3.5 GiB"),
            (millis(850.0), "850 ms"),
            (millis(1234.0), "1.23 s"),
            (millis(210_000.0), "3.5 min"),
            (fixed(share(1.0, 4.0).unwrap_or_default(), 1), "25"),
        ];
        for (got, expected) in cases {
            assert_eq!(got, expected);
        }
        assert_eq!(share(1.0, 0.0), None);
        assert_eq!(time_ms(1_715_776_200_000), "2024-05-15 12:30:00");
        assert_eq!(bucket_time(1_715_776_200.0), "05-15 12:30");
    }
}
