//! The sandbox's schema subset must agree with the real NerdGraph schema: every type,
//! field, argument and input field it declares exists there with the same type.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use std::path::PathBuf;

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;

fn real_schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/nerdgraph/schema.graphql")
}

#[test]
fn the_subset_matches_the_real_schema() {
    let path = real_schema_path();
    let Ok(source) = std::fs::read_to_string(&path) else {
        println!("skipped: the real NerdGraph schema is not at {}", path.display());
        return;
    };
    let real = Schema::parse(&source, "schema.graphql").unwrap_or_else(|invalid| invalid.partial);
    let subset = newrelic_mcp_sandbox::graphql::load_schema().expect("the subset is valid");
    let mut problems = Vec::new();
    for (name, ty) in &subset.types {
        if ty.is_built_in() {
            continue;
        }
        let Some(real_ty) = real.types.get(name) else {
            problems.push(format!("type {name} is not in the real schema"));
            continue;
        };
        if std::mem::discriminant(ty) != std::mem::discriminant(real_ty) {
            problems.push(format!("{name} is a different kind of type"));
            continue;
        }
        match (ty, real_ty) {
            (ExtendedType::Object(ours), ExtendedType::Object(theirs)) => {
                compare_fields(name, &ours.fields, &theirs.fields, &mut problems);
            }
            (ExtendedType::Interface(ours), ExtendedType::Interface(theirs)) => {
                compare_fields(name, &ours.fields, &theirs.fields, &mut problems);
            }
            (ExtendedType::InputObject(ours), ExtendedType::InputObject(theirs)) => {
                for (field, definition) in &ours.fields {
                    match theirs.fields.get(field) {
                        None => {
                            problems.push(format!("input field {name}.{field} is not in the real schema"))
                        }
                        Some(real_field) if real_field.ty != definition.ty => problems
                            .push(format!("{name}.{field}: {} here, {} there", definition.ty, real_field.ty)),
                        Some(_) => {}
                    }
                }
            }
            (ExtendedType::Enum(ours), ExtendedType::Enum(theirs)) => {
                for value in ours.values.keys() {
                    if !theirs.values.contains_key(value) {
                        problems.push(format!("enum value {name}.{value} is not in the real schema"));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn compare_fields(
    type_name: &apollo_compiler::Name,
    ours: &apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<apollo_compiler::schema::FieldDefinition>,
    >,
    theirs: &apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<apollo_compiler::schema::FieldDefinition>,
    >,
    problems: &mut Vec<String>,
) {
    for (field, definition) in ours {
        let Some(real_field) = theirs.get(field) else {
            problems.push(format!("field {type_name}.{field} is not in the real schema"));
            continue;
        };
        if real_field.ty != definition.ty {
            problems.push(format!("{type_name}.{field}: {} here, {} there", definition.ty, real_field.ty));
        }
        for argument in &definition.arguments {
            match real_field.arguments.iter().find(|real| real.name == argument.name) {
                None => problems.push(format!(
                    "argument {type_name}.{field}({}) is not in the real schema",
                    argument.name
                )),
                Some(real) if real.ty != argument.ty => problems.push(format!(
                    "{type_name}.{field}({}): {} here, {} there",
                    argument.name, argument.ty, real.ty
                )),
                Some(_) => {}
            }
        }
    }
}
