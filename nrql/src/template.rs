//! Injection-proof NRQL templates: queries built from typed parameters.
//!
//! A template is NRQL text with placeholders written `{{name}}` (spaces inside the braces
//! are allowed). NRQL itself never uses `{{`, so the syntax cannot collide with a query;
//! a placeholder must stand on its own as one value — never inside quotes, a backtick
//! name or a comment, and never glued to a word or number (`{{a}}x` is refused).
//!
//! [`Template::parse`] parses the text once: each placeholder is swapped for a sentinel
//! token of its parameter's syntactic kind (a reserved string literal, a reserved
//! backtick name, a reserved number), the result goes through the real NRQL parser, and
//! every sentinel is found in the tree and checked against where it landed: a string in
//! a value position, an identifier where an attribute goes, an event type in `FROM`, a
//! duration in `SINCE`/`TIMESERIES`/`COMPARE WITH`, an integer in `LIMIT`, and so on.
//!
//! [`Template::fill`] then writes typed values *into the tree*: a string becomes one
//! string literal node whatever it contains, an identifier one attribute node. User
//! values are never concatenated into query text, so no value can add a clause, a
//! condition or a subquery; [`crate::print`] quotes them on the way out.
//!
//! | type | JSON value | lands as | allowed at |
//! |------|------------|----------|------------|
//! | `String` | any string | string literal | values, `AS` labels, quoted times, `WITH TIMEZONE` |
//! | `Enum` | a string from its set | string literal | same as `String` |
//! | `Identifier` | attribute name, optionally in backticks | attribute | attributes, `JOIN … ON` keys, `AS` labels |
//! | `EventType` | a name from its set | event type | `FROM` |
//! | `Int` | whole number | integer literal | values, `LIMIT`, `OFFSET`, epoch `SINCE`/`UNTIL`, a duration's count (`{{n}} minutes`) |
//! | `Float` | finite number | float literal | values |
//! | `Duration` | `"5 minutes"` or seconds | duration | `SINCE {{d}} ago`, `UNTIL`, `COMPARE WITH {{d}} ago`, `TIMESERIES`, `SLIDE BY`, duration arguments |

mod scan;
mod slots;
mod values;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ast::{Expr, Literal, Query};
use crate::error::{ParseError, Position};

use slots::Slot;
use values::{TypedValue, ValueProblem};

/// The type of a template parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "values", rename_all = "snake_case")]
pub enum ParamType {
    /// Any text, as one quoted string literal.
    String,
    /// An attribute name: a plain identifier or a backtick-quoted one; backticks inside
    /// the name are refused.
    Identifier,
    /// A whole number (`i64`).
    Int,
    /// A finite number.
    Float,
    /// A duration: `"5 minutes"`, `"1 hour"`, or a whole number of seconds.
    Duration,
    /// One of a known set of event types (exact, case-sensitive).
    EventType(Vec<String>),
    /// One of a fixed set of strings (exact, case-sensitive), as a string literal.
    Enum(Vec<String>),
}

impl ParamType {
    /// The type's name in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Identifier => "identifier",
            ParamType::Int => "integer",
            ParamType::Float => "float",
            ParamType::Duration => "duration",
            ParamType::EventType(_) => "event type",
            ParamType::Enum(_) => "enum",
        }
    }

    /// Where a placeholder of this type may stand, for messages.
    fn placement_advice(&self) -> &'static str {
        match self {
            ParamType::String | ParamType::Enum(_) => {
                "it stands for a quoted value, e.g. WHERE appName = {{name}}, or a label after AS"
            }
            ParamType::Identifier => {
                "it stands for an attribute name, e.g. FACET {{name}} or average({{name}})"
            }
            ParamType::EventType(_) => "it stands for an event type in FROM, e.g. FROM {{name}}",
            ParamType::Int => {
                "it stands for a number, a LIMIT or OFFSET, epoch milliseconds in SINCE/UNTIL, or the count of a duration, e.g. SINCE {{name}} minutes ago"
            }
            ParamType::Float => "it stands for a number in an expression, e.g. WHERE duration > {{name}}",
            ParamType::Duration => {
                "it stands for a duration, e.g. SINCE {{name}} ago, COMPARE WITH {{name}} ago or TIMESERIES {{name}}"
            }
        }
    }
}

