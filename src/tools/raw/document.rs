//! Reads a caller's GraphQL document without a schema: parses it, picks the operation to run,
//! refuses absurd documents, and keeps only what that operation needs.
//!
//! New Relic's schema is not shipped, so nothing here knows field types; it checks what the
//! syntax alone decides: well-formedness (with line and column), which operation runs, how
//! deep the selections nest (fragments expanded), and that every spread fragment exists and
//! none spreads itself. The document sent holds the chosen operation and the fragments it
//! uses, because NerdGraph's request body names no operation: a document with several would
//! be ambiguous to it, and unused fragments are an error to GraphQL validation.

use std::collections::{BTreeSet, HashMap};

use apollo_compiler::ast::{self, Definition, FragmentDefinition, OperationType, Selection};
use apollo_compiler::parser::Parser;
use apollo_compiler::validation::DiagnosticList;
use apollo_compiler::{Name, Node};

/// Largest document accepted, in bytes.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Deepest field nesting accepted, fragments expanded. NerdGraph's own answers need far fewer
/// levels (a dashboard's widgets sit about eight deep).
pub(crate) const MAX_DEPTH: usize = 20;
/// Nesting the parser follows before it gives up; it protects the stack from hostile input,
/// and sits well above [`MAX_DEPTH`] so that an honest deep document gets the clearer error.
const PARSER_RECURSION_LIMIT: usize = 128;
/// Fragment spreads followed in a row (fields and spreads together) before the document is
/// called too deep, whatever its field depth.
const MAX_NESTING: usize = 128;

/// What kind of operation the document asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

impl OperationKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

/// The operation to run, with the document that carries exactly it.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub name: Option<String>,
    pub kind: OperationKind,
    /// The text to send: the caller's own when it holds nothing else, else the operation and
    /// the fragments it uses, printed again.
    pub text: String,
    /// Names of the fields selected at the root (through fragments), in document order.
    pub root_fields: Vec<String>,
    /// Names of the variables the operation declares.
    pub declared_variables: Vec<String>,
    /// Whether any selection reads a field named `nrql` (an NRQL query).
    pub selects_nrql: bool,
    /// The operation and its fragments, for further checks.
    pub document: ast::Document,
}

impl Operation {
    /// The operation's name for messages: `query Name`, or `the anonymous query`.
    pub(crate) fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {name}", self.kind.as_str()),
            None => format!("the anonymous {}", self.kind.as_str()),
        }
    }

    /// The variable definition named `name`, when the operation declares it.
    pub(crate) fn variable(&self, name: &str) -> Option<&Node<ast::VariableDefinition>> {
        self.document.definitions.iter().find_map(|definition| match definition {
            Definition::OperationDefinition(operation) => {
                operation.variables.iter().find(|variable| variable.name.as_str() == name)
            }
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DocumentError {
    #[error("query is empty: pass a GraphQL document, e.g. `{{ actor {{ user {{ name email }} }} }}`")]
    Empty,
    #[error(
        "the document is {bytes} bytes, over the {max} this tool accepts: ask for fewer fields, or split it \
         into several calls"
    )]
    TooLarge { bytes: usize, max: usize },
    #[error(
        "GraphQL syntax error at line {line}, column {column}: {message}{more}; fix the document and retry"
    )]
    Syntax { line: usize, column: usize, message: String, more: String },
    #[error(
        "selections nest deeper than {max} levels (fragments expanded); no NerdGraph answer needs that many: \
         select less deeply"
    )]
    TooDeep { max: usize },
    #[error(
        "the document holds {what} at line {line}; send only operations (query, mutation) and the fragments \
         they use"
    )]
    TypeSystem { what: &'static str, line: usize },
    #[error("the document defines no operation; write one, e.g. `{{ actor {{ user {{ name email }} }} }}`")]
    NoOperation,
    #[error("the document has no operation named '{name}'; it defines {available}")]
    UnknownOperation { name: String, available: String },
    #[error("the document defines {count} operations ({names}); pass operation_name to choose one")]
    Ambiguous { count: usize, names: String },
    #[error("the document defines two operations named '{name}'; operation names must be unique")]
    DuplicateOperation { name: String },
    #[error("the document defines fragment '{name}' twice; fragment names must be unique")]
    DuplicateFragment { name: String },
    #[error("fragment '{name}' is spread but not defined; define it or remove `...{name}`")]
    UndefinedFragment { name: String },
    #[error("fragment '{name}' spreads itself (directly or through other fragments), which never ends")]
    FragmentCycle { name: String },
}

