//! Lexing and parsing cost of a typical NRQL query (~120 bytes) and a large one (~2 KB).
//!
//! Run with `cargo bench -p newrelic-mcp-nrql --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newrelic_mcp_nrql::{lex, parse};

/// What an agent typically sends: a few aggregates, one filter, a facet, a window.
const TYPICAL: &str = "SELECT average(duration), percentile(duration, 95) FROM Transaction WHERE appName = 'checkout' FACET name SINCE 1 hour ago LIMIT 20";

/// A dashboard-sized query: many SELECT items, nested functions, IN lists, FACET CASES,
/// TIMESERIES and COMPARE WITH.
const LARGE: &str = concat!(
    "SELECT count(*) AS 'Requests', average(duration) AS 'Avg duration', percentile(duration, 50, 90, 95, 99), ",
    "max(duration), min(duration), stddev(duration), uniqueCount(session), uniqueCount(host), ",
    "sum(databaseDuration) / count(*) AS 'DB per request', average(externalDuration * 1000) AS 'External ms', ",
    "percentage(count(*), WHERE error IS TRUE) AS 'Error rate', percentage(count(*), WHERE duration > 0.5) AS 'Slow', ",
    "filter(count(*), WHERE httpResponseCode LIKE '5%') AS '5xx', filter(count(*), WHERE httpResponseCode LIKE '4%') AS '4xx', ",
    "apdex(duration, t: 0.4), rate(count(*), 1 minute) AS 'Throughput', ",
    "latest(if(error IS TRUE, 'failing', 'healthy')) AS 'State', round(average(duration) * 1000, 2) AS 'Avg ms', ",
    "average(numeric(request.headers.contentLength) / 1024) AS 'KB in', max(`response.headers.contentLength`) AS 'Bytes out', ",
    "histogram(duration, 10, 20) AS 'Duration histogram', earliest(timestamp) AS 'First seen', latest(timestamp) AS 'Last seen', ",
    "uniques(concat(appName, ':', lower(request.method)), 50) AS 'Routes', average(if(cpuTime > 0, cpuTime / duration, 0)) AS 'CPU share' ",
    "FROM Transaction ",
    "WHERE appName IN ('checkout', 'cart', 'payments', 'inventory', 'shipping', 'search', 'recommendations', 'accounts') ",
    "AND host NOT IN ('canary-1', 'canary-2', 'canary-3') ",
    "AND (request.method = 'POST' OR request.method = 'PUT' OR request.method = 'PATCH') ",
    "AND name NOT LIKE '%healthcheck%' AND name NOT LIKE '%/ping%' ",
    "AND duration >= 0.001 AND duration < 120 AND transactionType = 'Web' ",
    "AND customer.tier IN ('gold', 'platinum', 'enterprise') AND region RLIKE 'us-(east|west)-[0-9]' ",
    "AND `request.headers.userAgent` IS NOT NULL AND error IS NOT TRUE ",
    "FACET CASES(",
    "WHERE duration < 0.1 AS 'fast', WHERE duration >= 0.1 AND duration < 0.5 AS 'ok', ",
    "WHERE duration >= 0.5 AND duration < 2 AS 'slow', WHERE duration >= 2 AS 'very slow'",
    "), appName, buckets(duration, 10, 20) ",
    "LIMIT 100 SINCE 1 day ago UNTIL 10 minutes ago COMPARE WITH 1 week ago ",
    "TIMESERIES 15 minutes WITH TIMEZONE 'America/Los_Angeles'"
);

fn benchmarks(c: &mut Criterion) {
    for (name, query) in [("typical", TYPICAL), ("large", LARGE)] {
        if let Err(error) = parse(query) {
            // Benchmarking an error path by accident would report meaningless numbers.
            eprintln!("the {name} benchmark query does not parse: {error}");
            std::process::exit(1);
        }
        let mut group = c.benchmark_group(format!("{name} ({} bytes)", query.len()));
        group.throughput(Throughput::Bytes(query.len() as u64));
        group.bench_function("lex", |b| b.iter(|| lex(black_box(query))));
        group.bench_function("lex+parse", |b| b.iter(|| parse(black_box(query))));
        group.finish();
    }
}

criterion_group!(benches, benchmarks);
criterion_main!(benches);
