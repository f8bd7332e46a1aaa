#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::ast::{Arg, Expr, FacetTarget, FromClause, Limit, Literal, Query, SelectItem, SelectQuery};
use crate::print;

fn select(input: &str) -> SelectQuery {
    match parse(input) {
        Ok(Query::Select(query)) => query,
        other => panic!("{input}: {other:?}"),
    }
}

fn where_of(input: &str) -> Expr {
    select(&format!("SELECT * FROM T WHERE {input}")).where_clause.unwrap()
}

fn attr(name: &str) -> Expr {
    Expr::attribute(name)
}

fn int(value: i64) -> Expr {
    Expr::Literal(Literal::Int(value))
}

fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    binary(op, left, right)
}

#[test]
fn operators_bind_by_precedence() {
    let cases = [
        ("a = 1 OR b = 2 AND c = 3", {
            bin(
                BinaryOp::Or,
                bin(BinaryOp::Eq, attr("a"), int(1)),
                bin(
                    BinaryOp::And,
                    bin(BinaryOp::Eq, attr("b"), int(2)),
                    bin(BinaryOp::Eq, attr("c"), int(3)),
                ),
            )
        }),
        ("NOT a AND b", {
            bin(BinaryOp::And, Expr::Unary { op: UnaryOp::Not, expr: Box::new(attr("a")) }, attr("b"))
        }),
        ("a + b * c > 1", {
            bin(BinaryOp::Gt, bin(BinaryOp::Add, attr("a"), bin(BinaryOp::Mul, attr("b"), attr("c"))), int(1))
        }),
        ("a - b - c = 0", {
            bin(BinaryOp::Eq, bin(BinaryOp::Sub, bin(BinaryOp::Sub, attr("a"), attr("b")), attr("c")), int(0))
        }),
        ("(a + b) * -2 <> 0", {
            bin(
                BinaryOp::NotEq,
                bin(BinaryOp::Mul, bin(BinaryOp::Add, attr("a"), attr("b")), int(-2)),
                int(0),
            )
        }),
        ("-x < 1.5", {
            bin(BinaryOp::Lt, Expr::Unary { op: UnaryOp::Neg, expr: Box::new(attr("x")) }, {
                Expr::Literal(Literal::Float(1.5))
            })
        }),
    ];
    for (input, expected) in cases {
        assert_eq!(where_of(input), expected, "{input}");
    }
}

#[test]
fn predicates_parse_to_their_nodes() {
    let x = || Box::new(attr("x"));
    let text = |value: &str| Box::new(Expr::Literal(Literal::String(value.into())));
    let cases = [
        (
            "x IN ('a', 'b')",
            Expr::In { expr: x(), list: InList::Values(vec![*text("a"), *text("b")]), negated: false },
        ),
        ("x NOT IN (1)", Expr::In { expr: x(), list: InList::Values(vec![int(1)]), negated: true }),
        ("x LIKE '%a%'", Expr::Like { expr: x(), pattern: text("%a%"), negated: false }),
        ("x NOT LIKE 'a'", Expr::Like { expr: x(), pattern: text("a"), negated: true }),
        ("x RLIKE r'\\d+'", Expr::Rlike { expr: x(), pattern: text("\\d+"), negated: false }),
        ("x NOT RLIKE 'a.*'", Expr::Rlike { expr: x(), pattern: text("a.*"), negated: true }),
        ("x IS NULL", Expr::IsNull { expr: x(), negated: false }),
        ("x is not null", Expr::IsNull { expr: x(), negated: true }),
        ("x IS TRUE", Expr::IsBool { expr: x(), value: true, negated: false }),
        ("x IS NOT FALSE", Expr::IsBool { expr: x(), value: false, negated: true }),
        ("x = TRUE", bin(BinaryOp::Eq, attr("x"), Expr::Literal(Literal::Bool(true)))),
        ("x != NULL", bin(BinaryOp::NotEq, attr("x"), Expr::Literal(Literal::Null))),
        ("`my attr-1` >= 2", bin(BinaryOp::GtEq, attr("my attr-1"), int(2))),
        ("request.uri <= 2", bin(BinaryOp::LtEq, attr("request.uri"), int(2))),
    ];
    for (input, expected) in cases {
        assert_eq!(where_of(input), expected, "{input}");
    }
}

