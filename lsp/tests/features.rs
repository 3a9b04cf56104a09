//! The server's features tested without JSON-RPC: a workspace of documents held in a `State`,
//! a cursor written as `$0` in one of them, and snapshots that show what the editor would show.

use pw_compiler::{FileId, Span};
use pw_lsp::features::{
    actions, completion, diagnostics, folding, formatting, hover, inlay, navigation, symbols, tokens,
};
use pw_lsp::position::Encoding;
use pw_lsp::state::{Snapshot, State};
use similar::TextDiff;
use std::sync::Arc;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionOrCommand, CompletionTextEdit, DocumentSymbol, HoverContents, NumberOrString, Position,
    Range, TextEdit, Uri,
};

const CURSOR: &str = "$0";

const BUILD: &str = r#"material app {
  git = "https://git.example.com/app.git"
}

# Builds one crate with cargo.
# The toolchain defaults to stable.
template job cargo(cmd: string, toolchain: string = "stable") {
  resources = ["linux", "rust"]
  run "rustup run #{toolchain} cargo #{cmd}"
}

pipeline build {
  materials = [app]

  stage compile {
    job linux {
      timeout = 20m
      run "cargo build --release"
      artifact webapp = "target/release/webapp"
    }
  }

  stage test {
    job unit = cargo(cmd = "test --lib")
    job lint = cargo(cmd = "clippy")
    job integration {
      fetch compile.linux.webapp into "bin"
      run "./ci/integration.sh bin/webapp"
    }
  }
}
"#;

const DEPLOY: &str = r#"pipeline deploy {
  after = [build.test]
  max_instances = 1

  stage production {
    approval = manual
    job ship for server in ["web-1", "web-2", "web-3"] {
      fetch build.compile.linux.webapp
      run "scp webapp #{server}:/srv/"
    }
  }
}
"#;

/// A workspace of documents, one of which holds the cursor.
struct Harness {
    snap: Arc<Snapshot>,
    file: FileId,
    offset: usize,
}

fn uri(name: &str) -> Uri {
    format!("file:///ws/{name}").parse().expect("a valid uri")
}

impl Harness {
    /// `files` are (name, text); the text that holds `$0` holds the cursor.
    fn new(files: &[(&str, &str)]) -> Harness {
        Self::with_encoding(files, Encoding::Utf16)
    }

    fn with_encoding(files: &[(&str, &str)], encoding: Encoding) -> Harness {
        let mut state = State::new(Vec::new(), encoding);
        let mut cursor = None;
        for (name, text) in files {
            if let Some(offset) = text.find(CURSOR) {
                cursor = Some((uri(name), offset));
            }
            state.open(uri(name), text.replacen(CURSOR, "", 1), 1);
        }
        let snap = state.snapshot();
        let (uri, offset) = cursor.unwrap_or((uri(files[0].0), 0));
        let file = snap.file_id(&uri).expect("the cursor's file is open");
        Harness { snap, file, offset }
    }

    /// The cursor's line with a caret under the cursor, and `span`'s text.
    fn draw(&self, span: Option<Span>) -> String {
        let source = self.snap.source(self.file);
        let line = source.line_index(self.offset);
        let text = source.line_text(line);
        let column = source.text[source.line_start(line)..self.offset].chars().count();
        let mut out = format!("{text}\n{}↑\n", " ".repeat(column));
        if let Some(span) = span {
            out.push_str(&format!("range: `{}`\n", &source.text[span.range()]));
        }
        out
    }

    fn span(&self, file: FileId, range: Range) -> Span {
        self.snap.encoding.span(self.snap.source(file), range)
    }

    fn hover(&self) -> String {
        let Some(h) = hover::hover(&self.snap, self.file, self.offset) else {
            return format!("{}(no hover)", self.draw(None));
        };
        let HoverContents::Markup(markup) = h.contents else { panic!("hovers are Markdown") };
        let span = h.range.map(|r| self.span(self.file, r));
        format!("{}---\n{}\n", self.draw(span), markup.value)
    }

