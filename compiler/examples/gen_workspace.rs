//! Writes the compiler's benchmark workspace (see `benches/common/mod.rs`) to a folder, so that
//! the `pw` process itself can be timed on it:
//!
//! ```text
//! cargo run --release -p pw-compiler --example gen_workspace -- /tmp/bench-ws
//! hyperfine --warmup 3 'target/release/pw check /tmp/bench-ws'
//! /usr/bin/time -v target/release/pw check /tmp/bench-ws
//! ```
//!
//! Optional second argument: the number of files (default 1,000). With `--github` after them, it
//! writes the same pipelines as GitHub Actions workflows instead (`DIR/.github/workflows/`), the
//! workload for comparing `pw check` with actionlint.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../benches/common/mod.rs"]
mod common;
#[path = "../benches/common/github.rs"]
mod github;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let github = args.iter().any(|a| a == "--github");
    args.retain(|a| a != "--github");
    let mut args = args.into_iter();
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: gen_workspace DIR [FILES] [--github]");
        return ExitCode::from(2);
    };
    let mut shape = common::Shape::BENCH;
    if let Some(files) = args.next() {
        match files.parse() {
            Ok(n) => shape.files = n,
            Err(_) => {
                eprintln!("FILES must be a number, not `{files}`");
                return ExitCode::from(2);
            }
        }
    }
    let files = if github { github::generate(&shape) } else { common::generate(&shape) };
    for (path, text) in &files {
        let target = dir.join(path);
        let written =
            target.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&target, text));
        if let Err(e) = written {
            eprintln!("cannot write {}: {e}", target.display());
            return ExitCode::from(1);
        }
    }
    let (lines, bytes) = common::size(&files);
    if github {
        println!("wrote {} workflows, {lines} lines, {:.2} MB to {}", files.len(), bytes as f64 / 1e6, dir.display());
        return ExitCode::SUCCESS;
    }
    let ws = common::workspace(&files);
    let errors = pw_compiler::analyze(&ws).diagnostics.iter().filter(|d| d.is_error()).count();
    println!("wrote {} files, {lines} lines, {:.2} MB to {}", files.len(), bytes as f64 / 1e6, dir.display());
    if errors > 0 {
        eprintln!("warning: the workspace has {errors} errors; `pw check` on it is not the benchmark");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
