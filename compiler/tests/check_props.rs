//! No input makes the checker panic or hang: valid files cut, spliced and mutated at random.
//! On every such input, the checker that frees the trees as it goes (`pw check`'s) agrees with
//! the one that keeps them (the linter's and the language server's).

use proptest::prelude::*;
use pw_compiler::{analyze, check_workspace, Workspace};

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn mutated_files_never_panic(cuts in prop::collection::vec((0usize..1000, 0usize..PIECES.len(), 0usize..20), 1..8)) {
        let mut text = SEED.to_string();
        for (at, piece, delete) in cuts {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + delete).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, PIECES[piece]);
        }
        check(&text);
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