/// A declared template parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// The name used in `{{name}}` and as the key of the filled values.
    pub name: String,
    /// The parameter's type.
    #[serde(flatten)]
    pub kind: ParamType,
    /// The value used when none is given; a parameter without one is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// What the parameter means, for the tool's input schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ParamSpec {
    /// A required parameter.
    pub fn new(name: impl Into<String>, kind: ParamType) -> ParamSpec {
        ParamSpec { name: name.into(), kind, default: None, description: None }
    }

    /// Makes the parameter optional, with `default` used when no value is given.
    #[must_use]
    pub fn with_default(mut self, default: impl Into<Value>) -> ParamSpec {
        self.default = Some(default.into());
        self
    }

    /// Adds a description for the input schema.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> ParamSpec {
        self.description = Some(description.into());
        self
    }

    /// The JSON Schema of the parameter's value.
    pub fn json_schema(&self) -> Value {
        let mut schema = match &self.kind {
            ParamType::String => serde_json::json!({ "type": "string" }),
            ParamType::Identifier => {
                serde_json::json!({ "type": "string", "minLength": 1, "maxLength": 257, "pattern": "^[^`\\u0000-\\u001f]+$|^`[^`\\u0000-\\u001f]+`$" })
            }
            ParamType::Int => serde_json::json!({ "type": "integer" }),
            ParamType::Float => serde_json::json!({ "type": "number" }),
            ParamType::Duration => serde_json::json!({
                "oneOf": [
                    { "type": "string", "pattern": "^\\s*[0-9]+\\s*[A-Za-z]+\\s*$" },
                    { "type": "integer", "minimum": 1 }
                ]
            }),
            ParamType::EventType(choices) | ParamType::Enum(choices) => {
                serde_json::json!({ "type": "string", "enum": choices })
            }
        };
        if let Value::Object(fields) = &mut schema {
            let description = self.description.clone().or_else(|| match &self.kind {
                ParamType::Identifier => Some("an attribute name, e.g. appName".to_owned()),
                ParamType::Duration => {
                    Some("a duration such as \"5 minutes\", or a number of seconds".to_owned())
                }
                _ => None,
            });
            if let Some(description) = description {
                fields.insert("description".to_owned(), Value::String(description));
            }
            if let Some(default) = &self.default {
                fields.insert("default".to_owned(), default.clone());
            }
        }
        schema
    }
}

