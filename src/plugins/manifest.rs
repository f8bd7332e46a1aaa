//! The manifest model: TOML text to a validated [`Manifest`], or one error with its line.
//!
//! Parsing is strict: unknown keys are refused by name, and every rule the TOML types
//! cannot express (name shapes, parameter types, reserved names) is checked here, so a
//! manifest that passes is one the compiler can turn into tools without guessing.

use std::ops::Range;
use std::time::Duration;

use newrelic_mcp_nrql::{ParamSpec, ParamType};
use serde::Deserialize;
use toml::Spanned;

/// Longest name of a plugin, tool or category.
const MAX_NAME_LEN: usize = 64;
/// Longest tool description; clients show it to a model on every `tools/list`.
const MAX_DESCRIPTION_LEN: usize = 4096;
/// Cache TTL applied when a tool sets none.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Longest cache TTL a tool may set.
const MAX_CACHE_TTL_SECONDS: u64 = 86_400;
/// Category of a tool that names none.
pub const DEFAULT_CATEGORY: &str = "plugins";
/// The argument every manifest tool gets for choosing the account.
pub const ACCOUNT_ARGUMENT: &str = "account_id";

/// A manifest that could not be used: where (1-based line, when known) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", line.map(|line| format!("line {line}: ")).unwrap_or_default())]
pub struct ManifestError {
    pub line: Option<usize>,
    pub reason: String,
}

impl ManifestError {
    pub(crate) fn at(line: usize, reason: impl Into<String>) -> Self {
        Self { line: Some(line), reason: reason.into() }
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: String,
    pub depends_on: Vec<String>,
    pub tools: Vec<ToolManifest>,
}

/// One `[[tools]]` entry, validated; its NRQL is not compiled yet.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolManifest {
    pub name: String,
    pub title: String,
    pub description: String,
    pub category: String,
    /// `None` when the tool asked for no caching (`cache_ttl_seconds = 0`).
    pub cache_ttl: Option<Duration>,
    pub nrql: String,
    pub params: Vec<ParamSpec>,
    /// Line of the `nrql` value, for errors found when compiling it.
    pub nrql_line: usize,
    /// Line of each parameter's `name`, in the order of `params`.
    pub param_lines: Vec<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    plugin: Spanned<PluginSection>,
    tools: Option<Vec<Spanned<ToolSection>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    name: Spanned<String>,
    version: Spanned<String>,
    description: Spanned<String>,
    depends_on: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolSection {
    name: Spanned<String>,
    title: Option<Spanned<String>>,
    description: Spanned<String>,
    category: Option<Spanned<String>>,
    cache_ttl_seconds: Option<Spanned<u64>>,
    nrql: Spanned<String>,
    #[serde(default)]
    params: Vec<ParamSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamSection {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    values: Option<Spanned<Vec<String>>>,
    default: Option<Spanned<toml::Value>>,
    description: Option<String>,
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    before.bytes().filter(|byte| *byte == b'\n').count() + 1
}

/// Parses and validates manifest TOML.
pub fn parse_manifest(text: &str) -> Result<Manifest, ManifestError> {
    let file: ManifestFile = toml::from_str(text).map_err(|error| ManifestError {
        line: error.span().map(|span| line_of(text, span.start)),
        reason: error.message().trim().replace('\n', " "),
    })?;
    let line = |span: Range<usize>| line_of(text, span.start);

    let plugin_line = line(file.plugin.span());
    let plugin = file.plugin.into_inner();
    let name = check_name(&plugin.name, NameKind::Plugin, text)?;
    let version = plugin.version.get_ref().trim();
    if !is_version(version) {
        return Err(ManifestError::at(
            line(plugin.version.span()),
            format!("version '{version}' is not a version number such as 1.2.0"),
        ));
    }
    let description = check_description(&plugin.description, text)?;
    let mut depends_on: Vec<String> = Vec::new();
    for dependency in plugin.depends_on.unwrap_or_default() {
        let dependency_name = check_name(&dependency, NameKind::Plugin, text)?;
        if dependency_name == name {
            return Err(ManifestError::at(
                line(dependency.span()),
                format!("plugin '{name}' cannot depend on itself"),
            ));
        }
        if depends_on.contains(&dependency_name) {
            return Err(ManifestError::at(
                line(dependency.span()),
                format!("'{dependency_name}' is listed twice in depends_on"),
            ));
        }
        depends_on.push(dependency_name);
    }

    let sections = file.tools.unwrap_or_default();
    if sections.is_empty() {
        return Err(ManifestError::at(
            plugin_line,
            format!("plugin '{name}' declares no tools: add at least one [[tools]] table"),
        ));
    }
    let mut tools: Vec<ToolManifest> = Vec::with_capacity(sections.len());
    for section in sections {
        let name_line = line_of(text, section.get_ref().name.span().start);
        let tool = check_tool(section.into_inner(), text)?;
        if tools.iter().any(|earlier| earlier.name == tool.name) {
            return Err(ManifestError::at(
                name_line,
                format!("tool '{}' is declared twice in this manifest", tool.name),
            ));
        }
        tools.push(tool);
    }
    Ok(Manifest { name, version: version.to_string(), description, depends_on, tools })
}

#[derive(Clone, Copy)]
enum NameKind {
    Plugin,
    Tool,
    Category,
}

impl NameKind {
    fn what(self) -> &'static str {
        match self {
            NameKind::Plugin => "plugin name",
            NameKind::Tool => "tool name",
            NameKind::Category => "category",
        }
    }

    fn allows(self, character: char) -> bool {
        let separator = match self {
            NameKind::Plugin | NameKind::Category => '-',
            NameKind::Tool => '_',
        };
        character.is_ascii_lowercase() || character.is_ascii_digit() || character == separator
    }

    fn shape(self) -> &'static str {
        match self {
            NameKind::Plugin | NameKind::Category => "lowercase letters, digits and -",
            NameKind::Tool => "lowercase letters, digits and _",
        }
    }
}

