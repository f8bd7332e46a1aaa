#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;

fn values(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect()
}

fn events() -> ParamType {
    ParamType::EventType(vec!["Transaction".into(), "Log".into()])
}

/// A template, its parameters, the values given, and the query expected.
type FillCase = (&'static str, Vec<ParamSpec>, Vec<(&'static str, Value)>, &'static str);

#[test]
fn fills_every_kind_of_position() {
    let cases: Vec<FillCase> = vec![
        (
            "SELECT count(*) FROM Transaction WHERE appName = {{app}}",
            vec![ParamSpec::new("app", ParamType::String)],
            vec![("app", json!("it's"))],
            r"SELECT count(*) FROM Transaction WHERE appName = 'it\'s'",
        ),
        (
            "SELECT average({{attr}}) FROM {{event}} FACET {{attr}} LIMIT {{limit}} SINCE {{since}} ago",
            vec![
                ParamSpec::new("attr", ParamType::Identifier),
                ParamSpec::new("event", events()),
                ParamSpec::new("limit", ParamType::Int).with_default(10),
                ParamSpec::new("since", ParamType::Duration).with_default("1 hour"),
            ],
            vec![("attr", json!("request.headers.User-Agent")), ("event", json!("Log"))],
            "SELECT average(`request.headers.User-Agent`) FROM Log FACET `request.headers.User-Agent` LIMIT 10 SINCE 1 hour ago",
        ),
        (
            "FROM Transaction SELECT count(*) WHERE duration > {{threshold}} AND retries < {{max}} TIMESERIES {{bucket}} COMPARE WITH {{offset}} ago",
            vec![
                ParamSpec::new("threshold", ParamType::Float),
                ParamSpec::new("max", ParamType::Int),
                ParamSpec::new("bucket", ParamType::Duration),
                ParamSpec::new("offset", ParamType::Duration),
            ],
            vec![
                ("threshold", json!(0.5)),
                ("max", json!(-3)),
                ("bucket", json!(300)),
                ("offset", json!("1 week")),
            ],
            "SELECT count(*) FROM Transaction WHERE duration > 0.5 AND retries < -3 COMPARE WITH 1 week ago TIMESERIES 5 minutes",
        ),
        (
            "SELECT count(*) FROM Log WHERE level IN ({{level}}, 'fatal') SINCE {{n}} minutes ago OFFSET {{n}}",
            vec![
                ParamSpec::new("level", ParamType::Enum(vec!["error".into(), "warn".into()])),
                ParamSpec::new("n", ParamType::Int),
            ],
            vec![("level", json!("warn")), ("n", json!(15))],
            "SELECT count(*) FROM Log WHERE level IN ('warn', 'fatal') OFFSET 15 SINCE 15 minutes ago",
        ),
        (
            "SELECT count(*) AS {{label}} FROM Transaction SINCE {{start}} UNTIL {{end}} WITH TIMEZONE {{zone}}",
            vec![
                ParamSpec::new("label", ParamType::String),
                ParamSpec::new("start", ParamType::String),
                ParamSpec::new("end", ParamType::Int),
                ParamSpec::new("zone", ParamType::String).with_default("UTC"),
            ],
            vec![
                ("label", json!("Requests (all)")),
                ("start", json!("2024-01-01 00:00:00")),
                ("end", json!(1_704_153_600_000_i64)),
            ],
            "SELECT count(*) AS 'Requests (all)' FROM Transaction SINCE '2024-01-01 00:00:00' UNTIL 1704153600000 WITH TIMEZONE 'UTC'",
        ),
        (
            "FROM Transaction JOIN (FROM Log SELECT count(*) FACET {{key}}) ON {{key}} SELECT rate(count(*), {{per}}) FACET CASES(WHERE name LIKE {{pattern}} AS {{label}})",
            vec![
                ParamSpec::new("key", ParamType::Identifier),
                ParamSpec::new("per", ParamType::Duration),
                ParamSpec::new("pattern", ParamType::String),
                ParamSpec::new("label", ParamType::String),
            ],
            vec![
                ("key", json!("`trace.id`")),
                ("per", json!("1 minute")),
                ("pattern", json!("%login%")),
                ("label", json!("Logins")),
            ],
            "SELECT rate(count(*), 1 minute) FROM Transaction JOIN (SELECT count(*) FROM Log FACET trace.id) ON trace.id FACET CASES(WHERE name LIKE '%login%' AS Logins)",
        ),
        (
            "SHOW EVENT TYPES SINCE {{since}} ago",
            vec![ParamSpec::new("since", ParamType::Duration)],
            vec![("since", json!("2 days"))],
            "SHOW EVENT TYPES SINCE 2 days ago",
        ),
    ];
    for (text, params, given, expected) in cases {
        let template = Template::parse(text, &params).unwrap_or_else(|error| panic!("{text}: {error}"));
        let filled =
            template.fill_to_string(&values(&given)).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(filled, expected, "{text}");
        assert_eq!(crate::print(&crate::parse(&filled).unwrap()), filled, "{text}");
    }
}

