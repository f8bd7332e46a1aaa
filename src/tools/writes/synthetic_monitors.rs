//! `create_synthetic_monitor`: a simple (ping) monitor that checks a URL from public
//! locations on a schedule.

use std::sync::Arc;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, ReadBack, Renderer, Tool, ToolDescriptor, ToolError, ToolErrorKind,
    ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::account::resolve_account;
use super::super::builtin::{BuiltinTool, Spec};
use super::super::render::at;
use super::{
    Preview, checked_url, field_lines, mutation_payload, optional_text, required_text, with_read_back,
    write_plan, written,
};

const CATEGORY: &str = "alerting";
const MAX_NAME_CHARS: usize = 255;
const MAX_URI_CHARS: usize = 2_048;
const MAX_VALIDATION_TEXT_CHARS: usize = 4_096;
const MAX_LOCATIONS: usize = 20;
const MAX_LOCATION_CHARS: usize = 64;

pub(crate) const CREATE_MONITOR: &str = r#"mutation CreateSyntheticMonitor($accountId: Int!, $monitor: SyntheticsCreateSimpleMonitorInput!) {
  syntheticsCreateSimpleMonitor(accountId: $accountId, monitor: $monitor) {
    errors { description type }
    monitor { guid id name uri period status locations { public private } createdAt }
  }
}"#;

pub(crate) const MONITOR_READ_BACK: &str = r#"query SyntheticMonitorReadBack($guid: EntityGuid!) {
  actor {
    entity(guid: $guid) {
      guid name accountId domain type reporting permalink
      tags { key values }
      ... on SyntheticMonitorEntity { monitorId monitorType monitoredUrl period }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("CreateSyntheticMonitor", CREATE_MONITOR), ("SyntheticMonitorReadBack", MONITOR_READ_BACK)];

pub(super) fn create_tool() -> Arc<dyn Tool> {
    BuiltinTool::shared(
        Spec {
            name: "create_synthetic_monitor",
            title: "Create a synthetic monitor",
            description: "Create a simple (ping) synthetic monitor: New Relic requests the URL from each \
                chosen public location on a schedule and records SUCCESS or FAILED (optionally requiring \
                some text in the response). Two steps: the first call returns a dry run and a \
                confirmation_token; call again with the same arguments and that token to create it. \
                list_synthetic_monitors shows it afterwards.",
            category: CATEGORY,
            hints: ToolHints::WRITE,
            cache_ttl: None,
        },
        plan_create,
    )
}

/// How often the monitor runs from each location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MonitorPeriod {
    EveryMinute,
    #[serde(rename = "EVERY_5_MINUTES")]
    Every5Minutes,
    #[serde(rename = "EVERY_10_MINUTES")]
    Every10Minutes,
    #[serde(rename = "EVERY_15_MINUTES")]
    Every15Minutes,
    #[serde(rename = "EVERY_30_MINUTES")]
    Every30Minutes,
    EveryHour,
    #[serde(rename = "EVERY_6_HOURS")]
    Every6Hours,
    #[serde(rename = "EVERY_12_HOURS")]
    Every12Hours,
    EveryDay,
}

impl MonitorPeriod {
    fn as_str(self) -> &'static str {
        match self {
            Self::EveryMinute => "EVERY_MINUTE",
            Self::Every5Minutes => "EVERY_5_MINUTES",
            Self::Every10Minutes => "EVERY_10_MINUTES",
            Self::Every15Minutes => "EVERY_15_MINUTES",
            Self::Every30Minutes => "EVERY_30_MINUTES",
            Self::EveryHour => "EVERY_HOUR",
            Self::Every6Hours => "EVERY_6_HOURS",
            Self::Every12Hours => "EVERY_12_HOURS",
            Self::EveryDay => "EVERY_DAY",
        }
    }

    fn minutes(self) -> u32 {
        match self {
            Self::EveryMinute => 1,
            Self::Every5Minutes => 5,
            Self::Every10Minutes => 10,
            Self::Every15Minutes => 15,
            Self::Every30Minutes => 30,
            Self::EveryHour => 60,
            Self::Every6Hours => 360,
            Self::Every12Hours => 720,
            Self::EveryDay => 1_440,
        }
    }
}