fn check_name(value: &Spanned<String>, kind: NameKind, text: &str) -> Result<String, ManifestError> {
    let name = value.get_ref();
    let starts_with_letter = name.chars().next().is_some_and(|first| first.is_ascii_lowercase());
    if name.len() > MAX_NAME_LEN || !starts_with_letter || !name.chars().all(|c| kind.allows(c)) {
        return Err(ManifestError::at(
            line_of(text, value.span().start),
            format!(
                "{} '{name}' is not valid: use {}, starting with a letter, at most {MAX_NAME_LEN} characters",
                kind.what(),
                kind.shape()
            ),
        ));
    }
    Ok(name.clone())
}

fn check_description(value: &Spanned<String>, text: &str) -> Result<String, ManifestError> {
    let description = value.get_ref().trim();
    let line = line_of(text, value.span().start);
    if description.is_empty() {
        return Err(ManifestError::at(line, "description is empty: say what it is for"));
    }
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(ManifestError::at(
            line,
            format!("description is {} bytes; at most {MAX_DESCRIPTION_LEN}", description.len()),
        ));
    }
    Ok(description.to_string())
}

/// `MAJOR[.MINOR[.PATCH]]`, optionally followed by `-pre` or `+build`.
fn is_version(version: &str) -> bool {
    let core_end = version.find(['-', '+']).unwrap_or(version.len());
    let (core, suffix) = version.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    let core_ok = (1..=3).contains(&parts.len())
        && parts.iter().all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.chars().skip(1).all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        && suffix.len() != 1;
    core_ok && suffix_ok
}

fn check_tool(section: ToolSection, text: &str) -> Result<ToolManifest, ManifestError> {
    let name = check_name(&section.name, NameKind::Tool, text)?;
    let title = match &section.title {
        Some(title) if title.get_ref().trim().is_empty() => {
            return Err(ManifestError::at(line_of(text, title.span().start), "title is empty"));
        }
        Some(title) => title.get_ref().trim().to_string(),
        None => name.clone(),
    };
    let description = check_description(&section.description, text)?;
    let category = match &section.category {
        Some(category) => check_name(category, NameKind::Category, text)?,
        None => DEFAULT_CATEGORY.to_string(),
    };
    let cache_ttl = match &section.cache_ttl_seconds {
        None => Some(DEFAULT_CACHE_TTL),
        Some(seconds) if *seconds.get_ref() > MAX_CACHE_TTL_SECONDS => {
            return Err(ManifestError::at(
                line_of(text, seconds.span().start),
                format!(
                    "cache_ttl_seconds is {}; at most {MAX_CACHE_TTL_SECONDS} (one day), or 0 to never cache",
                    seconds.get_ref()
                ),
            ));
        }
        Some(seconds) if *seconds.get_ref() == 0 => None,
        Some(seconds) => Some(Duration::from_secs(*seconds.get_ref())),
    };
    let nrql_line = line_of(text, section.nrql.span().start);
    let nrql = section.nrql.get_ref().trim().to_string();
    if nrql.is_empty() {
        return Err(ManifestError::at(nrql_line, format!("tool '{name}' has an empty nrql")));
    }
    let mut params = Vec::with_capacity(section.params.len());
    let mut param_lines = Vec::with_capacity(section.params.len());
    for param in section.params {
        param_lines.push(line_of(text, param.name.span().start));
        params.push(check_param(param, text)?);
    }
    Ok(ToolManifest { name, title, description, category, cache_ttl, nrql, params, nrql_line, param_lines })
}