#[test]
fn refuses_bad_templates_with_actionable_errors() {
    let string = |name: &str| ParamSpec::new(name, ParamType::String);
    let cases: Vec<(&str, Vec<ParamSpec>, &str)> = vec![
        (
            "SELECT x FROM T WHERE a = {{b}}",
            vec![string("a")],
            "placeholder {{b}} at 1:27 has no declared parameter; declared: a",
        ),
        (
            "SELECT x FROM T",
            vec![string("a")],
            "parameter 'a' is declared but the template never uses {{a}}: use it or remove it",
        ),
        (
            "SELECT x FROM T WHERE a = {{a}}",
            vec![string("a"), string("a")],
            "parameter 'a' is declared twice",
        ),
        ("SELECT x FROM T WHERE a = {{a}}", vec![string("a-b")], "parameter name 'a-b' is not valid"),
        (
            "SELECT x FROM T WHERE a = {{a}}",
            vec![ParamSpec::new("a", ParamType::Enum(vec![]))],
            "parameter 'a' has no allowed values",
        ),
        (
            "SELECT x FROM T WHERE a = '{{a}}'",
            vec![string("a")],
            "placeholder {{a}} at 1:28 is inside a quoted string: write it bare",
        ),
        ("SELECT x FROM T WHERE a = '\u{0}'", vec![], "the template contains a NUL character"),
        (
            "SELECT x FROM T LIMIT 9223372036854775807",
            vec![],
            "the template contains the digits 9223372036854775",
        ),
        (
            "SELECT x FROM T WHERE a == = {{a}}",
            vec![string("a")],
            "the template is not valid NRQL: unexpected '=' at 1:28",
        ),
        (
            "SELECT x FROM T WHERE {{a}} {{b}}",
            vec![string("a"), string("b")],
            "the template is not valid NRQL: unexpected '{{b}}' at 1:29",
        ),
        (
            "SELECT x FROM {{a}}",
            vec![string("a")],
            "the template is not valid NRQL: unexpected '{{a}}' at 1:15 — FROM is followed by an event type",
        ),
        (
            "SELECT x FROM T LIMIT {{a}}",
            vec![ParamSpec::new("a", ParamType::Identifier)],
            "the template is not valid NRQL: unexpected '{{a}}' at 1:23",
        ),
        (
            "SELECT x FROM T WHERE a = {{e}}",
            vec![ParamSpec::new("e", events())],
            "placeholder {{e}} at 1:27 is of type event type and cannot stand in an attribute position: it stands for an event type in FROM, e.g. FROM {{e}}",
        ),
        (
            "SELECT x FROM {{a}}",
            vec![ParamSpec::new("a", ParamType::Identifier)],
            "placeholder {{a}} at 1:15 is of type identifier and cannot stand in FROM",
        ),
        (
            "SELECT x FROM T LIMIT {{f}}",
            vec![ParamSpec::new("f", ParamType::Float)],
            "placeholder {{f}} at 1:23 is of type float and cannot stand in LIMIT",
        ),
        (
            "SELECT x FROM T WHERE a = -{{n}}",
            vec![ParamSpec::new("n", ParamType::Int)],
            "placeholder {{n}} at 1:28 is negated or merged with other text",
        ),
        (
            "SELECT x FROM lookup({{t}})",
            vec![ParamSpec::new("t", ParamType::Identifier)],
            "placeholder {{t}} at 1:22 is of type identifier and cannot stand in a lookup table name",
        ),
        (
            "SELECT x FROM T LIMIT {{n}}",
            vec![ParamSpec::new("n", ParamType::Int).with_default(-1)],
            "the default of parameter 'n' is invalid: LIMIT takes a number of 0 or more, not -1",
        ),
        (
            "SELECT x FROM T SINCE {{d}} ago",
            vec![ParamSpec::new("d", ParamType::Duration).with_default("soon")],
            "the default of parameter 'd' is invalid: 'soon' is not a duration",
        ),
    ];
    for (text, params, expected) in cases {
        let error = Template::parse(text, &params).expect_err(text).to_string();
        assert!(error.starts_with(expected), "{text}\n  got:      {error}\n  expected: {expected}");
    }
}

