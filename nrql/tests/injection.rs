//! Injection tests: hostile parameter values must never change a template's query.
//!
//! For every value of a hostile corpus and every representative template, the filled
//! query is printed, parsed back, and compared with the template parsed on its own: the
//! trees must have the same shape, and the value must sit, byte for byte, in exactly the
//! nodes its placeholder occupies — nowhere else. The reference tree is built from the
//! template text alone (placeholder swapped for a marker by hand), independently of the
//! template machinery under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use newrelic_mcp_nrql::{ParamSpec, ParamType, Template, TemplateError, parse, print};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Stands in for the parameter in the reference tree.
const MARKER: &str = "⟦param⟧";

fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "'",
        "''",
        "'''",
        "\\",
        "\\\\",
        "abc\\",
        "`",
        "``",
        "`appName`",
        "--",
        "//",
        "/*",
        "*/",
        "/* ' */",
        "' /*",
        "*/ OR true /*",
        "' OR true --",
        "' OR '1'='1",
        "' FACET appName LIMIT MAX --",
        "' SINCE 90 days ago UNTIL NOW --",
        "' COMPARE WITH 1 week ago --",
        "a' AND duration > 0 SINCE 1 week ago --",
        "') OR appName IN (SELECT uniques(appName) FROM Transaction) --",
        "x' OR appName IN (SELECT appName FROM Transaction WHERE '1' = '1",
        "') --",
        "' || '",
        "'; DROP TABLE Transaction; --",
        "\" OR \"\"=\"",
        "\\'",
        "\\\\'",
        "\\' OR 1=1 --",
        "r'raw'",
        "\n",
        "\r",
        "\t",
        "\r\n",
        "'\n FACET name --",
        "x\r\n-- comment",
        "\0",
        "\u{1}\u{7f}",
        "\u{2018}",
        "\u{2019}",
        "\u{2bc}",
        "\u{ff07}",
        "\u{2018} OR true --",
        "",
        " ",
        "🔥💥",
        "👨‍👩‍👧",
        "\u{200f}",
        "\u{202e}evil\u{202c}",
        "\u{feff}",
        "\u{2028}",
        "e\u{301}",
        "%",
        "_",
        "%_%",
        "%' OR name LIKE '%",
        "{{other}}",
        "{{v}}",
        "{{ v }} AND {{attr}}",
        "\u{0}0\u{0}",
        "9223372036854775807",
        "SELECT * FROM Transaction",
        "WITH TIMEZONE 'x'",
        "end'",
        "'start",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    values.push("x".repeat(10_000));
    values.push("\\'".repeat(5_000));
    values.push("' OR true --".repeat(900));
    values
}

/// Representative templates with one string parameter `v`.
const STRING_TEMPLATES: &[&str] = &[
    "SELECT count(*) FROM Transaction WHERE appName = {{v}} FACET name SINCE 1 hour ago LIMIT 10",
    "SELECT count(*) FROM Log WHERE message LIKE {{v}} AND level != 'debug' SINCE 30 minutes ago",
    "SELECT count(*) FROM Transaction WHERE appName IN ({{v}}, 'checkout') AND host != {{v}} FACET host",
    "SELECT percentage(count(*), WHERE error IS TRUE) AS {{v}} FROM Transaction FACET CASES(WHERE name LIKE {{v}} AS 'matched') TIMESERIES",
];

/// A template with one identifier parameter `attr`.
const IDENTIFIER_TEMPLATE: &str =
    "SELECT count(*), average({{attr}}) FROM Transaction WHERE appName = 'checkout' FACET {{attr}} LIMIT 20";

fn one(name: &str, value: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([(name.to_owned(), json!(value))])
}

/// The template parsed on its own, the placeholder written as `replacement`.
fn reference(template: &str, placeholder: &str, replacement: &str) -> Value {
    let text = template.replace(placeholder, replacement);
    serde_json::to_value(parse(&text).unwrap_or_else(|error| panic!("{text}: {error}"))).unwrap()
}

/// The tree with every scalar blanked: the clauses, node kinds and node counts remain.
fn shape(tree: &Value) -> Value {
    match tree {
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(key, value)| (key.clone(), shape(value))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        _ => Value::Null,
    }
}

/// Asserts `got` equals `expected` except where `expected` holds [`MARKER`], where `got`
/// must hold exactly `value`. Returns how many marker positions were matched.
fn assert_confined(expected: &Value, got: &Value, value: &str, path: &str) -> usize {
    match (expected, got) {
        (Value::String(marker), Value::String(found)) if marker == MARKER => {
            assert!(found == value, "at {path}: expected the value byte for byte, found {found:?}");
            1
        }
        (Value::Object(expected_fields), Value::Object(got_fields)) => {
            let expected_keys: Vec<&String> = expected_fields.keys().collect();
            let got_keys: Vec<&String> = got_fields.keys().collect();
            assert_eq!(expected_keys, got_keys, "at {path}");
            expected_fields
                .iter()
                .map(|(key, inner)| assert_confined(inner, &got_fields[key], value, &format!("{path}.{key}")))
                .sum()
        }
        (Value::Array(expected_items), Value::Array(got_items)) => {
            assert_eq!(expected_items.len(), got_items.len(), "at {path}");
            expected_items
                .iter()
                .zip(got_items)
                .enumerate()
                .map(|(index, (inner, found))| {
                    assert_confined(inner, found, value, &format!("{path}[{index}]"))
                })
                .sum()
        }
        _ => {
            assert_eq!(expected, got, "at {path}");
            0
        }
    }
}