/// Why a template could not be parsed or filled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without a closing `}}`.
    #[error("unclosed placeholder at {position}: close it with }}}}, e.g. {{{{app_name}}}}")]
    UnclosedPlaceholder {
        /// Where the `{{` is.
        position: Position,
    },
    /// `{{…}}` whose content is not a name.
    #[error(
        "'{{{{{text}}}}}' at {position} is not a placeholder: names are letters, digits and _, starting with a letter or _"
    )]
    InvalidPlaceholderName {
        /// What was written between the braces.
        text: String,
        /// Where the placeholder is.
        position: Position,
    },
    /// A placeholder inside quotes, a backtick name or a comment.
    #[error(
        "placeholder {{{{{name}}}}} at {position} is inside {inside}: write it bare, e.g. appName = {{{{{name}}}}}; values are quoted for you"
    )]
    PlaceholderInQuotes {
        /// The placeholder.
        name: String,
        /// Where it is.
        position: Position,
        /// "a quoted string", "a backtick name" or "a comment".
        inside: &'static str,
    },
    /// A placeholder glued to a word, number, quote or another placeholder.
    #[error(
        "placeholder {{{{{name}}}}} at {position} touches the text around it: separate it with a space or an operator"
    )]
    PlaceholderNotSeparated {
        /// The placeholder.
        name: String,
        /// Where it is.
        position: Position,
    },
    /// A placeholder with no declared parameter.
    #[error("placeholder {{{{{name}}}}} at {position} has no declared parameter; declared: {declared}")]
    UndeclaredPlaceholder {
        /// The placeholder.
        name: String,
        /// Where it is.
        position: Position,
        /// The declared parameter names, comma-separated.
        declared: String,
    },
    /// A declared parameter the text never uses.
    #[error("parameter '{name}' is declared but the template never uses {{{{{name}}}}}: use it or remove it")]
    UnusedParameter {
        /// The parameter.
        name: String,
    },
    /// Two parameters with one name.
    #[error("parameter '{name}' is declared twice")]
    DuplicateParameter {
        /// The parameter.
        name: String,
    },
    /// A parameter whose name could not be written as a placeholder.
    #[error("parameter name '{name}' is not valid: use letters, digits and _, starting with a letter or _")]
    InvalidParameterName {
        /// The name.
        name: String,
    },
    /// An `EventType` or `Enum` parameter with an empty set.
    #[error("parameter '{name}' has no allowed values: list at least one")]
    EmptyChoices {
        /// The parameter.
        name: String,
    },
    /// Text a template may not contain, because sentinels use it.
    #[error("the template contains {what}, which templates reserve: remove it")]
    ReservedText {
        /// What was found.
        what: &'static str,
    },
    /// More placeholders than a template supports.
    #[error("the template has {count} placeholders; at most {max} are supported")]
    TooManyPlaceholders {
        /// Placeholders in the text.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// The text, placeholders aside, is not valid NRQL. Positions refer to the template.
    #[error("the template is not valid NRQL: {error}")]
    Nrql {
        /// The parser's error, with positions mapped back to the template text.
        error: ParseError,
    },
    /// A placeholder in a position its type cannot fill.
    #[error(
        "placeholder {{{{{name}}}}} at {position} is of type {kind} and cannot stand in {slot}: {advice}"
    )]
    MisplacedPlaceholder {
        /// The placeholder.
        name: String,
        /// Where it is.
        position: Position,
        /// The parameter's type.
        kind: &'static str,
        /// What the position is.
        slot: &'static str,
        /// Where such a parameter may stand.
        advice: String,
    },
    /// A placeholder that did not survive parsing as a value of its own: inside a
    /// comment that the scan could not see, or negated (`-{{n}}`).
    #[error("placeholder {{{{{name}}}}} at {position} {problem}")]
    PlaceholderLost {
        /// The placeholder.
        name: String,
        /// Where it is.
        position: Position,
        /// What happened to it.
        problem: &'static str,
    },
    /// A default that does not fit its parameter.
    #[error("the default of parameter '{name}' is invalid: {reason}")]
    InvalidDefault {
        /// The parameter.
        name: String,
        /// Why.
        reason: String,
    },
    /// A value for a parameter the template does not declare.
    #[error("unknown parameter '{name}'; this template takes: {declared}")]
    UnknownValue {
        /// The unknown key.
        name: String,
        /// The declared parameter names, comma-separated.
        declared: String,
    },
    /// A required parameter without a value.
    #[error("missing required parameter '{name}' ({kind})")]
    MissingValue {
        /// The parameter.
        name: String,
        /// Its type.
        kind: &'static str,
    },
    /// A value of the wrong JSON kind.
    #[error("parameter '{name}' must be {expected}, not {found}")]
    WrongType {
        /// The parameter.
        name: String,
        /// What it takes.
        expected: &'static str,
        /// What was given.
        found: &'static str,
    },
    /// A value of the right kind that is not acceptable.
    #[error("parameter '{name}': {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Most placeholder occurrences in one template: sentinel numbers are reserved below
/// `i64::MAX` for this many.
const MAX_PLACEHOLDERS: usize = 1_000;

/// The digits every numeric sentinel starts with; templates may not contain them.
const NUMERIC_SENTINEL_PREFIX: &str = "9223372036854775";

/// Marks sentinel strings and names; templates may not contain it.
const MARK: char = '\u{0}';

/// One placeholder occurrence in the parsed template.
#[derive(Debug, Clone)]
struct Occurrence {
    /// Index into the template's parameters.
    param: usize,
    /// Where the placeholder is in the template text.
    position: Position,
}

/// A parsed NRQL template. Parse once with [`Template::parse`], fill many times.
#[derive(Debug, Clone)]
pub struct Template {
    text: String,
    params: Vec<ParamSpec>,
    /// The query with a sentinel where each placeholder occurrence goes.
    query: Query,
    occurrences: Vec<Occurrence>,
}

/// What a tree slot holds with respect to placeholders.
enum Marker {
    /// An ordinary value of the template.
    None,
    /// The sentinel of occurrence `.0`.
    Sentinel(usize),
    /// A sentinel that parsing changed (negated, or merged into other text).
    Damaged(Option<usize>),
}

fn string_marker(text: &str) -> Marker {
    if !text.contains(MARK) {
        return Marker::None;
    }
    let index = text
        .strip_prefix(MARK)
        .and_then(|rest| rest.strip_suffix(MARK))
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|digits| digits.parse::<usize>().ok());
    match index {
        Some(index) => Marker::Sentinel(index),
        None => Marker::Damaged(None),
    }
}