/// Whether the monitor runs once created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MonitorStatus {
    Enabled,
    Disabled,
}

impl MonitorStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "ENABLED",
            Self::Disabled => "DISABLED",
        }
    }
}

/// Arguments of `create_synthetic_monitor`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSyntheticMonitorArgs {
    /// Account to create the monitor in; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Monitor name, e.g. `checkout health` (at most 255 characters).
    pub name: String,
    /// The http:// or https:// URL to check.
    pub uri: String,
    /// Public location codes to run from, e.g. `["AWS_US_EAST_1", "AWS_EU_WEST_1"]` (1 to 20).
    pub locations: Vec<String>,
    /// How often each location checks: `EVERY_MINUTE`, `EVERY_5_MINUTES`, `EVERY_10_MINUTES`,
    /// `EVERY_15_MINUTES` (default), `EVERY_30_MINUTES`, `EVERY_HOUR`, `EVERY_6_HOURS`,
    /// `EVERY_12_HOURS` or `EVERY_DAY`.
    pub period: Option<MonitorPeriod>,
    /// `ENABLED` (default) or `DISABLED`.
    pub status: Option<MonitorStatus>,
    /// Text the response must contain for the check to pass.
    pub response_validation_text: Option<String>,
    /// Fail the check when the TLS certificate is invalid (New Relic's default when omitted).
    pub verify_tls: Option<bool>,
    /// Treat a redirect as a failure.
    pub redirect_is_failure: Option<bool>,
    /// Send GET directly instead of trying HEAD first.
    pub bypass_head_request: Option<bool>,
}

fn checked_locations(locations: &[String]) -> Result<Vec<String>, PlanError> {
    let mut codes: Vec<String> = Vec::new();
    for location in locations {
        let code = location.trim().to_ascii_uppercase();
        let valid = !code.is_empty()
            && code.len() <= MAX_LOCATION_CHARS
            && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(PlanError::InvalidArguments(format!(
                "location '{}' is not a public location code such as AWS_US_EAST_1",
                location.chars().take(MAX_LOCATION_CHARS).collect::<String>()
            )));
        }
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    if codes.is_empty() || codes.len() > MAX_LOCATIONS {
        return Err(PlanError::InvalidArguments(format!(
            "locations must name 1 to {MAX_LOCATIONS} public locations, e.g. [\"AWS_US_EAST_1\"]"
        )));
    }
    Ok(codes)
}

