//! `analyze_golden_metrics`: throughput, latency and error rate of an APM application.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args::{self, APP_NAME_HINT};
use crate::tools::nrql_tool::values::{bucket_time, fixed, fixed_or_na, number_at};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const DEFAULT_SINCE: &str = "1 hour";
/// Error rate, in percent, worth calling out.
const ERROR_RATE_ALERT_PCT: f64 = 5.0;
/// A p95 this many times the average means a slow tail worth calling out.
const SLOW_TAIL_RATIO: f64 = 3.0;

const SIGNALS: &str = "count(*) AS 'requests', rate(count(*), 1 minute) AS 'throughput_rpm', \
    average(duration) * 1000 AS 'avg_latency_ms', percentile(duration, 95) AS 'p95_latency_s', \
    percentage(count(*), WHERE error IS true) AS 'error_rate_pct'";

pub(super) fn shapes() -> Vec<Shape> {
    let subject = || {
        vec![
            Condition::one("app", "appName = {{app}}", ParamType::String),
            Condition::one("guid", "entityGuid = {{guid}}", ParamType::String),
        ]
    };
    vec![
        Shape::new(
            "summary",
            format!("SELECT {SIGNALS} FROM Transaction {{where}} SINCE {{{{since}}}} ago"),
            vec![args::since_param(DEFAULT_SINCE)],
        )
        .with_conditions(subject()),
        Shape::new(
            "series",
            format!("SELECT {SIGNALS} FROM Transaction {{where}} SINCE {{{{since}}}} ago TIMESERIES AUTO"),
            vec![args::since_param(DEFAULT_SINCE)],
        )
        .with_conditions(subject()),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    vec![nrql_tool(
        Spec {
            name: "analyze_golden_metrics",
            title: "Analyze golden metrics",
            description: "Golden signals of an APM application, by name or entity GUID: throughput (requests \
                per minute), average and p95 latency in ms, and error rate, over a window (default the last \
                hour). With timeseries, also per-interval values and the worst interval.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(60)),
        },
        shapes(),
        policy,
        choose,
        render,
    )]
}

/// Arguments of `analyze_golden_metrics`: exactly one of `app_name` and `entity_guid`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeGoldenMetricsArgs {
    /// APM application name, e.g. `checkout-service`. Give this or `entity_guid`.
    pub app_name: Option<String>,
    /// GUID of the APM application entity. Give this or `app_name`.
    pub entity_guid: Option<String>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `7 days` (default `1 hour`).
    pub since: Option<String>,
    /// Also return the signals per time interval (default false).
    #[serde(default)]
    pub timeseries: bool,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Context {
    subject: String,
    window: String,
    timeseries: bool,
}

fn choose(
    args: AnalyzeGoldenMetricsArgs,
    plan_context: &PlanContext,
) -> Result<NrqlCall<Context>, PlanError> {
    let subject =
        args::one_of(("app_name", args.app_name.as_deref()), ("entity_guid", args.entity_guid.as_deref()))?;
    let context = Context {
        subject: String::new(),
        window: args::since_label(args.since.as_deref(), DEFAULT_SINCE),
        timeseries: args.timeseries,
    };
    let shape = if args.timeseries { "series" } else { "summary" };
    let call = match subject {
        Ok(app) => {
            let app = args::name("app_name", app)?;
            NrqlCall::new(shape, args.account_id, Context { subject: app.clone(), ..context })
                .filter("app", Some(app))
        }
        Err(guid) => {
            let guid = args::guid("entity_guid", guid, plan_context)?;
            NrqlCall::new(shape, args.account_id, Context { subject: format!("entity {guid}"), ..context })
                .filter("guid", Some(guid))
        }
    };
    Ok(call.value_opt("since", args.since))
}

/// The four signals of one row (or of a whole window).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Signals {
    requests: f64,
    throughput_rpm: Option<f64>,
    avg_latency_ms: Option<f64>,
    p95_latency_ms: Option<f64>,
    error_rate_pct: Option<f64>,
}

impl Signals {
    fn of(row: &Value) -> Self {
        Self {
            requests: number_at(row, "requests").unwrap_or(0.0),
            throughput_rpm: number_at(row, "throughput_rpm"),
            avg_latency_ms: number_at(row, "avg_latency_ms"),
            p95_latency_ms: number_at(row, "p95_latency_s").map(|s| s * 1000.0),
            error_rate_pct: number_at(row, "error_rate_pct"),
        }
    }

