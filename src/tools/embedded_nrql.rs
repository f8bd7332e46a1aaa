//! NRQL that travels inside a larger GraphQL document, as the variable of an aliased
//! `nrql(query: $signals)` field beside other data (an issue, its conditions, a
//! deployment list), so a tool that needs several things still sends one request.
//!
//! Such a query is made exactly like the queries of template tools: typed values filled
//! into a parsed [`Template`], never spliced into text, and the result held to the
//! server's NRQL [`Policy`] before the request leaves. A report is therefore no way
//! around the rules `execute_nrql_query` enforces.

use std::collections::BTreeMap;

use newrelic_mcp_actors::tool::{PlanError, ToolError, ToolErrorKind};
use newrelic_mcp_nrql::{ParamSpec, Policy, Template};
use serde_json::Value;

use super::data_access::MAX_QUERY_BYTES;
use super::render::{at, list_at};

/// An NRQL template of the code, with its parameters.
#[derive(Debug, Clone)]
pub(crate) struct NrqlTemplate {
    /// How messages refer to it.
    pub name: &'static str,
    /// The template text with `{{name}}` placeholders.
    pub text: String,
    /// Its placeholders.
    pub params: Vec<ParamSpec>,
}

impl NrqlTemplate {
    pub(crate) fn new(name: &'static str, text: impl Into<String>, params: Vec<ParamSpec>) -> Self {
        Self { name, text: text.into(), params }
    }

    /// Parses the template; for tests, which parse every template a tool can use.
    #[cfg(test)]
    pub(crate) fn parse(&self) -> Result<Template, String> {
        Template::parse(&self.text, &self.params)
            .map_err(|error| format!("{}: {error}\n{}", self.name, self.text))
    }

    /// Fills `values` in, checks the query against `policy` for `account`, and returns its text.
    pub(crate) fn build(
        &self,
        values: &[(&str, Value)],
        policy: &Policy,
        account: i64,
        now_epoch_ms: i64,
    ) -> Result<String, PlanError> {
        let template = Template::parse(&self.text, &self.params).map_err(|error| {
            PlanError::Tool(ToolError::new(
                ToolErrorKind::Internal,
                format!(
                    "the {} query cannot be built ({error}); use execute_nrql_query meanwhile",
                    self.name
                ),
            ))
        })?;
        let values: BTreeMap<String, Value> =
            values.iter().map(|(name, value)| ((*name).to_string(), value.clone())).collect();
        let query = template.fill(&values).map_err(|error| PlanError::InvalidArguments(error.to_string()))?;
        let text = newrelic_mcp_nrql::print(&query);
        if text.len() > MAX_QUERY_BYTES {
            return Err(PlanError::InvalidArguments(format!(
                "the {} query would be {} bytes; New Relic accepts at most {MAX_QUERY_BYTES}: shorten the values",
                self.name,
                text.len()
            )));
        }
        policy
            .check_call(&query, &[account], now_epoch_ms)
            .map_err(|violation| ToolError::new(ToolErrorKind::Policy, violation.to_string()))?;
        Ok(text)
    }
}

/// The rows of the aliased NRQL result at `path`, or `None` where New Relic returned none
/// (a timeout or a refused query, reported among the partial errors).
pub(crate) fn alias_rows(data: &Value, path: &[&str]) -> Option<Vec<Value>> {
    let result = at(data, path);
    if result.is_null() { None } else { Some(list_at(result, &["results"])) }
}

/// The tool error for an aliased NRQL result that did not come back.
pub(crate) fn missing_result(what: &str, partial_errors: &[String]) -> ToolError {
    let reason = partial_errors.first().cloned().unwrap_or_else(|| "no result".into());
    let advice = if reason.to_lowercase().contains("timeout") {
        "New Relic timed out; retry, or narrow the window"
    } else {
        "retry, or query it with execute_nrql_query to see New Relic's message"
    };
    ToolError::new(
        ToolErrorKind::UpstreamTransient,
        format!("New Relic returned no {what} ({reason}): {advice}"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_nrql::ParamType;
    use serde_json::json;

    use super::*;

    fn template() -> NrqlTemplate {
        NrqlTemplate::new(
            "test",
            "SELECT count(*) FROM Transaction WHERE appName = {{app}} SINCE {{since}} ago",
            vec![ParamSpec::new("app", ParamType::String), ParamSpec::new("since", ParamType::Duration)],
        )
    }

    #[test]
    fn fills_values_as_literals_and_applies_the_policy() {
        let policy = Policy::default();
        let text = template()
            .build(&[("app", json!("a' OR '1")), ("since", json!("1 hour"))], &policy, 1, 0)
            .unwrap();
        assert_eq!(text, r"SELECT count(*) FROM Transaction WHERE appName = 'a\' OR \'1' SINCE 1 hour ago");
        let too_long = template().build(&[("app", json!("a")), ("since", json!("90 days"))], &policy, 1, 0);
        assert!(
            matches!(too_long, Err(PlanError::Tool(ref e)) if e.kind == ToolErrorKind::Policy),
            "{too_long:?}"
        );
        let missing = template().build(&[("since", json!("1 hour"))], &policy, 1, 0);
        assert!(matches!(missing, Err(PlanError::InvalidArguments(_))));
        let restricted = Policy { allowed_accounts: Some(vec![2]), ..Policy::default() };
        let refused = template().build(&[("app", json!("a")), ("since", json!("1 hour"))], &restricted, 1, 0);
        assert!(matches!(refused, Err(PlanError::Tool(ref e)) if e.kind == ToolErrorKind::Policy));
    }

    #[test]
    fn a_broken_template_is_an_internal_error_not_a_panic() {
        let broken = NrqlTemplate::new("broken", "SELECT count(* FROM Log", Vec::new());
        assert!(broken.parse().is_err());
        match broken.build(&[], &Policy::default(), 1, 0) {
            Err(PlanError::Tool(error)) => assert_eq!(error.kind, ToolErrorKind::Internal),
            other => panic!("expected an internal error, got {other:?}"),
        }
    }

    #[test]
    fn reads_aliased_results() {
        let data = json!({"actor": {"account": {"signals": {"results": [{"count": 1}]}, "other": null}}});
        assert_eq!(alias_rows(&data, &["actor", "account", "signals"]).unwrap(), vec![json!({"count": 1})]);
        assert!(alias_rows(&data, &["actor", "account", "other"]).is_none());
        let error = missing_result("signals", &["NRDB query timeout".into()]);
        assert!(error.message.contains("timed out"), "{}", error.message);
    }
}