fn plan_create(
    args: CreateSyntheticMonitorArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let name = required_text("name", &args.name, MAX_NAME_CHARS)?;
    let uri = checked_url("uri", &args.uri, MAX_URI_CHARS)?;
    let locations = checked_locations(&args.locations)?;
    let period = args.period.unwrap_or(MonitorPeriod::Every15Minutes);
    let status = args.status.unwrap_or(MonitorStatus::Enabled);
    let mut advanced = Map::new();
    if let Some(text) = optional_text(
        "response_validation_text",
        args.response_validation_text.as_deref(),
        MAX_VALIDATION_TEXT_CHARS,
    )? {
        advanced.insert("responseValidationText".into(), json!(text));
    }
    for (key, value) in [
        ("useTlsValidation", args.verify_tls),
        ("redirectIsFailure", args.redirect_is_failure),
        ("shouldBypassHeadRequest", args.bypass_head_request),
    ] {
        if let Some(value) = value {
            advanced.insert(key.into(), json!(value));
        }
    }
    let mut monitor = Map::new();
    monitor.insert("name".into(), json!(name));
    monitor.insert("uri".into(), json!(uri));
    monitor.insert("period".into(), json!(period.as_str()));
    monitor.insert("status".into(), json!(status.as_str()));
    monitor.insert("locations".into(), json!({ "public": locations }));
    if !advanced.is_empty() {
        monitor.insert("advancedOptions".into(), Value::Object(advanced));
    }
    let mut warnings = Vec::new();
    let checks_per_day = locations.len() as u32 * (1_440 / period.minutes());
    if checks_per_day >= 1_440 {
        warnings.push(format!(
            "{checks_per_day} checks a day ({} locations, {}): synthetic checks count against the \
             account's monthly allowance",
            locations.len(),
            period.as_str()
        ));
    }
    if uri.to_ascii_lowercase().starts_with("http://") {
        warnings.push("the URI uses plain http; the check cannot verify TLS".to_string());
    }
    if status == MonitorStatus::Disabled {
        warnings.push("the monitor is created disabled: it will not run until enabled".to_string());
    }
    let request = UpstreamRequest {
        operation: "CreateSyntheticMonitor",
        document: CREATE_MONITOR.into(),
        variables: json!({ "accountId": account, "monitor": monitor }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview {
        action: "create synthetic monitor",
        account,
        summary: format!(
            "Would create simple monitor '{name}' in account {account}, checking {uri} {} from {} ({}), {}.",
            period.as_str(),
            locations.join(", "),
            locations.len(),
            status.as_str()
        ),
        request,
        warnings,
    };
    let read_back: ReadBack = Arc::new(|output: &ToolOutput| {
        let guid = output.structured["result"]["guid"].as_str()?.to_string();
        let request = UpstreamRequest {
            operation: "SyntheticMonitorReadBack",
            document: MONITOR_READ_BACK.into(),
            variables: json!({ "guid": guid }),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        };
        let written = output.clone();
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            let entity = Some(at(&response.data, &["actor", "entity"]).clone()).filter(|e| !e.is_null());
            let text = entity.as_ref().map(entity_text).unwrap_or_default();
            Ok(with_read_back(
                &written,
                entity,
                text,
                &format!(
                    "monitor {guid} is not in entity search yet (New Relic indexes new monitors within \
                     a minute or two); list_synthetic_monitors will show it then"
                ),
            ))
        });
        Some((request, render))
    });
    Ok(write_plan(
        descriptor,
        preview,
        context.default_timeout,
        move |response| render_created(account, response),
        Some(read_back),
    ))
}