fn number_marker(value: i64) -> Marker {
    let reserved = MAX_PLACEHOLDERS as i64;
    if value > i64::MAX - reserved {
        Marker::Sentinel((i64::MAX - value) as usize)
    } else if value < -(i64::MAX - reserved) {
        Marker::Damaged(usize::try_from(i64::MAX.saturating_add(value)).ok())
    } else {
        Marker::None
    }
}

fn slot_marker(slot: &Slot<'_>) -> Marker {
    match slot {
        Slot::Value(Expr::Literal(Literal::String(text)) | Expr::Attribute(text)) => string_marker(text),
        Slot::EventType(text)
        | Slot::JoinKey(text)
        | Slot::Label(text)
        | Slot::Name(text, _)
        | Slot::Text(text, _) => string_marker(text),
        Slot::Value(Expr::Literal(Literal::Int(value))) => number_marker(*value),
        Slot::Epoch(value, _) => number_marker(**value),
        Slot::Count(value, _) => i64::try_from(**value).map_or(Marker::None, number_marker),
        Slot::Duration(duration, _) => i64::try_from(duration.amount).map_or(Marker::None, number_marker),
        Slot::Value(_) => Marker::None,
    }
}

/// Whether a parameter of `kind` may fill `slot`.
fn accepts(kind: &ParamType, slot: &Slot<'_>) -> bool {
    match kind {
        ParamType::String | ParamType::Enum(_) => {
            matches!(slot, Slot::Value(Expr::Literal(Literal::String(_))) | Slot::Label(_) | Slot::Text(_, _))
        }
        ParamType::Identifier => {
            matches!(slot, Slot::Value(Expr::Attribute(_)) | Slot::JoinKey(_) | Slot::Label(_))
        }
        ParamType::EventType(_) => matches!(slot, Slot::EventType(_)),
        ParamType::Int => matches!(
            slot,
            Slot::Value(Expr::Literal(Literal::Int(_)))
                | Slot::Count(_, _)
                | Slot::Epoch(_, _)
                | Slot::Duration(_, _)
        ),
        ParamType::Float => matches!(slot, Slot::Value(Expr::Literal(Literal::Int(_)))),
        ParamType::Duration => matches!(slot, Slot::Duration(_, _)),
    }
}

/// The sentinel text for occurrence `index` of a parameter of `kind`.
fn sentinel(kind: &ParamType, index: usize) -> String {
    let number = i64::MAX - index as i64;
    match kind {
        ParamType::String | ParamType::Enum(_) => format!("'{MARK}{index}{MARK}'"),
        ParamType::Identifier | ParamType::EventType(_) => format!("`{MARK}{index}{MARK}`"),
        ParamType::Int | ParamType::Float => number.to_string(),
        ParamType::Duration => format!("{number} milliseconds"),
    }
}

impl Template {
    /// Parses `text` with the placeholders declared in `params`.
    ///
    /// Fails when a placeholder is malformed, undeclared, inside quotes or a comment, or
    /// where its type cannot stand; when a parameter is unused, declared twice or has an
    /// invalid default; and when the text is not valid NRQL.
    pub fn parse(text: &str, params: &[ParamSpec]) -> Result<Template, TemplateError> {
        validate_params(params)?;
        if text.contains(MARK) {
            return Err(TemplateError::ReservedText { what: "a NUL character" });
        }
        if text.contains(NUMERIC_SENTINEL_PREFIX) {
            return Err(TemplateError::ReservedText { what: "the digits 9223372036854775" });
        }
        let found = scan::find_placeholders(text)?;
        if found.len() > MAX_PLACEHOLDERS {
            return Err(TemplateError::TooManyPlaceholders { count: found.len(), max: MAX_PLACEHOLDERS });
        }
        let mut occurrences = Vec::with_capacity(found.len());
        let mut sentinels = Vec::with_capacity(found.len());
        for (index, placeholder) in found.iter().enumerate() {
            let Some(param) = params.iter().position(|param| param.name == placeholder.name) else {
                return Err(TemplateError::UndeclaredPlaceholder {
                    name: placeholder.name.clone(),
                    position: placeholder.position,
                    declared: declared_names(params),
                });
            };
            occurrences.push(Occurrence { param, position: placeholder.position });
            sentinels.push(sentinel(&params[param].kind, index));
        }
        if let Some(unused) = params
            .iter()
            .enumerate()
            .find(|(index, _)| !occurrences.iter().any(|occurrence| occurrence.param == *index))
        {
            return Err(TemplateError::UnusedParameter { name: unused.1.name.clone() });
        }
        let (substituted, replacements) = scan::substitute(text, &found, &sentinels);
        let query = crate::parse(&substituted).map_err(|error| TemplateError::Nrql {
            error: readable_parse_error(error, &replacements, &found, &sentinels),
        })?;
        let template = Template { text: text.to_owned(), params: params.to_vec(), query, occurrences };
        template.check_placements()?;
        template.check_defaults()?;
        Ok(template)
    }

