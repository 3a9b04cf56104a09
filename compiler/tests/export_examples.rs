//! Every example workspace exported to GoCD: the YAML is kept as a snapshot a reviewer reads,
//! with what could not be exported; each file is read back by a YAML parser and checked for the
//! shape the GoCD YAML plugin expects.

use pw_compiler::analyze;
use pw_compiler::export::gocd::{self, Options};
use saphyr::{LoadableYamlNode, Yaml};
use std::path::{Path, PathBuf};

mod common;

use common::{load_example, repo};

/// Each workspace under `examples/`: its folders, and the folders of `antipatterns/`.
fn examples() -> Vec<PathBuf> {
    let list = |dir: &Path| -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect())
            .unwrap_or_default();
        out.sort();
        out
    };
    list(&repo().join("examples"))
        .into_iter()
        .flat_map(|p| if p.ends_with("antipatterns") { list(&p) } else { vec![p] })
        .collect()
}

/// The value of `key` in the map `node` of `file`.
fn get<'a>(file: &str, node: &Yaml<'a>, key: &str) -> Yaml<'a> {
    node.as_mapping_get(key).cloned().unwrap_or_else(|| panic!("{file}: no `{key}`"))
}

/// The structure GoCD's plugin needs: `format_version: 10`, one pipeline with a group,
/// materials and stages, each stage one key over `jobs`, each job with tasks.
fn check_structure(file: &str, text: &str) {
    let docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
    let doc = &docs[0];
    assert_eq!(get(file, doc, "format_version").as_integer(), Some(10), "{file}");
    let pipelines = get(file, doc, "pipelines");
    let pipelines = pipelines.as_mapping().unwrap_or_else(|| panic!("{file}: pipelines is a map"));
    assert_eq!(pipelines.len(), 1, "{file}: one pipeline a file");
    for (name, body) in pipelines {
        assert_eq!(format!("{}.gocd.yaml", name.as_str().unwrap_or_default()), file);
        assert!(get(file, body, "group").as_str().is_some(), "{file}: group");
        assert!(get(file, body, "materials").as_mapping().is_some_and(|m| !m.is_empty()), "{file}: materials");
        let stages = get(file, body, "stages");
        for stage in stages.as_vec().unwrap_or_else(|| panic!("{file}: stages is a list")) {
            let stage = stage.as_mapping().unwrap_or_else(|| panic!("{file}: a stage is a map"));
            assert_eq!(stage.len(), 1, "{file}: a stage is one `name: body` pair");
            for (_, body) in stage {
                let jobs = get(file, body, "jobs");
                for (_, job) in jobs.as_mapping().unwrap_or_else(|| panic!("{file}: jobs is a map")) {
                    assert!(get(file, job, "tasks").as_vec().is_some_and(|t| !t.is_empty()), "{file}: tasks");
                }
            }
        }
    }
}

#[test]
fn every_example_exports_to_gocd_yaml_that_reads_back() {
    let examples = examples();
    assert!(examples.len() >= 8, "expected the examples, found {examples:?}");
    for example in examples {
        let workspace = load_example(&example);
        let analysis = analyze(&workspace);
        assert!(!analysis.has_errors(), "{} does not check", example.display());
        let exported = gocd::export(&workspace, &analysis.program, &Options::default());
        let mut shown = String::new();
        for file in &exported.files {
            check_structure(&file.path, &file.text);
            shown.push_str(&format!("# ---- {} ----\n{}", file.path, file.text));
        }
        let rendered = pw_compiler::render::human::render_all(&exported.diagnostics, &workspace, false);
        shown.push_str(&format!("# ---- diagnostics ----\n{rendered}"));
        let name = example.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        insta::assert_snapshot!(format!("gocd_{name}"), shown);
    }
}
