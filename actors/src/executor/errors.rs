//! What a model is told when an upstream call fails: one actionable message per
//! [`FailureClass`].

use std::time::Duration;

use crate::tool::{ToolError, ToolErrorKind};
use crate::upstream::{FailureClass, UpstreamError};

/// How the NerdGraph client words an answer whose `data` has the wrong shape.
pub const SHAPE_ERROR_PREFIX: &str = "New Relic's answer had an unexpected shape";

fn whole_seconds(duration: Duration) -> u64 {
    (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1)
}

/// Maps an upstream failure to the tool error a model sees. `timeout` is the call's budget.
pub fn tool_error(error: &UpstreamError, timeout: Duration) -> ToolError {
    let (kind, message) = match error.class {
        FailureClass::Auth => (
            ToolErrorKind::Auth,
            "New Relic refused the API key: check NEW_RELIC_API_KEY is a User key (NRAK-…) for this region \
             (NEW_RELIC_REGION)"
                .to_string(),
        ),
        FailureClass::RateLimited => (
            ToolErrorKind::UpstreamTransient,
            match error.retry_after {
                Some(wait) => format!(
                    "New Relic is rate limiting this API key (too many concurrent requests or NRQL queries per \
                     minute); retry in {} s",
                    whole_seconds(wait)
                ),
                None => {
                    "New Relic is rate limiting this API key (too many concurrent requests or NRQL queries \
                         per minute); retry in a few seconds"
                        .to_string()
                }
            },
        ),
        FailureClass::Transient => (
            ToolErrorKind::UpstreamTransient,
            match error.status {
                Some(status) => format!(
                    "New Relic returned a server error (HTTP {status}): {}; retry in a moment",
                    error.message
                ),
                None => format!("New Relic returned a server error: {}; retry in a moment", error.message),
            },
        ),
        FailureClass::UpstreamTimeout => (
            ToolErrorKind::UpstreamTransient,
            format!(
                "NRQL timed out in New Relic after {} s: narrow SINCE or pass a longer timeout_seconds (up to 300; over 120 runs as async NRQL)",
                whole_seconds(timeout)
            ),
        ),
        FailureClass::Unreachable => (
            ToolErrorKind::UpstreamTransient,
            format!(
                "New Relic could not be reached ({}): check network access and NEW_RELIC_REGION, then retry",
                error.message
            ),
        ),
        FailureClass::Malformed => (
            ToolErrorKind::UpstreamTransient,
            // An answer of the wrong shape names where it went wrong; a body that is not
            // JSON has nothing worth quoting.
            if error.message.starts_with(SHAPE_ERROR_PREFIX) {
                format!("{}; retry in a moment", error.message)
            } else {
                "New Relic sent a response that is not valid NerdGraph JSON; retry in a moment".to_string()
            },
        ),
        // New Relic's own words say what is wrong with the query or the mutation.
        FailureClass::BadRequest | FailureClass::Payload => {
            (ToolErrorKind::BadRequest, error.message.clone())
        }
        FailureClass::DeadlineExceeded => (
            ToolErrorKind::Timeout,
            format!(
                "the call did not finish within its {} s deadline: narrow SINCE or pass a longer timeout_seconds (up to 300; over 120 runs as async NRQL)",
                whole_seconds(timeout)
            ),
        ),
        FailureClass::Cancelled => {
            (ToolErrorKind::Cancelled, "the call was cancelled before New Relic answered".to_string())
        }
    };
    ToolError { kind, message, retry_after: error.retry_after, error_id: None }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn every_class_maps_to_an_actionable_error() {
        let timeout = Duration::from_secs(5);
        let limited = UpstreamError {
            retry_after: Some(Duration::from_millis(2_500)),
            ..UpstreamError::new(FailureClass::RateLimited, "429")
        };
        let server = UpstreamError {
            status: Some(503),
            ..UpstreamError::new(FailureClass::Transient, "service unavailable")
        };
        #[rustfmt::skip]
        let cases: Vec<(UpstreamError, ToolErrorKind, &str)> = vec![
            (UpstreamError::new(FailureClass::Auth, "401"), ToolErrorKind::Auth, "check NEW_RELIC_API_KEY is a User key (NRAK-…)"),
            (limited, ToolErrorKind::UpstreamTransient, "retry in 3 s"),
            (UpstreamError::new(FailureClass::RateLimited, "429"), ToolErrorKind::UpstreamTransient, "retry in a few seconds"),
            (server, ToolErrorKind::UpstreamTransient, "(HTTP 503): service unavailable"),
            (UpstreamError::new(FailureClass::UpstreamTimeout, "TIMEOUT"), ToolErrorKind::UpstreamTransient, "NRQL timed out in New Relic after 5 s: narrow SINCE or pass a longer timeout_seconds (up to 300; over 120 runs as async NRQL)"),
            (UpstreamError::new(FailureClass::Unreachable, "connection refused"), ToolErrorKind::UpstreamTransient, "could not be reached (connection refused)"),
            (UpstreamError::new(FailureClass::Malformed, "eof"), ToolErrorKind::UpstreamTransient, "not valid NerdGraph JSON"),
            (UpstreamError::new(FailureClass::Malformed, "New Relic's answer had an unexpected shape at data.actor: expected an object or a list, found a string"),
                ToolErrorKind::UpstreamTransient, "unexpected shape at data.actor: expected an object or a list, found a string; retry in a moment"),
            (UpstreamError::new(FailureClass::BadRequest, "NRQL Syntax Error: Error at line 1 position 7"), ToolErrorKind::BadRequest, "NRQL Syntax Error: Error at line 1 position 7"),
            (UpstreamError::new(FailureClass::Payload, "Dashboard not found"), ToolErrorKind::BadRequest, "Dashboard not found"),
            (UpstreamError::new(FailureClass::DeadlineExceeded, "late"), ToolErrorKind::Timeout, "within its 5 s deadline"),
            (UpstreamError::new(FailureClass::Cancelled, "gone"), ToolErrorKind::Cancelled, "cancelled"),
        ];
        for (error, kind, fragment) in cases {
            let mapped = tool_error(&error, timeout);
            assert_eq!(mapped.kind, kind, "{error:?}");
            assert!(mapped.message.contains(fragment), "{error:?}: {}", mapped.message);
            assert_eq!(mapped.retry_after, error.retry_after);
        }
    }
}
