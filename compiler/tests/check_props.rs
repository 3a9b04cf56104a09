//! No input makes the checker panic or hang: valid files cut, spliced and mutated at random.
//! On every such input, the checker that frees the trees as it goes (`pw check`'s) agrees with
//! the one that keeps them (the linter's), and the language server's check after an edit,
//! which takes the pipelines the edit cannot have changed from the check before, agrees with a
//! check from scratch.

use proptest::prelude::*;
use pw_compiler::{analyze, analyze_again, analyze_parsed, check_workspace, parse_file, Analysis, Workspace};
use std::sync::Arc;

const SEED: &str = r##"
material app { git = "https://git.example.com/app.git" path = "app" }
template job cargo(cmd: string, t: duration = 10m, tags: list = ["a"]) {
  timeout = t
  resources = tags
  run "cargo #{cmd}"
}
template stage checks(tool: string) {
  job a = cargo(cmd = "#{tool} a")
  job b for x in ["1", "2"] { run "echo #{x} #{tool}" }
}
pipeline build {
  materials = [app]
  env { A = "1" B = secret("b") }
  stage compile {
    job linux { run "make" artifact bin = "out/app" }
  }
  stage test = checks(tool = "clippy")
  stage shards {
    job s for i in 1..4 { fetch compile.linux.bin into "bin" run ["./t", "#{i}"] { when = always } }
    job d for h in discover("ls hosts") { run "ping #{h}" }
  }
}
pipeline deploy {
  after = [build.shards]
  max_instances = 1
  stage ship { approval = manual job all { fetch build.compile.linux.bin run "./ship" } }
}
"##;

const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ",",
    ".",
    "..",
    ":",
    "\"",
    "\"\"\"",
    "#{",
    "job",
    "stage",
    "pipeline",
    "template",
    "material",
    "run",
    "fetch",
    "for",
    "in",
    "env",
    "artifact",
    "x",
    "1",
    "1h",
    "after",
    "build.s",
    "= cargo()",
    "\n",
];

fn check(text: &str) {
    let mut ws = Workspace::new();
    ws.add("a.pw", text);
    ws.add("b.pw", SEED);
    let analysis = analyze(&ws);
    for d in &analysis.diagnostics {
        let file = ws.file(d.file);
        assert!(d.span.end <= file.text.len(), "span past the end: {d:?}");
        assert!(d.span.start <= d.span.end, "reversed span: {d:?}");
    }
    let checked = check_workspace(&ws);
    assert_eq!(checked.diagnostics, analysis.diagnostics, "the two checkers disagree on\n{text}");
    let (kept, freed) = (format!("{:?}", analysis.program), format!("{:?}", checked.program));
    assert!(kept == freed, "the two checkers build different programs from\n{text}");
}

/// A workspace of four files that refer to one another: templates and a material, the
/// pipelines that use them, one that follows them, and one more.
const FILES: [&str; 4] = [
    r##"material app { git = "https://git.example.com/app.git" path = "app" }
template job cargo(cmd: string, t: duration = 10m) {
  timeout = t
  run "cargo #{cmd}"
}
template stage checks(tool: string) {
  job a = cargo(cmd = "#{tool} a")
  job b for x in ["1", "2"] { run "echo #{x} #{tool}" }
}
"##,
    r##"pipeline build {
  materials = [app]
  env { A = "1" }
  stage compile {
    job linux { run "make" artifact bin = "out/app" }
    job c = cargo(cmd = "build")
  }
  stage test = checks(tool = "clippy")
}
pipeline lint { materials = [app] stage s { job j for i in 1..3 { run "lint #{i}" } } }
"##,
    r##"pipeline deploy {
  after = [build.test]
  stage ship { approval = manual job all { fetch build.compile.linux.bin run "./ship" } job o = other() }
}
"##,
    r##"pipeline nightly {
  materials = [app]
  stage s { job n = cargo(cmd = "test", t = 1h) job m { fetch deploy.ship.all.nothing run "x" } }
}
"##,
];

fn workspace(texts: &[String]) -> Workspace {
    let mut ws = Workspace::new();
    for (i, text) in texts.iter().enumerate() {
        ws.add(format!("f{i}.pw"), text.clone());
    }
    ws
}

