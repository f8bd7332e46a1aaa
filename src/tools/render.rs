//! Shared rendering: caps on what reaches a model, and a compact text form of rows.

use newrelic_mcp_actors::upstream::UpstreamResponse;
use serde_json::{Map, Value, json};

/// Most rows a tool shows; the total is always counted and reported.
pub(crate) const MAX_ROWS: usize = 100;
/// Longest text rendering, in bytes, before it is cut with a note.
const MAX_TEXT_BYTES: usize = 24 * 1024;
/// Longest single value in the text rendering.
const MAX_CELL_CHARS: usize = 200;

/// Rows kept and the count before capping.
pub(crate) struct Capped {
    pub rows: Vec<Value>,
    pub total: usize,
}

impl Capped {
    pub(crate) fn new(mut rows: Vec<Value>, limit: usize) -> Self {
        let total = rows.len();
        rows.truncate(limit);
        Self { rows, total }
    }

    pub(crate) fn truncated(&self) -> bool {
        self.rows.len() < self.total
    }

    /// `"shown"`, `"total"`, `"truncated"` for structured content.
    pub(crate) fn counts(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("shown".into(), json!(self.rows.len()));
        map.insert("total".into(), json!(self.total));
        map.insert("truncated".into(), json!(self.truncated()));
        map
    }

    /// A heading like `1 row`, `3 rows` or `100 of 4210 rows shown (narrow the query to see the rest)`.
    pub(crate) fn heading(&self, one: &str, many: &str) -> String {
        if self.truncated() {
            format!("{} of {} {many} shown (narrow the query to see the rest)", self.rows.len(), self.total)
        } else {
            format!("{} {}", self.total, if self.total == 1 { one } else { many })
        }
    }
}

/// Follows `path` from `data`; `Value::Null` where anything is missing.
pub(crate) fn at<'a>(data: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(data, |value, key| value.get(key).unwrap_or(&Value::Null))
}

/// The list at `path`, or an empty one.
pub(crate) fn list_at(data: &Value, path: &[&str]) -> Vec<Value> {
    at(data, path).as_array().cloned().unwrap_or_default()
}

/// One value as short text: strings bare, numbers trimmed, long values cut.
pub(crate) fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => "null".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    };
    if text.chars().count() > MAX_CELL_CHARS {
        let cut: String = text.chars().take(MAX_CELL_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn format_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// One line per row: `key: value | key: value`, keys in the row's order.
pub(crate) fn rows_as_text(rows: &[Value]) -> String {
    let mut out = String::new();
    for row in rows {
        let line = match row {
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| format!("{key}: {}", cell(value)))
                .collect::<Vec<_>>()
                .join(" | "),
            other => cell(other),
        };
        out.push_str(&line);
        out.push('\n');
        if out.len() > MAX_TEXT_BYTES {
            out.push_str("… (text cut; the structured content has every shown row)\n");
            break;
        }
    }
    out
}

/// Notes about partial data and truncated pagination, appended to a text rendering.
pub(crate) fn response_notes(response: &UpstreamResponse) -> String {
    let mut notes = String::new();
    if response.truncated {
        notes.push_str(&format!(
            "note: stopped after {} pages; more results exist (narrow the search)\n",
            response.pages
        ));
    }
    for message in &response.partial_errors {
        notes.push_str(&format!("warning from New Relic (partial data): {message}\n"));
    }
    notes
}

/// Partial-data warnings for structured content.
pub(crate) fn warnings(response: &UpstreamResponse) -> Value {
    json!(response.partial_errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_rows_and_counts_the_total() {
        let capped = Capped::new((0..250).map(|i| json!({ "i": i })).collect(), MAX_ROWS);
        assert_eq!(capped.rows.len(), 100);
        assert_eq!(capped.total, 250);
        assert!(capped.truncated());
        assert_eq!(capped.heading("row", "rows"), "100 of 250 rows shown (narrow the query to see the rest)");
        assert_eq!(Capped::new(vec![json!(1)], 5).heading("row", "rows"), "1 row");
        assert_eq!(Capped::new(vec![], 5).heading("row", "rows"), "0 rows");
    }

    #[test]
    fn renders_cells_compactly() {
        let cases = [
            (json!(null), "null"),
            (json!("checkout"), "checkout"),
            (json!(42), "42"),
            (json!(1.5), "1.5"),
            (json!(2.0), "2"),
            (json!(0.123456), "0.1235"),
            (json!({"95": 1.2}), "{\"95\":1.2}"),
        ];
        for (value, expected) in cases {
            assert_eq!(cell(&value), expected, "{value}");
        }
        assert!(cell(&json!("x".repeat(500))).ends_with('…'));
    }

    #[test]
    fn rows_render_one_line_each() {
        let text = rows_as_text(&[
            json!({"appName": "checkout", "count": 3}),
            json!({"appName": "web", "count": 1}),
        ]);
        assert_eq!(text, "appName: checkout | count: 3\nappName: web | count: 1\n");
    }

    #[test]
    fn text_is_cut_past_its_budget() {
        let rows: Vec<Value> =
            (0..2000).map(|i| json!({ "message": format!("line {i} {}", "x".repeat(100)) })).collect();
        let text = rows_as_text(&rows);
        assert!(text.len() < MAX_TEXT_BYTES + 500);
        assert!(text.contains("text cut"));
    }
}
