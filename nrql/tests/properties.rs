//! Property tests: every tree the grammar can express prints to NRQL that parses back to
//! the same tree, and no input, however hostile, makes the lexer or parser panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use newrelic_mcp_nrql::ast::{
    Arg, BinaryOp, CalendarAnchor, Duration, Expr, FacetCase, FacetItem, FacetTarget, FromClause, InList,
    Join, JoinKind, Limit, Literal, OrderItem, Query, SelectItem, SelectQuery, ShowEventTypes, SlideBy,
    SortDirection, TimePoint, TimeUnit, Timeseries, TimeseriesBucket, UnaryOp, Variable, Weekday,
};
use newrelic_mcp_nrql::{lex, parse, print};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z_][a-zA-Z0-9_]{0,6}(\\.[a-zA-Z_][a-zA-Z0-9_]{0,4})?",
        1 => "[a-zA-Z0-9 .:`'\\-]{1,8}",
        1 => prop::sample::select(vec!["from", "minutes", "ago", "cases", "timezone", "max", "inner", "SELECT", "now"])
            .prop_map(String::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9 %_.*/:-]{0,10}",
        1 => "[\\\\'a\"]{0,6}",
        1 => any::<String>().prop_map(|value| value.chars().take(8).collect()),
    ]
}

fn unit() -> impl Strategy<Value = TimeUnit> {
    prop::sample::select(TimeUnit::ALL.to_vec())
}

fn duration() -> impl Strategy<Value = Duration> {
    (0u64..100_000, unit()).prop_map(|(amount, unit)| Duration { amount, unit })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::String),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>().prop_filter("finite", |value| value.is_finite()).prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

const FUNCTIONS: &[&str] =
    &["count", "average", "percentile", "if", "concat", "latest", "round", "aparse", "uniques"];
const BINARY_OPS: &[BinaryOp] = &[
    BinaryOp::Or,
    BinaryOp::And,
    BinaryOp::Eq,
    BinaryOp::NotEq,
    BinaryOp::Lt,
    BinaryOp::LtEq,
    BinaryOp::Gt,
    BinaryOp::GtEq,
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
];

fn expr_with(subquery: BoxedStrategy<SelectQuery>) -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![name().prop_map(Expr::Attribute), literal().prop_map(Expr::Literal)];
    leaf.prop_recursive(4, 24, 3, move |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        let arg = prop_oneof![
            3 => inner.clone().prop_map(Arg::Expr),
            1 => Just(Arg::Wildcard),
            1 => (inner.clone(), prop::option::of(text())).prop_map(|(condition, label)| Arg::Where { condition, label }),
            1 => duration().prop_map(Arg::Duration),
            1 => (prop::sample::select(vec!["t", "width", "precision", "timezone"]), inner.clone())
                .prop_map(|(name, value)| Arg::Named { name: name.into(), value }),
        ];
        prop_oneof![
            (prop::sample::select(FUNCTIONS), prop::collection::vec(arg, 0..3))
                .prop_map(|(name, args)| Expr::Function { name: name.into(), args }),
            (prop::sample::select(vec![UnaryOp::Neg, UnaryOp::Not]), boxed.clone())
                .prop_map(|(op, expr)| Expr::Unary { op, expr }),
            (prop::sample::select(BINARY_OPS), boxed.clone(), boxed.clone())
                .prop_map(|(op, left, right)| Expr::Binary { op, left, right }),
            (boxed.clone(), prop::collection::vec(inner.clone(), 1..3), any::<bool>())
                .prop_map(|(expr, values, negated)| Expr::In { expr, list: InList::Values(values), negated }),
            (boxed.clone(), subquery.clone(), any::<bool>())
                .prop_map(|(expr, query, negated)| Expr::In { expr, list: InList::Subquery(Box::new(query)), negated }),
            (boxed.clone(), boxed.clone(), any::<bool>()).prop_map(|(expr, pattern, negated)| Expr::Like { expr, pattern, negated }),
            (boxed.clone(), boxed.clone(), any::<bool>()).prop_map(|(expr, pattern, negated)| Expr::Rlike { expr, pattern, negated }),
            (boxed.clone(), any::<bool>()).prop_map(|(expr, negated)| Expr::IsNull { expr, negated }),
            (boxed.clone(), any::<bool>(), any::<bool>()).prop_map(|(expr, value, negated)| Expr::IsBool { expr, value, negated }),
            (boxed.clone(), boxed).prop_map(|(expr, index)| Expr::Index { expr, index }),
            subquery.clone().prop_map(|query| Expr::Subquery(Box::new(query))),
        ]
    })
}