/// Edits file `file` of `before` to `text`, analyses the workspace again with what `before`
/// kept, and requires the result to be a check from scratch's.
fn edit(texts: &mut [String], before: &Analysis, file: usize, text: String) -> Analysis {
    texts[file] = text;
    let ws = workspace(texts);
    let mut files = before.files.clone();
    files[file] = Arc::new(parse_file(pw_compiler::FileId(file as u32), &texts[file]));
    let again = analyze_again(&ws, files.clone(), before.kept.as_deref());
    let fresh = analyze_parsed(&ws, files);
    assert_eq!(again.diagnostics, fresh.diagnostics, "after an edit of f{file}.pw:\n{}", texts[file]);
    let (again_program, fresh_program) = (format!("{:?}", again.program), format!("{:?}", fresh.program));
    assert!(again_program == fresh_program, "the programs differ after an edit of f{file}.pw:\n{}", texts[file]);
    again
}

/// `text` with `cuts` applied: at each offset, some bytes replaced by a piece.
fn mutated(text: &str, cuts: &[(usize, usize, usize)]) -> String {
    let mut text = text.to_string();
    for &(at, piece, delete) in cuts {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + delete).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.replace_range(at..end, PIECES[piece]);
    }
    text
}

fn start() -> (Vec<String>, Analysis) {
    let texts: Vec<String> = FILES.iter().map(|t| t.to_string()).collect();
    let ws = workspace(&texts);
    let files = ws.ids().map(|id| Arc::new(parse_file(id, &ws.file(id).text))).collect();
    let first = analyze_again(&ws, files, None);
    (texts, first)
}

fn rebuilt(analysis: &Analysis) -> usize {
    analysis.kept.as_ref().map_or(usize::MAX, |k| k.rebuilt())
}

#[test]
fn an_edit_rebuilds_only_the_pipelines_it_can_change() {
    let (mut texts, first) = start();
    assert_eq!(rebuilt(&first), 4, "the first check builds every pipeline");
    let codes: Vec<&str> = first.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0301", "E0403"], "no template `other`, no artifact `nothing`");

    // A command of `nightly`: only its file's pipeline is built again.
    let text = texts[3].replace("\"x\"", "\"y\"");
    let second = edit(&mut texts, &first, 3, text);
    assert_eq!(rebuilt(&second), 1);
    // The others are shared with the first check's program: their references resolved to the
    // names they already had, so nothing in them was written again.
    let shared: Vec<bool> =
        first.program.pipelines.iter().zip(&second.program.pipelines).map(|(a, b)| Arc::ptr_eq(a, b)).collect();
    assert_eq!(shared, [true, true, true, false], "build, lint and deploy are shared; nightly is new");

    // A job more in `build`: the symbols of the files after it move, and their pipelines are
    // taken all the same; those that use a template of f0 too.
    let text = texts[1].replace("job c = ", "job more { run \"m\" }\n    job c = ");
    let third = edit(&mut texts, &second, 1, text);
    assert_eq!(rebuilt(&third), 2, "build and lint, in the edited file");

    // The template file: the pipelines that instantiate its templates are built again.
    let text = texts[0].replace("cargo #{cmd}", "cargo --locked #{cmd}");
    let fourth = edit(&mut texts, &third, 0, text);
    assert_eq!(rebuilt(&fourth), 2, "build and nightly use `cargo`; deploy and lint do not");

    // A template more: every pipeline is built again, and `deploy` finds `other`.
    let text = format!("{}template job other() {{ run \"o\" }}\n", texts[0]);
    let fifth = edit(&mut texts, &fourth, 0, text);
    assert_eq!(rebuilt(&fifth), 4);
    assert_eq!(fifth.diagnostics.len(), 1, "{:#?}", fifth.diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn a_check_after_edits_is_a_check_from_scratch(
        edits in prop::collection::vec(
            (0usize..FILES.len(), prop::collection::vec((0usize..600, 0usize..PIECES.len(), 0usize..20), 1..4)),
            1..4,
        )
    ) {
        let (mut texts, mut analysis) = start();
        for (file, cuts) in edits {
            let text = mutated(&texts[file], &cuts);
            analysis = edit(&mut texts, &analysis, file, text);
        }
    }

    #[test]
    fn mutated_files_never_panic(cuts in prop::collection::vec((0usize..1000, 0usize..PIECES.len(), 0usize..20), 1..8)) {
        check(&mutated(SEED, &cuts));
    }

    #[test]
    fn token_soups_never_panic(tokens in prop::collection::vec(0usize..PIECES.len(), 0..200)) {
        let text: Vec<&str> = tokens.iter().map(|&i| PIECES[i]).collect();
        check(&text.join(" "));
    }
}

#[test]
fn the_seed_is_clean() {
    let mut ws = Workspace::new();
    ws.add("seed.pw", SEED);
    let analysis = analyze(&ws);
    assert!(analysis.diagnostics.is_empty(), "{:#?}", analysis.diagnostics);
}