/// Parses `source`, picks the operation (`operation_name`, or the only one) and checks it.
pub(crate) fn select(source: &str, operation_name: Option<&str>) -> Result<Operation, DocumentError> {
    if source.trim().is_empty() {
        return Err(DocumentError::Empty);
    }
    if source.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge { bytes: source.len(), max: MAX_DOCUMENT_BYTES });
    }
    let document = Parser::new()
        .recursion_limit(PARSER_RECURSION_LIMIT)
        .parse_ast(source, "query.graphql")
        .map_err(|with_errors| syntax_error(&with_errors.errors))?;

    let mut operations = Vec::new();
    let mut fragments: HashMap<&str, &Node<FragmentDefinition>> = HashMap::new();
    for definition in &document.definitions {
        match definition {
            Definition::OperationDefinition(operation) => operations.push(operation),
            Definition::FragmentDefinition(fragment) => {
                if fragments.insert(fragment.name.as_str(), fragment).is_some() {
                    return Err(DocumentError::DuplicateFragment { name: fragment.name.to_string() });
                }
            }
            other => {
                let line = other
                    .location()
                    .and_then(|span| span.line_column(&document.sources))
                    .map_or(1, |position| position.line);
                return Err(DocumentError::TypeSystem { what: describe(other), line });
            }
        }
    }
    let operation = choose(&operations, operation_name)?;

    let mut walk = Walk::new(&fragments);
    let depth = walk.selection_set_depth(&operation.selection_set, 0)?;
    if depth > MAX_DEPTH {
        return Err(DocumentError::TooDeep { max: MAX_DEPTH });
    }
    let mut root_fields = Vec::new();
    walk.root_fields(&operation.selection_set, &mut BTreeSet::new(), &mut root_fields);

    let kept: Vec<Definition> = document
        .definitions
        .iter()
        .filter(|definition| match definition {
            Definition::OperationDefinition(candidate) => std::ptr::eq(&**candidate, &**operation),
            Definition::FragmentDefinition(fragment) => walk.used.contains(fragment.name.as_str()),
            _ => false,
        })
        .cloned()
        .collect();
    let unchanged = kept.len() == document.definitions.len();
    let pruned = ast::Document { sources: document.sources.clone(), definitions: kept };
    let text = if unchanged { source.to_string() } else { pruned.to_string() };
    Ok(Operation {
        name: operation.name.as_ref().map(Name::to_string),
        kind: match operation.operation_type {
            OperationType::Query => OperationKind::Query,
            OperationType::Mutation => OperationKind::Mutation,
            OperationType::Subscription => OperationKind::Subscription,
        },
        text,
        root_fields,
        declared_variables: operation.variables.iter().map(|variable| variable.name.to_string()).collect(),
        selects_nrql: walk.selects_nrql,
        document: pruned,
    })
}

fn syntax_error(errors: &DiagnosticList) -> DocumentError {
    let mut diagnostics = errors.iter();
    let Some(first) = diagnostics.next() else {
        return DocumentError::Syntax {
            line: 1,
            column: 1,
            message: "the parser rejected the document".into(),
            more: String::new(),
        };
    };
    let message = first.error.to_string();
    if message.contains("recursion limit") {
        return DocumentError::TooDeep { max: MAX_DEPTH };
    }
    let start = first.line_column_range().map(|range| range.start);
    let others = errors.len() - 1;
    DocumentError::Syntax {
        line: start.map_or(1, |position| position.line),
        column: start.map_or(1, |position| position.column),
        message: message.trim_start_matches("syntax error: ").to_string(),
        more: match others {
            0 => String::new(),
            1 => " (and 1 more error)".to_string(),
            n => format!(" (and {n} more errors)"),
        },
    }
}