#[test]
fn refuses_bad_values_naming_the_parameter() {
    let template = Template::parse(
        "SELECT count(*) FROM {{event}} WHERE appName = {{app}} FACET {{attr}} LIMIT {{limit}} SINCE {{n}} minutes ago",
        &[
            ParamSpec::new("event", events()),
            ParamSpec::new("app", ParamType::String),
            ParamSpec::new("attr", ParamType::Identifier).with_default("name"),
            ParamSpec::new("limit", ParamType::Int).with_default(10),
            ParamSpec::new("n", ParamType::Int).with_default(60),
        ],
    )
    .unwrap();
    let base = [("event", json!("Transaction")), ("app", json!("shop"))];
    let with = |extra: (&str, Value)| {
        let mut given = values(&base);
        given.insert(extra.0.to_owned(), extra.1);
        given
    };
    let cases: Vec<(BTreeMap<String, Value>, &str)> = vec![
        (values(&[("app", json!("shop"))]), "missing required parameter 'event' (event type)"),
        (
            with(("event", json!("PageView"))),
            "parameter 'event': 'PageView' is not an event type this tool reads; choose one of: Transaction, Log",
        ),
        (with(("app", json!(7))), "parameter 'app' must be a string, not a number"),
        (with(("attr", json!("a`b"))), "parameter 'attr': an attribute name cannot contain a backtick (`)"),
        (with(("limit", json!(-5))), "parameter 'limit': LIMIT takes a number of 0 or more, not -5"),
        (with(("n", json!(0))), "parameter 'n': the count of a duration in SINCE must be 1 or more, not 0"),
        (
            with(("bogus", json!(1))),
            "unknown parameter 'bogus'; this template takes: event, app, attr, limit, n",
        ),
    ];
    for (given, expected) in cases {
        assert_eq!(template.fill(&given).unwrap_err().to_string(), expected);
    }
    // null counts as absent: the default applies.
    let filled = template.fill_to_string(&with(("limit", Value::Null))).unwrap();
    assert_eq!(
        filled,
        "SELECT count(*) FROM Transaction WHERE appName = 'shop' FACET name LIMIT 10 SINCE 60 minutes ago"
    );
}

#[test]
fn placeholders_may_repeat_and_sentinel_look_alikes_stay_values() {
    let template = Template::parse(
        "SELECT count(*) FROM T WHERE a = {{v}} OR b = {{v}}",
        &[ParamSpec::new("v", ParamType::String)],
    )
    .unwrap();
    for value in ["\u{0}0\u{0}", "\u{0}1\u{0}", "9223372036854775807", "{{v}}"] {
        let query = template.fill(&values(&[("v", json!(value))])).unwrap();
        let printed = crate::print(&query);
        assert_eq!(crate::parse(&printed).unwrap(), query, "{value:?}");
        let mut strings = Vec::new();
        query.as_select().unwrap().visit_exprs(&mut |expr| {
            if let Expr::Literal(Literal::String(text)) = expr {
                strings.push(text.clone());
            }
        });
        assert_eq!(strings, vec![value.to_owned(), value.to_owned()]);
    }
}

#[test]
fn param_specs_read_from_manifests_and_describe_their_input() {
    let specs: Vec<ParamSpec> = serde_json::from_value(json!([
        { "name": "app", "type": "string", "description": "the application" },
        { "name": "level", "type": "enum", "values": ["error", "warn"], "default": "error" },
        { "name": "event", "type": "event_type", "values": ["Log"] },
        { "name": "since", "type": "duration", "default": "1 hour" },
    ]))
    .unwrap();
    assert_eq!(specs[0], ParamSpec::new("app", ParamType::String).with_description("the application"));
    assert_eq!(
        specs[1],
        ParamSpec::new("level", ParamType::Enum(vec!["error".into(), "warn".into()])).with_default("error")
    );
    assert_eq!(specs[2].kind, ParamType::EventType(vec!["Log".into()]));
    let template = Template::parse(
        "SELECT count(*) FROM {{event}} WHERE appName = {{app}} AND level = {{level}} SINCE {{since}} ago",
        &specs,
    )
    .unwrap();
    let schema = template.input_schema();
    assert_eq!(schema["required"], json!(["app", "event"]));
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(
        schema["properties"]["level"],
        json!({ "type": "string", "enum": ["error", "warn"], "default": "error" })
    );
    assert_eq!(schema["properties"]["app"]["description"], json!("the application"));
    let round_trip: Vec<ParamSpec> = serde_json::from_value(serde_json::to_value(&specs).unwrap()).unwrap();
    assert_eq!(round_trip, specs);
}
