//! Scenarios: the weighted mix of tool calls a load test sends, read from TOML.
//!
//! ```toml
//! name = "mixed"
//!
//! [[call]]
//! tool = "execute_nrql_query"
//! weight = 3
//! arguments = { nrql_query = "SELECT count(*) FROM Transaction SINCE 1 hour ago" }
//!
//! [[call]]
//! name = "entity lookups"
//! tool = "get_entity"
//! arguments = { name_pattern = { one_of = ["checkout", "payments"] } }
//!
//! [[call]]
//! tool = "execute_nrql_query"
//! arguments = { nrql_query = { pattern = "SELECT count(*) FROM Transaction SINCE {n} minutes ago", n = [5, 180] } }
//! ```
//!
//! Each call picks an entry with probability proportional to its `weight` (default 1). A
//! top-level argument is sent as written, or varies per call: `{ one_of = [...] }` picks one
//! of the alternatives, `{ pattern = "...{n}...", n = [low, high] }` puts a whole number from
//! the inclusive range in place of `{n}`. Problems are reported with the file and the entry.

use std::fmt;
use std::path::Path;

use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The scenario used when none is given: a mix of every common tool.
pub const DEFAULT_SCENARIO: &str = include_str!("../../examples/scenarios/default.toml");

/// Largest weight an entry may have; keeps the cumulative sum far from overflow.
const MAX_WEIGHT: u64 = 1_000_000;
/// Most entries a scenario may have.
const MAX_ENTRIES: usize = 10_000;

/// Why a scenario cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("scenario {origin}: {problem}")]
pub struct ScenarioError {
    /// The file it came from, or "built-in default".
    pub origin: String,
    pub problem: ScenarioProblem,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioProblem {
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("is not valid scenario TOML: {0}")]
    Syntax(String),
    #[error("has no [[call]] entries; add at least one with a `tool` and its `arguments`")]
    Empty,
    #[error("has {0} entries; at most {MAX_ENTRIES} are allowed")]
    TooManyEntries(usize),
    #[error("{entry}: `tool` is empty")]
    EmptyTool { entry: EntryName },
    #[error("{entry}: `weight` must be between 1 and {MAX_WEIGHT}, not {weight}")]
    Weight { entry: EntryName, weight: i64 },
    #[error("{entry}: argument `{argument}`: {reason}")]
    Argument { entry: EntryName, argument: String, reason: String },
    #[error("{entry}: the target offers no tool '{tool}' (it offers: {offered})")]
    UnknownTool { entry: EntryName, tool: String, offered: String },
}

/// An entry as errors name it: its position (from 1) and its name or tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryName {
    pub index: usize,
    pub label: String,
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {} ({})", self.index, self.label)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    call: Vec<RawCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCall {
    name: Option<String>,
    tool: String,
    weight: Option<i64>,
    #[serde(default)]
    arguments: toml::Table,
}

/// How one argument's value is chosen for each call.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgumentValue {
    Fixed(Value),
    OneOf(Vec<Value>),
    /// `pattern` with `{n}` replaced by a whole number in `low..=high`.
    Pattern {
        pattern: String,
        low: i64,
        high: i64,
    },
}

impl ArgumentValue {
    fn choose(&self, rng: &mut impl Rng) -> Value {
        match self {
            Self::Fixed(value) => value.clone(),
            Self::OneOf(values) => {
                values.get(rng.random_range(0..values.len().max(1))).cloned().unwrap_or(Value::Null)
            }
            Self::Pattern { pattern, low, high } => {
                Value::String(pattern.replace("{n}", &rng.random_range(*low..=*high).to_string()))
            }
        }
    }
}

/// One weighted kind of call.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub label: String,
    pub tool: String,
    pub weight: u64,
    pub arguments: Vec<(String, ArgumentValue)>,
}

impl Entry {
    /// The arguments of one call, varying values chosen.
    pub fn arguments(&self, rng: &mut impl Rng) -> Map<String, Value> {
        self.arguments.iter().map(|(name, value)| (name.clone(), value.choose(rng))).collect()
    }
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub origin: String,
    pub entries: Vec<Entry>,
    /// Running sums of the weights, for the weighted choice.
    cumulative: Vec<u64>,
}

