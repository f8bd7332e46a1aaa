//! Corpus tests: real queries from New Relic's documentation must parse and survive a
//! print/parse round trip; known-bad queries must fail with the exact message, position
//! and hint a user should see.
//!
//! The data lives in `tests/corpus/`; each group there names the documentation page its
//! queries come from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use newrelic_mcp_nrql::{parse, print};

const VALID: &str = include_str!("corpus/valid.nrql");
const INVALID: &str = include_str!("corpus/invalid.nrql");

fn entries(corpus: &str) -> impl Iterator<Item = (usize, &str)> {
    corpus
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

#[test]
fn corpus_holds_at_least_two_hundred_documented_queries() {
    assert!(entries(VALID).count() >= 200, "valid corpus shrank to {}", entries(VALID).count());
    assert!(entries(INVALID).count() >= 50, "invalid corpus shrank to {}", entries(INVALID).count());
}

#[test]
fn every_documented_query_parses_and_round_trips() {
    let mut failures = Vec::new();
    for (line_number, query) in entries(VALID) {
        match parse(query) {
            Ok(parsed) => {
                let printed = print(&parsed);
                match parse(&printed) {
                    Ok(reparsed) if reparsed == parsed => {
                        // Printing is canonical: a second round prints the same text.
                        if print(&reparsed) != printed {
                            failures.push(format!("line {line_number}: printing is not stable: {printed}"));
                        }
                    }
                    Ok(_) => {
                        failures.push(format!("line {line_number}: round trip changed the query: {printed}"))
                    }
                    Err(error) => failures
                        .push(format!("line {line_number}: printed form does not parse: {printed}: {error}")),
                }
            }
            Err(error) => failures.push(format!("line {line_number}: {query}\n    {error}")),
        }
    }
    assert!(failures.is_empty(), "{} corpus failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_invalid_query_fails_with_its_documented_message() {
    let mut failures = Vec::new();
    for (line_number, entry) in entries(INVALID) {
        let (query, expected) =
            entry.split_once(" ==> ").unwrap_or_else(|| panic!("line {line_number}: missing ' ==> '"));
        match parse(query) {
            Ok(parsed) => failures.push(format!("line {line_number}: {query} parsed as {parsed:?}")),
            Err(error) => {
                let shown = error.to_string();
                if shown != expected {
                    failures
                        .push(format!("line {line_number}: {query}\n    want {expected}\n    got  {shown}"));
                }
                let position = format!(" at {}:{}", error.line, error.column);
                if !shown.contains(&position) || error.column == 0 || error.line == 0 {
                    failures.push(format!("line {line_number}: position missing from {shown}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} invalid-corpus failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn documented_queries_yield_the_expected_structure() {
    use newrelic_mcp_nrql::ast::{FromClause, Query, TimePoint};
    use newrelic_mcp_nrql::subquery_count;

    let query = parse(
        "FROM Transaction SELECT uniques(accountId) WHERE guid IN (FROM Transaction SELECT uniques(guid) \
         WHERE duration > (FROM Transaction SELECT percentile(duration, 99)))",
    )
    .unwrap();
    assert_eq!(subquery_count(&query), 2);
    assert_eq!(query.event_types(), vec!["Transaction"]);

    let join = parse(
        "FROM PageView JOIN (FROM PageAction SELECT count(*) FACET session, currentUrl) ON session \
         SELECT count(*) FACET browserTransactionName, currentUrl SINCE 1 day ago",
    )
    .unwrap();
    assert_eq!(join.event_types(), vec!["PageView", "PageAction"]);
    assert_eq!(subquery_count(&join), 1);
    assert!(matches!(join.since(), Some(TimePoint::Ago(_))));

    let show = parse("SHOW EVENT TYPES SINCE 1 day ago").unwrap();
    assert!(matches!(show, Query::ShowEventTypes(_)));
    assert!(show.event_types().is_empty());

    let lookup = parse("FROM lookup(storeNames) SELECT *").unwrap();
    assert!(matches!(&lookup.as_select().unwrap().from, FromClause::Lookup(name) if name == "storeNames"));
}