    fn completions(&self) -> String {
        let items = completion::complete(&self.snap, self.file, self.offset);
        let mut out = self.draw(None);
        out.push_str("---\n");
        for item in items {
            let insert = match &item.text_edit {
                Some(CompletionTextEdit::Edit(e)) => format!("{:?}", e.new_text),
                _ => String::new(),
            };
            out.push_str(&format!("{} ({}) inserts {insert}\n", item.label, item.detail.unwrap_or_default()));
        }
        out
    }

    /// The documents that `edits` change, with their text after the edits, by URI.
    fn edited(&self, edits: &[(Uri, Vec<TextEdit>)]) -> Vec<(Uri, String)> {
        let mut edits = edits.to_vec();
        edits.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let mut out = Vec::new();
        for (uri, changes) in edits {
            let file = self.snap.file_id(&uri).expect("an edit of a known file");
            let mut text = self.snap.text(file).to_string();
            let mut spans: Vec<(Span, String)> =
                changes.iter().map(|e| (self.span(file, e.range), e.new_text.clone())).collect();
            spans.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
            for (span, new_text) in spans {
                text.replace_range(span.range(), &new_text);
            }
            out.push((uri, text));
        }
        out
    }

    /// The documents after applying `edits`, only those that changed.
    fn apply(&self, edits: &[(Uri, Vec<TextEdit>)]) -> String {
        self.edited(edits).into_iter().map(|(uri, text)| format!("=== {}\n{text}", uri.as_str())).collect()
    }

    /// The workspace with `edits` applied: every document, edited or not, by name.
    fn after(&self, edits: &[(Uri, Vec<TextEdit>)]) -> Vec<(String, String)> {
        let edited = self.edited(edits);
        let name = |uri: &Uri| uri.path().as_str().trim_start_matches("/ws/").to_string();
        let text = |i: usize, uri: &Uri| {
            edited
                .iter()
                .find(|(u, _)| u == uri)
                .map_or_else(|| self.snap.text(FileId(i as u32)).to_string(), |e| e.1.clone())
        };
        self.snap.uris.iter().enumerate().map(|(i, uri)| (name(uri), text(i, uri))).collect()
    }

    /// The code actions at the cursor, as the editor lists them: title, kind, the diagnostic each
    /// resolves, and the change it makes as a diff of the lines it touches.
    fn code_actions(&self) -> (String, Vec<CodeAction>) {
        let at = self.snap.range(self.file, Span::new(self.offset, self.offset));
        let mut out = self.draw(None);
        let mut found = Vec::new();
        for action in actions::code_actions(&self.snap, self.file, at) {
            let CodeActionOrCommand::CodeAction(action) = action else { panic!("actions, not commands") };
            let kind = action.kind.as_ref().map_or("", |k| k.as_str());
            let preferred = if action.is_preferred == Some(true) { ", preferred" } else { "" };
            out.push_str(&format!("\n>>> {} ({kind}{preferred})\n", action.title));
            for d in action.diagnostics.iter().flatten() {
                let code = match &d.code {
                    Some(NumberOrString::String(code)) => code.clone(),
                    _ => String::new(),
                };
                let first_line = d.message.lines().next().unwrap_or_default();
                out.push_str(&format!("resolves {code} at line {}: {first_line}\n", d.range.start.line + 1));
            }
            let changes = action.edit.as_ref().and_then(|e| e.changes.clone()).unwrap_or_default();
            let changes: Vec<(Uri, Vec<TextEdit>)> = changes.into_iter().collect();
            for (uri, after) in self.edited(&changes) {
                let before = self.snap.text(self.snap.file_id(&uri).expect("a known file"));
                let diff = TextDiff::from_lines(before, after.as_str());
                let name = uri.path().as_str().to_string();
                out.push_str(&diff.unified_diff().context_radius(1).header(&name, &name).to_string());
            }
            found.push(action);
        }
        (out, found)
    }
}