/// Fills `template` with `value` for `name`, prints, parses back, and checks the result
/// against `expected` (the reference tree) with `stored` in every marker position.
fn assert_keeps_shape(template: &Template, name: &str, value: &str, stored: &str, expected: &Value) {
    let filled = template.fill(&one(name, value)).unwrap_or_else(|error| panic!("{value:?}: {error}"));
    let printed = print(&filled);
    let reparsed =
        parse(&printed).unwrap_or_else(|error| panic!("{value:?}: printed query does not parse: {error}"));
    assert_eq!(reparsed, filled, "{value:?}: printing changed the query");
    let got = serde_json::to_value(&reparsed).unwrap();
    assert_eq!(shape(&got), shape(expected), "{value:?}: the query changed shape");
    let markers = template.text().matches(&format!("{{{{{name}}}}}")).count();
    let found = assert_confined(expected, &got, stored, "query");
    assert_eq!(found, markers, "{value:?}: the value must fill exactly its {markers} placeholder(s)");
}

#[test]
fn the_corpus_is_large_and_varied() {
    let values = hostile_values();
    assert!(values.len() >= 50, "only {} hostile values", values.len());
    assert!(values.iter().any(|value| value.chars().count() >= 10_000));
}

#[test]
fn hostile_strings_stay_one_literal() {
    let spec = [ParamSpec::new("v", ParamType::String)];
    for text in STRING_TEMPLATES {
        let template = Template::parse(text, &spec).unwrap_or_else(|error| panic!("{text}: {error}"));
        let expected = reference(text, "{{v}}", &format!("'{MARKER}'"));
        for value in hostile_values() {
            assert_keeps_shape(&template, "v", &value, &value, &expected);
        }
    }
}

#[test]
fn hostile_enum_choices_stay_one_literal() {
    // Enum choices come from a manifest author, not the caller; even so they are values.
    let choices = hostile_values();
    let spec = [ParamSpec::new("v", ParamType::Enum(choices.clone()))];
    let text = STRING_TEMPLATES[0];
    let template = Template::parse(text, &spec).unwrap();
    let expected = reference(text, "{{v}}", &format!("'{MARKER}'"));
    for value in &choices {
        assert_keeps_shape(&template, "v", value, value, &expected);
    }
    assert!(matches!(
        template.fill(&one("v", "not a choice")),
        Err(TemplateError::InvalidValue { name, .. }) if name == "v"
    ));
}

#[test]
fn hostile_identifiers_are_refused_or_stay_one_attribute() {
    let template =
        Template::parse(IDENTIFIER_TEMPLATE, &[ParamSpec::new("attr", ParamType::Identifier)]).unwrap();
    let expected = reference(IDENTIFIER_TEMPLATE, "{{attr}}", &format!("`{MARKER}`"));
    let mut accepted = 0;
    for value in hostile_values() {
        match template.fill(&one("attr", &value)) {
            Ok(_) => {
                let stored =
                    value.strip_prefix('`').and_then(|inner| inner.strip_suffix('`')).unwrap_or(&value);
                assert_keeps_shape(&template, "attr", &value, stored, &expected);
                accepted += 1;
            }
            Err(TemplateError::InvalidValue { name, reason }) => {
                assert_eq!(name, "attr");
                assert!(reason.starts_with("an attribute name "), "{value:?}: unclear refusal: {reason}");
            }
            Err(other) => panic!("{value:?}: unexpected error {other}"),
        }
    }
    // Plenty of odd but harmless names are accepted (and backticked on output).
    assert!(accepted >= 30, "only {accepted} identifiers accepted");
}

#[test]
fn hostile_event_types_are_refused() {
    let spec = [ParamSpec::new("event", ParamType::EventType(vec!["Transaction".into(), "Log".into()]))];
    let template = Template::parse("SELECT count(*) FROM {{event}} SINCE 1 day ago", &spec).unwrap();
    for value in hostile_values() {
        let error = template.fill(&one("event", &value)).unwrap_err();
        assert!(
            matches!(&error, TemplateError::InvalidValue { name, reason } if name == "event" && reason.contains("choose one of: Transaction, Log")),
            "{value:?}: {error}"
        );
    }
    assert_eq!(
        template.fill_to_string(&one("event", "Log")).unwrap(),
        "SELECT count(*) FROM Log SINCE 1 day ago"
    );
}

