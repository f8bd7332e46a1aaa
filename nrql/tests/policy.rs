//! The query policy, rule by rule: what passes, what is refused, and the exact words a
//! caller sees — each refusal names the rule and how to comply.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use newrelic_mcp_nrql::ast::Limit;
use newrelic_mcp_nrql::policy::NEW_RELIC_MAX_LIMIT;
use newrelic_mcp_nrql::{Policy, PolicyViolation, parse};

/// Wednesday 2024-03-13 15:45:30 UTC.
const NOW: i64 = 1_710_344_730_000;
const DAY_MS: i64 = 86_400_000;

fn check(policy: &Policy, query: &str) -> Result<(), String> {
    let parsed = parse(query).unwrap_or_else(|error| panic!("{query}: {error}"));
    policy.check(&parsed, NOW).map_err(|violation| violation.to_string())
}

fn restricted() -> Policy {
    Policy { allowed_event_types: Some(vec!["Transaction".into(), "Log".into()]), ..Policy::default() }
}

#[test]
fn defaults_match_new_relic_practice() {
    let policy = Policy::default();
    assert_eq!(policy.max_window, Duration::from_secs(30 * 86_400));
    assert_eq!(policy.max_limit, 1_000);
    assert_eq!(policy.max_subqueries, 3);
    assert_eq!(policy.allowed_event_types, None);
    assert_eq!(policy.allowed_accounts, None);
    assert_eq!(Policy { max_limit: 9_000, ..Policy::default() }.effective_max_limit(), NEW_RELIC_MAX_LIMIT);
}