fn time_point() -> impl Strategy<Value = TimePoint> {
    let day = prop_oneof![
        Just(TimePoint::Today),
        Just(TimePoint::Yesterday),
        prop::sample::select(Weekday::ALL.to_vec()).prop_map(TimePoint::Weekday),
    ];
    prop_oneof![
        duration().prop_map(TimePoint::Ago),
        Just(TimePoint::Now),
        day.clone(),
        (prop::sample::select(vec![CalendarAnchor::This, CalendarAnchor::Last]), unit())
            .prop_map(|(which, unit)| TimePoint::Calendar { which, unit }),
        any::<i64>().prop_map(TimePoint::EpochMillis),
        text().prop_map(TimePoint::DateTime),
        (day, "[0-9:]{4,8}").prop_map(|(day, time)| TimePoint::DayAt { day: Box::new(day), time }),
    ]
}

fn timeseries() -> impl Strategy<Value = Timeseries> {
    let bucket = prop_oneof![
        Just(TimeseriesBucket::Default),
        Just(TimeseriesBucket::Auto),
        Just(TimeseriesBucket::Max),
        duration().prop_map(TimeseriesBucket::Every),
    ];
    let slide = prop_oneof![Just(SlideBy::Auto), Just(SlideBy::Max), duration().prop_map(SlideBy::Every)];
    (bucket, prop::option::of(slide)).prop_map(|(bucket, slide_by)| Timeseries { bucket, slide_by })
}

fn variable(expr: BoxedStrategy<Expr>) -> impl Strategy<Value = Variable> {
    prop_oneof![
        (expr.clone(), name()).prop_map(|(expr, name)| Variable {
            expr,
            names: vec![name],
            destructure: false
        }),
        (expr, prop::collection::vec(name(), 1..3)).prop_map(|(expr, names)| Variable {
            expr,
            names,
            destructure: true
        }),
    ]
}

/// A query whose parts are drawn from `expr`, reading from `from`.
fn query_from(
    expr: BoxedStrategy<Expr>,
    from: BoxedStrategy<FromClause>,
    join: BoxedStrategy<Vec<Join>>,
) -> impl Strategy<Value = SelectQuery> {
    let select_item = prop_oneof![
        1 => Just(SelectItem::Wildcard),
        4 => (expr.clone(), prop::option::of(text())).prop_map(|(expr, alias)| SelectItem::Expr { expr, alias }),
    ];
    let facet_case = (expr.clone(), prop::option::of(text()))
        .prop_map(|(condition, label)| FacetCase { condition, label })
        .boxed();
    let facet_target = prop_oneof![
        3 => expr.clone().prop_map(FacetTarget::Expr),
        1 => prop::collection::vec(facet_case.clone(), 1..3).prop_map(FacetTarget::Cases),
        1 => (prop::collection::vec(facet_case, 1..3), expr.clone())
            .prop_map(|(cases, fallback)| FacetTarget::CasesOr { cases, fallback: Box::new(fallback) }),
    ];
    let facet_item =
        (facet_target, prop::option::of(text())).prop_map(|(target, alias)| FacetItem { target, alias });
    let direction =
        prop::option::of(prop::sample::select(vec![SortDirection::Ascending, SortDirection::Descending]));
    let order_item = (expr.clone(), direction).prop_map(|(expr, direction)| OrderItem { expr, direction });
    let limit = prop::option::of(prop_oneof![any::<u64>().prop_map(Limit::Count), Just(Limit::Max)]);
    (
        (
            prop::collection::vec(select_item, 1..3),
            from,
            prop::collection::vec(variable(expr.clone()), 0..2),
            join,
        ),
        (
            prop::option::of(expr),
            prop::collection::vec(facet_item, 0..2),
            prop::collection::vec(order_item, 0..2),
        ),
        (
            limit,
            prop::option::of(any::<u64>()),
            prop::option::of(time_point()),
            prop::option::of(time_point()),
        ),
        (
            prop::option::of(duration()),
            prop::option::of(timeseries()),
            prop::option::of(text()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (select, from, variables, joins),
                (where_clause, facet, order_by),
                (limit, offset, since, until),
                (compare_with, timeseries, timezone, extrapolate),
            )| SelectQuery {
                select,
                from,
                variables,
                joins,
                where_clause,
                facet,
                order_by,
                limit,
                offset,
                since,
                until,
                compare_with,
                timeseries,
                timezone,
                extrapolate,
            },
        )
}

fn event_types() -> BoxedStrategy<FromClause> {
    prop_oneof![
        4 => prop::collection::vec(name(), 1..3).prop_map(FromClause::EventTypes),
        1 => name().prop_map(FromClause::Lookup),
    ]
    .boxed()
}

/// Subqueries: simple expressions, a real FROM, no nested subqueries.
fn subquery() -> BoxedStrategy<SelectQuery> {
    let leaf = prop_oneof![name().prop_map(Expr::Attribute), literal().prop_map(Expr::Literal)].boxed();
    query_from(leaf, event_types(), Just(Vec::new()).boxed()).boxed()
}

fn select_query() -> impl Strategy<Value = SelectQuery> {
    let expr = expr_with(subquery()).boxed();
    let from = prop_oneof![4 => event_types(), 1 => subquery().prop_map(|query| FromClause::Subquery(Box::new(query)))].boxed();
    let join = (
        prop::sample::select(vec![JoinKind::Inner, JoinKind::Left]),
        subquery(),
        name(),
        prop::option::of(name()),
    )
        .prop_map(|(kind, subquery, outer_key, inner_key)| Join {
            kind,
            subquery: Box::new(subquery),
            outer_key,
            inner_key,
        });
    query_from(expr, from, prop::collection::vec(join, 0..2).boxed())
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        8 => select_query().prop_map(Query::Select),
        // A query without FROM is valid only over WITH variables.
        1 => select_query().prop_filter("needs variables", |query| !query.variables.is_empty()).prop_map(|mut query| {
            query.from = FromClause::EventTypes(Vec::new());
            // JOIN only exists right after FROM.
            query.joins.clear();
            Query::Select(query)
        }),
        1 => (prop::option::of(time_point()), prop::option::of(time_point()))
            .prop_map(|(since, until)| Query::ShowEventTypes(ShowEventTypes { since, until })),
    ]
}