impl Scenario {
    /// Reads and validates the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let origin = origin_of(path);
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
            origin: origin.clone(),
            problem: ScenarioProblem::Unreadable(error.to_string()),
        })?;
        let default_name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned());
        Self::parse(&text, &origin, default_name.as_deref().unwrap_or("scenario"))
    }

    /// The built-in default mix.
    pub fn builtin_default() -> Result<Self, ScenarioError> {
        Self::parse(DEFAULT_SCENARIO, "built-in default", "default")
    }

    /// Parses and validates scenario TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, default_name: &str) -> Result<Self, ScenarioError> {
        let fail = |problem| ScenarioError { origin: origin.to_string(), problem };
        let raw: RawScenario = toml::from_str(text)
            .map_err(|error| fail(ScenarioProblem::Syntax(error.to_string().trim().into())))?;
        if raw.call.is_empty() {
            return Err(fail(ScenarioProblem::Empty));
        }
        if raw.call.len() > MAX_ENTRIES {
            return Err(fail(ScenarioProblem::TooManyEntries(raw.call.len())));
        }
        let mut entries = Vec::with_capacity(raw.call.len());
        for (position, call) in raw.call.into_iter().enumerate() {
            entries.push(entry(position + 1, call).map_err(fail)?);
        }
        let cumulative = entries
            .iter()
            .scan(0u64, |sum, entry| {
                *sum += entry.weight;
                Some(*sum)
            })
            .collect();
        Ok(Self {
            name: raw.name.unwrap_or_else(|| default_name.to_string()),
            description: raw.description,
            origin: origin.to_string(),
            entries,
            cumulative,
        })
    }

    /// Sum of all weights (at least 1 for a valid scenario).
    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The entry a roll in `0..total_weight()` selects.
    pub fn entry_for_roll(&self, roll: u64) -> Option<&Entry> {
        let index = self.cumulative.partition_point(|&sum| sum <= roll);
        self.entries.get(index)
    }

    /// One call of the mix: an entry by weight, and its arguments.
    pub fn pick(&self, rng: &mut impl Rng) -> Option<(&Entry, Map<String, Value>)> {
        let total = self.total_weight();
        if total == 0 {
            return None;
        }
        let entry = self.entry_for_roll(rng.random_range(0..total))?;
        Some((entry, entry.arguments(rng)))
    }

    /// Every tool the scenario calls must be one the target offers.
    pub fn check_tools(&self, offered: &[String]) -> Result<(), ScenarioError> {
        for (index, entry) in self.entries.iter().enumerate() {
            if !offered.iter().any(|tool| tool == &entry.tool) {
                let mut listed = offered.to_vec();
                listed.sort();
                return Err(ScenarioError {
                    origin: self.origin.clone(),
                    problem: ScenarioProblem::UnknownTool {
                        entry: EntryName { index: index + 1, label: entry.label.clone() },
                        tool: entry.tool.clone(),
                        offered: if listed.is_empty() { "none".to_string() } else { listed.join(", ") },
                    },
                });
            }
        }
        Ok(())
    }
}

/// How errors name a scenario file: as given when relative, by file name when absolute
/// (errors pass the sanitizer, which hides absolute paths).
fn origin_of(path: &Path) -> String {
    match path.file_name() {
        Some(name) if path.is_absolute() => name.to_string_lossy().into_owned(),
        _ => path.display().to_string(),
    }
}

fn entry(index: usize, call: RawCall) -> Result<Entry, ScenarioProblem> {
    let tool = call.tool.trim().to_string();
    let label = call.name.clone().unwrap_or_else(|| tool.clone());
    let name = EntryName { index, label: label.clone() };
    if tool.is_empty() {
        return Err(ScenarioProblem::EmptyTool { entry: name });
    }
    let weight = call.weight.unwrap_or(1);
    let weight = match u64::try_from(weight) {
        Ok(w) if (1..=MAX_WEIGHT).contains(&w) => w,
        _ => return Err(ScenarioProblem::Weight { entry: name, weight }),
    };
    let mut arguments = Vec::with_capacity(call.arguments.len());
    for (argument, value) in call.arguments {
        let parsed = argument_value(value).map_err(|reason| ScenarioProblem::Argument {
            entry: name.clone(),
            argument: argument.clone(),
            reason,
        })?;
        arguments.push((argument, parsed));
    }
    Ok(Entry { label, tool, weight, arguments })
}

fn to_json(value: toml::Value) -> Result<Value, String> {
    match value {
        toml::Value::Datetime(datetime) => Ok(Value::String(datetime.to_string())),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a JSON number")),
        toml::Value::Array(items) => {
            items.into_iter().map(to_json).collect::<Result<_, _>>().map(Value::Array)
        }
        toml::Value::Table(table) => table
            .into_iter()
            .map(|(key, value)| to_json(value).map(|value| (key, value)))
            .collect::<Result<_, _>>()
            .map(Value::Object),
        toml::Value::String(s) => Ok(Value::String(s)),
        toml::Value::Integer(i) => Ok(Value::from(i)),
        toml::Value::Boolean(b) => Ok(Value::Bool(b)),
    }
}

