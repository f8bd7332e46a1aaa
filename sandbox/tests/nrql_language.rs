//! NRQL as a language: subqueries, the threshold, trend and funnel aggregators, sliding
//! windows, FACET forms and the catalog queries. Every expected value is recomputed here
//! by walking the fixture events; the evaluator is called directly (one test goes over
//! the wire) so the suite stays fast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::float_cmp)]

#[path = "support/client.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use newrelic_mcp_sandbox::Dataset;
use newrelic_mcp_sandbox::data::{AttrValue, Event};
use newrelic_mcp_sandbox::nrql_eval::{NrqlError, NrqlOutput, evaluate};
use serde_json::{Value, json};
use support::{ANCHOR_MS, PRODUCTION, Sandbox, dataset};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

static DATA: LazyLock<Dataset> = LazyLock::new(dataset);

fn run(nrql: &str) -> Result<NrqlOutput, NrqlError> {
    let query = newrelic_mcp_nrql::parse(nrql).unwrap_or_else(|error| panic!("{nrql}: {error}"));
    let events: Vec<&Event> = DATA.events(PRODUCTION).iter().collect();
    evaluate(&query, &events, ANCHOR_MS)
}

fn answer(nrql: &str) -> NrqlOutput {
    run(nrql).unwrap_or_else(|error| panic!("{nrql}: {error}"))
}

fn row(nrql: &str) -> Value {
    answer(nrql).results.into_iter().next().unwrap()
}

fn error_of(nrql: &str) -> String {
    match run(nrql) {
        Ok(output) => panic!("{nrql} was answered: {:?}", output.results),
        Err(error) => error.to_string(),
    }
}

/// Events of one type in `[from, to)`, in fixture order.
fn between(event_type: &str, from: i64, to: i64) -> Vec<&'static Event> {
    DATA.events(PRODUCTION)
        .iter()
        .filter(|e| e.event_type == event_type && e.timestamp >= from && e.timestamp < to)
        .collect()
}

fn since(event_type: &str, ago_ms: i64) -> Vec<&'static Event> {
    between(event_type, ANCHOR_MS - ago_ms, ANCHOR_MS)
}

fn text(event: &Event, name: &str) -> String {
    event.attr(name).and_then(AttrValue::as_str).unwrap_or_default().to_string()
}

fn number(event: &Event, name: &str) -> f64 {
    event.attr(name).and_then(AttrValue::as_f64).unwrap()
}

fn is_error(event: &Event) -> bool {
    event.attr("error") == Some(&AttrValue::Bool(true))
}