#[test]
fn hover_describes_a_stage_from_the_plan() {
    let h = Harness::new(&[("build.pw", &BUILD.replace("stage test", "stage te$0st")), ("deploy.pw", DEPLOY)]);
    insta::assert_snapshot!(h.hover());
}

#[test]
fn hover_on_a_manual_stage_says_it_waits() {
    let h =
        Harness::new(&[("build.pw", BUILD), ("deploy.pw", &DEPLOY.replace("stage production", "stage $0production"))]);
    let text = h.hover();
    assert!(text.contains("stage 1 of 1 of pipeline `deploy`; 3 jobs run in parallel; waits for approval"), "{text}");
}

#[test]
fn hover_on_a_reference_shows_its_target_in_another_file() {
    let h = Harness::new(&[("build.pw", BUILD), ("deploy.pw", &DEPLOY.replace("linux.webapp", "linux.web$0app"))]);
    insta::assert_snapshot!(h.hover());
}

#[test]
fn hover_on_a_template_use_shows_its_signature_and_doc() {
    let h = Harness::new(&[("build.pw", &BUILD.replace("unit = cargo", "unit = car$0go")), ("deploy.pw", DEPLOY)]);
    insta::assert_snapshot!(h.hover());
}

#[test]
fn hover_on_a_fan_out_job_lists_its_instances() {
    let h = Harness::new(&[("build.pw", BUILD), ("deploy.pw", &DEPLOY.replace("job ship", "job sh$0ip"))]);
    insta::assert_snapshot!(h.hover());
}

#[test]
fn hover_on_a_field_and_a_keyword_shows_the_reference() {
    let field = Harness::new(&[("build.pw", &BUILD.replace("timeout = 20m", "time$0out = 20m"))]);
    insta::assert_snapshot!("hover_field", field.hover());
    let keyword = Harness::new(&[("build.pw", &BUILD.replace("  stage compile", "  st$0age compile"))]);
    insta::assert_snapshot!("hover_keyword", keyword.hover());
}

#[test]
fn hover_on_a_task_s_working_folder_shows_the_reference() {
    let text = BUILD.replace("run \"cargo build --release\"", "run \"cargo build --release\" i$0n \"services/api\"");
    assert!(text.contains("$0"), "the fixture has the task");
    insta::assert_snapshot!("hover_task_folder", Harness::new(&[("build.pw", &text)]).hover());
}

#[test]
fn hover_on_an_artifact_kind_shows_the_reference() {
    let text = BUILD.replace(
        "artifact webapp = \"target/release/webapp\"",
        "artifact webapp = \"target/release/webapp\" { ki$0nd = deliverable }",
    );
    assert!(text.contains("$0"), "the fixture has the artifact");
    insta::assert_snapshot!("hover_artifact_kind", Harness::new(&[("build.pw", &text)]).hover());
}

#[test]
fn hover_on_a_code_in_a_comment_explains_it() {
    let text = BUILD.replace("material app {", "# see E0301$0 for references\nmaterial app {");
    let h = Harness::new(&[("build.pw", &text)]);
    let hover = h.hover();
    assert!(hover.contains("range: `E0301`"), "{hover}");
    assert!(hover.contains("E0301"), "{hover}");
}

#[test]
fn completes_the_fields_and_members_of_a_job() {
    let text = BUILD.replace("      timeout = 20m\n", "      timeout = 20m\n      $0\n");
    insta::assert_snapshot!(Harness::new(&[("build.pw", &text)]).completions());
}

#[test]
fn completes_the_values_of_an_enum_field() {
    let text = DEPLOY.replace("approval = manual", "approval = $0");
    insta::assert_snapshot!(Harness::new(&[("build.pw", BUILD), ("deploy.pw", &text)]).completions());
}