#[test]
fn time_window_rule() {
    let default = Policy::default();
    let week = Policy { max_window: Duration::from_secs(7 * 86_400), ..Policy::default() };
    let two_hours = Policy { max_window: Duration::from_secs(2 * 3_600), ..Policy::default() };
    let eight_days = epoch_query(NOW - 8 * DAY_MS, None);
    let six_days = epoch_query(NOW - 8 * DAY_MS, Some(NOW - 2 * DAY_MS));
    let into_future = epoch_query(NOW - DAY_MS, Some(NOW + 9 * DAY_MS));
    let cases: Vec<(&Policy, &str, Result<(), &str>)> = vec![
        (&default, "SELECT count(*) FROM Transaction", Ok(())),
        (&default, "SELECT count(*) FROM Transaction SINCE 30 days ago", Ok(())),
        (
            &default,
            "SELECT count(*) FROM Transaction SINCE 45 days ago",
            Err(
                "the query spans 45 days, more than this server's 30-day limit: narrow SINCE (e.g. SINCE 7 days ago)",
            ),
        ),
        (
            &default,
            "SELECT count(*) FROM Transaction SINCE 2 months ago",
            Err(
                "the query spans 60 days, more than this server's 30-day limit: narrow SINCE (e.g. SINCE 7 days ago)",
            ),
        ),
        (&default, "SELECT count(*) FROM Transaction SINCE 60 days ago UNTIL 40 days ago", Ok(())),
        (
            &default,
            "SELECT count(*) FROM Transaction SINCE 90 days ago UNTIL 40 days ago",
            Err(
                "the query spans 50 days, more than this server's 30-day limit: move SINCE and UNTIL closer together",
            ),
        ),
        (
            &default,
            "SELECT count(*) FROM Transaction SINCE 20 days ago COMPARE WITH 2 weeks ago",
            Err(
                "the query spans 34 days including COMPARE WITH 2 weeks ago, more than this server's 30-day limit: narrow SINCE or use a shorter COMPARE WITH offset (e.g. SINCE 7 days ago)",
            ),
        ),
        (&default, "SELECT count(*) FROM Transaction SINCE 1 week ago COMPARE WITH 1 week ago", Ok(())),
        // No SINCE means one hour ago, so COMPARE WITH alone adds to an hour.
        (
            &week,
            "SELECT count(*) FROM Transaction COMPARE WITH 1 week ago",
            Err("the query spans 7.1 days including COMPARE WITH 1 week ago"),
        ),
        (&week, "SELECT count(*) FROM Transaction COMPARE WITH 6 days ago", Ok(())),
        (&week, "SELECT count(*) FROM Transaction SINCE this week", Ok(())),
        (&week, "SELECT count(*) FROM Transaction SINCE last week", Err("the query spans 9.7 days")),
        (&week, "SELECT count(*) FROM Transaction SINCE last week UNTIL this week", Ok(())),
        (&week, "SELECT count(*) FROM Transaction SINCE this month", Err("the query spans 12.7 days")),
        (
            &week,
            "SELECT count(*) FROM Transaction SINCE last month",
            Err("the query spans 41.7 days, more than this server's 7-day limit"),
        ),
        (&week, "SELECT count(*) FROM Transaction SINCE this year", Err("the query spans 72.7 days")),
        (&week, "SELECT count(*) FROM Transaction SINCE monday", Ok(())),
        (&week, "SELECT count(*) FROM Transaction SINCE thursday", Ok(())),
        (&week, "SELECT count(*) FROM Transaction SINCE yesterday AT '09:00'", Ok(())),
        (
            &two_hours,
            "SELECT count(*) FROM Transaction SINCE today",
            Err(
                "the query spans 15.8 hours, more than this server's 2-hour limit: narrow SINCE (e.g. SINCE 2 hours ago)",
            ),
        ),
        (&two_hours, "SELECT count(*) FROM Transaction SINCE today AT '14:00'", Ok(())),
        (
            &two_hours,
            "SELECT count(*) FROM Transaction SINCE yesterday UNTIL today",
            Err(
                "the query spans 1 day, more than this server's 2-hour limit: move SINCE and UNTIL closer together",
            ),
        ),
        (&two_hours, "SELECT count(*) FROM Transaction SINCE '2024-03-13 14:00:00'", Ok(())),
        (
            &two_hours,
            "SELECT count(*) FROM Transaction SINCE '2024-03-13T14:00:00+01:00'",
            Err("the query spans 2.8 hours"),
        ),
        (&week, "SELECT count(*) FROM Transaction SINCE '2024-03-01' UNTIL '2024-03-05'", Ok(())),
        (&week, &eight_days, Err("the query spans 8 days")),
        (&week, &six_days, Ok(())),
        // An UNTIL in the future still counts: the window is what the query covers.
        (&week, &into_future, Err("the query spans 10 days")),
        (
            &week,
            "SELECT count(*) FROM Transaction SINCE 'last tuesday'",
            Err(
                "SINCE 'last tuesday' is not a time this server can read: write 'YYYY-MM-DD HH:MM:SS' (UTC unless it ends in Z or ±HH:MM), epoch milliseconds, or a relative time such as 1 day ago",
            ),
        ),
        (
            &week,
            "SELECT count(*) FROM Transaction SINCE today AT '25:00'",
            Err("SINCE '25:00' is not a time this server can read"),
        ),
        (&week, "SHOW EVENT TYPES", Ok(())),
        (
            &week,
            "SHOW EVENT TYPES SINCE 1 month ago",
            Err("the query spans 30 days, more than this server's 7-day limit"),
        ),
        // Subqueries with their own window are bounded too; without one they inherit.
        (
            &week,
            "SELECT count(*) FROM Transaction WHERE duration > (SELECT average(duration) FROM Transaction SINCE 3 weeks ago) SINCE 1 day ago",
            Err("a subquery spans 21 days, more than this server's 7-day limit"),
        ),
        (
            &week,
            "SELECT count(*) FROM Transaction WHERE duration > (SELECT average(duration) FROM Transaction) SINCE 1 day ago",
            Ok(()),
        ),
    ];
    for (policy, query, expected) in cases {
        match (check(policy, query), expected) {
            (Ok(()), Ok(())) => {}
            (Err(message), Err(prefix)) => {
                assert!(message.starts_with(prefix), "{query}\n  got:      {message}\n  expected: {prefix}")
            }
            (got, expected) => panic!("{query}: got {got:?}, expected {expected:?}"),
        }
    }
}

fn epoch_query(since: i64, until: Option<i64>) -> String {
    match until {
        Some(until) => format!("SELECT count(*) FROM Transaction SINCE {since} UNTIL {until}"),
        None => format!("SELECT count(*) FROM Transaction SINCE {since}"),
    }
}

