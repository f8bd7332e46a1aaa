//! `analyze_transactions`: the transactions of an app that cost the most, by the measure asked.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args::{self, APP_NAME_HINT};
use crate::tools::nrql_tool::values::{facets, fixed, fixed_or_na, number_at, share};
use crate::tools::nrql_tool::{NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const DEFAULT_SINCE: &str = "1 hour";
const DEFAULT_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 50;

/// How to rank transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionOrder {
    /// Highest total time (calls × duration): where the app spends its time.
    MostTimeConsuming,
    /// Highest average duration.
    Slowest,
    /// Most failed calls.
    MostErrors,
    /// Most calls.
    HighestThroughput,
}

impl TransactionOrder {
    const ALL: [TransactionOrder; 4] =
        [Self::MostTimeConsuming, Self::Slowest, Self::MostErrors, Self::HighestThroughput];

    fn shape(self) -> &'static str {
        match self {
            Self::MostTimeConsuming => "most_time_consuming",
            Self::Slowest => "slowest",
            Self::MostErrors => "most_errors",
            Self::HighestThroughput => "highest_throughput",
        }
    }

    /// The rendered field the order ranks by.
    fn rank_key(self) -> &'static str {
        match self {
            Self::MostTimeConsuming => "total_time_s",
            Self::Slowest => "avg_ms",
            Self::MostErrors => "errors",
            Self::HighestThroughput => "calls",
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::MostTimeConsuming => "sum(duration)",
            Self::Slowest => "average(duration)",
            Self::MostErrors => "filter(count(*), WHERE error IS true)",
            Self::HighestThroughput => "count(*)",
        }
    }
}