#[test]
fn strings_where_numbers_and_durations_go_are_refused() {
    let template = Template::parse(
        "SELECT count(*) FROM Transaction WHERE duration > {{threshold}} LIMIT {{limit}} SINCE {{since}} ago",
        &[
            ParamSpec::new("threshold", ParamType::Float),
            ParamSpec::new("limit", ParamType::Int),
            ParamSpec::new("since", ParamType::Duration),
        ],
    )
    .unwrap();
    let valid = || -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("threshold".to_owned(), json!(0.5)),
            ("limit".to_owned(), json!(10)),
            ("since".to_owned(), json!("1 hour")),
        ])
    };
    for value in hostile_values() {
        for name in ["threshold", "limit"] {
            let mut given = valid();
            given.insert(name.to_owned(), json!(value));
            assert!(
                matches!(template.fill(&given), Err(TemplateError::WrongType { name: found, .. }) if found == name),
                "{name} = {value:?}"
            );
        }
        let mut given = valid();
        given.insert("since".to_owned(), json!(value));
        assert!(
            matches!(template.fill(&given), Err(TemplateError::InvalidValue { name, .. }) if name == "since"),
            "since = {value:?}"
        );
    }
}

#[test]
fn the_checks_catch_text_splicing() {
    // The same checks applied to naive string splicing must fail: the oracle has teeth.
    let text = STRING_TEMPLATES[0];
    let expected = reference(text, "{{v}}", &format!("'{MARKER}'"));
    for value in [
        "' OR true --",
        "' FACET appName LIMIT MAX --",
        "x' OR appName IN (SELECT appName FROM Transaction WHERE '1' = '1",
    ] {
        let spliced = text.replace("{{v}}", &format!("'{value}'"));
        let kept_shape = parse(&spliced)
            .map(|query| shape(&serde_json::to_value(query).unwrap()) == shape(&expected))
            .unwrap_or(false);
        assert!(!kept_shape, "{value:?} spliced as text went unnoticed");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_keep_the_shape(value in any::<String>(), which in 0..STRING_TEMPLATES.len()) {
        let text = STRING_TEMPLATES[which];
        let template = Template::parse(text, &[ParamSpec::new("v", ParamType::String)]).unwrap();
        let expected = reference(text, "{{v}}", &format!("'{MARKER}'"));
        assert_keeps_shape(&template, "v", &value, &value, &expected);
    }

    #[test]
    fn arbitrary_quote_heavy_strings_keep_the_shape(value in "[-'\\\\`/*%_ {}\r\n\tOR()a-z]{0,40}") {
        let text = STRING_TEMPLATES[2];
        let template = Template::parse(text, &[ParamSpec::new("v", ParamType::String)]).unwrap();
        let expected = reference(text, "{{v}}", &format!("'{MARKER}'"));
        assert_keeps_shape(&template, "v", &value, &value, &expected);
    }

    #[test]
    fn any_template_text_parses_or_errs_without_panicking(
        pieces in prop::collection::vec(
            prop_oneof![
                Just("SELECT ".to_owned()),
                Just("count(*) ".to_owned()),
                Just("FROM T ".to_owned()),
                Just("WHERE a = ".to_owned()),
                Just("{{v}}".to_owned()),
                Just(" {{v}} ".to_owned()),
                Just("'".to_owned()),
                Just("`".to_owned()),
                Just("-- ".to_owned()),
                Just("\n".to_owned()),
                Just("{{".to_owned()),
                Just("}}".to_owned()),
                Just(" LIMIT ".to_owned()),
                Just(" SINCE ".to_owned()),
                Just(" ago".to_owned()),
                any::<String>().prop_map(|text| text.chars().take(6).collect()),
            ],
            0..14,
        ),
    ) {
        let text: String = pieces.concat();
        let specs = [ParamSpec::new("v", ParamType::String)];
        if let Ok(template) = Template::parse(&text, &specs) {
            let filled = template.fill(&one("v", "' OR true --")).unwrap();
            prop_assert_eq!(parse(&print(&filled)).unwrap(), filled);
        }
    }

    #[test]
    fn arbitrary_identifiers_are_refused_or_confined(value in any::<String>()) {
        let template = Template::parse(IDENTIFIER_TEMPLATE, &[ParamSpec::new("attr", ParamType::Identifier)]).unwrap();
        let expected = reference(IDENTIFIER_TEMPLATE, "{{attr}}", &format!("`{MARKER}`"));
        match template.fill(&one("attr", &value)) {
            Ok(_) => {
                let stored = value.strip_prefix('`').and_then(|inner| inner.strip_suffix('`')).unwrap_or(&value);
                assert_keeps_shape(&template, "attr", &value, stored, &expected);
            }
            Err(TemplateError::InvalidValue { name, .. }) => prop_assert_eq!(name, "attr"),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
