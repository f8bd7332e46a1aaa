//! Plugin loading: 20 manifests (3 tools each, templates with typed parameters, half of
//! them depending on another) discovered in a directory, read, parsed, their templates
//! compiled and checked against the NRQL policy, names settled and dependencies ordered.
//! The budget is 50 ms for the whole directory; the run prints the median and fails past it.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use newrelic_mcp::plugins::{Reserved, load_dir};
use newrelic_mcp_nrql::Policy;

const PLUGINS: usize = 20;
const BUDGET: Duration = Duration::from_millis(50);
const NOW_EPOCH_MS: i64 = 1_700_000_000_000;

fn manifest(index: usize) -> String {
    let depends_on = if index % 2 == 1 { format!("\"bench-{:02}\"", index - 1) } else { String::new() };
    let mut text = format!(
        "[plugin]\nname = \"bench-{index:02}\"\nversion = \"1.0.{index}\"\ndescription = \"Bench plugin {index}\"\n\
         depends_on = [{depends_on}]\n"
    );
    text.push_str(&format!(
        r#"
[[tools]]
name = "error_rate_{index:02}"
description = "Error rate of one application"
category = "performance-analytics"
nrql = "SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = {{{{app}}}} SINCE {{{{since}}}} ago TIMESERIES"
[[tools.params]]
name = "app"
type = "string"
default = "checkout-service"
[[tools.params]]
name = "since"
type = "duration"
default = "1 hour"

[[tools]]
name = "log_levels_{index:02}"
description = "Log lines of one level by service"
nrql = "SELECT count(*) FROM Log WHERE level = {{{{level}}}} FACET service SINCE {{{{since}}}} ago LIMIT {{{{limit}}}}"
[[tools.params]]
name = "level"
type = "enum"
values = ["ERROR", "WARN", "INFO"]
default = "ERROR"
[[tools.params]]
name = "since"
type = "duration"
default = "30 minutes"
[[tools.params]]
name = "limit"
type = "int"
default = 10

[[tools]]
name = "slowest_{index:02}"
description = "Slowest transactions by an attribute"
nrql = "SELECT percentile(duration, 95), count(*) FROM Transaction WHERE appName = {{{{app}}}} AND duration > {{{{floor}}}} FACET {{{{attribute}}}} SINCE 1 hour ago LIMIT 5"
[[tools.params]]
name = "app"
type = "string"
[[tools.params]]
name = "floor"
type = "float"
default = 0.5
[[tools.params]]
name = "attribute"
type = "identifier"
default = "name"
"#
    ));
    text
}

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for index in 0..PLUGINS {
        std::fs::write(dir.path().join(format!("bench-{index:02}.toml")), manifest(index)).expect("written");
    }
    dir
}

fn load(dir: &Path, policy: &Arc<Policy>, reserved: &Reserved) -> usize {
    let assembly = load_dir(dir, policy, reserved, NOW_EPOCH_MS).expect("the directory is readable");
    assert_eq!(assembly.plugins.len(), PLUGINS, "{:?}", assembly.problems().collect::<Vec<_>>());
    assembly.plugins.len()
}

/// The median of plain timed runs, printed and checked against the budget.
fn check_budget(dir: &Path, policy: &Arc<Policy>, reserved: &Reserved) {
    let mut runs: Vec<Duration> = (0..25)
        .map(|_| {
            let started = Instant::now();
            black_box(load(dir, policy, reserved));
            started.elapsed()
        })
        .collect();
    runs.sort();
    let median = runs[runs.len() / 2];
    let _ = writeln!(
        std::io::stderr(),
        "plugins: {PLUGINS} manifests discovered, parsed and compiled in {:.2} ms (median of {}; budget {} ms)",
        median.as_secs_f64() * 1000.0,
        runs.len(),
        BUDGET.as_millis()
    );
    assert!(median < BUDGET, "loading {PLUGINS} plugins took {median:?}, over the {BUDGET:?} budget");
}

fn bench_load(c: &mut Criterion) {
    let dir = fixture();
    let policy = Arc::new(Policy::default());
    let reserved = Reserved::of(&newrelic_mcp::tools::builtin_plugins());
    check_budget(dir.path(), &policy, &reserved);
    c.bench_function("plugins/load_20_manifests", |b| {
        b.iter(|| black_box(load(dir.path(), &policy, &reserved)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_load
}
criterion_main!(benches);
