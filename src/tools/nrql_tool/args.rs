//! Checks and spellings shared by the arguments of NRQL tools: names, limits, GUIDs and the
//! `since` window, each refused with a message that says what would be accepted.

use newrelic_mcp_actors::tool::{PlanContext, PlanError, ToolError, ToolErrorKind};

use super::super::entity_ref::checked_guid;
use newrelic_mcp_nrql::{ParamSpec, ParamType};

/// Longest name (app, host, service, cluster) a tool accepts.
const MAX_NAME_CHARS: usize = 255;

/// The `since` placeholder: how far back a query reads, with its default.
pub(crate) fn since_param(default: &str) -> ParamSpec {
    ParamSpec::new("since", ParamType::Duration).with_default(default)
}

/// The window in words for headlines: `last 1 hour`.
pub(crate) fn since_label(since: Option<&str>, default: &str) -> String {
    format!("last {}", since.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(default))
}

/// A required name, trimmed; refused when empty, too long or holding control characters.
pub(crate) fn name(argument: &str, value: &str) -> Result<String, PlanError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(PlanError::InvalidArguments(format!("{argument} is empty")));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS || trimmed.chars().any(char::is_control) {
        return Err(PlanError::InvalidArguments(format!(
            "{argument} must be 1 to {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// An optional name, checked like [`name`].
pub(crate) fn optional_name(argument: &str, value: Option<&str>) -> Result<Option<String>, PlanError> {
    value.map(|value| name(argument, value)).transpose()
}

/// An entity GUID, read and held to the allow-list as every tool reads GUIDs.
pub(crate) fn guid(argument: &str, value: &str, context: &PlanContext) -> Result<String, PlanError> {
    checked_guid(argument, value, context)
}

/// A row limit: the default when absent, refused outside `1..=max`.
pub(crate) fn limit(argument: &str, value: Option<u32>, default: u32, max: u32) -> Result<i64, PlanError> {
    match value {
        None => Ok(i64::from(default)),
        Some(value) if (1..=max).contains(&value) => Ok(i64::from(value)),
        Some(value) => {
            Err(PlanError::InvalidArguments(format!("{argument} must be between 1 and {max}, got {value}")))
        }
    }
}

/// Exactly one of two ways to name the subject, e.g. `app_name` or `entity_guid`.
pub(crate) fn one_of<'a, T>(
    first: (&str, Option<&'a T>),
    second: (&str, Option<&'a T>),
) -> Result<Result<&'a T, &'a T>, PlanError>
where
    T: ?Sized,
{
    match (first.1, second.1) {
        (Some(a), None) => Ok(Ok(a)),
        (None, Some(b)) => Ok(Err(b)),
        (Some(_), Some(_)) => {
            Err(PlanError::InvalidArguments(format!("give {} or {}, not both", first.0, second.0)))
        }
        (None, None) => Err(PlanError::InvalidArguments(format!("give {} or {}", first.0, second.0))),
    }
}

/// The tool error for a query that found nothing, with where to look instead.
pub(crate) fn nothing_found(what: &str, hint: &str) -> ToolError {
    ToolError::new(ToolErrorKind::NotFound, format!("{what}. {hint}"))
}

/// How to find the right application name, for messages.
pub(crate) const APP_NAME_HINT: &str = "Check the name: get_entity with name_pattern finds applications, and \
     execute_nrql_query with SELECT uniques(appName) FROM Transaction SINCE 1 day ago lists those reporting";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn checks_names_limits_and_guids() {
        assert_eq!(name("app_name", "  web  ").unwrap(), "web");
        for bad in ["", "   ", "a\nb"] {
            assert!(name("app_name", bad).is_err(), "{bad:?}");
        }
        assert!(name("app_name", &"x".repeat(256)).is_err());
        assert_eq!(optional_name("host", None).unwrap(), None);
        assert_eq!(limit("limit", None, 10, 50).unwrap(), 10);
        assert_eq!(limit("limit", Some(50), 10, 50).unwrap(), 50);
        assert!(limit("limit", Some(0), 10, 50).is_err());
        assert!(limit("limit", Some(51), 10, 50).is_err());
        let open = PlanContext {
            default_account: Some(1),
            allowed_accounts: None,
            now_epoch_ms: 0,
            default_timeout: std::time::Duration::from_secs(30),
        };
        let allowed =
            PlanContext { allowed_accounts: Some(std::sync::Arc::from(vec![1_000_002])), ..open.clone() };
        let production = "MTAwMDAwMXxBUE18QVBQTElDQVRJT058MTAwMDAx";
        assert!(guid("entity_guid", production, &open).is_ok());
        assert!(guid("entity_guid", "a b", &open).is_err());
        // Held to the allow-list like every GUID: 1000001 is not allowed here.
        assert!(guid("entity_guid", production, &allowed).is_err());
        assert_eq!(since_label(None, "1 hour"), "last 1 hour");
        assert_eq!(since_label(Some(" 6 hours "), "1 hour"), "last 6 hours");
    }

    #[test]
    fn exactly_one_subject() {
        let web = "web".to_string();
        let guid = "G".to_string();
        assert_eq!(one_of(("a", Some(&web)), ("b", None)).unwrap(), Ok(&web));
        assert_eq!(one_of(("a", None), ("b", Some(&guid))).unwrap(), Err(&guid));
        assert!(one_of::<String>(("a", None), ("b", None)).is_err());
        assert!(one_of(("a", Some(&web)), ("b", Some(&guid))).is_err());
    }
}