#[test]
fn completes_a_fetch_step_by_step() {
    let at = |typed: &str| {
        let text = DEPLOY.replace("fetch build.compile.linux.webapp", &format!("fetch {typed}$0"));
        Harness::new(&[("build.pw", BUILD), ("deploy.pw", &text)]).completions()
    };
    insta::assert_snapshot!("fetch_start", at(""));
    insta::assert_snapshot!("fetch_pipeline", at("build."));
    insta::assert_snapshot!("fetch_stage", at("build.compile."));
    insta::assert_snapshot!("fetch_job", at("build.compile.linux.we"));
}

#[test]
fn completes_the_stages_of_an_upstream_and_the_entity_kinds() {
    let after = DEPLOY.replace("[build.test]", "[build.$0]");
    let labels = |h: Harness| -> Vec<String> {
        completion::complete(&h.snap, h.file, h.offset).into_iter().map(|i| i.label).collect()
    };
    assert_eq!(labels(Harness::new(&[("build.pw", BUILD), ("deploy.pw", &after)])), ["compile", "test"]);
    let top = format!("{DEPLOY}\n$0");
    assert_eq!(labels(Harness::new(&[("deploy.pw", &top)])), ["material", "pipeline", "template"]);
    let template = format!("{DEPLOY}\ntemplate $0");
    assert_eq!(labels(Harness::new(&[("deploy.pw", &template)])), ["job", "stage", "pipeline"]);
}

#[test]
fn definition_and_references_cross_files() {
    let h = Harness::new(&[("build.pw", &BUILD.replace("stage compile", "stage comp$0ile")), ("deploy.pw", DEPLOY)]);
    let refs = navigation::references(&h.snap, h.file, h.offset, true).expect("references");
    let places: Vec<String> = refs
        .iter()
        .map(|l| format!("{}:{}:{}", l.uri.path(), l.range.start.line + 1, l.range.start.character + 1))
        .collect();
    assert_eq!(places, ["/ws/build.pw:15:9", "/ws/build.pw:27:13", "/ws/deploy.pw:8:19"]);
    let from = Harness::new(&[("build.pw", BUILD), ("deploy.pw", &DEPLOY.replace("build.compile", "build.com$0pile"))]);
    let target = navigation::definition(&from.snap, from.file, from.offset).expect("a definition");
    assert_eq!((target.uri.path().as_str(), target.range.start), ("/ws/build.pw", Position::new(14, 8)));
}

#[test]
fn rename_edits_every_file_and_refuses_bad_names() {
    let h = Harness::new(&[("build.pw", &BUILD.replace("job linux", "job lin$0ux")), ("deploy.pw", DEPLOY)]);
    let edit = navigation::rename(&h.snap, h.file, h.offset, "amd64").expect("a valid rename");
    let changes: Vec<(Uri, Vec<TextEdit>)> = edit.changes.expect("changes").into_iter().collect();
    insta::assert_snapshot!(h.apply(&changes));
    let invalid = navigation::rename(&h.snap, h.file, h.offset, "9lives").expect_err("invalid");
    assert!(invalid.contains("not a valid name"), "{invalid}");
    let keyword = navigation::rename(&h.snap, h.file, h.offset, "stage").expect_err("keyword");
    assert!(keyword.contains("keyword"), "{keyword}");
    let stage = Harness::new(&[("build.pw", &BUILD.replace("stage compile", "stage comp$0ile"))]);
    let taken = navigation::rename(&stage.snap, stage.file, stage.offset, "TEST").expect_err("taken");
    insta::assert_snapshot!("rename_taken", taken);
}

