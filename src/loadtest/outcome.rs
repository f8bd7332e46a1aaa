//! How one call ended, read from its JSON-RPC response (or its absence).

use std::fmt;

use serde_json::Value;

/// Why a call did not succeed. The order is the report's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// A JSON-RPC error response, by code (`-32602` invalid params, …).
    Protocol(i64),
    /// A response with neither `result` nor a well-formed `error`.
    MalformedResponse,
    /// A tool result with `isError: true`, by `structuredContent.error.kind` when the server
    /// gives one (newrelic-mcp does), else `unspecified`.
    Tool(String),
    /// No answer within the call timeout.
    Timeout,
    /// The connection to the target failed (it exited, or closed its output).
    Transport,
}

impl ErrorClass {
    /// A stable key for JSON reports: `protocol:-32602`, `tool:Overloaded`, `timeout`, …
    pub fn key(&self) -> String {
        match self {
            Self::Protocol(code) => format!("protocol:{code}"),
            Self::MalformedResponse => "malformed_response".to_string(),
            Self::Tool(kind) => format!("tool:{kind}"),
            Self::Timeout => "timeout".to_string(),
            Self::Transport => "transport".to_string(),
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(code) => write!(f, "protocol error {code}{}", protocol_meaning(*code)),
            Self::MalformedResponse => f.write_str("malformed response"),
            Self::Tool(kind) => write!(f, "tool error {kind}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Transport => f.write_str("transport failure"),
        }
    }
}

fn protocol_meaning(code: i64) -> &'static str {
    match code {
        -32700 => " (parse error)",
        -32600 => " (invalid request)",
        -32601 => " (method not found)",
        -32602 => " (invalid params)",
        -32603 => " (internal error)",
        _ => "",
    }
}

/// How one call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed {
        class: ErrorClass,
        /// The server says the same call may succeed if tried again.
        retriable: bool,
    },
}

impl Outcome {
    pub fn failed(class: ErrorClass) -> Self {
        Self::Failed { class, retriable: false }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Failed { retriable: true, .. })
    }

    pub fn error_class(&self) -> Option<&ErrorClass> {
        match self {
            Self::Success => None,
            Self::Failed { class, .. } => Some(class),
        }
    }
}

/// Classifies a `tools/call` response.
pub fn classify(response: &Value) -> Outcome {
    if let Some(error) = response.get("error") {
        return match error.get("code").and_then(Value::as_i64) {
            Some(code) => Outcome::failed(ErrorClass::Protocol(code)),
            None => Outcome::failed(ErrorClass::MalformedResponse),
        };
    }
    let Some(result) = response.get("result").filter(|result| result.is_object()) else {
        return Outcome::failed(ErrorClass::MalformedResponse);
    };
    if result.get("isError").and_then(Value::as_bool) != Some(true) {
        return Outcome::Success;
    }
    let detail = result.get("structuredContent").and_then(|content| content.get("error"));
    let kind = detail.and_then(|d| d.get("kind")).and_then(Value::as_str).unwrap_or("unspecified");
    let retriable = detail.and_then(|d| d.get("retriable")).and_then(Value::as_bool).unwrap_or(false);
    Outcome::Failed { class: ErrorClass::Tool(kind.to_string()), retriable }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    #[test]
    fn responses_are_classified() {
        let tool =
            |kind: &str, retriable| Outcome::Failed { class: ErrorClass::Tool(kind.into()), retriable };
        let cases = [
            (
                json!({"id": 1, "result": {"content": [], "structuredContent": {"count": 1}}}),
                Outcome::Success,
            ),
            (json!({"id": 1, "result": {"content": [], "isError": false}}), Outcome::Success),
            (
                json!({"id": 1, "result": {"isError": true, "structuredContent": {"error": {"kind": "Overloaded", "retriable": true}}}}),
                tool("Overloaded", true),
            ),
            (
                json!({"id": 1, "result": {"isError": true, "structuredContent": {"error": {"kind": "BadRequest", "retriable": false}}}}),
                tool("BadRequest", false),
            ),
            (json!({"id": 1, "result": {"isError": true, "content": []}}), tool("unspecified", false)),
            (
                json!({"id": 1, "error": {"code": -32602, "message": "unknown tool"}}),
                Outcome::failed(ErrorClass::Protocol(-32602)),
            ),
            (json!({"id": 1, "error": "boom"}), Outcome::failed(ErrorClass::MalformedResponse)),
            (json!({"id": 1}), Outcome::failed(ErrorClass::MalformedResponse)),
            (json!({"id": 1, "result": 3}), Outcome::failed(ErrorClass::MalformedResponse)),
        ];
        for (response, expected) in cases {
            assert_eq!(classify(&response), expected, "{response}");
        }
    }

    #[test]
    fn classes_read_well_and_have_stable_keys() {
        let cases = [
            (ErrorClass::Protocol(-32602), "protocol error -32602 (invalid params)", "protocol:-32602"),
            (ErrorClass::Protocol(-1), "protocol error -1", "protocol:-1"),
            (ErrorClass::MalformedResponse, "malformed response", "malformed_response"),
            (ErrorClass::Tool("Timeout".into()), "tool error Timeout", "tool:Timeout"),
            (ErrorClass::Timeout, "timeout", "timeout"),
            (ErrorClass::Transport, "transport failure", "transport"),
        ];
        for (class, text, key) in cases {
            assert_eq!(class.to_string(), text);
            assert_eq!(class.key(), key);
        }
    }

    #[test]
    fn only_retriable_tool_errors_are_retriable() {
        assert!(classify(&json!({"result": {"isError": true, "structuredContent": {"error": {"kind": "Overloaded", "retriable": true}}}})).is_retriable());
        assert!(!Outcome::failed(ErrorClass::Timeout).is_retriable());
        assert!(!Outcome::Success.is_retriable());
    }
}
