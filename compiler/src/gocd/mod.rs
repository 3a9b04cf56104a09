//! GoCD configurations as a second front end: `*.gocd.yaml` files (the YAML config-repo
//! plugin's format) and the server's `cruise-config.xml` are read into GoCD's model and mapped
//! into the compiler's own syntax tree, with spans into the GoCD file, so the checker, the linter
//! and every output format report on its lines. [`import`] writes the same tree as `.pw`.
//!
//! yaml text ─► [`yaml::read`] ─┐
//!                              ├► nodes ─► `read` ─► [`model::Config`] ─► `lower` ─► `ast::File`
//! xml text ──► `xml::read` ────┘                          └─► `findings` (GoCD-specific)

pub mod codes;
mod emit;
mod findings;
mod import;
mod index;
mod keys;
mod lower;
pub mod model;
mod read;
mod repeats;
mod xml;
pub mod yaml;

pub use import::{import, output_name, Imported};
pub use lower::pw_name;

use crate::diagnostic::Diagnostic;
use crate::gocd::codes::GoCode;
use crate::source::{FileId, Span, Workspace};
use crate::ParsedFile;
use index::Index;
use lower::Mode;

/// Whether the path names a GoCD file: YAML (`*.gocd.yaml`, `*.gocd.yml`) or the server's
/// XML (`cruise-config.xml`).
pub fn is_gocd_path(path: &str) -> bool {
    Syntax::of(path) != Syntax::Pipewright
}

/// The language a file of the workspace is written in, which advice about it is phrased in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Pipewright,
    /// A config repository's YAML (`*.gocd.yaml`).
    GocdYaml,
    /// The server's XML (`cruise-config.xml`).
    GocdXml,
}

impl Syntax {
    pub fn of(path: &str) -> Syntax {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with("cruise-config.xml") {
            Syntax::GocdXml
        } else if lower.ends_with(".gocd.yaml") || lower.ends_with(".gocd.yml") {
            Syntax::GocdYaml
        } else {
            Syntax::Pipewright
        }
    }
}

/// One GoCD file read into the model.
#[derive(Debug, Default)]
struct ReadFile {
    config: model::Config,
    comments: Vec<Span>,
    diagnostics: Vec<Diagnostic>,
}

fn read_file(file: FileId, path: &str, text: &str) -> ReadFile {
    if Syntax::of(path) == Syntax::GocdXml || (!is_gocd_path(path) && text.trim_start().starts_with('<')) {
        return read_xml_file(file, text);
    }
    match yaml::read(text) {
        Err(e) => {
            let mut d =
                Diagnostic::error(GoCode::G0001, file, e.span, format!("this is not valid YAML: {}", e.message))
                    .with_label("the YAML cannot be read here")
                    .with_help(e.help);
            if let Some(first) = e.first {
                d = d.with_secondary(file, first, "first given here");
            }
            ReadFile { diagnostics: vec![d], ..Default::default() }
        }
        Ok(doc) => {
            let Some(root) = doc.root else { return ReadFile { comments: doc.comments, ..Default::default() } };
            let (config, diagnostics) = read::read(file, &root, false);
            ReadFile { config, comments: doc.comments, diagnostics: repeats::one_per_key(diagnostics) }
        }
    }
}

/// A `cruise-config.xml` read through the YAML plugin's tree; templates it holds are expanded
/// into their pipelines, each noted on the pipeline.
fn read_xml_file(file: FileId, text: &str) -> ReadFile {
    let xml = match xml::read(file, text) {
        Ok(xml) => xml,
        Err(d) => return ReadFile { diagnostics: vec![*d], ..Default::default() },
    };
    let (mut config, mut diagnostics) = read::read(file, &xml.root, true);
    // The server's own file holds its templates: one it lacks is an error, not a server name.
    config.server_refs.retain(|r| !(r.what == "server-side template" && xml.missing_templates.contains(&r.name)));
    for (pipeline, template) in xml.expanded {
        if let Some(p) = config.pipelines.iter_mut().find(|p| p.name.value == pipeline) {
            p.expanded_template = Some(template);
        }
    }
    let mut all = xml.diagnostics;
    all.append(&mut diagnostics);
    ReadFile { config, comments: Vec::new(), diagnostics: repeats::one_per_key(all) }
}

/// Whether a file's text reads as a GoCD config (for files not named as one): YAML with
/// `pipelines:` at the top level, or XML with `<cruise>`.
pub fn looks_like_gocd(text: &str) -> bool {
    text.lines().any(|l| {
        l.starts_with("pipelines:")
            || l.starts_with("format_version:")
            || l.starts_with("environments:")
            || l.trim_start().starts_with("<cruise")
    })
}

/// Reads the files `ids` of the workspace on all cores.
fn read_files(workspace: &Workspace, ids: &[FileId]) -> Vec<(FileId, ReadFile)> {
    crate::par_map(ids, |id| {
        let f = workspace.file(id);
        (id, read_file(id, &f.path, &f.text))
    })
}

/// Reads every GoCD file of the workspace (the index needs them all).
fn read_all(workspace: &Workspace) -> Vec<(FileId, ReadFile)> {
    let ids: Vec<FileId> = workspace.ids().filter(|&id| is_gocd_path(&workspace.file(id).path)).collect();
    read_files(workspace, &ids)
}