#[test]
fn positions_count_utf16_units_or_bytes_as_agreed() {
    let text = "# déjà vu 🚀\npipeline p { stage s { job j { run \"🚀\" fetch x.y.z } } }\n";
    let probe = |encoding| {
        let h = Harness::with_encoding(&[("a.pw", text)], encoding);
        let tokens = tokens::semantic_tokens(&h.snap, h.file, None);
        // The `fetch` keyword follows the rocket on line 2.
        let mut line = 0;
        let mut col = 0;
        let mut found = None;
        for t in &tokens.data {
            line += t.delta_line;
            col = if t.delta_line == 0 { col + t.delta_start } else { t.delta_start };
            if line == 1 && t.length == 5 && t.token_type == 0 && col > 20 {
                found = Some(col);
            }
        }
        found
    };
    let fetch_chars = "pipeline p { stage s { job j { run \"🚀\" ".chars().count() as u32;
    assert_eq!(probe(Encoding::Utf16), Some(fetch_chars + 1), "the rocket takes two UTF-16 units");
    assert_eq!(probe(Encoding::Utf8), Some(fetch_chars + 3), "the rocket takes four bytes");
}

#[test]
fn outline_nests_pipeline_stage_job_task() {
    let h = Harness::new(&[("build.pw", BUILD)]);
    fn draw(symbols: &[DocumentSymbol], depth: usize, out: &mut String) {
        for s in symbols {
            out.push_str(&format!(
                "{}{} ({}) line {}\n",
                "  ".repeat(depth),
                s.name,
                s.detail.clone().unwrap_or_default(),
                s.range.start.line + 1
            ));
            draw(s.children.as_deref().unwrap_or_default(), depth + 1, out);
        }
    }
    let mut out = String::new();
    draw(&symbols::document(&h.snap, h.file), 0, &mut out);
    insta::assert_snapshot!(out);
    let found: Vec<String> = symbols::workspace(&h.snap, "bcl").into_iter().map(|s| s.name).collect();
    assert_eq!(found, ["compile", "linux", "webapp"], "fuzzy matches of build.compile...");
}