    /// The window's signals from its intervals: sums and request-weighted means; p95 cannot
    /// be merged, so it is the worst interval's.
    fn merge(buckets: &[(Value, Signals)]) -> Self {
        let requests: f64 = buckets.iter().map(|(_, s)| s.requests).sum();
        let weighted = |pick: fn(&Signals) -> Option<f64>| {
            let total: f64 = buckets.iter().filter_map(|(_, s)| pick(s).map(|v| v * s.requests)).sum();
            (requests > 0.0).then(|| total / requests)
        };
        let rpm: Vec<f64> = buckets.iter().filter_map(|(_, s)| s.throughput_rpm).collect();
        Self {
            requests,
            throughput_rpm: (!rpm.is_empty()).then(|| rpm.iter().sum::<f64>() / rpm.len() as f64),
            avg_latency_ms: weighted(|s| s.avg_latency_ms),
            p95_latency_ms: buckets.iter().filter_map(|(_, s)| s.p95_latency_ms).reduce(f64::max),
            error_rate_pct: weighted(|s| s.error_rate_pct),
        }
    }

    fn line(&self) -> String {
        format!(
            "throughput {} rpm ({} requests) | avg latency {} ms | p95 {} ms | errors {}%",
            fixed_or_na(self.throughput_rpm, 2),
            fixed(self.requests, 0),
            fixed_or_na(self.avg_latency_ms, 1),
            fixed_or_na(self.p95_latency_ms, 1),
            fixed_or_na(self.error_rate_pct, 2),
        )
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "throughput_rpm": self.throughput_rpm,
            "avg_latency_ms": self.avg_latency_ms,
            "p95_latency_ms": self.p95_latency_ms,
            "error_rate_pct": self.error_rate_pct,
        })
    }

    /// What stands out, if anything.
    fn concerns(&self) -> Vec<String> {
        let mut concerns = Vec::new();
        if let Some(rate) = self.error_rate_pct.filter(|rate| *rate >= ERROR_RATE_ALERT_PCT) {
            concerns.push(format!("error rate {}% is at or above {ERROR_RATE_ALERT_PCT}%", fixed(rate, 2)));
        }
        if let (Some(avg), Some(p95)) = (self.avg_latency_ms, self.p95_latency_ms)
            && avg > 0.0
            && p95 / avg >= SLOW_TAIL_RATIO
        {
            concerns.push(format!(
                "p95 is {}× the average: a slow tail (analyze_transactions shows which)",
                fixed(p95 / avg, 1)
            ));
        }
        concerns
    }
}

