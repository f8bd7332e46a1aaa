//! `newrelic-mcp nrql check` and `nrql explain`: NRQL validated offline.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use newrelic_mcp_nrql::{parse, print};
use serde_json::json;

use super::fail;

#[derive(Debug, Subcommand)]
pub enum NrqlCommand {
    /// Check queries, one per line from stdin (or --file); print one JSON line each.
    /// Exits 0 when every query is valid, 1 otherwise.
    Check {
        /// Read queries from this file instead of stdin.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print the syntax tree of a query as JSON.
    Explain {
        /// The NRQL query.
        query: String,
    },
}

pub(super) fn run(command: NrqlCommand) -> ExitCode {
    match command {
        NrqlCommand::Check { file } => check(file),
        NrqlCommand::Explain { query } => explain(&query),
    }
}

/// One JSON verdict for the query on input line `line_number`.
pub fn verdict(query: &str, line_number: usize) -> serde_json::Value {
    match parse(query) {
        Ok(ast) => json!({ "ok": true, "normalized": print(&ast) }),
        Err(error) => json!({
            "ok": false,
            "error": error.to_string(),
            "line": line_number + error.line as usize - 1,
            "column": error.column,
        }),
    }
}

fn check(file: Option<PathBuf>) -> ExitCode {
    let input: Box<dyn BufRead> = match &file {
        Some(path) => match std::fs::File::open(path) {
            Ok(opened) => Box::new(std::io::BufReader::new(opened)),
            Err(error) => return fail(2, &format!("cannot read {}: {error}", path.display())),
        },
        None => Box::new(std::io::stdin().lock()),
    };
    let mut out = std::io::stdout().lock();
    let mut all_valid = true;
    for (index, line) in input.lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(error) => return fail(2, &format!("cannot read line {}: {error}", index + 1)),
        };
        if line.trim().is_empty() {
            continue;
        }
        let verdict = verdict(&line, index + 1);
        all_valid &= verdict["ok"] == true;
        if writeln!(out, "{verdict}").is_err() {
            return ExitCode::from(2);
        }
    }
    if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn explain(query: &str) -> ExitCode {
    match parse(query) {
        Ok(ast) => match serde_json::to_string_pretty(&ast) {
            Ok(text) => {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(2, &format!("cannot print the syntax tree: {error}")),
        },
        Err(error) => fail(1, &error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_carry_the_normalized_query_or_the_position() {
        let ok = verdict("select count(*) from Transaction since 1 hour ago", 1);
        assert_eq!(ok["ok"], true);
        assert!(
            ok["normalized"].as_str().is_some_and(|q| q.starts_with("SELECT count(*) FROM Transaction")),
            "{ok}"
        );
        let bad = verdict("SELCT count(*) FROM Transaction", 7);
        assert_eq!(bad["ok"], false);
        assert_eq!(bad["line"], 7);
        assert_eq!(bad["column"], 1);
        assert!(bad["error"].as_str().is_some_and(|e| e.contains("SELECT")), "{bad}");
    }
}