#[test]
fn semantic_tokens_classify_names_by_what_they_name() {
    let h = Harness::new(&[("build.pw", BUILD)]);
    let legend = tokens::legend();
    let data = tokens::semantic_tokens(&h.snap, h.file, None).data;
    let source = h.snap.source(h.file);
    let (mut line, mut col) = (0u32, 0u32);
    let mut out = String::new();
    for t in data {
        line += t.delta_line;
        col = if t.delta_line == 0 { col + t.delta_start } else { t.delta_start };
        if !(11..=20).contains(&line) {
            continue;
        }
        let start = h.snap.offset(h.file, Position::new(line, col));
        let end = h.snap.offset(h.file, Position::new(line, col + t.length));
        let modifier = if t.token_modifiers_bitset & 1 == 1 { " (declaration)" } else { "" };
        out.push_str(&format!(
            "{}:{} {:?} {}{modifier}\n",
            line + 1,
            col + 1,
            &source.text[start..end],
            legend.token_types[t.token_type as usize].as_str()
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn folding_and_inlay_hints() {
    let h = Harness::new(&[("build.pw", BUILD), ("deploy.pw", DEPLOY)]);
    let ranges: Vec<String> = folding::ranges(&h.snap, h.file)
        .into_iter()
        .map(|r| format!("{}-{} {:?}", r.start_line + 1, r.end_line + 1, r.kind))
        .collect();
    insta::assert_snapshot!("folding", ranges.join("\n"));
    let mut hints = Vec::new();
    for name in ["build.pw", "deploy.pw"] {
        let file = h.snap.file_id(&uri(name)).expect("open");
        let all = Span::new(0, h.snap.text(file).len());
        for hint in inlay::hints(&h.snap, file, all) {
            let label = match hint.label {
                tower_lsp_server::ls_types::InlayHintLabel::String(s) => s,
                _ => String::new(),
            };
            let line = h.snap.source(file).line_text(hint.position.line as usize).to_string();
            hints.push(format!("{name}:{}: {} ⟵ {label}", hint.position.line + 1, line.trim()));
        }
    }
    insta::assert_snapshot!("inlay_hints", hints.join("\n"));
}

#[test]
fn formatting_a_range_touches_only_its_lines() {
    let messy = "material app {\n    git =   \"x\"\n}\nmaterial other {\n      git   = \"y\"\n}\n";
    let h = Harness::new(&[("a.pw", messy)]);
    let all = formatting::document(&h.snap, h.file, None).expect("formattable");
    assert_eq!(all.len(), 3, "two fields and a blank line between the materials: {all:?}");
    let first = Range::new(Position::new(1, 0), Position::new(1, 3));
    let some = formatting::document(&h.snap, h.file, Some(first)).expect("formattable");
    let changes = vec![(uri("a.pw"), some)];
    insta::assert_snapshot!(h.apply(&changes));
    let broken = Harness::new(&[("b.pw", "material {")]);
    assert!(formatting::document(&broken.snap, broken.file, None).is_none(), "syntax errors: no formatting");
}

#[test]
fn code_actions_offer_the_fixes_and_suppressions() {
    let h = Harness::new(&[("build.pw", BUILD), ("deploy.pw", DEPLOY)]);
    let mut titles = Vec::new();
    for (i, uri) in h.snap.uris.iter().enumerate() {
        let file = FileId(i as u32);
        let whole = h.snap.range(file, Span::new(0, h.snap.text(file).len()));
        for action in actions::code_actions(&h.snap, file, whole) {
            if let CodeActionOrCommand::CodeAction(a) = action {
                titles.push(format!("{}: {}", uri.path(), a.title));
            }
        }
    }
    let findings = h.snap.diagnostics().iter().filter(|d| d.code.starts_with('L')).count();
    let fixes = h.snap.diagnostics().iter().filter(|d| d.fix.is_some()).count();
    assert_eq!(titles.len(), findings + fixes, "{titles:#?}");
    assert!(findings > 0, "the fixture's jobs have no timeout: the linter reports them");
    insta::assert_snapshot!("code_action_titles", titles.join("\n"));
    // The suppression comment goes above the finding, indented like it.
    let deploy = h.snap.file_id(&uri("deploy.pw")).expect("open");
    let ship = h.snap.text(deploy).find("job ship").expect("ship");
    let at = h.snap.range(deploy, Span::new(ship + 4, ship + 8));
    let suppress = actions::code_actions(&h.snap, deploy, at)
        .into_iter()
        .find_map(|a| match a {
            CodeActionOrCommand::CodeAction(a) if a.title.starts_with("Suppress") => a.edit,
            _ => None,
        })
        .expect("a suppression for the finding on `ship`");
    let changes: Vec<(Uri, Vec<TextEdit>)> = suppress.changes.expect("changes").into_iter().collect();
    insta::assert_snapshot!("suppression_edit", h.apply(&changes));
}

#[test]
fn hover_on_a_rule_in_a_suppression_explains_it() {
    let text =
        DEPLOY.replace("    job ship", "    # pw: allow(missing-time$0out) -- deploys wait for people\n    job ship");
    let h = Harness::new(&[("build.pw", BUILD), ("deploy.pw", &text)]);
    let hover = h.hover();
    assert!(hover.contains("range: `missing-timeout`"), "{hover}");
    assert!(hover.contains("L0008"), "{hover}");
}

/// The changes of `action`, as (document, edits).
fn changes_of(action: &CodeAction) -> Vec<(Uri, Vec<TextEdit>)> {
    action.edit.as_ref().and_then(|e| e.changes.clone()).unwrap_or_default().into_iter().collect()
}

/// The checker's errors in a workspace of (name, text).
fn errors(files: &[(String, String)]) -> Vec<String> {
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let h = Harness::new(&files);
    h.snap.diagnostics().iter().filter(|d| d.is_error()).map(|d| format!("{}: {}", d.code, d.message)).collect()
}

#[test]
fn a_misspelt_field_is_fixed_by_the_checkers_suggestion() {
    let text = BUILD.replace("timeout = 20m", "tim$0out = 20m");
    let h = Harness::new(&[("build.pw", &text), ("deploy.pw", DEPLOY)]);
    let (shown, found) = h.code_actions();
    insta::assert_snapshot!(shown);
    assert_eq!(found.len(), 1, "the suggestion only: E0201 is not a lint");
    assert_eq!(errors(&h.after(&changes_of(&found[0]))), Vec::<String>::new(), "the fixed workspace checks clean");
}

#[test]
fn a_misspelt_reference_in_another_file_is_fixed_by_the_checkers_suggestion() {
    let h = Harness::new(&[("build.pw", BUILD), ("deploy.pw", &DEPLOY.replace("[build.test]", "[build.te$0ts]"))]);
    let (shown, found) = h.code_actions();
    insta::assert_snapshot!(shown);
    assert_eq!(found.len(), 1, "{shown}");
    assert_eq!(errors(&h.after(&changes_of(&found[0]))), Vec::<String>::new(), "the fixed workspace checks clean");
}

#[test]
fn a_lint_finding_offers_its_fix_and_a_suppression() {
    let text = BUILD.replace("    job integration {\n", "    job integ$0ration {\n      estimate = 4m\n");
    let h = Harness::new(&[("build.pw", &text), ("deploy.pw", DEPLOY)]);
    let (shown, found) = h.code_actions();
    insta::assert_snapshot!(shown);
    let titles: Vec<&str> = found.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["add `timeout = 12m`", "Suppress `missing-timeout` here (then say why after `--`)"]);
    // How many times the linter reports `job integration` in build.pw.
    let findings = |files: &[(&str, &str)]| {
        let h = Harness::new(files);
        let name = h.snap.text(FileId(0)).find("job integration").expect("the job") + 4;
        h.snap.diagnostics().iter().filter(|d| d.file == FileId(0) && d.span.start == name).count()
    };
    assert_eq!(findings(&[("build.pw", h.snap.text(FileId(0))), ("deploy.pw", DEPLOY)]), 1);

    // The fix: the workspace still checks clean, and the finding is gone.
    let fixed = h.after(&changes_of(&found[0]));
    assert_eq!(errors(&fixed), Vec::<String>::new());
    assert_eq!(findings(&[("build.pw", &fixed[0].1), ("deploy.pw", DEPLOY)]), 0);

    // The suppression, once its reason is written, silences the finding; the text checks clean.
    let suppressed = h.after(&changes_of(&found[1]));
    let reasoned = suppressed[0].1.replace("-- \n", "-- runs under the suite's own deadline\n");
    assert_eq!(findings(&[("build.pw", &reasoned), ("deploy.pw", DEPLOY)]), 0);
    assert_eq!(errors(&[("build.pw".into(), reasoned), ("deploy.pw".into(), DEPLOY.into())]), Vec::<String>::new());
}

#[test]
fn codes_link_to_the_configured_docs() {
    // The first code of a workspace with a checker error, and of one with a lint finding.
    let link = |text: &str, docs_url: Option<&str>| {
        let mut state = State::new(Vec::new(), Encoding::Utf16);
        if let Some(url) = docs_url {
            state.settings.docs_url = url.to_string();
        }
        state.open(uri("build.pw"), text.to_string(), 1);
        let snap = state.snapshot();
        let all = diagnostics::by_document(&snap);
        let first = all[0].2.first().and_then(|d| d.code_description.clone()).expect("a diagnostic with a link");
        first.href.as_str().to_string()
    };
    let error = BUILD.replace("timeout = 20m", "timout = 20m");
    assert_eq!(link(&error, None), "https://pipewright.dev/docs/reference/errors#e0201");
    assert_eq!(link(BUILD, None), "https://pipewright.dev/docs/rules/L0008");
    let own = Some("http://docs.internal:8080/pipewright");
    assert_eq!(link(&error, own), "http://docs.internal:8080/pipewright/reference/errors#e0201");
    assert_eq!(link(BUILD, own), "http://docs.internal:8080/pipewright/rules/L0008");
}