fn render_created(account: i64, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let payload =
        mutation_payload(&response, "syntheticsCreateSimpleMonitor", "create the synthetic monitor")?;
    let monitor = payload.get("monitor").cloned().unwrap_or(Value::Null);
    if monitor.is_null() {
        return Err(ToolError::new(
            ToolErrorKind::BadRequest,
            "New Relic created no monitor and gave no reason; check the arguments and try again",
        ));
    }
    let text = format!(
        "Created synthetic monitor '{}' (guid {}) in account {account}: {} {} from {}.\n",
        monitor["name"].as_str().unwrap_or_default(),
        monitor["guid"].as_str().unwrap_or_default(),
        monitor["uri"].as_str().unwrap_or_default(),
        monitor["period"].as_str().unwrap_or_default(),
        monitor["locations"]["public"]
            .as_array()
            .map(|codes| codes.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
    );
    Ok(written("create synthetic monitor", account, monitor, text))
}

fn entity_text(entity: &Value) -> String {
    field_lines(
        entity,
        &[
            ("guid", &["guid"]),
            ("name", &["name"]),
            ("monitor id", &["monitorId"]),
            ("type", &["monitorType"]),
            ("url", &["monitoredUrl"]),
            ("period (minutes)", &["period"]),
            ("reporting", &["reporting"]),
            ("link", &["permalink"]),
        ],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    #[test]
    fn the_monitor_input_follows_new_relics_with_defaults() {
        let write = write_of(
            "create_synthetic_monitor",
            json!({"name": "checkout health", "uri": "https://shop.example/health", "locations": ["aws_us_east_1", "AWS_US_EAST_1", "AWS_EU_WEST_1"], "response_validation_text": "ok"}),
        );
        assert_eq!(
            write.request.variables,
            json!({"accountId": 1, "monitor": {
                "name": "checkout health",
                "uri": "https://shop.example/health",
                "period": "EVERY_15_MINUTES",
                "status": "ENABLED",
                "locations": {"public": ["AWS_US_EAST_1", "AWS_EU_WEST_1"]},
                "advancedOptions": {"responseValidationText": "ok"}
            }})
        );
        assert!(
            write.preview.text.contains("EVERY_15_MINUTES from AWS_US_EAST_1, AWS_EU_WEST_1 (2)"),
            "{}",
            write.preview.text
        );
        assert_eq!(write.preview.structured["warnings"], json!([]));
    }

    #[test]
    fn bad_arguments_are_refused() {
        let base = |extra: Value| {
            let mut arguments =
                json!({"name": "m", "uri": "https://x.example", "locations": ["AWS_US_EAST_1"]});
            if let (Value::Object(a), Value::Object(e)) = (&mut arguments, extra) {
                a.extend(e);
            }
            arguments
        };
        let cases = [
            (json!({"uri": "x.example"}), "http:// or https://"),
            (json!({"locations": []}), "1 to 20"),
            (json!({"locations": ["us east"]}), "not a public location code"),
            (json!({"locations": (0..21).map(|i| format!("LOC_{i}")).collect::<Vec<_>>()}), "1 to 20"),
            (json!({"period": "EVERY_2_MINUTES"}), "unknown variant"),
            (json!({"status": "MUTED"}), "unknown variant"),
            (json!({"name": ""}), "name must not be empty"),
        ];
        for (extra, expected) in cases {
            let message = invalid("create_synthetic_monitor", base(extra.clone()));
            assert!(message.contains(expected), "{extra}: {message}");
        }
    }

    #[test]
    fn costly_or_inert_monitors_are_warned_about() {
        let write = write_of(
            "create_synthetic_monitor",
            json!({"name": "m", "uri": "http://x.example", "locations": ["A", "B"], "period": "EVERY_MINUTE", "status": "DISABLED"}),
        );
        let warnings = write.preview.structured["warnings"].to_string();
        for expected in ["2880 checks a day", "plain http", "created disabled"] {
            assert!(warnings.contains(expected), "{expected} missing from {warnings}");
        }
    }

    #[test]
    fn creation_errors_in_the_payload_are_tool_errors() {
        let write = write_of(
            "create_synthetic_monitor",
            json!({"name": "m", "uri": "https://x.example", "locations": ["X"]}),
        );
        let error = render(
            &write,
            json!({"syntheticsCreateSimpleMonitor": {"errors": [{"description": "Invalid location X", "type": "BAD_REQUEST"}], "monitor": null}}),
        )
        .unwrap_err();
        assert!(error.message.contains("Invalid location X (BAD_REQUEST)"), "{}", error.message);
        let silent =
            render(&write, json!({"syntheticsCreateSimpleMonitor": {"errors": [], "monitor": null}}))
                .unwrap_err();
        assert!(silent.message.contains("no monitor"), "{}", silent.message);
    }

    #[test]
    fn the_monitor_is_read_back_by_guid() {
        let write = write_of(
            "create_synthetic_monitor",
            json!({"name": "m", "uri": "https://x.example", "locations": ["AWS_US_EAST_1"]}),
        );
        let written = render(
            &write,
            json!({"syntheticsCreateSimpleMonitor": {"errors": [], "monitor": {"guid": "MXxTWU5USHxNT05JVE9SfGFiYw", "name": "m", "uri": "https://x.example", "period": "EVERY_15_MINUTES", "status": "ENABLED", "locations": {"public": ["AWS_US_EAST_1"]}}}}),
        )
        .unwrap();
        assert!(
            written.text.contains("https://x.example EVERY_15_MINUTES from AWS_US_EAST_1"),
            "{}",
            written.text
        );
        let data = json!({"actor": {"entity": {"guid": "MXxTWU5USHxNT05JVE9SfGFiYw", "name": "m", "monitorType": "SIMPLE", "monitoredUrl": "https://x.example", "period": 15}}});
        let (request, answer) = read_back(&write, &written, data);
        assert_eq!(request.variables, json!({"guid": "MXxTWU5USHxNT05JVE9SfGFiYw"}));
        assert!(answer.text.contains("period (minutes): 15"), "{}", answer.text);
        let (_, lagging) = read_back(&write, &written, json!({"actor": {"entity": null}}));
        assert!(lagging.text.contains("not in entity search yet"), "{}", lagging.text);
    }
}
