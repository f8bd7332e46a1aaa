//! Following `nextCursor` across pages: pure helpers the worker loops over.
//!
//! NerdGraph paginates by handing back a `nextCursor` beside each page's list; the next
//! request passes it in a variable. The worker keeps the first page's shape and appends the
//! lists of later pages, so a renderer sees one response whatever the page count.

use serde_json::{Map, Value};

use crate::upstream::{Pagination, UpstreamResponse};

/// The page object at `path` inside `data`.
pub fn page_object<'a>(data: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(data, |value, segment| value.get(*segment))
}

fn page_object_mut<'a>(data: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(data, |value, segment| value.get_mut(*segment))
}

/// The cursor of the next page, when the page says there is one.
pub fn next_cursor(data: &Value, pagination: &Pagination) -> Option<String> {
    page_object(data, pagination.page_path)?
        .get("nextCursor")?
        .as_str()
        .filter(|cursor| !cursor.is_empty())
        .map(str::to_string)
}

/// The request variables with the cursor variable set.
pub fn with_cursor(variables: &Value, name: &str, cursor: &str) -> Value {
    let mut object = match variables {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    object.insert(name.to_string(), Value::String(cursor.to_string()));
    Value::Object(object)
}

/// Folds one more page into what was collected so far and returns the next cursor.
///
/// The items of `page` are appended to the list of `collected`; the cursor in `collected`
/// becomes the page's, so that a truncated result still says where it stopped.
pub fn merge_page(
    collected: Option<UpstreamResponse>,
    page: UpstreamResponse,
    pagination: &Pagination,
) -> (UpstreamResponse, Option<String>) {
    let cursor = next_cursor(&page.data, pagination);
    let page_count = page.pages.max(1);
    let Some(mut collected) = collected else {
        return (UpstreamResponse { pages: page_count, ..page }, cursor);
    };
    let UpstreamResponse { data, partial_errors, .. } = page;
    let new_items = match page_object(&data, pagination.page_path).and_then(|p| p.get(pagination.items_field))
    {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(target)) = page_object_mut(&mut collected.data, pagination.page_path) {
        match target.get_mut(pagination.items_field) {
            Some(Value::Array(items)) => items.extend(new_items),
            _ => {
                target.insert(pagination.items_field.to_string(), Value::Array(new_items));
            }
        }
        target.insert("nextCursor".to_string(), cursor.clone().map_or(Value::Null, Value::String));
    }
    collected.partial_errors.extend(partial_errors);
    collected.pages += page_count;
    (collected, cursor)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    const PAGINATION: Pagination = Pagination {
        cursor_variable: "cursor",
        page_path: &["actor", "entitySearch", "results"],
        items_field: "entities",
        max_pages: 3,
    };

    fn page(names: &[&str], cursor: Option<&str>) -> UpstreamResponse {
        UpstreamResponse {
            data: json!({"actor": {"entitySearch": {"count": 9, "results": {
                "entities": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
                "nextCursor": cursor,
            }}}}),
            partial_errors: Vec::new(),
            pages: 1,
            truncated: false,
        }
    }

    #[test]
    fn next_cursor_reads_only_non_empty_strings() {
        let cases = [
            (page(&["a"], Some("abc")).data, Some("abc".to_string())),
            (page(&["a"], None).data, None),
            (page(&["a"], Some("")).data, None),
            (json!({"actor": null}), None),
            (json!({"actor": {"entitySearch": {"results": {"nextCursor": 7}}}}), None),
            (Value::Null, None),
        ];
        for (data, expected) in cases {
            assert_eq!(next_cursor(&data, &PAGINATION), expected, "{data}");
        }
    }

    #[test]
    fn with_cursor_sets_or_replaces_the_variable() {
        let cases = [
            (json!({"query": "x"}), json!({"query": "x", "cursor": "c2"})),
            (json!({"cursor": "c1"}), json!({"cursor": "c2"})),
            (Value::Null, json!({"cursor": "c2"})),
        ];
        for (variables, expected) in cases {
            assert_eq!(with_cursor(&variables, "cursor", "c2"), expected);
        }
    }

    #[test]
    fn pages_are_concatenated_and_the_cursor_follows_the_last_page() {
        let (first, cursor) = merge_page(None, page(&["a", "b"], Some("c1")), &PAGINATION);
        assert_eq!(cursor.as_deref(), Some("c1"));
        let mut second_page = page(&["c"], Some("c2"));
        second_page.partial_errors.push("shard 3 timed out".to_string());
        let (merged, cursor) = merge_page(Some(first), second_page, &PAGINATION);
        assert_eq!(cursor.as_deref(), Some("c2"));
        let (merged, cursor) = merge_page(Some(merged), page(&["d"], None), &PAGINATION);
        assert_eq!(cursor, None);
        let results = page_object(&merged.data, PAGINATION.page_path).unwrap();
        let names: Vec<&str> =
            results["entities"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(results["nextCursor"], Value::Null);
        assert_eq!(merged.pages, 3);
        assert_eq!(merged.partial_errors, ["shard 3 timed out"]);
        assert_eq!(merged.data["actor"]["entitySearch"]["count"], 9);
    }

    #[test]
    fn a_page_without_the_list_adds_nothing() {
        let (first, _) = merge_page(None, page(&["a"], Some("c1")), &PAGINATION);
        let empty = UpstreamResponse { data: json!({"actor": null}), pages: 1, ..Default::default() };
        let (merged, cursor) = merge_page(Some(first), empty, &PAGINATION);
        assert_eq!(cursor, None);
        assert_eq!(
            page_object(&merged.data, PAGINATION.page_path).unwrap()["entities"].as_array().unwrap().len(),
            1
        );
    }
}