#[test]
fn function_arguments_keep_their_kind() {
    let query = select(
        "SELECT count(*), percentile(duration, 95, 99), rate(count(*), 1 minute), \
         filter(count(*), WHERE error IS TRUE), apdex(duration, t: 0.4), keyset() FROM Transaction",
    );
    let args: Vec<Vec<Arg>> = query
        .select
        .iter()
        .map(|item| match item {
            SelectItem::Expr { expr: Expr::Function { args, .. }, .. } => args.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(args[0], vec![Arg::Wildcard]);
    assert_eq!(args[1], vec![Arg::Expr(attr("duration")), Arg::Expr(int(95)), Arg::Expr(int(99))]);
    assert!(matches!(args[2][1], Arg::Duration(Duration { amount: 1, unit: TimeUnit::Minute })));
    assert!(matches!(&args[3][1], Arg::Where { label: None, .. }));
    assert!(matches!(&args[4][1], Arg::Named { name, .. } if name == "t"));
    assert!(args[5].is_empty());
    assert!(query.is_aggregate());
}

#[test]
fn clauses_may_follow_from_in_any_order_and_keywords_in_any_case() {
    let canonical = select(
        "SELECT count(*) FROM Transaction WHERE appName = 'a' FACET host LIMIT 5 SINCE 1 day ago TIMESERIES AUTO",
    );
    for variant in [
        "FROM Transaction SELECT count(*) WHERE appName = 'a' FACET host LIMIT 5 SINCE 1 day ago TIMESERIES AUTO",
        "from Transaction timeseries auto since 1 DAY AGO limit 5 facet host where appName = 'a' select count(*)",
        "SELECT count(*)\n  FROM Transaction -- the events\n  SINCE 1 day ago /* window */ FACET host\n  WHERE appName = 'a' LIMIT 5 TIMESERIES auto",
    ] {
        assert_eq!(select(variant), canonical, "{variant}");
    }
}

#[test]
fn time_points_parse() {
    let cases = [
        ("1 hour ago", TimePoint::Ago(Duration { amount: 1, unit: TimeUnit::Hour })),
        ("30 MINUTES AGO", TimePoint::Ago(Duration { amount: 30, unit: TimeUnit::Minute })),
        ("1704067200000", TimePoint::EpochMillis(1_704_067_200_000)),
        ("'2024-01-01 00:00:00'", TimePoint::DateTime("2024-01-01 00:00:00".into())),
        ("today", TimePoint::Today),
        ("YESTERDAY", TimePoint::Yesterday),
        ("now", TimePoint::Now),
        ("this week", TimePoint::Calendar { which: CalendarAnchor::This, unit: TimeUnit::Week }),
        ("last month", TimePoint::Calendar { which: CalendarAnchor::Last, unit: TimeUnit::Month }),
        ("monday", TimePoint::Weekday(Weekday::Monday)),
        (
            "yesterday AT '01:23'",
            TimePoint::DayAt { day: Box::new(TimePoint::Yesterday), time: "01:23".into() },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(select(&format!("SELECT * FROM T SINCE {input}")).since, Some(expected), "{input}");
    }
}

#[test]
fn timeseries_limit_and_joins_parse() {
    let query = select(
        "FROM T LEFT JOIN (FROM U SELECT count(*) FACET k LIMIT MAX) ON a = k SELECT count(*) \
         TIMESERIES 5 minutes SLIDE BY 1 minute LIMIT MAX OFFSET 10 COMPARE WITH 1 week ago EXTRAPOLATE",
    );
    assert_eq!(query.joins.len(), 1);
    assert_eq!(query.joins[0].kind, JoinKind::Left);
    assert_eq!(query.joins[0].outer_key, "a");
    assert_eq!(query.joins[0].inner_key.as_deref(), Some("k"));
    assert_eq!(query.joins[0].subquery.limit, Some(Limit::Max));
    let timeseries = query.timeseries.unwrap();
    assert_eq!(timeseries.bucket, TimeseriesBucket::Every(Duration { amount: 5, unit: TimeUnit::Minute }));
    assert_eq!(timeseries.slide_by, Some(SlideBy::Every(Duration { amount: 1, unit: TimeUnit::Minute })));
    assert_eq!(query.limit, Some(Limit::Max));
    assert_eq!(query.offset, Some(10));
    assert_eq!(query.compare_with, Some(Duration { amount: 1, unit: TimeUnit::Week }));
    assert!(query.extrapolate);
    assert_eq!(
        select("SELECT count(*) FROM T TIMESERIES").timeseries.unwrap().bucket,
        TimeseriesBucket::Default
    );
}

#[test]
fn facets_cover_expressions_cases_and_buckets() {
    let query = select(
        "SELECT count(*) FROM T FACET appName AS 'App', buckets(duration, 10, 5), \
         CASES(WHERE duration < 1 AS 'fast', WHERE duration >= 1) OR name",
    );
    assert_eq!(query.facet.len(), 3);
    assert_eq!(query.facet[0].alias.as_deref(), Some("App"));
    assert!(
        matches!(&query.facet[1].target, FacetTarget::Expr(Expr::Function { name, .. }) if name == "buckets")
    );
    assert!(matches!(&query.facet[2].target, FacetTarget::CasesOr { cases, .. } if cases.len() == 2));
}

#[test]
fn from_accepts_several_event_types_subqueries_and_lookups() {
    assert_eq!(
        select("SELECT count(*) FROM Transaction, `My.Event`").from,
        FromClause::EventTypes(vec!["Transaction".into(), "My.Event".into()])
    );
    assert!(matches!(
        select("SELECT max(c) FROM (SELECT count(*) AS c FROM T TIMESERIES)").from,
        FromClause::Subquery(_)
    ));
    assert_eq!(select("FROM lookup(hosts) SELECT *").from, FromClause::Lookup("hosts".into()));
}

#[test]
fn errors_report_kind_and_position() {
    let cases = [
        ("", ParseErrorKind::EmptyInput, 1, 1),
        ("  -- just a comment", ParseErrorKind::EmptyInput, 1, 1),
        ("SELECT count(*)\nFROM T\nWHERE x = 'open", ParseErrorKind::Unterminated, 3, 11),
        ("SELECT count(*)\n  FORM T", ParseErrorKind::UnexpectedToken, 2, 3),
        ("SELECT count(*) FROM T\nWHERE (a = 1", ParseErrorKind::UnbalancedParentheses, 2, 13),
        ("SELECT count(*) WHERE a = 1", ParseErrorKind::MissingFrom, 1, 28),
        ("FROM T WHERE a = 1", ParseErrorKind::MissingSelect, 1, 19),
        ("SELECT count(*) FROM T stray", ParseErrorKind::TrailingInput, 1, 24),
        ("SELECT count(*) FROM T WHERE a = 1 WHERE b = 2", ParseErrorKind::DuplicateClause, 1, 36),
        ("SELECT x FROM T WHERE é = 1", ParseErrorKind::InvalidCharacter, 1, 23),
        ("SELECT 'é' FROM T WHERE", ParseErrorKind::UnexpectedEnd, 1, 24),
    ];
    for (input, kind, line, column) in cases {
        let error = parse(input).unwrap_err();
        assert_eq!((error.kind, error.line, error.column), (kind, line, column), "{input}: {error}");
    }
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep_parens = format!("SELECT {}1{} FROM T", "(".repeat(10_000), ")".repeat(10_000));
    let deep_calls = format!("SELECT {}1{} FROM T", "f(".repeat(10_000), ")".repeat(10_000));
    let deep_not = format!("SELECT * FROM T WHERE {} a", "NOT ".repeat(10_000));
    let long_chain = format!("SELECT 1{} FROM T", " + 1".repeat(100_000));
    let deep_subqueries = format!("{}SELECT 1 FROM T{}", "SELECT 1 FROM (".repeat(1_000), ")".repeat(1_000));
    let deep_index = format!("SELECT x{} FROM T", "[0]".repeat(10_000));
    for input in [deep_parens, deep_calls, deep_not, long_chain, deep_subqueries, deep_index] {
        let error = parse(&input).unwrap_err();
        assert_eq!(error.kind, ParseErrorKind::TooDeep, "{error}");
    }
    // Nesting within the limits is fine.
    let nested = format!("SELECT {}1{} FROM T", "(".repeat(MAX_NESTING - 1), ")".repeat(MAX_NESTING - 1));
    assert!(parse(&nested).is_ok());
    let chain = format!("SELECT * FROM T WHERE a = 1{}", " OR a = 1".repeat(200));
    assert!(parse(&chain).is_ok());
}

#[test]
fn printing_is_canonical() {
    let cases = [
        ("from T select count(*) since 1 hour ago", "SELECT count(*) FROM T SINCE 1 hour ago"),
        (
            "SELECT a-b-c, a-(b-c), (a*b)/c, a/(b*c) FROM T",
            "SELECT a - b - c, a - (b - c), a * b / c, a / (b * c) FROM T",
        ),
        ("SELECT - -5, -(5), -x FROM T", "SELECT -(-5), -(5), -x FROM T"),
        (
            "SELECT * FROM T WHERE NOT (a AND b) OR (c OR d) AND e",
            "SELECT * FROM T WHERE NOT (a AND b) OR (c OR d) AND e",
        ),
        (
            "SELECT * FROM T WHERE x = 'it''s' AND y = 'a\\'b' AND z = '\\d'",
            "SELECT * FROM T WHERE x = 'it\\'s' AND y = 'a\\'b' AND z = '\\d'",
        ),
        (
            "SELECT `from`, `my attr`, `a``b`, `minutes` FROM `Weird-Type`",
            "SELECT `from`, `my attr`, `a``b`, `minutes` FROM `Weird-Type`",
        ),
        (
            "SELECT count(*) AS requests, sum(x) AS 'Sum of x' FROM T",
            "SELECT count(*) AS requests, sum(x) AS 'Sum of x' FROM T",
        ),
        ("SELECT 1.0, 2.50, 1e3 FROM T", "SELECT 1.0, 2.5, 1000.0 FROM T"),
        ("WITH 5 AS five SELECT five", "WITH 5 AS five SELECT five"),
        ("SHOW EVENT TYPES since 1 day ago", "SHOW EVENT TYPES SINCE 1 day ago"),
    ];
    for (input, expected) in cases {
        let query = parse(input).unwrap();
        let printed = print(&query);
        assert_eq!(printed, expected, "{input}");
        assert_eq!(parse(&printed).unwrap(), query, "{input}");
    }
}