    /// The template text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The declared parameters.
    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// The JSON Schema of the values [`Template::fill`] takes: an object with one
    /// property per parameter, required where there is no default, nothing else allowed.
    pub fn input_schema(&self) -> Value {
        let properties: serde_json::Map<String, Value> =
            self.params.iter().map(|param| (param.name.clone(), param.json_schema())).collect();
        let required: Vec<&str> = self
            .params
            .iter()
            .filter(|param| param.default.is_none())
            .map(|param| param.name.as_str())
            .collect();
        serde_json::json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// Builds the query with `values` (parameter name to JSON value; `null` counts as
    /// absent). Every value lands in its own node of the tree; none is spliced into text.
    ///
    /// Fails on an unknown name, a missing required value, a value of the wrong type or
    /// one its type refuses, each error naming the parameter.
    pub fn fill(&self, values: &BTreeMap<String, Value>) -> Result<Query, TemplateError> {
        if let Some(unknown) =
            values.keys().find(|name| !self.params.iter().any(|param| &param.name == *name))
        {
            return Err(TemplateError::UnknownValue {
                name: unknown.clone(),
                declared: declared_names(&self.params),
            });
        }
        let mut typed = Vec::with_capacity(self.params.len());
        for param in &self.params {
            let given = values.get(&param.name).filter(|value| !value.is_null());
            let Some(value) = given.or(param.default.as_ref()) else {
                return Err(TemplateError::MissingValue {
                    name: param.name.clone(),
                    kind: param.kind.describe(),
                });
            };
            let value = values::convert(&param.kind, value).map_err(|problem| match problem {
                ValueProblem::WrongType { expected, found } => {
                    TemplateError::WrongType { name: param.name.clone(), expected, found }
                }
                ValueProblem::Invalid(reason) => {
                    TemplateError::InvalidValue { name: param.name.clone(), reason }
                }
            })?;
            typed.push(Some(value));
        }
        self.substitute(&typed).map_err(|(name, reason)| TemplateError::InvalidValue { name, reason })
    }

    /// [`Template::fill`], printed as canonical NRQL.
    pub fn fill_to_string(&self, values: &BTreeMap<String, Value>) -> Result<String, TemplateError> {
        self.fill(values).map(|query| crate::print(&query))
    }

    /// A copy of the query with each occurrence whose parameter has a value replaced by
    /// it; on failure, the parameter's name and the reason.
    fn substitute(&self, typed: &[Option<TypedValue>]) -> Result<Query, (String, String)> {
        let mut query = self.query.clone();
        slots::walk(&mut query, &mut |slot| {
            let Marker::Sentinel(index) = slot_marker(&slot) else {
                return Ok(());
            };
            let Some(occurrence) = self.occurrences.get(index) else {
                return Ok(());
            };
            let param = &self.params[occurrence.param];
            match typed.get(occurrence.param) {
                Some(Some(value)) => {
                    values::place(value, slot).map_err(|reason| (param.name.clone(), reason))
                }
                _ => Ok(()),
            }
        })?;
        Ok(query)
    }

    /// Checks that every occurrence landed, once, intact, in a slot its type can fill.
    fn check_placements(&self) -> Result<(), TemplateError> {
        let mut seen = vec![false; self.occurrences.len()];
        // The walk hands out slots mutably; a scratch copy keeps the template untouched.
        let mut scratch = self.query.clone();
        slots::walk(&mut scratch, &mut |slot| {
            let index = match slot_marker(&slot) {
                Marker::None => return Ok(()),
                Marker::Sentinel(index) => index,
                Marker::Damaged(index) => {
                    let occurrence = index.and_then(|index| self.occurrences.get(index));
                    return Err(self.lost(occurrence, "is negated or merged with other text: put the sign in the value (pass -5), and keep the placeholder a value of its own"));
                }
            };
            let Some(occurrence) = self.occurrences.get(index) else {
                return Err(self.lost(None, "is not a placeholder of this template"));
            };
            let param = &self.params[occurrence.param];
            if !accepts(&param.kind, &slot) {
                return Err(TemplateError::MisplacedPlaceholder {
                    name: param.name.clone(),
                    position: occurrence.position,
                    kind: param.kind.describe(),
                    slot: slot.describe(),
                    advice: param
                        .kind
                        .placement_advice()
                        .replace("{{name}}", &format!("{{{{{}}}}}", param.name)),
                });
            }
            if let Some(flag) = seen.get_mut(index) {
                *flag = true;
            }
            Ok(())
        })?;
        match seen.iter().position(|landed| !landed) {
            Some(index) => {
                Err(self
                    .lost(self.occurrences.get(index), "does not reach the query: is it inside a comment?"))
            }
            None => Ok(()),
        }
    }

    fn lost(&self, occurrence: Option<&Occurrence>, problem: &'static str) -> TemplateError {
        let (name, position) = match occurrence {
            Some(occurrence) => (self.params[occurrence.param].name.clone(), occurrence.position),
            None => ("?".to_owned(), Position::START),
        };
        TemplateError::PlaceholderLost { name, position, problem }
    }

    /// Checks each default as a value of its type and in every position it would fill.
    fn check_defaults(&self) -> Result<(), TemplateError> {
        let mut typed = Vec::with_capacity(self.params.len());
        for param in &self.params {
            let value = match &param.default {
                Some(default) => Some(values::convert(&param.kind, default).map_err(|problem| {
                    let reason = match problem {
                        ValueProblem::WrongType { expected, found } => {
                            format!("it must be {expected}, not {found}")
                        }
                        ValueProblem::Invalid(reason) => reason,
                    };
                    TemplateError::InvalidDefault { name: param.name.clone(), reason }
                })?),
                None => None,
            };
            typed.push(value);
        }
        self.substitute(&typed)
            .map(drop)
            .map_err(|(name, reason)| TemplateError::InvalidDefault { name, reason })
    }
}

fn validate_params(params: &[ParamSpec]) -> Result<(), TemplateError> {
    for (index, param) in params.iter().enumerate() {
        if !scan::is_valid_name(&param.name) {
            return Err(TemplateError::InvalidParameterName { name: param.name.clone() });
        }
        if params[..index].iter().any(|earlier| earlier.name == param.name) {
            return Err(TemplateError::DuplicateParameter { name: param.name.clone() });
        }
        if let ParamType::EventType(choices) | ParamType::Enum(choices) = &param.kind
            && choices.is_empty()
        {
            return Err(TemplateError::EmptyChoices { name: param.name.clone() });
        }
    }
    Ok(())
}

fn declared_names(params: &[ParamSpec]) -> String {
    if params.is_empty() {
        return "none".to_owned();
    }
    params.iter().map(|param| param.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The parser's error, speaking of the template: positions mapped back and sentinels
/// shown as the placeholders they stand for.
fn readable_parse_error(
    error: ParseError,
    replacements: &[scan::Replacement],
    found: &[scan::Found],
    sentinels: &[String],
) -> ParseError {
    let position = scan::original_position(error.position(), replacements);
    // Longest sentinels first, so a duration sentinel is not half-replaced as a number.
    let mut pairs: Vec<(&String, String)> = sentinels
        .iter()
        .zip(found)
        .map(|(sentinel, placeholder)| (sentinel, format!("{{{{{}}}}}", placeholder.name)))
        .collect();
    pairs.sort_by_key(|(sentinel, _)| std::cmp::Reverse(sentinel.len()));
    let readable = |text: &str| {
        let mut text = text.to_owned();
        for (sentinel, placeholder) in &pairs {
            text = text.replace(sentinel.as_str(), placeholder);
            // The parser quotes at most 40 characters of a token; sentinels are shorter,
            // but its quote marks may wrap the inner text only.
            let inner = sentinel.trim_matches(|character| character == '\'' || character == '`');
            text = text.replace(inner, placeholder);
        }
        text
    };
    ParseError {
        kind: error.kind,
        line: position.line,
        column: position.column,
        message: readable(&error.message),
        hint: error.hint.as_deref().map(readable),
    }
}

#[cfg(test)]
mod tests;