fn describe(definition: &Definition) -> &'static str {
    match definition {
        Definition::DirectiveDefinition(_) => "a directive definition",
        Definition::SchemaDefinition(_) | Definition::SchemaExtension(_) => "a schema definition",
        definition if definition.is_extension_definition() => "a type extension",
        _ => "a type definition",
    }
}

fn operation_label(operation: &ast::OperationDefinition) -> String {
    match &operation.name {
        Some(name) => format!("'{name}'"),
        None => format!("an anonymous {}", operation.operation_type),
    }
}

fn choose<'d>(
    operations: &[&'d Node<ast::OperationDefinition>],
    wanted: Option<&str>,
) -> Result<&'d Node<ast::OperationDefinition>, DocumentError> {
    let mut seen = BTreeSet::new();
    for operation in operations {
        if let Some(name) = &operation.name
            && !seen.insert(name.as_str())
        {
            return Err(DocumentError::DuplicateOperation { name: name.to_string() });
        }
    }
    let list =
        || operations.iter().map(|operation| operation_label(operation)).collect::<Vec<_>>().join(", ");
    match (wanted.map(str::trim).filter(|name| !name.is_empty()), operations) {
        (_, []) => Err(DocumentError::NoOperation),
        (Some(name), _) => operations
            .iter()
            .find(|operation| operation.name.as_ref().is_some_and(|own| own.as_str() == name))
            .copied()
            .ok_or_else(|| DocumentError::UnknownOperation { name: name.to_string(), available: list() }),
        (None, [only]) => Ok(only),
        (None, several) => Err(DocumentError::Ambiguous { count: several.len(), names: list() }),
    }
}

/// How far a fragment's selections nest, once known.
#[derive(Clone, Copy)]
enum FragmentDepth {
    InProgress,
    Known(usize),
}

/// One pass over the operation: nesting depth (each fragment measured once, so repeated
/// spreads cost nothing), the fragments used and whether NRQL is read.
struct Walk<'d> {
    fragments: &'d HashMap<&'d str, &'d Node<FragmentDefinition>>,
    depths: HashMap<&'d str, FragmentDepth>,
    used: BTreeSet<&'d str>,
    selects_nrql: bool,
}

impl<'d> Walk<'d> {
    fn new(fragments: &'d HashMap<&'d str, &'d Node<FragmentDefinition>>) -> Self {
        Self { fragments, depths: HashMap::new(), used: BTreeSet::new(), selects_nrql: false }
    }