#[test]
fn limit_rule() {
    let default = Policy::default();
    let at_max = Policy { max_limit: 5_000, ..Policy::default() };
    let above_max = Policy { max_limit: 50_000, ..Policy::default() };
    let cases: Vec<(&Policy, &str, Result<(), &str>)> = vec![
        (&default, "SELECT * FROM Transaction", Ok(())),
        (&default, "SELECT * FROM Transaction LIMIT 1000", Ok(())),
        (
            &default,
            "SELECT * FROM Transaction LIMIT 5000",
            Err(
                "LIMIT 5000 is above this server's cap of 1000: use LIMIT 1000 or fewer, or add FACET/WHERE to narrow",
            ),
        ),
        (
            &default,
            "SELECT count(*) FROM Transaction FACET name LIMIT MAX",
            Err(
                "LIMIT MAX (5000 rows) is above this server's cap of 1000: use LIMIT 1000 or fewer, or add FACET/WHERE to narrow",
            ),
        ),
        (&at_max, "SELECT count(*) FROM Transaction FACET name LIMIT MAX", Ok(())),
        (&at_max, "SELECT * FROM Transaction LIMIT 5000", Ok(())),
        (
            &above_max,
            "SELECT * FROM Transaction LIMIT 5001",
            Err(
                "LIMIT 5001 is above this server's cap of 5000: use LIMIT 5000 or fewer, or add FACET/WHERE to narrow",
            ),
        ),
        // A subquery's LIMIT is held to the same cap: New Relic reads those rows too.
        (
            &default,
            "FROM PageView JOIN (FROM PageAction SELECT count(*) FACET session LIMIT MAX) ON session SELECT count(*) LIMIT 100",
            Err(
                "a subquery's LIMIT MAX (5000 rows) is above this server's cap of 1000: use LIMIT 1000 or fewer, or add FACET/WHERE to narrow",
            ),
        ),
        (
            &default,
            "SELECT count(*) FROM Transaction WHERE name IN (FROM Transaction SELECT uniques(name) LIMIT 5000)",
            Err(
                "a subquery's LIMIT 5000 is above this server's cap of 1000: use LIMIT 1000 or fewer, or add FACET/WHERE to narrow",
            ),
        ),
        (
            &default,
            "SELECT max(c) FROM (SELECT count(*) AS c FROM Transaction FACET name LIMIT 4000)",
            Err(
                "a subquery's LIMIT 4000 is above this server's cap of 1000: use LIMIT 1000 or fewer, or add FACET/WHERE to narrow",
            ),
        ),
        (
            &default,
            "FROM PageView JOIN (FROM PageAction SELECT count(*) FACET session LIMIT 1000) ON session SELECT count(*) LIMIT 100",
            Ok(()),
        ),
        (
            &at_max,
            "FROM PageView JOIN (FROM PageAction SELECT count(*) FACET session LIMIT MAX) ON session SELECT count(*)",
            Ok(()),
        ),
    ];
    for (policy, query, expected) in cases {
        assert_eq!(check(policy, query), expected.map_err(String::from), "{query}");
    }
}

#[test]
fn subquery_rule() {
    let default = Policy::default();
    let none = Policy { max_subqueries: 0, ..Policy::default() };
    let four = "SELECT count(*) FROM T WHERE a IN (FROM U SELECT uniques(a)) AND b IN (FROM U SELECT uniques(b)) AND c IN (FROM U SELECT uniques(c)) AND d > (SELECT average(d) FROM U)";
    let cases: Vec<(&Policy, &str, Result<(), &str>)> = vec![
        (&default, "SELECT count(*) FROM T WHERE d > (SELECT average(d) FROM T)", Ok(())),
        (
            &default,
            four,
            Err(
                "the query runs 4 subqueries, more than this server's limit of 3: run some as separate queries and use their results as literals",
            ),
        ),
        // A nested aggregation is not a subquery.
        (&none, "SELECT max(c) FROM (SELECT count(*) AS c FROM T TIMESERIES)", Ok(())),
        (
            &none,
            "SELECT count(*) FROM T WHERE d > (SELECT average(d) FROM T)",
            Err(
                "the query runs 1 subquery, and this server allows none: run each subquery as a separate query and use its result as a literal",
            ),
        ),
    ];
    for (policy, query, expected) in cases {
        assert_eq!(check(policy, query), expected.map_err(String::from), "{query}");
    }
}