const VOCABULARY: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "FACET",
    "CASES",
    "LIMIT",
    "MAX",
    "OFFSET",
    "SINCE",
    "UNTIL",
    "AGO",
    "TIMESERIES",
    "SLIDE",
    "BY",
    "AUTO",
    "COMPARE",
    "WITH",
    "TIMEZONE",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "RLIKE",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "ORDER",
    "ASC",
    "DESC",
    "JOIN",
    "LEFT",
    "ON",
    "EXTRAPOLATE",
    "SHOW",
    "EVENT",
    "TYPES",
    "today",
    "this",
    "week",
    "lookup",
    "at",
    "monday",
    "count",
    "(",
    ")",
    "[",
    "]",
    "*",
    "+",
    "-",
    "/",
    ",",
    ":",
    "=",
    "!=",
    "<",
    ">=",
    "5",
    "1.5",
    "5 minutes",
    "'a'",
    "'",
    "`b`",
    "`",
    "x",
    "y.z",
    "--",
    "/*",
    "*/",
    "\n",
];

#[test]
fn printed_trees_parse_back_to_themselves() {
    // Building these nested strategies takes more stack than a debug test thread has.
    let worker = std::thread::Builder::new().stack_size(64 << 20).spawn(|| {
        let mut runner = TestRunner::new(ProptestConfig { cases: 512, ..ProptestConfig::default() });
        let outcome = runner.run(&query(), |query| {
            let printed = print(&query);
            let reparsed = parse(&printed);
            prop_assert_eq!(reparsed.as_ref(), Ok(&query), "printed: {}", printed);
            prop_assert_eq!(print(reparsed.as_ref().unwrap()), printed);
            Ok(())
        });
        outcome.map_err(|failure| failure.to_string())
    });
    let outcome = worker.unwrap().join().unwrap();
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        let _ = lex(&input);
        let _ = parse(&input);
    }

    #[test]
    fn token_soup_never_panics_and_errors_point_inside_the_input(
        words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..40)
    ) {
        let input = words.join(" ");
        if let Err(error) = parse(&input) {
            let lines: Vec<&str> = input.split('\n').collect();
            prop_assert!(error.line >= 1 && (error.line as usize) <= lines.len(), "{}: {}", input, error);
            let line = lines[error.line as usize - 1];
            prop_assert!(error.column >= 1 && (error.column as usize) <= line.chars().count() + 1, "{}: {}", input, error);
        }
    }

    #[test]
    fn parsed_queries_round_trip(words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..30)) {
        let input = words.join(" ");
        if let Ok(query) = parse(&input) {
            let printed = print(&query);
            prop_assert_eq!(parse(&printed), Ok(query), "input: {} printed: {}", input, printed);
        }
    }
}