    /// Field levels below `selections`; `frames` counts the nesting walked so far.
    fn selection_set_depth(
        &mut self,
        selections: &'d [Selection],
        frames: usize,
    ) -> Result<usize, DocumentError> {
        if frames > MAX_NESTING {
            return Err(DocumentError::TooDeep { max: MAX_DEPTH });
        }
        let mut deepest = 0;
        for selection in selections {
            let depth = match selection {
                Selection::Field(field) => {
                    if field.name.as_str() == "nrql" {
                        self.selects_nrql = true;
                    }
                    1 + self.selection_set_depth(&field.selection_set, frames + 1)?
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set_depth(&inline.selection_set, frames + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment_depth(spread.fragment_name.as_str(), frames + 1)?
                }
            };
            deepest = deepest.max(depth);
            if deepest > MAX_DEPTH {
                return Err(DocumentError::TooDeep { max: MAX_DEPTH });
            }
        }
        Ok(deepest)
    }

    fn fragment_depth(&mut self, name: &str, frames: usize) -> Result<usize, DocumentError> {
        let Some((&key, &fragment)) = self.fragments.get_key_value(name) else {
            return Err(DocumentError::UndefinedFragment { name: name.to_string() });
        };
        match self.depths.get(key) {
            Some(FragmentDepth::Known(depth)) => return Ok(*depth),
            Some(FragmentDepth::InProgress) => {
                return Err(DocumentError::FragmentCycle { name: name.to_string() });
            }
            None => {}
        }
        self.used.insert(key);
        self.depths.insert(key, FragmentDepth::InProgress);
        let depth = self.selection_set_depth(&fragment.selection_set, frames)?;
        self.depths.insert(key, FragmentDepth::Known(depth));
        Ok(depth)
    }

    /// Root field names, through fragments; runs after the depth pass has proved every spread
    /// defined and acyclic, and `visited` keeps a fragment spread twice from listing twice.
    fn root_fields(
        &self,
        selections: &'d [Selection],
        visited: &mut BTreeSet<&'d str>,
        out: &mut Vec<String>,
    ) {
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    if !out.iter().any(|name| name == field.name.as_str()) {
                        out.push(field.name.to_string());
                    }
                }
                Selection::InlineFragment(inline) => self.root_fields(&inline.selection_set, visited, out),
                Selection::FragmentSpread(spread) => {
                    if let Some((&key, fragment)) =
                        self.fragments.get_key_value(spread.fragment_name.as_str())
                        && visited.insert(key)
                    {
                        self.root_fields(&fragment.selection_set, visited, out);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

    use super::*;

    fn nested(levels: usize) -> String {
        let mut text = String::new();
        for level in 0..levels {
            text.push_str(&format!("f{level} {{ "));
        }
        text.push_str("leaf");
        for _ in 0..levels {
            text.push_str(" }");
        }
        format!("{{ {text} }}")
    }

    #[test]
    fn picks_the_operation_or_says_why_not() {
        let two = "query A { actor { user { name } } }\nquery B { actor { user { email } } }";
        let cases: Vec<(&str, Option<&str>, Result<(&str, OperationKind), &str>)> = vec![
            ("{ actor { user { name } } }", None, Ok(("", OperationKind::Query))),
            ("query Me { actor { user { name } } }", None, Ok(("Me", OperationKind::Query))),
            ("query Me { actor { user { name } } }", Some("Me"), Ok(("Me", OperationKind::Query))),
            (two, Some("B"), Ok(("B", OperationKind::Query))),
            (two, Some(" A "), Ok(("A", OperationKind::Query))),
            (
                "mutation M { nrqlCancelQuery(queryId: \"1\") { queryId } }",
                None,
                Ok(("M", OperationKind::Mutation)),
            ),
            ("subscription S { ticks }", None, Ok(("S", OperationKind::Subscription))),
            (two, None, Err("2 operations ('A', 'B'); pass operation_name")),
            ("query A { a }\n{ b }", None, Err("('A', an anonymous query)")),
            (two, Some("C"), Err("no operation named 'C'; it defines 'A', 'B'")),
            ("query A { a }\nquery A { b }", Some("A"), Err("two operations named 'A'")),
            ("fragment F on Actor { user { name } }", None, Err("defines no operation")),
            ("  \n ", None, Err("query is empty")),
            ("type Query { a: Int }", None, Err("a type definition at line 1")),
            ("{ a }\n\ndirective @d on FIELD", None, Err("a directive definition at line 3")),
        ];
        for (source, name, expected) in cases {
            match (select(source, name), expected) {
                (Ok(operation), Ok((expected_name, kind))) => {
                    assert_eq!(operation.name.as_deref().unwrap_or(""), expected_name, "{source}");
                    assert_eq!(operation.kind, kind, "{source}");
                }
                (Err(error), Err(needle)) => {
                    assert!(error.to_string().contains(needle), "{source}: {error}");
                }
                (got, expected) => panic!("{source}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_syntax_error_names_its_line_and_column() {
        let error = select("{\n  actor {\n    user { name \n}", None).unwrap_err();
        let DocumentError::Syntax { line, column, .. } = &error else { panic!("{error:?}") };
        assert!(*line >= 3, "{error}");
        assert!(*column >= 1, "{error}");
        assert!(error.to_string().starts_with("GraphQL syntax error at line"), "{error}");

        let error = select("{ actor { user(id: ) { name } } }", None).unwrap_err();
        let DocumentError::Syntax { line, column, message, .. } = &error else { panic!("{error:?}") };
        assert_eq!((*line, *column), (1, 20), "{error}");
        assert!(!message.starts_with("syntax error"), "{error}");
    }

    /// `levels` fields each in its own fragment, around a leaf: `levels + 1` deep.
    fn nested_through_fragments(levels: usize) -> String {
        let mut text = String::from("{ ...F0 }\n");
        for level in 0..levels {
            text.push_str(&format!("fragment F{level} on T {{ f{level} {{ ...F{} }} }}\n", level + 1));
        }
        text.push_str(&format!("fragment F{levels} on T {{ leaf }}\n"));
        text
    }

    #[test]
    fn depth_counts_fields_through_fragments_and_refuses_absurd_nesting() {
        assert!(select(&nested(MAX_DEPTH - 1), None).is_ok());
        assert!(select(&nested_through_fragments(MAX_DEPTH - 1), None).is_ok());
        for source in [nested(MAX_DEPTH), nested_through_fragments(MAX_DEPTH), nested(200), nested(5_000)] {
            assert_eq!(
                select(&source, None).unwrap_err(),
                DocumentError::TooDeep { max: MAX_DEPTH },
                "{} bytes",
                source.len()
            );
        }
    }

    #[test]
    fn fragments_are_checked_and_only_the_used_ones_are_sent() {
        let cycle = "{ actor { ...A } }\nfragment A on Actor { ...B }\nfragment B on Actor { ...A }";
        assert!(matches!(select(cycle, None), Err(DocumentError::FragmentCycle { .. })));
        let undefined = "{ actor { ...Missing } }";
        assert_eq!(
            select(undefined, None).unwrap_err(),
            DocumentError::UndefinedFragment { name: "Missing".into() }
        );
        let twice = "{ a }\nfragment F on X { a }\nfragment F on X { b }";
        assert!(matches!(select(twice, None), Err(DocumentError::DuplicateFragment { .. })));

        let source = "query A { actor { ...Who } }\nquery B { actor { ...Where } }\n\
                      fragment Who on Actor { user { name } }\nfragment Where on Actor { accounts { id } }";
        let operation = select(source, Some("A")).unwrap();
        assert!(operation.text.contains("query A"), "{}", operation.text);
        assert!(operation.text.contains("fragment Who"), "{}", operation.text);
        assert!(!operation.text.contains("query B"), "{}", operation.text);
        assert!(!operation.text.contains("fragment Where"), "{}", operation.text);
        // What is sent parses to the same single operation.
        assert_eq!(select(&operation.text, None).unwrap().name.as_deref(), Some("A"));

        let whole = "query A { actor { ...Who } }\nfragment Who on Actor { user { name } }";
        assert_eq!(
            select(whole, None).unwrap().text,
            whole,
            "a document with nothing to drop is sent as written"
        );
    }

    #[test]
    fn many_spreads_of_the_same_fragments_are_measured_once() {
        // Each fragment spreads the next twice: expanded naively this is 2^40 selections.
        let mut source = String::from("{ root { ...F0 } }\n");
        for level in 0..40 {
            source
                .push_str(&format!("fragment F{level} on T {{ ...F{next} ...F{next} }}\n", next = level + 1));
        }
        source.push_str("fragment F40 on T { leaf }\n");
        assert!(select(&source, None).is_ok());
    }

    #[test]
    fn root_fields_variables_and_nrql_are_reported() {
        let source = "mutation Make($accountId: Int!, $name: String!) {\n  ...Create\n  \
                      alertsPolicyDelete(accountId: $accountId, id: 1) { id }\n}\n\
                      fragment Create on RootMutationType { alertsPolicyCreate(accountId: $accountId, policy: {name: $name, incidentPreference: PER_POLICY}) { id } }";
        let operation = select(source, None).unwrap();
        assert_eq!(
            operation.root_fields,
            vec!["alertsPolicyCreate".to_string(), "alertsPolicyDelete".to_string()]
        );
        assert_eq!(operation.declared_variables, vec!["accountId".to_string(), "name".to_string()]);
        assert!(operation.variable("name").is_some());
        assert!(operation.variable("other").is_none());
        assert!(!operation.selects_nrql);
        assert_eq!(operation.describe(), "mutation Make");

        let nrql =
            select("{ actor { account(id: 1) { nrql(query: \"SELECT 1\") { results } } } }", None).unwrap();
        assert!(nrql.selects_nrql);
        assert_eq!(nrql.describe(), "the anonymous query");
    }
}