const PARAM_TYPES: &str = "string, identifier, int, float, duration, event_type or enum";

fn check_param(param: ParamSection, text: &str) -> Result<ParamSpec, ManifestError> {
    let name = param.name.get_ref().clone();
    let name_line = line_of(text, param.name.span().start);
    if name == ACCOUNT_ARGUMENT {
        return Err(ManifestError::at(
            name_line,
            "parameter name 'account_id' is reserved: every plugin tool already takes it to choose the account",
        ));
    }
    let type_line = line_of(text, param.kind.span().start);
    let choices = |kind: &str| -> Result<Vec<String>, ManifestError> {
        match &param.values {
            Some(values) if !values.get_ref().is_empty() => Ok(values.get_ref().clone()),
            Some(values) => Err(ManifestError::at(
                line_of(text, values.span().start),
                format!("parameter '{name}' of type {kind} lists no values: list at least one"),
            )),
            None => Err(ManifestError::at(
                type_line,
                format!("parameter '{name}' of type {kind} needs values = [...], the values it accepts"),
            )),
        }
    };
    let kind = match param.kind.get_ref().as_str() {
        "string" => ParamType::String,
        "identifier" => ParamType::Identifier,
        "int" => ParamType::Int,
        "float" => ParamType::Float,
        "duration" => ParamType::Duration,
        "event_type" => ParamType::EventType(choices("event_type")?),
        "enum" => ParamType::Enum(choices("enum")?),
        other => {
            return Err(ManifestError::at(
                type_line,
                format!("parameter '{name}' has type '{other}', which is not one of {PARAM_TYPES}"),
            ));
        }
    };
    if let Some(values) = &param.values
        && !matches!(kind, ParamType::Enum(_) | ParamType::EventType(_))
    {
        return Err(ManifestError::at(
            line_of(text, values.span().start),
            format!("parameter '{name}': values only apply to enum and event_type parameters"),
        ));
    }
    let default = match param.default {
        None => None,
        Some(default) => {
            let line = line_of(text, default.span().start);
            let value = default.into_inner();
            if matches!(value, toml::Value::Datetime(_)) {
                return Err(ManifestError::at(
                    line,
                    format!("the default of parameter '{name}' is a TOML date; write it as a string"),
                ));
            }
            Some(serde_json::to_value(&value).map_err(|error| {
                ManifestError::at(line, format!("the default of parameter '{name}' is unusable: {error}"))
            })?)
        }
    };
    Ok(ParamSpec { name, kind, default, description: param.description })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    const VALID: &str = r#"
[plugin]
name = "checkout-insights"
version = "1.2.0"
description = "Checkout health"
depends_on = ["team-defaults"]

[[tools]]
name = "checkout_error_rate"
title = "Checkout error rate"
description = "Error rate of an app"
category = "performance-analytics"
cache_ttl_seconds = 60
nrql = "SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = {{app}} SINCE {{since}} ago"

[[tools.params]]
name = "app"
type = "string"
description = "The app"
default = "checkout-service"

[[tools.params]]
name = "since"
type = "duration"
default = "1 hour"
"#;

    #[test]
    fn a_valid_manifest_keeps_every_field() {
        let manifest = parse_manifest(VALID).unwrap();
        assert_eq!(manifest.name, "checkout-insights");
        assert_eq!(manifest.version, "1.2.0");
        assert_eq!(manifest.depends_on, vec!["team-defaults".to_string()]);
        let tool = &manifest.tools[0];
        assert_eq!(tool.category, "performance-analytics");
        assert_eq!(tool.cache_ttl, Some(Duration::from_secs(60)));
        assert_eq!(tool.nrql_line, 14);
        assert_eq!(tool.param_lines, vec![17, 23]);
        assert_eq!(tool.params[0].default, Some(serde_json::json!("checkout-service")));
        assert_eq!(tool.params[1].kind, ParamType::Duration);
    }

    #[test]
    fn defaults_fill_what_a_tool_leaves_out() {
        let text = "[plugin]\nname = \"p\"\nversion = \"1\"\ndescription = \"d\"\n[[tools]]\nname = \"t\"\ndescription = \"d\"\nnrql = \"SELECT count(*) FROM Log\"\n";
        let tool = &parse_manifest(text).unwrap().tools[0];
        assert_eq!(tool.title, "t");
        assert_eq!(tool.category, DEFAULT_CATEGORY);
        assert_eq!(tool.cache_ttl, Some(DEFAULT_CACHE_TTL));
        let no_cache = text.replace("nrql =", "cache_ttl_seconds = 0\nnrql =");
        assert_eq!(parse_manifest(&no_cache).unwrap().tools[0].cache_ttl, None);
    }

    #[test]
    fn refusals_name_the_line_and_the_reason() {
        let head = "[plugin]\nname = \"p\"\nversion = \"1.0.0\"\ndescription = \"d\"\n";
        let tool = "[[tools]]\nname = \"t\"\ndescription = \"d\"\nnrql = \"SELECT count(*) FROM Log WHERE level = {{level}}\"\n";
        let param = "[[tools.params]]\nname = \"level\"\n";
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("{head}colour = 1\n{tool}"), 5, "unknown field `colour`"),
            (format!("{head}{tool}nrq = \"x\"\n"), 9, "unknown field `nrq`"),
            (format!("{head}{tool}{param}type = \"string\"\nwidth = 3\n"), 12, "unknown field `width`"),
            (head.replace("\"p\"", "\"Bad_Name\""), 2, "plugin name 'Bad_Name' is not valid"),
            (head.replace("1.0.0", "one"), 3, "not a version number"),
            (head.to_string(), 1, "declares no tools"),
            (format!("{head}{tool}").replace("\"t\"", "\"t-1\""), 6, "tool name 't-1' is not valid"),
            (format!("{head}{tool}{param}type = \"text\"\n"), 11, "'text', which is not one of"),
            (format!("{head}{tool}{param}type = \"enum\"\n"), 11, "needs values"),
            (format!("{head}{tool}{param}type = \"enum\"\nvalues = []\n"), 12, "lists no values"),
            (format!("{head}{tool}{param}type = \"int\"\nvalues = [\"a\"]\n"), 12, "only apply to enum"),
            (
                format!("{head}{tool}[[tools.params]]\nname = \"account_id\"\ntype = \"int\"\n"),
                10,
                "reserved",
            ),
            (format!("{head}{tool}cache_ttl_seconds = 100000\n"), 9, "at most 86400"),
            (format!("{head}{tool}{tool}"), 10, "declared twice"),
            (head.replace("description = \"d\"", "description = \" \""), 4, "description is empty"),
            (format!("{head}depends_on = [\"p\"]\n{tool}"), 5, "cannot depend on itself"),
            (format!("{head}depends_on = [\"q\", \"q\"]\n{tool}"), 5, "listed twice"),
            (format!("{head}{tool}").replace("name = \"t\"\n", ""), 5, "missing field `name`"),
            (format!("{head}{tool}{param}type = \"string\"\ndefault = 1979-05-27\n"), 12, "TOML date"),
            ("[plugin\nname = 1".to_string(), 1, ""),
        ];
        for (text, line, needle) in cases {
            let error = parse_manifest(&text).unwrap_err();
            assert_eq!(error.line, Some(line), "{needle}: {error}\n{text}");
            assert!(error.reason.contains(needle), "expected '{needle}' in: {error}");
        }
    }

    #[test]
    fn versions_follow_the_usual_shape() {
        for good in ["1", "1.2", "1.2.3", "1.2.3-beta.1", "0.1.0+build5", "2.0.0-rc.1+sha.5114f85"] {
            assert!(is_version(good), "{good}");
        }
        for bad in ["", "v1", "1.2.3.4", "1..2", "1.2.3-", "1.x", "1.2 3"] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