pub(super) fn shapes() -> Vec<Shape> {
    TransactionOrder::ALL
        .iter()
        .map(|order| {
            Shape::new(
                order.shape(),
                format!(
                    "SELECT count(*) AS 'calls', sum(duration) AS 'total_time_s', average(duration) * 1000 AS \
                     'avg_ms', percentile(duration, 95) AS 'p95_s', max(duration) * 1000 AS 'max_ms', \
                     filter(count(*), WHERE error IS true) AS 'errors' FROM Transaction WHERE appName = {{{{app}}}} \
                     FACET name ORDER BY {} SINCE {{{{since}}}} ago LIMIT {{{{limit}}}}",
                    order.order_by()
                ),
                vec![
                    ParamSpec::new("app", ParamType::String),
                    args::since_param(DEFAULT_SINCE),
                    ParamSpec::new("limit", ParamType::Int),
                ],
            )
        })
        .collect()
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    vec![nrql_tool(
        Spec {
            name: "analyze_transactions",
            title: "Analyze transactions",
            description: "The transactions of an APM application ranked by total time consumed (default), \
                average duration, errors or throughput: calls, total time and its share, average, p95 and max \
                latency, error count and rate per transaction.",
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

/// Arguments of `analyze_transactions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeTransactionsArgs {
    /// APM application name, e.g. `checkout-service`.
    pub app_name: String,
    /// How to rank: `most_time_consuming` (default), `slowest`, `most_errors` or `highest_throughput`.
    pub sort_by: Option<TransactionOrder>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `7 days` (default `1 hour`).
    pub since: Option<String>,
    /// How many transactions to return, 1 to 50 (default 10).
    pub limit: Option<u32>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Context {
    app: String,
    window: String,
    order: TransactionOrder,
}

fn choose(args: AnalyzeTransactionsArgs, _: &PlanContext) -> Result<NrqlCall<Context>, PlanError> {
    let app = args::name("app_name", &args.app_name)?;
    let limit = args::limit("limit", args.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let order = args.sort_by.unwrap_or(TransactionOrder::MostTimeConsuming);
    let context =
        Context { app: app.clone(), window: args::since_label(args.since.as_deref(), DEFAULT_SINCE), order };
    Ok(NrqlCall::new(order.shape(), args.account_id, context)
        .value("app", app)
        .value("limit", limit)
        .value_opt("since", args.since))
}

fn render(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    if answer.rows.is_empty() {
        return Err(args::nothing_found(
            &format!("no transactions for {} in the {}", context.app, context.window),
            &format!("{APP_NAME_HINT}; or widen since."),
        ));
    }
    let listed_time: f64 = answer.rows.iter().filter_map(|row| number_at(row, "total_time_s")).sum();
    let mut transactions: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let calls = number_at(row, "calls").unwrap_or(0.0);
            let errors = number_at(row, "errors").unwrap_or(0.0);
            let total = number_at(row, "total_time_s").unwrap_or(0.0);
            json!({
                "name": facets(row).first().cloned().unwrap_or_default(),
                "calls": calls,
                "total_time_s": total,
                "share_of_listed_time_pct": share(total, listed_time),
                "avg_ms": number_at(row, "avg_ms"),
                "p95_ms": number_at(row, "p95_s").map(|s| s * 1000.0),
                "max_ms": number_at(row, "max_ms"),
                "errors": errors,
                "error_rate_pct": share(errors, calls),
            })
        })
        .collect();
    // The query ranks already; ranking again keeps the order whatever the backend returns.
    let key = context.order.rank_key();
    transactions
        .sort_by(|a, b| number_at(b, key).unwrap_or(0.0).total_cmp(&number_at(a, key).unwrap_or(0.0)));
    let capped = Capped::new(transactions, MAX_ROWS);
    let mut text = format!(
        "{} — {} transactions by {}, {} (account {})\n",
        context.app,
        capped.total,
        context.order.shape().replace('_', " "),
        context.window,
        answer.account
    );
    for (rank, row) in capped.rows.iter().enumerate() {
        text.push_str(&format!(
            "{}. {} — {} calls, total {} s ({}% of listed), avg {} ms, p95 {} ms, max {} ms, errors {} ({}%)\n",
            rank + 1,
            row["name"].as_str().unwrap_or_default(),
            fixed(number_at(row, "calls").unwrap_or(0.0), 0),
            fixed(number_at(row, "total_time_s").unwrap_or(0.0), 2),
            fixed_or_na(number_at(row, "share_of_listed_time_pct"), 1),
            fixed_or_na(number_at(row, "avg_ms"), 1),
            fixed_or_na(number_at(row, "p95_ms"), 1),
            fixed_or_na(number_at(row, "max_ms"), 1),
            fixed(number_at(row, "errors").unwrap_or(0.0), 0),
            fixed_or_na(number_at(row, "error_rate_pct"), 1),
        ));
    }
    let mut structured = Map::new();
    structured.insert("app_name".into(), json!(context.app));
    structured.insert("window".into(), json!(context.window));
    structured.insert("sort_by".into(), json!(context.order));
    structured.extend(capped.counts());
    structured.insert("transactions".into(), Value::Array(capped.rows));
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use newrelic_mcp_actors::tool::ToolErrorKind;

    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn ranks_by_the_order_asked() {
        let cases = [
            (json!({"app_name": "web"}), "ORDER BY sum(duration)", "LIMIT 10"),
            (
                json!({"app_name": "web", "sort_by": "slowest", "limit": 3}),
                "ORDER BY average(duration)",
                "LIMIT 3",
            ),
            (
                json!({"app_name": "web", "sort_by": "most_errors"}),
                "ORDER BY filter(count(*), WHERE error IS TRUE)",
                "LIMIT 10",
            ),
        ];
        for (arguments, order, limit) in cases {
            let query = nrql(&plan(&all(), "analyze_transactions", arguments).unwrap());
            assert!(query.contains("WHERE appName = 'web' FACET name"), "{query}");
            assert!(query.contains(order) && query.contains(limit), "{query}");
        }
        for bad in [
            json!({"app_name": "web", "sort_by": "fastest"}),
            json!({"app_name": "web", "limit": 500}),
            json!({"app_name": ""}),
        ] {
            assert!(matches!(plan(&all(), "analyze_transactions", bad), Err(PlanError::InvalidArguments(_))));
        }
    }

    #[test]
    fn renders_ranked_transactions_with_shares_and_error_rates() {
        let rows = json!([
            {"facet": "WebTransaction/submit", "name": "WebTransaction/submit", "calls": 15, "total_time_s": 6.0, "avg_ms": 400, "p95_s": {"95": 2.2}, "max_ms": 2500, "errors": 3},
            {"facet": "WebTransaction/cart", "name": "WebTransaction/cart", "calls": 20, "total_time_s": 2.0, "avg_ms": 100, "p95_s": {"95": 0.2}, "max_ms": 300, "errors": 0}
        ]);
        let output = answer(&all(), "analyze_transactions", json!({"app_name": "web"}), rows).unwrap();
        assert!(output.text.contains(
            "1. WebTransaction/submit — 15 calls, total 6 s (75% of listed), avg 400 ms, p95 2200 ms, max 2500 ms, errors 3 (20%)"
        ), "{}", output.text);
        assert_eq!(output.structured["transactions"][1]["share_of_listed_time_pct"], 25.0);
        let error = answer(&all(), "analyze_transactions", json!({"app_name": "x"}), json!([])).unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
    }
}