fn argument_value(value: toml::Value) -> Result<ArgumentValue, String> {
    let toml::Value::Table(table) = value else { return to_json(value).map(ArgumentValue::Fixed) };
    if table.contains_key("one_of") {
        if table.len() != 1 {
            return Err("`one_of` stands alone in its table".to_string());
        }
        let Some(toml::Value::Array(items)) = table.get("one_of").cloned() else {
            return Err("`one_of` must be an array of alternatives".to_string());
        };
        if items.is_empty() {
            return Err("`one_of` needs at least one alternative".to_string());
        }
        return items.into_iter().map(to_json).collect::<Result<_, _>>().map(ArgumentValue::OneOf);
    }
    if table.contains_key("pattern") {
        return pattern(&table);
    }
    to_json(toml::Value::Table(table)).map(ArgumentValue::Fixed)
}

fn pattern(table: &toml::Table) -> Result<ArgumentValue, String> {
    if let Some(extra) = table.keys().find(|key| *key != "pattern" && *key != "n") {
        return Err(format!("a `pattern` table takes only `pattern` and `n`, not `{extra}`"));
    }
    let Some(toml::Value::String(pattern)) = table.get("pattern") else {
        return Err("`pattern` must be a string containing {n}".to_string());
    };
    if !pattern.contains("{n}") {
        return Err(format!("`pattern` {pattern:?} does not contain {{n}}"));
    }
    let range = match table.get("n") {
        Some(toml::Value::Array(bounds)) => bounds.as_slice(),
        _ => return Err("`n` must be a range [low, high] of whole numbers".to_string()),
    };
    match range {
        [toml::Value::Integer(low), toml::Value::Integer(high)] if low <= high => {
            Ok(ArgumentValue::Pattern { pattern: pattern.clone(), low: *low, high: *high })
        }
        [toml::Value::Integer(low), toml::Value::Integer(high)] => {
            Err(format!("`n` = [{low}, {high}] is empty: low must not exceed high"))
        }
        _ => Err("`n` must be a range [low, high] of whole numbers".to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, "test.toml", "test")
    }

    #[test]
    fn the_shipped_scenarios_are_valid() {
        let default = Scenario::builtin_default().unwrap();
        assert_eq!(default.name, "default");
        let tools: Vec<&str> = default.entries.iter().map(|e| e.tool.as_str()).collect();
        for expected in [
            "execute_nrql_query",
            "get_entity",
            "search_entity_with_tag",
            "list_alert_policies",
            "list_recent_issues",
            "convert_time_period_to_epoch_ms",
        ] {
            assert!(tools.contains(&expected), "default lacks {expected}");
        }
        let cached = parse(include_str!("../../examples/scenarios/cached-nrql.toml")).unwrap();
        assert_eq!(cached.entries.len(), 1);
        assert!(matches!(cached.entries[0].arguments[0].1, ArgumentValue::Fixed(_)));
        let distinct = parse(include_str!("../../examples/scenarios/distinct-nrql.toml")).unwrap();
        assert!(matches!(
            distinct.entries[0].arguments[0].1,
            ArgumentValue::Pattern { low: 1, high: 200_000, .. }
        ));
    }

    #[test]
    fn entries_read_with_defaults_and_varying_values() {
        let scenario = parse(
            r#"
            name = "mix"
            [[call]]
            tool = "a"
            arguments = { q = "fixed", nested = { x = 1 } }
            [[call]]
            name = "second"
            tool = "b"
            weight = 3
            arguments = { q = { one_of = ["x", 2] }, p = { pattern = "SINCE {n} minutes ago", n = [5, 5] } }
            "#,
        )
        .unwrap();
        assert_eq!(scenario.name, "mix");
        assert_eq!(scenario.total_weight(), 4);
        let first = &scenario.entries[0];
        assert_eq!((first.label.as_str(), first.weight), ("a", 1));
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(Value::Object(first.arguments(&mut rng)), json!({"q": "fixed", "nested": {"x": 1}}));
        let second = &scenario.entries[1];
        assert_eq!(second.label, "second");
        let q = second.arguments.iter().find(|(name, _)| name == "q").unwrap();
        assert_eq!(q.1, ArgumentValue::OneOf(vec![json!("x"), json!(2)]));
        assert_eq!(second.arguments(&mut rng)["p"], json!("SINCE 5 minutes ago"));
    }

    #[test]
    fn bad_scenarios_say_which_entry_and_what_to_fix() {
        let cases = [
            ("", "has no [[call]] entries"),
            ("[[call]]\ntool = \"  \"", "entry 1 (): `tool` is empty"),
            (
                "[[call]]\ntool = \"a\"\nweight = 0",
                "entry 1 (a): `weight` must be between 1 and 1000000, not 0",
            ),
            (
                "[[call]]\ntool = \"a\"\n[[call]]\nname = \"n\"\ntool = \"b\"\nweight = -2",
                "entry 2 (n): `weight`",
            ),
            (
                "[[call]]\ntool = \"a\"\narguments = { q = { one_of = [] } }",
                "argument `q`: `one_of` needs at least one",
            ),
            ("[[call]]\ntool = \"a\"\narguments = { q = { one_of = 3 } }", "`one_of` must be an array"),
            ("[[call]]\ntool = \"a\"\narguments = { q = { one_of = [1], x = 2 } }", "`one_of` stands alone"),
            (
                "[[call]]\ntool = \"a\"\narguments = { q = { pattern = \"x\", n = [1, 2] } }",
                "does not contain {n}",
            ),
            ("[[call]]\ntool = \"a\"\narguments = { q = { pattern = \"{n}\", n = [3, 2] } }", "is empty"),
            ("[[call]]\ntool = \"a\"\narguments = { q = { pattern = \"{n}\" } }", "`n` must be a range"),
            (
                "[[call]]\ntool = \"a\"\narguments = { q = { pattern = \"{n}\", n = [1, 2], m = 1 } }",
                "not `m`",
            ),
            ("[[call]]\ntool = \"a\"\nwieght = 2", "unknown field `wieght`"),
            ("[[call]]\narguments = {}", "missing field `tool`"),
            ("[[call]\ntool = \"a\"", "is not valid scenario TOML"),
            ("[[call]]\ntool = \"a\"\narguments = { f = nan }", "is not a JSON number"),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.starts_with("scenario test.toml: "), "{error}");
            assert!(error.contains(expected), "{text:?}: expected {expected:?} in {error:?}");
        }
    }

    #[test]
    fn files_are_named_so_that_the_sanitizer_keeps_the_name() {
        let cases = [
            ("examples/scenarios/default.toml", "examples/scenarios/default.toml"),
            ("mix.toml", "mix.toml"),
            ("/home/someone/load/mix.toml", "mix.toml"),
        ];
        for (path, expected) in cases {
            assert_eq!(origin_of(Path::new(path)), expected);
        }
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let error = Scenario::load(Path::new("no-such-dir/none.toml")).unwrap_err();
        assert!(error.to_string().starts_with("scenario no-such-dir/none.toml: cannot be read:"), "{error}");
    }

    #[test]
    fn rolls_map_to_entries_by_weight() {
        let scenario = parse(
            "[[call]]\ntool = \"a\"\nweight = 2\n[[call]]\ntool = \"b\"\n[[call]]\ntool = \"c\"\nweight = 3",
        )
        .unwrap();
        let cases = [(0, "a"), (1, "a"), (2, "b"), (3, "c"), (5, "c")];
        for (roll, tool) in cases {
            assert_eq!(scenario.entry_for_roll(roll).unwrap().tool, tool, "roll {roll}");
        }
        assert!(scenario.entry_for_roll(6).is_none());
    }

    #[test]
    fn picks_follow_the_weights() {
        let scenario =
            parse("[[call]]\ntool = \"a\"\nweight = 1\n[[call]]\ntool = \"b\"\nweight = 3").unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = BTreeMap::new();
        for _ in 0..4_000 {
            let (entry, _) = scenario.pick(&mut rng).unwrap();
            *counts.entry(entry.tool.clone()).or_insert(0u32) += 1;
        }
        let b_share = f64::from(counts["b"]) / 4_000.0;
        assert!((0.7..0.8).contains(&b_share), "{counts:?}");
    }

    #[test]
    fn tools_the_target_lacks_are_named_with_what_it_offers() {
        let scenario = parse("[[call]]\ntool = \"a\"\n[[call]]\nname = \"lookups\"\ntool = \"b\"").unwrap();
        assert!(scenario.check_tools(&["b".into(), "a".into()]).is_ok());
        let error = scenario.check_tools(&["z".into(), "a".into()]).unwrap_err().to_string();
        assert_eq!(
            error,
            "scenario test.toml: entry 2 (lookups): the target offers no tool 'b' (it offers: a, z)"
        );
    }
}
