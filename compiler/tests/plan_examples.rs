//! Every example workspace checks clean, and its plan is kept as a snapshot, so a change to
//! the plan a user's pipelines compile to is reviewed; every plan matches the published schema,
//! `grammar/plan.schema.json`.

use pw_compiler::analyze;
use pw_compiler::plan::Plan;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;

use common::{load_example, repo};

/// Each folder (or lone file) directly under `examples/`, but the deliberately bad ones.
fn examples() -> Vec<PathBuf> {
    let dir = repo().join("examples");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| (p.is_dir() || p.extension().is_some_and(|e| e == "pw")) && !p.ends_with("antipatterns"));
    out.sort();
    out
}

/// The plan of an example, with its files named relative to the repository; panics when the
/// example does not check.
fn plan_of(example: &Path) -> Plan {
    let workspace = load_example(example);
    let analysis = analyze(&workspace);
    let rendered = pw_compiler::render::human::render_all(&analysis.diagnostics, &workspace, false);
    assert!(!analysis.has_errors(), "{} does not check:\n{rendered}", example.display());
    analysis.plan(&workspace).unwrap_or_else(|| panic!("no plan for {}", example.display()))
}

#[test]
fn every_example_checks_clean_and_plans() {
    let examples = examples();
    assert!(examples.len() >= 6, "expected at least six examples, found {examples:?}");
    for example in examples {
        let plan = plan_of(&example);
        let name = example.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        insta::assert_snapshot!(name, plan.to_json());
    }
}

/// `grammar/plan.schema.json`, compiled.
fn plan_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let path = repo().join("grammar/plan.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let url = schema["$id"].as_str().unwrap_or("https://pipewright.dev/schema/plan.json").to_string();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(&url, schema).unwrap_or_else(|e| panic!("{e}"));
    let index = compiler.compile(&url, &mut schemas).unwrap_or_else(|e| panic!("{e:#}"));
    (schemas, index)
}

/// Every example's plan, the antipatterns' included, as `pw plan` writes it, matches the
/// schema; and the schema is strict enough to reject a plan with a field it does not describe.
#[test]
fn every_example_plan_matches_the_schema() {
    let (schemas, index) = plan_schema();
    let dir = repo().join("examples/antipatterns");
    let mut examples = examples();
    examples.extend(std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    assert!(examples.len() >= 8, "expected the examples and the antipatterns, found {examples:?}");
    for example in &examples {
        let plan: Value = serde_json::from_str(&plan_of(example).to_json()).unwrap_or(Value::Null);
        if let Err(e) = schemas.validate(&plan, index) {
            panic!("the plan of {} does not match grammar/plan.schema.json: {e:#}", example.display());
        }
    }
    let mut plan: Value = serde_json::from_str(&plan_of(&examples[0]).to_json()).unwrap_or(Value::Null);
    plan["pipelines"][0]["stages"][0]["unknown"] = Value::Bool(true);
    assert!(schemas.validate(&plan, index).is_err(), "the schema accepts a stage with an unknown field");
    plan["pipelines"] = Value::from("not a list");
    assert!(schemas.validate(&plan, index).is_err(), "the schema accepts pipelines that are not a list");
}