#[test]
fn event_type_rule() {
    let default = Policy::default();
    let restricted = restricted();
    let nothing = Policy { allowed_event_types: Some(Vec::new()), ..Policy::default() };
    let cases: Vec<(&Policy, &str, Result<(), &str>)> = vec![
        (&default, "SELECT count(*) FROM PageView", Ok(())),
        (&restricted, "SELECT count(*) FROM Transaction", Ok(())),
        (&restricted, "SELECT count(*) FROM Transaction, Log", Ok(())),
        (
            &restricted,
            "SELECT count(*) FROM PageView",
            Err("event type 'PageView' is not allowed here; allowed: Transaction, Log"),
        ),
        // NRQL event types are case-sensitive.
        (
            &restricted,
            "SELECT count(*) FROM transaction",
            Err("event type 'transaction' is not allowed here; allowed: Transaction, Log"),
        ),
        (
            &restricted,
            "SELECT count(*) FROM Transaction WHERE session IN (FROM PageView SELECT uniques(session))",
            Err("event type 'PageView' is not allowed here; allowed: Transaction, Log"),
        ),
        (
            &restricted,
            "FROM Transaction JOIN (FROM Span SELECT count(*) FACET trace.id) ON trace.id SELECT count(*)",
            Err("event type 'Span' is not allowed here; allowed: Transaction, Log"),
        ),
        (
            &restricted,
            "SELECT max(c) FROM (SELECT count(*) AS c FROM SystemSample TIMESERIES)",
            Err("event type 'SystemSample' is not allowed here; allowed: Transaction, Log"),
        ),
        (
            &restricted,
            "SELECT count(*) FROM lookup(customers)",
            Err(
                "lookup table 'customers' is not allowed here, because this server restricts what queries read; allowed event types: Transaction, Log",
            ),
        ),
        // Listing event types would name the restricted ones too.
        (&default, "SHOW EVENT TYPES", Ok(())),
        (
            &restricted,
            "SHOW EVENT TYPES",
            Err(
                "SHOW EVENT TYPES is not allowed here, because this server restricts what queries read; allowed event types: Transaction, Log",
            ),
        ),
        (
            &nothing,
            "SHOW EVENT TYPES SINCE 1 day ago",
            Err(
                "SHOW EVENT TYPES is not allowed here, because this server restricts what queries read; allowed event types: none",
            ),
        ),
        (
            &nothing,
            "SELECT count(*) FROM Transaction",
            Err("event type 'Transaction' is not allowed here; allowed: none"),
        ),
    ];
    for (policy, query, expected) in cases {
        assert_eq!(check(policy, query), expected.map_err(String::from), "{query}");
    }
}

#[test]
fn account_rule() {
    let default = Policy::default();
    let listed = Policy { allowed_accounts: Some(vec![1, 2, 3]), ..Policy::default() };
    let cases: Vec<(&Policy, Vec<i64>, Result<(), &str>)> = vec![
        (&default, vec![], Ok(())),
        (&default, vec![10, 20, 30, 40, 50], Ok(())),
        (&default, vec![10, 10, 10, 10, 10, 10], Ok(())),
        (
            &default,
            vec![10, 20, 30, 40, 50, 60],
            Err(
                "the call targets 6 accounts, more than the 5 one NRQL query may span: split the accounts across several calls",
            ),
        ),
        (&listed, vec![1, 3], Ok(())),
        (&listed, vec![1, 4], Err("account 4 is not allowed here; allowed: 1, 2, 3")),
    ];
    for (policy, accounts, expected) in cases {
        assert_eq!(
            policy.check_accounts(&accounts).map_err(|violation| violation.to_string()),
            expected.map_err(String::from),
            "{accounts:?}"
        );
    }
    let query = parse("SELECT count(*) FROM Transaction").unwrap();
    assert_eq!(
        listed.check_call(&query, &[9], NOW),
        Err(PolicyViolation::AccountNotAllowed { account: 9, allowed: vec![1, 2, 3] })
    );
    assert_eq!(listed.check_call(&query, &[2], NOW), Ok(()));
}

#[test]
fn every_violation_is_listed_in_rule_order() {
    let policy = Policy { max_subqueries: 0, ..restricted() };
    let query = parse(
        "SELECT count(*) FROM PageView WHERE d > (SELECT average(d) FROM Transaction) LIMIT MAX SINCE 90 days ago",
    )
    .unwrap();
    let violations = policy.violations(&query, NOW);
    assert_eq!(
        violations,
        vec![
            PolicyViolation::EventTypeNotAllowed {
                event_type: "PageView".into(),
                allowed: vec!["Transaction".into(), "Log".into()]
            },
            PolicyViolation::TooManySubqueries { count: 1, max: 0 },
            PolicyViolation::LimitTooHigh { requested: Limit::Max, cap: 1_000, in_subquery: false },
            PolicyViolation::WindowTooLong {
                span: Duration::from_secs(90 * 86_400),
                limit: Duration::from_secs(30 * 86_400),
                compare_with: None,
                has_until: false,
                in_subquery: false,
            },
        ]
    );
    assert_eq!(policy.check(&query, NOW), Err(violations[0].clone()));
}

#[test]
fn any_clock_and_any_query_yield_an_answer_not_a_panic() {
    let queries = [
        "SELECT count(*) FROM T SINCE 18446744073709551615 years ago COMPARE WITH 18446744073709551615 years ago",
        "SELECT count(*) FROM T SINCE -9223372036854775808 UNTIL 9223372036854775807",
        "SELECT count(*) FROM T SINCE 9223372036854775807 UNTIL -9223372036854775808",
        "SELECT count(*) FROM T SINCE last quarter UNTIL this year",
        "SHOW EVENT TYPES SINCE sunday AT '11:59 pm'",
    ];
    for query in queries {
        let parsed = parse(query).unwrap();
        for now in [i64::MIN, -1, 0, NOW, i64::MAX] {
            let _ = Policy::default().violations(&parsed, now);
        }
    }
}