fn render(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    let buckets: Vec<(Value, Signals)> = if context.timeseries {
        answer.rows.iter().map(|row| (row.clone(), Signals::of(row))).collect()
    } else {
        Vec::new()
    };
    let overall = if context.timeseries { Signals::merge(&buckets) } else { Signals::of(answer.first()) };
    if overall.requests <= 0.0 {
        return Err(args::nothing_found(
            &format!("no transactions for {} in the {}", context.subject, context.window),
            &format!("{APP_NAME_HINT}; or widen since."),
        ));
    }
    let mut text =
        format!("{} — golden metrics, {} (account {})\n", context.subject, context.window, answer.account);
    text.push_str(&overall.line());
    text.push('\n');
    if context.timeseries {
        text.push_str("(p95 over the window is the worst interval's p95)\n");
    }
    let concerns = overall.concerns();
    for concern in &concerns {
        text.push_str(&format!("watch: {concern}\n"));
    }
    let mut structured = Map::new();
    structured.insert("subject".into(), json!(context.subject));
    structured.insert("window".into(), json!(context.window));
    structured.insert("summary".into(), overall.json());
    structured.insert("concerns".into(), json!(concerns));
    if context.timeseries {
        let busy: Vec<&(Value, Signals)> = buckets.iter().filter(|(_, s)| s.requests > 0.0).collect();
        if let Some((row, worst)) = busy
            .iter()
            .max_by(|a, b| a.1.p95_latency_ms.unwrap_or(0.0).total_cmp(&b.1.p95_latency_ms.unwrap_or(0.0)))
        {
            text.push_str(&format!(
                "slowest interval {}: p95 {} ms\n",
                bucket_time(number_at(row, "beginTimeSeconds").unwrap_or(0.0)),
                fixed_or_na(worst.p95_latency_ms, 1)
            ));
        }
        let series: Vec<Value> = buckets
            .iter()
            .map(|(row, signals)| {
                let mut point = signals.json();
                if let Value::Object(point) = &mut point {
                    point.insert("begin_time_seconds".into(), row["beginTimeSeconds"].clone());
                    point.insert("end_time_seconds".into(), row["endTimeSeconds"].clone());
                }
                point
            })
            .collect();
        let capped = Capped::new(series, MAX_ROWS);
        text.push_str(&format!("{}:\n", capped.heading("interval", "intervals")));
        for (row, signals) in buckets.iter().take(MAX_ROWS) {
            text.push_str(&format!(
                "{} {}\n",
                bucket_time(number_at(row, "beginTimeSeconds").unwrap_or(0.0)),
                signals.line()
            ));
        }
        structured.extend(capped.counts());
        structured.insert("timeseries".into(), Value::Array(capped.rows));
    }
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use newrelic_mcp_actors::tool::ToolErrorKind;

    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn plans_by_name_or_guid_with_or_without_timeseries() {
        let cases = [
            (
                json!({"app_name": "checkout-service"}),
                "FROM Transaction WHERE appName = 'checkout-service' SINCE 1 hour ago",
            ),
            (
                json!({"entity_guid": "MXxBUE18QVBQTElDQVRJT058MTIz", "since": "6 hours", "timeseries": true}),
                "FROM Transaction WHERE entityGuid = 'MXxBUE18QVBQTElDQVRJT058MTIz' SINCE 6 hours ago TIMESERIES AUTO",
            ),
        ];
        for (arguments, tail) in cases {
            let query = nrql(&plan(&all(), "analyze_golden_metrics", arguments).unwrap());
            assert!(query.starts_with("SELECT count(*) AS requests, rate(count(*), 1 minute)"), "{query}");
            assert!(query.ends_with(tail), "{query}");
        }
        for bad in
            [json!({}), json!({"app_name": "a", "entity_guid": "b"}), json!({"entity_guid": "not a guid"})]
        {
            assert!(matches!(
                plan(&all(), "analyze_golden_metrics", bad),
                Err(PlanError::InvalidArguments(_))
            ));
        }
    }

    #[test]
    fn renders_the_signals_and_what_stands_out() {
        let cases = [
            (
                json!([{"requests": 40, "throughput_rpm": 0.6667, "avg_latency_ms": 286.37, "p95_latency_s": {"95": 0.5413}, "error_rate_pct": 2.5}]),
                "throughput 0.67 rpm (40 requests) | avg latency 286.4 ms | p95 541.3 ms | errors 2.5%",
                None,
            ),
            (
                json!([{"requests": 100, "throughput_rpm": 10, "avg_latency_ms": 100, "p95_latency_s": {"95": 0.9}, "error_rate_pct": 7}]),
                "errors 7%",
                Some("watch: error rate 7% is at or above 5%\nwatch: p95 is 9× the average"),
            ),
        ];
        for (rows, expected, concern) in cases {
            let output = answer(&all(), "analyze_golden_metrics", json!({"app_name": "web"}), rows).unwrap();
            assert!(
                output.text.starts_with("web — golden metrics, last 1 hour (account 1000001)\n"),
                "{}",
                output.text
            );
            assert!(output.text.contains(expected), "{}", output.text);
            if let Some(concern) = concern {
                assert!(output.text.contains(concern), "{}", output.text);
            }
            assert!(output.structured["summary"]["requests"].as_f64().unwrap() > 0.0);
        }
    }

    #[test]
    fn merges_intervals_weighting_by_requests() {
        let rows = json!([
            {"beginTimeSeconds": 1_715_776_200, "endTimeSeconds": 1_715_776_260, "requests": 30, "throughput_rpm": 30, "avg_latency_ms": 100, "p95_latency_s": {"95": 0.2}, "error_rate_pct": 0},
            {"beginTimeSeconds": 1_715_776_260, "endTimeSeconds": 1_715_776_320, "requests": 10, "throughput_rpm": 10, "avg_latency_ms": 500, "p95_latency_s": {"95": 0.9}, "error_rate_pct": 10},
            {"beginTimeSeconds": 1_715_776_320, "endTimeSeconds": 1_715_776_380, "requests": 0, "throughput_rpm": 0, "avg_latency_ms": null, "p95_latency_s": {"95": null}, "error_rate_pct": null}
        ]);
        let output =
            answer(&all(), "analyze_golden_metrics", json!({"app_name": "web", "timeseries": true}), rows)
                .unwrap();
        let summary = &output.structured["summary"];
        assert_eq!(summary["requests"], 40.0);
        assert_eq!(summary["avg_latency_ms"], 200.0);
        assert_eq!(summary["p95_latency_ms"], 900.0);
        assert_eq!(summary["error_rate_pct"], 2.5);
        assert_eq!(output.structured["total"], 3);
        assert!(output.text.contains("slowest interval 05-15 12:31: p95 900 ms"), "{}", output.text);
    }

    #[test]
    fn no_transactions_is_not_found_with_a_way_forward() {
        let rows = json!([{"requests": 0, "throughput_rpm": 0, "p95_latency_s": {"95": null}}]);
        let error = answer(&all(), "analyze_golden_metrics", json!({"app_name": "nope"}), rows).unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
        assert!(error.message.contains("no transactions for nope") && error.message.contains("get_entity"));
    }
}
