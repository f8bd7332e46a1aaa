//! `newrelic-mcp nrql check` and `nrql explain`, run as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Queries of a corpus file: comment lines dropped, expectations after ` ==> ` cut off.
fn corpus(name: &str) -> Vec<String> {
    let path = format!("{}/nrql/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split(" ==> ").next().unwrap().to_string())
        .collect()
}

fn check(queries: &[String]) -> (Option<i32>, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_newrelic-mcp"))
        .args(["nrql", "check"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = queries.join("\n");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let verdicts = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (output.status.code(), verdicts)
}

#[test]
fn check_accepts_the_documentation_corpus() {
    let queries = corpus("valid.nrql");
    assert!(queries.len() >= 200);
    let (code, verdicts) = check(&queries);
    assert_eq!(verdicts.len(), queries.len());
    let rejected: Vec<&Value> = verdicts.iter().filter(|v| v["ok"] != true).collect();
    assert!(rejected.is_empty(), "rejected: {rejected:?}");
    assert_eq!(code, Some(0));
}

#[test]
fn check_rejects_the_invalid_corpus_with_positions() {
    let queries = corpus("invalid.nrql");
    assert!(queries.len() >= 50);
    let (code, verdicts) = check(&queries);
    assert_eq!(verdicts.len(), queries.len());
    for (index, verdict) in verdicts.iter().enumerate() {
        assert_eq!(verdict["ok"], false, "accepted: {}", queries[index]);
        assert_eq!(verdict["line"], index + 1);
        assert!(verdict["column"].as_u64().is_some_and(|c| c >= 1));
        assert!(verdict["error"].as_str().is_some_and(|e| e.contains(" at ")), "{verdict}");
    }
    assert_eq!(code, Some(1));
}

#[test]
fn explain_prints_the_syntax_tree() {
    let output = Command::new(env!("CARGO_BIN_EXE_newrelic-mcp"))
        .args(["nrql", "explain", "SELECT count(*) FROM Transaction FACET appName"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let tree: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(tree.to_string().contains("Transaction") && tree.to_string().contains("appName"), "{tree}");
    let bad = Command::new(env!("CARGO_BIN_EXE_newrelic-mcp"))
        .args(["nrql", "explain", "SELECT"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(!bad.stderr.is_empty());
}