fn average(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn nearest_rank(mut values: Vec<f64>, level: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((level / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn assert_close(actual: &Value, expected: f64, what: &str) {
    let actual = actual.as_f64().unwrap_or_else(|| panic!("{what}: {actual} is not a number"));
    assert!((actual - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{what}: {actual} != {expected}");
}

#[test]
fn in_and_not_in_subqueries_filter_by_the_inner_answer() {
    let transactions = since("Transaction", 3 * HOUR);
    // The inner query names its own window, so it does not inherit the outer 3 hours.
    let failing_apps: BTreeSet<String> =
        since("TransactionError", 20 * MINUTE).iter().map(|e| text(e, "appName")).collect();
    assert!(!failing_apps.is_empty() && failing_apps.len() < 4, "{failing_apps:?}");
    let inside = transactions.iter().filter(|e| failing_apps.contains(&text(e, "appName"))).count();
    let answer = row(
        "SELECT count(*) FROM Transaction WHERE appName IN (SELECT uniques(appName) FROM TransactionError SINCE 20 minutes ago) SINCE 3 hours ago",
    );
    assert_eq!(answer["count"], json!(inside));
    let answer = row(
        "FROM Transaction SELECT count(*) WHERE appName NOT IN (FROM TransactionError SELECT uniques(appName) SINCE 20 minutes ago) SINCE 3 hours ago",
    );
    assert_eq!(answer["count"], json!(transactions.len() - inside));

    // uniques() with a limit hands over only that many values.
    let first_traces: Vec<String> = {
        let mut seen = Vec::new();
        for event in since("Transaction", HOUR) {
            let trace = text(event, "traceId");
            if !seen.contains(&trace) {
                seen.push(trace);
            }
        }
        seen.truncate(5);
        seen
    };
    let answer = row(
        "SELECT count(*), uniqueCount(traceId) FROM Transaction WHERE traceId IN (SELECT uniques(traceId, 5) FROM Transaction) SINCE 1 hour ago",
    );
    let expected =
        since("Transaction", HOUR).iter().filter(|e| first_traces.contains(&text(e, "traceId"))).count();
    assert_eq!(answer["count"], json!(expected));
    assert_eq!(answer["uniqueCount.traceId"], json!(5));

    // A non-aggregate subquery hands over its rows (100 without LIMIT, as standalone).
    let answer = row(
        "SELECT count(*) FROM Transaction WHERE traceId IN (SELECT traceId FROM Transaction WHERE error IS true LIMIT 3) SINCE 1 hour ago",
    );
    let mut failed: Vec<&Event> = since("Transaction", HOUR).into_iter().filter(|e| is_error(e)).collect();
    failed.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    let latest_failed: BTreeSet<String> = failed.iter().take(3).map(|e| text(e, "traceId")).collect();
    let expected =
        since("Transaction", HOUR).iter().filter(|e| latest_failed.contains(&text(e, "traceId"))).count();
    assert_eq!(answer["count"], json!(expected));
}

#[test]
fn scalar_subqueries_compare_against_one_value_over_the_outer_window() {
    // No SINCE in the subquery: it runs over the outer query's 2 hours.
    let transactions = since("Transaction", 2 * HOUR);
    let durations: Vec<f64> = transactions.iter().map(|e| number(e, "duration")).collect();
    let mean = average(&durations);
    let answer = row(
        "SELECT count(*), average(duration) FROM Transaction WHERE duration > (SELECT average(duration) FROM Transaction) SINCE 2 hours ago",
    );
    let above: Vec<f64> = durations.iter().copied().filter(|d| *d > mean).collect();
    assert_eq!(answer["count"], json!(above.len()));
    assert_eq!(answer["average.duration"], json!(average(&above)));

    let checkout: Vec<f64> = transactions
        .iter()
        .filter(|e| text(e, "appName") == "checkout-service")
        .map(|e| number(e, "duration"))
        .collect();
    let p90 = nearest_rank(checkout, 90.0);
    let answer = row(
        "SELECT count(*) FROM Transaction WHERE duration >= (SELECT percentile(duration, 90) FROM Transaction WHERE appName = 'checkout-service') SINCE 2 hours ago",
    );
    assert_eq!(answer["count"], json!(durations.iter().filter(|d| **d >= p90).count()));

    // A string answer, and a subquery nested in a subquery (2 of the 3 allowed).
    let latest_error = since("TransactionError", 2 * HOUR).into_iter().max_by_key(|e| e.timestamp).unwrap();
    let app = text(latest_error, "appName");
    let answer = row(
        "SELECT count(*) FROM Transaction WHERE appName = (SELECT latest(appName) FROM TransactionError) AND duration > (SELECT min(duration) FROM Transaction WHERE duration > (SELECT average(duration) FROM Transaction)) SINCE 2 hours ago",
    );
    let slow_floor = durations.iter().copied().filter(|d| *d > mean).fold(f64::INFINITY, f64::min);
    let expected = transactions
        .iter()
        .filter(|e| text(e, "appName") == app && number(e, "duration") > slow_floor)
        .count();
    assert_eq!(answer["count"], json!(expected));

    // Subqueries also work inside filter() and in SELECT arithmetic.
    let answer = row(
        "SELECT filter(count(*), WHERE duration > (SELECT average(duration) FROM Transaction)) AS 'slow', \
         max(duration) - (SELECT average(duration) FROM Transaction) AS 'headroom' FROM Transaction SINCE 2 hours ago",
    );
    assert_eq!(answer["slow"], json!(above.len()));
    let max = durations.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(answer["headroom"], json!(max - mean));

    // A faceted subquery may be compared once LIMIT 1 leaves one row.
    let answer = row(
        "SELECT count(*) FROM Transaction WHERE appName = (SELECT latest(appName) FROM Transaction FACET appName ORDER BY count(*) LIMIT 1) SINCE 2 hours ago",
    );
    let mut per_app: BTreeMap<String, usize> = BTreeMap::new();
    for event in &transactions {
        *per_app.entry(text(event, "appName")).or_default() += 1;
    }
    let busiest = per_app.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).unwrap();
    assert_eq!(answer["count"], json!(busiest.1));
}

#[test]
fn subquery_misuse_is_refused_clearly() {
    let cases = [
        (
            "SELECT count(*) FROM Transaction WHERE appName = (SELECT uniques(appName) FROM Transaction)",
            "only be used with IN",
        ),
        (
            "SELECT count(*) FROM Transaction WHERE appName = (SELECT latest(appName) FROM Transaction FACET host)",
            "LIMIT 1",
        ),
        (
            "SELECT count(*) FROM Transaction WHERE duration > (SELECT average(duration) FROM Transaction TIMESERIES)",
            "TIMESERIES",
        ),
        (
            "SELECT count(*) FROM T WHERE a IN (SELECT uniques(a) FROM T WHERE b IN (SELECT uniques(b) FROM T \
             WHERE c IN (SELECT uniques(c) FROM T WHERE d IN (SELECT uniques(d) FROM T))))",
            "at most 3 subqueries",
        ),
        (
            "SELECT count(*) FROM Transaction WHERE appName IN (SELECT uniques(appName, 20000) FROM Log)",
            "10000",
        ),
        (
            "SELECT count(*) FROM Transaction FACET (SELECT latest(appName) FROM Transaction)",
            "can't appear in FACET",
        ),
        ("SELECT count(*) FROM (SELECT count(*) AS c FROM Transaction TIMESERIES)", "nested aggregation"),
    ];
    for (nrql, mention) in cases {
        let message = error_of(nrql);
        assert!(message.contains(mention), "{nrql}: {message}");
    }
}

#[test]
fn apdex_and_cdf_percentage_sort_values_against_thresholds() {
    let transactions = since("Transaction", 3 * HOUR);
    let output = answer(
        "SELECT apdex(duration, t: 0.2), cdfPercentage(duration, 0.1, 0.25) FROM Transaction FACET appName SINCE 3 hours ago LIMIT MAX",
    );
    assert_eq!(output.results.len(), 4);
    for row in &output.results {
        let app = row["appName"].as_str().unwrap();
        let durations: Vec<f64> = transactions
            .iter()
            .filter(|e| text(e, "appName") == app)
            .map(|e| number(e, "duration"))
            .collect();
        let s = durations.iter().filter(|d| **d <= 0.2).count();
        let t = durations.iter().filter(|d| **d > 0.2 && **d <= 0.8).count();
        let f = durations.len() - s - t;
        let score = (s as f64 + t as f64 / 2.0) / durations.len() as f64;
        assert_eq!(
            row["apdex.duration"],
            json!({"score": score, "s": s, "t": t, "f": f, "count": durations.len()}),
            "{app}"
        );
        let share = |limit: f64| {
            100.0 * durations.iter().filter(|d| **d <= limit).count() as f64 / durations.len() as f64
        };
        assert_eq!(row["cdfPercentage.duration"], json!({"0.1": share(0.1), "0.25": share(0.25)}), "{app}");
    }
    // Facets are ordered by the apdex score, and positional T works too.
    let scores: Vec<f64> =
        output.results.iter().map(|r| r["apdex.duration"]["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|pair| pair[0] >= pair[1]), "{scores:?}");
    let positional = row("SELECT apdex(duration, 0.2) AS 'a' FROM Transaction SINCE 3 hours ago");
    let all = row("SELECT apdex(duration, t: 0.2) AS 'a' FROM Transaction SINCE 3 hours ago");
    assert_eq!(positional, all);
    let message = error_of("SELECT apdex(duration) FROM Transaction");
    assert!(message.contains("apdex() without an Apdex T"), "{message}");
}

#[test]
fn trends_fit_values_against_time() {
    let samples: Vec<&Event> = since("SystemSample", 2 * HOUR)
        .into_iter()
        .filter(|e| text(e, "hostname") == "ip-10-0-1-12")
        .collect();
    let points: Vec<(i64, f64)> =
        samples.iter().map(|e| (e.timestamp, number(e, "diskUsedPercent"))).collect();
    assert!(points.len() > 10);
    let origin = points[0].0;
    let n = points.len() as f64;
    let mean_t = points.iter().map(|(t, _)| (t - origin) as f64).sum::<f64>() / n;
    let mean_v = points.iter().map(|(_, v)| v).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|(t, v)| ((t - origin) as f64 - mean_t) * (v - mean_v)).sum();
    let spread: f64 = points.iter().map(|(t, _)| ((t - origin) as f64 - mean_t).powi(2)).sum();
    let slope = covariance / spread;
    let (t1, v1) = points[points.len() - 2];
    let (t2, v2) = points[points.len() - 1];
    let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
    let variance = values.iter().map(|v| (v - average(&values)).powi(2)).sum::<f64>() / n;

    let answer = row("SELECT derivative(diskUsedPercent, 1 hour), predictLinear(diskUsedPercent, 1 day), \
         latestRate(diskUsedPercent, 1 minute), stdvar(diskUsedPercent) \
         FROM SystemSample WHERE hostname = 'ip-10-0-1-12' SINCE 2 hours ago");
    assert_close(&answer["derivative.diskUsedPercent"], slope * HOUR as f64, "derivative");
    assert!(slope > 0.0, "disks only fill up in the fixture");
    let at = (ANCHOR_MS - origin) as f64 + 24.0 * HOUR as f64;
    assert_close(&answer["predictLinear.diskUsedPercent"], mean_v + slope * (at - mean_t), "predictLinear");
    assert_close(
        &answer["latestRate.diskUsedPercent"],
        (v2 - v1) / (t2 - t1) as f64 * MINUTE as f64,
        "latestRate",
    );
    assert_close(&answer["stdvar.diskUsedPercent"], variance, "stdvar");

    // One point has no trend.
    let answer = row(
        "SELECT derivative(diskUsedPercent, 1 hour) FROM SystemSample WHERE hostname = 'ip-10-0-1-12' SINCE 4 minutes ago",
    );
    assert_eq!(answer["derivative.diskUsedPercent"], Value::Null);
    let message = error_of("SELECT derivative(diskUsedPercent) FROM SystemSample");
    assert!(message.contains("derivative() without a time interval"), "{message}");
}

#[test]
fn rate_and_percentage_variants_are_exact() {
    let transactions = since("Transaction", HOUR);
    let sum: f64 = transactions.iter().map(|e| number(e, "duration")).sum();
    let traces: BTreeSet<String> = transactions.iter().map(|e| text(e, "traceId")).collect();
    let slow_errors = transactions.iter().filter(|e| is_error(e) && number(e, "duration") > 0.3).count();
    let error_time: f64 = transactions.iter().filter(|e| is_error(e)).map(|e| number(e, "duration")).sum();
    let hosts_with_errors: BTreeSet<String> =
        transactions.iter().filter(|e| is_error(e)).map(|e| text(e, "host")).collect();
    let hosts: BTreeSet<String> = transactions.iter().map(|e| text(e, "host")).collect();
    let got = row(
        "SELECT rate(sum(duration), 1 minute) AS 'busy', rate(uniqueCount(traceId), 10 minutes) AS 'traces', \
         rate(filter(count(*), WHERE error IS true), 1 hour) AS 'errorsPerHour', \
         percentage(count(*), WHERE error IS true AND duration > 0.3) AS 'slowErrors', \
         percentage(sum(duration), WHERE error IS true) AS 'errorTime', \
         percentage(uniqueCount(host), WHERE error IS true) AS 'errorHosts' FROM Transaction SINCE 1 hour ago",
    );
    assert_eq!(got["busy"], json!(sum * MINUTE as f64 / HOUR as f64));
    assert_eq!(got["traces"], json!(traces.len() as f64 * (10 * MINUTE) as f64 / HOUR as f64));
    let errors = transactions.iter().filter(|e| is_error(e)).count();
    assert_eq!(got["errorsPerHour"], json!(errors as f64));
    assert_eq!(got["slowErrors"], json!(100.0 * slow_errors as f64 / transactions.len() as f64));
    assert_eq!(got["errorTime"], json!(100.0 * error_time / sum));
    assert_eq!(got["errorHosts"], json!(100.0 * hosts_with_errors.len() as f64 / hosts.len() as f64));

    // In a timeseries, rate() relates to each bucket.
    let output =
        answer("SELECT rate(count(*), 1 minute) FROM Transaction SINCE 1 hour ago TIMESERIES 20 minutes");
    assert_eq!(output.results.len(), 3);
    for row in &output.results {
        let begin = row["beginTimeSeconds"].as_i64().unwrap() * 1000;
        let in_bucket = between("Transaction", begin, begin + 20 * MINUTE).len();
        assert_eq!(row["rate.count"], json!(in_bucket as f64 / 20.0));
    }
    let message =
        error_of("SELECT percentage(count(*), WHERE error IS true, WHERE duration > 1) FROM Transaction");
    assert!(message.contains("takes one WHERE condition"), "{message}");
}

#[test]
fn funnel_counts_distinct_values_through_each_step() {
    let transactions = since("Transaction", 6 * HOUR);
    let steps: [&dyn Fn(&Event) -> bool; 3] =
        [&|e| number(e, "duration") > 0.3, &|e| is_error(e), &|e| text(e, "httpResponseCode") == "503"];
    let mut completed: HashMap<String, [bool; 3]> = HashMap::new();
    for event in &transactions {
        let entry = completed.entry(text(event, "name")).or_default();
        for (index, step) in steps.iter().enumerate() {
            entry[index] |= step(event);
        }
    }
    let through = |n: usize| completed.values().filter(|done| done[..n].iter().all(|d| *d)).count();
    let answer = row(
        "SELECT funnel(name, WHERE duration > 0.3 AS 'slow', WHERE error IS true AS 'failed', WHERE httpResponseCode = '503' AS 'unavailable') \
         FROM Transaction SINCE 6 hours ago",
    );
    let expected = [through(1), through(2), through(3)];
    assert!(expected[0] > expected[2] && expected[2] > 0, "{expected:?}");
    assert_eq!(answer["funnel.name"], json!({"steps": expected}));
    let message = error_of("SELECT funnel(name, WHERE error IS true) FROM Transaction");
    assert!(message.contains("2 to 10 steps"), "{message}");
}

#[test]
fn slide_by_windows_overlap_and_stop_at_the_end() {
    let output = answer(
        "SELECT count(*), average(duration) FROM Transaction SINCE 1 hour ago TIMESERIES 10 minutes SLIDE BY 5 minutes",
    );
    assert_eq!(output.results.len(), 12);
    for (index, row) in output.results.iter().enumerate() {
        let begin = ANCHOR_MS - HOUR + index as i64 * 5 * MINUTE;
        let end = (begin + 10 * MINUTE).min(ANCHOR_MS);
        assert_eq!(row["beginTimeSeconds"], json!(begin / 1000));
        assert_eq!(row["endTimeSeconds"], json!(end / 1000));
        let events = between("Transaction", begin, end);
        let durations: Vec<f64> = events.iter().map(|e| number(e, "duration")).collect();
        assert_eq!(row["count"], json!(events.len()), "{row}");
        assert_eq!(row["average.duration"], json!(average(&durations)), "{row}");
    }
    let message = error_of("SELECT count(*) FROM Transaction TIMESERIES 10 minutes SLIDE BY 3 minutes");
    assert!(message.contains("SLIDE BY"), "{message}");
}

#[test]
fn facets_cases_limits_other_and_order_by() {
    let transactions = since("Transaction", 6 * HOUR);

    // CASES … OR attribute: unmatched events fall back to their appName.
    let output = answer(
        "SELECT count(*) FROM Transaction FACET CASES(WHERE duration > 1 AS 'very slow') OR appName SINCE 6 hours ago LIMIT MAX",
    );
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for event in &transactions {
        let label =
            if number(event, "duration") > 1.0 { "very slow".to_string() } else { text(event, "appName") };
        *expected.entry(label).or_default() += 1;
    }
    let got: BTreeMap<String, usize> = output
        .results
        .iter()
        .map(|r| (r["facet"].as_str().unwrap().to_string(), r["count"].as_u64().unwrap() as usize))
        .collect();
    assert_eq!(got, expected);

    // Several attributes with a LIMIT: the rest lands in otherResult.
    let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
    for event in &transactions {
        *pairs.entry((text(event, "appName"), text(event, "httpResponseCode"))).or_default() += 1;
    }
    let mut ordered: Vec<((String, String), usize)> = pairs.into_iter().collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let output =
        answer("SELECT count(*) FROM Transaction FACET appName, httpResponseCode SINCE 6 hours ago LIMIT 5");
    let expected: Vec<Value> = ordered
        .iter()
        .take(5)
        .map(|((app, code), n)| json!({"facet": [app, code], "appName": app, "httpResponseCode": code, "count": n}))
        .collect();
    assert_eq!(json!(output.results), json!(expected));
    assert_eq!(output.total_result, Some(json!({"count": transactions.len()})));
    let rest: usize = ordered[5..].iter().map(|(_, n)| n).sum();
    assert_eq!(output.other_result, Some(json!({"count": rest})));

    // FACET … ORDER BY picks the facets; they are still listed by the first SELECT item.
    let mut by_name: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for event in &transactions {
        let entry = by_name.entry(text(event, "name")).or_insert((0, f64::NEG_INFINITY));
        entry.0 += 1;
        entry.1 = entry.1.max(number(event, "duration"));
    }
    let mut by_max: Vec<(&String, &(usize, f64))> = by_name.iter().collect();
    by_max.sort_by(|a, b| b.1.1.total_cmp(&a.1.1).then(a.0.cmp(b.0)));
    let mut picked: Vec<(&String, &(usize, f64))> = by_max.into_iter().take(3).collect();
    picked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let output = answer(
        "SELECT count(*) FROM Transaction FACET name ORDER BY max(duration) LIMIT 3 SINCE 6 hours ago",
    );
    let got: Vec<(String, u64)> = output
        .results
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["count"].as_u64().unwrap()))
        .collect();
    let want: Vec<(String, u64)> = picked.iter().map(|(name, (n, _))| ((*name).clone(), *n as u64)).collect();
    assert_eq!(got, want);

    let message = error_of("SELECT count(*) FROM Transaction FACET a, b, c, d, e, f");
    assert!(message.contains("at most 5"), "{message}");
}

#[test]
fn faceted_timeseries_totals_are_timeseries_too() {
    let transactions = since("Transaction", 2 * HOUR);
    let mut per_app: BTreeMap<String, usize> = BTreeMap::new();
    for event in &transactions {
        *per_app.entry(text(event, "appName")).or_default() += 1;
    }
    let mut ordered: Vec<(String, usize)> = per_app.into_iter().collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<&String> = ordered.iter().take(2).map(|(app, _)| app).collect();
    let output = answer(
        "SELECT count(*) FROM Transaction FACET appName TIMESERIES 30 minutes SINCE 2 hours ago LIMIT 2",
    );
    assert_eq!(output.results.len(), 8);
    let total = output.total_result.unwrap();
    let other = output.other_result.unwrap();
    for index in 0..4 {
        let begin = ANCHOR_MS - 2 * HOUR + index * 30 * MINUTE;
        let bucket = between("Transaction", begin, begin + 30 * MINUTE);
        let beyond = bucket.iter().filter(|e| !shown.contains(&&text(e, "appName"))).count();
        let expected_row = |count: usize| json!({"beginTimeSeconds": begin / 1000, "endTimeSeconds": (begin + 30 * MINUTE) / 1000, "count": count});
        assert_eq!(total[index as usize], expected_row(bucket.len()));
        assert_eq!(other[index as usize], expected_row(beyond));
    }
}

#[test]
fn with_timezone_reads_calendar_points_on_the_local_clock() {
    // The sandbox clock is 2026-01-01 00:00 UTC: 16:00 on New Year's Eve in Los Angeles.
    let output = answer("SELECT count(*) FROM Transaction SINCE today WITH TIMEZONE 'America/Los_Angeles'");
    assert_eq!(output.metadata["timeWindow"]["begin"], json!(ANCHOR_MS - 16 * HOUR));
    assert_eq!(output.results, [json!({"count": since("Transaction", 16 * HOUR).len()})]);
    // A date-time without a zone is wall-clock time there: 20:00 in Tokyo is 11:00 UTC.
    let output = answer(
        "SELECT count(*) FROM Transaction SINCE '2025-12-31 20:00:00' UNTIL '2025-12-31 22:00:00' WITH TIMEZONE 'Asia/Tokyo'",
    );
    let expected = between("Transaction", ANCHOR_MS - 13 * HOUR, ANCHOR_MS - 11 * HOUR).len();
    assert_eq!(output.results, [json!({"count": expected})]);
    // Relative points are instants, whatever the zone.
    let output = answer("SELECT count(*) FROM Transaction SINCE 2 hours ago WITH TIMEZONE 'Asia/Kolkata'");
    assert_eq!(output.results, [json!({"count": since("Transaction", 2 * HOUR).len()})]);
}

#[test]
fn keyset_and_show_event_types_describe_the_data() {
    let samples = since("SystemSample", HOUR);
    let mut expected: BTreeSet<(String, &str)> = BTreeSet::new();
    expected.insert(("timestamp".to_string(), "numeric"));
    for event in &samples {
        for (name, value) in &event.attributes {
            let kind = match value {
                AttrValue::Str(_) => "string",
                AttrValue::Int(_) | AttrValue::Float(_) => "numeric",
                AttrValue::Bool(_) => "boolean",
            };
            expected.insert(((*name).to_string(), kind));
        }
    }
    let rows = answer("SELECT keyset() FROM SystemSample SINCE 1 hour ago").results;
    let want: Vec<Value> = expected.iter().map(|(key, kind)| json!({"key": key, "type": kind})).collect();
    assert_eq!(rows, want);

    let types: BTreeSet<&str> = DATA
        .events(PRODUCTION)
        .iter()
        .filter(|e| e.timestamp >= ANCHOR_MS - 24 * HOUR && e.timestamp < ANCHOR_MS)
        .map(|e| e.event_type)
        .collect();
    let rows = answer("SHOW EVENT TYPES SINCE 1 day ago").results;
    let want: Vec<Value> = types.iter().map(|name| json!({"eventType": name})).collect();
    assert_eq!(rows, want);
}

#[tokio::test]
async fn subqueries_answer_over_the_wire() {
    let sandbox = Sandbox::start().await;
    let transactions = since("Transaction", HOUR);
    let mean = average(&transactions.iter().map(|e| number(e, "duration")).collect::<Vec<_>>());
    let answer = sandbox
        .nrql(
            PRODUCTION,
            "FROM Transaction SELECT count(*) WHERE duration > (FROM Transaction SELECT average(duration))",
        )
        .await;
    let expected = transactions.iter().filter(|e| number(e, "duration") > mean).count();
    assert_eq!(answer["results"], json!([{"count": expected}]));
    sandbox.stop().await;
}
