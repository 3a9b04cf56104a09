//! The compiler's throughput on the generated benchmark workspace (1,000 pipelines × 6 stages ×
//! 4 jobs × 3 tasks), stage by stage: lexing, parsing (lexing included), checking alone, the
//! whole analysis (parsing on all cores, then checking), and planning.
//!
//! Each stage is measured twice, once reported in MB/s (group `compile-bytes`) and once in
//! lines/s (group `compile-lines`); with `PW_BENCH_CLOCK=cpu` the groups end in `-cpu`. Run with:
//!
//! ```text
//! cargo bench -p pw-compiler --bench compile
//! ```
//!
//! `PW_BENCH_FILES=100` makes a smaller workspace for a quick look. `PW_BENCH_CLOCK=cpu` measures
//! the process's CPU time instead of wall-clock time (see `clock/mod.rs`): steadier on a shared
//! machine, and for `analyze`, which parses on all cores, the sum of the threads' times.

use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use pw_compiler::{analyze, check, lexer, parse_file, plan, Workspace};
use std::hint::black_box;
use std::time::Duration;

mod clock;
mod common;

/// The allocator the `pw` binary uses, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn shape() -> common::Shape {
    let mut shape = common::Shape::BENCH;
    if let Some(files) = std::env::var("PW_BENCH_FILES").ok().and_then(|v| v.parse().ok()) {
        shape.files = files;
    }
    shape
}

fn stages<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, ws: &Workspace) {
    let analysis = analyze(ws);
    let trees: Vec<&pw_compiler::ast::File> = analysis.files.iter().map(|f| &f.ast).collect();
    group.bench_function("lex", |b| {
        b.iter(|| {
            for id in ws.ids() {
                black_box(lexer::lex(id, &ws.file(id).text));
            }
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            for id in ws.ids() {
                black_box(parse_file(id, &ws.file(id).text));
            }
        })
    });
    group.bench_function("check", |b| b.iter(|| black_box(check::check(ws, &trees))));
    group.bench_function("analyze", |b| b.iter(|| black_box(analyze(ws))));
    group.bench_function("plan", |b| b.iter(|| black_box(plan::build(ws, &analysis.program))));
    let built = plan::build(ws, &analysis.program);
    group.bench_function("plan-json", |b| b.iter(|| black_box(built.to_json())));
}

/// `clock` names the measurement in the group names, so that criterion never compares a CPU-time
/// run with a wall-time baseline.
fn compile<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let files = common::generate(&shape());
    let (lines, bytes) = common::size(&files);
    let ws = common::workspace(&files);
    let analysis = analyze(&ws);
    if let Some(first) = analysis.diagnostics.iter().find(|d| d.is_error()) {
        let at = ws.file(first.file);
        panic!(
            "the generated workspace does not check ({} errors); first: {}:{}: {} {}",
            analysis.diagnostics.iter().filter(|d| d.is_error()).count(),
            at.path,
            at.line_col(first.span.start).line,
            first.code,
            first.message
        );
    }
    eprintln!("workspace: {} files, {lines} lines, {:.2} MB", files.len(), bytes as f64 / 1e6);

    let mut by_bytes = c.benchmark_group(format!("compile-bytes{clock}"));
    by_bytes.throughput(Throughput::BytesDecimal(bytes as u64));
    stages(&mut by_bytes, &ws);
    by_bytes.finish();

    let mut by_lines = c.benchmark_group(format!("compile-lines{clock}"));
    by_lines.throughput(Throughput::Elements(lines as u64));
    stages(&mut by_lines, &ws);
    by_lines.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4))
}

fn main() {
    if std::env::var("PW_BENCH_CLOCK").is_ok_and(|v| v == "cpu") {
        let mut c = config().with_measurement(clock::ProcessCpu).configure_from_args();
        compile(&mut c, "-cpu");
        c.final_summary();
    } else {
        let mut c = config().configure_from_args();
        compile(&mut c, "");
        c.final_summary();
    }
}