fn build_index(read: &[(FileId, ReadFile)]) -> Index {
    let configs: Vec<(FileId, &model::Config)> = read.iter().map(|(id, r)| (*id, &r.config)).collect();
    Index::build(&configs)
}

/// The GoCD files `ids` of the workspace as syntax trees, in that order, with the findings of
/// reading them. All GoCD files of the workspace are read, as GoCD merges a config repository.
pub fn parse_files(workspace: &Workspace, ids: &[FileId]) -> Vec<ParsedFile> {
    let read = read_all(workspace);
    let index = build_index(&read);
    crate::par_map(ids, |id| {
        let Ok(at) = read.binary_search_by_key(&id, |(f, _)| *f) else { return ParsedFile::default() };
        let r = &read[at].1;
        let span = Span::new(0, workspace.file(id).text.len());
        let lowered = lower::lower(id, &r.config, &index, Mode::Check, span);
        let mut all = r.diagnostics.clone();
        all.extend(findings::findings(id, &r.config, &index));
        ParsedFile { ast: lowered.file, comments: r.comments.clone(), diagnostics: all }
    })
}

/// Puts the checker's and the linter's diagnostics about GoCD files in GoCD's terms: drops the
/// fixes that would write `.pw` syntax into a GoCD file (their edits are made for `.pw` text),
/// and rephrases the help of the checker's codes whose help shows `.pw` syntax ([`gocd_help`];
/// a path outside the workspace, [`path_in_gocd_terms`]). The GoCD front end's own (`G` codes)
/// stay as they are.
pub fn in_gocd_terms(workspace: &Workspace, diagnostics: &mut [Diagnostic]) {
    for d in diagnostics.iter_mut().filter(|d| !d.code.starts_with('G')) {
        let touches_gocd =
            d.fix.as_ref().is_some_and(|f| f.edits.iter().any(|e| is_gocd_path(&workspace.file(e.file).path)));
        if touches_gocd {
            d.fix = None;
        }
        let file = workspace.file(d.file);
        let syntax = Syntax::of(&file.path);
        if let Some(help) = gocd_help(d.code, syntax) {
            d.help = Some(help.to_string());
        }
        if matches!(d.code, "E0208" | "E0210") && syntax != Syntax::Pipewright {
            path_in_gocd_terms(d, &file.text);
        }
    }
}

/// A path outside the workspace (E0208, E0210), named by the key or attribute the GoCD file
/// gives it (`source`, `destination`, `working_directory`, `workingdir`) where the checker names
/// the `.pw` construct (an `into` folder, `in`, a material's `path`).
fn path_in_gocd_terms(d: &mut Diagnostic, text: &str) {
    let Some(key) = key_before(text, d.span.start) else { return };
    if let Some(path) = d.message.find(" is outside ").and_then(|at| d.message[..at].rfind(" `")) {
        d.message = format!("`{key}`{}", &d.message[path..]);
    }
    for note in &mut d.notes {
        if let Some(at) = note.find(" is relative to ") {
            *note = format!("`{key}`{}", &note[at..]);
        }
    }
    d.help = Some(match d.code {
        "E0210" => format!(
            "make `{key}` a folder of the workspace, such as `services/api`; a program elsewhere on the agent is still reachable by its absolute path in the command"
        ),
        _ => format!("make `{key}` a relative path inside the workspace, without `..`"),
    });
}

/// The YAML key (`key: value`) or XML attribute (`key="value"`) whose value starts at `offset`.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset)?;
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let line = line.trim_end().trim_end_matches(['"', '\'']).trim_end();
    let line = line.strip_suffix(':').or_else(|| line.strip_suffix('='))?.trim_end();
    let start = line.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).map_or(0, |i| i + 1);
    Some(&line[start..]).filter(|key| !key.is_empty())
}

/// The help of a checker's code in a GoCD file, where its own shows `.pw` syntax.
fn gocd_help(code: &str, syntax: Syntax) -> Option<&'static str> {
    let (yaml, xml) = match code {
        "E0204" => ("add a stage under the pipeline's `stages:`", "add a `<stage>` with a `<jobs>` to the pipeline"),
        "E0205" => (
            "add a job under the stage's `jobs:`, or remove the stage",
            "add a `<job>` under the stage's `<jobs>`, or remove the stage",
        ),
        "E0206" => ("add a task under the job's `tasks:`", "add a task, as `<exec command=\"...\" />`, under the job's `<tasks>`"),
        "E0404" => (
            "add a dependency material on that pipeline (`pipeline:` and `stage:` under `materials:`)",
            "add a dependency material on that pipeline (`<pipeline pipelineName=\"...\" stageName=\"...\" />` under `<materials>`)",
        ),
        "E0405" => ("remove one of these dependency materials", "remove one of these `<pipeline>` materials"),
        "E0406" => ("keep one dependency material on this pipeline", "keep one `<pipeline>` material on this pipeline"),
        _ => return None,
    };
    match syntax {
        Syntax::Pipewright => None,
        Syntax::GocdYaml => Some(yaml),
        Syntax::GocdXml => Some(xml),
    }
}
