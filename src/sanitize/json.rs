//! Sanitizing structured output: every string inside a JSON value, object keys included,
//! plus values stored under keys that name a credential.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{REDACTED, sanitize, sanitize_upstream};

type TextSanitizer = for<'t> fn(&'t str) -> Cow<'t, str>;

/// Object keys (compared without case, `-`, `_` or spaces) whose value is a credential
/// whatever it looks like.
const CREDENTIAL_KEYS: &[&str] = &[
    "apikey",
    "xapikey",
    "licensekey",
    "xlicensekey",
    "insertkey",
    "xinsertkey",
    "querykey",
    "xquerykey",
    "userkey",
    "adminkey",
    "ingestkey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "sessiontoken",
    "token",
    "secret",
    "clientsecret",
    "hmacsecret",
    "signingkey",
    "signingsecret",
    "privatekey",
    "password",
    "passwd",
    "passphrase",
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "credential",
    "credentials",
];

/// Compares without building the normalised key: this runs for every object key of every
/// answer. Every listed name is ASCII, so a key with any other character never matches.
fn is_credential_key(key: &str) -> bool {
    let significant = || key.bytes().filter(|byte| !matches!(byte, b'-' | b'_' | b' '));
    CREDENTIAL_KEYS.iter().any(|name| {
        let mut remaining = name.bytes();
        significant().all(|byte| remaining.next() == Some(byte.to_ascii_lowercase()))
            && remaining.next().is_none()
    })
}

/// Sanitizes JSON the server builds itself with the rules of [`sanitize`]: string values,
/// object keys, and scalars stored under a credential key (replaced by `"[redacted]"`).
pub fn sanitize_json(value: &mut Value) {
    sanitize_json_with(value, sanitize);
}

/// Sanitizes upstream data (a tool's structured answer) with the rules of
/// [`sanitize_upstream`]: credentials go, every other value stays as New Relic sent it.
pub fn sanitize_upstream_json(value: &mut Value) {
    sanitize_json_with(value, sanitize_upstream);
}

/// Walks with an explicit stack, so arbitrarily deep values cannot overflow the call stack.
fn sanitize_json_with(value: &mut Value, sanitize: TextSanitizer) {
    let mut pending: Vec<&mut Value> = vec![value];
    while let Some(current) = pending.pop() {
        match current {
            Value::String(text) => {
                if let Cow::Owned(clean) = sanitize(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => pending.extend(items.iter_mut()),
            Value::Object(map) => {
                sanitize_keys(map, sanitize);
                for (key, item) in map.iter_mut() {
                    if is_credential_key(key) && redact_scalar(item) {
                        continue;
                    }
                    pending.push(item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Replaces a non-empty scalar with the marker; containers are left to be walked.
fn redact_scalar(item: &mut Value) -> bool {
    match item {
        Value::String(text) if text.is_empty() => true,
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            *item = Value::String(REDACTED.to_owned());
            true
        }
        Value::Null => true,
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// Rebuilds the map only when a key changes. Two keys that sanitize alike both survive:
/// the later ones get a ` #2`, ` #3`… suffix rather than overwriting the first.
fn sanitize_keys(map: &mut Map<String, Value>, sanitize: TextSanitizer) {
    if map.keys().all(|key| matches!(sanitize(key), Cow::Borrowed(_))) {
        return;
    }
    let original = std::mem::take(map);
    for (key, item) in original {
        let clean = sanitize(&key).into_owned();
        let mut unique = clean.clone();
        let mut counter = 2;
        while map.contains_key(&unique) {
            unique = format!("{clean} #{counter}");
            counter += 1;
        }
        map.insert(unique, item);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    #[test]
    fn credential_keys_are_recognised_in_any_spelling() {
        let cases = [
            ("password", true),
            ("Password", true),
            ("api_key", true),
            ("API-Key", true),
            ("apiKey", true),
            ("X-License-Key", true),
            ("client secret", true),
            ("key", false),
            ("tokens", false),
            ("nextCursor", false),
            ("guid", false),
            ("", false),
            ("---", false),
            ("passwordx", false),
            ("passwor", false),
            ("PASS_WORD", true),
            ("pässword", false),
            ("Token", true),
            ("x-api-key", true),
        ];
        for (key, expected) in cases {
            assert_eq!(is_credential_key(key), expected, "{key}");
        }
    }

    #[test]
    fn deep_values_do_not_overflow_the_stack() {
        let mut value = json!("NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ0");
        for _ in 0..100_000 {
            value = Value::Array(vec![value]);
        }
        sanitize_json(&mut value);
        let mut innermost = &value;
        while let Value::Array(items) = innermost {
            innermost = &items[0];
        }
        assert_eq!(innermost, &json!("[redacted key]"));
        // Dropping a deeply nested value recurses inside serde_json; unwind it by hand.
        while let Value::Array(mut items) = value {
            value = items.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn colliding_keys_are_all_kept() {
        let mut value = json!({"/home/a/x": 1, "/home/b/y": 2, "plain": 3});
        sanitize_json(&mut value);
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 3);
        assert!(object.contains_key("[path]"));
        assert!(object.contains_key("[path] #2"));
        assert_eq!(object["plain"], json!(3));
    }
}
